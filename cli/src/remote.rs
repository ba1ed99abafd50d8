//! `--remote URL …`: read-only, from nodes that hold nothing of ours in particular. Each URL is
//! probed for its kind: a prollydb node (`/prollydb/v1`), an IPFS trustless gateway (the identity
//! CID `bafkqaaa`), or a Lotus endpoint (`Filecoin.Version`).

use std::sync::Arc;
use std::time::Duration;

use prolly_client::peer::ProllyPeer;
use prolly_client::source::{
    BlockSource, GatewayConfig, GatewaySource, LotusSource, MultiConfig, MultiSource, http_client,
};
use prolly_client::store::{Mode, Store};
use prolly_client::{MemoryStore, Reader, TrustedRoot};

use crate::args::Cli;
use crate::failure::{Failure, Result, plain};
use crate::reads::{self, parse_cid};

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

pub async fn run(cli: &Cli) -> Result<()> {
    let Some(root) = &cli.root else {
        return Err(Failure::usage(
            "--remote needs --root CID (the root you trust)",
        ));
    };
    let root = TrustedRoot::given(parse_cid(root)?);
    let mut sources: Vec<Arc<dyn BlockSource>> = Vec::new();
    let mut peers = Vec::new();
    for url in &cli.remote {
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
            reads::run(&reader, &root, cli).await
        }
        None => {
            let reader = with_peers(
                Reader::new(Arc::new(MemoryStore::new())).with_source(source),
                peers,
            );
            reads::run(&reader, &root, cli).await
        }
    }
}

fn with_peers<L: prolly_client::Local>(mut reader: Reader<L>, peers: Vec<ProllyPeer>) -> Reader<L> {
    for peer in peers {
        reader = reader.with_peer(peer);
    }
    reader
}
