//! Making proofs and checking them. Both run the one `prolly_db` executor; the prover over the
//! full store through a recorder, the verifier over the witness alone.

use cid::Cid;
use fvm_ipld_blockstore::{Blockstore, MemoryBlockstore};
use prolly_db::{Database, Query, QueryResult};
use prolly_tree::{Outcome, cid_of};

use crate::anchor;
use crate::car;
use crate::envelope::{Envelope, Subject};
use crate::error::VerifyError;
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
    let db = prolly_tree::ready!(Database::open(&recorder, root));
    let result = prolly_tree::ready!(db.query(query));
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
    let root = match anchor::db_root(&recorder, &state_root, actor)? {
        Outcome::Complete(root) => root,
        Outcome::Missing(m) => return Ok(Outcome::Missing(m)),
    };
    let db = match Database::open(&recorder, root)? {
        Outcome::Complete(db) => db,
        Outcome::Missing(m) => return Ok(Outcome::Missing(m)),
    };
    let result = match db.query(query)? {
        Outcome::Complete(r) => r,
        Outcome::Missing(m) => return Ok(Outcome::Missing(m)),
    };
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

/// The checked pieces of a proof: its envelope and a store of its witness blocks. With
/// `deferred`, only the envelope is hashed here: the tree hash-checks every block it loads, and
/// the exactness check refuses blocks it did not load.
fn open(proof: &[u8], deferred: bool) -> Result<(Envelope, MemoryBlockstore, usize), VerifyError> {
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
    Ok((envelope, store, parsed.blocks.len()))
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
    recorder: &RecordingStore<&MemoryBlockstore>,
    root: Cid,
    query: &Query,
    result: &QueryResult,
    witness_blocks: usize,
) -> Result<(), VerifyError> {
    let db = match Database::open(recorder, root)? {
        Outcome::Complete(db) => db,
        Outcome::Missing(m) => return Err(VerifyError::Incomplete(m)),
    };
    let got = match db.query(query)? {
        Outcome::Complete(got) => got,
        Outcome::Missing(m) => return Err(VerifyError::Incomplete(m)),
    };
    if got.stop != result.stop
        || got.count != result.count
        || got.cursor != result.cursor
        || got.docs.len() != result.docs.len()
        || got.to_cbor() != result.to_cbor()
    {
        return Err(VerifyError::WrongResult);
    }
    let used = recorder.read_cids().len();
    if used != witness_blocks {
        return Err(VerifyError::Unused(witness_blocks - used));
    }
    Ok(())
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
    let (envelope, store, blocks) = open(proof, true)?;
    check_claims(&envelope, &Subject::Root(*root), query, result)?;
    let recorder = RecordingStore::cids_only(&store);
    rerun(&recorder, *root, query, result, blocks)
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
    let (envelope, store, blocks) = open(proof, false)?;
    check_claims(
        &envelope,
        &Subject::Anchored {
            state: *state_root,
            actor,
        },
        query,
        result,
    )?;
    let recorder = RecordingStore::cids_only(&store);
    let root = match anchor::db_root(&recorder, state_root, actor)? {
        Outcome::Complete(root) => root,
        Outcome::Missing(m) => return Err(VerifyError::Incomplete(m)),
    };
    rerun(&recorder, root, query, result, blocks)
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
    let before = prolly_tree::ready!(Database::open(&recorder, from));
    let after = prolly_tree::ready!(before.at_in(&recorder, to));
    let diff = prolly_tree::ready!(before.diff(&after));
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
    let (envelope, store, blocks) = open(proof, true)?;
    if envelope.subject
        != (Subject::Diff {
            from: *from,
            to: *to,
        })
    {
        return Err(VerifyError::Mismatch("root"));
    }
    let claimed = prolly_db::diff::to_cbor(diff);
    if envelope.result != claimed || !envelope.query.is_empty() {
        return Err(VerifyError::Mismatch("result"));
    }
    let recorder = RecordingStore::cids_only(&store);
    let incomplete = |m| VerifyError::Incomplete(m);
    let before = match Database::open(&recorder, *from)? {
        Outcome::Complete(db) => db,
        Outcome::Missing(m) => return Err(incomplete(m)),
    };
    let after = match before.at_in(&recorder, *to)? {
        Outcome::Complete(db) => db,
        Outcome::Missing(m) => return Err(incomplete(m)),
    };
    let got = match before.diff(&after)? {
        Outcome::Complete(d) => d,
        Outcome::Missing(m) => return Err(incomplete(m)),
    };
    if prolly_db::diff::to_cbor(&got) != claimed {
        return Err(VerifyError::WrongResult);
    }
    let used = recorder.read_cids().len();
    if used != blocks {
        return Err(VerifyError::Unused(blocks - used));
    }
    Ok(())
}
