//! 3-way merge: the changes from a base to the right side, replayed onto the left side. Both diffs
//! cost time proportional to the changes, and the replay is one batch.

use cid::Cid;
use fvm_ipld_blockstore::Blockstore;

use crate::batch::Batch;
use crate::diff::{Change, diff};
use crate::error::{Error, Result};
use crate::outcome::Outcome;
use crate::ready;
use crate::store::NodeReader;
use crate::value::RawValue;

/// Both sides changed a key differently: what the base, the left and the right hold there.
#[derive(Debug, Clone, PartialEq)]
pub struct Conflict<'a> {
    pub key: &'a [u8],
    pub base: Option<&'a RawValue>,
    pub left: Option<&'a RawValue>,
    pub right: Option<&'a RawValue>,
}

/// How a conflict ends: with a value, with the key removed, or not at all (the merge fails).
#[derive(Debug, Clone, PartialEq)]
pub enum Resolution {
    Put(RawValue),
    Delete,
    Refuse,
}

/// The batch that turns `left` into the merge of `left` and `right` against `base` (all root
/// node CIDs). Keys changed on one side only take that side; keys changed the same way on both
/// agree; the resolver decides the rest.
pub fn merge_batch<S: Blockstore>(
    reader: NodeReader<'_, S>,
    base: Cid,
    left: Cid,
    right: Cid,
    mut resolve: impl FnMut(Conflict) -> Resolution,
) -> Result<Outcome<Batch>> {
    let ours = ready!(diff(reader, base, left));
    let theirs = ready!(diff(reader, base, right));
    let mut batch = Batch::new();
    let mut ours = ours.into_iter().peekable();
    for Change {
        key,
        left: base_value,
        right: their_value,
    } in theirs
    {
        while ours.next_if(|c| c.key < key).is_some() {}
        let our_change = ours.next_if(|c| c.key == key);
        let Some(our_change) = our_change else {
            match their_value {
                Some(v) => batch.put_raw(key, v),
                None => batch.delete(key),
            };
            continue;
        };
        if our_change.right == their_value {
            continue;
        }
        let conflict = Conflict {
            key: &key,
            base: base_value.as_ref(),
            left: our_change.right.as_ref(),
            right: their_value.as_ref(),
        };
        match resolve(conflict) {
            Resolution::Put(v) => batch.put_raw(key, v),
            Resolution::Delete => batch.delete(key),
            Resolution::Refuse => return Err(Error::Conflict { key: key.to_vec() }),
        };
    }
    Ok(Outcome::Complete(batch))
}
