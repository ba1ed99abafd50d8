//! The cursor: seek, next and prev over the entries in key order; point reads and ranges are
//! built on it.
//!
//! A cursor holds the path from the root node to the current leaf (`path.rs`). A move that meets a
//! missing block returns `Missing` and leaves the cursor where it was, so it can be retried once
//! the blocks are there. Internal keys bound each child's keys from above (a leaf's is a separator
//! at or past its last key, section 5 of the spec), so a seek descends into the first child whose
//! key is at least the target, and lands on the leaf that holds the target's lower bound or on
//! the leaf before it, when the target falls between a leaf's last key and its separator.

use bytes::Bytes;
use cid::Cid;
use fvm_ipld_blockstore::Blockstore;

use crate::error::Result;
use crate::node::{Entry, Node, Value};
use crate::outcome::Outcome;
use crate::path::{Path, Route};
use crate::ready;
use crate::store::NodeReader;
use crate::value::RawValue;

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Pos {
    /// Before the first entry.
    Start,
    /// On the entry `idx` of the path's leaf.
    At,
    /// After the last entry.
    End,
}

pub struct Cursor<'s, S> {
    reader: NodeReader<'s, S>,
    root: Cid,
    /// The path to the current leaf, when the cursor is on an entry.
    path: Option<Path>,
    idx: usize,
    pos: Pos,
}

impl<'s, S: Blockstore> Cursor<'s, S> {
    /// A cursor over the tree whose root node is `root`, positioned before the first entry.
    pub fn new(reader: NodeReader<'s, S>, root: Cid) -> Self {
        Cursor {
            reader,
            root,
            path: None,
            idx: 0,
            pos: Pos::Start,
        }
    }

    pub fn is_valid(&self) -> bool {
        self.pos == Pos::At
    }

    /// The current entry's key, if the cursor is on an entry.
    pub fn key(&self) -> Option<&[u8]> {
        self.leaf_entry().map(|e| &e.key[..])
    }

    /// The current entry's value, if the cursor is on an entry.
    pub fn value(&self) -> Option<&RawValue> {
        match self.leaf_entry().map(|e| &e.value) {
            Some(Value::Data(v)) => Some(v),
            _ => None,
        }
    }

    /// The current key and value, if the cursor is on an entry.
    pub fn entry(&self) -> Option<(&Bytes, &RawValue)> {
        match self.leaf_entry() {
            Some(Entry {
                key,
                value: Value::Data(v),
            }) => Some((key, v)),
            _ => None,
        }
    }

    fn leaf_entry(&self) -> Option<&Entry> {
        if self.pos != Pos::At {
            return None;
        }
        self.path.as_ref()?.node.entries.get(self.idx)
    }

    /// Moves to the first entry with key >= `key` (or past the end).
    pub fn seek(&mut self, key: &[u8]) -> Result<Outcome<()>> {
        self.seek_by(Some(key), false, false, false)
    }

    /// Moves to the first entry with key > `key` (or past the end).
    pub fn seek_after(&mut self, key: &[u8]) -> Result<Outcome<()>> {
        self.seek_by(Some(key), true, true, false)
    }

    /// Moves to the last entry with key <= `key` (or before the start).
    pub fn seek_at_or_before(&mut self, key: &[u8]) -> Result<Outcome<()>> {
        self.seek_by(Some(key), false, true, true)
    }

    /// Moves to the last entry with key < `key` (or before the start).
    pub fn seek_before(&mut self, key: &[u8]) -> Result<Outcome<()>> {
        self.seek_by(Some(key), false, false, true)
    }

    /// Moves to the first entry.
    pub fn first(&mut self) -> Result<Outcome<()>> {
        self.seek_by(None, false, false, false)
    }

    /// Moves to the last entry.
    pub fn last(&mut self) -> Result<Outcome<()>> {
        self.seek_by(None, false, false, true)
    }

    /// Descends from the root towards `target` (none: the first or, `backward`, the last entry).
    /// In an internal node the cursor takes the first child whose last key is not below the
    /// target (at or below it when `route_inclusive`): keys bound their subtrees from above, so
    /// that child holds the target's bound or the leaf before it does. Past every child, a forward
    /// seek is at the end and a backward one takes the last child. In the leaf, the entries below
    /// the target (at or below it when `before_inclusive`) are before it: forward, the cursor lands
    /// on the next one; backward, on the one before, stepping into the previous leaf when there is
    /// none here.
    fn seek_by(
        &mut self,
        target: Option<&[u8]>,
        route_inclusive: bool,
        before_inclusive: bool,
        backward: bool,
    ) -> Result<Outcome<()>> {
        let place = |node: &Node, inclusive: bool| match target {
            Some(key) => node.count_below(key, inclusive),
            None if backward => node.entries.len(),
            None => 0,
        };
        let root = ready!(Path::root(&self.reader, &self.root));
        let descent = root.descend(&self.reader, 0, |node| {
            let at = place(node, route_inclusive);
            if at < node.entries.len() {
                Route::Child(at)
            } else if backward {
                Route::Child(at - 1)
            } else {
                Route::Stop
            }
        });
        let Some(leaf) = ready!(descent) else {
            self.path = None;
            self.pos = Pos::End;
            return Ok(Outcome::Complete(()));
        };
        let at = place(&leaf.node, before_inclusive);
        let len = leaf.node.entries.len();
        if backward && at == 0 {
            // Nothing here is before the target: it is the previous entry, if any.
            return self.step_from(leaf, 0, false);
        }
        if !backward && at == len && len > 0 {
            // Every key here is smaller: the target's bound is the next leaf's first entry.
            return self.step_from(leaf, len - 1, true);
        }
        self.path = Some(leaf);
        self.pos = Pos::At;
        if backward {
            self.idx = at - 1;
        } else if at == len {
            // The empty tree's leaf.
            self.pos = Pos::End;
        } else {
            self.idx = at;
        }
        Ok(Outcome::Complete(()))
    }

    /// Moves one entry on from entry `idx` of `leaf`; a missing block leaves the cursor as it was.
    fn step_from(&mut self, leaf: Path, idx: usize, forward: bool) -> Result<Outcome<()>> {
        let before = (self.path.replace(leaf), self.idx, self.pos);
        (self.idx, self.pos) = (idx, Pos::At);
        let outcome = if forward { self.next()? } else { self.prev()? };
        if !outcome.is_complete() {
            (self.path, self.idx, self.pos) = before;
        }
        Ok(outcome)
    }

    /// Moves to the next entry. Past the last entry the cursor is at the end.
    // Not `Iterator::next`: a step can report missing blocks, and the cursor can step back.
    #[allow(clippy::should_implement_trait)]
    pub fn next(&mut self) -> Result<Outcome<()>> {
        match self.pos {
            Pos::Start => return self.first(),
            Pos::End => return Ok(Outcome::Complete(())),
            Pos::At => {}
        }
        let len = self.path.as_ref().map_or(0, |p| p.node.entries.len());
        if self.idx + 1 < len {
            self.idx += 1;
            return Ok(Outcome::Complete(()));
        }
        self.step(true)
    }

    /// Moves to the previous entry. Before the first entry the cursor is at the start.
    pub fn prev(&mut self) -> Result<Outcome<()>> {
        match self.pos {
            Pos::End => return self.last(),
            Pos::Start => return Ok(Outcome::Complete(())),
            Pos::At => {}
        }
        let len = self.path.as_ref().map_or(0, |p| p.node.entries.len());
        if self.idx > 0 && self.idx <= len {
            self.idx -= 1;
            return Ok(Outcome::Complete(()));
        }
        self.step(false)
    }

    /// Whether the cursor is on the first entry of its leaf.
    pub fn at_leaf_start(&self) -> bool {
        self.pos == Pos::At && self.idx == 0
    }

    /// A bound on the keys before the current leaf (the previous leaf's separator or an ancestor's
    /// key: at least every key before the leaf), read from the ancestors without loading anything.
    /// A backward range stops when it is below the range: the previous leaf need not be read.
    pub fn max_key_before_leaf(&self) -> Option<&[u8]> {
        self.path
            .as_ref()?
            .ancestors
            .iter()
            .rev()
            .find(|(_, idx)| *idx > 0)
            .map(|(node, idx)| &node.entries[idx - 1].key[..])
    }

    /// Crosses into the next (or previous) leaf. A missing block leaves the cursor where it was.
    fn step(&mut self, forward: bool) -> Result<Outcome<()>> {
        let Some(path) = self.path.as_mut() else {
            self.pos = if forward { Pos::End } else { Pos::Start };
            return Ok(Outcome::Complete(()));
        };
        if !ready!(path.step(&self.reader, forward)) {
            self.path = None;
            self.pos = if forward { Pos::End } else { Pos::Start };
            return Ok(Outcome::Complete(()));
        }
        self.idx = if forward {
            0
        } else {
            path.node.entries.len().saturating_sub(1)
        };
        self.pos = Pos::At;
        if self.leaf_entry().is_none() {
            // Only an empty tree has an empty leaf.
            self.pos = if forward { Pos::End } else { Pos::Start };
        }
        Ok(Outcome::Complete(()))
    }
}
