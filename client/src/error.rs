use cid::Cid;

use crate::source::FetchError;

/// Why a read failed. No variant carries a result: an answer the client could not verify is not
/// an answer.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    /// The database refused the query, or a block is corrupt (its CID is named).
    #[error(transparent)]
    Db(#[from] prolly_db::Error),
    /// A block the query needs could be had from no source.
    #[error("block {cid} is unavailable from {source_name}: {error}")]
    Unavailable {
        cid: Cid,
        source_name: String,
        #[source]
        error: FetchError,
    },
    /// The local store lacks blocks and no source was given to fetch them from.
    #[error("{count} block(s) are not held locally (first {cid}) and no remote source is set")]
    NotHeld { cid: Cid, count: usize },
    /// The local store failed.
    #[error("the local store: {0:#}")]
    Store(anyhow::Error),
    /// Every prollydb node refused or failed, and there is no block source to fall back to.
    #[error("no node gave a verified answer: {0}")]
    NoPeerAnswered(String),
    /// Making a proof from the fetched blocks failed (the state tree did not lead to a database).
    #[error("proving: {0}")]
    Prove(Box<prolly_proofs::ProveError>),
    /// A proof made from fetched blocks did not verify against the root it claims.
    #[error("the proof does not verify: {0}")]
    Verify(Box<prolly_proofs::VerifyError>),
    /// Resolving a root through a node failed.
    #[error("resolving the root: {0}")]
    Root(#[source] FetchError),
}

// Boxed: a proof error is large, and every read's `Result` carries the error.
impl From<prolly_proofs::ProveError> for ClientError {
    fn from(e: prolly_proofs::ProveError) -> ClientError {
        ClientError::Prove(Box::new(e))
    }
}

impl From<prolly_proofs::VerifyError> for ClientError {
    fn from(e: prolly_proofs::VerifyError) -> ClientError {
        ClientError::Verify(Box::new(e))
    }
}
