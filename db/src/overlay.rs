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

    /// The changes as one tree batch.
    pub fn into_batch(self) -> Batch {
        let mut batch = Batch::new();
        for (key, change) in self.changes {
            match change {
                Some(value) => batch.put_raw(Bytes::from(key), value),
                None => batch.delete(Bytes::from(key)),
            };
        }
        batch
    }
}
