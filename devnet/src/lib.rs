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
pub mod rpc;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, Result};
use prolly_client::Store;
use prolly_client::server::rpc::{BlockMethods, Closing, Perm};
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
    /// Whether anything still holds the store open (its lock goes with the last holder).
    store: std::sync::Weak<Store>,
    stop: Option<oneshot::Sender<()>>,
    close_sockets: tokio::sync::watch::Sender<bool>,
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
        let held = Arc::downgrade(&store);
        let (close_sockets, closing) = Closing::new();
        let app = router_with_rpc(store, server_config, methods, closing);
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
            store: held,
            stop: Some(stop),
            close_sockets,
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

    /// Stops serving and mining, and closes the store: when this returns, the store's folder
    /// can be opened again (by a restarted devnet, say).
    pub async fn stop(self) -> Result<()> {
        let Devnet {
            node,
            store,
            stop,
            close_sockets,
            mut server,
            clock,
            ..
        } = self;
        if let Some(clock) = clock {
            clock.abort();
            let _ = clock.await;
        }
        // A StateWaitMsg in progress answers with an error, WebSockets close, and the server
        // ends once its connections have answered.
        node.stop_waits();
        close_sockets.send_replace(true);
        if let Some(stop) = stop {
            let _ = stop.send(());
        }
        if tokio::time::timeout(Duration::from_secs(5), &mut server)
            .await
            .is_err()
        {
            server.abort();
            let _ = server.await;
        }
        drop(node);
        // A connection's task drops its handle on the store just after the server sees it
        // close, on another thread: wait for the last one, or a restart finds the store locked.
        let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
        while store.strong_count() > 0 {
            anyhow::ensure!(
                tokio::time::Instant::now() < deadline,
                "the devnet store is still in use 10 s after the server stopped"
            );
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        Ok(())
    }
}
