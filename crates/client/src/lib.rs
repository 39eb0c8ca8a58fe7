//! What every Skiff component needs to talk to the API server, as a client like any other:
//! a kube-rs client from a kubeconfig file, and leader election over a Lease ([`leader`]).

pub mod leader;

use anyhow::Context;
use std::path::Path;

/// A kube-rs client for the current context of the kubeconfig at `path`.
pub async fn from_kubeconfig(path: &Path) -> anyhow::Result<kube::Client> {
    let kubeconfig = kube::config::Kubeconfig::read_from(path)
        .with_context(|| format!("reading the kubeconfig {}", path.display()))?;
    let config = kube::Config::from_custom_kubeconfig(
        kubeconfig,
        &kube::config::KubeConfigOptions::default(),
    )
    .await
    .with_context(|| format!("loading the kubeconfig {}", path.display()))?;
    kube::Client::try_from(config).context("building an API client")
}
