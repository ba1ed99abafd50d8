//! The actor's state: the tuple `[owner, writers, db root, seq]` (spec/SPEC.md §19). Proofs
//! anchored in a Filecoin state root read the database root at position 2.

use cid::Cid;
use fvm_shared::address::Address;
use serde_tuple::{Deserialize_tuple, Serialize_tuple};

#[derive(Debug, Clone, PartialEq, Eq, Serialize_tuple, Deserialize_tuple)]
pub struct State {
    pub owner: Address,
    pub writers: Vec<Address>,
    /// The database's tree root object.
    pub db_root: Cid,
    /// Commits so far.
    pub seq: u64,
}
