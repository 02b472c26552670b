#!/usr/bin/env python3
"""Deterministic clustered-urban points (issue #20): facility data (CCTV, sensors, smart poles)
crowd into cities, where the fine boundaries (읍면동, 리) are densest.

The same generator as gen_points.py (its 25 city centres, weights, columns, chunking and seeded
PCG64 stream; it is imported, not copied), with two parameters changed:
  * 95 % of the points in the Gaussian city clusters (gen_points.py: 60 %), 5 % uniform over land;
  * every cluster's sigma halved (Seoul 4 km instead of 8 km): tight city clusters.
Seed 20260120 by default, so the rows differ from points_*.parquet.

Writes data/points_urban_{1m,10m}.csv and .parquet (GeoParquet, WKB 'geometry', EPSG:4326).

Usage:  .venv/bin/python gen_points_urban.py [--sizes 1m,10m] [--seed 20260120]
"""
from __future__ import annotations

import argparse
import os
import sys
import time

import numpy as np

import gen_points as gp

CLUSTER_SHARE = 0.95
SIGMA_SCALE = 0.5


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--sizes", default="1m,10m")
    ap.add_argument("--seed", type=int, default=20260120)
    a = ap.parse_args()
    gp.CLUSTER_SHARE = CLUSTER_SHARE
    gp.CITIES = [(n, lon, lat, w, s * SIGMA_SCALE) for (n, lon, lat, w, s) in gp.CITIES]
    tags = [t.strip() for t in a.sizes.split(",") if t.strip()]
    n_max = max(gp.SIZES[t] for t in tags)
    t0 = time.perf_counter()
    land = gp.load_land()
    rng = np.random.default_rng(a.seed)
    parts = {k: [] for k in ("lon", "lat", "amount_krw", "program", "year", "type")}
    done = 0
    while done < n_max:
        n = min(gp.CHUNK, n_max - done)
        for k, v in zip(parts, gp.sample_chunk(rng, land, gp.CHUNK)):
            parts[k].append(v[:n])
        done += n
    cols = {k: np.concatenate(v) for k, v in parts.items()}
    cols["id"] = np.arange(1, n_max + 1, dtype=np.int64)
    print(f"sampled {n_max:,} urban points in {time.perf_counter()-t0:.1f}s (seed {a.seed}, "
          f"{CLUSTER_SHARE:.0%} clustered, sigma x{SIGMA_SCALE})", flush=True)
    for t in sorted(tags, key=lambda t: gp.SIZES[t]):
        gp.write(gp.SIZES[t], cols, "urban_" + t)
    return 0


if __name__ == "__main__":
    sys.exit(main())
