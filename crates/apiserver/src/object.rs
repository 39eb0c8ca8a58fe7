//! Reading and writing the common fields of objects held as JSON values.

use serde_json::{Map, Value};

/// `metadata` of an object (an empty map when absent or not an object).
pub fn meta(obj: &Value) -> &Map<String, Value> {
    static EMPTY: std::sync::OnceLock<Map<String, Value>> = std::sync::OnceLock::new();
    obj.get("metadata")
        .and_then(Value::as_object)
        .unwrap_or_else(|| EMPTY.get_or_init(Map::new))
}

/// `metadata`, created when absent (the object must be a JSON object).
pub fn meta_mut(obj: &mut Value) -> &mut Map<String, Value> {
    let map = obj
        .as_object_mut()
        .expect("objects are JSON objects (checked at decode)");
    let entry = map
        .entry("metadata")
        .or_insert_with(|| Value::Object(Map::new()));
    if !entry.is_object() {
        *entry = Value::Object(Map::new());
    }
    entry.as_object_mut().expect("just made an object")
}

/// A string field of `metadata`.
pub fn meta_str<'a>(obj: &'a Value, field: &str) -> Option<&'a str> {
    meta(obj).get(field).and_then(Value::as_str)
}

/// `metadata.name`.
pub fn name(obj: &Value) -> Option<&str> {
    meta_str(obj, "name").filter(|s| !s.is_empty())
}

/// `metadata.namespace`.
pub fn namespace(obj: &Value) -> Option<&str> {
    meta_str(obj, "namespace").filter(|s| !s.is_empty())
}

/// `metadata.labels` as pairs (non-string values are ignored).
pub fn labels(obj: &Value) -> std::collections::BTreeMap<String, String> {
    string_map(meta(obj).get("labels"))
}

/// A JSON object of strings as a map.
pub fn string_map(v: Option<&Value>) -> std::collections::BTreeMap<String, String> {
    v.and_then(Value::as_object)
        .map(|m| {
            m.iter()
                .filter_map(|(k, v)| Some((k.clone(), v.as_str()?.to_owned())))
                .collect()
        })
        .unwrap_or_default()
}

/// Sets a `metadata` field.
pub fn set_meta(obj: &mut Value, field: &str, value: impl Into<Value>) {
    meta_mut(obj).insert(field.to_owned(), value.into());
}

/// Removes a `metadata` field.
pub fn remove_meta(obj: &mut Value, field: &str) {
    meta_mut(obj).remove(field);
}

/// The value at a dotted path (`status.phase`, `spec.nodeName`).
pub fn path<'a>(obj: &'a Value, dotted: &str) -> Option<&'a Value> {
    dotted.split('.').try_fold(obj, |v, part| v.get(part))
}

/// The value at a dotted path rendered as a field-selector value: strings as they are,
/// numbers and booleans as text, missing as empty.
pub fn field_value(obj: &Value, dotted: &str) -> String {
    match path(obj, dotted) {
        Some(Value::String(s)) => s.clone(),
        Some(Value::Null) | None => String::new(),
        Some(other) => other.to_string(),
    }
}

/// A label selector (`matchLabels`, `matchExpressions`) as selector text: requirements sorted
/// by key, values sorted (upstream's `LabelSelectorAsSelector(..).String()`). Empty for a
/// missing or empty selector; `None` when it is invalid.
pub fn label_selector_text(sel: Option<&Value>) -> Option<String> {
    let Some(sel) = sel.filter(|s| s.is_object()) else {
        return Some(String::new());
    };
    let mut reqs: Vec<(String, String)> = string_map(sel.get("matchLabels"))
        .into_iter()
        .map(|(k, v)| (k.clone(), format!("{k}={v}")))
        .collect();
    let exprs = sel.get("matchExpressions").and_then(Value::as_array);
    for e in exprs.into_iter().flatten() {
        let key = e.get("key").and_then(Value::as_str).unwrap_or("");
        let mut values: Vec<&str> = e
            .get("values")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .filter_map(Value::as_str)
            .collect();
        values.sort_unstable();
        let op = e.get("operator").and_then(Value::as_str).unwrap_or("");
        let req = match (op, values.is_empty()) {
            ("In", false) => format!("{key} in ({})", values.join(",")),
            ("NotIn", false) => format!("{key} notin ({})", values.join(",")),
            ("Exists", true) => key.to_owned(),
            ("DoesNotExist", true) => format!("!{key}"),
            _ => return None,
        };
        reqs.push((key.to_owned(), req));
    }
    reqs.sort_by(|a, b| a.0.cmp(&b.0));
    Some(
        reqs.into_iter()
            .map(|(_, r)| r)
            .collect::<Vec<_>>()
            .join(","),
    )
}

/// The current time as upstream writes timestamps (RFC 3339, seconds, UTC).
pub fn now_rfc3339() -> String {
    jiff::Timestamp::now()
        .round(jiff::Unit::Second)
        .map(|t| t.strftime("%Y-%m-%dT%H:%M:%SZ").to_string())
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn reads_and_writes_metadata() {
        let mut obj = json!({"kind": "Pod", "status": {"phase": "Running", "ok": true}});
        assert_eq!(name(&obj), None);
        set_meta(&mut obj, "name", "p");
        set_meta(&mut obj, "labels", json!({"app": "x", "bad": 1}));
        assert_eq!(name(&obj), Some("p"));
        assert_eq!(labels(&obj).len(), 1);
        assert_eq!(field_value(&obj, "status.phase"), "Running");
        assert_eq!(field_value(&obj, "status.ok"), "true");
        assert_eq!(field_value(&obj, "spec.nodeName"), "");
        remove_meta(&mut obj, "labels");
        assert!(meta(&obj).get("labels").is_none());
    }

    #[test]
    fn timestamps_have_whole_seconds() {
        let t = now_rfc3339();
        assert_eq!(t.len(), 20, "{t}");
        assert!(t.ends_with('Z'));
    }
}
