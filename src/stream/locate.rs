//! Locating a chunk: grid lookups in the input's CRS first, then reprojection and the exact
//! point-in-polygon test in Morton order for the points the grids leave open.

use std::time::Instant;

use geo::Coord;

use super::fold::{Fold, Located};
use super::rows::Chunk;
use super::{Locators, MISS, OUT_ALL, UNSETTLED};
use crate::crs::{CrsError, WORK_CRS};
use crate::locate::{Settled, SourceGrid};
impl Fold {
    /// Locates a chunk, on the calling thread (chunks are located side by side, one per
    /// thread: see [`super::run`]). Points whose source-CRS grid cell settles them need
    /// nothing more; the rest are reprojected into EPSG:5179 and located exactly, finest level
    /// first.
    ///
    /// # Errors
    /// No transformation from `crs` to EPSG:5179.
    pub(super) fn locate(
        chunk: &Chunk,
        crs: &str,
        grids: &[SourceGrid],
        locators: &Locators<'_>,
    ) -> Result<Located, CrsError> {
        // Finest level first; a cell outside every region of a level passes the point on to
        // the next coarser level, as the exact chain does.
        let t0 = Instant::now();
        // The levels after the `from`-th, for a point the finer grids put outside.
        let coarser = |c: Coord<f64>, from: usize| {
            for (k, g) in grids.iter().enumerate().skip(from) {
                match g.classify(c) {
                    Settled::In(i) => return ((k as u32) << 24) | i as u32,
                    Settled::Out => continue,
                    Settled::Unsure => return UNSETTLED,
                }
            }
            if grids.len() == locators.len() {
                OUT_ALL
            } else {
                UNSETTLED
            }
        };
        let mut hits = vec![UNSETTLED; chunk.xy.len()];
        match grids.first() {
            None => {
                for (h, c) in hits.iter_mut().zip(&chunk.xy) {
                    *h = coarser(*c, 0);
                }
            }
            Some(finest) => {
                // The finest level's grid in batches (`classify_all`), then the coarser
                // ones point by point for the few it puts outside. The answers go through a
                // buffer on the stack.
                let mut buf = [Settled::Unsure; 256];
                for (hits, xy) in hits.chunks_mut(buf.len()).zip(chunk.xy.chunks(buf.len())) {
                    let settled = &mut buf[..xy.len()];
                    finest.classify_all(xy, settled);
                    for ((h, c), s) in hits.iter_mut().zip(xy).zip(settled.iter()) {
                        *h = match *s {
                            Settled::In(i) => i as u32,
                            Settled::Unsure => UNSETTLED,
                            Settled::Out => coarser(*c, 1),
                        };
                    }
                }
            }
        }
        let t1 = Instant::now();
        let todo: Vec<usize> = (0..hits.len()).filter(|&i| hits[i] == UNSETTLED).collect();
        let mut work: Vec<Coord<f64>> = todo.iter().map(|&i| chunk.xy[i]).collect();
        // In parts of 1,024, as before: PROJ transforms a part whole, or point by point
        // when one of its points fails.
        work.chunks_mut(1024)
            .try_for_each(|part| crate::crs::reproject(crs, WORK_CRS, part))?;
        let t2 = Instant::now();
        // Located in Morton (Z) order of their coordinates: neighbouring points test the same
        // regions' edges one after another, while those are still in cache.
        let order = z_order(&work);
        let located: Vec<u32> = order
            .iter()
            .map(|&j| {
                let c = work[j as usize];
                if !(c.x.is_finite() && c.y.is_finite()) {
                    return MISS;
                }
                locators
                    .iter()
                    .enumerate()
                    .find_map(|(k, (_, loc))| loc.locate(c).map(|i| ((k as u32) << 24) | i as u32))
                    .unwrap_or(MISS)
            })
            .collect();
        for (&j, &h) in order.iter().zip(&located) {
            hits[todo[j as usize]] = h;
        }
        Ok(Located {
            hits,
            todo,
            work,
            times: [t1 - t0, t2 - t1, t2.elapsed()],
        })
    }
}

/// The indices of `cs` in Morton (Z) order of their coordinates, quantised to 16 bits each over
/// their finite extent (non-finite ones last).
pub(super) fn z_order(cs: &[Coord<f64>]) -> Vec<u32> {
    let (mut lo, mut hi) = crate::locate::NO_BOUNDS;
    for c in cs.iter().filter(|c| c.x.is_finite() && c.y.is_finite()) {
        lo.x = lo.x.min(c.x);
        lo.y = lo.y.min(c.y);
        hi.x = hi.x.max(c.x);
        hi.y = hi.y.max(c.y);
    }
    let (sx, sy) = (
        65535.0 / (hi.x - lo.x).max(f64::MIN_POSITIVE),
        65535.0 / (hi.y - lo.y).max(f64::MIN_POSITIVE),
    );
    // Spreads the 16 bits of v over the even bits of a u32.
    let spread = |v: u32| {
        let mut v = v & 0xFFFF;
        v = (v | (v << 8)) & 0x00FF_00FF;
        v = (v | (v << 4)) & 0x0F0F_0F0F;
        v = (v | (v << 2)) & 0x3333_3333;
        (v | (v << 1)) & 0x5555_5555
    };
    let mut keyed: Vec<(u64, u32)> = cs
        .iter()
        .enumerate()
        .map(|(j, c)| {
            let key = if c.x.is_finite() && c.y.is_finite() {
                let qx = ((c.x - lo.x) * sx) as u32;
                let qy = ((c.y - lo.y) * sy) as u32;
                u64::from(spread(qx) | (spread(qy) << 1))
            } else {
                u64::MAX
            };
            (key, j as u32)
        })
        .collect();
    keyed.sort_unstable();
    keyed.into_iter().map(|(_, j)| j).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn z_order_is_a_permutation_in_quadrant_order_with_non_finite_last() {
        let c = |x: f64, y: f64| Coord { x, y };
        // Quadrants of the extent: lower-left, lower-right, upper-left, upper-right.
        let cs = [
            c(9.0, 9.0),
            c(f64::NAN, 1.0),
            c(1.0, 9.0),
            c(9.0, 1.0),
            c(1.0, 1.0),
            c(0.0, 0.0),
        ];
        let order = z_order(&cs);
        assert_eq!(order, [5, 4, 3, 2, 0, 1]);
        let mut sorted = order.clone();
        sorted.sort_unstable();
        assert_eq!(sorted, (0..cs.len() as u32).collect::<Vec<_>>());
        assert!(z_order(&[]).is_empty());
        assert_eq!(z_order(&[c(3.0, 3.0), c(3.0, 3.0)]), [0, 1]);
    }
}
