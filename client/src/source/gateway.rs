//! An IPFS trustless gateway (PROTOCOLS B): `GET /ipfs/{cid}?format=raw` with `Accept:
//! application/vnd.ipld.raw`, one request per block, a bounded number in flight. Any gateway
//! that holds the blocks works: IPFS retrieval scales the reads, not anything of prollydb's.

use std::sync::Arc;
use std::time::Duration;

use cid::Cid;
use futures::future::BoxFuture;
use tokio::sync::Semaphore;

use super::http::{client, read_capped, retry_after, transport};
use super::{BlockSource, FetchError, Fetched};
use crate::block::MAX_BLOCK_BYTES;

/// How a gateway is asked.
#[derive(Debug, Clone)]
pub struct GatewayConfig {
    /// Requests in flight at once.
    pub concurrency: usize,
    /// Time for one request, connection included.
    pub timeout: Duration,
    /// `429` and `503` answers retried per block, each after its `Retry-After`...
    pub retries: u32,
    /// ...when that wait is at most this; a longer one fails the block at once.
    pub max_retry_wait: Duration,
}

impl Default for GatewayConfig {
    fn default() -> Self {
        GatewayConfig {
            concurrency: 32,
            timeout: Duration::from_secs(30),
            retries: 3,
            max_retry_wait: Duration::from_secs(5),
        }
    }
}

pub struct GatewaySource {
    base: String,
    client: reqwest::Client,
    slots: Arc<Semaphore>,
    config: GatewayConfig,
}

impl GatewaySource {
    /// A gateway at `base` (`https://host`, with or without a trailing `/ipfs`).
    pub fn new(base: &str, config: GatewayConfig) -> Result<GatewaySource, FetchError> {
        let base = base.trim_end_matches('/');
        let base = base.strip_suffix("/ipfs").unwrap_or(base).to_string();
        Ok(GatewaySource {
            base,
            client: client(config.timeout)?,
            slots: Arc::new(Semaphore::new(config.concurrency.max(1))),
            config,
        })
    }

    async fn get(&self, cid: &Cid) -> Result<Vec<u8>, FetchError> {
        let _slot = self
            .slots
            .acquire()
            .await
            .map_err(|_| FetchError::Transport("closed".into()))?;
        let url = format!("{}/ipfs/{cid}?format=raw", self.base);
        let mut attempt = 0;
        loop {
            let response = self
                .client
                .get(&url)
                .header(reqwest::header::ACCEPT, "application/vnd.ipld.raw")
                .send()
                .await
                .map_err(transport)?;
            match response.status().as_u16() {
                200 => return read_capped(response, MAX_BLOCK_BYTES).await,
                404 | 410 => return Err(FetchError::NotFound),
                401 | 403 => return Err(FetchError::Unauthorized),
                // Busy: both say when to come back.
                429 | 503 => {
                    let wait = retry_after(&response);
                    if attempt >= self.config.retries || wait > self.config.max_retry_wait {
                        return Err(FetchError::RateLimited);
                    }
                    attempt += 1;
                    tokio::time::sleep(wait).await;
                }
                status => return Err(FetchError::Status(status)),
            }
        }
    }
}

impl BlockSource for GatewaySource {
    fn name(&self) -> &str {
        &self.base
    }

    fn fetch<'a>(&'a self, cids: &'a [Cid]) -> BoxFuture<'a, Vec<Fetched>> {
        Box::pin(futures::future::join_all(
            cids.iter()
                .map(|cid| async move { (*cid, self.get(cid).await) }),
        ))
    }
}
