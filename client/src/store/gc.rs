//! What the roots reach, garbage collection, and a cache's eviction.

use std::collections::HashSet;

use redb::{ReadableTable, WriteTransaction};

use super::{
    BLOCK_DATA, BLOCK_IDS, META, RECENCY, ROOTS, Store, StoreError, blocks, parse_cid, redb_err,
};

/// What [`Store::gc`] removed and kept.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct GcReport {
    pub removed_blocks: u64,
    pub removed_bytes: u64,
    pub kept_blocks: u64,
    pub kept_bytes: u64,
}

/// The CID bytes of every held block that the named roots (all of them, or those `pinned`
/// accepts) reach. A block that is absent (a cache holds parts of DAGs) ends its branch; a
/// block that is not valid DAG-CBOR links nothing (`dag::walk`).
fn reachable(
    txn: &WriteTransaction,
    pinned: impl Fn(&str) -> bool,
) -> Result<HashSet<Vec<u8>>, StoreError> {
    let roots = txn.open_table(ROOTS).map_err(redb_err)?;
    let ids = txn.open_table(BLOCK_IDS).map_err(redb_err)?;
    let data = txn.open_table(BLOCK_DATA).map_err(redb_err)?;
    let mut stack = Vec::new();
    for item in roots.iter().map_err(redb_err)? {
        let (name, cid) = item.map_err(redb_err)?;
        if pinned(name.value()) {
            stack.push(parse_cid(cid.value())?);
        }
    }
    let mut seen = HashSet::new();
    crate::dag::walk(
        stack,
        |cid| blocks::get(&ids, &data, &cid.to_bytes()),
        |cid, _| {
            seen.insert(cid.to_bytes());
            Ok(())
        },
    )?;
    Ok(seen)
}

/// Removes the blocks whose CID bytes `doomed` accepts, in `txn`; returns (blocks, bytes) removed
/// and the keys removed.
fn remove_blocks(
    txn: &WriteTransaction,
    doomed: impl FnMut(&[u8]) -> bool,
) -> Result<(GcReport, Vec<Vec<u8>>), StoreError> {
    let (removed, report) = blocks::remove(txn, doomed)?;
    let mut recency = txn.open_table(RECENCY).map_err(redb_err)?;
    for key in &removed {
        recency.remove(key.as_slice()).map_err(redb_err)?;
    }
    let mut meta = txn.open_table(META).map_err(redb_err)?;
    meta.insert("block_bytes", report.kept_bytes.to_le_bytes().as_slice())
        .map_err(redb_err)?;
    Ok((report, removed))
}

impl Store {
    /// Removes every block that no root (`HEAD` or named) reaches, in one transaction: a writer
    /// committing meanwhile waits, so nothing it adds is lost. [`Store::compact`] then returns
    /// the space to the file system.
    pub fn gc(&self) -> Result<GcReport, StoreError> {
        let txn = self.db().begin_write().map_err(redb_err)?;
        let keep = reachable(&txn, |_| true)?;
        let (report, removed) = remove_blocks(&txn, |k| !keep.contains(k))?;
        txn.commit().map_err(redb_err)?;
        self.inner.recency.forget(&removed);
        Ok(report)
    }
}

/// A cache over `max_bytes` evicts its least recently used blocks down to 90% of the cap (so
/// that the next few writes do not each evict), sparing blocks of live sessions and blocks that
/// named roots reach. If those alone exceed the cap, the cache stays over it.
///
/// `wait` false is for chores that may be skipped (a session's end): if a write is in progress,
/// possibly on this very thread, its commit evicts instead, and nothing waits for it.
pub(super) fn evict(store: &Store, max_bytes: u64, wait: bool) -> Result<(), StoreError> {
    if store.block_bytes()? <= max_bytes {
        return Ok(());
    }
    let target = max_bytes - max_bytes / 10;
    let txn = if wait {
        store.db().begin_write()
    } else {
        match store.db().try_begin_write() {
            Err(redb::TransactionError::WouldBlock) => return Ok(()),
            other => other,
        }
    }
    .map_err(redb_err)?;
    // Read again inside the transaction: another eviction may have run since.
    let held = {
        let meta = txn.open_table(META).map_err(redb_err)?;
        let found = meta.get("block_bytes").map_err(redb_err)?;
        found.map_or(0, |v| super::u64_from(v.value()))
    };
    if held <= max_bytes {
        return Ok(());
    }
    // HEAD is a database's; in a cache, the named roots are the pins.
    let pinned = reachable(&txn, |name| name != super::HEAD)?;
    let in_use = store.inner.recency.in_use();
    let mut candidates = Vec::new();
    {
        let ids = txn.open_table(BLOCK_IDS).map_err(redb_err)?;
        for item in ids.iter().map_err(redb_err)? {
            let (k, slot) = item.map_err(redb_err)?;
            let key = k.value();
            if !pinned.contains(key) && !in_use.contains(key) {
                let tick = store.inner.recency.tick_of(key);
                let (_, len) = slot.value();
                candidates.push((tick, key.to_vec(), u64::from(len)));
            }
        }
    }
    candidates.sort_unstable();
    let mut over = held - target;
    let mut doomed = HashSet::new();
    for (_, key, len) in candidates {
        if over == 0 {
            break;
        }
        over = over.saturating_sub(len);
        doomed.insert(key);
    }
    if doomed.is_empty() {
        return Ok(());
    }
    let (_, removed) = remove_blocks(&txn, |k| doomed.contains(k))?;
    txn.commit().map_err(redb_err)?;
    store.inner.recency.forget(&removed);
    Ok(())
}
