//! Maps and charts as SVG: region polygons simplified to the drawing's pixel size, filled by
//! class, and the Lorenz curves.

use std::fmt::Write as _;

use geo::{Geometry, MultiPolygon, Simplify};

use crate::write::OutLayer;

/// Width of a map in CSS pixels; the height follows the layer's extent.
pub const MAP_WIDTH: f64 = 520.0;
const PAD: f64 = 6.0;

/// A layer's polygons as SVG path data in the map's pixel space, one per feature (`None`
/// without geometry), and the map's size.
pub struct Shapes {
    pub paths: Vec<Option<String>>,
    pub width: f64,
    pub height: f64,
}

/// Projects `layer` (EPSG:5179) onto a map `MAP_WIDTH` wide: y flipped, each polygon
/// simplified (Ramer–Douglas–Peucker) to half a pixel and rings under a quarter of a square
/// pixel dropped, coordinates to 0.1 px.
pub fn shapes(layer: &OutLayer) -> Shapes {
    let polys: Vec<Option<&MultiPolygon<f64>>> = layer
        .features
        .iter()
        .map(|f| match &f.geometry {
            Some(Geometry::MultiPolygon(mp)) => Some(mp),
            _ => None,
        })
        .collect();
    let (mut x0, mut y0, mut x1, mut y1) = (f64::MAX, f64::MAX, f64::MIN, f64::MIN);
    for mp in polys.iter().flatten() {
        for p in &mp.0 {
            for c in &p.exterior().0 {
                x0 = x0.min(c.x);
                y0 = y0.min(c.y);
                x1 = x1.max(c.x);
                y1 = y1.max(c.y);
            }
        }
    }
    if x0 > x1 || y0 > y1 {
        return Shapes {
            paths: vec![None; polys.len()],
            width: MAP_WIDTH,
            height: MAP_WIDTH,
        };
    }
    let scale = (MAP_WIDTH - 2.0 * PAD) / (x1 - x0).max(1.0);
    let height = (y1 - y0) * scale + 2.0 * PAD;
    let eps = 0.5 / scale;
    let paths = polys
        .iter()
        .map(|mp| {
            let mp = (*mp)?;
            let simple = mp.simplify(eps);
            let mut d = String::new();
            let ring_path = |d: &mut String, ring: &geo::LineString<f64>| {
                for (k, c) in ring.0.iter().enumerate() {
                    let x = (c.x - x0) * scale + PAD;
                    let y = (y1 - c.y) * scale + PAD;
                    let _ = write!(d, "{}{:.1} {:.1}", if k == 0 { "M" } else { "L" }, x, y);
                }
                d.push('Z');
            };
            for p in &simple.0 {
                for ring in std::iter::once(p.exterior()).chain(p.interiors()) {
                    let area = ring_area(&ring.0) * scale * scale;
                    if ring.0.len() >= 4 && area >= 0.25 {
                        ring_path(&mut d, ring);
                    }
                }
            }
            // A region smaller than the drawing's resolution is still drawn, as its largest
            // exterior unsimplified: every region is on the map.
            if d.is_empty()
                && let Some(p) = mp.0.iter().max_by(|a, b| {
                    ring_area(&a.exterior().0).total_cmp(&ring_area(&b.exterior().0))
                })
            {
                ring_path(&mut d, p.exterior());
            }
            (!d.is_empty()).then_some(d)
        })
        .collect();
    Shapes {
        paths,
        width: MAP_WIDTH,
        height,
    }
}

fn ring_area(cs: &[geo::Coord<f64>]) -> f64 {
    let Some(o) = cs.first() else { return 0.0 };
    cs.windows(2)
        .map(|w| (w[0].x - o.x) * (w[1].y - o.y) - (w[1].x - o.x) * (w[0].y - o.y))
        .sum::<f64>()
        .abs()
        / 2.0
}

/// One entry of a map's legend: its colour, label and number of regions.
pub struct Key {
    pub colour: String,
    pub label: String,
    pub count: usize,
}

/// A standalone SVG map: each feature's path filled with `colours[i]` (features without a
/// path are left out), region codes as `data-code`, a title and the legend below the map.
pub fn map(
    shapes: &Shapes,
    colours: &[String],
    codes: &[String],
    title: &str,
    keys: &[Key],
    stroke: bool,
) -> String {
    let legend_h = 18.0 * keys.len() as f64 + 30.0;
    let h = shapes.height + legend_h;
    let mut s = format!(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" class=\"map\" viewBox=\"0 0 {w:.0} {h:.0}\" width=\"{w:.0}\" height=\"{h:.0}\" role=\"img\" aria-label=\"{t}\">\n<title>{t}</title>\n<rect width=\"100%\" height=\"100%\" fill=\"#ffffff\"/>\n<g class=\"regions\" stroke=\"{sc}\" stroke-width=\"0.3\" fill-rule=\"evenodd\">\n",
        w = shapes.width,
        t = super::esc(title),
        sc = if stroke { "#ffffff" } else { "none" },
    );
    for ((path, colour), code) in shapes.paths.iter().zip(colours).zip(codes) {
        if let Some(d) = path {
            let _ = writeln!(
                s,
                "<path data-code=\"{}\" fill=\"{colour}\" d=\"{d}\"/>",
                super::esc(code)
            );
        }
    }
    s.push_str("</g>\n");
    let mut y = shapes.height + 14.0;
    let _ = writeln!(
        s,
        "<text x=\"6\" y=\"{y:.0}\" font-size=\"12\" font-weight=\"bold\" font-family=\"NanumGothic, 'Noto Sans CJK KR', sans-serif\">{}</text>",
        super::esc(title)
    );
    for k in keys {
        y += 18.0;
        let _ = writeln!(
            s,
            "<rect x=\"6\" y=\"{:.0}\" width=\"14\" height=\"12\" fill=\"{}\" stroke=\"#888888\" stroke-width=\"0.5\"/><text x=\"26\" y=\"{:.0}\" font-size=\"11\" font-family=\"NanumGothic, 'Noto Sans CJK KR', sans-serif\">{} ({})</text>",
            y - 10.0,
            k.colour,
            y,
            super::esc(&k.label),
            k.count
        );
    }
    s.push_str("</svg>\n");
    s
}

/// One curve: its label, colour and points.
pub type Series = (String, &'static str, Vec<(f64, f64)>);

/// Lorenz curves: cumulative share of the weight (x) against cumulative share of the money (y),
/// one polyline per series, with the line of equality.
pub fn lorenz(series: &[Series], title: &str) -> String {
    let (w, h, m) = (320.0, 320.0, 34.0);
    let px = |x: f64| m + x * (w - 2.0 * m);
    let py = |y: f64| h - m - y * (h - 2.0 * m);
    let mut s = format!(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" class=\"chart\" viewBox=\"0 0 {w} {h}\" width=\"{w}\" height=\"{h}\" role=\"img\" aria-label=\"{t}\"><title>{t}</title>\n<rect width=\"100%\" height=\"100%\" fill=\"#ffffff\"/>\n<path d=\"M{:.1} {:.1}L{:.1} {:.1}L{:.1} {:.1}Z\" fill=\"none\" stroke=\"#999999\"/>\n<path d=\"M{:.1} {:.1}L{:.1} {:.1}\" stroke=\"#999999\" stroke-dasharray=\"3 3\"/>\n",
        px(0.0),
        py(0.0),
        px(1.0),
        py(0.0),
        px(1.0),
        py(1.0),
        px(0.0),
        py(0.0),
        px(1.0),
        py(1.0),
        t = super::esc(title),
    );
    for (k, (label, colour, pts)) in series.iter().enumerate() {
        let mut d = String::new();
        for (i, (x, y)) in pts.iter().enumerate() {
            let _ = write!(
                d,
                "{}{:.1} {:.1}",
                if i == 0 { "M" } else { "L" },
                px(*x),
                py(*y)
            );
        }
        let _ = writeln!(
            s,
            "<path d=\"{d}\" fill=\"none\" stroke=\"{colour}\" stroke-width=\"1.5\"/><text x=\"{}\" y=\"{}\" font-size=\"11\" fill=\"{colour}\">{}</text>",
            m + 6.0,
            m + 14.0 * (k as f64 + 1.0),
            super::esc(label)
        );
    }
    let _ = writeln!(
        s,
        "<text x=\"{}\" y=\"{}\" font-size=\"10\">지역 누적 비율 (cumulative share of regions)</text>",
        m,
        h - 8.0
    );
    s.push_str("</svg>\n");
    s
}
