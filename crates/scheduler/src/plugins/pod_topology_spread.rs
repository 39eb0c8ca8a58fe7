//! PodTopologySpread, after upstream's `podtopologyspread` plugin: spreads pods matching a
//! selector evenly over topology domains (`whenUnsatisfiable: DoNotSchedule` filters,
//! `ScheduleAnyway` scores), with `minDomains`, node inclusion policies and
//! `matchLabelKeys`. Pods without constraints get the cluster defaults (upstream's System
//! defaulting, or a configured list) when they belong to a Service, ReplicaSet, StatefulSet
//! or ReplicationController; since those objects live outside the snapshot, the selector
//! comes from a function given to [`new_with_default_selector`] (see [`default_selector`]).
//!
//! PreFilter counts matching pods per domain for the hard constraints (Filter is then a
//! lookup per constraint) and, because PreScore only sees the feasible nodes while upstream
//! counts over all of them, for the soft ones as well. It does not walk every pod: the
//! plugin keeps, across cycles, [`NodeSummaries`] (each node's domain ids per topology key)
//! and per-node memos of the matching-pod count per selector and of the node inclusion
//! answers per node affinity and tolerations, recomputed only for nodes that changed; a
//! cycle then adds up contiguous arrays. Filter and Score find a snapshot node's domains by
//! its place in the summaries' node table instead of reading its labels (copies of nodes,
//! as preemption makes, fall back to the labels).

use super::{decode_args, names};
use crate::framework::summary::{Domains, NO_DOMAIN, NodeMemo, NodeSummaries, NodeTable};
use crate::framework::{
    ClusterEvent, CycleState, EventResource, FilterPlugin, Labels, MAX_NODE_SCORE, NodeInfo,
    NodeScore, Plugin, PluginSet, PodInfo, PreFilterPlugin, PreFilterResult, PreScorePlugin,
    ScorePlugin, Snapshot, Status, action,
};
use crate::plugin_set;
use k8s_openapi::api::apps::v1::{ReplicaSet, StatefulSet};
use k8s_openapi::api::core::v1::{
    NodeSelectorRequirement, NodeSelectorTerm, Pod, ReplicationController, Service, Taint,
    Toleration, TopologySpreadConstraint,
};
use serde::Deserialize;
use serde_json::Value;
use skiff_core::labels::{
    Operator, Requirement, Selector, from_label_selector, go_quote, validate_label_key,
};
use std::collections::HashSet;
use std::sync::{Arc, Mutex};

/// The plugin's name.
pub const NAME: &str = names::POD_TOPOLOGY_SPREAD;

/// Filter reason: placing the pod here would exceed a constraint's `maxSkew`.
pub const ERR_REASON_CONSTRAINTS_NOT_MATCH: &str =
    "node(s) didn't match pod topology spread constraints";
/// Filter reason: the node lacks a constraint's topology key.
pub const ERR_REASON_NODE_LABEL_NOT_MATCH: &str =
    "node(s) didn't match pod topology spread constraints (missing required label)";

/// `kubernetes.io/hostname`: domains of one node, counted at Score rather than PreScore.
pub const LABEL_HOSTNAME: &str = "kubernetes.io/hostname";
/// `topology.kubernetes.io/zone`.
pub const LABEL_TOPOLOGY_ZONE: &str = "topology.kubernetes.io/zone";

const DO_NOT_SCHEDULE: &str = "DoNotSchedule";
const SCHEDULE_ANYWAY: &str = "ScheduleAnyway";
/// `defaultingType` using the built-in defaults.
pub const SYSTEM_DEFAULTING: &str = "System";
/// `defaultingType` using `defaultConstraints`.
pub const LIST_DEFAULTING: &str = "List";

const PRE_FILTER_STATE_KEY: &str = "PreFilterPodTopologySpread";
/// Soft-constraint counts over all nodes, computed in PreFilter for PreScore.
const SCORE_INPUT_KEY: &str = "ScoreInputPodTopologySpread";
const PRE_SCORE_STATE_KEY: &str = "PreScorePodTopologySpread";

/// The raw score of a node that lacks a soft constraint's topology key: NormalizeScore
/// gives it 0 without letting it take part in the min/max.
const IGNORED_SCORE: i64 = i64::MIN;

/// Upstream's `PodTopologySpreadArgs` (v1 defaults: System defaulting).
#[derive(Clone, Debug, PartialEq, Deserialize)]
#[serde(default, rename_all = "camelCase", deny_unknown_fields)]
pub struct PodTopologySpreadArgs {
    /// Constraints for pods without their own (`List` defaulting only; no selectors).
    pub default_constraints: Vec<TopologySpreadConstraint>,
    /// `System` (built-in defaults) or `List` (`defaultConstraints`).
    pub defaulting_type: String,
}

impl Default for PodTopologySpreadArgs {
    fn default() -> Self {
        PodTopologySpreadArgs {
            default_constraints: Vec::new(),
            defaulting_type: SYSTEM_DEFAULTING.into(),
        }
    }
}

impl PodTopologySpreadArgs {
    /// Upstream's `ValidatePodTopologySpreadArgs`.
    pub fn validate(&self) -> Result<(), String> {
        let mut errs: Vec<String> = Vec::new();
        match self.defaulting_type.as_str() {
            SYSTEM_DEFAULTING if !self.default_constraints.is_empty() => errs.push(format!(
                "defaultingType: Invalid value: {}: when .defaultConstraints are not empty",
                go_quote(SYSTEM_DEFAULTING)
            )),
            SYSTEM_DEFAULTING | LIST_DEFAULTING => {}
            other => errs.push(format!(
                "defaultingType: Unsupported value: {}: supported values: \"List\", \"System\"",
                go_quote(other)
            )),
        }
        for (i, c) in self.default_constraints.iter().enumerate() {
            let p = format!("defaultConstraints[{i}]");
            if c.max_skew <= 0 {
                errs.push(format!(
                    "{p}.maxSkew: Invalid value: {}: not in valid range (0, inf)",
                    c.max_skew
                ));
            }
            if c.topology_key.is_empty() {
                errs.push(format!("{p}.topologyKey: Required value: can not be empty"));
            } else if let Err(msg) = validate_label_key(&c.topology_key) {
                errs.push(format!(
                    "{p}.topologyKey: Invalid value: {}: {msg}",
                    go_quote(&c.topology_key)
                ));
            }
            if c.when_unsatisfiable != DO_NOT_SCHEDULE && c.when_unsatisfiable != SCHEDULE_ANYWAY {
                errs.push(format!(
                    "{p}.whenUnsatisfiable: Unsupported value: {}: supported values: \"DoNotSchedule\", \"ScheduleAnyway\"",
                    go_quote(&c.when_unsatisfiable)
                ));
            }
            if c.label_selector.is_some() {
                errs.push(format!(
                    "{p}.labelSelector: Forbidden: constraint must not define a selector, as they deduced for each pod"
                ));
            }
            if self.default_constraints[..i].iter().any(|o| {
                o.topology_key == c.topology_key && o.when_unsatisfiable == c.when_unsatisfiable
            }) {
                errs.push(format!(
                    "{p}: Duplicate value: {}",
                    go_quote(&format!("{{{}, {}}}", c.topology_key, c.when_unsatisfiable))
                ));
            }
        }
        match errs.len() {
            0 => Ok(()),
            1 => Err(errs.remove(0)),
            _ => Err(format!("[{}]", errs.join(", "))),
        }
    }
}

/// Upstream's system default constraints: hostname with `maxSkew` 3 and zone with 5, both
/// `ScheduleAnyway`.
pub fn system_default_constraints() -> Vec<TopologySpreadConstraint> {
    vec![
        TopologySpreadConstraint {
            topology_key: LABEL_HOSTNAME.into(),
            when_unsatisfiable: SCHEDULE_ANYWAY.into(),
            max_skew: 3,
            ..Default::default()
        },
        TopologySpreadConstraint {
            topology_key: LABEL_TOPOLOGY_ZONE.into(),
            when_unsatisfiable: SCHEDULE_ANYWAY.into(),
            max_skew: 5,
            ..Default::default()
        },
    ]
}

/// Gives the selector default constraints use for a pod: the merged selectors of the
/// Services, ReplicationController, ReplicaSet or StatefulSet the pod belongs to (see
/// [`default_selector`]), or [`Selector::everything`] when it belongs to none, in which
/// case no default constraints apply.
pub type DefaultSelectorFn = Arc<dyn Fn(&PodInfo) -> Selector + Send + Sync>;

/// Upstream's `helper.DefaultSelector`: the labels of every Service in the pod's namespace
/// whose selector matches the pod, merged, plus the selector of the pod's controller when
/// it is a ReplicationController, ReplicaSet or StatefulSet found among the given objects.
pub fn default_selector<'a>(
    pod: &Pod,
    services: impl IntoIterator<Item = &'a Service>,
    replication_controllers: impl IntoIterator<Item = &'a ReplicationController>,
    replica_sets: impl IntoIterator<Item = &'a ReplicaSet>,
    stateful_sets: impl IntoIterator<Item = &'a StatefulSet>,
) -> Selector {
    let ns = pod.metadata.namespace.as_deref().unwrap_or_default();
    let empty = Labels::new();
    let pod_labels = pod.metadata.labels.as_ref().unwrap_or(&empty);
    let in_ns = |meta: &k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta| {
        meta.namespace.as_deref().unwrap_or_default() == ns
    };
    let mut set = Labels::new();
    for svc in services {
        if !in_ns(&svc.metadata) {
            continue;
        }
        if let Some(sel) = svc.spec.as_ref().and_then(|s| s.selector.as_ref())
            && Selector::from_set(sel).matches(pod_labels)
        {
            set.extend(sel.iter().map(|(k, v)| (k.clone(), v.clone())));
        }
    }
    let mut selector = Selector::from_set(&set);
    let Some(owner) = pod
        .metadata
        .owner_references
        .iter()
        .flatten()
        .find(|o| o.controller == Some(true))
    else {
        return selector;
    };
    let named = |meta: &k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta| {
        in_ns(meta) && meta.name.as_deref() == Some(owner.name.as_str())
    };
    let add_requirements = |selector: Selector, sel| match from_label_selector(Some(sel)) {
        Ok(other) => match other.requirements() {
            Some(reqs) => reqs
                .iter()
                .fold(selector, |s, r| s.add_requirement(r.clone())),
            None => selector,
        },
        Err(_) => selector,
    };
    match (owner.api_version.as_str(), owner.kind.as_str()) {
        ("v1", "ReplicationController") => {
            if let Some(rc) = replication_controllers
                .into_iter()
                .find(|rc| named(&rc.metadata))
                && let Some(sel) = rc.spec.as_ref().and_then(|s| s.selector.as_ref())
            {
                set.extend(sel.iter().map(|(k, v)| (k.clone(), v.clone())));
                selector = Selector::from_set(&set);
            }
        }
        ("apps/v1", "ReplicaSet") => {
            if let Some(rs) = replica_sets.into_iter().find(|rs| named(&rs.metadata))
                && let Some(spec) = &rs.spec
            {
                selector = add_requirements(selector, &spec.selector);
            }
        }
        ("apps/v1", "StatefulSet") => {
            if let Some(ss) = stateful_sets.into_iter().find(|ss| named(&ss.metadata))
                && let Some(spec) = &ss.spec
            {
                selector = add_requirements(selector, &spec.selector);
            }
        }
        _ => {}
    }
    selector
}

/// The plugin.
pub struct PodTopologySpread {
    default_constraints: Vec<TopologySpreadConstraint>,
    system_defaulted: bool,
    default_selector: Option<DefaultSelectorFn>,
    /// Per-node summaries of the last snapshot seen, and node inclusion answers.
    index: Mutex<Index>,
}

impl std::fmt::Debug for PodTopologySpread {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PodTopologySpread")
            .field("default_constraints", &self.default_constraints)
            .field("system_defaulted", &self.system_defaulted)
            .field("default_selector", &self.default_selector.is_some())
            .finish()
    }
}

impl PodTopologySpread {
    /// The plugin with validated args; without `default_selector`, default constraints
    /// never apply (no pod is known to belong to a workload).
    pub fn new(
        args: PodTopologySpreadArgs,
        default_selector: Option<DefaultSelectorFn>,
    ) -> Result<PodTopologySpread, String> {
        args.validate()?;
        let system_defaulted = args.defaulting_type == SYSTEM_DEFAULTING;
        Ok(PodTopologySpread {
            default_constraints: if system_defaulted {
                system_default_constraints()
            } else {
                args.default_constraints
            },
            system_defaulted,
            default_selector,
            index: Mutex::new(Index::default()),
        })
    }
}

/// Builds the plugin from its `pluginConfig` args, without a default selector.
pub fn new(args: Option<&Value>) -> Result<PluginSet, String> {
    new_with_default_selector(args, None)
}

/// Builds the plugin with a function giving the selector default constraints use.
pub fn new_with_default_selector(
    args: Option<&Value>,
    default_selector: Option<DefaultSelectorFn>,
) -> Result<PluginSet, String> {
    let args: PodTopologySpreadArgs = decode_args(args)?;
    let plugin = PodTopologySpread::new(args, default_selector)?;
    Ok(plugin_set!(plugin, pre_filter, filter, pre_score, score))
}

// ---------------------------------------------------------------------------------------
// Constraints

/// A constraint with its selector parsed and defaults applied.
#[derive(Clone, Debug)]
struct Constraint {
    max_skew: i64,
    topology_key: String,
    selector: Selector,
    min_domains: i64,
    honor_node_affinity: bool,
    honor_node_taints: bool,
    /// Index into the unique selectors of the cycle (pods are counted once per selector).
    selector_id: usize,
}

impl Constraint {
    fn is_hostname(&self) -> bool {
        self.topology_key == LABEL_HOSTNAME
    }
}

/// Upstream's `filterTopologySpreadConstraints`: the constraints with `action`, selectors
/// parsed and merged with the pod's values for `matchLabelKeys`.
fn parse_constraints(
    list: &[TopologySpreadConstraint],
    pod_labels: &Labels,
    action: &str,
) -> Result<Vec<Constraint>, String> {
    let mut out = Vec::new();
    for c in list.iter().filter(|c| c.when_unsatisfiable == action) {
        let mut selector =
            from_label_selector(c.label_selector.as_ref()).map_err(|e| e.message().to_owned())?;
        let keys = c.match_label_keys.as_deref().unwrap_or_default();
        let mut merged = Labels::new();
        for k in keys {
            if let Some(v) = pod_labels.get(k) {
                merged.insert(k.clone(), v.clone());
            }
        }
        if !merged.is_empty()
            && let Some(reqs) = selector.requirements()
        {
            selector = reqs.iter().fold(Selector::from_set(&merged), |s, r| {
                s.add_requirement(r.clone())
            });
        }
        out.push(Constraint {
            max_skew: i64::from(c.max_skew),
            topology_key: c.topology_key.clone(),
            selector,
            min_domains: i64::from(c.min_domains.unwrap_or(1)),
            honor_node_affinity: c.node_affinity_policy.as_deref() != Some("Ignore"),
            honor_node_taints: c.node_taints_policy.as_deref() == Some("Honor"),
            selector_id: 0,
        });
    }
    Ok(out)
}

/// Upstream's `countPodsMatchSelector`: pods in `ns`, not terminating, matching the
/// selector; an empty selector counts nothing.
fn count_matching(pods: &[Arc<PodInfo>], selector: &Selector, ns: &str) -> i64 {
    if selector.is_empty() {
        return 0;
    }
    pods.iter()
        .filter(|p| {
            p.namespace == ns
                && selector.matches(&p.labels)
                && p.pod.metadata.deletion_timestamp.is_none()
        })
        .count() as i64
}

fn has_all_keys(labels: &Labels, constraints: &[Constraint]) -> bool {
    constraints
        .iter()
        .all(|c| labels.contains_key(&c.topology_key))
}

// ---------------------------------------------------------------------------------------
// Node inclusion: required node affinity and taints

/// One requirement of a term's `matchFields` (only `metadata.name` exists on nodes).
#[derive(Clone, Debug, PartialEq)]
enum FieldRequirement {
    Equals(String, String),
    NotEquals(String, String),
}

/// A parsed node selector term; `None` parts are absent, a parse error never matches.
#[derive(Clone, Debug, PartialEq)]
struct NodeTerm {
    labels: Option<Selector>,
    fields: Option<Vec<FieldRequirement>>,
    invalid: bool,
}

impl NodeTerm {
    fn parse(term: &NodeSelectorTerm) -> NodeTerm {
        let mut invalid = false;
        let exprs = term.match_expressions.as_deref().unwrap_or_default();
        let labels = (!exprs.is_empty()).then(|| {
            let mut sel = Selector::everything();
            for e in exprs {
                match node_requirement(e) {
                    Some(r) => sel = sel.add_requirement(r),
                    None => invalid = true,
                }
            }
            sel
        });
        let field_exprs = term.match_fields.as_deref().unwrap_or_default();
        let fields = (!field_exprs.is_empty()).then(|| {
            field_exprs
                .iter()
                .filter_map(|e| {
                    let value = match e.values.as_deref() {
                        Some([v]) => v.clone(),
                        _ => {
                            invalid = true;
                            return None;
                        }
                    };
                    match e.operator.as_str() {
                        "In" => Some(FieldRequirement::Equals(e.key.clone(), value)),
                        "NotIn" => Some(FieldRequirement::NotEquals(e.key.clone(), value)),
                        _ => {
                            invalid = true;
                            None
                        }
                    }
                })
                .collect()
        });
        NodeTerm {
            labels,
            fields,
            invalid,
        }
    }

    fn matches(&self, node: &NodeInfo) -> bool {
        if self.invalid {
            return false;
        }
        if let Some(sel) = &self.labels
            && !sel.matches(&node.labels)
        {
            return false;
        }
        if let Some(fields) = &self.fields
            && !node.name.is_empty()
        {
            let get = |key: &str| {
                if key == "metadata.name" {
                    node.name.as_str()
                } else {
                    ""
                }
            };
            return fields.iter().all(|f| match f {
                FieldRequirement::Equals(k, v) => get(k) == v,
                FieldRequirement::NotEquals(k, v) => get(k) != v,
            });
        }
        true
    }
}

fn node_requirement(e: &NodeSelectorRequirement) -> Option<Requirement> {
    let op = match e.operator.as_str() {
        "In" => Operator::In,
        "NotIn" => Operator::NotIn,
        "Exists" => Operator::Exists,
        "DoesNotExist" => Operator::DoesNotExist,
        "Gt" => Operator::GreaterThan,
        "Lt" => Operator::LessThan,
        _ => return None,
    };
    Requirement::new(e.key.clone(), op, e.values.clone().unwrap_or_default()).ok()
}

/// Upstream's `nodeaffinity.GetRequiredNodeAffinity`: the pod's `nodeSelector` and its
/// required node affinity terms (ORed); parse errors make a term never match.
#[derive(Clone, Debug, Default, PartialEq)]
struct RequiredNodeAffinity {
    node_selector: Option<Selector>,
    terms: Option<Vec<NodeTerm>>,
}

impl RequiredNodeAffinity {
    fn of(pod: &Pod) -> RequiredNodeAffinity {
        let spec = pod.spec.as_ref();
        let node_selector = spec
            .and_then(|s| s.node_selector.as_ref())
            .filter(|m| !m.is_empty())
            .map(Selector::from_set);
        let terms = spec
            .and_then(|s| s.affinity.as_ref())
            .and_then(|a| a.node_affinity.as_ref())
            .and_then(|a| {
                a.required_during_scheduling_ignored_during_execution
                    .as_ref()
            })
            .map(|ns| {
                ns.node_selector_terms
                    .iter()
                    .filter(|t| {
                        !t.match_expressions
                            .as_deref()
                            .unwrap_or_default()
                            .is_empty()
                            || !t.match_fields.as_deref().unwrap_or_default().is_empty()
                    })
                    .map(NodeTerm::parse)
                    .collect()
            });
        RequiredNodeAffinity {
            node_selector,
            terms,
        }
    }

    /// Whether every node matches.
    fn is_trivial(&self) -> bool {
        self.node_selector.is_none() && self.terms.is_none()
    }

    fn matches(&self, node: &NodeInfo) -> bool {
        if let Some(sel) = &self.node_selector
            && !sel.matches(&node.labels)
        {
            return false;
        }
        match &self.terms {
            Some(terms) => terms.iter().any(|t| t.matches(node)),
            None => true,
        }
    }
}

/// Upstream's `Toleration.ToleratesTaint`.
fn tolerates(t: &Toleration, taint: &Taint) -> bool {
    if let Some(effect) = t.effect.as_deref().filter(|e| !e.is_empty())
        && effect != taint.effect
    {
        return false;
    }
    if let Some(key) = t.key.as_deref().filter(|k| !k.is_empty())
        && key != taint.key
    {
        return false;
    }
    match t.operator.as_deref().unwrap_or_default() {
        "" | "Equal" => {
            t.value.as_deref().unwrap_or_default() == taint.value.as_deref().unwrap_or_default()
        }
        "Exists" => true,
        _ => false,
    }
}

/// What deciding node inclusion for the pod needs.
#[derive(Debug)]
struct PodContext {
    namespace: String,
    node_affinity: RequiredNodeAffinity,
    tolerations: Vec<Toleration>,
}

impl PodContext {
    fn of(pod: &PodInfo) -> PodContext {
        PodContext {
            namespace: pod.namespace.clone(),
            node_affinity: RequiredNodeAffinity::of(&pod.pod),
            tolerations: pod
                .pod
                .spec
                .as_ref()
                .and_then(|s| s.tolerations.clone())
                .unwrap_or_default(),
        }
    }

    /// Whether the pod tolerates the node's NoSchedule and NoExecute taints.
    fn tolerates_node(&self, node: &NodeInfo) -> bool {
        node.taints
            .iter()
            .filter(|t| t.effect == "NoSchedule" || t.effect == "NoExecute")
            .all(|taint| self.tolerations.iter().any(|t| tolerates(t, taint)))
    }
}

/// The per-node answers of the inclusion checks, computed at most once per node.
#[derive(Default)]
struct Inclusion {
    affinity: Option<bool>,
    taints: Option<bool>,
}

impl Inclusion {
    /// Upstream's `matchNodeInclusionPolicies`.
    fn includes(&mut self, ctx: &PodContext, c: &Constraint, node: &NodeInfo) -> bool {
        if c.honor_node_affinity
            && !*self
                .affinity
                .get_or_insert_with(|| ctx.node_affinity.matches(node))
        {
            return false;
        }
        if c.honor_node_taints && !*self.taints.get_or_insert_with(|| ctx.tolerates_node(node)) {
            return false;
        }
        true
    }
}

// ---------------------------------------------------------------------------------------
// Counting pass

/// Matching pods per domain of one constraint.
#[derive(Clone, Debug)]
struct DomainCounts {
    domains: Arc<Domains>,
    counts: Vec<i64>,
    /// Whether a domain has an eligible node: only those are domains (minDomains, the
    /// global minimum), as only they are keys of upstream's map.
    present: Vec<bool>,
    num_present: usize,
}

impl DomainCounts {
    fn new(domains: Arc<Domains>) -> DomainCounts {
        let n = domains.len();
        DomainCounts {
            domains,
            counts: vec![0; n],
            present: vec![false; n],
            num_present: 0,
        }
    }

    fn add_id(&mut self, d: usize, n: i64) {
        if d >= self.counts.len() {
            self.counts.resize(d + 1, 0);
            self.present.resize(d + 1, false);
        }
        if !self.present[d] {
            self.present[d] = true;
            self.num_present += 1;
        }
        self.counts[d] += n;
    }

    /// Adds `n` to the domain `v` (which becomes a domain if it was not).
    fn add(&mut self, v: &str, n: i64) -> usize {
        let d = match self.domains.get(v) {
            Some(d) => d,
            None => Arc::make_mut(&mut self.domains).intern(v),
        };
        self.add_id(d, n);
        d
    }

    fn count_of(&self, d: Option<usize>) -> i64 {
        d.and_then(|d| self.counts.get(d)).copied().unwrap_or(0)
    }
}

/// Yes/no answers per label set id, each computed at most once per cycle.
struct Answers(Vec<u8>);

impl Answers {
    fn new(capacity: usize) -> Answers {
        Answers(vec![0; capacity])
    }

    fn get(&mut self, id: u32, f: impl FnOnce() -> bool) -> bool {
        let slot = &mut self.0[id as usize];
        if *slot == 0 {
            *slot = if f() { 2 } else { 1 };
        }
        *slot == 2
    }
}

/// Distinct node affinities and tolerations whose per-node answers are kept.
const INCLUSION_MEMOS: usize = 8;
/// Distinct (selector, namespace) pairs whose per-node counts are kept.
const COUNT_MEMOS: usize = 64;

/// Which pods a count is about: a selector within a namespace.
#[derive(Clone, Debug, PartialEq)]
struct CountKey {
    selector: Selector,
    namespace: String,
}

/// What the plugin keeps between cycles: node summaries, and per-node answers for the
/// last distinct node affinities, tolerations and selectors (a workload's pods share them),
/// each updated only for nodes that changed.
#[derive(Debug, Default)]
struct Index {
    nodes: NodeSummaries,
    affinity: Vec<(RequiredNodeAffinity, NodeMemo<bool>, u64)>,
    taints: Vec<(Vec<Toleration>, NodeMemo<bool>, u64)>,
    counts: Vec<(CountKey, NodeMemo<u32>, u64)>,
    tick: u64,
}

/// The position of the memo for `key` (created, replacing the least recently used one not
/// used in this cycle, when missing).
fn memo_index<K: PartialEq + Clone, T>(
    list: &mut Vec<(K, NodeMemo<T>, u64)>,
    key: &K,
    tick: u64,
    capacity: usize,
) -> usize {
    if let Some(i) = list.iter().position(|(k, _, _)| k == key) {
        list[i].2 = tick;
        return i;
    }
    let oldest = (0..list.len())
        .filter(|&i| list[i].2 != tick)
        .min_by_key(|&i| list[i].2);
    match oldest {
        Some(i) if list.len() >= capacity => {
            list[i] = (key.clone(), NodeMemo::new(), tick);
            i
        }
        _ => {
            list.push((key.clone(), NodeMemo::new(), tick));
            list.len() - 1
        }
    }
}

/// Counts of the soft constraints over every node. For a hostname constraint the counts
/// are per node (Score's), valid per domain while no two nodes share a hostname.
#[derive(Debug)]
struct SoftCounts {
    domains: Arc<Domains>,
    counts: Vec<i64>,
    shared_hostnames: bool,
}

/// The counts of one cycle, and each node's domain per constraint.
struct Counted {
    hard: Vec<DomainCounts>,
    soft: Vec<SoftCounts>,
    table: Arc<NodeTable>,
    hard_ids: Vec<Vec<u32>>,
    soft_ids: Vec<Vec<u32>>,
    soft_empty: Vec<Option<u32>>,
}

/// One pass over the summarized nodes counting matching pods per domain for the hard
/// (`DoNotSchedule`) constraints and the soft (`ScheduleAnyway`) ones.
fn count_domains(
    index: &mut Index,
    nodes: &[Arc<NodeInfo>],
    ctx: &PodContext,
    selectors: &[Selector],
    hard: &[Constraint],
    soft: &[Constraint],
    require_all_soft: bool,
) -> Counted {
    index.tick += 1;
    index.nodes.refresh(nodes);
    let hard_keys: Vec<usize> = hard
        .iter()
        .map(|c| index.nodes.key(&c.topology_key))
        .collect();
    let soft_keys: Vec<usize> = soft
        .iter()
        .map(|c| index.nodes.key(&c.topology_key))
        .collect();
    // Without requiring every key, a node missing one counts under the empty value.
    let soft_empty: Vec<Option<u32>> = soft_keys
        .iter()
        .map(|&k| (!require_all_soft).then(|| index.nodes.intern_value(k, "")))
        .collect();
    let all = hard.iter().chain(soft);
    let need_affinity =
        !ctx.node_affinity.is_trivial() && all.clone().any(|c| c.honor_node_affinity);
    let need_taints = all.clone().any(|c| c.honor_node_taints);
    let Index {
        nodes: s,
        affinity,
        taints,
        counts,
        tick,
    } = index;
    let tick = *tick;
    let s: &NodeSummaries = s;

    // Per-node answers, brought up to date for the nodes that changed.
    let affinity_at = need_affinity.then(|| {
        let i = memo_index(affinity, &ctx.node_affinity, tick, INCLUSION_MEMOS);
        s.update_memo(&mut affinity[i].1, |_, n| ctx.node_affinity.matches(n));
        i
    });
    let taints_at = need_taints.then(|| {
        let i = memo_index(taints, &ctx.tolerations, tick, INCLUSION_MEMOS);
        s.update_memo(&mut taints[i].1, |_, n| ctx.tolerates_node(n));
        i
    });
    let counts_at: Vec<usize> = selectors
        .iter()
        .map(|selector| {
            let key = CountKey {
                selector: selector.clone(),
                namespace: ctx.namespace.clone(),
            };
            let i = memo_index(counts, &key, tick, COUNT_MEMOS);
            // Upstream's countPodsMatchSelector, per distinct label set of the node.
            let mut answers: Option<Answers> = None;
            s.update_memo(&mut counts[i].1, |node, _| {
                if selector.is_empty() {
                    return 0;
                }
                let answers = answers.get_or_insert_with(|| Answers::new(s.label_set_capacity()));
                s.groups(node)
                    .iter()
                    .filter(|g| {
                        g.live > 0
                            && answers.get(g.set, || {
                                let p = s.label_set(g.set);
                                p.namespace == ctx.namespace && selector.matches(&p.labels)
                            })
                    })
                    .map(|g| g.live)
                    .sum()
            });
            i
        })
        .collect();
    let affinity: Option<&[bool]> = affinity_at.map(|i| affinity[i].1.values());
    let taints: Option<&[bool]> = taints_at.map(|i| taints[i].1.values());
    let per_selector: Vec<&[u32]> = counts_at.iter().map(|&i| counts[i].1.values()).collect();
    let hard_ids: Vec<&[u32]> = hard_keys.iter().map(|&k| s.domain_ids(k)).collect();
    let soft_ids: Vec<&[u32]> = soft_keys.iter().map(|&k| s.domain_ids(k)).collect();
    let included = |c: &Constraint, i: usize| {
        (!c.honor_node_affinity || affinity.is_none_or(|a| a[i]))
            && (!c.honor_node_taints || taints.is_none_or(|t| t[i]))
    };

    let mut hard_counts: Vec<DomainCounts> = hard_keys
        .iter()
        .map(|&k| DomainCounts::new(s.domains(k).clone()))
        .collect();
    let mut soft_counts: Vec<SoftCounts> = soft_keys
        .iter()
        .map(|&k| SoftCounts {
            domains: s.domains(k).clone(),
            counts: vec![0; s.domains(k).len()],
            shared_hostnames: false,
        })
        .collect();
    let mut hostname_nodes: Vec<Vec<u8>> = soft
        .iter()
        .zip(&soft_counts)
        .map(|(c, sc)| {
            if c.is_hostname() {
                vec![0; sc.counts.len()]
            } else {
                Vec::new()
            }
        })
        .collect();
    for i in 0..s.len() {
        if !hard.is_empty() && hard_ids.iter().all(|ids| ids[i] != NO_DOMAIN) {
            for (j, c) in hard.iter().enumerate() {
                if included(c, i) {
                    let n = i64::from(per_selector[c.selector_id][i]);
                    hard_counts[j].add_id(hard_ids[j][i] as usize, n);
                }
            }
        }
        if soft.is_empty() {
            continue;
        }
        let has_all = soft_ids.iter().all(|ids| ids[i] != NO_DOMAIN);
        for (j, c) in soft.iter().enumerate() {
            let d = soft_ids[j][i];
            let n = i64::from(per_selector[c.selector_id][i]);
            if c.is_hostname() {
                // Score's per-node count, regardless of inclusion policies.
                if d != NO_DOMAIN {
                    soft_counts[j].counts[d as usize] += n;
                    let seen = &mut hostname_nodes[j][d as usize];
                    *seen = seen.saturating_add(1);
                }
                continue;
            }
            if require_all_soft && !has_all {
                continue;
            }
            let d = match (d, soft_empty[j]) {
                (NO_DOMAIN, Some(empty)) => empty,
                _ => d,
            };
            if d != NO_DOMAIN && included(c, i) {
                soft_counts[j].counts[d as usize] += n;
            }
        }
    }
    for (sc, seen) in soft_counts.iter_mut().zip(&hostname_nodes) {
        sc.shared_hostnames = seen.iter().any(|&n| n > 1);
    }
    Counted {
        hard: hard_counts,
        soft: soft_counts,
        table: s.table().clone(),
        hard_ids: hard_ids.iter().map(|ids| ids.to_vec()).collect(),
        soft_ids: soft_ids.iter().map(|ids| ids.to_vec()).collect(),
        soft_empty,
    }
}

/// Gives every constraint the id of the first equal selector, so a node's pods are
/// counted once per distinct selector.
fn dedup_selectors(lists: [&mut [Constraint]; 2]) -> Vec<Selector> {
    let mut unique: Vec<Selector> = Vec::new();
    for list in lists {
        for c in list.iter_mut() {
            c.selector_id = match unique.iter().position(|s| *s == c.selector) {
                Some(i) => i,
                None => {
                    unique.push(c.selector.clone());
                    unique.len() - 1
                }
            };
        }
    }
    unique
}

/// Where a node is among the counted ones, to read its domains without its labels.
#[derive(Debug)]
struct NodeDomains {
    table: Arc<NodeTable>,
    /// Per constraint, each counted node's domain ([`NO_DOMAIN`]: no such label).
    ids: Vec<Vec<u32>>,
}

impl NodeDomains {
    /// The node's domain for constraint `i`: `Err(())` when the node lacks the key,
    /// `Ok(None)` for a value never counted.
    fn domain(
        &self,
        slot: Option<usize>,
        i: usize,
        node: &NodeInfo,
        key: &str,
        domains: &Domains,
    ) -> Result<Option<usize>, ()> {
        match slot {
            Some(j) => match self.ids[i][j] {
                NO_DOMAIN => Err(()),
                d => Ok(Some(d as usize)),
            },
            None => match node.labels.get(key) {
                Some(v) => Ok(domains.get(v)),
                None => Err(()),
            },
        }
    }
}

// ---------------------------------------------------------------------------------------
// Filter state

/// Upstream's `criticalPaths`: the two domains with the fewest matching pods, `[0]` always
/// the minimum (exact as long as preemption only adds or removes pods on one node).
#[derive(Clone, Copy, Debug)]
struct CriticalPaths([(usize, i64); 2]);

impl CriticalPaths {
    fn new() -> CriticalPaths {
        CriticalPaths([(usize::MAX, i64::from(i32::MAX)); 2])
    }

    fn update(&mut self, domain: usize, num: i64) {
        let p = &mut self.0;
        let i = if p[0].0 == domain {
            Some(0)
        } else if p[1].0 == domain {
            Some(1)
        } else {
            None
        };
        match i {
            Some(i) => {
                p[i].1 = num;
                if p[0].1 > p[1].1 {
                    p.swap(0, 1);
                }
            }
            None => {
                if num < p[0].1 {
                    p[1] = p[0];
                    p[0] = (domain, num);
                } else if num < p[1].1 {
                    p[1] = (domain, num);
                }
            }
        }
    }
}

/// What PreFilter computes for Filter.
#[derive(Clone, Debug)]
struct PreFilterState {
    constraints: Arc<[Constraint]>,
    counts: Vec<DomainCounts>,
    paths: Vec<CriticalPaths>,
    /// Whether the incoming pod matches each constraint's selector.
    self_match: Arc<[bool]>,
    ctx: Arc<PodContext>,
    nodes: Arc<NodeDomains>,
}

impl PreFilterState {
    fn new(
        constraints: Vec<Constraint>,
        counts: Vec<DomainCounts>,
        pod: &PodInfo,
        ctx: Arc<PodContext>,
        nodes: NodeDomains,
    ) -> PreFilterState {
        let paths = counts
            .iter()
            .map(|dc| {
                let mut p = CriticalPaths::new();
                for (d, &n) in dc.counts.iter().enumerate() {
                    if dc.present[d] {
                        p.update(d, n);
                    }
                }
                p
            })
            .collect();
        let self_match = constraints
            .iter()
            .map(|c| c.selector.matches(&pod.labels))
            .collect();
        PreFilterState {
            constraints: constraints.into(),
            counts,
            paths,
            self_match,
            ctx,
            nodes: Arc::new(nodes),
        }
    }

    /// The global minimum for constraint `i`: 0 while fewer than `minDomains` domains exist.
    fn min_match(&self, i: usize) -> i64 {
        if (self.counts[i].num_present as i64) < self.constraints[i].min_domains {
            0
        } else {
            self.paths[i].0[0].1
        }
    }

    /// Upstream's `updateWithPod`.
    fn update(&mut self, other: &PodInfo, node: &NodeInfo, delta: i64) {
        if other.namespace != self.ctx.namespace || !has_all_keys(&node.labels, &self.constraints) {
            return;
        }
        let mut inclusion = Inclusion::default();
        for (i, c) in self.constraints.iter().enumerate() {
            if !c.selector.matches(&other.labels) || !inclusion.includes(&self.ctx, c, node) {
                continue;
            }
            let d = self.counts[i].add(&node.labels[&c.topology_key], delta);
            self.paths[i].update(d, self.counts[i].counts[d]);
        }
    }
}

// ---------------------------------------------------------------------------------------
// Score state

/// Soft-constraint counts over every node (hostname constraints: per node), from PreFilter.
#[derive(Debug)]
struct ScoreInput {
    constraints: Vec<Constraint>,
    counts: Vec<SoftCounts>,
    require_all: bool,
    namespace: String,
    nodes: NodeDomains,
    /// Per constraint, the empty value's domain when nodes need not have every key.
    empty: Vec<Option<u32>>,
}

impl ScoreInput {
    /// The node's domain per constraint (`None`: label missing; `Some(None)`: a value not
    /// counted), or `None` for a node that lacks a key while every key is required.
    fn domains(&self, node: &NodeInfo) -> Option<Vec<Option<Option<usize>>>> {
        let slot = self.nodes.table.index_of(node);
        let mut out = Vec::with_capacity(self.constraints.len());
        for (i, c) in self.constraints.iter().enumerate() {
            match self
                .nodes
                .domain(slot, i, node, &c.topology_key, &self.counts[i].domains)
            {
                Ok(d) => out.push(Some(d)),
                Err(()) if self.require_all => return None,
                Err(()) => out.push(None),
            }
        }
        Some(out)
    }
}

#[derive(Clone, Debug)]
struct ScoreInputState(Option<Arc<ScoreInput>>);

/// What PreScore adds: each constraint's weight from the number of feasible domains.
#[derive(Clone, Debug)]
struct PreScoreState {
    input: Arc<ScoreInput>,
    weights: Vec<f64>,
}

impl PodTopologySpread {
    /// The pod's hard and soft constraints (its own, or the defaults), and whether nodes
    /// must have every soft topology key to be scored.
    fn constraints(
        &self,
        pod: &PodInfo,
    ) -> Result<(Vec<Constraint>, Vec<Constraint>, bool), String> {
        let own = pod
            .pod
            .spec
            .as_ref()
            .and_then(|s| s.topology_spread_constraints.as_deref())
            .unwrap_or_default();
        if !own.is_empty() {
            let hard = parse_constraints(own, &pod.labels, DO_NOT_SCHEDULE)
                .map_err(|e| format!("obtaining pod's hard topology spread constraints: {e}"))?;
            let soft = parse_constraints(own, &pod.labels, SCHEDULE_ANYWAY)
                .map_err(|e| format!("obtaining pod's soft topology spread constraints: {e}"))?;
            return Ok((hard, soft, true));
        }
        let require_all = !self.system_defaulted;
        if self.default_constraints.is_empty() {
            return Ok((Vec::new(), Vec::new(), require_all));
        }
        let mut hard =
            parse_constraints(&self.default_constraints, &pod.labels, DO_NOT_SCHEDULE)
                .map_err(|e| format!("setting default hard topology spread constraints: {e}"))?;
        let mut soft =
            parse_constraints(&self.default_constraints, &pod.labels, SCHEDULE_ANYWAY)
                .map_err(|e| format!("setting default soft topology spread constraints: {e}"))?;
        let selector = match &self.default_selector {
            Some(f) => f(pod),
            None => Selector::everything(),
        };
        if selector.is_empty() {
            return Ok((Vec::new(), Vec::new(), require_all));
        }
        for c in hard.iter_mut().chain(soft.iter_mut()) {
            c.selector = selector.clone();
        }
        Ok((hard, soft, require_all))
    }

    /// Counts over `nodes` for the pod's constraints: the Filter state (when there are hard
    /// constraints) and the score input.
    fn count(
        &self,
        pod: &PodInfo,
        nodes: &[Arc<NodeInfo>],
        index: &mut Index,
        with_hard: bool,
    ) -> Result<(Option<PreFilterState>, ScoreInputState), String> {
        let (mut hard, mut soft, require_all) = self.constraints(pod)?;
        if !with_hard {
            hard.clear();
        }
        if hard.is_empty() && soft.is_empty() {
            return Ok((None, ScoreInputState(None)));
        }
        let selectors = dedup_selectors([&mut hard, &mut soft]);
        let ctx = Arc::new(PodContext::of(pod));
        let counted = count_domains(index, nodes, &ctx, &selectors, &hard, &soft, require_all);
        let filter = (!hard.is_empty()).then(|| {
            let nodes = NodeDomains {
                table: counted.table.clone(),
                ids: counted.hard_ids,
            };
            PreFilterState::new(hard, counted.hard, pod, ctx.clone(), nodes)
        });
        let score = (!soft.is_empty()).then(|| {
            Arc::new(ScoreInput {
                constraints: soft,
                counts: counted.soft,
                require_all,
                namespace: pod.namespace.clone(),
                nodes: NodeDomains {
                    table: counted.table,
                    ids: counted.soft_ids,
                },
                empty: counted.soft_empty,
            })
        });
        Ok((filter, ScoreInputState(score)))
    }
}

// ---------------------------------------------------------------------------------------
// Extension points

impl Plugin for PodTopologySpread {
    fn name(&self) -> &'static str {
        NAME
    }

    fn events(&self) -> Vec<ClusterEvent> {
        vec![
            // Pods added, deleted or relabelled change the counts; a new toleration matters
            // with nodeTaintsPolicy Honor.
            ClusterEvent::new(
                EventResource::Pod,
                action::ADD
                    | action::UPDATE_POD_LABEL
                    | action::UPDATE_POD_TOLERATIONS
                    | action::DELETE,
            ),
            // Nodes appearing, leaving, or changing labels or taints change the domains.
            ClusterEvent::new(
                EventResource::Node,
                action::ADD
                    | action::DELETE
                    | action::UPDATE_NODE_LABEL
                    | action::UPDATE_NODE_TAINT,
            ),
        ]
    }
}

fn missing(key: &str) -> Status {
    Status::error(format!("reading {key:?} from cycleState: not found"))
}

impl PreFilterPlugin for PodTopologySpread {
    fn pre_filter(
        &self,
        state: &mut CycleState,
        pod: &PodInfo,
        snapshot: &Snapshot,
    ) -> (PreFilterResult, Status) {
        let counted = {
            let mut index = self.index.lock().unwrap_or_else(|e| e.into_inner());
            self.count(pod, &snapshot.nodes, &mut index, true)
        };
        let (filter, score) = match counted {
            Ok(r) => r,
            Err(e) => return (None, Status::error(e)),
        };
        state.write(SCORE_INPUT_KEY, score);
        match filter {
            Some(s) => {
                state.write(PRE_FILTER_STATE_KEY, s);
                (None, Status::success())
            }
            None => (None, Status::skip()),
        }
    }

    fn add_pod(
        &self,
        state: &mut CycleState,
        _pod: &PodInfo,
        added: &PodInfo,
        node: &NodeInfo,
    ) -> Status {
        // No state: PreFilter skipped (no hard constraints), nothing to track.
        if let Some(s) = state.read_mut::<PreFilterState>(PRE_FILTER_STATE_KEY) {
            s.update(added, node, 1);
        }
        Status::success()
    }

    fn remove_pod(
        &self,
        state: &mut CycleState,
        _pod: &PodInfo,
        removed: &PodInfo,
        node: &NodeInfo,
    ) -> Status {
        if let Some(s) = state.read_mut::<PreFilterState>(PRE_FILTER_STATE_KEY) {
            s.update(removed, node, -1);
        }
        Status::success()
    }
}

impl FilterPlugin for PodTopologySpread {
    fn filter(&self, state: &CycleState, _pod: &PodInfo, node: &NodeInfo) -> Status {
        let Some(s) = state.read::<PreFilterState>(PRE_FILTER_STATE_KEY) else {
            // PreFilter found no hard constraints.
            return Status::success();
        };
        let slot = s.nodes.table.index_of(node);
        for (i, c) in s.constraints.iter().enumerate() {
            let Ok(d) = s
                .nodes
                .domain(slot, i, node, &c.topology_key, &s.counts[i].domains)
            else {
                return Status::unresolvable(ERR_REASON_NODE_LABEL_NOT_MATCH);
            };
            // 'existing matching num' + 'if self-match (1 or 0)' - 'global minimum'
            let skew = s.counts[i].count_of(d) + i64::from(s.self_match[i]) - s.min_match(i);
            if skew > c.max_skew {
                return Status::unschedulable(ERR_REASON_CONSTRAINTS_NOT_MATCH);
            }
        }
        Status::success()
    }
}

impl PreScorePlugin for PodTopologySpread {
    fn pre_score(&self, state: &mut CycleState, pod: &PodInfo, nodes: &[Arc<NodeInfo>]) -> Status {
        if nodes.is_empty() {
            return Status::skip();
        }
        let input = match state.read::<ScoreInputState>(SCORE_INPUT_KEY) {
            Some(s) => s.0.clone(),
            // PreFilter did not run: count over the nodes at hand.
            None => match self.count(pod, nodes, &mut Index::default(), false) {
                Ok((_, s)) => s.0,
                Err(e) => return Status::error(e),
            },
        };
        let Some(input) = input else {
            return Status::skip();
        };
        // Upstream's initPreScoreState: the number of domains among the feasible nodes.
        let n = input.constraints.len();
        let mut seen: Vec<Vec<bool>> = input
            .constraints
            .iter()
            .zip(&input.counts)
            .map(|(c, sc)| {
                if c.is_hostname() {
                    Vec::new()
                } else {
                    vec![false; sc.domains.len()]
                }
            })
            .collect();
        let mut unknown: Vec<HashSet<&str>> = vec![HashSet::new(); n];
        let mut sizes = vec![0usize; n];
        let mut ignored = 0usize;
        for node in nodes {
            let Some(domains) = input.domains(node) else {
                ignored += 1;
                continue;
            };
            for (i, c) in input.constraints.iter().enumerate() {
                if c.is_hostname() {
                    continue;
                }
                // A missing label counts as the empty value.
                let d = match domains[i] {
                    Some(d) => d,
                    None => input.empty[i].map(|e| e as usize),
                };
                match d {
                    Some(d) if !seen[i][d] => {
                        seen[i][d] = true;
                        sizes[i] += 1;
                    }
                    Some(_) => {}
                    None => {
                        let v = node.labels.get(&c.topology_key).map_or("", String::as_str);
                        if unknown[i].insert(v) {
                            sizes[i] += 1;
                        }
                    }
                }
            }
        }
        let weights = input
            .constraints
            .iter()
            .zip(&sizes)
            .map(|(c, &size)| {
                let size = if c.is_hostname() {
                    nodes.len() - ignored
                } else {
                    size
                };
                ((size + 2) as f64).ln()
            })
            .collect();
        state.write(PRE_SCORE_STATE_KEY, PreScoreState { input, weights });
        Status::success()
    }
}

impl ScorePlugin for PodTopologySpread {
    /// The matching pods in the node's domains, weighted per constraint; nodes missing a
    /// topology key get a marker NormalizeScore turns into 0.
    fn score(&self, state: &CycleState, _pod: &PodInfo, node: &NodeInfo) -> (i64, Status) {
        let Some(s) = state.read::<PreScoreState>(PRE_SCORE_STATE_KEY) else {
            return (0, missing(PRE_SCORE_STATE_KEY));
        };
        let input = &s.input;
        let Some(domains) = input.domains(node) else {
            return (IGNORED_SCORE, Status::success());
        };
        let mut score = 0.0f64;
        for (i, c) in input.constraints.iter().enumerate() {
            // Only constraints whose key the node has.
            let Some(d) = domains[i] else {
                continue;
            };
            let counts = &input.counts[i];
            let count = if c.is_hostname() && counts.shared_hostnames {
                count_matching(&node.pods, &c.selector, &input.namespace)
            } else {
                d.and_then(|d| counts.counts.get(d)).copied().unwrap_or(0)
            };
            score += count as f64 * s.weights[i] + (c.max_skew - 1) as f64;
        }
        (score.round() as i64, Status::success())
    }

    /// Fewer matching pods score higher: `100 * (max + min - score) / max`; nodes missing a
    /// topology key get 0.
    fn normalize(&self, _state: &CycleState, _pod: &PodInfo, scores: &mut [NodeScore]) -> Status {
        let mut min = i64::MAX;
        let mut max = 0i64;
        for s in scores.iter().filter(|s| s.score != IGNORED_SCORE) {
            min = min.min(s.score);
            max = max.max(s.score);
        }
        for s in scores.iter_mut() {
            s.score = if s.score == IGNORED_SCORE {
                0
            } else if max == 0 {
                MAX_NODE_SCORE
            } else {
                MAX_NODE_SCORE * (max + min - s.score) / max
            };
        }
        Status::success()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::framework::Code;
    use crate::plugins::testing::{
        HOSTNAME, NodeBuilder, ZONE, match_expression, match_labels, node, pod, run_filter,
        score_nodes, snapshot_with, spread, taint, toleration,
    };
    use k8s_openapi::api::apps::v1::ReplicaSetSpec;
    use k8s_openapi::api::core::v1::ServiceSpec;
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::{ObjectMeta, OwnerReference};

    fn plugin() -> PluginSet {
        new(None).unwrap()
    }

    fn foo() -> Option<k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelector> {
        Some(match_expression("foo", "Exists", &[]))
    }

    /// `n` pods labelled `foo` on `node`, named after it.
    fn foos(node: &str, n: usize) -> Vec<Arc<PodInfo>> {
        (0..n)
            .map(|i| {
                pod(&format!("{node}-{i}"))
                    .label("foo", "")
                    .node_name(node)
                    .info()
            })
            .collect()
    }

    fn flat(groups: Vec<Vec<Arc<PodInfo>>>) -> Vec<Arc<PodInfo>> {
        groups.into_iter().flatten().collect()
    }

    /// `""` success, `"X"` skew exceeded (unschedulable), `"!L"` missing label (unresolvable).
    fn brief(s: &Status) -> &'static str {
        match (s.code, s.reasons.first().map(String::as_str)) {
            (Code::Success, _) => "",
            (Code::Unschedulable, Some(ERR_REASON_CONSTRAINTS_NOT_MATCH)) => "X",
            (Code::UnschedulableAndUnresolvable, Some(ERR_REASON_NODE_LABEL_NOT_MATCH)) => "!L",
            _ => panic!("unexpected status {s:?}"),
        }
    }

    /// A Filter case: name, incoming pod, existing pods, results on n1..n5.
    type FilterCase = (
        &'static str,
        Arc<PodInfo>,
        Vec<Arc<PodInfo>>,
        [&'static str; 5],
    );
    /// A Score case: name, incoming pod, nodes, existing pods, feasible nodes, scores.
    type ScoreCase = (
        &'static str,
        Arc<PodInfo>,
        Vec<NodeBuilder>,
        Vec<Arc<PodInfo>>,
        &'static [&'static str],
        Option<Vec<i64>>,
    );

    /// Zone z1: n1, n2; z2: n3; z3: n4; n5 has no zone label.
    fn five_nodes() -> Vec<NodeBuilder> {
        vec![
            node("n1").zone("z1"),
            node("n2").zone("z1"),
            node("n3").zone("z2"),
            node("n4").zone("z3"),
            node("n5"),
        ]
    }

    fn filter_briefs(
        set: &PluginSet,
        incoming: &PodInfo,
        nodes: Vec<NodeBuilder>,
        pods: &[Arc<PodInfo>],
    ) -> Vec<&'static str> {
        let snap = snapshot_with(nodes, pods, &[]);
        let run = run_filter(set, incoming, &snap);
        let briefs: Vec<&'static str> = run.filter.iter().map(brief).collect();
        // Copies of the nodes (as preemption filters) are not in the node table: the same
        // answers must come from their labels.
        if let Some(filter) = &set.filter
            && !run.state.skip_filter.contains(NAME)
        {
            let copies: Vec<&'static str> = snap
                .nodes
                .iter()
                .map(|n| brief(&filter.filter(&run.state, incoming, &(**n).clone())))
                .collect();
            assert_eq!(copies, briefs, "copies of the nodes");
        }
        briefs
    }

    #[test]
    fn filter() {
        let zone1 = |skew| spread(skew, ZONE, DO_NOT_SCHEDULE, foo());
        let cases: Vec<FilterCase> = vec![
            (
                "no constraints: skipped",
                pod("p").label("foo", "").info(),
                foos("n1", 3),
                ["", "", "", "", ""],
            ),
            (
                "zones at 3, 1, 0: only the emptiest zone fits with maxSkew 1",
                pod("p").label("foo", "").spread(zone1(1)).info(),
                flat(vec![foos("n1", 2), foos("n2", 1), foos("n3", 1)]),
                ["X", "X", "X", "", "!L"],
            ),
            (
                "maxSkew 2 also admits the zone one above the minimum",
                pod("p").label("foo", "").spread(zone1(2)).info(),
                flat(vec![foos("n1", 2), foos("n2", 1), foos("n3", 1)]),
                ["X", "X", "", "", "!L"],
            ),
            (
                "pods on nodes without the label do not count",
                pod("p").label("foo", "").spread(zone1(1)).info(),
                flat(vec![
                    foos("n5", 5),
                    foos("n3", 1),
                    foos("n4", 1),
                    foos("n1", 1),
                ]),
                ["", "", "", "", "!L"],
            ),
            (
                "a pod not matching its own selector adds nothing",
                pod("p").spread(zone1(1)).info(),
                flat(vec![foos("n1", 2), foos("n3", 1)]),
                ["X", "X", "", "", "!L"],
            ),
            (
                "pods in other namespaces and terminating pods do not count",
                pod("p").label("foo", "").spread(zone1(1)).info(),
                vec![
                    pod("other").ns("x").label("foo", "").node_name("n1").info(),
                    pod("gone")
                        .label("foo", "")
                        .terminating()
                        .node_name("n1")
                        .info(),
                ],
                ["", "", "", "", "!L"],
            ),
            (
                "hostname spreading",
                pod("p")
                    .label("foo", "")
                    .spread(spread(1, HOSTNAME, DO_NOT_SCHEDULE, foo()))
                    .info(),
                flat(vec![
                    foos("n1", 1),
                    foos("n2", 1),
                    foos("n3", 1),
                    foos("n4", 1),
                ]),
                ["X", "X", "X", "X", ""],
            ),
            (
                "two constraints must both hold",
                pod("p")
                    .label("foo", "")
                    .spread(zone1(1))
                    .spread(spread(1, HOSTNAME, DO_NOT_SCHEDULE, foo()))
                    .info(),
                flat(vec![foos("n1", 1), foos("n3", 1), foos("n4", 1)]),
                ["X", "", "X", "X", "!L"],
            ),
            (
                "no label selector selects nothing",
                pod("p")
                    .label("foo", "")
                    .spread(spread(1, ZONE, DO_NOT_SCHEDULE, None))
                    .info(),
                foos("n1", 4),
                ["", "", "", "", "!L"],
            ),
            (
                "ScheduleAnyway constraints do not filter",
                pod("p")
                    .label("foo", "")
                    .spread(spread(1, ZONE, SCHEDULE_ANYWAY, foo()))
                    .info(),
                foos("n1", 4),
                ["", "", "", "", ""],
            ),
        ];
        let set = plugin();
        for (name, incoming, pods, want) in cases {
            assert_eq!(
                filter_briefs(&set, &incoming, five_nodes(), &pods),
                want,
                "{name}"
            );
        }
    }

    #[test]
    fn min_domains() {
        let set = plugin();
        let with_min = |min: i32| {
            let mut c = spread(1, ZONE, DO_NOT_SCHEDULE, foo());
            c.min_domains = Some(min);
            pod("p").label("foo", "").spread(c).info()
        };
        // Three zones with 1, 1, 0 pods (the unlabelled node does not make a domain).
        let pods = flat(vec![foos("n1", 1), foos("n3", 1)]);
        // Enough domains: the global minimum is 0 (z3), so 1 + 1 - 0 is too much for z1/z2.
        assert_eq!(
            filter_briefs(&set, &with_min(3), five_nodes(), &pods),
            ["X", "X", "X", "", "!L"]
        );
        // Without z3 there are 2 domains at 1 each: fine with minDomains 1 or 2...
        let four = || five_nodes().into_iter().take(3).collect::<Vec<_>>();
        assert_eq!(
            filter_briefs(&set, &with_min(2), four(), &pods),
            ["", "", ""]
        );
        // ...but below minDomains the minimum counts as 0.
        assert_eq!(
            filter_briefs(&set, &with_min(3), four(), &pods),
            ["X", "X", "X"]
        );
        // With no matching pods anywhere, minDomains does not get in the way.
        assert_eq!(filter_briefs(&set, &with_min(5), four(), &[]), ["", "", ""]);
    }

    #[test]
    fn node_inclusion_policies() {
        let set = plugin();
        let constraint = |affinity: Option<&str>, taints: Option<&str>| {
            let mut c = spread(1, ZONE, DO_NOT_SCHEDULE, foo());
            c.node_affinity_policy = affinity.map(Into::into);
            c.node_taints_policy = taints.map(Into::into);
            c
        };
        // z1 and z2 hold one pod each; z3 is empty but outside the pod's node affinity, and
        // z4 is empty but tainted.
        let nodes = || {
            vec![
                node("n1").zone("z1").label("pool", "a"),
                node("n3").zone("z2").label("pool", "a"),
                node("n4").zone("z3").label("pool", "b"),
            ]
        };
        let pods = flat(vec![foos("n1", 1), foos("n3", 1)]);
        let affinity_pod = |policy| {
            pod("p")
                .label("foo", "")
                .node_affinity_in("pool", &["a"])
                .spread(constraint(policy, None))
                .info()
        };
        // Honor (the default): z3 is not a domain, the minimum is 1.
        assert_eq!(
            filter_briefs(&set, &affinity_pod(None), nodes(), &pods),
            ["", "", ""]
        );
        assert_eq!(
            filter_briefs(&set, &affinity_pod(Some("Honor")), nodes(), &pods),
            ["", "", ""]
        );
        // Ignore: the empty z3 is the minimum.
        assert_eq!(
            filter_briefs(&set, &affinity_pod(Some("Ignore")), nodes(), &pods),
            ["X", "X", ""]
        );
        // nodeSelector counts as node affinity too.
        let selector_pod = pod("p")
            .label("foo", "")
            .node_selector("pool", "a")
            .spread(constraint(None, None))
            .info();
        assert_eq!(
            filter_briefs(&set, &selector_pod, nodes(), &pods),
            ["", "", ""]
        );

        let tainted = || {
            vec![
                node("n1").zone("z1"),
                node("n3").zone("z2"),
                node("n4")
                    .zone("z3")
                    .taint(taint("dedicated", "x", "NoSchedule")),
            ]
        };
        let taint_pod = |policy, tolerate: bool| {
            let mut b = pod("p").label("foo", "").spread(constraint(None, policy));
            if tolerate {
                b = b.toleration(toleration("dedicated", "Equal", "x", "NoSchedule"));
            }
            b.info()
        };
        // Ignore (the default): the tainted empty zone is the minimum.
        assert_eq!(
            filter_briefs(&set, &taint_pod(None, false), tainted(), &pods),
            ["X", "X", ""]
        );
        // Honor: it is not a domain unless tolerated.
        assert_eq!(
            filter_briefs(&set, &taint_pod(Some("Honor"), false), tainted(), &pods),
            ["", "", ""]
        );
        assert_eq!(
            filter_briefs(&set, &taint_pod(Some("Honor"), true), tainted(), &pods),
            ["X", "X", ""]
        );
        // PreferNoSchedule taints never exclude a node.
        let soft_taint = vec![
            node("n1").zone("z1"),
            node("n3").zone("z2"),
            node("n4")
                .zone("z3")
                .taint(taint("dedicated", "x", "PreferNoSchedule")),
        ];
        assert_eq!(
            filter_briefs(&set, &taint_pod(Some("Honor"), false), soft_taint, &pods),
            ["X", "X", ""]
        );
    }

    #[test]
    fn match_label_keys() {
        let set = plugin();
        let mut c = spread(
            1,
            ZONE,
            DO_NOT_SCHEDULE,
            Some(match_labels(&[("app", "web")])),
        );
        c.match_label_keys = Some(vec!["version".into(), "absent".into()]);
        let incoming = pod("p")
            .label("app", "web")
            .label("version", "v2")
            .spread(c)
            .info();
        let web = |name: &str, version: &str, node: &str| {
            pod(name)
                .label("app", "web")
                .label("version", version)
                .node_name(node)
                .info()
        };
        // Two v1 pods in z1, one v2 pod in z2: only v2 pods count.
        let pods = vec![
            web("a", "v1", "n1"),
            web("b", "v1", "n2"),
            web("c", "v2", "n3"),
        ];
        let nodes = || five_nodes().into_iter().take(3).collect::<Vec<_>>();
        assert_eq!(
            filter_briefs(&set, &incoming, nodes(), &pods),
            ["", "", "X"]
        );
        // Without matchLabelKeys all versions count.
        let plain = pod("p")
            .label("app", "web")
            .label("version", "v2")
            .spread(spread(
                1,
                ZONE,
                DO_NOT_SCHEDULE,
                Some(match_labels(&[("app", "web")])),
            ))
            .info();
        assert_eq!(filter_briefs(&set, &plain, nodes(), &pods), ["X", "X", ""]);
    }

    #[test]
    fn critical_paths() {
        let mut p = CriticalPaths::new();
        for (d, n) in [(0, 3), (1, 1), (2, 2), (3, 5)] {
            p.update(d, n);
        }
        assert_eq!(p.0, [(1, 1), (2, 2)]);
        p.update(1, 4);
        assert_eq!(p.0, [(2, 2), (1, 4)]);
        p.update(3, 0);
        assert_eq!(p.0, [(3, 0), (2, 2)]);
    }

    #[test]
    fn add_and_remove_pod() {
        let set = plugin();
        let pre = set.pre_filter.clone().unwrap();
        let filter = set.filter.clone().unwrap();
        let pods = flat(vec![foos("n1", 2), foos("n3", 1)]);
        let snap = snapshot_with(
            vec![
                node("n1").zone("z1"),
                node("n3").zone("z2"),
                node("n4").zone("z3").label("pool", "b"),
            ],
            &pods,
            &[],
        );
        let incoming = pod("p")
            .label("foo", "")
            .spread(spread(1, ZONE, DO_NOT_SCHEDULE, foo()))
            .info();
        let mut state = CycleState::default();
        assert!(pre.pre_filter(&mut state, &incoming, &snap).1.is_success());
        let briefs = |state: &CycleState| -> Vec<&'static str> {
            snap.nodes
                .iter()
                .map(|n| brief(&filter.filter(state, &incoming, n)))
                .collect()
        };
        assert_eq!(briefs(&state), ["X", "X", ""]);
        let n1 = snap.get("n1").unwrap().clone();
        let n3 = snap.get("n3").unwrap().clone();
        let n4 = snap.get("n4").unwrap().clone();

        // Preemption on a copy: evicting the z2 pod makes z2 as empty as z3.
        let mut what_if = state.clone();
        assert!(
            pre.remove_pod(&mut what_if, &incoming, &pods[2], &n3)
                .is_success()
        );
        assert_eq!(briefs(&what_if), ["X", "", ""]);
        assert!(
            pre.add_pod(&mut what_if, &incoming, &pods[2], &n3)
                .is_success()
        );
        assert_eq!(briefs(&what_if), ["X", "X", ""]);
        assert_eq!(briefs(&state), ["X", "X", ""]);

        // Filling z3 raises the minimum to 1.
        let extra = pod("x").label("foo", "").node_name("n4").info();
        assert!(pre.add_pod(&mut state, &incoming, &extra, &n4).is_success());
        assert_eq!(briefs(&state), ["X", "", ""]);
        // Removing both z1 pods makes z1 the minimum.
        for p in &pods[..2] {
            assert!(pre.remove_pod(&mut state, &incoming, p, &n1).is_success());
        }
        assert_eq!(briefs(&state), ["", "X", "X"]);

        // Pods in other namespaces or not matching the selector change nothing.
        let other_ns = pod("o").ns("x").label("foo", "").node_name("n1").info();
        let unlabelled = pod("u").node_name("n1").info();
        assert!(
            pre.add_pod(&mut state, &incoming, &other_ns, &n1)
                .is_success()
        );
        assert!(
            pre.add_pod(&mut state, &incoming, &unlabelled, &n1)
                .is_success()
        );
        assert_eq!(briefs(&state), ["", "X", "X"]);

        // Node affinity (Honor) keeps excluded nodes out of the counts.
        let picky = pod("p")
            .label("foo", "")
            .node_selector("pool", "b")
            .spread(spread(1, ZONE, DO_NOT_SCHEDULE, foo()))
            .info();
        let mut state = CycleState::default();
        assert!(pre.pre_filter(&mut state, &picky, &snap).1.is_success());
        let before = state
            .read::<PreFilterState>(PRE_FILTER_STATE_KEY)
            .unwrap()
            .counts[0]
            .counts
            .clone();
        assert!(pre.add_pod(&mut state, &picky, &extra, &n1).is_success());
        let after = &state
            .read::<PreFilterState>(PRE_FILTER_STATE_KEY)
            .unwrap()
            .counts[0]
            .counts;
        assert_eq!(&before, after);
    }

    fn score_of(
        set: &PluginSet,
        incoming: &PodInfo,
        nodes: Vec<NodeBuilder>,
        pods: &[Arc<PodInfo>],
        feasible: &[&str],
    ) -> Option<Vec<i64>> {
        let snap = snapshot_with(nodes, pods, &[]);
        // Raw scores of copies of the nodes (not in the node table) match the originals'.
        let mut state = CycleState::default();
        if let Some(pre) = &set.pre_filter {
            let _ = pre.pre_filter(&mut state, incoming, &snap);
        }
        let infos: Vec<Arc<NodeInfo>> = feasible
            .iter()
            .map(|n| snap.get(n).unwrap().clone())
            .collect();
        if set
            .pre_score
            .as_ref()
            .unwrap()
            .pre_score(&mut state, incoming, &infos)
            .is_success()
        {
            let score = set.score.as_ref().unwrap();
            for n in &infos {
                assert_eq!(
                    score.score(&state, incoming, n),
                    score.score(&state, incoming, &(**n).clone())
                );
            }
        }
        score_nodes(set, incoming, &snap, feasible).map(|v| v.into_iter().map(|(_, s)| s).collect())
    }

    #[test]
    fn score() {
        let set = plugin();
        let soft = |skew, key: &str| spread(skew, key, SCHEDULE_ANYWAY, foo());
        let four = || {
            vec![
                node("n1").zone("z1"),
                node("n2").zone("z1"),
                node("n3").zone("z2"),
                node("n4").zone("z3"),
            ]
        };
        let all: &[&str] = &["n1", "n2", "n3", "n4"];
        let cases: Vec<ScoreCase> = vec![
            (
                "no soft constraints: skipped",
                pod("p")
                    .spread(spread(1, ZONE, DO_NOT_SCHEDULE, foo()))
                    .info(),
                four(),
                foos("n1", 1),
                all,
                None,
            ),
            (
                // weight ln(6); raw 2*1.79 = 4, 2, 0, 0.
                "hostname: fewer matching pods score higher",
                pod("p").spread(soft(1, HOSTNAME)).info(),
                four(),
                flat(vec![foos("n1", 2), foos("n2", 1)]),
                all,
                Some(vec![0, 50, 100, 100]),
            ),
            (
                // weight ln(5); raw z1 3*1.61 = 5, z2 2, z3 0.
                "zones",
                pod("p").spread(soft(1, ZONE)).info(),
                four(),
                flat(vec![foos("n1", 1), foos("n2", 2), foos("n3", 1)]),
                all,
                Some(vec![0, 0, 60, 100]),
            ),
            (
                // Feasible n2 (z1) and n3 (z2): weight ln(4); raw 3*1.39 = 4 and 1.
                "pods on infeasible nodes count for their zone",
                pod("p").spread(soft(1, ZONE)).info(),
                four(),
                flat(vec![foos("n1", 1), foos("n2", 2), foos("n3", 1)]),
                &["n2", "n3"],
                Some(vec![25, 100]),
            ),
            (
                // n5 lacks the zone: ignored (0). Weight ln(4); raw n1 1, n3 0.
                "nodes without the key score 0",
                pod("p").spread(soft(1, ZONE)).info(),
                vec![node("n1").zone("z1"), node("n3").zone("z2"), node("n5")],
                flat(vec![foos("n1", 1), foos("n5", 3)]),
                &["n1", "n3", "n5"],
                Some(vec![0, 100, 0]),
            ),
            (
                // weight ln(4); raw 1.39 + 2 = 3 and 2.
                "maxSkew softens differences",
                pod("p").spread(soft(3, HOSTNAME)).info(),
                four(),
                foos("n1", 1),
                &["n1", "n2"],
                Some(vec![66, 100]),
            ),
            (
                "nothing matches: every node is best",
                pod("p").spread(soft(1, ZONE)).info(),
                four(),
                vec![],
                all,
                Some(vec![100, 100, 100, 100]),
            ),
        ];
        for (name, incoming, nodes, pods, feasible, want) in cases {
            assert_eq!(
                score_of(&set, &incoming, nodes, &pods, feasible),
                want,
                "{name}"
            );
        }
    }

    #[test]
    fn score_node_affinity_policy() {
        let set = plugin();
        let constraint = |policy: Option<&str>| {
            let mut c = spread(1, ZONE, SCHEDULE_ANYWAY, foo());
            c.node_affinity_policy = policy.map(Into::into);
            c
        };
        let nodes = || {
            vec![
                node("n1").zone("z1").label("pool", "a"),
                node("n2").zone("z1").label("pool", "b"),
                node("n3").zone("z2").label("pool", "a"),
            ]
        };
        let pods = flat(vec![foos("n2", 3), foos("n3", 1)]);
        let incoming = |policy| {
            pod("p")
                .node_selector("pool", "a")
                .spread(constraint(policy))
                .info()
        };
        // Honor: n2 is outside the pod's node selector, so z1 counts 0 and z2 1.
        assert_eq!(
            score_of(&set, &incoming(None), nodes(), &pods, &["n1", "n3"]),
            Some(vec![100, 0])
        );
        // Ignore: z1 counts 3 (raw 4) against z2's 1.
        assert_eq!(
            score_of(
                &set,
                &incoming(Some("Ignore")),
                nodes(),
                &pods,
                &["n1", "n3"]
            ),
            Some(vec![25, 100])
        );
    }

    fn web_selector() -> DefaultSelectorFn {
        Arc::new(|p: &PodInfo| {
            if p.labels.get("app").map(String::as_str) == Some("web") {
                Selector::from_set(&[("app".to_owned(), "web".to_owned())].into())
            } else {
                Selector::everything()
            }
        })
    }

    #[test]
    fn system_defaults() {
        let set = new_with_default_selector(None, Some(web_selector())).unwrap();
        let nodes = || {
            vec![
                node("n1").zone("z1"),
                node("n2").zone("z1"),
                node("n3").zone("z2"),
                node("n4"),
            ]
        };
        let web = |name: &str, node: &str| pod(name).label("app", "web").node_name(node).info();
        let pods = vec![web("a", "n1"), web("b", "n1"), web("c", "n3")];
        let all = &["n1", "n2", "n3", "n4"];
        // Hostname (maxSkew 3, weight ln 6) and zone (maxSkew 5, weight ln 5: z1, z2 and the
        // empty value of n4, which is scored on hostname alone): raw 13, 9, 9, 2.
        let incoming = pod("p").label("app", "web").info();
        assert_eq!(
            score_of(&set, &incoming, nodes(), &pods, all),
            Some(vec![15, 46, 46, 100])
        );
        // System defaults never filter.
        let snap = snapshot_with(nodes(), &pods, &[]);
        assert_eq!(
            run_filter(&set, &incoming, &snap).pre_filter.code,
            Code::Skip
        );
        // A pod outside any workload, or no way to tell: no default constraints.
        let loner = pod("p").label("app", "db").info();
        assert_eq!(score_of(&set, &loner, nodes(), &pods, all), None);
        assert_eq!(score_of(&plugin(), &incoming, nodes(), &pods, all), None);
        // The pod's own constraints replace the defaults.
        let own = pod("p")
            .label("app", "web")
            .spread(spread(
                1,
                HOSTNAME,
                SCHEDULE_ANYWAY,
                Some(match_labels(&[("app", "db")])),
            ))
            .info();
        assert_eq!(
            score_of(&set, &own, nodes(), &pods, all),
            Some(vec![100, 100, 100, 100])
        );
    }

    #[test]
    fn list_defaults() {
        let args = serde_json::json!({
            "defaultingType": "List",
            "defaultConstraints": [
                {"maxSkew": 1, "topologyKey": ZONE, "whenUnsatisfiable": "DoNotSchedule"},
            ],
        });
        let set = new_with_default_selector(Some(&args), Some(web_selector())).unwrap();
        let web = |name: &str, node: &str| pod(name).label("app", "web").node_name(node).info();
        let pods = vec![
            web("a", "n1"),
            web("b", "n3"),
            pod("c").node_name("n4").info(),
        ];
        let incoming = pod("p").label("app", "web").info();
        assert_eq!(
            filter_briefs(&set, &incoming, five_nodes(), &pods),
            ["X", "X", "X", "", "!L"]
        );
        // List defaulting requires every key on scored nodes.
        let soft = serde_json::json!({
            "defaultingType": "List",
            "defaultConstraints": [
                {"maxSkew": 1, "topologyKey": ZONE, "whenUnsatisfiable": "ScheduleAnyway"},
            ],
        });
        let set = new_with_default_selector(Some(&soft), Some(web_selector())).unwrap();
        assert_eq!(
            score_of(&set, &incoming, five_nodes(), &pods, &["n1", "n4", "n5"]),
            Some(vec![0, 100, 0])
        );
    }

    #[test]
    fn args() {
        let err = |v: serde_json::Value| new(Some(&v)).err().unwrap();
        assert_eq!(
            err(serde_json::json!({
                "defaultConstraints": [{"maxSkew": 1, "topologyKey": ZONE, "whenUnsatisfiable": "ScheduleAnyway"}],
            })),
            "defaultingType: Invalid value: \"System\": when .defaultConstraints are not empty"
        );
        assert_eq!(
            err(serde_json::json!({"defaultingType": "Sometimes"})),
            "defaultingType: Unsupported value: \"Sometimes\": supported values: \"List\", \"System\""
        );
        assert_eq!(
            err(serde_json::json!({
                "defaultingType": "List",
                "defaultConstraints": [
                    {"maxSkew": 0, "topologyKey": ZONE, "whenUnsatisfiable": "ScheduleAnyway",
                     "labelSelector": {"matchLabels": {"a": "b"}}},
                    {"maxSkew": 1, "topologyKey": ZONE, "whenUnsatisfiable": "ScheduleAnyway"},
                    {"maxSkew": 1, "topologyKey": "", "whenUnsatisfiable": "Maybe"},
                ],
            })),
            "[defaultConstraints[0].maxSkew: Invalid value: 0: not in valid range (0, inf), \
             defaultConstraints[0].labelSelector: Forbidden: constraint must not define a selector, as they deduced for each pod, \
             defaultConstraints[1]: Duplicate value: \"{topology.kubernetes.io/zone, ScheduleAnyway}\", \
             defaultConstraints[2].topologyKey: Required value: can not be empty, \
             defaultConstraints[2].whenUnsatisfiable: Unsupported value: \"Maybe\": supported values: \"DoNotSchedule\", \"ScheduleAnyway\"]"
        );
        assert!(new(Some(&serde_json::json!({"unknown": 1}))).is_err());
        assert!(new(Some(&serde_json::json!({"kind": "PodTopologySpreadArgs"}))).is_ok());
    }

    #[test]
    fn default_selector_from_workloads() {
        let meta = |ns: &str, name: &str| ObjectMeta {
            namespace: Some(ns.into()),
            name: Some(name.into()),
            ..Default::default()
        };
        let svc = |ns: &str, sel: &[(&str, &str)]| Service {
            metadata: meta(ns, "svc"),
            spec: Some(ServiceSpec {
                selector: Some(
                    sel.iter()
                        .map(|(k, v)| ((*k).into(), (*v).into()))
                        .collect(),
                ),
                ..Default::default()
            }),
            status: None,
        };
        let rs = ReplicaSet {
            metadata: meta("default", "rs"),
            spec: Some(ReplicaSetSpec {
                selector: match_labels(&[("pod-template-hash", "abc")]),
                ..Default::default()
            }),
            status: None,
        };
        let mut p = pod("p")
            .label("app", "web")
            .label("pod-template-hash", "abc")
            .obj();
        let services = [
            svc("default", &[("app", "web")]),
            svc("default", &[("app", "db")]),
            svc("other", &[("tier", "x")]),
        ];
        let sel = default_selector(&p, &services, [], [&rs], []);
        assert_eq!(sel.to_string(), "app=web");
        p.metadata.owner_references = Some(vec![OwnerReference {
            api_version: "apps/v1".into(),
            kind: "ReplicaSet".into(),
            name: "rs".into(),
            controller: Some(true),
            ..Default::default()
        }]);
        let sel = default_selector(&p, &services, [], [&rs], []);
        assert_eq!(sel.to_string(), "app=web,pod-template-hash=abc");
        assert!(default_selector(&pod("q").obj(), &services, [], [], []).is_empty());
    }

    #[test]
    fn events() {
        let set = plugin();
        let wanted = |r, a| {
            set.events
                .iter()
                .any(|e| ClusterEvent::new(r, a).matches(e))
        };
        assert!(wanted(EventResource::Pod, action::ADD));
        assert!(wanted(EventResource::Pod, action::DELETE));
        assert!(wanted(EventResource::Pod, action::UPDATE_POD_LABEL));
        assert!(wanted(EventResource::Node, action::ADD));
        assert!(wanted(EventResource::Node, action::DELETE));
        assert!(wanted(EventResource::Node, action::UPDATE_NODE_LABEL));
        assert!(wanted(EventResource::Node, action::UPDATE_NODE_TAINT));
        assert!(!wanted(
            EventResource::Node,
            action::UPDATE_NODE_ALLOCATABLE
        ));
    }
}

/// Timing of the `skiff bench scheduler` spread scenario and variants (plugin calls only);
/// run with `cargo test --release -p skiff-scheduler -- --ignored --nocapture throughput`.
#[cfg(test)]
mod throughput {
    use super::*;
    use crate::plugins::testing::{
        HOSTNAME, ZONE, match_labels, node, pod, snapshot_with, spread, throughput,
    };

    fn run(name: &str, constraints: &[(&str, &str)], default_selector: bool) {
        let nodes = (0..5000)
            .map(|i| node(&format!("node-{i}")).zone(&format!("zone-{}", i % 3)))
            .collect();
        let mut snap = snapshot_with(nodes, &[], &[]);
        let set = if default_selector {
            let f: DefaultSelectorFn = Arc::new(|p: &PodInfo| Selector::from_set(&p.labels));
            new_with_default_selector(None, Some(f)).unwrap()
        } else {
            new(None).unwrap()
        };
        let pods = (0..10_000).map(|i| {
            let mut b = pod(&format!("p-{i}")).label("app", "bench");
            for (key, when) in constraints {
                b = b.spread(spread(
                    1,
                    key,
                    when,
                    Some(match_labels(&[("app", "bench")])),
                ));
            }
            b.obj()
        });
        let (rate, failed) = throughput(&set, &mut snap, pods);
        println!("PodTopologySpread, {name}, 5000 nodes, 10000 pods: {rate:.0} pods/s");
        assert_eq!(failed, 0);
    }

    #[test]
    #[ignore]
    fn throughput_spread_5000_nodes_10000_pods() {
        run("zone DoNotSchedule", &[(ZONE, DO_NOT_SCHEDULE)], false);
        run(
            "hostname DoNotSchedule",
            &[(HOSTNAME, DO_NOT_SCHEDULE)],
            false,
        );
        run(
            "zone DoNotSchedule + hostname ScheduleAnyway",
            &[(ZONE, DO_NOT_SCHEDULE), (HOSTNAME, SCHEDULE_ANYWAY)],
            false,
        );
        run("system defaults", &[], true);
    }
}
