//! Validation every kind shares: object metadata (upstream's `ValidateObjectMeta`), and which
//! field-selector labels each kind supports.

use crate::object;
use serde_json::Value;
use skiff_core::registry::ResourceInfo;
use skiff_core::status::FieldError;
use skiff_core::validation;

/// Largest total size of annotations (256 KiB).
pub const MAX_ANNOTATIONS_BYTES: usize = 256 * 1024;

/// How a kind's names are checked.
fn name_errors(info: &ResourceInfo, name: &str) -> Vec<String> {
    match (info.gvk.group, info.gvk.kind) {
        ("", "Namespace") => validation::is_dns1123_label(name),
        ("", "Service") => validation::is_dns1035_label(name),
        // Upstream checks these names only as path segments (RBAC's `ValidateRBACName`, and
        // the generic check core v1 Events get).
        ("rbac.authorization.k8s.io", _) | ("", "Event") => {
            crate::strategy::checks::path_segment_errors(name)
        }
        _ => validation::is_dns1123_subdomain(name),
    }
}

/// Validates `metadata` of an object about to be stored.
pub fn object_meta(info: &ResourceInfo, obj: &Value) -> Vec<FieldError> {
    let mut errs = Vec::new();
    let meta = object::meta(obj);
    match object::name(obj) {
        None => errs.push(FieldError::required(
            "metadata.name",
            "name or generateName is required",
        )),
        Some(name) => {
            for msg in name_errors(info, name) {
                errs.push(FieldError::invalid("metadata.name", name, msg));
            }
        }
    }
    if info.namespaced {
        match object::namespace(obj) {
            None => errs.push(FieldError::required("metadata.namespace", "")),
            Some(ns) => {
                for msg in validation::is_dns1123_label(ns) {
                    errs.push(FieldError::invalid("metadata.namespace", ns, msg));
                }
            }
        }
    } else if let Some(ns) = object::namespace(obj) {
        errs.push(FieldError::forbidden(
            "metadata.namespace",
            format!("not allowed on this type (got {ns:?})"),
        ));
    }
    if let Some(labels) = meta.get("labels") {
        match labels.as_object() {
            None if labels.is_null() => {}
            None => errs.push(FieldError::invalid(
                "metadata.labels",
                labels.clone(),
                "must be a map of strings",
            )),
            Some(map) => {
                for (k, v) in map {
                    for msg in validation::is_qualified_name(k) {
                        errs.push(FieldError::invalid("metadata.labels", k.as_str(), msg));
                    }
                    match v.as_str() {
                        Some(v) => {
                            for msg in validation::is_valid_label_value(v) {
                                errs.push(FieldError::invalid("metadata.labels", v, msg));
                            }
                        }
                        None => errs.push(FieldError::invalid(
                            "metadata.labels",
                            v.clone(),
                            "label values must be strings",
                        )),
                    }
                }
            }
        }
    }
    if let Some(annotations) = meta.get("annotations").and_then(Value::as_object) {
        let mut total = 0;
        for (k, v) in annotations {
            for msg in validation::is_qualified_name(&k.to_lowercase()) {
                errs.push(FieldError::invalid("metadata.annotations", k.as_str(), msg));
            }
            total += k.len() + v.as_str().map_or(0, str::len);
        }
        if total > MAX_ANNOTATIONS_BYTES {
            errs.push(FieldError::too_long(
                "metadata.annotations",
                MAX_ANNOTATIONS_BYTES,
            ));
        }
    }
    errs
}

/// Field-selector labels a kind supports besides `metadata.name` and `metadata.namespace`
/// (upstream's per-kind `GetAttrs` and field label conversions).
pub fn extra_field_labels(info: &ResourceInfo) -> &'static [&'static str] {
    match (info.gvk.group, info.gvk.kind) {
        ("", "Pod") => &[
            "spec.nodeName",
            "spec.restartPolicy",
            "spec.schedulerName",
            "spec.serviceAccountName",
            "spec.hostNetwork",
            "status.phase",
            "status.podIP",
            "status.nominatedNodeName",
        ],
        ("", "Event") => &[
            "involvedObject.kind",
            "involvedObject.namespace",
            "involvedObject.name",
            "involvedObject.uid",
            "involvedObject.apiVersion",
            "involvedObject.resourceVersion",
            "involvedObject.fieldPath",
            "reason",
            "reportingComponent",
            "source",
            "type",
        ],
        ("", "Secret") => &["type"],
        ("", "Node") => &["spec.unschedulable"],
        ("", "Namespace") => &["status.phase"],
        ("", "ReplicationController") => &["status.replicas"],
        ("apps", "ReplicaSet") => &["status.replicas"],
        ("batch", "Job") => &["status.successful"],
        ("", "Service") => &["spec.clusterIP", "spec.type"],
        ("", "PersistentVolumeClaim") => &["spec.volumeName"],
        ("certificates.k8s.io", "CertificateSigningRequest") => &["spec.signerName"],
        _ => &[],
    }
}

/// The value of a supported field label on an object (`None` for an unsupported label).
pub fn field_label_value(info: &ResourceInfo, obj: &Value, label: &str) -> Option<String> {
    match label {
        "metadata.name" => Some(object::name(obj).unwrap_or_default().to_owned()),
        "metadata.namespace" => Some(object::namespace(obj).unwrap_or_default().to_owned()),
        _ if extra_field_labels(info).contains(&label) => Some(match label {
            // Upstream reports a missing boolean as "false" and a missing source component as "".
            "spec.hostNetwork" | "spec.unschedulable" => {
                match object::path(obj, label).and_then(Value::as_bool) {
                    Some(true) => "true".to_owned(),
                    _ => "false".to_owned(),
                }
            }
            "source" => object::field_value(obj, "source.component"),
            "status.replicas" | "status.successful" => {
                let v = object::field_value(obj, label);
                if v.is_empty() { "0".to_owned() } else { v }
            }
            _ => object::field_value(obj, label),
        }),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;
    use skiff_core::registry::lookup;

    #[test]
    fn names_labels_and_namespaces_are_checked_like_upstream() {
        let pods = lookup("", "v1", "pods").unwrap();
        let ok = json!({"metadata": {"name": "web-1", "namespace": "default", "labels": {"app": "web"}}});
        assert!(object_meta(pods, &ok).is_empty());
        let bad = json!({"metadata": {"name": "Bad_Name", "namespace": "default",
                                       "labels": {"bad key!": "v", "k": "-bad-"}}});
        let errs = object_meta(pods, &bad);
        let fields: Vec<&str> = errs.iter().map(|e| e.field.as_str()).collect();
        assert_eq!(
            fields,
            vec!["metadata.name", "metadata.labels", "metadata.labels"]
        );
        assert!(errs[0].to_string().starts_with(
            "metadata.name: Invalid value: \"Bad_Name\": a lowercase RFC 1123 subdomain"
        ));
        let missing = json!({"metadata": {"namespace": "default"}});
        assert_eq!(
            object_meta(pods, &missing)[0].to_string(),
            "metadata.name: Required value: name or generateName is required"
        );
        let roles = lookup("rbac.authorization.k8s.io", "v1", "clusterroles").unwrap();
        assert!(
            object_meta(
                roles,
                &json!({"metadata": {"name": "system:aggregate-to-view"}})
            )
            .is_empty()
        );
        assert_eq!(
            object_meta(roles, &json!({"metadata": {"name": "a/b"}}))[0].to_string(),
            "metadata.name: Invalid value: \"a/b\": may not contain '/'"
        );
        let ns = lookup("", "v1", "namespaces").unwrap();
        assert_eq!(
            object_meta(ns, &json!({"metadata": {"name": "a.b"}})).len(),
            1
        );
        assert_eq!(
            object_meta(ns, &json!({"metadata": {"name": "a", "namespace": "x"}}))[0].field,
            "metadata.namespace"
        );
        let svc = lookup("", "v1", "services").unwrap();
        assert_eq!(
            object_meta(
                svc,
                &json!({"metadata": {"name": "1abc", "namespace": "d"}})
            )
            .len(),
            1
        );
    }

    #[test]
    fn annotations_have_a_total_size_limit() {
        let cms = lookup("", "v1", "configmaps").unwrap();
        let big = "x".repeat(MAX_ANNOTATIONS_BYTES);
        let obj = json!({"metadata": {"name": "a", "namespace": "d", "annotations": {"k": big}}});
        let errs = object_meta(cms, &obj);
        assert_eq!(errs.len(), 1);
        assert_eq!(errs[0].field, "metadata.annotations");
    }

    #[test]
    fn field_labels_per_kind() {
        let pods = lookup("", "v1", "pods").unwrap();
        let pod = json!({"metadata": {"name": "p", "namespace": "d"}, "spec": {"nodeName": "n1"},
                         "status": {"phase": "Running"}});
        assert_eq!(
            field_label_value(pods, &pod, "spec.nodeName").as_deref(),
            Some("n1")
        );
        assert_eq!(
            field_label_value(pods, &pod, "status.phase").as_deref(),
            Some("Running")
        );
        assert_eq!(
            field_label_value(pods, &pod, "spec.hostNetwork").as_deref(),
            Some("false")
        );
        assert_eq!(field_label_value(pods, &pod, "spec.bogus"), None);
        let cms = lookup("", "v1", "configmaps").unwrap();
        assert_eq!(field_label_value(cms, &pod, "status.phase"), None);
        assert_eq!(
            field_label_value(cms, &pod, "metadata.name").as_deref(),
            Some("p")
        );
    }
}
