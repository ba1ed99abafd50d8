//! The blockstore a tipset is built in: reads fall through to the redb store, writes stay in
//! memory until the tipset commits them, with the head, in one transaction. A tipset that fails
//! half way leaves nothing behind.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use cid::Cid;
use fvm_ipld_blockstore::Blockstore;
use prolly_client::Store;

pub struct Overlay {
    base: Arc<Store>,
    pending: Mutex<HashMap<Cid, Vec<u8>>>,
}

impl Overlay {
    pub fn new(base: Arc<Store>) -> Arc<Overlay> {
        Arc::new(Overlay {
            base,
            pending: Mutex::default(),
        })
    }

    /// The blocks written since the overlay was made.
    pub fn take(&self) -> HashMap<Cid, Vec<u8>> {
        std::mem::take(&mut *self.pending.lock().unwrap_or_else(|e| e.into_inner()))
    }
}

impl Blockstore for Overlay {
    fn get(&self, k: &Cid) -> anyhow::Result<Option<Vec<u8>>> {
        if let Some(bytes) = self
            .pending
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(k)
        {
            return Ok(Some(bytes.clone()));
        }
        self.base.get(k)
    }

    fn put_keyed(&self, k: &Cid, block: &[u8]) -> anyhow::Result<()> {
        self.pending
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(*k, block.to_vec());
        Ok(())
    }

    fn has(&self, k: &Cid) -> anyhow::Result<bool> {
        if self
            .pending
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .contains_key(k)
        {
            return Ok(true);
        }
        self.base.has(k)
    }
}
