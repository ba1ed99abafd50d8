//! A local FVM with the prollydb actor installed: the synthetic manifest of identity code CIDs
//! (there is no builtin-actors bundle for fvm 4.x on crates.io), accounts, and the actor from
//! [`crate::ACTOR_WASM`]. The integration tests use it, and the devnet will.

use anyhow::{Context, Result, anyhow};
use cid::Cid;
use fvm::executor::{ApplyKind, ApplyRet, Executor};
use fvm::machine::{Machine, Manifest};
use fvm_integration_tests::dummy::DummyExterns;
use fvm_integration_tests::tester::{Account, Tester};
use fvm_ipld_blockstore::{Blockstore, MemoryBlockstore};
use fvm_ipld_encoding::{CborStore, RawBytes};
use fvm_shared::address::Address;
use fvm_shared::econ::TokenAmount;
use fvm_shared::message::Message;
use fvm_shared::state::StateTreeVersion;
use fvm_shared::version::NetworkVersion;
use multihash_codetable::Code;

/// Where the actor is installed.
pub const ACTOR_ID: u64 = 10_000;
/// Gas limit of each message (the block limit).
pub const GAS_LIMIT: u64 = 10_000_000_000;

/// Puts the synthetic manifest in `store` and returns the bundle root for [`Tester::new`].
pub fn synthetic_manifest(store: &impl Blockstore) -> Result<Cid> {
    let entries: Vec<(String, Cid)> = Manifest::DUMMY_CODES
        .iter()
        .map(|(name, cid)| (name.to_string(), *cid))
        .collect();
    let data = store.put_cbor(&entries, Code::Blake2b256)?;
    store.put_cbor(&(1u32, data), Code::Blake2b256)
}

/// A machine with accounts and the prollydb actor (not yet constructed: its head is an empty
/// list, and `Constructor` must be sent first).
pub struct LocalFvm {
    pub tester: Tester<MemoryBlockstore, DummyExterns>,
    pub accounts: Vec<Account>,
    sequences: Vec<u64>,
}

impl LocalFvm {
    pub fn new() -> Result<Self> {
        let store = MemoryBlockstore::default();
        let bundle = synthetic_manifest(&store)?;
        let mut tester = Tester::new(NetworkVersion::V25, StateTreeVersion::V5, bundle, store)?;
        let accounts: [Account; 3] = tester.create_accounts()?;
        let empty = tester.set_state(&Vec::<u8>::new())?;
        tester.set_actor_from_bin(
            crate::ACTOR_WASM,
            empty,
            Address::new_id(ACTOR_ID),
            TokenAmount::from_atto(0),
        )?;
        tester.instantiate_machine(DummyExterns)?;
        Ok(LocalFvm {
            tester,
            sequences: vec![0; accounts.len()],
            accounts: accounts.to_vec(),
        })
    }

    /// The ID address of account `i` (what the actor sees as the caller).
    pub fn account(&self, i: usize) -> Address {
        Address::new_id(self.accounts[i].0)
    }

    /// Sends a message from account `from` to the actor. Its sequence advances when the message
    /// was included (any exit code).
    pub fn send(&mut self, from: usize, method: u64, params: Vec<u8>) -> Result<ApplyRet> {
        self.send_with_gas(from, method, params, GAS_LIMIT)
    }

    /// [`LocalFvm::send`] with a gas limit.
    pub fn send_with_gas(
        &mut self,
        from: usize,
        method: u64,
        params: Vec<u8>,
        gas_limit: u64,
    ) -> Result<ApplyRet> {
        let message = Message {
            version: 0,
            from: self.accounts[from].1,
            to: Address::new_id(ACTOR_ID),
            sequence: self.sequences[from],
            value: TokenAmount::from_atto(0),
            method_num: method,
            params: RawBytes::new(params),
            gas_limit,
            gas_fee_cap: TokenAmount::from_atto(0),
            gas_premium: TokenAmount::from_atto(0),
        };
        let length = fvm_ipld_encoding::to_vec(&message)?.len();
        let executor = self
            .tester
            .executor
            .as_mut()
            .context("machine not instantiated")?;
        let ret = executor.execute_message(message, ApplyKind::Explicit, length)?;
        self.sequences[from] += 1;
        Ok(ret)
    }

    /// The actor's head (its state object's CID).
    pub fn head(&mut self) -> Result<Cid> {
        let executor = self
            .tester
            .executor
            .as_mut()
            .context("machine not instantiated")?;
        let actor = executor
            .state_tree()
            .get_actor(ACTOR_ID)?
            .ok_or_else(|| anyhow!("no actor {ACTOR_ID}"))?;
        Ok(actor.state)
    }

    /// The actor's state, decoded.
    pub fn state(&mut self) -> Result<prolly_actor::State> {
        let head = self.head()?;
        self.blockstore()
            .get_cbor(&head)?
            .ok_or_else(|| anyhow!("state block missing"))
    }

    /// Every block the machine holds, unflushed writes included.
    pub fn blockstore(&self) -> &impl Blockstore {
        self.tester
            .executor
            .as_ref()
            .expect("machine instantiated")
            .blockstore()
    }

    /// Flushes the machine and returns the state root.
    pub fn flush(&mut self) -> Result<Cid> {
        let executor = self
            .tester
            .executor
            .as_mut()
            .context("machine not instantiated")?;
        executor.flush()
    }
}
