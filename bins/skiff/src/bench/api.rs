//! `skiff bench api`: a real `skiff server` (this binary, as a child process with a temporary
//! data directory) measured over HTTPS with keep-alive connections and the admin certificate.
//!
//! Figures: cold start to `/readyz`, creates/s of 1 KiB ConfigMaps from 64 clients, GETs/s,
//! LIST of 10,000 pods (p50/p99), time for one change to reach 1,000 watchers (p99), and the
//! server's RSS with 10,000 pods stored.

use super::stats::{Latencies, Starts};
use anyhow::{Context, bail};
use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::client::conn::http1::SendRequest;
use rand::Rng;
use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::net::TcpStream;

/// Options of `skiff bench api`.
#[derive(Debug, clap::Args)]
pub struct ApiBench {
    /// Multiplies every operation count (1 is the standard run).
    #[arg(long, default_value_t = 1.0)]
    scale: f64,
    /// Concurrent clients for creates and GETs.
    #[arg(long, default_value_t = 64)]
    clients: usize,
    /// Watchers for the fan-out figure.
    #[arg(long, default_value_t = 1000)]
    watchers: usize,
}

fn scaled(n: usize, scale: f64) -> usize {
    ((n as f64 * scale).round() as usize).max(1)
}

/// The server under test; killed (by PID) when dropped.
pub(super) struct Server {
    child: Child,
    addr: String,
    tls: tokio_rustls::TlsConnector,
    _dir: tempfile::TempDir,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn tls_config(pki: &Path) -> anyhow::Result<tokio_rustls::TlsConnector> {
    let read = |f: &str| std::fs::read(pki.join(f)).with_context(|| format!("reading {f}"));
    let mut roots = rustls::RootCertStore::empty();
    for cert in rustls_pki_types::CertificateDer::pem_slice_iter(&read("ca.crt")?) {
        roots.add(cert?)?;
    }
    let chain: Vec<_> = rustls_pki_types::CertificateDer::pem_slice_iter(&read("admin.crt")?)
        .collect::<Result<_, _>>()?;
    let key = rustls_pki_types::PrivateKeyDer::from_pem_slice(&read("admin.key")?)?;
    let config = rustls::ClientConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()?
    .with_root_certificates(roots)
    .with_client_auth_cert(chain, key)?;
    Ok(tokio_rustls::TlsConnector::from(Arc::new(config)))
}

use rustls_pki_types::pem::PemObject;

impl Server {
    pub(super) async fn start() -> anyhow::Result<(Server, Duration)> {
        let dir = tempfile::Builder::new()
            .prefix("skiff-bench-api-")
            .tempdir()?;
        let exe = std::env::current_exe()?;
        let started = Instant::now();
        let mut child = Command::new(exe)
            .args([
                "server",
                "--bind-address",
                "127.0.0.1",
                "--secure-port",
                "0",
                // The API server alone: no scheduler acting on the pods this creates.
                "--disable-scheduler",
            ])
            .arg("--data-dir")
            .arg(dir.path())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()?;
        let stdout = child.stdout.take().context("server stdout")?;
        let mut addr = None;
        let mut lines = BufReader::new(stdout).lines();
        for line in lines.by_ref() {
            let line = line?;
            if let Some(a) = line.strip_prefix("API server listening on https://") {
                addr = Some(a.to_owned());
                break;
            }
        }
        // Keep reading: a closed pipe would fail the server's later prints.
        std::thread::spawn(move || lines.for_each(drop));
        let addr = addr.context("the server did not report its address")?;
        let tls = tls_config(&dir.path().join("pki"))?;
        let server = Server {
            child,
            addr,
            tls,
            _dir: dir,
        };
        // Cold start ends when /readyz answers 200.
        loop {
            if let Ok(mut c) = server.connect().await
                && let Ok((200, _)) = request(&mut c, "GET", "/readyz", None).await
            {
                break;
            }
            if started.elapsed() > Duration::from_secs(90) {
                bail!("the server did not become ready");
            }
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
        let ready = started.elapsed();
        Ok((server, ready))
    }

    pub(super) async fn connect(&self) -> anyhow::Result<SendRequest<Full<Bytes>>> {
        let tcp = TcpStream::connect(&self.addr).await?;
        tcp.set_nodelay(true)?;
        let name = rustls_pki_types::ServerName::try_from("localhost")?;
        let tls = self.tls.connect(name, tcp).await?;
        let (send, conn) =
            hyper::client::conn::http1::handshake(hyper_util::rt::TokioIo::new(tls)).await?;
        tokio::spawn(async move {
            let _ = conn.await;
        });
        Ok(send)
    }

    /// The admin kubeconfig the server wrote.
    pub(super) fn kubeconfig(&self) -> std::path::PathBuf {
        self._dir.path().join("kubeconfig.yaml")
    }

    fn rss_bytes(&self) -> u64 {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.child.id()))
            .unwrap_or_default();
        status
            .lines()
            .find(|l| l.starts_with("VmRSS:"))
            .and_then(|l| l.split_whitespace().nth(1))
            .and_then(|kb| kb.parse::<u64>().ok())
            .map_or(0, |kb| kb * 1024)
    }
}

pub(super) async fn request(
    c: &mut SendRequest<Full<Bytes>>,
    method: &str,
    path: &str,
    body: Option<Bytes>,
) -> anyhow::Result<(u16, Bytes)> {
    c.ready().await?;
    let req = hyper::Request::builder()
        .method(method)
        .uri(path)
        .header("host", "localhost")
        .header("content-type", "application/json")
        .header("accept", "application/json")
        .body(Full::new(body.unwrap_or_default()))?;
    let resp = c.send_request(req).await?;
    let status = resp.status().as_u16();
    let bytes = resp.into_body().collect().await?.to_bytes();
    Ok((status, bytes))
}

struct Row {
    name: String,
    ops: usize,
    elapsed: Duration,
    lat: Latencies,
    note: String,
}

/// Builds request `i`: method, path and body.
pub(super) type MakeRequest =
    Arc<dyn Fn(usize) -> (&'static str, String, Option<Bytes>) + Send + Sync>;

/// Runs `per_client` requests on each of `clients` connections; `make(i)` gives request `i`.
pub(super) async fn hammer(
    server: &Server,
    clients: usize,
    per_client: usize,
    expect: u16,
    make: MakeRequest,
) -> anyhow::Result<(Duration, Latencies)> {
    let mut conns = Vec::new();
    for _ in 0..clients {
        conns.push(server.connect().await?);
    }
    let start = Instant::now();
    let mut tasks = Vec::new();
    for (w, mut c) in conns.into_iter().enumerate() {
        let make = make.clone();
        tasks.push(tokio::spawn(async move {
            let mut l = Latencies::default();
            for i in 0..per_client {
                let (method, path, body) = make(w * per_client + i);
                let t = Instant::now();
                let (status, resp) = request(&mut c, method, &path, body).await?;
                if status != expect {
                    bail!(
                        "{method} {path}: {status} {}",
                        String::from_utf8_lossy(&resp)
                    );
                }
                l.push(t.elapsed());
            }
            anyhow::Ok(l)
        }));
    }
    let mut lat = Latencies::default();
    for t in tasks {
        lat.extend(t.await??);
    }
    Ok((start.elapsed(), lat))
}

fn pod_json(i: usize) -> Bytes {
    Bytes::from(
        serde_json::json!({
            "apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": format!("pod-{i:05}"), "labels": {"app": format!("app-{}", i % 50), "tier": "web"}},
            "spec": {"nodeName": format!("node-{}", i % 100), "containers": [{
                "name": "main", "image": "registry.local/app:1.0",
                "ports": [{"containerPort": 8080, "protocol": "TCP"}],
                "env": [{"name": "MODE", "value": "production"}, {"name": "REPLICA", "value": i.to_string()}],
                "resources": {"requests": {"cpu": "100m", "memory": "128Mi"}, "limits": {"memory": "256Mi"}}
            }]}
        })
        .to_string(),
    )
}

/// Runs the benchmark and prints the table.
pub async fn run(opts: ApiBench) -> anyhow::Result<()> {
    let (server, cold) = Server::start().await?;
    let clients = opts.clients.max(1);
    let mut rows = Vec::new();

    // Creates of 1 KiB ConfigMaps.
    let per = scaled(20_000, opts.scale) / clients;
    let value = "x".repeat(1000);
    let make: MakeRequest = Arc::new(move |i| {
        let body = serde_json::json!({"apiVersion": "v1", "kind": "ConfigMap",
                "metadata": {"name": format!("cm-{i:06}")}, "data": {"v": value}});
        (
            "POST",
            "/api/v1/namespaces/default/configmaps".to_owned(),
            Some(Bytes::from(body.to_string())),
        )
    });
    eprintln!("== creates");
    let (elapsed, lat) = hammer(&server, clients, per, 201, make).await?;
    rows.push(Row {
        name: format!("create 1 KiB ConfigMap, {clients} clients"),
        ops: per * clients,
        elapsed,
        lat,
        note: String::new(),
    });

    // GETs by name.
    let total = per * clients;
    let gets = scaled(100_000, opts.scale) / clients;
    let make: MakeRequest = Arc::new(move |_| {
        let i = rand::rng().random_range(0..total);
        (
            "GET",
            format!("/api/v1/namespaces/default/configmaps/cm-{i:06}"),
            None,
        )
    });
    eprintln!("== gets");
    let (elapsed, lat) = hammer(&server, clients, gets, 200, make).await?;
    rows.push(Row {
        name: format!("GET ConfigMap, {clients} clients"),
        ops: gets * clients,
        elapsed,
        lat,
        note: String::new(),
    });

    // 10,000 pods, then LISTs of all of them.
    let pods = scaled(10_000, opts.scale);
    let per_pod = pods.div_ceil(clients);
    let make: MakeRequest = Arc::new(|i| {
        (
            "POST",
            "/api/v1/namespaces/default/pods".to_owned(),
            Some(pod_json(i)),
        )
    });
    eprintln!("== {} pods", per_pod * clients);
    hammer(&server, clients, per_pod, 201, make).await?;
    let mut c = server.connect().await?;
    let mut lat = Latencies::default();
    let lists = 20;
    let start = Instant::now();
    let mut items = 0;
    for _ in 0..lists {
        let t = Instant::now();
        let (status, body) = request(&mut c, "GET", "/api/v1/pods", None).await?;
        lat.push(t.elapsed());
        anyhow::ensure!(status == 200, "list failed: {status}");
        let v: serde_json::Value = serde_json::from_slice(&body)?;
        items = v["items"].as_array().map_or(0, Vec::len);
    }
    rows.push(Row {
        name: format!("LIST {items} pods"),
        ops: lists,
        elapsed: start.elapsed(),
        lat,
        note: String::new(),
    });
    tokio::time::sleep(Duration::from_millis(500)).await;
    let rss = server.rss_bytes();

    // Watch fan-out.
    eprintln!("== {} watchers", opts.watchers);
    let (status, body) = request(
        &mut c,
        "POST",
        "/api/v1/namespaces/default/configmaps",
        Some(Bytes::from(
            r#"{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"fanout"},"data":{"n":"0"}}"#,
        )),
    )
    .await?;
    anyhow::ensure!(status == 201, "fanout configmap: {status}");
    let created: serde_json::Value = serde_json::from_slice(&body)?;
    let rv = created["metadata"]["resourceVersion"]
        .as_str()
        .unwrap_or("0")
        .to_owned();
    let changes = 20usize;
    let starts = Arc::new(Starts::new(changes));
    let mut watchers = Vec::new();
    for _ in 0..opts.watchers {
        let mut wc = server.connect().await?;
        let path = format!(
            "/api/v1/namespaces/default/configmaps?watch=true&fieldSelector=metadata.name%3Dfanout&resourceVersion={rv}"
        );
        wc.ready().await?;
        let req = hyper::Request::builder()
            .uri(path)
            .header("host", "localhost")
            .header("accept", "application/json")
            .body(Full::new(Bytes::new()))?;
        let resp = wc.send_request(req).await?;
        let starts = starts.clone();
        watchers.push(tokio::spawn(async move {
            let mut body = resp.into_body();
            let mut l = Latencies::default();
            let mut buf = Vec::new();
            while l.len() < changes {
                let Some(frame) = body.frame().await else {
                    break;
                };
                let Ok(data) = frame?.into_data() else {
                    continue;
                };
                buf.extend_from_slice(&data);
                while let Some(pos) = buf.iter().position(|b| *b == b'\n') {
                    let line: Vec<u8> = buf.drain(..=pos).collect();
                    let now = Instant::now();
                    let v: serde_json::Value = serde_json::from_slice(&line)?;
                    let n: usize = v["object"]["data"]["n"].as_str().unwrap_or("0").parse()?;
                    if n >= 1
                        && let Some(t0) = starts.get(n - 1)
                    {
                        l.push(now.saturating_duration_since(t0));
                    }
                }
            }
            anyhow::Ok(l)
        }));
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    for n in 1..=changes {
        starts.set(n - 1, Instant::now());
        let patch = format!(r#"{{"data":{{"n":"{n}"}}}}"#);
        let req = hyper::Request::builder()
            .method("PATCH")
            .uri("/api/v1/namespaces/default/configmaps/fanout")
            .header("host", "localhost")
            .header("content-type", "application/merge-patch+json")
            .body(Full::new(Bytes::from(patch)))?;
        c.ready().await?;
        let resp = c.send_request(req).await?;
        anyhow::ensure!(resp.status() == 200, "patch failed: {}", resp.status());
        resp.into_body().collect().await?;
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let mut lat = Latencies::default();
    for w in watchers {
        lat.extend(tokio::time::timeout(Duration::from_secs(60), w).await???);
    }
    rows.push(Row {
        name: format!("one change reaches {} watchers", opts.watchers),
        ops: lat.len(),
        elapsed: Duration::from_secs(1),
        lat,
        note: format!("{changes} changes; latency from write start to event"),
    });

    drop(server);

    // The RSS bar: a fresh server holding only the 10,000 pods.
    eprintln!("== RSS with {} pods only", per_pod * clients);
    let (fresh, _) = Server::start().await?;
    let make: MakeRequest = Arc::new(|i| {
        (
            "POST",
            "/api/v1/namespaces/default/pods".to_owned(),
            Some(pod_json(i)),
        )
    });
    hammer(&fresh, clients, per_pod, 201, make).await?;
    tokio::time::sleep(Duration::from_millis(500)).await;
    let pods_only_rss = fresh.rss_bytes();
    drop(fresh);

    println!();
    println!("cold start to /readyz: {:.1} ms", cold.as_secs_f64() * 1e3);
    println!(
        "server RSS with {} pods stored: {:.1} MiB",
        per_pod * clients,
        pods_only_rss as f64 / (1024.0 * 1024.0)
    );
    println!(
        "server RSS after every workload ({} pods and {} ConfigMaps stored): {:.1} MiB",
        per_pod * clients,
        total,
        rss as f64 / (1024.0 * 1024.0)
    );
    println!();
    println!(
        "{:<44} {:>8} {:>10} {:>9} {:>9}  note",
        "workload", "ops", "ops/s", "p50 ms", "p99 ms"
    );
    println!("{}", "-".repeat(96));
    for r in &mut rows {
        let ops_s = if r.name.starts_with("one change") {
            "-".to_owned()
        } else {
            format!("{:.0}", r.ops as f64 / r.elapsed.as_secs_f64().max(1e-9))
        };
        println!(
            "{:<44} {:>8} {:>10} {:>9.2} {:>9.2}  {}",
            r.name,
            r.ops,
            ops_s,
            r.lat.percentile_ms(50.0),
            r.lat.percentile_ms(99.0),
            r.note
        );
    }
    Ok(())
}
