//! The core group (v1). Pods, Events, Services and Endpoints, volumes and claims have files of
//! their own (`pod.rs`, `events.rs`, `service.rs`, `volume.rs`); LimitRange has no printer
//! upstream.

use super::format::{
    containers_and_images, format_labels, int, list, opt_int, opt_text, or_none, text,
};
use super::quantity::quantity;
use super::{
    Column, Ctx, Printer, age_column, containers_column, events, images_column, name_column, pod,
    service, volume,
};
use crate::object;
use k8s_openapi::api::core::v1 as api;
use serde_json::{Value, json};
use std::collections::BTreeMap;

/// The printer of a core kind.
pub(super) fn printer(kind: &str) -> Option<Printer> {
    Some(match kind {
        "Pod" => pod::PRINTER,
        "Event" => events::CORE,
        "Namespace" => Printer::new(namespace_columns, namespace_cells),
        "ConfigMap" => Printer::new(config_map_columns, config_map_cells),
        "Secret" => Printer::new(secret_columns, secret_cells),
        "ServiceAccount" => Printer::new(service_account_columns, service_account_cells),
        "Service" => service::SERVICE,
        "Endpoints" => service::ENDPOINTS,
        "Node" => Printer::new(node_columns, node_cells),
        "PersistentVolume" => volume::PERSISTENT_VOLUME,
        "PersistentVolumeClaim" => volume::PERSISTENT_VOLUME_CLAIM,
        "ReplicationController" => Printer::new(rc_columns, rc_cells),
        "PodTemplate" => Printer::new(pod_template_columns, pod_template_cells),
        "ResourceQuota" => Printer::new(quota_columns, quota_cells),
        _ => return None,
    })
}

fn name(obj: &Value) -> Value {
    json!(object::name(obj).unwrap_or_default())
}

fn namespace_columns() -> Vec<Column> {
    vec![
        name_column(),
        Column::string("Status").text("The status of the namespace"),
        age_column(),
    ]
}

fn namespace_cells(ns: &Value, ctx: &Ctx) -> Vec<Value> {
    // The create strategy makes every namespace Active.
    let phase = opt_text(ns, "status.phase").unwrap_or("Active");
    vec![name(ns), json!(phase), json!(ctx.age(ns))]
}

fn config_map_columns() -> Vec<Column> {
    vec![
        name_column(),
        Column::string("Data").doc::<api::ConfigMap>("data"),
        age_column(),
    ]
}

fn count_keys(v: Option<&Value>) -> usize {
    v.and_then(Value::as_object).map_or(0, |m| m.len())
}

fn config_map_cells(cm: &Value, ctx: &Ctx) -> Vec<Value> {
    let n = count_keys(cm.get("data")) + count_keys(cm.get("binaryData"));
    vec![name(cm), json!(n), json!(ctx.age(cm))]
}

fn secret_columns() -> Vec<Column> {
    vec![
        name_column(),
        Column::string("Type").doc::<api::Secret>("type"),
        Column::string("Data").doc::<api::Secret>("data"),
        age_column(),
    ]
}

fn secret_cells(secret: &Value, ctx: &Ctx) -> Vec<Value> {
    // Defaulting makes secrets Opaque; `stringData` is merged into `data` when decoded.
    let ty = opt_text(secret, "type").unwrap_or("Opaque");
    let mut keys: Vec<&String> = ["data", "stringData"]
        .iter()
        .filter_map(|f| secret.get(*f).and_then(Value::as_object))
        .flat_map(|m| m.keys())
        .collect();
    keys.sort_unstable();
    keys.dedup();
    vec![
        name(secret),
        json!(ty),
        json!(keys.len()),
        json!(ctx.age(secret)),
    ]
}

fn service_account_columns() -> Vec<Column> {
    vec![
        name_column(),
        Column::string("Secrets").doc::<api::ServiceAccount>("secrets"),
        age_column(),
    ]
}

fn service_account_cells(sa: &Value, ctx: &Ctx) -> Vec<Value> {
    vec![
        name(sa),
        json!(list(sa, "secrets").len()),
        json!(ctx.age(sa)),
    ]
}

fn node_columns() -> Vec<Column> {
    vec![
        name_column(),
        Column::string("Status").text("The status of the node"),
        Column::string("Roles").text("The roles of the node"),
        age_column(),
        Column::string("Version").doc::<api::NodeSystemInfo>("kubeletVersion"),
        Column::string("Internal-IP")
            .wide()
            .doc::<api::NodeStatus>("addresses"),
        Column::string("External-IP")
            .wide()
            .doc::<api::NodeStatus>("addresses"),
        Column::string("OS-Image")
            .wide()
            .doc::<api::NodeSystemInfo>("osImage"),
        Column::string("Kernel-Version")
            .wide()
            .doc::<api::NodeSystemInfo>("kernelVersion"),
        Column::string("Container-Runtime")
            .wide()
            .doc::<api::NodeSystemInfo>("containerRuntimeVersion"),
    ]
}

/// The roles of a node: `node-role.kubernetes.io/<role>` label keys and the value of a
/// `kubernetes.io/role` label, sorted.
fn node_roles(node: &Value) -> String {
    let mut roles: Vec<String> = object::labels(node)
        .into_iter()
        .filter_map(|(k, v)| match k.strip_prefix("node-role.kubernetes.io/") {
            Some(role) => Some(role.to_owned()),
            None if k == "kubernetes.io/role" => Some(v),
            None => None,
        })
        .filter(|r| !r.is_empty())
        .collect();
    roles.sort_unstable();
    roles.dedup();
    or_none(roles.join(","))
}

fn node_cells(node: &Value, ctx: &Ctx) -> Vec<Value> {
    let ready = list(node, "status.conditions")
        .iter()
        .rev()
        .find(|c| text(c, "type") == "Ready");
    let mut status = match ready {
        Some(c) if text(c, "status") == "True" => "Ready".to_owned(),
        Some(_) => "NotReady".to_owned(),
        None => "Unknown".to_owned(),
    };
    if object::path(node, "spec.unschedulable").and_then(Value::as_bool) == Some(true) {
        status.push_str(",SchedulingDisabled");
    }
    let address = |ty: &str| {
        list(node, "status.addresses")
            .iter()
            .find(|a| text(a, "type") == ty)
            .map_or("<none>", |a| text(a, "address"))
            .to_owned()
    };
    let info = |field: &str| {
        opt_text(node, &format!("status.nodeInfo.{field}"))
            .unwrap_or("<unknown>")
            .to_owned()
    };
    vec![
        name(node),
        json!(status),
        json!(node_roles(node)),
        json!(ctx.age(node)),
        json!(text(node, "status.nodeInfo.kubeletVersion")),
        json!(address("InternalIP")),
        json!(address("ExternalIP")),
        json!(info("osImage")),
        json!(info("kernelVersion")),
        json!(info("containerRuntimeVersion")),
    ]
}

/// ReplicationController columns (as ReplicaSet's, with a set-based selector).
fn rc_columns() -> Vec<Column> {
    vec![
        name_column(),
        Column::integer("Desired").doc::<api::ReplicationControllerSpec>("replicas"),
        Column::integer("Current").doc::<api::ReplicationControllerStatus>("replicas"),
        Column::integer("Ready").doc::<api::ReplicationControllerStatus>("readyReplicas"),
        age_column(),
        containers_column(),
        images_column(),
        Column::string("Selector")
            .wide()
            .doc::<api::ReplicationControllerSpec>("selector"),
    ]
}

fn rc_cells(rc: &Value, ctx: &Ctx) -> Vec<Value> {
    let (containers, images) = containers_and_images(object::path(rc, "spec.template.spec"));
    vec![
        name(rc),
        json!(opt_int(rc, "spec.replicas").unwrap_or(1)),
        json!(int(rc, "status.replicas")),
        json!(int(rc, "status.readyReplicas")),
        json!(ctx.age(rc)),
        json!(containers),
        json!(images),
        json!(format_labels(object::path(rc, "spec.selector"))),
    ]
}

fn pod_template_columns() -> Vec<Column> {
    vec![
        name_column(),
        Column::string("Containers").text("Names of each container in the template."),
        Column::string("Images").text("Images referenced by each container in the template."),
        Column::string("Pod Labels").text("The labels for the pod template."),
    ]
}

fn pod_template_cells(pt: &Value, _: &Ctx) -> Vec<Value> {
    let (containers, images) = containers_and_images(object::path(pt, "template.spec"));
    vec![
        name(pt),
        json!(containers),
        json!(images),
        json!(format_labels(object::path(pt, "template.metadata.labels"))),
    ]
}

fn quota_columns() -> Vec<Column> {
    vec![
        name_column(),
        Column::string("Request").text(
            "Request represents a minimum amount of cpu/memory that a container may consume.",
        ),
        Column::string("Limit").text(
            "Limits control the maximum amount of cpu/memory that a container may use independent of contention on the node.",
        ),
        age_column(),
    ]
}

fn quota_cells(quota: &Value, ctx: &Ctx) -> Vec<Value> {
    let hard: BTreeMap<&String, &Value> = object::path(quota, "status.hard")
        .and_then(Value::as_object)
        .map(|m| m.iter().collect())
        .unwrap_or_default();
    let used = object::path(quota, "status.used");
    let (mut requests, mut limits) = (Vec::new(), Vec::new());
    for (resource, hard) in hard {
        let entry = format!(
            "{resource}: {}/{}",
            quantity(used.and_then(|u| u.get(resource.as_str()))),
            quantity(Some(hard))
        );
        if resource
            .split_once('.')
            .is_some_and(|(prefix, _)| prefix == "limits")
        {
            limits.push(entry);
        } else {
            requests.push(entry);
        }
    }
    vec![
        name(quota),
        json!(requests.join(", ")),
        json!(limits.join(", ")),
        json!(ctx.age(quota)),
    ]
}

#[cfg(test)]
mod tests {
    use super::super::testing::*;
    use super::*;
    use skiff_core::registry::lookup;

    fn meta(name: &str) -> Value {
        json!({"name": name, "creationTimestamp": ago(86400 * 3)})
    }

    #[test]
    fn namespaces_config_maps_secrets_service_accounts() {
        check(
            lookup("", "v1", "namespaces").unwrap(),
            &["Name", "Status", "Age"],
            &[
                (
                    json!({"metadata": meta("a"), "status": {"phase": "Terminating"}}),
                    json!(["a", "Terminating", "3d"]),
                ),
                (json!({"metadata": meta("b")}), json!(["b", "Active", "3d"])),
            ],
        );
        check(
            lookup("", "v1", "configmaps").unwrap(),
            &["Name", "Data", "Age"],
            &[(
                json!({"metadata": meta("c"), "data": {"a": "1", "b": "2"}, "binaryData": {"c": "AA=="}}),
                json!(["c", 3, "3d"]),
            )],
        );
        check(
            lookup("", "v1", "secrets").unwrap(),
            &["Name", "Type", "Data", "Age"],
            &[
                (
                    json!({"metadata": meta("s"), "type": "kubernetes.io/tls", "data": {"tls.crt": "", "tls.key": ""}}),
                    json!(["s", "kubernetes.io/tls", 2, "3d"]),
                ),
                (
                    json!({"metadata": meta("t"), "data": {"a": ""}, "stringData": {"a": "x", "b": "y"}}),
                    json!(["t", "Opaque", 2, "3d"]),
                ),
            ],
        );
        check(
            lookup("", "v1", "serviceaccounts").unwrap(),
            &["Name", "Secrets", "Age"],
            &[(
                json!({"metadata": meta("default")}),
                json!(["default", 0, "3d"]),
            )],
        );
    }

    #[test]
    fn nodes() {
        let cols = [
            "Name",
            "Status",
            "Roles",
            "Age",
            "Version",
            "+Internal-IP",
            "+External-IP",
            "+OS-Image",
            "+Kernel-Version",
            "+Container-Runtime",
        ];
        check(
            lookup("", "v1", "nodes").unwrap(),
            &cols,
            &[
                (
                    json!({"metadata": {"name": "n1", "creationTimestamp": ago(86400 * 3),
                        "labels": {"node-role.kubernetes.io/control-plane": "", "node-role.kubernetes.io/etcd": "true",
                                   "kubernetes.io/role": "master", "kubernetes.io/hostname": "n1"}},
                        "spec": {"unschedulable": true},
                        "status": {"conditions": [{"type": "MemoryPressure", "status": "False"}, {"type": "Ready", "status": "True"}],
                                   "addresses": [{"type": "InternalIP", "address": "192.168.1.10"}, {"type": "Hostname", "address": "n1"}],
                                   "nodeInfo": {"kubeletVersion": "v1.33.0", "osImage": "Debian GNU/Linux 12",
                                                "kernelVersion": "6.1.0", "containerRuntimeVersion": "containerd://1.7.0"}}}),
                    json!([
                        "n1",
                        "Ready,SchedulingDisabled",
                        "control-plane,etcd,master",
                        "3d",
                        "v1.33.0",
                        "192.168.1.10",
                        "<none>",
                        "Debian GNU/Linux 12",
                        "6.1.0",
                        "containerd://1.7.0"
                    ]),
                ),
                (
                    json!({"metadata": meta("n2"), "status": {"conditions": [{"type": "Ready", "status": "Unknown"}],
                        "addresses": [{"type": "ExternalIP", "address": "3.3.3.3"}]}}),
                    json!([
                        "n2",
                        "NotReady",
                        "<none>",
                        "3d",
                        "",
                        "<none>",
                        "3.3.3.3",
                        "<unknown>",
                        "<unknown>",
                        "<unknown>"
                    ]),
                ),
                (
                    json!({"metadata": meta("n3")}),
                    json!([
                        "n3",
                        "Unknown",
                        "<none>",
                        "3d",
                        "",
                        "<none>",
                        "<none>",
                        "<unknown>",
                        "<unknown>",
                        "<unknown>"
                    ]),
                ),
            ],
        );
    }

    #[test]
    fn replication_controllers_and_pod_templates() {
        let template = json!({"metadata": {"labels": {"app": "web", "tier": "fe"}},
            "spec": {"containers": [{"name": "nginx", "image": "nginx:1.27"}, {"name": "side", "image": "busybox"}]}});
        check(
            lookup("", "v1", "replicationcontrollers").unwrap(),
            &[
                "Name",
                "Desired",
                "Current",
                "Ready",
                "Age",
                "+Containers",
                "+Images",
                "+Selector",
            ],
            &[(
                json!({"metadata": meta("rc"), "spec": {"replicas": 3, "selector": {"app": "web"}, "template": template},
                    "status": {"replicas": 3, "readyReplicas": 2}}),
                json!([
                    "rc",
                    3,
                    3,
                    2,
                    "3d",
                    "nginx,side",
                    "nginx:1.27,busybox",
                    "app=web"
                ]),
            )],
        );
        check(
            lookup("", "v1", "podtemplates").unwrap(),
            &["Name", "Containers", "Images", "Pod Labels"],
            &[
                (
                    json!({"metadata": meta("pt"), "template": template}),
                    json!(["pt", "nginx,side", "nginx:1.27,busybox", "app=web,tier=fe"]),
                ),
                (
                    json!({"metadata": meta("empty"), "template": {}}),
                    json!(["empty", "", "", "<none>"]),
                ),
            ],
        );
    }

    #[test]
    fn resource_quotas() {
        check(
            lookup("", "v1", "resourcequotas").unwrap(),
            &["Name", "Request", "Limit", "Age"],
            &[
                (
                    json!({"metadata": meta("q"), "status": {
                        "hard": {"pods": "10", "requests.cpu": "1", "requests.memory": "1Gi", "limits.cpu": "2000m", "limits.memory": "2Gi"},
                        "used": {"pods": "1", "requests.cpu": "500m", "requests.memory": "0", "limits.cpu": "1"}}}),
                    json!([
                        "q",
                        "pods: 1/10, requests.cpu: 500m/1, requests.memory: 0/1Gi",
                        "limits.cpu: 1/2, limits.memory: 0/2Gi",
                        "3d"
                    ]),
                ),
                // Before the quota controller filled in the status.
                (
                    json!({"metadata": meta("new"), "spec": {"hard": {"pods": "5"}}}),
                    json!(["new", "", "", "3d"]),
                ),
            ],
        );
    }
}
