//! prollydb: a content-addressed document database on a prolly tree.
//!
//! The root package ties the workspace together: it re-exports the crates and carries the actor's
//! Wasm, built by `build.rs` from `actor/`.

pub use prolly_tree as tree;

/// The prollydb actor compiled to wasm32-unknown-unknown (`actor/`, feature `actor`), ready for
/// the FVM.
pub const ACTOR_WASM: &[u8] = include_bytes!(concat!(env!("OUT_DIR"), "/prolly_actor.wasm"));

/// The gas baseline actor (`baseline/`): documents in an fvm_ipld_hamt, no index. Built in the
/// same nested cargo call as [`ACTOR_WASM`].
pub const BASELINE_WASM: &[u8] =
    include_bytes!(concat!(env!("OUT_DIR"), "/hamt_baseline_actor.wasm"));

pub mod local_fvm;
