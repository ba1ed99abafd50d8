//! A path from the root to one node at any level: how the tree is navigated. The cursor walks the
//! leaves with it, a batch walks the level it rewrites, and rank and select descend it by counts.
//! (The range frontier reads whole levels breadth-first, to report every missing block of a level
//! at once, so it is the one walk that is not a path.)
//!
//! A move that meets a missing block reports it and leaves the path as it was, so it can be
//! retried once the block is there.

use std::sync::Arc;

use cid::Cid;

use crate::error::Result;
use crate::node::{Node, Value};
use crate::outcome::Outcome;
use crate::ready;

/// Where nodes come from: the store through the cache, or also a batch's nodes not yet flushed.
pub(crate) trait NodeSource {
    /// The node `cid`; if `level` is given, it must sit at that level.
    fn node(&self, cid: &Cid, level: Option<u32>) -> Result<Outcome<Arc<Node>>>;
}

/// Which child a descent takes in an internal node, or that it stops there.
pub(crate) enum Route {
    Child(usize),
    Stop,
}

#[derive(Clone)]
pub(crate) struct Path {
    /// (node, index of the child on the path), from the root down to the parent of `node`.
    pub ancestors: Vec<(Arc<Node>, usize)>,
    pub node: Arc<Node>,
    pub cid: Cid,
}

impl Path {
    /// The path of the root node alone.
    pub fn root(source: &impl NodeSource, root: Cid) -> Result<Outcome<Path>> {
        let node = ready!(source.node(&root, None));
        Ok(Outcome::Complete(Path {
            ancestors: Vec::with_capacity(16),
            node,
            cid: root,
        }))
    }

    /// Goes down from this node to the node at `level` (0: a leaf) that `route` leads to, or
    /// `None` where `route` stops first. A node below `level` (a corrupt tree) ends the descent
    /// early; callers that need the exact level check `node.level`.
    pub fn descend(
        mut self,
        source: &impl NodeSource,
        level: u32,
        mut route: impl FnMut(&Node) -> Route,
    ) -> Result<Outcome<Option<Path>>> {
        while self.node.level > level {
            let Route::Child(idx) = route(&self.node) else {
                return Ok(Outcome::Complete(None));
            };
            let cid = *child_cid(&self.node, idx);
            let child = ready!(source.node(&cid, Some(self.node.level - 1)));
            let parent = std::mem::replace(&mut self.node, child);
            self.ancestors.push((parent, idx));
            self.cid = cid;
        }
        Ok(Outcome::Complete(Some(self)))
    }

    /// Climbs at least to the parent, then on to the nearest ancestor for which `far_enough`
    /// holds, or the root. A path at the root stays.
    pub fn climb(mut self, root: Cid, far_enough: impl Fn(&Node) -> bool) -> Path {
        while let Some((parent, _)) = self.ancestors.pop() {
            self.node = parent;
            self.cid = match self.ancestors.last() {
                Some((grandparent, idx)) => *child_cid(grandparent, *idx),
                None => root,
            };
            if far_enough(&self.node) {
                break;
            }
        }
        self
    }

    /// Moves to the next (or previous) node of the same level: climbs to the nearest ancestor
    /// with a sibling that way, then descends along the sibling's near edge. `false` at the end
    /// of the level (the path is then unchanged). The path changes only once every block is read.
    pub fn step(&mut self, source: &impl NodeSource, forward: bool) -> Result<Outcome<bool>> {
        let Some(pivot) = self.ancestors.iter().rposition(|(node, idx)| {
            if forward {
                idx + 1 < node.entries.len()
            } else {
                *idx > 0
            }
        }) else {
            return Ok(Outcome::Complete(false));
        };
        let pivot_idx = if forward {
            self.ancestors[pivot].1 + 1
        } else {
            self.ancestors[pivot].1 - 1
        };
        let mut fresh = Vec::with_capacity(self.ancestors.len() - pivot);
        let mut level = self.ancestors[pivot].0.level - 1;
        let mut cid = *child_cid(&self.ancestors[pivot].0, pivot_idx);
        loop {
            let node = ready!(source.node(&cid, Some(level)));
            if node.level == self.node.level || node.level == 0 {
                self.ancestors.truncate(pivot + 1);
                self.ancestors[pivot].1 = pivot_idx;
                self.ancestors.extend(fresh);
                self.node = node;
                self.cid = cid;
                return Ok(Outcome::Complete(true));
            }
            let near = if forward { 0 } else { node.entries.len() - 1 };
            cid = *child_cid(&node, near);
            level = node.level - 1;
            fresh.push((node, near));
        }
    }

    /// The path of this node's parent, if it has one.
    pub fn parent(&self, root: Cid) -> Option<Path> {
        if self.ancestors.is_empty() {
            return None;
        }
        Some(self.clone().climb(root, |_| true))
    }

    /// Whether this is the last node of its level: every ancestor is on its last child.
    pub fn is_last(&self) -> bool {
        self.ancestors
            .iter()
            .all(|(node, idx)| idx + 1 == node.entries.len())
    }
}

pub(crate) fn child_cid(node: &Node, idx: usize) -> &Cid {
    match &node.entries[idx].value {
        Value::Child { cid, .. } => cid,
        // Decoding guarantees internal nodes hold only children.
        Value::Data(_) => unreachable!("data entry in an internal node"),
    }
}
