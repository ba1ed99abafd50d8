//! The keyspace: how the documents and the index entries share one tree. (The catalog is a block
//! of its own, linked from the root object: `catalog::Catalog`.)
//!
//! ```text
//! 02 S(collection) E(_id)                 -> document body (the document without _id)
//! 03 S(collection) S(index) E(f1)..E(fn) E(_id) -> null, or the covered fields
//! ```
//! `S` and `E` are the order-preserving key encoding (`key`); each index field uses its own order,
//! `_id` is always ascending. Names rather than numeric ids keep the whole database history
//! independent: the same collections, indexes and documents give the same root, whatever the
//! order in which they were created.

use ipld_core::ipld::Ipld;

use crate::key::{self, KeyError, Order, encode_value};

pub const DOCUMENTS: u8 = 0x02;
pub const INDEXES: u8 = 0x03;

fn with_name(tag: u8, name: &str) -> Vec<u8> {
    let mut out = vec![tag];
    encode_value(&mut out, &Ipld::String(name.to_string()), Order::Ascending)
        .expect("strings always encode");
    out
}

/// The prefix of a collection's documents; a document key is this plus the encoded `_id`.
pub fn documents_prefix(collection: &str) -> Vec<u8> {
    with_name(DOCUMENTS, collection)
}

/// The prefix of one index's entries.
pub fn index_prefix(collection: &str, index: &str) -> Vec<u8> {
    let mut out = with_name(INDEXES, collection);
    encode_value(&mut out, &Ipld::String(index.to_string()), Order::Ascending)
        .expect("strings always encode");
    out
}

/// The prefix of all of a collection's index entries.
pub fn indexes_prefix(collection: &str) -> Vec<u8> {
    with_name(INDEXES, collection)
}

/// The smallest key above every key that starts with `prefix`, or `None` if there is none.
pub fn prefix_end(prefix: &[u8]) -> Option<Vec<u8>> {
    let mut end = prefix.to_vec();
    while let Some(last) = end.pop() {
        if last < 0xFF {
            end.push(last + 1);
            return Some(end);
        }
    }
    None
}

/// The collection name a key starts with (after its one-byte section tag), and the rest.
pub fn split_collection(key: &[u8]) -> Result<(String, &[u8]), KeyError> {
    let rest = key.get(1..).ok_or(KeyError::Malformed("empty key"))?;
    let len = key::element_len(rest, Order::Ascending)?;
    match key::decode_key(&rest[..len], &[Order::Ascending])?.pop() {
        Some(Ipld::String(name)) => Ok((name, &rest[len..])),
        _ => Err(KeyError::Malformed("the collection name is not a string")),
    }
}
