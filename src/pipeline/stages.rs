//! What the stages hand to one another, and the clock that times them.

use std::collections::{BTreeMap, BTreeSet, HashSet};
use std::path::Path;
use std::sync::Arc;
use std::time::Instant;

use tracing::{debug, info};

use crate::aggregate::{self, Aggregates};
use crate::assign::{self, Assigned, RegionAttributes};
use crate::cache::Cache;
use crate::config::{InputKind, Locate, Pipeline};
use crate::crosswalk::Crosswalk;
use crate::error::Error;
use crate::indicators::legend::LegendRow;
use crate::indicators::levels::{self, LevelSpatial};
use crate::indicators::population::Populations;
use crate::indicators::summary::{LorenzPoint, SummaryRow};
use crate::locate::Locator;
use crate::model::{Boundaries, Investment, RegionCode, RegionGroup, Reject};
use crate::progress::{checkpoint, peak_rss_mib, per_second};
use crate::read::{self, InputFile};
use crate::report::{self, Facts, GeoJsonReport, RunReport, Totals};
use crate::stream::{self, Streamed};
use crate::write::{self, OutLayer, layers::Derived};

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

/// What a run's stages share: the config, the boundaries and the regional groups.
pub struct Run<'a> {
    pub p: &'a Pipeline,
    pub boundaries: &'a Boundaries,
    pub groups: &'a [RegionGroup],
    /// The geography derived for `[boundaries] as_of`, if any.
    pub geography: Option<&'a crate::geography::Geography>,
    /// [`crate::geography::key`]: the key of what is built from the boundaries.
    pub boundaries_key: &'a str,
}

/// What the aggregate stage gives.
#[derive(Debug)]
pub struct Aggregated {
    pub aggregates: Aggregates,
    /// Σ read = Σ assigned + Σ rejected, checked.
    pub totals: Totals,
}

/// What the indicators stage gives the write stage.
pub struct Indicators {
    /// The region layers and the rejects, with their indicators.
    pub layers: Vec<Arc<OutLayer>>,
    /// The `assignments` table (taken by the write stage).
    pub assignments: Option<OutLayer>,
    pub spatial: Vec<LevelSpatial>,
    pub population: Populations,
    /// Per level, the regions `[indicators] incumbents` names (for the summary).
    pub incumbents: Vec<BTreeSet<RegionCode>>,
    pub cache: Cache,
    /// The rows of the `legend` table, for the layers' styles.
    pub legend: Vec<LegendRow>,
}

impl Run<'_> {
    /// Reads every input: materialised ones into records, streamed ones located and folded.
    pub fn read(&self) -> Result<Inputs, Error> {
        let (p, boundaries) = (self.p, self.boundaries);
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
        let cache = stream::GridCache::new(
            Cache::new(&p.output_dir.join("cache")),
            self.boundaries_key.to_string(),
        );
        for (i, spec) in p.inputs.iter().enumerate() {
            if spec.stream {
                let t = Instant::now();
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
    pub fn assign(&self, inputs: &mut Inputs) -> Result<Assignment, Error> {
        let (p, boundaries) = (self.p, self.boundaries);
        let crosswalk = match (self.geography, &p.crosswalk) {
            (Some(g), _) => g.crosswalk.clone(),
            (None, Some(path)) => read::crosswalk(path)?,
            (None, None) => Crosswalk::default(),
        };
        let uses_kostat = p
            .inputs
            .iter()
            .any(|i| i.locates().any(|l| matches!(l, Locate::KostatCode { .. })));
        let kostat = match &p.population {
            Some(spec) if uses_kostat => read::kostat_codes(spec)?.map(|k| match self.geography {
                Some(g) => k.remap(|parts| g.remap_weights(parts)),
                None => k,
            }),
            _ => None,
        };
        let records = &inputs.records;
        let assignment = assign::assign(boundaries, &crosswalk, kostat.as_ref(), records);
        mismatch_warnings(records, &assignment.mismatches, &mut inputs.files);
        inputs.rejects.extend(assignment.rejects);
        let (money, attrs): (Vec<_>, Vec<_>) = assignment.assigned.into_iter().partition(|a| {
            matches!(
                p.inputs[records[a.record].input].kind,
                InputKind::Investments
            )
        });
        let attributes = assign::attributes(boundaries, records, &attrs, &mut inputs.rejects);
        let conflicted: HashSet<(usize, u64)> =
            inputs.rejects.iter().map(|r| (r.input, r.row)).collect();
        let attrs: Vec<Assigned> = attrs
            .into_iter()
            .filter(|a| !conflicted.contains(&(records[a.record].input, records[a.record].row)))
            .collect();
        inputs.rejects.sort_by_key(|r| (r.input, r.row));
        repair_warnings(&inputs.rejects, &mut inputs.files);
        Ok(Assignment {
            money,
            attrs,
            attributes,
        })
    }

    /// The `assignments` table: every assigned materialised record, in (input, row) order.
    fn assignments_layer(&self, inputs: &Inputs, assigned: &Assignment) -> OutLayer {
        let p = self.p;
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

    /// Sums per region and rolls up; checks that every won read is assigned or rejected.
    pub fn aggregate(&self, inputs: &Inputs, assigned: &Assignment) -> Result<Aggregated, Error> {
        let folded: Vec<_> = inputs.streamed.iter().map(|(_, s)| s.folded()).collect();
        let aggregates = aggregate::aggregate(
            self.boundaries,
            self.groups,
            &inputs.records,
            &assigned.money,
            &folded,
            &self.p.indicators.periods,
        );
        aggregate::check_invariants(self.boundaries, &aggregates)
            .map_err(|e| Error::Invariant(e.to_string()))?;
        info!(assigned_krw = %aggregates.assigned_krw, "aggregate done");
        let totals = report::totals(
            inputs.read_krw,
            &inputs.records,
            &assigned.money,
            &assigned.attrs,
            &inputs.rejects,
            &inputs.streamed,
            &inputs.files,
        )?;
        Ok(Aggregated { aggregates, totals })
    }

    /// Per-region indicators and the layers that carry them; the spatial statistics of every
    /// level (global Moran is left to [`Run::write`]).
    pub fn indicators(
        &self,
        agg: &Aggregated,
        inputs: &Inputs,
        assigned: &Assignment,
    ) -> Result<Indicators, Error> {
        let (p, b) = (self.p, self.boundaries);
        let agg = &agg.aggregates;
        let boundaries_sha256 = self.boundaries_key.to_string();
        let cache = Cache::new(&p.output_dir.join("cache"));
        let spatial: Vec<LevelSpatial> = b
            .levels
            .iter()
            .zip(&agg.levels)
            .map(|(l, t)| {
                let t0 = Instant::now();
                let w = levels::weights(l, &p.indicators.spatial, Some(&cache), &boundaries_sha256);
                let ms = t0.elapsed().as_millis() as u64;
                LevelSpatial::new(l, t, &p.indicators.spatial, w, ms)
            })
            .collect();
        let population = match &p.population {
            Some(spec) => {
                let given = read::population(spec)?;
                let given = match self.geography {
                    Some(g) => g.remap_counts(&given),
                    None => given,
                };
                Populations::new(spec, &given, b, self.groups)?
            }
            None => Populations::default(),
        };
        let derived = Derived {
            spatial: &spatial,
            population: &population,
        };
        let (layers, legend) = write::layers::build(
            p,
            b,
            self.groups,
            agg,
            &assigned.attributes,
            &inputs.rejects,
            derived,
        )?;
        info!(layers = layers.len() + 3, "indicators done");
        Ok(Indicators {
            layers: layers.into_iter().map(Arc::new).collect(),
            assignments: Some(self.assignments_layer(inputs, assigned)),
            spatial,
            population,
            incumbents: levels::incumbents(
                b,
                &assigned.attributes,
                p.indicators.incumbents.as_ref(),
            ),
            cache,
            legend,
        })
    }

    /// Writes the outputs into the staging folder `dir`. The global statistics that only the last
    /// layers need (Moran's I, inequality, Lorenz curves) are computed while the GeoPackage
    /// writes the region layers.
    /// Returns what the manifest and the HTML report need of it.
    pub fn write(
        &self,
        dir: &Path,
        agg: &Aggregated,
        ind: &mut Indicators,
    ) -> Result<Written, Error> {
        let (p, b) = (self.p, self.boundaries);
        let Indicators {
            layers,
            assignments,
            spatial,
            population,
            incumbents,
            cache,
            legend,
        } = ind;
        let assignments = assignments
            .take()
            .ok_or_else(|| Error::Invariant("the write stage ran twice".into()))?;
        let (records, rules) = records_and_rules(&assignments);
        let (summary, geojson) =
            write::outputs::layers(dir, layers, p.output.geojson_decimals, cache, || {
                for sp in spatial.iter_mut() {
                    sp.moran(&p.indicators.spatial);
                }
                let (mut summary, lorenz) = levels::summarize(
                    b,
                    incumbents,
                    self.groups,
                    &agg.aggregates,
                    population,
                    &p.indicators,
                );
                summary.extend(levels::spatial_summary(b, spatial, &p.indicators.spatial));
                let late = vec![
                    write::summary_layer(&summary),
                    assignments,
                    write::lorenz_layer(&lorenz),
                ];
                ((summary, lorenz), late)
            })?;
        let (summary, lorenz) = summary;
        write::outputs::weights(dir, spatial)?;
        write::outputs::qgis(dir, layers, legend, &p.indicators.tiers)?;
        write::outputs::json(&dir.join("summary.json"), &summary)?;
        Ok(Written {
            geojson,
            summary,
            lorenz,
            records,
            rules,
        })
    }

    /// The run's manifest. Each input's checksum is that of the bytes read (`read::watch`);
    /// the file must still have it (taken from the memo while `stat` reports no change), and
    /// the run's fingerprint is made of those checksums.
    /// `run.json`, the run's facts in the GeoPackage's manifest, and `report.html` with its maps
    /// (compared with the published night's `state.json`), into the staging folder `dir`.
    pub fn document(
        &self,
        dir: &Path,
        report: &RunReport,
        written: &Written,
        indicators: &Indicators,
    ) -> Result<(), Error> {
        crate::write::outputs::json(&dir.join("run.json"), report)?;
        crate::write::metadata::annotate(&dir.join("smartgap.gpkg"), report)?;
        let t0 = std::time::Instant::now();
        crate::html::write(
            dir,
            Some(&self.p.output_dir.join("current")),
            Some(&indicators.cache),
            &crate::html::Facts {
                report,
                layers: &indicators.layers,
                summary: &written.summary,
                lorenz: &written.lorenz,
                records: &written.records,
                rules: &written.rules,
            },
        )?;
        tracing::debug!(ms = t0.elapsed().as_millis() as u64, "report.html written");
        Ok(())
    }

    pub fn report(
        &self,
        run_id: &str,
        inputs: &Inputs,
        assigned: &Assignment,
        agg: &Aggregated,
        geojson: Vec<GeoJsonReport>,
        timings_ms: Vec<(String, u64)>,
    ) -> Result<RunReport, Error> {
        for (spec, file) in self.p.inputs.iter().zip(&inputs.files) {
            let now = read::checksum(&spec.path)?;
            if now != file.sha256 {
                let how = format!("sha256 {} as read, {now} now", file.sha256);
                let layer = spec.layer.as_deref().unwrap_or_default();
                return Err(read::watch::changed(&spec.path, layer, &how));
            }
        }
        let fingerprint = crate::publish::fingerprint(self.p)?;
        RunReport::new(Facts {
            pipeline: self.p,
            run_id: run_id.to_string(),
            fingerprint,
            boundaries: self.boundaries,
            vintage: self.geography.map(|g| &g.vintage),
            files: &inputs.files,
            records: &inputs.records,
            money: &assigned.money,
            attrs: &assigned.attrs,
            rejects: &inputs.rejects,
            streamed: &inputs.streamed,
            totals: agg.totals.clone(),
            aggregates: &agg.aggregates,
            geojson,
            timings_ms,
        })
    }
}

/// What the write stage hands on to the manifest and the HTML report.
pub struct Written {
    pub geojson: Vec<GeoJsonReport>,
    pub summary: Vec<SummaryRow>,
    pub lorenz: Vec<LorenzPoint>,
    /// The records assigned, as `input:record_id`.
    pub records: BTreeSet<String>,
    /// The crosswalk rules applied (rules with `→` or `←`) and their number of records.
    pub rules: BTreeMap<String, u64>,
}

/// The assigned records and the crosswalk rules of the `assignments` table.
fn records_and_rules(assignments: &OutLayer) -> (BTreeSet<String>, BTreeMap<String, u64>) {
    let col = |name: &str| assignments.fields.iter().position(|(n, _)| n == name);
    let text = |f: &write::OutFeature, i: Option<usize>| match i.and_then(|i| f.values.get(i)) {
        Some(write::Value::Text(s)) => s.clone(),
        _ => String::new(),
    };
    let (input, id, rule) = (col("input"), col("record_id"), col("rule"));
    let mut records = BTreeSet::new();
    let mut rules = BTreeMap::new();
    let mut seen = HashSet::new();
    for f in &assignments.features {
        let key = format!("{}:{}", text(f, input), text(f, id));
        let r = text(f, rule);
        if (r.contains('→') || r.contains('←')) && seen.insert((key.clone(), r.clone())) {
            *rules.entry(r).or_default() += 1;
        }
        records.insert(key);
    }
    (records, rules)
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

/// One warning per input whose records were assigned although their code and names disagree
/// (`code_name_mismatch = "warn"`): how many, and the first five with row and why.
fn mismatch_warnings(
    records: &[Investment],
    mismatches: &[(usize, String)],
    files: &mut [read::InputFile],
) {
    let mut by_input: std::collections::BTreeMap<usize, Vec<String>> = Default::default();
    for (i, why) in mismatches {
        let r = &records[*i];
        by_input
            .entry(r.input)
            .or_default()
            .push(format!("row {}: {why}", r.row));
    }
    for (input, rows) in by_input {
        let w = format!(
            "{} record(s) whose code and names disagree were assigned by the first of them in the locate chain (code_name_mismatch = \"warn\"): {}{}",
            rows.len(),
            rows.iter().take(5).cloned().collect::<Vec<_>>().join("; "),
            if rows.len() > 5 { "; …" } else { "" }
        );
        tracing::warn!("{w}");
        if let Some(f) = files.get_mut(input) {
            f.warnings.push(w);
        }
    }
}

/// The warning of each input whose polygons were repaired, written now that the rejects are
/// known: a repaired record that was rejected all the same (outside every region, a
/// duplicate id, …) is named as rejected, with why.
fn repair_warnings(rejects: &[Reject], files: &mut [read::InputFile]) {
    for (input, f) in files.iter_mut().enumerate() {
        if f.repaired_rows.is_empty() {
            continue;
        }
        let rejected: BTreeMap<u64, String> = rejects
            .iter()
            .filter(|r| r.input == input)
            .map(|r| (r.row, r.reason.code().to_string()))
            .collect();
        if let Some(w) = f.repair_warning(&rejected) {
            tracing::warn!("{w}");
            f.warnings.push(w);
        }
    }
}
