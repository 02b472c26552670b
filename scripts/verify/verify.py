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
from scipy.stats import spearmanr
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

    for level, fs in feats.items():
        kept = [f for f in fs if f["area_km2"] > 0]
        y = np.array([f["amount_krw"] / f["area_km2"] for f in kept], dtype=float)
        if y.sum() <= 0:
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
        gal = out / "weights" / f"{level}.gal"
        if gal.exists() and len(kept) == len(fs):
            w = ps_open(str(gal)).read()
            codes = [f["code"] for f in fs]
            w.id_order = codes
            if np.std(y) > 0:
                m = Moran(y, w, permutations=0)
                for key, ref in (("moran_i", m.I), ("moran_ei", m.EI), ("moran_z_norm", m.z_norm), ("moran_p_norm", m.p_norm)):
                    check(f"{level} {key}", s_value(level, key), float(ref))
                lm = Moran_Local(y, w, permutations=0)
                gl = G_Local(y, w, transform="R", star=True, permutations=0)
                quad = {1: "HH", 2: "LH", 3: "LL", 4: "HL"}
                for j, f in enumerate(fs):
                    check(f"{level} {f['code']} lisa_i", f["lisa_i"], float(lm.Is[j]))
                    check(f"{level} {f['code']} gi_star_z", f["gi_star_z"], float(gl.Zs[j]))
                    check(f"{level} {f['code']} gi_star_p_norm", f["gi_star_p_norm"], float(gl.p_norm[j]))
                    if f["lisa_quadrant"] == quad[int(lm.q[j])]:
                        passed += 1
                    else:
                        failed += 1
                        print(f"MISMATCH {level} {f['code']} lisa_quadrant: {f['lisa_quadrant']} vs {quad[int(lm.q[j])]}")
        for col, cls in (("class_quantile", mapclassify.Quantiles), ("class_equal_interval", mapclassify.EqualInterval), ("class_fisher_jenks", mapclassify.FisherJenks)):
            ref = cls(y, k=k).yb + 1
            ours = np.array([f[col] for f in kept])
            bad = int((ref != ours).sum())
            if bad:
                failed += 1
                print(f"MISMATCH {level} {col}: {bad} of {len(y)} regions differ")
            else:
                passed += 1
    print(f"verify: {passed} passed, {failed} failed ({skipped} Atkinson values not comparable: PySAL refuses zeros; tolerance {REL:g} relative)")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
