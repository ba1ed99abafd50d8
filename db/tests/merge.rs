//! Three-way merge on documents.

use fvm_ipld_blockstore::MemoryBlockstore;
use ipld_core::ipld::Ipld;
use prolly_db::{Database, Merged, Prefer, Query, WriteBatch};
use prolly_tree::Config;

fn batch(json: &str) -> WriteBatch {
    WriteBatch::from_json(json).unwrap()
}

fn apply<'a>(db: &Database<&'a MemoryBlockstore>, json: &str) -> Database<&'a MemoryBlockstore> {
    let mut next = db.clone();
    next.apply(&batch(json)).unwrap().into_result().unwrap();
    next
}

fn merge<'a>(
    base: &Database<&'a MemoryBlockstore>,
    ours: &Database<&'a MemoryBlockstore>,
    theirs: &Database<&'a MemoryBlockstore>,
    prefer: Option<Prefer>,
) -> Result<Database<&'a MemoryBlockstore>, Vec<String>> {
    match ours
        .merge_batch(base, theirs, prefer)
        .unwrap()
        .into_result()
        .unwrap()
    {
        Merged::Batch(b) => {
            let mut db = ours.clone();
            match db.apply(&b) {
                Ok(outcome) => {
                    outcome.into_result().unwrap();
                    Ok(db)
                }
                Err(e) => Err(vec![e.to_string()]),
            }
        }
        Merged::Conflicts(c) => Err(c.iter().map(|c| c.to_string()).collect()),
    }
}

fn docs(db: &Database<&MemoryBlockstore>, collection: &str) -> Vec<Ipld> {
    let q = Query::from_json(&format!(
        r#"{{"collection": "{collection}", "limit": 1000}}"#
    ))
    .unwrap();
    db.query(&q).unwrap().into_result().unwrap().docs
}

fn people(ids: std::ops::Range<u32>) -> String {
    let docs: Vec<String> = ids
        .map(|i| {
            format!(
                r#"{{"op": "insert", "collection": "p", "doc": {{"_id": {i}, "age": {}}}}}"#,
                i % 50
            )
        })
        .collect();
    format!(r#"{{"ops": [{}]}}"#, docs.join(","))
}

const SCHEMA: &str = r#"{"ops": [{"op": "create_collection", "collection": "p"},
    {"op": "create_index", "collection": "p", "index": {"name": "by_age", "fields": ["age"]}}]}"#;

#[test]
fn halves_built_apart_merge_against_empty_to_the_root_of_the_whole() {
    let store = MemoryBlockstore::default();
    let empty = Database::create(&store, Config::default()).unwrap();
    let schema = apply(&empty, SCHEMA);
    let left = apply(&schema, &people(0..300));
    let right = apply(&schema, &people(300..700));
    let whole = apply(&schema, &people(0..700));
    let merged = merge(&empty, &left, &right, None).unwrap();
    assert_eq!(merged.root(), whole.root());
    prolly_db::testing::check_indexes(&merged, "p").unwrap();
}

#[test]
fn changes_on_each_side_merge_and_conflicts_are_named() {
    let store = MemoryBlockstore::default();
    let empty = Database::create(&store, Config::default()).unwrap();
    let base = apply(&apply(&empty, SCHEMA), &people(0..10));
    let ours = apply(
        &base,
        r#"{"ops": [{"op": "upsert", "collection": "p", "doc": {"_id": 1, "age": 99}},
        {"op": "delete", "collection": "p", "id": 2}]}"#,
    );
    let theirs = apply(
        &base,
        r#"{"ops": [{"op": "upsert", "collection": "p", "doc": {"_id": 3, "age": 77}},
        {"op": "insert", "collection": "p", "doc": {"_id": 50, "age": 1}}]}"#,
    );
    let m = merge(&base, &ours, &theirs, None).unwrap();
    let expected = apply(
        &ours,
        r#"{"ops": [{"op": "upsert", "collection": "p", "doc": {"_id": 3, "age": 77}},
        {"op": "insert", "collection": "p", "doc": {"_id": 50, "age": 1}}]}"#,
    );
    assert_eq!(m.root(), expected.root());

    // The same document changed differently: a conflict, unless a side is preferred.
    let theirs = apply(
        &base,
        r#"{"ops": [{"op": "upsert", "collection": "p", "doc": {"_id": 1, "age": 5}}]}"#,
    );
    let conflicts = merge(&base, &ours, &theirs, None).unwrap_err();
    assert_eq!(conflicts.len(), 1);
    assert!(conflicts[0].contains("document _id 1"), "{conflicts:?}");
    let ours_wins = merge(&base, &ours, &theirs, Some(Prefer::Ours)).unwrap();
    assert_eq!(ours_wins.root(), ours.root());
    let theirs_wins = merge(&base, &ours, &theirs, Some(Prefer::Theirs)).unwrap();
    let one = docs(&theirs_wins, "p")
        .into_iter()
        .find(|d| matches!(d, Ipld::Map(m) if m["_id"] == Ipld::Integer(1)));
    assert_eq!(
        one.unwrap(),
        prolly_db::parse_json(r#"{"_id": 1, "age": 5}"#).unwrap()
    );
    prolly_db::testing::check_indexes(&theirs_wins, "p").unwrap();
}

#[test]
fn catalog_and_unique_conflicts() {
    let store = MemoryBlockstore::default();
    let empty = Database::create(&store, Config::default()).unwrap();
    let base = apply(&apply(&empty, SCHEMA), &people(0..10));
    let index = |fields: &str, unique: bool| {
        format!(
            r#"{{"ops": [{{"op": "create_index", "collection": "p", "index": {{"name": "x", "fields": {fields}, "unique": {unique}}}}}]}}"#
        )
    };
    let ours = apply(&base, &index(r#"["age"]"#, false));
    let theirs = apply(&base, &index(r#"["age", "other"]"#, false));
    let conflicts = merge(&base, &ours, &theirs, None).unwrap_err();
    assert!(conflicts[0].contains("index \"x\""), "{conflicts:?}");
    let theirs_wins = merge(&base, &ours, &theirs, Some(Prefer::Theirs)).unwrap();
    prolly_db::testing::check_indexes(&theirs_wins, "p").unwrap();

    // A unique index (theirs) that a document added on our side violates: the merge is refused.
    let theirs = apply(&base, &index(r#"["age"]"#, true));
    let ours = apply(
        &base,
        r#"{"ops": [{"op": "insert", "collection": "p", "doc": {"_id": 100, "age": 3}}]}"#,
    );
    let refused = merge(&base, &ours, &theirs, None).unwrap_err();
    assert!(
        refused[0].contains("unique") || refused[0].contains("Unique"),
        "{refused:?}"
    );

    // Dropped on our side, changed on theirs (its catalog, or only a document): a conflict that
    // only --prefer ours settles (theirs' changes alone cannot rebuild the collection).
    let ours = apply(
        &base,
        r#"{"ops": [{"op": "drop_collection", "collection": "p"}]}"#,
    );
    let upsert = r#"{"ops": [{"op": "upsert", "collection": "p", "doc": {"_id": 1, "age": 7}}]}"#;
    for change in [index(r#"["age"]"#, false), upsert.to_string()] {
        let theirs = apply(&base, &change);
        let conflicts = merge(&base, &ours, &theirs, None).unwrap_err();
        assert!(conflicts[0].contains("the collection"), "{conflicts:?}");
        assert!(merge(&base, &ours, &theirs, Some(Prefer::Theirs)).is_err());
        let kept = merge(&base, &ours, &theirs, Some(Prefer::Ours)).unwrap();
        assert_eq!(kept.root(), ours.root());
    }
    // Dropped on their side, changed on ours: --prefer theirs drops it.
    let ours = apply(&base, upsert);
    let theirs = apply(
        &base,
        r#"{"ops": [{"op": "drop_collection", "collection": "p"}]}"#,
    );
    assert!(merge(&base, &ours, &theirs, None).is_err());
    let dropped = merge(&base, &ours, &theirs, Some(Prefer::Theirs)).unwrap();
    assert_eq!(dropped.root(), theirs.root());
}
