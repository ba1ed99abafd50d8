//! Errors. Verifying: why a proof was not accepted, one variant per failure, so a client can
//! tell an incomplete proof (fetch more) from a wrong one (distrust the source). Proving: why a
//! proof could not be made. Anchoring: why a Filecoin state tree does not lead to a prollydb
//! database; both sides can meet it.

use std::collections::BTreeSet;

use cid::Cid;

#[derive(Debug, thiserror::Error)]
pub enum VerifyError {
    /// Not a proof: the CAR, its header or the envelope does not parse or is not canonical.
    #[error("malformed proof: {0}")]
    Malformed(String),
    /// Over the size or block-count limits (checked before any work).
    #[error("proof too large: {0}")]
    TooLarge(String),
    /// A block whose bytes do not hash to its CID.
    #[error("block {0} does not match its CID")]
    BadBlock(Cid),
    /// The envelope proves something other than what is claimed (another root, query or result).
    #[error("the proof is about another {0}")]
    Mismatch(&'static str),
    /// Re-running the query needs blocks the witness lacks.
    #[error("incomplete proof: {} block(s) missing", .0.len())]
    Incomplete(BTreeSet<Cid>),
    /// The query, re-run over the witness, gives a different result.
    #[error("wrong result: re-running the query gives another answer")]
    WrongResult,
    /// Witness blocks the query did not read: a proof carries exactly what the query reads.
    #[error("{0} witness block(s) that the query does not read")]
    Unused(usize),
    /// The executor refused the query or found a corrupt block.
    #[error("the query fails over the witness: {0}")]
    Query(#[source] prolly_db::Error),
    /// The Filecoin state-tree path does not lead to a prollydb actor's database.
    #[error(transparent)]
    Anchor(#[from] AnchorError),
}

impl VerifyError {
    pub(crate) fn malformed(reason: impl Into<String>) -> Self {
        VerifyError::Malformed(reason.into())
    }
}

/// A block the witness lacks makes the proof incomplete, wherever the read met it.
impl From<prolly_tree::Missing> for VerifyError {
    fn from(missing: prolly_tree::Missing) -> Self {
        VerifyError::Incomplete(missing.0)
    }
}

impl From<prolly_db::Error> for VerifyError {
    fn from(e: prolly_db::Error) -> Self {
        match e {
            prolly_db::Error::Tree(prolly_tree::Error::Missing(m)) => m.into(),
            other => VerifyError::Query(other),
        }
    }
}

/// Why a proof could not be made.
#[derive(Debug, thiserror::Error)]
pub enum ProveError {
    /// The query was refused, or the store failed or holds a corrupt block.
    #[error(transparent)]
    Query(#[from] prolly_db::Error),
    /// The state tree does not lead to a prollydb actor's database.
    #[error(transparent)]
    Anchor(#[from] AnchorError),
}

/// Why a Filecoin state root does not lead to a prollydb database.
#[derive(Debug, thiserror::Error)]
pub enum AnchorError {
    #[error("the state root is not [version ≥ 1, actors, info] (state-tree version 0 is not read)")]
    StateRoot,
    #[error("the actors HAMT: {0}")]
    Hamt(String),
    #[error("no actor {0} in the state tree")]
    NoActor(u64),
    #[error("actor {id}'s entry is not [code, head, nonce, balance, …]")]
    ActorEntry { id: u64 },
    #[error("actor {id}'s state is not [owner, writers, db root, seq]")]
    ActorState { id: u64 },
    #[error("block {cid} is not strict DAG-CBOR: {reason}")]
    Block {
        /// Boxed to keep every `Result` of the anchor path small.
        cid: Box<Cid>,
        #[source]
        reason: prolly_tree::Error,
    },
    #[error("the store failed: {0}")]
    Store(#[source] anyhow::Error),
}
