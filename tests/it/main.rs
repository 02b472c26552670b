//! The integration tests: tiny pipelines on hand-computable fixtures, config-error messages,
//! and the national pipeline end to end (with the programme awards).

mod awards;
mod config_errors;
mod crosswalk;
mod districts;
mod encodings;
mod fixtures;
mod fuzz;
mod geojson_valid;
mod gpkg_metadata;
mod grid;
mod integrity;
mod locator;
mod messy;
mod national;
mod nightly;
mod overlay;
mod postgis;
mod qgis_styles;
mod report_html;
mod stream;
mod xlsx;
