//! Blocks in memory, shareable across threads (fvm's `MemoryBlockstore` is not `Sync`): the
//! store under a light client with no disk, a CAR's blocks, a test's server.

use std::collections::HashMap;
use std::sync::RwLock;

use cid::Cid;
use fvm_ipld_blockstore::Blockstore;

#[derive(Debug, Default)]
pub struct MemoryStore {
    blocks: RwLock<HashMap<Cid, Vec<u8>>>,
}

impl MemoryStore {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn len(&self) -> usize {
        self.blocks.read().unwrap_or_else(|e| e.into_inner()).len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The bytes of all blocks held.
    pub fn bytes(&self) -> usize {
        let blocks = self.blocks.read().unwrap_or_else(|e| e.into_inner());
        blocks.values().map(Vec::len).sum()
    }
}

impl Blockstore for MemoryStore {
    fn get(&self, k: &Cid) -> anyhow::Result<Option<Vec<u8>>> {
        Ok(self
            .blocks
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .get(k)
            .cloned())
    }

    fn has(&self, k: &Cid) -> anyhow::Result<bool> {
        Ok(self
            .blocks
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .contains_key(k))
    }

    fn put_keyed(&self, k: &Cid, block: &[u8]) -> anyhow::Result<()> {
        let mut blocks = self.blocks.write().unwrap_or_else(|e| e.into_inner());
        blocks.entry(*k).or_insert_with(|| block.to_vec());
        Ok(())
    }
}
