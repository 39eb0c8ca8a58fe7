//! `skiff server`: the control plane on this machine.

use anyhow::Context;
use skiff_apiserver::server::{self, Config};
use std::net::IpAddr;
use std::path::PathBuf;

/// Options of `skiff server`.
#[derive(Debug, clap::Args)]
pub struct ServerArgs {
    /// Address the API server listens on.
    #[arg(long, default_value = "0.0.0.0")]
    bind_address: IpAddr,
    /// HTTPS port of the API server.
    #[arg(long, default_value_t = 6443)]
    secure_port: u16,
    /// Where the store, certificates and kubeconfig live
    /// [default: /var/lib/skiff as root, ~/.local/share/skiff otherwise].
    #[arg(long)]
    data_dir: Option<PathBuf>,
    /// IP range of Services; the `kubernetes` Service gets its first address.
    #[arg(long, default_value = "10.43.0.0/16")]
    service_cidr: String,
    /// Static bearer tokens, one `token,user,uid,"group1,group2"` line each.
    #[arg(long)]
    token_auth_file: Option<PathBuf>,
    /// etcd client URLs (comma-separated); without them the embedded store is used.
    #[arg(long, value_delimiter = ',')]
    etcd_servers: Vec<String>,
    /// Do not run the scheduler in this process.
    #[arg(long)]
    disable_scheduler: bool,
    /// A KubeSchedulerConfiguration file for the scheduler.
    #[arg(long)]
    scheduler_config: Option<PathBuf>,
}

fn default_data_dir() -> PathBuf {
    let root = std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("Uid:"))
                .and_then(|l| l.split_whitespace().nth(1).map(|u| u == "0"))
        })
        .unwrap_or(false);
    if root {
        PathBuf::from("/var/lib/skiff")
    } else {
        let home = std::env::var_os("HOME").map_or_else(|| PathBuf::from("."), PathBuf::from);
        home.join(".local/share/skiff")
    }
}

/// Runs the server until the process is stopped.
pub async fn run(args: ServerArgs) -> anyhow::Result<()> {
    let started = std::time::Instant::now();
    let mut config = Config::new(args.data_dir.unwrap_or_else(default_data_dir));
    config.bind_address = args.bind_address;
    config.secure_port = args.secure_port;
    config.service_cidr = server::parse_cidr(&args.service_cidr)?;
    config.token_auth_file = args.token_auth_file;
    config.etcd_servers = args.etcd_servers;
    let running = server::start(config)
        .await
        .context("starting the API server")?;
    println!("API server listening on https://{}", running.address);
    println!("Admin kubeconfig: {}", running.kubeconfig.display());
    println!("Ready in {} ms", started.elapsed().as_millis());
    // The other components are clients of the API server over HTTPS, as upstream.
    let mut components = tokio::task::JoinSet::new();
    if !args.disable_scheduler {
        let config = crate::scheduler::load_config(args.scheduler_config.as_deref())?;
        let client = skiff_client::from_kubeconfig(&running.kubeconfig).await?;
        components.spawn(async move {
            skiff_scheduler::run::run(client, config)
                .await
                .context("the scheduler stopped")
        });
    }
    tokio::select! {
        _ = running.wait() => {}
        Some(r) = components.join_next() => {
            r.context("a component panicked")??;
        }
        _ = shutdown_signal() => {}
    }
    Ok(())
}

/// Resolves on SIGINT or SIGTERM.
pub(crate) async fn shutdown_signal() {
    let mut term = match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
        Ok(s) => s,
        Err(_) => return std::future::pending().await,
    };
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        _ = term.recv() => {}
    }
}
