//! The actor in the real FVM (fvm_integration_tests, synthetic manifest): construct, commit
//! batches, query on-chain and off-chain over the machine's blockstore, read the events, refuse
//! bad input with specific exit codes and the root unchanged, and prove a query from the flushed
//! state root.

use fvm_ipld_encoding::RawBytes;
use fvm_shared::error::ExitCode;
use ipld_core::ipld::Ipld;
use prolly_actor::{ConstructorParams, RootReturn, SetWritersParams, method};
use prolly_db::{Database, Query, QueryResult, WriteBatch};
use prollydb::local_fvm::{ACTOR_ID, LocalFvm};

const OWNER: usize = 0;
const WRITER: usize = 1;
const STRANGER: usize = 2;

fn ok(ret: &fvm::executor::ApplyRet, what: &str) {
    assert_eq!(
        ret.msg_receipt.exit_code,
        ExitCode::OK,
        "{what}: {:?}",
        ret.failure_info
    );
}

/// Sends `Constructor` from account `from`.
fn construct(
    fvm: &mut LocalFvm,
    from: usize,
    params: &ConstructorParams,
) -> fvm::executor::ApplyRet {
    fvm.send(
        from,
        method::CONSTRUCTOR,
        fvm_ipld_encoding::to_vec(params).unwrap(),
    )
    .unwrap()
}

/// The node sizes of the database the actor holds.
fn db_config(fvm: &mut LocalFvm) -> prolly_tree::Config {
    let root = fvm.state().unwrap().db_root;
    let db = Database::open(fvm.blockstore(), root)
        .unwrap()
        .expect_complete();
    *db.tree().config()
}

fn constructed() -> LocalFvm {
    let mut fvm = LocalFvm::new().unwrap();
    let params = ConstructorParams {
        owner: fvm.account(OWNER),
        writers: vec![fvm.account(WRITER)],
        config: None,
    };
    ok(&construct(&mut fvm, OWNER, &params), "constructor");
    fvm
}

/// Generated commits shaped like the kubo data set (for the refusal cases, and when it is absent).
fn commits(n: usize, start: usize) -> WriteBatch {
    let mut batch = WriteBatch::new();
    for i in start..start + n {
        let doc = format!(
            r#"{{"_id": "c{i:05}", "author": "author-{}", "time": {}, "tags": ["{}", "{}"], "subject": "change {i}"}}"#,
            i % 11,
            1_600_000_000 + i * 3600,
            ["fix", "feat", "chore", "docs"][i % 4],
            ["deps", "ci", "docs"][i % 3]
        );
        batch.insert("commits", prolly_db::parse_json(&doc).unwrap());
    }
    batch
}

fn schema() -> WriteBatch {
    WriteBatch::from_json(
        r#"{"ops": [{"op": "create_collection", "collection": "commits"},
        {"op": "create_index", "collection": "commits", "index": {"name": "by_author_time", "fields": ["author", "time"]}},
        {"op": "create_index", "collection": "commits", "index": {"name": "by_tag_time", "fields": ["tags[]", "time"]}}]}"#,
    )
    .unwrap()
}

#[test]
fn the_constructor_takes_node_sizes_and_refuses_bad_ones() {
    // A config the tree refuses: the actor stays unconstructed, and can still be constructed.
    let mut fvm = LocalFvm::new().unwrap();
    let head = fvm.head().unwrap();
    let mut bad = prolly_tree::Config::with_targets(1024, 768);
    bad.leaf_cap = 16;
    let params = ConstructorParams {
        owner: fvm.account(OWNER),
        writers: vec![],
        config: Some(bad),
    };
    let ret = construct(&mut fvm, OWNER, &params);
    assert_eq!(ret.msg_receipt.exit_code, ExitCode::USR_ILLEGAL_ARGUMENT);
    assert_eq!(fvm.head().unwrap(), head);

    // The default is the actor's own; an explicit one is kept in the root object.
    let chosen = prolly_tree::Config::with_targets(2048, 1024);
    let params = ConstructorParams {
        config: Some(chosen),
        ..params
    };
    let ret = construct(&mut fvm, OWNER, &params);
    ok(&ret, "constructor with a config");
    assert_eq!(db_config(&mut fvm), chosen);
    assert_eq!(db_config(&mut constructed()), prolly_actor::actor_config());
}

#[test]
fn the_actor_commits_queries_and_refuses_in_the_real_fvm() {
    let mut fvm = constructed();

    // A second construction is refused.
    let again = ConstructorParams {
        owner: fvm.account(STRANGER),
        writers: vec![],
        config: None,
    };
    let ret = construct(&mut fvm, STRANGER, &again);
    assert_eq!(ret.msg_receipt.exit_code, ExitCode::USR_FORBIDDEN);

    let ret = fvm.send(WRITER, method::APPLY, schema().to_cbor()).unwrap();
    ok(&ret, "schema");
    // 2,000 real kubo commits in batches of 100, or generated ones when the data set is absent.
    let batches: Vec<WriteBatch> = match prolly_db::testing::kubo_commits(2_000) {
        Some(docs) => docs
            .chunks(100)
            .map(|chunk| {
                let mut batch = WriteBatch::new();
                for doc in chunk {
                    batch.insert("commits", doc.clone());
                }
                batch
            })
            .collect(),
        None => {
            eprintln!(
                "SKIP real data in the_actor_commits_queries_and_refuses_in_the_real_fvm: no \
                 kubo-commits under PROLLYDB_DATA or ../shared/data; generated commits instead"
            );
            (0..20).map(|round| commits(100, round * 100)).collect()
        }
    };
    let mut seq = 1;
    for batch in batches {
        let ret = fvm.send(WRITER, method::APPLY, batch.to_cbor()).unwrap();
        ok(&ret, "apply");
        seq += 1;
        let returned: RootReturn = ret.msg_receipt.return_data.deserialize().unwrap();
        let state = fvm.state().unwrap();
        assert_eq!(returned.root, state.db_root);
        assert_eq!((returned.seq, state.seq), (seq, seq));
        // The commit's event carries exactly that root and seq.
        let event = &ret.events.last().expect("one event per commit").event;
        let value = |key: &str| &event.entries.iter().find(|e| e.key == key).unwrap().value;
        let root: cid::Cid = fvm_ipld_encoding::from_slice(value("root")).unwrap();
        let event_seq: u64 = fvm_ipld_encoding::from_slice(value("seq")).unwrap();
        assert_eq!((root, event_seq), (state.db_root, seq));
        eprintln!("commit {seq}: {} gas", ret.msg_receipt.gas_used);
    }

    // On-chain Query equals the same query run off-chain over the machine's blockstore.
    let query = Query::from_json(
        r#"{"collection": "commits", "filter": {"tags": "fix"}, "sort": [["time", "asc"]], "limit": 32}"#,
    )
    .unwrap();
    let ret = fvm.send(STRANGER, method::QUERY, query.to_cbor()).unwrap();
    ok(&ret, "query");
    let on_chain = ret.msg_receipt.return_data.to_vec();
    let state = fvm.state().unwrap();
    let db = Database::open(fvm.blockstore(), state.db_root)
        .unwrap()
        .expect_complete();
    let off_chain = db.query(&query).unwrap().expect_complete();
    drop(db);
    assert_eq!(on_chain, off_chain.to_cbor(), "byte-identical results");
    assert!(!QueryResult::from_cbor(&on_chain).unwrap().docs.is_empty());
    // The same page by the (author, time) index, and a count.
    for json in [
        r#"{"collection": "commits", "filter": {"author": {"$gte": "author-8"}}, "sort": [["author", "asc"], ["time", "asc"]], "limit": 20}"#,
        r#"{"collection": "commits", "filter": {"tags": "docs"}, "count": true}"#,
    ] {
        let q = Query::from_json(json).unwrap();
        let ret = fvm.send(STRANGER, method::QUERY, q.to_cbor()).unwrap();
        ok(&ret, json);
        let db = Database::open(fvm.blockstore(), state.db_root)
            .unwrap()
            .expect_complete();
        let off = db.query(&q).unwrap().expect_complete();
        assert_eq!(
            ret.msg_receipt.return_data.to_vec(),
            off.to_cbor(),
            "{json}"
        );
    }
    let root_before = state.db_root;

    // Bad input: a specific exit code each, and the root unchanged.
    let mut cases: Vec<(&str, usize, u64, Vec<u8>, ExitCode)> = vec![
        (
            "not a writer",
            STRANGER,
            method::APPLY,
            commits(1, 900).to_cbor(),
            ExitCode::USR_FORBIDDEN,
        ),
        (
            "malformed params",
            WRITER,
            method::APPLY,
            vec![0xff, 0x00],
            ExitCode::USR_SERIALIZATION,
        ),
        (
            "no params",
            WRITER,
            method::APPLY,
            vec![],
            ExitCode::USR_ILLEGAL_ARGUMENT,
        ),
        (
            "unknown method",
            WRITER,
            0xdead_beef,
            vec![],
            ExitCode::USR_UNHANDLED_MESSAGE,
        ),
        (
            "duplicate _id",
            WRITER,
            method::APPLY,
            {
                let mut twice = commits(1, 5_000);
                twice.insert(
                    "commits",
                    prolly_db::parse_json(r#"{"_id": "c05000"}"#).unwrap(),
                );
                twice.to_cbor()
            },
            ExitCode::USR_ILLEGAL_ARGUMENT,
        ),
        (
            "unindexed query",
            STRANGER,
            method::QUERY,
            Query::from_json(r#"{"collection": "commits", "filter": {"subject": "change 5"}}"#)
                .unwrap()
                .to_cbor(),
            ExitCode::USR_ILLEGAL_ARGUMENT,
        ),
        (
            "set writers, not the owner",
            WRITER,
            method::SET_WRITERS,
            fvm_ipld_encoding::to_vec(&SetWritersParams { writers: vec![] }).unwrap(),
            ExitCode::USR_FORBIDDEN,
        ),
    ];
    let mut missing = WriteBatch::new();
    missing.insert("nope", Ipld::Map(Default::default()));
    cases.push((
        "missing collection",
        WRITER,
        method::APPLY,
        missing.to_cbor(),
        ExitCode::USR_NOT_FOUND,
    ));
    let big = format!(
        r#"{{"ops": [{{"op": "insert", "collection": "commits", "doc": {{"_id": "big", "x": "{}"}}}}]}}"#,
        "y".repeat(20_000)
    );
    cases.push((
        "document over the limit",
        WRITER,
        method::APPLY,
        WriteBatch::from_json(&big).unwrap().to_cbor(),
        ExitCode::USR_ILLEGAL_ARGUMENT,
    ));
    for (what, from, m, params, expected) in cases {
        let ret = fvm.send(from, m, params).unwrap();
        assert_eq!(
            ret.msg_receipt.exit_code, expected,
            "{what}: {:?}",
            ret.failure_info
        );
        assert_eq!(
            fvm.state().unwrap().db_root,
            root_before,
            "{what}: the root moved"
        );
    }

    // A key over the limit, and a big batch that runs out of gas half-way: refused, root kept.
    let long_id = format!(
        r#"{{"ops": [{{"op": "insert", "collection": "commits", "doc": {{"_id": "{}"}}}}]}}"#,
        "k".repeat(600)
    );
    let ret = fvm
        .send(
            WRITER,
            method::APPLY,
            WriteBatch::from_json(&long_id).unwrap().to_cbor(),
        )
        .unwrap();
    assert_eq!(
        ret.msg_receipt.exit_code,
        ExitCode::USR_ILLEGAL_ARGUMENT,
        "{:?}",
        ret.failure_info
    );
    let ret = fvm
        .send_with_gas(
            WRITER,
            method::APPLY,
            commits(300, 10_000).to_cbor(),
            200_000_000,
        )
        .unwrap();
    assert_eq!(ret.msg_receipt.exit_code, ExitCode::SYS_OUT_OF_GAS);
    assert_eq!(
        fvm.state().unwrap().db_root,
        root_before,
        "out of gas: the root moved"
    );

    // Chain anchoring end to end: flush, then prove the query from the state root alone.
    let state_root = fvm.flush().unwrap();
    let proof = prolly_proofs::prove_anchored(fvm.blockstore(), state_root, ACTOR_ID, &query)
        .unwrap()
        .expect_complete();
    assert_eq!(proof.result.to_cbor(), on_chain);
    prolly_proofs::verify_anchored(&state_root, ACTOR_ID, &query, &proof.result, &proof.bytes)
        .unwrap();
    let _ = RawBytes::default();
}
