//! Errors. A block that is merely absent is not an error: reads return
//! [`prolly_tree::Outcome::Missing`] (and [`prolly_tree::Outcome::into_result`] makes it one).
//!
//! Each fact has one variant, in [`Refusal`] (input the database will not take or run) or in
//! [`prolly_tree::Error`] (corrupt blocks, store failures); [`Error`] adds where it happened: in
//! operation `op` of a write batch, for document `_id`.

/// A failed database operation. Every write error is raised before anything is written.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The tree below failed: a corrupt block, a store failure, an invalid configuration, or
    /// (from `into_result`) missing blocks.
    #[error(transparent)]
    Tree(#[from] prolly_tree::Error),
    /// A query, form or cursor refused, or a write refused outside any one operation.
    #[error(transparent)]
    Refused(#[from] Refusal),
    /// Operation `op` (0-based) of a write batch was refused; the batch wrote nothing.
    #[error("write {op}{} refused: {reason}", id.as_ref().map(|id| format!(" (document _id {id})")).unwrap_or_default())]
    Write {
        op: usize,
        /// The document's `_id`, shown as in messages, when the operation names one.
        id: Option<String>,
        #[source]
        reason: Refusal,
    },
    /// The root's header is not a prollydb database this code reads.
    #[error("not a prollydb v{version} database: {0}", version = crate::DB_FORMAT_VERSION)]
    NotADatabase(String),
    /// A database entry that the database itself wrote does not parse: a catalog record, an
    /// index entry or a stored document. The blocks hash correctly, so they were written so.
    #[error("corrupt {what} in the database: {reason}")]
    Corrupt {
        what: &'static str,
        #[source]
        reason: Box<dyn std::error::Error + Send + Sync>,
    },
}

impl From<prolly_tree::Missing> for Error {
    fn from(missing: prolly_tree::Missing) -> Self {
        Error::Tree(missing.into())
    }
}

impl Error {
    pub(crate) fn corrupt(
        what: &'static str,
        reason: impl Into<Box<dyn std::error::Error + Send + Sync>>,
    ) -> Self {
        Error::Corrupt {
            what,
            reason: reason.into(),
        }
    }

    /// The refusal behind this error, with or without a write position.
    pub fn refusal(&self) -> Option<&Refusal> {
        match self {
            Error::Refused(r) | Error::Write { reason: r, .. } => Some(r),
            _ => None,
        }
    }
}

/// Why the database refused an input: a query, a write, a form, a cursor.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Refusal {
    /// A query, batch or result that does not parse, in JSON or DAG-CBOR.
    #[error("malformed {what}: {reason}")]
    Malformed { what: &'static str, reason: String },
    #[error("bad path {path:?}: {why}")]
    BadPath { path: String, why: &'static str },
    /// A cursor that is not ours, or that belongs to another query.
    #[error("bad cursor: {0}")]
    BadCursor(String),
    /// The query needs work it was told not to do (`require_index`, the actor's bounded mode), or
    /// more than its budget allows.
    #[error("query refused: {0}")]
    Unbounded(String),
    #[error("no collection {0:?}")]
    NoCollection(String),
    #[error("collection {0:?} already exists")]
    CollectionExists(String),
    /// The catalog block would outgrow its limit (`MAX_CATALOG_BYTES`).
    #[error(
        "the catalog would take {size} bytes, over its limit of {max}: too many collections or indexes"
    )]
    CatalogTooLarge { size: usize, max: usize },
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
    #[error(
        "index {index:?}: field {path} holds a list; declare it as \"{path}[]\" to index each element"
    )]
    ListInScalarField { index: String, path: String },
    #[error("index {index:?}: the document gives {count} entries; the limit is {max}")]
    TooManyEntries {
        index: String,
        count: usize,
        max: usize,
    },
    #[error(
        "the inserts into {0:?} were prepared for another definition of it (its indexes, or the database's document size limit, changed since)"
    )]
    PreparedForOther(String),
}

pub type Result<T> = std::result::Result<T, Error>;

/// Shows a value compactly in error messages, in JSON-like notation: `"ada"`, `42`, `[1, 2]`,
/// cut at 80 characters.
pub(crate) fn show(value: &ipld_core::ipld::Ipld) -> String {
    let mut text = String::new();
    write_value(&mut text, value);
    if text.len() > 80 {
        format!("{}…", &text[..text.floor_char_boundary(80)])
    } else {
        text
    }
}

fn write_value(out: &mut String, value: &ipld_core::ipld::Ipld) {
    use ipld_core::ipld::Ipld;
    use std::fmt::Write;
    // Stop early: only the first 80 characters are shown.
    if out.len() > 80 {
        return;
    }
    match value {
        Ipld::Null => out.push_str("null"),
        Ipld::Bool(b) => write!(out, "{b}").expect("a String takes writes"),
        Ipld::Integer(i) => write!(out, "{i}").expect("a String takes writes"),
        Ipld::Float(f) => write!(out, "{f:?}").expect("a String takes writes"),
        Ipld::String(s) => write!(out, "{s:?}").expect("a String takes writes"),
        Ipld::Bytes(b) => {
            out.push_str("bytes 0x");
            b.iter()
                .for_each(|b| write!(out, "{b:02x}").expect("a String takes writes"));
        }
        Ipld::Link(cid) => write!(out, "{cid}").expect("a String takes writes"),
        Ipld::List(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push_str(", ");
                }
                write_value(out, item);
            }
            out.push(']');
        }
        Ipld::Map(map) => {
            out.push('{');
            for (i, (key, item)) in map.iter().enumerate() {
                if i > 0 {
                    out.push_str(", ");
                }
                write!(out, "{key:?}: ").expect("a String takes writes");
                write_value(out, item);
            }
            out.push('}');
        }
    }
}
