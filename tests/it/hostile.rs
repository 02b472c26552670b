//! Messages for hostile files (issue #15, class 11): a zip renamed `.xlsx` says so, and a bad
//! input file found when the config is checked exits 2, as documented; so does a CSV whose
//! bytes do not fit a forced encoding.

use std::io::Write;
use std::process::Command;

use crate::fixtures::grid_dir;

fn check(dir: &std::path::Path, inputs: &str) -> (i32, String) {
    std::fs::write(
        dir.join("h.toml"),
        crate::fixtures::grid_pipeline("h", 0.0, inputs),
    )
    .unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_smartgap"))
        .arg("run")
        .arg(dir.join("h.toml"))
        .output()
        .unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn a_zip_renamed_xlsx_says_so_and_exits_2() {
    let dir = grid_dir();
    // A real zip archive holding a CSV, as a user's `자료.zip` renamed.
    let mut zip = std::fs::File::create(dir.path().join("data.xlsx")).unwrap();
    let name = b"data.csv";
    let body = b"id,amount\n1,2\n";
    let mut local = Vec::new();
    local.extend_from_slice(b"PK\x03\x04\x0a\x00\x00\x00\x00\x00\x00\x00\x00\x00");
    local.extend_from_slice(&crc32(body).to_le_bytes());
    local.extend_from_slice(&(body.len() as u32).to_le_bytes());
    local.extend_from_slice(&(body.len() as u32).to_le_bytes());
    local.extend_from_slice(&(name.len() as u16).to_le_bytes());
    local.extend_from_slice(&0u16.to_le_bytes());
    local.extend_from_slice(name);
    local.extend_from_slice(body);
    zip.write_all(&local).unwrap();
    drop(zip);
    let (code, err) = check(
        dir.path(),
        "[[inputs]]\nname = \"x\"\npath = \"data.xlsx\"\namount = { field = \"amount\" }\nlocate = { by = \"code\", field = \"id\" }\n",
    );
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("a .zip renamed"), "{err}");
}

#[test]
fn a_csv_that_does_not_fit_its_forced_encoding_exits_2() {
    let dir = grid_dir();
    let (csv, _, _) = encoding_rs::EUC_KR.encode("id,amount\n서울,2\n");
    std::fs::write(dir.path().join("t.csv"), &csv).unwrap();
    let (code, err) = check(
        dir.path(),
        "[[inputs]]\nname = \"x\"\npath = \"t.csv\"\nencoding = \"utf-8\"\namount = { field = \"amount\" }\nlocate = { by = \"code\", field = \"id\" }\n",
    );
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("configured as UTF-8 but byte"), "{err}");
}

/// CRC-32 (IEEE), for the zip entry.
fn crc32(b: &[u8]) -> u32 {
    let mut c = !0u32;
    for &x in b {
        c ^= u32::from(x);
        for _ in 0..8 {
            c = if c & 1 == 1 {
                (c >> 1) ^ 0xEDB8_8320
            } else {
                c >> 1
            };
        }
    }
    !c
}
