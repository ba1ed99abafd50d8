//! The chunking configuration. It is part of the root object, so a tree always carries the
//! parameters that shaped it.

use fvm_ipld_encoding::tuple::*;

use crate::error::ConfigError;

/// The node format version written in every root object.
pub const FORMAT_VERSION: u64 = 2;

/// Node-size targets and caps, in encoded bytes, separately for leaves and internal nodes.
///
/// The boundary hash fires more readily as a node grows (see `boundary::fires`), so node sizes
/// cluster just under `target` whatever the entry sizes. `cap` is a hard limit on a node's
/// encoded size.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize_tuple, Deserialize_tuple)]
pub struct Config {
    pub leaf_target: u32,
    pub leaf_cap: u32,
    pub internal_target: u32,
    pub internal_cap: u32,
    /// No boundary before a node holds this many entries (at least 2).
    pub min_entries: u32,
    /// Salt for the boundary hash; each level derives its own seed from it.
    pub salt: u64,
}

impl Default for Config {
    /// Chosen by measurement (see spec/SPEC.md, "Default sizes").
    fn default() -> Self {
        Config {
            leaf_target: 512,
            leaf_cap: 16 * 1024,
            internal_target: 384,
            internal_cap: 16 * 1024,
            min_entries: 2,
            salt: 0,
        }
    }
}

/// Smallest cap accepted: room for a few small entries and the node's framing.
const MIN_CAP: u32 = 128;
/// Largest cap accepted: FVM blocks are at most 1 MiB.
const MAX_CAP: u32 = 1 << 20;
/// Largest target accepted: it keeps the boundary arithmetic within 128 bits.
const MAX_TARGET: u32 = 1 << 21;

impl Config {
    /// Node-size settings with everything else at the default.
    pub fn with_targets(leaf_target: u32, internal_target: u32) -> Self {
        Config {
            leaf_target,
            internal_target,
            ..Config::default()
        }
    }

    pub fn validate(&self) -> Result<(), ConfigError> {
        let check = |level: &'static str, target: u32, cap: u32| {
            if target == 0 || target > MAX_TARGET {
                return Err(ConfigError::Target {
                    level,
                    value: target,
                    max: MAX_TARGET,
                });
            }
            if !(MIN_CAP..=MAX_CAP).contains(&cap) {
                return Err(ConfigError::Cap {
                    level,
                    value: cap,
                    min: MIN_CAP,
                    max: MAX_CAP,
                });
            }
            Ok(())
        };
        check("leaf", self.leaf_target, self.leaf_cap)?;
        check("internal", self.internal_target, self.internal_cap)?;
        if self.min_entries < 2 {
            return Err(ConfigError::MinEntries(self.min_entries));
        }
        Ok(())
    }

    pub(crate) fn target(&self, level: u32) -> u32 {
        if level == 0 {
            self.leaf_target
        } else {
            self.internal_target
        }
    }

    pub(crate) fn cap(&self, level: u32) -> u32 {
        if level == 0 {
            self.leaf_cap
        } else {
            self.internal_cap
        }
    }
}
