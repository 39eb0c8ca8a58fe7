//! The pod-template workloads: apps/v1 Deployment, ReplicaSet, StatefulSet and DaemonSet,
//! core/v1 ReplicationController and PodTemplate. Defaulting follows upstream's
//! `pkg/apis/apps/v1/defaults.go` (and `SetDefaults_ReplicationController`) plus the pod
//! defaults of every template; validation is in [`validation`].
//!
//! Updates keep upstream's bookkeeping: `metadata.generation` moves only when the defaulted
//! spec (for Deployments, also the annotations) changed, and a DaemonSet's
//! `deprecated.daemonset.template.generation` annotation counts template changes.

pub mod validation;

use super::common::{
    check, child_mut, each_mut, ensure_object, get, has_entries, meta_update_errors, semantic_eq,
    set_default, set_default_str, settle_generation, str_of,
};
use super::pod;
use crate::object;
use serde_json::{Value, json};
use skiff_core::registry::ResourceInfo;
use skiff_core::status::ApiError;

/// The annotation upstream keeps a DaemonSet's template generation in.
pub const TEMPLATE_GENERATION: &str = "deprecated.daemonset.template.generation";

/// The workload kinds this module serves, as (group, kind).
pub const KINDS: &[(&str, &str)] = &[
    ("apps", "Deployment"),
    ("apps", "ReplicaSet"),
    ("apps", "StatefulSet"),
    ("apps", "DaemonSet"),
    ("", "ReplicationController"),
    ("", "PodTemplate"),
];

/// Whether `info` is one of [`KINDS`].
pub fn serves(info: &ResourceInfo) -> bool {
    KINDS.contains(&(info.gvk.group, info.gvk.kind))
}

/// Upstream's `SetDefaults_Deployment`.
pub fn default_deployment_spec(spec: &mut Value) {
    set_default(spec, "replicas", json!(1));
    if let Some(strategy) = ensure_object(spec, "strategy") {
        set_default_str(strategy, "type", "RollingUpdate");
        if str_of(strategy, "type") == "RollingUpdate"
            && let Some(ru) = ensure_object(strategy, "rollingUpdate")
        {
            set_default(ru, "maxUnavailable", json!("25%"));
            set_default(ru, "maxSurge", json!("25%"));
        }
    }
    set_default(spec, "revisionHistoryLimit", json!(10));
    set_default(spec, "progressDeadlineSeconds", json!(600));
}

/// Upstream's `SetDefaults_StatefulSet` (with `StatefulSetAutoDeletePVC` on, as in 1.33),
/// plus the defaults of its volume claim templates.
pub fn default_stateful_set_spec(spec: &mut Value) {
    set_default_str(spec, "podManagementPolicy", "OrderedReady");
    if let Some(us) = ensure_object(spec, "updateStrategy") {
        if str_of(us, "type").is_empty() {
            us["type"] = json!("RollingUpdate");
            set_default(us, "rollingUpdate", json!({}));
        }
        if str_of(us, "type") == "RollingUpdate"
            && let Some(ru) = child_mut(us, "rollingUpdate")
        {
            set_default(ru, "partition", json!(0));
        }
    }
    if let Some(policy) = ensure_object(spec, "persistentVolumeClaimRetentionPolicy") {
        set_default_str(policy, "whenDeleted", "Retain");
        set_default_str(policy, "whenScaled", "Retain");
    }
    set_default(spec, "replicas", json!(1));
    set_default(spec, "revisionHistoryLimit", json!(10));
    each_mut(spec, "volumeClaimTemplates", |pvc| {
        if !pvc.is_object() {
            return;
        }
        set_default_str(pvc, "apiVersion", "v1");
        set_default_str(pvc, "kind", "PersistentVolumeClaim");
        if let Some(s) = ensure_object(pvc, "spec") {
            set_default(s, "volumeMode", json!("Filesystem"));
            if let Some(r) = child_mut(s, "resources") {
                pod::defaults::default_resource_list(r.get_mut("limits"));
                pod::defaults::default_resource_list(r.get_mut("requests"));
            }
        }
        if let Some(status) = ensure_object(pvc, "status") {
            set_default_str(status, "phase", "Pending");
        }
    });
}

/// Upstream's `SetDefaults_DaemonSet`.
pub fn default_daemon_set_spec(spec: &mut Value) {
    if let Some(us) = ensure_object(spec, "updateStrategy") {
        set_default_str(us, "type", "RollingUpdate");
        if str_of(us, "type") == "RollingUpdate"
            && let Some(ru) = ensure_object(us, "rollingUpdate")
        {
            set_default(ru, "maxUnavailable", json!(1));
            set_default(ru, "maxSurge", json!(0));
        }
    }
    set_default(spec, "revisionHistoryLimit", json!(10));
}

/// Upstream's `SetDefaults_ReplicationController` (on the whole object: the selector and the
/// object's labels come from the template's labels when unset).
pub fn default_replication_controller(obj: &mut Value) {
    let template_labels = obj
        .get("spec")
        .and_then(|s| get(s, "template"))
        .and_then(|t| get(t, "metadata"))
        .and_then(|m| get(m, "labels"))
        .cloned();
    let Some(spec) = ensure_object(obj, "spec") else {
        return;
    };
    if let Some(labels) = &template_labels
        && !has_entries(spec, "selector")
    {
        spec["selector"] = labels.clone();
    }
    set_default(spec, "replicas", json!(1));
    if let Some(labels) = template_labels
        && object::meta(obj)
            .get("labels")
            .and_then(Value::as_object)
            .is_none_or(|m| m.is_empty())
    {
        object::set_meta(obj, "labels", labels);
    }
}

/// Applies every default of a workload object of `info`'s kind (refusing unreadable
/// quantities with upstream's 400).
pub fn apply_defaults(info: &ResourceInfo, obj: &mut Value) -> Result<(), ApiError> {
    if info.gvk.kind == "PodTemplate" {
        if let Some(t) = ensure_object(obj, "template") {
            pod::prepare_template(info, Some(t))?;
        }
        return Ok(());
    }
    if info.gvk.kind == "ReplicationController" {
        default_replication_controller(obj);
        let template = obj.get_mut("spec").and_then(|s| child_mut(s, "template"));
        return pod::prepare_template(info, template);
    }
    let Some(spec) = ensure_object(obj, "spec") else {
        return Ok(());
    };
    match info.gvk.kind {
        "Deployment" => default_deployment_spec(spec),
        "ReplicaSet" => set_default(spec, "replicas", json!(1)),
        "StatefulSet" => default_stateful_set_spec(spec),
        "DaemonSet" => default_daemon_set_spec(spec),
        _ => {}
    }
    pod::prepare_template(info, ensure_object(spec, "template"))
}

fn template_generation(obj: &Value) -> i64 {
    object::meta(obj)
        .get("annotations")
        .and_then(|a| a.get(TEMPLATE_GENERATION))
        .and_then(Value::as_str)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0)
}

fn set_template_generation(obj: &mut Value, generation: i64) {
    let meta = object::meta_mut(obj);
    let annotations = meta.entry("annotations").or_insert_with(|| json!({}));
    if !annotations.is_object() {
        *annotations = json!({});
    }
    annotations[TEMPLATE_GENERATION] = json!(generation.to_string());
}

/// Defaults and validates a new workload.
pub fn before_create(info: &ResourceInfo, obj: &mut Value) -> Result<(), ApiError> {
    apply_defaults(info, obj)?;
    if info.gvk.kind == "DaemonSet" {
        set_template_generation(obj, 1);
    }
    check(info, obj, &validation::validate(info, obj))
}

/// Defaults and validates an update of the workload `old` to `new`.
pub fn before_update(info: &ResourceInfo, old: &Value, new: &mut Value) -> Result<(), ApiError> {
    apply_defaults(info, new)?;
    let mut old = old.clone();
    let _ = apply_defaults(info, &mut old);
    match info.gvk.kind {
        "PodTemplate" => {}
        "DaemonSet" => {
            let old_template = old.get("spec").and_then(|s| s.get("template"));
            let new_template = new.get("spec").and_then(|s| s.get("template"));
            let bump = i64::from(!semantic_eq(old_template, new_template));
            set_template_generation(new, template_generation(&old) + bump);
            settle_generation(&old, new, false);
        }
        kind => settle_generation(&old, new, kind == "Deployment"),
    }
    let mut errs = meta_update_errors(&old, new);
    errs.extend(validation::validate_update(info, new, &old));
    check(info, new, &errs)
}

#[cfg(test)]
mod tests;
