//! Profiling aid: a 100k-entry tree, then batches of 1,000 inserts. Run under `perf record`.

use fvm_ipld_blockstore::MemoryBlockstore;
use ipld_core::ipld::Ipld;
use prolly_tree::{Batch, Config, RawValue, Tree};

fn main() {
    let store = MemoryBlockstore::default();
    let key = |i: u64| format!("acct/{:016x}", i.wrapping_mul(0x9E37_79B9_7F4A_7C15)).into_bytes();
    let value = RawValue::from_ipld(&Ipld::Bytes(vec![7; 73])).unwrap();
    let mut entries: Vec<_> = (0..100_000u64).map(|i| (key(i), value.clone())).collect();
    entries.sort_by(|a, b| a.0.cmp(&b.0));
    let target: u32 = std::env::var("TARGET")
        .ok()
        .and_then(|t| t.parse().ok())
        .unwrap_or(512);
    let mut tree = Tree::build_raw(
        &store,
        if target == 0 {
            Config::default()
        } else {
            Config::with_targets(target, target)
        },
        entries,
    )
    .unwrap();
    let copy = fvm_ipld_blockstore::tracking::TrackingBlockstore::new(MemoryBlockstore::default());
    store.copy_to(&copy).unwrap();
    println!(
        "after build: {} blocks, {} bytes, depth {}",
        copy.stats.borrow().w,
        copy.stats.borrow().bw,
        tree.stats().unwrap().expect_complete().depth
    );
    let start = std::time::Instant::now();
    let mut n = 100_000u64;
    for _ in 0..100 {
        let mut batch = Batch::new();
        for _ in 0..1000 {
            batch.put_raw(key(n), value.clone());
            n += 1;
        }
        tree.apply(&batch).unwrap().expect_complete();
    }
    let copy = fvm_ipld_blockstore::tracking::TrackingBlockstore::new(MemoryBlockstore::default());
    store.copy_to(&copy).unwrap();
    let stats = copy.stats.borrow();
    println!("store: {} blocks, {} bytes", stats.w, stats.bw);
    println!("{:.0} entries/s", 100_000.0 / start.elapsed().as_secs_f64());
}
