//! The CSV reader (`csv` crate; UTF-8 or CP949).

use std::fs::File;
use std::io::{Cursor, Read};
use std::path::Path;
use std::sync::mpsc;

use super::rows::{Raw, Rows};
use crate::config::{AmountUnit, Locate};
use crate::error::Error;
use crate::read::encoding::Encoding;
use crate::read::footer::Footers;
use crate::read::row::{
    BadAmount, Columns, Val, amount_int, amount_text, coordinates, parse_f64, short_row,
};
use crate::read::watch::{Hashing, Watch};
/// A streamed CSV's bytes: the first 4 MiB, read to tell the encoding, then the rest of the
/// file, every byte hashed as it is read from the file (see `read::watch`).
type Source = std::io::Chain<Cursor<Vec<u8>>, Hashing<File>>;
pub(super) type CsvReader = csv::Reader<std::io::BufReader<Source>>;

/// Opens a CSV at its data rows: the reader, the encoding its text is decoded with, and the
/// column names of row `header_row`.
/// The bytes are hashed when `hash`.
pub(super) fn csv_open(
    path: &Path,
    configured: Encoding,
    header_row: usize,
    delim: u8,
    hash: bool,
) -> Result<(CsvReader, Encoding, Vec<String>), Error> {
    let open_err = |e: std::io::Error| Error::Open {
        path: path.to_path_buf(),
        message: e.to_string(),
    };
    let mut f = Hashing::new(File::open(path).map_err(open_err)?, hash);
    // The encoding, from the first 4 MiB when not configured (as for GDAL-read CSVs: not
    // UTF-8 means CP949).
    let mut sample = Vec::new();
    (&mut f)
        .take(4 << 20)
        .read_to_end(&mut sample)
        .map_err(open_err)?;
    let bom = sample.starts_with(b"\xEF\xBB\xBF");
    let enc = match configured {
        Encoding::Auto => match std::str::from_utf8(&sample) {
            Ok(_) => Encoding::Utf8,
            // A character cut at the end of the sample is not evidence.
            Err(e) if e.error_len().is_none() => Encoding::Utf8,
            Err(_) => Encoding::Cp949,
        },
        e => e,
    };
    let mut head = Cursor::new(sample);
    head.set_position(if bom { 3 } else { 0 });
    let f = head.chain(f);
    let mut r = csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .delimiter(delim)
        .from_reader(std::io::BufReader::with_capacity(1 << 20, f));
    let mut rec = csv::ByteRecord::new();
    for _ in 0..header_row {
        let more = r.read_byte_record(&mut rec).map_err(|e| Error::Read {
            path: path.to_path_buf(),
            layer: String::new(),
            message: e.to_string(),
        })?;
        if !more {
            return Err(Error::Read {
                path: path.to_path_buf(),
                layer: String::new(),
                message: format!("the file ends before header row {header_row}"),
            });
        }
    }
    let mut buf = String::new();
    let names = rec
        .iter()
        .map(|b| decode(b, enc, &mut buf).unwrap_or("").trim().to_string())
        .collect();
    Ok((r, enc, names))
}

/// A CSV field as text: UTF-8 as is, CP949 decoded (ASCII needs no decoding). `None` when the
/// bytes are not UTF-8 in a UTF-8 file.
pub(super) fn decode<'b>(bytes: &'b [u8], enc: Encoding, buf: &'b mut String) -> Option<&'b str> {
    if enc == Encoding::Cp949 && !bytes.is_ascii() {
        buf.clear();
        let (text, _) = encoding_rs::EUC_KR.decode_without_bom_handling(bytes);
        buf.push_str(&text);
        return Some(buf.as_str());
    }
    std::str::from_utf8(bytes).ok()
}

pub(super) fn produce_csv(rows: &mut Rows<'_>, delim: u8) -> Result<(), Error> {
    let spec = rows.spec;
    let watch = Watch::start(&spec.path)?;
    let hash = watch.must_hash();
    let (r, enc, names) = csv_open(&spec.path, spec.encoding, spec.header_row, delim, hash)?;
    rows.encoding = Some(enc);
    let idx = |name: &str| {
        names.iter().position(|n| n == name).ok_or_else(|| {
            rows.err(format!(
                "column `{name}` not found (columns: {})",
                crate::model::name_list(&names)
            ))
        })
    };
    let (x, y) = match &spec.locate {
        Locate::Point { x, y, .. } => (idx(x)?, idx(y)?),
        _ => {
            return Err(rows.err("a streamed CSV is located by x/y columns (by = \"point\")"));
        }
    };
    let mut fields = Fields {
        columns: Columns::of(spec, idx)?,
        names: &names,
        enc,
        xy: (x, y),
        unit: spec.amount.as_ref().map(|a| a.unit),
        text: Default::default(),
    };
    rows.announce();
    // Records are split off the bytes (csv_core) on a thread of their own, a batch at a time,
    // while this thread decodes, checks and pushes the previous batch: on 10 M rows the two
    // halves each took about as long as the other work of the run. The batches come back to
    // be filled again, so their records' buffers are reused.
    let (batch_tx, batch_rx) = mpsc::sync_channel::<Split>(2);
    let (back_tx, back_rx) = mpsc::channel::<Vec<csv::ByteRecord>>();
    std::thread::scope(|s| {
        let splitter = s.spawn(move || split(r, &batch_tx, &back_rx));
        for split in batch_rx {
            let (batch, n) = match split {
                Split::Records(batch, n) => (batch, n),
                Split::Failed(e) => {
                    return Err(rows.err(format!("after row {}: {e}", rows.rows)));
                }
            };
            for rec in &batch[..n] {
                if !fields.push(rows, rec)? {
                    return Ok(());
                }
            }
            // The splitter has gone when the file ended or failed.
            let _ = back_tx.send(batch);
        }
        match splitter.join() {
            Ok(r) => {
                rows.sha256 = checksum(r, &watch, rows)?;
                Ok(())
            }
            Err(_) => Err(rows.err("the CSV record splitter panicked")),
        }
    })
}

/// How a streamed CSV's records are read: the header's names, the encoding, the configured
/// columns and the x/y columns, the amount unit, and scratch text for fields decoded alone
/// (id, programme, funding, date, amount).
struct Fields<'n> {
    columns: Columns,
    names: &'n [String],
    enc: Encoding,
    xy: (usize, usize),
    unit: Option<AmountUnit>,
    text: [String; 5],
}

impl Fields<'_> {
    /// Pushes one record: a row, a reject (short row), or a skipped footer. `false` when the
    /// reading is to stop (the locating side is gone).
    ///
    /// # Errors
    /// A configured column whose field is not text in the file's encoding.
    fn push(&mut self, rows: &mut Rows<'_>, rec: &csv::ByteRecord) -> Result<bool, Error> {
        let (enc, names, c) = (self.enc, self.names, &self.columns);
        let [b_id, b_prog, b_fund, b_date, b_amount] = &mut self.text;
        if rec.len() < names.len() {
            if let Some(label) = footer(rec, enc, &rows.footers) {
                rows.skip(label);
                return Ok(true);
            }
            let id =
                c.id.and_then(|i| rec.get(i))
                    .and_then(|b| decode(b, enc, b_id));
            return rows.push_rejected(Val::text(id), short_row(rec.len(), names.len()));
        }
        let row = rows.rows + 1;
        let get = |i: usize| rec.get(i).unwrap_or(b"");
        // A UTF-8 record whose fields are UTF-8 together is checked once and its fields
        // sliced out of it (`str::get` refuses a slice that is not whole characters); any
        // other field is decoded alone, so only a configured column can fail.
        let whole = match enc {
            Encoding::Utf8 => std::str::from_utf8(rec.as_slice()).ok(),
            _ => None,
        };
        let field = |i: usize| whole.and_then(|t| t.get(rec.range(i)?));
        let id =
            c.id.and_then(|i| field(i).or_else(|| decode(get(i), enc, b_id)));
        let program = c
            .program
            .and_then(|i| field(i).or_else(|| decode(get(i), enc, b_prog)));
        let funding = c
            .funding
            .and_then(|i| field(i).or_else(|| decode(get(i), enc, b_fund)));
        let date = c
            .date
            .and_then(|i| field(i).or_else(|| decode(get(i), enc, b_date)));
        let mut not_utf8 = None;
        for (i, v) in [
            (c.id, id),
            (c.program, program),
            (c.funding, funding),
            (c.date, date),
        ] {
            if let (Some(i), None) = (i, v) {
                not_utf8 = Some(i);
            }
        }
        if let Some(i) = not_utf8 {
            return Err(rows.err(format!(
                "row {row}, column `{}`: not UTF-8 (the file's first 4 MiB were); set encoding = \"cp949\" on the input",
                crate::model::clip(&names[i], 64)
            )));
        }
        let amount = match (c.amount, self.unit) {
            (Some(i), Some(u)) => Some(csv_amount(get(i), u, b_amount)),
            _ => None,
        };
        let (xs, ys) = (get(self.xy.0), get(self.xy.1));
        let xy = coordinates(parse_f64(xs), parse_f64(ys), || {
            (
                String::from_utf8_lossy(xs).into_owned(),
                String::from_utf8_lossy(ys).into_owned(),
            )
        });
        // A footer row carries no usable point or amount: only such rows are looked at.
        if (xy.is_err() || matches!(amount, Some(Err(_))))
            && let Some(label) = footer(rec, enc, &rows.footers)
        {
            rows.skip(label);
            return Ok(true);
        }
        rows.push(Raw {
            id: Val::text(id),
            amount,
            program,
            program_key: None,
            funding,
            date: Val::text(date),
            xy,
        })
    }
}

/// Records per batch split off a CSV.
const SPLIT_BATCH: usize = 4096;

/// What the record splitter sends: a batch and how many of its records were read, or the
/// `csv` error that ended the reading (after the records before it).
enum Split {
    Records(Vec<csv::ByteRecord>, usize),
    Failed(csv::Error),
}

/// Splits the records of `r` into batches until the file ends, it fails, or the receiver has
/// gone; returns the reader (to finish its checksum).
fn split(
    mut r: CsvReader,
    tx: &mpsc::SyncSender<Split>,
    back: &mpsc::Receiver<Vec<csv::ByteRecord>>,
) -> CsvReader {
    loop {
        let mut batch = back.try_recv().unwrap_or_default();
        batch.resize_with(SPLIT_BATCH, csv::ByteRecord::new);
        let mut n = 0;
        let mut failed = None;
        while n < SPLIT_BATCH {
            match r.read_byte_record(&mut batch[n]) {
                Ok(true) => n += 1,
                Ok(false) => break,
                Err(e) => {
                    failed = Some(e);
                    break;
                }
            }
        }
        let full = n == SPLIT_BATCH;
        if n > 0 && tx.send(Split::Records(batch, n)).is_err() {
            return r;
        }
        if let Some(e) = failed {
            let _ = tx.send(Split::Failed(e));
            return r;
        }
        if !full {
            return r;
        }
    }
}

/// The label that makes a CSV row a subtotal or footer row (`read::footer`), if any.
fn footer(rec: &csv::ByteRecord, enc: Encoding, footers: &Footers) -> Option<String> {
    let mut buf = String::new();
    let cells: Vec<String> = rec
        .iter()
        .map(|b| decode(b, enc, &mut buf).unwrap_or("").to_string())
        .collect();
    footers.label(cells.iter().map(String::as_str))
}

/// After the last row: reads the file to its end (hashing it) and checks that it did not
/// change while read ([`Watch::finish`]); the checksum of its bytes.
fn checksum(r: CsvReader, watch: &Watch, rows: &Rows<'_>) -> Result<String, Error> {
    let (_, file) = r.into_inner().into_inner().into_inner();
    let (file, sha) = file
        .finish()
        .map_err(|e| rows.err(format!("reading to the end: {e}")))?;
    watch.finish(&rows.spec.layer.clone().unwrap_or_default(), &file, sha)
}

/// Plain digits are converted directly; anything else (separators, decimals, full-width
/// digits, signs) goes through the exact decimal parser.
pub(super) fn csv_amount(b: &[u8], unit: AmountUnit, buf: &mut String) -> Result<i64, BadAmount> {
    if !b.is_empty() && b.len() <= 18 && b.iter().all(u8::is_ascii_digit) {
        // At most 18 digits: below 10^18, within a u64.
        let v = b.iter().fold(0u64, |acc, d| acc * 10 + u64::from(d - b'0'));
        return amount_int(i128::from(v), unit);
    }
    buf.clear();
    buf.push_str(&String::from_utf8_lossy(b));
    amount_text(buf, unit)
}
