//! `RawValue`: a leaf value kept as its exact, validated DAG-CBOR bytes.

use std::fmt;

use bytes::Bytes;
use ipld_core::ipld::Ipld;
use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::codec::Decoder;
use crate::error::{DecodeError, EncodeError};
use crate::error::{InvalidInput, Result};

/// A value with nothing inside it, as a table's cell holds: what [`RawValue::scalar_map`]
/// writes.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Scalar<'a> {
    Null,
    Bool(bool),
    Integer(i64),
    Float(f64),
    Text(&'a str),
}

impl Scalar<'_> {
    pub fn to_ipld(self) -> Ipld {
        match self {
            Scalar::Null => Ipld::Null,
            Scalar::Bool(b) => Ipld::Bool(b),
            Scalar::Integer(i) => Ipld::Integer(i.into()),
            Scalar::Float(f) => Ipld::Float(f),
            Scalar::Text(s) => Ipld::String(s.to_string()),
        }
    }
}

/// One DAG-CBOR value, validated. Cheap to clone (it shares the block it was read from). Equal
/// values have equal bytes, because DAG-CBOR is canonical and the validator enforces it.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct RawValue(Bytes);

impl RawValue {
    /// Encodes a value. Fails on what DAG-CBOR cannot hold: integers beyond 64 bits, NaN and
    /// infinite floats, nesting deeper than 64.
    pub fn from_ipld(value: &Ipld) -> Result<Self> {
        Ok(Self::encode_ipld(value).map_err(InvalidInput::Encode)?)
    }

    pub(crate) fn encode_ipld(value: &Ipld) -> std::result::Result<Self, EncodeError> {
        let mut out = Vec::new();
        crate::codec::write_ipld(&mut out, value, 0)?;
        Ok(RawValue(Bytes::from(out)))
    }

    /// Encodes a map (a document body, say) without building an `Ipld` around it.
    pub fn from_map(map: &std::collections::BTreeMap<String, Ipld>) -> Result<Self> {
        let mut out = Vec::new();
        crate::codec::write_map(&mut out, map, 0).map_err(InvalidInput::Encode)?;
        Ok(RawValue(Bytes::from(out)))
    }

    /// Encodes a map without its entry `skip`, without copying the map to remove it.
    pub fn from_map_without(
        map: &std::collections::BTreeMap<String, Ipld>,
        skip: &str,
    ) -> Result<Self> {
        let mut out = Vec::new();
        crate::codec::write_map_without(&mut out, map, Some(skip), 0)
            .map_err(InvalidInput::Encode)?;
        Ok(RawValue(Bytes::from(out)))
    }

    /// A map of scalars written as they come, with no map built: what an import of a table (a
    /// CSV file) stores per row. `fields` are in DAG-CBOR's key order (shorter keys first, then
    /// bytewise), distinct; floats are finite. The bytes are those [`RawValue::from_ipld`] gives
    /// the same map.
    pub fn scalar_map<'a>(
        fields: impl ExactSizeIterator<Item = (&'a str, Scalar<'a>)>,
    ) -> Result<Self> {
        let mut out = Vec::with_capacity(16 * fields.len());
        crate::codec::write_head(&mut out, crate::codec::MAJOR_MAP, fields.len() as u64);
        let mut previous: Option<&str> = None;
        for (key, value) in fields {
            if previous.is_some_and(|p| (p.len(), p) >= (key.len(), key)) {
                return Err(InvalidInput::Encode(EncodeError::KeyOrder).into());
            }
            previous = Some(key);
            crate::codec::write_text(&mut out, key);
            crate::codec::write_scalar(&mut out, value).map_err(InvalidInput::Encode)?;
        }
        Ok(RawValue(Bytes::from(out)))
    }

    /// Encodes any serializable value as DAG-CBOR.
    pub fn encode<T: Serialize + ?Sized>(value: &T) -> Result<Self> {
        let bytes = fvm_ipld_encoding::to_vec(value).map_err(InvalidInput::Serialize)?;
        Self::from_bytes(Bytes::from(bytes))
    }

    /// A byte string value, encoded directly (no serializer on the way).
    pub fn byte_string(data: &[u8]) -> Self {
        // Exactly the encoded length: a vector with spare room costs `Bytes` an allocation more
        // (a tenth of a bulk build's allocations).
        let mut out = Vec::with_capacity(crate::size::bytes_len(data.len()));
        crate::codec::write_bytes(&mut out, data);
        RawValue(Bytes::from(out))
    }

    /// A map of these entries, written in DAG-CBOR's key order (shorter keys first, then
    /// bytewise) without building an `Ipld` map around them; of a key given twice, the first
    /// entry is kept.
    pub fn from_entries<'a>(
        entries: impl IntoIterator<Item = (&'a str, &'a Ipld)>,
    ) -> Result<Self> {
        let mut out = Vec::new();
        Self::write_entries(entries, &mut out)?;
        Ok(RawValue(Bytes::from(out)))
    }

    /// [`RawValue::from_entries`], appended to `out` (nothing is appended when it fails).
    pub fn write_entries<'a>(
        entries: impl IntoIterator<Item = (&'a str, &'a Ipld)>,
        out: &mut Vec<u8>,
    ) -> Result<()> {
        let mut entries: Vec<(&str, &Ipld)> = entries.into_iter().collect();
        entries.sort_by(|(a, _), (b, _)| (a.len(), *a).cmp(&(b.len(), *b)));
        entries.dedup_by(|(a, _), (b, _)| a == b);
        let start = out.len();
        crate::codec::write_head(out, crate::codec::MAJOR_MAP, entries.len() as u64);
        for (key, value) in entries {
            crate::codec::write_text(out, key);
            if let Err(e) = crate::codec::write_ipld(out, value, 1) {
                out.truncate(start);
                return Err(InvalidInput::Encode(e).into());
            }
        }
        Ok(())
    }

    /// This map with one more entry, written in DAG-CBOR's key order around the bytes of the
    /// others, which are not decoded. `None` when this is not a map, or has `key` already. A
    /// query result's stored documents get their `_id` back so: a 1,000-document range spent a
    /// fifth of its verification decoding them into IPLD and encoding them again.
    pub fn with_entry(&self, key: &str, value: &RawValue) -> Option<RawValue> {
        let mut out = Vec::with_capacity(self.0.len() + key.len() + value.len() + 10);
        self.write_with_entry(key, value, &mut out)
            .then(|| RawValue(Bytes::from(out)))
    }

    /// [`RawValue::with_entry`], appended to `out`; false, with nothing appended, when it is
    /// `None`.
    pub fn write_with_entry(&self, key: &str, value: &RawValue, out: &mut Vec<u8>) -> bool {
        let mut d = Decoder::new(self.0.clone());
        let Ok((crate::codec::MAJOR_MAP, len)) = d.head() else {
            return false;
        };
        let entries_start = d.position();
        let new = (key.len(), key.as_bytes());
        let mut at = self.0.len();
        for _ in 0..len {
            let entry_start = d.position();
            let Ok(existing) = d.validated_key() else {
                return false;
            };
            let existing = &self.0[existing];
            match (existing.len(), existing).cmp(&new) {
                std::cmp::Ordering::Less => {
                    if d.skip_validated().is_err() {
                        return false;
                    }
                }
                std::cmp::Ordering::Equal => return false,
                std::cmp::Ordering::Greater => {
                    at = entry_start;
                    break;
                }
            }
        }
        crate::codec::write_head(out, crate::codec::MAJOR_MAP, len + 1);
        out.extend_from_slice(&self.0[entries_start..at]);
        crate::codec::write_text(out, key);
        out.extend_from_slice(&value.0);
        out.extend_from_slice(&self.0[at..]);
        true
    }

    /// The value at `key` in this map, as its bytes; `None` when this is not a map or has no
    /// `key`. A filter reads a stored document's fields so, without decoding the others.
    pub fn map_get(&self, key: &str) -> Option<RawValue> {
        let mut d = Decoder::new(self.0.clone());
        let (crate::codec::MAJOR_MAP, len) = d.head().ok()? else {
            return None;
        };
        let wanted = (key.len(), key.as_bytes());
        for _ in 0..len {
            let found = &self.0[d.validated_key().ok()?];
            match (found.len(), found).cmp(&wanted) {
                std::cmp::Ordering::Less => {
                    d.skip_validated().ok()?;
                }
                std::cmp::Ordering::Equal => {
                    return Some(RawValue(self.0.slice(d.skip_validated().ok()?)));
                }
                // Keys are in order: it is not there.
                std::cmp::Ordering::Greater => return None,
            }
        }
        None
    }

    /// The entries of this map, values as their bytes (slices of this value's), in key order;
    /// `None` when this is not a map. A covering index entry's included fields are read so,
    /// without decoding the ones a query does not read, and without collecting them into a
    /// vector for each index entry.
    pub fn map_entries(&self) -> Option<MapEntries<'_>> {
        let mut decoder = Decoder::new(self.0.clone());
        let (crate::codec::MAJOR_MAP, left) = decoder.head().ok()? else {
            return None;
        };
        Some(MapEntries {
            bytes: &self.0,
            decoder,
            left,
        })
    }

    /// Takes encoded bytes after checking they are exactly one strict DAG-CBOR value.
    pub fn from_bytes(bytes: Bytes) -> Result<Self> {
        let mut decoder = Decoder::new(bytes);
        let value = decoder.value().map_err(InvalidInput::Value)?;
        if !decoder.at_end() {
            return Err(InvalidInput::Value(DecodeError::TrailingBytes).into());
        }
        Ok(RawValue(value))
    }

    /// For slices the node decoder has already validated.
    pub(crate) fn from_validated(bytes: Bytes) -> Self {
        RawValue(bytes)
    }

    pub fn as_bytes(&self) -> &[u8] {
        &self.0
    }

    pub fn len(&self) -> usize {
        self.0.len()
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The value as IPLD data.
    pub fn to_ipld(&self) -> Result<Ipld> {
        Ok(Decoder::new(self.0.clone())
            .ipld()
            .map_err(InvalidInput::Value)?)
    }

    /// The value decoded into any deserializable type.
    pub fn decode<T: DeserializeOwned>(&self) -> Result<T> {
        Ok(fvm_ipld_encoding::from_slice(&self.0).map_err(InvalidInput::Deserialize)?)
    }
}

/// A map value's entries, read from its bytes in key order ([`RawValue::map_entries`]). A value
/// is checked DAG-CBOR before it is a `RawValue`, so its entries read without error.
pub struct MapEntries<'a> {
    bytes: &'a Bytes,
    decoder: Decoder,
    left: u64,
}

impl<'a> Iterator for MapEntries<'a> {
    type Item = (&'a str, &'a [u8]);

    fn next(&mut self) -> Option<Self::Item> {
        self.left = self.left.checked_sub(1)?;
        let entry = (|| {
            let key = std::str::from_utf8(&self.bytes[self.decoder.validated_key().ok()?]).ok()?;
            Some((key, &self.bytes[self.decoder.skip_validated().ok()?]))
        })();
        if entry.is_none() {
            self.left = 0;
        }
        entry
    }
}

impl fmt::Debug for RawValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.to_ipld() {
            Ok(v) => write!(f, "RawValue({v:?})"),
            Err(_) => write!(f, "RawValue(0x{})", crate::error::hex(&self.0)),
        }
    }
}
