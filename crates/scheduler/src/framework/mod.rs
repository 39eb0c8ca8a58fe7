//! The scheduling framework (upstream's `k8s.io/kubernetes/pkg/scheduler/framework`): the
//! extension points a plugin implements, the per-cycle state, statuses, and the cluster
//! view ([`types`]) and resource arithmetic ([`resource`]) plugins work on.
//!
//! Everything here is pure: plugins decide from a [`Snapshot`] and a [`PodInfo`]; side
//! effects (binding, events, API calls) belong to the driver.

pub mod resource;
pub mod runtime;
pub mod summary;
pub mod types;

pub use types::{AffinityTerm, HostPort, Labels, NodeInfo, Objects, PodInfo, Snapshot};

use std::any::Any;
use std::collections::{HashMap, HashSet};
use std::sync::Arc;

/// Highest score a Score plugin may give after normalization.
pub const MAX_NODE_SCORE: i64 = 100;
/// Lowest score.
pub const MIN_NODE_SCORE: i64 = 0;

/// The outcome class of a plugin call.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Code {
    /// Go on.
    Success,
    /// An internal error: the pod is retried with backoff.
    Error,
    /// The pod does not fit here; preemption may help.
    Unschedulable,
    /// The pod does not fit here and preemption cannot help.
    UnschedulableAndUnresolvable,
    /// A Permit plugin asks to wait.
    Wait,
    /// A PreFilter/PreScore plugin has nothing to do for this pod: its Filter/Score is skipped.
    Skip,
}

/// A plugin's verdict: a code, reasons for users (they end up in `FailedScheduling`
/// events), and the plugin that gave it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Status {
    /// The outcome.
    pub code: Code,
    /// Human-readable reasons (upstream's wording, e.g. `Insufficient cpu`).
    pub reasons: Vec<String>,
    /// The plugin that returned it (set by the runtime).
    pub plugin: &'static str,
}

impl Status {
    /// Success.
    pub fn success() -> Status {
        Status {
            code: Code::Success,
            reasons: Vec::new(),
            plugin: "",
        }
    }

    /// A status with one reason.
    pub fn new(code: Code, reason: impl Into<String>) -> Status {
        Status {
            code,
            reasons: vec![reason.into()],
            plugin: "",
        }
    }

    /// A status with several reasons.
    pub fn with_reasons(code: Code, reasons: Vec<String>) -> Status {
        Status {
            code,
            reasons,
            plugin: "",
        }
    }

    /// `Unschedulable` with a reason.
    pub fn unschedulable(reason: impl Into<String>) -> Status {
        Status::new(Code::Unschedulable, reason)
    }

    /// `UnschedulableAndUnresolvable` with a reason.
    pub fn unresolvable(reason: impl Into<String>) -> Status {
        Status::new(Code::UnschedulableAndUnresolvable, reason)
    }

    /// `Error` with a reason.
    pub fn error(reason: impl Into<String>) -> Status {
        Status::new(Code::Error, reason)
    }

    /// `Skip`.
    pub fn skip() -> Status {
        Status {
            code: Code::Skip,
            reasons: Vec::new(),
            plugin: "",
        }
    }

    /// Whether the code is `Success`.
    pub fn is_success(&self) -> bool {
        self.code == Code::Success
    }

    /// Whether the pod was rejected (either unschedulable code).
    pub fn is_rejected(&self) -> bool {
        matches!(
            self.code,
            Code::Unschedulable | Code::UnschedulableAndUnresolvable
        )
    }

    /// The status with `plugin` recorded.
    pub fn from_plugin(mut self, plugin: &'static str) -> Status {
        self.plugin = plugin;
        self
    }
}

/// Data a plugin keeps for one scheduling cycle (computed in PreFilter/PreScore, read in
/// Filter/Score). Cloned when preemption simulates removing pods.
pub trait StateData: Any + Send + Sync {
    /// A boxed copy.
    fn clone_data(&self) -> Box<dyn StateData>;
    /// For downcasting.
    fn as_any(&self) -> &dyn Any;
    /// For downcasting.
    fn as_any_mut(&mut self) -> &mut dyn Any;
}

impl<T: Any + Send + Sync + Clone> StateData for T {
    fn clone_data(&self) -> Box<dyn StateData> {
        Box::new(self.clone())
    }
    fn as_any(&self) -> &dyn Any {
        self
    }
    fn as_any_mut(&mut self) -> &mut dyn Any {
        self
    }
}

/// Per-cycle plugin state, keyed by plugin-chosen names.
#[derive(Default)]
pub struct CycleState {
    data: HashMap<&'static str, Box<dyn StateData>>,
    /// Plugins whose Filter is skipped this cycle (their PreFilter returned Skip).
    pub skip_filter: HashSet<&'static str>,
    /// Plugins whose Score is skipped this cycle (their PreScore returned Skip).
    pub skip_score: HashSet<&'static str>,
}

impl Clone for CycleState {
    fn clone(&self) -> Self {
        CycleState {
            data: self
                .data
                .iter()
                .map(|(k, v)| (*k, (**v).clone_data()))
                .collect(),
            skip_filter: self.skip_filter.clone(),
            skip_score: self.skip_score.clone(),
        }
    }
}

impl CycleState {
    /// Stores a value.
    pub fn write<T: Any + Send + Sync + Clone>(&mut self, key: &'static str, value: T) {
        self.data.insert(key, Box::new(value));
    }

    /// Reads a value.
    pub fn read<T: Any>(&self, key: &'static str) -> Option<&T> {
        self.data
            .get(key)
            .and_then(|v| (**v).as_any().downcast_ref())
    }

    /// Reads a value for change.
    pub fn read_mut<T: Any>(&mut self, key: &'static str) -> Option<&mut T> {
        self.data
            .get_mut(key)
            .and_then(|v| (**v).as_any_mut().downcast_mut())
    }
}

/// The kind of object a cluster event is about.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum EventResource {
    /// A pod (an assigned pod: added, changed or deleted).
    Pod,
    /// A node.
    Node,
    /// A PersistentVolumeClaim.
    PersistentVolumeClaim,
    /// A PersistentVolume.
    PersistentVolume,
    /// A StorageClass.
    StorageClass,
    /// A Namespace.
    Namespace,
}

/// What happened to the object (upstream's `ActionType`, as a bit set).
pub mod action {
    /// Created.
    pub const ADD: u32 = 1;
    /// Deleted.
    pub const DELETE: u32 = 1 << 1;
    /// A node's allocatable changed.
    pub const UPDATE_NODE_ALLOCATABLE: u32 = 1 << 2;
    /// A node's labels changed.
    pub const UPDATE_NODE_LABEL: u32 = 1 << 3;
    /// A node's taints changed.
    pub const UPDATE_NODE_TAINT: u32 = 1 << 4;
    /// A node's conditions changed.
    pub const UPDATE_NODE_CONDITION: u32 = 1 << 5;
    /// A node's annotations changed.
    pub const UPDATE_NODE_ANNOTATION: u32 = 1 << 6;
    /// A pod's labels changed.
    pub const UPDATE_POD_LABEL: u32 = 1 << 7;
    /// A pod's requests were scaled down.
    pub const UPDATE_POD_SCALE_DOWN: u32 = 1 << 8;
    /// A pod's tolerations changed.
    pub const UPDATE_POD_TOLERATIONS: u32 = 1 << 9;
    /// Any other update.
    pub const UPDATE_OTHER: u32 = 1 << 10;
    /// Every kind of update.
    pub const UPDATE: u32 = UPDATE_NODE_ALLOCATABLE
        | UPDATE_NODE_LABEL
        | UPDATE_NODE_TAINT
        | UPDATE_NODE_CONDITION
        | UPDATE_NODE_ANNOTATION
        | UPDATE_POD_LABEL
        | UPDATE_POD_SCALE_DOWN
        | UPDATE_POD_TOLERATIONS
        | UPDATE_OTHER;
    /// Anything.
    pub const ALL: u32 = ADD | DELETE | UPDATE;
}

/// A change in the cluster that may make rejected pods schedulable.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct ClusterEvent {
    /// What changed.
    pub resource: EventResource,
    /// How (a set of [`action`] bits).
    pub actions: u32,
}

impl ClusterEvent {
    /// An event.
    pub const fn new(resource: EventResource, actions: u32) -> ClusterEvent {
        ClusterEvent { resource, actions }
    }

    /// Whether an event that happened (`self`) is one a plugin registered (`wanted`).
    pub fn matches(&self, wanted: &ClusterEvent) -> bool {
        self.resource == wanted.resource && self.actions & wanted.actions != 0
    }
}

/// A node and its score.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NodeScore {
    /// Node name.
    pub name: String,
    /// Score.
    pub score: i64,
}

/// What every plugin has.
pub trait Plugin: Send + Sync {
    /// The plugin's name, as in a KubeSchedulerConfiguration.
    fn name(&self) -> &'static str;

    /// Cluster events that may make a pod this plugin rejected schedulable.
    fn events(&self) -> Vec<ClusterEvent> {
        Vec::new()
    }
}

/// The outcome of PreFilter: the nodes the pod could possibly go to (`None`: all).
pub type PreFilterResult = Option<HashSet<String>>;

/// PreFilter: runs once per pod before filtering, may precompute state or narrow the nodes.
pub trait PreFilterPlugin: Plugin {
    /// Precomputes. `Skip` disables this plugin's Filter for the pod.
    fn pre_filter(
        &self,
        state: &mut CycleState,
        pod: &PodInfo,
        snapshot: &Snapshot,
    ) -> (PreFilterResult, Status);

    /// Updates the state as if `added` ran on `node` (preemption's what-if).
    fn add_pod(
        &self,
        _state: &mut CycleState,
        _pod: &PodInfo,
        _added: &PodInfo,
        _node: &NodeInfo,
    ) -> Status {
        Status::success()
    }

    /// Updates the state as if `removed` left `node` (preemption's what-if).
    fn remove_pod(
        &self,
        _state: &mut CycleState,
        _pod: &PodInfo,
        _removed: &PodInfo,
        _node: &NodeInfo,
    ) -> Status {
        Status::success()
    }
}

/// Filter: may the pod run on this node?
pub trait FilterPlugin: Plugin {
    /// `Success`, or why not.
    fn filter(&self, state: &CycleState, pod: &PodInfo, node: &NodeInfo) -> Status;
}

/// PreScore: runs once per pod over the feasible nodes before scoring.
pub trait PreScorePlugin: Plugin {
    /// Precomputes. `Skip` disables this plugin's Score for the pod.
    fn pre_score(&self, state: &mut CycleState, pod: &PodInfo, nodes: &[Arc<NodeInfo>]) -> Status;
}

/// Score: how good is this node for the pod?
pub trait ScorePlugin: Plugin {
    /// A raw score.
    fn score(&self, state: &CycleState, pod: &PodInfo, node: &NodeInfo) -> (i64, Status);

    /// Brings raw scores into `0..=MAX_NODE_SCORE` (when the plugin needs it).
    fn normalize(&self, _state: &CycleState, _pod: &PodInfo, _scores: &mut [NodeScore]) -> Status {
        Status::success()
    }
}

/// The extension points one plugin implements, for registration.
#[derive(Clone, Default)]
pub struct PluginSet {
    /// PreFilter.
    pub pre_filter: Option<Arc<dyn PreFilterPlugin>>,
    /// Filter.
    pub filter: Option<Arc<dyn FilterPlugin>>,
    /// PreScore.
    pub pre_score: Option<Arc<dyn PreScorePlugin>>,
    /// Score.
    pub score: Option<Arc<dyn ScorePlugin>>,
    /// Cluster events that may resolve this plugin's rejections.
    pub events: Vec<ClusterEvent>,
}

/// Builds a [`PluginSet`] from a plugin that implements several extension points.
#[macro_export]
macro_rules! plugin_set {
    ($p:expr $(, $point:ident)* $(,)?) => {{
        let p = ::std::sync::Arc::new($p);
        let mut set = $crate::framework::PluginSet::default();
        set.events = $crate::framework::Plugin::events(&*p);
        $( $crate::plugin_set!(@point set, p, $point); )*
        set
    }};
    (@point $set:ident, $p:ident, pre_filter) => { $set.pre_filter = Some($p.clone()); };
    (@point $set:ident, $p:ident, filter) => { $set.filter = Some($p.clone()); };
    (@point $set:ident, $p:ident, pre_score) => { $set.pre_score = Some($p.clone()); };
    (@point $set:ident, $p:ident, score) => { $set.score = Some($p.clone()); };
}

/// Upstream's `DefaultNormalizeScore`: scales scores so the largest is `max` (reversed when
/// `reverse`, so the smallest raw score gets `max`).
pub fn default_normalize(max: i64, reverse: bool, scores: &mut [NodeScore]) {
    let highest = scores.iter().map(|s| s.score).max().unwrap_or(0);
    if highest == 0 {
        if reverse {
            for s in scores.iter_mut() {
                s.score = max;
            }
        }
        return;
    }
    for s in scores.iter_mut() {
        s.score = max * s.score / highest;
        if reverse {
            s.score = max - s.score;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Clone)]
    struct Count(u32);

    #[test]
    fn cycle_state_clones_deeply() {
        let mut s = CycleState::default();
        s.write("count", Count(1));
        let mut copy = s.clone();
        copy.read_mut::<Count>("count").unwrap().0 = 2;
        assert_eq!(s.read::<Count>("count").unwrap().0, 1);
        assert_eq!(copy.read::<Count>("count").unwrap().0, 2);
        assert!(s.read::<u32>("count").is_none());
    }

    #[test]
    fn normalize() {
        let mut scores = vec![
            NodeScore {
                name: "a".into(),
                score: 2,
            },
            NodeScore {
                name: "b".into(),
                score: 4,
            },
        ];
        default_normalize(100, false, &mut scores);
        assert_eq!((scores[0].score, scores[1].score), (50, 100));
        default_normalize(100, true, &mut scores);
        assert_eq!((scores[0].score, scores[1].score), (50, 0));
    }

    #[test]
    fn events_match_by_resource_and_action() {
        let node_add = ClusterEvent::new(EventResource::Node, action::ADD);
        let wanted =
            ClusterEvent::new(EventResource::Node, action::ADD | action::UPDATE_NODE_TAINT);
        assert!(node_add.matches(&wanted));
        let pod_delete = ClusterEvent::new(EventResource::Pod, action::DELETE);
        assert!(!pod_delete.matches(&wanted));
    }
}
