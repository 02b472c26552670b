//! smartgap: the nightly batch pipeline that makes Korea's regional smart-city investment gap
//! visible and measurable.
//!
//! A run **reads** municipal boundaries (시도, 시군구, 읍면동) and investment records (tables
//! keyed by admin code or name, or points) through GDAL, **assigns** every record to exactly one
//! region or to the rejects with a reason, **aggregates** exact integer KRW per region and rolls
//! it up the code hierarchy and into the report's regional groups, computes **indicators** (cost
//! per km², share, rank, tier) and **writes** a GeoPackage, RFC 7946 GeoJSON and a manifest,
//! published atomically. Money is checked at every step: Σ read = Σ assigned + Σ rejected.
//!
//! Modules, in pipeline order; each uses only those above it (no import cycle). Linked ones are
//! public (what `main.rs` and the integration tests use); the others are internal (`pub(crate)`):
//! - [`progress`], [`model`], [`crs`], [`gdal_log`], [`sealed`], `cache`: timing helpers and
//!   checkpoints, shared nouns (regions, records, rejects, dates), PROJ, GDAL's messages, sealed
//!   files, the cache folder;
//! - [`config`]: the TOML pipeline, validated with every problem reported at once; [`error`];
//! - `crosswalk`: dated admin-code changes; `city`: the city level (시 with 일반구) derived from
//!   the 시군구 codes; [`read`]: boundaries, tables and records through GDAL, exact amount
//!   parsing, encodings, checksums;
//! - `snap`: polygons snap-rounded valid onto an integer grid; [`geography`]: the units in
//!   force on a date (`[boundaries] as_of`), derived from the 읍면동 and their dated changes;
//! - [`locate`], [`overlay`], [`assign`]: point-in-polygon, exact intersection areas, and
//!   codes, names and geometries to regions;
//! - `aggregate`: per-level sums, roll-up and the money invariants; `stream`: chunked point
//!   inputs read, located and folded in one pass;
//! - [`indicators`]: per-region indicators, inequality, spatial statistics;
//! - `report`: the run manifest; [`write`](mod@write): output layers, GeoPackage and GeoJSON;
//!   `html`: `report.html` and its maps; [`publish`]: lock, staging, atomic swap;
//!   [`postgis`]: the PostGIS target;
//! - [`pipeline`]: the stages in order.

#![forbid(unsafe_code)]

pub(crate) mod aggregate;
pub mod assign;
pub(crate) mod cache;
pub(crate) mod city;
pub mod config;
pub(crate) mod crosswalk;
pub mod crs;
pub mod error;
pub mod gdal_log;
pub mod geography;
pub(crate) mod html;
pub mod indicators;
pub mod locate;
pub mod model;
pub mod overlay;
pub mod pipeline;
pub mod postgis;
pub mod progress;
pub mod publish;
pub mod read;
pub(crate) mod report;
pub mod sealed;
pub(crate) mod snap;
pub(crate) mod stream;
pub mod write;

pub use error::Error;

/// smartgap's version, as in Cargo.toml.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");
/// The git commit smartgap was built from (`build.rs`).
pub const GIT_COMMIT: &str = env!("SMARTGAP_GIT_COMMIT");
