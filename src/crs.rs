//! Coordinate reference systems through PROJ: everything inside the pipeline is EPSG:5179;
//! inputs are reprojected into it and GeoJSON is reprojected out of it to CRS84.
//!
//! PROJ objects are normalised for visualisation, so geographic coordinates are always
//! (longitude, latitude) whatever the authority's axis order.

use geo::Coord;
use proj::Proj;
use thiserror::Error;

/// The working CRS: Korea 2000 / Unified CS, metres.
pub(crate) const WORK_CRS: &str = "EPSG:5179";
/// The GeoJSON CRS of RFC 7946: WGS 84 longitude/latitude.
pub(crate) const GEOJSON_CRS: &str = "OGC:CRS84";

/// What PROJ could not do, with PROJ's error as the source.
#[derive(Debug, Error)]
pub enum CrsError {
    /// No transformation could be created and PROJ gave no reason ("Unknown error"): in
    /// practice a CRS it does not know.
    #[error("unknown CRS or no transformation")]
    Unknown(#[source] proj::ProjCreateError),
    /// No transformation could be created, for the reason PROJ gives.
    #[error("{0}")]
    Create(#[source] proj::ProjCreateError),
    /// Coordinates could not be transformed.
    #[error("{0}")]
    Convert(#[source] proj::ProjError),
    /// PROJ transformed the coordinates into infinities or NaN (outside its area of use).
    #[error("PROJ gave non-finite coordinates")]
    NonFinite,
}

/// Checks that `crs` can be transformed into the working CRS.
///
/// # Errors
/// As [`Transformer::new`].
pub(crate) fn check(crs: &str) -> Result<(), CrsError> {
    Transformer::new(crs, WORK_CRS).map(|_| ())
}

/// A PROJ transformation between two CRSs. Not `Sync`: make one per thread.
pub struct Transformer {
    proj: Option<Proj>,
}

impl Transformer {
    /// # Errors
    /// Either CRS is unknown or no transformation exists.
    pub fn new(from: &str, to: &str) -> Result<Transformer, CrsError> {
        if from == to {
            return Ok(Transformer { proj: None });
        }
        Proj::new_known_crs(from, to, None)
            .map(|p| Transformer { proj: Some(p) })
            .map_err(|e| {
                if e.to_string().contains("Unknown error") {
                    CrsError::Unknown(e)
                } else {
                    CrsError::Create(e)
                }
            })
    }

    /// Transforms coordinates in place.
    ///
    /// # Errors
    /// PROJ's error; coordinates that fail come back as infinities, which callers check.
    pub fn convert(&self, coords: &mut [Coord<f64>]) -> Result<(), CrsError> {
        match &self.proj {
            None => Ok(()),
            Some(p) => p
                .convert_array(coords)
                .map(|_| ())
                .map_err(CrsError::Convert),
        }
    }
}

/// PROJ's release string, e.g. "Rel. 9.1.1, December 1st, 2022".
pub(crate) fn proj_release() -> &'static str {
    use proj::Info;
    static RELEASE: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    RELEASE.get_or_init(|| {
        proj::ProjBuilder::new()
            .info()
            .map_or_else(|e| format!("unknown ({e})"), |i| i.release)
    })
}

thread_local! {
    /// One PROJ transformation per thread and CRS pair (PROJ objects are not thread-safe).
    static TRANSFORMERS: std::cell::RefCell<Vec<(String, String, Transformer)>> =
        const { std::cell::RefCell::new(Vec::new()) };
}

/// Transforms coordinates in place with this thread's transformation from `from` to `to`
/// (created on first use). Coordinates PROJ cannot transform come back infinite.
///
/// # Errors
/// No transformation between the CRSs exists (see [`Transformer::new`]).
pub(crate) fn reproject(from: &str, to: &str, coords: &mut [Coord<f64>]) -> Result<(), CrsError> {
    if from == to || coords.is_empty() {
        return Ok(());
    }
    TRANSFORMERS.with(|cell| {
        let mut ts = cell.borrow_mut();
        let pos = match ts.iter().position(|(f, t, _)| f == from && t == to) {
            Some(p) => p,
            None => {
                ts.push((
                    from.to_string(),
                    to.to_string(),
                    Transformer::new(from, to)?,
                ));
                ts.len() - 1
            }
        };
        let t = &ts[pos].2;
        if t.convert(coords).is_err() {
            // One bad coordinate fails PROJ's whole array call: transform one by one.
            for c in coords.iter_mut() {
                let mut one = [*c];
                *c = match t.convert(&mut one) {
                    Ok(()) => one[0],
                    Err(_) => Coord {
                        x: f64::INFINITY,
                        y: f64::INFINITY,
                    },
                };
            }
        }
        Ok(())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seoul_city_hall_lands_in_epsg_5179_as_epsg_io_gives_it() {
        // 126.9780 E, 37.5665 N; `cs2cs EPSG:4326 EPSG:5179` (lat lon in, N E out) gives
        // 1952032.081 N 953901.165 E.
        let t = Transformer::new("EPSG:4326", WORK_CRS).unwrap();
        let mut c = [Coord {
            x: 126.9780,
            y: 37.5665,
        }];
        t.convert(&mut c).unwrap();
        assert!((c[0].x - 953_901.165).abs() < 0.01, "{:?}", c[0]);
        assert!((c[0].y - 1_952_032.081).abs() < 0.01, "{:?}", c[0]);
    }

    #[test]
    fn unknown_crs_is_an_error_with_proj_s_as_its_source() {
        let e = check("EPSG:999999").unwrap_err();
        assert_eq!(e.to_string(), "unknown CRS or no transformation");
        assert!(std::error::Error::source(&e).is_some());
    }
}
