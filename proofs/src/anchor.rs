//! Chain anchoring: from a Filecoin state root to a prollydb actor's database root, through the
//! state tree, read with `fvm_ipld_hamt` over whatever store is given (the chain's, or a witness).
//!
//! - The state root is the tuple `[version, actors, info]` (state-tree versions 1 and later).
//! - `actors` is a HAMT of bit width 5 keyed by the actor's ID address bytes (`00`, then the ID as
//!   an unsigned varint), holding `[code, head, nonce, balance, delegated address?]`.
//! - The prollydb actor's state at `head` is the tuple `[owner, writers, db root, seq]`: the
//!   database root is at position [`DB_ROOT_POSITION`] (spec/SPEC.md, "The actor state").

use cid::Cid;
use fvm_ipld_blockstore::Blockstore;
use fvm_ipld_hamt::{BytesKey, Hamt};
use ipld_core::ipld::Ipld;
use prolly_tree::{Outcome, ready};

use crate::envelope::{Envelope, Subject};
use crate::error::{AnchorError, ProveError, VerifyError};
use crate::record::{Misses, RecordingStore};
use crate::witness::{Witness, package};

/// Bit width of the state tree's actors HAMT.
pub const ACTORS_HAMT_BIT_WIDTH: u32 = 5;
/// Where the database root sits in the prollydb actor's state tuple.
pub const DB_ROOT_POSITION: usize = 2;

/// An actor's entry in the state tree.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ActorEntry {
    pub code: Cid,
    pub head: Cid,
    pub nonce: u64,
}

/// The bytes of an ID address: protocol 0, then the ID as an unsigned LEB128 varint.
pub fn id_address(id: u64) -> Vec<u8> {
    let mut out = vec![0];
    let mut n = id;
    while n >= 0x80 {
        out.push((n as u8) | 0x80);
        n >>= 7;
    }
    out.push(n as u8);
    out
}

fn load<S: Blockstore>(store: &S, cid: &Cid) -> Result<Outcome<Ipld>, AnchorError> {
    match store.get(cid).map_err(AnchorError::Store)? {
        None => Ok(Outcome::missing_one(*cid)),
        Some(bytes) => {
            let block = |reason| AnchorError::Block {
                cid: Box::new(*cid),
                reason,
            };
            let raw =
                prolly_tree::RawValue::from_bytes(bytes::Bytes::from(bytes)).map_err(block)?;
            Ok(Outcome::Complete(raw.to_ipld().map_err(block)?))
        }
    }
}

/// The actor's entry in the state tree at `state_root`, or `None` if there is no such actor (an
/// absence the HAMT path proves).
pub fn actor<S: Blockstore + Misses>(
    store: &S,
    state_root: &Cid,
    id: u64,
) -> Result<Outcome<Option<ActorEntry>>, AnchorError> {
    let root = ready!(load(store, state_root));
    let actors = match &root {
        Ipld::List(fields) => match fields.as_slice() {
            [
                Ipld::Integer(version),
                Ipld::Link(actors),
                Ipld::Link(_info),
            ] if *version >= 1 => *actors,
            _ => return Err(AnchorError::StateRoot),
        },
        _ => return Err(AnchorError::StateRoot),
    };
    let before = store.missing().len();
    let found =
        Hamt::<&S, Ipld, BytesKey>::load_with_bit_width(&actors, store, ACTORS_HAMT_BIT_WIDTH)
            .and_then(|hamt| hamt.get(&BytesKey(id_address(id))).map(|v| v.cloned()));
    let entry = match found {
        Ok(entry) => entry,
        Err(e) => {
            let missing = store.missing();
            if missing.len() > before {
                return Ok(Outcome::Missing(missing));
            }
            return Err(AnchorError::Hamt(e.to_string()));
        }
    };
    let Some(entry) = entry else {
        return Ok(Outcome::Complete(None));
    };
    match &entry {
        Ipld::List(fields) if fields.len() >= 4 => match (&fields[0], &fields[1], &fields[2]) {
            (Ipld::Link(code), Ipld::Link(head), Ipld::Integer(nonce)) => {
                Ok(Outcome::Complete(Some(ActorEntry {
                    code: *code,
                    head: *head,
                    nonce: u64::try_from(*nonce).map_err(|_| AnchorError::ActorEntry { id })?,
                })))
            }
            _ => Err(AnchorError::ActorEntry { id }),
        },
        _ => Err(AnchorError::ActorEntry { id }),
    }
}

/// The database root held by prollydb actor `id` at `state_root`.
pub fn db_root<S: Blockstore + Misses>(
    store: &S,
    state_root: &Cid,
    id: u64,
) -> Result<Outcome<Cid>, AnchorError> {
    let Some(entry) = ready!(actor(store, state_root, id)) else {
        return Err(AnchorError::NoActor(id));
    };
    let state = ready!(load(store, &entry.head));
    Ok(Outcome::Complete(state_db_root(id, &state)?))
}

/// The database root in prollydb actor `id`'s state object (its head block, decoded): for a
/// reader that got the head from a node (`StateGetActor`) rather than through a state root.
pub fn state_db_root(id: u64, state: &Ipld) -> Result<Cid, AnchorError> {
    match state {
        Ipld::List(fields) => match fields.get(DB_ROOT_POSITION) {
            Some(Ipld::Link(root)) if fields.len() == 4 => Ok(*root),
            _ => Err(AnchorError::ActorState { id }),
        },
        _ => Err(AnchorError::ActorState { id }),
    }
}

impl ActorEntry {
    fn to_ipld(&self) -> Ipld {
        Ipld::List(vec![
            Ipld::Link(self.code),
            Ipld::Link(self.head),
            Ipld::Integer(self.nonce.into()),
        ])
    }
}

fn entry_bytes(entry: Option<&ActorEntry>) -> Vec<u8> {
    let value = entry.map_or(Ipld::Null, ActorEntry::to_ipld);
    prolly_tree::RawValue::from_ipld(&value)
        .expect("an entry encodes")
        .as_bytes()
        .to_vec()
}

/// An actor's entry (or `None`) and the proof's CAR bytes.
pub type ActorProof = (Option<ActorEntry>, Vec<u8>);

/// A proof of actor `id`'s entry (or its absence) in the state tree at `state_root`: the envelope
/// (kind "actor", result `[code, head, nonce]` or null) and the HAMT path's blocks.
pub fn prove_actor<S: Blockstore>(
    store: &S,
    state_root: Cid,
    id: u64,
) -> Result<Outcome<ActorProof>, ProveError> {
    let recorder = RecordingStore::new(store);
    let entry = ready!(actor(&recorder, &state_root, id));
    let envelope = Envelope {
        subject: Subject::Actor {
            state: state_root,
            actor: id,
        },
        query: Vec::new(),
        result: entry_bytes(entry.as_ref()),
    }
    .encode();
    let car = package(&envelope, &recorder.take());
    Ok(Outcome::Complete((entry, car)))
}

/// Checks an actor proof against a trusted state root: the entry claimed (or its absence) is
/// what the state tree holds, read from the proof's blocks alone.
pub fn verify_actor(
    state_root: &Cid,
    id: u64,
    claimed: Option<&ActorEntry>,
    proof: &[u8],
) -> Result<(), VerifyError> {
    // fvm_ipld_hamt does not hash-check what it loads: hash every block while reading the proof.
    let witness = Witness::open(proof, false)?;
    let subject = Subject::Actor {
        state: *state_root,
        actor: id,
    };
    witness.check_claims(&subject, &[], &entry_bytes(claimed))?;
    let reader = witness.reader();
    let found = actor(reader, state_root, id)?.into_result()?;
    if found.as_ref() != claimed {
        return Err(VerifyError::WrongResult);
    }
    witness.exact()
}
