//! Reading and writing nodes through a Blockstore: CIDs, hash checks, and one flush per write.

use std::collections::HashMap;
use std::sync::Arc;

use cid::Cid;
use fvm_ipld_blockstore::Blockstore;
use fvm_ipld_encoding::DAG_CBOR;
use multihash_codetable::{Code, MultihashDigest};

use crate::error::{Error, Result};
use crate::node::{Entry, Node, Value};
use crate::outcome::Outcome;

/// The CID of a DAG-CBOR block: CIDv1, blake2b-256.
pub fn cid_of(bytes: &[u8]) -> Cid {
    Cid::new_v1(DAG_CBOR, Code::Blake2b256.digest(bytes))
}

/// Reads a block and checks that its bytes hash to its CID. An absent block is `Missing`.
pub fn load_block<S: Blockstore>(store: &S, cid: &Cid) -> Result<Outcome<Vec<u8>>> {
    let bytes = match store.get(cid) {
        Ok(Some(bytes)) => bytes,
        Ok(None) => return Ok(Outcome::missing_one(*cid)),
        Err(e) => return Err(Error::Store(e.to_string())),
    };
    let corrupt = |reason: &str| Error::Corrupt {
        cid: *cid,
        reason: reason.to_string(),
    };
    if cid.codec() != DAG_CBOR {
        return Err(corrupt("not a DAG-CBOR block"));
    }
    let code = Code::try_from(cid.hash().code()).map_err(|_| corrupt("unknown hash function"))?;
    if code.digest(&bytes).digest() != cid.hash().digest() {
        return Err(corrupt("bytes do not match the CID's hash"));
    }
    Ok(Outcome::Complete(bytes))
}

/// Reads and decodes a node.
pub fn load_node<S: Blockstore>(store: &S, cid: &Cid) -> Result<Outcome<Arc<Node>>> {
    let bytes = crate::ready!(load_block(store, cid));
    let node = Node::decode(&bytes).map_err(|reason| Error::Corrupt { cid: *cid, reason })?;
    Ok(Outcome::Complete(Arc::new(node)))
}

/// Reads a node that must sit at `level` (a child is one level below its parent).
pub fn load_child<S: Blockstore>(
    store: &S,
    cid: &Cid,
    level: Option<u32>,
) -> Result<Outcome<Arc<Node>>> {
    let node = crate::ready!(load_node(store, cid));
    check_level(cid, &node, level)?;
    Ok(Outcome::Complete(node))
}

pub fn check_level(cid: &Cid, node: &Node, level: Option<u32>) -> Result<()> {
    match level {
        Some(level) if node.level != level => Err(Error::Corrupt {
            cid: *cid,
            reason: format!("node at level {} where level {level} belongs", node.level),
        }),
        _ => Ok(()),
    }
}

/// A node reader that remembers what it decoded, and sees the writer's unflushed nodes, for the
/// span of one operation.
pub struct Loader<'s, S> {
    store: &'s S,
    cache: HashMap<Cid, Arc<Node>>,
}

impl<'s, S: Blockstore> Loader<'s, S> {
    pub fn new(store: &'s S) -> Self {
        Loader {
            store,
            cache: HashMap::new(),
        }
    }

    pub fn load(&mut self, cid: &Cid, pending: &Writer) -> Result<Outcome<Arc<Node>>> {
        if let Some(node) = pending.nodes.get(cid).or_else(|| self.cache.get(cid)) {
            return Ok(Outcome::Complete(node.clone()));
        }
        let node = crate::ready!(load_node(self.store, cid));
        self.cache.insert(*cid, node.clone());
        Ok(Outcome::Complete(node))
    }
}

/// New blocks of one operation, written to the store in a single `put_many_keyed` call.
#[derive(Default)]
pub struct Writer {
    blocks: Vec<(Cid, Vec<u8>)>,
    nodes: HashMap<Cid, Arc<Node>>,
}

impl Writer {
    /// Encodes a node, keeps it for the flush, and returns its entry in the parent level.
    pub fn write(&mut self, node: Node) -> Entry {
        let bytes = node.encode();
        let cid = cid_of(&bytes);
        let entry = Entry {
            key: node.last_key().unwrap_or_default().to_vec(),
            value: Value::Child {
                cid,
                count: node.count(),
            },
        };
        if !self.nodes.contains_key(&cid) {
            self.blocks.push((cid, bytes));
            self.nodes.insert(cid, Arc::new(node));
        }
        entry
    }

    /// Adds a non-node block (the root object).
    pub fn write_raw(&mut self, bytes: Vec<u8>) -> Cid {
        let cid = cid_of(&bytes);
        self.blocks.push((cid, bytes));
        cid
    }

    pub fn flush<S: Blockstore>(self, store: &S) -> Result<()> {
        if self.blocks.is_empty() {
            return Ok(());
        }
        store
            .put_many_keyed(self.blocks)
            .map_err(|e| Error::Store(e.to_string()))
    }
}
