//! Polygons made valid on the GeoJSON output grid.
//!
//! GeoJSON coordinates are written with a fixed number of decimals, so every vertex moves to
//! the nearest point of a grid of `10^-decimals` degrees. Rounding each vertex on its own
//! breaks polygons that were only barely valid (a hole a few centimetres from its exterior, a
//! narrow inlet) and reprojection alone already bends some of them across each other. The
//! known remedy is snap-rounding: compute the polygon's edges on the integer grid, split them
//! where they cross, snap those crossings to the grid too, and rebuild the rings from the
//! resulting planar graph. [`i_overlay`] does exactly that with integer arithmetic (its
//! overlay of a shape with itself, "simplify", with OGC-valid extraction), so its output is
//! valid on the grid by construction, not by a check after the fact.
//!
//! Rings are then oriented by the exact sign of their area on the grid (RFC 7946: exteriors
//! counter-clockwise, holes clockwise), rings and polygons that collapse to no area are gone,
//! and the change of area that rounding made is measured against the unrounded polygon.

use geo::Coord;
use i_overlay::core::fill_rule::FillRule;
use i_overlay::core::overlay::{ContourDirection, IntOverlayOptions};
use i_overlay::core::simplify::Simplify;
use i_overlay::i_float::int::point::IntPoint;
use i_overlay::i_shape::int::shape::{IntContour, IntShape};

/// A ring of grid coordinates (`round(degrees · 10^decimals)`), closed: the last vertex
/// repeats the first.
pub type GridRing = Vec<[i64; 2]>;

/// One polygon: its exterior, then its holes.
pub type GridPolygon = Vec<GridRing>;

/// What [`snap`] made of a polygon or multipolygon.
#[derive(Debug, Clone, PartialEq)]
pub struct Snapped {
    /// Valid on the grid, exteriors counter-clockwise and holes clockwise; empty when the whole
    /// geometry collapses at this precision.
    pub polygons: Vec<GridPolygon>,
    /// `|area after − area before| / area before` in the CRS of the input (0 when the input
    /// has no area).
    pub area_change: f64,
}

/// The largest half-extent, in grid units, that the integer overlay takes (as its own
/// float adapter does: 2²⁹, so that differences and their products stay exact).
const MAX_HALF_EXTENT: i64 = 1 << 29;

/// A geometry wider than the integer grid allows at this number of decimals.
#[derive(Debug, Clone, Copy, PartialEq, thiserror::Error)]
#[error(
    "a polygon spans {degrees:.1}°, more than the {max:.1}° that can be made valid at {decimals} decimals"
)]
pub struct TooWide {
    pub degrees: f64,
    pub max: f64,
    pub decimals: u32,
}

/// Snap-rounds `polygons` (each an exterior then holes, in any orientation, closed or not) to
/// the grid of `10^-decimals` units.
///
/// # Errors
/// The geometry is wider than 2³⁰ grid units.
pub fn snap(polygons: &[Vec<Vec<Coord<f64>>>], decimals: u32) -> Result<Snapped, TooWide> {
    let scale = 10f64.powi(decimals as i32);
    let before = area(polygons);
    let grid: Vec<Vec<Vec<[i64; 2]>>> = polygons
        .iter()
        .map(|rings| {
            rings
                .iter()
                .map(|r| {
                    r.iter()
                        .map(|c| [(c.x * scale).round() as i64, (c.y * scale).round() as i64])
                        .collect()
                })
                .collect()
        })
        .collect();
    let Some(origin) = centre(&grid, scale, decimals)? else {
        return Ok(Snapped {
            polygons: Vec::new(),
            area_change: if before > 0.0 { 1.0 } else { 0.0 },
        });
    };
    let shapes: Vec<IntShape> = grid
        .iter()
        .filter_map(|rings| shape(rings, origin))
        .collect();
    let options = IntOverlayOptions {
        preserve_input_collinear: true,
        output_direction: ContourDirection::CounterClockwise,
        preserve_output_collinear: true,
        min_output_area: 0,
        ogc: true,
    };
    // One polygon alone takes the overlay's own fast path when it has a single ring: a ring
    // found simple by the sweep is returned as it is, without building the graph.
    let simple = match shapes.as_slice() {
        [one] => one.simplify(FillRule::NonZero, options),
        _ => shapes.simplify(FillRule::NonZero, options),
    };
    let mut twice_after: i128 = 0;
    let mut out: Vec<GridPolygon> = Vec::with_capacity(simple.len());
    for shape in simple {
        let mut rings: GridPolygon = Vec::with_capacity(shape.len());
        for (k, contour) in shape.iter().enumerate() {
            let mut ring: GridRing = contour
                .iter()
                .map(|p| [i64::from(p.x) + origin[0], i64::from(p.y) + origin[1]])
                .collect();
            let twice = twice_area(&ring);
            if twice == 0 {
                if k == 0 {
                    break;
                }
                continue;
            }
            if (twice > 0) != (k == 0) {
                ring.reverse();
            }
            twice_after += if k == 0 { twice.abs() } else { -twice.abs() };
            if let Some(&first) = ring.first() {
                ring.push(first);
            }
            rings.push(ring);
        }
        if !rings.is_empty() {
            out.push(rings);
        }
    }
    let after = twice_after as f64 / (2.0 * scale * scale);
    let area_change = if before > 0.0 {
        (after - before).abs() / before
    } else {
        0.0
    };
    Ok(Snapped {
        polygons: out,
        area_change,
    })
}

/// The grid point at the centre of the bounding box of every vertex, or `None` without
/// vertices.
///
/// # Errors
/// The box is wider than the integer overlay takes.
fn centre(
    grid: &[Vec<Vec<[i64; 2]>>],
    scale: f64,
    decimals: u32,
) -> Result<Option<[i64; 2]>, TooWide> {
    let mut points = grid.iter().flatten().flatten();
    let Some(&first) = points.next() else {
        return Ok(None);
    };
    let (mut lo, mut hi) = (first, first);
    for p in points {
        for d in 0..2 {
            lo[d] = lo[d].min(p[d]);
            hi[d] = hi[d].max(p[d]);
        }
    }
    let span = (hi[0] - lo[0]).max(hi[1] - lo[1]);
    if span >= 2 * MAX_HALF_EXTENT {
        return Err(TooWide {
            degrees: span as f64 / scale,
            max: (2 * MAX_HALF_EXTENT) as f64 / scale,
            decimals,
        });
    }
    Ok(Some([
        lo[0] + (hi[0] - lo[0]) / 2,
        lo[1] + (hi[1] - lo[1]) / 2,
    ]))
}

/// One polygon as the overlay's contours relative to `origin`: repeated vertices and the
/// closing one dropped, the exterior counter-clockwise and holes clockwise (so that the
/// non-zero rule fills the polygon and not its holes), rings without area left out. `None` when
/// the exterior has no area.
fn shape(rings: &[Vec<[i64; 2]>], origin: [i64; 2]) -> Option<IntShape> {
    let mut out: IntShape = Vec::with_capacity(rings.len());
    for (k, ring) in rings.iter().enumerate() {
        let mut r: Vec<[i64; 2]> = Vec::with_capacity(ring.len());
        for &p in ring {
            if r.last() != Some(&p) {
                r.push(p);
            }
        }
        while r.len() > 1 && r.first() == r.last() {
            r.pop();
        }
        let twice = twice_area(&r);
        if r.len() < 3 || twice == 0 {
            if k == 0 {
                return None;
            }
            continue;
        }
        if (twice > 0) != (k == 0) {
            r.reverse();
        }
        // `centre` checked that every offset fits well inside an i32.
        let contour: IntContour = r
            .iter()
            .map(|p| IntPoint::new((p[0] - origin[0]) as i32, (p[1] - origin[1]) as i32))
            .collect();
        out.push(contour);
    }
    Some(out)
}

/// Twice the signed area of a ring of grid points (closed or not), exactly. Positive =
/// counter-clockwise.
pub fn twice_area(ring: &[[i64; 2]]) -> i128 {
    let Some(o) = ring.first() else { return 0 };
    let n = ring.len();
    (0..n)
        .map(|i| {
            let (a, b) = (ring[i], ring[(i + 1) % n]);
            let (ax, ay) = (i128::from(a[0] - o[0]), i128::from(a[1] - o[1]));
            let (bx, by) = (i128::from(b[0] - o[0]), i128::from(b[1] - o[1]));
            ax * by - bx * ay
        })
        .sum()
}

/// The area of `polygons` (rings: exterior, then holes) in the units of their CRS: each
/// exterior's area less its holes'.
pub fn area(polygons: &[Vec<Vec<Coord<f64>>>]) -> f64 {
    polygons
        .iter()
        .map(|rings| {
            rings
                .iter()
                .enumerate()
                .map(|(k, r)| {
                    let a = float_area(r).abs();
                    if k == 0 { a } else { -a }
                })
                .sum::<f64>()
        })
        .sum()
}

/// Signed area of a ring (shoelace relative to its first vertex, closed or not).
fn float_area(ring: &[Coord<f64>]) -> f64 {
    let Some(o) = ring.first() else { return 0.0 };
    let n = ring.len();
    (0..n)
        .map(|i| {
            let (a, b) = (ring[i], ring[(i + 1) % n]);
            (a.x - o.x) * (b.y - o.y) - (b.x - o.x) * (a.y - o.y)
        })
        .sum::<f64>()
        / 2.0
}

#[cfg(test)]
mod tests {
    use super::*;
    use gdal::vector::{Geometry, ToGdal};

    fn ring(pts: &[(f64, f64)]) -> Vec<Coord<f64>> {
        pts.iter().map(|&(x, y)| Coord { x, y }).collect()
    }

    /// GEOS (through GDAL) on the snapped polygons.
    fn geos_valid(s: &Snapped) -> bool {
        let mp = geo::MultiPolygon::new(
            s.polygons
                .iter()
                .map(|rings| {
                    let mut it = rings.iter().map(|r| {
                        geo::LineString::from(
                            r.iter()
                                .map(|p| (p[0] as f64, p[1] as f64))
                                .collect::<Vec<_>>(),
                        )
                    });
                    let ext = it.next().unwrap();
                    geo::Polygon::new(ext, it.collect())
                })
                .collect(),
        );
        let g: Geometry = mp.to_gdal().unwrap();
        g.is_valid()
    }

    fn assert_oriented(s: &Snapped) {
        for rings in &s.polygons {
            for (k, r) in rings.iter().enumerate() {
                assert_eq!(r.first(), r.last());
                assert!(r.len() >= 4);
                let t = twice_area(r);
                assert!(if k == 0 { t > 0 } else { t < 0 }, "ring {k}: {t}");
            }
        }
    }

    #[test]
    fn a_clockwise_polygon_with_a_counter_clockwise_hole_is_turned_round() {
        let p = vec![
            ring(&[
                (0.0, 0.0),
                (0.0, 10.0),
                (10.0, 10.0),
                (10.0, 0.0),
                (0.0, 0.0),
            ]),
            ring(&[(2.0, 2.0), (8.0, 2.0), (8.0, 8.0), (2.0, 8.0)]),
        ];
        let s = snap(&[p], 0).unwrap();
        assert_eq!(s.polygons.len(), 1);
        assert_eq!(s.polygons[0].len(), 2);
        assert_oriented(&s);
        assert!(geos_valid(&s));
        assert_eq!(s.area_change, 0.0);
    }

    #[test]
    fn barely_valid_polygons_broken_by_rounding_come_out_valid() {
        // Valid as given, invalid once each vertex is rounded on its own to whole units: a
        // hole 0.4 from the exterior lands on it along an edge; a spike 0.4 wide folds onto
        // itself; a sliver collapses to no area; the last polygon is clockwise.
        let holed = vec![
            ring(&[(0.0, 0.0), (10.0, 0.0), (10.0, 10.0), (0.0, 10.0)]),
            ring(&[(2.0, 2.0), (2.0, 8.0), (9.6, 8.0), (9.6, 2.0)]),
        ];
        let spiked = vec![ring(&[
            (20.0, 0.0),
            (30.0, 0.0),
            (30.0, 10.0),
            (25.2, 10.0),
            (25.4, 20.0),
            (24.6, 10.2),
            (20.0, 10.0),
        ])];
        let sliver = vec![ring(&[(40.0, 0.0), (50.0, 0.1), (40.0, 0.2)])];
        let clockwise = vec![ring(&[(60.0, 0.0), (60.0, 5.0), (65.0, 5.0), (65.0, 0.0)])];
        let input = vec![holed, spiked, sliver, clockwise];
        let s = snap(&input, 0).unwrap();
        assert!(geos_valid(&s), "{:?}", s.polygons);
        assert_oriented(&s);
        // The sliver is gone and the spike folded away; the holed square lost its hole's
        // 0.4-wide strip to the hole (the hole now touches the exterior along x = 10, so it
        // is an inlet): 100 − 6·8 + 100 + 25 square units.
        let twice: i128 = s.polygons.iter().flatten().map(|r| twice_area(r)).sum();
        assert_eq!(twice, 2 * (100 - 6 * 8 + 100 + 25));
        assert!(
            s.area_change > 0.0 && s.area_change < 0.05,
            "{}",
            s.area_change
        );
    }

    #[test]
    fn overlapping_parts_become_one_and_a_collapsed_geometry_is_empty() {
        let a = vec![ring(&[(0.0, 0.0), (4.0, 0.0), (4.0, 4.0), (0.0, 4.0)])];
        let b = vec![ring(&[(2.0, 2.0), (6.0, 2.0), (6.0, 6.0), (2.0, 6.0)])];
        let s = snap(&[a, b], 0).unwrap();
        assert_eq!(s.polygons.len(), 1);
        assert!(geos_valid(&s));
        let twice: i128 = s.polygons.iter().flatten().map(|r| twice_area(r)).sum();
        assert_eq!(twice, 2 * 28);

        let tiny = vec![ring(&[(0.1, 0.1), (0.3, 0.1), (0.3, 0.3), (0.1, 0.3)])];
        let s = snap(&[tiny], 0).unwrap();
        assert!(s.polygons.is_empty());
        assert_eq!(s.area_change, 1.0);
    }

    #[test]
    fn a_geometry_wider_than_the_grid_is_an_error() {
        let wide = vec![ring(&[(0.0, 0.0), (20.0, 0.0), (20.0, 1.0), (0.0, 1.0)])];
        let e = snap(std::slice::from_ref(&wide), 8).unwrap_err();
        assert!(e.to_string().contains("20.0°"), "{e}");
        assert!(snap(&[wide], 7).is_ok());
    }
}
