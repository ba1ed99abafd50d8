//! prollydb's tree as a benchmark subject, and the node-size settings table.

use std::ops::Bound;

use fvm_ipld_blockstore::Blockstore;
use prolly_tree::{Batch, Config, Direction, Node, RawValue, RootObject, Tree, Value};

use crate::Subject;
use prolly_bench::counting::CountingStore;
use prolly_bench::data::Dataset;

pub struct Ours {
    name: &'static str,
    config: Config,
    // Leaked so the tree can borrow it for the whole run: one store per subject per size.
    store: &'static CountingStore,
    tree: Option<Tree<&'static CountingStore>>,
}

impl Ours {
    pub fn new(name: &'static str, config: Config) -> Self {
        Ours {
            name,
            config,
            store: Box::leak(Box::default()),
            tree: None,
        }
    }

    fn tree(&mut self) -> &mut Tree<&'static CountingStore> {
        self.tree.as_mut().expect("built")
    }
}

impl Subject for Ours {
    fn name(&self) -> &'static str {
        self.name
    }
    fn bulk_build(&mut self, sorted: &[(Vec<u8>, Vec<u8>)]) {
        let entries = sorted
            .iter()
            .map(|(k, v)| (k.clone(), RawValue::byte_string(v)));
        self.tree = Some(Tree::build_raw(self.store, self.config, entries).expect("build"));
    }
    fn insert_one(&mut self, key: &[u8], value: &[u8]) {
        let mut b = Batch::new();
        b.put_raw(key.to_vec(), RawValue::byte_string(value));
        self.tree().apply(&b).unwrap().expect_complete();
    }
    fn insert_batch(&mut self, batch: &[(Vec<u8>, Vec<u8>)]) {
        let mut b = Batch::new();
        for (k, v) in batch {
            b.put_raw(k.clone(), RawValue::byte_string(v));
        }
        self.tree().apply(&b).unwrap().expect_complete();
    }
    fn get(&mut self, key: &[u8]) -> bool {
        self.tree().get(key).unwrap().expect_complete().is_some()
    }
    fn scan(&mut self, from: &[u8], n: usize) -> Option<usize> {
        let tree = self.tree();
        let got = tree.range_limit(
            Bound::Included(from),
            Bound::Unbounded,
            Direction::Forward,
            n,
        );
        Some(got.unwrap().expect_complete().len())
    }
    fn bytes_stored(&mut self) -> u64 {
        let tree = self.tree();
        let root_object = tree.store().get(&tree.cid()).unwrap().unwrap().len() as u64;
        tree.stats().unwrap().expect_complete().bytes + root_object
    }
    fn take_written(&mut self) -> u64 {
        self.store.take_written()
    }
    fn path_bytes(&mut self, key: &[u8]) -> u64 {
        // A fresh open and get reads the root object and one node per level.
        self.store.take_read();
        let cid = self.tree().cid();
        let tree = Tree::load(self.store, cid).unwrap().expect_complete();
        tree.get(key).unwrap().expect_complete();
        self.store.take_read()
    }
}

/// Bytes the per-child entry counts take in the internal nodes (the count values and the column's
/// array head), against the total: what keeping counts costs.
fn count_overhead(store: &CountingStore, tree: &Tree<&CountingStore>) -> (u64, u64) {
    let root = RootObject::load(store, &tree.cid())
        .unwrap()
        .expect_complete();
    let mut level = vec![root.node];
    let (mut counts, mut total) = (0u64, 0u64);
    while !level.is_empty() {
        let mut below = Vec::new();
        for cid in level {
            let bytes = store.get(&cid).unwrap().unwrap();
            total += bytes.len() as u64;
            let node = Node::decode(bytes).unwrap();
            if node.level() > 0 {
                counts += prolly_tree::size::head_len(node.entries().len() as u64) as u64;
                for e in node.entries() {
                    if let Value::Child { cid, count } = e.value {
                        counts += prolly_tree::size::head_len(count) as u64;
                        below.push(cid);
                    }
                }
            }
        }
        level = below;
    }
    (counts, total)
}

/// Depth, node sizes and write/proof costs of our tree at several node-size targets.
pub fn print_settings(n: usize, targets: &[(u32, u32)]) {
    let data = Dataset::new(n);
    println!(
        "| leaf / internal target | depth | leaves | mean leaf | mean internal | largest | p50 / p90 / p99 node | bytes per update | blocks per update | path bytes | count bytes | est. gas per update | bytes per insert | batched inserts/s |"
    );
    println!("|---|---:|---:|---:|---:|---:|---|---:|---:|---:|---:|---:|---:|---:|");
    for &(leaf, internal) in targets {
        let config = Config::with_targets(leaf, internal);
        let store: &'static CountingStore = Box::leak(Box::default());
        let entries = data
            .sorted
            .iter()
            .map(|(k, v)| (k.clone(), RawValue::byte_string(v)));
        let mut tree = Tree::build_raw(store, config, entries).unwrap();
        let stats = tree.stats().unwrap().expect_complete();
        let (count_bytes, total) = count_overhead(store, &tree);
        let mut sizes: Vec<u64> = Vec::new();
        {
            // Exact percentiles from a walk, not the power-of-two histogram.
            let root = RootObject::load(store, &tree.cid())
                .unwrap()
                .expect_complete();
            let mut level = vec![root.node];
            while !level.is_empty() {
                let mut below = Vec::new();
                for cid in level {
                    let bytes = store.get(&cid).unwrap().unwrap();
                    sizes.push(bytes.len() as u64);
                    let node = Node::decode(bytes).unwrap();
                    below.extend(node.entries().iter().filter_map(|e| match e.value {
                        Value::Child { cid, .. } => Some(cid),
                        _ => None,
                    }));
                }
                level = below;
            }
            sizes.sort_unstable();
        }
        let pct = |p: f64| sizes[((sizes.len() - 1) as f64 * p) as usize];
        store.take_written();
        store.take_written_blocks();
        for (k, v) in &data.updates {
            let mut b = Batch::new();
            b.put_raw(k.clone(), RawValue::byte_string(v));
            tree.apply(&b).unwrap().expect_complete();
        }
        let blocks = store.take_written_blocks();
        let per_update = store.take_written() as f64 / data.updates.len() as f64;
        let blocks_per_update = blocks as f64 / data.updates.len() as f64;
        let mut path = 0;
        for k in &data.probes[..100] {
            store.take_read();
            let t = Tree::load(store, tree.cid()).unwrap().expect_complete();
            t.get(k).unwrap().expect_complete();
            path += store.take_read();
        }
        let start = std::time::Instant::now();
        for batch in &data.batches[..5] {
            let mut b = Batch::new();
            for (k, v) in batch {
                b.put_raw(k.clone(), RawValue::byte_string(v));
            }
            tree.apply(&b).unwrap().expect_complete();
        }
        let batch_rate = 5_000.0 / start.elapsed().as_secs_f64();
        store.take_written();
        for (k, v) in &data.singles {
            let mut b = Batch::new();
            b.put_raw(k.clone(), RawValue::byte_string(v));
            tree.apply(&b).unwrap().expect_complete();
        }
        let per_insert = store.take_written() as f64 / data.singles.len() as f64;
        let leaves = &stats.levels[0];
        let internal_nodes: u64 = stats.levels[1..].iter().map(|l| l.nodes).sum();
        let internal_bytes: u64 = stats.levels[1..].iter().map(|l| l.bytes).sum();
        // FVM 4.8.4 prices (FVM-NOTES.md): ~506k gas per block stored plus 3,362 per byte.
        let gas = blocks_per_update * 506_000.0 + per_update * 3_362.0;
        println!(
            "| {leaf} / {internal} | {} | {} | {} | {} | {} | {} / {} / {} | {per_update:.0} | {blocks_per_update:.1} | {} | {:.1}% | {:.1}M | {per_insert:.0} | {:.1}k |",
            stats.depth,
            leaves.nodes,
            leaves.bytes / leaves.nodes.max(1),
            internal_bytes / internal_nodes.max(1),
            stats.levels.iter().map(|l| l.largest).max().unwrap_or(0),
            pct(0.5),
            pct(0.9),
            pct(0.99),
            path / 100,
            count_bytes as f64 * 100.0 / total as f64,
            gas / 1e6,
            batch_rate / 1e3,
        );
    }
    println!(
        "\n`count bytes`: share of all tree bytes spent on per-child entry counts in internal nodes. Gas is estimated from bytes and blocks written with FVM 4.8.4's storage prices."
    );
}
