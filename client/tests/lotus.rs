//! The Lotus source against a small JSON-RPC node with exactly Lotus's shapes (PROTOCOLS A):
//! batch requests, base64 bytes, `{"/": cid}`, error objects with Lotus's codes, a bearer token,
//! an unknown actor.

mod common;

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use cid::Cid;
use data_encoding::BASE64;
use fvm_ipld_blockstore::Blockstore;
use ipld_core::ipld::Ipld;
use prolly_client::source::lotus::parse_endpoint;
use prolly_client::source::{FetchError, LotusSource};
use prolly_client::{MemoryStore, Reader, TrustedRoot};
use serde_json::{Value, json};

use common::{flights, local_answer, queries, start};

const TOKEN: &str = "eyJhbGciOiJIUzI1NiJ9.eyJBbGxvdyI6WyJyZWFkIl19.c2lnbmF0dXJl";
const ACTOR: u64 = 1000;

struct Node {
    store: Arc<MemoryStore>,
    /// The prollydb actor's state block.
    actor_head: Cid,
    parent_state_root: Cid,
    http_requests: AtomicUsize,
}

fn cid_json(cid: &Cid) -> Value {
    json!({"/": cid.to_string()})
}

fn error(id: &Value, code: i64, message: String) -> Value {
    json!({"jsonrpc": "2.0", "id": id, "error": {"code": code, "message": message}})
}

fn answer(node: &Node, request: &Value) -> Value {
    let id = request.get("id").cloned().unwrap_or(Value::Null);
    let method = request
        .get("method")
        .and_then(Value::as_str)
        .unwrap_or_default();
    let params = request
        .get("params")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    let ok = |result: Value| json!({"jsonrpc": "2.0", "id": id, "result": result});
    let wrong_count = |want: usize| {
        error(
            &id,
            -32602,
            format!(
                "wrong param count (method '{method}'): {} != {want}",
                params.len()
            ),
        )
    };
    match method {
        "Filecoin.ChainHead" => ok(json!({
            "Cids": [cid_json(&node.actor_head)],
            "Blocks": [{"Miner": "t01000", "Parents": [], "ParentWeight": "0", "Height": 41,
                        "ParentStateRoot": cid_json(&node.parent_state_root),
                        "ParentMessageReceipts": cid_json(&node.parent_state_root),
                        "Messages": cid_json(&node.parent_state_root), "Timestamp": 0,
                        "ForkSignaling": 0, "ParentBaseFee": "100"}],
            "Height": 41
        })),
        "Filecoin.StateGetActor" => {
            if params.len() != 2 {
                return wrong_count(2);
            }
            let addr = params[0].as_str().unwrap_or_default();
            if addr == format!("f0{ACTOR}") || addr == format!("t0{ACTOR}") {
                ok(
                    json!({"Code": cid_json(&node.parent_state_root), "Head": cid_json(&node.actor_head),
                          "Nonce": 0, "Balance": "0", "DelegatedAddress": null}),
                )
            } else {
                error(
                    &id,
                    1,
                    format!("resolution lookup failed ({addr}): actor not found"),
                )
            }
        }
        "Filecoin.ChainReadObj" => {
            if params.len() != 1 {
                return wrong_count(1);
            }
            let cid = params[0]
                .get("/")
                .and_then(Value::as_str)
                .and_then(|s| Cid::try_from(s).ok());
            match cid.map(|c| (c, node.store.get(&c).unwrap())) {
                Some((_, Some(bytes))) => ok(json!(BASE64.encode(&bytes))),
                Some((c, None)) => {
                    error(&id, 1, format!("blockstore get: ipld: could not find {c}"))
                }
                None => error(
                    &id,
                    -32700,
                    "unmarshaling params for 'Filecoin.ChainReadObj'".into(),
                ),
            }
        }
        _ => error(&id, -32601, format!("method '{method}' not found")),
    }
}

async fn rpc(State(node): State<Arc<Node>>, headers: HeaderMap, body: Bytes) -> Response {
    node.http_requests.fetch_add(1, Ordering::Relaxed);
    match headers
        .get(header::AUTHORIZATION)
        .map(|v| v.to_str().unwrap_or_default())
    {
        None => {}
        Some(v) if v == format!("Bearer {TOKEN}") => {}
        Some(_) => return StatusCode::UNAUTHORIZED.into_response(),
    }
    let json_response = |status: StatusCode, value: Value| {
        (
            status,
            [(header::CONTENT_TYPE, "application/json")],
            value.to_string(),
        )
            .into_response()
    };
    let Ok(request) = serde_json::from_slice::<Value>(&body) else {
        return json_response(
            StatusCode::INTERNAL_SERVER_ERROR,
            error(&Value::Null, -32700, "Parse error".into()),
        );
    };
    match request {
        Value::Array(calls) if calls.is_empty() => json_response(
            StatusCode::BAD_REQUEST,
            error(&Value::Null, -32600, "Invalid request".into()),
        ),
        Value::Array(calls) => json_response(
            StatusCode::OK,
            Value::Array(calls.iter().map(|c| answer(&node, c)).collect()),
        ),
        single => json_response(StatusCode::OK, answer(&node, &single)),
    }
}

async fn lotus_node() -> (Arc<Node>, u16) {
    let flights = flights();
    // The actor's state `[owner, writers, db root, seq]`.
    let state = Ipld::List(vec![
        Ipld::Integer(100),
        Ipld::List(vec![]),
        Ipld::Link(flights.root),
        Ipld::Integer(7),
    ]);
    let state_bytes = prolly_tree::RawValue::from_ipld(&state)
        .unwrap()
        .as_bytes()
        .to_vec();
    let actor_head = prolly_tree::cid_of(&state_bytes);
    let node = Arc::new(Node {
        store: flights.store.clone(),
        actor_head,
        parent_state_root: prolly_tree::cid_of(b"\x80"),
        http_requests: AtomicUsize::new(0),
    });
    // The state block lives with the flights' blocks, as a node holds all of the chain's.
    flights.store.put_keyed(&actor_head, &state_bytes).unwrap();
    let router = Router::new()
        .route("/rpc/v1", post(rpc))
        .with_state(node.clone());
    let addr = start(router).await;
    (node, addr.port())
}

#[test]
fn endpoints_parse_in_both_of_lotus_forms() {
    assert_eq!(
        parse_endpoint("tok:/ip4/127.0.0.1/tcp/1234/http").unwrap(),
        ("http://127.0.0.1:1234/rpc/v1".into(), Some("tok".into()))
    );
    assert_eq!(
        parse_endpoint("/dns/node.example/tcp/443/https").unwrap(),
        ("https://node.example:443/rpc/v1".into(), None)
    );
    assert_eq!(
        parse_endpoint("http://127.0.0.1:1234").unwrap(),
        ("http://127.0.0.1:1234/rpc/v1".into(), None)
    );
    assert_eq!(
        parse_endpoint("tok:/ip6/::1/tcp/1234/http").unwrap().0,
        "http://[::1]:1234/rpc/v1"
    );
    assert!(parse_endpoint("tok:/ip4/127.0.0.1/udp/1234/http").is_err());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_actors_root_resolves_and_queries_run_over_batched_chain_read_obj() {
    let flights = flights();
    let (node, port) = lotus_node().await;
    let lotus = LotusSource::new(
        &format!("{TOKEN}:/ip4/127.0.0.1/tcp/{port}/http"),
        Duration::from_secs(10),
    )
    .unwrap();
    let resolved = lotus.actor_root(ACTOR).await.unwrap();
    assert_eq!(resolved.db_root, flights.root);
    assert_eq!(resolved.state_root, node.parent_state_root);
    assert_eq!(resolved.height, 41);

    let lotus = Arc::new(lotus);
    let reader = Reader::new(Arc::new(MemoryStore::new())).with_source(lotus);
    for query in queries() {
        let before = node.http_requests.load(Ordering::Relaxed);
        let answer = reader
            .query(&TrustedRoot::given(resolved.db_root), &query)
            .await
            .unwrap();
        assert_eq!(answer.result.to_cbor(), local_answer(flights, &query));
        // One HTTP request per wave: the whole frontier in one JSON-RPC batch.
        let requests = node.http_requests.load(Ordering::Relaxed) - before;
        assert_eq!(requests as u32, answer.stats.rounds, "{}", query.to_json());
        assert!(
            answer.stats.blocks >= answer.stats.rounds as u64,
            "each wave fetches"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lotus_errors_are_reported_as_what_they_are() {
    let (_node, port) = lotus_node().await;
    let url = format!("http://127.0.0.1:{port}");
    let lotus = LotusSource::new(&url, Duration::from_secs(10)).unwrap();

    let err = lotus.actor_root(4242).await.unwrap_err();
    assert_eq!(err, FetchError::NoActor(4242));
    assert_eq!(err.to_string(), "actor f04242 not found");

    let absent = prolly_tree::cid_of(b"\x63abc");
    let fetched = prolly_client::source::fetch_checked(&lotus, &[absent]).await;
    assert_eq!(fetched, vec![(absent, Err(FetchError::NotFound))]);

    let wrong_token = LotusSource::new(
        &format!("wrong:/ip4/127.0.0.1/tcp/{port}/http"),
        Duration::from_secs(10),
    )
    .unwrap();
    assert_eq!(
        wrong_token.chain_head().await.unwrap_err(),
        FetchError::Unauthorized
    );

    let nobody = LotusSource::new("http://127.0.0.1:9/rpc/v1", Duration::from_secs(2)).unwrap();
    assert!(matches!(
        nobody.chain_head().await.unwrap_err(),
        FetchError::Transport(_) | FetchError::Timeout
    ));
}
