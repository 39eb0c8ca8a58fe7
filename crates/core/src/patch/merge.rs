//! RFC 7386 JSON merge patch, as implemented by `evanphx/json-patch` v4 (`MergePatch`,
//! `CreateMergePatch`), which kube-apiserver uses for `application/merge-patch+json`.
//!
//! It is RFC 7386 (objects merge recursively, `null` deletes, anything else replaces) with
//! one upstream difference: when a patch value is stored as is — because the target has no
//! such member, or the member is not an object — `null`s are pruned from every object nested
//! in it, *including objects inside arrays* (RFC 7386 would keep those). A non-object patch
//! value replacing an existing object member is stored verbatim.

use serde_json::{Map, Value};

use super::PatchError;

/// Applies a merge patch to `target` in place.
///
/// Object patches merge into objects (a non-object target is first replaced by `{}`);
/// `null` members delete; other values replace. A top-level patch that is not an object
/// replaces the whole target (RFC 7386; see [`apply_merge_patch`] for upstream's stricter
/// handling of `null` and scalar patches).
pub fn merge_patch(target: &mut Value, patch: &Value) {
    match (target.as_object_mut(), patch) {
        (Some(doc), Value::Object(patch)) => merge_objects(doc, patch),
        _ => *target = pruned(patch),
    }
}

/// Applies a merge patch the way kube-apiserver does: like [`merge_patch`] on a copy of
/// `original`, except that a patch which is neither an object nor an array (`null`, a
/// string, a number, a boolean) is rejected with [`PatchError::InvalidMergePatch`]
/// (upstream's "Invalid JSON Patch", a 400).
pub fn apply_merge_patch(original: &Value, patch: &Value) -> Result<Value, PatchError> {
    if !patch.is_object() && !patch.is_array() {
        return Err(PatchError::InvalidMergePatch);
    }
    let mut out = original.clone();
    merge_patch(&mut out, patch);
    Ok(out)
}

/// Computes the merge patch that turns `original` into `modified`: for two objects, the
/// members that were added or changed (recursing into objects that are objects on both
/// sides, arrays replaced wholesale) plus `null` for members that were removed; `{}` when
/// nothing changed. When either side is not an object the patch is `modified` itself.
///
/// Numbers compare by value (`1` equals `1.0`) as upstream's diff does. Useful to detect
/// no-op updates (`create_merge_patch(a, b) == {}` iff the objects are equal) and to
/// produce patches in tests.
pub fn create_merge_patch(original: &Value, modified: &Value) -> Value {
    match (original, modified) {
        (Value::Object(a), Value::Object(b)) => Value::Object(object_diff(a, b)),
        _ => modified.clone(),
    }
}

fn merge_objects(doc: &mut Map<String, Value>, patch: &Map<String, Value>) {
    for (key, value) in patch {
        if value.is_null() {
            doc.remove(key);
            continue;
        }
        match doc.get_mut(key) {
            Some(current) if !current.is_null() => merge_member(current, value),
            _ => {
                doc.insert(key.clone(), pruned(value));
            }
        }
    }
}

fn merge_member(current: &mut Value, patch: &Value) {
    match (current.as_object_mut(), patch) {
        (Some(doc), Value::Object(patch)) => merge_objects(doc, patch),
        (Some(_), _) => *current = patch.clone(),
        (None, _) => *current = pruned(patch),
    }
}

/// A copy of `value` without `null` members in any nested object (array elements that are
/// `null` stay).
fn pruned(value: &Value) -> Value {
    match value {
        Value::Object(map) => Value::Object(
            map.iter()
                .filter(|(_, v)| !v.is_null())
                .map(|(k, v)| (k.clone(), pruned(v)))
                .collect(),
        ),
        Value::Array(items) => Value::Array(items.iter().map(pruned).collect()),
        other => other.clone(),
    }
}

/// Structural equality where numbers compare by value (`1 == 1.0`), as upstream decodes
/// every number to `float64` before diffing. Integers that both fit 64 bits compare exactly.
fn json_equal(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => {
            if let (Some(x), Some(y)) = (x.as_i64(), y.as_i64()) {
                x == y
            } else if let (Some(x), Some(y)) = (x.as_u64(), y.as_u64()) {
                x == y
            } else {
                x.as_f64() == y.as_f64()
            }
        }
        (Value::Array(x), Value::Array(y)) => {
            x.len() == y.len() && x.iter().zip(y).all(|(x, y)| json_equal(x, y))
        }
        (Value::Object(x), Value::Object(y)) => {
            x.len() == y.len()
                && x.iter()
                    .all(|(k, v)| y.get(k).is_some_and(|w| json_equal(v, w)))
        }
        _ => a == b,
    }
}

fn object_diff(original: &Map<String, Value>, modified: &Map<String, Value>) -> Map<String, Value> {
    let mut out = Map::new();
    for (key, new) in modified {
        match (original.get(key), new) {
            (None, _) => {
                out.insert(key.clone(), new.clone());
            }
            (Some(Value::Object(old)), Value::Object(new)) => {
                let nested = object_diff(old, new);
                if !nested.is_empty() {
                    out.insert(key.clone(), Value::Object(nested));
                }
            }
            (Some(old), new) => {
                if !json_equal(old, new) {
                    out.insert(key.clone(), new.clone());
                }
            }
        }
    }
    for key in original.keys() {
        if !modified.contains_key(key) {
            out.insert(key.clone(), Value::Null);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn rfc7386_appendix_a() {
        let cases = [
            (json!({"a": "b"}), json!({"a": "c"}), json!({"a": "c"})),
            (
                json!({"a": "b"}),
                json!({"b": "c"}),
                json!({"a": "b", "b": "c"}),
            ),
            (json!({"a": "b"}), json!({"a": null}), json!({})),
            (
                json!({"a": "b", "b": "c"}),
                json!({"a": null}),
                json!({"b": "c"}),
            ),
            (json!({"a": ["b"]}), json!({"a": "c"}), json!({"a": "c"})),
            (json!({"a": "c"}), json!({"a": ["b"]}), json!({"a": ["b"]})),
            (
                json!({"a": {"b": "c"}}),
                json!({"a": {"b": "d", "c": null}}),
                json!({"a": {"b": "d"}}),
            ),
            (
                json!({"a": [{"b": "c"}]}),
                json!({"a": [1]}),
                json!({"a": [1]}),
            ),
            (json!(["a", "b"]), json!(["c", "d"]), json!(["c", "d"])),
            (json!({"a": "b"}), json!(["c"]), json!(["c"])),
            (json!({"a": "foo"}), json!(null), json!(null)),
            (json!({"a": "foo"}), json!("bar"), json!("bar")),
            (
                json!({"e": null}),
                json!({"a": 1}),
                json!({"e": null, "a": 1}),
            ),
            (
                json!([1, 2]),
                json!({"a": "b", "c": null}),
                json!({"a": "b"}),
            ),
            (
                json!({}),
                json!({"a": {"bb": {"ccc": null}}}),
                json!({"a": {"bb": {}}}),
            ),
        ];
        for (original, patch, expected) in cases {
            let mut target = original.clone();
            merge_patch(&mut target, &patch);
            assert_eq!(target, expected, "{original} + {patch}");
        }
    }

    #[test]
    fn kubernetes_shaped_merges() {
        let mut pod = json!({
            "metadata": {"name": "p", "labels": {"app": "web", "tier": "fe"}, "annotations": {"x": "1"}},
            "spec": {"containers": [{"name": "c", "image": "nginx:1"}], "nodeName": "n1"}
        });
        merge_patch(
            &mut pod,
            &json!({
                "metadata": {"labels": {"tier": null, "new": "y"}, "annotations": null},
                "spec": {"containers": [{"name": "c", "image": "nginx:2"}]}
            }),
        );
        assert_eq!(
            pod,
            json!({
                "metadata": {"name": "p", "labels": {"app": "web", "new": "y"}},
                "spec": {"containers": [{"name": "c", "image": "nginx:2"}], "nodeName": "n1"}
            })
        );
        // Deleting a missing member is a no-op; null on a null member removes it.
        let mut doc = json!({"a": null});
        merge_patch(&mut doc, &json!({"a": null, "b": null}));
        assert_eq!(doc, json!({}));
        // An empty patch changes nothing.
        let mut doc = json!({"a": {"b": 1}});
        merge_patch(&mut doc, &json!({}));
        assert_eq!(doc, json!({"a": {"b": 1}}));
        // A member holding null is treated as absent: the patch value is stored pruned.
        let mut doc = json!({"a": null});
        merge_patch(&mut doc, &json!({"a": {"b": null, "c": 1}}));
        assert_eq!(doc, json!({"a": {"c": 1}}));
    }

    #[test]
    fn upstream_null_pruning_in_arrays() {
        // Target member missing: nested objects (also inside arrays) lose their nulls.
        let mut doc = json!({});
        merge_patch(&mut doc, &json!({"a": [{"x": null, "y": 1}, null]}));
        assert_eq!(doc, json!({"a": [{"y": 1}, null]}));
        // Target member is a non-object: same.
        let mut doc = json!({"a": []});
        merge_patch(&mut doc, &json!({"a": [{"x": null}]}));
        assert_eq!(doc, json!({"a": [{}]}));
        // Target member is an object and the patch value is not: stored verbatim.
        let mut doc = json!({"a": {"k": 1}});
        merge_patch(&mut doc, &json!({"a": [{"x": null}]}));
        assert_eq!(doc, json!({"a": [{"x": null}]}));
        // Top-level array patch.
        let mut doc = json!({"a": 1});
        merge_patch(&mut doc, &json!([{"x": null}, null]));
        assert_eq!(doc, json!([{}, null]));
    }

    #[test]
    fn apply_merge_patch_validates_patch_type() {
        let original = json!({"a": 1});
        for bad in [json!(null), json!(1), json!("s"), json!(true)] {
            let err = apply_merge_patch(&original, &bad).unwrap_err();
            assert_eq!(err, PatchError::InvalidMergePatch);
            assert_eq!(err.to_string(), "Invalid JSON Patch");
            assert_eq!(err.http_status(), 400);
        }
        assert_eq!(
            apply_merge_patch(&original, &json!({"b": 2})).unwrap(),
            json!({"a": 1, "b": 2})
        );
        assert_eq!(
            apply_merge_patch(&original, &json!([1])).unwrap(),
            json!([1])
        );
        assert_eq!(original, json!({"a": 1}));
    }

    #[test]
    fn create_merge_patch_outputs() {
        let cases = [
            (json!({"a": 1}), json!({"a": 1}), json!({})),
            (json!({"a": 1}), json!({"a": 2}), json!({"a": 2})),
            (json!({"a": 1}), json!({}), json!({"a": null})),
            (json!({}), json!({"a": {"b": 1}}), json!({"a": {"b": 1}})),
            (
                json!({"a": {"b": 1, "c": 2}}),
                json!({"a": {"b": 1, "c": 3}}),
                json!({"a": {"c": 3}}),
            ),
            (
                json!({"a": {"b": 1, "c": 2}}),
                json!({"a": {"b": 1}}),
                json!({"a": {"c": null}}),
            ),
            (json!({"a": {"b": 1}}), json!({"a": {"b": 1}}), json!({})),
            (json!({"a": [1, 2]}), json!({"a": [1, 2]}), json!({})),
            (
                json!({"a": [1, 2]}),
                json!({"a": [2, 1]}),
                json!({"a": [2, 1]}),
            ),
            (json!({"a": {"b": 1}}), json!({"a": "x"}), json!({"a": "x"})),
            (
                json!({"a": "x"}),
                json!({"a": {"b": 1}}),
                json!({"a": {"b": 1}}),
            ),
            (json!({"a": null}), json!({"a": null}), json!({})),
            (json!({"a": null}), json!({"a": 1}), json!({"a": 1})),
            (json!({"a": 1}), json!({"a": 1.0}), json!({})),
            (json!({"a": [1, 2.5]}), json!({"a": [1.0, 2.5]}), json!({})),
            (json!({"a": 1}), json!({"a": 1.5}), json!({"a": 1.5})),
            (
                json!({"a": -1}),
                json!({"a": 18446744073709551615u64}),
                json!({"a": 18446744073709551615u64}),
            ),
            (json!([1]), json!([2]), json!([2])),
            (json!({"a": 1}), json!("s"), json!("s")),
        ];
        for (original, modified, expected) in cases {
            assert_eq!(
                create_merge_patch(&original, &modified),
                expected,
                "{original} -> {modified}"
            );
        }
    }

    #[test]
    fn create_then_merge_round_trips() {
        let docs = [
            json!({}),
            json!({"a": 1}),
            json!({"a": {"b": {"c": [1, {"d": 2}]}}, "e": "f"}),
            json!({"metadata": {"labels": {"x": "1"}}, "spec": {"replicas": 3}}),
            json!({"metadata": {"labels": {}}, "spec": {"replicas": 3, "paused": true}}),
            json!({"a": [], "b": {"c": {}}}),
        ];
        for original in &docs {
            for modified in &docs {
                let patch = create_merge_patch(original, modified);
                let mut result = original.clone();
                merge_patch(&mut result, &patch);
                assert_eq!(&result, modified, "{original} -> {modified} via {patch}");
                assert_eq!(
                    patch == json!({}),
                    original == modified,
                    "no-op detection for {original} -> {modified}"
                );
            }
        }
    }
}
