//! prollydb's document database on one prolly tree.
//!
//! This first piece is the order-preserving, typed key encoding (`key`): index keys are compared
//! bytewise by the tree, so their bytes must sort exactly as the values they encode. The order is
//! specified in spec/SPEC.md ("Key encoding"). The catalog, documents, indexes and the query
//! executor come next (issue 3).

pub mod key;

pub use key::{KeyError, Order, decode_key, encode_key};
