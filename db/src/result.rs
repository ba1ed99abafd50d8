//! `QueryResult`, and the cursor that continues a page.
//!
//! A cursor is the DAG-CBOR list `[1, query hash, position, skip]`. The position is the sort key
//! of the last entry the page consumed: the encoded sort fields (each in its sort order, absent
//! fields as the missing marker) followed by `E(_id)`. The next page starts strictly after it.
//! `skip` is what is left of the query's skip (a budget can end a page before the skip is used
//! up); with a cursor, the query's own `skip` is ignored. The query
//! hash (blake2b-256 of the query's canonical form without cursor, limit and skip, first 16 bytes)
//! stops a cursor from being replayed against another query.
//!
//! A position names a place in the order, not a snapshot, so a cursor stays valid across roots:
//! on a newer root the next page continues after the same position, and shows what that root
//! holds there.

use ipld_core::ipld::Ipld;
use multihash_codetable::{Code, MultihashDigest};

use prolly_tree::cbor;

use crate::error::Error;
use crate::form::{self, Map};
use crate::query::{FORM_VERSION, Query};

const CURSOR_VERSION: u64 = 1;
const QUERY_HASH_BYTES: usize = 16;
/// Largest accepted cursor.
pub const MAX_CURSOR_BYTES: usize = 4096;
/// Largest result: the documents' encoded bytes. An FVM block holds at most 1 MiB, and a proof
/// envelope carries the query and the result together.
pub const MAX_RESULT_BYTES: usize = 512 * 1024;

/// Why a page ended before the matches did. A page that ends with `None` is the last one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stop {
    /// The page holds `limit` documents.
    Limit,
    /// The query examined its whole budget.
    Budget,
    /// The next document would take the page past the result byte cap.
    Bytes,
}

impl Stop {
    fn name(self) -> &'static str {
        match self {
            Stop::Limit => "limit",
            Stop::Budget => "budget",
            Stop::Bytes => "bytes",
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct QueryResult {
    /// The matching documents (projected), `_id` included, in sort order.
    pub docs: Vec<Ipld>,
    /// For a count query, the number of matches.
    pub count: Option<u64>,
    /// Set when the page ended early; `cursor` then continues it.
    pub stop: Option<Stop>,
    pub cursor: Option<Vec<u8>>,
}

impl QueryResult {
    pub fn to_ipld(&self) -> Ipld {
        let mut map = Map::new();
        map.insert("v".into(), Ipld::Integer(FORM_VERSION.into()));
        if let Some(count) = self.count {
            map.insert("count".into(), Ipld::Integer(count.into()));
        } else {
            map.insert("docs".into(), Ipld::List(self.docs.clone()));
        }
        if let Some(stop) = self.stop {
            map.insert("stop".into(), form::string_value(stop.name()));
        }
        if let Some(cursor) = &self.cursor {
            map.insert("cursor".into(), Ipld::Bytes(cursor.clone()));
        }
        Ipld::Map(map)
    }

    pub fn from_ipld(value: &Ipld) -> Result<QueryResult, Error> {
        const WHAT: &str = "query result";
        let map = form::map(value, &["v", "docs", "count", "stop", "cursor"], WHAT)?;
        if form::unsigned(form::required(map, "v", WHAT)?, WHAT)? != FORM_VERSION {
            return Err(form::malformed(WHAT, "unsupported version"));
        }
        let docs = match map.get("docs") {
            Some(docs) => form::list(docs, WHAT)?.to_vec(),
            None => Vec::new(),
        };
        let count = map
            .get("count")
            .map(|c| form::unsigned(c, WHAT))
            .transpose()?;
        let stop = match map.get("stop") {
            None => None,
            Some(s) => Some(match form::string(s, WHAT)? {
                "limit" => Stop::Limit,
                "budget" => Stop::Budget,
                "bytes" => Stop::Bytes,
                other => return Err(form::malformed(WHAT, format!("unknown stop {other:?}"))),
            }),
        };
        let cursor = match map.get("cursor") {
            None => None,
            Some(cursor) => Some(form::cursor(cursor, WHAT)?),
        };
        Ok(QueryResult {
            docs,
            count,
            stop,
            cursor,
        })
    }

    /// The canonical DAG-CBOR bytes: the actor's return value, byte-identical to what a proof
    /// carries.
    pub fn to_cbor(&self) -> Vec<u8> {
        // Written field by field rather than through `to_ipld`, which would copy every document.
        // Keys in DAG-CBOR order: by length, then bytes.
        let mut out = Vec::new();
        let fields = 2 + usize::from(self.stop.is_some()) + usize::from(self.cursor.is_some());
        cbor::write_head(&mut out, cbor::MAJOR_MAP, fields as u64);
        cbor::write_text(&mut out, "v");
        cbor::write_head(&mut out, cbor::MAJOR_UINT, FORM_VERSION);
        if self.count.is_none() {
            cbor::write_text(&mut out, "docs");
            cbor::write_head(&mut out, cbor::MAJOR_ARRAY, self.docs.len() as u64);
            for doc in &self.docs {
                out.extend_from_slice(crate::query::encode_raw(doc).as_bytes());
            }
        }
        if let Some(stop) = self.stop {
            cbor::write_text(&mut out, "stop");
            cbor::write_text(&mut out, stop.name());
        }
        if let Some(count) = self.count {
            cbor::write_text(&mut out, "count");
            cbor::write_head(&mut out, cbor::MAJOR_UINT, count);
        }
        if let Some(cursor) = &self.cursor {
            cbor::write_text(&mut out, "cursor");
            cbor::write_head(&mut out, cbor::MAJOR_BYTES, cursor.len() as u64);
            out.extend_from_slice(cursor);
        }
        debug_assert_eq!(out, form::to_cbor(&self.to_ipld()));
        out
    }

    pub fn from_cbor(bytes: &[u8]) -> Result<QueryResult, Error> {
        let result = QueryResult::from_ipld(&form::from_cbor(bytes, "query result")?)?;
        form::check_canonical(bytes, &result.to_ipld(), "query result")?;
        Ok(result)
    }

    #[cfg(feature = "json")]
    pub fn to_json(&self) -> String {
        crate::json::with_cursor(self.to_ipld(), self.cursor.as_deref())
    }
}

/// What a cursor is bound to: the query without its page controls.
pub fn query_hash(query: &Query) -> Vec<u8> {
    let mut bound = query.clone();
    bound.cursor = None;
    bound.limit = None;
    bound.skip = 0;
    let digest = Code::Blake2b256.digest(&bound.to_cbor());
    digest.digest()[..QUERY_HASH_BYTES].to_vec()
}

/// Where a page resumes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Resume {
    pub position: Vec<u8>,
    pub skip: u64,
}

pub fn encode_cursor(query: &Query, resume: &Resume) -> Vec<u8> {
    form::to_cbor(&Ipld::List(vec![
        Ipld::Integer(CURSOR_VERSION.into()),
        Ipld::Bytes(query_hash(query)),
        Ipld::Bytes(resume.position.clone()),
        Ipld::Integer(resume.skip.into()),
    ]))
}

/// Where a query's cursor resumes, after checking that the cursor belongs to the query.
pub fn decode_cursor(query: &Query) -> Result<Option<Resume>, Error> {
    let Some(bytes) = &query.cursor else {
        return Ok(None);
    };
    if bytes.len() > MAX_CURSOR_BYTES {
        return Err(Error::BadCursor("too large".into()));
    }
    let value = form::from_cbor(bytes, "cursor").map_err(|e| Error::BadCursor(e.to_string()))?;
    match value {
        Ipld::List(items) if items.len() == 4 => match (&items[0], &items[1], &items[2], &items[3])
        {
            (Ipld::Integer(v), Ipld::Bytes(hash), Ipld::Bytes(position), Ipld::Integer(skip))
                if *v == CURSOR_VERSION as i128 =>
            {
                if *hash != query_hash(query) {
                    return Err(Error::BadCursor("it belongs to another query".into()));
                }
                let skip = u64::try_from(*skip).map_err(|_| Error::BadCursor("bad skip".into()))?;
                Ok(Some(Resume {
                    position: position.clone(),
                    skip,
                }))
            }
            _ => Err(Error::BadCursor("unknown layout".into())),
        },
        _ => Err(Error::BadCursor("unknown layout".into())),
    }
}
