//! The PostGIS publish target (issue #19): a finished run's GeoPackage, every layer and table,
//! copied into one schema per pipeline for GeoServer or QGIS Server, switched atomically.
//!
//! ```text
//! lock     pg_advisory_lock(hash of 'smartgap/<schema>'): a second publish waits (lock_wait_s), then fails
//! load     one transaction: CREATE SCHEMA <schema>_staging, each layer through GDAL's
//!          PostgreSQL driver (COPY; fid primary key, GiST index, SRID 5179), the
//!          `metadata` table, COMMENT ON TABLE/COLUMN from gpkg_contents and
//!          gpkg_data_columns, grants to the reader role; COMMIT
//! swap     one statement (one transaction): ACCESS EXCLUSIVE on the published tables (readers
//!          in a transaction finish first), <schema> → <schema>_prev_<run id>,
//!          <schema>_staging → <schema>
//! prune    drop all but the newest `keep` <schema>_prev_* schemas
//! ```
//! A failure or a kill before the swap commits leaves `<schema>` as it was (an uncommitted
//! load is rolled back by the server; a committed staging schema is dropped by the next
//! publish, under the lock). The connection is libpq's: its environment (`PGHOST`,
//! `PGPORT`, `PGUSER`, `PGDATABASE`, `PGPASSFILE`, `PGSERVICE`, …) or `service`; no password
//! passes through smartgap.

use std::path::Path;
use std::time::Instant;

use gdal::vector::sql::Dialect;
use gdal::vector::{Feature, FieldDefn, LayerAccess, LayerOptions};
use gdal::{Dataset, DatasetOptions, GdalOpenFlags};

use crate::config::PostgisSpec;
use crate::error::Error;
use crate::progress::checkpoint;

/// The name of the staging schema of `schema`.
fn staging_schema(schema: &str) -> String {
    format!("{schema}_staging")
}

/// The rollback schema a run's predecessor is renamed to: `<schema>_prev_<run id>`, the run id
/// lower-cased with `-` as `_` (so it sorts by time and needs no quoting).
fn prev_schema(schema: &str, run_id: &str) -> String {
    format!(
        "{schema}_prev_{}",
        run_id.to_ascii_lowercase().replace('-', "_")
    )
}

/// `name` as an SQL identifier: always quoted, inner quotes doubled.
fn ident(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

/// `text` as an SQL string literal (`standard_conforming_strings` is set on per session).
pub fn literal(text: &str) -> String {
    format!("'{}'", text.replace('\'', "''"))
}

/// Where the database is, for messages: the service, or host and port as libpq will resolve
/// them from the environment (never a password or a whole connection string).
fn target(spec: &PostgisSpec) -> String {
    if let Some(s) = &spec.service {
        return format!("service {s}");
    }
    if let Ok(s) = std::env::var("PGSERVICE")
        && !s.is_empty()
    {
        return format!("service {s}");
    }
    let var = |k: &str| std::env::var(k).ok().filter(|v| !v.is_empty());
    let host = var("PGHOST").unwrap_or_else(|| "localhost".into());
    let port = var("PGPORT").unwrap_or_else(|| "5432".into());
    let db = var("PGDATABASE").map_or(String::new(), |d| format!("/{d}"));
    format!("{host}:{port}{db}")
}

/// Publishes the GeoPackage `gpkg` of run `run_id` into `spec.schema` (see the module docs).
///
/// # Errors
/// [`Error::Postgis`] naming the server and the step (connect, lock, load, swap, prune); the
/// published schema is then the previous night's.
pub(crate) fn publish(spec: &PostgisSpec, gpkg: &Path, run_id: &str) -> Result<(), Error> {
    let started = Instant::now();
    let host = target(spec);
    let fail = |step: &'static str, message: String| Error::Postgis {
        host: host.clone(),
        step,
        // libpq's first line says what happened; its CONTEXT lines quote our SQL.
        message: crate::gdal_log::clip(message.trim().lines().next().unwrap_or_default()),
    };
    let gdal_fail = |step: &'static str, e: gdal::errors::GdalError| {
        let raised = crate::gdal_log::take();
        fail(
            step,
            raised.last().cloned().unwrap_or_else(|| e.to_string()),
        )
    };
    crate::gdal_log::take();
    let src = Dataset::open_ex(
        gpkg,
        DatasetOptions {
            open_flags: GdalOpenFlags::GDAL_OF_VECTOR | GdalOpenFlags::GDAL_OF_READONLY,
            allowed_drivers: Some(&["GPKG"]),
            ..Default::default()
        },
    )
    .map_err(|e| Error::Read {
        path: gpkg.to_path_buf(),
        layer: String::new(),
        message: e.to_string(),
    })?;
    let connection = match &spec.service {
        Some(s) => format!("PG:service={s}"),
        None => "PG:".to_string(),
    };
    let mut db = Dataset::open_ex(
        &connection,
        DatasetOptions {
            open_flags: GdalOpenFlags::GDAL_OF_VECTOR | GdalOpenFlags::GDAL_OF_UPDATE,
            allowed_drivers: Some(&["PostgreSQL"]),
            ..Default::default()
        },
    )
    .map_err(|e| gdal_fail("connect", e))?;
    let sql = |db: &Dataset, step: &'static str, q: &str| -> Result<(), Error> {
        db.execute_sql(q, None, Dialect::DEFAULT)
            .map(drop)
            .map_err(|e| gdal_fail(step, e))
    };
    sql(&db, "connect", "SET standard_conforming_strings = on")?;

    // A second publish to the same schema waits here, then fails with the lock named.
    let key = literal(&format!("smartgap/{}", spec.schema));
    sql(
        &db,
        "lock",
        &format!("SET lock_timeout = '{}s'", spec.lock_wait_s),
    )?;
    sql(
        &db,
        "lock",
        &format!("DO $$BEGIN PERFORM pg_advisory_lock(hashtextextended({key}, 0)); END$$"),
    )
    .map_err(|e| match e {
        Error::Postgis { host, message, .. } if message.contains("lock timeout") => {
            Error::Postgis {
                host,
                step: "lock",
                message: format!(
                    "another publish to schema {} held the advisory lock for {} s ({message})",
                    spec.schema, spec.lock_wait_s
                ),
            }
        }
        e => e,
    })?;

    let staging_name = staging_schema(&spec.schema);
    let staging = ident(&staging_name);
    sql(
        &db,
        "load",
        &format!("DROP SCHEMA IF EXISTS {staging} CASCADE"),
    )?;
    let (tables, rows) = {
        let mut txn = db.start_transaction().map_err(|e| gdal_fail("load", e))?;
        sql(&txn, "load", &format!("CREATE SCHEMA {staging}"))?;
        let (tables, rows) = load(&src, &mut txn, &staging_name).map_err(|(what, e)| {
            let raised = crate::gdal_log::take();
            fail(
                "load",
                format!(
                    "{what}: {}",
                    raised.last().cloned().unwrap_or_else(|| e.to_string())
                ),
            )
        })?;
        for q in comments(&src, &staging).map_err(|e| fail("load", e.to_string()))? {
            sql(&txn, "comment", &q)?;
        }
        if let Some(role) = &spec.reader_role {
            let role = ident(role);
            sql(
                &txn,
                "grant",
                &format!("GRANT USAGE ON SCHEMA {staging} TO {role}"),
            )?;
            sql(
                &txn,
                "grant",
                &format!("GRANT SELECT ON ALL TABLES IN SCHEMA {staging} TO {role}"),
            )?;
        }
        checkpoint("postgis.loaded");
        txn.commit().map_err(|e| gdal_fail("load", e))?;
        (tables, rows)
    };

    checkpoint("postgis.swapping");
    sql(&db, "swap", &swap_statement(spec, &staging, run_id))?;
    sql(&db, "prune", &prune_statement(spec))?;
    drop(db);
    let ms = started.elapsed().as_millis() as u64;
    tracing::info!(schema = %spec.schema, server = %host, tables, rows, ms, "published to PostGIS");
    Ok(())
}

/// Renames the published schema to its rollback name (its tables locked first, so readers finish)
/// and the staging schema (`staging`, quoted) to the published name, in one statement.
fn swap_statement(spec: &PostgisSpec, staging: &str, run_id: &str) -> String {
    let schema = ident(&spec.schema);
    let prev = ident(&prev_schema(&spec.schema, run_id));
    let name = literal(&spec.schema);
    format!(
        "DO $$DECLARE t text; BEGIN \
         IF EXISTS (SELECT 1 FROM pg_namespace WHERE nspname = {name}) THEN \
           SELECT string_agg(format('%I.%I', schemaname, tablename), ', ') INTO t \
             FROM pg_tables WHERE schemaname = {name}; \
           IF t IS NOT NULL THEN EXECUTE 'LOCK TABLE ' || t || ' IN ACCESS EXCLUSIVE MODE'; END IF; \
           ALTER SCHEMA {schema} RENAME TO {prev}; \
         END IF; \
         ALTER SCHEMA {staging} RENAME TO {schema}; END$$"
    )
}

/// Drops the rollback schemas beyond the newest `keep`.
fn prune_statement(spec: &PostgisSpec) -> String {
    let pattern = literal(&format!("{}_prev_", spec.schema));
    format!(
        "DO $$DECLARE s text; BEGIN \
         FOR s IN SELECT nspname FROM pg_namespace WHERE starts_with(nspname, {pattern}) \
           ORDER BY nspname DESC OFFSET {} LOOP \
           EXECUTE format('DROP SCHEMA %I CASCADE', s); END LOOP; END$$",
        spec.keep
    )
}

/// Copies every layer of `src` into `schema` of `db` (in the caller's transaction), then the
/// GeoPackage's metadata rows as the table `metadata`. Returns (tables, rows).
fn load(
    src: &Dataset,
    db: &mut Dataset,
    schema: &str,
) -> Result<(usize, u64), (String, gdal::errors::GdalError)> {
    let mut tables = 0;
    let mut rows = 0;
    let schema_opt = format!("SCHEMA={schema}");
    for mut layer in src.layers() {
        let name = layer.name();
        let at = |e| (format!("table {name}"), e);
        let srs = layer.spatial_ref();
        let ty = layer
            .defn()
            .geom_fields()
            .next()
            .map_or(gdal::vector::OGRwkbGeometryType::wkbNone, |g| {
                g.field_type()
            });
        let options = [
            schema_opt.as_str(),
            "GEOMETRY_NAME=geom",
            "GEOM_TYPE=geometry",
            "FID=fid",
            "LAUNDER=NO",
            "PRECISION=NO",
            "SPATIAL_INDEX=GIST",
        ];
        let out = db
            .create_layer(LayerOptions {
                name: &name,
                srs: srs.as_ref(),
                ty,
                options: Some(&options),
            })
            .map_err(at)?;
        for field in layer.defn().fields() {
            let f = FieldDefn::new(&field.name(), field.field_type()).map_err(at)?;
            f.set_width(field.width());
            f.set_precision(field.precision());
            f.add_to_layer(&out).map_err(at)?;
        }
        for feature in layer.features() {
            let mut copy = Feature::new(out.defn()).map_err(at)?;
            for (i, (_, value)) in feature.fields().enumerate() {
                if let Some(v) = value {
                    copy.set_field(i, &v).map_err(at)?;
                }
            }
            if let Some(g) = feature.geometry() {
                copy.set_geometry(g.clone()).map_err(at)?;
            }
            copy.create(&out).map_err(at)?;
            rows += 1;
        }
        tables += 1;
    }
    // gpkg_metadata is no OGR layer: its rows are copied by SQL.
    let meta = src
        .execute_sql(
            "SELECT id, md_scope, md_standard_uri, mime_type, metadata FROM gpkg_metadata ORDER BY id",
            None,
            Dialect::SQLITE,
        )
        .ok()
        .flatten();
    if let Some(mut meta) = meta {
        let at = |e| ("table metadata".to_string(), e);
        let mut inserts = vec![format!(
            "CREATE TABLE {}.metadata (id integer PRIMARY KEY, md_scope text NOT NULL, \
             md_standard_uri text NOT NULL, mime_type text NOT NULL, metadata text NOT NULL)",
            ident(schema)
        )];
        for f in meta.features() {
            let text = |i| {
                f.field_as_string(i)
                    .map(|v| literal(&v.unwrap_or_default()))
            };
            inserts.push(format!(
                "INSERT INTO {}.metadata VALUES ({}, {}, {}, {}, {})",
                ident(schema),
                f.field_as_integer64(0).map_err(at)?.unwrap_or(0),
                text(1).map_err(at)?,
                text(2).map_err(at)?,
                text(3).map_err(at)?,
                text(4).map_err(at)?,
            ));
            rows += 1;
        }
        drop(meta);
        for q in inserts {
            db.execute_sql(&q, None, Dialect::DEFAULT).map_err(at)?;
        }
        tables += 1;
    }
    Ok((tables, rows))
}

/// COMMENT ON TABLE / COLUMN statements carrying the GeoPackage's titles and descriptions
/// (`gpkg_contents.identifier` and `description`, `gpkg_data_columns.title` and
/// `description`, which holds the unit), as `title — description`.
fn comments(src: &Dataset, schema: &str) -> Result<Vec<String>, gdal::errors::GdalError> {
    let join = |a: Option<String>, b: Option<String>| {
        let parts: Vec<String> = [a, b]
            .into_iter()
            .flatten()
            .filter(|s| !s.is_empty())
            .collect();
        parts.join(" — ")
    };
    let mut out = Vec::new();
    if let Some(mut rs) = src.execute_sql(
        "SELECT table_name, identifier, description FROM gpkg_contents ORDER BY table_name",
        None,
        Dialect::SQLITE,
    )? {
        for f in rs.features() {
            let table = f.field_as_string(0)?.unwrap_or_default();
            let text = join(f.field_as_string(1)?, f.field_as_string(2)?);
            if !text.is_empty() {
                out.push(format!(
                    "COMMENT ON TABLE {schema}.{} IS {}",
                    ident(&table),
                    literal(&text)
                ));
            }
        }
    }
    if let Some(mut rs) = src
        .execute_sql(
            "SELECT table_name, column_name, title, description FROM gpkg_data_columns \
             ORDER BY table_name, column_name",
            None,
            Dialect::SQLITE,
        )
        .ok()
        .flatten()
    {
        for f in rs.features() {
            let table = f.field_as_string(0)?.unwrap_or_default();
            let column = f.field_as_string(1)?.unwrap_or_default();
            let text = join(f.field_as_string(2)?, f.field_as_string(3)?);
            if !text.is_empty() {
                out.push(format!(
                    "COMMENT ON COLUMN {schema}.{}.{} IS {}",
                    ident(&table),
                    ident(&column),
                    literal(&text)
                ));
            }
        }
    }
    crate::gdal_log::take();
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hostile_names_are_quoted() {
        assert_eq!(
            ident(r#"a"; DROP TABLE x; --"#),
            r#""a""; DROP TABLE x; --""#
        );
        assert_eq!(literal("it's"), "'it''s'");
        assert_eq!(
            prev_schema("smartgap", "20261125T061500Z-1234-2"),
            "smartgap_prev_20261125t061500z_1234_2"
        );
    }
}
