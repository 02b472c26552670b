//! Default QGIS styles of the region layers, stored in the GeoPackage's `layer_styles` table as
//! QGIS itself writes it (issue #14, item 4), so every layer opens styled in QGIS.
//!
//! Per region layer, in this order (the first is the layer's default):
//! 1. `amount_per_km2_krw` graduated with the published quantile breaks (the `legend` table),
//!    then with the equal-interval and Fisher–Jenks breaks; each with a grey `자료 없음` class;
//! 2. `tier_label` categorised with the report's Korean tier labels, `자료 없음` grey;
//! 3. `report_tier` (the report's own Figure 1 tiers), where the layer has that column;
//! 4. the LISA clusters (significant at [`LISA_SIGNIFICANCE`]), where the layer has local
//!    statistics, with "no neighbours" and "zero among zeros" shown as classes of their own.
//!
//! Colours come from one sequential ramp ([`qml::sequential`]), darkest for the most money.
//! Nothing here reads a clock: `update_time` is the caller's fixed timestamp, so the same
//! inputs give the same table.

use std::path::Path;

use gdal::errors::GdalError;
use gdal::vector::sql::Dialect;
use gdal::{Dataset, DatasetOptions, GdalOpenFlags};
use thiserror::Error;

use super::qml::{self, Category, Filter, NO_DATA_GREY, Range, Renderer, Rgb};
use super::{OutLayer, QUADRANTS, Value};
use crate::config::Tier;
use crate::indicators::NO_DATA;
use crate::indicators::legend::LegendRow;
use crate::indicators::spatial::LocalNote;

/// The pseudo p-value up to which a LISA quadrant is shown as a cluster.
pub const LISA_SIGNIFICANCE: f64 = 0.05;

/// The geometry column of every layer (see [`super::geopackage`]).
const GEOMETRY_COLUMN: &str = "geom";

/// One row of `layer_styles`.
#[derive(Debug, Clone, PartialEq)]
pub struct LayerStyle {
    /// The styled table (`f_table_name`).
    pub layer: String,
    /// `styleName`, unique per layer.
    pub name: String,
    pub description: String,
    /// `useAsDefault`: exactly one style per layer.
    pub default: bool,
    pub renderer: Renderer,
}

/// Why the styles cannot be stored.
#[derive(Debug, Error)]
pub enum StyleError {
    #[error("opening {path} for styles: {source}")]
    Open {
        path: String,
        #[source]
        source: GdalError,
    },
    #[error("{source} in: {statement}")]
    Sql {
        /// The statement's beginning.
        statement: String,
        #[source]
        source: GdalError,
    },
    #[error("closing {path} after styles: {source}")]
    Close {
        path: String,
        #[source]
        source: GdalError,
    },
}

/// The styles of every region layer among `layers` (those with `amount_per_km2_krw` and
/// geometry), from the `legend` rows and the configured `tiers`, in layer order.
pub fn for_layers<'a>(
    layers: impl IntoIterator<Item = &'a OutLayer>,
    legend: &[LegendRow],
    tiers: &[Tier],
) -> Vec<LayerStyle> {
    let mut out = Vec::new();
    for l in layers {
        if l.geom == super::GeomKind::None || column_index(l, "amount_per_km2_krw").is_none() {
            continue;
        }
        let rows: Vec<&LegendRow> = legend.iter().filter(|r| r.layer == l.name).collect();
        let mut styles = Vec::new();
        for (method, qgis, title) in [
            ("quantile", "Quantile", "분위 / quantile"),
            ("equal_interval", "EqualInterval", "등간격 / equal interval"),
            ("fisher_jenks", "Jenks", "피셔-젠크스 / Fisher–Jenks"),
        ] {
            if let Some(r) = per_km2(&rows, method, qgis) {
                styles.push((
                    format!("면적당 투자액 ({title})"),
                    per_km2_description(method),
                    r,
                ));
            }
        }
        if column_index(l, "tier_label").is_some() {
            styles.push((
                "투자 규모 등급 / tier".to_string(),
                "보고서의 투자 규모 등급 (amount_krw) / The report's investment tiers".to_string(),
                tier_renderer(tiers),
            ));
        }
        if column_index(l, "report_tier").is_some() {
            styles.push((
                "보고서 그림 1 등급 / report tier".to_string(),
                "보고서 그림 1의 등급 (report_tier) / The report's own Figure 1 tiers".to_string(),
                report_tier_renderer(tiers),
            ));
        }
        if has_local_statistics(l) {
            styles.push((
                "LISA 군집 / clusters".to_string(),
                format!(
                    "국지 모란 I 군집, 유의확률 ≤ {LISA_SIGNIFICANCE} / Local Moran clusters, pseudo p ≤ {LISA_SIGNIFICANCE}"
                ),
                lisa_renderer(),
            ));
        }
        for (i, (name, description, renderer)) in styles.into_iter().enumerate() {
            out.push(LayerStyle {
                layer: l.name.clone(),
                name,
                description,
                default: i == 0,
                renderer,
            });
        }
    }
    out
}

fn column_index(l: &OutLayer, name: &str) -> Option<usize> {
    l.fields.iter().position(|(n, _)| n == name)
}

/// Whether any region of `l` has a LISA value or a note on why it has none.
fn has_local_statistics(l: &OutLayer) -> bool {
    let cols: Vec<usize> = ["lisa_p_sim", "lisa_note"]
        .iter()
        .filter_map(|c| column_index(l, c))
        .collect();
    l.features.iter().any(|f| {
        cols.iter()
            .any(|&i| f.values.get(i).is_some_and(|v| *v != Value::Null))
    })
}

fn per_km2_description(method: &str) -> String {
    format!(
        "면적당 투자액, legend 표의 {method} 경계 / Investment per km² with the published {method} breaks (legend table)"
    )
}

/// `amount_per_km2_krw` graduated with the legend's classes of `method`, then a grey no-data
/// class. Null values are mapped by `coalesce` to a value below every class, which only the
/// no-data range holds. A layer without data gets the no-data class alone. `None` when a
/// class lacks a bound or a bound is not finite.
fn per_km2(rows: &[&LegendRow], method: &str, qgis: &'static str) -> Option<Renderer> {
    const COLUMN: &str = "amount_per_km2_krw";
    let classes: Vec<(f64, f64, &str)> = rows
        .iter()
        .filter(|r| r.method == method && r.variable == COLUMN && r.class.is_some())
        .map(|r| Some((r.lower?, r.upper?, r.label.as_str())))
        .collect::<Option<_>>()?;
    if classes
        .iter()
        .any(|(l, u, _)| !l.is_finite() || !u.is_finite())
    {
        return None;
    }
    let lowest = classes.iter().map(|c| c.0).fold(0.0, f64::min);
    let no_data = lowest.floor() - 1.0;
    let n = classes.len();
    let mut ranges: Vec<Range> = classes
        .iter()
        .enumerate()
        .map(|(i, &(lower, upper, label))| Range {
            lower,
            upper,
            label: label.to_string(),
            color: qml::sequential(i, n),
        })
        .collect();
    let mut filters: Vec<Filter> = classes
        .iter()
        .map(|&(l, u, _)| Filter::Between(COLUMN.into(), l, u))
        .collect();
    ranges.push(Range {
        lower: no_data,
        upper: no_data,
        label: NO_DATA.into(),
        color: NO_DATA_GREY,
    });
    filters.push(Filter::IsNull(COLUMN.into()));
    Some(Renderer::Graduated {
        expression: format!("coalesce({}, {})", qml::column(COLUMN), no_data),
        method: qgis,
        ranges,
        filters,
    })
}

/// Colour of tier `i` (0-based, highest first) of `n`: the darkest for the top tier.
fn tier_color(i: usize, n: usize) -> Rgb {
    qml::sequential(n.saturating_sub(1).saturating_sub(i), n)
}

/// `tier_label` categorised: the configured tiers (the report's Korean labels), highest
/// first, then `자료 없음`.
fn tier_renderer(tiers: &[Tier]) -> Renderer {
    let n = tiers.len();
    let mut categories: Vec<Category> = tiers
        .iter()
        .enumerate()
        .map(|(i, t)| Category {
            value: t.label.clone(),
            label: t.label.clone(),
            color: tier_color(i, n),
        })
        .collect();
    let mut filters: Vec<Filter> = tiers
        .iter()
        .map(|t| Filter::Equals("tier_label".into(), t.label.clone()))
        .collect();
    categories.push(Category {
        value: NO_DATA.into(),
        label: NO_DATA.into(),
        color: NO_DATA_GREY,
    });
    filters.push(Filter::Else);
    Renderer::Categorized {
        expression: "tier_label".into(),
        categories,
        filters,
    }
}

/// `report_tier` (the tier number the report's Figure 1 gives, as text) categorised with the
/// configured tiers' labels, and the regions the figure does not name.
fn report_tier_renderer(tiers: &[Tier]) -> Renderer {
    const NOT_IN_FIGURE: &str = "그림 1에 없음";
    let n = tiers.len();
    let mut categories: Vec<Category> = tiers
        .iter()
        .enumerate()
        .map(|(i, t)| Category {
            value: (i + 1).to_string(),
            label: format!("{} (그림 1)", t.label),
            color: tier_color(i, n),
        })
        .collect();
    let mut filters: Vec<Filter> = (1..=n)
        .map(|i| Filter::Equals("report_tier".into(), i.to_string()))
        .collect();
    categories.push(Category {
        value: NOT_IN_FIGURE.into(),
        label: NOT_IN_FIGURE.into(),
        color: NO_DATA_GREY,
    });
    filters.push(Filter::Else);
    Renderer::Categorized {
        expression: format!(
            "coalesce({}, {})",
            qml::column("report_tier"),
            qml::literal(NOT_IN_FIGURE)
        ),
        categories,
        filters,
    }
}

/// The LISA cluster map: a significant quadrant, or why there is none.
fn lisa_renderer() -> Renderer {
    const NOT_SIGNIFICANT: &str = "not significant";
    const NONE: &str = "no data";
    let (zeros, island) = (
        LocalNote::ZeroAmongZeros.as_str(),
        LocalNote::NoNeighbours.as_str(),
    );
    let (p, q, note) = ("lisa_p_sim", "lisa_quadrant", "lisa_note");
    let expression = format!(
        "CASE WHEN {n} IS NOT NULL THEN {n} WHEN {p} IS NULL OR {q} IS NULL THEN {none} \
         WHEN {p} <= {LISA_SIGNIFICANCE} THEN {q} ELSE {ns} END",
        n = qml::column(note),
        p = qml::column(p),
        q = qml::column(q),
        none = qml::literal(NONE),
        ns = qml::literal(NOT_SIGNIFICANT),
    );
    let significant = |quadrant: &str| {
        Filter::And(vec![
            Filter::IsNull(note.into()),
            Filter::Equals(q.into(), quadrant.into()),
            Filter::AtMost(p.into(), LISA_SIGNIFICANCE),
        ])
    };
    let [hh, lh, ll, hl] = QUADRANTS;
    let rows: [(&str, String, Rgb, Filter); 8] = [
        (
            hh,
            "HH 높음-높음 / high-high".into(),
            [215, 25, 28],
            significant(hh),
        ),
        (
            hl,
            "HL 높음-낮음 / high-low".into(),
            [253, 174, 97],
            significant(hl),
        ),
        (
            lh,
            "LH 낮음-높음 / low-high".into(),
            [171, 217, 233],
            significant(lh),
        ),
        (
            ll,
            "LL 낮음-낮음 / low-low".into(),
            [44, 123, 182],
            significant(ll),
        ),
        (
            NOT_SIGNIFICANT,
            format!("유의하지 않음 (p > {LISA_SIGNIFICANCE}) / not significant"),
            [245, 245, 245],
            Filter::And(vec![
                Filter::IsNull(note.into()),
                Filter::Above(p.into(), LISA_SIGNIFICANCE),
            ]),
        ),
        (
            zeros,
            "0, 이웃도 모두 0: 판정 안 함 / zero among zeros".into(),
            [224, 224, 224],
            Filter::Equals(note.into(), zeros.into()),
        ),
        (
            island,
            "이웃 없음 / no neighbours".into(),
            [150, 150, 150],
            Filter::Equals(note.into(), island.into()),
        ),
        (NONE, NO_DATA.into(), NO_DATA_GREY, Filter::Else),
    ];
    let (categories, filters) = rows
        .into_iter()
        .map(|(value, label, color, filter)| {
            (
                Category {
                    value: value.into(),
                    label,
                    color,
                },
                filter,
            )
        })
        .unzip();
    Renderer::Categorized {
        expression,
        categories,
        filters,
    }
}

/// SQL string literal.
fn lit(s: &str) -> String {
    format!("'{}'", s.replace('\'', "''"))
}

/// `layer_styles` as QGIS (through GDAL's GeoPackage driver) creates it.
const DDL: &str = "CREATE TABLE IF NOT EXISTS \"layer_styles\" ( \"id\" INTEGER PRIMARY KEY AUTOINCREMENT NOT NULL, \
\"f_table_catalog\" TEXT(256), \"f_table_schema\" TEXT(256), \"f_table_name\" TEXT(256), \
\"f_geometry_column\" TEXT(256), \"styleName\" TEXT(30), \"styleQML\" TEXT, \"styleSLD\" TEXT, \
\"useAsDefault\" BOOLEAN, \"description\" TEXT, \"owner\" TEXT(30), \"ui\" TEXT(30), \
\"update_time\" DATETIME DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ','now')))";

/// The SQL that adds `styles` to a GeoPackage: the table, its `gpkg_contents` row (an
/// `attributes` table, as QGIS registers it) and one row per style, ids from 1 in order.
pub fn statements(styles: &[LayerStyle], update_time: &str) -> Vec<String> {
    let mut out = vec![
        DDL.to_string(),
        format!(
            "INSERT INTO gpkg_contents (table_name, data_type, identifier, description, \
             last_change, srs_id) VALUES ('layer_styles', 'attributes', 'layer_styles', '', {}, 0)",
            lit(update_time)
        ),
    ];
    for s in styles {
        out.push(format!(
            "INSERT INTO layer_styles (f_table_catalog, f_table_schema, f_table_name, \
             f_geometry_column, styleName, styleQML, styleSLD, useAsDefault, description, owner, \
             ui, update_time) VALUES ('', '', {}, {}, {}, {}, {}, {}, {}, '', NULL, {})",
            lit(&s.layer),
            lit(GEOMETRY_COLUMN),
            lit(&s.name),
            lit(&qml::qml(&s.renderer)),
            lit(&qml::sld(&s.layer, &s.renderer)),
            i32::from(s.default),
            lit(&s.description),
            lit(update_time)
        ));
    }
    out
}

/// Adds `styles` to the GeoPackage at `gpkg` in one transaction.
///
/// # Errors
/// GDAL cannot open or close the file, or SQLite refuses a statement (e.g. the table exists).
pub fn write(gpkg: &Path, styles: &[LayerStyle], update_time: &str) -> Result<(), StyleError> {
    let path = gpkg.display().to_string();
    let ds = Dataset::open_ex(
        gpkg,
        DatasetOptions {
            open_flags: GdalOpenFlags::GDAL_OF_VECTOR | GdalOpenFlags::GDAL_OF_UPDATE,
            allowed_drivers: Some(&["GPKG"]),
            ..Default::default()
        },
    )
    .map_err(|source| StyleError::Open {
        path: path.clone(),
        source,
    })?;
    let exec = |sql: &str| {
        ds.execute_sql(sql, None, Dialect::DEFAULT)
            .map(|_| ())
            .map_err(|source| StyleError::Sql {
                statement: sql.chars().take(120).collect(),
                source,
            })
    };
    // No fsync at COMMIT (~40 ms on the national run): the file is in the staging folder,
    // which publishing fsyncs whole before it renames it into place, and a staging folder that
    // a crash leaves behind is removed, never published.
    exec("PRAGMA synchronous = OFF")?;
    exec("BEGIN")?;
    for s in statements(styles, update_time) {
        exec(&s)?;
    }
    exec("COMMIT")?;
    ds.close()
        .map(|_| ())
        .map_err(|source| StyleError::Close { path, source })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::write::{FieldType, GeomKind, OutFeature};

    fn tiers() -> Vec<Tier> {
        [("50억 이상", 5_000_000_000), ("10억 미만", 0)]
            .into_iter()
            .map(|(l, m)| Tier {
                label: l.into(),
                min_krw: m,
            })
            .collect()
    }

    fn legend_row(method: &'static str, class: Option<u32>, lo: f64, hi: f64) -> LegendRow {
        LegendRow {
            layer: "sigungu".into(),
            variable: "amount_per_km2_krw",
            method,
            class,
            lower: class.map(|_| lo),
            upper: class.map(|_| hi),
            label: class.map_or(NO_DATA.to_string(), |c| format!("c{c}")),
            count: 1,
        }
    }

    fn layer(with_report_tier: bool) -> OutLayer {
        let mut fields: Vec<(String, FieldType)> = [
            "code",
            "amount_per_km2_krw",
            "tier_label",
            "lisa_quadrant",
            "lisa_p_sim",
            "lisa_note",
        ]
        .iter()
        .map(|n| (n.to_string(), FieldType::Text))
        .collect();
        if with_report_tier {
            fields.push(("report_tier".into(), FieldType::Text));
        }
        let mut values = vec![Value::Null; fields.len()];
        values[5] = Value::Text("no neighbours".into());
        OutLayer {
            name: "sigungu".into(),
            geom: GeomKind::MultiPolygon,
            fields,
            features: vec![OutFeature {
                geometry: None,
                values,
            }],
        }
    }

    #[test]
    fn each_region_layer_gets_one_default_style_and_the_others_named() {
        let legend = vec![
            legend_row("quantile", Some(1), 0.0, 10.0),
            legend_row("quantile", Some(2), 10.0, 30.0),
            legend_row("quantile", None, 0.0, 0.0),
        ];
        let l = layer(true);
        let styles = for_layers([&l], &legend, &tiers());
        let names: Vec<(&str, bool, &str)> = styles
            .iter()
            .map(|s| (s.name.as_str(), s.default, s.renderer.kind()))
            .collect();
        assert_eq!(
            names,
            [
                ("면적당 투자액 (분위 / quantile)", true, "graduatedSymbol"),
                // No equal-interval or Fisher–Jenks rows in this legend: the no-data class alone.
                (
                    "면적당 투자액 (등간격 / equal interval)",
                    false,
                    "graduatedSymbol"
                ),
                (
                    "면적당 투자액 (피셔-젠크스 / Fisher–Jenks)",
                    false,
                    "graduatedSymbol"
                ),
                ("투자 규모 등급 / tier", false, "categorizedSymbol"),
                (
                    "보고서 그림 1 등급 / report tier",
                    false,
                    "categorizedSymbol"
                ),
                ("LISA 군집 / clusters", false, "categorizedSymbol"),
            ]
        );
        let Renderer::Graduated {
            expression, ranges, ..
        } = &styles[0].renderer
        else {
            panic!("graduated expected");
        };
        assert_eq!(expression, "coalesce(\"amount_per_km2_krw\", -1)");
        let r: Vec<(f64, f64, &str)> = ranges
            .iter()
            .map(|r| (r.lower, r.upper, r.label.as_str()))
            .collect();
        assert_eq!(
            r,
            [(0.0, 10.0, "c1"), (10.0, 30.0, "c2"), (-1.0, -1.0, NO_DATA)]
        );
        assert_eq!(ranges[2].color, NO_DATA_GREY);
        // Without the column, no report-tier style; attribute tables get none.
        let plain = for_layers([&layer(false)], &legend, &tiers());
        assert!(plain.iter().all(|s| !s.name.contains("report")));
        let mut table = layer(false);
        table.geom = GeomKind::None;
        assert!(for_layers([&table], &legend, &tiers()).is_empty());
    }

    #[test]
    fn tiers_read_with_the_report_s_labels_darkest_on_top_and_no_data_grey() {
        let r = tier_renderer(&tiers());
        let classes = r.classes();
        assert_eq!(classes[0].0, "50억 이상");
        assert_eq!(classes[2], (NO_DATA, NO_DATA_GREY));
        assert_eq!(classes[0].1, qml::sequential(1, 2));
        let report = report_tier_renderer(&tiers());
        let Renderer::Categorized { categories, .. } = &report else {
            panic!("categorised expected");
        };
        assert_eq!(
            categories
                .iter()
                .map(|c| c.value.as_str())
                .collect::<Vec<_>>(),
            ["1", "2", "그림 1에 없음"]
        );
    }

    #[test]
    fn the_same_styles_give_the_same_statements() {
        let legend = vec![legend_row("fisher_jenks", Some(1), 0.0, 1.0)];
        let a = statements(
            &for_layers([&layer(true)], &legend, &tiers()),
            "2000-01-01T00:00:00.000Z",
        );
        let b = statements(
            &for_layers([&layer(true)], &legend, &tiers()),
            "2000-01-01T00:00:00.000Z",
        );
        assert_eq!(a, b);
        assert!(a[2].contains("'2000-01-01T00:00:00.000Z')"));
    }
}
