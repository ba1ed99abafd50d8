//! Diff of two trees in time proportional to the changes: subtrees with the same CID are skipped
//! without being read.
//!
//! Each tree is walked as a stream of items, where an item is either a leaf entry or a whole
//! subtree not yet opened. Where both streams face a subtree of the same level and CID, both skip
//! it. Otherwise the higher subtree is opened, so entries are only ever compared with entries.
//! History independence makes this fast: after a change, both trees cut their nodes at the same
//! places again, so their streams soon face equal subtrees.

use std::cmp::Ordering;
use std::collections::BTreeSet;
use std::sync::Arc;

use bytes::Bytes;
use cid::Cid;
use fvm_ipld_blockstore::Blockstore;

use crate::error::Result;
use crate::node::{Entry, Node, Value};
use crate::outcome::Outcome;
use crate::path::child_cid;
use crate::ready;
use crate::store::NodeReader;
use crate::value::RawValue;

/// One key that differs: its value on the left and on the right (`None` where absent).
#[derive(Debug, Clone, PartialEq)]
pub struct Change {
    pub key: Bytes,
    pub left: Option<RawValue>,
    pub right: Option<RawValue>,
}

struct Walk<'s, S> {
    reader: NodeReader<'s, S>,
    stack: Vec<(Arc<Node>, usize)>,
}

enum Item<'a> {
    Entry(&'a Entry),
    Subtree { level: u32, cid: Cid },
}

impl<'s, S: Blockstore> Walk<'s, S> {
    fn start(reader: NodeReader<'s, S>, root: Cid) -> Result<Outcome<Self>> {
        let node = ready!(reader.load(&root, None));
        Ok(Outcome::Complete(Walk {
            reader,
            stack: vec![(node, 0)],
        }))
    }

    fn item(&self) -> Option<Item<'_>> {
        let (node, idx) = self.stack.last()?;
        let entry = node.entries.get(*idx)?;
        Some(match entry.value {
            Value::Data(_) => Item::Entry(entry),
            Value::Child { cid, .. } => Item::Subtree {
                level: node.level - 1,
                cid,
            },
        })
    }

    fn advance(&mut self) {
        while let Some((node, idx)) = self.stack.last_mut() {
            *idx += 1;
            if *idx < node.entries.len() {
                return;
            }
            self.stack.pop();
        }
    }

    /// Opens the current subtree item.
    fn open(&mut self) -> Result<Outcome<()>> {
        let (node, idx) = self.stack.last().expect("an item to open");
        let cid = *child_cid(node, *idx);
        let child = ready!(self.reader.load(&cid, Some(node.level - 1)));
        self.stack.push((child, 0));
        Ok(Outcome::Complete(()))
    }
}

/// Every key whose value differs between the trees rooted at the nodes `left` and `right`, in
/// key order.
///
/// Over a partial store it reports every missing block of the differing region it can see, a
/// level at a time (see [`frontier`]), not just the first one the walk meets.
pub fn diff<S: Blockstore>(
    reader: NodeReader<'_, S>,
    left: Cid,
    right: Cid,
) -> Result<Outcome<Vec<Change>>> {
    walk(reader, left, right)?.or_frontier(|| frontier(reader, left, right))
}

/// The blocks a diff reads, level by level from the top: at each level, the nodes of one tree
/// whose CID is not among the other tree's nodes there are opened, the rest are shared subtrees.
/// Missing blocks are collected rather than returned at the first, down to the first level that
/// has any.
fn frontier<S: Blockstore>(
    reader: NodeReader<'_, S>,
    left: Cid,
    right: Cid,
) -> Result<Outcome<()>> {
    let mut missing = BTreeSet::new();
    // (cid, level) of the nodes still to compare; a root's level is known once it is read.
    let mut sides: [Vec<(Cid, u32)>; 2] = [Vec::new(), Vec::new()];
    for (side, root) in [left, right].into_iter().enumerate() {
        match reader.load(&root, None)? {
            Outcome::Complete(node) => sides[side].push((root, node.level)),
            Outcome::Missing(m) => missing.extend(m),
        }
    }
    if !missing.is_empty() {
        return Ok(Outcome::Missing(missing));
    }
    let top = sides
        .iter()
        .flatten()
        .map(|(_, level)| *level)
        .max()
        .unwrap_or(0);
    for level in (0..=top).rev() {
        let here: [BTreeSet<Cid>; 2] = [0, 1].map(|side| {
            sides[side]
                .iter()
                .filter(|(_, l)| *l == level)
                .map(|(cid, _)| *cid)
                .collect()
        });
        for side in 0..2 {
            let other = &here[1 - side];
            let mut below = Vec::new();
            for (cid, l) in std::mem::take(&mut sides[side]) {
                if l != level {
                    below.push((cid, l)); // a lower root, not reached yet
                    continue;
                }
                if other.contains(&cid) {
                    continue; // the same subtree on both sides
                }
                match reader.load(&cid, Some(level))? {
                    Outcome::Missing(m) => missing.extend(m),
                    Outcome::Complete(node) if level > 0 => {
                        below.extend(
                            (0..node.entries.len()).map(|i| (*child_cid(&node, i), level - 1)),
                        );
                    }
                    Outcome::Complete(_) => {}
                }
            }
            sides[side] = below;
        }
        // Below a level with missing nodes, either side's list of nodes is incomplete, so no
        // node there can be told shared: going on would fetch the children of every node held
        // (a cache warm with one tree's paths fetched most of its next level). Stop: the next
        // round continues from here.
        if !missing.is_empty() {
            break;
        }
    }
    Ok(Outcome::from_missing(missing))
}

/// The diff itself: both trees walked as item streams.
fn walk<S: Blockstore>(
    reader: NodeReader<'_, S>,
    left: Cid,
    right: Cid,
) -> Result<Outcome<Vec<Change>>> {
    let mut changes = Vec::new();
    if left == right {
        return Ok(Outcome::Complete(changes));
    }
    let mut l = ready!(Walk::start(reader, left));
    let mut r = ready!(Walk::start(reader, right));
    loop {
        // Open the higher subtree; skip equal subtrees; compare entries.
        let step = match (l.item(), r.item()) {
            (None, None) => break,
            (
                Some(Item::Subtree { level: a, cid: x }),
                Some(Item::Subtree { level: b, cid: y }),
            ) if a == b && x == y => Step::SkipBoth,
            (Some(Item::Subtree { level: a, .. }), Some(Item::Subtree { level: b, .. })) => {
                if a >= b {
                    Step::OpenLeft
                } else {
                    Step::OpenRight
                }
            }
            (Some(Item::Subtree { .. }), _) => Step::OpenLeft,
            (_, Some(Item::Subtree { .. })) => Step::OpenRight,
            (Some(Item::Entry(a)), None) => Step::Left(a.clone()),
            (None, Some(Item::Entry(b))) => Step::Right(b.clone()),
            (Some(Item::Entry(a)), Some(Item::Entry(b))) => match a.key.cmp(&b.key) {
                Ordering::Less => Step::Left(a.clone()),
                Ordering::Greater => Step::Right(b.clone()),
                Ordering::Equal if a.value == b.value => Step::SkipBoth,
                Ordering::Equal => Step::Both(a.clone(), b.clone()),
            },
        };
        match step {
            Step::SkipBoth => {
                l.advance();
                r.advance();
            }
            Step::OpenLeft => ready!(l.open()),
            Step::OpenRight => ready!(r.open()),
            Step::Left(a) => {
                changes.push(Change {
                    key: a.key,
                    left: data(a.value),
                    right: None,
                });
                l.advance();
            }
            Step::Right(b) => {
                changes.push(Change {
                    key: b.key,
                    left: None,
                    right: data(b.value),
                });
                r.advance();
            }
            Step::Both(a, b) => {
                changes.push(Change {
                    key: a.key,
                    left: data(a.value),
                    right: data(b.value),
                });
                l.advance();
                r.advance();
            }
        }
    }
    Ok(Outcome::Complete(changes))
}

enum Step {
    SkipBoth,
    OpenLeft,
    OpenRight,
    Left(Entry),
    Right(Entry),
    Both(Entry, Entry),
}

fn data(value: Value) -> Option<RawValue> {
    match value {
        Value::Data(v) => Some(v),
        Value::Child { .. } => None,
    }
}
