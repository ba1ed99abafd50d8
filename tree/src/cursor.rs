//! The cursor: the one read path. Seek, next and prev over the entries in key order; point reads
//! and ranges are built on it.
//!
//! A cursor holds the path from the root node to the current leaf. A move that meets a missing
//! block returns `Missing` and leaves the cursor where it was, so it can be retried once the blocks
//! are there. Internal keys are the last key
//! of each child, so a seek descends into the first child whose key is at least the target, and
//! lands directly on the leaf that holds the target's lower bound.

use std::sync::Arc;

use bytes::Bytes;
use cid::Cid;
use fvm_ipld_blockstore::Blockstore;

use crate::error::Result;
use crate::node::{Entry, Node, Value};
use crate::outcome::Outcome;
use crate::ready;
use crate::store::NodeReader;
use crate::value::RawValue;

#[derive(Clone)]
struct Frame {
    node: Arc<Node>,
    idx: usize,
}

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Pos {
    /// Before the first entry.
    Start,
    /// On the entry the path points to.
    At,
    /// After the last entry.
    End,
}

pub struct Cursor<'s, S> {
    reader: NodeReader<'s, S>,
    root: Cid,
    path: Vec<Frame>,
    pos: Pos,
}

impl<'s, S: Blockstore> Cursor<'s, S> {
    /// A cursor over the tree whose root node is `root`, positioned before the first entry.
    pub fn new(reader: NodeReader<'s, S>, root: Cid) -> Self {
        Cursor {
            reader,
            root,
            path: Vec::new(),
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
        let leaf = self.path.last()?;
        leaf.node.entries.get(leaf.idx)
    }

    /// Moves to the first entry with key >= `key` (or past the end).
    pub fn seek(&mut self, key: &[u8]) -> Result<Outcome<()>> {
        self.seek_by(|k| k < key, |k| k < key, false)
    }

    /// Moves to the first entry with key > `key` (or past the end).
    pub fn seek_after(&mut self, key: &[u8]) -> Result<Outcome<()>> {
        self.seek_by(|k| k <= key, |k| k <= key, false)
    }

    /// Moves to the last entry with key <= `key` (or before the start).
    pub fn seek_at_or_before(&mut self, key: &[u8]) -> Result<Outcome<()>> {
        self.seek_by(|k| k < key, |k| k <= key, true)
    }

    /// Moves to the last entry with key < `key` (or before the start).
    pub fn seek_before(&mut self, key: &[u8]) -> Result<Outcome<()>> {
        self.seek_by(|k| k < key, |k| k < key, true)
    }

    /// Moves to the first entry.
    pub fn first(&mut self) -> Result<Outcome<()>> {
        self.seek_by(|_| false, |_| false, false)
    }

    /// Moves to the last entry.
    pub fn last(&mut self) -> Result<Outcome<()>> {
        self.seek_by(|_| true, |_| true, true)
    }

    /// Descends from the root. In an internal node the cursor takes the first child whose last
    /// key fails `route` (keys are subtree maxima, so that child holds the target's bound); past
    /// every child, a forward seek is at the end and a backward one takes the last child. In the
    /// leaf, `before` counts the entries before the target: forward, the cursor lands on the next
    /// one; backward, on the one before, stepping into the previous leaf when there is none here.
    fn seek_by(
        &mut self,
        route: impl Fn(&[u8]) -> bool,
        before: impl Fn(&[u8]) -> bool,
        backward: bool,
    ) -> Result<Outcome<()>> {
        let mut path: Vec<Frame> = Vec::with_capacity(16);
        let mut node = ready!(self.reader.load(&self.root, None));
        loop {
            if node.level == 0 {
                let at = node.entries.partition_point(|e| before(&e.key));
                let len = node.entries.len();
                path.push(Frame { node, idx: at });
                if backward && at == 0 {
                    // Nothing here is before the target: it is the previous entry, if any.
                    let before = (std::mem::replace(&mut self.path, path), self.pos);
                    self.pos = Pos::At;
                    let outcome = self.prev()?;
                    if !outcome.is_complete() {
                        (self.path, self.pos) = before;
                    }
                    return Ok(outcome);
                }
                self.path = path;
                self.pos = Pos::At;
                if backward {
                    self.path.last_mut().expect("leaf frame").idx = at - 1;
                } else if at == len {
                    // Only the rightmost leaf can lack the target: everything is smaller.
                    self.pos = Pos::End;
                }
                return Ok(Outcome::Complete(()));
            }
            let at = node.entries.partition_point(|e| route(&e.key));
            let idx = if at < node.entries.len() {
                at
            } else if backward {
                at - 1
            } else {
                self.path.clear();
                self.pos = Pos::End;
                return Ok(Outcome::Complete(()));
            };
            path.push(Frame { node, idx });
            let parent = path.last().expect("just pushed");
            let level = parent.node.level - 1;
            node = ready!(self.reader.load(child_cid(&parent.node, idx), Some(level)));
        }
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
        let leaf = self.path.last_mut().expect("leaf frame");
        if leaf.idx + 1 < leaf.node.entries.len() {
            leaf.idx += 1;
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
        let leaf = self.path.last_mut().expect("leaf frame");
        if leaf.idx > 0 && leaf.idx <= leaf.node.entries.len() {
            leaf.idx -= 1;
            return Ok(Outcome::Complete(()));
        }
        self.step(false)
    }

    /// Whether the cursor is on the first entry of its leaf.
    pub fn at_leaf_start(&self) -> bool {
        self.pos == Pos::At && self.path.last().is_some_and(|leaf| leaf.idx == 0)
    }

    /// The largest key before the current leaf, read from the ancestors without loading anything.
    /// A backward range stops when it is below the range: the previous leaf need not be read.
    pub fn max_key_before_leaf(&self) -> Option<&[u8]> {
        let ancestors = &self.path[..self.path.len().saturating_sub(1)];
        ancestors
            .iter()
            .rev()
            .find(|f| f.idx > 0)
            .map(|f| &f.node.entries[f.idx - 1].key[..])
    }

    /// Crosses into the next (or previous) leaf: climbs to the nearest ancestor with a sibling in
    /// that direction, then descends along the sibling's near edge. The path changes only if every
    /// block is present, so a missing block leaves the cursor where it was.
    fn step(&mut self, forward: bool) -> Result<Outcome<()>> {
        // The nearest ancestor (above the leaf) with a sibling in that direction.
        let ancestors = self.path.len().saturating_sub(1);
        let Some(pivot) = (0..ancestors).rev().find(|&i| {
            let frame = &self.path[i];
            if forward {
                frame.idx + 1 < frame.node.entries.len()
            } else {
                frame.idx > 0
            }
        }) else {
            self.path.clear();
            self.pos = if forward { Pos::End } else { Pos::Start };
            return Ok(Outcome::Complete(()));
        };
        // Descend along the sibling's near edge into new frames; the path changes only once they
        // are all read.
        let pivot_idx = if forward {
            self.path[pivot].idx + 1
        } else {
            self.path[pivot].idx - 1
        };
        let mut fresh: Vec<Frame> = Vec::with_capacity(ancestors - pivot);
        let (mut parent, mut idx) = (self.path[pivot].node.clone(), pivot_idx);
        while parent.level > 0 {
            let node = ready!(
                self.reader
                    .load(child_cid(&parent, idx), Some(parent.level - 1))
            );
            let near = if forward {
                0
            } else {
                node.entries.len().saturating_sub(1)
            };
            fresh.push(Frame {
                node: node.clone(),
                idx: near,
            });
            (parent, idx) = (node, near);
        }
        self.path.truncate(pivot + 1);
        self.path[pivot].idx = pivot_idx;
        self.path.extend(fresh);
        self.pos = Pos::At;
        if self.leaf_entry().is_none() {
            // Only an empty tree has an empty leaf.
            self.pos = if forward { Pos::End } else { Pos::Start };
        }
        Ok(Outcome::Complete(()))
    }
}

pub(crate) fn child_cid(node: &Node, idx: usize) -> &Cid {
    match &node.entries[idx].value {
        Value::Child { cid, .. } => cid,
        // Decoding guarantees internal nodes hold only children.
        Value::Data(_) => unreachable!("data entry in an internal node"),
    }
}
