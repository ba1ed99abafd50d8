//! Covering index entries: what a query reads of a document, from its index entry alone.
//!
//! A covering plan's entries hold every path the query reads, each stored whole: a key field in
//! the key, an included field in the value (`index.rs`). The executor reads exactly those paths
//! from an entry, the included value first (as the entry's writer took it from the document),
//! and writes the projected result map from them: no document is rebuilt. Rebuilding one (a map
//! per document, then a projected copy, then its encoding) was two thirds of verifying a 32-result
//! covering query.
//!
//! Only what the filter compares is decoded, and a value the filter requires to equal a constant
//! is first compared by its bytes. A value that is only written out goes from its stored bytes to
//! the result: an included value copied as it is (it is DAG-CBOR already), a key field transcoded
//! (`key::transcode_one`).

use ipld_core::ipld::Ipld;
use prolly_tree::cbor::{MAJOR_MAP, encode_ipld_into, write_head, write_text};
use prolly_tree::{RawValue, decode_ipld};

use crate::error::{Error, Result};
use crate::filter::{Cond, Filter};
use crate::form::Map;
use crate::key::{self, Order};
use crate::path::{ID_FIELD, Path};
use crate::plan::Plan;
use crate::query::Query;

/// How a covering plan reads its entries.
pub(crate) struct Cover {
    /// Every path the filter, the sort or the projection reads, but `_id`.
    reads: Vec<Read>,
    /// The projection's paths, as indexes into `reads` (`None` for `_id`).
    projection: Vec<Option<usize>>,
    /// When the projection names top-level fields only: the result map's fields in DAG-CBOR's
    /// key order, `_id` among them, each with its index into `reads` (`None` for `_id`). Collecting
    /// and sorting them for every document was 2.6% of verifying a 32-result covering query.
    flat: Option<Vec<(String, Option<usize>)>>,
    /// Whether the filter compares `_id`: only then is it decoded for every entry. Otherwise it
    /// goes from the key to the result as other key fields do (decoding it for every entry was
    /// 4% of verifying a 32-result covering query).
    id_compared: bool,
}

struct Read {
    path: Path,
    /// The key field that stores the path (the last one, as a rebuilt document would keep it),
    /// with the span an absent value takes.
    field: Option<(usize, Order, Vec<u8>)>,
    /// Whether the filter compares it, so that it is decoded for every entry. (An in-memory sort
    /// decodes the whole covered document: `Covered::into_value`.)
    compared: bool,
    /// What the filter requires it to equal, if that is a constant compared by its bytes.
    constant: Option<Constant>,
}

/// A value the filter's top-level `$and` requires a path to equal. A stored value with the
/// constant's bytes is the constant (a value has one encoding, in keys and in DAG-CBOR), so it is
/// not decoded; other bytes are decoded and compared as filters compare (`1` equals `1.0`).
/// Decoding the `origin` of every entry for `{"origin": "ORD"}` was 4% of verifying a covering
/// query.
struct Constant {
    value: Ipld,
    /// Its encoding as the key field stores it, if a key field does.
    key: Option<Vec<u8>>,
    cbor: Vec<u8>,
}

impl Constant {
    fn for_read(filter: &Filter, path: &Path, field: Option<Order>) -> Option<Self> {
        let value = filter.conjuncts().into_iter().find_map(|f| match f {
            Filter::Field(p, Cond::Eq(v)) if p == path => Some(v),
            _ => None,
        })?;
        let key = match field {
            Some(order) => {
                let mut key = Vec::new();
                key::encode_value(&mut key, value, order).ok()?;
                Some(key)
            }
            None => None,
        };
        let mut cbor = Vec::new();
        encode_ipld_into(&mut cbor, value).ok()?;
        Some(Constant {
            value: value.clone(),
            key,
            cbor,
        })
    }
}

/// What the query reads of one covered document: a value per [`Cover`] read, borrowed from its
/// index entry.
pub(crate) struct Covered<'c> {
    cover: &'c Cover,
    /// `E(_id)`: the entry's key after its fields.
    id_key: &'c [u8],
    /// `_id` decoded, when the filter compares it.
    id: Option<Ipld>,
    values: Vec<Stored<'c>>,
}

/// A covered value: decoded if it is compared, else as the entry stores it.
enum Stored<'c> {
    Absent,
    Decoded(Ipld),
    /// The read's [`Constant`].
    Equal,
    /// An included value: DAG-CBOR.
    Included(&'c [u8]),
    /// A key field's element.
    Key(&'c [u8], Order),
}

impl Stored<'_> {
    fn is_present(&self) -> bool {
        !matches!(self, Stored::Absent)
    }

    /// Whether the entry stores the constant's bytes.
    fn holds(&self, constant: &Constant) -> bool {
        match self {
            Stored::Included(bytes) => *bytes == constant.cbor,
            Stored::Key(bytes, _) => constant.key.as_deref() == Some(*bytes),
            _ => false,
        }
    }

    fn decoded<'r>(&'r self, read: &'r Read) -> Option<&'r Ipld> {
        match self {
            Stored::Decoded(value) => Some(value),
            Stored::Equal => read.constant.as_ref().map(|c| &c.value),
            _ => None,
        }
    }

    fn into_ipld(self, read: &Read) -> Result<Option<Ipld>> {
        Ok(match self {
            Stored::Absent => None,
            Stored::Decoded(value) => Some(value),
            Stored::Equal => read.constant.as_ref().map(|c| c.value.clone()),
            Stored::Included(bytes) => Some(decode_ipld(bytes).map_err(corrupt)?),
            Stored::Key(bytes, order) => Some(key::decode_one(bytes, order).map_err(corrupt)?),
        })
    }

    /// Appends the value as DAG-CBOR; `Absent` writes nothing.
    fn write(&self, read: &Read, out: &mut Vec<u8>) -> Result<()> {
        match self {
            Stored::Absent => {}
            Stored::Decoded(value) => encode_ipld_into(out, value).map_err(corrupt)?,
            Stored::Equal => {
                if let Some(constant) = &read.constant {
                    out.extend_from_slice(&constant.cbor);
                }
            }
            // Checked as canonical DAG-CBOR when its node was decoded: its bytes are its encoding.
            Stored::Included(bytes) => out.extend_from_slice(bytes),
            Stored::Key(bytes, order) => key::transcode_one(bytes, *order, out).map_err(corrupt)?,
        }
        Ok(())
    }
}

fn corrupt(why: impl std::fmt::Display) -> Error {
    Error::corrupt("index entry", why.to_string())
}

fn decode_id(id_key: &[u8]) -> Result<Ipld> {
    crate::document::decode_id(id_key).map_err(corrupt)
}

impl Cover {
    /// For a covering plan of `query`; `None` for any other plan.
    pub fn new(plan: &Plan, query: &Query) -> Option<Cover> {
        if !plan.covering {
            return None;
        }
        let projection = query.projection.as_ref()?;
        let mut paths = Vec::new();
        query.filter.paths(&mut paths);
        let compared = paths.len();
        let id_compared = paths.iter().any(Path::is_id);
        paths.extend(plan.sort.iter().map(|s| s.path.clone()));
        paths.extend(projection.iter().cloned());
        let mut reads: Vec<Read> = Vec::new();
        for (i, path) in paths.into_iter().enumerate() {
            if path.is_id() || reads.iter().any(|r| r.path == path) {
                continue;
            }
            let field = plan
                .fields
                .iter()
                .rposition(|f| !f.each && f.path == path)
                .map(|i| {
                    let order = plan.fields[i].order;
                    let mut missing = Vec::new();
                    key::encode_missing(&mut missing, order);
                    (i, order, missing)
                });
            let compared = i < compared;
            let constant = match compared {
                true => Constant::for_read(&query.filter, &path, field.as_ref().map(|f| f.1)),
                false => None,
            };
            reads.push(Read {
                path,
                field,
                compared,
                constant,
            });
        }
        let projection: Vec<Option<usize>> = projection
            .iter()
            .map(|p| reads.iter().position(|r| r.path == *p))
            .collect();
        let flat = query
            .projection
            .iter()
            .flatten()
            .all(|p| p.segments().nth(1).is_none())
            .then(|| {
                let paths = query.projection.iter().flatten().map(Path::as_str);
                let mut fields: Vec<(String, Option<usize>)> = paths
                    .zip(projection.iter().copied())
                    .chain([(ID_FIELD, None)])
                    .map(|(name, i)| (name.to_string(), i))
                    .collect();
                fields.sort_by(|(a, _), (b, _)| (a.len(), a).cmp(&(b.len(), b)));
                fields.dedup_by(|(a, _), (b, _)| a == b);
                fields
            });
        Some(Cover {
            reads,
            projection,
            flat,
            id_compared,
        })
    }

    /// Reads an entry: its key's field spans, its `E(_id)` and its included value.
    pub fn read<'c>(
        &'c self,
        spans: &[&'c [u8]],
        id_key: &'c [u8],
        included: &'c RawValue,
    ) -> Result<Covered<'c>> {
        let mut values: Vec<Stored> = self.reads.iter().map(|_| Stored::Absent).collect();
        // The included value first, as the entry's writer took it from the document. (`null`
        // when the index includes nothing.)
        for (path, value) in included.map_entries().into_iter().flatten() {
            if let Some(i) = self.reads.iter().position(|r| r.path.as_str() == path) {
                values[i] = Stored::Included(value);
            }
        }
        for (read, value) in self.reads.iter().zip(&mut values) {
            if let (Stored::Absent, Some((i, order, missing))) = (&value, &read.field) {
                let span = *spans.get(*i).ok_or_else(|| corrupt("too few key fields"))?;
                if span != missing.as_slice() {
                    *value = Stored::Key(span, *order);
                }
            }
            if read.compared {
                *value = match (std::mem::replace(value, Stored::Absent), &read.constant) {
                    (stored, Some(constant)) if stored.holds(constant) => Stored::Equal,
                    (stored, _) => stored
                        .into_ipld(read)?
                        .map_or(Stored::Absent, Stored::Decoded),
                };
            }
        }
        let id = match self.id_compared {
            true => Some(decode_id(id_key)?),
            false => None,
        };
        Ok(Covered {
            cover: self,
            id_key,
            id,
            values,
        })
    }
}

impl Covered<'_> {
    /// A compared value: the filter reads only those.
    fn get(&self, path: &Path) -> Option<&Ipld> {
        if path.is_id() {
            debug_assert!(self.id.is_some(), "_id is not decoded");
            return self.id.as_ref();
        }
        let i = self.cover.reads.iter().position(|r| r.path == *path)?;
        debug_assert!(
            self.cover.reads[i].compared,
            "{} is not decoded",
            path.as_str()
        );
        self.values[i].decoded(&self.cover.reads[i])
    }

    pub fn matches(&self, filter: &Filter) -> bool {
        filter.matches_with(&|path| self.get(path))
    }

    /// Writes the projected result document at the end of `out`.
    pub fn write_result(self, query: &Query, out: &mut Vec<u8>) -> Result<()> {
        if let Some(fields) = &self.cover.flat {
            let present = |i: &Option<usize>| i.is_none_or(|i| self.values[i].is_present());
            let count = fields.iter().filter(|(_, i)| present(i)).count();
            write_head(out, MAJOR_MAP, count as u64);
            for (name, i) in fields.iter().filter(|(_, i)| present(i)) {
                write_text(out, name);
                match i {
                    Some(i) => self.values[*i].write(&self.cover.reads[*i], out)?,
                    None => {
                        key::transcode_one(self.id_key, Order::Ascending, out).map_err(corrupt)?
                    }
                }
            }
            return Ok(());
        }
        // Nested paths: a map built path by path.
        let projection = query.projection.as_deref().unwrap_or_default();
        let id = self.decoded_id()?;
        let mut values: Vec<Option<Ipld>> = Vec::with_capacity(self.values.len());
        for (read, value) in self.cover.reads.iter().zip(self.values) {
            values.push(value.into_ipld(read)?);
        }
        let mut map = Map::new();
        for (path, i) in projection.iter().zip(&self.cover.projection) {
            let value = match i {
                Some(i) => values[*i].clone(),
                None => Some(id.clone()),
            };
            if let Some(value) = value {
                path.set(&mut map, value);
            }
        }
        map.insert(ID_FIELD.to_string(), id);
        encode_ipld_into(out, &Ipld::Map(map)).map_err(corrupt)
    }

    /// The document as far as the query reads it (for an in-memory sort).
    pub fn into_value(self) -> Result<Ipld> {
        let id = self.decoded_id()?;
        let mut doc = Map::new();
        for (read, value) in self.cover.reads.iter().zip(self.values) {
            if let Some(value) = value.into_ipld(read)? {
                read.path.set(&mut doc, value);
            }
        }
        doc.insert(ID_FIELD.to_string(), id);
        Ok(Ipld::Map(doc))
    }

    fn decoded_id(&self) -> Result<Ipld> {
        match &self.id {
            Some(id) => Ok(id.clone()),
            None => decode_id(self.id_key),
        }
    }
}
