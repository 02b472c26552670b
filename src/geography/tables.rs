//! The two change tables `as_of` reads: the 시군구 events (`data/admin_changes.csv`, every row
//! whatever its status) and the legal-dong successions (`data/emd_changes.csv`).

use std::path::Path;

use crate::config::AsOf;
use crate::error::Error;
use crate::model::{AdminLevel, Date, parse_date};

/// One row of the change table, whatever its status.
#[derive(Debug, Clone)]
pub struct Event {
    /// 1-based data row of the table (for messages).
    pub(crate) row: usize,
    pub(crate) date: Date,
    pub(crate) kind: String,
    pub(crate) old_code: String,
    pub(crate) old_name: String,
    pub new_code: String,
    pub(crate) new_name: String,
    pub status: String,
}

/// One row of the legal-dong succession table.
#[derive(Debug, Clone)]
pub struct Succession {
    pub(crate) date: Date,
    pub(crate) level: AdminLevel,
    pub(crate) old_code: String,
    /// Empty: abolished without a successor of its level.
    pub(crate) new_code: String,
    /// Full chain of names, e.g. `경기도 부천시 원미구 심곡동`.
    pub(crate) new_name: String,
    /// The 시군구 whose territory the unit is in after the change.
    pub(crate) sigungu: String,
}

/// Reads every row of the change table (`date, kind, old_code, old_name, new_code, new_name,
/// status`).
///
/// # Errors
/// The table cannot be read, or a date is not `YYYY-MM-DD` (naming the row).
pub fn read_events(path: &Path) -> Result<Vec<Event>, Error> {
    let rows = crate::read::table(
        path,
        &[
            "date", "kind", "old_code", "old_name", "new_code", "new_name", "status",
        ],
    )?;
    rows.into_iter()
        .enumerate()
        .map(|(i, r)| {
            let date = parse_date(&r[0]).ok_or_else(|| row_error(path, i + 1, "date", &r[0]))?;
            let [_, kind, old_code, old_name, new_code, new_name, status] =
                <[String; 7]>::try_from(r).map_err(|_| row_error(path, i + 1, "row", ""))?;
            Ok(Event {
                row: i + 1,
                date,
                kind,
                old_code,
                old_name,
                new_code,
                new_name,
                status,
            })
        })
        .collect()
}

/// Reads the legal-dong succession table (`date, level, old_code, new_code, new_name,
/// sigungu`).
///
/// # Errors
/// The table cannot be read, or a row has a bad date, level or 시군구 code (naming the row).
pub fn read_successions(path: &Path) -> Result<Vec<Succession>, Error> {
    let rows = crate::read::table(
        path,
        &[
            "date", "level", "old_code", "new_code", "new_name", "sigungu",
        ],
    )?;
    rows.into_iter()
        .enumerate()
        .map(|(i, r)| {
            let date = parse_date(&r[0]).ok_or_else(|| row_error(path, i + 1, "date", &r[0]))?;
            let level = match AdminLevel::parse(&r[1]) {
                Some(l @ (AdminLevel::Emd | AdminLevel::Ri)) => l,
                _ => return Err(row_error(path, i + 1, "level (emd or ri)", &r[1])),
            };
            // The derivation slices codes by digit position (시군구 = first 5, 읍면동 = first 8):
            // every code must have its level's length.
            let digits = |s: &str, n: usize| s.len() == n && s.bytes().all(|b| b.is_ascii_digit());
            let width = if level == AdminLevel::Emd { 8 } else { 10 };
            if !digits(&r[5], 5) {
                return Err(row_error(path, i + 1, "sigungu (5 digits)", &r[5]));
            }
            if !digits(&r[2], width) {
                return Err(row_error(
                    path,
                    i + 1,
                    &format!("old_code ({width} digits)"),
                    &r[2],
                ));
            }
            if !r[3].is_empty() && !digits(&r[3], width) {
                return Err(row_error(
                    path,
                    i + 1,
                    &format!("new_code ({width} digits, or empty)"),
                    &r[3],
                ));
            }
            let [_, _, old_code, new_code, new_name, sigungu] =
                <[String; 6]>::try_from(r).map_err(|_| row_error(path, i + 1, "row", ""))?;
            Ok(Succession {
                date,
                level,
                old_code,
                new_code,
                new_name,
                sigungu,
            })
        })
        .collect()
}

fn row_error(path: &Path, row: usize, what: &str, found: &str) -> Error {
    Error::Read {
        path: path.to_path_buf(),
        layer: String::new(),
        message: format!("row {row}: expected a valid {what}, found `{found}`"),
    }
}

/// The date `as_of` stands for: the latest effective event's date for [`AsOf::Latest`].
pub fn resolve(as_of: AsOf, events: &[Event]) -> Date {
    match as_of {
        AsOf::Date(d) => d,
        AsOf::Latest => events
            .iter()
            .filter(|e| e.status == "effective")
            .map(|e| e.date)
            .max()
            .unwrap_or(0),
    }
}
