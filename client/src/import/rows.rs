//! Documents from files: NDJSON and CSV streamed a row at a time (a file larger than memory
//! imports), JSON (an array, or an object of objects) read whole; any of them gzip'd (`.gz`).

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Read};
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use ipld_core::ipld::Ipld;
use prolly_db::ipld_from_json;

use super::ImportError;

/// A file's kind, from its name (`.ndjson`/`.jsonl`, `.json`, `.csv`, each optionally `.gz`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Ndjson,
    Json,
    Csv,
}

impl Format {
    /// The kind and whether it is gzip'd; `None` for a name that says neither.
    pub fn of(name: &str) -> Option<(Format, bool)> {
        let (stem, gz) = match name.strip_suffix(".gz") {
            Some(stem) => (stem, true),
            None => (name, false),
        };
        let ext = Path::new(stem).extension()?.to_str()?.to_ascii_lowercase();
        let format = match ext.as_str() {
            "ndjson" | "jsonl" => Format::Ndjson,
            "json" => Format::Json,
            "csv" => Format::Csv,
            _ => return None,
        };
        Some((format, gz))
    }
}

/// How a CSV column's text becomes a value, where `--types` says.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ColumnType {
    Int,
    Float,
    Bool,
    String,
}

impl ColumnType {
    pub fn parse(name: &str) -> Option<ColumnType> {
        Some(match name {
            "int" | "integer" => ColumnType::Int,
            "float" | "number" => ColumnType::Float,
            "bool" | "boolean" => ColumnType::Bool,
            "string" | "str" | "text" => ColumnType::String,
            _ => return None,
        })
    }
}

/// One document and where it came from (1-based: the line of NDJSON, the data row of CSV, the
/// element of a JSON array).
pub struct Row {
    pub number: u64,
    pub doc: Ipld,
}

/// The rows of one file.
pub struct Rows {
    name: String,
    inner: Inner,
    number: u64,
    read: Arc<AtomicU64>,
    size: Option<u64>,
}

/// Counts the bytes read from the file itself (before any gunzip): progress against its size.
struct Counting<R> {
    inner: R,
    read: Arc<AtomicU64>,
}

impl<R: Read> Read for Counting<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.read.fetch_add(n as u64, Ordering::Relaxed);
        Ok(n)
    }
}

enum Inner {
    Lines(Box<dyn BufRead + Send>),
    Csv {
        reader: csv::Reader<Box<dyn Read + Send>>,
        columns: Vec<Column>,
    },
    Whole(std::vec::IntoIter<Ipld>),
}

impl Rows {
    /// Opens `path` (`-` is stdin, read as `format`) for reading rows.
    pub fn open(
        path: &str,
        format: Option<Format>,
        types: BTreeMap<String, ColumnType>,
    ) -> Result<Rows, ImportError> {
        let name = if path == "-" {
            "stdin".to_string()
        } else {
            path.to_string()
        };
        let (format, gz) = match (format, Format::of(path)) {
            (Some(f), found) => (f, found.is_some_and(|(_, gz)| gz) || path.ends_with(".gz")),
            (None, Some(found)) => found,
            (None, None) if path == "-" => (Format::Ndjson, false),
            (None, None) => {
                return Err(ImportError::file(
                    &name,
                    "unknown kind: name it .ndjson, .json or .csv (optionally .gz)",
                ));
            }
        };
        let read = Arc::new(AtomicU64::new(0));
        let (raw, size): (Box<dyn Read + Send>, Option<u64>) = if path == "-" {
            (Box::new(std::io::stdin()), None)
        } else {
            let file = std::fs::File::open(path).map_err(|e| ImportError::file(&name, e))?;
            let size = file.metadata().ok().map(|m| m.len());
            (Box::new(file), size)
        };
        let raw: Box<dyn Read + Send> = Box::new(Counting {
            inner: raw,
            read: read.clone(),
        });
        let raw: Box<dyn Read + Send> = if gz {
            Box::new(flate2::read::MultiGzDecoder::new(raw))
        } else {
            raw
        };
        let inner = match format {
            Format::Ndjson => Inner::Lines(Box::new(BufReader::with_capacity(1 << 16, raw))),
            Format::Csv => {
                let mut reader = csv::ReaderBuilder::new().flexible(false).from_reader(raw);
                let header: Vec<String> = reader
                    .headers()
                    .map_err(|e| ImportError::file(&name, format!("the CSV header: {e}")))?
                    .iter()
                    .map(str::to_string)
                    .collect();
                Inner::Csv {
                    reader,
                    columns: Column::in_key_order(header, &types),
                }
            }
            Format::Json => Inner::Whole(whole_json(&name, raw)?.into_iter()),
        };
        Ok(Rows {
            name,
            inner,
            number: 0,
            read,
            size,
        })
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    /// The file's size in bytes (not for stdin).
    pub fn size(&self) -> Option<u64> {
        self.size
    }

    /// A counter of the bytes of the file read so far, for progress while the rows are consumed.
    pub fn bytes_read(&self) -> Arc<AtomicU64> {
        self.read.clone()
    }
}

/// A JSON file: an array of documents, or an object whose members are documents (their keys
/// become `_id` where the document has none).
fn whole_json(name: &str, mut raw: Box<dyn Read + Send>) -> Result<Vec<Ipld>, ImportError> {
    let mut text = String::new();
    raw.read_to_string(&mut text)
        .map_err(|e| ImportError::file(name, e))?;
    let value: serde_json::Value = serde_json::from_str(&text)
        .map_err(|e| ImportError::file(name, format!("not JSON: {e}")))?;
    match value {
        serde_json::Value::Array(items) => items
            .iter()
            .enumerate()
            .map(|(i, v)| ipld_from_json(v).map_err(|e| ImportError::row(name, i as u64 + 1, e)))
            .collect(),
        serde_json::Value::Object(members) => members
            .iter()
            .enumerate()
            .map(|(i, (key, v))| {
                let mut doc =
                    ipld_from_json(v).map_err(|e| ImportError::row(name, i as u64 + 1, e))?;
                if let Ipld::Map(m) = &mut doc {
                    m.entry("_id".to_string())
                        .or_insert_with(|| Ipld::String(key.clone()));
                }
                Ok(doc)
            })
            .collect(),
        _ => Err(ImportError::file(
            name,
            "a JSON file holds an array or an object of documents",
        )),
    }
}

/// A CSV field as a value: integers, floats, true/false; empty and `NA` are null; `--types`
/// decides where given.
fn csv_value(text: &str, ty: Option<ColumnType>) -> Result<Ipld, String> {
    if text.is_empty() || text == "NA" {
        return Ok(Ipld::Null);
    }
    match ty {
        Some(ColumnType::String) => Ok(Ipld::String(text.to_string())),
        Some(ColumnType::Int) => text
            .parse::<i64>()
            .map(|i| Ipld::Integer(i.into()))
            .map_err(|_| format!("{text:?} is not an integer")),
        Some(ColumnType::Float) => text
            .parse::<f64>()
            .ok()
            .filter(|f| f.is_finite())
            .map(Ipld::Float)
            .ok_or_else(|| format!("{text:?} is not a number")),
        Some(ColumnType::Bool) => match text {
            "true" | "TRUE" | "True" => Ok(Ipld::Bool(true)),
            "false" | "FALSE" | "False" => Ok(Ipld::Bool(false)),
            _ => Err(format!("{text:?} is not true or false")),
        },
        None => Ok(if let Ok(i) = text.parse::<i64>() {
            Ipld::Integer(i.into())
        } else if let Some(f) = text.parse::<f64>().ok().filter(|f| f.is_finite()) {
            Ipld::Float(f)
        } else if text == "true" || text == "false" {
            Ipld::Bool(text == "true")
        } else {
            Ipld::String(text.to_string())
        }),
    }
}

/// A CSV column the documents keep: its field name, its place in the row and its type.
struct Column {
    name: String,
    position: usize,
    ty: Option<ColumnType>,
}

impl Column {
    /// The columns in the documents' key order, a repeated name keeping its last column (as
    /// inserting field by field would): each row's map is then built from sorted pairs, with no
    /// search per field.
    fn in_key_order(header: Vec<String>, types: &BTreeMap<String, ColumnType>) -> Vec<Column> {
        let mut last: BTreeMap<String, usize> = BTreeMap::new();
        for (position, name) in header.into_iter().enumerate() {
            last.insert(name, position);
        }
        last.into_iter()
            .map(|(name, position)| Column {
                ty: types.get(&name).copied(),
                name,
                position,
            })
            .collect()
    }
}

/// One CSV record as a document. An error names the first bad column in the file's order.
fn csv_document(columns: &[Column], record: &csv::StringRecord) -> Result<Ipld, String> {
    let mut fields = Vec::with_capacity(columns.len());
    let mut bad: Option<(usize, String)> = None;
    for column in columns {
        let text = record.get(column.position).unwrap_or_default();
        match csv_value(text, column.ty) {
            Ok(value) => fields.push((column.name.clone(), value)),
            Err(why) if bad.as_ref().is_none_or(|(p, _)| column.position < *p) => {
                bad = Some((column.position, format!("column {}: {why}", column.name)));
            }
            Err(_) => {}
        }
    }
    match bad {
        Some((_, why)) => Err(why),
        // Sorted and distinct: `from_iter` checks the order in one pass and builds in bulk.
        None => Ok(Ipld::Map(fields.into_iter().collect())),
    }
}

impl Iterator for Rows {
    type Item = Result<Row, ImportError>;

    fn next(&mut self) -> Option<Self::Item> {
        let name = &self.name;
        match &mut self.inner {
            Inner::Lines(reader) => loop {
                let mut line = String::new();
                match reader.read_line(&mut line) {
                    Ok(0) => return None,
                    Ok(_) => {}
                    Err(e) => return Some(Err(ImportError::file(name, e))),
                }
                self.number += 1;
                if line.trim().is_empty() {
                    continue;
                }
                let number = self.number;
                return Some(
                    prolly_db::parse_json(&line)
                        .map(|doc| Row { number, doc })
                        .map_err(|e| ImportError::row(name, number, e)),
                );
            },
            Inner::Csv { reader, columns } => {
                let mut record = csv::StringRecord::new();
                match reader.read_record(&mut record) {
                    Ok(false) => return None,
                    Ok(true) => {}
                    Err(e) => {
                        self.number += 1;
                        return Some(Err(ImportError::row(name, self.number, e)));
                    }
                }
                self.number += 1;
                let number = self.number;
                Some(
                    csv_document(columns, &record)
                        .map(|doc| Row { number, doc })
                        .map_err(|why| ImportError::row(name, number, why)),
                )
            }
            Inner::Whole(docs) => {
                let doc = docs.next()?;
                self.number += 1;
                Some(Ok(Row {
                    number: self.number,
                    doc,
                }))
            }
        }
    }
}
