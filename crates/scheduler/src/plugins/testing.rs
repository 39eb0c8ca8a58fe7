#![allow(dead_code)]

//! Builders for pods, nodes and snapshots, and a small driver that runs a plugin's
//! extension points the way the runtime does, for plugin unit tests.

use crate::framework::{
    Code, CycleState, NodeInfo, NodeScore, Objects, PluginSet, PodInfo, Snapshot, Status,
};
use k8s_openapi::api::core::v1::{
    Affinity, Node, NodeAffinity, NodeSelector, NodeSelectorRequirement, NodeSelectorTerm,
    NodeSpec, Pod, PodAffinity, PodAffinityTerm, PodAntiAffinity, PodSpec, Taint, Toleration,
    TopologySpreadConstraint, WeightedPodAffinityTerm,
};
use k8s_openapi::api::core::v1::{
    Container, ContainerImage, ContainerPort, NodeStatus, PersistentVolumeClaimVolumeSource,
    PreferredSchedulingTerm, ResourceRequirements, Volume,
};
use k8s_openapi::apimachinery::pkg::api::resource::Quantity;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{
    LabelSelector, LabelSelectorRequirement, ObjectMeta, Time,
};
use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

/// `kubernetes.io/hostname`.
pub(crate) const HOSTNAME: &str = "kubernetes.io/hostname";
/// `topology.kubernetes.io/zone`.
pub(crate) const ZONE: &str = "topology.kubernetes.io/zone";

fn map(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
    pairs
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect()
}

/// A toleration (empty strings leave a field unset).
pub(crate) fn toleration(key: &str, op: &str, value: &str, effect: &str) -> Toleration {
    let opt = |s: &str| (!s.is_empty()).then(|| s.to_owned());
    Toleration {
        key: opt(key),
        operator: opt(op),
        value: opt(value),
        effect: opt(effect),
        toleration_seconds: None,
    }
}

/// A taint (an empty value leaves it unset).
pub(crate) fn taint(key: &str, value: &str, effect: &str) -> Taint {
    Taint {
        key: key.into(),
        value: (!value.is_empty()).then(|| value.into()),
        effect: effect.into(),
        time_added: None,
    }
}

/// A label selector with `matchLabels`.
pub(crate) fn match_labels(pairs: &[(&str, &str)]) -> LabelSelector {
    LabelSelector {
        match_labels: Some(map(pairs)),
        match_expressions: None,
    }
}

/// A label selector with one `matchExpressions` entry.
pub(crate) fn match_expression(key: &str, op: &str, values: &[&str]) -> LabelSelector {
    LabelSelector {
        match_labels: None,
        match_expressions: Some(vec![LabelSelectorRequirement {
            key: key.into(),
            operator: op.into(),
            values: (!values.is_empty()).then(|| values.iter().map(|v| (*v).into()).collect()),
        }]),
    }
}

/// A pod affinity term selecting `selector` over `topology_key`.
pub(crate) fn term(selector: LabelSelector, topology_key: &str) -> PodAffinityTerm {
    PodAffinityTerm {
        label_selector: Some(selector),
        topology_key: topology_key.into(),
        ..Default::default()
    }
}

/// A topology spread constraint.
pub(crate) fn spread(
    max_skew: i32,
    key: &str,
    when: &str,
    selector: Option<LabelSelector>,
) -> TopologySpreadConstraint {
    TopologySpreadConstraint {
        max_skew,
        topology_key: key.into(),
        when_unsatisfiable: when.into(),
        label_selector: selector,
        ..Default::default()
    }
}

/// A pod, built step by step.
pub(crate) struct PodBuilder(Pod);

/// A pod named `name` in namespace `default` (its UID is its name).
pub(crate) fn pod(name: &str) -> PodBuilder {
    PodBuilder::new(name)
}

impl PodBuilder {
    /// A pod named `name` in namespace `default` (its UID is its name).
    pub(crate) fn new(name: &str) -> PodBuilder {
        PodBuilder(Pod {
            metadata: ObjectMeta {
                name: Some(name.into()),
                namespace: Some("default".into()),
                uid: Some(name.into()),
                ..Default::default()
            },
            spec: Some(PodSpec::default()),
            status: None,
        })
    }

    fn spec(&mut self) -> &mut PodSpec {
        self.0.spec.get_or_insert_with(Default::default)
    }

    fn affinity(&mut self) -> &mut Affinity {
        self.spec().affinity.get_or_insert_with(Default::default)
    }

    fn pod_affinity(&mut self) -> &mut PodAffinity {
        self.affinity()
            .pod_affinity
            .get_or_insert_with(Default::default)
    }

    fn pod_anti_affinity(&mut self) -> &mut PodAntiAffinity {
        self.affinity()
            .pod_anti_affinity
            .get_or_insert_with(Default::default)
    }

    /// Sets the namespace.
    pub(crate) fn ns(mut self, ns: &str) -> Self {
        self.0.metadata.namespace = Some(ns.into());
        self
    }

    /// Adds a label.
    pub(crate) fn label(mut self, k: &str, v: &str) -> Self {
        self.0
            .metadata
            .labels
            .get_or_insert_with(Default::default)
            .insert(k.into(), v.into());
        self
    }

    /// Sets `spec.nodeName`.
    pub(crate) fn node_name(mut self, node: &str) -> Self {
        self.spec().node_name = Some(node.into());
        self
    }

    /// Marks the pod as terminating.
    pub(crate) fn terminating(mut self) -> Self {
        self.0.metadata.deletion_timestamp = Some(Time(Default::default()));
        self
    }

    /// Adds a toleration.
    pub(crate) fn toleration(mut self, t: Toleration) -> Self {
        self.spec().tolerations.get_or_insert_with(Vec::new).push(t);
        self
    }

    /// Adds a required pod affinity term.
    pub(crate) fn required_affinity(mut self, t: PodAffinityTerm) -> Self {
        self.pod_affinity()
            .required_during_scheduling_ignored_during_execution
            .get_or_insert_with(Vec::new)
            .push(t);
        self
    }

    /// Adds a required pod anti-affinity term.
    pub(crate) fn required_anti_affinity(mut self, t: PodAffinityTerm) -> Self {
        self.pod_anti_affinity()
            .required_during_scheduling_ignored_during_execution
            .get_or_insert_with(Vec::new)
            .push(t);
        self
    }

    /// Adds a preferred pod affinity term.
    pub(crate) fn preferred_affinity(mut self, weight: i32, t: PodAffinityTerm) -> Self {
        self.pod_affinity()
            .preferred_during_scheduling_ignored_during_execution
            .get_or_insert_with(Vec::new)
            .push(WeightedPodAffinityTerm {
                weight,
                pod_affinity_term: t,
            });
        self
    }

    /// Adds a preferred pod anti-affinity term.
    pub(crate) fn preferred_anti_affinity(mut self, weight: i32, t: PodAffinityTerm) -> Self {
        self.pod_anti_affinity()
            .preferred_during_scheduling_ignored_during_execution
            .get_or_insert_with(Vec::new)
            .push(WeightedPodAffinityTerm {
                weight,
                pod_affinity_term: t,
            });
        self
    }

    /// Adds a topology spread constraint.
    pub(crate) fn spread(mut self, c: TopologySpreadConstraint) -> Self {
        self.spec()
            .topology_spread_constraints
            .get_or_insert_with(Vec::new)
            .push(c);
        self
    }

    /// Adds a `nodeSelector` entry.
    pub(crate) fn node_selector(mut self, k: &str, v: &str) -> Self {
        self.spec()
            .node_selector
            .get_or_insert_with(Default::default)
            .insert(k.into(), v.into());
        self
    }

    /// Adds a required node affinity term with one `In` expression.
    pub(crate) fn node_affinity_in(mut self, key: &str, values: &[&str]) -> Self {
        let na = self
            .affinity()
            .node_affinity
            .get_or_insert_with(NodeAffinity::default);
        na.required_during_scheduling_ignored_during_execution
            .get_or_insert_with(NodeSelector::default)
            .node_selector_terms
            .push(NodeSelectorTerm {
                match_expressions: Some(vec![NodeSelectorRequirement {
                    key: key.into(),
                    operator: "In".into(),
                    values: Some(values.iter().map(|v| (*v).into()).collect()),
                }]),
                match_fields: None,
            });
        self
    }

    /// The pod object.
    pub(crate) fn obj(self) -> Pod {
        self.0
    }

    /// The pod with scheduling data precomputed.
    pub(crate) fn info(self) -> Arc<PodInfo> {
        Arc::new(PodInfo::new(Arc::new(self.0)))
    }
}

/// A node, built step by step.
pub(crate) struct NodeBuilder(Node);

/// A node named `name` labelled `kubernetes.io/hostname=<name>`.
pub(crate) fn node(name: &str) -> NodeBuilder {
    NodeBuilder::new(name).label(HOSTNAME, name)
}

impl NodeBuilder {
    /// A node named `name` without labels.
    pub(crate) fn new(name: &str) -> NodeBuilder {
        NodeBuilder(Node {
            metadata: ObjectMeta {
                name: Some(name.into()),
                ..Default::default()
            },
            spec: Some(NodeSpec::default()),
            status: None,
        })
    }

    /// Adds a label.
    pub(crate) fn label(mut self, k: &str, v: &str) -> Self {
        self.0
            .metadata
            .labels
            .get_or_insert_with(Default::default)
            .insert(k.into(), v.into());
        self
    }

    /// Removes a label.
    pub(crate) fn without(mut self, k: &str) -> Self {
        if let Some(l) = self.0.metadata.labels.as_mut() {
            l.remove(k);
        }
        self
    }

    /// Sets the zone label.
    pub(crate) fn zone(self, zone: &str) -> Self {
        self.label(ZONE, zone)
    }

    /// Adds a taint.
    pub(crate) fn taint(mut self, t: Taint) -> Self {
        self.0
            .spec
            .get_or_insert_with(Default::default)
            .taints
            .get_or_insert_with(Vec::new)
            .push(t);
        self
    }

    /// Sets `spec.unschedulable`.
    pub(crate) fn unschedulable(mut self) -> Self {
        self.0
            .spec
            .get_or_insert_with(Default::default)
            .unschedulable = Some(true);
        self
    }

    /// The node object.
    pub(crate) fn obj(self) -> Node {
        self.0
    }

    /// The node as the scheduler sees it, without pods.
    pub(crate) fn info(self) -> Arc<NodeInfo> {
        Arc::new(NodeInfo::new(Arc::new(self.0)))
    }
}

/// A snapshot of nodes (no namespaces).
pub(crate) fn snapshot(nodes: Vec<Arc<NodeInfo>>) -> Snapshot {
    Snapshot::new(nodes, Arc::new(Objects::default()))
}

/// A snapshot of `nodes` with every pod placed on the node its `spec.nodeName` names, and
/// namespaces with their labels.
pub(crate) fn snapshot_with(
    nodes: Vec<NodeBuilder>,
    pods: &[Arc<PodInfo>],
    namespaces: &[(&str, &[(&str, &str)])],
) -> Snapshot {
    let mut infos: Vec<NodeInfo> = nodes
        .into_iter()
        .map(|n| NodeInfo::new(Arc::new(n.obj())))
        .collect();
    let index: HashMap<String, usize> = infos
        .iter()
        .enumerate()
        .map(|(i, n)| (n.name.clone(), i))
        .collect();
    for p in pods {
        let i = index[&p.node_name];
        infos[i].add_pod(p.clone());
    }
    let objects = Objects {
        namespace_labels: namespaces
            .iter()
            .map(|(ns, labels)| ((*ns).to_owned(), map(labels)))
            .collect(),
        ..Default::default()
    };
    Snapshot::new(infos.into_iter().map(Arc::new).collect(), Arc::new(objects))
}

/// What [`run_filter`] saw.
pub(crate) struct FilterRun {
    /// The cycle state after PreFilter.
    pub(crate) state: CycleState,
    /// PreFilter's status (success when the plugin has no PreFilter).
    pub(crate) pre_filter: Status,
    /// Filter's status per node, in snapshot order (success where Filter was skipped).
    pub(crate) filter: Vec<Status>,
}

/// Runs PreFilter (when the plugin has one) and then Filter on every node, honouring Skip
/// as the runtime does.
pub(crate) fn run_filter(set: &PluginSet, pod: &PodInfo, snap: &Snapshot) -> FilterRun {
    let mut state = CycleState::default();
    let mut pre_status = Status::success();
    if let Some(pre) = &set.pre_filter {
        let (_, status) = pre.pre_filter(&mut state, pod, snap);
        if status.code == Code::Skip {
            state.skip_filter.insert(pre.name());
        }
        pre_status = status;
    }
    let filter = set
        .filter
        .as_ref()
        .map(|filter| {
            snap.nodes
                .iter()
                .map(|n| {
                    if state.skip_filter.contains(filter.name()) || pre_status.is_rejected() {
                        Status::success()
                    } else {
                        filter.filter(&state, pod, n)
                    }
                })
                .collect()
        })
        .unwrap_or_default();
    FilterRun {
        state,
        pre_filter: pre_status,
        filter,
    }
}

/// The names of the nodes every Filter accepted.
pub(crate) fn feasible(snap: &Snapshot, results: &[Status]) -> Vec<String> {
    snap.nodes
        .iter()
        .zip(results)
        .filter(|(_, s)| s.is_success())
        .map(|(n, _)| n.name.clone())
        .collect()
}

/// Runs PreFilter (when present), PreScore (when present), Score and NormalizeScore over
/// every node of the snapshot; the normalized scores in snapshot order, or `None` when
/// PreScore skipped.
pub(crate) fn run_score(set: &PluginSet, pod: &PodInfo, snap: &Snapshot) -> Option<Vec<i64>> {
    let names: Vec<&str> = snap.nodes.iter().map(|n| n.name.as_str()).collect();
    score_nodes(set, pod, snap, &names).map(|s| s.into_iter().map(|(_, s)| s).collect())
}

/// Like [`run_score`] over the named nodes only (the feasible ones), with node names.
pub(crate) fn score_nodes(
    set: &PluginSet,
    pod: &PodInfo,
    snap: &Snapshot,
    nodes: &[&str],
) -> Option<Vec<(String, i64)>> {
    let mut state = CycleState::default();
    if let Some(pre) = &set.pre_filter {
        let _ = pre.pre_filter(&mut state, pod, snap);
    }
    score_with_state(set, &mut state, pod, snap, nodes)
}

/// The scoring half of [`score_nodes`], on an existing state.
pub(crate) fn score_with_state(
    set: &PluginSet,
    state: &mut CycleState,
    pod: &PodInfo,
    snap: &Snapshot,
    nodes: &[&str],
) -> Option<Vec<(String, i64)>> {
    let infos: Vec<Arc<NodeInfo>> = nodes
        .iter()
        .map(|n| snap.get(n).expect("node in snapshot").clone())
        .collect();
    if let Some(pre) = &set.pre_score {
        let status = pre.pre_score(state, pod, &infos);
        if status.code == Code::Skip {
            return None;
        }
        assert!(status.is_success(), "{status:?}");
    }
    let score = set.score.as_ref().expect("a score plugin");
    let mut scores: Vec<NodeScore> = infos
        .iter()
        .map(|n| {
            let (s, st) = score.score(state, pod, n);
            assert!(st.is_success(), "{st:?}");
            NodeScore {
                name: n.name.clone(),
                score: s,
            }
        })
        .collect();
    let st = score.normalize(state, pod, &mut scores);
    assert!(st.is_success(), "{st:?}");
    Some(scores.into_iter().map(|s| (s.name, s.score)).collect())
}

// ---------------------------------------------------------------------------------------
// Containers, resources, ports, node affinity terms, volumes and images (the node, resource,
// port, affinity, image and volume plugins' tests).

fn quantities(pairs: &[(&str, &str)]) -> BTreeMap<String, Quantity> {
    pairs
        .iter()
        .map(|(k, v)| ((*k).to_owned(), Quantity((*v).to_owned())))
        .collect()
}

fn container(name: String, image: &str, requests: &[(&str, &str)]) -> Container {
    Container {
        name,
        image: Some(image.to_owned()),
        resources: Some(ResourceRequirements {
            requests: (!requests.is_empty()).then(|| quantities(requests)),
            ..Default::default()
        }),
        ..Default::default()
    }
}

/// A node selector requirement (no values when `values` is empty).
pub(crate) fn requirement(key: &str, op: &str, values: &[&str]) -> NodeSelectorRequirement {
    NodeSelectorRequirement {
        key: key.into(),
        operator: op.into(),
        values: (!values.is_empty()).then(|| values.iter().map(|v| (*v).into()).collect()),
    }
}

/// A node selector term with label (`matchExpressions`) and field (`matchFields`)
/// requirements.
pub(crate) fn selector_term(
    exprs: Vec<NodeSelectorRequirement>,
    fields: Vec<NodeSelectorRequirement>,
) -> NodeSelectorTerm {
    NodeSelectorTerm {
        match_expressions: (!exprs.is_empty()).then_some(exprs),
        match_fields: (!fields.is_empty()).then_some(fields),
    }
}

impl PodBuilder {
    /// Adds a container running `image` with requests (`[("cpu", "500m")]`).
    pub(crate) fn container(mut self, image: &str, requests: &[(&str, &str)]) -> Self {
        let n = self.spec().containers.len();
        let c = container(format!("c{n}"), image, requests);
        self.spec().containers.push(c);
        self
    }

    /// Adds a container requesting `cpu` and `memory` (an empty string: not requested).
    pub(crate) fn req(self, cpu: &str, memory: &str) -> Self {
        let requests: Vec<(&str, &str)> = [("cpu", cpu), ("memory", memory)]
            .into_iter()
            .filter(|(_, v)| !v.is_empty())
            .collect();
        self.container("busybox", &requests)
    }

    /// Adds an init container (`sidecar`: with `restartPolicy: Always`).
    pub(crate) fn init_container(
        mut self,
        image: &str,
        requests: &[(&str, &str)],
        sidecar: bool,
    ) -> Self {
        let n = self.spec().init_containers.as_ref().map_or(0, Vec::len);
        let mut c = container(format!("i{n}"), image, requests);
        if sidecar {
            c.restart_policy = Some("Always".into());
        }
        self.spec()
            .init_containers
            .get_or_insert_with(Vec::new)
            .push(c);
        self
    }

    /// Sets the pod overhead.
    pub(crate) fn overhead(mut self, pairs: &[(&str, &str)]) -> Self {
        self.spec().overhead = Some(quantities(pairs));
        self
    }

    /// Adds a host port (protocol and IP may be empty) to the last container, adding a
    /// container when there is none.
    pub(crate) fn host_port(mut self, port: i32, protocol: &str, ip: &str) -> Self {
        if self.spec().containers.is_empty() {
            self = self.container("busybox", &[]);
        }
        let c = self.spec().containers.last_mut().expect("a container");
        c.ports.get_or_insert_with(Vec::new).push(ContainerPort {
            container_port: port,
            host_port: Some(port),
            protocol: (!protocol.is_empty()).then(|| protocol.into()),
            host_ip: (!ip.is_empty()).then(|| ip.into()),
            ..Default::default()
        });
        self
    }

    /// Sets the required node affinity terms.
    pub(crate) fn required_terms(mut self, terms: Vec<NodeSelectorTerm>) -> Self {
        self.affinity()
            .node_affinity
            .get_or_insert_with(NodeAffinity::default)
            .required_during_scheduling_ignored_during_execution = Some(NodeSelector {
            node_selector_terms: terms,
        });
        self
    }

    /// Adds a preferred node affinity term.
    pub(crate) fn preferred_term(mut self, weight: i32, preference: NodeSelectorTerm) -> Self {
        self.affinity()
            .node_affinity
            .get_or_insert_with(NodeAffinity::default)
            .preferred_during_scheduling_ignored_during_execution
            .get_or_insert_with(Vec::new)
            .push(PreferredSchedulingTerm { preference, weight });
        self
    }

    /// Adds a volume mounting the claim `claim`.
    pub(crate) fn pvc_volume(mut self, name: &str, claim: &str) -> Self {
        self.spec()
            .volumes
            .get_or_insert_with(Vec::new)
            .push(Volume {
                name: name.into(),
                persistent_volume_claim: Some(PersistentVolumeClaimVolumeSource {
                    claim_name: claim.into(),
                    read_only: None,
                }),
                ..Default::default()
            });
        self
    }

    /// Adds a generic ephemeral volume.
    pub(crate) fn ephemeral_volume(mut self, name: &str) -> Self {
        self.spec()
            .volumes
            .get_or_insert_with(Vec::new)
            .push(Volume {
                name: name.into(),
                ephemeral: Some(Default::default()),
                ..Default::default()
            });
        self
    }
}

impl NodeBuilder {
    /// Sets `status.allocatable` (and `status.capacity`) to `pairs`.
    pub(crate) fn allocatable(mut self, pairs: &[(&str, &str)]) -> Self {
        let status = self.0.status.get_or_insert_with(NodeStatus::default);
        status.allocatable = Some(quantities(pairs));
        status.capacity = Some(quantities(pairs));
        self
    }

    /// Sets allocatable cpu, memory and pods.
    pub(crate) fn capacity(self, cpu: &str, memory: &str, pods: &str) -> Self {
        self.allocatable(&[("cpu", cpu), ("memory", memory), ("pods", pods)])
    }

    /// Adds an image of `size` bytes going by `names` to `status.images`.
    pub(crate) fn image(mut self, names: &[&str], size: i64) -> Self {
        self.0
            .status
            .get_or_insert_with(NodeStatus::default)
            .images
            .get_or_insert_with(Vec::new)
            .push(ContainerImage {
                names: Some(names.iter().map(|n| (*n).into()).collect()),
                size_bytes: Some(size),
            });
        self
    }

    /// The node as the scheduler sees it, with `pods` placed on it.
    pub(crate) fn with_pods(self, pods: Vec<PodBuilder>) -> Arc<NodeInfo> {
        let mut info = NodeInfo::new(Arc::new(self.0));
        let name = info.name.clone();
        for p in pods {
            info.add_pod(p.node_name(&name).info());
        }
        Arc::new(info)
    }
}

/// A snapshot of `nodes` with `objects` (PVCs, PVs, storage classes, namespaces).
pub(crate) fn snapshot_objects(nodes: Vec<Arc<NodeInfo>>, objects: Objects) -> Snapshot {
    Snapshot::new(nodes, Arc::new(objects))
}

/// Schedules `pods` one after another with one plugin the way the runtime does (PreFilter,
/// Filter until enough feasible nodes are found, PreScore, Score, NormalizeScore, then the
/// pod is placed on the best node), timing only the plugin calls. Returns pods per second
/// and how many pods found no node.
pub(crate) fn throughput(
    set: &PluginSet,
    snap: &mut Snapshot,
    pods: impl IntoIterator<Item = Pod>,
) -> (f64, usize) {
    use std::time::{Duration, Instant};
    let mut elapsed = Duration::ZERO;
    let mut scheduled = 0usize;
    let mut failed = 0usize;
    let mut start_at = 0usize;
    for p in pods {
        let n = snap.nodes.len();
        let want = if n < 100 {
            n
        } else {
            (n * (50usize.saturating_sub(n / 125)).max(5) / 100).max(100)
        };
        let info = PodInfo::new(Arc::new(p.clone()));
        let t = Instant::now();
        let mut state = CycleState::default();
        let (_, st) = set
            .pre_filter
            .as_ref()
            .unwrap()
            .pre_filter(&mut state, &info, snap);
        let skip = st.code == Code::Skip;
        let mut feasible: Vec<Arc<NodeInfo>> = Vec::new();
        if !st.is_rejected() {
            let mut processed = 0;
            for i in 0..n {
                if feasible.len() >= want {
                    break;
                }
                let node = &snap.nodes[(start_at + i) % n];
                processed += 1;
                if skip
                    || set
                        .filter
                        .as_ref()
                        .unwrap()
                        .filter(&state, &info, node)
                        .is_success()
                {
                    feasible.push(node.clone());
                }
            }
            start_at = (start_at + processed) % n;
        }
        let mut best = None;
        if feasible.len() == 1 {
            best = Some(feasible[0].name.clone());
        } else if !feasible.is_empty() {
            let ps = set
                .pre_score
                .as_ref()
                .unwrap()
                .pre_score(&mut state, &info, &feasible);
            let mut scores: Vec<NodeScore> = feasible
                .iter()
                .map(|n| NodeScore {
                    name: String::new(),
                    score: if ps.code == Code::Skip {
                        0
                    } else {
                        set.score.as_ref().unwrap().score(&state, &info, n).0
                    },
                })
                .collect();
            if ps.code != Code::Skip {
                set.score
                    .as_ref()
                    .unwrap()
                    .normalize(&state, &info, &mut scores);
            }
            let i = (0..scores.len()).max_by_key(|&i| scores[i].score).unwrap();
            best = Some(feasible[i].name.clone());
        }
        elapsed += t.elapsed();
        let Some(best) = best else {
            failed += 1;
            continue;
        };
        scheduled += 1;
        let i = snap.index_of(&best).unwrap();
        let mut placed = p;
        placed.spec.get_or_insert_with(Default::default).node_name = Some(best);
        let placed = Arc::new(PodInfo::new(Arc::new(placed)));
        if placed.has_affinity() && !snap.with_affinity.contains(&i) {
            snap.with_affinity.push(i);
        }
        if !placed.required_anti_affinity.is_empty()
            && !snap.with_required_anti_affinity.contains(&i)
        {
            snap.with_required_anti_affinity.push(i);
        }
        Arc::make_mut(&mut snap.nodes[i]).add_pod(placed);
    }
    ((scheduled + failed) as f64 / elapsed.as_secs_f64(), failed)
}
