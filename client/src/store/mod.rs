//! The local store: blocks, roots and a little metadata in one redb file under a folder.
//!
//! It is either a *database* (what `prolly --db DIR` opens; it never evicts) or a *cache* of
//! remote blocks (bounded in bytes; least recently used blocks go first). Its semantics are in
//! SPEC.md ("The local store"); in short:
//! - a [`Writer`] commits its blocks, roots and metadata in one redb transaction, so a kill -9
//!   leaves the store at its last committed state, with every block of every root there;
//! - [`Store::gc`] removes what no root reaches, [`Store::compact`] gives the space back;
//! - one process holds a folder at a time ([`StoreError::Locked`] names the other).

mod blocks;
mod error;
mod gc;
mod lock;
mod overlay;
mod recency;
mod writer;

use std::path::{Path, PathBuf};
use std::sync::{Arc, RwLock};

use cid::Cid;
use fvm_ipld_blockstore::Blockstore;
use redb::{ReadableDatabase, ReadableTable, TableDefinition};

pub use error::StoreError;
pub use gc::GcReport;
pub use overlay::{Overlay, Staged};
pub use recency::Session;
pub use writer::Writer;

use lock::DirLock;
use recency::Recency;

/// Blocks by CID bytes: where each is in `BLOCK_DATA`, and its length ([`blocks`]).
const BLOCK_IDS: TableDefinition<&[u8], blocks::Slot> = TableDefinition::new("block_ids");
/// Block bytes by sequence number, in the order they were added.
const BLOCK_DATA: TableDefinition<u64, &[u8]> = TableDefinition::new("block_data");
/// Root CIDs (bytes) by name: `HEAD` and named (pinned) roots.
const ROOTS: TableDefinition<&str, &[u8]> = TableDefinition::new("roots");
/// The store's own facts (`format`, `version`, `mode`, `block_bytes`) and, under `user.`, the
/// caller's (an import's progress, say).
const META: TableDefinition<&str, &[u8]> = TableDefinition::new("meta");
/// Cache mode: the last use of each block, as a tick of the store's clock.
const RECENCY: TableDefinition<&[u8], u64> = TableDefinition::new("recency");

/// The root a database's writes move.
pub const HEAD: &str = "HEAD";

const FORMAT: &[u8] = b"prollydb-store";
const VERSION: u64 = 2;
const FILE_NAME: &str = "store.redb";

/// What a store is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// A database: its blocks stay until `gc` finds no root reaching them.
    Database,
    /// A cache of remote blocks holding about `max_bytes` of block bytes at most; least
    /// recently used blocks are evicted, except those of a query in progress and of named roots.
    Cache { max_bytes: u64 },
}

impl Mode {
    fn name(self) -> &'static str {
        match self {
            Mode::Database => "database",
            Mode::Cache { .. } => "cache",
        }
    }
}

/// A handle on an open store; clones share it.
#[derive(Clone)]
pub struct Store {
    inner: Arc<Inner>,
}

struct Inner {
    // Compaction needs the database alone; everything else shares it.
    db: RwLock<redb::Database>,
    dir: PathBuf,
    mode: Mode,
    recency: Recency,
    _lock: DirLock,
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Store")
            .field("dir", &self.inner.dir)
            .field("mode", &self.inner.mode)
            .finish()
    }
}

fn redb_err(e: impl Into<redb::Error>) -> StoreError {
    StoreError::Redb(Box::new(e.into()))
}

fn u64_from(bytes: &[u8]) -> u64 {
    bytes.try_into().map(u64::from_le_bytes).unwrap_or(0)
}

impl Store {
    /// Opens the store in `dir` (creating the folder and the store if absent) in `mode`. A store
    /// keeps the mode it was created with: opening a cache as a database, or the reverse, is an
    /// error. A cache's byte cap is the one given now.
    pub fn open(dir: impl AsRef<Path>, mode: Mode) -> Result<Store, StoreError> {
        let dir = dir.as_ref().to_path_buf();
        std::fs::create_dir_all(&dir).map_err(|source| StoreError::Io {
            path: dir.clone(),
            source,
        })?;
        let lock = DirLock::acquire(&dir)?;
        let db = redb::Database::create(dir.join(FILE_NAME)).map_err(redb_err)?;
        check_or_init(&db, &dir, mode)?;
        let recency = match mode {
            Mode::Cache { .. } => Recency::load(&db)?,
            Mode::Database => Recency::off(),
        };
        Ok(Store {
            inner: Arc::new(Inner {
                db: RwLock::new(db),
                dir,
                mode,
                recency,
                _lock: lock,
            }),
        })
    }

    /// Opens (or creates) a database store.
    pub fn open_database(dir: impl AsRef<Path>) -> Result<Store, StoreError> {
        Store::open(dir, Mode::Database)
    }

    pub fn dir(&self) -> &Path {
        &self.inner.dir
    }

    pub fn mode(&self) -> Mode {
        self.inner.mode
    }

    fn db(&self) -> std::sync::RwLockReadGuard<'_, redb::Database> {
        // A panic while holding the lock poisons it; the database itself stays consistent.
        self.inner.db.read().unwrap_or_else(|e| e.into_inner())
    }

    /// Starts a write: blocks, roots and metadata, committed together by [`Writer::commit`].
    /// Writers run one at a time (the next waits), so a thread holding a writer must write
    /// through it, not start another or put blocks through the store. Reads never wait.
    pub fn write(&self) -> Result<Writer, StoreError> {
        Writer::begin(self.clone())
    }

    /// The block, if the store holds it. Reading does not write: in a cache, its recency is
    /// kept in memory and written with the next write.
    pub fn get_block(&self, cid: &Cid) -> Result<Option<Vec<u8>>, StoreError> {
        let key = cid.to_bytes();
        let found = {
            let db = self.db();
            let txn = db.begin_read().map_err(redb_err)?;
            let ids = txn.open_table(BLOCK_IDS).map_err(redb_err)?;
            let data = txn.open_table(BLOCK_DATA).map_err(redb_err)?;
            blocks::get(&ids, &data, &key)?
        };
        if found.is_some() && self.inner.recency.touch(&key) {
            self.inner.recency.flush_alone(&self.db())?;
        }
        Ok(found)
    }

    pub fn has_block(&self, cid: &Cid) -> Result<bool, StoreError> {
        let db = self.db();
        let txn = db.begin_read().map_err(redb_err)?;
        let ids = txn.open_table(BLOCK_IDS).map_err(redb_err)?;
        Ok(ids
            .get(cid.to_bytes().as_slice())
            .map_err(redb_err)?
            .is_some())
    }

    /// A named root (`HEAD` for a database's current one).
    pub fn root(&self, name: &str) -> Result<Option<Cid>, StoreError> {
        let db = self.db();
        let txn = db.begin_read().map_err(redb_err)?;
        let table = txn.open_table(ROOTS).map_err(redb_err)?;
        let found = table.get(name).map_err(redb_err)?;
        found.map(|v| parse_cid(v.value())).transpose()
    }

    /// The database's current root, if it has one.
    pub fn head(&self) -> Result<Option<Cid>, StoreError> {
        self.root(HEAD)
    }

    /// Every root, `HEAD` and named, in name order.
    pub fn roots(&self) -> Result<Vec<(String, Cid)>, StoreError> {
        let db = self.db();
        let txn = db.begin_read().map_err(redb_err)?;
        let table = txn.open_table(ROOTS).map_err(redb_err)?;
        let mut out = Vec::new();
        for item in table.iter().map_err(redb_err)? {
            let (k, v) = item.map_err(redb_err)?;
            out.push((k.value().to_string(), parse_cid(v.value())?));
        }
        Ok(out)
    }

    /// A value the caller stored with [`Writer::set_meta`].
    pub fn meta(&self, key: &str) -> Result<Option<Vec<u8>>, StoreError> {
        let db = self.db();
        let txn = db.begin_read().map_err(redb_err)?;
        let table = txn.open_table(META).map_err(redb_err)?;
        let found = table
            .get(user_key(key).as_str())
            .map_err(redb_err)?
            .map(|v| v.value().to_vec());
        Ok(found)
    }

    /// The bytes of the blocks held (the blocks alone, not the file).
    pub fn block_bytes(&self) -> Result<u64, StoreError> {
        let db = self.db();
        let txn = db.begin_read().map_err(redb_err)?;
        let table = txn.open_table(META).map_err(redb_err)?;
        let found = table.get("block_bytes").map_err(redb_err)?;
        Ok(found.map_or(0, |v| u64_from(v.value())))
    }

    /// The number of blocks held.
    pub fn block_count(&self) -> Result<u64, StoreError> {
        let db = self.db();
        let txn = db.begin_read().map_err(redb_err)?;
        blocks::count(&txn.open_table(BLOCK_IDS).map_err(redb_err)?)
    }

    /// A query's view of the store: while the session lives, no block read or added through it
    /// is evicted.
    pub fn session(&self) -> Session {
        Recency::session(self)
    }

    /// Gives the space of removed blocks back to the file system. Waits for every reader.
    pub fn compact(&self) -> Result<(), StoreError> {
        let mut db = self.inner.db.write().unwrap_or_else(|e| e.into_inner());
        while db.compact().map_err(redb_err)? {}
        Ok(())
    }
}

fn user_key(key: &str) -> String {
    format!("user.{key}")
}

fn parse_cid(bytes: &[u8]) -> Result<Cid, StoreError> {
    Cid::try_from(bytes).map_err(|e| StoreError::Corrupt(format!("a root is not a CID: {e}")))
}

/// A new store gets its format, version and mode; an existing one must match them.
fn check_or_init(db: &redb::Database, dir: &Path, mode: Mode) -> Result<(), StoreError> {
    let txn = db.begin_write().map_err(redb_err)?;
    {
        let mut meta = txn.open_table(META).map_err(redb_err)?;
        let format = meta
            .get("format")
            .map_err(redb_err)?
            .map(|v| v.value().to_vec());
        match format {
            None => {
                meta.insert("format", FORMAT).map_err(redb_err)?;
                meta.insert("version", VERSION.to_le_bytes().as_slice())
                    .map_err(redb_err)?;
                meta.insert("mode", mode.name().as_bytes())
                    .map_err(redb_err)?;
                meta.insert("block_bytes", 0u64.to_le_bytes().as_slice())
                    .map_err(redb_err)?;
            }
            Some(f) if f == FORMAT => {
                let version = meta
                    .get("version")
                    .map_err(redb_err)?
                    .map_or(0, |v| u64_from(v.value()));
                if version != VERSION {
                    return Err(StoreError::Version {
                        dir: dir.to_path_buf(),
                        found: version,
                    });
                }
                let found = meta
                    .get("mode")
                    .map_err(redb_err)?
                    .map(|v| String::from_utf8_lossy(v.value()).into_owned())
                    .unwrap_or_default();
                if found != mode.name() {
                    return Err(StoreError::WrongMode {
                        dir: dir.to_path_buf(),
                        found,
                        wanted: mode.name(),
                    });
                }
            }
            Some(_) => {
                return Err(StoreError::NotAStore {
                    dir: dir.to_path_buf(),
                });
            }
        }
        // Create the other tables, so that readers can open them.
        txn.open_table(BLOCK_IDS).map_err(redb_err)?;
        txn.open_table(BLOCK_DATA).map_err(redb_err)?;
        txn.open_table(ROOTS).map_err(redb_err)?;
        txn.open_table(RECENCY).map_err(redb_err)?;
    }
    txn.commit().map_err(redb_err)
}

impl Blockstore for Store {
    fn get(&self, k: &Cid) -> anyhow::Result<Option<Vec<u8>>> {
        Ok(self.get_block(k)?)
    }

    fn has(&self, k: &Cid) -> anyhow::Result<bool> {
        Ok(self.has_block(k)?)
    }

    fn put_keyed(&self, k: &Cid, block: &[u8]) -> anyhow::Result<()> {
        self.put_many_keyed([(*k, block)])
    }

    /// One transaction for the lot.
    fn put_many_keyed<D, I>(&self, blocks: I) -> anyhow::Result<()>
    where
        Self: Sized,
        D: AsRef<[u8]>,
        I: IntoIterator<Item = (Cid, D)>,
    {
        let writer = self.write()?;
        for (cid, block) in blocks {
            writer.put_block(&cid, block.as_ref())?;
        }
        writer.commit()?;
        Ok(())
    }
}

impl Drop for Inner {
    fn drop(&mut self) {
        // Recency not yet written is written now; losing it (a crash) only ages some blocks.
        let db = self.db.get_mut().unwrap_or_else(|e| e.into_inner());
        let _ = self.recency.flush_alone(db);
    }
}
