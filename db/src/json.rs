//! The JSON forms, in DAG-JSON's conventions: a link is `{"/": "bafy…"}`, bytes are
//! `{"/": {"bytes": "<base64, no padding>"}}`. Integers stay integers (up to 64 bits either
//! sign); numbers with a fraction or an exponent are floats.

use std::collections::BTreeMap;

use cid::Cid;
use ipld_core::ipld::Ipld;
use serde_json::{Number, Value};

use crate::error::Error;
use crate::form::malformed;

/// Parses JSON text into IPLD data (DAG-JSON's conventions for links and bytes).
pub fn parse_json(text: &str) -> Result<Ipld, Error> {
    let value: Value = serde_json::from_str(text).map_err(|e| malformed("JSON", e.to_string()))?;
    ipld_from_json(&value)
}

pub fn to_string(value: &Ipld) -> String {
    ipld_to_json(value).to_string()
}

/// A parsed JSON value as IPLD data.
pub fn ipld_from_json(value: &Value) -> Result<Ipld, Error> {
    Ok(match value {
        Value::Null => Ipld::Null,
        Value::Bool(b) => Ipld::Bool(*b),
        Value::Number(n) => number(n)?,
        Value::String(s) => Ipld::String(s.clone()),
        Value::Array(items) => {
            Ipld::List(items.iter().map(ipld_from_json).collect::<Result<_, _>>()?)
        }
        Value::Object(map) => {
            if let Some(special) = special(map)? {
                return Ok(special);
            }
            let mut out = BTreeMap::new();
            for (k, v) in map {
                out.insert(k.clone(), ipld_from_json(v)?);
            }
            Ipld::Map(out)
        }
    })
}

fn number(n: &Number) -> Result<Ipld, Error> {
    if let Some(i) = n.as_i64() {
        return Ok(Ipld::Integer(i.into()));
    }
    if let Some(u) = n.as_u64() {
        return Ok(Ipld::Integer(u.into()));
    }
    match n.as_f64() {
        Some(f) if f.is_finite() => Ok(Ipld::Float(f)),
        _ => Err(malformed("JSON", format!("number {n} is out of range"))),
    }
}

/// `{"/": "cid"}` and `{"/": {"bytes": "…"}}`.
fn special(map: &serde_json::Map<String, Value>) -> Result<Option<Ipld>, Error> {
    if map.len() != 1 {
        return Ok(None);
    }
    match map.get("/") {
        Some(Value::String(text)) => {
            let cid = Cid::try_from(text.as_str())
                .map_err(|e| malformed("JSON", format!("bad link {text:?}: {e}")))?;
            Ok(Some(Ipld::Link(cid)))
        }
        Some(Value::Object(inner)) if inner.len() == 1 => match inner.get("bytes") {
            Some(Value::String(b64)) => {
                let bytes = data_encoding::BASE64_NOPAD
                    .decode(b64.trim_end_matches('=').as_bytes())
                    .map_err(|e| malformed("JSON", format!("bad bytes: {e}")))?;
                Ok(Some(Ipld::Bytes(bytes)))
            }
            _ => Ok(None),
        },
        _ => Ok(None),
    }
}

/// IPLD data as a JSON value, in DAG-JSON's conventions.
pub fn ipld_to_json(value: &Ipld) -> Value {
    match value {
        Ipld::Null => Value::Null,
        Ipld::Bool(b) => Value::Bool(*b),
        Ipld::Integer(i) => {
            if let Ok(i) = i64::try_from(*i) {
                Value::from(i)
            } else if let Ok(u) = u64::try_from(*i) {
                Value::from(u)
            } else {
                // Below -2^63: the database refuses such integers (form::MIN_INTEGER), so
                // only hand-made IPLD gets here; serde_json's numbers cannot carry it exactly.
                Value::String(i.to_string())
            }
        }
        Ipld::Float(f) => Number::from_f64(*f).map_or(Value::Null, Value::Number),
        Ipld::String(s) => Value::String(s.clone()),
        Ipld::Bytes(b) => {
            serde_json::json!({"/": {"bytes": data_encoding::BASE64_NOPAD.encode(b)}})
        }
        Ipld::Link(cid) => serde_json::json!({"/": cid.to_string()}),
        Ipld::List(items) => Value::Array(items.iter().map(ipld_to_json).collect()),
        Ipld::Map(map) => Value::Object(
            map.iter()
                .map(|(k, v)| (k.clone(), ipld_to_json(v)))
                .collect(),
        ),
    }
}

/// A form's JSON text with its `cursor` (bytes in the IPLD form) written as base64url, the way
/// people pass cursors around.
pub fn with_cursor(mut form: Ipld, cursor: Option<&[u8]>) -> String {
    if let (Ipld::Map(map), Some(cursor)) = (&mut form, cursor) {
        map.insert(
            "cursor".into(),
            Ipld::String(data_encoding::BASE64URL_NOPAD.encode(cursor)),
        );
    }
    to_string(&form)
}
