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
