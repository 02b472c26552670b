//! The nightly job, top to bottom: read → assign → aggregate → indicators → write → publish.
//!
//! [`run`] is the stages in order; each stage's work lives in its own module, and the helpers
//! here ([`stages`]) only gather what several stages hand to one another.

mod stages;

use std::sync::Arc;

use tracing::{info, warn};

use crate::aggregate;
use crate::config::{self, Pipeline};
use crate::error::Error;
use crate::indicators::levels::{self, LevelSpatial};
use crate::indicators::population::Populations;
use crate::progress::checkpoint;
use crate::publish;
use crate::read;
use crate::report::{self, Facts, RunReport};
use crate::write::{self, layers::Derived};

use self::stages::Clock;

/// What a finished run hands back: its manifest and where its outputs are.
#[derive(Debug)]
pub struct RunOutcome {
    pub report: RunReport,
    pub run_dir: std::path::PathBuf,
}

/// Reads, parses and validates a pipeline file, checking every configured column against the
/// headers of the files it names; every problem is reported at once (exit 2).
///
/// # Errors
/// The file cannot be read or parsed, or any setting or column is wrong.
pub fn load(path: &std::path::Path) -> Result<Pipeline, Box<config::ConfigError>> {
    config::load(path, &Headers)
}

/// Column names as the readers see them, for validation: GDAL's for every format, the streaming
/// readers' own for the CSV and GeoParquet inputs they read.
#[derive(Debug, Clone, Copy, Default)]
pub struct Headers;

impl config::Headers for Headers {
    fn fields(&self, path: &std::path::Path, layer: Option<&str>) -> Result<Vec<String>, String> {
        read::field_names(path, layer)
    }

    fn input_fields(
        &self,
        path: &std::path::Path,
        layer: Option<&str>,
        encoding: crate::config::Encoding,
        header_row: usize,
        stream: bool,
    ) -> Result<Vec<String>, String> {
        crate::stream::field_names(path, encoding, header_row)
            .filter(|_| stream)
            .unwrap_or_else(|| read::field_names_at(path, layer, encoding, header_row))
    }
}

/// The nightly entry point: skips the run when the published outputs already come from the
/// same fingerprint (same version, config and input checksums), unless `force`; the checksums
/// of unchanged inputs are remembered across runs in `<output_dir>/cache/` unless `rehash`
/// (see [`read::checksum()`]). Returns `None` when skipped.
pub fn run_incremental_with(
    p: &Pipeline,
    force: bool,
    rehash: bool,
) -> Result<Option<RunOutcome>, Error> {
    read::checksum::use_store((!rehash).then(|| p.output_dir.join("cache")).as_deref());
    let outcome = run_skipping(p, force);
    read::checksum::save();
    outcome
}

fn run_skipping(p: &Pipeline, force: bool) -> Result<Option<RunOutcome>, Error> {
    if !force && let Some(run) = publish::unchanged(&p.output_dir, &publish::fingerprint(p)?) {
        info!(
            run,
            "inputs, config and version unchanged; nothing to do (--force reruns)"
        );
        return Ok(None);
    }
    run(p).map(Some)
}

/// Runs the pipeline and publishes its outputs atomically.
///
/// # Errors
/// Any input, boundary or output problem, a broken money invariant, or more rejects than
/// `max_reject_share` (the run is then kept as `runs/<id>.failed`, not published).
pub fn run(p: &Pipeline) -> Result<RunOutcome, Error> {
    let _lock = publish::lock(&p.output_dir)?;
    // Hashing the inputs (a second per GB) overlaps reading them.
    let fingerprinting = {
        let p = p.clone();
        std::thread::spawn(move || publish::fingerprint(&p))
    };
    let mut clock = Clock::new();

    let boundaries = read::boundaries(&p.boundaries)?;
    let groups = match &p.region_groups {
        Some(g) => read::region_groups(g)?,
        None => Vec::new(),
    };
    let mut inputs = stages::read_inputs(p, &boundaries)?;
    clock.read_done(&inputs, &boundaries);

    let assigned = stages::assign_records(p, &boundaries, &mut inputs)?;
    clock.assign_done(&inputs, &assigned);

    let folded: Vec<_> = inputs.streamed.iter().map(|(_, s)| s.folded()).collect();
    let agg = aggregate::aggregate(
        &boundaries,
        &groups,
        &inputs.records,
        &assigned.money,
        &folded,
        &p.indicators.periods,
    );
    aggregate::check_invariants(&boundaries, &agg).map_err(Error::Invariant)?;
    let ms = clock.lap("aggregate");
    info!(assigned_krw = %agg.assigned_krw, ms, "aggregate done");
    let totals = report::totals(
        inputs.read_krw,
        &inputs.records,
        &assigned.money,
        &assigned.attrs,
        &inputs.rejects,
        &inputs.streamed,
        &inputs.files,
    )?;

    let boundaries_sha256 = read::checksum(&p.boundaries.path)?;
    let cache = crate::cache::Cache::new(&p.output_dir.join("cache"));
    let mut spatial: Vec<LevelSpatial> = boundaries
        .levels
        .iter()
        .zip(&agg.levels)
        .map(|(l, t)| {
            let t0 = std::time::Instant::now();
            let w = levels::weights(l, &p.indicators.spatial, Some(&cache), &boundaries_sha256);
            LevelSpatial::new(
                l,
                t,
                &p.indicators.spatial,
                w,
                t0.elapsed().as_millis() as u64,
            )
        })
        .collect();
    let population = match &p.population {
        Some(spec) => Populations::new(spec, &read::population(spec)?, &boundaries, &groups)?,
        None => Populations::default(),
    };
    let derived = Derived {
        spatial: &spatial,
        population: &population,
    };
    let layers = write::layers::build(
        p,
        &boundaries,
        &groups,
        &agg,
        &assigned.attributes,
        &inputs.rejects,
        derived,
    )?;
    let assignments = stages::assignments_layer(p, &inputs, &assigned);
    let ms = clock.lap("indicators");
    info!(layers = layers.len() + 3, ms, "indicators done");

    let staging = publish::stage(&p.output_dir)?;
    let layers: Vec<Arc<write::OutLayer>> = layers.into_iter().map(Arc::new).collect();
    // The global statistics only the last layers need are computed while the GeoPackage
    // writes the region layers.
    let summary = write::outputs::layers(
        &staging.dir,
        &layers,
        p.output.geojson_decimals,
        cache.dir(),
        || {
            for sp in spatial.iter_mut() {
                sp.moran(&p.indicators.spatial);
            }
            let top_tier = p.indicators.tiers.first().map_or(0.0, |t| t.min_krw as f64);
            let (mut summary, lorenz) =
                levels::summarize(&boundaries, &groups, &agg, &population, top_tier);
            summary.extend(levels::spatial_summary(
                &boundaries,
                &spatial,
                &p.indicators.spatial,
            ));
            let late = vec![
                write::summary_layer(&summary),
                assignments,
                write::lorenz_layer(&lorenz),
            ];
            (summary, late)
        },
    )?;
    write::outputs::weights(&staging.dir, &spatial)?;
    write::outputs::json(&staging.dir.join("summary.json"), &summary)?;
    clock.lap("write");

    let fingerprint = fingerprinting
        .join()
        .map_err(|_| Error::Invariant("fingerprinting panicked".into()))??;
    for (i, _) in &inputs.streamed {
        // Hashed by the fingerprint (memoised): the streamed file's own checksum.
        inputs.files[*i].sha256 = read::checksum(&p.inputs[*i].path)?;
    }
    let report = RunReport::new(Facts {
        pipeline: p,
        run_id: staging.id.clone(),
        fingerprint,
        boundaries: &boundaries,
        files: &inputs.files,
        records: &inputs.records,
        money: &assigned.money,
        attrs: &assigned.attrs,
        rejects: &inputs.rejects,
        streamed: &inputs.streamed,
        totals,
        aggregates: &agg,
        timings_ms: clock.timings(),
    })?;
    write::outputs::json(&staging.dir.join("run.json"), &report)?;
    checkpoint("report");

    for (reason, s) in &report.rejects_by_reason {
        warn!(reason = %reason, count = s.count, amount_krw = %s.amount_krw, "rejected records");
    }
    let share = report.reject_share();
    if share > p.max_reject_share {
        return Err(Error::TooManyRejects {
            rejected: report.totals.rejected_records,
            total: report.totals.input_records,
            share: share * 100.0,
            max: p.max_reject_share * 100.0,
            staging: staging.fail(),
        });
    }
    // Freeing the run's large structures is tens of milliseconds of free() (W2: the 리
    // geometries twice over, in the boundaries and the layers, and ~60 ms in all) that no
    // caller waits for: they go to a thread of their own, which a CLI process does not wait
    // for when it exits.
    stages::free_in_background((boundaries, groups, inputs, assigned, agg, layers, spatial));
    let run_dir = staging.publish(p.keep_runs)?;
    info!(run = %report.run_id, dir = %run_dir.display(), "published");
    Ok(RunOutcome { report, run_dir })
}
