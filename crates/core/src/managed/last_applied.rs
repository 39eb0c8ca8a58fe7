//! Client-side apply's `kubectl.kubernetes.io/last-applied-configuration` annotation as
//! server-side apply by the manager `kubectl` uses it (upstream's `lastAppliedManager` and
//! `lastAppliedUpdater`): conflicts on fields the object still has as last applied
//! client-side are forgiven, and the annotation, when present, follows the applied
//! configuration so that client-side apply keeps working afterwards.

use super::fieldpath::FieldSet;
use super::typed::{compare, field_set};
use serde_json::Value;

/// The annotation.
pub const ANNOTATION: &str = "kubectl.kubernetes.io/last-applied-configuration";

/// Upstream's limit on the total size of an object's annotations (256 KiB).
const MAX_ANNOTATIONS_SIZE: usize = 256 * 1024;

/// The annotation's value, when present and not empty.
pub fn get(obj: &Value) -> Option<&str> {
    obj.get("metadata")?
        .get("annotations")?
        .get(ANNOTATION)?
        .as_str()
        .filter(|s| !s.is_empty())
}

/// The fields of the last-applied configuration whose values the object still has: an apply
/// by `kubectl` may take them over from their client-side owner without a conflict. `None`
/// when there is no usable annotation (absent, not JSON, another API version).
pub fn allowed_conflicts(kind: &str, api_version: &str, live: &Value) -> Option<FieldSet> {
    let last: Value = serde_json::from_str(get(live)?).ok()?;
    if last.get("apiVersion").and_then(Value::as_str) != Some(api_version) {
        return None;
    }
    let set = field_set(kind, &last);
    let cmp = compare(kind, &last, live);
    Some(
        set.difference(&cmp.modified)
            .difference(&cmp.added)
            .difference(&cmp.removed),
    )
}

/// The annotation value for an applied configuration: the configuration without the
/// annotation, as Go's JSON encoder writes it (sorted keys, HTML characters escaped, a final
/// newline).
pub fn build(config: &Value) -> String {
    let mut c = config.clone();
    if let Some(a) = c
        .get_mut("metadata")
        .and_then(|m| m.get_mut("annotations"))
        .and_then(Value::as_object_mut)
    {
        a.remove(ANNOTATION);
    }
    let mut out = String::new();
    for ch in serde_json::to_string(&c).unwrap_or_default().chars() {
        match ch {
            '<' => out.push_str("\\u003c"),
            '>' => out.push_str("\\u003e"),
            '&' => out.push_str("\\u0026"),
            '\u{2028}' => out.push_str("\\u2028"),
            '\u{2029}' => out.push_str("\\u2029"),
            c => out.push(c),
        }
    }
    out.push('\n');
    out
}

/// Sets the annotation on `obj`, unless the annotations would then exceed upstream's size
/// limit (then it is dropped, as upstream drops it).
pub fn set(obj: &mut Value, value: String) {
    let Some(meta) = obj.get_mut("metadata").and_then(Value::as_object_mut) else {
        return;
    };
    let annotations = meta
        .entry("annotations")
        .or_insert_with(|| Value::Object(Default::default()));
    let Some(a) = annotations.as_object_mut() else {
        return;
    };
    a.insert(ANNOTATION.into(), Value::String(value));
    let size: usize = a
        .iter()
        .map(|(k, v)| k.len() + v.as_str().map_or(0, str::len))
        .sum();
    if size > MAX_ANNOTATIONS_SIZE {
        a.remove(ANNOTATION);
    }
}
