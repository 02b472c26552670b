#!/usr/bin/env python3
"""Recompute smartgap's indicators with PySAL and compare every value to 1e-9 relative.

Reads the published outputs of a run (out/geojson/*.geojson and out/summary.json) and the
region-group table, recomputes with PySAL's `inequality` and `mapclassify` (and numpy for the
coefficient of variation) and prints every comparison that fails, then a closing line
`verify: N passed, M failed`. Exit status 1 when anything differs.

What is compared (unweighted, the only form PySAL implements): Gini, Theil T, Theil T
between/within by 시도 and by regional group (TheilD), Atkinson ε = 0.5/1/2 (where defined),
CV (numpy, ddof 0 and 1), and the legend classes of every region (Quantiles, EqualInterval,
FisherJenks, k from the run's config). Area-weighted values have no PySAL counterpart and are
checked by smartgap's unit tests instead.

smartgap's honesty rules are applied on this side too, and checked:
- a region *has data* when `record_count > 0`; ranks (scipy `rankdata(method="min")`),
  `rank_ties`, percentiles (`percentileofscore(kind="weak")`) and classes are computed among
  those regions only, and a region without data must have them (and its tier) null;
- Local Moran and Gi* are computed by esda over every region (0 without data), but a region
  whose value and all neighbours' values are 0 (`zero among zeros`) or that has no neighbour
  (`no neighbours`) must have its quadrant, `lisa_p_sim` and Gi* null and that `lisa_note`;
  every other region is compared to 1e-9 as before (`lisa_i` of every region too);
- a level whose regions hold no money must publish its inequality rows as null with a note,
  and every level's `regions_with_data` and `money_share_described` must match the layers.

Usage: verify.py OUT_DIR REGION_GROUPS_CSV
"""
from __future__ import annotations

import csv
import json
import math
import sys
from pathlib import Path

import mapclassify
import numpy as np
from scipy.stats import percentileofscore, rankdata, spearmanr
from esda.getisord import G_Local
from esda.moran import Moran, Moran_Local
from libpysal.io import open as ps_open
from inequality.atkinson import atkinson
from inequality.gini import Gini
from inequality.theil import Theil, TheilD

REL = 1e-9


def close(a: float, b: float) -> bool:
    # smartgap writes null where PySAL gives NaN (undefined values, e.g. Gi* of an island).
    a = None if a is not None and math.isnan(a) else a
    b = None if b is not None and math.isnan(b) else b
    if a is None or b is None:
        return a is None and b is None
    return abs(a - b) <= REL * max(abs(a), abs(b)) or abs(a - b) <= 1e-12


def main() -> int:
    out = Path(sys.argv[1])
    groups_csv = Path(sys.argv[2])
    run = json.loads((out / "run.json").read_text())
    k = run["pipeline"]["indicators"]["classes"]
    summary = json.loads((out / "summary.json").read_text())
    group_of = {}
    with groups_csv.open(encoding="utf-8") as f:
        for row in csv.DictReader(f):
            group_of[row["sido_code"]] = row["region_group_id"]

    def s_value(level, indicator, partition=""):
        for r in summary:
            if (r["level"], r["indicator"], r["weighting"], r["partition"]) == (level, indicator, "none", partition):
                return r["value"]
        raise KeyError((level, indicator, partition))

    feats = {}
    for level in ("sido", "sigungu", "emd"):
        p = out / "geojson" / f"{level}.geojson"
        if p.exists():
            feats[level] = [f["properties"] for f in json.loads(p.read_text())["features"]]
    parent = {lv: {f["code"]: f["parent_code"] for f in fs} for lv, fs in feats.items()}

    def sido_of(level, code):
        if level == "sido":
            return code
        if level == "sigungu":
            return parent["sigungu"][code]
        return parent["sigungu"][parent["emd"][code]]

    passed = failed = skipped = 0

    def check(what, ours, ref):
        nonlocal passed, failed
        if close(ours, ref):
            passed += 1
        else:
            failed += 1
            print(f"MISMATCH {what}: smartgap {ours!r} vs PySAL {ref!r}")

    def check_eq(what, ours, ref):
        nonlocal passed, failed
        if ours == ref:
            passed += 1
        else:
            failed += 1
            print(f"MISMATCH {what}: smartgap {ours!r} vs expected {ref!r}")

    def s_row(level, indicator):
        return next(r for r in summary if r["level"] == level and r["indicator"] == indicator)

    def notes_only(level, fs):
        """The weights of a level and the note each region must carry (by the rule, computed
        here from the GAL file); checks every region's `lisa_note`. None without weights."""
        gal = out / "weights" / f"{level}.gal"
        if not gal.exists() or any(f["area_km2"] <= 0 for f in fs):
            return None
        w = ps_open(str(gal)).read()
        codes = [f["code"] for f in fs]
        w.id_order = codes
        yv = {f["code"]: f["amount_krw"] / f["area_km2"] for f in fs}
        note = []
        for f in fs:
            nb = w.neighbors[f["code"]]
            if not nb:
                note.append("no neighbours")
            elif yv[f["code"]] == 0 and all(yv[c] == 0 for c in nb):
                note.append("zero among zeros")
            else:
                note.append(None)
        for f, n in zip(fs, note):
            check_eq(f"{level} {f['code']} lisa_note", f["lisa_note"], n)
        return w, note

    assigned = run["totals"]["assigned_krw"]
    no_data_cols = ("tier", "rank", "rank_ties", "percentile", "class_quantile", "class_equal_interval",
                    "class_fisher_jenks", "amount_per_km2_krw", "share_of_national", "deficit_krw")
    for level, fs in feats.items():
        kept = [f for f in fs if f["area_km2"] > 0]
        y = np.array([f["amount_krw"] / f["area_km2"] for f in kept], dtype=float)
        data = [f for f in fs if f["record_count"] > 0]
        # What the level describes.
        check_eq(f"{level} regions_with_data", s_value(level, "regions_with_data"), float(len(data)))
        check(f"{level} money_share_described", s_value(level, "money_share_described"),
              sum(f["amount_krw"] for f in fs) / assigned if assigned else None)
        # No data: no tier, rank or class.
        for f in fs:
            if f["record_count"] == 0:
                bad = [c for c in no_data_cols if f[c] is not None]
                check_eq(f"{level} {f['code']} without data: non-null {bad}", bad, [])
                check_eq(f"{level} {f['code']} tier_label", f["tier_label"], "자료 없음")
        # Ranks among the regions with data: standard competition ("min") of −amount.
        if data:
            amounts = np.array([f["amount_krw"] for f in data], dtype=float)
            ranks = rankdata(-amounts, method="min")
            for f, r, a in zip(data, ranks, amounts):
                check_eq(f"{level} {f['code']} rank", f["rank"], int(r))
                check_eq(f"{level} {f['code']} rank_ties", f["rank_ties"], int((amounts == a).sum()))
                check(f"{level} {f['code']} percentile", f["percentile"],
                      float(percentileofscore(amounts, a, kind="weak")))
        if y.sum() <= 0:
            # No money reaches the level: its inequality is withheld, with a note.
            for r in summary:
                if r["level"] == level and (r["indicator"] in ("gini", "theil_t", "cv_population", "hoover_vs_area")):
                    ok = r["value"] is None and r["note"].startswith(("no record reaches", "no money reaches"))
                    check_eq(f"{level} {r['indicator']}/{r['weighting']} withheld", ok, True)
            notes_only(level, fs)
            continue
        check(f"{level} gini", s_value(level, "gini"), float(Gini(y).g))
        check(f"{level} theil_t", s_value(level, "theil_t"), float(Theil(y).T))
        parts = {"region_group": np.array([group_of.get(sido_of(level, f["code"]), "") for f in kept])}
        if level != "sido":
            parts["sido"] = np.array([sido_of(level, f["code"]) for f in kept])
        for name, part in parts.items():
            d = TheilD(y, part)
            check(f"{level} theil_t_between/{name}", s_value(level, "theil_t_between", name), float(np.ravel(d.bg)[0]))
            check(f"{level} theil_t_within/{name}", s_value(level, "theil_t_within", name), float(np.ravel(d.wg)[0]))
        for eps, key in ((0.5, "atkinson_0.5"), (1.0, "atkinson_1"), (2.0, "atkinson_2")):
            ours = s_value(level, key)
            if (y <= 0).any():
                # PySAL's atkinson() refuses zeros for every ε; smartgap gives ε < 1 a value
                # and ε ≥ 1 a null with a note. Nothing to compare against.
                skipped += 1
                continue
            check(f"{level} {key}", ours, float(atkinson(y, eps)))
        check(f"{level} cv_population", s_value(level, "cv_population"), float(np.std(y) / np.mean(y)))
        check(f"{level} cv_sample", s_value(level, "cv_sample"), float(np.std(y, ddof=1) / np.mean(y)))
        fee = np.array([f["amount_development_fee_krw"] for f in fs], dtype=float)
        prog = np.array([f["amount_national_program_krw"] for f in fs], dtype=float)
        ours = s_value(level, "spearman_fee_vs_program")
        if ours is not None:
            check(f"{level} spearman_fee_vs_program", ours, float(spearmanr(fee, prog).statistic))
        # Spatial: smartgap's own contiguity weights (weights/<level>.gal, codes as ids), so
        # only the statistics are compared; permutation p-values use another RNG and are not.
        notes = notes_only(level, fs)
        if notes is not None and np.std(y) > 0:
            w, note = notes
            m = Moran(y, w, permutations=0)
            for key, ref in (("moran_i", m.I), ("moran_ei", m.EI), ("moran_z_norm", m.z_norm), ("moran_p_norm", m.p_norm)):
                check(f"{level} {key}", s_value(level, key), float(ref))
            lm = Moran_Local(y, w, permutations=0)
            gl = G_Local(y, w, transform="R", star=True, permutations=0)
            quad = {1: "HH", 2: "LH", 3: "LL", 4: "HL"}
            for j, f in enumerate(fs):
                check(f"{level} {f['code']} lisa_i", f["lisa_i"], float(lm.Is[j]))
                if note[j] is not None:
                    # Withheld on both sides: esda's quadrant, p and Gi* are not compared.
                    nulls = [f[c] for c in ("lisa_quadrant", "lisa_p_sim", "gi_star_z", "gi_star_p_norm")]
                    check_eq(f"{level} {f['code']} withheld ({note[j]})", nulls, [None] * 4)
                    continue
                check(f"{level} {f['code']} gi_star_z", f["gi_star_z"], float(gl.Zs[j]))
                check(f"{level} {f['code']} gi_star_p_norm", f["gi_star_p_norm"], float(gl.p_norm[j]))
                check_eq(f"{level} {f['code']} lisa_quadrant", f["lisa_quadrant"], quad[int(lm.q[j])])
        # Classes among the regions with data (and an area) only.
        yd = np.array([f["amount_krw"] / f["area_km2"] for f in data if f["area_km2"] > 0], dtype=float)
        classified = [f for f in data if f["area_km2"] > 0]
        for col, cls in (("class_quantile", mapclassify.Quantiles), ("class_equal_interval", mapclassify.EqualInterval), ("class_fisher_jenks", mapclassify.FisherJenks)):
            if len(yd) == 0:
                continue
            ref = cls(yd, k=k).yb + 1
            ours = np.array([f[col] for f in classified])
            bad = int((ref != ours).sum())
            if bad:
                failed += 1
                print(f"MISMATCH {level} {col}: {bad} of {len(yd)} regions differ")
            else:
                passed += 1
    print(f"verify: {passed} passed, {failed} failed ({skipped} Atkinson values not comparable: PySAL refuses zeros; tolerance {REL:g} relative)")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
