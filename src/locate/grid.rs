//! Square-cell grids that settle most points without a polygon test: the [`Grid`] of a level
//! in EPSG:5179 (inside a [`Locator`]) and the [`SourceGrid`] built in an input's own CRS,
//! saved and loaded as a [`crate::sealed`] file.

use std::collections::VecDeque;
use std::path::Path;

use geo::Coord;
use rayon::prelude::*;

use super::{Locator, grown_box};

/// What a grid cell knows, in four bytes: a region index (wholly inside that region) or one
/// of the markers below.
pub(super) type Cell = u32;
/// A boundary crosses the cell: test exactly.
pub(super) const BOUNDARY: Cell = u32::MAX;
/// Wholly outside every region.
pub(super) const OUTSIDE: Cell = u32::MAX - 1;
/// Not yet labelled (only while building).
pub(super) const UNKNOWN: Cell = u32::MAX - 2;

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

    /// Adds to `out` every cell the bounding box of segment `a`–`b`, grown by `margin`,
    /// touches.
    fn cells_within(&self, a: Coord<f64>, b: Coord<f64>, margin: f64, out: &mut Vec<u32>) {
        if let Some((x0, y0, x1, y1)) = self.span(a, b, margin) {
            for cy in y0..=y1 {
                out.extend((x0..=x1).map(|cx| (cy * self.nx + cx) as u32));
            }
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
                let (x, y) = (k % nx, k / nx);
                let mut visit = |nk: usize| {
                    if self.cells[nk] == UNKNOWN {
                        self.cells[nk] = value;
                        queue.push_back(nk);
                    }
                };
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
        }
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

/// The grid of a level built in an input's own CRS, so that most points are placed without
/// being reprojected or tested exactly.
///
/// The boundaries are densified to segments of at most [`DENSIFY_M`] in EPSG:5179 before they
/// are reprojected, so the reprojected polyline follows the true (EPSG:5179-straight) boundary
/// to about 0.1 mm (a 100 m chord of a curve whose radius is the Earth's, ~L²/8R); every cell
/// within a margin of a thousandth of a cell (a few decimetres) of it is marked as boundary,
/// thousands of times the deviation. Each remaining component is
/// labelled by reprojecting one cell centre into EPSG:5179 and testing it exactly. A point in a
/// labelled cell therefore gets exactly the region the exact test would give it; every other
/// point is reprojected and located exactly.
#[derive(Debug, PartialEq)]
pub struct SourceGrid {
    grid: Grid,
}

/// Header of a saved [`SourceGrid`] (format version in the last two bytes).
const GRID_MAGIC: &[u8; 8] = b"SGGRID01";

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
        for v in [g.nx as u64, g.ny as u64] {
            w.put(&v.to_le_bytes())?;
        }
        let mut buf = Vec::with_capacity(1 << 20);
        for part in g.cells.chunks(1 << 18) {
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
        let mut head = [0u8; 48];
        f.read(&mut head)?;
        if &head[..8] != GRID_MAGIC {
            return Err(GridError::Format);
        }
        let f64_at = |k: usize| f64::from_le_bytes(head[k..k + 8].try_into().unwrap_or([0; 8]));
        let u64_at = |k: usize| u64::from_le_bytes(head[k..k + 8].try_into().unwrap_or([0; 8]));
        let (x0, y0, size) = (f64_at(8), f64_at(16), f64_at(24));
        let (nx, ny) = (u64_at(32) as usize, u64_at(40) as usize);
        let n = nx.checked_mul(ny).filter(|&n| n > 0 && n <= 1 << 26);
        let Some(n) = n else {
            return Err(GridError::Size { nx, ny });
        };
        if !(x0.is_finite() && y0.is_finite() && size.is_finite() && size > 0.0) {
            return Err(GridError::Origin);
        }
        if n as u64 * 4 > f.remaining() {
            return Err(GridError::Short);
        }
        let mut cells: Vec<Cell> = Vec::with_capacity(n);
        let mut buf = vec![0u8; 1 << 20];
        while cells.len() < n {
            let want = ((n - cells.len()) * 4).min(buf.len());
            f.read(&mut buf[..want])?;
            cells.extend(
                buf[..want]
                    .chunks_exact(4)
                    .map(|b| u32::from_le_bytes([b[0], b[1], b[2], b[3]])),
            );
        }
        f.finish()?;
        if cells
            .iter()
            .any(|&c| (c as usize) >= regions && c != BOUNDARY && c != OUTSIDE)
        {
            return Err(GridError::Region { regions });
        }
        Ok(SourceGrid {
            grid: Grid {
                x0,
                y0,
                size,
                nx,
                ny,
                cells,
            },
        })
    }
}

/// Cells of a [`SourceGrid`]: 8 M cells of four bytes (32 MiB), about 250 m over Korea.
pub const SOURCE_GRID_CELLS: usize = 1 << 23;

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
        let rings: Vec<&[Coord<f64>]> = loc
            .regions
            .regions
            .iter()
            .flat_map(|r| &r.geometry.0)
            .flat_map(|p| std::iter::once(p.exterior()).chain(p.interiors()))
            .map(|ring| ring.0.as_slice())
            .collect();
        // The extent: every vertex reprojected, plus 1 % on each side for the curvature of
        // long segments between them.
        let bbox = rings
            .par_iter()
            .map(|ring| -> Result<(Coord<f64>, Coord<f64>), GridError> {
                let mut v = ring.to_vec();
                crate::crs::reproject(crate::crs::WORK_CRS, crs, &mut v)?;
                let mut lo = Coord {
                    x: f64::INFINITY,
                    y: f64::INFINITY,
                };
                let mut hi = Coord {
                    x: f64::NEG_INFINITY,
                    y: f64::NEG_INFINITY,
                };
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
        let Some((lo, hi)) = bbox.transpose()? else {
            return Ok(None);
        };
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
        // Boundary cells, a batch of rings at a time so the densified rings never all exist at
        // once: each ring densified in EPSG:5179, reprojected, and the cells within the margin
        // of each piece collected.
        let margin = grid.size * 1e-3;
        for batch in rings.chunks(2048) {
            let touched: Vec<Vec<u32>> = batch
                .par_iter()
                .map(|ring| -> Result<Vec<u32>, GridError> {
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
                    let mut cells = Vec::new();
                    for s in dense.windows(2) {
                        grid.cells_within(s[0], s[1], margin, &mut cells);
                    }
                    cells.sort_unstable();
                    cells.dedup();
                    Ok(cells)
                })
                .collect::<Result<_, GridError>>()?;
            for k in touched.into_iter().flatten() {
                grid.cells[k as usize] = BOUNDARY;
            }
        }
        let mut failed = None;
        grid.fill(|centre| {
            let mut one = [centre];
            match crate::crs::reproject(crs, crate::crs::WORK_CRS, &mut one) {
                Ok(()) if one[0].x.is_finite() => loc.locate_exact(one[0]),
                Ok(()) => None,
                Err(e) => {
                    failed = Some(e);
                    None
                }
            }
        });
        match failed {
            Some(e) => Err(GridError::Crs(e)),
            None => Ok(Some(SourceGrid { grid })),
        }
    }

    /// The region holding `c` (in the grid's CRS) when its cell settles it; `None` when the
    /// point must be reprojected and located exactly.
    pub fn settle(&self, c: Coord<f64>) -> Option<usize> {
        match self.classify(c) {
            Settled::In(i) => Some(i),
            _ => None,
        }
    }

    /// What the cell of `c` (in the grid's CRS) says.
    pub fn classify(&self, c: Coord<f64>) -> Settled {
        match self.grid.get(c) {
            Some(v) if v < UNKNOWN => Settled::In(v as usize),
            Some(OUTSIDE) => Settled::Out,
            // Beyond the grid (far from every region, or not a coordinate PROJ can take):
            // the exact chain decides.
            None | Some(_) => Settled::Unsure,
        }
    }
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
