//! One conformance suite for the `Store` contract, run against every engine.
//!
//! Each test gets a fresh store: the embedded engine in a temporary directory (fsync on, as in
//! production) and a real etcd server started on loopback ports. etcd tests fail, loudly, when
//! the `etcd` binary is missing: `scripts/install-deps` installs it.

use bytes::Bytes;
use futures::StreamExt;
use skiff_store::embedded::{EmbeddedOptions, EmbeddedStore};
use skiff_store::etcd::local::LocalEtcd;
use skiff_store::etcd::{EtcdOptions, EtcdStore};
use skiff_store::{
    Error, Event, EventKind, KeyValue, MAX_VALUE_BYTES, RangeRequest, Store, WatchRequest,
    WatchStream,
};
use std::collections::{BTreeMap, HashSet};
use std::sync::Arc;
use std::time::Duration;

/// A store under test plus whatever must live as long as it (temp dir, etcd process).
struct Harness {
    store: Arc<dyn Store>,
    _keep: Box<dyn std::any::Any + Send>,
}

async fn embedded() -> Harness {
    let dir = tempfile::tempdir().unwrap();
    let store = EmbeddedStore::open(
        dir.path(),
        EmbeddedOptions {
            retention: None,
            ..EmbeddedOptions::default()
        },
    )
    .await
    .unwrap();
    Harness {
        store: Arc::new(store),
        _keep: Box::new(dir),
    }
}

async fn etcd() -> Harness {
    let server = LocalEtcd::start()
        .await
        .unwrap_or_else(|e| panic!("etcd conformance tests need a real etcd: {e}"));
    let store = EtcdStore::connect(&[server.endpoint()], EtcdOptions::default())
        .await
        .unwrap();
    Harness {
        store: Arc::new(store),
        _keep: Box::new(server),
    }
}

macro_rules! conformance {
    ($($name:ident),* $(,)?) => {
        mod embedded_engine {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
                async fn $name() {
                    super::$name(super::embedded().await).await
                }
            )*
        }
        mod etcd_engine {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
                async fn $name() {
                    super::$name(super::etcd().await).await
                }
            )*
        }
    };
}

conformance!(
    every_write_bumps_one_global_revision,
    failed_preconditions_return_the_current_record,
    no_update_is_lost_under_64_concurrent_writers,
    watch_delivers_every_change_once_in_order_and_resumes,
    watch_started_during_writes_misses_and_repeats_nothing,
    watch_from_now_sees_only_later_changes,
    compaction_cuts_history_with_a_distinct_error,
    keys_with_a_ttl_expire_with_a_delete_event,
    paging_at_a_fixed_revision_sees_one_snapshot,
    bad_input_is_refused_and_changes_nothing,
);

fn b(s: impl AsRef<str>) -> Bytes {
    Bytes::copy_from_slice(s.as_ref().as_bytes())
}

async fn head(store: &dyn Store) -> i64 {
    store.status().await.unwrap().revision
}

/// Writes one unrelated key so the head is past 0 (a watch after revision 0 means "from now").
async fn seeded_head(store: &dyn Store) -> i64 {
    store.create(b("/seed"), b("s"), None).await.unwrap();
    head(store).await
}

/// Reads `n` events from a watch, failing on errors or a stall.
async fn take(w: &mut WatchStream, n: usize) -> Vec<Event> {
    let mut out = Vec::with_capacity(n);
    while out.len() < n {
        match tokio::time::timeout(Duration::from_secs(20), w.next()).await {
            Ok(Some(Ok(e))) => out.push(e),
            Ok(Some(Err(e))) => panic!("watch failed after {} events: {e}", out.len()),
            Ok(None) => panic!("watch ended after {} events", out.len()),
            Err(_) => panic!("watch stalled after {} of {n} events", out.len()),
        }
    }
    out
}

/// Asserts no event arrives within a short time.
async fn quiet(w: &mut WatchStream) {
    if let Ok(item) = tokio::time::timeout(Duration::from_millis(300), w.next()).await {
        panic!("unexpected watch item {item:?}");
    }
}

async fn every_write_bumps_one_global_revision(h: Harness) {
    let s = &*h.store;
    let base = head(s).await;
    let a1 = s.create(b("/r/a"), b("1"), None).await.unwrap();
    assert_eq!(
        (a1.create_revision, a1.mod_revision, a1.version),
        (base + 1, base + 1, 1)
    );
    let a2 = s
        .update(b("/r/a"), b("2"), a1.mod_revision, None)
        .await
        .unwrap();
    assert_eq!(
        (a2.create_revision, a2.mod_revision, a2.version),
        (base + 1, base + 2, 2)
    );
    let bk = s.create(b("/r/b"), b("1"), None).await.unwrap();
    assert_eq!(bk.mod_revision, base + 3);
    let d = s.delete(b("/r/a"), Some(a2.mod_revision)).await.unwrap();
    assert_eq!(d.revision, base + 4);
    assert_eq!(d.prev, a2);
    // A key created again starts over.
    let a3 = s.create(b("/r/a"), b("3"), None).await.unwrap();
    assert_eq!(
        (a3.create_revision, a3.mod_revision, a3.version),
        (base + 5, base + 5, 1)
    );
    assert_eq!(head(s).await, base + 5);
    assert_eq!(s.get(b("/r/a")).await.unwrap(), Some(a3));
    assert_eq!(s.get(b("/r/zzz")).await.unwrap(), None);
    // Reads at past revisions.
    let at2 = s
        .range(RangeRequest::prefix(b("/r/")).revision(base + 2))
        .await
        .unwrap();
    assert_eq!(at2.kvs, vec![a2.clone()]);
    assert_eq!(at2.revision, base + 5);
    let at4 = s
        .range(RangeRequest::prefix(b("/r/")).revision(base + 4))
        .await
        .unwrap();
    assert_eq!(at4.kvs, vec![bk.clone()]);
    let count = s
        .range(RangeRequest::prefix(b("/r/")).count_only())
        .await
        .unwrap();
    assert_eq!((count.count, count.kvs.len()), (2, 0));
}

async fn failed_preconditions_return_the_current_record(h: Harness) {
    let s = &*h.store;
    let kv = s.create(b("/c/k"), b("v1"), None).await.unwrap();
    let before = head(s).await;

    match s.create(b("/c/k"), b("other"), None).await {
        Err(Error::AlreadyExists { current }) => assert_eq!(*current, kv),
        other => panic!("create over an existing key: {other:?}"),
    }
    match s
        .update(b("/c/k"), b("v2"), kv.mod_revision - 1, None)
        .await
    {
        Err(Error::Conflict { expected, current }) => {
            assert_eq!(expected, kv.mod_revision - 1);
            assert_eq!(*current, kv);
        }
        other => panic!("stale update: {other:?}"),
    }
    match s.delete(b("/c/k"), Some(kv.mod_revision + 100)).await {
        Err(Error::Conflict { current, .. }) => assert_eq!(*current, kv),
        other => panic!("stale delete: {other:?}"),
    }
    assert!(matches!(
        s.update(b("/c/missing"), b("v"), 1, None).await,
        Err(Error::NotFound)
    ));
    assert!(matches!(
        s.delete(b("/c/missing"), Some(1)).await,
        Err(Error::NotFound)
    ));
    assert!(matches!(
        s.delete(b("/c/missing"), None).await,
        Err(Error::NotFound)
    ));
    // Nothing above was written.
    assert_eq!(head(s).await, before);
    assert_eq!(s.get(b("/c/k")).await.unwrap(), Some(kv.clone()));
    // The current record is enough to retry.
    let kv2 = s
        .update(b("/c/k"), b("v2"), kv.mod_revision, None)
        .await
        .unwrap();
    let gone = s.delete(b("/c/k"), None).await.unwrap();
    assert_eq!(gone.prev, kv2);
}

async fn no_update_is_lost_under_64_concurrent_writers(h: Harness) {
    const WRITERS: usize = 64;
    const EACH: usize = 15;
    let s = h.store.clone();
    let start = s.create(b("/n/counter"), b("0"), None).await.unwrap();
    let mut tasks = Vec::new();
    for w in 0..WRITERS {
        let s = s.clone();
        tasks.push(tokio::spawn(async move {
            let mut revs = Vec::new();
            let mut current = s.get(b("/n/counter")).await.unwrap().unwrap();
            for i in 0..EACH {
                // Every writer also creates its own keys, so creates and CAS updates interleave.
                s.create(b(format!("/n/own/{w}/{i}")), b("x"), None)
                    .await
                    .unwrap();
                loop {
                    let n: u64 = std::str::from_utf8(&current.value)
                        .unwrap()
                        .parse()
                        .unwrap();
                    match s
                        .update(
                            b("/n/counter"),
                            b((n + 1).to_string()),
                            current.mod_revision,
                            None,
                        )
                        .await
                    {
                        Ok(kv) => {
                            revs.push(kv.mod_revision);
                            current = kv;
                            break;
                        }
                        Err(Error::Conflict { current: c, .. }) => current = *c,
                        Err(e) => panic!("writer {w}: {e}"),
                    }
                }
            }
            revs
        }));
    }
    let mut all = HashSet::new();
    for t in tasks {
        for rev in t.await.unwrap() {
            assert!(all.insert(rev), "revision {rev} acknowledged twice");
        }
    }
    let total = WRITERS * EACH;
    assert_eq!(all.len(), total);
    let end = s.get(b("/n/counter")).await.unwrap().unwrap();
    assert_eq!(std::str::from_utf8(&end.value).unwrap(), total.to_string());
    assert_eq!(end.version, total as i64 + 1);
    assert_eq!(end.create_revision, start.create_revision);
    let own = s
        .range(RangeRequest::prefix(b("/n/own/")).count_only())
        .await
        .unwrap();
    assert_eq!(own.count, total as i64);
    // One revision per committed write, no gaps.
    assert_eq!(head(&*s).await, start.mod_revision + 2 * total as i64);
}

/// Writes a mix of creates, updates and deletes under `/w/` with noise under `/x/`; returns the
/// expected `/w/` events.
async fn write_mix(s: &dyn Store, n: usize) -> Vec<Event> {
    let mut expected = Vec::new();
    let mut live: BTreeMap<String, KeyValue> = BTreeMap::new();
    for i in 0..n {
        let key = format!("/w/{}", i % 7);
        s.create(b(format!("/x/{i}")), b("noise"), None)
            .await
            .unwrap();
        let prev = live.get(&key).cloned();
        let event = match (&prev, i % 5) {
            (Some(p), 4) => {
                let d = s.delete(b(&key), Some(p.mod_revision)).await.unwrap();
                live.remove(&key);
                Event {
                    kind: EventKind::Delete,
                    kv: KeyValue {
                        key: b(&key),
                        value: Bytes::new(),
                        create_revision: 0,
                        mod_revision: d.revision,
                        version: 0,
                    },
                    prev,
                }
            }
            (Some(p), _) => {
                let kv = s
                    .update(b(&key), b(format!("v{i}")), p.mod_revision, None)
                    .await
                    .unwrap();
                live.insert(key, kv.clone());
                Event {
                    kind: EventKind::Put,
                    kv,
                    prev,
                }
            }
            (None, _) => {
                let kv = s.create(b(&key), b(format!("v{i}")), None).await.unwrap();
                live.insert(key, kv.clone());
                Event {
                    kind: EventKind::Put,
                    kv,
                    prev: None,
                }
            }
        };
        expected.push(event);
    }
    expected
}

async fn watch_delivers_every_change_once_in_order_and_resumes(h: Harness) {
    let s = &*h.store;
    let base = seeded_head(s).await;
    let expected = write_mix(s, 120).await;

    let mut w = s.watch(WatchRequest::prefix(b("/w/"), base)).await.unwrap();
    assert_eq!(take(&mut w, expected.len()).await, expected);
    quiet(&mut w).await;

    // Resume from the middle: exactly the rest.
    let mid = expected[60].revision();
    let mut w2 = s.watch(WatchRequest::prefix(b("/w/"), mid)).await.unwrap();
    assert_eq!(take(&mut w2, 59).await, expected[61..].to_vec());

    // Both continue live.
    let kv = s.create(b("/w/live"), b("1"), None).await.unwrap();
    for w in [&mut w, &mut w2] {
        let e = take(w, 1).await;
        assert_eq!((e[0].kind, &e[0].kv), (EventKind::Put, &kv));
    }

    // A single-key watch sees only that key.
    let mut one = s.watch(WatchRequest::key(b("/w/3"), base)).await.unwrap();
    let want: Vec<Event> = expected
        .iter()
        .filter(|e| &e.kv.key[..] == b"/w/3")
        .cloned()
        .collect();
    assert_eq!(take(&mut one, want.len()).await, want);
    quiet(&mut one).await;
}

async fn watch_started_during_writes_misses_and_repeats_nothing(h: Harness) {
    let s = h.store.clone();
    let base = seeded_head(&*s).await;
    const WRITES: usize = 600;
    let writer = {
        let s = s.clone();
        tokio::spawn(async move {
            let mut revs = Vec::new();
            for i in 0..WRITES {
                revs.push(
                    s.create(b(format!("/d/{i:04}")), b("v"), None)
                        .await
                        .unwrap()
                        .mod_revision,
                );
            }
            revs
        })
    };
    // Start watchers at different moments while the writer runs.
    let mut watchers = Vec::new();
    for _ in 0..4 {
        tokio::time::sleep(Duration::from_millis(20)).await;
        watchers.push(s.watch(WatchRequest::prefix(b("/d/"), base)).await.unwrap());
    }
    let revs = writer.await.unwrap();
    for mut w in watchers {
        let got: Vec<i64> = take(&mut w, WRITES)
            .await
            .iter()
            .map(Event::revision)
            .collect();
        assert_eq!(got, revs);
        quiet(&mut w).await;
    }
}

async fn watch_from_now_sees_only_later_changes(h: Harness) {
    let s = &*h.store;
    s.create(b("/f/before"), b("1"), None).await.unwrap();
    let mut w = s.watch(WatchRequest::prefix(b("/f/"), 0)).await.unwrap();
    quiet(&mut w).await;
    let kv = s.create(b("/f/after"), b("2"), None).await.unwrap();
    let got = take(&mut w, 1).await;
    assert_eq!(got[0].kv, kv);
}

/// Whether a watch from `after` fails with `Compacted`, either at once or as its first item.
async fn watch_is_compacted(s: &dyn Store, after: i64) -> bool {
    match s.watch(WatchRequest::prefix(b("/k/"), after)).await {
        Err(Error::Compacted { .. }) => true,
        Err(e) => panic!("watch from a compacted revision: {e}"),
        Ok(mut w) => match tokio::time::timeout(Duration::from_secs(10), w.next()).await {
            Ok(Some(Err(Error::Compacted { .. }))) => {
                // The stream ends after the error.
                matches!(
                    tokio::time::timeout(Duration::from_secs(5), w.next()).await,
                    Ok(None)
                )
            }
            other => panic!("watch from a compacted revision yielded {other:?}"),
        },
    }
}

async fn compaction_cuts_history_with_a_distinct_error(h: Harness) {
    let s = &*h.store;
    let mut revs = Vec::new();
    let mut kv = s.create(b("/k/a"), b("0"), None).await.unwrap();
    revs.push(kv.mod_revision);
    for i in 1..10 {
        kv = s
            .update(b("/k/a"), b(i.to_string()), kv.mod_revision, None)
            .await
            .unwrap();
        revs.push(kv.mod_revision);
    }
    let gone = s.create(b("/k/gone"), b("x"), None).await.unwrap();
    s.delete(b("/k/gone"), None).await.unwrap();
    let point = revs[6];
    s.compact(point).await.unwrap();
    assert!(s.status().await.unwrap().compacted_revision >= point);

    let err = s
        .range(RangeRequest::key(b("/k/a")).revision(revs[5]))
        .await
        .unwrap_err();
    assert!(matches!(err, Error::Compacted { .. }), "{err}");
    assert!(watch_is_compacted(s, revs[2]).await);

    // At and after the compaction point everything is still there.
    let at = s
        .range(RangeRequest::key(b("/k/a")).revision(point))
        .await
        .unwrap();
    assert_eq!(&at.kvs[0].value[..], b"6");
    let mut w = s
        .watch(WatchRequest::prefix(b("/k/"), point))
        .await
        .unwrap();
    let events = take(&mut w, 5).await;
    let got: Vec<i64> = events.iter().map(Event::revision).collect();
    let mut want = revs[7..].to_vec();
    want.push(gone.mod_revision);
    want.push(gone.mod_revision + 1);
    assert_eq!(got, want);
    assert_eq!(
        events[0].prev.as_ref().map(|p| &p.value[..]),
        Some(&b"6"[..])
    );

    // Compacting again at or below the point, or past the head, is refused.
    assert!(matches!(
        s.compact(point).await,
        Err(Error::Compacted { .. })
    ));
    let h = head(s).await;
    assert!(matches!(
        s.compact(h + 10).await,
        Err(Error::FutureRevision { .. })
    ));
}

async fn keys_with_a_ttl_expire_with_a_delete_event(h: Harness) {
    let s = &*h.store;
    let mut w = s.watch(WatchRequest::prefix(b("/t/"), 0)).await.unwrap();
    let short = s
        .create(b("/t/event"), b("e"), Some(Duration::from_secs(2)))
        .await
        .unwrap();
    let kept = s.create(b("/t/kept"), b("k"), None).await.unwrap();
    let long = s
        .create(b("/t/long"), b("l"), Some(Duration::from_secs(3600)))
        .await
        .unwrap();
    let created = take(&mut w, 3).await;
    assert_eq!(
        created.iter().map(|e| e.kv.clone()).collect::<Vec<_>>(),
        vec![short.clone(), kept.clone(), long.clone()]
    );
    // The expiry shows up as a delete event carrying the last value.
    let deadline = Duration::from_secs(15);
    let del = match tokio::time::timeout(deadline, w.next()).await {
        Ok(Some(Ok(e))) => e,
        other => panic!("no expiry within {deadline:?}: {other:?}"),
    };
    assert_eq!(del.kind, EventKind::Delete);
    assert_eq!(del.prev, Some(short));
    assert_eq!(s.get(b("/t/event")).await.unwrap(), None);
    assert_eq!(s.get(b("/t/kept")).await.unwrap(), Some(kept));
    assert_eq!(s.get(b("/t/long")).await.unwrap(), Some(long));
}

async fn paging_at_a_fixed_revision_sees_one_snapshot(h: Harness) {
    let s = h.store.clone();
    let mut snapshot = BTreeMap::new();
    for i in 0..100 {
        let kv = s
            .create(b(format!("/p/{i:03}")), b(format!("v{i}")), None)
            .await
            .unwrap();
        snapshot.insert(kv.key.clone(), kv);
    }
    let first = s
        .range(RangeRequest::prefix(b("/p/")).limit(7))
        .await
        .unwrap();
    let at = first.revision;
    assert_eq!((first.kvs.len(), first.count, first.more), (7, 100, true));
    // Change the range while paging: updates, deletes and new keys must not show up.
    let churn = {
        let s = s.clone();
        tokio::spawn(async move {
            for i in (0..100).step_by(3) {
                let key = b(format!("/p/{i:03}"));
                let cur = s.get(key.clone()).await.unwrap().unwrap();
                if i % 2 == 0 {
                    s.update(key, b("changed"), cur.mod_revision, None)
                        .await
                        .unwrap();
                } else {
                    s.delete(key, None).await.unwrap();
                }
                s.create(b(format!("/p/{i:03}-new")), b("new"), None)
                    .await
                    .unwrap();
            }
        })
    };
    let req = RangeRequest::prefix(b("/p/")).limit(7);
    let mut seen: Vec<KeyValue> = first.kvs.clone();
    let mut resp = first;
    let mut page_req = req.next_page(&resp);
    let mut pages = 1;
    while let Some(r) = page_req {
        assert_eq!(r.revision, at);
        resp = s.range(r.clone()).await.unwrap();
        assert_eq!(
            resp.count as usize,
            100 - seen.len(),
            "count of the rest of the range"
        );
        seen.extend(resp.kvs.iter().cloned());
        page_req = r.next_page(&resp);
        pages += 1;
    }
    churn.await.unwrap();
    assert_eq!(pages, 15);
    let got: BTreeMap<Bytes, KeyValue> = seen.into_iter().map(|kv| (kv.key.clone(), kv)).collect();
    assert_eq!(got, snapshot);
    // The churn is visible at the current revision.
    let now = s
        .range(RangeRequest::prefix(b("/p/")).count_only())
        .await
        .unwrap();
    assert_eq!(now.count, 100 - 17 + 34);
}

async fn bad_input_is_refused_and_changes_nothing(h: Harness) {
    let s = &*h.store;
    let kv = s.create(b("/b/k"), b("v"), None).await.unwrap();
    let before = head(s).await;

    let big = Bytes::from(vec![b'x'; MAX_VALUE_BYTES + 1]);
    for result in [
        s.create(b("/b/big"), big.clone(), None).await,
        s.update(b("/b/k"), big.clone(), kv.mod_revision, None)
            .await,
    ] {
        assert!(
            matches!(result, Err(Error::ValueTooLarge { size, .. }) if size == MAX_VALUE_BYTES + 1),
            "{result:?}"
        );
    }
    assert!(matches!(
        s.create(Bytes::new(), b("v"), None).await,
        Err(Error::InvalidKey(_))
    ));
    assert!(matches!(
        s.update(Bytes::new(), b("v"), 1, None).await,
        Err(Error::InvalidKey(_))
    ));
    assert!(matches!(
        s.delete(Bytes::new(), None).await,
        Err(Error::InvalidKey(_))
    ));
    assert!(matches!(
        s.range(RangeRequest::key(Bytes::new())).await,
        Err(Error::InvalidKey(_))
    ));
    assert!(matches!(
        s.watch(WatchRequest::key(Bytes::new(), 0)).await,
        Err(Error::InvalidKey(_))
    ));
    match s
        .range(RangeRequest::prefix(b("/b/")).revision(before + 5))
        .await
    {
        Err(Error::FutureRevision { requested, .. }) => assert_eq!(requested, before + 5),
        other => panic!("range in the future: {other:?}"),
    }
    assert!(matches!(
        s.watch(WatchRequest::prefix(b("/b/"), before + 5)).await,
        Err(Error::FutureRevision { .. })
    ));
    assert_eq!(head(s).await, before);
    assert_eq!(s.get(b("/b/k")).await.unwrap(), Some(kv));
    assert_eq!(s.get(b("/b/big")).await.unwrap(), None);

    // The largest allowed value is accepted and read back whole.
    let max = Bytes::from(vec![b'm'; MAX_VALUE_BYTES]);
    let stored = s.create(b("/b/max"), max.clone(), None).await.unwrap();
    assert_eq!(stored.value, max);
    assert_eq!(
        s.get(b("/b/max")).await.unwrap().unwrap().value.len(),
        MAX_VALUE_BYTES
    );
    let mut w = s
        .watch(WatchRequest::key(b("/b/max"), before))
        .await
        .unwrap();
    let e = w.next().await.unwrap().unwrap();
    assert_eq!(e.kv.value.len(), MAX_VALUE_BYTES);
}

#[tokio::test]
async fn watch_streams_are_streams() {
    // WatchStream is also a futures Stream (used by the API server's watch cache).
    let h = embedded().await;
    let mut w = h
        .store
        .watch(WatchRequest::prefix(b("/s/"), 0))
        .await
        .unwrap();
    h.store.create(b("/s/a"), b("1"), None).await.unwrap();
    let first = StreamExt::next(&mut w).await.unwrap().unwrap();
    assert_eq!(&first.kv.key[..], b"/s/a");
}
