//! Covering index entries: what a query reads of a document, from its index entry alone.
//!
//! A covering plan's entries hold every path the query reads, each stored whole: a key field in
//! the key, an included field in the value (`index.rs`). The executor reads exactly those paths
//! from an entry, the included value first (as the entry's writer took it from the document),
//! and writes the projected result map from them: no document is rebuilt. Rebuilding one (a map
//! per document, then a projected copy, then its encoding) was two thirds of verifying a 32-result
//! covering query.

use ipld_core::ipld::Ipld;
use prolly_tree::RawValue;
use prolly_tree::cbor::{MAJOR_MAP, encode_ipld_into, write_head, write_text};

use crate::error::{Error, Result};
use crate::filter::Filter;
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
}

struct Read {
    path: Path,
    /// The key field that stores the path (the last one, as a rebuilt document would keep it),
    /// with the span an absent value takes.
    field: Option<(usize, Order, Vec<u8>)>,
}

/// What the query reads of one covered document: a value (or none) per [`Cover`] read.
pub(crate) struct Covered<'c> {
    cover: &'c Cover,
    id: Ipld,
    values: Vec<Option<Ipld>>,
}

fn corrupt(why: impl std::fmt::Display) -> Error {
    Error::corrupt("index entry", why.to_string())
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
        paths.extend(plan.sort.iter().map(|s| s.path.clone()));
        paths.extend(projection.iter().cloned());
        let mut reads: Vec<Read> = Vec::new();
        for path in paths {
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
            reads.push(Read { path, field });
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
        })
    }

    /// Reads an entry: its key's field spans, its included value, and its id.
    pub fn read(&self, spans: &[&[u8]], included: &RawValue, id: Ipld) -> Result<Covered<'_>> {
        // `null` when the index includes nothing.
        let included = included.map_entries().unwrap_or_default();
        let mut values = Vec::with_capacity(self.reads.len());
        for read in &self.reads {
            let stored = included
                .iter()
                .find(|(path, _)| *path == read.path.as_str());
            values.push(match (stored, &read.field) {
                (Some((_, value)), _) => Some(value.to_ipld()?),
                (None, Some((i, order, missing))) => {
                    let span = spans.get(*i).ok_or_else(|| corrupt("too few key fields"))?;
                    match *span == missing.as_slice() {
                        true => None,
                        false => Some(key::decode_one(span, *order).map_err(corrupt)?),
                    }
                }
                (None, None) => None,
            });
        }
        Ok(Covered {
            cover: self,
            id,
            values,
        })
    }
}

impl Covered<'_> {
    fn get(&self, path: &Path) -> Option<&Ipld> {
        if path.is_id() {
            return Some(&self.id);
        }
        let i = self.cover.reads.iter().position(|r| r.path == *path)?;
        self.values[i].as_ref()
    }

    pub fn matches(&self, filter: &Filter) -> bool {
        filter.matches_with(&|path| self.get(path))
    }

    /// The value of the projection's path `i` (`None` for `_id`).
    fn projected(&self, i: Option<usize>) -> Option<&Ipld> {
        match i {
            Some(i) => self.values[i].as_ref(),
            None => Some(&self.id),
        }
    }

    /// Writes the projected result document at the end of `out`.
    pub fn write_result(&self, query: &Query, out: &mut Vec<u8>) -> Result<()> {
        if let Some(fields) = &self.cover.flat {
            let present = fields
                .iter()
                .filter_map(|(name, i)| Some((name, self.projected(*i)?)));
            write_head(out, MAJOR_MAP, present.clone().count() as u64);
            for (name, value) in present {
                write_text(out, name);
                encode_ipld_into(out, value).map_err(corrupt)?;
            }
            return Ok(());
        }
        // Nested paths: a map built path by path.
        let projection = query.projection.as_deref().unwrap_or_default();
        let mut map = Map::new();
        for (path, i) in projection.iter().zip(&self.cover.projection) {
            if let Some(value) = self.projected(*i) {
                path.set(&mut map, value.clone());
            }
        }
        map.insert(ID_FIELD.to_string(), self.id.clone());
        encode_ipld_into(out, &Ipld::Map(map)).map_err(corrupt)
    }

    /// The document as far as the query reads it (for an in-memory sort).
    pub fn into_value(self) -> Ipld {
        let mut doc = Map::new();
        for (read, value) in self.cover.reads.iter().zip(self.values) {
            if let Some(value) = value {
                read.path.set(&mut doc, value);
            }
        }
        doc.insert(ID_FIELD.to_string(), self.id);
        Ipld::Map(doc)
    }
}
