//! The integration tests: tiny pipelines on hand-computable fixtures, config-error messages,
//! and the national pipeline end to end (with the programme awards).

mod awards;
mod cities;
mod collisions;
mod config_errors;
mod crosswalk;
mod districts;
mod empty_points;
mod encodings;
mod fixtures;
mod footers;
mod funding;
mod fuzz;
mod geography;
mod geojson_valid;
mod gpkg_metadata;
mod grid;
mod hostile;
mod integrity;
mod large_geojson;
mod locate_chain;
mod locator;
mod messy;
mod names;
mod national;
mod nightly;
mod overlay;
mod plain_parquet;
mod polygons;
mod postgis;
mod qgis_styles;
mod report_html;
mod stream;
mod three_d;
mod xlsx;
