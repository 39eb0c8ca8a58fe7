//! What the API server knows of each built-in kind through its `k8s-openapi` type: whether a
//! body decodes (a field of the wrong JSON type is a 400, as upstream's decoder makes it),
//! which fields are unknown (`fieldValidation`), and the OpenAPI schema.

use schemars::{Schema, SchemaGenerator};
use serde::{Serialize, de::DeserializeOwned};
use serde_json::Value;
use skiff_core::registry::ResourceInfo;

/// Operations on one kind.
#[derive(Clone, Copy)]
pub struct KindOps {
    /// Decodes a body into the type and encodes it back (unknown fields drop out).
    pub roundtrip: fn(&Value) -> Result<Value, String>,
    /// Registers the type's schema with a generator and returns a reference to it.
    pub schema: fn(&mut SchemaGenerator) -> Schema,
}

fn roundtrip<T: DeserializeOwned + Serialize>(v: &Value) -> Result<Value, String> {
    let typed: T = serde_json::from_value(v.clone()).map_err(|e| e.to_string())?;
    serde_json::to_value(typed).map_err(|e| e.to_string())
}

fn schema<T: schemars::JsonSchema>(g: &mut SchemaGenerator) -> Schema {
    g.subschema_for::<T>()
}

macro_rules! kinds {
    ($( ($group:literal, $version:literal, $kind:literal) => $ty:ty ),* $(,)?) => {
        /// The operations of a built-in kind.
        pub fn ops(group: &str, version: &str, kind: &str) -> Option<KindOps> {
            use k8s_openapi::api::*;
            match (group, version, kind) {
                $( ($group, $version, $kind) => Some(KindOps {
                    roundtrip: roundtrip::<$ty>,
                    schema: schema::<$ty>,
                }), )*
                _ => None,
            }
        }
    };
}

kinds! {
    ("", "v1", "Binding") => core::v1::Binding,
    ("", "v1", "ConfigMap") => core::v1::ConfigMap,
    ("", "v1", "Endpoints") => core::v1::Endpoints,
    ("", "v1", "Event") => core::v1::Event,
    ("", "v1", "LimitRange") => core::v1::LimitRange,
    ("", "v1", "Namespace") => core::v1::Namespace,
    ("", "v1", "Node") => core::v1::Node,
    ("", "v1", "PersistentVolumeClaim") => core::v1::PersistentVolumeClaim,
    ("", "v1", "PersistentVolume") => core::v1::PersistentVolume,
    ("", "v1", "Pod") => core::v1::Pod,
    ("", "v1", "PodTemplate") => core::v1::PodTemplate,
    ("", "v1", "ReplicationController") => core::v1::ReplicationController,
    ("", "v1", "ResourceQuota") => core::v1::ResourceQuota,
    ("", "v1", "Secret") => core::v1::Secret,
    ("", "v1", "ServiceAccount") => core::v1::ServiceAccount,
    ("", "v1", "Service") => core::v1::Service,
    ("apps", "v1", "ControllerRevision") => apps::v1::ControllerRevision,
    ("apps", "v1", "DaemonSet") => apps::v1::DaemonSet,
    ("apps", "v1", "Deployment") => apps::v1::Deployment,
    ("apps", "v1", "ReplicaSet") => apps::v1::ReplicaSet,
    ("apps", "v1", "StatefulSet") => apps::v1::StatefulSet,
    ("events.k8s.io", "v1", "Event") => events::v1::Event,
    ("authentication.k8s.io", "v1", "SelfSubjectReview") => authentication::v1::SelfSubjectReview,
    ("authentication.k8s.io", "v1", "TokenReview") => authentication::v1::TokenReview,
    ("authorization.k8s.io", "v1", "LocalSubjectAccessReview") => authorization::v1::LocalSubjectAccessReview,
    ("authorization.k8s.io", "v1", "SelfSubjectAccessReview") => authorization::v1::SelfSubjectAccessReview,
    ("authorization.k8s.io", "v1", "SelfSubjectRulesReview") => authorization::v1::SelfSubjectRulesReview,
    ("authorization.k8s.io", "v1", "SubjectAccessReview") => authorization::v1::SubjectAccessReview,
    ("autoscaling", "v2", "HorizontalPodAutoscaler") => autoscaling::v2::HorizontalPodAutoscaler,
    ("autoscaling", "v1", "HorizontalPodAutoscaler") => autoscaling::v1::HorizontalPodAutoscaler,
    ("autoscaling", "v1", "Scale") => autoscaling::v1::Scale,
    ("batch", "v1", "CronJob") => batch::v1::CronJob,
    ("batch", "v1", "Job") => batch::v1::Job,
    ("networking.k8s.io", "v1", "IngressClass") => networking::v1::IngressClass,
    ("networking.k8s.io", "v1", "Ingress") => networking::v1::Ingress,
    ("networking.k8s.io", "v1", "NetworkPolicy") => networking::v1::NetworkPolicy,
    ("policy", "v1", "PodDisruptionBudget") => policy::v1::PodDisruptionBudget,
    ("policy", "v1", "Eviction") => policy::v1::Eviction,
    ("rbac.authorization.k8s.io", "v1", "ClusterRoleBinding") => rbac::v1::ClusterRoleBinding,
    ("rbac.authorization.k8s.io", "v1", "ClusterRole") => rbac::v1::ClusterRole,
    ("rbac.authorization.k8s.io", "v1", "RoleBinding") => rbac::v1::RoleBinding,
    ("rbac.authorization.k8s.io", "v1", "Role") => rbac::v1::Role,
    ("storage.k8s.io", "v1", "CSIDriver") => storage::v1::CSIDriver,
    ("storage.k8s.io", "v1", "CSINode") => storage::v1::CSINode,
    ("storage.k8s.io", "v1", "StorageClass") => storage::v1::StorageClass,
    ("storage.k8s.io", "v1", "VolumeAttachment") => storage::v1::VolumeAttachment,
    ("scheduling.k8s.io", "v1", "PriorityClass") => scheduling::v1::PriorityClass,
    ("coordination.k8s.io", "v1", "Lease") => coordination::v1::Lease,
    ("discovery.k8s.io", "v1", "EndpointSlice") => discovery::v1::EndpointSlice,
}

/// Checks that `obj` decodes as the kind of `info`; the error text names the problem.
pub fn check(info: &ResourceInfo, obj: &Value) -> Result<(), String> {
    match ops(info.gvk.group, info.gvk.version, info.gvk.kind) {
        Some(ops) => (ops.roundtrip)(obj)
            .map(|_| ())
            .map_err(|e| format!("error decoding {} body: {e}", info.gvk.kind)),
        None => Ok(()),
    }
}

/// Fields of `obj` its kind does not have, as upstream names them (`spec.foo`,
/// `spec.containers[0].bar`), after removing them from `obj`.
pub fn prune_unknown(info: &ResourceInfo, obj: &mut Value) -> Result<Vec<String>, String> {
    let Some(ops) = ops(info.gvk.group, info.gvk.version, info.gvk.kind) else {
        return Ok(Vec::new());
    };
    let known =
        (ops.roundtrip)(obj).map_err(|e| format!("error decoding {} body: {e}", info.gvk.kind))?;
    let mut unknown = Vec::new();
    prune(obj, &known, &mut String::new(), &mut unknown);
    Ok(unknown)
}

fn prune(input: &mut Value, known: &Value, path: &mut String, out: &mut Vec<String>) {
    match (input, known) {
        (Value::Object(i), Value::Object(k)) => {
            let keys: Vec<String> = i.keys().cloned().collect();
            for key in keys {
                let len = path.len();
                if !path.is_empty() {
                    path.push('.');
                }
                path.push_str(&key);
                match k.get(&key) {
                    Some(kv) => prune(i.get_mut(&key).expect("listed key"), kv, path, out),
                    None => {
                        // Nulls and empty values vanish in the round trip without being unknown.
                        let v = &i[&key];
                        let empty = v.is_null()
                            || v.as_object().is_some_and(|m| m.is_empty())
                            || v.as_array().is_some_and(|a| a.is_empty());
                        if !empty && !is_empty_default(v) {
                            out.push(path.clone());
                            i.remove(&key);
                        }
                    }
                }
                path.truncate(len);
            }
        }
        (Value::Array(i), Value::Array(k)) => {
            for (idx, (iv, kv)) in i.iter_mut().zip(k.iter()).enumerate() {
                let len = path.len();
                path.push_str(&format!("[{idx}]"));
                prune(iv, kv, path, out);
                path.truncate(len);
            }
        }
        _ => {}
    }
}

/// Values the typed round trip may omit although the field exists (false, 0, "" are written
/// back by k8s-openapi, so only containers of nothing qualify).
fn is_empty_default(v: &Value) -> bool {
    match v {
        Value::Object(m) => m.values().all(|x| x.is_null() || is_empty_default(x)),
        Value::Array(a) => a.is_empty(),
        _ => false,
    }
}

/// One kind's schema with the definitions it refers to.
struct Schemas {
    defs: serde_json::Map<String, Value>,
    root: Value,
}

/// The schema of `info`'s kind, generated the first time the kind is written (so a cold start
/// only pays for the kinds it writes) and kept for the life of the process.
fn schemas_of(info: &ResourceInfo) -> Option<&'static Schemas> {
    type Key = (&'static str, &'static str, &'static str);
    static CACHE: std::sync::OnceLock<
        parking_lot::Mutex<std::collections::HashMap<Key, &'static Schemas>>,
    > = std::sync::OnceLock::new();
    let cache = CACHE.get_or_init(Default::default);
    let key = (info.gvk.group, info.gvk.version, info.gvk.kind);
    if let Some(s) = cache.lock().get(&key) {
        return Some(s);
    }
    let ops = ops(info.gvk.group, info.gvk.version, info.gvk.kind)?;
    let mut g = schemars::generate::SchemaSettings::default().into_generator();
    let root = (ops.schema)(&mut g).to_value();
    let made: &'static Schemas = Box::leak(Box::new(Schemas {
        defs: g.take_definitions(true),
        root,
    }));
    Some(*cache.lock().entry(key).or_insert(made))
}

impl Schemas {
    fn resolve<'a>(&'a self, mut schema: &'a Value) -> &'a Value {
        for _ in 0..8 {
            match schema.get("$ref").and_then(Value::as_str) {
                Some(r) => match r.rsplit('/').next().and_then(|n| self.defs.get(n)) {
                    Some(d) => schema = d,
                    None => return schema,
                },
                None => return schema,
            }
        }
        schema
    }
}

/// Drops optional lists and maps that are empty, as upstream's Go types (`omitempty` slices
/// and maps) never keep them: `labels: {}` or `finalizers: []` are not stored. Empty
/// structs stay (`resources: {}`), as they do upstream; required fields stay.
pub fn drop_empty(info: &ResourceInfo, obj: &mut Value) {
    if let Some(all) = schemas_of(info) {
        drop_empty_at(all, &all.root, obj, 0);
    }
}

fn drop_empty_at(all: &Schemas, schema: &Value, v: &mut Value, depth: usize) {
    if depth > 64 {
        return;
    }
    let schema = all.resolve(schema);
    match v {
        Value::Object(m) => {
            if let Some(props) = schema.get("properties").and_then(Value::as_object) {
                let required: Vec<&str> = schema
                    .get("required")
                    .and_then(Value::as_array)
                    .map(|r| r.iter().filter_map(Value::as_str).collect())
                    .unwrap_or_default();
                let keys: Vec<String> = m.keys().cloned().collect();
                for k in keys {
                    let Some(sub) = props.get(&k) else { continue };
                    let sub = all.resolve(sub);
                    let child = m.get_mut(&k).expect("listed key");
                    drop_empty_at(all, sub, child, depth + 1);
                    if required.contains(&k.as_str()) {
                        continue;
                    }
                    let is_map = sub.get("properties").is_none()
                        && sub.get("additionalProperties").is_some();
                    let empty = match &*child {
                        Value::Array(a) => a.is_empty(),
                        Value::Object(o) => o.is_empty() && is_map,
                        _ => false,
                    };
                    if empty {
                        m.remove(&k);
                    }
                }
            } else if let Some(items) = schema.get("additionalProperties").filter(|s| s.is_object())
            {
                for child in m.values_mut() {
                    drop_empty_at(all, items, child, depth + 1);
                }
            }
        }
        Value::Array(a) => {
            if let Some(items) = schema.get("items") {
                for child in a.iter_mut() {
                    drop_empty_at(all, items, child, depth + 1);
                }
            }
        }
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;
    use skiff_core::registry::lookup;

    #[test]
    fn wrong_json_types_are_reported() {
        let d = lookup("apps", "v1", "deployments").unwrap();
        let ok = json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "a"},
            "spec": {"replicas": 2, "selector": {"matchLabels": {"a": "b"}},
                     "template": {"spec": {"containers": [{"name": "c", "image": "i"}]}}}});
        assert!(check(d, &ok).is_ok());
        let bad = json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "a"},
            "spec": {"replicas": "two"}});
        assert!(check(d, &bad).unwrap_err().contains("Deployment"));
        let cm = lookup("", "v1", "configmaps").unwrap();
        assert!(check(cm, &json!({"metadata": {"name": "c"}, "data": {"k": "v"}})).is_ok());
        assert!(check(cm, &json!({"metadata": {"name": "c"}, "data": {"k": 1}})).is_err());
    }

    #[test]
    fn unknown_fields_are_named_with_upstream_paths_and_removed() {
        let d = lookup("apps", "v1", "deployments").unwrap();
        let mut obj = json!({"apiVersion": "apps/v1", "kind": "Deployment",
            "metadata": {"name": "a", "labels": {}, "bogus": 1},
            "spec": {"replicas": 2, "paused": false, "foo": "x", "selector": {"matchLabels": {"a": "b"}},
                     "template": {"spec": {"containers": [{"name": "c", "image": "i", "bar": true}]}}}});
        let unknown = prune_unknown(d, &mut obj).unwrap();
        assert_eq!(
            unknown,
            vec![
                "metadata.bogus",
                "spec.foo",
                "spec.template.spec.containers[0].bar"
            ]
        );
        assert!(obj["spec"].get("foo").is_none());
        assert_eq!(obj["spec"]["paused"], false);
        assert_eq!(obj["metadata"]["labels"], json!({}));
        let mut clean = json!({"metadata": {"name": "c"}, "data": {"k": "v"}});
        let cm = lookup("", "v1", "configmaps").unwrap();
        assert!(prune_unknown(cm, &mut clean).unwrap().is_empty());
    }

    #[test]
    fn empty_optional_lists_and_maps_are_dropped() {
        let d = lookup("apps", "v1", "deployments").unwrap();
        let mut obj = json!({"metadata": {"name": "a", "labels": {}, "finalizers": []},
            "spec": {"selector": {"matchLabels": {"a": "b"}, "matchExpressions": []},
                     "strategy": {},
                     "template": {"metadata": {"annotations": {}},
                                  "spec": {"containers": [{"name": "c", "image": "i", "args": [],
                                                           "resources": {}, "env": []}],
                                           "volumes": []}}}});
        drop_empty(d, &mut obj);
        assert_eq!(
            obj,
            json!({"metadata": {"name": "a"},
            "spec": {"selector": {"matchLabels": {"a": "b"}},
                     "strategy": {},
                     "template": {"metadata": {},
                                  "spec": {"containers": [{"name": "c", "image": "i",
                                                           "resources": {}}]}}}})
        );
        // Required lists stay, even empty.
        let p = lookup("", "v1", "pods").unwrap();
        let mut pod = json!({"metadata": {"name": "p"}, "spec": {"containers": []}});
        drop_empty(p, &mut pod);
        assert_eq!(pod["spec"]["containers"], json!([]));
        let ns = lookup("", "v1", "namespaces").unwrap();
        let mut n = json!({"metadata": {"name": "n"}, "spec": {"finalizers": []}});
        drop_empty(ns, &mut n);
        assert_eq!(n["spec"], json!({}));
    }

    #[test]
    fn every_registered_kind_has_operations() {
        for r in skiff_core::registry::all() {
            assert!(
                ops(r.gvk.group, r.gvk.version, r.gvk.kind).is_some(),
                "{r:?}"
            );
        }
    }
}
