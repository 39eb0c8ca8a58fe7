//! NodeResourcesFit and NodeResourcesBalancedAllocation (upstream's `noderesources`
//! plugins).
//!
//! NodeResourcesFit's Filter checks that the node has room for the pod's requests (and one
//! more pod); its Score follows the configured strategy: `LeastAllocated` (the default),
//! `MostAllocated` or `RequestedToCapacityRatio`, all over the non-zero requests (a container
//! without a cpu or memory request counts 100m and 200Mi). BalancedAllocation favours nodes
//! whose resource fractions stay close to each other, over the plain requests.

use crate::framework::resource::{CPU, EPHEMERAL_STORAGE, MEMORY, PODS, Resource};
use crate::framework::{
    ClusterEvent, CycleState, EventResource, FilterPlugin, MAX_NODE_SCORE, NodeInfo, Plugin,
    PluginSet, PodInfo, PreFilterPlugin, PreFilterResult, PreScorePlugin, ScorePlugin, Snapshot,
    Status, action,
};
use crate::plugin_set;
use crate::plugins::{decode_args, names};
use serde::Deserialize;
use serde_json::Value;
use skiff_core::labels::go_quote;
use skiff_core::validation::is_qualified_name;
use std::collections::HashSet;
use std::sync::Arc;

const PRE_FILTER_KEY: &str = "PreFilterNodeResourcesFit";
const PRE_SCORE_KEY: &str = "PreScoreNodeResourcesFit";
const BALANCED_PRE_SCORE_KEY: &str = "PreScoreNodeResourcesBalancedAllocation";

/// `LeastAllocated`.
pub const LEAST_ALLOCATED: &str = "LeastAllocated";
/// `MostAllocated`.
pub const MOST_ALLOCATED: &str = "MostAllocated";
/// `RequestedToCapacityRatio`.
pub const REQUESTED_TO_CAPACITY_RATIO: &str = "RequestedToCapacityRatio";
/// The highest score a `RequestedToCapacityRatio` shape point may give (upstream's
/// `MaxCustomPriorityScore`); shape scores are scaled by `MAX_NODE_SCORE / 10`.
pub const MAX_CUSTOM_PRIORITY_SCORE: i64 = 10;
const MAX_UTILIZATION: i64 = 100;

/// Upstream's `IsNativeResource`: no domain prefix, or a `kubernetes.io/` one.
fn is_native_resource(name: &str) -> bool {
    !name.contains('/') || name.contains("kubernetes.io/")
}

/// Upstream's `IsExtendedResourceName`: a fully-qualified name outside `kubernetes.io/`
/// that is not a quota `requests.` name.
pub fn is_extended_resource_name(name: &str) -> bool {
    if is_native_resource(name) || name.starts_with("requests.") {
        return false;
    }
    is_qualified_name(&format!("requests.{name}")).is_empty()
}

/// Upstream's `IsScalarResourceName`: extended resources, hugepages, prefixed native
/// resources and attachable volume counts.
pub fn is_scalar_resource_name(name: &str) -> bool {
    is_extended_resource_name(name)
        || name.starts_with("hugepages-")
        || name.contains("kubernetes.io/")
        || name.starts_with("attachable-volumes-")
}

/// A resource and its weight in a score (`ResourceSpec`).
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ResourceSpec {
    /// The resource name.
    pub name: String,
    /// Its weight (0 means 1).
    #[serde(default)]
    pub weight: i64,
}

fn default_resources() -> Vec<ResourceSpec> {
    vec![
        ResourceSpec {
            name: CPU.into(),
            weight: 1,
        },
        ResourceSpec {
            name: MEMORY.into(),
            weight: 1,
        },
    ]
}

/// A point of a `RequestedToCapacityRatio` shape.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ShapePoint {
    /// Utilization, 0-100.
    #[serde(default)]
    pub utilization: i64,
    /// Score, 0-10.
    #[serde(default)]
    pub score: i64,
}

#[derive(Clone, Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct RequestedToCapacityRatioParam {
    #[serde(default)]
    shape: Vec<ShapePoint>,
}

#[derive(Clone, Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct ScoringStrategy {
    #[serde(default, rename = "type")]
    kind: String,
    #[serde(default)]
    resources: Vec<ResourceSpec>,
    #[serde(default)]
    requested_to_capacity_ratio: Option<RequestedToCapacityRatioParam>,
}

/// `NodeResourcesFitArgs`.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct FitArgs {
    #[serde(default)]
    ignored_resources: Vec<String>,
    #[serde(default)]
    ignored_resource_groups: Vec<String>,
    #[serde(default)]
    scoring_strategy: Option<ScoringStrategy>,
}

/// `NodeResourcesBalancedAllocationArgs`.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct BalancedArgs {
    #[serde(default)]
    resources: Vec<ResourceSpec>,
}

fn aggregate(errs: Vec<String>) -> Result<(), String> {
    match errs.len() {
        0 => Ok(()),
        1 => Err(errs.into_iter().next().unwrap_or_default()),
        _ => Err(format!("[{}]", errs.join(", "))),
    }
}

/// Upstream's v1 defaulting: missing or zero weights become 1.
fn default_weights(resources: &mut [ResourceSpec]) {
    for r in resources {
        if r.weight == 0 {
            r.weight = 1;
        }
    }
}

fn validate_shape(shape: &[ShapePoint], path: &str, errs: &mut Vec<String>) {
    if shape.is_empty() {
        errs.push(format!(
            "{path}: Required value: at least one point must be specified"
        ));
        return;
    }
    if let Some(i) = (1..shape.len()).find(|&i| shape[i - 1].utilization >= shape[i].utilization) {
        errs.push(format!(
            "{path}[{i}].utilization: Invalid value: {}: values must be sorted in increasing order",
            shape[i].utilization
        ));
    }
    for (i, p) in shape.iter().enumerate() {
        if !(0..=MAX_UTILIZATION).contains(&p.utilization) {
            errs.push(format!(
                "{path}[{i}].utilization: Invalid value: {}: not in valid range [0, {MAX_UTILIZATION}]",
                p.utilization
            ));
        }
        if !(0..=MAX_CUSTOM_PRIORITY_SCORE).contains(&p.score) {
            errs.push(format!(
                "{path}[{i}].score: Invalid value: {}: not in valid range [0, {MAX_CUSTOM_PRIORITY_SCORE}]",
                p.score
            ));
        }
    }
}

/// How a node's requested and allocatable amounts turn into a score.
#[derive(Clone, Debug)]
enum Strategy {
    LeastAllocated,
    MostAllocated,
    /// The shape with scores already scaled to `MAX_NODE_SCORE`.
    RequestedToCapacityRatio(Vec<ShapePoint>),
    Balanced,
}

/// Upstream's `BuildBrokenLinearFunction`.
fn broken_linear(shape: &[ShapePoint], p: i64) -> i64 {
    for (i, point) in shape.iter().enumerate() {
        if p <= point.utilization {
            if i == 0 {
                return point.score;
            }
            let prev = shape[i - 1];
            return prev.score
                + (point.score - prev.score) * (p - prev.utilization)
                    / (point.utilization - prev.utilization);
        }
    }
    shape.last().map_or(0, |p| p.score)
}

fn least_requested(requested: i64, capacity: i64) -> i64 {
    if capacity == 0 || requested > capacity {
        return 0;
    }
    (capacity - requested) * MAX_NODE_SCORE / capacity
}

fn most_requested(requested: i64, capacity: i64) -> i64 {
    if capacity == 0 {
        return 0;
    }
    // Requests can exceed capacity because pods without requests count minimums.
    requested.min(capacity) * MAX_NODE_SCORE / capacity
}

impl Strategy {
    /// The score from per-resource `(requested, allocatable)` pairs (a zero allocatable
    /// means the resource is left out) and weights.
    fn score(&self, amounts: &[(i64, i64)], resources: &[ResourceSpec]) -> i64 {
        match self {
            Strategy::LeastAllocated | Strategy::MostAllocated => {
                let (mut total, mut weights) = (0i64, 0i64);
                for ((req, alloc), r) in amounts.iter().zip(resources) {
                    if *alloc == 0 {
                        continue;
                    }
                    let s = if matches!(self, Strategy::LeastAllocated) {
                        least_requested(*req, *alloc)
                    } else {
                        most_requested(*req, *alloc)
                    };
                    total += s * r.weight;
                    weights += r.weight;
                }
                if weights == 0 { 0 } else { total / weights }
            }
            Strategy::RequestedToCapacityRatio(shape) => {
                let (mut total, mut weights) = (0i64, 0i64);
                for ((req, alloc), r) in amounts.iter().zip(resources) {
                    if *alloc == 0 {
                        continue;
                    }
                    let utilization = if *req > *alloc {
                        MAX_UTILIZATION
                    } else {
                        req * MAX_UTILIZATION / alloc
                    };
                    let s = broken_linear(shape, utilization);
                    if s > 0 {
                        total += s * r.weight;
                        weights += r.weight;
                    }
                }
                if weights == 0 {
                    0
                } else {
                    (total as f64 / weights as f64).round() as i64
                }
            }
            Strategy::Balanced => {
                // Up to a handful of resources: keep the fractions on the stack.
                let mut fractions = [0f64; 8];
                let mut extra = Vec::new();
                let mut n = 0usize;
                let mut sum = 0f64;
                for (req, alloc) in amounts {
                    if *alloc == 0 {
                        continue;
                    }
                    let f = (*req as f64 / *alloc as f64).min(1.0);
                    sum += f;
                    if n < fractions.len() {
                        fractions[n] = f;
                    } else {
                        extra.push(f);
                    }
                    n += 1;
                }
                let all = || fractions[..n.min(8)].iter().chain(extra.iter());
                let std = match n {
                    0 | 1 => 0.0,
                    2 => ((fractions[0] - fractions[1]) / 2.0).abs(),
                    _ => {
                        let mean = sum / n as f64;
                        let var: f64 =
                            all().map(|f| (f - mean) * (f - mean)).sum::<f64>() / n as f64;
                        var.sqrt()
                    }
                };
                ((1.0 - std) * MAX_NODE_SCORE as f64) as i64
            }
        }
    }
}

/// Scores nodes by how much of each configured resource would be in use with the pod
/// (upstream's `resourceAllocationScorer`).
#[derive(Clone, Debug)]
struct AllocationScorer {
    strategy: Strategy,
    resources: Vec<ResourceSpec>,
    /// Plain requests (BalancedAllocation) rather than non-zero ones (NodeResourcesFit).
    use_requested: bool,
}

/// The pod's request for each configured resource, computed in PreScore.
#[derive(Clone, Debug)]
struct PodRequests(Vec<i64>);

impl AllocationScorer {
    fn pod_requests(&self, pod: &PodInfo) -> Vec<i64> {
        let r: &Resource = if self.use_requested {
            &pod.requests
        } else {
            &pod.non_zero_requests
        };
        self.resources
            .iter()
            .map(|spec| r.get(&spec.name))
            .collect()
    }

    /// `(requested, allocatable)` of one resource on the node with the pod; `(0, 0)` when
    /// the resource does not take part.
    fn amounts(&self, node: &NodeInfo, name: &str, pod_request: i64) -> (i64, i64) {
        let requested = if self.use_requested {
            &node.requested
        } else {
            &node.non_zero_requested
        };
        match name {
            CPU => (
                requested.milli_cpu + pod_request,
                node.allocatable.milli_cpu,
            ),
            MEMORY => (requested.memory + pod_request, node.allocatable.memory),
            EPHEMERAL_STORAGE => (
                node.requested.ephemeral_storage + pod_request,
                node.allocatable.ephemeral_storage,
            ),
            _ if pod_request == 0 || !is_scalar_resource_name(name) => (0, 0),
            _ => match node.allocatable.scalar.get(name) {
                Some(alloc) => (
                    node.requested.scalar.get(name).copied().unwrap_or(0) + pod_request,
                    *alloc,
                ),
                None => (0, 0),
            },
        }
    }

    fn score(&self, node: &NodeInfo, pod_requests: &[i64]) -> i64 {
        let mut buf = [(0i64, 0i64); 8];
        let mut heap;
        let amounts: &mut [(i64, i64)] = if self.resources.len() <= buf.len() {
            &mut buf[..self.resources.len()]
        } else {
            heap = vec![(0, 0); self.resources.len()];
            &mut heap
        };
        for (i, spec) in self.resources.iter().enumerate() {
            amounts[i] = self.amounts(node, &spec.name, pod_requests[i]);
        }
        self.strategy.score(amounts, &self.resources)
    }
}

/// The NodeResourcesFit plugin.
#[derive(Clone, Debug)]
pub struct Fit {
    ignored_resources: HashSet<String>,
    ignored_groups: HashSet<String>,
    scorer: AllocationScorer,
}

/// The pod's requests, computed in PreFilter.
#[derive(Clone, Debug)]
struct FitState(Resource);

/// One resource the node is short of.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct InsufficientResource {
    /// The resource.
    pub name: String,
    /// The reason shown to users (`Insufficient cpu`, `Too many pods`).
    pub reason: String,
    /// What the pod asks for.
    pub requested: i64,
    /// What the node's pods already use.
    pub used: i64,
    /// What the node offers.
    pub capacity: i64,
}

impl Fit {
    fn ignored(&self, name: &str) -> bool {
        if !is_extended_resource_name(name) {
            return false;
        }
        if self.ignored_resources.contains(name) {
            return true;
        }
        !self.ignored_groups.is_empty()
            && self
                .ignored_groups
                .contains(name.split('/').next().unwrap_or(""))
    }

    /// What the node lacks for a pod requesting `req` (upstream's `fitsRequest`).
    pub fn insufficient(&self, req: &Resource, node: &NodeInfo) -> Vec<InsufficientResource> {
        let mut out = Vec::new();
        let pods = node.pods.len() as i64;
        if pods + 1 > node.allocatable.allowed_pods {
            out.push(InsufficientResource {
                name: PODS.into(),
                reason: "Too many pods".into(),
                requested: 1,
                used: pods,
                capacity: node.allocatable.allowed_pods,
            });
        }
        if req.milli_cpu == 0
            && req.memory == 0
            && req.ephemeral_storage == 0
            && req.scalar.values().all(|v| *v == 0)
        {
            return out;
        }
        fn check(
            out: &mut Vec<InsufficientResource>,
            name: &str,
            want: i64,
            used: i64,
            cap: i64,
            reason: impl FnOnce() -> String,
        ) {
            if want > 0 && want > cap - used {
                out.push(InsufficientResource {
                    name: name.into(),
                    reason: reason(),
                    requested: want,
                    used,
                    capacity: cap,
                });
            }
        }
        let (a, u) = (&node.allocatable, &node.requested);
        check(
            &mut out,
            CPU,
            req.milli_cpu,
            u.milli_cpu,
            a.milli_cpu,
            || "Insufficient cpu".into(),
        );
        check(&mut out, MEMORY, req.memory, u.memory, a.memory, || {
            "Insufficient memory".into()
        });
        check(
            &mut out,
            EPHEMERAL_STORAGE,
            req.ephemeral_storage,
            u.ephemeral_storage,
            a.ephemeral_storage,
            || "Insufficient ephemeral-storage".into(),
        );
        for (name, want) in &req.scalar {
            if *want == 0 || self.ignored(name) {
                continue;
            }
            let used = u.scalar.get(name).copied().unwrap_or(0);
            let cap = a.scalar.get(name).copied().unwrap_or(0);
            check(&mut out, name, *want, used, cap, || {
                format!("Insufficient {name}")
            });
        }
        out
    }
}

impl Plugin for Fit {
    fn name(&self) -> &'static str {
        names::NODE_RESOURCES_FIT
    }

    fn events(&self) -> Vec<ClusterEvent> {
        vec![
            ClusterEvent::new(
                EventResource::Pod,
                action::DELETE | action::UPDATE_POD_SCALE_DOWN,
            ),
            ClusterEvent::new(
                EventResource::Node,
                action::ADD | action::UPDATE_NODE_ALLOCATABLE,
            ),
        ]
    }
}

impl PreFilterPlugin for Fit {
    fn pre_filter(
        &self,
        state: &mut CycleState,
        pod: &PodInfo,
        _snapshot: &Snapshot,
    ) -> (PreFilterResult, Status) {
        state.write(PRE_FILTER_KEY, FitState(pod.requests.clone()));
        (None, Status::success())
    }
}

impl FilterPlugin for Fit {
    fn filter(&self, state: &CycleState, pod: &PodInfo, node: &NodeInfo) -> Status {
        let req = state
            .read::<FitState>(PRE_FILTER_KEY)
            .map_or(&pod.requests, |s| &s.0);
        let lacking = self.insufficient(req, node);
        if lacking.is_empty() {
            Status::success()
        } else {
            Status::with_reasons(
                crate::framework::Code::Unschedulable,
                lacking.into_iter().map(|r| r.reason).collect(),
            )
        }
    }
}

impl PreScorePlugin for Fit {
    fn pre_score(&self, state: &mut CycleState, pod: &PodInfo, _nodes: &[Arc<NodeInfo>]) -> Status {
        state.write(PRE_SCORE_KEY, PodRequests(self.scorer.pod_requests(pod)));
        Status::success()
    }
}

impl ScorePlugin for Fit {
    fn score(&self, state: &CycleState, pod: &PodInfo, node: &NodeInfo) -> (i64, Status) {
        let score = match state.read::<PodRequests>(PRE_SCORE_KEY) {
            Some(r) => self.scorer.score(node, &r.0),
            None => self.scorer.score(node, &self.scorer.pod_requests(pod)),
        };
        (score, Status::success())
    }
}

/// The NodeResourcesBalancedAllocation plugin.
#[derive(Clone, Debug)]
pub struct BalancedAllocation {
    scorer: AllocationScorer,
}

impl Plugin for BalancedAllocation {
    fn name(&self) -> &'static str {
        names::NODE_RESOURCES_BALANCED_ALLOCATION
    }
}

impl PreScorePlugin for BalancedAllocation {
    fn pre_score(&self, state: &mut CycleState, pod: &PodInfo, _nodes: &[Arc<NodeInfo>]) -> Status {
        let requests = self.scorer.pod_requests(pod);
        // Best-effort pods are not scored, so they do not all pile onto one node.
        if requests.iter().all(|r| *r == 0) {
            return Status::skip();
        }
        state.write(BALANCED_PRE_SCORE_KEY, PodRequests(requests));
        Status::success()
    }
}

impl ScorePlugin for BalancedAllocation {
    fn score(&self, state: &CycleState, pod: &PodInfo, node: &NodeInfo) -> (i64, Status) {
        let score = match state.read::<PodRequests>(BALANCED_PRE_SCORE_KEY) {
            Some(r) => self.scorer.score(node, &r.0),
            None => {
                let r = self.scorer.pod_requests(pod);
                if r.iter().all(|v| *v == 0) {
                    0
                } else {
                    self.scorer.score(node, &r)
                }
            }
        };
        (score, Status::success())
    }
}

fn build_fit(args: FitArgs) -> Result<Fit, String> {
    let mut errs = Vec::new();
    for (i, r) in args.ignored_resources.iter().enumerate() {
        for e in is_qualified_name(r) {
            errs.push(format!(
                "ignoredResources[{i}]: Invalid value: {}: {e}",
                go_quote(r)
            ));
        }
    }
    for (i, g) in args.ignored_resource_groups.iter().enumerate() {
        if g.contains('/') {
            errs.push(format!(
                "ignoredResourceGroups[{i}]: Invalid value: {}: resource group name can't contain '/'",
                go_quote(g)
            ));
        }
        for e in is_qualified_name(g) {
            errs.push(format!(
                "ignoredResourceGroups[{i}]: Invalid value: {}: {e}",
                go_quote(g)
            ));
        }
    }
    let mut strategy = args.scoring_strategy.unwrap_or_else(|| ScoringStrategy {
        kind: LEAST_ALLOCATED.into(),
        resources: Vec::new(),
        requested_to_capacity_ratio: None,
    });
    if strategy.resources.is_empty() {
        strategy.resources = default_resources();
    }
    default_weights(&mut strategy.resources);
    let kind = match strategy.kind.as_str() {
        LEAST_ALLOCATED => Some(Strategy::LeastAllocated),
        MOST_ALLOCATED => Some(Strategy::MostAllocated),
        REQUESTED_TO_CAPACITY_RATIO => Some(Strategy::RequestedToCapacityRatio(Vec::new())),
        other => {
            errs.push(format!(
                "scoringStrategy.type: Unsupported value: {}: supported values: \"{LEAST_ALLOCATED}\", \"{MOST_ALLOCATED}\", \"{REQUESTED_TO_CAPACITY_RATIO}\"",
                go_quote(other)
            ));
            None
        }
    };
    for (i, r) in strategy.resources.iter().enumerate() {
        if r.weight <= 0 || r.weight > 100 {
            errs.push(format!(
                "scoringStrategy.resources[{i}].weight: Invalid value: {}: resource weight of {} not in valid range (0, 100]",
                r.weight, r.name
            ));
        }
    }
    if let Some(rtcr) = &strategy.requested_to_capacity_ratio {
        validate_shape(&rtcr.shape, "scoringStrategy.shape", &mut errs);
    } else if matches!(kind, Some(Strategy::RequestedToCapacityRatio(_))) {
        errs.push("scoringStrategy.requestedToCapacityRatio: Required value".into());
    }
    aggregate(errs)?;
    let kind = match kind {
        Some(Strategy::RequestedToCapacityRatio(_)) => {
            let scale = MAX_NODE_SCORE / MAX_CUSTOM_PRIORITY_SCORE;
            let shape = strategy
                .requested_to_capacity_ratio
                .map(|r| r.shape)
                .unwrap_or_default()
                .into_iter()
                .map(|p| ShapePoint {
                    utilization: p.utilization,
                    score: p.score * scale,
                })
                .collect();
            Strategy::RequestedToCapacityRatio(shape)
        }
        Some(k) => k,
        None => unreachable!("an unknown strategy was reported above"),
    };
    Ok(Fit {
        ignored_resources: args.ignored_resources.into_iter().collect(),
        ignored_groups: args.ignored_resource_groups.into_iter().collect(),
        scorer: AllocationScorer {
            strategy: kind,
            resources: strategy.resources,
            use_requested: false,
        },
    })
}

/// Builds NodeResourcesFit from `NodeResourcesFitArgs` (`ignoredResources`,
/// `ignoredResourceGroups`, `scoringStrategy`).
pub fn new_fit(args: Option<&Value>) -> Result<PluginSet, String> {
    let fit = build_fit(decode_args(args)?)?;
    Ok(plugin_set!(fit, pre_filter, filter, pre_score, score))
}

fn build_balanced(args: BalancedArgs) -> Result<BalancedAllocation, String> {
    let mut resources = args.resources;
    if resources.is_empty() {
        resources = default_resources();
    }
    default_weights(&mut resources);
    let mut errs = Vec::new();
    let mut seen = HashSet::new();
    for (i, r) in resources.iter().enumerate() {
        if !seen.insert(r.name.as_str()) {
            errs.push(format!(
                "resources[{i}].name: Duplicate value: {}",
                go_quote(&r.name)
            ));
        }
        if r.weight != 1 {
            errs.push(format!(
                "resources[{i}].weight: Invalid value: {}: must be 1",
                r.weight
            ));
        }
    }
    aggregate(errs)?;
    Ok(BalancedAllocation {
        scorer: AllocationScorer {
            strategy: Strategy::Balanced,
            resources,
            use_requested: true,
        },
    })
}

/// Builds NodeResourcesBalancedAllocation from `NodeResourcesBalancedAllocationArgs`
/// (`resources`).
pub fn new_balanced(args: Option<&Value>) -> Result<PluginSet, String> {
    let ba = build_balanced(decode_args(args)?)?;
    Ok(plugin_set!(ba, pre_score, score))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::framework::Code;
    use crate::plugins::testing::{NodeBuilder, PodBuilder, node, run_filter, run_score, snapshot};
    use serde_json::json;

    const EXT_A: &str = "example.com/aaa";
    const EXT_B: &str = "example.com/bbb";
    const KUBE_IO: &str = "kubernetes.io/something";
    const HUGEPAGES: &str = "hugepages-2Mi";

    /// A node with 10 cpu, 20 bytes of memory, 32 pods, 5 of EXT_A, 20 bytes of ephemeral
    /// storage and 5 hugepages.
    fn fit_node() -> NodeBuilder {
        node("n").allocatable(&[
            ("cpu", "10m"),
            ("memory", "20"),
            ("pods", "32"),
            (EXT_A, "5"),
            ("ephemeral-storage", "20"),
            (HUGEPAGES, "5"),
        ])
    }

    fn reqs(pairs: &[(&str, &str)]) -> PodBuilder {
        PodBuilder::new("p").container("busybox", pairs)
    }

    fn filter_reasons(args: Value, pod: PodBuilder, running: Vec<PodBuilder>) -> Vec<String> {
        let set = new_fit(Some(&args)).unwrap();
        let snap = snapshot(vec![fit_node().with_pods(running)]);
        let run = run_filter(&set, &pod.info(), &snap);
        assert!(run.pre_filter.is_success());
        let s = &run.filter[0];
        if s.is_success() {
            Vec::new()
        } else {
            assert_eq!(s.code, Code::Unschedulable);
            s.reasons.clone()
        }
    }

    #[test]
    fn filter() {
        let cpu_mem = |c: &str, m: &str| reqs(&[("cpu", c), ("memory", m)]);
        let none = json!({});
        // (name, args, pod, pods already on the node, reasons)
        type Case = (
            &'static str,
            Value,
            PodBuilder,
            Vec<PodBuilder>,
            Vec<&'static str>,
        );
        let cases: Vec<Case> = vec![
            (
                "no requests fit",
                none.clone(),
                PodBuilder::new("p"),
                vec![cpu_mem("10m", "20")],
                vec![],
            ),
            (
                "fits",
                none.clone(),
                cpu_mem("1m", "1"),
                vec![cpu_mem("5m", "5")],
                vec![],
            ),
            (
                "too much cpu",
                none.clone(),
                cpu_mem("1m", "1"),
                vec![cpu_mem("10m", "5")],
                vec!["Insufficient cpu"],
            ),
            (
                "too much of both",
                none.clone(),
                cpu_mem("4m", "2"),
                vec![cpu_mem("8m", "19")],
                vec!["Insufficient cpu", "Insufficient memory"],
            ),
            (
                "init container dominates",
                none.clone(),
                cpu_mem("1m", "1").init_container("init", &[("cpu", "3m"), ("memory", "1")], false),
                vec![cpu_mem("8m", "19")],
                vec!["Insufficient cpu"],
            ),
            (
                "sidecar adds to the containers",
                none.clone(),
                cpu_mem("1m", "1").init_container("sc", &[("cpu", "2m")], true),
                vec![cpu_mem("8m", "1")],
                vec!["Insufficient cpu"],
            ),
            (
                "overhead counts",
                none.clone(),
                cpu_mem("1m", "1").overhead(&[("memory", "5")]),
                vec![cpu_mem("1m", "15")],
                vec!["Insufficient memory"],
            ),
            (
                "exactly full fits",
                none.clone(),
                cpu_mem("5m", "5"),
                vec![cpu_mem("5m", "15")],
                vec![],
            ),
            (
                "extended resource fits",
                none.clone(),
                reqs(&[(EXT_A, "1")]),
                vec![reqs(&[(EXT_A, "4")])],
                vec![],
            ),
            (
                "extended resource exhausted",
                none.clone(),
                reqs(&[(EXT_A, "2")]),
                vec![reqs(&[(EXT_A, "4")])],
                vec!["Insufficient example.com/aaa"],
            ),
            (
                "extended resource the node lacks",
                none.clone(),
                reqs(&[(EXT_B, "1")]),
                vec![],
                vec!["Insufficient example.com/bbb"],
            ),
            (
                "ignored extended resource",
                json!({"ignoredResources": [EXT_B]}),
                reqs(&[(EXT_B, "1")]),
                vec![],
                vec![],
            ),
            (
                "ignored resource group",
                json!({"ignoredResourceGroups": ["example.com"]}),
                reqs(&[(EXT_B, "1")]),
                vec![],
                vec![],
            ),
            (
                "kubernetes.io resources cannot be ignored",
                json!({"ignoredResources": [KUBE_IO]}),
                reqs(&[(KUBE_IO, "1")]),
                vec![],
                vec!["Insufficient kubernetes.io/something"],
            ),
            (
                "hugepages",
                none.clone(),
                reqs(&[(HUGEPAGES, "3")]),
                vec![reqs(&[(HUGEPAGES, "3")])],
                vec!["Insufficient hugepages-2Mi"],
            ),
            (
                "ephemeral storage",
                none.clone(),
                reqs(&[("ephemeral-storage", "10")]),
                vec![reqs(&[("ephemeral-storage", "11")])],
                vec!["Insufficient ephemeral-storage"],
            ),
            (
                "cpu, memory and extended together, in order",
                none.clone(),
                reqs(&[("cpu", "11m"), ("memory", "21"), (EXT_A, "6")]),
                vec![],
                vec![
                    "Insufficient cpu",
                    "Insufficient memory",
                    "Insufficient example.com/aaa",
                ],
            ),
        ];
        for (name, args, pod, running, want) in cases {
            assert_eq!(filter_reasons(args, pod, running), want, "{name}");
        }
    }

    #[test]
    fn too_many_pods() {
        let set = new_fit(None).unwrap();
        let full = node("n")
            .capacity("10", "10Gi", "1")
            .with_pods(vec![PodBuilder::new("a")]);
        let run = run_filter(&set, &PodBuilder::new("p").info(), &snapshot(vec![full]));
        assert_eq!(run.filter[0].reasons, vec!["Too many pods"]);
        let full = node("n")
            .capacity("1m", "10Gi", "1")
            .with_pods(vec![PodBuilder::new("a")]);
        let pod = PodBuilder::new("p").req("2m", "");
        let run = run_filter(&set, &pod.info(), &snapshot(vec![full]));
        assert_eq!(
            run.filter[0].reasons,
            vec!["Too many pods", "Insufficient cpu"]
        );
    }

    fn scores(args: Value, pod: PodBuilder, nodes: Vec<Arc<NodeInfo>>) -> Vec<i64> {
        let set = new_fit(Some(&args)).unwrap();
        run_score(&set, &pod.info(), &snapshot(nodes)).unwrap()
    }

    #[test]
    fn least_allocated() {
        let none = json!({});
        // Nothing requested: non-zero defaults count, cpu (4000-100)*100/4000 = 97 and memory
        // (10000-200)*100/10000 = 98.
        let n1 = || node("n1").capacity("4", "10000Mi", "110");
        let n2 = || node("n2").capacity("4", "10000Mi", "110");
        assert_eq!(
            scores(
                none.clone(),
                PodBuilder::new("p").req("", ""),
                vec![n1().info(), n2().info()]
            ),
            vec![97, 97]
        );
        // Upstream's example: cpu (4000-3000)/4000*100=25, memory (10000-5000)/10000*100=50.
        let running = vec![
            PodBuilder::new("a").req("1", "2000Mi"),
            PodBuilder::new("b").req("2", "3000Mi"),
        ];
        let pod = PodBuilder::new("p").req("0", "0");
        let got = scores(
            none.clone(),
            pod,
            vec![n1().with_pods(running), n2().info()],
        );
        // The pod requests 0 explicitly, so no defaults: node 1 (25+50)/2, node 2 100.
        assert_eq!(got, vec![37, 100]);
        // Requests beyond capacity score 0 for that resource.
        let big = PodBuilder::new("p").req("5", "100Mi");
        assert_eq!(scores(none.clone(), big, vec![n1().info()]), vec![49]);
        // Weights.
        let args = json!({"scoringStrategy": {"type": "LeastAllocated",
            "resources": [{"name": "cpu", "weight": 3}, {"name": "memory", "weight": 1}]}});
        let pod = PodBuilder::new("p").req("1", "5000Mi");
        assert_eq!(
            scores(args, pod, vec![n1().info()]),
            vec![(75 * 3 + 50) / 4]
        );
    }

    #[test]
    fn most_allocated() {
        let args = json!({"scoringStrategy": {"type": "MostAllocated"}});
        let n1 = node("n1").capacity("4", "10000Mi", "110");
        let n2 = node("n2").capacity("6", "10000Mi", "110");
        let running = vec![
            PodBuilder::new("a").req("1", "2000Mi"),
            PodBuilder::new("b").req("2", "3000Mi"),
        ];
        let pod = PodBuilder::new("p").req("0", "0");
        // n1: cpu 3000/4000=75, memory 5000/10000=50 -> 62; n2: 0.
        assert_eq!(
            scores(args.clone(), pod, vec![n1.with_pods(running), n2.info()]),
            vec![62, 0]
        );
        // Requests beyond capacity are capped at 100.
        let pod = PodBuilder::new("p").req("5", "10000Mi");
        let n = node("n").capacity("4", "10000Mi", "110");
        assert_eq!(scores(args, pod, vec![n.info()]), vec![100]);
    }

    #[test]
    fn requested_to_capacity_ratio() {
        let args = json!({"scoringStrategy": {"type": "RequestedToCapacityRatio",
        "resources": [{"name": "cpu", "weight": 1}, {"name": "memory", "weight": 1}],
        "requestedToCapacityRatio": {"shape": [
            {"utilization": 0, "score": 10},
            {"utilization": 100, "score": 0}
        ]}}});
        let n1 = || node("n1").capacity("4", "10000", "110");
        let n2 = || node("n2").capacity("6", "10000", "110");
        let pod = PodBuilder::new("p").req("0", "0");
        assert_eq!(
            scores(args.clone(), pod, vec![n1().info(), n2().info()]),
            vec![100, 100]
        );
        // cpu 3000/4000 -> utilization 75 -> 25; memory 5000/10000 -> 50 -> 50; mean 37.5 -> 38.
        let pod = PodBuilder::new("p").req("3", "5000");
        assert_eq!(scores(args.clone(), pod, vec![n1().info()]), vec![38]);
        // Bin packing shape: fuller is better; only positive resource scores are averaged.
        let pack = json!({"scoringStrategy": {"type": "RequestedToCapacityRatio",
        "requestedToCapacityRatio": {"shape": [
            {"utilization": 0, "score": 0},
            {"utilization": 100, "score": 10}
        ]}}});
        let pod = PodBuilder::new("p").req("2", "0");
        assert_eq!(
            scores(pack.clone(), pod, vec![n1().info(), n2().info()]),
            vec![50, 33]
        );
        // Extended resources take part only when requested and offered.
        let ext = json!({"scoringStrategy": {"type": "RequestedToCapacityRatio",
        "resources": [{"name": "intel.com/foo", "weight": 3}, {"name": "cpu", "weight": 1}],
        "requestedToCapacityRatio": {"shape": [
            {"utilization": 0, "score": 0},
            {"utilization": 100, "score": 10}
        ]}}});
        let n = || {
            node("n").allocatable(&[
                ("cpu", "4"),
                ("memory", "10000"),
                ("pods", "10"),
                ("intel.com/foo", "4"),
            ])
        };
        let pod = PodBuilder::new("p").container("x", &[("cpu", "2"), ("intel.com/foo", "2")]);
        // foo 50*3, cpu 50*1 -> 50.
        assert_eq!(scores(ext.clone(), pod, vec![n().info()]), vec![50]);
        let pod = PodBuilder::new("p").container("x", &[("cpu", "1")]);
        // foo not requested: only cpu (25).
        assert_eq!(scores(ext, pod, vec![n().info()]), vec![25]);
    }

    #[test]
    fn broken_linear_function() {
        let shape = [
            ShapePoint {
                utilization: 10,
                score: 1,
            },
            ShapePoint {
                utilization: 90,
                score: 9,
            },
        ];
        for (p, want) in [(-10, 1), (10, 1), (15, 1), (40, 4), (90, 9), (100, 9)] {
            assert_eq!(broken_linear(&shape, p), want, "{p}");
        }
    }

    #[test]
    fn fit_args() {
        for (args, err) in [
            (
                json!({"scoringStrategy": {"type": "Foo"}}),
                "scoringStrategy.type: Unsupported value: \"Foo\"",
            ),
            (
                json!({"scoringStrategy": {"type": ""}}),
                "scoringStrategy.type: Unsupported value: \"\"",
            ),
            (
                json!({"scoringStrategy": {"type": "LeastAllocated", "resources": [{"name": "cpu", "weight": 101}]}}),
                "scoringStrategy.resources[0].weight: Invalid value: 101: resource weight of cpu not in valid range (0, 100]",
            ),
            (
                json!({"scoringStrategy": {"type": "RequestedToCapacityRatio",
                    "requestedToCapacityRatio": {"shape": [{"utilization": 50, "score": 1}, {"utilization": 40, "score": 11}]}}}),
                "[scoringStrategy.shape[1].utilization: Invalid value: 40: values must be sorted in increasing order, scoringStrategy.shape[1].score: Invalid value: 11: not in valid range [0, 10]]",
            ),
            (
                json!({"scoringStrategy": {"type": "RequestedToCapacityRatio", "requestedToCapacityRatio": {"shape": []}}}),
                "scoringStrategy.shape: Required value: at least one point must be specified",
            ),
            (
                json!({"ignoredResourceGroups": ["example.com/aaa"]}),
                "resource group name can't contain '/'",
            ),
            (
                json!({"ignoredResources": ["-bad-"]}),
                "ignoredResources[0]: Invalid value: \"-bad-\"",
            ),
            (json!({"unknown": true}), "unknown field `unknown`"),
        ] {
            let got = new_fit(Some(&args)).err().unwrap();
            assert!(got.contains(err), "{args}: {got}");
        }
        // Defaults: LeastAllocated over cpu and memory with weight 1; zero weights become 1.
        let fit = build_fit(FitArgs::default()).unwrap();
        assert!(matches!(fit.scorer.strategy, Strategy::LeastAllocated));
        assert_eq!(fit.scorer.resources, default_resources());
        let args: FitArgs = decode_args(Some(&json!({"scoringStrategy": {"type": "MostAllocated",
            "resources": [{"name": "cpu"}]}})))
        .unwrap();
        let fit = build_fit(args).unwrap();
        assert_eq!(
            fit.scorer.resources,
            vec![ResourceSpec {
                name: "cpu".into(),
                weight: 1
            }]
        );
        let args: FitArgs =
            decode_args(Some(&json!({"scoringStrategy": {"type": "MostAllocated"}}))).unwrap();
        assert_eq!(
            build_fit(args).unwrap().scorer.resources,
            default_resources()
        );
    }

    #[test]
    fn balanced_allocation() {
        let set = new_balanced(None).unwrap();
        let score = |pod: PodBuilder, nodes: Vec<Arc<NodeInfo>>| {
            run_score(&set, &pod.info(), &snapshot(nodes))
        };
        // Best-effort pods are not scored.
        assert!(
            score(
                PodBuilder::new("p"),
                vec![node("n").capacity("4", "10000", "10").info()]
            )
            .is_none()
        );
        // Upstream's example: cpu 3000/4000=0.75, memory 5000/10000=0.5 -> std 0.125 -> 87.
        let running = vec![
            PodBuilder::new("a").req("1", "2000"),
            PodBuilder::new("b").req("1", "2000"),
        ];
        let pod = PodBuilder::new("p").req("1", "1000");
        assert_eq!(
            score(
                pod,
                vec![node("n").capacity("4", "10000", "10").with_pods(running)]
            )
            .unwrap(),
            vec![87]
        );
        // Perfectly balanced.
        let pod = PodBuilder::new("p").req("2", "5000");
        assert_eq!(
            score(pod, vec![node("n").capacity("4", "10000", "10").info()]).unwrap(),
            vec![100]
        );
        // Fractions above 1 are capped: cpu 1, memory 0.5 -> std 0.25 -> 75.
        let pod = PodBuilder::new("p").req("8", "5000");
        assert_eq!(
            score(pod, vec![node("n").capacity("4", "10000", "10").info()]).unwrap(),
            vec![75]
        );
        // Plain requests: a container without a memory request counts no memory.
        let pod = PodBuilder::new("p").req("2", "");
        assert_eq!(
            score(pod, vec![node("n").capacity("4", "10000", "10").info()]).unwrap(),
            vec![75]
        );
        // Three resources: the population standard deviation.
        let three = new_balanced(Some(&json!({"resources": [
            {"name": "cpu", "weight": 1}, {"name": "memory", "weight": 1}, {"name": EXT_A, "weight": 1}
        ]})))
        .unwrap();
        let n = node("n").allocatable(&[
            ("cpu", "4"),
            ("memory", "10000"),
            ("pods", "10"),
            (EXT_A, "4"),
        ]);
        let pod =
            PodBuilder::new("p").container("x", &[("cpu", "1"), ("memory", "5000"), (EXT_A, "4")]);
        // fractions 0.25, 0.5, 1 -> mean 0.5833, std 0.3118 -> 68.
        assert_eq!(
            run_score(&three, &pod.info(), &snapshot(vec![n.info()])).unwrap(),
            vec![68]
        );
    }

    #[test]
    fn balanced_args() {
        assert!(
            new_balanced(Some(&json!({"resources": [{"name": "cpu", "weight": 2}]})))
                .err()
                .unwrap()
                .contains("resources[0].weight: Invalid value: 2: must be 1")
        );
        assert!(
            new_balanced(Some(
                &json!({"resources": [{"name": "cpu"}, {"name": "cpu"}]})
            ))
            .err()
            .unwrap()
            .contains("resources[1].name: Duplicate value: \"cpu\"")
        );
        let b = build_balanced(BalancedArgs::default()).unwrap();
        assert_eq!(b.scorer.resources, default_resources());
    }

    #[test]
    fn resource_names() {
        assert!(is_extended_resource_name("example.com/foo"));
        assert!(!is_extended_resource_name("kubernetes.io/foo"));
        assert!(!is_extended_resource_name("cpu"));
        assert!(!is_extended_resource_name("hugepages-2Mi"));
        assert!(is_scalar_resource_name("hugepages-2Mi"));
        assert!(is_scalar_resource_name("example.com/foo"));
        assert!(!is_scalar_resource_name("pods"));
    }

    #[test]
    fn events() {
        let set = new_fit(None).unwrap();
        for (e, want) in [
            (ClusterEvent::new(EventResource::Pod, action::DELETE), true),
            (
                ClusterEvent::new(EventResource::Pod, action::UPDATE_POD_SCALE_DOWN),
                true,
            ),
            (ClusterEvent::new(EventResource::Pod, action::ADD), false),
            (ClusterEvent::new(EventResource::Node, action::ADD), true),
            (
                ClusterEvent::new(EventResource::Node, action::UPDATE_NODE_ALLOCATABLE),
                true,
            ),
            (
                ClusterEvent::new(EventResource::Node, action::UPDATE_NODE_LABEL),
                false,
            ),
        ] {
            assert_eq!(set.events.iter().any(|w| e.matches(w)), want, "{e:?}");
        }
    }
}
