//! DAG-CBOR encoded sizes, computed without encoding. The chunker needs them for every entry.
//! Entry sizes count keys whole; a node's encoding, which shares the keys' prefix, is at most its
//! logical size (`check_invariants` verifies both).

use cid::Cid;

/// Length of a CBOR head (major type + argument) for the argument `n`.
pub fn head_len(n: u64) -> usize {
    match n {
        0..=23 => 1,
        24..=0xff => 2,
        0x100..=0xffff => 3,
        0x1_0000..=0xffff_ffff => 5,
        _ => 9,
    }
}

/// A byte or text string of `len` bytes.
pub fn bytes_len(len: usize) -> usize {
    head_len(len as u64) + len
}

/// A CID: tag 42 (two bytes), then a byte string of 0x00 followed by the binary CID.
pub fn cid_len(cid: &Cid) -> usize {
    2 + bytes_len(cid.encoded_len() + 1)
}

/// The logical size of a node with `count` entries whose entries take `payload` bytes (each key
/// counted whole): the outer array head, the level, an empty prefix, and one array head per column
/// (keys and values; internal nodes add counts). Chunking works on it. The encoding stores the
/// keys' shared prefix once, so it is never larger (spec section 4).
pub fn node_len(level: u32, count: usize, payload: usize) -> usize {
    let columns = if level == 0 { 2 } else { 3 };
    1 + head_len(level as u64) + 1 + columns * head_len(count as u64) + payload
}
