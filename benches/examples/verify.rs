//! Profiling aid: verifies one proof many times (`perf record`).
//!
//! `cargo run --release -p prolly_bench --example verify -- [range|covering|member] [given|claim|decoded]`
//!
//! `given` (the default) verifies the result the prover returned (`verify`); `claim` reads it
//! from the proof (`verify_claim`); `decoded` decodes it from the envelope, then verifies it (what
//! prolly_client did before `verify_claim`); `floor` does what issue 14's goal allows instead:
//! hashes every witness block twice and decodes it into generic IPLD, as proof-bench's
//! denominator does.

use fvm_ipld_blockstore::MemoryBlockstore;
use ipld_core::ipld::Ipld;
use prolly_db::{Database, Query, QueryResult, WriteBatch};
use prolly_proofs::{Envelope, prove, verify, verify_claim};
use prolly_tree::Config;

fn main() {
    let mode = std::env::args().nth(1).unwrap_or_else(|| "range".into());
    let how = std::env::args().nth(2).unwrap_or_else(|| "given".into());
    let store = MemoryBlockstore::default();
    let mut db = Database::create(&store, Config::default()).unwrap();
    let mut batch = WriteBatch::from_json(
        r#"{"ops": [{"op": "create_collection", "collection": "f"},
        {"op": "create_index", "collection": "f", "index": {"name": "o", "fields": ["origin", "date"], "include": ["delay"]}}]}"#,
    )
    .unwrap();
    for i in 0..100_000i128 {
        let doc = [
            ("_id".to_string(), Ipld::Integer(i)),
            (
                "date".to_string(),
                Ipld::String(format!("2001-01-{:02} {:06}", i % 28, i)),
            ),
            ("delay".to_string(), Ipld::Integer(i % 90)),
            ("origin".to_string(), Ipld::String(format!("A{}", i % 50))),
        ];
        batch.insert("f", Ipld::Map(doc.into()));
    }
    db.apply(&batch).unwrap().expect_complete();
    let json = match mode.as_str() {
        "covering" => {
            r#"{"collection": "f", "filter": {"origin": "A7"}, "sort": [["date", "asc"]], "limit": 32, "projection": ["date", "delay"]}"#
        }
        "member" => r#"{"collection": "f", "filter": {"_id": 4242}}"#,
        _ => {
            r#"{"collection": "f", "filter": {"_id": {"$gte": 5000, "$lt": 6000}}, "limit": 1000}"#
        }
    };
    let query = Query::from_json(json).unwrap();
    let proof = prove(&store, db.root(), &query).unwrap().expect_complete();
    let started = std::time::Instant::now();
    let rounds: u32 = std::env::var("ROUNDS")
        .ok()
        .and_then(|r| r.parse().ok())
        .unwrap_or(2000);
    let blocks: Vec<Vec<u8>> = prolly_proofs::car::read_strict(&proof.bytes)
        .unwrap()
        .blocks
        .iter()
        .map(|(_, b)| b.to_vec())
        .collect();
    for _ in 0..rounds {
        match how.as_str() {
            "floor" => verify_once_floor(&blocks),
            _ => verify_once(&how, &db.root(), &query, &proof.result, &proof.bytes),
        }
    }
    eprintln!(
        "{mode} ({how}): {:?} per verify, {} proof bytes",
        started.elapsed() / rounds,
        proof.bytes.len()
    );
}

/// What the goal allows one verification: 2 × blake2b + decoding, over the same witness.
#[inline(never)]
fn verify_once_floor(blocks: &[Vec<u8>]) {
    use multihash_codetable::{Code, MultihashDigest};
    for _ in 0..2 {
        for block in blocks {
            std::hint::black_box(Code::Blake2b256.digest(block));
        }
    }
    for block in blocks {
        std::hint::black_box(fvm_ipld_encoding::from_slice::<Ipld>(block).unwrap());
    }
}

/// One verification, the way `how` names (`valgrind --toggle-collect='*verify_once*'`).
#[inline(never)]
fn verify_once(how: &str, root: &cid::Cid, query: &Query, result: &QueryResult, proof: &[u8]) {
    match how {
        "claim" => {
            std::hint::black_box(verify_claim(root, query, proof).unwrap());
        }
        "decoded" => {
            let envelope = Envelope::from_proof(proof).unwrap();
            let result = QueryResult::from_cbor(&envelope.result).unwrap();
            verify(root, query, &result, proof).unwrap();
        }
        _ => verify(root, query, result, proof).unwrap(),
    }
}
