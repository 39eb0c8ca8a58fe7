//! Pod validation: the parts of upstream's `ValidatePodSpec`, `ValidatePodTemplateSpec` and
//! `ValidatePodUpdate` (pkg/apis/core/validation) users hit most, with upstream's field
//! paths, messages and order: containers (names, images, ports, env, mounts, resources,
//! probes, policies), volumes, restart and DNS policies, tolerations, and what a pod update
//! may change.

use super::defaults::VOLUME_SOURCES;
use crate::strategy::common::{
    IMMUTABLE, NEGATIVE, PORT_RANGE, bool_of, dns1123_label, dns1123_subdomain, get, int_of,
    invalid_go, label_name, list_of, nonnegative, semantic_eq, str_of, validate_annotations,
    validate_labels,
};
use crate::strategy::quantity::{self, Quantity};
use crate::strategy::service::validation::{go_quote, port_name_errors};
use serde_json::Value;
use skiff_core::status::FieldError;
use skiff_core::validation;
use std::cmp::Ordering;
use std::collections::{BTreeMap, HashSet};

/// Upstream's `fileModeErrorMsg`.
const FILE_MODE: &str = "must be a number between 0 and 0777 (octal), both inclusive";
/// Upstream's message for relaxed environment variable names (`RelaxedEnvironmentVariableValidation`, on in 1.33).
const ENV_NAME: &str = "a valid environment variable name must consist only of printable ASCII characters other than '='";
/// The fields a pod update may change, as upstream lists them.
const UPDATABLE_POD_SPEC_FIELDS: &[&str] = &[
    "`spec.containers[*].image`",
    "`spec.initContainers[*].image`",
    "`spec.activeDeadlineSeconds`",
    "`spec.tolerations` (only additions to existing tolerations)",
    "`spec.terminationGracePeriodSeconds` (allow it to be set to 1 if it was previously negative)",
];
/// Resource names upstream's `IsStandardResourceName` accepts besides `hugepages-*`.
const STANDARD_RESOURCES: &[&str] = &[
    "cpu",
    "memory",
    "ephemeral-storage",
    "requests.cpu",
    "requests.memory",
    "requests.ephemeral-storage",
    "requests.storage",
    "limits.cpu",
    "limits.memory",
    "limits.ephemeral-storage",
    "pods",
    "services",
    "replicationcontrollers",
    "resourcequotas",
    "secrets",
    "persistentvolumeclaims",
    "configmaps",
    "services.nodeports",
    "services.loadbalancers",
];

/// `InclusiveRangeError`.
fn range_error(lo: i64, hi: i64) -> String {
    format!("must be between {lo} and {hi}, inclusive")
}

fn port_num(field: String, port: i64, errs: &mut Vec<FieldError>) {
    if !(1..=65535).contains(&port) {
        errs.push(FieldError::invalid(field, port, PORT_RANGE));
    }
}

/// Upstream's `ValidatePortNumOrName`.
fn port_num_or_name(field: String, port: Option<&Value>, errs: &mut Vec<FieldError>) {
    match port {
        Some(Value::String(name)) => {
            for msg in port_name_errors(name) {
                errs.push(FieldError::invalid(field.clone(), name.as_str(), msg));
            }
        }
        other => port_num(field, other.and_then(Value::as_i64).unwrap_or(0), errs),
    }
}

/// Upstream's `ValidateVolumes`: returns the names of the valid volumes.
fn validate_volumes(spec: &Value, path: &str, errs: &mut Vec<FieldError>) -> HashSet<String> {
    let mut names = HashSet::new();
    let mut all = HashSet::new();
    for (i, vol) in list_of(spec, "volumes").iter().enumerate() {
        let vp = format!("{path}.volumes[{i}]");
        let mut el = Vec::new();
        validate_volume_source(vol, &vp, &mut el);
        let name = str_of(vol, "name");
        if name.is_empty() {
            el.push(FieldError::required(format!("{vp}.name"), ""));
        } else {
            dns1123_label(&format!("{vp}.name"), name, &mut el);
        }
        if all.contains(name) {
            el.push(FieldError::duplicate(format!("{vp}.name"), name));
        }
        if el.is_empty() {
            names.insert(name.to_owned());
        }
        all.insert(name.to_owned());
        errs.extend(el);
    }
    names
}

fn default_mode(source: &Value, path: &str, errs: &mut Vec<FieldError>) {
    if let Some(mode) = int_of(source, "defaultMode")
        && !(0..=0o777).contains(&mode)
    {
        errs.push(FieldError::invalid(
            format!("{path}.defaultMode"),
            mode,
            FILE_MODE,
        ));
    }
}

fn key_to_paths(source: &Value, path: &str, errs: &mut Vec<FieldError>) {
    for (i, item) in list_of(source, "items").iter().enumerate() {
        let ip = format!("{path}.items[{i}]");
        if str_of(item, "key").is_empty() {
            errs.push(FieldError::required(format!("{ip}.key"), ""));
        }
        if str_of(item, "path").is_empty() {
            errs.push(FieldError::required(format!("{ip}.path"), ""));
        }
        if let Some(mode) = int_of(item, "mode")
            && !(0..=0o777).contains(&mode)
        {
            errs.push(FieldError::invalid(format!("{ip}.mode"), mode, FILE_MODE));
        }
    }
}

/// Upstream's `validateVolumeSource` for the common sources.
fn validate_volume_source(vol: &Value, vp: &str, errs: &mut Vec<FieldError>) {
    let mut count = 0;
    for &source in VOLUME_SOURCES {
        let Some(s) = get(vol, source) else {
            continue;
        };
        if count > 0 {
            errs.push(FieldError::forbidden(
                format!("{vp}.{source}"),
                "may not specify more than 1 volume type",
            ));
            continue;
        }
        count += 1;
        let sp = format!("{vp}.{source}");
        match source {
            "hostPath" => {
                if str_of(s, "path").is_empty() {
                    errs.push(FieldError::required(format!("{sp}.path"), ""));
                }
                const TYPES: &[&str] = &[
                    "",
                    "BlockDevice",
                    "CharDevice",
                    "Directory",
                    "DirectoryOrCreate",
                    "File",
                    "FileOrCreate",
                    "Socket",
                ];
                let t = str_of(s, "type");
                if !TYPES.contains(&t) {
                    errs.push(FieldError::not_supported(format!("{sp}.type"), t, TYPES));
                }
            }
            "emptyDir" => {
                if let Some(limit) = get(s, "sizeLimit")
                    && quantity::from_json(limit).is_ok_and(|q| q.is_negative())
                {
                    errs.push(FieldError::forbidden(
                        format!("{sp}.sizeLimit"),
                        "SizeLimit field must be a valid resource quantity",
                    ));
                }
            }
            "secret" => {
                if str_of(s, "secretName").is_empty() {
                    errs.push(FieldError::required(format!("{sp}.secretName"), ""));
                }
                default_mode(s, &sp, errs);
                key_to_paths(s, &sp, errs);
            }
            "configMap" => {
                if str_of(s, "name").is_empty() {
                    errs.push(FieldError::required(format!("{sp}.name"), ""));
                }
                default_mode(s, &sp, errs);
                key_to_paths(s, &sp, errs);
            }
            "persistentVolumeClaim" if str_of(s, "claimName").is_empty() => {
                errs.push(FieldError::required(format!("{sp}.claimName"), ""));
            }
            "nfs" => {
                if str_of(s, "server").is_empty() {
                    errs.push(FieldError::required(format!("{sp}.server"), ""));
                }
                let p = str_of(s, "path");
                if p.is_empty() {
                    errs.push(FieldError::required(format!("{sp}.path"), ""));
                } else if !p.starts_with('/') {
                    errs.push(FieldError::invalid(
                        format!("{sp}.path"),
                        p,
                        "must be an absolute path",
                    ));
                }
            }
            "downwardAPI" | "projected" => default_mode(s, &sp, errs),
            _ => {}
        }
    }
    if count == 0 {
        errs.push(FieldError::required(vp, "must specify a volume type"));
    }
}

/// Whether a resource name is upstream's `IsNativeResource` (no domain, or `kubernetes.io`).
fn is_native(name: &str) -> bool {
    !name.contains('/') || name.contains("kubernetes.io/")
}

fn is_huge_pages(name: &str) -> bool {
    name.starts_with("hugepages-")
}

/// Upstream's `IsOvercommitAllowed`.
fn overcommit_allowed(name: &str) -> bool {
    is_native(name) && !is_huge_pages(name)
}

/// Upstream's `validateContainerResourceName`.
fn resource_name(field: &str, name: &str, errs: &mut Vec<FieldError>) {
    let before = errs.len();
    label_name(field, name, errs);
    if errs.len() != before {
        return;
    }
    if !name.contains('/') {
        if !(STANDARD_RESOURCES.contains(&name) || is_huge_pages(name)) {
            errs.push(FieldError::invalid(
                field,
                name,
                "must be a standard resource type or fully qualified",
            ));
        } else if !(matches!(name, "cpu" | "memory" | "ephemeral-storage") || is_huge_pages(name)) {
            errs.push(FieldError::invalid(
                field,
                name,
                "must be a standard resource for containers",
            ));
        }
    } else if !is_native(name) {
        let extended = !name.starts_with("requests.")
            && validation::is_qualified_name(&format!("requests.{name}")).is_empty();
        if !extended {
            errs.push(FieldError::invalid(
                field,
                name,
                "doesn't follow extended resource name standard",
            ));
        }
    }
}

fn quantities(list: Option<&Value>) -> BTreeMap<String, Quantity> {
    list.and_then(Value::as_object)
        .map(|m| {
            m.iter()
                .filter_map(|(k, v)| Some((k.clone(), quantity::from_json(v).ok()?)))
                .collect()
        })
        .unwrap_or_default()
}

/// Upstream's `ValidateContainerResourceRequirements` (resource claims aside).
fn validate_resources(r: Option<&Value>, path: &str, errs: &mut Vec<FieldError>) {
    let Some(r) = r else {
        return;
    };
    let lim_path = format!("{path}.limits");
    let req_path = format!("{path}.requests");
    let limits = quantities(get(r, "limits"));
    let requests = quantities(get(r, "requests"));
    let (mut lim_qos, mut req_qos, mut lim_huge, mut req_huge) = (false, false, false, false);
    for (name, q) in &limits {
        let f = format!("{lim_path}[{name}]");
        resource_name(&f, name, errs);
        if q.is_negative() {
            errs.push(FieldError::invalid(f.as_str(), q.to_string(), NEGATIVE));
        }
        lim_huge |= is_huge_pages(name);
        lim_qos |= matches!(name.as_str(), "cpu" | "memory");
    }
    for (name, q) in &requests {
        let f = format!("{req_path}[{name}]");
        resource_name(&f, name, errs);
        if q.is_negative() {
            errs.push(FieldError::invalid(f.as_str(), q.to_string(), NEGATIVE));
        }
        match limits.get(name) {
            Some(limit) => {
                let ord = q.cmp_value(limit);
                if ord != Ordering::Equal && !overcommit_allowed(name) {
                    errs.push(FieldError::invalid(
                        req_path.as_str(),
                        q.to_string(),
                        format!("must be equal to {name} limit of {limit}"),
                    ));
                } else if ord == Ordering::Greater {
                    errs.push(FieldError::invalid(
                        req_path.as_str(),
                        q.to_string(),
                        format!("must be less than or equal to {name} limit of {limit}"),
                    ));
                }
            }
            None if !overcommit_allowed(name) => errs.push(FieldError::required(
                lim_path.as_str(),
                "Limit must be set for non overcommitable resources",
            )),
            None => {}
        }
        req_huge |= is_huge_pages(name);
        req_qos |= matches!(name.as_str(), "cpu" | "memory");
    }
    if !lim_qos && !req_qos && (req_huge || lim_huge) {
        errs.push(FieldError::forbidden(
            path,
            "HugePages require cpu or memory",
        ));
    }
}

fn validate_env(c: &Value, path: &str, errs: &mut Vec<FieldError>) {
    for (i, e) in list_of(c, "env").iter().enumerate() {
        let ep = format!("{path}.env[{i}]");
        let name = str_of(e, "name");
        if name.is_empty() {
            errs.push(FieldError::required(format!("{ep}.name"), ""));
        } else if name.chars().any(|c| !(' '..='~').contains(&c) || c == '=') {
            errs.push(FieldError::invalid(format!("{ep}.name"), name, ENV_NAME));
        }
        let Some(from) = get(e, "valueFrom") else {
            continue;
        };
        let fp = format!("{ep}.valueFrom");
        let mut sources = 0;
        if let Some(f) = get(from, "fieldRef") {
            sources += 1;
            if str_of(f, "apiVersion").is_empty() {
                errs.push(FieldError::required(
                    format!("{fp}.fieldRef.apiVersion"),
                    "",
                ));
            }
            if str_of(f, "fieldPath").is_empty() {
                errs.push(FieldError::required(format!("{fp}.fieldRef.fieldPath"), ""));
            }
        }
        if let Some(r) = get(from, "resourceFieldRef") {
            sources += 1;
            if str_of(r, "resource").is_empty() {
                errs.push(FieldError::required(
                    format!("{fp}.resourceFieldRef.resource"),
                    "",
                ));
            }
        }
        for key in ["configMapKeyRef", "secretKeyRef"] {
            if let Some(r) = get(from, key) {
                sources += 1;
                let rp = format!("{fp}.{key}");
                dns1123_subdomain(&format!("{rp}.name"), str_of(r, "name"), errs);
                let k = str_of(r, "key");
                if k.is_empty() {
                    errs.push(FieldError::required(format!("{rp}.key"), ""));
                } else {
                    for msg in crate::strategy::config::config_key_errors(k) {
                        errs.push(FieldError::invalid(format!("{rp}.key"), k, msg));
                    }
                }
            }
        }
        if sources == 0 {
            errs.push(FieldError::invalid(
                fp,
                "",
                "must specify one of: `fieldRef`, `resourceFieldRef`, `configMapKeyRef` or `secretKeyRef`",
            ));
        } else if !str_of(e, "value").is_empty() {
            errs.push(FieldError::invalid(
                fp,
                "",
                "may not be specified when `value` is not empty",
            ));
        } else if sources > 1 {
            errs.push(FieldError::invalid(
                fp,
                "",
                "may not have more than one field specified at a time",
            ));
        }
    }
    for (i, e) in list_of(c, "envFrom").iter().enumerate() {
        let ep = format!("{path}.envFrom[{i}]");
        let refs = ["configMapRef", "secretRef"]
            .iter()
            .filter(|k| get(e, k).is_some())
            .count();
        if refs == 0 {
            errs.push(FieldError::invalid(
                ep,
                "",
                "must specify one of: `configMapRef` or `secretRef`",
            ));
        } else if refs > 1 {
            errs.push(FieldError::invalid(
                ep,
                "",
                "may not have more than one field specified at a time",
            ));
        }
    }
}

fn validate_mounts(c: &Value, vols: &HashSet<String>, path: &str, errs: &mut Vec<FieldError>) {
    let mut mount_points = HashSet::new();
    for (i, m) in list_of(c, "volumeMounts").iter().enumerate() {
        let mp = format!("{path}.volumeMounts[{i}]");
        let name = str_of(m, "name");
        if name.is_empty() {
            errs.push(FieldError::required(format!("{mp}.name"), ""));
        }
        if !vols.contains(name) {
            errs.push(FieldError::not_found(format!("{mp}.name"), name));
        }
        let mount_path = str_of(m, "mountPath");
        if mount_path.is_empty() {
            errs.push(FieldError::required(format!("{mp}.mountPath"), ""));
        }
        if !mount_points.insert(mount_path) {
            errs.push(FieldError::invalid(
                format!("{mp}.mountPath"),
                mount_path,
                "must be unique",
            ));
        }
    }
}

fn validate_ports(c: &Value, path: &str, errs: &mut Vec<FieldError>) {
    let mut names = HashSet::new();
    for (i, p) in list_of(c, "ports").iter().enumerate() {
        let pp = format!("{path}.ports[{i}]");
        let name = str_of(p, "name");
        if !name.is_empty() {
            let msgs = port_name_errors(name);
            if !msgs.is_empty() {
                for msg in msgs {
                    errs.push(FieldError::invalid(format!("{pp}.name"), name, msg));
                }
            } else if !names.insert(name) {
                errs.push(FieldError::duplicate(format!("{pp}.name"), name));
            }
        }
        match int_of(p, "containerPort").unwrap_or(0) {
            0 => errs.push(FieldError::required(format!("{pp}.containerPort"), "")),
            n => port_num(format!("{pp}.containerPort"), n, errs),
        }
        let host = int_of(p, "hostPort").unwrap_or(0);
        if host != 0 {
            port_num(format!("{pp}.hostPort"), host, errs);
        }
        match str_of(p, "protocol") {
            "" => errs.push(FieldError::required(format!("{pp}.protocol"), "")),
            "TCP" | "UDP" | "SCTP" => {}
            other => errs.push(FieldError::not_supported(
                format!("{pp}.protocol"),
                other,
                &["SCTP", "TCP", "UDP"],
            )),
        }
    }
}

/// Upstream's `AccumulateUniqueHostPorts` over a list of containers.
fn host_port_conflicts(
    containers: &[Value],
    path: &str,
    first_index: usize,
    errs: &mut Vec<FieldError>,
) {
    let mut seen = HashSet::new();
    for (ci, c) in containers.iter().enumerate() {
        for (pi, p) in list_of(c, "ports").iter().enumerate() {
            let port = int_of(p, "hostPort").unwrap_or(0);
            if port == 0 {
                continue;
            }
            let key = format!("{}/{}/{port}", str_of(p, "hostIP"), str_of(p, "protocol"));
            if !seen.insert(key.clone()) {
                errs.push(FieldError::duplicate(
                    format!("{path}[{}].ports[{pi}].hostPort", ci + first_index),
                    key,
                ));
            }
        }
    }
}

/// Upstream's `validateHandler` (probes and lifecycle hooks).
fn validate_handler(h: &Value, path: &str, lifecycle: bool, errs: &mut Vec<FieldError>) {
    let mut kinds: Vec<&str> = vec!["exec", "httpGet", "tcpSocket"];
    if lifecycle {
        kinds.push("sleep");
    } else {
        kinds.push("grpc");
    }
    let mut count = 0;
    for kind in kinds {
        let Some(a) = get(h, kind) else {
            continue;
        };
        let ap = format!("{path}.{kind}");
        if count > 0 {
            errs.push(FieldError::forbidden(
                ap,
                "may not specify more than 1 handler type",
            ));
            continue;
        }
        count += 1;
        match kind {
            "exec" if list_of(a, "command").is_empty() => {
                errs.push(FieldError::required(format!("{ap}.command"), ""));
            }
            "httpGet" => {
                if str_of(a, "path").is_empty() {
                    errs.push(FieldError::required(format!("{ap}.path"), ""));
                }
                port_num_or_name(format!("{ap}.port"), get(a, "port"), errs);
                let scheme = str_of(a, "scheme");
                if !matches!(scheme, "HTTP" | "HTTPS") {
                    errs.push(FieldError::not_supported(
                        format!("{ap}.scheme"),
                        scheme,
                        &["HTTP", "HTTPS"],
                    ));
                }
            }
            "tcpSocket" => port_num_or_name(format!("{ap}.port"), get(a, "port"), errs),
            "grpc" => port_num(format!("{ap}.port"), int_of(a, "port").unwrap_or(0), errs),
            _ => {}
        }
    }
    if count == 0 {
        errs.push(FieldError::required(path, "must specify a handler type"));
    }
}

/// Upstream's `validateProbe` (plus the `successThreshold` rule of liveness and startup probes).
fn validate_probe(
    probe: Option<&Value>,
    path: &str,
    must_succeed_once: bool,
    errs: &mut Vec<FieldError>,
) {
    let Some(p) = probe else {
        return;
    };
    validate_handler(p, path, false, errs);
    for field in [
        "initialDelaySeconds",
        "timeoutSeconds",
        "periodSeconds",
        "successThreshold",
        "failureThreshold",
    ] {
        nonnegative(
            format!("{path}.{field}"),
            int_of(p, field).unwrap_or(0),
            errs,
        );
    }
    if let Some(g) = int_of(p, "terminationGracePeriodSeconds")
        && g <= 0
    {
        errs.push(FieldError::invalid(
            format!("{path}.terminationGracePeriodSeconds"),
            g,
            "must be greater than 0",
        ));
    }
    if must_succeed_once {
        let s = int_of(p, "successThreshold").unwrap_or(0);
        if s != 1 {
            errs.push(FieldError::invalid(
                format!("{path}.successThreshold"),
                s,
                "must be 1",
            ));
        }
    }
}

fn validate_lifecycle(c: &Value, path: &str, errs: &mut Vec<FieldError>) {
    if let Some(l) = get(c, "lifecycle") {
        for hook in ["postStart", "preStop"] {
            if let Some(h) = get(l, hook) {
                validate_handler(h, &format!("{path}.lifecycle.{hook}"), true, errs);
            }
        }
    }
}

/// Upstream's `validateContainerCommon`.
fn validate_container_common(
    c: &Value,
    vols: &HashSet<String>,
    path: &str,
    errs: &mut Vec<FieldError>,
) {
    let name = str_of(c, "name");
    if name.is_empty() {
        errs.push(FieldError::required(format!("{path}.name"), ""));
    } else {
        dns1123_label(&format!("{path}.name"), name, errs);
    }
    if str_of(c, "image").is_empty() {
        errs.push(FieldError::required(format!("{path}.image"), ""));
    }
    match str_of(c, "terminationMessagePolicy") {
        "File" | "FallbackToLogsOnError" => {}
        "" => errs.push(FieldError::required(
            format!("{path}.terminationMessagePolicy"),
            "",
        )),
        other => errs.push(FieldError::not_supported(
            format!("{path}.terminationMessagePolicy"),
            other,
            &["File", "FallbackToLogsOnError"],
        )),
    }
    validate_ports(c, path, errs);
    validate_env(c, path, errs);
    validate_mounts(c, vols, path, errs);
    match str_of(c, "imagePullPolicy") {
        "Always" | "IfNotPresent" | "Never" => {}
        "" => errs.push(FieldError::required(format!("{path}.imagePullPolicy"), "")),
        other => errs.push(FieldError::not_supported(
            format!("{path}.imagePullPolicy"),
            other,
            &["Always", "IfNotPresent", "Never"],
        )),
    }
    validate_resources(get(c, "resources"), &format!("{path}.resources"), errs);
}

fn validate_containers(
    spec: &Value,
    vols: &HashSet<String>,
    path: &str,
    errs: &mut Vec<FieldError>,
) {
    let cp = format!("{path}.containers");
    let containers = list_of(spec, "containers");
    if containers.is_empty() {
        errs.push(FieldError::required(cp.as_str(), ""));
    }
    let mut names = HashSet::new();
    for (i, c) in containers.iter().enumerate() {
        let p = format!("{cp}[{i}]");
        validate_container_common(c, vols, &p, errs);
        let name = str_of(c, "name");
        if !names.insert(name) {
            errs.push(FieldError::duplicate(format!("{p}.name"), name));
        }
        validate_lifecycle(c, &p, errs);
        validate_probe(
            get(c, "livenessProbe"),
            &format!("{p}.livenessProbe"),
            true,
            errs,
        );
        validate_probe(
            get(c, "readinessProbe"),
            &format!("{p}.readinessProbe"),
            false,
            errs,
        );
        validate_probe(
            get(c, "startupProbe"),
            &format!("{p}.startupProbe"),
            true,
            errs,
        );
        if get(c, "restartPolicy").is_some() {
            errs.push(FieldError::forbidden(
                format!("{p}.restartPolicy"),
                "may not be set for non-init containers",
            ));
        }
    }
    host_port_conflicts(containers, &cp, 0, errs);
}

fn validate_init_containers(
    spec: &Value,
    vols: &HashSet<String>,
    path: &str,
    errs: &mut Vec<FieldError>,
) {
    let ip = format!("{path}.initContainers");
    let mut names: HashSet<&str> = list_of(spec, "containers")
        .iter()
        .map(|c| str_of(c, "name"))
        .collect();
    for (i, c) in list_of(spec, "initContainers").iter().enumerate() {
        let p = format!("{ip}[{i}]");
        validate_container_common(c, vols, &p, errs);
        let mut restart_always = false;
        if let Some(policy) = get(c, "restartPolicy") {
            let policy = policy.as_str().unwrap_or_default();
            if policy == "Always" {
                restart_always = true;
            } else {
                errs.push(FieldError::not_supported(
                    format!("{p}.restartPolicy"),
                    policy,
                    &["Always"],
                ));
            }
        }
        let name = str_of(c, "name");
        if names.contains(name) {
            errs.push(FieldError::duplicate(format!("{p}.name"), name));
        } else if !name.is_empty() {
            names.insert(name);
        }
        host_port_conflicts(std::slice::from_ref(c), &ip, i, errs);
        if restart_always {
            validate_lifecycle(c, &p, errs);
            validate_probe(
                get(c, "livenessProbe"),
                &format!("{p}.livenessProbe"),
                true,
                errs,
            );
            validate_probe(
                get(c, "readinessProbe"),
                &format!("{p}.readinessProbe"),
                false,
                errs,
            );
            validate_probe(
                get(c, "startupProbe"),
                &format!("{p}.startupProbe"),
                true,
                errs,
            );
        } else {
            const WHY: &str = "may not be set for init containers without restartPolicy=Always";
            for (field, why) in [
                ("lifecycle", WHY),
                ("livenessProbe", WHY),
                ("readinessProbe", "may not be set for init containers"),
                ("startupProbe", WHY),
            ] {
                if get(c, field).is_some() {
                    errs.push(FieldError::forbidden(format!("{p}.{field}"), why));
                }
            }
        }
    }
}

/// Upstream's `ValidateTolerations`.
pub fn validate_tolerations(tolerations: &[Value], path: &str, errs: &mut Vec<FieldError>) {
    for (i, t) in tolerations.iter().enumerate() {
        let tp = format!("{path}[{i}]");
        let key = str_of(t, "key");
        let operator = str_of(t, "operator");
        let effect = str_of(t, "effect");
        let value = str_of(t, "value");
        if !key.is_empty() {
            label_name(&format!("{tp}.key"), key, errs);
        }
        if key.is_empty() && operator != "Exists" {
            errs.push(FieldError::invalid(
                format!("{tp}.operator"),
                operator,
                "operator must be Exists when `key` is empty, which means \"match all values and all keys\"",
            ));
        }
        if get(t, "tolerationSeconds").is_some() && effect != "NoExecute" {
            errs.push(FieldError::invalid(
                format!("{tp}.effect"),
                effect,
                "effect must be 'NoExecute' when `tolerationSeconds` is set",
            ));
        }
        match operator {
            "Equal" | "" => {
                let msgs = validation::is_valid_label_value(value);
                if !msgs.is_empty() {
                    errs.push(FieldError::invalid(
                        format!("{tp}.operator"),
                        value,
                        msgs.join(";"),
                    ));
                }
            }
            "Exists" => {
                if !value.is_empty() {
                    let seconds = match int_of(t, "tolerationSeconds") {
                        Some(s) => format!("(*int64)({s})"),
                        None => "(*int64)(nil)".into(),
                    };
                    let raw = format!(
                        "core.Toleration{{Key:{}, Operator:{}, Value:{}, Effect:{}, TolerationSeconds:{seconds}}}",
                        go_quote(key),
                        go_quote(operator),
                        go_quote(value),
                        go_quote(effect)
                    );
                    errs.push(invalid_go(
                        format!("{tp}.operator"),
                        &raw,
                        "value must be empty when `operator` is 'Exists'",
                    ));
                }
            }
            other => errs.push(FieldError::not_supported(
                format!("{tp}.operator"),
                other,
                &["Equal", "Exists"],
            )),
        }
        if !effect.is_empty() && !matches!(effect, "NoSchedule" | "PreferNoSchedule" | "NoExecute")
        {
            errs.push(FieldError::not_supported(
                format!("{tp}.effect"),
                effect,
                &["NoSchedule", "PreferNoSchedule", "NoExecute"],
            ));
        }
    }
}

/// Upstream's `ValidatePodSpec` (the commonly used parts), `path` being the spec's path.
pub fn validate_pod_spec(spec: &Value, path: &str) -> Vec<FieldError> {
    let mut errs = Vec::new();
    let vols = validate_volumes(spec, path, &mut errs);
    validate_containers(spec, &vols, path, &mut errs);
    validate_init_containers(spec, &vols, path, &mut errs);
    if bool_of(spec, "hostNetwork") == Some(true) {
        for (i, c) in list_of(spec, "containers").iter().enumerate() {
            for (j, p) in list_of(c, "ports").iter().enumerate() {
                let host = int_of(p, "hostPort").unwrap_or(0);
                if host != 0 && host != int_of(p, "containerPort").unwrap_or(0) {
                    errs.push(FieldError::invalid(
                        format!("{path}.containers[{i}].ports[{j}].hostPort"),
                        host,
                        "must match `containerPort` when `hostNetwork` is true",
                    ));
                }
            }
        }
    }
    match str_of(spec, "restartPolicy") {
        "Always" | "OnFailure" | "Never" => {}
        "" => errs.push(FieldError::required(format!("{path}.restartPolicy"), "")),
        other => errs.push(FieldError::not_supported(
            format!("{path}.restartPolicy"),
            other,
            &["Always", "OnFailure", "Never"],
        )),
    }
    let dns_policy = str_of(spec, "dnsPolicy");
    match dns_policy {
        "ClusterFirstWithHostNet" | "ClusterFirst" | "Default" | "None" => {}
        "" => errs.push(FieldError::required(format!("{path}.dnsPolicy"), "")),
        other => errs.push(FieldError::not_supported(
            format!("{path}.dnsPolicy"),
            other,
            &["ClusterFirstWithHostNet", "ClusterFirst", "Default", "None"],
        )),
    }
    validate_labels(
        get(spec, "nodeSelector"),
        &format!("{path}.nodeSelector"),
        &mut errs,
    );
    if dns_policy == "None" {
        match get(spec, "dnsConfig") {
            None => errs.push(FieldError::required(
                format!("{path}.dnsConfig"),
                "must provide `dnsConfig` when `dnsPolicy` is None",
            )),
            Some(c) if list_of(c, "nameservers").is_empty() => errs.push(FieldError::required(
                format!("{path}.dnsConfig.nameservers"),
                "must provide at least one DNS nameserver when `dnsPolicy` is None",
            )),
            Some(_) => {}
        }
    }
    for field in ["serviceAccountName", "nodeName"] {
        let v = str_of(spec, field);
        if !v.is_empty() {
            dns1123_subdomain(&format!("{path}.{field}"), v, &mut errs);
        }
    }
    if let Some(d) = int_of(spec, "activeDeadlineSeconds")
        && !(1..=i64::from(i32::MAX)).contains(&d)
    {
        errs.push(FieldError::invalid(
            format!("{path}.activeDeadlineSeconds"),
            d,
            range_error(1, i64::from(i32::MAX)),
        ));
    }
    for field in ["hostname", "subdomain"] {
        let v = str_of(spec, field);
        if !v.is_empty() {
            dns1123_label(&format!("{path}.{field}"), v, &mut errs);
        }
    }
    validate_tolerations(
        list_of(spec, "tolerations"),
        &format!("{path}.tolerations"),
        &mut errs,
    );
    let priority_class = str_of(spec, "priorityClassName");
    if !priority_class.is_empty() {
        dns1123_subdomain(
            &format!("{path}.priorityClassName"),
            priority_class,
            &mut errs,
        );
    }
    errs
}

/// Upstream's `ValidatePodTemplateSpec`; `path` is the template's path
/// (`spec.template`). Upstream names the template's labels `<path>.labels`.
pub fn validate_template(template: &Value, path: &str) -> Vec<FieldError> {
    let mut errs = Vec::new();
    let meta = get(template, "metadata");
    validate_labels(
        meta.and_then(|m| get(m, "labels")),
        &format!("{path}.labels"),
        &mut errs,
    );
    validate_annotations(
        meta.and_then(|m| get(m, "annotations")),
        &format!("{path}.annotations"),
        &mut errs,
    );
    let spec = get(template, "spec").cloned().unwrap_or(Value::Null);
    errs.extend(validate_pod_spec(&spec, &format!("{path}.spec")));
    if !list_of(&spec, "ephemeralContainers").is_empty() {
        errs.push(FieldError::forbidden(
            format!("{path}.spec.ephemeralContainers"),
            "ephemeral containers not allowed in pod template",
        ));
    }
    errs
}

fn container_update_errors(
    new: &Value,
    old: &Value,
    field: &str,
    errs: &mut Vec<FieldError>,
) -> bool {
    let (n, o) = (list_of(new, field), list_of(old, field));
    if n.len() != o.len() {
        errs.push(FieldError::forbidden(
            format!("spec.{field}"),
            "pod updates may not add or remove containers",
        ));
        return true;
    }
    for (i, c) in n.iter().enumerate() {
        let image = str_of(c, "image");
        if image.is_empty() {
            errs.push(FieldError::required(format!("spec.{field}[{i}].image"), ""));
        }
        if image.trim() != image {
            errs.push(FieldError::invalid(
                format!("spec.{field}[{i}].image"),
                image,
                "must not have leading or trailing whitespace",
            ));
        }
    }
    false
}

/// The update rules of upstream's `ValidatePodUpdate` on two (defaulted) pod specs: only
/// images, `activeDeadlineSeconds` (set, or lowered), added tolerations, removed scheduling
/// gates and a negative grace period turned to 1 may change.
pub fn validate_pod_update(new: &Value, old: &Value) -> Vec<FieldError> {
    let mut errs = Vec::new();
    if container_update_errors(new, old, "containers", &mut errs)
        || container_update_errors(new, old, "initContainers", &mut errs)
    {
        return errs;
    }
    let max = i64::from(i32::MAX);
    match (
        int_of(new, "activeDeadlineSeconds"),
        int_of(old, "activeDeadlineSeconds"),
    ) {
        (Some(n), _) if !(0..=max).contains(&n) => {
            errs.push(FieldError::invalid(
                "spec.activeDeadlineSeconds",
                n,
                range_error(0, max),
            ));
            return errs;
        }
        (Some(n), Some(o)) if o < n => {
            errs.push(FieldError::invalid(
                "spec.activeDeadlineSeconds",
                n,
                "must be less than or equal to previous value",
            ));
            return errs;
        }
        (None, Some(_)) => errs.push(FieldError::invalid(
            "spec.activeDeadlineSeconds",
            Value::Null,
            "must not update from a positive integer to nil value",
        )),
        _ => {}
    }
    let new_tolerations = list_of(new, "tolerations");
    let kept = list_of(old, "tolerations").iter().all(|o| {
        new_tolerations.iter().any(|n| {
            let mut o = o.clone();
            if let Some(m) = o.as_object_mut() {
                m.remove("tolerationSeconds");
            }
            let mut n = n.clone();
            if let Some(m) = n.as_object_mut() {
                m.remove("tolerationSeconds");
            }
            semantic_eq(Some(&o), Some(&n))
        })
    });
    if kept {
        validate_tolerations(new_tolerations, "spec.tolerations", &mut errs);
    } else {
        errs.push(FieldError::forbidden(
            "spec.tolerations",
            "existing toleration can not be modified except its tolerationSeconds",
        ));
    }
    let old_gates: HashSet<&str> = list_of(old, "schedulingGates")
        .iter()
        .map(|g| str_of(g, "name"))
        .collect();
    for (i, g) in list_of(new, "schedulingGates").iter().enumerate() {
        let name = str_of(g, "name");
        if !old_gates.contains(name) {
            errs.push(FieldError::forbidden(
                format!("spec.schedulingGates[{i}].name"),
                format!("only deletion is allowed, but found new scheduling gate '{name}'"),
            ));
        }
    }
    if semantic_eq(Some(new), Some(old)) {
        return errs;
    }
    let mut munged = new.clone();
    for field in ["containers", "initContainers"] {
        let olds = list_of(old, field).to_vec();
        if let Some(items) = munged.get_mut(field).and_then(Value::as_array_mut) {
            for (c, o) in items.iter_mut().zip(&olds) {
                if let Some(m) = c.as_object_mut() {
                    m.insert(
                        "image".into(),
                        o.get("image").cloned().unwrap_or(Value::Null),
                    );
                }
            }
        }
    }
    if let Some(m) = munged.as_object_mut() {
        for field in ["activeDeadlineSeconds", "schedulingGates", "tolerations"] {
            match old.get(field) {
                Some(v) => m.insert(field.into(), v.clone()),
                None => m.remove(field),
            };
        }
        let old_grace = int_of(old, "terminationGracePeriodSeconds");
        if old_grace.is_some_and(|g| g < 0)
            && int_of(&munged, "terminationGracePeriodSeconds") == Some(1)
        {
            munged["terminationGracePeriodSeconds"] = old["terminationGracePeriodSeconds"].clone();
        }
    }
    if !list_of(old, "schedulingGates").is_empty() {
        let old_sel = crate::strategy::common::string_map(old.get("nodeSelector"));
        let new_sel = crate::strategy::common::string_map(munged.get("nodeSelector"));
        if old_sel.iter().all(|(k, v)| new_sel.get(k) == Some(v)) {
            munged["nodeSelector"] = old.get("nodeSelector").cloned().unwrap_or(Value::Null);
        }
    }
    if !semantic_eq(Some(&munged), Some(old)) {
        errs.push(FieldError::forbidden(
            "spec",
            format!(
                "pod updates may not change fields other than {}",
                UPDATABLE_POD_SPEC_FIELDS.join(",")
            ),
        ));
    }
    errs
}

/// `spec.ephemeralContainers` may not be set when a pod is created.
pub fn validate_pod_create(spec: &Value) -> Vec<FieldError> {
    let mut errs = validate_pod_spec(spec, "spec");
    if !list_of(spec, "ephemeralContainers").is_empty() {
        errs.push(FieldError::forbidden(
            "spec.ephemeralContainers",
            "cannot be set on create",
        ));
    }
    errs
}

/// An immutable field's error with a value in Go syntax.
pub fn immutable_go(field: impl Into<String>, raw: &str) -> FieldError {
    invalid_go(field, raw, IMMUTABLE)
}

/// Fields an ephemeral container may set (upstream's `allowedEphemeralContainerFields`).
const EPHEMERAL_ALLOWED: &[&str] = &[
    "name",
    "image",
    "command",
    "args",
    "workingDir",
    "env",
    "envFrom",
    "volumeMounts",
    "volumeDevices",
    "terminationMessagePath",
    "terminationMessagePolicy",
    "imagePullPolicy",
    "securityContext",
    "stdin",
    "stdinOnce",
    "tty",
    "targetContainerName",
];

/// Upstream's `validateEphemeralContainers` over a pod spec's `ephemeralContainers`: the
/// common container rules, names unique across every container, a target that is an
/// ordinary container, and none of the fields meant for long-running containers.
pub fn validate_ephemeral_containers(spec: &Value, path: &str) -> Vec<FieldError> {
    let mut errs = Vec::new();
    let list = list_of(spec, "ephemeralContainers");
    if list.is_empty() {
        return errs;
    }
    let vols = validate_volumes(spec, path, &mut Vec::new());
    let mut others = HashSet::new();
    for c in list_of(spec, "containers")
        .iter()
        .chain(list_of(spec, "initContainers"))
    {
        others.insert(str_of(c, "name").to_owned());
    }
    let mut all = others.clone();
    for (i, c) in list.iter().enumerate() {
        let p = format!("{path}.ephemeralContainers[{i}]");
        validate_container_common(c, &vols, &p, &mut errs);
        let name = str_of(c, "name");
        if !all.insert(name.to_owned()) {
            errs.push(FieldError::duplicate(format!("{p}.name"), name));
        }
        let target = str_of(c, "targetContainerName");
        if !target.is_empty() && !others.contains(target) {
            errs.push(FieldError::not_found(
                format!("{p}.targetContainerName"),
                target,
            ));
        }
        for (field, v) in c.as_object().into_iter().flatten() {
            let zero = match v {
                Value::Null => true,
                Value::Object(m) => m.is_empty(),
                Value::Array(a) => a.is_empty(),
                Value::String(s) => s.is_empty(),
                Value::Bool(b) => !b,
                Value::Number(n) => n.as_f64() == Some(0.0),
            };
            if !zero && !EPHEMERAL_ALLOWED.contains(&field.as_str()) {
                errs.push(FieldError::forbidden(
                    format!("{p}.{field}"),
                    "cannot be set for an Ephemeral Container",
                ));
            }
        }
        for (j, m) in list_of(c, "volumeMounts").iter().enumerate() {
            for field in ["subPath", "subPathExpr"] {
                if !str_of(m, field).is_empty() {
                    errs.push(FieldError::forbidden(
                        format!("{p}.volumeMounts[{j}].{field}"),
                        "cannot be set for an Ephemeral Container",
                    ));
                }
            }
        }
    }
    errs
}
