//! The networking.k8s.io/v1 strategies: Ingress, IngressClass and NetworkPolicy, with
//! upstream's defaults (`pkg/apis/networking/v1/defaults.go`: a policy's `policyTypes` and
//! port protocols, an IngressClass's parameter scope) and validation
//! (`pkg/apis/networking/validation`): ingress rules, paths and backends, TLS, class
//! controllers and parameters (the controller may not change), and policy peers, ports and
//! IP blocks.

use super::checks::{
    child, go_slice_of, legacy_cidr, path_segment_errors, strict_subnet,
    wildcard_dns1123_subdomain_errors,
};
use super::common::{
    IMMUTABLE, PORT_RANGE, check, dns1123_subdomain, each_mut, ensure_object, get, int_of,
    invalid_go, list_of, meta_update_errors, set_default, settle_generation, str_of,
    validate_label_selector,
};
use super::service::alloc::parse_ip_sloppy;
use super::service::validation::port_name_errors;
use crate::object;
use serde_json::{Value, json};
use skiff_core::registry::ResourceInfo;
use skiff_core::status::{ApiError, FieldError};
use skiff_core::validation::{self, regex_error};

/// The annotation older clients name an Ingress's class with.
pub const CLASS_ANNOTATION: &str = "kubernetes.io/ingress.class";
const MAX_CONTROLLER_LEN: usize = 250;
const PATH_TYPES: &[&str] = &["Exact", "ImplementationSpecific", "Prefix"];
const INVALID_SEQUENCES: &[&str] = &["//", "/./", "/../", "%2f", "%2F"];
const INVALID_SUFFIXES: &[&str] = &["/..", "/."];

/// Upstream's `SetDefaults_NetworkPolicy` and `SetDefaults_NetworkPolicyPort`.
pub fn default_network_policy(obj: &mut Value) {
    let Some(spec) = ensure_object(obj, "spec") else {
        return;
    };
    for dir in ["ingress", "egress"] {
        each_mut(spec, dir, |rule| {
            each_mut(rule, "ports", |p| set_default(p, "protocol", json!("TCP")));
        });
    }
    if list_of(spec, "policyTypes").is_empty() {
        let mut types = vec![json!("Ingress")];
        if !list_of(spec, "egress").is_empty() {
            types.push(json!("Egress"));
        }
        spec["policyTypes"] = Value::Array(types);
    }
}

/// Upstream's `SetDefaults_IngressClass`: parameters are cluster-scoped unless told.
pub fn default_ingress_class(obj: &mut Value) {
    if let Some(params) = obj
        .get_mut("spec")
        .and_then(|s| s.get_mut("parameters"))
        .filter(|p| p.is_object())
    {
        set_default(params, "scope", json!("Cluster"));
    }
}

fn validate_policy_port(port: &Value, path: &str, errs: &mut Vec<FieldError>) {
    if let Some(p) = get(port, "protocol").and_then(Value::as_str)
        && !matches!(p, "TCP" | "UDP" | "SCTP")
    {
        errs.push(FieldError::not_supported(
            format!("{path}.protocol"),
            p,
            &["TCP", "UDP", "SCTP"],
        ));
    }
    let end = int_of(port, "endPort");
    match get(port, "port") {
        Some(Value::String(name)) => {
            if let Some(e) = end {
                errs.push(FieldError::invalid(
                    format!("{path}.endPort"),
                    e,
                    "may not be specified when `port` is non-numeric",
                ));
            }
            for msg in port_name_errors(name) {
                errs.push(FieldError::invalid(
                    format!("{path}.port"),
                    name.as_str(),
                    msg,
                ));
            }
        }
        Some(n) => {
            let n = n.as_i64().unwrap_or(0);
            if !(1..=65535).contains(&n) {
                errs.push(FieldError::invalid(format!("{path}.port"), n, PORT_RANGE));
            }
            if let Some(e) = end {
                if e < n {
                    errs.push(FieldError::invalid(
                        format!("{path}.endPort"),
                        e,
                        "must be greater than or equal to `port`",
                    ));
                }
                if !(1..=65535).contains(&e) {
                    errs.push(FieldError::invalid(
                        format!("{path}.endPort"),
                        e,
                        PORT_RANGE,
                    ));
                }
            }
        }
        None => {
            if let Some(e) = end {
                errs.push(FieldError::invalid(
                    format!("{path}.endPort"),
                    e,
                    "may not be specified when `port` is not specified",
                ));
            }
        }
    }
}

fn validate_ip_block(block: &Value, path: &str, allowed: &[String], errs: &mut Vec<FieldError>) {
    let cidr = str_of(block, "cidr");
    if cidr.is_empty() {
        errs.push(FieldError::required(format!("{path}.cidr"), ""));
        return;
    }
    let parsed = super::checks::parse_cidr(cidr);
    if parsed.is_none() && !allowed.iter().any(|a| a == cidr) {
        legacy_cidr(&format!("{path}.cidr"), cidr, errs);
    }
    let Some(outer) = parsed else {
        return;
    };
    for (i, except) in list_of(block, "except").iter().enumerate() {
        let except = except.as_str().unwrap_or_default();
        let ep = format!("{path}.except[{i}]");
        let inner = super::checks::parse_cidr(except);
        if inner.is_none() && !allowed.iter().any(|a| a == except) {
            legacy_cidr(&ep, except, errs);
        }
        if let Some(inner) = inner
            && !strict_subnet(outer, inner)
        {
            errs.push(FieldError::invalid(
                ep,
                except,
                "must be a strict subset of `cidr`",
            ));
        }
    }
}

fn validate_peer(peer: &Value, path: &str, allowed: &[String], errs: &mut Vec<FieldError>) {
    let mut count = 0;
    for sel in ["podSelector", "namespaceSelector"] {
        if let Some(s) = get(peer, sel) {
            count += 1;
            validate_label_selector(Some(s), &format!("{path}.{sel}"), errs);
        }
    }
    let block = get(peer, "ipBlock");
    if let Some(b) = block {
        count += 1;
        validate_ip_block(b, &format!("{path}.ipBlock"), allowed, errs);
    }
    if count == 0 {
        errs.push(FieldError::required(path, "must specify a peer"));
    } else if count > 1 && block.is_some() {
        errs.push(FieldError::forbidden(
            path,
            "may not specify both ipBlock and another peer",
        ));
    }
}

/// Upstream's `ValidateNetworkPolicySpec`; `allowed` are CIDRs an update may keep even when
/// invalid.
pub fn validate_network_policy(obj: &Value, allowed: &[String]) -> Vec<FieldError> {
    let mut errs = Vec::new();
    let spec = child(obj, "spec");
    validate_label_selector(
        Some(&child(&spec, "podSelector")),
        "spec.podSelector",
        &mut errs,
    );
    for (dir, peers) in [("ingress", "from"), ("egress", "to")] {
        for (i, rule) in list_of(&spec, dir).iter().enumerate() {
            let rp = format!("spec.{dir}[{i}]");
            for (j, port) in list_of(rule, "ports").iter().enumerate() {
                validate_policy_port(port, &format!("{rp}.ports[{j}]"), &mut errs);
            }
            for (j, peer) in list_of(rule, peers).iter().enumerate() {
                validate_peer(peer, &format!("{rp}.{peers}[{j}]"), allowed, &mut errs);
            }
        }
    }
    let types = list_of(&spec, "policyTypes");
    if types.len() > 2 {
        errs.push(invalid_go(
            "spec.policyTypes",
            &go_slice_of("networking.PolicyType", get(&spec, "policyTypes")),
            "may not specify more than two policyTypes",
        ));
        return errs;
    }
    for (i, t) in types.iter().enumerate() {
        let t = t.as_str().unwrap_or_default();
        if !matches!(t, "Ingress" | "Egress") {
            errs.push(FieldError::not_supported(
                format!("spec.policyTypes[{i}]"),
                t,
                &["Ingress", "Egress"],
            ));
        }
    }
    errs
}

/// The CIDRs of a policy's IP blocks (an update may keep them even if now invalid).
fn policy_cidrs(obj: &Value) -> Vec<String> {
    let spec = child(obj, "spec");
    let mut out = Vec::new();
    for (dir, peers) in [("ingress", "from"), ("egress", "to")] {
        for rule in list_of(&spec, dir) {
            for peer in list_of(rule, peers) {
                if let Some(b) = get(peer, "ipBlock") {
                    out.push(str_of(b, "cidr").to_owned());
                    out.extend(
                        list_of(b, "except")
                            .iter()
                            .filter_map(Value::as_str)
                            .map(str::to_owned),
                    );
                }
            }
        }
    }
    out
}

fn validate_backend(backend: &Value, path: &str, errs: &mut Vec<FieldError>) {
    match (get(backend, "resource"), get(backend, "service")) {
        (Some(_), Some(_)) => errs.push(FieldError::invalid(
            path,
            "",
            "cannot set both resource and service backends",
        )),
        (Some(r), None) => {
            let rp = format!("{path}.resource");
            if let Some(g) = get(r, "apiGroup").and_then(Value::as_str) {
                dns1123_subdomain(&format!("{rp}.apiGroup"), g, errs);
            }
            for field in ["kind", "name"] {
                let v = str_of(r, field);
                if v.is_empty() {
                    errs.push(FieldError::required(format!("{rp}.{field}"), ""));
                } else {
                    for msg in path_segment_errors(v) {
                        errs.push(FieldError::invalid(format!("{rp}.{field}"), v, msg));
                    }
                }
            }
        }
        (None, Some(s)) => {
            let name = str_of(s, "name");
            if name.is_empty() {
                errs.push(FieldError::required(format!("{path}.service.name"), ""));
            } else {
                for msg in validation::is_dns1035_label(name) {
                    errs.push(FieldError::invalid(
                        format!("{path}.service.name"),
                        name,
                        msg,
                    ));
                }
            }
            let port = child(s, "port");
            let port_name = str_of(&port, "name");
            let number = int_of(&port, "number").unwrap_or(0);
            if !port_name.is_empty() && number != 0 {
                errs.push(FieldError::invalid(
                    path,
                    "",
                    "cannot set both port name & port number",
                ));
            } else if !port_name.is_empty() {
                for msg in port_name_errors(port_name) {
                    errs.push(FieldError::invalid(
                        format!("{path}.service.port.name"),
                        port_name,
                        msg,
                    ));
                }
            } else if number != 0 {
                if !(1..=65535).contains(&number) {
                    errs.push(FieldError::invalid(
                        format!("{path}.service.port.number"),
                        number,
                        PORT_RANGE,
                    ));
                }
            } else {
                errs.push(FieldError::required(
                    path,
                    "port name or number is required",
                ));
            }
        }
        (None, None) => errs.push(FieldError::invalid(
            path,
            "",
            "resource or service backend is required",
        )),
    }
}

fn validate_http_path(p: &Value, path: &str, errs: &mut Vec<FieldError>) {
    let Some(kind) = get(p, "pathType").and_then(Value::as_str) else {
        errs.push(FieldError::required(
            format!("{path}.pathType"),
            "pathType must be specified",
        ));
        return;
    };
    let value = str_of(p, "path");
    let field = format!("{path}.path");
    match kind {
        "Exact" | "Prefix" => {
            if !value.starts_with('/') {
                errs.push(FieldError::invalid(
                    field.as_str(),
                    value,
                    "must be an absolute path",
                ));
            }
            if !value.is_empty() {
                for seq in INVALID_SEQUENCES {
                    if value.contains(seq) {
                        errs.push(FieldError::invalid(
                            field.as_str(),
                            value,
                            format!("must not contain '{seq}'"),
                        ));
                    }
                }
                for suffix in INVALID_SUFFIXES {
                    if value.ends_with(suffix) {
                        errs.push(FieldError::invalid(
                            field.as_str(),
                            value,
                            format!("cannot end with '{suffix}'"),
                        ));
                    }
                }
            }
        }
        "ImplementationSpecific" => {
            if !value.is_empty() && !value.starts_with('/') {
                errs.push(FieldError::invalid(
                    field,
                    value,
                    "must be an absolute path",
                ));
            }
        }
        other => errs.push(FieldError::not_supported(
            format!("{path}.pathType"),
            other,
            PATH_TYPES,
        )),
    }
    validate_backend(&child(p, "backend"), &format!("{path}.backend"), errs);
}

fn validate_rule_value(rule: &Value, path: &str, errs: &mut Vec<FieldError>) {
    if let Some(http) = get(rule, "http") {
        let paths = list_of(http, "paths");
        if paths.is_empty() {
            errs.push(FieldError::required(format!("{path}.http.paths"), ""));
        }
        for (i, p) in paths.iter().enumerate() {
            validate_http_path(p, &format!("{path}.http.paths[{i}]"), errs);
        }
    }
}

fn invalid_wildcard_rules(obj: &Value) -> bool {
    list_of(&child(obj, "spec"), "rules").iter().any(|r| {
        let mut errs = Vec::new();
        validate_rule_value(r, "", &mut errs);
        str_of(r, "host").contains('*') && !errs.is_empty()
    })
}

fn invalid_secret_names(obj: &Value) -> bool {
    list_of(&child(obj, "spec"), "tls").iter().any(|t| {
        let name = str_of(t, "secretName");
        !name.is_empty() && !validation::is_dns1123_subdomain(name).is_empty()
    })
}

/// Upstream's `ValidateIngressSpec`; `old` relaxes the rules an existing object may break.
pub fn validate_ingress(obj: &Value, old: Option<&Value>) -> Vec<FieldError> {
    let mut errs = Vec::new();
    let spec = child(obj, "spec");
    let rules = list_of(&spec, "rules");
    let default_backend = get(&spec, "defaultBackend");
    if rules.is_empty() && default_backend.is_none() {
        let raw = match get(&spec, "rules") {
            None => "[]networking.IngressRule(nil)",
            Some(_) => "[]networking.IngressRule{}",
        };
        errs.push(invalid_go(
            "spec",
            raw,
            "either `defaultBackend` or `rules` must be specified",
        ));
    }
    if let Some(b) = default_backend {
        validate_backend(b, "spec.defaultBackend", &mut errs);
    }
    let allow_wildcard = old.is_some_and(invalid_wildcard_rules);
    for (i, rule) in rules.iter().enumerate() {
        let path = format!("spec.rules[{i}]");
        let host = str_of(rule, "host");
        let mut wildcard = false;
        if !host.is_empty() {
            if parse_ip_sloppy(host).is_some() {
                errs.push(FieldError::invalid(
                    format!("{path}.host"),
                    host,
                    "must be a DNS name, not an IP address",
                ));
            }
            let msgs = if host.contains('*') {
                wildcard = true;
                wildcard_dns1123_subdomain_errors(host)
            } else {
                validation::is_dns1123_subdomain(host)
            };
            for msg in msgs {
                errs.push(FieldError::invalid(format!("{path}.host"), host, msg));
            }
        }
        if !wildcard || !allow_wildcard {
            validate_rule_value(rule, &path, &mut errs);
        }
    }
    let allow_secret = old.is_some_and(invalid_secret_names);
    for (i, tls) in list_of(&spec, "tls").iter().enumerate() {
        let path = format!("spec.tls[{i}]");
        for (j, host) in list_of(tls, "hosts").iter().enumerate() {
            let host = host.as_str().unwrap_or_default();
            let msgs = if host.contains('*') {
                wildcard_dns1123_subdomain_errors(host)
            } else {
                validation::is_dns1123_subdomain(host)
            };
            for msg in msgs {
                errs.push(FieldError::invalid(format!("{path}.hosts[{j}]"), host, msg));
            }
        }
        let secret = str_of(tls, "secretName");
        if !allow_secret && !secret.is_empty() {
            dns1123_subdomain(&format!("{path}.secretName"), secret, &mut errs);
        }
    }
    if let Some(class) = get(&spec, "ingressClassName").and_then(Value::as_str) {
        for msg in validation::is_dns1123_subdomain(class) {
            errs.push(FieldError::invalid("spec.ingressClassName", class, msg));
        }
    }
    errs
}

/// Upstream's `IsDomainPrefixedPath`.
fn domain_prefixed_path(field: &str, value: &str, errs: &mut Vec<FieldError>) {
    let Some((host, path)) = value
        .split_once('/')
        .filter(|(h, p)| !h.is_empty() && !p.is_empty())
    else {
        errs.push(FieldError::invalid(
            field,
            value,
            "must be a domain-prefixed path (such as \"acme.io/foo\")",
        ));
        return;
    };
    for msg in validation::is_dns1123_subdomain(host) {
        errs.push(FieldError::invalid(field, host, msg));
    }
    let ok = path
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || b"/-._~%!$&'()*+,;=:".contains(&b));
    if !ok {
        errs.push(FieldError::invalid(
            field,
            path,
            regex_error("Invalid path", "[A-Za-z0-9/\\-._~%!$&'()*+,;=:]+", &[]),
        ));
    }
}

/// Upstream's `validateIngressClassSpec`.
pub fn validate_ingress_class(obj: &Value) -> Vec<FieldError> {
    let mut errs = Vec::new();
    let spec = child(obj, "spec");
    let controller = str_of(&spec, "controller");
    if controller.is_empty() {
        errs.push(FieldError::required("spec.controller", ""));
    } else {
        if controller.len() > MAX_CONTROLLER_LEN {
            errs.push(FieldError::too_long("spec.controller", MAX_CONTROLLER_LEN));
        }
        domain_prefixed_path("spec.controller", controller, &mut errs);
    }
    if let Some(params) = get(&spec, "parameters") {
        let path = "spec.parameters";
        if let Some(g) = get(params, "apiGroup").and_then(Value::as_str) {
            dns1123_subdomain(&format!("{path}.apiGroup"), g, &mut errs);
        }
        for field in ["kind", "name"] {
            let v = str_of(params, field);
            if v.is_empty() {
                errs.push(FieldError::required(format!("{path}.{field}"), ""));
            } else {
                for msg in path_segment_errors(v) {
                    errs.push(FieldError::invalid(format!("{path}.{field}"), v, msg));
                }
            }
        }
        match get(params, "scope").and_then(Value::as_str) {
            None => errs.push(FieldError::required(format!("{path}.scope"), "")),
            Some("Namespace") => match get(params, "namespace").and_then(Value::as_str) {
                None => errs.push(FieldError::required(
                    format!("{path}.namespace"),
                    "`parameters.scope` is set to 'Namespace'",
                )),
                Some(ns) => {
                    for msg in validation::is_dns1123_label(ns) {
                        errs.push(FieldError::invalid(format!("{path}.namespace"), ns, msg));
                    }
                }
            },
            Some("Cluster") => {
                if get(params, "namespace").is_some() {
                    errs.push(FieldError::forbidden(
                        format!("{path}.namespace"),
                        "`parameters.scope` is set to 'Cluster'",
                    ));
                }
            }
            Some(other) => errs.push(FieldError::not_supported(
                format!("{path}.scope"),
                other,
                &["Cluster", "Namespace"],
            )),
        }
    }
    errs
}

fn class_annotation_mismatch(obj: &Value, errs: &mut Vec<FieldError>) {
    let annotation = object::meta(obj)
        .get("annotations")
        .and_then(|a| a.get(CLASS_ANNOTATION))
        .and_then(Value::as_str);
    let spec = child(obj, "spec");
    let class = get(&spec, "ingressClassName").and_then(Value::as_str);
    if let (Some(a), Some(c)) = (annotation, class)
        && a != c
    {
        errs.push(FieldError::invalid(
            format!("annotations.{CLASS_ANNOTATION}"),
            a,
            "must match `ingressClassName` when both are specified",
        ));
    }
}

/// Defaults and validates a new Ingress, IngressClass or NetworkPolicy.
pub fn before_create(info: &ResourceInfo, obj: &mut Value) -> Result<(), ApiError> {
    let errs = match info.gvk.kind {
        "Ingress" => {
            let mut errs = validate_ingress(obj, None);
            class_annotation_mismatch(obj, &mut errs);
            errs
        }
        "IngressClass" => {
            default_ingress_class(obj);
            validate_ingress_class(obj)
        }
        "NetworkPolicy" => {
            default_network_policy(obj);
            validate_network_policy(obj, &[])
        }
        _ => Vec::new(),
    };
    check(info, obj, &errs)
}

/// Defaults and validates an update of an Ingress, IngressClass or NetworkPolicy.
pub fn before_update(info: &ResourceInfo, old: &Value, new: &mut Value) -> Result<(), ApiError> {
    let mut errs = meta_update_errors(old, new);
    match info.gvk.kind {
        "Ingress" => {
            settle_generation(old, new, false);
            errs.extend(validate_ingress(new, Some(old)));
        }
        "IngressClass" => {
            default_ingress_class(new);
            let spec = child(new, "spec");
            let controller = str_of(&spec, "controller");
            if controller != str_of(&child(old, "spec"), "controller") {
                errs.push(FieldError::invalid(
                    "spec.controller",
                    controller,
                    IMMUTABLE,
                ));
            }
            errs.extend(validate_ingress_class(new));
        }
        "NetworkPolicy" => {
            default_network_policy(new);
            settle_generation(old, new, false);
            errs.extend(validate_network_policy(new, &policy_cidrs(old)));
        }
        _ => {}
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
    fn kubectl_create_ingress_passes() {
        let info = lookup("networking.k8s.io", "v1", "ingresses").unwrap();
        let mut obj = json!({"metadata": {"name": "simple", "namespace": "default"},
            "spec": {"rules": [{"host": "foo.com", "http": {"paths": [
                {"path": "/bar", "pathType": "Exact",
                 "backend": {"service": {"name": "svc1", "port": {"number": 8080}}}}]}}],
                "tls": [{"hosts": ["foo.com"], "secretName": "my-cert"}]}});
        before_create(info, &mut obj).unwrap();
        let mut default_only = json!({"metadata": {"name": "d", "namespace": "default"},
            "spec": {"defaultBackend": {"service": {"name": "svc", "port": {"name": "http"}}}}});
        before_create(info, &mut default_only).unwrap();
    }

    #[test]
    fn ingress_rules_follow_upstream() {
        let obj = json!({"spec": {"rules": [
            {"host": "1.2.3.4", "http": {"paths": [
                {"path": "/a", "backend": {"service": {"name": "s", "port": {"number": 80}}}},
                {"path": "a//b", "pathType": "Prefix", "backend": {}},
                {"path": "/x", "pathType": "Regex", "backend": {"service": {"name": "9s", "port": {}}}},
            ]}},
            {"host": "*.example.com", "http": {"paths": []}},
        ]}});
        assert_eq!(
            shown(&validate_ingress(&obj, None)),
            vec![
                "spec.rules[0].host: Invalid value: \"1.2.3.4\": must be a DNS name, not an IP address",
                "spec.rules[0].http.paths[0].pathType: Required value: pathType must be specified",
                "spec.rules[0].http.paths[1].path: Invalid value: \"a//b\": must be an absolute path",
                "spec.rules[0].http.paths[1].path: Invalid value: \"a//b\": must not contain '//'",
                "spec.rules[0].http.paths[1].backend: Invalid value: \"\": resource or service backend is required",
                "spec.rules[0].http.paths[2].pathType: Unsupported value: \"Regex\": supported values: \"Exact\", \"ImplementationSpecific\", \"Prefix\"",
                "spec.rules[0].http.paths[2].backend.service.name: Invalid value: \"9s\": a DNS-1035 label must consist of lower case alphanumeric characters or '-', start with an alphabetic character, and end with an alphanumeric character (e.g. 'my-name',  or 'abc-123', regex used for validation is '[a-z]([-a-z0-9]*[a-z0-9])?')",
                "spec.rules[0].http.paths[2].backend: Required value: port name or number is required",
                "spec.rules[1].http.paths: Required value",
            ]
        );
        assert_eq!(
            shown(&validate_ingress(&json!({"spec": {}}), None)),
            vec![
                "spec: Invalid value: []networking.IngressRule(nil): either `defaultBackend` or `rules` must be specified"
            ]
        );
    }

    #[test]
    fn ingress_class_annotation_must_match() {
        let info = lookup("networking.k8s.io", "v1", "ingresses").unwrap();
        let mut obj = json!({"metadata": {"name": "i", "namespace": "d",
            "annotations": {"kubernetes.io/ingress.class": "nginx"}},
            "spec": {"ingressClassName": "traefik",
                     "defaultBackend": {"service": {"name": "s", "port": {"number": 80}}}}});
        let err = before_create(info, &mut obj).unwrap_err();
        assert_eq!(
            err.message,
            "Ingress.networking.k8s.io \"i\" is invalid: annotations.kubernetes.io/ingress.class: Invalid value: \"nginx\": must match `ingressClassName` when both are specified"
        );
    }

    #[test]
    fn ingress_classes() {
        let info = lookup("networking.k8s.io", "v1", "ingressclasses").unwrap();
        let mut obj = json!({"metadata": {"name": "nginx"}, "spec": {"controller": "k8s.io/ingress-nginx",
            "parameters": {"apiGroup": "k8s.example.com", "kind": "IngressParameters", "name": "p"}}});
        before_create(info, &mut obj).unwrap();
        assert_eq!(obj["spec"]["parameters"]["scope"], "Cluster");
        let bad = json!({"spec": {"controller": "nginx",
            "parameters": {"kind": "K", "name": "n", "scope": "Namespace"}}});
        assert_eq!(
            shown(&validate_ingress_class(&bad)),
            vec![
                "spec.controller: Invalid value: \"nginx\": must be a domain-prefixed path (such as \"acme.io/foo\")",
                "spec.parameters.namespace: Required value: `parameters.scope` is set to 'Namespace'",
            ]
        );
        let mut changed = obj.clone();
        changed["spec"]["controller"] = json!("example.com/other");
        let err = before_update(info, &obj, &mut changed).unwrap_err();
        assert_eq!(
            err.message,
            "IngressClass.networking.k8s.io \"nginx\" is invalid: spec.controller: Invalid value: \"example.com/other\": field is immutable"
        );
    }

    #[test]
    fn network_policies_are_defaulted() {
        let info = lookup("networking.k8s.io", "v1", "networkpolicies").unwrap();
        let mut obj = json!({"metadata": {"name": "np", "namespace": "d"},
            "spec": {"podSelector": {}, "egress": [{"ports": [{"port": 53}]}]}});
        before_create(info, &mut obj).unwrap();
        assert_eq!(obj["spec"]["policyTypes"], json!(["Ingress", "Egress"]));
        assert_eq!(obj["spec"]["egress"][0]["ports"][0]["protocol"], "TCP");
        let mut ingress_only = json!({"metadata": {"name": "np", "namespace": "d"},
            "spec": {"podSelector": {"matchLabels": {"app": "web"}}}});
        before_create(info, &mut ingress_only).unwrap();
        assert_eq!(ingress_only["spec"]["policyTypes"], json!(["Ingress"]));
    }

    #[test]
    fn network_policy_rules_follow_upstream() {
        let obj = json!({"spec": {"podSelector": {}, "policyTypes": ["Ingress", "Sideways"],
            "ingress": [{"ports": [{"port": "http", "endPort": 90}, {"port": 80, "endPort": 70, "protocol": "ICMP"}],
                         "from": [{}, {"ipBlock": {"cidr": "10.0.0.0/16", "except": ["10.1.0.0/24"]},
                                       "podSelector": {}}]}]}});
        assert_eq!(
            shown(&validate_network_policy(&obj, &[])),
            vec![
                "spec.ingress[0].ports[0].endPort: Invalid value: 90: may not be specified when `port` is non-numeric",
                "spec.ingress[0].ports[1].protocol: Unsupported value: \"ICMP\": supported values: \"TCP\", \"UDP\", \"SCTP\"",
                "spec.ingress[0].ports[1].endPort: Invalid value: 70: must be greater than or equal to `port`",
                "spec.ingress[0].from[0]: Required value: must specify a peer",
                "spec.ingress[0].from[1].ipBlock.except[0]: Invalid value: \"10.1.0.0/24\": must be a strict subset of `cidr`",
                "spec.ingress[0].from[1]: Forbidden: may not specify both ipBlock and another peer",
                "spec.policyTypes[1]: Unsupported value: \"Sideways\": supported values: \"Ingress\", \"Egress\"",
            ]
        );
        let keep = json!({"spec": {"podSelector": {},
            "ingress": [{"from": [{"ipBlock": {"cidr": "10.0.0.1/33"}}]}]}});
        assert_eq!(validate_network_policy(&keep, &[]).len(), 1);
        assert!(validate_network_policy(&keep, &["10.0.0.1/33".to_owned()]).is_empty());
    }
}
