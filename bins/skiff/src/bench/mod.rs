//! `skiff bench ...`: benchmarks that print tables of figures.

mod api;
mod scheduler;
mod stats;
mod store;

use clap::Subcommand;

/// The benchmarks.
#[derive(Debug, Subcommand)]
pub enum Bench {
    /// The store engines side by side: the embedded engine and a real etcd on this machine.
    Store(store::StoreBench),
    /// The API server over HTTPS: creates, GETs, LIST of 10,000 pods, watch fan-out, RSS.
    Api(api::ApiBench),
    /// The scheduler over simulated nodes: pods/s, create-to-bind latency, CPU and RSS.
    Scheduler(scheduler::SchedulerBench),
}

/// Runs one benchmark.
pub async fn run(bench: Bench) -> anyhow::Result<()> {
    match bench {
        Bench::Store(b) => store::run(b).await,
        Bench::Api(b) => api::run(b).await,
        Bench::Scheduler(b) => scheduler::run(b).await,
    }
}
