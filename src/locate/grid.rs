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
/// Sub-cells per side of a refined boundary cell of a [`SourceGrid`].
pub const FINE: usize = 8;
/// Sub-cells of a refined cell.
const FF: usize = FINE * FINE;
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

    /// The sub-cell of `c` in a grid of [`FINE`] × [`FINE`] sub-cells per cell, as global
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
        Some((x * FINE + sub(fx, x), y * FINE + sub(fy, y)))
    }

    /// Adds to `out` every sub-cell (as `y * nx * FINE + x` in global sub-cell coordinates)
    /// the bounding box of segment `a`–`b`, grown by `margin`, touches.
    fn fine_within(&self, a: Coord<f64>, b: Coord<f64>, margin: f64, out: &mut Vec<u64>) {
        let (lo, hi) = grown_box(a, b, margin);
        let (Some((x0, y0)), Some((x1, y1))) = (self.fine_of_clamped(lo), self.fine_of_clamped(hi))
        else {
            return;
        };
        let row = (self.nx * FINE) as u64;
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

    /// Marks the cells holding a touched sub-cell (`touched_fine`, ascending global sub-cell
    /// keys) as refined blocks, numbered in ascending cell order, and returns the blocks' cells
    /// and their sub-cells, [`SUB_BOUNDARY`] where touched.
    fn refine(&mut self, touched_fine: &[u64]) -> Result<(Vec<u32>, Vec<u8>), GridError> {
        // A cell is a boundary cell exactly when one of its sub-cells is (the same monotone
        // arithmetic).
        let row = (self.nx * FINE) as u64;
        let nx = self.nx;
        let coarse = |key: u64| {
            let (fx, fy) = ((key % row) as usize, (key / row) as usize);
            (fy / FINE) * nx + fx / FINE
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
        let mut fine = vec![0u8; blocks.len() * FF];
        for &key in touched_fine {
            let b = (self.cells[coarse(key)] - REFINED) as usize;
            let (fx, fy) = ((key % row) as usize, (key / row) as usize);
            fine[b * FF + (fy % FINE) * FINE + fx % FINE] = SUB_BOUNDARY;
        }
        Ok((blocks, fine))
    }

    /// Labels the boundary-free sub-cells of the refined cell `k` (`sub`, [`FINE`]² of them,
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
        let mut stack = [0usize; FF];
        let mut members = [0usize; FF];
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
                let (x, y) = (s % FINE, s / FINE);
                let edge = [x == 0, x + 1 == FINE, y == 0, y + 1 == FINE];
                for (side, &on) in edge.iter().enumerate() {
                    if on && value.is_none() {
                        value = sides[side];
                    }
                }
                neighbours(s, FINE, FINE, |t| {
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
                    let f = 1.0 / FINE as f64;
                    label(Coord {
                        x: self.x0 + (cx as f64 + ((start % FINE) as f64 + 0.5) * f) * self.size,
                        y: self.y0 + (cy as f64 + ((start / FINE) as f64 + 0.5) * f) * self.size,
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

/// The sub-cell (0..FINE) along one axis of fractional cell coordinate `f` in cell `i`
/// (`f - i` is exact: it only drops the integer part).
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

fn sub(f: f64, i: usize) -> usize {
    (((f - i as f64) * FINE as f64).max(0.0) as usize).min(FINE - 1)
}
