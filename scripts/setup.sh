#!/usr/bin/env bash
# Installs what smartgap needs to build and run, only when it is missing. Idempotent and
# non-interactive; used by `make run` and `make test` on a fresh Debian 12 machine.
set -euo pipefail

need_apt=()
# python3-gdal: GDAL's validate_gpkg.py, which make test runs on the national GeoPackage.
# python3-qgis: headless QGIS, which make test uses to open the styled layers and the project
# (tests/qgis_styles.py); fonts-nanum: Korean glyphs for the legend labels it renders.
for pkg in libgdal-dev libproj-dev gdal-bin proj-bin pkg-config clang python3-gdal python3-qgis fonts-nanum; do
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || need_apt+=("$pkg")
done
# chromium: make test opens report.html and map.html in headless Chromium (fonts-nanum above).
for pkg in chromium; do
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || need_apt+=("$pkg")
done
# postgresql-15-postgis-3 (with postgresql-15 and its client): tests/it/postgis.rs starts a
# throwaway cluster from it.
for pkg in postgresql-15-postgis-3 postgresql-client-15; do
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || need_apt+=("$pkg")
done
if [ "${#need_apt[@]}" -gt 0 ]; then
  echo "setup: installing ${need_apt[*]}" >&2
  SUDO=""
  [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${need_apt[@]}" >/dev/null
fi

if ! command -v cargo >/dev/null 2>&1; then
  echo "setup: cargo not found; smartgap builds with the Rust toolchain pinned in rust-toolchain.toml (1.95.0)" >&2
  exit 1
fi
if command -v rustup >/dev/null 2>&1; then
  # The toolchain file names clippy and rustfmt; make sure they are present.
  rustup component list --installed 2>/dev/null | grep -q '^clippy' || rustup component add clippy rustfmt
fi
