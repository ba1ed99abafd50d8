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

/// The heads of a node's keys, which ascend and share their first `prefix` bytes.
pub(crate) struct Heads {
    prefix: usize,
    /// The shared prefix in eight-byte words (as [`head`] makes them), then one head per key:
    /// one allocation, so that a search touches no key bytes until heads tie (comparing the
    /// prefix from the first key instead cost two more cache misses per node).
    words: Box<[u64]>,
}

impl Heads {
    /// `shared` is the prefix the keys share (the longest one).
    pub(crate) fn new<'k>(shared: &[u8], keys: impl Iterator<Item = &'k [u8]>) -> Self {
        let prefix = shared.len();
        Heads {
            prefix,
            words: shared
                .chunks(8)
                .map(head)
                .chain(keys.map(|k| head(&k[prefix..])))
                .collect(),
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
        let p = self.prefix;
        let (shared, heads) = self.words.split_at(p.div_ceil(8));
        let n = heads.len();
        if n == 0 {
            return 0;
        }
        // The key against the shared prefix, over the bytes both have, a word at a time: equal
        // words padded alike are equal bytes, and the first unequal word orders them.
        let m = p.min(key.len());
        for (i, &word) in shared.iter().enumerate().take(m.div_ceil(8)) {
            let (from, to) = (i * 8, (i * 8 + 8).min(m));
            let kept = !(u64::MAX.checked_shr(8 * (to - from) as u32).unwrap_or(0));
            match head(&key[from..to]).cmp(&(word & kept)) {
                Ordering::Less => return 0,
                Ordering::Greater => return n,
                Ordering::Equal => {}
            }
        }
        if key.len() < p {
            // A proper prefix of the shared prefix is below every key.
            return 0;
        }
        // A head below the key's head means a key below it, a head above means a key above:
        // only entries with an equal head need their whole key compared.
        let h = head(&key[p..]);
        let lo = heads.partition_point(|&x| x < h);
        let ties = heads[lo..].partition_point(|&x| x == h);
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
            prop::collection::vec(byte.clone(), 0..20),
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
            let shared = keys.first().map_or(&[][..], |k| &k[..prefix]);
            let heads = Heads::new(shared, keys.iter().map(Vec::as_slice));
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
