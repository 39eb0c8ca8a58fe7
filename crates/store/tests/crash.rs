//! Crash tests: acknowledged writes survive SIGKILL.
//!
//! Embedded engine: a child process (this test binary, re-run as `crash_child`) writes with many
//! concurrent writers and prints a line for every acknowledged write; the parent kills it with
//! SIGKILL at a random moment, reopens the store and checks that every acknowledged write is
//! there with the same revision and value. Twenty rounds on the same data directory.
//!
//! etcd engine: the same writers run in this process against a real etcd, which is killed with
//! SIGKILL mid-write and restarted; every acknowledged write must be there.

use bytes::Bytes;
use rand::Rng;
use skiff_store::embedded::{EmbeddedOptions, EmbeddedStore};
use skiff_store::etcd::local::LocalEtcd;
use skiff_store::etcd::{EtcdOptions, EtcdStore};
use skiff_store::{KeyValue, RangeRequest, Store};
use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Write};
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::Duration;

const ROUNDS: usize = 20;
const WRITERS: usize = 16;
const CHILD_ENV: &str = "SKIFF_STORE_CRASH_CHILD_DIR";

/// One acknowledged write: key, revision, value.
#[derive(Clone, Debug, PartialEq, Eq)]
struct Ack {
    key: String,
    rev: i64,
    value: String,
}

/// Each writer creates its key for the round and then updates it in a loop; every acknowledged
/// write is reported through `ack`.
async fn write_until_stopped(
    store: Arc<dyn Store>,
    round: usize,
    writer: usize,
    ack: impl Fn(Ack) + Send + Sync,
) {
    let key = format!("/crash/{round:02}/{writer:02}");
    let mut n = 0u64;
    let mut current: Option<KeyValue> = None;
    loop {
        let value = format!("r{round}-w{writer}-n{n}");
        let result = match &current {
            None => {
                store
                    .create(Bytes::from(key.clone()), Bytes::from(value.clone()), None)
                    .await
            }
            Some(kv) => {
                store
                    .update(
                        Bytes::from(key.clone()),
                        Bytes::from(value.clone()),
                        kv.mod_revision,
                        None,
                    )
                    .await
            }
        };
        match result {
            Ok(kv) => {
                ack(Ack {
                    key: key.clone(),
                    rev: kv.mod_revision,
                    value,
                });
                current = Some(kv);
                n += 1;
            }
            // The store went away (the etcd server was killed): stop.
            Err(_) => return,
        }
    }
}

/// Checks every acknowledged write against the store: the record at the acknowledged revision
/// holds the acknowledged value, and each key's current record is at or after its last ack.
async fn verify(store: &dyn Store, acks: &[Ack]) {
    let mut last: BTreeMap<&str, &Ack> = BTreeMap::new();
    for ack in acks {
        let at = store
            .range(RangeRequest::key(Bytes::from(ack.key.clone())).revision(ack.rev))
            .await
            .unwrap_or_else(|e| panic!("reading {ack:?}: {e}"));
        let kv = at
            .kvs
            .first()
            .unwrap_or_else(|| panic!("acknowledged write lost: {ack:?}"));
        assert_eq!(kv.mod_revision, ack.rev, "{ack:?}");
        assert_eq!(&kv.value[..], ack.value.as_bytes(), "{ack:?}");
        let entry = last.entry(&ack.key).or_insert(ack);
        if ack.rev > entry.rev {
            *entry = ack;
        }
    }
    for (key, ack) in last {
        let kv = store
            .get(Bytes::from(key.to_owned()))
            .await
            .unwrap()
            .unwrap_or_else(|| panic!("key {key} lost"));
        assert!(
            kv.mod_revision >= ack.rev,
            "{key} went back to {}",
            kv.mod_revision
        );
        if kv.mod_revision == ack.rev {
            assert_eq!(&kv.value[..], ack.value.as_bytes());
        }
    }
    let max_ack = acks.iter().map(|a| a.rev).max().unwrap_or(0);
    assert!(store.status().await.unwrap().revision >= max_ack);
}

/// The acknowledgements to check after a round: all of the newest round (the last `newest`),
/// every key's last one, and a random sample of the older ones.
fn sample(all: &[Ack], newest: usize) -> Vec<Ack> {
    const OLD_SAMPLE: usize = 2_000;
    let split = all.len() - newest;
    let mut rng = rand::rng();
    let mut out: Vec<Ack> = all[split..].to_vec();
    let mut last: BTreeMap<&str, &Ack> = BTreeMap::new();
    for a in &all[..split] {
        last.insert(&a.key, a);
    }
    out.extend(last.into_values().cloned());
    if split > 0 {
        out.extend((0..OLD_SAMPLE.min(split)).map(|_| all[rng.random_range(0..split)].clone()));
    }
    out
}

/// Not a test on its own: the writer process of `embedded_acknowledged_writes_survive_sigkill`.
#[test]
fn crash_child() {
    let Ok(dir) = std::env::var(CHILD_ENV) else {
        return;
    };
    let round: usize = std::env::var("SKIFF_STORE_CRASH_ROUND")
        .unwrap()
        .parse()
        .unwrap();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async move {
        let options = EmbeddedOptions {
            retention: None,
            ..EmbeddedOptions::default()
        };
        let store: Arc<dyn Store> = Arc::new(EmbeddedStore::open(&dir, options).await.unwrap());
        println!("ready");
        let out = Arc::new(std::sync::Mutex::new(std::io::stdout()));
        let mut tasks = Vec::new();
        for w in 0..WRITERS {
            let store = store.clone();
            let out = out.clone();
            tasks.push(tokio::spawn(async move {
                write_until_stopped(store, round, w, move |a| {
                    let mut out = out.lock().unwrap();
                    writeln!(out, "ack {} {} {}", a.key, a.rev, a.value).unwrap();
                    out.flush().unwrap();
                })
                .await
            }));
        }
        for t in tasks {
            t.await.unwrap();
        }
    });
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn embedded_acknowledged_writes_survive_sigkill() {
    let dir = tempfile::tempdir().unwrap();
    let exe = std::env::current_exe().unwrap();
    let mut all_acks = Vec::new();
    for round in 0..ROUNDS {
        let mut child = Command::new(&exe)
            .args(["--exact", "crash_child", "--nocapture", "--test-threads=1"])
            .env(CHILD_ENV, dir.path())
            .env("SKIFF_STORE_CRASH_ROUND", round.to_string())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .unwrap();
        let stdout = child.stdout.take().unwrap();
        let kill_after = rand::rng().random_range(5..250);
        let (ready_tx, ready_rx) = tokio::sync::oneshot::channel();
        let reader = std::thread::spawn(move || {
            let mut acks = Vec::new();
            let mut ready = Some(ready_tx);
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                // libtest prints "test crash_child ... " before the child's own output.
                if line.ends_with("ready")
                    && let Some(tx) = ready.take()
                {
                    let _ = tx.send(());
                }
                let mut parts = line.splitn(4, ' ');
                if parts.next() == Some("ack") {
                    let key = parts.next().unwrap().to_owned();
                    let rev = parts.next().unwrap().parse().unwrap();
                    let value = parts.next().unwrap().to_owned();
                    acks.push(Ack { key, rev, value });
                }
            }
            acks
        });
        // Once the child has opened the store, let it write for a random while, then kill it.
        tokio::time::timeout(Duration::from_secs(30), ready_rx)
            .await
            .expect("child did not open the store")
            .expect("child ended before opening the store");
        tokio::time::sleep(Duration::from_millis(kill_after)).await;
        child.kill().unwrap();
        let status = child.wait().unwrap();
        assert!(!status.success(), "child ended by itself: {status}");
        let acks = reader.join().unwrap();
        let store = EmbeddedStore::open(
            dir.path(),
            EmbeddedOptions {
                retention: None,
                ..EmbeddedOptions::default()
            },
        )
        .await
        .unwrap_or_else(|e| panic!("round {round}: reopening after SIGKILL: {e}"));
        all_acks.extend(acks.iter().cloned());
        verify(&store, &sample(&all_acks, acks.len())).await;
        // Revisions go on after the highest acknowledged one.
        let probe = store
            .create(
                Bytes::from(format!("/probe/{round}")),
                Bytes::from_static(b"p"),
                None,
            )
            .await
            .unwrap();
        let max_ack = all_acks.iter().map(|a| a.rev).max().unwrap_or(0);
        assert!(probe.mod_revision > max_ack);
        eprintln!(
            "round {round}: killed after {kill_after} ms of writing, {} acknowledged writes",
            acks.len()
        );
    }
    assert!(
        all_acks.len() > ROUNDS * 10,
        "too few acknowledged writes to mean anything: {}",
        all_acks.len()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn etcd_acknowledged_writes_survive_sigkill_of_the_server() {
    let mut etcd = LocalEtcd::start()
        .await
        .unwrap_or_else(|e| panic!("this test needs a real etcd: {e}"));
    let mut all_acks = Vec::new();
    for round in 0..ROUNDS {
        let store: Arc<dyn Store> = Arc::new(
            EtcdStore::connect(&[etcd.endpoint()], EtcdOptions::default())
                .await
                .unwrap(),
        );
        let acks = Arc::new(std::sync::Mutex::new(Vec::new()));
        let mut tasks = Vec::new();
        for w in 0..WRITERS {
            let store = store.clone();
            let acks = acks.clone();
            tasks.push(tokio::spawn(async move {
                write_until_stopped(store, round, w, move |a| acks.lock().unwrap().push(a)).await
            }));
        }
        let kill_after = rand::rng().random_range(5..250);
        tokio::time::sleep(Duration::from_millis(kill_after)).await;
        etcd.kill();
        for t in tasks {
            // Writers stop on their first error; bound the wait in case a request hangs.
            let _ = tokio::time::timeout(Duration::from_secs(30), t).await;
        }
        drop(store);
        etcd.restart()
            .await
            .unwrap_or_else(|e| panic!("round {round}: restarting etcd: {e}"));
        let store = EtcdStore::connect(&[etcd.endpoint()], EtcdOptions::default())
            .await
            .unwrap();
        let acks = std::mem::take(&mut *acks.lock().unwrap());
        all_acks.extend(acks.iter().cloned());
        verify(&store, &sample(&all_acks, acks.len())).await;
        eprintln!(
            "round {round}: etcd killed after {kill_after} ms, {} acknowledged writes",
            acks.len()
        );
    }
    assert!(all_acks.len() > ROUNDS * 10, "{}", all_acks.len());
}
