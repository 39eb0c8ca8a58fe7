//! The embedded engine: durable on local disk, the default store of `skiff server`.
//!
//! - **Disk**: one SQLite file in WAL mode (`<dir>/skiff.db`). A write is acknowledged only
//!   after the transaction holding it is committed with `synchronous = FULL`, i.e. after the log
//!   was fsynced, so it survives `kill -9` and power loss.
//! - **Group commit**: a single committer thread takes every queued write, checks
//!   preconditions, assigns revisions and commits them in one transaction (one fsync).
//! - **Memory**: an index of every key's revisions plus each key's current value, so reads at
//!   the current revision and the previous values carried by watch events never touch disk.
//!   Values of past revisions are read from disk by revision.
//! - **Watch**: events go from the committer to a fan-out hub; a watch that starts in the past
//!   first replays history from one disk snapshot, then continues live, skipping nothing and
//!   repeating nothing.
//! - **Compaction** deletes rows history no longer needs, in chunks between write batches, then
//!   returns the freed pages to the file system (incremental vacuum + log truncation).

mod committer;
mod db;
mod index;

use crate::error::{Error, Result};
use crate::hub::{DEFAULT_MAX_BACKLOG, Hub, Subscription};
use crate::retention::{Retention, RevisionSamples};
use crate::types::{
    Deleted, Event, KeyValue, RangeRequest, RangeResponse, Status, WatchRequest, WatchStream,
};
use crate::{Store, check_key, check_value};
use async_trait::async_trait;
use bytes::Bytes;
use committer::{Committer, Op, Reply, Request, Shared};
use index::Found;
use parking_lot::RwLock;
use std::collections::VecDeque;
use std::fs::File;
use std::path::{Path, PathBuf};
use std::sync::mpsc;
use std::sync::{Arc, Weak};
use std::thread::JoinHandle;
use std::time::{Duration, SystemTime, UNIX_EPOCH};
use tokio::sync::oneshot;

/// Settings of the embedded engine.
#[derive(Clone, Debug)]
pub struct EmbeddedOptions {
    /// fsync every commit (default true). Turning it off loses acknowledged writes on power
    /// loss; only tests of the CPU path should do that.
    pub fsync: bool,
    /// Periodic compaction; `None` compacts only on request.
    pub retention: Option<Retention>,
    /// Undelivered events a watcher may have before it is cut off.
    pub max_watch_backlog: usize,
    /// How often expired keys are looked for.
    pub ttl_check_interval: Duration,
    /// How often the log is copied into the main file.
    pub checkpoint_interval: Duration,
}

impl Default for EmbeddedOptions {
    fn default() -> Self {
        Self {
            fsync: true,
            retention: Some(Retention::default()),
            max_watch_backlog: DEFAULT_MAX_BACKLOG,
            ttl_check_interval: Duration::from_millis(250),
            checkpoint_interval: Duration::from_secs(1),
        }
    }
}

/// The embedded engine. Cheap to clone; the store closes when the last clone is dropped.
#[derive(Clone)]
pub struct EmbeddedStore {
    handle: Arc<Handle>,
}

struct Handle {
    tx: Option<mpsc::Sender<Request>>,
    shared: Arc<Shared>,
    committer: Option<JoinHandle<()>>,
    checkpointer_stop: Option<mpsc::Sender<()>>,
    _lock: File,
}

impl Drop for Handle {
    fn drop(&mut self) {
        self.checkpointer_stop.take();
        self.tx.take();
        if let Some(t) = self.committer.take() {
            let _ = t.join();
        }
    }
}

impl std::fmt::Debug for EmbeddedStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EmbeddedStore")
            .field("path", &self.handle.shared.path)
            .finish()
    }
}

impl EmbeddedStore {
    /// Opens the store in directory `dir`, creating it when absent. Must be called inside a
    /// Tokio runtime (expiry and compaction run as tasks).
    ///
    /// A data file that is damaged or not Skiff's gives [`Error::Corrupt`] naming the file;
    /// the file is left as it is. A directory already open in another process is refused.
    pub async fn open(dir: impl AsRef<Path>, options: EmbeddedOptions) -> Result<Self> {
        let dir = dir.as_ref().to_path_buf();
        let opts = options.clone();
        let store = tokio::task::spawn_blocking(move || Self::open_blocking(dir, opts))
            .await
            .map_err(|e| Error::backend("opening the store", e))??;
        store.spawn_tasks(&options);
        Ok(store)
    }

    fn open_blocking(dir: PathBuf, options: EmbeddedOptions) -> Result<Self> {
        std::fs::create_dir_all(&dir)
            .map_err(|e| Error::backend(format!("creating {}", dir.display()), e))?;
        let lock_path = dir.join("skiff.lock");
        let lock = File::options()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&lock_path)
            .map_err(|e| Error::backend(format!("opening {}", lock_path.display()), e))?;
        lock.try_lock().map_err(|e| {
            Error::backend(
                format!(
                    "data directory {} is in use by another process",
                    dir.display()
                ),
                e,
            )
        })?;
        let path = dir.join(db::FILE_NAME);
        let sync = if options.fsync {
            db::Sync::Full
        } else {
            db::Sync::Off
        };
        let conn = db::open_writer(&path, sync)?;
        let (index, leftover) = db::load(&conn, &path)?;
        let head = index.head;
        let shared = Arc::new(Shared {
            index: RwLock::new(index),
            hub: Hub::new(head, options.max_watch_backlog),
            path: path.clone(),
            reads: db::ReadPool::new(path.clone()),
        });
        let (tx, rx) = mpsc::channel();
        let mut committer = Committer::new(conn, shared.clone(), rx);
        if !leftover.is_empty() {
            committer.delete_rows(None, &leftover)?;
        }
        let committer = std::thread::Builder::new()
            .name("store-commit".into())
            .spawn(move || committer.run())
            .map_err(|e| Error::backend("starting the committer", e))?;
        let (stop_tx, stop_rx) = mpsc::channel::<()>();
        let interval = options.checkpoint_interval;
        let ckpt_path = path.clone();
        std::thread::Builder::new()
            .name("store-checkpoint".into())
            .spawn(move || checkpointer(ckpt_path, sync, interval, stop_rx))
            .map_err(|e| Error::backend("starting the checkpointer", e))?;
        Ok(Self {
            handle: Arc::new(Handle {
                tx: Some(tx),
                shared,
                committer: Some(committer),
                checkpointer_stop: Some(stop_tx),
                _lock: lock,
            }),
        })
    }

    fn spawn_tasks(&self, options: &EmbeddedOptions) {
        let weak = Arc::downgrade(&self.handle);
        tokio::spawn(expire_keys(weak.clone(), options.ttl_check_interval));
        if let Some(retention) = options.retention {
            tokio::spawn(compact_periodically(weak, retention));
        }
    }

    /// The data file.
    pub fn path(&self) -> &Path {
        &self.handle.shared.path
    }

    async fn submit(&self, op: Op) -> Result<Reply> {
        submit(&self.handle, op).await
    }

    fn shared(&self) -> &Arc<Shared> {
        &self.handle.shared
    }
}

async fn submit(handle: &Handle, op: Op) -> Result<Reply> {
    let (reply, rx) = oneshot::channel();
    handle
        .tx
        .as_ref()
        .ok_or(Error::Closed)?
        .send(Request { op, reply })
        .map_err(|_| Error::Closed)?;
    rx.await.map_err(|_| Error::Closed)?
}

fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

fn expiry(ttl: Option<Duration>) -> Option<i64> {
    ttl.map(|t| now_ms().saturating_add(t.as_millis().min(i64::MAX as u128) as i64))
}

fn checkpointer(path: PathBuf, sync: db::Sync, every: Duration, stop: mpsc::Receiver<()>) {
    let conn = match db::open_writer(&path, sync) {
        Ok(c) => c,
        Err(e) => {
            tracing::warn!("checkpointer not started: {e}");
            return;
        }
    };
    while let Err(mpsc::RecvTimeoutError::Timeout) = stop.recv_timeout(every) {
        if let Err(e) = db::checkpoint(&conn, &path, "PASSIVE") {
            tracing::warn!("{e}");
        }
    }
}

/// Deletes keys whose time to live has passed (each only if unchanged since it was found).
async fn expire_keys(handle: Weak<Handle>, every: Duration) {
    let mut tick = tokio::time::interval(every);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        let Some(handle) = handle.upgrade() else {
            return;
        };
        let expired = handle.shared.index.read().expired(now_ms());
        for (key, rev) in expired {
            let op = Op::Delete {
                key,
                expected: Some(rev),
            };
            match submit(&handle, op).await {
                Ok(_) | Err(Error::NotFound | Error::Conflict { .. }) => {}
                Err(Error::Closed) => return,
                Err(e) => tracing::warn!("expiring a key: {e}"),
            }
        }
    }
}

/// Compacts on the retention policy's schedule.
async fn compact_periodically(handle: Weak<Handle>, retention: Retention) {
    let mut samples = RevisionSamples::default();
    let mut tick = tokio::time::interval(
        retention
            .interval
            .min(retention.min_age / 10)
            .max(Duration::from_secs(1)),
    );
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut last_compaction = tokio::time::Instant::now();
    loop {
        tick.tick().await;
        let Some(handle) = handle.upgrade() else {
            return;
        };
        let now = tokio::time::Instant::now();
        let (head, compacted) = {
            let index = handle.shared.index.read();
            (index.head, index.compacted)
        };
        samples.record(now, head, retention.min_age);
        if now.duration_since(last_compaction) < retention.interval {
            continue;
        }
        last_compaction = now;
        if let Some(target) = retention.target(now, head, compacted, &samples) {
            match submit(&handle, Op::Compact { revision: target }).await {
                Ok(_) | Err(Error::Compacted { .. }) => {
                    tracing::debug!("compacted to revision {target}");
                }
                Err(Error::Closed) => return,
                Err(e) => tracing::warn!("periodic compaction: {e}"),
            }
        }
    }
}

#[async_trait]
impl Store for EmbeddedStore {
    async fn range(&self, req: RangeRequest) -> Result<RangeResponse> {
        check_key(&req.key)?;
        let (found, count, more, header, at) = {
            let index = self.shared().index.read();
            let at = if req.revision > 0 {
                req.revision
            } else {
                index.head
            };
            if at > index.head {
                return Err(Error::FutureRevision {
                    requested: at,
                    current: index.head,
                });
            }
            if at < index.compacted {
                return Err(Error::Compacted {
                    requested: at,
                    compacted: index.compacted,
                });
            }
            let r = index.range(
                &req.key,
                req.range_end.as_deref(),
                at,
                req.limit,
                req.count_only,
            );
            (r.found, r.count, r.more, index.head, at)
        };
        let missing: Vec<i64> = found
            .iter()
            .filter_map(|f| match f {
                Found::NeedsValue(kv) => Some(kv.mod_revision),
                Found::Complete(_) => None,
            })
            .collect();
        let mut values = if missing.is_empty() {
            Default::default()
        } else {
            let shared = self.shared().clone();
            tokio::task::spawn_blocking(move || {
                shared
                    .reads
                    .with(|conn, path| db::fetch_values(conn, path, at, &missing))
            })
            .await
            .map_err(|e| Error::backend("reading past values", e))??
        };
        let kvs = found
            .into_iter()
            .map(|f| match f {
                Found::Complete(kv) => kv,
                Found::NeedsValue(mut kv) => {
                    kv.value = values.remove(&kv.mod_revision).unwrap_or_default();
                    kv
                }
            })
            .collect();
        Ok(RangeResponse {
            kvs,
            more,
            count,
            revision: header,
        })
    }

    async fn create(&self, key: Bytes, value: Bytes, ttl: Option<Duration>) -> Result<KeyValue> {
        check_key(&key)?;
        check_value(&value)?;
        let op = Op::Create {
            key,
            value,
            expires_at: expiry(ttl),
        };
        match self.submit(op).await? {
            Reply::Put(kv) => Ok(kv),
            other => Err(unexpected(other)),
        }
    }

    async fn update(
        &self,
        key: Bytes,
        value: Bytes,
        expected_mod_revision: i64,
        ttl: Option<Duration>,
    ) -> Result<KeyValue> {
        check_key(&key)?;
        check_value(&value)?;
        let op = Op::Update {
            key,
            value,
            expected: expected_mod_revision,
            expires_at: expiry(ttl),
        };
        match self.submit(op).await? {
            Reply::Put(kv) => Ok(kv),
            other => Err(unexpected(other)),
        }
    }

    async fn delete(&self, key: Bytes, expected_mod_revision: Option<i64>) -> Result<Deleted> {
        check_key(&key)?;
        let op = Op::Delete {
            key,
            expected: expected_mod_revision,
        };
        match self.submit(op).await? {
            Reply::Deleted(d) => Ok(d),
            other => Err(unexpected(other)),
        }
    }

    async fn watch(&self, req: WatchRequest) -> Result<WatchStream> {
        check_key(&req.key)?;
        let shared = self.shared();
        let sub = shared.hub.subscribe(req.key.clone(), req.range_end.clone());
        let (head, compacted) = {
            let index = shared.index.read();
            (index.head, index.compacted)
        };
        let after = if req.after_revision > 0 {
            req.after_revision
        } else {
            sub.published
        };
        if after > head {
            return Err(Error::FutureRevision {
                requested: after,
                current: head,
            });
        }
        if after < compacted {
            return Err(Error::Compacted {
                requested: after,
                compacted,
            });
        }
        let replay = (after < sub.published).then(|| {
            let (tx, rx) = tokio::sync::mpsc::channel(4);
            let shared = shared.clone();
            let upto = sub.published;
            tokio::task::spawn_blocking(move || {
                let sent = shared.reads.with(|conn, path| {
                    db::replay(
                        conn,
                        path,
                        after,
                        upto,
                        &req.key,
                        req.range_end.as_deref(),
                        |batch| tx.blocking_send(Ok(batch)).is_ok(),
                    )
                });
                // An empty batch marks the end of the replay.
                let _ = tx.blocking_send(sent.map(|()| Vec::new()));
            });
            rx
        });
        Ok(WatchStream::new(futures::stream::unfold(
            Watching {
                replay,
                sub,
                last: after,
                buf: VecDeque::new(),
                done: false,
            },
            Watching::step,
        )))
    }

    async fn compact(&self, revision: i64) -> Result<()> {
        self.submit(Op::Compact { revision }).await.map(|_| ())
    }

    async fn status(&self) -> Result<Status> {
        let (revision, compacted_revision) = {
            let index = self.shared().index.read();
            (index.head, index.compacted)
        };
        Ok(Status {
            revision,
            compacted_revision,
            db_size_bytes: db::size_on_disk(&self.shared().path),
        })
    }
}

fn unexpected(reply: Reply) -> Error {
    Error::backend("committer", format!("unexpected reply {reply:?}"))
}

/// State of one watch stream: history replay first, then live events.
struct Watching {
    replay: Option<tokio::sync::mpsc::Receiver<Result<Vec<Event>>>>,
    sub: Subscription,
    /// Revision of the last event delivered (nothing at or below it is delivered again).
    last: i64,
    buf: VecDeque<Event>,
    done: bool,
}

impl Watching {
    async fn step(mut self) -> Option<(Result<Event>, Self)> {
        loop {
            if let Some(event) = self.buf.pop_front() {
                if event.revision() > self.last {
                    self.last = event.revision();
                    return Some((Ok(event), self));
                }
                continue;
            }
            if self.done {
                return None;
            }
            let next = match &mut self.replay {
                Some(rx) => match rx.recv().await {
                    Some(Ok(batch)) if batch.is_empty() => {
                        self.replay = None;
                        continue;
                    }
                    Some(batch) => batch,
                    None => Err(Error::backend(
                        "watch",
                        "history replay ended before reaching the live stream",
                    )),
                },
                None => match self.sub.recv().await {
                    Some(batch) => batch,
                    None => return None,
                },
            };
            match next {
                Ok(batch) => self.buf.extend(batch),
                Err(e) => {
                    self.done = true;
                    return Some((Err(e), self));
                }
            }
        }
    }
}

#[cfg(test)]
mod tests;
