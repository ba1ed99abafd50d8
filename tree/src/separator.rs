//! Separators: the key a leaf has in its parent.
//!
//! A parent key only has to route: at least the leaf's last key, and below the next leaf's first
//! key. Full last keys repeat whole document ids at every level; the shortest routing key is
//! usually a few bytes past the two keys' common prefix. It is a function of the two neighbouring
//! entries alone, so the tree stays a pure function of its entries.
//!
//! Only level 1 holds separators. A node at level 2 or above is keyed by its own last key, which
//! is already a separator from level 1 (and an upper bound of every leaf key below it, and below
//! every leaf key after it).

use bytes::Bytes;

/// The parent key of a leaf whose last key is `last`, followed by a leaf whose first key is
/// `next` (`last < next`): the first `j + 1` bytes of `next`, where `j` is the length of the
/// longest common prefix of the two, when that is a proper prefix of `next` and `last` is not a
/// prefix of `next`; otherwise `last`. Either way `last <= separator < next`.
pub fn separator(last: &Bytes, next: &Bytes) -> Bytes {
    match separator_in_next(last, next) {
        Some(len) => next.slice(..len),
        None => last.clone(),
    }
}

/// The length of the prefix of `next` that [`separator`] takes, or `None` when it takes `last`.
pub(crate) fn separator_in_next(last: &[u8], next: &[u8]) -> Option<usize> {
    debug_assert!(last < next, "separator of keys out of order");
    let common = crate::node::common_prefix(last, next);
    (common < last.len() && common + 1 < next.len()).then_some(common + 1)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sep(a: &[u8], b: &[u8]) -> Vec<u8> {
        separator(&Bytes::copy_from_slice(a), &Bytes::copy_from_slice(b)).to_vec()
    }

    #[test]
    fn separators_route_between_the_two_keys() {
        assert_eq!(sep(b"apple", b"banana"), b"b");
        assert_eq!(sep(b"abc-17", b"abd-02"), b"abd");
        // The next key is only one byte past the common prefix: no proper prefix routes.
        assert_eq!(sep(b"ab", b"b"), b"ab");
        // The last key is a prefix of the next: it is the shortest separator itself.
        assert_eq!(sep(b"ab", b"abcdef"), b"ab");
        assert_eq!(sep(b"", b"a"), b"");
        for (a, b) in [
            (&b"x1"[..], &b"x2"[..]),
            (b"\x00", b"\x00\x00\x01"),
            (b"k", b"kk"),
        ] {
            let s = sep(a, b);
            assert!(a <= &s[..] && &s[..] < b, "{a:?} <= {s:?} < {b:?}");
        }
    }
}
