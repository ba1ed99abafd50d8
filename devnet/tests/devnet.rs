//! The devnet end to end over HTTP, as a Lotus client sees it: deploy the actor, write through
//! messages, wait for receipts, read the actor's root and events, query sparsely from a fresh
//! client, restart (also after a kill), and refuse bad requests as Lotus does.

use std::sync::Arc;
use std::time::Duration;

use prolly_actor::{ConstructorParams, RootReturn, method};
use prolly_client::source::LotusSource;
use prolly_client::{MemoryStore, Reader, TrustedRoot};
use prolly_db::{Query, WriteBatch};
use prolly_devnet::{Devnet, DevnetConfig, Mining};
use serde_json::{Value, json};

fn config(dir: &std::path::Path) -> DevnetConfig {
    DevnetConfig {
        dir: dir.to_path_buf(),
        listen: "127.0.0.1:0".into(),
        actors: 2,
        mining: Mining::Instant,
    }
}

fn lotus(devnet: &Devnet) -> LotusSource {
    LotusSource::new(&devnet.api_info(), Duration::from_secs(30)).unwrap()
}

fn docs(start: usize, n: usize) -> WriteBatch {
    let mut batch = WriteBatch::new();
    for i in start..start + n {
        let city = ["Paris", "Lyon", "Nice"][i % 3];
        let doc = json!({"_id": i as i64, "city": city, "n": i as i64});
        batch.insert("things", prolly_db::parse_json(&doc.to_string()).unwrap());
    }
    batch
}

/// Constructs actor 1000, owned by the wallet's default address, and waits for `confidence`
/// tipsets after its receipt; returns that address and the lookup.
async fn construct(
    node: &LotusSource,
    confidence: u64,
) -> (String, prolly_client::source::lotus::Lookup) {
    let from = node.wallet_default_address().await.unwrap();
    let owner = node.state_lookup_id(&from).await.unwrap();
    let params = ConstructorParams {
        owner: fvm_shared::address::Address::new_id(owner),
        writers: vec![],
        config: None,
    };
    let cid = node
        .push_message(
            &from,
            1000,
            method::CONSTRUCTOR,
            &fvm_ipld_encoding::to_vec(&params).unwrap(),
        )
        .await
        .unwrap();
    let lookup = node.wait_message(&cid, confidence).await.unwrap();
    assert_eq!(lookup.receipt.exit_code, 0, "constructor");
    (from, lookup)
}

async fn apply(node: &LotusSource, from: &str, batch: &WriteBatch) -> (RootReturn, i64) {
    let cid = node
        .push_message(from, 1000, method::APPLY, &batch.to_cbor())
        .await
        .unwrap();
    let lookup = node.wait_message(&cid, 1).await.unwrap();
    assert_eq!(lookup.receipt.exit_code, 0, "apply");
    let ret: RootReturn = fvm_ipld_encoding::from_slice(&lookup.receipt.return_data).unwrap();
    (ret, lookup.receipt.gas_used)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn write_through_messages_then_read_from_a_fresh_client_and_restart() {
    let dir = tempfile::tempdir().unwrap();
    let devnet = Devnet::start(config(dir.path())).await.unwrap();
    let node = lotus(&devnet);
    assert!(
        node.version()
            .await
            .unwrap()
            .starts_with("prollydb-devnet/")
    );
    assert_eq!(node.chain_head().await.unwrap().height, 0);

    let (from, _) = construct(&node, 0).await;
    let mut schema = WriteBatch::new();
    schema.create_collection("things");
    apply(&node, &from, &schema).await;
    let (ret, gas) = apply(&node, &from, &docs(0, 300)).await;
    assert_eq!(ret.seq, 2);
    assert!(gas > 0);

    // The root the actor holds, read through StateGetActor on the head's parent state.
    let at = node.actor_root(1000).await.unwrap();
    assert_eq!(at.db_root, ret.root);

    // A fresh client with nothing: sparse reads through ChainReadObj.
    let reader = Reader::new(Arc::new(MemoryStore::new())).with_source(Arc::new(lotus(&devnet)));
    let query =
        Query::from_json(r#"{"collection": "things", "filter": {"city": "Nice"}, "count": true}"#)
            .unwrap();
    let answer = reader
        .query(&TrustedRoot::given(at.db_root), &query)
        .await
        .unwrap();
    assert_eq!(answer.result.count, Some(100));

    // Every commit is an event with the new root.
    let events = node.actor_events(1000, 0, None).await.unwrap();
    assert_eq!(events.len(), 2);
    let last: cid::Cid = fvm_ipld_encoding::from_slice(events[1].value("root").unwrap()).unwrap();
    assert_eq!(last, ret.root);

    // Restart: the same head, state and answers.
    let head = node.chain_head().await.unwrap();
    devnet.stop().await.unwrap();
    let devnet = Devnet::start(config(dir.path())).await.unwrap();
    let node = lotus(&devnet);
    assert_eq!(node.chain_head().await.unwrap(), head);
    assert_eq!(node.actor_root(1000).await.unwrap(), at);
    assert_eq!(node.actor_events(1000, 0, None).await.unwrap(), events);
    // And it goes on: the nonce continues where it was.
    let (next, _) = apply(&node, &from, &docs(300, 10)).await;
    assert_eq!(next.seq, 3);
    devnet.stop().await.unwrap();
}

async fn post(url: &str, token: Option<&str>, body: &str) -> (u16, String) {
    let client = prolly_client::source::http_client(Duration::from_secs(30)).unwrap();
    let mut request = client
        .post(format!("{url}/rpc/v1"))
        .header("Content-Type", "application/json")
        .body(body.to_string());
    if let Some(token) = token {
        request = request.header("Authorization", token);
    }
    let response = request.send().await.unwrap();
    let status = response.status().as_u16();
    (status, response.text().await.unwrap())
}

fn error_of(body: &str) -> (i64, String) {
    let v: Value = serde_json::from_str(body).unwrap();
    assert!(v.get("result").is_none(), "{body}");
    (
        v["error"]["code"].as_i64().unwrap(),
        v["error"]["message"].as_str().unwrap().to_string(),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_requests_get_the_errors_lotus_gives() {
    let dir = tempfile::tempdir().unwrap();
    let devnet = Devnet::start(config(dir.path())).await.unwrap();
    let url = devnet.url();
    let bearer = format!("Bearer {}", devnet.token);
    let auth = Some(bearer.as_str());
    let call = |method: &str, params: Value| {
        json!({"jsonrpc": "2.0", "id": 7, "method": method, "params": params}).to_string()
    };

    let (status, body) = post(&url, None, "{not json").await;
    assert_eq!((status, error_of(&body).0), (500, -32700));
    let (status, body) = post(&url, None, "").await;
    assert_eq!((status, error_of(&body).0), (400, -32600));
    let (status, body) = post(&url, None, &call("Filecoin.Nope", json!([]))).await;
    assert_eq!(
        (status, error_of(&body)),
        (500, (-32601, "method 'Filecoin.Nope' not found".into()))
    );
    let (status, body) = post(&url, None, &call("Filecoin.ChainHead", json!([1]))).await;
    assert_eq!(
        (status, error_of(&body)),
        (
            500,
            (
                -32602,
                "wrong param count (method 'Filecoin.ChainHead'): 1 != 0".into()
            )
        )
    );
    let (status, body) = post(&url, None, &call("Filecoin.StateGetActor", json!([7, []]))).await;
    assert_eq!((status, error_of(&body).0), (500, -32700));

    let unknown = "bafy2bzaceaxm23epjsmh75yvzcecsrbavlmkcxnva66bkdebdcnyw3bjrc74u";
    let (status, body) = post(
        &url,
        None,
        &call("Filecoin.ChainReadObj", json!([{"/": unknown}])),
    )
    .await;
    assert_eq!(
        (status, error_of(&body)),
        (
            200,
            (1, format!("blockstore get: ipld: could not find {unknown}"))
        )
    );
    let (_, body) = post(
        &url,
        None,
        &call(
            "Filecoin.StateWaitMsg",
            json!([{"/": unknown}, 0, -1, true]),
        ),
    )
    .await;
    assert_eq!(
        error_of(&body),
        (
            1,
            format!("failed to load message: ipld: could not find {unknown}")
        )
    );
    let (_, body) = post(
        &url,
        None,
        &call("Filecoin.StateGetActor", json!(["t01999", []])),
    )
    .await;
    assert_eq!(
        error_of(&body),
        (
            1,
            "resolution lookup failed (t01999): resolve address t01999: actor not found".into()
        )
    );

    // Permissions: no token is read; a bad token is 401 with an empty body.
    let message = json!({"Version": 0, "To": "t01000", "From": "t0100", "Nonce": 0, "Value": "0", "GasLimit": 0,
        "GasFeeCap": "0", "GasPremium": "0", "Method": method::ROOT, "Params": null});
    let (_, body) = post(
        &url,
        None,
        &call("Filecoin.MpoolPushMessage", json!([message, null])),
    )
    .await;
    assert_eq!(
        error_of(&body),
        (
            1,
            "missing permission to invoke 'MpoolPushMessage' (need 'sign')".into()
        )
    );
    let (status, body) = post(
        &url,
        Some("Bearer not.a.token"),
        &call("Filecoin.ChainHead", json!([])),
    )
    .await;
    assert_eq!((status, body.as_str()), (401, ""));
    let (status, _) = post(
        &url,
        Some(&devnet.token),
        &call("Filecoin.ChainHead", json!([])),
    )
    .await;
    assert_eq!(status, 401, "a header without 'Bearer '");

    // Senders: an unknown account, an account whose key the node lacks, a set nonce.
    let with = |from: &str, nonce: u64, params: Value| {
        let mut m = message.clone();
        m["From"] = json!(from);
        m["Nonce"] = json!(nonce);
        m["Params"] = params;
        call("Filecoin.MpoolPushMessage", json!([m, null]))
    };
    let (_, body) = post(&url, auth, &with("t01999", 0, Value::Null)).await;
    assert_eq!(
        error_of(&body),
        (
            1,
            "getting key address: failed to find actor: t01999".into()
        )
    );
    let (_, body) = post(&url, auth, &with("t01000", 0, Value::Null)).await;
    assert_eq!(
        error_of(&body),
        (
            1,
            "failed to sign message: key not found for t01000, addr=t01000".into()
        )
    );
    let (_, body) = post(&url, auth, &with("t0100", 3, Value::Null)).await;
    assert_eq!(
        error_of(&body),
        (
            1,
            "MpoolPushMessage expects message nonce to be 0, was 3".into()
        )
    );
    let stranger = "t1d2xrzcslx7xlbbylc5c3d5lvandqw4iwl6epxba";
    let (_, body) = post(&url, auth, &with(stranger, 0, Value::Null)).await;
    assert!(
        error_of(&body)
            .1
            .ends_with("not found on chain: sender validation failed"),
        "{body}"
    );
    // Lotus's sanity checks: no negative amounts, a premium under the fee cap, a gas limit that
    // covers the message's own bytes (a message failing these would break the tipset's others).
    let mut negative = message.clone();
    negative["GasPremium"] = json!("-1");
    let (_, body) = post(
        &url,
        auth,
        &call("Filecoin.MpoolPushMessage", json!([negative, null])),
    )
    .await;
    assert_eq!(
        error_of(&body),
        (
            1,
            "message from t0100 failed sanity check: 'GasPremium' field cannot be negative".into()
        )
    );
    let mut starved = message.clone();
    starved["GasLimit"] = json!(1);
    let (_, body) = post(
        &url,
        auth,
        &call("Filecoin.MpoolPushMessage", json!([starved, null])),
    )
    .await;
    assert!(
        error_of(&body).1.contains(
            "'GasLimit' field cannot be less than the cost of storing a message on chain 1 < "
        ),
        "{body}"
    );
    // Over Lotus's 64 KiB: refused, and nothing is mined.
    let head = lotus(&devnet).chain_head().await.unwrap();
    let big = data_encoding::BASE64.encode(&vec![7u8; 70_000]);
    let (status, body) = post(&url, auth, &with("t0100", 0, json!(big))).await;
    let (code, text) = error_of(&body);
    assert_eq!((status, code), (200, 1));
    assert!(
        text.starts_with("mpool push: failed to push message: mpool message too large (")
            && text.ends_with("B): message too big"),
        "{text}"
    );
    assert_eq!(lotus(&devnet).chain_head().await.unwrap(), head);

    // A failing message is included, with its exit code in the receipt (the actor is not
    // constructed yet: Root aborts with USR_ILLEGAL_STATE).
    let (_, body) = post(&url, auth, &with("t0100", 0, Value::Null)).await;
    let signed: Value = serde_json::from_str(&body).unwrap();
    let cid = signed["result"]["CID"].clone();
    let (_, body) = post(
        &url,
        None,
        &call("Filecoin.StateWaitMsg", json!([cid, 0, -1, true])),
    )
    .await;
    let lookup: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(lookup["result"]["Receipt"]["ExitCode"], json!(20), "{body}");
    assert_eq!(lookup["result"]["ReturnDec"], Value::Null);
    // The node is still up.
    assert!(lotus(&devnet).version().await.is_ok());
    devnet.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn on_a_clock_tipsets_come_by_themselves_and_waits_return() {
    let dir = tempfile::tempdir().unwrap();
    let devnet = Devnet::start(DevnetConfig {
        mining: Mining::Every(Duration::from_millis(200)),
        ..config(dir.path())
    })
    .await
    .unwrap();
    let node = lotus(&devnet);
    // Pushed, not yet mined: the message waits in the pool until the clock mines it.
    let (_, lookup) = construct(&node, 2).await;
    let head = node.chain_head().await.unwrap().height;
    assert!(
        head >= lookup.height + 2,
        "confidence 2: head {head}, receipt at {}",
        lookup.height
    );
    tokio::time::sleep(Duration::from_millis(700)).await;
    assert!(
        node.chain_head().await.unwrap().height > head,
        "the clock mines empty tipsets"
    );
    devnet.stop().await.unwrap();
}

/// Stopping ends what would hold the store open: a StateWaitMsg for a tipset that will never be
/// mined answers with an error, an idle WebSocket is closed, and the folder reopens at once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stopped_devnet_ends_its_waits_and_sockets_and_reopens_at_once() {
    use futures::StreamExt;
    let dir = tempfile::tempdir().unwrap();
    for round in 0..3 {
        let devnet = Devnet::start(DevnetConfig {
            mining: Mining::Every(Duration::from_secs(3600)),
            ..config(dir.path())
        })
        .await
        .unwrap_or_else(|e| panic!("round {round}: {e:#}"));
        let node = lotus(&devnet);
        let from = node.wallet_default_address().await.unwrap();
        let cid = node
            .push_message(&from, 1000, method::ROOT, &[])
            .await
            .unwrap();
        let waiting = tokio::spawn(async move { node.wait_message(&cid, 0).await });
        let (mut socket, _) =
            tokio_tungstenite::connect_async(format!("ws://{}/rpc/v1", devnet.addr))
                .await
                .unwrap();
        tokio::time::sleep(Duration::from_millis(200)).await;
        assert!(!waiting.is_finished(), "nothing is mined for an hour");

        devnet.stop().await.unwrap();
        let waited = waiting.await.unwrap().map(|_| ()).unwrap_err();
        assert!(
            format!("{waited:#}").contains("the devnet is stopping"),
            "{waited:#}"
        );
        assert!(
            matches!(
                socket.next().await,
                None | Some(Ok(tokio_tungstenite::tungstenite::Message::Close(_))) | Some(Err(_))
            ),
            "the socket is closed"
        );
    }
}
