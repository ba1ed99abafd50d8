//! The shape of a commit off-chain, and a target for `valgrind --tool=callgrind`: a database of
//! `docs` kubo commits, then 50 batches of `batch` new ones, each decoded from its canonical bytes
//! and applied as the actor does; prints depth, blocks and bytes written and blocks read per
//! batch. `one_commit` is the function to profile (`--toggle-collect='*one_commit*'`).
//!
//! `cargo run --release -p prolly_bench --example commit_shape -- <docs> <leaf target>
//! <internal target> <indexed 0|1> <batch> [order 0 random | 1 append]`
use prolly_bench::counting::CountingStore;
use prolly_bench::gas::{self, KeyOrder};
use prolly_db::{Database, WriteBatch};
use prolly_tree::Config;

#[inline(never)]
fn one_commit(store: &CountingStore, root: cid::Cid, bytes: &[u8]) -> cid::Cid {
    let batch = WriteBatch::from_cbor(bytes).unwrap();
    let mut db = Database::open(store, root).unwrap().expect_complete();
    db.apply(&batch).unwrap().expect_complete()
}

fn main() {
    let args: Vec<usize> = std::env::args()
        .skip(1)
        .map(|a| a.parse().unwrap())
        .collect();
    let (n, lt, it, indexed, b) = (
        args[0],
        args[1] as u32,
        args[2] as u32,
        args[3] == 1,
        args[4],
    );
    let (all, _) = gas::commits(n + 50 * b);
    let orders = match args.get(5) {
        Some(0) => vec![KeyOrder::Random],
        Some(_) => vec![KeyOrder::Append],
        None => vec![KeyOrder::Random, KeyOrder::Append],
    };
    for order in orders {
        let all = gas::in_key_order(all.clone(), order);
        let store = CountingStore::default();
        let mut db = Database::create(&store, Config::with_targets(lt, it)).unwrap();
        db.apply(&gas::prolly_batch(&all[..n], order, Some(indexed)))
            .unwrap()
            .expect_complete();
        let stats = db.tree().stats().unwrap().expect_complete();
        println!("{order:?} depth {} nodes {}", stats.depth, stats.nodes);
        let (mut blocks, mut bytes, mut reads) = (0, 0, 0);
        let mut root = db.root();
        for c in all[n..n + 50 * b].chunks(b) {
            store.take_written_blocks();
            store.take_written();
            store.take_read_blocks();
            let batch = gas::prolly_batch(c, order, None).to_cbor();
            root = one_commit(&store, root, &batch);
            blocks += store.take_written_blocks();
            bytes += store.take_written();
            reads += store.take_read_blocks();
        }
        println!(
            "  per insert: {:.1} blocks written, {:.0} bytes, {:.1} blocks read",
            blocks as f64 / 50.0,
            bytes as f64 / 50.0,
            reads as f64 / 50.0
        );
    }
}
