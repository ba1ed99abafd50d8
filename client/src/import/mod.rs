//! Importing documents from files into a database store: streamed, committed every `batch`
//! documents, each commit recording how far it got in the same transaction, so that an import
//! stopped at any moment (a bad row, Ctrl-C, kill -9) leaves the database at its last commit and
//! `resume` continues from there to the same root as an import never stopped.

mod packer;
mod rows;

use std::collections::BTreeMap;

use cid::Cid;
use ipld_core::ipld::Ipld;
use prolly_db::{Database, Op, WriteBatch};
use prolly_tree::Config;

pub use packer::{Packed, Packer};
pub use rows::{ColumnType, Format, Row, Rows};

use crate::store::{HEAD, Store, StoreError};

/// Why an import stopped. Every message names the file, and the row where there is one.
#[derive(Debug, thiserror::Error)]
pub enum ImportError {
    #[error("{file}: {reason}")]
    File { file: String, reason: String },
    #[error("{file}: row {row}: {reason}")]
    Row {
        file: String,
        row: u64,
        reason: String,
    },
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("{0}")]
    Db(#[from] prolly_db::Error),
}

impl From<prolly_tree::Missing> for ImportError {
    /// A database store holds every block of its `HEAD`; one missing is a damaged store.
    fn from(missing: prolly_tree::Missing) -> ImportError {
        ImportError::Db(missing.into())
    }
}

impl ImportError {
    pub(crate) fn file(file: &str, reason: impl std::fmt::Display) -> ImportError {
        ImportError::File {
            file: file.to_string(),
            reason: reason.to_string(),
        }
    }

    pub(crate) fn row(file: &str, row: u64, reason: impl std::fmt::Display) -> ImportError {
        ImportError::Row {
            file: file.to_string(),
            row,
            reason: reason.to_string(),
        }
    }
}

/// Insert refuses a document whose `_id` exists; upsert replaces it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum WriteMode {
    #[default]
    Insert,
    Upsert,
}

#[derive(Debug, Clone)]
pub struct ImportOptions {
    pub collection: String,
    /// Moves this field into `_id`. Without it a document keeps its `_id`, and one without gets
    /// its row number (an integer from 1), so that an import is deterministic and resumable.
    pub id_field: Option<String>,
    pub mode: WriteMode,
    /// Documents per commit.
    pub batch: usize,
    /// Continue from the row the last commit of an import of the same file reached (from the
    /// start if none committed).
    pub resume: bool,
}

/// Where an import got to, and what it did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImportSummary {
    pub root: Cid,
    /// Documents written by this run.
    pub documents: u64,
    /// The last row committed (this run or an earlier one).
    pub rows: u64,
    /// Rows skipped because an earlier run had committed them.
    pub skipped: u64,
    pub commits: u64,
    /// Bytes of the file read so far.
    pub bytes: u64,
}

fn progress_key(collection: &str) -> String {
    format!("import/{collection}")
}

/// The progress record: the file and the last row committed, as DAG-CBOR `[file, row]`.
fn progress_value(file: &str, row: u64) -> Vec<u8> {
    let value = Ipld::List(vec![
        Ipld::String(file.to_string()),
        Ipld::Integer(row.into()),
    ]);
    prolly_tree::RawValue::from_ipld(&value)
        .expect("a progress record encodes")
        .as_bytes()
        .to_vec()
}

fn parse_progress(bytes: &[u8]) -> Option<(String, u64)> {
    match prolly_tree::decode_ipld(bytes).ok()? {
        Ipld::List(fields) => match &fields[..] {
            [Ipld::String(file), Ipld::Integer(row)] => {
                Some((file.clone(), u64::try_from(*row).ok()?))
            }
            _ => None,
        },
        _ => None,
    }
}

/// The document as it will be written: `_id` from `id_field`, or kept, or the row number.
pub fn with_id(row: Row, id_field: Option<&str>, file: &str) -> Result<Ipld, ImportError> {
    let Ipld::Map(mut doc) = row.doc else {
        return Err(ImportError::row(
            file,
            row.number,
            "not a document (a JSON object)",
        ));
    };
    match id_field {
        Some(field) => match doc.remove(field) {
            Some(Ipld::Null) | None => {
                return Err(ImportError::row(
                    file,
                    row.number,
                    format!("no {field:?} to use as _id"),
                ));
            }
            Some(id) => {
                doc.insert("_id".to_string(), id);
            }
        },
        None => {
            doc.entry("_id".to_string())
                .or_insert(Ipld::Integer(row.number.into()));
        }
    }
    Ok(Ipld::Map(doc))
}

/// Imports `rows` into the database at the store's `HEAD` (created if the store has none), a
/// commit every `options.batch` documents. `progress` is called after each commit with the
/// summary so far.
pub fn import(
    store: &Store,
    rows: Rows,
    options: &ImportOptions,
    config: Config,
    mut progress: impl FnMut(&ImportSummary),
) -> Result<ImportSummary, ImportError> {
    let file = rows.name().to_string();
    let key = progress_key(&options.collection);
    // Resuming an import that never committed starts it; resuming another file's is an error.
    let done = match store.meta(&key)?.as_deref().and_then(parse_progress) {
        Some((f, row)) if options.resume && f == file => row,
        Some((f, _)) if options.resume => {
            return Err(ImportError::file(
                &file,
                format!(
                    "cannot resume: the last import into {:?} was of {f}",
                    options.collection
                ),
            ));
        }
        _ => 0,
    };
    let mut summary = ImportSummary {
        root: store.head()?.unwrap_or_default(),
        documents: 0,
        rows: done,
        skipped: 0,
        commits: 0,
        bytes: 0,
    };
    let bytes_read = rows.bytes_read();
    let mut pending: Vec<(u64, Ipld)> = Vec::with_capacity(options.batch);
    let mut rows = rows.peekable();
    loop {
        let row = rows.next().transpose()?;
        match row {
            Some(row) if row.number <= done => summary.skipped += 1,
            Some(row) => {
                let number = row.number;
                pending.push((number, with_id(row, options.id_field.as_deref(), &file)?));
            }
            None => {}
        }
        let finished = rows.peek().is_none();
        // A full batch commits; so does the end, and an empty file into a store with no
        // database still leaves a database with the collection.
        let at_end =
            finished && (!pending.is_empty() || (summary.commits == 0 && store.head()?.is_none()));
        if pending.len() >= options.batch.max(1) || at_end {
            commit(
                store,
                &file,
                &key,
                options,
                config,
                &mut pending,
                &mut summary,
            )?;
            summary.bytes = bytes_read.load(std::sync::atomic::Ordering::Relaxed);
            progress(&summary);
        }
        if finished {
            break;
        }
    }
    summary.root = store.head()?.unwrap_or_default();
    Ok(summary)
}

fn commit(
    store: &Store,
    file: &str,
    key: &str,
    options: &ImportOptions,
    config: Config,
    pending: &mut Vec<(u64, Ipld)>,
    summary: &mut ImportSummary,
) -> Result<(), ImportError> {
    let writer = store.write()?;
    let mut db = match writer.root(HEAD)? {
        Some(root) => Database::open(&writer, root)?.into_result()?,
        None => Database::create(&writer, config)?,
    };
    let mut batch = WriteBatch::new();
    let has_collection = db
        .collections()?
        .into_result()?
        .iter()
        .any(|(name, _)| *name == options.collection);
    let ops_before = if has_collection {
        0
    } else {
        batch.create_collection(&options.collection);
        1
    };
    let rows: Vec<u64> = pending.iter().map(|(n, _)| *n).collect();
    for (_, doc) in pending.drain(..) {
        batch.push(match options.mode {
            WriteMode::Insert => Op::Insert {
                collection: options.collection.clone(),
                doc,
            },
            WriteMode::Upsert => Op::Upsert {
                collection: options.collection.clone(),
                doc,
            },
        });
    }
    let root = match db.apply(&batch) {
        Ok(outcome) => outcome.into_result()?,
        Err(prolly_db::Error::Write { op, id, reason }) if op >= ops_before => {
            let row = rows.get(op - ops_before).copied().unwrap_or_default();
            let id = id.map(|id| format!(" (_id {id})")).unwrap_or_default();
            return Err(ImportError::row(
                file,
                row,
                format!("refused{id}: {reason}"),
            ));
        }
        Err(e) => return Err(e.into()),
    };
    drop(db);
    let last = rows.last().copied().unwrap_or(summary.rows);
    writer.set_root(HEAD, &root)?;
    writer.set_meta(key, &progress_value(file, last))?;
    writer.commit()?;
    summary.root = root;
    summary.documents += rows.len() as u64;
    summary.rows = last;
    summary.commits += 1;
    Ok(())
}

/// Parses `--types`: `field:int,other:float`.
pub fn parse_types(text: &str) -> Result<BTreeMap<String, ColumnType>, String> {
    text.split(',')
        .filter(|s| !s.is_empty())
        .map(|pair| {
            let (field, ty) = pair
                .split_once(':')
                .ok_or_else(|| format!("{pair:?}: expected FIELD:TYPE"))?;
            let ty = ColumnType::parse(ty)
                .ok_or_else(|| format!("{ty:?}: a type is int, float, bool or string"))?;
            Ok((field.to_string(), ty))
        })
        .collect()
}
