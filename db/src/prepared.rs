//! Inserts prepared ahead of the write that applies them. Preparing documents (checking them,
//! encoding their bodies and keys, computing their index entries, sorting the writes) needs only
//! the collection's definition, not the tree; so an import prepares the next batch on one thread
//! while the last one is written on another. The write then does what needs the tree: the checks
//! against stored documents, and the tree update.

use ipld_core::ipld::Ipld;
use prolly_tree::Config;

use crate::bulk;
use crate::catalog::Collection;
use crate::document;
use crate::flat::FlatDocument;

/// Inserts into one collection, prepared for a definition of it (its indexes) and a database's
/// node config (its document size limit). [`crate::Database::apply_prepared`] applies them after
/// a batch, all or nothing, exactly as the same inserts at the end of the batch would apply; if
/// the definition changed in between, it refuses them
/// ([`crate::Refusal::PreparedForOther`]).
pub struct PreparedInserts {
    pub(crate) collection: String,
    pub(crate) definition: Collection,
    pub(crate) max_body: usize,
    pub(crate) run: bulk::Run,
    len: usize,
}

impl PreparedInserts {
    /// Prepares `docs` as inserts into `collection`, defined as `definition`, of a database cut
    /// with `config`. Every document needs its own `_id`: a generated one depends on the root the
    /// inserts apply to, which is not known yet. A document refused here is refused when the
    /// inserts are applied (with its position and `_id`), as it would be in a batch.
    pub fn new(
        collection: &str,
        definition: &Collection,
        config: &Config,
        docs: &[Ipld],
    ) -> PreparedInserts {
        let ops: Vec<(usize, bulk::Input)> = (docs.iter().map(bulk::Input::Document))
            .enumerate()
            .collect();
        Self::of(collection, definition, config, &ops)
    }

    /// [`PreparedInserts::new`] for documents read flat (a table's rows): the same checks and
    /// the same writes as the same documents as IPLD maps.
    pub fn from_flat(
        collection: &str,
        definition: &Collection,
        config: &Config,
        docs: &[FlatDocument],
    ) -> PreparedInserts {
        let ops: Vec<(usize, bulk::Input)> =
            (docs.iter().map(bulk::Input::Flat)).enumerate().collect();
        Self::of(collection, definition, config, &ops)
    }

    fn of(
        collection: &str,
        definition: &Collection,
        config: &Config,
        ops: &[(usize, bulk::Input)],
    ) -> PreparedInserts {
        let max_body = document::max_document_bytes(config);
        let to = bulk::Destination {
            name: collection,
            collection: definition,
            parent: None,
            max_body,
        };
        PreparedInserts {
            collection: collection.to_string(),
            definition: definition.clone(),
            max_body,
            run: bulk::Run::new(to, ops),
            len: ops.len(),
        }
    }

    /// How many inserts.
    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    pub fn collection(&self) -> &str {
        &self.collection
    }
}
