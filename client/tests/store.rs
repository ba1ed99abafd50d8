//! The local store: one-transaction commits, roots, modes, the folder lock, gc, the cache's cap,
//! and a kill -9 in the middle of a large write.

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};

use cid::Cid;
use fvm_ipld_blockstore::Blockstore;
use ipld_core::ipld::Ipld;
use prolly_client::store::{HEAD, Mode, Store, StoreError};
use prolly_db::{Database, Query, WriteBatch};
use prolly_tree::{Config, cid_of};

fn block(n: u64, len: usize) -> (Cid, Vec<u8>) {
    // A DAG-CBOR byte string: 0x59 + u16 length, then bytes that differ per n.
    let mut bytes = vec![0x59, (len >> 8) as u8, len as u8];
    bytes.extend((0..len).map(|i| (n.wrapping_mul(31).wrapping_add(i as u64) % 251) as u8));
    (cid_of(&bytes), bytes)
}

/// A DAG-CBOR list linking `children`.
fn parent(children: &[Cid]) -> (Cid, Vec<u8>) {
    let value = Ipld::List(children.iter().map(|c| Ipld::Link(*c)).collect());
    let bytes = prolly_tree::RawValue::from_ipld(&value)
        .unwrap()
        .as_bytes()
        .to_vec();
    (cid_of(&bytes), bytes)
}

/// Upserts of `n` people from `from`; the first batch (`from` 0) creates the collection.
fn people(n: u64, from: u64) -> WriteBatch {
    let mut batch = WriteBatch::new();
    if from == 0 {
        batch.create_collection("people");
    }
    for i in from..from + n {
        batch.upsert(
            "people",
            Ipld::Map(BTreeMap::from([
                ("_id".to_string(), Ipld::Integer(i.into())),
                ("name".to_string(), Ipld::String(format!("person {i}"))),
                ("age".to_string(), Ipld::Integer((i % 90).into())),
            ])),
        );
    }
    batch
}

fn count(db: &Database<Store>) -> u64 {
    let q = Query::from_json(r#"{"collection": "people", "count": true}"#).unwrap();
    db.query(&q).unwrap().into_result().unwrap().count.unwrap()
}

#[test]
fn a_write_commits_blocks_and_root_together_and_a_dropped_writer_writes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let (a, a_bytes) = block(1, 100);
    let (b, b_bytes) = block(2, 200);
    {
        let store = Store::open_database(dir.path()).unwrap();
        let w = store.write().unwrap();
        w.put_block(&a, &a_bytes).unwrap();
        w.set_root(HEAD, &a).unwrap();
        w.set_meta("import", b"row 7").unwrap();
        // The writer reads its own writes; the store does not see them yet.
        assert_eq!(w.get_block(&a).unwrap().as_deref(), Some(&a_bytes[..]));
        assert_eq!(w.root(HEAD).unwrap(), Some(a));
        w.commit().unwrap();

        let w = store.write().unwrap();
        w.put_block(&b, &b_bytes).unwrap();
        w.set_root(HEAD, &b).unwrap();
        drop(w);
        assert_eq!(store.head().unwrap(), Some(a));
        assert!(!store.has_block(&b).unwrap());
        assert_eq!(store.block_bytes().unwrap(), 100 + 3);
    }
    let store = Store::open_database(dir.path()).unwrap();
    assert_eq!(store.head().unwrap(), Some(a));
    assert_eq!(store.get_block(&a).unwrap(), Some(a_bytes));
    assert_eq!(
        store.meta("import").unwrap().as_deref(),
        Some(&b"row 7"[..])
    );
    assert_eq!(store.roots().unwrap(), vec![(HEAD.to_string(), a)]);
}

#[test]
fn a_database_writes_through_a_writer_and_reopens_at_its_head() {
    let dir = tempfile::tempdir().unwrap();
    let root = {
        let store = Store::open_database(dir.path()).unwrap();
        let w = store.write().unwrap();
        let mut db = Database::create(&w, Config::default()).unwrap();
        db.apply(&people(500, 0)).unwrap().into_result().unwrap();
        let root = db.root();
        drop(db);
        w.set_root(HEAD, &root).unwrap();
        w.commit().unwrap();
        root
    };
    let store = Store::open_database(dir.path()).unwrap();
    assert_eq!(store.head().unwrap(), Some(root));
    let db = Database::open(store.clone(), root)
        .unwrap()
        .into_result()
        .unwrap();
    assert_eq!(count(&db), 500);
}

#[test]
fn a_second_open_names_the_process_that_holds_the_folder() {
    let dir = tempfile::tempdir().unwrap();
    let _first = Store::open_database(dir.path()).unwrap();
    let err = Store::open_database(dir.path()).unwrap_err();
    assert!(
        matches!(err, StoreError::Locked { holder: Some(pid), .. } if pid == std::process::id()),
        "{err}"
    );
    let message = err.to_string();
    assert!(
        message.contains(&format!("PID {}", std::process::id())),
        "{message}"
    );
    assert!(
        message.contains(&dir.path().display().to_string()),
        "{message}"
    );
    drop(_first);
    Store::open_database(dir.path()).unwrap();
}

#[test]
fn a_store_keeps_its_mode() {
    let dir = tempfile::tempdir().unwrap();
    drop(Store::open(dir.path(), Mode::Cache { max_bytes: 1 << 20 }).unwrap());
    let err = Store::open_database(dir.path()).unwrap_err();
    assert!(matches!(err, StoreError::WrongMode { .. }), "{err}");
    assert!(
        err.to_string().contains("is a cache, not a database"),
        "{err}"
    );
    // A cap may change between opens.
    Store::open(dir.path(), Mode::Cache { max_bytes: 1 << 10 }).unwrap();
}

#[test]
fn gc_removes_exactly_what_no_root_reaches_and_the_byte_count_follows() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open_database(dir.path()).unwrap();
    let leaves: Vec<_> = (0..6).map(|n| block(n, 1000)).collect();
    let cids: Vec<Cid> = leaves.iter().map(|(c, _)| *c).collect();
    let left = parent(&cids[0..3]);
    let right = parent(&cids[2..5]); // shares leaf 2 with `left`; leaf 5 is linked by no one
    let w = store.write().unwrap();
    for (cid, bytes) in leaves.iter().chain([&left, &right]) {
        w.put_block(cid, bytes).unwrap();
    }
    w.set_root(HEAD, &left.0).unwrap();
    w.set_root("pinned", &right.0).unwrap();
    w.commit().unwrap();
    let all: u64 = leaves
        .iter()
        .chain([&left, &right])
        .map(|(_, b)| b.len() as u64)
        .sum();
    assert_eq!(store.block_bytes().unwrap(), all);

    let report = store.gc().unwrap();
    assert_eq!(report.removed_blocks, 1, "only the unlinked leaf goes");
    assert!(!store.has_block(&cids[5]).unwrap());
    assert_eq!(store.block_bytes().unwrap(), all - 1003);

    let w = store.write().unwrap();
    assert!(w.remove_root("pinned").unwrap());
    w.commit().unwrap();
    let report = store.gc().unwrap();
    assert_eq!(
        report.removed_blocks, 3,
        "the right parent and the leaves only it reached"
    );
    for (i, cid) in cids.iter().enumerate() {
        assert_eq!(store.has_block(cid).unwrap(), i < 3, "leaf {i}");
    }
    assert_eq!(store.block_bytes().unwrap(), report.kept_bytes);
    store.compact().unwrap();
    assert_eq!(store.get_block(&left.0).unwrap(), Some(left.1));
}

#[test]
fn a_cache_stays_under_its_cap_and_spares_recent_pinned_and_in_use_blocks() {
    let dir = tempfile::tempdir().unwrap();
    let cap = 64 * 1024;
    let store = Store::open(dir.path(), Mode::Cache { max_bytes: cap }).unwrap();
    let blocks: Vec<_> = (0..400).map(|n| block(n, 1000)).collect();

    // Pinned: a root reaching blocks 0..3.
    let pin = parent(&[blocks[0].0, blocks[1].0, blocks[2].0]);
    let w = store.write().unwrap();
    for (cid, bytes) in blocks[0..3].iter().chain([&pin]) {
        w.put_block(cid, bytes).unwrap();
    }
    w.set_root("pinned", &pin.0).unwrap();
    w.commit().unwrap();

    // In use: a session that reads block 3 and then holds on.
    store.put_keyed(&blocks[3].0, &blocks[3].1).unwrap();
    let session = store.session();
    assert!(session.get(&blocks[3].0).unwrap().is_some());

    // Recent: block 4 is read again after every batch.
    for chunk in blocks[4..].chunks(10) {
        store
            .put_many_keyed(chunk.iter().map(|(c, b)| (*c, b.as_slice())))
            .unwrap();
        assert!(
            store.get_block(&blocks[4].0).unwrap().is_some(),
            "recently used"
        );
        assert!(
            store.block_bytes().unwrap() <= cap,
            "{} > {cap}",
            store.block_bytes().unwrap()
        );
    }
    for (i, (cid, _)) in blocks[0..5].iter().enumerate() {
        assert!(store.has_block(cid).unwrap(), "block {i} was evicted");
    }
    assert!(
        !store.has_block(&blocks[10].0).unwrap(),
        "an old block stays"
    );
    assert!(store.has_block(&blocks[399].0).unwrap());
    drop(session);

    // Reopened, the recency written in batches survives: block 4 is still younger than 5..
    drop(store);
    let store = Store::open(dir.path(), Mode::Cache { max_bytes: cap / 4 }).unwrap();
    store
        .put_keyed(&block(1000, 10).0, &block(1000, 10).1)
        .unwrap();
    assert!(store.block_bytes().unwrap() <= cap / 4 + 4 * 1003);
    assert!(store.has_block(&pin.0).unwrap(), "pinned blocks stay");
    assert!(
        store.has_block(&blocks[4].0).unwrap(),
        "block 4 was read last"
    );
}

/// The child process of the kill -9 test (it does nothing unless that test started it).
#[test]
fn kill_child_writer() {
    let Ok(dir) = std::env::var("PROLLY_KILL_CHILD_DIR") else {
        return;
    };
    let store = Store::open_database(&dir).unwrap();
    let mut from = 0;
    loop {
        let w = store.write().unwrap();
        let mut db = match w.root(HEAD).unwrap() {
            Some(root) => Database::open(&w, root).unwrap().into_result().unwrap(),
            None => Database::create(&w, Config::default()).unwrap(),
        };
        db.apply(&people(2_000, from))
            .unwrap()
            .into_result()
            .unwrap();
        from += 2_000;
        let root = db.root();
        drop(db);
        w.set_root(HEAD, &root).unwrap();
        // Printed before the commit: the parent then knows every root HEAD may hold.
        println!("next {root} {from}");
        w.commit().unwrap();
        println!("committed {root}");
    }
}

#[test]
fn the_store_survives_kill_9_in_the_middle_of_a_large_write() {
    let dir = tempfile::tempdir().unwrap();
    let mut child = Command::new(std::env::current_exe().unwrap())
        .args([
            "--exact",
            "kill_child_writer",
            "--nocapture",
            "--test-threads=1",
        ])
        .env("PROLLY_KILL_CHILD_DIR", dir.path())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let mut expected = BTreeMap::new();
    let mut committed = 0;
    while committed < 6 {
        let line = lines.next().expect("the child stopped early").unwrap();
        let words: Vec<&str> = line.split(' ').collect();
        match words[..] {
            ["next", root, count] => {
                expected.insert(root.to_string(), count.parse::<u64>().unwrap());
            }
            ["committed", _] => committed += 1,
            _ => {}
        }
    }
    // Land the kill somewhere inside the next write.
    std::thread::sleep(std::time::Duration::from_millis(37));
    child.kill().unwrap(); // SIGKILL
    child.wait().unwrap();
    for line in lines {
        let line = line.unwrap();
        if let ["next", root, count] = line.split(' ').collect::<Vec<_>>()[..] {
            expected.insert(root.to_string(), count.parse().unwrap());
        }
    }

    let store = Store::open_database(dir.path()).expect("reopens after kill -9");
    let head = store.head().unwrap().expect("a committed head");
    let want = expected[&head.to_string()];
    assert!(
        want >= 6 * 2_000,
        "HEAD went back past a commit the child had reported"
    );
    let db = Database::open(store.clone(), head)
        .unwrap()
        .into_result()
        .unwrap();
    assert_eq!(count(&db), want);
    // Every block of the head is there: the whole tree reads without a missing block.
    prolly_tree::check_invariants(&store, &head).expect("every block of HEAD, well formed");
    // And the recorded byte count matches the blocks.
    let before = store.block_bytes().unwrap();
    let report = store.gc().unwrap();
    assert_eq!(report.removed_bytes + report.kept_bytes, before);
}

#[test]
fn reads_and_sessions_never_wait_on_a_writer_of_the_same_thread() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path(), Mode::Cache { max_bytes: 4_000 }).unwrap();
    let blocks: Vec<_> = (0..20).map(|n| block(n, 1000)).collect();
    store
        .put_many_keyed(blocks.iter().map(|(c, b)| (*c, b.as_slice())))
        .unwrap();
    let writer = store.write().unwrap();
    // Enough reads to ask for a recency flush, and a session ending over the cap (its blocks
    // were spared while it lived): both are chores that must skip, not wait, while this thread
    // holds the write.
    let session = store.session();
    for _ in 0..20_000 {
        for (cid, _) in &blocks {
            let _ = session.get(cid).unwrap();
        }
    }
    drop(session);
    writer
        .put_block(&block(100, 10).0, &block(100, 10).1)
        .unwrap();
    writer.commit().unwrap();
    // The writer's commit did the eviction the session's end skipped.
    assert!(store.block_bytes().unwrap() <= 4_000);
}

/// Blocks are appended under a sequence number and found through an index by CID: a block put
/// again (in the same write or a later one) is held once, a removed block can come back, and a
/// store of the version before this layout is refused with a message that says what to do.
#[test]
fn a_block_put_again_is_held_once_and_an_older_layout_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let (a, a_bytes) = block(1, 100);
    let (b, b_bytes) = block(2, 50);
    {
        let store = Store::open_database(dir.path()).unwrap();
        let w = store.write().unwrap();
        w.put_block(&a, &a_bytes).unwrap();
        w.put_block(&a, &a_bytes).unwrap();
        w.put_block(&b, &b_bytes).unwrap();
        w.commit().unwrap();
        let w = store.write().unwrap();
        w.put_many_keyed([(a, a_bytes.as_slice()), (b, b_bytes.as_slice())])
            .unwrap();
        w.commit().unwrap();
        assert_eq!(store.block_count().unwrap(), 2);
        assert_eq!(store.block_bytes().unwrap(), 103 + 53);

        // No root: gc removes both; the later one (the last appended) comes back readable.
        let report = store.gc().unwrap();
        assert_eq!((report.removed_blocks, report.removed_bytes), (2, 156));
        assert_eq!(store.block_count().unwrap(), 0);
        assert_eq!(store.get_block(&b).unwrap(), None);
        let w = store.write().unwrap();
        w.put_block(&b, &b_bytes).unwrap();
        w.put_block(&a, &a_bytes).unwrap();
        w.commit().unwrap();
        assert_eq!(store.get_block(&a).unwrap(), Some(a_bytes.clone()));
        assert_eq!(store.get_block(&b).unwrap(), Some(b_bytes.clone()));
        assert_eq!(store.block_bytes().unwrap(), 156);
    }
    {
        let db = redb::Database::open(dir.path().join("store.redb")).unwrap();
        let txn = db.begin_write().unwrap();
        {
            let mut meta = txn
                .open_table(redb::TableDefinition::<&str, &[u8]>::new("meta"))
                .unwrap();
            meta.insert("version", 1u64.to_le_bytes().as_slice())
                .unwrap();
        }
        txn.commit().unwrap();
    }
    let refused = Store::open_database(dir.path()).unwrap_err();
    assert!(
        matches!(refused, StoreError::Version { found: 1, .. }),
        "{refused}"
    );
    assert!(
        refused
            .to_string()
            .ends_with("store format version 1; this build reads version 2 only (export its roots to a CAR with the build that wrote it, then import-car)"),
        "{refused}"
    );
}
