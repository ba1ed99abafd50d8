//! Lotus's JSON conventions (PROTOCOLS A2): CIDs as `{"/": …}`, tipset keys as arrays of them,
//! bytes as padded base64 (`null` when empty), big integers as decimal strings, addresses with
//! the testnet prefix `t`.

use cid::Cid;
use data_encoding::BASE64;
use fvm_shared::address::{Address, Network};
use fvm_shared::econ::TokenAmount;
use serde_json::{Value, json};

pub fn cid(c: &Cid) -> Value {
    json!({ "/": c.to_string() })
}

pub fn tipset_key(cids: &[Cid]) -> Value {
    Value::Array(cids.iter().map(cid).collect())
}

/// A devnet is a testnet: its addresses print with `t`.
pub fn address(a: &Address) -> String {
    format!("t{}", &a.to_string()[1..])
}

/// An address with either network's prefix.
pub fn parse_address(text: &str) -> Result<Address, String> {
    let network = match text.as_bytes().first() {
        Some(b't') => Network::Testnet,
        Some(b'f') => Network::Mainnet,
        _ => return Err(format!("{text:?} is not an address")),
    };
    network
        .parse_address(text)
        .map_err(|e| format!("{text:?} is not an address: {e}"))
}

/// Bytes; a nil slice is `null` (Go's encoding of an absent `[]byte`).
pub fn bytes(b: &[u8]) -> Value {
    if b.is_empty() {
        Value::Null
    } else {
        Value::String(BASE64.encode(b))
    }
}

pub fn parse_bytes(v: &Value) -> Result<Vec<u8>, String> {
    match v {
        Value::Null => Ok(Vec::new()),
        Value::String(s) => BASE64
            .decode(s.as_bytes())
            .map_err(|e| format!("not base64: {e}")),
        other => Err(format!("expected base64 bytes, got {other}")),
    }
}

pub fn tokens(t: &TokenAmount) -> Value {
    Value::String(t.atto().to_string())
}

/// A big integer must be a JSON string (Go unmarshals it from one).
pub fn parse_tokens(v: &Value) -> Result<TokenAmount, String> {
    match v {
        Value::Null => Ok(TokenAmount::from_atto(0)),
        Value::String(s) => s
            .parse::<fvm_shared::bigint::BigInt>()
            .map(TokenAmount::from_atto)
            .map_err(|_| format!("{s:?} is not a decimal integer")),
        other => Err(format!("a big integer must be a string, got {other}")),
    }
}

pub fn parse_cid(v: &Value) -> Result<Cid, String> {
    v.get("/")
        .and_then(Value::as_str)
        .and_then(|s| Cid::try_from(s).ok())
        .ok_or_else(|| format!("expected a CID {{\"/\": …}}, got {v}"))
}

/// A tipset key: `null` or `[]` is the head.
pub fn parse_tipset_key(v: &Value) -> Result<Vec<Cid>, String> {
    match v {
        Value::Null => Ok(Vec::new()),
        Value::Array(items) => items.iter().map(parse_cid).collect(),
        other => Err(format!(
            "expected a tipset key (an array of CIDs), got {other}"
        )),
    }
}

/// A field of a Go struct: Go matches names case-insensitively.
pub fn field<'a>(object: &'a Value, name: &str) -> Option<&'a Value> {
    object
        .as_object()?
        .iter()
        .find_map(|(k, v)| k.eq_ignore_ascii_case(name).then_some(v))
}
