//! Inputs that cannot be trusted as read (issue #16): a row cut short, GDAL stopping early, a
//! file changed while it is read, and values that would make the outputs or messages grow
//! without bound.

use std::path::Path;
use std::process::{Command, Output};

use crate::fixtures::{geojson, grid_dir, grid_pipeline, props, run_plain_and_streamed};

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

/// Runs the binary on `<name>.toml` (a grid pipeline of `inputs`), holding it at the
/// checkpoint `read.first_chunk` (mid-read: after the first chunk of a streamed input, the
/// first row of a materialised one) while `act` changes the input, then letting it go on
/// (`SMARTGAP_PAUSE_UNTIL=stdin`, see `progress::checkpoint`): its exit code and standard
/// error.
fn run_changing_mid_read(
    dir: &Path,
    name: &str,
    inputs: &str,
    act: impl FnOnce(),
) -> (Option<i32>, String) {
    use std::io::{BufRead, BufReader};
    use std::process::Stdio;
    let toml = dir.join(format!("{name}.toml"));
    std::fs::write(&toml, grid_pipeline(name, 0.5, inputs)).unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_smartgap"))
        .args(["--log-level", "error", "run"])
        .arg(&toml)
        .env("SMARTGAP_PAUSE_AT", "read.first_chunk")
        .env("SMARTGAP_PAUSE_UNTIL", "stdin")
        .current_dir(dir)
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stderr.take().unwrap()).lines();
    let mut seen = Vec::new();
    for line in lines.by_ref() {
        let line = line.unwrap();
        if line == "smartgap: paused at read.first_chunk" {
            break;
        }
        seen.push(line);
    }
    assert!(
        child.try_wait().unwrap().is_none(),
        "the run never paused: {seen:?}"
    );
    act();
    // The end of standard input lets the run go on (past every input's first chunk).
    drop(child.stdin.take());
    let rest: Vec<String> = lines.map_while(Result::ok).collect();
    let status = child.wait().unwrap();
    let err = rest
        .join(" ")
        .replace(['│', '×'], " ")
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ");
    (status.code(), err)
}

/// `n` points over the grid's 읍면동, 1,000 KRW each.
fn many_points(n: usize) -> String {
    let mut text = String::from("id,x,y,amount_krw,program\n");
    for i in 1..=n {
        let (cx, cy) = (i % 3, (i / 3) % 3);
        text.push_str(&format!(
            "{i},{},{},1000,p{}\n",
            1_000_100 + cx * 1000 + i % 800,
            2_000_100 + cy * 1000 + i % 700,
            i % 4
        ));
    }
    text
}

#[test]
fn an_input_changed_while_it_is_read_fails_streamed_and_materialised() {
    // Streamed: more than one chunk (65,536 rows), held after the first.
    let streamed = format!("{POINTS_INPUT}stream = true\n");
    for (stream, rows) in [(true, 70_000), (false, 50)] {
        let input = if stream { &streamed } else { POINTS_INPUT };
        // Rewritten in place (a writer starting over): the same file, other bytes.
        let dir = grid_dir();
        let path = dir.path().join("points.csv");
        std::fs::write(&path, many_points(rows)).unwrap();
        let (code, err) = run_changing_mid_read(dir.path(), "mid", input, || {
            std::fs::write(&path, many_points(rows / 2)).unwrap();
        });
        assert_eq!(code, Some(1), "stream = {stream}: {err}");
        assert!(
            err.contains(&format!("{}, layer `", path.display())),
            "stream = {stream}: {err}"
        );
        assert!(
            err.contains("changed while being read (size"),
            "stream = {stream}: {err}"
        );
        assert!(!dir.path().join("out/current").exists());

        // Another file renamed over it, of the same size: the path names another file.
        std::fs::write(&path, many_points(rows)).unwrap();
        let (code, err) = run_changing_mid_read(dir.path(), "mid", input, || {
            let other = dir.path().join("points.csv.new");
            std::fs::write(&other, many_points(rows).replace(",1000,", ",2000,")).unwrap();
            std::fs::rename(&other, &path).unwrap();
        });
        assert_eq!(code, Some(1), "stream = {stream}: {err}");
        assert!(
            err.contains("changed while being read (replaced by another file"),
            "stream = {stream}: {err}"
        );
        assert!(!dir.path().join("out/current").exists());
    }
}

#[test]
fn the_checksum_published_is_that_of_the_bytes_read() {
    use sha2::{Digest, Sha256};
    let sha = |p: &Path| {
        Sha256::digest(std::fs::read(p).unwrap())
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect::<String>()
    };
    let parquet = r#"[[inputs]]
name = "points"
path = "points_5179.parquet"
id = "id"
amount = { field = "amount_eok", unit = "hundred_million_krw" }
program = { field = "program" }
locate = { by = "geometry" }
"#;
    let streamed = format!("{POINTS_INPUT}stream = true\n");
    for (file, input) in [
        ("points.csv", POINTS_INPUT),
        ("points.csv", streamed.as_str()),
        ("points_5179.parquet", parquet),
    ] {
        let dir = grid_dir();
        let path = dir.path().join(file);
        if file.ends_with(".parquet") {
            let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/stream");
            std::fs::copy(src.join(file), &path).unwrap();
        } else {
            // A BOM and more than the 4 MiB sampled for the encoding.
            std::fs::write(&path, format!("\u{feff}{}", many_points(150_000))).unwrap();
            assert!(std::fs::metadata(&path).unwrap().len() > 4 << 20);
        }
        let o = crate::fixtures::run_on_grid(dir.path(), "sum", 1.0, input);
        assert_eq!(o.report.inputs[0].file.sha256, sha(&path), "{input}");
    }
}

#[test]
fn a_programme_id_too_long_to_name_a_column_is_dropped_keeping_its_money() {
    let dir = grid_dir();
    // A 4 MiB value in the programme column (a misplaced text), and one of 65 bytes.
    let huge = "x".repeat(4 << 20);
    let long = "y".repeat(65);
    std::fs::write(
        dir.path().join("points.csv"),
        format!("{POINTS}3,1002500,2000500,3000,{huge}\n4,1000500,2001500,4000,{long}\n"),
    )
    .unwrap();
    let (plain, streamed, plain_out) = run_plain_and_streamed(dir.path(), POINTS_INPUT, "");
    for (run, out) in [(&plain, plain_out), (&streamed, dir.path().join("out"))] {
        let t = &run.report.totals;
        assert_eq!((t.assigned_records, t.assigned_krw), (4, 10_000));
        let w = &run.report.inputs[0].file.warnings;
        assert_eq!(w.len(), 1, "{w:?}");
        assert!(
            w[0].starts_with(
                "2 row(s) have a programme id longer than 64 bytes (the first, row 3: `xxxx"
            ),
            "{w:?}"
        );
        assert!(w[0].len() < 300);
        let sido = geojson(&out, "sido");
        let p = props(&sido, "11");
        let programs: Vec<&String> = p
            .as_object()
            .unwrap()
            .keys()
            .filter(|k| k.starts_with("amount_program_"))
            .collect();
        assert_eq!(programs, ["amount_program_a_krw", "amount_program_b_krw"]);
        // Rows 1, 2 and 4 (row 3 is in 26), the last with no programme.
        assert_eq!(p["amount_krw"], 7000);
        assert_eq!(p["amount_program_a_krw"], 1000);
        let size = std::fs::metadata(out.join("geojson/sido.geojson"))
            .unwrap()
            .len();
        assert!(size < 100_000, "sido.geojson: {size} bytes");
    }
}

#[test]
fn beyond_50_programmes_the_smaller_ones_share_one_column() {
    let dir = grid_dir();
    // 3,001 programmes: 49 of 1,000,000 KRW, `other` of 2,000,000 (a programme so named goes
    // into the shared column once it exists), `t_a` and `t_b` tied for the 50th place at
    // 500,000 (the lower id wins), and 2,949 of 1 KRW.
    let mut text = String::from("id,x,y,amount_krw,program\n");
    let mut row = |program: &str, amount: u64| {
        let i = text.lines().count();
        text.push_str(&format!("{i},1000500,2000500,{amount},{program}\n"));
    };
    for i in 0..49 {
        row(&format!("z{i:02}"), 1_000_000);
    }
    row("other", 2_000_000);
    row("t_b", 500_000);
    row("t_a", 500_000);
    for i in 0..2949 {
        row(&format!("p{i:04}"), 1);
    }
    std::fs::write(dir.path().join("points.csv"), &text).unwrap();
    let (plain, streamed, plain_out) = run_plain_and_streamed(dir.path(), POINTS_INPUT, "");
    for (run, out) in [(&plain, plain_out), (&streamed, dir.path().join("out"))] {
        assert_eq!(run.report.totals.assigned_records, 3001);
        for layer in ["sido", "sigungu", "emd"] {
            let fc = geojson(&out, layer);
            let code = match layer {
                "sido" => "11",
                "sigungu" => "11010",
                _ => "11010101",
            };
            let p = props(&fc, code);
            let columns: Vec<&String> = p
                .as_object()
                .unwrap()
                .keys()
                .filter(|k| k.starts_with("amount_program_"))
                .collect();
            assert_eq!(columns.len(), 51, "{layer}");
            assert!(!p["amount_program_t_b_krw"].is_number(), "{layer}");
            assert!(!p["amount_program_p0000_krw"].is_number(), "{layer}");
            assert_eq!(p["amount_program_t_a_krw"], 500_000, "{layer}");
            assert_eq!(p["amount_program_z48_krw"], 1_000_000, "{layer}");
            assert_eq!(p["amount_program_other_krw"], 2_502_949, "{layer}");
            let sum: i64 = columns
                .iter()
                .map(|c| p[c.as_str()].as_i64().unwrap())
                .sum();
            assert_eq!(sum, p["amount_krw"].as_i64().unwrap(), "{layer}");
        }
    }
}

#[test]
fn a_header_of_megabytes_is_echoed_in_a_few_lines() {
    let dir = grid_dir();
    // 30,000 column names of 100 bytes and one of 4 MiB, but no `id`.
    let mut header: Vec<String> = (0..30_000)
        .map(|i| format!("c{i:05}{}", "n".repeat(94)))
        .collect();
    header.push("h".repeat(4 << 20));
    header.extend(["x", "y", "amount_krw", "program"].map(String::from));
    std::fs::write(
        dir.path().join("points.csv"),
        format!("{}\n", header.join(",")),
    )
    .unwrap();
    let toml = dir.path().join("wide.toml");
    // A column name with no near miss among them, so that they are listed.
    let input = POINTS_INPUT.replace("id = \"id\"", "id = \"record_id\"");
    std::fs::write(
        &toml,
        grid_pipeline("wide", 0.5, &format!("{input}stream = true\n")),
    )
    .unwrap();
    let o = Command::new(env!("CARGO_BIN_EXE_smartgap"))
        .arg("check")
        .arg(&toml)
        .current_dir(dir.path())
        .output()
        .unwrap();
    let err = stderr(&o);
    assert_eq!(
        o.status.code(),
        Some(2),
        "{}",
        err.chars().take(2000).collect::<String>()
    );
    assert!(
        o.stderr.len() < 10_000,
        "{} bytes of stderr",
        o.stderr.len()
    );
    assert!(err.contains("column `record_id` not found"), "{err}");
    assert!(err.contains("c00019nnn"), "{err}");
    assert!(err.contains("… and 29985 more"), "{err}");
}
