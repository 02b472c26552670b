#!/usr/bin/env bash
# `make verify`: compare smartgap's indicators with PySAL on the national run and on a dense
# synthetic run (every 읍면동 with a positive amount). Needs Python 3 and PyPI.
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
venv="$root/.venv-verify"
if [ ! -x "$venv/bin/python" ]; then
  python3 -m venv "$venv"
fi
"$venv/bin/pip" install -q -r "$root/scripts/verify/requirements.txt"
export PYTHONWARNINGS=ignore
bin="${CARGO_TARGET_DIR:-$root/target}/release/smartgap"

echo "== national pipeline"
"$bin" --log-level warn run "$root/pipelines/national.toml" >/dev/null
"$venv/bin/python" "$root/scripts/verify/verify.py" "$root/out" "$root/data/region_groups.csv"

echo "== synthetic: every 읍면동 with a positive amount"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
ogrinfo -q -ro -sql "SELECT code FROM emd ORDER BY code" "$root/data/boundaries.gpkg" \
  | sed -n 's/^ *code (String) = //p' > "$work/codes.txt"
"$venv/bin/python" "$root/scripts/verify/synthetic.py" "$work/codes.txt" "$work" "$root"
(cd "$work" && "$bin" --log-level warn run synthetic.toml >/dev/null)
"$venv/bin/python" "$root/scripts/verify/verify.py" "$work/out" "$root/data/region_groups.csv"
