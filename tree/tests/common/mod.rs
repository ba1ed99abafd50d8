//! Helpers shared by the tree's integration tests.
#![allow(dead_code)]

use std::collections::BTreeMap;

use cid::Cid;
use fvm_ipld_blockstore::MemoryBlockstore;
use ipld_core::ipld::Ipld;
use prolly_tree::{Config, Tree, check_invariants};

/// Small nodes, so that a few hundred entries already make a tree several levels deep.
pub fn small_config() -> Config {
    Config {
        leaf_target: 96,
        leaf_cap: 320,
        internal_target: 160,
        internal_cap: 480,
        min_entries: 2,
        salt: 7,
    }
}

pub fn key(n: u32) -> Vec<u8> {
    format!("k{n:05}").into_bytes()
}

pub fn value(n: u64) -> Ipld {
    Ipld::Integer(n as i128)
}

pub fn build<'s>(
    store: &'s MemoryBlockstore,
    config: Config,
    model: &BTreeMap<Vec<u8>, Ipld>,
) -> Tree<&'s MemoryBlockstore> {
    Tree::build(
        store,
        config,
        model.iter().map(|(k, v)| (k.clone(), v.clone())),
    )
    .expect("build")
}

pub fn assert_valid(store: &MemoryBlockstore, root: &Cid) {
    if let Err(e) = check_invariants(store, root) {
        panic!("invariant broken: {e}");
    }
}

/// A range's pairs as plain keys and IPLD values, to compare with a model.
pub fn plain(pairs: Vec<prolly_tree::Pair>) -> Vec<(Vec<u8>, Ipld)> {
    pairs
        .into_iter()
        .map(|(k, v)| (k.to_vec(), v.to_ipld().unwrap()))
        .collect()
}

pub fn ipld(value: Option<prolly_tree::RawValue>) -> Option<Ipld> {
    value.map(|v| v.to_ipld().unwrap())
}

pub fn raw(value: &Ipld) -> prolly_tree::RawValue {
    prolly_tree::RawValue::from_ipld(value).unwrap()
}
