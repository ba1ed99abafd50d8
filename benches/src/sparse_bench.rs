//! The sparse-read benchmark: a fresh client with an empty store answers "the first 32 flights
//! from origin X sorted by date" (an index on (origin, date)) from a node serving 1M flights over
//! a link with 5 ms of latency per request and 100 Mbit/s of downlink, against full replication of
//! the same database followed by the local query (the faster of one CAR request for the whole
//! root and parallel block fetches), all in one run.
//!
//! `cargo run --release -p prolly_bench --bin sparse-bench [-- --docs 1000000 --latency-ms 5 --mbit 100]`

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use cid::Cid;
use fvm_ipld_blockstore::Blockstore;
use ipld_core::ipld::Ipld;
use prolly_bench::flights::vega_shaped_flights;
use prolly_bench::link::{Link, proxy};
use prolly_client::peer::ProllyPeer;
use prolly_client::server::{ServerConfig, serve};
use prolly_client::source::{
    BlockSource, GatewayConfig, GatewaySource, LotusSource, MultiConfig, MultiSource, fetch_checked,
};
use prolly_client::{MemoryStore, Reader, TrustedRoot, Via};
use prolly_db::{Database, IndexDef, IndexField, Order, Path, Query, WriteBatch};
use prolly_tree::Config;

struct Args {
    docs: usize,
    latency: Duration,
    mbit: f64,
}

fn args() -> Args {
    let mut args = Args {
        docs: 1_000_000,
        latency: Duration::from_millis(5),
        mbit: 100.0,
    };
    let argv: Vec<String> = std::env::args().skip(1).collect();
    for pair in argv.chunks(2) {
        let value = pair.get(1).map(String::as_str).unwrap_or_default();
        match pair[0].as_str() {
            "--docs" => args.docs = value.parse().expect("--docs N"),
            "--latency-ms" => args.latency = Duration::from_millis(value.parse().expect("ms")),
            "--mbit" => args.mbit = value.parse().expect("--mbit N"),
            other => panic!("unknown argument {other}"),
        }
    }
    args
}

/// One way of reading, measured.
struct Row {
    name: String,
    rounds: u64,
    blocks: u64,
    block_bytes: u64,
    wire_bytes: u64,
    time: Duration,
}

fn origin_of(doc: &Ipld) -> String {
    match doc {
        Ipld::Map(m) => match &m["origin"] {
            Ipld::String(s) => s.clone(),
            _ => unreachable!(),
        },
        _ => unreachable!(),
    }
}

fn first_32_from(origin: &str) -> Query {
    Query::from_json(&format!(
        r#"{{"collection": "flights", "filter": {{"origin": "{origin}"}}, "sort": ["date"], "limit": 32}}"#
    ))
    .unwrap()
}

fn build(docs: Vec<Ipld>) -> (Arc<MemoryStore>, Cid, u32) {
    let store = Arc::new(MemoryStore::new());
    let mut db = Database::create(store.clone(), Config::default()).unwrap();
    let mut batch = WriteBatch::new();
    batch.create_collection("flights");
    let field = |path: &str| IndexField {
        path: Path::parse(path).unwrap(),
        order: Order::Ascending,
        each: false,
    };
    batch.create_index(
        "flights",
        IndexDef {
            name: "by_origin_date".into(),
            fields: vec![field("origin"), field("date")],
            unique: false,
            include: Vec::new(),
        },
    );
    for doc in docs {
        batch.insert("flights", doc);
    }
    db.apply(&batch).unwrap().into_result().unwrap();
    let depth = db.tree().stats().unwrap().into_result().unwrap().depth;
    (store, db.root(), depth)
}

async fn start_node(store: Arc<MemoryStore>, link: Arc<Link>) -> SocketAddr {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let config = ServerConfig {
        max_requests: 4096,
        ..ServerConfig::default()
    };
    tokio::spawn(async move { serve(listener, store, config).await.unwrap() });
    proxy(addr, link).await
}

fn gateway(addr: SocketAddr, concurrency: usize) -> Arc<dyn BlockSource> {
    let config = GatewayConfig {
        concurrency,
        ..GatewayConfig::default()
    };
    Arc::new(GatewaySource::new(&format!("http://{addr}"), config).unwrap())
}

/// What a replication fetched, and when it started.
struct Copy {
    name: &'static str,
    rounds: u64,
    blocks: u64,
    block_bytes: u64,
    start: Instant,
}

/// The end of both replications: the query over the local copy, checked, and the measures.
async fn replicated(
    copy: Copy,
    local: Arc<MemoryStore>,
    root: Cid,
    query: &Query,
    link: &Link,
    want: &[u8],
) -> Row {
    let answer = Reader::new(local)
        .query(&TrustedRoot::given(root), query)
        .await
        .unwrap();
    assert_eq!(answer.result.to_cbor(), want, "{}", copy.name);
    let (up, down) = link.take_wire_bytes();
    Row {
        name: copy.name.into(),
        rounds: copy.rounds,
        blocks: copy.blocks,
        block_bytes: copy.block_bytes,
        wire_bytes: up + down,
        time: copy.start.elapsed(),
    }
}

/// Replication by one CAR of the whole root, then the local query.
async fn replicate_car(
    node: SocketAddr,
    root: Cid,
    query: &Query,
    link: &Link,
    want: &[u8],
) -> Row {
    link.take_wire_bytes();
    let start = Instant::now();
    let client = prolly_client::source::http_client(Duration::from_secs(600)).unwrap();
    let car = client
        .get(format!(
            "http://{node}/ipfs/{root}?format=car&dag-scope=all"
        ))
        .header("Accept", "application/vnd.ipld.car")
        .send()
        .await
        .unwrap()
        .bytes()
        .await
        .unwrap();
    let (_, blocks) = prolly_proofs::car::read_any(&car).unwrap();
    let local = Arc::new(MemoryStore::new());
    let block_bytes = blocks.iter().map(|(_, b)| b.len() as u64).sum();
    let count = blocks.len() as u64;
    for (cid, bytes) in blocks {
        // read_any hash-checks blake2b blocks; every block here is one.
        local.put_keyed(&cid, &bytes).unwrap();
    }
    replicated(
        Copy {
            name: "replicate: one CAR (dag-scope=all), then query",
            rounds: 1,
            blocks: count,
            block_bytes,
            start,
        },
        local,
        root,
        query,
        link,
        want,
    )
    .await
}

/// Replication by parallel block fetches, a level at a time, then the local query.
async fn replicate_blocks(
    node: SocketAddr,
    root: Cid,
    query: &Query,
    link: &Link,
    want: &[u8],
) -> Row {
    link.take_wire_bytes();
    let start = Instant::now();
    let source = gateway(node, 64);
    let local = Arc::new(MemoryStore::new());
    let mut frontier = vec![root];
    let mut rounds = 0;
    let (mut count, mut block_bytes) = (0u64, 0u64);
    while !frontier.is_empty() {
        rounds += 1;
        let mut next = Vec::new();
        for (cid, bytes) in fetch_checked(source.as_ref(), &frontier).await {
            let bytes = bytes.unwrap();
            count += 1;
            block_bytes += bytes.len() as u64;
            next.extend(prolly_client::dag::links(&cid, &bytes));
            local.put_keyed(&cid, &bytes).unwrap();
        }
        next.sort();
        next.dedup();
        next.retain(|c| !local.has(c).unwrap());
        frontier = next;
    }
    replicated(
        Copy {
            name: "replicate: parallel block fetches, then query",
            rounds,
            blocks: count,
            block_bytes,
            start,
        },
        local,
        root,
        query,
        link,
        want,
    )
    .await
}

/// One query through `reader`, measured.
async fn sparse<L: prolly_client::Local>(
    name: &str,
    reader: &Reader<L>,
    root: Cid,
    query: &Query,
    link: &Link,
    want: Option<&[u8]>,
) -> Row {
    link.take_wire_bytes();
    let start = Instant::now();
    let answer = reader
        .query(&TrustedRoot::given(root), query)
        .await
        .unwrap();
    let time = start.elapsed();
    if let Some(want) = want {
        assert_eq!(answer.result.to_cbor(), want, "{name}");
    }
    let (up, down) = link.take_wire_bytes();
    let verified = matches!(answer.via, Via::Proof { .. });
    Row {
        name: name.into(),
        rounds: answer.stats.rounds.into(),
        blocks: answer.stats.blocks,
        block_bytes: if verified { 0 } else { answer.stats.bytes },
        wire_bytes: up + down,
        time,
    }
}

fn kb(bytes: u64) -> String {
    if bytes >= 10 << 20 {
        format!("{:.1} MB", bytes as f64 / 1e6)
    } else {
        format!("{:.1} KB", bytes as f64 / 1e3)
    }
}

fn ms(d: Duration) -> String {
    format!("{:.1} ms", d.as_secs_f64() * 1e3)
}

fn main() {
    let args = args();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(run(args));
}

async fn run(args: Args) {
    let (docs, data) = vega_shaped_flights(args.docs);
    let origin = origin_of(&docs[docs.len() / 2]);
    let other = docs
        .iter()
        .map(origin_of)
        .find(|o| *o != origin)
        .expect("two origins");
    let n = docs.len();
    let built = Instant::now();
    let (store, root, depth) = tokio::task::spawn_blocking(move || build(docs))
        .await
        .unwrap();
    println!(
        "{n} flights ({data}), index (origin, date): {} blocks, {} of blocks, depth {depth}, built in {:.1} s",
        store.len(),
        kb(store.bytes() as u64),
        built.elapsed().as_secs_f64()
    );
    let query = first_32_from(&origin);
    let query_other = first_32_from(&other);
    let local_db = Database::open(store.clone(), root)
        .unwrap()
        .into_result()
        .unwrap();
    let want = local_db.query(&query).unwrap().into_result().unwrap();
    assert_eq!(want.docs.len(), 32, "the query returns 32 flights");
    let want = want.to_cbor();
    let want_other = local_db
        .query(&query_other)
        .unwrap()
        .into_result()
        .unwrap()
        .to_cbor();
    println!(
        "query: the first 32 flights from {origin} by date; link: {} ms per request, {} Mbit/s down\n",
        args.latency.as_millis(),
        args.mbit
    );

    let link = Link::new(args.latency, args.mbit);
    let mut nodes = Vec::new();
    for _ in 0..4 {
        nodes.push(start_node(store.clone(), link.clone()).await);
    }

    let car = replicate_car(nodes[0], root, &query, &link, &want).await;
    let blocks = replicate_blocks(nodes[0], root, &query, &link, &want).await;
    let replication = if car.time <= blocks.time {
        &car
    } else {
        &blocks
    };

    let mut rows = Vec::new();
    let cold = Reader::new(Arc::new(MemoryStore::new())).with_source(gateway(nodes[0], 32));
    rows.push(
        sparse(
            "sparse, 1 gateway peer, cold",
            &cold,
            root,
            &query,
            &link,
            Some(&want),
        )
        .await,
    );
    rows.push(
        sparse(
            "  then another origin (catalog cached)",
            &cold,
            root,
            &query_other,
            &link,
            Some(&want_other),
        )
        .await,
    );
    rows.push(
        sparse(
            "  then the same query (warm)",
            &cold,
            root,
            &query,
            &link,
            Some(&want),
        )
        .await,
    );
    for peers in [2, 4] {
        let multi = MultiSource::new(
            nodes[..peers].iter().map(|n| gateway(*n, 32)).collect(),
            MultiConfig::default(),
        );
        let reader = Reader::new(Arc::new(MemoryStore::new())).with_source(Arc::new(multi));
        let name = format!("sparse, {peers} gateway peers, cold");
        rows.push(sparse(&name, &reader, root, &query, &link, Some(&want)).await);
    }
    let lotus = LotusSource::new(&format!("http://{}", nodes[0]), Duration::from_secs(30)).unwrap();
    let reader = Reader::new(Arc::new(MemoryStore::new())).with_source(Arc::new(lotus));
    rows.push(
        sparse(
            "sparse, Lotus-shaped (batched ChainReadObj), cold",
            &reader,
            root,
            &query,
            &link,
            Some(&want),
        )
        .await,
    );
    let peer = ProllyPeer::new(&format!("http://{}", nodes[0]), Duration::from_secs(30)).unwrap();
    let reader = Reader::new(Arc::new(MemoryStore::new())).with_peer(peer);
    rows.push(
        sparse(
            "verified endpoint (result + proof), cold",
            &reader,
            root,
            &query,
            &link,
            Some(&want),
        )
        .await,
    );

    println!(
        "| read | round trips | blocks | block bytes | wire bytes | time to the first verified page | wire bytes × replication | time × replication |"
    );
    println!("|---|---:|---:|---:|---:|---:|---:|---:|");
    for row in [&car, &blocks] {
        println!(
            "| {} | {} | {} | {} | {} | {} | | |",
            row.name,
            row.rounds,
            row.blocks,
            kb(row.block_bytes),
            kb(row.wire_bytes),
            ms(row.time)
        );
    }
    for row in &rows {
        let bytes_ratio = replication.wire_bytes as f64 / row.wire_bytes.max(1) as f64;
        let time_ratio = replication.time.as_secs_f64() / row.time.as_secs_f64().max(1e-9);
        println!(
            "| {} | {} | {} | {} | {} | {} | 1/{:.0} | 1/{:.0} |",
            row.name,
            row.rounds,
            row.blocks,
            kb(row.block_bytes),
            kb(row.wire_bytes),
            ms(row.time),
            bytes_ratio,
            time_ratio
        );
    }

    let cold = &rows[0];
    let cached = &rows[1];
    let verified = rows.last().unwrap();
    let check = |ok: bool| if ok { "met" } else { "NOT met" };
    println!("\ngoals (depth {depth}):");
    let fewer = replication.wire_bytes as f64 / cold.wire_bytes.max(1) as f64;
    println!(
        "- at least 1,000x fewer bytes than replication: {fewer:.0}x, {}",
        check(fewer >= 1000.0)
    );
    let cold_cap = 3 * depth as u64 + 3;
    println!(
        "- cold block reads in at most 3 x depth + 3 = {cold_cap} round trips: {}, {}",
        cold.rounds,
        check(cold.rounds <= cold_cap)
    );
    let cached_cap = 2 * depth as u64 + 2;
    println!(
        "- with the catalog cached, at most 2 x depth + 2 = {cached_cap}: {}, {}",
        cached.rounds,
        check(cached.rounds <= cached_cap)
    );
    println!(
        "- the verified endpoint in 1 round trip: {}, {}",
        verified.rounds,
        check(verified.rounds == 1)
    );
    let faster = replication.time.as_secs_f64() / cold.time.as_secs_f64();
    println!(
        "- the first verified page at least 100x sooner than replicate-then-query: {faster:.0}x, {}",
        check(faster >= 100.0)
    );
}
