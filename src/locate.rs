//! Point-in-polygon over one level: bucketed polygon bounding boxes with an exact test, and
//! an optional grid that settles most points without any polygon test.
//!
//! The grid covers the level's extent with square cells. A cell crossed by no boundary segment
//! lies wholly inside one region or wholly outside every region; such cells are grouped into
//! connected components by flood fill and each component is labelled with one exact test. A
//! point in a labelled cell is answered from the label; a point in a cell that a boundary
//! crosses goes to the exact test. Because unlabelled cells contain every boundary, the answer
//! is the exact one, edge rule included (see `tests/it/locator.rs`).

use std::collections::VecDeque;
use std::path::Path;

use geo::kernels::{Kernel, Orientation, RobustKernel};
use geo::{BoundingRect, Coord, MultiPolygon, coordinate_position::CoordPos};
use rayon::prelude::*;

use crate::model::{AdminLevel, LevelRegions};

/// A grid size that keeps most points out of the exact test: cells about the size of the
/// typical vertex spacing would be ideal; 8 M cells (32 MiB) bounds memory.
pub fn default_cells(level: &LevelRegions) -> usize {
    (8192 * level.regions.len()).clamp(1 << 21, 1 << 23)
}

/// What a grid cell knows, in four bytes: a region index (wholly inside that region) or one
/// of the markers below.
type Cell = u32;
/// A boundary crosses the cell: test exactly.
const BOUNDARY: Cell = u32::MAX;
/// Wholly outside every region.
const OUTSIDE: Cell = u32::MAX - 1;
/// Not yet labelled (only while building).
const UNKNOWN: Cell = u32::MAX - 2;

#[derive(Debug, PartialEq)]
struct Grid {
    x0: f64,
    y0: f64,
    size: f64,
    nx: usize,
    ny: usize,
    cells: Vec<Cell>,
}

/// Point-in-polygon over one level.
pub struct Locator<'a> {
    pub level: AdminLevel,
    pub regions: &'a LevelRegions,
    boxes: Buckets,
    edges: Vec<EdgeIndex>,
    grid: Option<Grid>,
}

impl<'a> Locator<'a> {
    pub fn new(regions: &'a LevelRegions) -> Locator<'a> {
        Locator {
            level: regions.level,
            regions,
            boxes: Buckets::new(regions),
            edges: regions
                .regions
                .iter()
                .map(|r| EdgeIndex::new(&r.geometry))
                .collect(),
            grid: None,
        }
    }

    /// Adds the acceleration grid with about `cells` cells over the level's extent.
    pub fn with_grid(mut self, cells: usize) -> Locator<'a> {
        self.grid = self.build_grid(cells.max(1));
        self
    }

    fn build_grid(&self, cells: usize) -> Option<Grid> {
        let (lo, hi) = self.boxes.extent()?;
        let mut grid = Grid::empty(lo, hi, cells)?;
        for r in &self.regions.regions {
            for p in &r.geometry.0 {
                for ring in std::iter::once(p.exterior()).chain(p.interiors()) {
                    for s in ring.0.windows(2) {
                        grid.mark(s[0], s[1]);
                    }
                }
            }
        }
        grid.fill(|centre| self.locate_exact(centre));
        Some(grid)
    }

    /// The edge index of region `i`.
    pub fn edge_index(&self, i: usize) -> &EdgeIndex {
        &self.edges[i]
    }

    /// The regions whose bounding box meets the box `lo`–`hi`, ascending.
    pub fn boxes_meeting(&self, lo: Coord<f64>, hi: Coord<f64>) -> Vec<usize> {
        self.boxes.meeting(lo, hi)
    }

    /// The index of the region holding `c` under the edge rule, or `None` outside all.
    pub fn locate(&self, c: Coord<f64>) -> Option<usize> {
        if let Some(g) = &self.grid {
            match g.get(c) {
                Some(BOUNDARY | UNKNOWN) => {}
                Some(OUTSIDE) => return None,
                Some(i) => return Some(i as usize),
                // Outside the grid's extent means outside every bounding box.
                None => return None,
            }
        }
        self.locate_exact(c)
    }

    /// Exact test against every region whose bounding box holds `c`: the lowest code among the
    /// regions whose interior holds it, else the lowest code among those whose boundary does.
    ///
    /// Candidates come in ascending index, which is ascending code (a level's regions are
    /// sorted by code), so the first region whose interior holds the point is the answer and
    /// the rest are not tested.
    pub fn locate_exact(&self, c: Coord<f64>) -> Option<usize> {
        let mut first_boundary: Option<usize> = None;
        let mut last = None;
        for i in self.boxes.holding(c) {
            debug_assert!(last < Some(i), "candidates in ascending order");
            last = Some(i);
            match self.edges[i].position(c) {
                CoordPos::Inside => return Some(i),
                CoordPos::OnBoundary => {
                    first_boundary.get_or_insert(i);
                }
                CoordPos::Outside => {}
            }
        }
        first_boundary
    }
}

/// The bounding box (lo, hi) of segment `a`–`b`, grown by `margin` on every side.
pub(crate) fn grown_box(a: Coord<f64>, b: Coord<f64>, margin: f64) -> (Coord<f64>, Coord<f64>) {
    (
        Coord {
            x: a.x.min(b.x) - margin,
            y: a.y.min(b.y) - margin,
        },
        Coord {
            x: a.x.max(b.x) + margin,
            y: a.y.max(b.y) + margin,
        },
    )
}

impl Grid {
    /// A grid of about `cells` square cells over the box `lo`–`hi`, every cell unlabelled.
    fn empty(lo: Coord<f64>, hi: Coord<f64>, cells: usize) -> Option<Grid> {
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
    fn mark(&mut self, a: Coord<f64>, b: Coord<f64>) {
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
    fn fill(&mut self, mut label: impl FnMut(Coord<f64>) -> Option<usize>) {
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

    fn get(&self, c: Coord<f64>) -> Option<Cell> {
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

/// A region's edges bucketed by horizontal band, so that a point-in-polygon test looks only at
/// the edges whose y-range holds the point instead of every edge of the region.
///
/// The test is the crossing number of a ray towards +x with the half-open rule, over every ring
/// (exterior and holes) of every polygon, with robust orientation predicates; a point on an
/// edge or vertex is `OnBoundary`. For valid (multi)polygons this is what
/// `geo::CoordinatePosition` gives (`tests/it/locator.rs` checks it against brute force).
pub struct EdgeIndex {
    y0: f64,
    band_height: f64,
    /// Ring vertices, each ring closed and oriented with the interior on its left (exteriors
    /// counter-clockwise, holes clockwise); edge `i` runs from `verts[i]` to `verts[i + 1]`.
    verts: Vec<Coord<f64>>,
    /// The vertex range of each ring in `verts`.
    rings: Vec<(u32, u32)>,
    /// Bounding box of the vertices (lo, hi).
    bounds: (Coord<f64>, Coord<f64>),
    /// Offsets into `edges` of each band (one more than the number of bands).
    band_start: Vec<u32>,
    edges: Vec<u32>,
}

impl EdgeIndex {
    pub fn new(mp: &MultiPolygon<f64>) -> EdgeIndex {
        let mut verts = Vec::new();
        let mut starts = Vec::new();
        let mut rings = Vec::new();
        for p in &mp.0 {
            for (k, ring) in std::iter::once(p.exterior())
                .chain(p.interiors())
                .enumerate()
            {
                if ring.0.len() < 2 {
                    continue;
                }
                let base = verts.len();
                verts.extend_from_slice(&ring.0);
                // Twice the signed area (shoelace about the first vertex): positive when
                // counter-clockwise. Exteriors (k = 0) turn counter-clockwise, holes clockwise.
                let v0 = ring.0[0];
                let twice: f64 = ring
                    .0
                    .windows(2)
                    .map(|w| (w[0].x - v0.x) * (w[1].y - v0.y) - (w[1].x - v0.x) * (w[0].y - v0.y))
                    .sum();
                if (k == 0) != (twice >= 0.0) {
                    verts[base..].reverse();
                }
                rings.push((base as u32, verts.len() as u32));
                starts.extend((base..base + ring.0.len() - 1).map(|i| i as u32));
            }
        }
        let (mut lo, mut hi) = (f64::INFINITY, f64::NEG_INFINITY);
        let (mut xlo, mut xhi) = (f64::INFINITY, f64::NEG_INFINITY);
        for v in &verts {
            lo = lo.min(v.y);
            hi = hi.max(v.y);
            xlo = xlo.min(v.x);
            xhi = xhi.max(v.x);
        }
        let bands = (starts.len() / 4).clamp(1, 4096);
        let band_height = if hi > lo {
            (hi - lo) / bands as f64
        } else {
            1.0
        };
        let mut index = EdgeIndex {
            y0: lo,
            band_height,
            verts,
            rings,
            bounds: (Coord { x: xlo, y: lo }, Coord { x: xhi, y: hi }),
            band_start: vec![0; bands + 1],
            edges: Vec::new(),
        };
        let span = |idx: &EdgeIndex, e: u32| {
            let (a, b) = (idx.verts[e as usize], idx.verts[e as usize + 1]);
            (idx.band(a.y.min(b.y)), idx.band(a.y.max(b.y)))
        };
        // Counting sort of edges into the bands their y-range touches.
        for &e in &starts {
            let (b0, b1) = span(&index, e);
            for b in b0..=b1 {
                index.band_start[b + 1] += 1;
            }
        }
        for b in 0..bands {
            index.band_start[b + 1] += index.band_start[b];
        }
        let mut fill: Vec<u32> = index.band_start[..bands].to_vec();
        index.edges = vec![0; index.band_start[bands] as usize];
        for &e in &starts {
            let (b0, b1) = span(&index, e);
            for slot in &mut fill[b0..=b1] {
                index.edges[*slot as usize] = e;
                *slot += 1;
            }
        }
        index
    }

    /// The band holding `y`; monotone in `y`, so an edge spanning `y` is listed in its band.
    fn band(&self, y: f64) -> usize {
        let bands = self.band_start.len() - 1;
        let f = (y - self.y0) / self.band_height;
        if f >= 0.0 {
            (f as usize).min(bands - 1)
        } else {
            0
        }
    }

    /// Bounding box (lo, hi) of the vertices; inverted when there are none.
    pub fn bounds(&self) -> (Coord<f64>, Coord<f64>) {
        self.bounds
    }

    /// Calls `f` with every edge (from, to; interior on the left).
    pub fn each_edge(&self, mut f: impl FnMut(Coord<f64>, Coord<f64>)) {
        for &(a, b) in &self.rings {
            for w in self.verts[a as usize..b as usize].windows(2) {
                f(w[0], w[1]);
            }
        }
    }

    /// Calls `f` once with every edge whose bounding box meets the box `lo`–`hi`.
    pub fn edges_in(
        &self,
        lo: Coord<f64>,
        hi: Coord<f64>,
        mut f: impl FnMut(Coord<f64>, Coord<f64>),
    ) {
        if self.verts.is_empty() || lo.y > self.bounds.1.y || hi.y < self.bounds.0.y {
            return;
        }
        let (b0, b1) = (self.band(lo.y), self.band(hi.y));
        for b in b0..=b1 {
            for &e in &self.edges[self.band_start[b] as usize..self.band_start[b + 1] as usize] {
                let (a, c) = (self.verts[e as usize], self.verts[e as usize + 1]);
                // An edge is listed in every band its y-range touches: take it in the first
                // of those within b0..=b1.
                if self.band(a.y.min(c.y)).max(b0) != b
                    || a.x.max(c.x) < lo.x
                    || a.x.min(c.x) > hi.x
                    || a.y.max(c.y) < lo.y
                    || a.y.min(c.y) > hi.y
                {
                    continue;
                }
                f(a, c);
            }
        }
    }

    pub fn position(&self, p: Coord<f64>) -> CoordPos {
        if self.verts.is_empty() {
            return CoordPos::Outside;
        }
        let b = self.band(p.y);
        let mut inside = false;
        for &e in &self.edges[self.band_start[b] as usize..self.band_start[b + 1] as usize] {
            let (a, c) = (self.verts[e as usize], self.verts[e as usize + 1]);
            if p.y < a.y.min(c.y) || p.y > a.y.max(c.y) {
                continue;
            }
            let o = RobustKernel::orient2d(a, c, p);
            if o == Orientation::Collinear && p.x >= a.x.min(c.x) && p.x <= a.x.max(c.x) {
                return CoordPos::OnBoundary;
            }
            // Half-open rule: an edge counts when exactly one end lies strictly above p; the
            // ray to +x crosses it when p lies left of the edge directed upwards.
            if (a.y > p.y) != (c.y > p.y) {
                let left_of_upward = if c.y > a.y {
                    o == Orientation::CounterClockwise
                } else {
                    o == Orientation::Clockwise
                };
                inside ^= left_of_upward;
            }
        }
        if inside {
            CoordPos::Inside
        } else {
            CoordPos::Outside
        }
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
    pub fn load(path: &Path, regions: usize) -> Result<SourceGrid, String> {
        let mut f = crate::sealed::Reader::open(path)
            .map_err(|e| e.to_string())?
            .ok_or("no such file")?;
        let mut head = [0u8; 48];
        f.read(&mut head).map_err(|e| e.to_string())?;
        if &head[..8] != GRID_MAGIC {
            return Err("not a smartgap grid of this version".into());
        }
        let f64_at = |k: usize| f64::from_le_bytes(head[k..k + 8].try_into().unwrap_or([0; 8]));
        let u64_at = |k: usize| u64::from_le_bytes(head[k..k + 8].try_into().unwrap_or([0; 8]));
        let (x0, y0, size) = (f64_at(8), f64_at(16), f64_at(24));
        let (nx, ny) = (u64_at(32) as usize, u64_at(40) as usize);
        let n = nx.checked_mul(ny).filter(|&n| n > 0 && n <= 1 << 26);
        let Some(n) = n else {
            return Err(format!("implausible size {nx} × {ny}"));
        };
        if !(x0.is_finite() && y0.is_finite() && size.is_finite() && size > 0.0) {
            return Err("implausible origin or cell size".into());
        }
        if n as u64 * 4 > f.remaining() {
            return Err("the content is shorter than it says".into());
        }
        let mut cells: Vec<Cell> = Vec::with_capacity(n);
        let mut buf = vec![0u8; 1 << 20];
        while cells.len() < n {
            let want = ((n - cells.len()) * 4).min(buf.len());
            f.read(&mut buf[..want]).map_err(|e| e.to_string())?;
            cells.extend(
                buf[..want]
                    .chunks_exact(4)
                    .map(|b| u32::from_le_bytes([b[0], b[1], b[2], b[3]])),
            );
        }
        f.finish().map_err(|e| e.to_string())?;
        if cells
            .iter()
            .any(|&c| (c as usize) >= regions && c != BOUNDARY && c != OUTSIDE)
        {
            return Err(format!(
                "a cell names a region beyond the level's {regions}"
            ));
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
    pub fn new(loc: &Locator<'_>, crs: &str, cells: usize) -> Result<Option<SourceGrid>, String> {
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
            .map(|ring| -> Result<(Coord<f64>, Coord<f64>), String> {
                let mut v = ring.to_vec();
                crate::crs::reproject(crate::crs::WORK_CRS, crs, &mut v)
                    .map_err(|e| e.to_string())?;
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
                        return Err("a boundary vertex cannot be reprojected".into());
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
                .map(|ring| -> Result<Vec<u32>, String> {
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
                    crate::crs::reproject(crate::crs::WORK_CRS, crs, &mut dense)
                        .map_err(|e| e.to_string())?;
                    let mut cells = Vec::new();
                    for s in dense.windows(2) {
                        grid.cells_within(s[0], s[1], margin, &mut cells);
                    }
                    cells.sort_unstable();
                    cells.dedup();
                    Ok(cells)
                })
                .collect::<Result<_, String>>()?;
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
            Some(e) => Err(e.to_string()),
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

/// Region bounding boxes bucketed on a coarse uniform grid: the regions whose (closed) box holds
/// a point are found by scanning one bucket, the same set an R-tree query gives without the
/// traversal.
struct Buckets {
    x0: f64,
    y0: f64,
    size: f64,
    nx: usize,
    ny: usize,
    /// Offsets into `items` of each bucket (one more than the number of buckets).
    start: Vec<u32>,
    items: Vec<u32>,
    /// min x, min y, max x, max y of each region (infinite when it has no geometry).
    boxes: Vec<[f64; 4]>,
}

impl Buckets {
    fn new(level: &LevelRegions) -> Buckets {
        let boxes: Vec<[f64; 4]> = level
            .regions
            .iter()
            .map(|r| match r.geometry.bounding_rect() {
                Some(b) => [b.min().x, b.min().y, b.max().x, b.max().y],
                None => [
                    f64::INFINITY,
                    f64::INFINITY,
                    f64::NEG_INFINITY,
                    f64::NEG_INFINITY,
                ],
            })
            .collect();
        let mut b = Buckets {
            x0: 0.0,
            y0: 0.0,
            size: 1.0,
            nx: 1,
            ny: 1,
            start: vec![0, 0],
            items: Vec::new(),
            boxes,
        };
        let Some((lo, hi)) = b.extent() else {
            return b;
        };
        // About four buckets per region.
        let n = (4 * b.boxes.len()).clamp(1, 1 << 20);
        let (w, h) = ((hi.x - lo.x).max(1e-9), (hi.y - lo.y).max(1e-9));
        b.size = (w * h / n as f64).sqrt();
        b.nx = (w / b.size) as usize + 1;
        b.ny = (h / b.size) as usize + 1;
        b.x0 = lo.x;
        b.y0 = lo.y;
        let mut count = vec![0u32; b.nx * b.ny + 1];
        for bx in &b.boxes {
            if let Some((x0, y0, x1, y1)) = b.span(bx) {
                for y in y0..=y1 {
                    for x in x0..=x1 {
                        count[y * b.nx + x + 1] += 1;
                    }
                }
            }
        }
        for k in 1..count.len() {
            count[k] += count[k - 1];
        }
        let mut fill = count.clone();
        b.items = vec![0; count[b.nx * b.ny] as usize];
        for (i, bx) in b.boxes.iter().enumerate() {
            if let Some((x0, y0, x1, y1)) = b.span(bx) {
                for y in y0..=y1 {
                    for x in x0..=x1 {
                        let k = y * b.nx + x;
                        b.items[fill[k] as usize] = i as u32;
                        fill[k] += 1;
                    }
                }
            }
        }
        b.start = count;
        b
    }

    /// The union of the boxes, `None` when there is none.
    fn extent(&self) -> Option<(Coord<f64>, Coord<f64>)> {
        let mut lo = Coord {
            x: f64::INFINITY,
            y: f64::INFINITY,
        };
        let mut hi = Coord {
            x: f64::NEG_INFINITY,
            y: f64::NEG_INFINITY,
        };
        for b in &self.boxes {
            lo.x = lo.x.min(b[0]);
            lo.y = lo.y.min(b[1]);
            hi.x = hi.x.max(b[2]);
            hi.y = hi.y.max(b[3]);
        }
        (lo.x <= hi.x && lo.y <= hi.y).then_some((lo, hi))
    }

    fn cell(&self, v: f64, origin: f64, n: usize) -> usize {
        (((v - origin) / self.size).max(0.0) as usize).min(n - 1)
    }

    /// The bucket range a box covers (monotone in the coordinates, so a point in the box lies
    /// in one of its buckets).
    fn span(&self, b: &[f64; 4]) -> Option<(usize, usize, usize, usize)> {
        if !(b[0] <= b[2] && b[1] <= b[3]) {
            return None;
        }
        Some((
            self.cell(b[0], self.x0, self.nx),
            self.cell(b[1], self.y0, self.ny),
            self.cell(b[2], self.x0, self.nx),
            self.cell(b[3], self.y0, self.ny),
        ))
    }

    /// The regions whose box meets the box `lo`–`hi`, ascending.
    fn meeting(&self, lo: Coord<f64>, hi: Coord<f64>) -> Vec<usize> {
        let Some((x0, y0, x1, y1)) = self.span(&[lo.x, lo.y, hi.x, hi.y]) else {
            return Vec::new();
        };
        let mut out: Vec<usize> = Vec::new();
        for y in y0..=y1 {
            for x in x0..=x1 {
                let k = y * self.nx + x;
                out.extend(
                    self.items[self.start[k] as usize..self.start[k + 1] as usize]
                        .iter()
                        .map(|&i| i as usize)
                        .filter(|&i| {
                            let b = &self.boxes[i];
                            b[0] <= hi.x && lo.x <= b[2] && b[1] <= hi.y && lo.y <= b[3]
                        }),
                );
            }
        }
        out.sort_unstable();
        out.dedup();
        out
    }

    /// The regions whose box holds `c`.
    fn holding(&self, c: Coord<f64>) -> impl Iterator<Item = usize> + '_ {
        let k = if c.x.is_finite() && c.y.is_finite() {
            let (x, y) = (
                self.cell(c.x, self.x0, self.nx),
                self.cell(c.y, self.y0, self.ny),
            );
            y * self.nx + x
        } else {
            0
        };
        let range = if c.x.is_finite() && c.y.is_finite() {
            self.start[k] as usize..self.start[k + 1] as usize
        } else {
            0..0
        };
        self.items[range]
            .iter()
            .map(|&i| i as usize)
            .filter(move |&i| {
                let b = &self.boxes[i];
                b[0] <= c.x && c.x <= b[2] && b[1] <= c.y && c.y <= b[3]
            })
    }
}
