//! The verified-query endpoint's request (SPEC section 22), shared by the client and the server:
//! `POST /prollydb/v1/query` with a DAG-CBOR body `{"root": cid, "query": q}` or
//! `{"state": cid, "actor": id, "query": q}`, `q` in the canonical form of SPEC section 15. The
//! answer is the proof CAR.

use std::collections::BTreeMap;

use cid::Cid;
use ipld_core::ipld::Ipld;
use prolly_db::Query;
use prolly_tree::RawValue;

/// The path of the endpoint.
pub const QUERY_PATH: &str = "/prollydb/v1/query";
/// The path a prollydb node answers to say what it is (the CLI probes it).
pub const INFO_PATH: &str = "/prollydb/v1";
/// The request's content type, and the answer's.
pub const DAG_CBOR_TYPE: &str = "application/vnd.ipld.dag-cbor";
pub const CAR_TYPE: &str = "application/vnd.ipld.car; version=1";

/// What a query is asked of.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum At {
    /// A database root.
    Root(Cid),
    /// The database prollydb actor `actor` holds in Filecoin state `state` (SPEC section 19).
    Anchored { state: Cid, actor: u64 },
}

/// A verified query, as sent.
#[derive(Debug, Clone, PartialEq)]
pub struct QueryRequest {
    pub at: At,
    pub query: Query,
}

/// Why a request body is not a query request.
#[derive(Debug, thiserror::Error)]
#[error("not a query request: {0}")]
pub struct BadRequest(pub String);

impl QueryRequest {
    pub fn encode(&self) -> Vec<u8> {
        let mut map = BTreeMap::new();
        match self.at {
            At::Root(root) => {
                map.insert("root".to_string(), Ipld::Link(root));
            }
            At::Anchored { state, actor } => {
                map.insert("state".to_string(), Ipld::Link(state));
                map.insert("actor".to_string(), Ipld::Integer(actor.into()));
            }
        }
        map.insert("query".to_string(), self.query.to_ipld());
        RawValue::from_ipld(&Ipld::Map(map))
            .expect("a query request encodes")
            .as_bytes()
            .to_vec()
    }

    pub fn decode(bytes: &[u8]) -> Result<QueryRequest, BadRequest> {
        let bad = |why: String| BadRequest(why);
        let value = prolly_tree::decode_ipld(bytes).map_err(|e| bad(format!("DAG-CBOR: {e}")))?;
        let Ipld::Map(map) = value else {
            return Err(bad("the body is not a map".into()));
        };
        if let Some(key) = map
            .keys()
            .find(|k| !matches!(k.as_str(), "root" | "state" | "actor" | "query"))
        {
            return Err(bad(format!("unknown key {key:?}")));
        }
        let at = match (map.get("root"), map.get("state"), map.get("actor")) {
            (Some(Ipld::Link(root)), None, None) => At::Root(*root),
            (None, Some(Ipld::Link(state)), Some(Ipld::Integer(actor))) => At::Anchored {
                state: *state,
                actor: u64::try_from(*actor).map_err(|_| bad("actor out of range".into()))?,
            },
            _ => {
                return Err(bad(
                    "expected \"root\": CID, or \"state\": CID and \"actor\": ID".into(),
                ));
            }
        };
        let query = map
            .get("query")
            .ok_or_else(|| bad("no \"query\"".into()))
            .and_then(|q| Query::from_ipld(q).map_err(|e| bad(e.to_string())))?;
        Ok(QueryRequest { at, query })
    }
}
