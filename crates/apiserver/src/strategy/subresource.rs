//! Updates through the subresources that change one part of an object: a Namespace's
//! `finalize` (its `spec.finalizers`), a Pod's `ephemeralcontainers` (adding debug
//! containers) and `resize` (container cpu and memory), after upstream's
//! `namespaceFinalizeStrategy`, `podEphemeralContainersStrategy` and `podResizeStrategy`.
//!
//! [`project`] keeps everything of the stored object but the part the subresource owns;
//! [`before_update`] validates the result.

use super::common::{check, get, list_of, meta_update_errors, semantic_eq, str_of};
use super::namespace::validate_finalizers;
use super::pod::{defaults, qos_class, validation};
use crate::object;
use serde_json::{Value, json};
use skiff_core::registry::ResourceInfo;
use skiff_core::status::{ApiError, FieldError};

/// The stored object `current` with only what subresource `sub` may change taken from
/// `new` (and `new`'s managed fields, which record the write).
pub fn project(sub: &str, current: &Value, new: &Value) -> Value {
    let mut out = current.clone();
    match object::meta(new).get("managedFields") {
        Some(m) => object::set_meta(&mut out, "managedFields", m.clone()),
        None => object::remove_meta(&mut out, "managedFields"),
    }
    match sub {
        "ephemeralcontainers" => {
            let ecs = get(new, "spec")
                .and_then(|s| s.get("ephemeralContainers"))
                .cloned();
            if let Some(spec) = out.get_mut("spec").and_then(Value::as_object_mut) {
                match ecs {
                    Some(e) => spec.insert("ephemeralContainers".into(), e),
                    None => spec.remove("ephemeralContainers"),
                };
            }
        }
        "resize" => {
            let new_spec = get(new, "spec").cloned().unwrap_or(Value::Null);
            for kind in ["containers", "initContainers"] {
                let incoming = list_of(&new_spec, kind);
                let Some(items) = out
                    .get_mut("spec")
                    .and_then(|s| s.get_mut(kind))
                    .and_then(Value::as_array_mut)
                else {
                    continue;
                };
                for c in items.iter_mut() {
                    // Only restartable (sidecar) init containers are resized.
                    if kind == "initContainers" && str_of(c, "restartPolicy") != "Always" {
                        continue;
                    }
                    let name = str_of(c, "name").to_owned();
                    let Some(n) = incoming.iter().find(|n| str_of(n, "name") == name) else {
                        continue;
                    };
                    let Some(m) = c.as_object_mut() else { continue };
                    for field in ["resources", "resizePolicy"] {
                        match n.get(field) {
                            Some(v) => m.insert(field.into(), v.clone()),
                            None => m.remove(field),
                        };
                    }
                }
            }
        }
        _ => {}
    }
    out
}

/// Defaults and validates an update through subresource `sub` of `old` to `new`.
pub fn before_update(
    sub: &str,
    info: &ResourceInfo,
    old: &Value,
    new: &mut Value,
) -> Result<(), ApiError> {
    let mut errs = meta_update_errors(old, new);
    match sub {
        "finalize" => errs.extend(validate_finalizers(new)),
        "ephemeralcontainers" => {
            if let Some(spec) = new.get_mut("spec") {
                defaults::default_pod_spec(spec);
            }
            let spec = get(new, "spec").cloned().unwrap_or(Value::Null);
            let old_spec = get(old, "spec").cloned().unwrap_or(Value::Null);
            errs.extend(ephemeral_update_errors(&spec, &old_spec));
            errs.extend(validation::validate_pod_spec(&spec, "spec"));
            errs.extend(validation::validate_ephemeral_containers(&spec, "spec"));
        }
        "resize" => {
            if let Some(spec) = new.get_mut("spec") {
                defaults::default_pod_spec(spec);
            }
            let spec = get(new, "spec").cloned().unwrap_or(Value::Null);
            let old_spec = get(old, "spec").cloned().unwrap_or(Value::Null);
            errs.extend(validation::validate_pod_spec(&spec, "spec"));
            errs.extend(resize_errors(&spec, &old_spec));
        }
        _ => {}
    }
    check(info, new, &errs)
}

/// Existing ephemeral containers may be neither removed nor changed.
fn ephemeral_update_errors(new: &Value, old: &Value) -> Vec<FieldError> {
    let mut errs = Vec::new();
    let news = list_of(new, "ephemeralContainers");
    for o in list_of(old, "ephemeralContainers") {
        let name = str_of(o, "name");
        match news.iter().find(|n| str_of(n, "name") == name) {
            None => errs.push(FieldError::forbidden(
                "spec.ephemeralContainers",
                format!("existing ephemeral containers {name:?} may not be removed\n"),
            )),
            Some(n) if !semantic_eq(Some(n), Some(o)) => errs.push(FieldError::forbidden(
                "spec.ephemeralContainers",
                format!("existing ephemeral containers {name:?} may not be changed\n"),
            )),
            Some(_) => {}
        }
    }
    errs
}

/// Upstream's resize rules: the QoS class stays, only cpu and memory change, and no
/// request or limit is removed.
fn resize_errors(new: &Value, old: &Value) -> Vec<FieldError> {
    let mut errs = Vec::new();
    let old_qos = qos_class(old);
    if qos_class(new) != old_qos {
        errs.push(FieldError::invalid(
            "spec",
            json!(old_qos),
            "Pod QOS Class may not change as a result of resizing",
        ));
    }
    for (i, c) in list_of(new, "containers").iter().enumerate() {
        let Some(o) = list_of(old, "containers")
            .iter()
            .find(|o| str_of(o, "name") == str_of(c, "name"))
        else {
            continue;
        };
        let path = format!("spec.containers[{i}].resources");
        for part in ["requests", "limits"] {
            let list = |v: &Value| {
                get(v, "resources")
                    .and_then(|r| r.get(part))
                    .and_then(Value::as_object)
                    .cloned()
                    .unwrap_or_default()
            };
            let (nl, ol) = (list(c), list(o));
            for (name, v) in &ol {
                match nl.get(name) {
                    None => errs.push(FieldError::forbidden(
                        format!("{path}.{part}[{name}]"),
                        "resource removal is not supported",
                    )),
                    Some(n) if !matches!(name.as_str(), "cpu" | "memory") && n != v => {
                        errs.push(FieldError::forbidden(
                            format!("{path}.{part}[{name}]"),
                            "only cpu and memory resources are mutable",
                        ))
                    }
                    Some(_) => {}
                }
            }
            for name in nl.keys() {
                if !ol.contains_key(name) && !matches!(name.as_str(), "cpu" | "memory") {
                    errs.push(FieldError::forbidden(
                        format!("{path}.{part}[{name}]"),
                        "only cpu and memory resources are mutable",
                    ));
                }
            }
        }
    }
    errs
}

#[cfg(test)]
mod tests {
    use super::*;
    use skiff_core::registry::lookup;

    fn pod() -> Value {
        json!({
            "metadata": {"name": "p", "namespace": "d", "uid": "u"},
            "spec": {"containers": [{"name": "c", "image": "i",
                "resources": {"requests": {"cpu": "100m", "memory": "64Mi"}}}]},
            "status": {"phase": "Running"}
        })
    }

    #[test]
    fn ephemeral_containers_are_added_but_never_changed() {
        let info = lookup("", "v1", "pods").unwrap();
        let old = pod();
        let mut body = pod();
        body["spec"]["ephemeralContainers"] = json!([{"name": "dbg", "image": "busybox",
            "targetContainerName": "c"}]);
        // Other spec changes in the body are ignored.
        body["spec"]["containers"][0]["image"] = json!("other");
        let mut new = project("ephemeralcontainers", &old, &body);
        assert_eq!(new["spec"]["containers"][0]["image"], "i");
        before_update("ephemeralcontainers", info, &old, &mut new).unwrap();
        assert_eq!(new["spec"]["ephemeralContainers"][0]["name"], "dbg");

        let mut changed = new.clone();
        changed["spec"]["ephemeralContainers"][0]["image"] = json!("alpine");
        let err = before_update("ephemeralcontainers", info, &new, &mut changed).unwrap_err();
        assert!(
            err.message
                .contains("existing ephemeral containers \"dbg\" may not be changed")
        );

        let mut bad = pod();
        bad["spec"]["ephemeralContainers"] = json!([{"name": "c", "image": "b",
            "ports": [{"containerPort": 80}], "targetContainerName": "nope"}]);
        let mut bad = project("ephemeralcontainers", &old, &bad);
        let err = before_update("ephemeralcontainers", info, &old, &mut bad).unwrap_err();
        let text = err.message;
        assert!(
            text.contains("spec.ephemeralContainers[0].name: Duplicate value: \"c\""),
            "{text}"
        );
        assert!(
            text.contains("spec.ephemeralContainers[0].targetContainerName: Not found: \"nope\""),
            "{text}"
        );
        assert!(text.contains("spec.ephemeralContainers[0].ports: Forbidden: cannot be set for an Ephemeral Container"), "{text}");
    }

    #[test]
    fn resize_changes_only_resources_and_keeps_qos() {
        let info = lookup("", "v1", "pods").unwrap();
        let old = pod();
        let mut body = pod();
        body["spec"]["containers"][0]["resources"]["requests"]["cpu"] = json!("200m");
        body["spec"]["containers"][0]["image"] = json!("ignored");
        let mut new = project("resize", &old, &body);
        assert_eq!(new["spec"]["containers"][0]["image"], "i");
        before_update("resize", info, &old, &mut new).unwrap();
        assert_eq!(
            new["spec"]["containers"][0]["resources"]["requests"]["cpu"],
            "200m"
        );

        let mut removed = pod();
        removed["spec"]["containers"][0]["resources"] = json!({"requests": {"cpu": "1"}});
        let mut removed = project("resize", &old, &removed);
        let err = before_update("resize", info, &old, &mut removed).unwrap_err();
        assert!(
            err.message.contains("resource removal is not supported"),
            "{}",
            err.message
        );

        let mut guaranteed = pod();
        guaranteed["spec"]["containers"][0]["resources"] = json!({
            "requests": {"cpu": "100m", "memory": "64Mi"},
            "limits": {"cpu": "100m", "memory": "64Mi"}});
        let mut guaranteed = project("resize", &old, &guaranteed);
        let err = before_update("resize", info, &old, &mut guaranteed).unwrap_err();
        assert!(
            err.message
                .contains("Pod QOS Class may not change as a result of resizing")
        );
    }

    #[test]
    fn finalize_validates_finalizer_names() {
        let info = lookup("", "v1", "namespaces").unwrap();
        let old = json!({"metadata": {"name": "n"}, "spec": {"finalizers": ["kubernetes"]}});
        let mut ok = json!({"metadata": {"name": "n"}, "spec": {"finalizers": []}});
        before_update("finalize", info, &old, &mut ok).unwrap();
        assert_eq!(ok["spec"]["finalizers"], json!([]));
        let mut bad = json!({"metadata": {"name": "n"}, "spec": {"finalizers": ["x"]}});
        assert!(before_update("finalize", info, &old, &mut bad).is_err());
    }
}
