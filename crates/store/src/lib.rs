//! The revisioned key-value store under the Skiff API server.
//!
//! Every object of the cluster is one key. Every committed write gets the next value of one global
//! revision counter; that number is the `resourceVersion` users see. Reads can be served at the
//! current or at any past revision that has not been compacted, and watches deliver every change
//! after a revision exactly once, in revision order, with the value the key had before.
//!
//! The crate knows nothing of Kubernetes: keys and values are bytes. [`Store`] is the contract; two
//! engines implement it:
//! - [`embedded::EmbeddedStore`], the default, durable on local disk (SQLite in WAL mode, group
//!   commit, one fsync shared by many writers), with an in-memory key index;
//! - [`etcd::EtcdStore`], over a real etcd v3 cluster.
//!
//! Both pass the same conformance suite (`tests/conformance.rs`).

mod error;
mod hub;
mod retention;
mod types;

pub mod embedded;
pub mod etcd;

pub use error::{Error, Result};
pub use retention::Retention;
pub use types::{
    Deleted, Event, EventKind, KeyValue, MAX_VALUE_BYTES, RangeRequest, RangeResponse, Status,
    WatchRequest, WatchStream, prefix_end,
};

use async_trait::async_trait;
use bytes::Bytes;
use std::time::Duration;

/// A revisioned key-value store with the semantics kube-apiserver needs from etcd v3.
///
/// Revisions start at 1 for the first write; `0` as a read revision means "current".
#[async_trait]
pub trait Store: Send + Sync + 'static {
    /// Reads keys at the current or at a past revision.
    async fn range(&self, req: RangeRequest) -> Result<RangeResponse>;

    /// Creates `key` if it does not exist. On success returns the stored record.
    ///
    /// Fails with [`Error::AlreadyExists`] carrying the current record otherwise.
    /// With `ttl`, the key is deleted (with a watch event) once the time has passed.
    async fn create(&self, key: Bytes, value: Bytes, ttl: Option<Duration>) -> Result<KeyValue>;

    /// Replaces the value of `key` if its `mod_revision` is `expected_mod_revision`. The TTL is
    /// replaced too: an update without one makes the key permanent.
    ///
    /// Fails with [`Error::Conflict`] carrying the current record when the key changed, and with
    /// [`Error::NotFound`] when it does not exist.
    async fn update(
        &self,
        key: Bytes,
        value: Bytes,
        expected_mod_revision: i64,
        ttl: Option<Duration>,
    ) -> Result<KeyValue>;

    /// Deletes `key`, only if its `mod_revision` is `expected_mod_revision` when one is given.
    ///
    /// Returns the deleted record and the revision of the deletion.
    async fn delete(&self, key: Bytes, expected_mod_revision: Option<i64>) -> Result<Deleted>;

    /// Watches every change in a key range after a revision.
    async fn watch(&self, req: WatchRequest) -> Result<WatchStream>;

    /// Discards history before `revision`: reads and watches below it fail with
    /// [`Error::Compacted`] afterwards. Returns once the space is reclaimed.
    async fn compact(&self, revision: i64) -> Result<()>;

    /// Current revision, compaction point and size on disk.
    async fn status(&self) -> Result<Status>;

    /// Reads one key at the current revision (a convenience over [`Store::range`]).
    async fn get(&self, key: Bytes) -> Result<Option<KeyValue>> {
        let mut resp = self.range(RangeRequest::key(key)).await?;
        Ok(resp.kvs.pop())
    }
}

/// Validates a key the way both engines require: non-empty.
pub(crate) fn check_key(key: &[u8]) -> Result<()> {
    if key.is_empty() {
        return Err(Error::InvalidKey("key must not be empty"));
    }
    Ok(())
}

/// Validates a value against [`MAX_VALUE_BYTES`].
pub(crate) fn check_value(value: &[u8]) -> Result<()> {
    if value.len() > MAX_VALUE_BYTES {
        return Err(Error::ValueTooLarge {
            size: value.len(),
            limit: MAX_VALUE_BYTES,
        });
    }
    Ok(())
}
