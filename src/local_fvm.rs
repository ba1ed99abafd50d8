//! A local FVM with the prollydb actor installed: the synthetic manifest of identity code CIDs
//! (there is no builtin-actors bundle for fvm 4.x on crates.io), accounts, and the actor from
//! [`crate::ACTOR_WASM`]. The integration tests and the gas bench use [`LocalFvm`] (the
//! integration Tester over a memory store; [`LocalFvm::with_actors`] installs more actors with
//! prepared state). A chain uses [`genesis`] and [`Machine`]: the same FVM over any store, built
//! from a state root for each tipset.

mod genesis;
mod machine;

pub use genesis::{DevAccount, Genesis, dev_key, genesis, secp_address};
pub use machine::{BASE_FEE_ATTO, Engine, Machine};

use anyhow::{Context, Result, anyhow};
use cid::Cid;
use fvm::executor::{ApplyKind, ApplyRet, Executor};
use fvm::machine::{Machine as _, Manifest};
use fvm_integration_tests::dummy::DummyExterns;
use fvm_integration_tests::tester::{Account, Tester};
use fvm_ipld_blockstore::{Blockstore, MemoryBlockstore};
use fvm_ipld_encoding::{CborStore, RawBytes};
use fvm_shared::ActorID;
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
/// The network version the machines run (the latest fvm 4.8.4 supports with this manifest).
pub const NETWORK_VERSION: NetworkVersion = NetworkVersion::V25;

/// Puts the synthetic manifest in `store` and returns the bundle root for [`Tester::new`].
pub fn synthetic_manifest(store: &impl Blockstore) -> Result<Cid> {
    let entries: Vec<(String, Cid)> = Manifest::DUMMY_CODES
        .iter()
        .map(|(name, cid)| (name.to_string(), *cid))
        .collect();
    let data = store.put_cbor(&entries, Code::Blake2b256)?;
    store.put_cbor(&(1u32, data), Code::Blake2b256)
}

/// An actor to install before the machine starts.
pub struct Install<'a> {
    pub id: ActorID,
    pub wasm: &'a [u8],
    /// Its state object, already in the store; `None` leaves it unconstructed (an empty list,
    /// as the Init actor would), so that `Constructor` must be sent first.
    pub head: Option<Cid>,
}

/// A machine with three accounts and the actors it was made with.
pub struct LocalFvm {
    pub tester: Tester<MemoryBlockstore, DummyExterns>,
    pub accounts: Vec<Account>,
    sequences: Vec<u64>,
}

impl LocalFvm {
    /// The prollydb actor at [`ACTOR_ID`], not yet constructed.
    pub fn new() -> Result<Self> {
        Self::with_actors(|_, _| {
            Ok(vec![Install {
                id: ACTOR_ID,
                wasm: crate::ACTOR_WASM,
                head: None,
            }])
        })
    }

    /// A machine whose actors `setup` chooses, given the store and the accounts' ID addresses.
    /// State built off-chain in that store is what the actor would have built itself: the prolly
    /// tree is history independent, so a database of N documents has one root however it was
    /// written.
    pub fn with_actors<'a>(
        setup: impl FnOnce(&MemoryBlockstore, &[Address]) -> Result<Vec<Install<'a>>>,
    ) -> Result<Self> {
        let store = MemoryBlockstore::default();
        let bundle = synthetic_manifest(&store)?;
        let mut tester = Tester::new(NETWORK_VERSION, StateTreeVersion::V5, bundle, store)?;
        let accounts: [Account; 3] = tester.create_accounts()?;
        let addresses: Vec<Address> = accounts.iter().map(|a| Address::new_id(a.0)).collect();
        let store = tester
            .state_tree
            .as_ref()
            .context("state tree before the machine")?
            .store();
        let installs = setup(store, &addresses)?;
        let empty = tester.set_state(&Vec::<u8>::new())?;
        for install in installs {
            tester.set_actor_from_bin(
                install.wasm,
                install.head.unwrap_or(empty),
                Address::new_id(install.id),
                TokenAmount::from_atto(0),
            )?;
        }
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

    /// Sends a message from account `from` to the prollydb actor. Its sequence advances when the
    /// message was included (any exit code).
    pub fn send(&mut self, from: usize, method: u64, params: Vec<u8>) -> Result<ApplyRet> {
        self.send_to(from, ACTOR_ID, method, params, GAS_LIMIT)
    }

    /// [`LocalFvm::send`] with a gas limit.
    pub fn send_with_gas(
        &mut self,
        from: usize,
        method: u64,
        params: Vec<u8>,
        gas_limit: u64,
    ) -> Result<ApplyRet> {
        self.send_to(from, ACTOR_ID, method, params, gas_limit)
    }

    /// Sends a message from account `from` to actor `to`.
    pub fn send_to(
        &mut self,
        from: usize,
        to: ActorID,
        method: u64,
        params: Vec<u8>,
        gas_limit: u64,
    ) -> Result<ApplyRet> {
        let message = self.message(from, to, method, params, gas_limit);
        self.execute(message)
    }

    /// The next message from account `from` to actor `to`, not yet sent.
    pub fn message(
        &self,
        from: usize,
        to: ActorID,
        method: u64,
        params: Vec<u8>,
        gas_limit: u64,
    ) -> Message {
        Message {
            version: 0,
            from: self.accounts[from].1,
            to: Address::new_id(to),
            sequence: self.sequences[from],
            value: TokenAmount::from_atto(0),
            method_num: method,
            params: RawBytes::new(params),
            gas_limit,
            gas_fee_cap: TokenAmount::from_atto(0),
            gas_premium: TokenAmount::from_atto(0),
        }
    }

    /// Executes a message made by [`LocalFvm::message`], charged on its real serialized length.
    /// The sender's sequence advances when the message was included (any exit code).
    pub fn execute(&mut self, message: Message) -> Result<ApplyRet> {
        let from = self
            .accounts
            .iter()
            .position(|a| a.1 == message.from)
            .context("not one of this machine's accounts")?;
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

    /// The prollydb actor's head (its state object's CID).
    pub fn head(&mut self) -> Result<Cid> {
        self.head_of(ACTOR_ID)
    }

    /// Actor `id`'s head.
    pub fn head_of(&mut self, id: ActorID) -> Result<Cid> {
        let executor = self
            .tester
            .executor
            .as_mut()
            .context("machine not instantiated")?;
        let actor = executor
            .state_tree()
            .get_actor(id)?
            .ok_or_else(|| anyhow!("no actor {id}"))?;
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
