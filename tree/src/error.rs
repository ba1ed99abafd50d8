//! Errors: what went wrong, as opposed to what is merely not here yet (see [`crate::Outcome`]).

use cid::Cid;

/// A failed tree operation. A block that is absent from the store is not an error: reads report it
/// as [`crate::Outcome::Missing`].
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A block is present but is not a valid node or root object, or its bytes do not hash to its CID.
    #[error("corrupt block {cid}: {reason}")]
    Corrupt { cid: Cid, reason: String },
    /// The blockstore itself failed.
    #[error("blockstore failure: {0}")]
    Store(String),
    /// The chunking configuration is invalid, or differs from the tree it is used with.
    #[error("invalid configuration: {0}")]
    Config(String),
    /// The root object carries a format version this code does not read.
    #[error("unsupported format version {found} (this build reads version {supported})")]
    Version { found: u64, supported: u64 },
    /// Input that can never be stored: an entry larger than the node byte cap, a value that is not
    /// valid DAG-CBOR data, keys out of order in a bulk build.
    #[error("invalid input: {0}")]
    Invalid(String),
    /// A 3-way merge found a conflict that the resolver refused.
    #[error("merge conflict at key {}", hex(.key))]
    Conflict { key: Vec<u8> },
}

pub type Result<T> = std::result::Result<T, Error>;

pub(crate) fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}
