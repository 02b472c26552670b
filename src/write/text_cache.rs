//! GeoJSON geometry texts kept between runs.
//!
//! A region layer's geometry is the boundary file's, the same night after night, and
//! reprojecting it to CRS84 and writing its digits is most of the GeoJSON writer's work (W3's
//! 시군구: ~35 ms of CPU; 리: several times that). Its texts are saved in
//! `output_dir/cache/geojson-<layer>.bin` under a key that is the sha256 of everything they
//! depend on: every coordinate of every feature in order, the number of decimals, both CRSs,
//! the PROJ release and smartgap's version. A file whose key differs is not read; one that is
//! read is checked against its own sha256 trailer at the end, and if it fails the layer is
//! written again without it (the caller's job).
//!
//! File: `SGGJSN01`, the 32-byte key, the text count (u64 LE), then each text as its length
//! (u32 LE) and UTF-8 bytes, then the sha256 of all that.

use std::fs::File;
use std::io::{BufReader, BufWriter, Read, Write};
use std::path::{Path, PathBuf};

use geo::{Geometry, Polygon};
use sha2::{Digest, Sha256};

use super::OutLayer;

const MAGIC: &[u8; 8] = b"SGGJSN01";

/// The key of a layer's geometry texts at `decimals`.
pub fn key(layer: &OutLayer, decimals: u32) -> [u8; 32] {
    let mut h = Sha256::new();
    h.update(
        format!(
            "smartgap geojson geometry {} {} {} {} {decimals} {}\n",
            crate::report::VERSION,
            crate::crs::proj_release(),
            crate::crs::WORK_CRS,
            crate::crs::GEOJSON_CRS,
            layer.features.len()
        )
        .as_bytes(),
    );
    let mut buf: Vec<u8> = Vec::with_capacity(1 << 17);
    let polygon = |buf: &mut Vec<u8>, p: &Polygon<f64>| {
        buf.extend((1 + p.interiors().len() as u64).to_le_bytes());
        for ring in std::iter::once(p.exterior()).chain(p.interiors()) {
            buf.extend((ring.0.len() as u64).to_le_bytes());
            for c in &ring.0 {
                buf.extend(c.x.to_le_bytes());
                buf.extend(c.y.to_le_bytes());
            }
        }
    };
    for f in &layer.features {
        match &f.geometry {
            None => buf.push(0),
            Some(Geometry::MultiPolygon(mp)) => {
                buf.push(1);
                buf.extend((mp.0.len() as u64).to_le_bytes());
                for p in &mp.0 {
                    polygon(&mut buf, p);
                }
            }
            Some(Geometry::Polygon(p)) => {
                buf.push(2);
                polygon(&mut buf, p);
            }
            Some(g) => {
                buf.push(3);
                buf.extend(format!("{g:?}").bytes());
            }
        }
        if buf.len() >= 1 << 16 {
            h.update(&buf);
            buf.clear();
        }
    }
    h.update(&buf);
    h.finalize().into()
}

/// The cache file of a layer.
pub fn file(dir: &Path, layer: &str) -> PathBuf {
    let tag: String = layer
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
        .collect();
    dir.join(format!("geojson-{tag}.bin"))
}

/// Texts read back in order, checked at [`Reader::finish`].
pub struct Reader {
    r: BufReader<File>,
    h: Sha256,
    left: u64,
    /// Bytes of the file not read yet: a damaged length never allocates beyond them.
    bytes_left: u64,
}

impl Reader {
    /// The texts saved under `key` for `count` features, or `None` when the file is absent or
    /// holds another key or count.
    pub fn open(path: &Path, key: &[u8; 32], count: usize) -> Result<Option<Reader>, String> {
        let f = match File::open(path) {
            Ok(f) => f,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(e.to_string()),
        };
        let size = f.metadata().map_err(|e| e.to_string())?.len();
        let mut r = BufReader::with_capacity(1 << 20, f);
        let mut head = [0u8; 48];
        match r.read_exact(&mut head) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => return Ok(None),
            Err(e) => return Err(e.to_string()),
        }
        if &head[..8] != MAGIC
            || &head[8..40] != key
            || head[40..48] != (count as u64).to_le_bytes()
        {
            return Ok(None);
        }
        let mut h = Sha256::new();
        h.update(head);
        Ok(Some(Reader {
            r,
            h,
            left: count as u64,
            bytes_left: size.saturating_sub(48),
        }))
    }

    /// The next `n` texts.
    pub fn take(&mut self, n: usize) -> Result<Vec<String>, String> {
        if n as u64 > self.left {
            return Err("fewer texts than features".into());
        }
        self.left -= n as u64;
        let mut out = Vec::with_capacity(n);
        for _ in 0..n {
            let mut len = [0u8; 4];
            self.r.read_exact(&mut len).map_err(|e| e.to_string())?;
            self.h.update(len);
            let len = u64::from(u32::from_le_bytes(len));
            self.bytes_left = self
                .bytes_left
                .checked_sub(4 + len)
                .ok_or("a text runs past the end of the file")?;
            let mut bytes = vec![0u8; len as usize];
            self.r.read_exact(&mut bytes).map_err(|e| e.to_string())?;
            self.h.update(&bytes);
            out.push(String::from_utf8(bytes).map_err(|_| "a text is not UTF-8".to_string())?);
        }
        Ok(out)
    }

    /// Checks that every text was read and that the file's checksum holds.
    pub fn finish(mut self) -> Result<(), String> {
        if self.left != 0 {
            return Err("texts left unread".into());
        }
        let mut sum = [0u8; 32];
        self.r.read_exact(&mut sum).map_err(|e| e.to_string())?;
        if self.h.finalize().as_slice() != sum {
            return Err("checksum mismatch".into());
        }
        if self.r.read(&mut [0u8; 1]).map_err(|e| e.to_string())? != 0 {
            return Err("trailing bytes".into());
        }
        Ok(())
    }
}

/// Texts saved as they are written, to a temporary file renamed into place by
/// [`Writer::finish`].
pub struct Writer {
    w: BufWriter<File>,
    h: Sha256,
    tmp: PathBuf,
    path: PathBuf,
}

impl Writer {
    pub fn create(path: &Path, key: &[u8; 32], count: usize) -> std::io::Result<Writer> {
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir)?;
        }
        let tmp = path.with_extension(format!("tmp-{}", std::process::id()));
        let mut w = Writer {
            w: BufWriter::with_capacity(1 << 20, File::create(&tmp)?),
            h: Sha256::new(),
            tmp,
            path: path.to_path_buf(),
        };
        w.put(MAGIC)?;
        w.put(key)?;
        w.put(&(count as u64).to_le_bytes())?;
        Ok(w)
    }

    fn put(&mut self, bytes: &[u8]) -> std::io::Result<()> {
        self.h.update(bytes);
        self.w.write_all(bytes)
    }

    pub fn add(&mut self, texts: &[String]) -> std::io::Result<()> {
        for t in texts {
            let len = u32::try_from(t.len()).map_err(std::io::Error::other)?;
            self.put(&len.to_le_bytes())?;
            self.put(t.as_bytes())?;
        }
        Ok(())
    }

    pub fn finish(mut self) -> std::io::Result<()> {
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
