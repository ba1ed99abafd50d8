//! Document-level diff of two roots: per collection, the documents added, removed and changed,
//! from the tree's diff (which skips every shared subtree unread). Index entries are left out:
//! they follow from the documents. Catalog changes are reported per collection.

use std::collections::BTreeMap;

use fvm_ipld_blockstore::Blockstore;
use ipld_core::ipld::Ipld;
use prolly_tree::{Outcome, Tree, ready};

use crate::catalog::Catalog;
use crate::document;
use crate::error::{Error, Result};
use crate::keyspace;

/// What changed in one collection between two roots. Documents carry `_id`.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct CollectionDiff {
    pub added: Vec<Ipld>,
    pub removed: Vec<Ipld>,
    /// (before, after).
    pub changed: Vec<(Ipld, Ipld)>,
    /// The collection record itself (created, dropped, or its indexes changed).
    pub schema_changed: bool,
}

pub type DocDiff = BTreeMap<String, CollectionDiff>;

/// The collection name a key starts with, and the rest; a key that does not parse is corrupt.
fn split_collection(key: &[u8]) -> Result<(String, &[u8])> {
    keyspace::split_collection(key).map_err(|e| Error::corrupt("key", e))
}

pub fn diff<S: Blockstore>(before: &Tree<S>, after: &Tree<S>) -> Result<Outcome<DocDiff>> {
    let mut out = DocDiff::new();
    // The catalogs: the same block (the usual case) needs no read.
    if before.meta() != after.meta() {
        let old = ready!(Catalog::load(before)).collections;
        let new = ready!(Catalog::load(after)).collections;
        for name in old.keys().chain(new.keys()) {
            if old.get(name) != new.get(name) {
                out.entry(name.clone()).or_default().schema_changed = true;
            }
        }
    }
    let changes = ready!(before.diff(after));
    // Index entries are left out: they follow from the documents.
    for change in changes {
        if change.key.first() != Some(&keyspace::DOCUMENTS) {
            continue;
        }
        let (name, id_key) = split_collection(&change.key)?;
        let id = document::decode_id(id_key).map_err(|e| Error::corrupt("document key", e))?;
        let doc = |raw: Option<prolly_tree::RawValue>| -> Result<Option<Ipld>> {
            match raw {
                None => Ok(None),
                Some(raw) => Ok(document::with_id(raw.to_ipld()?, id.clone())),
            }
        };
        let entry = out.entry(name).or_default();
        match (doc(change.left)?, doc(change.right)?) {
            (None, Some(new)) => entry.added.push(new),
            (Some(old), None) => entry.removed.push(old),
            (Some(old), Some(new)) => entry.changed.push((old, new)),
            (None, None) => {}
        }
    }
    Ok(Outcome::Complete(out))
}

/// The canonical form of a document diff: `{collection: {"added": [..], "removed": [..],
/// "changed": [[before, after], ..], "schema": bool}}`, lists in `_id` order. What a diff proof's
/// result holds.
pub fn to_ipld(diff: &DocDiff) -> Ipld {
    let collections = diff
        .iter()
        .map(|(name, c)| {
            let mut map = BTreeMap::new();
            map.insert("added".to_string(), Ipld::List(c.added.clone()));
            map.insert("removed".to_string(), Ipld::List(c.removed.clone()));
            map.insert(
                "changed".to_string(),
                Ipld::List(
                    c.changed
                        .iter()
                        .map(|(a, b)| Ipld::List(vec![a.clone(), b.clone()]))
                        .collect(),
                ),
            );
            map.insert("schema".to_string(), Ipld::Bool(c.schema_changed));
            (name.clone(), Ipld::Map(map))
        })
        .collect();
    Ipld::Map(collections)
}

/// The canonical DAG-CBOR bytes of a document diff. A diff holding what DAG-CBOR cannot (only
/// one built by hand can) panics; [`try_diff_to_cbor`] says so instead.
pub fn diff_to_cbor(diff: &DocDiff) -> Vec<u8> {
    try_diff_to_cbor(diff).expect("documents read back always encode")
}

/// [`diff_to_cbor`], or `None` for a diff DAG-CBOR cannot hold.
pub fn try_diff_to_cbor(diff: &DocDiff) -> Option<Vec<u8>> {
    let encoded = prolly_tree::RawValue::from_ipld(&to_ipld(diff)).ok()?;
    Some(encoded.as_bytes().to_vec())
}
