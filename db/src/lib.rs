//! prollydb's document database on one prolly tree.
//!
//! One tree holds the catalog (collections and index definitions), the documents and the index
//! entries, each under its own key prefix (`keyspace`), so one root commits to schema and data
//! together. Index keys use an order-preserving typed encoding (`key`), so the tree's byte order
//! is the documented value order. Queries are the MongoDB filter subset with sort, limit, skip,
//! cursors, counts and projections; the planner's choice depends only on the query and the
//! catalog, and the executor reads only through the tree, so the actor, the client and the proof
//! verifier all get the same answer from the same blocks. The formats are in spec/SPEC.md.
//!
//! ```
//! use fvm_ipld_blockstore::MemoryBlockstore;
//! use prolly_db::{Database, Query, WriteBatch};
//! use prolly_tree::Config;
//!
//! let mut db = Database::create(MemoryBlockstore::default(), Config::default())?;
//! let batch = WriteBatch::from_json(r#"{"ops": [
//!     {"op": "create_collection", "collection": "people"},
//!     {"op": "create_index", "collection": "people", "index": {"name": "by_age", "fields": ["age"]}},
//!     {"op": "insert", "collection": "people", "doc": {"_id": "ada", "age": 36}},
//!     {"op": "insert", "collection": "people", "doc": {"_id": "alan", "age": 41}}
//! ]}"#)?;
//! db.apply(&batch)?.expect_complete();
//!
//! let query = Query::from_json(r#"{"collection": "people", "filter": {"age": {"$gt": 40}}}"#)?;
//! assert!(db.explain(&query)?.expect_complete().describe().starts_with("index by_age"));
//! let result = db.query(&query)?.expect_complete();
//! assert_eq!(result.to_json(), r#"{"docs":[{"_id":"alan","age":41}],"v":1}"#);
//! # Ok::<(), prolly_db::Error>(())
//! ```

pub mod batch;
mod bulk;
pub mod catalog;
mod database;
pub mod diff;
pub mod document;
pub mod error;
mod exec;
pub mod filter;
mod form;
pub mod index;
#[cfg(feature = "json")]
pub mod json;
pub mod key;
pub mod keyspace;
mod overlay;
pub mod path;
pub mod plan;
pub mod query;
pub mod result;
#[cfg(feature = "testing")]
pub mod testing;
pub mod write;

pub use batch::{Op, Patch, WriteBatch};
pub use catalog::{Collection, IndexDef, IndexField};
pub use database::{DB_FORMAT_VERSION, Database};
pub use diff::{CollectionDiff, DocDiff};
pub use error::{Error, Result, WriteError};
pub use filter::{Cond, Filter};
pub use key::{KeyError, Order, decode_key, encode_key};
pub use path::Path;
pub use plan::Plan;
pub use query::{Query, SortField};
pub use result::{QueryResult, Stop};
