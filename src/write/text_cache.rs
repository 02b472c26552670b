//! GeoJSON geometry texts kept between runs.
//!
//! A region layer's geometry is the boundary file's, the same night after night, and
//! reprojecting it to CRS84 and writing its digits is most of the GeoJSON writer's work (W3's
//! 시군구: ~35 ms of CPU; 리: several times that). Its texts are saved in
//! `output_dir/cache/` under a key that is the sha256 of everything they
//! depend on: every coordinate of every feature in order, the number of decimals, both CRSs,
//! the PROJ release and smartgap's version. The cache entry ([`crate::cache`]) is
//! `geojson-<layer>-<key>.bin`; a file is checked against its own sha256 trailer at the end,
//! and if that fails the layer is written again without it (the caller's job).
//!
//! Content: `SGGJSN02`, the 32-byte key (checked again on reading), the text count (u64 LE),
//! then each [`Shape`] as its area change (f64 LE), its text's length (u32 LE) and UTF-8 bytes.

use std::path::Path;

use crate::cache::{Cache, Entry};

use geo::{Geometry, Polygon};
use sha2::{Digest, Sha256};
use thiserror::Error;

use super::OutLayer;

const MAGIC: &[u8; 8] = b"SGGJSN02";

/// A feature's geometry member and what snapping it to the grid did to its area.
#[derive(Debug, Clone, PartialEq)]
pub struct Shape {
    /// The geometry's GeoJSON text, or `null`.
    pub text: String,
    /// The relative change of a polygon's area; 0 for other geometries and none; NaN when the
    /// polygon collapsed at this precision and is written as `null`.
    pub area_change: f64,
}

/// The key of a layer's geometry texts at `decimals`.
pub fn key(layer: &OutLayer, decimals: u32) -> [u8; 32] {
    let mut h = Sha256::new();
    h.update(
        format!(
            "smartgap geojson geometry snapped {} {} {} {} {decimals} {}\n",
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

/// The cache entry of a layer's texts under `key`.
pub fn entry(cache: &Cache, layer: &str, key: &[u8; 32]) -> Entry {
    cache.entry("geojson", layer, &[key])
}

/// Why saved texts are not used: the caller writes the layer again without them.
#[derive(Debug, Error)]
pub enum TextCacheError {
    #[error(transparent)]
    Sealed(#[from] crate::sealed::SealedError),
    /// The file holds fewer texts than it says.
    #[error("fewer texts than features")]
    FewerTexts,
    /// A text's length reaches past the content.
    #[error("a text runs past the end of the file")]
    PastEnd,
    #[error("a text is not UTF-8")]
    NotUtf8(#[source] std::string::FromUtf8Error),
    /// [`Reader::finish`] came before every text was read.
    #[error("texts left unread")]
    LeftUnread,
}

/// Texts read back in order, checked at [`Reader::finish`].
pub struct Reader {
    r: crate::sealed::Reader,
    /// Texts not read yet.
    left: u64,
}

impl Reader {
    /// The texts saved under `key` for `count` features, or `None` when the file is absent or
    /// holds another key or count.
    ///
    /// # Errors
    /// The file cannot be opened or read.
    pub fn open(
        path: &Path,
        key: &[u8; 32],
        count: usize,
    ) -> Result<Option<Reader>, TextCacheError> {
        let Some(mut r) = crate::sealed::Reader::open(path)? else {
            return Ok(None);
        };
        let mut head = [0u8; 48];
        if r.remaining() < 48 {
            return Ok(None);
        }
        r.read(&mut head)?;
        if &head[..8] != MAGIC
            || &head[8..40] != key
            || head[40..48] != (count as u64).to_le_bytes()
        {
            return Ok(None);
        }
        Ok(Some(Reader {
            r,
            left: count as u64,
        }))
    }

    /// The next `n` texts.
    ///
    /// # Errors
    /// The file is damaged or holds fewer texts.
    pub fn take(&mut self, n: usize) -> Result<Vec<Shape>, TextCacheError> {
        if n as u64 > self.left {
            return Err(TextCacheError::FewerTexts);
        }
        self.left -= n as u64;
        let mut out = Vec::with_capacity(n);
        for _ in 0..n {
            let mut change = [0u8; 8];
            self.r.read(&mut change)?;
            let mut len = [0u8; 4];
            self.r.read(&mut len)?;
            let len = u64::from(u32::from_le_bytes(len));
            // A damaged length never allocates beyond the file.
            if len > self.r.remaining() {
                return Err(TextCacheError::PastEnd);
            }
            let mut bytes = vec![0u8; len as usize];
            self.r.read(&mut bytes)?;
            out.push(Shape {
                text: String::from_utf8(bytes).map_err(TextCacheError::NotUtf8)?,
                area_change: f64::from_le_bytes(change),
            });
        }
        Ok(out)
    }

    /// Checks that every text was read and that the file's checksum holds.
    ///
    /// # Errors
    /// Texts left unread, or the file's checksum fails.
    pub fn finish(self) -> Result<(), TextCacheError> {
        if self.left != 0 {
            return Err(TextCacheError::LeftUnread);
        }
        Ok(self.r.finish()?)
    }
}

/// Texts saved as they are written, to a temporary file renamed into place by
/// [`Writer::finish`].
pub struct Writer {
    w: crate::sealed::Writer,
    entry: Entry,
}

impl Writer {
    pub fn create(entry: &Entry, key: &[u8; 32], count: usize) -> std::io::Result<Writer> {
        let mut w = entry.writer()?;
        w.put(MAGIC)?;
        w.put(key)?;
        w.put(&(count as u64).to_le_bytes())?;
        Ok(Writer {
            w,
            entry: entry.clone(),
        })
    }

    pub fn add(&mut self, shapes: &[Shape]) -> std::io::Result<()> {
        for s in shapes {
            let len = u32::try_from(s.text.len()).map_err(std::io::Error::other)?;
            self.w.put(&s.area_change.to_le_bytes())?;
            self.w.put(&len.to_le_bytes())?;
            self.w.put(s.text.as_bytes())?;
        }
        Ok(())
    }

    /// Puts the entry in place and removes the layer's entries under older keys.
    pub fn finish(self) -> std::io::Result<()> {
        self.w.finish()?;
        self.entry.prune();
        Ok(())
    }
}
