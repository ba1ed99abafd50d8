//! Profiling aid for the database import: one batch of flights, with or without the indexes.
//!
//! `cargo run --release -p prolly_bench --example import -- [indexes]`

use std::time::Instant;

use fvm_ipld_blockstore::MemoryBlockstore;
use prolly_db::testing::{flight_indexes, nyc_flights, synthetic_flights};
use prolly_db::{Database, WriteBatch};
use prolly_tree::Config;

fn main() {
    let with_indexes = std::env::args().nth(1).as_deref() == Some("indexes");
    let docs = nyc_flights().unwrap_or_else(|| synthetic_flights(336_776));
    let store = MemoryBlockstore::default();
    let mut db = Database::create(&store, Config::default()).unwrap();
    let mut batch = WriteBatch::new();
    batch.create_collection("flights");
    if with_indexes {
        for def in flight_indexes() {
            batch.create_index("flights", def);
        }
    }
    for doc in docs {
        batch.insert("flights", doc);
    }
    let started = Instant::now();
    db.apply(&batch).unwrap().expect_complete();
    eprintln!("import: {:?}", started.elapsed());
    if std::env::var("REBUILD").is_ok() {
        rebuild_experiment(&db);
    }
}

#[allow(dead_code)]
fn rebuild_experiment(db: &Database<&MemoryBlockstore>) {
    use std::ops::Bound;
    let all = db
        .tree()
        .range(
            Bound::Unbounded,
            Bound::Unbounded,
            prolly_tree::Direction::Forward,
        )
        .unwrap()
        .expect_complete();
    let n = all.len();
    let started = Instant::now();
    let store = MemoryBlockstore::default();
    let tree = prolly_tree::Tree::build_raw(&store, Config::default(), all.clone()).unwrap();
    eprintln!("build_raw of {n}: {:?}", started.elapsed());
    let started = Instant::now();
    let store2 = MemoryBlockstore::default();
    let mut empty = prolly_tree::Tree::empty(&store2, Config::default()).unwrap();
    let batch: prolly_tree::Batch = all.into_iter().map(|(k, v)| (k, Some(v))).collect();
    eprintln!("batch from sorted: {:?}", started.elapsed());
    empty.apply(&batch).unwrap().expect_complete();
    eprintln!("apply into empty: {:?}", started.elapsed());
    assert_eq!(empty.cid(), tree.cid());
}
