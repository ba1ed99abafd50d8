//! Proofs of random queries over random databases: the true result verifies, and every kind of
//! tampering is refused. Soundness: whenever `verify` accepts, the claimed result is the naive
//! evaluator's result at that root.

use cid::Cid;
use fvm_ipld_blockstore::MemoryBlockstore;
use ipld_core::ipld::Ipld;
use prolly_db::testing::{all_documents, document, index_def, naive_query, query};
use prolly_db::{Database, IndexDef, Query, QueryResult, WriteBatch};
use prolly_proofs::{Envelope, Subject, VerifyError, car, prove, verify, verify_claim};
use prolly_tree::{Config, cid_of};
use proptest::prelude::*;

fn database(store: &MemoryBlockstore, docs: &[Ipld], indexes: &[IndexDef]) -> Cid {
    let mut db = Database::create(store, Config::with_targets(128, 128)).unwrap();
    let mut batch = WriteBatch::new();
    batch.create_collection("c");
    for def in indexes {
        batch.create_index("c", def.clone());
    }
    for doc in docs {
        batch.upsert("c", doc.clone());
    }
    db.apply(&batch).unwrap().expect_complete();
    db.root()
}

/// The proof's parts, to rebuild tampered copies.
fn parts(proof: &[u8]) -> (Cid, Vec<u8>, car::Blocks) {
    let parsed = car::read_strict(proof).unwrap();
    let blocks = parsed
        .blocks
        .iter()
        .map(|(c, d)| (*c, d.to_vec()))
        .collect();
    (parsed.root, parsed.root_block.to_vec(), blocks)
}

fn repackage(envelope: &Envelope, blocks: &[(Cid, Vec<u8>)]) -> Vec<u8> {
    let bytes = envelope.encode();
    car::write((cid_of(&bytes), &bytes), blocks)
}

/// Variants of a result: one document dropped, one added, one altered, two swapped.
fn wrong_results(result: &QueryResult) -> Vec<QueryResult> {
    let mut out = Vec::new();
    if let Some(count) = result.count {
        let mut r = result.clone();
        r.count = Some(count + 1);
        out.push(r);
        return out;
    }
    if !result.docs.is_empty() {
        let mut r = result.clone();
        r.docs.pop();
        out.push(r);
        let mut r = result.clone();
        if let Ipld::Map(m) = &mut r.docs[0] {
            m.insert("zz".into(), Ipld::Integer(1));
        }
        out.push(r);
    }
    let mut r = result.clone();
    r.docs
        .push(Ipld::Map([("_id".to_string(), Ipld::Integer(999))].into()));
    out.push(r);
    if result.docs.len() >= 2 {
        let mut r = result.clone();
        r.docs.swap(0, 1);
        out.push(r);
    }
    // A zero with the other sign: equal as f64 (and as `Ipld`), not as DAG-CBOR.
    let mut r = result.clone();
    let zero = r.docs.iter_mut().find_map(|doc| match doc {
        Ipld::Map(m) => m
            .values_mut()
            .find(|v| matches!(v, Ipld::Float(f) if *f == 0.0)),
        _ => None,
    });
    if let Some(Ipld::Float(f)) = zero {
        *f = -*f;
        out.push(r);
    }
    out
}

proptest! {
    #[test]
    fn true_results_verify_and_tampering_is_refused(
        docs in prop::collection::vec(document(), 0..50),
        def in index_def("i1"),
        mut q in query(),
        count in any::<bool>(),
        drop_at in any::<prop::sample::Index>(),
        flip_at in any::<prop::sample::Index>(),
        flip_bit in 0u8..8,
    ) {
        let store = MemoryBlockstore::default();
        let root = database(&store, &docs, &[def]);
        if count {
            q.count = true;
        }
        let proof = match prove(&store, root, &q).unwrap() {
            prolly_tree::Outcome::Complete(p) => p,
            prolly_tree::Outcome::Missing(_) => unreachable!("the store is complete"),
        };
        prop_assert!(verify(&root, &q, &proof.result, &proof.bytes).is_ok());
        // Read from the proof, the claim is the result.
        prop_assert_eq!(&verify_claim(&root, &q, &proof.bytes).unwrap(), &proof.result);
        let mut other_query = q.clone();
        other_query.limit = Some(q.limit.map_or(1, |l| l + 1));
        prop_assert!(matches!(verify_claim(&root, &other_query, &proof.bytes), Err(VerifyError::Mismatch("query"))));

        // Soundness against the naive evaluator.
        let db = Database::open(&store, root).unwrap().expect_complete();
        let plan = db.explain(&q).unwrap().expect_complete();
        let expected = naive_query(&all_documents(&db, "c"), &q, &plan.sort);
        if count {
            // A count ignores skip and limit.
            let mut all = q.clone();
            all.skip = 0;
            let matches = naive_query(&all_documents(&db, "c"), &all, &[]).len() as u64;
            prop_assert_eq!(proof.result.count, Some(matches));
        } else {
            let limit = q.effective_limit() as usize;
            prop_assert_eq!(&proof.result.docs[..], &expected[..expected.len().min(limit)]);
        }

        let (_, envelope_bytes, blocks) = parts(&proof.bytes);
        let envelope = Envelope::decode(&envelope_bytes).unwrap();

        // The witness minus any one block: incomplete.
        if !blocks.is_empty() {
            let mut fewer = blocks.clone();
            fewer.remove(drop_at.index(blocks.len()));
            let cut = repackage(&envelope, &fewer);
            prop_assert!(matches!(verify(&root, &q, &proof.result, &cut), Err(VerifyError::Incomplete(_))));
            prop_assert!(matches!(verify_claim(&root, &q, &cut), Err(VerifyError::Incomplete(_))));
        }

        // Any bit flipped anywhere in the file: refused.
        let mut flipped = proof.bytes.clone();
        let at = flip_at.index(flipped.len());
        flipped[at] ^= 1 << flip_bit;
        prop_assert!(verify(&root, &q, &proof.result, &flipped).is_err());
        prop_assert!(verify_claim(&root, &q, &flipped).is_err());

        // A wrong result: refused as claimed against the envelope, and as an envelope that claims it.
        for wrong in wrong_results(&proof.result) {
            prop_assert!(matches!(verify(&root, &q, &wrong, &proof.bytes), Err(VerifyError::Mismatch("result"))));
            let forged = Envelope { result: wrong.to_cbor(), ..envelope.clone() };
            let forged = repackage(&forged, &blocks);
            prop_assert!(matches!(verify(&root, &q, &wrong, &forged), Err(VerifyError::WrongResult)));
            prop_assert!(matches!(verify_claim(&root, &q, &forged), Err(VerifyError::WrongResult)));
        }

        // Another root: refused, whether claimed or forged into the envelope.
        let other = cid_of(b"another root");
        prop_assert!(matches!(verify(&other, &q, &proof.result, &proof.bytes), Err(VerifyError::Mismatch("root"))));
        let forged = repackage(&Envelope { subject: Subject::Root(other), ..envelope.clone() }, &blocks);
        prop_assert!(matches!(verify(&other, &q, &proof.result, &forged), Err(VerifyError::Incomplete(_))));
        prop_assert!(matches!(verify_claim(&other, &q, &proof.bytes), Err(VerifyError::Mismatch("root"))));
        prop_assert!(matches!(verify_claim(&other, &q, &forged), Err(VerifyError::Incomplete(_))));

        // An extra block the query does not read: refused (proofs are exact).
        let mut more = blocks.clone();
        let extra = b"\xf6".to_vec();
        more.push((cid_of(&extra), extra));
        let padded = repackage(&envelope, &more);
        prop_assert!(matches!(verify(&root, &q, &proof.result, &padded), Err(VerifyError::Unused(1))));
        prop_assert!(matches!(verify_claim(&root, &q, &padded), Err(VerifyError::Unused(1))));
    }

    /// Whatever bytes arrive as a proof, and whatever result is claimed: no panic, and an accept
    /// only for the true result.
    #[test]
    fn arbitrary_proofs_never_prove_a_wrong_result(
        docs in prop::collection::vec(document(), 1..20),
        q in query(),
        edits in prop::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 0..4),
        truncate in prop::option::of(any::<prop::sample::Index>()),
        junk in prop::collection::vec(any::<u8>(), 0..64),
        claim_other in any::<bool>(),
    ) {
        let store = MemoryBlockstore::default();
        let root = database(&store, &docs, &[]);
        let proof = prove(&store, root, &q).unwrap().expect_complete();
        let mut bytes = proof.bytes.clone();
        for (at, value) in &edits {
            let i = at.index(bytes.len());
            bytes[i] = *value;
        }
        if let Some(at) = truncate {
            bytes.truncate(at.index(bytes.len() + 1));
        }
        let claimed = if claim_other { wrong_results(&proof.result).remove(0) } else { proof.result.clone() };
        for candidate in [bytes, junk] {
            if verify(&root, &q, &claimed, &candidate).is_ok() {
                prop_assert_eq!(&claimed, &proof.result);
            }
            if let Ok(read) = verify_claim(&root, &q, &candidate) {
                prop_assert_eq!(&read, &proof.result);
            }
        }
    }
}

#[test]
fn membership_absence_range_and_count_proofs() {
    let store = MemoryBlockstore::default();
    let docs: Vec<Ipld> = (0..2000)
        .map(|i| {
            prolly_db::parse_json(&format!(
                r#"{{"_id": {i}, "group": "g{}", "n": {i}}}"#,
                i % 7
            ))
            .unwrap()
        })
        .collect();
    let def = IndexDef::from_ipld(
        &prolly_db::parse_json(r#"{"name": "by_group", "fields": ["group", "n"]}"#).unwrap(),
    )
    .unwrap();
    let root = database(&store, &docs, &[def]);
    for (what, json) in [
        (
            "membership",
            r#"{"collection": "c", "filter": {"_id": 1234}}"#,
        ),
        (
            "absence",
            r#"{"collection": "c", "filter": {"_id": 99999}}"#,
        ),
        (
            "range",
            r#"{"collection": "c", "filter": {"_id": {"$gte": 100, "$lt": 300}}, "limit": 1000}"#,
        ),
        (
            "index page",
            r#"{"collection": "c", "filter": {"group": "g3"}, "sort": [["n", "desc"]], "limit": 32}"#,
        ),
        (
            "count",
            r#"{"collection": "c", "filter": {"group": "g3", "n": {"$gt": 500}}, "count": true}"#,
        ),
    ] {
        let q = Query::from_json(json).unwrap();
        let proof = prove(&store, root, &q).unwrap().expect_complete();
        verify(&root, &q, &proof.result, &proof.bytes).unwrap();
        eprintln!(
            "{what}: {} results, {} witness blocks, {} witness bytes, {} proof bytes",
            proof.result.docs.len(),
            proof.witness_blocks,
            proof.witness_bytes,
            proof.bytes.len()
        );
        match what {
            "absence" => assert!(proof.result.docs.is_empty()),
            "range" => assert_eq!(proof.result.docs.len(), 200),
            "count" => assert!(proof.result.count.unwrap() > 0),
            _ => assert!(!proof.result.docs.is_empty()),
        }
        // The next page from the cursor is proven the same way.
        if let Some(cursor) = &proof.result.cursor {
            let mut next = q.clone();
            next.cursor = Some(cursor.clone());
            let page = prove(&store, root, &next).unwrap().expect_complete();
            verify(&root, &next, &page.result, &page.bytes).unwrap();
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 24, ..ProptestConfig::default() })]

    /// Diff proofs: what changed between two roots, proven from the blocks the tree diff read.
    #[test]
    fn diff_proofs_verify_and_refuse_tampering(
        before in prop::collection::vec(document(), 0..40),
        changes in prop::collection::vec(document(), 0..10),
        deletes in prop::collection::vec(0i128..40, 0..5),
        drop_at in any::<prop::sample::Index>(),
    ) {
        use prolly_proofs::{prove_diff, verify_diff};
        let store = MemoryBlockstore::default();
        let from = database(&store, &before, &[]);
        let mut db = Database::open(&store, from).unwrap().expect_complete();
        let mut batch = WriteBatch::new();
        for doc in &changes {
            batch.upsert("c", doc.clone());
        }
        for id in &deletes {
            batch.delete("c", Ipld::Integer(*id));
        }
        db.apply(&batch).unwrap().expect_complete();
        let to = db.root();
        let (diff, proof) = prove_diff(&store, from, to).unwrap().expect_complete();
        verify_diff(&from, &to, &diff, &proof).unwrap();
        // The same diff as read from the full store.
        let full_before = Database::open(&store, from).unwrap().expect_complete();
        let full_after = full_before.at(to).unwrap().expect_complete();
        prop_assert_eq!(&full_before.diff(&full_after).unwrap().expect_complete(), &diff);
        // A wrong diff, the roots swapped, or a block missing: refused.
        let mut wrong = diff.clone();
        wrong.entry("c".into()).or_default().added.push(Ipld::Map([("_id".to_string(), Ipld::Integer(1000))].into()));
        prop_assert!(verify_diff(&from, &to, &wrong, &proof).is_err());
        // One DAG-CBOR cannot hold: refused, not a panic.
        let mut wrong = diff.clone();
        wrong.entry("c".into()).or_default().added.push(Ipld::Map([("_id".to_string(), Ipld::Integer(1 << 100))].into()));
        prop_assert!(matches!(verify_diff(&from, &to, &wrong, &proof), Err(VerifyError::Mismatch("result"))));
        if from != to {
            prop_assert!(verify_diff(&to, &from, &diff, &proof).is_err());
        }
        let (_, envelope_bytes, blocks) = parts(&proof);
        if !blocks.is_empty() {
            let mut fewer = blocks.clone();
            fewer.remove(drop_at.index(blocks.len()));
            let cut = repackage(&Envelope::decode(&envelope_bytes).unwrap(), &fewer);
            prop_assert!(matches!(verify_diff(&from, &to, &diff, &cut), Err(VerifyError::Incomplete(_))));
        }
    }
}

/// A claimed result that DAG-CBOR cannot hold (only one built by hand can) is refused, not a
/// panic.
#[test]
fn a_result_dag_cbor_cannot_hold_is_refused() {
    let store = MemoryBlockstore::default();
    let doc = Ipld::Map([("_id".to_string(), Ipld::Integer(1))].into());
    let root = database(&store, &[doc], &[]);
    let q = Query::from_json(r#"{"collection": "c", "filter": {"_id": 1}}"#).unwrap();
    let proof = prove(&store, root, &q).unwrap().expect_complete();
    verify(&root, &q, &proof.result, &proof.bytes).unwrap();
    let mut wrong = proof.result.clone();
    wrong.docs[0] = Ipld::Map([("_id".to_string(), Ipld::Integer(1 << 100))].into());
    assert!(matches!(
        verify(&root, &q, &wrong, &proof.bytes),
        Err(VerifyError::Mismatch("result"))
    ));
}

fn subject() -> impl Strategy<Value = Subject> {
    let cid = any::<[u8; 8]>().prop_map(|d| cid_of(&d));
    prop_oneof![
        cid.clone().prop_map(Subject::Root),
        (cid.clone(), any::<u64>()).prop_map(|(state, actor)| Subject::Anchored { state, actor }),
        (cid.clone(), cid.clone()).prop_map(|(from, to)| Subject::Diff { from, to }),
        (cid, any::<u64>()).prop_map(|(state, actor)| Subject::Actor { state, actor }),
    ]
}

proptest! {
    /// The envelope written field by field is the envelope encoded from IPLD, and reads back.
    #[test]
    fn an_envelope_encodes_as_its_ipld_form(
        subject in subject(),
        query in prop::collection::vec(any::<u8>(), 0..40),
        result in prop::collection::vec(any::<u8>(), 0..300),
    ) {
        let envelope = Envelope { subject, query, result };
        let bytes = envelope.encode();
        let from_ipld = prolly_tree::RawValue::from_ipld(&envelope.to_ipld()).unwrap();
        prop_assert_eq!(bytes.as_slice(), from_ipld.as_bytes());
        prop_assert_eq!(Envelope::decode(&bytes).unwrap(), envelope);
    }
}
