//! Bulk build: a tree from a sorted stream of entries, one chunker per level, in one pass.

use bytes::Bytes;

use crate::chunker::Chunker;
use crate::config::Config;
use crate::error::{InvalidInput, Result};
use crate::node::{Entry, Node, Value};
use crate::store::Writer;
use crate::value::RawValue;

/// Feeds entries bottom-up: a node closed at one level becomes an entry of the level above.
pub struct Builder {
    config: Config,
    levels: Vec<Level>,
    /// A copy of the last key, kept in a reused buffer: the order check costs no allocation.
    last_key: Option<Vec<u8>>,
    count: u64,
    /// The last leaf closed so far: its parent key is a separator from the next leaf's first key,
    /// so it goes up a level once that key is known (or the level ends).
    held_leaf: Option<Entry>,
}

struct Level {
    chunker: Chunker,
    /// Nodes this level has closed so far; the first level that closes exactly one is the root.
    closed: u64,
    first: Option<Entry>,
}

impl Builder {
    pub fn new(config: Config) -> Self {
        Builder {
            config,
            levels: Vec::new(),
            last_key: None,
            count: 0,
            held_leaf: None,
        }
    }

    /// Adds the next leaf entry. Keys must be strictly ascending.
    pub fn push(&mut self, key: Bytes, value: RawValue, writer: &mut Writer<'_>) -> Result<()> {
        if let Some(last) = &self.last_key
            && key[..] <= last[..]
        {
            return Err(InvalidInput::KeysNotAscending.into());
        }
        crate::batch::check_entry(&self.config, &key, &value)?;
        let last = self.last_key.get_or_insert_with(Vec::new);
        last.clear();
        last.extend_from_slice(&key);
        self.count += 1;
        let entry = Entry {
            key,
            value: Value::Data(value),
        };
        self.push_at(0, entry, writer);
        Ok(())
    }

    fn push_at(&mut self, level: usize, entry: Entry, writer: &mut Writer<'_>) {
        if self.levels.len() == level {
            self.levels.push(Level {
                chunker: Chunker::new(self.config, level as u32),
                closed: 0,
                first: None,
            });
        }
        let mut closed = Vec::new();
        self.levels[level].chunker.push(entry, &mut closed);
        self.close(level, closed, false, writer);
    }

    /// Writes closed nodes and sends their entries up. A leaf's entry waits for the next leaf's
    /// first key (its separator), unless the level has ended.
    fn close(&mut self, level: usize, nodes: Vec<Node>, end: bool, writer: &mut Writer<'_>) {
        if nodes.is_empty() && !end {
            // Most entries close no node: allocate nothing for them.
            return;
        }
        let mut summaries = Vec::with_capacity(nodes.len() + 1);
        for node in nodes {
            if level > 0 {
                summaries.push(writer.write(node));
                continue;
            }
            let first = node.entries.first().map(|e| e.key.clone());
            if let (Some(mut held), Some(first)) = (self.held_leaf.take(), first) {
                held.key = crate::separator(&held.key, &first);
                summaries.push(held);
            }
            self.held_leaf = Some(writer.write(node));
        }
        if level == 0 && end {
            summaries.extend(self.held_leaf.take());
        }
        for summary in summaries {
            let lvl = &mut self.levels[level];
            lvl.closed += 1;
            if lvl.closed == 1 {
                // Hold the first node back: if it stays alone, it is the root and has no parent.
                lvl.first = Some(summary);
                continue;
            }
            if let Some(first) = lvl.first.take() {
                self.push_at(level + 1, first, writer);
            }
            self.push_at(level + 1, summary, writer);
        }
    }

    /// Closes every level and returns the root node's entry (its CID and count).
    pub fn finish(mut self, writer: &mut Writer<'_>) -> Entry {
        let mut level = 0;
        loop {
            if level == self.levels.len() {
                // No entries at all: the empty tree is one empty leaf.
                return writer.write(Node::empty_leaf());
            }
            let mut closed = Vec::new();
            self.levels[level].chunker.finish(&mut closed);
            self.close(level, closed, true, writer);
            if self.levels[level].closed == 1 {
                return self.levels[level]
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
