//! `QueryResult`: a page of documents (or a count), why it stopped, and the cursor that continues
//! it (`cursor.rs`).

use ipld_core::ipld::Ipld;

use crate::error::Error;
use crate::form::{self, FORM_VERSION, Map};

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
    /// carries. A result holding what DAG-CBOR cannot (an integer beyond 64 bits: only a result
    /// built by hand can) panics; [`QueryResult::try_to_cbor`] says so instead.
    pub fn to_cbor(&self) -> Vec<u8> {
        self.try_to_cbor()
            .expect("documents read back always encode")
    }

    /// [`QueryResult::to_cbor`], or `None` for a result DAG-CBOR cannot hold.
    pub fn try_to_cbor(&self) -> Option<Vec<u8>> {
        use prolly_tree::cbor::{
            MAJOR_ARRAY, MAJOR_MAP, MAJOR_UINT, encode_ipld_into, write_bytes, write_head,
            write_text,
        };
        // Written straight into one buffer, keys in DAG-CBOR's order ("v", then "docs" or
        // "stop", "count", "cursor"): verifying a proof encodes every result it checks.
        let mut out = Vec::with_capacity(64);
        let fields = 2 + usize::from(self.stop.is_some()) + usize::from(self.cursor.is_some());
        write_head(&mut out, MAJOR_MAP, fields as u64);
        write_text(&mut out, "v");
        write_head(&mut out, MAJOR_UINT, FORM_VERSION);
        if self.count.is_none() {
            write_text(&mut out, "docs");
            write_head(&mut out, MAJOR_ARRAY, self.docs.len() as u64);
            for doc in &self.docs {
                encode_ipld_into(&mut out, doc).ok()?;
            }
        }
        if let Some(stop) = self.stop {
            write_text(&mut out, "stop");
            write_text(&mut out, stop.name());
        }
        if let Some(count) = self.count {
            write_text(&mut out, "count");
            write_head(&mut out, MAJOR_UINT, count);
        }
        if let Some(cursor) = &self.cursor {
            write_text(&mut out, "cursor");
            write_bytes(&mut out, cursor);
        }
        debug_assert_eq!(out, form::to_cbor(&self.to_ipld()));
        Some(out)
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
