//! The nightly job, top to bottom: read → assign → aggregate → indicators → write → publish.
//!
//! [`run`] is the stages in order; each stage's work lives in its own module, and `stages` only
//! gathers what each needs from the ones before it and times them.

mod stages;

use tracing::{info, warn};

use crate::config::{self, Pipeline};
use crate::error::Error;
use crate::progress::checkpoint;
use crate::publish;
use crate::read;
use crate::report::RunReport;

use self::stages::{Clock, Run};

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
    crate::gdal_log::install();
    config::load(path, &Headers)
}

/// Column names as the readers see them, for validation: GDAL's for every format, the streaming
/// readers' own for the CSV and GeoParquet inputs they read.
#[derive(Debug, Clone, Copy, Default)]
struct Headers;

impl config::Headers for Headers {
    fn fields(
        &self,
        path: &std::path::Path,
        layer: Option<&str>,
    ) -> Result<Vec<String>, config::HeaderError> {
        Ok(read::field_names(path, layer)?)
    }

    fn input_fields(
        &self,
        path: &std::path::Path,
        layer: Option<&str>,
        encoding: crate::config::Encoding,
        header_row: usize,
        stream: bool,
    ) -> Result<Vec<String>, config::HeaderError> {
        crate::stream::field_names(path, encoding, header_row)
            .filter(|_| stream)
            .unwrap_or_else(|| {
                read::field_names_at(path, layer, encoding, header_row).map_err(Into::into)
            })
    }
}

/// The nightly entry point: skips the run when the published outputs already come from the
/// same fingerprint (same version, config and input checksums), unless `force`; the checksums
/// of unchanged inputs are remembered across runs in `<output_dir>/cache/`, and `rehash`
/// hashes every input again and rewrites that store (see `read::checksum()`). Returns `None`
/// when skipped.
pub fn run_incremental_with(
    p: &Pipeline,
    force: bool,
    rehash: bool,
) -> Result<Option<RunOutcome>, Error> {
    read::checksum::use_store(Some(&p.output_dir.join("cache")), rehash);
    let outcome = run_skipping(p, force);
    read::checksum::save();
    outcome
}

fn run_skipping(p: &Pipeline, force: bool) -> Result<Option<RunOutcome>, Error> {
    // A night whose PostGIS publish failed is not skipped: the database still has an older
    // run than the files.
    if !force
        && let Some(run) = publish::unchanged(&p.output_dir, &publish::fingerprint(p)?)
        && (p.postgis.is_none() || publish::postgis_published(&p.output_dir) == Some(run.clone()))
    {
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
    crate::gdal_log::install();
    let _lock = publish::lock(&p.output_dir)?;
    publish::tidy(&p.output_dir);
    // Hashing the inputs (a second per GB) overlaps reading them.
    let fingerprinting = {
        let p = p.clone();
        std::thread::spawn(move || publish::fingerprint(&p))
    };
    let mut clock = Clock::new();

    let (boundaries, geography) = crate::geography::load(p)?;
    let boundaries_key = crate::geography::key(p)?;
    let groups = match &p.region_groups {
        Some(g) => read::region_groups(g)?,
        None => Vec::new(),
    };
    let run = Run {
        p,
        boundaries: &boundaries,
        groups: &groups,
        geography: geography.as_ref(),
        boundaries_key: &boundaries_key,
    };
    let mut inputs = run.read()?;
    clock.read_done(&inputs, &boundaries);

    let assigned = run.assign(&mut inputs)?;
    clock.assign_done(&inputs, &assigned);

    let agg = run.aggregate(&inputs, &assigned)?;
    clock.lap("aggregate");

    let mut indicators = run.indicators(&agg, &inputs, &assigned)?;
    clock.lap("indicators");

    let staging = publish::stage(&p.output_dir)?;
    let written = run.write(&staging.dir, &agg, &mut indicators)?;
    clock.lap("write");

    // The inputs hashed (a memo for the report, which takes the fingerprint again, made of the
    // checksums of the bytes read).
    fingerprinting
        .join()
        .map_err(|_| Error::Invariant("fingerprinting panicked".into()))??;
    let report = run.report(
        &staging.id,
        &inputs,
        &assigned,
        &agg,
        written.geojson.clone(),
        clock.timings(),
    )?;
    run.document(&staging.dir, &report, &written, &indicators)?;
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
    stages::free_in_background((boundaries, groups, inputs, assigned, agg, indicators));
    let run_dir = staging.publish(p.keep_runs)?;
    info!(run = %report.run_id, dir = %run_dir.display(), "published");
    if let Some(pg) = &p.postgis {
        // The files are published whatever the database does; a failure exits 1 and the
        // next night, finding no mark of this run in the database, runs again.
        crate::postgis::publish(pg, &run_dir.join("smartgap.gpkg"), &report.run_id)?;
        publish::mark_postgis(&p.output_dir, &report.run_id)?;
    }
    Ok(RunOutcome { report, run_dir })
}
