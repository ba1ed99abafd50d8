//! Golden proofs: spec/vectors/proof-*.car, described by spec/vectors/proofs.json (root, query,
//! result). This test rebuilds every proof and fails if a byte drifts, and verifies the files as
//! they are. PROLLYDB_BLESS=1 rewrites them after an intended format change (a new version).
//! `.ci/run` also reads the files with npm @ipld/car and PyPI libipld.

use std::path::PathBuf;

use fvm_ipld_blockstore::MemoryBlockstore;
use prolly_db::{Database, Query, QueryResult, WriteBatch};
use prolly_proofs::{prove, verify};
use prolly_tree::Config;

fn vectors_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../spec/vectors")
}

/// A small deterministic database: 300 books, an index on (genre, year) covering the title.
fn database(store: &MemoryBlockstore) -> cid::Cid {
    let mut db = Database::create(store, Config::default()).unwrap();
    let mut ops = vec![
        r#"{"op": "create_collection", "collection": "books"}"#.to_string(),
        r#"{"op": "create_index", "collection": "books", "index": {"name": "by_genre_year", "fields": ["genre", ["year", "desc"]], "include": ["title"]}}"#.to_string(),
    ];
    for i in 0..300 {
        let genre = ["essay", "novel", "poetry", "science"][i % 4];
        ops.push(format!(
            r#"{{"op": "insert", "collection": "books", "doc": {{"_id": "b{i:04}", "title": "Title {i}", "genre": "{genre}", "year": {}, "tags": ["t{}"]}}}}"#,
            1900 + (i * 37) % 120,
            i % 5
        ));
    }
    let batch = WriteBatch::from_json(&format!(r#"{{"ops": [{}]}}"#, ops.join(","))).unwrap();
    db.apply(&batch).unwrap().expect_complete();
    db.root()
}

fn cases() -> Vec<(&'static str, &'static str)> {
    vec![
        (
            "membership",
            r#"{"collection": "books", "filter": {"_id": "b0042"}}"#,
        ),
        (
            "absence",
            r#"{"collection": "books", "filter": {"_id": "b9999"}}"#,
        ),
        (
            "range",
            r#"{"collection": "books", "filter": {"_id": {"$gte": "b0100", "$lt": "b0120"}}, "limit": 50}"#,
        ),
        (
            "index-page",
            r#"{"collection": "books", "filter": {"genre": "novel"}, "sort": [["year", "desc"]], "limit": 5, "projection": ["title", "year"]}"#,
        ),
        (
            "count",
            r#"{"collection": "books", "filter": {"genre": "poetry", "year": {"$gte": 1950}}, "count": true}"#,
        ),
    ]
}

#[test]
fn golden_proofs_do_not_drift_and_verify() {
    let store = MemoryBlockstore::default();
    let root = database(&store);
    let bless = std::env::var_os("PROLLYDB_BLESS").is_some();
    let mut index = Vec::new();
    for (name, json) in cases() {
        let query = Query::from_json(json).unwrap();
        let proof = prove(&store, root, &query).unwrap().expect_complete();
        let file = vectors_dir().join(format!("proof-{name}.car"));
        if bless {
            std::fs::write(&file, &proof.bytes).unwrap();
        }
        let stored =
            std::fs::read(&file).expect("golden proof present (PROLLYDB_BLESS=1 writes it)");
        assert!(
            stored == proof.bytes,
            "proof-{name}.car drifted: the proof format changed"
        );
        verify(&root, &query, &proof.result, &stored).unwrap();
        index.push(serde_json::json!({
            "name": name,
            "file": format!("proof-{name}.car"),
            "root": root.to_string(),
            "query": serde_json::from_str::<serde_json::Value>(&query.to_json()).unwrap(),
            "result": serde_json::from_str::<serde_json::Value>(&proof.result.to_json()).unwrap(),
            "witness_blocks": proof.witness_blocks,
        }));
    }
    let described = serde_json::to_string_pretty(&serde_json::json!({
        "description": "Golden prollydb proofs (spec/SPEC.md, Proofs): each file is a strict CARv1 whose root is the envelope.",
        "proofs": index,
    }))
    .unwrap()
        + "\n";
    let file = vectors_dir().join("proofs.json");
    if bless {
        std::fs::write(&file, &described).unwrap();
    }
    assert_eq!(
        std::fs::read_to_string(&file).unwrap(),
        described,
        "proofs.json drifted"
    );
    // The results parse back from their JSON form too.
    for entry in serde_json::from_str::<serde_json::Value>(&described).unwrap()["proofs"]
        .as_array()
        .unwrap()
    {
        let result = prolly_db::ipld_from_json(&entry["result"]).unwrap();
        QueryResult::from_ipld(&result).unwrap();
    }
}

/// A format-1 proof (the golden membership proof as format 1 wrote it) is refused by its root
/// object's version, and the error says so: format 2 replaced format 1 rather than reading both.
#[test]
fn a_format_1_proof_is_refused_by_its_version() {
    let proof = std::fs::read(
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/format1-membership.car"),
    )
    .unwrap();
    let envelope = prolly_proofs::Envelope::from_proof(&proof).unwrap();
    let prolly_proofs::Subject::Root(root) = envelope.subject else {
        panic!("a query proof")
    };
    let query = Query::from_cbor(&envelope.query).unwrap();
    let result = QueryResult::from_cbor(&envelope.result).unwrap();
    let err = prolly_proofs::verify(&root, &query, &result, &proof).unwrap_err();
    let text = err.to_string();
    assert!(
        text.contains("format version 1") && text.contains("version 2"),
        "{text}"
    );
}
