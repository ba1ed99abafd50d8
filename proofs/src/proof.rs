//! Making proofs and checking them. Both run the one `prolly_db` executor; the prover over the
//! full store through a recorder, the verifier over the witness alone.

use std::borrow::Cow;

use cid::Cid;
use fvm_ipld_blockstore::Blockstore;
use prolly_db::{
    Database, DocDiff, EncodedResult, Query, QueryResult, Work, diff_to_cbor, try_diff_to_cbor,
};
use prolly_tree::{Outcome, ready};

use crate::anchor;
use crate::envelope::{Envelope, Subject};
use crate::error::{ProveError, VerifyError};
use crate::record::RecordingStore;
use crate::witness::{Witness, WitnessStore, package};

/// A proof: the CAR bytes, and the result it proves.
#[derive(Debug, Clone)]
pub struct Proof {
    pub bytes: Vec<u8>,
    pub result: QueryResult,
    /// Bytes of the witness blocks alone (the CAR without its header and envelope).
    pub witness_bytes: usize,
    pub witness_blocks: usize,
}

fn proof(
    subject: Subject,
    query: &Query,
    result: EncodedResult,
    blocks: Vec<(Cid, Vec<u8>)>,
) -> Result<Proof, ProveError> {
    let envelope = Envelope {
        subject,
        query: query.to_cbor(),
        result: result.to_cbor(),
    }
    .encode();
    let result = result.decode()?;
    let witness_bytes = blocks.iter().map(|(_, b)| b.len()).sum();
    let witness_blocks = blocks.len();
    Ok(Proof {
        bytes: package(&envelope, &blocks),
        result,
        witness_bytes,
        witness_blocks,
    })
}

/// Runs `query` at `root` over `store` and packages the result with the blocks it read.
pub fn prove<S: Blockstore>(
    store: &S,
    root: Cid,
    query: &Query,
) -> Result<Outcome<Proof>, ProveError> {
    let recorder = RecordingStore::new(store);
    let db = ready!(Database::open_unchecked(&recorder, root));
    let result = ready!(db.query_encoded(query, Work::AsAsked));
    drop(db);
    Ok(Outcome::Complete(proof(
        Subject::Root(root),
        query,
        result,
        recorder.take(),
    )?))
}

/// Like [`prove`], starting from a Filecoin state root and the prollydb actor's ID.
pub fn prove_anchored<S: Blockstore>(
    store: &S,
    state_root: Cid,
    actor: u64,
    query: &Query,
) -> Result<Outcome<Proof>, ProveError> {
    let recorder = RecordingStore::new(store);
    let root = ready!(anchor::db_root(&recorder, &state_root, actor));
    let db = ready!(Database::open_unchecked(&recorder, root));
    let result = ready!(db.query_encoded(query, Work::AsAsked));
    drop(db);
    Ok(Outcome::Complete(proof(
        Subject::Anchored {
            state: state_root,
            actor,
        },
        query,
        result,
        recorder.take(),
    )?))
}

/// Checks the envelope against the claim: its subject and query, then its result against the
/// caller's. The claimed result's bytes are returned (read in place in the proof): the re-run's
/// result is compared with them.
fn check_claims<'p>(
    witness: &Witness<'p>,
    subject: Subject,
    query: &Query,
    result: &QueryResult,
) -> Result<Cow<'p, [u8]>, VerifyError> {
    let claimed = witness.claim(&subject, &query.to_cbor())?;
    // A result DAG-CBOR cannot hold is no envelope's claim.
    if !result.is_encoded_as(&claimed) {
        return Err(VerifyError::Mismatch("result"));
    }
    Ok(claimed)
}

/// Re-runs the query over the witness from `root`: the result the proof must claim.
fn rerun(
    reader: &WitnessStore<'_>,
    root: Cid,
    query: &Query,
) -> Result<EncodedResult, VerifyError> {
    let db = Database::open_unchecked(reader, root)?.into_result()?;
    Ok(db.query_encoded(query, Work::AsAsked)?.into_result()?)
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
    let claimed = check_claims(&witness, Subject::Root(*root), query, result)?;
    let got = rerun(witness.reader(), *root, query)?;
    check_result(&witness, &got, result, &claimed)
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
    let subject = Subject::Anchored {
        state: *state_root,
        actor,
    };
    let claimed = check_claims(&witness, subject, query, result)?;
    let reader = witness.reader();
    let root = anchor::db_root(reader, state_root, actor)?.into_result()?;
    let got = rerun(reader, root, query)?;
    check_result(&witness, &got, result, &claimed)
}

fn check_result(
    witness: &Witness<'_>,
    got: &EncodedResult,
    result: &QueryResult,
    claimed: &[u8],
) -> Result<(), VerifyError> {
    if got.stop != result.stop
        || got.count != result.count
        || got.cursor != result.cursor
        || got.len() != result.docs.len()
        || !got.is_encoded_as(claimed)
    {
        return Err(VerifyError::WrongResult);
    }
    witness.exact()
}

/// The result a proof claims for `query` at database root `root`, checked as [`verify`] checks
/// one: what a reader does with a proof it was sent. The claim is read from the envelope as bytes
/// and compared with the re-run's as bytes; only the checked result is decoded. Decoding the
/// claim first and handing it to [`verify`] decodes it, checks its encoding, and encodes it again.
pub fn verify_claim(root: &Cid, query: &Query, proof: &[u8]) -> Result<QueryResult, VerifyError> {
    let witness = Witness::open(proof, true)?;
    let claimed = witness.claim(&Subject::Root(*root), &query.to_cbor())?;
    let got = rerun(witness.reader(), *root, query)?;
    checked_claim(&witness, got, &claimed)
}

/// [`verify_claim`] from a Filecoin state root, as [`verify_anchored`] checks one.
pub fn verify_claim_anchored(
    state_root: &Cid,
    actor: u64,
    query: &Query,
    proof: &[u8],
) -> Result<QueryResult, VerifyError> {
    let witness = Witness::open(proof, false)?;
    let subject = Subject::Anchored {
        state: *state_root,
        actor,
    };
    let claimed = witness.claim(&subject, &query.to_cbor())?;
    let reader = witness.reader();
    let root = anchor::db_root(reader, state_root, actor)?.into_result()?;
    let got = rerun(reader, root, query)?;
    checked_claim(&witness, got, &claimed)
}

fn checked_claim(
    witness: &Witness<'_>,
    got: EncodedResult,
    claimed: &[u8],
) -> Result<QueryResult, VerifyError> {
    if !got.is_encoded_as(claimed) {
        return Err(VerifyError::WrongResult);
    }
    witness.exact()?;
    Ok(got.decode()?)
}

/// A proof of what changed between two database roots: the document diff, with the blocks the
/// tree diff read (it skips every subtree the roots share, so the witness grows with the change,
/// not the database).
pub fn prove_diff<S: Blockstore>(
    store: &S,
    from: Cid,
    to: Cid,
) -> Result<Outcome<(DocDiff, Vec<u8>)>, ProveError> {
    let recorder = RecordingStore::new(store);
    let before = ready!(Database::open_unchecked(&recorder, from));
    let after = ready!(before.at_through(&recorder, to));
    let diff = ready!(before.diff(&after));
    drop((before, after));
    let envelope = Envelope {
        subject: Subject::Diff { from, to },
        query: Vec::new(),
        result: diff_to_cbor(&diff),
    }
    .encode();
    let car = package(&envelope, &recorder.take());
    Ok(Outcome::Complete((diff, car)))
}

/// Checks that `diff` is exactly what changed from `from` to `to`, from the proof alone.
pub fn verify_diff(from: &Cid, to: &Cid, diff: &DocDiff, proof: &[u8]) -> Result<(), VerifyError> {
    let witness = Witness::open(proof, true)?;
    // A diff DAG-CBOR cannot hold is no envelope's claim: as empty bytes (no diff encodes so)
    // it fails the comparison, after the roots.
    let claimed = try_diff_to_cbor(diff).unwrap_or_default();
    let subject = Subject::Diff {
        from: *from,
        to: *to,
    };
    witness.check_claims(&subject, &[], &claimed)?;
    let reader = witness.reader();
    let before = Database::open_unchecked(&reader, *from)?.into_result()?;
    let after = before.at_through(&reader, *to)?.into_result()?;
    let got = before.diff(&after)?.into_result()?;
    if diff_to_cbor(&got) != claimed {
        return Err(VerifyError::WrongResult);
    }
    witness.exact()
}
