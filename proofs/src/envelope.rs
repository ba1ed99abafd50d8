//! The envelope: the proof's root block, saying what the witness proves.
//!
//! ```text
//! {"v": 1, "kind": "query",    "root": db root,                  "query": bytes, "result": bytes}
//! {"v": 1, "kind": "anchored", "state": state root, "actor": id, "query": bytes, "result": bytes}
//! {"v": 1, "kind": "diff",     "from": db root, "to": db root,   "query": bytes, "result": bytes}
//! {"v": 1, "kind": "actor",    "state": state root, "actor": id, "query": b"", "result": bytes}
//! ```
//! `query` and `result` are the canonical DAG-CBOR bytes of `prolly_db::Query` and
//! `prolly_db::QueryResult` (for a diff: the collection name as the query, the document diff as the
//! result): byte for byte what the actor takes and returns.

use std::collections::BTreeMap;

use cid::Cid;
use ipld_core::ipld::Ipld;
use prolly_tree::RawValue;

use crate::error::VerifyError;

pub const PROOF_VERSION: u64 = 1;

/// Where the proven reading starts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Subject {
    /// A database root.
    Root(Cid),
    /// A Filecoin state root and the ID of the prollydb actor whose state holds the database root.
    Anchored { state: Cid, actor: u64 },
    /// Two database roots.
    Diff { from: Cid, to: Cid },
    /// An actor's entry in a Filecoin state tree (no query; the result is the entry or null).
    Actor { state: Cid, actor: u64 },
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Envelope {
    pub subject: Subject,
    pub query: Vec<u8>,
    pub result: Vec<u8>,
}

impl Envelope {
    pub fn to_ipld(&self) -> Ipld {
        let mut map = BTreeMap::new();
        let mut put = |k: &str, v: Ipld| {
            map.insert(k.to_string(), v);
        };
        put("v", Ipld::Integer(PROOF_VERSION.into()));
        match &self.subject {
            Subject::Root(root) => {
                put("kind", Ipld::String("query".into()));
                put("root", Ipld::Link(*root));
            }
            Subject::Anchored { state, actor } => {
                put("kind", Ipld::String("anchored".into()));
                put("state", Ipld::Link(*state));
                put("actor", Ipld::Integer((*actor).into()));
            }
            Subject::Diff { from, to } => {
                put("kind", Ipld::String("diff".into()));
                put("from", Ipld::Link(*from));
                put("to", Ipld::Link(*to));
            }
            Subject::Actor { state, actor } => {
                put("kind", Ipld::String("actor".into()));
                put("state", Ipld::Link(*state));
                put("actor", Ipld::Integer((*actor).into()));
            }
        }
        put("query", Ipld::Bytes(self.query.clone()));
        put("result", Ipld::Bytes(self.result.clone()));
        Ipld::Map(map)
    }

    /// The canonical bytes, written field by field in DAG-CBOR's key order (the same bytes as
    /// encoding [`Envelope::to_ipld`]): what a prover writes, and what a verifier compares a
    /// proof's envelope with, up to its result ([`Envelope::claimed_result`]).
    pub fn encode(&self) -> Vec<u8> {
        use prolly_tree::cbor::{
            MAJOR_MAP, MAJOR_UINT, write_bytes, write_cid, write_head, write_text,
        };
        enum Field<'a> {
            Uint(u64),
            Text(&'static str),
            Link(&'a Cid),
            Bytes(&'a [u8]),
        }
        let (kind, a, b) = match &self.subject {
            Subject::Root(root) => ("query", ("root", Field::Link(root)), None),
            Subject::Anchored { state, actor } => (
                "anchored",
                ("state", Field::Link(state)),
                Some(("actor", Field::Uint(*actor))),
            ),
            Subject::Diff { from, to } => (
                "diff",
                ("from", Field::Link(from)),
                Some(("to", Field::Link(to))),
            ),
            Subject::Actor { state, actor } => (
                "actor",
                ("state", Field::Link(state)),
                Some(("actor", Field::Uint(*actor))),
            ),
        };
        let mut fields = vec![
            ("v", Field::Uint(PROOF_VERSION)),
            ("kind", Field::Text(kind)),
            ("query", Field::Bytes(&self.query)),
            ("result", Field::Bytes(&self.result)),
            a,
        ];
        fields.extend(b);
        fields.sort_by_key(|(key, _)| (key.len(), *key));
        let mut out = Vec::with_capacity(self.query.len() + self.result.len() + 128);
        write_head(&mut out, MAJOR_MAP, fields.len() as u64);
        for (key, value) in fields {
            write_text(&mut out, key);
            match value {
                Field::Uint(n) => write_head(&mut out, MAJOR_UINT, n),
                Field::Text(text) => write_text(&mut out, text),
                Field::Link(cid) => write_cid(&mut out, cid),
                Field::Bytes(bytes) => write_bytes(&mut out, bytes),
            }
        }
        debug_assert_eq!(
            out,
            RawValue::from_ipld(&self.to_ipld()).unwrap().as_bytes()
        );
        out
    }

    /// The result bytes of `bytes` when `bytes` is exactly the envelope of `subject` and `query`
    /// claiming them; `None` otherwise. "result" is the longest key, so DAG-CBOR writes it last:
    /// the envelope is the same bytes as one claiming nothing, up to that empty byte string's
    /// head, then the result's byte string.
    pub(crate) fn claimed_result<'b>(
        bytes: &'b [u8],
        subject: &Subject,
        query: &[u8],
    ) -> Option<&'b [u8]> {
        let claiming_nothing = Envelope {
            subject: subject.clone(),
            query: query.to_vec(),
            result: Vec::new(),
        }
        .encode();
        let (empty, fields) = claiming_nothing.split_last()?;
        debug_assert_eq!(*empty, 0x40, "the empty result is the last field");
        let rest = bytes.strip_prefix(fields)?;
        // The byte string's head is its length in shortest form: 1, 2, 3, 5 or 9 bytes.
        (1..=9).find_map(|head_len| {
            let len = rest.len().checked_sub(head_len)?;
            let mut head = Vec::with_capacity(9);
            prolly_tree::cbor::write_head(&mut head, prolly_tree::cbor::MAJOR_BYTES, len as u64);
            (head.len() == head_len && rest.starts_with(&head)).then(|| &rest[head_len..])
        })
    }

    /// Reads an envelope block; only its canonical encoding is accepted.
    /// What a proof claims (its root block), read but not verified: a reader learns the result
    /// from it, then verifies the proof against its own root and query.
    pub fn from_proof(proof: &[u8]) -> Result<Envelope, VerifyError> {
        let car = crate::car::read_strict_deferred(proof)?;
        Envelope::decode(car.root_block)
    }

    pub fn decode(bytes: &[u8]) -> Result<Envelope, VerifyError> {
        let bad = |why: &str| VerifyError::malformed(format!("envelope: {why}"));
        let value = RawValue::from_bytes(bytes::Bytes::copy_from_slice(bytes))
            .and_then(|raw| raw.to_ipld())
            .map_err(|e| bad(&e.to_string()))?;
        let Ipld::Map(map) = &value else {
            return Err(bad("not a map"));
        };
        let link = |k: &str| match map.get(k) {
            Some(Ipld::Link(c)) => Ok(*c),
            _ => Err(bad(&format!("{k} is not a link"))),
        };
        let data = |k: &str| match map.get(k) {
            Some(Ipld::Bytes(b)) => Ok(b.clone()),
            _ => Err(bad(&format!("{k} is not bytes"))),
        };
        if map.get("v") != Some(&Ipld::Integer(PROOF_VERSION.into())) {
            return Err(bad("unsupported version"));
        }
        let subject = match map.get("kind") {
            Some(Ipld::String(k)) if k == "query" => Subject::Root(link("root")?),
            Some(Ipld::String(k)) if k == "anchored" => Subject::Anchored {
                state: link("state")?,
                actor: match map.get("actor") {
                    Some(Ipld::Integer(i)) => u64::try_from(*i).map_err(|_| bad("actor id"))?,
                    _ => return Err(bad("actor is not an integer")),
                },
            },
            Some(Ipld::String(k)) if k == "actor" => Subject::Actor {
                state: link("state")?,
                actor: match map.get("actor") {
                    Some(Ipld::Integer(i)) => u64::try_from(*i).map_err(|_| bad("actor id"))?,
                    _ => return Err(bad("actor is not an integer")),
                },
            },
            Some(Ipld::String(k)) if k == "diff" => Subject::Diff {
                from: link("from")?,
                to: link("to")?,
            },
            _ => return Err(bad("unknown kind")),
        };
        let envelope = Envelope {
            subject,
            query: data("query")?,
            result: data("result")?,
        };
        if envelope.encode() != bytes {
            return Err(bad("not canonical (unknown fields, or another encoding)"));
        }
        Ok(envelope)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every length of byte-string head, every kind of subject: the claim read in place is the
    /// claim, and nothing is read from another subject's or query's envelope, or from a byte
    /// more or less.
    #[test]
    fn claimed_results_read_in_place() {
        let a = prolly_tree::cid_of(b"a");
        let b = prolly_tree::cid_of(b"b");
        let subjects = [
            Subject::Root(a),
            Subject::Anchored { state: a, actor: 7 },
            Subject::Diff { from: a, to: b },
            Subject::Actor {
                state: a,
                actor: 300,
            },
        ];
        for subject in &subjects {
            for len in [0, 1, 23, 24, 255, 256, 65_535, 65_536] {
                let result: Vec<u8> = (0..len).map(|i| i as u8).collect();
                let envelope = Envelope {
                    subject: subject.clone(),
                    query: b"q".to_vec(),
                    result: result.clone(),
                };
                let bytes = envelope.encode();
                let read = Envelope::claimed_result(&bytes, subject, b"q");
                assert_eq!(read, Some(&result[..]), "{subject:?}, {len}");
                assert_eq!(Envelope::claimed_result(&bytes, subject, b"p"), None);
                let other = Subject::Root(b);
                assert_eq!(Envelope::claimed_result(&bytes, &other, b"q"), None);
                let mut longer = bytes.clone();
                longer.push(0);
                assert_eq!(Envelope::claimed_result(&longer, subject, b"q"), None);
                assert_eq!(
                    Envelope::claimed_result(&bytes[..bytes.len() - 1], subject, b"q"),
                    None
                );
            }
        }
    }
}
