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

    /// Child `idx` of the internal node `parent`, one level below it.
    fn child(&self, parent: &Node, idx: usize) -> Result<Outcome<Arc<Node>>> {
        self.node(child_cid(parent, idx), Some(parent.level - 1))
    }
}

/// Which child a descent takes in an internal node, or that it stops there.
pub(crate) enum Route {
    Child(usize),
    Stop,
}

/// Goes down from `node` to the node at `level` (0: a leaf) that `route` leads to, or `None`
/// where `route` stops first, handing each node it leaves to `passed` with the child it took.
/// A node below `level` (a corrupt tree) ends the descent early; callers that need the exact
/// level check it.
#[inline]
fn walk_down(
    source: &impl NodeSource,
    mut node: Arc<Node>,
    level: u32,
    mut route: impl FnMut(&Node) -> Route,
    mut passed: impl FnMut(Arc<Node>, usize),
) -> Result<Outcome<Option<Arc<Node>>>> {
    while node.level > level {
        let Route::Child(idx) = route(&node) else {
            return Ok(Outcome::Complete(None));
        };
        let child = ready!(source.child(&node, idx));
        passed(std::mem::replace(&mut node, child), idx);
    }
    Ok(Outcome::Complete(Some(node)))
}

/// The node at `level` that `route` leads to from the root, when only the node matters (rank and
/// select): the same descent as [`Path::descend`], keeping no path.
pub(crate) fn descend_to(
    source: &impl NodeSource,
    root: &Cid,
    level: u32,
    route: impl FnMut(&Node) -> Route,
) -> Result<Outcome<Option<Arc<Node>>>> {
    let node = ready!(source.node(root, None));
    walk_down(source, node, level, route, |_, _| {})
}

#[derive(Clone)]
pub(crate) struct Path {
    /// (node, index of the child on the path), from the root down to the parent of `node`.
    pub ancestors: Vec<(Arc<Node>, usize)>,
    pub node: Arc<Node>,
}

impl Path {
    /// The path of the root node alone.
    #[inline]
    pub fn root(source: &impl NodeSource, root: &Cid) -> Result<Outcome<Path>> {
        let node = ready!(source.node(root, None));
        Ok(Outcome::Complete(Path {
            ancestors: Vec::with_capacity(16),
            node,
        }))
    }

    /// The CID of the node, in the tree whose root node is `root`.
    pub fn cid(&self, root: &Cid) -> Cid {
        match self.ancestors.last() {
            Some((parent, idx)) => *child_cid(parent, *idx),
            None => *root,
        }
    }

    /// Goes down from this node to the node at `level` (0: a leaf) that `route` leads to, or
    /// `None` where `route` stops first.
    #[inline]
    pub fn descend(
        self,
        source: &impl NodeSource,
        level: u32,
        route: impl FnMut(&Node) -> Route,
    ) -> Result<Outcome<Option<Path>>> {
        let Path {
            mut ancestors,
            node,
        } = self;
        let found = walk_down(source, node, level, route, |node, idx| {
            ancestors.push((node, idx))
        });
        Ok(Outcome::Complete(
            ready!(found).map(|node| Path { ancestors, node }),
        ))
    }

    /// Climbs at least to the parent, then on to the nearest ancestor for which `far_enough`
    /// holds, or the root. A path at the root stays.
    pub fn climb(mut self, far_enough: impl Fn(&Node) -> bool) -> Path {
        while let Some((parent, _)) = self.ancestors.pop() {
            self.node = parent;
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
        let mut fresh: Vec<(Arc<Node>, usize)> = Vec::new();
        loop {
            let (parent, idx) = match fresh.last() {
                Some((node, idx)) => (node, *idx),
                None => (&self.ancestors[pivot].0, pivot_idx),
            };
            let node = ready!(source.child(parent, idx));
            if node.level == self.node.level || node.level == 0 {
                self.ancestors.truncate(pivot + 1);
                self.ancestors[pivot].1 = pivot_idx;
                self.ancestors.extend(fresh);
                self.node = node;
                return Ok(Outcome::Complete(true));
            }
            let near = if forward { 0 } else { node.entries.len() - 1 };
            fresh.push((node, near));
        }
    }

    /// The path of this node's parent, if it has one.
    pub fn parent(&self) -> Option<Path> {
        if self.ancestors.is_empty() {
            return None;
        }
        Some(self.clone().climb(|_| true))
    }

    /// Whether this node comes right after `prev`'s node in their level (both paths from the same
    /// root): below the first ancestor where they part, `prev` keeps to last children and this
    /// path to first ones.
    pub fn follows(&self, prev: &Path) -> bool {
        if self.ancestors.len() != prev.ancestors.len() {
            return false;
        }
        let Some(split) = self
            .ancestors
            .iter()
            .zip(&prev.ancestors)
            .position(|((_, a), (_, b))| a != b)
        else {
            return false;
        };
        self.ancestors[split].1 == prev.ancestors[split].1 + 1
            && self.ancestors[split + 1..].iter().all(|(_, idx)| *idx == 0)
            && prev.ancestors[split + 1..]
                .iter()
                .all(|(node, idx)| idx + 1 == node.entries.len())
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
