//! The chain anchor on real Filecoin state: butterflynet's genesis state tree (state-tree version
//! 5). Every listed actor's head is found from the blocks of its own HAMT path alone, an absent ID
//! is proven absent, and a tampered block is refused. Skips when the data set is absent.

use std::collections::BTreeMap;

use cid::Cid;
use fvm_ipld_blockstore::{Blockstore, MemoryBlockstore};
use prolly_proofs::{ActorEntry, prove_actor, verify_actor};
use prolly_proofs::{VerifyError, car};

fn genesis() -> Option<(MemoryBlockstore, Cid, BTreeMap<u64, ActorEntry>)> {
    let dir = prolly_db::testing::data_dir().join("filecoin-genesis");
    let bytes = std::fs::read(dir.join("butterflynet-genesis-state.car")).ok()?;
    let expected: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dir.join("butterflynet-expected-actors.json")).ok()?)
            .ok()?;
    let (_, blocks) = car::read_any(&bytes).expect("the genesis CAR reads");
    let store = MemoryBlockstore::default();
    for (cid, data) in blocks {
        store.put_keyed(&cid, &data).unwrap();
    }
    let state_root: Cid = expected["parent_state_root"].as_str()?.parse().ok()?;
    let actors = expected["actors"]
        .as_object()?
        .iter()
        .map(|(id, a)| {
            (
                id.parse().unwrap(),
                ActorEntry {
                    code: a["code"].as_str().unwrap().parse().unwrap(),
                    head: a["head"].as_str().unwrap().parse().unwrap(),
                    nonce: a["nonce"].as_u64().unwrap(),
                },
            )
        })
        .collect();
    Some((store, state_root, actors))
}

#[test]
fn the_real_state_tree_proves_every_actor_and_absences() {
    let Some((store, state_root, actors)) = genesis() else {
        eprintln!(
            "SKIP the_real_state_tree_proves_every_actor_and_absences: no filecoin-genesis under PROLLYDB_DATA or ../shared/data"
        );
        return;
    };
    assert_eq!(actors.len(), 21);
    for (id, expected) in &actors {
        let (entry, proof) = prove_actor(&store, state_root, *id)
            .unwrap()
            .expect_complete();
        assert_eq!(entry.as_ref(), Some(expected), "actor {id}");
        verify_actor(&state_root, *id, Some(expected), &proof).unwrap();
        // A claim of another head, or of absence, is refused.
        let mut other = expected.clone();
        other.head = state_root;
        assert!(verify_actor(&state_root, *id, Some(&other), &proof).is_err());
        assert!(verify_actor(&state_root, *id, None, &proof).is_err());
    }
    for absent in [7, 99, 1500, 123_456_789] {
        if actors.contains_key(&absent) {
            continue;
        }
        let (entry, proof) = prove_actor(&store, state_root, absent)
            .unwrap()
            .expect_complete();
        assert_eq!(entry, None, "actor {absent} is absent");
        verify_actor(&state_root, absent, None, &proof).unwrap();
        let some = actors.values().next().unwrap();
        assert!(matches!(
            verify_actor(&state_root, absent, Some(some), &proof),
            Err(VerifyError::Mismatch(_))
        ));
    }

    // Tampering: any flipped byte in any block of a path proof is refused.
    let (id, expected) = actors.iter().next().unwrap();
    let (_, proof) = prove_actor(&store, state_root, *id)
        .unwrap()
        .expect_complete();
    let mut refused = 0;
    for at in (0..proof.len()).step_by(7) {
        let mut bad = proof.clone();
        bad[at] ^= 0x20;
        if verify_actor(&state_root, *id, Some(expected), &bad).is_err() {
            refused += 1;
        } else {
            panic!("a proof with byte {at} flipped was accepted");
        }
    }
    assert!(refused > 10);
    // Against another state root.
    assert!(verify_actor(&Cid::default(), *id, Some(expected), &proof).is_err());
}

/// A query proven from a state root: a state tree built here with fvm_ipld_hamt holds a prollydb
/// actor whose state is `[owner, writers, db root, seq]` (the FVM end-to-end test does the same
/// against a live machine).
#[test]
fn anchored_query_proofs_verify_from_the_state_root_alone() {
    use fvm_ipld_hamt::{BytesKey, Hamt};
    use ipld_core::ipld::Ipld;
    use prolly_db::{Database, Query, WriteBatch};
    use prolly_proofs::id_address;
    use prolly_proofs::{prove_anchored, verify_anchored, verify_claim_anchored};
    use prolly_tree::{Config, RawValue, cid_of};

    let store = MemoryBlockstore::default();
    let mut db = Database::create(&store, Config::default()).unwrap();
    let mut batch = WriteBatch::new();
    batch.create_collection("c");
    for i in 0..500 {
        batch.insert(
            "c",
            prolly_db::parse_json(&format!(r#"{{"_id": {i}, "v": {}}}"#, i * 3)).unwrap(),
        );
    }
    db.apply(&batch).unwrap().expect_complete();

    let put = |value: Ipld| {
        let raw = RawValue::from_ipld(&value).unwrap();
        let cid = cid_of(raw.as_bytes());
        store.put_keyed(&cid, raw.as_bytes()).unwrap();
        cid
    };
    let actor_id = 1234;
    let head = put(Ipld::List(vec![
        Ipld::Bytes(id_address(100)),
        Ipld::List(vec![Ipld::Bytes(id_address(101))]),
        Ipld::Link(db.root()),
        Ipld::Integer(7),
    ]));
    let code = cid_of(b"prollydb actor code");
    let mut actors: Hamt<&MemoryBlockstore, Ipld, BytesKey> = Hamt::new_with_bit_width(&store, 5);
    for other in 0..40u64 {
        let entry = Ipld::List(vec![
            Ipld::Link(code),
            Ipld::Link(cid_of(&other.to_be_bytes())),
            Ipld::Integer(0),
            Ipld::Bytes(vec![]),
            Ipld::Null,
        ]);
        actors.set(BytesKey(id_address(other)), entry).unwrap();
    }
    let entry = Ipld::List(vec![
        Ipld::Link(code),
        Ipld::Link(head),
        Ipld::Integer(0),
        Ipld::Bytes(vec![]),
        Ipld::Null,
    ]);
    actors.set(BytesKey(id_address(actor_id)), entry).unwrap();
    let actors_root = actors.flush().unwrap();
    let info = put(Ipld::List(vec![]));
    let state_root = put(Ipld::List(vec![
        Ipld::Integer(5),
        Ipld::Link(actors_root),
        Ipld::Link(info),
    ]));

    let query =
        Query::from_json(r#"{"collection": "c", "filter": {"_id": {"$gte": 10, "$lt": 20}}}"#)
            .unwrap();
    let proof = prove_anchored(&store, state_root, actor_id, &query)
        .unwrap()
        .expect_complete();
    assert_eq!(proof.result.docs.len(), 10);
    verify_anchored(&state_root, actor_id, &query, &proof.result, &proof.bytes).unwrap();
    // The same proof does not hold for another actor, another state root, or another result.
    assert!(verify_anchored(&state_root, 5, &query, &proof.result, &proof.bytes).is_err());
    assert!(verify_anchored(&info, actor_id, &query, &proof.result, &proof.bytes).is_err());
    let mut wrong = proof.result.clone();
    wrong.docs.pop();
    assert!(verify_anchored(&state_root, actor_id, &query, &wrong, &proof.bytes).is_err());
    // Read from the proof, the claim is the result, for that actor and state root only.
    let claim = verify_claim_anchored(&state_root, actor_id, &query, &proof.bytes).unwrap();
    assert_eq!(claim, proof.result);
    assert!(verify_claim_anchored(&state_root, 5, &query, &proof.bytes).is_err());
    assert!(verify_claim_anchored(&info, actor_id, &query, &proof.bytes).is_err());
    // An actor that is not there: refused while proving.
    assert!(prove_anchored(&store, state_root, 77, &query).is_err());
    eprintln!(
        "anchored proof: {} bytes, {} witness blocks",
        proof.bytes.len(),
        proof.witness_blocks
    );
}
