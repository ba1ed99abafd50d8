//! The outcome of a read: complete, or missing the blocks it could not find.
//!
//! A reader over a partial store (a client's cache, a proof witness) is not failing when a block
//! is absent; it simply cannot finish yet. Every read returns `Result<Outcome<T>>`: the error is
//! for corrupt data and store failures, the outcome says whether the value is complete.

use std::collections::BTreeSet;

use cid::Cid;

use crate::error::Missing;

/// Either the complete value, or the sorted set of CIDs the read needs and the store lacks.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome<T> {
    Complete(T),
    Missing(BTreeSet<Cid>),
}

impl Outcome<()> {
    /// Complete when nothing is missing.
    pub fn from_missing(missing: BTreeSet<Cid>) -> Self {
        if missing.is_empty() {
            Outcome::Complete(())
        } else {
            Outcome::Missing(missing)
        }
    }
}

impl<T> Outcome<T> {
    pub fn missing_one(cid: Cid) -> Self {
        Outcome::Missing(BTreeSet::from([cid]))
    }

    pub fn is_complete(&self) -> bool {
        matches!(self, Outcome::Complete(_))
    }

    /// The value, if complete.
    pub fn complete(self) -> Option<T> {
        match self {
            Outcome::Complete(v) => Some(v),
            Outcome::Missing(_) => None,
        }
    }

    /// The missing CIDs (empty when complete).
    pub fn missing(&self) -> BTreeSet<Cid> {
        match self {
            Outcome::Complete(_) => BTreeSet::new(),
            Outcome::Missing(m) => m.clone(),
        }
    }

    /// A complete outcome as it is; a missing one widened by `frontier`, which maps every block
    /// the operation needs. The frontier is only worked out when something is missing, so a
    /// complete store pays nothing for it.
    pub fn or_frontier(
        self,
        frontier: impl FnOnce() -> crate::Result<Outcome<()>>,
    ) -> crate::Result<Outcome<T>> {
        match self {
            Outcome::Complete(v) => Ok(Outcome::Complete(v)),
            Outcome::Missing(mut missing) => {
                missing.extend(frontier()?.missing());
                Ok(Outcome::Missing(missing))
            }
        }
    }

    pub fn map<U>(self, f: impl FnOnce(T) -> U) -> Outcome<U> {
        match self {
            Outcome::Complete(v) => Outcome::Complete(f(v)),
            Outcome::Missing(m) => Outcome::Missing(m),
        }
    }

    /// The value, or [`Missing`] carrying the CIDs, so that `?` works where a store should be
    /// complete: `db.query(&q)?.into_result()?`. Every crate's error converts from `Missing`.
    pub fn into_result(self) -> Result<T, Missing> {
        match self {
            Outcome::Complete(v) => Ok(v),
            Outcome::Missing(m) => Err(Missing(m)),
        }
    }

    /// The value, or a panic naming the missing blocks. For tests only: code uses
    /// [`Outcome::into_result`].
    #[track_caller]
    pub fn expect_complete(self) -> T {
        match self {
            Outcome::Complete(v) => v,
            Outcome::Missing(m) => panic!("read incomplete: {}", Missing(m)),
        }
    }
}

/// Unwraps a `Result<Outcome<T>>` inside a function returning `Result<Outcome<U>>`: errors and
/// missing blocks return early, a complete value is the expression's value.
#[macro_export]
macro_rules! ready {
    ($e:expr) => {
        match $e? {
            $crate::Outcome::Complete(v) => v,
            $crate::Outcome::Missing(m) => return Ok($crate::Outcome::Missing(m)),
        }
    };
}
