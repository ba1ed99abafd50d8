//! A blockstore wrapper that records every block read through it, once, in first-read order.
//! Wrapped around a full store while a query runs, it captures exactly the query's witness;
//! wrapped around a witness while the verifier re-runs the query, it tells which witness blocks
//! were used.

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
    /// Keep the blocks' bytes (a prover does; a verifier only needs to know what was read).
    keep_bytes: bool,
    seen: RefCell<HashSet<Cid>>,
    read: RefCell<Vec<(Cid, Vec<u8>)>>,
    /// Blocks asked for and not found: what a reader over a partial store is missing.
    missing: RefCell<BTreeSet<Cid>>,
}

impl<S: Blockstore> RecordingStore<S> {
    pub fn new(inner: S) -> Self {
        RecordingStore {
            inner,
            keep_bytes: true,
            seen: RefCell::default(),
            read: RefCell::default(),
            missing: RefCell::default(),
        }
    }

    /// A recorder that keeps only which blocks were read.
    pub fn cids_only(inner: S) -> Self {
        RecordingStore {
            keep_bytes: false,
            ..Self::new(inner)
        }
    }

    /// The blocks read so far, in first-read order (empty bytes for a `cids_only` recorder).
    pub fn take(&self) -> Vec<(Cid, Vec<u8>)> {
        self.seen.borrow_mut().clear();
        std::mem::take(&mut *self.read.borrow_mut())
    }

    /// The CIDs read so far.
    pub fn read_cids(&self) -> BTreeSet<Cid> {
        self.read.borrow().iter().map(|(c, _)| *c).collect()
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
                    let kept = if self.keep_bytes {
                        bytes.clone()
                    } else {
                        Vec::new()
                    };
                    self.read.borrow_mut().push((*k, kept));
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
