//! Documents from files: NDJSON and CSV streamed a row at a time (a file larger than memory
//! imports), JSON (an array, or an object of objects) read whole; any of them gzip'd (`.gz`).

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Read};
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use ipld_core::ipld::Ipld;
use prolly_db::{FlatDocument, ipld_from_json};
use prolly_tree::Scalar;

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

/// A CSV file being read.
struct Table {
    reader: csv::Reader<Box<dyn Read + Send>>,
    columns: Vec<Column>,
    /// The record read last, its buffers reused.
    record: csv::StringRecord,
    plan: Option<FlatPlan>,
}

impl Table {
    /// Reads the next record, counting it in `number` (a bad record counts too, so that its
    /// error names its row); returns its row number, or `None` at the end.
    fn next_record(&mut self, name: &str, number: &mut u64) -> Option<Result<u64, ImportError>> {
        let read = self.reader.read_record(&mut self.record);
        if matches!(read, Ok(false)) {
            return None;
        }
        *number += 1;
        Some(
            read.map(|_| *number)
                .map_err(|e| ImportError::row(name, *number, e)),
        )
    }
}

enum Inner {
    Lines(Box<dyn BufRead + Send>),
    Csv(Box<Table>),
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
                Inner::Csv(Box::new(Table {
                    reader,
                    columns: Column::in_key_order(header, &types),
                    record: csv::StringRecord::new(),
                    plan: None,
                }))
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
fn csv_scalar(text: &str, ty: Option<ColumnType>) -> Result<Scalar<'_>, String> {
    if text.is_empty() || text == "NA" {
        return Ok(Scalar::Null);
    }
    match ty {
        Some(ColumnType::String) => Ok(Scalar::Text(text)),
        Some(ColumnType::Int) => text
            .parse::<i64>()
            .map(Scalar::Integer)
            .map_err(|_| format!("{text:?} is not an integer")),
        Some(ColumnType::Float) => text
            .parse::<f64>()
            .ok()
            .filter(|f| f.is_finite())
            .map(Scalar::Float)
            .ok_or_else(|| format!("{text:?} is not a number")),
        Some(ColumnType::Bool) => match text {
            "true" | "TRUE" | "True" => Ok(Scalar::Bool(true)),
            "false" | "FALSE" | "False" => Ok(Scalar::Bool(false)),
            _ => Err(format!("{text:?} is not true or false")),
        },
        None => Ok(if let Ok(i) = text.parse::<i64>() {
            Scalar::Integer(i)
        } else if let Some(f) = text.parse::<f64>().ok().filter(|f| f.is_finite()) {
            Scalar::Float(f)
        } else if text == "true" || text == "false" {
            Scalar::Bool(text == "true")
        } else {
            Scalar::Text(text)
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

/// One CSV record's values, column by column (in `columns`' order). An error names the first
/// bad column in the file's order.
fn csv_cells<'r>(
    columns: &[Column],
    record: &'r csv::StringRecord,
) -> Result<Vec<Scalar<'r>>, String> {
    let mut cells = Vec::with_capacity(columns.len());
    let mut bad: Option<(usize, String)> = None;
    for column in columns {
        let text = record.get(column.position).unwrap_or_default();
        match csv_scalar(text, column.ty) {
            Ok(value) => cells.push(value),
            Err(why) => {
                if bad.as_ref().is_none_or(|(p, _)| column.position < *p) {
                    bad = Some((column.position, format!("column {}: {why}", column.name)));
                }
                cells.push(Scalar::Null);
            }
        }
    }
    match bad {
        Some((_, why)) => Err(why),
        None => Ok(cells),
    }
}

/// One CSV record as a document.
fn csv_document(columns: &[Column], record: &csv::StringRecord) -> Result<Ipld, String> {
    let cells = csv_cells(columns, record)?;
    // Sorted and distinct: `from_iter` checks the order in one pass and builds in bulk.
    Ok(Ipld::Map(
        (columns.iter().zip(cells))
            .map(|(column, cell)| (column.name.clone(), cell.to_ipld()))
            .collect(),
    ))
}

/// How a table's rows become flat documents for one `--id`: where the id comes from, and the
/// other columns in DAG-CBOR's key order.
struct FlatPlan {
    id_field: Option<String>,
    /// The id's column (in `columns`), if there is one.
    id: Option<usize>,
    /// The body's columns (in `columns`), in DAG-CBOR's key order.
    body: Vec<usize>,
}

impl FlatPlan {
    fn new(columns: &[Column], id_field: Option<&str>) -> FlatPlan {
        let id_name = id_field.unwrap_or(ID);
        let mut body: Vec<usize> = (0..columns.len())
            .filter(|&i| columns[i].name != ID && columns[i].name != id_name)
            .collect();
        body.sort_by(|&a, &b| {
            let (a, b) = (&columns[a].name, &columns[b].name);
            (a.len(), a).cmp(&(b.len(), b))
        });
        FlatPlan {
            id_field: id_field.map(str::to_string),
            id: columns.iter().position(|c| c.name == id_name),
            body,
        }
    }

    /// The record as a flat document, its `_id` chosen as [`super::with_id`] chooses it.
    fn document(
        &self,
        columns: &[Column],
        record: &csv::StringRecord,
        number: u64,
    ) -> Result<FlatDocument, String> {
        let cells = csv_cells(columns, record)?;
        let id = match (&self.id_field, self.id) {
            (Some(field), None) => return Err(format!("no {field:?} to use as _id")),
            (Some(field), Some(at)) if cells[at] == Scalar::Null => {
                return Err(format!("no {field:?} to use as _id"));
            }
            (_, Some(at)) => cells[at].to_ipld(),
            (None, None) => Ipld::Integer(number.into()),
        };
        let fields = (self.body.iter()).map(|&i| (columns[i].name.as_str(), cells[i]));
        FlatDocument::new(id, fields).map_err(|e| e.to_string())
    }
}

const ID: &str = "_id";

/// A row read flat: its number, and its document unless an earlier import committed it.
pub struct FlatRow {
    pub number: u64,
    pub doc: Option<FlatDocument>,
}

impl Rows {
    /// Whether the rows are a table's (CSV): [`Rows::next_flat`] reads them.
    pub fn is_table(&self) -> bool {
        matches!(self.inner, Inner::Csv(_))
    }

    /// The next row of a table as a flat document, with the same values, `_id` and errors as
    /// the next row as a map and [`super::with_id`] give; rows up to `done` are read and
    /// checked but not made documents. `None` at the end, and for rows that are not a table's.
    pub fn next_flat(
        &mut self,
        id_field: Option<&str>,
        done: u64,
    ) -> Option<Result<FlatRow, ImportError>> {
        let Inner::Csv(table) = &mut self.inner else {
            return None;
        };
        let number = match table.next_record(&self.name, &mut self.number)? {
            Ok(number) => number,
            Err(e) => return Some(Err(e)),
        };
        let Table {
            columns,
            record,
            plan,
            ..
        } = &mut **table;
        if plan
            .as_ref()
            .is_none_or(|p| p.id_field.as_deref() != id_field)
        {
            *plan = Some(FlatPlan::new(columns, id_field));
        }
        let plan = plan.as_ref().expect("made above");
        let doc = if number <= done {
            csv_cells(columns, record).map(|_| None)
        } else {
            plan.document(columns, record, number).map(Some)
        };
        Some(
            doc.map(|doc| FlatRow { number, doc })
                .map_err(|why| ImportError::row(&self.name, number, why)),
        )
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
            Inner::Csv(table) => {
                let number = match table.next_record(name, &mut self.number)? {
                    Ok(number) => number,
                    Err(e) => return Some(Err(e)),
                };
                Some(
                    csv_document(&table.columns, &table.record)
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

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// Names of several lengths, some equal in length, `_id`, and repeats.
    const NAMES: &[&str] = &[
        "_id",
        "a",
        "b",
        "ab",
        "ba",
        "id",
        "day",
        "name",
        "dep_delay",
        "Z",
    ];
    /// Cells of every kind a column can hold, some bad for some `--types`.
    const CELLS: &[&str] = &[
        "",
        "NA",
        "0",
        "-7",
        "42",
        "9223372036854775807",
        "-9223372036854775809",
        "99999999999999999999",
        "1.5",
        "-0.0",
        "1e400",
        "true",
        "false",
        "TRUE",
        "x",
        "a, \"quoted\" text",
        "NaN",
    ];

    fn quoted(cell: &str) -> String {
        format!("\"{}\"", cell.replace('"', "\"\""))
    }

    /// A table's header and rows, `--types`, `--id`, and the rows an earlier run committed.
    type Case = (
        Vec<&'static str>,
        Vec<Vec<&'static str>>,
        Vec<(&'static str, ColumnType)>,
        Option<&'static str>,
        u64,
    );

    fn case() -> impl Strategy<Value = Case> {
        (1usize..6).prop_flat_map(|width| {
            let types = prop_oneof![
                Just(ColumnType::Int),
                Just(ColumnType::Float),
                Just(ColumnType::Bool),
                Just(ColumnType::String)
            ];
            (
                prop::collection::vec(prop::sample::select(NAMES), width),
                prop::collection::vec(
                    prop::collection::vec(prop::sample::select(CELLS), width),
                    1..12,
                ),
                prop::collection::vec((prop::sample::select(NAMES), types), 0..3),
                prop::option::of(prop::sample::select(NAMES)),
                0u64..4,
            )
        })
    }

    proptest! {
        /// A table's row read flat is the row read as a map, `_id` chosen by `with_id`: the same
        /// document, the same body bytes, or the same error.
        #[test]
        fn a_row_read_flat_is_the_row_read_as_a_map((header, rows, types, id_field, done) in case()) {
            let dir = tempfile::tempdir().unwrap();
            let path = dir.path().join("t.csv");
            let mut text = header.iter().map(|h| quoted(h)).collect::<Vec<_>>().join(",") + "\n";
            for row in &rows {
                text += &(row.iter().map(|c| quoted(c)).collect::<Vec<_>>().join(",") + "\n");
            }
            std::fs::write(&path, text).unwrap();
            let path = path.to_str().unwrap();
            let types: BTreeMap<String, ColumnType> =
                types.into_iter().map(|(n, t)| (n.to_string(), t)).collect();
            let mut flat = Rows::open(path, None, types.clone()).unwrap();
            let mut maps = Rows::open(path, None, types).unwrap();
            prop_assert!(flat.is_table());
            loop {
                let (a, b) = (flat.next_flat(id_field, done), maps.next());
                let (a, b) = match (a, b) {
                    (None, None) => break,
                    (Some(a), Some(b)) => (a, b),
                    _ => panic!("the two reads end apart"),
                };
                let b = b.and_then(|row| match row.number <= done {
                    true => Ok((row.number, None)),
                    false => Ok((row.number, Some(super::super::with_id(row, id_field, path)?))),
                });
                match (a, b) {
                    (Ok(a), Ok((number, map))) => {
                        prop_assert_eq!(a.number, number);
                        match (a.doc, map) {
                            (None, None) => {}
                            (Some(doc), Some(map)) => {
                                let Ipld::Map(fields) = &map else { panic!("a map") };
                                prop_assert_eq!(doc.to_ipld(), map.clone());
                                prop_assert_eq!(Some(doc.id()), fields.get("_id"));
                                prop_assert_eq!(
                                    doc.body(),
                                    &prolly_tree::RawValue::from_map_without(fields, "_id").unwrap()
                                );
                            }
                            (a, b) => panic!("skipped apart: {a:?} {b:?}"),
                        }
                    }
                    (Err(a), Err(b)) => prop_assert_eq!(a.to_string(), b.to_string()),
                    (a, b) => panic!("flat {:?}, map {:?}", a.map(|r| r.number), b.map(|r| r.0)),
                }
            }
        }
    }
}
