//! Shape statistics: depth, nodes, bytes, and how node sizes spread.

use std::collections::BTreeMap;

use cid::Cid;
use fvm_ipld_blockstore::Blockstore;

use crate::error::Result;
use crate::node::Node;
use crate::outcome::Outcome;
use crate::path::child_cid;
use crate::ready;
use crate::store::{check_level, load_block};

#[derive(Debug, Clone, Default, PartialEq)]
pub struct LevelStats {
    pub nodes: u64,
    pub bytes: u64,
    pub entries: u64,
    pub largest: u64,
}

#[derive(Debug, Clone, Default, PartialEq)]
pub struct Stats {
    /// Levels, leaves included: a tree of one leaf has depth 1.
    pub depth: u32,
    pub nodes: u64,
    pub bytes: u64,
    pub entries: u64,
    /// Per level, leaves first.
    pub levels: Vec<LevelStats>,
    /// Node count by encoded size, in power-of-two buckets keyed by their upper bound.
    pub size_histogram: BTreeMap<u64, u64>,
}

/// Reads every node of the tree rooted at the node `root`.
pub fn stats<S: Blockstore>(store: &S, root: Cid) -> Result<Outcome<Stats>> {
    let mut stats = Stats::default();
    let mut frontier = vec![(root, None)];
    while !frontier.is_empty() {
        let mut below = Vec::new();
        for (cid, level) in frontier {
            let bytes = ready!(load_block(store, &cid));
            let size = bytes.len() as u64;
            let node = Node::decode(bytes).map_err(|e| crate::Error::corrupt(cid, e))?;
            check_level(&cid, &node, level)?;
            if stats.levels.is_empty() {
                stats.depth = node.level + 1;
                stats.levels = vec![LevelStats::default(); stats.depth as usize];
            }
            let lvl = &mut stats.levels[node.level as usize];
            lvl.nodes += 1;
            lvl.bytes += size;
            lvl.entries += node.entries.len() as u64;
            lvl.largest = lvl.largest.max(size);
            *stats
                .size_histogram
                .entry(size.next_power_of_two())
                .or_default() += 1;
            stats.nodes += 1;
            stats.bytes += size;
            if node.level == 0 {
                stats.entries += node.entries.len() as u64;
            } else {
                below.extend(
                    (0..node.entries.len()).map(|i| (*child_cid(&node, i), Some(node.level - 1))),
                );
            }
        }
        frontier = below;
    }
    Ok(Outcome::Complete(stats))
}
