//! The core/v1 Pod strategy (upstream's pkg/registry/core/pod): defaulting ([`defaults`]),
//! validation ([`validation`]), the QoS class a new pod's status starts with, and the rules
//! of what a pod update may change. The pod-spec parts serve every pod template too.

pub mod defaults;
pub mod validation;

use super::common::{cannot_handle, check, get, list_of, meta_update_errors};
use super::quantity;
use serde_json::{Value, json};
use skiff_core::registry::ResourceInfo;
use skiff_core::status::ApiError;
use std::collections::BTreeMap;

/// Refuses a pod spec whose resource quantities do not parse, with the 400 upstream's
/// decoder gives.
pub fn check_quantities(info: &ResourceInfo, spec: Option<&Value>) -> Result<(), ApiError> {
    if let Some(spec) = spec {
        for list in defaults::resource_lists(spec) {
            defaults::check_resource_list(Some(list))
                .map_err(|e| cannot_handle(info, &e.to_string()))?;
        }
    }
    Ok(())
}

/// Defaults a pod template (and checks its quantities).
pub fn prepare_template(info: &ResourceInfo, template: Option<&mut Value>) -> Result<(), ApiError> {
    if let Some(t) = template {
        check_quantities(info, t.get("spec"))?;
        defaults::default_template(t);
    }
    Ok(())
}

fn sum(into: &mut BTreeMap<String, i128>, list: Option<&Value>) -> Vec<String> {
    let mut positive = Vec::new();
    let Some(m) = list.and_then(Value::as_object) else {
        return positive;
    };
    for (name, v) in m {
        if !matches!(name.as_str(), "cpu" | "memory") {
            continue;
        }
        if let Ok(q) = quantity::from_json(v)
            && q.is_positive()
        {
            *into.entry(name.clone()).or_default() += q.nanos().unwrap_or(i128::MAX / 4);
            positive.push(name.clone());
        }
    }
    positive
}

/// Upstream's `GetPodQOS`: `Guaranteed` when every container limits cpu and memory and the
/// requests equal the limits, `BestEffort` when nothing requests or limits either, else
/// `Burstable`.
pub fn qos_class(spec: &Value) -> &'static str {
    let mut requests = BTreeMap::new();
    let mut limits = BTreeMap::new();
    let mut guaranteed = true;
    for c in list_of(spec, "containers")
        .iter()
        .chain(list_of(spec, "initContainers"))
    {
        let r = get(c, "resources");
        sum(&mut requests, r.and_then(|r| get(r, "requests")));
        let found = sum(&mut limits, r.and_then(|r| get(r, "limits")));
        if !(found.iter().any(|n| n == "cpu") && found.iter().any(|n| n == "memory")) {
            guaranteed = false;
        }
    }
    if requests.is_empty() && limits.is_empty() {
        return "BestEffort";
    }
    if guaranteed
        && requests.len() == limits.len()
        && requests.iter().all(|(k, v)| limits.get(k) == Some(v))
    {
        return "Guaranteed";
    }
    "Burstable"
}

/// Upstream's pod defaults (applied when a body is decoded), after checking its quantities.
pub fn prepare(info: &ResourceInfo, obj: &mut Value) -> Result<(), ApiError> {
    check_quantities(info, obj.get("spec"))?;
    let Some(spec) = super::common::ensure_object(obj, "spec") else {
        return Ok(());
    };
    defaults::default_pod_spec(spec);
    defaults::default_pod(spec);
    Ok(())
}

/// Defaults and validates a new pod; its status gets the QoS class.
pub fn before_create(info: &ResourceInfo, obj: &mut Value) -> Result<(), ApiError> {
    prepare(info, obj)?;
    let spec = obj.get("spec").cloned().unwrap_or(Value::Null);
    check(info, obj, &validation::validate_pod_create(&spec))?;
    if let Some(status) = super::common::ensure_object(obj, "status") {
        status["qosClass"] = json!(qos_class(&spec));
    }
    Ok(())
}

/// Defaults and validates an update of the pod `old` to `new`.
pub fn before_update(info: &ResourceInfo, old: &Value, new: &mut Value) -> Result<(), ApiError> {
    prepare(info, new)?;
    let mut old = old.clone();
    let _ = prepare(info, &mut old);
    let spec = new.get("spec").cloned().unwrap_or(Value::Null);
    let old_spec = old.get("spec").cloned().unwrap_or(Value::Null);
    let mut errs = meta_update_errors(&old, new);
    errs.extend(validation::validate_pod_spec(&spec, "spec"));
    errs.extend(validation::validate_pod_update(&spec, &old_spec));
    check(info, new, &errs)
}

#[cfg(test)]
mod tests;
