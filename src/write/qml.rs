//! QGIS 3 layer styles as text: a [`Renderer`] (graduated or categorised fills) becomes the
//! `renderer-v2` element QGIS reads, inside a QML document ([`qml`]) for `layer_styles` or
//! inside a project's map layer ([`super::qgis_project`]), and an SLD 1.1 document ([`sld`])
//! for the `styleSLD` column.
//!
//! The XML is written by hand, element by element in a fixed order, so the same renderer always
//! gives the same bytes. Symbol layers carry their properties twice, as QGIS 3.22 writes them:
//! an `Option` map (read by QGIS ≥ 3.20) and `prop` elements (read by older 3.x).

use std::fmt::Write as _;

/// The QGIS version the styles are written for (Debian 12's python3-qgis), as QGIS stamps it.
pub const QGIS_VERSION: &str = "3.22.16-Białowieża";

/// A colour, red, green, blue.
pub type Rgb = [u8; 3];

/// The fill of regions without data.
pub const NO_DATA_GREY: Rgb = [200, 200, 200];

/// The outline of every region.
const OUTLINE: Rgb = [110, 110, 110];

/// ColorBrewer's YlOrRd, 9 classes, light to dark.
const YL_OR_RD: [Rgb; 9] = [
    [255, 255, 204],
    [255, 237, 160],
    [254, 217, 118],
    [254, 178, 76],
    [253, 141, 60],
    [252, 78, 42],
    [227, 26, 28],
    [189, 0, 38],
    [128, 0, 38],
];

/// Colour `i` (0-based, light to dark) of `n` taken evenly along ColorBrewer's YlOrRd,
/// interpolated between its nine colours.
pub fn sequential(i: usize, n: usize) -> Rgb {
    let t = if n <= 1 {
        0.5
    } else {
        i.min(n - 1) as f64 / (n - 1) as f64
    };
    let x = t * (YL_OR_RD.len() - 1) as f64;
    let lo = (x.floor() as usize).min(YL_OR_RD.len() - 1);
    let hi = (lo + 1).min(YL_OR_RD.len() - 1);
    let f = x - lo as f64;
    let mix = |a: u8, b: u8| (f64::from(a) + (f64::from(b) - f64::from(a)) * f).round() as u8;
    [
        mix(YL_OR_RD[lo][0], YL_OR_RD[hi][0]),
        mix(YL_OR_RD[lo][1], YL_OR_RD[hi][1]),
        mix(YL_OR_RD[lo][2], YL_OR_RD[hi][2]),
    ]
}

/// One class of a graduated renderer: values from `lower` to `upper` (QGIS tests both bounds
/// inclusively and takes the first range that holds a value, so a value on a shared bound
/// goes to the lower class, as in mapclassify).
#[derive(Debug, Clone, PartialEq)]
pub struct Range {
    pub lower: f64,
    pub upper: f64,
    pub label: String,
    pub color: Rgb,
}

/// One class of a categorised renderer: features whose expression gives `value`.
#[derive(Debug, Clone, PartialEq)]
pub struct Category {
    pub value: String,
    pub label: String,
    pub color: Rgb,
}

/// How a layer's polygons are filled.
#[derive(Debug, Clone, PartialEq)]
pub enum Renderer {
    /// `graduatedSymbol`: a numeric expression and its ranges, in legend order.
    Graduated {
        expression: String,
        /// QGIS's classification method id (`Quantile`, `EqualInterval`, `Jenks`), used only
        /// when a user classifies again.
        method: &'static str,
        ranges: Vec<Range>,
        /// An SLD filter per range, in the same order (QGIS expressions have no SLD form).
        filters: Vec<Filter>,
    },
    /// `categorizedSymbol`: an expression and its categories, in legend order.
    Categorized {
        expression: String,
        categories: Vec<Category>,
        /// An SLD filter per category, in the same order.
        filters: Vec<Filter>,
    },
}

/// An OGC filter for the SLD form of a class.
#[derive(Debug, Clone, PartialEq)]
pub enum Filter {
    /// `column` is null.
    IsNull(String),
    /// `lower <= column <= upper`.
    Between(String, f64, f64),
    /// `column = value` (text).
    Equals(String, String),
    /// Every filter holds.
    And(Vec<Filter>),
    /// `column <= value`.
    AtMost(String, f64),
    /// `column > value`.
    Above(String, f64),
    /// Matches every feature (a catch-all class).
    Else,
}

/// XML text and attribute escaping.
pub fn esc(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            _ => out.push(c),
        }
    }
    out
}

fn rgba(c: Rgb) -> String {
    format!("{},{},{},255", c[0], c[1], c[2])
}

fn hex(c: Rgb) -> String {
    format!("#{:02x}{:02x}{:02x}", c[0], c[1], c[2])
}

/// A number as QGIS reads it back exactly (Rust's shortest round-trip form, never exponent).
fn num(x: f64) -> String {
    format!("{x}")
}

/// A QGIS expression naming a column: `"column"`.
pub fn column(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

/// A QGIS expression string literal: `'text'`.
pub fn literal(text: &str) -> String {
    format!("'{}'", text.replace('\'', "''"))
}

const DATA_DEFINED: &str = "<data_defined_properties><Option type=\"Map\">\
<Option type=\"QString\" name=\"name\" value=\"\"/><Option name=\"properties\"/>\
<Option type=\"QString\" name=\"type\" value=\"collection\"/></Option></data_defined_properties>";

/// A simple fill symbol named `name` (its index in the renderer).
fn fill_symbol(out: &mut String, pad: &str, name: usize, color: Rgb) {
    let props: [(&str, String); 11] = [
        ("border_width_map_unit_scale", "3x:0,0,0,0,0,0".into()),
        ("color", rgba(color)),
        ("joinstyle", "bevel".into()),
        ("offset", "0,0".into()),
        ("offset_map_unit_scale", "3x:0,0,0,0,0,0".into()),
        ("offset_unit", "MM".into()),
        ("outline_color", rgba(OUTLINE)),
        ("outline_style", "solid".into()),
        ("outline_width", "0.1".into()),
        ("outline_width_unit", "MM".into()),
        ("style", "solid".into()),
    ];
    let _ = writeln!(
        out,
        "{pad}<symbol type=\"fill\" name=\"{name}\" alpha=\"1\" clip_to_extent=\"1\" force_rhr=\"0\">"
    );
    let _ = writeln!(out, "{pad}  {DATA_DEFINED}");
    let _ = writeln!(
        out,
        "{pad}  <layer class=\"SimpleFill\" enabled=\"1\" locked=\"0\" pass=\"0\">"
    );
    let _ = writeln!(out, "{pad}    <Option type=\"Map\">");
    for (k, v) in &props {
        let _ = writeln!(
            out,
            "{pad}      <Option type=\"QString\" name=\"{k}\" value=\"{v}\"/>"
        );
    }
    let _ = writeln!(out, "{pad}    </Option>");
    for (k, v) in &props {
        let _ = writeln!(out, "{pad}    <prop k=\"{k}\" v=\"{v}\"/>");
    }
    let _ = writeln!(out, "{pad}    {DATA_DEFINED}");
    let _ = writeln!(out, "{pad}  </layer>");
    let _ = writeln!(out, "{pad}</symbol>");
}

impl Renderer {
    /// QGIS's renderer type.
    // Only the tests call it: which renderer each style got (the QML writes the type itself).
    #[cfg(test)]
    pub fn kind(&self) -> &'static str {
        match self {
            Renderer::Graduated { .. } => "graduatedSymbol",
            Renderer::Categorized { .. } => "categorizedSymbol",
        }
    }

    /// The classes' labels and colours, in legend order.
    pub fn classes(&self) -> Vec<(&str, Rgb)> {
        match self {
            Renderer::Graduated { ranges, .. } => {
                ranges.iter().map(|r| (r.label.as_str(), r.color)).collect()
            }
            Renderer::Categorized { categories, .. } => categories
                .iter()
                .map(|c| (c.label.as_str(), c.color))
                .collect(),
        }
    }

    /// The `renderer-v2` element, each line prefixed with `pad`.
    pub fn xml(&self, pad: &str) -> String {
        let mut out = String::new();
        let common =
            "symbollevels=\"0\" forceraster=\"0\" enableorderby=\"0\" referencescale=\"-1\"";
        match self {
            Renderer::Graduated {
                expression,
                method,
                ranges,
                ..
            } => {
                let _ = writeln!(
                    out,
                    "{pad}<renderer-v2 type=\"graduatedSymbol\" attr=\"{}\" graduatedMethod=\"GraduatedColor\" {common}>",
                    esc(expression)
                );
                let _ = writeln!(out, "{pad}  <ranges>");
                for (i, r) in ranges.iter().enumerate() {
                    let _ = writeln!(
                        out,
                        "{pad}    <range lower=\"{}\" upper=\"{}\" label=\"{}\" symbol=\"{i}\" render=\"true\"/>",
                        num(r.lower),
                        num(r.upper),
                        esc(&r.label)
                    );
                }
                let _ = writeln!(out, "{pad}  </ranges>");
                self.symbols(&mut out, pad);
                let _ = writeln!(out, "{pad}  <classificationMethod id=\"{method}\">");
                let _ = writeln!(
                    out,
                    "{pad}    <symmetricMode enabled=\"0\" symmetrypoint=\"0\" astride=\"0\"/>"
                );
                let _ = writeln!(
                    out,
                    "{pad}    <labelFormat format=\"%1 – %2\" labelprecision=\"0\" trimtrailingzeroes=\"1\"/>"
                );
                let _ = writeln!(out, "{pad}    <parameters><Option/></parameters>");
                let _ = writeln!(out, "{pad}    <extraInformation/>");
                let _ = writeln!(out, "{pad}  </classificationMethod>");
            }
            Renderer::Categorized {
                expression,
                categories,
                ..
            } => {
                let _ = writeln!(
                    out,
                    "{pad}<renderer-v2 type=\"categorizedSymbol\" attr=\"{}\" {common}>",
                    esc(expression)
                );
                let _ = writeln!(out, "{pad}  <categories>");
                for (i, c) in categories.iter().enumerate() {
                    let _ = writeln!(
                        out,
                        "{pad}    <category value=\"{}\" label=\"{}\" symbol=\"{i}\" render=\"true\"/>",
                        esc(&c.value),
                        esc(&c.label)
                    );
                }
                let _ = writeln!(out, "{pad}  </categories>");
                self.symbols(&mut out, pad);
            }
        }
        let _ = writeln!(out, "{pad}  <rotation/>");
        let _ = writeln!(out, "{pad}  <sizescale/>");
        let _ = writeln!(out, "{pad}</renderer-v2>");
        out
    }

    fn symbols(&self, out: &mut String, pad: &str) {
        let _ = writeln!(out, "{pad}  <symbols>");
        let inner = format!("{pad}    ");
        for (i, (_, color)) in self.classes().into_iter().enumerate() {
            fill_symbol(out, &inner, i, color);
        }
        let _ = writeln!(out, "{pad}  </symbols>");
    }

    fn filters(&self) -> &[Filter] {
        match self {
            Renderer::Graduated { filters, .. } | Renderer::Categorized { filters, .. } => filters,
        }
    }
}

/// A QML document (QGIS 3 style file) holding `renderer`'s symbology.
pub fn qml(renderer: &Renderer) -> String {
    let mut out = String::from("<!DOCTYPE qgis PUBLIC 'http://mrcc.com/qgis.dtd' 'SYSTEM'>\n");
    let _ = writeln!(
        out,
        "<qgis version=\"{QGIS_VERSION}\" styleCategories=\"Symbology\">"
    );
    out.push_str(&renderer.xml("  "));
    out.push_str("  <blendMode>0</blendMode>\n  <featureBlendMode>0</featureBlendMode>\n");
    out.push_str("  <layerOpacity>1</layerOpacity>\n  <layerGeometryType>2</layerGeometryType>\n");
    out.push_str("</qgis>\n");
    out
}

fn filter_xml(out: &mut String, pad: &str, f: &Filter) {
    let prop = |out: &mut String, op: &str, c: &str, v: &str| {
        let _ = writeln!(
            out,
            "{pad}<ogc:{op}><ogc:PropertyName>{}</ogc:PropertyName><ogc:Literal>{}</ogc:Literal></ogc:{op}>",
            esc(c),
            esc(v)
        );
    };
    match f {
        Filter::IsNull(c) => {
            let _ = writeln!(
                out,
                "{pad}<ogc:PropertyIsNull><ogc:PropertyName>{}</ogc:PropertyName></ogc:PropertyIsNull>",
                esc(c)
            );
        }
        Filter::Between(c, lo, hi) => {
            let _ = writeln!(
                out,
                "{pad}<ogc:PropertyIsBetween><ogc:PropertyName>{}</ogc:PropertyName>\
                 <ogc:LowerBoundary><ogc:Literal>{}</ogc:Literal></ogc:LowerBoundary>\
                 <ogc:UpperBoundary><ogc:Literal>{}</ogc:Literal></ogc:UpperBoundary></ogc:PropertyIsBetween>",
                esc(c),
                num(*lo),
                num(*hi)
            );
        }
        Filter::Equals(c, v) => prop(out, "PropertyIsEqualTo", c, v),
        Filter::AtMost(c, v) => prop(out, "PropertyIsLessThanOrEqualTo", c, &num(*v)),
        Filter::Above(c, v) => prop(out, "PropertyIsGreaterThan", c, &num(*v)),
        Filter::And(fs) => {
            let _ = writeln!(out, "{pad}<ogc:And>");
            for f in fs {
                filter_xml(out, &format!("{pad}  "), f);
            }
            let _ = writeln!(out, "{pad}</ogc:And>");
        }
        Filter::Else => {}
    }
}

/// An SLD 1.1 document of `renderer` for the layer `layer`: one rule per class, in legend
/// order, with its filter (a catch-all class becomes an `ElseFilter`).
pub fn sld(layer: &str, renderer: &Renderer) -> String {
    let mut out = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    out.push_str(
        "<StyledLayerDescriptor xmlns=\"http://www.opengis.net/sld\" version=\"1.1.0\" \
         xmlns:ogc=\"http://www.opengis.net/ogc\" xmlns:xsi=\"http://www.w3.org/2001/XMLSchema-instance\" \
         xsi:schemaLocation=\"http://www.opengis.net/sld http://schemas.opengis.net/sld/1.1.0/StyledLayerDescriptor.xsd\" \
         xmlns:xlink=\"http://www.w3.org/1999/xlink\" xmlns:se=\"http://www.opengis.net/se\">\n",
    );
    let _ = writeln!(
        out,
        " <NamedLayer>\n  <se:Name>{0}</se:Name>\n  <UserStyle>\n   <se:Name>{0}</se:Name>\n   <se:FeatureTypeStyle>",
        esc(layer)
    );
    for ((label, color), filter) in renderer.classes().into_iter().zip(renderer.filters()) {
        let _ = writeln!(
            out,
            "    <se:Rule>\n     <se:Name>{0}</se:Name>\n     <se:Description>\n      <se:Title>{0}</se:Title>\n     </se:Description>",
            esc(label)
        );
        if *filter == Filter::Else {
            out.push_str("     <se:ElseFilter/>\n");
        } else {
            out.push_str("     <ogc:Filter xmlns:ogc=\"http://www.opengis.net/ogc\">\n");
            filter_xml(&mut out, "      ", filter);
            out.push_str("     </ogc:Filter>\n");
        }
        let _ = writeln!(
            out,
            "     <se:PolygonSymbolizer>\n      <se:Fill>\n       <se:SvgParameter name=\"fill\">{}</se:SvgParameter>\n      </se:Fill>\n      \
             <se:Stroke>\n       <se:SvgParameter name=\"stroke\">{}</se:SvgParameter>\n       \
             <se:SvgParameter name=\"stroke-width\">0.5</se:SvgParameter>\n      </se:Stroke>\n     </se:PolygonSymbolizer>\n    </se:Rule>",
            hex(color),
            hex(OUTLINE)
        );
    }
    out.push_str(
        "   </se:FeatureTypeStyle>\n  </UserStyle>\n </NamedLayer>\n</StyledLayerDescriptor>\n",
    );
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_ramp_runs_light_to_dark_and_ends_on_colorbrewer_s_colours() {
        assert_eq!(sequential(0, 5), YL_OR_RD[0]);
        assert_eq!(sequential(2, 5), YL_OR_RD[4]);
        assert_eq!(sequential(4, 5), YL_OR_RD[8]);
        assert_eq!(sequential(0, 1), YL_OR_RD[4]);
        let sum = |c: Rgb| c.iter().map(|&x| u32::from(x)).sum::<u32>();
        for n in 2..12 {
            for i in 1..n {
                assert!(sum(sequential(i, n)) < sum(sequential(i - 1, n)), "{i}/{n}");
            }
        }
    }

    #[test]
    fn labels_and_expressions_are_escaped_in_attributes() {
        let r = Renderer::Categorized {
            expression: format!("coalesce({}, {})", column("a\"b"), literal("x'y")),
            categories: vec![Category {
                value: "<&>".into(),
                label: "자료 없음".into(),
                color: NO_DATA_GREY,
            }],
            filters: vec![Filter::Else],
        };
        let x = r.xml("");
        assert!(
            x.contains("attr=\"coalesce(&quot;a&quot;&quot;b&quot;, &apos;x&apos;&apos;y&apos;)\"")
        );
        assert!(x.contains("value=\"&lt;&amp;&gt;\" label=\"자료 없음\""));
        assert!(x.contains("name=\"color\" value=\"200,200,200,255\""));
        let s = sld("sigungu", &r);
        assert!(s.contains("<se:ElseFilter/>") && s.contains("#c8c8c8"));
    }

    #[test]
    fn range_bounds_keep_every_digit() {
        let r = Renderer::Graduated {
            expression: column("v"),
            method: "Quantile",
            ranges: vec![Range {
                lower: 0.1 + 0.2,
                upper: 1e21,
                label: "a".into(),
                color: [1, 2, 3],
            }],
            filters: vec![Filter::Between("v".into(), 0.1 + 0.2, 1e21)],
        };
        let x = r.xml("");
        assert!(x.contains("lower=\"0.30000000000000004\""));
        assert!(x.contains("upper=\"1000000000000000000000\""));
    }
}
