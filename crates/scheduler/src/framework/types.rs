//! The scheduler's view of the cluster (upstream's `framework.PodInfo`, `NodeInfo` and the
//! snapshot): pods with what scheduling needs precomputed, nodes with the pods on them and
//! the resources and ports those use, and an immutable snapshot of all nodes for one cycle.

use super::resource::{Resource, pod_non_zero_requests, pod_requests};
use k8s_openapi::api::core::v1::{
    Node, PersistentVolume, PersistentVolumeClaim, Pod, PodAffinityTerm, Taint,
};
use k8s_openapi::api::policy::v1::PodDisruptionBudget;
use k8s_openapi::api::storage::v1::StorageClass;
use skiff_core::labels::{Selector, from_label_selector};
use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::Arc;

/// Labels of an object.
pub type Labels = BTreeMap<String, String>;

/// A pod affinity or anti-affinity term with its selectors parsed (upstream's
/// `AffinityTerm`).
#[derive(Clone, Debug)]
pub struct AffinityTerm {
    /// Namespaces the term applies to (the pod's own when neither these nor a namespace
    /// selector are given).
    pub namespaces: HashSet<String>,
    /// Selects the pods the term is about.
    pub selector: Selector,
    /// The node label that defines a topology domain.
    pub topology_key: String,
    /// Selects more namespaces by their labels (`Selector::nothing()` when absent).
    pub namespace_selector: Selector,
}

impl AffinityTerm {
    /// Parses a term of a pod in namespace `ns`.
    pub fn new(ns: &str, term: &PodAffinityTerm) -> Result<AffinityTerm, String> {
        let selector = from_label_selector(term.label_selector.as_ref())
            .map_err(|e| e.message().to_owned())?;
        let namespace_selector = from_label_selector(term.namespace_selector.as_ref())
            .map_err(|e| e.message().to_owned())?;
        let mut namespaces: HashSet<String> = term.namespaces.iter().flatten().cloned().collect();
        if namespaces.is_empty() && term.namespace_selector.is_none() {
            namespaces.insert(ns.to_owned());
        }
        Ok(AffinityTerm {
            namespaces,
            selector,
            topology_key: term.topology_key.clone(),
            namespace_selector,
        })
    }

    /// Whether the term selects `pod`, given the labels of the pod's namespace.
    pub fn matches(&self, pod: &PodInfo, namespace_labels: Option<&Labels>) -> bool {
        let ns_ok = self.namespaces.contains(&pod.namespace)
            || (!self.namespace_selector.is_nothing()
                && self
                    .namespace_selector
                    .matches(namespace_labels.unwrap_or(&Labels::new())));
        ns_ok && self.selector.matches(&pod.labels)
    }
}

/// A preferred term with its weight.
#[derive(Clone, Debug)]
pub struct WeightedAffinityTerm {
    /// The term.
    pub term: AffinityTerm,
    /// Its weight (1-100).
    pub weight: i32,
}

/// A host port a container asks for.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct HostPort {
    /// Host IP (`0.0.0.0` when unset).
    pub ip: String,
    /// `TCP`, `UDP` or `SCTP`.
    pub protocol: String,
    /// The port.
    pub port: i32,
}

impl HostPort {
    /// Whether two host ports cannot both be used on one node.
    pub fn conflicts(&self, other: &HostPort) -> bool {
        self.port == other.port
            && self.protocol == other.protocol
            && (self.ip == other.ip || self.ip == "0.0.0.0" || other.ip == "0.0.0.0")
    }
}

/// A pod with what scheduling needs precomputed.
#[derive(Clone, Debug)]
pub struct PodInfo {
    /// The pod.
    pub pod: Arc<Pod>,
    /// Namespace.
    pub namespace: String,
    /// Name.
    pub name: String,
    /// UID (the pod's key in the cache).
    pub uid: String,
    /// Labels.
    pub labels: Labels,
    /// `spec.nodeName` ("" when unscheduled).
    pub node_name: String,
    /// `spec.priority` (0 when unset).
    pub priority: i32,
    /// Requests, as upstream counts them for fit.
    pub requests: Resource,
    /// Requests with defaults for containers that request nothing, for scoring.
    pub non_zero_requests: Resource,
    /// Required pod affinity terms.
    pub required_affinity: Vec<AffinityTerm>,
    /// Required pod anti-affinity terms.
    pub required_anti_affinity: Vec<AffinityTerm>,
    /// Preferred pod affinity terms.
    pub preferred_affinity: Vec<WeightedAffinityTerm>,
    /// Preferred pod anti-affinity terms.
    pub preferred_anti_affinity: Vec<WeightedAffinityTerm>,
    /// Host ports of its containers.
    pub host_ports: Vec<HostPort>,
    /// Why the pod's terms could not be parsed, if they could not.
    pub parse_error: Option<String>,
}

impl PodInfo {
    /// Precomputes what scheduling needs from a pod.
    pub fn new(pod: Arc<Pod>) -> PodInfo {
        let meta = &pod.metadata;
        let namespace = meta.namespace.clone().unwrap_or_default();
        let spec = pod.spec.as_ref();
        let mut parse_error = None;
        let mut required = |terms: Option<&Vec<PodAffinityTerm>>| -> Vec<AffinityTerm> {
            terms
                .into_iter()
                .flatten()
                .filter_map(|t| match AffinityTerm::new(&namespace, t) {
                    Ok(t) => Some(t),
                    Err(e) => {
                        parse_error.get_or_insert(e);
                        None
                    }
                })
                .collect()
        };
        let affinity = spec.and_then(|s| s.affinity.as_ref());
        let pa = affinity.and_then(|a| a.pod_affinity.as_ref());
        let paa = affinity.and_then(|a| a.pod_anti_affinity.as_ref());
        let required_affinity = required(pa.and_then(|a| {
            a.required_during_scheduling_ignored_during_execution
                .as_ref()
        }));
        let required_anti_affinity = required(paa.and_then(|a| {
            a.required_during_scheduling_ignored_during_execution
                .as_ref()
        }));
        let mut preferred =
            |terms: Option<&Vec<k8s_openapi::api::core::v1::WeightedPodAffinityTerm>>| {
                terms
                    .into_iter()
                    .flatten()
                    .filter_map(
                        |w| match AffinityTerm::new(&namespace, &w.pod_affinity_term) {
                            Ok(term) => Some(WeightedAffinityTerm {
                                term,
                                weight: w.weight,
                            }),
                            Err(e) => {
                                parse_error.get_or_insert(e);
                                None
                            }
                        },
                    )
                    .collect::<Vec<_>>()
            };
        let preferred_affinity = preferred(pa.and_then(|a| {
            a.preferred_during_scheduling_ignored_during_execution
                .as_ref()
        }));
        let preferred_anti_affinity = preferred(paa.and_then(|a| {
            a.preferred_during_scheduling_ignored_during_execution
                .as_ref()
        }));
        let mut host_ports = Vec::new();
        // App containers and sidecars (restartable init containers) hold host ports.
        let sidecars = spec
            .and_then(|s| s.init_containers.as_deref())
            .unwrap_or_default()
            .iter()
            .filter(|c| c.restart_policy.as_deref() == Some("Always"));
        for c in spec
            .map(|s| s.containers.as_slice())
            .unwrap_or_default()
            .iter()
            .chain(sidecars)
        {
            for p in c.ports.iter().flatten() {
                if let Some(port) = p.host_port.filter(|p| *p > 0) {
                    host_ports.push(HostPort {
                        ip: p
                            .host_ip
                            .clone()
                            .filter(|s| !s.is_empty())
                            .unwrap_or_else(|| "0.0.0.0".into()),
                        protocol: p.protocol.clone().unwrap_or_else(|| "TCP".into()),
                        port,
                    });
                }
            }
        }
        PodInfo {
            namespace: namespace.clone(),
            name: meta.name.clone().unwrap_or_default(),
            uid: meta.uid.clone().unwrap_or_default(),
            labels: meta.labels.clone().unwrap_or_default(),
            node_name: spec.and_then(|s| s.node_name.clone()).unwrap_or_default(),
            priority: spec.and_then(|s| s.priority).unwrap_or(0),
            requests: pod_requests(&pod),
            non_zero_requests: pod_non_zero_requests(&pod),
            required_affinity,
            required_anti_affinity,
            preferred_affinity,
            preferred_anti_affinity,
            host_ports,
            parse_error,
            pod,
        }
    }

    /// `namespace/name`.
    pub fn key(&self) -> String {
        format!("{}/{}", self.namespace, self.name)
    }

    /// Whether the pod has any pod affinity or anti-affinity terms.
    pub fn has_affinity(&self) -> bool {
        !self.required_affinity.is_empty()
            || !self.required_anti_affinity.is_empty()
            || !self.preferred_affinity.is_empty()
            || !self.preferred_anti_affinity.is_empty()
    }
}

/// Upstream's `ImageStateSummary`: an image's size and how many nodes have it.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ImageState {
    /// Size in bytes.
    pub size: i64,
    /// Number of nodes that have the image.
    pub num_nodes: usize,
}

/// A node with the pods on it (bound or assumed) and what they use.
#[derive(Clone, Debug)]
pub struct NodeInfo {
    /// The node.
    pub node: Arc<Node>,
    /// Its name.
    pub name: String,
    /// Its labels.
    pub labels: Labels,
    /// Its taints.
    pub taints: Vec<Taint>,
    /// Pods on the node.
    pub pods: Vec<Arc<PodInfo>>,
    /// Pods on the node with pod affinity or anti-affinity terms.
    pub pods_with_affinity: Vec<Arc<PodInfo>>,
    /// Pods on the node with required anti-affinity terms.
    pub pods_with_required_anti_affinity: Vec<Arc<PodInfo>>,
    /// Host ports in use.
    pub used_ports: Vec<HostPort>,
    /// Sum of the pods' requests.
    pub requested: Resource,
    /// Sum of the pods' non-zero requests (for scoring).
    pub non_zero_requested: Resource,
    /// What the node offers (`status.allocatable`).
    pub allocatable: Resource,
    /// Images on the node, by every name they go by, with cluster-wide spread.
    pub image_states: HashMap<String, ImageState>,
    /// Bumped on every change.
    pub generation: u64,
}

impl NodeInfo {
    /// A node with no pods yet.
    pub fn new(node: Arc<Node>) -> NodeInfo {
        let status = node.status.as_ref();
        NodeInfo {
            name: node.metadata.name.clone().unwrap_or_default(),
            labels: node.metadata.labels.clone().unwrap_or_default(),
            taints: node
                .spec
                .as_ref()
                .and_then(|s| s.taints.clone())
                .unwrap_or_default(),
            allocatable: Resource::from_list(status.and_then(|s| s.allocatable.as_ref())),
            pods: Vec::new(),
            pods_with_affinity: Vec::new(),
            pods_with_required_anti_affinity: Vec::new(),
            used_ports: Vec::new(),
            requested: Resource::default(),
            non_zero_requested: Resource::default(),
            image_states: HashMap::new(),
            generation: 0,
            node,
        }
    }

    /// Replaces the node object, keeping the pods.
    pub fn set_node(&mut self, node: Arc<Node>) {
        let mut fresh = NodeInfo::new(node);
        fresh.pods = std::mem::take(&mut self.pods);
        fresh.pods_with_affinity = std::mem::take(&mut self.pods_with_affinity);
        fresh.pods_with_required_anti_affinity =
            std::mem::take(&mut self.pods_with_required_anti_affinity);
        fresh.used_ports = std::mem::take(&mut self.used_ports);
        fresh.requested = std::mem::take(&mut self.requested);
        fresh.non_zero_requested = std::mem::take(&mut self.non_zero_requested);
        fresh.image_states = std::mem::take(&mut self.image_states);
        fresh.generation = self.generation + 1;
        *self = fresh;
    }

    /// Adds a pod.
    pub fn add_pod(&mut self, pod: Arc<PodInfo>) {
        self.requested.add(&pod.requests);
        self.requested.allowed_pods += 1;
        self.non_zero_requested.milli_cpu += pod.non_zero_requests.milli_cpu;
        self.non_zero_requested.memory += pod.non_zero_requests.memory;
        self.used_ports.extend(pod.host_ports.iter().cloned());
        if pod.has_affinity() {
            self.pods_with_affinity.push(pod.clone());
        }
        if !pod.required_anti_affinity.is_empty() {
            self.pods_with_required_anti_affinity.push(pod.clone());
        }
        self.pods.push(pod);
        self.generation += 1;
    }

    /// Removes the pod with `uid`; whether it was there.
    pub fn remove_pod(&mut self, uid: &str) -> bool {
        let Some(i) = self.pods.iter().position(|p| p.uid == uid) else {
            return false;
        };
        let pod = self.pods.swap_remove(i);
        self.pods_with_affinity.retain(|p| p.uid != uid);
        self.pods_with_required_anti_affinity
            .retain(|p| p.uid != uid);
        self.requested.sub(&pod.requests);
        self.requested.allowed_pods -= 1;
        self.non_zero_requested.milli_cpu -= pod.non_zero_requests.milli_cpu;
        self.non_zero_requested.memory -= pod.non_zero_requests.memory;
        for hp in &pod.host_ports {
            if let Some(j) = self.used_ports.iter().position(|u| u == hp) {
                self.used_ports.swap_remove(j);
            }
        }
        self.generation += 1;
        true
    }
}

/// Cluster objects some plugins read besides nodes and pods.
#[derive(Clone, Debug, Default)]
pub struct Objects {
    /// Labels of each namespace (for namespace selectors).
    pub namespace_labels: HashMap<String, Labels>,
    /// PersistentVolumeClaims by `namespace/name`.
    pub pvcs: HashMap<String, Arc<PersistentVolumeClaim>>,
    /// PersistentVolumes by name.
    pub pvs: HashMap<String, Arc<PersistentVolume>>,
    /// StorageClasses by name.
    pub storage_classes: HashMap<String, Arc<StorageClass>>,
    /// PodDisruptionBudgets by `namespace/name` (preemption prefers not to break them).
    pub pdbs: HashMap<String, Arc<PodDisruptionBudget>>,
}

/// Every node as one scheduling cycle sees it.
#[derive(Clone, Debug, Default)]
pub struct Snapshot {
    /// The nodes.
    pub nodes: Vec<Arc<NodeInfo>>,
    index: Arc<HashMap<String, usize>>,
    /// Indices of nodes with pods that have pod affinity or anti-affinity terms.
    pub with_affinity: Vec<usize>,
    /// Indices of nodes with pods that have required anti-affinity terms.
    pub with_required_anti_affinity: Vec<usize>,
    /// Namespaces, volumes and storage classes.
    pub objects: Arc<Objects>,
}

impl Snapshot {
    /// A snapshot of `nodes`.
    pub fn new(nodes: Vec<Arc<NodeInfo>>, objects: Arc<Objects>) -> Snapshot {
        let index = Arc::new(
            nodes
                .iter()
                .enumerate()
                .map(|(i, n)| (n.name.clone(), i))
                .collect(),
        );
        let with_affinity = nodes
            .iter()
            .enumerate()
            .filter(|(_, n)| !n.pods_with_affinity.is_empty())
            .map(|(i, _)| i)
            .collect();
        let with_required_anti_affinity = nodes
            .iter()
            .enumerate()
            .filter(|(_, n)| !n.pods_with_required_anti_affinity.is_empty())
            .map(|(i, _)| i)
            .collect();
        Snapshot {
            nodes,
            index,
            with_affinity,
            with_required_anti_affinity,
            objects,
        }
    }

    /// Replaces the node at `index` (same name) after its pods changed.
    pub fn replace(&mut self, index: usize, node: Arc<NodeInfo>) {
        let fix = |list: &mut Vec<usize>, wanted: bool| match list.iter().position(|&i| i == index)
        {
            Some(at) if !wanted => {
                list.swap_remove(at);
            }
            None if wanted => list.push(index),
            _ => {}
        };
        fix(&mut self.with_affinity, !node.pods_with_affinity.is_empty());
        fix(
            &mut self.with_required_anti_affinity,
            !node.pods_with_required_anti_affinity.is_empty(),
        );
        self.nodes[index] = node;
    }

    /// A node by name.
    pub fn get(&self, name: &str) -> Option<&Arc<NodeInfo>> {
        self.index.get(name).map(|&i| &self.nodes[i])
    }

    /// The index of a node by name.
    pub fn index_of(&self, name: &str) -> Option<usize> {
        self.index.get(name).copied()
    }

    /// Labels of a namespace.
    pub fn namespace_labels(&self, ns: &str) -> Option<&Labels> {
        self.objects.namespace_labels.get(ns)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn host_port_conflicts() {
        let p = |ip: &str, proto: &str, port| HostPort {
            ip: ip.into(),
            protocol: proto.into(),
            port,
        };
        assert!(p("0.0.0.0", "TCP", 80).conflicts(&p("10.0.0.1", "TCP", 80)));
        assert!(!p("10.0.0.2", "TCP", 80).conflicts(&p("10.0.0.1", "TCP", 80)));
        assert!(!p("0.0.0.0", "UDP", 80).conflicts(&p("0.0.0.0", "TCP", 80)));
    }
}
