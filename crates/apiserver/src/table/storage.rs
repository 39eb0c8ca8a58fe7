//! The storage.k8s.io group: StorageClasses, CSIDrivers, CSINodes, VolumeAttachments.

use super::format::{flag, list, opt_text, text};
use super::{Column, Ctx, Printer, age_column, name_column};
use crate::object;
use k8s_openapi::api::storage::v1 as storage;
use serde_json::{Value, json};

/// The printer of a storage.k8s.io kind.
pub(super) fn printer(kind: &str) -> Option<Printer> {
    Some(match kind {
        "StorageClass" => Printer::new(storage_class_columns, storage_class_cells),
        "CSIDriver" => Printer::new(csi_driver_columns, csi_driver_cells),
        "CSINode" => Printer::new(csi_node_columns, csi_node_cells),
        "VolumeAttachment" => Printer::new(attachment_columns, attachment_cells),
        _ => return None,
    })
}

fn name(obj: &Value) -> &str {
    object::name(obj).unwrap_or_default()
}

fn storage_class_columns() -> Vec<Column> {
    vec![
        name_column(),
        Column::string("Provisioner").doc::<storage::StorageClass>("provisioner"),
        Column::string("ReclaimPolicy").doc::<storage::StorageClass>("reclaimPolicy"),
        Column::string("VolumeBindingMode").doc::<storage::StorageClass>("volumeBindingMode"),
        Column::string("AllowVolumeExpansion").doc::<storage::StorageClass>("allowVolumeExpansion"),
        age_column(),
    ]
}

/// Whether a class is the default one (the GA or the beta annotation says `true`).
fn is_default_class(sc: &Value) -> bool {
    let annotations = object::string_map(object::meta(sc).get("annotations"));
    [
        "storageclass.kubernetes.io/is-default-class",
        "storageclass.beta.kubernetes.io/is-default-class",
    ]
    .iter()
    .any(|a| annotations.get(*a).map(String::as_str) == Some("true"))
}

fn storage_class_cells(sc: &Value, ctx: &Ctx) -> Vec<Value> {
    let mut shown = name(sc).to_owned();
    if is_default_class(sc) {
        shown.push_str(" (default)");
    }
    vec![
        json!(shown),
        json!(text(sc, "provisioner")),
        json!(opt_text(sc, "reclaimPolicy").unwrap_or("Delete")),
        json!(opt_text(sc, "volumeBindingMode").unwrap_or("Immediate")),
        json!(flag(sc, "allowVolumeExpansion").unwrap_or(false)),
        json!(ctx.age(sc)),
    ]
}

fn csi_driver_columns() -> Vec<Column> {
    vec![
        name_column(),
        Column::boolean("AttachRequired").doc::<storage::CSIDriverSpec>("attachRequired"),
        Column::boolean("PodInfoOnMount").doc::<storage::CSIDriverSpec>("podInfoOnMount"),
        Column::boolean("StorageCapacity").doc::<storage::CSIDriverSpec>("storageCapacity"),
        Column::string("TokenRequests").doc::<storage::CSIDriverSpec>("tokenRequests"),
        Column::boolean("RequiresRepublish").doc::<storage::CSIDriverSpec>("requiresRepublish"),
        Column::string("Modes").doc::<storage::CSIDriverSpec>("volumeLifecycleModes"),
        age_column(),
    ]
}

fn csi_driver_cells(driver: &Value, ctx: &Ctx) -> Vec<Value> {
    let token_requests = match object::path(driver, "spec.tokenRequests") {
        Some(Value::Array(requests)) => requests
            .iter()
            .map(|r| text(r, "audience"))
            .collect::<Vec<_>>()
            .join(","),
        _ => "<unset>".into(),
    };
    // Defaulting: attach required, persistent volumes only.
    let modes: Vec<&str> = list(driver, "spec.volumeLifecycleModes")
        .iter()
        .filter_map(Value::as_str)
        .collect();
    let modes = if modes.is_empty() {
        "Persistent".to_owned()
    } else {
        modes.join(",")
    };
    vec![
        json!(name(driver)),
        json!(flag(driver, "spec.attachRequired").unwrap_or(true)),
        json!(flag(driver, "spec.podInfoOnMount").unwrap_or(false)),
        json!(flag(driver, "spec.storageCapacity").unwrap_or(false)),
        json!(token_requests),
        json!(flag(driver, "spec.requiresRepublish").unwrap_or(false)),
        json!(modes),
        json!(ctx.age(driver)),
    ]
}

fn csi_node_columns() -> Vec<Column> {
    vec![
        name_column(),
        Column::integer("Drivers")
            .text("Drivers indicates the number of CSI drivers registered on the node"),
        age_column(),
    ]
}

fn csi_node_cells(node: &Value, ctx: &Ctx) -> Vec<Value> {
    vec![
        json!(name(node)),
        json!(list(node, "spec.drivers").len()),
        json!(ctx.age(node)),
    ]
}

fn attachment_columns() -> Vec<Column> {
    vec![
        name_column(),
        Column::string("Attacher")
            .name_format()
            .doc::<storage::VolumeAttachmentSpec>("attacher"),
        Column::string("PV").doc::<storage::VolumeAttachmentSource>("persistentVolumeName"),
        Column::string("Node").doc::<storage::VolumeAttachmentSpec>("nodeName"),
        Column::boolean("Attached").doc::<storage::VolumeAttachmentStatus>("attached"),
        age_column(),
    ]
}

fn attachment_cells(va: &Value, ctx: &Ctx) -> Vec<Value> {
    vec![
        json!(name(va)),
        json!(text(va, "spec.attacher")),
        json!(text(va, "spec.source.persistentVolumeName")),
        json!(text(va, "spec.nodeName")),
        json!(flag(va, "status.attached").unwrap_or(false)),
        json!(ctx.age(va)),
    ]
}

#[cfg(test)]
mod tests {
    use super::super::testing::*;
    use super::*;
    use skiff_core::registry::lookup;

    fn meta(name: &str) -> Value {
        json!({"name": name, "creationTimestamp": ago(3 * 3600 + 60 * 7)})
    }

    #[test]
    fn storage_classes() {
        check(
            lookup("storage.k8s.io", "v1", "storageclasses").unwrap(),
            &[
                "Name",
                "Provisioner",
                "ReclaimPolicy",
                "VolumeBindingMode",
                "AllowVolumeExpansion",
                "Age",
            ],
            &[
                (
                    json!({"metadata": {"name": "local-path", "creationTimestamp": ago(3 * 3600 + 60 * 7),
                        "annotations": {"storageclass.kubernetes.io/is-default-class": "true"}},
                        "provisioner": "rancher.io/local-path", "reclaimPolicy": "Delete",
                        "volumeBindingMode": "WaitForFirstConsumer"}),
                    json!([
                        "local-path (default)",
                        "rancher.io/local-path",
                        "Delete",
                        "WaitForFirstConsumer",
                        false,
                        "3h7m"
                    ]),
                ),
                (
                    json!({"metadata": {"name": "fast", "creationTimestamp": ago(3 * 3600 + 60 * 7),
                        "annotations": {"storageclass.kubernetes.io/is-default-class": "false"}},
                        "provisioner": "ebs.csi.aws.com", "reclaimPolicy": "Retain", "allowVolumeExpansion": true}),
                    json!([
                        "fast",
                        "ebs.csi.aws.com",
                        "Retain",
                        "Immediate",
                        true,
                        "3h7m"
                    ]),
                ),
                (
                    json!({"metadata": {"name": "old", "creationTimestamp": ago(3 * 3600 + 60 * 7),
                        "annotations": {"storageclass.beta.kubernetes.io/is-default-class": "true"}},
                        "provisioner": "p"}),
                    json!(["old (default)", "p", "Delete", "Immediate", false, "3h7m"]),
                ),
            ],
        );
    }

    #[test]
    fn csi_drivers_nodes_and_attachments() {
        check(
            lookup("storage.k8s.io", "v1", "csidrivers").unwrap(),
            &[
                "Name",
                "AttachRequired",
                "PodInfoOnMount",
                "StorageCapacity",
                "TokenRequests",
                "RequiresRepublish",
                "Modes",
                "Age",
            ],
            &[
                (
                    json!({"metadata": meta("csi.example.com"), "spec": {"attachRequired": false, "podInfoOnMount": true,
                        "tokenRequests": [{"audience": "vault"}, {"audience": "gcp"}], "requiresRepublish": true,
                        "volumeLifecycleModes": ["Persistent", "Ephemeral"]}}),
                    json!([
                        "csi.example.com",
                        false,
                        true,
                        false,
                        "vault,gcp",
                        true,
                        "Persistent,Ephemeral",
                        "3h7m"
                    ]),
                ),
                (
                    json!({"metadata": meta("plain"), "spec": {}}),
                    json!([
                        "plain",
                        true,
                        false,
                        false,
                        "<unset>",
                        false,
                        "Persistent",
                        "3h7m"
                    ]),
                ),
            ],
        );
        check(
            lookup("storage.k8s.io", "v1", "csinodes").unwrap(),
            &["Name", "Drivers", "Age"],
            &[(
                json!({"metadata": meta("n1"), "spec": {"drivers": [{"name": "a", "nodeID": "n1"}, {"name": "b", "nodeID": "n1"}]}}),
                json!(["n1", 2, "3h7m"]),
            )],
        );
        check(
            lookup("storage.k8s.io", "v1", "volumeattachments").unwrap(),
            &["Name", "Attacher", "PV", "Node", "Attached", "Age"],
            &[
                (
                    json!({"metadata": meta("csi-123"), "spec": {"attacher": "csi.example.com",
                        "source": {"persistentVolumeName": "pv1"}, "nodeName": "n1"}, "status": {"attached": true}}),
                    json!(["csi-123", "csi.example.com", "pv1", "n1", true, "3h7m"]),
                ),
                (
                    json!({"metadata": meta("inline"), "spec": {"attacher": "a", "source": {"inlineVolumeSpec": {}}, "nodeName": "n2"}}),
                    json!(["inline", "a", "", "n2", false, "3h7m"]),
                ),
            ],
        );
    }
}
