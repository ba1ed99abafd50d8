//! prollydb proofs: a query result with the blocks the query read.
//!
//! A light client holding nothing but a root (a database root, or a Filecoin state root and an
//! actor ID) checks a result by re-running the same `prolly_db` executor over the proof's blocks:
//! membership, absence, range completeness, sorted and limited index queries, pages and counts all
//! follow from that one mechanism, because the executor itself must read past a range's edges to
//! finish. A proof is one strict CARv1 (spec/SPEC.md, "Proofs"): an envelope block saying what is
//! proven, then the witness blocks in CID order.
//!
//! ```
//! use fvm_ipld_blockstore::MemoryBlockstore;
//! use prolly_db::{Database, Query, WriteBatch};
//! use prolly_proofs::{prove, verify};
//! use prolly_tree::Config;
//!
//! let store = MemoryBlockstore::default();
//! let mut db = Database::create(&store, Config::default())?;
//! db.apply(&WriteBatch::from_json(r#"{"ops": [{"op": "create_collection", "collection": "c"},
//!     {"op": "insert", "collection": "c", "doc": {"_id": 1, "x": "a"}}]}"#)?)?.into_result()?;
//! let query = Query::from_json(r#"{"collection": "c", "filter": {"_id": 1}}"#)?;
//! let proof = prove(&store, db.root(), &query)?.into_result()?;
//! assert!(verify(&db.root(), &query, &proof.result, &proof.bytes).is_ok());
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

mod anchor;
pub mod car;
mod envelope;
mod error;
mod proof;
mod record;
mod witness;

pub use anchor::{
    ACTORS_HAMT_BIT_WIDTH, ActorEntry, ActorProof, DB_ROOT_POSITION, actor, db_root, id_address,
    prove_actor, state_db_root, verify_actor,
};
pub use envelope::{Envelope, PROOF_VERSION, Subject};
pub use error::{AnchorError, ProveError, VerifyError};
pub use proof::{
    Proof, prove, prove_anchored, prove_diff, verify, verify_anchored, verify_claim,
    verify_claim_anchored, verify_diff,
};
pub use record::{Misses, RecordingStore};
