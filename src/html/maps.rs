//! The report's maps: a choropleth of every level with the published classes, the report's
//! Figure 1 beside the data's tiers, and the LISA clusters.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use super::{
    Facts, NO_DATA, Page, Table, class_colour, classes, esc, layer, level_ko, region_layers, svg,
    tier_colour,
};
use crate::write::OutLayer;

impl Page {
    /// The choropleths, Figure 1 beside the data's tiers, and LISA: inline, and returned as
    /// standalone SVG files by name.
    pub(super) fn maps(&mut self, f: &Facts<'_>) -> Vec<(String, String)> {
        self.section("maps", "지도 (maps)");
        self.p("면적당 투자액 (KRW per km²), 분위 (quantile) 구간; 회색은 자료 없음 (no record reached the region). The classes and colours are those of the GeoPackage's <code>legend</code> table, <code>class_quantile</code> column and default QGIS style.");
        let legend = layer(f, "legend").map(Table::new);
        let mut files = Vec::new();
        self.body.push_str("<div class=\"maps\">\n");
        for l in region_layers(f) {
            let tab = Table::new(l);
            let shapes = svg::shapes(l);
            let codes = tab.codes();
            let keys_of = |method: &str, colour: &dyn Fn(i64) -> String| -> Vec<svg::Key> {
                let Some(lt) = &legend else { return Vec::new() };
                lt.layer
                    .features
                    .iter()
                    .filter(|x| {
                        lt.text(x, "layer") == Some(l.name.as_str())
                            && lt.text(x, "method") == Some(method)
                    })
                    .map(|x| svg::Key {
                        colour: lt.int(x, "class").map_or(NO_DATA.to_string(), colour),
                        label: lt.text(x, "label").unwrap_or_default().to_string(),
                        count: lt.int(x, "count").unwrap_or(0) as usize,
                    })
                    .collect()
            };
            let k = classes(f, &l.name);
            let colours: Vec<String> = l
                .features
                .iter()
                .map(|x| {
                    tab.int(x, "class_quantile")
                        .map_or(NO_DATA.to_string(), |c| class_colour(c, k))
                })
                .collect();
            let title = format!("{} 면적당 투자액 (KRW/km²)", level_ko(&l.name));
            let keys = keys_of("quantile", &|c| class_colour(c, k));
            let stroke = l.features.len() < 1000;
            let m = svg::map(&shapes, &colours, &codes, &title, &keys, stroke);
            let _ = writeln!(
                self.body,
                "<figure data-layer=\"{}\" data-regions=\"{}\">{m}</figure>",
                esc(&l.name),
                l.features.len()
            );
            files.push((format!("{}_per_km2", l.name), m));
            if l.name == "sigungu" {
                let n_tiers = f.report.pipeline.indicators.tiers.len();
                files.extend(self.tier_maps(l, &tab, &shapes, &codes, n_tiers));
            }
        }
        self.body.push_str("</div>\n");
        files
    }

    /// Figure 1 of the report (its tiers of 2003–2018 investment, 69 governments) beside the
    /// tiers the data give, and the LISA clusters, for the 시군구.
    fn tier_maps(
        &mut self,
        l: &OutLayer,
        tab: &Table<'_>,
        shapes: &svg::Shapes,
        codes: &[String],
        n_tiers: usize,
    ) -> Vec<(String, String)> {
        let mut files = Vec::new();
        let categorised = |values: Vec<Option<(i64, String)>>| {
            let mut keys: BTreeMap<i64, (String, usize)> = BTreeMap::new();
            let mut none = 0;
            for v in &values {
                match v {
                    Some((t, label)) => keys.entry(*t).or_insert((label.clone(), 0)).1 += 1,
                    None => none += 1,
                }
            }
            let colours: Vec<String> = values
                .iter()
                .map(|v| {
                    v.as_ref()
                        .map_or(NO_DATA.to_string(), |(t, _)| tier_colour(*t, n_tiers))
                })
                .collect();
            let mut k: Vec<svg::Key> = keys
                .into_iter()
                .map(|(t, (label, count))| svg::Key {
                    colour: tier_colour(t, n_tiers),
                    label,
                    count,
                })
                .collect();
            k.push(svg::Key {
                colour: NO_DATA.to_string(),
                label: "자료 없음 (no data)".into(),
                count: none,
            });
            (colours, k)
        };
        let report: Vec<Option<(i64, String)>> = l
            .features
            .iter()
            .map(|x| {
                let t: i64 = tab.text(x, "report_tier")?.trim().parse().ok()?;
                let label = match t {
                    1 => "50억 이상",
                    2 => "10억 이상 50억 미만",
                    _ => "10억 미만",
                };
                Some((t, label.to_string()))
            })
            .collect();
        let data: Vec<Option<(i64, String)>> = l
            .features
            .iter()
            .map(|x| Some((tab.int(x, "tier")?, tab.text(x, "tier_label")?.to_string())))
            .collect();
        self.body.push_str("</div>\n<h3>보고서 그림 1과 자료의 비교 (the report's Figure 1 beside the data)</h3>\n<p>왼쪽: 보고서 그림 1의 누적 투자 등급 (2003–2018, 69개 지자체; 광역시는 전체로 표시되어 그 구·군에 모두 칠해짐). 오른쪽: 이 실행의 레코드가 주는 등급 (every record, all years).</p>\n<div class=\"maps\">\n");
        for (name, title, values) in [
            (
                "sigungu_figure1",
                "보고서 그림 1 등급 (report_tier)",
                report,
            ),
            ("sigungu_tier", "자료의 투자 등급 (tier)", data),
        ] {
            let (colours, keys) = categorised(values);
            let m = svg::map(shapes, &colours, codes, title, &keys, true);
            let _ = writeln!(
                self.body,
                "<figure data-layer=\"{}\" data-regions=\"{}\">{m}</figure>",
                esc(&l.name),
                l.features.len()
            );
            files.push((name.to_string(), m));
        }
        // LISA: a quadrant where p (permutations) ≤ 0.05; withheld regions say why.
        let quadrant = |q: &str| match q {
            "HH" => (1, "#d7191c", "HH 고-고 (high among high)"),
            "LL" => (2, "#2c7bb6", "LL 저-저 (low among low)"),
            "LH" => (3, "#abd9e9", "LH 저-고 (low among high)"),
            "HL" => (4, "#fdae61", "HL 고-저 (high among low)"),
            _ => (5, "#f7f7f7", "유의하지 않음 (p > 0.05)"),
        };
        let mut keys: BTreeMap<i64, (&'static str, &'static str, usize)> = BTreeMap::new();
        let colours: Vec<String> = l
            .features
            .iter()
            .map(|x| {
                let (k, c, label) = match (tab.text(x, "lisa_quadrant"), tab.num(x, "lisa_p_sim")) {
                    (Some(q), Some(p)) if p <= 0.05 => quadrant(q),
                    (Some(_), _) => quadrant(""),
                    _ => (
                        6,
                        NO_DATA,
                        "판단 보류 (withheld: no neighbours or zero among zeros)",
                    ),
                };
                keys.entry(k).or_insert((c, label, 0)).2 += 1;
                c.to_string()
            })
            .collect();
        let keys: Vec<svg::Key> = keys
            .into_values()
            .map(|(colour, label, count)| svg::Key {
                colour: colour.to_string(),
                label: label.into(),
                count,
            })
            .collect();
        let m = svg::map(
            shapes,
            &colours,
            codes,
            "LISA 군집 (local Moran, 시군구)",
            &keys,
            true,
        );
        let _ = writeln!(
            self.body,
            "<figure data-layer=\"{}\" data-regions=\"{}\">{m}</figure>",
            esc(&l.name),
            l.features.len()
        );
        files.push(("sigungu_lisa".into(), m));
        files
    }
}
