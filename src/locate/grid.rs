//! Square-cell grids that settle most points without a polygon test: the [`Grid`] of a level
//! in EPSG:5179 (inside a [`Locator`](super::Locator)) and, in `source.rs`, the
//! [`SourceGrid`] built in an input's own CRS, saved and loaded as a [`crate::sealed`] file.

use std::collections::VecDeque;

use geo::Coord;

use super::grown_box;

mod source;

pub use source::{DENSIFY_M, GridError, SOURCE_GRID_CELLS, Settled, SourceGrid};

/// What a grid cell knows, in four bytes: a region index (wholly inside that region) or one
/// of the markers below.
pub(super) type Cell = u32;
/// A boundary crosses the cell: test exactly.
pub(super) const BOUNDARY: Cell = u32::MAX;
/// Wholly outside every region.
pub(super) const OUTSIDE: Cell = u32::MAX - 1;
/// Not yet labelled (only while building).
pub(super) const UNKNOWN: Cell = u32::MAX - 2;
/// In a [`SourceGrid`], a boundary cell refined into [`FINE`] × [`FINE`] sub-cells holds
/// `REFINED + b`, `b` the index of its block of sub-cells (region indices stay below it).
const REFINED: Cell = 1 << 31;
/// Sub-cells per side of a refined boundary cell of a [`SourceGrid`]: [`FINE`], or
/// [`COARSE_FINE`] for a level whose refined cells would take more than
/// [`FINE_BUDGET`] bytes (see `SourceGrid::new`).
pub const FINE: usize = 16;
/// Sub-cells per side of a refined cell of a level too detailed for [`FINE`].
pub const COARSE_FINE: usize = 8;
/// The most the sub-cells of one level's refined cells may take at [`FINE`], in bytes.
pub const FINE_BUDGET: usize = 64 << 20;
/// The most sub-cells a refined cell has.
const MAX_FF: usize = FINE * FINE;
/// A sub-cell's code (a [`SourceGrid`] keeps one byte per sub-cell, an index into its
/// block's palette of regions): a boundary crosses it.
const SUB_BOUNDARY: u8 = u8::MAX;
/// Sub-cell code: wholly outside every region.
const SUB_OUTSIDE: u8 = u8::MAX - 1;

/// Square cells of side `size` from the origin (`x0`, `y0`), `nx` × `ny` of them, row by row.
#[derive(Debug, PartialEq)]
pub(super) struct Grid {
    x0: f64,
    y0: f64,
    size: f64,
    nx: usize,
    ny: usize,
    /// Sub-cells per side of a refined cell ([`FINE`] or [`COARSE_FINE`]).
    sub_side: usize,
    cells: Vec<Cell>,
}

impl Grid {
    /// A grid of about `cells` square cells over the box `lo`–`hi`, every cell unlabelled.
    pub(super) fn empty(lo: Coord<f64>, hi: Coord<f64>, cells: usize) -> Option<Grid> {
        let (w, h) = (hi.x - lo.x, hi.y - lo.y);
        if !(w > 0.0 && h > 0.0 && w.is_finite() && h.is_finite()) {
            return None;
        }
        let size = (w * h / cells.max(1) as f64).sqrt();
        let nx = (w / size).ceil() as usize + 1;
        let ny = (h / size).ceil() as usize + 1;
        Some(Grid {
            x0: lo.x,
            y0: lo.y,
            size,
            nx,
            ny,
            sub_side: FINE,
            cells: vec![UNKNOWN; nx * ny],
        })
    }

    /// The cells (x0, y0, x1, y1) the bounding box of segment `a`–`b`, grown by `margin`,
    /// touches, clamped into the grid.
    fn span(
        &self,
        a: Coord<f64>,
        b: Coord<f64>,
        margin: f64,
    ) -> Option<(usize, usize, usize, usize)> {
        let (lo, hi) = grown_box(a, b, margin);
        let (x0, y0) = self.cell_of_clamped(lo)?;
        let (x1, y1) = self.cell_of_clamped(hi)?;
        Some((x0, y0, x1, y1))
    }

    /// The sub-cell of `c` in a grid of `fine` × `fine` sub-cells per cell, as global
    /// sub-cell coordinates, clamped into the grid (`None` when not finite). Monotone in each
    /// coordinate, and the sub-cell of an in-grid point is the one [`SourceGrid::classify`]
    /// looks up (the same arithmetic).
    fn fine_of_clamped(&self, c: Coord<f64>) -> Option<(usize, usize)> {
        let fx = ((c.x - self.x0) / self.size).max(0.0);
        let fy = ((c.y - self.y0) / self.size).max(0.0);
        if !(fx.is_finite() && fy.is_finite()) {
            return None;
        }
        let (x, y) = (
            (fx as usize).min(self.nx - 1),
            (fy as usize).min(self.ny - 1),
        );
        let f = self.sub_side;
        Some((x * f + sub(fx, x, f), y * f + sub(fy, y, f)))
    }

    /// Adds to `out` every sub-cell (as `y * nx * fine + x` in global sub-cell coordinates)
    /// the bounding box of segment `a`–`b`, grown by `margin`, touches.
    fn fine_within(&self, a: Coord<f64>, b: Coord<f64>, margin: f64, out: &mut Vec<u64>) {
        let (lo, hi) = grown_box(a, b, margin);
        let (Some((x0, y0)), Some((x1, y1))) = (self.fine_of_clamped(lo), self.fine_of_clamped(hi))
        else {
            return;
        };
        let row = (self.nx * self.sub_side) as u64;
        for y in y0..=y1 {
            out.extend((x0..=x1).map(|x| y as u64 * row + x as u64));
        }
    }

    /// Marks every cell the bounding box of segment `a`–`b` touches (a conservative cover).
    pub(super) fn mark(&mut self, a: Coord<f64>, b: Coord<f64>) {
        if let Some((x0, y0, x1, y1)) = self.span(a, b, 0.0) {
            for cy in y0..=y1 {
                self.cells[cy * self.nx + x0..=cy * self.nx + x1].fill(BOUNDARY);
            }
        }
    }

    /// The cell of `c`, clamped into the grid (`None` when not finite).
    fn cell_of_clamped(&self, c: Coord<f64>) -> Option<(usize, usize)> {
        let fx = ((c.x - self.x0) / self.size).max(0.0);
        let fy = ((c.y - self.y0) / self.size).max(0.0);
        if !(fx.is_finite() && fy.is_finite()) {
            return None;
        }
        Some((
            (fx as usize).min(self.nx - 1),
            (fy as usize).min(self.ny - 1),
        ))
    }

    /// Flood-fills the boundary-free components, labelling each with one exact test of a cell
    /// centre: `label` gives the region holding a point, or `None` outside all.
    pub(super) fn fill(&mut self, mut label: impl FnMut(Coord<f64>) -> Option<usize>) {
        let (nx, ny, size) = (self.nx, self.ny, self.size);
        let mut queue = VecDeque::new();
        for start in 0..self.cells.len() {
            if self.cells[start] != UNKNOWN {
                continue;
            }
            let (sx, sy) = (start % nx, start / nx);
            let centre = Coord {
                x: self.x0 + (sx as f64 + 0.5) * size,
                y: self.y0 + (sy as f64 + 0.5) * size,
            };
            let value = match label(centre) {
                Some(i) => i as Cell,
                None => OUTSIDE,
            };
            self.cells[start] = value;
            queue.push_back(start);
            while let Some(k) = queue.pop_front() {
                neighbours(k, nx, ny, |nk| {
                    if self.cells[nk] == UNKNOWN {
                        self.cells[nk] = value;
                        queue.push_back(nk);
                    }
                });
            }
        }
    }

    /// How many cells hold a sub-cell of `touched` (global sub-cell keys).
    fn cells_of(&self, touched: &[u64]) -> usize {
        let (nx, f) = (self.nx, self.sub_side);
        let row = (nx * f) as u64;
        let mut seen = vec![false; self.cells.len()];
        let mut n = 0;
        for &key in touched {
            let (fx, fy) = ((key % row) as usize, (key / row) as usize);
            let k = (fy / f) * nx + fx / f;
            if !seen[k] {
                seen[k] = true;
                n += 1;
            }
        }
        n
    }

    /// The keys of `touched` (global sub-cell keys at [`FINE`] per side) at [`COARSE_FINE`]
    /// per side, ascending, and the grid's sub-cells made that size: each sub-cell halved,
    /// exactly the sub-cell [`sub`] gives at [`COARSE_FINE`] (so the cover stays conservative).
    fn coarsen(&mut self, touched: &[u64]) -> Vec<u64> {
        let ratio = (FINE / COARSE_FINE) as u64;
        let (row, coarse_row) = ((self.nx * FINE) as u64, (self.nx * COARSE_FINE) as u64);
        let mut keys: Vec<u64> = touched
            .iter()
            .map(|&k| (k / row / ratio) * coarse_row + (k % row) / ratio)
            .collect();
        keys.sort_unstable();
        keys.dedup();
        self.sub_side = COARSE_FINE;
        keys
    }

    /// Marks the cells holding a touched sub-cell (`touched_fine`, ascending global sub-cell
    /// keys) as refined blocks, numbered in ascending cell order, and returns the blocks' cells
    /// and their sub-cells, [`SUB_BOUNDARY`] where touched.
    fn refine(&mut self, touched_fine: &[u64]) -> Result<(Vec<u32>, Vec<u8>), GridError> {
        // A cell is a boundary cell exactly when one of its sub-cells is (the same monotone
        // arithmetic).
        let (nx, f) = (self.nx, self.sub_side);
        let row = (nx * f) as u64;
        let coarse = |key: u64| {
            let (fx, fy) = ((key % row) as usize, (key / row) as usize);
            (fy / f) * nx + fx / f
        };
        let mut blocks: Vec<u32> = touched_fine.iter().map(|&k| coarse(k) as u32).collect();
        blocks.sort_unstable();
        blocks.dedup();
        if blocks.len() as u64 >= u64::from(UNKNOWN - REFINED) {
            return Err(GridError::Size {
                nx: self.nx,
                ny: self.ny,
            });
        }
        for (b, &k) in blocks.iter().enumerate() {
            self.cells[k as usize] = REFINED + b as Cell;
        }
        let mut fine = vec![0u8; blocks.len() * f * f];
        for &key in touched_fine {
            let b = (self.cells[coarse(key)] - REFINED) as usize;
            let (fx, fy) = ((key % row) as usize, (key / row) as usize);
            fine[b * f * f + (fy % f) * f + fx % f] = SUB_BOUNDARY;
        }
        Ok((blocks, fine))
    }

    /// Labels the boundary-free sub-cells of the refined cell `k` (`sub`, `fine`² of them,
    /// row by row), component by component: with the label of a boundary-free cell the
    /// component borders (their union is connected and free of boundaries, so in one region
    /// or outside all), else with `label` of the centre of one of its sub-cells.
    fn fill_block<E>(
        &self,
        k: usize,
        sub: &mut [Cell],
        label: impl Fn(Coord<f64>) -> Result<Cell, E>,
    ) -> Result<(), E> {
        let (cx, cy) = (k % self.nx, k / self.nx);
        // The cell beyond each side (left, right, below, above), when labelled.
        let free = |x: Option<usize>, y: Option<usize>| match (x, y) {
            (Some(x), Some(y)) if x < self.nx && y < self.ny => {
                let v = self.cells[y * self.nx + x];
                (v < REFINED || v == OUTSIDE).then_some(v)
            }
            _ => None,
        };
        let sides = [
            free(cx.checked_sub(1), Some(cy)),
            free(Some(cx + 1), Some(cy)),
            free(Some(cx), cy.checked_sub(1)),
            free(Some(cx), Some(cy + 1)),
        ];
        // Marks the sub-cells of the component being collected.
        const COLLECTING: Cell = u32::MAX - 3;
        let f = self.sub_side;
        let mut stack = [0usize; MAX_FF];
        let mut members = [0usize; MAX_FF];
        for start in 0..sub.len() {
            if sub[start] != UNKNOWN {
                continue;
            }
            // Collect the component (BOUNDARY marks the component being collected).
            let (mut top, mut n) = (1, 0);
            stack[0] = start;
            sub[start] = COLLECTING;
            let mut value = None;
            while top > 0 {
                top -= 1;
                let s = stack[top];
                members[n] = s;
                n += 1;
                let (x, y) = (s % f, s / f);
                let edge = [x == 0, x + 1 == f, y == 0, y + 1 == f];
                for (side, &on) in edge.iter().enumerate() {
                    if on && value.is_none() {
                        value = sides[side];
                    }
                }
                neighbours(s, f, f, |t| {
                    if sub[t] == UNKNOWN {
                        sub[t] = COLLECTING;
                        stack[top] = t;
                        top += 1;
                    }
                });
            }
            let value = match value {
                Some(v) => v,
                None => {
                    let w = 1.0 / f as f64;
                    label(Coord {
                        x: self.x0 + (cx as f64 + ((start % f) as f64 + 0.5) * w) * self.size,
                        y: self.y0 + (cy as f64 + ((start / f) as f64 + 0.5) * w) * self.size,
                    })?
                }
            };
            for &s in &members[..n] {
                sub[s] = value;
            }
        }
        Ok(())
    }

    pub(super) fn get(&self, c: Coord<f64>) -> Option<Cell> {
        self.cell_of(c).map(|(x, y)| self.cells[y * self.nx + x])
    }

    fn cell_of(&self, c: Coord<f64>) -> Option<(usize, usize)> {
        let fx = (c.x - self.x0) / self.size;
        let fy = (c.y - self.y0) / self.size;
        if !(fx >= 0.0 && fy >= 0.0) {
            return None;
        }
        let (x, y) = (fx as usize, fy as usize);
        (x < self.nx && y < self.ny).then_some((x, y))
    }
}

/// Calls `visit` with each of the four neighbours (left, right, below, above) of cell `k` in
/// a row-major `nx` × `ny` grid that lie inside it.
fn neighbours(k: usize, nx: usize, ny: usize, mut visit: impl FnMut(usize)) {
    let (x, y) = (k % nx, k / nx);
    if x > 0 {
        visit(k - 1);
    }
    if x + 1 < nx {
        visit(k + 1);
    }
    if y > 0 {
        visit(k - nx);
    }
    if y + 1 < ny {
        visit(k + nx);
    }
}

/// The sub-cell (0..fine) along one axis of fractional cell coordinate `f` in cell `i`
/// (`f - i` is exact: it only drops the integer part; so is the product by `fine`, a power
/// of two, and the sub-cell at [`COARSE_FINE`] is the one at [`FINE`] halved).
fn sub(f: f64, i: usize, fine: usize) -> usize {
    (((f - i as f64) * fine as f64).max(0.0) as usize).min(fine - 1)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Coarsening the sub-cells a segment's box touches at [`FINE`] gives exactly the
    /// sub-cells it touches at [`COARSE_FINE`]: halving a sub-cell index is the sub-cell at
    /// half the resolution, on every side of the grid and beyond it (clamped).
    #[test]
    fn coarsened_sub_cells_are_the_coarse_sub_cells() {
        let c = |x: f64, y: f64| Coord { x, y };
        let lo = c(0.0, 0.0);
        let hi = c(10.0, 7.0);
        let segments = [
            (c(0.3, 0.2), c(9.7, 6.9)),
            (c(-1.0, 3.3), c(2.45, 3.3)),
            (c(5.0, -2.0), c(5.0, 9.0)),
            (c(7.123, 1.001), c(7.124, 1.002)),
            (c(11.0, 8.0), c(12.0, 9.0)),
            (c(0.0, 0.0), c(0.0625, 0.0625)),
        ];
        for (a, b) in segments {
            let mut fine = Grid::empty(lo, hi, 70).unwrap();
            let mut keys = Vec::new();
            fine.fine_within(a, b, 1e-3, &mut keys);
            keys.sort_unstable();
            keys.dedup();
            let halved = fine.coarsen(&keys);
            assert_eq!(fine.sub_side, COARSE_FINE);
            let mut coarse = Grid::empty(lo, hi, 70).unwrap();
            coarse.sub_side = COARSE_FINE;
            let mut want = Vec::new();
            coarse.fine_within(a, b, 1e-3, &mut want);
            want.sort_unstable();
            want.dedup();
            assert!(!want.is_empty());
            assert_eq!(halved, want, "segment {a:?} {b:?}");
        }
    }
}
