//! `prolly demo`, the README's main job: a devnet, an actor deployed by its Constructor, a real
//! data set written through messages, then a client that holds nothing and trusts only hashes:
//! it resolves the actor's root through the node, fetches only the blocks its queries need over
//! HTTP, proves every answer from the state root and verifies it, follows one more commit as a
//! diff, and ends with a summary. Everything runs in this process; nothing is left behind.

use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use prolly_actor::{ConstructorParams, method};
use prolly_client::import::{self, Rows};
use prolly_client::source::{GatewayConfig, GatewaySource};
use prolly_client::{MemoryStore, Origin, Reader};
use prolly_db::WriteBatch;
use prolly_devnet::{Devnet, DevnetConfig, FIRST_ACTOR, Mining};

use crate::chain::{self, ActorTarget};
use crate::failure::{Context, Failure, Result, plain};

/// The shipped sample (data/README.md): 3,007 nycflights13 flights, CC0.
const SAMPLE: &[u8] = include_bytes!("../../data/nycflights13-flights-sample.csv.gz");
const SAMPLE_NAME: &str = "nycflights13-flights-sample.csv.gz";

const SCHEMA: &str = r#"{"ops": [
  {"op": "create_collection", "collection": "flights"},
  {"op": "create_index", "collection": "flights", "index": {"name": "by_origin_delay", "fields": [["origin", "asc"], ["dep_delay", "desc"]]}},
  {"op": "create_index", "collection": "flights", "index": {"name": "by_carrier_month", "fields": ["carrier", "month"]}}]}"#;

/// The queries a fresh client runs: what they show, and the query.
const QUERIES: [(&str, &str); 4] = [
    (
        "indexed range: JFK departures two hours late or more, latest first",
        r#"{"filter": {"origin": "JFK", "dep_delay": {"$gte": 120}}, "sort": [["dep_delay", "desc"]], "limit": 3,
            "projection": ["month", "day", "carrier", "flight", "dest", "dep_delay"]}"#,
    ),
    (
        "sorted page: United's summer flights, by month",
        r#"{"filter": {"carrier": "UA", "month": {"$gte": 6, "$lte": 8}}, "sort": [["month", "asc"]], "limit": 3,
            "projection": ["month", "day", "flight", "origin", "dest"]}"#,
    ),
    (
        "count: flights from Newark",
        r#"{"filter": {"origin": "EWR"}, "count": true}"#,
    ),
    (
        "point read: flight _id 1000",
        r#"{"filter": {"_id": 1000}}"#,
    ),
];

/// One more commit, for `follow`: a delay corrected, a cancelled flight removed, a new one.
const FOLLOWED: &str = r#"{"ops": [
  {"op": "update", "collection": "flights", "id": 1000, "set": {"dep_delay": 0, "note": "delay corrected"}},
  {"op": "delete", "collection": "flights", "id": 2},
  {"op": "insert", "collection": "flights", "doc": {"_id": 4000, "origin": "LGA", "dest": "BOS", "carrier": "B6", "month": 12, "dep_delay": 3}}]}"#;

fn kb(bytes: u64) -> String {
    if bytes < 10_000 {
        format!("{bytes} B")
    } else {
        format!("{:.1} KB", bytes as f64 / 1000.0)
    }
}

fn thousands(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

pub async fn run(data: Option<&Path>, json: bool) -> Result<()> {
    let started = Instant::now();
    let temp = tempfile::tempdir().context("a temporary folder")?;
    let devnet = Devnet::start(DevnetConfig {
        dir: temp.path().join("chain"),
        listen: "127.0.0.1:0".into(),
        actors: 1,
        mining: Mining::Instant,
    })
    .await
    .map_err(|e| Failure::new(format!("starting the devnet: {e:#}")))?;
    let shown = show(&devnet, data, temp.path(), json, started).await;
    devnet.stop().await.map_err(plain)?;
    shown
}

async fn show(
    devnet: &Devnet,
    data: Option<&Path>,
    temp: &Path,
    json: bool,
    started: Instant,
) -> Result<()> {
    let url = devnet.url();
    println!(
        "prollydb demo: a chain whose actor state is a database, and a client that trusts only hashes\n"
    );
    println!(
        "1. devnet   the FVM in-process on {url} (temporary data), actor t0{FIRST_ACTOR} installed at genesis"
    );
    println!(
        "            Lotus JSON-RPC {url}/rpc/v1, trustless gateway {url}/ipfs/, FULLNODE_API_INFO with a sign token"
    );

    // 2. Deploy: the actor's Constructor, from the node's default address.
    let target = ActorTarget::connect(&devnet.api_info(), FIRST_ACTOR).await?;
    let from = target.sender().await?;
    let owner = target.lotus.state_lookup_id(&from).await.map_err(plain)?;
    let params = ConstructorParams {
        owner: fvm_shared::address::Address::new_id(owner),
        writers: vec![],
        config: None,
    };
    let params = fvm_ipld_encoding::to_vec(&params).map_err(plain)?;
    let deployed = target.submit(&from, method::CONSTRUCTOR, &params).await?;
    println!(
        "2. deploy   Constructor from {from} (t0{owner}, the owner): exit 0, gas {}",
        thousands(deployed.receipt.gas_used as u64)
    );

    // 3. Load: the schema in one message, then the documents in messages under 64 KiB.
    let schema = WriteBatch::from_json(SCHEMA).map_err(plain)?;
    let schema_gas = target
        .submit(&from, method::APPLY, &schema.to_cbor())
        .await?
        .receipt
        .gas_used;
    let path = match data {
        Some(path) => path.to_path_buf(),
        None => {
            let path = temp.join(SAMPLE_NAME);
            std::fs::write(&path, SAMPLE).context(path.display())?;
            path
        }
    };
    let name = data
        .map(|p| p.display().to_string())
        .unwrap_or_else(|| format!("data/{SAMPLE_NAME}"));
    let rows = Rows::open(&path.to_string_lossy(), None, Default::default()).map_err(plain)?;
    println!(
        "3. load     {name} into collection `flights` (indexes by_origin_delay, by_carrier_month; schema gas {})",
        thousands(schema_gas as u64)
    );
    let sent = chain::import_through(
        &target,
        &from,
        "flights",
        rows,
        None,
        import::WriteMode::Insert,
    )
    .await?;
    let db_stats = {
        let chain = devnet.node.chain();
        let store = chain.store().clone();
        drop(chain);
        let db = prolly_db::Database::open(&*store, sent.root)
            .map_err(plain)?
            .into_result()
            .map_err(plain)?;
        db.tree()
            .stats()
            .map_err(plain)?
            .into_result()
            .map_err(plain)?
    };
    println!(
        "            {} documents in {} messages ({} of params) in {:.1} s: gas {} per document",
        thousands(sent.documents),
        sent.messages,
        kb(sent.bytes),
        sent.seconds,
        thousands(sent.gas_per_document())
    );
    println!(
        "            the database: root {}, {} blocks, {}, depth {}",
        sent.root,
        thousands(db_stats.nodes),
        kb(db_stats.bytes),
        db_stats.depth
    );

    // 4. A fresh client: an empty memory store, blocks over HTTP from the trustless gateway, the
    // root from the node's head, every answer proven from the state root and verified.
    let gateway = GatewaySource::new(&url, GatewayConfig::default()).map_err(plain)?;
    let reader = Reader::new(Arc::new(MemoryStore::new())).with_source(Arc::new(gateway));
    let at = target.lotus.actor_root(FIRST_ACTOR).await.map_err(plain)?;
    println!(
        "4. query    a fresh client (empty store; HTTP only: StateGetActor for the root, the gateway for blocks)"
    );
    println!(
        "            state root {} at height {}: from {url}, not independently checked",
        at.state_root, at.height
    );
    let mut fetched = (0u64, 0u64);
    let mut proofs = Vec::new();
    for (i, (what, text)) in QUERIES.iter().enumerate() {
        let query = crate::reads::parse_query("flights", text)?;
        let origin = Origin::Actor {
            node: url.clone(),
            actor: FIRST_ACTOR,
            state_root: at.state_root,
            height: at.height,
        };
        let (answer, proof) = reader
            .query_anchored(at.state_root, FIRST_ACTOR, &query, origin)
            .await
            .map_err(plain)?;
        println!("   {}) {what}", (b'a' + i as u8) as char);
        match answer.result.count {
            Some(count) => println!("        {count}"),
            None => {
                for doc in &answer.result.docs {
                    let line = prolly_db::ipld_to_json(doc).to_string();
                    let line: String = line.chars().take(150).collect();
                    println!("        {line}");
                }
            }
        }
        fetched.0 += answer.stats.blocks;
        fetched.1 += answer.stats.bytes;
        proofs.push(proof.len() as u64);
        println!(
            "        verified against state root {}; fetched {} blocks, {} ({} round trip(s)); proof {}",
            short(&at.state_root),
            answer.stats.blocks,
            kb(answer.stats.bytes),
            answer.stats.rounds,
            kb(proof.len() as u64)
        );
    }
    println!(
        "            in all: {} blocks, {} fetched, of the database's {} blocks, {} ({:.1}% of its bytes)",
        fetched.0,
        kb(fetched.1),
        thousands(db_stats.nodes),
        kb(db_stats.bytes),
        100.0 * fetched.1 as f64 / db_stats.bytes.max(1) as f64
    );

    // 5. Follow one more commit: its event gives the new root, the diff comes over the gateway.
    println!(
        "5. follow   one more commit, seen through the actor's events and printed as its diff:"
    );
    let since = target.lotus.chain_head().await.map_err(plain)?.height;
    let followed = WriteBatch::from_json(FOLLOWED).map_err(plain)?;
    let commit = target
        .submit(&from, method::APPLY, &followed.to_cbor())
        .await?;
    chain::follow(
        &target,
        &reader,
        Some("flights"),
        Some(sent.root),
        Some(since),
        Some(1),
        Duration::from_millis(50),
    )
    .await?;

    // 6. The summary.
    let messages = 3 + sent.messages;
    let seconds = started.elapsed().as_secs_f64();
    let rows = [
        (
            "chain",
            format!("devnet (FVM 4.8, instamine), {messages} messages"),
        ),
        (
            "documents written",
            format!(
                "{} through {} messages ≤ 64 KiB",
                thousands(sent.documents),
                sent.messages
            ),
        ),
        ("gas per document", thousands(sent.gas_per_document())),
        (
            "gas, one 3-op commit",
            thousands(commit.receipt.gas_used as u64),
        ),
        (
            "database",
            format!(
                "{} blocks, {}, depth {}",
                thousands(db_stats.nodes),
                kb(db_stats.bytes),
                db_stats.depth
            ),
        ),
        (
            "client fetched (4 queries)",
            format!(
                "{} blocks, {} ({:.1}% of the database)",
                fetched.0,
                kb(fetched.1),
                100.0 * fetched.1 as f64 / db_stats.bytes.max(1) as f64
            ),
        ),
        (
            "proofs",
            proofs.iter().map(|p| kb(*p)).collect::<Vec<_>>().join(", "),
        ),
        (
            "verified against",
            format!(
                "state root {} (the devnet's head, not independently checked)",
                short(&at.state_root)
            ),
        ),
        ("time", format!("{seconds:.1} s")),
    ];
    if json {
        let object: serde_json::Map<String, serde_json::Value> = rows
            .iter()
            .map(|(k, v)| (k.to_string(), serde_json::Value::String(v.clone())))
            .collect();
        eprintln!("{}", serde_json::Value::Object(object));
    }
    println!("\n| | |\n|---|---|");
    for (k, v) in rows {
        println!("| {k} | {v} |");
    }
    Ok(())
}

fn short(cid: &cid::Cid) -> String {
    let text = cid.to_string();
    format!("{}…{}", &text[..12], &text[text.len() - 6..])
}
