//! The run's cache folder, `output_dir/cache/`: work kept between nights so that what did not
//! change is not redone (contiguity weights, source-CRS grids, GeoJSON geometry texts and input
//! checksums). Every entry follows one scheme:
//!
//! - **name** `<kind>-<tag>-<key>.bin`: the kind of entry, a tag telling entries of one kind
//!   apart (a level, a layer, a CRS; reduced to ASCII letters, digits and `_`), and a key, the
//!   first 96 bits of the sha256 of everything the content depends on, smartgap's version
//!   always included;
//! - **format** the content followed by its sha256 as a 32-byte trailer ([`crate::sealed`]);
//! - **integrity** read back through a [`Reader`], which refuses a file that is short, long or
//!   altered; a refused entry is rebuilt, never trusted;
//! - **atomic replace** written under a temporary name, synced and renamed into place; the
//!   entries of the same kind and tag under other keys (older boundaries, settings or versions)
//!   are then removed.
//!
//! A cache is an optimisation only: every failure to read or write one costs the next run the
//! rebuild and is logged, never more.

use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};
use thiserror::Error;

use crate::sealed::{Reader, SealedError, Writer};

/// Why an entry's content was not used (logged by [`Entry::load`], never returned).
#[derive(Debug, Error)]
enum LoadError {
    #[error(transparent)]
    Sealed(#[from] SealedError),
    /// The content is larger than this machine can address.
    #[error("{0}")]
    TooLarge(#[from] std::num::TryFromIntError),
}

/// A cache folder.
#[derive(Debug, Clone)]
pub struct Cache {
    dir: PathBuf,
}

/// One entry of a [`Cache`]: a kind, a tag and a key.
#[derive(Debug, Clone)]
pub struct Entry {
    path: PathBuf,
    /// `<kind>-<tag>-`, shared by the entry's older versions.
    prefix: String,
}

impl Cache {
    pub fn new(dir: &Path) -> Cache {
        Cache {
            dir: dir.to_path_buf(),
        }
    }

    /// The entry of `kind` and `tag` whose content is determined by `key` (each part hashed
    /// with its length, so `["ab", "c"]` and `["a", "bc"]` differ).
    pub fn entry(&self, kind: &str, tag: &str, key: &[&[u8]]) -> Entry {
        let mut h = Sha256::new();
        for part in std::iter::once(crate::VERSION.as_bytes()).chain(key.iter().copied()) {
            h.update((part.len() as u64).to_le_bytes());
            h.update(part);
        }
        let key: String = h
            .finalize()
            .iter()
            .take(12)
            .map(|b| format!("{b:02x}"))
            .collect();
        let prefix = format!("{kind}-{}-", clean(tag));
        Entry {
            path: self.dir.join(format!("{prefix}{key}.bin")),
            prefix,
        }
    }
}

/// `tag` reduced to ASCII letters, digits and `_`, at most 40 characters.
fn clean(tag: &str) -> String {
    tag.chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
        .take(40)
        .collect()
}

impl Entry {
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// A reader of the entry's content; `None` when there is no entry.
    ///
    /// # Errors
    /// The file cannot be opened or is shorter than its trailer.
    pub fn reader(&self) -> Result<Option<Reader>, SealedError> {
        Reader::open(&self.path)
    }

    /// A writer of the entry; the entry appears only at [`Writer::finish`], after which
    /// [`Entry::prune`] removes the older versions.
    ///
    /// # Errors
    /// The folder or the temporary file cannot be created.
    pub fn writer(&self) -> std::io::Result<Writer> {
        Writer::create(&self.path)
    }

    /// The whole content, checked; `None` (logged unless there was no entry) when it is
    /// missing or refused.
    pub fn load(&self) -> Option<Vec<u8>> {
        let read = || -> Result<Option<Vec<u8>>, LoadError> {
            let Some(mut r) = self.reader()? else {
                return Ok(None);
            };
            let len = usize::try_from(r.remaining())?;
            let mut content = vec![0u8; len];
            r.read(&mut content)?;
            r.finish()?;
            Ok(Some(content))
        };
        read().unwrap_or_else(|e| {
            tracing::warn!(path = %self.path.display(), error = %e, "cache entry not used; rebuilding it");
            None
        })
    }

    /// Writes `content` as the entry and removes its older versions (best effort, logged).
    pub fn store(&self, content: &[u8]) {
        let written = self.writer().and_then(|mut w| {
            w.put(content)?;
            w.finish()
        });
        match written {
            Ok(()) => self.prune(),
            Err(e) => {
                tracing::warn!(path = %self.path.display(), error = %e, "cache entry not written")
            }
        }
    }

    /// Removes the entries of the same kind and tag under other keys.
    pub fn prune(&self) {
        let Some(dir) = self.path.parent() else {
            return;
        };
        for old in std::fs::read_dir(dir).into_iter().flatten().flatten() {
            let name = old.file_name().to_string_lossy().into_owned();
            if name.starts_with(&self.prefix) && name.ends_with(".bin") && old.path() != self.path {
                let _ = std::fs::remove_file(old.path());
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entries_round_trip_refuse_damage_and_replace_older_keys() {
        let dir = tempfile::tempdir().unwrap();
        let cache = Cache::new(&dir.path().join("cache"));
        let old = cache.entry("weights", "sigungu", &[b"boundaries v1"]);
        let new = cache.entry("weights", "sigungu", &[b"boundaries v2"]);
        let other = cache.entry("weights", "sido", &[b"boundaries v1"]);
        assert_ne!(old.path(), new.path());
        assert_eq!(old.load(), None, "no entry yet");
        old.store(b"old");
        other.store(b"other");
        assert_eq!(old.load().as_deref(), Some(&b"old"[..]));
        new.store(b"new");
        assert_eq!(new.load().as_deref(), Some(&b"new"[..]));
        assert!(!old.path().exists(), "the older key is removed");
        assert!(other.path().exists(), "another tag is kept");
        // A flipped byte, a cut file and an appended byte are all refused.
        let good = std::fs::read(new.path()).unwrap();
        for bad in [
            [&b"nex"[..], &good[3..]].concat(),
            good[..good.len() - 1].to_vec(),
            [&good[..], &b"x"[..]].concat(),
        ] {
            std::fs::write(new.path(), bad).unwrap();
            assert_eq!(new.load(), None);
        }
        // Key parts are length-delimited.
        assert_ne!(
            cache.entry("k", "t", &[b"ab", b"c"]).path(),
            cache.entry("k", "t", &[b"a", b"bc"]).path()
        );
    }
}
