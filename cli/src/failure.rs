//! A failure is one line naming what went wrong, and an exit code.

use std::fmt::Display;

pub struct Failure {
    pub code: u8,
    pub message: String,
}

pub type Result<T> = std::result::Result<T, Failure>;

impl Failure {
    pub fn new(message: impl Display) -> Failure {
        Failure {
            code: 1,
            message: message.to_string(),
        }
    }

    pub fn usage(message: impl Display) -> Failure {
        Failure {
            code: 2,
            message: message.to_string(),
        }
    }

    /// A proof that does not verify.
    pub fn unverified(message: impl Display) -> Failure {
        Failure {
            code: 3,
            message: message.to_string(),
        }
    }
}

/// `.context("what")?`: an error becomes a failure that says what was being done.
pub trait Context<T> {
    fn context(self, what: impl Display) -> Result<T>;
}

impl<T, E: Display> Context<T> for std::result::Result<T, E> {
    fn context(self, what: impl Display) -> Result<T> {
        self.map_err(|e| Failure::new(format!("{what}: {e}")))
    }
}

/// Errors that already name their subject (a file and row, a store folder, a document).
pub fn plain<E: Display>(e: E) -> Failure {
    Failure::new(e)
}
