//! A prolly tree: a content-addressed, history-independent B-tree over an IPLD blockstore.
//!
//! Nodes are DAG-CBOR blocks named by CIDv1 blake2b-256 CIDs, as in Filecoin state. Where nodes
//! end is a pure function of the sorted entries (a salted hash of each key, a minimum entry count
//! and a hard byte cap), so the same entries give the same root CID whatever the order of writes.
//! The format is specified in `spec/SPEC.md`, with test vectors in `spec/vectors/`.
//!
//! Reads return [`Outcome`]: complete, or missing the blocks the store lacks, so a client can
//! fetch them and run again. Errors are only for corrupt blocks, store failures and bad input.

mod batch;
mod boundary;
mod build;
mod chunker;
mod codec;
mod config;
mod cursor;
mod diff;
mod error;
mod invariants;
mod merge;
mod node;
mod outcome;
mod range;
mod root;
pub mod size;
mod stats;
mod store;
mod tree;
mod value;

pub use batch::Batch;
pub use boundary::{boundary_hash, level_seed};
/// Keys are `Bytes`: cheap to clone, and sliced from the block they were read from.
pub use bytes::Bytes;
pub use config::{Config, FORMAT_VERSION};
pub use cursor::Cursor;
pub use diff::Change;
pub use error::{Error, Result};
pub use invariants::check_invariants;
pub use merge::{Conflict, Resolution};
pub use node::{Entry, Node, Value};
pub use outcome::Outcome;
pub use range::{Direction, KeyRange, Pair};
pub use root::RootObject;
pub use stats::{LevelStats, Stats};
pub use store::{NodeCache, cid_of, load_block};
pub use tree::Tree;
pub use value::RawValue;
