//! The core/v1 PersistentVolume and PersistentVolumeClaim strategies: upstream's defaults
//! (`persistentVolumeReclaimPolicy: Retain`, `volumeMode: Filesystem`, `Pending` phases and
//! the volume source defaults) and `ValidatePersistentVolume(Update)` /
//! `ValidatePersistentVolumeClaim(Update)`: access modes, capacity and requests, exactly one
//! volume source, node affinity, data sources, and what may change later (a volume's source
//! and mode; a claim's spec except its requests when bound and its volume name once).
//!
//! Upstream appends a `cmp.Diff` of the specs to its immutability messages; here the lines
//! after the message list the changed fields in JSON.

use super::checks::{
    check_lists, child, immutable_value, node_selector, positive_quantity, quantities,
    quantity_value,
};
use super::common::{
    check, dns1123_label, dns1123_subdomain, get, invalid_go, list_of, meta_update_errors,
    normalized, semantic_eq, set_default, set_default_str, str_of, validate_label_selector,
};
use super::pod::defaults::{default_resource_list, default_volume};
use super::quantity;
use crate::object;
use serde_json::{Value, json};
use skiff_core::registry::ResourceInfo;
use skiff_core::status::{ApiError, FieldError};
use skiff_core::validation;
use std::cmp::Ordering;

/// The access modes upstream supports, sorted as it lists them.
pub const ACCESS_MODES: &[&str] = &[
    "ReadOnlyMany",
    "ReadWriteMany",
    "ReadWriteOnce",
    "ReadWriteOncePod",
];
/// The volume modes upstream supports.
pub const VOLUME_MODES: &[&str] = &["Block", "Filesystem"];
/// The reclaim policies of a PersistentVolume.
pub const RECLAIM_POLICIES: &[&str] = &["Delete", "Recycle", "Retain"];
/// The volume sources of a PersistentVolume, in the order upstream checks them.
pub const PV_SOURCES: &[&str] = &[
    "hostPath",
    "gcePersistentDisk",
    "awsElasticBlockStore",
    "glusterfs",
    "flocker",
    "nfs",
    "rbd",
    "quobyte",
    "cephfs",
    "iscsi",
    "cinder",
    "fc",
    "flexVolume",
    "azureFile",
    "vsphereVolume",
    "photonPersistentDisk",
    "portworxVolume",
    "azureDisk",
    "scaleIO",
    "local",
    "storageos",
    "csi",
];
const HOST_PATH_TYPES: &[&str] = &[
    "",
    "BlockDevice",
    "CharDevice",
    "Directory",
    "DirectoryOrCreate",
    "File",
    "FileOrCreate",
    "Socket",
];
const PVC_IMMUTABLE: &str = "spec is immutable after creation except resources.requests and volumeAttributesClassName for bound claims";

/// Upstream's `SetDefaults_PersistentVolume` (with the defaults of its volume source).
pub fn default_pv(obj: &mut Value) {
    if let Some(spec) = super::common::ensure_object(obj, "spec") {
        set_default_str(spec, "persistentVolumeReclaimPolicy", "Retain");
        set_default(spec, "volumeMode", json!("Filesystem"));
        // The persistent volume sources take the same defaults as their pod volume twins.
        default_volume(spec);
        default_resource_list(spec.get_mut("capacity"));
    }
    if let Some(status) = super::common::ensure_object(obj, "status") {
        set_default_str(status, "phase", "Pending");
    }
}

/// Upstream's `SetDefaults_PersistentVolumeClaim(Spec)`.
pub fn default_pvc(obj: &mut Value) {
    if let Some(spec) = super::common::ensure_object(obj, "spec") {
        set_default(spec, "volumeMode", json!("Filesystem"));
        if let Some(r) = spec.get_mut("resources") {
            default_resource_list(r.get_mut("requests"));
            default_resource_list(r.get_mut("limits"));
        }
    }
    if let Some(status) = super::common::ensure_object(obj, "status") {
        set_default_str(status, "phase", "Pending");
    }
}

fn access_modes(spec: &Value, path: &str, detail: &str, errs: &mut Vec<FieldError>) {
    let modes = list_of(spec, "accessModes");
    if modes.is_empty() {
        errs.push(FieldError::required(format!("{path}.accessModes"), detail));
    }
    let (mut once_pod, mut others) = (false, false);
    for m in modes {
        let m = m.as_str().unwrap_or_default();
        if !ACCESS_MODES.contains(&m) {
            errs.push(FieldError::not_supported(
                format!("{path}.accessModes"),
                m,
                ACCESS_MODES,
            ));
        } else if m == "ReadWriteOncePod" {
            once_pod = true;
        } else {
            others = true;
        }
    }
    if once_pod && others {
        errs.push(FieldError::forbidden(
            format!("{path}.accessModes"),
            "may not use ReadWriteOncePod with other access modes",
        ));
    }
}

fn no_backsteps(field: &str, p: &str, errs: &mut Vec<FieldError>) {
    if p.replace('\\', "/").split('/').any(|part| part == "..") {
        errs.push(FieldError::invalid(field, p, "must not contain '..'"));
    }
}

/// Upstream's `ValidateCSIDriverName`.
pub fn csi_driver_name(field: &str, name: &str, errs: &mut Vec<FieldError>) {
    if name.is_empty() {
        errs.push(FieldError::required(field, ""));
    }
    if name.len() > 63 {
        errs.push(FieldError::too_long(field, 63));
    }
    for msg in validation::is_dns1123_subdomain(&name.to_lowercase()) {
        errs.push(FieldError::invalid(field, name, msg));
    }
}

fn secret_ref(r: &Value, path: &str, errs: &mut Vec<FieldError>) {
    let name = str_of(r, "name");
    if name.is_empty() {
        errs.push(FieldError::required(format!("{path}.name"), ""));
    } else {
        dns1123_subdomain(&format!("{path}.name"), name, errs);
    }
    let ns = str_of(r, "namespace");
    if ns.is_empty() {
        errs.push(FieldError::required(format!("{path}.namespace"), ""));
    } else {
        dns1123_label(&format!("{path}.namespace"), ns, errs);
    }
}

/// The checks of the commonly used persistent volume sources.
fn validate_source(source: &str, s: &Value, path: &str, errs: &mut Vec<FieldError>) {
    match source {
        "hostPath" => {
            let p = str_of(s, "path");
            if p.is_empty() {
                errs.push(FieldError::required(format!("{path}.path"), ""));
                return;
            }
            no_backsteps(&format!("{path}.path"), p, errs);
            if let Some(t) = get(s, "type").and_then(Value::as_str)
                && !HOST_PATH_TYPES.contains(&t)
            {
                errs.push(FieldError::not_supported(
                    format!("{path}.type"),
                    t,
                    HOST_PATH_TYPES,
                ));
            }
        }
        "nfs" => {
            if str_of(s, "server").is_empty() {
                errs.push(FieldError::required(format!("{path}.server"), ""));
            }
            let p = str_of(s, "path");
            if p.is_empty() {
                errs.push(FieldError::required(format!("{path}.path"), ""));
            }
            if !p.starts_with('/') {
                errs.push(FieldError::invalid(
                    format!("{path}.path"),
                    p,
                    "must be an absolute path",
                ));
            }
        }
        "local" => {
            let p = str_of(s, "path");
            if p.is_empty() {
                errs.push(FieldError::required(format!("{path}.path"), ""));
            } else {
                no_backsteps(&format!("{path}.path"), p, errs);
            }
        }
        "csi" => {
            csi_driver_name(&format!("{path}.driver"), str_of(s, "driver"), errs);
            if str_of(s, "volumeHandle").is_empty() {
                errs.push(FieldError::required(format!("{path}.volumeHandle"), ""));
            }
            for r in [
                "controllerPublishSecretRef",
                "controllerExpandSecretRef",
                "nodePublishSecretRef",
                "nodeExpandSecretRef",
            ] {
                if let Some(r_value) = get(s, r) {
                    secret_ref(r_value, &format!("{path}.{r}"), errs);
                }
            }
        }
        _ => {}
    }
}

/// Upstream's `ValidatePersistentVolumeSpec`; `inline` for a VolumeAttachment's inline spec.
pub fn validate_pv_spec(spec: &Value, inline: bool, path: &str) -> Vec<FieldError> {
    let mut errs = Vec::new();
    if inline {
        if get(spec, "claimRef").is_some() {
            errs.push(FieldError::forbidden(
                format!("{path}.claimRef"),
                "may not be specified in the context of inline volumes",
            ));
        }
        if super::common::has_entries(spec, "capacity") {
            errs.push(FieldError::forbidden(
                format!("{path}.capacity"),
                "may not be specified in the context of inline volumes",
            ));
        }
        if get(spec, "csi").is_none() {
            errs.push(FieldError::required(
                format!("{path}.csi"),
                "has to be specified in the context of inline volumes",
            ));
        }
    }
    access_modes(spec, path, "", &mut errs);
    if !inline {
        let capacity = get(spec, "capacity").and_then(Value::as_object);
        if capacity.is_none_or(|c| c.is_empty()) {
            errs.push(FieldError::required(format!("{path}.capacity"), ""));
        }
        if capacity.is_none_or(|c| !c.contains_key("storage") || c.len() > 1) {
            let raw = match capacity {
                None => "map[core.ResourceName]resource.Quantity(nil)".to_owned(),
                Some(c) if c.is_empty() => "map[core.ResourceName]resource.Quantity{}".to_owned(),
                Some(c) => {
                    let mut names: Vec<&String> = c.keys().collect();
                    names.sort();
                    let items: Vec<String> = names
                        .iter()
                        .map(|n| {
                            format!(
                                "{}:{}",
                                super::service::validation::go_quote(n),
                                c[n.as_str()]
                                    .as_str()
                                    .map(super::service::validation::go_quote)
                                    .unwrap_or_default()
                            )
                        })
                        .collect();
                    format!(
                        "map[core.ResourceName]resource.Quantity{{{}}}",
                        items.join(", ")
                    )
                }
            };
            errs.push(super::common::not_supported_go(
                format!("{path}.capacity"),
                &raw,
                &["storage"],
            ));
        }
        for (name, q) in quantities(get(spec, "capacity")) {
            let field = format!("{path}.capacity[{name}]");
            if q.is_negative() {
                errs.push(FieldError::invalid(
                    field.as_str(),
                    q.milli_value().map_or(0, |m| (m / 1000) as i64),
                    "must be a valid resource quantity",
                ));
            }
            positive_quantity(&q, &field, &mut errs);
        }
    }
    let policy = str_of(spec, "persistentVolumeReclaimPolicy");
    if !policy.is_empty() {
        if inline {
            if policy != "Retain" {
                errs.push(FieldError::forbidden(
                    format!("{path}.persistentVolumeReclaimPolicy"),
                    "may only be Retain in the context of inline volumes",
                ));
            }
        } else if !RECLAIM_POLICIES.contains(&policy) {
            errs.push(FieldError::not_supported(
                format!("{path}.persistentVolumeReclaimPolicy"),
                policy,
                RECLAIM_POLICIES,
            ));
        }
    }
    let mut affinity = false;
    if let Some(na) = get(spec, "nodeAffinity") {
        if inline {
            errs.push(FieldError::forbidden(
                format!("{path}.nodeAffinity"),
                "may not be specified in the context of inline volumes",
            ));
        } else {
            affinity = true;
            match get(na, "required") {
                Some(req) => {
                    node_selector(req, &format!("{path}.nodeAffinity.required"), &mut errs)
                }
                None => errs.push(FieldError::required(
                    format!("{path}.nodeAffinity.required"),
                    "must specify required node constraints",
                )),
            }
        }
    }
    let mut count = 0;
    for &source in PV_SOURCES {
        let Some(s) = get(spec, source) else {
            continue;
        };
        // Upstream's own spellings of two of these paths.
        let forbidden_path = if source == "cephfs" { "cephFS" } else { source };
        if count > 0 && source != "flexVolume" {
            errs.push(FieldError::forbidden(
                format!("{path}.{forbidden_path}"),
                "may not specify more than 1 volume type",
            ));
            continue;
        }
        count += 1;
        validate_source(source, s, &format!("{path}.{source}"), &mut errs);
        if source == "local" && !affinity {
            errs.push(FieldError::required(
                format!("{path}.nodeAffinity"),
                "Local volume requires node affinity",
            ));
        }
    }
    if count == 0 {
        errs.push(FieldError::required(path, "must specify a volume type"));
    }
    if let Some(h) = get(spec, "hostPath")
        && policy == "Recycle"
        && str_of(h, "path").trim_end_matches('/').is_empty()
        && str_of(h, "path").starts_with('/')
    {
        errs.push(FieldError::forbidden(
            format!("{path}.persistentVolumeReclaimPolicy"),
            "may not be 'recycle' for a hostPath mount of '/'",
        ));
    }
    let class = str_of(spec, "storageClassName");
    if !class.is_empty() {
        if inline {
            errs.push(FieldError::forbidden(
                format!("{path}.storageClassName"),
                "may not be specified in the context of inline volumes",
            ));
        } else {
            dns1123_subdomain(&format!("{path}.storageClassName"), class, &mut errs);
        }
    }
    if let Some(mode) = get(spec, "volumeMode").and_then(Value::as_str) {
        if inline {
            if mode != "Filesystem" {
                errs.push(FieldError::forbidden(
                    format!("{path}.volumeMode"),
                    "may not specify volumeMode other than Filesystem in the context of inline volumes",
                ));
            }
        } else if !VOLUME_MODES.contains(&mode) {
            errs.push(FieldError::not_supported(
                format!("{path}.volumeMode"),
                mode,
                VOLUME_MODES,
            ));
        }
    }
    if let Some(vac) = get(spec, "volumeAttributesClassName").and_then(Value::as_str) {
        if vac.is_empty() {
            errs.push(FieldError::required(
                format!("{path}.volumeAttributesClassName"),
                "an empty string is disallowed",
            ));
        } else {
            dns1123_subdomain(&format!("{path}.volumeAttributesClassName"), vac, &mut errs);
        }
        if get(spec, "csi").is_none() {
            errs.push(FieldError::required(
                format!("{path}.csi"),
                "has to be specified when using volumeAttributesClassName",
            ));
        }
    }
    errs
}

/// The fields that differ between two specs, one `- field: old` / `+ field: new` pair each
/// (standing in for upstream's `cmp.Diff`).
fn spec_diff(old: &Value, new: &Value) -> String {
    let (old, new) = (normalized(old), normalized(new));
    let mut keys: Vec<&String> = old
        .as_object()
        .into_iter()
        .flatten()
        .chain(new.as_object().into_iter().flatten())
        .map(|(k, _)| k)
        .collect();
    keys.sort();
    keys.dedup();
    let mut out = String::new();
    for k in keys {
        let (o, n) = (old.get(k.as_str()), new.get(k.as_str()));
        if o != n {
            let show = |v: Option<&Value>| v.map_or("null".to_owned(), Value::to_string);
            out.push_str(&format!("\n- {k}: {}\n+ {k}: {}", show(o), show(n)));
        }
    }
    out
}

/// Upstream's `ValidatePersistentVolumeUpdate`.
pub fn validate_pv_update(new: &Value, old: &Value) -> Vec<FieldError> {
    let spec = child(new, "spec");
    let old_spec = child(old, "spec");
    let mut errs = validate_pv_spec(&spec, false, "spec");
    let source_of = |s: &Value, allow_expand_secret: bool| {
        let mut out = serde_json::Map::new();
        for &src in PV_SOURCES {
            if let Some(v) = get(s, src) {
                let mut v = v.clone();
                if src == "csi"
                    && allow_expand_secret
                    && let Some(m) = v.as_object_mut()
                {
                    m.remove("controllerExpandSecretRef");
                }
                out.insert(src.into(), v);
            }
        }
        Value::Object(out)
    };
    // A CSI volume may gain a controller expand secret.
    let gains_secret =
        get(&old_spec, "csi").is_some_and(|c| get(c, "controllerExpandSecretRef").is_none());
    let (new_source, old_source) = (source_of(&spec, gains_secret), source_of(&old_spec, false));
    if !semantic_eq(Some(&new_source), Some(&old_source)) {
        errs.push(FieldError::forbidden(
            "spec.persistentvolumesource",
            format!(
                "spec.persistentvolumesource is immutable after creation{}",
                spec_diff(&old_source, &new_source)
            ),
        ));
    }
    if get(&spec, "volumeMode") != get(&old_spec, "volumeMode") {
        errs.push(immutable_value("volumeMode", get(&spec, "volumeMode")));
    }
    if let Some(old_affinity) = get(&old_spec, "nodeAffinity")
        && !semantic_eq(get(&spec, "nodeAffinity"), Some(old_affinity))
    {
        errs.push(invalid_go(
            "nodeAffinity",
            "core.VolumeNodeAffinity{...}",
            super::common::IMMUTABLE,
        ));
    }
    if get(&old_spec, "volumeAttributesClassName").is_some()
        && get(&spec, "volumeAttributesClassName").is_none()
    {
        errs.push(FieldError::forbidden(
            "spec.volumeAttributesClassName",
            "update from non-nil value to nil is forbidden",
        ));
    }
    errs
}

fn data_source(ds: &Value, path: &str, errs: &mut Vec<FieldError>) {
    if str_of(ds, "name").is_empty() {
        errs.push(FieldError::required(format!("{path}.name"), ""));
    }
    let kind = str_of(ds, "kind");
    if kind.is_empty() {
        errs.push(FieldError::required(format!("{path}.kind"), ""));
    }
    let group = str_of(ds, "apiGroup");
    if group.is_empty() && kind != "PersistentVolumeClaim" {
        errs.push(FieldError::invalid(
            path,
            kind,
            "must be 'PersistentVolumeClaim' when referencing the default apiGroup",
        ));
    }
    if !group.is_empty() {
        dns1123_subdomain(&format!("{path}.apiGroup"), group, errs);
    }
}

/// Upstream's `ValidatePersistentVolumeClaimSpec`.
pub fn validate_pvc_spec(spec: &Value, path: &str) -> Vec<FieldError> {
    let mut errs = Vec::new();
    access_modes(spec, path, "at least 1 access mode is required", &mut errs);
    if let Some(sel) = get(spec, "selector") {
        validate_label_selector(Some(sel), &format!("{path}.selector"), &mut errs);
    }
    let storage_path = format!("{path}.resources[storage]");
    let requests = child(&child(spec, "resources"), "requests");
    let storage = quantities(Some(&requests))
        .into_iter()
        .find(|(k, _)| k == "storage");
    match storage {
        None => errs.push(FieldError::required(storage_path, "")),
        Some((_, q)) => {
            let before = errs.len();
            positive_quantity(&q, &storage_path, &mut errs);
            if errs.len() == before {
                quantity_value("storage", &q, &storage_path, &mut errs);
            }
        }
    }
    let class = str_of(spec, "storageClassName");
    if !class.is_empty() {
        dns1123_subdomain(&format!("{path}.storageClassName"), class, &mut errs);
    }
    if let Some(mode) = get(spec, "volumeMode").and_then(Value::as_str)
        && !VOLUME_MODES.contains(&mode)
    {
        errs.push(FieldError::not_supported(
            format!("{path}.volumeMode"),
            mode,
            VOLUME_MODES,
        ));
    }
    let ds = get(spec, "dataSource");
    let dsr = get(spec, "dataSourceRef");
    if let Some(ds) = ds {
        data_source(ds, &format!("{path}.dataSource"), &mut errs);
    }
    if let Some(r) = dsr {
        let rp = format!("{path}.dataSourceRef");
        data_source(r, &rp, &mut errs);
        let ns = str_of(r, "namespace");
        if !ns.is_empty() {
            for msg in validation::is_dns1123_label(ns) {
                errs.push(FieldError::invalid(format!("{rp}.namespace"), ns, msg));
            }
        }
    }
    let ref_ns = dsr.map(|r| str_of(r, "namespace")).unwrap_or_default();
    if !ref_ns.is_empty() {
        if ds.is_some() {
            errs.push(invalid_go(
                path,
                &format!("{path}.dataSource"),
                "may not be specified when dataSourceRef.namespace is specified",
            ));
        }
    } else if let (Some(ds), Some(r)) = (ds, dsr) {
        let same = get(ds, "apiGroup") == get(r, "apiGroup")
            && str_of(ds, "kind") == str_of(r, "kind")
            && str_of(ds, "name") == str_of(r, "name");
        if !same {
            errs.push(invalid_go(
                path,
                &format!("{path}.dataSource"),
                "must match dataSourceRef",
            ));
        }
    }
    if let Some(vac) = get(spec, "volumeAttributesClassName").and_then(Value::as_str)
        && !vac.is_empty()
    {
        dns1123_subdomain(&format!("{path}.volumeAttributesClassName"), vac, &mut errs);
    }
    errs
}

fn storage_request(obj: &Value) -> Option<quantity::Quantity> {
    let requests = child(&child(&child(obj, "spec"), "resources"), "requests");
    quantities(Some(&requests))
        .into_iter()
        .find(|(k, _)| k == "storage")
        .map(|(_, q)| q)
}

const BETA_CLASS: &str = "volume.beta.kubernetes.io/storage-class";

fn annotation<'a>(obj: &'a Value, key: &str) -> Option<&'a str> {
    object::meta(obj)
        .get("annotations")
        .and_then(|a| a.get(key))
        .and_then(Value::as_str)
}

/// Upstream's `ValidatePersistentVolumeClaimUpdate`.
pub fn validate_pvc_update(new: &Value, old: &Value) -> Vec<FieldError> {
    let mut errs = meta_update_errors(old, new);
    let spec = child(new, "spec");
    let old_spec = child(old, "spec");
    errs.extend(validate_pvc_spec(&spec, "spec"));
    let mut new_clone = spec.clone();
    let mut old_clone = old_spec.clone();
    // The volume name may be set once.
    if str_of(&old_spec, "volumeName").is_empty() {
        old_clone["volumeName"] = spec.get("volumeName").cloned().unwrap_or(Value::Null);
    }
    let old_beta = annotation(old, BETA_CLASS);
    let new_beta = annotation(new, BETA_CLASS);
    let new_class = get(&spec, "storageClassName").and_then(Value::as_str);
    let old_class = get(&old_spec, "storageClassName");
    let upgrade_from_annotation = old_beta.is_some()
        && old_class.is_none()
        && new_class.is_some_and(|c| Some(c) == old_beta)
        && new_beta.is_none_or(|b| Some(b) == old_beta);
    if upgrade_from_annotation {
        if let Some(m) = new_clone.as_object_mut() {
            m.remove("storageClassName");
        }
    } else {
        if new_beta != old_beta {
            errs.push(FieldError::immutable(
                format!("metadata.annotations.{BETA_CLASS}"),
                new_beta.unwrap_or_default(),
            ));
        }
        // A claim without a class may get one (matching its beta annotation, if any).
        if new_class.is_some()
            && old_class.is_none()
            && old_beta.is_none_or(|b| Some(b) == new_class)
        {
            new_clone["storageClassName"] = old_class.cloned().unwrap_or(Value::Null);
        }
    }
    let bound = str_of(&child(new, "status"), "phase") == "Bound";
    if bound
        && let Some(requests) = new_clone
            .get_mut("resources")
            .and_then(|r| r.get_mut("requests"))
            .and_then(Value::as_object_mut)
    {
        match old_spec
            .get("resources")
            .and_then(|r| r.get("requests"))
            .and_then(|r| r.get("storage"))
        {
            Some(v) => requests.insert("storage".into(), v.clone()),
            None => requests.remove("storage"),
        };
    }
    new_clone["volumeAttributesClassName"] = old_clone
        .get("volumeAttributesClassName")
        .cloned()
        .unwrap_or(Value::Null);
    if !semantic_eq(Some(&new_clone), Some(&old_clone)) {
        errs.push(FieldError::forbidden(
            "spec",
            format!("{PVC_IMMUTABLE}{}", spec_diff(&old_clone, &new_clone)),
        ));
    }
    if let (Some(new_size), Some(old_size)) = (storage_request(new), storage_request(old))
        && new_size.cmp_value(&old_size) == Ordering::Less
    {
        // Recovery from failed expansion (on in 1.33) allows shrinking down to the capacity.
        let capacity = quantities(get(&child(old, "status"), "capacity"))
            .into_iter()
            .find(|(k, _)| k == "storage")
            .map(|(_, q)| q);
        let at_or_below_capacity = match &capacity {
            Some(c) => new_size.cmp_value(c) != Ordering::Greater,
            None => !new_size.is_positive(),
        };
        if at_or_below_capacity {
            errs.push(FieldError::forbidden(
                "spec.resources.requests.storage",
                "field can not be less than status.capacity",
            ));
        }
    }
    if get(&spec, "volumeMode") != get(&old_spec, "volumeMode") {
        errs.push(immutable_value("volumeMode", get(&spec, "volumeMode")));
    }
    if let Some(old_vac) = get(&old_spec, "volumeAttributesClassName")
        && get(&spec, "volumeAttributesClassName") != Some(old_vac)
    {
        match get(&spec, "volumeAttributesClassName").and_then(Value::as_str) {
            None => errs.push(FieldError::forbidden(
                "spec.volumeAttributesClassName",
                "update from non-nil value to nil is forbidden",
            )),
            Some("") => errs.push(FieldError::forbidden(
                "spec.volumeAttributesClassName",
                "update from non-nil value to an empty string is forbidden",
            )),
            Some(_) => {}
        }
    }
    errs
}

fn check_quantities(info: &ResourceInfo, obj: &Value) -> Result<(), ApiError> {
    let spec = child(obj, "spec");
    let resources = child(&spec, "resources");
    let status = child(obj, "status");
    check_lists(
        info,
        &[
            get(&spec, "capacity"),
            get(&resources, "requests"),
            get(&resources, "limits"),
            get(&status, "capacity"),
        ],
    )
}

fn is_pv(info: &ResourceInfo) -> bool {
    info.gvk.kind == "PersistentVolume"
}

/// Defaults and validates a new PersistentVolume or PersistentVolumeClaim.
pub fn before_create(info: &ResourceInfo, obj: &mut Value) -> Result<(), ApiError> {
    check_quantities(info, obj)?;
    if is_pv(info) {
        default_pv(obj);
        let errs = validate_pv_spec(&child(obj, "spec"), false, "spec");
        return check(info, obj, &errs);
    }
    default_pvc(obj);
    check(info, obj, &validate_pvc_spec(&child(obj, "spec"), "spec"))
}

/// Defaults and validates an update of a PersistentVolume or PersistentVolumeClaim.
pub fn before_update(info: &ResourceInfo, old: &Value, new: &mut Value) -> Result<(), ApiError> {
    check_quantities(info, new)?;
    let mut old = old.clone();
    if is_pv(info) {
        default_pv(new);
        default_pv(&mut old);
        let mut errs = meta_update_errors(&old, new);
        errs.extend(validate_pv_update(new, &old));
        return check(info, new, &errs);
    }
    default_pvc(new);
    default_pvc(&mut old);
    check(info, new, &validate_pvc_update(new, &old))
}

#[cfg(test)]
mod tests {
    use super::*;
    use skiff_core::registry::lookup;

    fn shown(errs: &[FieldError]) -> Vec<String> {
        errs.iter().map(ToString::to_string).collect()
    }

    fn pv() -> Value {
        json!({"metadata": {"name": "pv1"}, "spec": {
            "capacity": {"storage": "1Gi"}, "accessModes": ["ReadWriteOnce"],
            "hostPath": {"path": "/data"}}})
    }

    fn pvc() -> Value {
        json!({"metadata": {"name": "c", "namespace": "d"}, "spec": {
            "accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "1Gi"}}}})
    }

    #[test]
    fn volumes_are_defaulted() {
        let info = lookup("", "v1", "persistentvolumes").unwrap();
        let mut obj = pv();
        before_create(info, &mut obj).unwrap();
        assert_eq!(obj["spec"]["persistentVolumeReclaimPolicy"], "Retain");
        assert_eq!(obj["spec"]["volumeMode"], "Filesystem");
        assert_eq!(obj["spec"]["hostPath"]["type"], "");
        assert_eq!(obj["status"]["phase"], "Pending");
        let claims = lookup("", "v1", "persistentvolumeclaims").unwrap();
        let mut obj = pvc();
        before_create(claims, &mut obj).unwrap();
        assert_eq!(obj["spec"]["volumeMode"], "Filesystem");
        assert_eq!(obj["status"]["phase"], "Pending");
    }

    #[test]
    fn volume_specs_are_validated() {
        let spec = json!({"capacity": {"cpu": "1"}, "accessModes": ["ReadWriteOncePod", "ReadWriteMany"],
            "persistentVolumeReclaimPolicy": "Keep", "hostPath": {"path": "/a"},
            "nfs": {"server": "s", "path": "/x"}, "volumeMode": "Raw"});
        assert_eq!(
            shown(&validate_pv_spec(&spec, false, "spec")),
            vec![
                "spec.accessModes: Forbidden: may not use ReadWriteOncePod with other access modes",
                "spec.capacity: Unsupported value: map[core.ResourceName]resource.Quantity{\"cpu\":\"1\"}: supported values: \"storage\"",
                "spec.persistentVolumeReclaimPolicy: Unsupported value: \"Keep\": supported values: \"Delete\", \"Recycle\", \"Retain\"",
                "spec.nfs: Forbidden: may not specify more than 1 volume type",
                "spec.volumeMode: Unsupported value: \"Raw\": supported values: \"Block\", \"Filesystem\"",
            ]
        );
        let empty = json!({});
        assert_eq!(
            shown(&validate_pv_spec(&empty, false, "spec")),
            vec![
                "spec.accessModes: Required value",
                "spec.capacity: Required value",
                "spec.capacity: Unsupported value: map[core.ResourceName]resource.Quantity(nil): supported values: \"storage\"",
                "spec: Required value: must specify a volume type",
            ]
        );
        let local = json!({"capacity": {"storage": "0"}, "accessModes": ["ReadWriteOnce"],
            "local": {"path": "/mnt/../x"}});
        assert_eq!(
            shown(&validate_pv_spec(&local, false, "spec")),
            vec![
                "spec.capacity[storage]: Invalid value: \"0\": must be greater than zero",
                "spec.local.path: Invalid value: \"/mnt/../x\": must not contain '..'",
                "spec.nodeAffinity: Required value: Local volume requires node affinity",
            ]
        );
    }

    #[test]
    fn volume_sources_are_immutable() {
        let info = lookup("", "v1", "persistentvolumes").unwrap();
        let mut old = pv();
        before_create(info, &mut old).unwrap();
        let mut relabeled = old.clone();
        relabeled["metadata"]["labels"] = json!({"tier": "fast"});
        relabeled["spec"]["persistentVolumeReclaimPolicy"] = json!("Delete");
        before_update(info, &old, &mut relabeled).unwrap();
        let mut moved = old.clone();
        moved["spec"]["hostPath"]["path"] = json!("/elsewhere");
        moved["spec"]["volumeMode"] = json!("Block");
        let err = before_update(info, &old, &mut moved).unwrap_err();
        let causes = err.details.unwrap().causes.unwrap();
        assert_eq!(
            causes[0].field.as_deref(),
            Some("spec.persistentvolumesource")
        );
        assert!(
            causes[0].message.as_deref().unwrap().starts_with(
                "Forbidden: spec.persistentvolumesource is immutable after creation\n"
            )
        );
        assert_eq!(
            causes[1].message.as_deref(),
            Some("Invalid value: \"Block\": field is immutable")
        );
    }

    #[test]
    fn claim_specs_are_validated() {
        let spec = json!({"resources": {"requests": {"storage": "0"}}, "accessModes": ["Sometimes"],
            "dataSource": {"kind": "Snapshot", "name": "s"}});
        assert_eq!(
            shown(&validate_pvc_spec(&spec, "spec")),
            vec![
                "spec.accessModes: Unsupported value: \"Sometimes\": supported values: \"ReadOnlyMany\", \"ReadWriteMany\", \"ReadWriteOnce\", \"ReadWriteOncePod\"",
                "spec.resources[storage]: Invalid value: \"0\": must be greater than zero",
                "spec.dataSource: Invalid value: \"Snapshot\": must be 'PersistentVolumeClaim' when referencing the default apiGroup",
            ]
        );
        assert_eq!(
            shown(&validate_pvc_spec(&json!({}), "spec")),
            vec![
                "spec.accessModes: Required value: at least 1 access mode is required",
                "spec.resources[storage]: Required value",
            ]
        );
    }

    #[test]
    fn claims_are_immutable_except_requests_when_bound() {
        let info = lookup("", "v1", "persistentvolumeclaims").unwrap();
        let mut old = pvc();
        before_create(info, &mut old).unwrap();
        // Binding sets the volume name once.
        let mut bound = old.clone();
        bound["spec"]["volumeName"] = json!("pv1");
        bound["status"] = json!({"phase": "Bound", "capacity": {"storage": "1Gi"}});
        before_update(info, &old, &mut bound).unwrap();
        // A bound claim may grow.
        let mut grown = bound.clone();
        grown["spec"]["resources"]["requests"]["storage"] = json!("2Gi");
        before_update(info, &bound, &mut grown).unwrap();
        // Access modes may not change.
        let mut changed = bound.clone();
        changed["spec"]["accessModes"] = json!(["ReadWriteMany"]);
        let err = before_update(info, &bound, &mut changed).unwrap_err();
        let causes = err.details.unwrap().causes.unwrap();
        assert_eq!(causes[0].field.as_deref(), Some("spec"));
        assert!(causes[0].message.as_deref().unwrap().starts_with(
            "Forbidden: spec is immutable after creation except resources.requests and volumeAttributesClassName for bound claims\n"
        ));
        // An unbound claim may not change its request, nor shrink below its capacity.
        let mut resized = old.clone();
        resized["spec"]["resources"]["requests"]["storage"] = json!("2Gi");
        assert!(before_update(info, &old, &mut resized).is_err());
        let mut shrunk = grown.clone();
        shrunk["spec"]["resources"]["requests"]["storage"] = json!("1Gi");
        let err = before_update(info, &grown, &mut shrunk).unwrap_err();
        assert!(err.message.contains(
            "spec.resources.requests.storage: Forbidden: field can not be less than status.capacity"
        ));
        // A class may be set on a claim without one, but the beta annotation is fixed.
        let mut classed = old.clone();
        classed["spec"]["storageClassName"] = json!("fast");
        before_update(info, &old, &mut classed).unwrap();
        let mut annotated = old.clone();
        annotated["metadata"]["annotations"] =
            json!({"volume.beta.kubernetes.io/storage-class": "slow"});
        let err = before_update(info, &old, &mut annotated).unwrap_err();
        assert!(err.message.contains(
            "metadata.annotations.volume.beta.kubernetes.io/storage-class: Invalid value: \"slow\": field is immutable"
        ), "{}", err.message);
        // The volume name may not change once set.
        let mut renamed = bound.clone();
        renamed["spec"]["volumeName"] = json!("pv2");
        assert!(before_update(info, &bound, &mut renamed).is_err());
    }
}
