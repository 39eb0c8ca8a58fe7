//! The core/v1 ResourceQuota and LimitRange strategies: upstream's `ValidateResourceQuota`
//! (resource names and values, scopes, scope selectors; scopes are immutable) and
//! `ValidateLimitRange` (limit types, per-type resource names, and how min, max, defaults and
//! ratios relate), with `SetDefaults_LimitRangeItem` and the canonical quantities every
//! resource list gets.
//!
//! Where upstream prints a whole `resource.Quantity` or scope selector with `%#v`, the value
//! is shown here as its string or JSON; the messages themselves are upstream's.

use super::checks::{
    check_lists, container_resource_name, go_slice_of, is_standard_quota_resource,
    overcommit_allowed, quantities, quantity_value, resource_name,
};
use super::common::{check, get, invalid_go, list_of, meta_update_errors, str_of};
use super::pod::defaults::default_resource_list;
use super::quantity::Quantity;
use serde_json::{Map, Value};
use skiff_core::registry::ResourceInfo;
use skiff_core::status::{ApiError, FieldError};
use skiff_core::validation;
use std::cmp::Ordering;
use std::collections::{BTreeMap, BTreeSet};

/// The scopes upstream's `IsStandardResourceQuotaScope` accepts.
pub const SCOPES: &[&str] = &[
    "Terminating",
    "NotTerminating",
    "BestEffort",
    "NotBestEffort",
    "PriorityClass",
    "CrossNamespacePodAffinity",
    "VolumeAttributesClass",
];

const POD_COMPUTE: &[&str] = &[
    "cpu",
    "memory",
    "limits.cpu",
    "limits.memory",
    "requests.cpu",
    "requests.memory",
];

/// Upstream's `IsResourceQuotaScopeValidForResource`.
pub fn scope_valid_for_resource(scope: &str, resource: &str) -> bool {
    match scope {
        "Terminating"
        | "NotTerminating"
        | "NotBestEffort"
        | "PriorityClass"
        | "CrossNamespacePodAffinity" => resource == "pods" || POD_COMPUTE.contains(&resource),
        "BestEffort" => resource == "pods",
        "VolumeAttributesClass" => {
            matches!(resource, "persistentvolumeclaims" | "requests.storage")
        }
        _ => true,
    }
}

/// Upstream's `ValidateResourceQuotaResourceName`.
fn quota_resource_name(field: &str, name: &str, errs: &mut Vec<FieldError>) {
    if !resource_name(field, name, errs) {
        return;
    }
    if !name.contains('/') && !is_standard_quota_resource(name) {
        errs.push(FieldError::invalid(
            field,
            name,
            "must be a standard resource for quota",
        ));
    }
}

/// A resource list's entries checked as quota resources (`hard` and `used`).
fn quota_list(list: Option<&Value>, path: &str, errs: &mut Vec<FieldError>) {
    let mut names: Vec<&String> = list
        .and_then(Value::as_object)
        .map(|m| m.keys().collect())
        .unwrap_or_default();
    names.sort();
    let values: BTreeMap<String, Quantity> = quantities(list).into_iter().collect();
    for name in names {
        let field = format!("{path}[{name}]");
        quota_resource_name(&field, name, errs);
        if let Some(q) = values.get(name) {
            quantity_value(name, q, &field, errs);
        }
    }
}

const CONFLICTING_SCOPES: &[(&str, &str)] = &[
    ("BestEffort", "NotBestEffort"),
    ("Terminating", "NotTerminating"),
];

fn validate_scopes(spec: &Value, errs: &mut Vec<FieldError>) {
    let scopes: Vec<&str> = list_of(spec, "scopes")
        .iter()
        .map(|s| s.as_str().unwrap_or_default())
        .collect();
    if scopes.is_empty() {
        return;
    }
    let raw = go_slice_of("core.ResourceQuotaScope", get(spec, "scopes"));
    let hard: BTreeSet<&String> = get(spec, "hard")
        .and_then(Value::as_object)
        .map(|m| m.keys().collect())
        .unwrap_or_default();
    for scope in &scopes {
        if !SCOPES.contains(scope) {
            errs.push(invalid_go("spec.scopes", &raw, "unsupported scope"));
        }
        for resource in &hard {
            if is_standard_quota_resource(resource) && !scope_valid_for_resource(scope, resource) {
                errs.push(invalid_go(
                    "spec.scopes",
                    &raw,
                    "unsupported scope applied to resource",
                ));
            }
        }
    }
    for (a, b) in CONFLICTING_SCOPES {
        if scopes.contains(a) && scopes.contains(b) {
            errs.push(invalid_go("spec.scopes", &raw, "conflicting scopes"));
        }
    }
}

fn validate_scope_selector(spec: &Value, errs: &mut Vec<FieldError>) {
    let Some(sel) = get(spec, "scopeSelector") else {
        return;
    };
    let path = "spec.scopeSelector.matchExpressions";
    let hard: BTreeSet<&String> = get(spec, "hard")
        .and_then(Value::as_object)
        .map(|m| m.keys().collect())
        .unwrap_or_default();
    let mut seen = BTreeSet::new();
    for req in list_of(sel, "matchExpressions") {
        let scope = str_of(req, "scopeName");
        let operator = str_of(req, "operator");
        if !SCOPES.contains(&scope) {
            errs.push(FieldError::invalid(
                format!("{path}.scopeName"),
                scope,
                "unsupported scope",
            ));
        }
        for resource in &hard {
            if is_standard_quota_resource(resource) && !scope_valid_for_resource(scope, resource) {
                errs.push(FieldError::invalid(
                    path,
                    sel.clone(),
                    "unsupported scope applied to resource",
                ));
            }
        }
        if matches!(
            scope,
            "BestEffort"
                | "NotBestEffort"
                | "Terminating"
                | "NotTerminating"
                | "CrossNamespacePodAffinity"
        ) && operator != "Exists"
        {
            errs.push(FieldError::invalid(
                format!("{path}.operator"),
                operator,
                "must be 'Exist' when scope is any of ResourceQuotaScopeTerminating, ResourceQuotaScopeNotTerminating, ResourceQuotaScopeBestEffort, ResourceQuotaScopeNotBestEffort or ResourceQuotaScopeCrossNamespacePodAffinity",
            ));
        }
        let values = list_of(req, "values");
        match operator {
            "In" | "NotIn" => {
                if values.is_empty() {
                    errs.push(FieldError::required(
                        format!("{path}.values"),
                        "must be at least one value when `operator` is 'In' or 'NotIn' for scope selector",
                    ));
                }
            }
            "Exists" | "DoesNotExist" => {
                if !values.is_empty() {
                    errs.push(invalid_go(
                        format!("{path}.values"),
                        &go_slice_of("string", get(req, "values")),
                        "must be no value when `operator` is 'Exist' or 'DoesNotExist' for scope selector",
                    ));
                }
            }
            other => errs.push(FieldError::invalid(
                format!("{path}.operator"),
                other,
                "not a valid selector operator",
            )),
        }
        seen.insert(scope);
    }
    for (a, b) in CONFLICTING_SCOPES {
        if seen.contains(a) && seen.contains(b) {
            errs.push(invalid_go(
                path,
                &go_slice_of("core.ResourceQuotaScope", get(spec, "scopes")),
                "conflicting scopes",
            ));
        }
    }
}

/// Upstream's `ValidateResourceQuotaSpec`.
pub fn validate_quota_spec(spec: &Value) -> Vec<FieldError> {
    let mut errs = Vec::new();
    quota_list(get(spec, "hard"), "spec.hard", &mut errs);
    validate_scopes(spec, &mut errs);
    validate_scope_selector(spec, &mut errs);
    errs
}

/// Upstream's `ValidateResourceQuota` (spec and status).
pub fn validate_quota(obj: &Value) -> Vec<FieldError> {
    let spec = get(obj, "spec").cloned().unwrap_or(Value::Null);
    let mut errs = validate_quota_spec(&spec);
    if let Some(status) = get(obj, "status") {
        quota_list(get(status, "hard"), "status.hard", &mut errs);
        quota_list(get(status, "used"), "status.used", &mut errs);
    }
    errs
}

/// Upstream's `ValidateResourceQuotaUpdate`: the spec is revalidated, scopes may not change.
pub fn validate_quota_update(new: &Value, old: &Value) -> Vec<FieldError> {
    let spec = get(new, "spec").cloned().unwrap_or(Value::Null);
    let old_spec = get(old, "spec").cloned().unwrap_or(Value::Null);
    let mut errs = validate_quota_spec(&spec);
    let scopes = |s: &Value| -> BTreeSet<String> {
        list_of(s, "scopes")
            .iter()
            .map(|v| v.as_str().unwrap_or_default().to_owned())
            .collect()
    };
    if scopes(&spec) != scopes(&old_spec) {
        errs.push(invalid_go(
            "spec.scopes",
            &go_slice_of("core.ResourceQuotaScope", get(&spec, "scopes")),
            super::common::IMMUTABLE,
        ));
    }
    errs
}

fn resource_lists_mut(obj: &mut Value, parent: &str, keys: &[&str]) {
    if let Some(p) = obj.get_mut(parent) {
        for key in keys {
            default_resource_list(p.get_mut(*key));
        }
    }
}

/// Upstream's `SetDefaults_LimitRangeItem`: a container limit's default comes from its max,
/// its default request from the default (or the min).
pub fn default_limit_range(obj: &mut Value) {
    let Some(limits) = obj
        .get_mut("spec")
        .and_then(|s| s.get_mut("limits"))
        .and_then(Value::as_array_mut)
    else {
        return;
    };
    for item in limits {
        for key in [
            "max",
            "min",
            "default",
            "defaultRequest",
            "maxLimitRequestRatio",
        ] {
            default_resource_list(item.get_mut(key));
        }
        if str_of(item, "type") != "Container" {
            continue;
        }
        let read = |item: &Value, key: &str| -> Map<String, Value> {
            get(item, key)
                .and_then(Value::as_object)
                .cloned()
                .unwrap_or_default()
        };
        let mut default = read(item, "default");
        for (k, v) in read(item, "max") {
            default.entry(k).or_insert(v);
        }
        let mut request = read(item, "defaultRequest");
        for (k, v) in default.iter().chain(read(item, "min").iter()) {
            request.entry(k.clone()).or_insert(v.clone());
        }
        if let Some(m) = item.as_object_mut() {
            if !default.is_empty() {
                m.insert("default".into(), Value::Object(default));
            }
            if !request.is_empty() {
                m.insert("defaultRequest".into(), Value::Object(request));
            }
        }
    }
}

/// Upstream's `ValidateLimitRangeTypeName`.
fn limit_type_name(field: &str, value: &str, errs: &mut Vec<FieldError>) {
    let before = errs.len();
    for msg in validation::is_qualified_name(value) {
        errs.push(FieldError::invalid(field, value, msg));
    }
    if errs.len() == before
        && !value.contains('/')
        && !matches!(value, "Pod" | "Container" | "PersistentVolumeClaim")
    {
        errs.push(FieldError::invalid(
            field,
            value,
            "must be a standard limit type or fully qualified",
        ));
    }
}

/// Upstream's `ValidateLimitRange` (the spec; metadata is checked generically).
pub fn validate_limit_range(obj: &Value) -> Vec<FieldError> {
    let mut errs = Vec::new();
    let spec = get(obj, "spec").cloned().unwrap_or(Value::Null);
    let mut types = BTreeSet::new();
    for (i, item) in list_of(&spec, "limits").iter().enumerate() {
        let path = format!("spec.limits[{i}]");
        let kind = str_of(item, "type");
        limit_type_name(&format!("{path}.type"), kind, &mut errs);
        if !types.insert(kind) {
            errs.push(FieldError::duplicate(format!("{path}.type"), kind));
        }
        let pod_or_container = matches!(kind, "Pod" | "Container");
        let mut lists: BTreeMap<&str, BTreeMap<String, Quantity>> = BTreeMap::new();
        let named = |key: &str, errs: &mut Vec<FieldError>| {
            let list = quantities(get(item, key));
            for (name, _) in &list {
                let field = format!("{path}.{key}[{name}]");
                if pod_or_container {
                    container_resource_name(&field, name, errs);
                } else {
                    resource_name(&field, name, errs);
                }
            }
            list.into_iter().collect::<BTreeMap<String, Quantity>>()
        };
        lists.insert("max", named("max", &mut errs));
        lists.insert("min", named("min", &mut errs));
        if kind == "Pod" {
            for key in ["default", "defaultRequest"] {
                if super::common::has_entries(item, key) {
                    errs.push(FieldError::forbidden(
                        format!("{path}.{key}"),
                        "may not be specified when `type` is 'Pod'",
                    ));
                }
            }
        } else {
            lists.insert("default", named("default", &mut errs));
            lists.insert("defaultRequest", named("defaultRequest", &mut errs));
        }
        if kind == "PersistentVolumeClaim"
            && !lists["min"].contains_key("storage")
            && !lists["max"].contains_key("storage")
        {
            errs.push(FieldError::required(
                format!("{path}.limits"),
                "either minimum or maximum storage value is required, but neither was provided",
            ));
        }
        lists.insert(
            "maxLimitRequestRatio",
            named("maxLimitRequestRatio", &mut errs),
        );
        let empty = BTreeMap::new();
        let list = |key: &str| lists.get(key).unwrap_or(&empty);
        let keys: BTreeSet<&String> = lists.values().flat_map(|l| l.keys()).collect();
        for k in keys {
            let (min, max) = (list("min").get(k), list("max").get(k));
            let (default, request) = (list("default").get(k), list("defaultRequest").get(k));
            let ratio = list("maxLimitRequestRatio").get(k);
            let greater = |a: &Quantity, b: &Quantity| a.cmp_value(b) == Ordering::Greater;
            let mut invalid = |key: &str, q: &Quantity, msg: String| {
                errs.push(FieldError::invalid(
                    format!("{path}.{key}[{k}]"),
                    q.to_string(),
                    msg,
                ));
            };
            if let (Some(min), Some(max)) = (min, max)
                && greater(min, max)
            {
                invalid(
                    "min",
                    min,
                    format!("min value {min} is greater than max value {max}"),
                );
            }
            if let (Some(req), Some(min)) = (request, min)
                && greater(min, req)
            {
                invalid(
                    "defaultRequest",
                    req,
                    format!("min value {min} is greater than default request value {req}"),
                );
            }
            if let (Some(req), Some(max)) = (request, max)
                && greater(req, max)
            {
                invalid(
                    "defaultRequest",
                    req,
                    format!("default request value {req} is greater than max value {max}"),
                );
            }
            if let (Some(req), Some(def)) = (request, default)
                && greater(req, def)
            {
                invalid(
                    "defaultRequest",
                    req,
                    format!(
                        "default request value {req} is greater than default limit value {def}"
                    ),
                );
            }
            if let (Some(def), Some(min)) = (default, min)
                && greater(min, def)
            {
                invalid(
                    "default",
                    min,
                    format!("min value {min} is greater than default value {def}"),
                );
            }
            if let (Some(def), Some(max)) = (default, max)
                && greater(def, max)
            {
                invalid(
                    "default",
                    max,
                    format!("default value {def} is greater than max value {max}"),
                );
            }
            if let Some(ratio) = ratio {
                if ratio.milli_value().is_some_and(|m| m < 1000) {
                    invalid(
                        "maxLimitRequestRatio",
                        ratio,
                        format!("ratio {ratio} is less than 1"),
                    );
                }
                if let (Some(min), Some(max)) = (min, max) {
                    let as_f64 = |q: &Quantity| q.milli_value().unwrap_or(i128::MAX) as f64;
                    let limit = as_f64(max) / as_f64(min);
                    if as_f64(ratio) > limit * 1000.0 {
                        invalid(
                            "maxLimitRequestRatio",
                            ratio,
                            format!("ratio {ratio} is greater than max/min = {limit:.6}"),
                        );
                    }
                }
            }
            if !overcommit_allowed(k)
                && let (Some(def), Some(req)) = (default, request)
                && def.cmp_value(req) != Ordering::Equal
            {
                invalid(
                    "defaultRequest",
                    req,
                    format!("default value {def} must equal to defaultRequest value {req} in {k}"),
                );
            }
        }
    }
    errs
}

fn check_limit_range_lists(info: &ResourceInfo, obj: &Value) -> Result<(), ApiError> {
    let spec = get(obj, "spec").cloned().unwrap_or(Value::Null);
    for item in list_of(&spec, "limits") {
        check_lists(
            info,
            &[
                get(item, "max"),
                get(item, "min"),
                get(item, "default"),
                get(item, "defaultRequest"),
                get(item, "maxLimitRequestRatio"),
            ],
        )?;
    }
    Ok(())
}

fn prepare(info: &ResourceInfo, obj: &mut Value) -> Result<(), ApiError> {
    if info.gvk.kind == "LimitRange" {
        check_limit_range_lists(info, obj)?;
        default_limit_range(obj);
    } else {
        let spec = get(obj, "spec").cloned().unwrap_or(Value::Null);
        let status = get(obj, "status").cloned().unwrap_or(Value::Null);
        check_lists(
            info,
            &[
                get(&spec, "hard"),
                get(&status, "hard"),
                get(&status, "used"),
            ],
        )?;
        resource_lists_mut(obj, "spec", &["hard"]);
        resource_lists_mut(obj, "status", &["hard", "used"]);
    }
    Ok(())
}

/// Defaults and validates a new ResourceQuota or LimitRange.
pub fn before_create(info: &ResourceInfo, obj: &mut Value) -> Result<(), ApiError> {
    prepare(info, obj)?;
    if info.gvk.kind == "LimitRange" {
        return check(info, obj, &validate_limit_range(obj));
    }
    check(info, obj, &validate_quota(obj))
}

/// Defaults and validates an update of a ResourceQuota or LimitRange.
pub fn before_update(info: &ResourceInfo, old: &Value, new: &mut Value) -> Result<(), ApiError> {
    prepare(info, new)?;
    let mut errs = meta_update_errors(old, new);
    if info.gvk.kind == "LimitRange" {
        errs.extend(validate_limit_range(new));
    } else {
        errs.extend(validate_quota_update(new, old));
        if let Some(status) = get(new, "status") {
            quota_list(get(status, "hard"), "status.hard", &mut errs);
            quota_list(get(status, "used"), "status.used", &mut errs);
        }
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
    fn kubectl_create_quota_passes() {
        let info = lookup("", "v1", "resourcequotas").unwrap();
        let mut obj = json!({"metadata": {"name": "q", "namespace": "default"},
            "spec": {"hard": {"cpu": "1", "memory": "1G", "pods": "2", "count/deployments.apps": "3"},
                     "scopes": ["NotBestEffort"]}});
        before_create(info, &mut obj).unwrap();
        let mut bad_quantity = json!({"metadata": {"name": "q", "namespace": "default"},
            "spec": {"hard": {"cpu": "lots"}}});
        let err = before_create(info, &mut bad_quantity).unwrap_err();
        assert_eq!(err.code, 400);
    }

    #[test]
    fn quota_resources_and_scopes() {
        let spec = json!({"hard": {"bogus": "1", "pods": "1500m", "widgets": "1", "cpu": "-1"},
                          "scopes": ["BestEffort", "NotBestEffort", "Sometimes"]});
        assert_eq!(
            shown(&validate_quota_spec(&spec)),
            vec![
                "spec.hard[bogus]: Invalid value: \"bogus\": must be a standard resource type or fully qualified",
                "spec.hard[cpu]: Invalid value: \"-1\": must be greater than or equal to 0",
                "spec.hard[pods]: Invalid value: \"1500m\": must be an integer",
                "spec.hard[widgets]: Invalid value: \"widgets\": must be a standard resource type or fully qualified",
                "spec.scopes: Invalid value: []core.ResourceQuotaScope{\"BestEffort\", \"NotBestEffort\", \"Sometimes\"}: unsupported scope applied to resource",
                "spec.scopes: Invalid value: []core.ResourceQuotaScope{\"BestEffort\", \"NotBestEffort\", \"Sometimes\"}: unsupported scope",
                "spec.scopes: Invalid value: []core.ResourceQuotaScope{\"BestEffort\", \"NotBestEffort\", \"Sometimes\"}: conflicting scopes",
            ]
        );
        let selector = json!({"hard": {"pods": "1"}, "scopeSelector": {"matchExpressions": [
            {"scopeName": "PriorityClass", "operator": "In"},
            {"scopeName": "BestEffort", "operator": "In", "values": ["x"]}]}});
        assert_eq!(
            shown(&validate_quota_spec(&selector)),
            vec![
                "spec.scopeSelector.matchExpressions.values: Required value: must be at least one value when `operator` is 'In' or 'NotIn' for scope selector",
                "spec.scopeSelector.matchExpressions.operator: Invalid value: \"In\": must be 'Exist' when scope is any of ResourceQuotaScopeTerminating, ResourceQuotaScopeNotTerminating, ResourceQuotaScopeBestEffort, ResourceQuotaScopeNotBestEffort or ResourceQuotaScopeCrossNamespacePodAffinity",
            ]
        );
    }

    #[test]
    fn quota_scopes_are_immutable() {
        let info = lookup("", "v1", "resourcequotas").unwrap();
        let old = json!({"metadata": {"name": "q", "namespace": "d"},
            "spec": {"hard": {"pods": "1"}, "scopes": ["BestEffort"]}});
        let mut more = json!({"metadata": {"name": "q", "namespace": "d"},
            "spec": {"hard": {"pods": "5"}, "scopes": ["BestEffort"]}});
        before_update(info, &old, &mut more).unwrap();
        let mut rescoped = json!({"metadata": {"name": "q", "namespace": "d"},
            "spec": {"hard": {"pods": "1"}, "scopes": ["NotBestEffort"]}});
        let err = before_update(info, &old, &mut rescoped).unwrap_err();
        assert_eq!(
            err.message,
            "ResourceQuota \"q\" is invalid: spec.scopes: Invalid value: []core.ResourceQuotaScope{\"NotBestEffort\"}: field is immutable"
        );
    }

    #[test]
    fn limit_ranges_are_defaulted() {
        let info = lookup("", "v1", "limitranges").unwrap();
        let mut obj = json!({"metadata": {"name": "l", "namespace": "d"},
            "spec": {"limits": [{"type": "Container", "max": {"cpu": "2"}, "min": {"memory": "0.5Gi"}},
                                {"type": "Pod", "max": {"cpu": "4"}}]}});
        before_create(info, &mut obj).unwrap();
        let item = &obj["spec"]["limits"][0];
        assert_eq!(item["default"], json!({"cpu": "2"}));
        assert_eq!(
            item["defaultRequest"],
            json!({"cpu": "2", "memory": "512Mi"})
        );
        assert!(obj["spec"]["limits"][1].get("default").is_none());
    }

    #[test]
    fn limit_ranges_are_validated() {
        let obj = json!({"spec": {"limits": [
            {"type": "Container", "min": {"cpu": "2"}, "max": {"cpu": "1"},
             "maxLimitRequestRatio": {"memory": "500m"}},
            {"type": "Pod", "default": {"cpu": "1"}},
            {"type": "Container"},
            {"type": "PersistentVolumeClaim", "max": {"cpu": "1"}},
            {"type": "Thing"},
        ]}});
        assert_eq!(
            shown(&validate_limit_range(&obj)),
            vec![
                "spec.limits[0].min[cpu]: Invalid value: \"2\": min value 2 is greater than max value 1",
                "spec.limits[0].maxLimitRequestRatio[memory]: Invalid value: \"500m\": ratio 500m is less than 1",
                "spec.limits[1].default: Forbidden: may not be specified when `type` is 'Pod'",
                "spec.limits[2].type: Duplicate value: \"Container\"",
                "spec.limits[3].limits: Required value: either minimum or maximum storage value is required, but neither was provided",
                "spec.limits[4].type: Invalid value: \"Thing\": must be a standard limit type or fully qualified",
            ]
        );
        let ratio = json!({"spec": {"limits": [{"type": "Container",
            "min": {"cpu": "100m"}, "max": {"cpu": "200m"}, "maxLimitRequestRatio": {"cpu": "3"}}]}});
        assert_eq!(
            shown(&validate_limit_range(&ratio)),
            vec![
                "spec.limits[0].maxLimitRequestRatio[cpu]: Invalid value: \"3\": ratio 3 is greater than max/min = 2.000000"
            ]
        );
    }
}
