//! A missing block is an outcome, not an error: over a cache that lacks blocks the executor
//! reports every missing CID it can see in one pass; a cache that gains them each round completes
//! in about one round per tree level, and gives the same result as the full store.

use std::collections::BTreeMap;

use cid::Cid;
use fvm_ipld_blockstore::{Blockstore, MemoryBlockstore};
use ipld_core::ipld::Ipld;
use prolly_db::{Database, IndexDef, Query, Result, WriteBatch};
use prolly_tree::{Config, Outcome};

const DOCS: i128 = 20_000;

fn source() -> (MemoryBlockstore, Cid, u32) {
    let store = MemoryBlockstore::default();
    let mut db = Database::create(&store, Config::default()).unwrap();
    let mut batch = WriteBatch::new();
    batch.create_collection("events");
    batch.create_index(
        "events",
        IndexDef::from_ipld(
            &prolly_db::parse_json(r#"{"name": "by_group_time", "fields": ["group", "time"]}"#)
                .unwrap(),
        )
        .unwrap(),
    );
    for i in 0..DOCS {
        let doc = BTreeMap::from([
            ("_id".to_string(), Ipld::Integer(i)),
            ("group".to_string(), Ipld::String(format!("g{}", i % 10))),
            ("time".to_string(), Ipld::Integer((i * 7919) % DOCS)),
            (
                "text".to_string(),
                Ipld::String(format!("event number {i}")),
            ),
        ]);
        batch.insert("events", Ipld::Map(doc));
    }
    db.apply(&batch).unwrap().expect_complete();
    let depth = db.tree().stats().unwrap().expect_complete().depth;
    let root = db.root();
    drop(db);
    (store, root, depth)
}

/// Runs `read` over a cache that starts with `warm` and gains the reported blocks each round.
/// Returns the value and the number of fetch rounds.
fn rounds<T>(
    source: &MemoryBlockstore,
    warm: &MemoryBlockstore,
    root: Cid,
    read: impl Fn(&Database<&MemoryBlockstore>) -> Result<Outcome<T>>,
) -> (T, usize) {
    let mut fetches = 0;
    loop {
        let missing = match Database::open_unchecked(warm, root).unwrap() {
            Outcome::Missing(m) => m,
            Outcome::Complete(db) => match read(&db).unwrap() {
                Outcome::Complete(value) => return (value, fetches),
                Outcome::Missing(m) => m,
            },
        };
        assert!(!missing.is_empty());
        for cid in missing {
            assert!(
                !warm.has(&cid).unwrap(),
                "reported a block the cache already has"
            );
            warm.put_keyed(&cid, &source.get(&cid).unwrap().expect("in the source"))
                .unwrap();
        }
        fetches += 1;
        assert!(fetches < 100, "does not converge");
    }
}

fn query(json: &str) -> Query {
    Query::from_json(json).unwrap()
}

#[test]
fn cold_reads_complete_in_about_one_round_per_level() {
    let (source, root, depth) = source();
    let depth = depth as usize;
    let full = Database::open(&source, root).unwrap().expect_complete();
    eprintln!("depth {depth}");

    let queries = [
        // A primary-key range: documents inline in the leaves.
        (
            "range",
            query(
                r#"{"collection": "events", "filter": {"_id": {"$gte": 5000, "$lt": 5200}}, "limit": 200}"#,
            ),
            depth + 1,
        ),
        // An index range with a covering projection: no document fetch.
        (
            "covering",
            query(
                r#"{"collection": "events", "filter": {"group": "g3", "time": {"$gte": 100}}, "projection": ["time"], "limit": 100}"#,
            ),
            depth + 1,
        ),
        // An index query that fetches its documents.
        (
            "index+docs",
            query(
                r#"{"collection": "events", "filter": {"group": "g7"}, "sort": [["time", "asc"]], "limit": 32}"#,
            ),
            2 * depth + 2,
        ),
        // An exact count through the per-child counts.
        (
            "count",
            query(
                r#"{"collection": "events", "filter": {"group": "g2", "time": {"$lt": 10000}}, "count": true}"#,
            ),
            depth + 1,
        ),
    ];
    for (name, q, bound) in queries {
        let expected = full.query(&q).unwrap().expect_complete();
        assert!(
            !expected.docs.is_empty() || expected.count.unwrap_or(0) > 0,
            "{name}: empty"
        );

        // Cold: the catalog comes before the plan is known, but it is one block beside the root
        // (format 2), not a walk down the tree: the root object's round, then its own.
        let cold = MemoryBlockstore::default();
        let (result, cold_rounds) = rounds(&source, &cold, root, |db| db.query(&q));
        assert_eq!(result, expected, "{name}: same result as the full store");

        // With the catalog cached (as a client following a database has it).
        let warm = MemoryBlockstore::default();
        rounds(&source, &warm, root, |db| db.collection("events"));
        let (result, warm_rounds) = rounds(&source, &warm, root, |db| db.query(&q));
        assert_eq!(result, expected);
        eprintln!(
            "{name}: {cold_rounds} rounds cold, {warm_rounds} with the catalog cached (bound {bound})"
        );
        assert!(
            warm_rounds <= bound,
            "{name}: {warm_rounds} rounds > {bound}"
        );
        assert!(
            cold_rounds <= warm_rounds + 2,
            "{name}: {cold_rounds} cold rounds, {warm_rounds} warm"
        );
    }
}
