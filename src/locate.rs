//! Point-in-polygon over one level: an R-tree of polygon bounding boxes with an exact test, and
//! an optional grid that settles most points without any polygon test.
//!
//! The grid covers the level's extent with square cells. A cell crossed by no boundary segment
//! lies wholly inside one region or wholly outside every region; such cells are grouped into
//! connected components by flood fill and each component is labelled with one exact test. A
//! point in a labelled cell is answered from the label; a point in a cell that a boundary
//! crosses goes to the exact test. Because unlabelled cells contain every boundary, the answer
//! is the exact one, edge rule included (see `tests/it/locator.rs`).

use std::collections::VecDeque;

use geo::{BoundingRect, Coord, CoordinatePosition, coordinate_position::CoordPos};
use rstar::{AABB, RTree, primitives::GeomWithData, primitives::Rectangle};

use crate::model::{AdminLevel, LevelRegions};

type Entry = GeomWithData<Rectangle<[f64; 2]>, usize>;

/// An R-tree of the bounding boxes of a level's regions, each tagged with its index.
pub fn bbox_tree(level: &LevelRegions) -> RTree<Entry> {
    let entries: Vec<Entry> = level
        .regions
        .iter()
        .enumerate()
        .filter_map(|(i, r)| {
            r.geometry.bounding_rect().map(|b| {
                GeomWithData::new(
                    Rectangle::from_corners([b.min().x, b.min().y], [b.max().x, b.max().y]),
                    i,
                )
            })
        })
        .collect();
    RTree::bulk_load(entries)
}

/// A grid size that keeps most points out of the exact test: cells about the size of the
/// typical vertex spacing would be ideal; 4 M cells (32 MiB) bounds memory.
pub fn default_cells(level: &LevelRegions) -> usize {
    (1024 * level.regions.len()).clamp(1 << 20, 1 << 22)
}

/// What a grid cell knows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Cell {
    /// A boundary crosses the cell: test exactly.
    Boundary,
    /// Wholly inside region `i`.
    Inside(u32),
    /// Wholly outside every region.
    Outside,
    /// Not yet labelled (only while building).
    Unknown,
}

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
    tree: RTree<Entry>,
    grid: Option<Grid>,
}

impl<'a> Locator<'a> {
    pub fn new(regions: &'a LevelRegions) -> Locator<'a> {
        Locator {
            level: regions.level,
            regions,
            tree: bbox_tree(regions),
            grid: None,
        }
    }

    /// Adds the acceleration grid with about `cells` cells over the level's extent.
    pub fn with_grid(mut self, cells: usize) -> Locator<'a> {
        self.grid = self.build_grid(cells.max(1));
        self
    }

    fn build_grid(&self, cells: usize) -> Option<Grid> {
        let env = self.tree.root().envelope();
        let (lo, hi) = (env.lower(), env.upper());
        let (w, h) = (hi[0] - lo[0], hi[1] - lo[1]);
        if !(w > 0.0 && h > 0.0) {
            return None;
        }
        let size = (w * h / cells as f64).sqrt();
        let nx = (w / size).ceil() as usize + 1;
        let ny = (h / size).ceil() as usize + 1;
        let mut grid = Grid {
            x0: lo[0],
            y0: lo[1],
            size,
            nx,
            ny,
            cells: vec![Cell::Unknown; nx * ny],
        };
        // Every cell a boundary segment's bounding box touches (a conservative cover).
        for r in &self.regions.regions {
            for p in &r.geometry.0 {
                for ring in std::iter::once(p.exterior()).chain(p.interiors()) {
                    for s in ring.0.windows(2) {
                        let (a, b) = (grid.cell_of(s[0]), grid.cell_of(s[1]));
                        let (Some((ax, ay)), Some((bx, by))) = (a, b) else {
                            continue;
                        };
                        for cy in ay.min(by)..=ay.max(by) {
                            for cx in ax.min(bx)..=ax.max(bx) {
                                grid.cells[cy * nx + cx] = Cell::Boundary;
                            }
                        }
                    }
                }
            }
        }
        // Flood-fill the boundary-free components, labelling each with one exact test.
        let mut queue = VecDeque::new();
        for start in 0..grid.cells.len() {
            if grid.cells[start] != Cell::Unknown {
                continue;
            }
            let (sx, sy) = (start % nx, start / nx);
            let centre = Coord {
                x: grid.x0 + (sx as f64 + 0.5) * size,
                y: grid.y0 + (sy as f64 + 0.5) * size,
            };
            let label = match self.locate_exact(centre) {
                Some(i) => Cell::Inside(i as u32),
                None => Cell::Outside,
            };
            grid.cells[start] = label;
            queue.push_back(start);
            while let Some(k) = queue.pop_front() {
                let (x, y) = (k % nx, k / nx);
                let mut visit = |nk: usize| {
                    if grid.cells[nk] == Cell::Unknown {
                        grid.cells[nk] = label;
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
        Some(grid)
    }

    /// The index of the region holding `c` under the edge rule, or `None` outside all.
    pub fn locate(&self, c: Coord<f64>) -> Option<usize> {
        if let Some(g) = &self.grid {
            match g.cell_of(c).map(|(x, y)| g.cells[y * g.nx + x]) {
                Some(Cell::Inside(i)) => return Some(i as usize),
                Some(Cell::Outside) => return None,
                // Outside the grid's extent means outside every bounding box.
                None => return None,
                Some(Cell::Boundary | Cell::Unknown) => {}
            }
        }
        self.locate_exact(c)
    }

    /// Exact test against every region whose bounding box holds `c`: interior wins, else the
    /// lowest code among the regions whose closed polygon holds it.
    pub fn locate_exact(&self, c: Coord<f64>) -> Option<usize> {
        let mut best_inside: Option<usize> = None;
        let mut best_boundary: Option<usize> = None;
        let lowest = |cur: Option<usize>, i: usize| match cur {
            Some(j) if self.regions.regions[j].code <= self.regions.regions[i].code => Some(j),
            _ => Some(i),
        };
        for e in self
            .tree
            .locate_in_envelope_intersecting(AABB::from_point([c.x, c.y]))
        {
            let i = e.data;
            match self.regions.regions[i].geometry.coordinate_position(&c) {
                CoordPos::Inside => best_inside = lowest(best_inside, i),
                CoordPos::OnBoundary => best_boundary = lowest(best_boundary, i),
                CoordPos::Outside => {}
            }
        }
        best_inside.or(best_boundary)
    }
}

impl Grid {
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
