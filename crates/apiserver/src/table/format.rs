//! Reading fields of JSON objects and rendering them the way upstream's printers do: label
//! maps, label selectors, container lists, truncated lists, load-balancer addresses.

use crate::object;
use serde_json::Value;

/// The string at a dotted path; empty when absent or not a string.
pub(super) fn text<'a>(v: &'a Value, path: &str) -> &'a str {
    object::path(v, path).and_then(Value::as_str).unwrap_or("")
}

/// The string at a dotted path when present and not empty.
pub(super) fn opt_text<'a>(v: &'a Value, path: &str) -> Option<&'a str> {
    Some(text(v, path)).filter(|s| !s.is_empty())
}

/// The integer at a dotted path; 0 when absent.
pub(super) fn int(v: &Value, path: &str) -> i64 {
    opt_int(v, path).unwrap_or(0)
}

/// The integer at a dotted path when present.
pub(super) fn opt_int(v: &Value, path: &str) -> Option<i64> {
    object::path(v, path).and_then(Value::as_i64)
}

/// The boolean at a dotted path when present.
pub(super) fn flag(v: &Value, path: &str) -> Option<bool> {
    object::path(v, path).and_then(Value::as_bool)
}

/// The array at a dotted path; empty when absent.
pub(super) fn list<'a>(v: &'a Value, path: &str) -> &'a [Value] {
    object::path(v, path)
        .and_then(Value::as_array)
        .map(Vec::as_slice)
        .unwrap_or(&[])
}

/// Whether an object is being deleted (`metadata.deletionTimestamp` is set).
pub(super) fn deleting(obj: &Value) -> bool {
    object::meta(obj)
        .get("deletionTimestamp")
        .is_some_and(|t| !t.is_null())
}

/// `s`, or `<none>` when it is empty.
pub(super) fn or_none(s: impl Into<String>) -> String {
    let s = s.into();
    if s.is_empty() { "<none>".into() } else { s }
}

/// A map of labels as `k1=v1,k2=v2` sorted by key, `<none>` when empty (`labels.FormatLabels`).
pub(super) fn format_labels(map: Option<&Value>) -> String {
    let pairs: Vec<String> = object::string_map(map)
        .iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect();
    or_none(pairs.join(","))
}

/// A label selector (`matchLabels`, `matchExpressions`) as selector text: requirements
/// sorted by key, values sorted (`LabelSelectorAsSelector(..).String()`). Empty for a missing
/// or empty selector; `None` when it is invalid.
pub(super) fn selector_string(sel: Option<&Value>) -> Option<String> {
    object::label_selector_text(sel)
}

/// A label selector as text, `<none>` when empty and `<error>` when invalid
/// (`metav1.FormatLabelSelector`).
pub(super) fn format_label_selector(sel: Option<&Value>) -> String {
    match selector_string(sel) {
        Some(s) => or_none(s),
        None => "<error>".into(),
    }
}

/// The names and the images of a pod spec's containers, each joined with commas
/// (`layoutContainerCells`).
pub(super) fn containers_and_images(pod_spec: Option<&Value>) -> (String, String) {
    let containers = pod_spec.map(|s| list(s, "containers")).unwrap_or(&[]);
    let names: Vec<&str> = containers.iter().map(|c| text(c, "name")).collect();
    let images: Vec<&str> = containers.iter().map(|c| text(c, "image")).collect();
    (names.join(","), images.join(","))
}

/// An int-or-string value as text (`IntOrString.String()`).
pub(super) fn int_or_string(v: Option<&Value>) -> Option<String> {
    match v? {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

/// An optional boolean as `True`/`False`/`<unset>` (`printBoolPtr`).
pub(super) fn bool_text(v: Option<bool>) -> &'static str {
    match v {
        Some(true) => "True",
        Some(false) => "False",
        None => "<unset>",
    }
}

/// The first `max` entries of a list joined with commas, then ` + N more...` for the rest;
/// `<unset>` when there is nothing (`listWithMoreString`).
pub(super) fn with_more(items: &[String], max: usize) -> String {
    let shown = items[..items.len().min(max)].join(",");
    if items.len() > max {
        format!("{shown} + {} more...", items.len() - max)
    } else if shown.is_empty() {
        "<unset>".into()
    } else {
        shown
    }
}

/// The addresses of a load balancer status (`ingress[].ip`, else `.hostname`), sorted, without
/// duplicates, joined with commas.
pub(super) fn load_balancer_addresses(status: Option<&Value>) -> String {
    let mut addrs: Vec<&str> = status
        .map(|s| list(s, "ingress"))
        .unwrap_or(&[])
        .iter()
        .filter_map(|i| opt_text(i, "ip").or_else(|| opt_text(i, "hostname")))
        .collect();
    addrs.sort_unstable();
    addrs.dedup();
    addrs.join(",")
}

/// `host:port`, with brackets around IPv6 hosts (`net.JoinHostPort`).
pub(super) fn join_host_port(host: &str, port: i64) -> String {
    if host.contains(':') {
        format!("[{host}]:{port}")
    } else {
        format!("{host}:{port}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn selectors_sort_requirements_by_key_and_values() {
        let sel = json!({"matchLabels": {"tier": "web", "app": "x"}, "matchExpressions": [
            {"key": "env", "operator": "In", "values": ["prod", "dev"]},
            {"key": "zone", "operator": "DoesNotExist"},
            {"key": "beta", "operator": "Exists"},
            {"key": "team", "operator": "NotIn", "values": ["a"]}]});
        assert_eq!(
            format_label_selector(Some(&sel)),
            "app=x,beta,env in (dev,prod),team notin (a),tier=web,!zone"
        );
        assert_eq!(format_label_selector(Some(&json!({}))), "<none>");
        assert_eq!(format_label_selector(None), "<none>");
        let bad = json!({"matchExpressions": [{"key": "a", "operator": "In"}]});
        assert_eq!(format_label_selector(Some(&bad)), "<error>");
        assert_eq!(selector_string(None).as_deref(), Some(""));
    }

    #[test]
    fn lists_with_more_and_labels() {
        let items: Vec<String> = ["a", "b", "c", "d", "e"].map(String::from).to_vec();
        assert_eq!(with_more(&items, 3), "a,b,c + 2 more...");
        assert_eq!(with_more(&items[..2], 3), "a,b");
        assert_eq!(with_more(&[], 3), "<unset>");
        assert_eq!(format_labels(Some(&json!({"b": "2", "a": "1"}))), "a=1,b=2");
        assert_eq!(format_labels(None), "<none>");
        assert_eq!(join_host_port("fd00::1", 80), "[fd00::1]:80");
        let lb =
            json!({"ingress": [{"ip": "5.5.5.5"}, {"hostname": "a.example"}, {"ip": "1.1.1.1"}]});
        assert_eq!(
            load_balancer_addresses(Some(&lb)),
            "1.1.1.1,5.5.5.5,a.example"
        );
    }
}
