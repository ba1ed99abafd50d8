//! A write: one redb transaction for blocks, roots and metadata together.

use std::sync::Mutex;

use cid::Cid;
use fvm_ipld_blockstore::Blockstore;
use redb::{ReadableTable, WriteTransaction};

use super::{
    BLOCK_DATA, BLOCK_IDS, META, Mode, ROOTS, Store, StoreError, blocks, gc, parse_cid, redb_err,
    u64_from, user_key,
};

/// Blocks, roots and metadata written together. It reads what it has written (it is a
/// `Blockstore`, so a tree writes through it); nothing is visible to others, and nothing is on
/// disk, until [`Writer::commit`]. Dropped without a commit, it writes nothing.
pub struct Writer {
    store: Store,
    state: Mutex<Option<Pending>>,
}

struct Pending {
    txn: WriteTransaction,
    added_bytes: u64,
    /// Blocks added: their use is recorded once they exist, at commit.
    touched: Vec<Vec<u8>>,
}

impl Writer {
    pub(super) fn begin(store: Store) -> Result<Writer, StoreError> {
        let txn = store.db().begin_write().map_err(redb_err)?;
        Ok(Writer {
            store,
            state: Mutex::new(Some(Pending {
                txn,
                added_bytes: 0,
                touched: Vec::new(),
            })),
        })
    }

    fn with<T>(
        &self,
        f: impl FnOnce(&mut Pending) -> Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        let mut state = self.state.lock().unwrap_or_else(|e| e.into_inner());
        match state.as_mut() {
            Some(pending) => f(pending),
            None => Err(StoreError::Finished),
        }
    }

    /// Adds a block (a block already held keeps its bytes: its CID names them).
    pub fn put_block(&self, cid: &Cid, bytes: &[u8]) -> Result<(), StoreError> {
        self.put_blocks(&mut [(cid.to_bytes(), bytes)])
    }

    /// Adds blocks in one pass: the tables are opened once, and the blocks go into the index in
    /// key order, so that redb's B-tree takes them page by page instead of at random (an
    /// import's flush of 10,000 documents is some 5,000 blocks).
    pub fn put_blocks(&self, new: &mut [(Vec<u8>, &[u8])]) -> Result<(), StoreError> {
        new.sort_unstable_by(|a, b| a.0.cmp(&b.0));
        self.with(|p| {
            let mut appender = blocks::Appender::open(&p.txn)?;
            for (key, bytes) in new.iter() {
                if appender.put(key, bytes)? {
                    p.added_bytes += bytes.len() as u64;
                    p.touched.push(key.clone());
                }
            }
            Ok(())
        })
    }

    /// [`Writer::put_blocks`] for blocks named by CID.
    pub(super) fn put_cids<'a>(
        &self,
        blocks: impl Iterator<Item = (&'a Cid, &'a [u8])>,
    ) -> Result<(), StoreError> {
        let mut keyed: Vec<(Vec<u8>, &[u8])> =
            blocks.map(|(cid, bytes)| (cid.to_bytes(), bytes)).collect();
        self.put_blocks(&mut keyed)
    }

    /// A block held by the store or added by this writer.
    pub fn get_block(&self, cid: &Cid) -> Result<Option<Vec<u8>>, StoreError> {
        let key = cid.to_bytes();
        let found = self.with(|p| {
            let ids = p.txn.open_table(BLOCK_IDS).map_err(redb_err)?;
            let data = p.txn.open_table(BLOCK_DATA).map_err(redb_err)?;
            blocks::get(&ids, &data, &key)
        })?;
        if found.is_some() {
            self.store.inner.recency.touch(&key);
        }
        Ok(found)
    }

    /// Sets a root (`HEAD`, or a name that pins it), committed with the blocks.
    pub fn set_root(&self, name: &str, root: &Cid) -> Result<(), StoreError> {
        self.with(|p| {
            let mut table = p.txn.open_table(ROOTS).map_err(redb_err)?;
            table
                .insert(name, root.to_bytes().as_slice())
                .map_err(redb_err)?;
            Ok(())
        })
    }

    /// Removes a root; returns whether it existed.
    pub fn remove_root(&self, name: &str) -> Result<bool, StoreError> {
        self.with(|p| {
            let mut table = p.txn.open_table(ROOTS).map_err(redb_err)?;
            Ok(table.remove(name).map_err(redb_err)?.is_some())
        })
    }

    /// A root as this writer sees it.
    pub fn root(&self, name: &str) -> Result<Option<Cid>, StoreError> {
        self.with(|p| {
            let table = p.txn.open_table(ROOTS).map_err(redb_err)?;
            let found = table.get(name).map_err(redb_err)?;
            found.map(|v| parse_cid(v.value())).transpose()
        })
    }

    /// Sets a value of the caller's (read back with [`Store::meta`]), committed with the rest.
    pub fn set_meta(&self, key: &str, value: &[u8]) -> Result<(), StoreError> {
        self.with(|p| {
            let mut table = p.txn.open_table(META).map_err(redb_err)?;
            table
                .insert(user_key(key).as_str(), value)
                .map_err(redb_err)?;
            Ok(())
        })
    }

    pub fn remove_meta(&self, key: &str) -> Result<(), StoreError> {
        self.with(|p| {
            let mut table = p.txn.open_table(META).map_err(redb_err)?;
            table.remove(user_key(key).as_str()).map_err(redb_err)?;
            Ok(())
        })
    }

    /// Makes everything written durable and visible at once. A cache over its cap then evicts.
    pub fn commit(self) -> Result<(), StoreError> {
        let pending = self
            .state
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .take()
            .ok_or(StoreError::Finished)?;
        let Pending {
            txn,
            added_bytes,
            touched,
        } = pending;
        self.store.inner.recency.write_into(&txn)?;
        {
            let mut meta = txn.open_table(META).map_err(redb_err)?;
            let before = meta
                .get("block_bytes")
                .map_err(redb_err)?
                .map_or(0, |v| u64_from(v.value()));
            meta.insert(
                "block_bytes",
                (before + added_bytes).to_le_bytes().as_slice(),
            )
            .map_err(redb_err)?;
        }
        txn.commit().map_err(redb_err)?;
        for key in &touched {
            self.store.inner.recency.touch(key);
        }
        // The write is durable now; an eviction that fails leaves the cache over its cap until
        // the next one, and does not make the write look failed.
        if let Mode::Cache { max_bytes } = self.store.inner.mode {
            let _ = gc::evict(&self.store, max_bytes, true);
        }
        Ok(())
    }
}

impl Blockstore for Writer {
    fn get(&self, k: &Cid) -> anyhow::Result<Option<Vec<u8>>> {
        Ok(self.get_block(k)?)
    }

    fn put_keyed(&self, k: &Cid, block: &[u8]) -> anyhow::Result<()> {
        Ok(self.put_block(k, block)?)
    }

    fn put_many_keyed<D, I>(&self, blocks: I) -> anyhow::Result<()>
    where
        Self: Sized,
        D: AsRef<[u8]>,
        I: IntoIterator<Item = (Cid, D)>,
    {
        let blocks: Vec<(Cid, D)> = blocks.into_iter().collect();
        Ok(self.put_cids(blocks.iter().map(|(cid, block)| (cid, block.as_ref())))?)
    }
}
