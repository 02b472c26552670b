#!/usr/bin/env python3
"""Build data/emd_changes.csv: the dated code successions of the bundled 읍면동 and 리.

Why: `[boundaries] as_of` (src/geography.rs) derives the 시군구 and 시도 in force on a date from the
bundled 읍면동 (2012-07 – 2013-09 vintage). The 시군구-level events are in data/admin_changes.csv;
which legal dong (법정동) went where when a 시군구 was split, merged, transferred or recoded is in
the MOIS legal-dong code table with its creation (생성일자) and abolition (말소일자) dates.

Source: MOIS 법정동코드 전체자료 incl. abolished codes (말소코드포함), snapshot 2024-08-01, as
republished in github.com/WooilJeong/code, file `code/KIKcd_B.20240801(말소코드포함).xlsx`
(sha256 below). Columns: 법정동코드 (10 digits), 시도명, 시군구명, 읍면동명, 동리명, 생성일자, 말소일자.

Method, per bundled code (emd: 8 digits = table code without the trailing `00`; ri: 10 digits),
starting at the bundle's vintage and repeated until the code is in force (no abolition date):
  * the code's row is looked up in the table; a code missing from the table is reported;
  * when it was abolished on date D, its successor is the row created on D at the same level whose
    name is the same (읍면동명 for emd; 읍면동명 + 동리명 for ri, where the 읍면동 name may also have
    turned 면 → 읍), inside the 시군구 the old code's 시군구 went to on D (data/admin_changes.csv:
    the new codes of the events with that old code on D, or the same 시군구 when it has none);
  * exactly one successor is required; none or several is reported and the script fails.
Output columns: date,level,old_code,old_name,new_code,new_name,sigungu,rule (names are full
chains; `sigungu` is the 시군구 whose territory the unit is in after the change; new_code empty:
abolished without a successor of its level (see `rule`); its land then stays in its 시군구, or goes
with the territory that the one 시군구 event of that date moves elsewhere).
Deterministic (sorted). Usage: python3 scripts/make_emd_changes.py KIKcd_B.xlsx
"""
import csv
import hashlib
import os
import sys
from collections import defaultdict

from osgeo import ogr

SHA256 = "3bd556884154f9cfb2f21a8ad3f0016adac712c3236ceccabdf78bc6644bc831"
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def day(s):
    s = (s or "").strip()
    return f"{s[:4]}-{s[4:6]}-{s[6:8]}" if s else ""


def main(path):
    digest = hashlib.sha256(open(path, "rb").read()).hexdigest()
    if digest != SHA256:
        sys.exit(f"{path}: sha256 {digest}, expected {SHA256}")
    ds = ogr.Open(path)
    layer = ds.GetLayer(0)
    rows = {}
    created_on = defaultdict(list)
    for f in layer:
        vals = [f.GetField(i) for i in range(7)]
        code = (vals[0] or "").strip()
        if not code.isdigit():
            continue  # header row
        sido, sgg, emd, ri = (v or "" for v in vals[1:5])
        row = dict(code=code, sido=sido, sgg=sgg, emd=emd, ri=ri,
                   created=day(vals[5]), abolished=day(vals[6]))
        rows[code] = row
        created_on[row["created"]].append(row)

    sgg_events = defaultdict(set)  # (old sigungu, date) -> new sigungu codes
    with open(os.path.join(ROOT, "data", "admin_changes.csv"), encoding="utf-8") as fh:
        for r in csv.DictReader(fh):
            if r["status"] == "effective" and len(r["old_code"]) == 5 and r["new_code"]:
                sgg_events[(r["old_code"], r["date"])].add(r["new_code"])

    def full(r):
        return " ".join(x for x in (r["sido"], r["sgg"], r["emd"], r["ri"]) if x)

    def targets(code, date):
        sgg = code[:5]
        return sgg_events.get((sgg, date), set()) | {sgg}

    def upgraded(a, b):
        """`a` and `b` name the same 읍면동, allowing 면 → 읍."""
        return a == b or (a.endswith("면") and b == a[:-1] + "읍")

    def is_emd(r):
        return r["emd"] and not r["ri"] and r["code"][8:] == "00"

    memo = {}

    def emd_successor(code8, date):
        """(new 8-digit code or "", rule) for an emd abolished on `date`."""
        key = (code8, date)
        if key in memo:
            return memo[key]
        old = rows[code8 + "00"]
        tset = targets(code8, date)
        new = [r for r in created_on[date] if r["code"][:5] in tset]
        # 1. the same name (or 면 → 읍)
        hits = {r["code"][:8] for r in new if is_emd(r) and upgraded(old["emd"], r["emd"])}
        rule = "same name"
        if not hits:
            # 2. renamed: the new 읍면동 holding the old one's 리 (same 리 names)
            old_ri = {r["ri"] for r in rows.values()
                      if r["code"][:8] == code8 and r["ri"] and r["abolished"] == date}
            held = defaultdict(int)
            for r in new:
                if r["ri"] and r["ri"] in old_ri:
                    held[r["code"][:8]] += 1
            # the 읍면동 holding more than half of its 리 (two 면 can share a 리 name)
            hits = {c for c, n in held.items() if 2 * n > len(old_ri)}
            rule = "renamed (its 리 moved with it)"
        if not hits and old["emd"].endswith("동"):
            # 3. a 동 that became a 리 of a new 읍/면 (X동 → X리)
            stem = old["emd"][:-1]
            hits = {r["code"][:8] for r in new if r["ri"] == stem + "리"}
            rule = "동 became a 리 of this 읍/면"
        if len(hits) > 1:
            problems.append(f"emd {code8} {full(old)} abolished {date}: successors {sorted(hits)}")
        out = (sorted(hits)[0], rule) if len(hits) == 1 else ("", "abolished; no successor in the table")
        memo[key] = out
        return out

    def ri_successor(old, date):
        tset = targets(old["code"], date)
        new = [r for r in created_on[date] if r["code"][:5] in tset and r["ri"] == old["ri"]]
        emd_new = rows.get(old["code"][:8] + "00")
        succ8 = None
        if emd_new and emd_new["abolished"] == date:
            succ8 = emd_successor(old["code"][:8], date)[0]
        hits = {r["code"] for r in new if succ8 is None or r["code"][:8] == succ8}
        if not hits and succ8 is not None:
            hits = {r["code"] for r in new if upgraded(old["emd"], r["emd"])}
        if len(hits) > 1:
            problems.append(f"ri {old['code']} {full(old)} abolished {date}: successors {sorted(hits)}")
        return (sorted(hits)[0], "same name") if len(hits) == 1 else ("", "abolished; no successor 리 (became a 동 or was merged)")

    src = ogr.Open(os.path.join(ROOT, "data", "boundaries.gpkg"))
    changes, problems = [], []
    for level, width in (("emd", 8), ("ri", 10)):
        codes = sorted(f.GetField("code") for f in src.GetLayerByName(level))
        for code in codes:
            key = code + "00" if level == "emd" else code
            row = rows.get(key)
            if row is None:
                problems.append(f"{level} {code}: not in the MOIS table")
                continue
            while row["abolished"]:
                date = row["abolished"]
                if level == "emd":
                    new, rule = emd_successor(row["code"][:8], date)
                    new_row = rows.get(new + "00") if new else None
                else:
                    new, rule = ri_successor(row, date)
                    new_row = rows.get(new) if new else None
                if new:
                    sgg = new[:5]
                else:
                    # No successor of its level: its land stays in its 시군구, or goes with the
                    # territory a transfer/split/merge event of that date moves (the one target
                    # other than the old 시군구 itself).
                    moved = sorted(targets(row["code"], date) - {row["code"][:5]})
                    if len(moved) > 1:
                        problems.append(f"{level} {row['code']} {full(row)} abolished {date}: "
                                        f"no successor and its 시군구 went to {moved}")
                    sgg = moved[0] if moved else row["code"][:5]
                changes.append((date, level, row["code"][:width], full(row), new,
                                full(new_row) if new_row else "", sgg, rule))
                if new_row is None or new_row is row:
                    break
                row = new_row
    out = os.path.join(ROOT, "data", "emd_changes.csv")
    with open(out, "w", encoding="utf-8", newline="") as fh:
        w = csv.writer(fh, lineterminator="\n")
        w.writerow(["date", "level", "old_code", "old_name", "new_code", "new_name", "sigungu", "rule"])
        for c in sorted(set(changes)):
            w.writerow(c)
    print(f"{len(set(changes))} successions written to {out}")
    for p in problems:
        print("PROBLEM", p)
    print(f"{len(problems)} problem(s)")


if __name__ == "__main__":
    main(sys.argv[1])
