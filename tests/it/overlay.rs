//! The edge-based intersection area (`smartgap::overlay`) against GEOS (through GDAL), an
//! independent implementation, on the real 시군구 boundaries: seeded star-shaped districts
//! across borders (as bench/peers/gen_districts.py makes them), districts cut from a run of a
//! region's own boundary vertices (sharing edges and vertices with it, on either side), and a
//! whole region against itself and its neighbours.

use gdal::vector::ToGdal;
use geo::{Area, BoundingRect, Coord, LineString, MultiPolygon, Polygon, Validation};
use smartgap::indicators::spatial::Rng;
use smartgap::locate::{EdgeIndex, Locator};
use smartgap::model::AdminLevel;
use smartgap::overlay::intersection_area;

use crate::fixtures::national_boundaries;

fn geos(a: &MultiPolygon<f64>, b: &MultiPolygon<f64>) -> f64 {
    let (ga, gb) = (a.to_gdal().unwrap(), b.to_gdal().unwrap());
    ga.intersection(&gb).map_or(0.0, |g| g.area())
}

fn star(rng: &mut Rng, c: Coord<f64>, radius: f64) -> MultiPolygon<f64> {
    let n = 10 + rng.below(7);
    let mut ring: Vec<Coord<f64>> = (0..n)
        .map(|k| {
            let angle = (k as f64 + 0.3 * (rng.below(1000) as f64 / 1000.0)) / n as f64
                * std::f64::consts::TAU;
            let r = radius * (0.8 + 0.4 * rng.below(1000) as f64 / 1000.0);
            Coord {
                x: c.x + r * angle.cos(),
                y: c.y + r * angle.sin(),
            }
        })
        .collect();
    ring.push(ring[0]);
    MultiPolygon::new(vec![Polygon::new(LineString::new(ring), vec![])])
}

/// Checks every region whose box meets `d`; returns how many overlapping pairs the edge method
/// answered and how many it left to GEOS.
fn check(
    loc: &Locator<'_>,
    regions: &[MultiPolygon<f64>],
    d: &MultiPolygon<f64>,
    what: &str,
) -> (usize, usize) {
    let bb = d.bounding_rect().unwrap();
    let total = d.unsigned_area();
    let di = EdgeIndex::new(d);
    let (mut overlapping, mut declined) = (0, 0);
    for i in loc.boxes_meeting(bb.min(), bb.max()) {
        let theirs = geos(&regions[i], d);
        // `None`: two digitisations of one border too close to call; the caller uses GEOS.
        let Some(ours) = intersection_area(&di, loc.edge_index(i)) else {
            declined += 1;
            continue;
        };
        // GEOS snaps and nodes; both are exact to rounding of the coordinates (~1e-10 m here).
        let tol = 1e-9 * total + 1e-3;
        assert!(
            (ours - theirs).abs() <= tol,
            "{what}: region {i}: ours {ours} m², GEOS {theirs} m² (district {total} m²)"
        );
        // Swapping the roles gives the same area.
        if let Some(swapped) = intersection_area(loc.edge_index(i), &di) {
            assert!(
                (swapped - theirs).abs() <= tol,
                "{what}: swapped {swapped} vs {theirs}"
            );
        }
        overlapping += usize::from(theirs > 1.0);
    }
    (overlapping, declined)
}

#[test]
fn intersection_areas_equal_geos_on_real_sigungu() {
    let b = national_boundaries(&[AdminLevel::Sigungu]);
    let level = &b.levels[0];
    let loc = Locator::new(level);
    let regions: Vec<MultiPolygon<f64>> =
        level.regions.iter().map(|r| r.geometry.clone()).collect();
    let mut rng = Rng::new(20261125);
    let (mut pairs, mut declined) = (0, 0);
    let mut add = |(p, d): (usize, usize)| {
        pairs += p;
        declined += d;
    };

    // Stars of 0.5–30 km² centred on boundary vertices, so most straddle a border.
    for k in 0..150 {
        let r = &regions[rng.below(regions.len())];
        let ring = &r.0[0].exterior().0;
        let c = ring[rng.below(ring.len())];
        let radius = (0.5e6 + rng.below(30_000) as f64 * 1000.0).sqrt() / 1.7;
        add(check(
            &loc,
            &regions,
            &star(&mut rng, c, radius),
            &format!("star {k}"),
        ));
    }

    // Runs of a region's own boundary closed by a straight chord: shares its edges exactly.
    let mut cut = 0;
    for k in 0..2000 {
        if cut == 120 {
            break;
        }
        let r = &regions[rng.below(regions.len())];
        let ring = &r.0[0].exterior().0;
        let len = 5 + rng.below(60);
        if ring.len() < len + 2 {
            continue;
        }
        let s = rng.below(ring.len() - len - 1);
        let mut run: Vec<Coord<f64>> = ring[s..s + len].to_vec();
        if k % 2 == 1 {
            run.reverse();
        }
        run.push(run[0]);
        let d = MultiPolygon::new(vec![Polygon::new(LineString::new(run), vec![])]);
        if !d.is_valid() || d.unsigned_area() < 100.0 {
            continue;
        }
        cut += 1;
        add(check(&loc, &regions, &d, &format!("boundary run {k}")));
    }
    assert_eq!(cut, 120, "too few valid boundary runs");

    // Whole regions against themselves and their neighbours.
    for i in (0..regions.len()).step_by(25) {
        add(check(&loc, &regions, &regions[i], &format!("region {i}")));
        let own = intersection_area(loc.edge_index(i), loc.edge_index(i)).unwrap();
        let area = regions[i].unsigned_area();
        assert!(
            (own - area).abs() <= 1e-9 * area,
            "region {i}: {own} vs {area}"
        );
    }
    eprintln!("{pairs} overlapping pairs by edges, {declined} declined");
    assert!(pairs > 300, "only {pairs} overlapping pairs checked");
}
