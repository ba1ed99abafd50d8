//! `Tree`: a handle on one version of the tree, named by its root object's CID.

use std::ops::Bound;

use std::sync::Arc;

use bytes::Bytes;
use cid::Cid;
use fvm_ipld_blockstore::{Block, Blockstore};
use fvm_ipld_encoding::DAG_CBOR;
use ipld_core::ipld::Ipld;
use multihash_codetable::Code;

use crate::batch::{self, Batch};
use crate::build::Builder;
use crate::config::Config;
use crate::cursor::Cursor;
use crate::diff::{self, Change};
use crate::error::{ConfigError, InvalidInput, Result};
use crate::merge::{self, Conflict, Resolution};
use crate::node::{Entry, Value};
use crate::outcome::Outcome;
use crate::range::{self, Direction, KeyRange, Pair};
use crate::rank;
use crate::ready;
use crate::root::RootObject;
use crate::stats::{self, Stats};
use crate::store::{NodeCache, NodeReader, Writer};
use crate::value::RawValue;

/// A batch with more than this many operations per entry of the tree is applied as a rebuild.
const REBUILD_RATIO: u64 = 2;

/// One version of a tree. Mutations write a new version and move the handle to it; clones share
/// a cache of decoded nodes.
#[derive(Clone)]
pub struct Tree<S> {
    store: S,
    cid: Cid,
    root: RootObject,
    cache: Arc<NodeCache>,
}

impl<S> std::fmt::Debug for Tree<S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Tree")
            .field("cid", &self.cid)
            .field("root", &self.root)
            .finish()
    }
}

impl<S: Blockstore> Tree<S> {
    /// A new empty tree, written to the store.
    pub fn empty(store: S, config: Config) -> Result<Self> {
        Self::build_raw(store, config, std::iter::empty::<(Bytes, RawValue)>())
    }

    /// A new empty tree whose root object links `meta`, a DAG-CBOR block written with it.
    pub fn empty_with_meta(store: S, config: Config, meta: Vec<u8>) -> Result<Self> {
        Self::build_from(
            store,
            config,
            std::iter::empty::<Result<(Bytes, _)>>(),
            Some(meta),
        )
    }

    /// Builds a tree from entries in strictly ascending key order, in one pass and one flush.
    /// All or nothing: a value DAG-CBOR cannot hold, or keys out of order, write no block.
    pub fn build<K: AsRef<[u8]>>(
        store: S,
        config: Config,
        entries: impl IntoIterator<Item = (K, Ipld)>,
    ) -> Result<Self> {
        Self::build_from(
            store,
            config,
            entries
                .into_iter()
                .map(|(k, v)| Ok((k, RawValue::from_ipld(&v)?))),
            None,
        )
    }

    /// Builds a tree from already encoded values, in strictly ascending key order.
    pub fn build_raw<K: AsRef<[u8]>>(
        store: S,
        config: Config,
        entries: impl IntoIterator<Item = (K, RawValue)>,
    ) -> Result<Self> {
        Self::build_from(store, config, entries.into_iter().map(Ok), None)
    }

    /// The bulk build: every block stays in the writer until the last entry is in, so the first
    /// error returns before anything reaches the store.
    fn build_from<K: AsRef<[u8]>>(
        store: S,
        config: Config,
        entries: impl Iterator<Item = Result<(K, RawValue)>>,
        meta: Option<Vec<u8>>,
    ) -> Result<Self> {
        config.validate()?;
        let mut writer = Writer::default();
        let mut builder = Builder::new(config);
        for entry in entries {
            let (key, value) = entry?;
            builder.push(key.as_ref(), &value, &mut writer)?;
        }
        let count = builder.count();
        let root = builder.finish(&mut writer);
        let meta = meta.map(|block| writer.write_raw(block));
        Self::commit(store, config, root, count, writer, meta)
    }

    /// Opens the tree whose root object is `cid`.
    pub fn load(store: S, cid: Cid) -> Result<Outcome<Self>> {
        let root = ready!(RootObject::load(&store, &cid));
        Ok(Outcome::Complete(Tree {
            store,
            cid,
            root,
            cache: Arc::default(),
        }))
    }

    /// This handle, reading nodes without hashing them: only for a store that checks every block
    /// against its CID itself (the FVM's, inside an actor). See [`NodeCache::trusting_store`].
    /// Such a store also names the blocks it stores, so new blocks go to it as they are written
    /// (`Blockstore::put`) and are not hashed here; a write that fails leaves the blocks it put
    /// unlinked (the FVM keeps only blocks reachable from an actor's state).
    pub fn trusting_store(mut self) -> Self {
        self.cache = Arc::new(NodeCache::trusting_store(64 << 20));
        self
    }

    /// Another version in the same store, sharing this handle's node cache.
    pub fn at(&self, cid: Cid) -> Result<Outcome<Self>>
    where
        S: Clone,
    {
        let root = ready!(RootObject::load(&self.store, &cid));
        Ok(Outcome::Complete(Tree {
            store: self.store.clone(),
            cid,
            root,
            cache: self.cache.clone(),
        }))
    }

    fn reader(&self) -> NodeReader<'_, S> {
        NodeReader::new(&self.store, &self.cache)
    }

    /// The CID of the root object: what names this version.
    pub fn cid(&self) -> Cid {
        self.cid
    }

    pub fn root_object(&self) -> &RootObject {
        &self.root
    }

    pub fn config(&self) -> &Config {
        &self.root.config
    }

    /// Number of entries.
    pub fn len(&self) -> u64 {
        self.root.count
    }

    pub fn is_empty(&self) -> bool {
        self.root.count == 0
    }

    pub fn store(&self) -> &S {
        &self.store
    }

    pub fn into_store(self) -> S {
        self.store
    }

    /// A cursor positioned before the first entry.
    pub fn cursor(&self) -> Cursor<'_, S> {
        Cursor::new(self.reader(), self.root.node)
    }

    /// The value under `key`, if any, as encoded DAG-CBOR (`.to_ipld()` or `.decode()` it).
    pub fn get(&self, key: &[u8]) -> Result<Outcome<Option<RawValue>>> {
        // Down one path, keeping none: the leaf whose span holds the key proves it there or not.
        let reader = self.reader();
        let leaf = ready!(crate::path::descend_to(
            &reader,
            &self.root.node,
            0,
            |node| {
                match node.count_below(key, false) {
                    at if at < node.entries.len() => crate::path::Route::Child(at),
                    _ => crate::path::Route::Stop,
                }
            }
        ));
        let found = leaf.and_then(|leaf| {
            let entry = leaf.entries.get(leaf.count_below(key, false))?;
            match &entry.value {
                Value::Data(v) if &entry.key[..] == key => Some(v.clone()),
                _ => None,
            }
        });
        Ok(Outcome::Complete(found))
    }

    /// Every entry with a key in `[lo, hi]` (each bound included, excluded or open), in key order
    /// or its reverse. Over a partial store it reports every missing block of the next level at once.
    pub fn range(
        &self,
        lo: Bound<&[u8]>,
        hi: Bound<&[u8]>,
        direction: Direction,
    ) -> Result<Outcome<Vec<Pair>>> {
        self.range_limit(lo, hi, direction, usize::MAX)
    }

    /// At most `limit` entries of a range, starting from the end `direction` reads from. Over a
    /// partial store it reports, per level, the missing blocks those entries need.
    pub fn range_limit(
        &self,
        lo: Bound<&[u8]>,
        hi: Bound<&[u8]>,
        direction: Direction,
        limit: usize,
    ) -> Result<Outcome<Vec<Pair>>> {
        range::collect(
            self.reader(),
            self.root.node,
            KeyRange::new(lo, hi),
            direction,
            limit,
        )
    }

    /// How many entries have a key in `[lo, hi]` (each bound included, excluded or open). Reads
    /// at most two paths, through the per-child counts.
    pub fn count(&self, lo: Bound<&[u8]>, hi: Bound<&[u8]>) -> Result<Outcome<u64>> {
        // Both paths are walked even when one misses blocks, so a cold reader fetches them together.
        let below_lo = match lo {
            Bound::Included(k) => rank::rank(self.reader(), self.root.node, k, false)?,
            Bound::Excluded(k) => rank::rank(self.reader(), self.root.node, k, true)?,
            Bound::Unbounded => Outcome::Complete(0),
        };
        let up_to_hi = match hi {
            Bound::Included(k) => rank::rank(self.reader(), self.root.node, k, true)?,
            Bound::Excluded(k) => rank::rank(self.reader(), self.root.node, k, false)?,
            Bound::Unbounded => Outcome::Complete(self.root.count),
        };
        match (below_lo, up_to_hi) {
            (Outcome::Complete(lo), Outcome::Complete(hi)) => {
                Ok(Outcome::Complete(hi.saturating_sub(lo)))
            }
            (a, b) => {
                let mut missing = a.missing();
                missing.extend(b.missing());
                Ok(Outcome::Missing(missing))
            }
        }
    }

    /// The number of entries with a key below `key`: its position if present.
    pub fn rank(&self, key: &[u8]) -> Result<Outcome<u64>> {
        rank::rank(self.reader(), self.root.node, key, false)
    }

    /// The entry at position `index` in key order (0-based), if any: one path, not a scan.
    pub fn nth(&self, index: u64) -> Result<Outcome<Option<Pair>>> {
        rank::select(self.reader(), self.root.node, index)
    }

    /// Applies puts and deletes in one pass down the tree and one flush. On any error or missing
    /// block, nothing is written and the tree is unchanged.
    pub fn apply(&mut self, batch: &Batch) -> Result<Outcome<Cid>> {
        self.apply_with_meta(batch, None)
    }

    /// `apply`, and if `meta` is given, link that DAG-CBOR block (written in the same flush) as
    /// the root object's `meta` instead of the current one.
    pub fn apply_with_meta(
        &mut self,
        batch: &Batch,
        meta: Option<Vec<u8>>,
    ) -> Result<Outcome<Cid>> {
        if batch.len() as u64 > REBUILD_RATIO * self.root.count {
            return self.rebuild(batch, meta);
        }
        self.apply_incremental(batch, meta)
    }

    /// The block the root object links beside the tree (`RootObject::meta`), if any.
    pub fn meta(&self) -> Option<Cid> {
        self.root.meta
    }

    /// `apply` down one path whatever the batch's size: level by level (`false`) or as a
    /// rebuild (`true`). For the test that holds the two paths to the same root.
    #[doc(hidden)]
    pub fn apply_by(&mut self, batch: &Batch, rebuild: bool) -> Result<Outcome<Cid>> {
        if rebuild {
            self.rebuild(batch, None)
        } else {
            self.apply_incremental(batch, None)
        }
    }

    fn apply_incremental(&mut self, batch: &Batch, meta: Option<Vec<u8>>) -> Result<Outcome<Cid>> {
        let put = |bytes: &[u8]| self.put_named(bytes);
        let mut writer = Writer::retaining().putting_now(self.names_blocks().then_some(&put));
        let root = ready!(batch::apply(
            self.reader(),
            &self.root.config,
            self.root.node,
            batch,
            &mut writer
        ));
        let (node, count) = match root {
            Some(root) => {
                let count = root.count();
                let Value::Child { cid, .. } = root.value else {
                    unreachable!("node entry")
                };
                (cid, count)
            }
            None if meta.is_none() => return Ok(Outcome::Complete(self.cid)),
            None => (self.root.node, self.root.count),
        };
        let (cid, root) = self.finish(writer, node, count, meta)?;
        Ok(Outcome::Complete(self.moved_to(cid, root)))
    }

    /// Whether new blocks go to the store as they are written, named by it (see
    /// [`Tree::trusting_store`]).
    fn names_blocks(&self) -> bool {
        self.cache.trusts_store()
    }

    /// Puts a DAG-CBOR block the way a store that names blocks is given one.
    fn put_named(&self, bytes: &[u8]) -> anyhow::Result<Cid> {
        self.store
            .put(Code::Blake2b256, &Block::new(DAG_CBOR, bytes))
    }

    fn moved_to(&mut self, cid: Cid, root: RootObject) -> Cid {
        self.cid = cid;
        self.root = root;
        cid
    }

    /// Writes the root object (linking the new `meta` block, if any, or the current one) and
    /// flushes; returns the new root.
    fn finish(
        &self,
        mut writer: Writer<'_>,
        node: Cid,
        count: u64,
        meta: Option<Vec<u8>>,
    ) -> Result<(Cid, RootObject)> {
        let meta = match meta {
            Some(block) => Some(writer.write_raw(block)),
            None => self.root.meta,
        };
        let root_object = RootObject::new(self.root.config, node, count).with_meta(meta);
        let cid = writer.write_raw(root_object.encode());
        writer.flush(&self.store, &self.cache)?;
        Ok((cid, root_object))
    }

    /// Applies a batch much larger than the tree as one streaming build of the merged entries:
    /// nearly every node would be rewritten anyway, and a build does not re-chunk. History
    /// independence makes the root the same as the level-by-level merge's.
    fn rebuild(&mut self, batch: &Batch, meta: Option<Vec<u8>>) -> Result<Outcome<Cid>> {
        if let Some(e) = batch.invalid() {
            return Err(InvalidInput::Encode(e).into());
        }
        let old = ready!(self.range(Bound::Unbounded, Bound::Unbounded, Direction::Forward));
        let put = |bytes: &[u8]| self.put_named(bytes);
        let mut writer = Writer::default().putting_now(self.names_blocks().then_some(&put));
        let mut builder = Builder::new(self.root.config);
        let mut old = old.into_iter().peekable();
        let mut push = |key: &[u8], value: &RawValue, writer: &mut Writer<'_>| {
            builder.push(key, value, writer)
        };
        for (key, change) in batch.iter() {
            while let Some((k, _)) = old.peek()
                && k < key
            {
                let (k, v) = old.next().expect("peeked");
                push(&k, &v, &mut writer)?;
            }
            if old.peek().is_some_and(|(k, _)| k == key) {
                old.next();
            }
            if let Some(value) = change {
                push(key, value, &mut writer)?;
            }
        }
        for (k, v) in old {
            push(&k, &v, &mut writer)?;
        }
        let count = builder.count();
        let root = builder.finish(&mut writer);
        let Value::Child { cid: node, .. } = root.value else {
            unreachable!("node entry")
        };
        let (cid, root) = self.finish(writer, node, count, meta)?;
        Ok(Outcome::Complete(self.moved_to(cid, root)))
    }

    pub fn put(&mut self, key: impl Into<Bytes>, value: Ipld) -> Result<Outcome<Cid>> {
        let mut batch = Batch::new();
        batch.put(key, value);
        self.apply(&batch)
    }

    pub fn delete(&mut self, key: impl Into<Bytes>) -> Result<Outcome<Cid>> {
        let mut batch = Batch::new();
        batch.delete(key);
        self.apply(&batch)
    }

    /// The keys whose values differ from `other` (same store): `left` is this tree's value.
    pub fn diff(&self, other: &Tree<S>) -> Result<Outcome<Vec<Change>>> {
        diff::diff(self.reader(), self.root.node, other.root.node)
    }

    /// Merges `right` into this tree against their common `base` (all in this tree's store), and
    /// moves this tree to the result. `resolve` decides keys that both sides changed differently.
    pub fn merge(
        &mut self,
        base: &Tree<S>,
        right: &Tree<S>,
        resolve: impl FnMut(Conflict) -> Resolution,
    ) -> Result<Outcome<Cid>> {
        for other in [base, right] {
            if other.root.config != self.root.config {
                return Err(ConfigError::Mismatch {
                    found: format!("{:?}", other.root.config),
                    expected: format!("{:?}", self.root.config),
                }
                .into());
            }
        }
        let batch = ready!(merge::merge_batch(
            self.reader(),
            base.root.node,
            self.root.node,
            right.root.node,
            resolve
        ));
        self.apply(&batch)
    }

    /// Depth, node count, bytes and node-size histogram. Reads every node.
    pub fn stats(&self) -> Result<Outcome<Stats>> {
        stats::stats(&self.store, self.root.node)
    }

    fn commit(
        store: S,
        config: Config,
        root: Entry,
        count: u64,
        mut writer: Writer<'_>,
        meta: Option<Cid>,
    ) -> Result<Self> {
        let Value::Child { cid: node, .. } = root.value else {
            unreachable!("node entry")
        };
        let root = RootObject::new(config, node, count).with_meta(meta);
        let cid = writer.write_raw(root.encode());
        let cache = Arc::<NodeCache>::default();
        writer.flush(&store, &cache)?;
        Ok(Tree {
            store,
            cid,
            root,
            cache,
        })
    }
}
