//! `skiff scheduler`: the scheduler as its own process (also started by `skiff server`).

use anyhow::Context;
use skiff_scheduler::config::Config;
use std::path::{Path, PathBuf};

/// Options of `skiff scheduler`.
#[derive(Debug, clap::Args)]
pub struct SchedulerArgs {
    /// kubeconfig of the API server to schedule for [default: $KUBECONFIG].
    #[arg(long)]
    kubeconfig: Option<PathBuf>,
    /// A KubeSchedulerConfiguration file (profiles, plugins, weights, leader election).
    #[arg(long)]
    config: Option<PathBuf>,
    /// Elect a leader over a Lease, so several schedulers can run and one acts
    /// [default: the configuration's leaderElection.leaderElect, true].
    #[arg(long)]
    leader_elect: Option<bool>,
}

/// Loads a scheduler configuration file, or the defaults.
pub fn load_config(path: Option<&Path>) -> anyhow::Result<Config> {
    match path {
        Some(p) => {
            let text =
                std::fs::read_to_string(p).with_context(|| format!("reading {}", p.display()))?;
            Config::parse(&text).map_err(|e| anyhow::anyhow!("{}: {e}", p.display()))
        }
        None => Ok(Config::with_defaults()),
    }
}

/// Runs the scheduler until the process is stopped.
pub async fn run(args: SchedulerArgs) -> anyhow::Result<()> {
    let kubeconfig = args
        .kubeconfig
        .or_else(|| std::env::var_os("KUBECONFIG").map(PathBuf::from))
        .context("--kubeconfig is required (or set KUBECONFIG)")?;
    let mut config = load_config(args.config.as_deref())?;
    if let Some(le) = args.leader_elect {
        config.leader_election.leader_elect = le;
    }
    let client = skiff_client::from_kubeconfig(&kubeconfig).await?;
    tokio::select! {
        r = skiff_scheduler::run::run(client, config) => r,
        _ = crate::server::shutdown_signal() => Ok(()),
    }
}
