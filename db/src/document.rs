//! Documents: a map of IPLD data with a primary key, `_id`. The body is stored inline in the
//! leaf under `02 S(collection) E(_id)`, without the `_id` (the key already holds it), as plain
//! DAG-CBOR that any IPLD tool reads. SPEC.md ("Documents") gives the measurements behind inline
//! storage.

use std::collections::BTreeMap;

use cid::Cid;
use ipld_core::ipld::Ipld;
use multihash_codetable::{Code, MultihashDigest};
use prolly_tree::RawValue;

use crate::error::{Refusal, show};
use crate::key::{self, Order};
use crate::path::ID_FIELD;

/// Largest document body, in encoded bytes, under the default node config: three quarters of
/// its 16 KiB leaf cap ([`max_document_bytes`]).
pub const MAX_DOCUMENT_BYTES: usize = 12 * 1024;

/// The largest document body a database cut with `config` takes: three quarters of the leaf cap,
/// since a document shares its leaf entry with its key (up to ~600 bytes) and the node's framing.
/// Larger documents need a larger leaf cap, chosen when the database is created (the actor's
/// `Constructor` takes one; FVM blocks are at most 1 MiB): 4 of 12,308 kubo commits, with long
/// release notes up to 27.7 KB, need a 48 KiB cap.
pub fn max_document_bytes(config: &prolly_tree::Config) -> usize {
    config.leaf_cap as usize / 4 * 3
}
/// Largest encoded `_id`, and largest index key.
pub const MAX_ID_BYTES: usize = 512;
pub const MAX_INDEX_KEY_BYTES: usize = 1024;
/// Bytes of a generated `_id`.
pub const GENERATED_ID_BYTES: usize = 16;

/// A document split into its primary key and its body.
#[derive(Debug, Clone, PartialEq)]
pub struct Document {
    pub id: Ipld,
    /// `E(_id)`, the key encoding of the id.
    pub id_key: Vec<u8>,
    /// The document without `_id`.
    pub body: BTreeMap<String, Ipld>,
}

/// Whether a value can be a primary key: strings, integers, bytes and CIDs.
fn check_id(id: &Ipld) -> Result<Vec<u8>, Refusal> {
    match id {
        Ipld::String(_) | Ipld::Integer(_) | Ipld::Bytes(_) | Ipld::Link(_) => {}
        other => {
            return Err(Refusal::BadDocument(format!(
                "_id must be a string, integer, bytes or CID, not {}",
                show(other)
            )));
        }
    }
    let mut id_key = Vec::new();
    key::encode_value(&mut id_key, id, Order::Ascending)
        .map_err(|e| Refusal::BadDocument(format!("_id: {e}")))?;
    if id_key.len() > MAX_ID_BYTES {
        return Err(Refusal::KeyTooLarge {
            size: id_key.len(),
            max: MAX_ID_BYTES,
        });
    }
    Ok(id_key)
}

/// A document's checks: its id can be a key, and no value holds an integer below the range.
/// Returns the id's key encoding.
pub(crate) fn checked<'a>(
    id: &'a Ipld,
    body: impl Iterator<Item = &'a Ipld>,
) -> Result<Vec<u8>, Refusal> {
    let id_key = check_id(id)?;
    if let Some(why) = std::iter::once(id)
        .chain(body)
        .find_map(crate::form::integer_below_range)
    {
        return Err(Refusal::BadDocument(why));
    }
    Ok(id_key)
}

/// The id that a document without `_id` gets: the first 16 bytes of
/// blake2b-256(parent root CID bytes ‖ operation index as u32 big-endian). It depends only on the
/// batch and the root it applies to, so every replica derives the same one.
pub fn generated_id(parent_root: &Cid, op: usize) -> Ipld {
    let mut input = parent_root.to_bytes();
    input.extend_from_slice(&(op as u32).to_be_bytes());
    let digest = Code::Blake2b256.digest(&input);
    Ipld::Bytes(digest.digest()[..GENERATED_ID_BYTES].to_vec())
}

impl Document {
    /// Splits a document. Without `_id`, `generate` supplies one.
    pub fn new(doc: Ipld, generate: impl FnOnce() -> Ipld) -> Result<Document, Refusal> {
        let Ipld::Map(mut body) = doc else {
            return Err(Refusal::BadDocument("a document is a map".into()));
        };
        let id = body.remove(ID_FIELD).unwrap_or_else(generate);
        Self::from_parts(id, body)
    }

    pub fn from_parts(id: Ipld, body: BTreeMap<String, Ipld>) -> Result<Document, Refusal> {
        let id_key = checked(&id, body.values())?;
        Ok(Document { id, id_key, body })
    }

    /// The stored body, checked against the size limit `max` and DAG-CBOR's rules.
    pub fn encode_body(&self, max: usize) -> Result<RawValue, Refusal> {
        checked_body(RawValue::from_map(&self.body), max)
    }

    /// The whole document, `_id` included: what filters see and queries return.
    pub fn to_ipld(&self) -> Ipld {
        let mut map = self.body.clone();
        map.insert(ID_FIELD.to_string(), self.id.clone());
        Ipld::Map(map)
    }
}

pub(crate) fn checked_body(
    raw: prolly_tree::Result<RawValue>,
    max: usize,
) -> Result<RawValue, Refusal> {
    let raw = raw.map_err(|e| Refusal::BadDocument(e.to_string()))?;
    if raw.len() > max {
        return Err(Refusal::DocumentTooLarge {
            size: raw.len(),
            max,
        });
    }
    Ok(raw)
}

/// A document of a batch read in place: what a bulk insert needs (its id, key, body bytes and
/// index entries) without copying its map to take `_id` out. The copy was a tenth of an import's
/// time (a profile of `cli-bench`'s import: `BTreeMap::clone` and its frees).
pub struct DocumentView<'a> {
    pub id: Ipld,
    pub id_key: Vec<u8>,
    /// The whole map, `_id` included: index paths never name `_id` (definitions refuse it), and
    /// a path through it finds nothing, since an id is never a map.
    pub fields: &'a BTreeMap<String, Ipld>,
}

impl<'a> DocumentView<'a> {
    /// The same checks as [`Document::new`], in the same order.
    pub fn new(
        doc: &'a Ipld,
        generate: impl FnOnce() -> Result<Ipld, Refusal>,
    ) -> Result<Self, Refusal> {
        let Ipld::Map(fields) = doc else {
            return Err(Refusal::BadDocument("a document is a map".into()));
        };
        let id = match fields.get(ID_FIELD) {
            Some(id) => id.clone(),
            None => generate()?,
        };
        let body = fields
            .iter()
            .filter(|(key, _)| *key != ID_FIELD)
            .map(|(_, value)| value);
        let id_key = checked(&id, body)?;
        Ok(DocumentView { id, id_key, fields })
    }

    /// The stored body (the map without `_id`), as [`Document::encode_body`] gives it.
    pub fn encode_body(&self, max: usize) -> Result<RawValue, Refusal> {
        checked_body(RawValue::from_map_without(self.fields, ID_FIELD), max)
    }
}

/// Reads `_id` back from its key encoding.
pub fn decode_id(id_key: &[u8]) -> Result<Ipld, key::KeyError> {
    key::decode_one(id_key, Order::Ascending)
}

/// A stored document as queries see it: its body with `_id` put back.
pub fn with_id(body: Ipld, id: Ipld) -> Option<Ipld> {
    match body {
        Ipld::Map(mut map) => {
            map.insert(ID_FIELD.to_string(), id);
            Some(Ipld::Map(map))
        }
        _ => None,
    }
}
