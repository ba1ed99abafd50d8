//! Verifying one covering-index proof many times, for a profiler, with the time of blake2b over
//! the same witness blocks: `cargo run --release -p prolly_proofs --example verify_profile`.
use std::time::Instant;

use fvm_ipld_blockstore::MemoryBlockstore;
use multihash_codetable::{Code, MultihashDigest};
use prolly_db::testing::synthetic_flights;
use prolly_db::{Database, Query, WriteBatch};
use prolly_proofs::{car, prove, verify};
use prolly_tree::Config;

fn main() {
    let store = MemoryBlockstore::default();
    let mut db = Database::create(&store, Config::default()).unwrap();
    let batch = WriteBatch::from_json(
        r#"{"ops": [{"op": "create_collection", "collection": "flights"},
        {"op": "create_index", "collection": "flights", "index": {"name": "by_origin_time", "fields": ["origin", "sched_dep_time"], "include": ["dep_delay"]}}]}"#,
    )
    .unwrap();
    db.apply(&batch).unwrap().into_result().unwrap();
    let mut batch = WriteBatch::new();
    for doc in synthetic_flights(100_000) {
        batch.insert("flights", doc);
    }
    db.apply(&batch).unwrap().into_result().unwrap();
    let query = Query::from_json(r#"{"collection": "flights", "filter": {"origin": "JFK"}, "sort": [["sched_dep_time", "asc"]], "limit": 32, "projection": ["sched_dep_time", "dep_delay"]}"#).unwrap();
    let root = db.root();
    let proof = prove(&store, root, &query).unwrap().into_result().unwrap();
    let blocks: Vec<Vec<u8>> = car::read_strict(&proof.bytes)
        .unwrap()
        .blocks
        .iter()
        .map(|(_, b)| b.to_vec())
        .collect();
    let rounds = 20_000;
    let started = Instant::now();
    for _ in 0..rounds {
        verify(&root, &query, &proof.result, &proof.bytes).unwrap();
    }
    let verify_ns = started.elapsed().as_nanos() as f64 / rounds as f64;
    let started = Instant::now();
    for _ in 0..rounds {
        for block in &blocks {
            std::hint::black_box(Code::Blake2b256.digest(block));
        }
    }
    let hash_ns = started.elapsed().as_nanos() as f64 / rounds as f64;
    println!(
        "{} blocks, {} bytes: verify {verify_ns:.0} ns, blake2b {hash_ns:.0} ns, {:.1}x",
        blocks.len(),
        proof.bytes.len(),
        verify_ns / hash_ns
    );
}
