//! Random documents, random indexes and random queries: the executor gives exactly what the naive
//! evaluator gives (scan everything, filter, sort, skip, limit), and following cursors returns
//! every match exactly once, also when a small budget cuts pages short.

use fvm_ipld_blockstore::MemoryBlockstore;
use ipld_core::ipld::Ipld;
use prolly_db::testing::{all_documents, check_indexes, document, index_def, naive_query, query};
use prolly_db::{Database, Error, IndexDef, Query, Refusal, Work, WriteBatch};
use prolly_tree::Config;
use proptest::prelude::*;

fn database(
    docs: &[Ipld],
    indexes: &[IndexDef],
    indexes_first: bool,
) -> Database<MemoryBlockstore> {
    // Small nodes, so that even a few dozen documents make a tree several levels deep.
    let config = Config::with_targets(128, 128);
    let mut db = Database::create(MemoryBlockstore::default(), config).unwrap();
    let mut batch = WriteBatch::new();
    batch.create_collection("c");
    let add_indexes = |batch: &mut WriteBatch| {
        for def in indexes {
            batch.create_index("c", def.clone());
        }
    };
    if indexes_first {
        add_indexes(&mut batch);
    }
    for doc in docs {
        batch.upsert("c", doc.clone());
    }
    if !indexes_first {
        add_indexes(&mut batch);
    }
    db.apply(&batch).unwrap().expect_complete();
    db
}

/// Every page of a query, following cursors; skip applies to the first page only.
fn all_pages(db: &Database<MemoryBlockstore>, query: &Query) -> Result<Vec<Ipld>, Error> {
    let mut out = Vec::new();
    let mut page_query = query.clone();
    for _ in 0..1000 {
        let page = db.query(&page_query)?.expect_complete();
        out.extend(page.docs);
        match page.cursor {
            None => return Ok(out),
            Some(cursor) => {
                page_query.cursor = Some(cursor);
                page_query.skip = 0;
            }
        }
    }
    panic!("paging does not end");
}

proptest! {
    #[test]
    fn queries_agree_with_the_naive_evaluator(
        docs in prop::collection::vec(document(), 0..50),
        i1 in index_def("i1"),
        i2 in index_def("i2"),
        indexes_first in any::<bool>(),
        queries in prop::collection::vec(query(), 1..8),
        budget in 1u64..12,
    ) {
        let db = database(&docs, &[i1, i2], indexes_first);
        check_indexes(&db, "c").map_err(TestCaseError::fail)?;
        let all = all_documents(&db, "c");
        for query in queries {
            let plan = db.explain(&query).unwrap().expect_complete();
            let expected = naive_query(&all, &query, &plan.sort);
            if std::env::var("SHOW_PLANS").is_ok() { eprintln!("PLAN {} -> {}", plan.describe(), expected.len()); }
            let limit = query.effective_limit() as usize;

            let page = db.query(&query).unwrap().expect_complete();
            let first: Vec<Ipld> = expected.iter().take(limit).cloned().collect();
            prop_assert_eq!(&page.docs, &first, "first page; plan {}", plan.describe());
            // The bytes the actor returns and a verifier compares (documents spliced or written
            // without IPLD on the way) are the encoding of that page.
            let encoded = db.query_encoded(&query, Work::AsAsked).unwrap().expect_complete();
            prop_assert_eq!(encoded.to_cbor(), page.to_cbor(), "bytes; plan {}", plan.describe());

            let pages = all_pages(&db, &query).unwrap();
            prop_assert_eq!(&pages, &expected, "all pages; plan {}", plan.describe());

            // A tiny budget ends pages early, but the pages still cover every match once.
            let mut tight = query.clone();
            tight.budget = Some(budget);
            match all_pages(&db, &tight) {
                Ok(pages) => prop_assert_eq!(&pages, &expected, "budget {}; plan {}", budget, plan.describe()),
                Err(Error::Refused(Refusal::Unbounded(_))) => prop_assert!(plan.in_memory_sort(), "only in-memory sorts refuse"),
                Err(e) => return Err(TestCaseError::fail(e.to_string())),
            }

            let mut count = query.clone();
            count.count = true;
            count.limit = None;
            count.skip = 0;
            count.projection = None;
            let counted = db.query(&count).unwrap().expect_complete().count;
            let all_matches = naive_query(&all, &count, &[]).len() as u64;
            prop_assert_eq!(counted, Some(all_matches), "count; plan {}", plan.describe());
        }
    }
}

/// A query shaped for `def`: equality on its first `eq` fields (values taken from a document, so
/// that something matches), maybe a range on the next, sorted by the rest or not at all.
fn index_shaped(
    def: &IndexDef,
    doc: &Ipld,
    eq: usize,
    range: u8,
    sorted: bool,
    limit: u64,
) -> Query {
    use prolly_db::{Cond, Filter, SortField};
    let mut conds = Vec::new();
    let eq = eq.min(def.fields.len());
    for field in &def.fields[..eq] {
        let value = match field.path.get(doc) {
            Some(Ipld::List(items)) => items.first().cloned().unwrap_or(Ipld::Null),
            Some(v) => v.clone(),
            None => Ipld::Null,
        };
        conds.push(Filter::Field(field.path.clone(), Cond::Eq(value)));
    }
    if let Some(next) = def.fields.get(eq)
        && !next.each
        && range > 0
    {
        let pivot = next.path.get(doc).cloned().unwrap_or(Ipld::Integer(0));
        conds.push(Filter::Field(
            next.path.clone(),
            match range % 4 {
                0 => Cond::Gt(pivot),
                1 => Cond::Gte(pivot),
                2 => Cond::Lt(pivot),
                _ => Cond::Lte(pivot),
            },
        ));
    }
    let mut query = Query::new("c").filter(Filter::And(conds)).limit(limit);
    if sorted {
        query.sort = def.fields[eq..]
            .iter()
            .map(|f| SortField {
                path: f.path.clone(),
                order: f.order,
            })
            .collect();
    }
    query
}

proptest! {
    #[test]
    fn index_shaped_queries_agree_with_the_naive_evaluator(
        docs in prop::collection::vec(document(), 1..60),
        i1 in index_def("i1"),
        shapes in prop::collection::vec((any::<prop::sample::Index>(), 0usize..4, 0u8..8, any::<bool>(), 1u64..6, any::<u8>(), any::<bool>()), 1..10),
        budget in 1u64..12,
    ) {
        let db = database(&docs, std::slice::from_ref(&i1), true);
        let all = all_documents(&db, "c");
        for (pick, eq, range, sorted, limit, project, but_one) in shapes {
            let mut query = index_shaped(&i1, pick.get(&all), eq, range, sorted, limit);
            // Sometimes all but the picked document: a condition on `_id` the index cannot bind,
            // which a covering plan checks against each entry's `_id`.
            if but_one
                && let prolly_db::Filter::And(conds) = &mut query.filter
                && let Some(id) = prolly_db::Path::id().get(pick.get(&all))
            {
                conds.push(prolly_db::Filter::Field(prolly_db::Path::id(), prolly_db::Cond::Ne(id.clone())));
            }
            // Half the shapes project onto paths the index holds (the key's fields and the
            // included ones, `_id` sometimes): covering plans, read from the entries alone.
            if project % 2 == 1 {
                let covered = i1.fields.iter().filter(|f| !f.each).map(|f| &f.path).chain(&i1.include);
                let mut projection: Vec<prolly_db::Path> = covered
                    .enumerate()
                    .filter(|(i, _)| project >> (i + 1) & 1 == 1)
                    .map(|(_, p)| p.clone())
                    .collect();
                if project >= 128 {
                    projection.push(prolly_db::Path::id());
                }
                if !projection.is_empty() {
                    query.projection = Some(projection);
                }
            }
            let plan = db.explain(&query).unwrap().expect_complete();
            let expected = naive_query(&all, &query, &plan.sort);
            if std::env::var("SHOW_PLANS").is_ok() { eprintln!("PLAN {} -> {}", plan.describe(), expected.len()); }
            let pages = all_pages(&db, &query).unwrap();
            prop_assert_eq!(&pages, &expected, "plan {}", plan.describe());
            let page = db.query(&query).unwrap().expect_complete();
            let encoded = db.query_encoded(&query, Work::AsAsked).unwrap().expect_complete();
            prop_assert_eq!(encoded.to_cbor(), page.to_cbor(), "bytes; plan {}", plan.describe());
            let mut tight = query.clone();
            tight.budget = Some(budget);
            match all_pages(&db, &tight) {
                Ok(pages) => prop_assert_eq!(&pages, &expected, "budget {}; plan {}", budget, plan.describe()),
                Err(Error::Refused(Refusal::Unbounded(_))) => prop_assert!(plan.in_memory_sort()),
                Err(e) => return Err(TestCaseError::fail(e.to_string())),
            }
        }
    }
}

/// A page ends before the document that would take it past the result byte cap, with a cursor
/// that continues at that document; the encoded result is the decoded one's bytes.
#[test]
fn a_page_ends_at_the_byte_cap() {
    use prolly_db::Stop;
    use prolly_db::limits::MAX_RESULT_BYTES;
    let mut db = Database::create(MemoryBlockstore::default(), Config::default()).unwrap();
    let mut batch = WriteBatch::new();
    batch.create_collection("c");
    let body = "x".repeat(10_000);
    for i in 0..80i128 {
        let doc = [
            ("_id".to_string(), Ipld::Integer(i)),
            ("body".to_string(), Ipld::String(body.clone())),
        ];
        batch.insert("c", Ipld::Map(doc.into()));
    }
    db.apply(&batch).unwrap().expect_complete();
    let query = Query::from_json(r#"{"collection": "c", "limit": 1000}"#).unwrap();
    let encoded = db
        .query_encoded(&query, Work::AsAsked)
        .unwrap()
        .expect_complete();
    let bytes = encoded.to_cbor();
    let page = encoded.decode().unwrap();
    assert_eq!(bytes, page.to_cbor());
    assert_eq!(page.stop, Some(Stop::Bytes));
    let size: usize = page
        .docs
        .iter()
        .map(|d| prolly_tree::RawValue::from_ipld(d).unwrap().len())
        .sum();
    assert!(
        size <= MAX_RESULT_BYTES && size + 10_020 > MAX_RESULT_BYTES,
        "{size}"
    );
    let all = all_pages(&db, &query).unwrap();
    let ids: Vec<Ipld> = all
        .iter()
        .map(|d| match d {
            Ipld::Map(m) => m["_id"].clone(),
            _ => panic!("a document is a map"),
        })
        .collect();
    assert_eq!(ids, (0..80).map(Ipld::Integer).collect::<Vec<_>>());
}

/// `$eq` on covered values, in the key and among the included values: an entry storing the
/// constant's bytes matches without being decoded; any other is compared by value, so a list
/// holding the constant and a float equal to an integer constant still match, and a longer
/// string, another kind or an absent field does not.
#[test]
fn equality_on_covered_values_agrees_with_the_naive_evaluator() {
    let tags = [
        Ipld::String("a".into()),
        Ipld::String("ab".into()),
        Ipld::List(vec![Ipld::String("b".into()), Ipld::String("a".into())]),
        Ipld::Bool(true),
        Ipld::Integer(1),
        Ipld::Bytes(b"a".to_vec()),
        Ipld::Float(1.0),
    ];
    // A key field holds no list.
    let keys = [&tags[0], &tags[1], &tags[3], &tags[4], &tags[5], &tags[6]];
    let docs: Vec<Ipld> = (0..60i128)
        .map(|i| {
            let mut doc = std::collections::BTreeMap::from([
                ("_id".to_string(), Ipld::Integer(i)),
                ("k".to_string(), keys[i as usize % keys.len()].clone()),
            ]);
            if i % 7 != 0 {
                doc.insert("t".into(), tags[(i as usize / 2) % tags.len()].clone());
            }
            Ipld::Map(doc)
        })
        .collect();
    let path = |p: &str| prolly_db::Path::parse(p).unwrap();
    for order in [prolly_db::Order::Ascending, prolly_db::Order::Descending] {
        let def = IndexDef {
            name: "by_k".into(),
            fields: vec![prolly_db::IndexField {
                path: path("k"),
                order,
                each: false,
            }],
            unique: false,
            include: vec![path("t")],
        };
        covered_equality_queries(&database(&docs, &[def], true));
    }
}

fn covered_equality_queries(db: &Database<MemoryBlockstore>) {
    let all = all_documents(db, "c");
    for filter in [
        r#"{"k": "a", "t": "a"}"#,
        r#"{"k": "a", "t": true}"#,
        r#"{"k": true, "t": {"$eq": "ab"}}"#,
        r#"{"k": "ab", "t": {"$in": ["a", 1]}}"#,
        r#"{"$and": [{"k": "a"}, {"t": {"$ne": "a"}}]}"#,
        r#"{"k": 1, "t": 1}"#,
        r#"{"k": 1.0, "t": "ab"}"#,
    ] {
        let json =
            format!(r#"{{"collection": "c", "filter": {filter}, "projection": ["k", "t"]}}"#);
        let query = Query::from_json(&json).unwrap();
        let plan = db.explain(&query).unwrap().expect_complete();
        assert!(plan.covering, "{filter}: {}", plan.describe());
        let expected = naive_query(&all, &query, &plan.sort);
        assert!(!expected.is_empty(), "{filter} matches something");
        assert_eq!(all_pages(db, &query).unwrap(), expected, "{filter}");
    }
}
