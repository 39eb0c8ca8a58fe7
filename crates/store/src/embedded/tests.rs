//! Tests of what only the embedded engine has: its file, its restart and its limits.
//! The behaviour shared with etcd is covered by `tests/conformance.rs`.

use super::*;
use crate::types::EventKind;

fn opts() -> EmbeddedOptions {
    EmbeddedOptions {
        fsync: false,
        retention: None,
        ..EmbeddedOptions::default()
    }
}

fn b(s: &str) -> Bytes {
    Bytes::copy_from_slice(s.as_bytes())
}

#[tokio::test]
async fn everything_survives_a_reopen_with_the_same_revisions() {
    let dir = tempfile::tempdir().unwrap();
    let (a, c) = {
        let store = EmbeddedStore::open(dir.path(), opts()).await.unwrap();
        let a = store.create(b("/a"), b("1"), None).await.unwrap();
        let a = store
            .update(b("/a"), b("2"), a.mod_revision, None)
            .await
            .unwrap();
        let bk = store.create(b("/b"), b("1"), None).await.unwrap();
        store.delete(b("/b"), Some(bk.mod_revision)).await.unwrap();
        let c = store.create(b("/c"), b("1"), None).await.unwrap();
        (a, c)
    };
    let store = EmbeddedStore::open(dir.path(), opts()).await.unwrap();
    assert_eq!(store.get(b("/a")).await.unwrap(), Some(a.clone()));
    assert_eq!(store.get(b("/b")).await.unwrap(), None);
    assert_eq!(store.get(b("/c")).await.unwrap(), Some(c.clone()));
    assert_eq!(store.status().await.unwrap().revision, 5);
    // History from before the restart is still readable and watchable.
    let old = store
        .range(RangeRequest::key(b("/a")).revision(1))
        .await
        .unwrap();
    assert_eq!(&old.kvs[0].value[..], b"1");
    let mut w = store.watch(WatchRequest::prefix(b("/"), 0)).await.unwrap();
    let _ = &mut w;
    let mut w = store.watch(WatchRequest::prefix(b("/"), 2)).await.unwrap();
    let revs: Vec<i64> = {
        let mut v = Vec::new();
        for _ in 0..3 {
            v.push(w.next().await.unwrap().unwrap().revision());
        }
        v
    };
    assert_eq!(revs, vec![3, 4, 5]);
    let next = store.create(b("/d"), b("1"), None).await.unwrap();
    assert_eq!(next.mod_revision, 6);
}

#[tokio::test]
async fn a_foreign_or_damaged_file_is_refused_and_left_untouched() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join(db::FILE_NAME);
    std::fs::write(&path, b"this is not a database, it is a text file\n").unwrap();
    let err = EmbeddedStore::open(dir.path(), opts()).await.unwrap_err();
    assert!(matches!(err, Error::Corrupt { .. }), "{err}");
    assert!(
        err.to_string().contains(&path.display().to_string()),
        "{err}"
    );
    assert_eq!(
        std::fs::read(&path).unwrap(),
        b"this is not a database, it is a text file\n"
    );

    // A real SQLite file of another program.
    std::fs::remove_file(&path).unwrap();
    {
        let conn = rusqlite::Connection::open(&path).unwrap();
        conn.execute_batch("CREATE TABLE t (x); INSERT INTO t VALUES (1);")
            .unwrap();
    }
    let before = std::fs::read(&path).unwrap();
    let err = EmbeddedStore::open(dir.path(), opts()).await.unwrap_err();
    assert!(matches!(err, Error::Corrupt { .. }), "{err}");
    assert!(err.to_string().contains("not a Skiff data file"), "{err}");
    assert_eq!(std::fs::read(&path).unwrap(), before);
}

#[tokio::test]
async fn a_file_with_damaged_pages_gives_a_corrupt_error() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join(db::FILE_NAME);
    {
        let store = EmbeddedStore::open(dir.path(), opts()).await.unwrap();
        for i in 0..200 {
            store
                .create(b(&format!("/k/{i}")), Bytes::from(vec![b'x'; 2000]), None)
                .await
                .unwrap();
        }
    }
    // Overwrite everything after the first page (the header stays valid).
    let mut data = std::fs::read(&path).unwrap();
    assert!(data.len() > 8192, "{}", data.len());
    for byte in &mut data[4096..] {
        *byte = 0xA5;
    }
    std::fs::write(&path, &data).unwrap();
    let err = EmbeddedStore::open(dir.path(), opts()).await.unwrap_err();
    assert!(matches!(err, Error::Corrupt { .. }), "{err}");
    assert!(
        err.to_string().contains(&path.display().to_string()),
        "{err}"
    );
}

#[tokio::test]
async fn a_second_process_cannot_open_the_same_directory() {
    let dir = tempfile::tempdir().unwrap();
    let _store = EmbeddedStore::open(dir.path(), opts()).await.unwrap();
    // File locks are per open file description, so a second open in this process conflicts too.
    let err = EmbeddedStore::open(dir.path(), opts()).await.unwrap_err();
    assert!(err.to_string().contains("in use"), "{err}");
}

#[tokio::test]
async fn a_watcher_that_does_not_read_is_cut_off_and_writers_go_on() {
    let dir = tempfile::tempdir().unwrap();
    let store = EmbeddedStore::open(
        dir.path(),
        EmbeddedOptions {
            max_watch_backlog: 50,
            ..opts()
        },
    )
    .await
    .unwrap();
    let mut slow = store.watch(WatchRequest::prefix(b("/"), 0)).await.unwrap();
    for i in 0..200 {
        store
            .create(b(&format!("/k/{i}")), b("v"), None)
            .await
            .unwrap();
    }
    let mut delivered = 0;
    let err = loop {
        match slow.next().await {
            Some(Ok(_)) => delivered += 1,
            Some(Err(e)) => break e,
            None => panic!("stream ended without an error"),
        }
    };
    assert!(matches!(err, Error::WatcherLagged { limit: 50 }), "{err}");
    assert_eq!(delivered, 50);
    assert!(slow.next().await.is_none());
}

#[tokio::test]
async fn compaction_gives_disk_space_back() {
    let dir = tempfile::tempdir().unwrap();
    let store = EmbeddedStore::open(dir.path(), opts()).await.unwrap();
    let value = Bytes::from(vec![b'v'; 1024]);
    let mut revs = Vec::new();
    for i in 0..50 {
        revs.push(
            store
                .create(b(&format!("/k/{i}")), value.clone(), None)
                .await
                .unwrap()
                .mod_revision,
        );
    }
    for _ in 0..40 {
        for (i, rev) in revs.iter_mut().enumerate() {
            *rev = store
                .update(b(&format!("/k/{i}")), value.clone(), *rev, None)
                .await
                .unwrap()
                .mod_revision;
        }
    }
    let before = store.status().await.unwrap();
    store.compact(before.revision).await.unwrap();
    let after = store.status().await.unwrap();
    assert_eq!(after.compacted_revision, before.revision);
    assert!(
        after.db_size_bytes * 8 < before.db_size_bytes,
        "{} -> {}",
        before.db_size_bytes,
        after.db_size_bytes
    );
    // Live data is intact.
    let all = store.range(RangeRequest::prefix(b("/k/"))).await.unwrap();
    assert_eq!(all.count, 50);
    assert!(
        all.kvs
            .iter()
            .all(|kv| kv.value == value && kv.version == 41)
    );
}

#[tokio::test]
async fn an_interrupted_compaction_is_finished_at_the_next_start() {
    let dir = tempfile::tempdir().unwrap();
    {
        let store = EmbeddedStore::open(dir.path(), opts()).await.unwrap();
        let mut rev = store
            .create(b("/k"), b("0"), None)
            .await
            .unwrap()
            .mod_revision;
        for i in 1..10 {
            rev = store
                .update(b("/k"), b(&i.to_string()), rev, None)
                .await
                .unwrap()
                .mod_revision;
        }
    }
    // Record a compaction point without deleting rows, as a crash right after the first
    // compaction transaction would leave it.
    {
        let conn = rusqlite::Connection::open(dir.path().join(db::FILE_NAME)).unwrap();
        conn.execute("UPDATE meta SET value = 8 WHERE name = 'compacted'", [])
            .unwrap();
    }
    let store = EmbeddedStore::open(dir.path(), opts()).await.unwrap();
    let st = store.status().await.unwrap();
    assert_eq!((st.revision, st.compacted_revision), (10, 8));
    let err = store
        .range(RangeRequest::key(b("/k")).revision(7))
        .await
        .unwrap_err();
    assert!(matches!(err, Error::Compacted { .. }), "{err}");
    let at8 = store
        .range(RangeRequest::key(b("/k")).revision(8))
        .await
        .unwrap();
    assert_eq!(&at8.kvs[0].value[..], b"7");
    drop(store);
    let conn = rusqlite::Connection::open(dir.path().join(db::FILE_NAME)).unwrap();
    let rows: i64 = conn
        .query_row("SELECT count(*) FROM kv", [], |r| r.get(0))
        .unwrap();
    assert_eq!(rows, 3);
}

#[tokio::test]
async fn deletes_report_the_previous_record_in_events() {
    let dir = tempfile::tempdir().unwrap();
    let store = EmbeddedStore::open(dir.path(), opts()).await.unwrap();
    let mut w = store.watch(WatchRequest::key(b("/x"), 0)).await.unwrap();
    let kv = store.create(b("/x"), b("1"), None).await.unwrap();
    let d = store.delete(b("/x"), None).await.unwrap();
    assert_eq!(d.prev, kv);
    let put = w.next().await.unwrap().unwrap();
    assert_eq!((put.kind, put.prev), (EventKind::Put, None));
    let del = w.next().await.unwrap().unwrap();
    assert_eq!(del.kind, EventKind::Delete);
    assert_eq!(del.prev, Some(kv));
    assert_eq!(del.kv.mod_revision, d.revision);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reader_holding_a_snapshot_does_not_stall_compaction_or_writes() {
    let dir = tempfile::tempdir().unwrap();
    let store = EmbeddedStore::open(dir.path(), opts()).await.unwrap();
    let first = store.create(b("/k/0"), b("v"), None).await.unwrap();
    let mut rev = first.mod_revision;
    for _ in 0..5_000 {
        rev = store
            .update(b("/k/0"), b("v"), rev, None)
            .await
            .unwrap()
            .mod_revision;
    }
    // A watch replaying history that nobody reads keeps its snapshot open.
    let stalled = store
        .watch(WatchRequest::prefix(b("/k/"), first.mod_revision))
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_millis(100)).await;
    // The busy timeout is 10 s; compaction and the writes queued behind it must not wait for it.
    tokio::time::timeout(Duration::from_secs(5), store.compact(rev - 10))
        .await
        .expect("compaction waited for a reader")
        .unwrap();
    tokio::time::timeout(
        Duration::from_secs(5),
        store.create(b("/k/1"), b("v"), None),
    )
    .await
    .expect("write waited for a reader")
    .unwrap();
    drop(stalled);
}
