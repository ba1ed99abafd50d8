//! Making proofs and checking them. Both run the one `prolly_db` executor; the prover over the
//! full store through a recorder, the verifier over the witness alone.

use cid::Cid;
use fvm_ipld_blockstore::{Blockstore, MemoryBlockstore};
use prolly_db::{Database, Query, QueryResult};
use prolly_tree::{Outcome, cid_of, ready};

use crate::anchor;
use crate::car;
use crate::envelope::{Envelope, Subject};
use crate::error::{VerifyError, needed};
use crate::record::RecordingStore;

/// A proof: the CAR bytes, and the result it proves.
#[derive(Debug, Clone)]
pub struct Proof {
    pub bytes: Vec<u8>,
    pub result: QueryResult,
    /// Bytes of the witness blocks alone (the CAR without its header and envelope).
    pub witness_bytes: usize,
    pub witness_blocks: usize,
}

fn package(
    subject: Subject,
    query: &Query,
    result: QueryResult,
    blocks: Vec<(Cid, Vec<u8>)>,
) -> Proof {
    let envelope = Envelope {
        subject,
        query: query.to_cbor(),
        result: result.to_cbor(),
    }
    .encode();
    let witness_bytes = blocks.iter().map(|(_, b)| b.len()).sum();
    let witness_blocks = blocks.len();
    Proof {
        bytes: car::write((cid_of(&envelope), &envelope), &blocks),
        result,
        witness_bytes,
        witness_blocks,
    }
}

/// Runs `query` at `root` over `store` and packages the result with the blocks it read.
pub fn prove<S: Blockstore>(
    store: &S,
    root: Cid,
    query: &Query,
) -> prolly_db::Result<Outcome<Proof>> {
    let recorder = RecordingStore::new(store);
    let db = ready!(Database::open(&recorder, root));
    let result = ready!(db.query(query));
    drop(db);
    Ok(Outcome::Complete(package(
        Subject::Root(root),
        query,
        result,
        recorder.take(),
    )))
}

/// Like [`prove`], starting from a Filecoin state root and the prollydb actor's ID.
pub fn prove_anchored<S: Blockstore>(
    store: &S,
    state_root: Cid,
    actor: u64,
    query: &Query,
) -> Result<Outcome<Proof>, VerifyError> {
    let recorder = RecordingStore::new(store);
    let root = ready!(anchor::db_root(&recorder, &state_root, actor));
    let db = ready!(Database::open(&recorder, root));
    let result = ready!(db.query(query));
    drop(db);
    Ok(Outcome::Complete(package(
        Subject::Anchored {
            state: state_root,
            actor,
        },
        query,
        result,
        recorder.take(),
    )))
}

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

fn check_claims(
    envelope: &Envelope,
    subject: &Subject,
    query: &Query,
    result: &QueryResult,
) -> Result<(), VerifyError> {
    if envelope.subject != *subject {
        return Err(VerifyError::Mismatch("root"));
    }
    if envelope.query != query.to_cbor() {
        return Err(VerifyError::Mismatch("query"));
    }
    if envelope.result != result.to_cbor() {
        return Err(VerifyError::Mismatch("result"));
    }
    Ok(())
}

/// Re-runs the query over the witness from `root` and compares.
fn rerun(
    witness: &Witness,
    reader: &RecordingStore<&MemoryBlockstore>,
    root: Cid,
    query: &Query,
    result: &QueryResult,
) -> Result<(), VerifyError> {
    let db = needed(Database::open(reader, root)?)?;
    let got = needed(db.query(query)?)?;
    if got.stop != result.stop
        || got.count != result.count
        || got.cursor != result.cursor
        || got.docs.len() != result.docs.len()
        || got.to_cbor() != result.to_cbor()
    {
        return Err(VerifyError::WrongResult);
    }
    witness.exact(reader)
}

/// Checks that `result` is exactly what `query` gives at database root `root`, using nothing but
/// the proof: every block is hash-checked, the query re-runs over the witness alone, and the
/// witness must hold exactly the blocks that run reads.
pub fn verify(
    root: &Cid,
    query: &Query,
    result: &QueryResult,
    proof: &[u8],
) -> Result<(), VerifyError> {
    let witness = Witness::open(proof, true)?;
    check_claims(&witness.envelope, &Subject::Root(*root), query, result)?;
    rerun(&witness, &witness.reader(), *root, query, result)
}

/// Like [`verify`], from a Filecoin state root: the witness also proves the path from the state
/// root through the actors HAMT to actor `actor`'s state and the database root it holds.
pub fn verify_anchored(
    state_root: &Cid,
    actor: u64,
    query: &Query,
    result: &QueryResult,
    proof: &[u8],
) -> Result<(), VerifyError> {
    // fvm_ipld_hamt does not hash-check what it loads: hash every block here.
    let witness = Witness::open(proof, false)?;
    check_claims(
        &witness.envelope,
        &Subject::Anchored {
            state: *state_root,
            actor,
        },
        query,
        result,
    )?;
    let reader = witness.reader();
    let root = needed(anchor::db_root(&reader, state_root, actor)?)?;
    rerun(&witness, &reader, root, query, result)
}

/// A proof of what changed between two database roots: the document diff, with the blocks the
/// tree diff read (it skips every subtree the roots share, so the witness grows with the change,
/// not the database).
pub fn prove_diff<S: Blockstore>(
    store: &S,
    from: Cid,
    to: Cid,
) -> prolly_db::Result<Outcome<(prolly_db::DocDiff, Vec<u8>)>> {
    let recorder = RecordingStore::new(store);
    let before = ready!(Database::open(&recorder, from));
    let after = ready!(before.at_in(&recorder, to));
    let diff = ready!(before.diff(&after));
    drop((before, after));
    let envelope = Envelope {
        subject: Subject::Diff { from, to },
        query: Vec::new(),
        result: prolly_db::diff::to_cbor(&diff),
    }
    .encode();
    let car = car::write((cid_of(&envelope), &envelope), &recorder.take());
    Ok(Outcome::Complete((diff, car)))
}

/// Checks that `diff` is exactly what changed from `from` to `to`, from the proof alone.
pub fn verify_diff(
    from: &Cid,
    to: &Cid,
    diff: &prolly_db::DocDiff,
    proof: &[u8],
) -> Result<(), VerifyError> {
    let witness = Witness::open(proof, true)?;
    if witness.envelope.subject
        != (Subject::Diff {
            from: *from,
            to: *to,
        })
    {
        return Err(VerifyError::Mismatch("root"));
    }
    let claimed = prolly_db::diff::to_cbor(diff);
    if witness.envelope.result != claimed || !witness.envelope.query.is_empty() {
        return Err(VerifyError::Mismatch("result"));
    }
    let reader = witness.reader();
    let before = needed(Database::open(&reader, *from)?)?;
    let after = needed(before.at_in(&reader, *to)?)?;
    let got = needed(before.diff(&after)?)?;
    if prolly_db::diff::to_cbor(&got) != claimed {
        return Err(VerifyError::WrongResult);
    }
    witness.exact(&reader)
}
