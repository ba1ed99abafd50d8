//! Real data: the 336,776 flights of nycflights13 with three indexes, checked against the naive
//! evaluator. Skips (and says so) when the data set is absent.

use std::time::Instant;

use fvm_ipld_blockstore::MemoryBlockstore;
use ipld_core::ipld::Ipld;
use prolly_db::testing::{check_indexes, flight_indexes, naive_query, nyc_flights};
use prolly_db::{Database, Query, WriteBatch};
use prolly_tree::Config;

#[test]
fn flights_queries_agree_with_the_naive_evaluator() {
    let Some(flights) = nyc_flights() else {
        eprintln!(
            "SKIP flights_queries_agree_with_the_naive_evaluator: no nycflights13 under PROLLYDB_DATA or ../shared/data"
        );
        return;
    };
    assert_eq!(flights.len(), 336_776);
    let nulls = flights
        .iter()
        .filter(|d| matches!(d, Ipld::Map(m) if m.values().any(|v| *v == Ipld::Null)))
        .count();
    assert_eq!(nulls, 9_430, "rows with an NA field");

    let started = Instant::now();
    let mut db = Database::create(MemoryBlockstore::default(), Config::default()).unwrap();
    let mut batch = WriteBatch::new();
    batch.create_collection("flights");
    for def in flight_indexes() {
        batch.create_index("flights", def);
    }
    for doc in &flights {
        batch.insert("flights", doc.clone());
    }
    db.apply(&batch).unwrap().expect_complete();
    eprintln!("imported in {:?} (debug build)", started.elapsed());
    check_indexes(&db, "flights").unwrap();
    eprintln!("indexes checked at {:?}", started.elapsed());

    let queries = [
        r#"{"collection": "flights", "filter": {"carrier": "UA", "month": 3, "day": 15}, "limit": 1000}"#,
        r#"{"collection": "flights", "filter": {"carrier": "AA", "month": {"$gte": 11}}, "sort": [["month", "asc"], ["day", "asc"]], "limit": 50}"#,
        r#"{"collection": "flights", "filter": {"origin": "JFK", "dest": {"$in": ["LAX", "SFO"]}}, "sort": [["dest", "desc"]], "limit": 40, "skip": 7}"#,
        r#"{"collection": "flights", "filter": {"dep_delay": {"$gt": 600}}, "limit": 100}"#,
        r#"{"collection": "flights", "filter": {"dep_delay": null}, "limit": 20}"#,
        r#"{"collection": "flights", "filter": {"dep_delay": {"$gte": -5, "$lte": -5}, "origin": "LGA"}, "limit": 30, "projection": ["dep_delay", "origin"]}"#,
        r#"{"collection": "flights", "filter": {"carrier": "HA"}, "sort": [["dep_time", "desc"]], "limit": 32, "budget": 1000}"#,
        r#"{"collection": "flights", "filter": {"$or": [{"dest": "ANC"}, {"dest": "LEX"}]}, "limit": 10, "budget": 400000}"#,
    ];
    let all = prolly_db::testing::all_documents(&db, "flights");
    eprintln!("documents read at {:?}", started.elapsed());
    for json in queries {
        let query = Query::from_json(json).unwrap();
        let plan = db.explain(&query).unwrap().expect_complete();
        let expected = naive_query(&all, &query, &plan.sort);
        let limit = query.effective_limit() as usize;
        let result = db.query(&query).unwrap().expect_complete();
        assert_eq!(
            result.docs,
            expected[..expected.len().min(limit)],
            "{json}: {}",
            plan.describe()
        );
        if plan.full_scan {
            eprintln!(
                "{} of {}: {}",
                result.docs.len(),
                expected.len(),
                plan.describe()
            );
            continue;
        }
        let mut count = query.clone();
        count.count = true;
        count.skip = 0;
        count.budget = Some(1_000_000);
        let counted = db.query(&count).unwrap().expect_complete().count.unwrap();
        let total = naive_query(&all, &count, &[]).len() as u64;
        assert_eq!(counted, total, "{json}");
        eprintln!(
            "{} of {total}: {} ({:?})",
            result.docs.len(),
            plan.describe(),
            started.elapsed()
        );
    }
}
