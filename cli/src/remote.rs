//! `--remote URL …`: read-only, from nodes that hold nothing of ours in particular. Each URL is
//! probed for its kind: a prollydb node (`/prollydb/v1`), an IPFS trustless gateway (the identity
//! CID `bafkqaaa`), or a Lotus endpoint (`Filecoin.Version`). With `--actor`, the root comes
//! from the chain, and `send` and `follow` work through the node.

use std::sync::Arc;
use std::time::Duration;

use prolly_client::peer::ProllyPeer;
use prolly_client::source::{
    BlockSource, GatewayConfig, GatewaySource, LotusSource, MultiConfig, MultiSource, http_client,
};
use prolly_client::store::{Mode, Store};
use prolly_client::{Local, MemoryStore, Reader, TrustedRoot};

use crate::args::{Cli, Command};
use crate::chain::{self, ActorTarget};
use crate::failure::{Failure, Result, plain};
use crate::reads::{self, parse_cid, parse_query};

const TIMEOUT: Duration = Duration::from_secs(30);
/// A remote read's cache, when --cache names a folder.
const CACHE_BYTES: u64 = 1 << 30;

enum Kind {
    Prolly,
    Gateway,
    Lotus(LotusSource),
}

async fn probe(url: &str) -> Result<Kind> {
    let base = url.trim_end_matches('/');
    let client = http_client(Duration::from_secs(10)).map_err(plain)?;
    if base.starts_with("http") {
        if let Ok(response) = client.get(format!("{base}/prollydb/v1")).send().await
            && response.status() == 200
            && response
                .text()
                .await
                .is_ok_and(|t| t.contains("\"prollydb\""))
        {
            return Ok(Kind::Prolly);
        }
        if let Ok(response) = client
            .get(format!("{base}/ipfs/bafkqaaa?format=raw"))
            .header("Accept", "application/vnd.ipld.raw")
            .send()
            .await
            && response.status() == 200
        {
            return Ok(Kind::Gateway);
        }
    }
    let lotus = LotusSource::new(base, TIMEOUT).map_err(|e| Failure::new(format!("{url}: {e}")))?;
    match lotus.version().await {
        Ok(_) => Ok(Kind::Lotus(lotus)),
        Err(e) => Err(Failure::new(format!(
            "{url}: not a prollydb node, an IPFS trustless gateway or a Lotus endpoint ({e})"
        ))),
    }
}

pub async fn run(cli: &Cli, remotes: &[String]) -> Result<()> {
    // Usage first: nothing is probed for a command that cannot run.
    if cli.actor.is_none() {
        match &cli.command {
            Command::Send { .. } => return Err(Failure::usage("send needs --actor ID")),
            Command::Follow { .. } => return Err(Failure::usage("follow needs --actor ID")),
            _ if cli.root.is_none() => {
                return Err(Failure::usage(
                    "--remote needs --root CID (the root you trust) or --actor ID",
                ));
            }
            _ => {}
        }
    }
    let target = match cli.actor {
        Some(actor) => Some(connect(remotes, actor).await?),
        None => None,
    };
    if let Command::Send { what } = &cli.command {
        let target = target.ok_or_else(|| Failure::usage("send needs --actor ID"))?;
        return chain::send(&target, what, cli.json).await;
    }
    let mut sources: Vec<Arc<dyn BlockSource>> = Vec::new();
    let mut peers = Vec::new();
    for url in remotes {
        let gateway = |url: &str| -> Result<Arc<dyn BlockSource>> {
            Ok(Arc::new(
                GatewaySource::new(url, GatewayConfig::default()).map_err(plain)?,
            ))
        };
        match probe(url).await? {
            Kind::Prolly => {
                peers.push(ProllyPeer::new(url, TIMEOUT).map_err(plain)?);
                sources.push(gateway(url)?);
            }
            Kind::Gateway => sources.push(gateway(url)?),
            Kind::Lotus(lotus) => sources.push(Arc::new(lotus)),
        }
    }
    let source: Arc<dyn BlockSource> = if sources.len() == 1 {
        sources.remove(0)
    } else {
        Arc::new(MultiSource::new(sources, MultiConfig::default()))
    };
    match &cli.cache {
        Some(dir) => {
            let cache = Store::open(
                dir,
                Mode::Cache {
                    max_bytes: CACHE_BYTES,
                },
            )
            .map_err(plain)?;
            let reader = with_peers(Reader::new(cache).with_source(source), peers);
            dispatch(&reader, cli, target.as_ref()).await
        }
        None => {
            let reader = with_peers(
                Reader::new(Arc::new(MemoryStore::new())).with_source(source),
                peers,
            );
            dispatch(&reader, cli, target.as_ref()).await
        }
    }
}

/// The first of `remotes` that speaks Lotus JSON-RPC.
async fn connect(remotes: &[String], actor: u64) -> Result<ActorTarget> {
    let mut failures = Vec::new();
    for url in remotes {
        match ActorTarget::connect(url, actor).await {
            Ok(target) => return Ok(target),
            Err(f) => failures.push(f.message),
        }
    }
    Err(Failure::new(format!(
        "--actor needs a Lotus JSON-RPC endpoint among --remote: {}",
        failures.join("; ")
    )))
}

async fn dispatch<L: Local>(
    reader: &Reader<L>,
    cli: &Cli,
    target: Option<&ActorTarget>,
) -> Result<()> {
    let state_root = cli.state_root.as_deref().map(parse_cid).transpose()?;
    if state_root.is_some() && target.is_none() {
        return Err(Failure::usage("--state-root needs --actor ID"));
    }
    match (&cli.command, target) {
        (
            Command::Follow {
                collection,
                from_root,
                limit,
                interval,
            },
            Some(target),
        ) => {
            let from_root = from_root.as_deref().map(parse_cid).transpose()?;
            let interval = Duration::from_secs_f64(interval.max(0.05));
            chain::follow(
                target,
                reader,
                collection.as_deref(),
                from_root,
                None,
                *limit,
                interval,
            )
            .await
        }
        (Command::Follow { .. }, None) => Err(Failure::usage("follow needs --actor ID")),
        (
            Command::Query {
                collection,
                query,
                proof,
                anchored: true,
                explain,
                all,
            },
            Some(target),
        ) => {
            if *explain || *all {
                return Err(Failure::usage(
                    "--anchored proves one page: not with --explain or --all",
                ));
            }
            let query = parse_query(collection, query)?;
            chain::query_anchored(
                target,
                reader,
                state_root,
                &query,
                proof.as_deref(),
                cli.json,
            )
            .await
        }
        (Command::Query { anchored: true, .. }, None) => {
            Err(Failure::usage("--anchored needs --actor ID"))
        }
        (_, Some(target)) => {
            let root = target.root(reader, state_root).await?;
            reads::run(reader, &root, cli).await
        }
        (_, None) => {
            let Some(root) = &cli.root else {
                return Err(Failure::usage(
                    "--remote needs --root CID (the root you trust) or --actor ID",
                ));
            };
            reads::run(reader, &TrustedRoot::given(parse_cid(root)?), cli).await
        }
    }
}

fn with_peers<L: Local>(mut reader: Reader<L>, peers: Vec<ProllyPeer>) -> Reader<L> {
    for peer in peers {
        reader = reader.with_peer(peer);
    }
    reader
}
