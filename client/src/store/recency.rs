//! A cache's memory of when each block was last used, for least-recently-used eviction.
//!
//! Uses are ticks of a clock. They are kept in memory and written to the `recency` table with
//! the next write (or, after many reads and no write, in one small transaction of their own), so
//! that a read does not become a write. A [`Session`] (a query in progress) reads and writes
//! through the store and keeps the blocks it used from eviction while it lives.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use cid::Cid;
use fvm_ipld_blockstore::Blockstore;
use redb::{ReadableDatabase, ReadableTable, WriteTransaction};

use super::{RECENCY, Store, StoreError, redb_err};

/// Reads past this many unwritten uses write them in a transaction of their own.
const FLUSH_AFTER: usize = 16_384;

pub(super) struct Recency {
    enabled: bool,
    clock: AtomicU64,
    state: Arc<Mutex<State>>,
}

#[derive(Default)]
struct State {
    ticks: HashMap<Vec<u8>, u64>,
    dirty: HashSet<Vec<u8>>,
    /// Live sessions: id → the blocks each has used.
    sessions: BTreeMap<u64, Used>,
    next_session: u64,
}

type Used = Arc<Mutex<HashSet<Vec<u8>>>>;

/// A query in progress: a `Blockstore` over the store whose blocks (read or added through it)
/// the cache does not evict while it lives.
pub struct Session {
    store: Store,
    used: Used,
    id: u64,
}

impl Drop for Session {
    fn drop(&mut self) {
        lock(&self.store.inner.recency.state)
            .sessions
            .remove(&self.id);
        // What the session kept over the cap may go now. A failure here leaves the cache over
        // its cap until the next write evicts.
        if let super::Mode::Cache { max_bytes } = self.store.inner.mode {
            let _ = super::gc::evict(&self.store, max_bytes, false);
        }
    }
}

impl Session {
    fn mark(&self, cid: &Cid) {
        self.used
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(cid.to_bytes());
    }

    pub fn store(&self) -> &Store {
        &self.store
    }
}

impl Blockstore for Session {
    fn get(&self, k: &Cid) -> anyhow::Result<Option<Vec<u8>>> {
        // Marked before the read: an eviction between the two cannot take it.
        self.mark(k);
        self.store.get(k)
    }

    fn has(&self, k: &Cid) -> anyhow::Result<bool> {
        self.store.has(k)
    }

    fn put_keyed(&self, k: &Cid, block: &[u8]) -> anyhow::Result<()> {
        self.mark(k);
        self.store.put_keyed(k, block)
    }

    fn put_many_keyed<D, I>(&self, blocks: I) -> anyhow::Result<()>
    where
        Self: Sized,
        D: AsRef<[u8]>,
        I: IntoIterator<Item = (Cid, D)>,
    {
        let blocks: Vec<(Cid, D)> = blocks.into_iter().collect();
        for (cid, _) in &blocks {
            self.mark(cid);
        }
        self.store.put_many_keyed(blocks)
    }
}

fn lock(state: &Mutex<State>) -> std::sync::MutexGuard<'_, State> {
    state.lock().unwrap_or_else(|e| e.into_inner())
}

impl Recency {
    /// A database store does not evict, so it keeps no recency.
    pub(super) fn off() -> Recency {
        Recency {
            enabled: false,
            clock: AtomicU64::new(1),
            state: Arc::default(),
        }
    }

    pub(super) fn load(db: &redb::Database) -> Result<Recency, StoreError> {
        let txn = db.begin_read().map_err(redb_err)?;
        let table = txn.open_table(RECENCY).map_err(redb_err)?;
        let mut ticks = HashMap::new();
        let mut max = 0;
        for item in table.iter().map_err(redb_err)? {
            let (k, v) = item.map_err(redb_err)?;
            max = max.max(v.value());
            ticks.insert(k.value().to_vec(), v.value());
        }
        Ok(Recency {
            enabled: true,
            clock: AtomicU64::new(max + 1),
            state: Arc::new(Mutex::new(State {
                ticks,
                ..State::default()
            })),
        })
    }

    /// Records a use of the block with these CID bytes. Returns whether enough uses wait
    /// unwritten that they should be written now.
    pub(super) fn touch(&self, key: &[u8]) -> bool {
        if !self.enabled {
            return false;
        }
        let tick = self.clock.fetch_add(1, Ordering::Relaxed);
        let mut state = lock(&self.state);
        state.ticks.insert(key.to_vec(), tick);
        state.dirty.insert(key.to_vec());
        state.dirty.len() >= FLUSH_AFTER
    }

    pub(super) fn session(store: &Store) -> Session {
        let used = Used::default();
        let mut state = lock(&store.inner.recency.state);
        let id = state.next_session;
        state.next_session += 1;
        state.sessions.insert(id, used.clone());
        Session {
            store: store.clone(),
            used,
            id,
        }
    }

    /// The blocks live sessions have used.
    pub(super) fn in_use(&self) -> HashSet<Vec<u8>> {
        let state = lock(&self.state);
        let mut all = HashSet::new();
        for used in state.sessions.values() {
            all.extend(
                used.lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .iter()
                    .cloned(),
            );
        }
        all
    }

    pub(super) fn tick_of(&self, key: &[u8]) -> u64 {
        lock(&self.state).ticks.get(key).copied().unwrap_or(0)
    }

    pub(super) fn forget(&self, keys: &[Vec<u8>]) {
        let mut state = lock(&self.state);
        for key in keys {
            state.ticks.remove(key);
            state.dirty.remove(key);
        }
    }

    /// Writes the unwritten uses into `txn`.
    pub(super) fn write_into(&self, txn: &WriteTransaction) -> Result<(), StoreError> {
        if !self.enabled {
            return Ok(());
        }
        let mut state = lock(&self.state);
        if state.dirty.is_empty() {
            return Ok(());
        }
        let mut table = txn.open_table(RECENCY).map_err(redb_err)?;
        for key in std::mem::take(&mut state.dirty) {
            let tick = state.ticks.get(&key).copied().unwrap_or(0);
            table.insert(key.as_slice(), tick).map_err(redb_err)?;
        }
        Ok(())
    }

    /// Writes the unwritten uses in a transaction of their own. Not made durable on its own:
    /// the next write's commit carries it to disk, and losing it only ages some blocks. While a
    /// write is in progress (possibly on this thread) it does nothing: that write carries them.
    pub(super) fn flush_alone(&self, db: &redb::Database) -> Result<(), StoreError> {
        if !self.enabled || lock(&self.state).dirty.is_empty() {
            return Ok(());
        }
        let mut txn = match db.try_begin_write() {
            Err(redb::TransactionError::WouldBlock) => return Ok(()),
            other => other.map_err(redb_err)?,
        };
        // Where redb refuses a non-durable commit, this one is simply durable.
        let _ = txn.set_durability(redb::Durability::None);
        self.write_into(&txn)?;
        txn.commit().map_err(redb_err)
    }
}
