//! Positions by count: how many entries lie before a key, and which entry sits at a position.
//! Internal nodes carry each child's entry count, so both read one path, O(depth) blocks, and so
//! do their proofs: counts and offset pages need no scan.

use cid::Cid;
use fvm_ipld_blockstore::Blockstore;

use crate::cursor::child_cid;
use crate::error::Result;
use crate::node::{Entry, Value};
use crate::outcome::Outcome;
use crate::range::Pair;
use crate::ready;
use crate::store::NodeReader;

/// The number of entries whose key is `< key`, or `<= key` when `inclusive`.
pub fn rank<S: Blockstore>(
    reader: NodeReader<'_, S>,
    root: Cid,
    key: &[u8],
    inclusive: bool,
) -> Result<Outcome<u64>> {
    let before = |e: &Entry| {
        if inclusive {
            &e.key[..] <= key
        } else {
            &e.key[..] < key
        }
    };
    let mut node = ready!(reader.load(&root, None));
    let mut rank = 0u64;
    loop {
        // Children whose last key is before the bound lie wholly before it.
        let at = node.entries.partition_point(before);
        let before_child = node.entries[..at]
            .iter()
            .map(Entry::count)
            .fold(0, u64::saturating_add);
        rank = rank.saturating_add(before_child);
        if node.level == 0 || at == node.entries.len() {
            return Ok(Outcome::Complete(rank));
        }
        node = ready!(reader.load(child_cid(&node, at), Some(node.level - 1)));
    }
}

/// The entry at position `index` in key order (0-based), if there is one.
pub fn select<S: Blockstore>(
    reader: NodeReader<'_, S>,
    root: Cid,
    mut index: u64,
) -> Result<Outcome<Option<Pair>>> {
    let mut node = ready!(reader.load(&root, None));
    loop {
        if node.level == 0 {
            let found = usize::try_from(index)
                .ok()
                .and_then(|i| node.entries.get(i));
            return Ok(Outcome::Complete(found.and_then(|e| match &e.value {
                Value::Data(v) => Some((e.key.clone(), v.clone())),
                Value::Child { .. } => None,
            })));
        }
        let mut child = None;
        for (i, entry) in node.entries.iter().enumerate() {
            if index < entry.count() {
                child = Some(i);
                break;
            }
            index -= entry.count();
        }
        let Some(i) = child else {
            return Ok(Outcome::Complete(None));
        };
        node = ready!(reader.load(child_cid(&node, i), Some(node.level - 1)));
    }
}
