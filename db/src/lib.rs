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
//! db.apply(&batch)?.into_result()?;
//!
//! let query = Query::from_json(r#"{"collection": "people", "filter": {"age": {"$gt": 40}}}"#)?;
//! assert!(db.explain(&query)?.into_result()?.describe().starts_with("index by_age"));
//! let result = db.query(&query)?.into_result()?;
//! assert_eq!(result.to_json(), r#"{"docs":[{"_id":"alan","age":41}],"v":1}"#);
//! # Ok::<(), prolly_db::Error>(())
//! ```

mod batch;
mod bulk;
mod catalog;
mod cover;
mod cursor;
mod database;
mod diff;
mod document;
mod error;
mod exec;
mod filter;
mod flat;
mod form;
mod index;
#[cfg(feature = "json")]
mod json;
mod key;
mod keyspace;
mod merge;
mod overlay;
mod path;
mod plan;
mod prepared;
mod query;
mod result;
#[cfg(feature = "testing")]
pub mod testing;
mod write;

pub use batch::{Op, Patch, WriteBatch};
pub use catalog::{Collection, IndexDef, IndexField};
pub use database::{DB_FORMAT_VERSION, Database};
pub use diff::{CollectionDiff, DocDiff, diff_to_cbor, try_diff_to_cbor};
pub use error::{Error, Refusal, Result};
pub use exec::Work;
pub use filter::{Cond, Filter};
pub use flat::FlatDocument;
#[cfg(feature = "json")]
pub use json::{ipld_from_json, ipld_to_json, parse_json};
pub use key::{KeyError, Order, compare_values, decode_key, encode_key};
pub use merge::{MergeConflict, Merged, Prefer};
pub use path::Path;
pub use plan::Plan;
pub use prepared::PreparedInserts;
pub use query::{Query, SortField};
pub use result::{EncodedResult, QueryResult, Stop};

/// The bounds the database enforces, on documents, writes and queries (SPEC sections 12 to 15).
pub mod limits {
    pub use crate::batch::MAX_OPS;
    pub use crate::catalog::{MAX_INCLUDED_FIELDS, MAX_INDEX_FIELDS, MAX_NAME_BYTES};
    pub use crate::document::{
        MAX_DOCUMENT_BYTES, MAX_ID_BYTES, MAX_INDEX_KEY_BYTES, max_document_bytes,
    };
    pub use crate::filter::{MAX_CONDITIONS, MAX_IN_VALUES};
    pub use crate::index::MAX_ENTRIES_PER_DOCUMENT;
    pub use crate::path::{MAX_PATH_BYTES, MAX_SEGMENTS};
    pub use crate::query::{
        DEFAULT_BUDGET, DEFAULT_LIMIT, MAX_BUDGET, MAX_CURSOR_BYTES, MAX_LIMIT, MAX_PROJECTION,
        MAX_SORT_FIELDS,
    };
    pub use crate::result::MAX_RESULT_BYTES;
}
