//! A blockstore wrapper that records every block read through it, once, in first-read order.
//! Wrapped around a full store while a query runs, it captures exactly the query's witness. (The
//! verifier marks the witness blocks it uses in its own store, `witness.rs`.)

use std::cell::RefCell;
use std::collections::{BTreeSet, HashSet};

use cid::Cid;
use fvm_ipld_blockstore::Blockstore;

/// A store that remembers the blocks it was asked for and lacked: what a reader over a partial
/// store (or an incomplete proof) is missing.
pub trait Misses {
    fn missing(&self) -> BTreeSet<Cid>;
}

pub struct RecordingStore<S> {
    inner: S,
    seen: RefCell<HashSet<Cid>>,
    read: RefCell<Vec<(Cid, Vec<u8>)>>,
    /// Blocks asked for and not found: what a reader over a partial store is missing.
    missing: RefCell<BTreeSet<Cid>>,
}

impl<S: Blockstore> RecordingStore<S> {
    pub fn new(inner: S) -> Self {
        RecordingStore {
            inner,
            seen: RefCell::default(),
            read: RefCell::default(),
            missing: RefCell::default(),
        }
    }

    /// The blocks read so far, in first-read order.
    pub fn take(&self) -> Vec<(Cid, Vec<u8>)> {
        self.seen.borrow_mut().clear();
        std::mem::take(&mut *self.read.borrow_mut())
    }

    pub fn inner(&self) -> &S {
        &self.inner
    }
}

impl<S> Misses for RecordingStore<S> {
    fn missing(&self) -> BTreeSet<Cid> {
        self.missing.borrow().clone()
    }
}

impl<S: Blockstore> Blockstore for RecordingStore<S> {
    fn get(&self, k: &Cid) -> anyhow::Result<Option<Vec<u8>>> {
        let block = self.inner.get(k)?;
        match &block {
            Some(bytes) => {
                if self.seen.borrow_mut().insert(*k) {
                    self.read.borrow_mut().push((*k, bytes.clone()));
                }
            }
            None => {
                self.missing.borrow_mut().insert(*k);
            }
        }
        Ok(block)
    }

    fn has(&self, k: &Cid) -> anyhow::Result<bool> {
        self.inner.has(k)
    }

    fn put_keyed(&self, _k: &Cid, _block: &[u8]) -> anyhow::Result<()> {
        anyhow::bail!("a recording store is read-only")
    }
}
