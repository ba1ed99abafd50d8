//! Order-preserving, typed key encoding, in the way of FoundationDB's tuple layer.
//!
//! `encode_key` turns a list of IPLD values, each ascending or descending, into bytes whose
//! bytewise order is exactly the order of [`compare`] element by element, and `decode_key` gives
//! the values back with their exact types. The order (spec/SPEC.md, "Key encoding"):
//!
//! - across types: null < false < true < numbers < strings < bytes < lists < maps < CIDs;
//! - numbers by exact value over the integers of DAG-CBOR (−2^64 ..= 2^64 − 1) and finite f64,
//!   never rounded through f64; an integer sorts before a float of equal value; the zeros are
//!   `0 < -0.0 < 0.0`; NaN and the infinities are not values (DAG-CBOR has none) and are refused;
//! - strings bytewise in UTF-8 (embedded zero bytes included), bytes bytewise, CIDs by their binary
//!   form bytewise;
//! - lists element by element, a shorter prefix first; maps as the list of their (key, value)
//!   pairs in key order.
//!
//! Every element encoding is self-delimiting and none is a prefix of another, so a descending
//! element is simply the bitwise complement of its ascending encoding.

use std::borrow::Cow;
use std::cmp::Ordering;
use std::collections::BTreeMap;
use std::ops::Range;

use cid::Cid;
use ipld_core::ipld::Ipld;
use prolly_tree::cbor::{encode_ipld_into, write_bytes, write_text};

const END: u8 = 0x00;
/// An absent field, in index and sort keys: below every value. Not a value, so `decode_key`
/// refuses it; `element_len` steps over it.
pub const MISSING: u8 = 0x01;
/// After a 0x00 inside a string, bytes or CID: the 0x00 was data.
const ESCAPE: u8 = 0xFF;
const NULL: u8 = 0x02;
const FALSE: u8 = 0x03;
const TRUE: u8 = 0x04;
const NEGATIVE: u8 = 0x10;
const ZERO: u8 = 0x11;
const POSITIVE: u8 = 0x12;
const STRING: u8 = 0x20;
const BYTES: u8 = 0x21;
const LIST: u8 = 0x30;
const MAP: u8 = 0x31;
const LINK: u8 = 0x40;

/// Added to a number's binary exponent (−1074 ..= 1023 for floats, 0 ..= 64 for integers) so that
/// it encodes as an unsigned 16-bit value.
const EXPONENT_BIAS: i32 = 1100;
/// Number kinds, the tiebreak between equal values: integers before floats.
const KIND_INTEGER: u8 = 0;
const KIND_FLOAT: u8 = 1;
/// Zero kinds: `0 < -0.0 < 0.0`.
const ZERO_KINDS: [u8; 3] = [0, 1, 2];

/// Largest and smallest integers DAG-CBOR can hold.
const INT_MAX: i128 = u64::MAX as i128;
const INT_MIN: i128 = -(u64::MAX as i128) - 1;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Order {
    Ascending,
    Descending,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum KeyError {
    #[error("{0} cannot be part of a key")]
    Unsupported(&'static str),
    #[error("malformed key: {0}")]
    Malformed(&'static str),
}

/// Encodes a compound key: each value with its own order.
pub fn encode_key<'a>(
    parts: impl IntoIterator<Item = (&'a Ipld, Order)>,
) -> Result<Vec<u8>, KeyError> {
    let mut out = Vec::new();
    for (value, order) in parts {
        encode_value(&mut out, value, order)?;
    }
    Ok(out)
}

/// Appends one element.
pub fn encode_value(out: &mut Vec<u8>, value: &Ipld, order: Order) -> Result<(), KeyError> {
    let start = out.len();
    encode(out, value, 0)?;
    if order == Order::Descending {
        out[start..].iter_mut().for_each(|b| *b = !*b);
    }
    Ok(())
}

/// Decodes a compound key of `orders.len()` elements; the bytes must be exactly that.
pub fn decode_key(bytes: &[u8], orders: &[Order]) -> Result<Vec<Ipld>, KeyError> {
    let mut decoder = Decoder::new(bytes);
    let mut values = Vec::with_capacity(orders.len());
    for order in orders {
        values.push(decoder.field(*order)?);
    }
    decoder.end()?;
    Ok(values)
}

/// Decodes a key of exactly one element: [`decode_key`] without a vector around it (a
/// document's `_id`, decoded for every document a query returns).
pub fn decode_one(bytes: &[u8], order: Order) -> Result<Ipld, KeyError> {
    let mut decoder = Decoder::new(bytes);
    let value = decoder.field(order)?;
    decoder.end()?;
    Ok(value)
}

/// Writes a key of exactly one element as DAG-CBOR at the end of `out`: what [`decode_one`]
/// decodes, encoded, with a string or byte string copied from the key rather than built into an
/// `Ipld` (a covered result's values are written this way). On an error `out` is left as it was.
pub fn transcode_one(bytes: &[u8], order: Order, out: &mut Vec<u8>) -> Result<(), KeyError> {
    let start = out.len();
    let mut decoder = Decoder::new(bytes);
    let written = decoder
        .transcode_field(order, out)
        .and_then(|()| decoder.end());
    if written.is_err() {
        out.truncate(start);
    }
    written
}

/// Nesting deeper than this is refused, as in DAG-CBOR values.
const MAX_DEPTH: usize = 64;

fn encode(out: &mut Vec<u8>, value: &Ipld, depth: usize) -> Result<(), KeyError> {
    if depth > MAX_DEPTH {
        return Err(KeyError::Unsupported("a value nested deeper than 64"));
    }
    match value {
        Ipld::Null => out.push(NULL),
        Ipld::Bool(false) => out.push(FALSE),
        Ipld::Bool(true) => out.push(TRUE),
        Ipld::Integer(i) => encode_integer(out, *i)?,
        Ipld::Float(f) => encode_float(out, *f)?,
        Ipld::String(s) => escaped(out, STRING, s.as_bytes()),
        Ipld::Bytes(b) => escaped(out, BYTES, b),
        Ipld::Link(cid) => escaped(out, LINK, &cid.to_bytes()),
        Ipld::List(items) => {
            out.push(LIST);
            for item in items {
                encode(out, item, depth + 1)?;
            }
            out.push(END);
        }
        Ipld::Map(map) => {
            out.push(MAP);
            for (k, v) in map {
                escaped(out, STRING, k.as_bytes());
                encode(out, v, depth + 1)?;
            }
            out.push(END);
        }
    }
    Ok(())
}

/// A tag, the bytes with each 0x00 written 0x00 0xFF, then 0x00 0x00.
fn escaped(out: &mut Vec<u8>, tag: u8, bytes: &[u8]) {
    // Copied a run at a time into room reserved once: pushing byte by byte, and growing on the
    // way, was a tenth of verifying a covering query.
    out.reserve(bytes.len() + 3);
    out.push(tag);
    let mut rest = bytes;
    while let Some(zero) = rest.iter().position(|&b| b == 0) {
        out.extend_from_slice(&rest[..=zero]);
        out.push(ESCAPE);
        rest = &rest[zero + 1..];
    }
    out.extend_from_slice(rest);
    out.extend_from_slice(&[END, END]);
}

/// Where a number's bytes go: the key being written, or [`NumberBytes`] to check a decoded
/// number against.
trait NumberOut {
    fn push(&mut self, byte: u8);

    fn extend_from_slice(&mut self, bytes: &[u8]) {
        bytes.iter().for_each(|b| self.push(*b));
    }
}

impl NumberOut for Vec<u8> {
    fn push(&mut self, byte: u8) {
        Vec::push(self, byte);
    }

    fn extend_from_slice(&mut self, bytes: &[u8]) {
        Vec::extend_from_slice(self, bytes);
    }
}

/// A number's encoding, built on the stack: a tag, two exponent bytes, at most ten fraction
/// groups and a kind. The decoder checks a number against it without allocating (a vector per
/// check was an allocation for every `_id` a query returns); the encoder writes straight into
/// the key (building the bytes here first cost the demo's writes, which index two numeric
/// fields, 0.1% more gas).
#[derive(Default)]
struct NumberBytes {
    bytes: [u8; 14],
    len: usize,
}

impl NumberOut for NumberBytes {
    fn push(&mut self, byte: u8) {
        self.bytes[self.len] = byte;
        self.len += 1;
    }
}

impl NumberBytes {
    fn as_slice(&self) -> &[u8] {
        &self.bytes[..self.len]
    }
}

fn encode_integer(out: &mut impl NumberOut, i: i128) -> Result<(), KeyError> {
    if !(INT_MIN..=INT_MAX).contains(&i) {
        return Err(KeyError::Unsupported("an integer beyond 64 bits"));
    }
    if i == 0 {
        out.extend_from_slice(&[ZERO, ZERO_KINDS[0]]);
        return Ok(());
    }
    let magnitude = i.unsigned_abs();
    let exponent = 127 - magnitude.leading_zeros() as i32;
    // The bits below the leading one, left-aligned in 64 bits (at most 64 of them).
    let below = magnitude
        .checked_shl(magnitude.leading_zeros() + 1)
        .unwrap_or(0);
    magnitude_bytes(out, i < 0, exponent, (below >> 64) as u64, KIND_INTEGER);
    Ok(())
}

fn encode_float(out: &mut impl NumberOut, f: f64) -> Result<(), KeyError> {
    if !f.is_finite() {
        return Err(KeyError::Unsupported("NaN or an infinite float"));
    }
    if f == 0.0 {
        let kind = if f.is_sign_negative() {
            ZERO_KINDS[1]
        } else {
            ZERO_KINDS[2]
        };
        out.extend_from_slice(&[ZERO, kind]);
        return Ok(());
    }
    let bits = f.to_bits();
    let exponent_bits = ((bits >> 52) & 0x7ff) as i32;
    let mantissa = bits & ((1 << 52) - 1);
    let (exponent, below) = if exponent_bits != 0 {
        (exponent_bits - 1023, mantissa << 12)
    } else {
        // Subnormal: the leading one is somewhere in the mantissa.
        let lz = mantissa.leading_zeros();
        (
            63 - lz as i32 - 1074,
            mantissa.checked_shl(lz + 1).unwrap_or(0),
        )
    };
    magnitude_bytes(out, f < 0.0, exponent, below, KIND_FLOAT);
    Ok(())
}

/// Sign tag, biased exponent, fraction bits, kind. Negative magnitudes are complemented so that
/// larger magnitudes sort first; the kind is not, so integers still sort before equal floats.
fn magnitude_bytes(out: &mut impl NumberOut, negative: bool, exponent: i32, below: u64, kind: u8) {
    let exponent = (exponent + EXPONENT_BIAS) as u16;
    let mask = if negative { 0xFF } else { 0 };
    out.push(if negative { NEGATIVE } else { POSITIVE });
    let exponent = if negative { !exponent } else { exponent };
    out.extend_from_slice(&exponent.to_be_bytes());
    let groups = fraction_groups(below);
    let used = groups
        .iter()
        .rposition(|&g| g != 0)
        .map_or(1, |last| last + 1);
    for (i, group) in groups[..used].iter().enumerate() {
        let more = u8::from(i + 1 < used);
        out.push((group << 1 | more) ^ mask);
    }
    out.push(kind);
}

/// Groups of the fraction: 7 bits each from the top, the last holding the 64th bit. A number keeps
/// only its groups up to the last non-zero one, each in a byte `group << 1 | more`, so integers
/// take a byte per 7 bits of precision (1 to 10) rather than 8, and the order holds: at the first
/// differing byte the bits decide, and with equal bits a number that ends (`more` = 0, the rest
/// zero) is the smaller.
fn fraction_groups(below: u64) -> [u8; FRACTION_GROUPS] {
    let bits = u128::from(below) << 6; // 70 bits: ten groups of 7
    std::array::from_fn(|i| ((bits >> (7 * (FRACTION_GROUPS - 1 - i))) & 0x7F) as u8)
}

const FRACTION_GROUPS: usize = 10;

struct Decoder<'a> {
    bytes: &'a [u8],
    pos: usize,
    /// 0xFF inside a descending element.
    mask: u8,
    /// Whether the element being decoded holds a number, a map or a CID: bytes that decode to a
    /// value without being its one encoding (a trailing zero group, keys out of order, a CID in
    /// another form). Everything else decodes only from its own encoding.
    may_differ: bool,
}

impl<'a> Decoder<'a> {
    fn new(bytes: &'a [u8]) -> Self {
        Decoder {
            bytes,
            pos: 0,
            mask: 0,
            may_differ: false,
        }
    }

    /// One element of a compound key, in `order`; only its one canonical encoding is accepted.
    fn field(&mut self, order: Order) -> Result<Ipld, KeyError> {
        self.mask = if order == Order::Descending { 0xFF } else { 0 };
        self.may_differ = false;
        let start = self.pos;
        let value = self.value(0)?;
        if !self.may_differ {
            // Re-encoding every field to compare was 3.5% of verifying a covering query.
            return Ok(value);
        }
        if let Ipld::Integer(_) | Ipld::Float(_) = value {
            // A number alone (an `_id`, most often) is checked on the stack.
            self.check_number(start, &value)?;
            return Ok(value);
        }
        let mut again = Vec::with_capacity(self.pos - start);
        encode_value(&mut again, &value, order)?;
        if again != self.bytes[start..self.pos] {
            return Err(KeyError::Malformed("not the canonical encoding"));
        }
        Ok(value)
    }

    /// One element, as `field` decodes it, written as DAG-CBOR. Strings and byte strings decode
    /// only from their own encoding (see `may_differ`), so they are copied with no check.
    fn transcode_field(&mut self, order: Order, out: &mut Vec<u8>) -> Result<(), KeyError> {
        self.mask = if order == Order::Descending { 0xFF } else { 0 };
        match self.peek()? {
            STRING => {
                self.pos += 1;
                let text = self.escaped_in_place()?;
                let text =
                    std::str::from_utf8(&text).map_err(|_| KeyError::Malformed("bad UTF-8"))?;
                write_text(out, text);
            }
            BYTES => {
                self.pos += 1;
                write_bytes(out, &self.escaped_in_place()?);
            }
            _ => {
                let value = self.field(order)?;
                encode_ipld_into(out, &value).map_err(|_| KeyError::Unsupported("this value"))?;
            }
        }
        Ok(())
    }

    fn end(&self) -> Result<(), KeyError> {
        if self.pos != self.bytes.len() {
            return Err(KeyError::Malformed("trailing bytes"));
        }
        Ok(())
    }

    fn byte(&mut self) -> Result<u8, KeyError> {
        let b = *self
            .bytes
            .get(self.pos)
            .ok_or(KeyError::Malformed("truncated"))?;
        self.pos += 1;
        Ok(b ^ self.mask)
    }

    fn peek(&self) -> Result<u8, KeyError> {
        Ok(*self
            .bytes
            .get(self.pos)
            .ok_or(KeyError::Malformed("truncated"))?
            ^ self.mask)
    }

    fn array<const N: usize>(&mut self) -> Result<[u8; N], KeyError> {
        let mut out = [0; N];
        for b in &mut out {
            *b = self.byte()?;
        }
        Ok(out)
    }

    /// The next run of an escaped element, up to its next (masked) END byte: its bytes as
    /// stored (still masked), and whether the element ends there (END END) rather than with an
    /// escaped zero (END ESCAPE). Found a run at a time, not byte by byte.
    fn run(&mut self) -> Result<(Range<usize>, bool), KeyError> {
        let end = END ^ self.mask;
        let from = self.pos.min(self.bytes.len());
        let Some(at) = self.bytes[from..].iter().position(|&b| b == end) else {
            return Err(KeyError::Malformed("truncated"));
        };
        self.pos = from + at + 1;
        let last = match self.byte()? {
            END => true,
            ESCAPE => false,
            _ => return Err(KeyError::Malformed("bad escape")),
        };
        Ok((from..from + at, last))
    }

    /// Like `escaped`, but borrowed from the key when the bytes are stored as they are: an
    /// ascending element with no escaped zero.
    fn escaped_in_place(&mut self) -> Result<Cow<'a, [u8]>, KeyError> {
        if self.mask == 0 {
            let start = self.pos;
            let (run, last) = self.run()?;
            if last {
                return Ok(Cow::Borrowed(&self.bytes[run]));
            }
            self.pos = start;
        }
        self.escaped().map(Cow::Owned)
    }

    fn escaped(&mut self) -> Result<Vec<u8>, KeyError> {
        let mut out = Vec::new();
        loop {
            let (run, last) = self.run()?;
            let run = &self.bytes[run];
            if self.mask == 0 {
                out.extend_from_slice(run);
            } else {
                out.extend(run.iter().map(|b| b ^ self.mask));
            }
            if last {
                return Ok(out);
            }
            out.push(0);
        }
    }

    /// Steps over one value with the checks of `value`, building nothing: where a key's fields
    /// end. Splitting index keys by decoding them was a tenth of verifying a covering query.
    fn skip(&mut self, depth: usize) -> Result<(), KeyError> {
        if depth > MAX_DEPTH {
            return Err(KeyError::Malformed("nested too deep"));
        }
        match self.byte()? {
            NULL | FALSE | TRUE => {}
            ZERO => {
                if self.byte()? > 2 {
                    return Err(KeyError::Malformed("bad zero kind"));
                }
            }
            tag @ (NEGATIVE | POSITIVE) => {
                self.number(tag == NEGATIVE)?;
            }
            STRING => self.skip_escaped(true)?,
            BYTES => self.skip_escaped(false)?,
            LINK => {
                Cid::try_from(self.escaped()?.as_slice())
                    .map_err(|_| KeyError::Malformed("bad CID"))?;
            }
            LIST => {
                while self.peek()? != END {
                    self.skip(depth + 1)?;
                }
                self.pos += 1;
            }
            MAP => {
                while self.peek()? != END {
                    if self.byte()? != STRING {
                        return Err(KeyError::Malformed("map key is not a string"));
                    }
                    self.skip_escaped(true)?;
                    self.skip(depth + 1)?;
                }
                self.pos += 1;
            }
            _ => return Err(KeyError::Malformed("unknown tag")),
        }
        Ok(())
    }

    /// Steps over escaped bytes, checking that they are UTF-8 when `text`: each run between
    /// escaped zeros must be, a zero being a character of its own.
    fn skip_escaped(&mut self, text: bool) -> Result<(), KeyError> {
        if self.mask != 0 {
            // Descending: the bytes are inverted, so check them as `value` does.
            let bytes = self.escaped()?;
            if text && std::str::from_utf8(&bytes).is_err() {
                return Err(KeyError::Malformed("bad UTF-8"));
            }
            return Ok(());
        }
        loop {
            let (run, last) = self.run()?;
            if text && std::str::from_utf8(&self.bytes[run]).is_err() {
                return Err(KeyError::Malformed("bad UTF-8"));
            }
            if last {
                return Ok(());
            }
        }
    }

    fn value(&mut self, depth: usize) -> Result<Ipld, KeyError> {
        if depth > MAX_DEPTH {
            return Err(KeyError::Malformed("nested too deep"));
        }
        Ok(match self.byte()? {
            NULL => Ipld::Null,
            FALSE => Ipld::Bool(false),
            TRUE => Ipld::Bool(true),
            ZERO => match self.byte()? {
                0 => Ipld::Integer(0),
                1 => Ipld::Float(-0.0),
                2 => Ipld::Float(0.0),
                _ => return Err(KeyError::Malformed("bad zero kind")),
            },
            tag @ (NEGATIVE | POSITIVE) => {
                self.may_differ = true;
                self.number(tag == NEGATIVE)?
            }
            STRING => Ipld::String(
                String::from_utf8(self.escaped()?).map_err(|_| KeyError::Malformed("bad UTF-8"))?,
            ),
            BYTES => Ipld::Bytes(self.escaped()?),
            LINK => Ipld::Link({
                self.may_differ = true;
                Cid::try_from(self.escaped()?.as_slice())
                    .map_err(|_| KeyError::Malformed("bad CID"))?
            }),
            LIST => {
                let mut items = Vec::new();
                while self.peek()? != END {
                    items.push(self.value(depth + 1)?);
                }
                self.pos += 1;
                Ipld::List(items)
            }
            MAP => {
                self.may_differ = true;
                let mut map = BTreeMap::new();
                while self.peek()? != END {
                    if self.byte()? != STRING {
                        return Err(KeyError::Malformed("map key is not a string"));
                    }
                    let key = String::from_utf8(self.escaped()?)
                        .map_err(|_| KeyError::Malformed("bad UTF-8"))?;
                    let value = self.value(depth + 1)?;
                    map.insert(key, value);
                }
                self.pos += 1;
                Ipld::Map(map)
            }
            _ => return Err(KeyError::Malformed("unknown tag")),
        })
    }

    /// Refuses a number stored at `start..pos` in other bytes than its one encoding (a trailing
    /// zero group, fraction bits past an integer's, or past the 64th): [`Decoder::field`]'s check
    /// for a number, without a vector.
    fn check_number(&self, start: usize, value: &Ipld) -> Result<(), KeyError> {
        let mut canonical = NumberBytes::default();
        match value {
            Ipld::Integer(i) => encode_integer(&mut canonical, *i)?,
            Ipld::Float(f) => encode_float(&mut canonical, *f)?,
            _ => return Err(KeyError::Malformed("not a number")),
        }
        let stored = &self.bytes[start..self.pos];
        let same = stored.len() == canonical.len
            && stored
                .iter()
                .zip(canonical.as_slice())
                .all(|(s, c)| s ^ self.mask == *c);
        match same {
            true => Ok(()),
            false => Err(KeyError::Malformed("not the canonical encoding")),
        }
    }

    fn number(&mut self, negative: bool) -> Result<Ipld, KeyError> {
        let mut exponent = u16::from_be_bytes(self.array()?);
        let mask = if negative { 0xFF } else { 0 };
        if negative {
            exponent = !exponent;
        }
        let mut bits = 0u128;
        let mut groups = 0;
        loop {
            let byte = self.byte()? ^ mask;
            if groups == FRACTION_GROUPS {
                return Err(KeyError::Malformed("a fraction of more than 64 bits"));
            }
            bits |= u128::from(byte >> 1) << (7 * (FRACTION_GROUPS - 1 - groups));
            groups += 1;
            if byte & 1 == 0 {
                break;
            }
        }
        // Bits past the 64th make another encoding: the caller's re-encoding check refuses it.
        let below = (bits >> 6) as u64;
        let exponent = exponent as i32 - EXPONENT_BIAS;
        let kind = self.byte()?;
        // Canonical form is enforced by the caller's re-encoding check; here, rebuild the value.
        match kind {
            KIND_INTEGER => {
                if !(0..=64).contains(&exponent) {
                    return Err(KeyError::Malformed("integer exponent out of range"));
                }
                // The leading one, then the top `exponent` bits of `below`.
                let rest = below.checked_shr(64 - exponent as u32).unwrap_or(0);
                let magnitude = (1u128 << exponent) | rest as u128;
                let value = if negative {
                    -(magnitude as i128)
                } else {
                    magnitude as i128
                };
                Ok(Ipld::Integer(value))
            }
            KIND_FLOAT => {
                if !(-1074..=1023).contains(&exponent) {
                    return Err(KeyError::Malformed("float exponent out of range"));
                }
                let bits = if exponent >= -1022 {
                    (((exponent + 1023) as u64) << 52) | (below >> 12)
                } else {
                    let top = (exponent + 1074) as u32; // position of the leading one
                    (1u64 << top) | below.checked_shr(64 - top).unwrap_or(0)
                };
                let f = f64::from_bits(bits);
                Ok(Ipld::Float(if negative { -f } else { f }))
            }
            _ => Err(KeyError::Malformed("bad number kind")),
        }
    }
}

/// The documented order of values: what key bytes must agree with.
pub fn compare_values(a: &Ipld, b: &Ipld) -> Ordering {
    fn rank(v: &Ipld) -> u8 {
        match v {
            Ipld::Null => 0,
            Ipld::Bool(false) => 1,
            Ipld::Bool(true) => 2,
            Ipld::Integer(_) | Ipld::Float(_) => 3,
            Ipld::String(_) => 4,
            Ipld::Bytes(_) => 5,
            Ipld::List(_) => 6,
            Ipld::Map(_) => 7,
            Ipld::Link(_) => 8,
        }
    }
    match (a, b) {
        (Ipld::Integer(x), Ipld::Integer(y)) => x.cmp(y),
        (Ipld::Float(x), Ipld::Float(y)) => compare_floats(*x, *y),
        (Ipld::Integer(x), Ipld::Float(y)) => compare_int_float(*x, *y),
        (Ipld::Float(x), Ipld::Integer(y)) => compare_int_float(*y, *x).reverse(),
        (Ipld::String(x), Ipld::String(y)) => x.as_bytes().cmp(y.as_bytes()),
        (Ipld::Bytes(x), Ipld::Bytes(y)) => x.cmp(y),
        (Ipld::Link(x), Ipld::Link(y)) => x.to_bytes().cmp(&y.to_bytes()),
        (Ipld::List(x), Ipld::List(y)) => compare_lists(x.iter(), y.iter()),
        (Ipld::Map(x), Ipld::Map(y)) => {
            let pairs = |m: &BTreeMap<String, Ipld>| {
                m.iter()
                    .flat_map(|(k, v)| [Ipld::String(k.clone()), v.clone()])
                    .collect::<Vec<_>>()
            };
            compare_lists(pairs(x).iter(), pairs(y).iter())
        }
        _ => rank(a).cmp(&rank(b)),
    }
}

fn compare_lists<'a>(
    mut x: impl Iterator<Item = &'a Ipld>,
    mut y: impl Iterator<Item = &'a Ipld>,
) -> Ordering {
    loop {
        match (x.next(), y.next()) {
            (None, None) => return Ordering::Equal,
            (None, Some(_)) => return Ordering::Less,
            (Some(_), None) => return Ordering::Greater,
            (Some(a), Some(b)) => match compare_values(a, b) {
                Ordering::Equal => continue,
                other => return other,
            },
        }
    }
}

/// Finite floats by value; `-0.0` before `0.0`.
fn compare_floats(x: f64, y: f64) -> Ordering {
    match x.partial_cmp(&y).unwrap_or(Ordering::Equal) {
        Ordering::Equal => x.is_sign_positive().cmp(&y.is_sign_positive()),
        other => other,
    }
}

/// An integer against a finite float, exactly; on equal value the integer is first.
fn compare_int_float(i: i128, f: f64) -> Ordering {
    const LIMIT: f64 = 73_786_976_294_838_206_464.0; // 2^66: beyond every DAG-CBOR integer
    if f >= LIMIT {
        return Ordering::Less;
    }
    if f <= -LIMIT {
        return Ordering::Greater;
    }
    let whole = f.trunc();
    match i.cmp(&(whole as i128)) {
        Ordering::Equal => match (f - whole).partial_cmp(&0.0).unwrap_or(Ordering::Equal) {
            Ordering::Greater => Ordering::Less,
            Ordering::Less => Ordering::Greater,
            // Equal value (0 against -0.0 and 0.0 included): the integer first.
            Ordering::Equal => Ordering::Less,
        },
        other => other,
    }
}

/// Appends the marker of an absent field.
pub fn encode_missing(out: &mut Vec<u8>, order: Order) {
    out.push(match order {
        Order::Ascending => MISSING,
        Order::Descending => !MISSING,
    });
}

/// The length of the first element of `bytes` (a value or the missing marker).
pub fn element_len(bytes: &[u8], order: Order) -> Result<usize, KeyError> {
    let mask = if order == Order::Descending { 0xFF } else { 0 };
    if bytes.first().map(|b| b ^ mask) == Some(MISSING) {
        return Ok(1);
    }
    let mut decoder = Decoder {
        mask,
        ..Decoder::new(bytes)
    };
    decoder.skip(0)?;
    Ok(decoder.pos)
}

/// Every value numerically equal to `value`, in key order: `1` and `1.0`, or the three zeros. For
/// anything but a number, the value itself. `$eq` and `$in` scan all of them.
pub fn numeric_equals(value: &Ipld) -> Vec<Ipld> {
    const TWO_POW_64: f64 = 18_446_744_073_709_551_616.0;
    let zeros = || vec![Ipld::Integer(0), Ipld::Float(-0.0), Ipld::Float(0.0)];
    match value {
        Ipld::Integer(0) => zeros(),
        Ipld::Float(f) if *f == 0.0 => zeros(),
        Ipld::Integer(i) => {
            let f = *i as f64;
            // Exactly representable, and not rounded up to 2^64 (which no integer equals).
            if f.abs() < TWO_POW_64 && f as i128 == *i || f == -TWO_POW_64 && *i == INT_MIN {
                vec![Ipld::Integer(*i), Ipld::Float(f)]
            } else {
                vec![Ipld::Integer(*i)]
            }
        }
        Ipld::Float(f) if f.fract() == 0.0 && (-TWO_POW_64..TWO_POW_64).contains(f) => {
            vec![Ipld::Integer(*f as i128), Ipld::Float(*f)]
        }
        other => vec![other.clone()],
    }
}

/// The kinds of value that range operators compare with each other: `$gt: 5` matches numbers
/// only, `$lt: "m"` strings only (type bracketing, as in MongoDB).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Class {
    Null,
    Bool,
    Number,
    String,
    Bytes,
    List,
    Map,
    Link,
}

impl Class {
    pub fn of(value: &Ipld) -> Class {
        match value {
            Ipld::Null => Class::Null,
            Ipld::Bool(_) => Class::Bool,
            Ipld::Integer(_) | Ipld::Float(_) => Class::Number,
            Ipld::String(_) => Class::String,
            Ipld::Bytes(_) => Class::Bytes,
            Ipld::List(_) => Class::List,
            Ipld::Map(_) => Class::Map,
            Ipld::Link(_) => Class::Link,
        }
    }

    /// Ascending keys of this class are those in `[first, end)`: a single-byte range of tags.
    pub fn tag_range(self) -> (u8, u8) {
        match self {
            Class::Null => (NULL, FALSE),
            Class::Bool => (FALSE, TRUE + 1),
            Class::Number => (NEGATIVE, POSITIVE + 1),
            Class::String => (STRING, BYTES),
            Class::Bytes => (BYTES, BYTES + 1),
            Class::List => (LIST, MAP),
            Class::Map => (MAP, MAP + 1),
            Class::Link => (LINK, LINK + 1),
        }
    }
}

/// The ascending encoding of a string prefix: every string that starts with `prefix` encodes to
/// bytes that start with these.
pub fn string_prefix(prefix: &str) -> Vec<u8> {
    let mut out = Vec::with_capacity(prefix.len() + 1);
    escaped(&mut out, STRING, prefix.as_bytes());
    out.truncate(out.len() - 2);
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn value() -> impl Strategy<Value = Ipld> {
        let leaf = prop_oneof![
            Just(Ipld::Null),
            any::<bool>().prop_map(Ipld::Bool),
            any::<i64>().prop_map(|i| Ipld::Integer(i.into())),
            any::<f64>()
                .prop_filter("finite", |f| f.is_finite())
                .prop_map(Ipld::Float),
            "[a\u{0}é]{0,5}".prop_map(Ipld::String),
            prop::collection::vec(prop::sample::select(vec![0u8, 1, 0xFF]), 0..5)
                .prop_map(Ipld::Bytes),
        ];
        leaf.prop_recursive(3, 16, 4, |inner| {
            prop_oneof![
                prop::collection::vec(inner.clone(), 0..4).prop_map(Ipld::List),
                prop::collection::btree_map("[a\u{0}]{0,3}", inner, 0..4).prop_map(Ipld::Map),
            ]
        })
    }

    proptest! {
        /// A one-element key decodes to its value, and only its exact bytes do: with a byte
        /// more or a byte less it is refused (a document key is its collection's prefix and
        /// exactly `E(_id)`).
        #[test]
        fn one_element_keys_decode_exactly(v in value(), descending in any::<bool>(), extra in any::<u8>()) {
            let order = if descending { Order::Descending } else { Order::Ascending };
            let mut bytes = Vec::new();
            encode_value(&mut bytes, &v, order).unwrap();
            prop_assert_eq!(decode_one(&bytes, order).unwrap(), v.clone());
            prop_assert_eq!(decode_key(&bytes, &[order]).unwrap(), vec![v]);
            let mut longer = bytes.clone();
            longer.push(extra);
            prop_assert!(decode_one(&longer, order).is_err());
            prop_assert!(decode_one(&bytes[..bytes.len() - 1], order).is_err());
        }
    }

    /// The other bytes that decode to a value, which random edits rarely make: map keys out of
    /// order or repeated, a CID whose varints are longer than they need be or with bytes after it.
    #[test]
    fn second_encodings_of_maps_and_cids_are_refused() {
        let entry = |key: u8| [STRING, key, END, END, NULL];
        let map = |keys: &[u8]| {
            let mut bytes = vec![MAP];
            keys.iter().for_each(|k| bytes.extend(entry(*k)));
            bytes.push(END);
            bytes
        };
        assert!(decode_one(&map(b"ab"), Order::Ascending).is_ok());
        for keys in [&b"ba"[..], b"aa"] {
            assert_eq!(
                decode_one(&map(keys), Order::Ascending),
                Err(KeyError::Malformed("not the canonical encoding")),
                "{keys:?}"
            );
        }
        use multihash_codetable::MultihashDigest;
        let cid = Cid::new_v1(0x71, multihash_codetable::Code::Blake2b256.digest(b"x"));
        let mut long = vec![0x81, 0x00]; // version 1 in two bytes
        long.extend_from_slice(&cid.to_bytes()[1..]);
        let link = |cid: &[u8]| {
            let mut bytes = Vec::new();
            escaped(&mut bytes, LINK, cid);
            bytes
        };
        assert_eq!(
            decode_one(&link(&cid.to_bytes()), Order::Ascending),
            Ok(Ipld::Link(cid))
        );
        let mut trailing = cid.to_bytes();
        trailing.push(0);
        for other in [long, trailing] {
            assert!(
                decode_one(&link(&other), Order::Ascending).is_err(),
                "{other:?}"
            );
        }
    }

    /// Edits an encoding: a few bytes flipped, replaced, inserted or removed.
    fn edits() -> impl Strategy<Value = Vec<(prop::sample::Index, u8, u8)>> {
        let byte = prop_oneof![Just(0u8), Just(1), Just(0xFF), any::<u8>()];
        prop::collection::vec((any::<prop::sample::Index>(), byte, 0..4u8), 0..3)
    }

    fn edited(mut bytes: Vec<u8>, edits: Vec<(prop::sample::Index, u8, u8)>) -> Vec<u8> {
        for (at, byte, kind) in edits {
            let i = at.index(bytes.len() + 1);
            match kind {
                0 if i < bytes.len() => bytes[i] ^= 1 << (byte % 8),
                1 if i < bytes.len() => bytes[i] = byte,
                2 => bytes.insert(i, byte),
                _ if i < bytes.len() => {
                    bytes.remove(i);
                }
                _ => {}
            }
        }
        bytes
    }

    fn order(descending: bool) -> Order {
        if descending {
            Order::Descending
        } else {
            Order::Ascending
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(2000))]
        /// Stepping over a value accepts exactly what decoding it accepts, and ends where it ends.
        #[test]
        fn skipping_agrees_with_decoding(v in value(), descending in any::<bool>(), edits in edits()) {
            let mut bytes = Vec::new();
            encode_value(&mut bytes, &v, order(descending)).unwrap();
            let bytes = edited(bytes, edits);
            let mask = if descending { 0xFF } else { 0 };
            let mut decoding = Decoder::new(&bytes);
            decoding.mask = mask;
            let mut skipping = Decoder::new(&bytes);
            skipping.mask = mask;
            let decoded = decoding.value(0).map(|_| decoding.pos);
            let skipped = skipping.skip(0).map(|_| skipping.pos);
            prop_assert_eq!(decoded.is_ok(), skipped.is_ok(), "{:?}: {:?} vs {:?}", bytes, decoded, skipped);
            if let (Ok(a), Ok(b)) = (decoded, skipped) {
                prop_assert_eq!(a, b);
            }
        }

        /// Decoding accepts a value's one encoding and nothing else, though it re-encodes only
        /// the values that other bytes can decode to (numbers, maps, CIDs).
        #[test]
        fn only_the_one_encoding_decodes(v in value(), descending in any::<bool>(), edits in edits()) {
            let order = order(descending);
            let mut bytes = Vec::new();
            encode_value(&mut bytes, &v, order).unwrap();
            let bytes = edited(bytes, edits);
            if let Ok(decoded) = decode_one(&bytes, order) {
                let mut again = Vec::new();
                encode_value(&mut again, &decoded, order).unwrap();
                prop_assert_eq!(again, bytes, "{:?}", decoded);
            }
        }

        /// Transcoding a one-element key writes exactly what decoding it and encoding the value
        /// as DAG-CBOR writes, and fails exactly where decoding fails, leaving `out` as it was.
        #[test]
        fn transcoding_agrees_with_decoding(v in value(), descending in any::<bool>(), edits in edits()) {
            let order = order(descending);
            let mut bytes = Vec::new();
            encode_value(&mut bytes, &v, order).unwrap();
            for bytes in [bytes.clone(), edited(bytes, edits)] {
                let mut out = vec![0xAA];
                let transcoded = transcode_one(&bytes, order, &mut out);
                match decode_one(&bytes, order) {
                    Ok(decoded) => {
                        prop_assert!(transcoded.is_ok());
                        let mut expected = vec![0xAA];
                        encode_ipld_into(&mut expected, &decoded).unwrap();
                        prop_assert_eq!(out, expected);
                    }
                    Err(_) => {
                        prop_assert!(transcoded.is_err());
                        prop_assert_eq!(out, vec![0xAA]);
                    }
                }
            }
        }
    }
}
