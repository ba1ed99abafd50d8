//! `check_invariants`: everything a well-formed tree must satisfy, checked from its blocks. The
//! property tests run it after every operation.

use cid::Cid;
use fvm_ipld_blockstore::Blockstore;

use crate::chunker::Chunker;
use crate::cursor::child_cid;
use crate::node::{Node, Value};
use crate::root::RootObject;
use crate::size;
use crate::store::{NodeCache, NodeReader};

/// Checks the tree named by a root object CID:
/// - every block is present, hashes to its CID, and decodes;
/// - levels descend by one, keys ascend strictly across each level;
/// - a parent's key is its child's last key, and its count is the child's entry count;
/// - every node is within its byte cap;
/// - each level is cut exactly where the chunker cuts it, and the root is the lowest level with a
///   single node (so the tree is the one a build from scratch gives);
/// - the root object's count is the number of entries.
pub fn check_invariants<S: Blockstore>(store: &S, root: &Cid) -> Result<(), String> {
    let root_object = match RootObject::load(store, root).map_err(|e| e.to_string())? {
        crate::Outcome::Complete(r) => r,
        crate::Outcome::Missing(_) => return Err("root object missing".into()),
    };
    let config = root_object.config;
    // A cache of its own: the check must read the blocks, not trust what a tree has cached.
    let cache = NodeCache::default();
    let reader = NodeReader::new(store, &cache);
    let load = |cid: &Cid| -> Result<std::sync::Arc<Node>, String> {
        match reader.load(cid, None).map_err(|e| e.to_string())? {
            crate::Outcome::Complete(n) => Ok(n),
            crate::Outcome::Missing(_) => Err(format!("block {cid} missing")),
        }
    };
    // Levels top-down, each a list of nodes in key order.
    let mut levels: Vec<Vec<std::sync::Arc<Node>>> = vec![vec![load(&root_object.node)?]];
    loop {
        let parents = levels.last().expect("a level");
        if parents[0].level == 0 {
            break;
        }
        let mut children = Vec::new();
        for parent in parents {
            for (i, entry) in parent.entries.iter().enumerate() {
                let child = load(child_cid(parent, i))?;
                if child.level + 1 != parent.level {
                    return Err(format!(
                        "level {} under level {}",
                        child.level, parent.level
                    ));
                }
                if child.last_key() != Some(&entry.key) {
                    return Err("parent key is not the child's last key".into());
                }
                if let Value::Child { count, .. } = entry.value
                    && count != child.count()
                {
                    return Err(format!("child count {count}, actual {}", child.count()));
                }
                children.push(child);
            }
        }
        levels.push(children);
    }
    let mut total = 0;
    for (depth, nodes) in levels.iter().enumerate() {
        let level = nodes[0].level;
        if level as usize != levels.len() - 1 - depth {
            return Err("levels are not consecutive".into());
        }
        let entries: Vec<_> = nodes
            .iter()
            .flat_map(|n| n.entries.iter().cloned())
            .collect();
        for pair in entries.windows(2) {
            if pair[0].key >= pair[1].key {
                return Err(format!("keys out of order at level {level}"));
            }
        }
        for node in nodes {
            let len = node.encode().len();
            if len > config.cap(level) as usize {
                return Err(format!("node of {len} bytes over the cap at level {level}"));
            }
            let payload: usize = node.entries.iter().map(|e| e.encoded_len()).sum();
            if size::node_len(level, node.entries.len(), payload) != len {
                return Err("computed node size differs from the encoding".into());
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
            return Err(format!(
                "level {level} is cut differently from the chunker: {} nodes, expected {}",
                actual.len(),
                expected.len()
            ));
        }
        if depth == 1 && nodes.len() < 2 {
            return Err("the root has a single child".into());
        }
        if level == 0 {
            total = entries.len() as u64;
        }
    }
    if total != root_object.count {
        return Err(format!(
            "root object counts {}, tree holds {total}",
            root_object.count
        ));
    }
    Ok(())
}
