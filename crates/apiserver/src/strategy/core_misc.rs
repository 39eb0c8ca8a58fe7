//! Small core/v1 strategies: ServiceAccount (metadata only), Endpoints
//! (`SetDefaults_Endpoints` and `ValidateEndpoints`) and Event (`ValidateEventCreate` /
//! `ValidateEventUpdate`), for core Events and for `events.k8s.io/v1` Events, which are read
//! here in their core form.
//!
//! Core v1 Events get upstream's legacy checks only (lenient, for old clients);
//! `events.k8s.io` Events get the strict ones on top, with `events.k8s.io` field names where
//! upstream uses them.

use super::checks::{endpoint_ip, legacy_ip, qualified_name};
use super::common::{
    check, dns1123_label, each_mut, get, int_of, list_of, meta_update_errors, semantic_eq,
    set_default_str, str_of,
};
use crate::object;
use serde_json::Value;
use skiff_core::registry::ResourceInfo;
use skiff_core::status::{ApiError, FieldError};
use skiff_core::validation;

/// Upstream's `ReportingInstanceLengthLimit`, `ActionLengthLimit` and `ReasonLengthLimit`.
pub const EVENT_FIELD_LIMIT: usize = 128;
/// Upstream's `NoteLengthLimit`.
pub const NOTE_LENGTH_LIMIT: usize = 1024;

const PROTOCOLS: &[&str] = &["SCTP", "TCP", "UDP"];

/// Upstream's `SetDefaults_Endpoints`: ports speak TCP unless told otherwise.
pub fn default_endpoints(obj: &mut Value) {
    each_mut(obj, "subsets", |ss| {
        each_mut(ss, "ports", |p| set_default_str(p, "protocol", "TCP"));
    });
}

fn validate_endpoint_address(addr: &Value, path: &str, errs: &mut Vec<FieldError>) {
    let ip = str_of(addr, "ip");
    legacy_ip(&format!("{path}.ip"), ip, errs);
    let hostname = str_of(addr, "hostname");
    if !hostname.is_empty() {
        dns1123_label(&format!("{path}.hostname"), hostname, errs);
    }
    if let Some(node) = get(addr, "nodeName").and_then(Value::as_str) {
        for msg in validation::is_dns1123_subdomain(node) {
            errs.push(FieldError::invalid(format!("{path}.nodeName"), node, msg));
        }
    }
    endpoint_ip(&format!("{path}.ip"), ip, errs);
}

fn validate_endpoint_port(
    port: &Value,
    require_name: bool,
    path: &str,
    errs: &mut Vec<FieldError>,
) {
    let name = str_of(port, "name");
    if require_name && name.is_empty() {
        errs.push(FieldError::required(format!("{path}.name"), ""));
    } else if !name.is_empty() {
        dns1123_label(&format!("{path}.name"), name, errs);
    }
    let number = int_of(port, "port").unwrap_or(0);
    if !(1..=65535).contains(&number) {
        errs.push(FieldError::invalid(
            format!("{path}.port"),
            number,
            super::common::PORT_RANGE,
        ));
    }
    match str_of(port, "protocol") {
        "" => errs.push(FieldError::required(format!("{path}.protocol"), "")),
        p if !PROTOCOLS.contains(&p) => errs.push(FieldError::not_supported(
            format!("{path}.protocol"),
            p,
            PROTOCOLS,
        )),
        _ => {}
    }
    if let Some(app) = get(port, "appProtocol").and_then(Value::as_str) {
        qualified_name(&format!("{path}.appProtocol"), app, errs);
    }
}

/// Upstream's `ValidateEndpoints` (the subsets; metadata is checked generically).
pub fn validate_endpoints(obj: &Value) -> Vec<FieldError> {
    let mut errs = Vec::new();
    for (i, ss) in list_of(obj, "subsets").iter().enumerate() {
        let path = format!("subsets[{i}]");
        let addresses = list_of(ss, "addresses");
        let not_ready = list_of(ss, "notReadyAddresses");
        if addresses.is_empty() && not_ready.is_empty() {
            errs.push(FieldError::required(
                path.as_str(),
                "must specify `addresses` or `notReadyAddresses`",
            ));
        }
        for (j, a) in addresses.iter().enumerate() {
            validate_endpoint_address(a, &format!("{path}.addresses[{j}]"), &mut errs);
        }
        for (j, a) in not_ready.iter().enumerate() {
            validate_endpoint_address(a, &format!("{path}.notReadyAddresses[{j}]"), &mut errs);
        }
        let ports = list_of(ss, "ports");
        for (j, p) in ports.iter().enumerate() {
            validate_endpoint_port(p, ports.len() > 1, &format!("{path}.ports[{j}]"), &mut errs);
        }
    }
    errs
}

fn is_zero_time(v: &Value, key: &str) -> bool {
    get(v, key)
        .and_then(Value::as_str)
        .is_none_or(|s| s.is_empty() || s.starts_with("0001-01-01T00:00:00"))
}

/// Upstream's `legacyValidateEvent` on an Event in its core form; `core_api` when the
/// request came through core v1 (which names the reporting controller `reportingComponent`).
pub fn legacy_validate_event(event: &Value, core_api: bool) -> Vec<FieldError> {
    let mut errs = Vec::new();
    let namespace = object::namespace(event).unwrap_or_default();
    let involved = get(event, "involvedObject").cloned().unwrap_or(Value::Null);
    let involved_ns = str_of(&involved, "namespace");
    let mismatch = || {
        FieldError::invalid(
            "involvedObject.namespace",
            involved_ns,
            "does not match event.namespace",
        )
    };
    let controller_field = if core_api {
        "reportingComponent"
    } else {
        "reportingController"
    };
    if is_zero_time(event, "eventTime") {
        if involved_ns.is_empty() {
            if !namespace.is_empty() && namespace != "default" {
                errs.push(mismatch());
            }
        } else if namespace != involved_ns {
            errs.push(mismatch());
        }
    } else {
        if involved_ns.is_empty() && namespace != "default" && namespace != "kube-system" {
            errs.push(mismatch());
        }
        let controller = str_of(event, "reportingComponent");
        if controller.is_empty() {
            errs.push(FieldError::required(controller_field, ""));
        }
        qualified_name(controller_field, controller, &mut errs);
        let limited = [
            ("reportingInstance", EVENT_FIELD_LIMIT, true),
            ("action", EVENT_FIELD_LIMIT, true),
            ("reason", EVENT_FIELD_LIMIT, true),
            ("message", NOTE_LENGTH_LIMIT, false),
        ];
        for (field, limit, required) in limited {
            let value = str_of(event, field);
            if required && value.is_empty() {
                errs.push(FieldError::required(field, ""));
            }
            if value.len() > limit {
                errs.push(FieldError::invalid(
                    field,
                    "",
                    format!("can have at most {limit} characters"),
                ));
            }
        }
    }
    for msg in validation::is_dns1123_subdomain(namespace) {
        errs.push(FieldError::invalid("namespace", namespace, msg));
    }
    errs
}

/// Upstream's `validateV1EventSeries`.
fn validate_series(event: &Value, errs: &mut Vec<FieldError>) {
    if let Some(series) = get(event, "series") {
        if int_of(series, "count").unwrap_or(0) < 2 {
            errs.push(FieldError::invalid(
                "series.count",
                "",
                "should be at least 2",
            ));
        }
        if is_zero_time(series, "lastObservedTime") {
            errs.push(FieldError::required("series.lastObservedTime", ""));
        }
    }
}

/// Upstream's `ValidateEventCreate`: the legacy checks, and for `events.k8s.io` the strict
/// ones of new-style events.
pub fn validate_event_create(event: &Value, core_api: bool) -> Vec<FieldError> {
    let mut errs = legacy_validate_event(event, core_api);
    if core_api {
        return errs;
    }
    validate_series(event, &mut errs);
    if is_zero_time(event, "eventTime") {
        errs.push(FieldError::required("eventTime", ""));
    }
    let kind = str_of(event, "type");
    if kind != "Normal" && kind != "Warning" {
        errs.push(FieldError::invalid(
            "type",
            "",
            format!("has invalid value: {kind}"),
        ));
    }
    for field in ["firstTimestamp", "lastTimestamp"] {
        if !is_zero_time(event, field) {
            errs.push(FieldError::invalid(field, "", "needs to be unset"));
        }
    }
    if int_of(event, "count").unwrap_or(0) != 0 {
        errs.push(FieldError::invalid("count", "", "needs to be unset"));
    }
    let source = get(event, "source").cloned().unwrap_or(Value::Null);
    if !str_of(&source, "component").is_empty() || !str_of(&source, "host").is_empty() {
        errs.push(FieldError::invalid("source", "", "needs to be unset"));
    }
    errs
}

/// Upstream's `ValidateEventUpdate`: for `events.k8s.io`, what an event says may not change.
pub fn validate_event_update(new: &Value, old: &Value, core_api: bool) -> Vec<FieldError> {
    let mut errs = legacy_validate_event(new, core_api);
    if core_api {
        return errs;
    }
    errs.extend(meta_update_errors(old, new));
    if !semantic_eq(get(new, "series"), get(old, "series")) {
        validate_series(new, &mut errs);
    }
    for field in [
        "involvedObject",
        "reason",
        "message",
        "source",
        "firstTimestamp",
        "lastTimestamp",
        "count",
        "reason",
        "type",
        "eventTime",
        "action",
        "related",
        "reportingComponent",
        "reportingInstance",
    ] {
        let (n, o) = (get(new, field), get(old, field));
        let same = if field == "eventTime" {
            // Sub-microsecond differences are tolerated.
            let micros = |v: Option<&Value>| {
                v.and_then(Value::as_str)
                    .and_then(|s| s.parse::<jiff::Timestamp>().ok())
                    .map(|t| t.as_microsecond())
            };
            micros(n) == micros(o)
        } else {
            semantic_eq(n, o)
        };
        if !same {
            let path = if field == "reportingComponent" {
                "reportingController"
            } else {
                field
            };
            errs.push(super::checks::immutable_value(path, n));
        }
    }
    errs
}

fn is_core_event(info: &ResourceInfo) -> bool {
    info.gvk.group.is_empty()
}

fn core_form(info: &ResourceInfo, obj: &Value) -> Value {
    crate::convert::to_storage(info, obj.clone())
}

/// Defaults and validates a new ServiceAccount, Endpoints or Event.
pub fn before_create(info: &ResourceInfo, obj: &mut Value) -> Result<(), ApiError> {
    match info.gvk.kind {
        "Endpoints" => {
            default_endpoints(obj);
            check(info, obj, &validate_endpoints(obj))
        }
        "Event" => {
            let event = core_form(info, obj);
            check(
                info,
                obj,
                &validate_event_create(&event, is_core_event(info)),
            )
        }
        _ => Ok(()),
    }
}

/// Defaults and validates an update of a ServiceAccount, Endpoints or Event.
pub fn before_update(info: &ResourceInfo, old: &Value, new: &mut Value) -> Result<(), ApiError> {
    let errs = match info.gvk.kind {
        "Endpoints" => {
            default_endpoints(new);
            let mut errs = meta_update_errors(old, new);
            errs.extend(validate_endpoints(new));
            errs
        }
        "Event" => {
            let event = core_form(info, new);
            let old_event = core_form(info, old);
            validate_event_update(&event, &old_event, is_core_event(info))
        }
        _ => meta_update_errors(old, new),
    };
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
    fn endpoints_default_and_validate() {
        let info = lookup("", "v1", "endpoints").unwrap();
        let mut ok = json!({"metadata": {"name": "web", "namespace": "default"},
            "subsets": [{"addresses": [{"ip": "10.0.0.5", "nodeName": "n1"}],
                         "ports": [{"port": 80}]}]});
        before_create(info, &mut ok).unwrap();
        assert_eq!(ok["subsets"][0]["ports"][0]["protocol"], "TCP");

        let bad = json!({"subsets": [
            {"ports": [{"port": 80, "protocol": "TCP"}]},
            {"addresses": [{"ip": "127.0.0.1"}, {"ip": "nope"}],
             "ports": [{"port": 0, "protocol": "TCP"}, {"name": "b", "port": 1, "protocol": "ICMP"}]},
        ]});
        assert_eq!(
            shown(&validate_endpoints(&bad)),
            vec![
                "subsets[0]: Required value: must specify `addresses` or `notReadyAddresses`",
                "subsets[1].addresses[0].ip: Invalid value: \"127.0.0.1\": may not be in the loopback range (127.0.0.0/8, ::1/128)",
                "subsets[1].addresses[1].ip: Invalid value: \"nope\": must be a valid IP address, (e.g. 10.9.8.7 or 2001:db8::ffff)",
                "subsets[1].addresses[1].ip: Invalid value: \"nope\": must be a valid IP address",
                "subsets[1].ports[0].name: Required value",
                "subsets[1].ports[0].port: Invalid value: 0: must be between 1 and 65535, inclusive",
                "subsets[1].ports[1].protocol: Unsupported value: \"ICMP\": supported values: \"SCTP\", \"TCP\", \"UDP\"",
            ]
        );
    }

    #[test]
    fn core_events_are_checked_leniently() {
        let info = lookup("", "v1", "events").unwrap();
        let mut ok = json!({"metadata": {"name": "p.1", "namespace": "default"},
            "involvedObject": {"kind": "Pod", "name": "p", "namespace": "default"},
            "reason": "Started", "message": "hi", "count": 3, "type": "Whatever",
            "source": {"component": "kubelet"}});
        before_create(info, &mut ok).unwrap();
        let mut node_event = json!({"metadata": {"name": "n.1", "namespace": "default"},
            "involvedObject": {"kind": "Node", "name": "n"}});
        before_create(info, &mut node_event).unwrap();
        let mut other_ns = json!({"metadata": {"name": "p.1", "namespace": "team"},
            "involvedObject": {"kind": "Pod", "name": "p", "namespace": "default"}});
        let err = before_create(info, &mut other_ns).unwrap_err();
        assert_eq!(
            err.message,
            "Event \"p.1\" is invalid: involvedObject.namespace: Invalid value: \"default\": does not match event.namespace"
        );
        // New-style events through core v1 need their reporting fields.
        let new_style = json!({"metadata": {"name": "x", "namespace": "default"},
            "eventTime": "2024-01-01T00:00:00.000000Z",
            "involvedObject": {"kind": "Pod", "name": "p", "namespace": "default"}});
        let errs = shown(&legacy_validate_event(&new_style, true));
        assert_eq!(errs[0], "reportingComponent: Required value");
        assert!(errs.contains(&"action: Required value".to_owned()));
        assert!(errs.contains(&"reason: Required value".to_owned()));
        // Updates of core events are not restricted.
        let mut changed = ok.clone();
        changed["message"] = json!("changed");
        before_update(info, &ok, &mut changed).unwrap();
    }

    #[test]
    fn events_api_events_are_strict() {
        let info = lookup("events.k8s.io", "v1", "events").unwrap();
        let mut ok = json!({"apiVersion": "events.k8s.io/v1", "kind": "Event",
            "metadata": {"name": "e", "namespace": "default"},
            "eventTime": "2024-01-01T00:00:00.000000Z",
            "regarding": {"kind": "Pod", "name": "p", "namespace": "default"},
            "reportingController": "example.com/ctl", "reportingInstance": "ctl-1",
            "action": "Sync", "reason": "Synced", "note": "done", "type": "Normal"});
        before_create(info, &mut ok).unwrap();

        let mut bad = json!({"apiVersion": "events.k8s.io/v1", "kind": "Event",
            "metadata": {"name": "e", "namespace": "default"},
            "regarding": {"kind": "Pod", "name": "p", "namespace": "other"},
            "type": "Odd", "deprecatedCount": 2, "series": {"count": 1}});
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
                "involvedObject.namespace: Invalid value: \"other\": does not match event.namespace",
                "series.count: Invalid value: \"\": should be at least 2",
                "series.lastObservedTime: Required value",
                "eventTime: Required value",
                "type: Invalid value: \"\": has invalid value: Odd",
                "count: Invalid value: \"\": needs to be unset",
            ]
        );

        let mut renoted = ok.clone();
        renoted["note"] = json!("changed");
        renoted["eventTime"] = json!("2024-01-01T00:00:00.000000400Z");
        let err = before_update(info, &ok, &mut renoted).unwrap_err();
        assert_eq!(
            err.message,
            "Event.events.k8s.io \"e\" is invalid: message: Invalid value: \"changed\": field is immutable"
        );
    }

    #[test]
    fn service_accounts_keep_their_name() {
        let info = lookup("", "v1", "serviceaccounts").unwrap();
        let old = json!({"metadata": {"name": "a", "namespace": "d"}});
        let mut new = json!({"metadata": {"name": "b", "namespace": "d"}});
        assert!(before_update(info, &old, &mut new).is_err());
        let mut same = old.clone();
        before_update(info, &old, &mut same).unwrap();
    }
}
