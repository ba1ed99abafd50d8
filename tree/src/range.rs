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

use crate::cursor::Cursor;
use crate::error::Result;
use crate::outcome::Outcome;
use crate::path::child_cid;
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

/// A node the frontier will read, with what its parent says about it.
struct Pending {
    cid: Cid,
    level: Option<u32>,
    /// Every key of the subtree is at or above the range's low bound.
    lower_ok: bool,
}

impl KeyRange<'_> {
    /// Whether every key above `after` is at or above the low bound.
    fn lower_ok_after(&self, after: &[u8]) -> bool {
        match self.lo {
            Bound::Included(lo) | Bound::Excluded(lo) => after >= lo,
            Bound::Unbounded => true,
        }
    }
}

/// Reads, level by level, every node that reading up to `limit` entries of the range from the
/// `direction` end needs, and reports all the missing ones it can see at once. A reader over a cold
/// cache then fetches one level per round, not one block per round.
///
/// Per-child entry counts bound the work: children wholly inside the range hold exactly their
/// count, so at each level the frontier keeps children, in reading order, only until those counts
/// cover the limit.
pub fn frontier<S: Blockstore>(
    reader: NodeReader<'_, S>,
    root: Cid,
    range: KeyRange,
    direction: Direction,
    limit: usize,
) -> Result<Outcome<()>> {
    let root = Pending {
        cid: root,
        level: None,
        lower_ok: range.lo == Bound::Unbounded,
    };
    let mut level_nodes = vec![root];
    let mut missing = BTreeSet::new();
    while !level_nodes.is_empty() {
        let mut below = Vec::new();
        let mut covered = 0u64;
        'nodes: for pending in level_nodes {
            let node = match reader.load(&pending.cid, pending.level)? {
                Outcome::Complete(node) => node,
                Outcome::Missing(m) => {
                    missing.extend(m);
                    continue;
                }
            };
            if node.level == 0 {
                continue;
            }
            let children: Box<dyn Iterator<Item = usize>> = match direction {
                Direction::Forward => Box::new(0..node.entries.len()),
                Direction::Backward => Box::new((0..node.entries.len()).rev()),
            };
            for i in children {
                let entry = &node.entries[i];
                let after = i.checked_sub(1).map(|p| &node.entries[p].key[..]);
                if !range.meets(after, &entry.key) {
                    continue;
                }
                let lower_ok = after.map_or(pending.lower_ok, |a| range.lower_ok_after(a));
                below.push(Pending {
                    cid: *child_cid(&node, i),
                    level: Some(node.level - 1),
                    lower_ok,
                });
                if lower_ok && range.below_hi(&entry.key) {
                    covered = covered.saturating_add(entry.count());
                    if covered >= limit as u64 {
                        break 'nodes;
                    }
                }
            }
        }
        level_nodes = below;
    }
    Ok(Outcome::from_missing(missing))
}

/// Collects the entries in range, in the given direction, up to `limit` of them. Over a partial
/// store it reports the whole frontier of missing blocks, not just the first one met; over a
/// complete store the frontier costs nothing, since it is only mapped when a block is missing.
pub fn collect<S: Blockstore>(
    reader: NodeReader<'_, S>,
    root: Cid,
    range: KeyRange,
    direction: Direction,
    limit: usize,
) -> Result<Outcome<Vec<Pair>>> {
    walk(reader, root, range, direction, limit)?
        .or_frontier(|| frontier(reader, root, range, direction, limit))
}

/// The range read itself: a cursor from one end.
fn walk<S: Blockstore>(
    reader: NodeReader<'_, S>,
    root: Cid,
    range: KeyRange,
    direction: Direction,
    limit: usize,
) -> Result<Outcome<Vec<Pair>>> {
    let mut cursor = Cursor::new(reader, root);
    // Room for a page of results up front, not six doublings on the way to 100.
    let mut out = Vec::with_capacity(limit.min(128));
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
                // The last key in range, or the last one wanted, needs no look past it.
                if out.len() == limit || matches!(range.hi, Bound::Included(hi) if hi == key) {
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
                if out.len() == limit || matches!(range.lo, Bound::Included(lo) if lo == key) {
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
