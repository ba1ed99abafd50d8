//! A prollydb node's verified-query endpoint, from the client's side: one round trip for a
//! result and its proof, checked against the root and the exact query the client chose.

use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use prolly_db::{Query, QueryResult};
use prolly_proofs::VerifyError;

use crate::protocol::{At, CAR_TYPE, DAG_CBOR_TYPE, QUERY_PATH, QueryRequest};
use crate::source::FetchError;
use crate::source::http::{client, read_capped, transport};

/// Proofs larger than this are not read (a query's result is capped at a few MiB; its witness
/// with it stays well under this).
const MAX_PROOF_BYTES: usize = 64 << 20;

/// Why a node gave no verified answer.
#[derive(Debug, thiserror::Error)]
pub enum PeerError {
    /// "This node won't" (it lacks the root, refuses the query, is busy): not a lie.
    #[error("refused ({status}): {reason}")]
    Refused { status: u16, reason: String },
    /// A proof that does not verify: the node lies (or is broken), and is dropped.
    #[error("its proof does not verify: {0}")]
    Lying(#[source] VerifyError),
    #[error(transparent)]
    Failed(FetchError),
}

pub struct ProllyPeer {
    base: String,
    client: reqwest::Client,
    dropped: AtomicBool,
}

impl ProllyPeer {
    /// The node at `base` (`http://host:port`).
    pub fn new(base: &str, timeout: Duration) -> Result<ProllyPeer, FetchError> {
        Ok(ProllyPeer {
            base: base.trim_end_matches('/').to_string(),
            client: client(timeout)?,
            dropped: AtomicBool::new(false),
        })
    }

    pub fn base(&self) -> &str {
        &self.base
    }

    /// Whether it served a proof that failed verification.
    pub fn dropped(&self) -> bool {
        self.dropped.load(Ordering::Relaxed)
    }

    /// Asks for `query` at `at`, and verifies the answer: the result and the proof's bytes.
    pub async fn query(&self, at: At, query: &Query) -> Result<(QueryResult, Vec<u8>), PeerError> {
        let body = QueryRequest {
            at,
            query: query.clone(),
        }
        .encode();
        let response = self
            .client
            .post(format!("{}{QUERY_PATH}", self.base))
            .header(reqwest::header::CONTENT_TYPE, DAG_CBOR_TYPE)
            .header(reqwest::header::ACCEPT, CAR_TYPE)
            .body(body)
            .send()
            .await
            .map_err(|e| PeerError::Failed(transport(e)))?;
        let status = response.status().as_u16();
        if status != 200 {
            let reason = read_capped(response, 4096)
                .await
                .map(|b| String::from_utf8_lossy(&b).trim().to_string())
                .unwrap_or_default();
            return Err(match status {
                400 | 404 | 413 | 422 | 429 | 503 => PeerError::Refused { status, reason },
                _ => PeerError::Failed(FetchError::Status(status)),
            });
        }
        let proof = read_capped(response, MAX_PROOF_BYTES)
            .await
            .map_err(PeerError::Failed)?;
        match verify(at, query, &proof) {
            Ok(result) => Ok((result, proof)),
            Err(e) => {
                self.dropped.store(true, Ordering::Relaxed);
                Err(PeerError::Lying(e))
            }
        }
    }
}

/// The result a proof claims, verified against `at` and `query` (never against what the
/// envelope says they are).
fn verify(at: At, query: &Query, proof: &[u8]) -> Result<QueryResult, VerifyError> {
    match at {
        At::Root(root) => prolly_proofs::verify_claim(&root, query, proof),
        At::Anchored { state, actor } => {
            prolly_proofs::verify_claim_anchored(&state, actor, query, proof)
        }
    }
}
