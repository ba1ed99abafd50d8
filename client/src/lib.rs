//! prollydb's client: open a database by its root on a machine that holds none of it, fetch only
//! the blocks a query needs from whatever nodes have them, and trust the answer without trusting
//! those nodes.
//!
//! - [`store`]: the local store (redb), a database or a cache of remote blocks.
//! - [`block`]: the hash check every fetched byte passes.
//! - [`server`]: any machine is a node: a trustless gateway and the verified-query endpoint.

pub mod block;
#[cfg(feature = "server")]
pub mod server;
#[cfg(feature = "store")]
pub mod store;

#[cfg(feature = "store")]
pub use store::{Mode, Store, StoreError, Writer};
