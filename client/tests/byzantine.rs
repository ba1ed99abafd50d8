//! Byzantine peers, each a test server on loopback: one flips a bit, one serves another valid
//! block, one withholds (404), one answers after the timeout, one closes the connection, one
//! answers 429 forever, one returns a proof of another result. The client detects each, falls
//! back to an honest peer and gets the right result; with only bad peers it fails with a clear
//! error and never returns a wrong or unverified result.

mod common;

use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::{Path, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use cid::Cid;
use fvm_ipld_blockstore::Blockstore;
use prolly_client::peer::{PeerError, ProllyPeer};
use prolly_client::protocol::{QUERY_PATH, QueryRequest};
use prolly_client::server::ServerConfig;
use prolly_client::source::{
    BlockSource, FetchError, GatewayConfig, GatewaySource, MultiConfig, MultiSource,
};
use prolly_client::{ClientError, MemoryStore, Reader, TrustedRoot, Via};
use prolly_db::Query;

use common::{Flights, flights, local_answer, queries, start, start_server};

#[derive(Clone, Copy, Debug, PartialEq)]
enum Lie {
    FlipBit,
    OtherBlock,
    Withhold,
    Slow,
    CloseConnection,
    RateLimitForever,
}

struct Bad {
    lie: Lie,
    store: Arc<MemoryStore>,
    /// A valid block that is not the one asked for.
    decoy: Vec<u8>,
}

async fn bad_block(State(bad): State<Arc<Bad>>, Path(cid): Path<String>) -> Response {
    let Ok(cid) = Cid::try_from(cid.as_str()) else {
        return StatusCode::BAD_REQUEST.into_response();
    };
    let Some(mut bytes) = bad.store.get(&cid).unwrap() else {
        return StatusCode::NOT_FOUND.into_response();
    };
    let raw = |bytes: Vec<u8>| {
        ([(header::CONTENT_TYPE, "application/vnd.ipld.raw")], bytes).into_response()
    };
    match bad.lie {
        Lie::FlipBit => {
            let middle = bytes.len() / 2;
            bytes[middle] ^= 0x10;
            raw(bytes)
        }
        Lie::OtherBlock => raw(bad.decoy.clone()),
        Lie::Withhold => StatusCode::NOT_FOUND.into_response(),
        Lie::Slow => {
            tokio::time::sleep(Duration::from_secs(5)).await;
            raw(bytes)
        }
        Lie::CloseConnection => {
            // Headers, then the body breaks off: hyper closes the connection.
            let broken = futures::stream::iter([
                Ok(Bytes::from(bytes[..bytes.len() / 2].to_vec())),
                Err(std::io::Error::other("gone")),
            ]);
            let mut response = Body::from_stream(broken).into_response();
            response.headers_mut().insert(
                header::CONTENT_LENGTH,
                bytes.len().to_string().parse().unwrap(),
            );
            response
        }
        Lie::RateLimitForever => {
            (StatusCode::TOO_MANY_REQUESTS, [(header::RETRY_AFTER, "1")]).into_response()
        }
    }
}

async fn bad_peer(lie: Lie, flights: &Flights) -> String {
    let root_bytes = flights.store.get(&flights.root).unwrap().unwrap();
    let bad = Arc::new(Bad {
        lie,
        store: flights.store.clone(),
        decoy: root_bytes,
    });
    let router = Router::new()
        .route("/ipfs/{cid}", get(bad_block))
        .with_state(bad);
    format!("http://{}", start(router).await)
}

fn gateway(url: &str) -> Arc<dyn BlockSource> {
    let config = GatewayConfig {
        timeout: Duration::from_secs(2),
        retries: 2,
        max_retry_wait: Duration::from_secs(1),
        ..GatewayConfig::default()
    };
    Arc::new(GatewaySource::new(url, config).unwrap())
}

fn multi(peers: Vec<Arc<dyn BlockSource>>) -> Arc<MultiSource> {
    Arc::new(MultiSource::new(
        peers,
        MultiConfig {
            fanout: 2,
            hedge_after: Duration::from_millis(300),
            timeout: Duration::from_secs(1),
        },
    ))
}

const LIES: [Lie; 6] = [
    Lie::FlipBit,
    Lie::OtherBlock,
    Lie::Withhold,
    Lie::Slow,
    Lie::CloseConnection,
    Lie::RateLimitForever,
];

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_lying_gateway_is_detected_and_an_honest_peer_answers() {
    let flights = flights();
    let honest = format!(
        "http://{}",
        start_server(flights.store.clone(), ServerConfig::default()).await
    );
    let query = &queries()[0];
    let want = local_answer(flights, query);
    for lie in LIES {
        let liar = bad_peer(lie, flights).await;
        // The liar first, so that it is asked.
        let source = multi(vec![gateway(&liar), gateway(&honest)]);
        let reader = Reader::new(Arc::new(MemoryStore::new())).with_source(source.clone());
        let answer = reader
            .query(&TrustedRoot::given(flights.root), query)
            .await
            .unwrap_or_else(|e| panic!("{lie:?}: {e}"));
        assert_eq!(answer.result.to_cbor(), want, "{lie:?}");
        let report = source.report();
        assert!(report[1].served > 0, "{lie:?}: the honest peer served");
        match lie {
            Lie::FlipBit | Lie::OtherBlock => {
                assert!(report[0].dropped, "{lie:?}: {report:?}");
                assert_eq!(
                    report[0].bad_blocks, 1,
                    "{lie:?}: dropped after one bad block"
                );
            }
            _ => assert!(
                report[0].failures > 0 || report[0].served == 0,
                "{lie:?}: {report:?}"
            ),
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_only_lying_gateways_the_read_fails_and_says_why() {
    let flights = flights();
    let query = &queries()[0];
    let mut peers = Vec::new();
    for lie in [
        Lie::FlipBit,
        Lie::OtherBlock,
        Lie::Withhold,
        Lie::CloseConnection,
    ] {
        peers.push(gateway(&bad_peer(lie, flights).await));
    }
    let reader = Reader::new(Arc::new(MemoryStore::new())).with_source(multi(peers));
    let err = reader
        .query(&TrustedRoot::given(flights.root), query)
        .await
        .unwrap_err();
    let ClientError::Unavailable { error, .. } = &err else {
        panic!("expected Unavailable, got {err}");
    };
    let FetchError::AllPeersFailed(why) = error else {
        panic!("expected AllPeersFailed, got {error}");
    };
    assert_eq!(why.0.len(), 4, "each peer's failure is named: {err}");
    let text = err.to_string();
    assert!(text.contains("do not hash to its CID"), "{text}");
    assert!(text.contains("not found"), "{text}");
}

/// A prollydb node that answers every query with a valid proof of another query.
async fn lying_prover(flights: &Flights) -> String {
    struct Liar {
        store: Arc<MemoryStore>,
        root: Cid,
    }
    async fn answer(State(liar): State<Arc<Liar>>, body: Bytes) -> Response {
        let asked = QueryRequest::decode(&body).unwrap();
        let other = Query::from_json(
            r#"{"collection": "flights", "filter": {"carrier": "DL"}, "limit": 3}"#,
        )
        .unwrap();
        assert_ne!(asked.query, other);
        let proof = prolly_proofs::prove(liar.store.as_ref(), liar.root, &other)
            .unwrap()
            .into_result()
            .unwrap();
        proof.bytes.into_response()
    }
    let liar = Arc::new(Liar {
        store: flights.store.clone(),
        root: flights.root,
    });
    let router = Router::new()
        .route(QUERY_PATH, post(answer))
        .with_state(liar);
    format!("http://{}", start(router).await)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_proof_of_another_result_is_caught_and_the_reader_falls_back() {
    let flights = flights();
    let liar = lying_prover(flights).await;
    let honest = format!(
        "http://{}",
        start_server(flights.store.clone(), ServerConfig::default()).await
    );
    let query = &queries()[0];

    let peer = ProllyPeer::new(&liar, Duration::from_secs(10)).unwrap();
    let err = peer
        .query(prolly_client::protocol::At::Root(flights.root), query)
        .await
        .unwrap_err();
    assert!(matches!(err, PeerError::Lying(_)), "{err}");
    assert!(peer.dropped());

    // Through a reader: the liar is dropped, then an honest node's proof answers.
    let reader = Reader::new(Arc::new(MemoryStore::new()))
        .with_peer(ProllyPeer::new(&liar, Duration::from_secs(10)).unwrap())
        .with_peer(ProllyPeer::new(&honest, Duration::from_secs(10)).unwrap());
    let answer = reader
        .query(&TrustedRoot::given(flights.root), query)
        .await
        .unwrap();
    assert_eq!(
        answer.via,
        Via::Proof {
            peer: honest.clone()
        }
    );
    assert_eq!(answer.result.to_cbor(), local_answer(flights, query));

    // With the liar alone and no block source: an error, not its result.
    let reader = Reader::new(Arc::new(MemoryStore::new()))
        .with_peer(ProllyPeer::new(&liar, Duration::from_secs(10)).unwrap());
    let err = reader
        .query(&TrustedRoot::given(flights.root), query)
        .await
        .unwrap_err();
    assert!(err.to_string().contains("does not verify"), "{err}");
}
