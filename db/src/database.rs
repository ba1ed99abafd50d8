//! `Database`: a handle on one root of the document database.

use cid::Cid;
use fvm_ipld_blockstore::Blockstore;
use ipld_core::ipld::Ipld;
use prolly_tree::{Config, Outcome, Tree, ready};

use crate::batch::WriteBatch;
use crate::catalog::Collection;
use crate::diff::{self, DocDiff};
use crate::error::{Error, Result};
use crate::exec;
use crate::form::Map;
use crate::keyspace;
use crate::plan::Plan;
use crate::query::Query;
use crate::result::QueryResult;
use crate::write;

/// The database format this code writes and reads.
pub const DB_FORMAT_VERSION: u64 = 1;

/// One version of a database. Writes move the handle to the new root; clones share a node cache.
#[derive(Debug, Clone)]
pub struct Database<S> {
    tree: Tree<S>,
}

fn header() -> Ipld {
    Ipld::Map(Map::from([
        ("format".to_string(), Ipld::String("prollydb".into())),
        (
            "version".to_string(),
            Ipld::Integer(DB_FORMAT_VERSION.into()),
        ),
    ]))
}

impl<S: Blockstore> Database<S> {
    /// A new empty database: just its header.
    pub fn create(store: S, config: Config) -> Result<Self> {
        let tree = Tree::build(store, config, [(keyspace::meta_key(), header())])?;
        Ok(Database { tree })
    }

    /// Opens the database whose tree root object is `root`. Only the root object is read.
    pub fn open(store: S, root: Cid) -> Result<Outcome<Self>> {
        let tree = ready!(Tree::load(store, root));
        Ok(Outcome::Complete(Database { tree }))
    }

    /// This handle, reading without hashing blocks: only over a store that checks every block
    /// against its CID itself, such as the FVM's inside the actor (`Tree::trusting_store`).
    pub fn trusting_store(self) -> Self {
        Database {
            tree: self.tree.trusting_store(),
        }
    }

    /// Opens a database and checks its header (one more path read).
    pub fn open_checked(store: S, root: Cid) -> Result<Outcome<Self>> {
        let db = ready!(Self::open(store, root));
        let found = ready!(db.tree.get(&keyspace::meta_key()));
        match found.map(|raw| raw.to_ipld()).transpose()? {
            Some(h) if h == header() => Ok(Outcome::Complete(db)),
            other => Err(Error::Catalog(format!(
                "not a prollydb v1 database: header {other:?}"
            ))),
        }
    }

    pub fn root(&self) -> Cid {
        self.tree.cid()
    }

    pub fn tree(&self) -> &Tree<S> {
        &self.tree
    }

    pub fn store(&self) -> &S {
        self.tree.store()
    }

    /// Applies a batch as one tree mutation with one flush; on any error nothing is written.
    pub fn apply(&mut self, batch: &WriteBatch) -> Result<Outcome<Cid>> {
        write::apply(&mut self.tree, batch)
    }

    #[doc(hidden)]
    pub fn apply_one_at_a_time(&mut self, batch: &WriteBatch) -> Result<Outcome<Cid>> {
        write::apply_one_at_a_time(&mut self.tree, batch)
    }

    pub fn query(&self, query: &Query) -> Result<Outcome<QueryResult>> {
        exec::query(&self.tree, query)
    }

    pub fn explain(&self, query: &Query) -> Result<Outcome<Plan>> {
        exec::explain(&self.tree, query)
    }

    pub fn collection(&self, name: &str) -> Result<Outcome<Collection>> {
        exec::collection(&self.tree, name)
    }

    /// The documents added, removed and changed from this root to `other` (same store).
    pub fn diff(&self, other: &Database<S>) -> Result<Outcome<DocDiff>> {
        diff::diff(&self.tree, &other.tree)
    }

    /// Another root read through `store` (a reference to the same store as this handle's, say).
    pub fn at_in(&self, store: S, root: Cid) -> Result<Outcome<Self>> {
        let tree = ready!(Tree::load(store, root));
        Ok(Outcome::Complete(Database { tree }))
    }

    /// Another root in the same store, sharing this handle's node cache.
    pub fn at(&self, root: Cid) -> Result<Outcome<Self>>
    where
        S: Clone,
    {
        let tree = ready!(self.tree.at(root));
        Ok(Outcome::Complete(Database { tree }))
    }
}
