//! The apps group: Deployments, ReplicaSets, StatefulSets, DaemonSets, ControllerRevisions.

use super::format::{
    containers_and_images, format_label_selector, format_labels, int, opt_int, selector_string,
    text,
};
use super::{Column, Ctx, Printer, age_column, containers_column, images_column, name_column};
use crate::object;
use k8s_openapi::api::apps::v1 as apps;
use k8s_openapi::api::core::v1::PodSpec;
use serde_json::{Value, json};

/// The printer of an apps kind.
pub(super) fn printer(kind: &str) -> Option<Printer> {
    Some(match kind {
        "Deployment" => Printer::new(deployment_columns, deployment_cells),
        "ReplicaSet" => Printer::new(replica_set_columns, replica_set_cells),
        "StatefulSet" => Printer::new(stateful_set_columns, stateful_set_cells),
        "DaemonSet" => Printer::new(daemon_set_columns, daemon_set_cells),
        "ControllerRevision" => Printer::new(revision_columns, revision_cells),
        _ => return None,
    })
}

fn name(obj: &Value) -> Value {
    json!(object::name(obj).unwrap_or_default())
}

/// `spec.replicas`, which defaulting sets to 1.
fn desired(obj: &Value) -> i64 {
    opt_int(obj, "spec.replicas").unwrap_or(1)
}

/// The containers and images of `spec.template`.
fn template_containers(obj: &Value) -> (Value, Value) {
    let (c, i) = containers_and_images(object::path(obj, "spec.template.spec"));
    (json!(c), json!(i))
}

fn deployment_columns() -> Vec<Column> {
    vec![
        name_column(),
        Column::string("Ready").text("Number of the pod with ready state"),
        Column::string("Up-to-date").doc::<apps::DeploymentStatus>("updatedReplicas"),
        Column::string("Available").doc::<apps::DeploymentStatus>("availableReplicas"),
        age_column(),
        containers_column(),
        images_column(),
        Column::string("Selector")
            .wide()
            .doc::<apps::DeploymentSpec>("selector"),
    ]
}

fn deployment_cells(d: &Value, ctx: &Ctx) -> Vec<Value> {
    let (containers, images) = template_containers(d);
    let selector =
        selector_string(object::path(d, "spec.selector")).unwrap_or_else(|| "<invalid>".into());
    vec![
        name(d),
        json!(format!("{}/{}", int(d, "status.readyReplicas"), desired(d))),
        json!(int(d, "status.updatedReplicas")),
        json!(int(d, "status.availableReplicas")),
        json!(ctx.age(d)),
        containers,
        images,
        json!(selector),
    ]
}

fn replica_set_columns() -> Vec<Column> {
    vec![
        name_column(),
        Column::integer("Desired").doc::<apps::ReplicaSetSpec>("replicas"),
        Column::integer("Current").doc::<apps::ReplicaSetStatus>("replicas"),
        Column::integer("Ready").doc::<apps::ReplicaSetStatus>("readyReplicas"),
        age_column(),
        containers_column(),
        images_column(),
        Column::string("Selector")
            .wide()
            .doc::<apps::ReplicaSetSpec>("selector"),
    ]
}

fn replica_set_cells(rs: &Value, ctx: &Ctx) -> Vec<Value> {
    let (containers, images) = template_containers(rs);
    vec![
        name(rs),
        json!(desired(rs)),
        json!(int(rs, "status.replicas")),
        json!(int(rs, "status.readyReplicas")),
        json!(ctx.age(rs)),
        containers,
        images,
        json!(format_label_selector(object::path(rs, "spec.selector"))),
    ]
}

fn stateful_set_columns() -> Vec<Column> {
    vec![
        name_column(),
        Column::string("Ready").text("Number of the pod with ready state"),
        age_column(),
        containers_column(),
        images_column(),
    ]
}

fn stateful_set_cells(ss: &Value, ctx: &Ctx) -> Vec<Value> {
    let (containers, images) = template_containers(ss);
    vec![
        name(ss),
        json!(format!(
            "{}/{}",
            int(ss, "status.readyReplicas"),
            desired(ss)
        )),
        json!(ctx.age(ss)),
        containers,
        images,
    ]
}

fn daemon_set_columns() -> Vec<Column> {
    vec![
        name_column(),
        Column::integer("Desired").doc::<apps::DaemonSetStatus>("desiredNumberScheduled"),
        Column::integer("Current").doc::<apps::DaemonSetStatus>("currentNumberScheduled"),
        Column::integer("Ready").doc::<apps::DaemonSetStatus>("numberReady"),
        Column::integer("Up-to-date").doc::<apps::DaemonSetStatus>("updatedNumberScheduled"),
        Column::integer("Available").doc::<apps::DaemonSetStatus>("numberAvailable"),
        Column::string("Node Selector").doc::<PodSpec>("nodeSelector"),
        age_column(),
        containers_column(),
        images_column(),
        Column::string("Selector")
            .wide()
            .doc::<apps::DaemonSetSpec>("selector"),
    ]
}

fn daemon_set_cells(ds: &Value, ctx: &Ctx) -> Vec<Value> {
    let (containers, images) = template_containers(ds);
    vec![
        name(ds),
        json!(int(ds, "status.desiredNumberScheduled")),
        json!(int(ds, "status.currentNumberScheduled")),
        json!(int(ds, "status.numberReady")),
        json!(int(ds, "status.updatedNumberScheduled")),
        json!(int(ds, "status.numberAvailable")),
        json!(format_labels(object::path(
            ds,
            "spec.template.spec.nodeSelector"
        ))),
        json!(ctx.age(ds)),
        containers,
        images,
        json!(format_label_selector(object::path(ds, "spec.selector"))),
    ]
}

fn revision_columns() -> Vec<Column> {
    vec![
        name_column(),
        Column::string("Controller").text("Controller of the object"),
        Column::string("Revision").doc::<apps::ControllerRevision>("revision"),
        age_column(),
    ]
}

/// The controlling owner as `kind.group/name` in lower case (`statefulset.apps/web`), or
/// `<none>`.
fn controller_of(obj: &Value) -> String {
    let owners = object::meta(obj)
        .get("ownerReferences")
        .and_then(Value::as_array)
        .map(Vec::as_slice)
        .unwrap_or(&[]);
    let Some(owner) = owners
        .iter()
        .find(|o| o.get("controller").and_then(Value::as_bool) == Some(true))
    else {
        return "<none>".into();
    };
    let group = text(owner, "apiVersion")
        .rsplit_once('/')
        .map_or("", |(g, _)| g);
    let kind = text(owner, "kind");
    let group_kind = match (kind, group) {
        ("", "") => return text(owner, "name").to_owned(),
        (k, "") => k.to_owned(),
        (k, g) => format!("{k}.{g}"),
    };
    format!("{}/{}", group_kind.to_lowercase(), text(owner, "name"))
}

fn revision_cells(cr: &Value, ctx: &Ctx) -> Vec<Value> {
    vec![
        name(cr),
        json!(controller_of(cr)),
        json!(int(cr, "revision")),
        json!(ctx.age(cr)),
    ]
}

#[cfg(test)]
mod tests {
    use super::super::testing::*;
    use super::*;
    use skiff_core::registry::lookup;

    fn template() -> Value {
        json!({"metadata": {"labels": {"app": "web"}}, "spec": {
            "containers": [{"name": "nginx", "image": "nginx:1.27"}, {"name": "log", "image": "fluentbit"}]}})
    }

    fn meta(name: &str) -> Value {
        json!({"name": name, "creationTimestamp": ago(300)})
    }

    #[test]
    fn deployments() {
        check(
            lookup("apps", "v1", "deployments").unwrap(),
            &[
                "Name",
                "Ready",
                "Up-to-date",
                "Available",
                "Age",
                "+Containers",
                "+Images",
                "+Selector",
            ],
            &[
                (
                    json!({"metadata": meta("web"), "spec": {"replicas": 3, "template": template(),
                        "selector": {"matchLabels": {"app": "web"}, "matchExpressions": [{"key": "env", "operator": "NotIn", "values": ["dev"]}]}},
                        "status": {"replicas": 3, "readyReplicas": 2, "updatedReplicas": 3, "availableReplicas": 2}}),
                    json!([
                        "web",
                        "2/3",
                        3,
                        2,
                        "5m",
                        "nginx,log",
                        "nginx:1.27,fluentbit",
                        "app=web,env notin (dev)"
                    ]),
                ),
                (
                    json!({"metadata": meta("new"), "spec": {"template": template(), "selector": {"matchLabels": {"app": "web"}}}}),
                    json!([
                        "new",
                        "0/1",
                        0,
                        0,
                        "5m",
                        "nginx,log",
                        "nginx:1.27,fluentbit",
                        "app=web"
                    ]),
                ),
            ],
        );
    }

    #[test]
    fn replica_sets_and_stateful_sets() {
        check(
            lookup("apps", "v1", "replicasets").unwrap(),
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
                json!({"metadata": meta("web-5d8"), "spec": {"replicas": 2, "template": template(),
                    "selector": {"matchLabels": {"app": "web", "pod-template-hash": "5d8"}}},
                    "status": {"replicas": 2, "readyReplicas": 1}}),
                json!([
                    "web-5d8",
                    2,
                    2,
                    1,
                    "5m",
                    "nginx,log",
                    "nginx:1.27,fluentbit",
                    "app=web,pod-template-hash=5d8"
                ]),
            )],
        );
        check(
            lookup("apps", "v1", "statefulsets").unwrap(),
            &["Name", "Ready", "Age", "+Containers", "+Images"],
            &[(
                json!({"metadata": meta("db"), "spec": {"replicas": 3, "template": template()}, "status": {"readyReplicas": 3}}),
                json!(["db", "3/3", "5m", "nginx,log", "nginx:1.27,fluentbit"]),
            )],
        );
    }

    #[test]
    fn daemon_sets() {
        let mut t = template();
        t["spec"]["nodeSelector"] = json!({"kubernetes.io/os": "linux"});
        check(
            lookup("apps", "v1", "daemonsets").unwrap(),
            &[
                "Name",
                "Desired",
                "Current",
                "Ready",
                "Up-to-date",
                "Available",
                "Node Selector",
                "Age",
                "+Containers",
                "+Images",
                "+Selector",
            ],
            &[
                (
                    json!({"metadata": meta("agent"), "spec": {"template": t, "selector": {"matchLabels": {"app": "web"}}},
                        "status": {"desiredNumberScheduled": 3, "currentNumberScheduled": 3, "numberReady": 2,
                                   "updatedNumberScheduled": 3, "numberAvailable": 2}}),
                    json!([
                        "agent",
                        3,
                        3,
                        2,
                        3,
                        2,
                        "kubernetes.io/os=linux",
                        "5m",
                        "nginx,log",
                        "nginx:1.27,fluentbit",
                        "app=web"
                    ]),
                ),
                (
                    json!({"metadata": meta("new"), "spec": {"template": template()}}),
                    json!([
                        "new",
                        0,
                        0,
                        0,
                        0,
                        0,
                        "<none>",
                        "5m",
                        "nginx,log",
                        "nginx:1.27,fluentbit",
                        "<none>"
                    ]),
                ),
            ],
        );
    }

    #[test]
    fn controller_revisions() {
        check(
            lookup("apps", "v1", "controllerrevisions").unwrap(),
            &["Name", "Controller", "Revision", "Age"],
            &[
                (
                    json!({"metadata": {"name": "web-7c9", "creationTimestamp": ago(300), "ownerReferences": [
                        {"apiVersion": "apps/v1", "kind": "StatefulSet", "name": "other", "controller": false},
                        {"apiVersion": "apps/v1", "kind": "StatefulSet", "name": "web", "controller": true}]},
                        "revision": 2}),
                    json!(["web-7c9", "statefulset.apps/web", 2, "5m"]),
                ),
                (
                    json!({"metadata": {"name": "x", "creationTimestamp": ago(300), "ownerReferences": [
                        {"apiVersion": "v1", "kind": "Pod", "name": "p", "controller": true}]}, "revision": 1}),
                    json!(["x", "pod/p", 1, "5m"]),
                ),
                (
                    json!({"metadata": meta("orphan"), "revision": 1}),
                    json!(["orphan", "<none>", 1, "5m"]),
                ),
            ],
        );
    }
}
