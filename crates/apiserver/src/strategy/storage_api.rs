//! The storage.k8s.io/v1 strategies: StorageClass, CSIDriver, CSINode and VolumeAttachment,
//! with upstream's defaults (`pkg/apis/storage/v1/defaults.go`: a class reclaims with
//! `Delete` and binds `Immediate`ly; a CSI driver's flags) and validation
//! (`pkg/apis/storage/validation`), including what may not change: a class's provisioner,
//! parameters, reclaim policy and binding mode, a driver's attach requirement and lifecycle
//! modes, a node's existing driver entries and an attachment's spec.

use super::checks::{child, immutable_value, qualified_name};
use super::common::{
    IMMUTABLE, check, get, int_of, invalid_go, label_name, list_of, meta_update_errors,
    semantic_eq, set_default, str_of,
};
use super::volumes::{csi_driver_name, validate_pv_spec};
use serde_json::{Value, json};
use skiff_core::registry::ResourceInfo;
use skiff_core::status::{ApiError, FieldError};
use skiff_core::validation;
use std::collections::BTreeSet;

const MAX_PARAMETERS: usize = 512;
const MAX_PARAMETER_BYTES: usize = 256 * 1024;
const MAX_ATTACHED_METADATA_BYTES: usize = 256 * 1024;
const MAX_VOLUME_ERROR_BYTES: usize = 1024;
/// The longest CSI node ID upstream accepts.
pub const MAX_NODE_ID: usize = 256;

/// Upstream's `SetDefaults_StorageClass`.
pub fn default_storage_class(obj: &mut Value) {
    set_default(obj, "reclaimPolicy", json!("Delete"));
    set_default(obj, "volumeBindingMode", json!("Immediate"));
}

/// Upstream's `SetDefaults_CSIDriver` (with `SELinuxMountReadWriteOncePod` on, as in 1.33).
pub fn default_csi_driver(obj: &mut Value) {
    if let Some(spec) = super::common::ensure_object(obj, "spec") {
        set_default(spec, "attachRequired", json!(true));
        set_default(spec, "podInfoOnMount", json!(false));
        set_default(spec, "storageCapacity", json!(false));
        set_default(spec, "fsGroupPolicy", json!("ReadWriteOnceWithFSType"));
        if list_of(spec, "volumeLifecycleModes").is_empty() {
            spec["volumeLifecycleModes"] = json!(["Persistent"]);
        }
        set_default(spec, "requiresRepublish", json!(false));
        set_default(spec, "seLinuxMount", json!(false));
    }
}

fn validate_topologies(obj: &Value, errs: &mut Vec<FieldError>) {
    let mut seen: Vec<Vec<(String, BTreeSet<String>)>> = Vec::new();
    for (i, term) in list_of(obj, "allowedTopologies").iter().enumerate() {
        let path = format!("allowedTopologies[{i}]");
        let mut exprs: Vec<(String, BTreeSet<String>)> = Vec::new();
        for (j, req) in list_of(term, "matchLabelExpressions").iter().enumerate() {
            let rp = format!("{path}.matchLabelExpressions[{j}]");
            let values = list_of(req, "values");
            if values.is_empty() {
                errs.push(FieldError::required(
                    format!("{rp}.values"),
                    "must specify as least one value",
                ));
            }
            let mut set = BTreeSet::new();
            for (k, v) in values.iter().enumerate() {
                let v = v.as_str().unwrap_or_default();
                if !set.insert(v.to_owned()) {
                    errs.push(FieldError::duplicate(format!("{rp}.values[{k}]"), v));
                }
            }
            let key = str_of(req, "key");
            label_name(&format!("{rp}.key"), key, errs);
            if exprs.iter().any(|(k, _)| k == key) {
                errs.push(FieldError::duplicate(format!("{rp}.key"), key));
            }
            exprs.push((key.to_owned(), set));
        }
        exprs.sort();
        if seen.contains(&exprs) {
            errs.push(FieldError::duplicate(
                format!("{path}.matchLabelExpressions"),
                "",
            ));
        }
        seen.push(exprs);
    }
}

/// Upstream's `ValidateStorageClass` (metadata aside).
pub fn validate_storage_class(obj: &Value) -> Vec<FieldError> {
    let mut errs = Vec::new();
    let provisioner = str_of(obj, "provisioner");
    if provisioner.is_empty() {
        errs.push(FieldError::required("provisioner", ""));
    } else {
        qualified_name("provisioner", &provisioner.to_lowercase(), &mut errs);
    }
    if let Some(params) = get(obj, "parameters").and_then(Value::as_object) {
        if params.len() > MAX_PARAMETERS {
            errs.push(FieldError::too_long("parameters", MAX_PARAMETERS));
        } else {
            let mut size = 0;
            for (k, v) in params {
                if k.is_empty() {
                    errs.push(FieldError::invalid(
                        "parameters",
                        "",
                        "field can not be empty.",
                    ));
                }
                size += k.len() + v.as_str().map_or(0, str::len);
            }
            if size > MAX_PARAMETER_BYTES {
                errs.push(FieldError::too_long("parameters", MAX_PARAMETER_BYTES));
            }
        }
    }
    let policy = str_of(obj, "reclaimPolicy");
    if !policy.is_empty() && !matches!(policy, "Delete" | "Retain") {
        errs.push(FieldError::not_supported(
            "reclaimPolicy",
            policy,
            &["Delete", "Retain"],
        ));
    }
    match get(obj, "volumeBindingMode").and_then(Value::as_str) {
        None => errs.push(FieldError::required("volumeBindingMode", "")),
        Some("Immediate" | "WaitForFirstConsumer") => {}
        Some(mode) => errs.push(FieldError::not_supported(
            "volumeBindingMode",
            mode,
            &["Immediate", "WaitForFirstConsumer"],
        )),
    }
    validate_topologies(obj, &mut errs);
    errs
}

/// Upstream's `ValidateStorageClassUpdate` rules (the new class is validated separately).
pub fn validate_storage_class_update(new: &Value, old: &Value) -> Vec<FieldError> {
    let mut errs = Vec::new();
    let params = |v: &Value| {
        get(v, "parameters")
            .and_then(Value::as_object)
            .cloned()
            .unwrap_or_default()
    };
    if params(new) != params(old) {
        errs.push(FieldError::forbidden(
            "parameters",
            "updates to parameters are forbidden.",
        ));
    }
    if str_of(new, "provisioner") != str_of(old, "provisioner") {
        errs.push(FieldError::forbidden(
            "provisioner",
            "updates to provisioner are forbidden.",
        ));
    }
    if str_of(new, "reclaimPolicy") != str_of(old, "reclaimPolicy") {
        errs.push(FieldError::forbidden(
            "reclaimPolicy",
            "updates to reclaimPolicy are forbidden.",
        ));
    }
    if get(new, "volumeBindingMode") != get(old, "volumeBindingMode") {
        errs.push(immutable_value(
            "volumeBindingMode",
            get(new, "volumeBindingMode"),
        ));
    }
    errs
}

/// Upstream's `validateCSIDriverSpec`.
pub fn validate_csi_driver_spec(spec: &Value) -> Vec<FieldError> {
    let mut errs = Vec::new();
    for (field, path) in [
        ("attachRequired", "spec.attachedRequired"),
        ("podInfoOnMount", "spec.podInfoOnMount"),
        ("storageCapacity", "spec.storageCapacity"),
    ] {
        if get(spec, field).is_none() {
            errs.push(FieldError::required(path, ""));
        }
    }
    if let Some(p) = get(spec, "fsGroupPolicy").and_then(Value::as_str)
        && !matches!(p, "File" | "None" | "ReadWriteOnceWithFSType")
    {
        errs.push(FieldError::not_supported(
            "spec.fsGroupPolicy",
            p,
            &["File", "None", "ReadWriteOnceWithFSType"],
        ));
    }
    validate_token_requests(spec, &mut errs);
    for mode in list_of(spec, "volumeLifecycleModes") {
        let mode = mode.as_str().unwrap_or_default();
        if !matches!(mode, "Persistent" | "Ephemeral") {
            errs.push(FieldError::not_supported(
                "spec.volumeLifecycleModes",
                mode,
                &["Persistent", "Ephemeral"],
            ));
        }
    }
    if get(spec, "seLinuxMount").is_none() {
        errs.push(FieldError::required("spec.seLinuxMount", ""));
    }
    errs
}

fn validate_token_requests(spec: &Value, errs: &mut Vec<FieldError>) {
    let mut audiences = BTreeSet::new();
    for (i, t) in list_of(spec, "tokenRequests").iter().enumerate() {
        let path = format!("spec.tokenRequests[{i}]");
        let audience = str_of(t, "audience");
        if !audiences.insert(audience) {
            errs.push(FieldError::duplicate(format!("{path}.audience"), audience));
            continue;
        }
        if let Some(s) = int_of(t, "expirationSeconds") {
            if s < 600 {
                errs.push(FieldError::invalid(
                    format!("{path}.expirationSeconds"),
                    s,
                    "may not specify a duration less than 10 minutes",
                ));
            }
            if s > 1 << 32 {
                errs.push(FieldError::invalid(
                    format!("{path}.expirationSeconds"),
                    s,
                    "may not specify a duration larger than 2^32 seconds",
                ));
            }
        }
    }
}

/// Upstream's `ValidateCSIDriver` (the spec; the name is checked with the metadata).
pub fn validate_csi_driver(obj: &Value) -> Vec<FieldError> {
    validate_csi_driver_spec(&child(obj, "spec"))
}

/// Upstream's `ValidateCSIDriverUpdate` rules beyond the spec checks.
pub fn validate_csi_driver_update(new: &Value, old: &Value) -> Vec<FieldError> {
    let mut errs = Vec::new();
    let (spec, old_spec) = (child(new, "spec"), child(old, "spec"));
    if get(&spec, "attachRequired") != get(&old_spec, "attachRequired") {
        // Upstream's spelling of the path.
        errs.push(immutable_value(
            "spec.attachedRequired",
            get(&spec, "attachRequired"),
        ));
    }
    if !semantic_eq(
        get(&spec, "volumeLifecycleModes"),
        get(&old_spec, "volumeLifecycleModes"),
    ) {
        errs.push(invalid_go(
            "spec.volumeLifecycleModes",
            &super::checks::go_slice_of(
                "storage.VolumeLifecycleMode",
                get(&spec, "volumeLifecycleModes"),
            ),
            IMMUTABLE,
        ));
    }
    errs
}

/// Upstream's `ValidateCSINode` (the drivers).
pub fn validate_csi_node(obj: &Value) -> Vec<FieldError> {
    let mut errs = Vec::new();
    let spec = child(obj, "spec");
    let mut names = BTreeSet::new();
    for (i, d) in list_of(&spec, "drivers").iter().enumerate() {
        let path = format!("spec.drivers[{i}]");
        let name = str_of(d, "name");
        csi_driver_name(&format!("{path}.name"), name, &mut errs);
        let node_id = str_of(d, "nodeID");
        if node_id.is_empty() {
            errs.push(FieldError::required(format!("{path}.nodeID"), ""));
        }
        if node_id.len() > MAX_NODE_ID {
            errs.push(FieldError::invalid(
                format!("{path}.nodeID"),
                node_id,
                format!("must be {MAX_NODE_ID} characters or less"),
            ));
        }
        if let Some(count) = get(d, "allocatable").and_then(|a| int_of(a, "count")) {
            super::common::nonnegative(format!("{path}.allocatable.count"), count, &mut errs);
        }
        if !names.insert(name) {
            errs.push(FieldError::duplicate(format!("{path}.name"), name));
        }
        let mut keys = BTreeSet::new();
        for key in list_of(d, "topologyKeys") {
            let key = key.as_str().unwrap_or_default();
            if key.is_empty() {
                errs.push(FieldError::required(path.as_str(), ""));
            }
            if !keys.insert(key) {
                errs.push(FieldError::duplicate(path.as_str(), key));
            }
            qualified_name(&path, key, &mut errs);
        }
    }
    errs
}

/// Upstream's `ValidateCSINodeUpdate` rule: an existing driver entry may not change.
pub fn validate_csi_node_update(new: &Value, old: &Value) -> Vec<FieldError> {
    let mut errs = Vec::new();
    let drivers = list_of(&child(new, "spec"), "drivers").to_vec();
    for o in list_of(&child(old, "spec"), "drivers") {
        for n in &drivers {
            if str_of(o, "name") == str_of(n, "name") && !semantic_eq(Some(o), Some(n)) {
                errs.push(FieldError::invalid("CSINodeDriver", n.clone(), IMMUTABLE));
            }
        }
    }
    errs
}

/// Upstream's `ValidateVolumeAttachment` and, for v1, `ValidateVolumeAttachmentV1`.
pub fn validate_volume_attachment(obj: &Value) -> Vec<FieldError> {
    let mut errs = Vec::new();
    let spec = child(obj, "spec");
    let attacher = str_of(&spec, "attacher");
    if attacher.is_empty() {
        errs.push(FieldError::required("spec.attacher", ""));
    }
    let source = child(&spec, "source");
    let pv_name = get(&source, "persistentVolumeName").and_then(Value::as_str);
    let inline = get(&source, "inlineVolumeSpec");
    match (pv_name, inline) {
        (None, None) => errs.push(FieldError::required(
            "spec.source",
            "must specify exactly one of inlineVolumeSpec and persistentVolumeName",
        )),
        (Some(_), Some(_)) => errs.push(FieldError::forbidden(
            "spec.source",
            "must specify exactly one of inlineVolumeSpec and persistentVolumeName",
        )),
        (Some(""), None) => errs.push(FieldError::required(
            "spec.source.persistentVolumeName",
            "must specify non empty persistentVolumeName",
        )),
        (Some(_), None) => {}
        (None, Some(s)) => errs.extend(validate_pv_spec(s, true, "spec.source.inlineVolumeSpec")),
    }
    let node = str_of(&spec, "nodeName");
    for msg in validation::is_dns1123_subdomain(node) {
        errs.push(FieldError::invalid("spec.nodeName", node, msg));
    }
    let status = child(obj, "status");
    if let Some(meta) = get(&status, "attachmentMetadata").and_then(Value::as_object) {
        let size: usize = meta
            .iter()
            .map(|(k, v)| k.len() + v.as_str().map_or(0, str::len))
            .sum();
        if size > MAX_ATTACHED_METADATA_BYTES {
            errs.push(FieldError::too_long(
                "status.attachmentMetadata",
                MAX_ATTACHED_METADATA_BYTES,
            ));
        }
    }
    for e in ["attachError", "detachError"] {
        if let Some(err) = get(&status, e)
            && str_of(err, "message").len() > MAX_VOLUME_ERROR_BYTES
        {
            errs.push(FieldError::too_long(
                format!("status.{e}.message"),
                MAX_VOLUME_ERROR_BYTES,
            ));
        }
    }
    csi_driver_name("spec.attacher", attacher, &mut errs);
    if let Some(pv) = pv_name {
        for msg in validation::is_dns1123_subdomain(pv) {
            errs.push(FieldError::invalid(
                "spec.source.persistentVolumeName",
                pv,
                msg,
            ));
        }
    }
    errs
}

fn prepare(info: &ResourceInfo, obj: &mut Value) {
    match info.gvk.kind {
        "StorageClass" => default_storage_class(obj),
        "CSIDriver" => default_csi_driver(obj),
        _ => {}
    }
}

fn validate(info: &ResourceInfo, obj: &Value) -> Vec<FieldError> {
    match info.gvk.kind {
        "StorageClass" => validate_storage_class(obj),
        "CSIDriver" => validate_csi_driver(obj),
        "CSINode" => validate_csi_node(obj),
        "VolumeAttachment" => validate_volume_attachment(obj),
        _ => Vec::new(),
    }
}

/// Defaults and validates a new storage.k8s.io object.
pub fn before_create(info: &ResourceInfo, obj: &mut Value) -> Result<(), ApiError> {
    prepare(info, obj);
    check(info, obj, &validate(info, obj))
}

/// Defaults and validates an update of a storage.k8s.io object.
pub fn before_update(info: &ResourceInfo, old: &Value, new: &mut Value) -> Result<(), ApiError> {
    prepare(info, new);
    let mut old = old.clone();
    prepare(info, &mut old);
    let mut errs = meta_update_errors(&old, new);
    match info.gvk.kind {
        "StorageClass" => {
            errs.extend(validate_storage_class(new));
            errs.extend(validate_storage_class_update(new, &old));
        }
        "CSIDriver" => {
            errs.extend(validate_csi_driver_spec(&child(new, "spec")));
            errs.extend(validate_csi_driver_update(new, &old));
        }
        "CSINode" => {
            errs.extend(validate_csi_node(new));
            errs.extend(validate_csi_node_update(new, &old));
        }
        "VolumeAttachment" => {
            errs.extend(validate_volume_attachment(new));
            if !semantic_eq(get(new, "spec"), get(&old, "spec")) {
                errs.push(invalid_go(
                    "spec",
                    "storage.VolumeAttachmentSpec{...}",
                    IMMUTABLE,
                ));
            }
        }
        _ => {}
    }
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
    fn storage_classes_are_defaulted_and_validated() {
        let info = lookup("storage.k8s.io", "v1", "storageclasses").unwrap();
        let mut sc = json!({"metadata": {"name": "fast"}, "provisioner": "rancher.io/local-path"});
        before_create(info, &mut sc).unwrap();
        assert_eq!(sc["reclaimPolicy"], "Delete");
        assert_eq!(sc["volumeBindingMode"], "Immediate");
        let bad = json!({"reclaimPolicy": "Recycle", "volumeBindingMode": "Later",
            "allowedTopologies": [{"matchLabelExpressions": [{"key": "zone", "values": []}]}]});
        assert_eq!(
            shown(&validate_storage_class(&bad)),
            vec![
                "provisioner: Required value",
                "reclaimPolicy: Unsupported value: \"Recycle\": supported values: \"Delete\", \"Retain\"",
                "volumeBindingMode: Unsupported value: \"Later\": supported values: \"Immediate\", \"WaitForFirstConsumer\"",
                "allowedTopologies[0].matchLabelExpressions[0].values: Required value: must specify as least one value",
            ]
        );
    }

    #[test]
    fn storage_class_updates_keep_provisioner_and_parameters() {
        let info = lookup("storage.k8s.io", "v1", "storageclasses").unwrap();
        let mut old = json!({"metadata": {"name": "fast"}, "provisioner": "a.io/x",
            "parameters": {"type": "ssd"}});
        before_create(info, &mut old).unwrap();
        let mut labeled = old.clone();
        labeled["metadata"]["labels"] = json!({"a": "b"});
        labeled["allowVolumeExpansion"] = json!(true);
        before_update(info, &old, &mut labeled).unwrap();
        let mut changed = json!({"metadata": {"name": "fast"}, "provisioner": "b.io/y",
            "parameters": {"type": "hdd"}, "reclaimPolicy": "Retain",
            "volumeBindingMode": "WaitForFirstConsumer"});
        let err = before_update(info, &old, &mut changed).unwrap_err();
        assert_eq!(
            err.message,
            "StorageClass.storage.k8s.io \"fast\" is invalid: [parameters: Forbidden: updates to parameters are forbidden., provisioner: Forbidden: updates to provisioner are forbidden., reclaimPolicy: Forbidden: updates to reclaimPolicy are forbidden., volumeBindingMode: Invalid value: \"WaitForFirstConsumer\": field is immutable]"
        );
    }

    #[test]
    fn csi_drivers() {
        let info = lookup("storage.k8s.io", "v1", "csidrivers").unwrap();
        let mut d = json!({"metadata": {"name": "csi.example.com"}, "spec": {}});
        before_create(info, &mut d).unwrap();
        assert_eq!(d["spec"]["attachRequired"], true);
        assert_eq!(d["spec"]["volumeLifecycleModes"], json!(["Persistent"]));
        assert_eq!(d["spec"]["fsGroupPolicy"], "ReadWriteOnceWithFSType");
        let mut changed = d.clone();
        changed["spec"]["attachRequired"] = json!(false);
        changed["spec"]["podInfoOnMount"] = json!(true);
        changed["spec"]["tokenRequests"] = json!([{"audience": "a", "expirationSeconds": 60}]);
        let err = before_update(info, &d, &mut changed).unwrap_err();
        assert_eq!(
            err.message,
            "CSIDriver.storage.k8s.io \"csi.example.com\" is invalid: [spec.tokenRequests[0].expirationSeconds: Invalid value: 60: may not specify a duration less than 10 minutes, spec.attachedRequired: Invalid value: false: field is immutable]"
        );
    }

    #[test]
    fn csi_nodes() {
        let info = lookup("storage.k8s.io", "v1", "csinodes").unwrap();
        let old = json!({"metadata": {"name": "n1"}, "spec": {"drivers": [
            {"name": "csi.example.com", "nodeID": "n1", "topologyKeys": ["topology.example.com/zone"]}]}});
        let bad = json!({"spec": {"drivers": [
            {"name": "csi.example.com", "nodeID": ""},
            {"name": "csi.example.com", "nodeID": "x", "topologyKeys": ["k", "k"]}]}});
        assert_eq!(
            shown(&validate_csi_node(&bad)),
            vec![
                "spec.drivers[0].nodeID: Required value",
                "spec.drivers[1].name: Duplicate value: \"csi.example.com\"",
                "spec.drivers[1]: Duplicate value: \"k\"",
            ]
        );
        let mut added = old.clone();
        added["spec"]["drivers"]
            .as_array_mut()
            .unwrap()
            .push(json!({"name": "other.example.com", "nodeID": "n1"}));
        before_update(info, &old, &mut added).unwrap();
        let mut changed = old.clone();
        changed["spec"]["drivers"][0]["nodeID"] = json!("n2");
        let err = before_update(info, &old, &mut changed).unwrap_err();
        assert!(
            err.message.contains("CSINodeDriver: Invalid value"),
            "{}",
            err.message
        );
    }

    #[test]
    fn volume_attachments() {
        let info = lookup("storage.k8s.io", "v1", "volumeattachments").unwrap();
        let mut ok = json!({"metadata": {"name": "va"}, "spec": {"attacher": "csi.example.com",
            "nodeName": "n1", "source": {"persistentVolumeName": "pv1"}}});
        before_create(info, &mut ok).unwrap();
        let bad = json!({"spec": {"nodeName": "n1", "source": {}}});
        assert_eq!(
            shown(&validate_volume_attachment(&bad)),
            vec![
                "spec.attacher: Required value",
                "spec.source: Required value: must specify exactly one of inlineVolumeSpec and persistentVolumeName",
                "spec.attacher: Required value",
                "spec.attacher: Invalid value: \"\": a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character (e.g. 'example.com', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')",
            ]
        );
        let mut moved = ok.clone();
        moved["spec"]["nodeName"] = json!("n2");
        let err = before_update(info, &ok, &mut moved).unwrap_err();
        assert_eq!(
            err.message,
            "VolumeAttachment.storage.k8s.io \"va\" is invalid: spec: Invalid value: storage.VolumeAttachmentSpec{...}: field is immutable"
        );
        let mut status = ok.clone();
        status["status"] = json!({"attached": true});
        before_update(info, &ok, &mut status).unwrap();
    }
}
