//! The root object: what a tree's CID names. It binds the format version and the chunking
//! configuration to the root node, so a reader always knows how the tree was cut.

use bytes::Bytes;
use cid::Cid;
use fvm_ipld_blockstore::Blockstore;
use fvm_ipld_encoding::tuple::*;
use ipld_core::ipld::Ipld;

use crate::codec::{Decoder, MAJOR_ARRAY};
use crate::config::{Config, FORMAT_VERSION};
use crate::error::{Corruption, DecodeError, Error, Result};
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

    /// Reads this format's root object, strictly (shortest heads, nothing after it), by hand:
    /// every actor call and every open reads one, and through serde each cost the actor 10–20k
    /// more gas (gas-bench's point reads: 4.28M → 4.26M at 1k documents).
    fn decode(block: Bytes) -> std::result::Result<RootObject, DecodeError> {
        let mut d = Decoder::new(block);
        let shape = |n, what| {
            move |d: &mut Decoder| match d.expect(MAJOR_ARRAY, what)? {
                len if len == n => Ok(()),
                _ => Err(DecodeError::Expected(what)),
            }
        };
        let small = |d: &mut Decoder| {
            u32::try_from(d.uint()?).map_err(|_| DecodeError::Expected("a 32-bit integer"))
        };
        shape(5, "a root object (an array of 5)")(&mut d)?;
        let version = d.uint()?;
        shape(6, "a configuration (an array of 6)")(&mut d)?;
        let config = Config {
            leaf_target: small(&mut d)?,
            leaf_cap: small(&mut d)?,
            internal_target: small(&mut d)?,
            internal_cap: small(&mut d)?,
            min_entries: small(&mut d)?,
            salt: d.uint()?,
        };
        let node = d.cid()?;
        let count = d.uint()?;
        let meta = if d.null() { None } else { Some(d.cid()?) };
        if !d.at_end() {
            return Err(DecodeError::TrailingBytes);
        }
        Ok(RootObject {
            version,
            config,
            node,
            count,
            meta,
        })
    }

    pub fn load<S: Blockstore>(store: &S, cid: &Cid) -> Result<Outcome<RootObject>> {
        let bytes = Bytes::from(crate::ready!(load_block(store, cid)));
        let corrupt = |reason: Corruption| Error::corrupt(*cid, reason);
        let version_error = |found: u64| Error::Version {
            found,
            supported: FORMAT_VERSION,
        };
        // Decoded once as this format's root object (every open reads one: decoding it twice
        // was a twentieth of verifying a membership proof). Only a block that does not parse
        // as one is read again for its version alone: a future format may not parse as this one.
        let typed_error = match RootObject::decode(bytes.clone()) {
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

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn root_object() -> impl Strategy<Value = RootObject> {
        let cid = any::<[u8; 8]>().prop_map(|seed| crate::cid_of(&seed));
        (
            any::<u64>(),
            any::<[u32; 5]>(),
            any::<u64>(),
            cid.clone(),
            any::<u64>(),
            prop::option::of(cid),
        )
            .prop_map(|(version, sizes, salt, node, count, meta)| RootObject {
                version,
                config: Config {
                    leaf_target: sizes[0],
                    leaf_cap: sizes[1],
                    internal_target: sizes[2],
                    internal_cap: sizes[3],
                    min_entries: sizes[4],
                    salt,
                },
                node,
                count,
                meta,
            })
    }

    proptest! {
        /// The hand decoder reads what the serde encoder writes, and of edited bytes it accepts
        /// only what serde's decoder accepts as the same root object.
        #[test]
        fn decoding_by_hand_agrees_with_serde(
            root in root_object(),
            edits in prop::collection::vec((any::<prop::sample::Index>(), any::<u8>(), any::<bool>()), 0..3),
        ) {
            let mut bytes = root.encode();
            prop_assert_eq!(RootObject::decode(Bytes::from(bytes.clone())), Ok(root));
            for (at, byte, insert) in edits {
                let i = at.index(bytes.len() + 1);
                if insert {
                    bytes.insert(i, byte);
                } else if i < bytes.len() {
                    bytes[i] = byte;
                }
            }
            if let Ok(by_hand) = RootObject::decode(Bytes::from(bytes.clone())) {
                let by_serde = fvm_ipld_encoding::from_slice::<RootObject>(&bytes);
                prop_assert_eq!(by_serde.ok(), Some(by_hand), "{:?}", bytes);
            }
        }
    }
}
