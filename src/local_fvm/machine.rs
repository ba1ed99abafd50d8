//! The FVM over any blockstore, built from a state root: what a chain runs for each tipset. The
//! compiled actor code lives in an [`Engine`], shared by the machines of successive tipsets
//! (compiling the actor's Wasm takes about 0.25 s optimized, several seconds unoptimized).

use anyhow::{Context, Result, anyhow};
use cid::Cid;
use fvm::DefaultKernel;
use fvm::call_manager::DefaultCallManager;
use fvm::engine::EnginePool;
use fvm::executor::{ApplyKind, ApplyRet, DefaultExecutor, Executor};
use fvm::machine::{DefaultMachine, Machine as _, NetworkConfig};
use fvm::state_tree::ActorState;
use fvm_integration_tests::dummy::DummyExterns;
use fvm_ipld_blockstore::{Blockstore, MemoryBlockstore};
use fvm_shared::ActorID;
use fvm_shared::econ::TokenAmount;
use fvm_shared::message::Message;

use super::{NETWORK_VERSION, synthetic_manifest};

/// The base fee every tipset runs at (as the Tester does).
pub const BASE_FEE_ATTO: u64 = 100;

type Kernel<B> = DefaultKernel<DefaultCallManager<DefaultMachine<B, DummyExterns>>>;

fn network_config() -> Result<NetworkConfig> {
    let bundle = synthetic_manifest(&MemoryBlockstore::default())?;
    let mut nc = NetworkConfig::new(NETWORK_VERSION);
    nc.override_actors(bundle);
    Ok(nc)
}

/// Compiled actor code, kept across machines.
#[derive(Clone)]
pub struct Engine {
    pool: EnginePool,
}

impl Engine {
    pub fn new() -> Result<Engine> {
        let nc = network_config()?;
        Ok(Engine {
            pool: EnginePool::new((&nc).into())?,
        })
    }

    /// Compiles the code of `actors` (read from `store` at `state_root`) unless already done.
    fn preload<B: Blockstore + 'static>(
        &self,
        machine: &DefaultMachine<B, DummyExterns>,
        actors: &[ActorID],
    ) -> Result<()> {
        let engine = self.pool.acquire();
        for id in actors {
            let actor = machine
                .state_tree()
                .get_actor(*id)?
                .ok_or_else(|| anyhow!("no actor {id} in the state"))?;
            engine
                .preload(&actor.code, machine.blockstore())
                .with_context(|| format!("compiling the code of actor {id}"))?;
        }
        Ok(())
    }
}

/// The machine of one tipset: the state at its start, the epoch and the time.
pub struct Machine<B: Blockstore + 'static> {
    executor: DefaultExecutor<Kernel<B>>,
}

impl<B: Blockstore + 'static> Machine<B> {
    /// A machine at `state_root` (which `store` must hold) for epoch `epoch`. `actors` are the
    /// Wasm actors messages may call: their code is compiled once per engine.
    pub fn at(
        engine: &Engine,
        store: B,
        state_root: Cid,
        epoch: i64,
        timestamp: u64,
        actors: &[ActorID],
    ) -> Result<Machine<B>> {
        let nc = network_config()?;
        let mut mc = nc.for_epoch(epoch, timestamp, state_root);
        mc.set_base_fee(TokenAmount::from_atto(BASE_FEE_ATTO));
        let machine = DefaultMachine::new(&mc, store, DummyExterns)?;
        engine.preload(&machine, actors)?;
        Ok(Machine {
            executor: DefaultExecutor::new(engine.pool.clone(), machine)?,
        })
    }

    /// Applies a message as a chain does (its nonce checked and bumped, gas charged on its
    /// serialized length `length`, which for a signed message includes the signature).
    pub fn execute(&mut self, message: Message, length: usize) -> Result<ApplyRet> {
        self.executor
            .execute_message(message, ApplyKind::Explicit, length)
    }

    /// An actor in the current (unflushed) state.
    pub fn actor(&self, id: ActorID) -> Result<Option<ActorState>> {
        Ok(self.executor.state_tree().get_actor(id)?)
    }

    /// Writes the state's new blocks to the store below and returns the state root.
    pub fn flush(&mut self) -> Result<Cid> {
        self.executor.flush()
    }

    /// The store, with the machine's unflushed writes.
    pub fn blockstore(&self) -> &impl Blockstore {
        self.executor.blockstore()
    }
}
