//! Three-way merge of databases, on documents: the catalog first (collections and index
//! definitions), then the documents, as one write batch replayed onto ours. Index entries are
//! never merged: the batch's writes maintain them, so the merged database's index entries are
//! exactly those of its documents, and a unique index that the union violates refuses the batch.
//!
//! Two databases built apart (one per contributor, or per worker of a large import) merged
//! against the empty database give the root of one built from everything: the tree is history
//! independent.

use std::collections::{BTreeMap, BTreeSet};

use fvm_ipld_blockstore::Blockstore;
use ipld_core::ipld::Ipld;
use prolly_tree::{Outcome, ready};

use crate::batch::{Op, WriteBatch};
use crate::catalog::{Collection, IndexDef};
use crate::database::Database;
use crate::diff::CollectionDiff;
use crate::error::{Result, show};

/// Which side a conflict goes to, when the caller says.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Prefer {
    Ours,
    Theirs,
}

/// Both sides changed the same thing differently.
#[derive(Debug, Clone, PartialEq)]
pub struct MergeConflict {
    pub collection: String,
    /// `document _id 7`, `index "by_x"`, `the collection`.
    pub what: String,
    pub reason: String,
}

impl std::fmt::Display for MergeConflict {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{:?}: {}: {}", self.collection, self.what, self.reason)
    }
}

/// What a merge gives: the batch that turns ours into the merge, or the conflicts.
#[derive(Debug, Clone, PartialEq)]
pub enum Merged {
    Batch(WriteBatch),
    Conflicts(Vec<MergeConflict>),
}

fn conflict(collection: &str, what: String, reason: &str) -> MergeConflict {
    MergeConflict {
        collection: collection.to_string(),
        what,
        reason: reason.to_string(),
    }
}

/// The changes of one side, by collection and `_id`: the new document, or `None` if removed.
type Changes = BTreeMap<String, BTreeMap<Vec<u8>, (Ipld, Option<Ipld>)>>;

fn id_of(doc: &Ipld) -> Ipld {
    match doc {
        Ipld::Map(m) => m.get("_id").cloned().unwrap_or(Ipld::Null),
        _ => Ipld::Null,
    }
}

fn changes(diff: BTreeMap<String, CollectionDiff>) -> Result<Changes> {
    let mut out = Changes::new();
    for (collection, d) in diff {
        let by_id = out.entry(collection).or_default();
        // Documents are matched by their `_id`'s canonical bytes.
        let key = |id: &Ipld| -> Result<Vec<u8>> {
            Ok(prolly_tree::RawValue::from_ipld(id)?.as_bytes().to_vec())
        };
        for doc in d
            .added
            .into_iter()
            .chain(d.changed.into_iter().map(|(_, after)| after))
        {
            let id = id_of(&doc);
            by_id.insert(key(&id)?, (id, Some(doc)));
        }
        for doc in d.removed {
            let id = id_of(&doc);
            by_id.insert(key(&id)?, (id, None));
        }
    }
    Ok(out)
}

/// The catalog ops that turn `ours` into the three-way merge of one collection's records.
#[allow(clippy::too_many_arguments)]
fn merge_collection(
    name: &str,
    base: Option<&Collection>,
    ours: Option<&Collection>,
    theirs: Option<&Collection>,
    ours_changed_documents: bool,
    prefer: Option<Prefer>,
    ops: &mut Vec<Op>,
    conflicts: &mut Vec<MergeConflict>,
) {
    if theirs == base || ours == theirs {
        return;
    }
    let take_theirs_whole = |ops: &mut Vec<Op>| match (ours, theirs) {
        (Some(_), None) => ops.push(Op::DropCollection {
            collection: name.into(),
        }),
        (None, Some(t)) => {
            ops.push(Op::CreateCollection {
                collection: name.into(),
            });
            ops.extend(t.indexes.values().map(|index| Op::CreateIndex {
                collection: name.into(),
                index: index.clone(),
            }));
        }
        _ => {}
    };
    match (ours, theirs) {
        (Some(o), Some(t)) => {
            let empty = Collection::default();
            let b = base.unwrap_or(&empty);
            let names: BTreeSet<&String> = b
                .indexes
                .keys()
                .chain(o.indexes.keys())
                .chain(t.indexes.keys())
                .collect();
            for index in names {
                let (bi, oi, ti) = (
                    b.indexes.get(index),
                    o.indexes.get(index),
                    t.indexes.get(index),
                );
                let take_theirs = if ti == bi || oi == ti {
                    false
                } else if oi == bi {
                    true
                } else {
                    match prefer {
                        Some(Prefer::Theirs) => true,
                        Some(Prefer::Ours) => false,
                        None => {
                            conflicts.push(conflict(
                                name,
                                format!("index {index:?}"),
                                "defined differently on each side",
                            ));
                            false
                        }
                    }
                };
                if take_theirs {
                    replace_index(name, oi, ti, ops);
                }
            }
        }
        _ if ours == base && !ours_changed_documents => take_theirs_whole(ops),
        // Theirs dropped the collection, ours changed it.
        (Some(_), None) => match prefer {
            Some(Prefer::Theirs) => take_theirs_whole(ops),
            Some(Prefer::Ours) => {}
            None => conflicts.push(conflict(
                name,
                "the collection".into(),
                "dropped on their side, changed on ours",
            )),
        },
        // Ours dropped it, theirs changed it. Theirs cannot win by replaying its changes: the
        // documents it did not change are gone on our side.
        _ => {
            if prefer != Some(Prefer::Ours) {
                conflicts.push(conflict(
                    name,
                    "the collection".into(),
                    "dropped on our side, changed on theirs (only --prefer ours settles it)",
                ));
            }
        }
    }
}

fn replace_index(
    collection: &str,
    ours: Option<&IndexDef>,
    theirs: Option<&IndexDef>,
    ops: &mut Vec<Op>,
) {
    if let Some(o) = ours {
        ops.push(Op::DropIndex {
            collection: collection.into(),
            name: o.name.clone(),
        });
    }
    if let Some(t) = theirs {
        ops.push(Op::CreateIndex {
            collection: collection.into(),
            index: t.clone(),
        });
    }
}

impl<S: Blockstore> Database<S> {
    /// The batch that turns this database (ours) into its three-way merge with `theirs`
    /// against `base` (all three over the same blocks), or the conflicts: a document changed
    /// differently on each side, an index defined differently, a collection dropped on one
    /// side and changed on the other. `prefer` settles them instead. Applying the batch may
    /// still refuse it: a unique index that the union of the documents violates.
    pub fn merge_batch(
        &self,
        base: &Database<S>,
        theirs: &Database<S>,
        prefer: Option<Prefer>,
    ) -> Result<Outcome<Merged>>
    where
        S: Clone,
    {
        let catalogs = (
            ready!(base.collections()),
            ready!(self.collections()),
            ready!(theirs.collections()),
        );
        let by_name = |list: &Vec<(String, Collection)>| -> BTreeMap<String, Collection> {
            list.iter().cloned().collect()
        };
        let (b, o, t) = (
            by_name(&catalogs.0),
            by_name(&catalogs.1),
            by_name(&catalogs.2),
        );
        let ours_changes = changes(ready!(base.diff(self)))?;
        let theirs_changes = changes(ready!(base.diff(theirs)))?;
        let mut ops = Vec::new();
        let mut conflicts = Vec::new();
        let names: BTreeSet<&String> = b.keys().chain(o.keys()).chain(t.keys()).collect();
        for name in &names {
            let ours_changed = ours_changes.get(*name).is_some_and(|c| !c.is_empty());
            merge_collection(
                name,
                b.get(*name),
                o.get(*name),
                t.get(*name),
                ours_changed,
                prefer,
                &mut ops,
                &mut conflicts,
            );
        }
        // Drops first: a dropped and re-created index is then built afresh.
        ops.sort_by_key(|op| !matches!(op, Op::DropIndex { .. } | Op::DropCollection { .. }));

        let merged_has = |c: &String| {
            let created = ops
                .iter()
                .any(|op| matches!(op, Op::CreateCollection { collection } if collection == c));
            let dropped = ops
                .iter()
                .any(|op| matches!(op, Op::DropCollection { collection } if collection == c));
            created || (o.contains_key(c) && !dropped)
        };
        let mut doc_ops = Vec::new();
        for (collection, docs) in theirs_changes {
            // Theirs dropped it (and the catalog merge took that): nothing more to write.
            if !t.contains_key(&collection) || docs.is_empty() {
                continue;
            }
            // Ours dropped it and keeps it dropped: theirs' documents have nowhere to go.
            if !merged_has(&collection) {
                if prefer != Some(Prefer::Ours) {
                    conflicts.push(conflict(
                        &collection,
                        "the collection".into(),
                        "dropped on our side, its documents changed on theirs (only --prefer ours settles it)",
                    ));
                }
                continue;
            }
            let mine = ours_changes.get(&collection);
            for (key, (id, their_doc)) in docs {
                let take = match mine.and_then(|m| m.get(&key)) {
                    None => true,
                    Some((_, our_doc)) if *our_doc == their_doc => false,
                    Some(_) => match prefer {
                        Some(Prefer::Theirs) => true,
                        Some(Prefer::Ours) => false,
                        None => {
                            conflicts.push(conflict(
                                &collection,
                                format!("document _id {}", show(&id)),
                                "changed differently on each side",
                            ));
                            false
                        }
                    },
                };
                if take {
                    doc_ops.push(match their_doc {
                        Some(doc) => Op::Upsert {
                            collection: collection.clone(),
                            doc,
                        },
                        None => Op::Delete {
                            collection: collection.clone(),
                            id,
                        },
                    });
                }
            }
        }
        ops.extend(doc_ops);
        Ok(Outcome::Complete(if conflicts.is_empty() {
            Merged::Batch(WriteBatch { ops })
        } else {
            Merged::Conflicts(conflicts)
        }))
    }
}
