//! `skiff bench scheduler`: a real `skiff server` (API server only) and a real `skiff
//! scheduler` as child processes, simulated nodes in-process (`skiff_sim`), and pods created
//! over HTTPS by 32 clients. Each scenario reports pods/s from the first create to the last
//! bind, the p50/p99 latency from create to bind, and the scheduler process's CPU seconds and
//! peak RSS.
//!
//! Scenarios, as the issue sets them: basic (5,000 nodes, 10,000 pods), required pod
//! anti-affinity (500 nodes, 5,000 pods) and topology spread (5,000 nodes, 10,000 pods).

use super::api::{MakeRequest, Server, hammer};
use super::stats::{Latencies, Starts};
use anyhow::{Context, bail};
use bytes::Bytes;
use futures::StreamExt;
use k8s_openapi::api::core::v1::Pod;
use kube::api::{Api, WatchEvent, WatchParams};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Options of `skiff bench scheduler`.
#[derive(Debug, clap::Args)]
pub struct SchedulerBench {
    /// Multiplies node and pod counts (1 is the standard run).
    #[arg(long, default_value_t = 1.0)]
    scale: f64,
    /// Run only these scenarios (basic, anti-affinity, spread).
    #[arg(long, value_delimiter = ',')]
    only: Vec<String>,
    /// Concurrent clients creating pods.
    #[arg(long, default_value_t = 32)]
    clients: usize,
}

#[derive(Clone, Copy, Debug, PartialEq)]
enum Scenario {
    Basic,
    AntiAffinity,
    Spread,
}

impl Scenario {
    fn name(self) -> &'static str {
        match self {
            Scenario::Basic => "basic",
            Scenario::AntiAffinity => "anti-affinity",
            Scenario::Spread => "spread",
        }
    }

    fn sizes(self) -> (usize, usize) {
        match self {
            Scenario::Basic | Scenario::Spread => (5000, 10_000),
            Scenario::AntiAffinity => (500, 5000),
        }
    }

    /// Pod `i` of the scenario.
    fn pod(self, i: usize) -> Bytes {
        let mut pod = serde_json::json!({
            "apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": format!("p-{i:06}"), "labels": {"app": "bench"}},
            "spec": {"containers": [{
                "name": "main", "image": "registry.local/app:1.0",
                "resources": {"requests": {"cpu": "100m", "memory": "128Mi"}}
            }]}
        });
        match self {
            Scenario::Basic => {}
            Scenario::AntiAffinity => {
                // 20 groups; pods of a group never share a node (500 nodes hold 10,000).
                let group = format!("g{}", i % 20);
                pod["metadata"]["labels"]["group"] = group.clone().into();
                pod["spec"]["affinity"] = serde_json::json!({"podAntiAffinity": {
                    "requiredDuringSchedulingIgnoredDuringExecution": [{
                        "labelSelector": {"matchLabels": {"group": group}},
                        "topologyKey": "kubernetes.io/hostname"
                    }]
                }});
            }
            Scenario::Spread => {
                pod["spec"]["topologySpreadConstraints"] = serde_json::json!([{
                    "maxSkew": 1,
                    "topologyKey": "topology.kubernetes.io/zone",
                    "whenUnsatisfiable": "DoNotSchedule",
                    "labelSelector": {"matchLabels": {"app": "bench"}}
                }]);
            }
        }
        Bytes::from(pod.to_string())
    }
}

/// A child scheduler; killed (by PID) when dropped.
struct SchedulerProcess(Child);

impl Drop for SchedulerProcess {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

impl SchedulerProcess {
    /// CPU seconds used so far (user + system).
    fn cpu_seconds(&self) -> f64 {
        let stat =
            std::fs::read_to_string(format!("/proc/{}/stat", self.0.id())).unwrap_or_default();
        // Fields after the parenthesised command name: utime is the 14th field overall.
        let after = stat.rsplit_once(')').map_or("", |(_, r)| r);
        let fields: Vec<&str> = after.split_whitespace().collect();
        let ticks = |i: usize| {
            fields
                .get(i)
                .and_then(|v| v.parse::<f64>().ok())
                .unwrap_or(0.0)
        };
        // `after` starts at field 3 (state), so utime (14) and stime (15) are at 11 and 12.
        (ticks(11) + ticks(12)) / 100.0
    }

    /// Peak resident memory in bytes.
    fn peak_rss(&self) -> u64 {
        let status =
            std::fs::read_to_string(format!("/proc/{}/status", self.0.id())).unwrap_or_default();
        status
            .lines()
            .find(|l| l.starts_with("VmHWM:"))
            .and_then(|l| l.split_whitespace().nth(1))
            .and_then(|kb| kb.parse::<u64>().ok())
            .map_or(0, |kb| kb * 1024)
    }
}

struct Figures {
    nodes: usize,
    pods: usize,
    elapsed: Duration,
    lat: Latencies,
    cpu: f64,
    rss: u64,
}

async fn run_one(s: Scenario, opts: &SchedulerBench) -> anyhow::Result<Figures> {
    let (n, m) = s.sizes();
    let nodes = ((n as f64 * opts.scale).round() as usize).max(1);
    let pods = ((m as f64 * opts.scale).round() as usize).max(1);
    let (server, _) = Server::start().await?;
    let kubeconfig = server.kubeconfig();
    let client = skiff_client::from_kubeconfig(&kubeconfig).await?;
    let sim = skiff_sim::Sim::start(
        client.clone(),
        skiff_sim::SimOptions {
            nodes,
            name_prefix: "bench-".into(),
            cpu: "32".into(),
            memory: "256Gi".into(),
            pods: 110,
            zones: 3,
            // Pods stay as bound: no kubelet status traffic during the measurement.
            pod_start_delay: Duration::from_secs(24 * 3600),
            ..skiff_sim::SimOptions::default()
        },
    )
    .await
    .context("starting simulated nodes")?;
    let sched = SchedulerProcess(
        Command::new(std::env::current_exe()?)
            .args(["scheduler", "--leader-elect=false", "--kubeconfig"])
            .arg(&kubeconfig)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()?,
    );
    let api: Api<Pod> = Api::namespaced(client.clone(), "default");
    // Wait until the scheduler places a probe pod: its caches are synced.
    let probe = serde_json::from_value::<Pod>(serde_json::json!({
        "metadata": {"name": "probe"},
        "spec": {"containers": [{"name": "c", "image": "x"}]}
    }))?;
    api.create(&Default::default(), &probe).await?;
    let ready = Instant::now();
    loop {
        let p = api.get("probe").await?;
        if p.spec.and_then(|s| s.node_name).is_some() {
            break;
        }
        if ready.elapsed() > Duration::from_secs(120) {
            bail!("the scheduler did not start");
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    api.delete("probe", &Default::default()).await?;
    let cpu_before = sched.cpu_seconds();

    // Watch binds from now on.
    let rv = api
        .list_metadata(&Default::default())
        .await?
        .metadata
        .resource_version
        .unwrap_or_default();
    let starts = Arc::new(Starts::new(pods));
    let watch = {
        let api = api.clone();
        let starts = starts.clone();
        tokio::spawn(async move {
            let mut lat = Latencies::default();
            let mut bound = vec![false; pods];
            let mut count = 0;
            let mut last = Instant::now();
            let mut rv = rv;
            while count < pods {
                let mut stream = api
                    .watch(&WatchParams::default().timeout(290), &rv)
                    .await?
                    .boxed();
                while let Some(ev) = stream.next().await {
                    let pod = match ev? {
                        WatchEvent::Added(p) | WatchEvent::Modified(p) => p,
                        WatchEvent::Bookmark(b) => {
                            rv = b.metadata.resource_version;
                            continue;
                        }
                        WatchEvent::Deleted(_) => continue,
                        WatchEvent::Error(e) => bail!("watch: {e:?}"),
                    };
                    if let Some(v) = pod.metadata.resource_version.clone() {
                        rv = v;
                    }
                    let Some(i) = pod
                        .metadata
                        .name
                        .as_deref()
                        .and_then(|n| n.strip_prefix("p-"))
                        .and_then(|n| n.parse::<usize>().ok())
                    else {
                        continue;
                    };
                    let is_bound = pod.spec.and_then(|s| s.node_name).is_some();
                    if i < pods && is_bound && !bound[i] {
                        bound[i] = true;
                        count += 1;
                        last = Instant::now();
                        if let Some(t) = starts.get(i) {
                            lat.push(last.saturating_duration_since(t));
                        }
                        if count == pods {
                            break;
                        }
                    }
                }
            }
            anyhow::Ok((lat, last))
        })
    };
    let per_client = pods.div_ceil(opts.clients);
    let start = Instant::now();
    let make: MakeRequest = {
        let starts = starts.clone();
        Arc::new(move |i| {
            starts.set(i, Instant::now());
            (
                "POST",
                "/api/v1/namespaces/default/pods".to_owned(),
                Some(s.pod(i)),
            )
        })
    };
    create_pods(&server, opts.clients, per_client, pods, make).await?;
    let (lat, last) = tokio::time::timeout(Duration::from_secs(900), watch)
        .await
        .context("pods were not all scheduled within 15 minutes")???;
    let figures = Figures {
        nodes,
        pods,
        elapsed: last.saturating_duration_since(start),
        lat,
        cpu: sched.cpu_seconds() - cpu_before,
        rss: sched.peak_rss(),
    };
    drop(sched);
    sim.stop().await;
    drop(server);
    Ok(figures)
}

/// Creates `pods` pods over up to `clients` connections, `per_client` each (one more
/// connection takes the remainder).
async fn create_pods(
    server: &Server,
    clients: usize,
    per_client: usize,
    pods: usize,
    make: MakeRequest,
) -> anyhow::Result<()> {
    if clients * per_client == pods {
        hammer(server, clients, per_client, 201, make).await?;
        return Ok(());
    }
    let full = pods / per_client;
    if full > 0 {
        hammer(server, full, per_client, 201, make.clone()).await?;
    }
    let rest = pods - full * per_client;
    if rest > 0 {
        let offset = full * per_client;
        let shifted: MakeRequest = Arc::new(move |i| make(offset + i));
        hammer(server, 1, rest, 201, shifted).await?;
    }
    Ok(())
}

/// Runs the scenarios and prints a table.
pub async fn run(opts: SchedulerBench) -> anyhow::Result<()> {
    let all = [Scenario::Basic, Scenario::AntiAffinity, Scenario::Spread];
    let chosen: Vec<Scenario> = all
        .into_iter()
        .filter(|s| opts.only.is_empty() || opts.only.iter().any(|o| o == s.name()))
        .collect();
    println!(
        "| scenario | nodes | pods | pods/s | p50 ms | p99 ms | scheduler CPU s | scheduler peak RSS MiB |"
    );
    println!("| --- | --- | --- | --- | --- | --- | --- | --- |");
    for s in chosen {
        let mut f = run_one(s, &opts).await?;
        println!(
            "| {} | {} | {} | {:.0} | {:.1} | {:.1} | {:.2} | {:.1} |",
            s.name(),
            f.nodes,
            f.pods,
            f.pods as f64 / f.elapsed.as_secs_f64().max(1e-9),
            f.lat.percentile_ms(50.0),
            f.lat.percentile_ms(99.0),
            f.cpu,
            f.rss as f64 / (1024.0 * 1024.0)
        );
    }
    Ok(())
}
