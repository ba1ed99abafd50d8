//! The one check every fetched byte passes before use: it hashes to its CID.

use cid::Cid;
use multihash_codetable::{Code, MultihashDigest};

/// Blocks larger than this are refused, from any source (the trustless gateway spec's advice,
/// Bitswap's limit; a prollydb node is at most a few KiB).
pub const MAX_BLOCK_BYTES: usize = 2 << 20;

/// The identity multihash: the block is the digest itself.
pub const IDENTITY: u64 = 0x00;

/// Why a block was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BadBlock {
    #[error("its bytes do not hash to its CID")]
    HashMismatch,
    #[error("{0} bytes; blocks are at most {MAX_BLOCK_BYTES}")]
    TooLarge(usize),
    #[error("its CID uses multihash 0x{0:x}, which this client does not know")]
    UnknownHash(u64),
}

/// Checks that `bytes` are the block `cid` names.
pub fn check(cid: &Cid, bytes: &[u8]) -> Result<(), BadBlock> {
    if bytes.len() > MAX_BLOCK_BYTES {
        return Err(BadBlock::TooLarge(bytes.len()));
    }
    let hash = cid.hash();
    if hash.code() == IDENTITY {
        return if hash.digest() == bytes {
            Ok(())
        } else {
            Err(BadBlock::HashMismatch)
        };
    }
    let code = Code::try_from(hash.code()).map_err(|_| BadBlock::UnknownHash(hash.code()))?;
    if code.digest(bytes).digest() == hash.digest() {
        Ok(())
    } else {
        Err(BadBlock::HashMismatch)
    }
}

/// Whether this client can check a block of this CID (its multihash is one it computes).
pub fn checkable(cid: &Cid) -> bool {
    let code = cid.hash().code();
    code == IDENTITY || Code::try_from(code).is_ok()
}

/// The bytes of an identity CID, which no store holds.
pub fn inline(cid: &Cid) -> Option<&[u8]> {
    (cid.hash().code() == IDENTITY).then(|| cid.hash().digest())
}
