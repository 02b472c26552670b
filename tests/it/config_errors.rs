//! Config errors are reviewed snapshots: every problem at once, each with its line and column.
//! Set `UPDATE_SNAPSHOTS=1` to rewrite them after a deliberate change, then review the diff.

use std::path::Path;
use std::process::Command;

use crate::fixtures::grid_dir;

fn render(dir: &Path, toml: &str) -> String {
    let path = dir.join("bad.toml");
    std::fs::write(&path, toml).unwrap();
    let err = smartgap::pipeline::load(&path).expect_err("config must be rejected");
    let mut out = String::new();
    miette::GraphicalReportHandler::new_themed(miette::GraphicalTheme::unicode_nocolor())
        .with_width(100)
        .render_report(&mut out, err.as_ref())
        .unwrap();
    out.replace(&dir.display().to_string(), "<dir>")
}

fn snapshot(name: &str, actual: &str) {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/snapshots")
        .join(format!("{name}.txt"));
    if std::env::var_os("UPDATE_SNAPSHOTS").is_some() {
        std::fs::write(&path, actual).unwrap();
        return;
    }
    let expected = std::fs::read_to_string(&path).unwrap_or_default();
    assert_eq!(
        expected, actual,
        "snapshot {name} differs; review and rerun with UPDATE_SNAPSHOTS=1"
    );
}

fn grid_toml() -> String {
    std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/grid/grid.toml"),
    )
    .unwrap()
}

#[test]
fn a_misspelt_key_names_its_line_and_suggests_the_key() {
    let dir = grid_dir();
    let toml = grid_toml().replace(
        "amount = { field = \"amount_krw\" }\nprogram",
        "amout = { field = \"amount_krw\" }\nprogram",
    );
    snapshot("misspelt_key", &render(dir.path(), &toml));
}

#[test]
fn every_problem_is_reported_at_once() {
    let dir = grid_dir();
    let toml = grid_toml()
        .replace(
            "amount = { field = \"amount_krw\" }\nprogram",
            "amount = { field = \"amount_kr\" }\nprogram",
        )
        .replace("unit = \"hundred_million_krw\"", "unit = \"eok\"")
        .replace("by = \"code\"", "by = \"cdoe\"")
        .replace("crs = \"EPSG:5179\"", "crs = \"EPSG:999999\"")
        .replace("path = \"codes.csv\"", "path = \"missing.csv\"");
    let out = render(dir.path(), &toml);
    for needle in ["amount_kr", "eok", "cdoe", "EPSG:999999", "missing.csv"] {
        assert!(out.contains(needle), "{needle} not reported:\n{out}");
    }
    snapshot("many_problems", &out);
}

#[test]
fn the_binary_exits_2_and_prints_file_line_and_column() {
    let dir = grid_dir();
    std::fs::write(
        dir.path().join("bad.toml"),
        grid_toml().replace("max_reject_share", "max_reject_shar"),
    )
    .unwrap();
    let o = Command::new(env!("CARGO_BIN_EXE_smartgap"))
        .args(["check", "bad.toml"])
        .current_dir(dir.path())
        .env("NO_COLOR", "1")
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains("bad.toml:7:1"), "{err}");
    assert!(err.contains("max_reject_share"), "{err}");
}

#[test]
fn check_accepts_a_valid_pipeline() {
    let dir = grid_dir();
    let o = Command::new(env!("CARGO_BIN_EXE_smartgap"))
        .args(["check", "grid.toml"])
        .current_dir(dir.path())
        .output()
        .unwrap();
    assert_eq!(
        o.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
}

#[test]
fn logs_and_errors_written_to_a_pipe_carry_no_colour_escapes() {
    // Nightly cron logs: standard error is a pipe or a file, not a terminal, and NO_COLOR is
    // not set; neither the log lines of a run nor a configuration error may hold ANSI escapes.
    let dir = grid_dir();
    std::fs::write(
        dir.path().join("bad.toml"),
        grid_toml().replace("max_reject_share", "max_reject_shar"),
    )
    .unwrap();
    for args in [&["check", "bad.toml"][..], &["run", "grid.toml"][..]] {
        let o = Command::new(env!("CARGO_BIN_EXE_smartgap"))
            .args(args)
            .current_dir(dir.path())
            .env_remove("NO_COLOR")
            .env("CLICOLOR_FORCE", "0")
            .output()
            .unwrap();
        let err = String::from_utf8_lossy(&o.stderr);
        assert!(!err.is_empty(), "{args:?}: nothing logged");
        assert!(!err.contains('\u{1b}'), "{args:?}: {err}");
    }
}

#[test]
fn a_folder_as_input_and_a_file_as_output_dir_are_config_errors_in_check() {
    let dir = grid_dir();
    std::fs::create_dir(dir.path().join("codes_dir.csv")).unwrap();
    std::fs::write(dir.path().join("out_file"), b"not a folder").unwrap();
    std::fs::write(
        dir.path().join("bad.toml"),
        grid_toml()
            .replace("path = \"codes.csv\"", "path = \"codes_dir.csv\"")
            .replace("output_dir = \"out\"", "output_dir = \"out_file\""),
    )
    .unwrap();
    let o = Command::new(env!("CARGO_BIN_EXE_smartgap"))
        .args(["check", "bad.toml"])
        .current_dir(dir.path())
        .env("NO_COLOR", "1")
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(2), "{err}");
    assert!(
        err.contains("codes_dir.csv is a folder, not a file"),
        "{err}"
    );
    assert!(err.contains("out_file is a file, not a folder"), "{err}");
}
