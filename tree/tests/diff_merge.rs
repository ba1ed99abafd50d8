//! Diff and 3-way merge agree with the same operations on `BTreeMap` models, and diff reads only
//! the blocks the changes touch.

mod common;

use std::collections::{BTreeMap, BTreeSet};

use common::*;
use fvm_ipld_blockstore::MemoryBlockstore;
use ipld_core::ipld::Ipld;
use prolly_tree::{Batch, Change, Resolution, Tree};
use proptest::prelude::*;

type Model = BTreeMap<Vec<u8>, Ipld>;

fn edits() -> impl Strategy<Value = Vec<(u32, Option<u64>)>> {
    prop::collection::vec((0u32..700, prop::option::weighted(0.7, 0u64..4)), 0..60)
}

fn apply(tree: &mut Tree<&MemoryBlockstore>, model: &mut Model, edits: &[(u32, Option<u64>)]) {
    let mut batch = Batch::new();
    for (k, v) in edits {
        match v {
            Some(v) => batch.put(key(*k), value(*v)),
            None => batch.delete(key(*k)),
        };
    }
    for (k, v) in batch.iter() {
        match v {
            Some(v) => model.insert(k.to_vec(), v.to_ipld().unwrap()),
            None => model.remove(&k[..]),
        };
    }
    tree.apply(&batch).unwrap().expect_complete();
}

fn model_diff(a: &Model, b: &Model) -> Vec<Change> {
    let keys: BTreeSet<_> = a.keys().chain(b.keys()).collect();
    keys.into_iter()
        .filter(|k| a.get(*k) != b.get(*k))
        .map(|k| Change {
            key: k.clone().into(),
            left: a.get(k).map(raw),
            right: b.get(k).map(raw),
        })
        .collect()
}

proptest! {
    #[test]
    fn diff_and_merge_agree_with_the_model(
        base_keys in prop::collection::btree_map(0u32..700, 0u64..4, 0..500),
        ours in edits(),
        theirs in edits(),
    ) {
        let store = MemoryBlockstore::default();
        let base_model: Model = base_keys.iter().map(|(k, v)| (key(*k), value(*v))).collect();
        let base = build(&store, small_config(), &base_model);
        let (mut left, mut left_model) = (base.clone(), base_model.clone());
        apply(&mut left, &mut left_model, &ours);
        let (mut right, mut right_model) = (base.clone(), base_model.clone());
        apply(&mut right, &mut right_model, &theirs);

        prop_assert_eq!(left.diff(&right).unwrap().expect_complete(), model_diff(&left_model, &right_model));
        prop_assert_eq!(base.diff(&left).unwrap().expect_complete(), model_diff(&base_model, &left_model));

        // Merge, conflicts resolved in favour of the right side (a deletion wins as a deletion).
        let mut expected = left_model.clone();
        let mut conflicts = BTreeSet::new();
        for k in base_model.keys().chain(left_model.keys()).chain(right_model.keys()) {
            let (b, l, r) = (base_model.get(k), left_model.get(k), right_model.get(k));
            if r != b {
                if l != b && l != r {
                    conflicts.insert(k.clone());
                }
                match r { Some(v) => expected.insert(k.clone(), v.clone()), None => expected.remove(k) };
            }
        }
        let mut seen = BTreeSet::new();
        let mut merged = left.clone();
        merged.merge(&base, &right, |c| {
            seen.insert(c.key.to_vec());
            match c.right { Some(v) => Resolution::Put(v.clone()), None => Resolution::Delete }
        }).unwrap().expect_complete();
        assert_valid(&store, &merged.cid());
        prop_assert_eq!(seen, conflicts);
        let expected_tree = build(&store, small_config(), &expected);
        prop_assert_eq!(merged.cid(), expected_tree.cid());
    }
}

#[test]
fn a_refused_conflict_fails_and_changes_nothing() {
    let store = MemoryBlockstore::default();
    let base_model: Model = (0..100).map(|n| (key(n), value(0))).collect();
    let base = build(&store, small_config(), &base_model);
    let mut left = base.clone();
    left.put(key(5), value(1)).unwrap().expect_complete();
    let mut right = base.clone();
    right.put(key(5), value(2)).unwrap().expect_complete();
    let before = left.cid();
    let err = left
        .merge(&base, &right, |_| Resolution::Refuse)
        .unwrap_err();
    assert!(
        matches!(err, prolly_tree::Error::Conflict { ref key } if *key == common::key(5)),
        "{err}"
    );
    assert_eq!(left.cid(), before);
}

/// A blockstore that counts reads, to show diff skips shared subtrees.
#[derive(Default)]
struct Counting {
    inner: MemoryBlockstore,
    reads: std::cell::Cell<usize>,
}

impl fvm_ipld_blockstore::Blockstore for Counting {
    fn get(&self, k: &cid::Cid) -> anyhow::Result<Option<Vec<u8>>> {
        self.reads.set(self.reads.get() + 1);
        self.inner.get(k)
    }
    fn put_keyed(&self, k: &cid::Cid, block: &[u8]) -> anyhow::Result<()> {
        self.inner.put_keyed(k, block)
    }
}

#[test]
fn diff_reads_blocks_in_proportion_to_changes() {
    let store = Counting::default();
    let entries = (0..20_000).map(|n| (key(n), value(n as u64)));
    let base = Tree::build(&store, prolly_tree::Config::default(), entries).unwrap();
    let depth = base.stats().unwrap().expect_complete().depth as usize;
    let mut changed = base.clone();
    changed
        .put(key(12_345), value(0))
        .unwrap()
        .expect_complete();
    store.reads.set(0);
    let diff = base.diff(&changed).unwrap().expect_complete();
    assert_eq!(diff.len(), 1);
    // Each side reads the changed path only (plus a neighbour leaf where a boundary moved).
    assert!(
        store.reads.get() <= 2 * (depth + 1),
        "{} reads for depth {depth}",
        store.reads.get()
    );
}
