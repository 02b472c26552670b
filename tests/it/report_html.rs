//! Issue #18: `report.html` as a person opens it — in headless Chromium (Debian's `chromium`,
//! installed by scripts/setup.sh), from the output folder, with every network request refused.
//! The test fails on a console error, a request for anything outside the page, or a map whose
//! number of drawn regions differs from its layer's; the screenshot is kept in
//! `target/test-artifacts/report.png`.

use std::path::{Path, PathBuf};
use std::process::Command;

/// Opens `page` in headless Chromium with the network refused; returns the DOM after scripts
/// ran and Chromium's log (console messages and failed loads are logged at level 0).
fn chromium(page: &Path, screenshot: Option<&Path>) -> (String, String) {
    let profile = tempfile::tempdir().unwrap();
    let mut cmd = Command::new("chromium");
    cmd.args([
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--host-resolver-rules=MAP * ~NOTFOUND",
        "--proxy-server=127.0.0.1:9",
        "--enable-logging=stderr",
        "--v=0",
        "--window-size=1200,2400",
    ])
    .arg(format!("--user-data-dir={}", profile.path().display()));
    match screenshot {
        Some(png) => cmd.arg(format!("--screenshot={}", png.display())),
        None => cmd.arg("--dump-dom"),
    };
    let out = cmd
        .arg(format!("file://{}", page.canonicalize().unwrap().display()))
        .output()
        .expect("chromium (Debian package `chromium`; scripts/setup.sh installs it)");
    assert!(
        out.status.success(),
        "chromium failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    (
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn artifacts() -> PathBuf {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("target/test-artifacts");
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

#[test]
fn report_html_opens_offline_in_chromium_with_every_region_drawn() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut p = smartgap::pipeline::load(&root.join("pipelines/national.toml")).unwrap();
    let out = tempfile::tempdir().unwrap();
    p.output_dir = out.path().to_path_buf();
    let first = smartgap::pipeline::run(&p).unwrap();
    // A second night: the report compares itself with the first.
    let second = smartgap::pipeline::run(&p).unwrap();
    let dir = out.path().join("current");
    let page = dir.join("report.html");
    let html = std::fs::read_to_string(&page).unwrap();

    // Self-contained: nothing to load (links inside the page only).
    for pattern in [
        "src=",
        "<link",
        "@import",
        "url(",
        "href=\"http",
        "<script src",
    ] {
        assert!(!html.contains(pattern), "report.html refers to `{pattern}`");
    }
    assert!(html.contains(&format!("이전 실행 <code>{}</code>", first.report.run_id)));
    assert!(html.contains("새 레코드 <span id=\"new-records\">0</span>"));
    assert!(html.contains(&second.report.run_id));
    // The headline total is the manifest's, in 억원.
    let eok = second.report.totals.assigned_krw as f64 / 1e8;
    let shown = format!("{:.1}", eok);
    let (int, frac) = shown.split_once('.').unwrap();
    let int: String = int
        .chars()
        .rev()
        .collect::<Vec<_>>()
        .chunks(3)
        .map(|c| c.iter().collect::<String>())
        .collect::<Vec<_>>()
        .join(",")
        .chars()
        .rev()
        .collect();
    assert!(html.contains(&format!("<b id=\"total-krw\">{int}.{frac}억 원</b>")));

    let (dom, log) = chromium(&page, None);
    for bad in [
        "Uncaught",
        "CONSOLE",
        "net::ERR",
        "Refused to",
        "Failed to load",
    ] {
        let lines: Vec<&str> = log.lines().filter(|l| l.contains(bad)).collect();
        assert!(lines.is_empty(), "chromium logged {bad}: {lines:#?}");
    }
    // Every map draws one path per region of its layer.
    let features = |layer: &str| -> usize {
        let fc = crate::fixtures::geojson(&dir, layer);
        fc["features"].as_array().unwrap().len()
    };
    let mut maps = 0;
    for fig in dom.split("<figure").skip(1) {
        let fig = fig.split("</figure>").next().unwrap();
        let Some(layer) = fig.split("data-layer=\"").nth(1) else {
            continue;
        };
        let layer = layer.split('"').next().unwrap();
        let drawn = fig.matches("<path data-code=").count();
        assert_eq!(drawn, features(layer), "{layer}: regions drawn");
        maps += 1;
    }
    assert_eq!(
        maps,
        5 + 3,
        "a per-km² map per level, Figure 1, the data's tiers and LISA"
    );
    for name in [
        "sido_per_km2",
        "city_per_km2",
        "sigungu_per_km2",
        "emd_per_km2",
        "sigungu_figure1",
        "sigungu_lisa",
    ] {
        let svg = std::fs::read_to_string(dir.join("maps").join(format!("{name}.svg"))).unwrap();
        assert!(
            svg.starts_with("<svg xmlns=\"http://www.w3.org/2000/svg\""),
            "{name}"
        );
    }

    // map.html: the web layers drawn offline, every region of every level.
    let (dom, log) = chromium(&dir.join("map.html"), None);
    let lines: Vec<&str> = log.lines().filter(|l| l.contains("CONSOLE")).collect();
    assert!(lines.is_empty(), "map.html logged: {lines:#?}");
    let drawn = dom
        .split("data-drawn=\"")
        .nth(1)
        .expect("map.html marks what it drew")
        .split('"')
        .next()
        .unwrap()
        .replace("&quot;", "\"");
    let drawn: serde_json::Value = serde_json::from_str(&drawn).unwrap();
    for layer in ["sido", "sigungu", "emd", "region_group"] {
        assert_eq!(
            drawn[layer].as_u64(),
            Some(features(layer) as u64),
            "map.html {layer}"
        );
        // The FlatGeobuf layer: every region, with its code, in lon/lat.
        let ds = gdal::Dataset::open(dir.join("web").join(format!("{layer}.fgb"))).unwrap();
        let mut l = ds.layer(0).unwrap();
        use gdal::vector::LayerAccess;
        assert_eq!(l.feature_count() as usize, features(layer), "{layer}.fgb");
        let code = l.defn().field_index("code").unwrap();
        let env = l.get_extent().unwrap();
        let f = l.features().next().unwrap();
        assert!(f.field_as_string(code).unwrap().is_some());
        assert!(
            env.MinX > 124.0 && env.MaxX < 132.0 && env.MinY > 33.0 && env.MaxY < 39.0,
            "{layer}.fgb extent {env:?}"
        );
    }
    let map_png = artifacts().join("map.png");
    chromium(&dir.join("map.html"), Some(&map_png));

    let png = artifacts().join("report.png");
    let _ = std::fs::remove_file(&png);
    chromium(&page, Some(&png));
    let bytes = std::fs::read(&png).unwrap();
    assert!(bytes.len() > 50_000, "screenshot of {} bytes", bytes.len());
}

#[test]
fn output_switches_turn_the_report_and_web_layers_off() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    for (report, web) in [(false, false), (true, false), (false, true)] {
        let dir = tempfile::tempdir().unwrap();
        let toml = format!(
            r#"[pipeline]
name = "switches"
output_dir = "{out}"
roots = ["{data}", "{tmp}"]

[boundaries]
path = "{data}/boundaries.gpkg"
levels = ["sido", "sigungu"]

[output]
report = {report}
web = {web}

[[inputs]]
name = "report_projects"
path = "{data}/investments/projects.csv"
id = "record_id"
amount = {{ field = "amount_krw", unit = "krw" }}
locate = {{ by = "name", sido = "sido", sigungu = "sigungu" }}
"#,
            out = dir.path().join("out").display(),
            data = root.join("data").display(),
            tmp = dir.path().display(),
        );
        let cfg = dir.path().join("p.toml");
        std::fs::write(&cfg, toml).unwrap();
        let p = smartgap::pipeline::load(&cfg).unwrap();
        smartgap::pipeline::run(&p).unwrap();
        let cur = dir.path().join("out/current");
        assert_eq!(cur.join("report.html").exists(), report, "{report} {web}");
        assert_eq!(cur.join("maps/sigungu_per_km2.svg").exists(), report);
        assert_eq!(cur.join("map.html").exists(), web, "{report} {web}");
        assert_eq!(cur.join("web/sigungu.fgb").exists(), web);
        assert!(cur.join("smartgap.gpkg").exists());
    }
}
