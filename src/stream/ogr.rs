//! Every other vector format, through GDAL (FlatGeobuf, GeoPackage, Shapefile, ...).

use gdal::vector::LayerAccess;
use geo::Coord;

use super::rows::{Raw, Rows};
use crate::config::Locate;
use crate::error::Error;
use crate::model::RejectReason;
use crate::read;
use crate::read::row::{Columns, Val, amount_text, coordinates, parse_f64};
use crate::read::watch::Watch;

pub(super) fn produce_gdal(rows: &mut Rows<'_>) -> Result<(), Error> {
    let spec = rows.spec;
    // GDAL reads the file itself: it is hashed just before (see `read::watch`).
    let watch = Watch::start(&spec.path)?;
    rows.sha256 = read::checksum(&spec.path)?;
    let (prep, ds) = read::open_input(&spec.path, spec.encoding, spec.header_row)?;
    rows.warnings.extend(prep.warnings.iter().cloned());
    let mut l = read::layer(&ds, &spec.path, spec.layer.as_deref())?;
    let names = read::header(&mut l, spec.header_row);
    let idx = |name: &str| {
        names.iter().position(|n| n == name).ok_or_else(|| {
            rows.err(format!(
                "column `{name}` not found (columns: {})",
                crate::model::name_list(&names)
            ))
        })
    };
    let Columns {
        id: id_i,
        amount: amount_i,
        program: program_i,
        date: date_i,
        funding: funding_i,
    } = Columns::of(spec, idx)?;
    let xy_i = match &spec.locate {
        Locate::Point { x, y, .. } => Some((idx(x)?, idx(y)?)),
        Locate::Geometry { crs } => {
            let layer_crs = l
                .spatial_ref()
                .and_then(|s| s.authority().ok())
                .filter(|a| !a.is_empty());
            let crs = crs
                .clone()
                .or(layer_crs)
                .ok_or_else(|| rows.err("the layer has no CRS; declare one with locate.crs"))?;
            rows.set_crs(crs);
            None
        }
        _ => return Err(rows.err("a streamed input is located by point or geometry")),
    };
    rows.announce();
    let unit = spec.amount.as_ref().map(|a| a.unit);
    let skip = if spec.header_row > 1 {
        spec.header_row
    } else {
        0
    };
    crate::gdal_log::install();
    crate::gdal_log::take();
    let mut flattened = 0u64;
    for f in l.features().skip(skip) {
        if read::feature_geometry(&f).is_some_and(read::has_z_or_m) {
            flattened += 1;
        }
        let text = |i: Option<usize>| i.map(|i| read::text(&f, i));
        let (id, program, funding, date) =
            (text(id_i), text(program_i), text(funding_i), text(date_i));
        let amount = match (amount_i, unit) {
            (Some(i), Some(u)) => Some(amount_text(&read::text(&f, i), u)),
            _ => None,
        };
        let xy = match xy_i {
            Some((xi, yi)) => {
                let (xs, ys) = (read::text(&f, xi), read::text(&f, yi));
                coordinates(parse_f64(xs.as_bytes()), parse_f64(ys.as_bytes()), || {
                    (xs.clone(), ys.clone())
                })
            }
            None => match read::feature_geometry(&f) {
                None => Err((RejectReason::LocationMissing, "no geometry".into())),
                Some(g) if g.is_empty() => {
                    Err((RejectReason::LocationMissing, read::empty_geometry(g)))
                }
                Some(g) if (g.geometry_type() & 0x0FFF_FFFF) % 1000 == 1 => {
                    let (x, y, _) = g.get_point(0);
                    Ok(Coord { x, y })
                }
                Some(g) => Err((
                    RejectReason::CoordinateInvalid,
                    format!(
                        "expected a point, found a {}; polygon inputs are read with stream = false",
                        g.geometry_name()
                    ),
                )),
            },
        };
        // A footer row carries no usable point or amount: only such rows are looked at.
        if xy.is_err() || matches!(amount, Some(Err(_))) {
            let cells: Vec<String> = (0..f.field_count()).map(|i| read::text(&f, i)).collect();
            if let Some(label) = rows.footers.label(cells.iter().map(String::as_str)) {
                rows.skip(label);
                continue;
            }
        }
        let raw = Raw {
            id: Val::text(id.as_deref()),
            amount,
            program: program.as_deref(),
            program_key: None,
            funding: funding.as_deref(),
            date: Val::text(date.as_deref()),
            xy,
        };
        if !rows.push(raw)? {
            return Ok(());
        }
    }
    rows.warnings.extend(read::flattened_note(flattened));
    watch.check(&l.name(), None)?;
    // A driver that stops early says so only through its error handler.
    read::gdal_raised(&spec.path, &l.name(), rows.rows)
}
