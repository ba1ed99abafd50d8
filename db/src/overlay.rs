//! The pending changes of a write batch, seen on top of the tree: later operations of a batch see
//! the earlier ones, and nothing reaches the tree until the whole batch has passed.

use std::collections::BTreeMap;
use std::ops::Bound;

use fvm_ipld_blockstore::Blockstore;
use prolly_tree::{Batch, Bytes, Direction, Outcome, RawValue, Tree, ready};

use crate::error::Result;
use crate::keyspace::prefix_end;

/// Live entries, in key order.
pub type Entries = Vec<(Vec<u8>, RawValue)>;

pub struct Overlay<'t, S> {
    tree: &'t Tree<S>,
    changes: BTreeMap<Vec<u8>, Option<RawValue>>,
}

impl<'t, S: Blockstore> Overlay<'t, S> {
    pub fn new(tree: &'t Tree<S>) -> Self {
        Overlay {
            tree,
            changes: BTreeMap::new(),
        }
    }

    /// The tree the changes apply to.
    pub fn tree(&self) -> &'t Tree<S> {
        self.tree
    }

    pub fn get(&self, key: &[u8]) -> Result<Outcome<Option<RawValue>>> {
        if let Some(change) = self.changes.get(key) {
            return Ok(Outcome::Complete(change.clone()));
        }
        Ok(self.tree.get(key)?)
    }

    pub fn put(&mut self, key: Vec<u8>, value: RawValue) {
        self.changes.insert(key, Some(value));
    }

    pub fn delete(&mut self, key: Vec<u8>) {
        self.changes.insert(key, None);
    }

    /// Every live entry whose key starts with `prefix`, in key order.
    pub fn scan_prefix(&self, prefix: &[u8]) -> Result<Outcome<Entries>> {
        let end = prefix_end(prefix);
        let hi = match &end {
            Some(end) => Bound::Excluded(end.as_slice()),
            None => Bound::Unbounded,
        };
        let stored = ready!(
            self.tree
                .range(Bound::Included(prefix), hi, Direction::Forward)
        );
        let mut merged: BTreeMap<Vec<u8>, RawValue> =
            stored.into_iter().map(|(k, v)| (k.to_vec(), v)).collect();
        let pending = self.changes.range::<[u8], _>((Bound::Included(prefix), hi));
        for (key, change) in pending {
            match change {
                Some(value) => merged.insert(key.clone(), value.clone()),
                None => merged.remove(key),
            };
        }
        Ok(Outcome::Complete(merged.into_iter().collect()))
    }

    /// The first live key that starts with `prefix` and is not `except`, if any.
    pub fn other_with_prefix(
        &self,
        prefix: &[u8],
        except: &[u8],
    ) -> Result<Outcome<Option<Vec<u8>>>> {
        let entries = ready!(self.scan_prefix(prefix));
        Ok(Outcome::Complete(
            entries.into_iter().map(|(k, _)| k).find(|k| k != except),
        ))
    }

    /// Whether no live entry starts with `prefix` (reads at most two paths of the tree).
    pub fn prefix_is_empty(&self, prefix: &[u8]) -> Result<Outcome<bool>> {
        let end = prefix_end(prefix);
        let hi = match &end {
            Some(end) => Bound::Excluded(end.as_slice()),
            None => Bound::Unbounded,
        };
        let pending = self.changes.range::<[u8], _>((Bound::Included(prefix), hi));
        if pending.into_iter().any(|(_, change)| change.is_some()) {
            return Ok(Outcome::Complete(false));
        }
        // Stored entries, even if this batch deleted them all, answer "maybe not": the caller
        // then checks each key, which is always correct.
        let stored = ready!(self.tree.count(Bound::Included(prefix), hi));
        Ok(Outcome::Complete(stored == 0))
    }

    /// The changes, then `newer` (sorted writes that win over them), as one tree batch.
    pub fn into_batch_with(self, newer: Vec<(Vec<u8>, RawValue)>) -> Batch {
        if newer.is_empty() {
            return self.into_batch();
        }
        let mut older = self.changes.into_iter().peekable();
        let mut merged = Vec::with_capacity(older.len() + newer.len());
        for (key, value) in newer {
            while let Some((k, _)) = older.peek()
                && *k < key
            {
                let (k, change) = older.next().expect("peeked");
                merged.push((Bytes::from(k), change));
            }
            if older.peek().is_some_and(|(k, _)| *k == key) {
                older.next();
            }
            merged.push((Bytes::from(key), Some(value)));
        }
        merged.extend(older.map(|(k, change)| (Bytes::from(k), change)));
        merged.into_iter().collect()
    }

    /// The changes as one tree batch.
    pub fn into_batch(self) -> Batch {
        self.changes
            .into_iter()
            .map(|(key, change)| (Bytes::from(key), change))
            .collect()
    }
}
