//! The core/v1 ConfigMap and Secret strategies: upstream's `ValidateConfigMap`,
//! `ValidateSecret` and their update rules (pkg/apis/core/validation), Secret defaulting
//! (`type: Opaque`) and the v1 conversion that merges `stringData` into `data`.

use super::common::{check, get, meta_update_errors, set_default_str, str_of};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use serde_json::{Map, Value, json};
use skiff_core::registry::ResourceInfo;
use skiff_core::status::{ApiError, FieldError};
use skiff_core::validation::{self, regex_error};

/// Upstream's `MaxSecretSize` (also the ConfigMap limit): 1 MiB.
pub const MAX_SIZE: usize = 1024 * 1024;
/// The message of an `immutable` object's changed data.
pub const IMMUTABLE_SET: &str = "field is immutable when `immutable` is set";
const REDACTED: &str = "<secret contents redacted>";

/// Upstream's `IsConfigMapKey`: at most 253 characters of alphanumerics, `-`, `_` and `.`,
/// and not `.`, `..` or starting with `..`.
pub fn config_key_errors(key: &str) -> Vec<String> {
    let mut errs = Vec::new();
    if key.len() > validation::DNS1123_SUBDOMAIN_MAX_LENGTH {
        errs.push(validation::max_len_error(
            validation::DNS1123_SUBDOMAIN_MAX_LENGTH,
        ));
    }
    let valid = !key.is_empty()
        && key
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'));
    if !valid {
        errs.push(regex_error(
            "a valid config key must consist of alphanumeric characters, '-', '_' or '.'",
            "[-._a-zA-Z0-9]+",
            &["key.name", "KEY_NAME", "key-name"],
        ));
    }
    if key == "." {
        errs.push("must not be '.'".into());
    } else if key == ".." {
        errs.push("must not be '..'".into());
    } else if key.starts_with("..") {
        errs.push("must not start with '..'".into());
    }
    errs
}

/// Upstream's `ValidateConfigMap`.
pub fn validate_config_map(obj: &Value) -> Vec<FieldError> {
    let mut errs = Vec::new();
    let data = get(obj, "data");
    let binary = get(obj, "binaryData").and_then(Value::as_object);
    let mut total = 0;
    for (key, value) in data.and_then(Value::as_object).into_iter().flatten() {
        let field = format!("data[{key}]");
        for msg in config_key_errors(key) {
            errs.push(FieldError::invalid(field.as_str(), key.as_str(), msg));
        }
        if binary.is_some_and(|b| b.contains_key(key)) {
            errs.push(FieldError::invalid(
                field.as_str(),
                key.as_str(),
                "duplicate of key present in binaryData",
            ));
        }
        total += value.as_str().map_or(0, str::len);
    }
    for (key, value) in binary.into_iter().flatten() {
        for msg in config_key_errors(key) {
            errs.push(FieldError::invalid(
                format!("binaryData[{key}]"),
                key.as_str(),
                msg,
            ));
        }
        total += value
            .as_str()
            .and_then(|s| STANDARD.decode(s).ok())
            .map_or(0, |b| b.len());
    }
    if total > MAX_SIZE {
        errs.push(FieldError::too_long("", MAX_SIZE));
    }
    errs
}

fn decoded(obj: &Value, key: &str) -> Option<Vec<u8>> {
    get(obj, "data")
        .and_then(|d| d.get(key))
        .and_then(Value::as_str)
        .and_then(|s| STANDARD.decode(s).ok())
}

/// Go's `json.Unmarshal` into a map, as far as its error texts go.
fn json_object_error(bytes: &[u8]) -> Option<String> {
    match serde_json::from_slice::<Value>(bytes) {
        Ok(Value::Object(_) | Value::Null) => None,
        Ok(other) => {
            let kind = match other {
                Value::String(_) => "string",
                Value::Number(_) => "number",
                Value::Array(_) => "array",
                _ => "bool",
            };
            Some(format!(
                "json: cannot unmarshal {kind} into Go value of type map[string]interface {{}}"
            ))
        }
        Err(e) if e.is_eof() => Some("unexpected end of JSON input".into()),
        Err(e) => {
            let text = String::from_utf8_lossy(bytes);
            let trimmed = text.trim_start();
            let first = trimmed.chars().next().unwrap_or(' ');
            // Go's scanner names the first character it cannot use.
            for literal in ["true", "false", "null"] {
                if first == literal.as_bytes()[0] as char {
                    let bad = trimmed
                        .chars()
                        .zip(literal.chars())
                        .find(|(got, want)| got != want);
                    if let Some((got, want)) = bad {
                        return Some(format!(
                            "invalid character '{got}' in literal {literal} (expecting '{want}')"
                        ));
                    }
                }
            }
            let c = if first == '{'
                || first == '['
                || first == '"'
                || first == '-'
                || first.is_ascii_digit()
            {
                let line = text.lines().nth(e.line().saturating_sub(1)).unwrap_or("");
                line.chars()
                    .nth(e.column().saturating_sub(1))
                    .unwrap_or(first)
            } else {
                first
            };
            Some(format!(
                "invalid character '{c}' looking for beginning of value"
            ))
        }
    }
}

/// Upstream's `ValidateSecret`.
pub fn validate_secret(obj: &Value) -> Vec<FieldError> {
    let mut errs = Vec::new();
    let data = get(obj, "data");
    let mut total = 0;
    for (key, value) in data.and_then(Value::as_object).into_iter().flatten() {
        for msg in config_key_errors(key) {
            errs.push(FieldError::invalid(
                format!("data[{key}]"),
                key.as_str(),
                msg,
            ));
        }
        total += value
            .as_str()
            .and_then(|s| STANDARD.decode(s).ok())
            .map_or(0, |b| b.len());
    }
    if total > MAX_SIZE {
        errs.push(FieldError::too_long("data", MAX_SIZE));
    }
    let has = |key: &str| data.and_then(|d| d.get(key)).is_some();
    match str_of(obj, "type") {
        "kubernetes.io/service-account-token" => {
            let name = crate::object::meta(obj)
                .get("annotations")
                .and_then(|a| a.get("kubernetes.io/service-account.name"))
                .and_then(Value::as_str)
                .unwrap_or_default();
            if name.is_empty() {
                errs.push(FieldError::required(
                    "metadata.annotations[kubernetes.io/service-account.name]",
                    "",
                ));
            }
        }
        kind @ ("kubernetes.io/dockercfg" | "kubernetes.io/dockerconfigjson") => {
            let key = if kind == "kubernetes.io/dockercfg" {
                ".dockercfg"
            } else {
                ".dockerconfigjson"
            };
            let field = format!("data[{key}]");
            if !has(key) {
                errs.push(FieldError::required(field, ""));
            } else if let Some(e) = json_object_error(&decoded(obj, key).unwrap_or_default()) {
                errs.push(FieldError::invalid(field, REDACTED, e));
            }
        }
        "kubernetes.io/basic-auth" if !has("username") && !has("password") => {
            errs.push(FieldError::required("data[username]", ""));
            errs.push(FieldError::required("data[password]", ""));
        }
        "kubernetes.io/ssh-auth" if decoded(obj, "ssh-privatekey").is_none_or(|b| b.is_empty()) => {
            errs.push(FieldError::required("data[ssh-privatekey]", ""));
        }
        "kubernetes.io/tls" => {
            for key in ["tls.crt", "tls.key"] {
                if !has(key) {
                    errs.push(FieldError::required(format!("data[{key}]"), ""));
                }
            }
        }
        _ => {}
    }
    errs
}

/// The v1 → internal conversion and defaults of a Secret: `stringData` entries win over
/// `data` and are written to it base64-encoded, `stringData` goes, `data` is re-encoded
/// canonically, and `type` defaults to `Opaque`.
pub fn prepare_secret(obj: &mut Value) {
    let Some(m) = obj.as_object_mut() else {
        return;
    };
    let string_data = m.remove("stringData");
    let mut data: Map<String, Value> = m
        .get("data")
        .and_then(Value::as_object)
        .cloned()
        .unwrap_or_default();
    for v in data.values_mut() {
        if let Some(bytes) = v.as_str().and_then(|s| STANDARD.decode(s).ok()) {
            *v = json!(STANDARD.encode(bytes));
        }
    }
    let merged = string_data
        .as_ref()
        .and_then(Value::as_object)
        .is_some_and(|s| !s.is_empty());
    for (k, v) in string_data.iter().filter_map(Value::as_object).flatten() {
        let text = v.as_str().unwrap_or_default();
        data.insert(k.clone(), json!(STANDARD.encode(text)));
    }
    if merged || m.get("data").is_some_and(Value::is_object) {
        m.insert("data".into(), Value::Object(data));
    }
    set_default_str(obj, "type", "Opaque");
}

fn immutable(old: &Value) -> bool {
    old.get("immutable").and_then(Value::as_bool) == Some(true)
}

fn same_map(a: Option<&Value>, b: Option<&Value>) -> bool {
    let empty = Map::new();
    let a = a.and_then(Value::as_object).unwrap_or(&empty);
    let b = b.and_then(Value::as_object).unwrap_or(&empty);
    a == b
}

/// Upstream's `ValidateConfigMapUpdate`/`ValidateSecretUpdate` immutability rules.
fn immutability(old: &Value, new: &Value, fields: &[&str], errs: &mut Vec<FieldError>) {
    if !immutable(old) {
        return;
    }
    if !immutable(new) {
        errs.push(FieldError::forbidden("immutable", IMMUTABLE_SET));
    }
    for field in fields {
        if !same_map(old.get(*field), new.get(*field)) {
            errs.push(FieldError::forbidden(*field, IMMUTABLE_SET));
        }
    }
}

/// Defaults and validates a new ConfigMap or Secret.
pub fn before_create(info: &ResourceInfo, obj: &mut Value) -> Result<(), ApiError> {
    if info.gvk.kind == "Secret" {
        prepare_secret(obj);
        return check(info, obj, &validate_secret(obj));
    }
    check(info, obj, &validate_config_map(obj))
}

/// Defaults and validates an update of the ConfigMap or Secret `old` to `new`.
pub fn before_update(info: &ResourceInfo, old: &Value, new: &mut Value) -> Result<(), ApiError> {
    let mut errs = meta_update_errors(old, new);
    if info.gvk.kind == "Secret" {
        prepare_secret(new);
        let mut old = old.clone();
        prepare_secret(&mut old);
        let new_type = str_of(new, "type");
        if new_type != str_of(&old, "type") {
            errs.push(FieldError::immutable("type", new_type));
        }
        immutability(&old, new, &["data"], &mut errs);
        errs.extend(validate_secret(new));
    } else {
        immutability(old, new, &["data", "binaryData"], &mut errs);
        errs.extend(validate_config_map(new));
    }
    check(info, new, &errs)
}

#[cfg(test)]
mod tests {
    use super::*;
    use skiff_core::registry::lookup;

    const KEY_MSG: &str = "a valid config key must consist of alphanumeric characters, '-', '_' or '.' (e.g. 'key.name',  or 'KEY_NAME',  or 'key-name', regex used for validation is '[-._a-zA-Z0-9]+')";

    fn shown(errs: &[FieldError]) -> Vec<String> {
        errs.iter().map(ToString::to_string).collect()
    }

    #[test]
    fn config_keys_follow_upstream() {
        for ok in ["a", "key.name", "KEY_NAME", "key-name", ".hidden", "a..b"] {
            assert!(config_key_errors(ok).is_empty(), "{ok}");
        }
        assert_eq!(config_key_errors("bad key"), vec![KEY_MSG]);
        assert_eq!(config_key_errors("."), vec!["must not be '.'"]);
        assert_eq!(config_key_errors(".."), vec!["must not be '..'"]);
        assert_eq!(config_key_errors("..a"), vec!["must not start with '..'"]);
        assert_eq!(
            config_key_errors(&"a".repeat(254)),
            vec!["must be no more than 253 characters"]
        );
    }

    #[test]
    fn config_maps_are_validated() {
        let table: Vec<(Value, Vec<String>)> = vec![
            (json!({"data": {"ok": "v"}}), vec![]),
            (
                json!({"data": {"bad key": "v"}}),
                vec![format!(
                    "data[bad key]: Invalid value: \"bad key\": {KEY_MSG}"
                )],
            ),
            (
                json!({"data": {"k": "v"}, "binaryData": {"k": "dg=="}}),
                vec![
                    "data[k]: Invalid value: \"k\": duplicate of key present in binaryData".into(),
                ],
            ),
            (
                json!({"data": {"big": "x".repeat(MAX_SIZE + 1)}}),
                vec![": Too long: may not be more than 1048576 bytes".into()],
            ),
        ];
        for (obj, want) in table {
            assert_eq!(shown(&validate_config_map(&obj)), want, "{obj}");
        }
    }

    #[test]
    fn immutable_config_maps_refuse_changes() {
        let info = lookup("", "v1", "configmaps").unwrap();
        let old = json!({"metadata": {"name": "c"}, "immutable": true, "data": {"a": "1"}});
        let mut same = old.clone();
        assert!(before_update(info, &old, &mut same).is_ok());
        let mut changed = json!({"metadata": {"name": "c"}, "immutable": true, "data": {"a": "2"}});
        let err = before_update(info, &old, &mut changed).unwrap_err();
        assert_eq!(
            err.message,
            "ConfigMap \"c\" is invalid: data: Forbidden: field is immutable when `immutable` is set"
        );
        let mut unlocked =
            json!({"metadata": {"name": "c"}, "immutable": false, "data": {"a": "1"}});
        let err = before_update(info, &old, &mut unlocked).unwrap_err();
        assert!(
            err.message
                .contains("immutable: Forbidden: field is immutable when `immutable` is set")
        );
    }

    #[test]
    fn secrets_merge_string_data_and_default_their_type() {
        let mut s = json!({"data": {"a": "eA=="}, "stringData": {"a": "y", "b": "z"}});
        prepare_secret(&mut s);
        assert_eq!(
            s,
            json!({"data": {"a": "eQ==", "b": "eg=="}, "type": "Opaque"})
        );
        let mut empty = json!({"metadata": {}});
        prepare_secret(&mut empty);
        assert_eq!(empty, json!({"metadata": {}, "type": "Opaque"}));
    }

    #[test]
    fn typed_secrets_need_their_keys() {
        let table: Vec<(Value, Vec<&str>)> = vec![
            (json!({"type": "Opaque", "data": {"x": "eA=="}}), vec![]),
            (
                json!({"type": "kubernetes.io/tls", "data": {"tls.crt": "eA=="}}),
                vec!["data[tls.key]: Required value"],
            ),
            (
                json!({"type": "kubernetes.io/dockerconfigjson"}),
                vec!["data[.dockerconfigjson]: Required value"],
            ),
            (
                json!({"type": "kubernetes.io/dockerconfigjson",
                       "data": {".dockerconfigjson": STANDARD.encode("{\"auths\":{}}")}}),
                vec![],
            ),
            (
                json!({"type": "kubernetes.io/dockerconfigjson",
                       "data": {".dockerconfigjson": STANDARD.encode("oops")}}),
                vec![
                    "data[.dockerconfigjson]: Invalid value: \"<secret contents redacted>\": invalid character 'o' looking for beginning of value",
                ],
            ),
            (
                json!({"type": "kubernetes.io/dockerconfigjson",
                       "data": {".dockerconfigjson": STANDARD.encode("nope")}}),
                vec![
                    "data[.dockerconfigjson]: Invalid value: \"<secret contents redacted>\": invalid character 'o' in literal null (expecting 'u')",
                ],
            ),
            (
                json!({"type": "kubernetes.io/basic-auth"}),
                vec![
                    "data[username]: Required value",
                    "data[password]: Required value",
                ],
            ),
            (
                json!({"type": "kubernetes.io/ssh-auth"}),
                vec!["data[ssh-privatekey]: Required value"],
            ),
            (
                json!({"type": "kubernetes.io/service-account-token"}),
                vec!["metadata.annotations[kubernetes.io/service-account.name]: Required value"],
            ),
        ];
        for (obj, want) in table {
            assert_eq!(shown(&validate_secret(&obj)), want, "{obj}");
        }
    }

    #[test]
    fn secret_updates_keep_type_and_immutable_data() {
        let info = lookup("", "v1", "secrets").unwrap();
        let old = json!({"metadata": {"name": "s"}, "type": "Opaque", "immutable": true,
                         "data": {"a": "eA=="}});
        let mut retyped = json!({"metadata": {"name": "s"}, "type": "kubernetes.io/tls",
                                 "immutable": true, "data": {"a": "eA==", "tls.crt": "eA==", "tls.key": "eA=="}});
        let err = before_update(info, &old, &mut retyped).unwrap_err();
        assert!(
            err.message
                .contains("type: Invalid value: \"kubernetes.io/tls\": field is immutable"),
            "{}",
            err.message
        );
        assert!(
            err.message
                .contains("data: Forbidden: field is immutable when `immutable` is set")
        );
        let mut via_string_data = json!({"metadata": {"name": "s"}, "immutable": true,
                                         "stringData": {"a": "x"}});
        assert!(before_update(info, &old, &mut via_string_data).is_ok());
    }
}
