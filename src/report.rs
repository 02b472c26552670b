//! The run manifest (`run.json`): what ran, on which inputs, with which totals and rejects.

use std::collections::BTreeMap;

use serde::Serialize;

use crate::config::Pipeline;
use crate::read::InputFile;

#[derive(Debug, Clone, Serialize)]
pub struct RunReport {
    pub smartgap_version: &'static str,
    pub git_commit: &'static str,
    pub run_id: String,
    /// sha256 over the smartgap version, the resolved config and every input's sha256: a
    /// nightly run whose fingerprint equals the published one has nothing new to do.
    pub fingerprint: String,
    pub pipeline: Pipeline,
    pub boundaries: BoundariesReport,
    pub inputs: Vec<InputReport>,
    pub totals: Totals,
    pub levels: Vec<LevelReport>,
    pub rejects_by_reason: BTreeMap<String, RejectSummary>,
    /// Wall time per stage in milliseconds, in stage order.
    pub timings_ms: Vec<(String, u64)>,
}

#[derive(Debug, Clone, Serialize)]
pub struct BoundariesReport {
    pub file: InputFile,
    pub regions: BTreeMap<String, usize>,
}

#[derive(Debug, Clone, Serialize)]
pub struct InputReport {
    pub name: String,
    pub file: InputFile,
    pub assigned: u64,
    pub rejected: u64,
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
    pub input_records: u64,
    pub assigned_records: u64,
    pub rejected_records: u64,
    pub input_krw: i128,
    pub assigned_krw: i128,
    pub rejected_krw: i128,
}

#[derive(Debug, Clone, Serialize)]
pub struct LevelReport {
    pub level: String,
    pub regions: usize,
    pub regions_with_records: usize,
    pub amount_krw: i128,
    /// Money resolved only to a coarser level, so in no region of this level.
    pub held_above_krw: i128,
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
