//! Writing an import's batches: each is applied to the tree above the store (in an
//! [`Overlay`]), then committed to redb with the import's progress. Where there are two cores,
//! the commits run on a thread of their own: a batch's redb commit overlaps the writing of the
//! next, which reads the batch being committed from memory. Commits stay in order, one at a
//! time, so the store is always at the end of a whole batch.

use std::sync::Arc;
use std::sync::mpsc::{Receiver, SyncSender};

use cid::Cid;
use prolly_db::{Database, Op, WriteBatch};
use prolly_tree::Config;

use super::{Chunk, ImportError, ImportOptions, Writes, free_elsewhere, progress_value};
use crate::store::{HEAD, Overlay, Staged, Store};

/// A batch written above the store, to be committed.
pub(super) struct Written {
    blocks: Arc<Staged>,
    pub root: Cid,
    /// The last row it holds.
    pub last_row: u64,
    pub documents: u64,
}

/// Where batches are written: the store, and what the import has written that may not be
/// committed yet.
pub(super) struct Target<'a> {
    pub store: &'a Store,
    pub file: &'a str,
    pub options: &'a ImportOptions,
    pub config: Config,
    /// The root the next batch applies to (`None`: the store has no database yet).
    pub head: Option<Cid>,
    /// The last batch written, possibly still being committed.
    pub below: Option<Arc<Staged>>,
    /// The last row written.
    pub last_row: u64,
}

impl Target<'_> {
    /// Applies `chunk` above the store; returns the batch to commit. A refused write names its
    /// row.
    pub fn write(&mut self, chunk: Chunk) -> Result<Written, ImportError> {
        let overlay = match &self.below {
            Some(below) => Overlay::above(self.store.clone(), below.clone()),
            None => Overlay::new(self.store.clone()),
        };
        let mut db = match self.head {
            Some(root) => Database::open(&overlay, root)?.into_result()?,
            None => Database::create(&overlay, self.config)?,
        };
        let collection = &self.options.collection;
        let mut batch = WriteBatch::new();
        let has_collection =
            (db.collections()?.into_result()?.iter()).any(|(n, _)| n == collection);
        let ops_before = if has_collection {
            0
        } else {
            batch.create_collection(collection);
            1
        };
        let rows = chunk.rows;
        let applied = match chunk.writes {
            Writes::Prepared(inserts) => db.apply_prepared(&batch, inserts),
            Writes::Upserts(docs) => {
                for doc in docs {
                    batch.push(Op::Upsert {
                        collection: collection.clone(),
                        doc,
                    });
                }
                let applied = db.apply(&batch);
                free_elsewhere(batch);
                applied
            }
        };
        let root = match applied {
            Ok(outcome) => outcome.into_result()?,
            Err(prolly_db::Error::Write { op, id, reason }) if op >= ops_before => {
                let row = rows.get(op - ops_before).copied().unwrap_or_default();
                let id = id.map(|id| format!(" (_id {id})")).unwrap_or_default();
                return Err(ImportError::row(
                    self.file,
                    row,
                    format!("refused{id}: {reason}"),
                ));
            }
            Err(e) => return Err(e.into()),
        };
        drop(db);
        let blocks = Arc::new(overlay.take());
        self.head = Some(root);
        self.below = Some(blocks.clone());
        self.last_row = rows.last().copied().unwrap_or(self.last_row);
        Ok(Written {
            blocks,
            root,
            last_row: self.last_row,
            documents: rows.len() as u64,
        })
    }
}

/// Commits a written batch: its blocks, `HEAD` and the import's progress, in one transaction.
fn commit(store: &Store, file: &str, key: &str, written: &Written) -> Result<(), ImportError> {
    let writer = store.write()?;
    writer.put_staged(&written.blocks)?;
    writer.set_root(HEAD, &written.root)?;
    writer.set_meta(key, &progress_value(file, written.last_row))?;
    writer.commit()?;
    Ok(())
}

/// Commits batches in order: here, or on a thread of its own one batch behind the writing.
pub(super) struct Committer {
    file: String,
    way: Way,
}

enum Way {
    Here {
        store: Store,
        key: String,
    },
    Behind {
        send: SyncSender<Written>,
        done: Receiver<Result<Written, ImportError>>,
        in_flight: bool,
    },
}

impl Committer {
    /// Commits on a thread of `scope` where there are two cores, here otherwise.
    pub fn start<'s>(
        scope: &'s std::thread::Scope<'s, '_>,
        store: &Store,
        file: &str,
        key: &str,
    ) -> Result<Committer, ImportError> {
        let (store, key) = (store.clone(), key.to_string());
        let file = file.to_string();
        if !super::two_cores() {
            let way = Way::Here { store, key };
            return Ok(Committer { file, way });
        }
        // A rendezvous: the next batch is handed over once the last one is committed.
        let (send, batches) = std::sync::mpsc::sync_channel::<Written>(0);
        let (report, done) = std::sync::mpsc::sync_channel(1);
        let name = file.clone();
        std::thread::Builder::new()
            .name("import-commit".into())
            .spawn_scoped(scope, move || {
                for written in batches {
                    let committed = commit(&store, &name, &key, &written).map(|()| written);
                    let failed = committed.is_err();
                    if report.send(committed).is_err() || failed {
                        break;
                    }
                }
            })
            .map_err(|e| ImportError::file(&file, format!("cannot start a committer: {e}")))?;
        let way = Way::Behind {
            send,
            done,
            in_flight: false,
        };
        Ok(Committer { file, way })
    }

    /// Hands `written` over; returns the batch committed before it, if any (here: `written`
    /// itself, committed now).
    pub fn submit(&mut self, written: Written) -> Result<Option<Written>, ImportError> {
        if let Way::Here { store, key } = &self.way {
            commit(store, &self.file, key, &written)?;
            return Ok(Some(written));
        }
        let before = self.finish()?;
        let Way::Behind {
            send, in_flight, ..
        } = &mut self.way
        else {
            unreachable!("a committer keeps its way")
        };
        if send.send(written).is_err() {
            return Err(ImportError::file(&self.file, "the committer stopped"));
        }
        *in_flight = true;
        Ok(before)
    }

    /// Waits for the batch in flight, if any; returns it once committed.
    pub fn finish(&mut self) -> Result<Option<Written>, ImportError> {
        let Way::Behind {
            done, in_flight, ..
        } = &mut self.way
        else {
            return Ok(None);
        };
        if !std::mem::take(in_flight) {
            return Ok(None);
        }
        match done.recv() {
            Ok(committed) => committed.map(Some),
            Err(_) => Err(ImportError::file(&self.file, "the committer stopped")),
        }
    }
}
