//! Importing documents from files into a database store: streamed, committed every `batch`
//! documents, each commit recording how far it got in the same transaction, so that an import
//! stopped at any moment (a bad row, Ctrl-C, kill -9) leaves the database at its last commit and
//! `resume` continues from there to the same root as an import never stopped.

mod commit;
mod packer;
mod rows;

use std::collections::BTreeMap;

use cid::Cid;
use ipld_core::ipld::Ipld;
use prolly_db::{Collection, Database, PreparedInserts};
use prolly_tree::Config;

pub use packer::{Packed, Packer};
pub use rows::{ColumnType, Format, Row, Rows};

use crate::store::{Store, StoreError};

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
    let reader = Reader {
        collection: &options.collection,
        done,
        batch: options.batch.max(1),
        id_field: options.id_field.as_deref(),
        file: &file,
        prepare: match options.mode {
            WriteMode::Insert => Some(destination(store, &options.collection, config)?),
            WriteMode::Upsert => None,
        },
    };
    let mut target = commit::Target {
        store,
        file: &file,
        options,
        config,
        head: store.head()?,
        below: None,
        last_row: done,
    };
    let mut rows = rows;
    std::thread::scope(|scope| {
        let mut committer = commit::Committer::start(scope, store, &file, &key)?;
        let mut record = |committed: Option<commit::Written>, summary: &mut ImportSummary| {
            if let Some(batch) = committed {
                summary.root = batch.root;
                summary.documents += batch.documents;
                summary.rows = batch.last_row;
                summary.commits += 1;
                summary.bytes = bytes_read.load(std::sync::atomic::Ordering::Relaxed);
                progress(summary);
            }
        };
        let mut written = 0u64;
        let driven = reader.drive(&mut rows, |chunk| {
            summary.skipped += chunk.skipped;
            // A full batch commits; so does the end, and an empty file into a store with no
            // database still leaves a database with the collection.
            if !chunk.rows.is_empty() || (chunk.last && written == 0 && target.head.is_none()) {
                let batch = target.write(chunk)?;
                written += 1;
                record(committer.submit(batch)?, &mut summary);
            }
            Ok(())
        });
        // However the import stopped, the batch in flight is committed first (or fails), so
        // that the store ends at a whole batch and the summary says which.
        let finished = committer.finish();
        if let Ok(committed) = finished {
            record(committed, &mut summary);
            driven
        } else {
            driven.and(finished.map(drop))
        }
    })?;
    summary.root = store.head()?.unwrap_or_default();
    Ok(summary)
}

/// The collection's definition and the database's node config, as inserts are prepared for
/// them: those at `HEAD`, or a new collection of a new database.
fn destination(
    store: &Store,
    collection: &str,
    config: Config,
) -> Result<(Collection, Config), ImportError> {
    let Some(root) = store.head()? else {
        return Ok((Collection::default(), config));
    };
    let db = Database::open(store, root)?.into_result()?;
    let definition = db
        .collections()?
        .into_result()?
        .into_iter()
        .find(|(name, _)| name == collection)
        .map(|(_, definition)| definition)
        .unwrap_or_default();
    Ok((definition, *db.tree().config()))
}

/// Reads the file a batch at a time.
struct Reader<'a> {
    collection: &'a str,
    /// Rows an earlier run committed, skipped.
    done: u64,
    batch: usize,
    id_field: Option<&'a str>,
    file: &'a str,
    /// Inserts are prepared here (for this definition and config); upserts are not.
    prepare: Option<(Collection, Config)>,
}

/// One commit's worth of the file: the rows of up to `batch` documents, their writes, and
/// whether the file ends with it.
struct Chunk {
    rows: Vec<u64>,
    writes: Writes,
    skipped: u64,
    last: bool,
}

enum Writes {
    Prepared(PreparedInserts),
    Upserts(Vec<Ipld>),
}

impl Reader<'_> {
    /// Reads `rows` a chunk at a time, handing each to `commit` in order, up to the last one or
    /// the first error. Where there are two cores, reading and preparing (parsing, checking and
    /// encoding documents and their index entries) runs on a thread of its own while `commit`
    /// writes the chunk before: it is at most two chunks ahead (one waiting, one being read), so
    /// memory stays bounded.
    fn drive(
        &self,
        rows: &mut Rows,
        mut commit: impl FnMut(Chunk) -> Result<(), ImportError>,
    ) -> Result<(), ImportError> {
        if !two_cores() {
            loop {
                let chunk = self.read(rows)?;
                let last = chunk.last;
                commit(chunk)?;
                if last {
                    return Ok(());
                }
            }
        }
        std::thread::scope(|scope| {
            let (send, receive) = std::sync::mpsc::sync_channel(1);
            std::thread::Builder::new()
                .name("import-reader".into())
                .spawn_scoped(scope, move || {
                    loop {
                        let chunk = self.read(rows);
                        let more = matches!(chunk, Ok(Chunk { last: false, .. }));
                        // The receiver is gone when a commit failed: stop reading.
                        if send.send(chunk).is_err() || !more {
                            break;
                        }
                    }
                })
                .map_err(|e| ImportError::file(self.file, format!("cannot start a reader: {e}")))?;
            loop {
                let chunk = receive
                    .recv()
                    .map_err(|_| ImportError::file(self.file, "the reader stopped"))??;
                let last = chunk.last;
                commit(chunk)?;
                if last {
                    return Ok(());
                }
            }
        })
    }

    fn read(&self, rows: &mut Rows) -> Result<Chunk, ImportError> {
        match (&self.prepare, rows.is_table()) {
            // A table's rows are read flat: no map per row (see `prolly_db::FlatDocument`).
            (Some((definition, config)), true) => self.take(
                || {
                    let row = rows.next_flat(self.id_field, self.done)?;
                    Some(row.map(|row| (row.number, row.doc)))
                },
                |docs| {
                    let inserts =
                        PreparedInserts::from_flat(self.collection, definition, config, &docs);
                    Writes::Prepared(inserts)
                },
            ),
            (prepare, _) => self.take(
                || {
                    let row = rows.next()?;
                    Some(row.and_then(|row| {
                        let number = row.number;
                        let doc = (number > self.done)
                            .then(|| with_id(row, self.id_field, self.file))
                            .transpose()?;
                        Ok((number, doc))
                    }))
                },
                |docs| match prepare {
                    // The documents are freed here, on the thread that built them: freeing them
                    // on a third thread was slower (4.5-4.9 s against 3.9-4.3 s for cli-bench's
                    // import).
                    Some((definition, config)) => Writes::Prepared(PreparedInserts::new(
                        self.collection,
                        definition,
                        config,
                        &docs,
                    )),
                    None => Writes::Upserts(docs),
                },
            ),
        }
    }

    /// A chunk of up to `batch` documents from `next` (a row's number, and its document unless
    /// an earlier run committed it), written as `writes` makes them.
    fn take<T>(
        &self,
        mut next: impl FnMut() -> Option<Result<(u64, Option<T>), ImportError>>,
        writes: impl FnOnce(Vec<T>) -> Writes,
    ) -> Result<Chunk, ImportError> {
        let mut rows = Vec::with_capacity(self.batch);
        let mut docs = Vec::with_capacity(self.batch);
        let (mut skipped, mut last) = (0, false);
        while docs.len() < self.batch {
            match next().transpose()? {
                None => {
                    last = true;
                    break;
                }
                Some((_, None)) => skipped += 1,
                Some((number, Some(doc))) => {
                    rows.push(number);
                    docs.push(doc);
                }
            }
        }
        Ok(Chunk {
            rows,
            writes: writes(docs),
            skipped,
            last,
        })
    }
}

/// Whether the import's threads (reader, writer, committer) have two cores to run on; on one,
/// they run in turn on the caller's.
fn two_cores() -> bool {
    std::thread::available_parallelism().is_ok_and(|n| n.get() >= 2)
}

/// Drops `value` on a thread of its own where there are two cores: freeing a batch's 10,000
/// document maps was an eighth of an import's time on the committing thread (`cli-bench`'s
/// profile), and nothing waits for it.
fn free_elsewhere<T: Send + 'static>(value: T) {
    if two_cores() {
        // If no thread starts, the value comes back in the error's closure and drops here.
        let _ = std::thread::Builder::new()
            .name("import-free".into())
            .spawn(move || drop(value));
    }
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
