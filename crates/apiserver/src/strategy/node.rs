//! The core/v1 Node strategy: the v1 conversion of `podCIDR`/`podCIDRs`,
//! `SetDefaults_NodeStatus` (allocatable from capacity), and upstream's `ValidateNode` plus
//! `ValidateNodeUpdate` (taints, pod CIDRs, status resources and addresses; `podCIDRs` and
//! `providerID` may only be set once).
//!
//! As upstream, taint errors carry the path `metadata.taints`, and an update runs both the
//! create and the update checks.

use super::checks::{check_lists, legacy_cidr, quantities, quantity_value};
use super::common::{check, get, label_name, list_of, meta_update_errors, str_of};
use super::pod::defaults::default_resource_list;
use super::service::validation::go_quote;
use serde_json::{Value, json};
use skiff_core::registry::ResourceInfo;
use skiff_core::status::{ApiError, FieldError};
use skiff_core::validation;
use std::collections::BTreeSet;
use std::net::IpAddr;

const EFFECTS: &[&str] = &["NoSchedule", "PreferNoSchedule", "NoExecute"];
const CIDR_CHANGE: &str = "node updates may not change podCIDR except from \"\" to valid";

/// The v1 conversion of the pod CIDR fields (`podCIDR` is `podCIDRs[0]`) and
/// `SetDefaults_NodeStatus`, plus the canonical form of the status resource lists.
pub fn default_node(obj: &mut Value) {
    if let Some(spec) = obj.get_mut("spec").filter(|s| s.is_object()) {
        let single = str_of(spec, "podCIDR").to_owned();
        if !single.is_empty() && list_of(spec, "podCIDRs").is_empty() {
            spec["podCIDRs"] = json!([single]);
        }
        if let Some(first) = list_of(spec, "podCIDRs").first().cloned() {
            spec["podCIDR"] = first;
        }
    }
    if let Some(status) = obj.get_mut("status").filter(|s| s.is_object()) {
        if get(status, "allocatable").is_none()
            && let Some(capacity) = get(status, "capacity").cloned()
        {
            status["allocatable"] = capacity;
        }
        default_resource_list(status.get_mut("capacity"));
        default_resource_list(status.get_mut("allocatable"));
    }
}

/// A taint as `%#v` prints it.
fn go_taint(t: &Value) -> String {
    let added = match get(t, "timeAdded") {
        None => "(*v1.Time)(nil)".to_owned(),
        Some(v) => format!("(*v1.Time)({})", v.as_str().unwrap_or_default()),
    };
    format!(
        "core.Taint{{Key:{}, Value:{}, Effect:{}, TimeAdded:{added}}}",
        go_quote(str_of(t, "key")),
        go_quote(str_of(t, "value")),
        go_quote(str_of(t, "effect"))
    )
}

/// Upstream's `validateNodeTaints` (with its `metadata.taints` path).
pub fn validate_taints(taints: &[Value], errs: &mut Vec<FieldError>) {
    let mut seen = BTreeSet::new();
    for (i, t) in taints.iter().enumerate() {
        let path = format!("metadata.taints[{i}]");
        let key = str_of(t, "key");
        label_name(&format!("{path}.key"), key, errs);
        let value = str_of(t, "value");
        let msgs = validation::is_valid_label_value(value);
        if !msgs.is_empty() {
            errs.push(FieldError::invalid(
                format!("{path}.value"),
                value,
                msgs.join(";"),
            ));
        }
        let effect = str_of(t, "effect");
        if effect.is_empty() {
            errs.push(FieldError::required(format!("{path}.effect"), ""));
        } else if !EFFECTS.contains(&effect) {
            errs.push(FieldError::not_supported(
                format!("{path}.effect"),
                effect,
                EFFECTS,
            ));
        }
        if !seen.insert((effect.to_owned(), key.to_owned())) {
            errs.push(FieldError {
                kind: skiff_core::status::FieldErrorType::Duplicate,
                field: path,
                value: skiff_core::status::BadValue::None,
                detail: format!(
                    "{}: taints must be unique by key and effect pair",
                    go_taint(t)
                ),
            });
        }
    }
}

fn validate_resources(obj: &Value, errs: &mut Vec<FieldError>) {
    let status = get(obj, "status").cloned().unwrap_or(Value::Null);
    for list in ["capacity", "allocatable"] {
        for (name, q) in quantities(get(&status, list)) {
            quantity_value(&name, &q, &format!("status.{list}.{name}"), errs);
        }
    }
}

/// Upstream's `ValidateNode` (the spec and status resources; metadata is checked
/// generically).
pub fn validate_node(obj: &Value) -> Vec<FieldError> {
    let mut errs = Vec::new();
    let spec = get(obj, "spec").cloned().unwrap_or(Value::Null);
    validate_taints(list_of(&spec, "taints"), &mut errs);
    validate_resources(obj, &mut errs);
    let cidrs = list_of(&spec, "podCIDRs");
    let mut families = Vec::new();
    for (i, c) in cidrs.iter().enumerate() {
        let c = c.as_str().unwrap_or_default();
        if let Some((ip, _)) = legacy_cidr(&format!("spec.podCIDRs[{i}]"), c, &mut errs) {
            families.push(matches!(ip, IpAddr::V4(_)));
        }
    }
    if cidrs.len() > 1 {
        let dual = families.len() == 2 && families[0] != families[1];
        if !dual || cidrs.len() > 2 {
            errs.push(super::common::invalid_go(
                "spec.podCIDRs",
                &super::checks::go_slice_of("string", get(&spec, "podCIDRs")),
                "may specify no more than one CIDR for each IP family",
            ));
        }
    }
    errs
}

/// A node address as `%#v` prints it.
fn go_address(a: &Value) -> String {
    format!(
        "core.NodeAddress{{Type:{}, Address:{}}}",
        go_quote(str_of(a, "type")),
        go_quote(str_of(a, "address"))
    )
}

/// Upstream's `ValidateNodeUpdate`.
pub fn validate_node_update(new: &Value, old: &Value) -> Vec<FieldError> {
    let mut errs = meta_update_errors(old, new);
    validate_resources(new, &mut errs);
    let status = get(new, "status").cloned().unwrap_or(Value::Null);
    let mut seen = BTreeSet::new();
    for (i, a) in list_of(&status, "addresses").iter().enumerate() {
        if !seen.insert((str_of(a, "type"), str_of(a, "address"))) {
            errs.push(FieldError {
                kind: skiff_core::status::FieldErrorType::Duplicate,
                field: format!("status.addresses[{i}]"),
                value: skiff_core::status::BadValue::None,
                detail: go_address(a),
            });
        }
    }
    let spec = get(new, "spec").cloned().unwrap_or(Value::Null);
    let old_spec = get(old, "spec").cloned().unwrap_or(Value::Null);
    let (cidrs, old_cidrs) = (list_of(&spec, "podCIDRs"), list_of(&old_spec, "podCIDRs"));
    if !old_cidrs.is_empty() {
        if old_cidrs.len() != cidrs.len() {
            errs.push(FieldError::forbidden("spec.podCIDRs", CIDR_CHANGE));
        } else {
            for (o, n) in old_cidrs.iter().zip(cidrs) {
                if o != n {
                    errs.push(FieldError::forbidden("spec.podCIDRs", CIDR_CHANGE));
                }
            }
        }
    }
    let old_provider = str_of(&old_spec, "providerID");
    if !old_provider.is_empty() && old_provider != str_of(&spec, "providerID") {
        errs.push(FieldError::forbidden(
            "spec.providerID",
            "node updates may not change providerID except from \"\" to valid",
        ));
    }
    validate_taints(list_of(&spec, "taints"), &mut errs);
    if str_of(&spec, "externalID") != str_of(&old_spec, "externalID") {
        errs.push(FieldError::forbidden(
            "spec.externalID",
            "may not be updated",
        ));
    }
    errs
}

fn check_quantities(info: &ResourceInfo, obj: &Value) -> Result<(), ApiError> {
    let status = get(obj, "status").cloned().unwrap_or(Value::Null);
    check_lists(
        info,
        &[get(&status, "capacity"), get(&status, "allocatable")],
    )
}

/// Defaults and validates a new Node.
pub fn before_create(info: &ResourceInfo, obj: &mut Value) -> Result<(), ApiError> {
    check_quantities(info, obj)?;
    default_node(obj);
    check(info, obj, &validate_node(obj))
}

/// Defaults and validates an update of a Node.
pub fn before_update(info: &ResourceInfo, old: &Value, new: &mut Value) -> Result<(), ApiError> {
    check_quantities(info, new)?;
    default_node(new);
    let mut errs = validate_node(new);
    errs.extend(validate_node_update(new, old));
    check(info, new, &errs)
}

#[cfg(test)]
mod tests {
    use super::*;
    use skiff_core::registry::lookup;

    fn shown(errs: &[FieldError]) -> Vec<String> {
        errs.iter().map(ToString::to_string).collect()
    }

    #[test]
    fn nodes_are_defaulted() {
        let info = lookup("", "v1", "nodes").unwrap();
        let mut node = json!({"metadata": {"name": "n1"}, "spec": {"podCIDR": "10.42.0.0/24"},
            "status": {"capacity": {"cpu": "4", "memory": "8Gi", "pods": "110"}}});
        before_create(info, &mut node).unwrap();
        assert_eq!(node["spec"]["podCIDRs"], json!(["10.42.0.0/24"]));
        assert_eq!(node["status"]["allocatable"], node["status"]["capacity"]);
    }

    #[test]
    fn taints_and_cidrs_are_validated() {
        let node = json!({"spec": {
            "taints": [{"key": "a", "effect": "NoSchedule"}, {"key": "a", "effect": "NoSchedule"},
                       {"key": "b c", "value": "x", "effect": "Sometimes"}, {"key": "d"}],
            "podCIDRs": ["10.0.0.0/24", "10.1.0.0/24"]},
            "status": {"capacity": {"pods": "1.5"}}});
        assert_eq!(
            shown(&validate_node(&node)),
            vec![
                "metadata.taints[1]: Duplicate value: core.Taint{Key:\"a\", Value:\"\", Effect:\"NoSchedule\", TimeAdded:(*v1.Time)(nil)}: taints must be unique by key and effect pair",
                "metadata.taints[2].key: Invalid value: \"b c\": name part must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyName',  or 'my.name',  or '123-abc', regex used for validation is '([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]')",
                "metadata.taints[2].effect: Unsupported value: \"Sometimes\": supported values: \"NoSchedule\", \"PreferNoSchedule\", \"NoExecute\"",
                "metadata.taints[3].effect: Required value",
                "status.capacity.pods: Invalid value: \"1500m\": must be an integer",
                "spec.podCIDRs: Invalid value: []string{\"10.0.0.0/24\", \"10.1.0.0/24\"}: may specify no more than one CIDR for each IP family",
            ]
        );
        let dual = json!({"spec": {"podCIDRs": ["10.0.0.0/24", "fd00::/64"]}});
        assert!(validate_node(&dual).is_empty());
    }

    #[test]
    fn cidrs_and_provider_ids_are_set_once() {
        let info = lookup("", "v1", "nodes").unwrap();
        let old = json!({"metadata": {"name": "n1"}, "spec": {}});
        let mut assigned = json!({"metadata": {"name": "n1"},
            "spec": {"podCIDR": "10.42.1.0/24", "providerID": "skiff://n1", "unschedulable": true}});
        before_update(info, &old, &mut assigned).unwrap();
        let mut changed = json!({"metadata": {"name": "n1"},
            "spec": {"podCIDRs": ["10.42.2.0/24"], "providerID": "skiff://other"}});
        let err = before_update(info, &assigned, &mut changed).unwrap_err();
        assert_eq!(
            err.message,
            "Node \"n1\" is invalid: [spec.podCIDRs: Forbidden: node updates may not change podCIDR except from \"\" to valid, spec.providerID: Forbidden: node updates may not change providerID except from \"\" to valid]"
        );
        let mut dup = json!({"metadata": {"name": "n1"}, "spec": {},
            "status": {"addresses": [{"type": "InternalIP", "address": "10.0.0.1"},
                                     {"type": "InternalIP", "address": "10.0.0.1"}]}});
        let err = before_update(info, &old, &mut dup).unwrap_err();
        assert!(err.message.contains(
            "status.addresses[1]: Duplicate value: core.NodeAddress{Type:\"InternalIP\", Address:\"10.0.0.1\"}"
        ));
    }
}
