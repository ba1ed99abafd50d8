//! Tree nodes and their DAG-CBOR encoding.
//!
//! A leaf is `[0, prefix, [suffix...], [value...]]`; an internal node is
//! `[level, prefix, [suffix...], [child CID...], [child entry count...]]`. Each key is `prefix`
//! followed by its suffix, `prefix` being the longest prefix all the node's keys share, stored once.
//! Keys are byte strings in strictly ascending order. An internal key bounds its child's subtree
//! from above: a leaf's separator (`separator.rs`), another node's last key.

use std::ops::Range;
use std::sync::{Arc, OnceLock, Weak};

use bytes::Bytes;
use cid::Cid;

use crate::codec::{self, Decoder, MAJOR_ARRAY, MAJOR_UINT};
use crate::error::{DecodeError, ShapeError};
use crate::search::Heads;
use crate::size;
use crate::value::RawValue;

/// The length of the longest common prefix of two byte strings.
pub(crate) fn common_prefix(a: &[u8], b: &[u8]) -> usize {
    a.iter().zip(b).take_while(|(x, y)| x == y).count()
}

/// A node's encoding up to its keys: the array head, the level, the keys' shared prefix and the
/// column of their suffixes. The column of values (or of children) follows. `Node::encode` and
/// the bulk build's leaves (`leaf_stream.rs`) both write nodes through it.
pub(crate) fn write_keys<'k>(
    out: &mut Vec<u8>,
    level: u32,
    prefix: &[u8],
    suffixes: impl ExactSizeIterator<Item = &'k [u8]>,
) {
    codec::write_head(out, MAJOR_ARRAY, if level == 0 { 4 } else { 5 });
    codec::write_head(out, MAJOR_UINT, level as u64);
    codec::write_bytes(out, prefix);
    codec::write_head(out, MAJOR_ARRAY, suffixes.len() as u64);
    for suffix in suffixes {
        codec::write_bytes(out, suffix);
    }
}

/// The most key bytes a node can hold: its logical size is at most the largest cap, 1 MiB.
const MAX_KEY_BYTES: usize = 1 << 20;

/// Keys from a node's shared prefix and its suffixes (ranges of `block`), each a slice of one
/// buffer (or of the block, when there is no prefix). The prefix must be the longest one the keys
/// share, so that a node encodes one way only.
fn join_prefix(
    block: &Bytes,
    prefix: Range<usize>,
    suffixes: &[Range<usize>],
) -> Result<Vec<Bytes>, DecodeError> {
    let (prefix, suffix) = (&block[prefix], |r: &Range<usize>| &block[r.clone()]);
    let canonical = match (suffixes.first(), suffixes.last()) {
        (None, _) | (_, None) => prefix.is_empty(),
        (Some(first), Some(last)) if suffixes.len() == 1 => first.is_empty() && last.is_empty(),
        (Some(first), Some(last)) => common_prefix(suffix(first), suffix(last)) == 0,
    };
    if !canonical {
        return Err(DecodeError::PrefixNotLongest);
    }
    if prefix.is_empty() {
        return Ok(suffixes.iter().map(|r| block.slice(r.clone())).collect());
    }
    // The keys of a node a writer made fit its logical size, at most 1 MiB; a hostile block could
    // otherwise ask for its prefix times its entry count.
    let total = suffixes.iter().try_fold(0usize, |sum, s| {
        sum.checked_add(prefix.len() + s.len())
            .filter(|total| *total <= MAX_KEY_BYTES)
    });
    let Some(total) = total else {
        return Err(DecodeError::KeysTooLarge);
    };
    let mut buf = Vec::with_capacity(total);
    for s in suffixes {
        buf.extend_from_slice(prefix);
        buf.extend_from_slice(suffix(s));
    }
    let buf = Bytes::from(buf);
    let mut at = 0;
    Ok(suffixes
        .iter()
        .map(|s| {
            let key = buf.slice(at..at + prefix.len() + s.len());
            at += prefix.len() + s.len();
            key
        })
        .collect())
}

/// What an entry holds: data in a leaf, a child link in an internal node.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Value {
    Data(RawValue),
    Child { cid: Cid, count: u64 },
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    pub key: Bytes,
    pub value: Value,
}

impl Entry {
    /// The bytes this entry adds to its node's encoding: key, value and, for a child, its count.
    pub fn encoded_len(&self) -> usize {
        size::bytes_len(self.key.len())
            + match &self.value {
                Value::Data(v) => v.len(),
                Value::Child { cid, count } => size::cid_len(cid) + size::head_len(*count),
            }
    }

    /// Entries in the subtree this entry stands for.
    pub fn count(&self) -> u64 {
        match self.value {
            Value::Data(_) => 1,
            Value::Child { count, .. } => count,
        }
    }
}

/// A decoded node. Level 0 holds data entries, higher levels hold child entries. Built only by
/// the constructors and the decoder, so it is always well-formed and encodes exactly.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Node {
    pub(crate) level: u32,
    pub(crate) entries: Vec<Entry>,
    /// Where a reader found each child before (`store.rs`), so a warm descent follows pointers.
    /// Weak, so that the node cache alone decides what stays in memory: a child it evicted is
    /// loaded again.
    children: Derived<Box<[OnceLock<Weak<Node>>]>>,
    /// Key heads for searching (`search.rs`).
    heads: Derived<Heads>,
}

/// What a node derives in memory from its entries, built when first needed: not part of what
/// the node is, so clones start without it and any two compare equal.
struct Derived<T>(OnceLock<T>);

impl<T> Default for Derived<T> {
    fn default() -> Self {
        Derived(OnceLock::new())
    }
}

impl<T> Clone for Derived<T> {
    fn clone(&self) -> Self {
        Derived::default()
    }
}

impl<T> PartialEq for Derived<T> {
    fn eq(&self, _: &Self) -> bool {
        true
    }
}

impl<T> Eq for Derived<T> {}

impl<T> std::fmt::Debug for Derived<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Derived")
    }
}

impl Node {
    /// A leaf of (key, value) entries in strictly ascending key order.
    pub fn leaf(entries: impl IntoIterator<Item = (Bytes, RawValue)>) -> Result<Node, ShapeError> {
        let entries = entries
            .into_iter()
            .map(|(key, v)| Entry {
                key,
                value: Value::Data(v),
            })
            .collect();
        let node = Node::new(0, entries);
        node.check_shape()?;
        Ok(node)
    }

    /// An internal node at `level` (at least 1) of (parent key, child CID, child entry count)
    /// entries in strictly ascending key order.
    pub fn internal(
        level: u32,
        children: impl IntoIterator<Item = (Bytes, Cid, u64)>,
    ) -> Result<Node, ShapeError> {
        if level == 0 {
            return Err(ShapeError::InternalAtLevelZero);
        }
        let entries = children
            .into_iter()
            .map(|(key, cid, count)| Entry {
                key,
                value: Value::Child { cid, count },
            })
            .collect();
        let node = Node::new(level, entries);
        node.check_shape()?;
        Ok(node)
    }

    pub(crate) fn new(level: u32, entries: Vec<Entry>) -> Node {
        Node {
            level,
            entries,
            children: Derived::default(),
            heads: Derived::default(),
        }
    }

    /// How many entries have a key below `key` (at or below it when `inclusive`): where `key`
    /// falls among the node's keys. The same as a `partition_point` over the entries, faster.
    pub(crate) fn count_below(&self, key: &[u8], inclusive: bool) -> usize {
        let heads = self.heads.0.get_or_init(|| {
            let shared = self
                .entries
                .first()
                .map_or(&[][..], |e| &e.key[..self.prefix_len()]);
            Heads::new(shared, self.entries.iter().map(|e| &e.key[..]))
        });
        heads.count_below(|i| &self.entries[i].key[..], key, inclusive)
    }

    /// Child `idx` of this internal node, if a reader loaded it before and it is still in memory.
    pub(crate) fn known_child(&self, idx: usize) -> Option<Arc<Node>> {
        self.children.0.get()?.get(idx)?.get()?.upgrade()
    }

    /// Remembers child `idx` of this internal node, as a reader loaded it.
    pub(crate) fn remember_child(&self, idx: usize, child: &Arc<Node>) {
        let slots = self
            .children
            .0
            .get_or_init(|| (0..self.entries.len()).map(|_| OnceLock::new()).collect());
        if let Some(slot) = slots.get(idx) {
            let _ = slot.set(Arc::downgrade(child));
        }
    }

    /// 0 for a leaf.
    pub fn level(&self) -> u32 {
        self.level
    }

    pub fn entries(&self) -> &[Entry] {
        &self.entries
    }

    pub fn empty_leaf() -> Self {
        Node::new(0, Vec::new())
    }

    /// The node's last key: its key in the parent above level 0 (a leaf's is a separator).
    pub fn last_key(&self) -> Option<&Bytes> {
        self.entries.last().map(|e| &e.key)
    }

    /// Entries in this node's subtree.
    pub fn count(&self) -> u64 {
        // Saturating: counts read from a hostile block must not overflow.
        self.entries
            .iter()
            .map(Entry::count)
            .fold(0, u64::saturating_add)
    }

    /// The length of the prefix every key of the node shares: that of the first and last keys
    /// (keys ascend), the whole key of a single entry, nothing in an empty node.
    pub fn prefix_len(&self) -> usize {
        match (self.entries.first(), self.entries.last()) {
            (Some(first), Some(last)) => common_prefix(&first.key, &last.key),
            _ => 0,
        }
    }

    pub fn encode(&self) -> Vec<u8> {
        let n = self.entries.len() as u64;
        let payload: usize = self.entries.iter().map(Entry::encoded_len).sum();
        // The logical size bounds the encoding from above (spec section 4).
        let mut out = Vec::with_capacity(size::node_len(self.level, self.entries.len(), payload));
        let prefix = self.prefix_len();
        let shared = self.entries.first().map_or(&[][..], |e| &e.key[..prefix]);
        let suffixes = self.entries.iter().map(|e| &e.key[prefix..]);
        write_keys(&mut out, self.level, shared, suffixes);
        codec::write_head(&mut out, MAJOR_ARRAY, n);
        if self.level == 0 {
            for e in &self.entries {
                if let Value::Data(v) = &e.value {
                    out.extend_from_slice(v.as_bytes());
                }
            }
        } else {
            for e in &self.entries {
                if let Value::Child { cid, .. } = &e.value {
                    codec::write_cid(&mut out, cid);
                }
            }
            codec::write_head(&mut out, MAJOR_ARRAY, n);
            for e in &self.entries {
                codec::write_head(&mut out, MAJOR_UINT, e.count());
            }
        }
        out
    }

    /// Decodes and checks a node block. Keys and values share the block's buffer.
    pub fn decode(bytes: impl Into<Bytes>) -> Result<Node, DecodeError> {
        let mut d = Decoder::new(bytes.into());
        let fields = d.expect(MAJOR_ARRAY, "a node (an array)")?;
        let level = u32::try_from(d.uint()?).map_err(|_| DecodeError::LevelOutOfRange)?;
        let expected_fields = if level == 0 { 4 } else { 5 };
        if fields != expected_fields {
            return Err(DecodeError::NodeFields {
                level,
                expected: expected_fields,
                found: fields,
            });
        }
        let prefix = d.byte_range()?;
        let n = d.expect(MAJOR_ARRAY, "the keys")?;
        // Every entry takes at least one byte: a count beyond the block is corrupt, and must not
        // reserve memory.
        let mut suffixes = Vec::with_capacity(n.min(4096) as usize);
        for _ in 0..n {
            suffixes.push(d.byte_range()?);
        }
        let keys = join_prefix(d.block(), prefix, &suffixes)?;
        let column = |d: &mut Decoder, column: &'static str| -> Result<(), DecodeError> {
            match d.expect(MAJOR_ARRAY, column)? {
                len if len == n => Ok(()),
                found => Err(DecodeError::ColumnLength {
                    keys: n,
                    found,
                    column,
                }),
            }
        };
        // Sized up front: collecting through `Result` loses the length and grows the vector by
        // doubling, which was a fifth of decoding a node. Every key was read, so `n` is bounded by
        // the block.
        let mut entries = Vec::with_capacity(keys.len());
        if level == 0 {
            column(&mut d, "values")?;
            for key in keys {
                let value = Value::Data(RawValue::from_validated(d.value()?));
                entries.push(Entry { key, value });
            }
        } else {
            // The links, then the counts: each entry is made with its link and given its count
            // after, so no second vector of CIDs is needed.
            column(&mut d, "links")?;
            for key in keys {
                let value = Value::Child {
                    cid: d.cid()?,
                    count: 0,
                };
                entries.push(Entry { key, value });
            }
            column(&mut d, "counts")?;
            for entry in &mut entries {
                if let Value::Child { count, .. } = &mut entry.value {
                    *count = d.uint()?;
                }
            }
        }
        if !d.at_end() {
            return Err(DecodeError::TrailingBytes);
        }
        let node = Node::new(level, entries);
        node.check_shape()?;
        Ok(node)
    }

    /// Structural rules a decoder enforces: keys strictly ascending, no empty internal node,
    /// counts positive.
    fn check_shape(&self) -> Result<(), ShapeError> {
        if self.level > 0 && self.entries.is_empty() {
            return Err(ShapeError::EmptyInternal);
        }
        if self
            .entries
            .windows(2)
            .any(|pair| pair[0].key >= pair[1].key)
        {
            return Err(ShapeError::KeysNotAscending);
        }
        if self.entries.iter().any(|e| e.count() == 0) {
            return Err(ShapeError::ZeroCount);
        }
        Ok(())
    }
}
