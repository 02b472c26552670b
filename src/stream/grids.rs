//! Source-CRS grids of the streamed levels, built once and kept in `output_dir/cache/`.

use std::path::Path;
use std::time::Instant;

use super::Locators;
use crate::locate::{Locator, SourceGrid};
pub struct GridCache {
    pub dir: std::path::PathBuf,
    /// sha256 of the boundaries file.
    pub boundaries: String,
}

impl GridCache {
    /// The file of a level's grid, and the prefix its older versions share.
    pub(super) fn file(
        &self,
        loc: &Locator<'_>,
        crs: &str,
        cells: usize,
    ) -> (std::path::PathBuf, String) {
        use sha2::{Digest, Sha256};
        let mut h = Sha256::new();
        h.update(
            format!(
                "{} {} {} {crs} {cells} {} {}",
                self.boundaries,
                loc.level,
                loc.regions.regions.len(),
                crate::locate::DENSIFY_M,
                crate::VERSION
            )
            .as_bytes(),
        );
        let key: String = h
            .finalize()
            .iter()
            .take(12)
            .map(|b| format!("{b:02x}"))
            .collect();
        let tag: String = crs
            .chars()
            .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
            .take(40)
            .collect();
        let prefix = format!("grid-{}-{tag}-", loc.level);
        (self.dir.join(format!("{prefix}{key}.bin")), prefix)
    }
}

pub(super) fn source_grids(
    locators: &Locators<'_>,
    crs: &str,
    cache: Option<&GridCache>,
) -> Result<Vec<SourceGrid>, String> {
    let mut grids = Vec::new();
    for (k, (_, loc)) in locators.iter().enumerate() {
        let cells = if k < 2 {
            crate::locate::SOURCE_GRID_CELLS
        } else {
            crate::locate::SOURCE_GRID_CELLS / 4
        };
        let t = Instant::now();
        let file = cache.map(|c| c.file(loc, crs, cells));
        let cached = file.as_ref().and_then(|(path, _)| {
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
        match grid {
            Some(g) => {
                if let (false, Some((path, prefix))) = (from_cache, &file) {
                    save_grid(&g, path, prefix);
                }
                grids.push(g)
            }
            // A degenerate level (no area): everything goes to the exact chain.
            None => break,
        }
        tracing::debug!(level = %loc.level, crs = %crs, cells, from_cache, ms = t.elapsed().as_millis() as u64, peak_rss_mib = crate::progress::peak_rss_mib(), "source-CRS grid");
    }
    Ok(grids)
}

/// Saves a freshly built grid and removes the level's grids for this CRS that older
/// boundaries or versions left (best effort: a failure costs the next run a rebuild).
pub(super) fn save_grid(g: &SourceGrid, path: &Path, prefix: &str) {
    let Some(dir) = path.parent() else { return };
    let saved = std::fs::create_dir_all(dir).and_then(|()| g.save(path));
    if let Err(e) = saved {
        tracing::warn!(path = %path.display(), error = %e, "grid not cached");
        return;
    }
    for old in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let name = old.file_name().to_string_lossy().into_owned();
        if name.starts_with(prefix) && old.path() != path {
            let _ = std::fs::remove_file(old.path());
        }
    }
}
