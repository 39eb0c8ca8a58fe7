//! The discovery.k8s.io/v1 EndpointSlice strategy: `SetDefaults_EndpointPort` (unnamed TCP
//! ports) and `ValidateEndpointSlice(Create|Update)`: the address type (immutable),
//! endpoints (at most 1000, each with 1 to 100 addresses of that type), node names, zones,
//! hostnames, hints, and ports (at most 20000, unique names, known protocols).

use super::checks::{endpoint_ip, fully_qualified_domain_name, legacy_ip, qualified_name};
use super::common::{
    check, dns1123_label, each_mut, get, list_of, meta_update_errors, set_default, str_of,
    validate_labels,
};
use serde_json::{Value, json};
use skiff_core::registry::ResourceInfo;
use skiff_core::status::{ApiError, FieldError};
use skiff_core::validation;
use std::collections::BTreeSet;
use std::net::IpAddr;

/// Upstream's limits on an EndpointSlice.
pub const MAX_ENDPOINTS: usize = 1000;
const MAX_ADDRESSES: usize = 100;
const MAX_PORTS: usize = 20000;
const MAX_TOPOLOGY_LABELS: usize = 16;
const MAX_ZONE_HINTS: usize = 8;
const ADDRESS_TYPES: &[&str] = &["FQDN", "IPv4", "IPv6"];
const PROTOCOLS: &[&str] = &["SCTP", "TCP", "UDP"];

/// Upstream's `SetDefaults_EndpointPort`.
pub fn default_endpoint_slice(obj: &mut Value) {
    each_mut(obj, "ports", |p| {
        set_default(p, "name", json!(""));
        set_default(p, "protocol", json!("TCP"));
    });
}

fn validate_address(kind: &str, address: &str, path: &str, errs: &mut Vec<FieldError>) {
    match kind {
        "IPv4" | "IPv6" => {
            let before = errs.len();
            let Some(ip) = legacy_ip(path, address, errs) else {
                return;
            };
            if errs.len() != before {
                return;
            }
            if kind == "IPv4" && !matches!(ip, IpAddr::V4(_)) {
                errs.push(FieldError::invalid(
                    path,
                    address,
                    "must be an IPv4 address",
                ));
            }
            if kind == "IPv6" && matches!(ip, IpAddr::V4(_)) {
                errs.push(FieldError::invalid(
                    path,
                    address,
                    "must be an IPv6 address",
                ));
            }
            endpoint_ip(path, address, errs);
        }
        "FQDN" => fully_qualified_domain_name(path, address, errs),
        _ => {}
    }
}

fn validate_endpoints(obj: &Value, kind: &str, errs: &mut Vec<FieldError>) {
    let endpoints = list_of(obj, "endpoints");
    if endpoints.len() > MAX_ENDPOINTS {
        errs.push(FieldError::too_many(
            "endpoints",
            endpoints.len(),
            MAX_ENDPOINTS,
        ));
        return;
    }
    for (i, ep) in endpoints.iter().enumerate() {
        let path = format!("endpoints[{i}]");
        let addresses = list_of(ep, "addresses");
        if addresses.is_empty() {
            errs.push(FieldError::required(
                format!("{path}.addresses"),
                "must contain at least 1 address",
            ));
        } else if addresses.len() > MAX_ADDRESSES {
            errs.push(FieldError::too_many(
                format!("{path}.addresses"),
                addresses.len(),
                MAX_ADDRESSES,
            ));
        }
        for (j, a) in addresses.iter().enumerate() {
            validate_address(
                kind,
                a.as_str().unwrap_or_default(),
                &format!("{path}.addresses[{j}]"),
                errs,
            );
        }
        if let Some(node) = get(ep, "nodeName").and_then(Value::as_str) {
            for msg in validation::is_dns1123_subdomain(node) {
                errs.push(FieldError::invalid(format!("{path}.nodeName"), node, msg));
            }
        }
        let topology = get(ep, "deprecatedTopology");
        let topology_len = topology.and_then(Value::as_object).map_or(0, |m| m.len());
        if topology_len > MAX_TOPOLOGY_LABELS {
            errs.push(FieldError::too_many(
                format!("{path}.deprecatedTopology"),
                topology_len,
                MAX_TOPOLOGY_LABELS,
            ));
        }
        validate_labels(topology, &format!("{path}.deprecatedTopology"), errs);
        if let Some(zone) = get(ep, "zone") {
            let labels = json!({"topology.kubernetes.io/zone": zone});
            validate_labels(Some(&labels), &format!("{path}.zone"), errs);
        }
        if let Some(h) = get(ep, "hostname").and_then(Value::as_str) {
            dns1123_label(&format!("{path}.hostname"), h, errs);
        }
        if let Some(hints) = get(ep, "hints") {
            let zones = list_of(hints, "forZones");
            let zp = format!("{path}.hints.forZones");
            if zones.len() > MAX_ZONE_HINTS {
                errs.push(FieldError::too_many(zp, zones.len(), MAX_ZONE_HINTS));
                continue;
            }
            let mut seen = BTreeSet::new();
            for (j, z) in zones.iter().enumerate() {
                let name = str_of(z, "name");
                let np = format!("{zp}[{j}].name");
                if !seen.insert(name) {
                    errs.push(FieldError::duplicate(np.as_str(), name));
                }
                for msg in validation::is_valid_label_value(name) {
                    errs.push(FieldError::invalid(np.as_str(), name, msg));
                }
            }
        }
    }
}

fn validate_ports(obj: &Value, errs: &mut Vec<FieldError>) {
    let ports = list_of(obj, "ports");
    if ports.len() > MAX_PORTS {
        errs.push(FieldError::too_many("ports", ports.len(), MAX_PORTS));
        return;
    }
    let mut names = BTreeSet::new();
    for (i, p) in ports.iter().enumerate() {
        let path = format!("ports[{i}]");
        let name = str_of(p, "name");
        if !name.is_empty() {
            dns1123_label(&format!("{path}.name"), name, errs);
        }
        if !names.insert(name) {
            errs.push(FieldError::duplicate(format!("{path}.name"), name));
        }
        match get(p, "protocol").and_then(Value::as_str) {
            None => errs.push(FieldError::required(format!("{path}.protocol"), "")),
            Some(proto) if !PROTOCOLS.contains(&proto) => errs.push(FieldError::not_supported(
                format!("{path}.protocol"),
                proto,
                PROTOCOLS,
            )),
            Some(_) => {}
        }
        if let Some(app) = get(p, "appProtocol").and_then(Value::as_str) {
            qualified_name(&format!("{path}.appProtocol"), app, errs);
        }
    }
}

/// Upstream's `ValidateEndpointSlice` (metadata aside).
pub fn validate_endpoint_slice(obj: &Value) -> Vec<FieldError> {
    let mut errs = Vec::new();
    let kind = str_of(obj, "addressType");
    if kind.is_empty() {
        errs.push(FieldError::required("addressType", ""));
    } else if !ADDRESS_TYPES.contains(&kind) {
        errs.push(FieldError::not_supported(
            "addressType",
            kind,
            ADDRESS_TYPES,
        ));
    }
    validate_endpoints(obj, kind, &mut errs);
    validate_ports(obj, &mut errs);
    errs
}

/// Defaults and validates a new EndpointSlice.
pub fn before_create(info: &ResourceInfo, obj: &mut Value) -> Result<(), ApiError> {
    default_endpoint_slice(obj);
    check(info, obj, &validate_endpoint_slice(obj))
}

/// Defaults and validates an update of an EndpointSlice: its address type may not change.
pub fn before_update(info: &ResourceInfo, old: &Value, new: &mut Value) -> Result<(), ApiError> {
    default_endpoint_slice(new);
    let mut errs = meta_update_errors(old, new);
    errs.extend(validate_endpoint_slice(new));
    let kind = str_of(new, "addressType");
    if kind != str_of(old, "addressType") {
        errs.push(FieldError::immutable("addressType", kind));
    }
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
    fn slices_are_defaulted_and_validated() {
        let info = lookup("discovery.k8s.io", "v1", "endpointslices").unwrap();
        let mut ok = json!({"metadata": {"name": "web-abc", "namespace": "d"}, "addressType": "IPv4",
            "endpoints": [{"addresses": ["10.0.0.5"], "conditions": {"ready": true}, "nodeName": "n1",
                           "zone": "z1", "hints": {"forZones": [{"name": "z1"}]}}],
            "ports": [{"port": 80}]});
        before_create(info, &mut ok).unwrap();
        assert_eq!(
            ok["ports"][0],
            json!({"port": 80, "name": "", "protocol": "TCP"})
        );

        let bad = json!({"addressType": "IPv4",
            "endpoints": [{"addresses": []}, {"addresses": ["fd00::1", "127.0.0.1", "x"], "hostname": "A"}],
            "ports": [{"name": "http", "protocol": "TCP"}, {"name": "http", "protocol": "ICMP"}]});
        assert_eq!(
            shown(&validate_endpoint_slice(&bad)),
            vec![
                "endpoints[0].addresses: Required value: must contain at least 1 address",
                "endpoints[1].addresses[0]: Invalid value: \"fd00::1\": must be an IPv4 address",
                "endpoints[1].addresses[1]: Invalid value: \"127.0.0.1\": may not be in the loopback range (127.0.0.0/8, ::1/128)",
                "endpoints[1].addresses[2]: Invalid value: \"x\": must be a valid IP address, (e.g. 10.9.8.7 or 2001:db8::ffff)",
                "endpoints[1].hostname: Invalid value: \"A\": a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must start and end with an alphanumeric character (e.g. 'my-name',  or '123-abc', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?')",
                "ports[1].name: Duplicate value: \"http\"",
                "ports[1].protocol: Unsupported value: \"ICMP\": supported values: \"SCTP\", \"TCP\", \"UDP\"",
            ]
        );
        let fqdn =
            json!({"addressType": "FQDN", "endpoints": [{"addresses": ["example.com", "local"]}]});
        assert_eq!(
            shown(&validate_endpoint_slice(&fqdn)),
            vec![
                "endpoints[0].addresses[1]: Invalid value: \"local\": should be a domain with at least two segments separated by dots"
            ]
        );
        let too_many: Vec<Value> = (0..1001)
            .map(|_| json!({"addresses": ["10.0.0.1"]}))
            .collect();
        let big = json!({"addressType": "IPv4", "endpoints": too_many});
        assert_eq!(
            shown(&validate_endpoint_slice(&big)),
            vec!["endpoints: Too many: 1001: must have at most 1000 items"]
        );
    }

    #[test]
    fn address_types_are_immutable() {
        let info = lookup("discovery.k8s.io", "v1", "endpointslices").unwrap();
        let old = json!({"metadata": {"name": "s", "namespace": "d"}, "addressType": "IPv4"});
        let mut same = old.clone();
        before_update(info, &old, &mut same).unwrap();
        let mut changed =
            json!({"metadata": {"name": "s", "namespace": "d"}, "addressType": "IPv6"});
        let err = before_update(info, &old, &mut changed).unwrap_err();
        assert_eq!(
            err.message,
            "EndpointSlice.discovery.k8s.io \"s\" is invalid: addressType: Invalid value: \"IPv6\": field is immutable"
        );
        assert_eq!(
            shown(&validate_endpoint_slice(&json!({"addressType": "IP"}))),
            vec![
                "addressType: Unsupported value: \"IP\": supported values: \"FQDN\", \"IPv4\", \"IPv6\""
            ]
        );
    }
}
