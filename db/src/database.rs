//! `Database`: a handle on one root of the document database.

use cid::Cid;
use fvm_ipld_blockstore::Blockstore;
use prolly_tree::{Config, Outcome, Tree, ready};

use crate::batch::WriteBatch;
use crate::catalog::{Catalog, Collection};
use crate::diff::{self, DocDiff};
use crate::error::Result;
use crate::exec::{self, Work};
use crate::plan::Plan;
use crate::prepared::PreparedInserts;
use crate::query::Query;
use crate::result::{EncodedResult, QueryResult};
use crate::write;

/// The database format this code writes and reads (the catalog block's `version`).
pub const DB_FORMAT_VERSION: u64 = 2;

/// One version of a database. Writes move the handle to the new root; clones share a node cache.
#[derive(Debug, Clone)]
pub struct Database<S> {
    tree: Tree<S>,
}

impl<S: Blockstore> Database<S> {
    /// A new empty database: an empty tree whose root object links an empty catalog.
    pub fn create(store: S, config: Config) -> Result<Self> {
        let tree = Tree::empty_with_meta(store, config, Catalog::default().to_block())?;
        Ok(Database { tree })
    }

    /// Opens the database whose tree root object is `root`, and checks that it is a prollydb
    /// database this code reads (the root object and its catalog block).
    pub fn open(store: S, root: Cid) -> Result<Outcome<Self>> {
        let db = ready!(Self::open_unchecked(store, root));
        ready!(Catalog::load(&db.tree));
        Ok(Outcome::Complete(db))
    }

    /// Opens a root without reading the catalog: only the root object is read. For readers that
    /// already know the root is a prollydb database (the actor, its own state; a verifier,
    /// whose trusted root names one) and must not read more blocks than the query needs.
    pub fn open_unchecked(store: S, root: Cid) -> Result<Outcome<Self>> {
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

    /// Applies `batch`, then `inserts` as if they were its last operations (numbered from
    /// `batch.ops.len()` in errors), in one mutation: all or nothing.
    pub fn apply_prepared(
        &mut self,
        batch: &WriteBatch,
        inserts: PreparedInserts,
    ) -> Result<Outcome<Cid>> {
        write::apply_prepared(&mut self.tree, batch, inserts)
    }

    #[doc(hidden)]
    pub fn apply_one_at_a_time(&mut self, batch: &WriteBatch) -> Result<Outcome<Cid>> {
        write::apply_one_at_a_time(&mut self.tree, batch)
    }

    /// Runs a query. A full scan or an in-memory sort runs unless the query sets
    /// `require_index`.
    pub fn query(&self, query: &Query) -> Result<Outcome<QueryResult>> {
        self.query_with(query, Work::AsAsked)
    }

    /// Runs a query with a bound on its work beyond what it asks for itself ([`Work`]).
    pub fn query_with(&self, query: &Query, work: Work) -> Result<Outcome<QueryResult>> {
        Ok(match self.query_encoded(query, work)? {
            Outcome::Complete(result) => Outcome::Complete(result.decode()?),
            Outcome::Missing(missing) => Outcome::Missing(missing),
        })
    }

    /// Runs a query for its bytes: the same result as [`Database::query_with`], with documents
    /// kept as their encodings where the executor never needed their fields (the actor returns
    /// them so, and a proof's verifier compares them so).
    pub fn query_encoded(&self, query: &Query, work: Work) -> Result<Outcome<EncodedResult>> {
        exec::query(&self.tree, query, work)
    }

    pub fn explain(&self, query: &Query) -> Result<Outcome<Plan>> {
        exec::explain(&self.tree, query)
    }

    pub fn collection(&self, name: &str) -> Result<Outcome<Collection>> {
        exec::collection(&self.tree, name)
    }

    /// Every collection, in name order, with its indexes.
    pub fn collections(&self) -> Result<Outcome<Vec<(String, Collection)>>> {
        exec::collections(&self.tree)
    }

    /// The documents added, removed and changed from this root to `other` (same store).
    pub fn diff(&self, other: &Database<S>) -> Result<Outcome<DocDiff>> {
        diff::diff(&self.tree, &other.tree)
    }

    /// Another root read through another handle on the same blocks (a recorder over this
    /// handle's store, say), without a header check, like [`Database::open_unchecked`].
    pub fn at_through(&self, store: S, root: Cid) -> Result<Outcome<Self>> {
        Self::open_unchecked(store, root)
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
