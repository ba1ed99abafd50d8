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

/// Whether the boundary hash of an entry of `entry_len` encoded bytes fires, when the entries
/// before it in the node take `before` bytes:
/// `hash / 2^64 < ((before + entry_len)^3 - before^3) / target^3`, in exact integer arithmetic.
///
/// This is the hazard of a Weibull distribution of shape 3 over node bytes: a node is unlikely to
/// end early and likely to end near `target`, so sizes cluster there. A write rewrites the nodes
/// it lands in, and it lands in large nodes more often (in proportion to their size); a narrow
/// distribution keeps those close to the mean.
pub fn fires(config: &Config, level: u32, key: &[u8], before: usize, entry_len: usize) -> bool {
    let cube = |x: u128| x * x * x;
    let (before, after) = (before as u128, (before + entry_len) as u128);
    let target = config.target(level) as u128;
    let hash = boundary_hash(config.salt, level, key) as u128;
    // Sizes are below 2^21 bytes (the 1 MiB cap plus one entry), so every product fits 128 bits.
    hash * cube(target) < (cube(after) - cube(before)) << 64
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The check values of spec/SPEC.md section 5, cross-checked with the Python `xxhash` package.
    #[test]
    fn boundary_hash_matches_the_spec() {
        assert_eq!(boundary_hash(0, 0, b""), 0x2d06800538d394c2);
        assert_eq!(boundary_hash(0, 0, b"key-000000"), 0x5621783e110abb94);
        assert_eq!(boundary_hash(0, 1, b"key-000000"), 0x5e183a69d04e559e);
        assert_eq!(boundary_hash(7, 3, b"prolly"), 0x46e311678818850d);
    }

    #[test]
    fn a_node_grows_more_likely_to_end() {
        let config = Config::default();
        // The threshold grows with the bytes already in the node, for the same key and entry.
        let key = b"key-000000";
        let fired: Vec<bool> = (0..2000)
            .step_by(50)
            .map(|before| fires(&config, 0, key, before, 40))
            .collect();
        let first = fired
            .iter()
            .position(|&f| f)
            .expect("fires once the node is large enough");
        assert!(
            fired[first..].iter().all(|&f| f),
            "monotone in the node's size"
        );
    }
}
