//! Bulk build: a tree from a sorted stream of entries, one chunker per level, in one pass.

use bytes::Bytes;
use cid::Cid;

use crate::chunker::Chunker;
use crate::config::Config;
use crate::error::{InvalidInput, Result};
use crate::leaf_stream::{EndedLeaf, LeafStream};
use crate::node::{Entry, Node, Value};
use crate::store::Writer;
use crate::value::RawValue;

/// Leaves are named in groups of this many (`Writer::write_blocks`); more than AVX2's four
/// lanes, so that lanes freed by short blocks refill.
const LEAF_GROUP: usize = 16;

/// Feeds entries bottom-up: a node closed at one level becomes an entry of the level above.
pub struct Builder {
    config: Config,
    /// A copy of the last key, kept in a reused buffer: the order check costs no allocation.
    last_key: Option<Vec<u8>>,
    count: u64,
    leaves: LeafStream,
    /// Leaves ended by the last entry.
    ended: Vec<EndedLeaf>,
    /// Leaves ended and not named yet: their blocks, their entry counts, and the parent keys of
    /// all but the last (a leaf's is its separator from the next leaf's first key).
    group: Vec<Vec<u8>>,
    group_counts: Vec<u64>,
    group_keys: Vec<Bytes>,
    cids: Vec<Cid>,
    /// The last leaf named so far, whose parent key waits for the next leaf (or the end).
    held_leaf: Option<Entry>,
    leaf_level: Closed,
    /// The internal levels, from level 1 up.
    levels: Vec<Level>,
}

struct Level {
    chunker: Chunker,
    closed: Closed,
    /// What the chunker closes, a buffer kept between entries.
    made: Vec<Node>,
}

/// The nodes a level has closed so far: the first level that closes exactly one is the root.
#[derive(Default)]
struct Closed {
    count: u64,
    /// The first node's entry, held back: if it stays alone, it is the root and has no parent.
    first: Option<Entry>,
}

impl Builder {
    pub fn new(config: Config) -> Self {
        Builder {
            config,
            last_key: None,
            count: 0,
            leaves: LeafStream::new(config),
            ended: Vec::new(),
            group: Vec::new(),
            group_counts: Vec::new(),
            group_keys: Vec::new(),
            cids: Vec::new(),
            held_leaf: None,
            leaf_level: Closed::default(),
            levels: Vec::new(),
        }
    }

    /// Adds the next leaf entry. Keys must be strictly ascending.
    pub fn push(&mut self, key: &[u8], value: &RawValue, writer: &mut Writer<'_>) -> Result<()> {
        if let Some(last) = &self.last_key
            && key <= &last[..]
        {
            return Err(InvalidInput::KeysNotAscending.into());
        }
        crate::batch::check_entry(&self.config, key, value)?;
        let last = self.last_key.get_or_insert_with(Vec::new);
        last.clear();
        last.extend_from_slice(key);
        self.count += 1;
        self.leaves.push(key, value.as_bytes(), &mut self.ended);
        if !self.ended.is_empty() {
            self.take_ended(writer);
        }
        Ok(())
    }

    /// Queues the leaves the stream ended for naming, and gives each waiting leaf its key.
    fn take_ended(&mut self, writer: &mut Writer<'_>) {
        let mut ended = std::mem::take(&mut self.ended);
        for leaf in ended.drain(..) {
            if let Some(key) = leaf.previous_key {
                match self.held_leaf.take() {
                    Some(mut held) if self.group.is_empty() => {
                        held.key = key;
                        self.send_up(0, held, writer);
                    }
                    held => {
                        self.held_leaf = held;
                        self.group_keys.push(key);
                    }
                }
            }
            self.group.push(leaf.block);
            self.group_counts.push(leaf.count);
            if self.group.len() >= LEAF_GROUP {
                self.name_leaves(writer);
            }
        }
        self.ended = ended;
    }

    /// Names the queued leaves and sends each one's entry up, but the last one's, which is held
    /// until its key is known.
    fn name_leaves(&mut self, writer: &mut Writer<'_>) {
        let mut cids = std::mem::take(&mut self.cids);
        writer.write_blocks(&mut self.group, &mut cids);
        let mut counts = std::mem::take(&mut self.group_counts);
        let mut keys = std::mem::take(&mut self.group_keys).into_iter();
        let last = cids.len().saturating_sub(1);
        for (i, (cid, count)) in cids.drain(..).zip(counts.drain(..)).enumerate() {
            let entry = Entry {
                key: keys.next().unwrap_or_default(),
                value: Value::Child { cid, count },
            };
            if i == last {
                self.held_leaf = Some(entry);
            } else {
                self.send_up(0, entry, writer);
            }
        }
        self.cids = cids;
        self.group_counts = counts;
    }

    /// Adds an entry to internal level `level` (at least 1).
    fn push_at(&mut self, level: usize, entry: Entry, writer: &mut Writer<'_>) {
        if self.levels.len() < level {
            self.levels.push(Level {
                chunker: Chunker::new(self.config, level as u32),
                closed: Closed::default(),
                made: Vec::new(),
            });
        }
        let lvl = &mut self.levels[level - 1];
        lvl.chunker.push(entry, &mut lvl.made);
        if !lvl.made.is_empty() {
            self.write_made(level, writer);
        }
    }

    /// Writes the nodes an internal level's chunker closed and sends their entries up.
    fn write_made(&mut self, level: usize, writer: &mut Writer<'_>) {
        let mut made = std::mem::take(&mut self.levels[level - 1].made);
        for node in made.drain(..) {
            let entry = writer.write(node);
            self.send_up(level, entry, writer);
        }
        self.levels[level - 1].made = made;
    }

    /// Counts a node closed at `level` and sends its entry to the level above; the first waits
    /// for a second, since a level that closes one node only holds the root.
    fn send_up(&mut self, level: usize, entry: Entry, writer: &mut Writer<'_>) {
        let closed = match level {
            0 => &mut self.leaf_level,
            _ => &mut self.levels[level - 1].closed,
        };
        closed.count += 1;
        if closed.count == 1 {
            closed.first = Some(entry);
            return;
        }
        if let Some(first) = closed.first.take() {
            self.push_at(level + 1, first, writer);
        }
        self.push_at(level + 1, entry, writer);
    }

    /// Closes every level and returns the root node's entry (its CID and count).
    pub fn finish(mut self, writer: &mut Writer<'_>) -> Entry {
        self.leaves.finish(&mut self.ended);
        self.take_ended(writer);
        self.name_leaves(writer);
        let Some(mut held) = self.held_leaf.take() else {
            // No entries at all: the empty tree is one empty leaf.
            return writer.write(Node::empty_leaf());
        };
        held.key = Bytes::copy_from_slice(self.leaves.last_key().unwrap_or_default());
        self.send_up(0, held, writer);
        if self.leaf_level.count == 1 {
            return self.leaf_level.first.take().expect("the single leaf");
        }
        let mut level = 1;
        loop {
            let lvl = &mut self.levels[level - 1];
            lvl.chunker.finish(&mut lvl.made);
            self.write_made(level, writer);
            let closed = &mut self.levels[level - 1].closed;
            if closed.count == 1 {
                return closed
                    .first
                    .take()
                    .expect("the single node of the top level");
            }
            level += 1;
        }
    }

    pub fn count(&self) -> u64 {
        self.count
    }
}
