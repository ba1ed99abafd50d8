//! A genesis state in any store: the synthetic manifest, the system, init, burnt-funds and EAM
//! actors, secp256k1 accounts whose keys are known (a devnet signs for them), and actors
//! installed from Wasm. The result is a state root; [`super::Machine`] runs messages on it.

use anyhow::{Context, Result};
use cid::Cid;
use fvm_integration_tests::dummy::DummyExterns;
use fvm_integration_tests::tester::Tester;
use fvm_ipld_blockstore::Blockstore;
use fvm_shared::ActorID;
use fvm_shared::address::Address;
use fvm_shared::econ::TokenAmount;
use fvm_shared::state::StateTreeVersion;
use k256::SecretKey;
use multihash_codetable::MultihashDigest;

use super::{Install, NETWORK_VERSION, synthetic_manifest};

/// An account at genesis, with its key.
#[derive(Clone)]
pub struct DevAccount {
    pub id: ActorID,
    /// Its secp256k1 (`f1`/`t1`) address.
    pub address: Address,
    pub key: SecretKey,
}

/// The key of dev account `index`: derived from a fixed seed, so that every devnet has the same
/// accounts (as anvil's are known) and a restarted one signs for them again with nothing stored.
pub fn dev_key(index: u32) -> SecretKey {
    let mut counter = 0u32;
    loop {
        let seed = format!("prollydb devnet account {index} {counter}");
        let digest = multihash_codetable::Code::Blake2b256.digest(seed.as_bytes());
        // A digest is a valid scalar but for a chance of about 2^-128.
        if let Ok(key) = SecretKey::from_slice(digest.digest()) {
            return key;
        }
        counter += 1;
    }
}

/// The secp256k1 (`f1`) address of `key`.
pub fn secp_address(key: &SecretKey) -> Result<Address> {
    use k256::elliptic_curve::sec1::ToEncodedPoint;
    let point = key.public_key().to_encoded_point(false);
    Ok(Address::new_secp256k1(point.as_bytes())?)
}

/// What genesis made.
pub struct Genesis {
    pub state_root: Cid,
    pub accounts: Vec<DevAccount>,
}

/// Writes a genesis state into `store`: `accounts` dev accounts holding `balance` each, then
/// the actors `setup` gives (it sees the accounts' ID addresses). Every block goes to `store`.
pub fn genesis<'a, B: Blockstore + Clone + 'static>(
    store: B,
    accounts: u32,
    balance: TokenAmount,
    setup: impl FnOnce(&B, &[Address]) -> Result<Vec<Install<'a>>>,
) -> Result<Genesis> {
    let bundle = synthetic_manifest(&store)?;
    let mut tester: Tester<B, DummyExterns> =
        Tester::new(NETWORK_VERSION, StateTreeVersion::V5, bundle, store.clone())?;
    let mut made = Vec::new();
    for index in 0..accounts {
        let key = dev_key(index);
        let (id, address) = tester.make_secp256k1_account(key.clone(), balance.clone())?;
        made.push(DevAccount { id, address, key });
    }
    let ids: Vec<Address> = made.iter().map(|a| Address::new_id(a.id)).collect();
    let installs = setup(&store, &ids)?;
    let empty = tester.set_state(&Vec::<u8>::new())?;
    for install in installs {
        tester.set_actor_from_bin(
            install.wasm,
            install.head.unwrap_or(empty),
            Address::new_id(install.id),
            TokenAmount::from_atto(0),
        )?;
    }
    let mut tree = tester.state_tree.take().context("the genesis state tree")?;
    let state_root = tree
        .flush()
        .map_err(|e| anyhow::anyhow!("flushing the genesis state: {e}"))?;
    Ok(Genesis {
        state_root,
        accounts: made,
    })
}
