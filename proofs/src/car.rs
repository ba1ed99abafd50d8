//! CARv1, strictly. A proof is `varint(len) header` then `varint(len) CID block` sections, where
//! the header is the DAG-CBOR map `{"roots": [envelope CID], "version": 1}`, the first block is the
//! envelope and the other blocks follow in ascending order of their CID bytes, each once, with
//! nothing after the last. Every block's bytes must hash to its CID (blake2b-256, DAG-CBOR or raw).
//! Limits on total bytes and block count are checked before any block is hashed.
//!
//! `read_any` reads ordinary CAR files (any roots, any order), for loading data sets.

use cid::Cid;
use ipld_core::ipld::Ipld;
use multihash_codetable::{Code, MultihashDigest};
use prolly_tree::RawValue;

use crate::error::VerifyError;

/// Largest proof accepted, in bytes, and most blocks.
pub const MAX_PROOF_BYTES: usize = 64 * 1024 * 1024;
pub const MAX_BLOCKS: usize = 200_000;
/// Largest block: the FVM's limit.
pub const MAX_BLOCK_BYTES: usize = 1024 * 1024;

const DAG_CBOR: u64 = 0x71;
const RAW: u64 = 0x55;
const BLAKE2B_256: u64 = 0xb220;

fn write_varint(out: &mut Vec<u8>, mut n: u64) {
    while n >= 0x80 {
        out.push((n as u8) | 0x80);
        n >>= 7;
    }
    out.push(n as u8);
}

/// An unsigned LEB128 varint in its shortest form (at most 9 bytes, as multiformats require).
fn read_varint(bytes: &[u8], pos: &mut usize) -> Result<u64, VerifyError> {
    let mut value = 0u64;
    for i in 0..9 {
        let b = *bytes
            .get(*pos)
            .ok_or_else(|| VerifyError::malformed("truncated varint"))?;
        *pos += 1;
        value |= u64::from(b & 0x7f) << (7 * i);
        if b & 0x80 == 0 {
            if b == 0 && i > 0 {
                return Err(VerifyError::malformed("varint not in shortest form"));
            }
            return Ok(value);
        }
    }
    Err(VerifyError::malformed("varint too long"))
}

/// The one header a proof has: `{"roots": [root], "version": 1}` in canonical DAG-CBOR.
fn header(root: &Cid) -> Vec<u8> {
    use prolly_tree::cbor::{
        MAJOR_ARRAY, MAJOR_MAP, MAJOR_UINT, write_cid, write_head, write_text,
    };
    let mut out = Vec::with_capacity(64);
    write_head(&mut out, MAJOR_MAP, 2);
    write_text(&mut out, "roots");
    write_head(&mut out, MAJOR_ARRAY, 1);
    write_cid(&mut out, root);
    write_text(&mut out, "version");
    write_head(&mut out, MAJOR_UINT, 1);
    out
}

/// The root a proof's header names. Only [`header`]'s encoding is a proof's header, so the root
/// is read at its place in it and the header compared whole (decoding it as IPLD, and encoding
/// it again to check it, was a twentieth of verifying a membership proof).
fn header_root(head: &[u8]) -> Result<Cid, VerifyError> {
    const LEAD: &[u8] = &[0xa2, 0x65, b'r', b'o', b'o', b't', b's', 0x81, 0xd8, 0x2a];
    let refused = || VerifyError::malformed("header: not {\"roots\": [one CID], \"version\": 1}");
    // Then the CID as a byte string: 0x00 and the CID's bytes (38 for blake2b-256).
    let Some([0x58, len, 0x00, rest @ ..]) = head.strip_prefix(LEAD) else {
        return Err(refused());
    };
    let cid = rest
        .get(..usize::from(*len).saturating_sub(1))
        .and_then(|bytes| Cid::try_from(bytes).ok())
        .ok_or_else(refused)?;
    if header(&cid) != head {
        return Err(refused());
    }
    Ok(cid)
}

/// Writes a strict CAR: the root block first, then `blocks` in ascending CID order (duplicates
/// and the root dropped).
pub fn write(root: (Cid, &[u8]), blocks: &[(Cid, Vec<u8>)]) -> Vec<u8> {
    let mut sorted: Vec<&(Cid, Vec<u8>)> = blocks.iter().filter(|(c, _)| *c != root.0).collect();
    sorted.sort_by_key(|(c, _)| c.to_bytes());
    sorted.dedup_by_key(|(c, _)| *c);
    let mut out = Vec::new();
    let head = header(&root.0);
    write_varint(&mut out, head.len() as u64);
    out.extend_from_slice(&head);
    for (cid, data) in
        std::iter::once((&root.0, root.1)).chain(sorted.iter().map(|(c, d)| (c, d.as_slice())))
    {
        let cid_bytes = cid.to_bytes();
        write_varint(&mut out, (cid_bytes.len() + data.len()) as u64);
        out.extend_from_slice(&cid_bytes);
        out.extend_from_slice(data);
    }
    out
}

/// One section: the CID and the block, hash-checked when `hash` is set.
fn section<'a>(
    bytes: &'a [u8],
    pos: &mut usize,
    strict: bool,
    hash: bool,
) -> Result<(Cid, &'a [u8]), VerifyError> {
    let len = read_varint(bytes, pos)? as usize;
    if len > MAX_BLOCK_BYTES + 64 || *pos + len > bytes.len() {
        return Err(VerifyError::malformed("section length out of range"));
    }
    let body = &bytes[*pos..*pos + len];
    *pos += len;
    let (cid, data) = match prolly_tree::split_node_cid(body) {
        Some(node) => node,
        None => {
            let mut reader = std::io::Cursor::new(body);
            let cid = Cid::read_bytes(&mut reader)
                .map_err(|e| VerifyError::malformed(format!("bad CID: {e}")))?;
            // A strict CAR has one encoding: the CID parser also takes varints longer than needed.
            if strict && reader.position() as usize != cid.encoded_len() {
                return Err(VerifyError::malformed(format!(
                    "block {cid}: CID varints not in their shortest form"
                )));
            }
            (cid, &body[reader.position() as usize..])
        }
    };
    if cid.version() != cid::Version::V1
        || (strict && ![DAG_CBOR, RAW].contains(&cid.codec()))
        || cid.hash().code() != BLAKE2B_256
    {
        if strict {
            return Err(VerifyError::malformed(format!(
                "block {cid}: only CIDv1, DAG-CBOR or raw, blake2b-256"
            )));
        }
        return Ok((cid, data));
    }
    if !hash {
        return Ok((cid, data));
    }
    let digest = Code::Blake2b256.digest(data);
    if digest.digest() != cid.hash().digest() {
        return Err(VerifyError::BadBlock(cid));
    }
    Ok((cid, data))
}

/// What orders the CIDs of a strict CAR as their bytes do, without writing them out (writing them
/// was 4% of verifying a membership proof): they share version 1, blake2b-256 and its length, and
/// DAG-CBOR's and raw's codes are one-byte varints, so only the codec and the digest differ.
fn byte_order(cid: &Cid) -> (u64, &[u8]) {
    (cid.codec(), cid.hash().digest())
}

/// A strictly read proof: the root (envelope) block and the other blocks, in file order.
pub struct StrictCar<'a> {
    pub root: Cid,
    pub root_block: &'a [u8],
    pub blocks: Vec<(Cid, &'a [u8])>,
}

/// Reads a proof strictly, hash-checking every block.
pub fn read_strict(bytes: &[u8]) -> Result<StrictCar<'_>, VerifyError> {
    read_strict_with(bytes, true)
}

/// Reads a proof strictly but hash-checks only the envelope: for a verifier whose reader checks
/// every block it uses against its CID (the tree does, on every load) and refuses a proof with a
/// block it did not use. Each block is then hashed once, not twice.
pub fn read_strict_deferred(bytes: &[u8]) -> Result<StrictCar<'_>, VerifyError> {
    read_strict_with(bytes, false)
}

fn read_strict_with(bytes: &[u8], hash_all: bool) -> Result<StrictCar<'_>, VerifyError> {
    if bytes.len() > MAX_PROOF_BYTES {
        return Err(VerifyError::TooLarge(format!(
            "{} bytes; the limit is {MAX_PROOF_BYTES}",
            bytes.len()
        )));
    }
    let mut pos = 0;
    let head_len = read_varint(bytes, &mut pos)? as usize;
    if head_len > 256 || pos + head_len > bytes.len() {
        return Err(VerifyError::malformed("header length out of range"));
    }
    let head = &bytes[pos..pos + head_len];
    pos += head_len;
    let root = header_root(head)?;
    // Count the sections before hashing any of them.
    let mut count = 0;
    let mut scan = pos;
    while scan < bytes.len() {
        let len = read_varint(bytes, &mut scan)? as usize;
        scan = scan.saturating_add(len);
        count += 1;
        if count > MAX_BLOCKS + 1 {
            return Err(VerifyError::TooLarge(format!(
                "more than {MAX_BLOCKS} blocks"
            )));
        }
    }
    if scan != bytes.len() {
        return Err(VerifyError::malformed("truncated section"));
    }
    let (first, root_block) = section(bytes, &mut pos, true, true)?;
    if first != root {
        return Err(VerifyError::malformed(
            "the first block is not the header's root",
        ));
    }
    let mut blocks: Vec<(Cid, &[u8])> = Vec::with_capacity(count);
    let mut previous: Option<Cid> = None;
    while pos < bytes.len() {
        let (cid, data) = section(bytes, &mut pos, true, hash_all)?;
        if previous.is_some_and(|p| byte_order(&p) >= byte_order(&cid)) || cid == root {
            return Err(VerifyError::malformed("blocks out of order or repeated"));
        }
        previous = Some(cid);
        blocks.push((cid, data));
    }
    Ok(StrictCar {
        root,
        root_block,
        blocks,
    })
}

/// Blocks with their CIDs.
pub type Blocks = Vec<(Cid, Vec<u8>)>;

/// Reads any CARv1: its roots and its blocks (blake2b-256 blocks are hash-checked).
pub fn read_any(bytes: &[u8]) -> Result<(Vec<Cid>, Blocks), VerifyError> {
    let mut pos = 0;
    let head_len = read_varint(bytes, &mut pos)? as usize;
    let head = bytes
        .get(pos..pos + head_len)
        .ok_or_else(|| VerifyError::malformed("truncated header"))?;
    pos += head_len;
    let value = RawValue::from_bytes(bytes::Bytes::copy_from_slice(head))
        .and_then(|raw| raw.to_ipld())
        .map_err(|e| VerifyError::malformed(format!("header: {e}")))?;
    let roots = match &value {
        Ipld::Map(map) => match map.get("roots") {
            Some(Ipld::List(roots)) => roots
                .iter()
                .filter_map(|r| match r {
                    Ipld::Link(c) => Some(*c),
                    _ => None,
                })
                .collect(),
            _ => Vec::new(),
        },
        _ => return Err(VerifyError::malformed("header is not a map")),
    };
    let mut blocks = Vec::new();
    while pos < bytes.len() {
        let (cid, data) = section(bytes, &mut pos, false, true)?;
        blocks.push((cid, data.to_vec()));
    }
    Ok((roots, blocks))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A CAR of `root` then `blocks` exactly in the order given, repeats included.
    fn car_of(root: &[u8], blocks: &[&[u8]]) -> Vec<u8> {
        let root_cid = prolly_tree::cid_of(root);
        let mut out = Vec::new();
        let head = header(&root_cid);
        write_varint(&mut out, head.len() as u64);
        out.extend_from_slice(&head);
        for block in std::iter::once(root).chain(blocks.iter().copied()) {
            let cid = prolly_tree::cid_of(block).to_bytes();
            write_varint(&mut out, (cid.len() + block.len()) as u64);
            out.extend_from_slice(&cid);
            out.extend_from_slice(block);
        }
        out
    }

    #[test]
    fn a_strict_car_holds_its_blocks_once_in_ascending_cid_bytes() {
        let (a, b): (&[u8], &[u8]) = (b"\x01", b"\x02");
        let (low, high) = if prolly_tree::cid_of(a).to_bytes() < prolly_tree::cid_of(b).to_bytes() {
            (a, b)
        } else {
            (b, a)
        };
        let root = b"\xf6";
        assert!(read_strict(&car_of(root, &[low, high])).is_ok());
        for bad in [vec![high, low], vec![low, low], vec![low, high, high]] {
            let Err(e) = read_strict(&car_of(root, &bad)) else {
                panic!("read {bad:?}")
            };
            assert!(e.to_string().contains("out of order or repeated"), "{e}");
        }
        // The root block is not repeated among the others.
        assert!(read_strict(&car_of(root, &[root])).is_err());
    }
}
