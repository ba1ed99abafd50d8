//! A proof opened for checking: its envelope, and its witness blocks in a store that records
//! which of them the verifying read uses. Query, diff and actor proofs all open one.

use cid::Cid;
use fvm_ipld_blockstore::{Blockstore, MemoryBlockstore};

use crate::car;
use crate::envelope::Envelope;
use crate::error::VerifyError;
use crate::record::RecordingStore;

/// The checked pieces of a proof: its envelope and a store of its witness blocks.
pub(crate) struct Witness {
    pub envelope: Envelope,
    pub store: MemoryBlockstore,
    pub blocks: usize,
}

impl Witness {
    /// Reads a proof. With `deferred`, only the envelope is hashed here: the tree hash-checks
    /// every block it loads, and [`Witness::exact`] refuses blocks it did not load.
    pub fn open(proof: &[u8], deferred: bool) -> Result<Witness, VerifyError> {
        let parsed = if deferred {
            car::read_strict_deferred(proof)?
        } else {
            car::read_strict(proof)?
        };
        let envelope = Envelope::decode(parsed.root_block)?;
        let store = MemoryBlockstore::default();
        for (cid, data) in &parsed.blocks {
            store
                .put_keyed(cid, data)
                .map_err(|e| VerifyError::malformed(e.to_string()))?;
        }
        Ok(Witness {
            envelope,
            store,
            blocks: parsed.blocks.len(),
        })
    }

    /// A recorder over the witness, to run the verifying read through.
    pub fn reader(&self) -> RecordingStore<&MemoryBlockstore> {
        RecordingStore::cids_only(&self.store)
    }

    /// Proofs are exact: the verifying read must have used every witness block.
    pub fn exact(&self, reader: &RecordingStore<&MemoryBlockstore>) -> Result<(), VerifyError> {
        let used = reader.read_cids().len();
        if used != self.blocks {
            return Err(VerifyError::Unused(self.blocks - used));
        }
        Ok(())
    }
}

/// The proof's CAR: the envelope block first, then the witness blocks.
pub(crate) fn package(envelope: &[u8], blocks: &[(Cid, Vec<u8>)]) -> Vec<u8> {
    car::write((prolly_tree::cid_of(envelope), envelope), blocks)
}
