//! Writing: the in-memory results become format-neutral `OutLayer`s, which the
//! `geopackage` and `geojson` writers serialise.

mod geojson;
pub(crate) mod geopackage;
pub(crate) mod layers;
pub mod metadata;
pub(crate) mod outputs;
mod qgis_project;
pub(crate) mod qml;
pub(crate) use crate::snap;
mod styles;
pub(crate) mod text_cache;

use std::collections::BTreeMap;

use geo::{Geometry, MultiPolygon};
use thiserror::Error;

use crate::aggregate::{LevelTotals, RegionTotals};
use crate::assign::RegionAttributes;
use crate::indicators::RegionIndicators;
use crate::model::{AdminLevel, FundingSource, Reject};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum FieldType {
    Text,
    Int64,
    Real,
}

#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Value {
    Null,
    Text(String),
    Int(i64),
    Real(f64),
}

/// Geometry kind of a layer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum GeomKind {
    MultiPolygon,
    Point,
    /// An attribute table (GeoPackage `attributes`); not written as GeoJSON.
    None,
}

#[derive(Debug, Clone)]
pub(crate) struct OutFeature {
    /// EPSG:5179.
    pub(crate) geometry: Option<Geometry<f64>>,
    pub(crate) values: Vec<Value>,
}

/// One output layer, in a fixed feature and column order.
#[derive(Debug, Clone)]
pub(crate) struct OutLayer {
    pub(crate) name: String,
    pub(crate) geom: GeomKind,
    pub(crate) fields: Vec<(String, FieldType)>,
    pub(crate) features: Vec<OutFeature>,
}

/// LISA quadrant labels for esda's quadrant numbers 1–4.
const QUADRANTS: [&str; 4] = ["HH", "LH", "LL", "HL"];

/// The area method written beside every per-km² value.
const AREA_METHOD: &str = "planar area in EPSG:5179 of the repaired boundary polygon";

/// Columns that depend on the data and config: one per programme and one per period.
struct ExtraColumns<'a> {
    programs: &'a [String],
    periods: &'a [crate::config::Period],
}

/// A region as the layer builder needs it.
struct RegionRow<'a> {
    code: &'a str,
    name: &'a str,
    full_name: &'a str,
    parent_code: Option<&'a str>,
    area_km2: f64,
    geometry: Option<&'a MultiPolygon<f64>>,
}

/// Why a region layer cannot be built.
#[derive(Debug, Error)]
enum LayerError {
    /// A total beyond the outputs' 64-bit integers.
    #[error("{what}: {krw} KRW does not fit a 64-bit integer")]
    TooLarge {
        /// The layer and region code.
        what: String,
        krw: i128,
    },
    /// A row whose values do not match the layer's columns.
    #[error("{what}: {values} values for {columns} columns")]
    Columns {
        /// The layer and region code.
        what: String,
        values: usize,
        columns: usize,
    },
}

/// A count or class, or null.
fn int(v: Option<u32>) -> Value {
    v.map_or(Value::Null, |v| Value::Int(i64::from(v)))
}

fn money(krw: i128, what: &str) -> Result<Value, LayerError> {
    i64::try_from(krw)
        .map(Value::Int)
        .map_err(|_| LayerError::TooLarge {
            what: what.to_string(),
            krw,
        })
}

use crate::model::program_columns;

/// The columns of a region layer, in order, and the attribute columns among them.
fn region_fields(
    columns: &ExtraColumns<'_>,
    attrs: Option<(AdminLevel, &RegionAttributes)>,
) -> (Vec<(String, FieldType)>, Vec<String>) {
    let programs = columns.programs;
    let attr_cols: Vec<String> = {
        let mut cols = std::collections::BTreeSet::new();
        if let Some((_, a)) = attrs {
            for m in a.values() {
                cols.extend(m.keys().cloned());
            }
        }
        cols.into_iter().collect()
    };
    let mut fields: Vec<(String, FieldType)> = vec![
        ("code".into(), FieldType::Text),
        ("name".into(), FieldType::Text),
        ("full_name".into(), FieldType::Text),
        ("parent_code".into(), FieldType::Text),
        ("area_km2".into(), FieldType::Real),
        ("amount_krw".into(), FieldType::Int64),
        ("record_count".into(), FieldType::Int64),
        ("amount_held_here_krw".into(), FieldType::Int64),
    ];
    for f in FundingSource::ALL {
        fields.push((format!("amount_{}_krw", f.as_str()), FieldType::Int64));
    }
    for c in program_columns(programs).0 {
        fields.push((c, FieldType::Int64));
    }
    for p in columns.periods {
        fields.push((p.column(), FieldType::Int64));
    }
    fields.extend([
        ("amount_per_km2_krw".into(), FieldType::Real),
        ("population".into(), FieldType::Int64),
        ("population_year".into(), FieldType::Int64),
        ("amount_per_capita_krw".into(), FieldType::Real),
        ("share_of_national".into(), FieldType::Real),
        ("rank".into(), FieldType::Int64),
        ("rank_ties".into(), FieldType::Int64),
        ("percentile".into(), FieldType::Real),
        ("tier".into(), FieldType::Int64),
        ("tier_label".into(), FieldType::Text),
        ("target_per_km2_krw".into(), FieldType::Real),
        ("deficit_krw".into(), FieldType::Int64),
        ("class_quantile".into(), FieldType::Int64),
        ("class_equal_interval".into(), FieldType::Int64),
        ("class_fisher_jenks".into(), FieldType::Int64),
        ("neighbor_count".into(), FieldType::Int64),
        ("lisa_i".into(), FieldType::Real),
        ("lisa_quadrant".into(), FieldType::Text),
        ("lisa_p_sim".into(), FieldType::Real),
        ("gi_star_z".into(), FieldType::Real),
        ("gi_star_p_norm".into(), FieldType::Real),
        ("lisa_note".into(), FieldType::Text),
        ("area_method".into(), FieldType::Text),
    ]);
    for c in &attr_cols {
        fields.push((c.clone(), FieldType::Text));
    }
    (fields, attr_cols)
}

/// Builds one region layer (a boundary level or the regional groups).
///
/// `rows`, `totals.regions` and `ind` are all in code order.
///
/// # Errors
/// A total does not fit the outputs' 64-bit integers.
fn region_layer(
    name: &str,
    rows: &[RegionRow<'_>],
    totals: &LevelTotals,
    ind: &[RegionIndicators],
    columns: &ExtraColumns<'_>,
    attrs: Option<(AdminLevel, &RegionAttributes)>,
) -> Result<OutLayer, LayerError> {
    let programs = columns.programs;
    let (fields, attr_cols) = region_fields(columns, attrs);
    let empty = RegionTotals::default();
    let no_attrs = BTreeMap::new();
    let mut features = Vec::with_capacity(rows.len());
    for (row, ind) in rows.iter().zip(ind) {
        let t = totals.regions.get(row.code).unwrap_or(&empty);
        let what = format!("{name} {}", row.code);
        let local = ind.local.as_ref();
        let mut v = vec![
            Value::Text(row.code.into()),
            Value::Text(row.name.into()),
            Value::Text(row.full_name.into()),
            row.parent_code
                .map_or(Value::Null, |p| Value::Text(p.into())),
            Value::Real(row.area_km2),
            money(t.amount_krw, &what)?,
            Value::Int(t.record_count as i64),
            money(t.held_here_krw, &what)?,
        ];
        for f in FundingSource::ALL {
            v.push(money(t.by_funding.get(&f).copied().unwrap_or(0), &what)?);
        }
        for p in programs {
            v.push(money(t.by_program.get(p).copied().unwrap_or(0), &what)?);
        }
        for p in columns.periods {
            v.push(money(
                t.by_period.get(&p.label).copied().unwrap_or(0),
                &what,
            )?);
        }
        v.extend([
            ind.amount_per_km2_krw.map_or(Value::Null, Value::Real),
            ind.population.map_or(Value::Null, Value::Int),
            ind.population_year.map_or(Value::Null, Value::Int),
            ind.amount_per_capita_krw.map_or(Value::Null, Value::Real),
            ind.share_of_national.map_or(Value::Null, Value::Real),
            int(ind.rank),
            int(ind.rank_ties),
            ind.percentile.map_or(Value::Null, Value::Real),
            int(ind.tier),
            Value::Text(ind.tier_label.clone()),
            Value::Real(ind.target_per_km2_krw),
            ind.deficit_krw.map_or(Value::Null, Value::Int),
            int(ind.class_quantile),
            int(ind.class_equal_interval),
            int(ind.class_fisher_jenks),
            int(ind.neighbor_count),
            local.map_or(Value::Null, |l| Value::Real(l.lisa_i)),
            // Null (not a label) where the quadrant is withheld: see `lisa_note`.
            local
                .and_then(|l| l.lisa_quadrant)
                .map_or(Value::Null, |q| {
                    Value::Text(QUADRANTS[usize::from(q.clamp(1, 4)) - 1].into())
                }),
            local
                .and_then(|l| l.lisa_p_sim)
                .map_or(Value::Null, Value::Real),
            local
                .and_then(|l| l.gi_star_z)
                .map_or(Value::Null, Value::Real),
            local
                .and_then(|l| l.gi_star_p_norm)
                .map_or(Value::Null, Value::Real),
            ind.lisa_note
                .map_or(Value::Null, |n| Value::Text(n.as_str().into())),
            Value::Text(AREA_METHOD.into()),
        ]);
        let a = attrs
            .and_then(|(level, a)| a.get(&(level, row.code.to_string())))
            .unwrap_or(&no_attrs);
        for c in &attr_cols {
            v.push(a.get(c).map_or(Value::Null, |s| Value::Text(s.clone())));
        }
        if v.len() != fields.len() {
            return Err(LayerError::Columns {
                what,
                values: v.len(),
                columns: fields.len(),
            });
        }
        features.push(OutFeature {
            geometry: row.geometry.map(|g| Geometry::MultiPolygon(g.clone())),
            values: v,
        });
    }
    Ok(OutLayer {
        name: name.into(),
        geom: GeomKind::MultiPolygon,
        fields,
        features,
    })
}

/// The rejects layer: one feature per rejected record, with its point when known.
fn rejects_layer(rejects: &[Reject], input_names: &[String], input_paths: &[String]) -> OutLayer {
    let fields = vec![
        ("input".into(), FieldType::Text),
        ("source_file".into(), FieldType::Text),
        ("row".into(), FieldType::Int64),
        ("record_id".into(), FieldType::Text),
        ("reason".into(), FieldType::Text),
        ("detail".into(), FieldType::Text),
        ("amount_krw".into(), FieldType::Int64),
    ];
    let features = rejects
        .iter()
        .map(|r| OutFeature {
            geometry: r.point.map(Geometry::Point),
            values: vec![
                Value::Text(input_names.get(r.input).cloned().unwrap_or_default()),
                Value::Text(input_paths.get(r.input).cloned().unwrap_or_default()),
                Value::Int(r.row as i64),
                Value::Text(r.record_id.clone()),
                Value::Text(r.reason.code().into()),
                Value::Text(r.detail.clone()),
                r.amount_krw.map_or(Value::Null, Value::Int),
            ],
        })
        .collect();
    OutLayer {
        name: "rejects".into(),
        geom: GeomKind::Point,
        fields,
        features,
    }
}

/// The `assignments` table: where every assigned record went, one row per part (a record
/// split by the crosswalk has several), with the rule that put it there.
pub(crate) fn assignments_layer(
    records: &[crate::model::Investment],
    assigned: &[crate::assign::Assigned],
    input_names: &[String],
) -> OutLayer {
    use crate::model::Location;
    let mut features = Vec::new();
    for a in assigned {
        let r = &records[a.record];
        let given = match &r.location {
            Location::Code(c) => format!("code {c}"),
            Location::KostatCode(c) => format!("KOSTAT code {c}"),
            Location::Names { sido, sigungu, emd } => format!("name {sido} {sigungu} {emd}")
                .trim_end()
                .to_string(),
            Location::Point(p) => format!("point {:.1} {:.1}", p.x(), p.y()),
            Location::Area(mp) => {
                format!("polygon of {:.4} km²", geo::Area::unsigned_area(mp) / 1e6)
            }
        };
        let amount = r.amount_krw.unwrap_or(0);
        for h in a.resolution.holders(amount) {
            let (level, code) = match h.target {
                Some((l, c)) => (l.to_string(), c.to_string()),
                None => ("outside".to_string(), String::new()),
            };
            let (part, w) = (h.amount, h.weight);
            features.push(OutFeature {
                geometry: None,
                values: vec![
                    Value::Text(input_names.get(r.input).cloned().unwrap_or_default()),
                    Value::Int(r.row as i64),
                    Value::Text(r.record_id.clone()),
                    r.date.map_or(Value::Null, |d| {
                        Value::Text(format!(
                            "{:04}-{:02}-{:02}",
                            d / 10_000,
                            d / 100 % 100,
                            d % 100
                        ))
                    }),
                    Value::Text(given.clone()),
                    Value::Text(level),
                    Value::Text(code),
                    Value::Real(w),
                    r.amount_krw.map_or(Value::Null, |_| Value::Int(part)),
                    Value::Text(a.resolution.describe()),
                    Value::Text(a.rule.clone()),
                ],
            });
        }
    }
    let t = |n: &str| (n.to_string(), FieldType::Text);
    OutLayer {
        name: "assignments".into(),
        geom: GeomKind::None,
        fields: vec![
            t("input"),
            ("row".into(), FieldType::Int64),
            t("record_id"),
            t("record_date"),
            t("given"),
            t("level"),
            t("code"),
            ("weight".into(), FieldType::Real),
            ("amount_krw".into(), FieldType::Int64),
            t("resolution"),
            t("rule"),
        ],
        features,
    }
}

/// The `summary` table: one row per (level, variable, indicator, weighting, partition).
pub(crate) fn summary_layer(rows: &[crate::indicators::summary::SummaryRow]) -> OutLayer {
    let t = |s: &str| Value::Text(s.to_string());
    OutLayer {
        name: "summary".into(),
        geom: GeomKind::None,
        fields: [
            "level",
            "variable",
            "indicator",
            "weighting",
            "partition",
            "period",
        ]
        .iter()
        .map(|n| (n.to_string(), FieldType::Text))
        .chain([
            ("n_regions".to_string(), FieldType::Int64),
            ("value".to_string(), FieldType::Real),
            ("note".to_string(), FieldType::Text),
        ])
        .collect(),
        features: rows
            .iter()
            .map(|r| OutFeature {
                geometry: None,
                values: vec![
                    t(&r.level),
                    t(&r.variable),
                    t(&r.indicator),
                    t(&r.weighting),
                    t(&r.partition),
                    t(&r.period),
                    Value::Int(r.n_regions as i64),
                    r.value.map_or(Value::Null, Value::Real),
                    t(&r.note),
                ],
            })
            .collect(),
    }
}

/// The `lorenz` table: Lorenz curve points per (level, variable, weighting).
pub(crate) fn lorenz_layer(points: &[crate::indicators::summary::LorenzPoint]) -> OutLayer {
    OutLayer {
        name: "lorenz".into(),
        geom: GeomKind::None,
        fields: vec![
            ("level".into(), FieldType::Text),
            ("variable".into(), FieldType::Text),
            ("weighting".into(), FieldType::Text),
            ("point".into(), FieldType::Int64),
            ("cumulative_weight_share".into(), FieldType::Real),
            ("cumulative_amount_share".into(), FieldType::Real),
        ],
        features: points
            .iter()
            .map(|p| OutFeature {
                geometry: None,
                values: vec![
                    Value::Text(p.level.clone()),
                    Value::Text(p.variable.clone()),
                    Value::Text(p.weighting.clone()),
                    Value::Int(p.index as i64),
                    Value::Real(p.cumulative_weight_share),
                    Value::Real(p.cumulative_amount_share),
                ],
            })
            .collect(),
    }
}

/// The `legend` table: per region layer, the classes of `amount_per_km2_krw` (quantile, equal
/// interval, Fisher–Jenks) and the tiers of `amount_krw`, with bounds, label and count, and a
/// `자료 없음` row per (layer, method) (see [`crate::indicators::legend`]).
pub(crate) fn legend_layer(rows: &[crate::indicators::legend::LegendRow]) -> OutLayer {
    let t = |s: &str| Value::Text(s.to_string());
    let real = |v: Option<f64>| v.map_or(Value::Null, Value::Real);
    OutLayer {
        name: "legend".into(),
        geom: GeomKind::None,
        fields: vec![
            ("layer".into(), FieldType::Text),
            ("variable".into(), FieldType::Text),
            ("method".into(), FieldType::Text),
            ("class".into(), FieldType::Int64),
            ("lower".into(), FieldType::Real),
            ("upper".into(), FieldType::Real),
            ("label".into(), FieldType::Text),
            ("count".into(), FieldType::Int64),
        ],
        features: rows
            .iter()
            .map(|r| OutFeature {
                geometry: None,
                values: vec![
                    t(&r.layer),
                    t(r.variable),
                    t(r.method),
                    int(r.class),
                    real(r.lower),
                    real(r.upper),
                    t(&r.label),
                    Value::Int(r.count as i64),
                ],
            })
            .collect(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ids(v: &[&str]) -> Vec<String> {
        v.iter().map(|s| s.to_string()).collect()
    }

    /// Digests from Python's hashlib: sha256(id.encode()).hexdigest()[:8].
    #[test]
    fn programme_ids_that_reduce_to_one_column_are_renamed_by_their_own_digest() {
        let (cols, renamed) =
            program_columns(&ids(&["Smart City", "smart_city", "SMART-CITY", "b"]));
        assert_eq!(
            cols,
            [
                "amount_program_smart_city_0f1b7ba5_krw",
                "amount_program_smart_city_krw",
                "amount_program_smart_city_833d9f59_krw",
                "amount_program_b_krw",
            ]
        );
        assert_eq!(renamed.len(), 2);
        assert_eq!(renamed[0].0, "Smart City");
        // Korean ids of one length reduce to as many underscores.
        let (cols, _) = program_columns(&ids(&["스마트도시", "도시재생사", "도시재생"]));
        assert_eq!(
            cols,
            [
                "amount_program_______bdcf8fbc_krw",
                "amount_program_______a9996e57_krw",
                "amount_program______krw",
            ]
        );
    }

    #[test]
    fn every_fixed_column_of_a_region_layer_is_reserved_for_attributes() {
        let columns = ExtraColumns {
            programs: &[],
            periods: &[],
        };
        for (name, _) in region_fields(&columns, None).0 {
            assert!(
                crate::model::fixed_column_clash(&name.to_uppercase()).is_some(),
                "{name}"
            );
        }
        assert!(crate::model::fixed_column_clash("FID").is_some());
        assert!(crate::model::fixed_column_clash("report_tier").is_none());
    }
}
