//! Where a root comes from. A proof proves a result *at a root*, and is worth what that root is
//! worth: every answer names its root and its origin.

use std::fmt;

use cid::Cid;

/// How the reader came by a root.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Origin {
    /// Given by the user (on the command line, in code).
    Given,
    /// The current root (`HEAD`) of a local database.
    LocalHead,
    /// A root the local store pins under this name.
    Pinned(String),
    /// Read from a prollydb actor's state through a node: the node chose the head and the state,
    /// so the root is as trustworthy as that node.
    Actor {
        node: String,
        actor: u64,
        state_root: Cid,
        height: i64,
    },
    /// Read from a prollydb actor's state at a state root the user gave (and trusts): the path
    /// from that state root to the database root is proven.
    StateRoot { actor: u64, state_root: Cid },
}

/// A root and where it came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TrustedRoot {
    pub cid: Cid,
    pub origin: Origin,
}

impl TrustedRoot {
    pub fn given(cid: Cid) -> TrustedRoot {
        TrustedRoot {
            cid,
            origin: Origin::Given,
        }
    }
}

impl fmt::Display for TrustedRoot {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.origin {
            Origin::Given => write!(f, "root {} (given)", self.cid),
            Origin::LocalHead => write!(f, "root {} (the local database's HEAD)", self.cid),
            Origin::Pinned(name) => write!(f, "root {} (pinned as {name})", self.cid),
            Origin::Actor {
                node,
                actor,
                state_root,
                height,
            } => write!(
                f,
                "root {} (actor f0{actor} at height {height}, state root {state_root}; root from \
                 {node}, not independently checked)",
                self.cid
            ),
            Origin::StateRoot { actor, state_root } => write!(
                f,
                "root {} (actor f0{actor} in state root {state_root}, given: trusted)",
                self.cid
            ),
        }
    }
}
