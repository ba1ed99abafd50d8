//! Applying a `WriteBatch`: all or nothing, as one tree mutation with one flush. Operations apply
//! in order over an overlay, each seeing the ones before it; indexes move with every document, so
//! they always match the documents. The first refused operation is reported by position.

use cid::Cid;
use fvm_ipld_blockstore::Blockstore;
use ipld_core::ipld::Ipld;
use prolly_tree::{Outcome, RawValue, Tree, ready};

use crate::batch::{Op, Patch, WriteBatch};
use crate::bulk;
use crate::catalog::{Catalog, Collection, IndexDef, MAX_CATALOG_BYTES, check_name};
use crate::document::{self, Document};
use crate::error::{Error, Refusal, Result, show};
use crate::form::Map;
use crate::index::{self, IndexEntry};
use crate::keyspace;
use crate::overlay::Overlay;
use crate::path::ID_FIELD;
use crate::prepared::PreparedInserts;

/// Applies a batch to `tree` in one mutation. On any refused operation or missing block nothing
/// is written and the tree is unchanged.
pub fn apply<S: Blockstore>(tree: &mut Tree<S>, batch: &WriteBatch) -> Result<Outcome<Cid>> {
    apply_with(tree, batch, None, bulk::MIN_RUN)
}

/// `apply` of `batch` followed by prepared inserts.
pub fn apply_prepared<S: Blockstore>(
    tree: &mut Tree<S>,
    batch: &WriteBatch,
    inserts: PreparedInserts,
) -> Result<Outcome<Cid>> {
    apply_with(tree, batch, Some(inserts), bulk::MIN_RUN)
}

/// `apply` with every operation taken one at a time: the reference the bulk path is tested against.
#[doc(hidden)]
pub fn apply_one_at_a_time<S: Blockstore>(
    tree: &mut Tree<S>,
    batch: &WriteBatch,
) -> Result<Outcome<Cid>> {
    apply_with(tree, batch, None, usize::MAX)
}

fn apply_with<S: Blockstore>(
    tree: &mut Tree<S>,
    batch: &WriteBatch,
    inserts: Option<PreparedInserts>,
    min_run: usize,
) -> Result<Outcome<Cid>> {
    let parent = tree.cid();
    let max_body = document::max_document_bytes(tree.config());
    let tree_batch = {
        let mut state = State {
            overlay: Overlay::new(tree),
            catalog: None,
            catalog_changed: false,
            parent,
            max_body,
            tail: Vec::new(),
        };
        let mut op = 0;
        while op < batch.ops.len() {
            let mut run = insert_run(&batch.ops[op..]);
            if run < min_run {
                run = 1;
            }
            let indexes = index_run(&batch.ops[op..]);
            let step = if run > 1 {
                let last = op + run == batch.ops.len() && inserts.is_none();
                state.bulk_insert(op, &batch.ops[op..op + run], last)
            } else if indexes > 1 && min_run < usize::MAX {
                run = indexes;
                state.create_indexes(op, &batch.ops[op..op + run])
            } else {
                state.apply(op, &batch.ops[op]).map(|o| o.map(|()| None))
            };
            match step {
                Ok(Outcome::Complete(None)) => {}
                Ok(Outcome::Complete(Some((op, reason, _)))) => {
                    return Err(refused(batch, op, reason));
                }
                Ok(Outcome::Missing(m)) => return Ok(Outcome::Missing(m)),
                Err(Failure::Refused(reason)) => return Err(refused(batch, op, reason)),
                Err(Failure::Other(e)) => return Err(e),
            }
            op += run;
        }
        if let Some(inserts) = inserts {
            let first = batch.ops.len();
            let at = |op: usize, reason: Refusal, id: Option<String>| Error::Write {
                op: first + op,
                id,
                reason,
            };
            match state.prepared_insert(inserts) {
                Ok(Outcome::Complete(None)) => {}
                Ok(Outcome::Complete(Some((op, reason, id)))) => return Err(at(op, reason, id)),
                Ok(Outcome::Missing(m)) => return Ok(Outcome::Missing(m)),
                Err(Failure::Refused(reason)) => return Err(at(0, reason, None)),
                Err(Failure::Other(e)) => return Err(e),
            }
        }
        let tail = std::mem::take(&mut state.tail);
        let catalog = match (state.catalog_changed, &state.catalog) {
            (true, Some(catalog)) => Some(catalog.to_block()),
            _ => None,
        };
        (state.overlay.into_batch_with(tail), catalog)
    };
    let (tree_batch, catalog) = tree_batch;
    let outcome = tree.apply_with_meta(&tree_batch, catalog)?;
    bulk::drop_large(tree_batch);
    Ok(outcome)
}

/// A refused write (to be tagged with its position) or any other error.
enum Failure {
    Refused(Refusal),
    Other(Error),
}

impl From<Refusal> for Failure {
    fn from(e: Refusal) -> Self {
        Failure::Refused(e)
    }
}

impl From<Error> for Failure {
    fn from(e: Error) -> Self {
        match e {
            Error::Refused(r) => Failure::Refused(r),
            other => Failure::Other(other),
        }
    }
}

/// Operation `op` refused, named by its position and, where it gives one, its document's `_id`.
fn refused(batch: &WriteBatch, op: usize, reason: Refusal) -> Error {
    let id = batch.ops.get(op).and_then(|op| match op {
        Op::Insert { doc, .. } | Op::Upsert { doc, .. } => match doc {
            Ipld::Map(body) => body.get(ID_FIELD).map(show),
            _ => None,
        },
        Op::Update { id, .. } | Op::Delete { id, .. } => Some(show(id)),
        _ => None,
    });
    Error::Write { op, id, reason }
}

impl From<prolly_tree::Error> for Failure {
    fn from(e: prolly_tree::Error) -> Self {
        Failure::Other(e.into())
    }
}

type Step<T> = std::result::Result<Outcome<T>, Failure>;

/// A refused operation of a run of inserts, with the `_id` it names.
type RunRefusal = (usize, Refusal, Option<String>);

/// How many operations from the start of `ops` insert into one collection (0 if the first does not).
fn insert_run(ops: &[Op]) -> usize {
    run_of(ops, |op| matches!(op, Op::Insert { .. }))
}

/// How many operations from the start of `ops` create indexes on one collection.
fn index_run(ops: &[Op]) -> usize {
    run_of(ops, |op| matches!(op, Op::CreateIndex { .. }))
}

/// How many operations from the start of `ops` are of `kind` and on the first one's collection.
fn run_of(ops: &[Op], kind: impl Fn(&Op) -> bool) -> usize {
    match ops.first() {
        Some(first) if kind(first) => ops
            .iter()
            .take_while(|op| kind(op) && op.collection() == first.collection())
            .count(),
        _ => 0,
    }
}

struct State<'t, S> {
    /// Sorted writes of a bulk run that ends the batch, kept out of the overlay (newer than it).
    tail: Vec<(Vec<u8>, RawValue)>,
    overlay: Overlay<'t, S>,
    /// The catalog as this batch has left it so far, once read.
    catalog: Option<Catalog>,
    /// Whether an operation changed it: then the root object links a new catalog block.
    catalog_changed: bool,
    parent: Cid,
    /// The largest document body this database takes.
    max_body: usize,
}

impl<S: Blockstore> State<'_, S> {
    fn collection(&mut self, name: &str) -> Step<Option<Collection>> {
        if self.catalog.is_none() {
            self.catalog = Some(ready!(Catalog::load(self.overlay.tree())));
        }
        let catalog = self.catalog.as_ref().expect("just read");
        Ok(Outcome::Complete(catalog.collections.get(name).cloned()))
    }

    fn existing(&mut self, name: &str) -> Step<Collection> {
        match ready!(self.collection(name)) {
            Some(c) => Ok(Outcome::Complete(c)),
            None => Err(Refusal::NoCollection(name.to_string()).into()),
        }
    }

    /// Records a collection as this batch leaves it (`None`: dropped). Callers read it first.
    /// The catalog is one block: past its limit the operation is refused.
    fn save(
        &mut self,
        name: &str,
        collection: Option<Collection>,
    ) -> std::result::Result<(), Refusal> {
        let catalog = self
            .catalog
            .as_mut()
            .expect("an operation reads its collection before saving it");
        let grows = collection.is_some();
        match collection {
            Some(c) => catalog.collections.insert(name.to_string(), c),
            None => catalog.collections.remove(name),
        };
        self.catalog_changed = true;
        let size = catalog.to_block().len();
        if grows && size > MAX_CATALOG_BYTES {
            return Err(Refusal::CatalogTooLarge {
                size,
                max: MAX_CATALOG_BYTES,
            });
        }
        Ok(())
    }

    fn delete_prefix(&mut self, prefix: &[u8]) -> Step<()> {
        for (key, _) in ready!(self.overlay.scan_prefix(prefix)) {
            self.overlay.delete(key);
        }
        Ok(Outcome::Complete(()))
    }

    fn apply(&mut self, op: usize, write: &Op) -> Step<()> {
        let name = write.collection();
        match write {
            Op::CreateCollection { .. } => {
                check_name(name)?;
                if ready!(self.collection(name)).is_some() {
                    return Err(Refusal::CollectionExists(name.into()).into());
                }
                self.save(name, Some(Collection::default()))?;
            }
            Op::DropCollection { .. } => {
                ready!(self.existing(name));
                ready!(self.delete_prefix(&keyspace::documents_prefix(name)));
                ready!(self.delete_prefix(&keyspace::indexes_prefix(name)));
                self.save(name, None)?;
            }
            Op::CreateIndex { index, .. } => {
                index.validate()?;
                let mut collection = ready!(self.existing(name));
                if collection.indexes.contains_key(&index.name) {
                    return Err(Refusal::IndexExists(index.name.clone()).into());
                }
                let docs = ready!(self.overlay.scan_prefix(&keyspace::documents_prefix(name)));
                let prefix_len = keyspace::documents_prefix(name).len();
                for (key, body) in docs {
                    let doc = stored_document(&key[prefix_len..], &body)?;
                    ready!(self.put_entries(name, index, &doc));
                }
                collection.indexes.insert(index.name.clone(), index.clone());
                self.save(name, Some(collection))?;
            }
            Op::DropIndex { name: index, .. } => {
                let mut collection = ready!(self.existing(name));
                if collection.indexes.remove(index).is_none() {
                    return Err(Refusal::NoIndex(index.clone()).into());
                }
                ready!(self.delete_prefix(&keyspace::index_prefix(name, index)));
                self.save(name, Some(collection))?;
            }
            Op::Insert { doc, .. } => {
                let parent = self.parent;
                let doc = Document::new(doc.clone(), || document::generated_id(&parent, op))?;
                let collection = ready!(self.existing(name));
                if ready!(self.overlay.get(&doc_key(name, &doc))).is_some() {
                    return Err(Refusal::DuplicateId(show(&doc.id)).into());
                }
                ready!(self.write_document(name, &collection, None, &doc));
            }
            Op::Upsert { doc, .. } => {
                let Ipld::Map(map) = doc else {
                    return Err(Refusal::BadDocument("a document is a map".into()).into());
                };
                if !map.contains_key(ID_FIELD) {
                    return Err(Refusal::BadDocument("upsert needs an _id".into()).into());
                }
                let doc = Document::new(doc.clone(), || unreachable!("checked above"))?;
                let collection = ready!(self.existing(name));
                let old = ready!(self.load(name, &doc));
                ready!(self.write_document(name, &collection, old.as_ref(), &doc));
            }
            Op::Update { id, patch, .. } => {
                let collection = ready!(self.existing(name));
                let probe = Document::from_parts(id.clone(), Map::new())?;
                let Some(old) = ready!(self.load(name, &probe)) else {
                    return Err(Refusal::NotFound(show(id)).into());
                };
                let body = patched(&old, patch)?;
                let new = Document::from_parts(id.clone(), body)?;
                ready!(self.write_document(name, &collection, Some(&old), &new));
            }
            Op::Delete { id, .. } => {
                let collection = ready!(self.existing(name));
                let probe = Document::from_parts(id.clone(), Map::new())?;
                if let Some(old) = ready!(self.load(name, &probe)) {
                    for def in collection.indexes.values() {
                        for entry in index::entries(name, def, &old)? {
                            self.overlay.delete(entry.key);
                        }
                    }
                    self.overlay.delete(doc_key(name, &old));
                }
            }
        }
        Ok(Outcome::Complete(()))
    }

    /// A run of inserts into one collection as sorted runs (see `bulk`). `last`: nothing follows
    /// in the batch, so the writes need not be visible to later operations.
    fn bulk_insert(&mut self, first: usize, ops: &[Op], last: bool) -> Step<Option<RunRefusal>> {
        let name = ops[0].collection();
        let collection = ready!(self.existing(name));
        let docs: Vec<(usize, bulk::Input)> = ops
            .iter()
            .enumerate()
            .map(|(i, op)| match op {
                Op::Insert { doc, .. } => (first + i, bulk::Input::Document(doc)),
                _ => unreachable!("a run holds inserts only"),
            })
            .collect();
        let to = bulk::Destination {
            name,
            collection: &collection,
            parent: Some(&self.parent),
            max_body: self.max_body,
        };
        self.write_run(name, &collection, bulk::Run::new(to, &docs), last)
    }

    /// A run of `create_index` operations on one collection (`first` is the first's number),
    /// with one scan of the documents for all of them: creating three indexes after an import of
    /// 336,776 flights scanned and decoded every document three times. The first refusal is the
    /// one applying them one at a time gives: each operation's checks, its entries (in document
    /// order) and its catalog record come before the next operation's.
    fn create_indexes(&mut self, first: usize, ops: &[Op]) -> Step<Option<RunRefusal>> {
        let name = ops[0].collection();
        if let Op::CreateIndex { index, .. } = &ops[0] {
            // One at a time, the first definition is checked before the collection is read.
            index.validate()?;
        }
        let mut collection = ready!(self.existing(name));
        // The operations whose own checks pass, up to the first that fails them.
        let mut refusal: Option<(usize, Refusal)> = None;
        let mut defs: Vec<&IndexDef> = Vec::new();
        let mut names = std::collections::BTreeSet::new();
        for (i, op) in ops.iter().enumerate() {
            let Op::CreateIndex { index, .. } = op else {
                unreachable!("a run holds create_index only")
            };
            let check = index.validate().and_then(|()| {
                if collection.indexes.contains_key(&index.name) || !names.insert(&index.name) {
                    Err(Refusal::IndexExists(index.name.clone()))
                } else {
                    Ok(())
                }
            });
            if let Err(reason) = check {
                refusal = Some((first + i, reason));
                break;
            }
            defs.push(index);
        }
        let docs = ready!(self.overlay.scan_prefix(&keyspace::documents_prefix(name)));
        let prefix_len = keyspace::documents_prefix(name).len();
        for (key, body) in docs {
            if defs.is_empty() {
                break;
            }
            let doc = stored_document(&key[prefix_len..], &body)?;
            for (i, def) in defs.iter().enumerate() {
                match self.put_entries(name, def, &doc) {
                    Ok(Outcome::Complete(())) => {}
                    Ok(Outcome::Missing(m)) => return Ok(Outcome::Missing(m)),
                    // This operation fails; later ones no longer matter.
                    Err(Failure::Refused(reason)) => {
                        refusal = Some((first + i, reason));
                        defs.truncate(i);
                        break;
                    }
                    Err(other) => return Err(other),
                }
            }
        }
        for (i, def) in defs.into_iter().enumerate() {
            collection.indexes.insert(def.name.clone(), def.clone());
            if let Err(reason) = self.save(name, Some(collection.clone())) {
                refusal = Some((first + i, reason));
                break;
            }
        }
        Ok(Outcome::Complete(
            refusal.map(|(op, reason)| (op, reason, None)),
        ))
    }

    /// Inserts prepared ahead, if the collection is still as they were prepared for.
    fn prepared_insert(&mut self, inserts: PreparedInserts) -> Step<Option<RunRefusal>> {
        let name = inserts.collection.as_str();
        let collection = ready!(self.existing(name));
        if collection != inserts.definition || self.max_body != inserts.max_body {
            return Err(Refusal::PreparedForOther(name.to_string()).into());
        }
        self.write_run(name, &collection, inserts.run, true)
    }

    /// Writes a prepared run after checking it against what is stored: the first refusal, in
    /// operation order, is what one-at-a-time application would give.
    fn write_run(
        &mut self,
        name: &str,
        collection: &Collection,
        run: bulk::Run,
        last: bool,
    ) -> Step<Option<RunRefusal>> {
        let refusal = run.refusal;
        // Clashes with what is already stored (skipped when the collection is empty).
        if !ready!(
            self.overlay
                .prefix_is_empty(&keyspace::documents_prefix(name))
        ) {
            let defs: Vec<&IndexDef> = collection.indexes.values().collect();
            for probe in &run.probes {
                // An earlier refusal stands (at the same operation too, as a clash within the
                // run is found first one at a time).
                if refusal.as_ref().is_some_and(|r| r.0 <= probe.op) {
                    break;
                }
                let id = show(&probe.id);
                if ready!(self.overlay.get(&probe.key)).is_some() {
                    let duplicate = Refusal::DuplicateId(id.clone());
                    return Ok(Outcome::Complete(Some((probe.op, duplicate, Some(id)))));
                }
                for (position, prefix, key) in &probe.unique {
                    if let Some(other) = ready!(self.overlay.other_with_prefix(prefix, key)) {
                        let existing = holder(&other, prefix);
                        let clash = Refusal::Unique {
                            index: defs[*position].name.clone(),
                            value: "(an indexed value)".into(),
                            existing,
                        };
                        return Ok(Outcome::Complete(Some((probe.op, clash, Some(id)))));
                    }
                }
            }
        }
        if refusal.is_some() {
            return Ok(Outcome::Complete(refusal));
        }
        if last {
            self.tail = run.writes;
        } else {
            for (key, value) in run.writes {
                self.overlay.put(key, value);
            }
        }
        Ok(Outcome::Complete(None))
    }

    /// The stored document with `doc`'s id, if any.
    fn load(&mut self, collection: &str, doc: &Document) -> Step<Option<Document>> {
        let Some(body) = ready!(self.overlay.get(&doc_key(collection, doc))) else {
            return Ok(Outcome::Complete(None));
        };
        Ok(Outcome::Complete(Some(stored_document(
            &doc.id_key,
            &body,
        )?)))
    }

    /// Writes a document and moves its index entries from `old` to `new`.
    fn write_document(
        &mut self,
        name: &str,
        collection: &Collection,
        old: Option<&Document>,
        new: &Document,
    ) -> Step<()> {
        let body = new.encode_body(self.max_body)?;
        let key = doc_key(name, new);
        // Size the whole leaf entry: key and body share one node.
        if key.len() > document::MAX_ID_BYTES + keyspace::documents_prefix(name).len() {
            return Err(Refusal::KeyTooLarge {
                size: key.len(),
                max: document::MAX_ID_BYTES,
            }
            .into());
        }
        for def in collection.indexes.values() {
            let before = match old {
                Some(old) => index::entries(name, def, old)?,
                None => Vec::new(),
            };
            for entry in &before {
                self.overlay.delete(entry.key.clone());
            }
            ready!(self.put_entries(name, def, new));
        }
        self.overlay.put(key, body);
        Ok(Outcome::Complete(()))
    }

    /// Adds a document's entries to one index, holding unique indexes to their promise.
    fn put_entries(&mut self, name: &str, def: &IndexDef, doc: &Document) -> Step<()> {
        for IndexEntry {
            key,
            value,
            unique_prefix,
        } in index::entries(name, def, doc)?
        {
            if def.unique
                && let Some(prefix) = unique_prefix
                && let Some(other) = ready!(self.overlay.other_with_prefix(&prefix, &key))
            {
                let existing = holder(&other, &prefix);
                let value = def
                    .fields
                    .iter()
                    .map(|f| f.path.get(&doc.to_ipld()).map(show).unwrap_or_default())
                    .collect::<Vec<_>>()
                    .join(", ");
                return Err(Refusal::Unique {
                    index: def.name.clone(),
                    value,
                    existing,
                }
                .into());
            }
            self.overlay.put(key, value);
        }
        Ok(Outcome::Complete(()))
    }
}

/// The `_id` (as messages show it) of the document whose unique-index entry `entry` holds the
/// value under `prefix`.
fn holder(entry: &[u8], prefix: &[u8]) -> String {
    document::decode_id(&entry[prefix.len()..])
        .map(|id| show(&id))
        .unwrap_or_else(|_| "?".into())
}

fn doc_key(collection: &str, doc: &Document) -> Vec<u8> {
    let mut key = keyspace::documents_prefix(collection);
    key.extend_from_slice(&doc.id_key);
    key
}

/// A document read back from its key suffix (`E(_id)`) and stored body.
pub(crate) fn stored_document(id_key: &[u8], body: &RawValue) -> Result<Document> {
    let id = document::decode_id(id_key).map_err(|e| Error::corrupt("document key", e))?;
    let Ipld::Map(body) = body.to_ipld()? else {
        return Err(Error::corrupt("document", "its body is not a map"));
    };
    Ok(Document {
        id,
        id_key: id_key.to_vec(),
        body,
    })
}

fn patched(old: &Document, patch: &Patch) -> std::result::Result<Map, Refusal> {
    match patch {
        Patch::Replace(body) => {
            let mut body = body.clone();
            if let Some(id) = body.remove(ID_FIELD)
                && !crate::filter::values_equal(&id, &old.id)
            {
                return Err(Refusal::BadDocument("replace may not change _id".into()));
            }
            Ok(body)
        }
        Patch::Merge { set, unset } => {
            let mut body = old.body.clone();
            for (path, value) in set {
                if path.is_id() {
                    return Err(Refusal::BadDocument("set may not change _id".into()));
                }
                if !path.set(&mut body, value.clone()) {
                    return Err(Refusal::BadPath {
                        path: path.to_string(),
                        why: "steps through a non-map",
                    });
                }
            }
            for path in unset {
                if path.is_id() {
                    return Err(Refusal::BadDocument("unset may not remove _id".into()));
                }
                path.remove(&mut body);
            }
            Ok(body)
        }
    }
}
