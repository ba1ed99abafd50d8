//! Writing through a Lotus node (PROTOCOLS A4): `MpoolPushMessage` (the node signs for one of
//! its wallet's addresses), `StateWaitMsg`, and reading an actor's events with
//! `GetActorEventsRaw`. No FVM here: messages are JSON, params are the caller's CBOR bytes.

use std::time::Duration;

use cid::Cid;
use data_encoding::BASE64;
use serde_json::{Value, json};

use super::{LotusSource, cid_from, cid_json};
use crate::source::FetchError;

/// How long `StateWaitMsg` may block (it waits for the chain).
const WAIT_TIMEOUT: Duration = Duration::from_secs(15 * 60);

/// A message's receipt.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Receipt {
    pub exit_code: i64,
    pub return_data: Vec<u8>,
    pub gas_used: i64,
    pub events_root: Option<Cid>,
}

/// Where a message ran (`MsgLookup`): the tipset that carries its receipt.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Lookup {
    pub message: Cid,
    pub receipt: Receipt,
    pub tipset: Vec<Cid>,
    pub height: i64,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EventEntry {
    pub flags: u64,
    pub key: String,
    pub codec: u64,
    pub value: Vec<u8>,
}

/// An actor event; its height and tipset are those of the tipset that included the message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ActorEvent {
    pub emitter: String,
    pub entries: Vec<EventEntry>,
    pub reverted: bool,
    pub height: i64,
    pub tipset: Vec<Cid>,
    pub message: Cid,
}

impl ActorEvent {
    /// The value of the entry named `key`.
    pub fn value(&self, key: &str) -> Option<&[u8]> {
        self.entries
            .iter()
            .find(|e| e.key == key)
            .map(|e| e.value.as_slice())
    }
}

fn malformed(what: &str, value: &Value) -> FetchError {
    FetchError::Malformed(format!("{what}: {value}"))
}

fn bytes(value: &Value) -> Result<Vec<u8>, FetchError> {
    match value {
        Value::Null => Ok(Vec::new()),
        Value::String(s) => BASE64
            .decode(s.as_bytes())
            .map_err(|e| FetchError::Malformed(format!("base64: {e}"))),
        other => Err(malformed("expected base64", other)),
    }
}

fn tipset_key(value: &Value) -> Result<Vec<Cid>, FetchError> {
    value
        .as_array()
        .ok_or_else(|| malformed("expected a tipset key", value))?
        .iter()
        .map(cid_from)
        .collect()
}

impl LotusSource {
    /// `Filecoin.WalletDefaultAddress` (needs a token with `write`).
    pub async fn wallet_default_address(&self) -> Result<String, FetchError> {
        let answer = self
            .call("Filecoin.WalletDefaultAddress", json!([]))
            .await?;
        answer
            .as_str()
            .map(str::to_string)
            .ok_or_else(|| malformed("WalletDefaultAddress", &answer))
    }

    /// `Filecoin.StateLookupID`: the ID of an address at the head.
    pub async fn state_lookup_id(&self, address: &str) -> Result<u64, FetchError> {
        let answer = self
            .call("Filecoin.StateLookupID", json!([address, []]))
            .await?;
        answer
            .as_str()
            .and_then(|s| s.get(2..))
            .and_then(|id| id.parse().ok())
            .ok_or_else(|| malformed("StateLookupID", &answer))
    }

    /// `Filecoin.MpoolPushMessage`: a message from `from` to actor `to` calling `method` with
    /// `params`; the node sets the nonce and gas and signs (needs a token with `sign`). Returns
    /// the signed message's CID and its serialized size.
    pub async fn push_message(
        &self,
        from: &str,
        to: u64,
        method: u64,
        params: &[u8],
    ) -> Result<Cid, FetchError> {
        let message = json!({
            "Version": 0, "To": format!("f0{to}"), "From": from, "Nonce": 0, "Value": "0",
            "GasLimit": 0, "GasFeeCap": "0", "GasPremium": "0", "Method": method,
            "Params": if params.is_empty() { Value::Null } else { Value::String(BASE64.encode(params)) },
        });
        let answer = self
            .call("Filecoin.MpoolPushMessage", json!([message, null]))
            .await?;
        answer
            .get("CID")
            .ok_or_else(|| malformed("MpoolPushMessage", &answer))
            .and_then(cid_from)
    }

    /// `Filecoin.StateWaitMsg`: blocks until message `cid` ran and `confidence` tipsets followed.
    pub async fn wait_message(&self, cid: &Cid, confidence: u64) -> Result<Lookup, FetchError> {
        let answer = self
            .call_within(
                "Filecoin.StateWaitMsg",
                json!([cid_json(cid), confidence, -1, true]),
                Some(WAIT_TIMEOUT),
            )
            .await?;
        let field = |name: &str| {
            answer
                .get(name)
                .ok_or_else(|| malformed(&format!("StateWaitMsg: no {name}"), &answer))
        };
        let receipt = field("Receipt")?;
        let number = |name: &str| {
            receipt
                .get(name)
                .and_then(Value::as_i64)
                .ok_or_else(|| malformed(&format!("a receipt's {name}"), receipt))
        };
        Ok(Lookup {
            message: cid_from(field("Message")?)?,
            receipt: Receipt {
                exit_code: number("ExitCode")?,
                return_data: bytes(receipt.get("Return").unwrap_or(&Value::Null))?,
                gas_used: number("GasUsed")?,
                events_root: match receipt.get("EventsRoot") {
                    None | Some(Value::Null) => None,
                    Some(root) => Some(cid_from(root)?),
                },
            },
            tipset: tipset_key(field("TipSet")?)?,
            height: field("Height")?
                .as_i64()
                .ok_or_else(|| malformed("StateWaitMsg: Height", &answer))?,
        })
    }

    /// `Filecoin.GetActorEventsRaw`: actor `actor`'s events in tipsets `from..=to` (`to`
    /// `None`: up to the latest).
    pub async fn actor_events(
        &self,
        actor: u64,
        from: i64,
        to: Option<i64>,
    ) -> Result<Vec<ActorEvent>, FetchError> {
        let mut filter = json!({"addresses": [format!("f0{actor}")], "fromHeight": from});
        if let Some(to) = to {
            filter["toHeight"] = json!(to);
        }
        let answer = self
            .call("Filecoin.GetActorEventsRaw", json!([filter]))
            .await?;
        let items = match &answer {
            Value::Null => return Ok(Vec::new()),
            Value::Array(items) => items,
            other => return Err(malformed("GetActorEventsRaw", other)),
        };
        items
            .iter()
            .map(|item| {
                let get = |name: &str| {
                    item.get(name)
                        .ok_or_else(|| malformed(&format!("an event without {name}"), item))
                };
                let entries = get("entries")?
                    .as_array()
                    .ok_or_else(|| malformed("entries", item))?
                    .iter()
                    .map(|e| {
                        Ok(EventEntry {
                            flags: e.get("Flags").and_then(Value::as_u64).unwrap_or(0),
                            key: e
                                .get("Key")
                                .and_then(Value::as_str)
                                .ok_or_else(|| malformed("an entry's Key", e))?
                                .to_string(),
                            codec: e.get("Codec").and_then(Value::as_u64).unwrap_or(0),
                            value: bytes(e.get("Value").unwrap_or(&Value::Null))?,
                        })
                    })
                    .collect::<Result<Vec<_>, FetchError>>()?;
                Ok(ActorEvent {
                    emitter: get("emitter")?.as_str().unwrap_or_default().to_string(),
                    entries,
                    reverted: get("reverted")?.as_bool().unwrap_or(false),
                    height: get("height")?
                        .as_i64()
                        .ok_or_else(|| malformed("height", item))?,
                    tipset: tipset_key(get("tipsetKey")?)?,
                    message: cid_from(get("msgCid")?)?,
                })
            })
            .collect()
    }
}
