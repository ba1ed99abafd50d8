use std::path::PathBuf;

/// Why the store could not do what was asked. Printed with `{}`, each names the folder or the
/// fact; the underlying error is also its `source()`.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("{}: the store is open in another process{}", dir.display(), holder.map(|p| format!(" (PID {p})")).unwrap_or_default())]
    Locked { dir: PathBuf, holder: Option<u32> },
    #[error("{}: this store is a {found}, not a {wanted}", dir.display())]
    WrongMode {
        dir: PathBuf,
        found: String,
        wanted: &'static str,
    },
    #[error("{}: not a prollydb store", dir.display())]
    NotAStore { dir: PathBuf },
    #[error("{}: store format version {found}; this build reads version {} only (export its roots to a CAR with the build that wrote it, then import-car)", dir.display(), super::VERSION)]
    Version { dir: PathBuf, found: u64 },
    #[error("the store is corrupt: {0}")]
    Corrupt(String),
    #[error("the writer was already committed")]
    Finished,
    #[error("{}: {source}", path.display())]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("redb: {0}")]
    Redb(#[source] Box<redb::Error>),
}
