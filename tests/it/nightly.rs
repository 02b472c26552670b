//! Nightly operation: incremental skips, `--force`, and SIGKILL at every stage and every step
//! of publishing never harming the published outputs.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

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
fn sigkill_at_every_stage_leaves_the_published_outputs_complete() {
    let dir = grid_dir();
    assert!(smartgap(dir.path(), &["run", "grid.toml"]).status.success());
    let out = dir.path().join("out");
    let before = published(&out);
    // Each run is held at one named point (`SMARTGAP_PAUSE_AT`, see `progress::checkpoint`)
    // and killed there: before and after every stage and every step of publishing.
    // (The database publish's points are `postgis.rs`'s: this pipeline publishes files only.)
    for point in smartgap::progress::CHECKPOINTS
        .into_iter()
        .filter(|p| !p.starts_with("postgis."))
    {
        let mut child = Command::new(env!("CARGO_BIN_EXE_smartgap"))
            .args(["--log-level", "error", "run", "--force", "grid.toml"])
            .env("SMARTGAP_PAUSE_AT", point)
            .current_dir(dir.path())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let stderr = child.stderr.take().unwrap();
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                let _ = tx.send(line);
            }
        });
        let wanted = format!("smartgap: paused at {point}");
        let paused = loop {
            match rx.recv_timeout(Duration::from_secs(120)) {
                Ok(line) if line == wanted => break true,
                Ok(_) => continue,
                Err(_) => break false,
            }
        };
        assert!(paused, "the run never reached checkpoint {point}");
        assert!(
            child.try_wait().unwrap().is_none(),
            "{point}: the run did not wait"
        );
        child.kill().unwrap(); // SIGKILL on Unix
        let _ = child.wait();
        // Whatever happened, readers see one complete run: the outputs are deterministic,
        // so the previous run and any newly published one have the same bytes.
        assert_eq!(
            published(&out),
            before,
            "killed at {point}: published outputs changed"
        );
        let ds = gdal::Dataset::open(out.join("smartgap.gpkg")).unwrap();
        assert!(ds.layer_count() >= 5, "killed at {point}");
        let manifest: serde_json::Value =
            serde_json::from_slice(&std::fs::read(out.join("run.json")).unwrap()).unwrap();
        assert_eq!(
            manifest["totals"]["assigned_krw"], 52_300,
            "killed at {point}"
        );
    }
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
    // Corrupted: correctly sealed weights with an index out of range, and garbage without a
    // seal. Both rebuilt, same bytes, no panic.
    use sha2::{Digest, Sha256};
    let bad = b"[[[99]],[]]";
    std::fs::write(&cache[0], [&bad[..], &Sha256::digest(bad)[..]].concat()).unwrap();
    std::fs::write(&cache[1], "not json").unwrap();
    assert!(
        smartgap(dir.path(), &["run", "--force", "grid.toml"])
            .status
            .success()
    );
    assert_eq!(published(&out), before);
}

#[test]
fn leftovers_of_killed_and_failed_runs_are_swept_and_failed_runs_do_not_count_as_kept() {
    let dir = grid_dir();
    assert!(smartgap(dir.path(), &["run", "grid.toml"]).status.success());
    let out = dir.path().join("out");
    let runs = out.join("runs");
    let good = std::fs::read_link(out.join("current")).unwrap();
    // Ten failing nights (dated after the good runs, so they are the newest run folders), a
    // killed run's staging folder, temporary links and cache files; two runs kept.
    for k in 0..10 {
        std::fs::create_dir_all(runs.join(format!("2099010{k}T000000Z-{}.failed", 100 + k)))
            .unwrap();
    }
    let toml = std::fs::read_to_string(dir.path().join("grid.toml")).unwrap();
    std::fs::write(
        dir.path().join("grid.toml"),
        toml.replace(
            "max_reject_share = 0.5",
            "max_reject_share = 0.5\nkeep_runs = 2",
        ),
    )
    .unwrap();
    std::fs::create_dir_all(runs.join(".staging-20260101T000000Z-7")).unwrap();
    std::os::unix::fs::symlink("runs/x", out.join(".current-20260101T000000Z-7")).unwrap();
    std::os::unix::fs::symlink("current/run.json", out.join(".run.json-20260101T000000Z-7"))
        .unwrap();
    std::fs::write(out.join("cache/weights-sido-0123.bin.tmp-99999"), b"half").unwrap();
    // Someone else's files are left alone.
    std::fs::write(runs.join("notes.txt"), b"mine").unwrap();
    std::fs::write(out.join(".keep-me"), b"mine").unwrap();
    std::fs::write(out.join("cache/readme.tmp-notes"), b"mine").unwrap();

    let forced = smartgap(dir.path(), &["run", "--force", "grid.toml"]);
    assert!(
        forced.status.success(),
        "{}",
        String::from_utf8_lossy(&forced.stderr)
    );
    let names = |d: &Path| -> Vec<String> {
        let mut v: Vec<String> = std::fs::read_dir(d)
            .unwrap()
            .flatten()
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .collect();
        v.sort();
        v
    };
    let failed: Vec<String> = names(&runs)
        .into_iter()
        .filter(|n| n.ends_with(".failed"))
        .collect();
    assert_eq!(
        failed,
        ["20990108T000000Z-108.failed", "20990109T000000Z-109.failed"],
        "the newest two failed runs are kept"
    );
    assert!(!names(&runs).iter().any(|n| n.starts_with(".staging-")));
    assert!(
        !names(&out)
            .iter()
            .any(|n| n.starts_with(".current-") || n.starts_with(".run.json-"))
    );
    assert!(
        !names(&out.join("cache"))
            .iter()
            .any(|n| n.contains(".tmp-9"))
    );
    assert!(runs.join("notes.txt").exists() && out.join(".keep-me").exists());
    assert!(out.join("cache/readme.tmp-notes").exists());
    // keep_runs counts complete runs only: the previous good run is still there.
    assert!(out.join(&good).exists(), "{good:?} pruned");
}

#[test]
fn a_full_disk_says_disk_full_and_names_the_file() {
    // The output folder on a 64 KiB tmpfs, in a mount namespace of the run's own (root and
    // CAP_SYS_ADMIN needed: where they are missing the test says so and checks nothing).
    let dir = grid_dir();
    std::fs::create_dir_all(dir.path().join("out")).unwrap();
    let probe = Command::new("unshare")
        .args(["-m", "--propagation", "private", "sh", "-c"])
        .arg("mount -t tmpfs -o size=64k tmpfs out")
        .current_dir(dir.path())
        .output();
    if !probe.as_ref().is_ok_and(|o| o.status.success()) {
        eprintln!("skipped: cannot mount a tmpfs here ({probe:?})");
        return;
    }
    let o = Command::new("unshare")
        .args(["-m", "--propagation", "private", "sh", "-c"])
        .arg(format!(
            "mount -t tmpfs -o size=64k tmpfs out && exec {} --log-level error run grid.toml",
            env!("CARGO_BIN_EXE_smartgap")
        ))
        .current_dir(dir.path())
        .env("NO_COLOR", "1")
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(1), "{err}");
    assert!(err.contains("disk full"), "{err}");
    assert!(
        err.contains("out/runs/.staging-"),
        "the file is named: {err}"
    );
    assert!(err.len() < 2000, "a short message: {err}");
}

#[test]
fn a_region_total_beyond_64_bits_is_a_data_limit_not_a_bug() {
    let dir = grid_dir();
    // Two amounts that each fit an i64 but whose sum in one 시군구 does not.
    std::fs::write(
        dir.path().join("codes.csv"),
        "id,code,amount_krw\nc1,11020,9000000000000000000\nc2,11020,9000000000000000000\n",
    )
    .unwrap();
    let o = Command::new(env!("CARGO_BIN_EXE_smartgap"))
        .args(["--log-level", "error", "run", "grid.toml"])
        .current_dir(dir.path())
        .env("NO_COLOR", "1")
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(1), "{err}");
    assert!(err.contains("KRW does not fit a 64-bit integer"), "{err}");
    assert!(err.contains("smartgap::data_limit"), "{err}");
    assert!(!err.contains("bug"), "{err}");
}
