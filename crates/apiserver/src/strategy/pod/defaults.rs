//! Pod defaulting: upstream's `SetDefaults_PodSpec` and every default reached from a pod spec
//! in `pkg/apis/core/v1` (containers, ports, probes, env, volumes, resource lists), applied to
//! pods and to every pod template; plus `SetDefaults_Pod`, which only pods get.
//!
//! Everything works on JSON in place: fields the client set are never touched.

use crate::strategy::common::{
    child_mut, each_mut, ensure_object, get, list_of, set_default, set_default_int,
    set_default_str, str_of,
};
use crate::strategy::quantity;
use serde_json::{Value, json};

/// The volume sources a `Volume` may name, in the order upstream validates them.
pub const VOLUME_SOURCES: &[&str] = &[
    "hostPath",
    "emptyDir",
    "gitRepo",
    "gcePersistentDisk",
    "awsElasticBlockStore",
    "secret",
    "nfs",
    "iscsi",
    "glusterfs",
    "flocker",
    "persistentVolumeClaim",
    "rbd",
    "quobyte",
    "cinder",
    "cephfs",
    "flexVolume",
    "downwardAPI",
    "fc",
    "azureFile",
    "vsphereVolume",
    "azureDisk",
    "photonPersistentDisk",
    "portworxVolume",
    "scaleIO",
    "configMap",
    "storageos",
    "projected",
    "csi",
    "ephemeral",
    "image",
];

/// Upstream's default file mode of secret, config map, downward API and projected volumes
/// (0644).
pub const DEFAULT_MODE: i64 = 420;

/// Whether a resource list holds only quantities that parse; the first bad one's error.
pub fn check_resource_list(list: Option<&Value>) -> Result<(), quantity::QuantityError> {
    if let Some(m) = list.and_then(Value::as_object) {
        for v in m.values() {
            quantity::from_json(v)?;
        }
    }
    Ok(())
}

/// Upstream's `SetDefaults_ResourceList` plus the canonical form quantities are written
/// back in: every quantity rounded up to milli precision and spelled canonically.
pub fn default_resource_list(list: Option<&mut Value>) {
    let Some(m) = list.and_then(Value::as_object_mut) else {
        return;
    };
    for v in m.values_mut() {
        if let Ok(mut q) = quantity::from_json(v) {
            q.round_up_milli();
            *v = json!(q.to_string());
        }
    }
}

/// Every resource list in a pod spec (containers of all kinds, overhead, pod resources and
/// ephemeral volume claims), for checking or defaulting.
pub fn resource_lists(spec: &Value) -> Vec<&Value> {
    let mut out = Vec::new();
    for kind in ["containers", "initContainers", "ephemeralContainers"] {
        for c in list_of(spec, kind) {
            if let Some(r) = get(c, "resources") {
                out.extend(get(r, "limits"));
                out.extend(get(r, "requests"));
            }
        }
    }
    out.extend(get(spec, "overhead"));
    if let Some(r) = get(spec, "resources") {
        out.extend(get(r, "limits"));
        out.extend(get(r, "requests"));
    }
    for vol in list_of(spec, "volumes") {
        if let Some(r) = get(vol, "ephemeral")
            .and_then(|e| get(e, "volumeClaimTemplate"))
            .and_then(|t| get(t, "spec"))
            .and_then(|s| get(s, "resources"))
        {
            out.extend(get(r, "limits"));
            out.extend(get(r, "requests"));
        }
    }
    out
}

fn default_requirements(r: &mut Value) {
    default_resource_list(r.get_mut("limits"));
    default_resource_list(r.get_mut("requests"));
}

/// The tag upstream's `parsers.ParseImageName` finds: `latest` when the reference names
/// neither a tag nor a digest, `""` when it does not parse.
pub fn image_tag(image: &str) -> String {
    let (rest, digest) = match image.split_once('@') {
        Some((r, d)) => (r, Some(d)),
        None => (image, None),
    };
    if let Some(d) = digest {
        let ok = d.split_once(':').is_some_and(|(alg, hex)| {
            !alg.is_empty() && hex.len() >= 32 && hex.bytes().all(|b| b.is_ascii_hexdigit())
        });
        if !ok {
            return String::new();
        }
    }
    let last_slash = rest.rfind('/').map_or(0, |i| i + 1);
    let (name, tag) = match rest[last_slash..].rfind(':') {
        Some(i) => (&rest[..last_slash + i], Some(&rest[last_slash + i + 1..])),
        None => (rest, None),
    };
    if !valid_repository(name) {
        return String::new();
    }
    match tag {
        Some(t) => {
            let valid = !t.is_empty()
                && t.len() <= 128
                && (t.as_bytes()[0].is_ascii_alphanumeric() || t.starts_with('_'))
                && t.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.' | b'-'));
            if valid { t.to_owned() } else { String::new() }
        }
        None if digest.is_some() => String::new(),
        None => "latest".to_owned(),
    }
}

/// A repository name as the docker reference grammar accepts it (a domain may lead; the path
/// components are lower case).
fn valid_repository(name: &str) -> bool {
    if name.is_empty() || name.len() > 255 {
        return false;
    }
    if name.len() == 64 && name.bytes().all(|b| b.is_ascii_hexdigit()) {
        return false;
    }
    let mut parts: Vec<&str> = name.split('/').collect();
    let first = parts[0];
    let has_domain = parts.len() > 1
        && (first.contains(['.', ':']) || first == "localhost" || first != first.to_lowercase());
    if has_domain {
        let host = first.split(':').next().unwrap_or_default();
        let port_ok = first
            .split_once(':')
            .is_none_or(|(_, p)| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()));
        let host_ok = !host.is_empty()
            && host.split('.').all(|l| {
                !l.is_empty()
                    && !l.starts_with('-')
                    && !l.ends_with('-')
                    && l.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
            });
        if !(host_ok && port_ok) {
            return false;
        }
        parts.remove(0);
    }
    !parts.is_empty() && parts.iter().all(|c| valid_path_component(c))
}

/// `[a-z0-9]+(?:(?:[._]|__|[-]+)[a-z0-9]+)*`
fn valid_path_component(c: &str) -> bool {
    let b = c.as_bytes();
    let alnum = |x: &u8| x.is_ascii_lowercase() || x.is_ascii_digit();
    if b.is_empty() || !alnum(&b[0]) || !alnum(&b[b.len() - 1]) {
        return false;
    }
    let mut i = 0;
    while i < b.len() {
        if alnum(&b[i]) {
            i += 1;
            continue;
        }
        let start = i;
        while i < b.len() && !alnum(&b[i]) {
            i += 1;
        }
        let sep = &c[start..i];
        let ok = sep == "." || sep == "_" || sep == "__" || sep.bytes().all(|x| x == b'-');
        if !ok {
            return false;
        }
    }
    true
}

fn default_http_get(handler: &mut Value) {
    if let Some(h) = child_mut(handler, "httpGet") {
        set_default_str(h, "path", "/");
        set_default_str(h, "scheme", "HTTP");
    }
}

fn default_probe(probe: &mut Value) {
    set_default_int(probe, "timeoutSeconds", 1);
    set_default_int(probe, "periodSeconds", 10);
    set_default_int(probe, "successThreshold", 1);
    set_default_int(probe, "failureThreshold", 3);
    default_http_get(probe);
    if let Some(g) = child_mut(probe, "grpc") {
        set_default(g, "service", json!(""));
    }
}

/// Upstream's `SetDefaults_Container` and the defaults of what a container holds.
pub fn default_container(c: &mut Value) {
    if !c.is_object() {
        return;
    }
    if str_of(c, "imagePullPolicy").is_empty() {
        let policy = if image_tag(str_of(c, "image")) == "latest" {
            "Always"
        } else {
            "IfNotPresent"
        };
        c["imagePullPolicy"] = json!(policy);
    }
    set_default_str(c, "terminationMessagePath", "/dev/termination-log");
    set_default_str(c, "terminationMessagePolicy", "File");
    each_mut(c, "ports", |p| set_default_str(p, "protocol", "TCP"));
    each_mut(c, "env", |e| {
        if let Some(f) = child_mut(e, "valueFrom").and_then(|v| child_mut(v, "fieldRef")) {
            set_default_str(f, "apiVersion", "v1");
        }
    });
    if let Some(r) = ensure_object(c, "resources") {
        default_requirements(r);
    }
    for probe in ["livenessProbe", "readinessProbe", "startupProbe"] {
        if let Some(p) = child_mut(c, probe) {
            default_probe(p);
        }
    }
    if let Some(l) = child_mut(c, "lifecycle") {
        for hook in ["postStart", "preStop"] {
            if let Some(h) = child_mut(l, hook) {
                default_http_get(h);
            }
        }
    }
}

fn default_downward_items(source: &mut Value) {
    each_mut(source, "items", |item| {
        if let Some(f) = child_mut(item, "fieldRef") {
            set_default_str(f, "apiVersion", "v1");
        }
    });
}

/// Upstream's `SetDefaults_Volume` and the defaults of each volume source.
pub fn default_volume(vol: &mut Value) {
    let Some(m) = vol.as_object() else {
        return;
    };
    if !m.iter().any(|(k, v)| k != "name" && !v.is_null()) {
        vol["emptyDir"] = json!({});
    }
    if let Some(h) = child_mut(vol, "hostPath") {
        set_default(h, "type", json!(""));
    }
    for source in ["secret", "configMap"] {
        if let Some(s) = child_mut(vol, source) {
            set_default(s, "defaultMode", json!(DEFAULT_MODE));
        }
    }
    if let Some(d) = child_mut(vol, "downwardAPI") {
        set_default(d, "defaultMode", json!(DEFAULT_MODE));
        default_downward_items(d);
    }
    if let Some(p) = child_mut(vol, "projected") {
        set_default(p, "defaultMode", json!(DEFAULT_MODE));
        each_mut(p, "sources", |s| {
            if let Some(d) = child_mut(s, "downwardAPI") {
                default_downward_items(d);
            }
            if let Some(t) = child_mut(s, "serviceAccountToken") {
                set_default(t, "expirationSeconds", json!(3600));
            }
        });
    }
    if let Some(i) = child_mut(vol, "iscsi") {
        set_default_str(i, "iscsiInterface", "default");
    }
    if let Some(r) = child_mut(vol, "rbd") {
        set_default_str(r, "pool", "rbd");
        set_default_str(r, "user", "admin");
        set_default_str(r, "keyring", "/etc/ceph/keyring");
    }
    if let Some(a) = child_mut(vol, "azureDisk") {
        set_default(a, "cachingMode", json!("ReadWrite"));
        set_default(a, "fsType", json!("ext4"));
        set_default(a, "readOnly", json!(false));
        set_default(a, "kind", json!("Shared"));
    }
    if let Some(s) = child_mut(vol, "scaleIO") {
        set_default_str(s, "storageMode", "ThinProvisioned");
        set_default_str(s, "fsType", "xfs");
    }
    if let Some(spec) = child_mut(vol, "ephemeral")
        .and_then(|e| child_mut(e, "volumeClaimTemplate"))
        .and_then(|t| child_mut(t, "spec"))
    {
        set_default(spec, "volumeMode", json!("Filesystem"));
        if let Some(r) = child_mut(spec, "resources") {
            default_requirements(r);
        }
    }
}

/// Upstream's `SetDefaults_PodSpec` with the defaults of everything in the spec (what every
/// pod template gets).
pub fn default_pod_spec(spec: &mut Value) {
    if !spec.is_object() {
        return;
    }
    set_default_str(spec, "dnsPolicy", "ClusterFirst");
    set_default_str(spec, "restartPolicy", "Always");
    set_default(spec, "securityContext", json!({}));
    set_default(spec, "terminationGracePeriodSeconds", json!(30));
    set_default_str(spec, "schedulerName", "default-scheduler");
    each_mut(spec, "volumes", default_volume);
    for kind in ["containers", "initContainers", "ephemeralContainers"] {
        each_mut(spec, kind, default_container);
    }
    default_resource_list(spec.get_mut("overhead"));
    if let Some(r) = child_mut(spec, "resources") {
        default_requirements(r);
    }
}

/// Upstream's `SetDefaults_Pod` (pods only, after [`default_pod_spec`]): requests default
/// to limits, service links are on, and host-network pods expose container ports on the host.
pub fn default_pod(spec: &mut Value) {
    if !spec.is_object() {
        return;
    }
    for kind in ["containers", "initContainers"] {
        each_mut(spec, kind, |c| {
            let Some(r) = child_mut(c, "resources") else {
                return;
            };
            let Some(limits) = get(r, "limits").and_then(Value::as_object).cloned() else {
                return;
            };
            if let Some(requests) = ensure_object(r, "requests").and_then(Value::as_object_mut) {
                for (k, v) in limits {
                    requests.entry(k).or_insert(v);
                }
            }
        });
    }
    set_default(spec, "enableServiceLinks", json!(true));
    if spec.get("hostNetwork").and_then(Value::as_bool) == Some(true) {
        for kind in ["containers", "initContainers"] {
            each_mut(spec, kind, |c| {
                each_mut(c, "ports", |p| {
                    let container_port = p.get("containerPort").cloned().unwrap_or(json!(0));
                    if p.get("hostPort").and_then(Value::as_i64).unwrap_or(0) == 0 {
                        p["hostPort"] = container_port;
                    }
                });
            });
        }
    }
}

/// Defaults of a `PodTemplateSpec`: those of its pod spec.
///
/// Upstream 1.33 also writes the template's zero `metadata.creationTimestamp` as `null`;
/// that null is left out here, as the field management of server-side apply drops nulls.
pub fn default_template(template: &mut Value) {
    if !template.is_object() {
        return;
    }
    if let Some(spec) = ensure_object(template, "spec") {
        default_pod_spec(spec);
    }
}
