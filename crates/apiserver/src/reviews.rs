//! The review resources: create-only, never stored, answered from authentication and
//! authorization (`kubectl auth whoami`, `kubectl auth can-i`, webhook-style TokenReview and
//! SubjectAccessReview).

use crate::api::{Attributes, Authorizer};
use crate::authn::User;
use crate::request_info::{ResourceRequest, Verb};
use serde_json::{Value, json};
use skiff_core::registry::ResourceInfo;
use skiff_core::status::{ApiError, FieldError, GroupKind};

/// Whether `info` is a review answered here instead of being stored.
pub fn is_review(info: &ResourceInfo) -> bool {
    matches!(
        info.gvk.group,
        "authentication.k8s.io" | "authorization.k8s.io"
    )
}

fn verb_of(s: &str) -> Verb {
    match s {
        "get" => Verb::Get,
        "list" => Verb::List,
        "watch" => Verb::Watch,
        "create" => Verb::Create,
        "update" => Verb::Update,
        "patch" => Verb::Patch,
        "delete" => Verb::Delete,
        _ => Verb::DeleteCollection,
    }
}

fn string_list(v: Option<&Value>) -> Vec<String> {
    v.and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .filter_map(|x| x.as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default()
}

fn user_info(user: &User) -> Value {
    let mut info = json!({"username": user.name, "uid": user.uid, "groups": user.groups});
    if !user.extra.is_empty() {
        info["extra"] = json!(user.extra);
    }
    info
}

/// Decides an access review's `spec` for `user`.
fn access(
    authz: &dyn Authorizer,
    user: &User,
    spec: &Value,
    namespace_override: Option<&str>,
) -> Result<Value, ApiError> {
    let gk = GroupKind::new("authorization.k8s.io", "SubjectAccessReview");
    if let Some(ra) = spec.get("resourceAttributes").filter(|v| v.is_object()) {
        let s = |k: &str| ra.get(k).and_then(Value::as_str).unwrap_or("").to_owned();
        let verb_text = s("verb");
        let namespace = namespace_override.map(str::to_owned).or_else(|| {
            let ns = s("namespace");
            (!ns.is_empty()).then_some(ns)
        });
        let req = ResourceRequest {
            verb: verb_of(&verb_text),
            group: s("group"),
            version: s("version"),
            resource: s("resource"),
            subresource: Some(s("subresource")).filter(|x| !x.is_empty()),
            namespace,
            name: Some(s("name")).filter(|x| !x.is_empty()),
        };
        let allowed = verb_text != "*"
            && authz.authorize(user, &Attributes::Resource(&req)).is_ok()
            || user.groups.iter().any(|g| g == "system:masters");
        return Ok(json!({"allowed": allowed}));
    }
    if let Some(nra) = spec.get("nonResourceAttributes").filter(|v| v.is_object()) {
        let path = nra.get("path").and_then(Value::as_str).unwrap_or("");
        let verb = nra.get("verb").and_then(Value::as_str).unwrap_or("");
        let allowed = authz
            .authorize(user, &Attributes::Path { path, verb })
            .is_ok();
        return Ok(json!({"allowed": allowed}));
    }
    Err(ApiError::invalid(
        &gk,
        "",
        &[FieldError::invalid(
            "spec.resourceAttributes",
            "null",
            "exactly one of nonResourceAttributes or resourceAttributes must be specified",
        )],
    ))
}

/// Answers a review: the object with its `status` filled in.
pub fn answer(
    info: &ResourceInfo,
    mut obj: Value,
    user: &User,
    namespace: Option<&str>,
    reviewed: Option<&(User, Vec<String>)>,
    authz: &dyn Authorizer,
) -> Result<Value, ApiError> {
    let spec = obj.get("spec").cloned().unwrap_or(json!({}));
    let status = match info.gvk.kind {
        "SelfSubjectReview" => json!({"userInfo": user_info(user)}),
        "TokenReview" => match reviewed {
            Some((u, audiences)) => json!({
                "authenticated": true,
                "user": user_info(u),
                "audiences": audiences,
            }),
            None => json!({"authenticated": false, "error": "invalid bearer token"}),
        },
        "SelfSubjectAccessReview" => access(authz, user, &spec, None)?,
        "LocalSubjectAccessReview" | "SubjectAccessReview" => {
            let subject = User {
                name: spec
                    .get("user")
                    .and_then(Value::as_str)
                    .unwrap_or("")
                    .to_owned(),
                uid: spec
                    .get("uid")
                    .and_then(Value::as_str)
                    .unwrap_or("")
                    .to_owned(),
                groups: string_list(spec.get("groups")),
                extra: Default::default(),
            };
            let ns = (info.gvk.kind == "LocalSubjectAccessReview")
                .then_some(namespace)
                .flatten();
            access(authz, &subject, &spec, ns)?
        }
        "SelfSubjectRulesReview" => {
            if user.groups.iter().any(|g| g == "system:masters") {
                json!({
                    "resourceRules": [{"verbs": ["*"], "apiGroups": ["*"], "resources": ["*"]}],
                    "nonResourceRules": [{"verbs": ["*"], "nonResourceURLs": ["*"]}],
                    "incomplete": false,
                })
            } else {
                json!({
                    "resourceRules": [],
                    "nonResourceRules": [{"verbs": ["get"], "nonResourceURLs": [
                        "/api", "/api/*", "/apis", "/apis/*", "/healthz", "/livez", "/readyz",
                        "/openapi", "/openapi/*", "/version", "/version/"]}],
                    "incomplete": false,
                })
            }
        }
        other => return Err(ApiError::internal(format!("{other} is not a review"))),
    };
    obj["status"] = status;
    if let Some(m) = obj.get_mut("metadata").and_then(Value::as_object_mut) {
        m.insert("creationTimestamp".into(), Value::Null);
    }
    Ok(obj)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::MastersOnly;
    use skiff_core::registry::lookup;

    fn admin() -> User {
        User {
            name: "admin".into(),
            uid: String::new(),
            groups: vec!["system:masters".into(), "system:authenticated".into()],
            extra: Default::default(),
        }
    }

    fn alice() -> User {
        User {
            name: "alice".into(),
            uid: "1".into(),
            groups: vec!["system:authenticated".into()],
            extra: Default::default(),
        }
    }

    #[test]
    fn whoami_and_can_i() {
        let ssr = lookup("authentication.k8s.io", "v1", "selfsubjectreviews").unwrap();
        let out = answer(
            ssr,
            json!({"metadata": {}}),
            &admin(),
            None,
            None,
            &MastersOnly,
        )
        .unwrap();
        assert_eq!(out["status"]["userInfo"]["username"], "admin");
        let ssar = lookup("authorization.k8s.io", "v1", "selfsubjectaccessreviews").unwrap();
        let ask = json!({"spec": {"resourceAttributes": {"verb": "list", "resource": "secrets", "namespace": "default"}}});
        assert_eq!(
            answer(ssar, ask.clone(), &admin(), None, None, &MastersOnly).unwrap()["status"]["allowed"],
            true
        );
        assert_eq!(
            answer(ssar, ask, &alice(), None, None, &MastersOnly).unwrap()["status"]["allowed"],
            false
        );
        let path = json!({"spec": {"nonResourceAttributes": {"path": "/version", "verb": "get"}}});
        assert_eq!(
            answer(ssar, path, &alice(), None, None, &MastersOnly).unwrap()["status"]["allowed"],
            true
        );
        assert_eq!(
            answer(
                ssar,
                json!({"spec": {}}),
                &alice(),
                None,
                None,
                &MastersOnly
            )
            .unwrap_err()
            .code,
            422
        );
        let sar = lookup("authorization.k8s.io", "v1", "subjectaccessreviews").unwrap();
        let for_alice = json!({"spec": {"user": "alice", "resourceAttributes": {"verb": "get", "resource": "pods"}}});
        assert_eq!(
            answer(sar, for_alice, &admin(), None, None, &MastersOnly).unwrap()["status"]["allowed"],
            false
        );
        let tr = lookup("authentication.k8s.io", "v1", "tokenreviews").unwrap();
        let out = answer(
            tr,
            json!({"spec": {"token": "nope"}}),
            &admin(),
            None,
            None,
            &MastersOnly,
        )
        .unwrap();
        assert_eq!(out["status"]["authenticated"], false);
    }
}
