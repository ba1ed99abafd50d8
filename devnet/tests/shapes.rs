//! The devnet's answers have Lotus's shapes (PROTOCOLS A3/A4) and are what a Go client rebuilds:
//! the block header's CID is the blake2b-256 of its 16-field CBOR, a signed message's CID is that
//! of `[Message, Signature]`, its secp256k1 signature recovers the sender's address, receipts and
//! events are readable blocks, and heights follow Lotus's split (the receipt's tipset is the
//! execution tipset, an event's is the inclusion tipset).

use std::time::Duration;

use cid::Cid;
use data_encoding::BASE64;
use ipld_core::ipld::Ipld;
use k256::ecdsa::{RecoveryId, Signature, VerifyingKey};
use multihash_codetable::{Code, MultihashDigest};
use prolly_devnet::{Devnet, DevnetConfig, Mining};
use serde_json::{Value, json};

async fn rpc(url: &str, token: Option<&str>, method: &str, params: Value) -> Value {
    let client = prolly_client::source::http_client(Duration::from_secs(30)).unwrap();
    let mut request = client
        .post(format!("{url}/rpc/v1"))
        .header("Content-Type", "application/json")
        .body(json!({"jsonrpc": "2.0", "id": 1, "method": method, "params": params}).to_string());
    if let Some(token) = token {
        request = request.header("Authorization", format!("Bearer {token}"));
    }
    let response = request.send().await.unwrap();
    assert_eq!(
        response.headers()["content-type"],
        "application/json",
        "{method}"
    );
    serde_json::from_str(&response.text().await.unwrap()).unwrap()
}

async fn result(url: &str, token: Option<&str>, method: &str, params: Value) -> Value {
    let answer = rpc(url, token, method, params).await;
    assert!(answer.get("error").is_none(), "{method}: {answer}");
    answer["result"].clone()
}

fn keys(v: &Value) -> Vec<&str> {
    let mut keys: Vec<&str> = v.as_object().unwrap().keys().map(String::as_str).collect();
    keys.sort();
    keys
}

fn sorted<'a>(names: &[&'a str]) -> Vec<&'a str> {
    let mut names = names.to_vec();
    names.sort();
    names
}

fn cid(v: &Value) -> Cid {
    Cid::try_from(v["/"].as_str().unwrap()).unwrap()
}

/// A block read through ChainReadObj, its hash checked against its CID.
async fn block(url: &str, c: &Cid) -> Vec<u8> {
    let text = result(
        url,
        None,
        "Filecoin.ChainReadObj",
        json!([{"/": c.to_string()}]),
    )
    .await;
    let bytes = BASE64.decode(text.as_str().unwrap().as_bytes()).unwrap();
    assert_eq!(Code::Blake2b256.digest(&bytes), *c.hash(), "block {c}");
    bytes
}

fn decode(bytes: &[u8]) -> Ipld {
    prolly_tree::decode_ipld(bytes).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_method_answers_in_lotus_shapes() {
    let dir = tempfile::tempdir().unwrap();
    let devnet = Devnet::start(DevnetConfig {
        dir: dir.path().to_path_buf(),
        listen: "127.0.0.1:0".into(),
        actors: 1,
        mining: Mining::Instant,
    })
    .await
    .unwrap();
    let url = devnet.url();
    let token = Some(devnet.token.as_str());

    let version = result(&url, None, "Filecoin.Version", json!([])).await;
    assert_eq!(
        keys(&version),
        sorted(&["Version", "APIVersion", "BlockDelay", "Agent"])
    );
    assert_eq!(version["APIVersion"], 131840);

    // Wallet methods need `write`.
    let refused = rpc(&url, None, "Filecoin.WalletList", json!([])).await;
    assert_eq!(
        refused["error"]["message"],
        "missing permission to invoke 'WalletList' (need 'write')"
    );
    let wallet = result(&url, token, "Filecoin.WalletList", json!([])).await;
    let from = result(&url, token, "Filecoin.WalletDefaultAddress", json!([])).await;
    assert_eq!(from, wallet[0]);
    let from = from.as_str().unwrap().to_string();
    assert!(from.starts_with("t1"));

    // A message: the node fills in the nonce and gas, signs, and includes it.
    let message = json!({"Version": 0, "To": "t01000", "From": from, "Nonce": 0, "Value": "0",
        "GasLimit": 0, "GasFeeCap": "0", "GasPremium": "0", "Method": prolly_actor::method::ROOT, "Params": null});
    let signed = result(&url, token, "Filecoin.MpoolPushMessage", json!([message, {"MaxFee": "0", "MsgUuid": "00000000-0000-0000-0000-000000000000", "MaximizeFeeCap": false}])).await;
    assert_eq!(keys(&signed), sorted(&["Message", "Signature", "CID"]));
    assert_eq!(
        keys(&signed["Message"]),
        sorted(&[
            "Version",
            "To",
            "From",
            "Nonce",
            "Value",
            "GasLimit",
            "GasFeeCap",
            "GasPremium",
            "Method",
            "Params",
            "CID"
        ])
    );
    assert_eq!(signed["Signature"]["Type"], 1);
    assert!(signed["Message"]["GasLimit"].as_u64().unwrap() > 0);
    assert!(signed["Message"]["GasFeeCap"].is_string());
    // Its CID is that of [Message, Signature]; the signature recovers the sender.
    let signed_cid = cid(&signed["CID"]);
    let stored = decode(&block(&url, &signed_cid).await);
    let Ipld::List(parts) = &stored else {
        panic!("{stored:?}")
    };
    let Ipld::Bytes(sig) = &parts[1] else {
        panic!()
    };
    assert_eq!(sig[0], 1, "a secp256k1 signature");
    let unsigned = cid(&signed["Message"]["CID"]);
    let digest = Code::Blake2b256.digest(&unsigned.to_bytes());
    let key = VerifyingKey::recover_from_prehash(
        digest.digest(),
        &Signature::from_slice(&sig[1..65]).unwrap(),
        RecoveryId::from_byte(sig[65]).unwrap(),
    )
    .unwrap();
    let recovered =
        fvm_shared::address::Address::new_secp256k1(key.to_encoded_point(false).as_bytes())
            .unwrap();
    assert_eq!(prolly_devnet::json::address(&recovered), from);

    // Its receipt: the execution tipset (inclusion + 1). Root on an unconstructed actor fails
    // with USR_ILLEGAL_STATE: a receipt, not an RPC error.
    let lookup = result(
        &url,
        None,
        "Filecoin.StateWaitMsg",
        json!([signed["CID"], 0, -1, true]),
    )
    .await;
    assert_eq!(
        keys(&lookup),
        sorted(&["Message", "Receipt", "ReturnDec", "TipSet", "Height"])
    );
    assert_eq!(
        keys(&lookup["Receipt"]),
        sorted(&["ExitCode", "Return", "GasUsed", "EventsRoot"])
    );
    assert_eq!(lookup["Receipt"]["ExitCode"], 20);
    let executed_at = lookup["Height"].as_i64().unwrap();
    let execution = result(
        &url,
        None,
        "Filecoin.ChainGetTipSet",
        json!([lookup["TipSet"]]),
    )
    .await;
    assert_eq!(execution["Height"], executed_at);
    // The execution tipset's header carries the receipts of its parent's messages.
    let receipts = cid(&execution["Blocks"][0]["ParentMessageReceipts"]);
    block(&url, &receipts).await;

    // The head: a tipset whose header is its CID's 16-field CBOR.
    let head = result(&url, None, "Filecoin.ChainHead", json!([])).await;
    assert_eq!(keys(&head), sorted(&["Cids", "Blocks", "Height"]));
    let header = &head["Blocks"][0];
    assert_eq!(
        keys(header),
        sorted(&[
            "Miner",
            "Ticket",
            "ElectionProof",
            "BeaconEntries",
            "WinPoStProof",
            "Parents",
            "ParentWeight",
            "Height",
            "ParentStateRoot",
            "ParentMessageReceipts",
            "Messages",
            "BLSAggregate",
            "Timestamp",
            "BlockSig",
            "ForkSignaling",
            "ParentBaseFee"
        ])
    );
    assert!(header["ParentWeight"].is_string() && header["ParentBaseFee"].is_string());
    let encoded = decode(&block(&url, &cid(&head["Cids"][0])).await);
    let Ipld::List(fields) = encoded else {
        panic!()
    };
    assert_eq!(fields.len(), 16);
    assert_eq!(
        fields[7],
        Ipld::Integer(head["Height"].as_i64().unwrap() as i128)
    );
    assert_eq!(fields[8], Ipld::Link(cid(&header["ParentStateRoot"])));
    assert_eq!(fields[10], Ipld::Link(cid(&header["Messages"])));
    assert_eq!(
        fields[5],
        Ipld::List(vec![Ipld::Link(cid(&header["Parents"][0]))])
    );
    // The messages of the inclusion tipset: [BLS AMT, secp AMT].
    let included = result(
        &url,
        None,
        "Filecoin.ChainGetTipSetByHeight",
        json!([executed_at - 1, []]),
    )
    .await;
    let meta = decode(&block(&url, &cid(&included["Blocks"][0]["Messages"])).await);
    assert!(matches!(meta, Ipld::List(ref l) if l.len() == 2));

    let actor = result(&url, None, "Filecoin.StateGetActor", json!(["t01000", []])).await;
    assert_eq!(
        keys(&actor),
        sorted(&["Code", "Head", "Nonce", "Balance", "DelegatedAddress"])
    );
    assert!(actor["Balance"].is_string());
    assert_eq!(
        result(&url, None, "Filecoin.StateLookupID", json!([from, []])).await,
        "t0100"
    );

    // Events: construct, then commit; the event is at the inclusion tipset.
    let node = prolly_client::source::LotusSource::new(&devnet.api_info(), Duration::from_secs(30))
        .unwrap();
    let params = prolly_actor::ConstructorParams {
        owner: fvm_shared::address::Address::new_id(100),
        writers: vec![],
        config: None,
    };
    let c = node
        .push_message(&from, 1000, 1, &fvm_ipld_encoding::to_vec(&params).unwrap())
        .await
        .unwrap();
    node.wait_message(&c, 0).await.unwrap();
    let mut batch = prolly_db::WriteBatch::new();
    batch.create_collection("c");
    let c = node
        .push_message(&from, 1000, prolly_actor::method::APPLY, &batch.to_cbor())
        .await
        .unwrap();
    let applied = node.wait_message(&c, 0).await.unwrap();
    let events = result(
        &url,
        None,
        "Filecoin.GetActorEventsRaw",
        json!([{"addresses": ["t01000"], "fromHeight": 0}]),
    )
    .await;
    let event = &events[0];
    assert_eq!(
        keys(event),
        sorted(&[
            "entries",
            "emitter",
            "reverted",
            "height",
            "tipsetKey",
            "msgCid"
        ])
    );
    assert_eq!(
        keys(&event["entries"][0]),
        sorted(&["Flags", "Key", "Codec", "Value"])
    );
    assert_eq!(event["emitter"], "t01000");
    assert_eq!(event["height"], applied.height - 1);
    assert_eq!(event["entries"][0]["Codec"], 0x51);
    assert_eq!(cid(&event["msgCid"]), c);
    block(&url, &applied.receipt.events_root.unwrap()).await;
    // Field filters match on key, codec and value; no match is `null`.
    let root_value = event["entries"][0]["Value"].clone();
    let matched = result(
        &url,
        None,
        "Filecoin.GetActorEventsRaw",
        json!([{"fields": {"root": [{"codec": 81, "value": root_value}]}, "fromHeight": 0}]),
    )
    .await;
    assert_eq!(matched.as_array().unwrap().len(), 1);
    let none = result(
        &url,
        None,
        "Filecoin.GetActorEventsRaw",
        json!([{"addresses": ["t01001"], "fromHeight": 0}]),
    )
    .await;
    assert_eq!(none, Value::Null);
    let both = rpc(
        &url,
        None,
        "Filecoin.GetActorEventsRaw",
        json!([{"tipsetKey": event["tipsetKey"], "fromHeight": 0}]),
    )
    .await;
    assert_eq!(
        both["error"]["message"],
        "cannot specify both TipSetKey and FromHeight/ToHeight"
    );
    let backwards = rpc(
        &url,
        None,
        "Filecoin.GetActorEventsRaw",
        json!([{"fromHeight": 5, "toHeight": 2}]),
    )
    .await;
    assert_eq!(
        backwards["error"]["message"],
        "invalid epoch range: 'to' height (2) must be after 'from' height (5)"
    );
    devnet.stop().await.unwrap();
}

/// The Lotus CLI and go-jsonrpc clients dial `ws://HOST/rpc/v1`: the same methods, the same
/// permissions, answers matched by id, and a slow call does not hold up the others.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_same_methods_over_a_websocket() {
    use futures::{SinkExt, StreamExt};
    use tokio_tungstenite::tungstenite::Message;
    use tokio_tungstenite::tungstenite::client::IntoClientRequest;

    let dir = tempfile::tempdir().unwrap();
    let devnet = Devnet::start(DevnetConfig {
        dir: dir.path().to_path_buf(),
        listen: "127.0.0.1:0".into(),
        actors: 1,
        mining: Mining::Every(Duration::from_millis(300)),
    })
    .await
    .unwrap();
    let url = format!("ws://{}/rpc/v1", devnet.addr);
    let mut request = url.as_str().into_client_request().unwrap();
    request.headers_mut().insert(
        "Authorization",
        format!("Bearer {}", devnet.token).parse().unwrap(),
    );
    let (mut socket, _) = tokio_tungstenite::connect_async(request).await.unwrap();
    let call = async |socket: &mut tokio_tungstenite::WebSocketStream<_>, body: Value| {
        socket
            .send(Message::Text(body.to_string().into()))
            .await
            .unwrap();
    };
    let from = "t1pc4wjkss77l2pmfiste2kenbikhxojue2ed47za";
    let message = json!({"Version": 0, "To": "t01000", "From": from, "Nonce": 0, "Value": "0",
        "GasLimit": 0, "GasFeeCap": "0", "GasPremium": "0", "Method": prolly_actor::method::ROOT, "Params": null});
    call(&mut socket, json!({"jsonrpc": "2.0", "id": 1, "method": "Filecoin.MpoolPushMessage", "params": [message, null]})).await;
    let pushed: Value = match socket.next().await.unwrap().unwrap() {
        Message::Text(text) => serde_json::from_str(&text).unwrap(),
        other => panic!("{other:?}"),
    };
    assert_eq!(pushed["id"], 1, "{pushed}");
    // A wait that blocks until the clock mines, then a quick call: the quick one answers first.
    call(&mut socket, json!({"jsonrpc": "2.0", "id": 2, "method": "Filecoin.StateWaitMsg", "params": [pushed["result"]["CID"], 1, -1, true]})).await;
    call(
        &mut socket,
        json!([{"jsonrpc": "2.0", "id": 3, "method": "Filecoin.ChainHead", "params": []}]),
    )
    .await;
    let mut order = Vec::new();
    while order.len() < 2 {
        let Message::Text(text) = socket.next().await.unwrap().unwrap() else {
            continue;
        };
        let answer: Value = serde_json::from_str(&text).unwrap();
        let answer = if answer.is_array() {
            answer[0].clone()
        } else {
            answer
        };
        assert!(answer.get("error").is_none(), "{answer}");
        order.push(answer["id"].as_i64().unwrap());
    }
    assert_eq!(order, vec![3, 2]);
    socket.close(None).await.unwrap();

    // Without a token, `sign` is missing; with a bad one, the upgrade is refused with 401.
    let (mut anonymous, _) = tokio_tungstenite::connect_async(url.as_str())
        .await
        .unwrap();
    call(&mut anonymous, json!({"jsonrpc": "2.0", "id": 9, "method": "Filecoin.MpoolPushMessage", "params": [message, null]})).await;
    let Message::Text(text) = anonymous.next().await.unwrap().unwrap() else {
        panic!()
    };
    let refused: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(
        refused["error"]["message"],
        "missing permission to invoke 'MpoolPushMessage' (need 'sign')"
    );
    let mut bad = url.as_str().into_client_request().unwrap();
    bad.headers_mut()
        .insert("Authorization", "Bearer x.y.z".parse().unwrap());
    let refused = tokio_tungstenite::connect_async(bad)
        .await
        .err()
        .unwrap()
        .to_string();
    assert!(refused.contains("401"), "{refused}");
    devnet.stop().await.unwrap();
}
