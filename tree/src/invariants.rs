//! `check_invariants`: everything a well-formed tree must satisfy, checked from its blocks. The
//! property tests run it after every operation.

use cid::Cid;
use fvm_ipld_blockstore::Blockstore;

use crate::chunker::Chunker;
use crate::error::Error;
use crate::node::{Node, Value};
use crate::path::child_cid;
use crate::root::RootObject;
use crate::size;
use crate::store::{NodeCache, NodeReader};

/// A broken invariant, or a tree that cannot be read to the end.
#[derive(Debug, thiserror::Error)]
pub enum Violation {
    /// A block is absent, corrupt, or the store failed.
    #[error(transparent)]
    Read(#[from] Error),
    #[error("a level-{child} node under a level-{parent} node")]
    LevelStep { parent: u32, child: u32 },
    #[error("a level-{level} key is not its child's separator or last key")]
    ParentKey { level: u32 },
    #[error("child count {recorded}, actual {actual}")]
    ChildCount { recorded: u64, actual: u64 },
    #[error("levels are not consecutive")]
    LevelsNotConsecutive,
    #[error("keys out of order at level {level}")]
    KeyOrder { level: u32 },
    #[error("a node of {size} bytes over the cap of {cap} at level {level}")]
    OverCap { level: u32, size: usize, cap: u32 },
    #[error("a level-{level} node's encoding ({size} bytes) exceeds its logical size")]
    SizeFormula { level: u32, size: usize },
    #[error(
        "level {level} is cut differently from the chunker: {nodes} nodes, expected {expected}"
    )]
    Cut {
        level: u32,
        nodes: usize,
        expected: usize,
    },
    #[error("the root has a single child")]
    SingleChildRoot,
    #[error("the root object counts {recorded} entries, the tree holds {actual}")]
    RootCount { recorded: u64, actual: u64 },
}

/// Checks the tree named by a root object CID:
/// - every block is present, hashes to its CID, and decodes;
/// - levels descend by one, keys ascend strictly across each level;
/// - a leaf's key in its parent is its separator from the next leaf (`separator.rs`), any other
///   node's its last key, and a parent's count is its child's entry count;
/// - every node is within its byte cap;
/// - each level is cut exactly where the chunker cuts it, and the root is the lowest level with a
///   single node (so the tree is the one a build from scratch gives);
/// - the root object's count is the number of entries.
pub fn check_invariants<S: Blockstore>(store: &S, root: &Cid) -> Result<(), Violation> {
    let root_object = RootObject::load(store, root)?
        .into_result()
        .map_err(Error::from)?;
    let config = root_object.config;
    // A cache of its own: the check must read the blocks, not trust what a tree has cached.
    let cache = NodeCache::default();
    let reader = NodeReader::new(store, &cache);
    let load = |cid: &Cid| -> Result<std::sync::Arc<Node>, Violation> {
        Ok(reader.load(cid, None)?.into_result().map_err(Error::from)?)
    };
    // Levels top-down, each a list of nodes in key order.
    let mut levels: Vec<Vec<std::sync::Arc<Node>>> = vec![vec![load(&root_object.node)?]];
    loop {
        let parents = levels.last().expect("a level");
        if parents[0].level == 0 {
            break;
        }
        let mut children = Vec::new();
        let mut keys = Vec::new();
        for parent in parents {
            for (i, entry) in parent.entries.iter().enumerate() {
                let child = load(child_cid(parent, i))?;
                if child.level + 1 != parent.level {
                    return Err(Violation::LevelStep {
                        parent: parent.level,
                        child: child.level,
                    });
                }
                if let Value::Child { count, .. } = entry.value
                    && count != child.count()
                {
                    return Err(Violation::ChildCount {
                        recorded: count,
                        actual: child.count(),
                    });
                }
                keys.push(entry.key.clone());
                children.push(child);
            }
        }
        // A leaf's key is its separator from the next leaf; any other node's, its last key.
        for (i, (key, child)) in keys.iter().zip(&children).enumerate() {
            let last = child.last_key().cloned().unwrap_or_default();
            let expected = match children.get(i + 1).and_then(|n| n.entries.first()) {
                // Keys out of order across leaves are reported below, as such.
                Some(next) if child.level == 0 && last < next.key => {
                    crate::separator(&last, &next.key)
                }
                _ => last,
            };
            if *key != expected {
                return Err(Violation::ParentKey {
                    level: child.level + 1,
                });
            }
        }
        levels.push(children);
    }
    let mut total = 0;
    for (depth, nodes) in levels.iter().enumerate() {
        let level = nodes[0].level;
        if level as usize != levels.len() - 1 - depth {
            return Err(Violation::LevelsNotConsecutive);
        }
        let entries: Vec<_> = nodes
            .iter()
            .flat_map(|n| n.entries.iter().cloned())
            .collect();
        for pair in entries.windows(2) {
            if pair[0].key >= pair[1].key {
                return Err(Violation::KeyOrder { level });
            }
        }
        for node in nodes {
            let len = node.encode().len();
            if len > config.cap(level) as usize {
                return Err(Violation::OverCap {
                    level,
                    size: len,
                    cap: config.cap(level),
                });
            }
            let payload: usize = node.entries.iter().map(|e| e.encoded_len()).sum();
            if size::node_len(level, node.entries.len(), payload) < len {
                return Err(Violation::SizeFormula { level, size: len });
            }
        }
        let mut chunker = Chunker::new(config, level);
        let mut expected = Vec::new();
        for entry in entries.iter().cloned() {
            chunker.push(entry, &mut expected);
        }
        chunker.finish(&mut expected);
        if expected.is_empty() {
            // The empty tree is a single empty leaf.
            expected.push(Node::empty_leaf());
        }
        let actual: Vec<&Node> = nodes.iter().map(|n| n.as_ref()).collect();
        if expected.len() != actual.len() || expected.iter().zip(&actual).any(|(a, b)| a != *b) {
            return Err(Violation::Cut {
                level,
                nodes: actual.len(),
                expected: expected.len(),
            });
        }
        if depth == 1 && nodes.len() < 2 {
            return Err(Violation::SingleChildRoot);
        }
        if level == 0 {
            total = entries.len() as u64;
        }
    }
    if total != root_object.count {
        return Err(Violation::RootCount {
            recorded: root_object.count,
            actual: total,
        });
    }
    Ok(())
}
