//! Profiling aid: 100-entry range scans and point gets over a 100k-entry tree.

use std::ops::Bound;

use fvm_ipld_blockstore::MemoryBlockstore;
use ipld_core::ipld::Ipld;
use prolly_tree::{Config, Direction, RawValue, Tree};

fn main() {
    let store = MemoryBlockstore::default();
    let key = |i: u64| format!("acct/{:016x}", i.wrapping_mul(0x9E37_79B9_7F4A_7C15)).into_bytes();
    let value = RawValue::from_ipld(&Ipld::Bytes(vec![7; 73])).unwrap();
    let mut entries: Vec<_> = (0..100_000u64).map(|i| (key(i), value.clone())).collect();
    entries.sort_by(|a, b| a.0.cmp(&b.0));
    let start = std::time::Instant::now();
    for _ in 0..10 {
        let store = MemoryBlockstore::default();
        Tree::build_raw(&store, Config::default(), entries.iter().cloned()).unwrap();
    }
    println!(
        "{:.0} built entries/s",
        1_000_000.0 / start.elapsed().as_secs_f64()
    );
    let tree = Tree::build_raw(&store, Config::default(), entries).unwrap();
    let start = std::time::Instant::now();
    let mut total = 0;
    for i in 0..20_000u64 {
        let k = key(i * 7);
        total += tree
            .range_limit(
                Bound::Included(&k),
                Bound::Unbounded,
                Direction::Forward,
                100,
            )
            .unwrap()
            .expect_complete()
            .len();
    }
    println!(
        "{:.0} scans/s ({total} entries)",
        20_000.0 / start.elapsed().as_secs_f64()
    );
    let start = std::time::Instant::now();
    for i in 0..200_000u64 {
        assert!(
            tree.get(&key(i % 100_000))
                .unwrap()
                .expect_complete()
                .is_some()
        );
    }
    println!("{:.0} gets/s", 200_000.0 / start.elapsed().as_secs_f64());
}
