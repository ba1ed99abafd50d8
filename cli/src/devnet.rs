//! `prolly devnet`: a local chain until Ctrl-C. The one line on stdout is the
//! `FULLNODE_API_INFO` that Lotus tools and `prolly --remote` take.

use std::path::Path;
use std::time::Duration;

use prolly_devnet::{Devnet, DevnetConfig, FIRST_ACTOR, Mining};

use crate::failure::{Context, Failure, Result, plain};
use crate::output;

pub async fn run(
    db: Option<&Path>,
    listen: &str,
    actors: u32,
    block_time: Option<f64>,
) -> Result<()> {
    let temporary = match db {
        Some(_) => None,
        None => Some(tempfile::tempdir().context("a temporary folder")?),
    };
    let dir = db.map(Path::to_path_buf).unwrap_or_else(|| {
        temporary
            .as_ref()
            .map(|t| t.path().to_path_buf())
            .expect("a folder")
    });
    let mining = match block_time {
        Some(secs) if secs > 0.0 => Mining::Every(Duration::from_secs_f64(secs)),
        Some(_) => return Err(Failure::usage("--block-time must be positive")),
        None => Mining::Instant,
    };
    let devnet = Devnet::start(DevnetConfig {
        dir: dir.clone(),
        listen: listen.to_string(),
        actors: actors.max(1),
        mining,
    })
    .await
    .map_err(|e| Failure::new(format!("{e:#}")))?;
    let (height, accounts, actors) = {
        let chain = devnet.node.chain();
        let accounts: Vec<String> = chain
            .accounts()
            .iter()
            .map(|a| format!("{} (t0{})", prolly_devnet::json::address(&a.address), a.id))
            .collect();
        (chain.head().height(), accounts, chain.actors().len())
    };
    output::line(format!("FULLNODE_API_INFO={}", devnet.api_info()));
    let url = devnet.url();
    eprintln!(
        "prollydb devnet on {url}: height {height}, {actors} prollydb actor(s) from t0{FIRST_ACTOR} (deploy one with `send deploy`), {}",
        match mining {
            Mining::Instant => "a tipset per message".to_string(),
            Mining::Every(p) => format!("a tipset every {:.1} s", p.as_secs_f64()),
        }
    );
    eprintln!("  Lotus JSON-RPC v1: {url}/rpc/v1 (the token above has read, write, sign, admin)");
    eprintln!(
        "  trustless gateway: {url}/ipfs/{{cid}}; verified queries: POST {url}/prollydb/v1/query"
    );
    eprintln!(
        "  accounts: {} (the first is the default)",
        accounts.join(", ")
    );
    match &temporary {
        Some(t) => eprintln!(
            "  data: {} (temporary: removed at exit; --db DIR keeps it)",
            t.path().display()
        ),
        None => eprintln!("  data: {}", dir.display()),
    }
    eprintln!(
        "  try: prolly --remote \"$FULLNODE_API_INFO\" --actor {FIRST_ACTOR} send deploy (after: export FULLNODE_API_INFO=…)"
    );
    tokio::signal::ctrl_c()
        .await
        .context("waiting for Ctrl-C")?;
    devnet.stop().await.map_err(plain)?;
    eprintln!("devnet stopped");
    Ok(())
}
