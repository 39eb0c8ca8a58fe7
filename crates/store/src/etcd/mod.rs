//! The etcd v3 engine: [`EtcdStore`] keeps every key in a real etcd cluster.
//!
//! Each [`Store`] call is one etcd request (a transaction for the conditional writes), so the
//! semantics are etcd's own; the embedded engine copies them. TTLs are etcd leases, shared
//! between keys as kube-apiserver does (see `lease.rs`). With [`EtcdOptions::retention`] set, a
//! background task compacts old history the way kube-apiserver's compactor does.
//!
//! [`local::LocalEtcd`] runs a throwaway etcd server for tests and benchmarks.

mod convert;
mod lease;
pub mod local;
mod watch;

#[cfg(test)]
mod tests;

use crate::error::{Error, Result};
use crate::retention::{Retention, RevisionSamples};
use crate::types::{
    Deleted, KeyValue, RangeRequest, RangeResponse, Status, WatchRequest, WatchStream,
};
use crate::{Store, check_key, check_value};
use async_trait::async_trait;
use bytes::Bytes;
use convert::{header_revision, is_lease_not_found, key_value, key_value_ref, map_error};
use etcd_client::{
    Client, CompactionOptions, Compare, CompareOp, ConnectOptions, DeleteOptions, GetOptions,
    KvClient, LeaseClient, MaintenanceClient, PutOptions, Txn, TxnOp, TxnOpResponse, TxnResponse,
    WatchClient, WatchOptions,
};
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{Arc, Weak};
use std::time::Duration;
use tokio::task::AbortHandle;

pub use local::LocalEtcd;

/// Largest gRPC message accepted from etcd (as kube-apiserver: `math.MaxInt32`). Lists and
/// batches of watch events are far larger than tonic's 4 MiB default.
const MAX_RECEIVE_BYTES: usize = i32::MAX as usize;
/// How long to wait for etcd to report its compaction point when the one we know is stale.
const COMPACTION_PROBE_TIMEOUT: Duration = Duration::from_secs(2);

/// Settings of an [`EtcdStore`].
#[derive(Clone, Debug)]
pub struct EtcdOptions {
    /// History kept by periodic compaction; `None` leaves compaction to the caller (or to
    /// etcd's own `--auto-compaction-*`).
    pub retention: Option<Retention>,
    /// Limit on connecting to the cluster (the first request in [`EtcdStore::connect`] and every
    /// reconnection).
    pub connect_timeout: Duration,
    /// HTTP/2 keep-alive pings: interval and timeout (`None` sends none).
    pub keep_alive: Option<(Duration, Duration)>,
}

impl Default for EtcdOptions {
    fn default() -> Self {
        Self {
            retention: None,
            connect_timeout: Duration::from_secs(5),
            keep_alive: Some((Duration::from_secs(30), Duration::from_secs(10))),
        }
    }
}

/// A [`Store`] over an etcd v3 cluster.
pub struct EtcdStore {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for EtcdStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EtcdStore")
            .field(
                "compacted_revision",
                &self.inner.compacted.load(Ordering::Relaxed),
            )
            .finish_non_exhaustive()
    }
}

struct Inner {
    kv: KvClient,
    watch: WatchClient,
    lease: LeaseClient,
    maintenance: MaintenanceClient,
    leases: lease::LeaseManager,
    /// Best known compaction point: the highest seen from our compactions or etcd's reports.
    compacted: Arc<AtomicI64>,
    /// The periodic compactor, stopped with the store.
    compactor: parking_lot::Mutex<Option<AbortHandle>>,
}

impl Drop for Inner {
    fn drop(&mut self) {
        if let Some(task) = self.compactor.get_mut().take() {
            task.abort();
        }
    }
}

impl EtcdStore {
    /// Connects to the cluster at `endpoints` (URLs such as `http://127.0.0.1:2379`) and checks
    /// that it answers.
    pub async fn connect(endpoints: &[String], options: EtcdOptions) -> Result<EtcdStore> {
        let mut connect = ConnectOptions::new().with_connect_timeout(options.connect_timeout);
        if let Some((interval, timeout)) = options.keep_alive {
            connect = connect.with_keep_alive(interval, timeout);
        }
        let what = || format!("connecting to etcd at {}", endpoints.join(","));
        let client = Client::connect(endpoints, Some(connect))
            .await
            .map_err(|e| Error::backend(what(), e))?;
        let mut maintenance = client.maintenance_client();
        match tokio::time::timeout(options.connect_timeout, maintenance.status()).await {
            Ok(Ok(_)) => {}
            Ok(Err(e)) => return Err(Error::backend(what(), e)),
            Err(_) => {
                return Err(Error::backend(
                    what(),
                    format!("no answer within {:?}", options.connect_timeout),
                ));
            }
        }
        let inner = Arc::new(Inner {
            kv: client
                .kv_client()
                .max_decoding_message_size(MAX_RECEIVE_BYTES),
            watch: client
                .watch_client()
                .max_decoding_message_size(MAX_RECEIVE_BYTES),
            lease: client.lease_client(),
            maintenance,
            leases: lease::LeaseManager::default(),
            compacted: Arc::new(AtomicI64::new(0)),
            compactor: parking_lot::Mutex::new(None),
        });
        if let Some(retention) = options.retention {
            let task = tokio::spawn(compact_periodically(Arc::downgrade(&inner), retention));
            *inner.compactor.lock() = Some(task.abort_handle());
        }
        Ok(EtcdStore { inner })
    }

    /// Rewrites the etcd member's database file so the space compaction freed goes back to the
    /// file system (etcd's `defrag`; compaction alone only marks pages free). The member blocks
    /// reads and writes while it runs.
    pub async fn defragment(&self) -> Result<()> {
        self.inner
            .maintenance
            .clone()
            .defragment()
            .await
            .map(|_| ())
            .map_err(|e| map_error("defragmenting etcd", 0, 0, e))
    }
}

#[async_trait]
impl Store for EtcdStore {
    async fn range(&self, req: RangeRequest) -> Result<RangeResponse> {
        self.inner.range(req).await
    }

    async fn create(&self, key: Bytes, value: Bytes, ttl: Option<Duration>) -> Result<KeyValue> {
        self.inner.create(key, value, ttl).await
    }

    async fn update(
        &self,
        key: Bytes,
        value: Bytes,
        expected_mod_revision: i64,
        ttl: Option<Duration>,
    ) -> Result<KeyValue> {
        self.inner
            .update(key, value, expected_mod_revision, ttl)
            .await
    }

    async fn delete(&self, key: Bytes, expected_mod_revision: Option<i64>) -> Result<Deleted> {
        match expected_mod_revision {
            Some(expected) => self.inner.delete_if(key, expected).await,
            None => self.inner.delete(key).await,
        }
    }

    async fn watch(&self, req: WatchRequest) -> Result<WatchStream> {
        self.inner.watch(req).await
    }

    async fn compact(&self, revision: i64) -> Result<()> {
        self.inner.compact(revision).await
    }

    async fn status(&self) -> Result<Status> {
        self.inner.status().await
    }
}

impl Inner {
    fn kv(&self) -> KvClient {
        self.kv.clone()
    }

    /// The current revision, from the cheapest read there is (a count of one key).
    async fn current_revision(&self) -> Result<i64> {
        let resp = self
            .kv()
            .get(&b"\0"[..], Some(GetOptions::new().with_count_only()))
            .await
            .map_err(|e| map_error("reading the etcd revision", 0, 0, e))?;
        header_revision(resp.header(), "reading the etcd revision")
    }

    /// Fills in what [`map_error`] cannot know: the current revision of a
    /// [`Error::FutureRevision`] and the compaction point of an [`Error::Compacted`].
    async fn complete(&self, err: Error) -> Error {
        match err {
            Error::FutureRevision { requested, .. } => match self.current_revision().await {
                Ok(current) => Error::FutureRevision { requested, current },
                Err(e) => e,
            },
            Error::Compacted { requested, .. } => Error::Compacted {
                requested,
                compacted: self.compaction_point(requested).await,
            },
            other => other,
        }
    }

    /// The compaction point, known to be above `below` (etcd just refused `below` as
    /// compacted). When the one remembered is not, etcd is asked: a watch from a compacted
    /// revision is answered with the compaction point.
    async fn compaction_point(&self, below: i64) -> i64 {
        let known = self.compacted.load(Ordering::Relaxed);
        if known > below || below < 1 {
            return known;
        }
        let probe = async {
            let options = WatchOptions::new().with_start_revision(below);
            let mut stream = self
                .watch
                .clone()
                .watch(&b"\0"[..], Some(options))
                .await
                .ok()?;
            loop {
                let resp = stream.message().await.ok()??;
                if resp.compact_revision() != 0 {
                    return Some(resp.compact_revision());
                }
                if resp.canceled() || !resp.events().is_empty() {
                    return None;
                }
            }
        };
        match tokio::time::timeout(COMPACTION_PROBE_TIMEOUT, probe).await {
            Ok(Some(point)) => self
                .compacted
                .fetch_max(point, Ordering::Relaxed)
                .max(point),
            _ => known,
        }
    }

    async fn range(&self, req: RangeRequest) -> Result<RangeResponse> {
        check_key(&req.key)?;
        let mut options = GetOptions::new()
            .with_limit(i64::try_from(req.limit).unwrap_or(i64::MAX))
            .with_revision(req.revision);
        if let Some(end) = &req.range_end {
            options = options.with_range(end.to_vec());
        }
        if req.count_only {
            options = options.with_count_only();
        }
        let mut resp = match self.kv().get(req.key.to_vec(), Some(options)).await {
            Ok(resp) => resp,
            Err(e) => {
                let err = map_error("reading from etcd", req.revision, 0, e);
                return Err(self.complete(err).await);
            }
        };
        let revision = header_revision(resp.header(), "reading from etcd")?;
        Ok(RangeResponse {
            kvs: resp.take_kvs().into_iter().map(key_value).collect(),
            more: resp.more(),
            count: resp.count(),
            revision,
        })
    }

    /// Runs the transaction `build(lease)`, with a lease for `ttl` (0 without). When etcd no
    /// longer knows a cached lease, retries once with a new one.
    async fn txn_with_lease(
        &self,
        ttl: Option<Duration>,
        context: &str,
        size: usize,
        build: impl Fn(i64) -> Txn,
    ) -> Result<TxnResponse> {
        let mut retried = false;
        loop {
            let lease = match ttl {
                Some(ttl) => self.leases.lease_for(&self.lease, ttl).await?,
                None => 0,
            };
            match self.kv().txn(build(lease)).await {
                Ok(resp) => return Ok(resp),
                Err(e) if lease != 0 && !retried && is_lease_not_found(&e) => {
                    self.leases.forget(lease).await;
                    retried = true;
                }
                Err(e) => return Err(map_error(context, 0, size, e)),
            }
        }
    }

    async fn create(&self, key: Bytes, value: Bytes, ttl: Option<Duration>) -> Result<KeyValue> {
        check_key(&key)?;
        check_value(&value)?;
        const WHAT: &str = "creating a key in etcd";
        let resp = self
            .txn_with_lease(ttl, WHAT, key.len() + value.len(), |lease| {
                Txn::new()
                    .when([Compare::create_revision(key.to_vec(), CompareOp::Equal, 0)])
                    .and_then([TxnOp::put(
                        key.to_vec(),
                        value.to_vec(),
                        Some(PutOptions::new().with_lease(lease)),
                    )])
                    .or_else([TxnOp::get(key.to_vec(), None)])
            })
            .await?;
        let revision = header_revision(resp.header(), WHAT)?;
        if !resp.succeeded() {
            let current = first_kv(&resp)
                .ok_or_else(|| Error::backend(WHAT, "etcd found the key but did not return it"))?;
            return Err(Error::AlreadyExists {
                current: Box::new(current),
            });
        }
        Ok(KeyValue {
            key,
            value,
            create_revision: revision,
            mod_revision: revision,
            version: 1,
        })
    }

    async fn update(
        &self,
        key: Bytes,
        value: Bytes,
        expected: i64,
        ttl: Option<Duration>,
    ) -> Result<KeyValue> {
        check_key(&key)?;
        check_value(&value)?;
        const WHAT: &str = "updating a key in etcd";
        // After the put, a keys-only read in the same transaction returns the new revisions
        // (etcd transactions read their own writes) without sending the value back.
        let resp = self
            .txn_with_lease(ttl, WHAT, key.len() + value.len(), |lease| {
                Txn::new()
                    .when(exists_at(&key, expected))
                    .and_then([
                        TxnOp::put(
                            key.to_vec(),
                            value.to_vec(),
                            Some(PutOptions::new().with_lease(lease)),
                        ),
                        TxnOp::get(key.to_vec(), Some(GetOptions::new().with_keys_only())),
                    ])
                    .or_else([TxnOp::get(key.to_vec(), None)])
            })
            .await?;
        if !resp.succeeded() {
            return Err(mismatch(&resp, expected));
        }
        let stored = resp
            .op_responses()
            .into_iter()
            .find_map(|op| match op {
                TxnOpResponse::Get(get) => get
                    .kvs()
                    .first()
                    .map(|kv| (kv.create_revision(), kv.mod_revision(), kv.version())),
                _ => None,
            })
            .ok_or_else(|| Error::backend(WHAT, "etcd did not return the updated key"))?;
        let (create_revision, mod_revision, version) = stored;
        Ok(KeyValue {
            key,
            value,
            create_revision,
            mod_revision,
            version,
        })
    }

    async fn delete_if(&self, key: Bytes, expected: i64) -> Result<Deleted> {
        check_key(&key)?;
        const WHAT: &str = "deleting a key from etcd";
        let txn = Txn::new()
            .when(exists_at(&key, expected))
            .and_then([TxnOp::delete(
                key.to_vec(),
                Some(DeleteOptions::new().with_prev_key()),
            )])
            .or_else([TxnOp::get(key.to_vec(), None)]);
        let resp = self
            .kv()
            .txn(txn)
            .await
            .map_err(|e| map_error(WHAT, 0, 0, e))?;
        if !resp.succeeded() {
            return Err(mismatch(&resp, expected));
        }
        let revision = header_revision(resp.header(), WHAT)?;
        let prev = resp
            .op_responses()
            .into_iter()
            .find_map(|op| match op {
                TxnOpResponse::Delete(mut del) => del.take_prev_kvs().into_iter().next(),
                _ => None,
            })
            .map(key_value)
            .ok_or_else(|| Error::backend(WHAT, "etcd did not return the deleted key"))?;
        Ok(Deleted { prev, revision })
    }

    async fn delete(&self, key: Bytes) -> Result<Deleted> {
        check_key(&key)?;
        const WHAT: &str = "deleting a key from etcd";
        let mut resp = self
            .kv()
            .delete(key.to_vec(), Some(DeleteOptions::new().with_prev_key()))
            .await
            .map_err(|e| map_error(WHAT, 0, 0, e))?;
        if resp.deleted() == 0 {
            return Err(Error::NotFound);
        }
        let revision = header_revision(resp.header(), WHAT)?;
        let prev = resp
            .take_prev_kvs()
            .into_iter()
            .next()
            .map(key_value)
            .ok_or_else(|| Error::backend(WHAT, "etcd did not return the deleted key"))?;
        Ok(Deleted { prev, revision })
    }

    async fn watch(&self, req: WatchRequest) -> Result<WatchStream> {
        check_key(&req.key)?;
        let current = self.current_revision().await?;
        if req.after_revision > current {
            return Err(Error::FutureRevision {
                requested: req.after_revision,
                current,
            });
        }
        // etcd's "now" would be the revision when the watch gets registered; starting right
        // after the revision just read keeps "changes after this call" exact.
        let start = if req.after_revision > 0 {
            req.after_revision + 1
        } else {
            current + 1
        };
        let mut options = WatchOptions::new()
            .with_start_revision(start)
            .with_prev_key();
        if let Some(end) = &req.range_end {
            options = options.with_range(end.to_vec());
        }
        let stream = self
            .watch
            .clone()
            .watch(req.key.to_vec(), Some(options))
            .await
            .map_err(|e| map_error("watching etcd", req.after_revision, 0, e))?;
        let mut watch = watch::EtcdWatch::new(stream, req.after_revision, self.compacted.clone());
        watch.confirm().await?;
        Ok(watch.into_stream())
    }

    async fn compact(&self, revision: i64) -> Result<()> {
        let options = CompactionOptions::new().with_physical();
        match self.kv().compact(revision, Some(options)).await {
            Ok(_) => {
                self.compacted.fetch_max(revision, Ordering::Relaxed);
                Ok(())
            }
            Err(e) => {
                let err = match map_error("compacting etcd", revision, 0, e) {
                    // etcd refuses revisions at or below its compaction point, so that point is
                    // above `revision - 1`.
                    Error::Compacted { requested, .. } => Error::Compacted {
                        requested,
                        compacted: self.compaction_point(requested - 1).await,
                    },
                    other => self.complete(other).await,
                };
                Err(err)
            }
        }
    }

    async fn status(&self) -> Result<Status> {
        let resp = self
            .maintenance
            .clone()
            .status()
            .await
            .map_err(|e| map_error("reading the etcd status", 0, 0, e))?;
        Ok(Status {
            revision: header_revision(resp.header(), "reading the etcd status")?,
            compacted_revision: self.compacted.load(Ordering::Relaxed),
            db_size_bytes: u64::try_from(resp.db_size()).unwrap_or(0),
        })
    }
}

/// The guard of a conditional update or delete: the key exists and was last written at
/// `expected`. (A missing key has mod revision 0, so the first compare alone would let an
/// `expected` of 0 through.)
fn exists_at(key: &Bytes, expected: i64) -> [Compare; 2] {
    [
        Compare::version(key.to_vec(), CompareOp::Greater, 0),
        Compare::mod_revision(key.to_vec(), CompareOp::Equal, expected),
    ]
}

/// The first record read by a transaction branch.
fn first_kv(resp: &TxnResponse) -> Option<KeyValue> {
    resp.op_responses().iter().find_map(|op| match op {
        TxnOpResponse::Get(get) => get.kvs().first().map(key_value_ref),
        _ => None,
    })
}

/// The error of a conditional write whose guard failed: the else branch read the key.
fn mismatch(resp: &TxnResponse, expected: i64) -> Error {
    match first_kv(resp) {
        Some(current) => Error::Conflict {
            expected,
            current: Box::new(current),
        },
        None => Error::NotFound,
    }
}

/// Compacts history as `retention` allows, every `retention.interval`, until the store is gone.
async fn compact_periodically(store: Weak<Inner>, retention: Retention) {
    let mut samples = RevisionSamples::default();
    let mut ticker = tokio::time::interval(retention.interval);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        ticker.tick().await;
        let Some(inner) = store.upgrade() else {
            return;
        };
        let head = match inner.current_revision().await {
            Ok(head) => head,
            Err(err) => {
                tracing::warn!(error = %err, "etcd compactor: reading the revision failed");
                continue;
            }
        };
        let now = tokio::time::Instant::now();
        samples.record(now, head, retention.min_age);
        let compacted = inner.compacted.load(Ordering::Relaxed);
        let Some(target) = retention.target(now, head, compacted, &samples) else {
            continue;
        };
        match inner.compact(target).await {
            Ok(()) => tracing::debug!(revision = target, "etcd compactor: compacted"),
            // Someone else compacted further; `compact` has learnt how far.
            Err(Error::Compacted { .. }) => {}
            Err(err) => {
                tracing::warn!(error = %err, revision = target, "etcd compactor: compaction failed")
            }
        }
    }
}
