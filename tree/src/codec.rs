//! Strict DAG-CBOR, by hand, for the node format: heads, CIDs, and a validator that finds where
//! one value ends.
//!
//! Nodes are decoded without copying: keys and values stay slices of the block they came in.
//! Values are kept as their exact encoded bytes. DAG-CBOR is canonical (one encoding per value,
//! which this decoder enforces), so equal values have equal bytes and nodes re-encode exactly.

use bytes::Bytes;
use cid::Cid;
use fvm_ipld_encoding::DAG_CBOR;
use ipld_core::ipld::Ipld;

use crate::error::{DecodeError, EncodeError};
use crate::value::Scalar;

/// Nesting deeper than this is refused, so that decoding stays bounded.
pub const MAX_DEPTH: usize = 64;

pub const MAJOR_UINT: u8 = 0;
pub const MAJOR_NINT: u8 = 1;
pub const MAJOR_BYTES: u8 = 2;
pub const MAJOR_TEXT: u8 = 3;
pub const MAJOR_ARRAY: u8 = 4;
pub const MAJOR_MAP: u8 = 5;
pub const MAJOR_TAG: u8 = 6;
pub const MAJOR_SIMPLE: u8 = 7;
const TAG_CID: u64 = 42;

/// Where the writers put what they write: a buffer, or [`Expect`], which checks that the bytes
/// are ones already written. A verifier compares a value with its claimed encoding so, without
/// writing it out (encoding a 1,000-document result to compare was 15% of verifying its proof).
pub trait Sink {
    fn put(&mut self, bytes: &[u8]);

    fn put_byte(&mut self, byte: u8) {
        self.put(&[byte]);
    }
}

impl Sink for Vec<u8> {
    #[inline]
    fn put(&mut self, bytes: &[u8]) {
        self.extend_from_slice(bytes);
    }

    #[inline]
    fn put_byte(&mut self, byte: u8) {
        self.push(byte);
    }
}

/// A [`Sink`] that compares: what is written must be `expected`, from its start, in order.
pub struct Expect<'a> {
    rest: &'a [u8],
    same: bool,
}

impl<'a> Expect<'a> {
    pub fn new(expected: &'a [u8]) -> Self {
        Expect {
            rest: expected,
            same: true,
        }
    }

    /// Whether what was written is exactly `expected`: all of it, and nothing else.
    pub fn matched(&self) -> bool {
        self.same && self.rest.is_empty()
    }
}

impl Sink for Expect<'_> {
    #[inline]
    fn put(&mut self, bytes: &[u8]) {
        let same = match self.rest.get(..bytes.len()) {
            // Heads and keys are a few bytes: compared in line, not by a call to memcmp (which
            // made comparing slower than writing).
            Some(next) if bytes.len() <= 16 => next.iter().zip(bytes).all(|(a, b)| a == b),
            Some(next) => next == bytes,
            None => false,
        };
        self.advance(same, bytes.len());
    }

    #[inline]
    fn put_byte(&mut self, byte: u8) {
        let same = self.rest.first() == Some(&byte);
        self.advance(same, 1);
    }
}

impl Expect<'_> {
    #[inline]
    fn advance(&mut self, same: bool, len: usize) {
        if same {
            self.rest = &self.rest[len..];
        } else {
            // Nothing is left to compare with: the rest of what is written differs too.
            self.same = false;
            self.rest = &[];
        }
    }
}

/// Appends a CBOR head in its shortest form.
pub fn write_head(out: &mut impl Sink, major: u8, arg: u64) {
    let m = major << 5;
    match arg {
        0..=23 => out.put_byte(m | arg as u8),
        24..=0xff => out.put(&[m | 24, arg as u8]),
        0x100..=0xffff => {
            out.put_byte(m | 25);
            out.put(&(arg as u16).to_be_bytes());
        }
        0x1_0000..=0xffff_ffff => {
            out.put_byte(m | 26);
            out.put(&(arg as u32).to_be_bytes());
        }
        _ => {
            out.put_byte(m | 27);
            out.put(&arg.to_be_bytes());
        }
    }
}

pub fn write_bytes(out: &mut impl Sink, data: &[u8]) {
    write_head(out, MAJOR_BYTES, data.len() as u64);
    out.put(data);
}

/// A CID: tag 42 around a byte string holding 0x00 (the multibase identity prefix) and the CID.
pub fn write_cid(out: &mut impl Sink, cid: &Cid) {
    // A node's CID (every link a node holds) from a fixed head and its digest, without the
    // generic varint writer: that was 8% of a single insert's instructions, and up to 1% of its
    // gas.
    if cid.version() == cid::Version::V1
        && cid.codec() == DAG_CBOR
        && cid.hash().code() == BLAKE2B_256
        && cid.hash().size() == 32
    {
        let mut bytes = [0u8; NODE_CID_HEAD.len() + 32];
        bytes[..NODE_CID_HEAD.len()].copy_from_slice(&NODE_CID_HEAD);
        bytes[NODE_CID_HEAD.len()..].copy_from_slice(cid.hash().digest());
        return out.put(&bytes);
    }
    out.put(&[0xd8, 0x2a]);
    let len = cid.encoded_len();
    write_head(out, MAJOR_BYTES, len as u64 + 1);
    out.put_byte(0);
    // Written whole, not piece by piece through an `io::Write` over the sink (which cost the
    // actor 0.2% more gas on every write): a CID is at most a version, a codec, a hash code and
    // length (varints of up to 10 bytes each) and a 64-byte digest.
    let mut bytes = [0u8; 100];
    let written = cid
        .write_bytes(&mut bytes[..])
        .expect("a CID fits in 100 bytes");
    out.put(&bytes[..written]);
}

/// Appends one IPLD value as canonical DAG-CBOR: shortest heads, 64-bit floats, map keys sorted by
/// length then bytes. Refuses what DAG-CBOR cannot hold (NaN, infinities, integers beyond 64 bits,
/// nesting deeper than [`MAX_DEPTH`]).
pub fn write_ipld(out: &mut impl Sink, value: &Ipld, depth: usize) -> Result<(), EncodeError> {
    if depth > MAX_DEPTH {
        return Err(EncodeError::TooDeep);
    }
    match value {
        Ipld::Null => write_scalar(out, Scalar::Null)?,
        Ipld::Bool(b) => write_scalar(out, Scalar::Bool(*b))?,
        Ipld::Integer(i) => write_integer(out, *i)?,
        Ipld::Float(f) => write_scalar(out, Scalar::Float(*f))?,
        Ipld::String(s) => write_text(out, s),
        Ipld::Bytes(b) => write_bytes(out, b),
        Ipld::List(items) => {
            write_head(out, MAJOR_ARRAY, items.len() as u64);
            for item in items {
                write_ipld(out, item, depth + 1)?;
            }
        }
        Ipld::Map(map) => write_map(out, map, depth)?,
        Ipld::Link(cid) => write_cid(out, cid),
    }
    Ok(())
}

fn write_integer(out: &mut impl Sink, i: i128) -> Result<(), EncodeError> {
    if i >= 0 {
        let n = u64::try_from(i).map_err(|_| EncodeError::IntegerOutOfRange)?;
        write_head(out, MAJOR_UINT, n);
    } else {
        let n = u64::try_from(-1 - i).map_err(|_| EncodeError::IntegerOutOfRange)?;
        write_head(out, MAJOR_NINT, n);
    }
    Ok(())
}

/// Appends a scalar, as [`write_ipld`] writes the same value.
pub fn write_scalar(out: &mut impl Sink, value: Scalar<'_>) -> Result<(), EncodeError> {
    match value {
        Scalar::Null => out.put_byte(0xf6),
        Scalar::Bool(b) => out.put_byte(if b { 0xf5 } else { 0xf4 }),
        Scalar::Integer(i) => write_integer(out, i.into())?,
        Scalar::Float(f) => {
            if !f.is_finite() {
                return Err(EncodeError::NonFiniteFloat);
            }
            out.put_byte(0xfb);
            out.put(&f.to_bits().to_be_bytes());
        }
        Scalar::Text(s) => write_text(out, s),
    }
    Ok(())
}

/// Appends a map of IPLD values, keys in DAG-CBOR order.
pub fn write_map(
    out: &mut impl Sink,
    map: &std::collections::BTreeMap<String, Ipld>,
    depth: usize,
) -> Result<(), EncodeError> {
    write_map_without(out, map, None, depth)
}

/// `write_map` of the map without the entry `skip` (if it has one), as if it had been removed.
pub fn write_map_without(
    out: &mut impl Sink,
    map: &std::collections::BTreeMap<String, Ipld>,
    skip: Option<&str>,
    depth: usize,
) -> Result<(), EncodeError> {
    let skipped = skip.is_some_and(|key| map.contains_key(key));
    write_head(out, MAJOR_MAP, (map.len() - usize::from(skipped)) as u64);
    let mut kept = map.iter().filter(|(key, _)| Some(key.as_str()) != skip);
    // The map iterates bytewise; a stable sort by length gives DAG-CBOR's order. A small map is
    // sorted on the stack, without a first pass to check whether it needs it: that, and a vector
    // to sort each document's fields in, took 2.6% more instructions to verify a 1,000-document
    // range.
    const SMALL: usize = 16;
    let mut write = |entries: &mut [(&str, &Ipld)]| {
        entries.sort_by_key(|(key, _)| key.len());
        for (key, value) in entries.iter() {
            write_text(out, key);
            write_ipld(out, value, depth + 1)?;
        }
        Ok(())
    };
    if map.len() <= SMALL {
        let mut entries: [(&str, &Ipld); SMALL] = [("", &Ipld::Null); SMALL];
        let mut len = 0;
        for (slot, (key, value)) in entries.iter_mut().zip(&mut kept) {
            *slot = (key, value);
            len += 1;
        }
        return write(&mut entries[..len]);
    }
    write(
        &mut kept
            .map(|(key, value)| (key.as_str(), value))
            .collect::<Vec<_>>(),
    )
}

/// Appends one IPLD value as canonical DAG-CBOR to `out` (see [`write_ipld`]).
pub fn encode_ipld_into(out: &mut impl Sink, value: &Ipld) -> Result<(), EncodeError> {
    write_ipld(out, value, 0)
}

pub fn write_text(out: &mut impl Sink, text: &str) {
    write_head(out, MAJOR_TEXT, text.len() as u64);
    out.put(text.as_bytes());
}

/// A cursor over one block.
pub struct Decoder {
    buf: Bytes,
    pos: usize,
}

pub type DecodeResult<T> = Result<T, DecodeError>;

impl Decoder {
    pub fn new(buf: Bytes) -> Self {
        Decoder { buf, pos: 0 }
    }

    pub fn at_end(&self) -> bool {
        self.pos == self.buf.len()
    }

    /// Where the next read starts, in the buffer.
    pub(crate) fn position(&self) -> usize {
        self.pos
    }

    fn byte(&mut self) -> DecodeResult<u8> {
        let b = *self.buf.get(self.pos).ok_or(DecodeError::UnexpectedEnd)?;
        self.pos += 1;
        Ok(b)
    }

    fn take(&mut self, n: u64) -> DecodeResult<std::ops::Range<usize>> {
        let n = usize::try_from(n).map_err(|_| DecodeError::LengthOutOfRange)?;
        let end = self
            .pos
            .checked_add(n)
            .filter(|&e| e <= self.buf.len())
            .ok_or(DecodeError::UnexpectedEnd)?;
        let range = self.pos..end;
        self.pos = end;
        Ok(range)
    }

    /// A head's argument after its first byte, which must be in shortest form.
    fn argument(&mut self, info: u8) -> DecodeResult<u64> {
        let (len, min) = match info {
            0..=23 => return Ok(info as u64),
            24 => (1, 24),
            25 => (2, 0x100),
            26 => (4, 0x1_0000),
            27 => (8, 0x1_0000_0000),
            _ => return Err(DecodeError::Indefinite),
        };
        let range = self.take(len)?;
        let arg = self.buf[range]
            .iter()
            .fold(0u64, |acc, b| (acc << 8) | *b as u64);
        if arg < min {
            return Err(DecodeError::NotShortest);
        }
        Ok(arg)
    }

    /// Reads a head and returns (major type, argument). Simple values and floats are major 7.
    pub fn head(&mut self) -> DecodeResult<(u8, u64)> {
        let b = self.byte()?;
        let (major, info) = (b >> 5, b & 31);
        if major == MAJOR_SIMPLE {
            return Err(DecodeError::Expected(
                "an integer, string, list, map or tag, not a simple value",
            ));
        }
        Ok((major, self.argument(info)?))
    }

    pub fn expect(&mut self, major: u8, what: &'static str) -> DecodeResult<u64> {
        match self.head()? {
            (m, arg) if m == major => Ok(arg),
            _ => Err(DecodeError::Expected(what)),
        }
    }

    pub fn uint(&mut self) -> DecodeResult<u64> {
        self.expect(MAJOR_UINT, "an unsigned integer")
    }

    /// Steps over a `null` if one is next.
    pub(crate) fn null(&mut self) -> bool {
        let null = self.buf.get(self.pos) == Some(&0xf6);
        self.pos += usize::from(null);
        null
    }

    /// A byte string, as its range in the block.
    pub(crate) fn byte_range(&mut self) -> DecodeResult<std::ops::Range<usize>> {
        let len = self.expect(MAJOR_BYTES, "a byte string")?;
        self.take(len)
    }

    /// The block being read.
    pub(crate) fn block(&self) -> &Bytes {
        &self.buf
    }

    pub fn cid(&mut self) -> DecodeResult<Cid> {
        let tag = self.expect(MAJOR_TAG, "a CID (tag 42)")?;
        if tag != TAG_CID {
            return Err(DecodeError::Tag(tag));
        }
        let len = self.expect(MAJOR_BYTES, "CID bytes")?;
        let range = self.take(len)?;
        parse_cid(&self.buf[range])
    }

    /// Validates one DAG-CBOR value and returns it as a slice of the block.
    pub fn value(&mut self) -> DecodeResult<Bytes> {
        let start = self.pos;
        self.skip_value(0)?;
        Ok(self.buf.slice(start..self.pos))
    }

    /// Steps over one value of bytes already validated (a [`crate::RawValue`]'s): heads and
    /// lengths only; returns its range in the buffer. Splicing `_id` into a 1,000-document
    /// range's bodies spent a third of its time re-validating them.
    pub(crate) fn skip_validated(&mut self) -> DecodeResult<std::ops::Range<usize>> {
        let start = self.pos;
        let mut pending = 1u64;
        while pending > 0 {
            pending -= 1;
            let b = self.byte()?;
            let (major, info) = (b >> 5, b & 31);
            if major == MAJOR_SIMPLE {
                if info == 27 {
                    self.take(8)?;
                }
                continue;
            }
            let arg = self.argument(info)?;
            pending = pending.saturating_add(match major {
                MAJOR_BYTES | MAJOR_TEXT => {
                    self.take(arg)?;
                    0
                }
                MAJOR_ARRAY => arg,
                MAJOR_MAP => arg.saturating_mul(2),
                MAJOR_TAG => 1,
                _ => 0,
            });
        }
        Ok(start..self.pos)
    }

    /// A map key of bytes already validated, as its range in the buffer.
    pub(crate) fn validated_key(&mut self) -> DecodeResult<std::ops::Range<usize>> {
        let len = self.expect(MAJOR_TEXT, "a string map key")?;
        self.take(len)
    }

    fn skip_value(&mut self, depth: usize) -> DecodeResult<()> {
        if depth > MAX_DEPTH {
            return Err(DecodeError::TooDeep);
        }
        let b = self.byte()?;
        let (major, info) = (b >> 5, b & 31);
        if major == MAJOR_SIMPLE {
            return self.simple(info).map(drop);
        }
        let arg = self.argument(info)?;
        match major {
            MAJOR_UINT | MAJOR_NINT => Ok(()),
            MAJOR_BYTES => self.take(arg).map(drop),
            MAJOR_TEXT => {
                let range = self.take(arg)?;
                std::str::from_utf8(&self.buf[range])
                    .map(drop)
                    .map_err(|_| DecodeError::InvalidUtf8)
            }
            MAJOR_ARRAY => (0..arg).try_for_each(|_| self.skip_value(depth + 1)),
            MAJOR_MAP => {
                let mut previous = None;
                for _ in 0..arg {
                    self.map_key(&mut previous)?;
                    self.skip_value(depth + 1)?;
                }
                Ok(())
            }
            _ => self.tagged_cid(arg).map(drop),
        }
    }

    /// A simple value or float (major type 7) after its first byte.
    fn simple(&mut self, info: u8) -> DecodeResult<Ipld> {
        match info {
            20 => Ok(Ipld::Bool(false)),
            21 => Ok(Ipld::Bool(true)),
            22 => Ok(Ipld::Null),
            27 => {
                let range = self.take(8)?;
                let bits = u64::from_be_bytes(self.buf[range].try_into().expect("8 bytes"));
                let float = f64::from_bits(bits);
                if float.is_finite() {
                    Ok(Ipld::Float(float))
                } else {
                    Err(DecodeError::NonFiniteFloat)
                }
            }
            25 | 26 => Err(DecodeError::ShortFloat),
            _ => Err(DecodeError::SimpleValue(info)),
        }
    }

    /// A map key: a valid UTF-8 string after `previous` in canonical order (shorter keys first,
    /// then bytewise; no duplicates). Returns its range in the buffer and moves `previous` to it.
    fn map_key(
        &mut self,
        previous: &mut Option<std::ops::Range<usize>>,
    ) -> DecodeResult<std::ops::Range<usize>> {
        let len = self.expect(MAJOR_TEXT, "a string map key")?;
        let key = self.take(len)?;
        std::str::from_utf8(&self.buf[key.clone()]).map_err(|_| DecodeError::InvalidUtf8)?;
        if let Some(prev) = previous.take() {
            let (a, b) = (&self.buf[prev], &self.buf[key.clone()]);
            if (a.len(), a) >= (b.len(), b) {
                return Err(DecodeError::MapKeyOrder);
            }
        }
        *previous = Some(key.clone());
        Ok(key)
    }

    /// The content of a tag with argument `tag`: DAG-CBOR allows only 42, a CID.
    fn tagged_cid(&mut self, tag: u64) -> DecodeResult<Cid> {
        if tag != TAG_CID {
            return Err(DecodeError::Tag(tag));
        }
        let len = self.expect(MAJOR_BYTES, "CID bytes")?;
        let range = self.take(len)?;
        parse_cid(&self.buf[range])
    }
}

impl Decoder {
    /// Decodes one value into IPLD, with exactly the checks of `skip_value` (the two must accept
    /// the same bytes; a proptest holds them to serde_ipld_dagcbor's decoding).
    pub fn ipld(&mut self) -> DecodeResult<Ipld> {
        self.read_value(0)
    }

    fn text(&mut self, len: u64) -> DecodeResult<String> {
        let range = self.take(len)?;
        std::str::from_utf8(&self.buf[range])
            .map(str::to_owned)
            .map_err(|_| DecodeError::InvalidUtf8)
    }

    fn read_value(&mut self, depth: usize) -> DecodeResult<Ipld> {
        if depth > MAX_DEPTH {
            return Err(DecodeError::TooDeep);
        }
        let b = self.byte()?;
        let (major, info) = (b >> 5, b & 31);
        if major == MAJOR_SIMPLE {
            return self.simple(info);
        }
        let arg = self.argument(info)?;
        match major {
            MAJOR_UINT => Ok(Ipld::Integer(arg as i128)),
            MAJOR_NINT => Ok(Ipld::Integer(-1 - arg as i128)),
            MAJOR_BYTES => {
                let range = self.take(arg)?;
                Ok(Ipld::Bytes(self.buf[range].to_vec()))
            }
            MAJOR_TEXT => self.text(arg).map(Ipld::String),
            MAJOR_ARRAY => {
                // Every element takes at least a byte: no allocation beyond what the input backs.
                let mut list = Vec::with_capacity((arg as usize).min(self.buf.len() - self.pos));
                for _ in 0..arg {
                    list.push(self.read_value(depth + 1)?);
                }
                Ok(Ipld::List(list))
            }
            MAJOR_MAP => {
                let mut map = std::collections::BTreeMap::new();
                let mut previous = None;
                for _ in 0..arg {
                    let key = self.map_key(&mut previous)?;
                    // `map_key` checked the UTF-8.
                    let key = String::from_utf8_lossy(&self.buf[key]).into_owned();
                    map.insert(key, self.read_value(depth + 1)?);
                }
                Ok(Ipld::Map(map))
            }
            _ => self.tagged_cid(arg).map(Ipld::Link),
        }
    }
}

/// Decodes exactly one strict DAG-CBOR value (shortest heads, definite lengths, canonical map
/// order, 64-bit finite floats, tag 42 only, nothing after it) into IPLD. Hand-written because
/// the generic serde path costs several times more, which the actor pays in gas for every batch
/// (a single insert: 8.5M gas with serde, 6.7M with this).
pub fn decode_ipld(bytes: &[u8]) -> DecodeResult<Ipld> {
    decode_ipld_bytes(Bytes::copy_from_slice(bytes))
}

/// [`decode_ipld`] of bytes already in a [`Bytes`], without copying them first (a copy per
/// document was a twentieth of decoding a proof's 32 covered results).
pub fn decode_ipld_bytes(bytes: Bytes) -> DecodeResult<Ipld> {
    let mut decoder = Decoder::new(bytes);
    let value = decoder.ipld()?;
    if !decoder.at_end() {
        return Err(DecodeError::TrailingBytes);
    }
    Ok(value)
}

/// The multihash code of blake2b-256, every node's hash.
const BLAKE2B_256: u64 = 0xb220;

/// The first bytes of a node's binary CID: CIDv1, DAG-CBOR, blake2b-256, 32-byte digest.
const NODE_CID_PREFIX: [u8; 6] = [0x01, 0x71, 0xa0, 0xe4, 0x02, 0x20];
const NODE_CID_LEN: usize = 38;

/// A node's CID in DAG-CBOR up to its digest: tag 42, a byte string of the CID and its multibase
/// identity prefix (0x00), then [`NODE_CID_PREFIX`].
const NODE_CID_HEAD: [u8; 11] = {
    let mut head = [
        0xd8,
        0x2a,
        (MAJOR_BYTES << 5) | 24,
        NODE_CID_LEN as u8 + 1,
        0x00,
        0,
        0,
        0,
        0,
        0,
        0,
    ];
    let mut i = 0;
    while i < NODE_CID_PREFIX.len() {
        head[5 + i] = NODE_CID_PREFIX[i];
        i += 1;
    }
    head
};

/// The binary CID of a node at the start of `bytes`, and the bytes after it; `None` for any
/// other CID. Read without the generic varint parser, as [`Decoder::cid`] reads a node's links:
/// a proof's CAR holds one per block.
pub fn split_node_cid(bytes: &[u8]) -> Option<(Cid, &[u8])> {
    let (cid, rest) = bytes.split_at_checked(NODE_CID_LEN)?;
    let digest = cid.strip_prefix(&NODE_CID_PREFIX)?;
    let digest = cid::multihash::Multihash::<64>::wrap(BLAKE2B_256, digest).ok()?;
    Some((Cid::new_v1(DAG_CBOR, digest), rest))
}

fn parse_cid(bytes: &[u8]) -> DecodeResult<Cid> {
    let Some((0, cid_bytes)) = bytes.split_first() else {
        return Err(DecodeError::CidPrefix);
    };
    // The CIDs of our own nodes without the generic varint parser: an internal node holds one per
    // child, and reads decode many nodes. Written out here rather than through `split_node_cid`,
    // which cost the actor 0.3-1.4% more gas per query and 0.1-0.4% per write (gas-bench).
    if cid_bytes.len() == NODE_CID_LEN && cid_bytes[..6] == NODE_CID_PREFIX {
        let digest = cid::multihash::Multihash::<64>::wrap(BLAKE2B_256, &cid_bytes[6..])
            .map_err(|e| DecodeError::Cid(e.to_string()))?;
        return Ok(Cid::new_v1(DAG_CBOR, digest));
    }
    let mut reader = cid_bytes;
    let cid = Cid::read_bytes(&mut reader).map_err(|e| DecodeError::Cid(e.to_string()))?;
    if !reader.is_empty() {
        return Err(DecodeError::CidTrailingBytes);
    }
    // The CID parser takes varints that are not in their shortest form (found by fuzzing): such
    // bytes would be a second encoding of the same CID, so of the same value.
    if cid.to_bytes() != cid_bytes {
        return Err(DecodeError::Cid(
            "varints not in their shortest form".into(),
        ));
    }
    Ok(cid)
}
