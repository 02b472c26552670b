//! Records located by point: the region holding the point under the edge rule, at the finest
//! level, else at a coarser level in a gap of the finer partition.

use geo::Point;

use crate::model::{Boundaries, Investment, Location, RejectReason};

use super::{Locator, Outcome, Resolution};

/// The locators of a run's point records, finest level first.
pub(super) struct Points<'a> {
    /// Empty when there are no point records or no levels.
    levels: Vec<Locator<'a>>,
}

impl<'a> Points<'a> {
    /// Locators over every level of `b` when `records` hold a point, with the acceleration
    /// grid when there are enough records to pay for it.
    pub(super) fn new(b: &'a Boundaries, records: &[Investment]) -> Points<'a> {
        let has_points = records
            .iter()
            .any(|r| matches!(r.location, Location::Point(_)));
        let Some(finest) = b.finest().filter(|_| has_points) else {
            return Points { levels: Vec::new() };
        };
        // The grid pays off from a few thousand points; below that, exact tests are cheaper.
        let cells = if records.len() > 5_000 {
            4 * finest.regions.len().max(1) * 64
        } else {
            0
        };
        let with_grid = |l| {
            let loc = Locator::new(l);
            if cells > 0 {
                loc.with_grid(crate::locate::default_cells(l))
            } else {
                loc
            }
        };
        let mut levels = vec![with_grid(finest)];
        // Coarser levels catch points in gaps of the finer partition (held at that level).
        for l in b.levels.iter().rev().skip(1) {
            levels.push(with_grid(l));
        }
        Points { levels }
    }

    /// The region holding `p` (EPSG:5179), or an `outside_all_regions` reject.
    pub(super) fn locate(&self, p: &Point<f64>) -> Outcome {
        let hit = self.levels.iter().find_map(|loc| {
            loc.locate(p.0)
                .map(|i| (loc.level, &loc.regions.regions[i]))
        });
        match hit {
            Some((level, region)) => Ok((
                Resolution::Region {
                    level,
                    code: region.code.clone(),
                },
                "point".to_string(),
            )),
            None => Err((
                RejectReason::OutsideAllRegions,
                format!(
                    "point ({:.1}, {:.1}) EPSG:5179 is outside every region",
                    p.x(),
                    p.y()
                ),
            )),
        }
    }
}
