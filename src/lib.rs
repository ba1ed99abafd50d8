//! prollydb: a content-addressed document database on a prolly tree.
//!
//! The root package ties the workspace together. Today it re-exports the tree; later it also
//! carries the actor's Wasm bytes (see DESIGN.md).

pub use prolly_tree as tree;
