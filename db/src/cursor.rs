//! The page cursor: where the next page of a query starts.
//!
//! A cursor is the DAG-CBOR list `[1, query hash, position, skip]`. The position is the sort key
//! of the last entry the page consumed: the encoded sort fields (each in its sort order, absent
//! fields as the missing marker) followed by `E(_id)`. The next page starts strictly after it.
//! `skip` is what is left of the query's skip (a budget can end a page before the skip is used
//! up); with a cursor, the query's own `skip` is ignored. The query hash (blake2b-256 of the
//! query's canonical form without cursor, limit and skip, first 16 bytes) stops a cursor from
//! being replayed against another query.
//!
//! A position names a place in the order, not a snapshot, so a cursor stays valid across roots:
//! on a newer root the next page continues after the same position, and shows what that root
//! holds there.

use ipld_core::ipld::Ipld;
use multihash_codetable::{Code, MultihashDigest};

use crate::error::{Error, Refusal};
use crate::form;
use crate::query::{MAX_CURSOR_BYTES, Query};

const CURSOR_VERSION: u64 = 1;
const QUERY_HASH_BYTES: usize = 16;

/// What a cursor is bound to: the query without its page controls.
fn query_hash(query: &Query) -> Vec<u8> {
    // The form leaves out page controls at their defaults, so without them it is the form of the
    // query with them unset.
    let mut form = Vec::with_capacity(128);
    query.write_form(&mut form, false);
    let digest = Code::Blake2b256.digest(&form);
    digest.digest()[..QUERY_HASH_BYTES].to_vec()
}

/// Where a page resumes: after `position`, with `skip` entries still to pass over.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PageCursor {
    pub position: Vec<u8>,
    pub skip: u64,
}

/// The cursor bytes for `query` resuming at `resume`.
pub fn encode(query: &Query, resume: &PageCursor) -> Vec<u8> {
    form::to_cbor(&Ipld::List(vec![
        Ipld::Integer(CURSOR_VERSION.into()),
        Ipld::Bytes(query_hash(query)),
        Ipld::Bytes(resume.position.clone()),
        Ipld::Integer(resume.skip.into()),
    ]))
}

/// Where a query's cursor resumes, after checking that the cursor belongs to the query.
pub fn decode(query: &Query) -> Result<Option<PageCursor>, Error> {
    let Some(bytes) = &query.cursor else {
        return Ok(None);
    };
    if bytes.len() > MAX_CURSOR_BYTES {
        return Err(Refusal::BadCursor("too large".into()).into());
    }
    let value = form::from_cbor(bytes, "cursor").map_err(|e| Refusal::BadCursor(e.to_string()))?;
    match value {
        Ipld::List(items) if items.len() == 4 => match (&items[0], &items[1], &items[2], &items[3])
        {
            (Ipld::Integer(v), Ipld::Bytes(hash), Ipld::Bytes(position), Ipld::Integer(skip))
                if *v == CURSOR_VERSION as i128 =>
            {
                if *hash != query_hash(query) {
                    return Err(Refusal::BadCursor("it belongs to another query".into()).into());
                }
                let skip =
                    u64::try_from(*skip).map_err(|_| Refusal::BadCursor("bad skip".into()))?;
                Ok(Some(PageCursor {
                    position: position.clone(),
                    skip,
                }))
            }
            _ => Err(Refusal::BadCursor("unknown layout".into()).into()),
        },
        _ => Err(Refusal::BadCursor("unknown layout".into()).into()),
    }
}
