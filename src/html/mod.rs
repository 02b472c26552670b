//! `report.html`: what a planner reads, made from the run's own numbers.
//!
//! One self-contained Korean page beside the layers (no script, style sheet, font or image
//! loaded from anywhere; the maps are inline SVG): headline figures, a choropleth of every
//! level with the published classes, the report's Figure 1 beside the data's tiers, Lorenz
//! curves and inequality with a sentence each, LISA clusters, rankings, the programme money
//! by incumbency, rejects with examples, the crosswalk rules applied, the changes since the
//! previous published run (from its `state.json`) and the provenance. Each map is also written
//! as `maps/<name>.svg` for slides. Deterministic: the same inputs give the same bytes but for
//! the run id and the previous run it names.

mod inequality;
mod maps;
mod svg;
mod web;

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;
use std::path::Path;
use std::sync::Arc;

use serde::{Deserialize, Serialize};

use crate::cache::Cache;
use crate::error::Error;
use crate::indicators::summary::{LorenzPoint, SummaryRow};
use crate::report::RunReport;
use crate::write::{GeomKind, OutFeature, OutLayer, Value};

/// Everything the page is made from.
pub struct Facts<'a> {
    pub report: &'a RunReport,
    /// The region layers, the rejects and the legend, as written.
    pub layers: &'a [Arc<OutLayer>],
    pub summary: &'a [SummaryRow],
    pub lorenz: &'a [LorenzPoint],
    /// The records assigned, as `input:record_id`, and the crosswalk rules applied with their
    /// number of records.
    pub records: &'a BTreeSet<String>,
    pub rules: &'a BTreeMap<String, u64>,
}

/// What the next night compares itself with (`state.json`).
#[derive(Debug, Default, Serialize, Deserialize)]
pub struct State {
    pub run_id: String,
    pub input_records: u64,
    pub assigned_krw: i128,
    pub rejected_records: u64,
    pub rejected_krw: i128,
    /// Per level, each region's tier label and per-km² class label.
    pub regions: BTreeMap<String, BTreeMap<String, (String, String)>>,
    pub records: BTreeSet<String>,
}

/// Writes `report.html`, `maps/*.svg`, `state.json`, `map.html` and `web/*.fgb` into `dir`;
/// `previous` is the published run's folder, if any; generalised web geometry is kept in `cache`.
///
/// # Errors
/// A file cannot be written.
pub fn write(
    dir: &Path,
    previous: Option<&Path>,
    cache: Option<&Cache>,
    f: &Facts<'_>,
) -> Result<(), Error> {
    let out = &f.report.pipeline.output;
    if out.web {
        web_layers(dir, f, cache)?;
    }
    if !out.report {
        return Ok(());
    }
    let state = state(f);
    let before: Option<State> = previous
        .and_then(|p| std::fs::read(p.join("state.json")).ok())
        .and_then(|b| serde_json::from_slice(&b).ok());
    let maps_dir = dir.join("maps");
    std::fs::create_dir_all(&maps_dir).map_err(|e| Error::write_io(&maps_dir, &e))?;
    let mut page = Page::default();
    page.headline(f);
    let maps = page.maps(f);
    for (name, svg) in &maps {
        let path = maps_dir.join(format!("{name}.svg"));
        std::fs::write(&path, svg).map_err(|e| Error::write_io(&path, &e))?;
    }
    pngs(&maps_dir, &maps)?;
    page.inequality(f);
    page.rankings(f);
    page.competitive(f);
    page.rejects(f);
    page.changes(&state, before.as_ref());
    page.provenance(f);
    let html = page.finish(f);
    let path = dir.join("report.html");
    std::fs::write(&path, html).map_err(|e| Error::write_io(&path, &e))?;
    let path = dir.join("state.json");
    let json = serde_json::to_string_pretty(&state).map_err(|e| Error::Write {
        path: path.clone(),
        message: e.to_string(),
    })?;
    std::fs::write(&path, json + "\n").map_err(|e| Error::write_io(&path, &e))
}

/// Each map also as `maps/<name>.png` at twice its size, for slides: the SVG rendered by resvg
/// with the Nanum fonts (fonts-nanum) for the Korean labels, or the system's when absent.
fn pngs(dir: &Path, maps: &[(String, String)]) -> Result<(), Error> {
    use rayon::prelude::*;
    use resvg::{tiny_skia, usvg};
    let mut opt = usvg::Options::default();
    let db = opt.fontdb_mut();
    db.load_fonts_dir("/usr/share/fonts/truetype/nanum");
    if db.is_empty() {
        db.load_system_fonts();
    }
    db.set_sans_serif_family("NanumGothic");
    maps.par_iter().try_for_each(|(name, svg)| {
        let path = dir.join(format!("{name}.png"));
        let fail = |message: String| Error::Write {
            path: path.clone(),
            message,
        };
        let tree = usvg::Tree::from_str(svg, &opt).map_err(|e| fail(e.to_string()))?;
        let size = tree
            .size()
            .to_int_size()
            .scale_by(2.0)
            .ok_or_else(|| fail("empty map".into()))?;
        let mut pixmap = tiny_skia::Pixmap::new(size.width(), size.height())
            .ok_or_else(|| fail("empty map".into()))?;
        resvg::render(
            &tree,
            tiny_skia::Transform::from_scale(2.0, 2.0),
            &mut pixmap.as_mut(),
        );
        let png = pixmap.encode_png().map_err(|e| fail(e.to_string()))?;
        std::fs::write(&path, png).map_err(|e| Error::write_io(&path, &e))
    })
}

/// `web/<level>.fgb` and `map.html` (see [`web`]).
fn web_layers(dir: &Path, f: &Facts<'_>, cache: Option<&Cache>) -> Result<(), Error> {
    let web_dir = dir.join("web");
    std::fs::create_dir_all(&web_dir).map_err(|e| Error::write_io(&web_dir, &e))?;
    let mut embedded = Vec::new();
    for l in region_layers(f) {
        let t0 = std::time::Instant::now();
        let w = web::generalise(l, cache)?;
        let t1 = t0.elapsed().as_millis() as u64;
        web::flatgeobuf(&web_dir, &w)?;
        let t2 = t0.elapsed().as_millis() as u64;
        let k = classes(f, &l.name);
        embedded.push((l.name.clone(), web::map_json(&w, k), l.features.len()));
        tracing::debug!(layer = %l.name, generalise_ms = t1, fgb_ms = t2 - t1, json_ms = t0.elapsed().as_millis() as u64 - t2, "web layer");
    }
    let title = format!("smartgap 지도 — {}", f.report.pipeline.name);
    let path = dir.join("map.html");
    std::fs::write(&path, web::map_html(&title, &embedded)).map_err(|e| Error::write_io(&path, &e))
}

/// The number of quantile classes of `layer` in the `legend` table (the layer styles' default).
fn classes(f: &Facts<'_>, layer_name: &str) -> usize {
    let Some(l) = layer(f, "legend") else {
        return 0;
    };
    let t = Table::new(l);
    l.features
        .iter()
        .filter(|x| {
            t.text(x, "layer") == Some(layer_name)
                && t.text(x, "method") == Some("quantile")
                && t.int(x, "class").is_some()
        })
        .count()
}

/// HTML-escapes `s` for text and attribute values.
pub(crate) fn esc(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// KRW in 억원 with one decimal and thousands separators: 822630000000 → `8,226.3억 원`.
fn eok(krw: i128) -> String {
    let tenths = (krw as f64 / 1e7).round() as i128;
    format!(
        "{}{}.{}억 원",
        if tenths < 0 { "-" } else { "" },
        thousands(tenths.unsigned_abs() / 10),
        tenths.unsigned_abs() % 10
    )
}

fn thousands(n: u128) -> String {
    let s = n.to_string();
    let mut out = String::new();
    for (i, c) in s.chars().enumerate() {
        if i > 0 && (s.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// A layer's columns by name.
struct Table<'a> {
    layer: &'a OutLayer,
    cols: BTreeMap<&'a str, usize>,
}

impl<'a> Table<'a> {
    fn new(layer: &'a OutLayer) -> Table<'a> {
        let cols = layer
            .fields
            .iter()
            .enumerate()
            .map(|(i, (n, _))| (n.as_str(), i))
            .collect();
        Table { layer, cols }
    }

    fn value<'f>(&self, f: &'f OutFeature, col: &str) -> Option<&'f Value> {
        self.cols.get(col).and_then(|&i| f.values.get(i))
    }

    fn text<'f>(&self, f: &'f OutFeature, col: &str) -> Option<&'f str> {
        match self.value(f, col)? {
            Value::Text(s) => Some(s),
            _ => None,
        }
    }

    fn num(&self, f: &OutFeature, col: &str) -> Option<f64> {
        match self.value(f, col)? {
            Value::Int(n) => Some(*n as f64),
            Value::Real(x) => Some(*x),
            _ => None,
        }
    }

    fn int(&self, f: &OutFeature, col: &str) -> Option<i64> {
        match self.value(f, col)? {
            Value::Int(n) => Some(*n),
            _ => None,
        }
    }

    fn codes(&self) -> Vec<String> {
        self.layer
            .features
            .iter()
            .map(|f| self.text(f, "code").unwrap_or_default().to_string())
            .collect()
    }
}

/// The region layers, in the order written.
fn region_layers<'a>(f: &'a Facts<'_>) -> Vec<&'a OutLayer> {
    f.layers
        .iter()
        .filter(|l| l.geom == GeomKind::MultiPolygon)
        .map(|l| l.as_ref())
        .collect()
}

fn layer<'a>(f: &'a Facts<'_>, name: &str) -> Option<&'a OutLayer> {
    f.layers.iter().find(|l| l.name == name).map(|l| l.as_ref())
}

fn level_ko(level: &str) -> &str {
    match level {
        "sido" => "시도",
        "city" => "시 (일반구를 둔 시)",
        "sigungu" => "시군구",
        "emd" => "읍면동",
        "ri" => "리",
        "region_group" => "권역 (보고서 9개 권역)",
        other => other,
    }
}

/// Regions without data: the grey of the layer styles.
pub const NO_DATA: &str = "#c8c8c8";

/// `#rrggbb` of a style colour.
fn hex(c: crate::write::qml::Rgb) -> String {
    format!("#{:02x}{:02x}{:02x}", c[0], c[1], c[2])
}

/// The colour of class `c` (1-based) of `k`: the layer styles' (`write::qml::sequential`,
/// ColorBrewer YlOrRd), so the report, map.html and QGIS show the same map.
pub fn class_colour(c: i64, k: usize) -> String {
    hex(crate::write::qml::sequential((c - 1).max(0) as usize, k))
}

/// The colour of tier `t` (1 = highest) of `n`: the darkest for the top tier, as in the styles.
fn tier_colour(t: i64, n: usize) -> String {
    let i = ((t - 1).max(0) as usize).min(n.saturating_sub(1));
    hex(crate::write::qml::sequential(n.saturating_sub(1) - i, n))
}

/// The page being assembled: its table of contents and sections.
#[derive(Default)]
struct Page {
    toc: Vec<(String, String)>,
    body: String,
}

impl Page {
    fn section(&mut self, id: &str, title: &str) {
        self.toc.push((id.into(), title.into()));
        let _ = writeln!(self.body, "<h2 id=\"{id}\">{}</h2>", esc(title));
    }

    fn p(&mut self, text: &str) {
        let _ = writeln!(self.body, "<p>{text}</p>");
    }

    fn headline(&mut self, f: &Facts<'_>) {
        let t = &f.report.totals;
        self.section("headline", "주요 수치 (headline figures)");
        let _ = writeln!(
            self.body,
            "<div class=\"cards\"><div class=\"card\"><b id=\"total-krw\">{}</b><span>배정된 투자액 (assigned)</span></div><div class=\"card\"><b>{}</b><span>레코드 {} 건 중 배정 {} 건</span></div><div class=\"card\"><b>{}</b><span>제외 {} 건 (rejected)</span></div></div>",
            eok(t.assigned_krw),
            thousands(t.assigned_records as u128),
            thousands(t.input_records as u128),
            thousands(t.assigned_records as u128),
            eok(t.rejected_krw),
            thousands(t.rejected_records as u128),
        );
        let Some(top) = region_layers(f).first().copied() else {
            return;
        };
        let tab = Table::new(top);
        let sums = |prefix: &str| -> Vec<(String, i128)> {
            top.fields
                .iter()
                .filter(|(n, _)| n.starts_with(prefix) && n.ends_with("_krw"))
                .map(|(n, _)| {
                    let s: i128 = top
                        .features
                        .iter()
                        .map(|x| i128::from(tab.int(x, n).unwrap_or(0)))
                        .sum();
                    let key = n
                        .trim_start_matches(prefix)
                        .trim_end_matches("_krw")
                        .to_string();
                    (key, s)
                })
                .filter(|(_, s)| *s != 0)
                .collect()
        };
        for (prefix, title) in [
            ("amount_", "재원별 (by funding source)"),
            ("amount_program_", "사업별 (by programme)"),
            ("amount_period_", "기간별 (by period)"),
        ] {
            let mut rows = sums(prefix);
            if prefix == "amount_" {
                rows.retain(|(k, _)| {
                    [
                        "national_program",
                        "development_fee",
                        "local",
                        "unspecified",
                    ]
                    .contains(&k.as_str())
                });
            }
            if rows.is_empty() {
                continue;
            }
            let _ = write!(
                self.body,
                "<h3>{title}</h3><table class=\"num\"><tr><th>구분</th><th>금액</th></tr>"
            );
            for (k, s) in rows {
                let _ = write!(
                    self.body,
                    "<tr><td>{}</td><td>{}</td></tr>",
                    esc(&k),
                    eok(s)
                );
            }
            self.body.push_str("</table>\n");
        }
        let _ = writeln!(
            self.body,
            "<p class=\"note\">{} level sums (money held at {} or below); records outside every region are in the rejects.</p>",
            esc(level_ko(&top.name)),
            esc(level_ko(&top.name))
        );
    }

    fn rankings(&mut self, f: &Facts<'_>) {
        self.section("rankings", "순위 (rankings)");
        let Some(l) = layer(f, "sigungu").or_else(|| region_layers(f).first().copied()) else {
            return;
        };
        let tab = Table::new(l);
        for (col, title) in [
            ("amount_per_km2_krw", "면적당 투자액 (KRW per km²)"),
            ("amount_per_capita_krw", "1인당 투자액 (KRW per person)"),
            (
                "deficit_krw",
                "목표 대비 부족액 (gap to the target per km², KRW)",
            ),
        ] {
            if !tab.cols.contains_key(col) {
                continue;
            }
            let mut rows: Vec<(&OutFeature, f64)> = l
                .features
                .iter()
                .filter_map(|x| tab.num(x, col).map(|v| (x, v)))
                .collect();
            if rows.is_empty() {
                continue;
            }
            rows.sort_by(|a, b| {
                b.1.total_cmp(&a.1)
                    .then_with(|| tab.text(a.0, "code").cmp(&tab.text(b.0, "code")))
            });
            let n = rows.len();
            let _ = writeln!(
                self.body,
                "<h3>{} — {} ({n} regions with data)</h3><table class=\"num\"><tr><th>순위</th><th>지역</th><th>값</th></tr>",
                esc(level_ko(&l.name)),
                esc(title)
            );
            let show: Vec<usize> = if n <= 20 {
                (0..n).collect()
            } else {
                (0..10).chain(n - 10..n).collect()
            };
            for (k, &i) in show.iter().enumerate() {
                if k == 10 && n > 20 {
                    self.body.push_str("<tr><td colspan=\"3\">…</td></tr>");
                }
                let (x, v) = rows[i];
                let _ = write!(
                    self.body,
                    "<tr><td>{}</td><td class=\"text\">{}</td><td>{}</td></tr>",
                    i + 1,
                    esc(tab
                        .text(x, "full_name")
                        .or(tab.text(x, "name"))
                        .unwrap_or_default()),
                    thousands(v.max(0.0).round() as u128)
                );
            }
            self.body.push_str("</table>\n");
        }
    }

    fn competitive(&mut self, f: &Facts<'_>) {
        self.section(
            "rich",
            "부익부: 공모사업비는 어디로 갔나 (the rich get richer)",
        );
        self.p("국가 공모사업비 (national programme money) 중 이미 기반시설이 있던 지역 (incumbents: 보고서 그림 1의 50억 이상 등급, 또는 개발부담 재원 상위 등급) 이 받은 몫, 기간별.");
        let rows: Vec<&SummaryRow> = f
            .summary
            .iter()
            .filter(|r| {
                r.indicator.starts_with("program_share_in_")
                    || r.indicator == "spearman_fee_vs_program"
                    || (r.indicator == "gini" && r.variable.starts_with("program_"))
            })
            .collect();
        if rows.is_empty() {
            return;
        }
        self.body.push_str("<table class=\"num\"><tr><th>수준</th><th>기간</th><th>지표</th><th>값</th><th>근거 (counts)</th></tr>\n");
        for r in rows {
            let _ = writeln!(
                self.body,
                "<tr><td>{}</td><td>{}</td><td class=\"text\">{} {}</td><td>{}</td><td class=\"text\">{}</td></tr>",
                esc(level_ko(&r.level)),
                if r.period.is_empty() {
                    "전체".to_string()
                } else {
                    esc(&r.period)
                },
                esc(&r.indicator),
                if r.indicator == "gini" {
                    esc(&r.variable)
                } else {
                    String::new()
                },
                r.value.map_or("—".into(), |v| format!("{v:.3}")),
                esc(&r.note)
            );
        }
        self.body.push_str("</table>\n");
    }

    fn rejects(&mut self, f: &Facts<'_>) {
        self.section(
            "rejects",
            "제외된 레코드와 코드 변환 (rejects and crosswalk)",
        );
        let by = &f.report.rejects_by_reason;
        if by.is_empty() {
            self.p("제외된 레코드 없음 (no record was rejected).");
        } else {
            self.body.push_str("<table class=\"num\"><tr><th>사유 (reason)</th><th>건수</th><th>금액</th><th>예</th></tr>\n");
            let rejects = layer(f, "rejects").map(Table::new);
            for (reason, s) in by {
                let examples: Vec<String> = rejects
                    .as_ref()
                    .map(|t| {
                        t.layer
                            .features
                            .iter()
                            .filter(|x| t.text(x, "reason") == Some(reason.as_str()))
                            .take(3)
                            .map(|x| {
                                format!(
                                    "{} row {}: {}",
                                    t.text(x, "input").unwrap_or_default(),
                                    t.int(x, "row").unwrap_or(0),
                                    t.text(x, "detail").unwrap_or_default()
                                )
                            })
                            .collect()
                    })
                    .unwrap_or_default();
                let _ = writeln!(
                    self.body,
                    "<tr><td class=\"text\">{}</td><td>{}</td><td>{}</td><td class=\"text\">{}</td></tr>",
                    esc(reason),
                    s.count,
                    eok(s.amount_krw),
                    esc(&examples.join(" · "))
                );
            }
            self.body.push_str("</table>\n");
        }
        if f.rules.is_empty() {
            self.p("코드 변환 없음 (no record needed the crosswalk).");
            return;
        }
        self.body.push_str("<h3>적용된 행정구역 변경 (crosswalk rules applied)</h3><table class=\"num\"><tr><th>규칙 (rule)</th><th>레코드</th></tr>\n");
        for (rule, n) in f.rules {
            let _ = writeln!(
                self.body,
                "<tr><td class=\"text\">{}</td><td>{n}</td></tr>",
                esc(rule)
            );
        }
        self.body.push_str("</table>\n");
    }

    fn changes(&mut self, now: &State, before: Option<&State>) {
        self.section(
            "changes",
            "지난 발행 이후 변화 (changes since the previous published run)",
        );
        let Some(b) = before else {
            self.p("이전에 발행된 실행이 없습니다 (no previous published run to compare with).");
            return;
        };
        let _ = writeln!(
            self.body,
            "<p>이전 실행 <code>{}</code> 대비: 배정액 {} → {}, 레코드 {} → {}, 제외 {} → {} 건.</p>",
            esc(&b.run_id),
            eok(b.assigned_krw),
            eok(now.assigned_krw),
            b.input_records,
            now.input_records,
            b.rejected_records,
            now.rejected_records
        );
        let added: Vec<&String> = now.records.difference(&b.records).collect();
        let gone: Vec<&String> = b.records.difference(&now.records).collect();
        let list = |v: &[&String]| {
            let mut s = v
                .iter()
                .take(20)
                .map(|x| esc(x))
                .collect::<Vec<_>>()
                .join(", ");
            if v.len() > 20 {
                let _ = write!(s, " … (+{})", v.len() - 20);
            }
            s
        };
        let _ = writeln!(
            self.body,
            "<p>새 레코드 <span id=\"new-records\">{}</span> 건: {}</p><p>사라진 레코드 {} 건: {}</p>",
            added.len(),
            list(&added),
            gone.len(),
            list(&gone)
        );
        let mut changed = Vec::new();
        for (level, regions) in &now.regions {
            let Some(old) = b.regions.get(level) else {
                continue;
            };
            for (code, (tier, class)) in regions {
                if let Some((ot, oc)) = old.get(code)
                    && (ot != tier || oc != class)
                {
                    changed.push(format!(
                        "{} {code}: {ot} / {oc} → {tier} / {class}",
                        level_ko(level)
                    ));
                }
            }
        }
        let _ = writeln!(
            self.body,
            "<p>등급이나 구간이 바뀐 지역 {} 곳{}</p>",
            changed.len(),
            if changed.is_empty() {
                ".".to_string()
            } else {
                format!(
                    ":</p><ul>{}</ul><p>",
                    changed
                        .iter()
                        .take(50)
                        .map(|c| format!("<li>{}</li>", esc(c)))
                        .collect::<String>()
                )
            }
        );
    }

    fn provenance(&mut self, f: &Facts<'_>) {
        let r = f.report;
        self.section("provenance", "출처와 재현 정보 (provenance)");
        let _ = writeln!(
            self.body,
            "<p>smartgap {} (commit <code>{}</code>), 실행 <code>{}</code>, 설정 <code>{}</code>.</p>",
            esc(r.smartgap_version),
            esc(r.git_commit),
            esc(&r.run_id),
            esc(&r.pipeline.config_path.display().to_string())
        );
        let vintage = match &r.boundaries.vintage {
            Some(v) => format!(
                "행정구역 기준일 (geography as of) <strong>{}</strong>: {} 사건 적용, {} 미시행 사건 \
                 건너뜀; 원자료 {}. 면적: {}.",
                esc(&v.as_of),
                v.events_applied,
                v.events_skipped.len(),
                esc(&v.source),
                esc(&v.area_basis)
            ),
            None => "행정구역 (geography): 경계 파일 그대로 (the boundary file as it is; no \
                     <code>as_of</code>)."
                .to_string(),
        };
        let _ = writeln!(self.body, "<p id=\"vintage\">{vintage}</p>");
        self.body
            .push_str("<table><tr><th>입력 (input)</th><th>행</th><th>sha256</th></tr>\n");
        let _ = writeln!(
            self.body,
            "<tr><td>경계 (boundaries) {}</td><td>{}</td><td><code>{}</code></td></tr>",
            esc(&r.boundaries.file.path.display().to_string()),
            r.boundaries.file.rows,
            esc(&r.boundaries.file.sha256)
        );
        for i in &r.inputs {
            let _ = writeln!(
                self.body,
                "<tr><td>{} ({})</td><td>{}</td><td><code>{}</code></td></tr>",
                esc(&i.name),
                esc(&i.file.path.display().to_string()),
                i.file.rows,
                esc(&i.file.sha256)
            );
        }
        self.body.push_str("</table>\n");
        let _ = writeln!(
            self.body,
            "<p class=\"note\">{}</p>",
            esc(crate::write::metadata::ATTRIBUTION)
        );
    }

    fn finish(self, f: &Facts<'_>) -> String {
        let mut out = String::with_capacity(self.body.len() + 4096);
        let _ = write!(
            out,
            "<!DOCTYPE html>\n<html lang=\"ko\">\n<head>\n<meta charset=\"utf-8\">\n<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; style-src 'unsafe-inline'; img-src data:\">\n<title>smartgap 보고서 — {}</title>\n<style>{STYLE}</style>\n</head>\n<body>\n<h1>스마트시티 투자 격차 보고서 <small>{} · {}</small></h1>\n<nav><ol>",
            esc(&f.report.pipeline.name),
            esc(&f.report.pipeline.name),
            esc(&f.report.run_id)
        );
        for (id, title) in &self.toc {
            let _ = write!(out, "<li><a href=\"#{id}\">{}</a></li>", esc(title));
        }
        out.push_str("</ol></nav>\n<main>\n");
        out.push_str(&self.body);
        out.push_str("</main>\n</body>\n</html>\n");
        out
    }
}

const STYLE: &str = "body{font-family:NanumGothic,'Noto Sans CJK KR','Malgun Gothic',sans-serif;margin:24px auto;max-width:1120px;color:#222;line-height:1.5}h1 small{font-size:14px;color:#666;font-weight:normal}h2{border-bottom:2px solid #bd0026;padding-bottom:4px;margin-top:36px}nav ol{columns:2}table{border-collapse:collapse;margin:8px 0 16px}td,th{border:1px solid #ccc;padding:3px 8px;font-size:13px}table.num td{text-align:right}td.text{text-align:left}.note{color:#666;font-size:12px}.cards{display:flex;gap:16px}.card{border:1px solid #ddd;padding:12px 16px;border-radius:6px}.card b{display:block;font-size:22px}.maps,.charts{display:flex;flex-wrap:wrap;gap:12px}figure{margin:0}code{font-size:12px}";

/// The state the next night compares itself with.
fn state(f: &Facts<'_>) -> State {
    let t = &f.report.totals;
    let regions = region_layers(f)
        .into_iter()
        .map(|l| {
            let tab = Table::new(l);
            let codes = l
                .features
                .iter()
                .map(|x| {
                    (
                        tab.text(x, "code").unwrap_or_default().to_string(),
                        (
                            tab.text(x, "tier_label").unwrap_or_default().to_string(),
                            tab.int(x, "class_quantile")
                                .map_or("자료 없음".to_string(), |c| c.to_string()),
                        ),
                    )
                })
                .collect();
            (l.name.clone(), codes)
        })
        .collect();
    State {
        run_id: f.report.run_id.clone(),
        input_records: t.input_records,
        assigned_krw: t.assigned_krw,
        rejected_records: t.rejected_records,
        rejected_krw: t.rejected_krw,
        regions,
        records: f.records.clone(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn money_and_text_read_as_planners_write_them() {
        assert_eq!(eok(822_630_000_000), "8,226.3억 원");
        assert_eq!(eok(5_000_000), "0.1억 원");
        assert_eq!(eok(0), "0.0억 원");
        assert_eq!(
            esc("<a href=\"x\">&'"),
            "&lt;a href=&quot;x&quot;&gt;&amp;&#39;"
        );
        assert_eq!(thousands(1_234_567), "1,234,567");
    }

    #[test]
    fn colours_are_the_layer_styles() {
        assert_eq!(class_colour(1, 5), "#ffffcc");
        assert_eq!(class_colour(5, 5), "#800026");
        assert_eq!(class_colour(3, 5), "#fd8d3c");
        assert_eq!(tier_colour(1, 3), "#800026");
        assert_eq!(tier_colour(3, 3), "#ffffcc");
    }
}
