//! Finding a key's place in a node without touching its entries: a node keeps, beside them, the
//! eight key bytes after its shared prefix for every entry, as one array of integers.
//!
//! A warm descent is bound by memory latency, not by comparisons: a binary search over entries
//! reads each probed entry (136 bytes apart) and then its key bytes elsewhere, two cache misses
//! per probe. Over the heads a search reads one small contiguous array, and compares whole keys
//! only where heads tie.

use std::cmp::Ordering;

/// The eight bytes of `suffix` from its start, big-endian, zero-padded: heads order as the
/// suffixes do wherever they differ (a shorter suffix pads with zeros, which sort first).
fn head(suffix: &[u8]) -> u64 {
    let mut buf = [0u8; 8];
    let n = suffix.len().min(8);
    buf[..n].copy_from_slice(&suffix[..n]);
    u64::from_be_bytes(buf)
}

/// The heads of a node's keys (ascending, each sharing the first `prefix` bytes).
pub(crate) struct Heads {
    prefix: usize,
    heads: Box<[u64]>,
}

impl Heads {
    pub(crate) fn new<'k>(prefix: usize, keys: impl ExactSizeIterator<Item = &'k [u8]>) -> Self {
        Heads {
            prefix,
            heads: keys.map(|k| head(&k[prefix..])).collect(),
        }
    }

    /// How many of `keys` (the node's keys, which these heads were made from) are below `key`,
    /// or at or below it when `inclusive`: the partition point of `keys` by that test.
    pub(crate) fn count_below<'k>(
        &self,
        keys: impl Fn(usize) -> &'k [u8],
        key: &[u8],
        inclusive: bool,
    ) -> usize {
        let n = self.heads.len();
        if n == 0 {
            return 0;
        }
        let p = self.prefix;
        let shared = &keys(0)[..p];
        let m = p.min(key.len());
        match key[..m].cmp(&shared[..m]) {
            Ordering::Less => return 0,
            Ordering::Greater => return n,
            // A proper prefix of the shared prefix is below every key.
            Ordering::Equal if key.len() < p => return 0,
            Ordering::Equal => {}
        }
        // A head below the key's head means a key below it, a head above means a key above:
        // only entries with an equal head need their whole key compared.
        let h = head(&key[p..]);
        let lo = self.heads.partition_point(|&x| x < h);
        let ties = self.heads[lo..].partition_point(|&x| x == h);
        // Binary search over the ties, by whole keys.
        let (mut lo, mut hi) = (lo, lo + ties);
        while lo < hi {
            let mid = lo + (hi - lo) / 2;
            let below = match keys(mid).cmp(key) {
                Ordering::Less => true,
                Ordering::Equal => inclusive,
                Ordering::Greater => false,
            };
            if below {
                lo = mid + 1;
            } else {
                hi = mid;
            }
        }
        lo
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn keys_strategy() -> impl Strategy<Value = Vec<Vec<u8>>> {
        // Small alphabets and shared prefixes, so heads tie and keys are prefixes of each other.
        let byte = prop_oneof![Just(0u8), Just(1u8), Just(255u8), any::<u8>()];
        (
            prop::collection::vec(byte.clone(), 0..4),
            prop::collection::btree_set(prop::collection::vec(byte, 0..12), 0..40),
        )
            .prop_map(|(shared, set)| {
                set.into_iter()
                    .map(|s| [shared.clone(), s].concat())
                    .collect::<std::collections::BTreeSet<_>>()
                    .into_iter()
                    .collect()
            })
    }

    proptest! {
        /// The heads find the same place as a search over the keys themselves.
        #[test]
        fn heads_agree_with_a_search_over_the_keys(
            keys in keys_strategy(),
            probes in prop::collection::vec(prop::collection::vec(prop_oneof![Just(0u8), Just(1u8), Just(255u8), any::<u8>()], 0..14), 1..20),
        ) {
            let prefix = match (keys.first(), keys.last()) {
                (Some(a), Some(b)) => crate::node::common_prefix(a, b),
                _ => 0,
            };
            let heads = Heads::new(prefix, keys.iter().map(Vec::as_slice));
            // Probe the keys themselves and their neighbours too.
            let all = probes.iter().chain(&keys).cloned().flat_map(|k| {
                let mut longer = k.clone();
                longer.push(0);
                let shorter = k[..k.len().saturating_sub(1)].to_vec();
                [k, longer, shorter]
            });
            for probe in all {
                for inclusive in [false, true] {
                    let expected = keys.partition_point(|k| if inclusive { k <= &probe } else { k < &probe });
                    let found = heads.count_below(|i| &keys[i], &probe, inclusive);
                    prop_assert_eq!(found, expected, "probe {:?} inclusive {}", probe, inclusive);
                }
            }
        }
    }
}
