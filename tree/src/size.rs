//! Exact DAG-CBOR encoded sizes, computed without encoding. The chunker needs them for every entry,
//! so they must match the encoder byte for byte (a test checks that).

use cid::Cid;
use ipld_core::ipld::Ipld;

use crate::error::{Error, Result};

/// Length of a CBOR head (major type + argument) for the argument `n`.
pub fn head_len(n: u64) -> usize {
    match n {
        0..=23 => 1,
        24..=0xff => 2,
        0x100..=0xffff => 3,
        0x1_0000..=0xffff_ffff => 5,
        _ => 9,
    }
}

/// A byte or text string of `len` bytes.
pub fn bytes_len(len: usize) -> usize {
    head_len(len as u64) + len
}

/// A CID: tag 42 (two bytes), then a byte string of 0x00 followed by the binary CID.
pub fn cid_len(cid: &Cid) -> usize {
    2 + bytes_len(cid.encoded_len() + 1)
}

/// The encoded length of an IPLD value, assuming it is valid (see [`validate_ipld`]).
pub fn ipld_len(v: &Ipld) -> usize {
    match v {
        Ipld::Null | Ipld::Bool(_) => 1,
        Ipld::Integer(i) => head_len(if *i >= 0 { *i as u64 } else { (-1 - *i) as u64 }),
        Ipld::Float(_) => 9,
        Ipld::String(s) => bytes_len(s.len()),
        Ipld::Bytes(b) => bytes_len(b.len()),
        Ipld::List(l) => head_len(l.len() as u64) + l.iter().map(ipld_len).sum::<usize>(),
        Ipld::Map(m) => {
            head_len(m.len() as u64)
                + m.iter()
                    .map(|(k, v)| bytes_len(k.len()) + ipld_len(v))
                    .sum::<usize>()
        }
        Ipld::Link(c) => cid_len(c),
    }
}

/// Nesting deeper than this is refused, so that decoding and size computation stay bounded.
pub const MAX_DEPTH: usize = 64;

/// Checks that a value can be stored as DAG-CBOR (integers within 64 bits, finite floats,
/// bounded nesting) and returns its encoded length.
pub fn validate_ipld(v: &Ipld) -> Result<usize> {
    fn walk(v: &Ipld, depth: usize) -> Result<()> {
        if depth > MAX_DEPTH {
            return Err(Error::Invalid(format!(
                "value nested deeper than {MAX_DEPTH}"
            )));
        }
        match v {
            Ipld::Integer(i) if *i > u64::MAX as i128 || *i < -(u64::MAX as i128) - 1 => Err(
                Error::Invalid(format!("integer {i} does not fit DAG-CBOR's 64 bits")),
            ),
            Ipld::Float(f) if !f.is_finite() => Err(Error::Invalid(
                "DAG-CBOR has no NaN or infinite floats".into(),
            )),
            Ipld::List(l) => l.iter().try_for_each(|x| walk(x, depth + 1)),
            Ipld::Map(m) => m.values().try_for_each(|x| walk(x, depth + 1)),
            _ => Ok(()),
        }
    }
    walk(v, 0)?;
    Ok(ipld_len(v))
}

/// The encoded size of a node with `count` entries whose entries take `payload` bytes: the outer
/// tuple, the level, and one array head per column.
pub fn node_len(level: u32, count: usize, payload: usize) -> usize {
    let columns = if level == 0 { 2 } else { 3 };
    1 + head_len(level as u64) + columns * head_len(count as u64) + payload
}
