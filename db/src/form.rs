//! Small helpers for reading the IPLD forms of our types strictly: unknown fields and wrong types
//! are errors that name what was being read.

use std::collections::BTreeMap;

use ipld_core::ipld::Ipld;

use crate::error::Error;

pub type Map = BTreeMap<String, Ipld>;

pub fn malformed(what: &'static str, reason: impl Into<String>) -> Error {
    Error::Malformed {
        what,
        reason: reason.into(),
    }
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
    crate::query::encode_raw(value).as_bytes().to_vec()
}

/// Strictly decodes DAG-CBOR bytes.
pub fn from_cbor(bytes: &[u8], what: &'static str) -> Result<Ipld, Error> {
    prolly_tree::cbor::read_ipld(bytes).map_err(|e| malformed(what, e))
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
            .map_err(|_| Error::BadCursor("not base64url".into())),
        _ => Err(malformed(what, "a cursor is bytes")),
    }
}
