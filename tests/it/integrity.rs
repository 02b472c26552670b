//! Inputs that cannot be trusted as read (issue #16): a row cut short, GDAL stopping early, a
//! file changed while it is read, and values that would make the outputs or messages grow
//! without bound.

use std::path::Path;
use std::process::{Command, Output};

use crate::fixtures::{geojson, grid_dir, grid_pipeline, run_plain_and_streamed};

/// Runs the smartgap binary in `dir` on `<name>.toml`, a grid pipeline of `inputs`, with `env`.
fn smartgap(dir: &Path, name: &str, inputs: &str, env: &[(&str, &str)]) -> Output {
    let toml = dir.join(format!("{name}.toml"));
    std::fs::write(&toml, grid_pipeline(name, 0.5, inputs)).unwrap();
    Command::new(env!("CARGO_BIN_EXE_smartgap"))
        .args(["--log-level", "error", "run"])
        .arg(&toml)
        .envs(env.iter().copied())
        .current_dir(dir)
        .output()
        .unwrap()
}

/// Standard error with miette's wrapping undone: words separated by single spaces.
fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr)
        .replace(['│', '×'], " ")
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
}

/// Points in three 읍면동 of the grid (EPSG:5179).
const POINTS: &str = "id,x,y,amount_krw,program\n\
                      1,1000500,2000500,1000,a\n\
                      2,1001500,2000500,2000,b\n";

const POINTS_INPUT: &str = r#"[[inputs]]
name = "points"
path = "points.csv"
id = "id"
amount = { field = "amount_krw" }
program = { field = "program" }
locate = { by = "point", x = "x", y = "y", crs = "EPSG:5179" }
"#;

#[test]
fn a_row_cut_short_is_a_row_malformed_reject_materialised_and_streamed() {
    let dir = grid_dir();
    // The writer died in row 3's amount (`1234` cut to `12`), before its programme.
    std::fs::write(
        dir.path().join("points.csv"),
        format!("{POINTS}3,1002500,2000500,12"),
    )
    .unwrap();
    let (plain, streamed, plain_out) = run_plain_and_streamed(dir.path(), POINTS_INPUT, "");
    for (run, out) in [(&plain, plain_out), (&streamed, dir.path().join("out"))] {
        let t = &run.report.totals;
        assert_eq!(
            (t.input_records, t.assigned_records, t.rejected_records),
            (3, 2, 1)
        );
        // The cut amount is not booked, as assigned or as rejected money.
        assert_eq!(
            (t.input_krw, t.assigned_krw, t.rejected_krw),
            (3000, 3000, 0)
        );
        let r = &run.report.rejects_by_reason["row_malformed"];
        assert_eq!((r.count, r.amount_krw), (1, 0));
        let rejects = geojson(&out, "rejects");
        let p = &rejects["features"][0]["properties"];
        assert_eq!(p["reason"], "row_malformed");
        assert_eq!(p["row"], 3);
        assert_eq!(p["record_id"], "3");
        assert_eq!(
            p["detail"],
            "the row has 4 of the header's 5 fields (a file cut short?); its amount is not booked"
        );
    }
}

#[test]
fn gdal_stopping_early_fails_the_input() {
    let dir = grid_dir();
    // Row 2's programme makes its line longer than GDAL's CSV limit, lowered for the test
    // from its default of 10 MB by the configuration option `OGR_CSV_MAX_LINE_SIZE`: GDAL ends
    // the read there, saying so only through its error handler.
    let long = "p".repeat(2000);
    std::fs::write(
        dir.path().join("points.csv"),
        format!("{POINTS}3,1002500,2000500,3000,{long}\n4,1000500,2001500,4000,d\n"),
    )
    .unwrap();
    let o = smartgap(
        dir.path(),
        "long",
        POINTS_INPUT,
        &[("OGR_CSV_MAX_LINE_SIZE", "1000")],
    );
    let err = stderr(&o);
    assert_eq!(o.status.code(), Some(1), "{err}");
    assert!(err.contains("points.csv, layer `points`"), "{err}");
    assert!(
        err.contains("GDAL raised while reading the features, after 2 of them: Maximum number of characters allowed reached"),
        "{err}"
    );
    assert!(!dir.path().join("out/current").exists());
    // Under GDAL's default limit the same file is read whole.
    let o = smartgap(dir.path(), "long", POINTS_INPUT, &[]);
    assert!(o.status.success(), "{}", stderr(&o));
}
