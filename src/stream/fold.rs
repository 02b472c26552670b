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
    pub(super) levels: Vec<Accs>,
    /// Points not settled by the source-CRS grid (reprojected and tested exactly).
    pub(super) unsettled: u64,
    /// Time settling by grid, reprojecting, locating exactly, folding.
    pub(super) times: [Duration; 4],
}

/// (amount, count) sums of one level's regions, each region's in one run of `stride` slots:
/// the region's total, then by funding source, programme id, period, and national-programme
/// money by period. A point adds to three or four slots of one run, a few neighbouring cache
/// lines, rather than following a region's vectors of programmes and periods to the heap (on
/// 15,188 리 the fold was one miss into the region and another into its programme vector per
/// point).
pub(super) struct Accs {
    /// Programme and period slots per region (grown, and the runs laid out again, when a
    /// higher id or period is met).
    programs: usize,
    periods: usize,
    slots: Vec<(i128, u64)>,
}

/// Slots before a region's programmes: its total and the four funding sources.
const HEAD: usize = 1 + FundingSource::ALL.len();

impl Accs {
    fn new(regions: usize) -> Accs {
        Accs {
            programs: 0,
            periods: 0,
            slots: vec![(0, 0); regions * HEAD],
        }
    }

    fn stride(&self) -> usize {
        HEAD + self.programs + 2 * self.periods
    }

    fn regions(&self) -> usize {
        self.slots.len() / self.stride()
    }

    /// Room for programme `program` and period `period` (`None`: no slot needed).
    fn hold(&mut self, program: Option<usize>, period: Option<usize>) {
        let programs = program.map_or(self.programs, |p| self.programs.max(p + 1));
        let periods = period.map_or(self.periods, |q| self.periods.max(q + 1));
        if programs == self.programs && periods == self.periods {
            return;
        }
        // Room to spare, so that ids met one by one do not lay the runs out each time.
        let programs = if programs > self.programs {
            programs.max(2 * self.programs).max(8)
        } else {
            programs
        };
        let mut grown = Accs {
            programs,
            periods,
            slots: vec![(0, 0); self.regions() * (HEAD + programs + 2 * periods)],
        };
        let (old, new) = (self.stride(), grown.stride());
        for (from, to) in self.slots.chunks(old).zip(grown.slots.chunks_mut(new)) {
            let (p, q) = (self.programs, self.periods);
            to[..HEAD + p].copy_from_slice(&from[..HEAD + p]);
            to[HEAD + programs..HEAD + programs + q].copy_from_slice(&from[HEAD + p..HEAD + p + q]);
            to[HEAD + programs + periods..HEAD + programs + periods + q]
                .copy_from_slice(&from[HEAD + p + q..]);
        }
        *self = grown;
    }

    /// One point of `amount` in region `r`, of funding source `funding` (its index in
    /// [`FundingSource::ALL`]), programme and period.
    fn add(
        &mut self,
        r: usize,
        funding: usize,
        program: Option<usize>,
        period: Option<usize>,
        amount: i128,
    ) {
        if program.is_some_and(|p| p >= self.programs) || period.is_some_and(|q| q >= self.periods)
        {
            self.hold(program, period);
        }
        let (programs, periods, s) = (self.programs, self.periods, self.stride());
        let run = &mut self.slots[r * s..(r + 1) * s];
        add_at(run, 0, amount);
        add_at(run, 1 + funding, amount);
        if let Some(p) = program {
            add_at(run, HEAD + p, amount);
        }
        if let Some(q) = period {
            add_at(run, HEAD + programs + q, amount);
            if FundingSource::ALL.get(funding) == Some(&FundingSource::NationalProgram) {
                add_at(run, HEAD + programs + periods + q, amount);
            }
        }
    }

    /// The run of region `r`.
    fn run(&self, r: usize) -> &[(i128, u64)] {
        let s = self.stride();
        &self.slots[r * s..(r + 1) * s]
    }
}

impl Fold {
    pub(super) fn new(locators: &Locators<'_>) -> Fold {
        Fold {
            levels: locators
                .iter()
                .map(|(_, l)| Accs::new(l.regions.regions.len()))
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
            let program = (chunk.program[i] != NO_PROGRAM).then_some(chunk.program[i] as usize);
            let period = (chunk.period[i] != NO_PERIOD).then_some(usize::from(chunk.period[i]));
            let a = i128::from(amount);
            self.levels[(hit >> 24) as usize].add(
                (hit & 0xFF_FFFF) as usize,
                usize::from(chunk.funding[i]),
                program,
                period,
                a,
            );
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
            let (np, nq) = (accs.programs, accs.periods);
            for ri in 0..accs.regions() {
                let run = accs.run(ri);
                let (amount, count) = run[0];
                if count == 0 {
                    continue;
                }
                let mut t = RegionTotals {
                    amount_krw: amount,
                    record_count: count,
                    ..RegionTotals::default()
                };
                let funding = &run[1..HEAD];
                let program = &run[HEAD..HEAD + np];
                let period = &run[HEAD + np..HEAD + np + nq];
                let program_period = &run[HEAD + np + nq..];
                for (f, &(a, n)) in FundingSource::ALL.iter().zip(funding) {
                    if n > 0 {
                        t.by_funding.insert(*f, a);
                    }
                }
                for (p, &(a, n)) in programs.iter().zip(program) {
                    if n > 0 {
                        t.by_program.insert(p.clone(), a);
                    }
                }
                for (p, &(a, n)) in periods.iter().zip(period) {
                    if n > 0 {
                        t.by_period.insert(p.label.clone(), a);
                    }
                }
                for (p, &(a, n)) in periods.iter().zip(program_period) {
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

/// Adds `amount` and one record at slot `k`.
pub(super) fn add_at(slots: &mut [(i128, u64)], k: usize, amount: i128) {
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn region_sums_survive_the_runs_being_laid_out_again() {
        let mut a = Accs::new(3);
        // Region 1: national programme money (funding 0) with no programme or period, then
        // programme 0 in period 1 (the first layout with programmes and periods), then
        // programme 9 (laid out again, programmes 0..16) by local money (funding 2) in period 3
        // (periods 0..4); region 2 once with neither.
        a.add(1, 0, None, None, 5);
        a.add(1, 0, Some(0), Some(1), 7);
        a.add(1, 2, Some(9), Some(3), 11);
        a.add(1, 0, Some(0), Some(3), 13);
        a.add(2, 3, None, None, 1);
        assert_eq!((a.programs, a.periods), (16, 4));
        assert_eq!(a.regions(), 3);
        assert!(a.run(0).iter().all(|&s| s == (0, 0)));
        let r = a.run(1);
        assert_eq!(r[0], (36, 4));
        assert_eq!(&r[1..HEAD], [(25, 3), (0, 0), (11, 1), (0, 0)]);
        let programs = &r[HEAD..HEAD + 16];
        assert_eq!((programs[0], programs[9]), ((20, 2), (11, 1)));
        assert_eq!(programs.iter().map(|p| p.1).sum::<u64>(), 3);
        let periods = &r[HEAD + 16..HEAD + 20];
        assert_eq!(periods, [(0, 0), (7, 1), (0, 0), (24, 2)]);
        // National-programme money by period: 7 in period 1, 13 in period 3 (not the 11).
        assert_eq!(&r[HEAD + 20..], [(0, 0), (7, 1), (0, 0), (13, 1)]);
        assert_eq!(a.run(2)[0], (1, 1));
        assert_eq!(a.run(2)[HEAD - 1], (1, 1));
    }
}
