#!/usr/bin/env python3
"""Deterministic synthetic 'development district' polygons (for area-weighted apportionment, W3).

2,000 star-shaped, convex-ish polygons (10-16 vertices at jittered even angles, radius jitter +-20 %), built in
EPSG:5179 metres, each scaled to a target area drawn log-uniformly from 0.5-30 km².
Centres: 65 % uniform over land (rejection in the sido union), 35 % placed within 0-2 km of a
sigungu boundary line so that they straddle municipal borders. Every centre is on land; a
district near the coast may hang over the sea (that share is left unallocated in W3).

Columns: did (1..2000), name, amount_krw (int64, lognormal), program, year, target_km2,
area_km2 (EPSG:5179, actual), crosses_sigungu (bool: intersects >1 sigungu, raw polygons).
Writes data/districts_4326.gpkg (layer 'districts') and data/districts_5179.gpkg.

Usage:  .venv/bin/python gen_districts.py [--n 2000] [--seed 7]
"""
from __future__ import annotations

import argparse
import os
import sys

import geopandas as gpd
import numpy as np
import shapely

HERE = os.path.dirname(os.path.abspath(__file__))
DATA = os.environ.get("BENCH_DATA") or os.path.join(HERE, "data")  # bench/run.sh: bench/data
PROGRAMS = ["u_city", "smart_city_challenge", "national_pilot_city", "smart_solution_spread",
            "regulatory_sandbox", "data_hub", "living_lab", "smart_town_challenge"]


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=2000)
    ap.add_argument("--seed", type=int, default=7)
    a = ap.parse_args()
    rng = np.random.default_rng(a.seed)
    sido = gpd.read_file(os.path.join(DATA, "sido_5179.gpkg"), engine="pyogrio")
    sg = gpd.read_file(os.path.join(DATA, "sigungu_5179.gpkg"), engine="pyogrio")
    land = shapely.union_all(shapely.make_valid(np.asarray(sido.geometry.array, dtype=object)))
    shapely.prepare(land)
    sg_geoms = shapely.make_valid(np.asarray(sg.geometry.array, dtype=object))
    # internal sigungu borders: boundaries of the sigungu polygons that are on land
    borders = shapely.union_all(shapely.boundary(sg_geoms))
    borders = shapely.intersection(borders, shapely.buffer(land, -200.0))
    blen = borders.length

    n = a.n
    n_border = int(round(n * 0.35))
    centres = []
    xmin, ymin, xmax, ymax = land.bounds
    # uniform on land
    while len(centres) < n - n_border:
        x = rng.uniform(xmin, xmax, 4096); y = rng.uniform(ymin, ymax, 4096)
        ok = shapely.contains_xy(land, x, y)
        centres.extend(zip(x[ok], y[ok]))
    centres = centres[: n - n_border]
    # near a sigungu border
    while len(centres) < n:
        p = shapely.line_interpolate_point(borders, rng.uniform(0, blen))
        ang = rng.uniform(0, 2 * np.pi); d = rng.uniform(0, 2000.0)
        x, y = p.x + d * np.cos(ang), p.y + d * np.sin(ang)
        if shapely.contains_xy(land, x, y):
            centres.append((x, y))
    centres = np.array(centres)
    order = rng.permutation(n)  # mix the two groups
    centres = centres[order]

    polys = []
    target = np.exp(rng.uniform(np.log(0.5), np.log(30.0), n))  # km²
    for i in range(n):
        k = int(rng.integers(10, 17))
        ang = (np.arange(k) + rng.uniform(-0.3, 0.3, k)) * (2 * np.pi / k)  # jittered, gaps < pi
        rad = 1.0 + rng.uniform(-0.2, 0.2, k)
        stretch = rng.uniform(0.6, 1.0)  # mild anisotropy
        rot = rng.uniform(0, np.pi)
        px = rad * np.cos(ang); py = rad * np.sin(ang) * stretch
        rx = px * np.cos(rot) - py * np.sin(rot); ry = px * np.sin(rot) + py * np.cos(rot)
        poly = shapely.Polygon(np.column_stack([rx, ry]))
        s = np.sqrt(target[i] * 1e6 / poly.area)
        poly = shapely.Polygon(np.column_stack([centres[i, 0] + rx * s, centres[i, 1] + ry * s]))
        assert poly.is_valid
        polys.append(poly)
    polys = np.array(polys, dtype=object)
    tree = shapely.STRtree(sg_geoms)
    pi, _ = tree.query(polys, predicate="intersects")
    n_hit = np.bincount(pi, minlength=n)
    amount = (np.round(rng.lognormal(np.log(5e9), 1.0, n) / 1e6) * 1e6).astype(np.int64)
    gdf = gpd.GeoDataFrame({
        "did": np.arange(1, n + 1, dtype=np.int64),
        "name": [f"district_{i:04d}" for i in range(1, n + 1)],
        "amount_krw": amount,
        "program": rng.choice(PROGRAMS, n),
        "year": rng.integers(2003, 2019, n).astype(np.int16),
        "target_km2": np.round(target, 4),
        "area_km2": np.round(shapely.area(polys) / 1e6, 6),
        "crosses_sigungu": n_hit > 1,
    }, geometry=polys, crs="EPSG:5179")
    for crs, tag in ((5179, "5179"), (4326, "4326")):
        p = os.path.join(DATA, f"districts_{tag}.gpkg")
        if os.path.exists(p):
            os.remove(p)
        gdf.to_crs(crs).to_file(p, layer="districts", driver="GPKG", engine="pyogrio")
    over_sea = shapely.area(shapely.difference(polys, land)) / 1e6
    print(f"districts: {n}, area km² min/median/max {gdf.area_km2.min():.2f}/{gdf.area_km2.median():.2f}/{gdf.area_km2.max():.2f}, "
          f"crossing >1 sigungu: {int((n_hit > 1).sum())}, intersecting no sigungu: {int((n_hit == 0).sum())}, "
          f"touching sea (>0.001 km² off land): {int((over_sea > 1e-3).sum())}, total amount {amount.sum():,} KRW")
    return 0


if __name__ == "__main__":
    sys.exit(main())
