//! What the stages hand to one another, and the clock that times them.

use std::collections::HashSet;
use std::time::Instant;

use tracing::{debug, info};

use crate::assign::{self, Assigned, RegionAttributes};
use crate::config::{InputKind, Locate, Pipeline};
use crate::crosswalk::Crosswalk;
use crate::error::Error;
use crate::locate::Locator;
use crate::model::{Boundaries, Investment, Reject};
use crate::progress::{checkpoint, peak_rss_mib, per_second};
use crate::read::{self, InputFile};
use crate::stream::{self, Streamed};
use crate::write::{self, OutLayer};

/// What the read stage gives: the records of the materialised inputs, the streamed inputs'
/// totals, and every reject so far.
#[derive(Debug, Default)]
pub struct Inputs {
    pub records: Vec<Investment>,
    pub rejects: Vec<Reject>,
    /// One per input, in config order.
    pub files: Vec<InputFile>,
    /// Streamed inputs, by index of the input (their listed rejects moved to `rejects`).
    pub streamed: Vec<(usize, Streamed)>,
    /// Every readable amount, assigned or rejected later.
    pub read_krw: i128,
    /// Time spent streaming (reading, locating and folding in one pass).
    pub stream_ms: u64,
}

/// What the assign stage gives (its rejects are added to [`Inputs::rejects`]).
#[derive(Debug, Default)]
pub struct Assignment {
    /// Investment records, in record order.
    pub money: Vec<Assigned>,
    /// Attribute records (the report's tiers), less those in conflict.
    pub attrs: Vec<Assigned>,
    pub attributes: RegionAttributes,
}

/// Reads every input: materialised ones into records, streamed ones located and folded.
pub fn read_inputs(p: &Pipeline, boundaries: &Boundaries) -> Result<Inputs, Error> {
    debug!(peak_rss_mib = peak_rss_mib(), "boundaries read");
    let mut inputs = Inputs::default();
    // Points of streamed inputs are placed at the finest level, or at a coarser one in gaps;
    // streaming builds its grids in each input's own CRS.
    let locators: Vec<(usize, Locator<'_>)> = if p.inputs.iter().any(|i| i.stream) {
        (0..boundaries.levels.len())
            .rev()
            .map(|li| (li, Locator::new(&boundaries.levels[li])))
            .collect()
    } else {
        Vec::new()
    };
    debug!(peak_rss_mib = peak_rss_mib(), "locators built");
    for (i, spec) in p.inputs.iter().enumerate() {
        if spec.stream {
            let t = Instant::now();
            let cache = stream::GridCache {
                dir: p.output_dir.join("cache"),
                boundaries: read::checksum(&p.boundaries.path)?,
            };
            let s = stream::run(i, spec, &p.indicators.periods, &locators, Some(&cache))?;
            inputs.stream_ms += t.elapsed().as_millis() as u64;
            inputs.files.push(s.file.clone());
            inputs.streamed.push((i, s));
            continue;
        }
        let r = read::records(i, spec)?;
        info!(input = %spec.name, rows = r.file.rows, readable = r.records.len(), rejected = r.rejects.len(), "read");
        inputs.records.extend(r.records);
        inputs.rejects.extend(r.rejects);
        inputs.files.push(r.file);
    }
    inputs.read_krw = inputs
        .records
        .iter()
        .map(|r| r.amount_krw)
        .chain(inputs.rejects.iter().map(|r| r.amount_krw))
        .map(|a| i128::from(a.unwrap_or(0)))
        .sum::<i128>()
        + inputs
            .streamed
            .iter()
            .map(|(_, s)| s.read_krw)
            .sum::<i128>();
    for (_, s) in &mut inputs.streamed {
        inputs.rejects.append(&mut s.rejects);
    }
    Ok(inputs)
}

/// Assigns the materialised records (codes through the crosswalk, names, points, polygons),
/// splits investments from attribute records and resolves conflicting attributes.
pub fn assign_records(
    p: &Pipeline,
    boundaries: &Boundaries,
    inputs: &mut Inputs,
) -> Result<Assignment, Error> {
    let crosswalk = match &p.crosswalk {
        Some(path) => read::crosswalk(path)?,
        None => Crosswalk::default(),
    };
    let uses_kostat = p
        .inputs
        .iter()
        .any(|i| matches!(i.locate, Locate::KostatCode { .. }));
    let kostat = match &p.population {
        Some(spec) if uses_kostat => read::kostat_codes(spec)?,
        _ => None,
    };
    let records = &inputs.records;
    let assignment = assign::assign(boundaries, &crosswalk, kostat.as_ref(), records);
    inputs.rejects.extend(assignment.rejects);
    let (money, attrs): (Vec<_>, Vec<_>) = assignment.assigned.into_iter().partition(|a| {
        matches!(
            p.inputs[records[a.record].input].kind,
            InputKind::Investments
        )
    });
    let attributes = assign::attributes(records, &attrs, &mut inputs.rejects);
    let conflicted: HashSet<(usize, u64)> =
        inputs.rejects.iter().map(|r| (r.input, r.row)).collect();
    let attrs: Vec<Assigned> = attrs
        .into_iter()
        .filter(|a| !conflicted.contains(&(records[a.record].input, records[a.record].row)))
        .collect();
    inputs.rejects.sort_by_key(|r| (r.input, r.row));
    Ok(Assignment {
        money,
        attrs,
        attributes,
    })
}

/// The `assignments` table: every assigned materialised record, in (input, row) order.
pub fn assignments_layer(p: &Pipeline, inputs: &Inputs, assigned: &Assignment) -> OutLayer {
    let records = &inputs.records;
    let names: Vec<String> = p.inputs.iter().map(|i| i.name.clone()).collect();
    let mut all: Vec<Assigned> = assigned
        .money
        .iter()
        .chain(&assigned.attrs)
        .cloned()
        .collect();
    all.sort_by_key(|a| (records[a.record].input, records[a.record].row));
    write::assignments_layer(records, &all, &names)
}

/// Wall time per stage, for the manifest and the log; each lap is also a [`checkpoint`].
pub struct Clock {
    lap_started: Instant,
    timings: Vec<(String, u64)>,
}

impl Clock {
    pub fn new() -> Clock {
        Clock {
            lap_started: Instant::now(),
            timings: Vec::new(),
        }
    }

    /// Ends stage `name`: records and returns its milliseconds.
    pub fn lap(&mut self, name: &str) -> u64 {
        let ms = self.lap_started.elapsed().as_millis() as u64;
        self.timings.push((name.to_string(), ms));
        self.lap_started = Instant::now();
        debug!(stage = name, ms, peak_rss_mib = peak_rss_mib(), "stage");
        checkpoint(name);
        ms
    }

    /// Ends the read stage; streaming (read, reproject and locate in one pass) is reported as
    /// a stage of its own.
    pub fn read_done(&mut self, inputs: &Inputs, boundaries: &Boundaries) {
        let ms = self.lap("read");
        if !inputs.streamed.is_empty() {
            if let Some(t) = self.timings.last_mut() {
                t.1 = t.1.saturating_sub(inputs.stream_ms);
            }
            self.timings.push(("stream".to_string(), inputs.stream_ms));
        }
        info!(
            regions = boundaries
                .levels
                .iter()
                .map(|l| l.regions.len())
                .sum::<usize>(),
            records = inputs.records.len(),
            ms,
            rows_per_s = per_second(inputs.records.len(), ms),
            "read done"
        );
    }

    /// Ends the assign stage.
    pub fn assign_done(&mut self, inputs: &Inputs, assigned: &Assignment) {
        let ms = self.lap("assign");
        info!(
            assigned = assigned.money.len() + assigned.attrs.len(),
            rejected = inputs.rejects.len(),
            ms,
            rows_per_s = per_second(inputs.records.len(), ms),
            "assign done"
        );
    }

    pub fn timings(&self) -> Vec<(String, u64)> {
        self.timings.clone()
    }
}

/// Drops `value` on a new thread (or on this one if no thread can be started).
pub fn free_in_background<T: Send + 'static>(value: T) {
    let _ = std::thread::Builder::new()
        .name("smartgap-free".into())
        .spawn(move || drop(value));
}
