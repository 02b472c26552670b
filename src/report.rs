//! The run manifest (`run.json`): what ran, on which inputs, with which totals and rejects.

use std::collections::BTreeMap;

use serde::Serialize;

use crate::aggregate::Aggregates;
use crate::assign::Assigned;
use crate::config::Pipeline;
use crate::error::Error;
use crate::model::{Boundaries, Investment, Reject};
use crate::read::{self, InputFile};
use crate::stream::Streamed;

#[derive(Debug, Clone, Serialize)]
pub struct RunReport {
    pub smartgap_version: &'static str,
    pub git_commit: &'static str,
    pub run_id: String,
    /// sha256 over the smartgap version, the resolved config and every input's sha256: a
    /// nightly run whose fingerprint equals the published one has nothing new to do.
    pub(crate) fingerprint: String,
    pub(crate) pipeline: Pipeline,
    pub(crate) boundaries: BoundariesReport,
    pub inputs: Vec<InputReport>,
    pub totals: Totals,
    pub levels: Vec<LevelReport>,
    pub rejects_by_reason: BTreeMap<String, RejectSummary>,
    /// What snap-rounding to the GeoJSON grid did to each polygon layer.
    pub geojson: Vec<GeoJsonReport>,
    /// Wall time per stage in milliseconds, in stage order.
    timings_ms: Vec<(String, u64)>,
    /// What the run changed in its outputs and wants read: programme ids whose output columns
    /// would have collided, renamed (`write::program_columns`).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub warnings: Vec<String>,
}

/// One GeoJSON polygon layer made valid at its output precision (`write::snap`).
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct GeoJsonReport {
    pub layer: String,
    pub(crate) decimals: u32,
    pub(crate) features: usize,
    /// Features whose area changed at all when snapped to the grid.
    pub(crate) features_changed: usize,
    /// The largest relative change of a feature's area (in CRS84 degrees²), and where.
    pub largest_area_change: f64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) largest_area_change_id: Option<String>,
    /// Features whose whole polygon collapsed at this precision: written without geometry
    /// (a warning in the log names each).
    pub collapsed: Vec<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct BoundariesReport {
    pub file: InputFile,
    pub regions: BTreeMap<String, usize>,
    /// The units' vintage when `[boundaries] as_of` derived them ([`crate::geography`]).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub vintage: Option<crate::geography::Vintage>,
}

#[derive(Debug, Clone, Serialize)]
pub struct InputReport {
    pub name: String,
    pub file: InputFile,
    pub assigned: u64,
    pub(crate) rejected: u64,
    /// Sum of every readable amount of the input (assigned + rejected).
    pub amount_krw: i128,
    /// Read in chunks and folded into per-region totals: its records are not listed in the
    /// `assignments` table, ids are not checked for duplicates, and only the first 10,000
    /// rejects are listed in the `rejects` layer (all are counted here and in the totals).
    pub streamed: bool,
    /// Where a streamed input's time went; absent for inputs read whole.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub stream_profile: Option<StreamProfile>,
}

/// Σ input = Σ assigned + Σ rejected, checked exactly in integer KRW.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Totals {
    /// Records read: data rows but the skipped ones.
    pub input_records: u64,
    /// Subtotal and footer rows (`합계`, `※ …`, `skip_rows`): not records, and their amounts
    /// are in none of the KRW totals.
    pub skipped_records: u64,
    pub assigned_records: u64,
    pub rejected_records: u64,
    pub input_krw: i128,
    pub assigned_krw: i128,
    /// Rejected amounts that were read, all ≥ 0.
    pub rejected_krw: i128,
    /// The negative amounts read (rejected as `amount_negative`), ≤ 0, kept apart so they do
    /// not net against `rejected_krw`: input = assigned + rejected + rejected_negative.
    pub rejected_negative_krw: i128,
}

#[derive(Debug, Clone, Serialize)]
pub struct LevelReport {
    pub level: String,
    pub regions: usize,
    regions_with_records: usize,
    pub amount_krw: i128,
    /// Money resolved only to a coarser level, so in no region of this level.
    pub held_above_krw: i128,
    /// Money in finer regions this level does not cover (the city level: every 시군구 that is
    /// no 일반구); 0 for levels that cover the country.
    pub uncovered_krw: i128,
    /// Money of polygon records lying outside every region (sea, abroad).
    pub outside_krw: i128,
}

#[derive(Debug, Clone, Default, Serialize)]
pub struct RejectSummary {
    pub count: u64,
    pub amount_krw: i128,
}

pub use crate::stream::StreamProfile;
pub use crate::{GIT_COMMIT, VERSION};

/// Σ read = Σ assigned + Σ rejected, in records and in KRW, over the materialised and the
/// streamed inputs.
///
/// # Errors
/// [`Error::Invariant`] when either balance does not hold.
pub fn totals(
    read_krw: i128,
    records: &[Investment],
    money: &[Assigned],
    attrs: &[Assigned],
    rejects: &[Reject],
    streamed: &[(usize, Streamed)],
    files: &[InputFile],
) -> Result<Totals, Error> {
    let skipped_records: u64 = files.iter().map(|f| f.skipped_rows).sum();
    let input_records: u64 = files
        .iter()
        .map(|f| f.rows)
        .sum::<u64>()
        .saturating_sub(skipped_records);
    let unlisted = || streamed.iter().flat_map(|(_, s)| s.unlisted.values());
    let assigned_krw: i128 = money
        .iter()
        .map(|a| i128::from(records[a.record].amount_krw.unwrap_or(0)))
        .sum::<i128>()
        + streamed.iter().map(|(_, s)| s.assigned_krw).sum::<i128>();
    // Negative amounts (rejected as such) are summed apart, so they do not net against the
    // money that was rejected for other reasons.
    let listed = rejects
        .iter()
        .map(|r| i128::from(r.amount_krw.unwrap_or(0)));
    let unlisted_krw = unlisted().map(|u| u.1);
    let rejected_krw: i128 = listed
        .clone()
        .chain(unlisted_krw.clone())
        .filter(|a| *a > 0)
        .sum();
    let rejected_negative_krw: i128 = listed.chain(unlisted_krw).filter(|a| *a < 0).sum();
    let t = Totals {
        input_records,
        skipped_records,
        assigned_records: (money.len() + attrs.len()) as u64
            + streamed.iter().map(|(_, s)| s.assigned_count).sum::<u64>(),
        rejected_records: rejects.len() as u64 + unlisted().map(|u| u.0).sum::<u64>(),
        input_krw: read_krw,
        assigned_krw,
        rejected_krw,
        rejected_negative_krw,
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
    if t.assigned_krw + t.rejected_krw + t.rejected_negative_krw != t.input_krw {
        return Err(Error::Invariant(format!(
            "{} KRW read, but {} assigned + {} rejected + {} in negative amounts",
            t.input_krw, t.assigned_krw, t.rejected_krw, t.rejected_negative_krw
        )));
    }
    Ok(t)
}

/// One report per input, in config order.
pub fn inputs(
    p: &Pipeline,
    files: &[InputFile],
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

/// Everything the manifest is made from, borrowed from the finished stages.
pub struct Facts<'a> {
    pub pipeline: &'a Pipeline,
    pub run_id: String,
    pub fingerprint: String,
    pub boundaries: &'a Boundaries,
    /// The vintage of derived boundaries (`[boundaries] as_of`).
    pub vintage: Option<&'a crate::geography::Vintage>,
    /// One per input, in config order.
    pub files: &'a [InputFile],
    pub records: &'a [Investment],
    /// Investment records assigned (money) and attribute records assigned.
    pub money: &'a [Assigned],
    pub attrs: &'a [Assigned],
    pub rejects: &'a [Reject],
    /// Streamed inputs, by index of the input.
    pub streamed: &'a [(usize, Streamed)],
    pub totals: Totals,
    pub aggregates: &'a Aggregates,
    pub geojson: Vec<GeoJsonReport>,
    pub timings_ms: Vec<(String, u64)>,
}

/// A warning per programme id whose output column was renamed because another id reduced to
/// the same column.
fn program_renames(programs: &[String]) -> Vec<String> {
    crate::model::program_columns(programs)
        .1
        .into_iter()
        .map(|(id, col)| {
            let w = format!(
                "programme id {:?} reduces to the same output column as another id: its column \
                 is {col}",
                crate::model::clip(&id, 64)
            );
            tracing::warn!("{w}");
            w
        })
        .collect()
}

impl RunReport {
    /// The manifest of a run.
    ///
    /// # Errors
    /// The boundaries file cannot be hashed.
    pub(crate) fn new(f: Facts<'_>) -> Result<RunReport, Error> {
        let p = f.pipeline;
        let b = f.boundaries;
        Ok(RunReport {
            smartgap_version: VERSION,
            git_commit: GIT_COMMIT,
            run_id: f.run_id,
            fingerprint: f.fingerprint,
            pipeline: p.clone(),
            boundaries: BoundariesReport {
                file: InputFile {
                    path: p.boundaries.path.clone(),
                    sha256: read::checksum(&p.boundaries.path)?,
                    rows: b.levels.iter().map(|l| l.regions.len() as u64).sum(),
                    skipped_rows: 0,
                    encoding: None,
                    warnings: Vec::new(),
                    repaired_rows: Vec::new(),
                },
                regions: b
                    .levels
                    .iter()
                    .map(|l| (l.level.to_string(), l.regions.len()))
                    .collect(),
                vintage: f.vintage.cloned(),
            },
            inputs: inputs(
                p, f.files, f.records, f.money, f.attrs, f.rejects, f.streamed,
            ),
            totals: f.totals,
            levels: f
                .aggregates
                .levels
                .iter()
                .map(|l| LevelReport {
                    level: l.level.clone(),
                    regions: l.regions.len(),
                    regions_with_records: l.regions.values().filter(|t| t.record_count > 0).count(),
                    amount_krw: l.sum_krw(),
                    held_above_krw: l.held_above_krw,
                    uncovered_krw: l.uncovered_krw,
                    outside_krw: l.outside_krw,
                })
                .collect(),
            rejects_by_reason: rejects_by_reason(f.rejects, f.streamed),
            geojson: f.geojson,
            timings_ms: f.timings_ms,
            warnings: program_renames(&f.aggregates.programs),
        })
    }

    /// Share of the input records rejected (0 when there were none).
    pub(crate) fn reject_share(&self) -> f64 {
        if self.totals.input_records == 0 {
            0.0
        } else {
            self.totals.rejected_records as f64 / self.totals.input_records as f64
        }
    }
}

/// Count and amount of the rejects by reason, listed and (of streamed inputs) unlisted.
fn rejects_by_reason(
    rejects: &[Reject],
    streamed: &[(usize, Streamed)],
) -> BTreeMap<String, RejectSummary> {
    let mut m: BTreeMap<String, RejectSummary> = BTreeMap::new();
    for r in rejects {
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
}
