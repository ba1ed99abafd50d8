//! The devnet's Lotus JSON-RPC v1 methods (PROTOCOLS A4), with Lotus's permissions, parameter
//! checks, result shapes and error messages. The envelope (batches, codes, statuses, tokens) is
//! `prolly_client`'s, shared with every prollydb node.

use std::sync::Arc;

use cid::Cid;
use futures::future::BoxFuture;
use fvm_shared::ActorID;
use fvm_shared::address::Address;
use prolly_client::Store;
use prolly_client::server::rpc::{
    API_VERSION, BlockMethods, Perm, RpcError, RpcMethods, Unauthorized,
};
use serde_json::{Value, json};

use crate::auth::Auth;
use crate::chain::{Chain, Location, Tipset};
use crate::header::tipset_json;
use crate::json;
use crate::message::parse_message;
use crate::node::{Mining, Node, Waited};

/// StateWaitMsg's confidence cap (Lotus's ChainFinality).
const MAX_CONFIDENCE: u64 = 900;
/// GetActorEventsRaw's range and result caps (Lotus's defaults).
const MAX_EVENT_RANGE: i64 = 2880;
const MAX_EVENT_RESULTS: usize = 10_000;
/// Lotus's EActorNotFound.
const E_ACTOR_NOT_FOUND: i64 = 11;

pub struct Methods {
    pub node: Arc<Node>,
    pub auth: Auth,
    pub blocks: BlockMethods<Store>,
}

/// Each method's permission (api/api_full.go's `perm:` tags).
fn permission(method: &str) -> Option<Perm> {
    Some(match method {
        "Filecoin.Version"
        | "Filecoin.ChainHead"
        | "Filecoin.ChainGetTipSet"
        | "Filecoin.ChainGetTipSetByHeight"
        | "Filecoin.StateGetActor"
        | "Filecoin.StateLookupID"
        | "Filecoin.ChainReadObj"
        | "Filecoin.ChainHasObj"
        | "Filecoin.StateWaitMsg"
        | "Filecoin.GetActorEventsRaw" => Perm::Read,
        "Filecoin.WalletDefaultAddress" | "Filecoin.WalletList" => Perm::Write,
        "Filecoin.MpoolPushMessage" => Perm::Sign,
        _ => return None,
    })
}

fn param<T>(method: &str, index: usize, parsed: Result<T, String>) -> Result<T, RpcError> {
    parsed.map_err(|why| RpcError::param(method, index, why))
}

fn internal(e: impl std::fmt::Display) -> RpcError {
    RpcError::method(format!("{e:#}"))
}

/// The tipset a key names; Lotus's messages when it names none.
fn find_tipset<'c>(chain: &'c Chain, key: &[Cid]) -> Result<&'c Tipset, RpcError> {
    chain.tipset(key).ok_or_else(|| {
        let cid = key
            .iter()
            .find(|c| chain.tipset(&[**c]).is_none())
            .unwrap_or(&key[0]);
        RpcError::method(format!("get block {cid}: ipld: could not find {cid}"))
    })
}

fn actor_not_found(address: &str) -> RpcError {
    RpcError::method(format!(
        "resolution lookup failed ({address}): resolve address {address}: actor not found"
    ))
}

impl RpcMethods for Methods {
    fn permission(&self, token: Option<&str>) -> Result<Perm, Unauthorized> {
        match token {
            None => Ok(Perm::Read),
            Some(token) => self.auth.verify(token).ok_or(Unauthorized),
        }
    }

    fn call<'a>(
        &'a self,
        method: &'a str,
        params: &'a [Value],
        granted: Perm,
    ) -> BoxFuture<'a, Result<Value, RpcError>> {
        Box::pin(async move {
            let Some(needed) = permission(method) else {
                return Err(RpcError::unknown_method(method));
            };
            let count = match method {
                "Filecoin.Version"
                | "Filecoin.ChainHead"
                | "Filecoin.WalletDefaultAddress"
                | "Filecoin.WalletList" => 0,
                "Filecoin.ChainGetTipSet"
                | "Filecoin.ChainReadObj"
                | "Filecoin.ChainHasObj"
                | "Filecoin.GetActorEventsRaw" => 1,
                "Filecoin.StateWaitMsg" => 4,
                _ => 2,
            };
            RpcError::expect_params(method, params, count)?;
            RpcError::require(granted, method, needed)?;
            if let Some(answer) = self.blocks.call_block(method, params) {
                return answer;
            }
            self.run(method, params).await
        })
    }
}

impl Methods {
    async fn run(&self, method: &str, params: &[Value]) -> Result<Value, RpcError> {
        match method {
            "Filecoin.MpoolPushMessage" => {
                let message = param(method, 0, parse_message(&params[0]))?;
                if !(params[1].is_null() || params[1].is_object()) {
                    return Err(RpcError::param(
                        method,
                        1,
                        "expected a MessageSendSpec or null",
                    ));
                }
                match self.node.push(message).await.map_err(internal)? {
                    Ok(signed) => Ok(signed.to_json()),
                    Err(refused) => Err(RpcError::method(refused.0)),
                }
            }
            "Filecoin.StateWaitMsg" => self.wait(method, params).await,
            _ => {
                // Reads take the chain's lock, which mining holds while the FVM runs: off the
                // async threads.
                let (method, params) = (method.to_string(), params.to_vec());
                let mining = self.node.mining();
                self.node
                    .read(move |chain| read(chain, mining, &method, &params))
                    .await
                    .map_err(internal)?
            }
        }
    }
}

/// The methods that only read the chain.
fn read(chain: &Chain, mining: Mining, method: &str, params: &[Value]) -> Result<Value, RpcError> {
    match method {
        "Filecoin.Version" => Ok(json!({
            "Version": concat!("prollydb-devnet/", env!("CARGO_PKG_VERSION")),
            "APIVersion": API_VERSION,
            "BlockDelay": match mining {
                Mining::Instant => 0,
                Mining::Every(period) => period.as_secs(),
            },
            "Agent": "prollydb-devnet",
        })),
        "Filecoin.ChainHead" => {
            let head = chain.head();
            Ok(tipset_json(&head.cid, &head.header))
        }
        "Filecoin.ChainGetTipSet" => {
            let key = param(method, 0, json::parse_tipset_key(&params[0]))?;
            if key.is_empty() {
                return Err(RpcError::method(
                    "NewTipSet called with zero length array of blocks",
                ));
            }
            let tipset = find_tipset(chain, &key)?;
            Ok(tipset_json(&tipset.cid, &tipset.header))
        }
        "Filecoin.ChainGetTipSetByHeight" => {
            let height = param(
                method,
                0,
                params[0]
                    .as_i64()
                    .ok_or_else(|| format!("expected an epoch, got {}", params[0])),
            )?;
            let key = param(method, 1, json::parse_tipset_key(&params[1]))?;
            let from = find_tipset(chain, &key)?;
            if height < 0 {
                return Err(RpcError::method(format!("height {height} is negative")));
            }
            if height > from.height() {
                return Err(RpcError::method(format!(
                    "looking for tipset with height greater than start point, req: {height}, head: {}",
                    from.height()
                )));
            }
            let tipset = chain
                .tipset_at(height)
                .expect("every height up to the head");
            Ok(tipset_json(&tipset.cid, &tipset.header))
        }
        "Filecoin.StateGetActor" | "Filecoin.StateLookupID" => {
            let text = param(
                method,
                0,
                params[0]
                    .as_str()
                    .ok_or_else(|| format!("expected an address, got {}", params[0])),
            )?;
            let address = param(method, 0, json::parse_address(text))?;
            let key = param(method, 1, json::parse_tipset_key(&params[1]))?;
            // The tipset's parent state: what its messages ran on (Lotus reads the same).
            let state = find_tipset(chain, &key)?.header.parent_state_root;
            let found = chain.actor(&state, &address).map_err(internal)?;
            let text = json::address(&address);
            match (method, found) {
                ("Filecoin.StateLookupID", Some((id, _))) => {
                    Ok(Value::String(json::address(&Address::new_id(id))))
                }
                ("Filecoin.StateLookupID", None) => Err(RpcError {
                    code: E_ACTOR_NOT_FOUND,
                    message: "actor not found".into(),
                }),
                (_, Some((_, actor))) => Ok(json!({
                    "Code": json::cid(&actor.code),
                    "Head": json::cid(&actor.state),
                    "Nonce": actor.sequence,
                    "Balance": json::tokens(&actor.balance),
                    "DelegatedAddress": actor.delegated_address.as_ref().map(json::address),
                })),
                (_, None) => Err(actor_not_found(&text)),
            }
        }
        "Filecoin.WalletDefaultAddress" => {
            Ok(Value::String(json::address(&chain.accounts()[0].address)))
        }
        "Filecoin.WalletList" => Ok(Value::Array(
            chain
                .accounts()
                .iter()
                .map(|a| Value::String(json::address(&a.address)))
                .collect(),
        )),
        "Filecoin.GetActorEventsRaw" => events(chain, method, &params[0]),
        _ => Err(RpcError::unknown_method(method)),
    }
}

impl Methods {
    async fn wait(&self, method: &str, params: &[Value]) -> Result<Value, RpcError> {
        let cid = param(method, 0, json::parse_cid(&params[0]))?;
        let confidence = param(
            method,
            1,
            params[1]
                .as_u64()
                .ok_or_else(|| format!("expected a confidence, got {}", params[1])),
        )?;
        param(
            method,
            2,
            params[2]
                .as_i64()
                .ok_or_else(|| format!("expected an epoch, got {}", params[2])),
        )?;
        param(
            method,
            3,
            params[3]
                .as_bool()
                .ok_or_else(|| format!("expected a bool, got {}", params[3])),
        )?;
        if confidence > MAX_CONFIDENCE {
            return Err(RpcError::method(format!(
                "message confidence exceeds maximum: {confidence} > {MAX_CONFIDENCE}"
            )));
        }
        let (location, executed_at) =
            match self.node.wait(cid, confidence).await.map_err(internal)? {
                Waited::Found {
                    location,
                    executed_at,
                } => (location, executed_at),
                Waited::Unknown => {
                    return Err(RpcError::method(format!(
                        "failed to load message: ipld: could not find {cid}"
                    )));
                }
            };
        self.node
            .read(move |chain| lookup(chain, location, executed_at))
            .await
            .map_err(internal)
    }
}

/// `MsgLookup` of the message at `location`, executed in the tipset at `executed_at`.
fn lookup(chain: &Chain, location: Location, executed_at: i64) -> Value {
    let included = chain
        .tipset_at(location.height)
        .expect("a located message's tipset");
    let execution = chain
        .tipset_at(executed_at)
        .expect("waited for its execution");
    let message = &included.messages[location.index];
    let receipt = &included.executed[location.index].receipt;
    let returned = receipt.return_data.bytes();
    let decoded = if receipt.exit_code.is_success() && !returned.is_empty() {
        json::bytes(returned)
    } else {
        Value::Null
    };
    json!({
        "Message": json::cid(&message.cid),
        "Receipt": {
            "ExitCode": receipt.exit_code.value(),
            "Return": json::bytes(returned),
            "GasUsed": receipt.gas_used,
            "EventsRoot": receipt.events_root.as_ref().map(json::cid),
        },
        "ReturnDec": decoded,
        "TipSet": json::tipset_key(&[execution.cid]),
        "Height": execution.height(),
    })
}

/// Events of executed messages whose inclusion tipset lies in the filter's range (PROTOCOLS
/// A4.8). Heights and tipset keys are the including tipset's.
fn events(chain: &Chain, method: &str, filter: &Value) -> Result<Value, RpcError> {
    // A missing bound is the head (Lotus's "latest"); a tipset's events are served once the
    // next tipset carries its receipts.
    let head = chain.head().height();
    let latest = head - 1;
    let bad = |why: String| RpcError::method(why);
    let height = |name: &str| -> Result<Option<i64>, RpcError> {
        match json::field(filter, name) {
            None | Some(Value::Null) => Ok(None),
            Some(v) => param(
                method,
                0,
                v.as_i64()
                    .ok_or_else(|| format!("{name}: expected an epoch")),
            )
            .map(Some),
        }
    };
    let (from, to) = (height("fromHeight")?, height("toHeight")?);
    let key = match json::field(filter, "tipsetKey") {
        None | Some(Value::Null) => Vec::new(),
        Some(v) => param(method, 0, json::parse_tipset_key(v))?,
    };
    let (from, to) = if key.is_empty() {
        if from.is_some_and(|f| f < 0) {
            return Err(bad("range 'from' must be greater than or equal to 0".into()));
        }
        let (from, to) = (from.unwrap_or(head), to.unwrap_or(head));
        if to < from {
            return Err(bad(format!(
                "invalid epoch range: 'to' height ({to}) must be after 'from' height ({from})"
            )));
        }
        if to.saturating_sub(from) > MAX_EVENT_RANGE {
            return Err(bad(format!(
                "invalid epoch range: 'to' height ({to}) must be within {MAX_EVENT_RANGE} epochs of 'from' height ({from})"
            )));
        }
        (from, to)
    } else {
        if from.is_some() || to.is_some() {
            return Err(bad(
                "cannot specify both TipSetKey and FromHeight/ToHeight".into()
            ));
        }
        let tipset = find_tipset(chain, &key)?;
        (tipset.height(), tipset.height())
    };
    let addresses: Vec<ActorID> = match json::field(filter, "addresses") {
        None | Some(Value::Null) => Vec::new(),
        Some(Value::Array(items)) => items
            .iter()
            .map(|a| {
                let text = a.as_str().ok_or("addresses: expected strings")?;
                let address = json::parse_address(text)?;
                address
                    .id()
                    .map_err(|_| format!("{text}: only ID addresses are indexed here"))
            })
            .collect::<Result<_, String>>()
            .map_err(|e| RpcError::param(method, 0, e))?,
        Some(_) => return Err(RpcError::param(method, 0, "addresses: expected an array")),
    };
    let fields = parse_fields(method, json::field(filter, "fields"))?;
    let mut found = Vec::new();
    for tipset in chain.tipsets().iter().skip(from.max(0) as usize) {
        if tipset.height() > to.min(latest) {
            break;
        }
        for (message, executed) in tipset.messages.iter().zip(&tipset.executed) {
            for event in &executed.events {
                if !addresses.is_empty() && !addresses.contains(&event.emitter) {
                    continue;
                }
                let matches = fields.iter().all(|(key, wanted)| {
                    event.event.entries.iter().any(|e| {
                        e.flags.bits() & 0x03 != 0
                            && &e.key == key
                            && wanted
                                .iter()
                                .any(|(codec, value)| *codec == e.codec && *value == e.value)
                    })
                });
                if !matches {
                    continue;
                }
                if found.len() == MAX_EVENT_RESULTS {
                    return Err(RpcError::method(format!(
                        "filter matches too many events, try a more restricted filter (max {MAX_EVENT_RESULTS})"
                    )));
                }
                let entries: Vec<Value> = event
                        .event
                        .entries
                        .iter()
                        .map(|e| json!({"Flags": e.flags.bits(), "Key": e.key, "Codec": e.codec, "Value": json::bytes(&e.value)}))
                        .collect();
                found.push(json!({
                    "entries": entries,
                    "emitter": json::address(&Address::new_id(event.emitter)),
                    "reverted": false,
                    "height": tipset.height(),
                    "tipsetKey": json::tipset_key(&[tipset.cid]),
                    "msgCid": json::cid(&message.cid),
                }));
            }
        }
    }
    // No match is `null`, as Lotus answers (a nil slice).
    Ok(if found.is_empty() {
        Value::Null
    } else {
        Value::Array(found)
    })
}

type Wanted = Vec<(u64, Vec<u8>)>;

fn parse_fields(method: &str, fields: Option<&Value>) -> Result<Vec<(String, Wanted)>, RpcError> {
    let Some(Value::Object(map)) = fields else {
        return match fields {
            None | Some(Value::Null) => Ok(Vec::new()),
            Some(_) => Err(RpcError::param(method, 0, "fields: expected an object")),
        };
    };
    map.iter()
        .map(|(key, alternatives)| {
            let list = alternatives.as_array().ok_or_else(|| {
                RpcError::param(method, 0, format!("fields.{key}: expected an array"))
            })?;
            let wanted = list
                .iter()
                .map(|alt| {
                    let codec = json::field(alt, "codec").and_then(Value::as_u64);
                    let value = json::field(alt, "value").map(json::parse_bytes);
                    match (codec, value) {
                        (Some(codec), Some(Ok(value))) => Ok((codec, value)),
                        _ => Err(RpcError::param(
                            method,
                            0,
                            format!("fields.{key}: expected {{codec, value}}"),
                        )),
                    }
                })
                .collect::<Result<Wanted, _>>()?;
            Ok((key.clone(), wanted))
        })
        .collect()
}
