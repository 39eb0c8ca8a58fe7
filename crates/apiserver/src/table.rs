//! Server-side printing: objects as `meta.k8s.io/v1` Tables, with upstream's columns for the
//! kinds kubectl shows most and `Name`/`Age` for the rest.

use crate::object;
use serde_json::{Value, json};
use skiff_core::registry::ResourceInfo;

/// What each row carries besides its cells (`includeObject`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum IncludeObject {
    /// Nothing.
    None,
    /// `PartialObjectMetadata` (the default).
    Metadata,
    /// The whole object.
    Object,
}

impl IncludeObject {
    /// Reads the query parameter.
    pub fn parse(v: Option<&str>) -> Self {
        match v {
            Some("None") => IncludeObject::None,
            Some("Object") => IncludeObject::Object,
            _ => IncludeObject::Metadata,
        }
    }
}

/// Upstream's human duration (`5s`, `3m20s`, `4h`, `2d3h`, `1y`).
pub fn human_duration(secs: i64) -> String {
    if secs < -1 {
        return "<invalid>".into();
    }
    if secs < 0 {
        return "0s".into();
    }
    if secs < 120 {
        return format!("{secs}s");
    }
    let minutes = secs / 60;
    if minutes < 10 {
        let s = secs % 60;
        return if s == 0 {
            format!("{minutes}m")
        } else {
            format!("{minutes}m{s}s")
        };
    }
    if minutes < 180 {
        return format!("{minutes}m");
    }
    let hours = secs / 3600;
    if hours < 8 {
        let m = minutes % 60;
        return if m == 0 {
            format!("{hours}h")
        } else {
            format!("{hours}h{m}m")
        };
    }
    if hours < 48 {
        return format!("{hours}h");
    }
    if hours < 24 * 8 {
        let h = hours % 24;
        let d = hours / 24;
        return if h == 0 {
            format!("{d}d")
        } else {
            format!("{d}d{h}h")
        };
    }
    if hours < 24 * 365 * 2 {
        return format!("{}d", hours / 24);
    }
    if hours < 24 * 365 * 8 {
        let days = hours / 24;
        let y = days / 365;
        let d = days % 365;
        return if d == 0 {
            format!("{y}y")
        } else {
            format!("{y}y{d}d")
        };
    }
    format!("{}y", hours / 24 / 365)
}

/// `Age` of an object from its `creationTimestamp` (`<unknown>` without one).
pub fn age(obj: &Value) -> String {
    let Some(ts) = object::meta_str(obj, "creationTimestamp") else {
        return "<unknown>".into();
    };
    match ts.parse::<jiff::Timestamp>() {
        Ok(t) => human_duration(jiff::Timestamp::now().as_second() - t.as_second()),
        Err(_) => "<unknown>".into(),
    }
}

struct Column {
    name: &'static str,
    kind: &'static str,
    priority: i32,
    description: &'static str,
}

const fn col(name: &'static str, priority: i32) -> Column {
    Column {
        name,
        kind: "string",
        priority,
        description: "",
    }
}

const NAME: Column = Column {
    name: "Name",
    kind: "string",
    priority: 0,
    description: "Name must be unique within a namespace. Is required when creating resources, although some resources may allow a client to request the generation of an appropriate name automatically. Name is primarily intended for creation idempotence and configuration definition. Cannot be updated. More info: https://kubernetes.io/docs/concepts/overview/working-with-objects/names#names",
};

fn columns(info: &ResourceInfo) -> Vec<Column> {
    let mut cols = vec![NAME];
    let rest: &[Column] = match (info.gvk.group, info.gvk.kind) {
        ("", "Namespace") => &[col("Status", 0), col("Age", 0)],
        ("", "ConfigMap") => &[col("Data", 0), col("Age", 0)],
        ("", "Secret") => &[col("Type", 0), col("Data", 0), col("Age", 0)],
        ("", "ServiceAccount") => &[col("Secrets", 0), col("Age", 0)],
        ("", "Pod") => &[
            col("Ready", 0),
            col("Status", 0),
            col("Restarts", 0),
            col("Age", 0),
            col("IP", 1),
            col("Node", 1),
            col("Nominated Node", 1),
            col("Readiness Gates", 1),
        ],
        ("", "Service") => &[
            col("Type", 0),
            col("Cluster-IP", 0),
            col("External-IP", 0),
            col("Port(s)", 0),
            col("Age", 0),
            col("Selector", 1),
        ],
        ("", "Node") => &[
            col("Status", 0),
            col("Roles", 0),
            col("Age", 0),
            col("Version", 0),
            col("Internal-IP", 1),
            col("External-IP", 1),
            col("OS-Image", 1),
            col("Kernel-Version", 1),
            col("Container-Runtime", 1),
        ],
        ("apps", "Deployment") => &[
            col("Ready", 0),
            col("Up-to-date", 0),
            col("Available", 0),
            col("Age", 0),
            col("Containers", 1),
            col("Images", 1),
            col("Selector", 1),
        ],
        ("apps", "ReplicaSet") | ("", "ReplicationController") => &[
            col("Desired", 0),
            col("Current", 0),
            col("Ready", 0),
            col("Age", 0),
            col("Containers", 1),
            col("Images", 1),
            col("Selector", 1),
        ],
        _ => &[col("Age", 0)],
    };
    cols.extend(rest.iter().map(|c| Column { ..*c }));
    cols
}

fn int(v: Option<&Value>) -> i64 {
    v.and_then(Value::as_i64).unwrap_or(0)
}

fn len_of(v: Option<&Value>) -> usize {
    match v {
        Some(Value::Object(m)) => m.len(),
        Some(Value::Array(a)) => a.len(),
        _ => 0,
    }
}

fn selector_string(v: Option<&Value>) -> String {
    let map = object::string_map(v);
    if map.is_empty() {
        return "<none>".into();
    }
    map.iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect::<Vec<_>>()
        .join(",")
}

fn containers_and_images(spec: Option<&Value>) -> (String, String) {
    let containers = spec
        .and_then(|s| s.get("containers"))
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    let names: Vec<&str> = containers
        .iter()
        .filter_map(|c| c.get("name").and_then(Value::as_str))
        .collect();
    let images: Vec<&str> = containers
        .iter()
        .filter_map(|c| c.get("image").and_then(Value::as_str))
        .collect();
    (names.join(","), images.join(","))
}

fn cells(info: &ResourceInfo, obj: &Value) -> Vec<Value> {
    let name = json!(object::name(obj).unwrap_or_default());
    let spec = obj.get("spec");
    let status = obj.get("status");
    let mut row = vec![name];
    match (info.gvk.group, info.gvk.kind) {
        ("", "Namespace") => {
            let phase = status
                .and_then(|s| s.get("phase"))
                .and_then(Value::as_str)
                .unwrap_or("");
            row.extend([json!(phase), json!(age(obj))]);
        }
        ("", "ConfigMap") => {
            let n = len_of(obj.get("data")) + len_of(obj.get("binaryData"));
            row.extend([json!(n), json!(age(obj))]);
        }
        ("", "Secret") => {
            let ty = obj.get("type").and_then(Value::as_str).unwrap_or("Opaque");
            let n = len_of(obj.get("data")) + len_of(obj.get("stringData"));
            row.extend([json!(ty), json!(n), json!(age(obj))]);
        }
        ("", "ServiceAccount") => {
            row.extend([json!(len_of(obj.get("secrets"))), json!(age(obj))]);
        }
        ("", "Pod") => row.extend(pod_cells(obj)),
        ("", "Service") => {
            let ty = spec
                .and_then(|s| s.get("type"))
                .and_then(Value::as_str)
                .unwrap_or("ClusterIP");
            let ip = spec
                .and_then(|s| s.get("clusterIP"))
                .and_then(Value::as_str)
                .unwrap_or("<none>");
            let external = service_external_ips(obj);
            let ports = service_ports(spec);
            row.extend([
                json!(ty),
                json!(ip),
                json!(external),
                json!(ports),
                json!(age(obj)),
                json!(selector_string(spec.and_then(|s| s.get("selector")))),
            ]);
        }
        ("", "Node") => row.extend(node_cells(obj)),
        ("apps", "Deployment") => {
            let desired = int(spec.and_then(|s| s.get("replicas")));
            let ready = int(status.and_then(|s| s.get("readyReplicas")));
            let updated = int(status.and_then(|s| s.get("updatedReplicas")));
            let available = int(status.and_then(|s| s.get("availableReplicas")));
            let (c, i) = containers_and_images(
                spec.and_then(|s| s.get("template"))
                    .and_then(|t| t.get("spec")),
            );
            row.extend([
                json!(format!("{ready}/{desired}")),
                json!(updated),
                json!(available),
                json!(age(obj)),
                json!(c),
                json!(i),
                json!(label_selector_string(spec.and_then(|s| s.get("selector")))),
            ]);
        }
        ("apps", "ReplicaSet") | ("", "ReplicationController") => {
            let desired = int(spec.and_then(|s| s.get("replicas")));
            let current = int(status.and_then(|s| s.get("replicas")));
            let ready = int(status.and_then(|s| s.get("readyReplicas")));
            let (c, i) = containers_and_images(
                spec.and_then(|s| s.get("template"))
                    .and_then(|t| t.get("spec")),
            );
            let selector = if info.gvk.kind == "ReplicaSet" {
                label_selector_string(spec.and_then(|s| s.get("selector")))
            } else {
                selector_string(spec.and_then(|s| s.get("selector")))
            };
            row.extend([
                json!(desired),
                json!(current),
                json!(ready),
                json!(age(obj)),
                json!(c),
                json!(i),
                json!(selector),
            ]);
        }
        _ => row.push(json!(age(obj))),
    }
    row
}

fn label_selector_string(sel: Option<&Value>) -> String {
    let Some(sel) = sel else {
        return "<none>".into();
    };
    let mut parts: Vec<String> = object::string_map(sel.get("matchLabels"))
        .iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect();
    for e in sel
        .get("matchExpressions")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        let key = e.get("key").and_then(Value::as_str).unwrap_or("");
        let values: Vec<&str> = e
            .get("values")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .filter_map(Value::as_str)
            .collect();
        match e.get("operator").and_then(Value::as_str).unwrap_or("") {
            "In" => parts.push(format!("{key} in ({})", values.join(","))),
            "NotIn" => parts.push(format!("{key} notin ({})", values.join(","))),
            "Exists" => parts.push(key.to_owned()),
            "DoesNotExist" => parts.push(format!("!{key}")),
            _ => {}
        }
    }
    if parts.is_empty() {
        "<none>".into()
    } else {
        parts.join(",")
    }
}

fn service_external_ips(svc: &Value) -> String {
    let spec = svc.get("spec");
    let mut ips: Vec<String> = spec
        .and_then(|s| s.get("externalIPs"))
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(|v| v.as_str().map(str::to_owned))
        .collect();
    let ty = spec
        .and_then(|s| s.get("type"))
        .and_then(Value::as_str)
        .unwrap_or("ClusterIP");
    match ty {
        "ExternalName" => {
            return spec
                .and_then(|s| s.get("externalName"))
                .and_then(Value::as_str)
                .unwrap_or("<none>")
                .to_owned();
        }
        "LoadBalancer" => {
            let ingress: Vec<String> = object::path(svc, "status.loadBalancer.ingress")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
                .filter_map(|i| {
                    i.get("ip")
                        .or_else(|| i.get("hostname"))
                        .and_then(Value::as_str)
                        .map(str::to_owned)
                })
                .collect();
            if ingress.is_empty() && ips.is_empty() {
                return "<pending>".into();
            }
            ips.extend(ingress);
        }
        _ => {}
    }
    if ips.is_empty() {
        "<none>".into()
    } else {
        ips.join(",")
    }
}

fn service_ports(spec: Option<&Value>) -> String {
    let ports: Vec<String> = spec
        .and_then(|s| s.get("ports"))
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .map(|p| {
            let port = int(p.get("port"));
            let proto = p.get("protocol").and_then(Value::as_str).unwrap_or("TCP");
            match p.get("nodePort").and_then(Value::as_i64) {
                Some(np) if np != 0 => format!("{port}:{np}/{proto}"),
                _ => format!("{port}/{proto}"),
            }
        })
        .collect();
    if ports.is_empty() {
        "<none>".into()
    } else {
        ports.join(",")
    }
}

fn pod_cells(pod: &Value) -> Vec<Value> {
    let status = pod.get("status");
    let spec = pod.get("spec");
    let total = len_of(spec.and_then(|s| s.get("containers")));
    let statuses: Vec<&Value> = status
        .and_then(|s| s.get("containerStatuses"))
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .collect();
    let ready = statuses
        .iter()
        .filter(|c| c.get("ready").and_then(Value::as_bool) == Some(true))
        .count();
    let restarts: i64 = statuses.iter().map(|c| int(c.get("restartCount"))).sum();
    let mut reason = status
        .and_then(|s| s.get("reason"))
        .or_else(|| status.and_then(|s| s.get("phase")))
        .and_then(Value::as_str)
        .unwrap_or("Pending")
        .to_owned();
    for c in &statuses {
        if let Some(r) = object::path(c, "state.waiting.reason").and_then(Value::as_str) {
            reason = r.to_owned();
        } else if let Some(r) = object::path(c, "state.terminated.reason").and_then(Value::as_str) {
            reason = r.to_owned();
        }
    }
    if object::meta(pod).get("deletionTimestamp").is_some() {
        reason = "Terminating".into();
    }
    let ip = status
        .and_then(|s| s.get("podIP"))
        .and_then(Value::as_str)
        .unwrap_or("<none>");
    let node = spec
        .and_then(|s| s.get("nodeName"))
        .and_then(Value::as_str)
        .unwrap_or("<none>");
    let nominated = status
        .and_then(|s| s.get("nominatedNodeName"))
        .and_then(Value::as_str)
        .unwrap_or("<none>");
    vec![
        json!(format!("{ready}/{total}")),
        json!(reason),
        json!(restarts.to_string()),
        json!(age(pod)),
        json!(ip),
        json!(node),
        json!(nominated),
        json!("<none>"),
    ]
}

fn node_cells(node: &Value) -> Vec<Value> {
    let ready = object::path(node, "status.conditions")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .find(|c| c.get("type").and_then(Value::as_str) == Some("Ready"))
        .and_then(|c| c.get("status").and_then(Value::as_str))
        .map(|s| if s == "True" { "Ready" } else { "NotReady" })
        .unwrap_or("Unknown");
    let mut status = ready.to_owned();
    if object::path(node, "spec.unschedulable").and_then(Value::as_bool) == Some(true) {
        status.push_str(",SchedulingDisabled");
    }
    let roles: Vec<String> = object::labels(node)
        .keys()
        .filter_map(|k| {
            k.strip_prefix("node-role.kubernetes.io/")
                .map(str::to_owned)
        })
        .filter(|r| !r.is_empty())
        .collect();
    let info = |k: &str| object::field_value(node, &format!("status.nodeInfo.{k}"));
    let address = |ty: &str| {
        object::path(node, "status.addresses")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .find(|a| a.get("type").and_then(Value::as_str) == Some(ty))
            .and_then(|a| a.get("address").and_then(Value::as_str))
            .unwrap_or("<none>")
            .to_owned()
    };
    vec![
        json!(status),
        json!(if roles.is_empty() {
            "<none>".to_owned()
        } else {
            roles.join(",")
        }),
        json!(age(node)),
        json!(info("kubeletVersion")),
        json!(address("InternalIP")),
        json!(address("ExternalIP")),
        json!(info("osImage")),
        json!(info("kernelVersion")),
        json!(info("containerRuntimeVersion")),
    ]
}

fn row_object(obj: &Value, include: IncludeObject) -> Option<Value> {
    match include {
        IncludeObject::None => None,
        IncludeObject::Object => Some(obj.clone()),
        IncludeObject::Metadata => Some(json!({
            "kind": "PartialObjectMetadata",
            "apiVersion": "meta.k8s.io/v1",
            "metadata": object::meta(obj),
        })),
    }
}

/// A Table of `objects`; `with_columns` false leaves out the column definitions (watch events).
pub fn table(
    info: &ResourceInfo,
    objects: &[Value],
    resource_version: &str,
    cont: Option<&str>,
    include: IncludeObject,
    with_columns: bool,
) -> Value {
    let rows: Vec<Value> = objects
        .iter()
        .map(|o| {
            let mut row = json!({"cells": cells(info, o)});
            if let Some(obj) = row_object(o, include) {
                row["object"] = obj;
            }
            row
        })
        .collect();
    let mut metadata = json!({"resourceVersion": resource_version});
    if let Some(c) = cont {
        metadata["continue"] = json!(c);
    }
    let mut t = json!({
        "kind": "Table",
        "apiVersion": "meta.k8s.io/v1",
        "metadata": metadata,
        "rows": rows,
    });
    if with_columns {
        t["columnDefinitions"] = columns(info)
            .iter()
            .map(|c| {
                let mut d = json!({"name": c.name, "type": c.kind, "format": "", "description": c.description, "priority": c.priority});
                if c.name == "Name" {
                    d["format"] = json!("name");
                }
                d
            })
            .collect();
    }
    t
}

#[cfg(test)]
mod tests {
    use super::*;
    use skiff_core::registry::lookup;

    #[test]
    fn human_durations_match_upstream() {
        for (secs, want) in [
            (-5, "<invalid>"),
            (0, "0s"),
            (119, "119s"),
            (125, "2m5s"),
            (600, "10m"),
            (3 * 3600 + 5 * 60, "3h5m"),
            (10 * 3600, "10h"),
            (50 * 3600, "2d2h"),
            (30 * 86400, "30d"),
            (3 * 365 * 86400 + 86400, "3y1d"),
            (9 * 365 * 86400, "9y"),
        ] {
            assert_eq!(human_duration(secs), want, "{secs}");
        }
    }

    #[test]
    fn pod_tables_have_upstream_columns_and_row_metadata() {
        let pods = lookup("", "v1", "pods").unwrap();
        let pod = json!({
            "metadata": {"name": "p", "namespace": "d", "labels": {"a": "b"}},
            "spec": {"containers": [{"name": "c", "image": "i"}], "nodeName": "n1"},
            "status": {"phase": "Running", "podIP": "10.0.0.5",
                       "containerStatuses": [{"ready": true, "restartCount": 2}]}
        });
        let t = table(pods, &[pod], "9", None, IncludeObject::Metadata, true);
        let names: Vec<&str> = t["columnDefinitions"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| c["name"].as_str().unwrap())
            .collect();
        assert_eq!(&names[..5], &["Name", "Ready", "Status", "Restarts", "Age"]);
        let cells = &t["rows"][0]["cells"];
        assert_eq!(cells[0], "p");
        assert_eq!(cells[1], "1/1");
        assert_eq!(cells[2], "Running");
        assert_eq!(cells[3], "2");
        assert_eq!(cells[5], "10.0.0.5");
        assert_eq!(t["rows"][0]["object"]["kind"], "PartialObjectMetadata");
        assert_eq!(t["rows"][0]["object"]["metadata"]["namespace"], "d");
        assert_eq!(t["metadata"]["resourceVersion"], "9");
        let no_cols = table(pods, &[], "9", None, IncludeObject::None, false);
        assert!(no_cols.get("columnDefinitions").is_none());
    }

    #[test]
    fn service_ports_and_selectors() {
        let svc = lookup("", "v1", "services").unwrap();
        let s = json!({"metadata": {"name": "s"}, "spec": {"type": "NodePort", "clusterIP": "10.43.0.9",
            "ports": [{"port": 80, "nodePort": 30080, "protocol": "TCP"}], "selector": {"app": "x"}}});
        let t = table(svc, &[s], "1", None, IncludeObject::None, true);
        assert_eq!(t["rows"][0]["cells"][4], "80:30080/TCP");
        assert_eq!(t["rows"][0]["cells"][6], "app=x");
    }
}
