//! Errors: what went wrong, as opposed to what is merely not here yet (see [`crate::Outcome`]).
//!
//! Each enum says one kind of thing, one variant per fact, and keeps what caused it as its
//! `source()`: [`Error`] for a tree operation, [`Corruption`] for why a block is not what its
//! CID promises, [`DecodeError`] and [`ShapeError`] for bytes that are not a valid node or strict
//! DAG-CBOR value, [`EncodeError`] for values DAG-CBOR cannot hold, [`InvalidInput`] for input
//! that can never be stored, and [`ConfigError`] for node-size settings.

use std::collections::BTreeSet;

use cid::Cid;

/// A failed tree operation. A block that is absent from the store is not an error: reads report it
/// as [`crate::Outcome::Missing`], and [`crate::Outcome::into_result`] turns that into
/// [`Error::Missing`] where the caller wants `?`.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// Blocks the read needs and the store lacks.
    #[error(transparent)]
    Missing(#[from] Missing),
    /// A block is present but is not what its CID names: a valid node or root object. Boxed:
    /// a CID is 80 bytes, and every `Result` of the tree carries this enum.
    #[error(transparent)]
    Corrupt(Box<CorruptBlock>),
    /// The blockstore itself failed.
    #[error("blockstore failure: {0}")]
    Store(#[source] anyhow::Error),
    /// The chunking configuration is invalid, or differs from the tree it is used with.
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// The root object carries a format version this code does not read.
    #[error(
        "a tree of format version {found}: this build reads version {supported} only (rebuild it from its entries with a version-{supported} writer)"
    )]
    Version { found: u64, supported: u64 },
    /// Input that can never be stored.
    #[error(transparent)]
    Invalid(#[from] InvalidInput),
    /// A 3-way merge found a conflict that the resolver refused.
    #[error("merge conflict at key {}", hex(.key))]
    Conflict { key: Vec<u8> },
}

pub type Result<T> = std::result::Result<T, Error>;

impl Error {
    pub(crate) fn corrupt(cid: Cid, reason: impl Into<Corruption>) -> Self {
        Error::Corrupt(Box::new(CorruptBlock {
            cid,
            reason: reason.into(),
        }))
    }
}

/// A block that is present but corrupt, and why.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("corrupt block {cid}: {reason}")]
pub struct CorruptBlock {
    pub cid: Cid,
    #[source]
    pub reason: Corruption,
}

/// The blocks a read needs and the store lacks: an [`crate::Outcome::Missing`] turned into an
/// error by [`crate::Outcome::into_result`], for callers over a store that should be complete.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{} block(s) missing, first {}", .0.len(), first(.0))]
pub struct Missing(pub BTreeSet<Cid>);

fn first(cids: &BTreeSet<Cid>) -> String {
    cids.first().map_or_else(String::new, Cid::to_string)
}

/// Why a block is corrupt.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Corruption {
    #[error("its bytes do not match the CID's hash")]
    HashMismatch,
    #[error("the CID's codec is {0:#x}, not DAG-CBOR")]
    NotDagCbor(u64),
    #[error("the CID's hash function {0:#x} is unknown")]
    UnknownHash(u64),
    #[error(transparent)]
    Decode(#[from] DecodeError),
    #[error("a node at level {found} where level {expected} belongs")]
    WrongLevel { found: u32, expected: u32 },
    #[error("a root object: {0}")]
    RootObject(String),
    #[error("a root object with an invalid configuration: {0}")]
    RootConfig(#[source] ConfigError),
}

/// Why bytes are not strict DAG-CBOR, or not a node.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DecodeError {
    #[error("unexpected end of the bytes")]
    UnexpectedEnd,
    #[error("a length beyond the bytes")]
    LengthOutOfRange,
    #[error("indefinite length or reserved head (not DAG-CBOR)")]
    Indefinite,
    #[error("integer or length not in shortest form (not DAG-CBOR)")]
    NotShortest,
    #[error("expected {0}")]
    Expected(&'static str),
    #[error("invalid UTF-8 in a string")]
    InvalidUtf8,
    #[error("floats must be 64-bit in DAG-CBOR")]
    ShortFloat,
    #[error("NaN and infinite floats are not DAG-CBOR")]
    NonFiniteFloat,
    #[error("simple value {0} is not DAG-CBOR")]
    SimpleValue(u8),
    #[error("map keys not in canonical order (not DAG-CBOR)")]
    MapKeyOrder,
    #[error("tag {0} is not allowed in DAG-CBOR")]
    Tag(u64),
    #[error("CID bytes lack the 0x00 prefix")]
    CidPrefix,
    /// The CID parser's message (its error type is neither `Clone` nor `PartialEq`).
    #[error("invalid CID: {0}")]
    Cid(String),
    #[error("trailing bytes after a CID")]
    CidTrailingBytes,
    #[error("trailing bytes after the value")]
    TrailingBytes,
    #[error("nested deeper than {}", crate::codec::MAX_DEPTH)]
    TooDeep,
    #[error("a node's level does not fit in 32 bits")]
    LevelOutOfRange,
    #[error("a level-{level} node has {expected} fields, not {found}")]
    NodeFields {
        level: u32,
        expected: u64,
        found: u64,
    },
    #[error("a node's key prefix is not the longest its keys share (not the one encoding)")]
    PrefixNotLongest,
    #[error("a node's keys, prefix included, exceed 1 MiB")]
    KeysTooLarge,
    #[error("{keys} keys but {found} {column}")]
    ColumnLength {
        keys: u64,
        found: u64,
        column: &'static str,
    },
    #[error(transparent)]
    Shape(#[from] ShapeError),
}

/// A node whose entries break the structural rules.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum ShapeError {
    #[error("an internal node is above level 0")]
    InternalAtLevelZero,
    #[error("empty internal node")]
    EmptyInternal,
    #[error("keys not strictly ascending")]
    KeysNotAscending,
    #[error("child with zero entries")]
    ZeroCount,
}

/// A value that DAG-CBOR cannot hold.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum EncodeError {
    #[error("integer beyond 64 bits")]
    IntegerOutOfRange,
    #[error("NaN or infinite float")]
    NonFiniteFloat,
    #[error("nested deeper than {}", crate::codec::MAX_DEPTH)]
    TooDeep,
    #[error("map keys out of DAG-CBOR order (shorter keys first, then bytewise) or repeated")]
    KeyOrder,
}

/// Input that can never be stored, or read back as asked.
#[derive(Debug, thiserror::Error)]
pub enum InvalidInput {
    #[error("value does not encode as DAG-CBOR: {0}")]
    Encode(#[source] EncodeError),
    #[error("value is not strict DAG-CBOR: {0}")]
    Value(#[source] DecodeError),
    #[error("value does not encode: {0}")]
    Serialize(#[source] fvm_ipld_encoding::Error),
    #[error("value does not decode into the type asked for: {0}")]
    Deserialize(#[source] fvm_ipld_encoding::Error),
    #[error("entry of {size} bytes exceeds the leaf cap of {cap} bytes")]
    EntryTooLarge { size: usize, cap: u32 },
    #[error("key of {size} bytes is too long for the internal cap of {cap} bytes")]
    KeyTooLarge { size: usize, cap: u32 },
    #[error("a bulk build needs strictly ascending keys")]
    KeysNotAscending,
}

/// Node-size settings that are out of range, or that differ from the tree's own.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConfigError {
    #[error("{level} target {value} outside 1..={max} bytes")]
    Target {
        level: &'static str,
        value: u32,
        max: u32,
    },
    #[error("{level} cap {value} outside {min}..={max} bytes")]
    Cap {
        level: &'static str,
        value: u32,
        min: u32,
        max: u32,
    },
    #[error("min_entries {0} is below 2")]
    MinEntries(u32),
    #[error("the tree was built with {found}, not {expected}")]
    Mismatch { found: String, expected: String },
}

pub(crate) fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}
