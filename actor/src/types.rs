//! Method numbers, params and returns. `Apply` takes a `prolly_db::WriteBatch` and `Query` a
//! `prolly_db::Query`, each as its canonical DAG-CBOR bytes (the params block's data); `Query`
//! returns the canonical `QueryResult` bytes, byte-identical to what a proof carries.

use cid::Cid;
use fvm_shared::address::Address;
use fvm_shared::error::ExitCode;
use prolly_tree::Config;
use serde_tuple::{Deserialize_tuple, Serialize_tuple};

/// FRC-0042 method numbers.
pub mod method {
    use frc42_dispatch::method_hash;
    pub const CONSTRUCTOR: u64 = 1;
    pub const APPLY: u64 = method_hash!("Apply");
    pub const QUERY: u64 = method_hash!("Query");
    pub const ROOT: u64 = method_hash!("Root");
    pub const SET_WRITERS: u64 = method_hash!("SetWriters");
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize_tuple, Deserialize_tuple)]
pub struct ConstructorParams {
    pub owner: Address,
    pub writers: Vec<Address>,
    /// The tree's node sizes; `null` takes [`actor_config`]. Fixed for the database's life: it is
    /// part of the root object, and history independence holds only under one config.
    pub config: Option<Config>,
}

/// The node sizes an actor's database gets by default. Smaller than the off-chain default
/// ([`Config::default`]): on-chain, every block written costs ~506k gas plus 3,362 gas per byte,
/// so a commit pays for the path it rewrites (see the gas bench and spec/SPEC.md §19).
pub fn actor_config() -> Config {
    Config::default()
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize_tuple, Deserialize_tuple)]
pub struct SetWritersParams {
    pub writers: Vec<Address>,
}

/// What `Apply` and `Root` return.
#[derive(Debug, Clone, PartialEq, Eq, Serialize_tuple, Deserialize_tuple)]
pub struct RootReturn {
    pub root: Cid,
    pub seq: u64,
}

/// Event keys of a commit (FIP-0049, CBOR values, indexed).
pub const EVENT_ROOT: &str = "root";
pub const EVENT_SEQ: &str = "seq";

/// Exit codes beyond the standard ones: a missing block means the actor's own state is broken.
pub const EXIT_MISSING_BLOCK: ExitCode = ExitCode::USR_ILLEGAL_STATE;
