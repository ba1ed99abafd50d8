//! Keys ground against the boundary hash, both ways: the byte cap bounds nodes when the hash never
//! fires, and the minimum entry count bounds depth when it fires at every entry.

mod common;

use std::collections::BTreeMap;

use common::*;
use fvm_ipld_blockstore::MemoryBlockstore;
use ipld_core::ipld::Ipld;
use prolly_tree::{Batch, Config, Tree, boundary_hash, size};

/// The rule of spec/SPEC.md section 5, written out again from the spec.
fn fires(config: &Config, level: u32, key: &[u8], before: usize, entry_len: usize) -> bool {
    let target = if level == 0 {
        config.leaf_target
    } else {
        config.internal_target
    } as u128;
    let cube = |x: usize| (x as u128).pow(3);
    (boundary_hash(config.salt, level, key) as u128) * target.pow(3)
        < (cube(before + entry_len) - cube(before)) << 64
}

/// Leaf entry size of a key with a one-byte integer value; internal size with a 41-byte CID and
/// a count of up to 3 bytes.
fn leaf_len(key: &[u8]) -> usize {
    size::bytes_len(key.len()) + 1
}

fn internal_len(key: &[u8]) -> usize {
    size::bytes_len(key.len()) + 41 + 3
}

/// `n` keys, in order, each passing `want` at levels 0 and 1.
fn grind(n: usize, want: impl Fn(u32, &[u8], usize) -> bool) -> Vec<Vec<u8>> {
    (0u64..)
        .map(|i| format!("adv{i:012}").into_bytes())
        .filter(|k| want(0, k, leaf_len(k)) && want(1, k, internal_len(k)))
        .take(n)
        .collect()
}

fn check_caps(store: &MemoryBlockstore, tree: &Tree<&MemoryBlockstore>, config: &Config) {
    assert_valid(store, &tree.cid());
    let stats = tree.stats().unwrap().expect_complete();
    for (level, l) in stats.levels.iter().enumerate() {
        let cap = if level == 0 {
            config.leaf_cap
        } else {
            config.internal_cap
        };
        assert!(
            l.largest <= cap as u64,
            "level {level}: node of {} bytes, cap {cap}",
            l.largest
        );
    }
}

#[test]
fn keys_that_never_fire_still_respect_the_cap() {
    // The hash fires more readily as a node grows, so with the default targets no key can hold
    // out much past the target (see spec section 5). Targets above the cap make such keys
    // findable: a key that does not fire in a node filled to the cap fires nowhere.
    let config = Config {
        leaf_target: 2048,
        leaf_cap: 1024,
        internal_target: 2048,
        internal_cap: 1024,
        ..Config::default()
    };
    let keys = grind(3000, |level, k, len| {
        !fires(&config, level, k, 1024 - len, len)
    });
    let store = MemoryBlockstore::default();
    let model: BTreeMap<Vec<u8>, Ipld> =
        keys.iter().map(|k| (k.clone(), Ipld::Integer(1))).collect();
    let tree = build(&store, config, &model);
    check_caps(&store, &tree, &config);
    let stats = tree.stats().unwrap().expect_complete();
    // The cap, not the hash, closes the leaves: they are nearly full. The cap bounds a node's
    // logical size (keys counted whole), here 17 bytes an entry; the encoding shares the keys'
    // prefix, so it is smaller.
    let per_leaf = stats.levels[0].entries / stats.levels[0].nodes;
    assert!(per_leaf * leaf_len(&keys[0]) as u64 > 900, "{stats:?}");

    // The same keys inserted in batches give the same, capped tree.
    let mut incremental = Tree::empty(&store, config).unwrap();
    for chunk in keys.chunks(97).rev() {
        let mut batch = Batch::new();
        for k in chunk {
            batch.put(k.clone(), Ipld::Integer(1));
        }
        incremental.apply(&batch).unwrap().expect_complete();
    }
    check_caps(&store, &incremental, &config);
    assert_eq!(incremental.cid(), tree.cid());

    // A single insert into a capped region rewrites a bounded number of nodes, not the region.
    let mut updated = tree.clone();
    let before = store_size(&store);
    updated
        .put(keys[1500].clone(), Ipld::Integer(2))
        .unwrap()
        .expect_complete();
    let written = store_size(&store) - before;
    assert!(written < 6 * 1024, "one update wrote {written} bytes");
}

fn store_size(store: &MemoryBlockstore) -> usize {
    let copy = fvm_ipld_blockstore::tracking::TrackingBlockstore::new(MemoryBlockstore::default());
    store.copy_to(&copy).unwrap();
    copy.stats.borrow().bw
}

#[test]
fn keys_that_always_fire_keep_depth_logarithmic() {
    // Small targets make such keys common enough to find: each fires as soon as the minimum
    // count allows (as the second entry of a node, and so anywhere later).
    let config = Config {
        leaf_target: 48,
        internal_target: 96,
        ..Config::default()
    };
    let keys = grind(1024, |level, k, len| fires(&config, level, k, len, len));
    let store = MemoryBlockstore::default();
    let model: BTreeMap<Vec<u8>, Ipld> =
        keys.iter().map(|k| (k.clone(), Ipld::Integer(1))).collect();
    let tree = build(&store, config, &model);
    check_caps(&store, &tree, &config);
    let depth = tree.stats().unwrap().expect_complete().depth;
    let bound = (keys.len() as f64).log2().ceil() as u32 + 1;
    assert!(depth <= bound, "depth {depth} > {bound}");
}

#[test]
fn a_hash_that_fires_everywhere_keeps_depth_logarithmic() {
    // A target of one byte makes every entry fire at every level: only the minimum count holds.
    let config = Config {
        leaf_target: 1,
        internal_target: 1,
        ..Config::default()
    };
    let store = MemoryBlockstore::default();
    for n in [1u32, 2, 3, 17, 1000, 4096] {
        let model: BTreeMap<Vec<u8>, Ipld> = (0..n).map(|i| (key(i), Ipld::Integer(1))).collect();
        let tree = build(&store, config, &model);
        assert_valid(&store, &tree.cid());
        let depth = tree.stats().unwrap().expect_complete().depth;
        let bound = (n as f64).log2().ceil() as u32 + 1;
        assert!(depth <= bound, "{n} entries: depth {depth} > {bound}");
    }
}

#[test]
fn oversized_entries_are_refused_without_change() {
    let config = Config::default();
    let store = MemoryBlockstore::default();
    let mut tree = Tree::empty(&store, config).unwrap();
    tree.put(b"a".to_vec(), Ipld::Integer(1))
        .unwrap()
        .expect_complete();
    let before = tree.cid();
    let mut batch = Batch::new();
    batch.put(b"b".to_vec(), Ipld::Integer(2));
    batch.put(
        b"big".to_vec(),
        Ipld::Bytes(vec![0; config.leaf_cap as usize]),
    );
    let err = tree.apply(&batch).unwrap_err();
    assert!(matches!(err, prolly_tree::Error::Invalid(_)), "{err}");
    assert_eq!(tree.cid(), before);
    let err = tree
        .put(vec![b'k'; config.internal_cap as usize], Ipld::Null)
        .unwrap_err();
    assert!(matches!(err, prolly_tree::Error::Invalid(_)), "{err}");
    let err = tree
        .put(b"nan".to_vec(), Ipld::Float(f64::NAN))
        .unwrap_err();
    assert!(matches!(err, prolly_tree::Error::Invalid(_)), "{err}");
    assert_eq!(tree.cid(), before);
    // Unsorted input to a bulk build is an error too.
    let err = Tree::build(
        &store,
        config,
        [(b"b".to_vec(), Ipld::Null), (b"a".to_vec(), Ipld::Null)],
    )
    .unwrap_err();
    assert!(matches!(err, prolly_tree::Error::Invalid(_)), "{err}");
    let err = Tree::empty(
        &store,
        Config {
            min_entries: 1,
            ..config
        },
    )
    .unwrap_err();
    assert!(matches!(err, prolly_tree::Error::Config(_)), "{err}");
}
