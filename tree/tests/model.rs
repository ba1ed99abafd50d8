//! The tree against a `BTreeMap` model: random operation sequences must agree on get, ranges in
//! both directions, and len, and every state must pass `check_invariants`.

mod common;

use std::collections::BTreeMap;
use std::ops::Bound;

use common::*;
use fvm_ipld_blockstore::MemoryBlockstore;
use ipld_core::ipld::Ipld;
use prolly_tree::{Batch, Direction, Tree};
use proptest::prelude::*;

#[derive(Debug, Clone)]
enum Op {
    Put(u32, u64),
    Delete(u32),
    Batch(Vec<(u32, Option<u64>)>),
}

fn op() -> impl Strategy<Value = Op> {
    let k = 0u32..400;
    prop_oneof![
        3 => (k.clone(), any::<u64>()).prop_map(|(k, v)| Op::Put(k, v)),
        1 => k.clone().prop_map(Op::Delete),
        2 => prop::collection::vec((k, prop::option::weighted(0.7, any::<u64>())), 0..120).prop_map(Op::Batch),
    ]
}

fn bound(b: Bound<u32>) -> Bound<Vec<u8>> {
    match b {
        Bound::Included(k) => Bound::Included(key(k)),
        Bound::Excluded(k) => Bound::Excluded(key(k)),
        Bound::Unbounded => Bound::Unbounded,
    }
}

fn bound_strategy() -> impl Strategy<Value = Bound<u32>> {
    prop_oneof![
        (0u32..410).prop_map(Bound::Included),
        (0u32..410).prop_map(Bound::Excluded),
        Just(Bound::Unbounded),
    ]
}

fn as_ref(b: &Bound<Vec<u8>>) -> Bound<&[u8]> {
    match b {
        Bound::Included(k) => Bound::Included(k.as_slice()),
        Bound::Excluded(k) => Bound::Excluded(k.as_slice()),
        Bound::Unbounded => Bound::Unbounded,
    }
}

fn model_range(
    model: &BTreeMap<Vec<u8>, Ipld>,
    lo: &Bound<Vec<u8>>,
    hi: &Bound<Vec<u8>>,
) -> Vec<(Vec<u8>, Ipld)> {
    model
        .iter()
        .filter(|(k, _)| {
            let above = match lo {
                Bound::Included(l) => *k >= l,
                Bound::Excluded(l) => *k > l,
                Bound::Unbounded => true,
            };
            let below = match hi {
                Bound::Included(h) => *k <= h,
                Bound::Excluded(h) => *k < h,
                Bound::Unbounded => true,
            };
            above && below
        })
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect()
}

proptest! {
    #[test]
    fn agrees_with_btreemap(
        ops in prop::collection::vec(op(), 1..25),
        probes in prop::collection::vec(0u32..410, 8),
        ranges in prop::collection::vec((bound_strategy(), bound_strategy()), 4),
    ) {
        let store = MemoryBlockstore::default();
        let mut tree = Tree::empty(&store, small_config()).unwrap();
        let mut model = BTreeMap::new();
        for op in ops {
            let mut batch = Batch::new();
            match op {
                Op::Put(k, v) => { batch.put(key(k), value(v)); }
                Op::Delete(k) => { batch.delete(key(k)); }
                Op::Batch(items) => for (k, v) in items {
                    match v { Some(v) => batch.put(key(k), value(v)), None => batch.delete(key(k)) };
                },
            }
            for (k, v) in batch.iter() {
                match v { Some(v) => model.insert(k.to_vec(), v.to_ipld().unwrap()), None => model.remove(&k[..]) };
            }
            tree.apply(&batch).unwrap().expect_complete();
            assert_valid(&store, &tree.cid());
            prop_assert_eq!(tree.len(), model.len() as u64);
            for &p in &probes {
                prop_assert_eq!(ipld(tree.get(&key(p)).unwrap().expect_complete()), model.get(&key(p)).cloned());
                let rank = model.range::<Vec<u8>, _>(..key(p)).count() as u64;
                prop_assert_eq!(tree.rank(&key(p)).unwrap().expect_complete(), rank);
                let nth = tree.nth(p as u64).unwrap().expect_complete().map(|(k, v)| (k.to_vec(), v.to_ipld().unwrap()));
                prop_assert_eq!(nth, model.iter().nth(p as usize).map(|(k, v)| (k.clone(), v.clone())));
            }
            for (lo, hi) in &ranges {
                let (lo, hi) = (bound(*lo), bound(*hi));
                let expected = model_range(&model, &lo, &hi);
                let forward = plain(tree.range(as_ref(&lo), as_ref(&hi), Direction::Forward).unwrap().expect_complete());
                prop_assert_eq!(&forward, &expected);
                let backward = plain(tree.range(as_ref(&lo), as_ref(&hi), Direction::Backward).unwrap().expect_complete());
                let mut reversed = expected.clone();
                reversed.reverse();
                prop_assert_eq!(&backward, &reversed);
                let count = tree.count(as_ref(&lo), as_ref(&hi)).unwrap().expect_complete();
                prop_assert_eq!(count, expected.len() as u64);
                let limited = plain(tree.range_limit(as_ref(&lo), as_ref(&hi), Direction::Backward, 3).unwrap().expect_complete());
                prop_assert_eq!(&limited[..], &reversed[..reversed.len().min(3)]);
            }
        }
        // The whole tree, both ways, and the cursor stepping back and forth.
        let all = plain(tree.range(Bound::Unbounded, Bound::Unbounded, Direction::Forward).unwrap().expect_complete());
        prop_assert_eq!(all, model_range(&model, &Bound::Unbounded, &Bound::Unbounded));
        let mut cursor = tree.cursor();
        cursor.last().unwrap().expect_complete();
        let mut back = Vec::new();
        while let Some(k) = cursor.key() {
            back.push(k.to_vec());
            cursor.prev().unwrap().expect_complete();
        }
        let mut expected: Vec<_> = model.keys().cloned().collect();
        expected.reverse();
        prop_assert_eq!(back, expected);
    }
}

#[test]
fn empty_tree_reads() {
    let store = MemoryBlockstore::default();
    let tree = Tree::empty(&store, small_config()).unwrap();
    assert_eq!(tree.len(), 0);
    assert_eq!(tree.get(b"x").unwrap().expect_complete(), None);
    let all = tree
        .range(Bound::Unbounded, Bound::Unbounded, Direction::Backward)
        .unwrap()
        .expect_complete();
    assert!(all.is_empty());
    let mut cursor = tree.cursor();
    cursor.first().unwrap().expect_complete();
    assert!(!cursor.is_valid());
    assert_valid(&store, &tree.cid());
}

#[test]
fn deleting_everything_gives_the_empty_tree() {
    let store = MemoryBlockstore::default();
    let empty = Tree::empty(&store, small_config()).unwrap().cid();
    let model: BTreeMap<_, _> = (0..500).map(|n| (key(n), value(n as u64))).collect();
    let mut tree = build(&store, small_config(), &model);
    assert!(tree.stats().unwrap().expect_complete().depth >= 3);
    let mut batch = Batch::new();
    for k in model.keys() {
        batch.delete(k.clone());
    }
    tree.apply(&batch).unwrap().expect_complete();
    assert_eq!(tree.cid(), empty);
}
