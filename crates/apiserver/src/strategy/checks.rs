//! Validators the strategies of the smaller kinds share, with upstream's messages: path
//! segment names, IP addresses and CIDRs in their legacy (sloppy) forms, resource names and
//! quantities (`ValidateResourceQuantityValue`, the standard resource name sets), integers
//! or percentages, node selectors, wildcard and fully qualified domain names, and the Go
//! `%#v` renderings some messages carry.

use super::common::{get, invalid_go, label_name, list_of, nonnegative, str_of};
use super::pod::defaults::check_resource_list;
use super::quantity::{self, Quantity};
use super::service::alloc::parse_ip_sloppy;
use super::service::validation::go_quote;
use serde_json::Value;
use skiff_core::registry::ResourceInfo;
use skiff_core::status::{ApiError, BadValue, FieldError, FieldErrorType};
use skiff_core::validation::{self, regex_error};
use std::net::IpAddr;

/// Upstream's message for an invalid IP address in a legacy field.
pub const IP_MSG: &str = "must be a valid IP address, (e.g. 10.9.8.7 or 2001:db8::ffff)";
/// Upstream's message for an invalid CIDR in a legacy field.
pub const CIDR_MSG: &str = "must be a valid CIDR value, (e.g. 10.9.8.0/24 or 2001:db8::/64)";
/// Upstream's `isNotIntegerErrorMsg`.
pub const NOT_INTEGER: &str = "must be an integer";
/// Upstream's `isNotPositiveErrorMsg`.
pub const NOT_POSITIVE: &str = "must be greater than zero";

/// Upstream's `path.IsValidPathSegmentName` (the names of RBAC objects, role references,
/// scale targets and metric names).
pub fn path_segment_errors(name: &str) -> Vec<String> {
    for bad in [".", ".."] {
        if name == bad {
            return vec![format!("may not be '{bad}'")];
        }
    }
    ["/", "%"]
        .iter()
        .filter(|bad| name.contains(**bad))
        .map(|bad| format!("may not contain '{bad}'"))
        .collect()
}

/// Upstream's `ValidateQualifiedName` on a field.
pub fn qualified_name(field: &str, value: &str, errs: &mut Vec<FieldError>) {
    for msg in validation::is_qualified_name(value) {
        errs.push(FieldError::invalid(field, value, msg));
    }
}

/// Upstream's `IsValidIPForLegacyField` (leading zeros allowed, as with the strict gate off).
pub fn legacy_ip(field: &str, value: &str, errs: &mut Vec<FieldError>) -> Option<IpAddr> {
    let ip = parse_ip_sloppy(value);
    if ip.is_none() {
        errs.push(FieldError::invalid(field, value, IP_MSG));
    }
    ip
}

/// Upstream's `ValidateEndpointIP`: no unspecified, loopback or link-local addresses.
pub fn endpoint_ip(field: &str, value: &str, errs: &mut Vec<FieldError>) {
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
    let mut bad = |cond: bool, msg: String| {
        if cond {
            errs.push(FieldError::invalid(field, value, msg));
        }
    };
    bad(unspecified, format!("may not be unspecified ({value})"));
    bad(
        loopback,
        "may not be in the loopback range (127.0.0.0/8, ::1/128)".into(),
    );
    bad(
        link_local,
        "may not be in the link-local range (169.254.0.0/16, fe80::/10)".into(),
    );
    bad(
        link_local_multicast,
        "may not be in the link-local multicast range (224.0.0.0/24, ff02::/10)".into(),
    );
}

/// A CIDR as upstream's `ParseCIDRSloppy` reads it: the network address (host bits cleared)
/// and the prefix length.
pub fn parse_cidr(s: &str) -> Option<(IpAddr, u8)> {
    let (ip, bits) = s.split_once('/')?;
    if bits.is_empty() || bits.len() > 3 || !bits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let bits: u8 = bits.parse().ok()?;
    // An IPv4-mapped address written in IPv6 form is still an IPv6 CIDR.
    match (parse_ip_sloppy(ip)?, ip.contains(':')) {
        (IpAddr::V4(v4), false) if bits <= 32 => {
            let mask = if bits == 0 {
                0
            } else {
                u32::MAX << (32 - bits)
            };
            Some((IpAddr::V4((u32::from(v4) & mask).into()), bits))
        }
        (_, true) if bits <= 128 => {
            let v6: std::net::Ipv6Addr = ip.parse().ok()?;
            let mask = if bits == 0 {
                0
            } else {
                u128::MAX << (128 - u32::from(bits))
            };
            Some((IpAddr::V6((u128::from(v6) & mask).into()), bits))
        }
        _ => None,
    }
}

/// Upstream's `IsValidCIDRForLegacyField`.
pub fn legacy_cidr(field: &str, value: &str, errs: &mut Vec<FieldError>) -> Option<(IpAddr, u8)> {
    let cidr = parse_cidr(value);
    if cidr.is_none() {
        errs.push(FieldError::invalid(field, value, CIDR_MSG));
    }
    cidr
}

/// Whether `inner` lies within `outer` and is strictly smaller.
pub fn strict_subnet(outer: (IpAddr, u8), inner: (IpAddr, u8)) -> bool {
    let within = match (outer.0, inner.0) {
        (IpAddr::V4(o), IpAddr::V4(i)) => {
            let mask = if outer.1 == 0 {
                0
            } else {
                u32::MAX << (32 - outer.1)
            };
            u32::from(i) & mask == u32::from(o)
        }
        (IpAddr::V6(o), IpAddr::V6(i)) => {
            let mask = if outer.1 == 0 {
                0
            } else {
                u128::MAX << (128 - u32::from(outer.1))
            };
            u128::from(i) & mask == u128::from(o)
        }
        _ => false,
    };
    within && outer.1 < inner.1
}

/// Upstream's `IsWildcardDNS1123Subdomain`.
pub fn wildcard_dns1123_subdomain_errors(value: &str) -> Vec<String> {
    let mut errs = Vec::new();
    if value.len() > validation::DNS1123_SUBDOMAIN_MAX_LENGTH {
        errs.push(validation::max_len_error(
            validation::DNS1123_SUBDOMAIN_MAX_LENGTH,
        ));
    }
    let ok = value
        .strip_prefix("*.")
        .is_some_and(|rest| validation::is_dns1123_subdomain(rest).is_empty());
    if !ok {
        errs.push(regex_error(
            "a wildcard DNS-1123 subdomain must start with '*.', followed by a valid DNS subdomain, which must consist of lower case alphanumeric characters, '-' or '.' and end with an alphanumeric character",
            "\\*\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*",
            &["*.example.com"],
        ));
    }
    errs
}

/// Upstream's `IsFullyQualifiedDomainName`.
pub fn fully_qualified_domain_name(field: &str, value: &str, errs: &mut Vec<FieldError>) {
    if value.is_empty() {
        errs.push(FieldError::required(field, ""));
        return;
    }
    let name = value.strip_suffix('.').unwrap_or(value);
    let msgs = validation::is_dns1123_subdomain(name);
    if !msgs.is_empty() {
        for msg in msgs {
            errs.push(FieldError::invalid(field, name, msg));
        }
        return;
    }
    if name.split('.').count() < 2 {
        errs.push(FieldError::invalid(
            field,
            name,
            "should be a domain with at least two segments separated by dots",
        ));
        return;
    }
    for label in name.split('.') {
        for msg in validation::is_dns1123_label(label) {
            errs.push(FieldError::invalid(field, label, msg));
        }
    }
}

/// Upstream's `IsNativeResource`: no domain, or a `kubernetes.io` one.
pub fn is_native_resource(name: &str) -> bool {
    !name.contains('/') || name.contains("kubernetes.io/")
}

/// Upstream's `IsHugePageResourceName`.
pub fn is_huge_pages(name: &str) -> bool {
    name.starts_with("hugepages-")
}

/// Upstream's `IsOvercommitAllowed`.
pub fn overcommit_allowed(name: &str) -> bool {
    is_native_resource(name) && !is_huge_pages(name)
}

/// Upstream's `IsExtendedResourceName`.
pub fn is_extended_resource(name: &str) -> bool {
    if is_native_resource(name) || name.starts_with("requests.") {
        return false;
    }
    validation::is_qualified_name(&format!("requests.{name}")).is_empty()
}

/// Upstream's `IsIntegerResourceName`.
pub fn is_integer_resource(name: &str) -> bool {
    matches!(
        name,
        "pods"
            | "services"
            | "replicationcontrollers"
            | "resourcequotas"
            | "services.nodeports"
            | "services.loadbalancers"
            | "secrets"
            | "persistentvolumeclaims"
            | "configmaps"
    ) || is_extended_resource(name)
}

fn is_quota_huge_pages(name: &str) -> bool {
    is_huge_pages(name) || name.starts_with("requests.hugepages-")
}

/// Upstream's `IsStandardResourceName`.
pub fn is_standard_resource(name: &str) -> bool {
    matches!(
        name,
        "cpu"
            | "memory"
            | "ephemeral-storage"
            | "requests.cpu"
            | "requests.memory"
            | "requests.ephemeral-storage"
            | "limits.cpu"
            | "limits.memory"
            | "limits.ephemeral-storage"
            | "pods"
            | "resourcequotas"
            | "services"
            | "replicationcontrollers"
            | "secrets"
            | "configmaps"
            | "persistentvolumeclaims"
            | "storage"
            | "requests.storage"
            | "services.nodeports"
            | "services.loadbalancers"
    ) || is_quota_huge_pages(name)
}

/// Upstream's `IsStandardQuotaResourceName`.
pub fn is_standard_quota_resource(name: &str) -> bool {
    matches!(
        name,
        "pods"
            | "resourcequotas"
            | "services"
            | "replicationcontrollers"
            | "secrets"
            | "configmaps"
            | "persistentvolumeclaims"
            | "services.nodeports"
            | "services.loadbalancers"
            | "cpu"
            | "memory"
            | "ephemeral-storage"
            | "requests.cpu"
            | "requests.memory"
            | "requests.storage"
            | "requests.ephemeral-storage"
            | "limits.cpu"
            | "limits.memory"
            | "limits.ephemeral-storage"
    ) || is_quota_huge_pages(name)
}

/// Upstream's `validateResourceName`.
pub fn resource_name(field: &str, name: &str, errs: &mut Vec<FieldError>) -> bool {
    let before = errs.len();
    qualified_name(field, name, errs);
    if errs.len() != before {
        return false;
    }
    if !name.contains('/') && !is_standard_resource(name) {
        errs.push(FieldError::invalid(
            field,
            name,
            "must be a standard resource type or fully qualified",
        ));
        return false;
    }
    true
}

/// Upstream's `ValidateContainerResourceName`.
pub fn container_resource_name(field: &str, name: &str, errs: &mut Vec<FieldError>) {
    if !resource_name(field, name, errs) {
        return;
    }
    if !name.contains('/') {
        if !(matches!(name, "cpu" | "memory" | "ephemeral-storage") || is_huge_pages(name)) {
            errs.push(FieldError::invalid(
                field,
                name,
                "must be a standard resource for containers",
            ));
        }
    } else if !is_native_resource(name) && !is_extended_resource(name) {
        errs.push(FieldError::invalid(
            field,
            name,
            "doesn't follow extended resource name standard",
        ));
    }
}

/// Upstream's `ValidateResourceQuantityValue`: not negative, whole for integer resources.
pub fn quantity_value(resource: &str, q: &Quantity, field: &str, errs: &mut Vec<FieldError>) {
    if q.is_negative() {
        errs.push(FieldError::invalid(
            field,
            q.to_string(),
            super::common::NEGATIVE,
        ));
        return;
    }
    if is_integer_resource(resource) && q.milli_value().is_some_and(|m| m % 1000 != 0) {
        errs.push(FieldError::invalid(field, q.to_string(), NOT_INTEGER));
    }
}

/// Upstream's `ValidatePositiveQuantityValue`.
pub fn positive_quantity(q: &Quantity, field: &str, errs: &mut Vec<FieldError>) {
    if !q.is_positive() {
        errs.push(FieldError::invalid(field, q.to_string(), NOT_POSITIVE));
    }
}

/// The quantities of a resource list, in key order (entries that do not parse are left out:
/// they were refused when the body was read).
pub fn quantities(list: Option<&Value>) -> Vec<(String, Quantity)> {
    let mut out: Vec<(String, Quantity)> = list
        .and_then(Value::as_object)
        .map(|m| {
            m.iter()
                .filter_map(|(k, v)| Some((k.clone(), quantity::from_json(v).ok()?)))
                .collect()
        })
        .unwrap_or_default();
    out.sort_by(|a, b| a.0.cmp(&b.0));
    out
}

/// Refuses resource lists whose quantities do not parse, with the 400 upstream's decoder
/// gives.
pub fn check_lists(info: &ResourceInfo, lists: &[Option<&Value>]) -> Result<(), ApiError> {
    for list in lists {
        check_resource_list(*list)
            .map_err(|e| super::common::cannot_handle(info, &e.to_string()))?;
    }
    Ok(())
}

/// Upstream's `IsValidPercent` message.
pub fn percent_error() -> String {
    regex_error(
        "a valid percent string must be a numeric string followed by an ending '%'",
        "[0-9]+%",
        &["1%", "93%"],
    )
}

/// The number of a valid percent string (`"5%"` → 5).
pub fn percent_value(v: Option<&Value>) -> Option<i64> {
    let s = v?.as_str()?;
    let digits = s.strip_suffix('%')?;
    (!digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit()))
        .then(|| digits.parse().unwrap_or(i64::MAX))
}

/// Upstream's `ValidatePositiveIntOrPercent` and `IsNotMoreThan100Percent`.
pub fn int_or_percent(v: Option<&Value>, field: &str, errs: &mut Vec<FieldError>) {
    let rendered = super::common::go_int_or_string(v);
    match v {
        Some(Value::String(_)) => match percent_value(v) {
            None => errs.push(invalid_go(field, &rendered, &percent_error())),
            Some(p) if p > 100 => errs.push(invalid_go(
                field,
                &rendered,
                "must not be greater than 100%",
            )),
            Some(_) => {}
        },
        _ => nonnegative(field, v.and_then(Value::as_i64).unwrap_or(0), errs),
    }
}

/// A Go slice of strings as `%#v` prints it with the element type named, e.g.
/// `[]core.PersistentVolumeAccessMode{"ReadWriteOnce"}`; `(nil)` when unset.
pub fn go_slice_of(type_name: &str, v: Option<&Value>) -> String {
    match v.and_then(Value::as_array) {
        None => format!("[]{type_name}(nil)"),
        Some(items) => {
            let quoted: Vec<String> = items
                .iter()
                .map(|s| go_quote(s.as_str().unwrap_or_default()))
                .collect();
            format!("[]{type_name}{{{}}}", quoted.join(", "))
        }
    }
}

/// A value as upstream prints a field of a pointer type: `null` when unset, else the
/// value (strings quoted).
pub fn bad_value(v: Option<&Value>) -> BadValue {
    match v {
        None | Some(Value::Null) => BadValue::Json(Value::Null),
        Some(v) => BadValue::from(v.clone()),
    }
}

/// `Invalid value: <value>: field is immutable` for a field that may be unset.
pub fn immutable_value(field: &str, v: Option<&Value>) -> FieldError {
    FieldError {
        kind: FieldErrorType::Invalid,
        field: field.into(),
        value: bad_value(v),
        detail: super::common::IMMUTABLE.into(),
    }
}

/// `Unsupported value` for a value of any JSON type, with the supported values quoted.
pub fn not_supported_value(field: &str, v: Option<&Value>, supported: &[&str]) -> FieldError {
    FieldError::not_supported(field, bad_value(v), supported)
}

/// Upstream's `ValidateNodeSelectorRequirement` over a node selector term's expressions
/// (or fields, `what` naming which).
fn node_selector_requirements(term: &Value, what: &str, path: &str, errs: &mut Vec<FieldError>) {
    for (j, req) in list_of(term, what).iter().enumerate() {
        let rp = format!("{path}.{what}[{j}]");
        let values = list_of(req, "values");
        match str_of(req, "operator") {
            "In" | "NotIn" => {
                if values.is_empty() {
                    errs.push(FieldError::required(
                        format!("{rp}.values"),
                        "must be specified when `operator` is 'In' or 'NotIn'",
                    ));
                }
            }
            "Exists" | "DoesNotExist" => {
                if !values.is_empty() {
                    errs.push(FieldError::forbidden(
                        format!("{rp}.values"),
                        "may not be specified when `operator` is 'Exists' or 'DoesNotExist'",
                    ));
                }
            }
            "Gt" | "Lt" => {
                if values.len() != 1 {
                    errs.push(FieldError::required(
                        format!("{rp}.values"),
                        "must be specified single value when `operator` is 'Lt' or 'Gt'",
                    ));
                }
            }
            other => errs.push(FieldError::invalid(
                format!("{rp}.operator"),
                other,
                "not a valid selector operator",
            )),
        }
        if what == "matchExpressions" {
            label_name(&format!("{rp}.key"), str_of(req, "key"), errs);
        }
    }
}

/// Upstream's `ValidateNodeSelector`.
pub fn node_selector(sel: &Value, path: &str, errs: &mut Vec<FieldError>) {
    let terms = list_of(sel, "nodeSelectorTerms");
    if terms.is_empty() {
        errs.push(FieldError::required(
            format!("{path}.nodeSelectorTerms"),
            "must have at least one node selector term",
        ));
    }
    for (i, term) in terms.iter().enumerate() {
        let tp = format!("{path}.nodeSelectorTerms[{i}]");
        node_selector_requirements(term, "matchExpressions", &tp, errs);
        node_selector_requirements(term, "matchFields", &tp, errs);
    }
}

/// A present object field, or `Null` (to read nested fields of something that may be unset).
pub fn child(v: &Value, key: &str) -> Value {
    get(v, key).cloned().unwrap_or(Value::Null)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn path_segment_names() {
        assert!(path_segment_errors("system:controller:x").is_empty());
        assert_eq!(path_segment_errors(".."), vec!["may not be '..'"]);
        assert_eq!(
            path_segment_errors("a/b%c"),
            vec!["may not contain '/'", "may not contain '%'"]
        );
    }

    #[test]
    fn cidrs_and_subnets() {
        let outer = parse_cidr("10.0.0.0/8").unwrap();
        assert!(strict_subnet(outer, parse_cidr("10.1.0.0/16").unwrap()));
        assert!(!strict_subnet(outer, parse_cidr("11.0.0.0/16").unwrap()));
        assert!(!strict_subnet(outer, parse_cidr("10.0.0.0/8").unwrap()));
        assert!(parse_cidr("10.0.0.0/33").is_none());
        assert!(parse_cidr("10.0.0.0").is_none());
        assert_eq!(
            parse_cidr("fd00::1/64").unwrap().0,
            "fd00::".parse::<IpAddr>().unwrap()
        );
        let mut errs = Vec::new();
        legacy_cidr("spec.podCIDR", "nope", &mut errs);
        assert_eq!(
            errs[0].to_string(),
            format!("spec.podCIDR: Invalid value: \"nope\": {CIDR_MSG}")
        );
    }

    #[test]
    fn endpoint_ips_exclude_special_ranges() {
        let mut errs = Vec::new();
        endpoint_ip("ip", "127.0.0.1", &mut errs);
        endpoint_ip("ip", "10.1.2.3", &mut errs);
        endpoint_ip("ip", "fe80::1", &mut errs);
        let shown: Vec<String> = errs.iter().map(ToString::to_string).collect();
        assert_eq!(
            shown,
            vec![
                "ip: Invalid value: \"127.0.0.1\": may not be in the loopback range (127.0.0.0/8, ::1/128)",
                "ip: Invalid value: \"fe80::1\": may not be in the link-local range (169.254.0.0/16, fe80::/10)",
            ]
        );
    }

    #[test]
    fn resource_names_and_values() {
        let mut errs = Vec::new();
        resource_name("hard[bogus]", "bogus", &mut errs);
        container_resource_name("max[pods]", "pods", &mut errs);
        container_resource_name("max[example.com/gpu]", "example.com/gpu", &mut errs);
        let q = Quantity::parse("1500m").unwrap();
        quantity_value("pods", &q, "hard[pods]", &mut errs);
        quantity_value("cpu", &q, "hard[cpu]", &mut errs);
        let shown: Vec<String> = errs.iter().map(ToString::to_string).collect();
        assert_eq!(
            shown,
            vec![
                "hard[bogus]: Invalid value: \"bogus\": must be a standard resource type or fully qualified",
                "max[pods]: Invalid value: \"pods\": must be a standard resource for containers",
                "hard[pods]: Invalid value: \"1500m\": must be an integer",
            ]
        );
    }

    #[test]
    fn int_or_percent_values() {
        let mut errs = Vec::new();
        int_or_percent(Some(&json!("50%")), "a", &mut errs);
        int_or_percent(Some(&json!(2)), "b", &mut errs);
        assert!(errs.is_empty());
        int_or_percent(Some(&json!("150%")), "c", &mut errs);
        int_or_percent(Some(&json!(-1)), "d", &mut errs);
        int_or_percent(Some(&json!("x")), "e", &mut errs);
        let shown: Vec<String> = errs.iter().map(ToString::to_string).collect();
        assert_eq!(
            shown[0],
            "c: Invalid value: intstr.IntOrString{Type:1, IntVal:0, StrVal:\"150%\"}: must not be greater than 100%"
        );
        assert_eq!(
            shown[1],
            "d: Invalid value: -1: must be greater than or equal to 0"
        );
        assert!(shown[2].ends_with(
            "a valid percent string must be a numeric string followed by an ending '%' (e.g. '1%',  or '93%', regex used for validation is '[0-9]+%')"
        ));
    }

    #[test]
    fn domain_names() {
        assert!(wildcard_dns1123_subdomain_errors("*.example.com").is_empty());
        assert_eq!(wildcard_dns1123_subdomain_errors("*example.com").len(), 1);
        let mut errs = Vec::new();
        fully_qualified_domain_name("a", "example.com", &mut errs);
        assert!(errs.is_empty());
        fully_qualified_domain_name("a", "localhost", &mut errs);
        assert_eq!(
            errs[0].to_string(),
            "a: Invalid value: \"localhost\": should be a domain with at least two segments separated by dots"
        );
    }

    #[test]
    fn node_selectors() {
        let mut errs = Vec::new();
        node_selector(&json!({}), "spec.nodeAffinity.required", &mut errs);
        node_selector(
            &json!({"nodeSelectorTerms": [{"matchExpressions": [
                {"key": "k", "operator": "Gt", "values": ["1", "2"]},
                {"key": "k", "operator": "Near"},
            ]}]}),
            "r",
            &mut errs,
        );
        let shown: Vec<String> = errs.iter().map(ToString::to_string).collect();
        assert_eq!(
            shown,
            vec![
                "spec.nodeAffinity.required.nodeSelectorTerms: Required value: must have at least one node selector term",
                "r.nodeSelectorTerms[0].matchExpressions[0].values: Required value: must be specified single value when `operator` is 'Lt' or 'Gt'",
                "r.nodeSelectorTerms[0].matchExpressions[1].operator: Invalid value: \"Near\": not a valid selector operator",
            ]
        );
    }
}
