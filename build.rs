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
}
