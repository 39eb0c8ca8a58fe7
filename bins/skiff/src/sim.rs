//! `skiff sim`: simulated nodes (Node objects, leases, pods reported running) against an API
//! server, without containers.

use anyhow::Context;
use skiff_sim::options::{parse_duration, parse_labels, parse_taints};
use skiff_sim::{Sim, SimOptions};
use std::path::PathBuf;
use std::time::Duration;

/// Options of `skiff sim`.
#[derive(Debug, clap::Args)]
pub struct SimArgs {
    /// Kubeconfig of the cluster to join, its current context [default: $KUBECONFIG].
    #[arg(long)]
    kubeconfig: Option<PathBuf>,
    /// How many nodes to simulate.
    #[arg(long, default_value_t = 1)]
    nodes: usize,
    /// Nodes are named `<prefix><index>`.
    #[arg(long, default_value = "sim-")]
    name_prefix: String,
    /// CPU capacity of each node.
    #[arg(long, default_value = "32")]
    cpu: String,
    /// Memory capacity of each node.
    #[arg(long, default_value = "256Gi")]
    memory: String,
    /// Ephemeral storage capacity of each node.
    #[arg(long, default_value = "1Ti")]
    ephemeral_storage: String,
    /// Pod capacity of each node (at most 253).
    #[arg(long, default_value_t = 110)]
    pods: u32,
    /// Node i is in zone `zone-<i % zones>` (0: no zone label).
    #[arg(long, default_value_t = 3)]
    zones: u32,
    /// The region label of every node (empty: none).
    #[arg(long, default_value = "region-0")]
    region: String,
    /// Extra node labels, `k=v,k2=v2`.
    #[arg(long, default_value = "")]
    labels: String,
    /// Node taints, `k=v:NoSchedule,k2:NoExecute`.
    #[arg(long, default_value = "")]
    taints: String,
    /// How long a bound pod waits before it is reported running.
    #[arg(long, default_value = "0s", value_parser = parse_duration_arg)]
    pod_start_delay: Duration,
    /// How often each node's lease is renewed.
    #[arg(long, default_value = "10s", value_parser = parse_duration_arg)]
    heartbeat: Duration,
    /// How often each node's conditions get a new heartbeat time.
    #[arg(long, default_value = "1m", value_parser = parse_duration_arg)]
    node_status_interval: Duration,
    /// Requests in flight at once while registering nodes.
    #[arg(long, default_value_t = 32)]
    create_concurrency: usize,
    /// Requests in flight at once for heartbeats, and for pods.
    #[arg(long, default_value_t = 8)]
    request_concurrency: usize,
    /// Delete the simulated nodes and their leases on exit.
    #[arg(long)]
    cleanup: bool,
}

fn parse_duration_arg(s: &str) -> Result<Duration, String> {
    parse_duration(s).map_err(|e| e.to_string())
}

/// Registers the nodes and keeps them alive until SIGINT or SIGTERM.
pub async fn run(args: SimArgs) -> anyhow::Result<()> {
    let started = std::time::Instant::now();
    let opts = SimOptions {
        nodes: args.nodes,
        name_prefix: args.name_prefix,
        cpu: args.cpu,
        memory: args.memory,
        ephemeral_storage: args.ephemeral_storage,
        pods: args.pods,
        zones: args.zones,
        region: args.region,
        labels: parse_labels(&args.labels)?,
        taints: parse_taints(&args.taints)?,
        pod_start_delay: args.pod_start_delay,
        heartbeat: args.heartbeat,
        status_interval: args.node_status_interval,
        create_concurrency: args.create_concurrency,
        request_concurrency: args.request_concurrency,
        ..SimOptions::default()
    };
    opts.validate()?;
    let kubeconfig = args
        .kubeconfig
        .or_else(|| std::env::var_os("KUBECONFIG").map(PathBuf::from))
        .context("--kubeconfig is required (or set KUBECONFIG)")?;
    let client = skiff_client::from_kubeconfig(&kubeconfig).await?;
    let prefix = opts.name_prefix.clone();
    let n = opts.nodes;
    let sim = tokio::select! {
        sim = Sim::start(client, opts) => sim.context("starting simulated nodes")?,
        _ = crate::server::shutdown_signal() => return Ok(()),
    };
    println!(
        "Registered {n} simulated nodes ({prefix}0 .. {prefix}{}) in {} ms",
        n.saturating_sub(1),
        started.elapsed().as_millis()
    );
    crate::server::shutdown_signal().await;
    let stats = sim.stats();
    if args.cleanup {
        sim.stop_and_delete().await?;
        println!("Deleted {n} simulated nodes");
    } else {
        sim.stop().await;
    }
    println!(
        "Stopped: {} lease renewals, {} node status updates, {} pods started, {} pods deleted, {} errors",
        stats.lease_renewals,
        stats.node_status_updates,
        stats.pods_started,
        stats.pods_deleted,
        stats.errors
    );
    Ok(())
}
