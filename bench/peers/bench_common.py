"""Shared bits for the anchor scripts: paths, CLI, stage timer, result line."""
from __future__ import annotations

import argparse
import json
import os
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
DATA = os.environ.get("BENCH_DATA") or os.path.join(HERE, "data")  # bench/run.sh: bench/data
OUT = os.environ.get("BENCH_OUT") or os.path.join(HERE, "out")  # bench/run.sh: bench/out/peers

LEVEL_OF = {"w1": "sigungu", "w2": "ri", "w3": "sigungu", "w4": "emd", "w5": "ri"}
# W4/W5 (issue #20): the clustered-urban points of gen_points_urban.py.
POINTS_OF = {"w4": "points_urban", "w5": "points_urban"}


def parse_args(tool: str) -> argparse.Namespace:
    ap = argparse.ArgumentParser(description=f"{tool} anchor: W1/W2 point-in-polygon aggregation, W3 areal apportionment")
    ap.add_argument("--workload", choices=["w1", "w2", "w3", "w4", "w5"], required=True)
    ap.add_argument("--size", default="1m", help="points file tag: 100k, 1m, 10m (ignored for w3)")
    ap.add_argument("--input", choices=["parquet", "csv"], default="parquet",
                    help="points format for w1/w2: GeoParquet (default) or CSV with lon/lat columns")
    ap.add_argument("--outdir", default=None, help="default out/<tool>")
    a = ap.parse_args()
    a.tool = tool
    a.outdir = a.outdir or os.path.join(OUT, tool)
    os.makedirs(a.outdir, exist_ok=True)
    a.level = LEVEL_OF[a.workload]
    a.points = os.path.join(DATA, f"{POINTS_OF.get(a.workload, 'points')}_{a.size}.{a.input}")
    a.polys = os.path.join(DATA, f"{a.level}_4326.gpkg")
    a.districts = os.path.join(DATA, "districts_4326.gpkg")
    tag = a.workload if a.workload == "w3" else f"{a.workload}_{a.size}" + ("_csv" if a.input == "csv" else "")
    a.tag = tag
    a.out_gpkg = os.path.join(a.outdir, f"{tag}.gpkg")
    a.out_geojson = os.path.join(a.outdir, f"{tag}.geojson")
    for p in (a.out_gpkg, a.out_geojson):
        if os.path.exists(p):
            os.remove(p)
    return a


class Stages:
    def __init__(self, t_start: float | None = None) -> None:
        self.t_start = time.perf_counter() if t_start is None else t_start
        self.t = self.t_start
        self.stages: dict[str, float] = {}

    def mark(self, name: str) -> None:
        now = time.perf_counter()
        self.stages[name] = round(now - self.t, 4)
        print(f"STAGE {name:<22s} {now - self.t:9.3f} s", flush=True)
        self.t = now

    def total(self) -> float:
        return round(time.perf_counter() - self.t_start, 4)


def emit(a: argparse.Namespace, st: Stages, info: dict) -> None:
    res = {"tool": a.tool, "workload": a.workload, "size": (None if a.workload == "w3" else a.size),
           "input": (None if a.workload == "w3" else a.input),
           "stages_s": st.stages, "in_script_total_s": st.total(), **info}
    print(f"STAGE {'total(in-script)':<22s} {res['in_script_total_s']:9.3f} s")
    print("RESULT " + json.dumps(res, ensure_ascii=False), flush=True)
    sys.stdout.flush()
