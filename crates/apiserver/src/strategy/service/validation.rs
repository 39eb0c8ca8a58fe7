//! Service validation: upstream's `ValidateService`, `ValidateServiceUpdate` and
//! `ValidateServiceClusterIPsRelatedFields` (pkg/apis/core/validation), with their messages.
//!
//! Values that upstream prints with Go's `%#v` (lists, structs) are rendered the same way, so
//! messages such as `spec.clusterIPs: Invalid value: []string{"10.43.0.1"}: ...` match.

use super::alloc::parse_ip_sloppy;
use super::{
    CLUSTER_IP, EXTERNAL_NAME, LOAD_BALANCER, NODE_PORT, cluster_ips, externally_accessible,
    ip_families, is_headless, needs_health_check, ports, svc_type,
};
use k8s_openapi::api::core::v1::{ServicePort, ServiceSpec};
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;
use skiff_core::status::{BadValue, FieldError, FieldErrorType};
use skiff_core::validation;
use std::collections::{BTreeMap, HashSet};
use std::net::IpAddr;

/// Upstream's `MaxClientIPServiceAffinitySeconds` (one day).
pub const MAX_CLIENT_IP_TIMEOUT_SECONDS: i32 = 86400;

const PORT_RANGE_ERROR: &str = "must be between 1 and 65535, inclusive";
const VALID_IP_ERROR: &str = "must be a valid IP address, (e.g. 10.9.8.7 or 2001:db8::ffff)";
const VALID_CIDR_ERROR: &str = "must be a valid CIDR value, (e.g. 10.9.8.0/24 or 2001:db8::/64)";
const ONLY_LOAD_BALANCER: &str = "may only be used when `type` is 'LoadBalancer'";

/// Go's `strconv.Quote`, as `%q` and `%#v` print strings.
pub use skiff_core::labels::go_quote;

/// A Go string slice as `%#v` prints it: `[]string{"a", "b"}`, `[]string(nil)` when unset.
pub fn go_slice(type_name: &str, items: Option<&[String]>) -> String {
    match items {
        None => format!("[]{type_name}(nil)"),
        Some(items) => {
            let quoted: Vec<String> = items.iter().map(|s| go_quote(s)).collect();
            format!("[]{type_name}{{{}}}", quoted.join(", "))
        }
    }
}

/// `Invalid value: <raw>: <detail>` where `raw` is already formatted (Go's `%#v` output).
pub fn invalid_raw(field: impl Into<String>, raw: &str, detail: &str) -> FieldError {
    FieldError {
        kind: FieldErrorType::Invalid,
        field: field.into(),
        value: BadValue::None,
        detail: format!("{raw}: {detail}"),
    }
}

/// `Duplicate value: <raw>` with a pre-formatted value.
fn duplicate_raw(field: impl Into<String>, raw: String) -> FieldError {
    FieldError {
        kind: FieldErrorType::Duplicate,
        field: field.into(),
        value: BadValue::None,
        detail: raw,
    }
}

/// A Go `*string` as a bad value: the string, or `null`.
fn optional(value: Option<&str>) -> BadValue {
    match value {
        Some(s) => BadValue::Str(s.to_owned()),
        None => BadValue::Json(serde_json::Value::Null),
    }
}

/// The key upstream uses to find duplicate ports, printed as `%#v` prints `core.ServicePort`.
fn port_key(protocol: &str, port: i32) -> String {
    format!(
        "core.ServicePort{{Name:\"\", Protocol:{}, AppProtocol:(*string)(nil), Port:{port}, \
         TargetPort:intstr.IntOrString{{Type:0, IntVal:0, StrVal:\"\"}}, NodePort:0}}",
        go_quote(protocol)
    )
}

fn is_valid_port_num(port: i64) -> bool {
    (1..=65535).contains(&port)
}

/// Upstream's `IsValidPortName` (an IANA service name).
pub fn port_name_errors(name: &str) -> Vec<String> {
    let mut errs = Vec::new();
    if name.len() > 15 {
        errs.push(validation::max_len_error(15));
    }
    if name.is_empty()
        || !name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
    {
        errs.push("must contain only alpha-numeric characters (a-z, 0-9), and hyphens (-)".into());
    }
    if !name.bytes().any(|b| b.is_ascii_lowercase()) {
        errs.push("must contain at least one letter (a-z)".into());
    }
    if name.contains("--") {
        errs.push("must not contain consecutive hyphens (--)".into());
    }
    if name.starts_with('-') || name.ends_with('-') {
        errs.push("must not begin or end with a hyphen (-)".into());
    }
    errs
}

fn is_valid_cidr(s: &str) -> bool {
    let Some((ip, bits)) = s.split_once('/') else {
        return false;
    };
    if bits.is_empty() || !bits.bytes().all(|b| b.is_ascii_digit()) || bits.len() > 3 {
        return false;
    }
    let bits: u32 = bits.parse().unwrap_or(u32::MAX);
    match parse_ip_sloppy(ip) {
        Some(_) if ip.contains(':') => bits <= 128,
        Some(_) => bits <= 32,
        None => false,
    }
}

fn qualified_name(field: &str, value: &str, errs: &mut Vec<FieldError>) {
    for msg in validation::is_qualified_name(value) {
        errs.push(FieldError::invalid(field, value, msg));
    }
}

fn labels(field: &str, map: &BTreeMap<String, String>, errs: &mut Vec<FieldError>) {
    for (k, v) in map {
        qualified_name(field, k, errs);
        for msg in validation::is_valid_label_value(v) {
            errs.push(FieldError::invalid(field, v.as_str(), msg));
        }
    }
}

fn validate_port(
    port: &ServicePort,
    require_name: bool,
    names: &mut HashSet<String>,
    path: &str,
    errs: &mut Vec<FieldError>,
) {
    match port.name.as_deref() {
        None if require_name => errs.push(FieldError::required(format!("{path}.name"), "")),
        None => {}
        Some(name) => {
            for msg in validation::is_dns1123_label(name) {
                errs.push(FieldError::invalid(format!("{path}.name"), name, msg));
            }
            if !names.insert(name.to_owned()) {
                errs.push(FieldError::duplicate(format!("{path}.name"), name));
            }
        }
    }
    if !is_valid_port_num(i64::from(port.port)) {
        errs.push(FieldError::invalid(
            format!("{path}.port"),
            port.port,
            PORT_RANGE_ERROR,
        ));
    }
    match port.protocol.as_deref() {
        None => errs.push(FieldError::required(format!("{path}.protocol"), "")),
        Some("TCP" | "UDP" | "SCTP") => {}
        Some(p) => errs.push(FieldError::not_supported(
            format!("{path}.protocol"),
            p,
            &["SCTP", "TCP", "UDP"],
        )),
    }
    match &port.target_port {
        Some(IntOrString::String(s)) => {
            for msg in port_name_errors(s) {
                errs.push(FieldError::invalid(
                    format!("{path}.targetPort"),
                    s.as_str(),
                    msg,
                ));
            }
        }
        Some(IntOrString::Int(n)) if is_valid_port_num(i64::from(*n)) => {}
        other => {
            let n = match other {
                Some(IntOrString::Int(n)) => *n,
                _ => 0,
            };
            errs.push(FieldError::invalid(
                format!("{path}.targetPort"),
                n,
                PORT_RANGE_ERROR,
            ));
        }
    }
    if let Some(app) = port.app_protocol.as_deref() {
        qualified_name(&format!("{path}.appProtocol"), app, errs);
    }
}

fn validate_client_ip_config(spec: &ServiceSpec, errs: &mut Vec<FieldError>) {
    let path = "spec.sessionAffinityConfig";
    let why = "when session affinity type is ClientIP";
    let Some(config) = &spec.session_affinity_config else {
        errs.push(FieldError::required(path, why));
        return;
    };
    let Some(client_ip) = &config.client_ip else {
        errs.push(FieldError::required(format!("{path}.clientIP"), why));
        return;
    };
    let Some(timeout) = client_ip.timeout_seconds else {
        errs.push(FieldError::required(
            format!("{path}.clientIP.timeoutSeconds"),
            why,
        ));
        return;
    };
    if timeout <= 0 || timeout > MAX_CLIENT_IP_TIMEOUT_SECONDS {
        errs.push(FieldError::invalid(
            format!("{path}.clientIP.timeoutSeconds"),
            timeout,
            format!("must be greater than 0 and less than {MAX_CLIENT_IP_TIMEOUT_SECONDS}"),
        ));
    }
}

fn validate_non_special_ip(field: &str, value: &str, errs: &mut Vec<FieldError>) {
    let Some(ip) = parse_ip_sloppy(value) else {
        errs.push(FieldError::invalid(
            field,
            value,
            "must be a valid IP address",
        ));
        return;
    };
    let (unspecified, loopback, link_local, link_local_multicast) = match ip {
        IpAddr::V4(v4) => (
            v4.is_unspecified(),
            v4.is_loopback(),
            v4.is_link_local(),
            v4.octets()[..3] == [224, 0, 0],
        ),
        IpAddr::V6(v6) => (
            v6.is_unspecified(),
            v6.is_loopback(),
            v6.segments()[0] & 0xffc0 == 0xfe80,
            v6.segments()[0] & 0xff0f == 0xff02,
        ),
    };
    if unspecified {
        errs.push(FieldError::invalid(
            field,
            value,
            format!("may not be unspecified ({value})"),
        ));
    }
    if loopback {
        errs.push(FieldError::invalid(
            field,
            value,
            "may not be in the loopback range (127.0.0.0/8, ::1/128)",
        ));
    }
    if link_local {
        errs.push(FieldError::invalid(
            field,
            value,
            "may not be in the link-local range (169.254.0.0/16, fe80::/10)",
        ));
    }
    if link_local_multicast {
        errs.push(FieldError::invalid(
            field,
            value,
            "may not be in the link-local multicast range (224.0.0.0/24, ff02::/10)",
        ));
    }
}

fn validate_load_balancer_class(
    old: Option<&ServiceSpec>,
    spec: &ServiceSpec,
    errs: &mut Vec<FieldError>,
) {
    let is_lb = |s: &ServiceSpec| svc_type(s) == LOAD_BALANCER;
    if let Some(old) = old
        && is_lb(old)
        && is_lb(spec)
        && old.load_balancer_class != spec.load_balancer_class
    {
        errs.push(FieldError::invalid(
            "spec.loadBalancerClass",
            optional(spec.load_balancer_class.as_deref()),
            "may not change once set",
        ));
    }
    match spec.load_balancer_class.as_deref() {
        Some(class) if is_lb(spec) => qualified_name("spec.loadBalancerClass", class, errs),
        Some(_) => errs.push(FieldError::forbidden(
            "spec.loadBalancerClass",
            ONLY_LOAD_BALANCER,
        )),
        None => {}
    }
}

fn validate_traffic_policies(spec: &ServiceSpec, errs: &mut Vec<FieldError>) {
    let etp = spec.external_traffic_policy.as_deref();
    if !externally_accessible(spec) {
        if let Some(p) = etp {
            errs.push(FieldError::invalid(
                "spec.externalTrafficPolicy",
                p,
                "may only be set for externally-accessible services",
            ));
        }
    } else {
        match etp {
            None => errs.push(FieldError::required("spec.externalTrafficPolicy", "")),
            Some("Cluster" | "Local") => {}
            Some(p) => errs.push(FieldError::not_supported(
                "spec.externalTrafficPolicy",
                p,
                &["Cluster", "Local"],
            )),
        }
    }
    let hc = spec.health_check_node_port.unwrap_or(0);
    if !needs_health_check(spec) {
        if hc != 0 {
            errs.push(FieldError::invalid(
                "spec.healthCheckNodePort",
                hc,
                "may only be set when `type` is 'LoadBalancer' and `externalTrafficPolicy` is 'Local'",
            ));
        }
    } else if hc == 0 {
        errs.push(FieldError::required("spec.healthCheckNodePort", ""));
    } else if !is_valid_port_num(i64::from(hc)) {
        errs.push(FieldError::invalid(
            "spec.healthCheckNodePort",
            hc,
            PORT_RANGE_ERROR,
        ));
    }
    match spec.internal_traffic_policy.as_deref() {
        None if matches!(svc_type(spec), NODE_PORT | LOAD_BALANCER | CLUSTER_IP) => {
            errs.push(FieldError::required("spec.internalTrafficPolicy", ""));
        }
        None | Some("Cluster" | "Local") => {}
        Some(p) => errs.push(FieldError::not_supported(
            "spec.internalTrafficPolicy",
            p,
            &["Cluster", "Local"],
        )),
    }
    if let Some(t) = spec.traffic_distribution.as_deref()
        && t != "PreferClose"
    {
        errs.push(FieldError::not_supported(
            "spec.trafficDistribution",
            t,
            &["PreferClose"],
        ));
    }
}

/// Upstream's `ValidateServiceClusterIPsRelatedFields`: `clusterIP`/`clusterIPs` agree, the
/// addresses parse, and families and policy are known values that fit the addresses.
pub fn validate_cluster_ips_related(spec: &ServiceSpec) -> Vec<FieldError> {
    let mut errs = Vec::new();
    if svc_type(spec) == EXTERNAL_NAME {
        return errs;
    }
    let ips = cluster_ips(spec);
    let raw_ips = go_slice("string", spec.cluster_ips.as_deref());
    let field = "spec.clusterIPs";
    match spec.cluster_ip.as_deref() {
        Some(ip) => {
            if ips.is_empty() {
                errs.push(FieldError::required(field, ""));
            } else if ips[0] != ip {
                errs.push(invalid_raw(
                    field,
                    &raw_ips,
                    "first value must match `clusterIP`",
                ));
            }
        }
        None => {
            if !ips.is_empty() {
                errs.push(invalid_raw(
                    field,
                    &raw_ips,
                    "must be empty when `clusterIP` is not specified",
                ));
            }
        }
    }
    let mut seen = HashSet::new();
    for (i, family) in ip_families(spec).iter().enumerate() {
        let path = format!("spec.ipFamilies[{i}]");
        if !matches!(family.as_str(), "IPv4" | "IPv6") {
            errs.push(FieldError::not_supported(
                path.clone(),
                family.as_str(),
                &["IPv4", "IPv6"],
            ));
        }
        if !seen.insert(family.as_str()) {
            errs.push(FieldError::duplicate(path, family.as_str()));
        }
    }
    if let Some(policy) = spec.ip_family_policy.as_deref()
        && !matches!(
            policy,
            "SingleStack" | "PreferDualStack" | "RequireDualStack"
        )
    {
        errs.push(FieldError::not_supported(
            "spec.ipFamilyPolicy",
            policy,
            &["PreferDualStack", "RequireDualStack", "SingleStack"],
        ));
    }
    let mut has_invalid = false;
    for (i, ip) in ips.iter().enumerate() {
        if i == 0 && ip == "None" {
            if ips.len() > 1 {
                has_invalid = true;
                errs.push(invalid_raw(
                    field,
                    &raw_ips,
                    "'None' must be the first and only value",
                ));
            }
            continue;
        }
        if parse_ip_sloppy(ip).is_none() {
            has_invalid = true;
            errs.push(FieldError::invalid(
                format!("{field}[{i}]"),
                ip.as_str(),
                VALID_IP_ERROR,
            ));
        }
    }
    if ips.len() > 2 {
        errs.push(invalid_raw(field, &raw_ips, "may only hold up to 2 values"));
    }
    if has_invalid {
        return errs;
    }
    if ips.len() > 1 {
        let v6 = ips
            .iter()
            .filter(|ip| matches!(parse_ip_sloppy(ip), Some(IpAddr::V6(_))))
            .count();
        if v6 == 0 || v6 == ips.len() {
            errs.push(invalid_raw(
                field,
                &raw_ips,
                "may specify no more than one IP for each IP family",
            ));
        }
    }
    let families = ip_families(spec);
    if !is_headless(spec) && !ips.is_empty() && !families.is_empty() {
        for (i, ip) in ips.iter().enumerate().take(families.len()) {
            let is_v6 = matches!(parse_ip_sloppy(ip), Some(IpAddr::V6(_)));
            let want = match (families[i].as_str(), is_v6) {
                ("IPv4", true) => "IPv4",
                ("IPv6", false) => "IPv6",
                _ => continue,
            };
            errs.push(FieldError::invalid(
                format!("{field}[{i}]"),
                ip.as_str(),
                format!("expected an {want} value as indicated by `ipFamilies[{i}]`"),
            ));
        }
    }
    errs
}

/// Upstream's `ValidateService` for the spec (metadata is checked by the generic handlers).
pub fn validate_service(spec: &ServiceSpec) -> Vec<FieldError> {
    let mut errs = Vec::new();
    let ty = svc_type(spec);
    let all_ports = ports(spec);
    if all_ports.is_empty() && !is_headless(spec) && ty != EXTERNAL_NAME {
        errs.push(FieldError::required("spec.ports", ""));
    }
    match ty {
        LOAD_BALANCER | NODE_PORT if is_headless(spec) => {
            errs.push(FieldError::invalid(
                "spec.clusterIPs[0]",
                "None",
                format!("may not be set to 'None' for {ty} services"),
            ));
        }
        EXTERNAL_NAME => {
            let why = "may not be set for ExternalName services";
            if !cluster_ips(spec).is_empty() {
                errs.push(FieldError::forbidden("spec.clusterIPs", why));
            }
            if !ip_families(spec).is_empty() {
                errs.push(FieldError::forbidden("spec.ipFamilies", why));
            }
            if spec.ip_family_policy.is_some() {
                errs.push(FieldError::forbidden("spec.ipFamilyPolicy", why));
            }
            let name = spec.external_name.as_deref().unwrap_or_default();
            let cname = name.strip_suffix('.').unwrap_or(name);
            if cname.is_empty() {
                errs.push(FieldError::required("spec.externalName", ""));
            } else {
                for msg in validation::is_dns1123_subdomain(cname) {
                    errs.push(FieldError::invalid("spec.externalName", cname, msg));
                }
            }
        }
        _ => {}
    }
    let mut names = HashSet::new();
    for (i, port) in all_ports.iter().enumerate() {
        validate_port(
            port,
            all_ports.len() > 1,
            &mut names,
            &format!("spec.ports[{i}]"),
            &mut errs,
        );
    }
    if let Some(selector) = &spec.selector {
        labels("spec.selector", selector, &mut errs);
    }
    match spec.session_affinity.as_deref() {
        None => errs.push(FieldError::required("spec.sessionAffinity", "")),
        Some("ClientIP") => validate_client_ip_config(spec, &mut errs),
        Some("None") => {
            if spec.session_affinity_config.is_some() {
                errs.push(FieldError::forbidden(
                    "spec.sessionAffinityConfig",
                    "must not be set when session affinity is None",
                ));
            }
        }
        Some(other) => errs.push(FieldError::not_supported(
            "spec.sessionAffinity",
            other,
            &["ClientIP", "None"],
        )),
    }
    errs.extend(validate_cluster_ips_related(spec));
    for (i, ip) in spec.external_ips.iter().flatten().enumerate() {
        let field = format!("spec.externalIPs[{i}]");
        if parse_ip_sloppy(ip).is_none() {
            errs.push(FieldError::invalid(field, ip.as_str(), VALID_IP_ERROR));
        } else {
            validate_non_special_ip(&field, ip, &mut errs);
        }
    }
    match spec.type_.as_deref() {
        None => errs.push(FieldError::required("spec.type", "")),
        Some(CLUSTER_IP | NODE_PORT | LOAD_BALANCER | EXTERNAL_NAME) => {}
        Some(other) => errs.push(FieldError::not_supported(
            "spec.type",
            other,
            &[CLUSTER_IP, EXTERNAL_NAME, LOAD_BALANCER, NODE_PORT],
        )),
    }
    if ty == CLUSTER_IP {
        for (i, port) in all_ports.iter().enumerate() {
            if port.node_port.unwrap_or(0) != 0 {
                errs.push(FieldError::forbidden(
                    format!("spec.ports[{i}].nodePort"),
                    "may not be used when `type` is 'ClusterIP'",
                ));
            }
        }
    }
    let mut node_ports = HashSet::new();
    for (i, port) in all_ports.iter().enumerate() {
        let np = port.node_port.unwrap_or(0);
        if np == 0 {
            continue;
        }
        if !node_ports.insert((port.protocol.clone(), np)) {
            errs.push(FieldError::duplicate(
                format!("spec.ports[{i}].nodePort"),
                np,
            ));
        }
    }
    let mut keys = HashSet::new();
    for (i, port) in all_ports.iter().enumerate() {
        let protocol = port.protocol.clone().unwrap_or_default();
        if !keys.insert((protocol.clone(), port.port)) {
            errs.push(duplicate_raw(
                format!("spec.ports[{i}]"),
                port_key(&protocol, port.port),
            ));
        }
    }
    if let Some(ranges) = spec.load_balancer_source_ranges.as_deref() {
        let field = "spec.LoadBalancerSourceRanges";
        if ty != LOAD_BALANCER {
            errs.push(FieldError::forbidden(field, ONLY_LOAD_BALANCER));
        }
        for (i, range) in ranges.iter().enumerate() {
            let range = range.trim();
            if !is_valid_cidr(range) {
                errs.push(FieldError::invalid(
                    format!("{field}[{i}]"),
                    range,
                    VALID_CIDR_ERROR,
                ));
            }
        }
    }
    if spec.allocate_load_balancer_node_ports.is_some() && ty != LOAD_BALANCER {
        errs.push(FieldError::forbidden(
            "spec.allocateLoadBalancerNodePorts",
            ONLY_LOAD_BALANCER,
        ));
    }
    if ty == LOAD_BALANCER && spec.allocate_load_balancer_node_ports.is_none() {
        errs.push(FieldError::required("allocateLoadBalancerNodePorts", ""));
    }
    validate_load_balancer_class(None, spec, &mut errs);
    validate_traffic_policies(spec, &mut errs);
    errs
}

fn upgrade_downgrade_cluster_ips(old: &ServiceSpec, spec: &ServiceSpec) -> Vec<FieldError> {
    let mut errs = Vec::new();
    if svc_type(spec) == EXTERNAL_NAME || svc_type(old) == EXTERNAL_NAME {
        return errs;
    }
    if is_headless(old) && is_headless(spec) {
        return errs;
    }
    let (old_ips, new_ips) = (cluster_ips(old), cluster_ips(spec));
    let raw = go_slice("string", spec.cluster_ips.as_deref());
    let changed = || invalid_raw("spec.clusterIPs[0]", &raw, "may not change once set");
    if old_ips.len() == new_ips.len() {
        for (i, ip) in old_ips.iter().enumerate() {
            if *ip != new_ips[i] {
                errs.push(invalid_raw(
                    format!("spec.clusterIPs[{i}]"),
                    &raw,
                    "may not change once set",
                ));
            }
        }
    } else if old_ips.len() > new_ips.len() {
        if new_ips.is_empty() {
            errs.push(invalid_raw(
                "spec.clusterIPs[0]",
                &raw,
                "primary clusterIP can not be unset",
            ));
        }
        if !old_ips.is_empty() && !new_ips.is_empty() && new_ips[0] != old_ips[0] {
            errs.push(changed());
        }
        if new_ips.len() == 1 && spec.ip_family_policy.as_deref() != Some("SingleStack") {
            errs.push(FieldError::invalid(
                "spec.ipFamilyPolicy",
                optional(spec.ip_family_policy.as_deref()),
                "must be set to 'SingleStack' when releasing the secondary clusterIP",
            ));
        }
    } else if !old_ips.is_empty() && new_ips[0] != old_ips[0] {
        errs.push(changed());
    }
    errs
}

fn upgrade_downgrade_ip_families(old: &ServiceSpec, spec: &ServiceSpec) -> Vec<FieldError> {
    let mut errs = Vec::new();
    if svc_type(spec) == EXTERNAL_NAME || svc_type(old) == EXTERNAL_NAME {
        return errs;
    }
    if is_headless(old) || is_headless(spec) {
        return errs;
    }
    let (old_fams, new_fams) = (ip_families(old), ip_families(spec));
    let raw_fams = go_slice("core.IPFamily", spec.ip_families.as_deref());
    // Upstream shows the cluster IPs in two of these messages.
    let raw_ips = go_slice("string", spec.cluster_ips.as_deref());
    let field = "spec.ipFamilies[0]";
    if old_fams.len() == new_fams.len() {
        for (i, f) in old_fams.iter().enumerate() {
            if *f != new_fams[i] {
                errs.push(invalid_raw(field, &raw_fams, "may not change once set"));
            }
        }
    } else if old_fams.len() > new_fams.len() {
        if cluster_ips(spec).is_empty() {
            errs.push(invalid_raw(
                field,
                &raw_fams,
                "primary ipFamily can not be unset",
            ));
        }
        if !new_fams.is_empty() && new_fams[0] != old_fams[0] {
            errs.push(invalid_raw(field, &raw_ips, "may not change once set"));
        }
        if new_fams.len() == 1 && spec.ip_family_policy.as_deref() != Some("SingleStack") {
            errs.push(FieldError::invalid(
                "spec.ipFamilyPolicy",
                optional(spec.ip_family_policy.as_deref()),
                "must be set to 'SingleStack' when releasing the secondary ipFamily",
            ));
        }
    } else if !old_fams.is_empty() && !new_fams.is_empty() && new_fams[0] != old_fams[0] {
        errs.push(invalid_raw(field, &raw_ips, "may not change once set"));
    }
    errs
}

/// Upstream's `ValidateServiceUpdate` for the spec: cluster IPs and families may only be
/// added or (to single-stack) removed, never changed; then everything [`validate_service`]
/// checks.
pub fn validate_service_update(spec: &ServiceSpec, old: &ServiceSpec) -> Vec<FieldError> {
    let mut errs = upgrade_downgrade_cluster_ips(old, spec);
    errs.extend(upgrade_downgrade_ip_families(old, spec));
    validate_load_balancer_class(Some(old), spec, &mut errs);
    if needs_health_check(old)
        && needs_health_check(spec)
        && old.health_check_node_port != spec.health_check_node_port
    {
        errs.push(FieldError::forbidden(
            "spec.healthCheckNodePort",
            "field is immutable",
        ));
    }
    errs.extend(validate_service(spec));
    errs
}

#[cfg(test)]
mod tests {
    use super::super::defaults::{normalize, set_defaults};
    use super::*;
    use serde_json::json;

    fn spec(v: serde_json::Value) -> ServiceSpec {
        let mut s: ServiceSpec = serde_json::from_value(v).unwrap();
        normalize(&mut s);
        set_defaults(&mut s);
        s
    }

    fn messages(errs: &[FieldError]) -> Vec<String> {
        errs.iter().map(ToString::to_string).collect()
    }

    #[test]
    fn a_defaulted_service_is_valid() {
        let s = spec(json!({
            "clusterIP": "10.43.0.10", "clusterIPs": ["10.43.0.10"],
            "ipFamilies": ["IPv4"], "ipFamilyPolicy": "SingleStack",
            "selector": {"app": "web"},
            "ports": [{"name": "http", "port": 80}, {"name": "https", "port": 443, "targetPort": "https"}],
        }));
        assert_eq!(messages(&validate_service(&s)), Vec::<String>::new());
    }

    #[test]
    fn ports_are_required_unless_headless_or_external_name() {
        let s = spec(json!({}));
        assert_eq!(
            messages(&validate_service(&s)),
            ["spec.ports: Required value"]
        );
        let headless = spec(json!({"clusterIP": "None", "clusterIPs": ["None"]}));
        assert!(validate_service(&headless).is_empty());
        let ext = spec(json!({"type": "ExternalName", "externalName": "db.example.com."}));
        assert!(validate_service(&ext).is_empty());
        let no_name = spec(json!({"type": "ExternalName"}));
        assert_eq!(
            messages(&validate_service(&no_name)),
            ["spec.externalName: Required value"]
        );
        let bad_name = spec(json!({"type": "ExternalName", "externalName": "Bad_Name"}));
        assert_eq!(
            messages(&validate_service(&bad_name)),
            [
                "spec.externalName: Invalid value: \"Bad_Name\": a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character (e.g. 'example.com', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')"
            ]
        );
    }

    #[test]
    fn port_fields_are_checked() {
        let s = spec(json!({"ports": [
            {"port": 0, "protocol": "ICMP", "targetPort": 70000},
            {"name": "b", "port": 80, "targetPort": "http--x"},
            {"name": "b", "port": 81},
        ]}));
        assert_eq!(
            messages(&validate_service(&s)),
            [
                "spec.ports[0].name: Required value",
                "spec.ports[0].port: Invalid value: 0: must be between 1 and 65535, inclusive",
                "spec.ports[0].protocol: Unsupported value: \"ICMP\": supported values: \"SCTP\", \"TCP\", \"UDP\"",
                "spec.ports[0].targetPort: Invalid value: 70000: must be between 1 and 65535, inclusive",
                "spec.ports[1].targetPort: Invalid value: \"http--x\": must not contain consecutive hyphens (--)",
                "spec.ports[2].name: Duplicate value: \"b\"",
            ]
        );
    }

    #[test]
    fn a_second_port_needs_a_name() {
        let s = spec(json!({"ports": [{"name": "a", "port": 80}, {"port": 81}]}));
        assert_eq!(
            messages(&validate_service(&s)),
            ["spec.ports[1].name: Required value"]
        );
    }

    #[test]
    fn duplicate_ports_print_like_upstream() {
        let s = spec(json!({"ports": [{"name": "a", "port": 80}, {"name": "b", "port": 80}]}));
        assert_eq!(
            messages(&validate_service(&s)),
            [
                "spec.ports[1]: Duplicate value: core.ServicePort{Name:\"\", Protocol:\"TCP\", AppProtocol:(*string)(nil), Port:80, TargetPort:intstr.IntOrString{Type:0, IntVal:0, StrVal:\"\"}, NodePort:0}"
            ]
        );
        // Same number, other protocol: fine.
        let dns = spec(json!({"ports": [
            {"name": "dns", "port": 53, "protocol": "UDP"},
            {"name": "dns-tcp", "port": 53},
        ]}));
        assert!(validate_service(&dns).is_empty());
        let np = spec(json!({"type": "NodePort", "ports": [
            {"name": "a", "port": 80, "nodePort": 30080},
            {"name": "b", "port": 81, "nodePort": 30080},
        ]}));
        assert_eq!(
            messages(&validate_service(&np)),
            ["spec.ports[1].nodePort: Duplicate value: 30080"]
        );
    }

    #[test]
    fn type_selector_and_affinity_are_checked() {
        let s = spec(json!({
            "type": "Magic",
            "selector": {"app": "bad value"},
            "sessionAffinity": "Sticky",
            "ports": [{"port": 80}],
        }));
        assert_eq!(
            messages(&validate_service(&s)),
            [
                "spec.selector: Invalid value: \"bad value\": a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyValue',  or 'my_value',  or '12345', regex used for validation is '(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?')",
                "spec.sessionAffinity: Unsupported value: \"Sticky\": supported values: \"ClientIP\", \"None\"",
                "spec.type: Unsupported value: \"Magic\": supported values: \"ClusterIP\", \"ExternalName\", \"LoadBalancer\", \"NodePort\"",
            ]
        );
        let timeout = spec(json!({
            "sessionAffinity": "ClientIP",
            "sessionAffinityConfig": {"clientIP": {"timeoutSeconds": 0}},
            "ports": [{"port": 80}],
        }));
        assert_eq!(
            messages(&validate_service(&timeout)),
            [
                "spec.sessionAffinityConfig.clientIP.timeoutSeconds: Invalid value: 0: must be greater than 0 and less than 86400"
            ]
        );
    }

    #[test]
    fn node_ports_and_type_dependent_fields() {
        let s = spec(
            json!({"ports": [{"port": 80, "nodePort": 30080}], "externalTrafficPolicy": "Local"}),
        );
        assert_eq!(
            messages(&validate_service(&s)),
            [
                "spec.ports[0].nodePort: Forbidden: may not be used when `type` is 'ClusterIP'",
                "spec.externalTrafficPolicy: Invalid value: \"Local\": may only be set for externally-accessible services",
            ]
        );
        let headless_np = spec(
            json!({"type": "NodePort", "clusterIP": "None", "clusterIPs": ["None"], "ports": [{"port": 80}]}),
        );
        assert_eq!(
            messages(&validate_service(&headless_np)),
            [
                "spec.clusterIPs[0]: Invalid value: \"None\": may not be set to 'None' for NodePort services"
            ]
        );
        let lb_local = spec(
            json!({"type": "LoadBalancer", "externalTrafficPolicy": "Local", "ports": [{"port": 80}]}),
        );
        assert_eq!(
            messages(&validate_service(&lb_local)),
            ["spec.healthCheckNodePort: Required value"]
        );
    }

    #[test]
    fn cluster_ips_must_agree() {
        let s = spec(
            json!({"clusterIP": "10.43.0.5", "clusterIPs": ["10.43.0.6"], "ports": [{"port": 80}]}),
        );
        assert_eq!(
            messages(&validate_service(&s)),
            [
                "spec.clusterIPs: Invalid value: []string{\"10.43.0.6\"}: first value must match `clusterIP`"
            ]
        );
        let bad =
            spec(json!({"clusterIP": "nope", "clusterIPs": ["nope"], "ports": [{"port": 80}]}));
        assert_eq!(
            messages(&validate_service(&bad)),
            [
                "spec.clusterIPs[0]: Invalid value: \"nope\": must be a valid IP address, (e.g. 10.9.8.7 or 2001:db8::ffff)"
            ]
        );
        let two_v4 = spec(json!({
            "clusterIP": "10.43.0.5", "clusterIPs": ["10.43.0.5", "10.43.0.6"],
            "ipFamilyPolicy": "PreferDualStack", "ports": [{"port": 80}],
        }));
        assert_eq!(
            messages(&validate_service(&two_v4)),
            [
                "spec.clusterIPs: Invalid value: []string{\"10.43.0.5\", \"10.43.0.6\"}: may specify no more than one IP for each IP family"
            ]
        );
        let family = spec(json!({
            "clusterIP": "10.43.0.5", "clusterIPs": ["10.43.0.5"], "ipFamilies": ["IPv6"],
            "ports": [{"port": 80}],
        }));
        assert_eq!(
            messages(&validate_service(&family)),
            [
                "spec.clusterIPs[0]: Invalid value: \"10.43.0.5\": expected an IPv6 value as indicated by `ipFamilies[0]`"
            ]
        );
    }

    #[test]
    fn cluster_ips_are_immutable() {
        let old = spec(
            json!({"clusterIP": "10.43.0.5", "clusterIPs": ["10.43.0.5"], "ipFamilies": ["IPv4"], "ipFamilyPolicy": "SingleStack", "ports": [{"port": 80}]}),
        );
        let mut new = old.clone();
        new.cluster_ip = Some("10.43.0.6".into());
        new.cluster_ips = Some(vec!["10.43.0.6".into()]);
        assert_eq!(
            messages(&validate_service_update(&new, &old)),
            ["spec.clusterIPs[0]: Invalid value: []string{\"10.43.0.6\"}: may not change once set"]
        );
        let mut unset = old.clone();
        unset.cluster_ip = None;
        unset.cluster_ips = None;
        assert_eq!(
            messages(&validate_service_update(&unset, &old)),
            [
                "spec.clusterIPs[0]: Invalid value: []string(nil): primary clusterIP can not be unset"
            ]
        );
        assert!(validate_service_update(&old, &old).is_empty());
    }

    #[test]
    fn go_formatting() {
        assert_eq!(go_quote("a\"b\\c\n\u{1}"), "\"a\\\"b\\\\c\\n\\x01\"");
        assert_eq!(go_slice("string", None), "[]string(nil)");
        assert_eq!(
            go_slice("string", Some(&["a".into(), "b".into()])),
            "[]string{\"a\", \"b\"}"
        );
        assert_eq!(port_name_errors("http"), Vec::<String>::new());
        assert_eq!(
            port_name_errors("8080"),
            ["must contain at least one letter (a-z)"]
        );
        assert!(is_valid_cidr("10.0.0.0/8") && is_valid_cidr("2001:db8::/64"));
        assert!(!is_valid_cidr("10.0.0.0") && !is_valid_cidr("10.0.0.0/33"));
    }
}
