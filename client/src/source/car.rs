//! CAR files: a source over one (every block in memory, as a CAR holds a bounded DAG), and the
//! export of a root's whole DAG as one.

use std::path::Path;

use cid::Cid;
use futures::future::BoxFuture;
use fvm_ipld_blockstore::Blockstore;

use super::{BlockSource, Fetched, LocalSource};
use crate::dag;
use crate::memory::MemoryStore;

/// The blocks of a CARv1 file.
pub struct CarSource {
    roots: Vec<Cid>,
    blocks: LocalSource<MemoryStore>,
}

/// Why a CAR could not be read or written.
#[derive(Debug, thiserror::Error)]
pub enum CarError {
    #[error("{}: {source}", path.display())]
    Io {
        path: std::path::PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{name}: not a CARv1 file: {reason}")]
    Malformed { name: String, reason: String },
    #[error("the store: {0:#}")]
    Store(anyhow::Error),
}

impl CarSource {
    /// Reads a CAR file.
    pub fn open(path: impl AsRef<Path>) -> Result<CarSource, CarError> {
        let path = path.as_ref();
        let bytes = std::fs::read(path).map_err(|source| CarError::Io {
            path: path.to_path_buf(),
            source,
        })?;
        CarSource::from_bytes(path.display().to_string(), &bytes)
    }

    /// A CAR already in memory; `name` says where it came from.
    pub fn from_bytes(name: String, bytes: &[u8]) -> Result<CarSource, CarError> {
        let (roots, blocks) =
            prolly_proofs::car::read_any(bytes).map_err(|e| CarError::Malformed {
                name: name.clone(),
                reason: e.to_string(),
            })?;
        let store = MemoryStore::new();
        for (cid, data) in blocks {
            store.put_keyed(&cid, &data).map_err(CarError::Store)?;
        }
        Ok(CarSource {
            roots,
            blocks: LocalSource::new(name, store),
        })
    }

    /// The roots its header names.
    pub fn roots(&self) -> &[Cid] {
        &self.roots
    }

    /// Its blocks as a blockstore (to import them, say).
    pub fn store(&self) -> &MemoryStore {
        self.blocks.store()
    }
}

impl BlockSource for CarSource {
    fn name(&self) -> &str {
        self.blocks.name()
    }

    fn fetch<'a>(&'a self, cids: &'a [Cid]) -> BoxFuture<'a, Vec<Fetched>> {
        self.blocks.fetch(cids)
    }
}

/// Every block `root` reaches in `store`, as a CARv1 whose header names `root` (the root block
/// first). Blocks the store lacks are left out, so the reader must check completeness, as with
/// any CAR.
pub fn export_car<S: Blockstore>(store: &S, root: &Cid) -> Result<Vec<u8>, CarError> {
    let mut blocks = Vec::new();
    dag::walk(
        [*root],
        |cid| store.get(cid),
        |cid, bytes| {
            blocks.push((*cid, bytes.to_vec()));
            Ok(())
        },
    )
    .map_err(CarError::Store)?;
    let Some((_, root_bytes)) = blocks.first().cloned() else {
        return Err(CarError::Store(anyhow::anyhow!(
            "the store lacks root {root}"
        )));
    };
    Ok(prolly_proofs::car::write((*root, &root_bytes), &blocks))
}
