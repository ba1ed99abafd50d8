//! The bulk build's leaf level: each entry is copied into the leaf being filled as it streams in,
//! and the leaf is encoded from those bytes when it ends. No `Entry` or `Node` is made for a leaf,
//! which a bulk build otherwise allocated, grew and freed for every one of them.
//!
//! The leaves end where the chunker would end them (the same [`Cut`]) and encode as
//! `Node::encode` would encode them (the same `write_keys`); the build tests compare the trees.

use bytes::Bytes;

use crate::chunker::Cut;
use crate::codec::{self, MAJOR_ARRAY};
use crate::config::Config;
use crate::node::{common_prefix, write_keys};
use crate::separator::separator_in_next;
use crate::size;

/// A leaf the stream has ended, encoded.
pub struct EndedLeaf {
    pub block: Vec<u8>,
    pub count: u64,
    /// The parent key of the leaf ended before this one: its separator from this leaf's first key.
    pub previous_key: Option<Bytes>,
}

pub struct LeafStream {
    cut: Cut,
    /// The keys of the leaf being filled, end to end, and where each one ends.
    keys: Vec<u8>,
    ends: Vec<usize>,
    /// The encodings of its values, end to end: its values column as it will be written.
    values: Vec<u8>,
    /// The last key of the leaf ended before, once one has ended.
    previous_last: Option<Vec<u8>>,
}

impl LeafStream {
    pub fn new(config: Config) -> Self {
        LeafStream {
            cut: Cut::new(config, 0),
            keys: Vec::new(),
            ends: Vec::new(),
            values: Vec::new(),
            previous_last: None,
        }
    }

    /// Adds the next entry, a key and a value's encoding; keys must ascend. Appends the leaves
    /// this ends to `out`: one before the entry if it would break the cap, and one after it if the
    /// boundary hash fires.
    pub fn push(&mut self, key: &[u8], value: &[u8], out: &mut Vec<EndedLeaf>) {
        let len = size::bytes_len(key.len()) + value.len();
        if self.cut.would_overflow(len) {
            out.push(self.end());
        }
        let fires = self.cut.add(key, len);
        self.keys.extend_from_slice(key);
        self.ends.push(self.keys.len());
        self.values.extend_from_slice(value);
        if fires {
            out.push(self.end());
        }
    }

    /// Ends the leaf being filled, if any: the end of the level is always a boundary.
    pub fn finish(&mut self, out: &mut Vec<EndedLeaf>) {
        if !self.ends.is_empty() {
            out.push(self.end());
        }
    }

    /// The last key of the last leaf ended: the parent key of the level's last leaf.
    pub fn last_key(&self) -> Option<&[u8]> {
        self.previous_last.as_deref()
    }

    fn end(&mut self) -> EndedLeaf {
        let n = self.ends.len();
        let key = |i: usize| {
            let start = if i == 0 { 0 } else { self.ends[i - 1] };
            &self.keys[start..self.ends[i]]
        };
        let (first, last) = (key(0), key(n - 1));
        let prefix = common_prefix(first, last);
        let mut block = Vec::with_capacity(size::node_len(0, n, self.cut.payload()));
        write_keys(
            &mut block,
            0,
            &first[..prefix],
            (0..n).map(|i| &key(i)[prefix..]),
        );
        codec::write_head(&mut block, MAJOR_ARRAY, n as u64);
        block.extend_from_slice(&self.values);
        let previous_key = self.previous_last.as_deref().map(|previous| {
            Bytes::copy_from_slice(match separator_in_next(previous, first) {
                Some(len) => &first[..len],
                None => previous,
            })
        });
        let previous = self.previous_last.get_or_insert_with(Vec::new);
        previous.clear();
        previous.extend_from_slice(last);
        self.keys.clear();
        self.ends.clear();
        self.values.clear();
        self.cut.reset();
        EndedLeaf {
            block,
            count: n as u64,
            previous_key,
        }
    }
}
