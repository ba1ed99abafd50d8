//! The root object: what a tree's CID names. It binds the format version and the chunking
//! configuration to the root node, so a reader always knows how the tree was cut.

use cid::Cid;
use fvm_ipld_blockstore::Blockstore;
use fvm_ipld_encoding::tuple::*;
use ipld_core::ipld::Ipld;

use crate::config::{Config, FORMAT_VERSION};
use crate::error::{Corruption, Error, Result};
use crate::outcome::Outcome;
use crate::store::load_block;

/// `[version, config, root node CID, entry count, meta]`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize_tuple, Deserialize_tuple)]
pub struct RootObject {
    pub version: u64,
    pub config: Config,
    pub node: Cid,
    pub count: u64,
    /// A block the application keeps beside the tree, or `null`: prollydb's catalog. It is
    /// linked here, not stored under a key, so a reader gets it from the root in one block rather
    /// than a path, and a write that leaves it alone does not rewrite it.
    pub meta: Option<Cid>,
}

impl RootObject {
    pub fn new(config: Config, node: Cid, count: u64) -> Self {
        RootObject {
            version: FORMAT_VERSION,
            config,
            node,
            count,
            meta: None,
        }
    }

    /// The same root object linking `meta`.
    pub fn with_meta(self, meta: Option<Cid>) -> Self {
        RootObject { meta, ..self }
    }

    pub fn encode(&self) -> Vec<u8> {
        fvm_ipld_encoding::to_vec(self).expect("root object encodes")
    }

    pub fn load<S: Blockstore>(store: &S, cid: &Cid) -> Result<Outcome<RootObject>> {
        let bytes = crate::ready!(load_block(store, cid));
        let corrupt = |reason: Corruption| Error::corrupt(*cid, reason);
        let version_error = |found: u64| Error::Version {
            found,
            supported: FORMAT_VERSION,
        };
        // Decoded once as this format's root object (every open reads one: decoding it twice
        // was a twentieth of verifying a membership proof). Only a block that does not parse
        // as one is read again for its version alone: a future format may not parse as this one.
        let typed_error = match fvm_ipld_encoding::from_slice::<RootObject>(&bytes) {
            Ok(root) if root.version == FORMAT_VERSION => {
                root.config
                    .validate()
                    .map_err(|e| corrupt(Corruption::RootConfig(e)))?;
                return Ok(Outcome::Complete(root));
            }
            Ok(root) => return Err(version_error(root.version)),
            Err(e) => e,
        };
        let fields: Vec<Ipld> = fvm_ipld_encoding::from_slice(&bytes)
            .map_err(|e| corrupt(Corruption::RootObject(e.to_string())))?;
        Err(match fields.first() {
            Some(Ipld::Integer(v)) if *v == FORMAT_VERSION as i128 => {
                corrupt(Corruption::RootObject(typed_error.to_string()))
            }
            Some(Ipld::Integer(v)) if *v >= 0 => version_error(*v as u64),
            _ => corrupt(Corruption::RootObject(
                "no version in its first field".into(),
            )),
        })
    }
}
