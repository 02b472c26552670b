//! Property test: the indexed point locator gives exactly what brute force gives over every
//! region (the edge rule included), for random points and for boundary vertices of the real
//! 시군구 — each point in exactly one region, or none when outside.

use smartgap::assign::Locator;
use smartgap::indicators::spatial::Rng;
use smartgap::model::AdminLevel;

use crate::fixtures::{brute_force, national_boundaries};

#[test]
fn indexed_locator_equals_brute_force_on_real_sigungu() {
    let b = national_boundaries(&[AdminLevel::Sido, AdminLevel::Sigungu]);
    let sigungu = b.level(AdminLevel::Sigungu).unwrap();
    let locator = Locator::new(sigungu);
    // The same with the acceleration grid, coarse and fine.
    let coarse = Locator::new(sigungu).with_grid(2_000);
    let fine = Locator::new(sigungu).with_grid(200_000);
    let mut rng = Rng::new(20_261_125);
    let (x0, x1, y0, y1) = (750_000.0, 1_390_000.0, 1_460_000.0, 2_070_000.0);
    let mut points: Vec<geo::Coord<f64>> = (0..3000)
        .map(|_| geo::Coord {
            x: x0 + (x1 - x0) * (rng.next_u64() as f64 / u64::MAX as f64),
            y: y0 + (y1 - y0) * (rng.next_u64() as f64 / u64::MAX as f64),
        })
        .collect();
    // Vertices of 40 regions: on shared edges and corners, where the edge rule decides.
    for r in sigungu.regions.iter().step_by(6) {
        points.extend(
            r.geometry.0[0]
                .exterior()
                .0
                .iter()
                .step_by(50)
                .take(5)
                .copied(),
        );
    }
    let mut inside = 0;
    for c in &points {
        let got = locator.locate(*c);
        assert_eq!(got, brute_force(sigungu, *c), "point {c:?}");
        assert_eq!(coarse.locate(*c), got, "coarse grid, point {c:?}");
        assert_eq!(fine.locate(*c), got, "fine grid, point {c:?}");
        inside += usize::from(got.is_some());
    }
    assert!(
        inside > 150,
        "only {inside} of {} points fell inside a region",
        points.len()
    );
}

/// Throughput, printed not asserted (speed is measured, never tested):
/// `cargo test --release --test it locator_throughput -- --ignored --nocapture`.
#[test]
#[ignore = "a measurement, not a test"]
fn locator_throughput() {
    use rayon::prelude::*;
    let b = national_boundaries(&[AdminLevel::Sido, AdminLevel::Sigungu, AdminLevel::Emd]);
    let mut rng = Rng::new(1);
    let (x0, x1, y0, y1) = (750_000.0, 1_390_000.0, 1_460_000.0, 2_070_000.0);
    let points: Vec<geo::Coord<f64>> = (0..1_000_000)
        .map(|_| geo::Coord {
            x: x0 + (x1 - x0) * (rng.next_u64() as f64 / u64::MAX as f64),
            y: y0 + (y1 - y0) * (rng.next_u64() as f64 / u64::MAX as f64),
        })
        .collect();
    for level in [AdminLevel::Sigungu, AdminLevel::Emd] {
        let l = b.level(level).unwrap();
        let t = std::time::Instant::now();
        let grid = Locator::new(l).with_grid(smartgap::locate::default_cells(l));
        let build = t.elapsed();
        let t = std::time::Instant::now();
        let hits = points
            .par_iter()
            .filter(|c| grid.locate(**c).is_some())
            .count();
        let fast = t.elapsed();
        let exact = Locator::new(l);
        let t = std::time::Instant::now();
        let hits2 = points
            .par_iter()
            .take(100_000)
            .filter(|c| exact.locate(**c).is_some())
            .count();
        let slow = t.elapsed();
        eprintln!(
            "{level}: grid build {build:?}; 1M points with grid {fast:?} ({hits} inside); 100k exact {slow:?} ({hits2} inside)"
        );
    }
}
