//! Index entries: what one document contributes to one secondary index.
//!
//! Key: `03 S(collection) S(index) E(f1)..E(fn) E(_id)`, each field in its index order. A field
//! that is absent encodes as the missing marker (below every value). A `path[]` field gives one
//! entry per distinct element of a list (none for an empty list; a non-list value counts as a
//! one-element list). A plain field refuses lists, so that each document has exactly one entry
//! and a scan of the index is a scan of the documents in index order.
//!
//! Value: `null`, or for a covering index a map from each included path to its value (absent
//! paths are left out).

use std::collections::BTreeSet;

use ipld_core::ipld::Ipld;
use prolly_tree::RawValue;

use crate::catalog::IndexDef;
use crate::document::{Document, MAX_INDEX_KEY_BYTES};
use crate::error::Refusal;
use crate::form::Map;
use crate::key::{self, Order};
use crate::keyspace;

/// One document gives at most this many entries to one index. Real gazetteers need hundreds (in
/// GeoNames' cities500, 212 of 234,908 places have more than 64 distinct alternate names, one has
/// 267); the bound keeps one document's index work finite on-chain: 1,024 names cost the actor
/// about the gas that `gas-bench` prints in its multi-entry table, far below a block's limit.
pub const MAX_ENTRIES_PER_DOCUMENT: usize = 1024;

/// An index entry, and the part of its key that a unique index constrains.
#[derive(Debug, Clone, PartialEq)]
pub struct IndexEntry {
    pub key: Vec<u8>,
    pub value: RawValue,
    /// The key without `E(_id)`, when every field is present and not null: only such entries are
    /// held to a unique index.
    pub unique_prefix: Option<Vec<u8>>,
}

/// One field's contribution: encoded elements, and whether it constrains uniqueness.
struct FieldKeys {
    encodings: Vec<Vec<u8>>,
    constrained: bool,
}

fn field_keys(def: &IndexDef, position: usize, doc: &Map) -> Result<FieldKeys, Refusal> {
    let field = &def.fields[position];
    let encode = |value: &Ipld| -> Result<Vec<u8>, Refusal> {
        let mut out = Vec::new();
        key::encode_value(&mut out, value, field.order)
            .map_err(|e| Refusal::BadDocument(format!("field {}: {e}", field.path)))?;
        Ok(out)
    };
    let Some(value) = field.path.get_in(doc) else {
        let mut missing = Vec::new();
        key::encode_missing(&mut missing, field.order);
        return Ok(FieldKeys {
            encodings: vec![missing],
            constrained: false,
        });
    };
    let constrained = !matches!(value, Ipld::Null);
    let encodings = match (value, field.each) {
        (Ipld::List(items), true) => {
            let distinct: BTreeSet<Vec<u8>> = items.iter().map(encode).collect::<Result<_, _>>()?;
            distinct.into_iter().collect()
        }
        (Ipld::List(_), false) => {
            return Err(Refusal::ListInScalarField {
                index: def.name.clone(),
                path: field.path.to_string(),
            });
        }
        (value, _) => vec![encode(value)?],
    };
    Ok(FieldKeys {
        encodings,
        constrained,
    })
}

/// The covered fields of a covering index, as stored in its entries.
fn included(def: &IndexDef, doc: &Map) -> Result<RawValue, Refusal> {
    if def.include.is_empty() {
        // `null`, shared: most indexes cover nothing, and this saves an allocation per entry.
        return Ok(RawValue::from_bytes(prolly_tree::Bytes::from_static(&[0xf6])).expect("null"));
    }
    let mut map = Map::new();
    for path in &def.include {
        if let Some(v) = path.get_in(doc) {
            map.insert(path.to_string(), v.clone());
        }
    }
    RawValue::from_map(&map).map_err(|e| Refusal::BadDocument(e.to_string()))
}

/// Every entry a document gives an index, in key order.
pub fn entries(
    collection: &str,
    def: &IndexDef,
    doc: &Document,
) -> Result<Vec<IndexEntry>, Refusal> {
    // Index fields never name `_id` (definitions refuse it), so the body is all they read.
    entries_of(collection, def, &doc.body, &doc.id_key)
}

/// [`entries`] of a document given as its fields (with or without `_id`: no path reads it) and
/// the key encoding of its id.
pub fn entries_of(
    collection: &str,
    def: &IndexDef,
    view: &Map,
    id_key: &[u8],
) -> Result<Vec<IndexEntry>, Refusal> {
    let mut prefixes = vec![(keyspace::index_prefix(collection, &def.name), true)];
    for position in 0..def.fields.len() {
        let keys = field_keys(def, position, view)?;
        let count = prefixes.len() * keys.encodings.len();
        if count > MAX_ENTRIES_PER_DOCUMENT {
            return Err(Refusal::TooManyEntries {
                index: def.name.clone(),
                count,
                max: MAX_ENTRIES_PER_DOCUMENT,
            });
        }
        prefixes = prefixes
            .iter()
            .flat_map(|(prefix, constrained)| {
                keys.encodings.iter().map(move |enc| {
                    let mut key = prefix.clone();
                    key.extend_from_slice(enc);
                    (key, *constrained && keys.constrained)
                })
            })
            .collect();
    }
    let value = included(def, view)?;
    let mut out = Vec::with_capacity(prefixes.len());
    for (prefix, constrained) in prefixes {
        let mut key = prefix.clone();
        key.extend_from_slice(id_key);
        if key.len() > MAX_INDEX_KEY_BYTES {
            return Err(Refusal::KeyTooLarge {
                size: key.len(),
                max: MAX_INDEX_KEY_BYTES,
            });
        }
        out.push(IndexEntry {
            key,
            value: value.clone(),
            unique_prefix: constrained.then_some(prefix),
        });
    }
    out.sort_by(|a, b| a.key.cmp(&b.key));
    Ok(out)
}

/// Splits an index key (after the index prefix) into its field elements and `E(_id)`.
pub fn split_key<'k>(
    def_orders: &[Order],
    suffix: &'k [u8],
) -> Result<(Vec<&'k [u8]>, &'k [u8]), key::KeyError> {
    let mut fields = Vec::with_capacity(def_orders.len());
    let id = split_key_into(def_orders, suffix, &mut fields)?;
    Ok((fields, id))
}

/// [`split_key`] into `fields` (cleared first), so that a caller splitting many keys allocates
/// once; returns `E(_id)`.
pub fn split_key_into<'k>(
    def_orders: &[Order],
    suffix: &'k [u8],
    fields: &mut Vec<&'k [u8]>,
) -> Result<&'k [u8], key::KeyError> {
    fields.clear();
    let mut rest = suffix;
    for order in def_orders {
        let len = key::element_len(rest, *order)?;
        fields.push(&rest[..len]);
        rest = &rest[len..];
    }
    Ok(rest)
}

/// How many bytes the first `orders.len()` field elements of an index key (after the index
/// prefix) take.
pub fn fields_len(orders: &[Order], suffix: &[u8]) -> Result<usize, key::KeyError> {
    let mut len = 0;
    for order in orders {
        len += key::element_len(&suffix[len..], *order)?;
    }
    Ok(len)
}
