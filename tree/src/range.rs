//! Range reads: every entry between two bounds, in either direction, through the cursor.
//!
//! Before walking, a range maps its frontier: level by level it lists the nodes whose key span
//! meets the range, and reports every one the store lacks in one batch. A reader over a cold
//! cache then fetches one level per round, not one block per round.

use std::collections::BTreeSet;
use std::ops::Bound;

use bytes::Bytes;
use cid::Cid;
use fvm_ipld_blockstore::Blockstore;

use crate::cursor::{Cursor, child_cid};
use crate::error::Result;
use crate::outcome::Outcome;
use crate::ready;
use crate::store::NodeReader;
use crate::value::RawValue;

/// A key and its value, as a range returns them.
pub type Pair = (Bytes, RawValue);

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Direction {
    Forward,
    Backward,
}

/// Key bounds of a range, as borrowed slices.
#[derive(Debug, Clone, Copy)]
pub struct KeyRange<'k> {
    pub lo: Bound<&'k [u8]>,
    pub hi: Bound<&'k [u8]>,
}

impl<'k> KeyRange<'k> {
    pub fn all() -> Self {
        KeyRange {
            lo: Bound::Unbounded,
            hi: Bound::Unbounded,
        }
    }

    pub fn new(lo: Bound<&'k [u8]>, hi: Bound<&'k [u8]>) -> Self {
        KeyRange { lo, hi }
    }

    pub fn above_lo(&self, key: &[u8]) -> bool {
        match self.lo {
            Bound::Included(lo) => key >= lo,
            Bound::Excluded(lo) => key > lo,
            Bound::Unbounded => true,
        }
    }

    pub fn below_hi(&self, key: &[u8]) -> bool {
        match self.hi {
            Bound::Included(hi) => key <= hi,
            Bound::Excluded(hi) => key < hi,
            Bound::Unbounded => true,
        }
    }

    pub fn contains(&self, key: &[u8]) -> bool {
        self.above_lo(key) && self.below_hi(key)
    }

    /// Whether a subtree holding keys in `(after, max]` may hold a key in range.
    fn meets(&self, after: Option<&[u8]>, max: &[u8]) -> bool {
        self.above_lo(max)
            && after.is_none_or(|after| match self.hi {
                Bound::Included(hi) | Bound::Excluded(hi) => after < hi,
                Bound::Unbounded => true,
            })
    }
}

/// Reads every node the range needs, level by level, and reports all the missing ones it can see.
pub fn frontier<S: Blockstore>(
    reader: NodeReader<'_, S>,
    root: Cid,
    range: KeyRange,
) -> Result<Outcome<()>> {
    let mut level_nodes = vec![(root, None::<u32>)];
    let mut missing = BTreeSet::new();
    while !level_nodes.is_empty() {
        let mut below = Vec::new();
        for (cid, level) in level_nodes {
            let node = match reader.load(&cid, level)? {
                Outcome::Complete(node) => node,
                Outcome::Missing(m) => {
                    missing.extend(m);
                    continue;
                }
            };
            if node.level == 0 {
                continue;
            }
            for (i, entry) in node.entries.iter().enumerate() {
                let after = i.checked_sub(1).map(|p| &node.entries[p].key[..]);
                if range.meets(after, &entry.key) {
                    below.push((*child_cid(&node, i), Some(node.level - 1)));
                }
            }
        }
        level_nodes = below;
    }
    if missing.is_empty() {
        Ok(Outcome::Complete(()))
    } else {
        Ok(Outcome::Missing(missing))
    }
}

/// Collects the entries in range, in the given direction, up to `limit` of them.
pub fn collect<S: Blockstore>(
    reader: NodeReader<'_, S>,
    root: Cid,
    range: KeyRange,
    direction: Direction,
    limit: Option<usize>,
) -> Result<Outcome<Vec<Pair>>> {
    if limit.is_none() {
        ready!(frontier(reader, root, range));
    }
    let mut cursor = Cursor::new(reader, root);
    let mut out = Vec::new();
    let limit = limit.unwrap_or(usize::MAX);
    match direction {
        Direction::Forward => {
            ready!(match range.lo {
                Bound::Included(k) => cursor.seek(k),
                Bound::Excluded(k) => cursor.seek_after(k),
                Bound::Unbounded => cursor.first(),
            });
            while out.len() < limit
                && let Some((key, value)) = cursor.entry()
            {
                if !range.below_hi(key) {
                    break;
                }
                out.push((key.clone(), value.clone()));
                // The last key in range needs no look past it.
                if matches!(range.hi, Bound::Included(hi) if hi == key) {
                    break;
                }
                ready!(cursor.next());
            }
        }
        Direction::Backward => {
            ready!(match range.hi {
                Bound::Included(k) => cursor.seek_at_or_before(k),
                Bound::Excluded(k) => cursor.seek_before(k),
                Bound::Unbounded => cursor.last(),
            });
            while out.len() < limit
                && let Some((key, value)) = cursor.entry()
            {
                if !range.above_lo(key) {
                    break;
                }
                out.push((key.clone(), value.clone()));
                if matches!(range.lo, Bound::Included(lo) if lo == key) {
                    break;
                }
                // Leaving the leaf: the ancestors tell whether anything before it is in range.
                if cursor.at_leaf_start()
                    && cursor
                        .max_key_before_leaf()
                        .is_some_and(|k| !range.above_lo(k))
                {
                    break;
                }
                ready!(cursor.prev());
            }
        }
    }
    Ok(Outcome::Complete(out))
}
