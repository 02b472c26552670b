//! Source-CRS grids of the streamed levels, built once and kept in `output_dir/cache/`.

use std::sync::{Arc, Mutex};
use std::time::Instant;

use rayon::prelude::*;

use super::Locators;
use crate::cache::{Cache, Entry};
use crate::locate::{Locator, SourceGrid};
/// Where the source-CRS grids are kept, and the checksum of the boundaries they are built from.
pub struct GridCache {
    pub cache: Cache,
    /// sha256 of the boundaries file.
    pub boundaries: String,
    /// The grids of the CRS last streamed, kept for the run's next input in that CRS: ten
    /// inputs in one CRS load their grids once, not ten times (each load also left the heap
    /// a little more fragmented: 100 M points as ten inputs peaked at 255 MiB against 195 for
    /// one).
    held: Mutex<Option<(String, Arc<Vec<SourceGrid>>)>>,
}

impl GridCache {
    /// The held grids (a panic elsewhere while they were swapped leaves them usable).
    fn held(&self) -> std::sync::MutexGuard<'_, Option<(String, Arc<Vec<SourceGrid>>)>> {
        self.held
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    pub fn new(cache: Cache, boundaries: String) -> GridCache {
        GridCache {
            cache,
            boundaries,
            held: Mutex::new(None),
        }
    }

    /// The cache entry of a level's grid in `crs` with `cells` cells.
    pub(super) fn entry(&self, loc: &Locator<'_>, crs: &str, cells: usize) -> Entry {
        let level = loc.level.to_string();
        let parts = format!(
            "{} {cells} {} fine {} or {} within {}",
            loc.regions.regions.len(),
            crate::locate::DENSIFY_M,
            crate::locate::FINE,
            crate::locate::COARSE_FINE,
            crate::locate::FINE_BUDGET
        );
        self.cache.entry(
            "grid",
            &format!("{level}-{crs}"),
            &[
                self.boundaries.as_bytes(),
                level.as_bytes(),
                crs.as_bytes(),
                parts.as_bytes(),
            ],
        )
    }
}

/// The source-CRS grids of the levels, finest first, loaded from the cache or built (and
/// saved), the levels side by side; they stop at the first degenerate level (no area), whose
/// points and coarser ones' go to the exact chain. The grids of the CRS last asked for are
/// kept in `cache` for the next input.
pub(super) fn source_grids(
    locators: &Locators<'_>,
    crs: &str,
    cache: Option<&GridCache>,
) -> Result<Arc<Vec<SourceGrid>>, crate::locate::GridError> {
    let held = cache.and_then(|c| {
        let held = c.held();
        held.as_ref()
            .filter(|(c, _)| c == crs)
            .map(|(_, g)| Arc::clone(g))
    });
    if let Some(g) = held {
        return Ok(g);
    }
    if let Some(c) = cache {
        // The grids of another CRS go before this CRS's are loaded.
        *c.held() = None;
    }
    let grids: Vec<Option<SourceGrid>> = locators
        .par_iter()
        .enumerate()
        .map(|(k, (_, loc))| source_grid(k, loc, crs, cache))
        .collect::<Result<_, _>>()?;
    let grids = Arc::new(grids.into_iter().map_while(|g| g).collect::<Vec<_>>());
    if let Some(c) = cache {
        *c.held() = Some((crs.to_string(), Arc::clone(&grids)));
    }
    Ok(grids)
}

/// The grid of the `k`-th level (finest first).
fn source_grid(
    k: usize,
    loc: &Locator<'_>,
    crs: &str,
    cache: Option<&GridCache>,
) -> Result<Option<SourceGrid>, crate::locate::GridError> {
    let cells = if k < 2 {
        crate::locate::SOURCE_GRID_CELLS
    } else {
        crate::locate::SOURCE_GRID_CELLS / 4
    };
    let t = Instant::now();
    let entry = cache.map(|c| c.entry(loc, crs, cells));
    let cached = entry.as_ref().and_then(|e| {
        let path = e.path();
        match SourceGrid::load(path, loc.regions.regions.len()) {
            Ok(g) => Some(g),
            Err(e) => {
                if path.exists() {
                    tracing::warn!(path = %path.display(), error = %e, "cached grid not used; rebuilding it");
                }
                None
            }
        }
    });
    let from_cache = cached.is_some();
    let grid = match cached {
        Some(g) => Some(g),
        None => SourceGrid::new(loc, crs, cells)?,
    };
    if let (Some(g), false, Some(entry)) = (&grid, from_cache, &entry) {
        save_grid(g, entry);
    }
    tracing::debug!(level = %loc.level, crs = %crs, cells, from_cache, ms = t.elapsed().as_millis() as u64, peak_rss_mib = crate::progress::peak_rss_mib(), "source-CRS grid");
    Ok(grid)
}

/// Saves a freshly built grid and removes the level's grids for this CRS that older
/// boundaries or versions left (best effort: a failure costs the next run a rebuild).
pub(super) fn save_grid(g: &SourceGrid, entry: &Entry) {
    match g.save(entry.path()) {
        Ok(()) => entry.prune(),
        Err(e) => tracing::warn!(path = %entry.path().display(), error = %e, "grid not cached"),
    }
}
