//! A prolly tree: a content-addressed, history-independent B-tree over an IPLD blockstore.
//!
//! Nodes are DAG-CBOR blocks named by CIDv1 blake2b-256 CIDs, as in Filecoin state. Where nodes
//! end is a pure function of the sorted entries (a salted hash of each key, a minimum entry count
//! and a hard byte cap), so the same entries give the same root CID whatever the order of writes.
//! The format is specified in `spec/SPEC.md`, with test vectors in `spec/vectors/`.
//!
//! Reads return [`Outcome`]: complete, or missing the blocks the store lacks, so a client can
//! fetch them and run again. Errors are only for corrupt blocks, store failures and bad input.
//! Over a store that should be complete, [`Outcome::into_result`] makes a missing block an error,
//! so that `?` works.
//!
//! ```
//! use std::ops::Bound;
//! use fvm_ipld_blockstore::MemoryBlockstore;
//! use ipld_core::ipld::Ipld;
//! use prolly_tree::{Batch, Config, Direction, Tree};
//!
//! let store = MemoryBlockstore::default();
//! let mut tree = Tree::empty(&store, Config::default())?;
//! let mut batch = Batch::new();
//! batch.put(b"apple".to_vec(), Ipld::Integer(3)).put(b"pear".to_vec(), Ipld::Integer(5));
//! tree.apply(&batch)?.into_result()?; // one pass down the tree, one flush
//!
//! let pear = tree.get(b"pear")?.into_result()?.expect("present");
//! assert_eq!(pear.to_ipld()?, Ipld::Integer(5));
//! let all = tree.range(Bound::Unbounded, Bound::Unbounded, Direction::Backward)?.into_result()?;
//! assert_eq!(all[0].0, &b"pear"[..]);
//!
//! // The same entries, in any order of writes, give the same root.
//! let rebuilt = Tree::build(&store, Config::default(), [(b"apple".to_vec(), Ipld::Integer(3)), (b"pear".to_vec(), Ipld::Integer(5))])?;
//! assert_eq!(rebuilt.cid(), tree.cid());
//! # Ok::<(), prolly_tree::Error>(())
//! ```

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
mod leaf_stream;
mod merge;
mod node;
mod outcome;
mod path;
mod range;
mod rank;
mod root;
mod search;
mod separator;
pub mod size;
mod stats;
mod store;
mod tree;
mod value;

pub use batch::Batch;
pub use boundary::{boundary_hash, level_seed};
/// Keys are `Bytes`: cheap to clone, and sliced from the block they were read from.
pub use bytes::Bytes;
pub use codec::{decode_ipld, decode_ipld_bytes, split_node_cid};

/// The canonical DAG-CBOR writers the tree encodes with, for forms written straight into one
/// buffer (a query result: `prolly_db::QueryResult::to_cbor`).
pub mod cbor {
    pub use crate::codec::{
        Expect, MAJOR_ARRAY, MAJOR_BYTES, MAJOR_MAP, MAJOR_SIMPLE, MAJOR_UINT, Sink,
        encode_ipld_into, write_bytes, write_cid, write_head, write_text,
    };
}
pub use config::{Config, FORMAT_VERSION};
pub use cursor::Cursor;
pub use diff::Change;
pub use error::{
    ConfigError, CorruptBlock, Corruption, DecodeError, EncodeError, Error, InvalidInput, Missing,
    Result, ShapeError,
};
pub use invariants::{Violation, check_invariants};
pub use merge::{Conflict, Resolution};
pub use node::{Entry, Node, Value};
pub use outcome::Outcome;
pub use range::{Direction, KeyRange, Pair};
pub use root::RootObject;
pub use separator::separator;
pub use stats::{LevelStats, Stats};
pub use store::{NodeCache, cid_of, cids_of, load_block};
pub use tree::Tree;
pub use value::{MapEntries, RawValue, Scalar};
