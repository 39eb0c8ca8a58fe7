//! What the per-kind strategies share: reading JSON objects with Go's zero-value semantics,
//! setting defaults, upstream's common validators (labels, label selectors, object metadata
//! updates, non-negative fields) and the Go `%#v` renderings upstream prints in messages
//! (`map[string]string{"app":"web"}`, `v1.LabelSelector{...}`).
//!
//! Objects stay `serde_json::Value`s throughout, so nothing a client sent is reformatted: a
//! missing field, `null` and (for strings) `""` all read as Go's zero value.

use super::service::validation::{go_quote, invalid_raw};
use crate::object;
use serde_json::{Map, Value, json};
use skiff_core::labels::{self, Selector};
use skiff_core::registry::ResourceInfo;
use skiff_core::status::{ApiError, FieldError, GroupKind};
use skiff_core::validation;
use std::collections::BTreeMap;

/// Upstream's `IsNegativeErrorMsg`.
pub const NEGATIVE: &str = "must be greater than or equal to 0";
/// Upstream's `FieldImmutableErrorMsg`.
pub const IMMUTABLE: &str = "field is immutable";
/// Upstream's message for a port number out of range.
pub const PORT_RANGE: &str = "must be between 1 and 65535, inclusive";

/// A present, non-null field of an object.
pub fn get<'a>(v: &'a Value, key: &str) -> Option<&'a Value> {
    v.get(key).filter(|x| !x.is_null())
}

/// A string field; `""` when missing, `null` or not a string (Go's zero value).
pub fn str_of<'a>(v: &'a Value, key: &str) -> &'a str {
    v.get(key).and_then(Value::as_str).unwrap_or_default()
}

/// An integer field (`None` when missing or `null`).
pub fn int_of(v: &Value, key: &str) -> Option<i64> {
    v.get(key).and_then(Value::as_i64)
}

/// A boolean field (`None` when missing or `null`).
pub fn bool_of(v: &Value, key: &str) -> Option<bool> {
    v.get(key).and_then(Value::as_bool)
}

/// A list field (empty when missing or `null`).
pub fn list_of<'a>(v: &'a Value, key: &str) -> &'a [Value] {
    v.get(key)
        .and_then(Value::as_array)
        .map(Vec::as_slice)
        .unwrap_or_default()
}

/// A map of strings (labels, selectors, data) as sorted pairs; non-strings are skipped.
pub fn string_map(v: Option<&Value>) -> BTreeMap<String, String> {
    object::string_map(v)
}

/// Whether a map-valued field holds at least one entry.
pub fn has_entries(v: &Value, key: &str) -> bool {
    v.get(key)
        .and_then(Value::as_object)
        .is_some_and(|m| !m.is_empty())
}

/// Sets `key` when it is missing or `null` (a Go pointer field's default).
pub fn set_default(v: &mut Value, key: &str, value: Value) {
    if let Some(m) = v.as_object_mut() {
        let slot = m.entry(key).or_insert(Value::Null);
        if slot.is_null() {
            *slot = value;
        }
    }
}

/// Sets a string `key` when it is missing, `null` or `""` (a Go string field's default).
pub fn set_default_str(v: &mut Value, key: &str, value: &str) {
    if let Some(m) = v.as_object_mut() {
        let slot = m.entry(key).or_insert(Value::Null);
        if slot.is_null() || slot.as_str() == Some("") {
            *slot = json!(value);
        }
    }
}

/// Sets a number `key` when it is missing, `null` or 0 (a Go integer field's default).
pub fn set_default_int(v: &mut Value, key: &str, value: i64) {
    if let Some(m) = v.as_object_mut() {
        let slot = m.entry(key).or_insert(Value::Null);
        if slot.is_null() || slot.as_i64() == Some(0) {
            *slot = json!(value);
        }
    }
}

/// A present, non-null object field, for changing it in place.
pub fn child_mut<'a>(v: &'a mut Value, key: &str) -> Option<&'a mut Value> {
    v.get_mut(key).filter(|x| x.is_object())
}

/// An object field, created as `{}` when missing or `null` (`None` when `v` is no object).
pub fn ensure_object<'a>(v: &'a mut Value, key: &str) -> Option<&'a mut Value> {
    let m = v.as_object_mut()?;
    let slot = m.entry(key).or_insert(Value::Null);
    if slot.is_null() {
        *slot = Value::Object(Map::new());
    }
    slot.is_object().then_some(slot)
}

/// Calls `f` on every element of a list field.
pub fn each_mut(v: &mut Value, key: &str, mut f: impl FnMut(&mut Value)) {
    if let Some(items) = v.get_mut(key).and_then(Value::as_array_mut) {
        items.iter_mut().for_each(&mut f);
    }
}

/// A Go `map[string]string` as `%#v` prints it: `map[string]string{"a":"b", "c":"d"}`,
/// `map[string]string(nil)` when unset.
pub fn go_string_map(v: Option<&Value>) -> String {
    match v.and_then(Value::as_object) {
        None => "map[string]string(nil)".to_owned(),
        Some(m) => {
            let mut pairs: Vec<(&String, &Value)> = m.iter().collect();
            pairs.sort_by(|a, b| a.0.cmp(b.0));
            let items: Vec<String> = pairs
                .iter()
                .map(|(k, v)| format!("{}:{}", go_quote(k), go_quote(v.as_str().unwrap_or(""))))
                .collect();
            format!("map[string]string{{{}}}", items.join(", "))
        }
    }
}

/// A Go `[]string` as `%#v` prints it.
fn go_strings(v: Option<&Value>) -> String {
    match v.and_then(Value::as_array) {
        None => "[]string(nil)".to_owned(),
        Some(items) => {
            let quoted: Vec<String> = items
                .iter()
                .map(|s| go_quote(s.as_str().unwrap_or("")))
                .collect();
            format!("[]string{{{}}}", quoted.join(", "))
        }
    }
}

/// A `metav1.LabelSelector` as `%#v` prints it:
/// `v1.LabelSelector{MatchLabels:map[string]string{"app":"web"}, MatchExpressions:[]v1.LabelSelectorRequirement(nil)}`.
pub fn go_label_selector(sel: &Value) -> String {
    let exprs = match get(sel, "matchExpressions").and_then(Value::as_array) {
        None => "[]v1.LabelSelectorRequirement(nil)".to_owned(),
        Some(items) => {
            let rendered: Vec<String> = items
                .iter()
                .map(|e| {
                    format!(
                        "v1.LabelSelectorRequirement{{Key:{}, Operator:{}, Values:{}}}",
                        go_quote(str_of(e, "key")),
                        go_quote(str_of(e, "operator")),
                        go_strings(get(e, "values"))
                    )
                })
                .collect();
            format!("[]v1.LabelSelectorRequirement{{{}}}", rendered.join(", "))
        }
    };
    format!(
        "v1.LabelSelector{{MatchLabels:{}, MatchExpressions:{}}}",
        go_string_map(get(sel, "matchLabels")),
        exprs
    )
}

/// An `intstr.IntOrString` as `%#v` prints it: `intstr.IntOrString{Type:1, IntVal:0, StrVal:"5%"}`.
pub fn go_int_or_string(v: Option<&Value>) -> String {
    match v {
        Some(Value::String(s)) => format!(
            "intstr.IntOrString{{Type:1, IntVal:0, StrVal:{}}}",
            go_quote(s)
        ),
        Some(n) => format!(
            "intstr.IntOrString{{Type:0, IntVal:{}, StrVal:\"\"}}",
            n.as_i64().unwrap_or(0)
        ),
        None => "intstr.IntOrString{Type:0, IntVal:0, StrVal:\"\"}".to_owned(),
    }
}

/// `Invalid value: <raw>: <detail>` with a value already in Go syntax.
pub fn invalid_go(field: impl Into<String>, raw: &str, detail: &str) -> FieldError {
    invalid_raw(field, raw, detail)
}

/// `Unsupported value: <raw>: supported values: ...` with a value already in Go syntax.
pub fn not_supported_go(field: impl Into<String>, raw: &str, supported: &[&str]) -> FieldError {
    let quoted: Vec<String> = supported.iter().map(|s| go_quote(s)).collect();
    FieldError {
        kind: skiff_core::status::FieldErrorType::NotSupported,
        field: field.into(),
        value: skiff_core::status::BadValue::None,
        detail: format!("{raw}: supported values: {}", quoted.join(", ")),
    }
}

/// Upstream's `ValidateNonnegativeField`.
pub fn nonnegative(field: impl Into<String>, value: i64, errs: &mut Vec<FieldError>) {
    if value < 0 {
        errs.push(FieldError::invalid(field, value, NEGATIVE));
    }
}

/// Upstream's `ValidateDNS1123Label` on a field.
pub fn dns1123_label(field: &str, value: &str, errs: &mut Vec<FieldError>) {
    for msg in validation::is_dns1123_label(value) {
        errs.push(FieldError::invalid(field, value, msg));
    }
}

/// Upstream's `ValidateDNS1123Subdomain` (and the name checks built on it) on a field.
pub fn dns1123_subdomain(field: &str, value: &str, errs: &mut Vec<FieldError>) {
    for msg in validation::is_dns1123_subdomain(value) {
        errs.push(FieldError::invalid(field, value, msg));
    }
}

/// Upstream's `ValidateLabelName`: a qualified name.
pub fn label_name(field: &str, name: &str, errs: &mut Vec<FieldError>) {
    for msg in validation::is_qualified_name(name) {
        errs.push(FieldError::invalid(field, name, msg));
    }
}

/// Upstream's `ValidateLabels` on a map-valued field (all errors carry the map's path).
pub fn validate_labels(labels: Option<&Value>, field: &str, errs: &mut Vec<FieldError>) {
    let Some(map) = labels.and_then(Value::as_object) else {
        return;
    };
    for (k, v) in map {
        label_name(field, k, errs);
        let v = v.as_str().unwrap_or_default();
        for msg in validation::is_valid_label_value(v) {
            errs.push(FieldError::invalid(field, v, msg));
        }
    }
}

/// Upstream's `ValidateAnnotations`: qualified (lower-cased) keys and a total size limit.
pub fn validate_annotations(annotations: Option<&Value>, field: &str, errs: &mut Vec<FieldError>) {
    let Some(map) = annotations.and_then(Value::as_object) else {
        return;
    };
    let mut total = 0;
    for (k, v) in map {
        for msg in validation::is_qualified_name(&k.to_lowercase()) {
            errs.push(FieldError::invalid(field, k.as_str(), msg));
        }
        total += k.len() + v.as_str().map_or(0, str::len);
    }
    if total > crate::validate::MAX_ANNOTATIONS_BYTES {
        errs.push(FieldError::too_long(
            field,
            crate::validate::MAX_ANNOTATIONS_BYTES,
        ));
    }
}

/// Upstream's `ValidateLabelSelector` (strict label values).
pub fn validate_label_selector(sel: Option<&Value>, field: &str, errs: &mut Vec<FieldError>) {
    let Some(sel) = sel else {
        return;
    };
    validate_labels(
        get(sel, "matchLabels"),
        &format!("{field}.matchLabels"),
        errs,
    );
    for (i, expr) in list_of(sel, "matchExpressions").iter().enumerate() {
        let path = format!("{field}.matchExpressions[{i}]");
        let values = list_of(expr, "values");
        match str_of(expr, "operator") {
            "In" | "NotIn" => {
                if values.is_empty() {
                    errs.push(FieldError::required(
                        format!("{path}.values"),
                        "must be specified when `operator` is 'In' or 'NotIn'",
                    ));
                }
            }
            "Exists" | "DoesNotExist" => {
                if !values.is_empty() {
                    errs.push(FieldError::forbidden(
                        format!("{path}.values"),
                        "may not be specified when `operator` is 'Exists' or 'DoesNotExist'",
                    ));
                }
            }
            other => errs.push(FieldError::invalid(
                format!("{path}.operator"),
                other,
                "not a valid selector operator",
            )),
        }
        label_name(&format!("{path}.key"), str_of(expr, "key"), errs);
        for (j, value) in values.iter().enumerate() {
            let value = value.as_str().unwrap_or_default();
            for msg in validation::is_valid_label_value(value) {
                errs.push(FieldError::invalid(
                    format!("{path}.values[{j}]"),
                    value,
                    msg,
                ));
            }
        }
    }
}

/// Upstream's `LabelSelectorAsSelector`: `None` (nil) selects nothing, an empty selector
/// everything; an invalid one gives `None`.
pub fn selector_of(sel: Option<&Value>) -> Option<Selector> {
    match sel {
        None => Some(Selector::nothing()),
        Some(v) => {
            let typed: k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelector =
                serde_json::from_value(v.clone()).ok()?;
            labels::from_label_selector(Some(&typed)).ok()
        }
    }
}

/// Whether a label selector (`matchLabels` and `matchExpressions`) has no entries.
pub fn selector_is_empty(sel: &Value) -> bool {
    !has_entries(sel, "matchLabels") && list_of(sel, "matchExpressions").is_empty()
}

/// A value with what Go's semantic equality ignores taken out: `null`, `""`, `false`, 0,
/// and empty lists and maps (recursively), so objects that differ only in how they spell
/// "unset" compare equal.
pub fn normalized(v: &Value) -> Value {
    match v {
        Value::Object(m) => Value::Object(
            m.iter()
                .map(|(k, v)| (k.clone(), normalized(v)))
                .filter(|(_, v)| !is_zero(v))
                .collect(),
        ),
        Value::Array(items) => Value::Array(items.iter().map(normalized).collect()),
        other => other.clone(),
    }
}

fn is_zero(v: &Value) -> bool {
    match v {
        Value::Null => true,
        Value::String(s) => s.is_empty(),
        Value::Bool(b) => !b,
        Value::Number(n) => n.as_f64() == Some(0.0),
        Value::Array(a) => a.is_empty(),
        Value::Object(m) => m.is_empty(),
    }
}

/// Upstream's `apiequality.Semantic.DeepEqual` on two optional values (see [`normalized`]).
pub fn semantic_eq(a: Option<&Value>, b: Option<&Value>) -> bool {
    let a = a.map(normalized).filter(|v| !is_zero(v));
    let b = b.map(normalized).filter(|v| !is_zero(v));
    a == b
}

/// Upstream's `ValidateObjectMetaUpdate` for what a patch could still change here: the name
/// and namespace are immutable.
pub fn meta_update_errors(old: &Value, new: &Value) -> Vec<FieldError> {
    let mut errs = Vec::new();
    for field in ["name", "namespace"] {
        let (o, n) = (
            object::meta_str(old, field).unwrap_or_default(),
            object::meta_str(new, field).unwrap_or_default(),
        );
        if o != n {
            errs.push(FieldError::immutable(format!("metadata.{field}"), n));
        }
    }
    errs
}

/// The 422 for an object of the kind `info` serves.
pub fn invalid(info: &ResourceInfo, obj: &Value, errs: &[FieldError]) -> ApiError {
    ApiError::invalid(
        &GroupKind::new(info.gvk.group, info.gvk.kind),
        object::name(obj).unwrap_or_default(),
        errs,
    )
}

/// Fails with a 422 when there are errors.
pub fn check(info: &ResourceInfo, obj: &Value, errs: &[FieldError]) -> Result<(), ApiError> {
    if errs.is_empty() {
        Ok(())
    } else {
        Err(invalid(info, obj, errs))
    }
}

/// The 400 upstream's decoder gives for a body it cannot read into the kind:
/// `Deployment in version "v1" cannot be handled as a Deployment: <why>`.
pub fn cannot_handle(info: &ResourceInfo, why: &str) -> ApiError {
    let kind = info.gvk.kind;
    ApiError::bad_request(format!(
        "{kind} in version {} cannot be handled as a {kind}: {why}",
        go_quote(info.gvk.version)
    ))
}

/// Sets `metadata.generation` as upstream's `PrepareForUpdate` does, judged after
/// defaulting: one more than the old object's when the spec (or, with `annotations`, the
/// annotations) changed, else the old one.
pub fn settle_generation(old: &Value, new: &mut Value, annotations: bool) {
    let old_gen = object::meta(old)
        .get("generation")
        .and_then(Value::as_i64)
        .unwrap_or(1);
    let mut changed = !semantic_eq(old.get("spec"), new.get("spec"));
    if annotations {
        changed |= !semantic_eq(
            object::meta(old).get("annotations"),
            object::meta(new).get("annotations"),
        );
    }
    object::set_meta(
        new,
        "generation",
        if changed { old_gen + 1 } else { old_gen },
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_fill_only_unset_fields() {
        let mut v = json!({"a": null, "b": "", "c": "x", "n": 0, "m": 5});
        set_default(&mut v, "a", json!(1));
        set_default(&mut v, "c", json!("y"));
        set_default_str(&mut v, "b", "B");
        set_default_str(&mut v, "d", "D");
        set_default_int(&mut v, "n", 3);
        set_default_int(&mut v, "m", 3);
        assert_eq!(
            v,
            json!({"a": 1, "b": "B", "c": "x", "d": "D", "n": 3, "m": 5})
        );
        ensure_object(&mut v, "o").unwrap();
        assert_eq!(v["o"], json!({}));
        assert!(ensure_object(&mut v, "c").is_none());
    }

    #[test]
    fn go_renderings() {
        assert_eq!(
            go_string_map(Some(&json!({"b": "2", "a": "1"}))),
            r#"map[string]string{"a":"1", "b":"2"}"#
        );
        assert_eq!(go_string_map(None), "map[string]string(nil)");
        assert_eq!(go_string_map(Some(&json!({}))), "map[string]string{}");
        assert_eq!(
            go_label_selector(&json!({"matchLabels": {"app": "x"}})),
            r#"v1.LabelSelector{MatchLabels:map[string]string{"app":"x"}, MatchExpressions:[]v1.LabelSelectorRequirement(nil)}"#
        );
        assert_eq!(
            go_label_selector(
                &json!({"matchExpressions": [{"key": "k", "operator": "In", "values": ["a"]}]})
            ),
            r#"v1.LabelSelector{MatchLabels:map[string]string(nil), MatchExpressions:[]v1.LabelSelectorRequirement{v1.LabelSelectorRequirement{Key:"k", Operator:"In", Values:[]string{"a"}}}}"#
        );
        assert_eq!(
            go_int_or_string(Some(&json!("5%"))),
            r#"intstr.IntOrString{Type:1, IntVal:0, StrVal:"5%"}"#
        );
        assert_eq!(
            go_int_or_string(Some(&json!(0))),
            r#"intstr.IntOrString{Type:0, IntVal:0, StrVal:""}"#
        );
    }

    #[test]
    fn selectors_are_validated_like_upstream() {
        let mut errs = Vec::new();
        validate_label_selector(
            Some(&json!({"matchLabels": {"a b": "x"}, "matchExpressions": [
                {"key": "k", "operator": "In"},
                {"key": "k", "operator": "Exists", "values": ["v"]},
                {"key": "k", "operator": "Near"},
            ]})),
            "spec.selector",
            &mut errs,
        );
        let shown: Vec<String> = errs.iter().map(|e| e.to_string()).collect();
        assert!(shown[0].starts_with("spec.selector.matchLabels: Invalid value: \"a b\""));
        assert_eq!(
            shown[1],
            "spec.selector.matchExpressions[0].values: Required value: must be specified when `operator` is 'In' or 'NotIn'"
        );
        assert_eq!(
            shown[2],
            "spec.selector.matchExpressions[1].values: Forbidden: may not be specified when `operator` is 'Exists' or 'DoesNotExist'"
        );
        assert_eq!(
            shown[3],
            "spec.selector.matchExpressions[2].operator: Invalid value: \"Near\": not a valid selector operator"
        );
        assert!(selector_of(None).unwrap().is_nothing());
        assert!(selector_of(Some(&json!({"matchLabels": {"a b": "x"}}))).is_none());
        assert!(selector_of(Some(&json!({}))).unwrap().is_empty());
    }

    #[test]
    fn semantic_equality_ignores_spellings_of_unset() {
        assert!(semantic_eq(
            Some(&json!({"a": {}, "b": [], "c": null, "d": false, "e": "", "f": 0})),
            None
        ));
        assert!(semantic_eq(
            Some(&json!({"matchLabels": {"a": "b"}, "matchExpressions": []})),
            Some(&json!({"matchLabels": {"a": "b"}}))
        ));
        assert!(!semantic_eq(
            Some(&json!({"matchLabels": {"a": "b"}})),
            Some(&json!({"matchLabels": {"a": "c"}}))
        ));
    }

    #[test]
    fn generation_follows_the_defaulted_spec() {
        let old = json!({"metadata": {"generation": 3}, "spec": {"replicas": 1, "paused": false}});
        let mut same = json!({"metadata": {"generation": 4}, "spec": {"replicas": 1}});
        settle_generation(&old, &mut same, false);
        assert_eq!(same["metadata"]["generation"], 3);
        let mut changed = json!({"metadata": {}, "spec": {"replicas": 2}});
        settle_generation(&old, &mut changed, false);
        assert_eq!(changed["metadata"]["generation"], 4);
        let mut annotated =
            json!({"metadata": {"annotations": {"a": "b"}}, "spec": {"replicas": 1}});
        settle_generation(&old, &mut annotated, true);
        assert_eq!(annotated["metadata"]["generation"], 4);
    }

    #[test]
    fn renamed_objects_are_refused() {
        let old = json!({"metadata": {"name": "a", "namespace": "n"}});
        let new = json!({"metadata": {"name": "b", "namespace": "n"}});
        assert_eq!(
            meta_update_errors(&old, &new)[0].to_string(),
            "metadata.name: Invalid value: \"b\": field is immutable"
        );
        assert!(meta_update_errors(&old, &old).is_empty());
    }
}
