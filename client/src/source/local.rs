//! A source over a blockstore in this process: memory, another local store, a loaded CAR.

use cid::Cid;
use futures::future::BoxFuture;
use fvm_ipld_blockstore::Blockstore;

use super::{BlockSource, FetchError, Fetched};

pub struct LocalSource<S> {
    name: String,
    store: S,
}

impl<S: Blockstore + Send + Sync> LocalSource<S> {
    pub fn new(name: impl Into<String>, store: S) -> Self {
        LocalSource {
            name: name.into(),
            store,
        }
    }

    pub fn store(&self) -> &S {
        &self.store
    }
}

impl<S: Blockstore + Send + Sync> BlockSource for LocalSource<S> {
    fn name(&self) -> &str {
        &self.name
    }

    fn fetch<'a>(&'a self, cids: &'a [Cid]) -> BoxFuture<'a, Vec<Fetched>> {
        let answers = cids
            .iter()
            .map(|cid| {
                let answer = match self.store.get(cid) {
                    Ok(Some(bytes)) => Ok(bytes),
                    Ok(None) => Err(FetchError::NotFound),
                    Err(e) => Err(FetchError::Transport(format!("{e:#}"))),
                };
                (*cid, answer)
            })
            .collect();
        Box::pin(futures::future::ready(answers))
    }
}
