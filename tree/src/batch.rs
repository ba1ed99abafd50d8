//! Batch mutation: a sorted set of puts and deletes merged into the tree level by level, with one
//! flush at the end.
//!
//! At each level the edits are merged into the nodes they fall in, and the merged entries are
//! re-chunked from the start of the first touched node. Re-chunking stops as soon as a boundary
//! meets an old node boundary past the last edit: from there on the old nodes are exactly what a
//! build from scratch would make. The nodes a level replaced, and the nodes it made, become the
//! edits of the level above. Only touched paths are read and written.

use std::cmp::Ordering;
use std::collections::BTreeMap;
use std::sync::Arc;

use bytes::Bytes;
use cid::Cid;
use fvm_ipld_blockstore::Blockstore;
use ipld_core::ipld::Ipld;

use crate::chunker::{Chunker, fits_alone};
use crate::config::Config;
use crate::error::{Corruption, EncodeError, Error, InvalidInput, Result};
use crate::node::{Entry, Node, Value};
use crate::outcome::Outcome;
use crate::path::{Path, Route};
use crate::ready;
use crate::size;
use crate::store::{NodeReader, Pending, Writer};
use crate::value::RawValue;

/// Puts and deletes to apply at once. A later operation on the same key replaces an earlier one.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Batch {
    ops: BTreeMap<Bytes, Option<RawValue>>,
    /// The first value that could not be encoded: the whole batch is refused when applied.
    invalid: Option<EncodeError>,
}

impl Batch {
    pub fn new() -> Self {
        Self::default()
    }

    /// Puts IPLD data. A value DAG-CBOR cannot hold makes the batch fail when applied.
    pub fn put(&mut self, key: impl Into<Bytes>, value: Ipld) -> &mut Self {
        match RawValue::encode_ipld(&value) {
            Ok(raw) => self.put_raw(key, raw),
            Err(e) => {
                self.invalid.get_or_insert(e);
                self
            }
        }
    }

    /// Puts an already encoded value.
    pub fn put_raw(&mut self, key: impl Into<Bytes>, value: RawValue) -> &mut Self {
        self.ops.insert(key.into(), Some(value));
        self
    }

    pub fn delete(&mut self, key: impl Into<Bytes>) -> &mut Self {
        self.ops.insert(key.into(), None);
        self
    }

    pub fn len(&self) -> usize {
        self.ops.len()
    }

    /// Why the batch cannot be applied, if a value did not encode.
    pub(crate) fn invalid(&self) -> Option<EncodeError> {
        self.invalid
    }

    pub fn is_empty(&self) -> bool {
        self.ops.is_empty() && self.invalid.is_none()
    }

    /// The operations in key order: `Some(value)` puts, `None` deletes.
    pub fn iter(&self) -> impl Iterator<Item = (&Bytes, Option<&RawValue>)> {
        self.ops.iter().map(|(k, v)| (k, v.as_ref()))
    }
}

/// A batch from operations in any order (a later one on the same key wins). Already sorted input,
/// such as another map's iterator, is built in one linear pass.
impl FromIterator<(Bytes, Option<RawValue>)> for Batch {
    fn from_iter<I: IntoIterator<Item = (Bytes, Option<RawValue>)>>(iter: I) -> Self {
        Batch {
            ops: iter.into_iter().collect(),
            invalid: None,
        }
    }
}

/// Largest encoded CID of a node (CIDv1, DAG-CBOR, blake2b-256) and of a child count.
const CHILD_OVERHEAD: usize = 41 + 9;

/// Refuses an entry that could never be stored: a key or entry too large to fit a node on its
/// own at the leaf or internal level.
pub(crate) fn check_entry(config: &Config, key: &[u8], value: &RawValue) -> Result<()> {
    let key_len = size::bytes_len(key.len());
    if !fits_alone(config, 0, key_len + value.len()) {
        return Err(InvalidInput::EntryTooLarge {
            size: key_len + value.len(),
            cap: config.leaf_cap,
        }
        .into());
    }
    if !fits_alone(config, 1, key_len + CHILD_OVERHEAD) {
        return Err(InvalidInput::KeyTooLarge {
            size: key.len(),
            cap: config.internal_cap,
        }
        .into());
    }
    Ok(())
}

type Edits = Vec<(Bytes, Option<Value>)>;

/// Applies a batch to the tree whose root node is `root`. Returns the new root node's entry; the
/// new blocks are left in `writer` for the caller to flush with the root object.
pub(crate) fn apply<S: Blockstore>(
    reader: NodeReader<'_, S>,
    config: &Config,
    root: Cid,
    batch: &Batch,
    writer: &mut Writer<'_>,
) -> Result<Outcome<Option<Entry>>> {
    if let Some(e) = batch.invalid {
        return Err(InvalidInput::Encode(e).into());
    }
    let mut edits: Edits = Vec::with_capacity(batch.len());
    for (key, value) in batch.iter() {
        if let Some(v) = value {
            check_entry(config, key, v)?;
        }
        edits.push((key.clone(), value.map(|v| Value::Data(v.clone()))));
    }
    let root_node = ready!(writer.load(reader, &root, None));
    let top = root_node.level;
    let mut level = 0;
    // Where the previous level began re-chunking: its parent is where this level begins, so no
    // level seeks from the root again.
    let mut start: Option<Position> = None;
    loop {
        if edits.is_empty() {
            return Ok(Outcome::Complete(None));
        }
        let mut job = LevelJob {
            config,
            level,
            root,
            reader,
            writer,
        };
        let result = ready!(job.run(&edits, start.take()));
        start = result.first.as_ref().and_then(|p| p.parent());
        if level == top {
            let entry = ready!(finish_root(config, top, result.made, reader, writer));
            return Ok(Outcome::Complete(Some(entry)));
        }
        edits = result.parent_edits();
        level += 1;
    }
}

/// What re-chunking one level produced.
struct LevelResult {
    /// Old nodes that were re-chunked: (key in the parent, CID).
    replaced: Vec<(Bytes, Cid)>,
    /// New nodes, in order, as entries for the level above.
    made: Vec<Entry>,
    /// The node the first re-chunked run started from.
    first: Option<Position>,
}

impl LevelResult {
    /// Edits for the level above: delete each replaced node, put each new one. A new node equal
    /// to the old one under the same key is no change at all.
    ///
    /// Runs are processed in key order, so both lists are already sorted: one merge, no map.
    fn parent_edits(self) -> Edits {
        debug_assert!(self.replaced.windows(2).all(|w| w[0].0 < w[1].0));
        debug_assert!(self.made.windows(2).all(|w| w[0].key < w[1].key));
        let mut edits = Vec::with_capacity(self.replaced.len() + self.made.len());
        let mut old = self.replaced.into_iter().peekable();
        let mut new = self.made.into_iter().peekable();
        loop {
            let order = match (old.peek(), new.peek()) {
                (None, None) => break,
                (Some(_), None) => Ordering::Less,
                (None, Some(_)) => Ordering::Greater,
                (Some((key, _)), Some(entry)) => key.cmp(&entry.key),
            };
            match order {
                Ordering::Less => {
                    let (key, _) = old.next().expect("peeked");
                    edits.push((key, None));
                }
                Ordering::Greater => {
                    let entry = new.next().expect("peeked");
                    edits.push((entry.key, Some(entry.value)));
                }
                Ordering::Equal => {
                    let (_, old_cid) = old.next().expect("peeked");
                    let entry = new.next().expect("peeked");
                    let unchanged =
                        matches!(&entry.value, Value::Child { cid, .. } if *cid == old_cid);
                    if !unchanged {
                        edits.push((entry.key, Some(entry.value)));
                    }
                }
            }
        }
        edits
    }
}

/// A node at the working level, with the path of ancestors above it.
type Position = Path;

/// One re-chunked run of nodes.
struct Run {
    /// The old nodes it replaces, in order, with their keys in the parent.
    old: Vec<(Arc<Node>, Cid, Bytes)>,
    /// The nodes that replace them.
    made: Vec<Node>,
    /// The first old node it read.
    first: Position,
    /// The last old node it read.
    last: Position,
    /// Whether `last`'s end is a cut no later edit can move.
    fixed_end: bool,
    /// The old node after `last`, when the run read it.
    next: Option<Position>,
}

/// A leaf run's new nodes as entries for level 1, keyed by their last keys until the separators
/// are known, with each new leaf's first key.
struct LeafRun {
    made: Vec<(Entry, Bytes)>,
    first: Position,
    last: Position,
    next: Option<Position>,
}

struct LevelJob<'a, 's, 'w, S> {
    config: &'a Config,
    level: u32,
    root: Cid,
    reader: NodeReader<'s, S>,
    writer: &'a mut Writer<'w>,
}

impl<S: Blockstore> LevelJob<'_, '_, '_, S> {
    /// Re-chunks every run of nodes the edits touch, in key order.
    fn run(&mut self, edits: &Edits, start: Option<Position>) -> Result<Outcome<LevelResult>> {
        let mut result = LevelResult {
            replaced: Vec::new(),
            made: Vec::new(),
            first: None,
        };
        let mut next_edit = 0;
        // The last node whose end is a fixed boundary (the hash fired on its last entry).
        let mut fixed_end: Option<Cid> = None;
        let mut last: Option<Position> = start;
        let mut leaf_runs = Vec::new();
        while next_edit < edits.len() {
            let pos = ready!(self.run_start(last.as_ref(), &edits[next_edit].0, fixed_end));
            if result.first.is_none() {
                result.first = Some(pos.clone());
            }
            let run = ready!(self.rechunk(pos, edits, &mut next_edit));
            if run.fixed_end {
                fixed_end = Some(run.last.cid(&self.root));
            }
            for (node, cid, key) in &run.old {
                if !node.entries.is_empty() {
                    result.replaced.push((key.clone(), *cid));
                }
            }
            let mut made = Vec::with_capacity(run.made.len());
            for node in run.made {
                let first = node.entries.first().map(|e| e.key.clone());
                let entry = self.emit(node, &run.old);
                made.push((entry, first.unwrap_or_default()));
            }
            if self.level == 0 {
                leaf_runs.push(LeafRun {
                    made,
                    first: run.first,
                    last: run.last.clone(),
                    next: run.next,
                });
            } else {
                result.made.extend(made.into_iter().map(|(entry, _)| entry));
            }
            last = Some(run.last);
        }
        if self.level == 0 {
            result.made = ready!(self.separate(leaf_runs));
        }
        Ok(Outcome::Complete(result))
    }

    /// Keys new leaves by their separators (`separator.rs`): each needs the first key of the leaf
    /// after it in the new tree. Within a run that is the next new leaf; after a run's last, the
    /// first new leaf of the next run if that run starts right after it (skipping runs that left
    /// nothing), and otherwise the first key of the old leaf that follows, which no edit changed.
    /// Then a last leaf that kept its last key keeps its old parent key, with no read.
    fn separate(&mut self, runs: Vec<LeafRun>) -> Result<Outcome<Vec<Entry>>> {
        let mut out = Vec::new();
        for r in 0..runs.len() {
            let run = &runs[r];
            for j in 0..run.made.len() {
                let (entry, _) = &run.made[j];
                let mut entry = entry.clone();
                if let Some((_, next_first)) = run.made.get(j + 1) {
                    entry.key = crate::separator(&entry.key, next_first);
                } else {
                    entry.key = ready!(self.last_separator(&runs, r, entry.key));
                }
                out.push(entry);
            }
        }
        Ok(Outcome::Complete(out))
    }

    /// The separator of run `r`'s last new leaf, whose last key is `last`.
    fn last_separator(
        &mut self,
        runs: &[LeafRun],
        r: usize,
        last: Bytes,
    ) -> Result<Outcome<Bytes>> {
        let run = &runs[r];
        if run.last.is_last() {
            return Ok(Outcome::Complete(last));
        }
        // A run that starts right after this one: its first new leaf follows, or if it left no
        // leaf, whatever follows it.
        let mut k = r;
        while let Some(following) = runs.get(k + 1)
            && following.first.follows(&runs[k].last)
        {
            if let Some((_, first)) = following.made.first() {
                return Ok(Outcome::Complete(crate::separator(&last, first)));
            }
            if following.last.is_last() {
                return Ok(Outcome::Complete(last));
            }
            k += 1;
        }
        let end = &runs[k];
        if k == r && end.last.node.last_key() == Some(&last) {
            // The same last key before the same unchanged leaf: the same separator.
            return Ok(Outcome::Complete(parent_key(&end.last)));
        }
        let next = match &end.next {
            Some(next) => next.clone(),
            None => ready!(self.step(&end.last, true))
                .expect("a node that is not the last has a successor"),
        };
        let first = next
            .node
            .entries
            .first()
            .map(|e| e.key.clone())
            .unwrap_or_default();
        Ok(Outcome::Complete(crate::separator(&last, &first)))
    }

    /// Where a run starts: the node the first edit falls in, or the node before it when the edit
    /// changes its first entry (the cap makes a node's end depend on the next node's first entry),
    /// unless that node's end is already known to be fixed.
    fn run_start(
        &mut self,
        from: Option<&Position>,
        key: &[u8],
        fixed_end: Option<Cid>,
    ) -> Result<Outcome<Position>> {
        let mut pos = ready!(self.seek(from, key));
        // A leaf's parent key is a separator, which may lie past its last key: a key between the
        // two belongs to the next leaf.
        if pos.node.last_key().is_some_and(|last| &last[..] < key)
            && let Some(next) = ready!(self.step(&pos, true))
        {
            pos = next;
        }
        let touches_first = pos
            .node
            .entries
            .first()
            .is_none_or(|first| key <= &first.key[..]);
        if touches_first
            && let Some(prev) = ready!(self.step(&pos, false))
            && Some(prev.cid(&self.root)) != fixed_end
        {
            return Ok(Outcome::Complete(prev));
        }
        Ok(Outcome::Complete(pos))
    }

    /// Merges the edits into the nodes from `pos` on and re-chunks them, until the new cuts meet
    /// an old node boundary with no edit left for the next node, or the level ends.
    fn rechunk(
        &mut self,
        mut pos: Position,
        edits: &Edits,
        next_edit: &mut usize,
    ) -> Result<Outcome<Run>> {
        let mut chunker = Chunker::new(*self.config, self.level);
        let mut made = Vec::new();
        let mut old = Vec::new();
        let first = pos.clone();
        let mut after = None;
        let fixed_end = loop {
            old.push((pos.node.clone(), pos.cid(&self.root), parent_key(&pos)));
            let is_last = pos.is_last();
            // Edits up to this node's last key fall in it; the last node takes the rest.
            let end = match pos.node.last_key() {
                Some(last) if !is_last => {
                    *next_edit + edits[*next_edit..].partition_point(|(k, _)| k <= last)
                }
                _ => edits.len(),
            };
            merge(&pos.node.entries, &edits[*next_edit..end], |e| {
                chunker.push(e, &mut made)
            });
            *next_edit = end;
            if is_last {
                chunker.finish(&mut made);
                break false;
            }
            if chunker.is_empty() {
                // The hash fired on this node's last entry: whatever follows, the cut stays.
                break true;
            }
            let Some(next) = ready!(self.step(&pos, true)) else {
                unreachable!("a node that is not the last has a successor")
            };
            let touched = *next_edit < edits.len()
                && (next.is_last()
                    || next
                        .node
                        .last_key()
                        .is_some_and(|last| edits[*next_edit].0 <= *last));
            let first_len = next.node.entries.first().map_or(0, Entry::encoded_len);
            if !touched && chunker.would_overflow(first_len) {
                // The cap closes the node right where the old one closed: back in step.
                chunker.finish(&mut made);
                after = Some(next);
                break false;
            }
            pos = next;
        };
        Ok(Outcome::Complete(Run {
            old,
            made,
            first,
            last: pos,
            fixed_end,
            next: after,
        }))
    }

    /// A new node's entry for the level above. A node equal to one the run replaced keeps that
    /// node's CID and is not written again.
    fn emit(&mut self, node: Node, old: &[(Arc<Node>, Cid, Bytes)]) -> Entry {
        let same = old
            .iter()
            .find(|(o, _, _)| o.last_key() == node.last_key() && o.entries == node.entries);
        match same {
            Some((o, cid, _)) => Entry {
                key: node.last_key().cloned().unwrap_or_default(),
                value: Value::Child {
                    cid: *cid,
                    count: o.count(),
                },
            },
            None => self.writer.write(node),
        }
    }

    /// The node at the working level that `key` routes to: the first child whose parent key is
    /// >= key, or the last child.
    fn seek(&mut self, from: Option<&Position>, key: &[u8]) -> Result<Outcome<Position>> {
        let source = Pending {
            writer: self.writer,
            reader: self.reader,
        };
        let start = match from {
            // Keys come in ascending order: climb from the last position only as far as the
            // first ancestor whose subtree reaches the key (the root always does, by clamping).
            Some(from) => from
                .clone()
                .climb(|n| n.last_key().is_none_or(|k| &k[..] >= key)),
            None => ready!(Path::root(&source, &self.root)),
        };
        let clamped = |node: &Node| {
            let at = node.count_below(key, false);
            Route::Child(at.min(node.entries.len() - 1))
        };
        let pos = ready!(start.descend(&source, self.level, clamped))
            .expect("a clamped descent never stops");
        if pos.node.level < self.level {
            return Err(Error::corrupt(
                pos.cid(&self.root),
                Corruption::WrongLevel {
                    found: pos.node.level,
                    expected: self.level,
                },
            ));
        }
        Ok(Outcome::Complete(pos))
    }

    /// The next (or previous) node at the working level, if any.
    fn step(&mut self, pos: &Position, forward: bool) -> Result<Outcome<Option<Position>>> {
        let source = Pending {
            writer: self.writer,
            reader: self.reader,
        };
        let mut next = pos.clone();
        let moved = ready!(next.step(&source, forward));
        Ok(Outcome::Complete(moved.then_some(next)))
    }
}

/// A node's key in its parent (a leaf's separator, another node's last key); the root's last key.
fn parent_key(pos: &Position) -> Bytes {
    match pos.ancestors.last() {
        Some((parent, idx)) => parent.entries[*idx].key.clone(),
        None => pos.node.last_key().cloned().unwrap_or_default(),
    }
}

/// Merges a node's entries with the edits that fall in it, in key order.
fn merge(entries: &[Entry], edits: &[(Bytes, Option<Value>)], mut emit: impl FnMut(Entry)) {
    let mut edits = edits.iter().peekable();
    for entry in entries {
        while let Some((key, value)) = edits.next_if(|(k, _)| *k < entry.key) {
            if let Some(value) = value {
                emit(Entry {
                    key: key.clone(),
                    value: value.clone(),
                });
            }
        }
        match edits.next_if(|(k, _)| *k == entry.key) {
            Some((key, Some(value))) => emit(Entry {
                key: key.clone(),
                value: value.clone(),
            }),
            Some((_, None)) => {}
            None => emit(entry.clone()),
        }
    }
    for (key, value) in edits {
        if let Some(value) = value {
            emit(Entry {
                key: key.clone(),
                value: value.clone(),
            });
        }
    }
}

/// Turns the re-chunked top level into the new root: an empty leaf if nothing is left, the single
/// node (minus any chain of one-child roots) if one is left, or new levels on top if many are.
fn finish_root<S: Blockstore>(
    config: &Config,
    top: u32,
    made: Vec<Entry>,
    reader: NodeReader<'_, S>,
    writer: &mut Writer<'_>,
) -> Result<Outcome<Entry>> {
    let mut entries = made;
    let mut level = top + 1;
    while entries.len() > 1 {
        let mut chunker = Chunker::new(*config, level);
        let mut out = Vec::new();
        for entry in entries {
            chunker.push(entry, &mut out);
        }
        chunker.finish(&mut out);
        entries = out.into_iter().map(|node| writer.write(node)).collect();
        level += 1;
    }
    let Some(mut root) = entries.pop() else {
        return Ok(Outcome::Complete(writer.write(Node::empty_leaf())));
    };
    // The root is the lowest level with a single node: drop roots that have one child. A leaf
    // ends the descent without being read (the writer keeps only internal nodes).
    let mut root_level = level - 1;
    loop {
        let Value::Child { cid, .. } = root.value else {
            unreachable!("node entry")
        };
        if root_level == 0 {
            return Ok(Outcome::Complete(root));
        }
        let node = ready!(writer.load(reader, &cid, Some(root_level)));
        if node.entries.len() > 1 {
            return Ok(Outcome::Complete(root));
        }
        root = node.entries[0].clone();
        root_level -= 1;
    }
}
