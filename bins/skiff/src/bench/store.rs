//! `skiff bench store`: the embedded engine and a real etcd, same workloads, one run.
//!
//! Workloads (values are 1 KiB):
//! - (a) one writer, sequential creates;
//! - (b) 64 concurrent writers, creates;
//! - (c) 64 workers doing compare-and-swap updates on 100 keys (retrying on conflict);
//! - (d) reading a 10,000-key prefix in one range;
//! - (e) 100 watchers on a prefix, time from the start of a write to each watcher's event;
//! - (f) size on disk after 100,000 writes, then after compacting to the head.

use super::stats::{Latencies, Starts};
use anyhow::Context;
use bytes::Bytes;
use rand::Rng;
use skiff_store::embedded::{EmbeddedOptions, EmbeddedStore};
use skiff_store::etcd::local::LocalEtcd;
use skiff_store::etcd::{EtcdOptions, EtcdStore};
use skiff_store::{Error, KeyValue, RangeRequest, Store, WatchRequest};
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Options of `skiff bench store`.
#[derive(Debug, clap::Args)]
pub struct StoreBench {
    /// Engines to run, comma-separated.
    #[arg(long, value_delimiter = ',', default_value = "embedded,etcd")]
    engines: Vec<EngineKind>,
    /// Directory for both engines' data (default: a new temporary directory, removed after).
    #[arg(long)]
    dir: Option<PathBuf>,
    /// Multiplies every operation count (1 is the standard run).
    #[arg(long, default_value_t = 1.0)]
    scale: f64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
enum EngineKind {
    Embedded,
    Etcd,
}

impl EngineKind {
    fn name(self) -> &'static str {
        match self {
            EngineKind::Embedded => "embedded",
            EngineKind::Etcd => "etcd",
        }
    }
}

/// A running engine and what keeps it alive.
struct Engine {
    store: Arc<dyn Store>,
    /// For etcd: the typed client (for defragmentation) and the server.
    etcd: Option<(Arc<EtcdStore>, LocalEtcd)>,
}

async fn start(kind: EngineKind, dir: &Path) -> anyhow::Result<Engine> {
    match kind {
        EngineKind::Embedded => {
            let options = EmbeddedOptions {
                retention: None,
                ..EmbeddedOptions::default()
            };
            let store = EmbeddedStore::open(dir, options)
                .await
                .with_context(|| format!("opening the embedded store in {}", dir.display()))?;
            Ok(Engine {
                store: Arc::new(store),
                etcd: None,
            })
        }
        EngineKind::Etcd => {
            let server = LocalEtcd::start_in(dir)
                .await
                .context("starting etcd (install it with `apt-get install etcd-server`)")?;
            let client =
                Arc::new(EtcdStore::connect(&[server.endpoint()], EtcdOptions::default()).await?);
            Ok(Engine {
                store: client.clone(),
                etcd: Some((client, server)),
            })
        }
    }
}

/// One line of the result table.
struct Row {
    workload: &'static str,
    engine: &'static str,
    ops: usize,
    elapsed: Duration,
    latencies: Latencies,
    note: String,
}

impl Row {
    fn ops_per_sec(&self) -> f64 {
        self.ops as f64 / self.elapsed.as_secs_f64().max(1e-9)
    }
}

fn value() -> Bytes {
    Bytes::from(vec![b'v'; 1024])
}

fn key(s: String) -> Bytes {
    Bytes::from(s)
}

fn scaled(n: usize, scale: f64) -> usize {
    ((n as f64 * scale).round() as usize).max(1)
}

/// Runs the benchmark and prints the table.
pub async fn run(opts: StoreBench) -> anyhow::Result<()> {
    let temp;
    let root = match &opts.dir {
        Some(d) => d.clone(),
        None => {
            temp = tempfile::Builder::new()
                .prefix("skiff-bench-store-")
                .tempdir()?;
            temp.path().to_path_buf()
        }
    };
    let mut rows = Vec::new();
    let mut sizes = Vec::new();
    for &kind in &opts.engines {
        let name = kind.name();
        eprintln!("== {name}: starting");
        let dir = root.join(name);
        let engine = start(kind, &dir).await?;
        let s = &engine.store;
        eprintln!("== {name}: (a) sequential creates");
        rows.push(sequential_creates(s, name, scaled(2_000, opts.scale)).await?);
        eprintln!("== {name}: (b) 64 concurrent writers");
        rows.push(concurrent_creates(s, name, 64, scaled(250, opts.scale)).await?);
        eprintln!("== {name}: (c) contended CAS on 100 keys");
        rows.push(contended_cas(s, name, 64, scaled(100, opts.scale)).await?);
        eprintln!("== {name}: (d) range of a 10k-key prefix");
        rows.push(big_range(s, name, scaled(10_000, opts.scale), 20).await?);
        eprintln!("== {name}: (e) watch fan-out to 100 watchers");
        rows.push(watch_latency(s, name, 100, scaled(300, opts.scale)).await?);
        drop(engine);

        eprintln!("== {name}: (f) size on disk after 100k writes");
        let dir = root.join(format!("{name}-size"));
        let engine = start(kind, &dir).await?;
        sizes.push(disk_size(&engine, name, scaled(100_000, opts.scale)).await?);
    }
    print_table(&mut rows, &sizes);
    Ok(())
}

async fn sequential_creates(
    s: &Arc<dyn Store>,
    engine: &'static str,
    n: usize,
) -> anyhow::Result<Row> {
    let v = value();
    let mut latencies = Latencies::default();
    let start = Instant::now();
    for i in 0..n {
        let t = Instant::now();
        s.create(key(format!("/bench/a/{i:08}")), v.clone(), None)
            .await?;
        latencies.push(t.elapsed());
    }
    Ok(Row {
        workload: "(a) sequential 1 KiB creates, 1 writer",
        engine,
        ops: n,
        elapsed: start.elapsed(),
        latencies,
        note: String::new(),
    })
}

/// `writers` tasks each creating `each` keys under `prefix`.
async fn parallel_creates(
    s: &Arc<dyn Store>,
    prefix: &str,
    writers: usize,
    each: usize,
) -> anyhow::Result<(Duration, Latencies)> {
    let start = Instant::now();
    let mut tasks = Vec::new();
    for w in 0..writers {
        let s = s.clone();
        let prefix = prefix.to_owned();
        tasks.push(tokio::spawn(async move {
            let v = value();
            let mut l = Latencies::default();
            for i in 0..each {
                let t = Instant::now();
                s.create(key(format!("{prefix}{w:03}-{i:06}")), v.clone(), None)
                    .await?;
                l.push(t.elapsed());
            }
            anyhow::Ok(l)
        }));
    }
    let mut latencies = Latencies::default();
    for t in tasks {
        latencies.extend(t.await??);
    }
    Ok((start.elapsed(), latencies))
}

async fn concurrent_creates(
    s: &Arc<dyn Store>,
    engine: &'static str,
    writers: usize,
    each: usize,
) -> anyhow::Result<Row> {
    let (elapsed, latencies) = parallel_creates(s, "/bench/b/", writers, each).await?;
    Ok(Row {
        workload: "(b) 1 KiB creates, 64 concurrent writers",
        engine,
        ops: writers * each,
        elapsed,
        latencies,
        note: String::new(),
    })
}

async fn contended_cas(
    s: &Arc<dyn Store>,
    engine: &'static str,
    workers: usize,
    each: usize,
) -> anyhow::Result<Row> {
    const KEYS: usize = 100;
    let mut initial = HashMap::new();
    for k in 0..KEYS {
        let kv = s
            .create(key(format!("/bench/c/{k:03}")), value(), None)
            .await?;
        initial.insert(k, kv);
    }
    let start = Instant::now();
    let mut tasks = Vec::new();
    for _ in 0..workers {
        let s = s.clone();
        let mut seen: HashMap<usize, KeyValue> = initial.clone();
        tasks.push(tokio::spawn(async move {
            let v = value();
            let mut l = Latencies::default();
            let mut conflicts = 0usize;
            for _ in 0..each {
                let k = rand::rng().random_range(0..KEYS);
                let t = Instant::now();
                loop {
                    let expected = seen[&k].mod_revision;
                    match s
                        .update(key(format!("/bench/c/{k:03}")), v.clone(), expected, None)
                        .await
                    {
                        Ok(kv) => {
                            seen.insert(k, kv);
                            break;
                        }
                        Err(Error::Conflict { current, .. }) => {
                            conflicts += 1;
                            seen.insert(k, *current);
                        }
                        Err(e) => return Err(anyhow::Error::from(e)),
                    }
                }
                l.push(t.elapsed());
            }
            Ok((l, conflicts))
        }));
    }
    let mut latencies = Latencies::default();
    let mut conflicts = 0;
    for t in tasks {
        let (l, c) = t.await??;
        latencies.extend(l);
        conflicts += c;
    }
    Ok(Row {
        workload: "(c) CAS updates on 100 keys, 64 workers",
        engine,
        ops: workers * each,
        elapsed: start.elapsed(),
        latencies,
        note: format!("{conflicts} conflicts retried"),
    })
}

async fn big_range(
    s: &Arc<dyn Store>,
    engine: &'static str,
    keys: usize,
    reads: usize,
) -> anyhow::Result<Row> {
    let writers = 64.min(keys);
    parallel_creates(s, "/bench/d/", writers, keys / writers).await?;
    let expected = (keys / writers * writers) as i64;
    let mut latencies = Latencies::default();
    let start = Instant::now();
    for _ in 0..reads {
        let t = Instant::now();
        let resp = s
            .range(RangeRequest::prefix(Bytes::from_static(b"/bench/d/")))
            .await?;
        latencies.push(t.elapsed());
        anyhow::ensure!(
            resp.kvs.len() as i64 == expected,
            "range returned {} keys",
            resp.kvs.len()
        );
    }
    Ok(Row {
        workload: "(d) range of a 10k-key prefix",
        engine,
        ops: reads,
        elapsed: start.elapsed(),
        latencies,
        note: format!("{expected} keys per read"),
    })
}

async fn watch_latency(
    s: &Arc<dyn Store>,
    engine: &'static str,
    watchers: usize,
    writes: usize,
) -> anyhow::Result<Row> {
    let started = Arc::new(Starts::new(writes));
    let from = s.status().await?.revision;
    let mut tasks = Vec::new();
    for _ in 0..watchers {
        let mut w = s
            .watch(WatchRequest::prefix(Bytes::from_static(b"/bench/e/"), from))
            .await?;
        let started = started.clone();
        tasks.push(tokio::spawn(async move {
            let mut l = Latencies::default();
            while l.len() < writes {
                let event = tokio::time::timeout(Duration::from_secs(60), w.next())
                    .await
                    .map_err(|_| anyhow::anyhow!("watch stalled"))?
                    .ok_or_else(|| anyhow::anyhow!("watch ended"))??;
                let now = Instant::now();
                let i: usize = std::str::from_utf8(&event.kv.key[b"/bench/e/".len()..])?.parse()?;
                let t0 = started
                    .get(i)
                    .ok_or_else(|| anyhow::anyhow!("event before its write"))?;
                l.push(now.saturating_duration_since(t0));
            }
            anyhow::Ok(l)
        }));
    }
    let v = value();
    let start = Instant::now();
    for i in 0..writes {
        started.set(i, Instant::now());
        s.create(key(format!("/bench/e/{i:08}")), v.clone(), None)
            .await?;
    }
    let mut latencies = Latencies::default();
    for t in tasks {
        latencies.extend(t.await??);
    }
    Ok(Row {
        workload: "(e) watch delivery, 100 watchers",
        engine,
        ops: latencies.len(),
        elapsed: start.elapsed(),
        latencies,
        note: format!("{writes} writes; latency from write start to event"),
    })
}

/// Sizes seen in workload (f), in bytes.
struct Sizes {
    engine: &'static str,
    writes: usize,
    elapsed: Duration,
    before: u64,
    after_compaction: u64,
    after_defrag: Option<u64>,
}

async fn disk_size(engine: &Engine, name: &'static str, writes: usize) -> anyhow::Result<Sizes> {
    const KEYS: usize = 1_000;
    const WORKERS: usize = 64;
    let s = &engine.store;
    let start = Instant::now();
    let mut tasks = Vec::new();
    let versions = writes.div_ceil(KEYS);
    for w in 0..WORKERS {
        let s = s.clone();
        tasks.push(tokio::spawn(async move {
            let v = value();
            for k in (w..KEYS).step_by(WORKERS) {
                let name = format!("/bench/f/{k:04}");
                let mut kv = s.create(key(name.clone()), v.clone(), None).await?;
                for _ in 1..versions {
                    kv = s
                        .update(key(name.clone()), v.clone(), kv.mod_revision, None)
                        .await?;
                }
            }
            anyhow::Ok(())
        }));
    }
    for t in tasks {
        t.await??;
    }
    let elapsed = start.elapsed();
    let status = s.status().await?;
    let before = status.db_size_bytes;
    s.compact(status.revision).await?;
    let after_compaction = s.status().await?.db_size_bytes;
    let after_defrag = match &engine.etcd {
        Some((client, _)) => {
            client.defragment().await?;
            Some(s.status().await?.db_size_bytes)
        }
        None => None,
    };
    Ok(Sizes {
        engine: name,
        writes: KEYS * versions,
        elapsed,
        before,
        after_compaction,
        after_defrag,
    })
}

fn mib(bytes: u64) -> String {
    format!("{:.1} MiB", bytes as f64 / (1024.0 * 1024.0))
}

fn print_table(rows: &mut [Row], sizes: &[Sizes]) {
    println!();
    println!(
        "{:<44} {:<9} {:>7} {:>10} {:>9} {:>9}  note",
        "workload", "engine", "ops", "ops/s", "p50 ms", "p99 ms"
    );
    println!("{}", "-".repeat(104));
    for r in rows.iter_mut() {
        let ops_s = r.ops_per_sec();
        let p50 = r.latencies.percentile_ms(50.0);
        let p99 = r.latencies.percentile_ms(99.0);
        println!(
            "{:<44} {:<9} {:>7} {:>10.0} {:>9.2} {:>9.2}  {}",
            r.workload, r.engine, r.ops, ops_s, p50, p99, r.note
        );
    }
    println!();
    println!(
        "{:<44} {:<9} {:>7} {:>10} {:>12} {:>14} {:>12}",
        "(f) size on disk", "engine", "writes", "writes/s", "before", "compacted", "defragmented"
    );
    println!("{}", "-".repeat(114));
    for s in sizes {
        println!(
            "{:<44} {:<9} {:>7} {:>10.0} {:>12} {:>14} {:>12}",
            "1,000 keys x 100 versions of 1 KiB",
            s.engine,
            s.writes,
            s.writes as f64 / s.elapsed.as_secs_f64().max(1e-9),
            mib(s.before),
            mib(s.after_compaction),
            s.after_defrag.map(mib).unwrap_or_else(|| "-".into()),
        );
    }
    let b = |engine: &str| {
        rows.iter()
            .find(|r| r.engine == engine && r.workload.starts_with("(b)"))
            .map(Row::ops_per_sec)
    };
    if let (Some(e), Some(x)) = (b("embedded"), b("etcd")) {
        println!();
        println!("(b) embedded / etcd throughput: {:.2}x", e / x);
    }
}
