//! An in-memory Blockstore that counts the bytes written and read through it.

use std::cell::Cell;

use cid::Cid;
use fvm_ipld_blockstore::{Blockstore, MemoryBlockstore};

#[derive(Default)]
pub struct CountingStore {
    inner: MemoryBlockstore,
    written: Cell<u64>,
    written_blocks: Cell<u64>,
    read: Cell<u64>,
    read_blocks: Cell<u64>,
}

impl CountingStore {
    pub fn take_written(&self) -> u64 {
        self.written.replace(0)
    }
    pub fn take_written_blocks(&self) -> u64 {
        self.written_blocks.replace(0)
    }
    pub fn take_read(&self) -> u64 {
        self.read.replace(0)
    }
    pub fn take_read_blocks(&self) -> u64 {
        self.read_blocks.replace(0)
    }
}

impl Blockstore for CountingStore {
    fn get(&self, k: &Cid) -> anyhow::Result<Option<Vec<u8>>> {
        let block = self.inner.get(k)?;
        if let Some(b) = &block {
            self.read.set(self.read.get() + b.len() as u64);
            self.read_blocks.set(self.read_blocks.get() + 1);
        }
        Ok(block)
    }
    fn put_keyed(&self, k: &Cid, block: &[u8]) -> anyhow::Result<()> {
        // Content addressing stores a block once: only new blocks count as written.
        if !self.inner.has(k)? {
            self.written.set(self.written.get() + block.len() as u64);
            self.written_blocks.set(self.written_blocks.get() + 1);
        }
        self.inner.put_keyed(k, block)
    }
    fn has(&self, k: &Cid) -> anyhow::Result<bool> {
        self.inner.has(k)
    }
}
