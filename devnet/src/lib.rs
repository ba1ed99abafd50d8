//! A local Filecoin chain for prollydb, what anvil is to Ethereum: the FVM in-process over a
//! redb store, prollydb actors installed at genesis, tipsets mined per message (or on a clock),
//! and a node that speaks Lotus JSON-RPC v1 and serves the same blocks as a trustless gateway
//! and the verified-query endpoint, so that every remote source of `prolly_client` works
//! against it.
//!
//! - [`chain`]: tipsets, execution, persistence (a restarted devnet resumes at its head).
//! - [`node`]: mining and the message pool's checks.
//! - [`rpc`]: the Lotus methods; [`auth`]: API tokens.
//! - [`header`], [`message`], [`json`]: Filecoin's encodings.

pub mod auth;
pub mod chain;
pub mod header;
pub mod json;
pub mod message;
pub mod node;
mod overlay;
pub mod rpc;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, Result};
use prolly_client::Store;
use prolly_client::server::rpc::{BlockMethods, Perm};
use prolly_client::server::{ServerConfig, router_with_rpc};
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

pub use chain::{Chain, FIRST_ACTOR};
pub use node::{Mining, Node};

/// Where a devnet listens unless told otherwise (Lotus's port, loopback only).
pub const DEFAULT_LISTEN: &str = "127.0.0.1:1234";

#[derive(Debug, Clone)]
pub struct DevnetConfig {
    /// The store (a redb database folder): created with a genesis when new, resumed otherwise.
    pub dir: PathBuf,
    pub listen: String,
    /// prollydb actors installed at genesis (IDs from [`FIRST_ACTOR`]); ignored on a resume.
    pub actors: u32,
    pub mining: Mining,
}

/// A running devnet.
pub struct Devnet {
    pub addr: SocketAddr,
    /// An admin token (read, write, sign, admin).
    pub token: String,
    pub node: Arc<Node>,
    stop: Option<oneshot::Sender<()>>,
    server: JoinHandle<std::io::Result<()>>,
    clock: Option<JoinHandle<()>>,
}

impl Devnet {
    /// Opens (or creates) the chain and starts serving it.
    pub async fn start(config: DevnetConfig) -> Result<Devnet> {
        let store = Arc::new(
            Store::open_database(&config.dir)
                .with_context(|| format!("opening the devnet store {}", config.dir.display()))?,
        );
        let (chain, auth) = {
            let store = store.clone();
            let actors = config.actors;
            tokio::task::spawn_blocking(move || -> Result<_> {
                let auth = auth::Auth::open(&store)?;
                Ok((Chain::open(store, actors)?, auth))
            })
            .await??
        };
        let token = auth.token(&[Perm::Read, Perm::Write, Perm::Sign, Perm::Admin]);
        let node = Arc::new(Node::new(chain, config.mining));
        let methods = Arc::new(rpc::Methods {
            node: node.clone(),
            auth,
            blocks: BlockMethods::new(store.clone()),
        });
        let server_config = ServerConfig {
            // StateWaitMsg blocks until its tipsets are mined; a Lotus request may be 100 MiB.
            request_timeout: Duration::from_secs(15 * 60),
            max_body_bytes: 16 << 20,
            ..ServerConfig::default()
        };
        let app = router_with_rpc(store, server_config, methods);
        let listener = tokio::net::TcpListener::bind(&config.listen)
            .await
            .with_context(|| format!("listening on {}", config.listen))?;
        let addr = listener.local_addr()?;
        let (stop, stopped) = oneshot::channel::<()>();
        let server = tokio::spawn(async move {
            axum::serve(
                listener,
                app.into_make_service_with_connect_info::<SocketAddr>(),
            )
            .with_graceful_shutdown(async {
                let _ = stopped.await;
            })
            .await
        });
        let clock = match config.mining {
            Mining::Instant => None,
            Mining::Every(period) => {
                let node = node.clone();
                Some(tokio::spawn(async move {
                    let mut ticks = tokio::time::interval(period);
                    ticks.tick().await;
                    loop {
                        ticks.tick().await;
                        if let Err(e) = node.mine().await {
                            eprintln!("devnet: mining failed: {e:#}");
                        }
                    }
                }))
            }
        };
        Ok(Devnet {
            addr,
            token,
            node,
            stop: Some(stop),
            server,
            clock,
        })
    }

    /// `http://ADDR`.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// The `FULLNODE_API_INFO` value Lotus tools read: `TOKEN:/ip4/HOST/tcp/PORT/http`.
    pub fn api_info(&self) -> String {
        let ip = match self.addr.ip() {
            std::net::IpAddr::V4(ip) => format!("/ip4/{ip}"),
            std::net::IpAddr::V6(ip) => format!("/ip6/{ip}"),
        };
        format!("{}:{ip}/tcp/{}/http", self.token, self.addr.port())
    }

    /// Stops serving and mining, and closes the store.
    pub async fn stop(mut self) -> Result<()> {
        if let Some(clock) = self.clock.take() {
            clock.abort();
            let _ = clock.await;
        }
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        // Open connections (a StateWaitMsg, say) end with the runtime; don't wait for them.
        let _ = tokio::time::timeout(Duration::from_secs(5), &mut self.server).await;
        self.server.abort();
        Ok(())
    }
}
