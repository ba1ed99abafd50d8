//! The trustless gateway over real HTTP on loopback: the PROTOCOLS B7 matrix.

#![cfg(all(feature = "server", feature = "net"))]

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use cid::Cid;
use fvm_ipld_blockstore::{Blockstore, MemoryBlockstore};
use ipld_core::ipld::Ipld;
use multihash_codetable::{Code, MultihashDigest};
use prolly_client::server::{ServerConfig, serve};
use reqwest::StatusCode;
use reqwest::header::HeaderMap;

const RAW: u64 = 0x55;
const DAG_CBOR: u64 = 0x71;
const CAR_TYPE: &str = "application/vnd.ipld.car";
const RAW_TYPE: &str = "application/vnd.ipld.raw";
const EMPTY_IDENTITY: &str = "bafkqaaa";

/// A blockstore the server can share across threads (`MemoryBlockstore` is not `Sync`), which
/// counts its reads.
#[derive(Default)]
struct SharedStore {
    blocks: Mutex<HashMap<Cid, Vec<u8>>>,
    reads: AtomicUsize,
}

impl Blockstore for SharedStore {
    fn get(&self, k: &Cid) -> anyhow::Result<Option<Vec<u8>>> {
        self.reads.fetch_add(1, Ordering::SeqCst);
        Ok(self.blocks.lock().unwrap().get(k).cloned())
    }

    fn put_keyed(&self, k: &Cid, block: &[u8]) -> anyhow::Result<()> {
        self.blocks.lock().unwrap().insert(*k, block.to_vec());
        Ok(())
    }
}

impl SharedStore {
    fn remove(&self, k: &Cid) {
        self.blocks.lock().unwrap().remove(k);
    }

    fn len(&self) -> usize {
        self.blocks.lock().unwrap().len()
    }

    fn reads(&self) -> usize {
        self.reads.load(Ordering::SeqCst)
    }
}

fn dag_cbor(store: &SharedStore, value: Ipld) -> Cid {
    let bytes = prolly_tree::RawValue::from_ipld(&value).unwrap();
    let cid = prolly_tree::cid_of(bytes.as_bytes());
    store.put_keyed(&cid, bytes.as_bytes()).unwrap();
    cid
}

fn map(entries: &[(&str, Ipld)]) -> Ipld {
    Ipld::Map(
        entries
            .iter()
            .map(|(k, v)| (k.to_string(), v.clone()))
            .collect::<BTreeMap<_, _>>(),
    )
}

/// The test DAG. Map keys are in DAG-CBOR order (shorter first), which is not `BTreeMap` order:
///
/// ```text
/// root {"b": l2, "c": [l1, identity, mid], "aa": mid}
/// mid  {"raw": raw, "leaf": l1}
/// ```
struct Dag {
    store: Arc<SharedStore>,
    root: Cid,
    mid: Cid,
    l1: Cid,
    l2: Cid,
    raw: Cid,
    identity: Cid,
}

impl Dag {
    fn new() -> Dag {
        let store = Arc::new(SharedStore::default());
        let raw_bytes = b"a raw block".to_vec();
        let raw = Cid::new_v1(RAW, Code::Blake2b256.digest(&raw_bytes));
        store.put_keyed(&raw, &raw_bytes).unwrap();
        let identity = Cid::new_v1(RAW, multihash::Multihash::wrap(0x00, b"inline").unwrap());
        let l1 = dag_cbor(&store, map(&[("n", Ipld::Integer(1))]));
        let l2 = dag_cbor(&store, map(&[("n", Ipld::Integer(2))]));
        let mid = dag_cbor(
            &store,
            map(&[("leaf", Ipld::Link(l1)), ("raw", Ipld::Link(raw))]),
        );
        let root = dag_cbor(
            &store,
            map(&[
                ("aa", Ipld::Link(mid)),
                ("b", Ipld::Link(l2)),
                (
                    "c",
                    Ipld::List(vec![Ipld::Link(l1), Ipld::Link(identity), Ipld::Link(mid)]),
                ),
            ]),
        );
        Dag {
            store,
            root,
            mid,
            l1,
            l2,
            raw,
            identity,
        }
    }

    fn block(&self, cid: &Cid) -> Vec<u8> {
        self.store.get(cid).unwrap().unwrap()
    }
}

/// A server over `store` on an ephemeral loopback port, and a client for it.
struct Gateway {
    base: String,
    http: reqwest::Client,
}

impl Gateway {
    async fn start<S: Blockstore + Send + Sync + 'static>(store: Arc<S>) -> Gateway {
        Gateway::start_with(store, ServerConfig::default()).await
    }

    async fn start_with<S: Blockstore + Send + Sync + 'static>(
        store: Arc<S>,
        config: ServerConfig,
    ) -> Gateway {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        tokio::spawn(serve(listener, store, config));
        let _ = rustls::crypto::ring::default_provider().install_default();
        let http = reqwest::Client::builder().build().unwrap();
        Gateway { base, http }
    }

    async fn get(&self, path: &str, headers: &[(&str, &str)]) -> reqwest::Response {
        self.send(reqwest::Method::GET, path, headers).await
    }

    async fn head(&self, path: &str, headers: &[(&str, &str)]) -> reqwest::Response {
        self.send(reqwest::Method::HEAD, path, headers).await
    }

    async fn send(
        &self,
        method: reqwest::Method,
        path: &str,
        headers: &[(&str, &str)],
    ) -> reqwest::Response {
        let mut request = self.http.request(method, format!("{}{path}", self.base));
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        request.send().await.unwrap()
    }

    /// A complete CAR: status 200 and the CAR content type checked.
    async fn car(&self, path: &str, headers: &[(&str, &str)]) -> (HeaderMap, Car) {
        let response = self.get(path, headers).await;
        assert_eq!(response.status(), StatusCode::OK, "{path}");
        let headers = response.headers().clone();
        assert!(header(&headers, "content-type").starts_with(CAR_TYPE));
        let body = response.bytes().await.unwrap();
        let car = Car::parse(&body);
        assert!(
            car.complete,
            "{path}: trailing bytes after the last section"
        );
        (headers, car)
    }
}

/// The body, and whether its transfer failed (as it must for a CAR cut short).
async fn read_body(mut response: reqwest::Response) -> (Vec<u8>, bool) {
    let mut body = Vec::new();
    loop {
        match response.chunk().await {
            Ok(Some(chunk)) => body.extend_from_slice(&chunk),
            Ok(None) => return (body, false),
            Err(_) => return (body, true),
        }
    }
}

fn header<'a>(headers: &'a HeaderMap, name: &str) -> &'a str {
    headers
        .get(name)
        .unwrap_or_else(|| panic!("no {name}"))
        .to_str()
        .unwrap()
}

/// A CARv1 as read by the test: roots, then the sections in order, each hash-checked.
struct Car {
    roots: Vec<Cid>,
    blocks: Vec<(Cid, Vec<u8>)>,
    /// Whether the bytes ended exactly after a section.
    complete: bool,
}

impl Car {
    fn parse(bytes: &[u8]) -> Car {
        let mut pos = 0;
        let len = varint(bytes, &mut pos).unwrap();
        let header = prolly_tree::decode_ipld(&bytes[pos..pos + len]).unwrap();
        pos += len;
        let Ipld::Map(header) = header else {
            panic!("the CAR header is not a map")
        };
        assert_eq!(header["version"], Ipld::Integer(1));
        let Ipld::List(roots) = &header["roots"] else {
            panic!("no roots")
        };
        let roots = roots
            .iter()
            .map(|r| match r {
                Ipld::Link(c) => *c,
                other => panic!("a root that is not a link: {other:?}"),
            })
            .collect();
        let mut blocks = Vec::new();
        // Sections until the bytes run out; a cut-off section is left unread.
        let mut start = pos;
        while let Some(len) = varint(bytes, &mut pos) {
            if pos + len > bytes.len() {
                break;
            }
            let mut section = std::io::Cursor::new(&bytes[pos..pos + len]);
            let cid = Cid::read_bytes(&mut section).unwrap();
            let data = bytes[pos + section.position() as usize..pos + len].to_vec();
            prolly_client::block::check(&cid, &data).unwrap();
            blocks.push((cid, data));
            pos += len;
            start = pos;
        }
        Car {
            roots,
            blocks,
            complete: start == bytes.len(),
        }
    }

    fn cids(&self) -> Vec<Cid> {
        self.blocks.iter().map(|(c, _)| *c).collect()
    }
}

fn varint(bytes: &[u8], pos: &mut usize) -> Option<usize> {
    let mut value = 0usize;
    for shift in (0..63).step_by(7) {
        let b = *bytes.get(*pos)?;
        *pos += 1;
        value |= usize::from(b & 0x7f) << shift;
        if b & 0x80 == 0 {
            return Some(value);
        }
    }
    None
}

#[tokio::test]
async fn raw_block_via_format_param() {
    let dag = Dag::new();
    let gw = Gateway::start(dag.store.clone()).await;
    let response = gw.get(&format!("/ipfs/{}?format=raw", dag.root), &[]).await;
    assert_eq!(response.status(), StatusCode::OK);
    assert!(response.headers().get("content-location").is_none());
    assert_eq!(response.bytes().await.unwrap(), dag.block(&dag.root));
}

#[tokio::test]
async fn raw_block_via_accept_header() {
    let dag = Dag::new();
    let gw = Gateway::start(dag.store.clone()).await;
    let path = format!("/ipfs/{}", dag.raw);
    let response = gw.get(&path, &[("accept", RAW_TYPE)]).await;
    assert_eq!(response.status(), StatusCode::OK);
    let location = header(response.headers(), "content-location").to_owned();
    assert_eq!(location, format!("{path}?format=raw"));
    assert_eq!(response.bytes().await.unwrap(), dag.block(&dag.raw));
}

#[tokio::test]
async fn raw_block_headers() {
    let dag = Dag::new();
    let gw = Gateway::start(dag.store.clone()).await;
    let cid = dag.root;
    let response = gw.get(&format!("/ipfs/{cid}?format=raw"), &[]).await;
    let h = response.headers();
    assert_eq!(header(h, "content-type"), RAW_TYPE);
    let length = dag.block(&cid).len();
    assert_eq!(header(h, "content-length"), length.to_string());
    assert_eq!(
        header(h, "content-disposition"),
        format!("attachment; filename=\"{cid}.bin\"")
    );
    assert_eq!(header(h, "x-content-type-options"), "nosniff");
    assert_eq!(
        header(h, "cache-control"),
        "public, max-age=29030400, immutable"
    );
    assert_eq!(header(h, "etag"), format!("\"{cid}.raw\""));
    assert_eq!(header(h, "x-ipfs-path"), format!("/ipfs/{cid}"));
    assert_eq!(header(h, "x-ipfs-roots"), cid.to_string());

    let path = format!("/ipfs/{cid}?format=raw&filename=foobar.bin");
    let response = gw.get(&path, &[]).await;
    assert_eq!(
        header(response.headers(), "content-disposition"),
        "attachment; filename=\"foobar.bin\""
    );
}

#[tokio::test]
async fn format_param_beats_accept() {
    let dag = Dag::new();
    let gw = Gateway::start(dag.store.clone()).await;
    let path = format!("/ipfs/{}?format=raw", dag.root);
    let response = gw.get(&path, &[("accept", CAR_TYPE)]).await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(header(response.headers(), "content-type"), RAW_TYPE);
    assert_eq!(response.bytes().await.unwrap(), dag.block(&dag.root));

    let path = format!("/ipfs/{}?format=car", dag.root);
    let (headers, car) = gw.car(&path, &[("accept", RAW_TYPE)]).await;
    assert!(header(&headers, "content-type").starts_with(CAR_TYPE));
    assert_eq!(car.roots, vec![dag.root]);
}

#[tokio::test]
async fn head_of_a_present_block_is_200_without_body() {
    let dag = Dag::new();
    let gw = Gateway::start(dag.store.clone()).await;
    let response = gw
        .head(&format!("/ipfs/{}?format=raw", dag.root), &[])
        .await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(header(response.headers(), "content-type"), RAW_TYPE);
    let length = dag.block(&dag.root).len().to_string();
    assert_eq!(header(response.headers(), "content-length"), length);
    assert_eq!(
        header(response.headers(), "etag"),
        format!("\"{}.raw\"", dag.root)
    );
    assert!(response.bytes().await.unwrap().is_empty());

    let response = gw
        .head(&format!("/ipfs/{}?format=car", dag.root), &[])
        .await;
    assert_eq!(response.status(), StatusCode::OK);
    // A CAR's length is not known before the walk: no `Content-Length: 0`.
    assert!(response.headers().get("content-length").is_none());
    assert!(header(response.headers(), "content-type").starts_with(CAR_TYPE));
    assert!(response.bytes().await.unwrap().is_empty());
}

#[tokio::test]
async fn missing_block_is_404() {
    let dag = Dag::new();
    let gw = Gateway::start(dag.store.clone()).await;
    let absent = prolly_tree::cid_of(b"not stored");
    for format in ["raw", "car"] {
        let path = format!("/ipfs/{absent}?format={format}");
        assert_eq!(gw.get(&path, &[]).await.status(), StatusCode::NOT_FOUND);
        assert_eq!(gw.head(&path, &[]).await.status(), StatusCode::NOT_FOUND);
    }
}

#[tokio::test]
async fn bad_requests_are_400() {
    let dag = Dag::new();
    let gw = Gateway::start(dag.store.clone()).await;
    let root = dag.root;
    let bad = [
        // A malformed CID.
        "/ipfs/bafynotacid?format=raw".to_string(),
        "/ipfs/%00?format=raw".to_string(),
        // A raw block with a sub-path.
        format!("/ipfs/{root}/b?format=raw"),
        // No trustless format asked for.
        format!("/ipfs/{root}"),
        format!("/ipfs/{root}?format=dag-json"),
        format!("/ipfs/{root}?format=car&car-version=2"),
        format!("/ipfs/{root}?format=car&car-order=bfs"),
        format!("/ipfs/{root}?format=car&car-dups=x"),
        format!("/ipfs/{root}?format=car&dag-scope=everything"),
    ];
    for path in &bad {
        let response = gw.get(path, &[]).await;
        assert_eq!(response.status(), StatusCode::BAD_REQUEST, "{path}");
    }
    let path = format!("/ipfs/{root}");
    for accept in ["*/*", "text/html", "application/vnd.ipld.car; version=2"] {
        let response = gw.get(&path, &[("accept", accept)]).await;
        assert_eq!(response.status(), StatusCode::BAD_REQUEST, "{accept}");
    }
    let raw_accept = [("accept", RAW_TYPE)];
    let response = gw.get(&format!("{path}/b"), &raw_accept).await;
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn empty_identity_cid() {
    let gw = Gateway::start(Arc::new(SharedStore::default())).await;
    let path = format!("/ipfs/{EMPTY_IDENTITY}");
    let response = gw.get(&format!("{path}?format=raw"), &[]).await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(header(response.headers(), "content-length"), "0");
    assert!(response.bytes().await.unwrap().is_empty());
    let response = gw.head(&path, &[("accept", RAW_TYPE)]).await;
    assert_eq!(response.status(), StatusCode::OK);

    let identity: Cid = EMPTY_IDENTITY.parse().unwrap();
    for dups in ["y", "n"] {
        let accept = format!("{CAR_TYPE}; version=1; order=dfs; dups={dups}");
        let (_, car) = gw.car(&path, &[("accept", &accept)]).await;
        assert_eq!(car.roots, vec![identity]);
        assert!(car.blocks.is_empty());
    }
}

#[tokio::test]
async fn car_headers() {
    let dag = Dag::new();
    let gw = Gateway::start(dag.store.clone()).await;
    let cid = dag.root;
    let (h, car) = gw.car(&format!("/ipfs/{cid}?format=car"), &[]).await;
    assert_eq!(car.roots, vec![cid]);
    assert_eq!(
        header(&h, "content-type"),
        "application/vnd.ipld.car; version=1; order=dfs; dups=n"
    );
    assert_eq!(
        header(&h, "content-disposition"),
        format!("attachment; filename=\"{cid}.car\"")
    );
    assert_eq!(header(&h, "x-content-type-options"), "nosniff");
    assert_eq!(header(&h, "accept-ranges"), "none");
    assert_eq!(
        header(&h, "cache-control"),
        "public, max-age=29030400, immutable"
    );
    let etag = header(&h, "etag");
    assert!(etag.starts_with(&format!("W/\"{cid}.car.")), "{etag}");
    assert_eq!(header(&h, "x-ipfs-path"), format!("/ipfs/{cid}"));
    assert_eq!(header(&h, "x-ipfs-roots"), cid.to_string());
    assert!(h.get("content-location").is_none());

    // Another scope is another response, so another Etag.
    let (other, _) = gw
        .car(&format!("/ipfs/{cid}?format=car&dag-scope=block"), &[])
        .await;
    assert_ne!(header(&other, "etag"), etag);

    let (h, _) = gw
        .car(&format!("/ipfs/{cid}"), &[("accept", CAR_TYPE)])
        .await;
    let location = header(&h, "content-location");
    assert!(location.starts_with(&format!("/ipfs/{cid}?format=car")));
}

#[tokio::test]
async fn car_dag_scope_block_and_entity_are_the_root_block() {
    let dag = Dag::new();
    let gw = Gateway::start(dag.store.clone()).await;
    for scope in ["block", "entity"] {
        let path = format!("/ipfs/{}?format=car&dag-scope={scope}", dag.root);
        let (_, car) = gw.car(&path, &[]).await;
        assert_eq!(car.cids(), vec![dag.root], "{scope}");
        assert_eq!(car.blocks[0].1, dag.block(&dag.root));
    }
    let path = format!("/ipfs/{}?format=car&dag-scope=all", dag.raw);
    let (_, car) = gw.car(&path, &[]).await;
    assert_eq!(car.cids(), vec![dag.raw]);
}

#[tokio::test]
async fn car_dag_scope_all_is_depth_first_in_encoded_order() {
    let dag = Dag::new();
    let gw = Gateway::start(dag.store.clone()).await;
    // "b" before "c" before "aa"; in mid "raw" before "leaf"; the identity link is not a block.
    let expected = vec![dag.root, dag.l2, dag.l1, dag.mid, dag.raw];
    for query in ["format=car", "format=car&dag-scope=all&car-dups=n"] {
        let (_, car) = gw.car(&format!("/ipfs/{}?{query}", dag.root), &[]).await;
        assert_eq!(car.cids(), expected, "{query}");
        assert!(!car.cids().contains(&dag.identity));
    }
}

#[tokio::test]
async fn car_dups_y_repeats_every_meeting() {
    let dag = Dag::new();
    let gw = Gateway::start(dag.store.clone()).await;
    let (root, mid, l1, l2, raw) = (dag.root, dag.mid, dag.l1, dag.l2, dag.raw);
    let expected = vec![root, l2, l1, mid, raw, l1, mid, raw, l1];
    let accept = format!("{CAR_TYPE}; version=1; order=dfs; dups=y");
    let path = format!("/ipfs/{root}");
    let (h, car) = gw.car(&path, &[("accept", &accept)]).await;
    assert!(header(&h, "content-type").contains("dups=y"));
    assert!(header(&h, "content-type").contains("order=dfs"));
    assert_eq!(car.cids(), expected);

    // The query's car-dups beats Accept's dups, both ways.
    let accept_n = format!("{CAR_TYPE}; version=1; order=unk; dups=n");
    let query = format!("{path}?format=car&car-dups=y&car-order=dfs");
    let (h, car) = gw.car(&query, &[("accept", &accept_n)]).await;
    assert!(header(&h, "content-type").contains("dups=y"));
    assert_eq!(car.cids(), expected);
    let (h, car) = gw
        .car(&format!("{path}?car-dups=n"), &[("accept", &accept)])
        .await;
    assert!(header(&h, "content-type").contains("dups=n"));
    assert_eq!(car.cids(), vec![root, l2, l1, mid, raw]);
}

#[tokio::test]
async fn identity_links_are_followed_but_never_written() {
    let dag = Dag::new();
    // A DAG-CBOR block inlined in its CID, linking to l2.
    let inline = prolly_tree::RawValue::from_ipld(&map(&[("x", Ipld::Link(dag.l2))])).unwrap();
    let wrapped = multihash::Multihash::wrap(0x00, inline.as_bytes()).unwrap();
    let identity = Cid::new_v1(DAG_CBOR, wrapped);
    let root = dag_cbor(&dag.store, map(&[("i", Ipld::Link(identity))]));
    let gw = Gateway::start(dag.store.clone()).await;
    for dups in ["y", "n"] {
        let path = format!("/ipfs/{root}?format=car&car-dups={dups}");
        assert_eq!(gw.car(&path, &[]).await.1.cids(), vec![root, dag.l2]);
    }
    let path = format!("/ipfs/{identity}?format=car");
    let (_, car) = gw.car(&path, &[]).await;
    assert_eq!(car.roots, vec![identity]);
    assert_eq!(car.cids(), vec![dag.l2]);
}

#[tokio::test]
async fn car_path_carries_the_blocks_crossed() {
    let dag = Dag::new();
    let gw = Gateway::start(dag.store.clone()).await;
    let path = format!("/ipfs/{}/c/2/leaf?format=car", dag.root);
    let (h, car) = gw.car(&path, &[]).await;
    assert_eq!(car.roots, vec![dag.root]);
    assert_eq!(car.cids(), vec![dag.root, dag.mid, dag.l1]);
    let roots = format!("{},{},{}", dag.root, dag.mid, dag.l1);
    assert_eq!(header(&h, "x-ipfs-roots"), roots);
    let path = format!("/ipfs/{}/aa?format=car&dag-scope=block", dag.root);
    assert_eq!(gw.car(&path, &[]).await.1.cids(), vec![dag.root, dag.mid]);
    let path = format!("/ipfs/{}/nothing?format=car", dag.root);
    assert_eq!(gw.get(&path, &[]).await.status(), StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn only_if_cached() {
    let dag = Dag::new();
    let gw = Gateway::start(dag.store.clone()).await;
    let cached = [("cache-control", "only-if-cached")];
    let absent = prolly_tree::cid_of(b"not stored");
    for format in ["raw", "car"] {
        let path = format!("/ipfs/{absent}?format={format}");
        assert_eq!(
            gw.head(&path, &cached).await.status(),
            StatusCode::PRECONDITION_FAILED
        );
        assert_eq!(
            gw.get(&path, &cached).await.status(),
            StatusCode::PRECONDITION_FAILED
        );
        let path = format!("/ipfs/{}?format={format}", dag.root);
        assert_eq!(gw.head(&path, &cached).await.status(), StatusCode::OK);
        assert_eq!(gw.get(&path, &cached).await.status(), StatusCode::OK);
    }
}

#[tokio::test]
async fn if_none_match_with_the_etag_is_304() {
    let dag = Dag::new();
    let gw = Gateway::start(dag.store.clone()).await;
    for format in ["raw", "car"] {
        let path = format!("/ipfs/{}?format={format}", dag.root);
        let first = gw.get(&path, &[]).await;
        let etag = header(first.headers(), "etag").to_owned();
        let again = gw.get(&path, &[("if-none-match", &etag)]).await;
        assert_eq!(again.status(), StatusCode::NOT_MODIFIED, "{format}");
        assert_eq!(header(again.headers(), "etag"), etag);
        assert!(again.bytes().await.unwrap().is_empty());
        let other = gw.get(&path, &[("if-none-match", "\"other\"")]).await;
        assert_eq!(other.status(), StatusCode::OK);
    }
}

#[tokio::test]
async fn a_missing_child_cuts_the_car_short() {
    let dag = Dag::new();
    dag.store.remove(&dag.l1);
    let gw = Gateway::start(dag.store.clone()).await;
    let response = gw.get(&format!("/ipfs/{}?format=car", dag.root), &[]).await;
    // The root is here, so the answer had started: 200, then a body that fails.
    assert_eq!(response.status(), StatusCode::OK);
    let (body, failed) = read_body(response).await;
    assert!(failed, "a truncated CAR must not end like a complete one");
    // What arrived before the cut is the walk up to the missing block.
    let car = Car::parse(&body);
    assert_eq!(car.cids(), vec![dag.root, dag.l2]);
}

/// Every block reachable from `root`, depth-first, links in DAG-CBOR key order, each once: an
/// independent walk over decoded IPLD (map keys sorted shorter first, as they were encoded).
fn reference_walk(store: &SharedStore, root: Cid) -> Vec<Cid> {
    fn links(value: &Ipld, out: &mut Vec<Cid>) {
        match value {
            Ipld::Link(c) => out.push(*c),
            Ipld::List(items) => items.iter().for_each(|i| links(i, out)),
            Ipld::Map(map) => {
                let mut entries: Vec<_> = map.iter().collect();
                entries.sort_by(|(a, _), (b, _)| a.len().cmp(&b.len()).then(a.cmp(b)));
                entries.into_iter().for_each(|(_, v)| links(v, out));
            }
            _ => {}
        }
    }
    fn visit(store: &SharedStore, cid: Cid, seen: &mut HashSet<Cid>, order: &mut Vec<Cid>) {
        if !seen.insert(cid) {
            return;
        }
        order.push(cid);
        let bytes = store.get(&cid).unwrap().expect("a reachable block");
        let mut children = Vec::new();
        if cid.codec() == DAG_CBOR {
            links(&prolly_tree::decode_ipld(&bytes).unwrap(), &mut children);
        }
        for child in children {
            visit(store, child, seen, order);
        }
    }
    let mut order = Vec::new();
    visit(store, root, &mut HashSet::new(), &mut order);
    order
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_large_database_streams_every_block_once() {
    let memory = MemoryBlockstore::default();
    let mut db = prolly_db::Database::create(memory, prolly_tree::Config::default()).unwrap();
    let mut batch = prolly_db::WriteBatch::new();
    batch.create_collection("docs");
    for i in 0..20_000 {
        let doc = map(&[
            ("_id", Ipld::Integer(i)),
            ("name", Ipld::String(format!("document number {i}"))),
        ]);
        batch.insert("docs", doc);
    }
    db.apply(&batch).unwrap().into_result().unwrap();
    let root = db.root();
    let store = Arc::new(SharedStore::default());
    db.store().copy_to(&*store).unwrap();
    let expected = tokio::task::block_in_place(|| reference_walk(&store, root));
    assert!(expected.len() > 100, "only {} blocks", expected.len());
    assert!(expected.len() <= store.len());

    let gw = Gateway::start(store.clone()).await;
    let (_, car) = gw
        .car(&format!("/ipfs/{root}?format=car&dag-scope=all"), &[])
        .await;
    assert_eq!(car.roots, vec![root]);
    assert_eq!(car.cids(), expected);
    let stats = db.tree().stats().unwrap().into_result().unwrap();
    // The root object, the catalog block it links, then every node of the tree.
    assert_eq!(car.blocks.len() as u64, stats.nodes + 2);
}

/// A root listing `n` raw blocks of 1 MiB each.
fn wide_dag(n: usize) -> (Arc<SharedStore>, Cid) {
    let store = Arc::new(SharedStore::default());
    let links = (0..n)
        .map(|i| {
            let bytes = vec![i as u8; 1 << 20];
            let cid = Cid::new_v1(RAW, Code::Blake2b256.digest(&bytes));
            store.put_keyed(&cid, &bytes).unwrap();
            Ipld::Link(cid)
        })
        .collect();
    let root = dag_cbor(&store, Ipld::List(links));
    (store, root)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_walk_waits_for_the_reader_and_gives_up_on_a_stalled_one() {
    let (store, root) = wide_dag(64);
    let config = ServerConfig {
        request_timeout: Duration::from_millis(300),
        ..ServerConfig::default()
    };
    let gw = Gateway::start_with(store.clone(), config).await;
    let mut response = gw.get(&format!("/ipfs/{root}?format=car"), &[]).await;
    assert_eq!(response.status(), StatusCode::OK);
    assert!(response.chunk().await.unwrap().is_some());
    // Not reading: the walk stops once the channel and the socket buffers are full, far short
    // of the 64 MiB, then gives up on this reader.
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let reads = store.reads();
    assert!(
        reads < 40,
        "{reads} blocks read for a reader that reads nothing"
    );
    let (_, failed) = read_body(response).await;
    assert!(failed, "a given-up CAR must not look complete");
    assert_eq!(store.reads(), reads);
}

#[tokio::test]
async fn hostile_requests_and_blocks_do_not_bring_it_down() {
    let dag = Dag::new();
    // A block whose CID says DAG-CBOR but whose bytes are not CBOR.
    let garbage = vec![0xff, 0x00, 0x9f];
    let corrupt = Cid::new_v1(DAG_CBOR, Code::Blake2b256.digest(&garbage));
    dag.store.put_keyed(&corrupt, &garbage).unwrap();
    let gw = Gateway::start(dag.store.clone()).await;

    let raw = gw.get(&format!("/ipfs/{corrupt}?format=raw"), &[]).await;
    assert_eq!(raw.status(), StatusCode::OK);
    assert_eq!(raw.bytes().await.unwrap(), garbage);
    // Its links cannot be read: the CAR is cut after it, and the transfer fails.
    let car = gw.get(&format!("/ipfs/{corrupt}?format=car"), &[]).await;
    assert_eq!(car.status(), StatusCode::OK);
    let (body, failed) = read_body(car).await;
    assert!(failed);
    assert_eq!(Car::parse(&body).cids(), vec![corrupt]);
    let path = format!("/ipfs/{corrupt}/x?format=car");
    assert_eq!(gw.get(&path, &[]).await.status(), StatusCode::NOT_FOUND);

    let root = dag.root;
    let long = "a/".repeat(2000);
    let paths = [
        "/ipfs/".to_string(),
        "/ipfs//x?format=car".to_string(),
        "/ipfs/%ff%fe?format=raw".to_string(),
        format!("/ipfs/{root}/{long}?format=car"),
        format!("/ipfs/{root}/c/99999999999999999999999?format=car"),
        format!("/ipfs/{root}/c/-1?format=car"),
        format!("/ipfs/{root}?format=raw&filename=%22%0d%0a%00%E2%9C%93.bin"),
        format!("/ipfs/{root}?format=car&entity-bytes=0:*&filename=%ff"),
        format!("/ipfs/{root}?%%%&&==&format=car&format=raw"),
    ];
    let headers = [
        ("accept", ";;;,,,q=,application/vnd.ipld.car;q=nan;version="),
        ("if-none-match", ",,,W/,*x"),
        ("cache-control", "only-if-cached=,,"),
    ];
    for path in &paths {
        let response = gw.get(path, &headers).await;
        assert_ne!(
            response.status(),
            StatusCode::INTERNAL_SERVER_ERROR,
            "{path}"
        );
        let _ = response.bytes().await;
    }
    let response = gw.get(&format!("/ipfs/{root}?format=raw"), &[]).await;
    assert_eq!(response.status(), StatusCode::OK);
}
