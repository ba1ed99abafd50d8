//! Small helpers for reading the IPLD forms of our types strictly: unknown fields and wrong types
//! are errors that name what was being read.

use std::collections::BTreeMap;

use ipld_core::ipld::Ipld;

use prolly_tree::RawValue;

use crate::error::{Error, Refusal};

/// The version of the query, write-batch and result forms.
pub const FORM_VERSION: u64 = 1;

pub type Map = BTreeMap<String, Ipld>;

pub fn malformed(what: &'static str, reason: impl ToString) -> Error {
    Refusal::Malformed {
        what,
        reason: reason.to_string(),
    }
    .into()
}

/// The smallest integer the database takes: -2^63. DAG-CBOR reaches -2^64, but JSON parsers
/// (serde_json among them) carry only 64-bit integers of either sign exactly, so a value below
/// -2^63 could not round-trip through the JSON forms (SPEC §12).
pub const MIN_INTEGER: i128 = i64::MIN as i128;

/// Why `value` holds an integer below [`MIN_INTEGER`], if it does (the first one found): the one
/// walk behind both the forms' check and the documents'.
pub fn integer_below_range(value: &Ipld) -> Option<String> {
    match value {
        Ipld::Integer(i) if *i < MIN_INTEGER => Some(format!(
            "integer {i} is below -2^63, which JSON cannot carry exactly"
        )),
        Ipld::List(items) => items.iter().find_map(integer_below_range),
        Ipld::Map(map) => map.values().find_map(integer_below_range),
        _ => None,
    }
}

/// Refuses a form holding an integer below [`MIN_INTEGER`] anywhere.
pub fn check_integers(value: &Ipld, what: &'static str) -> Result<(), Error> {
    match integer_below_range(value) {
        Some(why) => Err(malformed(what, why)),
        None => Ok(()),
    }
}

/// Encodes a form or document through the tree's DAG-CBOR encoder (canonical map order, strict).
/// Only for values that are known to encode: forms we built, documents read back.
pub fn encode(value: &Ipld) -> RawValue {
    RawValue::from_ipld(value).expect("our own forms and stored documents always encode")
}

/// The value as a map whose keys are all in `allowed`.
pub fn map<'a>(value: &'a Ipld, allowed: &[&str], what: &'static str) -> Result<&'a Map, Error> {
    let Ipld::Map(map) = value else {
        return Err(malformed(what, "expected a map"));
    };
    if let Some(unknown) = map.keys().find(|k| !allowed.contains(&k.as_str())) {
        return Err(malformed(what, format!("unknown field {unknown:?}")));
    }
    Ok(map)
}

pub fn string<'a>(value: &'a Ipld, what: &'static str) -> Result<&'a str, Error> {
    match value {
        Ipld::String(s) => Ok(s),
        _ => Err(malformed(what, "expected a string")),
    }
}

pub fn list<'a>(value: &'a Ipld, what: &'static str) -> Result<&'a [Ipld], Error> {
    match value {
        Ipld::List(items) => Ok(items),
        _ => Err(malformed(what, "expected a list")),
    }
}

pub fn boolean(value: &Ipld, what: &'static str) -> Result<bool, Error> {
    match value {
        Ipld::Bool(b) => Ok(*b),
        _ => Err(malformed(what, "expected a boolean")),
    }
}

pub fn unsigned(value: &Ipld, what: &'static str) -> Result<u64, Error> {
    match value {
        Ipld::Integer(i) => u64::try_from(*i).map_err(|_| malformed(what, "out of range")),
        _ => Err(malformed(what, "expected an integer")),
    }
}

pub fn required<'a>(map: &'a Map, key: &str, what: &'static str) -> Result<&'a Ipld, Error> {
    map.get(key)
        .ok_or_else(|| malformed(what, format!("missing field {key:?}")))
}

pub fn string_value(s: &str) -> Ipld {
    Ipld::String(s.to_string())
}

/// Canonical DAG-CBOR bytes of a form we built ourselves.
pub fn to_cbor(value: &Ipld) -> Vec<u8> {
    let mut out = Vec::new();
    prolly_tree::cbor::encode_ipld_into(&mut out, value)
        .expect("our own forms and stored documents always encode");
    out
}

/// Strictly decodes DAG-CBOR bytes.
pub fn from_cbor(bytes: &[u8], what: &'static str) -> Result<Ipld, Error> {
    prolly_tree::decode_ipld(bytes).map_err(|e| malformed(what, e))
}

/// Refuses bytes that are not exactly the canonical encoding of what they decoded to.
pub fn check_canonical(bytes: &[u8], canonical: &Ipld, what: &'static str) -> Result<(), Error> {
    if to_cbor(canonical) != bytes {
        return Err(malformed(what, "not the canonical form"));
    }
    Ok(())
}

/// A cursor: bytes, or (in the JSON forms) a base64url string.
pub fn cursor(value: &Ipld, what: &'static str) -> Result<Vec<u8>, Error> {
    match value {
        Ipld::Bytes(b) => Ok(b.clone()),
        Ipld::String(s) => data_encoding::BASE64URL_NOPAD
            .decode(s.as_bytes())
            .map_err(|_| Refusal::BadCursor("not base64url".into()).into()),
        _ => Err(malformed(what, "a cursor is bytes")),
    }
}
