//! Cache files sealed by the sha256 of their content, written as a 32-byte trailer: the source-CRS
//! grids and the GeoJSON geometry texts. A file is written to a temporary name and renamed into
//! place, and read back through a `Reader` that hashes what it reads, never reads past the
//! content and, at `Reader::finish`, refuses a file whose trailer does not match or that holds
//! more than was read.

use std::fs::File;
use std::io::{BufReader, BufWriter, Read, Write};
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};
use thiserror::Error;

/// Why a sealed file cannot be read or is refused.
#[derive(Debug, Error)]
pub enum SealedError {
    /// The file cannot be opened or read.
    #[error("{0}")]
    Io(#[from] std::io::Error),
    /// The file cannot even hold its trailer.
    #[error("{size} bytes, shorter than its checksum")]
    Short { size: u64 },
    /// A read asked for more than the content holds.
    #[error("the content is shorter than it says")]
    Truncated,
    /// The content was not all read.
    #[error("trailing bytes")]
    TrailingBytes,
    /// The trailer is not the sha256 of the content.
    #[error("checksum mismatch")]
    ChecksumMismatch,
}

/// A sealed file being written; it appears under its name only at [`Writer::finish`].
pub(crate) struct Writer {
    w: BufWriter<File>,
    h: Sha256,
    tmp: PathBuf,
    path: PathBuf,
}

impl Writer {
    /// Creates `path`'s folder if needed and a temporary file beside `path`.
    pub(crate) fn create(path: &Path) -> std::io::Result<Writer> {
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir)?;
        }
        let tmp = path.with_extension(format!("tmp-{}", std::process::id()));
        Ok(Writer {
            w: BufWriter::with_capacity(1 << 20, File::create(&tmp)?),
            h: Sha256::new(),
            tmp,
            path: path.to_path_buf(),
        })
    }

    pub(crate) fn put(&mut self, bytes: &[u8]) -> std::io::Result<()> {
        self.h.update(bytes);
        self.w.write_all(bytes)
    }

    /// Writes the trailer, syncs the file and renames it into place.
    pub(crate) fn finish(mut self) -> std::io::Result<()> {
        let sum = std::mem::take(&mut self.h).finalize();
        self.w.write_all(&sum)?;
        self.w.flush()?;
        self.w.get_ref().sync_all()?;
        std::fs::rename(&self.tmp, &self.path)
    }
}

impl Drop for Writer {
    fn drop(&mut self) {
        // Unfinished (an error on the way): the temporary file is removed; after `finish`
        // it no longer exists.
        let _ = std::fs::remove_file(&self.tmp);
    }
}

/// A sealed file being read.
pub(crate) struct Reader {
    r: BufReader<File>,
    h: Sha256,
    /// Content bytes not read yet (the file's size less the trailer).
    left: u64,
}

impl Reader {
    /// `None` when the file does not exist.
    ///
    /// # Errors
    /// The file cannot be opened or is shorter than its trailer.
    pub(crate) fn open(path: &Path) -> Result<Option<Reader>, SealedError> {
        let f = match File::open(path) {
            Ok(f) => f,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(e.into()),
        };
        let size = f.metadata()?.len();
        let left = size.checked_sub(32).ok_or(SealedError::Short { size })?;
        Ok(Some(Reader {
            r: BufReader::with_capacity(1 << 20, f),
            h: Sha256::new(),
            left,
        }))
    }

    /// Content bytes not read yet: a length read from the file is checked against them before
    /// anything is allocated for it.
    pub(crate) fn remaining(&self) -> u64 {
        self.left
    }

    /// Fills `buf` from the content.
    ///
    /// # Errors
    /// The content holds less than `buf`, or reading fails.
    pub(crate) fn read(&mut self, buf: &mut [u8]) -> Result<(), SealedError> {
        self.left = self
            .left
            .checked_sub(buf.len() as u64)
            .ok_or(SealedError::Truncated)?;
        self.r.read_exact(buf)?;
        self.h.update(&*buf);
        Ok(())
    }

    /// Checks that all the content was read and that the trailer is its sha256.
    ///
    /// # Errors
    /// Content left unread, a failed read, or a trailer that does not match.
    pub(crate) fn finish(mut self) -> Result<(), SealedError> {
        if self.left != 0 {
            return Err(SealedError::TrailingBytes);
        }
        let mut sum = [0u8; 32];
        self.r.read_exact(&mut sum)?;
        if self.h.finalize().as_slice() != sum {
            return Err(SealedError::ChecksumMismatch);
        }
        Ok(())
    }
}
