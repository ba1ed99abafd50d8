//! History independence: whatever the order of writes, the batch splits, and the entries written
//! and deleted on the way, the root is the root of a bulk build of the final set.

mod common;

use std::collections::BTreeMap;

use common::*;
use fvm_ipld_blockstore::MemoryBlockstore;
use ipld_core::ipld::Ipld;
use prolly_tree::{Batch, Tree};
use proptest::prelude::*;

/// A value whose size varies, so that some nodes are closed by the byte cap.
fn sized_value(seed: u64, len: usize) -> Ipld {
    Ipld::Bytes(vec![seed as u8; len])
}

/// A write of one key: a value (seed, length) or a delete.
type Write = (u32, Option<(u64, usize)>);

#[derive(Debug, Clone)]
struct Scenario {
    /// Final entries: key -> (seed, value length).
    target: BTreeMap<u32, (u64, usize)>,
    /// Every write, in the order applied: (key, value or delete).
    ops: Vec<Write>,
    /// Batch sizes to cut `ops` into.
    cuts: Vec<usize>,
}

fn scenario() -> impl Strategy<Value = Scenario> {
    let target = prop::collection::btree_map(0u32..3000, (any::<u64>(), 0usize..160), 0..400);
    let transient = prop::collection::btree_set(3000u32..6000, 0..60);
    let rewritten = prop::collection::vec(any::<prop::sample::Index>(), 0..40);
    (target, transient, rewritten)
        .prop_flat_map(|(target, transient, rewritten)| {
            // Per key, its writes in order: transient keys are put then deleted, some target keys
            // first get another value, every target key ends with its final value.
            let keys: Vec<u32> = target.keys().copied().collect();
            let mut per_key: Vec<Vec<Write>> = Vec::new();
            for k in &transient {
                per_key.push(vec![(*k, Some((1, 8))), (*k, None)]);
            }
            let mut rewrite: Vec<u32> = rewritten
                .iter()
                .filter(|_| !keys.is_empty())
                .map(|i| keys[i.index(keys.len())])
                .collect();
            rewrite.sort();
            rewrite.dedup();
            for (k, v) in &target {
                let mut ops = Vec::new();
                if rewrite.binary_search(k).is_ok() {
                    ops.push((*k, Some((v.0.wrapping_add(1), 150 - v.1.min(150)))));
                }
                ops.push((*k, Some(*v)));
                per_key.push(ops);
            }
            let slots: Vec<usize> = per_key
                .iter()
                .enumerate()
                .flat_map(|(i, ops)| std::iter::repeat_n(i, ops.len()))
                .collect();
            let n = slots.len();
            (
                Just(target),
                Just(per_key),
                Just(slots).prop_shuffle(),
                prop::collection::vec(1usize..80, n.max(1)),
            )
        })
        .prop_map(|(target, per_key, slots, cuts)| {
            // The shuffled slots say which key writes next; each key's writes keep their order.
            let mut next = vec![0usize; per_key.len()];
            let ops = slots
                .into_iter()
                .map(|i| {
                    next[i] += 1;
                    per_key[i][next[i] - 1]
                })
                .collect();
            Scenario { target, ops, cuts }
        })
}

proptest! {
    #[test]
    fn any_history_gives_the_bulk_build_root(s in scenario()) {
        let store = MemoryBlockstore::default();
        let final_set: BTreeMap<Vec<u8>, Ipld> =
            s.target.iter().map(|(k, (seed, len))| (key(*k), sized_value(*seed, *len))).collect();
        let expected = build(&store, small_config(), &final_set);
        assert_valid(&store, &expected.cid());

        let mut tree = Tree::empty(&store, small_config()).unwrap();
        let mut ops = s.ops.iter();
        for cut in s.cuts.iter().cycle() {
            let mut batch = Batch::new();
            for (k, v) in ops.by_ref().take(*cut) {
                match v {
                    Some((seed, len)) => batch.put(key(*k), sized_value(*seed, *len)),
                    None => batch.delete(key(*k)),
                };
            }
            if batch.is_empty() {
                break;
            }
            tree.apply(&batch).unwrap().expect_complete();
            assert_valid(&store, &tree.cid());
        }
        prop_assert_eq!(tree.cid(), expected.cid());
        prop_assert_eq!(tree.len(), final_set.len() as u64);
    }
}

#[test]
fn sequential_appends_and_reverse_inserts_agree() {
    let store = MemoryBlockstore::default();
    let model: BTreeMap<_, _> = (0..1500).map(|n| (key(n), value(n as u64))).collect();
    let expected = build(&store, small_config(), &model).cid();
    for order in [
        (0..1500).collect::<Vec<u32>>(),
        (0..1500).rev().collect(),
        (0..1500).map(|n| (n * 7919) % 1500).collect(),
    ] {
        let mut tree = Tree::empty(&store, small_config()).unwrap();
        for n in order {
            tree.put(key(n), value(n as u64)).unwrap().expect_complete();
        }
        assert_valid(&store, &tree.cid());
        assert_eq!(tree.cid(), expected);
    }
}

#[test]
fn the_salt_changes_the_shape() {
    let store = MemoryBlockstore::default();
    let model: BTreeMap<_, _> = (0..300).map(|n| (key(n), value(n as u64))).collect();
    let a = build(&store, small_config(), &model).cid();
    let b = build(
        &store,
        prolly_tree::Config {
            salt: 8,
            ..small_config()
        },
        &model,
    )
    .cid();
    assert_ne!(a, b);
}
