//! Block headers and tipsets as Filecoin encodes them: the header is the 16-field DAG-CBOR tuple
//! whose blake2b-256 CID names the block, so a Go client that rebuilds a tipset from its headers
//! (PROTOCOLS A3) gets the CIDs the devnet advertises. A devnet tipset has one block.

use cid::Cid;
use fvm_ipld_encoding::strict_bytes;
use fvm_shared::address::Address;
use fvm_shared::bigint::{BigInt, bigint_ser};
use fvm_shared::crypto::signature::Signature;
use fvm_shared::econ::TokenAmount;
use serde_json::{Value, json};
use serde_tuple::{Deserialize_tuple, Serialize_tuple};

use crate::json;

#[derive(Debug, Clone, PartialEq, Eq, Serialize_tuple, Deserialize_tuple)]
pub struct Ticket {
    #[serde(with = "strict_bytes")]
    pub vrf_proof: Vec<u8>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize_tuple, Deserialize_tuple)]
pub struct ElectionProof {
    pub win_count: i64,
    #[serde(with = "strict_bytes")]
    pub vrf_proof: Vec<u8>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize_tuple, Deserialize_tuple)]
pub struct BeaconEntry {
    pub round: u64,
    #[serde(with = "strict_bytes")]
    pub data: Vec<u8>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize_tuple, Deserialize_tuple)]
pub struct PoStProof {
    pub proof: i64,
    #[serde(with = "strict_bytes")]
    pub bytes: Vec<u8>,
}

/// A block header, fields in Lotus's order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize_tuple, Deserialize_tuple)]
pub struct BlockHeader {
    pub miner: Address,
    pub ticket: Option<Ticket>,
    pub election_proof: Option<ElectionProof>,
    pub beacon_entries: Vec<BeaconEntry>,
    pub win_post_proof: Vec<PoStProof>,
    pub parents: Vec<Cid>,
    #[serde(with = "bigint_ser")]
    pub parent_weight: BigInt,
    pub height: i64,
    pub parent_state_root: Cid,
    pub parent_message_receipts: Cid,
    /// The tipset's messages: `[BLS messages AMT, secp messages AMT]`.
    pub messages: Cid,
    pub bls_aggregate: Option<Signature>,
    pub timestamp: u64,
    pub block_sig: Option<Signature>,
    pub fork_signaling: u64,
    pub parent_base_fee: TokenAmount,
}

fn signature(s: &Option<Signature>) -> Value {
    match s {
        None => Value::Null,
        Some(s) => json!({"Type": s.sig_type as u8, "Data": json::bytes(&s.bytes)}),
    }
}

impl BlockHeader {
    pub fn to_json(&self) -> Value {
        json!({
            "Miner": json::address(&self.miner),
            "Ticket": self.ticket.as_ref().map(|t| json!({"VRFProof": json::bytes(&t.vrf_proof)})),
            "ElectionProof": self.election_proof.as_ref().map(|e| json!({"WinCount": e.win_count, "VRFProof": json::bytes(&e.vrf_proof)})),
            "BeaconEntries": self.beacon_entries.iter().map(|b| json!({"Round": b.round, "Data": json::bytes(&b.data)})).collect::<Vec<_>>(),
            "WinPoStProof": self.win_post_proof.iter().map(|p| json!({"PoStProof": p.proof, "ProofBytes": json::bytes(&p.bytes)})).collect::<Vec<_>>(),
            "Parents": json::tipset_key(&self.parents),
            "ParentWeight": self.parent_weight.to_string(),
            "Height": self.height,
            "ParentStateRoot": json::cid(&self.parent_state_root),
            "ParentMessageReceipts": json::cid(&self.parent_message_receipts),
            "Messages": json::cid(&self.messages),
            "BLSAggregate": signature(&self.bls_aggregate),
            "Timestamp": self.timestamp,
            "BlockSig": signature(&self.block_sig),
            "ForkSignaling": self.fork_signaling,
            "ParentBaseFee": json::tokens(&self.parent_base_fee),
        })
    }
}

/// A tipset's JSON: `{"Cids", "Blocks", "Height"}`.
pub fn tipset_json(cid: &Cid, header: &BlockHeader) -> Value {
    json!({
        "Cids": [json::cid(cid)],
        "Blocks": [header.to_json()],
        "Height": header.height,
    })
}
