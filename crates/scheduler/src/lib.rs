//! The Skiff scheduler, after upstream's kube-scheduler: a plugin framework ([`framework`])
//! with upstream's default plugins ([`plugins`]), profiles from a KubeSchedulerConfiguration
//! ([`config`]).
//!
//! Decisions are pure functions of a snapshot of the cluster and the pod being scheduled, so
//! they are unit-tested without a cluster.

pub mod cache;
pub mod config;
pub mod framework;
pub mod plugins;
pub mod preemption;
pub mod queue;
pub mod run;
