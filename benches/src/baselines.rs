//! The baselines: `fvm_ipld_hamt` with bit width 5 (how Filecoin's builtin actors keep maps) and
//! the `prolly-map` crate, driven through the same `Subject` calls as our tree.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use cid::Cid as IpldCid;
use fvm_ipld_encoding::BytesDe;
use fvm_ipld_hamt::{BytesKey, Hamt as FvmHamt};
use prolly::{
    BatchOp, Config, MemStore, MemStoreError, Mutation, Node, Prolly, SortedBatchBuilder, Store,
    Tree,
};

use crate::Subject;
use prolly_bench::counting::CountingStore;

const BIT_WIDTH: u32 = 5;

pub struct Hamt {
    store: &'static CountingStore,
    root: Option<IpldCid>,
    /// A loaded handle for reads: the HAMT caches the nodes it has read, as an actor would within
    /// one message.
    live: Option<FvmHamt<&'static CountingStore, BytesDe>>,
}

impl Hamt {
    pub fn new() -> Self {
        Hamt {
            store: Box::leak(Box::default()),
            root: None,
            live: None,
        }
    }

    fn load(&self) -> FvmHamt<&'static CountingStore, BytesDe> {
        FvmHamt::load_with_bit_width(self.root.as_ref().expect("built"), self.store, BIT_WIDTH)
            .unwrap()
    }
}

impl Subject for Hamt {
    fn name(&self) -> &'static str {
        "HAMT"
    }
    fn bulk_build(&mut self, sorted: &[(Vec<u8>, Vec<u8>)]) {
        let mut h: FvmHamt<_, BytesDe> = FvmHamt::new_with_bit_width(self.store, BIT_WIDTH);
        for (k, v) in sorted {
            h.set(BytesKey(k.clone()), BytesDe(v.clone())).unwrap();
        }
        self.root = Some(h.flush().unwrap());
        self.live = None;
    }
    fn insert_one(&mut self, key: &[u8], value: &[u8]) {
        // As an actor does: load the root from state, set, flush.
        let mut h = self.load();
        h.set(BytesKey(key.to_vec()), BytesDe(value.to_vec()))
            .unwrap();
        self.root = Some(h.flush().unwrap());
        self.live = None;
    }
    fn insert_batch(&mut self, batch: &[(Vec<u8>, Vec<u8>)]) {
        let mut h = self.load();
        for (k, v) in batch {
            h.set(BytesKey(k.clone()), BytesDe(v.clone())).unwrap();
        }
        self.root = Some(h.flush().unwrap());
        self.live = None;
    }
    fn get(&mut self, key: &[u8]) -> bool {
        if self.live.is_none() {
            self.live = Some(self.load());
        }
        self.live.as_ref().unwrap().get(key).unwrap().is_some()
    }
    fn scan(&mut self, _from: &[u8], _n: usize) -> Option<usize> {
        None // a HAMT is in hash order: it has no key ranges
    }
    fn bytes_stored(&mut self) -> u64 {
        self.store.take_read();
        self.load().for_each_cacheless(|_, _| Ok(())).unwrap();
        self.store.take_read()
    }
    fn take_written(&mut self) -> u64 {
        self.store.take_written()
    }
    fn path_bytes(&mut self, key: &[u8]) -> u64 {
        self.store.take_read();
        self.load().get(key).unwrap();
        self.store.take_read()
    }
}

/// prolly-map's in-memory store, counting the bytes of new nodes.
#[derive(Default)]
pub struct CountingMemStore {
    inner: MemStore,
    written: AtomicU64,
}

impl CountingMemStore {
    fn count(&self, key: &[u8], len: usize) {
        // Count only nodes the store does not hold yet, as for the other subjects.
        if self.inner.get(key).ok().flatten().is_none() {
            self.written.fetch_add(len as u64, Ordering::Relaxed);
        }
    }
}

impl Store for CountingMemStore {
    type Error = MemStoreError;
    fn get(&self, key: &[u8]) -> Result<Option<Vec<u8>>, Self::Error> {
        self.inner.get(key)
    }
    fn get_shared(&self, key: &[u8]) -> Result<Option<Arc<[u8]>>, Self::Error> {
        self.inner.get_shared(key)
    }
    fn batch_get_ordered(&self, keys: &[&[u8]]) -> Result<Vec<Option<Vec<u8>>>, Self::Error> {
        self.inner.batch_get_ordered(keys)
    }
    fn batch_get_ordered_unique(
        &self,
        keys: &[&[u8]],
    ) -> Result<Vec<Option<Vec<u8>>>, Self::Error> {
        self.inner.batch_get_ordered_unique(keys)
    }
    fn batch_get_shared_ordered_unique(
        &self,
        keys: &[&[u8]],
    ) -> Result<Vec<Option<Arc<[u8]>>>, Self::Error> {
        self.inner.batch_get_shared_ordered_unique(keys)
    }
    fn has_native_shared_reads(&self) -> bool {
        true
    }
    fn prefers_batch_reads(&self) -> bool {
        true
    }
    fn put(&self, key: &[u8], value: &[u8]) -> Result<(), Self::Error> {
        self.count(key, value.len());
        self.inner.put(key, value)
    }
    fn delete(&self, key: &[u8]) -> Result<(), Self::Error> {
        self.inner.delete(key)
    }
    fn batch(&self, ops: &[BatchOp]) -> Result<(), Self::Error> {
        for op in ops {
            if let BatchOp::Upsert { key, value } = op {
                self.count(key, value.len());
            }
        }
        self.inner.batch(ops)
    }
    fn batch_put(&self, entries: &[(&[u8], &[u8])]) -> Result<(), Self::Error> {
        for (key, value) in entries {
            self.count(key, value.len());
        }
        self.inner.batch_put(entries)
    }
}

pub struct ProllyMap {
    store: Arc<CountingMemStore>,
    prolly: Prolly<Arc<CountingMemStore>>,
    tree: Tree,
}

impl ProllyMap {
    pub fn new() -> Self {
        let store = Arc::new(CountingMemStore::default());
        let prolly = Prolly::new(store.clone(), Config::default());
        let tree = prolly.create();
        ProllyMap {
            store,
            prolly,
            tree,
        }
    }
}

impl Subject for ProllyMap {
    fn name(&self) -> &'static str {
        "prolly-map"
    }
    fn bulk_build(&mut self, sorted: &[(Vec<u8>, Vec<u8>)]) {
        let mut b = SortedBatchBuilder::new(self.store.clone(), Config::default());
        for (k, v) in sorted {
            b.add(k.clone(), v.clone()).unwrap();
        }
        self.tree = b.build().unwrap();
    }
    fn insert_one(&mut self, key: &[u8], value: &[u8]) {
        self.tree = self
            .prolly
            .put(&self.tree, key.to_vec(), value.to_vec())
            .unwrap();
    }
    fn insert_batch(&mut self, batch: &[(Vec<u8>, Vec<u8>)]) {
        let muts = batch
            .iter()
            .map(|(k, v)| Mutation::Upsert {
                key: k.clone(),
                val: v.clone(),
            })
            .collect();
        self.tree = self.prolly.batch(&self.tree, muts).unwrap();
    }
    fn get(&mut self, key: &[u8]) -> bool {
        self.prolly.get(&self.tree, key).unwrap().is_some()
    }
    fn scan(&mut self, from: &[u8], n: usize) -> Option<usize> {
        let iter = self.prolly.range(&self.tree, from, None).unwrap();
        Some(iter.take(n).filter(|r| r.is_ok()).count())
    }
    fn bytes_stored(&mut self) -> u64 {
        self.prolly
            .collect_stats(&self.tree)
            .unwrap()
            .total_tree_size_bytes as u64
    }
    fn take_written(&mut self) -> u64 {
        self.store.written.swap(0, Ordering::Relaxed)
    }
    fn path_bytes(&mut self, key: &[u8]) -> u64 {
        let proof = self.prolly.prove_key(&self.tree, key).unwrap();
        proof.path.iter().map(Node::encoded_len).sum::<usize>() as u64
    }
}
