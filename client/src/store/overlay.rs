//! Blocks held in memory above a store until a writer commits them: a write is built in an
//! overlay (reads fall through to the store), then its blocks go into the store in one
//! transaction with the root they belong to. Whatever fails before that leaves nothing behind.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use cid::Cid;
use fvm_ipld_blockstore::Blockstore;

use super::{Store, StoreError, Writer};

/// Blocks staged in memory, by CID.
pub type Staged = HashMap<Cid, Vec<u8>>;

pub struct Overlay {
    base: Store,
    /// Blocks staged before these and not yet committed (an import's last batch, committed on
    /// another thread while the next one is written above it).
    below: Option<Arc<Staged>>,
    pending: Mutex<Staged>,
}

impl Overlay {
    pub fn new(base: Store) -> Overlay {
        Overlay {
            base,
            below: None,
            pending: Mutex::default(),
        }
    }

    /// An overlay that also reads `below`, blocks staged earlier that may not be in the store
    /// yet.
    pub fn above(base: Store, below: Arc<Staged>) -> Overlay {
        Overlay {
            below: Some(below),
            ..Overlay::new(base)
        }
    }

    /// The blocks written since the overlay was made (or last taken).
    pub fn take(&self) -> Staged {
        std::mem::take(&mut *self.pending())
    }

    fn pending(&self) -> std::sync::MutexGuard<'_, Staged> {
        self.pending.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn staged(&self, k: &Cid) -> Option<Vec<u8>> {
        if let Some(bytes) = self.pending().get(k) {
            return Some(bytes.clone());
        }
        self.below.as_ref()?.get(k).cloned()
    }
}

impl Blockstore for Overlay {
    fn get(&self, k: &Cid) -> anyhow::Result<Option<Vec<u8>>> {
        match self.staged(k) {
            Some(bytes) => Ok(Some(bytes)),
            None => Ok(self.base.get_block(k)?),
        }
    }

    fn put_keyed(&self, k: &Cid, block: &[u8]) -> anyhow::Result<()> {
        self.pending().insert(*k, block.to_vec());
        Ok(())
    }

    fn has(&self, k: &Cid) -> anyhow::Result<bool> {
        let staged = self.pending().contains_key(k)
            || self.below.as_ref().is_some_and(|b| b.contains_key(k));
        Ok(staged || self.base.has_block(k)?)
    }
}

impl Writer {
    /// Adds staged blocks (an overlay's), in one pass.
    pub fn put_staged(&self, blocks: &Staged) -> Result<(), StoreError> {
        self.put_cids(blocks.iter().map(|(cid, bytes)| (cid, bytes.as_slice())))
    }
}
