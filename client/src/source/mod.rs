//! Where blocks come from. Every source answers a batch of CIDs at once (a Lotus node in one
//! JSON-RPC batch, a gateway with requests in parallel), and every byte is checked against its
//! CID ([`fetch_checked`]) before anything uses it.

mod car;
#[cfg(feature = "net")]
mod gateway;
#[cfg(feature = "net")]
pub(crate) mod http;
mod local;
#[cfg(feature = "net")]
pub mod lotus;
#[cfg(feature = "net")]
mod multi;

use std::fmt;

use cid::Cid;
use futures::future::BoxFuture;

use crate::block::{self, BadBlock};

pub use car::{CarSource, export_car};
#[cfg(feature = "net")]
pub use gateway::{GatewayConfig, GatewaySource};
/// The HTTP client the sources use (rustls with ring, HTTP/2 where offered), for callers that
/// make their own requests beside them.
#[cfg(feature = "net")]
pub use http::client as http_client;
pub use local::LocalSource;
#[cfg(feature = "net")]
pub use lotus::LotusSource;
#[cfg(feature = "net")]
pub use multi::{MultiConfig, MultiSource, PeerReport};

/// One answer for one CID.
pub type Fetched = (Cid, Result<Vec<u8>, FetchError>);

/// A place blocks come from.
pub trait BlockSource: Send + Sync {
    /// Where the blocks come from (a URL, a file), for errors and reports.
    fn name(&self) -> &str;

    /// Fetches `cids` (distinct), all in flight at once where the source can. It answers every
    /// CID once, in any order. The bytes need not be checked: [`fetch_checked`] does.
    fn fetch<'a>(&'a self, cids: &'a [Cid]) -> BoxFuture<'a, Vec<Fetched>>;
}

/// Why a source did not give a block.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FetchError {
    #[error("not found")]
    NotFound,
    #[error("a bad block: {0}")]
    BadBlock(BadBlock),
    #[error("timed out")]
    Timeout,
    #[error("rate limited (429) past the retries allowed")]
    RateLimited,
    #[error("HTTP status {0}")]
    Status(u16),
    #[error("unauthorized (401): the token is missing or wrong")]
    Unauthorized,
    #[error("{0}")]
    Transport(String),
    #[error("the answer is {0} bytes, past the limit")]
    TooLarge(usize),
    #[error("a malformed answer: {0}")]
    Malformed(String),
    #[error("JSON-RPC error {code}: {message}")]
    Rpc { code: i64, message: String },
    #[error("actor f0{0} not found")]
    NoActor(u64),
    #[error("dropped earlier for serving a block that failed its hash")]
    Dropped,
    #[error("no answer for this block")]
    Unanswered,
    #[error("every peer failed: {0}")]
    AllPeersFailed(PeerErrors),
}

/// What each peer said, for an error that names them all.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct PeerErrors(pub Vec<(String, FetchError)>);

impl fmt::Display for PeerErrors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.0.is_empty() {
            return write!(f, "no peer left to ask");
        }
        for (i, (peer, error)) in self.0.iter().enumerate() {
            if i > 0 {
                write!(f, "; ")?;
            }
            write!(f, "{peer}: {error}")?;
        }
        Ok(())
    }
}

/// Fetches from `source` and checks each block against its CID: what fails is an error, never
/// bytes. CIDs the source did not answer get [`FetchError::Unanswered`]; identity CIDs are
/// answered from the CID itself.
pub async fn fetch_checked(source: &dyn BlockSource, cids: &[Cid]) -> Vec<Fetched> {
    let (inline, asked): (Vec<Cid>, Vec<Cid>) =
        cids.iter().partition(|c| block::inline(c).is_some());
    let mut out: Vec<Fetched> = inline
        .into_iter()
        .map(|c| (c, Ok(block::inline(&c).unwrap_or_default().to_vec())))
        .collect();
    // A block whose hash this client cannot check is not asked for: no answer could be used.
    let (remote, uncheckable): (Vec<Cid>, Vec<Cid>) = asked.into_iter().partition(block::checkable);
    out.extend(uncheckable.into_iter().map(|c| {
        let code = c.hash().code();
        (c, Err(FetchError::BadBlock(BadBlock::UnknownHash(code))))
    }));
    if remote.is_empty() {
        return out;
    }
    let mut wanted: std::collections::HashSet<Cid> = remote.iter().copied().collect();
    for (cid, answer) in source.fetch(&remote).await {
        if !wanted.remove(&cid) {
            continue; // not asked for, or answered twice
        }
        let answer = answer.and_then(|bytes| match block::check(&cid, &bytes) {
            Ok(()) => Ok(bytes),
            Err(bad) => Err(FetchError::BadBlock(bad)),
        });
        out.push((cid, answer));
    }
    out.extend(wanted.into_iter().map(|c| (c, Err(FetchError::Unanswered))));
    out
}
