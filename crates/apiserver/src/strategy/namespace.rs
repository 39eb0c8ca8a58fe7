//! The core/v1 Namespace strategy: upstream's `ValidateNamespace` (finalizer names) and
//! namespace updates, which keep the name and leave `spec.finalizers` alone: those change
//! only through the `finalize` subresource, which must not go through these hooks.

use super::common::{check, get, label_name, list_of, meta_update_errors};
use serde_json::Value;
use skiff_core::registry::ResourceInfo;
use skiff_core::status::{ApiError, FieldError};

/// Finalizer names upstream accepts without a domain.
pub const STANDARD_FINALIZERS: &[&str] = &["kubernetes", "orphan", "foregroundDeletion"];

/// Upstream's `validateFinalizerName` over `spec.finalizers`.
pub fn validate_finalizers(obj: &Value) -> Vec<FieldError> {
    let mut errs = Vec::new();
    let spec = get(obj, "spec").cloned().unwrap_or(Value::Null);
    for f in list_of(&spec, "finalizers") {
        let name = f.as_str().unwrap_or_default();
        let before = errs.len();
        label_name("spec.finalizers", name, &mut errs);
        if errs.len() == before && !name.contains('/') && !STANDARD_FINALIZERS.contains(&name) {
            errs.push(FieldError::invalid(
                "spec.finalizers",
                name,
                "name is neither a standard finalizer name nor is it fully qualified",
            ));
        }
    }
    errs
}

/// Validates a new namespace.
pub fn before_create(info: &ResourceInfo, obj: &mut Value) -> Result<(), ApiError> {
    check(info, obj, &validate_finalizers(obj))
}

/// Upstream's `PrepareForUpdate` and `ValidateNamespaceUpdate`: `spec.finalizers` stays as
/// it was, the name may not change.
pub fn before_update(info: &ResourceInfo, old: &Value, new: &mut Value) -> Result<(), ApiError> {
    let finalizers = old.get("spec").and_then(|s| s.get("finalizers")).cloned();
    if let Some(spec) = super::common::ensure_object(new, "spec").and_then(Value::as_object_mut) {
        match finalizers {
            Some(f) => spec.insert("finalizers".into(), f),
            None => spec.remove("finalizers"),
        };
    }
    check(info, new, &meta_update_errors(old, new))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;
    use skiff_core::registry::lookup;

    #[test]
    fn finalizer_names() {
        let ok = json!({"spec": {"finalizers": ["kubernetes", "example.com/cleanup"]}});
        assert!(validate_finalizers(&ok).is_empty());
        let bad = json!({"spec": {"finalizers": ["cleanup"]}});
        assert_eq!(
            validate_finalizers(&bad)[0].to_string(),
            "spec.finalizers: Invalid value: \"cleanup\": name is neither a standard finalizer name nor is it fully qualified"
        );
    }

    #[test]
    fn updates_keep_finalizers_and_name() {
        let info = lookup("", "v1", "namespaces").unwrap();
        let old = json!({"metadata": {"name": "a"}, "spec": {"finalizers": ["kubernetes"]}});
        let mut new =
            json!({"metadata": {"name": "a", "labels": {"x": "y"}}, "spec": {"finalizers": []}});
        before_update(info, &old, &mut new).unwrap();
        assert_eq!(new["spec"]["finalizers"], json!(["kubernetes"]));
        let mut renamed = json!({"metadata": {"name": "b"}, "spec": {}});
        let err = before_update(info, &old, &mut renamed).unwrap_err();
        assert_eq!(
            err.message,
            "Namespace \"b\" is invalid: metadata.name: Invalid value: \"b\": field is immutable"
        );
    }
}
