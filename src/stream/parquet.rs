//! The GeoParquet reader (`parquet`/`arrow`; Debian's GDAL 3.6 has no Parquet driver).

use std::fs::File;
use std::path::Path;
use std::sync::{Arc, Mutex};

use arrow_array::cast::AsArray;
use arrow_array::types::{
    Float32Type, Float64Type, Int8Type, Int16Type, Int32Type, Int64Type, UInt8Type, UInt16Type,
    UInt32Type, UInt64Type,
};
use arrow_array::{
    Array, ArrayRef, BinaryArray, BinaryViewArray, LargeBinaryArray, LargeStringArray,
    PrimitiveArray, RecordBatch, StringArray, StringViewArray,
};
use arrow_buffer::NullBuffer;
use arrow_schema::DataType;
use geo::Coord;
use parquet::arrow::arrow_reader::ParquetRecordBatchReader;
use parquet::file::reader::ChunkReader;
use sha2::{Digest, Sha256};

use super::plain::{Columns, Plain, YearPeriods};
use super::rows::{Raw, Rows};
use super::{CHUNK_ROWS, UNSEEN};
use crate::config::{AmountUnit, FundingSpec, Locate, ValueSpec};
use crate::error::Error;
use crate::model::RejectReason;
use crate::read::row::{Bad, BadAmount, Val, amount_int, amount_text, coordinates};
use crate::read::watch::Watch;

/// The GeoParquet file as the reader reads it, hashed in file order as the reading goes (see
/// [`crate::read::watch`]). The reader jumps about the file: the footer and metadata first,
/// then the column chunks of each row group in turn. So every read first hashes the file up to
/// the read's end through the same open file (the footer and metadata, which end the file, are
/// hashed last by [`Hashed::finish`]): the file is read twice, the second time from the page
/// cache, and the reading never runs ahead of the hashing by more than one row group.
#[derive(Clone)]
pub(super) struct Hashed(Arc<HashedFile>);

pub(super) struct HashedFile {
    file: File,
    len: u64,
    /// Where the footer's metadata starts (the file's length when it has no Parquet footer).
    tail: u64,
    state: Mutex<HashState>,
}

struct HashState {
    /// `None`: not hashed ([`Watch::must_hash`]).
    sha: Option<Sha256>,
    /// The file is hashed up to here.
    to: u64,
    buf: Vec<u8>,
}

/// A page header is read through a `Read` from its offset: the hashing runs this far ahead.
const HEADER_AHEAD: u64 = 64 << 10;

impl Hashed {
    /// Opens `path`, hashed when `hash`.
    pub(super) fn open(path: &Path, hash: bool) -> std::io::Result<Hashed> {
        use std::os::unix::fs::FileExt;
        let file = File::open(path)?;
        let len = file.metadata()?.len();
        let mut footer = [0u8; 8];
        let tail = match len.checked_sub(8) {
            Some(at) if file.read_exact_at(&mut footer, at).is_ok() && &footer[4..] == b"PAR1" => {
                let meta = u32::from_le_bytes([footer[0], footer[1], footer[2], footer[3]]);
                at.saturating_sub(u64::from(meta))
            }
            _ => len,
        };
        Ok(Hashed(Arc::new(HashedFile {
            file,
            len,
            tail,
            state: Mutex::new(HashState {
                sha: hash.then(Sha256::new),
                to: 0,
                buf: vec![0; 1 << 20],
            }),
        })))
    }

    /// Hashes the file up to `to` (through the same open file).
    fn advance(&self, to: u64) -> std::io::Result<()> {
        use std::os::unix::fs::FileExt;
        let mut guard = self
            .0
            .state
            .lock()
            .map_err(|_| std::io::Error::other("hashing state poisoned"))?;
        let st = &mut *guard;
        let Some(sha) = &mut st.sha else {
            return Ok(());
        };
        while st.to < to {
            let n = usize::try_from(to - st.to).map_or(st.buf.len(), |n| n.min(st.buf.len()));
            let n = self.0.file.read_at(&mut st.buf[..n], st.to)?;
            if n == 0 {
                // Shorter than when opened: the watch reports it.
                break;
            }
            sha.update(&st.buf[..n]);
            st.to += n as u64;
        }
        Ok(())
    }

    /// Before bytes `start..start + len` are read: hashes the file up to their end, unless
    /// they are the footer's, which are hashed last.
    fn before_read(&self, start: u64, len: u64) -> std::io::Result<()> {
        if start >= self.0.tail {
            return Ok(());
        }
        self.advance(start.saturating_add(len).min(self.0.tail))
    }

    /// After the last read: hashes the rest of the file and checks that it did not change
    /// while read ([`Watch::finish`]); the checksum of its bytes.
    pub(super) fn checksum(&self, watch: &Watch, rows: &Rows<'_>) -> Result<String, Error> {
        let sha = self
            .advance(u64::MAX)
            .and_then(|()| {
                let st = self.0.state.lock();
                let st = st.map_err(|_| std::io::Error::other("hashing state poisoned"))?;
                Ok(st
                    .sha
                    .clone()
                    .map(|s| crate::read::watch::hex(&s.finalize())))
            })
            .map_err(|e| rows.err(format!("reading to hash it: {e}")))?;
        let layer = rows.spec.layer.clone().unwrap_or_default();
        watch.finish(&layer, &self.0.file, sha)
    }
}

impl parquet::file::reader::Length for Hashed {
    fn len(&self) -> u64 {
        self.0.len
    }
}

impl parquet::file::reader::ChunkReader for Hashed {
    type T = <File as parquet::file::reader::ChunkReader>::T;

    fn get_read(&self, start: u64) -> parquet::errors::Result<Self::T> {
        self.before_read(start, HEADER_AHEAD)?;
        self.0.file.get_read(start)
    }

    fn get_bytes(&self, start: u64, length: usize) -> parquet::errors::Result<bytes::Bytes> {
        self.before_read(start, length as u64)?;
        self.0.file.get_bytes(start, length)
    }
}

type Builder<R> = parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder<R>;

/// Why a GeoParquet file or one of its columns cannot be read as smartgap reads it.
#[derive(Debug, thiserror::Error)]
pub enum ParquetError {
    #[error("{0}")]
    Io(#[from] std::io::Error),
    #[error("not a readable Parquet file: {0}")]
    Unreadable(#[from] parquet::errors::ParquetError),
    #[error("no GeoParquet `geo` metadata: locate by x/y columns instead (by = \"point\")")]
    NoGeoMetadata,
    #[error("GeoParquet `geo` metadata: {0}")]
    GeoMetadata(#[from] serde_json::Error),
    #[error("geometry column `{column}` is encoded as `{encoding}`; smartgap reads WKB GeoParquet")]
    Encoding { column: String, encoding: String },
    #[error("column `{name}` is {data_type}; expected text or numbers")]
    ColumnType { name: String, data_type: DataType },
    #[error("{0}; expected WKB (binary)")]
    GeometryType(DataType),
    #[error("column `{name}` not found (columns: {columns})")]
    MissingColumn { name: String, columns: String },
}

pub(super) fn parquet_builder<R: ChunkReader + 'static>(r: R) -> Result<Builder<R>, ParquetError> {
    Ok(Builder::try_new(r)?)
}

/// `builder` again over `r`, reading the text columns `names` as Arrow dictionaries.
pub(super) fn with_dictionaries<R: ChunkReader + Clone + 'static>(
    r: &R,
    builder: Builder<R>,
    names: &[&str],
) -> Result<Builder<R>, ParquetError> {
    use arrow_schema::{Field, Schema};
    let schema = builder.schema().clone();
    let text = |f: &Field| {
        names.contains(&f.name().as_str())
            && matches!(f.data_type(), DataType::Utf8 | DataType::LargeUtf8)
    };
    if !schema.fields().iter().any(|f| text(f)) {
        return Ok(builder);
    }
    let fields: Vec<Field> = schema
        .fields()
        .iter()
        .map(|f| {
            let f = f.as_ref().clone();
            if text(&f) {
                let t = f.data_type().clone();
                f.with_data_type(DataType::Dictionary(Box::new(DataType::Int32), Box::new(t)))
            } else {
                f
            }
        })
        .collect();
    let schema = std::sync::Arc::new(Schema::new_with_metadata(fields, schema.metadata().clone()));
    let options = parquet::arrow::arrow_reader::ArrowReaderOptions::new().with_schema(schema);
    Ok(Builder::try_new_with_options(r.clone(), options)?)
}

pub(super) fn parquet_field_names(path: &Path) -> Result<Vec<String>, ParquetError> {
    let b = parquet_builder(File::open(path)?)?;
    Ok(b.schema()
        .fields()
        .iter()
        .map(|f| f.name().clone())
        .collect())
}

/// The primary geometry column of a GeoParquet file and its CRS (`None`: declared unknown),
/// from the file's `geo` metadata (GeoParquet 1.x). A missing `crs` means OGC:CRS84.
pub(super) fn geoparquet_geometry(
    meta: &parquet::file::metadata::ParquetMetaData,
) -> Result<(String, Option<String>), ParquetError> {
    let geo = meta
        .file_metadata()
        .key_value_metadata()
        .and_then(|kv| kv.iter().find(|k| k.key == "geo"))
        .and_then(|k| k.value.as_deref())
        .ok_or(ParquetError::NoGeoMetadata)?;
    let geo: serde_json::Value = serde_json::from_str(geo)?;
    let column = geo["primary_column"]
        .as_str()
        .unwrap_or("geometry")
        .to_string();
    let col = &geo["columns"][&column];
    let encoding = col["encoding"].as_str().unwrap_or("");
    if !encoding.eq_ignore_ascii_case("wkb") {
        return Err(ParquetError::Encoding {
            column,
            encoding: encoding.to_string(),
        });
    }
    let crs = match col.get("crs") {
        None => Some("OGC:CRS84".to_string()),
        Some(serde_json::Value::Null) => None,
        Some(serde_json::Value::String(s)) => Some(s.clone()),
        Some(projjson) => match (
            projjson["id"]["authority"].as_str(),
            &projjson["id"]["code"],
        ) {
            (Some(a), serde_json::Value::Number(n)) => Some(format!("{a}:{n}")),
            (Some(a), serde_json::Value::String(c)) => Some(format!("{a}:{c}")),
            // PROJ reads PROJJSON itself.
            _ => Some(projjson.to_string()),
        },
    };
    Ok((column, crs))
}

/// The indices of the `wanted` columns in `names`, ascending: the projection a Parquet reader
/// decodes.
fn column_roots(
    wanted: impl IntoIterator<Item = String>,
    names: &[String],
) -> Result<Vec<usize>, ParquetError> {
    let mut roots = Vec::new();
    for w in wanted {
        match names.iter().position(|n| *n == w) {
            Some(i) => roots.push(i),
            None => {
                return Err(ParquetError::MissingColumn {
                    name: w,
                    columns: crate::model::name_list(names),
                });
            }
        }
    }
    roots.sort_unstable();
    roots.dedup();
    Ok(roots)
}

pub(super) fn produce_parquet(rows: &mut Rows<'_>) -> Result<(), Error> {
    let spec = rows.spec;
    let watch = Watch::start(&spec.path)?;
    let file = Hashed::open(&spec.path, watch.must_hash()).map_err(|e| Error::Open {
        path: spec.path.clone(),
        message: e.to_string(),
    })?;
    let (reader, wanted) = open_batches(rows, &file)?;
    let mut batches = Batches {
        wanted,
        unit: spec.amount.as_ref().map(|a| a.unit),
        years: YearPeriods::new(),
        text: Default::default(),
    };
    for batch in reader {
        let batch = batch.map_err(|e| rows.err(format!("after row {}: {e}", rows.rows)))?;
        if !batches.push(rows, &batch)? {
            return Ok(());
        }
    }
    rows.sha256 = file.checksum(&watch, rows)?;
    Ok(())
}

/// The configured columns of a streamed GeoParquet input, by name (`None`: not configured).
struct Wanted {
    id: Option<String>,
    amount: Option<String>,
    program: Option<String>,
    funding: Option<String>,
    date: Option<String>,
    /// The WKB geometry column, or the x and y columns.
    geom: Option<String>,
    x: Option<String>,
    y: Option<String>,
}

/// Opens the reader of `file`'s configured columns, in batches of [`CHUNK_ROWS`], and tells
/// `rows` the CRS (announced before the first rows, so the grids load meanwhile).
fn open_batches(
    rows: &mut Rows<'_>,
    file: &Hashed,
) -> Result<(ParquetRecordBatchReader, Wanted), Error> {
    let spec = rows.spec;
    let builder = parquet_builder(file.clone()).map_err(|e| rows.err(e.to_string()))?;
    // The program column decoded as a dictionary: a few distinct values, each read and
    // interned once per batch instead of once per row.
    let dictionary: Vec<&str> = match &spec.program {
        ValueSpec::Field(f) => vec![f.as_str()],
        _ => Vec::new(),
    };
    let builder =
        with_dictionaries(file, builder, &dictionary).map_err(|e| rows.err(e.to_string()))?;
    let schema = builder.schema().clone();
    let names: Vec<String> = schema.fields().iter().map(|f| f.name().clone()).collect();
    let (geom, xy) = match &spec.locate {
        Locate::Geometry { crs } => {
            let (column, file_crs) =
                geoparquet_geometry(builder.metadata()).map_err(|e| rows.err(e.to_string()))?;
            let crs = crs.clone().or(file_crs).ok_or_else(|| {
                rows.err("the GeoParquet file declares its CRS unknown; set locate.crs")
            })?;
            rows.set_crs(crs);
            (Some(column), None)
        }
        Locate::Point { x, y, .. } => (None, Some((x.clone(), y.clone()))),
        _ => return Err(rows.err("a streamed input is located by point or geometry")),
    };
    rows.announce();
    let field = |v: &ValueSpec| match v {
        ValueSpec::Field(f) => Some(f.clone()),
        _ => None,
    };
    let (x, y) = xy.unzip();
    let wanted = Wanted {
        id: spec.id_field.clone(),
        amount: spec.amount.as_ref().map(|a| a.field.clone()),
        program: field(&spec.program),
        funding: match &spec.funding {
            FundingSpec::Field(f) => Some(f.clone()),
            FundingSpec::Const(_) => None,
        },
        date: field(&spec.date),
        geom,
        x,
        y,
    };
    let columns = [
        &wanted.id,
        &wanted.amount,
        &wanted.program,
        &wanted.funding,
        &wanted.date,
        &wanted.geom,
        &wanted.x,
        &wanted.y,
    ];
    let roots = column_roots(columns.into_iter().flatten().cloned(), &names)
        .map_err(|e| rows.err(e.to_string()))?;
    let mask = parquet::arrow::ProjectionMask::roots(builder.parquet_schema(), roots);
    let reader = builder
        .with_projection(mask)
        .with_batch_size(CHUNK_ROWS)
        .build()
        .map_err(|e| rows.err(e.to_string()))?;
    Ok((reader, wanted))
}

/// What the reading keeps from batch to batch: the columns' names, the amount unit, the
/// periods of the years met and scratch text for values read as text (id, amount, programme,
/// funding, date, x, y).
struct Batches {
    wanted: Wanted,
    unit: Option<AmountUnit>,
    years: YearPeriods,
    text: [String; 7],
}

impl Batches {
    /// Pushes the rows of `batch`: plain runs straight from the Arrow buffers, the rest one by
    /// one. `false` when the reading is to stop (the locating side is gone).
    fn push(&mut self, rows: &mut Rows<'_>, batch: &RecordBatch) -> Result<bool, Error> {
        let col = |name: &Option<String>| -> Result<Option<Column>, Error> {
            match name {
                None => Ok(None),
                Some(n) => {
                    let a = batch
                        .column_by_name(n)
                        .ok_or_else(|| rows.err(format!("column `{n}` not found")))?;
                    Column::new(a.clone(), n)
                        .map(Some)
                        .map_err(|e| rows.err(e.to_string()))
                }
            }
        };
        let w = &self.wanted;
        let id = col(&w.id)?;
        let amount = col(&w.amount)?;
        let program = col(&w.program)?;
        let funding = col(&w.funding)?;
        let date = col(&w.date)?;
        let x = col(&w.x)?;
        let y = col(&w.y)?;
        rows.program_memo.clear();
        if let Some(n) = program.as_ref().and_then(Column::dictionary_len) {
            rows.program_memo.resize(n, UNSEEN);
        }
        let wkb = match &w.geom {
            Some(g) => {
                let a = batch
                    .column_by_name(g)
                    .ok_or_else(|| rows.err(format!("column `{g}` not found")))?;
                Some(Wkb::new(a).map_err(|e| rows.err(format!("column `{g}`: {e}")))?)
            }
            None => None,
        };
        let plain = Plain::of(
            rows,
            &Columns {
                id: id.as_ref(),
                amount: amount.as_ref(),
                program: program.as_ref(),
                date: date.as_ref(),
                wkb: wkb.as_ref(),
            },
        );
        let [b_id, b_amount, b_prog, b_fund, b_date, b_x, b_y] = &mut self.text;
        let (mut i, n) = (0, batch.num_rows());
        while i < n {
            if let Some(p) = &plain {
                match p.run(rows, &mut self.years, i, n)? {
                    None => return Ok(false),
                    Some(next) if next == n => break,
                    Some(next) => i = next,
                }
            }
            let xy = match (&wkb, &x, &y) {
                (Some(w), _, _) => w.point(i),
                (None, Some(x), Some(y)) => coordinates(x.number(i, b_x), y.number(i, b_y), || {
                    (
                        x.text(i, b_x).unwrap_or("").to_string(),
                        y.text(i, b_y).unwrap_or("").to_string(),
                    )
                }),
                _ => Err((RejectReason::LocationMissing, "no location".into())),
            };
            let raw = Raw {
                id: id.as_ref().map_or(Val::Null, |c| c.val(i, b_id)),
                amount: match (&amount, self.unit) {
                    (Some(c), Some(u)) => Some(c.amount(i, u, b_amount)),
                    _ => None,
                },
                program: program.as_ref().and_then(|c| c.text(i, b_prog)),
                program_key: program
                    .as_ref()
                    .filter(|c| c.keys.is_some())
                    .and_then(|c| c.index(i)),
                funding: funding.as_ref().and_then(|c| c.text(i, b_fund)),
                date: date.as_ref().map_or(Val::Null, |c| c.val(i, b_date)),
                xy,
            };
            if !rows.push(raw)? {
                return Ok(false);
            }
            i += 1;
        }
        Ok(true)
    }
}

/// One Arrow column of text or numbers, dictionary-encoded or not, its type resolved once per
/// batch: reading a value is a match on [`Typed`] and a bit of the null bitmap, not a chain of
/// dynamic calls (`is_null`, `data_type`, downcast) per value.
pub(super) struct Column {
    pub(super) values: Typed,
    /// Validity of `values` (`None`: no nulls).
    pub(super) nulls: Option<NullBuffer>,
    /// Dictionary keys, normalised to indices into `values` (`NULL_KEY`: null).
    pub(super) keys: Option<Vec<u32>>,
}

pub(super) const NULL_KEY: u32 = u32::MAX;

/// The column types a value column may have.
pub(super) enum Typed {
    Utf8(StringArray),
    LargeUtf8(LargeStringArray),
    Utf8View(StringViewArray),
    I8(PrimitiveArray<Int8Type>),
    I16(PrimitiveArray<Int16Type>),
    I32(PrimitiveArray<Int32Type>),
    I64(PrimitiveArray<Int64Type>),
    U8(PrimitiveArray<UInt8Type>),
    U16(PrimitiveArray<UInt16Type>),
    U32(PrimitiveArray<UInt32Type>),
    U64(PrimitiveArray<UInt64Type>),
    F32(PrimitiveArray<Float32Type>),
    F64(PrimitiveArray<Float64Type>),
}

impl Typed {
    pub(super) fn of(a: &ArrayRef) -> Option<Typed> {
        Some(match a.data_type() {
            DataType::Utf8 => Typed::Utf8(a.as_string::<i32>().clone()),
            DataType::LargeUtf8 => Typed::LargeUtf8(a.as_string::<i64>().clone()),
            DataType::Utf8View => Typed::Utf8View(a.as_string_view().clone()),
            DataType::Int8 => Typed::I8(a.as_primitive().clone()),
            DataType::Int16 => Typed::I16(a.as_primitive().clone()),
            DataType::Int32 => Typed::I32(a.as_primitive().clone()),
            DataType::Int64 => Typed::I64(a.as_primitive().clone()),
            DataType::UInt8 => Typed::U8(a.as_primitive().clone()),
            DataType::UInt16 => Typed::U16(a.as_primitive().clone()),
            DataType::UInt32 => Typed::U32(a.as_primitive().clone()),
            DataType::UInt64 => Typed::U64(a.as_primitive().clone()),
            DataType::Float32 => Typed::F32(a.as_primitive().clone()),
            DataType::Float64 => Typed::F64(a.as_primitive().clone()),
            _ => return None,
        })
    }

    /// An integer value exactly, `None` for text and floats.
    pub(super) fn int(&self, k: usize) -> Option<i128> {
        Some(match self {
            Typed::I8(a) => i128::from(a.value(k)),
            Typed::I16(a) => i128::from(a.value(k)),
            Typed::I32(a) => i128::from(a.value(k)),
            Typed::I64(a) => i128::from(a.value(k)),
            Typed::U8(a) => i128::from(a.value(k)),
            Typed::U16(a) => i128::from(a.value(k)),
            Typed::U32(a) => i128::from(a.value(k)),
            Typed::U64(a) => i128::from(a.value(k)),
            _ => return None,
        })
    }
}

impl Column {
    pub(super) fn new(array: ArrayRef, name: &str) -> Result<Column, ParquetError> {
        let (values, keys) = match array.data_type() {
            DataType::Dictionary(..) => {
                let d = array.as_any_dictionary();
                let nk = d.normalized_keys();
                let keys = (0..array.len())
                    .map(|i| {
                        if array.is_null(i) {
                            NULL_KEY
                        } else {
                            u32::try_from(nk[i]).unwrap_or(NULL_KEY)
                        }
                    })
                    .collect();
                (d.values().clone(), Some(keys))
            }
            _ => (array, None),
        };
        let Some(typed) = Typed::of(&values) else {
            return Err(ParquetError::ColumnType {
                name: name.to_string(),
                data_type: values.data_type().clone(),
            });
        };
        Ok(Column {
            nulls: values.logical_nulls(),
            values: typed,
            keys,
        })
    }

    /// The number of distinct values of a dictionary column (its dictionary's length).
    pub(super) fn dictionary_len(&self) -> Option<usize> {
        self.keys.as_ref()?;
        Some(match &self.values {
            Typed::Utf8(a) => a.len(),
            Typed::LargeUtf8(a) => a.len(),
            Typed::Utf8View(a) => a.len(),
            Typed::I8(a) => a.len(),
            Typed::I16(a) => a.len(),
            Typed::I32(a) => a.len(),
            Typed::I64(a) => a.len(),
            Typed::U8(a) => a.len(),
            Typed::U16(a) => a.len(),
            Typed::U32(a) => a.len(),
            Typed::U64(a) => a.len(),
            Typed::F32(a) => a.len(),
            Typed::F64(a) => a.len(),
        })
    }

    pub(super) fn index(&self, i: usize) -> Option<usize> {
        let i = match &self.keys {
            Some(k) => match k[i] {
                NULL_KEY => return None,
                k => k as usize,
            },
            None => i,
        };
        match &self.nulls {
            Some(n) if n.is_null(i) => None,
            _ => Some(i),
        }
    }

    /// The value as text (numbers formatted), `None` when null.
    pub(super) fn text<'s>(&'s self, i: usize, buf: &'s mut String) -> Option<&'s str> {
        use std::fmt::Write as _;
        let k = self.index(i)?;
        buf.clear();
        let _ = match &self.values {
            Typed::Utf8(a) => return Some(a.value(k)),
            Typed::LargeUtf8(a) => return Some(a.value(k)),
            Typed::Utf8View(a) => return Some(a.value(k)),
            // Shortest text that reads back to the same float: what the writer meant.
            Typed::F32(a) => write!(buf, "{}", a.value(k)),
            Typed::F64(a) => write!(buf, "{}", a.value(k)),
            t => write!(buf, "{}", t.int(k).unwrap_or_default()),
        };
        Some(buf.as_str())
    }

    /// Integers as numbers, anything else as text.
    pub(super) fn val<'s>(&'s self, i: usize, buf: &'s mut String) -> Val<'s> {
        let Some(k) = self.index(i) else {
            return Val::Null;
        };
        match &self.values {
            Typed::I64(a) => Val::Int(a.value(k)),
            Typed::I32(a) => Val::Int(i64::from(a.value(k))),
            Typed::I16(a) => Val::Int(i64::from(a.value(k))),
            _ => Val::text(self.text(i, buf)),
        }
    }

    /// An integer column exactly; anything else through its text.
    pub(super) fn amount(
        &self,
        i: usize,
        unit: AmountUnit,
        buf: &mut String,
    ) -> Result<i64, BadAmount> {
        let Some(k) = self.index(i) else {
            return Err((RejectReason::AmountMissing, "amount is empty".into(), None));
        };
        let int = match &self.values {
            Typed::I64(_) | Typed::I32(_) | Typed::U64(_) | Typed::U32(_) => self.values.int(k),
            _ => None,
        };
        match int {
            Some(v) => amount_int(v, unit),
            None => amount_text(self.text(i, buf).unwrap_or(""), unit),
        }
    }

    pub(super) fn number(&self, i: usize, buf: &mut String) -> Option<f64> {
        let k = self.index(i)?;
        match &self.values {
            Typed::F64(a) => Some(a.value(k)),
            Typed::F32(a) => Some(f64::from(a.value(k))),
            _ => self.text(i, buf)?.trim().parse().ok(),
        }
        .filter(|v: &f64| v.is_finite())
    }
}

/// A column of WKB geometries.
pub(super) struct Wkb {
    pub(super) values: Binaries,
    pub(super) nulls: Option<NullBuffer>,
}

pub(super) enum Binaries {
    Binary(BinaryArray),
    Large(LargeBinaryArray),
    View(BinaryViewArray),
}

impl Wkb {
    pub(super) fn new(a: &ArrayRef) -> Result<Wkb, ParquetError> {
        let values = match a.data_type() {
            DataType::Binary => Binaries::Binary(a.as_binary::<i32>().clone()),
            DataType::LargeBinary => Binaries::Large(a.as_binary::<i64>().clone()),
            DataType::BinaryView => Binaries::View(a.as_binary_view().clone()),
            t => return Err(ParquetError::GeometryType(t.clone())),
        };
        Ok(Wkb {
            values,
            nulls: a.logical_nulls(),
        })
    }

    pub(super) fn point(&self, i: usize) -> Result<Coord<f64>, Bad> {
        if self.nulls.as_ref().is_some_and(|n| n.is_null(i)) {
            return Err((RejectReason::LocationMissing, "no geometry".into()));
        }
        let bytes = match &self.values {
            Binaries::Binary(a) => a.value(i),
            Binaries::Large(a) => a.value(i),
            Binaries::View(a) => a.value(i),
        };
        wkb_point(bytes)
    }
}

/// Decodes a WKB (ISO or EWKB) point.
pub fn wkb_point(b: &[u8]) -> Result<Coord<f64>, Bad> {
    let bad = |m: String| (RejectReason::CoordinateInvalid, m);
    let le = match b.first() {
        Some(1) => true,
        Some(0) => false,
        Some(x) => return Err(bad(format!("WKB byte order {x} is neither 0 nor 1"))),
        None => return Err((RejectReason::LocationMissing, "empty WKB geometry".into())),
    };
    let word = |off: usize, n: usize| -> Option<&[u8]> { b.get(off..off + n) };
    let u32_at = |off| {
        word(off, 4).map(|w| {
            let w: [u8; 4] = w.try_into().unwrap_or_default();
            if le {
                u32::from_le_bytes(w)
            } else {
                u32::from_be_bytes(w)
            }
        })
    };
    let f64_at = |off| {
        word(off, 8).map(|w| {
            let w: [u8; 8] = w.try_into().unwrap_or_default();
            if le {
                f64::from_le_bytes(w)
            } else {
                f64::from_be_bytes(w)
            }
        })
    };
    let t = u32_at(1).ok_or_else(|| bad(format!("WKB of {} bytes is truncated", b.len())))?;
    // EWKB flags: 0x80000000 Z, 0x40000000 M, 0x20000000 SRID follows; ISO: 1000s for Z/M.
    let off = if t & 0x2000_0000 != 0 { 9 } else { 5 };
    let base = (t & 0x0FFF_FFFF) % 1000;
    if base != 1 {
        let name = match base {
            2 => "LineString",
            3 => "Polygon",
            4 => "MultiPoint",
            5 => "MultiLineString",
            6 => "MultiPolygon",
            7 => "GeometryCollection",
            _ => "unknown",
        };
        return Err(bad(format!(
            "expected a point, found a WKB {name} (type {t}); polygon inputs are read with stream = false"
        )));
    }
    match (f64_at(off), f64_at(off + 8)) {
        (Some(x), Some(y)) if x.is_nan() && y.is_nan() => {
            // WKB writes POINT EMPTY as NaN, NaN.
            Err((
                RejectReason::LocationMissing,
                "empty geometry: POINT without coordinates".into(),
            ))
        }
        (Some(x), Some(y)) => Ok(Coord { x, y }),
        _ => Err(bad(format!("WKB of {} bytes is truncated", b.len()))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    use crate::config::AmountUnit;
    use crate::read::row::Val;
    use arrow_array::types::Int32Type;
    use arrow_array::{DictionaryArray, Int16Array, Int64Array};
    use std::sync::Arc;

    #[test]
    fn the_projection_is_the_wanted_columns_ascending_or_names_the_missing_one() {
        let names: Vec<String> = ["id", "lon", "lat", "amount"].map(String::from).to_vec();
        let wanted = ["amount", "lon", "lat", "lon"].map(String::from);
        assert_eq!(column_roots(wanted, &names).unwrap(), vec![1, 2, 3]);
        let e = column_roots(["x".to_string()], &names).unwrap_err();
        assert_eq!(
            e.to_string(),
            "column `x` not found (columns: id, lon, lat, amount)"
        );
    }

    #[test]
    fn column_values_and_nulls_plain_and_dictionary() {
        let mut buf = String::new();
        let ints: ArrayRef = Arc::new(Int64Array::from(vec![Some(7), None, Some(-3)]));
        let c = Column::new(ints, "n").unwrap();
        assert_eq!(c.index(1), None);
        assert!(matches!(c.val(0, &mut buf), Val::Int(7)));
        assert!(matches!(c.val(1, &mut buf), Val::Null));
        assert_eq!(c.text(2, &mut buf), Some("-3"));
        assert_eq!(c.amount(0, AmountUnit::Krw, &mut buf).ok(), Some(7));
        assert!(c.amount(1, AmountUnit::Krw, &mut buf).is_err());

        let years: ArrayRef = Arc::new(Int16Array::from(vec![None, Some(2015)]));
        let c = Column::new(years, "year").unwrap();
        assert!(matches!(c.val(0, &mut buf), Val::Null));
        assert!(matches!(c.val(1, &mut buf), Val::Int(2015)));

        let text: ArrayRef = Arc::new(LargeStringArray::from(vec![Some("a"), None, Some("1.5")]));
        let c = Column::new(text, "t").unwrap();
        assert_eq!(c.text(0, &mut buf), Some("a"));
        assert_eq!(c.text(1, &mut buf), None);
        assert_eq!(c.number(2, &mut buf), Some(1.5));
        assert_eq!(c.dictionary_len(), None);

        // A null key and a key pointing at a null dictionary value both read as null.
        let dict: DictionaryArray<Int32Type> = vec![Some("x"), None, Some("y"), Some("x")]
            .into_iter()
            .collect();
        let values = StringArray::from(vec![Some("x"), Some("y"), None]);
        let keys = arrow_array::Int32Array::from(vec![Some(0), None, Some(1), Some(2)]);
        let with_null_value =
            DictionaryArray::<Int32Type>::try_new(keys, Arc::new(values)).unwrap();
        let c = Column::new(Arc::new(dict), "p").unwrap();
        assert_eq!(c.dictionary_len(), Some(2));
        let got: Vec<Option<String>> = (0..4)
            .map(|i| c.text(i, &mut buf).map(str::to_string))
            .collect();
        assert_eq!(
            got,
            [Some("x".into()), None, Some("y".into()), Some("x".into())]
        );
        assert_eq!(c.index(3), c.index(0));
        let c = Column::new(Arc::new(with_null_value), "p").unwrap();
        let got: Vec<Option<String>> = (0..4)
            .map(|i| c.text(i, &mut buf).map(str::to_string))
            .collect();
        assert_eq!(got, [Some("x".into()), None, Some("y".into()), None]);

        let floats: ArrayRef = Arc::new(arrow_array::BooleanArray::from(vec![true]));
        assert!(Column::new(floats, "b").is_err());
    }

    #[test]
    fn wkb_nulls_and_points() {
        let mut p = vec![1u8, 1, 0, 0, 0];
        p.extend(127.5f64.to_le_bytes());
        p.extend(37.25f64.to_le_bytes());
        let a: ArrayRef = Arc::new(BinaryArray::from(vec![Some(p.as_slice()), None]));
        let w = Wkb::new(&a).unwrap();
        let c = w.point(0).unwrap();
        assert_eq!((c.x, c.y), (127.5, 37.25));
        assert_eq!(w.point(1).unwrap_err().0, RejectReason::LocationMissing);
    }
}
