//! VolumeBinding (upstream's `volumebinding` plugin), for pods whose claims are already
//! bound.
//!
//! PreFilter checks every PersistentVolumeClaim the pod mounts (including generic ephemeral
//! volumes' claims): it must exist, not be lost or being deleted, and be bound. Filter then
//! requires each bound PersistentVolume's `spec.nodeAffinity` to match the node.
//!
//! Binding is not done here: the scheduler has no PreBind step to pick a volume or trigger
//! provisioning. An unbound claim therefore rejects the pod with upstream's
//! `pod has unbound immediate PersistentVolumeClaims` whatever its binding mode (upstream
//! says so for `Immediate` claims only, and binds `WaitForFirstConsumer` ones itself), until
//! a controller binds it and the PersistentVolumeClaim event requeues the pod.

use crate::framework::{
    ClusterEvent, CycleState, EventResource, FilterPlugin, NodeInfo, Plugin, PluginSet, PodInfo,
    PreFilterPlugin, PreFilterResult, Snapshot, Status, action,
};
use crate::plugin_set;
use crate::plugins::node_affinity::NodeSelector;
use crate::plugins::node_resources::ShapePoint;
use crate::plugins::{decode_args, names};
use k8s_openapi::api::core::v1::PersistentVolumeClaim;
use k8s_openapi::api::storage::v1::StorageClass;
use serde::Deserialize;
use serde_json::Value;
use skiff_core::labels::go_quote;
use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

/// The PreFilter reason for claims that are not bound.
pub const ERR_REASON_UNBOUND_IMMEDIATE: &str = "pod has unbound immediate PersistentVolumeClaims";
/// The Filter reason when a bound volume's node affinity excludes the node.
pub const ERR_REASON_NODE_CONFLICT: &str = "node(s) had volume node affinity conflict";
/// The Filter reason when a claim is bound to a volume that does not exist.
pub const ERR_REASON_PV_NOT_EXIST: &str =
    "node(s) unavailable due to one or more pvc(s) bound to non-existent pv(s)";

/// The annotation the PV controller sets once a claim is fully bound.
pub const ANN_BIND_COMPLETED: &str = "pv.kubernetes.io/bind-completed";
/// The deprecated storage class annotation, which wins over `spec.storageClassName`.
pub const ANN_BETA_STORAGE_CLASS: &str = "volume.beta.kubernetes.io/storage-class";

const STATE_KEY: &str = "VolumeBinding";

/// `VolumeBindingArgs`.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct Args {
    #[serde(default)]
    bind_timeout_seconds: Option<i64>,
    #[serde(default)]
    shape: Option<Vec<ShapePoint>>,
}

/// What PreFilter found for one bound claim.
#[derive(Clone, Debug)]
enum BoundVolume {
    /// The volume does not exist.
    Missing,
    /// The volume's required node affinity (`None`: any node).
    Affinity(Option<NodeSelector>),
}

/// The pod's bound volumes, computed in PreFilter.
#[derive(Clone, Debug)]
struct BoundVolumes(Vec<BoundVolume>);

/// The VolumeBinding plugin.
#[derive(Clone, Debug)]
pub struct VolumeBinding {
    bind_timeout: Duration,
}

impl VolumeBinding {
    /// How long binding may take (`bindTimeoutSeconds`; unused while the scheduler does not
    /// bind volumes).
    pub fn bind_timeout(&self) -> Duration {
        self.bind_timeout
    }
}

fn claim_class(pvc: &PersistentVolumeClaim) -> &str {
    if let Some(c) = pvc
        .metadata
        .annotations
        .as_ref()
        .and_then(|a| a.get(ANN_BETA_STORAGE_CLASS))
    {
        return c;
    }
    pvc.spec
        .as_ref()
        .and_then(|s| s.storage_class_name.as_deref())
        .unwrap_or("")
}

/// Whether the claim's class binds on first consumer (upstream's `IsDelayBindingMode`).
fn is_delay_binding(
    pvc: &PersistentVolumeClaim,
    classes: &HashMap<String, Arc<StorageClass>>,
) -> Result<bool, String> {
    let name = claim_class(pvc);
    if name.is_empty() {
        return Ok(false);
    }
    let Some(class) = classes.get(name) else {
        return Ok(false);
    };
    match class.volume_binding_mode.as_deref() {
        None => Err(format!(
            "VolumeBindingMode not set for StorageClass {}",
            go_quote(name)
        )),
        Some(mode) => Ok(mode == "WaitForFirstConsumer"),
    }
}

fn volume_name(pvc: &PersistentVolumeClaim) -> &str {
    pvc.spec
        .as_ref()
        .and_then(|s| s.volume_name.as_deref())
        .unwrap_or("")
}

fn is_fully_bound(pvc: &PersistentVolumeClaim) -> bool {
    !volume_name(pvc).is_empty()
        && pvc
            .metadata
            .annotations
            .as_ref()
            .is_some_and(|a| a.contains_key(ANN_BIND_COMPLETED))
}

/// Whether the pod controls the claim (upstream's `ephemeral.VolumeIsForPod`).
fn claim_is_for_pod(pvc: &PersistentVolumeClaim, pod: &PodInfo) -> bool {
    pvc.metadata.namespace.as_deref().unwrap_or("") == pod.namespace
        && pvc
            .metadata
            .owner_references
            .iter()
            .flatten()
            .any(|o| o.controller == Some(true) && o.uid == pod.uid)
}

impl Plugin for VolumeBinding {
    fn name(&self) -> &'static str {
        names::VOLUME_BINDING
    }

    fn events(&self) -> Vec<ClusterEvent> {
        vec![
            // A missing or misconfigured class may be fixed.
            ClusterEvent::new(EventResource::StorageClass, action::ADD | action::UPDATE),
            // Claims get created and bound.
            ClusterEvent::new(
                EventResource::PersistentVolumeClaim,
                action::ADD | action::UPDATE,
            ),
            ClusterEvent::new(
                EventResource::PersistentVolume,
                action::ADD | action::UPDATE,
            ),
            // A node may come to match a volume's node affinity.
            ClusterEvent::new(EventResource::Node, action::ADD | action::UPDATE_NODE_LABEL),
        ]
    }
}

impl PreFilterPlugin for VolumeBinding {
    fn pre_filter(
        &self,
        state: &mut CycleState,
        pod: &PodInfo,
        snapshot: &Snapshot,
    ) -> (PreFilterResult, Status) {
        let volumes = pod
            .pod
            .spec
            .as_ref()
            .and_then(|s| s.volumes.as_deref())
            .unwrap_or_default();
        let objects = &snapshot.objects;
        let mut claims: Vec<&PersistentVolumeClaim> = Vec::new();
        for vol in volumes {
            let (claim, ephemeral) = if let Some(src) = &vol.persistent_volume_claim {
                (src.claim_name.clone(), false)
            } else if vol.ephemeral.is_some() {
                (format!("{}-{}", pod.name, vol.name), true)
            } else {
                continue;
            };
            let Some(pvc) = objects.pvcs.get(&format!("{}/{}", pod.namespace, claim)) else {
                let reason = if ephemeral {
                    format!(
                        "waiting for ephemeral volume controller to create the persistentvolumeclaim {}",
                        go_quote(&claim)
                    )
                } else {
                    format!("persistentvolumeclaim {} not found", go_quote(&claim))
                };
                return (None, Status::unresolvable(reason));
            };
            let phase = pvc.status.as_ref().and_then(|s| s.phase.as_deref());
            if phase == Some("Lost") {
                return (
                    None,
                    Status::unresolvable(format!(
                        "persistentvolumeclaim {} bound to non-existent persistentvolume {}",
                        go_quote(&claim),
                        go_quote(volume_name(pvc))
                    )),
                );
            }
            if pvc.metadata.deletion_timestamp.is_some() {
                return (
                    None,
                    Status::unresolvable(format!(
                        "persistentvolumeclaim {} is being deleted",
                        go_quote(&claim)
                    )),
                );
            }
            if ephemeral && !claim_is_for_pod(pvc, pod) {
                return (
                    None,
                    Status::unresolvable(format!(
                        "PVC {}/{} was not created for pod {}/{} (pod is not owner)",
                        pvc.metadata.namespace.as_deref().unwrap_or(""),
                        claim,
                        pod.namespace,
                        pod.name
                    )),
                );
            }
            claims.push(pvc);
        }
        if claims.is_empty() {
            return (None, Status::skip());
        }
        let mut bound = Vec::with_capacity(claims.len());
        let mut unbound = false;
        for pvc in claims {
            if is_fully_bound(pvc) {
                bound.push(match objects.pvs.get(volume_name(pvc)) {
                    None => BoundVolume::Missing,
                    Some(pv) => BoundVolume::Affinity(
                        pv.spec
                            .as_ref()
                            .and_then(|s| s.node_affinity.as_ref())
                            .and_then(|a| a.required.as_ref())
                            .map(|ns| NodeSelector::new(ns, "")),
                    ),
                });
                continue;
            }
            // Classify as upstream does, so a class without a binding mode is still an
            // error; delayed binding is not done here either (see the module docs).
            if let Err(e) = is_delay_binding(pvc, &objects.storage_classes) {
                return (None, Status::error(e));
            }
            unbound = true;
        }
        if unbound {
            return (None, Status::unresolvable(ERR_REASON_UNBOUND_IMMEDIATE));
        }
        state.write(STATE_KEY, BoundVolumes(bound));
        (None, Status::success())
    }
}

impl FilterPlugin for VolumeBinding {
    fn filter(&self, state: &CycleState, _pod: &PodInfo, node: &NodeInfo) -> Status {
        let Some(volumes) = state.read::<BoundVolumes>(STATE_KEY) else {
            return Status::error(format!(
                "reading {} from cycleState: not found",
                go_quote(STATE_KEY)
            ));
        };
        for v in &volumes.0 {
            match v {
                BoundVolume::Missing => return Status::unresolvable(ERR_REASON_PV_NOT_EXIST),
                // The volume's affinity is checked against the node's labels only.
                BoundVolume::Affinity(Some(sel)) if !sel.matches(&node.labels, "") => {
                    return Status::unresolvable(ERR_REASON_NODE_CONFLICT);
                }
                BoundVolume::Affinity(_) => {}
            }
        }
        Status::success()
    }
}

/// Builds VolumeBinding from `VolumeBindingArgs` (`bindTimeoutSeconds`; `shape` needs the
/// StorageCapacityScoring feature, which is off).
pub fn new(args: Option<&Value>) -> Result<PluginSet, String> {
    let args: Args = decode_args(args)?;
    let mut errs = Vec::new();
    let timeout = args.bind_timeout_seconds.unwrap_or(600);
    if timeout < 0 {
        errs.push(format!(
            "bindTimeoutSeconds: Invalid value: {timeout}: invalid BindTimeoutSeconds, should not be a negative value"
        ));
    }
    if args.shape.is_some() {
        errs.push(
            "shape: Invalid value: unexpected field `shape`, remove it or turn on the feature gate StorageCapacityScoring"
                .to_owned(),
        );
    }
    match errs.len() {
        0 => {}
        1 => return Err(errs.remove(0)),
        _ => return Err(format!("[{}]", errs.join(", "))),
    }
    let pl = VolumeBinding {
        bind_timeout: Duration::from_secs(timeout.unsigned_abs()),
    };
    Ok(plugin_set!(pl, pre_filter, filter))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::framework::{Code, Objects};
    use crate::plugins::testing::{
        PodBuilder, feasible, node, requirement, run_filter, selector_term, snapshot_objects,
    };
    use k8s_openapi::api::core::v1::{
        NodeSelector as ApiNodeSelector, PersistentVolume, PersistentVolumeClaimSpec,
        PersistentVolumeClaimStatus, PersistentVolumeSpec, VolumeNodeAffinity,
    };
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::{ObjectMeta, OwnerReference, Time};
    use serde_json::json;
    use std::collections::BTreeMap;

    const WAIT: &str = "wait-sc";
    const IMMEDIATE: &str = "immediate-sc";

    fn pvc(name: &str, class: &str) -> PersistentVolumeClaim {
        PersistentVolumeClaim {
            metadata: ObjectMeta {
                name: Some(name.into()),
                namespace: Some("default".into()),
                ..Default::default()
            },
            spec: Some(PersistentVolumeClaimSpec {
                storage_class_name: Some(class.into()),
                ..Default::default()
            }),
            status: None,
        }
    }

    fn bound(mut c: PersistentVolumeClaim, pv: &str) -> PersistentVolumeClaim {
        c.spec.as_mut().unwrap().volume_name = Some(pv.into());
        c.metadata.annotations = Some(BTreeMap::from([(
            ANN_BIND_COMPLETED.to_owned(),
            "yes".to_owned(),
        )]));
        c.status = Some(PersistentVolumeClaimStatus {
            phase: Some("Bound".into()),
            ..Default::default()
        });
        c
    }

    fn pv(name: &str, hostnames: &[&str]) -> PersistentVolume {
        PersistentVolume {
            metadata: ObjectMeta {
                name: Some(name.into()),
                ..Default::default()
            },
            spec: Some(PersistentVolumeSpec {
                node_affinity: (!hostnames.is_empty()).then(|| VolumeNodeAffinity {
                    required: Some(ApiNodeSelector {
                        node_selector_terms: vec![selector_term(
                            vec![requirement("kubernetes.io/hostname", "In", hostnames)],
                            vec![],
                        )],
                    }),
                }),
                ..Default::default()
            }),
            status: None,
        }
    }

    fn class(name: &str, mode: Option<&str>) -> StorageClass {
        StorageClass {
            metadata: ObjectMeta {
                name: Some(name.into()),
                ..Default::default()
            },
            provisioner: "example.com/csi".into(),
            volume_binding_mode: mode.map(str::to_owned),
            ..Default::default()
        }
    }

    fn objects(pvcs: Vec<PersistentVolumeClaim>, pvs: Vec<PersistentVolume>) -> Objects {
        let classes = [
            class(WAIT, Some("WaitForFirstConsumer")),
            class(IMMEDIATE, Some("Immediate")),
            class("no-mode", None),
        ];
        Objects {
            pvcs: pvcs
                .into_iter()
                .map(|c| {
                    let key = format!(
                        "{}/{}",
                        c.metadata.namespace.clone().unwrap_or_default(),
                        c.metadata.name.clone().unwrap_or_default()
                    );
                    (key, Arc::new(c))
                })
                .collect(),
            pvs: pvs
                .into_iter()
                .map(|v| (v.metadata.name.clone().unwrap_or_default(), Arc::new(v)))
                .collect(),
            storage_classes: classes
                .into_iter()
                .map(|c| (c.metadata.name.clone().unwrap_or_default(), Arc::new(c)))
                .collect(),
            ..Default::default()
        }
    }

    struct Case {
        name: &'static str,
        pod: PodBuilder,
        pvcs: Vec<PersistentVolumeClaim>,
        pvs: Vec<PersistentVolume>,
        pre_filter: (Code, &'static str),
        feasible: Vec<&'static str>,
        filter_reason: &'static str,
    }

    #[test]
    fn pre_filter_and_filter() {
        let with_claim = |c: &str| PodBuilder::new("pod-a").pvc_volume("data", c);
        let ok = (Code::Success, "");
        let cases = vec![
            Case {
                name: "no volumes: skipped",
                pod: PodBuilder::new("pod-a"),
                pvcs: vec![],
                pvs: vec![],
                pre_filter: (Code::Skip, ""),
                feasible: vec!["node-a", "node-b"],
                filter_reason: "",
            },
            Case {
                name: "bound volume without node affinity",
                pod: with_claim("pvc-a"),
                pvcs: vec![bound(pvc("pvc-a", WAIT), "pv-a")],
                pvs: vec![pv("pv-a", &[])],
                pre_filter: ok,
                feasible: vec!["node-a", "node-b"],
                filter_reason: "",
            },
            Case {
                name: "bound volume pinned to a node",
                pod: with_claim("pvc-a"),
                pvcs: vec![bound(pvc("pvc-a", IMMEDIATE), "pv-a")],
                pvs: vec![pv("pv-a", &["node-b"])],
                pre_filter: ok,
                feasible: vec!["node-b"],
                filter_reason: ERR_REASON_NODE_CONFLICT,
            },
            Case {
                name: "two volumes pinned to different nodes",
                pod: with_claim("pvc-a").pvc_volume("more", "pvc-b"),
                pvcs: vec![
                    bound(pvc("pvc-a", IMMEDIATE), "pv-a"),
                    bound(pvc("pvc-b", IMMEDIATE), "pv-b"),
                ],
                pvs: vec![pv("pv-a", &["node-b"]), pv("pv-b", &["node-a"])],
                pre_filter: ok,
                feasible: vec![],
                filter_reason: ERR_REASON_NODE_CONFLICT,
            },
            Case {
                name: "bound to a volume that does not exist",
                pod: with_claim("pvc-a"),
                pvcs: vec![bound(pvc("pvc-a", WAIT), "pv-a")],
                pvs: vec![],
                pre_filter: ok,
                feasible: vec![],
                filter_reason: ERR_REASON_PV_NOT_EXIST,
            },
            Case {
                name: "claim not found",
                pod: with_claim("pvc-a"),
                pvcs: vec![],
                pvs: vec![],
                pre_filter: (
                    Code::UnschedulableAndUnresolvable,
                    r#"persistentvolumeclaim "pvc-a" not found"#,
                ),
                feasible: vec![],
                filter_reason: "",
            },
            Case {
                name: "claim lost",
                pod: with_claim("pvc-a"),
                pvcs: vec![{
                    let mut c = bound(pvc("pvc-a", WAIT), "pv-a");
                    c.status.as_mut().unwrap().phase = Some("Lost".into());
                    c
                }],
                pvs: vec![],
                pre_filter: (
                    Code::UnschedulableAndUnresolvable,
                    r#"persistentvolumeclaim "pvc-a" bound to non-existent persistentvolume "pv-a""#,
                ),
                feasible: vec![],
                filter_reason: "",
            },
            Case {
                name: "claim being deleted",
                pod: with_claim("pvc-a"),
                pvcs: vec![{
                    let mut c = bound(pvc("pvc-a", WAIT), "pv-a");
                    c.metadata.deletion_timestamp = Some(Time(Default::default()));
                    c
                }],
                pvs: vec![pv("pv-a", &[])],
                pre_filter: (
                    Code::UnschedulableAndUnresolvable,
                    r#"persistentvolumeclaim "pvc-a" is being deleted"#,
                ),
                feasible: vec![],
                filter_reason: "",
            },
            Case {
                name: "unbound immediate claim",
                pod: with_claim("pvc-a"),
                pvcs: vec![pvc("pvc-a", IMMEDIATE)],
                pvs: vec![],
                pre_filter: (
                    Code::UnschedulableAndUnresolvable,
                    ERR_REASON_UNBOUND_IMMEDIATE,
                ),
                feasible: vec![],
                filter_reason: "",
            },
            Case {
                name: "unbound wait-for-first-consumer claim",
                pod: with_claim("pvc-a"),
                pvcs: vec![pvc("pvc-a", WAIT)],
                pvs: vec![],
                pre_filter: (
                    Code::UnschedulableAndUnresolvable,
                    ERR_REASON_UNBOUND_IMMEDIATE,
                ),
                feasible: vec![],
                filter_reason: "",
            },
            Case {
                name: "pre-bound claim (volume name without bind-completed)",
                pod: with_claim("pvc-a"),
                pvcs: vec![{
                    let mut c = pvc("pvc-a", WAIT);
                    c.spec.as_mut().unwrap().volume_name = Some("pv-a".into());
                    c
                }],
                pvs: vec![pv("pv-a", &[])],
                pre_filter: (
                    Code::UnschedulableAndUnresolvable,
                    ERR_REASON_UNBOUND_IMMEDIATE,
                ),
                feasible: vec![],
                filter_reason: "",
            },
            Case {
                name: "class without a binding mode",
                pod: with_claim("pvc-a"),
                pvcs: vec![pvc("pvc-a", "no-mode")],
                pvs: vec![],
                pre_filter: (
                    Code::Error,
                    r#"VolumeBindingMode not set for StorageClass "no-mode""#,
                ),
                feasible: vec![],
                filter_reason: "",
            },
            Case {
                name: "ephemeral volume before its claim exists",
                pod: PodBuilder::new("pod-a").ephemeral_volume("scratch"),
                pvcs: vec![],
                pvs: vec![],
                pre_filter: (
                    Code::UnschedulableAndUnresolvable,
                    r#"waiting for ephemeral volume controller to create the persistentvolumeclaim "pod-a-scratch""#,
                ),
                feasible: vec![],
                filter_reason: "",
            },
            Case {
                name: "ephemeral volume with a claim the pod does not own",
                pod: PodBuilder::new("pod-a").ephemeral_volume("scratch"),
                pvcs: vec![bound(pvc("pod-a-scratch", WAIT), "pv-a")],
                pvs: vec![pv("pv-a", &[])],
                pre_filter: (
                    Code::UnschedulableAndUnresolvable,
                    "PVC default/pod-a-scratch was not created for pod default/pod-a (pod is not owner)",
                ),
                feasible: vec![],
                filter_reason: "",
            },
            Case {
                name: "ephemeral volume with its own bound claim",
                pod: PodBuilder::new("pod-a").ephemeral_volume("scratch"),
                pvcs: vec![{
                    let mut c = bound(pvc("pod-a-scratch", WAIT), "pv-a");
                    c.metadata.owner_references = Some(vec![OwnerReference {
                        api_version: "v1".into(),
                        kind: "Pod".into(),
                        name: "pod-a".into(),
                        uid: "pod-a".into(),
                        controller: Some(true),
                        block_owner_deletion: None,
                    }]);
                    c
                }],
                pvs: vec![pv("pv-a", &["node-a"])],
                pre_filter: ok,
                feasible: vec!["node-a"],
                filter_reason: ERR_REASON_NODE_CONFLICT,
            },
        ];
        let set = new(None).unwrap();
        for c in cases {
            let snap = snapshot_objects(
                vec![node("node-a").info(), node("node-b").info()],
                objects(c.pvcs, c.pvs),
            );
            let run = run_filter(&set, &c.pod.info(), &snap);
            assert_eq!(run.pre_filter.code, c.pre_filter.0, "{}", c.name);
            if !c.pre_filter.1.is_empty() {
                assert_eq!(run.pre_filter.reasons, vec![c.pre_filter.1], "{}", c.name);
            }
            if matches!(c.pre_filter.0, Code::Success | Code::Skip) {
                assert_eq!(feasible(&snap, &run.filter), c.feasible, "{}", c.name);
                for s in run.filter.iter().filter(|s| !s.is_success()) {
                    assert_eq!(s.code, Code::UnschedulableAndUnresolvable, "{}", c.name);
                    assert_eq!(s.reasons, vec![c.filter_reason], "{}", c.name);
                }
            }
        }
    }

    #[test]
    fn beta_annotation_wins_over_the_class_name() {
        let mut c = pvc("pvc-a", WAIT);
        c.metadata.annotations = Some(BTreeMap::from([(
            ANN_BETA_STORAGE_CLASS.to_owned(),
            "no-mode".to_owned(),
        )]));
        let o = objects(vec![], vec![]);
        assert!(is_delay_binding(&c, &o.storage_classes).is_err());
        assert_eq!(
            is_delay_binding(&pvc("x", WAIT), &o.storage_classes),
            Ok(true)
        );
        assert_eq!(
            is_delay_binding(&pvc("x", ""), &o.storage_classes),
            Ok(false)
        );
        assert_eq!(
            is_delay_binding(&pvc("x", "gone"), &o.storage_classes),
            Ok(false)
        );
    }

    #[test]
    fn args() {
        let set = new(Some(&json!({"bindTimeoutSeconds": 30}))).unwrap();
        assert!(set.pre_filter.is_some() && set.filter.is_some());
        assert!(
            new(Some(&json!({"bindTimeoutSeconds": -1})))
                .err()
                .unwrap()
                .contains("should not be a negative value")
        );
        assert!(
            new(Some(&json!({"shape": [{"utilization": 0, "score": 0}]})))
                .err()
                .unwrap()
                .contains("StorageCapacityScoring")
        );
        let pl = VolumeBinding {
            bind_timeout: Duration::from_secs(600),
        };
        assert_eq!(pl.bind_timeout(), Duration::from_secs(600));
    }

    #[test]
    fn events() {
        let set = new(None).unwrap();
        for (e, want) in [
            (
                ClusterEvent::new(EventResource::PersistentVolumeClaim, action::ADD),
                true,
            ),
            (
                ClusterEvent::new(EventResource::PersistentVolume, action::UPDATE_OTHER),
                true,
            ),
            (
                ClusterEvent::new(EventResource::StorageClass, action::ADD),
                true,
            ),
            (
                ClusterEvent::new(EventResource::Node, action::UPDATE_NODE_LABEL),
                true,
            ),
            (
                ClusterEvent::new(EventResource::Node, action::UPDATE_NODE_TAINT),
                false,
            ),
            (ClusterEvent::new(EventResource::Pod, action::DELETE), false),
        ] {
            assert_eq!(set.events.iter().any(|w| e.matches(w)), want, "{e:?}");
        }
    }
}
