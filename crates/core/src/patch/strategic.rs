//! Strategic merge patch (`application/strategic-merge-patch+json`) for the built-in kinds.
//!
//! Like a JSON merge patch, except for lists: a list with a merge key (containers by `name`,
//! container ports by `containerPort`, conditions by `type`, ...) is merged element by element,
//! and a few primitive lists (`metadata.finalizers`) are merged as sets. The directives upstream
//! defines are honoured: `$patch: replace|delete|merge`, `$retainKeys`,
//! `$setElementOrder/<list>` and `$deleteFromPrimitiveList/<list>`.
//!
//! The merge keys come from the `patchStrategy`/`patchMergeKey` tags of upstream's API types,
//! looked up by field path (see [`list_strategy`]).

use super::PatchError;
use serde_json::{Map, Value};

/// How a list field is patched.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ListStrategy {
    /// The patch's list replaces the original (the default).
    Replace,
    /// Elements are matched by this key and merged.
    MergeByKey(&'static str),
    /// Primitive values are merged as a set (original order kept, new values appended).
    MergePrimitive,
}

const POD_CONTAINER_LISTS: &[&str] = &["containers", "initContainers", "ephemeralContainers"];

/// The strategy of the list at `path` (field names from the object root, no indices) in an
/// object of `kind`.
pub fn list_strategy(kind: &str, path: &[String]) -> ListStrategy {
    let Some(last) = path.last().map(String::as_str) else {
        return ListStrategy::Replace;
    };
    let parent = path.len().checked_sub(2).map(|i| path[i].as_str());
    match last {
        "finalizers" if path.len() == 2 && path[0] == "metadata" => ListStrategy::MergePrimitive,
        "ownerReferences" if parent == Some("metadata") => ListStrategy::MergeByKey("uid"),
        "containers"
        | "initContainers"
        | "ephemeralContainers"
        | "volumes"
        | "imagePullSecrets"
        | "resourceClaims"
        | "schedulingGates" => ListStrategy::MergeByKey("name"),
        "hostAliases" => ListStrategy::MergeByKey("ip"),
        "topologySpreadConstraints" => ListStrategy::MergeByKey("topologyKey"),
        "env" | "volumeMounts" | "volumeDevices" | "ports"
            if parent.is_some_and(|p| POD_CONTAINER_LISTS.contains(&p)) =>
        {
            match last {
                "env" => ListStrategy::MergeByKey("name"),
                "volumeMounts" => ListStrategy::MergeByKey("mountPath"),
                "volumeDevices" => ListStrategy::MergeByKey("devicePath"),
                _ => ListStrategy::MergeByKey("containerPort"),
            }
        }
        "ports" if kind == "Service" && path.len() == 2 && path[0] == "spec" => {
            ListStrategy::MergeByKey("port")
        }
        "conditions" if path.first().is_some_and(|p| p == "status") => {
            ListStrategy::MergeByKey("type")
        }
        "addresses" if kind == "Node" && path.len() == 2 && path[0] == "status" => {
            ListStrategy::MergeByKey("type")
        }
        "secrets" if kind == "ServiceAccount" && path.len() == 1 => {
            ListStrategy::MergeByKey("name")
        }
        _ => ListStrategy::Replace,
    }
}

/// Applies a strategic merge patch to `doc`, an object of `kind`. On error `doc` is unchanged.
pub fn apply(doc: &mut Value, patch: &Value, kind: &str) -> Result<(), PatchError> {
    let Value::Object(p) = patch else {
        return Err(PatchError::InvalidPatch(
            "a strategic merge patch must be a JSON object".into(),
        ));
    };
    let mut out = doc.clone();
    match &mut out {
        Value::Object(o) => merge_map(o, p, &mut Vec::new(), kind)?,
        other => {
            let mut o = Map::new();
            merge_map(&mut o, p, &mut Vec::new(), kind)?;
            *other = Value::Object(o);
        }
    }
    *doc = out;
    Ok(())
}

fn invalid(msg: impl Into<String>) -> PatchError {
    PatchError::InvalidPatch(msg.into())
}

fn merge_map(
    orig: &mut Map<String, Value>,
    patch: &Map<String, Value>,
    path: &mut Vec<String>,
    kind: &str,
) -> Result<(), PatchError> {
    match patch.get("$patch") {
        None | Some(Value::Null) => {}
        Some(Value::String(d)) if d == "replace" => {
            let mut replaced = Map::new();
            for (k, v) in patch {
                if !k.starts_with('$') {
                    replaced.insert(k.clone(), strip_directives(v));
                }
            }
            *orig = replaced;
            return Ok(());
        }
        Some(Value::String(d)) if d == "merge" => {}
        Some(Value::String(d)) if d == "delete" => {
            orig.clear();
            return Ok(());
        }
        Some(other) => return Err(invalid(format!("unknown patch type: {other}"))),
    }
    let mut orders: Vec<(String, Vec<Value>)> = Vec::new();
    for (key, value) in patch {
        if key == "$patch" {
            continue;
        }
        if key == "$retainKeys" {
            continue;
        }
        if let Some(field) = key.strip_prefix("$setElementOrder/") {
            let Value::Array(order) = value else {
                return Err(invalid(format!("{key} must be a list")));
            };
            orders.push((field.to_owned(), order.clone()));
            continue;
        }
        if let Some(field) = key.strip_prefix("$deleteFromPrimitiveList/") {
            let Value::Array(doomed) = value else {
                return Err(invalid(format!("{key} must be a list")));
            };
            if let Some(Value::Array(list)) = orig.get_mut(field) {
                list.retain(|v| !doomed.contains(v));
            }
            continue;
        }
        if key.starts_with('$') {
            return Err(invalid(format!("unknown patch directive {key}")));
        }
        path.push(key.clone());
        match value {
            Value::Null => {
                orig.remove(key);
            }
            Value::Object(pm) => {
                let deletes = pm.get("$patch").and_then(Value::as_str) == Some("delete");
                if deletes {
                    orig.remove(key);
                } else {
                    match orig.get_mut(key) {
                        Some(Value::Object(om)) => merge_map(om, pm, path, kind)?,
                        _ => {
                            let mut fresh = Map::new();
                            merge_map(&mut fresh, pm, path, kind)?;
                            orig.insert(key.clone(), Value::Object(fresh));
                        }
                    }
                }
            }
            Value::Array(pl) => {
                let strategy = list_strategy(kind, path);
                let merged = match orig.remove(key) {
                    Some(Value::Array(ol)) => merge_list(ol, pl, strategy, path, kind)?,
                    _ => merge_list(Vec::new(), pl, strategy, path, kind)?,
                };
                orig.insert(key.clone(), Value::Array(merged));
            }
            other => {
                orig.insert(key.clone(), other.clone());
            }
        }
        path.pop();
    }
    for (field, order) in orders {
        path.push(field.clone());
        let strategy = list_strategy(kind, path);
        path.pop();
        if let Some(Value::Array(list)) = orig.get_mut(&field) {
            reorder(list, &order, strategy);
        }
    }
    if let Some(retain) = patch.get("$retainKeys") {
        let Value::Array(keys) = retain else {
            return Err(invalid("$retainKeys must be a list"));
        };
        let keep: Vec<&str> = keys.iter().filter_map(Value::as_str).collect();
        orig.retain(|k, _| keep.contains(&k.as_str()));
    }
    Ok(())
}

fn merge_list(
    mut orig: Vec<Value>,
    patch: &[Value],
    strategy: ListStrategy,
    path: &mut Vec<String>,
    kind: &str,
) -> Result<Vec<Value>, PatchError> {
    // `{"$patch": "replace"}` as an element replaces the whole list with the other elements.
    if patch
        .iter()
        .any(|e| e.get("$patch").and_then(Value::as_str) == Some("replace"))
    {
        return Ok(patch
            .iter()
            .filter(|e| e.get("$patch").is_none())
            .map(strip_directives)
            .collect());
    }
    match strategy {
        ListStrategy::Replace => Ok(patch.iter().map(strip_directives).collect()),
        ListStrategy::MergePrimitive => {
            for v in patch {
                if !orig.contains(v) {
                    orig.push(v.clone());
                }
            }
            Ok(orig)
        }
        ListStrategy::MergeByKey(merge_key) => {
            for element in patch {
                let Value::Object(pe) = element else {
                    return Err(invalid(format!(
                        "list {} is merged by {merge_key:?}, but an element is not an object",
                        path.join(".")
                    )));
                };
                let Some(id) = pe.get(merge_key) else {
                    return Err(invalid(format!(
                        "map: {pe:?} does not contain declared merge key: {merge_key}"
                    )));
                };
                let pos = orig.iter().position(|o| o.get(merge_key) == Some(id));
                match pe.get("$patch").and_then(Value::as_str) {
                    Some("delete") => {
                        orig.retain(|o| o.get(merge_key) != Some(id));
                    }
                    _ => match pos {
                        Some(i) => {
                            if let Value::Object(om) = &mut orig[i] {
                                merge_map(om, pe, path, kind)?;
                            }
                        }
                        None => {
                            let mut fresh = Map::new();
                            merge_map(&mut fresh, pe, path, kind)?;
                            orig.push(Value::Object(fresh));
                        }
                    },
                }
            }
            Ok(orig)
        }
    }
}

/// Orders `list` as `order` says; elements not named keep their relative order at the end.
fn reorder(list: &mut Vec<Value>, order: &[Value], strategy: ListStrategy) {
    let id = |v: &Value| -> Value {
        match strategy {
            ListStrategy::MergeByKey(k) => v.get(k).cloned().unwrap_or(Value::Null),
            _ => v.clone(),
        }
    };
    let wanted: Vec<Value> = order.iter().map(&id).collect();
    let mut ordered = Vec::with_capacity(list.len());
    for w in &wanted {
        if let Some(i) = list.iter().position(|v| &id(v) == w) {
            ordered.push(list.remove(i));
        }
    }
    ordered.append(list);
    *list = ordered;
}

/// A patch value with every directive key removed (what ends up stored).
fn strip_directives(v: &Value) -> Value {
    match v {
        Value::Object(m) => Value::Object(
            m.iter()
                .filter(|(k, _)| !k.starts_with('$'))
                .map(|(k, v)| (k.clone(), strip_directives(v)))
                .collect(),
        ),
        Value::Array(a) => Value::Array(a.iter().map(strip_directives).collect()),
        other => other.clone(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn patched(kind: &str, doc: Value, patch: Value) -> Value {
        let mut d = doc;
        apply(&mut d, &patch, kind).unwrap();
        d
    }

    #[test]
    fn containers_merge_by_name_and_env_by_name() {
        let doc = json!({"spec": {"template": {"spec": {"containers": [
            {"name": "a", "image": "a:1", "env": [{"name": "X", "value": "1"}]},
            {"name": "b", "image": "b:1"}
        ]}}}});
        let out = patched(
            "Deployment",
            doc,
            json!({"spec": {"template": {"spec": {"containers": [
                {"name": "a", "image": "a:2", "env": [{"name": "Y", "value": "2"}]}
            ]}}}}),
        );
        let cs = &out["spec"]["template"]["spec"]["containers"];
        assert_eq!(cs.as_array().unwrap().len(), 2);
        assert_eq!(cs[0]["image"], "a:2");
        assert_eq!(
            cs[0]["env"],
            json!([{"name": "X", "value": "1"}, {"name": "Y", "value": "2"}])
        );
        assert_eq!(cs[1]["image"], "b:1");
    }

    #[test]
    fn delete_replace_and_order_directives() {
        let doc = json!({"spec": {"containers": [{"name": "a"}, {"name": "b"}, {"name": "c"}],
                                  "tolerations": [{"key": "x"}]}});
        let out = patched(
            "Pod",
            doc.clone(),
            json!({"spec": {
                "$setElementOrder/containers": [{"name": "c"}, {"name": "a"}],
                "containers": [{"name": "b", "$patch": "delete"}],
                "tolerations": [{"key": "y"}]
            }}),
        );
        assert_eq!(
            out["spec"]["containers"],
            json!([{"name": "c"}, {"name": "a"}])
        );
        // Lists without a merge key are replaced.
        assert_eq!(out["spec"]["tolerations"], json!([{"key": "y"}]));
        let replaced = patched(
            "Pod",
            doc,
            json!({"spec": {"containers": [{"name": "z"}, {"$patch": "replace"}]}}),
        );
        assert_eq!(replaced["spec"]["containers"], json!([{"name": "z"}]));
    }

    #[test]
    fn maps_retain_keys_null_deletes_and_primitive_sets() {
        let doc = json!({"metadata": {"labels": {"a": "1", "b": "2"}, "finalizers": ["x"]},
                         "spec": {"strategy": {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": 1}}}});
        let out = patched(
            "Deployment",
            doc,
            json!({
                "metadata": {"labels": {"a": null, "c": "3"}, "finalizers": ["y", "x"]},
                "spec": {"strategy": {"$retainKeys": ["type"], "type": "Recreate"}}
            }),
        );
        assert_eq!(out["metadata"]["labels"], json!({"b": "2", "c": "3"}));
        assert_eq!(out["metadata"]["finalizers"], json!(["x", "y"]));
        assert_eq!(out["spec"]["strategy"], json!({"type": "Recreate"}));
        let out = patched(
            "Pod",
            json!({"metadata": {"finalizers": ["a", "b"]}}),
            json!({"metadata": {"$deleteFromPrimitiveList/finalizers": ["a"]}}),
        );
        assert_eq!(out["metadata"]["finalizers"], json!(["b"]));
    }

    #[test]
    fn service_ports_merge_by_port_and_container_ports_by_container_port() {
        let out = patched(
            "Service",
            json!({"spec": {"ports": [{"port": 80, "name": "http"}, {"port": 443}]}}),
            json!({"spec": {"ports": [{"port": 80, "targetPort": 8080}]}}),
        );
        assert_eq!(
            out["spec"]["ports"][0],
            json!({"port": 80, "name": "http", "targetPort": 8080})
        );
        assert_eq!(out["spec"]["ports"].as_array().unwrap().len(), 2);
        assert_eq!(
            list_strategy("Pod", &["spec".into(), "containers".into(), "ports".into()]),
            ListStrategy::MergeByKey("containerPort")
        );
        assert_eq!(
            list_strategy("Endpoints", &["subsets".into(), "ports".into()]),
            ListStrategy::Replace
        );
    }

    #[test]
    fn bad_patches_are_errors_and_change_nothing() {
        let doc = json!({"spec": {"containers": [{"name": "a"}]}});
        let mut d = doc.clone();
        assert!(
            apply(
                &mut d,
                &json!({"spec": {"containers": [{"image": "x"}]}}),
                "Pod"
            )
            .is_err()
        );
        assert!(apply(&mut d, &json!({"$bogus": 1}), "Pod").is_err());
        assert!(apply(&mut d, &json!([1]), "Pod").is_err());
        assert_eq!(d, doc);
    }
}
