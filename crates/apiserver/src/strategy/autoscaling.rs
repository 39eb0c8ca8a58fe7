//! The autoscaling HorizontalPodAutoscaler strategy, for v2 and v1 objects: upstream's
//! defaults (`minReplicas: 1`; in v2 a CPU utilization target of 80% when no metric is
//! given, and the default scaling rules filled into a given `behavior`) and
//! `ValidateHorizontalPodAutoscaler(Update)`: replica bounds, the scale target, metric
//! sources and targets, and scaling behavior. A v1 CPU target is checked as the resource
//! metric upstream converts it to.
//!
//! Where upstream prints a quantity with `%#v`, its string is shown here.

use super::checks::{child, container_resource_name, path_segment_errors};
use super::common::{
    check, dns1123_label, get, int_of, list_of, meta_update_errors, set_default, settle_generation,
    str_of,
};
use super::quantity;
use serde_json::{Map, Value, json};
use skiff_core::registry::ResourceInfo;
use skiff_core::status::{ApiError, FieldError};
use std::collections::BTreeSet;

/// Upstream's `MaxPeriodSeconds` for a scaling policy.
pub const MAX_PERIOD_SECONDS: i64 = 1800;
/// Upstream's `MaxStabilizationWindowSeconds`.
pub const MAX_STABILIZATION_WINDOW_SECONDS: i64 = 3600;
/// Upstream's `DefaultCPUUtilization`.
pub const DEFAULT_CPU_UTILIZATION: i64 = 80;
const METRIC_TYPES: &[&str] = &[
    "ContainerResource",
    "External",
    "Object",
    "Pods",
    "Resource",
];

fn default_rules(given: Option<&Value>, defaults: Value) -> Value {
    let mut out: Map<String, Value> = defaults.as_object().cloned().unwrap_or_default();
    if let Some(g) = given.and_then(Value::as_object) {
        for (k, v) in g {
            if !v.is_null() {
                out.insert(k.clone(), v.clone());
            }
        }
    }
    Value::Object(out)
}

/// Upstream's `SetDefaults_HorizontalPodAutoscaler` for v2 (`v2`) or v1.
pub fn default_hpa(obj: &mut Value, v2: bool) {
    let Some(spec) = super::common::ensure_object(obj, "spec") else {
        return;
    };
    set_default(spec, "minReplicas", json!(1));
    if !v2 {
        return;
    }
    if list_of(spec, "metrics").is_empty() {
        spec["metrics"] = json!([{"type": "Resource", "resource": {"name": "cpu",
            "target": {"type": "Utilization", "averageUtilization": DEFAULT_CPU_UTILIZATION}}}]);
    }
    if let Some(behavior) = spec.get_mut("behavior").filter(|b| b.is_object()) {
        let up = default_rules(
            get(behavior, "scaleUp"),
            json!({"stabilizationWindowSeconds": 0, "selectPolicy": "Max", "policies": [
                {"type": "Pods", "value": 4, "periodSeconds": 15},
                {"type": "Percent", "value": 100, "periodSeconds": 15}]}),
        );
        let down = default_rules(
            get(behavior, "scaleDown"),
            json!({"selectPolicy": "Max", "policies": [
                {"type": "Percent", "value": 100, "periodSeconds": 15}]}),
        );
        behavior["scaleUp"] = up;
        behavior["scaleDown"] = down;
    }
}

/// Upstream's `ValidateCrossVersionObjectReference`.
fn object_reference(r: &Value, path: &str, errs: &mut Vec<FieldError>) {
    for field in ["kind", "name"] {
        let v = str_of(r, field);
        if v.is_empty() {
            errs.push(FieldError::required(format!("{path}.{field}"), ""));
        } else {
            for msg in path_segment_errors(v) {
                errs.push(FieldError::invalid(format!("{path}.{field}"), v, msg));
            }
        }
    }
}

fn metric_identifier(m: &Value, path: &str, errs: &mut Vec<FieldError>) {
    let name = str_of(m, "name");
    if name.is_empty() {
        errs.push(FieldError::required(
            format!("{path}.name"),
            "must specify a metric name",
        ));
    } else {
        for msg in path_segment_errors(name) {
            errs.push(FieldError::invalid(format!("{path}.name"), name, msg));
        }
    }
}

fn positive_quantity(v: Option<&Value>, field: String, errs: &mut Vec<FieldError>) {
    let Some(v) = v else {
        return;
    };
    let positive = quantity::from_json(v).is_ok_and(|q| q.is_positive());
    if !positive {
        let shown = quantity::from_json(v).map_or_else(|_| v.to_string(), |q| q.to_string());
        errs.push(FieldError::invalid(field, shown, "must be positive"));
    }
}

/// Upstream's `validateMetricTarget`.
fn metric_target(t: &Value, path: &str, errs: &mut Vec<FieldError>) {
    let kind = str_of(t, "type");
    if kind.is_empty() {
        errs.push(FieldError::required(
            format!("{path}.type"),
            "must specify a metric target type",
        ));
    }
    if !matches!(kind, "Utilization" | "Value" | "AverageValue") {
        errs.push(FieldError::invalid(
            format!("{path}.type"),
            kind,
            "must be either Utilization, Value, or AverageValue",
        ));
    }
    positive_quantity(get(t, "value"), format!("{path}.value"), errs);
    positive_quantity(get(t, "averageValue"), format!("{path}.averageValue"), errs);
    if let Some(u) = int_of(t, "averageUtilization")
        && u < 1
    {
        errs.push(FieldError::invalid(
            format!("{path}.averageUtilization"),
            u,
            "must be greater than 0",
        ));
    }
}

fn resource_source(s: &Value, path: &str, container: bool, errs: &mut Vec<FieldError>) {
    let name = str_of(s, "name");
    if name.is_empty() {
        errs.push(FieldError::required(
            format!("{path}.name"),
            "must specify a resource name",
        ));
    } else {
        container_resource_name(&format!("{path}.name"), name, errs);
    }
    if container {
        let c = str_of(s, "container");
        if c.is_empty() {
            errs.push(FieldError::required(
                format!("{path}.container"),
                "must specify a container",
            ));
        } else {
            dns1123_label(&format!("{path}.container"), c, errs);
        }
    }
    let target = child(s, "target");
    metric_target(&target, &format!("{path}.target"), errs);
    let (util, avg) = (
        get(&target, "averageUtilization"),
        get(&target, "averageValue"),
    );
    if util.is_none() && avg.is_none() {
        errs.push(FieldError::required(
            format!("{path}.target.averageUtilization"),
            "must set either a target raw value or a target utilization",
        ));
    }
    if util.is_some() && avg.is_some() {
        errs.push(FieldError::forbidden(
            format!("{path}.target.averageValue"),
            "may not set both a target raw value and a target utilization",
        ));
    }
}

fn metric_source(kind: &str, s: &Value, path: &str, errs: &mut Vec<FieldError>) {
    match kind {
        "object" => {
            object_reference(
                &child(s, "describedObject"),
                &format!("{path}.describedObject"),
                errs,
            );
            metric_identifier(&child(s, "metric"), &format!("{path}.metric"), errs);
            let target = child(s, "target");
            metric_target(&target, &format!("{path}.target"), errs);
            if get(&target, "value").is_none() && get(&target, "averageValue").is_none() {
                errs.push(FieldError::required(
                    format!("{path}.target.averageValue"),
                    "must set either a target value or averageValue",
                ));
            }
        }
        "external" => {
            metric_identifier(&child(s, "metric"), &format!("{path}.metric"), errs);
            let target = child(s, "target");
            metric_target(&target, &format!("{path}.target"), errs);
            let (value, avg) = (get(&target, "value"), get(&target, "averageValue"));
            if value.is_none() && avg.is_none() {
                errs.push(FieldError::required(
                    format!("{path}.target.averageValue"),
                    "must set either a target value for metric or a per-pod target",
                ));
            }
            if value.is_some() && avg.is_some() {
                errs.push(FieldError::forbidden(
                    format!("{path}.target.value"),
                    "may not set both a target value for metric and a per-pod target",
                ));
            }
        }
        "pods" => {
            metric_identifier(&child(s, "metric"), &format!("{path}.metric"), errs);
            let target = child(s, "target");
            metric_target(&target, &format!("{path}.target"), errs);
            if get(&target, "averageValue").is_none() {
                errs.push(FieldError::required(
                    format!("{path}.target.averageValue"),
                    "must specify a positive target averageValue",
                ));
            }
        }
        "resource" => resource_source(s, path, false, errs),
        _ => resource_source(s, path, true, errs),
    }
}

/// Upstream's `validateMetricSpec`.
fn metric_spec(m: &Value, path: &str, errs: &mut Vec<FieldError>) {
    let kind = str_of(m, "type");
    if kind.is_empty() {
        errs.push(FieldError::required(
            format!("{path}.type"),
            "must specify a metric source type",
        ));
    }
    if !METRIC_TYPES.contains(&kind) {
        errs.push(FieldError::not_supported(
            format!("{path}.type"),
            kind,
            METRIC_TYPES,
        ));
    }
    let mut present = Vec::new();
    for field in [
        "object",
        "external",
        "pods",
        "resource",
        "containerResource",
    ] {
        if let Some(s) = get(m, field) {
            present.push(field);
            if present.len() == 1 {
                metric_source(field, s, &format!("{path}.{field}"), errs);
            }
        }
    }
    let expected = match kind {
        "Object" => "object",
        "Pods" => "pods",
        "Resource" => "resource",
        "External" => "external",
        "ContainerResource" => "containerResource",
        _ => {
            errs.push(FieldError::not_supported(
                format!("{path}.type"),
                kind,
                METRIC_TYPES,
            ));
            ""
        }
    };
    if !expected.is_empty() && get(m, expected).is_none() {
        errs.push(FieldError::required(
            format!("{path}.{expected}"),
            "must populate information for the given metric source",
        ));
    }
    if present.len() != 1 {
        let mut others: Vec<&str> = present.into_iter().filter(|f| *f != expected).collect();
        others.sort();
        for field in others {
            errs.push(FieldError::forbidden(
                format!("{path}.{field}"),
                "must populate the given metric source only",
            ));
        }
    }
}

fn scaling_rules(rules: &Value, path: &str, errs: &mut Vec<FieldError>) {
    if let Some(w) = int_of(rules, "stabilizationWindowSeconds") {
        if w < 0 {
            errs.push(FieldError::invalid(
                format!("{path}.stabilizationWindowSeconds"),
                w,
                "must be greater than or equal to zero",
            ));
        }
        if w > MAX_STABILIZATION_WINDOW_SECONDS {
            errs.push(FieldError::invalid(
                format!("{path}.stabilizationWindowSeconds"),
                w,
                format!("must be less than or equal to {MAX_STABILIZATION_WINDOW_SECONDS}"),
            ));
        }
    }
    if let Some(p) = get(rules, "selectPolicy").and_then(Value::as_str)
        && !matches!(p, "Max" | "Min" | "Disabled")
    {
        errs.push(FieldError::not_supported(
            format!("{path}.selectPolicy"),
            p,
            &["Disabled", "Max", "Min"],
        ));
    }
    let policies = list_of(rules, "policies");
    if policies.is_empty() {
        errs.push(FieldError::required(
            format!("{path}.policies"),
            "must specify at least one Policy",
        ));
    }
    for (i, p) in policies.iter().enumerate() {
        let pp = format!("{path}.policies[{i}]");
        let kind = str_of(p, "type");
        if !matches!(kind, "Pods" | "Percent") {
            errs.push(FieldError::not_supported(
                format!("{pp}.type"),
                kind,
                &["Percent", "Pods"],
            ));
        }
        let value = int_of(p, "value").unwrap_or(0);
        if value <= 0 {
            errs.push(FieldError::invalid(
                format!("{pp}.value"),
                value,
                "must be greater than zero",
            ));
        }
        let period = int_of(p, "periodSeconds").unwrap_or(0);
        if period <= 0 {
            errs.push(FieldError::invalid(
                format!("{pp}.periodSeconds"),
                period,
                "must be greater than zero",
            ));
        }
        if period > MAX_PERIOD_SECONDS {
            errs.push(FieldError::invalid(
                format!("{pp}.periodSeconds"),
                period,
                format!("must be less than or equal to {MAX_PERIOD_SECONDS}"),
            ));
        }
    }
}

/// Upstream's `validateHorizontalPodAutoscalerSpec` for a v2 (`v2`) or v1 object.
pub fn validate_hpa(obj: &Value, v2: bool) -> Vec<FieldError> {
    let mut errs = Vec::new();
    let spec = child(obj, "spec");
    let min = int_of(&spec, "minReplicas");
    if let Some(m) = min
        && m < 1
    {
        errs.push(FieldError::invalid(
            "spec.minReplicas",
            m,
            "must be greater than or equal to 1",
        ));
    }
    let max = int_of(&spec, "maxReplicas").unwrap_or(0);
    if max < 1 {
        errs.push(FieldError::invalid(
            "spec.maxReplicas",
            max,
            "must be greater than 0",
        ));
    }
    if let Some(m) = min
        && max < m
    {
        errs.push(FieldError::invalid(
            "spec.maxReplicas",
            max,
            "must be greater than or equal to `minReplicas`",
        ));
    }
    object_reference(
        &child(&spec, "scaleTargetRef"),
        "spec.scaleTargetRef",
        &mut errs,
    );
    if !v2 {
        // v1's CPU target becomes the first (resource) metric.
        if let Some(u) = int_of(&spec, "targetCPUUtilizationPercentage")
            && u < 1
        {
            errs.push(FieldError::invalid(
                "spec.metrics[0].resource.target.averageUtilization",
                u,
                "must be greater than 0",
            ));
        }
        return errs;
    }
    let metrics = list_of(&spec, "metrics");
    for (i, m) in metrics.iter().enumerate() {
        metric_spec(m, &format!("spec.metrics[{i}]"), &mut errs);
    }
    if min == Some(0) {
        let kinds: BTreeSet<&str> = metrics.iter().map(|m| str_of(m, "type")).collect();
        if !kinds.contains("Object") && !kinds.contains("External") {
            errs.push(FieldError::forbidden(
                "spec.metrics",
                "must specify at least one Object or External metric to support scaling to zero replicas",
            ));
        }
    }
    if let Some(b) = get(&spec, "behavior") {
        for dir in ["scaleUp", "scaleDown"] {
            if let Some(r) = get(b, dir) {
                scaling_rules(r, &format!("spec.behavior.{dir}"), &mut errs);
            }
        }
    }
    errs
}

fn is_v2(info: &ResourceInfo) -> bool {
    info.gvk.version != "v1"
}

/// Defaults and validates a new HorizontalPodAutoscaler.
pub fn before_create(info: &ResourceInfo, obj: &mut Value) -> Result<(), ApiError> {
    default_hpa(obj, is_v2(info));
    check(info, obj, &validate_hpa(obj, is_v2(info)))
}

/// Defaults and validates an update of a HorizontalPodAutoscaler.
pub fn before_update(info: &ResourceInfo, old: &Value, new: &mut Value) -> Result<(), ApiError> {
    default_hpa(new, is_v2(info));
    settle_generation(old, new, false);
    let mut errs = meta_update_errors(old, new);
    errs.extend(validate_hpa(new, is_v2(info)));
    check(info, new, &errs)
}

#[cfg(test)]
mod tests {
    use super::*;
    use skiff_core::registry::lookup;

    fn shown(errs: &[FieldError]) -> Vec<String> {
        errs.iter().map(ToString::to_string).collect()
    }

    #[test]
    fn autoscalers_are_defaulted() {
        let info = lookup("autoscaling", "v2", "horizontalpodautoscalers").unwrap();
        let mut obj = json!({"metadata": {"name": "web", "namespace": "d"}, "spec": {
            "scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": "web"},
            "maxReplicas": 5, "behavior": {"scaleDown": {"stabilizationWindowSeconds": 60}}}});
        before_create(info, &mut obj).unwrap();
        assert_eq!(obj["spec"]["minReplicas"], 1);
        assert_eq!(
            obj["spec"]["metrics"][0]["resource"]["target"]["averageUtilization"],
            80
        );
        assert_eq!(
            obj["spec"]["behavior"]["scaleUp"]["policies"][0]["value"],
            4
        );
        assert_eq!(
            obj["spec"]["behavior"]["scaleDown"]["stabilizationWindowSeconds"],
            60
        );
        assert_eq!(obj["spec"]["behavior"]["scaleDown"]["selectPolicy"], "Max");
        let v1 = lookup("autoscaling", "v1", "horizontalpodautoscalers").unwrap();
        let mut old_style = json!({"metadata": {"name": "web", "namespace": "d"}, "spec": {
            "scaleTargetRef": {"kind": "Deployment", "name": "web"}, "maxReplicas": 3,
            "targetCPUUtilizationPercentage": 50}});
        before_create(v1, &mut old_style).unwrap();
        assert_eq!(old_style["spec"]["minReplicas"], 1);
        assert!(old_style["spec"].get("metrics").is_none());
    }

    #[test]
    fn replica_bounds_and_targets() {
        let obj = json!({"spec": {"minReplicas": 5, "maxReplicas": 2,
            "scaleTargetRef": {"name": "a/b"},
            "metrics": [
                {"type": "Resource", "resource": {"name": "cpu", "target": {"type": "Utilization", "averageUtilization": 0}}},
                {"type": "Pods", "pods": {"metric": {}, "target": {"type": "Value"}}},
                {"type": "Object", "resource": {"name": "memory", "target": {"type": "AverageValue", "averageValue": "1Gi"}}},
            ],
            "behavior": {"scaleUp": {"policies": [{"type": "Pods", "value": 0, "periodSeconds": 2000}]}}}});
        assert_eq!(
            shown(&validate_hpa(&obj, true)),
            vec![
                "spec.maxReplicas: Invalid value: 2: must be greater than or equal to `minReplicas`",
                "spec.scaleTargetRef.kind: Required value",
                "spec.scaleTargetRef.name: Invalid value: \"a/b\": may not contain '/'",
                "spec.metrics[0].resource.target.averageUtilization: Invalid value: 0: must be greater than 0",
                "spec.metrics[1].pods.metric.name: Required value: must specify a metric name",
                "spec.metrics[1].pods.target.averageValue: Required value: must specify a positive target averageValue",
                "spec.metrics[2].object: Required value: must populate information for the given metric source",
                "spec.behavior.scaleUp.policies[0].value: Invalid value: 0: must be greater than zero",
                "spec.behavior.scaleUp.policies[0].periodSeconds: Invalid value: 2000: must be less than or equal to 1800",
            ]
        );
        let v1 = json!({"spec": {"minReplicas": 0, "maxReplicas": 0,
            "scaleTargetRef": {"kind": "Deployment", "name": "web"}, "targetCPUUtilizationPercentage": 0}});
        assert_eq!(
            shown(&validate_hpa(&v1, false)),
            vec![
                "spec.minReplicas: Invalid value: 0: must be greater than or equal to 1",
                "spec.maxReplicas: Invalid value: 0: must be greater than 0",
                "spec.metrics[0].resource.target.averageUtilization: Invalid value: 0: must be greater than 0",
            ]
        );
    }

    #[test]
    fn updates_are_validated_and_track_generation() {
        let info = lookup("autoscaling", "v2", "horizontalpodautoscalers").unwrap();
        let mut old = json!({"metadata": {"name": "web", "namespace": "d", "generation": 1}, "spec": {
            "scaleTargetRef": {"kind": "Deployment", "name": "web"}, "maxReplicas": 5}});
        default_hpa(&mut old, true);
        let mut same = json!({"metadata": {"name": "web", "namespace": "d", "generation": 2}, "spec": {
            "scaleTargetRef": {"kind": "Deployment", "name": "web"}, "maxReplicas": 5}});
        before_update(info, &old, &mut same).unwrap();
        assert_eq!(same["metadata"]["generation"], 1);
        let mut bad = same.clone();
        bad["spec"]["maxReplicas"] = json!(0);
        assert!(before_update(info, &old, &mut bad).is_err());
    }
}
