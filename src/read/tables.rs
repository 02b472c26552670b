//! Plain tables read through GDAL: region groups, census population, the admin-code change
//! table (the crosswalk, and every row for `as_of`), the legal-dong successions and the
//! population table's KOSTAT codes.

use std::collections::{BTreeMap, HashMap};
use std::path::Path;

use gdal::vector::LayerAccess;

use super::{amount, field_index, layer, open, text};
use crate::config::{PopulationSpec, RegionGroupsSpec};
use crate::crosswalk::{Crosswalk, Event, KostatCodes, Succession};
use crate::error::Error;
use crate::model::{AdminLevel, RegionGroup, parse_date};

/// Reads the named columns of a table (CSV or any layer), as text, in file order.
pub fn table(path: &Path, columns: &[&str]) -> Result<Vec<Vec<String>>, Error> {
    let ds = open(path)?;
    let mut l = layer(&ds, path, None)?;
    let idx: Vec<usize> = columns
        .iter()
        .map(|c| field_index(&l, c, path))
        .collect::<Result<_, _>>()?;
    Ok(l.features()
        .map(|f| {
            idx.iter()
                .map(|&i| text(&f, i).trim().to_string())
                .collect()
        })
        .collect())
}

/// Population per region code for the configured census year.
///
/// # Errors
/// A population that is not a whole number ≥ 0, a code repeated for the year, or no row for
/// the year: each names the file and row.
pub fn population(spec: &PopulationSpec) -> Result<HashMap<String, i64>, Error> {
    let rows = table(
        &spec.path,
        &[&spec.code_field, &spec.year_field, &spec.population_field],
    )?;
    let err = |row: usize, message: String| Error::Read {
        path: spec.path.clone(),
        layer: String::new(),
        message: format!("row {row}: {message}"),
    };
    let mut out = HashMap::new();
    for (i, r) in rows.iter().enumerate() {
        if r[1].parse::<i64>().ok() != Some(spec.year) {
            continue;
        }
        let n = amount::parse_amount(&r[2], crate::config::AmountUnit::Krw)
            .map_err(|(_, d)| err(i + 1, format!("column `{}`: {d}", spec.population_field)))?;
        if out.insert(r[0].clone(), n).is_some() {
            return Err(err(
                i + 1,
                format!("code {} appears twice for {}", r[0], spec.year),
            ));
        }
    }
    if out.is_empty() {
        return Err(err(0, format!("no rows for year {}", spec.year)));
    }
    Ok(out)
}

/// Reads the table that maps 시도 codes to regional groups.
pub fn region_groups(spec: &RegionGroupsSpec) -> Result<Vec<RegionGroup>, Error> {
    let ds = open(&spec.path)?;
    let mut l = layer(&ds, &spec.path, None)?;
    let gi = field_index(&l, &spec.group_field, &spec.path)?;
    let ni = field_index(&l, &spec.name_field, &spec.path)?;
    let si = field_index(&l, &spec.sido_code_field, &spec.path)?;
    let layer_name = l.name();
    let mut groups: BTreeMap<String, RegionGroup> = BTreeMap::new();
    let mut seen: HashMap<String, String> = HashMap::new();
    for (row, f) in l.features().enumerate() {
        let id = text(&f, gi).trim().to_string();
        let sido = text(&f, si).trim().to_string();
        if let Some(prev) = seen.insert(sido.clone(), id.clone())
            && prev != id
        {
            return Err(Error::Read {
                path: spec.path.clone(),
                layer: layer_name.clone(),
                message: format!("row {}: 시도 {sido} is in groups {prev} and {id}", row + 1),
            });
        }
        let g = groups.entry(id.clone()).or_insert_with(|| RegionGroup {
            id,
            name: text(&f, ni),
            sido_codes: Vec::new(),
        });
        g.sido_codes.push(sido);
    }
    Ok(groups.into_values().collect())
}

/// Reads the change table (columns `date, kind, old_code, old_name, new_code, new_name,
/// status`); rows whose status is not `effective` are ignored.
pub fn crosswalk(path: &Path) -> Result<Crosswalk, Error> {
    Ok(Crosswalk::from_events(&change_events(path)?))
}

/// KOSTAT statistical codes of the population table (see [`KostatCodes`]).
///
/// # Errors
/// The table cannot be read, or a `source_units` entry is not `code` or `code:share`.
pub fn kostat_codes(spec: &PopulationSpec) -> Result<Option<KostatCodes>, Error> {
    let Some(kf) = &spec.kostat_field else {
        return Ok(None);
    };
    let rows = table(&spec.path, &[&spec.code_field, &spec.year_field, kf])?;
    let mut units: BTreeMap<String, Vec<(String, f64)>> = BTreeMap::new();
    for (i, r) in rows.iter().enumerate() {
        if r[1].trim().parse::<i64>().ok() != Some(spec.year) {
            continue;
        }
        for tok in r[2].split_whitespace() {
            let (k, share) = match tok.split_once(':') {
                Some((k, s)) => (
                    k,
                    s.parse::<f64>().ok().filter(|v| v.is_finite() && *v >= 0.0),
                ),
                None => (tok, Some(1.0)),
            };
            let Some(share) = share else {
                return Err(Error::Read {
                    path: spec.path.clone(),
                    layer: String::new(),
                    message: format!(
                        "row {}: column `{kf}`: `{tok}` is not `code` or `code:share`",
                        i + 1
                    ),
                });
            };
            if share > 0.0 {
                units
                    .entry(k.to_string())
                    .or_default()
                    .push((r[0].trim().to_string(), share));
            }
        }
    }
    Ok(Some(KostatCodes::new(spec.year, spec.path.clone(), units)))
}

/// Reads every row of the change table (`date, kind, old_code, old_name, new_code, new_name,
/// status`).
///
/// # Errors
/// The table cannot be read, or a date is not `YYYY-MM-DD` (naming the row).
pub fn change_events(path: &Path) -> Result<Vec<Event>, Error> {
    let rows = table(
        path,
        &[
            "date", "kind", "old_code", "old_name", "new_code", "new_name", "status",
        ],
    )?;
    rows.into_iter()
        .enumerate()
        .map(|(i, r)| {
            let date = parse_date(&r[0])
                .ok_or_else(|| row_error(path, i + 1, "date (YYYY-MM-DD)", &r[0]))?;
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
pub fn successions(path: &Path) -> Result<Vec<Succession>, Error> {
    let rows = table(
        path,
        &[
            "date", "level", "old_code", "new_code", "new_name", "sigungu",
        ],
    )?;
    rows.into_iter()
        .enumerate()
        .map(|(i, r)| {
            let date = parse_date(&r[0])
                .ok_or_else(|| row_error(path, i + 1, "date (YYYY-MM-DD)", &r[0]))?;
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
