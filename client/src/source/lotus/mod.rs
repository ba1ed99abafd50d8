//! A Lotus (or Forest) node over JSON-RPC v1 (PROTOCOLS A): blocks by `Filecoin.ChainReadObj`,
//! a whole frontier in one batch request (one HTTP round trip), and an actor's database root by
//! `Filecoin.ChainHead` then `Filecoin.StateGetActor`.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use cid::Cid;
use data_encoding::BASE64;
use futures::future::BoxFuture;
use serde_json::{Value, json};

use super::http::{client, read_capped, transport};
use super::{BlockSource, FetchError, Fetched};

mod messages;

pub use messages::{ActorEvent, EventEntry, Lookup, Receipt};

/// A JSON-RPC answer is at most this big (a batch of blocks, base64).
const MAX_RESPONSE_BYTES: usize = 256 << 20;

pub struct LotusSource {
    url: String,
    token: Option<String>,
    client: reqwest::Client,
    next_id: AtomicU64,
}

/// The tipset at the head of the chain.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TipSet {
    pub cids: Vec<Cid>,
    pub height: i64,
    /// The state the tipset's messages ran on (what `StateGetActor` on it reads).
    pub parent_state_root: Cid,
}

/// An actor, as `StateGetActor` gives it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Actor {
    pub code: Cid,
    pub head: Cid,
    pub nonce: u64,
}

/// A prollydb actor's database root, read through a node.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ActorRoot {
    pub db_root: Cid,
    /// The state root it was read at: the head tipset's parent state.
    pub state_root: Cid,
    pub height: i64,
}

/// An endpoint in either form a Lotus user has: `FULLNODE_API_INFO`
/// (`token:/ip4/127.0.0.1/tcp/1234/http`, the token optional) or a URL (`http://host:1234`, the
/// path defaulting to `/rpc/v1`). Returns the URL and the token.
pub fn parse_endpoint(text: &str) -> Result<(String, Option<String>), FetchError> {
    let bad = |why: &str| FetchError::Malformed(format!("endpoint {text:?}: {why}"));
    if text.starts_with("http://") || text.starts_with("https://") {
        let (scheme, rest) = text.split_once("://").unwrap_or_default();
        let url = if rest.contains('/') {
            text.to_string()
        } else {
            format!("{scheme}://{rest}/rpc/v1")
        };
        return Ok((url, None));
    }
    let (token, addr) = match text.split_once(':') {
        Some((token, addr)) if !text.starts_with('/') => (Some(token.to_string()), addr),
        _ => (None, text),
    };
    let parts: Vec<&str> = addr.trim_matches('/').split('/').collect();
    let [proto, host, "tcp", port, scheme] = parts[..] else {
        return Err(bad("expected /ip4|ip6|dns/HOST/tcp/PORT/http|https"));
    };
    let host = match proto {
        "ip4" | "dns" | "dns4" | "dns6" => host.to_string(),
        "ip6" => format!("[{host}]"),
        _ => return Err(bad("unknown address protocol")),
    };
    if !matches!(scheme, "http" | "https") || port.parse::<u16>().is_err() {
        return Err(bad("expected a port and http or https"));
    }
    Ok((format!("{scheme}://{host}:{port}/rpc/v1"), token))
}

fn cid_json(cid: &Cid) -> Value {
    json!({ "/": cid.to_string() })
}

fn cid_from(value: &Value) -> Result<Cid, FetchError> {
    value
        .get("/")
        .and_then(Value::as_str)
        .and_then(|s| Cid::try_from(s).ok())
        .ok_or_else(|| FetchError::Malformed(format!("expected a CID {{\"/\": ...}}, got {value}")))
}

/// A method's error object as a `FetchError`.
fn rpc_error(error: &Value) -> FetchError {
    let code = error.get("code").and_then(Value::as_i64).unwrap_or(0);
    let message = error
        .get("message")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_string();
    FetchError::Rpc { code, message }
}

/// Whether a method error says what it asked for does not exist (Lotus gives code 1 with a
/// message: `blockstore get: ipld: could not find <cid>`, `...: actor not found`).
fn says_not_found(error: &FetchError) -> bool {
    matches!(error, FetchError::Rpc { code: 1, message }
        if message.contains("could not find") || message.contains("not found"))
}

impl LotusSource {
    /// A node at `endpoint` ([`parse_endpoint`]), with `timeout` per request.
    pub fn new(endpoint: &str, timeout: Duration) -> Result<LotusSource, FetchError> {
        let (url, token) = parse_endpoint(endpoint)?;
        Ok(LotusSource {
            url,
            token,
            client: client(timeout)?,
            next_id: AtomicU64::new(1),
        })
    }

    pub fn url(&self) -> &str {
        &self.url
    }

    /// Sends `calls` as one JSON-RPC batch; one answer per call, in order.
    async fn batch(
        &self,
        calls: &[(&str, Value)],
    ) -> Result<Vec<Result<Value, FetchError>>, FetchError> {
        self.batch_within(calls, None).await
    }

    /// [`Self::batch`], with a timeout other than the source's (a call that blocks on the chain).
    async fn batch_within(
        &self,
        calls: &[(&str, Value)],
        timeout: Option<Duration>,
    ) -> Result<Vec<Result<Value, FetchError>>, FetchError> {
        let first = self
            .next_id
            .fetch_add(calls.len() as u64, Ordering::Relaxed);
        let body: Vec<Value> = calls
            .iter()
            .enumerate()
            .map(|(i, (method, params))| {
                json!({"jsonrpc": "2.0", "method": method, "params": params, "id": first + i as u64})
            })
            .collect();
        let body = serde_json::to_vec(&body).map_err(|e| FetchError::Malformed(e.to_string()))?;
        let mut request = self
            .client
            .post(&self.url)
            .header(reqwest::header::CONTENT_TYPE, "application/json")
            .body(body);
        if let Some(token) = &self.token {
            request = request.bearer_auth(token);
        }
        if let Some(timeout) = timeout {
            request = request.timeout(timeout);
        }
        let response = request.send().await.map_err(transport)?;
        let status = response.status().as_u16();
        if status == 401 {
            return Err(FetchError::Unauthorized);
        }
        let bytes = read_capped(response, MAX_RESPONSE_BYTES).await?;
        let answer: Value = serde_json::from_slice(&bytes).map_err(|e| {
            if status == 200 {
                FetchError::Malformed(format!("not JSON: {e}"))
            } else {
                FetchError::Status(status)
            }
        })?;
        let answers = match answer {
            Value::Array(items) => items,
            // One error object for the whole batch (a parse error, say).
            Value::Object(ref map) if map.contains_key("error") => {
                let error = rpc_error(&map["error"]);
                return Ok(calls.iter().map(|_| Err(error.clone())).collect());
            }
            other => {
                return Err(FetchError::Malformed(format!(
                    "expected a batch answer, got {other}"
                )));
            }
        };
        let mut out: Vec<Result<Value, FetchError>> =
            calls.iter().map(|_| Err(FetchError::Unanswered)).collect();
        for item in answers {
            let Some(slot) = item
                .get("id")
                .and_then(Value::as_u64)
                .and_then(|id| id.checked_sub(first))
                .and_then(|i| out.get_mut(i as usize))
            else {
                continue;
            };
            *slot = match (item.get("error"), item.get("result")) {
                (Some(error), _) => Err(rpc_error(error)),
                (None, Some(result)) => Ok(result.clone()),
                (None, None) => Err(FetchError::Malformed(
                    "an answer with neither result nor error".into(),
                )),
            };
        }
        Ok(out)
    }

    async fn call(&self, method: &str, params: Value) -> Result<Value, FetchError> {
        self.call_within(method, params, None).await
    }

    async fn call_within(
        &self,
        method: &str,
        params: Value,
        timeout: Option<Duration>,
    ) -> Result<Value, FetchError> {
        self.batch_within(&[(method, params)], timeout)
            .await?
            .pop()
            .unwrap_or(Err(FetchError::Unanswered))
    }

    /// `Filecoin.Version`: the node's version string (a probe that this is a Lotus endpoint).
    pub async fn version(&self) -> Result<String, FetchError> {
        let answer = self.call("Filecoin.Version", json!([])).await?;
        answer
            .get("Version")
            .and_then(Value::as_str)
            .map(str::to_string)
            .ok_or_else(|| FetchError::Malformed(format!("Version: {answer}")))
    }

    /// `Filecoin.ChainHead`.
    pub async fn chain_head(&self) -> Result<TipSet, FetchError> {
        let head = self.call("Filecoin.ChainHead", json!([])).await?;
        let malformed = || FetchError::Malformed(format!("ChainHead: {head}"));
        let cids = head
            .get("Cids")
            .and_then(Value::as_array)
            .ok_or_else(malformed)?
            .iter()
            .map(cid_from)
            .collect::<Result<Vec<_>, _>>()?;
        let height = head
            .get("Height")
            .and_then(Value::as_i64)
            .ok_or_else(malformed)?;
        let parent_state_root = head
            .get("Blocks")
            .and_then(|b| b.get(0))
            .and_then(|b| b.get("ParentStateRoot"))
            .ok_or_else(malformed)
            .and_then(cid_from)?;
        Ok(TipSet {
            cids,
            height,
            parent_state_root,
        })
    }

    /// `Filecoin.StateGetActor` for actor ID `id` at `tipset` (its parent state, as Lotus reads).
    pub async fn state_get_actor(&self, id: u64, tipset: &[Cid]) -> Result<Actor, FetchError> {
        let tsk: Vec<Value> = tipset.iter().map(cid_json).collect();
        let actor = match self
            .call("Filecoin.StateGetActor", json!([format!("f0{id}"), tsk]))
            .await
        {
            Err(e) if says_not_found(&e) => return Err(FetchError::NoActor(id)),
            other => other?,
        };
        let field = |name: &str| {
            actor.get(name).ok_or_else(|| {
                FetchError::Malformed(format!("StateGetActor: no {name} in {actor}"))
            })
        };
        Ok(Actor {
            code: cid_from(field("Code")?)?,
            head: cid_from(field("Head")?)?,
            nonce: field("Nonce")?.as_u64().unwrap_or(0),
        })
    }

    /// The database root prollydb actor `id` holds at the chain's head, with the state root it
    /// was read at. The node is trusted for which head and which actor state (the state block
    /// itself is hash-checked); an anchored proof at `state_root` removes that trust.
    pub async fn actor_root(&self, id: u64) -> Result<ActorRoot, FetchError> {
        let head = self.chain_head().await?;
        let actor = self.state_get_actor(id, &head.cids).await?;
        let fetched = super::fetch_checked(self, &[actor.head]).await;
        let state = fetched
            .into_iter()
            .next()
            .map(|(_, r)| r)
            .unwrap_or(Err(FetchError::Unanswered))?;
        let value = prolly_tree::decode_ipld(&state)
            .map_err(|e| FetchError::Malformed(format!("actor {id}'s state: {e}")))?;
        let db_root = prolly_proofs::state_db_root(id, &value)
            .map_err(|e| FetchError::Malformed(e.to_string()))?;
        Ok(ActorRoot {
            db_root,
            state_root: head.parent_state_root,
            height: head.height,
        })
    }
}

impl BlockSource for LotusSource {
    fn name(&self) -> &str {
        &self.url
    }

    /// One batch of `Filecoin.ChainReadObj`, one HTTP round trip.
    fn fetch<'a>(&'a self, cids: &'a [Cid]) -> BoxFuture<'a, Vec<Fetched>> {
        Box::pin(async move {
            let calls: Vec<(&str, Value)> = cids
                .iter()
                .map(|c| ("Filecoin.ChainReadObj", json!([cid_json(c)])))
                .collect();
            match self.batch(&calls).await {
                Ok(answers) => cids
                    .iter()
                    .zip(answers)
                    .map(|(cid, answer)| {
                        let answer = answer.map_err(|e| {
                            if says_not_found(&e) {
                                FetchError::NotFound
                            } else {
                                e
                            }
                        });
                        let bytes = answer.and_then(|v| match v.as_str() {
                            Some(text) => BASE64
                                .decode(text.as_bytes())
                                .map_err(|e| FetchError::Malformed(format!("base64: {e}"))),
                            None => Err(FetchError::Malformed(format!("expected base64, got {v}"))),
                        });
                        (*cid, bytes)
                    })
                    .collect(),
                Err(e) => cids.iter().map(|c| (*c, Err(e.clone()))).collect(),
            }
        })
    }
}
