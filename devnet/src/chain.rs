//! The chain: tipsets of one block, each run on the FVM as it is mined, kept as blocks in the
//! redb store. The only mutable thing on disk is the root `devnet`, which names a head record
//! (the head tipset's block, the state after its messages and their receipts); it moves in the
//! same transaction that writes the tipset's blocks, so a killed devnet restarts at its last
//! tipset with nothing lost and nothing half written. Everything else (messages, receipts,
//! events) is rebuilt from the blocks at start.
//!
//! As in Lotus, tipset H's header carries the state *before* its messages (its parent state)
//! and the receipts of H−1's messages; H's own results appear in H+1.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use anyhow::{Context, Result, anyhow, bail};
use cid::Cid;
use fvm::state_tree::{ActorState, StateTree};
use fvm_ipld_amt::{Amt, Amtv0};
use fvm_ipld_blockstore::Blockstore;
use fvm_ipld_encoding::CborStore;
use fvm_shared::ActorID;
use fvm_shared::address::Address;
use fvm_shared::bigint::BigInt;
use fvm_shared::econ::TokenAmount;
use fvm_shared::event::StampedEvent;
use fvm_shared::message::Message;
use fvm_shared::receipt::Receipt;
use multihash_codetable::Code;
use prolly_client::Store;
use prollydb::local_fvm::{self, BASE_FEE_ATTO, DevAccount, Engine, Install, Machine};
use serde_tuple::{Deserialize_tuple, Serialize_tuple};

use crate::header::BlockHeader;
use crate::message::Signed;
use prolly_client::store::Overlay;

/// The store's root naming the head record.
pub const HEAD_ROOT: &str = "devnet";
/// The first prollydb actor's ID; the others follow.
pub const FIRST_ACTOR: ActorID = 1000;
/// Dev accounts at genesis.
pub const ACCOUNTS: u32 = 4;
/// Each message's gas limit when the sender leaves it to the node (the block limit).
pub const BLOCK_GAS_LIMIT: u64 = local_fvm::GAS_LIMIT;
/// Events AMT bit width (FVM and Lotus).
const EVENTS_AMT_BIT_WIDTH: u32 = 5;
const HEAD_RECORD_VERSION: u64 = 1;

/// What the root `devnet` names.
#[derive(Debug, Clone, Serialize_tuple, Deserialize_tuple)]
struct HeadRecord {
    version: u64,
    tipset: Cid,
    /// The state after the head tipset's messages (the next tipset's parent state).
    state_after: Cid,
    /// Their receipts (the next tipset's parent receipts).
    receipts: Cid,
    /// How many prollydb actors genesis installed.
    actors: u64,
}

/// A message's outcome.
#[derive(Debug, Clone)]
pub struct Executed {
    pub receipt: Receipt,
    pub events: Vec<StampedEvent>,
}

/// A tipset of the chain.
#[derive(Debug, Clone)]
pub struct Tipset {
    pub cid: Cid,
    pub header: BlockHeader,
    pub messages: Vec<Signed>,
    /// One per message: the results of running them (known when the tipset is mined; served
    /// once the next tipset carries them).
    pub executed: Vec<Executed>,
}

impl Tipset {
    pub fn height(&self) -> i64 {
        self.header.height
    }
}

/// Where a message is: the height of the tipset that included it and its place there.
#[derive(Debug, Clone, Copy)]
pub struct Location {
    pub height: i64,
    pub index: usize,
}

pub struct Chain {
    store: Arc<Store>,
    engine: Engine,
    accounts: Vec<DevAccount>,
    actors: Vec<ActorID>,
    tipsets: Vec<Tipset>,
    state_after: Cid,
    receipts_after: Cid,
    messages: HashMap<Cid, Location>,
    pool: Vec<Signed>,
}

fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or_default()
}

/// `[BLS messages, secp messages]`, each an AMT v0 of message CIDs (Lotus's MsgMeta).
fn message_meta(store: &impl Blockstore, messages: &[Signed]) -> Result<Cid> {
    let bls = Amtv0::<Cid, _>::new_from_iter(store, std::iter::empty())?;
    let secp = Amtv0::new_from_iter(store, messages.iter().map(|m| m.cid))?;
    store.put_cbor(&(bls, secp), Code::Blake2b256)
}

fn state_tree<B: Blockstore>(store: B, root: &Cid) -> Result<StateTree<B>> {
    StateTree::new_from_root(store, root).map_err(|e| anyhow!("state {root}: {e}"))
}

impl Chain {
    /// The chain in `store`: resumed at its head, or started with a genesis of `actors` prollydb
    /// actors (IDs from [`FIRST_ACTOR`], not yet constructed) when the store holds none.
    pub fn open(store: Arc<Store>, actors: u32) -> Result<Chain> {
        let engine = Engine::new()?;
        let accounts = Vec::new();
        let mut chain = Chain {
            store,
            engine,
            accounts,
            actors: Vec::new(),
            tipsets: Vec::new(),
            state_after: Cid::default(),
            receipts_after: Cid::default(),
            messages: HashMap::new(),
            pool: Vec::new(),
        };
        match chain.store.root(HEAD_ROOT)? {
            Some(record) => chain.load(&record)?,
            None => chain.genesis(actors)?,
        }
        Ok(chain)
    }

    fn genesis(&mut self, actors: u32) -> Result<()> {
        let overlay = Arc::new(Overlay::new((*self.store).clone()));
        let ids: Vec<ActorID> = (0..actors as u64).map(|i| FIRST_ACTOR + i).collect();
        let genesis = local_fvm::genesis(
            overlay.clone(),
            ACCOUNTS,
            TokenAmount::from_whole(1_000_000),
            |_, _| {
                Ok(ids
                    .iter()
                    .map(|id| Install {
                        id: *id,
                        wasm: prollydb::ACTOR_WASM,
                        head: None,
                    })
                    .collect())
            },
        )?;
        self.accounts = genesis.accounts;
        self.actors = ids;
        let receipts = Amtv0::<Receipt, _>::new_from_iter(&*overlay, std::iter::empty())?;
        self.state_after = genesis.state_root;
        self.receipts_after = receipts;
        let header = self.header(&overlay, None, &[], now())?;
        let tipset = Tipset {
            cid: overlay.put_cbor(&header, Code::Blake2b256)?,
            header,
            messages: Vec::new(),
            executed: Vec::new(),
        };
        self.commit(&overlay, tipset, genesis.state_root, receipts)
    }

    /// Writes the overlay's blocks and the new head record in one transaction, then takes the
    /// tipset as the head.
    fn commit(
        &mut self,
        overlay: &Overlay,
        tipset: Tipset,
        state_after: Cid,
        receipts: Cid,
    ) -> Result<()> {
        let record = HeadRecord {
            version: HEAD_RECORD_VERSION,
            tipset: tipset.cid,
            state_after,
            receipts,
            actors: self.actors.len() as u64,
        };
        let record = overlay.put_cbor(&record, Code::Blake2b256)?;
        let writer = self.store.write()?;
        writer.put_staged(&overlay.take())?;
        writer.set_root(HEAD_ROOT, &record)?;
        writer.commit()?;
        self.push(tipset);
        self.state_after = state_after;
        self.receipts_after = receipts;
        Ok(())
    }

    /// Takes `tipset` as the head, its messages findable by either CID.
    fn push(&mut self, tipset: Tipset) {
        for (index, m) in tipset.messages.iter().enumerate() {
            let at = Location {
                height: tipset.height(),
                index,
            };
            self.messages.insert(m.cid, at);
            self.messages.insert(m.unsigned, at);
        }
        self.tipsets.push(tipset);
    }

    /// Rebuilds the chain from the head record: headers back to genesis, their messages, the
    /// receipts and events of each.
    fn load(&mut self, record: &Cid) -> Result<()> {
        let store = self.store.clone();
        let record: HeadRecord = store
            .get_cbor(record)?
            .context("the devnet's head record is missing")?;
        if record.version != HEAD_RECORD_VERSION {
            bail!(
                "this devnet's data is of version {}, this build reads {HEAD_RECORD_VERSION}",
                record.version
            );
        }
        self.actors = (0..record.actors).map(|i| FIRST_ACTOR + i).collect();
        let mut headers = Vec::new();
        let mut next = Some(record.tipset);
        while let Some(cid) = next {
            let header: BlockHeader = store
                .get_cbor(&cid)?
                .with_context(|| format!("block header {cid} is missing"))?;
            next = header.parents.first().copied();
            headers.push((cid, header));
        }
        headers.reverse();
        for i in 0..headers.len() {
            let (cid, header) = headers[i].clone();
            let receipts_root = match headers.get(i + 1) {
                Some((_, child)) => child.parent_message_receipts,
                None => record.receipts,
            };
            let messages = self.load_messages(&header.messages)?;
            let executed = self.load_receipts(&receipts_root)?;
            if executed.len() != messages.len() {
                bail!(
                    "tipset {cid} has {} messages and {} receipts",
                    messages.len(),
                    executed.len()
                );
            }
            let tipset = Tipset {
                cid,
                header,
                messages,
                executed,
            };
            self.push(tipset);
        }
        self.state_after = record.state_after;
        self.receipts_after = record.receipts;
        self.accounts = self.find_accounts()?;
        Ok(())
    }

    /// The dev accounts, found in the genesis state by their keys' addresses.
    fn find_accounts(&self) -> Result<Vec<DevAccount>> {
        let genesis = self.tipsets[0].header.parent_state_root;
        let tree = state_tree(&*self.store, &genesis)?;
        let mut accounts = Vec::new();
        for index in 0..ACCOUNTS {
            let key = local_fvm::dev_key(index);
            let address = local_fvm::secp_address(&key)?;
            let id = tree
                .lookup_id(&address)
                .map_err(|e| anyhow!("{e}"))?
                .with_context(|| format!("dev account {index} is not in the genesis state"))?;
            accounts.push(DevAccount { id, address, key });
        }
        Ok(accounts)
    }

    fn load_messages(&self, meta: &Cid) -> Result<Vec<Signed>> {
        let (_, secp): (Cid, Cid) = self
            .store
            .get_cbor(meta)?
            .with_context(|| format!("messages {meta} are missing"))?;
        let amt = Amtv0::<Cid, _>::load(&secp, &*self.store)?;
        let mut messages = Vec::new();
        amt.for_each(|_, cid| {
            let bytes = self
                .store
                .get(cid)?
                .with_context(|| format!("message {cid} is missing"))?;
            messages.push(Signed::decode(&bytes)?);
            Ok(())
        })?;
        Ok(messages)
    }

    fn load_receipts(&self, root: &Cid) -> Result<Vec<Executed>> {
        let amt = Amtv0::<Receipt, _>::load(root, &*self.store)?;
        let mut receipts = Vec::new();
        amt.for_each(|_, receipt| {
            receipts.push(receipt.clone());
            Ok(())
        })?;
        receipts
            .into_iter()
            .map(|receipt| {
                let mut events = Vec::new();
                if let Some(root) = &receipt.events_root {
                    let amt = Amt::<StampedEvent, _>::load(root, &*self.store)?;
                    amt.for_each(|_, e| {
                        events.push(e.clone());
                        Ok(())
                    })?;
                }
                Ok(Executed { receipt, events })
            })
            .collect()
    }

    pub fn store(&self) -> &Arc<Store> {
        &self.store
    }

    pub fn accounts(&self) -> &[DevAccount] {
        &self.accounts
    }

    pub fn actors(&self) -> &[ActorID] {
        &self.actors
    }

    pub fn head(&self) -> &Tipset {
        self.tipsets.last().expect("a chain has its genesis")
    }

    pub fn tipset_at(&self, height: i64) -> Option<&Tipset> {
        usize::try_from(height)
            .ok()
            .and_then(|h| self.tipsets.get(h))
    }

    /// The tipset of `key`; an empty key is the head.
    pub fn tipset(&self, key: &[Cid]) -> Option<&Tipset> {
        match key {
            [] => Some(self.head()),
            [cid] => self.tipsets.iter().rev().find(|t| t.cid == *cid),
            _ => None,
        }
    }

    pub fn locate(&self, cid: &Cid) -> Option<Location> {
        self.messages.get(cid).copied()
    }

    pub fn in_pool(&self, cid: &Cid) -> bool {
        self.pool
            .iter()
            .any(|m| m.cid == *cid || m.unsigned == *cid)
    }

    pub fn pool_len(&self) -> usize {
        self.pool.len()
    }

    /// An actor in the state `state_root`, by any address.
    pub fn actor(
        &self,
        state_root: &Cid,
        address: &Address,
    ) -> Result<Option<(ActorID, ActorState)>> {
        let tree = state_tree(&*self.store, state_root)?;
        let Some(id) = tree.lookup_id(address).map_err(|e| anyhow!("{e}"))? else {
            return Ok(None);
        };
        Ok(tree
            .get_actor(id)
            .map_err(|e| anyhow!("{e}"))?
            .map(|actor| (id, actor)))
    }

    /// The nonce the sender's next message takes: its state after the head's messages, plus its
    /// messages waiting in the pool.
    pub fn next_nonce(&self, from: &Address) -> Result<u64> {
        let known = self
            .actor(&self.state_after, from)?
            .map(|(_, a)| a.sequence)
            .unwrap_or(0);
        let pending = self.pool.iter().filter(|m| m.message.from == *from).count() as u64;
        Ok(known + pending)
    }

    /// Adds a signed message to the pool; the next tipset includes it.
    pub fn add(&mut self, signed: Signed) {
        self.pool.push(signed);
    }

    /// Mines a tipset with the pool's messages and runs them.
    pub fn mine(&mut self) -> Result<()> {
        let messages = std::mem::take(&mut self.pool);
        let parent = self.head().clone();
        let height = parent.height() + 1;
        let overlay = Arc::new(Overlay::new((*self.store).clone()));
        let timestamp = now().max(parent.header.timestamp);
        let header = self.header(&overlay, Some(&parent), &messages, timestamp)?;
        for m in &messages {
            overlay.put_keyed(&m.cid, &m.bytes)?;
        }
        let cid = overlay.put_cbor(&header, Code::Blake2b256)?;
        let (state_after, executed) = self.execute(&overlay, height, timestamp, &messages)?;
        let receipts = Amtv0::new_from_iter(&*overlay, executed.iter().map(|e| e.receipt.clone()))?;
        let tipset = Tipset {
            cid,
            header,
            messages,
            executed,
        };
        self.commit(&overlay, tipset, state_after, receipts)
    }

    /// The header of the tipset after `parent` (none: genesis) with `messages`: on the state
    /// after the parent's messages, with their receipts.
    fn header(
        &self,
        overlay: &Overlay,
        parent: Option<&Tipset>,
        messages: &[Signed],
        timestamp: u64,
    ) -> Result<BlockHeader> {
        let height = parent.map_or(0, |p| p.height() + 1);
        Ok(BlockHeader {
            miner: Address::new_id(self.accounts[0].id),
            ticket: None,
            election_proof: None,
            beacon_entries: Vec::new(),
            win_post_proof: Vec::new(),
            parents: parent.map(|p| p.cid).into_iter().collect(),
            parent_weight: BigInt::from(height),
            height,
            parent_state_root: self.state_after,
            parent_message_receipts: self.receipts_after,
            messages: message_meta(overlay, messages)?,
            bls_aggregate: None,
            timestamp,
            block_sig: None,
            fork_signaling: 0,
            parent_base_fee: TokenAmount::from_atto(BASE_FEE_ATTO),
        })
    }

    /// Runs `messages` on the state after the head, at `epoch`.
    fn execute(
        &self,
        overlay: &Arc<Overlay>,
        epoch: i64,
        timestamp: u64,
        messages: &[Signed],
    ) -> Result<(Cid, Vec<Executed>)> {
        if messages.is_empty() {
            return Ok((self.state_after, Vec::new()));
        }
        let mut machine = Machine::at(
            &self.engine,
            overlay.clone(),
            self.state_after,
            epoch,
            timestamp,
            &self.actors,
        )?;
        let mut executed = Vec::new();
        for m in messages {
            let message: Message = m.message.clone();
            let ret = machine.execute(message, m.bytes.len())?;
            let mut receipt = ret.msg_receipt;
            if !ret.events.is_empty() {
                // The machine keeps the events AMT out of the state: store it, so that the
                // receipt's events root can be read.
                let root = Amt::new_from_iter_with_bit_width(
                    &**overlay,
                    EVENTS_AMT_BIT_WIDTH,
                    ret.events.iter().cloned(),
                )?;
                if receipt.events_root != Some(root) {
                    bail!(
                        "the events root {root} differs from the machine's {:?}",
                        receipt.events_root
                    );
                }
                receipt.events_root = Some(root);
            }
            executed.push(Executed {
                receipt,
                events: ret.events,
            });
        }
        let state_after = machine.flush()?;
        Ok((state_after, executed))
    }

    /// Every tipset from `from` to `to` (inclusive heights).
    pub fn tipsets(&self) -> &[Tipset] {
        &self.tipsets
    }
}
