//! The scheduler's cache (upstream's `internal/cache`): every node with the pods on it, bound
//! or only assumed, kept up to date from informer events, and a [`Snapshot`] maintained
//! incrementally so that each scheduling cycle copies little.
//!
//! A pod is *assumed* on its node as soon as the scheduler picks the node, before the bind
//! reaches the API server, so the next pod already sees the resources it uses; the informer's
//! event for the bound pod then confirms it, and a failed bind forgets it.

use crate::framework::{NodeInfo, Objects, PodInfo, Snapshot};
use k8s_openapi::api::core::v1::Node;
use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

/// The zone label nodes are interleaved by, as upstream's node tree does.
pub const ZONE_LABEL: &str = "topology.kubernetes.io/zone";
/// The region label.
pub const REGION_LABEL: &str = "topology.kubernetes.io/region";

#[derive(Clone, Debug)]
struct PodState {
    info: Arc<PodInfo>,
    node: String,
    assumed: bool,
}

/// Nodes and the pods on them.
#[derive(Default)]
pub struct Cache {
    nodes: HashMap<String, Arc<NodeInfo>>,
    /// Nodes whose Node object is known (others only hold pods that name them).
    known: HashMap<String, ()>,
    pods: HashMap<String, PodState>,
    objects: Arc<Objects>,
    snapshot: Snapshot,
    stale: bool,
}

impl Cache {
    /// An empty cache.
    pub fn new() -> Cache {
        Cache {
            stale: true,
            ..Cache::default()
        }
    }

    fn entry(&mut self, name: &str) -> &mut Arc<NodeInfo> {
        self.nodes.entry(name.to_owned()).or_insert_with(|| {
            let mut n = Node::default();
            n.metadata.name = Some(name.to_owned());
            Arc::new(NodeInfo::new(Arc::new(n)))
        })
    }

    /// Mirrors a changed node into the snapshot (or marks it for a rebuild).
    fn touched(&mut self, name: &str) {
        if self.stale || !self.known.contains_key(name) {
            return;
        }
        match (self.snapshot.index_of(name), self.nodes.get(name)) {
            (Some(i), Some(n)) => self.snapshot.replace(i, n.clone()),
            _ => self.stale = true,
        }
    }

    /// Adds or replaces a node object.
    pub fn set_node(&mut self, node: Arc<Node>) {
        let name = node.metadata.name.clone().unwrap_or_default();
        let is_new = !self.known.contains_key(&name);
        let entry = self.entry(&name);
        Arc::make_mut(entry).set_node(node);
        self.known.insert(name.clone(), ());
        if is_new {
            self.stale = true;
        } else {
            self.touched(&name);
        }
    }

    /// Removes a node object (its pods stay until they go).
    pub fn remove_node(&mut self, name: &str) {
        self.known.remove(name);
        if self.nodes.get(name).is_some_and(|n| n.pods.is_empty()) {
            self.nodes.remove(name);
        }
        self.stale = true;
    }

    /// The Node object of a known node.
    pub fn node(&self, name: &str) -> Option<Arc<Node>> {
        if !self.known.contains_key(name) {
            return None;
        }
        self.nodes.get(name).map(|n| n.node.clone())
    }

    /// Names of the known nodes.
    pub fn node_names(&self) -> Vec<String> {
        self.known.keys().cloned().collect()
    }

    fn put(&mut self, info: Arc<PodInfo>, node: &str, assumed: bool) {
        let uid = info.uid.clone();
        Arc::make_mut(self.entry(node)).add_pod(info.clone());
        self.pods.insert(
            uid,
            PodState {
                info,
                node: node.to_owned(),
                assumed,
            },
        );
        self.touched(node);
    }

    fn take(&mut self, uid: &str) -> Option<PodState> {
        let state = self.pods.remove(uid)?;
        if let Some(n) = self.nodes.get_mut(&state.node) {
            Arc::make_mut(n).remove_pod(uid);
            if n.pods.is_empty() && !self.known.contains_key(&state.node) {
                self.nodes.remove(&state.node);
            }
        }
        self.touched(&state.node.clone());
        Some(state)
    }

    /// A pod assigned to a node was added or changed (from the informer). Confirms an
    /// assumed pod.
    pub fn set_pod(&mut self, info: Arc<PodInfo>) {
        if info.node_name.is_empty() {
            self.remove_pod(&info.uid);
            return;
        }
        let node = info.node_name.clone();
        self.take(&info.uid);
        self.put(info, &node, false);
    }

    /// A pod left (deleted, or finished and no longer counted).
    pub fn remove_pod(&mut self, uid: &str) {
        self.take(uid);
    }

    /// Assumes `info` runs on `node` until the informer confirms it or the bind fails.
    pub fn assume(&mut self, info: Arc<PodInfo>, node: &str) {
        if self.pods.contains_key(&info.uid) {
            return;
        }
        self.put(info, node, true);
    }

    /// Forgets an assumed pod whose bind failed.
    pub fn forget(&mut self, uid: &str) {
        if self.pods.get(uid).is_some_and(|s| s.assumed) {
            self.take(uid);
        }
    }

    /// Whether the pod is assumed (not yet confirmed bound).
    pub fn is_assumed(&self, uid: &str) -> bool {
        self.pods.get(uid).is_some_and(|s| s.assumed)
    }

    /// A counted pod (bound or assumed).
    pub fn pod(&self, uid: &str) -> Option<&Arc<PodInfo>> {
        self.pods.get(uid).map(|s| &s.info)
    }

    /// The node a pod is on (bound or assumed).
    pub fn node_of(&self, uid: &str) -> Option<&str> {
        self.pods.get(uid).map(|s| s.node.as_str())
    }

    /// Replaces namespaces, volumes and storage classes.
    pub fn set_objects(&mut self, objects: Arc<Objects>) {
        self.objects = objects.clone();
        self.snapshot.objects = objects;
    }

    /// The objects.
    pub fn objects(&self) -> &Arc<Objects> {
        &self.objects
    }

    /// Number of pods counted (bound and assumed).
    pub fn pod_count(&self) -> usize {
        self.pods.len()
    }

    /// The snapshot for a scheduling cycle.
    pub fn snapshot(&mut self) -> Snapshot {
        if self.stale {
            self.rebuild();
        }
        self.snapshot.clone()
    }

    /// Orders known nodes zone by zone, round robin (upstream's node tree), so a search over
    /// a window of nodes sees every zone.
    fn rebuild(&mut self) {
        let mut zones: BTreeMap<String, Vec<Arc<NodeInfo>>> = BTreeMap::new();
        let mut names: Vec<&String> = self.known.keys().collect();
        names.sort();
        for name in names {
            if let Some(n) = self.nodes.get(name) {
                let zone = format!(
                    "{}:\0:{}",
                    n.labels.get(REGION_LABEL).map(String::as_str).unwrap_or(""),
                    n.labels.get(ZONE_LABEL).map(String::as_str).unwrap_or("")
                );
                zones.entry(zone).or_default().push(n.clone());
            }
        }
        let mut lists: Vec<std::vec::IntoIter<Arc<NodeInfo>>> =
            zones.into_values().map(Vec::into_iter).collect();
        let mut ordered = Vec::with_capacity(self.known.len());
        loop {
            let mut any = false;
            for l in lists.iter_mut() {
                if let Some(n) = l.next() {
                    ordered.push(n);
                    any = true;
                }
            }
            if !any {
                break;
            }
        }
        self.snapshot = Snapshot::new(ordered, self.objects.clone());
        self.stale = false;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::api::core::v1::{Container, NodeStatus, Pod, PodSpec, ResourceRequirements};
    use k8s_openapi::apimachinery::pkg::api::resource::Quantity;

    fn node(name: &str, zone: &str) -> Arc<Node> {
        let mut n = Node::default();
        n.metadata.name = Some(name.into());
        n.metadata.labels = Some([(ZONE_LABEL.to_owned(), zone.to_owned())].into());
        n.status = Some(NodeStatus {
            allocatable: Some([("cpu".to_owned(), Quantity("4".into()))].into()),
            ..Default::default()
        });
        Arc::new(n)
    }

    fn pod(uid: &str, node: &str, cpu: &str) -> Arc<PodInfo> {
        let mut p = Pod::default();
        p.metadata.name = Some(uid.into());
        p.metadata.uid = Some(uid.into());
        p.metadata.namespace = Some("default".into());
        p.spec = Some(PodSpec {
            node_name: (!node.is_empty()).then(|| node.to_owned()),
            containers: vec![Container {
                name: "c".into(),
                resources: Some(ResourceRequirements {
                    requests: Some([("cpu".to_owned(), Quantity(cpu.into()))].into()),
                    ..Default::default()
                }),
                ..Default::default()
            }],
            ..Default::default()
        });
        Arc::new(PodInfo::new(Arc::new(p)))
    }

    #[test]
    fn nodes_interleave_by_zone() {
        let mut c = Cache::new();
        for (n, z) in [
            ("a1", "a"),
            ("a2", "a"),
            ("a3", "a"),
            ("b1", "b"),
            ("c1", "c"),
        ] {
            c.set_node(node(n, z));
        }
        let order: Vec<String> = c.snapshot().nodes.iter().map(|n| n.name.clone()).collect();
        assert_eq!(order, vec!["a1", "b1", "c1", "a2", "a3"]);
    }

    #[test]
    fn assumed_pods_count_until_confirmed_or_forgotten() {
        let mut c = Cache::new();
        c.set_node(node("n1", "a"));
        let before = c.snapshot();
        c.assume(pod("p1", "", "1"), "n1");
        let s = c.snapshot();
        assert_eq!(s.get("n1").unwrap().requested.milli_cpu, 1000);
        // The earlier snapshot is untouched.
        assert_eq!(before.get("n1").unwrap().requested.milli_cpu, 0);
        assert!(c.is_assumed("p1"));
        // The informer confirms it.
        c.set_pod(pod("p1", "n1", "1"));
        assert!(!c.is_assumed("p1"));
        assert_eq!(c.snapshot().get("n1").unwrap().pods.len(), 1);
        // A failed bind forgets an assumed pod, never a bound one.
        c.forget("p1");
        assert_eq!(c.snapshot().get("n1").unwrap().pods.len(), 1);
        c.assume(pod("p2", "", "2"), "n1");
        c.forget("p2");
        assert_eq!(c.snapshot().get("n1").unwrap().requested.milli_cpu, 1000);
        c.remove_pod("p1");
        assert_eq!(c.snapshot().get("n1").unwrap().requested.milli_cpu, 0);
    }

    #[test]
    fn pods_before_their_node_and_nodes_going_away() {
        let mut c = Cache::new();
        c.set_pod(pod("p1", "late", "1"));
        assert!(c.snapshot().get("late").is_none(), "no Node object yet");
        c.set_node(node("late", "a"));
        assert_eq!(c.snapshot().get("late").unwrap().pods.len(), 1);
        c.remove_node("late");
        assert!(c.snapshot().get("late").is_none());
        c.remove_pod("p1");
        assert_eq!(c.pod_count(), 0);
    }
}
