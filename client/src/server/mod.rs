//! Any machine is a node: an HTTP server over a local store that answers as an IPFS trustless
//! gateway (raw blocks and CARs, PROTOCOLS B) and runs verified queries (`POST
//! /prollydb/v1/query`, SPEC section 22). Loopback by default; bounded in concurrent requests,
//! body size and time, so that load or a slow client cannot take it down.

mod gateway;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::routing::get;
use fvm_ipld_blockstore::Blockstore;

/// What a server can serve: any blockstore shared across threads.
pub trait Served: Blockstore + Send + Sync + 'static {}
impl<T: Blockstore + Send + Sync + 'static> Served for T {}

/// A server's limits.
#[derive(Debug, Clone)]
pub struct ServerConfig {
    /// Requests handled at once; past it, `503` with `Retry-After`.
    pub max_requests: usize,
    /// Verified queries run at once (each on a blocking thread); past it, `429`.
    pub max_queries: usize,
    /// A request's body.
    pub max_body_bytes: usize,
    /// Time to answer one request (a CAR stream's first byte).
    pub request_timeout: Duration,
    /// A verified query's witness; past it, `413`.
    pub max_witness_bytes: usize,
}

impl Default for ServerConfig {
    fn default() -> Self {
        ServerConfig {
            max_requests: 256,
            max_queries: 8,
            max_body_bytes: 256 * 1024,
            request_timeout: Duration::from_secs(30),
            max_witness_bytes: 16 << 20,
        }
    }
}

/// The address a server listens on unless told otherwise: loopback only.
pub const DEFAULT_LISTEN: &str = "127.0.0.1:8080";

pub(crate) struct Shared<S> {
    pub store: Arc<S>,
    pub config: ServerConfig,
}

/// The routes, over `store`.
pub fn router<S: Served>(store: Arc<S>, config: ServerConfig) -> Router {
    let shared = Arc::new(Shared { store, config });
    Router::new()
        .route(
            "/ipfs/{*path}",
            get(gateway::handle::<S>).head(gateway::handle::<S>),
        )
        .with_state(shared)
}

/// Serves `store` on `listener` until the future is dropped.
pub async fn serve<S: Served>(
    listener: tokio::net::TcpListener,
    store: Arc<S>,
    config: ServerConfig,
) -> std::io::Result<()> {
    let app = router(store, config);
    axum::serve(
        listener,
        app.into_make_service_with_connect_info::<SocketAddr>(),
    )
    .await
}
