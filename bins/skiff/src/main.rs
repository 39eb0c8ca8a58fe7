//! `skiff`: Kubernetes in one small Rust binary.
//!
//! Each component is a subcommand. Today: `server` (the API server and the scheduler),
//! `scheduler`, `sim` (simulated nodes) and `bench` (benchmarks that print figures). The
//! controllers, kubelet and proxy join as they are built.

mod bench;
mod scheduler;
mod server;
mod sim;

use clap::{Parser, Subcommand};

/// mimalloc: the API server and the scheduler allocate small objects at a high rate.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// Kubernetes in one small, fast binary.
#[derive(Debug, Parser)]
#[command(name = "skiff", version, about, long_about = None, propagate_version = true)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run a cluster on this machine (today: the API server on the embedded store or etcd).
    Server(server::ServerArgs),
    /// Run the scheduler against an API server.
    Scheduler(scheduler::SchedulerArgs),
    /// Simulate nodes (Node objects, leases, pods reported running) without containers.
    Sim(sim::SimArgs),
    /// Run a benchmark and print its figures.
    #[command(subcommand)]
    Bench(bench::Bench),
}

fn main() -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("SKIFF_LOG")
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn")),
        )
        .with_writer(std::io::stderr)
        .init();
    let cli = Cli::parse();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    runtime.block_on(async move {
        match cli.command {
            Command::Bench(b) => bench::run(b).await,
            Command::Scheduler(s) => scheduler::run(s).await,
            Command::Server(s) => server::run(s).await,
            Command::Sim(s) => sim::run(s).await,
        }
    })
}
