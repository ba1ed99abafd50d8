//! A proof opened for checking: its envelope, and its witness blocks in a store that records
//! which of them the verifying read uses. Query, diff and actor proofs all open one.

use std::borrow::Cow;
use std::cell::{Cell, RefCell};
use std::collections::BTreeSet;

use cid::Cid;
use fvm_ipld_blockstore::Blockstore;

use crate::car;
use crate::envelope::{Envelope, Subject};
use crate::error::VerifyError;
use crate::record::Misses;

/// The checked pieces of a proof: its envelope block and its witness blocks.
pub(crate) struct Witness<'p> {
    envelope: &'p [u8],
    pub store: WitnessStore<'p>,
}

impl<'p> Witness<'p> {
    /// Reads a proof. With `deferred`, only the envelope is hashed here: the tree hash-checks
    /// every block it loads, and [`Witness::exact`] refuses blocks it did not load.
    pub fn open(proof: &'p [u8], deferred: bool) -> Result<Witness<'p>, VerifyError> {
        let parsed = if deferred {
            car::read_strict_deferred(proof)?
        } else {
            car::read_strict(proof)?
        };
        Ok(Witness {
            envelope: parsed.root_block,
            store: WitnessStore::new(parsed.blocks),
        })
    }

    /// Checks that the envelope claims exactly `result` (its bytes) for `subject` and `query`.
    pub fn check_claims(
        &self,
        subject: &Subject,
        query: &[u8],
        result: &[u8],
    ) -> Result<(), VerifyError> {
        if *self.claim(subject, query)? != *result {
            return Err(VerifyError::Mismatch("result"));
        }
        Ok(())
    }

    /// The result bytes the envelope claims, once its subject and query (its canonical bytes)
    /// are `subject` and `query`. Read in place: only a proof whose envelope differs is decoded,
    /// to say where (decoding every envelope was 7% of reading a membership proof's claim, and a
    /// sixth of verifying one).
    pub fn claim(&self, subject: &Subject, query: &[u8]) -> Result<Cow<'p, [u8]>, VerifyError> {
        if let Some(result) = Envelope::claimed_result(self.envelope, subject, query) {
            return Ok(Cow::Borrowed(result));
        }
        Ok(Cow::Owned(self.decoded_for(subject, query)?.result))
    }

    /// The envelope decoded, if its subject and query are these; otherwise which one differs.
    fn decoded_for(&self, subject: &Subject, query: &[u8]) -> Result<Envelope, VerifyError> {
        let found = Envelope::decode(self.envelope)?;
        if found.subject != *subject {
            return Err(VerifyError::Mismatch("root"));
        }
        if found.query != query {
            return Err(VerifyError::Mismatch("query"));
        }
        Ok(found)
    }

    /// The store to run the verifying read through: it marks the blocks that read loads.
    pub fn reader(&self) -> &WitnessStore<'p> {
        &self.store
    }

    /// Proofs are exact: the verifying read must have used every witness block.
    pub fn exact(&self) -> Result<(), VerifyError> {
        let unused = self.store.blocks.len() - self.store.used.get();
        if unused > 0 {
            return Err(VerifyError::Unused(unused));
        }
        Ok(())
    }
}

/// A proof's witness blocks, read in place from the proof, each marked when first loaded: the
/// verifier's store and its record of what the verifying read used, in one. Sorted by CID and
/// binary-searched, so nothing hashes a CID a proof chose (a strict CAR holds each block once).
pub(crate) struct WitnessStore<'p> {
    blocks: Vec<(Cid, &'p [u8], Cell<bool>)>,
    used: Cell<usize>,
    missing: RefCell<BTreeSet<Cid>>,
}

impl<'p> WitnessStore<'p> {
    fn new(blocks: Vec<(Cid, &'p [u8])>) -> Self {
        let mut blocks: Vec<_> = blocks
            .into_iter()
            .map(|(cid, data)| (cid, data, Cell::new(false)))
            .collect();
        blocks.sort_unstable_by_key(|b| b.0);
        WitnessStore {
            blocks,
            used: Cell::new(0),
            missing: RefCell::default(),
        }
    }

    fn find(&self, k: &Cid) -> Option<&(Cid, &'p [u8], Cell<bool>)> {
        let at = self.blocks.binary_search_by(|b| b.0.cmp(k)).ok()?;
        self.blocks.get(at)
    }
}

impl Misses for WitnessStore<'_> {
    fn missing(&self) -> BTreeSet<Cid> {
        self.missing.borrow().clone()
    }
}

impl Blockstore for WitnessStore<'_> {
    fn get(&self, k: &Cid) -> anyhow::Result<Option<Vec<u8>>> {
        let Some((_, data, loaded)) = self.find(k) else {
            self.missing.borrow_mut().insert(*k);
            return Ok(None);
        };
        if !loaded.replace(true) {
            self.used.set(self.used.get() + 1);
        }
        Ok(Some(data.to_vec()))
    }

    fn has(&self, k: &Cid) -> anyhow::Result<bool> {
        Ok(self.find(k).is_some())
    }

    fn put_keyed(&self, _k: &Cid, _block: &[u8]) -> anyhow::Result<()> {
        anyhow::bail!("a proof's witness is read-only")
    }
}

/// The proof's CAR: the envelope block first, then the witness blocks.
pub(crate) fn package(envelope: &[u8], blocks: &[(Cid, Vec<u8>)]) -> Vec<u8> {
    car::write((prolly_tree::cid_of(envelope), envelope), blocks)
}
