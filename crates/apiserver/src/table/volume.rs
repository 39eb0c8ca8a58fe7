//! PersistentVolumes and PersistentVolumeClaims (core/v1).

use super::format::{deleting, list, opt_text, text};
use super::quantity::quantity;
use super::{Column, Ctx, Printer, age_column, name_column};
use crate::object;
use k8s_openapi::api::core::v1 as api;
use serde_json::{Value, json};

/// The PersistentVolume printer.
pub(super) const PERSISTENT_VOLUME: Printer = Printer::new(pv_columns, pv_cells);

/// The PersistentVolumeClaim printer.
pub(super) const PERSISTENT_VOLUME_CLAIM: Printer = Printer::new(pvc_columns, pvc_cells);

fn name(obj: &Value) -> Value {
    json!(object::name(obj).unwrap_or_default())
}

fn access_modes(modes: &[Value]) -> String {
    [
        ("ReadWriteOnce", "RWO"),
        ("ReadOnlyMany", "ROX"),
        ("ReadWriteMany", "RWX"),
        ("ReadWriteOncePod", "RWOP"),
    ]
    .iter()
    .filter(|(mode, _)| modes.iter().any(|m| m.as_str() == Some(mode)))
    .map(|(_, short)| *short)
    .collect::<Vec<_>>()
    .join(",")
}

/// The storage class of a volume or claim: the beta annotation, else `spec.storageClassName`.
fn storage_class(obj: &Value) -> String {
    object::string_map(object::meta(obj).get("annotations"))
        .remove("volume.beta.kubernetes.io/storage-class")
        .unwrap_or_else(|| text(obj, "spec.storageClassName").to_owned())
}

fn pv_columns() -> Vec<Column> {
    vec![
        name_column(),
        Column::string("Capacity").doc::<api::PersistentVolumeSpec>("capacity"),
        Column::string("Access Modes").doc::<api::PersistentVolumeSpec>("accessModes"),
        Column::string("Reclaim Policy")
            .doc::<api::PersistentVolumeSpec>("persistentVolumeReclaimPolicy"),
        Column::string("Status").doc::<api::PersistentVolumeStatus>("phase"),
        Column::string("Claim").doc::<api::PersistentVolumeSpec>("claimRef"),
        Column::string("StorageClass").text("StorageClass of the pv"),
        Column::string("VolumeAttributesClass").text("VolumeAttributesClass of the pv"),
        Column::string("Reason").doc::<api::PersistentVolumeStatus>("reason"),
        age_column(),
        Column::string("VolumeMode")
            .wide()
            .doc::<api::PersistentVolumeSpec>("volumeMode"),
    ]
}

fn pv_cells(pv: &Value, ctx: &Ctx) -> Vec<Value> {
    let claim = match object::path(pv, "spec.claimRef").filter(|c| c.is_object()) {
        Some(c) => format!("{}/{}", text(c, "namespace"), text(c, "name")),
        None => String::new(),
    };
    // Defaulting: Pending, Retain, Filesystem.
    let phase = if deleting(pv) {
        "Terminating"
    } else {
        opt_text(pv, "status.phase").unwrap_or("Pending")
    };
    vec![
        name(pv),
        json!(quantity(object::path(pv, "spec.capacity.storage"))),
        json!(access_modes(list(pv, "spec.accessModes"))),
        json!(opt_text(pv, "spec.persistentVolumeReclaimPolicy").unwrap_or("Retain")),
        json!(phase),
        json!(claim),
        json!(storage_class(pv)),
        json!(opt_text(pv, "spec.volumeAttributesClassName").unwrap_or("<unset>")),
        json!(text(pv, "status.reason")),
        json!(ctx.age(pv)),
        json!(opt_text(pv, "spec.volumeMode").unwrap_or("Filesystem")),
    ]
}

fn pvc_columns() -> Vec<Column> {
    vec![
        name_column(),
        Column::string("Status").doc::<api::PersistentVolumeClaimStatus>("phase"),
        Column::string("Volume").doc::<api::PersistentVolumeClaimSpec>("volumeName"),
        Column::string("Capacity").doc::<api::PersistentVolumeClaimStatus>("capacity"),
        Column::string("Access Modes").doc::<api::PersistentVolumeClaimStatus>("accessModes"),
        Column::string("StorageClass").text("StorageClass of the pvc"),
        Column::string("VolumeAttributesClass").text("VolumeAttributesClass of the pvc"),
        age_column(),
        Column::string("VolumeMode")
            .wide()
            .doc::<api::PersistentVolumeClaimSpec>("volumeMode"),
    ]
}

fn pvc_cells(pvc: &Value, ctx: &Ctx) -> Vec<Value> {
    let phase = if deleting(pvc) {
        "Terminating"
    } else {
        opt_text(pvc, "status.phase").unwrap_or("Pending")
    };
    let volume = text(pvc, "spec.volumeName");
    // Capacity and access modes only once bound to a volume.
    let (capacity, modes) = if volume.is_empty() {
        (String::new(), String::new())
    } else {
        (
            quantity(object::path(pvc, "status.capacity.storage")),
            access_modes(list(pvc, "status.accessModes")),
        )
    };
    vec![
        name(pvc),
        json!(phase),
        json!(volume),
        json!(capacity),
        json!(modes),
        json!(storage_class(pvc)),
        json!(opt_text(pvc, "spec.volumeAttributesClassName").unwrap_or("<unset>")),
        json!(ctx.age(pvc)),
        json!(opt_text(pvc, "spec.volumeMode").unwrap_or("Filesystem")),
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
    fn volumes_and_claims() {
        check(
            lookup("", "v1", "persistentvolumes").unwrap(),
            &[
                "Name",
                "Capacity",
                "Access Modes",
                "Reclaim Policy",
                "Status",
                "Claim",
                "StorageClass",
                "VolumeAttributesClass",
                "Reason",
                "Age",
                "+VolumeMode",
            ],
            &[
                (
                    json!({"metadata": meta("pv1"), "spec": {"capacity": {"storage": "1.5Gi"},
                        "accessModes": ["ReadWriteMany", "ReadWriteOnce"], "persistentVolumeReclaimPolicy": "Delete",
                        "claimRef": {"namespace": "default", "name": "data"}, "storageClassName": "fast",
                        "volumeMode": "Block"}, "status": {"phase": "Bound"}}),
                    json!([
                        "pv1",
                        "1536Mi",
                        "RWO,RWX",
                        "Delete",
                        "Bound",
                        "default/data",
                        "fast",
                        "<unset>",
                        "",
                        "3d",
                        "Block"
                    ]),
                ),
                (
                    json!({"metadata": {"name": "pv2", "creationTimestamp": ago(86400 * 3), "deletionTimestamp": ago(1),
                        "annotations": {"volume.beta.kubernetes.io/storage-class": "old"}},
                        "spec": {"capacity": {"storage": "10Gi"}, "accessModes": ["ReadWriteOncePod"],
                                 "volumeAttributesClassName": "gold"},
                        "status": {"phase": "Failed", "reason": "Recycler failed"}}),
                    json!([
                        "pv2",
                        "10Gi",
                        "RWOP",
                        "Retain",
                        "Terminating",
                        "",
                        "old",
                        "gold",
                        "Recycler failed",
                        "3d",
                        "Filesystem"
                    ]),
                ),
            ],
        );
        check(
            lookup("", "v1", "persistentvolumeclaims").unwrap(),
            &[
                "Name",
                "Status",
                "Volume",
                "Capacity",
                "Access Modes",
                "StorageClass",
                "VolumeAttributesClass",
                "Age",
                "+VolumeMode",
            ],
            &[
                (
                    json!({"metadata": meta("data"), "spec": {"volumeName": "pv1", "storageClassName": "fast",
                        "resources": {"requests": {"storage": "1Gi"}}},
                        "status": {"phase": "Bound", "capacity": {"storage": "2Gi"}, "accessModes": ["ReadWriteOnce"]}}),
                    json!([
                        "data",
                        "Bound",
                        "pv1",
                        "2Gi",
                        "RWO",
                        "fast",
                        "<unset>",
                        "3d",
                        "Filesystem"
                    ]),
                ),
                (
                    json!({"metadata": meta("new"), "spec": {"resources": {"requests": {"storage": "1Gi"}}, "volumeMode": "Block"}}),
                    json!(["new", "Pending", "", "", "", "", "<unset>", "3d", "Block"]),
                ),
            ],
        );
    }
}
