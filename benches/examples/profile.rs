//! Profiling aid, for `perf record`: one operation of the tree, repeated, on the bench's data.
//!
//! `[PASSES=20] cargo run --release -p prolly_bench --example profile -- <build|batch|single|scan|get> [entries]`

use std::ops::Bound;
use std::time::Instant;

use fvm_ipld_blockstore::MemoryBlockstore;
use prolly_bench::data::Dataset;
use prolly_tree::{Batch, Config, Direction, RawValue, Tree};

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let mode = args.get(1).map(String::as_str).unwrap_or("batch");
    let n: usize = args.get(2).and_then(|n| n.parse().ok()).unwrap_or(100_000);
    // Reads repeat, so that the profile is of warm reads rather than of the set-up.
    let passes: usize = std::env::var("PASSES")
        .ok()
        .and_then(|p| p.parse().ok())
        .unwrap_or(20);
    let data = Dataset::new(n);
    let raw = |v: &[u8]| RawValue::byte_string(v);
    let store = MemoryBlockstore::default();
    let build = || {
        Tree::build_raw(
            &store,
            Config::default(),
            data.sorted.iter().map(|(k, v)| (k.clone(), raw(v))),
        )
    };
    let mut tree = build().unwrap();
    let start = Instant::now();
    let ops = match mode {
        "build" => {
            for _ in 0..5 {
                build().unwrap();
            }
            5 * n
        }
        "batch" => {
            for batch in &data.batches {
                let mut b = Batch::new();
                for (k, v) in batch {
                    b.put_raw(k.clone(), raw(v));
                }
                tree.apply(&b).unwrap().expect_complete();
            }
            data.batches.iter().map(Vec::len).sum()
        }
        "single" => {
            for (k, v) in &data.singles {
                let mut b = Batch::new();
                b.put_raw(k.clone(), raw(v));
                tree.apply(&b).unwrap().expect_complete();
            }
            data.singles.len()
        }
        "scan" => {
            for _ in 0..passes {
                for k in &data.probes {
                    let lo = Bound::Included(k.as_slice());
                    tree.range_limit(lo, Bound::Unbounded, Direction::Forward, 100)
                        .unwrap()
                        .expect_complete();
                }
            }
            passes * data.probes.len()
        }
        "get" => {
            for _ in 0..passes {
                for k in &data.probes {
                    assert!(tree.get(k).unwrap().expect_complete().is_some());
                }
            }
            passes * data.probes.len()
        }
        other => panic!("unknown mode {other}: build, batch, single, scan or get"),
    };
    println!(
        "{mode}: {:.0} per second over {n} entries",
        ops as f64 / start.elapsed().as_secs_f64()
    );
}
