//! Tests of the etcd engine against a real etcd server ([`LocalEtcd`]). They fail, rather than
//! skip, when the `etcd` binary is missing. The full cross-engine suite is `tests/conformance.rs`.

use super::*;
use crate::types::EventKind;
use std::time::Duration;

async fn start() -> (LocalEtcd, EtcdStore) {
    start_with(EtcdOptions::default()).await
}

async fn start_with(options: EtcdOptions) -> (LocalEtcd, EtcdStore) {
    let etcd = match LocalEtcd::start().await {
        Ok(etcd) => etcd,
        Err(err) => panic!("these tests need a real etcd server: {err}"),
    };
    let store = EtcdStore::connect(&[etcd.endpoint()], options)
        .await
        .expect("connect to the local etcd");
    (etcd, store)
}

fn b(s: &'static str) -> Bytes {
    Bytes::from_static(s.as_bytes())
}

/// The next event of `stream`, failing the test after 10 s.
async fn next_event(stream: &mut WatchStream) -> Option<Result<crate::Event>> {
    tokio::time::timeout(Duration::from_secs(10), stream.next())
        .await
        .expect("no watch event within 10 s")
}

#[tokio::test]
async fn create_update_delete_follow_the_contract() {
    let (_etcd, store) = start().await;

    let a = store.create(b("/a"), b("1"), None).await.unwrap();
    assert_eq!(a.version, 1);
    assert_eq!(a.create_revision, a.mod_revision);
    assert_eq!(store.status().await.unwrap().revision, a.mod_revision);
    assert_eq!(store.get(b("/a")).await.unwrap(), Some(a.clone()));

    match store.create(b("/a"), b("2"), None).await {
        Err(Error::AlreadyExists { current }) => assert_eq!(*current, a),
        other => panic!("expected AlreadyExists, got {other:?}"),
    }

    let a2 = store
        .update(b("/a"), b("2"), a.mod_revision, None)
        .await
        .unwrap();
    assert_eq!(a2.version, 2);
    assert_eq!(a2.create_revision, a.create_revision);
    assert_eq!(a2.mod_revision, a.mod_revision + 1);
    assert_eq!(&a2.value[..], b"2");
    assert_eq!(store.get(b("/a")).await.unwrap(), Some(a2.clone()));

    match store.update(b("/a"), b("3"), a.mod_revision, None).await {
        Err(Error::Conflict { expected, current }) => {
            assert_eq!(expected, a.mod_revision);
            assert_eq!(*current, a2);
        }
        other => panic!("expected Conflict, got {other:?}"),
    }
    for expected in [0, a2.mod_revision] {
        assert!(matches!(
            store.update(b("/missing"), b("x"), expected, None).await,
            Err(Error::NotFound)
        ));
        assert!(matches!(
            store.delete(b("/missing"), Some(expected)).await,
            Err(Error::NotFound)
        ));
    }
    assert!(matches!(
        store.delete(b("/missing"), None).await,
        Err(Error::NotFound)
    ));

    match store.delete(b("/a"), Some(a.mod_revision)).await {
        Err(Error::Conflict { current, .. }) => assert_eq!(*current, a2),
        other => panic!("expected Conflict, got {other:?}"),
    }
    let deleted = store.delete(b("/a"), Some(a2.mod_revision)).await.unwrap();
    assert_eq!(deleted.prev, a2);
    assert_eq!(deleted.revision, a2.mod_revision + 1);
    assert_eq!(store.get(b("/a")).await.unwrap(), None);

    let c = store.create(b("/a"), b("again"), None).await.unwrap();
    assert_eq!(c.version, 1);
    assert_eq!(c.create_revision, deleted.revision + 1);
    let deleted = store.delete(b("/a"), None).await.unwrap();
    assert_eq!(deleted.prev, c);
    assert_eq!(deleted.revision, c.mod_revision + 1);

    assert!(matches!(
        store.create(Bytes::new(), b("x"), None).await,
        Err(Error::InvalidKey(_))
    ));
    let big = Bytes::from(vec![0u8; crate::MAX_VALUE_BYTES + 1]);
    assert!(matches!(
        store.create(b("/big"), big, None).await,
        Err(Error::ValueTooLarge { .. })
    ));
    // The largest value allowed fits through etcd's request limit.
    let max = Bytes::from(vec![7u8; crate::MAX_VALUE_BYTES]);
    let kv = store.create(b("/max"), max.clone(), None).await.unwrap();
    assert_eq!(store.get(b("/max")).await.unwrap().unwrap().value, max);
    store
        .update(b("/max"), max, kv.mod_revision, None)
        .await
        .unwrap();
}

#[tokio::test]
async fn range_pages_counts_and_reads_the_past() {
    let (_etcd, store) = start().await;
    let mut revisions = Vec::new();
    for k in ["/p/a", "/p/b", "/p/c", "/q"] {
        revisions.push(store.create(b(k), b(k), None).await.unwrap().mod_revision);
    }
    store
        .update(b("/p/a"), b("new"), revisions[0], None)
        .await
        .unwrap();

    let all = store.range(RangeRequest::prefix("/p/")).await.unwrap();
    assert_eq!(all.count, 3);
    assert!(!all.more);
    assert_eq!(all.revision, revisions[3] + 1);
    let keys: Vec<_> = all.kvs.iter().map(|kv| kv.key.clone()).collect();
    assert_eq!(keys, vec![b("/p/a"), b("/p/b"), b("/p/c")]);

    let req = RangeRequest::prefix("/p/").limit(2);
    let page = store.range(req.clone()).await.unwrap();
    assert_eq!((page.kvs.len(), page.more, page.count), (2, true, 3));
    let next = req.next_page(&page).unwrap();
    let page2 = store.range(next).await.unwrap();
    assert_eq!(page2.kvs.len(), 1);
    assert_eq!(&page2.kvs[0].key[..], b"/p/c");
    assert!(!page2.more);

    let count = store
        .range(RangeRequest::prefix("/").count_only())
        .await
        .unwrap();
    assert_eq!((count.count, count.kvs.len()), (4, 0));

    let to_end = store
        .range(RangeRequest::between("/p/b", vec![0u8]))
        .await
        .unwrap();
    assert_eq!(to_end.count, 3);

    let old = store
        .range(RangeRequest::key("/p/a").revision(revisions[0]))
        .await
        .unwrap();
    assert_eq!(&old.kvs[0].value[..], b"/p/a");

    let head = all.revision;
    match store
        .range(RangeRequest::key("/p/a").revision(head + 5))
        .await
    {
        Err(Error::FutureRevision { requested, current }) => {
            assert_eq!((requested, current), (head + 5, head));
        }
        other => panic!("expected FutureRevision, got {other:?}"),
    }
    assert!(matches!(
        store.range(RangeRequest::key(Bytes::new())).await,
        Err(Error::InvalidKey(_))
    ));
}

#[tokio::test]
async fn watch_delivers_changes_after_a_revision_with_previous_values() {
    let (_etcd, store) = start().await;
    let a = store.create(b("/w/a"), b("1"), None).await.unwrap();
    let mut from_a = store
        .watch(WatchRequest::prefix("/w/", a.mod_revision))
        .await
        .unwrap();
    let mut from_now = store.watch(WatchRequest::prefix("/w/", 0)).await.unwrap();
    let mut one_key = store
        .watch(WatchRequest::key("/w/b", a.mod_revision - 1))
        .await
        .unwrap();

    let a2 = store
        .update(b("/w/a"), b("2"), a.mod_revision, None)
        .await
        .unwrap();
    let bkv = store.create(b("/w/b"), b("x"), None).await.unwrap();
    store.create(b("/other"), b("x"), None).await.unwrap();
    let del = store.delete(b("/w/a"), None).await.unwrap();

    for stream in [&mut from_a, &mut from_now] {
        let ev = next_event(stream).await.unwrap().unwrap();
        assert_eq!(ev.kind, EventKind::Put);
        assert_eq!(ev.kv, a2);
        assert_eq!(ev.prev, Some(a.clone()));
        let ev = next_event(stream).await.unwrap().unwrap();
        assert_eq!(
            (ev.kind, ev.kv.clone(), ev.prev),
            (EventKind::Put, bkv.clone(), None)
        );
        let ev = next_event(stream).await.unwrap().unwrap();
        assert_eq!(ev.kind, EventKind::Delete);
        assert_eq!(&ev.kv.key[..], b"/w/a");
        assert_eq!(ev.revision(), del.revision);
        assert_eq!((ev.kv.version, ev.kv.create_revision), (0, 0));
        assert!(ev.kv.value.is_empty());
        assert_eq!(ev.prev, Some(a2.clone()));
    }
    let ev = next_event(&mut one_key).await.unwrap().unwrap();
    assert_eq!(ev.kv, bkv);

    let head = store.status().await.unwrap().revision;
    match store.watch(WatchRequest::prefix("/w/", head + 1)).await {
        Err(Error::FutureRevision { requested, current }) => {
            assert_eq!((requested, current), (head + 1, head));
        }
        other => panic!("expected FutureRevision, got {other:?}"),
    }
    // Watching from the head itself is fine and sees nothing yet.
    let mut at_head = store
        .watch(WatchRequest::prefix("/w/", head))
        .await
        .unwrap();
    assert!(
        tokio::time::timeout(Duration::from_millis(300), at_head.next())
            .await
            .is_err()
    );
}

#[tokio::test]
async fn compaction_cuts_reads_and_watches_and_shows_in_status() {
    let (_etcd, store) = start().await;
    let first = store.create(b("/c"), b("0"), None).await.unwrap();
    let mut last = first.clone();
    for i in 1..5 {
        last = store
            .update(b("/c"), Bytes::from(i.to_string()), last.mod_revision, None)
            .await
            .unwrap();
    }
    let point = last.mod_revision - 1;
    store.compact(point).await.unwrap();
    let status = store.status().await.unwrap();
    assert_eq!(status.compacted_revision, point);
    assert_eq!(status.revision, last.mod_revision);
    assert!(status.db_size_bytes > 0);

    match store
        .range(RangeRequest::key("/c").revision(first.mod_revision))
        .await
    {
        Err(Error::Compacted {
            requested,
            compacted,
        }) => assert_eq!((requested, compacted), (first.mod_revision, point)),
        other => panic!("expected Compacted, got {other:?}"),
    }
    // The compaction point itself is still readable.
    let at = store
        .range(RangeRequest::key("/c").revision(point))
        .await
        .unwrap();
    assert_eq!(at.kvs[0].mod_revision, point);

    let mut stream = store
        .watch(WatchRequest::key("/c", first.mod_revision))
        .await
        .unwrap();
    match next_event(&mut stream).await {
        Some(Err(Error::Compacted {
            requested,
            compacted,
        })) => assert_eq!((requested, compacted), (first.mod_revision, point)),
        other => panic!("expected Compacted, got {other:?}"),
    }
    assert!(next_event(&mut stream).await.is_none());
    // A watch from just below the compaction point still starts.
    let mut stream = store
        .watch(WatchRequest::key("/c", point - 1))
        .await
        .unwrap();
    let ev = next_event(&mut stream).await.unwrap().unwrap();
    assert_eq!(ev.revision(), point);

    match store.compact(point).await {
        Err(Error::Compacted { compacted, .. }) => assert_eq!(compacted, point),
        other => panic!("expected Compacted, got {other:?}"),
    }
    match store.compact(last.mod_revision + 10).await {
        Err(Error::FutureRevision { current, .. }) => assert_eq!(current, last.mod_revision),
        other => panic!("expected FutureRevision, got {other:?}"),
    }
}

#[tokio::test]
async fn a_new_client_learns_the_compaction_point_from_etcd() {
    let (etcd, store) = start().await;
    let mut kv = store.create(b("/k"), b("0"), None).await.unwrap();
    for _ in 0..4 {
        kv = store
            .update(b("/k"), b("x"), kv.mod_revision, None)
            .await
            .unwrap();
    }
    store.compact(kv.mod_revision).await.unwrap();
    let other = EtcdStore::connect(&[etcd.endpoint()], EtcdOptions::default())
        .await
        .unwrap();
    match other.range(RangeRequest::key("/k").revision(2)).await {
        Err(Error::Compacted { compacted, .. }) => assert_eq!(compacted, kv.mod_revision),
        other => panic!("expected Compacted, got {other:?}"),
    }
    assert_eq!(
        other.status().await.unwrap().compacted_revision,
        kv.mod_revision
    );
}

#[tokio::test]
async fn keys_with_a_ttl_expire_with_a_delete_event_and_share_leases() {
    let (_etcd, store) = start().await;
    let short = store
        .create(b("/ttl/a"), b("x"), Some(Duration::from_secs(1)))
        .await
        .unwrap();
    let mut stream = store
        .watch(WatchRequest::prefix("/ttl/", short.mod_revision))
        .await
        .unwrap();
    store
        .create(b("/ttl/b"), b("x"), Some(Duration::from_secs(1)))
        .await
        .unwrap();
    let long = store
        .create(b("/ttl/long"), b("x"), Some(Duration::from_secs(600)))
        .await
        .unwrap();
    // An update without TTL detaches the key from its lease.
    store
        .update(b("/ttl/long"), b("y"), long.mod_revision, None)
        .await
        .unwrap();

    let mut deleted = Vec::new();
    while deleted.len() < 2 {
        let ev = next_event(&mut stream).await.unwrap().unwrap();
        if ev.kind == EventKind::Delete {
            assert!(ev.prev.is_some());
            deleted.push(ev.kv.key);
        }
    }
    deleted.sort();
    assert_eq!(deleted, vec![b("/ttl/a"), b("/ttl/b")]);
    assert_eq!(store.get(b("/ttl/a")).await.unwrap(), None);
    assert!(store.get(b("/ttl/long")).await.unwrap().is_some());

    // Keys with the same long TTL written together share one lease.
    let mut leases = std::collections::HashSet::new();
    for i in 0..5 {
        let key = format!("/ttl/hour/{i}");
        store
            .create(
                Bytes::from(key.clone()),
                b("x"),
                Some(Duration::from_secs(3600)),
            )
            .await
            .unwrap();
        let resp = store.inner.kv().get(key, None).await.unwrap();
        leases.insert(resp.kvs()[0].lease());
    }
    assert_eq!(leases.len(), 1);
    assert!(!leases.contains(&0));
}

#[tokio::test]
async fn a_revoked_cached_lease_is_replaced() {
    let (_etcd, store) = start().await;
    let ttl = Some(Duration::from_secs(3600));
    store.create(b("/l/1"), b("x"), ttl).await.unwrap();
    let lease = store.inner.kv().get("/l/1", None).await.unwrap().kvs()[0].lease();
    store.inner.lease.clone().revoke(lease).await.unwrap();
    store.create(b("/l/2"), b("x"), ttl).await.unwrap();
    let kv = store.inner.kv().get("/l/2", None).await.unwrap();
    assert_ne!(kv.kvs()[0].lease(), lease);
}

#[tokio::test]
async fn periodic_compaction_follows_the_retention_and_stops_with_the_store() {
    let retention = Retention {
        min_age: Duration::ZERO,
        min_revisions: 3,
        interval: Duration::from_millis(100),
    };
    let (_etcd, store) = start_with(EtcdOptions {
        retention: Some(retention),
        ..EtcdOptions::default()
    })
    .await;
    let mut kv = store.create(b("/r"), b("0"), None).await.unwrap();
    for _ in 0..10 {
        kv = store
            .update(b("/r"), b("x"), kv.mod_revision, None)
            .await
            .unwrap();
    }
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    loop {
        let status = store.status().await.unwrap();
        if status.compacted_revision == kv.mod_revision - 3 {
            break;
        }
        assert!(
            status.compacted_revision <= kv.mod_revision - 3,
            "{status:?}"
        );
        assert!(
            tokio::time::Instant::now() < deadline,
            "not compacted in time: {status:?}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let weak = Arc::downgrade(&store.inner);
    drop(store);
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(weak.upgrade().is_none());
}

#[tokio::test]
async fn local_etcd_restarts_with_its_data_and_connect_fails_without_a_server() {
    let (mut etcd, store) = start().await;
    let kv = store.create(b("/keep"), b("x"), None).await.unwrap();
    let pid = etcd.pid().unwrap();
    etcd.kill();
    assert_eq!(etcd.pid(), None);
    assert!(!std::path::Path::new(&format!("/proc/{pid}")).exists());
    etcd.restart().await.unwrap();
    assert_ne!(etcd.pid(), Some(pid));
    // The old client reconnects on its own.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    let got = loop {
        match store.get(b("/keep")).await {
            Ok(got) => break got,
            Err(err) if tokio::time::Instant::now() < deadline => {
                let _ = err;
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
            Err(err) => panic!("store did not reconnect: {err}"),
        }
    };
    assert_eq!(got, Some(kv));

    let endpoint = etcd.endpoint();
    drop(etcd);
    let options = EtcdOptions {
        connect_timeout: Duration::from_millis(500),
        ..EtcdOptions::default()
    };
    assert!(EtcdStore::connect(&[endpoint], options).await.is_err());
}

/// etcd's count of open watchers, from its Prometheus metrics on the client port.
async fn etcd_watchers(etcd: &LocalEtcd) -> i64 {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let addr = etcd.endpoint().trim_start_matches("http://").to_owned();
    let mut conn = tokio::net::TcpStream::connect(addr).await.unwrap();
    conn.write_all(b"GET /metrics HTTP/1.0\r\n\r\n")
        .await
        .unwrap();
    let mut body = String::new();
    conn.read_to_string(&mut body).await.unwrap();
    body.lines()
        .find_map(|l| l.strip_prefix("etcd_debugging_mvcc_watcher_total "))
        .expect("etcd reports etcd_debugging_mvcc_watcher_total")
        .trim()
        .parse::<f64>()
        .unwrap() as i64
}

#[tokio::test]
async fn dropping_a_watch_stream_cancels_the_etcd_watch() {
    let (etcd, store) = start().await;
    assert_eq!(etcd_watchers(&etcd).await, 0);
    let stream = store.watch(WatchRequest::prefix("/", 0)).await.unwrap();
    assert_eq!(etcd_watchers(&etcd).await, 1);
    drop(stream);
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while etcd_watchers(&etcd).await != 0 {
        assert!(tokio::time::Instant::now() < deadline, "watch not canceled");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}
