//! The chunker: cuts one level's sorted entries into nodes, left to right.
//!
//! Its state is only the node being filled, so a boundary depends on nothing before the node's
//! start. That is what makes the tree history-independent, and what lets a batch mutation
//! re-chunk a few nodes and stop as soon as its boundaries meet the old ones again.

use crate::boundary;
use crate::config::Config;
use crate::node::{Entry, Node};
use crate::size;

/// Where one level's nodes end: the rule, over the size of the node being filled. The chunker
/// holds entries beside it; the bulk build's leaf level holds bytes (`leaf_stream.rs`).
pub struct Cut {
    config: Config,
    level: u32,
    entries: usize,
    payload: usize,
}

impl Cut {
    pub fn new(config: Config, level: u32) -> Self {
        Cut {
            config,
            level,
            entries: 0,
            payload: 0,
        }
    }

    /// Whether adding an entry of `len` bytes would push the node past the hard cap, which ends
    /// the node before that entry.
    pub fn would_overflow(&self, len: usize) -> bool {
        self.entries > 0
            && size::node_len(self.level, self.entries + 1, self.payload + len)
                > self.config.cap(self.level) as usize
    }

    /// Counts in the node's next entry, of `len` encoded bytes. Returns whether the boundary hash
    /// fires on it, which ends the node after it.
    pub fn add(&mut self, key: &[u8], len: usize) -> bool {
        let fires = self.entries + 1 >= self.config.min_entries as usize
            && boundary::fires(&self.config, self.level, key, self.payload, len);
        self.entries += 1;
        self.payload += len;
        fires
    }

    /// The encoded bytes of the node's entries so far.
    pub fn payload(&self) -> usize {
        self.payload
    }

    /// A new node starts.
    pub fn reset(&mut self) {
        self.entries = 0;
        self.payload = 0;
    }
}

pub struct Chunker {
    cut: Cut,
    entries: Vec<Entry>,
    /// How many entries the last node closed held.
    last_len: usize,
}

impl Chunker {
    pub fn new(config: Config, level: u32) -> Self {
        Chunker {
            cut: Cut::new(config, level),
            entries: Vec::new(),
            last_len: 0,
        }
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Whether adding an entry of `len` bytes would push the node past the hard cap.
    pub fn would_overflow(&self, len: usize) -> bool {
        self.cut.would_overflow(len)
    }

    /// Adds the next entry. Returns the nodes this closes: one before the entry if it would break
    /// the cap, and one after it if the boundary hash fires.
    pub fn push(&mut self, entry: Entry, out: &mut Vec<Node>) {
        let len = entry.encoded_len();
        if self.cut.would_overflow(len) {
            out.push(self.take());
        }
        if self.entries.capacity() == 0 {
            // The node will hold about as many entries as the last: allocate that once rather
            // than grow from nothing (a tenth fewer allocations in a bulk build). Not before a
            // first entry, so that a chunker that ends empty allocates nothing.
            self.entries.reserve_exact(self.last_len);
        }
        let fires = self.cut.add(&entry.key, len);
        self.entries.push(entry);
        if fires {
            out.push(self.take());
        }
    }

    /// Closes the node being filled, if any: the end of the level is always a boundary.
    pub fn finish(&mut self, out: &mut Vec<Node>) {
        if !self.entries.is_empty() {
            out.push(self.take());
        }
    }

    fn take(&mut self) -> Node {
        self.cut.reset();
        self.last_len = self.entries.len();
        Node::new(self.cut.level, std::mem::take(&mut self.entries))
    }
}

/// Whether the encoded entry fits a node of its own at `level`: anything larger can never be stored.
pub fn fits_alone(config: &Config, level: u32, entry_len: usize) -> bool {
    size::node_len(level, 1, entry_len) <= config.cap(level) as usize
}
