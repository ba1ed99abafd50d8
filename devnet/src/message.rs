//! Messages as Lotus has them: the unsigned 10-tuple and its CID, secp256k1 signatures made as
//! Lotus makes them (ECDSA over blake2b-256 of the message CID's bytes, 65 bytes `r‖s‖v`), the
//! signed message `[Message, Signature]` and its CID, and their JSON (PROTOCOLS A3).

use anyhow::Result;
use cid::Cid;
use fvm_ipld_encoding::{DAG_CBOR, RawBytes};
use fvm_shared::crypto::signature::Signature;
use fvm_shared::econ::TokenAmount;
use fvm_shared::message::Message;
use k256::SecretKey;
use k256::ecdsa::SigningKey;
use multihash_codetable::{Code, MultihashDigest};
use serde_json::{Value, json};

use crate::json;

/// Lotus's mpool refuses a signed message larger than this (`MaxMessageSize`, 64 KiB).
pub const MAX_MESSAGE_SIZE: usize = 64 << 10;

pub fn cid_of(bytes: &[u8]) -> Cid {
    Cid::new_v1(DAG_CBOR, Code::Blake2b256.digest(bytes))
}

/// A signed message with its CIDs and encoding.
#[derive(Debug, Clone)]
pub struct Signed {
    pub message: Message,
    pub signature: Signature,
    /// The CID of `[Message, Signature]`: what the chain includes and what StateWaitMsg takes.
    pub cid: Cid,
    /// The CID of the unsigned message.
    pub unsigned: Cid,
    /// The DAG-CBOR of `[Message, Signature]` (its length is what gas and the size limit count).
    pub bytes: Vec<u8>,
}

impl Signed {
    /// Signs `message` with `key`.
    pub fn sign(message: Message, key: &SecretKey) -> Result<Signed> {
        let unsigned = cid_of(&fvm_ipld_encoding::to_vec(&message)?);
        let digest = Code::Blake2b256.digest(&unsigned.to_bytes());
        let (signature, recovery) = SigningKey::from(key)
            .sign_prehash_recoverable(digest.digest())
            .map_err(|e| anyhow::anyhow!("signing: {e}"))?;
        let mut data = signature.to_bytes().to_vec();
        data.push(recovery.to_byte());
        Signed::assemble(message, Signature::new_secp256k1(data))
    }

    fn assemble(message: Message, signature: Signature) -> Result<Signed> {
        let unsigned = cid_of(&fvm_ipld_encoding::to_vec(&message)?);
        let bytes = fvm_ipld_encoding::to_vec(&(&message, &signature))?;
        Ok(Signed {
            cid: cid_of(&bytes),
            unsigned,
            message,
            signature,
            bytes,
        })
    }

    /// A signed message read back from its block.
    pub fn decode(bytes: &[u8]) -> Result<Signed> {
        let (message, signature): (Message, Signature) = fvm_ipld_encoding::from_slice(bytes)?;
        Signed::assemble(message, signature)
    }

    pub fn to_json(&self) -> Value {
        json!({
            "Message": message_json(&self.message, &self.unsigned),
            "Signature": {"Type": self.signature.sig_type as u8, "Data": json::bytes(&self.signature.bytes)},
            "CID": json::cid(&self.cid),
        })
    }
}

/// A message's JSON, with the `CID` Lotus adds.
pub fn message_json(m: &Message, cid: &Cid) -> Value {
    json!({
        "Version": m.version,
        "To": json::address(&m.to),
        "From": json::address(&m.from),
        "Nonce": m.sequence,
        "Value": json::tokens(&m.value),
        "GasLimit": m.gas_limit,
        "GasFeeCap": json::tokens(&m.gas_fee_cap),
        "GasPremium": json::tokens(&m.gas_premium),
        "Method": m.method_num,
        "Params": json::bytes(m.params.bytes()),
        "CID": json::cid(cid),
    })
}

/// A message from its JSON (field names matched as Go does, without regard to case; `CID` is
/// ignored). Missing numbers are 0 and missing big integers "0".
pub fn parse_message(v: &Value) -> Result<Message, String> {
    if !v.is_object() {
        return Err(format!("expected a message object, got {v}"));
    }
    let get = |name: &str| json::field(v, name).unwrap_or(&Value::Null);
    let number = |name: &str| -> Result<u64, String> {
        match get(name) {
            Value::Null => Ok(0),
            n => n
                .as_u64()
                .ok_or_else(|| format!("{name}: expected an unsigned integer, got {n}")),
        }
    };
    let address = |name: &str| -> Result<_, String> {
        match get(name) {
            Value::String(s) => json::parse_address(s).map_err(|e| format!("{name}: {e}")),
            other => Err(format!("{name}: expected an address, got {other}")),
        }
    };
    let tokens = |name: &str| json::parse_tokens(get(name)).map_err(|e| format!("{name}: {e}"));
    Ok(Message {
        version: number("Version")?,
        to: address("To")?,
        from: address("From")?,
        sequence: number("Nonce")?,
        value: tokens("Value")?,
        gas_limit: number("GasLimit")?,
        gas_fee_cap: tokens("GasFeeCap")?,
        gas_premium: tokens("GasPremium")?,
        method_num: number("Method")?,
        params: RawBytes::new(
            json::parse_bytes(get("Params")).map_err(|e| format!("Params: {e}"))?,
        ),
    })
}

/// Zero tokens (fees on a devnet are zero unless a message asks for more).
pub fn zero() -> TokenAmount {
    TokenAmount::from_atto(0)
}
