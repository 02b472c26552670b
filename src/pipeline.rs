//! The nightly job, top to bottom: read → assign → aggregate → indicators → write.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Instant;

use tracing::{debug, info, warn};

use crate::aggregate::{self, Aggregates};
use crate::assign::{self, Assigned};
use crate::config::{self, InputKind, Pipeline};
use crate::crosswalk::Crosswalk;
use crate::error::Error;
use crate::indicators;
use crate::indicators::population::Populations;
use crate::indicators::spatial;
use crate::indicators::summary::{self, Base, LorenzPoint, RegionValue, SummaryRow};
use crate::locate::Locator;
use crate::model::RegionGroup;
use crate::model::{AdminLevel, FundingSource};
use crate::model::{Boundaries, Investment, Reject};
use crate::progress::{checkpoint, peak_rss_mib, per_second};
use crate::publish;
use crate::read;
use crate::report::{
    BoundariesReport, GIT_COMMIT, InputReport, LevelReport, RejectSummary, RunReport, Totals,
    VERSION,
};
use crate::stream::{self, Streamed};
use crate::write::{self, OutLayer, RegionRow};

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

/// The fingerprint of a run: smartgap's version and commit, the resolved config and the sha256
/// of every file it reads.
pub fn fingerprint(p: &Pipeline) -> Result<String, Error> {
    use sha2::{Digest, Sha256};
    let mut h = Sha256::new();
    h.update(VERSION.as_bytes());
    h.update(GIT_COMMIT.as_bytes());
    let config =
        serde_json::to_string(p).map_err(|e| Error::Invariant(format!("config to JSON: {e}")))?;
    h.update(config.as_bytes());
    let mut files = vec![p.boundaries.path.clone()];
    files.extend(p.region_groups.as_ref().map(|g| g.path.clone()));
    files.extend(p.crosswalk.clone());
    files.extend(p.inputs.iter().map(|i| i.path.clone()));
    for f in files {
        h.update(read::checksum(&f)?.as_bytes());
    }
    Ok(h.finalize().iter().map(|b| format!("{b:02x}")).collect())
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
    if !force {
        let fp = fingerprint(p)?;
        let published = std::fs::read_to_string(p.output_dir.join("run.json"))
            .ok()
            .and_then(|t| serde_json::from_str::<serde_json::Value>(&t).ok());
        if let Some(prev) = published
            && prev["fingerprint"].as_str() == Some(fp.as_str())
        {
            info!(
                run = prev["run_id"].as_str().unwrap_or("?"),
                "inputs, config and version unchanged; nothing to do (--force reruns)"
            );
            return Ok(None);
        }
    }
    run(p).map(Some)
}

/// Runs the pipeline and publishes its outputs atomically.
pub fn run(p: &Pipeline) -> Result<RunOutcome, Error> {
    let _lock = publish::lock(&p.output_dir)?;
    // Hashing the inputs (a second per GB) overlaps reading them.
    let fingerprinting = {
        let p = p.clone();
        std::thread::spawn(move || fingerprint(&p))
    };
    let mut timings = Vec::new();
    let mut clock = Instant::now();
    let mut lap = |name: &str, timings: &mut Vec<(String, u64)>| {
        let ms = clock.elapsed().as_millis() as u64;
        timings.push((name.to_string(), ms));
        clock = Instant::now();
        tracing::debug!(stage = name, ms, peak_rss_mib = peak_rss_mib(), "stage");
        ms
    };

    // read
    let boundaries = read::boundaries(&p.boundaries)?;
    tracing::debug!(peak_rss_mib = peak_rss_mib(), "boundaries read");
    let groups = match &p.region_groups {
        Some(g) => read::region_groups(g)?,
        None => Vec::new(),
    };
    let mut records: Vec<Investment> = Vec::new();
    let mut rejects: Vec<Reject> = Vec::new();
    let mut files = Vec::new();
    let mut streamed: Vec<(usize, Streamed)> = Vec::new();
    let mut stream_ms = 0;
    // Points of streamed inputs are placed at the finest level, or at a coarser one in gaps.
    let locators: Vec<(usize, Locator<'_>)> = if p.inputs.iter().any(|i| i.stream) {
        (0..boundaries.levels.len())
            .rev()
            .map(|li| {
                // Streaming builds its grids in each input's own CRS.
                (li, Locator::new(&boundaries.levels[li]))
            })
            .collect()
    } else {
        Vec::new()
    };
    tracing::debug!(peak_rss_mib = peak_rss_mib(), "locators built");
    for (i, spec) in p.inputs.iter().enumerate() {
        if spec.stream {
            let t = Instant::now();
            let cache = stream::GridCache {
                dir: p.output_dir.join("cache"),
                boundaries: read::checksum(&p.boundaries.path)?,
            };
            let s = stream::run(i, spec, &p.indicators.periods, &locators, Some(&cache))?;
            stream_ms += t.elapsed().as_millis() as u64;
            files.push(s.file.clone());
            streamed.push((i, s));
            continue;
        }
        let r = read::records(i, spec)?;
        info!(input = %spec.name, rows = r.file.rows, readable = r.records.len(), rejected = r.rejects.len(), "read");
        records.extend(r.records);
        rejects.extend(r.rejects);
        files.push(r.file);
    }
    // The locators' edge lists are not needed past reading.
    drop(locators);
    let read_krw: i128 = records
        .iter()
        .map(|r| r.amount_krw)
        .chain(rejects.iter().map(|r| r.amount_krw))
        .map(|a| i128::from(a.unwrap_or(0)))
        .sum::<i128>()
        + streamed.iter().map(|(_, s)| s.read_krw).sum::<i128>();
    for (_, s) in &mut streamed {
        rejects.append(&mut s.rejects);
    }
    let ms = lap("read", &mut timings);
    checkpoint("read");
    if !streamed.is_empty() {
        // Streaming reads, reprojects and locates in one pass: report it as its own stage.
        if let Some(t) = timings.last_mut() {
            t.1 = t.1.saturating_sub(stream_ms);
        }
        timings.push(("stream".to_string(), stream_ms));
    }
    info!(
        regions = boundaries
            .levels
            .iter()
            .map(|l| l.regions.len())
            .sum::<usize>(),
        records = records.len(),
        ms,
        rows_per_s = per_second(records.len(), ms),
        "read done"
    );

    // assign
    let crosswalk = match &p.crosswalk {
        Some(path) => read::crosswalk(path)?,
        None => Crosswalk::default(),
    };
    let uses_kostat = p
        .inputs
        .iter()
        .any(|i| matches!(i.locate, crate::config::Locate::KostatCode { .. }));
    let kostat = match &p.population {
        Some(spec) if uses_kostat => read::kostat_codes(spec)?,
        _ => None,
    };
    let assignment = assign::assign(&boundaries, &crosswalk, kostat.as_ref(), &records);
    rejects.extend(assignment.rejects);
    let (money, attrs): (Vec<_>, Vec<_>) = assignment.assigned.into_iter().partition(|a| {
        matches!(
            p.inputs[records[a.record].input].kind,
            InputKind::Investments
        )
    });
    let attributes = assign::attributes(&records, &attrs, &mut rejects);
    let conflicted: std::collections::HashSet<(usize, u64)> =
        rejects.iter().map(|r| (r.input, r.row)).collect();
    let attrs: Vec<Assigned> = attrs
        .into_iter()
        .filter(|a| !conflicted.contains(&(records[a.record].input, records[a.record].row)))
        .collect();
    rejects.sort_by_key(|r| (r.input, r.row));
    let ms = lap("assign", &mut timings);
    checkpoint("assign");
    info!(
        assigned = money.len() + attrs.len(),
        rejected = rejects.len(),
        ms,
        rows_per_s = per_second(records.len(), ms),
        "assign done"
    );

    // aggregate
    let agg = aggregate::aggregate(
        &boundaries,
        &groups,
        &records,
        &money,
        &streamed.iter().map(|(_, s)| s.folded()).collect::<Vec<_>>(),
        &p.indicators.periods,
    );
    aggregate::check_invariants(&boundaries, &agg).map_err(Error::Invariant)?;
    let ms = lap("aggregate", &mut timings);
    checkpoint("aggregate");
    info!(assigned_krw = %agg.assigned_krw, ms, "aggregate done");

    // totals: every won read is assigned or rejected
    let totals = money_totals(
        read_krw, &records, &money, &attrs, &rejects, &streamed, &files,
    )?;

    // indicators + layers
    let weights_key = weights_cache_key(p)?;
    let mut spatial: Vec<LevelSpatial> = boundaries
        .levels
        .iter()
        .zip(&agg.levels)
        .map(|(l, t)| level_spatial(l, t, &p.indicators.spatial, &p.output_dir, &weights_key))
        .collect();
    let population = match &p.population {
        Some(spec) => Populations::new(spec, &read::population(spec)?, &boundaries, &groups)?,
        None => Populations::default(),
    };
    let derived = Derived {
        spatial: &spatial,
        population: &population,
    };
    let layers = build_layers(
        p,
        &boundaries,
        &groups,
        &agg,
        &attributes,
        &rejects,
        derived,
    )?;
    let names: Vec<String> = p.inputs.iter().map(|i| i.name.clone()).collect();
    let mut all: Vec<Assigned> = money.iter().chain(&attrs).cloned().collect();
    all.sort_by_key(|a| (records[a.record].input, records[a.record].row));
    let assignments = write::assignments_layer(&records, &all, &names);
    let ms = lap("indicators", &mut timings);
    checkpoint("indicators");
    info!(layers = layers.len() + 3, ms, "indicators done");

    // write, with the global statistics computed beside it: the GeoPackage (SQLite, one
    // thread) takes the layers as they are ready, so it writes the region layers while the
    // Moran permutations, inequality and Lorenz curves that only the summary and lorenz
    // layers need are computed, and the GeoJSON files (formatted in parallel) after them.
    // The stage takes about the GeoPackage's time instead of the sum.
    let staging = publish::stage(&p.output_dir)?;
    let gpkg = staging.dir.join("smartgap.gpkg");
    let cache = p.output_dir.join("cache");
    let layers: Vec<Arc<OutLayer>> = layers.into_iter().map(Arc::new).collect();
    let (gpkg_written, geojson_written, summary) = std::thread::scope(|scope| {
        let (tx, rx) = std::sync::mpsc::channel::<Arc<OutLayer>>();
        let gpkg = &gpkg;
        let gpkg_thread = scope.spawn(move || {
            let t0 = Instant::now();
            let r = write::geopackage::write(gpkg, rx).map_err(|message| Error::Write {
                path: gpkg.clone(),
                message,
            });
            debug!(ms = t0.elapsed().as_millis() as u64, "GeoPackage written");
            r
        });
        // A send fails only when the writer has stopped on an error, which its join reports.
        for l in &layers {
            let _ = tx.send(Arc::clone(l));
        }
        let t0 = Instant::now();
        for sp in spatial.iter_mut() {
            let y = &sp.y;
            sp.moran = spatial::moran(
                y,
                &sp.weights,
                p.indicators.spatial.permutations,
                p.indicators.spatial.seed,
            );
        }
        let top_tier = p.indicators.tiers.first().map_or(0.0, |t| t.min_krw as f64);
        let (mut summary, lorenz) = summarize(&boundaries, &groups, &agg, &population, top_tier);
        summary.extend(spatial_summary(
            &boundaries,
            &spatial,
            &p.indicators.spatial,
        ));
        let _ = tx.send(Arc::new(write::summary_layer(&summary)));
        let _ = tx.send(Arc::new(assignments));
        let _ = tx.send(Arc::new(write::lorenz_layer(&lorenz)));
        drop(tx);
        debug!(ms = t0.elapsed().as_millis() as u64, "global statistics");
        let t0 = Instant::now();
        let geojson = layers
            .iter()
            .filter(|l| l.geom != write::GeomKind::None)
            .try_for_each(|l| {
                let path = staging
                    .dir
                    .join("geojson")
                    .join(format!("{}.geojson", l.name));
                write::geojson::write(&path, l, p.output.geojson_decimals, Some(&cache))
                    .map_err(|message| Error::Write { path, message })
            });
        debug!(ms = t0.elapsed().as_millis() as u64, "GeoJSON written");
        let gpkg = gpkg_thread
            .join()
            .unwrap_or_else(|_| Err(Error::Invariant("the GeoPackage writer panicked".into())));
        (gpkg, geojson, summary)
    });
    gpkg_written?;
    geojson_written?;
    std::fs::create_dir_all(staging.dir.join("weights")).map_err(|e| Error::Write {
        path: staging.dir.join("weights"),
        message: e.to_string(),
    })?;
    for sp in &spatial {
        let path = staging
            .dir
            .join("weights")
            .join(format!("{}.gal", sp.level));
        std::fs::write(&path, gal(sp)).map_err(|e| Error::Write {
            path: path.clone(),
            message: e.to_string(),
        })?;
    }
    let summary_path = staging.dir.join("summary.json");
    let summary_json = serde_json::to_string_pretty(&summary).map_err(|e| Error::Write {
        path: summary_path.clone(),
        message: e.to_string(),
    })?;
    std::fs::write(&summary_path, summary_json + "\n").map_err(|e| Error::Write {
        path: summary_path.clone(),
        message: e.to_string(),
    })?;
    lap("write", &mut timings);
    checkpoint("write");

    let fingerprint = fingerprinting
        .join()
        .map_err(|_| Error::Invariant("fingerprinting panicked".into()))??;
    for (i, _) in &streamed {
        // Hashed by the fingerprint (memoised): the streamed file's own checksum.
        files[*i].sha256 = read::checksum(&p.inputs[*i].path)?;
    }
    let report = RunReport {
        smartgap_version: VERSION,
        git_commit: GIT_COMMIT,
        run_id: staging.id.clone(),
        fingerprint,
        pipeline: p.clone(),
        boundaries: BoundariesReport {
            file: read::InputFile {
                path: p.boundaries.path.clone(),
                sha256: read::checksum(&p.boundaries.path)?,
                rows: boundaries
                    .levels
                    .iter()
                    .map(|l| l.regions.len() as u64)
                    .sum(),
                encoding: None,
                warnings: Vec::new(),
            },
            regions: boundaries
                .levels
                .iter()
                .map(|l| (l.level.to_string(), l.regions.len()))
                .collect(),
        },
        inputs: input_reports(p, &files, &records, &money, &attrs, &rejects, &streamed),
        totals: totals.clone(),
        levels: agg
            .levels
            .iter()
            .map(|l| LevelReport {
                level: l.level.clone(),
                regions: l.regions.len(),
                regions_with_records: l.regions.values().filter(|t| t.record_count > 0).count(),
                amount_krw: l.sum_krw(),
                held_above_krw: l.held_above_krw,
                outside_krw: l.outside_krw,
            })
            .collect(),
        rejects_by_reason: {
            let mut m: BTreeMap<String, RejectSummary> = BTreeMap::new();
            for r in &rejects {
                let s = m.entry(r.reason.code().to_string()).or_default();
                s.count += 1;
                s.amount_krw += i128::from(r.amount_krw.unwrap_or(0));
            }
            for (reason, (count, krw)) in streamed.iter().flat_map(|(_, s)| &s.unlisted) {
                let s = m.entry(reason.code().to_string()).or_default();
                s.count += count;
                s.amount_krw += krw;
            }
            m
        },
        timings_ms: timings,
    };
    debug!("report built");
    let manifest = staging.dir.join("run.json");
    let json = serde_json::to_string_pretty(&report).map_err(|e| Error::Write {
        path: manifest.clone(),
        message: e.to_string(),
    })?;
    std::fs::write(&manifest, json + "\n").map_err(|e| Error::Write {
        path: manifest.clone(),
        message: e.to_string(),
    })?;

    checkpoint("report");
    for (reason, s) in &report.rejects_by_reason {
        warn!(reason = %reason, count = s.count, amount_krw = %s.amount_krw, "rejected records");
    }
    let share = if totals.input_records == 0 {
        0.0
    } else {
        totals.rejected_records as f64 / totals.input_records as f64
    };
    if share > p.max_reject_share {
        let staging = staging.fail();
        return Err(Error::TooManyRejects {
            rejected: totals.rejected_records,
            total: totals.input_records,
            share: share * 100.0,
            max: p.max_reject_share * 100.0,
            staging,
        });
    }
    // Freeing the run's large structures is tens of milliseconds of free() (W2: the 리
    // geometries twice over, in the boundaries and the layers, and ~60 ms in all) that no
    // caller waits for: they go to a thread of their own, which a CLI process does not wait
    // for when it exits.
    free_in_background((
        boundaries, groups, records, rejects, streamed, agg, layers, spatial,
    ));
    let run_dir = staging.publish(p.keep_runs)?;
    info!(run = %report.run_id, dir = %run_dir.display(), "published");
    Ok(RunOutcome { report, run_dir })
}

/// Drops `value` on a new thread (or on this one if no thread can be started).
fn free_in_background<T: Send + 'static>(value: T) {
    let _ = std::thread::Builder::new()
        .name("smartgap-free".into())
        .spawn(move || drop(value));
}

fn money_totals(
    read_krw: i128,
    records: &[Investment],
    money: &[Assigned],
    attrs: &[Assigned],
    rejects: &[Reject],
    streamed: &[(usize, Streamed)],
    files: &[read::InputFile],
) -> Result<Totals, Error> {
    let input_records: u64 = files.iter().map(|f| f.rows).sum();
    let unlisted = || streamed.iter().flat_map(|(_, s)| s.unlisted.values());
    let assigned_krw: i128 = money
        .iter()
        .map(|a| i128::from(records[a.record].amount_krw.unwrap_or(0)))
        .sum::<i128>()
        + streamed.iter().map(|(_, s)| s.assigned_krw).sum::<i128>();
    let rejected_krw: i128 = rejects
        .iter()
        .map(|r| i128::from(r.amount_krw.unwrap_or(0)))
        .sum::<i128>()
        + unlisted().map(|u| u.1).sum::<i128>();
    let t = Totals {
        input_records,
        assigned_records: (money.len() + attrs.len()) as u64
            + streamed.iter().map(|(_, s)| s.assigned_count).sum::<u64>(),
        rejected_records: rejects.len() as u64 + unlisted().map(|u| u.0).sum::<u64>(),
        input_krw: read_krw,
        assigned_krw,
        rejected_krw,
    };
    if t.assigned_records + t.rejected_records != t.input_records {
        return Err(Error::Invariant(format!(
            "{} records read from {} inputs, but {} assigned + {} rejected",
            t.input_records,
            files.len(),
            t.assigned_records,
            t.rejected_records
        )));
    }
    if t.assigned_krw + t.rejected_krw != t.input_krw {
        return Err(Error::Invariant(format!(
            "{} KRW read, but {} assigned + {} rejected",
            t.input_krw, t.assigned_krw, t.rejected_krw
        )));
    }
    Ok(t)
}

fn input_reports(
    p: &Pipeline,
    files: &[read::InputFile],
    records: &[Investment],
    money: &[Assigned],
    attrs: &[Assigned],
    rejects: &[Reject],
    streamed: &[(usize, Streamed)],
) -> Vec<InputReport> {
    p.inputs
        .iter()
        .zip(files)
        .enumerate()
        .map(|(i, (spec, file))| {
            let assigned: Vec<&Investment> = money
                .iter()
                .chain(attrs)
                .map(|a| &records[a.record])
                .filter(|r| r.input == i)
                .collect();
            let rej: Vec<&Reject> = rejects.iter().filter(|r| r.input == i).collect();
            if let Some((_, s)) = streamed.iter().find(|(k, _)| *k == i) {
                return InputReport {
                    name: spec.name.clone(),
                    file: file.clone(),
                    assigned: s.assigned_count,
                    rejected: rej.len() as u64 + s.unlisted.values().map(|u| u.0).sum::<u64>(),
                    amount_krw: s.read_krw,
                    streamed: true,
                    stream_profile: Some(s.profile.clone()),
                };
            }
            InputReport {
                name: spec.name.clone(),
                file: file.clone(),
                assigned: assigned.len() as u64,
                rejected: rej.len() as u64,
                amount_krw: assigned
                    .iter()
                    .map(|r| i128::from(r.amount_krw.unwrap_or(0)))
                    .sum::<i128>()
                    + rej
                        .iter()
                        .map(|r| i128::from(r.amount_krw.unwrap_or(0)))
                        .sum::<i128>(),
                streamed: false,
                stream_profile: None,
            }
        })
        .collect()
}

/// Inequality of amount per km² across the regions of every boundary level, decomposed by
/// 시도 (below the 시도 level) and by regional group.
fn summarize(
    b: &Boundaries,
    groups: &[RegionGroup],
    agg: &Aggregates,
    population: &Populations,
    top_tier_min_krw: f64,
) -> (Vec<SummaryRow>, Vec<LorenzPoint>) {
    let mut rows = Vec::new();
    let mut points = Vec::new();
    for (li, (l, totals)) in b.levels.iter().zip(&agg.levels).enumerate() {
        let mut partitions = Vec::new();
        if l.level != AdminLevel::Sido && b.level(AdminLevel::Sido).is_some() {
            partitions.push("sido");
        }
        if !groups.is_empty() {
            partitions.push("region_group");
        }
        let values: Vec<RegionValue> = l
            .regions
            .iter()
            .map(|r| {
                let sido = b
                    .lineage(l.level, &r.code)
                    .into_iter()
                    .find(|(lv, _)| *lv == AdminLevel::Sido)
                    .map(|(_, c)| c)
                    .unwrap_or_default();
                let group = groups
                    .iter()
                    .find(|g| g.sido_codes.contains(&sido))
                    .map(|g| g.id.clone())
                    .unwrap_or_default();
                let keys = partitions
                    .iter()
                    .map(|p| {
                        if *p == "sido" {
                            sido.clone()
                        } else {
                            group.clone()
                        }
                    })
                    .collect();
                let t = totals.regions.get(&r.code);
                let by = |f: FundingSource| {
                    t.and_then(|t| t.by_funding.get(&f))
                        .map_or(0.0, |v| *v as f64)
                };
                RegionValue {
                    population: population
                        .levels
                        .get(li)
                        .and_then(|m| m.get(&r.code))
                        .map(|v| *v as f64),
                    fee_krw: by(FundingSource::DevelopmentFee),
                    program_krw: by(FundingSource::NationalProgram),
                    amount_krw: t.map_or(0.0, |t| t.amount_krw as f64),
                    area_km2: r.area_km2,
                    groups: keys,
                }
            })
            .collect();
        let mut bases = vec![Base::Area];
        if population.levels.get(li).is_some_and(|m| !m.is_empty()) {
            bases.push(Base::Population);
        }
        for base in bases {
            let (r, p) = summary::summarize(l.level.as_str(), &values, &partitions, base);
            rows.extend(r);
            points.extend(p);
        }
        rows.extend(summary::rich_get_richer(
            l.level.as_str(),
            &values,
            top_tier_min_krw,
        ));
    }
    (rows, points)
}

/// What the layers need beyond the aggregates.
#[derive(Clone, Copy)]
struct Derived<'a> {
    spatial: &'a [LevelSpatial],
    population: &'a Populations,
}

/// Weights, global Moran and local statistics of one level's amount per km².
struct LevelSpatial {
    level: AdminLevel,
    codes: Vec<String>,
    weights: spatial::Weights,
    /// Amount per km² of each region, the variable of the spatial statistics.
    y: Vec<f64>,
    /// Global Moran's I, computed while the region layers are written.
    moran: Option<spatial::Moran>,
    local: Vec<spatial::Local>,
}

/// What the contiguity weights depend on: the boundary file and the spatial settings.
fn weights_cache_key(p: &Pipeline) -> Result<String, Error> {
    use sha2::{Digest, Sha256};
    let s = &p.indicators.spatial;
    let mut h = Sha256::new();
    h.update(read::checksum(&p.boundaries.path)?.as_bytes());
    h.update(
        format!(
            "{:?} {} {} {VERSION}",
            s.contiguity, s.tolerance_m, s.island_knn
        )
        .as_bytes(),
    );
    Ok(h.finalize()
        .iter()
        .take(12)
        .map(|b| format!("{b:02x}"))
        .collect())
}

/// Contiguity weights of a level, from the output directory's cache when the boundaries and
/// settings are the same as when they were built (they rarely change between nights).
fn cached_weights(
    l: &crate::model::LevelRegions,
    spec: &crate::config::SpatialSpec,
    out: &std::path::Path,
    key: &str,
) -> spatial::Weights {
    let dir = out.join("cache");
    let path = dir.join(format!("weights-{}-{key}.json", l.level));
    if let Some(w) = std::fs::read(&path)
        .ok()
        .and_then(|b| serde_json::from_slice::<(Vec<Vec<usize>>, Vec<usize>)>(&b).ok())
        .filter(|(nb, islands)| {
            // A cache that does not fit this level exactly is rebuilt, never trusted.
            let n = l.regions.len();
            nb.len() == n
                && nb
                    .iter()
                    .enumerate()
                    .all(|(i, row)| row.iter().all(|&j| j < n && j != i))
                && islands.iter().all(|&i| i < n)
        })
        .map(|(neighbors, islands)| spatial::Weights { neighbors, islands })
    {
        return w;
    }
    let polys: Vec<&geo::MultiPolygon<f64>> = l.regions.iter().map(|r| &r.geometry).collect();
    let w = spatial::contiguity(&polys, spec.tolerance_m, spec.contiguity, spec.island_knn);
    // A failed cache write only costs the next run the rebuild.
    if std::fs::create_dir_all(&dir).is_ok() {
        if let Ok(entries) = std::fs::read_dir(&dir) {
            let prefix = format!("weights-{}-", l.level);
            for e in entries.flatten() {
                if e.file_name().to_string_lossy().starts_with(&prefix) {
                    let _ = std::fs::remove_file(e.path());
                }
            }
        }
        if let Ok(json) = serde_json::to_vec(&(&w.neighbors, &w.islands)) {
            let tmp = dir.join(format!(".weights-{}-{key}.tmp", l.level));
            if std::fs::write(&tmp, json).is_ok() {
                let _ = std::fs::rename(&tmp, &path);
            }
        }
    }
    w
}

fn level_spatial(
    l: &crate::model::LevelRegions,
    totals: &aggregate::LevelTotals,
    spec: &crate::config::SpatialSpec,
    out: &std::path::Path,
    key: &str,
) -> LevelSpatial {
    let t0 = Instant::now();
    let weights = cached_weights(l, spec, out, key);
    let weights_ms = t0.elapsed().as_millis() as u64;
    let y: Vec<f64> = l
        .regions
        .iter()
        .map(|r| {
            let a = totals
                .regions
                .get(&r.code)
                .map_or(0.0, |t| t.amount_krw as f64);
            if r.area_km2 > 0.0 {
                a / r.area_km2
            } else {
                0.0
            }
        })
        .collect();
    let t2 = Instant::now();
    let local = spatial::local(&y, &weights, spec.permutations, spec.seed);
    let local_ms = t2.elapsed().as_millis() as u64;
    let islands = weights.islands.len();
    info!(level = %l.level, regions = l.regions.len(), islands, weights_ms, local_ms, "spatial");
    LevelSpatial {
        level: l.level,
        codes: l.regions.iter().map(|r| r.code.clone()).collect(),
        weights,
        y,
        moran: None,
        local,
    }
}

fn spatial_summary(
    b: &Boundaries,
    spatial: &[LevelSpatial],
    spec: &crate::config::SpatialSpec,
) -> Vec<SummaryRow> {
    let mut rows = Vec::new();
    for (l, sp) in b.levels.iter().zip(spatial) {
        let note = format!(
            "{:?} contiguity, tolerance {} m, {} island(s), {} permutations, seed {}",
            spec.contiguity,
            spec.tolerance_m,
            sp.weights.islands.len(),
            spec.permutations,
            spec.seed
        )
        .to_lowercase();
        let m = sp.moran.as_ref();
        for (indicator, value) in [
            ("moran_i", m.map(|m| m.i)),
            ("moran_ei", m.map(|m| m.ei)),
            ("moran_z_norm", m.map(|m| m.z_norm)),
            ("moran_p_norm", m.map(|m| m.p_norm)),
            ("moran_p_sim", m.and_then(|m| m.p_sim)),
            ("islands", Some(sp.weights.islands.len() as f64)),
        ] {
            rows.push(SummaryRow {
                level: l.level.to_string(),
                variable: summary::VARIABLE.into(),
                indicator: indicator.into(),
                weighting: "none".into(),
                partition: String::new(),
                n_regions: l.regions.len(),
                value,
                note: if value.is_none() {
                    format!("undefined (no variance or too few regions); {note}")
                } else {
                    note.clone()
                },
            });
        }
    }
    rows
}

/// The weights of each level as GAL text (GeoDa / PySAL `libpysal.io.open(...).read()`), ids
/// are region codes.
fn gal(sp: &LevelSpatial) -> String {
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

/// The output layers: one per boundary level, the regional groups, and the rejects.
fn build_layers(
    p: &Pipeline,
    b: &Boundaries,
    groups: &[RegionGroup],
    agg: &Aggregates,
    attributes: &assign::RegionAttributes,
    rejects: &[Reject],
    derived: Derived<'_>,
) -> Result<Vec<OutLayer>, Error> {
    let Derived {
        spatial,
        population,
    } = derived;
    let columns = write::ExtraColumns {
        programs: &agg.programs,
        periods: &p.indicators.periods,
    };
    let mut layers = Vec::new();
    for (li, ((l, totals), sp)) in b.levels.iter().zip(&agg.levels).zip(spatial).enumerate() {
        let rows: Vec<RegionRow<'_>> = l
            .regions
            .iter()
            .map(|r| RegionRow {
                code: &r.code,
                name: &r.name,
                full_name: &r.full_name,
                parent_code: r.parent_code.as_deref(),
                area_km2: r.area_km2,
                geometry: Some(&r.geometry),
            })
            .collect();
        let areas: Vec<f64> = l.regions.iter().map(|r| r.area_km2).collect();
        let mut ind = indicators::compute(totals, &areas, agg.assigned_krw, &p.indicators);
        for (i, r) in ind.iter_mut().enumerate() {
            r.neighbor_count = Some(sp.weights.neighbors[i].len() as u32);
            r.local = sp.local.get(i).cloned();
            population.apply(
                r,
                population
                    .levels
                    .get(li)
                    .and_then(|m| m.get(&l.regions[i].code)),
            );
        }
        layers.push(
            write::region_layer(
                l.level.as_str(),
                &rows,
                totals,
                &ind,
                &columns,
                Some((l.level, attributes)),
            )
            .map_err(Error::Invariant)?,
        );
    }
    if let (Some(gt), Some(sido)) = (
        agg.levels.get(b.levels.len()),
        b.level(crate::model::AdminLevel::Sido),
    ) {
        let geoms: Vec<Option<geo::MultiPolygon<f64>>> = groups
            .iter()
            .map(|g| {
                let parts: Vec<&geo::MultiPolygon<f64>> = g
                    .sido_codes
                    .iter()
                    .filter_map(|c| sido.get(c))
                    .map(|r| &r.geometry)
                    .collect();
                (!parts.is_empty()).then(|| dissolve(&parts))
            })
            .collect();
        let areas: Vec<f64> = groups
            .iter()
            .map(|g| {
                g.sido_codes
                    .iter()
                    .filter_map(|c| sido.get(c))
                    .map(|r| r.area_km2)
                    .sum()
            })
            .collect();
        let rows: Vec<RegionRow<'_>> = groups
            .iter()
            .zip(&geoms)
            .zip(&areas)
            .map(|((g, geom), area)| RegionRow {
                code: &g.id,
                name: &g.name,
                full_name: &g.name,
                parent_code: None,
                area_km2: *area,
                geometry: geom.as_ref(),
            })
            .collect();
        let mut ind = indicators::compute(gt, &areas, agg.assigned_krw, &p.indicators);
        for (r, g) in ind.iter_mut().zip(groups) {
            population.apply(r, population.groups.get(&g.id));
        }
        layers.push(
            write::region_layer("region_group", &rows, gt, &ind, &columns, None)
                .map_err(Error::Invariant)?,
        );
    }
    let names: Vec<String> = p.inputs.iter().map(|i| i.name.clone()).collect();
    let paths: Vec<String> = p
        .inputs
        .iter()
        .map(|i| i.path.display().to_string())
        .collect();
    layers.push(write::rejects_layer(rejects, &names, &paths));
    Ok(layers)
}

/// Union of the member polygons of a group (sums are by code; geometry is only for display).
fn dissolve(parts: &[&geo::MultiPolygon<f64>]) -> geo::MultiPolygon<f64> {
    let polys: Vec<geo::Polygon<f64>> = parts.iter().flat_map(|m| m.0.iter().cloned()).collect();
    geo::unary_union(&polys)
}
