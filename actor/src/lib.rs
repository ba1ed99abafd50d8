//! The prollydb actor: the document database in its state, run by the same `prolly_db` executor
//! as clients and verifiers. `lib.rs` dispatches; `state.rs` is the state tuple; `types.rs` the
//! method numbers, params and returns.
//!
//! Every refusal is a specific exit code and leaves the state root unchanged: a message that
//! aborts commits nothing.

pub mod state;
pub mod types;

pub use state::State;
pub use types::{ConstructorParams, RootReturn, SetWritersParams, actor_config, method};

#[cfg(feature = "actor")]
mod wasm {
    use cid::Cid;
    use fvm_actor_utils::blockstore::Blockstore;
    use fvm_ipld_encoding::CBOR;
    use fvm_sdk as sdk;
    use fvm_shared::address::Address;
    use fvm_shared::error::ExitCode;
    use fvm_shared::event::{ActorEvent, Entry, Flags};
    use prolly_db::{Database, Query, Work, WriteBatch};
    use prolly_tree::Outcome;
    use serde::Serialize;
    use serde::de::DeserializeOwned;

    use crate::types::{self, method};
    use crate::{ConstructorParams, RootReturn, SetWritersParams, State};

    fn abort(code: ExitCode, message: &str) -> ! {
        sdk::vm::abort(code.value(), Some(message))
    }

    /// Aborts with the exit code of a database error (`types::exit_code`) and its message.
    fn fail(e: &prolly_db::Error) -> ! {
        abort(types::exit_code(e), &e.to_string())
    }

    fn params_bytes(id: u32) -> Vec<u8> {
        match sdk::message::params_raw(id) {
            Ok(Some(block)) => block.data,
            Ok(None) => abort(ExitCode::USR_ILLEGAL_ARGUMENT, "missing params"),
            Err(e) => abort(ExitCode::USR_SERIALIZATION, &format!("params: {e:?}")),
        }
    }

    fn params<T: DeserializeOwned>(id: u32) -> T {
        let bytes = params_bytes(id);
        fvm_ipld_encoding::from_slice(&bytes)
            .unwrap_or_else(|e| abort(ExitCode::USR_SERIALIZATION, &format!("params: {e}")))
    }

    fn ret<T: Serialize>(value: &T) -> u32 {
        let bytes = fvm_ipld_encoding::to_vec(value)
            .unwrap_or_else(|e| abort(ExitCode::USR_SERIALIZATION, &format!("return: {e}")));
        ret_raw(bytes)
    }

    fn ret_raw(bytes: Vec<u8>) -> u32 {
        sdk::ipld::put_block(CBOR, &bytes)
            .unwrap_or_else(|e| abort(ExitCode::USR_SERIALIZATION, &format!("return: {e:?}")))
    }

    fn load_state() -> State {
        let root = sdk::sself::root()
            .unwrap_or_else(|_| abort(ExitCode::USR_ILLEGAL_STATE, "no state: not constructed"));
        let bytes = sdk::ipld::get(&root)
            .unwrap_or_else(|e| abort(ExitCode::USR_ILLEGAL_STATE, &format!("state: {e:?}")));
        fvm_ipld_encoding::from_slice(&bytes)
            .unwrap_or_else(|e| abort(ExitCode::USR_ILLEGAL_STATE, &format!("state: {e}")))
    }

    fn save_state(state: &State) {
        let bytes = fvm_ipld_encoding::to_vec(state).expect("state encodes");
        let cid = sdk::ipld::put(0xb220, 32, fvm_ipld_encoding::DAG_CBOR, &bytes)
            .unwrap_or_else(|e| abort(ExitCode::USR_ILLEGAL_STATE, &format!("state: {e:?}")));
        sdk::sself::set_root(&cid)
            .unwrap_or_else(|e| abort(ExitCode::USR_ILLEGAL_STATE, &format!("state: {e:?}")));
    }

    fn caller_address() -> Address {
        Address::new_id(sdk::message::caller())
    }

    fn open(state: &State) -> Database<Blockstore> {
        match Database::open_unchecked(Blockstore, state.db_root) {
            // The kernel hashed every block when it was linked: reading them needs no second check.
            Ok(Outcome::Complete(db)) => db.trusting_store(),
            Ok(Outcome::Missing(_)) => abort(types::EXIT_MISSING_BLOCK, "database root missing"),
            Err(e) => fail(&e),
        }
    }

    fn emit_commit(root: &Cid, seq: u64) {
        let value = |v: &dyn erased::Encode| v.cbor();
        let entries = vec![
            Entry {
                flags: Flags::FLAG_INDEXED_ALL,
                key: types::EVENT_ROOT.into(),
                codec: CBOR,
                value: value(root),
            },
            Entry {
                flags: Flags::FLAG_INDEXED_ALL,
                key: types::EVENT_SEQ.into(),
                codec: CBOR,
                value: value(&seq),
            },
        ];
        sdk::event::emit_event(&ActorEvent::from(entries))
            .unwrap_or_else(|e| abort(ExitCode::USR_ILLEGAL_STATE, &format!("event: {e:?}")));
    }

    mod erased {
        pub trait Encode {
            fn cbor(&self) -> Vec<u8>;
        }
        impl<T: serde::Serialize> Encode for T {
            fn cbor(&self) -> Vec<u8> {
                fvm_ipld_encoding::to_vec(self).expect("encodes")
            }
        }
    }

    fn constructor(id: u32) -> u32 {
        if sdk::sself::root().is_ok_and(|root| root != fvm_shared::EMPTY_ARR_CID) {
            abort(ExitCode::USR_FORBIDDEN, "already constructed");
        }
        let p: ConstructorParams = params(id);
        let config = p.config.unwrap_or_else(types::actor_config);
        if let Err(e) = config.validate() {
            abort(ExitCode::USR_ILLEGAL_ARGUMENT, &e.to_string());
        }
        let db = Database::create(Blockstore, config)
            .unwrap_or_else(|e| abort(ExitCode::USR_ILLEGAL_STATE, &e.to_string()));
        save_state(&State {
            owner: p.owner,
            writers: p.writers,
            db_root: db.root(),
            seq: 0,
        });
        sdk::NO_DATA_BLOCK_ID
    }

    fn apply(id: u32) -> u32 {
        let mut state = load_state();
        let caller = caller_address();
        if caller != state.owner && !state.writers.contains(&caller) {
            abort(ExitCode::USR_FORBIDDEN, "the caller is not a writer");
        }
        let batch = WriteBatch::from_cbor(&params_bytes(id)).unwrap_or_else(|e| fail(&e));
        let mut db = open(&state);
        let root = match db.apply(&batch) {
            Ok(Outcome::Complete(root)) => root,
            Ok(Outcome::Missing(_)) => {
                abort(types::EXIT_MISSING_BLOCK, "a database block is missing")
            }
            Err(e) => fail(&e),
        };
        state.db_root = root;
        state.seq += 1;
        save_state(&state);
        emit_commit(&root, state.seq);
        ret(&RootReturn {
            root,
            seq: state.seq,
        })
    }

    fn query(id: u32) -> u32 {
        let state = load_state();
        let query = Query::from_cbor(&params_bytes(id)).unwrap_or_else(|e| fail(&e));
        let db = open(&state);
        // On-chain work is bounded: no full scans, no in-memory sorts (the executor's rule). The
        // query itself runs as sent, so that its result and cursor are the ones a proof carries.
        match db.query_encoded(&query, Work::Bounded) {
            Ok(Outcome::Complete(result)) => ret_raw(result.to_cbor()),
            Ok(Outcome::Missing(_)) => {
                abort(types::EXIT_MISSING_BLOCK, "a database block is missing")
            }
            Err(e) => fail(&e),
        }
    }

    fn root() -> u32 {
        let state = load_state();
        ret(&RootReturn {
            root: state.db_root,
            seq: state.seq,
        })
    }

    fn set_writers(id: u32) -> u32 {
        let mut state = load_state();
        if caller_address() != state.owner {
            abort(ExitCode::USR_FORBIDDEN, "only the owner sets writers");
        }
        let p: SetWritersParams = params(id);
        state.writers = p.writers;
        save_state(&state);
        sdk::NO_DATA_BLOCK_ID
    }

    #[unsafe(no_mangle)]
    pub fn invoke(id: u32) -> u32 {
        sdk::initialize();
        match sdk::message::method_number() {
            method::CONSTRUCTOR => constructor(id),
            method::APPLY => apply(id),
            method::QUERY => query(id),
            method::ROOT => root(),
            method::SET_WRITERS => set_writers(id),
            _ => abort(ExitCode::USR_UNHANDLED_MESSAGE, "unknown method"),
        }
    }
}
