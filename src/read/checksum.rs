//! sha256 of input files, for the run's fingerprint and manifest.
//!
//! Hashing is the one cost that grows with an input even when nothing changed: 454 MB of
//! GeoParquet take 0.4 s of a core. A checksum is therefore remembered
//!
//! - for the life of the process (the fingerprint and the manifest both ask), and
//! - across runs in the cache folder (entry `checksums-inputs-<key>.bin`, see [`crate::cache`]),
//!   keyed by what `stat` reports: path,
//!   size, device, inode, modification and status-change times. The status-change time
//!   (ctime) is set by the kernel on every write and cannot be set back by `touch`, so a
//!   rewritten file never matches. As in git's index, a checksum is only reused when the file
//!   had been left alone for two seconds before it was hashed, so a write in the same clock
//!   tick as the hashing cannot go unseen. `smartgap run --rehash` ignores the store.

use std::collections::BTreeMap;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::{SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::error::Error;

/// What `stat` says of a file, and when and as what it was hashed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
struct Entry {
    len: u64,
    dev: u64,
    ino: u64,
    mtime_ns: i128,
    ctime_ns: i128,
    hashed_at_ns: i128,
    sha256: String,
    /// Hashed by this process: reused for the rest of it whatever the timing.
    #[serde(skip)]
    this_process: bool,
}

/// A file must have been unchanged this long before its hashing for the checksum to be reused.
const SETTLED_NS: i128 = 2_000_000_000;

#[derive(Default)]
struct State {
    /// Checksums of this process and of the store, by canonical path.
    known: BTreeMap<PathBuf, Entry>,
    /// Where the store lives (`None`: this process only).
    store: Option<crate::cache::Entry>,
    /// Entries added since the store was read.
    dirty: bool,
}

static STATE: Mutex<Option<State>> = Mutex::new(None);

/// Remembers checksums across runs in the cache folder `dir` (written by [`save`]; read now
/// unless `rehash`, which hashes every file again and so rewrites the store from scratch);
/// `None` keeps them for this process only.
pub fn use_store(dir: Option<&Path>, rehash: bool) {
    let mut state = State {
        store: dir.map(|d| crate::cache::Cache::new(d).entry("checksums", "inputs", &[])),
        // A rehash replaces the store even when nothing new is hashed.
        dirty: rehash,
        ..State::default()
    };
    if let Some(known) = state
        .store
        .as_ref()
        .filter(|_| !rehash)
        .and_then(crate::cache::Entry::load)
        .and_then(|b| serde_json::from_slice(&b).ok())
    {
        state.known = known;
    }
    if let Ok(mut s) = STATE.lock() {
        *s = Some(state);
    }
}

/// Writes the store if checksums were added (best effort: a failed write costs the next run
/// one hashing, and is logged).
pub fn save() {
    let Ok(mut guard) = STATE.lock() else { return };
    let Some(state) = guard.as_mut() else { return };
    let Some(entry) = state.store.clone().filter(|_| state.dirty) else {
        return;
    };
    // Files that no longer exist are forgotten.
    state.known.retain(|path, _| path.exists());
    match serde_json::to_vec_pretty(&state.known) {
        Ok(json) => {
            entry.store(&json);
            state.dirty = false;
        }
        Err(e) => tracing::warn!(error = %e, "checksum store not written"),
    }
}

fn nanos(t: std::io::Result<SystemTime>) -> Option<i128> {
    let t = t.ok()?;
    Some(match t.duration_since(UNIX_EPOCH) {
        Ok(d) => d.as_nanos() as i128,
        Err(e) => -(e.duration().as_nanos() as i128),
    })
}

fn stat(path: &Path) -> Option<(PathBuf, Entry)> {
    use std::os::unix::fs::MetadataExt;
    let real = std::fs::canonicalize(path).ok()?;
    let m = std::fs::metadata(&real).ok()?;
    let entry = Entry {
        len: m.len(),
        dev: m.dev(),
        ino: m.ino(),
        mtime_ns: nanos(m.modified())?,
        ctime_ns: i128::from(m.ctime()) * 1_000_000_000 + i128::from(m.ctime_nsec()),
        hashed_at_ns: 0,
        sha256: String::new(),
        this_process: false,
    };
    Some((real, entry))
}

/// sha256 of a file and, for a Shapefile, of its sidecars in a fixed order (a Shapefile is
/// always hashed: its sidecars are not part of the key).
pub fn checksum(path: &Path) -> Result<String, Error> {
    let shp = path
        .extension()
        .is_some_and(|e| e.eq_ignore_ascii_case("shp"));
    let key = if shp { None } else { stat(path) };
    if let Some((real, now)) = &key
        && let Ok(guard) = STATE.lock()
        && let Some(known) = guard.as_ref().and_then(|s| s.known.get(real))
        && known.len == now.len
        && known.dev == now.dev
        && known.ino == now.ino
        && known.mtime_ns == now.mtime_ns
        && known.ctime_ns == now.ctime_ns
        && (known.this_process
            || known.mtime_ns.max(known.ctime_ns) + SETTLED_NS <= known.hashed_at_ns)
    {
        return Ok(known.sha256.clone());
    }
    let hashed_at_ns = nanos(Ok(SystemTime::now())).unwrap_or(0);
    let sum = checksum_uncached(path)?;
    if let Some((real, mut entry)) = key
        && let Ok(mut guard) = STATE.lock()
    {
        entry.hashed_at_ns = hashed_at_ns;
        entry.sha256 = sum.clone();
        entry.this_process = true;
        let state = guard.get_or_insert_with(State::default);
        if state.known.get(&real) != Some(&entry) {
            state.known.insert(real, entry);
            state.dirty = true;
        }
    }
    Ok(sum)
}

/// Remembers for the run that the bytes of `path` as `stamp` describes them (taken before they
/// were read from `hashed_at_ns` on, and found unchanged after) have the sha256 `sha256`: a
/// reader that hashed what it read itself. Later checksums of the file reuse it while `stat`
/// reports no change (and in later runs once settled, as any other).
///
/// # Errors
/// Why the bytes read cannot be those of the file: a hash of the same file taken meanwhile,
/// `stat` reporting no change (a write within one tick of the file system's clock), gave
/// other bytes.
pub fn remember(
    path: &Path,
    stamp: super::watch::Stamp,
    hashed_at_ns: i128,
    sha256: &str,
) -> Result<(), TornRead> {
    if files_of(path).len() > 1 {
        // A Shapefile's sidecars are not part of the key: never memoised.
        return Ok(());
    }
    let Ok(real) = std::fs::canonicalize(path) else {
        return Ok(());
    };
    let entry = Entry {
        len: stamp.len,
        dev: stamp.dev,
        ino: stamp.ino,
        mtime_ns: stamp.mtime_ns,
        ctime_ns: stamp.ctime_ns,
        hashed_at_ns,
        sha256: sha256.to_string(),
        this_process: true,
    };
    let Ok(mut guard) = STATE.lock() else {
        return Ok(());
    };
    let state = guard.get_or_insert_with(State::default);
    if let Some(known) = state.known.get(&real)
        && (
            known.len,
            known.dev,
            known.ino,
            known.mtime_ns,
            known.ctime_ns,
        ) == (
            entry.len,
            entry.dev,
            entry.ino,
            entry.mtime_ns,
            entry.ctime_ns,
        )
        && (known.this_process
            || known.mtime_ns.max(known.ctime_ns) + SETTLED_NS <= known.hashed_at_ns)
        && known.sha256 != sha256
    {
        return Err(TornRead {
            read: sha256.to_string(),
            hashed: known.sha256.clone(),
        });
    }
    if state.known.get(&real) != Some(&entry) {
        state.known.insert(real, entry);
        state.dirty = true;
    }
    Ok(())
}

/// The bytes a reader hashed are not those hashed for the run's fingerprint, though `stat`
/// reports no change: a write within one tick of the file system's clock.
#[derive(Debug, thiserror::Error)]
#[error(
    "the bytes read (sha256 {read}) are not those hashed for the run's fingerprint ({hashed}), \
     though stat reports no change"
)]
pub struct TornRead {
    /// The sha256 of the bytes read.
    pub read: String,
    /// The sha256 taken for the fingerprint.
    pub hashed: String,
}

/// The checksum remembered for `path` as `stamp` describes it, when it is settled: hashed at
/// least two seconds after the file's last change. A reader that finds `stat` unchanged after
/// reading such a file read those bytes (a write would have moved the status-change time past
/// it) and need not hash them again; an unsettled one, even of this process, is not trusted.
pub fn settled(path: &Path, stamp: super::watch::Stamp) -> Option<String> {
    if files_of(path).len() > 1 {
        return None;
    }
    let real = std::fs::canonicalize(path).ok()?;
    let guard = STATE.lock().ok()?;
    let known = guard.as_ref()?.known.get(&real)?;
    ((
        known.len,
        known.dev,
        known.ino,
        known.mtime_ns,
        known.ctime_ns,
    ) == (
        stamp.len,
        stamp.dev,
        stamp.ino,
        stamp.mtime_ns,
        stamp.ctime_ns,
    ) && known.mtime_ns.max(known.ctime_ns) + SETTLED_NS <= known.hashed_at_ns)
        .then(|| known.sha256.clone())
}

/// The files `path` stands for: itself and, for a Shapefile, its sidecars that exist, in a
/// fixed order.
pub(crate) fn files_of(path: &Path) -> Vec<PathBuf> {
    let mut files = vec![path.to_path_buf()];
    if path
        .extension()
        .is_some_and(|e| e.eq_ignore_ascii_case("shp"))
    {
        for ext in ["shx", "dbf", "prj", "cpg"] {
            let p = path.with_extension(ext);
            if p.exists() {
                files.push(p);
            }
        }
    }
    files
}

fn checksum_uncached(path: &Path) -> Result<String, Error> {
    let mut h = Sha256::new();
    for f in files_of(path) {
        let mut file = std::fs::File::open(&f).map_err(|e| Error::Open {
            path: f.clone(),
            message: e.to_string(),
        })?;
        let mut buf = vec![0u8; 1 << 20];
        loop {
            let n = file.read(&mut buf).map_err(|e| Error::Open {
                path: f.clone(),
                message: e.to_string(),
            })?;
            if n == 0 {
                break;
            }
            h.update(&buf[..n]);
        }
    }
    Ok(super::watch::hex(&h.finalize()))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// [`save`] as if something new had been hashed.
    fn save_dirty() {
        if let Some(s) = STATE.lock().unwrap().as_mut() {
            s.dirty = true;
        }
        save();
    }

    fn sha(bytes: &[u8]) -> String {
        Sha256::digest(bytes)
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect()
    }

    /// Writes a store whose one entry matches `file` as `stat` sees it now, settled, with a
    /// made-up checksum: a reuse answers the made-up value.
    fn plant(dir: &Path, file: &Path, fake: &str) {
        let (real, mut e) = stat(file).unwrap();
        e.hashed_at_ns = e.mtime_ns.max(e.ctime_ns) + SETTLED_NS;
        e.sha256 = fake.into();
        let known: BTreeMap<PathBuf, Entry> = [(real, e)].into();
        crate::cache::Cache::new(dir)
            .entry("checksums", "inputs", &[])
            .store(serde_json::to_string(&known).unwrap().as_bytes());
    }

    #[test]
    fn checksums_are_reused_only_for_files_stat_says_are_unchanged() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("points.csv");
        std::fs::write(&file, b"id,x,y\n1,127,37\n").unwrap();
        let fake = "f".repeat(64);

        // A settled entry that matches: reused (the next night's run).
        plant(dir.path(), &file, &fake);
        use_store(Some(dir.path()), false);
        assert_eq!(checksum(&file).unwrap(), fake);

        // Rewritten with the same size and its old modification time put back: the kernel
        // moved the status-change time, so the file is hashed again.
        let mtime = std::fs::metadata(&file).unwrap().modified().unwrap();
        // Past the kernel's timestamp tick (a real entry is two seconds past it).
        std::thread::sleep(std::time::Duration::from_millis(30));
        std::fs::write(&file, b"id,x,y\n2,127,37\n").unwrap();
        std::fs::File::options()
            .write(true)
            .open(&file)
            .unwrap()
            .set_modified(mtime)
            .unwrap();
        assert_eq!(checksum(&file).unwrap(), sha(b"id,x,y\n2,127,37\n"));

        // Hashed just now (not yet settled): this process reuses it, the next one does not.
        save();
        use_store(Some(dir.path()), false);
        assert_eq!(checksum(&file).unwrap(), sha(b"id,x,y\n2,127,37\n"));
        let stored: BTreeMap<PathBuf, Entry> = serde_json::from_slice(
            &crate::cache::Cache::new(dir.path())
                .entry("checksums", "inputs", &[])
                .load()
                .unwrap(),
        )
        .unwrap();
        let e = stored.values().next().unwrap();
        assert!(e.mtime_ns.max(e.ctime_ns) + SETTLED_NS > e.hashed_at_ns);

        // `--rehash`: the planted value is ignored, and the store is rewritten with the truth.
        plant(dir.path(), &file, &fake);
        use_store(Some(dir.path()), true);
        assert_eq!(checksum(&file).unwrap(), sha(b"id,x,y\n2,127,37\n"));
        save();
        use_store(Some(dir.path()), false);
        assert_eq!(checksum(&file).unwrap(), sha(b"id,x,y\n2,127,37\n"));

        // A file that no longer exists is forgotten by the next save.
        std::fs::remove_file(&file).unwrap();
        save_dirty();
        let stored = crate::cache::Cache::new(dir.path())
            .entry("checksums", "inputs", &[])
            .load()
            .unwrap();
        assert_eq!(String::from_utf8(stored).unwrap().trim(), "{}");

        // No store: this process only.
        use_store(None, false);

        // A reader's own hash is remembered, unless a hash of the file with the same `stat`
        // gave other bytes (a write `stat` cannot see: within one tick of the clock).
        std::fs::write(&file, b"id,x,y\n3,127,37\n").unwrap();
        let stamp = super::super::watch::Stamp::of(&std::fs::metadata(&file).unwrap());
        let at = super::super::watch::now_ns();
        let read = sha(b"id,x,y\n3,127,37\n");
        remember(&file, stamp, at, &read).unwrap();
        assert_eq!(checksum(&file).unwrap(), read);
        let torn = sha(b"id,x,y\n3,127,38\n");
        let e = remember(&file, stamp, at, &torn).unwrap_err().to_string();
        assert!(e.contains("though stat reports no change"), "{e}");

        // A settled checksum of the file as `stat` sees it (the next night's): a reader need
        // not hash again, and publishes it.
        plant(dir.path(), &file, &fake);
        use_store(Some(dir.path()), false);
        let w = super::super::watch::Watch::start(&file).unwrap();
        assert!(!w.must_hash());
        let open = std::fs::File::open(&file).unwrap();
        assert_eq!(w.finish("", &open, None).unwrap(), fake);
        use_store(None, false);
    }
}
