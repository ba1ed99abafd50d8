//! Any machine is a node: an HTTP server over a local store that answers as an IPFS trustless
//! gateway (raw blocks and CARs, PROTOCOLS B) and runs verified queries (`POST
//! /prollydb/v1/query`, SPEC section 22), and serves blocks to Lotus clients too (`/rpc/v1`, over HTTP or a WebSocket,
//! `Filecoin.ChainReadObj`). Loopback by default; bounded in concurrent requests,
//! body size and time, so that load or a slow client cannot take it down.

mod gateway;
mod query;
pub mod rpc;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::body::{Body, HttpBody};
use axum::extract::{DefaultBodyLimit, Request, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use fvm_ipld_blockstore::Blockstore;
use tokio::sync::Semaphore;

use crate::protocol::{INFO_PATH, QUERY_PATH};
use rpc::{BlockMethods, Closing, Rpc, RpcMethods};

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
    /// A verified query's budget (entries it may examine); past it, `413`.
    pub max_query_budget: u64,
}

impl Default for ServerConfig {
    fn default() -> Self {
        ServerConfig {
            max_requests: 256,
            max_queries: 8,
            max_body_bytes: 256 * 1024,
            request_timeout: Duration::from_secs(30),
            max_witness_bytes: 16 << 20,
            max_query_budget: 100_000,
        }
    }
}

/// The address a server listens on unless told otherwise: loopback only.
pub const DEFAULT_LISTEN: &str = "127.0.0.1:8080";

pub(crate) struct Shared<S> {
    pub store: Arc<S>,
    pub config: ServerConfig,
    pub queries: Arc<Semaphore>,
}

/// The routes, over `store`, inside the limits; `/rpc/v1` serves the block methods.
pub fn router<S: Served>(store: Arc<S>, config: ServerConfig) -> Router {
    let methods: Arc<dyn RpcMethods> = Arc::new(BlockMethods::new(store.clone()));
    router_with_rpc(store, config, methods, Closing::never())
}

/// [`router`] with another table of JSON-RPC methods at `/rpc/v1` (a devnet's chain methods),
/// whose WebSockets end when `closing` fires.
pub fn router_with_rpc<S: Served>(
    store: Arc<S>,
    config: ServerConfig,
    methods: Arc<dyn RpcMethods>,
    closing: Closing,
) -> Router {
    let requests = Arc::new(Semaphore::new(config.max_requests.max(1)));
    let shared = Arc::new(Shared {
        store,
        queries: Arc::new(Semaphore::new(config.max_queries.max(1))),
        config: config.clone(),
    });
    Router::new()
        .route(
            "/ipfs/{*path}",
            get(gateway::handle::<S>).head(gateway::handle::<S>),
        )
        .route(QUERY_PATH, post(query::handle::<S>))
        .route(INFO_PATH, get(info))
        .with_state(shared)
        .merge(
            Router::new()
                .route("/rpc/v1", post(rpc::handle).get(rpc::websocket))
                .with_state(Rpc { methods, closing }),
        )
        .layer(DefaultBodyLimit::max(config.max_body_bytes))
        .layer(middleware::from_fn_with_state(
            (requests, config.request_timeout),
            limits,
        ))
}

/// What this node is (the CLI probes it to tell a prollydb node from a gateway or Lotus).
async fn info() -> Response {
    (
        [(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        )],
        r#"{"service":"prollydb","version":1,"query":"/prollydb/v1/query","gateway":"/ipfs/"}"#,
    )
        .into_response()
}

fn busy(status: StatusCode, reason: &'static str) -> Response {
    let mut response = (status, reason).into_response();
    response
        .headers_mut()
        .insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
    response
}

/// At most `max_requests` at once (past it `503` at once, not a queue that grows), each answered
/// within the timeout (a CAR stream's first byte; the rest flows at the client's pace). A
/// streamed body holds its request's slot until it ends, so slow readers of CARs count against
/// the limit too.
async fn limits(
    State((requests, timeout)): State<(Arc<Semaphore>, Duration)>,
    request: Request,
    next: Next,
) -> Response {
    let Ok(slot) = requests.try_acquire_owned() else {
        return busy(
            StatusCode::SERVICE_UNAVAILABLE,
            "too many requests at once\n",
        );
    };
    let response = match tokio::time::timeout(timeout, next.run(request)).await {
        Ok(response) => response,
        Err(_) => return busy(StatusCode::SERVICE_UNAVAILABLE, "timed out\n"),
    };
    if response.body().size_hint().exact().is_some() {
        return response; // the body is already whole: the slot can go
    }
    response.map(|body| {
        use futures::StreamExt;
        Body::from_stream(body.into_data_stream().map(move |chunk| {
            let _held = &slot;
            chunk
        }))
    })
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
