//! The autoscaling group: HorizontalPodAutoscalers, autoscaling/v2 and v1 objects alike
//! (upstream prints both from the same internal object: v1 objects are printed as their v2
//! form, the metrics their annotations carry included, so v1's CPU target is shown as a `cpu`
//! resource metric).

use super::format::{int, list, opt_int, text};
use super::quantity::{optional_quantity, quantity};
use super::{Column, Ctx, Printer, age_column, name_column};
use crate::object;
use k8s_openapi::api::autoscaling::v2 as autoscaling;
use serde_json::{Value, json};

/// The printer of an autoscaling kind.
pub(super) fn printer(kind: &str) -> Option<Printer> {
    (kind == "HorizontalPodAutoscaler").then_some(Printer::new(columns, cells))
}

fn columns() -> Vec<Column> {
    vec![
        name_column(),
        Column::string("Reference")
            .doc::<autoscaling::HorizontalPodAutoscalerSpec>("scaleTargetRef"),
        Column::string("Targets").doc::<autoscaling::HorizontalPodAutoscalerSpec>("metrics"),
        Column::string("MinPods").doc::<autoscaling::HorizontalPodAutoscalerSpec>("minReplicas"),
        Column::string("MaxPods").doc::<autoscaling::HorizontalPodAutoscalerSpec>("maxReplicas"),
        Column::string("Replicas")
            .doc::<autoscaling::HorizontalPodAutoscalerStatus>("currentReplicas"),
        age_column(),
    ]
}

/// A CPU utilization metric (spec) or its current value (status), as v1 objects carry them.
fn cpu_metric(key: &str, utilization: i64) -> Value {
    json!({"type": "Resource", "resource": {"name": "cpu", key: {"averageUtilization": utilization}}})
}

/// The metric specs and statuses of an HPA of either version. Without any metric, defaulting
/// sets an 80% CPU target.
fn metrics(hpa: &Value) -> (Vec<Value>, Vec<Value>) {
    let mut specs = list(hpa, "spec.metrics").to_vec();
    if specs.is_empty() {
        let cpu = opt_int(hpa, "spec.targetCPUUtilizationPercentage").unwrap_or(80);
        specs.push(cpu_metric("target", cpu));
    }
    let mut statuses = list(hpa, "status.currentMetrics").to_vec();
    if let Some(cpu) = opt_int(hpa, "status.currentCPUUtilizationPercentage") {
        statuses = vec![cpu_metric("current", cpu)];
    }
    (specs, statuses)
}

/// A field of a metric target or current value when it is set.
fn field<'a>(v: Option<&'a Value>, name: &str) -> Option<&'a Value> {
    v.and_then(|v| v.get(name)).filter(|f| !f.is_null())
}

/// One metric as `current/target` (`formatHPAMetrics`).
fn format_metric(spec: &Value, status: Option<&Value>) -> String {
    let ty = text(spec, "type");
    let source = match ty {
        "External" => "external",
        "Object" => "object",
        "Pods" => "pods",
        "Resource" => "resource",
        "ContainerResource" => "containerResource",
        _ => return "<unknown type>".into(),
    };
    let target = object::path(spec, &format!("{source}.target"));
    // The status of the same index, when it reports this kind of metric.
    let current = status
        .and_then(|s| s.get(source))
        .filter(|s| s.is_object())
        .map(|s| s.get("current").unwrap_or(&Value::Null));
    let current_of = |name: &str| match current {
        Some(c) => optional_quantity(c.get(name)),
        None => "<unknown>".into(),
    };
    match ty {
        "External" | "Object" => match field(target, "averageValue") {
            Some(avg) => {
                let cur = field(current, "averageValue")
                    .map_or_else(|| "<unknown>".into(), |v| quantity(Some(v)));
                format!("{cur}/{} (avg)", quantity(Some(avg)))
            }
            None => format!(
                "{}/{}",
                current_of("value"),
                optional_quantity(field(target, "value"))
            ),
        },
        "Pods" => format!(
            "{}/{}",
            current_of("averageValue"),
            optional_quantity(field(target, "averageValue"))
        ),
        _ => {
            let name = text(spec, &format!("{source}.name"));
            match field(target, "averageValue") {
                Some(avg) => format!(
                    "{name}: {}/{}",
                    current_of("averageValue"),
                    quantity(Some(avg))
                ),
                None => {
                    let cur = field(current, "averageUtilization")
                        .and_then(Value::as_i64)
                        .map_or_else(|| "<unknown>".into(), |u| format!("{u}%"));
                    let goal = field(target, "averageUtilization")
                        .and_then(Value::as_i64)
                        .map_or_else(|| "<auto>".into(), |u| format!("{u}%"));
                    format!("{name}: {cur}/{goal}")
                }
            }
        }
    }
}

/// The first two metrics, then ` + N more...`.
fn format_metrics(specs: &[Value], statuses: &[Value]) -> String {
    const MAX: usize = 2;
    if specs.is_empty() {
        return "<none>".into();
    }
    let items: Vec<String> = specs
        .iter()
        .enumerate()
        .map(|(i, s)| format_metric(s, statuses.get(i)))
        .collect();
    let shown = items[..items.len().min(MAX)].join(", ");
    if items.len() > MAX {
        format!("{shown} + {} more...", items.len() - MAX)
    } else {
        shown
    }
}

fn cells(hpa: &Value, ctx: &Ctx) -> Vec<Value> {
    let converted;
    let hpa = if text(hpa, "apiVersion") == "autoscaling/v1" {
        converted = crate::convert::hpa::to_v2(hpa.clone());
        &converted
    } else {
        hpa
    };
    let (specs, statuses) = metrics(hpa);
    let reference = format!(
        "{}/{}",
        text(hpa, "spec.scaleTargetRef.kind"),
        text(hpa, "spec.scaleTargetRef.name")
    );
    // Defaulting sets `minReplicas: 1`.
    let min = opt_int(hpa, "spec.minReplicas").unwrap_or(1);
    vec![
        json!(object::name(hpa).unwrap_or_default()),
        json!(reference),
        json!(format_metrics(&specs, &statuses)),
        json!(min.to_string()),
        json!(int(hpa, "spec.maxReplicas")),
        json!(int(hpa, "status.currentReplicas")),
        json!(ctx.age(hpa)),
    ]
}

#[cfg(test)]
mod tests {
    use super::super::testing::*;
    use super::*;
    use skiff_core::registry::lookup;

    fn hpa(spec: Value, status: Value) -> Value {
        let mut spec = spec;
        spec["scaleTargetRef"] =
            json!({"apiVersion": "apps/v1", "kind": "Deployment", "name": "web"});
        spec["maxReplicas"] = json!(10);
        json!({"metadata": {"name": "web", "creationTimestamp": ago(60)}, "spec": spec, "status": status})
    }

    fn row(targets: &str, min: &str, replicas: i64) -> Value {
        json!(["web", "Deployment/web", targets, min, 10, replicas, "60s"])
    }

    fn mem_target() -> Value {
        resource(
            "memory",
            json!({"type": "AverageValue", "averageValue": "200Mi"}),
        )
    }

    fn cpu_target(u: i64) -> Value {
        resource(
            "cpu",
            json!({"type": "Utilization", "averageUtilization": u}),
        )
    }

    fn resource(name: &str, target: Value) -> Value {
        json!({"type": "Resource", "resource": {"name": name, "target": target}})
    }

    #[test]
    fn horizontal_pod_autoscalers() {
        let cpu50 = resource(
            "cpu",
            json!({"type": "Utilization", "averageUtilization": 50}),
        );
        let mem = resource(
            "memory",
            json!({"type": "AverageValue", "averageValue": "200Mi"}),
        );
        let pods = json!({"type": "Pods", "pods": {"metric": {"name": "rps"}, "target": {"type": "AverageValue", "averageValue": "1k"}}});
        let object = json!({"type": "Object", "object": {"metric": {"name": "hits"},
            "describedObject": {"kind": "Ingress", "name": "main"}, "target": {"type": "Value", "value": "10k"}}});
        let external = json!({"type": "External", "external": {"metric": {"name": "queue"},
            "target": {"type": "AverageValue", "averageValue": "30"}}});
        let cases = vec![
            (
                hpa(
                    json!({"minReplicas": 2, "metrics": [cpu50]}),
                    json!({"currentReplicas": 3, "currentMetrics": [{"type": "Resource",
                        "resource": {"name": "cpu", "current": {"averageUtilization": 20, "averageValue": "100m"}}}]}),
                ),
                row("cpu: 20%/50%", "2", 3),
            ),
            (
                hpa(json!({"minReplicas": 1, "metrics": [cpu50]}), json!({})),
                row("cpu: <unknown>/50%", "1", 0),
            ),
            // Defaulting: an 80% CPU target and one replica at least.
            (hpa(json!({}), json!({})), row("cpu: <unknown>/80%", "1", 0)),
            (
                hpa(
                    json!({"metrics": [mem.clone(), pods.clone()]}),
                    json!({"currentMetrics": [
                    {"type": "Resource", "resource": {"name": "memory", "current": {"averageValue": "100Mi"}}},
                    {"type": "Pods", "pods": {"metric": {"name": "rps"}, "current": {"averageValue": "500"}}}]}),
                ),
                row("memory: 100Mi/200Mi, 500/1k", "1", 0),
            ),
            (
                hpa(json!({"metrics": [object, external, mem, pods]}), json!({})),
                row("<unknown>/10k, <unknown>/30 (avg) + 2 more...", "1", 0),
            ),
            (
                hpa(
                    json!({"metrics": [{"type": "ContainerResource", "containerResource":
                    {"name": "cpu", "container": "app", "target": {"type": "Utilization"}}}]}),
                    json!({}),
                ),
                row("cpu: <unknown>/<auto>", "1", 0),
            ),
        ];
        let cols = [
            "Name",
            "Reference",
            "Targets",
            "MinPods",
            "MaxPods",
            "Replicas",
            "Age",
        ];
        check(
            lookup("autoscaling", "v2", "horizontalpodautoscalers").unwrap(),
            &cols,
            &cases,
        );
        // autoscaling/v1 objects.
        check(
            lookup("autoscaling", "v1", "horizontalpodautoscalers").unwrap(),
            &cols,
            &[
                (
                    hpa(
                        json!({"minReplicas": 1, "targetCPUUtilizationPercentage": 50}),
                        json!({"currentReplicas": 2, "currentCPUUtilizationPercentage": 35}),
                    ),
                    row("cpu: 35%/50%", "1", 2),
                ),
                (
                    hpa(json!({"targetCPUUtilizationPercentage": 70}), json!({})),
                    row("cpu: <unknown>/70%", "1", 0),
                ),
                // The metrics a v1 object carries in its annotations are printed too.
                (
                    crate::convert::hpa::to_v1({
                        let mut v2 = hpa(
                            json!({"minReplicas": 2, "metrics": [mem_target(), cpu_target(60)]}),
                            json!({"currentReplicas": 2, "currentMetrics": [
                                {"type": "Resource", "resource": {"name": "memory", "current": {"averageValue": "50Mi"}}},
                                {"type": "Resource", "resource": {"name": "cpu", "current": {"averageUtilization": 10}}}]}),
                        );
                        v2["apiVersion"] = json!("autoscaling/v2");
                        v2
                    }),
                    row("memory: 50Mi/200Mi, cpu: 10%/60%", "2", 2),
                ),
            ],
        );
    }
}
