//! Inputs that change while they are read. A nightly job reads files other jobs write; a file
//! rewritten in place while it is read gives a torn mixture of two versions, and one renamed
//! over it gives the other file's rows. Neither may be published as the input, nor under the
//! checksum of something else than what was read.
//!
//! - The streaming CSV and GeoParquet readers read the bytes themselves and hash them as they
//!   go ([`Hashing`], `stream::parquet::Hashed`): the sha256 in `run.json` is that of the bytes
//!   read. Inputs GDAL reads are hashed just before GDAL opens them
//!   ([`checksum`](super::checksum())). A file whose settled checksum is in the store (hashed
//!   two seconds or more after its last change, the rule the store follows) and which `stat`
//!   finds unchanged before and after is not hashed again: a write would have moved its
//!   status-change time (an unchanged night hashes nothing).
//! - [`Watch`] takes `stat` of the file (and of a Shapefile's sidecars) before it is opened and
//!   again after its last byte is read, and of the open file itself: any difference in size,
//!   device, inode, modification or status-change time fails the input, naming the file and
//!   saying "changed while being read".
//! - The checksum is then remembered for the run ([`checksum::remember`](super::checksum::remember)),
//!   which also fails when a hash of the same file taken meanwhile (the fingerprint's), with
//!   `stat` reporting no change, gave other bytes; and before the manifest is written every
//!   input's checksum is taken again (from that memo while `stat` reports no change) and must
//!   still be the checksum of the bytes read, so the run's fingerprint is made of them.

use std::fs::{File, Metadata};
use std::io::Read;
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

use crate::error::Error;

/// What `stat` says of a file: enough to tell that it changed, as git's index does (the
/// status-change time moves on every write and cannot be set back).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Stamp {
    pub len: u64,
    pub dev: u64,
    pub ino: u64,
    pub mtime_ns: i128,
    pub ctime_ns: i128,
}

impl Stamp {
    /// The stamp of `m`.
    pub fn of(m: &Metadata) -> Stamp {
        use std::os::unix::fs::MetadataExt;
        Stamp {
            len: m.len(),
            dev: m.dev(),
            ino: m.ino(),
            mtime_ns: i128::from(m.mtime()) * 1_000_000_000 + i128::from(m.mtime_nsec()),
            ctime_ns: i128::from(m.ctime()) * 1_000_000_000 + i128::from(m.ctime_nsec()),
        }
    }

    /// What differs between `self` (before) and `now`, for messages.
    fn changes(&self, now: &Stamp) -> Vec<String> {
        let mut c = Vec::new();
        if self.len != now.len {
            c.push(format!("size {} → {} bytes", self.len, now.len));
        }
        if (self.dev, self.ino) != (now.dev, now.ino) {
            c.push("replaced by another file".into());
        }
        if self.mtime_ns != now.mtime_ns {
            c.push("modified".into());
        }
        if self.ctime_ns != now.ctime_ns && c.is_empty() {
            c.push("status changed".into());
        }
        c
    }
}

/// The nanoseconds since the epoch now (0 when the clock is before it).
pub(crate) fn now_ns() -> i128 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos() as i128)
}

/// `stat` of an input (and of a Shapefile's sidecars), before it is opened, to compare after.
#[derive(Debug)]
pub struct Watch {
    path: PathBuf,
    files: Vec<(PathBuf, Stamp)>,
    started_ns: i128,
    /// The file's settled checksum from the store, when `stat` matches it at the start: a
    /// reader need not hash what it reads ([`checksum::settled`](super::checksum::settled)).
    known: Option<String>,
}

impl Watch {
    /// Takes `stat` of `path` and its sidecars now.
    ///
    /// # Errors
    /// [`Error::Open`] when `path` cannot be `stat`ed.
    pub fn start(path: &Path) -> Result<Watch, Error> {
        let started_ns = now_ns();
        let files = super::checksum::files_of(path)
            .into_iter()
            .map(|f| match std::fs::metadata(&f) {
                Ok(m) => Ok((f, Stamp::of(&m))),
                Err(e) => Err(Error::Open {
                    path: f,
                    message: e.to_string(),
                }),
            })
            .collect::<Result<Vec<_>, _>>()?;
        let known = super::checksum::settled(path, files[0].1);
        Ok(Watch {
            path: path.to_path_buf(),
            files,
            started_ns,
            known,
        })
    }

    /// Whether the reader must hash the bytes it reads: no settled checksum of the file as
    /// `stat` saw it at the start is known.
    pub fn must_hash(&self) -> bool {
        self.known.is_none()
    }

    /// After the last byte is read from `open`: checks that nothing changed ([`Watch::check`])
    /// and returns the checksum of the bytes read: `hashed`, which is remembered
    /// ([`checksum::remember`](super::checksum::remember)), or the settled one known at the
    /// start.
    ///
    /// # Errors
    /// The input changed while it was read.
    pub fn finish(
        &self,
        layer: &str,
        open: &File,
        hashed: Option<String>,
    ) -> Result<String, Error> {
        self.check(layer, Some(open))?;
        match (hashed, &self.known) {
            (Some(sha), _) => {
                super::checksum::remember(&self.path, self.stamp(), self.started_ns, &sha)
                    .map_err(|e| self.changed(layer, &e.to_string()))?;
                Ok(sha)
            }
            (None, Some(known)) => Ok(known.clone()),
            (None, None) => Err(Error::Invariant(format!(
                "{} was read without being hashed",
                self.path.display()
            ))),
        }
    }

    /// The input's stamp when the watch started.
    pub fn stamp(&self) -> Stamp {
        self.files[0].1
    }

    /// Checks that the files are as they were at [`Watch::start`], and that `open` (the file
    /// the reader read, when it opened it itself) is the one the path named then.
    ///
    /// # Errors
    /// [`Error::Read`] of `layer`: "changed while being read" and what changed.
    pub fn check(&self, layer: &str, open: Option<&File>) -> Result<(), Error> {
        let mut changes = Vec::new();
        for (i, (f, before)) in self.files.iter().enumerate() {
            let what = |c: String| match i {
                0 => c,
                _ => format!("{}: {c}", f.display()),
            };
            match std::fs::metadata(f) {
                Ok(m) => changes.extend(before.changes(&Stamp::of(&m)).into_iter().map(what)),
                Err(e) => changes.push(what(format!("gone ({e})"))),
            }
        }
        if let Some(m) = open.map(File::metadata) {
            match m {
                Ok(m) => changes.extend(self.stamp().changes(&Stamp::of(&m))),
                Err(e) => changes.push(format!("the open file cannot be stat'ed: {e}")),
            }
        }
        if changes.is_empty() {
            return Ok(());
        }
        let mut once: Vec<String> = Vec::new();
        for c in changes {
            if !once.contains(&c) {
                once.push(c);
            }
        }
        Err(self.changed(layer, &once.join(", ")))
    }

    /// The error of an input that changed while being read, and how.
    pub fn changed(&self, layer: &str, how: &str) -> Error {
        changed(&self.path, layer, how)
    }
}

/// [`Error::Read`]: `path` changed while being read, and how.
pub fn changed(path: &Path, layer: &str, how: &str) -> Error {
    Error::Read {
        path: path.to_path_buf(),
        layer: layer.to_string(),
        message: format!(
            "changed while being read ({how}); nothing of it is published: run again once the file is complete"
        ),
    }
}

/// A reader that hashes every byte it passes on, in order (when told to).
pub struct Hashing<R> {
    inner: R,
    sha: Option<Sha256>,
}

impl<R: Read> Hashing<R> {
    /// `inner`, hashed when `hash` ([`Watch::must_hash`]).
    pub fn new(inner: R, hash: bool) -> Hashing<R> {
        Hashing {
            inner,
            sha: hash.then(Sha256::new),
        }
    }

    /// Reads what is left to the end (hashing it), and returns the reader and the sha256 of
    /// every byte read (`None` when not hashing).
    ///
    /// # Errors
    /// A failed read.
    pub fn finish(mut self) -> std::io::Result<(R, Option<String>)> {
        if self.sha.is_some() {
            std::io::copy(&mut self, &mut std::io::sink())?;
        }
        Ok((self.inner, self.sha.map(|s| hex(&s.finalize()))))
    }
}

impl<R: Read> Read for Hashing<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        if let Some(sha) = &mut self.sha {
            sha.update(&buf[..n]);
        }
        Ok(n)
    }
}

/// Lower-case hex of a digest.
pub fn hex(digest: &[u8]) -> String {
    use std::fmt::Write;
    digest.iter().fold(String::with_capacity(64), |mut s, b| {
        let _ = write!(s, "{b:02x}");
        s
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_rewrite_or_a_rename_over_is_seen_and_named() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("points.csv");
        std::fs::write(&path, b"id\n1\n").unwrap();
        let w = Watch::start(&path).unwrap();
        let open = File::open(&path).unwrap();
        w.check("", Some(&open)).unwrap();
        std::fs::write(&path, b"id\n1\n2\n").unwrap();
        let e = w.check("", Some(&open)).unwrap_err().to_string();
        assert!(e.contains("points.csv"), "{e}");
        assert!(
            e.contains("changed while being read (size 5 → 7 bytes, modified"),
            "{e}"
        );
        // Renamed over: the path names another file than the one open.
        let w = Watch::start(&path).unwrap();
        let open = File::open(&path).unwrap();
        let other = dir.path().join("other.csv");
        std::fs::write(&other, b"id\n9\n8\n").unwrap();
        std::fs::rename(&other, &path).unwrap();
        let e = w.check("", Some(&open)).unwrap_err().to_string();
        assert!(e.contains("replaced by another file"), "{e}");
    }

    #[test]
    fn hashing_hashes_every_byte_to_the_end() {
        let mut h = Hashing::new(&b"abcdef"[..], true);
        let mut two = [0u8; 2];
        h.read_exact(&mut two).unwrap();
        let (_, sha) = h.finish().unwrap();
        assert_eq!(sha, Some(hex(&Sha256::digest(b"abcdef"))));
    }
}
