//! The chain through the built binary: `prolly demo` (the README's main job), and `prolly devnet`
//! driven as a user drives it: deploy, send a batch and a file, query through the actor (also
//! anchored, its proof checked by `prolly verify`), follow a commit, and a kill -9 and restart
//! that loses nothing. The data is the shipped nycflights13 sample, always present.

use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

fn prolly(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_prolly"))
        .args(args)
        .env_remove("FULLNODE_API_INFO")
        .output()
        .expect("the binary runs")
}

fn ok(args: &[&str]) -> (String, String) {
    let out = prolly(args);
    let stderr = String::from_utf8(out.stderr).unwrap();
    assert!(out.status.success(), "prolly {args:?} failed: {stderr}");
    (String::from_utf8(out.stdout).unwrap(), stderr)
}

/// `count flights {"origin": "JFK"}` through actor 1000 of the node at `url`: (stdout, stderr).
fn jfk_count(url: &str) -> (String, String) {
    ok(&[
        "--remote",
        url,
        "--actor",
        "1000",
        "count",
        "flights",
        r#"{"origin": "JFK"}"#,
    ])
}

fn sample() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../data/nycflights13-flights-sample.csv.gz")
}

/// A devnet in its own process, and the `FULLNODE_API_INFO` it printed.
struct Devnet {
    child: Child,
    info: String,
    url: String,
}

impl Devnet {
    fn start(dir: &Path) -> Devnet {
        let mut child = Command::new(env!("CARGO_BIN_EXE_prolly"))
            .args([
                "--db",
                dir.to_str().unwrap(),
                "devnet",
                "--listen",
                "127.0.0.1:0",
            ])
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        let info = line
            .trim()
            .strip_prefix("FULLNODE_API_INFO=")
            .unwrap_or_else(|| panic!("the first line is the API info: {line:?}"))
            .to_string();
        let port = info.rsplit('/').nth(1).unwrap();
        Devnet {
            child,
            url: format!("http://127.0.0.1:{port}"),
            info,
        }
    }

    fn kill(mut self) {
        self.child.kill().unwrap(); // SIGKILL
        self.child.wait().unwrap();
    }
}

impl Drop for Devnet {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[test]
fn the_main_job_runs_and_verifies_every_answer() {
    let started = Instant::now();
    let (stdout, stderr) = ok(&["demo"]);
    assert!(
        started.elapsed() < Duration::from_secs(120),
        "{:?}",
        started.elapsed()
    );
    assert!(!stderr.contains("panicked"), "{stderr}");
    for expected in [
        "2. deploy   Constructor from t1",
        "3,007 documents in",
        "a) indexed range",
        "1034",
        "| gas per document |",
        "\"change\":\"changed\"",
        "\"change\":\"added\"",
        "\"change\":\"removed\"",
    ] {
        assert!(stdout.contains(expected), "no {expected:?} in:\n{stdout}");
    }
    assert_eq!(
        stdout.matches("verified against state root").count(),
        4,
        "{stdout}"
    );
}

#[test]
fn devnet_send_query_verify_follow_and_restart() {
    let dir = tempfile::tempdir().unwrap();
    let chain = dir.path().join("chain");
    let devnet = Devnet::start(&chain);
    let node = devnet.info.clone();
    let actor = ["--remote", &node, "--actor", "1000"];
    let with = |more: &[&str]| -> Vec<String> {
        actor.iter().chain(more).map(|s| s.to_string()).collect()
    };
    let run = |more: &[&str]| {
        let args = with(more);
        ok(&args.iter().map(String::as_str).collect::<Vec<_>>())
    };

    // Writes need the token's `sign`: without it, the node says so.
    let out = prolly(&["--remote", &devnet.url, "--actor", "1000", "send", "deploy"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("missing permission"));

    run(&["send", "deploy"]);
    let schema = dir.path().join("schema.json");
    std::fs::write(
        &schema,
        r#"{"ops": [{"op": "create_collection", "collection": "flights"},
        {"op": "create_index", "collection": "flights", "index": {"name": "by_origin", "fields": ["origin", "dep_delay"]}}]}"#,
    )
    .unwrap();
    run(&["send", "apply", schema.to_str().unwrap()]);
    let (root, stderr) = run(&["send", "import", "flights", sample().to_str().unwrap()]);
    assert!(stderr.contains("wrote 3007 document(s)"), "{stderr}");
    let root = root.trim().to_string();

    // Reads through the actor: the root from StateGetActor, over any of the node's faces.
    let (count, stderr) = jfk_count(&devnet.url);
    assert_eq!(count.trim(), "1011");
    assert!(stderr.contains("not independently checked"), "{stderr}");
    let (same, _) = ok(&["--remote", &devnet.url, "--actor", "1000", "root"]);
    assert_eq!(same.trim(), root);

    // Anchored: proven from the state root, and `prolly verify` agrees offline.
    let proof = dir.path().join("p.car");
    let (docs, stderr) = run(&[
        "--json",
        "query",
        "flights",
        r#"{"filter": {"origin": "JFK", "dep_delay": {"$gte": 200}}}"#,
        "--anchored",
        "--proof",
        proof.to_str().unwrap(),
    ]);
    let stats: serde_json::Value = serde_json::from_str(stderr.trim()).unwrap();
    let state_root = stats["verified_against_state_root"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(!docs.trim().is_empty());
    let (verified, _) = ok(&[
        "verify",
        proof.to_str().unwrap(),
        "--state-root",
        &state_root,
        "--actor",
        "1000",
    ]);
    assert_eq!(verified, docs);
    // Against another state root, or tampered: exit 3.
    let genesis_like = "bafy2bzaceaxm23epjsmh75yvzcecsrbavlmkcxnva66bkdebdcnyw3bjrc74u";
    let out = prolly(&[
        "verify",
        proof.to_str().unwrap(),
        "--state-root",
        genesis_like,
        "--actor",
        "1000",
    ]);
    assert_eq!(out.status.code(), Some(3));
    let mut bytes = std::fs::read(&proof).unwrap();
    let at = bytes.len() - 40;
    bytes[at] ^= 1;
    std::fs::write(&proof, bytes).unwrap();
    let out = prolly(&[
        "verify",
        proof.to_str().unwrap(),
        "--state-root",
        &state_root,
        "--actor",
        "1000",
    ]);
    assert_eq!(out.status.code(), Some(3));
    // The same query with the state root given is trusted, not the node's word.
    let (again, stderr) = run(&[
        "--state-root",
        &state_root,
        "query",
        "flights",
        r#"{"filter": {"origin": "JFK", "dep_delay": {"$gte": 200}}}"#,
    ]);
    assert_eq!(again, docs);
    assert!(stderr.contains("given: trusted"), "{stderr}");

    // Follow: the next commit's diff, from its event.
    let args = with(&["follow", "flights", "--limit", "1", "--interval", "0.1"]);
    let mut follower = Command::new(env!("CARGO_BIN_EXE_prolly"))
        .args(&args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // Wait until it follows (its first line on stderr), then commit.
    let mut err = BufReader::new(follower.stderr.take().unwrap());
    let mut line = String::new();
    err.read_line(&mut line).unwrap();
    assert!(line.starts_with("following actor f01000"), "{line}");
    let change = dir.path().join("change.json");
    std::fs::write(
        &change,
        r#"{"ops": [{"op": "update", "collection": "flights", "id": 7, "set": {"dep_delay": 999}}]}"#,
    )
    .unwrap();
    let (after, _) = run(&["send", "apply", change.to_str().unwrap()]);
    let mut followed = String::new();
    follower
        .stdout
        .take()
        .unwrap()
        .read_to_string(&mut followed)
        .unwrap();
    assert!(follower.wait().unwrap().success());
    let change: serde_json::Value = serde_json::from_str(followed.trim()).unwrap();
    assert_eq!(change["change"], "changed");
    assert_eq!(change["doc"]["_id"], 7);
    assert_eq!(change["doc"]["dep_delay"], 999);

    // A refused write: exit 1, the rows named, nothing written.
    let out = prolly(
        &with(&["send", "import", "flights", sample().to_str().unwrap()])
            .iter()
            .map(String::as_str)
            .collect::<Vec<_>>(),
    );
    assert_eq!(out.status.code(), Some(1));
    let message = String::from_utf8_lossy(&out.stderr);
    assert!(
        message.contains("rows 1-") && message.contains("exit code 16"),
        "{message}"
    );

    // kill -9, restart on the same folder: the same root and answers.
    devnet.kill();
    let devnet = Devnet::start(&chain);
    let (root_after, _) = ok(&["--remote", &devnet.url, "--actor", "1000", "root"]);
    assert_eq!(root_after, after);
    let (count, _) = jfk_count(&devnet.url);
    assert_eq!(count.trim(), "1011");
}
