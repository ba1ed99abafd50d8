//! Profiling aid: a 1M-entry tree, then single-key inserts, one apply each.

use fvm_ipld_blockstore::MemoryBlockstore;
use ipld_core::ipld::Ipld;
use prolly_tree::{Batch, Config, RawValue, Tree};

fn main() {
    let store = MemoryBlockstore::default();
    let key = |i: u64| format!("acct/{:016x}", i.wrapping_mul(0x9E37_79B9_7F4A_7C15)).into_bytes();
    let value = RawValue::from_ipld(&Ipld::Bytes(vec![7; 73])).unwrap();
    let mut entries: Vec<_> = (0..1_000_000u64).map(|i| (key(i), value.clone())).collect();
    entries.sort_by(|a, b| a.0.cmp(&b.0));
    let mut tree = Tree::build_raw(&store, Config::default(), entries).unwrap();
    let start = std::time::Instant::now();
    for n in 1_000_000..1_010_000u64 {
        let mut batch = Batch::new();
        batch.put_raw(key(n), value.clone());
        tree.apply(&batch).unwrap().expect_complete();
    }
    println!(
        "{:.0} single inserts/s",
        10_000.0 / start.elapsed().as_secs_f64()
    );
}
