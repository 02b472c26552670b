//! Issue #19: publishing to PostGIS, against a real server. Each test binary run starts one
//! throwaway cluster (initdb into a temp dir, as the `postgres` user when the tests run as
//! root; a unix socket in that dir and a free loopback port with scram passwords), shared by
//! the tests that run at the same time, each in its own database and schema; the last test to
//! finish stops it (also when a test panics) and the temp dir goes with it. The smartgap
//! binary is run as a child with the libpq environment, as cron would.

use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Output, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc::{self, Receiver};
use std::sync::{Arc, Mutex, Weak};
use std::time::Duration;

use gdal::vector::LayerAccess;

use crate::fixtures::grid_dir;

/// A running throwaway PostgreSQL cluster; stopped and deleted when dropped.
struct Cluster {
    dir: tempfile::TempDir,
    port: u16,
    root: bool,
}

static SHARED: Mutex<Weak<Cluster>> = Mutex::new(Weak::new());
static DATABASES: AtomicUsize = AtomicUsize::new(0);

fn pg_bin(name: &str) -> PathBuf {
    let debian = Path::new("/usr/lib/postgresql/15/bin").join(name);
    if debian.exists() {
        return debian;
    }
    let bindir = Command::new("pg_config").arg("--bindir").output();
    match bindir {
        Ok(o) if o.status.success() => {
            Path::new(String::from_utf8_lossy(&o.stdout).trim()).join(name)
        }
        _ => panic!(
            "PostgreSQL 15 is not installed: scripts/setup.sh installs postgresql-15-postgis-3"
        ),
    }
}

fn cluster() -> Arc<Cluster> {
    let mut shared = SHARED.lock().unwrap_or_else(|e| e.into_inner());
    if let Some(c) = shared.upgrade() {
        return c;
    }
    let c = Arc::new(Cluster::start());
    *shared = Arc::downgrade(&c);
    c
}

impl Cluster {
    fn start() -> Cluster {
        let root = Command::new("id")
            .arg("-u")
            .output()
            .is_ok_and(|o| o.stdout.trim_ascii() == b"0");
        let dir = tempfile::Builder::new()
            .prefix("smartgap-pg")
            .tempdir()
            .unwrap();
        if root {
            // PostgreSQL refuses to run as root: the cluster belongs to the `postgres` user.
            let ok = Command::new("chown")
                .args(["postgres"])
                .arg(dir.path())
                .status()
                .unwrap();
            assert!(ok.success(), "chown postgres {}", dir.path().display());
        }
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let c = Cluster { dir, port, root };
        let data = c.dir.path().join("data");
        c.pg(
            "initdb",
            &[
                "-D".as_ref(),
                data.as_os_str(),
                "-U".as_ref(),
                "postgres".as_ref(),
                "--auth-local=trust".as_ref(),
                "--auth-host=scram-sha-256".as_ref(),
                "-E".as_ref(),
                "UTF8".as_ref(),
                "--locale=C".as_ref(),
            ],
        );
        let opts = format!(
            "-c listen_addresses=127.0.0.1 -p {port} -c unix_socket_directories={} -c fsync=off \
             -c synchronous_commit=off -c full_page_writes=off",
            c.dir.path().display()
        );
        c.pg(
            "pg_ctl",
            &[
                "-D".as_ref(),
                data.as_os_str(),
                "-o".as_ref(),
                opts.as_ref(),
                "-l".as_ref(),
                c.dir.path().join("log").as_os_str(),
                "-w".as_ref(),
                "start".as_ref(),
            ],
        );
        c
    }

    /// Runs a PostgreSQL server program (as `postgres` when root), panicking on failure.
    fn pg(&self, name: &str, args: &[&std::ffi::OsStr]) {
        let mut cmd = if self.root {
            let mut c = Command::new("runuser");
            c.args(["-u", "postgres", "--"]).arg(pg_bin(name));
            c
        } else {
            Command::new(pg_bin(name))
        };
        let o = cmd
            .args(args)
            .current_dir(self.dir.path())
            .output()
            .unwrap();
        assert!(
            o.status.success(),
            "{name}: {}{}",
            String::from_utf8_lossy(&o.stdout),
            String::from_utf8_lossy(&o.stderr)
        );
    }

    /// libpq's environment for database `db` over the unix socket, as the superuser.
    fn env(&self, db: &str) -> Vec<(String, String)> {
        vec![
            ("PGHOST".into(), self.dir.path().display().to_string()),
            ("PGPORT".into(), self.port.to_string()),
            ("PGUSER".into(), "postgres".into()),
            ("PGDATABASE".into(), db.into()),
        ]
    }

    /// A fresh database with PostGIS and the role `reader`.
    fn database(&self) -> String {
        let db = format!(
            "t{}_{}",
            std::process::id(),
            DATABASES.fetch_add(1, Ordering::SeqCst)
        );
        self.psql("postgres", &format!("CREATE DATABASE {db}"));
        self.psql(&db, "CREATE EXTENSION postgis");
        self.psql(
            "postgres",
            "DO $$BEGIN IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'reader') \
             THEN CREATE ROLE reader; END IF; \
             EXCEPTION WHEN duplicate_object OR unique_violation THEN NULL; END$$",
        );
        db
    }

    /// Runs `sql` in `db` and returns psql's unaligned output lines (panics on an error).
    fn psql(&self, db: &str, sql: &str) -> Vec<String> {
        let o = Command::new(pg_bin("psql"))
            .args(["-X", "-At", "-v", "ON_ERROR_STOP=1", "-c", sql])
            .envs(self.env(db))
            .output()
            .unwrap();
        assert!(
            o.status.success(),
            "{sql}: {}",
            String::from_utf8_lossy(&o.stderr)
        );
        String::from_utf8_lossy(&o.stdout)
            .lines()
            .map(str::to_string)
            .collect()
    }

    fn one(&self, db: &str, sql: &str) -> String {
        self.psql(db, sql).join("\n")
    }

    /// An interactive psql session (a reader holding a transaction open).
    fn session(&self, db: &str) -> Session {
        let mut child = Command::new(pg_bin("psql"))
            .args(["-X", "-At", "-q"])
            .envs(self.env(db))
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let stdin = child.stdin.take().unwrap();
        let stdout = child.stdout.take().unwrap();
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                let _ = tx.send(line);
            }
        });
        Session { child, stdin, rx }
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        let data = self.dir.path().join("data");
        let mut cmd = if self.root {
            let mut c = Command::new("runuser");
            c.args(["-u", "postgres", "--"]).arg(pg_bin("pg_ctl"));
            c
        } else {
            Command::new(pg_bin("pg_ctl"))
        };
        let _ = cmd
            .arg("-D")
            .arg(&data)
            .args(["-m", "immediate", "-w", "stop"])
            .current_dir(self.dir.path())
            .output();
    }
}

struct Session {
    child: Child,
    stdin: ChildStdin,
    rx: Receiver<String>,
}

impl Session {
    fn query(&mut self, sql: &str) -> Vec<String> {
        writeln!(self.stdin, "{sql}\n\\echo __done__").unwrap();
        self.stdin.flush().unwrap();
        let mut lines = Vec::new();
        loop {
            let line = self.rx.recv_timeout(Duration::from_secs(30)).unwrap();
            if line == "__done__" {
                return lines;
            }
            lines.push(line);
        }
    }
}

impl Drop for Session {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn smartgap(dir: &Path, env: &[(String, String)], args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_smartgap"))
        .args(["--log-level", "warn"])
        .args(args)
        .envs(env.iter().cloned())
        .env_remove("PGPASSWORD")
        .env_remove("PGSERVICE")
        .current_dir(dir)
        .output()
        .unwrap()
}

fn text(o: &Output) -> String {
    format!(
        "status {:?}\n{}{}",
        o.status,
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

/// The grid fixture with a `[publish.postgis]` section (`extra` is added to it).
fn grid_with_postgis(schema: &str, extra: &str) -> tempfile::TempDir {
    let dir = grid_dir();
    let toml = dir.path().join("grid.toml");
    let mut text = std::fs::read_to_string(&toml).unwrap();
    text.push_str(&format!(
        "\n[publish.postgis]\nschema = \"{schema}\"\nreader_role = \"reader\"\n{extra}\n"
    ));
    std::fs::write(&toml, text).unwrap();
    dir
}

/// What a reader of the published schema sees: rows and KRW per table and the run id in the
/// manifest.
fn snapshot(c: &Cluster, db: &str, schema: &str) -> Vec<String> {
    let mut v = c.psql(
        db,
        &format!(
            "SELECT table_name FROM information_schema.tables WHERE table_schema = '{schema}' \
             ORDER BY 1"
        ),
    );
    for t in v.clone() {
        v.push(c.one(db, &format!("SELECT count(*) FROM {schema}.{t}")));
    }
    v.extend(c.psql(
        db,
        &format!("SELECT sum(amount_krw)::text FROM {schema}.emd"),
    ));
    v.extend(c.psql(
        db,
        &format!("SELECT metadata::json->>'run_id' FROM {schema}.metadata WHERE id = 1"),
    ));
    v
}

fn schemas(c: &Cluster, db: &str, prefix: &str) -> Vec<String> {
    c.psql(
        db,
        &format!(
            "SELECT nspname FROM pg_namespace WHERE starts_with(nspname, '{prefix}') ORDER BY 1"
        ),
    )
}

/// (rows, Σ of every integer `*_krw` column) of each layer of a GeoPackage.
/// A layer's name, rows and (column, Σ KRW) pairs.
type LayerTotals = (String, u64, Vec<(String, i128)>);

fn gpkg_totals(path: &Path) -> Vec<LayerTotals> {
    let ds = gdal::Dataset::open(path).unwrap();
    let mut out = Vec::new();
    for mut layer in ds.layers() {
        let cols: Vec<(usize, String)> = layer
            .defn()
            .fields()
            .enumerate()
            .filter(|(_, f)| {
                f.name().ends_with("_krw")
                    && matches!(
                        f.field_type(),
                        gdal::vector::OGRFieldType::OFTInteger64
                            | gdal::vector::OGRFieldType::OFTInteger
                    )
            })
            .map(|(i, f)| (i, f.name()))
            .collect();
        let mut sums = vec![0i128; cols.len()];
        let mut rows = 0;
        for f in layer.features() {
            rows += 1;
            for (k, (i, _)) in cols.iter().enumerate() {
                sums[k] += i128::from(f.field_as_integer64(*i).unwrap().unwrap_or(0));
            }
        }
        let sums = cols.into_iter().map(|(_, n)| n).zip(sums).collect();
        out.push((layer.name(), rows, sums));
    }
    out
}

#[test]
fn national_run_in_postgis_equals_its_geopackage() {
    let c = cluster();
    let db = c.database();
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let dir = tempfile::tempdir().unwrap();
    let text = std::fs::read_to_string(root.join("pipelines/national.toml"))
        .unwrap()
        .replace("output_dir = \"../out\"", "output_dir = \"out\"")
        .replace("\"../data", &format!("\"{}/data", root.display()))
        .replacen(
            "name = \"national\"",
            &format!(
                "name = \"national\"\nroots = [\"{}/data\", \"{}\"]",
                root.display(),
                dir.path().display()
            ),
            1,
        );
    std::fs::write(
        dir.path().join("national.toml"),
        format!("{text}\n[publish.postgis]\nschema = \"national\"\nreader_role = \"reader\"\n"),
    )
    .unwrap();
    let o = smartgap(dir.path(), &c.env(&db), &["run", "national.toml"]);
    assert!(o.status.success(), "{}", text_of(&o));
    let gpkg = dir.path().join("out/smartgap.gpkg");
    let totals = gpkg_totals(&gpkg);
    assert!(totals.iter().any(|(l, n, _)| l == "emd" && *n == 5_011));
    for (layer, rows, sums) in &totals {
        let mut select = vec!["count(*)::text".to_string()];
        select.extend(
            sums.iter()
                .map(|(col, _)| format!("coalesce(sum({col}), 0)::text")),
        );
        let got = c.one(
            &db,
            &format!(
                "SELECT {} FROM national.{layer}",
                select.join(" || ' ' || ")
            ),
        );
        let mut want = vec![rows.to_string()];
        want.extend(sums.iter().map(|(_, s)| s.to_string()));
        assert_eq!(got, want.join(" "), "{layer}: rows and KRW totals");
        // Every region layer: valid geometry in EPSG:5179, a GiST index, the fid key, and
        // the GeoPackage's title as the table's comment; the reader may select.
        if ["sido", "sigungu", "emd", "region_group"].contains(&layer.as_str()) {
            assert_eq!(
                c.one(
                    &db,
                    &format!(
                        "SELECT bool_and(ST_IsValid(geom)), min(ST_SRID(geom)), \
                         max(ST_SRID(geom)) FROM national.{layer}"
                    )
                ),
                "t|5179|5179",
                "{layer}"
            );
            assert_eq!(
                c.one(
                    &db,
                    &format!(
                        "SELECT count(*) FROM pg_indexes WHERE schemaname = 'national' AND \
                         tablename = '{layer}' AND indexdef LIKE '%USING gist%'"
                    )
                ),
                "1"
            );
        }
        assert_eq!(
            c.one(
                &db,
                &format!("SELECT has_table_privilege('reader', 'national.{layer}', 'SELECT')")
            ),
            "t"
        );
    }
    let ds = gdal::Dataset::open(&gpkg).unwrap();
    let mut rs = ds
        .execute_sql(
            "SELECT identifier, description FROM gpkg_contents WHERE table_name = 'emd'",
            None,
            gdal::vector::sql::Dialect::SQLITE,
        )
        .unwrap()
        .unwrap();
    let f = rs.features().next().unwrap();
    let title = format!(
        "{} — {}",
        f.field_as_string(0).unwrap().unwrap(),
        f.field_as_string(1).unwrap().unwrap()
    );
    assert_eq!(
        c.one(&db, "SELECT obj_description('national.emd'::regclass)"),
        title
    );
    let unit = c.one(
        &db,
        "SELECT col_description('national.emd'::regclass, attnum) FROM pg_attribute \
         WHERE attrelid = 'national.emd'::regclass AND attname = 'amount_krw'",
    );
    assert!(unit.contains("KRW"), "{unit}");
    assert_eq!(
        c.one(&db, "SELECT count(*) FROM national.metadata"),
        "2",
        "the manifest and the licences"
    );
}

fn text_of(o: &Output) -> String {
    text(o)
}

#[test]
fn republishing_keeps_the_previous_night_and_drops_older_ones() {
    let c = cluster();
    let db = c.database();
    let dir = grid_with_postgis("rep", "keep = 1");
    let env = c.env(&db);
    let mut runs = Vec::new();
    for _ in 0..3 {
        let o = smartgap(dir.path(), &env, &["run", "--force", "grid.toml"]);
        assert!(o.status.success(), "{}", text(&o));
        runs.push(snapshot(&c, &db, "rep").last().unwrap().clone());
        // Run ids are per second.
        std::thread::sleep(Duration::from_millis(1100));
    }
    let prev = schemas(&c, &db, "rep_");
    assert_eq!(prev.len(), 1, "{prev:?}");
    assert_eq!(
        c.one(
            &db,
            &format!(
                "SELECT metadata::json->>'run_id' FROM {}.metadata WHERE id = 1",
                prev[0]
            )
        ),
        runs[1],
        "the night before is kept for rollback"
    );
    // Published to both: the next night over unchanged inputs is skipped.
    let o = smartgap(dir.path(), &env, &["run", "grid.toml"]);
    assert!(
        String::from_utf8_lossy(&o.stdout).contains("nothing changed"),
        "{}",
        text(&o)
    );
}

#[test]
fn sigkill_during_the_database_publish_leaves_the_published_schema() {
    let c = cluster();
    let db = c.database();
    let dir = grid_with_postgis("killed", "");
    let env = c.env(&db);
    let o = smartgap(dir.path(), &env, &["run", "grid.toml"]);
    assert!(o.status.success(), "{}", text(&o));
    let before = snapshot(&c, &db, "killed");
    for point in ["postgis.loaded", "postgis.swapping"] {
        std::thread::sleep(Duration::from_millis(1100));
        let mut child = Command::new(env!("CARGO_BIN_EXE_smartgap"))
            .args(["--log-level", "error", "run", "--force", "grid.toml"])
            .envs(env.iter().cloned())
            .env("SMARTGAP_PAUSE_AT", point)
            .current_dir(dir.path())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let stderr = child.stderr.take().unwrap();
        let wanted = format!("smartgap: paused at {point}");
        let paused = BufReader::new(stderr)
            .lines()
            .map_while(Result::ok)
            .any(|l| l == wanted);
        assert!(paused, "never paused at {point}");
        child.kill().unwrap();
        let _ = child.wait();
        assert_eq!(snapshot(&c, &db, "killed"), before, "{point}");
    }
    // The files of the killed runs were published, the database's not: the next night runs
    // again without --force and brings the database level.
    let o = smartgap(dir.path(), &env, &["run", "grid.toml"]);
    assert!(o.status.success(), "{}", text(&o));
    assert!(!String::from_utf8_lossy(&o.stdout).contains("nothing changed"));
    let after = snapshot(&c, &db, "killed");
    assert_ne!(after.last(), before.last());
    assert_eq!(after[..after.len() - 1], before[..before.len() - 1]);
    assert!(schemas(&c, &db, "killed_staging").is_empty());
}

#[test]
fn a_server_that_is_down_fails_the_night_after_the_files_are_published() {
    let dir = grid_with_postgis("down", "");
    let nowhere = tempfile::tempdir().unwrap();
    let env = vec![
        ("PGHOST".to_string(), nowhere.path().display().to_string()),
        ("PGPORT".to_string(), "5999".to_string()),
        ("PGUSER".to_string(), "nobody".to_string()),
    ];
    let o = smartgap(dir.path(), &env, &["run", "grid.toml"]);
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains(&format!("{}:5999", nowhere.path().display())) && err.contains("connect"),
        "{err}"
    );
    assert!(dir.path().join("out/run.json").exists());
    assert!(dir.path().join("out/geojson/emd.geojson").exists());
    // Not skipped the next night although nothing changed.
    let o = smartgap(dir.path(), &env, &["run", "grid.toml"]);
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    assert!(!String::from_utf8_lossy(&o.stdout).contains("nothing changed"));
}

#[test]
fn a_wrong_password_is_refused_and_never_printed_and_a_pgpass_file_works() {
    let c = cluster();
    let db = c.database();
    c.psql(
        "postgres",
        "DO $$BEGIN IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'publisher') THEN \
         CREATE ROLE publisher LOGIN PASSWORD 'right-secret'; END IF; \
         EXCEPTION WHEN duplicate_object OR unique_violation THEN NULL; END$$",
    );
    c.psql(
        "postgres",
        &format!("ALTER DATABASE {db} OWNER TO publisher"),
    );
    c.psql("postgres", "GRANT reader TO publisher");
    let dir = grid_with_postgis("pw", "");
    let pgpass = dir.path().join("pgpass");
    let tcp = |file: &str| {
        vec![
            ("PGHOST".to_string(), "127.0.0.1".to_string()),
            ("PGPORT".to_string(), c.port.to_string()),
            ("PGUSER".to_string(), "publisher".to_string()),
            ("PGDATABASE".to_string(), db.clone()),
            ("PGPASSFILE".to_string(), file.to_string()),
        ]
    };
    let write_pgpass = |secret: &str| {
        std::fs::write(
            &pgpass,
            format!("127.0.0.1:{}:*:publisher:{secret}\n", c.port),
        )
        .unwrap();
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&pgpass, std::fs::Permissions::from_mode(0o600)).unwrap();
    };
    write_pgpass("wrong-secret");
    let o = smartgap(
        dir.path(),
        &tcp(&pgpass.display().to_string()),
        &["run", "grid.toml"],
    );
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    let out = text(&o);
    assert!(
        out.contains(&format!("127.0.0.1:{}", c.port)) && out.contains("connect"),
        "{out}"
    );
    assert!(!out.contains("secret"), "{out}");
    let run_json = std::fs::read_to_string(dir.path().join("out/run.json")).unwrap();
    assert!(!run_json.contains("secret"));
    write_pgpass("right-secret");
    let o = smartgap(
        dir.path(),
        &tcp(&pgpass.display().to_string()),
        &["run", "grid.toml"],
    );
    assert!(o.status.success(), "{}", text(&o));
    assert_eq!(c.one(&db, "SELECT count(*) FROM pw.emd"), "9");
}

#[test]
fn a_reader_in_a_transaction_keeps_the_old_night_and_the_swap_waits_for_it() {
    let c = cluster();
    let db = c.database();
    let dir = grid_with_postgis("swap", "");
    let env = c.env(&db);
    let o = smartgap(dir.path(), &env, &["run", "grid.toml"]);
    assert!(o.status.success(), "{}", text(&o));
    let read = "SELECT (SELECT sum(amount_krw) FROM swap.emd)::text || ' ' || \
                (SELECT count(*) FROM swap.assignments)::text || ' ' || \
                (SELECT sum(amount_krw) FROM swap.sido)::text;";
    let mut reader = c.session(&db);
    reader.query("BEGIN ISOLATION LEVEL REPEATABLE READ;");
    let old = reader.query(read);
    // A new night with one more record.
    let codes = dir.path().join("codes.csv");
    let mut text_codes = std::fs::read_to_string(&codes).unwrap();
    text_codes.push_str("c9,26010,5000\n");
    std::fs::write(&codes, text_codes).unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_smartgap"))
        .args(["--log-level", "warn", "run", "grid.toml"])
        .envs(env.iter().cloned())
        .current_dir(dir.path())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    // The swap waits for the reader's locks on the published tables.
    let mut waited = false;
    for _ in 0..600 {
        let waiting = c.one(
            "postgres",
            &format!(
                "SELECT count(*) FROM pg_stat_activity WHERE datname = '{db}' \
                 AND wait_event_type = 'Lock'"
            ),
        );
        if waiting != "0" {
            waited = true;
            break;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    assert!(waited, "the swap never waited for the reader");
    assert_eq!(reader.query(read), old, "the reader sees the old night");
    assert!(child.try_wait().unwrap().is_none());
    reader.query("COMMIT;");
    assert!(child.wait().unwrap().success());
    let new = reader.query(read);
    assert_ne!(new, old);
    // Not a mix: every table is the new night's, as its GeoPackage has it.
    let totals = gpkg_totals(&dir.path().join("out/smartgap.gpkg"));
    let krw = |layer: &str| {
        let (_, rows, sums) = totals.iter().find(|(l, _, _)| l == layer).unwrap();
        let amount = sums
            .iter()
            .find(|(c, _)| c == "amount_krw")
            .map_or(0, |s| s.1);
        (*rows, amount)
    };
    assert_eq!(
        new,
        [format!(
            "{} {} {}",
            krw("emd").1,
            krw("assignments").0,
            krw("sido").1
        )]
    );
}

#[test]
fn hostile_identifiers_are_refused_or_quoted() {
    let c = cluster();
    let db = c.database();
    // A schema must be a plain identifier: refused before anything runs (exit 2).
    let dir = grid_with_postgis(r#"x\"; DROP SCHEMA public CASCADE; --"#, "");
    let o = smartgap(dir.path(), &c.env(&db), &["run", "grid.toml"]);
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    assert!(text(&o).contains("not a plain identifier"), "{}", text(&o));
    // A role may be named anything: it is quoted.
    let role = r#"r"; DROP TABLE public.canary; --"#;
    c.psql(&db, "CREATE TABLE public.canary (x int)");
    c.psql(
        "postgres",
        "DO $$BEGIN IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'r\"; DROP TABLE public.canary; --') \
         THEN CREATE ROLE \"r\"\"; DROP TABLE public.canary; --\"; END IF; \
         EXCEPTION WHEN duplicate_object OR unique_violation THEN NULL; END$$",
    );
    let dir = grid_dir();
    let toml = dir.path().join("grid.toml");
    let mut t = std::fs::read_to_string(&toml).unwrap();
    t.push_str(&format!(
        "\n[publish.postgis]\nschema = \"hostile\"\nreader_role = '{role}'\n"
    ));
    std::fs::write(&toml, t).unwrap();
    let o = smartgap(dir.path(), &c.env(&db), &["run", "grid.toml"]);
    assert!(o.status.success(), "{}", text(&o));
    assert_eq!(c.one(&db, "SELECT count(*) FROM public.canary"), "0");
    assert_eq!(
        c.one(
            &db,
            &format!(
                "SELECT has_table_privilege({}, 'hostile.emd', 'SELECT')",
                smartgap::postgis::literal(role)
            )
        ),
        "t"
    );
}

#[test]
fn a_second_publish_waits_for_the_lock_then_fails_clearly() {
    let c = cluster();
    let db = c.database();
    let dir = grid_with_postgis("locked", "lock_wait_s = 1");
    let mut holder = c.session(&db);
    holder.query("SELECT pg_advisory_lock(hashtextextended('smartgap/locked', 0));");
    let o = smartgap(dir.path(), &c.env(&db), &["run", "grid.toml"]);
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    let out = text(&o);
    assert!(out.contains("lock: another publish"), "{out}");
    holder.query("SELECT pg_advisory_unlock_all();");
    let o = smartgap(dir.path(), &c.env(&db), &["run", "grid.toml"]);
    assert!(o.status.success(), "{}", text(&o));
}
