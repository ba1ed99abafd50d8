//! Errors: bad input, refused work and store failures. A block that is merely absent is not an
//! error: reads return [`prolly_tree::Outcome::Missing`].

/// A failed database operation. Every write error is raised before anything is written.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The tree below failed: a corrupt block, a store failure, an invalid configuration.
    #[error(transparent)]
    Tree(#[from] prolly_tree::Error),
    /// Operation `op` of a write batch was refused; the batch wrote nothing.
    #[error("write {op} refused: {reason}")]
    Write { op: usize, reason: WriteError },
    /// A malformed field path.
    #[error("bad path {0}")]
    BadPath(String),
    /// A query, batch or result that does not parse, in JSON or DAG-CBOR.
    #[error("malformed {what}: {reason}")]
    Malformed { what: &'static str, reason: String },
    /// A cursor that is not ours, or that belongs to another query.
    #[error("bad cursor: {0}")]
    BadCursor(String),
    /// The query needs work it was told not to do, or more than its budget allows.
    #[error("query refused: {0}")]
    Refused(String),
    /// The collection does not exist.
    #[error("no collection {0:?}")]
    NoCollection(String),
    /// The database's stored catalog does not parse: not a prollydb database, or a newer one.
    #[error("bad catalog: {0}")]
    Catalog(String),
}

/// Why one write was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum WriteError {
    #[error("collection {0:?} already exists")]
    CollectionExists(String),
    #[error("no collection {0:?}")]
    NoCollection(String),
    #[error("bad collection name {0:?}: 1 to 64 bytes, no NUL")]
    BadCollectionName(String),
    #[error("index {0:?} already exists")]
    IndexExists(String),
    #[error("no index {0:?}")]
    NoIndex(String),
    #[error("bad index: {0}")]
    BadIndex(String),
    #[error("a document with _id {0} already exists")]
    DuplicateId(String),
    #[error("no document with _id {0}")]
    NotFound(String),
    #[error("unique index {index:?} already holds {value} (document {existing})")]
    Unique {
        index: String,
        value: String,
        existing: String,
    },
    #[error("document is {size} bytes; the limit is {max}")]
    DocumentTooLarge { size: usize, max: usize },
    #[error("key is {size} bytes; the limit is {max}")]
    KeyTooLarge { size: usize, max: usize },
    #[error("bad document: {0}")]
    BadDocument(String),
    #[error("bad path {0}")]
    BadPath(String),
    #[error(
        "index {index:?}: field {path} holds a list; declare it as \"{path}[]\" to index each element"
    )]
    ListInScalarField { index: String, path: String },
    #[error("index {index:?}: a document gives {count} entries; the limit is {max}")]
    TooManyEntries {
        index: String,
        count: usize,
        max: usize,
    },
}

pub type Result<T> = std::result::Result<T, Error>;

/// Shows a value compactly in error messages.
pub(crate) fn show(value: &ipld_core::ipld::Ipld) -> String {
    let text = format!("{value:?}");
    if text.len() > 80 {
        format!("{}…", &text[..text.floor_char_boundary(80)])
    } else {
        text
    }
}
