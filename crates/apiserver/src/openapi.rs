//! OpenAPI v3 documents, one per group version, generated from the `k8s-openapi` types:
//! `kubectl apply|create|replace|edit` read them to learn that the server validates fields
//! (`fieldValidation` on PATCH), and `kubectl explain` renders their schemas.
//!
//! The PATCH operations do not list `application/strategic-merge-patch+json`: kubectl then
//! computes strategic merge patches from its compiled-in types, whose merge keys are exact.
//! `/openapi/v2` is not served (404), as kubectl only asks it for protobuf.

use crate::typed;
use bytes::Bytes;
use parking_lot::Mutex;
use schemars::generate::SchemaSettings;
use serde_json::{Map, Value, json};
use skiff_core::registry::{self, ResourceInfo};
use std::collections::HashMap;
use std::sync::{Arc, OnceLock};

/// A rendered document and its hash (used in URLs and as the ETag).
#[derive(Clone)]
pub struct Doc {
    /// The JSON bytes.
    pub body: Bytes,
    /// Upper-case hex hash of the body.
    pub hash: String,
}

fn hash_of(body: &[u8]) -> String {
    let h = body.iter().fold(0xcbf2_9ce4_8422_2325u64, |h, b| {
        (h ^ u64::from(*b)).wrapping_mul(0x0100_0000_01b3)
    });
    format!("{h:016X}")
}

/// The group-version path of a document: `api/v1` or `apis/<group>/<version>`.
pub fn gv_path(group: &str, version: &str) -> String {
    if group.is_empty() {
        format!("api/{version}")
    } else {
        format!("apis/{group}/{version}")
    }
}

fn cache() -> &'static Mutex<HashMap<String, Arc<Doc>>> {
    static CACHE: OnceLock<Mutex<HashMap<String, Arc<Doc>>>> = OnceLock::new();
    CACHE.get_or_init(|| Mutex::new(HashMap::new()))
}

/// The document of one group version (`None` when it is not served).
pub fn document(gv_path_str: &str) -> Option<Arc<Doc>> {
    if let Some(d) = cache().lock().get(gv_path_str) {
        return Some(d.clone());
    }
    let (group, version) = match gv_path_str.split('/').collect::<Vec<_>>().as_slice() {
        ["api", v] => (String::new(), (*v).to_owned()),
        ["apis", g, v] => ((*g).to_owned(), (*v).to_owned()),
        _ => return None,
    };
    let resources: Vec<&ResourceInfo> = registry::resources_of(&group, &version).collect();
    if resources.is_empty() {
        return None;
    }
    let value = build(&group, &version, &resources);
    let body = Bytes::from(serde_json::to_vec(&value).ok()?);
    let doc = Arc::new(Doc {
        hash: hash_of(&body),
        body,
    });
    cache().lock().insert(gv_path_str.to_owned(), doc.clone());
    Some(doc)
}

/// The `/openapi/v3` index.
pub fn index() -> Value {
    let mut paths = Map::new();
    for g in registry::groups() {
        for v in &g.versions {
            let p = gv_path(g.name, v);
            if let Some(doc) = document(&p) {
                paths.insert(
                    p.clone(),
                    json!({"serverRelativeURL": format!("/openapi/v3/{p}?hash={}", doc.hash)}),
                );
            }
        }
    }
    json!({"paths": paths})
}

fn gvk_json(info: &ResourceInfo) -> Value {
    json!({"group": info.gvk.group, "version": info.gvk.version, "kind": info.gvk.kind})
}

fn param(name: &str, location: &str, required: bool) -> Value {
    json!({"name": name, "in": location, "required": required, "schema": {"type": "string"}, "uniqueItems": true})
}

fn op(info: &ResourceInfo, action: &str, params: &[&str], body: Option<Value>) -> Value {
    let mut o = json!({
        "operationId": format!("{action}{}", info.gvk.kind),
        "x-kubernetes-action": action,
        "x-kubernetes-group-version-kind": gvk_json(info),
        "parameters": params.iter().map(|p| param(p, "query", false)).collect::<Vec<_>>(),
        "responses": {"200": {"description": "OK"}, "401": {"description": "Unauthorized"}},
    });
    if let Some(b) = body {
        o["requestBody"] = b;
    }
    o
}

fn build(group: &str, version: &str, resources: &[&ResourceInfo]) -> Value {
    let mut generator = SchemaSettings::openapi3().into_generator();
    let mut kinds: Vec<(String, &ResourceInfo)> = Vec::new();
    let mut paths = Map::new();
    let prefix = format!("/{}", gv_path(group, version));
    for info in resources {
        if let Some(ops) = typed::ops(info.gvk.group, info.gvk.version, info.gvk.kind) {
            let r = (ops.schema)(&mut generator);
            if let Some(name) = r
                .get("$ref")
                .and_then(Value::as_str)
                .and_then(|s| s.rsplit('/').next())
            {
                kinds.push((name.to_owned(), info));
            }
        }
        let schema_ref = |name: &str| json!({"$ref": format!("#/components/schemas/{name}")});
        let body_schema = kinds
            .iter()
            .find(|(_, i)| std::ptr::eq(*i, *info))
            .map(|(n, _)| schema_ref(n))
            .unwrap_or_else(|| json!({"type": "object"}));
        let json_body = json!({"content": {"application/json": {"schema": body_schema}, "application/yaml": {"schema": body_schema}}, "required": true});
        let patch_body = json!({"content": {
            "application/apply-patch+yaml": {"schema": {"type": "object"}},
            "application/json-patch+json": {"schema": {"type": "object"}},
            "application/merge-patch+json": {"schema": {"type": "object"}},
        }, "required": true});
        let collection = if info.namespaced {
            format!("{prefix}/namespaces/{{namespace}}/{}", info.plural)
        } else {
            format!("{prefix}/{}", info.plural)
        };
        let item = format!("{collection}/{{name}}");
        let mut coll_ops = Map::new();
        let mut item_ops = Map::new();
        let write_params = ["dryRun", "fieldManager", "fieldValidation", "pretty"];
        if info.allows("create") {
            coll_ops.insert(
                "post".into(),
                op(info, "post", &write_params, Some(json_body.clone())),
            );
        }
        if info.allows("list") {
            coll_ops.insert(
                "get".into(),
                op(
                    info,
                    "list",
                    &[
                        "allowWatchBookmarks",
                        "continue",
                        "fieldSelector",
                        "labelSelector",
                        "limit",
                        "resourceVersion",
                        "resourceVersionMatch",
                        "sendInitialEvents",
                        "timeoutSeconds",
                        "watch",
                    ],
                    None,
                ),
            );
        }
        if info.allows("deletecollection") {
            coll_ops.insert(
                "delete".into(),
                op(
                    info,
                    "deletecollection",
                    &["dryRun", "gracePeriodSeconds", "propagationPolicy"],
                    None,
                ),
            );
        }
        if info.allows("get") {
            item_ops.insert("get".into(), op(info, "get", &["pretty"], None));
        }
        if info.allows("update") {
            item_ops.insert(
                "put".into(),
                op(info, "put", &write_params, Some(json_body)),
            );
        }
        if info.allows("patch") {
            item_ops.insert(
                "patch".into(),
                op(
                    info,
                    "patch",
                    &[
                        "dryRun",
                        "fieldManager",
                        "fieldValidation",
                        "force",
                        "pretty",
                    ],
                    Some(patch_body),
                ),
            );
        }
        if info.allows("delete") {
            item_ops.insert(
                "delete".into(),
                op(
                    info,
                    "delete",
                    &["dryRun", "gracePeriodSeconds", "propagationPolicy"],
                    None,
                ),
            );
        }
        let path_params = |with_name: bool| {
            let mut ps = Vec::new();
            if with_name {
                ps.push(param("name", "path", true));
            }
            if info.namespaced {
                ps.push(param("namespace", "path", true));
            }
            Value::Array(ps)
        };
        if !coll_ops.is_empty() {
            coll_ops.insert("parameters".into(), path_params(false));
            paths.insert(collection.clone(), Value::Object(coll_ops));
        }
        if !item_ops.is_empty() {
            item_ops.insert("parameters".into(), path_params(true));
            paths.insert(item.clone(), Value::Object(item_ops));
        }
    }
    let mut schemas = generator.take_definitions(true);
    for (name, info) in &kinds {
        if let Some(Value::Object(s)) = schemas.get_mut(name) {
            s.insert(
                "x-kubernetes-group-version-kind".into(),
                json!([gvk_json(info)]),
            );
        }
    }
    json!({
        "openapi": "3.0.0",
        "info": {"title": "Kubernetes", "version": crate::api::GIT_VERSION},
        "paths": paths,
        "components": {"schemas": schemas},
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn index_lists_every_group_version_with_a_hash() {
        let idx = index();
        let url = idx["paths"]["apis/apps/v1"]["serverRelativeURL"]
            .as_str()
            .unwrap();
        assert!(url.starts_with("/openapi/v3/apis/apps/v1?hash="), "{url}");
        assert!(idx["paths"]["api/v1"].is_object());
    }

    #[test]
    fn patch_operations_declare_field_validation_and_schemas_carry_their_kind() {
        let doc = document("apis/apps/v1").unwrap();
        let v: Value = serde_json::from_slice(&doc.body).unwrap();
        let patch = &v["paths"]["/apis/apps/v1/namespaces/{namespace}/deployments/{name}"]["patch"];
        assert_eq!(
            patch["x-kubernetes-group-version-kind"]["kind"],
            "Deployment"
        );
        assert!(
            patch["parameters"]
                .as_array()
                .unwrap()
                .iter()
                .any(|p| p["name"] == "fieldValidation")
        );
        assert!(
            patch["requestBody"]["content"]
                .get("application/strategic-merge-patch+json")
                .is_none()
        );
        let dep = &v["components"]["schemas"]["io.k8s.api.apps.v1.Deployment"];
        assert_eq!(
            dep["x-kubernetes-group-version-kind"][0]["kind"],
            "Deployment"
        );
        // References with a description are wrapped in allOf, as upstream's documents are.
        assert!(
            dep["properties"]["spec"]["allOf"][0]["$ref"].is_string(),
            "{}",
            dep["properties"]["spec"]
        );
        assert!(v["components"]["schemas"]["io.k8s.api.core.v1.PodSpec"].is_object());
        assert!(document("apis/apps/v9").is_none());
        let core: Value = serde_json::from_slice(&document("api/v1").unwrap().body).unwrap();
        assert!(core["paths"]["/api/v1/namespaces/{name}"]["patch"].is_object());
    }
}
