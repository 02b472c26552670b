//! The folder thread: located chunks summed, in order, into per-region accumulators.

use std::time::{Duration, Instant};

use geo::{Coord, Point};

use super::rows::Chunk;
use super::{LISTED_REJECTS, Locators, MISS, NO_PERIOD, NO_PROGRAM, OUT_ALL, Streamed};
use crate::aggregate::RegionTotals;
use crate::config::Period;
use crate::crs::{CrsError, WORK_CRS};
use crate::model::{FundingSource, Reject, RejectReason};
/// A chunk's location, as [`Fold::locate`] leaves it for [`Fold::fold`].
pub(super) struct Located {
    /// Level (high byte) and region of each point, or `MISS` / `OUT_ALL`.
    pub(super) hits: Vec<u32>,
    /// The points the grids did not settle, ascending, and their EPSG:5179 coordinates.
    pub(super) todo: Vec<usize>,
    pub(super) work: Vec<Coord<f64>>,
    /// Time settling by grid, reprojecting, locating exactly.
    pub(super) times: [Duration; 3],
}

/// Per-region sums of the located points, by locator and region index.
pub(super) struct Fold {
    pub(super) levels: Vec<Vec<Acc>>,
    /// Points not settled by the source-CRS grid (reprojected and tested exactly).
    pub(super) unsettled: u64,
    /// Time settling by grid, reprojecting, locating exactly, folding.
    pub(super) times: [Duration; 4],
}

#[derive(Default, Clone)]
pub(super) struct Acc {
    pub(super) count: u64,
    pub(super) amount: i128,
    /// (amount, count) by funding source, programme id and period.
    pub(super) funding: [(i128, u64); 4],
    pub(super) program: Vec<(i128, u64)>,
    pub(super) period: Vec<(i128, u64)>,
    /// (amount, count) of national-programme money by period.
    pub(super) program_period: Vec<(i128, u64)>,
}

impl Fold {
    pub(super) fn new(locators: &Locators<'_>) -> Fold {
        Fold {
            levels: locators
                .iter()
                .map(|(_, l)| vec![Acc::default(); l.regions.regions.len()])
                .collect(),
            unsettled: 0,
            times: [Duration::ZERO; 4],
        }
    }

    /// Folds a located chunk into the per-region totals and lists its rejects, in row order.
    ///
    /// # Errors
    /// No transformation from `crs` to EPSG:5179 (for the detail of a point outside).
    pub(super) fn fold(
        &mut self,
        index: usize,
        chunk: &Chunk,
        located: Located,
        crs: &str,
        out: &mut Streamed,
    ) -> Result<(), CrsError> {
        let t3 = Instant::now();
        let Located {
            hits,
            todo,
            work,
            times,
        } = located;
        self.unsettled += todo.len() as u64;
        for (total, t) in self.times.iter_mut().zip(times) {
            *total += t;
        }
        let mut unsettled = todo.iter().zip(&work).peekable();
        let mut unlisted_outside = (0u64, 0i128);
        // Reader rejects and location rejects, merged in row order.
        let mut reader_rejects = chunk.rejects.iter().peekable();
        for (i, &hit) in hits.iter().enumerate() {
            while let Some(r) = reader_rejects.next_if(|r| r.row < chunk.rows[i]) {
                reject_into(out, r.clone());
            }
            let amount = chunk.amount[i];
            if hit == OUT_ALL && out.rejects.len() >= LISTED_REJECTS {
                // Counted, not listed: no coordinates or text needed.
                let a = i128::from(amount);
                out.read_krw += a;
                unlisted_outside.0 += 1;
                unlisted_outside.1 += a;
                continue;
            }
            if hit == MISS || hit == OUT_ALL {
                let c = if hit == OUT_ALL {
                    let mut one = [chunk.xy[i]];
                    crate::crs::reproject(crs, WORK_CRS, &mut one)?;
                    one[0]
                } else {
                    loop {
                        match unsettled.next() {
                            Some((&k, c)) if k == i => break *c,
                            Some(_) => continue,
                            None => break chunk.xy[i],
                        }
                    }
                };
                let detail = if c.x.is_finite() {
                    format!(
                        "point ({:.1}, {:.1}) EPSG:5179 is outside every region",
                        c.x, c.y
                    )
                } else {
                    "PROJ could not transform the coordinates into EPSG:5179".to_string()
                };
                let reason = if c.x.is_finite() {
                    RejectReason::OutsideAllRegions
                } else {
                    RejectReason::CoordinateInvalid
                };
                reject_into(
                    out,
                    Reject {
                        input: index,
                        row: chunk.rows[i],
                        record_id: chunk.id(i),
                        reason,
                        detail,
                        amount_krw: Some(amount),
                        point: c.x.is_finite().then_some(Point(c)),
                    },
                );
                continue;
            }
            let acc = &mut self.levels[(hit >> 24) as usize][(hit & 0xFF_FFFF) as usize];
            let a = i128::from(amount);
            acc.count += 1;
            acc.amount += a;
            let f = &mut acc.funding[chunk.funding[i] as usize];
            f.0 += a;
            f.1 += 1;
            if chunk.program[i] != NO_PROGRAM {
                add_at(&mut acc.program, chunk.program[i] as usize, a);
            }
            if chunk.period[i] != NO_PERIOD {
                add_at(&mut acc.period, usize::from(chunk.period[i]), a);
                if FundingSource::ALL.get(usize::from(chunk.funding[i]))
                    == Some(&FundingSource::NationalProgram)
                {
                    add_at(&mut acc.program_period, usize::from(chunk.period[i]), a);
                }
            }
            out.assigned_count += 1;
            out.assigned_krw += a;
            out.read_krw += a;
        }
        for r in reader_rejects {
            reject_into(out, r.clone());
        }
        if unlisted_outside.0 > 0 {
            let e = out
                .unlisted
                .entry(RejectReason::OutsideAllRegions)
                .or_default();
            e.0 += unlisted_outside.0;
            e.1 += unlisted_outside.1;
        }
        self.times[3] += t3.elapsed();
        Ok(())
    }

    /// The totals of every region with points, as the materialising path builds them: an
    /// entry per funding source, programme and period a point of the region had.
    pub(super) fn finish(
        self,
        locators: &Locators<'_>,
        programs: &[String],
        periods: &[Period],
    ) -> Vec<(usize, usize, RegionTotals)> {
        let mut out = Vec::new();
        for ((level, _), accs) in locators.iter().zip(self.levels) {
            for (ri, acc) in accs.into_iter().enumerate() {
                if acc.count == 0 {
                    continue;
                }
                let mut t = RegionTotals {
                    amount_krw: acc.amount,
                    record_count: acc.count,
                    ..RegionTotals::default()
                };
                for (f, (a, n)) in FundingSource::ALL.iter().zip(acc.funding) {
                    if n > 0 {
                        t.by_funding.insert(*f, a);
                    }
                }
                for (p, (a, n)) in programs.iter().zip(acc.program) {
                    if n > 0 {
                        t.by_program.insert(p.clone(), a);
                    }
                }
                for (p, (a, n)) in periods.iter().zip(acc.period) {
                    if n > 0 {
                        t.by_period.insert(p.label.clone(), a);
                    }
                }
                for (p, (a, n)) in periods.iter().zip(acc.program_period) {
                    if n > 0 {
                        t.program_by_period.insert(p.label.clone(), a);
                    }
                }
                out.push((*level, ri, t));
            }
        }
        out
    }
}

/// Adds `amount` and one record at slot `k` (ids are dense: the vector grows to hold it).
pub(super) fn add_at(slots: &mut Vec<(i128, u64)>, k: usize, amount: i128) {
    if slots.len() <= k {
        slots.resize(k + 1, (0, 0));
    }
    slots[k].0 += amount;
    slots[k].1 += 1;
}

pub(super) fn reject_into(out: &mut Streamed, r: Reject) {
    let amount = i128::from(r.amount_krw.unwrap_or(0));
    out.read_krw += amount;
    if out.rejects.len() < LISTED_REJECTS {
        out.rejects.push(r);
    } else {
        let e = out.unlisted.entry(r.reason).or_default();
        e.0 += 1;
        e.1 += amount;
    }
}
