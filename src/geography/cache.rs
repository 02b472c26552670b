//! The cache content of a derived geography: its unions (`output_dir/cache/geography-…`).

use geo::{Coord, LineString, MultiPolygon, Polygon};

use super::Unions;
use crate::model::AdminLevel;

/// The cache content: per union its level, code, area change and polygons (rings of f64
/// pairs), little-endian, in (level, code) order.
pub(super) fn encode(unions: &Unions) -> Vec<u8> {
    let mut keys: Vec<&(AdminLevel, String)> = unions.keys().collect();
    keys.sort();
    let mut out = Vec::new();
    let put = |out: &mut Vec<u8>, n: usize| out.extend((n as u64).to_le_bytes());
    put(&mut out, keys.len());
    for k in keys {
        let (mp, change) = &unions[k];
        out.push(k.0 as u8);
        put(&mut out, k.1.len());
        out.extend(k.1.as_bytes());
        out.extend(change.to_le_bytes());
        put(&mut out, mp.0.len());
        for p in &mp.0 {
            put(&mut out, 1 + p.interiors().len());
            for r in std::iter::once(p.exterior()).chain(p.interiors()) {
                put(&mut out, r.0.len());
                for c in &r.0 {
                    out.extend(c.x.to_le_bytes());
                    out.extend(c.y.to_le_bytes());
                }
            }
        }
    }
    out
}

/// [`encode`]'s inverse; `None` for content it did not write (a refused entry is rebuilt).
pub(super) fn decode(bytes: &[u8]) -> Option<Unions> {
    let mut c = Cursor { bytes, at: 0 };
    let count = c.word()?;
    let mut out = Unions::new();
    for _ in 0..count {
        let level = *AdminLevel::ALL.get(usize::from(*c.take(1)?.first()?))?;
        let len = c.len()?;
        let code = String::from_utf8(c.take(len)?.to_vec()).ok()?;
        let change = f64::from_bits(c.word()?);
        let mut mp = Vec::new();
        for _ in 0..c.word()? {
            let mut rings = Vec::new();
            for _ in 0..c.word()? {
                let n = c.len()?;
                let coords = c
                    .take(n.checked_mul(16)?)?
                    .chunks_exact(16)
                    .map(|p| {
                        let (x, y) = p.split_at(8);
                        Some(Coord {
                            x: f64::from_le_bytes(x.try_into().ok()?),
                            y: f64::from_le_bytes(y.try_into().ok()?),
                        })
                    })
                    .collect::<Option<Vec<_>>>()?;
                rings.push(LineString(coords));
            }
            let mut it = rings.into_iter();
            let ext = it.next()?;
            mp.push(Polygon::new(ext, it.collect()));
        }
        out.insert((level, code), (MultiPolygon(mp), change));
    }
    (c.at == bytes.len()).then_some(out)
}

struct Cursor<'a> {
    bytes: &'a [u8],
    at: usize,
}

impl<'a> Cursor<'a> {
    fn take(&mut self, n: usize) -> Option<&'a [u8]> {
        let s = self.bytes.get(self.at..self.at.checked_add(n)?)?;
        self.at += n;
        Some(s)
    }

    fn word(&mut self) -> Option<u64> {
        Some(u64::from_le_bytes(self.take(8)?.try_into().ok()?))
    }

    fn len(&mut self) -> Option<usize> {
        usize::try_from(self.word()?).ok()
    }
}
