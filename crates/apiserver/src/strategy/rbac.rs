//! The rbac.authorization.k8s.io/v1 strategies: Role, ClusterRole, RoleBinding and
//! ClusterRoleBinding. Defaulting follows upstream's `pkg/apis/rbac/v1/defaults.go` (a
//! binding's `roleRef.apiGroup`, and a subject's `apiGroup` by its kind); validation follows
//! `pkg/apis/rbac/validation`: policy rules, aggregation rules, role references (which may
//! never change) and subjects. Object names are path segments there, checked with the
//! generic metadata.

use super::checks::{go_slice_of, path_segment_errors};
use super::common::{
    check, each_mut, get, list_of, meta_update_errors, set_default_str, str_of,
    validate_label_selector,
};
use super::service::validation::go_quote;
use serde_json::Value;
use skiff_core::registry::ResourceInfo;
use skiff_core::status::{ApiError, FieldError};
use skiff_core::validation;

/// The API group of RBAC objects (and of User and Group subjects).
pub const GROUP: &str = "rbac.authorization.k8s.io";

/// Upstream's `SetDefaults_RoleBinding`/`SetDefaults_ClusterRoleBinding` and
/// `SetDefaults_Subject`.
pub fn default_binding(obj: &mut Value) {
    if let Some(role_ref) = super::common::ensure_object(obj, "roleRef") {
        set_default_str(role_ref, "apiGroup", GROUP);
    }
    each_mut(obj, "subjects", |s| {
        if !str_of(s, "apiGroup").is_empty() {
            return;
        }
        match str_of(s, "kind") {
            "User" | "Group" => set_default_str(s, "apiGroup", GROUP),
            "ServiceAccount" => set_default_str(s, "apiGroup", ""),
            _ => {}
        }
    });
}

/// Upstream's `ValidatePolicyRule`.
pub fn validate_policy_rule(rule: &Value, namespaced: bool, path: &str) -> Vec<FieldError> {
    let mut errs = Vec::new();
    if list_of(rule, "verbs").is_empty() {
        errs.push(FieldError::required(
            format!("{path}.verbs"),
            "verbs must contain at least one value",
        ));
    }
    let urls = list_of(rule, "nonResourceURLs");
    let groups = list_of(rule, "apiGroups");
    let resources = list_of(rule, "resources");
    let names = list_of(rule, "resourceNames");
    if !urls.is_empty() {
        let raw = go_slice_of("string", get(rule, "nonResourceURLs"));
        let field = format!("{path}.nonResourceURLs");
        if namespaced {
            errs.push(super::common::invalid_go(
                field.as_str(),
                &raw,
                "namespaced rules cannot apply to non-resource URLs",
            ));
        }
        if !groups.is_empty() || !resources.is_empty() || !names.is_empty() {
            errs.push(super::common::invalid_go(
                field,
                &raw,
                "rules cannot apply to both regular resources and non-resource URLs",
            ));
        }
        return errs;
    }
    if groups.is_empty() {
        errs.push(FieldError::required(
            format!("{path}.apiGroups"),
            "resource rules must supply at least one api group",
        ));
    }
    if resources.is_empty() {
        errs.push(FieldError::required(
            format!("{path}.resources"),
            "resource rules must supply at least one resource",
        ));
    }
    if !names.is_empty() && resources.len() > 1 {
        errs.push(FieldError::required(
            format!("{path}.resourceNames"),
            "resource names cannot apply to multiple resources",
        ));
    }
    errs
}

/// Upstream's `ValidateRole` (`namespaced`) and `ValidateClusterRole`.
pub fn validate_role(obj: &Value, namespaced: bool) -> Vec<FieldError> {
    let mut errs = Vec::new();
    for (i, rule) in list_of(obj, "rules").iter().enumerate() {
        errs.extend(validate_policy_rule(
            rule,
            namespaced,
            &format!("rules[{i}]"),
        ));
    }
    if namespaced {
        return errs;
    }
    if let Some(rule) = get(obj, "aggregationRule") {
        let selectors = list_of(rule, "clusterRoleSelectors");
        if selectors.is_empty() {
            errs.push(FieldError::required(
                "aggregationRule.clusterRoleSelectors",
                "at least one clusterRoleSelector required if aggregationRule is non-nil",
            ));
        }
        for (i, sel) in selectors.iter().enumerate() {
            let path = format!("aggregationRule.clusterRoleSelectors[{i}]");
            validate_label_selector(Some(sel), &path, &mut errs);
            if super::common::selector_of(Some(sel)).is_none() {
                errs.push(FieldError::invalid(
                    path,
                    Value::Null,
                    "invalid label selector.",
                ));
            }
        }
    }
    errs
}

/// Upstream's `validateRoleBindingSubject`.
fn validate_subject(subject: &Value, namespaced: bool, path: &str, errs: &mut Vec<FieldError>) {
    let name = str_of(subject, "name");
    let api_group = str_of(subject, "apiGroup");
    if name.is_empty() {
        errs.push(FieldError::required(format!("{path}.name"), ""));
    }
    match str_of(subject, "kind") {
        "ServiceAccount" => {
            if !name.is_empty() {
                for msg in validation::is_dns1123_subdomain(name) {
                    errs.push(FieldError::invalid(format!("{path}.name"), name, msg));
                }
            }
            if !api_group.is_empty() {
                errs.push(FieldError::not_supported(
                    format!("{path}.apiGroup"),
                    api_group,
                    &[""],
                ));
            }
            if !namespaced && str_of(subject, "namespace").is_empty() {
                errs.push(FieldError::required(format!("{path}.namespace"), ""));
            }
        }
        kind @ ("User" | "Group") => {
            if name.is_empty() {
                let what = if kind == "User" { "user" } else { "group" };
                errs.push(FieldError::invalid(
                    format!("{path}.name"),
                    name,
                    format!("{what} name cannot be empty"),
                ));
            }
            if api_group != GROUP {
                errs.push(FieldError::not_supported(
                    format!("{path}.apiGroup"),
                    api_group,
                    &[GROUP],
                ));
            }
        }
        other => errs.push(FieldError::not_supported(
            format!("{path}.kind"),
            other,
            &["ServiceAccount", "User", "Group"],
        )),
    }
}

/// Upstream's `ValidateRoleBinding` (`namespaced`) and `ValidateClusterRoleBinding`.
pub fn validate_binding(obj: &Value, namespaced: bool) -> Vec<FieldError> {
    let mut errs = Vec::new();
    let role_ref = get(obj, "roleRef").cloned().unwrap_or(Value::Null);
    let api_group = str_of(&role_ref, "apiGroup");
    if api_group != GROUP {
        errs.push(FieldError::not_supported(
            "roleRef.apiGroup",
            api_group,
            &[GROUP],
        ));
    }
    let kind = str_of(&role_ref, "kind");
    let kinds: &[&str] = if namespaced {
        &["Role", "ClusterRole"]
    } else {
        &["ClusterRole"]
    };
    if !kinds.contains(&kind) {
        errs.push(FieldError::not_supported("roleRef.kind", kind, kinds));
    }
    let name = str_of(&role_ref, "name");
    if name.is_empty() {
        errs.push(FieldError::required("roleRef.name", ""));
    } else {
        for msg in path_segment_errors(name) {
            errs.push(FieldError::invalid("roleRef.name", name, msg));
        }
    }
    for (i, subject) in list_of(obj, "subjects").iter().enumerate() {
        validate_subject(subject, namespaced, &format!("subjects[{i}]"), &mut errs);
    }
    errs
}

/// A role reference as `%#v` prints it.
fn go_role_ref(role_ref: Option<&Value>) -> String {
    let r = role_ref.cloned().unwrap_or(Value::Null);
    format!(
        "rbac.RoleRef{{APIGroup:{}, Kind:{}, Name:{}}}",
        go_quote(str_of(&r, "apiGroup")),
        go_quote(str_of(&r, "kind")),
        go_quote(str_of(&r, "name"))
    )
}

fn same_role_ref(a: &Value, b: &Value) -> bool {
    let (a, b) = (
        get(a, "roleRef").cloned().unwrap_or(Value::Null),
        get(b, "roleRef").cloned().unwrap_or(Value::Null),
    );
    ["apiGroup", "kind", "name"]
        .iter()
        .all(|f| str_of(&a, f) == str_of(&b, f))
}

fn is_binding(info: &ResourceInfo) -> bool {
    info.gvk.kind.ends_with("Binding")
}

fn validate(info: &ResourceInfo, obj: &Value) -> Vec<FieldError> {
    if is_binding(info) {
        validate_binding(obj, info.namespaced)
    } else {
        validate_role(obj, info.namespaced)
    }
}

/// Defaults and validates a new Role, ClusterRole, RoleBinding or ClusterRoleBinding.
pub fn before_create(info: &ResourceInfo, obj: &mut Value) -> Result<(), ApiError> {
    if is_binding(info) {
        default_binding(obj);
    }
    check(info, obj, &validate(info, obj))
}

/// Defaults and validates an update of an RBAC object: a binding's role reference may not
/// change.
pub fn before_update(info: &ResourceInfo, old: &Value, new: &mut Value) -> Result<(), ApiError> {
    if !is_binding(info) {
        let mut errs = validate(info, new);
        errs.extend(meta_update_errors(old, new));
        return check(info, new, &errs);
    }
    default_binding(new);
    let mut old = old.clone();
    default_binding(&mut old);
    let mut errs = validate(info, new);
    errs.extend(meta_update_errors(&old, new));
    if !same_role_ref(&old, new) {
        errs.push(super::common::invalid_go(
            "roleRef",
            &go_role_ref(get(new, "roleRef")),
            "cannot change roleRef",
        ));
    }
    check(info, new, &errs)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;
    use skiff_core::registry::lookup;

    fn shown(errs: &[FieldError]) -> Vec<String> {
        errs.iter().map(ToString::to_string).collect()
    }

    #[test]
    fn kubectl_create_role_objects_pass() {
        let role = lookup("rbac.authorization.k8s.io", "v1", "roles").unwrap();
        let mut obj = json!({"metadata": {"name": "pod-reader", "namespace": "default"},
            "rules": [{"verbs": ["get", "list"], "apiGroups": [""], "resources": ["pods"]}]});
        before_create(role, &mut obj).unwrap();
        let cluster_role = lookup("rbac.authorization.k8s.io", "v1", "clusterroles").unwrap();
        let mut obj = json!({"metadata": {"name": "system:metrics"},
            "rules": [{"verbs": ["get"], "nonResourceURLs": ["/metrics"]}]});
        before_create(cluster_role, &mut obj).unwrap();
    }

    #[test]
    fn policy_rules_follow_upstream() {
        let table: Vec<(Value, bool, Vec<&str>)> = vec![
            (
                json!({"apiGroups": [""], "resources": ["pods"]}),
                true,
                vec!["rules[0].verbs: Required value: verbs must contain at least one value"],
            ),
            (
                json!({"verbs": ["get"]}),
                false,
                vec![
                    "rules[0].apiGroups: Required value: resource rules must supply at least one api group",
                    "rules[0].resources: Required value: resource rules must supply at least one resource",
                ],
            ),
            (
                json!({"verbs": ["get"], "nonResourceURLs": ["/healthz"]}),
                true,
                vec![
                    "rules[0].nonResourceURLs: Invalid value: []string{\"/healthz\"}: namespaced rules cannot apply to non-resource URLs",
                ],
            ),
            (
                json!({"verbs": ["get"], "nonResourceURLs": ["/healthz"], "resources": ["pods"]}),
                false,
                vec![
                    "rules[0].nonResourceURLs: Invalid value: []string{\"/healthz\"}: rules cannot apply to both regular resources and non-resource URLs",
                ],
            ),
            (
                json!({"verbs": ["get"], "apiGroups": [""], "resources": ["pods", "secrets"],
                       "resourceNames": ["x"]}),
                true,
                vec![
                    "rules[0].resourceNames: Required value: resource names cannot apply to multiple resources",
                ],
            ),
        ];
        for (rule, namespaced, want) in table {
            assert_eq!(
                shown(&validate_policy_rule(&rule, namespaced, "rules[0]")),
                want,
                "{rule}"
            );
        }
    }

    #[test]
    fn aggregation_rules() {
        let errs = validate_role(&json!({"aggregationRule": {}}), false);
        assert_eq!(
            shown(&errs),
            vec![
                "aggregationRule.clusterRoleSelectors: Required value: at least one clusterRoleSelector required if aggregationRule is non-nil"
            ]
        );
        let ok = json!({"aggregationRule": {"clusterRoleSelectors": [
            {"matchLabels": {"rbac.example.com/aggregate-to-monitoring": "true"}}]}});
        assert!(validate_role(&ok, false).is_empty());
        let bad = json!({"aggregationRule": {"clusterRoleSelectors": [
            {"matchExpressions": [{"key": "a", "operator": "Near"}]}]}});
        let shown = shown(&validate_role(&bad, false));
        assert_eq!(
            shown[1],
            "aggregationRule.clusterRoleSelectors[0]: Invalid value: null: invalid label selector."
        );
    }

    #[test]
    fn bindings_are_defaulted_and_validated() {
        let info = lookup("rbac.authorization.k8s.io", "v1", "rolebindings").unwrap();
        let mut obj = json!({"metadata": {"name": "b", "namespace": "default"},
            "roleRef": {"kind": "Role", "name": "pod-reader"},
            "subjects": [{"kind": "User", "name": "jane"}, {"kind": "Group", "name": "devs"},
                         {"kind": "ServiceAccount", "name": "default", "namespace": "default"}]});
        before_create(info, &mut obj).unwrap();
        assert_eq!(obj["roleRef"]["apiGroup"], GROUP);
        assert_eq!(obj["subjects"][0]["apiGroup"], GROUP);
        assert_eq!(obj["subjects"][1]["apiGroup"], GROUP);
        assert_eq!(obj["subjects"][2]["apiGroup"], "");

        let mut bad = json!({"metadata": {"name": "b", "namespace": "default"},
            "roleRef": {"apiGroup": "example.com", "kind": "Thing", "name": "a/b"},
            "subjects": [{"kind": "Robot", "name": "r"}, {"kind": "User", "apiGroup": "x", "name": "u"},
                         {"kind": "ServiceAccount", "apiGroup": "x", "name": "Bad_Name"}, {"kind": "Group"}]});
        let err = before_create(info, &mut bad).unwrap_err();
        let causes: Vec<String> = err
            .details
            .unwrap()
            .causes
            .unwrap()
            .into_iter()
            .map(|c| format!("{}: {}", c.field.unwrap(), c.message.unwrap()))
            .collect();
        assert_eq!(
            causes,
            vec![
                "roleRef.apiGroup: Unsupported value: \"example.com\": supported values: \"rbac.authorization.k8s.io\"",
                "roleRef.kind: Unsupported value: \"Thing\": supported values: \"Role\", \"ClusterRole\"",
                "roleRef.name: Invalid value: \"a/b\": may not contain '/'",
                "subjects[0].kind: Unsupported value: \"Robot\": supported values: \"ServiceAccount\", \"User\", \"Group\"",
                "subjects[1].apiGroup: Unsupported value: \"x\": supported values: \"rbac.authorization.k8s.io\"",
                "subjects[2].name: Invalid value: \"Bad_Name\": a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character (e.g. 'example.com', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')",
                "subjects[2].apiGroup: Unsupported value: \"x\": supported values: \"\"",
                "subjects[3].name: Required value",
                "subjects[3].name: Invalid value: \"\": group name cannot be empty",
            ]
        );
    }

    #[test]
    fn cluster_bindings_need_cluster_roles_and_service_account_namespaces() {
        let info = lookup("rbac.authorization.k8s.io", "v1", "clusterrolebindings").unwrap();
        let mut obj = json!({"metadata": {"name": "b"},
            "roleRef": {"kind": "Role", "name": "r"},
            "subjects": [{"kind": "ServiceAccount", "name": "default"}]});
        let err = before_create(info, &mut obj).unwrap_err();
        assert_eq!(
            err.message,
            "ClusterRoleBinding.rbac.authorization.k8s.io \"b\" is invalid: [roleRef.kind: Unsupported value: \"Role\": supported values: \"ClusterRole\", subjects[0].namespace: Required value]"
        );
        let mut missing = json!({"metadata": {"name": "b"}});
        let err = before_create(info, &mut missing).unwrap_err();
        assert!(
            err.message.contains("roleRef.name: Required value"),
            "{}",
            err.message
        );
    }

    #[test]
    fn role_refs_never_change() {
        let info = lookup("rbac.authorization.k8s.io", "v1", "rolebindings").unwrap();
        let old = json!({"metadata": {"name": "b", "namespace": "default"},
            "roleRef": {"apiGroup": GROUP, "kind": "Role", "name": "a"}});
        let mut same = json!({"metadata": {"name": "b", "namespace": "default"},
            "roleRef": {"kind": "Role", "name": "a"}, "subjects": [{"kind": "User", "name": "u"}]});
        before_update(info, &old, &mut same).unwrap();
        let mut changed = json!({"metadata": {"name": "b", "namespace": "default"},
            "roleRef": {"apiGroup": GROUP, "kind": "ClusterRole", "name": "view"}});
        let err = before_update(info, &old, &mut changed).unwrap_err();
        assert_eq!(
            err.message,
            "RoleBinding.rbac.authorization.k8s.io \"b\" is invalid: roleRef: Invalid value: rbac.RoleRef{APIGroup:\"rbac.authorization.k8s.io\", Kind:\"ClusterRole\", Name:\"view\"}: cannot change roleRef"
        );
    }

    #[test]
    fn role_updates_are_validated() {
        let info = lookup("rbac.authorization.k8s.io", "v1", "roles").unwrap();
        let old = json!({"metadata": {"name": "r", "namespace": "default"}, "rules": []});
        let mut new = json!({"metadata": {"name": "r", "namespace": "default"},
            "rules": [{"apiGroups": [""], "resources": ["pods"]}]});
        let err = before_update(info, &old, &mut new).unwrap_err();
        assert!(err.message.contains("rules[0].verbs: Required value"));
    }
}
