//! Bulk inserts: a long run of `insert`s into one collection becomes sorted runs (the documents,
//! then each index's entries), not one overlay insert per key. The checks are the same as one at
//! a time, and so is the error: the first operation, in batch order, that one-at-a-time
//! application would refuse.
//!
//! Preparing documents (splitting, encoding, index keys) is independent per document, so large
//! runs use two threads where the platform has them; the results are put back in batch order, so
//! the outcome does not depend on it.

use std::borrow::Cow;
use std::collections::BTreeMap;

use cid::Cid;
use ipld_core::ipld::Ipld;
use prolly_tree::RawValue;

use crate::catalog::Collection;
use crate::document::{self, DocumentView, MAX_ID_BYTES};
use crate::error::{Refusal, show};
use crate::flat::FlatDocument;
use crate::index;
use crate::keyspace;

/// Runs at least this long take the bulk path.
pub const MIN_RUN: usize = 256;
/// Runs at least this long are prepared on two threads.
const MIN_PARALLEL: usize = 20_000;

/// One prepared document: its key and body, and its entries in each index (in index name order),
/// with the unique prefix of each.
struct PreparedDoc {
    op: usize,
    key: Vec<u8>,
    id: Ipld,
    body: RawValue,
    entries: Vec<Vec<index::IndexEntry>>,
}

/// A refusal at an operation.
pub type OpRefusal = (usize, Refusal);

/// The earlier of two refusals.
pub fn earliest(a: Option<OpRefusal>, b: Option<OpRefusal>) -> Option<OpRefusal> {
    match (a, b) {
        (Some(a), Some(b)) => Some(if b.0 < a.0 { b } else { a }),
        (a, b) => a.or(b),
    }
}

/// Where a run's documents go, and what they may be.
#[derive(Clone, Copy)]
pub struct Destination<'a> {
    pub name: &'a str,
    pub collection: &'a Collection,
    /// The root the batch applies to (generated ids derive from it). `None` when the run is
    /// prepared before that root is known: then every document needs its own `_id`.
    pub parent: Option<&'a Cid>,
    /// The largest document body this database takes (`document::max_document_bytes`).
    pub max_body: usize,
}

/// A document of a run, as the batch holds it or as an import read it.
#[derive(Clone, Copy)]
pub enum Input<'a> {
    Document(&'a Ipld),
    Flat(&'a FlatDocument),
}

impl Input<'_> {
    /// The `_id` a refusal names, if the document has one.
    fn id_shown(self) -> Option<String> {
        match self {
            Input::Document(Ipld::Map(fields)) => fields.get(crate::path::ID_FIELD).map(show),
            Input::Document(_) => None,
            Input::Flat(doc) => Some(show(&doc.id)),
        }
    }
}

fn prepare_one(to: Destination<'_>, op: usize, input: Input<'_>) -> Result<PreparedDoc, Refusal> {
    let Destination {
        name,
        collection,
        parent,
        max_body,
    } = to;
    let no_flat_fields = BTreeMap::new();
    let (id, id_key, body, fields) = match input {
        Input::Document(doc) => {
            let doc = DocumentView::new(doc, || {
                match parent {
                Some(parent) => Ok(document::generated_id(parent, op)),
                None => Err(Refusal::BadDocument(
                    "no _id: an insert prepared ahead needs one (a generated id depends on the root it applies to)"
                        .into(),
                )),
            }
            })?;
            let body = doc.encode_body(max_body)?;
            (doc.id, doc.id_key, body, Cow::Borrowed(doc.fields))
        }
        // The same checks: a flat body is a valid map of scalars by construction.
        Input::Flat(doc) => {
            let id_key = document::checked(&doc.id, std::iter::empty())?;
            let body = document::checked_body(Ok(doc.body.clone()), max_body)?;
            // Only index entries need the fields as values.
            let fields = if collection.indexes.is_empty() {
                Cow::Borrowed(&no_flat_fields)
            } else {
                match doc.body.to_ipld() {
                    Ok(Ipld::Map(fields)) => Cow::Owned(fields),
                    _ => unreachable!("a flat body is a valid map"),
                }
            };
            (doc.id.clone(), id_key, body, fields)
        }
    };
    let mut key = keyspace::documents_prefix(name);
    if id_key.len() > MAX_ID_BYTES {
        return Err(Refusal::KeyTooLarge {
            size: id_key.len(),
            max: MAX_ID_BYTES,
        });
    }
    key.extend_from_slice(&id_key);
    let entries = collection
        .indexes
        .values()
        .map(|def| index::entries_of(name, def, &fields, &id_key))
        .collect::<Result<Vec<_>, _>>()?;
    Ok(PreparedDoc {
        op,
        key,
        id,
        body,
        entries,
    })
}

fn prepare_chunk(
    to: Destination<'_>,
    ops: &[(usize, Input<'_>)],
) -> (Vec<PreparedDoc>, Option<OpRefusal>) {
    let mut out = Vec::with_capacity(ops.len());
    for (op, doc) in ops {
        match prepare_one(to, *op, *doc) {
            Ok(prepared) => out.push(prepared),
            // Later documents cannot fail earlier: stop at the first refusal.
            Err(e) => return (out, Some((*op, e))),
        }
    }
    (out, None)
}

/// Prepares the run's documents, in batch order, up to the earliest one whose own checks refuse
/// it (returned beside them).
fn prepare(
    to: Destination<'_>,
    ops: &[(usize, Input<'_>)],
) -> (Vec<PreparedDoc>, Option<OpRefusal>) {
    let parallel = ops.len() >= MIN_PARALLEL
        && std::thread::available_parallelism().is_ok_and(|n| n.get() >= 2);
    let (docs, refusal) = if parallel {
        let (left, right) = ops.split_at(ops.len() / 2);
        std::thread::scope(|scope| {
            let handle =
                std::thread::Builder::new().spawn_scoped(scope, || prepare_chunk(to, right));
            let (mut docs, first) = prepare_chunk(to, left);
            let (rest, second) = match handle {
                Ok(handle) => handle.join().expect("preparing documents does not panic"),
                Err(_) => prepare_chunk(to, right),
            };
            docs.extend(rest);
            (docs, earliest(first, second))
        })
    } else {
        prepare_chunk(to, ops)
    };
    match refusal {
        // Keep only what precedes the refusal: clashes among those come first.
        Some((op, e)) => (
            docs.into_iter().filter(|d| d.op < op).collect(),
            Some((op, e)),
        ),
        None => (docs, None),
    }
}

/// Documents of the run that share an id, or unique-index values: the later operation of each
/// clash is refused, and the earliest of those is the error.
fn clashes(docs: &[PreparedDoc], collection: &Collection) -> Option<OpRefusal> {
    let mut refusal = None;
    let mut by_key: Vec<(&[u8], usize, &Ipld)> = docs
        .iter()
        .map(|d| (d.key.as_slice(), d.op, &d.id))
        .collect();
    by_key.sort_unstable_by(|a, b| (a.0, a.1).cmp(&(b.0, b.1)));
    for pair in by_key.windows(2) {
        if pair[0].0 == pair[1].0 {
            refusal = earliest(
                refusal,
                Some((pair[1].1, Refusal::DuplicateId(show(pair[1].2)))),
            );
        }
    }
    for (position, def) in collection.indexes.values().enumerate() {
        if !def.unique {
            continue;
        }
        let mut prefixes: Vec<(&[u8], usize, &Ipld)> = docs
            .iter()
            .flat_map(|d| {
                d.entries[position]
                    .iter()
                    .filter_map(move |e| e.unique_prefix.as_deref().map(|p| (p, d.op, &d.id)))
            })
            .collect();
        prefixes.sort_unstable_by(|a, b| (a.0, a.1).cmp(&(b.0, b.1)));
        for pair in prefixes.windows(2) {
            if pair[0].0 == pair[1].0 {
                let clash = Refusal::Unique {
                    index: def.name.clone(),
                    value: "(a value of an earlier document in the batch)".into(),
                    existing: show(pair[0].2),
                };
                refusal = earliest(refusal, Some((pair[1].1, clash)));
            }
        }
    }
    refusal
}

/// A run of inserts made ready to write: each document checked, the run checked against itself,
/// its writes sorted. What is left needs the tree: clashes with what is stored ([`Probe`]).
pub struct Run {
    /// In operation order.
    pub probes: Vec<Probe>,
    pub writes: Vec<(Vec<u8>, RawValue)>,
    /// The earliest operation refused so far, and the `_id` it names, if any.
    pub refusal: Option<(usize, Refusal, Option<String>)>,
}

/// What a document of a run checks against the stored documents: its key, and its entries in
/// unique indexes (index position, unique prefix, entry key).
pub struct Probe {
    pub op: usize,
    pub key: Vec<u8>,
    pub id: Ipld,
    pub unique: Vec<(usize, Vec<u8>, Vec<u8>)>,
}

impl Run {
    /// Prepares the inserts `ops` (operation number, document) into `to`.
    pub fn new(to: Destination<'_>, ops: &[(usize, Input<'_>)]) -> Run {
        let (prepared, own) = prepare(to, ops);
        // Documents before a refusal still check against what is stored: a clash there comes
        // first.
        let refusal = earliest(own, clashes(&prepared, to.collection)).map(|(op, reason)| {
            let id = ops
                .iter()
                .find(|(at, _)| *at == op)
                .and_then(|(_, doc)| doc.id_shown());
            (op, reason, id)
        });
        let unique: Vec<usize> = (to.collection.indexes.values().enumerate())
            .filter(|(_, def)| def.unique)
            .map(|(position, _)| position)
            .collect();
        let probes = prepared
            .iter()
            .map(|doc| Probe {
                op: doc.op,
                key: doc.key.clone(),
                id: doc.id.clone(),
                unique: unique
                    .iter()
                    .flat_map(|&position| {
                        doc.entries[position].iter().filter_map(move |entry| {
                            let prefix = entry.unique_prefix.clone()?;
                            Some((position, prefix, entry.key.clone()))
                        })
                    })
                    .collect(),
            })
            .collect();
        let writes = match refusal {
            Some(_) => Vec::new(),
            None => sorted_writes(prepared, to.collection.indexes.len()),
        };
        Run {
            probes,
            writes,
            refusal,
        }
    }
}

/// The run's writes as one sorted list: documents, then each index's entries (index prefixes
/// sort by name, after the documents prefix). The lists are sorted on two threads where there
/// are two; keys are unique, so the result is the same either way.
fn sorted_writes(docs: Vec<PreparedDoc>, indexes: usize) -> Vec<(Vec<u8>, RawValue)> {
    let mut lists: Vec<Vec<(Vec<u8>, RawValue)>> = vec![Vec::with_capacity(docs.len())];
    lists.extend((0..indexes).map(|_| Vec::new()));
    for doc in docs {
        lists[0].push((doc.key, doc.body));
        for (position, entries) in doc.entries.into_iter().enumerate() {
            lists[position + 1].extend(entries.into_iter().map(|e| (e.key, e.value)));
        }
    }
    let sort = |lists: &mut [Vec<(Vec<u8>, RawValue)>]| {
        for list in lists {
            list.sort_unstable_by(|a, b| a.0.cmp(&b.0));
        }
    };
    let total: usize = lists.iter().map(Vec::len).sum();
    if total >= MIN_PARALLEL && std::thread::available_parallelism().is_ok_and(|n| n.get() >= 2) {
        // Split the lists where the entry counts balance.
        let mut seen = 0;
        let split = lists
            .iter()
            .position(|l| {
                seen += l.len();
                seen * 2 >= total
            })
            .map_or(lists.len(), |i| i + 1)
            .min(lists.len());
        let (left, right) = lists.split_at_mut(split);
        // Only reached where `available_parallelism` says threads exist (never in Wasm).
        std::thread::scope(|scope| {
            scope.spawn(|| sort(right));
            sort(left);
        });
    } else {
        sort(&mut lists);
    }
    lists.into_iter().flatten().collect()
}

/// Frees a large batch on another thread where there is one: a million small allocations take
/// a noticeable part of a second to free, and nothing waits for them.
pub fn drop_large(batch: prolly_tree::Batch) {
    if batch.len() >= MIN_PARALLEL
        && std::thread::available_parallelism().is_ok_and(|n| n.get() >= 2)
    {
        std::thread::spawn(move || drop(batch));
    }
}
