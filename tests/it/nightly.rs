//! Nightly operation: incremental skips, `--force`, and SIGKILL at random moments never
//! harming the published outputs.

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use crate::fixtures::grid_dir;

fn smartgap(dir: &Path, args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_smartgap"))
        .args(args)
        .current_dir(dir)
        .output()
        .unwrap()
}

/// Everything a reader of the published outputs sees, as bytes.
fn published(out: &Path) -> Vec<(String, Vec<u8>)> {
    let mut files = Vec::new();
    for l in ["sido", "sigungu", "emd", "region_group", "rejects"] {
        let p = out.join("geojson").join(format!("{l}.geojson"));
        files.push((
            l.to_string(),
            std::fs::read(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display())),
        ));
    }
    files.push((
        "summary".into(),
        std::fs::read(out.join("summary.json")).unwrap(),
    ));
    files
}

#[test]
fn an_unchanged_night_is_skipped_and_force_reruns() {
    let dir = grid_dir();
    let first = smartgap(dir.path(), &["run", "grid.toml"]);
    assert!(
        first.status.success(),
        "{}",
        String::from_utf8_lossy(&first.stderr)
    );
    let current = std::fs::read_link(dir.path().join("out/current")).unwrap();
    let second = smartgap(dir.path(), &["run", "grid.toml"]);
    assert!(second.status.success());
    assert!(
        String::from_utf8_lossy(&second.stdout).contains("nothing changed"),
        "{second:?}"
    );
    assert_eq!(
        std::fs::read_link(dir.path().join("out/current")).unwrap(),
        current
    );
    // A changed input is a new night.
    std::thread::sleep(Duration::from_millis(1100));
    let mut codes = std::fs::read_to_string(dir.path().join("codes.csv")).unwrap();
    codes.push_str("c4,26010,1\n");
    std::fs::write(dir.path().join("codes.csv"), codes).unwrap();
    assert!(smartgap(dir.path(), &["run", "grid.toml"]).status.success());
    let third = std::fs::read_link(dir.path().join("out/current")).unwrap();
    assert_ne!(third, current);
    std::thread::sleep(Duration::from_millis(1100));
    let forced = smartgap(dir.path(), &["run", "--force", "grid.toml"]);
    assert!(forced.status.success());
    assert_ne!(
        std::fs::read_link(dir.path().join("out/current")).unwrap(),
        third
    );
}

#[test]
fn sigkill_at_any_moment_leaves_the_published_outputs_complete() {
    let dir = grid_dir();
    assert!(smartgap(dir.path(), &["run", "grid.toml"]).status.success());
    let out = dir.path().join("out");
    let before = published(&out);
    // How long one forced run takes, to spread the kills over it.
    let t0 = Instant::now();
    assert!(
        smartgap(dir.path(), &["run", "--force", "grid.toml"])
            .status
            .success()
    );
    let span = t0.elapsed().as_micros().max(1) as u64;
    let trials = 24u64;
    let mut killed_mid_run = 0;
    for k in 0..trials {
        let mut child = Command::new(env!("CARGO_BIN_EXE_smartgap"))
            .args(["--log-level", "error", "run", "--force", "grid.toml"])
            .current_dir(dir.path())
            .spawn()
            .unwrap();
        // Deterministic spread over 0–120 % of a run (golden-ratio sequence).
        let frac = (k as f64 * 0.618_033_988_75).fract() * 1.2;
        std::thread::sleep(Duration::from_micros((span as f64 * frac) as u64));
        if child.try_wait().unwrap().is_none() {
            killed_mid_run += 1;
        }
        let _ = child.kill(); // SIGKILL on Unix
        let _ = child.wait();
        // Whatever happened, readers see one complete run: the outputs are deterministic,
        // so the previous run and any newly published one have the same bytes.
        assert_eq!(
            published(&out),
            before,
            "trial {k}: published outputs changed"
        );
        let ds = gdal::Dataset::open(out.join("smartgap.gpkg")).unwrap();
        assert!(ds.layer_count() >= 5, "trial {k}");
        let manifest: serde_json::Value =
            serde_json::from_slice(&std::fs::read(out.join("run.json")).unwrap()).unwrap();
        assert_eq!(manifest["totals"]["assigned_krw"], 52_300, "trial {k}");
    }
    eprintln!("SIGKILL trials: {trials}, {killed_mid_run} hit a running process");
    assert!(
        killed_mid_run >= trials / 2,
        "only {killed_mid_run} of {trials} kills hit a running process"
    );
    // The next run cleans up what the killed runs left in staging.
    assert!(
        smartgap(dir.path(), &["run", "--force", "grid.toml"])
            .status
            .success()
    );
    let leftovers: Vec<_> = std::fs::read_dir(out.join("runs"))
        .unwrap()
        .flatten()
        .filter(|e| e.file_name().to_string_lossy().starts_with(".staging-"))
        .collect();
    assert!(leftovers.is_empty());
}

#[test]
fn an_output_dir_holding_someone_elses_files_is_never_overwritten() {
    let dir = grid_dir();
    let out = dir.path().join("out");
    std::fs::create_dir_all(out.join("geojson")).unwrap();
    std::fs::write(out.join("geojson/precious.txt"), "keep me").unwrap();
    std::fs::create_dir_all(out.join("runs/my-notes")).unwrap();
    let o = smartgap(dir.path(), &["run", "grid.toml"]);
    assert_eq!(o.status.code(), Some(1));
    assert!(
        String::from_utf8_lossy(&o.stderr).contains("not smartgap's link"),
        "{o:?}"
    );
    assert_eq!(
        std::fs::read_to_string(out.join("geojson/precious.txt")).unwrap(),
        "keep me"
    );
    assert!(out.join("runs/my-notes").is_dir());
    assert!(!out.join("current").exists());
}

#[test]
fn cached_weights_give_the_same_outputs_and_a_bad_cache_is_rebuilt() {
    let dir = grid_dir();
    assert!(smartgap(dir.path(), &["run", "grid.toml"]).status.success());
    let out = dir.path().join("out");
    let before = published(&out);
    let cache: Vec<std::path::PathBuf> = std::fs::read_dir(out.join("cache"))
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .filter(|p| {
            p.file_name()
                .is_some_and(|n| n.to_string_lossy().starts_with("weights-"))
        })
        .collect();
    assert_eq!(cache.len(), 3, "one weights file per level: {cache:?}");
    // Cached: same bytes.
    assert!(
        smartgap(dir.path(), &["run", "--force", "grid.toml"])
            .status
            .success()
    );
    assert_eq!(published(&out), before);
    // Corrupted (an index out of range, and garbage): rebuilt, same bytes, no panic.
    std::fs::write(&cache[0], "[[[99]],[]]").unwrap();
    std::fs::write(&cache[1], "not json").unwrap();
    assert!(
        smartgap(dir.path(), &["run", "--force", "grid.toml"])
            .status
            .success()
    );
    assert_eq!(published(&out), before);
}
