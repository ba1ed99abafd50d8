//! `QueryResult`: a page of documents (or a count), why it stopped, and the cursor that continues
//! it (`cursor.rs`).

use ipld_core::ipld::Ipld;

use prolly_tree::cbor::{Expect, Sink};

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
        // A guess at the documents' size, rather than growing from nothing.
        let mut out = result_buffer(self.docs.len() * 64, self.cursor.as_deref());
        self.write(&mut out)?;
        debug_assert_eq!(out, form::to_cbor(&self.to_ipld()));
        Some(out)
    }

    /// Whether `bytes` are this result's canonical bytes ([`QueryResult::try_to_cbor`]'s),
    /// compared as they are written rather than written out.
    pub fn is_encoded_as(&self, bytes: &[u8]) -> bool {
        let mut expect = Expect::new(bytes);
        let same = self.write(&mut expect).is_some() && expect.matched();
        debug_assert_eq!(same, self.try_to_cbor().as_deref() == Some(bytes));
        same
    }

    fn write(&self, out: &mut impl Sink) -> Option<()> {
        write_result(
            out,
            self.count,
            self.stop,
            self.cursor.as_deref(),
            self.docs.len(),
            |out| {
                self.docs
                    .iter()
                    .try_for_each(|doc| prolly_tree::cbor::encode_ipld_into(out, doc).ok())
            },
        )
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

/// Writes a result's canonical bytes into `out`, with its keys in DAG-CBOR's order ("v", then
/// "docs" or "stop", "count", "cursor"): verifying a proof compares every result it checks, and
/// the actor returns them. The documents (none for a count) are `write_docs`'s; `None` when it
/// fails.
fn write_result<W: Sink>(
    out: &mut W,
    count: Option<u64>,
    stop: Option<Stop>,
    cursor: Option<&[u8]>,
    docs: usize,
    write_docs: impl FnOnce(&mut W) -> Option<()>,
) -> Option<()> {
    use prolly_tree::cbor::{
        MAJOR_ARRAY, MAJOR_MAP, MAJOR_UINT, write_bytes, write_head, write_text,
    };
    let fields = 2 + usize::from(stop.is_some()) + usize::from(cursor.is_some());
    write_head(out, MAJOR_MAP, fields as u64);
    write_text(out, "v");
    write_head(out, MAJOR_UINT, FORM_VERSION);
    if count.is_none() {
        write_text(out, "docs");
        write_head(out, MAJOR_ARRAY, docs as u64);
        write_docs(out)?;
    }
    if let Some(stop) = stop {
        write_text(out, "stop");
        write_text(out, stop.name());
    }
    if let Some(count) = count {
        write_text(out, "count");
        write_head(out, MAJOR_UINT, count);
    }
    if let Some(cursor) = cursor {
        write_text(out, "cursor");
        write_bytes(out, cursor);
    }
    Some(())
}

/// A buffer for a result of about `docs_bytes` of documents: the fields around them take at most
/// 64 bytes, and the cursor's.
fn result_buffer(docs_bytes: usize, cursor: Option<&[u8]>) -> Vec<u8> {
    Vec::with_capacity(64 + docs_bytes + cursor.map_or(0, <[u8]>::len))
}

/// A result as the executor makes it: its documents' canonical bytes, one after another, with
/// the value of each that the executor had decoded anyway. Its bytes ([`EncodedResult::to_cbor`])
/// are the actor's return value and what a proof's verifier compares. A stored document returned
/// whole and read by no filter is never decoded on the way: its `_id` is spliced into its bytes
/// ([`RawValue::write_with_entry`]).
#[derive(Debug, Clone)]
pub struct EncodedResult {
    docs: ResultDocs,
    pub count: Option<u64>,
    pub stop: Option<Stop>,
    pub cursor: Option<Vec<u8>>,
}

/// Result documents written one after another into one buffer (a document apiece cost the
/// verifier of a 1,000-document range an allocation each).
#[derive(Debug, Clone, Default)]
pub(crate) struct ResultDocs {
    bytes: Vec<u8>,
    /// Where each document ends in `bytes`, and its value if the executor had it.
    docs: Vec<(usize, Option<Ipld>)>,
}

impl ResultDocs {
    /// Room for `docs` documents of a guessed size, rather than growing the buffer from nothing
    /// (several reallocations and copies for a page of 32 small ones).
    pub fn for_page(docs: usize) -> Self {
        ResultDocs {
            bytes: Vec::with_capacity(docs * 64),
            docs: Vec::with_capacity(docs),
        }
    }

    pub fn len(&self) -> usize {
        self.docs.len()
    }

    /// The documents' bytes, all together.
    pub fn bytes_len(&self) -> usize {
        self.bytes.len()
    }

    /// Appends the document that `write` writes at the end of the buffer (returning its value if
    /// it has it). A failed write leaves nothing behind.
    pub fn push(
        &mut self,
        write: impl FnOnce(&mut Vec<u8>) -> Result<Option<Ipld>, Error>,
    ) -> Result<(), Error> {
        let start = self.bytes.len();
        match write(&mut self.bytes) {
            Ok(value) => {
                self.docs.push((self.bytes.len(), value));
                Ok(())
            }
            Err(e) => {
                self.bytes.truncate(start);
                Err(e)
            }
        }
    }

    /// Takes back the last document.
    pub fn pop(&mut self) {
        self.docs.pop();
        self.bytes
            .truncate(self.docs.last().map_or(0, |(end, _)| *end));
    }
}

impl EncodedResult {
    pub(crate) fn new(
        docs: ResultDocs,
        count: Option<u64>,
        stop: Option<Stop>,
        cursor: Option<Vec<u8>>,
    ) -> EncodedResult {
        EncodedResult {
            docs,
            count,
            stop,
            cursor,
        }
    }

    /// Documents in the result.
    pub fn len(&self) -> usize {
        self.docs.len()
    }

    pub fn is_empty(&self) -> bool {
        self.docs.docs.is_empty()
    }

    /// The same bytes as [`QueryResult::to_cbor`] of [`EncodedResult::decode`]'s result.
    pub fn to_cbor(&self) -> Vec<u8> {
        let mut out = result_buffer(self.docs.bytes.len(), self.cursor.as_deref());
        self.write(&mut out);
        out
    }

    /// Whether `bytes` are [`EncodedResult::to_cbor`]'s, compared in place.
    pub fn is_encoded_as(&self, bytes: &[u8]) -> bool {
        let mut expect = Expect::new(bytes);
        self.write(&mut expect);
        debug_assert_eq!(expect.matched(), self.to_cbor() == bytes);
        expect.matched()
    }

    fn write(&self, out: &mut impl Sink) {
        write_result(
            out,
            self.count,
            self.stop,
            self.cursor.as_deref(),
            self.docs.len(),
            |out| {
                out.put(&self.docs.bytes);
                Some(())
            },
        )
        .expect("writing raw documents cannot fail");
    }

    /// The result with its documents as IPLD, decoding those the executor did not hold.
    pub fn decode(self) -> Result<QueryResult, Error> {
        let ResultDocs { bytes, docs } = self.docs;
        let bytes = prolly_tree::Bytes::from(bytes);
        let mut start = 0;
        let mut values = Vec::with_capacity(docs.len());
        for (end, value) in docs {
            values.push(match value {
                Some(value) => value,
                None => prolly_tree::decode_ipld_bytes(bytes.slice(start..end))
                    .map_err(|e| Error::corrupt("result document", e))?,
            });
            start = end;
        }
        Ok(QueryResult {
            docs: values,
            count: self.count,
            stop: self.stop,
            cursor: self.cursor,
        })
    }
}
