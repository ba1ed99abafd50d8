//! The devnet node: the chain behind a lock, its mining policy, the message pool's checks (as
//! Lotus's `MpoolPushMessage` makes them, with its messages) and waiting for messages.

use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use anyhow::Result;
use cid::Cid;
use fvm_shared::address::{Address, Protocol};
use fvm_shared::econ::TokenAmount;
use fvm_shared::message::Message;
use prollydb::local_fvm::BASE_FEE_ATTO;
use tokio::sync::watch;

use crate::chain::{BLOCK_GAS_LIMIT, Chain, Location};
use crate::json;
use crate::message::{MAX_MESSAGE_SIZE, Signed};

/// When tipsets are mined.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mining {
    /// One tipset per pushed message, then an empty one that carries its receipt (and more
    /// empty ones when a waiter asks for confidence).
    Instant,
    /// One tipset per period, with whatever the pool holds.
    Every(Duration),
}

/// Why a push was refused: Lotus's message for it (a method error, code 1).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct Refused(pub String);

/// What waiting for a message found.
pub enum Waited {
    Found {
        location: Location,
        executed_at: i64,
    },
    Unknown,
}

pub struct Node {
    chain: Arc<Mutex<Chain>>,
    mining: Mining,
    heads: watch::Sender<i64>,
    /// Set when the devnet stops: a wait for tipsets that will never come ends.
    stopping: watch::Sender<bool>,
}

impl Node {
    pub fn new(chain: Chain, mining: Mining) -> Node {
        let height = chain.head().height();
        Node {
            chain: Arc::new(Mutex::new(chain)),
            mining,
            heads: watch::channel(height).0,
            stopping: watch::channel(false).0,
        }
    }

    pub fn mining(&self) -> Mining {
        self.mining
    }

    /// The chain, locked. Mining holds the lock while the FVM runs: from async code, read
    /// through [`Node::read`] instead.
    pub fn chain(&self) -> MutexGuard<'_, Chain> {
        self.chain.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Runs `f` on the chain off the async threads, without mining.
    pub async fn read<T: Send + 'static>(
        &self,
        f: impl FnOnce(&Chain) -> T + Send + 'static,
    ) -> Result<T> {
        let chain = self.chain.clone();
        Ok(
            tokio::task::spawn_blocking(move || {
                f(&chain.lock().unwrap_or_else(|e| e.into_inner()))
            })
            .await?,
        )
    }

    /// Runs `f` on the chain off the async threads (mining runs the FVM).
    pub async fn with_chain<T: Send + 'static>(
        &self,
        f: impl FnOnce(&mut Chain) -> T + Send + 'static,
    ) -> Result<T> {
        let chain = self.chain.clone();
        let out = tokio::task::spawn_blocking(move || {
            let mut chain = chain.lock().unwrap_or_else(|e| e.into_inner());
            f(&mut chain)
        })
        .await?;
        self.heads.send_replace(self.chain().head().height());
        Ok(out)
    }

    /// Mines a tipset now (the clock's tick, or a test's).
    pub async fn mine(&self) -> Result<()> {
        self.with_chain(|chain| chain.mine()).await?
    }

    /// `MpoolPushMessage`: checks, fills in the nonce and gas, signs for a dev account, and
    /// pools the message (mining at once on an instant chain).
    pub async fn push(&self, message: Message) -> Result<Result<Signed, Refused>> {
        let instant = self.mining == Mining::Instant;
        self.with_chain(move |chain| {
            let signed = match prepare(chain, message) {
                Ok(signed) => signed,
                Err(refused) => return Ok(Err(refused)),
            };
            chain.add(signed.clone());
            if instant {
                chain.mine()?;
                chain.mine()?;
            }
            Ok(Ok(signed))
        })
        .await?
    }

    /// Waits until message `cid` has run and `confidence` tipsets follow the one that carries
    /// its receipt. On an instant chain the tipsets are mined on demand.
    pub async fn wait(&self, cid: Cid, confidence: u64) -> Result<Waited> {
        let mut heads = self.heads.subscribe();
        let mut stopping = self.stopping.subscribe();
        loop {
            let (found, head, pooled) = {
                let chain = self.chain();
                (
                    chain.locate(&cid),
                    chain.head().height(),
                    chain.in_pool(&cid),
                )
            };
            match found {
                Some(location) => {
                    let executed_at = location.height + 1;
                    let needed = executed_at + confidence as i64;
                    if head >= needed {
                        return Ok(Waited::Found {
                            location,
                            executed_at,
                        });
                    }
                    if self.mining == Mining::Instant {
                        // One tipset at a time: others get the chain in between.
                        self.with_chain(move |chain| -> Result<()> {
                            if chain.head().height() < needed {
                                chain.mine()?;
                            }
                            Ok(())
                        })
                        .await??;
                        continue;
                    }
                }
                None if !pooled => return Ok(Waited::Unknown),
                None => {}
            }
            tokio::select! {
                changed = heads.changed() => changed?,
                _ = stopping.wait_for(|stopping| *stopping) => anyhow::bail!("the devnet is stopping"),
            }
        }
    }

    /// Ends the waits in progress, and those to come, with an error: the devnet is stopping.
    pub fn stop_waits(&self) {
        self.stopping.send_replace(true);
    }
}

/// Lotus's checks, in its order, with its messages (node/impl/full/mpool.go, PROTOCOLS A4).
fn prepare(chain: &Chain, mut message: Message) -> Result<Signed, Refused> {
    let from = json::address(&message.from);
    let refuse = |why: String| Err(Refused(why));
    if message.version != 0 {
        return refuse(format!(
            "message from {from} failed sanity check: 'Version' unsupported"
        ));
    }
    for (field, value) in [
        ("Value", &message.value),
        ("GasFeeCap", &message.gas_fee_cap),
        ("GasPremium", &message.gas_premium),
    ] {
        if value.is_negative() {
            return refuse(format!(
                "message from {from} failed sanity check: '{field}' field cannot be negative"
            ));
        }
    }
    if message.gas_limit > BLOCK_GAS_LIMIT {
        return refuse(format!(
            "message from {from} failed sanity check: 'GasLimit' field cannot be greater than a block's gas limit ({} > {BLOCK_GAS_LIMIT})",
            message.gas_limit
        ));
    }
    let state = chain.head().header.parent_state_root;
    let on_chain = |address: &Address| {
        chain
            .actor(&state, address)
            .map_err(|e| Refused(format!("reading the state: {e:#}")))
    };
    // An ID sender is replaced by its key address.
    if message.from.protocol() == Protocol::ID {
        let Some((id, _)) = on_chain(&message.from)? else {
            return refuse(format!("getting key address: failed to find actor: {from}"));
        };
        match chain.accounts().iter().find(|a| a.id == id) {
            Some(account) => message.from = account.address,
            None => {
                return refuse(format!(
                    "failed to sign message: key not found for {from}, addr={from}"
                ));
            }
        }
    }
    if message.sequence != 0 {
        return refuse(format!(
            "MpoolPushMessage expects message nonce to be 0, was {}",
            message.sequence
        ));
    }
    let from = json::address(&message.from);
    let Some((_, sender)) = on_chain(&message.from)? else {
        return refuse(format!(
            "GasEstimateMessageGas error: gas estimation failed: CallWithGas failed: sender {from} not found on chain: sender validation failed"
        ));
    };
    let Some(account) = chain.accounts().iter().find(|a| a.address == message.from) else {
        return refuse(format!(
            "failed to sign message: key not found for {from}, addr={from}"
        ));
    };
    // Gas left to the node: the block limit, at the base fee (a devnet does not estimate).
    if message.gas_limit == 0 {
        message.gas_limit = BLOCK_GAS_LIMIT;
    }
    if message.gas_fee_cap.is_zero() {
        message.gas_fee_cap = TokenAmount::from_atto(BASE_FEE_ATTO);
    }
    let required = &message.value + &message.gas_fee_cap * message.gas_limit;
    if sender.balance < required {
        return refuse(format!(
            "mpool push: not enough funds: {} < {}",
            sender.balance.atto(),
            required.atto()
        ));
    }
    if message.gas_premium > message.gas_fee_cap {
        return refuse(format!(
            "message from {from} failed sanity check: 'GasFeeCap' less than 'GasPremium'"
        ));
    }
    message.sequence = chain
        .next_nonce(&message.from)
        .map_err(|e| Refused(format!("mpool push: getting nonce: {e:#}")))?;
    let signed = Signed::sign(message, &account.key)
        .map_err(|e| Refused(format!("failed to sign message: {e:#}, addr={from}")))?;
    // A limit under the cost of the message's own bytes fails before it runs, and would leave
    // the sender's nonce behind for the messages after it: Lotus refuses it at the pool.
    let minimum = fvm::gas::price_list_by_network_version(prollydb::local_fvm::NETWORK_VERSION)
        .on_chain_message(signed.bytes.len())
        .total()
        .round_up();
    if signed.message.gas_limit < minimum {
        return refuse(format!(
            "message from {from} failed sanity check: 'GasLimit' field cannot be less than the cost of storing a message on chain {} < {minimum}",
            signed.message.gas_limit
        ));
    }
    if signed.bytes.len() > MAX_MESSAGE_SIZE {
        return refuse(format!(
            "mpool push: failed to push message: mpool message too large ({}B): message too big",
            signed.bytes.len()
        ));
    }
    Ok(signed)
}
