//! The gas bench: what a document write costs the prollydb actor in the real FVM (fvm 4.8.4's
//! price list), against a minimal actor that keeps the same documents in an fvm_ipld_hamt (bit
//! width 5) with no index, measured in the same run, on the same documents.
//!
//! Databases of 1k, 10k and 100k kubo commits (extended by renamed copies past the feed's
//! 12,308; generated commits when the data set is absent), two key orders (random: the commit
//! hash; append: UTC time then hash), batches of 1, 10 and 100 new documents, prollydb with no
//! index and with one secondary index (author, time). Gas is not time: these numbers are exact
//! and repeat run to run.
//!
//! `cargo run --release -p prolly_bench --bin gas-bench [-- --sizes 1000,10000 --leaf-target N
//! --internal-target N --breakdown]`

use anyhow::{Context, Result, bail};
use prolly_bench::gas::{
    self, COLLECTION, Commit, Cost, HAMT, KeyOrder, MESSAGE_GAS_PER_BYTE, PROLLY, PROLLY_INDEXED,
    STORAGE_GAS_PER_BYTE,
};
use prolly_db::Query;
use prolly_tree::Config;
use prollydb::local_fvm::LocalFvm;

/// Batch sizes, and how many messages of each are measured (the mean is printed).
const BATCHES: [(usize, usize); 3] = [(1, 16), (10, 4), (100, 2)];

struct Options {
    sizes: Vec<usize>,
    config: Config,
    breakdown: bool,
}

fn options() -> Result<Options> {
    let mut o = Options {
        sizes: vec![1_000, 10_000, 100_000],
        config: prolly_actor::actor_config(),
        breakdown: false,
    };
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        let mut value = || args.next().with_context(|| format!("{arg} needs a value"));
        match arg.as_str() {
            "--sizes" => {
                o.sizes = value()?
                    .split(',')
                    .map(|s| s.parse().context("--sizes: numbers"))
                    .collect::<Result<_>>()?
            }
            "--leaf-target" => o.config.leaf_target = value()?.parse()?,
            "--internal-target" => o.config.internal_target = value()?.parse()?,
            "--breakdown" => o.breakdown = true,
            other => bail!("unknown argument {other}"),
        }
    }
    o.config.validate()?;
    Ok(o)
}

/// The three actors' costs for one batch size, summed over its messages.
#[derive(Default)]
struct Cell {
    docs: usize,
    messages: usize,
    hamt: Cost,
    prolly: Cost,
    indexed: Cost,
    /// New entry bytes (documents; documents + index entries).
    prolly_entries: u64,
    indexed_entries: u64,
}

impl Cell {
    fn per_doc(&self, cost: &Cost) -> f64 {
        cost.gas as f64 / self.docs as f64
    }
    fn per_commit(&self, value: u64) -> f64 {
        value as f64 / self.messages as f64
    }
    fn floor(&self, cost: &Cost, entries: u64) -> f64 {
        (cost.message_bytes * MESSAGE_GAS_PER_BYTE + entries * STORAGE_GAS_PER_BYTE) as f64
            / self.docs as f64
    }
}

fn write(fvm: &mut LocalFvm, batch: &[Commit], order: KeyOrder, cell: &mut Cell) -> Result<()> {
    let params = fvm_ipld_encoding::to_vec(&gas::hamt_params(batch, order))?;
    let (cost, _) = gas::send(fvm, HAMT, hamt_baseline_actor::method::PUT, params)?;
    cell.hamt.add(&cost);
    let params = gas::prolly_batch(batch, order, None).to_cbor();
    for (actor, total, entries) in [
        (PROLLY, &mut cell.prolly, &mut cell.prolly_entries),
        (PROLLY_INDEXED, &mut cell.indexed, &mut cell.indexed_entries),
    ] {
        let before = gas::db_root(fvm, actor)?;
        let (cost, _) = gas::send(fvm, actor, prolly_actor::method::APPLY, params.clone())?;
        let after = gas::db_root(fvm, actor)?;
        total.add(&cost);
        *entries += gas::entry_bytes(fvm.blockstore(), before, after)?;
    }
    cell.docs += batch.len();
    cell.messages += 1;
    Ok(())
}

fn most_common_author(commits: &[Commit]) -> String {
    let mut counts = std::collections::BTreeMap::<&str, usize>::new();
    for c in commits {
        *counts.entry(&c.author).or_default() += 1;
    }
    counts
        .into_iter()
        .max_by_key(|(a, n)| (*n, std::cmp::Reverse(*a)))
        .map(|(a, _)| a.to_string())
        .unwrap_or_default()
}

/// Reads: the indexed query for 32 results, and a point read by primary key in both actors.
fn reads(fvm: &mut LocalFvm, prefill: &[Commit], order: KeyOrder) -> Result<[Cost; 3]> {
    let author = most_common_author(prefill);
    let query = Query::from_json(&format!(
        r#"{{"collection": "{COLLECTION}", "filter": {{"author": "{author}"}}, "sort": [["time", "asc"]], "limit": 32}}"#
    ))?;
    let (indexed, ret) = gas::send(
        fvm,
        PROLLY_INDEXED,
        prolly_actor::method::QUERY,
        query.to_cbor(),
    )?;
    let result = prolly_db::QueryResult::from_cbor(&ret.msg_receipt.return_data)?;
    anyhow::ensure!(
        result.docs.len() == 32,
        "the query found {} documents",
        result.docs.len()
    );
    let key = prefill[prefill.len() / 2].id(order);
    let point = Query::from_json(&format!(
        r#"{{"collection": "{COLLECTION}", "filter": {{"_id": "{key}"}}}}"#
    ))?;
    let (point_cost, _) = gas::send(fvm, PROLLY, prolly_actor::method::QUERY, point.to_cbor())?;
    let get = hamt_baseline_actor::GetParams {
        key: fvm_ipld_encoding::RawBytes::new(key.into_bytes()),
    };
    let (get_cost, _) = gas::send(
        fvm,
        HAMT,
        hamt_baseline_actor::method::GET,
        fvm_ipld_encoding::to_vec(&get)?,
    )?;
    Ok([indexed, point_cost, get_cost])
}

/// Names per place in the multi-entry table: a typical city, the old cap, the most alternate
/// names of a city in GeoNames' cities500 (Jerusalem, 267), and the cap.
const NAME_COUNTS: [usize; 4] = [8, 64, 267, 1024];

/// What one place with `n` alternate names costs to insert, with a multi-entry index on
/// `names[]` and without one: the gas a real gazetteer's worst document needs on-chain.
fn multi_entry(config: Config) -> Result<Vec<(usize, Result<Cost>, Cost)>> {
    let (prefill, _) = gas::commits(1_000);
    let mut fvm = gas::machine(&prefill, KeyOrder::Random, config)?;
    let schema = prolly_db::WriteBatch::from_json(
        r#"{"ops": [
            {"op": "create_collection", "collection": "places"},
            {"op": "create_index", "collection": "places", "index": {"name": "by_name", "fields": ["names[]"]}},
            {"op": "create_collection", "collection": "plain"}
        ]}"#,
    )?;
    gas::send(
        &mut fvm,
        PROLLY,
        prolly_actor::method::APPLY,
        schema.to_cbor(),
    )?;
    let mut out = Vec::new();
    for n in NAME_COUNTS {
        // Names of 6 to 14 characters, like a gazetteer's transliterations.
        let names: Vec<String> = (0..n)
            .map(|i| format!("{}{i:04}", &"Jerusalem"[..1 + i % 9]))
            .collect();
        let list = names
            .iter()
            .map(|name| format!("\"{name}\""))
            .collect::<Vec<_>>()
            .join(", ");
        let doc = |collection: &str| {
            format!(
                r#"{{"ops": [{{"op": "insert", "collection": "{collection}", "doc": {{"_id": "place-{n}", "names": [{list}]}}}}]}}"#
            )
        };
        let indexed = prolly_db::WriteBatch::from_json(&doc("places"))?;
        let plain = prolly_db::WriteBatch::from_json(&doc("plain"))?;
        // An actor built with a lower cap refuses: the row says so (PROLLYDB_ACTOR_WASM).
        let with_index = gas::send(
            &mut fvm,
            PROLLY,
            prolly_actor::method::APPLY,
            indexed.to_cbor(),
        )
        .map(|(cost, _)| cost);
        let (without, _) = gas::send(
            &mut fvm,
            PROLLY,
            prolly_actor::method::APPLY,
            plain.to_cbor(),
        )?;
        out.push((n, with_index, without));
    }
    Ok(out)
}

fn print_breakdown(label: &str, cost: &Cost, docs: usize) {
    let mut charges: Vec<_> = cost.by_charge.iter().collect();
    charges.sort_by_key(|(_, g)| std::cmp::Reverse(**g));
    let parts: Vec<String> = charges
        .iter()
        .take(6)
        .map(|(name, g)| format!("{name} {:.2}M", **g as f64 / docs as f64 / 1e6))
        .collect();
    println!("    {label:<8} per doc: {}", parts.join(", "));
}

fn main() -> Result<()> {
    let options = options()?;
    let largest = options.sizes.iter().copied().max().unwrap_or(0);
    let extra: usize = BATCHES.iter().map(|(b, m)| b * m).sum();
    let (all, source) = gas::commits(largest + extra);
    let c = options.config;
    println!(
        "gas per document write, fvm 4.8.4 price list; documents: {source}; prollydb node targets: \
         leaf {} B, internal {} B",
        c.leaf_target, c.internal_target
    );
    println!(
        "floor = message bytes x {MESSAGE_GAS_PER_BYTE} + new document (+ index entry) bytes x \
         {STORAGE_GAS_PER_BYTE}, per document"
    );
    println!();
    println!(
        "| docs | keys | batch | HAMT gas/doc | prolly gas/doc | x HAMT | floor/doc | x floor | \
         +index gas/doc | x HAMT | +index floor/doc | x floor |"
    );
    println!("|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|");
    let mut shapes = Vec::new();
    let mut queries = Vec::new();
    for order in [KeyOrder::Random, KeyOrder::Append] {
        let commits = gas::in_key_order(all.clone(), order);
        for &size in &options.sizes {
            let (prefill, fresh) = commits.split_at(size);
            let mut fvm = gas::machine(prefill, order, options.config)?;
            let mut fresh = fresh.iter().cloned();
            for (batch_size, messages) in BATCHES {
                let mut cell = Cell::default();
                for _ in 0..messages {
                    let batch: Vec<Commit> = fresh.by_ref().take(batch_size).collect();
                    write(&mut fvm, &batch, order, &mut cell)?;
                }
                let (h, p, i) = (
                    cell.per_doc(&cell.hamt),
                    cell.per_doc(&cell.prolly),
                    cell.per_doc(&cell.indexed),
                );
                let pf = cell.floor(&cell.prolly, cell.prolly_entries);
                let inf = cell.floor(&cell.indexed, cell.indexed_entries);
                println!(
                    "| {size} | {} | {batch_size} | {:.2}M | {:.2}M | {:.2} | {:.2}M | {:.2} | \
                     {:.2}M | {:.2} | {:.2}M | {:.2} |",
                    order.name(),
                    h / 1e6,
                    p / 1e6,
                    p / h,
                    pf / 1e6,
                    p / pf,
                    i / 1e6,
                    i / h,
                    inf / 1e6,
                    i / inf,
                );
                if options.breakdown {
                    print_breakdown("HAMT", &cell.hamt, cell.docs);
                    print_breakdown("prolly", &cell.prolly, cell.docs);
                    print_breakdown("+index", &cell.indexed, cell.docs);
                }
                shapes.push((size, order, batch_size, cell));
            }
            queries.push((size, order, reads(&mut fvm, prefill, order)?));
        }
    }

    println!();
    println!("per commit (mean over its messages): message bytes, blocks and bytes written");
    println!();
    println!(
        "| docs | keys | batch | msg B (HAMT / prolly) | blocks HAMT / prolly / +index | \
         bytes HAMT / prolly / +index | new entry B prolly / +index |"
    );
    println!("|---:|---|---:|---:|---:|---:|---:|");
    for (size, order, batch, cell) in &shapes {
        println!(
            "| {size} | {} | {batch} | {:.0} / {:.0} | {:.1} / {:.1} / {:.1} | {:.0} / {:.0} / {:.0} | {:.0} / {:.0} |",
            order.name(),
            cell.per_commit(cell.hamt.message_bytes),
            cell.per_commit(cell.prolly.message_bytes),
            cell.per_commit(cell.hamt.blocks_written),
            cell.per_commit(cell.prolly.blocks_written),
            cell.per_commit(cell.indexed.blocks_written),
            cell.per_commit(cell.hamt.bytes_written),
            cell.per_commit(cell.prolly.bytes_written),
            cell.per_commit(cell.indexed.bytes_written),
            cell.per_commit(cell.prolly_entries),
            cell.per_commit(cell.indexed_entries),
        );
    }

    println!();
    println!(
        "one place with n alternate names, multi-entry index on names[] (database of 1k commits, \
         one message each; block gas limit {:.0}M)",
        prollydb::local_fvm::GAS_LIMIT as f64 / 1e6
    );
    println!();
    println!("| names | gas with index | gas without | index gas per name | x block limit |");
    println!("|---:|---:|---:|---:|---:|");
    for (n, with_index, without) in multi_entry(options.config)? {
        match with_index {
            Ok(with_index) => println!(
                "| {n} | {:.2}M | {:.2}M | {:.3}M | {:.4} |",
                with_index.gas as f64 / 1e6,
                without.gas as f64 / 1e6,
                (with_index.gas.saturating_sub(without.gas)) as f64 / n as f64 / 1e6,
                with_index.gas as f64 / prollydb::local_fvm::GAS_LIMIT as f64,
            ),
            Err(_) => println!("| {n} | refused | {:.2}M | | |", without.gas as f64 / 1e6),
        }
    }

    println!();
    println!("reads on-chain (gas, blocks opened)");
    println!();
    println!(
        "| docs | keys | indexed query, 32 results | prolly point read by _id | HAMT Get | point x HAMT |"
    );
    println!("|---:|---|---:|---:|---:|---:|");
    for (size, order, [indexed, point, get]) in &queries {
        println!(
            "| {size} | {} | {:.2}M ({} blocks) | {:.2}M ({} blocks) | {:.2}M ({} blocks) | {:.2} |",
            order.name(),
            indexed.gas as f64 / 1e6,
            indexed.blocks_read,
            point.gas as f64 / 1e6,
            point.blocks_read,
            get.gas as f64 / 1e6,
            get.blocks_read,
            point.gas as f64 / get.gas as f64,
        );
    }
    Ok(())
}
