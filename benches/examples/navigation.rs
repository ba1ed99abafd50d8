//! Navigation for callgrind, which counts instructions (repeatable on a shared machine): warm
//! point gets, warm 100-entry range scans, counts and 1,000-entry batches on a tree of 50k entries.
//! With `--cache-sim=yes --LL=1048576,16,64` it also counts cache misses against a last level
//! smaller than the tree, as at a million entries. It is how
//! the one-path navigation (`tree/src/path.rs`) was held to the code it replaced:
//!
//! `valgrind --tool=callgrind --toggle-collect='*navigation*gets*' \
//!   target/release/examples/navigation gets` (or `scans`, `counts`, `batches`)
use std::ops::Bound;

use fvm_ipld_blockstore::MemoryBlockstore;
use ipld_core::ipld::Ipld;
use prolly_tree::{Batch, Config, Direction, RawValue, Tree};

fn key(i: u64) -> Vec<u8> {
    let h = i.wrapping_mul(0x9E37_79B9_7F4A_7C15);
    format!("user/{:016x}/{}", h, i % 97).into_bytes()
}

/// Reads every key once, so that `gets` and `scans` measure warm reads (the node cache full,
/// child links known) and not decoding.
#[inline(never)]
fn prime(tree: &Tree<&MemoryBlockstore>) {
    for i in 0..50_000 {
        tree.get(&key(i)).unwrap().expect_complete();
    }
}

#[inline(never)]
fn gets(tree: &Tree<&MemoryBlockstore>, n: u64) -> usize {
    (0..n)
        .filter(|i| {
            tree.get(&key(i * 7 % 50_000))
                .unwrap()
                .expect_complete()
                .is_some()
        })
        .count()
}

#[inline(never)]
fn scans(tree: &Tree<&MemoryBlockstore>, n: u64) -> usize {
    (0..n)
        .map(|i| {
            let k = key(i * 13 % 50_000);
            tree.range_limit(
                Bound::Included(&k),
                Bound::Unbounded,
                Direction::Forward,
                100,
            )
            .unwrap()
            .expect_complete()
            .len()
        })
        .sum()
}

#[inline(never)]
fn batches(tree: &mut Tree<&MemoryBlockstore>, n: u64) {
    for b in 0..n {
        let mut batch = Batch::new();
        for i in 0..1000 {
            batch.put_raw(
                key(1_000_000 + b * 1000 + i),
                RawValue::byte_string(&[7; 73]),
            );
        }
        tree.apply(&batch).unwrap().expect_complete();
    }
}

#[inline(never)]
fn counts(tree: &Tree<&MemoryBlockstore>, n: u64) -> u64 {
    (0..n)
        .map(|i| {
            let k = key(i * 11 % 50_000);
            tree.count(Bound::Included(&k), Bound::Unbounded)
                .unwrap()
                .expect_complete()
        })
        .sum()
}

fn main() {
    let store = MemoryBlockstore::default();
    let mut entries: Vec<(Vec<u8>, Ipld)> = (0..50_000)
        .map(|i| (key(i), Ipld::Bytes(vec![7; 73])))
        .collect();
    entries.sort_by(|a, b| a.0.cmp(&b.0));
    let mut tree = Tree::build(&store, Config::default(), entries).unwrap();
    let mode = std::env::args().nth(1).unwrap_or_default();
    if mode == "gets" || mode == "scans" {
        prime(&tree);
    }
    match mode.as_str() {
        "gets" => println!("{}", gets(&tree, 50_000)),
        "scans" => println!("{}", scans(&tree, 5_000)),
        "counts" => println!("{}", counts(&tree, 20_000)),
        "batches" => batches(&mut tree, 20),
        _ => {}
    }
}
