//! A profile's plugins and the scheduling algorithm over them (upstream's
//! `frameworkruntime` and `schedule_one.go`): PreFilter, Filter over a rotating window of
//! nodes sized like upstream's `percentageOfNodesToScore`, PreScore, Score and
//! NormalizeScore with weights, and host selection with random tie-breaks. Failures carry a
//! diagnosis whose message is upstream's "0/N nodes are available: ..." summary.

use super::{
    ClusterEvent, Code, CycleState, FilterPlugin, MAX_NODE_SCORE, MIN_NODE_SCORE, NodeInfo,
    NodeScore, PodInfo, PreFilterPlugin, PreScorePlugin, ScorePlugin, Snapshot, Status,
};
use rand::Rng;
use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::Arc;

/// Fewest nodes to find feasible before stopping early (upstream's `minFeasibleNodesToFind`).
pub const MIN_FEASIBLE_NODES_TO_FIND: usize = 100;
/// Smallest adaptive percentage (upstream's `minFeasibleNodesPercentageToFind`).
pub const MIN_FEASIBLE_NODES_PERCENTAGE: usize = 5;
/// The message when the cluster has no nodes.
pub const NO_NODES_AVAILABLE: &str = "no nodes available to schedule pods";

/// The plugins of one profile (one `schedulerName`), in the order they run.
#[derive(Clone, Default)]
pub struct Framework {
    /// The `schedulerName` pods select this profile with.
    pub scheduler_name: String,
    /// PreFilter plugins.
    pub pre_filters: Vec<Arc<dyn PreFilterPlugin>>,
    /// Filter plugins.
    pub filters: Vec<Arc<dyn FilterPlugin>>,
    /// PreScore plugins.
    pub pre_scores: Vec<Arc<dyn PreScorePlugin>>,
    /// Score plugins with their weights.
    pub scores: Vec<(Arc<dyn ScorePlugin>, i64)>,
    /// The events each plugin registered (for requeueing pods it rejected).
    pub events: HashMap<&'static str, Vec<ClusterEvent>>,
    /// `percentageOfNodesToScore` (`None` or 0: adaptive).
    pub percentage_of_nodes_to_score: Option<u32>,
    /// Whether DefaultPreemption runs after a failed Filter.
    pub preemption: bool,
}

/// Why a pod could not be placed, node by node.
#[derive(Clone, Debug, Default)]
pub struct Diagnosis {
    /// The status of each node that was evaluated and rejected.
    pub node_to_status: HashMap<String, Status>,
    /// The status every node not in `node_to_status` has (when PreFilter narrowed the nodes).
    pub absent_nodes_status: Option<Status>,
    /// Plugins that rejected the pod somewhere.
    pub unschedulable_plugins: HashSet<&'static str>,
    /// The message of a PreFilter plugin that rejected the pod outright.
    pub pre_filter_msg: Option<String>,
    /// The message of PostFilter (preemption).
    pub post_filter_msg: Option<String>,
}

/// A pod that fits no node.
#[derive(Clone, Debug)]
pub struct FitError {
    /// How many nodes the cluster has.
    pub num_all_nodes: usize,
    /// Why not.
    pub diagnosis: Diagnosis,
}

impl FitError {
    /// Upstream's message: `0/5 nodes are available: 2 Insufficient cpu, 3 node(s) had
    /// untolerated taint {a: b}. preemption: ...`.
    pub fn message(&self) -> String {
        let mut msg = format!("0/{} nodes are available:", self.num_all_nodes);
        if let Some(pre) = &self.diagnosis.pre_filter_msg {
            msg.push_str(&format!(" {pre}."));
        } else {
            let mut counts: BTreeMap<&str, usize> = BTreeMap::new();
            for status in self.diagnosis.node_to_status.values() {
                for r in &status.reasons {
                    *counts.entry(r.as_str()).or_default() += 1;
                }
            }
            let absent = self
                .num_all_nodes
                .saturating_sub(self.diagnosis.node_to_status.len());
            if absent > 0
                && let Some(s) = &self.diagnosis.absent_nodes_status
            {
                for r in &s.reasons {
                    *counts.entry(r.as_str()).or_default() += absent;
                }
            }
            let mut parts: Vec<String> = counts.iter().map(|(r, n)| format!("{n} {r}")).collect();
            parts.sort();
            if !parts.is_empty() {
                msg.push_str(&format!(" {}.", parts.join(", ")));
            }
        }
        if let Some(post) = &self.diagnosis.post_filter_msg {
            msg.push_str(&format!(" {post}."));
        }
        msg
    }
}

/// Why scheduling a pod failed.
#[derive(Clone, Debug)]
pub enum ScheduleError {
    /// The cluster has no nodes.
    NoNodes,
    /// No node fits.
    Fit(Box<FitError>),
    /// A plugin failed internally.
    Internal(Status),
}

impl ScheduleError {
    /// The message for the `FailedScheduling` event and the `PodScheduled` condition.
    pub fn message(&self) -> String {
        match self {
            ScheduleError::NoNodes => NO_NODES_AVAILABLE.into(),
            ScheduleError::Fit(f) => f.message(),
            ScheduleError::Internal(s) => s.reasons.join(", "),
        }
    }
}

/// Where a pod goes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ScheduleResult {
    /// The chosen node.
    pub node: String,
    /// How many nodes were run through the filters.
    pub evaluated: usize,
    /// How many of those passed.
    pub feasible: usize,
}

/// Nominated pods per node (pods that preempted others and wait for room there).
pub trait Nominator {
    /// Pods nominated to `node`.
    fn nominated(&self, node: &str) -> Vec<Arc<PodInfo>>;
}

/// No nominated pods.
pub struct NoNominations;

impl Nominator for NoNominations {
    fn nominated(&self, _node: &str) -> Vec<Arc<PodInfo>> {
        Vec::new()
    }
}

impl Framework {
    /// Runs every PreFilter plugin. The nodes to consider (`None`: all) with the plugins
    /// that narrowed them, or the rejection.
    pub fn run_pre_filter(
        &self,
        state: &mut CycleState,
        pod: &PodInfo,
        snapshot: &Snapshot,
    ) -> Result<(Option<HashSet<String>>, Vec<&'static str>), Status> {
        let mut result: Option<HashSet<String>> = None;
        let mut narrowed_by: Vec<&'static str> = Vec::new();
        for p in &self.pre_filters {
            let (r, status) = p.pre_filter(state, pod, snapshot);
            match status.code {
                Code::Success => {}
                Code::Skip => {
                    state.skip_filter.insert(p.name());
                    continue;
                }
                _ => return Err(status.from_plugin(p.name())),
            }
            if let Some(nodes) = r {
                narrowed_by.push(p.name());
                result = Some(match result {
                    None => nodes,
                    Some(prev) => prev.intersection(&nodes).cloned().collect(),
                });
                if result.as_ref().is_some_and(HashSet::is_empty) {
                    narrowed_by.sort();
                    return Err(Status::unresolvable(format!(
                        "node(s) didn't satisfy plugin(s) [{}] simultaneously",
                        narrowed_by.join(" ")
                    ))
                    .from_plugin(p.name()));
                }
            }
        }
        narrowed_by.sort();
        Ok((result, narrowed_by))
    }

    /// Runs the Filter plugins on one node; the first rejection, or success.
    pub fn run_filters(&self, state: &CycleState, pod: &PodInfo, node: &NodeInfo) -> Status {
        for p in &self.filters {
            if state.skip_filter.contains(p.name()) {
                continue;
            }
            let s = p.filter(state, pod, node);
            if !s.is_success() {
                let s = if s.code == Code::Error || s.is_rejected() {
                    s
                } else {
                    Status::error(format!(
                        "plugin {} returned an unexpected status {:?}",
                        p.name(),
                        s.code
                    ))
                };
                return s.from_plugin(p.name());
            }
        }
        Status::success()
    }

    /// Runs the filters as upstream's `RunFilterPluginsWithNominatedPods`: when pods of equal
    /// or higher priority are nominated to the node, the pod must fit both with them and
    /// without them.
    pub fn run_filters_with_nominated(
        &self,
        state: &CycleState,
        pod: &PodInfo,
        node: &NodeInfo,
        nominator: &dyn Nominator,
    ) -> Status {
        let nominated: Vec<Arc<PodInfo>> = nominator
            .nominated(&node.name)
            .into_iter()
            .filter(|n| n.uid != pod.uid && n.priority >= pod.priority)
            .collect();
        if !nominated.is_empty() {
            let mut with_state = state.clone();
            let mut with_node = node.clone();
            for n in &nominated {
                with_node.add_pod(n.clone());
                for p in &self.pre_filters {
                    let s = p.add_pod(&mut with_state, pod, n, &with_node);
                    if !s.is_success() {
                        return s.from_plugin(p.name());
                    }
                }
            }
            let s = self.run_filters(&with_state, pod, &with_node);
            if !s.is_success() {
                return s;
            }
        }
        self.run_filters(state, pod, node)
    }

    /// Runs PreScore, Score and NormalizeScore over `nodes`; the weighted total per node.
    pub fn run_scores(
        &self,
        state: &mut CycleState,
        pod: &PodInfo,
        nodes: &[Arc<NodeInfo>],
    ) -> Result<Vec<i64>, Status> {
        for p in &self.pre_scores {
            let s = p.pre_score(state, pod, nodes);
            match s.code {
                Code::Success => {}
                Code::Skip => {
                    state.skip_score.insert(p.name());
                }
                _ => return Err(s.from_plugin(p.name())),
            }
        }
        let mut totals = vec![0i64; nodes.len()];
        let mut scores: Vec<NodeScore> = Vec::with_capacity(nodes.len());
        for (p, weight) in &self.scores {
            if state.skip_score.contains(p.name()) {
                continue;
            }
            scores.clear();
            for n in nodes {
                let (score, s) = p.score(state, pod, n);
                if !s.is_success() {
                    return Err(s.from_plugin(p.name()));
                }
                scores.push(NodeScore {
                    name: String::new(),
                    score,
                });
            }
            let s = p.normalize(state, pod, &mut scores);
            if !s.is_success() {
                return Err(s.from_plugin(p.name()));
            }
            for (i, ns) in scores.iter().enumerate() {
                if !(MIN_NODE_SCORE..=MAX_NODE_SCORE).contains(&ns.score) {
                    return Err(Status::error(format!(
                        "plugin {:?} returns an invalid score {}, it should in the range of [{MIN_NODE_SCORE}, {MAX_NODE_SCORE}] after normalizing",
                        p.name(),
                        ns.score
                    ))
                    .from_plugin(p.name()));
                }
                totals[i] += ns.score * weight;
            }
        }
        Ok(totals)
    }

    /// Whether any plugin filters.
    pub fn has_filters(&self) -> bool {
        !self.filters.is_empty()
    }

    /// How many feasible nodes to look for among `all` (upstream's
    /// `numFeasibleNodesToFind`).
    pub fn num_feasible_nodes_to_find(&self, all: usize) -> usize {
        if all < MIN_FEASIBLE_NODES_TO_FIND {
            return all;
        }
        let mut percentage = self.percentage_of_nodes_to_score.unwrap_or(0) as usize;
        if percentage == 0 {
            percentage = 50usize
                .saturating_sub(all / 125)
                .max(MIN_FEASIBLE_NODES_PERCENTAGE);
        }
        (all * percentage.min(100) / 100).max(MIN_FEASIBLE_NODES_TO_FIND)
    }
}

/// The algorithm's state between pods: where the next search starts.
#[derive(Debug, Default)]
pub struct Algorithm {
    next_start: usize,
}

impl Algorithm {
    /// Picks a node for `pod` (upstream's `schedulePod`).
    pub fn schedule(
        &mut self,
        fw: &Framework,
        state: &mut CycleState,
        pod: &PodInfo,
        snapshot: &Snapshot,
        nominator: &dyn Nominator,
        rng: &mut impl Rng,
    ) -> Result<ScheduleResult, ScheduleError> {
        let all = snapshot.nodes.len();
        if all == 0 {
            return Err(ScheduleError::NoNodes);
        }
        if let Some(e) = &pod.parse_error {
            return Err(ScheduleError::Internal(Status::error(e.clone())));
        }
        let (feasible, diagnosis) = self
            .find_feasible(fw, state, pod, snapshot, nominator)
            .map_err(ScheduleError::Internal)?;
        if feasible.is_empty() {
            return Err(ScheduleError::Fit(Box::new(FitError {
                num_all_nodes: all,
                diagnosis,
            })));
        }
        let evaluated = feasible.len() + diagnosis.node_to_status.len();
        if feasible.len() == 1 {
            return Ok(ScheduleResult {
                node: feasible[0].name.clone(),
                evaluated,
                feasible: 1,
            });
        }
        let totals = fw
            .run_scores(state, pod, &feasible)
            .map_err(ScheduleError::Internal)?;
        // Highest total; ties broken uniformly at random (reservoir sampling).
        let mut best = 0;
        let mut ties = 0u32;
        for (i, &t) in totals.iter().enumerate() {
            if i == 0 || t > totals[best] {
                best = i;
                ties = 1;
            } else if t == totals[best] {
                ties += 1;
                if rng.random_range(0..ties) == 0 {
                    best = i;
                }
            }
        }
        Ok(ScheduleResult {
            node: feasible[best].name.clone(),
            evaluated,
            feasible: feasible.len(),
        })
    }

    /// PreFilter, then the filters over a window of nodes starting where the last search
    /// stopped. A nominated node (`status.nominatedNodeName`) is tried first.
    fn find_feasible(
        &mut self,
        fw: &Framework,
        state: &mut CycleState,
        pod: &PodInfo,
        snapshot: &Snapshot,
        nominator: &dyn Nominator,
    ) -> Result<(Vec<Arc<NodeInfo>>, Diagnosis), Status> {
        let mut diagnosis = Diagnosis::default();
        let (allowed, narrowed_by) = match fw.run_pre_filter(state, pod, snapshot) {
            Ok(a) => a,
            Err(s) if s.code == Code::Error => return Err(s),
            Err(s) => {
                let msg = s.reasons.join(", ");
                for n in &snapshot.nodes {
                    diagnosis.node_to_status.insert(n.name.clone(), s.clone());
                }
                if !s.plugin.is_empty() {
                    diagnosis.unschedulable_plugins.insert(s.plugin);
                }
                diagnosis.pre_filter_msg = Some(msg);
                return Ok((Vec::new(), diagnosis));
            }
        };
        // The nominated node first: if the pod fits there, it goes there.
        let nominated = pod
            .pod
            .status
            .as_ref()
            .and_then(|s| s.nominated_node_name.as_deref())
            .filter(|n| !n.is_empty());
        if let Some(name) = nominated
            && let Some(node) = snapshot.get(name)
            && allowed.as_ref().is_none_or(|a| a.contains(name))
            && fw
                .run_filters_with_nominated(state, pod, node, nominator)
                .is_success()
        {
            return Ok((vec![node.clone()], diagnosis));
        }
        let candidates: Vec<&Arc<NodeInfo>> = match &allowed {
            None => snapshot.nodes.iter().collect(),
            Some(names) => {
                let mut v: Vec<&Arc<NodeInfo>> =
                    names.iter().filter_map(|n| snapshot.get(n)).collect();
                v.sort_by(|a, b| a.name.cmp(&b.name));
                diagnosis.absent_nodes_status = Some(Status::unresolvable(format!(
                    "node(s) didn't satisfy plugin(s) [{}]",
                    narrowed_by.join(" ")
                )));
                v
            }
        };
        let n = candidates.len();
        if n == 0 {
            return Ok((Vec::new(), diagnosis));
        }
        let want = fw.num_feasible_nodes_to_find(n);
        let mut feasible = Vec::with_capacity(want.min(n));
        if !fw.has_filters() {
            for i in 0..want.min(n) {
                feasible.push(candidates[(self.next_start + i) % n].clone());
            }
            self.next_start = (self.next_start + feasible.len()) % n;
            return Ok((feasible, diagnosis));
        }
        let mut processed = 0;
        for i in 0..n {
            if feasible.len() >= want {
                break;
            }
            let node = candidates[(self.next_start + i) % n];
            processed += 1;
            let s = fw.run_filters_with_nominated(state, pod, node, nominator);
            if s.is_success() {
                feasible.push(node.clone());
            } else if s.code == Code::Error {
                return Err(s);
            } else {
                if !s.plugin.is_empty() {
                    diagnosis.unschedulable_plugins.insert(s.plugin);
                }
                diagnosis.node_to_status.insert(node.name.clone(), s);
            }
        }
        self.next_start = (self.next_start + processed) % n;
        Ok((feasible, diagnosis))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::framework::{Plugin, PreFilterResult};
    use k8s_openapi::api::core::v1::{Node, Pod};
    use rand::SeedableRng;

    struct Even;
    impl Plugin for Even {
        fn name(&self) -> &'static str {
            "Even"
        }
    }
    impl FilterPlugin for Even {
        fn filter(&self, _: &CycleState, _: &PodInfo, node: &NodeInfo) -> Status {
            let i: usize = node.name[1..].parse().unwrap();
            if i.is_multiple_of(2) {
                Status::success()
            } else {
                Status::unschedulable("node(s) were odd")
            }
        }
    }
    impl ScorePlugin for Even {
        fn score(&self, _: &CycleState, _: &PodInfo, node: &NodeInfo) -> (i64, Status) {
            let i: i64 = node.name[1..].parse().unwrap();
            (i.min(100), Status::success())
        }
    }

    struct Picky;
    impl Plugin for Picky {
        fn name(&self) -> &'static str {
            "Picky"
        }
    }
    impl PreFilterPlugin for Picky {
        fn pre_filter(
            &self,
            _: &mut CycleState,
            _: &PodInfo,
            _: &Snapshot,
        ) -> (PreFilterResult, Status) {
            (
                None,
                Status::unresolvable("pod has unbound immediate PersistentVolumeClaims"),
            )
        }
    }

    fn snapshot(n: usize) -> Snapshot {
        let nodes = (0..n)
            .map(|i| {
                let mut node = Node::default();
                node.metadata.name = Some(format!("n{i}"));
                Arc::new(NodeInfo::new(Arc::new(node)))
            })
            .collect();
        Snapshot::new(nodes, Default::default())
    }

    fn pod() -> PodInfo {
        let mut p = Pod::default();
        p.metadata.name = Some("p".into());
        p.metadata.namespace = Some("default".into());
        PodInfo::new(Arc::new(p))
    }

    fn framework() -> Framework {
        let even = Arc::new(Even);
        Framework {
            filters: vec![even.clone()],
            scores: vec![(even, 1)],
            ..Default::default()
        }
    }

    #[test]
    fn picks_the_best_feasible_node() {
        let fw = framework();
        let mut rng = rand::rngs::StdRng::seed_from_u64(1);
        let snap = snapshot(10);
        let r = Algorithm::default()
            .schedule(
                &fw,
                &mut CycleState::default(),
                &pod(),
                &snap,
                &NoNominations,
                &mut rng,
            )
            .unwrap();
        assert_eq!(r.node, "n8");
        assert_eq!((r.evaluated, r.feasible), (10, 5));
    }

    #[test]
    fn the_failure_message_counts_reasons() {
        let fw = framework();
        let mut rng = rand::rngs::StdRng::seed_from_u64(1);
        let snap = Snapshot::new(vec![snapshot(2).nodes[1].clone()], Default::default());
        let err = Algorithm::default()
            .schedule(
                &fw,
                &mut CycleState::default(),
                &pod(),
                &snap,
                &NoNominations,
                &mut rng,
            )
            .unwrap_err();
        assert_eq!(
            err.message(),
            "0/1 nodes are available: 1 node(s) were odd."
        );
        let ScheduleError::Fit(f) = err else { panic!() };
        assert!(f.diagnosis.unschedulable_plugins.contains("Even"));

        let picky = Framework {
            pre_filters: vec![Arc::new(Picky)],
            ..framework()
        };
        let err = Algorithm::default()
            .schedule(
                &picky,
                &mut CycleState::default(),
                &pod(),
                &snapshot(3),
                &NoNominations,
                &mut rng,
            )
            .unwrap_err();
        assert_eq!(
            err.message(),
            "0/3 nodes are available: pod has unbound immediate PersistentVolumeClaims."
        );
        let err = Algorithm::default()
            .schedule(
                &fw,
                &mut CycleState::default(),
                &pod(),
                &snapshot(0),
                &NoNominations,
                &mut rng,
            )
            .unwrap_err();
        assert_eq!(err.message(), NO_NODES_AVAILABLE);
    }

    #[test]
    fn adaptive_percentage_of_nodes() {
        let fw = Framework::default();
        assert_eq!(fw.num_feasible_nodes_to_find(50), 50);
        assert_eq!(fw.num_feasible_nodes_to_find(1000), 420);
        assert_eq!(fw.num_feasible_nodes_to_find(5000), 500);
        assert_eq!(fw.num_feasible_nodes_to_find(100_000), 5000);
        let fixed = Framework {
            percentage_of_nodes_to_score: Some(100),
            ..Default::default()
        };
        assert_eq!(fixed.num_feasible_nodes_to_find(5000), 5000);
    }

    #[test]
    fn searches_rotate_through_the_nodes() {
        let fw = Framework {
            percentage_of_nodes_to_score: Some(10),
            ..framework()
        };
        let snap = snapshot(2000);
        let mut algo = Algorithm::default();
        let mut rng = rand::rngs::StdRng::seed_from_u64(1);
        let a = algo
            .schedule(
                &fw,
                &mut CycleState::default(),
                &pod(),
                &snap,
                &NoNominations,
                &mut rng,
            )
            .unwrap();
        let b = algo
            .schedule(
                &fw,
                &mut CycleState::default(),
                &pod(),
                &snap,
                &NoNominations,
                &mut rng,
            )
            .unwrap();
        // 200 feasible (even) nodes take 399 evaluations; the next search starts after them.
        assert_eq!((a.evaluated, b.evaluated), (399, 400));
        assert_eq!(algo.next_start, 799);
        let first: usize = a.node[1..].parse().unwrap();
        let second: usize = b.node[1..].parse().unwrap();
        assert!(
            first < 399 && (399..799).contains(&second),
            "{first} {second}"
        );
    }
}
