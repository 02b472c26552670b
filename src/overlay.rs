//! The area of the intersection of two polygonal sets, computed from their edges without
//! building the intersection polygon.
//!
//! By Green's theorem twice the area of a region is the sum of `x dy − y dx` along its
//! boundary, taken with the interior on the left. The boundary of A ∩ B (A, B valid) is made of
//!
//! - the parts of A's edges that lie inside B,
//! - the parts of B's edges that lie inside A, and
//! - the stretches where an edge of A and an edge of B run together in the same direction
//!   (counted once, from A's side); where they run together in opposite directions they
//!   separate A from B and belong to neither.
//!
//! Each edge is cut at every point where it meets an edge of the other set; each piece either
//! runs along an exactly collinear edge of the other set (classified by the two directions) or
//! has no point of the other set's boundary inside it, so its midpoint's exact crossing-number
//! test (robust orientation predicates) classifies all of it. Coordinates are taken relative
//! to a local origin so that the sum keeps the precision of the polygons' size, not of their
//! distance from the projection's origin.
//!
//! This replaces a GEOS overlay per (district, region) pair, which is exact to the same
//! precision but builds the whole intersection; `tests/it/overlay.rs` compares the two on real
//! 시군구 boundaries and on districts that share edges and vertices with them.

use geo::Coord;
use geo::coordinate_position::CoordPos;
use geo::kernels::{Kernel, Orientation, RobustKernel};

use crate::locate::EdgeIndex;

/// Distance (in coordinate units: a micrometre in EPSG:5179) within which a piece's midpoint
/// is too close to the other set's boundary for its rounded position to be trusted: thousands
/// of times the rounding of coordinates near 2·10⁶ m (~2·10⁻¹⁰ m).
const FRAGILE: f64 = 1e-6;

/// The area of A ∩ B in the units of the coordinates (square metres in EPSG:5179), or `None`
/// where the boundaries run within `FRAGILE` of each other without sharing edges exactly
/// (two digitisations of one border): there a piece's midpoint may round to the wrong side,
/// and when the error that could cause exceeds 10⁻⁹ of A's area the caller should use a
/// noding overlay (GEOS) instead.
///
/// # Units
/// Planar, in the square of the coordinates' unit.
pub fn intersection_area(a: &EdgeIndex, b: &EdgeIndex) -> Option<f64> {
    let (lo, hi) = a.bounds();
    let (blo, bhi) = b.bounds();
    if !(lo.x <= bhi.x && blo.x <= hi.x && lo.y <= bhi.y && blo.y <= hi.y) {
        return Some(0.0);
    }
    let origin = lo;
    let mut work = Work::default();
    let (mut twice, mut twice_a) = (0.0, 0.0);
    a.each_edge(|p, q| {
        twice_a += cross(p - origin, q - origin);
        twice += work.inside_part(p, q, b, Side::First, origin);
    });
    b.edges_in(lo, hi, |p, q| {
        twice += work.inside_part(p, q, a, Side::Second, origin);
    });
    (work.doubt <= 1e-9 * twice_a.abs()).then_some(twice / 2.0)
}

/// Which set an edge comes from: shared stretches are counted from the first only.
#[derive(Clone, Copy, PartialEq)]
enum Side {
    First,
    Second,
}

#[derive(Default)]
struct Work {
    /// Parameters along the edge where it meets the other set's edges.
    cuts: Vec<f64>,
    /// Stretches (t0, t1, same direction) along exactly collinear edges of the other set.
    runs: Vec<(f64, f64, bool)>,
    /// The other set's edges near the current edge.
    near: Vec<(Coord<f64>, Coord<f64>)>,
    /// Twice the largest error the pieces classified too close to call could have made.
    doubt: f64,
}

/// Distance from `m` to the segment `c`–`d`.
fn distance(m: Coord<f64>, c: Coord<f64>, d: Coord<f64>) -> f64 {
    let s = d - c;
    let ss = dot(s, s);
    let t = if ss > 0.0 {
        (dot(m - c, s) / ss).clamp(0.0, 1.0)
    } else {
        0.0
    };
    let e = m - (c + s * t);
    dot(e, e).sqrt()
}

fn cross(a: Coord<f64>, b: Coord<f64>) -> f64 {
    a.x * b.y - a.y * b.x
}

fn dot(a: Coord<f64>, b: Coord<f64>) -> f64 {
    a.x * b.x + a.y * b.y
}

impl Work {
    /// Twice the Green's-theorem contribution of the parts of edge `p`→`q` that bound the
    /// intersection, relative to `origin`.
    fn inside_part(
        &mut self,
        p: Coord<f64>,
        q: Coord<f64>,
        other: &EdgeIndex,
        side: Side,
        origin: Coord<f64>,
    ) -> f64 {
        if p == q {
            return 0.0;
        }
        self.cuts.clear();
        self.runs.clear();
        self.near.clear();
        let r = q - p;
        let rr = dot(r, r);
        let (lo, hi) = crate::locate::grown_box(p, q, FRAGILE);
        let (cuts, runs, near) = (&mut self.cuts, &mut self.runs, &mut self.near);
        other.edges_in(lo, hi, |c, d| {
            near.push((c, d));
            let o1 = RobustKernel::orient2d(p, q, c);
            let o2 = RobustKernel::orient2d(p, q, d);
            if o1 == Orientation::Collinear && o2 == Orientation::Collinear {
                let (tc, td) = (dot(c - p, r) / rr, dot(d - p, r) / rr);
                let (t0, t1) = (tc.min(td).max(0.0), tc.max(td).min(1.0));
                if t1 > t0 {
                    runs.push((t0, t1, dot(r, d - c) > 0.0));
                    cuts.extend([t0, t1]);
                }
                return;
            }
            if o1 == o2 {
                return;
            }
            let o3 = RobustKernel::orient2d(c, d, p);
            let o4 = RobustKernel::orient2d(c, d, q);
            if o3 == o4 && o3 != Orientation::Collinear {
                return;
            }
            let s = d - c;
            let den = cross(r, s);
            if den != 0.0 {
                cuts.push((cross(c - p, s) / den).clamp(0.0, 1.0));
            }
        });
        self.cuts.extend([0.0, 1.0]);
        self.cuts.sort_by(f64::total_cmp);
        self.cuts.dedup();
        let at = |t: f64| {
            if t <= 0.0 {
                p
            } else if t >= 1.0 {
                q
            } else {
                p + r * t
            }
        };
        let mut twice = 0.0;
        for w in self.cuts.windows(2) {
            let (t0, t1) = (w[0], w[1]);
            let tm = 0.5 * (t0 + t1);
            let (from, to) = (at(t0), at(t1));
            let keep = match self.runs.iter().find(|(a, b, _)| *a <= tm && tm <= *b) {
                Some(&(_, _, same)) => same && side == Side::First,
                None => {
                    let m = at(tm);
                    if self.near.iter().any(|&(c, d)| distance(m, c, d) < FRAGILE) {
                        // Either answer may be wrong: the piece's term is the error.
                        self.doubt += cross(from - origin, to - origin).abs();
                    }
                    match other.position(m) {
                        CoordPos::Inside => true,
                        CoordPos::Outside => false,
                        CoordPos::OnBoundary => side == Side::First,
                    }
                }
            };
            if keep {
                twice += cross(from - origin, to - origin);
            }
        }
        twice
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use geo::{LineString, MultiPolygon, Polygon};

    fn rect(x0: f64, y0: f64, x1: f64, y1: f64) -> MultiPolygon<f64> {
        MultiPolygon::new(vec![Polygon::new(
            LineString::from(vec![(x0, y0), (x1, y0), (x1, y1), (x0, y1), (x0, y0)]),
            vec![],
        )])
    }

    fn area(a: &MultiPolygon<f64>, b: &MultiPolygon<f64>) -> f64 {
        intersection_area(&EdgeIndex::new(a), &EdgeIndex::new(b)).unwrap()
    }

    #[test]
    fn rectangles_by_hand() {
        let a = rect(0.0, 0.0, 4.0, 2.0);
        // Overlap 2 × 2; contained; disjoint; touching along an edge; identical.
        assert_eq!(area(&a, &rect(2.0, -1.0, 6.0, 5.0)), 4.0);
        assert_eq!(area(&a, &rect(1.0, 0.5, 2.0, 1.5)), 1.0);
        assert_eq!(area(&rect(1.0, 0.5, 2.0, 1.5), &a), 1.0);
        assert_eq!(area(&a, &rect(5.0, 0.0, 6.0, 1.0)), 0.0);
        assert_eq!(area(&a, &rect(4.0, 0.0, 6.0, 2.0)), 0.0);
        assert_eq!(area(&a, &a), 8.0);
        // Sharing two edges (the lower left corner) and half the width.
        assert_eq!(area(&a, &rect(0.0, 0.0, 2.0, 2.0)), 4.0);
        assert_eq!(area(&rect(0.0, 0.0, 2.0, 2.0), &a), 4.0);
    }

    #[test]
    fn holes_and_orientation_do_not_matter() {
        // A 10 × 10 square with a 4 × 4 hole, its exterior given clockwise.
        let outer = LineString::from(vec![
            (0.0, 0.0),
            (0.0, 10.0),
            (10.0, 10.0),
            (10.0, 0.0),
            (0.0, 0.0),
        ]);
        let hole = LineString::from(vec![
            (3.0, 3.0),
            (7.0, 3.0),
            (7.0, 7.0),
            (3.0, 7.0),
            (3.0, 3.0),
        ]);
        let donut = MultiPolygon::new(vec![Polygon::new(outer, vec![hole])]);
        assert_eq!(area(&donut, &rect(0.0, 0.0, 10.0, 10.0)), 84.0);
        // The right half: 50 minus the hole's right half (8).
        assert_eq!(area(&donut, &rect(5.0, -1.0, 11.0, 11.0)), 42.0);
        // Inside the hole only.
        assert_eq!(area(&donut, &rect(4.0, 4.0, 6.0, 6.0)), 0.0);
        // Exactly the hole.
        assert_eq!(area(&donut, &rect(3.0, 3.0, 7.0, 7.0)), 0.0);
    }

    #[test]
    fn far_from_the_origin_keeps_precision() {
        // EPSG:5179-sized coordinates: a 1 km square split 300 m / 700 m.
        let (x, y) = (1_100_000.0, 1_900_000.0);
        let a = rect(x, y, x + 1000.0, y + 1000.0);
        let b = rect(x + 700.0, y - 50.0, x + 5000.0, y + 2000.0);
        assert!((area(&a, &b) - 300_000.0).abs() < 1e-6);
    }
}
