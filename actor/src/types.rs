//! Method numbers, params and returns. `Apply` takes a `prolly_db::WriteBatch` and `Query` a
//! `prolly_db::Query`, each as its canonical DAG-CBOR bytes (the params block's data); `Query`
//! returns the canonical `QueryResult` bytes, byte-identical to what a proof carries.

use cid::Cid;
use fvm_shared::address::Address;
use fvm_shared::error::ExitCode;
use prolly_tree::Config;
use serde_tuple::{Deserialize_tuple, Serialize_tuple};

/// FRC-0042 method numbers.
pub mod method {
    use frc42_dispatch::method_hash;
    pub const CONSTRUCTOR: u64 = 1;
    pub const APPLY: u64 = method_hash!("Apply");
    pub const QUERY: u64 = method_hash!("Query");
    pub const ROOT: u64 = method_hash!("Root");
    pub const SET_WRITERS: u64 = method_hash!("SetWriters");
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize_tuple, Deserialize_tuple)]
pub struct ConstructorParams {
    pub owner: Address,
    pub writers: Vec<Address>,
    /// The tree's node sizes; `null` takes [`actor_config`]. Fixed for the database's life: it is
    /// part of the root object, and history independence holds only under one config.
    pub config: Option<Config>,
}

/// The node sizes an actor's database gets by default: leaves of ~1 KiB, internal nodes of
/// ~768 B, larger than the off-chain default ([`Config::default`], 512 / 384). On-chain every
/// block written costs ~506k gas plus 3,362 gas per byte and every block opened ~190k, so fewer,
/// somewhat larger nodes win: chosen with `gas-bench` over 1k–100k documents (spec/SPEC.md §19).
pub fn actor_config() -> Config {
    Config::with_targets(1024, 768)
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize_tuple, Deserialize_tuple)]
pub struct SetWritersParams {
    pub writers: Vec<Address>,
}

/// What `Apply` and `Root` return.
#[derive(Debug, Clone, PartialEq, Eq, Serialize_tuple, Deserialize_tuple)]
pub struct RootReturn {
    pub root: Cid,
    pub seq: u64,
}

/// Event keys of a commit (FIP-0049, CBOR values, indexed).
pub const EVENT_ROOT: &str = "root";
pub const EVENT_SEQ: &str = "seq";

/// Exit codes beyond the standard ones: a missing block means the actor's own state is broken.
pub const EXIT_MISSING_BLOCK: ExitCode = ExitCode::USR_ILLEGAL_STATE;

/// The exit code of a refused or failed `Apply` or `Query` (spec/SPEC.md §19): the one mapping
/// from database errors to exit codes.
pub fn exit_code(e: &prolly_db::Error) -> ExitCode {
    use prolly_db::{Error, Refusal};
    match e {
        Error::Refused(refusal)
        | Error::Write {
            reason: refusal, ..
        } => match refusal {
            Refusal::Malformed { .. } => ExitCode::USR_SERIALIZATION,
            Refusal::NoCollection(_) | Refusal::NoIndex(_) | Refusal::NotFound(_) => {
                ExitCode::USR_NOT_FOUND
            }
            _ => ExitCode::USR_ILLEGAL_ARGUMENT,
        },
        // Input that no node can hold (an entry over the node cap, a value DAG-CBOR cannot hold).
        Error::Tree(prolly_tree::Error::Invalid(_)) => ExitCode::USR_ILLEGAL_ARGUMENT,
        // The actor's own database is broken: a missing or corrupt block, a bad header.
        Error::Tree(_) | Error::NotADatabase(_) | Error::Corrupt { .. } => {
            ExitCode::USR_ILLEGAL_STATE
        }
    }
}

#[cfg(test)]
mod tests {
    use fvm_shared::error::ExitCode;
    use prolly_db::{Error, Refusal};

    use super::{exit_code, method};

    #[test]
    fn every_kind_of_error_has_its_exit_code() {
        let write = |reason| Error::Write {
            op: 3,
            id: Some("\"x\"".into()),
            reason,
        };
        let cases = [
            (
                Error::Refused(Refusal::Malformed {
                    what: "query",
                    reason: "x".into(),
                }),
                ExitCode::USR_SERIALIZATION,
            ),
            (
                Error::Refused(Refusal::NoCollection("c".into())),
                ExitCode::USR_NOT_FOUND,
            ),
            (
                write(Refusal::NoCollection("c".into())),
                ExitCode::USR_NOT_FOUND,
            ),
            (write(Refusal::NoIndex("i".into())), ExitCode::USR_NOT_FOUND),
            (
                write(Refusal::NotFound("1".into())),
                ExitCode::USR_NOT_FOUND,
            ),
            (
                write(Refusal::DuplicateId("1".into())),
                ExitCode::USR_ILLEGAL_ARGUMENT,
            ),
            (
                Error::Refused(Refusal::Unbounded("full scan".into())),
                ExitCode::USR_ILLEGAL_ARGUMENT,
            ),
            (
                Error::Tree(prolly_tree::Missing(Default::default()).into()),
                ExitCode::USR_ILLEGAL_STATE,
            ),
            (
                Error::NotADatabase("absent".into()),
                ExitCode::USR_ILLEGAL_STATE,
            ),
        ];
        for (error, code) in cases {
            assert_eq!(exit_code(&error), code, "{error}");
        }
    }

    /// The numbers are part of the interface (spec/SPEC.md §19): a renamed method must not move.
    #[test]
    fn method_numbers_are_stable() {
        assert_eq!(method::APPLY, 2_689_510_943);
        assert_eq!(method::QUERY, 1_961_070_382);
        assert_eq!(method::ROOT, 3_357_777_157);
        assert_eq!(method::SET_WRITERS, 697_426_076);
    }
}
