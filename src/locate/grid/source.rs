//! The [`SourceGrid`]: a level's grid built in an input's own CRS, its boundary cells refined
//! into sub-cells, saved and loaded as a [`crate::sealed`] file.

use std::path::Path;

use geo::Coord;
use rayon::prelude::*;

use super::super::Locator;
use super::{
    BOUNDARY, COARSE_FINE, Cell, FINE, FINE_BUDGET, Grid, MAX_FF, OUTSIDE, REFINED, SUB_BOUNDARY,
    SUB_OUTSIDE, UNKNOWN, sub,
};

/// The grid of a level built in an input's own CRS, so that most points are placed without
/// being reprojected or tested exactly.
///
/// The boundaries are densified to segments of at most `DENSIFY_M` in EPSG:5179 before they
/// are reprojected, so the reprojected polyline follows the true (EPSG:5179-straight) boundary
/// to about 0.1 mm (a 100 m chord of a curve whose radius is the Earth's, ~L²/8R); every cell
/// within a margin of a thousandth of a cell (a few decimetres) of it is marked as boundary,
/// thousands of times the deviation. Each remaining component is
/// labelled by reprojecting one cell centre into EPSG:5179 and testing it exactly.
///
/// Every boundary cell is refined into `FINE` × `FINE` sub-cells (16², ~22 m; 8², ~44 m, for a
/// level whose refined cells would take more than `FINE_BUDGET` that way: 리) marked the same way
/// (issue #20: in cities, where points crowd, the fine boundaries cross a third of the cells;
/// a boundary crosses only a few of their sub-cells). A boundary-free component of sub-cells
/// takes the label of a boundary-free cell it borders, else of one exact test of its centre.
/// A sub-cell is one byte, an index into its block's palette of the few regions it holds
/// (~80 bytes a refined cell instead of 256 for four-byte sub-cells).
/// A point in a labelled cell or sub-cell therefore gets exactly the region the exact test
/// would give it; every other point is reprojected and located exactly.
#[derive(Debug, PartialEq)]
pub struct SourceGrid {
    grid: Grid,
    /// The sub-cells of the refined cells, `sub_side`² codes per block, row by row: an index
    /// into the block's palette, [`SUB_OUTSIDE`] or [`SUB_BOUNDARY`].
    fine: Vec<u8>,
    /// Where each block's palette starts in `palette` (one more than the blocks).
    palette_start: Vec<u32>,
    /// The regions of the blocks' sub-cells.
    palette: Vec<Cell>,
}

/// Header of a saved [`SourceGrid`] (format version in the last two bytes).
const GRID_MAGIC: &[u8; 8] = b"SGGRID03";

/// Why a source-CRS grid cannot be built or a saved one is not used.
#[derive(Debug, thiserror::Error)]
pub enum GridError {
    #[error(transparent)]
    Sealed(#[from] crate::sealed::SealedError),
    #[error("no such file")]
    Missing,
    #[error("not a smartgap grid of this version")]
    Format,
    #[error("implausible size {nx} × {ny}")]
    Size { nx: usize, ny: usize },
    #[error("implausible origin or cell size")]
    Origin,
    #[error("the content is shorter than it says")]
    Short,
    #[error("a cell names a region beyond the level's {regions}")]
    Region { regions: usize },
    #[error("a boundary vertex cannot be reprojected")]
    Vertex,
    #[error(transparent)]
    Crs(#[from] crate::crs::CrsError),
}

impl SourceGrid {
    /// Writes the grid to `path` as a [`crate::sealed`] file: a header, then the cells
    /// little-endian.
    pub fn save(&self, path: &Path) -> std::io::Result<()> {
        let g = &self.grid;
        let mut w = crate::sealed::Writer::create(path)?;
        w.put(GRID_MAGIC)?;
        for v in [g.x0, g.y0, g.size] {
            w.put(&v.to_le_bytes())?;
        }
        let head = [g.nx, g.ny, g.sub_side, self.blocks(), self.palette.len()];
        for v in head {
            w.put(&(v as u64).to_le_bytes())?;
        }
        let mut buf = Vec::with_capacity(1 << 20);
        for part in g.cells.chunks(1 << 18) {
            buf.clear();
            buf.extend(part.iter().flat_map(|c| c.to_le_bytes()));
            w.put(&buf)?;
        }
        w.put(&self.fine)?;
        for part in [&self.palette_start, &self.palette] {
            buf.clear();
            buf.extend(part.iter().flat_map(|c| c.to_le_bytes()));
            w.put(&buf)?;
        }
        w.finish()
    }

    /// A grid saved by [`SourceGrid::save`] for a level of `regions` regions, or why not: a
    /// file that is short, of another format, fails its checksum or names a region the level
    /// does not have is never used.
    pub fn load(path: &Path, regions: usize) -> Result<SourceGrid, GridError> {
        let mut f = crate::sealed::Reader::open(path)?.ok_or(GridError::Missing)?;
        let mut head = [0u8; 72];
        f.read(&mut head)?;
        if &head[..8] != GRID_MAGIC {
            return Err(GridError::Format);
        }
        let f64_at = |k: usize| f64::from_le_bytes(head[k..k + 8].try_into().unwrap_or([0; 8]));
        let u64_at = |k: usize| u64::from_le_bytes(head[k..k + 8].try_into().unwrap_or([0; 8]));
        let (x0, y0, size) = (f64_at(8), f64_at(16), f64_at(24));
        let (nx, ny) = (u64_at(32) as usize, u64_at(40) as usize);
        let (fine, blocks, palette) = (
            u64_at(48) as usize,
            u64_at(56) as usize,
            u64_at(64) as usize,
        );
        if fine != FINE && fine != COARSE_FINE {
            return Err(GridError::Format);
        }
        let (side, ff) = (fine, fine * fine);
        let n = nx.checked_mul(ny).filter(|&n| n > 0 && n <= 1 << 26);
        let Some(n) = n else {
            return Err(GridError::Size { nx, ny });
        };
        if blocks > n || palette > blocks * ff {
            return Err(GridError::Size { nx, ny });
        }
        if !(x0.is_finite() && y0.is_finite() && size.is_finite() && size > 0.0) {
            return Err(GridError::Origin);
        }
        if ((n + blocks + 1 + palette) * 4 + blocks * ff) as u64 > f.remaining() {
            return Err(GridError::Short);
        }
        let mut buf = vec![0u8; 1 << 20];
        let mut read_cells =
            |f: &mut crate::sealed::Reader, n: usize| -> Result<Vec<Cell>, GridError> {
                let mut cells: Vec<Cell> = Vec::with_capacity(n);
                while cells.len() < n {
                    let want = ((n - cells.len()) * 4).min(buf.len());
                    f.read(&mut buf[..want])?;
                    cells.extend(
                        buf[..want]
                            .chunks_exact(4)
                            .map(|b| u32::from_le_bytes([b[0], b[1], b[2], b[3]])),
                    );
                }
                Ok(cells)
            };
        let cells = read_cells(&mut f, n)?;
        let mut fine = vec![0u8; blocks * ff];
        for part in fine.chunks_mut(1 << 20) {
            f.read(part)?;
        }
        let palette_start = read_cells(&mut f, blocks + 1)?;
        let palette = read_cells(&mut f, palette)?;
        f.finish()?;
        let region = |c: Cell| (c as usize) < regions || c == BOUNDARY || c == OUTSIDE;
        let block = |c: Cell| (REFINED..UNKNOWN).contains(&c) && ((c - REFINED) as usize) < blocks;
        // Each block's palette within the palette, and each code within its block's palette.
        let spans = palette_start.first() == Some(&0)
            && palette_start.last().map(|&e| e as usize) == Some(palette.len())
            && palette_start.windows(2).all(|w| w[0] <= w[1]);
        // The checks fold every value without stopping early, which the compiler turns into
        // vector code: 24 MB of codes and 4 M cells are checked on every load.
        let codes = spans
            && fine.chunks(ff).zip(palette_start.windows(2)).all(|(b, w)| {
                // Each code plus two, wrapping: the two markers (254, 255) become 0 and 1, a
                // palette index i becomes i + 2, so every index is below the palette's length
                // n exactly when the largest is at most n + 1 (a byte-wise max).
                let top = b.iter().map(|&c| c.wrapping_add(2)).fold(0u8, u8::max);
                u32::from(top) <= w[1] - w[0] + 1
            });
        if !codes {
            return Err(GridError::Format);
        }
        let cells_ok = cells
            .iter()
            .fold(true, |ok, &c| ok & (region(c) || block(c)));
        if !cells_ok || !palette.iter().all(|&c| (c as usize) < regions) {
            return Err(GridError::Region { regions });
        }
        Ok(SourceGrid {
            grid: Grid {
                x0,
                y0,
                size,
                nx,
                ny,
                sub_side: side,
                cells,
            },
            fine,
            palette_start,
            palette,
        })
    }
}

/// Cells of a [`SourceGrid`]: 4 M cells of four bytes (16 MiB), about 350 m over Korea; a
/// boundary cell is refined into [`FINE`]² sub-cells of about 22 m ([`COARSE_FINE`]², ~44 m,
/// on a level too detailed for [`FINE_BUDGET`]).
pub const SOURCE_GRID_CELLS: usize = 1 << 22;

/// Longest boundary segment reprojected as a straight line when building a [`SourceGrid`].
pub const DENSIFY_M: f64 = 100.0;

impl SourceGrid {
    /// # Errors
    /// PROJ's message when `crs` cannot be transformed to or from EPSG:5179.
    pub fn new(
        loc: &Locator<'_>,
        crs: &str,
        cells: usize,
    ) -> Result<Option<SourceGrid>, GridError> {
        SourceGrid::within(loc, crs, cells, FINE_BUDGET)
    }

    /// [`SourceGrid::new`] with refined cells of 16² (`FINE`) sub-cells when they take at most
    /// `budget` bytes that way, else of 8² (`COARSE_FINE`).
    ///
    /// # Errors
    /// As [`SourceGrid::new`].
    pub fn within(
        loc: &Locator<'_>,
        crs: &str,
        cells: usize,
        budget: usize,
    ) -> Result<Option<SourceGrid>, GridError> {
        let rings: Vec<&[Coord<f64>]> = loc
            .regions
            .regions
            .iter()
            .flat_map(|r| &r.geometry.0)
            .flat_map(|p| std::iter::once(p.exterior()).chain(p.interiors()))
            .map(|ring| ring.0.as_slice())
            .collect();
        let Some((lo, hi)) = source_extent(&rings, crs)? else {
            return Ok(None);
        };
        // 1 % on each side for the curvature of long segments between the vertices.
        let pad = 0.01 * (hi.x - lo.x).max(hi.y - lo.y);
        let Some(mut grid) = Grid::empty(
            Coord {
                x: lo.x - pad,
                y: lo.y - pad,
            },
            Coord {
                x: hi.x + pad,
                y: hi.y + pad,
            },
            cells,
        ) else {
            return Ok(None);
        };
        // Sub-cells of FINE per side (~22 m), unless the level's refined cells would then
        // take more than FINE_BUDGET (리: 370 k cells at 256 bytes); then COARSE_FINE (~44 m),
        // the same touched sub-cells halved.
        let mut touched_fine = touched_sub_cells(&grid, &rings, crs)?;
        if grid.cells_of(&touched_fine) * FINE * FINE > budget {
            touched_fine = grid.coarsen(&touched_fine);
        }
        let (blocks, mut fine) = grid.refine(&touched_fine)?;
        drop(touched_fine);
        let label = |centre: Coord<f64>| -> Result<Cell, GridError> {
            let mut one = [centre];
            crate::crs::reproject(crs, crate::crs::WORK_CRS, &mut one)?;
            Ok(if one[0].x.is_finite() {
                loc.locate_exact(one[0]).map_or(OUTSIDE, |i| i as Cell)
            } else {
                OUTSIDE
            })
        };
        let mut failed = None;
        grid.fill(|centre| match label(centre) {
            Ok(v) if v == OUTSIDE => None,
            Ok(v) => Some(v as usize),
            Err(e) => {
                failed = Some(e);
                None
            }
        });
        if let Some(e) = failed {
            return Err(e);
        }
        let (palette_start, palette) = label_blocks(&grid, &blocks, &mut fine, label)?;
        Ok(Some(SourceGrid {
            grid,
            fine,
            palette_start,
            palette,
        }))
    }

    /// Sub-cells per side of a refined cell (16, or 8 on a level too detailed for that).
    pub fn sub_side(&self) -> usize {
        self.grid.sub_side
    }

    /// Refined boundary cells (blocks of sub-cells).
    pub fn blocks(&self) -> usize {
        self.palette_start.len().saturating_sub(1)
    }

    /// Whether the cell of `c` (in the grid's CRS) is a refined boundary cell.
    pub fn refined(&self, c: Coord<f64>) -> bool {
        self.grid
            .get(c)
            .is_some_and(|v| (REFINED..UNKNOWN).contains(&v))
    }

    /// The region holding `c` (in the grid's CRS) when its cell settles it; `None` when the
    /// point must be reprojected and located exactly.
    pub fn settle(&self, c: Coord<f64>) -> Option<usize> {
        match self.classify(c) {
            Settled::In(i) => Some(i),
            _ => None,
        }
    }

    /// What the cell (or, in a refined boundary cell, the sub-cell) of `c` (in the grid's CRS)
    /// says.
    pub fn classify(&self, c: Coord<f64>) -> Settled {
        let g = &self.grid;
        let fx = (c.x - g.x0) / g.size;
        let fy = (c.y - g.y0) / g.size;
        // Beyond the grid (far from every region, or not a coordinate PROJ can take): the
        // exact chain decides.
        if !(fx >= 0.0 && fy >= 0.0) {
            return Settled::Unsure;
        }
        let (x, y) = (fx as usize, fy as usize);
        if x >= g.nx || y >= g.ny {
            return Settled::Unsure;
        }
        let v = g.cells[y * g.nx + x];
        if (REFINED..UNKNOWN).contains(&v) {
            let b = (v - REFINED) as usize;
            let f = g.sub_side;
            return match self.fine[b * f * f + sub(fy, y, f) * f + sub(fx, x, f)] {
                SUB_BOUNDARY => Settled::Unsure,
                SUB_OUTSIDE => Settled::Out,
                i => Settled::In(
                    self.palette[self.palette_start[b] as usize + usize::from(i)] as usize,
                ),
            };
        }
        match v {
            v if v < REFINED => Settled::In(v as usize),
            OUTSIDE => Settled::Out,
            _ => Settled::Unsure,
        }
    }

    /// [`SourceGrid::classify`] of every point of `cs`, into `out` (as long), a batch of
    /// points at a time in three passes: their cells, then the sub-cells of those refined,
    /// then the palettes. One point's loads depend on each other, so point by point each
    /// waits for a cache miss in turn; within a pass they are independent and overlap
    /// (`classify` was ~18 % of a run's CPU on clustered points, most of it waiting).
    pub fn classify_all(&self, cs: &[Coord<f64>], out: &mut [Settled]) {
        const BATCH: usize = 32;
        let g = &self.grid;
        let (f, ff) = (g.sub_side, g.sub_side * g.sub_side);
        let refined = |v: Cell| (REFINED..UNKNOWN).contains(&v);
        for (cs, out) in cs.chunks(BATCH).zip(out.chunks_mut(BATCH)) {
            // The cells' indices first (arithmetic only; beyond the grid: an index past the
            // cells), then the loads in a loop of a few instructions a point, so that the
            // processor has most of the batch's cache misses in flight at once rather than the
            // few that fit its window beside the arithmetic (W1 on a loaded machine: settling
            // 1.23–1.54 → 0.83–1.13 s of thread time).
            let mut idx = [usize::MAX; BATCH];
            let mut at = [0u8; BATCH];
            for ((c, idx), at) in cs.iter().zip(&mut idx).zip(&mut at) {
                let fx = (c.x - g.x0) / g.size;
                let fy = (c.y - g.y0) / g.size;
                if fx >= 0.0 && fy >= 0.0 {
                    let (x, y) = (fx as usize, fy as usize);
                    if x < g.nx && y < g.ny {
                        *idx = y * g.nx + x;
                        *at = (sub(fy, y, f) * f + sub(fx, x, f)) as u8;
                    }
                }
            }
            // Beyond the grid: BOUNDARY, for the exact chain, as in `classify`.
            let mut v = [BOUNDARY; BATCH];
            for (v, &i) in v.iter_mut().zip(&idx) {
                *v = g.cells.get(i).copied().unwrap_or(BOUNDARY);
            }
            let mut code = [SUB_BOUNDARY; BATCH];
            for ((code, &v), &at) in code.iter_mut().zip(&v).zip(&at).take(cs.len()) {
                if refined(v) {
                    *code = self.fine[(v - REFINED) as usize * ff + usize::from(at)];
                }
            }
            for ((out, &v), &code) in out.iter_mut().zip(&v).zip(&code) {
                *out = match v {
                    v if v < REFINED => Settled::In(v as usize),
                    OUTSIDE => Settled::Out,
                    v if refined(v) => match code {
                        SUB_BOUNDARY => Settled::Unsure,
                        SUB_OUTSIDE => Settled::Out,
                        i => {
                            let b = (v - REFINED) as usize;
                            let k = self.palette_start[b] as usize + usize::from(i);
                            Settled::In(self.palette[k] as usize)
                        }
                    },
                    _ => Settled::Unsure,
                };
            }
        }
    }
}

/// Lower-left and upper-right corners.
type Extent = (Coord<f64>, Coord<f64>);

/// The extent of `rings` (in EPSG:5179) in `crs`: every vertex reprojected; `None` without
/// rings.
fn source_extent(rings: &[&[Coord<f64>]], crs: &str) -> Result<Option<Extent>, GridError> {
    let bbox = rings
        .par_iter()
        .map(|ring| -> Result<(Coord<f64>, Coord<f64>), GridError> {
            let mut v = ring.to_vec();
            crate::crs::reproject(crate::crs::WORK_CRS, crs, &mut v)?;
            let (mut lo, mut hi) = crate::locate::NO_BOUNDS;
            for c in &v {
                if !(c.x.is_finite() && c.y.is_finite()) {
                    return Err(GridError::Vertex);
                }
                lo = Coord {
                    x: lo.x.min(c.x),
                    y: lo.y.min(c.y),
                };
                hi = Coord {
                    x: hi.x.max(c.x),
                    y: hi.y.max(c.y),
                };
            }
            Ok((lo, hi))
        })
        .try_reduce_with(|a, b| {
            Ok((
                Coord {
                    x: a.0.x.min(b.0.x),
                    y: a.0.y.min(b.0.y),
                },
                Coord {
                    x: a.1.x.max(b.1.x),
                    y: a.1.y.max(b.1.y),
                },
            ))
        });
    bbox.transpose()
}

/// The sub-cells of `grid` a boundary touches, as global sub-cell keys, ascending: a batch of
/// rings at a time so the densified rings never all exist at once, each ring densified in
/// EPSG:5179, reprojected, and the sub-cells within the margin of each piece collected.
fn touched_sub_cells(
    grid: &Grid,
    rings: &[&[Coord<f64>]],
    crs: &str,
) -> Result<Vec<u64>, GridError> {
    let margin = grid.size * 1e-3;
    let mut touched_fine: Vec<u64> = Vec::new();
    for batch in rings.chunks(2048) {
        let touched: Vec<Vec<u64>> = batch
            .par_iter()
            .map(|ring| -> Result<Vec<u64>, GridError> {
                let mut dense = Vec::with_capacity(ring.len());
                for s in ring.windows(2) {
                    let (a, b) = (s[0], s[1]);
                    let n = ((a.x - b.x).hypot(a.y - b.y) / DENSIFY_M).ceil().max(1.0) as usize;
                    dense.extend((0..n).map(|k| {
                        let t = k as f64 / n as f64;
                        Coord {
                            x: a.x + (b.x - a.x) * t,
                            y: a.y + (b.y - a.y) * t,
                        }
                    }));
                }
                dense.extend(ring.last().copied());
                crate::crs::reproject(crate::crs::WORK_CRS, crs, &mut dense)?;
                let mut keys = Vec::new();
                for s in dense.windows(2) {
                    grid.fine_within(s[0], s[1], margin, &mut keys);
                }
                keys.sort_unstable();
                keys.dedup();
                Ok(keys)
            })
            .collect::<Result<_, GridError>>()?;
        touched_fine.extend(touched.into_iter().flatten());
        touched_fine.sort_unstable();
        touched_fine.dedup();
    }
    Ok(touched_fine)
}

/// Labels each refined block's sub-cells, then codes them against the block's palette (regions
/// in order of first appearance, row by row: deterministic); returns the palettes' starts and
/// the palettes, concatenated.
fn label_blocks(
    grid: &Grid,
    blocks: &[u32],
    fine: &mut [u8],
    label: impl Fn(Coord<f64>) -> Result<Cell, GridError> + Sync,
) -> Result<(Vec<u32>, Vec<Cell>), GridError> {
    let ff = grid.sub_side * grid.sub_side;
    let palettes: Vec<Vec<Cell>> = fine
        .par_chunks_mut(ff)
        .zip(blocks.par_iter())
        .with_min_len(256)
        .map(|(codes, &k)| -> Result<Vec<Cell>, GridError> {
            let mut sub = [UNKNOWN; MAX_FF];
            let sub = &mut sub[..ff];
            for (s, &c) in sub.iter_mut().zip(codes.iter()) {
                if c == SUB_BOUNDARY {
                    *s = BOUNDARY;
                }
            }
            grid.fill_block(k as usize, sub, &label)?;
            let mut palette: Vec<Cell> = Vec::new();
            for (c, &v) in codes.iter_mut().zip(sub.iter()) {
                *c = match v {
                    BOUNDARY => SUB_BOUNDARY,
                    OUTSIDE => SUB_OUTSIDE,
                    v => match palette.iter().position(|&p| p == v) {
                        Some(i) => i as u8,
                        // A code is a byte below the two markers: a sub-cell of a region
                        // beyond a block's 254th is left to the exact test.
                        None if palette.len() >= usize::from(SUB_OUTSIDE) => SUB_BOUNDARY,
                        None => {
                            palette.push(v);
                            (palette.len() - 1) as u8
                        }
                    },
                };
            }
            Ok(palette)
        })
        .collect::<Result<_, GridError>>()?;
    let mut palette_start = Vec::with_capacity(palettes.len() + 1);
    palette_start.push(0u32);
    let mut palette = Vec::new();
    for p in palettes {
        palette.extend(p);
        palette_start.push(palette.len() as u32);
    }
    Ok((palette_start, palette))
}

/// A [`SourceGrid`]'s answer for a point.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Settled {
    /// In region `i`.
    In(usize),
    /// In no region of the level.
    Out,
    /// Near a boundary: reproject and test exactly.
    Unsure,
}
