//! Warm point gets over a 100k-entry tree, for a profiler: `cargo run --release -p prolly_tree
//! --example gets_profile`.
use fvm_ipld_blockstore::MemoryBlockstore;
use ipld_core::ipld::Ipld;
use prolly_tree::{Config, Tree};

fn main() {
    let n = 100_000u64;
    let store = MemoryBlockstore::default();
    let key = |i: u64| format!("key-{:016x}", i.wrapping_mul(0x9E37_79B9_7F4A_7C15)).into_bytes();
    let mut entries: Vec<(Vec<u8>, Ipld)> =
        (0..n).map(|i| (key(i), Ipld::Bytes(vec![7; 70]))).collect();
    entries.sort_by(|a, b| a.0.cmp(&b.0));
    let tree = Tree::build(&store, Config::default(), entries).unwrap();
    let rounds = 3_000_000u64;
    let started = std::time::Instant::now();
    let mut found = 0;
    for i in 0..rounds {
        if tree
            .get(&key(i % n))
            .unwrap()
            .into_result()
            .unwrap()
            .is_some()
        {
            found += 1;
        }
    }
    let per = started.elapsed().as_nanos() as f64 / rounds as f64;
    println!("{found} found, {per:.0} ns per get");
}
