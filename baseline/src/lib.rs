//! The gas baseline for the prollydb actor: what a builtin actor would do with documents. Each
//! document's bytes sit in an fvm_ipld_hamt (bit width 5, as in Filecoin's state tree) under its
//! primary key. No secondary index, no queries beyond a point read: the cheapest reasonable way to
//! keep documents in actor state, so that prollydb's gas can be given as a ratio to it.

use cid::Cid;
use fvm_ipld_encoding::RawBytes;
use serde_tuple::{Deserialize_tuple, Serialize_tuple};

/// The HAMT's bit width: Filecoin's state tree and most builtin-actor maps use 5.
pub const BIT_WIDTH: u32 = 5;

/// The state tuple: the documents HAMT and how many documents it holds.
#[derive(Debug, Clone, PartialEq, Eq, Serialize_tuple, Deserialize_tuple)]
pub struct State {
    pub documents: Cid,
    pub count: u64,
}

/// `Put`: documents by primary key, inserted or replaced.
#[derive(Debug, Clone, PartialEq, Eq, Serialize_tuple, Deserialize_tuple)]
pub struct PutParams {
    pub documents: Vec<(RawBytes, RawBytes)>,
}

/// `Get`: a primary key; the return is the document's bytes, if any.
#[derive(Debug, Clone, PartialEq, Eq, Serialize_tuple, Deserialize_tuple)]
pub struct GetParams {
    pub key: RawBytes,
}

/// FRC-0042 method numbers.
pub mod method {
    use frc42_dispatch::method_hash;
    pub const CONSTRUCTOR: u64 = 1;
    pub const PUT: u64 = method_hash!("Put");
    pub const GET: u64 = method_hash!("Get");
}

#[cfg(feature = "actor")]
mod wasm {
    use fvm_actor_utils::blockstore::Blockstore;
    use fvm_ipld_encoding::{CBOR, DAG_CBOR, RawBytes};
    use fvm_ipld_hamt::{BytesKey, Hamt};
    use fvm_sdk as sdk;
    use fvm_shared::error::ExitCode;
    use serde::de::DeserializeOwned;

    use crate::{BIT_WIDTH, GetParams, PutParams, State, method};

    type Documents = Hamt<Blockstore, RawBytes, BytesKey>;

    fn abort(code: ExitCode, message: &str) -> ! {
        sdk::vm::abort(code.value(), Some(message))
    }

    fn params<T: DeserializeOwned>(id: u32) -> T {
        match sdk::message::params_raw(id) {
            Ok(Some(block)) => fvm_ipld_encoding::from_slice(&block.data)
                .unwrap_or_else(|e| abort(ExitCode::USR_SERIALIZATION, &format!("params: {e}"))),
            Ok(None) => abort(ExitCode::USR_ILLEGAL_ARGUMENT, "missing params"),
            Err(e) => abort(ExitCode::USR_SERIALIZATION, &format!("params: {e:?}")),
        }
    }

    fn illegal_state<E: std::fmt::Debug>(e: E) -> ! {
        abort(ExitCode::USR_ILLEGAL_STATE, &format!("{e:?}"))
    }

    fn load_state() -> State {
        let root = sdk::sself::root().unwrap_or_else(|e| illegal_state(e));
        let bytes = sdk::ipld::get(&root).unwrap_or_else(|e| illegal_state(e));
        fvm_ipld_encoding::from_slice(&bytes).unwrap_or_else(|e| illegal_state(e))
    }

    fn save_state(state: &State) {
        let bytes = fvm_ipld_encoding::to_vec(state).unwrap_or_else(|e| illegal_state(e));
        let cid = sdk::ipld::put(0xb220, 32, DAG_CBOR, &bytes).unwrap_or_else(|e| illegal_state(e));
        sdk::sself::set_root(&cid).unwrap_or_else(|e| illegal_state(e));
    }

    fn constructor() -> u32 {
        if sdk::sself::root().is_ok_and(|root| root != fvm_shared::EMPTY_ARR_CID) {
            abort(ExitCode::USR_FORBIDDEN, "already constructed");
        }
        let mut documents = Documents::new_with_bit_width(Blockstore, BIT_WIDTH);
        let root = documents.flush().unwrap_or_else(|e| illegal_state(e));
        save_state(&State {
            documents: root,
            count: 0,
        });
        sdk::NO_DATA_BLOCK_ID
    }

    fn put(id: u32) -> u32 {
        let p: PutParams = params(id);
        let mut state = load_state();
        let mut documents = Documents::load_with_bit_width(&state.documents, Blockstore, BIT_WIDTH)
            .unwrap_or_else(|e| illegal_state(e));
        for (key, document) in p.documents {
            let previous = documents
                .set(BytesKey(key.into()), document)
                .unwrap_or_else(|e| illegal_state(e));
            if previous.is_none() {
                state.count += 1;
            }
        }
        state.documents = documents.flush().unwrap_or_else(|e| illegal_state(e));
        save_state(&state);
        sdk::NO_DATA_BLOCK_ID
    }

    fn get(id: u32) -> u32 {
        let p: GetParams = params(id);
        let state = load_state();
        let documents = Documents::load_with_bit_width(&state.documents, Blockstore, BIT_WIDTH)
            .unwrap_or_else(|e| illegal_state(e));
        let found = documents
            .get(&BytesKey(p.key.into()))
            .unwrap_or_else(|e| illegal_state(e))
            .cloned();
        let bytes = fvm_ipld_encoding::to_vec(&found).unwrap_or_else(|e| illegal_state(e));
        sdk::ipld::put_block(CBOR, &bytes).unwrap_or_else(|e| illegal_state(e))
    }

    #[unsafe(no_mangle)]
    pub fn invoke(id: u32) -> u32 {
        sdk::initialize();
        match sdk::message::method_number() {
            method::CONSTRUCTOR => constructor(),
            method::PUT => put(id),
            method::GET => get(id),
            _ => abort(ExitCode::USR_UNHANDLED_MESSAGE, "unknown method"),
        }
    }
}
