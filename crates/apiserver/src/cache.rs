//! The watch cache (upstream's cacher): one store watch over the whole `/registry/` keyspace
//! feeds an in-memory copy of every object, per resource, and a window of recent events.
//! Watches and unpaged lists are served from it, so any number of watchers costs one store
//! watch and a LIST at `resourceVersion=0` never touches the store.
//!
//! Because the single watch sees every write in revision order, the cache knows how far it is
//! for every resource at once: after applying revision R anywhere, nothing at or below R is
//! missing anywhere. Consistent reads wait for that progress to reach the store's revision.
//!
//! Objects are kept as JSON bytes (with their `resourceVersion`); events carry decoded objects
//! for filtering and printing.

use crate::object;
use crate::storage::{self, Storage};
use bytes::Bytes;
use parking_lot::RwLock;
use serde_json::Value;
use skiff_core::registry::{self, ResourceInfo};
use skiff_core::status::ApiError;
use skiff_store::{EventKind, RangeRequest, WatchRequest, prefix_end};
use std::collections::{BTreeMap, VecDeque};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{broadcast, watch};

/// Events kept per resource for watches that resume from a recent `resourceVersion`.
const HISTORY: usize = 1000;
/// Events buffered per watcher before it is dropped (it re-watches from its last revision).
const WATCHER_BUFFER: usize = 4096;
/// How long a read waits for the cache to reach a revision before giving up.
const FRESHNESS_WAIT: Duration = Duration::from_secs(3);
/// Where every object lives.
const ROOT: &str = "/registry/";

/// One object in the cache.
#[derive(Debug)]
pub struct Cached {
    /// The object as JSON, `resourceVersion` included.
    pub json: Bytes,
}

impl Cached {
    /// The object decoded.
    pub fn value(&self) -> Value {
        serde_json::from_slice(&self.json).unwrap_or(Value::Null)
    }
}

/// A change, with the objects decoded.
#[derive(Debug)]
pub struct CacheEvent {
    /// Put or delete.
    pub kind: EventKind,
    /// For puts the new object; for deletes its last state with the delete's revision.
    pub object: Arc<Value>,
    /// The object before a put (absent for creations).
    pub prev: Option<Arc<Value>>,
    /// Revision of the change.
    pub rv: i64,
    /// The object's key.
    pub key: Bytes,
}

/// What watchers receive.
#[derive(Clone, Debug)]
pub enum Signal {
    /// A change.
    Event(Arc<CacheEvent>),
    /// The cache lost its store watch and re-listed: every watcher must end (clients re-watch).
    Reset,
}

struct State {
    objects: BTreeMap<Bytes, Arc<Cached>>,
    rv: i64,
    history: VecDeque<Arc<CacheEvent>>,
    /// Watches can resume from any revision at or after this one.
    oldest: i64,
}

/// The cache of one resource.
pub struct WatchCache {
    state: RwLock<State>,
    tx: broadcast::Sender<Signal>,
    progress: watch::Receiver<i64>,
}

/// A snapshot to serve a list or start a watch from.
pub struct Snapshot {
    /// Objects in key order.
    pub objects: Vec<Arc<Cached>>,
    /// Revision of the snapshot.
    pub rv: i64,
}

/// The start of a watch after a revision.
pub struct Start {
    /// Events already in the window after the requested revision.
    pub backlog: Vec<Arc<CacheEvent>>,
    /// Live signals after the backlog.
    pub rx: broadcast::Receiver<Signal>,
}

/// Why a watch cannot start where asked.
pub enum StartError {
    /// The revision is older than the window.
    TooOld {
        /// The oldest revision that can be resumed from.
        oldest: i64,
    },
    /// Anything else.
    Api(ApiError),
}

fn in_prefix<'a>(
    map: &'a BTreeMap<Bytes, Arc<Cached>>,
    prefix: &str,
) -> impl Iterator<Item = &'a Arc<Cached>> {
    let end = prefix_end(prefix.as_bytes());
    map.range::<[u8], _>((
        std::ops::Bound::Included(prefix.as_bytes()),
        std::ops::Bound::Excluded(&end[..]),
    ))
    .map(|(_, v)| v)
}

impl WatchCache {
    fn new(progress: watch::Receiver<i64>) -> Self {
        let (tx, _) = broadcast::channel(WATCHER_BUFFER);
        Self {
            state: RwLock::new(State {
                objects: BTreeMap::new(),
                rv: 0,
                history: VecDeque::new(),
                oldest: 0,
            }),
            tx,
            progress,
        }
    }

    /// Waits until everything up to `rv` is in the cache (or fails after a few seconds with
    /// upstream's "Too large resource version").
    pub async fn wait_for(&self, rv: i64) -> Result<(), ApiError> {
        let mut progress = self.progress.clone();
        match tokio::time::timeout(FRESHNESS_WAIT, progress.wait_for(|r| *r >= rv)).await {
            Ok(Ok(_)) => Ok(()),
            _ => Err(ApiError::timeout(&format!(
                "Too large resource version: {rv}, current: {}",
                *self.progress.borrow()
            ))),
        }
    }

    fn current(&self, state: &State) -> i64 {
        state.rv.max(*self.progress.borrow())
    }

    /// Every object under `prefix` (one namespace's, or all).
    pub fn snapshot(&self, prefix: &str) -> Snapshot {
        let state = self.state.read();
        Snapshot {
            objects: in_prefix(&state.objects, prefix).cloned().collect(),
            rv: self.current(&state),
        }
    }

    /// A snapshot and the live signals after it, with nothing lost or repeated in between.
    pub fn start_with_snapshot(&self, prefix: &str) -> (Snapshot, broadcast::Receiver<Signal>) {
        let state = self.state.read();
        let rx = self.tx.subscribe();
        let snap = Snapshot {
            objects: in_prefix(&state.objects, prefix).cloned().collect(),
            rv: self.current(&state),
        };
        (snap, rx)
    }

    /// Starts a watch after revision `after`.
    pub async fn start_after(&self, after: i64) -> Result<Start, StartError> {
        self.wait_for(after).await.map_err(StartError::Api)?;
        let state = self.state.read();
        if after < state.oldest {
            return Err(StartError::TooOld {
                oldest: state.oldest,
            });
        }
        let rx = self.tx.subscribe();
        let backlog = state
            .history
            .iter()
            .filter(|e| e.rv > after)
            .cloned()
            .collect();
        Ok(Start { backlog, rx })
    }

    fn apply(&self, event: CacheEvent) {
        let event = Arc::new(event);
        let mut state = self.state.write();
        match event.kind {
            EventKind::Put => {
                let json = Bytes::from(serde_json::to_vec(&*event.object).unwrap_or_default());
                state
                    .objects
                    .insert(event.key.clone(), Arc::new(Cached { json }));
            }
            EventKind::Delete => {
                state.objects.remove(&event.key);
            }
        }
        state.rv = event.rv;
        state.history.push_back(event.clone());
        while state.history.len() > HISTORY {
            if let Some(old) = state.history.pop_front() {
                state.oldest = old.rv;
            }
        }
        // Sent under the lock: a watcher subscribing with a snapshot sees each event once.
        let _ = self.tx.send(Signal::Event(event));
    }

    fn reset(&self, objects: BTreeMap<Bytes, Arc<Cached>>, rv: i64) {
        let mut state = self.state.write();
        state.objects = objects;
        state.rv = rv;
        state.history.clear();
        state.oldest = rv;
        let _ = self.tx.send(Signal::Reset);
    }
}

/// The caches of every resource, fed by one store watch.
#[derive(Clone)]
pub struct Caches {
    inner: Arc<Inner>,
}

struct Inner {
    storage: Storage,
    /// `(prefix, cache)` for every built-in resource.
    caches: Vec<(String, Arc<WatchCache>)>,
    progress: watch::Sender<i64>,
    ready: watch::Sender<bool>,
}

impl Caches {
    /// Starts the caches: loads every object and follows the store.
    pub fn start(storage: Storage) -> Self {
        let (progress, rx) = watch::channel(0);
        let (ready, _) = watch::channel(false);
        let caches = registry::all()
            .iter()
            .map(storage::prefix)
            .fold(Vec::<String>::new(), |mut acc, p| {
                if !acc.contains(&p) {
                    acc.push(p);
                }
                acc
            })
            .into_iter()
            .map(|p| (p, Arc::new(WatchCache::new(rx.clone()))))
            .collect();
        let caches = Self {
            inner: Arc::new(Inner {
                storage,
                caches,
                progress,
                ready,
            }),
        };
        tokio::spawn(run(caches.inner.clone()));
        caches
    }

    /// Whether the caches have loaded.
    pub fn is_ready(&self) -> bool {
        *self.inner.ready.borrow()
    }

    /// The cache of a resource, once the caches have loaded.
    pub async fn get(&self, info: &ResourceInfo) -> Result<Arc<WatchCache>, ApiError> {
        let mut ready = self.inner.ready.subscribe();
        if tokio::time::timeout(FRESHNESS_WAIT * 4, ready.wait_for(|r| *r))
            .await
            .is_err()
        {
            return Err(ApiError::unavailable("the watch cache is not ready yet"));
        }
        let prefix = storage::prefix(info);
        self.inner
            .caches
            .iter()
            .find(|(p, _)| *p == prefix)
            .map(|(_, c)| c.clone())
            .ok_or_else(|| ApiError::internal(format!("no cache for {prefix}")))
    }

    /// The cache of a resource, fresh up to the store's current revision (a consistent read).
    pub async fn consistent(&self, info: &ResourceInfo) -> Result<Arc<WatchCache>, ApiError> {
        let cache = self.get(info).await?;
        let current = self.inner.storage.revision().await?;
        cache.wait_for(current).await?;
        Ok(cache)
    }
}

fn route<'a>(inner: &'a Inner, key: &[u8]) -> Option<&'a WatchCache> {
    inner
        .caches
        .iter()
        .find(|(p, _)| key.starts_with(p.as_bytes()))
        .map(|(_, c)| &**c)
}

/// Loads everything and follows the store, re-listing whenever the store watch ends.
async fn run(inner: Arc<Inner>) {
    loop {
        let listed = inner
            .storage
            .store()
            .range(RangeRequest::prefix(Bytes::from_static(ROOT.as_bytes())))
            .await;
        let resp = match listed {
            Ok(r) => r,
            Err(e) => {
                tracing::warn!("watch cache: list failed: {e}");
                tokio::time::sleep(Duration::from_millis(500)).await;
                continue;
            }
        };
        let rv = resp.revision;
        let mut per_cache: Vec<BTreeMap<Bytes, Arc<Cached>>> =
            vec![BTreeMap::new(); inner.caches.len()];
        for kv in &resp.kvs {
            let Some(i) = inner
                .caches
                .iter()
                .position(|(p, _)| kv.key.starts_with(p.as_bytes()))
            else {
                continue;
            };
            if let Ok(obj) = storage::decode(kv) {
                let json = Bytes::from(serde_json::to_vec(&obj).unwrap_or_default());
                per_cache[i].insert(kv.key.clone(), Arc::new(Cached { json }));
            }
        }
        for ((_, cache), objects) in inner.caches.iter().zip(per_cache) {
            cache.reset(objects, rv);
        }
        inner.progress.send_replace(rv);
        inner.ready.send_replace(true);
        let mut stream = match inner
            .storage
            .store()
            .watch(WatchRequest::prefix(
                Bytes::from_static(ROOT.as_bytes()),
                rv,
            ))
            .await
        {
            Ok(s) => s,
            Err(e) => {
                tracing::warn!("watch cache: watch failed: {e}");
                tokio::time::sleep(Duration::from_millis(200)).await;
                continue;
            }
        };
        while let Some(item) = stream.next().await {
            let event = match item {
                Ok(e) => e,
                Err(e) => {
                    tracing::info!("watch cache: re-listing after: {e}");
                    break;
                }
            };
            let rv = event.revision();
            if let Some(cache) = route(&inner, &event.kv.key) {
                let prev = event.prev.as_ref().and_then(|p| storage::decode(p).ok());
                let applied = match event.kind {
                    EventKind::Put => storage::decode(&event.kv).ok().map(|obj| CacheEvent {
                        kind: EventKind::Put,
                        object: Arc::new(obj),
                        prev: prev.map(Arc::new),
                        rv,
                        key: event.kv.key.clone(),
                    }),
                    EventKind::Delete => prev.map(|mut last| {
                        object::set_meta(&mut last, "resourceVersion", rv.to_string());
                        CacheEvent {
                            kind: EventKind::Delete,
                            object: Arc::new(last),
                            prev: None,
                            rv,
                            key: event.kv.key.clone(),
                        }
                    }),
                };
                if let Some(e) = applied {
                    cache.apply(e);
                }
            }
            inner.progress.send_replace(rv);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;
    use skiff_store::embedded::{EmbeddedOptions, EmbeddedStore};

    async fn setup() -> (tempfile::TempDir, Storage, Caches) {
        let dir = tempfile::tempdir().unwrap();
        let store = EmbeddedStore::open(
            dir.path(),
            EmbeddedOptions {
                fsync: false,
                retention: None,
                ..EmbeddedOptions::default()
            },
        )
        .await
        .unwrap();
        let storage = Storage::new(Arc::new(store));
        let caches = Caches::start(storage.clone());
        (dir, storage, caches)
    }

    fn cm(name: &str, ns: &str) -> Value {
        json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name, "namespace": ns}})
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn lists_are_consistent_and_watches_resume_in_order() {
        let (_dir, storage, caches) = setup().await;
        let cms = registry::lookup("", "v1", "configmaps").unwrap();
        let pods = registry::lookup("", "v1", "pods").unwrap();
        let a = storage.create(cms, &cm("a", "x"), None).await.unwrap();
        storage.create(cms, &cm("b", "y"), None).await.unwrap();
        // A consistent read sees both, even right after the writes.
        let cache = caches.consistent(cms).await.unwrap();
        assert_eq!(cache.snapshot(&storage::prefix(cms)).objects.len(), 2);
        assert_eq!(
            cache
                .snapshot(&storage::scope_prefix(cms, Some("x")))
                .objects
                .len(),
            1
        );
        // Writes to another resource advance every cache's revision.
        let p = storage
            .create(pods, &json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p", "namespace": "x"}}), None)
            .await
            .unwrap();
        let head: i64 = p["metadata"]["resourceVersion"]
            .as_str()
            .unwrap()
            .parse()
            .unwrap();
        let cache = caches.consistent(cms).await.unwrap();
        assert_eq!(cache.snapshot(&storage::prefix(cms)).rv, head);
        // A watch after the first create sees the second one, then live changes.
        let a_rv: i64 = a["metadata"]["resourceVersion"]
            .as_str()
            .unwrap()
            .parse()
            .unwrap();
        let Ok(mut start) = cache.start_after(a_rv).await else {
            panic!("start")
        };
        assert_eq!(start.backlog.len(), 1);
        assert_eq!(start.backlog[0].object["metadata"]["name"], "b");
        storage.delete(cms, Some("x"), "a", None).await.unwrap();
        match tokio::time::timeout(Duration::from_secs(5), start.rx.recv()).await {
            Ok(Ok(Signal::Event(e))) => {
                assert_eq!(e.kind, EventKind::Delete);
                assert_eq!(e.object["metadata"]["name"], "a");
            }
            other => panic!("{other:?}"),
        }
        // A revision in the future is waited for, then refused.
        assert!(
            matches!(cache.start_after(head + 100).await, Err(StartError::Api(e)) if e.code == 504)
        );
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn resuming_before_the_window_is_too_old() {
        let (_dir, storage, caches) = setup().await;
        let cms = registry::lookup("", "v1", "configmaps").unwrap();
        for i in 0..(HISTORY + 10) {
            storage
                .create(cms, &cm(&format!("c{i}"), "x"), None)
                .await
                .unwrap();
        }
        let cache = caches.consistent(cms).await.unwrap();
        assert!(matches!(
            cache.start_after(1).await,
            Err(StartError::TooOld { .. })
        ));
        let (snap, _rx) = cache.start_with_snapshot(&storage::prefix(cms));
        assert_eq!(snap.objects.len(), HISTORY + 10);
    }
}
