//! The tree benchmark: prollydb's tree against `fvm_ipld_hamt` (bit width 5, the builtin-actors
//! convention) and the `prolly-map` crate, on the same keys and values, in the same run. Prints one
//! table of ratios, the same rows for prollydb with nodes as wide as prolly-map's, then the
//! node-size settings compared.
//!
//! `cargo run --release -p prolly_bench --bin tree-bench [-- --sizes 10000,100000,1000000]`

mod baselines;
mod ours;

use std::time::Instant;

use baselines::{Hamt, ProllyMap};
use ours::Ours;
use prolly_bench::data::Dataset;
use prolly_tree::Config;

/// One map implementation under test. Every call works on the same logical map.
pub trait Subject {
    fn name(&self) -> &'static str;
    fn bulk_build(&mut self, sorted: &[(Vec<u8>, Vec<u8>)]);
    fn insert_one(&mut self, key: &[u8], value: &[u8]);
    fn insert_batch(&mut self, batch: &[(Vec<u8>, Vec<u8>)]);
    fn get(&mut self, key: &[u8]) -> bool;
    /// `None` when the structure has no key order.
    fn scan(&mut self, from: &[u8], n: usize) -> Option<usize>;
    fn bytes_stored(&mut self) -> u64;
    /// Bytes of new blocks written since the last call.
    fn take_written(&mut self) -> u64;
    /// Bytes of the blocks from the root to the key's leaf.
    fn path_bytes(&mut self, key: &[u8]) -> u64;
}

struct Row {
    metric: &'static str,
    n: usize,
    /// Per subject: the measured value.
    values: Vec<Option<f64>>,
    higher_is_better: bool,
    unit: &'static str,
}

fn time_per_op(ops: usize, f: impl FnOnce()) -> f64 {
    let start = Instant::now();
    f();
    ops as f64 / start.elapsed().as_secs_f64()
}

fn measure(n: usize, config: Config, rows: &mut Vec<Row>) {
    let data = Dataset::new(n);
    let mut subjects: Vec<Box<dyn Subject>> = vec![
        Box::new(Ours::new("prollydb", config)),
        Box::new(Hamt::new()),
        Box::new(ProllyMap::new()),
        Box::new(Ours::new("prollydb-wide", wide())),
    ];
    // For profiling one subject: TREE_BENCH_ONLY=prollydb (the others then show as n/a).
    let only = std::env::var("TREE_BENCH_ONLY").ok();
    let skipped = |s: &dyn Subject| only.as_deref().is_some_and(|o| o != s.name());
    let mut push = |metric, values: Vec<Option<f64>>, higher_is_better, unit| {
        rows.push(Row {
            metric,
            n,
            values,
            higher_is_better,
            unit,
        })
    };
    let mut each = |f: &mut dyn FnMut(&mut dyn Subject) -> Option<f64>| -> Vec<Option<f64>> {
        subjects
            .iter_mut()
            .map(|s| {
                if skipped(s.as_ref()) {
                    None
                } else {
                    f(s.as_mut())
                }
            })
            .collect()
    };
    eprintln!("  n = {n}: bulk build");
    // Best of several builds (into the same store): this machine is shared and noisy.
    let builds = if n >= 1_000_000 { 2 } else { 3 };
    let v = each(&mut |s| {
        (0..builds)
            .map(|_| Some(time_per_op(n, || s.bulk_build(&data.sorted))))
            .fold(None, max)
    });
    push("bulk build", v, true, "entries/s");
    let v = each(&mut |s| Some(s.bytes_stored() as f64));
    push("bytes stored", v, false, "bytes");
    eprintln!("  n = {n}: single inserts");
    // Mutations cannot be repeated on the same state, so each runs in ROUNDS rounds of fresh keys,
    // the subjects taking turns round by round, and the best round counts.
    let _ = each(&mut |s| Some(s.take_written() as f64));
    let mut v = vec![None; SUBJECTS];
    for round in data.singles.chunks(data.singles.len() / ROUNDS) {
        let r = each(&mut |s| {
            Some(time_per_op(round.len(), || {
                for (k, v) in round {
                    s.insert_one(k, v);
                }
            }))
        });
        v = v.into_iter().zip(r).map(|(a, b)| max(a, b)).collect();
    }
    push("random single inserts", v, true, "ops/s");
    let v = each(&mut |s| Some(s.take_written() as f64 / data.singles.len() as f64));
    push("bytes written per single insert", v, false, "bytes");
    let v = each(&mut |s| {
        // Bytes rewritten by one update of an existing key, averaged.
        s.take_written();
        for (k, v) in &data.updates {
            s.insert_one(k, v);
        }
        Some(s.take_written() as f64 / data.updates.len() as f64)
    });
    push("bytes rewritten per update", v, false, "bytes");
    eprintln!("  n = {n}: batches");
    let mut v = vec![None; SUBJECTS];
    for round in data.batches.chunks(data.batches.len() / ROUNDS) {
        let total: usize = round.iter().map(Vec::len).sum();
        let r = each(&mut |s| {
            Some(time_per_op(total, || {
                for batch in round {
                    s.insert_batch(batch);
                }
            }))
        });
        v = v.into_iter().zip(r).map(|(a, b)| max(a, b)).collect();
    }
    push("batched inserts (1,000/batch)", v, true, "entries/s");
    eprintln!("  n = {n}: reads");
    // Reads run a first pass, so that every subject has cached what it keeps in memory
    // (prolly-map caches nodes as it writes them; we and the HAMT cache on read), then
    // READ_PASSES more, of which the best counts: a pass takes milliseconds, and this machine is
    // shared.
    let v = each(&mut |s| {
        let mut best = None;
        for pass in 0..=READ_PASSES {
            let mut found = 0;
            let rate = time_per_op(data.probes.len(), || {
                for k in &data.probes {
                    found += s.get(k) as usize;
                }
            });
            assert_eq!(found, data.probes.len(), "{} lost keys", s.name());
            if pass > 0 {
                best = max(best, Some(rate));
            }
        }
        best
    });
    push("point gets", v, true, "ops/s");
    let v = each(&mut |s| {
        let starts = &data.probes[..data.probes.len().min(500)];
        let mut ordered = true;
        let mut best = None;
        for pass in 0..=READ_PASSES {
            let rate = time_per_op(starts.len(), || {
                for k in starts {
                    ordered &= s.scan(k, 100).is_some();
                }
            });
            if pass > 0 {
                best = max(best, Some(rate));
            }
        }
        best.filter(|_| ordered)
    });
    push("100-entry range scan", v, true, "scans/s");
    let v = each(&mut |s| {
        let keys = &data.probes[..100];
        Some(keys.iter().map(|k| s.path_bytes(k)).sum::<u64>() as f64 / keys.len() as f64)
    });
    push("inclusion path bytes", v, false, "bytes");
}

/// The subjects, in the order of `Row::values`: prollydb, the HAMT, prolly-map, prollydb-wide.
const SUBJECTS: usize = 4;

/// prollydb with nodes as wide as prolly-map's on this data. prolly-map cuts by entry count, about
/// 128 entries a node: here ~12 KB leaves (entries of ~100 bytes) and ~6 KB internal nodes (links
/// of ~45 bytes). Not a setting to use (every write would rewrite ~4x the bytes, and a membership
/// proof would grow as much): it shows how much of each read-path ratio is node size, a choice
/// made for gas and proof size, and how much is code.
fn wide() -> Config {
    Config {
        leaf_target: 12 * 1024,
        leaf_cap: 64 * 1024,
        internal_target: 6 * 1024,
        internal_cap: 64 * 1024,
        ..Config::default()
    }
}

fn max(a: Option<f64>, b: Option<f64>) -> Option<f64> {
    match (a, b) {
        (Some(a), Some(b)) => Some(a.max(b)),
        (a, b) => a.or(b),
    }
}

fn ratio(ours: Option<f64>, base: Option<f64>, higher_is_better: bool) -> String {
    match (ours, base) {
        (Some(o), Some(b)) if b > 0.0 => {
            let r = o / b;
            let good = if higher_is_better { r >= 1.0 } else { r <= 1.0 };
            format!("{r:.2}x{}", if good { "" } else { " !" })
        }
        _ => "n/a".into(),
    }
}

fn fmt(v: Option<f64>) -> String {
    match v {
        None => "n/a".into(),
        Some(v) if v >= 1e6 => format!("{:.2}M", v / 1e6),
        Some(v) if v >= 1e4 => format!("{:.1}k", v / 1e3),
        Some(v) => format!("{v:.0}"),
    }
}

fn print_table(rows: &[Row]) {
    println!(
        "| metric | N | unit | prollydb | HAMT (bw 5) | prolly-map | prollydb / HAMT | prollydb / prolly-map |"
    );
    println!("|---|---:|---|---:|---:|---:|---:|---:|");
    for r in rows {
        println!(
            "| {} | {} | {} | {} | {} | {} | {} | {} |",
            r.metric,
            r.n,
            r.unit,
            fmt(r.values[0]),
            fmt(r.values[1]),
            fmt(r.values[2]),
            ratio(r.values[0], r.values[1], r.higher_is_better),
            ratio(r.values[0], r.values[2], r.higher_is_better),
        );
    }
    println!(
        "\n## prollydb-wide: nodes as wide as prolly-map's (leaf target 12 KiB, internal 6 KiB)\n"
    );
    println!(
        "| metric | N | unit | prollydb-wide | prollydb-wide / HAMT | prollydb-wide / prolly-map | prollydb / prolly-map |"
    );
    println!("|---|---:|---|---:|---:|---:|---:|");
    for r in rows {
        println!(
            "| {} | {} | {} | {} | {} | {} | {} |",
            r.metric,
            r.n,
            r.unit,
            fmt(r.values[3]),
            ratio(r.values[3], r.values[1], r.higher_is_better),
            ratio(r.values[3], r.values[2], r.higher_is_better),
            ratio(r.values[0], r.values[2], r.higher_is_better),
        );
    }
    println!(
        "\nRatios are prollydb over the baseline: for rates higher is better, for bytes lower is better; `!` marks a ratio on the wrong side of 1. Builds and inserts are the best of several rounds, the subjects taking turns (inserts use fresh keys each round); gets and scans are the best of 5 passes over the same keys after a first one (warm caches). Bytes rewritten counts only blocks new to the store."
    );
}

/// Timed passes of each read measurement, after a first pass that warms the caches; the best
/// pass counts.
const READ_PASSES: usize = 5;

/// Rounds of each mutation measurement (fresh keys each round); the best round counts.
const ROUNDS: usize = 3;

/// Node-size targets (leaf, internal) compared in the settings table; 512 / 384 is the default.
const SETTINGS: &[(u32, u32)] = &[
    (256, 256),
    (384, 384),
    (512, 384),
    (512, 512),
    (1024, 1024),
    (2048, 2048),
];

fn main() {
    // Same conditions for all: prolly-map would otherwise spread its builds over a thread pool.
    // SAFETY: set before any thread starts.
    unsafe { std::env::set_var("RAYON_NUM_THREADS", "1") };
    let args: Vec<String> = std::env::args().collect();
    let sizes: Vec<usize> = args
        .iter()
        .position(|a| a == "--sizes")
        .and_then(|i| args.get(i + 1))
        .map(|s| s.split(',').map(|n| n.parse().expect("a size")).collect())
        .unwrap_or_else(|| vec![10_000, 100_000, 1_000_000]);
    let config = Config::default();
    if args.iter().any(|a| a == "--settings-only") {
        let n = *sizes.iter().max().expect("a size");
        ours::print_settings(n, SETTINGS);
        return;
    }
    println!("## prollydb tree vs baselines (keys 16-24 bytes, values 73 bytes; one thread)\n");
    let mut rows = Vec::new();
    for &n in &sizes {
        measure(n, config, &mut rows);
    }
    print_table(&rows);
    let n = *sizes.iter().max().expect("a size");
    println!("\n## node-size settings at N = {n}\n");
    ours::print_settings(n, SETTINGS);
}
