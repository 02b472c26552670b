//! A region's edges in horizontal bands, and the exact point-in-polygon test over them.

use geo::coordinate_position::CoordPos;
use geo::kernels::{Kernel, Orientation, RobustKernel};
use geo::{Coord, MultiPolygon};

/// A region's edges bucketed by horizontal band, so that a point-in-polygon test looks only at
/// the edges whose y-range holds the point instead of every edge of the region.
///
/// The test is the crossing number of a ray towards +x with the half-open rule, over every ring
/// (exterior and holes) of every polygon, with robust orientation predicates; a point on an
/// edge or vertex is `OnBoundary`. For valid (multi)polygons this is what
/// `geo::CoordinatePosition` gives (`tests/it/locator.rs` checks it against brute force).
pub struct EdgeIndex {
    y0: f64,
    band_height: f64,
    /// Ring vertices, each ring closed and oriented with the interior on its left (exteriors
    /// counter-clockwise, holes clockwise); edge `i` runs from `verts[i]` to `verts[i + 1]`.
    verts: Vec<Coord<f64>>,
    /// The vertex range of each ring in `verts`.
    rings: Vec<(u32, u32)>,
    /// Bounding box of the vertices (lo, hi).
    bounds: (Coord<f64>, Coord<f64>),
    /// Offsets into `edges` of each band (one more than the number of bands).
    band_start: Vec<u32>,
    edges: Vec<u32>,
}

impl EdgeIndex {
    /// The index of the edges of `mp`, each ring turned so that the interior lies on its left.
    pub fn new(mp: &MultiPolygon<f64>) -> EdgeIndex {
        let mut verts = Vec::new();
        let mut starts = Vec::new();
        let mut rings = Vec::new();
        for p in &mp.0 {
            for (k, ring) in std::iter::once(p.exterior())
                .chain(p.interiors())
                .enumerate()
            {
                if ring.0.len() < 2 {
                    continue;
                }
                let base = verts.len();
                verts.extend_from_slice(&ring.0);
                // Twice the signed area (shoelace about the first vertex): positive when
                // counter-clockwise. Exteriors (k = 0) turn counter-clockwise, holes clockwise.
                let v0 = ring.0[0];
                let twice: f64 = ring
                    .0
                    .windows(2)
                    .map(|w| (w[0].x - v0.x) * (w[1].y - v0.y) - (w[1].x - v0.x) * (w[0].y - v0.y))
                    .sum();
                if (k == 0) != (twice >= 0.0) {
                    verts[base..].reverse();
                }
                rings.push((base as u32, verts.len() as u32));
                starts.extend((base..base + ring.0.len() - 1).map(|i| i as u32));
            }
        }
        let (mut lo, mut hi) = (f64::INFINITY, f64::NEG_INFINITY);
        let (mut xlo, mut xhi) = (f64::INFINITY, f64::NEG_INFINITY);
        for v in &verts {
            lo = lo.min(v.y);
            hi = hi.max(v.y);
            xlo = xlo.min(v.x);
            xhi = xhi.max(v.x);
        }
        let bands = (starts.len() / 4).clamp(1, 4096);
        let band_height = if hi > lo {
            (hi - lo) / bands as f64
        } else {
            1.0
        };
        let mut index = EdgeIndex {
            y0: lo,
            band_height,
            verts,
            rings,
            bounds: (Coord { x: xlo, y: lo }, Coord { x: xhi, y: hi }),
            band_start: vec![0; bands + 1],
            edges: Vec::new(),
        };
        let span = |idx: &EdgeIndex, e: u32| {
            let (a, b) = (idx.verts[e as usize], idx.verts[e as usize + 1]);
            (idx.band(a.y.min(b.y)), idx.band(a.y.max(b.y)))
        };
        // Counting sort of edges into the bands their y-range touches.
        for &e in &starts {
            let (b0, b1) = span(&index, e);
            for b in b0..=b1 {
                index.band_start[b + 1] += 1;
            }
        }
        for b in 0..bands {
            index.band_start[b + 1] += index.band_start[b];
        }
        let mut fill: Vec<u32> = index.band_start[..bands].to_vec();
        index.edges = vec![0; index.band_start[bands] as usize];
        for &e in &starts {
            let (b0, b1) = span(&index, e);
            for slot in &mut fill[b0..=b1] {
                index.edges[*slot as usize] = e;
                *slot += 1;
            }
        }
        index
    }

    /// The band holding `y`; monotone in `y`, so an edge spanning `y` is listed in its band.
    fn band(&self, y: f64) -> usize {
        let bands = self.band_start.len() - 1;
        let f = (y - self.y0) / self.band_height;
        if f >= 0.0 {
            (f as usize).min(bands - 1)
        } else {
            0
        }
    }

    /// Bounding box (lo, hi) of the vertices; inverted when there are none.
    pub(crate) fn bounds(&self) -> (Coord<f64>, Coord<f64>) {
        self.bounds
    }

    /// Calls `f` with every edge (from, to; interior on the left).
    pub(crate) fn each_edge(&self, mut f: impl FnMut(Coord<f64>, Coord<f64>)) {
        for &(a, b) in &self.rings {
            for w in self.verts[a as usize..b as usize].windows(2) {
                f(w[0], w[1]);
            }
        }
    }

    /// Calls `f` once with every edge whose bounding box meets the box `lo`–`hi`.
    pub(crate) fn edges_in(
        &self,
        lo: Coord<f64>,
        hi: Coord<f64>,
        mut f: impl FnMut(Coord<f64>, Coord<f64>),
    ) {
        if self.verts.is_empty() || lo.y > self.bounds.1.y || hi.y < self.bounds.0.y {
            return;
        }
        let (b0, b1) = (self.band(lo.y), self.band(hi.y));
        for b in b0..=b1 {
            for &e in &self.edges[self.band_start[b] as usize..self.band_start[b + 1] as usize] {
                let (a, c) = (self.verts[e as usize], self.verts[e as usize + 1]);
                // An edge is listed in every band its y-range touches: take it in the first
                // of those within b0..=b1.
                if self.band(a.y.min(c.y)).max(b0) != b
                    || a.x.max(c.x) < lo.x
                    || a.x.min(c.x) > hi.x
                    || a.y.max(c.y) < lo.y
                    || a.y.min(c.y) > hi.y
                {
                    continue;
                }
                f(a, c);
            }
        }
    }

    /// Where `p` lies: inside, on an edge or vertex, or outside.
    pub(crate) fn position(&self, p: Coord<f64>) -> CoordPos {
        if self.verts.is_empty() {
            return CoordPos::Outside;
        }
        let b = self.band(p.y);
        let mut inside = false;
        for &e in &self.edges[self.band_start[b] as usize..self.band_start[b + 1] as usize] {
            let (a, c) = (self.verts[e as usize], self.verts[e as usize + 1]);
            if p.y < a.y.min(c.y) || p.y > a.y.max(c.y) {
                continue;
            }
            // An edge wholly left or right of p settles without the orientation predicate:
            // p lies strictly right of it (no crossing, not on it) or strictly left of it (a
            // crossing when it straddles p.y), which is what the exact predicate would say.
            if a.x.max(c.x) < p.x {
                continue;
            }
            if a.x.min(c.x) > p.x {
                inside ^= (a.y > p.y) != (c.y > p.y);
                continue;
            }
            let o = RobustKernel::orient2d(a, c, p);
            if o == Orientation::Collinear && p.x >= a.x.min(c.x) && p.x <= a.x.max(c.x) {
                return CoordPos::OnBoundary;
            }
            // Half-open rule: an edge counts when exactly one end lies strictly above p; the
            // ray to +x crosses it when p lies left of the edge directed upwards.
            if (a.y > p.y) != (c.y > p.y) {
                let left_of_upward = if c.y > a.y {
                    o == Orientation::CounterClockwise
                } else {
                    o == Orientation::Clockwise
                };
                inside ^= left_of_upward;
            }
        }
        if inside {
            CoordPos::Inside
        } else {
            CoordPos::Outside
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use geo::coordinate_position::CoordinatePosition;
    use geo::{LineString, Polygon};

    /// Points left of, right of, on and between the edges of a square with a hole (where
    /// `position` settles an edge without the orientation predicate, and where it does not),
    /// against geo's own answer.
    #[test]
    fn position_equals_geo_left_right_and_on_edges() {
        let ring = |c: &[(f64, f64)]| LineString::from(c.to_vec());
        let square = Polygon::new(
            ring(&[(0.0, 0.0), (4.0, 0.0), (4.0, 4.0), (0.0, 4.0), (0.0, 0.0)]),
            vec![ring(&[
                (1.0, 1.0),
                (1.0, 3.0),
                (3.0, 3.0),
                (3.0, 1.0),
                (1.0, 1.0),
            ])],
        );
        // A slanted edge too, whose orientation decides near it.
        let wedge = Polygon::new(
            ring(&[(6.0, 0.0), (9.0, 4.0), (6.0, 4.0), (6.0, 0.0)]),
            vec![],
        );
        let mp = MultiPolygon(vec![square, wedge]);
        let index = EdgeIndex::new(&mp);
        let (mut inside, mut boundary, mut outside) = (0, 0, 0);
        for i in -2..=40 {
            for j in -2..=18 {
                let p = Coord {
                    x: f64::from(i) * 0.25,
                    y: f64::from(j) * 0.25,
                };
                let want = mp.coordinate_position(&p);
                assert_eq!(index.position(p), want, "point {p:?}");
                match want {
                    CoordPos::Inside => inside += 1,
                    CoordPos::OnBoundary => boundary += 1,
                    CoordPos::Outside => outside += 1,
                }
            }
        }
        // Every kind of answer is met, so no branch of `position` goes untried.
        assert!(
            inside > 100 && boundary > 50 && outside > 300,
            "{inside} {boundary} {outside}"
        );
    }
}
