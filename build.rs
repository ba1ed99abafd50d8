//! Builds the actor (`actor/`) and the gas baseline actor (`baseline/`) to wasm32-unknown-unknown
//! with one nested cargo, in its own target directory (sharing the outer one deadlocks on cargo's
//! lock), and puts the bytes in OUT_DIR for `prollydb::ACTOR_WASM` and `prollydb::BASELINE_WASM`.
//! It reruns when anything the actors compile changes.

use std::path::{Path, PathBuf};
use std::process::Command;

const TARGET: &str = "wasm32-unknown-unknown";

fn watch(path: &Path) {
    println!("cargo:rerun-if-changed={}", path.display());
}

fn main() {
    let root = PathBuf::from(std::env::var("CARGO_MANIFEST_DIR").expect("set by cargo"));
    let out = PathBuf::from(std::env::var("OUT_DIR").expect("set by cargo"));
    for dir in ["actor", "baseline", "tree", "db"] {
        watch(&root.join(dir).join("src"));
        watch(&root.join(dir).join("Cargo.toml"));
    }
    watch(&root.join("Cargo.toml"));
    watch(&root.join("Cargo.lock"));

    // A fresh machine may lack the target: add it (the README's commands then work as they are).
    let installed = Command::new("rustup")
        .args(["target", "list", "--installed"])
        .output()
        .map(|o| {
            String::from_utf8_lossy(&o.stdout)
                .lines()
                .any(|l| l.trim() == TARGET)
        })
        .unwrap_or(false);
    if !installed {
        let _ = Command::new("rustup")
            .args(["target", "add", TARGET])
            .status();
    }

    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    // Beside the outer target directory, so that clean clones reuse it through CARGO_TARGET_DIR.
    let target_dir = out
        .ancestors()
        .nth(4)
        .map(|target| target.join("wasm-actor"))
        .unwrap_or_else(|| out.join("wasm-actor"));
    // Held until the Wasm is copied and the checkout recorded: two checkouts building at once
    // would otherwise undo each other between those steps.
    std::fs::create_dir_all(&target_dir).expect("the Wasm target directory");
    let lock = std::fs::File::create(target_dir.join("prollydb-build.lock")).expect("a lock file");
    lock.lock().expect("the Wasm target directory's lock");
    forget_other_checkout(&target_dir, &root);
    let status = Command::new(cargo)
        .current_dir(&root)
        .args([
            "build",
            "--locked",
            "-p",
            "prolly_actor",
            "-p",
            "hamt_baseline_actor",
            "--features",
            "prolly_actor/actor,hamt_baseline_actor/actor",
        ])
        .args(["--target", TARGET, "--profile", "wasm", "--target-dir"])
        .arg(&target_dir)
        .env_remove("RUSTFLAGS")
        .env_remove("CARGO_ENCODED_RUSTFLAGS")
        .env_remove("CARGO_BUILD_RUSTFLAGS")
        .env_remove("CARGO_TARGET_DIR")
        .env_remove("CARGO_BUILD_TARGET")
        .env_remove("RUSTC_WORKSPACE_WRAPPER")
        .status()
        .expect("run cargo for the actor");
    assert!(status.success(), "building the actors to Wasm failed");
    for name in ["prolly_actor.wasm", "hamt_baseline_actor.wasm"] {
        let wasm = target_dir.join(TARGET).join("wasm").join(name);
        std::fs::copy(&wasm, out.join(name)).expect("the actor's Wasm");
    }
    let _ = std::fs::write(
        target_dir.join(BUILT_FROM),
        root.to_string_lossy().as_bytes(),
    );
    drop(lock);
}

/// Names the checkout whose sources the shared Wasm target directory last built.
const BUILT_FROM: &str = "built-from";

/// The Wasm target directory is shared by every checkout that uses the same CARGO_TARGET_DIR,
/// and cargo writes one `prolly_actor.wasm` for all of them: a checkout whose sources had not
/// changed since its own last build found the other checkout's Wasm there and embedded it (seen
/// comparing two commits in a git worktree). When the last build came from another checkout,
/// this forgets the fingerprints of the project's own crates, so they are built again from these
/// sources; the dependencies stay built.
fn forget_other_checkout(target_dir: &Path, root: &Path) {
    let last = std::fs::read_to_string(target_dir.join(BUILT_FROM)).unwrap_or_default();
    if last == root.to_string_lossy() {
        return;
    }
    let fingerprints = target_dir.join(TARGET).join("wasm").join(".fingerprint");
    let Ok(dirs) = std::fs::read_dir(&fingerprints) else {
        return;
    };
    for dir in dirs.flatten() {
        let name = dir.file_name().to_string_lossy().into_owned();
        if name.starts_with("prolly_") || name.starts_with("hamt_baseline_actor") {
            let _ = std::fs::remove_dir_all(dir.path());
        }
    }
}
