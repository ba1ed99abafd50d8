//! Why a proof was not accepted. Each failure has its own variant, so a client can tell an
//! incomplete proof (fetch more) from a wrong one (distrust the source).

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
    Query(#[from] prolly_db::Error),
    /// The Filecoin state-tree path does not lead to a prollydb actor's database.
    #[error("bad chain anchor: {0}")]
    Anchor(String),
}

impl VerifyError {
    pub(crate) fn malformed(reason: impl Into<String>) -> Self {
        VerifyError::Malformed(reason.into())
    }
}

/// A verifier's reading: a block the witness lacks makes the proof incomplete.
pub(crate) fn needed<T>(outcome: prolly_tree::Outcome<T>) -> Result<T, VerifyError> {
    match outcome {
        prolly_tree::Outcome::Complete(value) => Ok(value),
        prolly_tree::Outcome::Missing(cids) => Err(VerifyError::Incomplete(cids)),
    }
}
