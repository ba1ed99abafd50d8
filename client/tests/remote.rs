//! End to end over real HTTP on loopback: a fresh client with an empty store queries a server
//! holding the flights, through the trustless gateway (block reads) and through the verified
//! endpoint, and gets what the local query gives, byte for byte.

mod common;

use std::sync::Arc;
use std::time::Duration;

use common::{flights, local_answer, queries, start_server};
use prolly_client::peer::ProllyPeer;
use prolly_client::server::ServerConfig;
use prolly_client::source::{GatewayConfig, GatewaySource};
use prolly_client::store::{Mode, Store};
use prolly_client::{MemoryStore, Reader, TrustedRoot, Via};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn block_reads_through_the_gateway_equal_the_local_query() {
    let flights = flights();
    let addr = start_server(flights.store.clone(), ServerConfig::default()).await;
    let gateway = GatewaySource::new(&format!("http://{addr}"), GatewayConfig::default()).unwrap();
    let local = Arc::new(MemoryStore::new());
    let reader = Reader::new(local.clone()).with_source(Arc::new(gateway));
    let root = TrustedRoot::given(flights.root);
    for (i, query) in queries().into_iter().enumerate() {
        let cold = reader.query(&root, &query).await.unwrap();
        if i == 0 {
            // Sparse: an indexed query fetches a sliver of the database.
            assert!(
                local.len() * 100 < flights.store.len(),
                "{} of {} blocks fetched",
                local.len(),
                flights.store.len()
            );
        }
        assert_eq!(cold.via, Via::Blocks);
        assert_eq!(
            cold.result.to_cbor(),
            local_answer(flights, &query),
            "{}",
            query.to_json()
        );
        assert!(cold.stats.blocks as usize <= local.len());
        // A repeat is local.
        let warm = reader.query(&root, &query).await.unwrap();
        assert_eq!(warm.stats.rounds, 0, "{}", query.to_json());
        assert_eq!(warm.result.to_cbor(), cold.result.to_cbor());
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_verified_query_is_one_round_trip_and_its_witness_is_kept() {
    let flights = flights();
    let addr = start_server(flights.store.clone(), ServerConfig::default()).await;
    let peer = ProllyPeer::new(&format!("http://{addr}"), Duration::from_secs(30)).unwrap();
    let local = Arc::new(MemoryStore::new());
    let with_peer = Reader::new(local.clone()).with_peer(peer);
    let root = TrustedRoot::given(flights.root);
    for query in queries() {
        let answer = with_peer.query(&root, &query).await.unwrap();
        assert!(matches!(answer.via, Via::Proof { .. }), "{:?}", answer.via);
        assert_eq!(answer.stats.rounds, 1);
        assert_eq!(answer.result.to_cbor(), local_answer(flights, &query));
        // The witness is in the store: the same query runs locally with no source at all.
        let offline = Reader::new(local.clone());
        let again = offline.query(&root, &query).await.unwrap();
        assert_eq!(again.result.to_cbor(), answer.result.to_cbor());
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_redb_cache_serves_as_the_local_store_and_stays_under_its_cap() {
    let flights = flights();
    let addr = start_server(flights.store.clone(), ServerConfig::default()).await;
    let gateway = GatewaySource::new(&format!("http://{addr}"), GatewayConfig::default()).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let cap = 256 * 1024;
    let cache = Store::open(dir.path(), Mode::Cache { max_bytes: cap }).unwrap();
    let reader = Reader::new(cache.clone()).with_source(Arc::new(gateway));
    let root = TrustedRoot::given(flights.root);
    for query in queries() {
        let answer = reader.query(&root, &query).await.unwrap();
        assert_eq!(answer.result.to_cbor(), local_answer(flights, &query));
        assert!(
            cache.block_bytes().unwrap() <= cap,
            "{}",
            cache.block_bytes().unwrap()
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lotus_client_reads_the_nodes_blocks_through_chain_read_obj() {
    let flights = flights();
    let addr = start_server(flights.store.clone(), ServerConfig::default()).await;
    let lotus = prolly_client::source::LotusSource::new(
        &format!("/ip4/127.0.0.1/tcp/{}/http", addr.port()),
        Duration::from_secs(30),
    )
    .unwrap();
    let reader = Reader::new(Arc::new(MemoryStore::new())).with_source(Arc::new(lotus));
    let root = TrustedRoot::given(flights.root);
    for query in queries() {
        let answer = reader.query(&root, &query).await.unwrap();
        assert_eq!(answer.result.to_cbor(), local_answer(flights, &query));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_node_refuses_what_it_will_not_do_with_the_right_status() {
    let flights = flights();
    let config = ServerConfig {
        max_witness_bytes: 2_000,
        ..ServerConfig::default()
    };
    let addr = start_server(flights.store.clone(), config).await;
    let peer = ProllyPeer::new(&format!("http://{addr}"), Duration::from_secs(30)).unwrap();
    let status = |e: prolly_client::peer::PeerError| match e {
        prolly_client::peer::PeerError::Refused { status, .. } => status,
        other => panic!("expected a refusal, got {other}"),
    };
    let at = prolly_client::protocol::At::Root;
    let query = &queries()[0];
    // A root it does not hold: 404.
    let elsewhere = prolly_tree::cid_of(b"\xa0");
    assert_eq!(
        status(peer.query(at(elsewhere), query).await.unwrap_err()),
        404
    );
    // A witness over the cap: 413.
    assert_eq!(
        status(peer.query(at(flights.root), query).await.unwrap_err()),
        413
    );
    // A query the database refuses (no such collection): 422.
    let refused = prolly_db::Query::from_json(r#"{"collection": "nope"}"#).unwrap();
    assert_eq!(
        status(peer.query(at(flights.root), &refused).await.unwrap_err()),
        422
    );
    // A budget over the node's cap: 413.
    let greedy =
        prolly_db::Query::from_json(r#"{"collection": "flights", "budget": 1000000}"#).unwrap();
    assert_eq!(
        status(peer.query(at(flights.root), &greedy).await.unwrap_err()),
        413
    );
    // Not a request at all: 400, and the node stays up.
    let client = prolly_client::source::http_client(Duration::from_secs(30)).unwrap();
    let url = format!("http://{addr}{}", prolly_client::protocol::QUERY_PATH);
    let response = client
        .post(&url)
        .body(vec![0xff, 0x00])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 400);
    let response = client
        .post(&url)
        .body(vec![0u8; 300_000])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 413, "a body over the limit");
    assert!(!peer.dropped(), "refusals are not lies");
}
