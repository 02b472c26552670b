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
//! Modules, in pipeline order:
//! - [`config`]: the TOML pipeline, validated with every problem reported at once;
//! - [`read`]: boundaries, region groups and records through GDAL; exact amount parsing;
//! - [`assign`]: codes, names within their parent, point-in-polygon with an edge rule;
//! - [`aggregate`]: per-level sums, roll-up and the money invariants;
//! - [`indicators`]: per-region indicators;
//! - [`write`]: output layers, GeoPackage and GeoJSON; [`publish`]: lock, staging, atomic swap;
//! - [`pipeline`]: the stages in order; [`report`]: the run manifest;
//! - [`model`], [`crs`], [`error`]: shared nouns, PROJ, errors.

pub mod aggregate;
pub mod assign;
pub mod config;
pub mod crosswalk;
pub mod crs;
pub mod error;
pub mod indicators;
pub mod locate;
pub mod model;
pub mod overlay;
pub mod pipeline;
pub mod progress;
pub mod publish;
pub mod read;
pub mod report;
pub mod sealed;
pub mod stream;
pub mod write;

pub use error::Error;

/// smartgap's version, as in Cargo.toml.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");
/// The git commit smartgap was built from (`build.rs`).
pub const GIT_COMMIT: &str = env!("SMARTGAP_GIT_COMMIT");
