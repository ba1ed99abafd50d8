//! prollydb's client: open a database by its root on a machine that holds none of it, fetch only
//! the blocks a query needs from whatever nodes have them, and trust the answer without trusting
//! those nodes.
//!
//! - [`store`]: the local store (redb), a database or a cache of remote blocks.
//! - [`import`]: NDJSON, JSON and CSV files into a database store, resumable.
//! - [`block`]: the hash check every fetched byte passes.
//! - [`source`]: where blocks come from: memory, CAR files, gateways, Lotus nodes, several peers.
//! - [`Reader`]: the query loop: the one executor over the local store, fetching what it lacks
//!   a wave at a time, or asking a prollydb node for a proof ([`peer`]) and verifying it.
//! - [`server`]: any machine is a node: a trustless gateway and the verified-query endpoint.

pub mod block;
pub mod dag;
mod error;
#[cfg(feature = "import")]
pub mod import;
mod memory;
#[cfg(feature = "net")]
pub mod peer;
pub mod protocol;
mod reader;
mod root;
#[cfg(feature = "server")]
pub mod server;
pub mod source;
#[cfg(feature = "store")]
pub mod store;

pub use error::ClientError;
pub use memory::MemoryStore;
pub use reader::{Answer, Local, Reader, Stats, Via};
pub use root::{Origin, TrustedRoot};
#[cfg(feature = "store")]
pub use store::{Mode, Store, StoreError, Writer};
