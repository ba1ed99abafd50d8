//! The boundary rule: a fast, salted, fully specified hash of the key decides where nodes end.

use xxhash_rust::xxh3::xxh3_64_with_seed;

use crate::config::Config;

/// Golden-ratio increment that spreads level numbers over the seed space.
const LEVEL_STEP: u64 = 0x9E37_79B9_7F4A_7C15;

/// The hash seed of a level: `salt + level * 0x9E3779B97F4A7C15 (mod 2^64)`.
pub fn level_seed(salt: u64, level: u32) -> u64 {
    salt.wrapping_add((level as u64).wrapping_mul(LEVEL_STEP))
}

/// The boundary hash of a key at a level: XXH3-64 of the key bytes, seeded with the level seed.
pub fn boundary_hash(salt: u64, level: u32, key: &[u8]) -> u64 {
    xxh3_64_with_seed(key, level_seed(salt, level))
}

/// Whether the hash of an entry of `entry_len` encoded bytes fires: `hash / 2^64 < entry_len /
/// target`, in exact integer arithmetic. Larger entries end nodes more often, so nodes average
/// `target` bytes whatever the entry sizes.
pub fn fires(config: &Config, level: u32, key: &[u8], entry_len: usize) -> bool {
    let hash = boundary_hash(config.salt, level, key) as u128;
    hash * (config.target(level) as u128) < (entry_len as u128) << 64
}
