//! The executor: runs a plan over the tree. It is synchronous, reads only through the tree (so
//! only through a Blockstore), and is deterministic: the same root and query read the same blocks
//! and give the same bytes. The actor, the client and the proof verifier all run it.
//!
//! Over a partial store it returns every missing block it can see in one pass: the first chunk of
//! every key range at once, then the documents of a whole batch of candidates at once. A range
//! then completes in about depth + 1 rounds, an index query with its documents in about
//! 2 × depth + 2.

use std::cmp::Ordering;
use std::collections::{BTreeSet, VecDeque};
use std::ops::Bound;

use fvm_ipld_blockstore::Blockstore;
use ipld_core::ipld::Ipld;
use prolly_tree::{Bytes, Direction, Outcome, RawValue, Tree, ready};

use crate::catalog::{Catalog, Collection};
use crate::cover::{Cover, Covered};
use crate::cursor::{self, PageCursor};
use crate::document;
use crate::error::{Error, Refusal, Result};
use crate::form::{self, Map};
use crate::index;
use crate::key::{self, Order};
use crate::keyspace;
use crate::plan::{self, Plan, Stream};
use crate::query::Query;
use crate::result::{EncodedResult, MAX_RESULT_BYTES, ResultDocs, Stop};

/// Candidates whose documents are fetched together, at most.
const MAX_FETCH_BATCH: usize = 256;
/// Entries one range read asks for, at most.
const MAX_CHUNK: usize = 4096;

/// The collection's catalog record at this root.
pub fn collection<S: Blockstore>(tree: &Tree<S>, name: &str) -> Result<Outcome<Collection>> {
    match ready!(Catalog::load_collection(tree, name)) {
        None => Err(Refusal::NoCollection(name.to_string()).into()),
        Some(collection) => Ok(Outcome::Complete(collection)),
    }
}

/// Every collection at this root, by name, with its indexes.
pub fn collections<S: Blockstore>(tree: &Tree<S>) -> Result<Outcome<Vec<(String, Collection)>>> {
    let catalog = ready!(Catalog::load(tree));
    Ok(Outcome::Complete(catalog.collections.into_iter().collect()))
}

/// The plan a query would run with at this root.
pub fn explain<S: Blockstore>(tree: &Tree<S>, query: &Query) -> Result<Outcome<Plan>> {
    query.validate()?;
    // A filter on `_id` alone that bounds the primary order wins whatever indexes exist, so the
    // catalog need not be read: a point lookup then costs one path, not two (SPEC §16).
    if plan::only_id(query) {
        let primary = plan::plan(query, &Collection::default());
        if primary.eq_fields + usize::from(primary.range_field) > 0 {
            return Ok(Outcome::Complete(primary));
        }
    }
    let collection = ready!(collection(tree, &query.collection));
    Ok(Outcome::Complete(plan::plan(query, &collection)))
}

/// How much work a query may do beyond what it asks for itself.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Work {
    /// As the query says: a full scan or an in-memory sort is refused only under
    /// `require_index`.
    #[default]
    AsAsked,
    /// As if the query set `require_index`: no full scan, no in-memory sort of documents. The
    /// actor runs every query so; the query runs as sent, so its result and cursor are the ones
    /// a proof of it carries.
    Bounded,
}

/// Runs a query.
pub fn query<S: Blockstore>(
    tree: &Tree<S>,
    query: &Query,
    work: Work,
) -> Result<Outcome<EncodedResult>> {
    let plan = ready!(explain(tree, query));
    if query.require_index || work == Work::Bounded {
        if plan.full_scan {
            return Err(
                Refusal::Unbounded(format!("needs a full scan: {}", plan.describe())).into(),
            );
        }
        if plan.in_memory_sort() && !query.count {
            return Err(Refusal::Unbounded(format!(
                "needs an in-memory sort: {}",
                plan.describe()
            ))
            .into());
        }
    }
    let resume = cursor::decode(query)?;
    let skip = resume.as_ref().map_or(query.skip, |r| r.skip);
    let position = resume.map(|r| r.position);
    let run = Run {
        tree,
        query,
        plan: &plan,
        docs_prefix: keyspace::documents_prefix(&query.collection),
        index_prefix_len: if plan.primary {
            0
        } else {
            keyspace::index_prefix(&query.collection, &plan.index).len()
        },
        orders: plan.fields.iter().map(|f| f.order).collect(),
        filter_paths: {
            let mut paths = Vec::new();
            query.filter.paths(&mut paths);
            paths.retain(|p| !p.is_id());
            paths.dedup();
            paths
        },
        cover: Cover::new(&plan, query),
        skip,
    };
    if query.count {
        return run.count();
    }
    if plan.index_order {
        run.streaming(position)
    } else {
        run.sorted_in_memory(position)
    }
}

/// Matching documents with their `E(_id)`.
type Matches = Vec<(Vec<u8>, Ipld)>;

/// A candidate's document: as stored (its body's bytes and its id) until a filter, a projection
/// or a sort needs its fields; as a covering entry gives it; or decoded.
enum Doc<'c> {
    Stored { id: Ipld, body: RawValue },
    Covered(Covered<'c>),
    Value(Ipld),
}

/// An index entry on its way to becoming a result.
struct Candidate {
    key: Bytes,
    value: RawValue,
    /// Where it sits in the result order (for a streaming plan; in-memory sorts compute it later).
    sort_key: Vec<u8>,
}

/// One key range being read in chunks (a stream of the plan, as the executor walks it).
struct Scan<'p> {
    stream: &'p Stream,
    lo: Bound<Vec<u8>>,
    buffer: VecDeque<(Bytes, RawValue)>,
    exhausted: bool,
    chunk: usize,
}

impl Scan<'_> {
    fn fill<S: Blockstore>(&mut self, tree: &Tree<S>) -> Result<Outcome<()>> {
        if self.exhausted || !self.buffer.is_empty() {
            return Ok(Outcome::Complete(()));
        }
        let lo = match &self.lo {
            Bound::Included(k) => Bound::Included(k.as_slice()),
            Bound::Excluded(k) => Bound::Excluded(k.as_slice()),
            Bound::Unbounded => Bound::Unbounded,
        };
        let hi = match &self.stream.hi {
            Some(h) => Bound::Excluded(h.as_slice()),
            None => Bound::Unbounded,
        };
        let entries = ready!(tree.range_limit(lo, hi, Direction::Forward, self.chunk));
        if entries.len() < self.chunk {
            self.exhausted = true;
        }
        if let Some((last, _)) = entries.last() {
            self.lo = Bound::Excluded(last.to_vec());
        }
        self.buffer.extend(entries);
        self.chunk = (self.chunk * 2).min(MAX_CHUNK);
        Ok(Outcome::Complete(()))
    }
}

struct Run<'a, S> {
    tree: &'a Tree<S>,
    query: &'a Query,
    plan: &'a Plan,
    docs_prefix: Vec<u8>,
    index_prefix_len: usize,
    orders: Vec<Order>,
    /// The paths the filter reads besides `_id`: a stored document's are read from its bytes.
    filter_paths: Vec<crate::path::Path>,
    /// How a covering plan reads its entries.
    cover: Option<Cover>,
    /// The query's skip, or what a cursor says is left of it.
    skip: u64,
}

fn bad_entry(why: impl std::fmt::Display) -> Error {
    Error::corrupt("index entry", why.to_string())
}

impl<S: Blockstore> Run<'_, S> {
    /// The field spans (into `spans`, none for a document key) and `E(_id)` of an index (or
    /// document) key. The caller's `spans` is reused from key to key.
    fn parts<'k>(&self, key: &'k [u8], spans: &mut Vec<&'k [u8]>) -> Result<&'k [u8]> {
        if self.plan.primary {
            spans.clear();
            return Ok(&key[self.docs_prefix.len()..]);
        }
        index::split_key_into(&self.orders, &key[self.index_prefix_len..], spans).map_err(bad_entry)
    }

    /// The result-order key of an entry read from `stream` under a streaming plan: the sort's
    /// equality fields, then the remaining index fields as stored, then `E(_id)`. Those are the
    /// key's bytes after its equality fields, so only those are split off (splitting the whole
    /// key here, and again for the document, was 4% of verifying a covering query).
    fn streaming_sort_key(&self, stream: &Stream, key: &[u8]) -> Result<Vec<u8>> {
        let rest = if self.plan.primary {
            &key[self.docs_prefix.len()..]
        } else {
            let fields = &key[self.index_prefix_len..];
            let eq_orders = &self.orders[..self.plan.eq_fields];
            &fields[index::fields_len(eq_orders, fields).map_err(bad_entry)?..]
        };
        // Sized once: growing it from the equality part was 2.5% of verifying a covering query.
        let mut out = Vec::with_capacity(stream.eq_sort_key.len() + rest.len());
        out.extend_from_slice(&stream.eq_sort_key);
        out.extend_from_slice(rest);
        Ok(out)
    }

    fn scans(&self, position: Option<&[u8]>) -> Result<Vec<Scan<'_>>> {
        let first_chunk =
            (self.query.skip + self.query.effective_limit()).clamp(1, MAX_CHUNK as u64) as usize;
        let mut scans = Vec::new();
        for stream in &self.plan.streams {
            let mut lo = Bound::Included(stream.lo.clone());
            if let Some(position) = position {
                // Split off the position's equality part and compare it with this range's.
                let sort_orders: Vec<Order> = self.plan.sort[..self.plan.eq_sort_fields]
                    .iter()
                    .map(|s| s.order)
                    .collect();
                let (eq_spans, _) = index::split_key(&sort_orders, position)
                    .map_err(|e| Refusal::BadCursor(e.to_string()))?;
                let eq_len: usize = eq_spans.iter().map(|s| s.len()).sum();
                match stream.eq_sort_key.as_slice().cmp(&position[..eq_len]) {
                    Ordering::Less => continue,
                    Ordering::Greater => {}
                    Ordering::Equal => {
                        let mut after = stream.base.clone();
                        after.extend_from_slice(&position[eq_len..]);
                        if after >= stream.lo {
                            lo = Bound::Excluded(after);
                        }
                    }
                }
            }
            scans.push(Scan {
                stream,
                lo,
                buffer: VecDeque::new(),
                exhausted: false,
                chunk: first_chunk,
            });
        }
        Ok(scans)
    }

    /// Fills every empty range at once, so a cold store reports all their blocks together.
    fn fill_all(&self, scans: &mut [Scan<'_>]) -> Result<Outcome<()>> {
        let mut missing = BTreeSet::new();
        for scan in scans.iter_mut() {
            if let Outcome::Missing(m) = scan.fill(self.tree)? {
                missing.extend(m);
            }
        }
        Ok(Outcome::from_missing(missing))
    }

    /// The documents of a batch of candidates (as stored, or as their covering entries give
    /// them), fetched together: every missing block of the batch is reported at once.
    fn documents<'c>(&'c self, batch: &'c [Candidate]) -> Result<Outcome<Vec<Doc<'c>>>> {
        let mut docs = Vec::with_capacity(batch.len());
        let mut missing = BTreeSet::new();
        let mut spans = Vec::with_capacity(self.orders.len());
        for candidate in batch {
            let id_key = self.parts(&candidate.key, &mut spans)?;
            if let Some(cover) = &self.cover {
                docs.push(Doc::Covered(cover.read(
                    &spans,
                    id_key,
                    &candidate.value,
                )?));
                continue;
            }
            let id = document::decode_id(id_key).map_err(bad_entry)?;
            let body = if self.plan.primary {
                candidate.value.clone()
            } else {
                let mut key = self.docs_prefix.clone();
                key.extend_from_slice(id_key);
                match self.tree.get(&key)? {
                    Outcome::Missing(m) => {
                        missing.extend(m);
                        continue;
                    }
                    Outcome::Complete(Some(body)) => body,
                    Outcome::Complete(None) => {
                        return Err(bad_entry("it names a document that is not there"));
                    }
                }
            };
            docs.push(Doc::Stored { id, body });
        }
        ready!(Ok::<_, Error>(Outcome::from_missing(missing)));
        Ok(Outcome::Complete(docs))
    }

    /// The document as filters see it, `_id` included (as far as the query reads it, for a
    /// covered one).
    fn value(&self, doc: Doc<'_>) -> Result<Ipld> {
        match doc {
            Doc::Value(value) => Ok(value),
            Doc::Stored { id, body } => document::with_id(body.to_ipld()?, id)
                .ok_or_else(|| bad_entry("a document body is not a map")),
            Doc::Covered(covered) => covered.into_value(),
        }
    }

    /// The values at the filter's paths in a stored body, read from its bytes: only they are
    /// decoded (decoding each body whole cost an indexed query 5% more gas).
    fn filter_fields(&self, body: &RawValue) -> Result<Vec<Option<Ipld>>> {
        let mut fields = Vec::with_capacity(self.filter_paths.len());
        for path in &self.filter_paths {
            let mut at = Some(body.clone());
            for segment in path.segments() {
                at = at.and_then(|value| value.map_get(segment));
            }
            fields.push(at.map(|value| value.to_ipld()).transpose()?);
        }
        Ok(fields)
    }

    /// The document if it passes the filter, read from its bytes when stored.
    fn filtered<'c>(&self, doc: Doc<'c>) -> Result<Option<Doc<'c>>> {
        if self.plan.exact && self.plan.primary {
            // The ranges bound `_id` alone, and a document's `_id` is its key: every document
            // they hold matches. (An index's ranges hold what its entries say; a document read
            // through one is still checked, so that a result never contradicts itself.)
            return Ok(Some(doc));
        }
        let filter = &self.query.filter;
        Ok(match doc {
            Doc::Stored { id, body } => {
                let fields = self.filter_fields(&body)?;
                filter
                    .matches_with(&|path: &crate::path::Path| match path.is_id() {
                        true => Some(&id),
                        false => self
                            .filter_paths
                            .iter()
                            .position(|p| p == path)
                            .and_then(|i| fields[i].as_ref()),
                    })
                    .then_some(Doc::Stored { id, body })
            }
            Doc::Covered(covered) => covered.matches(filter).then_some(Doc::Covered(covered)),
            Doc::Value(value) => filter.matches(&value).then_some(Doc::Value(value)),
        })
    }

    /// Writes what a matching document becomes in the result at the end of `out`, and returns
    /// its value if it was decoded on the way. A stored document that is returned whole is never
    /// decoded: its `_id` goes into its bytes.
    fn write_result_doc(&self, doc: Doc<'_>, out: &mut Vec<u8>) -> Result<Option<Ipld>> {
        let whole = self.query.projection.is_none();
        let id_field = crate::path::ID_FIELD;
        let doc = match doc {
            Doc::Stored { id, body }
                if whole && body.write_with_entry(id_field, &form::encode(&id), out) =>
            {
                return Ok(None);
            }
            Doc::Covered(covered) => {
                covered.write_result(self.query, out)?;
                return Ok(None);
            }
            doc => doc,
        };
        let value = self.project(self.value(doc)?);
        prolly_tree::cbor::encode_ipld_into(out, &value)
            .map_err(|e| bad_entry(format!("a result document does not encode: {e}")))?;
        Ok(Some(value))
    }

    fn project(&self, doc: Ipld) -> Ipld {
        let Some(paths) = &self.query.projection else {
            return doc;
        };
        let mut out = Map::new();
        for path in paths {
            if let Some(value) = path.get(&doc) {
                path.set(&mut out, value.clone());
            }
        }
        if let Ipld::Map(map) = &doc
            && let Some(id) = map.get(crate::path::ID_FIELD)
        {
            out.insert(crate::path::ID_FIELD.to_string(), id.clone());
        }
        Ipld::Map(out)
    }

    /// The next candidate in result order across all ranges, refilling as needed.
    fn next_candidate(&self, scans: &mut [Scan<'_>]) -> Result<Outcome<Option<Candidate>>> {
        for scan in scans.iter_mut() {
            ready!(scan.fill(self.tree));
        }
        let mut best: Option<(usize, Vec<u8>)> = None;
        for (i, scan) in scans.iter().enumerate() {
            if let Some((key, _)) = scan.buffer.front() {
                let sort_key = self.streaming_sort_key(scan.stream, key)?;
                if best.as_ref().is_none_or(|(_, b)| sort_key < *b) {
                    best = Some((i, sort_key));
                }
            }
        }
        Ok(Outcome::Complete(best.map(|(i, sort_key)| {
            let (key, value) = scans[i].buffer.pop_front().expect("front exists");
            Candidate {
                key,
                value,
                sort_key,
            }
        })))
    }

    /// Results straight from the index order: merge the ranges, filter, page.
    fn streaming(&self, position: Option<Vec<u8>>) -> Result<Outcome<EncodedResult>> {
        let query = self.query;
        let limit = query.effective_limit() as usize;
        let budget = query.effective_budget();
        let mut scans = self.scans(position.as_deref())?;
        ready!(self.fill_all(&mut scans));
        let mut page = Page::new(self, self.skip);
        let mut examined = 0u64;
        let mut last: Option<Vec<u8>> = position;
        'pages: loop {
            if page.docs.len() == limit {
                page.stop = Some(Stop::Limit);
                break;
            }
            if examined >= budget {
                page.stop = Some(Stop::Budget);
                page.position = last.clone();
                break;
            }
            let wanted = (page.skip_left + limit - page.docs.len())
                .clamp(1, MAX_FETCH_BATCH)
                .min((budget - examined) as usize);
            let mut batch: Vec<Candidate> = Vec::with_capacity(wanted);
            while batch.len() < wanted {
                let Some(candidate) = ready!(self.next_candidate(&mut scans)) else {
                    break;
                };
                // A multi-entry field can list one document under two equal points (1 and 1.0).
                let previous = batch.last().map_or(last.as_ref(), |c| Some(&c.sort_key));
                if previous == Some(&candidate.sort_key) {
                    continue;
                }
                examined += 1;
                batch.push(candidate);
            }
            let Some(batch_last) = batch.last() else {
                break;
            };
            // Once per batch: the page takes each candidate's own sort key as its position.
            last = Some(batch_last.sort_key.clone());
            let sort_keys: Vec<Vec<u8>> = batch
                .iter_mut()
                .map(|c| std::mem::take(&mut c.sort_key))
                .collect();
            let docs = ready!(self.documents(&batch));
            for (sort_key, doc) in sort_keys.into_iter().zip(docs) {
                if !page.offer(doc, sort_key)? {
                    break 'pages;
                }
                if page.docs.len() == limit {
                    page.stop = Some(Stop::Limit);
                    break 'pages;
                }
            }
        }
        Ok(Outcome::Complete(page.finish(query)))
    }

    /// Every candidate of every range, in key order (budgeted: refusing beats a wrong answer).
    fn all_candidates(&self) -> Result<Outcome<Vec<Candidate>>> {
        let mut scans = self.scans(None)?;
        for scan in &mut scans {
            scan.chunk = MAX_CHUNK;
        }
        let budget = self.query.effective_budget();
        let mut out = Vec::new();
        loop {
            ready!(self.fill_all(&mut scans));
            let mut progressed = false;
            for scan in &mut scans {
                while let Some((key, value)) = scan.buffer.pop_front() {
                    progressed = true;
                    out.push(Candidate {
                        key,
                        value,
                        sort_key: Vec::new(),
                    });
                    if out.len() as u64 > budget {
                        return Err(Refusal::Unbounded(format!(
                            "needs more than its budget of {budget} entries: {}",
                            self.plan.describe()
                        ))
                        .into());
                    }
                }
            }
            if !progressed {
                return Ok(Outcome::Complete(out));
            }
        }
    }

    /// The matching documents of all candidates, each once, with their `E(_id)`.
    fn all_matches(&self) -> Result<Outcome<Matches>> {
        let candidates = ready!(self.all_candidates());
        let mut seen = BTreeSet::new();
        let mut out = Vec::new();
        let mut missing = BTreeSet::new();
        let mut spans = Vec::with_capacity(self.orders.len());
        for batch in candidates.chunks(MAX_FETCH_BATCH) {
            match self.documents(batch)? {
                Outcome::Missing(m) => missing.extend(m),
                Outcome::Complete(docs) => {
                    for (candidate, doc) in batch.iter().zip(docs) {
                        let id_key = self.parts(&candidate.key, &mut spans)?;
                        if let Some(doc) = self.filtered(doc)?
                            && seen.insert(id_key.to_vec())
                        {
                            out.push((id_key.to_vec(), self.value(doc)?));
                        }
                    }
                }
            }
        }
        ready!(Ok::<_, Error>(Outcome::from_missing(missing)));
        Ok(Outcome::Complete(out))
    }

    /// Results that need sorting after the scan: read every candidate, sort, then page.
    fn sorted_in_memory(&self, position: Option<Vec<u8>>) -> Result<Outcome<EncodedResult>> {
        let query = self.query;
        let mut matches: Vec<(Vec<u8>, Ipld)> = ready!(self.all_matches())
            .into_iter()
            .map(|(id_key, doc)| self.sort_key_of(doc, &id_key))
            .collect::<Result<_>>()?;
        matches.sort_by(|a, b| a.0.cmp(&b.0));
        let limit = query.effective_limit() as usize;
        let mut page = Page::new(self, self.skip);
        for (sort_key, doc) in matches {
            if position.as_ref().is_some_and(|p| sort_key <= *p) {
                continue;
            }
            if page.docs.len() == limit {
                page.stop = Some(Stop::Limit);
                break;
            }
            if !page.offer_matched(Doc::Value(doc), sort_key)? {
                break;
            }
        }
        if page.stop.is_none() && page.docs.len() == limit {
            page.stop = Some(Stop::Limit);
        }
        Ok(Outcome::Complete(page.finish(query)))
    }

    /// A document's place in the result order: its sort fields, then `E(_id)`.
    fn sort_key_of(&self, doc: Ipld, id_key: &[u8]) -> Result<(Vec<u8>, Ipld)> {
        let mut out = Vec::new();
        for field in &self.plan.sort {
            match field.path.get(&doc) {
                Some(value) => key::encode_value(&mut out, value, field.order)
                    .map_err(|e| bad_entry(format!("sort field {}: {e}", field.path)))?,
                None => key::encode_missing(&mut out, field.order),
            }
        }
        out.extend_from_slice(id_key);
        Ok((out, doc))
    }

    fn count(&self) -> Result<Outcome<EncodedResult>> {
        let total = if self.plan.exact {
            let mut total = 0u64;
            let mut missing = BTreeSet::new();
            for stream in &self.plan.streams {
                let hi = match &stream.hi {
                    Some(h) => Bound::Excluded(h.as_slice()),
                    None => Bound::Unbounded,
                };
                match self.tree.count(Bound::Included(stream.lo.as_slice()), hi)? {
                    Outcome::Complete(n) => total += n,
                    Outcome::Missing(m) => missing.extend(m),
                }
            }
            ready!(Ok::<_, Error>(Outcome::from_missing(missing)));
            total
        } else {
            ready!(self.all_matches()).len() as u64
        };
        Ok(Outcome::Complete(EncodedResult::new(
            ResultDocs::default(),
            Some(total),
            None,
            None,
        )))
    }
}

/// A page being filled: skip, limit, the byte cap and the resume position.
struct Page<'r, 'a, S> {
    run: &'r Run<'a, S>,
    docs: ResultDocs,
    skip_left: usize,
    stop: Option<Stop>,
    /// The sort key of the last entry consumed.
    position: Option<Vec<u8>>,
}

impl<'r, 'a, S: Blockstore> Page<'r, 'a, S> {
    fn new(run: &'r Run<'a, S>, skip: u64) -> Self {
        Page {
            run,
            docs: ResultDocs::for_page(run.query.effective_limit() as usize),
            skip_left: usize::try_from(skip).unwrap_or(usize::MAX),
            stop: None,
            position: None,
        }
    }

    /// Considers one candidate: filters it, and keeps it if it matches. False when the page is
    /// full by bytes (the candidate is then not consumed).
    fn offer(&mut self, doc: Doc<'_>, sort_key: Vec<u8>) -> Result<bool> {
        match self.run.filtered(doc)? {
            Some(doc) => self.offer_matched(doc, sort_key),
            None => {
                self.position = Some(sort_key);
                Ok(true)
            }
        }
    }

    fn offer_matched(&mut self, doc: Doc<'_>, sort_key: Vec<u8>) -> Result<bool> {
        if self.skip_left > 0 {
            self.skip_left -= 1;
            self.position = Some(sort_key);
            return Ok(true);
        }
        let run = self.run;
        self.docs.push(|out| run.write_result_doc(doc, out))?;
        if self.docs.len() > 1 && self.docs.bytes_len() > MAX_RESULT_BYTES {
            self.docs.pop();
            self.stop = Some(Stop::Bytes);
            return Ok(false);
        }
        self.position = Some(sort_key);
        Ok(true)
    }

    fn finish(self, query: &Query) -> EncodedResult {
        let cursor = match (&self.stop, &self.position) {
            (Some(_), Some(position)) => Some(cursor::encode(
                query,
                &PageCursor {
                    position: position.clone(),
                    skip: self.skip_left as u64,
                },
            )),
            _ => None,
        };
        let stop = if cursor.is_some() { self.stop } else { None };
        EncodedResult::new(self.docs, None, stop, cursor)
    }
}
