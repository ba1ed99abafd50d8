//! `Tree`: a handle on one version of the tree, named by its root object's CID.

use std::ops::Bound;

use cid::Cid;
use fvm_ipld_blockstore::Blockstore;
use ipld_core::ipld::Ipld;

use crate::batch::{self, Batch};
use crate::build::Builder;
use crate::config::Config;
use crate::cursor::Cursor;
use crate::diff::{self, Change};
use crate::error::{Error, Result};
use crate::merge::{self, Conflict, Resolution};
use crate::node::{Entry, Value};
use crate::outcome::Outcome;
use crate::range::{self, Direction, KeyRange};
use crate::ready;
use crate::root::RootObject;
use crate::stats::{self, Stats};
use crate::store::Writer;

/// One immutable version of a tree. Mutations return a new root; the handle then moves to it.
#[derive(Debug, Clone)]
pub struct Tree<S> {
    store: S,
    cid: Cid,
    root: RootObject,
}

impl<S: Blockstore> Tree<S> {
    /// A new empty tree, written to the store.
    pub fn empty(store: S, config: Config) -> Result<Self> {
        Self::build(store, config, std::iter::empty())
    }

    /// Builds a tree from entries in strictly ascending key order, in one pass and one flush.
    pub fn build(
        store: S,
        config: Config,
        entries: impl IntoIterator<Item = (Vec<u8>, Ipld)>,
    ) -> Result<Self> {
        config.validate()?;
        let mut writer = Writer::default();
        let mut builder = Builder::new(config);
        for (key, value) in entries {
            builder.push(
                Entry {
                    key,
                    value: Value::Data(value),
                },
                &mut writer,
            )?;
        }
        let count = builder.count();
        let root = builder.finish(&mut writer);
        Self::commit(store, config, root, count, writer)
    }

    /// Opens the tree whose root object is `cid`.
    pub fn load(store: S, cid: Cid) -> Result<Outcome<Self>> {
        let root = ready!(RootObject::load(&store, &cid));
        Ok(Outcome::Complete(Tree { store, cid, root }))
    }

    /// Opens a tree and checks that it was cut with `config`: a writer must not mix configurations.
    pub fn load_with(store: S, cid: Cid, config: &Config) -> Result<Outcome<Self>> {
        let tree = ready!(Self::load(store, cid));
        if tree.root.config != *config {
            return Err(Error::Config(format!(
                "tree was built with {:?}, not {config:?}",
                tree.root.config
            )));
        }
        Ok(Outcome::Complete(tree))
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
        Cursor::new(&self.store, self.root.node)
    }

    /// The value under `key`, if any.
    pub fn get(&self, key: &[u8]) -> Result<Outcome<Option<Ipld>>> {
        let mut cursor = self.cursor();
        ready!(cursor.seek(key));
        let found = match (cursor.key(), cursor.value()) {
            (Some(k), Some(v)) if k == key => Some(v.clone()),
            _ => None,
        };
        Ok(Outcome::Complete(found))
    }

    /// Every entry with a key in `[lo, hi]` (each bound included, excluded or open), in key order
    /// or its reverse. Over a partial store it reports every missing block of the next level at once.
    pub fn range(
        &self,
        lo: Bound<&[u8]>,
        hi: Bound<&[u8]>,
        direction: Direction,
    ) -> Result<Outcome<Vec<(Vec<u8>, Ipld)>>> {
        range::collect(
            &self.store,
            self.root.node,
            KeyRange::new(lo, hi),
            direction,
            None,
        )
    }

    /// At most `limit` entries of a range, starting from the end `direction` reads from.
    pub fn range_limit(
        &self,
        lo: Bound<&[u8]>,
        hi: Bound<&[u8]>,
        direction: Direction,
        limit: usize,
    ) -> Result<Outcome<Vec<(Vec<u8>, Ipld)>>> {
        range::collect(
            &self.store,
            self.root.node,
            KeyRange::new(lo, hi),
            direction,
            Some(limit),
        )
    }

    /// Applies puts and deletes in one pass down the tree and one flush. On any error or missing
    /// block, nothing is written and the tree is unchanged.
    pub fn apply(&mut self, batch: &Batch) -> Result<Outcome<Cid>> {
        let mut writer = Writer::default();
        let root = ready!(batch::apply(
            &self.store,
            &self.root.config,
            self.root.node,
            batch,
            &mut writer
        ));
        let Some(root) = root else {
            return Ok(Outcome::Complete(self.cid));
        };
        let count = root.count();
        let Value::Child { cid, .. } = root.value else {
            unreachable!("node entry")
        };
        let root_object = RootObject::new(self.root.config, cid, count);
        let cid = writer.write_raw(root_object.encode());
        writer.flush(&self.store)?;
        self.cid = cid;
        self.root = root_object;
        Ok(Outcome::Complete(self.cid))
    }

    pub fn put(&mut self, key: impl Into<Vec<u8>>, value: Ipld) -> Result<Outcome<Cid>> {
        let mut batch = Batch::new();
        batch.put(key, value);
        self.apply(&batch)
    }

    pub fn delete(&mut self, key: impl Into<Vec<u8>>) -> Result<Outcome<Cid>> {
        let mut batch = Batch::new();
        batch.delete(key);
        self.apply(&batch)
    }

    /// The keys whose values differ from `other` (same store): `left` is this tree's value.
    pub fn diff(&self, other: &Tree<S>) -> Result<Outcome<Vec<Change>>> {
        diff::diff(&self.store, self.root.node, other.root.node)
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
                return Err(Error::Config(
                    "cannot merge trees cut with different configurations".into(),
                ));
            }
        }
        let batch = ready!(merge::merge_batch(
            &self.store,
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
        mut writer: Writer,
    ) -> Result<Self> {
        let Value::Child { cid: node, .. } = root.value else {
            unreachable!("node entry")
        };
        let root = RootObject::new(config, node, count);
        let cid = writer.write_raw(root.encode());
        writer.flush(&store)?;
        Ok(Tree { store, cid, root })
    }
}
