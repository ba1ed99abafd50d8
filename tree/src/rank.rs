//! Positions by count: how many entries lie before a key, and which entry sits at a position.
//! Internal nodes carry each child's entry count, so both descend one path, O(depth) blocks, and
//! so do their proofs: counts and offset pages need no scan.

use cid::Cid;
use fvm_ipld_blockstore::Blockstore;

use crate::error::Result;
use crate::node::{Entry, Node, Value};
use crate::outcome::Outcome;
use crate::path::{Route, descend_to};
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
    // Children whose last key is before the bound lie wholly before it. Saturating: counts read
    // from a hostile block must not overflow.
    let mut rank = 0u64;
    let mut count_before = |node: &Node| {
        let at = node.count_below(key, inclusive);
        rank = node.entries[..at]
            .iter()
            .map(Entry::count)
            .fold(rank, u64::saturating_add);
        at
    };
    let leaf = ready!(descend_to(&reader, &root, 0, |node| {
        match count_before(node) {
            at if at == node.entries.len() => Route::Stop,
            at => Route::Child(at),
        }
    }));
    if let Some(leaf) = leaf {
        count_before(&leaf);
    }
    Ok(Outcome::Complete(rank))
}

/// The entry at position `index` in key order (0-based), if there is one.
pub fn select<S: Blockstore>(
    reader: NodeReader<'_, S>,
    root: Cid,
    mut index: u64,
) -> Result<Outcome<Option<Pair>>> {
    let leaf = ready!(descend_to(&reader, &root, 0, |node| {
        for (i, entry) in node.entries.iter().enumerate() {
            if index < entry.count() {
                return Route::Child(i);
            }
            index -= entry.count();
        }
        Route::Stop
    }));
    let found = leaf.and_then(|leaf| {
        let entry = leaf.entries.get(usize::try_from(index).ok()?)?;
        match &entry.value {
            Value::Data(v) => Some((entry.key.clone(), v.clone())),
            Value::Child { .. } => None,
        }
    });
    Ok(Outcome::Complete(found))
}
