//! What GDAL's XLSX driver does not say: which cells hold a formula without a cached value.
//!
//! A workbook written by a program that does not calculate (a script, some exporters) stores
//! `<c r="C3"><f>B3*1000</f></c>` with no `<v>`: GDAL reads the cell as empty, and the record
//! would be rejected as "amount is empty" although the user sees a number in Excel. The sheet's
//! XML is read here (the workbook is a zip: its central directory, then the sheet's entry,
//! stored or deflated) so the reject can say what the cell holds.

use std::collections::BTreeMap;
use std::path::Path;

/// Largest sheet XML inflated, in bytes: the file itself is bounded by `max_input_mib`, but a
/// deflated entry can expand a thousandfold.
const MAX_SHEET_BYTES: usize = 1 << 30;

/// Why a workbook's sheet XML could not be read.
#[derive(Debug, thiserror::Error)]
pub enum XlsxError {
    #[error("reading the workbook: {0}")]
    Io(#[from] std::io::Error),
    #[error("the zip's central directory cannot be read")]
    Directory,
    #[error("no {0} in the workbook")]
    Missing(String),
    #[error("the zip entry {0} cannot be read")]
    Entry(String),
    #[error("zip entry {name} uses compression method {method}")]
    Method { name: String, method: u16 },
}

/// The cells of sheet `sheet` (the GDAL layer name; the first sheet when absent from the
/// workbook) that hold a formula without a cached value: (1-based sheet row, 0-based column)
/// → the formula text (empty for a shared formula's followers).
///
/// # Errors
/// The file is not a zip GDAL would read as a workbook (zip64, encrypted, damaged); the
/// caller then keeps its plain reject.
pub fn uncached_formulas(
    path: &Path,
    sheet: &str,
) -> Result<BTreeMap<(u64, u64), String>, XlsxError> {
    let bytes = std::fs::read(path)?;
    let entries = central_directory(&bytes)?;
    let read = |name: &str| -> Result<String, XlsxError> {
        let e = entries
            .iter()
            .find(|e| e.name == name)
            .ok_or_else(|| XlsxError::Missing(name.to_string()))?;
        entry(&bytes, e)
    };
    let target = sheet_target(
        &read("xl/workbook.xml")?,
        &read("xl/_rels/workbook.xml.rels")?,
        sheet,
    )
    .unwrap_or_else(|| "worksheets/sheet1.xml".into());
    let target = target.trim_start_matches('/');
    let name = if target.starts_with("xl/") {
        target.to_string()
    } else {
        format!("xl/{target}")
    };
    Ok(formula_cells(&read(&name)?))
}

/// The sheet's part name from the workbook (`<sheet name=… r:id=…>`) and its relations.
fn sheet_target(workbook: &str, rels: &str, sheet: &str) -> Option<String> {
    let id = tags(workbook, "sheet")
        .into_iter()
        .find(|t| attr(t, "name").as_deref() == Some(sheet))
        .and_then(|t| attr(t, "r:id"))?;
    tags(rels, "Relationship")
        .into_iter()
        .find(|t| attr(t, "Id").as_deref() == Some(id.as_str()))
        .and_then(|t| attr(t, "Target"))
}

/// The opening tags `<name …>` in `xml`, their text up to `>`.
fn tags<'a>(xml: &'a str, name: &str) -> Vec<&'a str> {
    let open = format!("<{name}");
    xml.match_indices(open.as_str())
        .filter_map(|(i, _)| {
            let rest = &xml[i + open.len()..];
            // `<sheet ` but not `<sheets>`.
            rest.starts_with([' ', '\t', '\n', '\r', '/', '>'])
                .then(|| &rest[..rest.find('>').unwrap_or(rest.len())])
        })
        .collect()
}

/// The value of attribute `name` in a tag's text (`name="…"`), XML entities for quotes and
/// ampersands undone.
fn attr(tag: &str, name: &str) -> Option<String> {
    let key = format!(" {name}=\"");
    let start = tag.find(&key)? + key.len();
    let end = tag[start..].find('"')? + start;
    Some(unescape(&tag[start..end]))
}

fn unescape(s: &str) -> String {
    s.replace("&quot;", "\"")
        .replace("&apos;", "'")
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&amp;", "&")
}

/// The cells of a sheet's XML with an `<f>` and no `<v>`.
fn formula_cells(xml: &str) -> BTreeMap<(u64, u64), String> {
    let mut out = BTreeMap::new();
    let mut rest = xml;
    while let Some(i) = rest.find("<c ") {
        rest = &rest[i + 3..];
        let head_end = rest.find('>').unwrap_or(rest.len());
        let head = &rest[..head_end];
        if head.ends_with('/') {
            continue;
        }
        let body_end = rest.find("</c>").unwrap_or(rest.len());
        let body = &rest[head_end.min(body_end)..body_end];
        if !body.contains("<f") || cached(body) {
            continue;
        }
        let Some(cell) = attr(&format!(" {head}"), "r").and_then(|r| cell_ref(&r)) else {
            continue;
        };
        let formula = body
            .find("<f")
            .and_then(|s| {
                let open_end = body[s..].find('>')? + s;
                if body[..open_end].ends_with('/') {
                    return Some(String::new());
                }
                let close = body[open_end..].find("</f>")? + open_end;
                Some(unescape(&body[open_end + 1..close]))
            })
            .unwrap_or_default();
        out.insert(cell, formula);
    }
    out
}

/// Whether a cell's body has a cached value: `<v>…</v>` with text (openpyxl writes `<v />`
/// for a formula it did not calculate).
fn cached(body: &str) -> bool {
    body.match_indices("<v").any(|(i, _)| {
        let tag = &body[i..];
        let Some(end) = tag.find('>') else {
            return false;
        };
        if !tag[2..].starts_with(['>', ' ', '/']) || tag[..end].ends_with('/') {
            return false;
        }
        tag[end + 1..].find("</v>").is_some_and(|close| close > 0)
    })
}

/// `C3` → (3, 2): the 1-based row and 0-based column of a cell reference.
fn cell_ref(r: &str) -> Option<(u64, u64)> {
    let letters = r.bytes().take_while(u8::is_ascii_uppercase).count();
    if letters == 0 || letters > 3 {
        return None;
    }
    let col = r
        .bytes()
        .take(letters)
        .fold(0u64, |c, b| c * 26 + u64::from(b - b'A' + 1))
        - 1;
    let row = r[letters..].parse().ok()?;
    Some((row, col))
}

/// `column` (0-based) as a spreadsheet column name: 0 → `A`, 27 → `AB`.
pub fn column_name(column: u64) -> String {
    let mut n = column + 1;
    let mut s = Vec::new();
    while n > 0 {
        let r = (n - 1) % 26;
        s.push(b'A' + r as u8);
        n = (n - 1) / 26;
    }
    s.reverse();
    String::from_utf8(s).unwrap_or_default()
}

struct Entry {
    name: String,
    method: u16,
    compressed: usize,
    local_offset: usize,
}

fn u16_at(b: &[u8], at: usize) -> Option<u16> {
    Some(u16::from_le_bytes(b.get(at..at + 2)?.try_into().ok()?))
}

fn u32_at(b: &[u8], at: usize) -> Option<usize> {
    Some(u32::from_le_bytes(b.get(at..at + 4)?.try_into().ok()?) as usize)
}

/// The zip's central directory: found from the end-of-central-directory record.
fn central_directory(b: &[u8]) -> Result<Vec<Entry>, XlsxError> {
    let damaged = || XlsxError::Directory;
    // The end record is 22 bytes plus a comment of at most 65,535.
    let from = b.len().saturating_sub(22 + 65_535);
    let eocd = (from..b.len().saturating_sub(21))
        .rev()
        .find(|&i| b[i..].starts_with(b"PK\x05\x06"))
        .ok_or_else(damaged)?;
    let count = u16_at(b, eocd + 10).ok_or_else(damaged)? as usize;
    let mut at = u32_at(b, eocd + 16).ok_or_else(damaged)?;
    let mut out = Vec::with_capacity(count);
    for _ in 0..count {
        if !b.get(at..).is_some_and(|r| r.starts_with(b"PK\x01\x02")) {
            return Err(damaged());
        }
        let field = |o: usize| u16_at(b, at + o).map(usize::from).ok_or_else(damaged);
        let (name_len, extra, comment) = (field(28)?, field(30)?, field(32)?);
        let name = b.get(at + 46..at + 46 + name_len).ok_or_else(damaged)?;
        out.push(Entry {
            name: String::from_utf8_lossy(name).into_owned(),
            method: u16_at(b, at + 10).ok_or_else(damaged)?,
            compressed: u32_at(b, at + 20).ok_or_else(damaged)?,
            local_offset: u32_at(b, at + 42).ok_or_else(damaged)?,
        });
        at += 46 + name_len + extra + comment;
    }
    Ok(out)
}

/// An entry's text: stored or deflated.
fn entry(b: &[u8], e: &Entry) -> Result<String, XlsxError> {
    let damaged = || XlsxError::Entry(e.name.clone());
    let at = e.local_offset;
    if !b.get(at..).is_some_and(|r| r.starts_with(b"PK\x03\x04")) {
        return Err(damaged());
    }
    let name_len = u16_at(b, at + 26).ok_or_else(damaged)? as usize;
    let extra = u16_at(b, at + 28).ok_or_else(damaged)? as usize;
    let start = at + 30 + name_len + extra;
    let data = b.get(start..start + e.compressed).ok_or_else(damaged)?;
    let raw = match e.method {
        0 => data.to_vec(),
        8 => miniz_oxide::inflate::decompress_to_vec_with_limit(data, MAX_SHEET_BYTES)
            .map_err(|_| damaged())?,
        method => {
            return Err(XlsxError::Method {
                name: e.name.clone(),
                method,
            });
        }
    };
    String::from_utf8(raw).map_err(|_| damaged())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cell_references_and_column_names_by_hand() {
        assert_eq!(cell_ref("C3"), Some((3, 2)));
        assert_eq!(cell_ref("AB10"), Some((10, 27)));
        assert_eq!(column_name(0), "A");
        assert_eq!(column_name(27), "AB");
        assert_eq!(column_name(701), "ZZ");
        assert_eq!(column_name(702), "AAA");
    }

    #[test]
    fn only_formulas_without_a_cached_value_are_found() {
        let xml = r#"<sheetData><row r="2"><c r="B2"><v>100</v></c></row>
<row r="3"><c r="B3"><f>B2*2</f></c><c r="C3" t="s"><v>0</v></c></row>
<row r="4"><c r="B4"><f>B2*3</f><v>300</v></c><c r="C4"/></row>
<row r="5"><c r="B5" s="1"><f t="shared" si="0"/></c><c r="D5"><f>IF(A5&gt;0,1,0)</f></c></row>
<row r="6"><c r="D6"><f>SUM(1,2)</f><v /></c><c r="E6"><f>1</f><v></v></c><c r="F6"><f>2</f><v>2</v></c></row></sheetData>"#;
        let cells = formula_cells(xml);
        assert_eq!(
            cells.into_iter().collect::<Vec<_>>(),
            [
                ((3, 1), "B2*2".to_string()),
                ((5, 1), String::new()),
                ((5, 3), "IF(A5>0,1,0)".to_string()),
                ((6, 3), "SUM(1,2)".to_string()),
                ((6, 4), "1".to_string()),
            ]
        );
    }
}
