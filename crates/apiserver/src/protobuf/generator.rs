//! The generator of `table.rs`, run as a test: it fails when the committed table differs from
//! what the current `k8s-pb` sources and `k8s-openapi` schemas give, and rewrites it when
//! `SKIFF_REGEN_PROTOBUF=1` is set.
//!
//! Inputs:
//! * the kinds of `typed.rs` (its `kinds!` table, read as text), [`EXTRA_KINDS`] and
//!   `DeleteOptions`;
//! * the `k8s-pb` sources in the cargo registry: prost-build's output, one `#[prost(..)]`
//!   attribute per field (`#[prost(string, optional, tag = "1")] pub name: ..`), from which the
//!   tags, wire types and message types are read;
//! * the `k8s-openapi` schemas (`schemars`), whose property names give the exact JSON names
//!   prost's snake_case lost (`pod_ip` → `podIP`, `cluster_i_ps` → `clusterIPs`), and whose
//!   `required` lists mark fields whose zero value is kept;
//! * [`POINTERS`]: the Go pointer scalar fields, whose zero value is meaningful.
//!
//! Every message reachable from the kinds is emitted; a message without a schema, or a field
//! without a property, fails the test unless the field is listed in [`SKIPPED`]; a message field
//! matching no property whose own fields are properties of the parent is an embedded Go struct
//! (`json:",inline"`), decoded into the parent's JSON object.

use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

/// The Go pointer scalar fields (`*int32`, `*bool`, `*string`, ...) of the messages reachable
/// from the kinds, as `message.jsonName`: on the wire Go writes them only when set, so a zero
/// there is meaningful (`replicas: 0`, `automountServiceAccountToken: false`). Non-pointer
/// fields are always written, and their zero means unset.
const POINTERS: &[&str] = &[
    "api.authentication.v1.TokenRequestSpec.expirationSeconds",
    "api.apps.v1.DaemonSetSpec.revisionHistoryLimit",
    "api.apps.v1.DaemonSetStatus.collisionCount",
    "api.apps.v1.DeploymentSpec.progressDeadlineSeconds",
    "api.apps.v1.DeploymentSpec.replicas",
    "api.apps.v1.DeploymentSpec.revisionHistoryLimit",
    "api.apps.v1.DeploymentStatus.collisionCount",
    "api.apps.v1.DeploymentStatus.terminatingReplicas",
    "api.apps.v1.ReplicaSetSpec.replicas",
    "api.apps.v1.ReplicaSetStatus.terminatingReplicas",
    "api.apps.v1.RollingUpdateStatefulSetStrategy.partition",
    "api.apps.v1.StatefulSetSpec.replicas",
    "api.apps.v1.StatefulSetSpec.revisionHistoryLimit",
    "api.apps.v1.StatefulSetStatus.collisionCount",
    "api.autoscaling.v1.HorizontalPodAutoscalerSpec.minReplicas",
    "api.autoscaling.v1.HorizontalPodAutoscalerSpec.targetCPUUtilizationPercentage",
    "api.autoscaling.v1.HorizontalPodAutoscalerStatus.currentCPUUtilizationPercentage",
    "api.autoscaling.v1.HorizontalPodAutoscalerStatus.observedGeneration",
    "api.autoscaling.v2.HorizontalPodAutoscalerSpec.minReplicas",
    "api.autoscaling.v2.HorizontalPodAutoscalerStatus.observedGeneration",
    "api.autoscaling.v2.HpaScalingRules.selectPolicy",
    "api.autoscaling.v2.HpaScalingRules.stabilizationWindowSeconds",
    "api.autoscaling.v2.MetricTarget.averageUtilization",
    "api.autoscaling.v2.MetricValueStatus.averageUtilization",
    "api.batch.v1.CronJobSpec.failedJobsHistoryLimit",
    "api.batch.v1.CronJobSpec.startingDeadlineSeconds",
    "api.batch.v1.CronJobSpec.successfulJobsHistoryLimit",
    "api.batch.v1.CronJobSpec.suspend",
    "api.batch.v1.CronJobSpec.timeZone",
    "api.batch.v1.JobSpec.activeDeadlineSeconds",
    "api.batch.v1.JobSpec.backoffLimit",
    "api.batch.v1.JobSpec.backoffLimitPerIndex",
    "api.batch.v1.JobSpec.completionMode",
    "api.batch.v1.JobSpec.completions",
    "api.batch.v1.JobSpec.managedBy",
    "api.batch.v1.JobSpec.manualSelector",
    "api.batch.v1.JobSpec.maxFailedIndexes",
    "api.batch.v1.JobSpec.parallelism",
    "api.batch.v1.JobSpec.podReplacementPolicy",
    "api.batch.v1.JobSpec.suspend",
    "api.batch.v1.JobSpec.ttlSecondsAfterFinished",
    "api.batch.v1.JobStatus.failedIndexes",
    "api.batch.v1.JobStatus.ready",
    "api.batch.v1.JobStatus.terminating",
    "api.batch.v1.PodFailurePolicyOnExitCodesRequirement.containerName",
    "api.batch.v1.SuccessPolicyRule.succeededCount",
    "api.batch.v1.SuccessPolicyRule.succeededIndexes",
    "api.coordination.v1.LeaseSpec.holderIdentity",
    "api.coordination.v1.LeaseSpec.leaseDurationSeconds",
    "api.coordination.v1.LeaseSpec.leaseTransitions",
    "api.coordination.v1.LeaseSpec.preferredHolder",
    "api.coordination.v1.LeaseSpec.strategy",
    "api.core.v1.AppArmorProfile.localhostProfile",
    "api.core.v1.AzureDiskVolumeSource.cachingMode",
    "api.core.v1.AzureDiskVolumeSource.fsType",
    "api.core.v1.AzureDiskVolumeSource.kind",
    "api.core.v1.AzureDiskVolumeSource.readOnly",
    "api.core.v1.AzureFilePersistentVolumeSource.secretNamespace",
    "api.core.v1.CSIVolumeSource.fsType",
    "api.core.v1.CSIVolumeSource.readOnly",
    "api.core.v1.ClientIpConfig.timeoutSeconds",
    "api.core.v1.ClusterTrustBundleProjection.name",
    "api.core.v1.ClusterTrustBundleProjection.optional",
    "api.core.v1.ClusterTrustBundleProjection.signerName",
    "api.core.v1.ConfigMap.immutable",
    "api.core.v1.ConfigMapEnvSource.optional",
    "api.core.v1.ConfigMapKeySelector.optional",
    "api.core.v1.ConfigMapProjection.optional",
    "api.core.v1.ConfigMapVolumeSource.defaultMode",
    "api.core.v1.ConfigMapVolumeSource.optional",
    "api.core.v1.Container.restartPolicy",
    "api.core.v1.ContainerStatus.started",
    "api.core.v1.ContainerStatus.stopSignal",
    "api.core.v1.DownwardAPIVolumeFile.mode",
    "api.core.v1.DownwardAPIVolumeSource.defaultMode",
    "api.core.v1.EndpointAddress.nodeName",
    "api.core.v1.EndpointPort.appProtocol",
    "api.core.v1.EphemeralContainerCommon.restartPolicy",
    "api.core.v1.FcVolumeSource.lun",
    "api.core.v1.GlusterfsPersistentVolumeSource.endpointsNamespace",
    "api.core.v1.GrpcAction.service",
    "api.core.v1.HostPathVolumeSource.type",
    "api.core.v1.IscsiPersistentVolumeSource.initiatorName",
    "api.core.v1.IscsiVolumeSource.initiatorName",
    "api.core.v1.KeyToPath.mode",
    "api.core.v1.Lifecycle.stopSignal",
    "api.core.v1.LoadBalancerIngress.ipMode",
    "api.core.v1.LocalVolumeSource.fsType",
    "api.core.v1.NodeFeatures.supplementalGroupsPolicy",
    "api.core.v1.NodeRuntimeHandlerFeatures.recursiveReadOnlyMounts",
    "api.core.v1.NodeRuntimeHandlerFeatures.userNamespaces",
    "api.core.v1.NodeSwapStatus.capacity",
    "api.core.v1.PersistentVolumeClaimSpec.storageClassName",
    "api.core.v1.PersistentVolumeClaimSpec.volumeAttributesClassName",
    "api.core.v1.PersistentVolumeClaimSpec.volumeMode",
    "api.core.v1.PersistentVolumeClaimStatus.currentVolumeAttributesClassName",
    "api.core.v1.PersistentVolumeSpec.volumeAttributesClassName",
    "api.core.v1.PersistentVolumeSpec.volumeMode",
    "api.core.v1.PodDnsConfigOption.value",
    "api.core.v1.PodResourceClaim.resourceClaimName",
    "api.core.v1.PodResourceClaim.resourceClaimTemplateName",
    "api.core.v1.PodResourceClaimStatus.resourceClaimName",
    "api.core.v1.PodSecurityContext.fsGroup",
    "api.core.v1.PodSecurityContext.fsGroupChangePolicy",
    "api.core.v1.PodSecurityContext.runAsGroup",
    "api.core.v1.PodSecurityContext.runAsNonRoot",
    "api.core.v1.PodSecurityContext.runAsUser",
    "api.core.v1.PodSecurityContext.seLinuxChangePolicy",
    "api.core.v1.PodSecurityContext.supplementalGroupsPolicy",
    "api.core.v1.PodSpec.activeDeadlineSeconds",
    "api.core.v1.PodSpec.automountServiceAccountToken",
    "api.core.v1.PodSpec.enableServiceLinks",
    "api.core.v1.PodSpec.hostUsers",
    "api.core.v1.PodSpec.preemptionPolicy",
    "api.core.v1.PodSpec.priority",
    "api.core.v1.PodSpec.runtimeClassName",
    "api.core.v1.PodSpec.setHostnameAsFQDN",
    "api.core.v1.PodSpec.shareProcessNamespace",
    "api.core.v1.PodSpec.terminationGracePeriodSeconds",
    "api.core.v1.PortStatus.error",
    "api.core.v1.Probe.terminationGracePeriodSeconds",
    "api.core.v1.ProjectedVolumeSource.defaultMode",
    "api.core.v1.ReplicationControllerSpec.replicas",
    "api.core.v1.SeccompProfile.localhostProfile",
    "api.core.v1.Secret.immutable",
    "api.core.v1.SecretEnvSource.optional",
    "api.core.v1.SecretKeySelector.optional",
    "api.core.v1.SecretProjection.optional",
    "api.core.v1.SecretVolumeSource.defaultMode",
    "api.core.v1.SecretVolumeSource.optional",
    "api.core.v1.SecurityContext.allowPrivilegeEscalation",
    "api.core.v1.SecurityContext.privileged",
    "api.core.v1.SecurityContext.procMount",
    "api.core.v1.SecurityContext.readOnlyRootFilesystem",
    "api.core.v1.SecurityContext.runAsGroup",
    "api.core.v1.SecurityContext.runAsNonRoot",
    "api.core.v1.SecurityContext.runAsUser",
    "api.core.v1.ServiceAccount.automountServiceAccountToken",
    "api.core.v1.ServiceAccountTokenProjection.expirationSeconds",
    "api.core.v1.ServicePort.appProtocol",
    "api.core.v1.ServiceSpec.allocateLoadBalancerNodePorts",
    "api.core.v1.ServiceSpec.internalTrafficPolicy",
    "api.core.v1.ServiceSpec.ipFamilyPolicy",
    "api.core.v1.ServiceSpec.loadBalancerClass",
    "api.core.v1.ServiceSpec.trafficDistribution",
    "api.core.v1.Toleration.tolerationSeconds",
    "api.core.v1.TopologySpreadConstraint.minDomains",
    "api.core.v1.TopologySpreadConstraint.nodeAffinityPolicy",
    "api.core.v1.TopologySpreadConstraint.nodeTaintsPolicy",
    "api.core.v1.TypedLocalObjectReference.apiGroup",
    "api.core.v1.TypedObjectReference.apiGroup",
    "api.core.v1.TypedObjectReference.namespace",
    "api.core.v1.VolumeMount.mountPropagation",
    "api.core.v1.VolumeMount.recursiveReadOnly",
    "api.core.v1.VolumeMountStatus.recursiveReadOnly",
    "api.core.v1.WindowsSecurityContextOptions.gmsaCredentialSpec",
    "api.core.v1.WindowsSecurityContextOptions.gmsaCredentialSpecName",
    "api.core.v1.WindowsSecurityContextOptions.hostProcess",
    "api.core.v1.WindowsSecurityContextOptions.runAsUserName",
    "api.discovery.v1.Endpoint.hostname",
    "api.discovery.v1.Endpoint.nodeName",
    "api.discovery.v1.Endpoint.zone",
    "api.discovery.v1.EndpointConditions.ready",
    "api.discovery.v1.EndpointConditions.serving",
    "api.discovery.v1.EndpointConditions.terminating",
    "api.discovery.v1.EndpointPort.appProtocol",
    "api.discovery.v1.EndpointPort.name",
    "api.discovery.v1.EndpointPort.port",
    "api.discovery.v1.EndpointPort.protocol",
    "api.networking.v1.IngressClassParametersReference.apiGroup",
    "api.networking.v1.IngressClassParametersReference.namespace",
    "api.networking.v1.IngressClassParametersReference.scope",
    "api.networking.v1.IngressPortStatus.error",
    "api.networking.v1.IngressSpec.ingressClassName",
    "api.networking.v1.NetworkPolicyPort.endPort",
    "api.networking.v1.NetworkPolicyPort.protocol",
    "api.policy.v1.PodDisruptionBudgetSpec.unhealthyPodEvictionPolicy",
    "api.scheduling.v1.PriorityClass.preemptionPolicy",
    "api.storage.v1.CSIDriverSpec.attachRequired",
    "api.storage.v1.CSIDriverSpec.fsGroupPolicy",
    "api.storage.v1.CSIDriverSpec.nodeAllocatableUpdatePeriodSeconds",
    "api.storage.v1.CSIDriverSpec.podInfoOnMount",
    "api.storage.v1.CSIDriverSpec.requiresRepublish",
    "api.storage.v1.CSIDriverSpec.seLinuxMount",
    "api.storage.v1.CSIDriverSpec.storageCapacity",
    "api.storage.v1.StorageClass.allowVolumeExpansion",
    "api.storage.v1.StorageClass.reclaimPolicy",
    "api.storage.v1.StorageClass.volumeBindingMode",
    "api.storage.v1.TokenRequest.expirationSeconds",
    "api.storage.v1.VolumeAttachmentSource.persistentVolumeName",
    "api.storage.v1.VolumeError.errorCode",
    "api.storage.v1.VolumeNodeResources.count",
    "apimachinery.pkg.apis.meta.v1.DeleteOptions.gracePeriodSeconds",
    "apimachinery.pkg.apis.meta.v1.DeleteOptions.ignoreStoreReadErrorWithClusterBreakingPotential",
    "apimachinery.pkg.apis.meta.v1.DeleteOptions.orphanDependents",
    "apimachinery.pkg.apis.meta.v1.DeleteOptions.propagationPolicy",
    "apimachinery.pkg.apis.meta.v1.ObjectMeta.deletionGracePeriodSeconds",
    "apimachinery.pkg.apis.meta.v1.OwnerReference.blockOwnerDeletion",
    "apimachinery.pkg.apis.meta.v1.OwnerReference.controller",
    "apimachinery.pkg.apis.meta.v1.Preconditions.resourceVersion",
    "apimachinery.pkg.apis.meta.v1.Preconditions.uid",
];

/// Fields of `k8s-pb` (built from a newer Kubernetes) that `k8s-openapi`'s schemas do not have,
/// as `message.rust_name`: they are left out of the table, so the decoder skips them, as the
/// server's typed round trip would drop them from JSON.
const SKIPPED: &[&str] = &[
    "api.core.v1.Container.restart_policy_rules",
    "api.core.v1.EnvVarSource.file_key_ref",
    "api.core.v1.EphemeralContainerCommon.restart_policy_rules",
    "api.core.v1.NodeStatus.declared_features",
    "api.core.v1.PodSpec.hostname_override",
    "api.core.v1.PodSpec.workload_ref",
    "api.core.v1.PodStatus.allocated_resources",
    "api.core.v1.PodStatus.extended_resource_claim_status",
    "api.core.v1.PodStatus.resources",
    "api.core.v1.VolumeProjection.pod_certificate",
    "api.storage.v1.CSIDriverSpec.service_account_token_in_secrets",
];

/// The (tag, kind) fields a well-known message must have.
type WireFields = &'static [(u32, &'static str)];

/// Well-known messages with their own JSON form: name, table type, expected fields.
const SPECIAL: &[(&str, &str, WireFields)] = &[
    (
        "apimachinery.pkg.util.intstr.IntOrString",
        "IntOrString",
        &[(1, "int64"), (2, "int32"), (3, "string")],
    ),
    (
        "apimachinery.pkg.api.resource.Quantity",
        "Quantity",
        &[(1, "string")],
    ),
    (
        "apimachinery.pkg.apis.meta.v1.Time",
        "Time",
        &[(1, "int64"), (2, "int32")],
    ),
    (
        "apimachinery.pkg.apis.meta.v1.MicroTime",
        "MicroTime",
        &[(1, "int64"), (2, "int32")],
    ),
    (
        "apimachinery.pkg.apis.meta.v1.Duration",
        "Duration",
        &[(1, "int64")],
    ),
    (
        "apimachinery.pkg.apis.meta.v1.FieldsV1",
        "RawJson",
        &[(1, "bytes")],
    ),
    (
        "apimachinery.pkg.runtime.RawExtension",
        "RawJson",
        &[(1, "bytes")],
    ),
    (
        "api.authentication.v1.ExtraValue",
        "StringList",
        &[(1, "string")],
    ),
    (
        "api.authorization.v1.ExtraValue",
        "StringList",
        &[(1, "string")],
    ),
];

/// A field as prost-build wrote it.
#[derive(Debug, Clone)]
struct PbField {
    tag: u32,
    /// The Rust field name (`r#` removed).
    rust: String,
    /// `One`, `Many` or `Map`.
    card: &'static str,
    /// `string`, `bytes`, `int32`, `int64`, `bool`, `double` or `message`.
    kind: String,
    /// For messages: the full name (`api.core.v1.Container`).
    message: Option<String>,
}

/// Where the `k8s-pb` sources are: the version in Cargo.lock under the cargo registry, else
/// what `cargo metadata` says.
fn k8s_pb_src() -> PathBuf {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let lock = std::fs::read_to_string(root.join("Cargo.lock")).expect("Cargo.lock");
    let version = lock
        .split("[[package]]")
        .find(|p| p.contains("name = \"k8s-pb\""))
        .and_then(|p| p.lines().find_map(|l| l.strip_prefix("version = \"")))
        .map(|v| v.trim_end_matches('"').to_owned())
        .expect("k8s-pb in Cargo.lock");
    let home = std::env::var_os("CARGO_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cargo")));
    if let Some(home) = home
        && let Ok(dirs) = std::fs::read_dir(home.join("registry/src"))
    {
        for d in dirs.flatten() {
            let src = d.path().join(format!("k8s-pb-{version}/src"));
            if src.join("lib.rs").exists() {
                return src;
            }
        }
    }
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let out = std::process::Command::new(cargo)
        .args(["metadata", "--format-version", "1", "--offline"])
        .current_dir(&root)
        .output()
        .expect("cargo metadata");
    let meta: Value = serde_json::from_slice(&out.stdout).expect("cargo metadata JSON");
    let manifest = meta["packages"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|p| p["name"] == "k8s-pb")
        .and_then(|p| p["manifest_path"].as_str())
        .expect("k8s-pb in cargo metadata");
    Path::new(manifest).parent().unwrap().join("src")
}

/// Splits `a, b = "x, y", c` at commas outside quotes.
fn split_attr(s: &str) -> Vec<String> {
    let (mut out, mut cur, mut quoted) = (Vec::new(), String::new(), false);
    for c in s.chars() {
        match c {
            '"' => {
                quoted = !quoted;
                cur.push(c);
            }
            ',' if !quoted => out.push(std::mem::take(&mut cur).trim().to_owned()),
            _ => cur.push(c),
        }
    }
    if !cur.trim().is_empty() {
        out.push(cur.trim().to_owned());
    }
    out
}

/// Resolves a Rust type path written in module `module` to a message's full name.
fn resolve(module: &[String], path: &str) -> String {
    let segs: Vec<&str> = path.trim().split("::").filter(|s| !s.is_empty()).collect();
    let mut out: Vec<String> = if segs.first() == Some(&"crate") {
        Vec::new()
    } else {
        module.to_vec()
    };
    for s in segs {
        match s {
            "crate" => {}
            "super" => {
                out.pop();
            }
            s => out.push(s.to_owned()),
        }
    }
    out.join(".")
}

/// The generic arguments of the outermost type in `ty` (`Option<X>` → `[X]`).
fn generic_args(ty: &str) -> Vec<String> {
    let (Some(start), Some(end)) = (ty.find('<'), ty.rfind('>')) else {
        return vec![ty.trim().to_owned()];
    };
    let inner = &ty[start + 1..end];
    let (mut out, mut cur, mut depth) = (Vec::new(), String::new(), 0);
    for c in inner.chars() {
        match c {
            '<' => {
                depth += 1;
                cur.push(c);
            }
            '>' => {
                depth -= 1;
                cur.push(c);
            }
            ',' if depth == 0 => out.push(std::mem::take(&mut cur).trim().to_owned()),
            _ => cur.push(c),
        }
    }
    if !cur.trim().is_empty() {
        out.push(cur.trim().to_owned());
    }
    out
}

/// Parses one prost-build file into `messages`.
fn parse_file(module: &[String], text: &str, messages: &mut BTreeMap<String, Vec<PbField>>) {
    let mut current: Option<(String, Vec<PbField>)> = None;
    let mut lines = text.lines();
    while let Some(line) = lines.next() {
        if let Some(rest) = line.strip_prefix("pub struct ") {
            if let Some(name) = rest.strip_suffix(" {") {
                current = Some((format!("{}.{name}", module.join(".")), Vec::new()));
            }
            continue;
        }
        if line == "}" {
            if let Some((name, fields)) = current.take() {
                messages.insert(name, fields);
            }
            continue;
        }
        let Some(fields) = current.as_mut().map(|c| &mut c.1) else {
            continue;
        };
        let trimmed = line.trim();
        let Some(attr) = trimmed
            .strip_prefix("#[prost(")
            .and_then(|a| a.strip_suffix(")]"))
        else {
            continue;
        };
        let mut decl = String::new();
        for l in lines.by_ref() {
            decl.push_str(l.trim());
            if decl.ends_with(',') && decl.matches('<').count() == decl.matches('>').count() {
                break;
            }
        }
        let decl = decl.trim_end_matches(',');
        let (name, ty) = decl
            .strip_prefix("pub ")
            .and_then(|d| d.split_once(':'))
            .unwrap_or_else(|| panic!("field declaration {decl:?}"));
        let parts = split_attr(attr);
        let mut tag = None;
        let mut card = "One";
        let mut kind = String::new();
        let mut map_value = None;
        for p in &parts {
            if let Some(t) = p.strip_prefix("tag = \"") {
                tag = Some(t.trim_end_matches('"').parse::<u32>().expect("tag"));
            } else if p == "repeated" {
                card = "Many";
            } else if p == "optional" || p == "boxed" || p.starts_with("packed") {
            } else if let Some(m) = p.strip_prefix("btree_map = \"") {
                let (k, v) = m.trim_end_matches('"').split_once(", ").expect("map types");
                assert_eq!(k, "string", "map keys other than strings: {name}");
                card = "Map";
                map_value = Some(v.to_owned());
            } else if let Some(b) = p.strip_prefix("bytes") {
                assert!(b.is_empty() || b == " = \"vec\"", "bytes kind {p}");
                kind = "bytes".into();
            } else if kind.is_empty() {
                kind = p.clone();
            } else {
                panic!("unknown prost attribute {p:?} of {name}");
            }
        }
        if let Some(v) = map_value {
            kind = v;
        }
        let message = (kind == "message").then(|| {
            let args = generic_args(ty);
            let mut inner = if card == "Map" {
                args[1].clone()
            } else {
                args[0].clone()
            };
            if inner.contains("Box<") {
                inner = generic_args(&inner).remove(0);
            }
            resolve(module, &inner)
        });
        fields.push(PbField {
            tag: tag.expect("a tag"),
            rust: name.trim().trim_start_matches("r#").to_owned(),
            card,
            kind,
            message,
        });
    }
}

/// Every message of `k8s-pb`, by full name.
fn parse_k8s_pb(src: &Path) -> BTreeMap<String, Vec<PbField>> {
    let mut messages = BTreeMap::new();
    let mut dirs = vec![src.to_path_buf()];
    while let Some(dir) = dirs.pop() {
        for entry in std::fs::read_dir(&dir).expect("k8s-pb sources").flatten() {
            let p = entry.path();
            if p.is_dir() {
                dirs.push(p);
            } else if p.file_name().is_some_and(|n| n == "mod.rs") {
                let module: Vec<String> = dir
                    .strip_prefix(src)
                    .unwrap()
                    .components()
                    .map(|c| c.as_os_str().to_string_lossy().into_owned())
                    .collect();
                let text = std::fs::read_to_string(&p).unwrap();
                parse_file(&module, &text, &mut messages);
            }
        }
    }
    messages
}

/// The kinds of `typed.rs`: (group, version, kind, message name).
fn typed_kinds() -> Vec<(String, String, String, String)> {
    let text = include_str!("../typed.rs");
    let mut out = Vec::new();
    for line in text.lines() {
        let line = line.trim();
        let Some((gvk, ty)) = line.strip_prefix('(').and_then(|l| l.split_once(") => ")) else {
            continue;
        };
        let parts: Vec<String> = gvk
            .split(", ")
            .map(|s| s.trim_matches('"').to_owned())
            .collect();
        if parts.len() != 3 || !ty.ends_with(',') {
            continue;
        }
        let ty = ty.trim_end_matches(',');
        let (g, v, k) = (parts[0].clone(), parts[1].clone(), parts[2].clone());
        out.push((g, v, k, format!("api.{}", ty.replace("::", "."))));
    }
    out
}

/// Kinds that are bodies of subresources and not stored, so not in `typed.rs`: (group,
/// version, kind, message).
const EXTRA_KINDS: &[(&str, &str, &str, &str)] = &[(
    "authentication.k8s.io",
    "v1",
    "TokenRequest",
    "api.authentication.v1.TokenRequest",
)];

/// The schemas of the kinds (and `DeleteOptions`), by name (`io.k8s.api.core.v1.Pod`).
fn schemas(kinds: &[(String, String, String, String)]) -> serde_json::Map<String, Value> {
    let mut g = schemars::SchemaGenerator::default();
    for (group, version, kind, _) in kinds {
        if let Some(ops) = crate::typed::ops(group, version, kind) {
            (ops.schema)(&mut g);
        }
    }
    // The schemas of EXTRA_KINDS and DeleteOptions.
    g.subschema_for::<k8s_openapi::api::authentication::v1::TokenRequest>();
    g.subschema_for::<k8s_openapi::apimachinery::pkg::apis::meta::v1::DeleteOptions>();
    g.definitions().clone()
}

/// The JSON properties of a schema and those it requires.
#[derive(Clone)]
struct Props {
    names: Vec<String>,
    required: Vec<String>,
}

impl Props {
    fn of(schema: &Value) -> Self {
        let names = schema
            .get("properties")
            .and_then(Value::as_object)
            .map(|p| p.keys().cloned().collect())
            .unwrap_or_default();
        let required = schema
            .get("required")
            .and_then(Value::as_array)
            .map(|r| {
                r.iter()
                    .filter_map(Value::as_str)
                    .map(str::to_owned)
                    .collect()
            })
            .unwrap_or_default();
        Props { names, required }
    }

    /// The properties whose name is `rust` up to case and underscores.
    fn matching(&self, rust: &str) -> Vec<String> {
        let want = normalize(rust);
        self.names
            .iter()
            .filter(|p| normalize(p) == want)
            .cloned()
            .collect()
    }
}

fn normalize(s: &str) -> String {
    s.chars()
        .filter(|c| *c != '_')
        .flat_map(char::to_lowercase)
        .collect()
}

/// The identifier of a message's static (`api.core.v1.ConfigMap` → `CORE_V1_CONFIG_MAP`).
fn ident(name: &str) -> String {
    let short = name
        .strip_prefix("api.")
        .or_else(|| name.strip_prefix("apimachinery.pkg.apis."))
        .or_else(|| name.strip_prefix("apimachinery.pkg."))
        .unwrap_or(name);
    let mut out = String::new();
    let mut prev_lower = false;
    for c in short.chars() {
        if c == '.' {
            out.push('_');
            prev_lower = false;
        } else if c.is_ascii_uppercase() {
            if prev_lower {
                out.push('_');
            }
            out.push(c);
            prev_lower = false;
        } else {
            out.push(c.to_ascii_uppercase());
            prev_lower = true;
        }
    }
    out
}

/// The generated table, or the problems found.
pub(super) fn generate() -> Result<String, Vec<String>> {
    let pb = parse_k8s_pb(&k8s_pb_src());
    let mut kinds = typed_kinds();
    assert!(kinds.len() > 40, "read the kinds of typed.rs: {kinds:?}");
    for (g, v, k, m) in EXTRA_KINDS {
        kinds.push((g.to_string(), v.to_string(), k.to_string(), m.to_string()));
    }
    let defs = schemas(&kinds);
    let special: BTreeMap<&str, &str> = SPECIAL.iter().map(|(n, t, _)| (*n, *t)).collect();
    let mut problems = Vec::new();

    for (name, _, expected) in SPECIAL {
        let Some(fields) = pb.get(*name) else {
            problems.push(format!("special message {name} is not in k8s-pb"));
            continue;
        };
        let got: Vec<(u32, &str)> = fields.iter().map(|f| (f.tag, f.kind.as_str())).collect();
        if got != *expected {
            problems.push(format!(
                "special message {name}: fields {got:?}, expected {expected:?}"
            ));
        }
    }

    let mut queue: VecDeque<String> = kinds.iter().map(|k| k.3.clone()).collect();
    queue.push_back("apimachinery.pkg.apis.meta.v1.DeleteOptions".into());
    let mut seen: BTreeSet<String> = queue.iter().cloned().collect();
    let mut body = BTreeMap::new();
    let mut used_pointers = BTreeSet::new();
    let mut used_skips = BTreeSet::new();
    let mut inline_props: BTreeMap<String, Props> = BTreeMap::new();
    let schema_by_lower: BTreeMap<String, &Value> =
        defs.iter().map(|(k, v)| (k.to_lowercase(), v)).collect();
    let mut candidates = Vec::new();
    while let Some(name) = queue.pop_front() {
        let Some(fields) = pb.get(&name) else {
            problems.push(format!("message {name} is not in k8s-pb"));
            continue;
        };
        // k8s-pb renames some messages (`PodDNSConfig` → `PodDnsConfig`): match case-blind.
        let props = match schema_by_lower.get(&format!("io.k8s.{name}").to_lowercase()) {
            Some(schema) => Props::of(schema),
            None => match inline_props.get(&name) {
                Some(p) => p.clone(),
                None => {
                    problems.push(format!("message {name} has no k8s-openapi schema"));
                    continue;
                }
            },
        };
        let mut fields = fields.clone();
        fields.sort_by_key(|f| f.tag);
        let mut lines = String::new();
        for f in &fields {
            let key = format!("{name}.{}", f.rust);
            if SKIPPED.contains(&key.as_str()) {
                used_skips.insert(key);
                continue;
            }
            let found = props.matching(&f.rust);
            let child = f.message.as_deref().filter(|m| !special.contains_key(m));
            let json = match (found.as_slice(), child) {
                ([one], _) => one.clone(),
                // An embedded Go struct (`json:",inline"`): its own proto field, whose fields
                // are the parent's JSON properties.
                ([], Some(m))
                    if pb.get(m).is_some_and(|cf| {
                        cf.iter().any(|c| props.matching(&c.rust).len() == 1)
                    }) =>
                {
                    inline_props
                        .entry(m.to_owned())
                        .or_insert_with(|| props.clone());
                    if seen.insert(m.to_owned()) {
                        queue.push_back(m.to_owned());
                    }
                    writeln!(
                        lines,
                        "    f({}, \"\", One, Inline(&{}), false),",
                        f.tag,
                        ident(m)
                    )
                    .unwrap();
                    continue;
                }
                _ => {
                    problems.push(format!(
                        "field {key} matches {found:?} among the properties {:?}",
                        props.names
                    ));
                    continue;
                }
            };
            let ty = match f.kind.as_str() {
                "string" => "Str".to_owned(),
                "bytes" => "Bytes".to_owned(),
                "bool" => "Bool".to_owned(),
                "int32" => "I32".to_owned(),
                "int64" => "I64".to_owned(),
                "double" => "F64".to_owned(),
                "message" => {
                    let m = f.message.clone().expect("message type");
                    match special.get(m.as_str()) {
                        Some(t) => (*t).to_owned(),
                        None => {
                            if seen.insert(m.clone()) {
                                queue.push_back(m.clone());
                            }
                            format!("Msg(&{})", ident(&m))
                        }
                    }
                }
                other => {
                    problems.push(format!("field {key} has the unsupported type {other}"));
                    continue;
                }
            };
            let pointer_key = format!("{name}.{json}");
            let pointer = POINTERS.contains(&pointer_key.as_str());
            if pointer {
                used_pointers.insert(pointer_key.clone());
            }
            let required = props.required.contains(&json);
            let keep = required || pointer;
            if f.card == "One" && f.kind != "message" && !required {
                candidates.push(format!(
                    "{pointer_key} {}{}",
                    f.kind,
                    if pointer { " POINTER" } else { "" }
                ));
            }
            writeln!(
                lines,
                "    f({}, {:?}, {}, {ty}, {keep}),",
                f.tag, json, f.card
            )
            .unwrap();
        }
        body.insert(name, lines);
    }
    if let Some(p) = std::env::var_os("SKIFF_PROTOBUF_CANDIDATES") {
        std::fs::write(p, candidates.join("\n")).unwrap();
    }
    for p in POINTERS {
        if !used_pointers.contains(*p) {
            problems.push(format!(
                "POINTERS lists {p}, which is not a field of the table"
            ));
        }
    }
    for k in SKIPPED {
        if !used_skips.contains(*k) {
            problems.push(format!(
                "SKIPPED lists {k}, which is not a field of the table"
            ));
        }
    }
    let idents: BTreeSet<String> = body.keys().map(|n| ident(n)).collect();
    if idents.len() != body.len() {
        problems.push("two messages have the same identifier".into());
    }
    if !problems.is_empty() {
        return Err(problems);
    }

    let mut out = String::new();
    out.push_str(
        "// @generated by `protobuf::generator::table_is_up_to_date` (crates/apiserver/src/protobuf/generator.rs)\n\
         // from the k8s-pb sources and the k8s-openapi schemas of the kinds in typed.rs.\n\
         // Do not edit: run `SKIFF_REGEN_PROTOBUF=1 cargo test -p skiff-apiserver protobuf::generator`.\n\
         //\n\
         // f(tag, JSON name, cardinality, type, keep zero value)\n\n\
         use super::{f, Card::*, Message, Ty::*};\n\n\
         /// The kinds by `apiVersion` and `kind`.\n\
         pub(super) static KINDS: &[(&str, &str, &Message)] = &[\n",
    );
    for (g, v, k, m) in &kinds {
        let api_version = if g.is_empty() {
            v.clone()
        } else {
            format!("{g}/{v}")
        };
        writeln!(out, "    ({api_version:?}, {k:?}, &{}),", ident(m)).unwrap();
    }
    out.push_str("];\n");
    for (name, lines) in &body {
        write!(
            out,
            "\npub(super) static {}: Message = Message {{\n    name: {name:?},\n    fields: &[\n",
            ident(name)
        )
        .unwrap();
        for l in lines.lines() {
            writeln!(out, "    {l}").unwrap();
        }
        out.push_str("    ],\n};\n");
    }
    Ok(out)
}

#[test]
fn table_is_up_to_date() {
    let generated = match generate() {
        Ok(t) => t,
        Err(problems) => panic!(
            "the protobuf table cannot be generated:\n{}",
            problems.join("\n")
        ),
    };
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("src/protobuf/table.rs");
    let committed = std::fs::read_to_string(&path).unwrap_or_default();
    if committed != generated {
        if std::env::var_os("SKIFF_REGEN_PROTOBUF").is_some() {
            std::fs::write(&path, &generated).unwrap();
        } else {
            panic!(
                "{} is out of date: run `SKIFF_REGEN_PROTOBUF=1 cargo test -p skiff-apiserver protobuf::generator`",
                path.display()
            );
        }
    }
}
