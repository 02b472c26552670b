//! Point-in-polygon over one level: bucketed polygon bounding boxes with an exact test, and
//! an optional grid that settles most points without any polygon test.
//!
//! The grid covers the level's extent with square cells. A cell crossed by no boundary segment
//! lies wholly inside one region or wholly outside every region; such cells are grouped into
//! connected components by flood fill and each component is labelled with one exact test. A
//! point in a labelled cell is answered from the label; a point in a cell that a boundary
//! crosses goes to the exact test. Because unlabelled cells contain every boundary, the answer
//! is the exact one, edge rule included (see `tests/it/locator.rs`).
//!
//! - here: the [`Locator`] and the buckets of region bounding boxes it scans;
//! - `edges`: [`EdgeIndex`], a region's edges in horizontal bands and the exact
//!   crossing-number test with robust predicates;
//! - `grid`: the cell grid, and [`SourceGrid`], the grid built in an input's own CRS, with
//!   its sealed-file save and load.

use geo::{BoundingRect, Coord, coordinate_position::CoordPos};

use crate::model::{AdminLevel, LevelRegions};

mod edges;
mod grid;

pub use edges::EdgeIndex;
use grid::{BOUNDARY, Grid, OUTSIDE, UNKNOWN};
pub(crate) use grid::{COARSE_FINE, DENSIFY_M, FINE, FINE_BUDGET, SOURCE_GRID_CELLS};
pub use grid::{GridError, Settled, SourceGrid};

/// Bounds nothing has extended yet (`lo` at +∞, `hi` at −∞), to fold points into with
/// `min`/`max`.
pub(crate) const NO_BOUNDS: (Coord<f64>, Coord<f64>) = (
    Coord {
        x: f64::INFINITY,
        y: f64::INFINITY,
    },
    Coord {
        x: f64::NEG_INFINITY,
        y: f64::NEG_INFINITY,
    },
);

/// A grid size that keeps most points out of the exact test: cells about the size of the
/// typical vertex spacing would be ideal; 8 M cells (32 MiB) bounds memory.
pub fn default_cells(level: &LevelRegions) -> usize {
    (8192 * level.regions.len()).clamp(1 << 21, 1 << 23)
}

/// Point-in-polygon over one level.
pub struct Locator<'a> {
    pub(crate) level: AdminLevel,
    pub(crate) regions: &'a LevelRegions,
    boxes: Buckets,
    edges: Vec<EdgeIndex>,
    grid: Option<Grid>,
}

impl<'a> Locator<'a> {
    /// A locator over the regions of one level, without the acceleration grid.
    pub fn new(regions: &'a LevelRegions) -> Locator<'a> {
        Locator {
            level: regions.level,
            regions,
            boxes: Buckets::new(regions),
            // Region by region on this thread: built in parallel they took ~35 MB more at the
            // peak on 리 (W2), the worker threads' heaps holding on to their scratch memory.
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
    fn locate_exact(&self, c: Coord<f64>) -> Option<usize> {
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
        let (mut lo, mut hi) = NO_BOUNDS;
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
