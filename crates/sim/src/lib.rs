//! Simulated nodes, in the manner of kwok: Node objects with capacity, labels, taints and a
//! Ready status, a Lease per node renewed on a heartbeat, and pods bound to those nodes
//! reported running (and their graceful deletion finished) as a kubelet would, without any
//! container. Everything goes through the API server with kube-rs; nothing else is
//! contacted (node and pod addresses are made up).
//!
//! - [`options`]: what to simulate, and the command-line parsers.
//! - [`node`]: Node and Lease objects, addresses, the heartbeat schedule (pure).
//! - [`pod`]: what to do with a pod and the status to report (pure).
//! - [`Sim::start`]: the effects, one heartbeat ticker and one pod watch for all nodes.
//!
//! ```no_run
//! # async fn demo(client: kube::Client) -> anyhow::Result<()> {
//! let opts = skiff_sim::SimOptions { nodes: 100, ..Default::default() };
//! let sim = skiff_sim::Sim::start(client, opts).await?;
//! // ... schedule pods onto sim-0 .. sim-99 ...
//! sim.stop_and_delete().await?;
//! # Ok(())
//! # }
//! ```

pub mod node;
pub mod options;
pub mod pod;
mod run;

pub use options::SimOptions;
pub use run::{Sim, SimHandle, SimStats};

pub use skiff_client::from_kubeconfig as client_from_kubeconfig;
