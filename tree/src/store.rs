//! Reading and writing nodes through a Blockstore: CIDs, hash checks, a cache of decoded nodes,
//! and one flush per write.

use std::sync::{Arc, Mutex};

use bytes::Bytes;
use cid::Cid;
#[cfg(not(target_arch = "wasm32"))]
use cid::multihash::Multihash;
use fvm_ipld_blockstore::Blockstore;
use fvm_ipld_encoding::DAG_CBOR;
use multihash_codetable::{Code, MultihashDigest};
use rustc_hash::FxHashMap;

use crate::error::{Corruption, Error, Result};
use crate::node::{Entry, Node, Value};
use crate::outcome::Outcome;
use crate::path::NodeSource;
use crate::ready;

/// The CID of a DAG-CBOR block: CIDv1, blake2b-256.
pub fn cid_of(bytes: &[u8]) -> Cid {
    Cid::new_v1(DAG_CBOR, Code::Blake2b256.digest(bytes))
}

/// The CIDs of several blocks, the same as [`cid_of`] of each. blake2b runs over four blocks at
/// once in AVX2's lanes: 1.4x the bytes per second of one at a time, on blocks of 300 to 700
/// bytes (a bulk build's leaves) on this project's machine.
#[cfg(not(target_arch = "wasm32"))]
pub fn cids_of(blocks: &[Vec<u8>]) -> Vec<Cid> {
    let mut params = blake2b_simd::Params::new();
    params.hash_length(BLAKE2B_256_LEN);
    let mut jobs: Vec<_> = blocks
        .iter()
        .map(|block| blake2b_simd::many::HashManyJob::new(&params, block))
        .collect();
    blake2b_simd::many::hash_many(jobs.iter_mut());
    jobs.iter()
        .map(|job| {
            let digest = Multihash::wrap(u64::from(Code::Blake2b256), job.to_hash().as_bytes())
                .expect("a 32-byte digest fits a multihash");
            Cid::new_v1(DAG_CBOR, digest)
        })
        .collect()
}

/// Wasm has no lanes to hash in, and linking the many-block path into the actor cost every query
/// 0.4% more gas (gas-bench, an indexed query over 1k documents: 40.97M against 41.13M).
#[cfg(target_arch = "wasm32")]
pub fn cids_of(blocks: &[Vec<u8>]) -> Vec<Cid> {
    blocks.iter().map(|block| cid_of(block)).collect()
}

#[cfg(not(target_arch = "wasm32"))]
const BLAKE2B_256_LEN: usize = 32;

/// Reads a block and checks that its bytes hash to its CID. An absent block is `Missing`.
pub fn load_block<S: Blockstore>(store: &S, cid: &Cid) -> Result<Outcome<Vec<u8>>> {
    let bytes = match store.get(cid) {
        Ok(Some(bytes)) => bytes,
        Ok(None) => return Ok(Outcome::missing_one(*cid)),
        Err(e) => return Err(Error::Store(e)),
    };
    let corrupt = |reason: Corruption| Error::corrupt(*cid, reason);
    if cid.codec() != DAG_CBOR {
        return Err(corrupt(Corruption::NotDagCbor(cid.codec())));
    }
    let code = Code::try_from(cid.hash().code())
        .map_err(|_| corrupt(Corruption::UnknownHash(cid.hash().code())))?;
    if code.digest(&bytes).digest() != cid.hash().digest() {
        return Err(corrupt(Corruption::HashMismatch));
    }
    Ok(Outcome::Complete(bytes))
}

/// Decoded nodes by CID. A CID names immutable bytes, so an entry never goes stale; the cache
/// only needs a bound. When full it starts over, which keeps it simple and its cost predictable.
pub struct NodeCache {
    inner: Mutex<CacheInner>,
    capacity: usize,
    /// Whether blocks read from the store are hashed against their CIDs (see
    /// [`NodeCache::trusting_store`]).
    verify: bool,
}

#[derive(Default)]
struct CacheInner {
    /// Keyed by the first eight bytes of the CID's digest, which are already uniformly random;
    /// the full CID is compared on a hit.
    nodes: FxHashMap<u64, (Cid, Arc<Node>)>,
    bytes: usize,
}

fn cache_key(cid: &Cid) -> u64 {
    let digest = cid.hash().digest();
    let mut key = [0u8; 8];
    let n = digest.len().min(8);
    key[..n].copy_from_slice(&digest[..n]);
    u64::from_le_bytes(key)
}

impl NodeCache {
    /// A cache holding decoded nodes of up to about `capacity` encoded bytes.
    pub fn new(capacity: usize) -> Self {
        NodeCache {
            inner: Mutex::new(CacheInner::default()),
            capacity,
            verify: true,
        }
    }

    /// A cache for a store that already guarantees that every block it returns hashes to its
    /// CID: the FVM, whose blocks were hashed by the kernel when they were linked. Inside an
    /// actor, hashing them again in Wasm would be paid for in gas and prove nothing.
    pub fn trusting_store(capacity: usize) -> Self {
        NodeCache {
            verify: false,
            ..NodeCache::new(capacity)
        }
    }

    fn get(&self, cid: &Cid) -> Option<Arc<Node>> {
        let inner = self.inner.lock().ok()?;
        match inner.nodes.get(&cache_key(cid)) {
            Some((c, node)) if c == cid => Some(node.clone()),
            _ => None,
        }
    }

    fn insert(&self, cid: Cid, node: Arc<Node>, size: usize) {
        if let Ok(mut inner) = self.inner.lock() {
            if inner.bytes + size > self.capacity {
                inner.nodes.clear();
                inner.bytes = 0;
            }
            inner.bytes += size;
            inner.nodes.insert(cache_key(&cid), (cid, node));
        }
    }
}

impl Default for NodeCache {
    /// 64 MiB of decoded nodes.
    fn default() -> Self {
        NodeCache::new(64 << 20)
    }
}

impl NodeCache {
    /// Whether this cache was made for a store that checks its blocks itself.
    pub(crate) fn trusts_store(&self) -> bool {
        !self.verify
    }
}

/// What the cache charges for a decoded node: its block, its keys (a shared prefix is stored
/// once but decoded per key) and the key heads its first search builds (`search.rs`).
fn charged_size(block_len: usize, node: &Node) -> usize {
    block_len
        + node
            .entries
            .iter()
            .map(|e| e.key.len() + size_of::<u64>())
            .sum::<usize>()
}

/// How every read path gets nodes: through the cache, else from the store with a hash check.
pub struct NodeReader<'a, S> {
    pub store: &'a S,
    pub cache: &'a NodeCache,
}

impl<S> Clone for NodeReader<'_, S> {
    fn clone(&self) -> Self {
        *self
    }
}
impl<S> Copy for NodeReader<'_, S> {}

impl<'a, S: Blockstore> NodeReader<'a, S> {
    pub fn new(store: &'a S, cache: &'a NodeCache) -> Self {
        NodeReader { store, cache }
    }

    /// Reads a node; if `level` is given, the node must sit at that level (a child is one level
    /// below its parent).
    pub fn load(&self, cid: &Cid, level: Option<u32>) -> Result<Outcome<Arc<Node>>> {
        self.load_with(cid, level, true)
    }

    /// Like `load`, but a node read from the store is not cached: a batch reads nodes it is
    /// about to replace.
    pub fn load_transient(&self, cid: &Cid, level: Option<u32>) -> Result<Outcome<Arc<Node>>> {
        self.load_with(cid, level, false)
    }

    fn load_with(&self, cid: &Cid, level: Option<u32>, keep: bool) -> Result<Outcome<Arc<Node>>> {
        let node = match self.cache.get(cid) {
            Some(node) => node,
            None => {
                let bytes = if self.cache.verify {
                    ready!(load_block(self.store, cid))
                } else {
                    match self.store.get(cid) {
                        Ok(Some(bytes)) => bytes,
                        Ok(None) => return Ok(Outcome::missing_one(*cid)),
                        Err(e) => return Err(Error::Store(e)),
                    }
                };
                let block_len = bytes.len();
                let node = Arc::new(
                    Node::decode(Bytes::from(bytes)).map_err(|e| Error::corrupt(*cid, e))?,
                );
                let size = charged_size(block_len, &node);
                if keep {
                    self.cache.insert(*cid, node.clone(), size);
                }
                node
            }
        };
        check_level(cid, &node, level)?;
        Ok(Outcome::Complete(node))
    }
}

impl<S: Blockstore> NodeSource for NodeReader<'_, S> {
    fn node(&self, cid: &Cid, level: Option<u32>) -> Result<Outcome<Arc<Node>>> {
        self.load(cid, level)
    }

    /// A child found before is a pointer away (its level was checked then); otherwise it is
    /// loaded through the cache and remembered in the parent. Measured on warm gets over 100k
    /// entries (`examples/gets_profile.rs`): the cache lookup was 30% of a get.
    fn child(&self, parent: &Node, idx: usize) -> Result<Outcome<Arc<Node>>> {
        if let Some(child) = parent.known_child(idx) {
            return Ok(Outcome::Complete(child));
        }
        let child = ready!(self.load(crate::path::child_cid(parent, idx), Some(parent.level - 1)));
        parent.remember_child(idx, &child);
        Ok(Outcome::Complete(child))
    }
}

/// A batch's view: the nodes it wrote and has not flushed, then the store.
pub struct Pending<'a, 's, S> {
    pub writer: &'a Writer<'a>,
    pub reader: NodeReader<'s, S>,
}

impl<S: Blockstore> NodeSource for Pending<'_, '_, S> {
    fn node(&self, cid: &Cid, level: Option<u32>) -> Result<Outcome<Arc<Node>>> {
        self.writer.load(self.reader, cid, level)
    }
}

pub fn check_level(cid: &Cid, node: &Node, level: Option<u32>) -> Result<()> {
    match level {
        Some(expected) if node.level != expected => Err(Error::corrupt(
            *cid,
            Corruption::WrongLevel {
                found: node.level,
                expected,
            },
        )),
        _ => Ok(()),
    }
}

/// New blocks of one operation, written to the store in a single `put_many_keyed` call. A batch's
/// readers see its new internal nodes before the flush; a bulk build, which never reads back,
/// keeps none.
///
/// Over a store that names blocks itself ([`Writer::putting_now`]), each block goes to the store
/// as it is written instead, and the store's CID names it.
#[derive(Default)]
pub struct Writer<'s> {
    blocks: Vec<(Cid, Vec<u8>)>,
    /// Internal nodes written, with what the cache will charge for them.
    nodes: FxHashMap<Cid, (Arc<Node>, usize)>,
    retain: bool,
    put_now: Option<PutNow<'s>>,
    /// The first put that failed: the flush reports it.
    failed: Option<anyhow::Error>,
}

/// Puts a DAG-CBOR block and returns the CID the store named it by.
pub type PutNow<'s> = &'s dyn Fn(&[u8]) -> anyhow::Result<Cid>;

impl<'s> Writer<'s> {
    /// A writer whose nodes stay readable before the flush.
    pub fn retaining() -> Self {
        Writer {
            retain: true,
            ..Writer::default()
        }
    }

    /// This writer, handing each block to `put` as it is written. Inside an actor the kernel
    /// hashes every block it stores: naming a block in Wasm as well paid for blake2b twice.
    pub fn putting_now(self, put: Option<PutNow<'s>>) -> Self {
        Writer {
            put_now: put,
            ..self
        }
    }

    /// The block's CID, and the block if it is left for the flush.
    fn name(&mut self, bytes: Vec<u8>) -> (Cid, Option<Vec<u8>>) {
        let Some(put) = self.put_now else {
            return (cid_of(&bytes), Some(bytes));
        };
        if self.failed.is_some() {
            // The write has failed already: put nothing more (in the FVM, each put costs gas).
            return (cid_of(&bytes), None);
        }
        match put(&bytes) {
            Ok(cid) => (cid, None),
            Err(e) => {
                // The operation fails at the flush; until then the block needs a name.
                self.failed.get_or_insert(e);
                (cid_of(&bytes), None)
            }
        }
    }

    /// Encodes a node, keeps it for the flush, and returns its entry in the parent level.
    pub fn write(&mut self, mut node: Node) -> Entry {
        let bytes = node.encode();
        let len = bytes.len();
        let (cid, block) = self.name(bytes);
        // Internal nodes stay readable (a batch may collapse the root into one, and the cache
        // takes them after the flush); leaves are done with once encoded.
        let keep = self.retain && node.level > 0;
        let count = node.count();
        let key = if keep {
            node.last_key().cloned()
        } else {
            // The node is dropped here: its last key moves to the parent entry, uncopied.
            node.entries.pop().map(|e| e.key)
        };
        let entry = Entry {
            key: key.unwrap_or_default(),
            value: Value::Child { cid, count },
        };
        // (A store that names blocks was handed a repeated node again above: it holds it once.)
        if keep && self.nodes.contains_key(&cid) {
            return entry;
        }
        if let Some(block) = block {
            self.blocks.push((cid, block));
        }
        if keep {
            let size = charged_size(len, &node);
            self.nodes.insert(cid, (Arc::new(node), size));
        }
        entry
    }

    /// Keeps blocks for the flush and appends their CIDs to `cids`, draining `blocks`. The blocks
    /// are named together ([`cids_of`]), unless the store names them.
    pub fn write_blocks(&mut self, blocks: &mut Vec<Vec<u8>>, cids: &mut Vec<Cid>) {
        if self.put_now.is_some() {
            for block in blocks.drain(..) {
                let (cid, block) = self.name(block);
                self.blocks.extend(block.map(|block| (cid, block)));
                cids.push(cid);
            }
            return;
        }
        let start = cids.len();
        cids.extend(cids_of(blocks));
        let named = cids[start..].iter().copied().zip(blocks.drain(..));
        self.blocks.extend(named);
    }

    /// Adds a non-node block (the root object).
    pub fn write_raw(&mut self, bytes: Vec<u8>) -> Cid {
        let (cid, block) = self.name(bytes);
        if let Some(block) = block {
            self.blocks.push((cid, block));
        }
        cid
    }

    /// A node written in this operation, or one read from the store (leaves bypass the cache).
    pub fn load<S: Blockstore>(
        &self,
        reader: NodeReader<'_, S>,
        cid: &Cid,
        level: Option<u32>,
    ) -> Result<Outcome<Arc<Node>>> {
        match self.nodes.get(cid) {
            Some((node, _)) => {
                check_level(cid, node, level)?;
                Ok(Outcome::Complete(node.clone()))
            }
            // Internal nodes are read again by the next run and the next batch: cache them. A
            // leaf is read once, to be replaced.
            None if level == Some(0) => reader.load_transient(cid, level),
            None => reader.load(cid, level),
        }
    }

    /// Writes every new block in one call, then hands the new nodes to the cache: the next
    /// operation will start from them.
    pub fn flush<S: Blockstore>(self, store: &S, cache: &NodeCache) -> Result<()> {
        if let Some(e) = self.failed {
            return Err(Error::Store(e));
        }
        if !self.blocks.is_empty() {
            store.put_many_keyed(self.blocks).map_err(Error::Store)?;
        }
        // Internal nodes are what the next operation reads again; a new leaf rarely is.
        for (cid, (node, size)) in self.nodes {
            cache.insert(cid, node, size);
        }
        Ok(())
    }
}
