//! Reads over a partial store: missing blocks are an outcome, reported a level at a time; corrupt
//! blocks are errors, never panics.

mod common;

use std::collections::BTreeMap;
use std::ops::Bound;

use cid::Cid;
use common::*;
use fvm_ipld_blockstore::{Blockstore, MemoryBlockstore};
use ipld_core::ipld::Ipld;
use prolly_tree::{
    Bytes, Config, Direction, Error, Node, Outcome, RootObject, Tree, Value, cid_of,
};
use proptest::prelude::*;

fn big_tree(store: &MemoryBlockstore) -> Tree<&MemoryBlockstore> {
    let model: BTreeMap<_, _> = (0..3000).map(|n| (key(n), value(n as u64))).collect();
    build(store, small_config(), &model)
}

/// Copies the reported blocks from `full` into `cache`.
fn fetch(
    full: &MemoryBlockstore,
    cache: &MemoryBlockstore,
    missing: impl IntoIterator<Item = Cid>,
) {
    for cid in missing {
        let block = full.get(&cid).unwrap().expect("block in the full store");
        cache.put_keyed(&cid, &block).unwrap();
    }
}

/// Runs `read` over a cold cache, fetching what each round reports, and counts the rounds.
fn rounds_to_complete<T>(
    full: &MemoryBlockstore,
    root: Cid,
    read: impl Fn(&Tree<&MemoryBlockstore>) -> Outcome<T>,
) -> (usize, T) {
    let (rounds, _, value) = fetched_to_complete(full, root, read);
    (rounds, value)
}

/// Like `rounds_to_complete`, and also counts the blocks fetched.
fn fetched_to_complete<T>(
    full: &MemoryBlockstore,
    root: Cid,
    read: impl Fn(&Tree<&MemoryBlockstore>) -> Outcome<T>,
) -> (usize, usize, T) {
    let cache = MemoryBlockstore::default();
    let mut rounds = 0;
    let mut fetched = 0;
    loop {
        let outcome = match Tree::load(&cache, root).unwrap() {
            Outcome::Complete(tree) => read(&tree),
            Outcome::Missing(m) => Outcome::Missing(m),
        };
        match outcome {
            Outcome::Complete(v) => return (rounds, fetched, v),
            Outcome::Missing(m) => {
                assert!(!m.is_empty());
                fetched += m.len();
                fetch(full, &cache, m);
                rounds += 1;
                assert!(rounds < 100, "no progress");
            }
        }
    }
}

#[test]
fn a_range_over_a_cold_store_takes_one_round_per_level() {
    let full = MemoryBlockstore::default();
    let tree = big_tree(&full);
    let depth = tree.stats().unwrap().expect_complete().depth as usize;
    assert!(depth >= 4, "want a deep tree, got depth {depth}");
    let cases: [(Bound<u32>, Bound<u32>, Direction); 5] = [
        (Bound::Unbounded, Bound::Unbounded, Direction::Forward),
        (
            Bound::Included(100),
            Bound::Excluded(900),
            Direction::Forward,
        ),
        (
            Bound::Excluded(100),
            Bound::Included(900),
            Direction::Backward,
        ),
        (Bound::Included(2990), Bound::Unbounded, Direction::Backward),
        (
            Bound::Included(1500),
            Bound::Included(1500),
            Direction::Forward,
        ),
    ];
    for (lo, hi, dir) in cases {
        let (lo, hi) = (lo.map(key), hi.map(key));
        let expected = tree
            .range(
                lo.as_ref().map(|k| k.as_slice()),
                hi.as_ref().map(|k| k.as_slice()),
                dir,
            )
            .unwrap()
            .expect_complete();
        let (rounds, got) = rounds_to_complete(&full, tree.cid(), |t| {
            t.range(
                lo.as_ref().map(|k| k.as_slice()),
                hi.as_ref().map(|k| k.as_slice()),
                dir,
            )
            .unwrap()
        });
        assert_eq!(got, expected);
        // One round for the root object, then one per level.
        assert!(rounds <= depth + 1, "{rounds} rounds for depth {depth}");
    }
    let (rounds, got) = rounds_to_complete(&full, tree.cid(), |t| t.get(&key(1234)).unwrap());
    assert_eq!(ipld(got), Some(value(1234)));
    assert!(rounds <= depth + 1);
}

/// Diffs two roots over `cache`, fetching from `full` what each round reports missing: (rounds,
/// blocks fetched, the changes).
fn diff_through(
    full: &MemoryBlockstore,
    cache: &MemoryBlockstore,
    left: Cid,
    right: Cid,
) -> (usize, usize, Vec<prolly_tree::Change>) {
    let (mut rounds, mut fetched) = (0, 0);
    loop {
        let trees = (
            Tree::load(cache, left).unwrap(),
            Tree::load(cache, right).unwrap(),
        );
        let outcome = match trees {
            (Outcome::Complete(a), Outcome::Complete(b)) => a.diff(&b).unwrap(),
            (a, b) => Outcome::Missing(a.missing().into_iter().chain(b.missing()).collect()),
        };
        match outcome {
            Outcome::Complete(changes) => return (rounds, fetched, changes),
            Outcome::Missing(m) => {
                fetched += m.len();
                fetch(full, cache, m);
                rounds += 1;
                assert!(rounds < 100, "no progress");
            }
        }
    }
}

#[test]
fn a_diff_over_a_cold_store_fetches_the_changed_paths_a_level_per_round() {
    let full = MemoryBlockstore::default();
    let base = big_tree(&full);
    let depth = base.stats().unwrap().expect_complete().depth as usize;
    let mut changed = base.clone();
    let mut batch = prolly_tree::Batch::new();
    for n in [10, 700, 1500, 2200, 2990] {
        batch.put(key(n), Ipld::String("changed".into()));
    }
    changed.apply(&batch).unwrap().expect_complete();
    let expected = base.diff(&changed).unwrap().expect_complete();
    assert_eq!(expected.len(), 5);
    let cache = MemoryBlockstore::default();
    let (rounds, fetched, got) = diff_through(&full, &cache, base.cid(), changed.cid());
    assert_eq!(got, expected);
    // The two root objects, then one round per level.
    assert!(rounds <= depth + 1, "{rounds} rounds for depth {depth}");
    // Both versions of each changed path (plus a neighbour where a cut moved), not the trees.
    assert!(
        fetched <= 2 + 2 * 5 * (depth + 1),
        "fetched {fetched} blocks"
    );
}

/// A cache that already holds the old tree's paths (a client that queried it) must not make the
/// diff fetch the children of every node it holds: at a level where the other tree is not known
/// yet, no node can be told shared or not.
#[test]
fn a_diff_over_a_warm_cache_fetches_no_more_than_over_a_cold_one() {
    let full = MemoryBlockstore::default();
    let base = big_tree(&full);
    let depth = base.stats().unwrap().expect_complete().depth as usize;
    let mut changed = base.clone();
    let mut batch = prolly_tree::Batch::new();
    let keys = [10, 700, 1500, 2200, 2990];
    for n in keys {
        batch.put(key(n), Ipld::String("changed".into()));
    }
    changed.apply(&batch).unwrap().expect_complete();
    let expected = base.diff(&changed).unwrap().expect_complete();
    // The cache holds the old tree's paths to the changed keys and to a few others.
    let cache = MemoryBlockstore::default();
    for n in keys.iter().chain(&[300, 1100, 1900, 2600]) {
        loop {
            let got = match Tree::load(&cache, base.cid()).unwrap() {
                Outcome::Complete(tree) => tree.get(&key(*n)).unwrap().map(|_| ()),
                Outcome::Missing(m) => Outcome::Missing(m),
            };
            match got {
                Outcome::Complete(()) => break,
                Outcome::Missing(m) => fetch(&full, &cache, m),
            }
        }
    }
    let (_, fetched, got) = diff_through(&full, &cache, base.cid(), changed.cid());
    assert_eq!(got, expected);
    // At most the new versions of the changed paths (and a neighbour where a cut moved).
    assert!(
        fetched <= 1 + 2 * keys.len() * (depth + 1),
        "fetched {fetched} blocks"
    );
}

/// A range read with a limit: (low bound, high bound, direction, limit).
type LimitedRange<'k> = (Bound<&'k [u8]>, Bound<&'k [u8]>, Direction, usize);

#[test]
fn a_limited_range_over_a_cold_store_fetches_only_what_it_needs() {
    let full = MemoryBlockstore::default();
    let tree = big_tree(&full);
    let stats = tree.stats().unwrap().expect_complete();
    let depth = stats.depth as usize;
    let k1000 = key(1000);
    let k2000 = key(2000);
    let cases: [LimitedRange; 5] = [
        (
            Bound::Included(&k1000),
            Bound::Unbounded,
            Direction::Forward,
            10,
        ),
        (Bound::Unbounded, Bound::Unbounded, Direction::Backward, 10),
        (
            Bound::Excluded(&k1000),
            Bound::Included(&k2000),
            Direction::Backward,
            25,
        ),
        (
            Bound::Unbounded,
            Bound::Excluded(&k2000),
            Direction::Forward,
            1,
        ),
        (
            Bound::Included(&k1000),
            Bound::Unbounded,
            Direction::Forward,
            200,
        ),
    ];
    for (lo, hi, dir, limit) in cases {
        let expected = tree
            .range_limit(lo, hi, dir, limit)
            .unwrap()
            .expect_complete();
        assert_eq!(expected.len(), limit);
        let (rounds, fetched, got) = fetched_to_complete(&full, tree.cid(), |t| {
            t.range_limit(lo, hi, dir, limit).unwrap()
        });
        assert_eq!(got, expected);
        assert!(rounds <= depth + 1, "{rounds} rounds for depth {depth}");
        // The root object, a path down, and the leaves the entries span (small nodes here hold a
        // handful of entries each), with a few nodes of slack at each level.
        let leaves = limit.div_ceil(3) + 2;
        assert!(
            fetched <= 1 + 3 * depth + leaves,
            "fetched {fetched} blocks for {limit} entries"
        );
    }
    assert!(
        stats.nodes > 300,
        "a tree big enough that fetching it all would show: {}",
        stats.nodes
    );
}

#[test]
fn a_missing_leaf_is_reported_by_cid() {
    let full = MemoryBlockstore::default();
    let tree = big_tree(&full);
    // Find the leaf holding key 777 by walking down with the public node type.
    let root = RootObject::load(&full, &tree.cid())
        .unwrap()
        .expect_complete();
    let mut cid = root.node;
    loop {
        let node = Node::decode(full.get(&cid).unwrap().unwrap()).unwrap();
        if node.level() == 0 {
            break;
        }
        let i = node.entries().partition_point(|e| e.key[..] < key(777)[..]);
        let Value::Child { cid: child, .. } = node.entries()[i].value else {
            panic!()
        };
        cid = child;
    }
    let partial = MemoryBlockstore::default();
    full.copy_to(&partial).unwrap();
    let without = MemoryBlockstore::default();
    // Copy everything except that leaf.
    let all = TrackingCopy::blocks(&partial);
    for (c, b) in all {
        if c != cid {
            without.put_keyed(&c, &b).unwrap();
        }
    }
    let tree = Tree::load(&without, tree.cid()).unwrap().expect_complete();
    assert_eq!(tree.get(&key(777)).unwrap(), Outcome::missing_one(cid));
    assert_eq!(
        ipld(tree.get(&key(5)).unwrap().expect_complete()),
        Some(value(5))
    );
    let range = tree
        .range(
            Bound::Included(&key(700)),
            Bound::Included(&key(800)),
            Direction::Forward,
        )
        .unwrap();
    assert_eq!(range.missing(), [cid].into());
    // A cursor that meets the hole stays where it was, and can go on once the block is there.
    let leaf = Node::decode(full.get(&cid).unwrap().unwrap()).unwrap();
    let (first, last) = (
        leaf.entries().first().unwrap().key.clone(),
        leaf.last_key().unwrap().clone(),
    );
    // The neighbours of the hole, found in the complete store.
    let whole = Tree::load(&full, tree.cid()).unwrap().expect_complete();
    let mut probe = whole.cursor();
    probe.seek_before(&first).unwrap().expect_complete();
    let before_hole = probe.key().unwrap().to_vec();
    probe.seek_after(&last).unwrap().expect_complete();
    let after_hole = probe.key().unwrap().to_vec();
    let mut cursor = tree.cursor();
    cursor.seek(&before_hole).unwrap().expect_complete();
    assert_eq!(cursor.next().unwrap(), Outcome::missing_one(cid));
    assert_eq!(cursor.key().unwrap(), &before_hole[..]);
    let mut back = tree.cursor();
    back.seek(&after_hole).unwrap().expect_complete();
    assert_eq!(back.prev().unwrap(), Outcome::missing_one(cid));
    assert_eq!(back.key().unwrap(), &after_hole[..]);
    assert_eq!(
        back.seek_at_or_before(&first).unwrap(),
        Outcome::missing_one(cid)
    );
    assert_eq!(
        back.key().unwrap(),
        &after_hole[..],
        "a failed seek leaves the cursor in place"
    );
    let mut mutated = tree.clone();
    let before = mutated.cid();
    assert_eq!(
        mutated.put(key(777), Ipld::Null).unwrap(),
        Outcome::missing_one(cid)
    );
    assert_eq!(mutated.cid(), before);
}

/// Lists a MemoryBlockstore's blocks by copying them into a recording store.
struct TrackingCopy(std::cell::RefCell<Vec<(Cid, Vec<u8>)>>);
impl Blockstore for TrackingCopy {
    fn get(&self, _: &Cid) -> anyhow::Result<Option<Vec<u8>>> {
        Ok(None)
    }
    fn put_keyed(&self, k: &Cid, block: &[u8]) -> anyhow::Result<()> {
        self.0.borrow_mut().push((*k, block.to_vec()));
        Ok(())
    }
}
impl TrackingCopy {
    fn blocks(store: &MemoryBlockstore) -> Vec<(Cid, Vec<u8>)> {
        let copy = TrackingCopy(Default::default());
        store.copy_to(&copy).unwrap();
        copy.0.into_inner()
    }
}

/// A tree whose root node has one child, the given block.
fn tree_over(store: &MemoryBlockstore, child: Cid) -> Tree<&MemoryBlockstore> {
    let a = (Bytes::from_static(b"a"), child, 1);
    let z = (Bytes::from_static(b"z"), child, 1);
    let parent = Node::internal(1, [a, z]).unwrap();
    let bytes = parent.encode();
    let node = cid_of(&bytes);
    store.put_keyed(&node, &bytes).unwrap();
    let root = RootObject::new(small_config(), node, 2);
    let bytes = root.encode();
    let cid = cid_of(&bytes);
    store.put_keyed(&cid, &bytes).unwrap();
    Tree::load(store, cid).unwrap().expect_complete()
}

fn expect_corrupt<T: std::fmt::Debug>(result: prolly_tree::Result<T>, cid: Cid) {
    match result {
        Err(Error::Corrupt(block)) => assert_eq!(block.cid, cid),
        other => panic!("expected a corrupt-block error for {cid}, got {other:?}"),
    }
}

#[test]
fn corrupt_blocks_are_errors() {
    let store = MemoryBlockstore::default();
    // 1. Bytes that do not hash to their CID.
    let good = Node::leaf([(Bytes::from_static(b"a"), raw(&Ipld::Null))]).unwrap();
    let cid = cid_of(&good.encode());
    store.put_keyed(&cid, b"\x83\x00\x80\x80 tampered").unwrap();
    let tree = tree_over(&store, cid);
    expect_corrupt(tree.get(b"a"), cid);
    // 2. Well-hashed bytes that are not a node: truncated CBOR, wrong shapes, unsorted keys,
    //    a leaf where an internal node belongs.
    let level2_leaf = Node::empty_leaf().encode();
    // A leaf [0, "", ["b", "a"], [null, null]]: keys out of order (the constructors refuse to
    // build it).
    let unsorted = b"\x84\x00\x40\x82\x41b\x41a\x82\xf6\xf6".to_vec();
    // A leaf [0, "", ["ab", "ac"], [null, null]]: the prefix "a" is stored in every key, so the
    // node has another encoding; only the one with the longest prefix is valid.
    let short_prefix = b"\x84\x00\x40\x82\x42ab\x42ac\x82\xf6\xf6".to_vec();
    // A leaf [0, "a", ["b"], [null]]: a single key's prefix is the whole key.
    let single_split = b"\x84\x00\x41a\x81\x41b\x81\xf6".to_vec();
    let internal_as_child = Node::internal(3, [(Bytes::from_static(b"a"), cid, 1)])
        .unwrap()
        .encode();
    for bytes in [
        b"".to_vec(),
        b"\x83\x00\x81".to_vec(),
        b"\x85\x00\x40\x80\x80\x80".to_vec(),
        b"\x84\x01\x40\x80\x80".to_vec(),
        b"\x83\x00\x80\x80".to_vec(),
        b"\xa1\x61\x61\x00".to_vec(),
        unsorted,
        short_prefix,
        single_split,
        internal_as_child,
        level2_leaf.clone(),
    ] {
        let cid = cid_of(&bytes);
        store.put_keyed(&cid, &bytes).unwrap();
        let tree = tree_over(&store, cid);
        if bytes == level2_leaf {
            // An empty leaf is well-formed, but not under an internal node: the checker says so.
            assert!(prolly_tree::check_invariants(&store, &tree.cid()).is_err());
            continue;
        }
        expect_corrupt(tree.get(b"a"), cid);
        expect_corrupt(
            tree.range(Bound::Unbounded, Bound::Unbounded, Direction::Forward),
            cid,
        );
        expect_corrupt(tree.stats(), cid);
    }
    // 3. A root object that is not one: the current version, then nothing that fits.
    let bytes = b"\x82\x02\x02".to_vec();
    let cid = cid_of(&bytes);
    store.put_keyed(&cid, &bytes).unwrap();
    expect_corrupt(Tree::load(&store, cid), cid);
    // 4. A root object of a future version, and one of version 1 (replaced by version 2): both
    //    refused by their version, with a message that says so.
    for (version, said) in [(3u64, "format version 3"), (1, "format version 1")] {
        let bytes = fvm_ipld_encoding::to_vec(&(version, "other")).unwrap();
        let cid = cid_of(&bytes);
        store.put_keyed(&cid, &bytes).unwrap();
        let Err(err) = Tree::load(&store, cid) else {
            panic!("version {version} read")
        };
        assert!(
            matches!(err, Error::Version { found, supported: 2 } if found == version),
            "{err:?}"
        );
        assert!(err.to_string().contains(said), "{err}");
    }
    // 5. A future version in this version's shape: refused by its version all the same.
    let future = RootObject {
        version: 3,
        ..RootObject::new(Config::default(), cid, 0)
    };
    let bytes = future.encode();
    let cid = cid_of(&bytes);
    store.put_keyed(&cid, &bytes).unwrap();
    let Err(err) = Tree::load(&store, cid) else {
        panic!("a future version in this version's shape read")
    };
    assert!(
        matches!(
            err,
            Error::Version {
                found: 3,
                supported: 2
            }
        ),
        "{err:?}"
    );
}

proptest! {
    /// Any bytes at all, decoded as a node or walked as a tree, give an error or a value, never a panic.
    #[test]
    fn random_blocks_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..200), flip in any::<prop::sample::Index>()) {
        let _ = Node::decode(bytes.clone());
        let store = MemoryBlockstore::default();
        let cid = cid_of(&bytes);
        store.put_keyed(&cid, &bytes).unwrap();
        let tree = tree_over(&store, cid);
        let _ = tree.get(b"m");
        let _ = tree.range(Bound::Unbounded, Bound::Unbounded, Direction::Backward);
        let _ = tree.stats();
        // A real node with one byte flipped.
        let good = Node::leaf([
            (Bytes::from_static(b"a"), raw(&Ipld::String("x".into()))),
            (Bytes::from_static(b"b"), raw(&Ipld::List(vec![Ipld::Integer(-3)]))),
        ]).unwrap().encode();
        let mut bad = good.clone();
        let i = flip.index(bad.len());
        bad[i] ^= 0x5a;
        let _ = Node::decode(bad);
    }
}

#[test]
fn hostile_counts_do_not_overflow() {
    let store = MemoryBlockstore::default();
    let leaf = Node::leaf([(Bytes::from_static(b"a"), raw(&Ipld::Null))])
        .unwrap()
        .encode();
    let leaf_cid = cid_of(&leaf);
    store.put_keyed(&leaf_cid, &leaf).unwrap();
    // Two children claiming u64::MAX entries each.
    let parent = Node::internal(
        1,
        [
            (Bytes::from_static(b"a"), leaf_cid, u64::MAX),
            (Bytes::from_static(b"b"), leaf_cid, u64::MAX),
        ],
    )
    .unwrap();
    let bytes = parent.encode();
    let node = cid_of(&bytes);
    store.put_keyed(&node, &bytes).unwrap();
    let root = RootObject::new(small_config(), node, 2).encode();
    let root_cid = cid_of(&root);
    store.put_keyed(&root_cid, &root).unwrap();
    let tree = Tree::load(&store, root_cid).unwrap().expect_complete();
    assert_eq!(tree.rank(b"z").unwrap().expect_complete(), u64::MAX);
    // Counts saturate instead of overflowing; positions past the one real entry are absent.
    assert_eq!(
        tree.count(Bound::Unbounded, Bound::Included(b"z"))
            .unwrap()
            .expect_complete(),
        u64::MAX
    );
    assert_eq!(tree.nth(5).unwrap().expect_complete(), None);
    // A range reads what the blocks say (the one leaf, linked twice) and stops: reads are defined
    // on any tree, and the invariant check is what refuses this one.
    let keys: Vec<Bytes> = tree
        .range_limit(Bound::Unbounded, Bound::Unbounded, Direction::Forward, 3)
        .unwrap()
        .expect_complete()
        .into_iter()
        .map(|(k, _)| k)
        .collect();
    assert_eq!(keys, [Bytes::from_static(b"a"), Bytes::from_static(b"a")]);
    assert!(matches!(
        prolly_tree::check_invariants(&store, &root_cid),
        Err(prolly_tree::Violation::ChildCount {
            recorded: u64::MAX,
            actual: 1
        })
    ));
}
