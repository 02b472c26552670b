//! Records located by polygon: money apportioned over the finest level by intersected area.

use std::sync::atomic::{AtomicUsize, Ordering};

use geo::{BoundingRect, MultiPolygon};
use rayon::prelude::*;

use crate::locate::{EdgeIndex, Locator};
use crate::model::{Investment, LevelRegions, Location, RejectReason};

use super::{Outcome, Resolution};

/// Sets the outcome of every polygon record (`outcomes` in record order) to its shares of the
/// regions of `finest`.
pub(super) fn apportion_areas(
    finest: &LevelRegions,
    records: &[Investment],
    outcomes: &mut [Outcome],
) {
    let areas: Vec<(usize, &MultiPolygon<f64>)> = records
        .iter()
        .enumerate()
        .filter_map(|(i, r)| match &r.location {
            Location::Area(mp) => Some((i, mp)),
            _ => None,
        })
        .collect();
    if areas.is_empty() {
        return;
    }
    // Each polygon's shares depend on it alone: computed in parallel, a few thousand at a time
    // between progress updates.
    let started = std::time::Instant::now();
    let apportioner = Apportioner::new(finest);
    let progress = crate::progress::Progress::new("apportioning");
    let mut done = 0;
    for part in areas.chunks(4096) {
        let results: Vec<(usize, Outcome)> = part
            .par_iter()
            .map(|(i, mp)| (*i, apportioner.apportion(mp)))
            .collect();
        for (i, o) in results {
            outcomes[i] = o;
        }
        done += part.len();
        progress.tick_of(done, areas.len(), "polygons");
    }
    progress.done();
    let ms = started.elapsed().as_millis() as u64;
    tracing::info!(
        polygons = areas.len(),
        pairs = apportioner.pairs.load(Ordering::Relaxed),
        by_geos = apportioner.by_geos.load(Ordering::Relaxed),
        ms,
        polygons_per_s = crate::progress::per_second(areas.len(), ms),
        "apportioned by intersected area"
    );
}

/// Area-weighted apportionment of polygon records over the finest level: the intersected
/// areas come from [`crate::overlay::intersection_area`] (exact to floating point, no
/// intersection polygon built), with GEOS through GDAL as a check-and-fallback should a result
/// fall outside `0..=area`. The input polygons are valid or repaired by the reader.
struct Apportioner<'a> {
    level: &'a LevelRegions,
    regions: Locator<'a>,
    /// (district, region) pairs measured, and those left to GEOS.
    pairs: AtomicUsize,
    by_geos: AtomicUsize,
}

/// Intersections smaller than this (m², a square millimetre) are rounding noise of touching
/// polygons, not overlap.
const AREA_NOISE_M2: f64 = 1e-6;

impl<'a> Apportioner<'a> {
    fn new(level: &'a LevelRegions) -> Apportioner<'a> {
        Apportioner {
            level,
            regions: Locator::new(level),
            pairs: AtomicUsize::new(0),
            by_geos: AtomicUsize::new(0),
        }
    }

    /// Shares of `mp` (EPSG:5179) per region: intersected area / polygon area; the rest is
    /// `outside`. A polygon touching no region is a reject.
    ///
    /// # Units
    /// Areas planar in EPSG:5179; weights dimensionless and summing to 1 with `outside`.
    fn apportion(&self, mp: &MultiPolygon<f64>) -> Outcome {
        let bad = |why: String| (RejectReason::GeometryInvalid, why);
        let total = geo::Area::unsigned_area(mp);
        let Some(bb) = mp.bounding_rect() else {
            return Err(bad("empty polygon".into()));
        };
        let district = EdgeIndex::new(mp);
        let mut parts = Vec::new();
        for i in self.regions.boxes_meeting(bb.min(), bb.max()) {
            let fast = crate::overlay::intersection_area(&district, self.regions.edge_index(i));
            let slack = 1e-9 * total + AREA_NOISE_M2;
            self.pairs.fetch_add(1, Ordering::Relaxed);
            let a = if let Some(a) =
                fast.filter(|a| a.is_finite() && *a > -slack && *a < total + slack)
            {
                a
            } else {
                self.by_geos.fetch_add(1, Ordering::Relaxed);
                geos_area(&self.level.regions[i].geometry, mp).map_err(|e| {
                    bad(format!(
                        "intersection with {}: {e}",
                        self.level.regions[i].code
                    ))
                })?
            };
            if a > AREA_NOISE_M2 {
                parts.push((
                    self.level.level,
                    self.level.regions[i].code.clone(),
                    a.min(total) / total,
                ));
            }
        }
        if parts.is_empty() {
            return Err((
                RejectReason::OutsideAllRegions,
                format!(
                    "polygon of {:.4} km² lies outside every region",
                    total / 1e6
                ),
            ));
        }
        let inside: f64 = parts.iter().map(|p| p.2).sum();
        // Shares below 1e-9 of the polygon are floating-point noise of the intersections.
        let outside = if 1.0 - inside > 1e-9 {
            1.0 - inside
        } else {
            0.0
        };
        let rule = format!("area: {} region(s), {:.6} outside", parts.len(), outside);
        if parts.len() == 1 && outside == 0.0 {
            let (level, code, _) = parts.remove(0);
            return Ok((Resolution::Region { level, code }, rule));
        }
        Ok((Resolution::Split { parts, outside }, rule))
    }
}

/// The area of `a ∩ b` by GEOS (through GDAL).
fn geos_area(a: &MultiPolygon<f64>, b: &MultiPolygon<f64>) -> Result<f64, gdal::errors::GdalError> {
    use gdal::vector::ToGdal;
    let ga = a.to_gdal()?;
    let gb = b.to_gdal()?;
    Ok(ga.intersection(&gb).map_or(0.0, |x| x.area()))
}
