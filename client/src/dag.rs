//! Links between blocks: what a DAG-CBOR block points to, and walks over what a store holds.

use std::collections::HashSet;

use cid::Cid;

use crate::block;

/// The DAG-CBOR multicodec; blocks of other codecs (raw, say) link nothing here.
pub const DAG_CBOR: u64 = 0x71;
/// CBOR's tag for a CID (the bytes are a 0x00 prefix and the binary CID).
const TAG_CID: u64 = 42;

/// The CIDs block `cid` links, in encoded order. A block that is not DAG-CBOR, or not valid
/// DAG-CBOR, links nothing.
pub fn links(cid: &Cid, bytes: &[u8]) -> Vec<Cid> {
    if cid.codec() != DAG_CBOR {
        return Vec::new();
    }
    scan_links(bytes).unwrap_or_default()
}

/// Walks one CBOR value without building it, collecting tag-42 CIDs. Iterative, with a count of
/// items still to read: no recursion to overflow, and no allocation sized by the input's claims.
pub fn scan_links(bytes: &[u8]) -> Result<Vec<Cid>, &'static str> {
    let mut reader = Reader { bytes, pos: 0 };
    let mut links = Vec::new();
    let mut pending: u64 = 1;
    while pending > 0 {
        pending -= 1;
        let (major, arg) = reader.head()?;
        let more = match major {
            0 | 1 | 7 => 0,
            2 | 3 => {
                reader.take(arg)?;
                0
            }
            4 => arg,
            5 => arg.checked_mul(2).ok_or("map too long")?,
            _ if arg == TAG_CID => {
                links.push(reader.cid()?);
                0
            }
            _ => return Err("a tag other than 42"),
        };
        // Every item takes at least one byte, so more pending items than bytes left is a lie.
        pending = pending.checked_add(more).ok_or("too many items")?;
        if pending > reader.remaining() {
            return Err("more items than bytes");
        }
    }
    if reader.remaining() != 0 {
        return Err("bytes after the value");
    }
    Ok(links)
}

struct Reader<'a> {
    bytes: &'a [u8],
    pos: usize,
}

impl Reader<'_> {
    fn remaining(&self) -> u64 {
        (self.bytes.len() - self.pos) as u64
    }

    fn take(&mut self, n: u64) -> Result<&[u8], &'static str> {
        if n > self.remaining() {
            return Err("truncated");
        }
        let start = self.pos;
        self.pos += n as usize;
        Ok(&self.bytes[start..self.pos])
    }

    /// A head: (major type, argument). Floats and simple values (major 7) come back with their
    /// bits as the argument, which the caller ignores.
    fn head(&mut self) -> Result<(u8, u64), &'static str> {
        let first = self.take(1)?[0];
        let (major, info) = (first >> 5, first & 31);
        let len = match info {
            0..=23 => return Ok((major, u64::from(info))),
            24 => 1,
            25 => 2,
            26 => 4,
            27 => 8,
            _ => return Err("indefinite length or reserved head"),
        };
        let arg = self
            .take(len)?
            .iter()
            .fold(0u64, |acc, b| (acc << 8) | u64::from(*b));
        Ok((major, arg))
    }

    /// The byte string after tag 42: a 0x00 prefix and exactly one binary CID.
    fn cid(&mut self) -> Result<Cid, &'static str> {
        let (major, len) = self.head()?;
        if major != 2 {
            return Err("tag 42 on something other than bytes");
        }
        let Some((0, cid_bytes)) = self.take(len)?.split_first() else {
            return Err("a CID without its 0x00 prefix");
        };
        let mut cursor = std::io::Cursor::new(cid_bytes);
        let cid = Cid::read_bytes(&mut cursor).map_err(|_| "a malformed CID")?;
        if cursor.position() as usize != cid_bytes.len() {
            return Err("bytes after a CID");
        }
        Ok(cid)
    }
}

/// Visits every block reachable from `roots` that `get` finds, each once, depth first in encoded
/// order. A block `get` does not find ends its branch; identity CIDs are read from themselves and
/// not visited. Stops at the first error.
pub fn walk<E>(
    roots: impl IntoIterator<Item = Cid>,
    mut get: impl FnMut(&Cid) -> Result<Option<Vec<u8>>, E>,
    mut visit: impl FnMut(&Cid, &[u8]) -> Result<(), E>,
) -> Result<(), E> {
    let mut stack: Vec<Cid> = roots.into_iter().collect();
    stack.reverse();
    let mut seen = HashSet::new();
    while let Some(cid) = stack.pop() {
        if !seen.insert(cid) {
            continue;
        }
        let bytes = match block::inline(&cid) {
            Some(inline) => inline.to_vec(),
            None => match get(&cid)? {
                Some(bytes) => {
                    visit(&cid, &bytes)?;
                    bytes
                }
                None => continue,
            },
        };
        let mut children = links(&cid, &bytes);
        children.reverse();
        stack.extend(children);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use ipld_core::ipld::Ipld;
    use multihash_codetable::{Code, MultihashDigest};
    use proptest::prelude::*;

    fn cid(n: u8) -> Cid {
        Cid::new_v1(0x55, Code::Sha2_256.digest(&[n]))
    }

    fn cid_item(c: &Cid) -> Vec<u8> {
        let bytes = c.to_bytes();
        let mut out = vec![0xd8, 42, 0x58, bytes.len() as u8 + 1, 0];
        out.extend(bytes);
        out
    }

    #[test]
    fn links_in_encoded_order() {
        // {"b": cid1, "aa": [cid2, 1.5, "x"]}: "b" sorts first in DAG-CBOR (shorter key).
        let mut bytes = vec![0xa2, 0x61, b'b'];
        bytes.extend(cid_item(&cid(1)));
        bytes.extend([0x62, b'a', b'a', 0x83]);
        bytes.extend(cid_item(&cid(2)));
        bytes.extend([0xfb, 0x3f, 0xf8, 0, 0, 0, 0, 0, 0, 0x61, b'x']);
        assert_eq!(scan_links(&bytes).unwrap(), vec![cid(1), cid(2)]);
    }

    #[test]
    fn malformed_input_is_refused_not_trusted() {
        for bad in [
            &[][..],
            &[0x9f, 0xff],                                           // indefinite list
            &[0x9b, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff], // 2^64-1 items
            &[0xbb, 0x80, 0, 0, 0, 0, 0, 0, 0],                      // a map of 2^63 pairs
            &[0x5a, 0xff, 0xff, 0xff, 0xff],                         // bytes past the end
            &[0xd8, 42, 0x41, 0x01], // a CID without the 0x00 prefix
            &[0xc1, 0x00],           // tag 1
            &[0x01, 0x02],           // trailing bytes
        ] {
            assert!(scan_links(bad).is_err(), "{bad:x?}");
        }
        assert_eq!(scan_links(&[0x80]).unwrap(), vec![]);
    }

    fn value() -> impl Strategy<Value = Ipld> {
        let leaf = prop_oneof![
            any::<i64>().prop_map(|i| Ipld::Integer(i.into())),
            ".{0,8}".prop_map(Ipld::String),
            any::<u8>().prop_map(|n| Ipld::Link(cid(n))),
            any::<f64>()
                .prop_filter("finite", |f| f.is_finite())
                .prop_map(Ipld::Float),
        ];
        leaf.prop_recursive(4, 48, 6, |inner| {
            prop_oneof![
                prop::collection::vec(inner.clone(), 0..6).prop_map(Ipld::List),
                prop::collection::btree_map(".{0,6}", inner, 0..6).prop_map(Ipld::Map),
            ]
        })
    }

    /// The links of decoded IPLD in DAG-CBOR's key order: shorter keys first, then bytewise.
    fn reference_links(value: &Ipld, out: &mut Vec<Cid>) {
        match value {
            Ipld::Link(c) => out.push(*c),
            Ipld::List(items) => items.iter().for_each(|v| reference_links(v, out)),
            Ipld::Map(map) => {
                let mut entries: Vec<_> = map.iter().collect();
                entries.sort_by(|(a, _), (b, _)| {
                    (a.len(), a.as_bytes()).cmp(&(b.len(), b.as_bytes()))
                });
                entries
                    .into_iter()
                    .for_each(|(_, v)| reference_links(v, out));
            }
            _ => {}
        }
    }

    proptest! {
        #[test]
        fn scanning_finds_the_links_in_encoded_order(value in value()) {
            let bytes = prolly_tree::RawValue::from_ipld(&value).unwrap();
            let mut expected = Vec::new();
            reference_links(&value, &mut expected);
            prop_assert_eq!(scan_links(bytes.as_bytes()).unwrap(), expected);
        }

        #[test]
        fn scanning_any_bytes_never_panics(bytes in prop::collection::vec(any::<u8>(), 0..64)) {
            let _ = scan_links(&bytes);
        }
    }
}
