//! RFC 6902 JSON Patch with the behaviour of `gopkg.in/evanphx/json-patch.v4`, which
//! kube-apiserver uses. Notable behaviours (all deliberate, to match upstream):
//!
//! * `add` on an existing object member replaces it; `add` at array index `len` or `-`
//!   appends; `add` with path `""` fails (the whole document cannot be added).
//! * `remove` of a missing member fails; `replace`/`test`/`copy` treat a missing *member*
//!   of an existing object as `null` (so `replace` of a missing member adds it, and `copy`
//!   from one writes `null`), while a missing *parent* fails with "doc is missing path".
//! * Array indices are parsed like Go's `strconv.Atoi` (`+1` and `01` are accepted) and
//!   negative indices count from the end (`-1` is the last element).
//! * The first path segment before the first `/` is ignored (`a/b` acts as `/b`).
//! * `replace` and `test` accept the path `""` (the whole document); `replace` needs an
//!   object or array value there.
//! * A missing `value` is `null`.
//!
//! Application is atomic: operations run on a copy which replaces the document only when
//! every operation succeeded.

use serde_json::{Map, Value};

use super::{PatchError, go_json_type};
use crate::labels::go_quote;

/// kube-apiserver refuses JSON Patches with more operations than this (413).
pub const MAX_JSON_PATCH_OPERATIONS: usize = 10000;

/// One operation of a JSON Patch, kept as the client sent it: fields are interpreted when
/// the operation is applied (like upstream), so a malformed operation only fails if it is
/// reached.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct PatchOperation {
    fields: Map<String, Value>,
}

impl PatchOperation {
    /// Builds an operation from its JSON object.
    pub fn new(fields: Map<String, Value>) -> PatchOperation {
        PatchOperation { fields }
    }

    /// The raw JSON object of the operation.
    pub fn fields(&self) -> &Map<String, Value> {
        &self.fields
    }

    /// The `op` member, or `"unknown"` when it is missing or not a string (as upstream).
    pub fn op(&self) -> &str {
        match self.fields.get("op") {
            Some(Value::String(s)) => s,
            _ => "unknown",
        }
    }

    /// The `path` member when it is a string.
    pub fn path(&self) -> Option<&str> {
        self.fields.get("path").and_then(Value::as_str)
    }

    /// The `from` member when it is a string.
    pub fn from(&self) -> Option<&str> {
        self.fields.get("from").and_then(Value::as_str)
    }

    /// The `value` member, if present (an explicit `null` is `Some(Null)`).
    pub fn value(&self) -> Option<&Value> {
        self.fields.get("value")
    }

    /// `value`, with an absent member read as `null` (upstream stores a nil node).
    fn value_or_null(&self) -> Value {
        self.value().cloned().unwrap_or(Value::Null)
    }

    /// Decodes a string member like upstream's `Operation.Path()` / `From()`.
    fn string_field(&self, name: &str, missing: &str) -> Result<String, PatchError> {
        match self.fields.get(name) {
            None | Some(Value::Null) => {
                Err(PatchError::Missing(format!("{missing}: missing value")))
            }
            Some(Value::String(s)) => Ok(s.clone()),
            Some(other) => Err(PatchError::Invalid(format!(
                "json: cannot unmarshal {} into Go value of type string",
                go_json_type(other)
            ))),
        }
    }

    fn decode_path(&self) -> Result<String, PatchError> {
        self.string_field("path", "operation missing path field")
    }

    fn decode_from(&self) -> Result<String, PatchError> {
        self.string_field("from", "operation, missing from field")
    }
}

/// A decoded JSON Patch document: an ordered list of operations.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct JsonPatch {
    operations: Vec<PatchOperation>,
}

impl JsonPatch {
    /// Decodes a patch from parsed JSON (upstream's `DecodePatch`): it must be an array of
    /// objects (`null` is the empty patch, `null` elements are operations with no field).
    /// Failures are [`PatchError::InvalidPatch`] (a 400).
    pub fn from_value(value: &Value) -> Result<JsonPatch, PatchError> {
        let items = match value {
            Value::Null => return Ok(JsonPatch::default()),
            Value::Array(items) => items,
            other => {
                return Err(PatchError::InvalidPatch(format!(
                    "json: cannot unmarshal {} into Go value of type jsonpatch.Patch",
                    go_json_type(other)
                )));
            }
        };
        let mut operations = Vec::with_capacity(items.len());
        for item in items {
            match item {
                Value::Object(fields) => operations.push(PatchOperation::new(fields.clone())),
                Value::Null => operations.push(PatchOperation::default()),
                other => {
                    return Err(PatchError::InvalidPatch(format!(
                        "json: cannot unmarshal {} into Go value of type jsonpatch.Operation",
                        go_json_type(other)
                    )));
                }
            }
        }
        Ok(JsonPatch { operations })
    }

    /// Decodes a patch from the raw request body; invalid JSON is
    /// [`PatchError::InvalidPatch`] with serde's message.
    pub fn from_slice(bytes: &[u8]) -> Result<JsonPatch, PatchError> {
        let value: Value =
            serde_json::from_slice(bytes).map_err(|e| PatchError::InvalidPatch(e.to_string()))?;
        JsonPatch::from_value(&value)
    }

    /// The operations, in order.
    pub fn operations(&self) -> &[PatchOperation] {
        &self.operations
    }

    /// The number of operations (compare with [`MAX_JSON_PATCH_OPERATIONS`]).
    pub fn len(&self) -> usize {
        self.operations.len()
    }

    /// True when the patch has no operation.
    pub fn is_empty(&self) -> bool {
        self.operations.is_empty()
    }

    /// Applies the patch to a copy of `doc` and returns the result; `doc` is not modified.
    pub fn apply(&self, doc: &Value) -> Result<Value, PatchError> {
        if !doc.is_object() && !doc.is_array() {
            return Err(PatchError::Invalid(format!(
                "json: cannot unmarshal {} into Go value of type jsonpatch.partialDoc",
                go_json_type(doc)
            )));
        }
        let mut work = doc.clone();
        for op in &self.operations {
            apply_operation(&mut work, op)?;
        }
        Ok(work)
    }

    /// Applies the patch to `doc` atomically: on error `doc` is left unchanged.
    pub fn apply_in_place(&self, doc: &mut Value) -> Result<(), PatchError> {
        *doc = self.apply(doc)?;
        Ok(())
    }
}

/// Decodes `patch` as a JSON Patch and applies it to `doc` atomically (on error `doc` is
/// unchanged). Decoding errors are [`PatchError::InvalidPatch`].
pub fn apply_json_patch(doc: &mut Value, patch: &Value) -> Result<(), PatchError> {
    JsonPatch::from_value(patch)?.apply_in_place(doc)
}

fn apply_operation(doc: &mut Value, op: &PatchOperation) -> Result<(), PatchError> {
    match op.op() {
        "add" => op_add(doc, op),
        "remove" => op_remove(doc, op),
        "replace" => op_replace(doc, op),
        "move" => op_move(doc, op),
        "test" => op_test(doc, op),
        "copy" => op_copy(doc, op),
        other => Err(PatchError::Invalid(format!("Unexpected kind: {other}"))),
    }
}

fn missing(message: String) -> PatchError {
    PatchError::Missing(format!("{message}: missing value"))
}

fn op_add(doc: &mut Value, op: &PatchOperation) -> Result<(), PatchError> {
    let path = op
        .decode_path()
        .map_err(|_| missing("add operation failed to decode path".into()))?;
    let (container, key) = find_object(doc, &path).ok_or_else(|| {
        missing(format!(
            "add operation does not apply: doc is missing path: \"{path}\""
        ))
    })?;
    container_add(container, &key, op.value_or_null())
        .map_err(|e| e.wrap(&format!("error in add for path: '{path}'")))
}

fn op_remove(doc: &mut Value, op: &PatchOperation) -> Result<(), PatchError> {
    let path = op
        .decode_path()
        .map_err(|_| missing("remove operation failed to decode path".into()))?;
    let (container, key) = find_object(doc, &path).ok_or_else(|| {
        missing(format!(
            "remove operation does not apply: doc is missing path: \"{path}\""
        ))
    })?;
    container_remove(container, &key)
        .map(drop)
        .map_err(|e| e.wrap(&format!("error in remove for path: '{path}'")))
}

fn op_replace(doc: &mut Value, op: &PatchOperation) -> Result<(), PatchError> {
    let path = op
        .decode_path()
        .map_err(|e| e.wrap("replace operation failed to decode path"))?;
    if path.is_empty() {
        let value = op.value_or_null();
        if !value.is_object() && !value.is_array() {
            return Err(PatchError::Invalid(
                "replace operation value must be object or array".into(),
            ));
        }
        *doc = value;
        return Ok(());
    }
    let (container, key) = find_object(doc, &path).ok_or_else(|| {
        missing(format!(
            "replace operation does not apply: doc is missing path: {path}"
        ))
    })?;
    if container_get(container, &key).is_err() {
        return Err(missing(format!(
            "replace operation does not apply: doc is missing key: {path}"
        )));
    }
    container_set(container, &key, op.value_or_null())
        .map_err(|e| e.wrap(&format!("error in remove for path: '{path}'")))
}

fn op_move(doc: &mut Value, op: &PatchOperation) -> Result<(), PatchError> {
    let from = op
        .decode_from()
        .map_err(|e| e.wrap("move operation failed to decode from"))?;
    let (container, key) = find_object(doc, &from).ok_or_else(|| {
        missing(format!(
            "move operation does not apply: doc is missing from path: {from}"
        ))
    })?;
    container_get(container, &key)
        .map_err(|e| e.wrap(&format!("error in move for path: '{key}'")))?;
    let value = container_remove(container, &key)
        .map_err(|e| e.wrap(&format!("error in move for path: '{key}'")))?;
    let path = op
        .decode_path()
        .map_err(|e| e.wrap("move operation failed to decode path"))?;
    let (container, key) = find_object(doc, &path).ok_or_else(|| {
        missing(format!(
            "move operation does not apply: doc is missing destination path: {path}"
        ))
    })?;
    container_add(container, &key, value)
        .map_err(|e| e.wrap(&format!("error in move for path: '{path}'")))
}

fn op_test(doc: &mut Value, op: &PatchOperation) -> Result<(), PatchError> {
    let path = op
        .decode_path()
        .map_err(|e| e.wrap("test operation failed to decode path"))?;
    let expected = op.value_or_null();
    let failed = || PatchError::TestFailed(format!("testing value {path} failed: test failed"));
    if path.is_empty() {
        return if *doc == expected {
            Ok(())
        } else {
            Err(failed())
        };
    }
    let (container, key) = find_object(doc, &path).ok_or_else(|| {
        missing(format!(
            "test operation does not apply: is missing path: {path}"
        ))
    })?;
    let actual = container_get(container, &key)
        .map_err(|e| e.wrap(&format!("error in test for path: '{path}'")))?;
    if actual.unwrap_or(&Value::Null) == &expected {
        Ok(())
    } else {
        Err(failed())
    }
}

fn op_copy(doc: &mut Value, op: &PatchOperation) -> Result<(), PatchError> {
    let from = op
        .decode_from()
        .map_err(|e| e.wrap("copy operation failed to decode from"))?;
    let (container, key) = find_object(doc, &from).ok_or_else(|| {
        missing(format!(
            "copy operation does not apply: doc is missing from path: {from}"
        ))
    })?;
    let value = container_get(container, &key)
        .map_err(|e| e.wrap(&format!("error in copy for from: '{from}'")))?
        .cloned()
        .unwrap_or(Value::Null);
    let path = op
        .decode_path()
        .map_err(|_| missing("copy operation failed to decode path".into()))?;
    let (container, key) = find_object(doc, &path).ok_or_else(|| {
        missing(format!(
            "copy operation does not apply: doc is missing destination path: {path}"
        ))
    })?;
    container_add(container, &key, value)
        .map_err(|e| e.wrap("error while adding value during copy"))
}

/// Decodes one JSON Pointer reference token (`~1` -> `/`, then `~0` -> `~`).
fn decode_token(token: &str) -> String {
    token.replace("~1", "/").replace("~0", "~")
}

/// Walks to the container (object or array) holding the last segment of `path` and returns
/// it with the decoded last segment. `None` when the path has no `/`, or an intermediate
/// segment is missing, `null` or not a container.
fn find_object<'a>(doc: &'a mut Value, path: &str) -> Option<(&'a mut Value, String)> {
    let segments: Vec<&str> = path.split('/').collect();
    if segments.len() < 2 {
        return None;
    }
    let (last, parents) = segments[1..].split_last()?;
    let mut current = doc;
    for segment in parents {
        let key = decode_token(segment);
        let next = match current {
            Value::Object(map) => map.get_mut(&key)?,
            Value::Array(items) => {
                let idx = array_get_index(items.len(), &key).ok()?;
                &mut items[idx]
            }
            _ => return None,
        };
        if !next.is_object() && !next.is_array() {
            return None;
        }
        current = next;
    }
    Some((current, decode_token(last)))
}

/// Go's `strconv.Atoi`, with its error text.
fn go_atoi(s: &str) -> Result<i64, PatchError> {
    let digits = s.strip_prefix(['+', '-']).unwrap_or(s);
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return Err(PatchError::Invalid(format!(
            "strconv.Atoi: parsing {}: invalid syntax",
            go_quote(s)
        )));
    }
    s.parse::<i64>().map_err(|_| {
        PatchError::Invalid(format!(
            "strconv.Atoi: parsing {}: value out of range",
            go_quote(s)
        ))
    })
}

fn invalid_index(idx: i64) -> PatchError {
    PatchError::InvalidIndex(format!(
        "Unable to access invalid index: {idx}: invalid index referenced"
    ))
}

/// Index resolution for reading (and replacing) an existing array element.
fn array_get_index(len: usize, key: &str) -> Result<usize, PatchError> {
    let len = len as i64;
    let mut idx = go_atoi(key)?;
    if idx < 0 {
        if idx < -len {
            return Err(invalid_index(idx));
        }
        idx += len;
    }
    if idx >= len {
        return Err(invalid_index(idx));
    }
    Ok(idx as usize)
}

/// The member or element at `key` (`Ok(None)` for a missing object member, which upstream
/// reads as `null`).
fn container_get<'a>(container: &'a Value, key: &str) -> Result<Option<&'a Value>, PatchError> {
    match container {
        Value::Object(map) => Ok(map.get(key)),
        Value::Array(items) => Ok(Some(&items[array_get_index(items.len(), key)?])),
        _ => unreachable!("find_object only returns containers"),
    }
}

/// Replaces an existing element (or sets an object member, present or not).
fn container_set(container: &mut Value, key: &str, value: Value) -> Result<(), PatchError> {
    match container {
        Value::Object(map) => {
            map.insert(key.to_string(), value);
            Ok(())
        }
        Value::Array(items) => {
            let idx = array_get_index(items.len(), key)?;
            items[idx] = value;
            Ok(())
        }
        _ => unreachable!("find_object only returns containers"),
    }
}

fn container_add(container: &mut Value, key: &str, value: Value) -> Result<(), PatchError> {
    match container {
        Value::Object(map) => {
            map.insert(key.to_string(), value);
            Ok(())
        }
        Value::Array(items) => {
            if key == "-" {
                items.push(value);
                return Ok(());
            }
            let mut idx = go_atoi(key)
                .map_err(|e| e.wrap(&format!("value was not a proper array index: '{key}'")))?;
            let size = items.len() as i64 + 1;
            if idx >= size {
                return Err(invalid_index(idx));
            }
            if idx < 0 {
                if idx < -size {
                    return Err(invalid_index(idx));
                }
                idx += size;
            }
            items.insert(idx as usize, value);
            Ok(())
        }
        _ => unreachable!("find_object only returns containers"),
    }
}

fn container_remove(container: &mut Value, key: &str) -> Result<Value, PatchError> {
    match container {
        Value::Object(map) => map
            .remove(key)
            .ok_or_else(|| missing(format!("Unable to remove nonexistent key: {key}"))),
        Value::Array(items) => {
            let len = items.len() as i64;
            let mut idx = go_atoi(key)?;
            if idx >= len {
                return Err(invalid_index(idx));
            }
            if idx < 0 {
                if idx < -len {
                    return Err(invalid_index(idx));
                }
                idx += len;
            }
            Ok(items.remove(idx as usize))
        }
        _ => unreachable!("find_object only returns containers"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    /// Applies `patch` to `doc`; on success compares with `expected`, on failure compares the
    /// error message (prefix `ERR:`) and checks the input was left untouched.
    fn check(doc: Value, patch: Value, expected: Result<Value, &str>) {
        let mut work = doc.clone();
        let result = apply_json_patch(&mut work, &patch);
        match (result, expected) {
            (Ok(()), Ok(want)) => assert_eq!(work, want, "patch {patch}"),
            (Err(e), Err(msg)) => {
                assert_eq!(e.to_string(), msg, "patch {patch}");
                assert_eq!(work, doc, "document changed by failed patch {patch}");
            }
            (Ok(()), Err(msg)) => panic!("patch {patch} succeeded ({work}), expected {msg}"),
            (Err(e), Ok(want)) => panic!("patch {patch} failed ({e}), expected {want}"),
        }
    }

    #[test]
    fn rfc6902_appendix_a() {
        let cases: Vec<(Value, Value, Result<Value, &str>)> = vec![
            // A.1 add an object member
            (
                json!({"foo": "bar"}),
                json!([{"op": "add", "path": "/baz", "value": "qux"}]),
                Ok(json!({"baz": "qux", "foo": "bar"})),
            ),
            // A.2 add an array element
            (
                json!({"foo": ["bar", "baz"]}),
                json!([{"op": "add", "path": "/foo/1", "value": "qux"}]),
                Ok(json!({"foo": ["bar", "qux", "baz"]})),
            ),
            // A.3 remove an object member
            (
                json!({"baz": "qux", "foo": "bar"}),
                json!([{"op": "remove", "path": "/baz"}]),
                Ok(json!({"foo": "bar"})),
            ),
            // A.4 remove an array element
            (
                json!({"foo": ["bar", "qux", "baz"]}),
                json!([{"op": "remove", "path": "/foo/1"}]),
                Ok(json!({"foo": ["bar", "baz"]})),
            ),
            // A.5 replace a value
            (
                json!({"baz": "qux", "foo": "bar"}),
                json!([{"op": "replace", "path": "/baz", "value": "boo"}]),
                Ok(json!({"baz": "boo", "foo": "bar"})),
            ),
            // A.6 move a value
            (
                json!({"foo": {"bar": "baz", "waldo": "fred"}, "qux": {"corge": "grault"}}),
                json!([{"op": "move", "from": "/foo/waldo", "path": "/qux/thud"}]),
                Ok(json!({"foo": {"bar": "baz"}, "qux": {"corge": "grault", "thud": "fred"}})),
            ),
            // A.7 move an array element
            (
                json!({"foo": ["all", "grass", "cows", "eat"]}),
                json!([{"op": "move", "from": "/foo/1", "path": "/foo/3"}]),
                Ok(json!({"foo": ["all", "cows", "eat", "grass"]})),
            ),
            // A.8 test success
            (
                json!({"baz": "qux", "foo": ["a", 2, "c"]}),
                json!([
                    {"op": "test", "path": "/baz", "value": "qux"},
                    {"op": "test", "path": "/foo/1", "value": 2}
                ]),
                Ok(json!({"baz": "qux", "foo": ["a", 2, "c"]})),
            ),
            // A.9 test failure
            (
                json!({"baz": "qux"}),
                json!([{"op": "test", "path": "/baz", "value": "bar"}]),
                Err("testing value /baz failed: test failed"),
            ),
            // A.10 add a nested member object
            (
                json!({"foo": "bar"}),
                json!([{"op": "add", "path": "/child", "value": {"grandchild": {}}}]),
                Ok(json!({"foo": "bar", "child": {"grandchild": {}}})),
            ),
            // A.11 ignore unrecognized members
            (
                json!({"foo": "bar"}),
                json!([{"op": "add", "path": "/baz", "value": "qux", "xyz": 123}]),
                Ok(json!({"foo": "bar", "baz": "qux"})),
            ),
            // A.12 add to a nonexistent target
            (
                json!({"foo": "bar"}),
                json!([{"op": "add", "path": "/baz/bat", "value": "qux"}]),
                Err(
                    "add operation does not apply: doc is missing path: \"/baz/bat\": missing value",
                ),
            ),
            // A.14 ~ escape ordering
            (
                json!({"/": 9, "~1": 10}),
                json!([{"op": "test", "path": "/~01", "value": 10}]),
                Ok(json!({"/": 9, "~1": 10})),
            ),
            // A.15 comparing strings and numbers
            (
                json!({"/": 9, "~1": 10}),
                json!([{"op": "test", "path": "/~01", "value": "10"}]),
                Err("testing value /~01 failed: test failed"),
            ),
            // A.16 add an array value
            (
                json!({"foo": ["bar"]}),
                json!([{"op": "add", "path": "/foo/-", "value": ["abc", "def"]}]),
                Ok(json!({"foo": ["bar", ["abc", "def"]]})),
            ),
        ];
        for (doc, patch, expected) in cases {
            check(doc, patch, expected);
        }
    }

    #[test]
    fn add_cases() {
        let doc = json!({"a": {"b": 1}, "arr": [1, 2, 3], "n": null, "s": "str"});
        let cases: Vec<(Value, Result<Value, &str>)> = vec![
            (
                json!([{"op": "add", "path": "/a/b", "value": 2}]),
                Ok(json!({"a": {"b": 2}, "arr": [1, 2, 3], "n": null, "s": "str"})),
            ),
            (
                json!([{"op": "add", "path": "/a/c"}]),
                Ok(json!({"a": {"b": 1, "c": null}, "arr": [1, 2, 3], "n": null, "s": "str"})),
            ),
            (
                json!([{"op": "add", "path": "/arr/0", "value": 0}]),
                Ok(json!({"a": {"b": 1}, "arr": [0, 1, 2, 3], "n": null, "s": "str"})),
            ),
            (
                json!([{"op": "add", "path": "/arr/3", "value": 4}]),
                Ok(json!({"a": {"b": 1}, "arr": [1, 2, 3, 4], "n": null, "s": "str"})),
            ),
            (
                json!([{"op": "add", "path": "/arr/-1", "value": 4}]),
                Ok(json!({"a": {"b": 1}, "arr": [1, 2, 3, 4], "n": null, "s": "str"})),
            ),
            (
                json!([{"op": "add", "path": "/arr/-4", "value": 0}]),
                Ok(json!({"a": {"b": 1}, "arr": [0, 1, 2, 3], "n": null, "s": "str"})),
            ),
            (
                json!([{"op": "add", "path": "/arr/+1", "value": 9}]),
                Ok(json!({"a": {"b": 1}, "arr": [1, 9, 2, 3], "n": null, "s": "str"})),
            ),
            (
                json!([{"op": "add", "path": "/arr/01", "value": 9}]),
                Ok(json!({"a": {"b": 1}, "arr": [1, 9, 2, 3], "n": null, "s": "str"})),
            ),
            (
                json!([{"op": "add", "path": "/a~1b", "value": 1}]),
                Ok(json!({"a": {"b": 1}, "a/b": 1, "arr": [1, 2, 3], "n": null, "s": "str"})),
            ),
            (
                json!([{"op": "add", "path": "/", "value": 1}]),
                Ok(json!({"": 1, "a": {"b": 1}, "arr": [1, 2, 3], "n": null, "s": "str"})),
            ),
            (
                json!([{"op": "add", "path": "x/y", "value": 1}]),
                Ok(json!({"a": {"b": 1}, "arr": [1, 2, 3], "n": null, "s": "str", "y": 1})),
            ),
            (
                json!([{"op": "add", "path": "/arr/5", "value": 0}]),
                Err(
                    "error in add for path: '/arr/5': Unable to access invalid index: 5: invalid index referenced",
                ),
            ),
            (
                json!([{"op": "add", "path": "/arr/4", "value": 0}]),
                Err(
                    "error in add for path: '/arr/4': Unable to access invalid index: 4: invalid index referenced",
                ),
            ),
            (
                json!([{"op": "add", "path": "/arr/-5", "value": 0}]),
                Err(
                    "error in add for path: '/arr/-5': Unable to access invalid index: -5: invalid index referenced",
                ),
            ),
            (
                json!([{"op": "add", "path": "/arr/x", "value": 0}]),
                Err(
                    "error in add for path: '/arr/x': value was not a proper array index: 'x': strconv.Atoi: parsing \"x\": invalid syntax",
                ),
            ),
            (
                json!([{"op": "add", "path": "/arr/99999999999999999999", "value": 0}]),
                Err(
                    "error in add for path: '/arr/99999999999999999999': value was not a proper array index: '99999999999999999999': strconv.Atoi: parsing \"99999999999999999999\": value out of range",
                ),
            ),
            (
                json!([{"op": "add", "path": "", "value": {}}]),
                Err("add operation does not apply: doc is missing path: \"\": missing value"),
            ),
            (
                json!([{"op": "add", "path": "a", "value": 1}]),
                Err("add operation does not apply: doc is missing path: \"a\": missing value"),
            ),
            (
                json!([{"op": "add", "path": "/n/x", "value": 1}]),
                Err("add operation does not apply: doc is missing path: \"/n/x\": missing value"),
            ),
            (
                json!([{"op": "add", "path": "/s/x", "value": 1}]),
                Err("add operation does not apply: doc is missing path: \"/s/x\": missing value"),
            ),
            (
                json!([{"op": "add", "path": "/arr/7/x", "value": 1}]),
                Err(
                    "add operation does not apply: doc is missing path: \"/arr/7/x\": missing value",
                ),
            ),
            (
                json!([{"op": "add", "value": 1}]),
                Err("add operation failed to decode path: missing value"),
            ),
            (
                json!([{"op": "add", "path": 5, "value": 1}]),
                Err("add operation failed to decode path: missing value"),
            ),
        ];
        for (patch, expected) in cases {
            check(doc.clone(), patch, expected);
        }
    }

    #[test]
    fn nested_and_negative_paths() {
        let doc = json!({"spec": {"containers": [{"name": "a", "env": []}, {"name": "b"}]}});
        check(
            doc.clone(),
            json!([{"op": "add", "path": "/spec/containers/0/env/-", "value": {"name": "X"}}]),
            Ok(
                json!({"spec": {"containers": [{"name": "a", "env": [{"name": "X"}]}, {"name": "b"}]}}),
            ),
        );
        check(
            doc.clone(),
            json!([{"op": "replace", "path": "/spec/containers/-1/name", "value": "c"}]),
            Ok(json!({"spec": {"containers": [{"name": "a", "env": []}, {"name": "c"}]}})),
        );
        check(
            doc.clone(),
            json!([{"op": "remove", "path": "/spec/containers/-1"}]),
            Ok(json!({"spec": {"containers": [{"name": "a", "env": []}]}})),
        );
        check(
            doc,
            json!([{"op": "add", "path": "/spec/containers/-/name", "value": "z"}]),
            Err(
                "add operation does not apply: doc is missing path: \"/spec/containers/-/name\": missing value",
            ),
        );
    }

    #[test]
    fn remove_cases() {
        let doc = json!({"a": {"b": 1}, "arr": [1, 2, 3], "n": null});
        let cases: Vec<(Value, Result<Value, &str>)> = vec![
            (
                json!([{"op": "remove", "path": "/a/b"}]),
                Ok(json!({"a": {}, "arr": [1, 2, 3], "n": null})),
            ),
            (
                json!([{"op": "remove", "path": "/n"}]),
                Ok(json!({"a": {"b": 1}, "arr": [1, 2, 3]})),
            ),
            (
                json!([{"op": "remove", "path": "/arr/-3"}]),
                Ok(json!({"a": {"b": 1}, "arr": [2, 3], "n": null})),
            ),
            (
                json!([{"op": "remove", "path": "/missing"}]),
                Err(
                    "error in remove for path: '/missing': Unable to remove nonexistent key: missing: missing value",
                ),
            ),
            (
                json!([{"op": "remove", "path": "/a/x/y"}]),
                Err(
                    "remove operation does not apply: doc is missing path: \"/a/x/y\": missing value",
                ),
            ),
            (
                json!([{"op": "remove", "path": "/arr/3"}]),
                Err(
                    "error in remove for path: '/arr/3': Unable to access invalid index: 3: invalid index referenced",
                ),
            ),
            (
                json!([{"op": "remove", "path": "/arr/-4"}]),
                Err(
                    "error in remove for path: '/arr/-4': Unable to access invalid index: -4: invalid index referenced",
                ),
            ),
            (
                json!([{"op": "remove", "path": "/arr/-"}]),
                Err(
                    "error in remove for path: '/arr/-': strconv.Atoi: parsing \"-\": invalid syntax",
                ),
            ),
            (
                json!([{"op": "remove", "path": ""}]),
                Err("remove operation does not apply: doc is missing path: \"\": missing value"),
            ),
            (
                json!([{"op": "remove"}]),
                Err("remove operation failed to decode path: missing value"),
            ),
        ];
        for (patch, expected) in cases {
            check(doc.clone(), patch, expected);
        }
    }

    #[test]
    fn replace_cases() {
        let doc = json!({"a": {"b": 1}, "arr": [1, 2, 3]});
        let cases: Vec<(Value, Result<Value, &str>)> = vec![
            (
                json!([{"op": "replace", "path": "/a/b", "value": [1]}]),
                Ok(json!({"a": {"b": [1]}, "arr": [1, 2, 3]})),
            ),
            (
                json!([{"op": "replace", "path": "/arr/0", "value": 0}]),
                Ok(json!({"a": {"b": 1}, "arr": [0, 2, 3]})),
            ),
            (
                json!([{"op": "replace", "path": "/arr/-1", "value": 0}]),
                Ok(json!({"a": {"b": 1}, "arr": [1, 2, 0]})),
            ),
            // evanphx v4: a missing member of an existing object is replaced (i.e. added).
            (
                json!([{"op": "replace", "path": "/a/c", "value": 2}]),
                Ok(json!({"a": {"b": 1, "c": 2}, "arr": [1, 2, 3]})),
            ),
            (
                json!([{"op": "replace", "path": "", "value": {"x": 1}}]),
                Ok(json!({"x": 1})),
            ),
            (
                json!([{"op": "replace", "path": "", "value": [1]}]),
                Ok(json!([1])),
            ),
            (
                json!([{"op": "replace", "path": "", "value": 1}]),
                Err("replace operation value must be object or array"),
            ),
            (
                json!([{"op": "replace", "path": "/x/y", "value": 1}]),
                Err("replace operation does not apply: doc is missing path: /x/y: missing value"),
            ),
            (
                json!([{"op": "replace", "path": "/arr/3", "value": 1}]),
                Err("replace operation does not apply: doc is missing key: /arr/3: missing value"),
            ),
            (
                json!([{"op": "replace", "path": "/arr/x", "value": 1}]),
                Err("replace operation does not apply: doc is missing key: /arr/x: missing value"),
            ),
            (
                json!([{"op": "replace", "value": 1}]),
                Err(
                    "replace operation failed to decode path: operation missing path field: missing value",
                ),
            ),
            (
                json!([{"op": "replace", "path": null, "value": 1}]),
                Err(
                    "replace operation failed to decode path: operation missing path field: missing value",
                ),
            ),
            (
                json!([{"op": "replace", "path": ["a"], "value": 1}]),
                Err(
                    "replace operation failed to decode path: json: cannot unmarshal array into Go value of type string",
                ),
            ),
        ];
        for (patch, expected) in cases {
            check(doc.clone(), patch, expected);
        }
    }

    #[test]
    fn move_and_copy_cases() {
        let doc = json!({"a": {"b": 1, "c": [1, 2]}, "d": "x"});
        let cases: Vec<(Value, Result<Value, &str>)> = vec![
            (
                json!([{"op": "move", "from": "/a/b", "path": "/b"}]),
                Ok(json!({"a": {"c": [1, 2]}, "b": 1, "d": "x"})),
            ),
            (
                json!([{"op": "move", "from": "/a/c/0", "path": "/a/c/-"}]),
                Ok(json!({"a": {"b": 1, "c": [2, 1]}, "d": "x"})),
            ),
            (
                json!([{"op": "move", "from": "/d", "path": "/d"}]),
                Ok(json!({"a": {"b": 1, "c": [1, 2]}, "d": "x"})),
            ),
            (
                json!([{"op": "move", "from": "/a", "path": "/a/x"}]),
                Err(
                    "move operation does not apply: doc is missing destination path: /a/x: missing value",
                ),
            ),
            (
                json!([{"op": "move", "from": "/zz", "path": "/y"}]),
                Err(
                    "error in move for path: 'zz': Unable to remove nonexistent key: zz: missing value",
                ),
            ),
            (
                json!([{"op": "move", "from": "/a/c/5", "path": "/y"}]),
                Err(
                    "error in move for path: '5': Unable to access invalid index: 5: invalid index referenced",
                ),
            ),
            (
                json!([{"op": "move", "from": "/q/r", "path": "/y"}]),
                Err("move operation does not apply: doc is missing from path: /q/r: missing value"),
            ),
            (
                json!([{"op": "move", "path": "/y"}]),
                Err(
                    "move operation failed to decode from: operation, missing from field: missing value",
                ),
            ),
            (
                json!([{"op": "move", "from": "/d"}]),
                Err(
                    "move operation failed to decode path: operation missing path field: missing value",
                ),
            ),
            (
                json!([{"op": "copy", "from": "/a/c", "path": "/e"}]),
                Ok(json!({"a": {"b": 1, "c": [1, 2]}, "d": "x", "e": [1, 2]})),
            ),
            (
                json!([{"op": "copy", "from": "/d", "path": "/a/c/0"}]),
                Ok(json!({"a": {"b": 1, "c": ["x", 1, 2]}, "d": "x"})),
            ),
            // evanphx v4: copying a missing member of an existing object writes null.
            (
                json!([{"op": "copy", "from": "/a/zz", "path": "/e"}]),
                Ok(json!({"a": {"b": 1, "c": [1, 2]}, "d": "x", "e": null})),
            ),
            (
                json!([{"op": "copy", "from": "/a/c/2", "path": "/e"}]),
                Err(
                    "error in copy for from: '/a/c/2': Unable to access invalid index: 2: invalid index referenced",
                ),
            ),
            (
                json!([{"op": "copy", "from": "/q/r", "path": "/e"}]),
                Err("copy operation does not apply: doc is missing from path: /q/r: missing value"),
            ),
            (
                json!([{"op": "copy", "from": "/d", "path": "/q/r"}]),
                Err(
                    "copy operation does not apply: doc is missing destination path: /q/r: missing value",
                ),
            ),
            (
                json!([{"op": "copy", "from": "/d", "path": "/a/c/9"}]),
                Err(
                    "error while adding value during copy: Unable to access invalid index: 9: invalid index referenced",
                ),
            ),
            (
                json!([{"op": "copy", "from": "/d"}]),
                Err("copy operation failed to decode path: missing value"),
            ),
            (
                json!([{"op": "copy", "path": "/e"}]),
                Err(
                    "copy operation failed to decode from: operation, missing from field: missing value",
                ),
            ),
        ];
        for (patch, expected) in cases {
            check(doc.clone(), patch, expected);
        }
    }

    #[test]
    fn test_cases() {
        let doc = json!({"a": {"b": [1, {"c": true}]}, "n": null, "num": 1, "f": 1.5});
        let cases: Vec<(Value, Result<Value, &str>)> = vec![
            (
                json!([{"op": "test", "path": "/a", "value": {"b": [1, {"c": true}]}}]),
                Ok(doc.clone()),
            ),
            (
                json!([{"op": "test", "path": "/a/b/1/c", "value": true}]),
                Ok(doc.clone()),
            ),
            (
                json!([{"op": "test", "path": "/n", "value": null}]),
                Ok(doc.clone()),
            ),
            (json!([{"op": "test", "path": "/n"}]), Ok(doc.clone())),
            (
                json!([{"op": "test", "path": "/missing", "value": null}]),
                Ok(doc.clone()),
            ),
            (json!([{"op": "test", "path": "/missing"}]), Ok(doc.clone())),
            (
                json!([{"op": "test", "path": "/f", "value": 1.5}]),
                Ok(doc.clone()),
            ),
            (
                json!([{"op": "test", "path": "", "value": doc.clone()}]),
                Ok(doc.clone()),
            ),
            (
                json!([{"op": "test", "path": "", "value": {}}]),
                Err("testing value  failed: test failed"),
            ),
            (
                json!([{"op": "test", "path": "/num", "value": 1.0}]),
                Err("testing value /num failed: test failed"),
            ),
            (
                json!([{"op": "test", "path": "/num"}]),
                Err("testing value /num failed: test failed"),
            ),
            (
                json!([{"op": "test", "path": "/missing", "value": 1}]),
                Err("testing value /missing failed: test failed"),
            ),
            (
                json!([{"op": "test", "path": "/a", "value": {"b": [1]}}]),
                Err("testing value /a failed: test failed"),
            ),
            (
                json!([{"op": "test", "path": "/a/b/2", "value": 1}]),
                Err(
                    "error in test for path: '/a/b/2': Unable to access invalid index: 2: invalid index referenced",
                ),
            ),
            (
                json!([{"op": "test", "path": "/x/y", "value": 1}]),
                Err("test operation does not apply: is missing path: /x/y: missing value"),
            ),
            (
                json!([{"op": "test", "value": 1}]),
                Err(
                    "test operation failed to decode path: operation missing path field: missing value",
                ),
            ),
        ];
        for (patch, expected) in cases {
            check(doc.clone(), patch, expected);
        }
    }

    #[test]
    fn atomic_on_failure() {
        let doc = json!({"metadata": {"labels": {"a": "1"}}, "spec": {"replicas": 1}});
        check(
            doc,
            json!([
                {"op": "add", "path": "/metadata/labels/b", "value": "2"},
                {"op": "replace", "path": "/spec/replicas", "value": 3},
                {"op": "test", "path": "/spec/replicas", "value": 1}
            ]),
            Err("testing value /spec/replicas failed: test failed"),
        );
        // ...and all operations apply in order when each succeeds.
        check(
            json!({"a": [1]}),
            json!([
                {"op": "add", "path": "/a/-", "value": 2},
                {"op": "test", "path": "/a", "value": [1, 2]},
                {"op": "move", "from": "/a", "path": "/b"},
                {"op": "test", "path": "/a"}
            ]),
            Ok(json!({"b": [1, 2]})),
        );
    }

    #[test]
    fn unknown_and_malformed_operations() {
        let doc = json!({"a": 1});
        let cases: Vec<(Value, &str)> = vec![
            (
                json!([{"op": "delete", "path": "/a"}]),
                "Unexpected kind: delete",
            ),
            (json!([{"op": "Add", "path": "/a"}]), "Unexpected kind: Add"),
            (json!([{"path": "/a"}]), "Unexpected kind: unknown"),
            (json!([{"op": 1, "path": "/a"}]), "Unexpected kind: unknown"),
            (json!([null]), "Unexpected kind: unknown"),
        ];
        for (patch, msg) in cases {
            check(doc.clone(), patch, Err(msg));
        }
        // Decoding errors are 400s.
        for (patch, msg) in [
            (
                json!({"op": "add"}),
                "json: cannot unmarshal object into Go value of type jsonpatch.Patch",
            ),
            (
                json!("x"),
                "json: cannot unmarshal string into Go value of type jsonpatch.Patch",
            ),
            (
                json!([1]),
                "json: cannot unmarshal number into Go value of type jsonpatch.Operation",
            ),
            (
                json!([[]]),
                "json: cannot unmarshal array into Go value of type jsonpatch.Operation",
            ),
        ] {
            let err = JsonPatch::from_value(&patch).unwrap_err();
            assert_eq!(err.to_string(), msg);
            assert!(err.is_bad_request());
        }
        // Application errors are 422s.
        let err = JsonPatch::from_value(&json!([{"op": "remove", "path": "/x"}]))
            .unwrap()
            .apply(&doc)
            .unwrap_err();
        assert!(matches!(err, PatchError::Missing(_)));
        assert_eq!(err.http_status(), 422);
        // A null patch is empty.
        let empty = JsonPatch::from_value(&Value::Null).unwrap();
        assert!(empty.is_empty());
        assert_eq!(empty.apply(&doc).unwrap(), doc);
        // Operations are only checked when reached.
        let late = JsonPatch::from_value(&json!([
            {"op": "test", "path": "/a", "value": 2},
            {"op": "bogus"}
        ]))
        .unwrap();
        assert_eq!(late.len(), 2);
        assert!(matches!(late.apply(&doc), Err(PatchError::TestFailed(_))));
    }

    #[test]
    fn error_variants() {
        let doc = json!({"a": [1]});
        let kind = |patch: Value| apply_json_patch(&mut doc.clone(), &patch).unwrap_err();
        assert!(matches!(
            kind(json!([{"op": "add", "path": "/a/9", "value": 1}])),
            PatchError::InvalidIndex(_)
        ));
        assert!(matches!(
            kind(json!([{"op": "add", "path": "/a/x", "value": 1}])),
            PatchError::Invalid(_)
        ));
        assert!(matches!(
            kind(json!([{"op": "test", "path": "/a", "value": 1}])),
            PatchError::TestFailed(_)
        ));
        assert!(matches!(
            kind(json!([{"op": "nope"}])),
            PatchError::Invalid(_)
        ));
        assert!(matches!(kind(json!(5)), PatchError::InvalidPatch(_)));
    }

    #[test]
    fn document_roots() {
        // A top-level array document.
        check(
            json!([1, 2]),
            json!([{"op": "add", "path": "/0", "value": 0}, {"op": "remove", "path": "/-1"}]),
            Ok(json!([0, 1])),
        );
        // Scalars cannot be patched.
        let err = JsonPatch::from_value(&json!([]))
            .unwrap()
            .apply(&json!(3))
            .unwrap_err();
        assert_eq!(
            err.to_string(),
            "json: cannot unmarshal number into Go value of type jsonpatch.partialDoc"
        );
    }

    #[test]
    fn from_slice_and_accessors() {
        let patch =
            JsonPatch::from_slice(br#"[{"op":"copy","from":"/a","path":"/b","value":null}]"#)
                .unwrap();
        let op = &patch.operations()[0];
        assert_eq!(op.op(), "copy");
        assert_eq!(op.from(), Some("/a"));
        assert_eq!(op.path(), Some("/b"));
        assert_eq!(op.value(), Some(&Value::Null));
        assert_eq!(op.fields().len(), 4);
        let err = JsonPatch::from_slice(b"[{").unwrap_err();
        assert!(matches!(err, PatchError::InvalidPatch(_)));
        let mut doc = json!({"a": 1});
        patch.apply_in_place(&mut doc).unwrap();
        assert_eq!(doc, json!({"a": 1, "b": 1}));
        assert_eq!(MAX_JSON_PATCH_OPERATIONS, 10000);
    }

    #[test]
    fn pointer_decoding() {
        assert_eq!(decode_token("a~1b"), "a/b");
        assert_eq!(decode_token("a~0b"), "a~b");
        assert_eq!(decode_token("~01"), "~1");
        assert_eq!(decode_token("~10"), "/0");
        assert_eq!(decode_token("~2"), "~2");
        check(
            json!({"metadata": {"annotations": {"example.com/x~y": "1"}}}),
            json!([{"op": "remove", "path": "/metadata/annotations/example.com~1x~0y"}]),
            Ok(json!({"metadata": {"annotations": {}}})),
        );
    }
}
