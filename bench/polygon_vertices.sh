#!/usr/bin/env bash
# Cost of one development district by its number of vertices (issue #15, class 9): a GeoJSON of
# one polygon in EPSG:5179 (a 4 km × 3 km rectangle over 서울 중구/종로구 whose bottom edge is a
# sawtooth of N vertices), apportioned onto 시군구 of data/boundaries.gpkg by
# `smartgap run --force`; prints N, the read and assign stages (run.json timings_ms), the
# process's wall time and max RSS, and the KRW assigned (1,000,000,000: nothing rejected). Not part of `make bench` (it measures smartgap alone).
#
#   bash bench/polygon_vertices.sh [N ...]      (default: 25000 100000 200000 999000)
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
bin="$here/../target/release/smartgap"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
sizes=("$@")
[ ${#sizes[@]} -gt 0 ] || sizes=(25000 100000 200000 999000)
cat > "$work/p.toml" <<TOML
[pipeline]
name = "bench_polygon_vertices"
output_dir = "out"
max_reject_share = 1.0
roots = ["$work", "$here/../data"]

[boundaries]
path = "$here/../data/boundaries.gpkg"
levels = ["sigungu"]
full_name_field = "full_name"

[[inputs]]
name = "district"
path = "district.geojson"
amount = { field = "amount_krw" }
locate = { by = "geometry" }
TOML
printf '%9s %9s %9s %9s %9s %14s\n' vertices read_s assign_s wall_s rss_mib assigned_krw
for n in "${sizes[@]}"; do
  python3 - "$n" > "$work/district.geojson" <<'PY'
import sys
n = int(sys.argv[1])
x0, y0, w, h = 953000.0, 1951000.0, 4000.0, 3000.0
pts = [(x0 + w * i / n, y0 + (0.0, 0.05, 0.0, -0.05)[i % 4]) for i in range(n + 1)]
pts += [(x0 + w, y0 + h), (x0, y0 + h), pts[0]]
ring = ",".join(f"[{x:.3f},{y:.3f}]" for x, y in pts)
print('{"type":"FeatureCollection","crs":{"type":"name","properties":{"name":"urn:ogc:def:crs:EPSG::5179"}},'
      '"features":[{"type":"Feature","properties":{"amount_krw":1000000000},'
      '"geometry":{"type":"Polygon","coordinates":[[' + ring + ']]}}]}')
PY
  /usr/bin/time -f '%e %M' -o "$work/time" "$bin" --log-level warn run --force "$work/p.toml" >/dev/null
  read -r wall rss < "$work/time"
  python3 - "$work/out/current/run.json" "$n" "$wall" "$rss" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))
t = dict(r["timings_ms"])
print(f'{int(sys.argv[2]):9d} {t.get("read", 0) / 1000:9.2f} {t.get("assign", 0) / 1000:9.2f} '
      f'{float(sys.argv[3]):9.2f} {int(sys.argv[4]) / 1024:9.0f} {r["totals"]["assigned_krw"]:14d}')
PY
done
