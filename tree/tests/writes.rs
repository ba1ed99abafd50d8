//! How a write reaches the store: one `put_many_keyed` call per operation (so a transactional store
//! commits once), no block of the current version written again, nothing at all on failure.

mod common;

use std::cell::{Cell, RefCell};
use std::collections::HashSet;

use cid::Cid;
use common::*;
use fvm_ipld_blockstore::{Block, Blockstore, MemoryBlockstore};
use ipld_core::ipld::Ipld;
use multihash_codetable::{Code, MultihashDigest};
use prolly_tree::{Batch, Node, RootObject, Tree, Value};

#[derive(Default)]
struct Recording {
    inner: MemoryBlockstore,
    put_many_calls: Cell<usize>,
    blocks_put: Cell<usize>,
    already_held: Cell<usize>,
    seen: RefCell<HashSet<Cid>>,
}

impl Recording {
    /// Marks the blocks of the current version: writing one of them again is waste.
    fn mark(&self, root: &Cid) {
        let mut seen = self.seen.borrow_mut();
        seen.clear();
        seen.insert(*root);
        let root = RootObject::load(&self.inner, root)
            .unwrap()
            .expect_complete();
        let mut stack = vec![root.node];
        while let Some(cid) = stack.pop() {
            seen.insert(cid);
            let node = Node::decode(self.inner.get(&cid).unwrap().unwrap()).unwrap();
            stack.extend(node.entries().iter().filter_map(|e| match e.value {
                Value::Child { cid, .. } => Some(cid),
                Value::Data(_) => None,
            }));
        }
    }

    fn reset(&self) {
        self.put_many_calls.set(0);
        self.blocks_put.set(0);
        self.already_held.set(0);
    }
}

impl Blockstore for Recording {
    fn get(&self, k: &Cid) -> anyhow::Result<Option<Vec<u8>>> {
        self.inner.get(k)
    }
    fn put_keyed(&self, k: &Cid, block: &[u8]) -> anyhow::Result<()> {
        self.blocks_put.set(self.blocks_put.get() + 1);
        if self.seen.borrow().contains(k) {
            self.already_held.set(self.already_held.get() + 1);
        }
        self.inner.put_keyed(k, block)
    }
    fn put_many_keyed<D, I>(&self, blocks: I) -> anyhow::Result<()>
    where
        Self: Sized,
        D: AsRef<[u8]>,
        I: IntoIterator<Item = (Cid, D)>,
    {
        put_each_counting(self, &self.put_many_calls, blocks)
    }
}

/// A test store's `put_many_keyed`: counts the call, then puts each block.
fn put_each_counting<S: Blockstore, D: AsRef<[u8]>>(
    store: &S,
    calls: &Cell<usize>,
    blocks: impl IntoIterator<Item = (Cid, D)>,
) -> anyhow::Result<()> {
    calls.set(calls.get() + 1);
    for (k, block) in blocks {
        store.put_keyed(&k, block.as_ref())?;
    }
    Ok(())
}

#[test]
fn each_write_is_one_put_many_call_of_new_blocks_only() {
    let store = Recording::default();
    let entries = (0..5000).map(|n| (key(n), value(n as u64)));
    let mut tree = Tree::build(&store, small_config(), entries).unwrap();
    assert_eq!(store.put_many_calls.get(), 1, "a bulk build flushes once");
    for round in 0..20u32 {
        store.reset();
        store.mark(&tree.cid());
        let mut batch = Batch::new();
        for i in 0..50 {
            batch.put(key(10_000 + round * 50 + i), value(1));
            batch.delete(key(round * 97 + i));
        }
        tree.apply(&batch).unwrap().expect_complete();
        assert_eq!(store.put_many_calls.get(), 1, "one flush per batch");
        assert!(store.blocks_put.get() > 1);
        assert_eq!(
            store.already_held.get(),
            0,
            "a block of the current version was written again"
        );
    }
    // A batch that changes nothing writes nothing.
    store.reset();
    let mut batch = Batch::new();
    batch.put(key(10_000), value(1)).delete(key(1));
    tree.apply(&batch).unwrap().expect_complete();
    assert_eq!(store.put_many_calls.get(), 0);
}

#[test]
fn a_refused_batch_writes_nothing() {
    let store = Recording::default();
    let mut tree =
        Tree::build(&store, small_config(), (0..100).map(|n| (key(n), value(0)))).unwrap();
    let before = tree.cid();
    store.reset();
    let mut batch = Batch::new();
    batch
        .put(key(500), value(1))
        .put(key(501), Ipld::Float(f64::INFINITY));
    assert!(tree.apply(&batch).is_err());
    assert_eq!(store.blocks_put.get(), 0);
    assert_eq!(tree.cid(), before);
}

#[test]
fn a_refused_build_writes_nothing() {
    let store = Recording::default();
    let entries = (0..500).map(|n| {
        let v = if n == 400 {
            Ipld::Float(f64::NAN)
        } else {
            value(n as u64)
        };
        (key(n), v)
    });
    assert!(Tree::build(&store, small_config(), entries).is_err());
    assert_eq!(store.blocks_put.get(), 0, "the valid prefix was written");
    // Keys out of order are refused the same way.
    let unordered = [(key(2), value(2)), (key(1), value(1))];
    assert!(Tree::build(&store, small_config(), unordered).is_err());
    assert_eq!(store.blocks_put.get(), 0);
}

proptest::proptest! {
    /// The level-by-level batch path and the rebuild path (taken when a batch is large against
    /// the tree) give the same root for the same batch, and it is the bulk build's root.
    #[test]
    fn the_incremental_and_rebuild_paths_agree(
        initial in proptest::collection::btree_map(0u32..2_000, 0u64..50, 0..300),
        ops in proptest::collection::vec((0u32..2_000, proptest::option::of(0u64..50)), 0..400),
    ) {
        let store = MemoryBlockstore::default();
        let mut model: std::collections::BTreeMap<Vec<u8>, Ipld> =
            initial.iter().map(|(k, v)| (key(*k), value(*v))).collect();
        let start = build(&store, small_config(), &model);
        let mut batch = Batch::new();
        for (k, v) in &ops {
            match v {
                Some(v) => {
                    batch.put(key(*k), value(*v));
                    model.insert(key(*k), value(*v));
                }
                None => {
                    batch.delete(key(*k));
                    model.remove(&key(*k));
                }
            }
        }
        let mut incremental = start.clone();
        let mut rebuilt = start.clone();
        let a = incremental.apply_by(&batch, false).unwrap().expect_complete();
        let b = rebuilt.apply_by(&batch, true).unwrap().expect_complete();
        proptest::prop_assert_eq!(a, b);
        proptest::prop_assert_eq!(a, build(&store, small_config(), &model).cid());
        assert_valid(&store, &a);
    }
}

proptest::proptest! {
    /// Blocks named together (a bulk build's leaves) get the names each one gets alone, whatever
    /// their number (fewer or more than AVX2's four lanes) and lengths (across blake2b's 128-byte
    /// blocks, and empty).
    #[test]
    fn blocks_named_together_are_named_as_alone(
        blocks in proptest::collection::vec(proptest::collection::vec(0u8..=255, 0..700), 0..20),
    ) {
        let alone: Vec<Cid> = blocks.iter().map(|b| prolly_tree::cid_of(b)).collect();
        proptest::prop_assert_eq!(prolly_tree::cids_of(&blocks), alone);
    }
}

/// A store that names each block itself, as the FVM's does, and by its own rule (blake2b-256 of
/// the block and a suffix): a tree over it must link the names the store gave.
#[derive(Default)]
struct Naming {
    inner: MemoryBlockstore,
    puts: Cell<usize>,
    put_many_calls: Cell<usize>,
    fail_after: Cell<Option<usize>>,
}

impl Blockstore for Naming {
    fn get(&self, k: &Cid) -> anyhow::Result<Option<Vec<u8>>> {
        self.inner.get(k)
    }
    fn put_keyed(&self, k: &Cid, block: &[u8]) -> anyhow::Result<()> {
        self.inner.put_keyed(k, block)
    }
    fn put_many_keyed<D, I>(&self, blocks: I) -> anyhow::Result<()>
    where
        Self: Sized,
        D: AsRef<[u8]>,
        I: IntoIterator<Item = (Cid, D)>,
    {
        put_each_counting(self, &self.put_many_calls, blocks)
    }
    fn put<D>(&self, _code: Code, block: &Block<D>) -> anyhow::Result<Cid>
    where
        Self: Sized,
        D: AsRef<[u8]>,
    {
        if self.fail_after.get().is_some_and(|n| self.puts.get() >= n) {
            anyhow::bail!("the store is full");
        }
        self.puts.set(self.puts.get() + 1);
        let named = [block.data.as_ref(), b"named by the store"].concat();
        let cid = Cid::new_v1(block.codec, Code::Blake2b256.digest(&named));
        self.inner.put_keyed(&cid, block.data.as_ref())?;
        Ok(cid)
    }
}

#[test]
fn over_a_store_that_names_blocks_a_write_links_the_names_it_gave() {
    let store = Naming::default();
    let model: std::collections::BTreeMap<Vec<u8>, Ipld> =
        (0..600).map(|n| (key(n * 2), value(n as u64))).collect();
    let built = Tree::build(
        &store,
        small_config(),
        model.iter().map(|(k, v)| (k.clone(), v.clone())),
    )
    .unwrap();
    assert_eq!(
        store.puts.get(),
        0,
        "a tree that checks its store names blocks itself"
    );
    for rebuild in [false, true] {
        let mut model = model.clone();
        let mut tree = Tree::load(&store, built.cid())
            .unwrap()
            .expect_complete()
            .trusting_store();
        let mut batch = Batch::new();
        let n: u32 = if rebuild { 2_000 } else { 40 };
        for i in 0..n {
            batch.put(key(i * 3 + 1), value(7));
            model.insert(key(i * 3 + 1), value(7));
        }
        store.puts.set(0);
        store.put_many_calls.set(0);
        tree.apply_by(&batch, rebuild).unwrap().expect_complete();
        assert!(
            store.puts.get() > 1,
            "new blocks went to the store one by one"
        );
        assert_eq!(store.put_many_calls.get(), 0, "and none waited for a flush");
        // The store's names differ from blake2b-256 of the blocks, so the tree reads back only
        // if it linked them.
        let expected = build(&MemoryBlockstore::default(), small_config(), &model).cid();
        assert_ne!(tree.cid(), expected);
        let all = tree
            .range(
                std::ops::Bound::Unbounded,
                std::ops::Bound::Unbounded,
                prolly_tree::Direction::Forward,
            )
            .unwrap()
            .expect_complete();
        assert_eq!(plain(all), model.into_iter().collect::<Vec<_>>());
    }
}

#[test]
fn a_put_the_store_refuses_fails_the_write_and_leaves_the_tree() {
    let store = Naming::default();
    let built = Tree::build(
        &store,
        small_config(),
        (0..300).map(|n| (key(n), value(n as u64))),
    )
    .unwrap();
    let mut tree = Tree::load(&store, built.cid())
        .unwrap()
        .expect_complete()
        .trusting_store();
    let mut batch = Batch::new();
    for i in 0..30 {
        batch.put(key(1_000 + i), value(1));
    }
    store.fail_after.set(Some(2));
    assert!(tree.apply(&batch).is_err());
    assert_eq!(tree.cid(), built.cid());
    store.fail_after.set(None);
    tree.apply(&batch).unwrap().expect_complete();
    assert_eq!(tree.len(), 330);
}
