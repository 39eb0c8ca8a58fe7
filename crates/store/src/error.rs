//! The store's error type: one enum, one variant per way a request can fail.

use crate::types::KeyValue;
use std::path::PathBuf;

/// Result with the store's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Why a store request failed.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// `create` found the key already there; carries the current record.
    #[error("key already exists (mod revision {})", current.mod_revision)]
    AlreadyExists {
        /// The record that is there.
        current: Box<KeyValue>,
    },
    /// A conditional update or delete found another `mod_revision`; carries the current record
    /// so the caller can build a 409 with fresh data.
    #[error("mod revision mismatch: expected {expected}, current {}", current.mod_revision)]
    Conflict {
        /// The revision the caller expected.
        expected: i64,
        /// The record that is there.
        current: Box<KeyValue>,
    },
    /// The key of an update or delete does not exist.
    #[error("key not found")]
    NotFound,
    /// The requested revision was compacted away.
    #[error("required revision {requested} has been compacted (compacted revision {compacted})")]
    Compacted {
        /// The revision asked for.
        requested: i64,
        /// The store's compaction point (0 when the engine cannot tell).
        compacted: i64,
    },
    /// The requested revision has not been written yet.
    #[error("required revision {requested} is in the future (current revision {current})")]
    FutureRevision {
        /// The revision asked for.
        requested: i64,
        /// The store's current revision.
        current: i64,
    },
    /// The key is not acceptable.
    #[error("invalid key: {0}")]
    InvalidKey(&'static str),
    /// The value is larger than the store accepts.
    #[error("value of {size} bytes is over the limit of {limit} bytes")]
    ValueTooLarge {
        /// Size of the rejected value.
        size: usize,
        /// The limit.
        limit: usize,
    },
    /// A watcher fell too far behind and was cut off; it must re-list and watch again.
    #[error("watcher fell behind by more than {limit} events and was cut off")]
    WatcherLagged {
        /// The backlog limit that was exceeded.
        limit: usize,
    },
    /// The data file is damaged or belongs to something else. It is left untouched.
    #[error("data file {}: {detail}", path.display())]
    Corrupt {
        /// The file.
        path: PathBuf,
        /// What is wrong with it.
        detail: String,
    },
    /// An earlier write failed to reach stable storage; the engine refuses further writes
    /// rather than acknowledge anything it cannot vouch for.
    #[error("store is failed after an earlier storage error: {0}")]
    Failed(String),
    /// The store was closed.
    #[error("store is closed")]
    Closed,
    /// The engine's backend failed (I/O, SQLite, etcd RPC).
    #[error("{context}: {source}")]
    Backend {
        /// What the engine was doing.
        context: String,
        /// The underlying error.
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
}

impl Error {
    /// Wraps a backend error with what the engine was doing.
    pub(crate) fn backend(
        context: impl Into<String>,
        source: impl Into<Box<dyn std::error::Error + Send + Sync>>,
    ) -> Self {
        Error::Backend {
            context: context.into(),
            source: source.into(),
        }
    }
}
