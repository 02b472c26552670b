//! Safe publishing of a run's outputs.
//!
//! Layout of the output directory:
//! ```text
//! out/.smartgap.lock          held (flock) for the whole run; a second run exits at once
//! out/runs/<run-id>/          one complete run: smartgap.gpkg, smartgap.qgs, geojson/, run.json
//! out/current -> runs/<id>    swapped atomically (rename of a symlink) when a run succeeds
//! out/smartgap.gpkg -> current/smartgap.gpkg, out/smartgap.qgs -> current/smartgap.qgs,
//! out/geojson -> current/geojson,
//! out/run.json -> current/run.json, out/summary.json -> current/summary.json
//! ```
//! A run writes into `runs/.staging-<id>/`, closes and syncs every file, renames the staging
//! directory to `runs/<id>` and only then swaps `current`. A run that fails or is killed at
//! any moment leaves `current`, and so every published path, on the previous complete run.

use std::fs::{self, File, TryLockError};
use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

use crate::config::Pipeline;
use crate::error::Error;
use crate::progress::checkpoint;
use crate::read;

/// The published names, each a symlink through `current`.
const PUBLISHED: [&str; 11] = [
    "smartgap.gpkg",
    "smartgap.qgs",
    "geojson",
    "run.json",
    "summary.json",
    "weights",
    "report.html",
    "maps",
    "map.html",
    "web",
    "state.json",
];

/// An exclusive lock on an output directory, released when dropped (or when the process dies).
#[derive(Debug)]
pub struct Lock {
    _file: File,
}

/// Takes the output directory's lock, creating the directory if needed.
pub fn lock(out: &Path) -> Result<Lock, Error> {
    let werr = |path: &Path, e: std::io::Error| Error::write_io(path, &e);
    fs::create_dir_all(out).map_err(|e| werr(out, e))?;
    let path = out.join(".smartgap.lock");
    let file = fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .read(true)
        .write(true)
        .open(&path)
        .map_err(|e| werr(&path, e))?;
    match file.try_lock() {
        Ok(()) => {}
        Err(TryLockError::WouldBlock) => {
            let holder = fs::read_to_string(&path).unwrap_or_default();
            let holder = holder.split_whitespace().collect::<Vec<_>>().join(" ");
            return Err(Error::Locked {
                path,
                holder: if holder.is_empty() {
                    String::new()
                } else {
                    format!(" ({holder})")
                },
            });
        }
        Err(TryLockError::Error(e)) => return Err(werr(&path, e)),
    }
    // The holder's pid is written over the previous one in one fixed-width write, never after
    // a truncation: a run that finds the lock taken always reads a whole pid.
    let pid = format!("pid {:>10}\n", std::process::id());
    use std::os::unix::fs::FileExt;
    file.write_all_at(pid.as_bytes(), 0)
        .and_then(|()| file.set_len(pid.len() as u64))
        .map_err(|e| werr(&path, e))?;
    Ok(Lock { _file: file })
}

/// A run identifier that sorts by time: `20261125T061500Z-1234`.
fn run_id() -> String {
    let secs = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    // A second run of the same process within the same second gets a sequence number.
    static RUNS: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    static LAST: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let base = format!("{}-{}", utc_compact(secs), std::process::id());
    if LAST.swap(secs, std::sync::atomic::Ordering::SeqCst) == secs {
        let n = RUNS.fetch_add(1, std::sync::atomic::Ordering::SeqCst) + 2;
        format!("{base}-{n}")
    } else {
        RUNS.store(0, std::sync::atomic::Ordering::SeqCst);
        base
    }
}

/// `YYYYMMDDTHHMMSSZ` for seconds since the Unix epoch (proleptic Gregorian, UTC).
fn utc_compact(secs: u64) -> String {
    let (y, m, d) = civil_from_days((secs / 86_400) as i64);
    let s = secs % 86_400;
    format!(
        "{y:04}{m:02}{d:02}T{:02}{:02}{:02}Z",
        s / 3600,
        s / 60 % 60,
        s % 60
    )
}

/// Howard Hinnant's days → (year, month, day).
fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (yoe + era * 400 + i64::from(m <= 2), m, d)
}

/// Failed runs (`runs/<id>.failed`) kept for inspection, the newest first; they do not count
/// against `keep_runs`, which counts complete runs only.
const KEEP_FAILED: usize = 2;

/// Removes what killed or failed runs left, under the lock (so no other run is live): staging
/// directories, failed runs beyond the newest [`KEEP_FAILED`], temporary links beside the
/// published names (`.current-<id>`, `.<name>-<id>`) and temporary cache files
/// (`cache/*.tmp-<pid>`). Best effort: what cannot be removed is logged and left.
pub(crate) fn tidy(out: &Path) {
    let remove = |path: &Path, dir: bool| {
        let r = if dir {
            fs::remove_dir_all(path)
        } else {
            fs::remove_file(path)
        };
        match r {
            Ok(()) => tracing::debug!(path = %path.display(), "removed a killed run's leftover"),
            Err(e) => {
                tracing::warn!(path = %path.display(), error = %e, "cannot remove a leftover")
            }
        }
    };
    let names = |dir: &Path| -> Vec<String> {
        let mut v: Vec<String> = fs::read_dir(dir)
            .into_iter()
            .flatten()
            .flatten()
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .collect();
        v.sort();
        v
    };
    let runs = out.join("runs");
    let mut failed = Vec::new();
    for name in names(&runs) {
        if name.starts_with(".staging-") {
            remove(&runs.join(&name), true);
        } else if name.ends_with(".failed") && is_run_dir(&name) {
            failed.push(name);
        }
    }
    for name in failed.iter().rev().skip(KEEP_FAILED) {
        remove(&runs.join(name), true);
    }
    for name in names(out) {
        // `.current-<id>` and `.<published name>-<id>`: links made to be renamed into place.
        let temp_link = name.strip_prefix('.').is_some_and(|rest| {
            std::iter::once("current")
                .chain(PUBLISHED)
                .filter_map(|link| rest.strip_prefix(link)?.strip_prefix('-'))
                .any(|id| is_run_dir(id) && !id.ends_with(".failed"))
        });
        let path = out.join(&name);
        if temp_link && path.is_symlink() {
            remove(&path, false);
        }
    }
    let cache = out.join("cache");
    for name in names(&cache) {
        if name
            .rsplit_once(".tmp-")
            .is_some_and(|(_, pid)| !pid.is_empty() && pid.bytes().all(|b| b.is_ascii_digit()))
        {
            remove(&cache.join(name), false);
        }
    }
}

/// A staging directory for one run, under `out/runs/`. Dropped without being published or
/// kept by [`Staging::fail`] (an error on any path between staging and publishing, or a
/// panic), it is removed: a failed run leaves no `runs/.staging-*` behind. (A killed run's
/// are removed by the next run's [`tidy`].)
pub(crate) struct Staging {
    pub(crate) id: String,
    pub(crate) dir: PathBuf,
    out: PathBuf,
    /// Set once the directory is the failed run's, kept for inspection.
    kept: bool,
}

impl Drop for Staging {
    fn drop(&mut self) {
        // After `publish` renamed it, nothing is left here to remove.
        if !self.kept
            && self.dir.exists()
            && let Err(e) = fs::remove_dir_all(&self.dir)
        {
            tracing::warn!(dir = %self.dir.display(), "removing the staging folder: {e}");
        }
    }
}

/// Creates a fresh staging directory (after [`tidy`] removed those of killed runs).
pub(crate) fn stage(out: &Path) -> Result<Staging, Error> {
    let runs = out.join("runs");
    let werr = |path: &Path, e: std::io::Error| Error::write_io(path, &e);
    fs::create_dir_all(&runs).map_err(|e| werr(&runs, e))?;
    let id = run_id();
    let dir = runs.join(format!(".staging-{id}"));
    fs::create_dir_all(dir.join("geojson")).map_err(|e| werr(&dir, e))?;
    Ok(Staging {
        id,
        dir,
        out: out.to_path_buf(),
        kept: false,
    })
}

impl Staging {
    /// Makes the staged run the published one. Returns the final run directory.
    ///
    /// Never deletes or overwrites anything smartgap did not create: a real file or directory
    /// where a published link belongs stops the run before anything is published.
    pub(crate) fn publish(self, keep_runs: usize) -> Result<PathBuf, Error> {
        let werr = |path: &Path, e: std::io::Error| Error::write_io(path, &e);
        for name in PUBLISHED.iter().chain(&["current"]) {
            let p = self.out.join(name);
            if p.exists() && !p.is_symlink() {
                return Err(Error::Write {
                    path: p,
                    message: "exists and is not smartgap's link; move it away or choose another output_dir (nothing was published)".into(),
                });
            }
        }
        let t = std::time::Instant::now();
        sync_tree(&self.dir).map_err(|e| werr(&self.dir, e))?;
        tracing::debug!(ms = t.elapsed().as_millis() as u64, "synced");
        checkpoint("publish.synced");
        let final_dir = self.out.join("runs").join(&self.id);
        fs::rename(&self.dir, &final_dir).map_err(|e| werr(&final_dir, e))?;
        sync_dir(&self.out.join("runs")).map_err(|e| werr(&self.out, e))?;
        checkpoint("publish.renamed");
        // Swap `current` atomically: a new symlink renamed over the old one.
        let tmp = self.out.join(format!(".current-{}", self.id));
        let _ = fs::remove_file(&tmp);
        std::os::unix::fs::symlink(Path::new("runs").join(&self.id), &tmp)
            .map_err(|e| werr(&tmp, e))?;
        let current = self.out.join("current");
        fs::rename(&tmp, &current).map_err(|e| werr(&current, e))?;
        checkpoint("publish.swapped");
        for name in PUBLISHED {
            let link = self.out.join(name);
            let target = Path::new("current").join(name);
            if fs::read_link(&link).ok().as_deref() == Some(target.as_path()) {
                continue;
            }
            // A first run (checked above: no foreign file stands here): create the link.
            let tmp = self.out.join(format!(".{name}-{}", self.id));
            let _ = fs::remove_file(&tmp);
            std::os::unix::fs::symlink(&target, &tmp).map_err(|e| werr(&tmp, e))?;
            fs::rename(&tmp, &link).map_err(|e| werr(&link, e))?;
        }
        sync_dir(&self.out).map_err(|e| werr(&self.out, e))?;
        checkpoint("publish.linked");
        let t = std::time::Instant::now();
        prune(&self.out.join("runs"), keep_runs, &self.id);
        tracing::debug!(ms = t.elapsed().as_millis() as u64, "pruned");
        Ok(final_dir)
    }

    /// Keeps a failed run's outputs for inspection as `runs/<id>.failed`.
    pub(crate) fn fail(mut self) -> PathBuf {
        let failed = self.out.join("runs").join(format!("{}.failed", self.id));
        self.kept = true;
        match fs::rename(&self.dir, &failed) {
            Ok(()) => failed,
            Err(_) => self.dir.clone(),
        }
    }
}

/// Whether a name under `runs/` is one of smartgap's run directories (`<id>` or `<id>.failed`,
/// id = `YYYYMMDDTHHMMSSZ-<pid>`, or `…-<pid>-<n>` for a second run in the same second):
/// nothing else there is ever deleted.
fn is_run_dir(name: &str) -> bool {
    let id = name.strip_suffix(".failed").unwrap_or(name);
    let b = id.as_bytes();
    b.len() > 17
        && b[..8].iter().all(u8::is_ascii_digit)
        && b[8] == b'T'
        && b[9..15].iter().all(u8::is_ascii_digit)
        && &b[15..17] == b"Z-"
        && b[17].is_ascii_digit()
        && b[17..].iter().all(|c| c.is_ascii_digit() || *c == b'-')
}

/// Deletes all but the newest `keep` complete run directories (never the current one; failed
/// runs are [`tidy`]'s).
fn prune(runs: &Path, keep: usize, current: &str) {
    let Ok(entries) = fs::read_dir(runs) else {
        return;
    };
    let mut ids: Vec<String> = entries
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| is_run_dir(n) && !n.ends_with(".failed"))
        .collect();
    ids.sort();
    let n = ids.len();
    for id in ids.into_iter().take(n.saturating_sub(keep)) {
        if id != current {
            let _ = fs::remove_dir_all(runs.join(id));
        }
    }
}

fn sync_tree(dir: &Path) -> std::io::Result<()> {
    for e in fs::read_dir(dir)? {
        let e = e?;
        if e.file_type()?.is_dir() {
            sync_tree(&e.path())?;
        } else {
            File::open(e.path())?.sync_all()?;
        }
    }
    sync_dir(dir)
}

fn sync_dir(dir: &Path) -> std::io::Result<()> {
    File::open(dir)?.sync_all()
}

/// The fingerprint of a run: smartgap's version and commit, the resolved config and the sha256
/// of every file it reads.
///
/// # Errors
/// A file that cannot be hashed.
pub(crate) fn fingerprint(p: &Pipeline) -> Result<String, Error> {
    use sha2::{Digest, Sha256};
    let mut h = Sha256::new();
    h.update(crate::VERSION.as_bytes());
    h.update(crate::GIT_COMMIT.as_bytes());
    let config =
        serde_json::to_string(p).map_err(|e| Error::Invariant(format!("config to JSON: {e}")))?;
    h.update(config.as_bytes());
    let mut files = vec![p.boundaries.path.clone()];
    files.extend(p.region_groups.as_ref().map(|g| g.path.clone()));
    files.extend(p.crosswalk.clone());
    files.extend(p.boundaries.successions.clone());
    files.extend(p.inputs.iter().map(|i| i.path.clone()));
    for f in files {
        h.update(read::checksum(&f)?.as_bytes());
    }
    Ok(h.finalize().iter().map(|b| format!("{b:02x}")).collect())
}

/// The run id of the published run when its fingerprint is `fingerprint`: the night has
/// nothing new to do.
pub(crate) fn unchanged(out: &Path, fingerprint: &str) -> Option<String> {
    let text = fs::read_to_string(out.join("run.json")).ok()?;
    let prev: serde_json::Value = serde_json::from_str(&text).ok()?;
    (prev["fingerprint"].as_str() == Some(fingerprint))
        .then(|| prev["run_id"].as_str().unwrap_or("?").to_string())
}

/// The file that records the run last published to PostGIS (written only after its swap).
const POSTGIS_MARK: &str = ".postgis-published";

/// The run id last published to PostGIS from `out`, if any.
pub(crate) fn postgis_published(out: &Path) -> Option<String> {
    let text = fs::read_to_string(out.join(POSTGIS_MARK)).ok()?;
    Some(text.trim().to_string()).filter(|t| !t.is_empty())
}

/// Records that run `run_id` is the one in PostGIS (written aside and renamed into place).
///
/// # Errors
/// The mark cannot be written.
pub(crate) fn mark_postgis(out: &Path, run_id: &str) -> Result<(), Error> {
    let path = out.join(POSTGIS_MARK);
    let tmp = out.join(format!("{POSTGIS_MARK}.tmp-{}", std::process::id()));
    fs::write(&tmp, format!("{run_id}\n"))
        .and_then(|()| fs::rename(&tmp, &path))
        .map_err(|e| Error::write_io(&path, &e))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_run_directories_are_pruned() {
        assert!(is_run_dir("20261125T061500Z-1234"));
        assert!(is_run_dir("20261125T061500Z-1234.failed"));
        assert!(!is_run_dir("my-notes"));
        assert!(!is_run_dir(".staging-20261125T061500Z-1234"));
        assert!(!is_run_dir("20261125T061500Z-"));
        assert!(
            is_run_dir("20261125T061500Z-1234-2"),
            "a second run in the same second"
        );
        assert!(!is_run_dir("20261125T061500Z--2"));
    }

    #[test]
    fn utc_dates_match_known_days() {
        assert_eq!(utc_compact(0), "19700101T000000Z");
        // 2026-11-25 06:15:00 UTC
        assert_eq!(utc_compact(1_795_587_300), "20261125T061500Z");
        // leap day
        assert_eq!(utc_compact(951_782_400), "20000229T000000Z");
    }
}
