//! Per-kind behaviour on top of the generic REST handlers (upstream's REST strategies):
//! defaulting, validation, allocation of shared resources (Service cluster IPs and node ports)
//! and their release.
//!
//! The generic handlers call these hooks; kinds without special rules pass through. Services
//! are handled by [`service`]; pods by [`pod`]; Deployments, ReplicaSets, StatefulSets,
//! DaemonSets, ReplicationControllers and PodTemplates by [`workloads`]; Jobs and CronJobs by
//! [`batch`]; ConfigMaps and Secrets by [`config`]; Namespaces by [`namespace`].
//!
//! The other built-in kinds: Roles, ClusterRoles and their bindings by [`rbac`];
//! ServiceAccounts, Endpoints and Events (core and `events.k8s.io`) by [`core_misc`];
//! ResourceQuotas and LimitRanges by [`quota`]; Nodes by [`node`]; PersistentVolumes and
//! PersistentVolumeClaims by [`volumes`]; StorageClasses, CSIDrivers, CSINodes and
//! VolumeAttachments by [`storage_api`]; Ingresses, IngressClasses and NetworkPolicies by
//! [`networking`]; PodDisruptionBudgets by [`policy`]; PriorityClasses by [`scheduling`] (with
//! the one-global-default admission rule, which reads the store); Leases by [`coordination`];
//! EndpointSlices by [`discovery`]; HorizontalPodAutoscalers by [`autoscaling`].
//!
//! Shared helpers live in [`common`] and [`checks`], resource quantities in [`quantity`], cron
//! schedules in [`cron`].
//!
//! `before_update` runs for every write through the generic update path, status updates
//! included (their spec is the stored one, so the spec rules pass). A Namespace's
//! `spec.finalizers` are kept from the stored object there, as upstream does for plain
//! updates: a `finalize` subresource must write without calling these hooks.

pub mod admission;
pub mod autoscaling;
pub mod batch;
pub mod checks;
pub mod common;
pub mod config;
pub mod coordination;
pub mod core_misc;
pub mod cron;
pub mod discovery;
pub mod namespace;
pub mod networking;
pub mod node;
pub mod pod;
pub mod policy;
pub mod quantity;
pub mod quota;
pub mod rbac;
pub mod scheduling;
pub mod service;
pub mod storage_api;
pub mod subresource;
pub mod volumes;
pub mod workloads;

use crate::storage::Storage;
use serde_json::Value;
use skiff_core::registry::ResourceInfo;
use skiff_core::status::ApiError;

fn is_service(info: &ResourceInfo) -> bool {
    info.gvk.group.is_empty() && info.gvk.kind == "Service"
}

/// Defaults and validates a new object, and reserves what it needs (before it is stored).
/// `dry_run` checks without reserving.
pub async fn before_create(
    storage: &Storage,
    info: &ResourceInfo,
    obj: &mut Value,
    dry_run: bool,
) -> Result<(), ApiError> {
    if is_service(info) {
        return service::before_create(storage, obj, dry_run).await;
    }
    match (info.gvk.group, info.gvk.kind) {
        ("", "Pod") => {
            admission::pod_priority(storage, obj).await?;
            pod::before_create(info, obj)
        }
        ("batch", "Job" | "CronJob") => batch::before_create(info, obj),
        ("", "ConfigMap" | "Secret") => config::before_create(info, obj),
        ("", "Namespace") => namespace::before_create(info, obj),
        ("rbac.authorization.k8s.io", _) => rbac::before_create(info, obj),
        ("", "ServiceAccount" | "Endpoints" | "Event") | ("events.k8s.io", "Event") => {
            core_misc::before_create(info, obj)
        }
        ("", "ResourceQuota" | "LimitRange") => quota::before_create(info, obj),
        ("", "Node") => node::before_create(info, obj),
        ("", "PersistentVolume" | "PersistentVolumeClaim") => volumes::before_create(info, obj),
        ("storage.k8s.io", _) => storage_api::before_create(info, obj),
        ("networking.k8s.io", _) => networking::before_create(info, obj),
        ("policy", "PodDisruptionBudget") => policy::before_create(info, obj),
        ("scheduling.k8s.io", "PriorityClass") => {
            scheduling::before_create(storage, info, obj).await
        }
        ("coordination.k8s.io", "Lease") => coordination::before_create(info, obj),
        ("discovery.k8s.io", "EndpointSlice") => discovery::before_create(info, obj),
        ("autoscaling", "HorizontalPodAutoscaler") => autoscaling::before_create(info, obj),
        _ if workloads::serves(info) => workloads::before_create(info, obj),
        _ => Ok(()),
    }
}

/// Defaults and validates an update of `old` to `new` (before it is stored).
pub async fn before_update(
    storage: &Storage,
    info: &ResourceInfo,
    old: &Value,
    new: &mut Value,
    dry_run: bool,
) -> Result<(), ApiError> {
    if is_service(info) {
        return service::before_update(storage, old, new, dry_run).await;
    }
    match (info.gvk.group, info.gvk.kind) {
        ("", "Pod") => pod::before_update(info, old, new),
        ("batch", "Job" | "CronJob") => batch::before_update(info, old, new),
        ("", "ConfigMap" | "Secret") => config::before_update(info, old, new),
        ("", "Namespace") => namespace::before_update(info, old, new),
        ("rbac.authorization.k8s.io", _) => rbac::before_update(info, old, new),
        ("", "ServiceAccount" | "Endpoints" | "Event") | ("events.k8s.io", "Event") => {
            core_misc::before_update(info, old, new)
        }
        ("", "ResourceQuota" | "LimitRange") => quota::before_update(info, old, new),
        ("", "Node") => node::before_update(info, old, new),
        ("", "PersistentVolume" | "PersistentVolumeClaim") => {
            volumes::before_update(info, old, new)
        }
        ("storage.k8s.io", _) => storage_api::before_update(info, old, new),
        ("networking.k8s.io", _) => networking::before_update(info, old, new),
        ("policy", "PodDisruptionBudget") => policy::before_update(info, old, new),
        ("scheduling.k8s.io", "PriorityClass") => {
            scheduling::before_update(storage, info, old, new).await
        }
        ("coordination.k8s.io", "Lease") => coordination::before_update(info, old, new),
        ("discovery.k8s.io", "EndpointSlice") => discovery::before_update(info, old, new),
        ("autoscaling", "HorizontalPodAutoscaler") => autoscaling::before_update(info, old, new),
        _ if workloads::serves(info) => workloads::before_update(info, old, new),
        _ => Ok(()),
    }
}

/// Releases what a deleted object held (after it left the store).
pub async fn after_delete(storage: &Storage, info: &ResourceInfo, obj: &Value) {
    if is_service(info) {
        service::release(storage, obj).await;
    }
}

/// Releases what `before_create` reserved when the create then failed.
pub async fn undo_create(storage: &Storage, info: &ResourceInfo, obj: &Value) {
    if is_service(info) {
        service::release(storage, obj).await;
    }
}
