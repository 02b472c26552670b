//! Text encodings of the files people really have: CSV and Shapefile in UTF-8 (with or without
//! BOM) or CP949/EUC-KR, and Shapefiles whose `.cpg` says one thing while the bytes are another.
//!
//! - CSV: the bytes decide. Valid UTF-8 is read as it is; otherwise the file must decode as
//!   CP949 without error and is transcoded to a temporary UTF-8 copy that GDAL reads. A file that
//!   is neither is an error naming the file and byte offset.
//! - Shapefile: the text fields of the `.dbf` are checked against the declared code page (`.cpg`
//!   or the DBF language driver byte). When the bytes contradict it, a warning names the file and
//!   the file is read as what the bytes are (GDAL's `ENCODING` open option).
//!
//! A configured encoding (`encoding = "cp949"`) is obeyed, with a warning when the bytes
//! contradict it.

use std::path::{Path, PathBuf};

use encoding_rs::EUC_KR;

use crate::error::Error;

pub use crate::config::Encoding;

impl Encoding {
    fn gdal_name(self) -> &'static str {
        match self {
            Encoding::Cp949 => "CP949",
            _ => "UTF-8",
        }
    }
}

/// A file made ready for GDAL: the path to open, open options, and what was found.
#[derive(Debug)]
pub(crate) struct Prepared {
    pub(crate) path: PathBuf,
    pub(crate) open_options: Vec<String>,
    /// The encoding the text was read as.
    pub(crate) encoding: Encoding,
    pub(crate) warnings: Vec<String>,
    _tmp: Option<tempfile::TempDir>,
}

/// What the bytes of some text values say about their encoding.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
struct Evidence {
    /// Values with any byte ≥ 0x80.
    non_ascii: usize,
    /// Of those, values that are not valid UTF-8.
    invalid_utf8: usize,
    /// Of those, values that decode as CP949 without error into plausible Korean text.
    plausible_cp949: usize,
}

impl Evidence {
    fn add(&mut self, bytes: &[u8]) {
        if bytes.is_ascii() {
            return;
        }
        self.non_ascii += 1;
        if std::str::from_utf8(bytes).is_err() {
            self.invalid_utf8 += 1;
        }
        let (text, had_errors) = EUC_KR.decode_without_bom_handling(bytes);
        if !had_errors && plausible_korean(&text) {
            self.plausible_cp949 += 1;
        }
    }

    /// The encoding the bytes support: UTF-8 when every value is valid UTF-8, CP949 when the
    /// invalid ones all decode as plausible CP949, `None` when neither holds.
    fn verdict(&self) -> Option<Encoding> {
        if self.invalid_utf8 == 0 {
            Some(Encoding::Utf8)
        } else if self.plausible_cp949 == self.non_ascii {
            Some(Encoding::Cp949)
        } else {
            None
        }
    }
}

/// Mostly Hangul syllables, jamo, CJK or common punctuation among the non-ASCII characters
/// (CP949 decodes almost any byte pair to *something*; wrong guesses give rare hanja and
/// symbols).
fn plausible_korean(text: &str) -> bool {
    let mut non_ascii = 0;
    let mut korean = 0;
    for c in text.chars().filter(|c| !c.is_ascii()) {
        non_ascii += 1;
        if matches!(c, '\u{AC00}'..='\u{D7A3}' | '\u{3130}'..='\u{318F}' | '·' | '～' | '（' | '）' | '\u{3000}'..='\u{303F}')
        {
            korean += 1;
        }
    }
    non_ascii == 0 || korean * 10 >= non_ascii * 9
}

/// Makes `path` ready for GDAL under the configured encoding.
pub(crate) fn prepare(path: &Path, configured: Encoding) -> Result<Prepared, Error> {
    let ext = path
        .extension()
        .map(|e| e.to_string_lossy().to_ascii_lowercase())
        .unwrap_or_default();
    match ext.as_str() {
        "csv" | "tsv" | "txt" => prepare_csv(path, configured),
        "shp" | "dbf" => prepare_shp(path, configured),
        _ => Ok(Prepared {
            path: path.to_path_buf(),
            open_options: Vec::new(),
            encoding: Encoding::Utf8,
            warnings: Vec::new(),
            _tmp: None,
        }),
    }
}

fn io_err(path: &Path, e: impl std::fmt::Display) -> Error {
    Error::Open {
        path: path.to_path_buf(),
        message: e.to_string(),
    }
}

fn prepare_csv(path: &Path, configured: Encoding) -> Result<Prepared, Error> {
    let bytes = std::fs::read(path).map_err(|e| io_err(path, e))?;
    let body = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(&bytes);
    let utf8 = std::str::from_utf8(body);
    let mut warnings = Vec::new();
    let encoding = match (configured, &utf8) {
        (Encoding::Utf8, Err(e)) => {
            return Err(io_err(
                path,
                format!(
                    "configured as UTF-8 but byte {} is not UTF-8",
                    e.valid_up_to()
                ),
            ));
        }
        (Encoding::Utf8, Ok(_)) | (Encoding::Auto, Ok(_)) => Encoding::Utf8,
        (Encoding::Cp949, Ok(t)) => {
            if !t.is_ascii() {
                warnings.push(format!(
                    "{}: configured as CP949 but the text is valid UTF-8; reading as CP949 as configured",
                    path.display()
                ));
            }
            Encoding::Cp949
        }
        (Encoding::Auto, Err(_)) => Encoding::Cp949,
        (Encoding::Cp949, Err(_)) => Encoding::Cp949,
    };
    if encoding == Encoding::Utf8 {
        return Ok(Prepared {
            path: path.to_path_buf(),
            open_options: Vec::new(),
            encoding,
            warnings,
            _tmp: None,
        });
    }
    let (text, had_errors) = EUC_KR.decode_without_bom_handling(body);
    if had_errors {
        let at = text.find('\u{FFFD}').unwrap_or(0);
        return Err(io_err(
            path,
            format!(
                "the text is neither UTF-8 nor CP949 (undecodable bytes near character {at}); set `encoding` on the input"
            ),
        ));
    }
    if configured == Encoding::Auto && !plausible_korean(&text) {
        warnings.push(format!(
            "{}: not UTF-8; read as CP949, but the decoded text is not plausible Korean",
            path.display()
        ));
    }
    let tmp = tempfile::Builder::new()
        .prefix("smartgap-utf8-")
        .tempdir()
        .map_err(|e| io_err(path, e))?;
    let name = path
        .file_name()
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("input.csv"));
    let copy = tmp.path().join(name);
    std::fs::write(&copy, text.as_bytes()).map_err(|e| io_err(&copy, e))?;
    Ok(Prepared {
        path: copy,
        open_options: Vec::new(),
        encoding,
        warnings,
        _tmp: Some(tmp),
    })
}

/// The code page a Shapefile declares: its `.cpg`, else the DBF language driver id.
fn declared_shp(path: &Path, dbf: &[u8]) -> Option<Encoding> {
    if let Ok(cpg) = std::fs::read_to_string(path.with_extension("cpg")) {
        let c = cpg.trim().to_ascii_uppercase();
        return match c.as_str() {
            "UTF-8" | "UTF8" | "65001" => Some(Encoding::Utf8),
            "CP949" | "949" | "EUC-KR" | "EUCKR" | "KS_C_5601-1987" | "ANSI 949" => {
                Some(Encoding::Cp949)
            }
            _ => None,
        };
    }
    match dbf.get(29) {
        Some(0x79) => Some(Encoding::Cp949), // LDID 121: Korean (Windows 949)
        _ => None,
    }
}

/// Text (`C`) values of up to `max_records` records of a dBASE file.
fn dbf_texts(dbf: &[u8], max_records: usize) -> Vec<&[u8]> {
    let le16 = |i: usize| {
        dbf.get(i..i + 2)
            .map_or(0, |b| usize::from(u16::from_le_bytes([b[0], b[1]])))
    };
    let le32 = |i: usize| {
        dbf.get(i..i + 4)
            .map_or(0, |b| u32::from_le_bytes([b[0], b[1], b[2], b[3]]) as usize)
    };
    let (n, header_len, record_len) = (le32(4), le16(8), le16(10));
    let mut fields = Vec::new(); // (offset in record, length) of C fields
    let mut offset = 1; // deletion flag
    let mut i = 32;
    while i + 32 <= dbf.len() && dbf[i] != 0x0D {
        let len = usize::from(dbf[i + 16]);
        if dbf[i + 11] == b'C' {
            fields.push((offset, len));
        }
        offset += len;
        i += 32;
    }
    let mut out = Vec::new();
    for r in 0..n.min(max_records) {
        let start = header_len + r * record_len;
        for &(o, len) in &fields {
            if let Some(v) = dbf.get(start + o..start + o + len) {
                let end = v
                    .iter()
                    .rposition(|b| *b != b' ' && *b != 0)
                    .map_or(0, |p| p + 1);
                out.push(&v[..end]);
            }
        }
    }
    out
}

fn prepare_shp(path: &Path, configured: Encoding) -> Result<Prepared, Error> {
    let dbf_path = path.with_extension("dbf");
    let dbf = std::fs::read(&dbf_path).map_err(|e| io_err(&dbf_path, e))?;
    let mut ev = Evidence::default();
    for t in dbf_texts(&dbf, 20_000) {
        ev.add(t);
    }
    let declared = declared_shp(path, &dbf);
    let verdict = ev.verdict();
    let mut warnings = Vec::new();
    let describe = |e: Option<Encoding>| match e {
        Some(Encoding::Cp949) => "CP949",
        Some(Encoding::Utf8) => "UTF-8",
        _ => "no code page",
    };
    let encoding = match configured {
        Encoding::Auto => match (verdict, declared) {
            (Some(v), Some(d)) if v != d && ev.non_ascii > 0 => {
                warnings.push(format!(
                    "{}: the code page says {} but the text is {} ({} of {} non-ASCII values are not UTF-8); reading as {}",
                    dbf_path.display(),
                    describe(Some(d)),
                    describe(Some(v)),
                    ev.invalid_utf8,
                    ev.non_ascii,
                    describe(Some(v))
                ));
                v
            }
            (Some(v), _) => v,
            (None, d) => {
                warnings.push(format!(
                    "{}: text is neither valid UTF-8 nor plausible CP949 ({} of {} non-ASCII values); reading as {}",
                    dbf_path.display(),
                    ev.non_ascii - ev.plausible_cp949,
                    ev.non_ascii,
                    describe(d.or(Some(Encoding::Cp949)))
                ));
                d.unwrap_or(Encoding::Cp949)
            }
        },
        explicit => {
            if verdict.is_some_and(|v| v != explicit) && ev.non_ascii > 0 {
                warnings.push(format!(
                    "{}: configured as {} but the text looks like {}; reading as configured",
                    dbf_path.display(),
                    describe(Some(explicit)),
                    describe(verdict)
                ));
            }
            explicit
        }
    };
    Ok(Prepared {
        path: path.to_path_buf(),
        open_options: vec![format!("ENCODING={}", encoding.gdal_name())],
        encoding,
        warnings,
        _tmp: None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn utf8_and_cp949_hangul_are_told_apart() {
        let utf8 = "서울특별시 성북구".as_bytes();
        let (cp949, _, _) = EUC_KR.encode("서울특별시 성북구");
        let mut a = Evidence::default();
        a.add(utf8);
        assert_eq!(a.verdict(), Some(Encoding::Utf8));
        let mut b = Evidence::default();
        b.add(&cp949);
        b.add(b"plain ascii");
        assert_eq!(b.verdict(), Some(Encoding::Cp949));
        assert_eq!(b.non_ascii, 1);
    }

    #[test]
    fn a_cp949_csv_is_transcoded_and_a_bad_one_is_an_error() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("x.csv");
        let (bytes, _, _) = EUC_KR.encode("id,sido\n1,경기도\n");
        std::fs::write(&p, &bytes).unwrap();
        let prep = prepare(&p, Encoding::Auto).unwrap();
        assert_eq!(prep.encoding, Encoding::Cp949);
        assert_eq!(
            std::fs::read_to_string(&prep.path).unwrap(),
            "id,sido\n1,경기도\n"
        );
        assert!(prepare(&p, Encoding::Utf8).is_err());
        std::fs::write(&p, b"id,x\n1,\xFF\xFF\xFF\n").unwrap();
        let e = prepare(&p, Encoding::Auto).unwrap_err().to_string();
        assert!(e.contains("neither UTF-8 nor CP949"), "{e}");
    }
}
