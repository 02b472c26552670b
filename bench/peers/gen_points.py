#!/usr/bin/env python3
"""Deterministic synthetic 'smart-city investment / asset records' as points on South Korean land.

Points are drawn iid from a mixture (seeded numpy PCG64):
  * 60 %: Gaussian clusters around 25 city centres (weights/sigmas below), kept only if on land;
  * 40 %: uniform (in lon/lat) over the union of the 17 sido polygons (rejection sampling).
Generation runs in fixed 1,000,000-row chunks from one RNG stream, so the 100k and 1M
files are exact prefixes of the 10M file (same ids, same rows).

Columns: id (int64, 1..N), lon, lat (float64, EPSG:4326), amount_krw (int64, lognormal,
rounded to 1,000 KRW), program (one of 8), year (2003-2018), type (infra/platform/innovation).

Writes data/points_{100k,1m,10m}.csv and data/points_{100k,1m,10m}.parquet (GeoParquet 1.x,
WKB point geometry column 'geometry', CRS EPSG:4326, plus the lon/lat columns).

Usage:  .venv/bin/python gen_points.py [--sizes 100k,1m,10m] [--seed 20260101]
"""
from __future__ import annotations

import argparse
import os
import sys
import time

import geopandas as gpd
import numpy as np
import pyarrow as pa
import pyarrow.csv as pacsv
import shapely

HERE = os.path.dirname(os.path.abspath(__file__))
DATA = os.environ.get("BENCH_DATA") or os.path.join(HERE, "data")  # bench/run.sh: bench/data
SIZES = {"100k": 100_000, "1m": 1_000_000, "10m": 10_000_000}
CHUNK = 1_000_000

# name, lon, lat, weight, sigma_km
CITIES = [
    ("Seoul", 126.978, 37.566, 0.200, 8.0), ("Busan", 129.075, 35.180, 0.070, 7.0),
    ("Incheon", 126.705, 37.456, 0.060, 7.0), ("Daegu", 128.601, 35.871, 0.050, 6.0),
    ("Daejeon", 127.385, 36.351, 0.035, 5.0), ("Gwangju", 126.853, 35.160, 0.035, 5.0),
    ("Ulsan", 129.311, 35.539, 0.025, 6.0), ("Sejong", 127.289, 36.480, 0.030, 4.0),
    ("Suwon", 127.029, 37.263, 0.040, 5.0), ("Seongnam", 127.138, 37.420, 0.030, 4.0),
    ("Goyang", 126.832, 37.658, 0.030, 5.0), ("Yongin", 127.178, 37.241, 0.025, 6.0),
    ("Changwon", 128.681, 35.228, 0.025, 6.0), ("Cheongju", 127.489, 36.642, 0.020, 5.0),
    ("Jeonju", 127.148, 35.824, 0.020, 4.0), ("Cheonan", 127.114, 36.815, 0.020, 5.0),
    ("Pohang", 129.343, 36.019, 0.015, 5.0), ("Jeju", 126.531, 33.499, 0.015, 6.0),
    ("Gimhae", 128.889, 35.228, 0.010, 4.0), ("Wonju", 127.920, 37.342, 0.010, 4.0),
    ("Chuncheon", 127.730, 37.881, 0.010, 4.0), ("Gangneung", 128.876, 37.751, 0.008, 4.0),
    ("Yeosu", 127.662, 34.760, 0.008, 4.0), ("Andong", 128.729, 36.568, 0.006, 4.0),
    ("Mokpo", 126.392, 34.812, 0.006, 3.0),
]
CLUSTER_SHARE = 0.60
PROGRAMS = np.array([
    "u_city", "smart_city_challenge", "national_pilot_city", "smart_solution_spread",
    "regulatory_sandbox", "data_hub", "living_lab", "smart_town_challenge"])
PROGRAM_P = np.array([0.22, 0.16, 0.08, 0.18, 0.06, 0.10, 0.09, 0.11])
TYPES = np.array(["infra", "platform", "innovation"])
TYPE_P = np.array([0.5, 0.3, 0.2])
YEARS = np.arange(2003, 2019)
YEAR_P = np.linspace(1.0, 3.0, len(YEARS))
YEAR_P = YEAR_P / YEAR_P.sum()


def load_land():
    sido = gpd.read_file(os.path.join(DATA, "sido_4326.gpkg"), engine="pyogrio")
    land = shapely.union_all(shapely.make_valid(np.asarray(sido.geometry.array, dtype=object)))
    shapely.prepare(land)
    return land


def sample_chunk(rng: np.random.Generator, land, n: int):
    w = np.array([c[3] for c in CITIES]); w = w / w.sum()
    clon = np.array([c[1] for c in CITIES]); clat = np.array([c[2] for c in CITIES])
    csig = np.array([c[4] for c in CITIES])
    is_cluster = rng.random(n) < CLUSTER_SHARE
    lon = np.empty(n); lat = np.empty(n)
    xmin, ymin, xmax, ymax = land.bounds
    # clusters
    todo = np.where(is_cluster)[0]
    while len(todo):
        k = rng.choice(len(CITIES), size=len(todo), p=w)
        dy = rng.normal(0.0, csig[k]) / 111.0
        dx = rng.normal(0.0, csig[k]) / (111.0 * np.cos(np.radians(clat[k])))
        x, y = clon[k] + dx, clat[k] + dy
        ok = shapely.contains_xy(land, x, y)
        lon[todo[ok]] = x[ok]; lat[todo[ok]] = y[ok]
        todo = todo[~ok]
    # uniform over land
    todo = np.where(~is_cluster)[0]
    while len(todo):
        m = int(len(todo) * 4.2) + 16
        x = rng.uniform(xmin, xmax, m); y = rng.uniform(ymin, ymax, m)
        ok = np.where(shapely.contains_xy(land, x, y))[0][: len(todo)]
        take = todo[: len(ok)]
        lon[take] = x[ok]; lat[take] = y[ok]
        todo = todo[len(ok):]
    amount = np.round(rng.lognormal(mean=np.log(3e8), sigma=1.3, size=n) / 1000.0).astype(np.int64) * 1000
    amount = np.maximum(amount, 1000)
    program = rng.choice(len(PROGRAMS), size=n, p=PROGRAM_P)
    year = YEARS[rng.choice(len(YEARS), size=n, p=YEAR_P)]
    typ = rng.choice(len(TYPES), size=n, p=TYPE_P)
    return lon, lat, amount, program, year, typ


def write(n_rows: int, cols: dict, tag: str) -> None:
    n = n_rows
    tbl = pa.table({
        "id": pa.array(cols["id"][:n]),
        "lon": pa.array(cols["lon"][:n]), "lat": pa.array(cols["lat"][:n]),
        "amount_krw": pa.array(cols["amount_krw"][:n]),
        "program": pa.array(PROGRAMS[cols["program"][:n]]),
        "year": pa.array(cols["year"][:n].astype(np.int16)),
        "type": pa.array(TYPES[cols["type"][:n]]),
    })
    t0 = time.perf_counter()
    csv_path = os.path.join(DATA, f"points_{tag}.csv")
    pacsv.write_csv(tbl, csv_path)
    t1 = time.perf_counter()
    df = tbl.to_pandas()
    gdf = gpd.GeoDataFrame(df, geometry=gpd.points_from_xy(df.lon.values, df.lat.values), crs="EPSG:4326")
    pq_path = os.path.join(DATA, f"points_{tag}.parquet")
    gdf.to_parquet(pq_path, index=False, geometry_encoding="WKB", row_group_size=CHUNK)
    t2 = time.perf_counter()
    print(f"  {tag}: {n:,} rows -> {os.path.relpath(csv_path, HERE)} ({os.path.getsize(csv_path)/1e6:.1f} MB, {t1-t0:.1f}s), "
          f"{os.path.relpath(pq_path, HERE)} ({os.path.getsize(pq_path)/1e6:.1f} MB, {t2-t1:.1f}s)", flush=True)


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--sizes", default="100k,1m,10m")
    ap.add_argument("--seed", type=int, default=20260101)
    a = ap.parse_args()
    tags = [t.strip() for t in a.sizes.split(",") if t.strip()]
    n_max = max(SIZES[t] for t in tags)
    t0 = time.perf_counter()
    land = load_land()
    rng = np.random.default_rng(a.seed)
    parts = {k: [] for k in ("lon", "lat", "amount_krw", "program", "year", "type")}
    done = 0
    while done < n_max:
        n = min(CHUNK, n_max - done)
        for k, v in zip(parts, sample_chunk(rng, land, CHUNK)):
            parts[k].append(v[:n])
        done += n
    cols = {k: np.concatenate(v) for k, v in parts.items()}
    cols["id"] = np.arange(1, n_max + 1, dtype=np.int64)
    print(f"sampled {n_max:,} points in {time.perf_counter()-t0:.1f}s (seed {a.seed}); "
          f"amount mean {cols['amount_krw'].mean():.4g} KRW, median {np.median(cols['amount_krw']):.4g}", flush=True)
    for t in sorted(tags, key=lambda t: SIZES[t]):
        write(SIZES[t], cols, t)
    return 0


if __name__ == "__main__":
    sys.exit(main())
