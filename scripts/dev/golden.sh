#!/usr/bin/env bash
# Byte-identity check for behaviour-preserving changes: runs the national pipeline and the
# bench workloads W1 (CSV and GeoParquet), W2 and W3 with BIN into a scratch directory and
# prints the sha256 of every published file, run.json without its timings and run id.
#
#   bash scripts/dev/golden.sh [BIN] > before.txt   ... change ...   bash scripts/dev/golden.sh > after.txt
#
# W1-W3 need bench/data (make bench, or BENCH_POINTS=1m for a smaller one); missing workloads
# are skipped and said so.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
BIN="${1:-${CARGO_TARGET_DIR:-$ROOT/target}/release/smartgap}"
SIZE="${GOLDEN_POINTS:-1m}"
SCRATCH="${GOLDEN_DIR:-/tmp/smartgap-golden}"; rm -rf "$SCRATCH"; mkdir -p "$SCRATCH"

run() { # name config-file
    local name="$1" cfg="$2" out
    out="$(sed -n 's/^output_dir = "\(.*\)"/\1/p' "$cfg" | head -n 1)"
    local dir; dir="$(cd "$(dirname "$cfg")" && realpath -m "$out")"
    rm -rf "$dir"
    "$BIN" --log-level error run --force "$cfg" >/dev/null
    (cd "$dir/current/" && find . -type f ! -name run.json | LC_ALL=C sort | xargs sha256sum | sed "s|  \./|  $name/|")
    python3 - "$dir/current/run.json" "$name" <<'PY'
import hashlib, json, sys
r = json.load(open(sys.argv[1]))
for k in ("timings_ms", "run_id", "git_commit", "smartgap_version", "fingerprint"):
    r.pop(k, None)
for i in r.get("inputs", []):
    for k in list((i.get("stream_profile") or {}).keys()):
        if k.endswith("_ms") or k == "ms":
            i["stream_profile"].pop(k)
print(hashlib.sha256(json.dumps(r, sort_keys=True).encode()).hexdigest() + "  " + sys.argv[2] + "/run.json (no timings, run id, commit, fingerprint)")
PY
}

cp -r "$ROOT/pipelines" "$SCRATCH/pipelines"
sed -i 's|^output_dir = .*|output_dir = "'"$SCRATCH"'/national"\nroots = ["/"]|; s|"\.\./data/|"'"$ROOT"'/data/|g' "$SCRATCH/pipelines/national.toml"
run national "$SCRATCH/pipelines/national.toml"
if [[ -f "$ROOT/bench/data/districts_5179.gpkg" ]]; then
    sed 's|^output_dir = .*|output_dir = "'"$SCRATCH"'/w3"\nroots = ["/"]|; s|"\.\./data/|"'"$ROOT"'/data/|; s|"data/|"'"$ROOT"'/bench/data/|' "$ROOT/bench/w3.toml" >"$SCRATCH/w3.toml"
    run w3 "$SCRATCH/w3.toml"
else
    echo "skipped w3: no bench/data/districts_5179.gpkg"
fi
for w in w1_csv w1_parquet w2_parquet; do
    if [[ -f "$ROOT/bench/data/points_$SIZE.csv" ]]; then
        sed "s/\${SIZE}/$SIZE/g; s|^output_dir = .*|output_dir = \"$SCRATCH/$w\"|; s|^roots = .*|roots = [\"/\"]|; s|\"\.\./\.\./data/|\"$ROOT/data/|; s|\"\.\./data/|\"$ROOT/bench/data/|" \
            "$ROOT/bench/$w.toml.in" >"$SCRATCH/$w.toml"
        run "$w" "$SCRATCH/$w.toml"
    else
        echo "skipped $w: no bench/data/points_$SIZE.csv"
    fi
done
