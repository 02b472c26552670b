//! A run's files in its staging folder: the GeoPackage, the GeoJSON layers, the weights as GAL
//! and the JSON documents.

use std::path::Path;
use std::sync::Arc;
use std::time::Instant;

use serde::Serialize;
use tracing::debug;

use crate::cache::Cache;
use crate::config::Tier;
use crate::error::Error;
use crate::indicators::legend::LegendRow;
use crate::indicators::levels::LevelSpatial;
use crate::report::GeoJsonReport;
use crate::write::{self, GeomKind, OutLayer};

/// Writes `layers` into `dir/smartgap.gpkg` and, those with geometry, into `dir/geojson/`.
///
/// The GeoPackage (SQLite, one thread) takes the layers as they are ready: it writes `layers`
/// while `late` computes what only the last layers need (the global statistics); the layers
/// `late` returns are appended to the GeoPackage only, then the GeoJSON files (formatted in
/// parallel) are written. `late` and the GeoJSON run on a rayon pool one thread smaller than
/// the global one, which leaves the GeoPackage writer a core. The stage takes about the
/// GeoPackage's time instead of the sum. GeoJSON geometry texts are kept in `cache` between runs. Returns
/// `late`'s value and what snapping to the GeoJSON grid did to each polygon layer.
///
/// # Errors
/// Any file that cannot be written, naming it.
pub fn layers<T: Send>(
    dir: &Path,
    layers: &[Arc<OutLayer>],
    geojson_decimals: u32,
    cache: &Cache,
    late: impl FnOnce() -> (T, Vec<OutLayer>) + Send,
) -> Result<(T, Vec<GeoJsonReport>), Error> {
    let gpkg = dir.join("smartgap.gpkg");
    let (gpkg_written, geojson_written, value) = std::thread::scope(|scope| {
        let (tx, rx) = std::sync::mpsc::channel::<Arc<OutLayer>>();
        let gpkg = &gpkg;
        let gpkg_thread = scope.spawn(move || {
            let (t0, c0) = (Instant::now(), crate::progress::thread_cpu_ms());
            let r = write::geopackage::write(gpkg, rx).map_err(|e| Error::Write {
                path: gpkg.clone(),
                message: e.to_string(),
            });
            debug!(
                ms = t0.elapsed().as_millis() as u64,
                cpu_ms = crate::progress::thread_cpu_ms().saturating_sub(c0),
                "GeoPackage written"
            );
            r
        });
        // A send fails only when the writer has stopped on an error, which its join reports.
        for l in layers {
            let _ = tx.send(Arc::clone(l));
        }
        // The GeoPackage writer is the stage's longest thread (W5: ~0.45 s of CPU against
        // ~0.35 s for the statistics and the GeoJSON); with rayon's whole pool for these, the
        // writer shared a core with them and took ~1.5× its CPU time. So they run on a pool
        // that leaves it a core (on 2 cores: one thread), unless there is only one.
        let rest = || {
            let t0 = Instant::now();
            let (value, more) = late();
            for l in more {
                let _ = tx.send(Arc::new(l));
            }
            drop(tx);
            debug!(ms = t0.elapsed().as_millis() as u64, "global statistics");
            let t0 = Instant::now();
            let geojson = layers
                .iter()
                .filter(|l| l.geom != GeomKind::None)
                .map(|l| {
                    let path = dir.join("geojson").join(format!("{}.geojson", l.name));
                    write::geojson::write(&path, l, geojson_decimals, Some(cache))
                        .map(|r| (l.geom == GeomKind::MultiPolygon).then_some(r))
                        .map_err(|e| Error::Write {
                            path,
                            message: e.to_string(),
                        })
                })
                .filter_map(Result::transpose)
                .collect::<Result<Vec<GeoJsonReport>, Error>>();
            debug!(ms = t0.elapsed().as_millis() as u64, "GeoJSON written");
            (value, geojson)
        };
        // Without a pool of its own (threads refused), the work runs on rayon's global one.
        let (value, geojson) = match side_pool() {
            Some(pool) => pool.install(rest),
            None => rest(),
        };
        let gpkg = gpkg_thread
            .join()
            .unwrap_or_else(|_| Err(Error::Invariant("the GeoPackage writer panicked".into())));
        (gpkg, geojson, value)
    });
    gpkg_written?;
    Ok((value, geojson_written?))
}

/// The pool beside the GeoPackage writer: one thread fewer than rayon's global pool, at least
/// one. Built once, its threads live as long as the process, as the global pool's do: with a
/// pool dropped after each run, its threads were still exiting (their thread-local state,
/// PROJ's and GDAL's among it, being torn down) when a failed run's process exited, and
/// `nightly::a_full_disk…` died of SIGABRT in 7 of 50 runs; none in 40 with this pool.
fn side_pool() -> Option<&'static rayon::ThreadPool> {
    static POOL: std::sync::OnceLock<Option<rayon::ThreadPool>> = std::sync::OnceLock::new();
    POOL.get_or_init(|| {
        rayon::ThreadPoolBuilder::new()
            .num_threads(rayon::current_num_threads().saturating_sub(1).max(1))
            .thread_name(|i| format!("smartgap-write-{i}"))
            .build()
            .ok()
    })
    .as_ref()
}

/// Adds the region layers' QGIS styles to `dir/smartgap.gpkg` (`layer_styles`) and writes the
/// QGIS project `dir/smartgap.qgs` that opens them with their default styles. The styles'
/// `update_time` is the GeoPackage's fixed timestamp, so reruns give the same rows.
///
/// # Errors
/// The GeoPackage refuses the styles, or the project cannot be written.
pub fn qgis(
    dir: &Path,
    layers: &[Arc<OutLayer>],
    legend: &[LegendRow],
    tiers: &[Tier],
) -> Result<(), Error> {
    let t0 = Instant::now();
    let region: Vec<&OutLayer> = layers.iter().map(|l| &**l).collect();
    let styles = write::styles::for_layers(region.iter().copied(), legend, tiers);
    let gpkg = dir.join("smartgap.gpkg");
    write::styles::write(&gpkg, &styles, write::geopackage::FIXED_TIMESTAMP).map_err(|e| {
        Error::Write {
            path: gpkg.clone(),
            message: e.to_string(),
        }
    })?;
    write::qgis_project::write(dir, &region, &styles)?;
    debug!(
        styles = styles.len(),
        ms = t0.elapsed().as_millis() as u64,
        "QGIS styles and project written"
    );
    Ok(())
}

/// Writes the weights of each level as `dir/weights/<level>.gal`.
///
/// # Errors
/// A file that cannot be written, naming it.
pub fn weights(dir: &Path, spatial: &[LevelSpatial]) -> Result<(), Error> {
    let dir = dir.join("weights");
    std::fs::create_dir_all(&dir).map_err(|e| Error::write_io(&dir, &e))?;
    for sp in spatial {
        let path = dir.join(format!("{}.gal", sp.level));
        std::fs::write(&path, gal(sp)).map_err(|e| Error::write_io(&path, &e))?;
    }
    Ok(())
}

/// Writes `value` as pretty JSON with a final newline.
///
/// # Errors
/// The file cannot be written, or `value` cannot be serialised.
pub fn json(path: &Path, value: &impl Serialize) -> Result<(), Error> {
    let text = serde_json::to_string_pretty(value).map_err(|e| Error::Write {
        path: path.to_path_buf(),
        message: e.to_string(),
    })?;
    std::fs::write(path, text + "\n").map_err(|e| Error::write_io(path, &e))
}

/// The weights of each level as GAL text (GeoDa / PySAL `libpysal.io.open(...).read()`), ids
/// are region codes.
pub fn gal(sp: &LevelSpatial) -> String {
    let mut out = format!("0 {} {} code\n", sp.codes.len(), sp.level);
    for (code, nb) in sp.codes.iter().zip(&sp.weights.neighbors) {
        out.push_str(&format!("{code} {}\n", nb.len()));
        out.push_str(
            &nb.iter()
                .map(|&j| sp.codes[j].as_str())
                .collect::<Vec<_>>()
                .join(" "),
        );
        out.push('\n');
    }
    out
}
