//! The report's inequality section: every level's indicators with a sentence each, Moran's I,
//! and the Lorenz curves.

use std::fmt::Write as _;

use super::{Facts, Page, esc, level_ko, region_layers, svg};
use crate::indicators::summary::SummaryRow;
use crate::write::OutLayer;

impl Page {
    pub(super) fn inequality(&mut self, f: &Facts<'_>) {
        self.section("inequality", "불균형 지표 (inequality)");
        self.p("각 지표는 면적당 투자액 (KRW per km²) 을 지역마다 한 번씩 센 값입니다 (weighting none). 0 = 완전 균등.");
        let value = |level: &str, indicator: &str, partition: &str| {
            f.summary.iter().find(|r| {
                r.level == level
                    && r.indicator == indicator
                    && r.weighting == "none"
                    && r.partition == partition
                    && r.period.is_empty()
                    && r.variable == crate::indicators::summary::VARIABLE
            })
        };
        let shown = |r: Option<&SummaryRow>| match r {
            Some(SummaryRow { value: Some(v), .. }) => format!("{v:.3}"),
            Some(r) => format!("— <span class=\"note\">{}</span>", esc(&r.note)),
            None => "—".into(),
        };
        let explained = [
            (
                "gini",
                "",
                "Gini: 두 지역을 무작위로 골랐을 때 면적당 투자액 차이가 평균의 몇 배인지의 절반 (0 균등, 1 한 곳에 집중).",
            ),
            (
                "theil_t",
                "",
                "Theil T: 투자가 균등 분포에서 벗어난 정도 (정보량); 아래 두 줄로 나뉩니다.",
            ),
            (
                "theil_t_between",
                "region_group",
                "Theil T 권역 간: 9개 권역 사이의 차이가 설명하는 부분.",
            ),
            (
                "theil_t_within",
                "region_group",
                "Theil T 권역 내: 같은 권역 안의 차이.",
            ),
            (
                "atkinson_0.5",
                "",
                "Atkinson (ε = 0.5): 같은 사회후생을 주는 균등 분배라면 포기할 수 있는 평균의 비율.",
            ),
            (
                "palma",
                "",
                "Palma: 상위 10 % 지역의 몫 / 하위 40 % 지역의 몫.",
            ),
        ];
        let levels: Vec<&OutLayer> = region_layers(f);
        let _ = write!(self.body, "<table class=\"num\"><tr><th>지표</th>");
        for l in &levels {
            let _ = write!(self.body, "<th>{}</th>", esc(level_ko(&l.name)));
        }
        self.body.push_str("<th>뜻 (meaning)</th></tr>\n");
        for (ind, part, meaning) in explained {
            let _ = write!(self.body, "<tr><td>{ind}</td>");
            for l in &levels {
                let _ = write!(self.body, "<td>{}</td>", shown(value(&l.name, ind, part)));
            }
            let _ = writeln!(self.body, "<td class=\"text\">{meaning}</td></tr>");
        }
        let hoover = |level: &str| {
            f.summary
                .iter()
                .find(|r| r.level == level && r.indicator == "hoover_vs_area")
        };
        let _ = write!(self.body, "<tr><td>hoover_vs_area</td>");
        for l in &levels {
            let _ = write!(self.body, "<td>{}</td>", shown(hoover(&l.name)));
        }
        self.body.push_str("<td class=\"text\">Hoover: 투자액이 면적에 비례하려면 옮겨야 할 돈의 비율.</td></tr>\n");
        let moran = |level: &str, ind: &str| {
            f.summary
                .iter()
                .find(|r| r.level == level && r.indicator == ind)
        };
        let _ = write!(self.body, "<tr><td>Moran's I (p)</td>");
        for l in &levels {
            let i = moran(&l.name, "moran_i").and_then(|r| r.value);
            let p = moran(&l.name, "moran_p_sim").and_then(|r| r.value);
            let _ = write!(
                self.body,
                "<td>{}</td>",
                match (i, p) {
                    (Some(i), Some(p)) => format!("{i:.3} ({p:.3})"),
                    (Some(i), None) => format!("{i:.3}"),
                    _ => "—".into(),
                }
            );
        }
        self.body.push_str("<td class=\"text\">Moran's I: 이웃한 지역끼리 면적당 투자액이 비슷한 정도 (0 무작위, 양수 군집); p 는 순열 검정.</td></tr></table>\n");
        // Lorenz curves per level, unweighted and area-weighted.
        self.body
            .push_str("<h3>로렌츠 곡선 (Lorenz curves)</h3><div class=\"charts\">\n");
        for l in &levels {
            let series: Vec<svg::Series> = [
                ("none", "#bd0026", "지역 수 기준"),
                ("area", "#2c7bb6", "면적 가중"),
            ]
            .iter()
            .map(|(w, colour, label)| {
                let pts: Vec<(f64, f64)> = f
                    .lorenz
                    .iter()
                    .filter(|p| {
                        p.level == l.name
                            && p.weighting == *w
                            && p.variable == crate::indicators::summary::VARIABLE
                    })
                    .map(|p| (p.cumulative_weight_share, p.cumulative_amount_share))
                    .collect();
                (label.to_string(), *colour, pts)
            })
            .filter(|(_, _, pts)| !pts.is_empty())
            .collect();
            if series.is_empty() {
                continue;
            }
            let gini = value(&l.name, "gini", "").and_then(|r| r.value);
            let title = format!(
                "{} (Gini {})",
                level_ko(&l.name),
                gini.map_or("—".into(), |g| format!("{g:.3}"))
            );
            let _ = writeln!(
                self.body,
                "<figure>{}</figure>",
                svg::lorenz(&series, &title)
            );
        }
        self.body.push_str("</div>\n");
    }
}
