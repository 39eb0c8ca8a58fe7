//! InterPodAffinity, after upstream's `interpodaffinity` plugin: required pod affinity and
//! anti-affinity of the incoming pod, required anti-affinity of the pods already placed
//! (symmetry), and scoring by preferred terms of both.
//!
//! PreFilter counts, per topology pair (`key=value` of a node label), the existing pods that
//! match the incoming pod's required affinity (all terms at once) and each anti-affinity
//! term, and the existing pods whose required anti-affinity terms match the incoming pod.
//! Filter then only looks up the node's pairs. The incoming pod's namespace selectors are
//! resolved against the snapshot's namespaces once, so its terms carry plain namespace
//! lists; existing pods' selectors are matched against the incoming pod's namespace labels.
//!
//! The pods are not walked one by one: [`NodeSummaries`], kept across cycles, groups each
//! node's pods by label set and their terms by term, so a term is matched once per distinct
//! label set (or a distinct existing term once against the pod) and the results are summed
//! per node.
//!
//! Scoring needs every node of the cluster while PreScore only sees the feasible ones, so
//! PreFilter also builds the per-pair score table; PreScore picks it up (and builds it from
//! the nodes it is given when PreFilter did not run).

use super::{decode_args, names};
use crate::framework::summary::{NO_DOMAIN, NodeSummaries, TermKind};
use crate::framework::types::WeightedAffinityTerm;
use crate::framework::{
    AffinityTerm, ClusterEvent, CycleState, EventResource, FilterPlugin, Labels, MAX_NODE_SCORE,
    NodeInfo, NodeScore, Objects, Plugin, PluginSet, PodInfo, PreFilterPlugin, PreFilterResult,
    PreScorePlugin, ScorePlugin, Snapshot, Status, action,
};
use crate::plugin_set;
use serde::Deserialize;
use serde_json::Value;
use skiff_core::labels::Selector;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};

/// The plugin's name.
pub const NAME: &str = names::INTER_POD_AFFINITY;

/// Filter reason: no pod matching the incoming pod's required affinity in the node's domain.
pub const ERR_REASON_AFFINITY_RULES_NOT_MATCH: &str = "node(s) didn't match pod affinity rules";
/// Filter reason: a pod matching the incoming pod's required anti-affinity is in the domain.
pub const ERR_REASON_ANTI_AFFINITY_RULES_NOT_MATCH: &str =
    "node(s) didn't match pod anti-affinity rules";
/// Filter reason: an existing pod's required anti-affinity rejects the incoming pod there.
pub const ERR_REASON_EXISTING_ANTI_AFFINITY_RULES_NOT_MATCH: &str =
    "node(s) didn't satisfy existing pods anti-affinity rules";

const PRE_FILTER_STATE_KEY: &str = "PreFilterInterPodAffinity";
const PRE_SCORE_STATE_KEY: &str = "PreScoreInterPodAffinity";

/// Upstream's `InterPodAffinityArgs` (v1 defaults).
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
#[serde(default, rename_all = "camelCase", deny_unknown_fields)]
pub struct InterPodAffinityArgs {
    /// The score an existing pod's required affinity term that matches the incoming pod
    /// adds to its domain (0-100; 0 ignores required terms when scoring).
    pub hard_pod_affinity_weight: i32,
    /// Skip scoring entirely when the incoming pod has no preferred terms, instead of
    /// honouring the preferred terms of existing pods.
    pub ignore_preferred_terms_of_existing_pods: bool,
}

impl Default for InterPodAffinityArgs {
    fn default() -> Self {
        InterPodAffinityArgs {
            hard_pod_affinity_weight: 1,
            ignore_preferred_terms_of_existing_pods: false,
        }
    }
}

impl InterPodAffinityArgs {
    /// Upstream's `ValidateInterPodAffinityArgs`.
    pub fn validate(&self) -> Result<(), String> {
        let w = self.hard_pod_affinity_weight;
        if !(0..=100).contains(&w) {
            return Err(format!(
                "hardPodAffinityWeight: Invalid value: {w}: not in valid range [0-100]"
            ));
        }
        Ok(())
    }
}

/// The plugin.
#[derive(Debug, Default)]
pub struct InterPodAffinity {
    args: InterPodAffinityArgs,
    /// Per-node summaries of the last snapshot seen.
    summaries: Mutex<NodeSummaries>,
}

impl InterPodAffinity {
    /// The plugin with validated args.
    pub fn new(args: InterPodAffinityArgs) -> Result<InterPodAffinity, String> {
        args.validate()?;
        Ok(InterPodAffinity {
            args,
            summaries: Mutex::new(NodeSummaries::new()),
        })
    }
}

/// Builds the plugin from its `pluginConfig` args.
pub fn new(args: Option<&Value>) -> Result<PluginSet, String> {
    let args: InterPodAffinityArgs = decode_args(args)?;
    let plugin = InterPodAffinity::new(args)?;
    Ok(plugin_set!(plugin, pre_filter, filter, pre_score, score))
}

// ---------------------------------------------------------------------------------------
// Counting per topology pair

/// Counts per topology pair, grouped by key (there are only a few keys per pod). Entries
/// that drop to zero are removed, so emptiness means "nothing matched".
#[derive(Clone, Debug, Default)]
struct TopologyCounts {
    keys: Vec<(String, HashMap<String, i64>)>,
}

impl TopologyCounts {
    fn values_mut(&mut self, key: &str) -> &mut HashMap<String, i64> {
        let i = match self.keys.iter().position(|(k, _)| k == key) {
            Some(i) => i,
            None => {
                self.keys.push((key.to_owned(), HashMap::new()));
                self.keys.len() - 1
            }
        };
        &mut self.keys[i].1
    }

    /// Adds `delta` to the pair `key=<node's value>`, if the node has the key.
    fn add_on_node(&mut self, key: &str, labels: &Labels, delta: i64) {
        let Some(value) = labels.get(key) else {
            return;
        };
        if delta == 0 {
            return;
        }
        let values = self.values_mut(key);
        match values.get_mut(value.as_str()) {
            Some(n) => {
                *n += delta;
                if *n == 0 {
                    values.remove(value.as_str());
                }
            }
            None => {
                values.insert(value.clone(), delta);
            }
        }
    }

    /// The count of the pair `key=<node's value>` (0 when the node lacks the key).
    fn on_node(&self, key: &str, labels: &Labels) -> i64 {
        let Some(value) = labels.get(key) else {
            return 0;
        };
        self.keys
            .iter()
            .find(|(k, _)| k == key)
            .and_then(|(_, values)| values.get(value.as_str()))
            .copied()
            .unwrap_or(0)
    }

    fn is_empty(&self) -> bool {
        self.keys.iter().all(|(_, v)| v.is_empty())
    }

    /// Whether any of the node's pairs has a positive count.
    fn any_positive_on_node(&self, labels: &Labels) -> bool {
        self.keys.iter().any(|(key, values)| {
            labels
                .get(key)
                .and_then(|v| values.get(v.as_str()))
                .is_some_and(|n| *n > 0)
        })
    }
}

/// Adds `delta` to `key` in a small per-node tally.
fn tally<'a>(acc: &mut Vec<(&'a str, i64)>, key: &'a str, delta: i64) {
    match acc.iter_mut().find(|(k, _)| *k == key) {
        Some((_, n)) => *n += delta,
        None => acc.push((key, delta)),
    }
}

/// Yes/no answers per id (label set or term), each computed at most once per cycle.
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

/// The incoming pod's terms with namespace selectors resolved into namespace lists
/// (upstream's `mergeAffinityTermNamespacesIfNotEmpty`): a selector that selects every
/// namespace stays as it is, any other is replaced by the names it selects.
fn resolve_namespaces(term: &AffinityTerm, objects: &Objects) -> AffinityTerm {
    let mut t = term.clone();
    if t.namespace_selector.is_empty() {
        return t;
    }
    if !t.namespace_selector.is_nothing() {
        for (ns, labels) in &objects.namespace_labels {
            if t.namespace_selector.matches(labels) {
                t.namespaces.insert(ns.clone());
            }
        }
    }
    t.namespace_selector = Selector::nothing();
    t
}

fn resolve_all(terms: &[AffinityTerm], objects: &Objects) -> Vec<AffinityTerm> {
    terms
        .iter()
        .map(|t| resolve_namespaces(t, objects))
        .collect()
}

fn resolve_weighted(
    terms: &[WeightedAffinityTerm],
    objects: &Objects,
) -> Vec<WeightedAffinityTerm> {
    terms
        .iter()
        .map(|w| WeightedAffinityTerm {
            term: resolve_namespaces(&w.term, objects),
            weight: w.weight,
        })
        .collect()
}

/// Whether `pod` matches every term (false for no terms). The terms are the incoming pod's,
/// with namespaces resolved, so no namespace labels are needed.
fn matches_all(terms: &[AffinityTerm], pod: &PodInfo) -> bool {
    !terms.is_empty() && terms.iter().all(|t| t.matches(pod, None))
}

/// The incoming pod's required terms, resolved, shared by every copy of the state.
#[derive(Debug)]
struct IncomingTerms {
    affinity: Vec<AffinityTerm>,
    anti_affinity: Vec<AffinityTerm>,
    /// Labels of the incoming pod's namespace, for existing pods' namespace selectors.
    namespace_labels: Option<Labels>,
    /// Whether the incoming pod matches all its own affinity terms.
    self_match: bool,
}

/// What PreFilter computes for Filter.
#[derive(Clone, Debug)]
struct PreFilterState {
    /// Existing pods whose required anti-affinity terms match the incoming pod.
    existing_anti_affinity: TopologyCounts,
    /// Existing pods matching all of the incoming pod's required affinity terms.
    affinity: TopologyCounts,
    /// Existing pods matching each of the incoming pod's required anti-affinity terms.
    anti_affinity: TopologyCounts,
    terms: Arc<IncomingTerms>,
}

impl PreFilterState {
    /// Upstream's `updateWithPod`: `pod` (the one being scheduled) as if `other` were added
    /// to (`delta` 1) or removed from (`delta` -1) `node`.
    fn update(&mut self, pod: &PodInfo, other: &PodInfo, node: &NodeInfo, delta: i64) {
        let terms = self.terms.clone();
        for t in &other.required_anti_affinity {
            if t.matches(pod, terms.namespace_labels.as_ref()) {
                self.existing_anti_affinity
                    .add_on_node(&t.topology_key, &node.labels, delta);
            }
        }
        if matches_all(&terms.affinity, other) {
            for t in &terms.affinity {
                self.affinity
                    .add_on_node(&t.topology_key, &node.labels, delta);
            }
        }
        for t in &terms.anti_affinity {
            if t.matches(other, None) {
                self.anti_affinity
                    .add_on_node(&t.topology_key, &node.labels, delta);
            }
        }
    }

    /// Upstream's `satisfyPodAffinity`.
    fn satisfies_affinity(&self, node: &NodeInfo) -> bool {
        let mut pods_exist = true;
        for t in &self.terms.affinity {
            if !node.labels.contains_key(&t.topology_key) {
                // Every topology key must be on the node.
                return false;
            }
            if self.affinity.on_node(&t.topology_key, &node.labels) <= 0 {
                pods_exist = false;
            }
        }
        // The first pod of a group with affinity to itself: no pod anywhere matches the
        // terms, but the pod itself does, so it may go to any node with the keys.
        pods_exist || (self.affinity.is_empty() && self.terms.self_match)
    }

    /// Upstream's `satisfyPodAntiAffinity`.
    fn satisfies_anti_affinity(&self, node: &NodeInfo) -> bool {
        if self.anti_affinity.is_empty() {
            return true;
        }
        self.terms
            .anti_affinity
            .iter()
            .all(|t| self.anti_affinity.on_node(&t.topology_key, &node.labels) <= 0)
    }

    /// Upstream's `satisfyExistingPodsAntiAffinity`.
    fn satisfies_existing_anti_affinity(&self, node: &NodeInfo) -> bool {
        !self
            .existing_anti_affinity
            .any_positive_on_node(&node.labels)
    }
}

/// Existing pods' required anti-affinity terms that match `pod`, per pair; only nodes with
/// such pods are visited, and each distinct term is matched once.
fn existing_anti_affinity_counts(
    pod: &PodInfo,
    namespace_labels: Option<&Labels>,
    snapshot: &Snapshot,
    s: &NodeSummaries,
) -> TopologyCounts {
    let mut counts = TopologyCounts::default();
    let mut answers = Answers::new(s.term_capacity());
    let mut per_node: Vec<(&str, i64)> = Vec::new();
    for &i in &snapshot.with_required_anti_affinity {
        let Some(node) = snapshot.nodes.get(i) else {
            continue;
        };
        per_node.clear();
        for g in s.terms(i) {
            if g.kind != TermKind::RequiredAntiAffinity {
                continue;
            }
            let t = s.term(g.term);
            if answers.get(g.term, || t.matches(pod, namespace_labels)) {
                tally(&mut per_node, &t.topology_key, i64::from(g.count));
            }
        }
        for &(key, n) in &per_node {
            counts.add_on_node(key, &node.labels, n);
        }
    }
    counts
}

/// Existing pods that match the incoming pod's required affinity (all terms) and each of
/// its anti-affinity terms, per pair; each distinct label set is matched once.
fn incoming_counts(
    affinity: &[AffinityTerm],
    anti_affinity: &[AffinityTerm],
    snapshot: &Snapshot,
    s: &mut NodeSummaries,
) -> (TopologyCounts, TopologyCounts) {
    let mut affinity_counts = TopologyCounts::default();
    let mut anti_counts = TopologyCounts::default();
    if affinity.is_empty() && anti_affinity.is_empty() {
        return (affinity_counts, anti_counts);
    }
    let keys: Vec<usize> = affinity
        .iter()
        .chain(anti_affinity)
        .map(|t| s.key(&t.topology_key))
        .collect();
    let s = &*s;
    let mut all_answers = Answers::new(s.label_set_capacity());
    let mut anti_answers: Vec<Answers> = anti_affinity
        .iter()
        .map(|_| Answers::new(s.label_set_capacity()))
        .collect();
    let mut anti_per_term = vec![0i64; anti_affinity.len()];
    for (i, node) in snapshot.nodes.iter().enumerate() {
        // A node without any of the topology keys contributes nothing.
        if keys.iter().all(|&k| s.domain_ids(k)[i] == NO_DOMAIN) {
            continue;
        }
        let mut matching_all = 0i64;
        anti_per_term.iter_mut().for_each(|n| *n = 0);
        for g in s.groups(i) {
            let p = s.label_set(g.set);
            if !affinity.is_empty() && all_answers.get(g.set, || matches_all(affinity, p)) {
                matching_all += i64::from(g.all);
            }
            for (j, t) in anti_affinity.iter().enumerate() {
                if anti_answers[j].get(g.set, || t.matches(p, None)) {
                    anti_per_term[j] += i64::from(g.all);
                }
            }
        }
        if matching_all > 0 {
            for t in affinity {
                affinity_counts.add_on_node(&t.topology_key, &node.labels, matching_all);
            }
        }
        for (j, t) in anti_affinity.iter().enumerate() {
            anti_counts.add_on_node(&t.topology_key, &node.labels, anti_per_term[j]);
        }
    }
    (affinity_counts, anti_counts)
}

// ---------------------------------------------------------------------------------------
// Scoring

/// Score per topology pair. Unlike [`TopologyCounts`], pairs stay once touched, even at zero
/// (upstream skips scoring only when no pair was touched at all).
#[derive(Clone, Debug, Default)]
struct ScoreMap {
    keys: Vec<(String, HashMap<String, i64>)>,
}

impl ScoreMap {
    fn add(&mut self, key: &str, value: &str, delta: i64) {
        let i = match self.keys.iter().position(|(k, _)| k == key) {
            Some(i) => i,
            None => {
                self.keys.push((key.to_owned(), HashMap::new()));
                self.keys.len() - 1
            }
        };
        let values = &mut self.keys[i].1;
        match values.get_mut(value) {
            Some(n) => *n += delta,
            None => {
                values.insert(value.to_owned(), delta);
            }
        }
    }

    /// The sum over the node's pairs.
    fn score(&self, labels: &Labels) -> i64 {
        self.keys
            .iter()
            .filter_map(|(key, values)| {
                labels
                    .get(key)
                    .and_then(|v| values.get(v.as_str()))
                    .copied()
            })
            .sum()
    }

    fn is_empty(&self) -> bool {
        self.keys.iter().all(|(_, v)| v.is_empty())
    }
}

/// What Score reads: the table, or `None` when scoring is skipped.
#[derive(Clone, Debug)]
struct PreScoreState(Option<Arc<ScoreMap>>);

/// The incoming pod's preferred terms, resolved, and what matching existing pods' terms
/// against it needs.
struct ScoreInput<'a> {
    pod: &'a PodInfo,
    preferred_affinity: Vec<WeightedAffinityTerm>,
    preferred_anti_affinity: Vec<WeightedAffinityTerm>,
    namespace_labels: Option<&'a Labels>,
}

impl InterPodAffinity {
    /// Whether the pod has preferred terms (upstream's `hasConstraints` in PreScore).
    fn has_preferred(pod: &PodInfo) -> bool {
        !pod.preferred_affinity.is_empty() || !pod.preferred_anti_affinity.is_empty()
    }

    /// Upstream's PreScore computation over the nodes at `indices` of `nodes` (all nodes
    /// when the pod has preferred terms, otherwise those with pods that have affinity
    /// terms), whose summaries `s` holds. `None`: skip scoring.
    fn score_map(
        &self,
        input: &ScoreInput<'_>,
        nodes: &[Arc<NodeInfo>],
        indices: impl Iterator<Item = usize>,
        s: &NodeSummaries,
    ) -> Option<ScoreMap> {
        let has_preferred = Self::has_preferred(input.pod);
        let hard = i64::from(self.args.hard_pod_affinity_weight);
        let mut preferred: Vec<(&AffinityTerm, i64, Answers)> = Vec::new();
        for w in &input.preferred_affinity {
            preferred.push((
                &w.term,
                i64::from(w.weight),
                Answers::new(s.label_set_capacity()),
            ));
        }
        for w in &input.preferred_anti_affinity {
            preferred.push((
                &w.term,
                -i64::from(w.weight),
                Answers::new(s.label_set_capacity()),
            ));
        }
        let mut existing_answers = Answers::new(s.term_capacity());
        let mut map = ScoreMap::default();
        let mut acc: Vec<(&str, i64)> = Vec::new();
        for i in indices {
            let Some(node) = nodes.get(i) else { continue };
            if node.labels.is_empty() {
                continue;
            }
            acc.clear();
            if has_preferred {
                // The incoming pod's preferred terms against every pod (namespaces resolved).
                for g in s.groups(i) {
                    let p = s.label_set(g.set);
                    for (t, weight, answers) in preferred.iter_mut() {
                        if answers.get(g.set, || t.matches(p, None)) {
                            tally(&mut acc, &t.topology_key, *weight * i64::from(g.all));
                        }
                    }
                }
            }
            // The existing pods' terms against the incoming pod (symmetry).
            for g in s.terms(i) {
                let weight = match g.kind {
                    TermKind::RequiredAffinity if hard > 0 => hard,
                    TermKind::PreferredAffinity => i64::from(g.weight),
                    TermKind::PreferredAntiAffinity => -i64::from(g.weight),
                    TermKind::RequiredAffinity | TermKind::RequiredAntiAffinity => continue,
                };
                let t = s.term(g.term);
                if existing_answers.get(g.term, || t.matches(input.pod, input.namespace_labels)) {
                    tally(&mut acc, &t.topology_key, weight * i64::from(g.count));
                }
            }
            for &(key, n) in &acc {
                if let Some(value) = node.labels.get(key) {
                    map.add(key, value, n);
                }
            }
        }
        (!map.is_empty()).then_some(map)
    }

    fn score_input<'a>(
        pod: &'a PodInfo,
        objects: &Objects,
        namespace_labels: Option<&'a Labels>,
    ) -> ScoreInput<'a> {
        ScoreInput {
            pod,
            preferred_affinity: resolve_weighted(&pod.preferred_affinity, objects),
            preferred_anti_affinity: resolve_weighted(&pod.preferred_anti_affinity, objects),
            namespace_labels,
        }
    }

    /// The score table over `nodes` (all nodes of the cluster, or what PreScore was given
    /// when PreFilter did not run), as PreScore computes it.
    fn pre_score_state(
        &self,
        pod: &PodInfo,
        objects: &Objects,
        nodes: &[Arc<NodeInfo>],
        with_affinity: &[usize],
        s: &NodeSummaries,
    ) -> PreScoreState {
        let has_preferred = Self::has_preferred(pod);
        if self.args.ignore_preferred_terms_of_existing_pods && !has_preferred {
            return PreScoreState(None);
        }
        let input = Self::score_input(pod, objects, objects.namespace_labels.get(&pod.namespace));
        let map = if has_preferred {
            self.score_map(&input, nodes, 0..nodes.len(), s)
        } else {
            self.score_map(&input, nodes, with_affinity.iter().copied(), s)
        };
        PreScoreState(map.map(Arc::new))
    }
}

// ---------------------------------------------------------------------------------------
// Extension points

impl Plugin for InterPodAffinity {
    fn name(&self) -> &'static str {
        NAME
    }

    fn events(&self) -> Vec<ClusterEvent> {
        vec![
            // A pod added may satisfy affinity; one deleted or relabelled may stop an
            // anti-affinity conflict.
            ClusterEvent::new(
                EventResource::Pod,
                action::ADD | action::UPDATE_POD_LABEL | action::DELETE,
            ),
            // A node gaining a topology label may satisfy the terms; taint updates stand in
            // for nodes that become ready (as upstream).
            ClusterEvent::new(
                EventResource::Node,
                action::ADD | action::UPDATE_NODE_LABEL | action::UPDATE_NODE_TAINT,
            ),
        ]
    }
}

impl PreFilterPlugin for InterPodAffinity {
    fn pre_filter(
        &self,
        state: &mut CycleState,
        pod: &PodInfo,
        snapshot: &Snapshot,
    ) -> (PreFilterResult, Status) {
        if let Some(e) = &pod.parse_error {
            return (None, Status::unresolvable(format!("parsing pod: {e}")));
        }
        let namespace_labels = snapshot.namespace_labels(&pod.namespace);
        let affinity = resolve_all(&pod.required_affinity, &snapshot.objects);
        let anti_affinity = resolve_all(&pod.required_anti_affinity, &snapshot.objects);
        let mut summaries = self.summaries.lock().unwrap_or_else(|e| e.into_inner());
        summaries.refresh(&snapshot.nodes);
        let (affinity_counts, anti_counts) =
            incoming_counts(&affinity, &anti_affinity, snapshot, &mut summaries);
        let existing_anti_affinity =
            existing_anti_affinity_counts(pod, namespace_labels, snapshot, &summaries);
        // PreScore only sees the feasible nodes; the table needs all of them.
        let score = self.pre_score_state(
            pod,
            &snapshot.objects,
            &snapshot.nodes,
            &snapshot.with_affinity,
            &summaries,
        );
        drop(summaries);
        let skip =
            existing_anti_affinity.is_empty() && affinity.is_empty() && anti_affinity.is_empty();
        let self_match = matches_all(&affinity, pod);
        state.write(
            PRE_FILTER_STATE_KEY,
            PreFilterState {
                existing_anti_affinity,
                affinity: affinity_counts,
                anti_affinity: anti_counts,
                terms: Arc::new(IncomingTerms {
                    affinity,
                    anti_affinity,
                    namespace_labels: namespace_labels.cloned(),
                    self_match,
                }),
            },
        );
        state.write(PRE_SCORE_STATE_KEY, score);
        if skip {
            return (None, Status::skip());
        }
        (None, Status::success())
    }

    fn add_pod(
        &self,
        state: &mut CycleState,
        pod: &PodInfo,
        added: &PodInfo,
        node: &NodeInfo,
    ) -> Status {
        match state.read_mut::<PreFilterState>(PRE_FILTER_STATE_KEY) {
            Some(s) => {
                s.update(pod, added, node, 1);
                Status::success()
            }
            None => missing(PRE_FILTER_STATE_KEY),
        }
    }

    fn remove_pod(
        &self,
        state: &mut CycleState,
        pod: &PodInfo,
        removed: &PodInfo,
        node: &NodeInfo,
    ) -> Status {
        match state.read_mut::<PreFilterState>(PRE_FILTER_STATE_KEY) {
            Some(s) => {
                s.update(pod, removed, node, -1);
                Status::success()
            }
            None => missing(PRE_FILTER_STATE_KEY),
        }
    }
}

fn missing(key: &str) -> Status {
    Status::error(format!("reading {key:?} from cycleState: not found"))
}

impl FilterPlugin for InterPodAffinity {
    fn filter(&self, state: &CycleState, _pod: &PodInfo, node: &NodeInfo) -> Status {
        let Some(s) = state.read::<PreFilterState>(PRE_FILTER_STATE_KEY) else {
            return missing(PRE_FILTER_STATE_KEY);
        };
        if !s.satisfies_affinity(node) {
            return Status::unresolvable(ERR_REASON_AFFINITY_RULES_NOT_MATCH);
        }
        if !s.satisfies_anti_affinity(node) {
            return Status::unschedulable(ERR_REASON_ANTI_AFFINITY_RULES_NOT_MATCH);
        }
        if !s.satisfies_existing_anti_affinity(node) {
            return Status::unschedulable(ERR_REASON_EXISTING_ANTI_AFFINITY_RULES_NOT_MATCH);
        }
        Status::success()
    }
}

impl PreScorePlugin for InterPodAffinity {
    fn pre_score(&self, state: &mut CycleState, pod: &PodInfo, nodes: &[Arc<NodeInfo>]) -> Status {
        if nodes.is_empty() {
            return Status::skip();
        }
        if state.read::<PreScoreState>(PRE_SCORE_STATE_KEY).is_none() {
            // PreFilter did not run: build the table from the nodes at hand.
            let mut s = NodeSummaries::new();
            s.refresh(nodes);
            let with_affinity: Vec<usize> = (0..nodes.len())
                .filter(|&i| !nodes[i].pods_with_affinity.is_empty())
                .collect();
            let computed =
                self.pre_score_state(pod, &Objects::default(), nodes, &with_affinity, &s);
            state.write(PRE_SCORE_STATE_KEY, computed);
        }
        match state.read::<PreScoreState>(PRE_SCORE_STATE_KEY) {
            Some(PreScoreState(Some(_))) => Status::success(),
            _ => Status::skip(),
        }
    }
}

impl ScorePlugin for InterPodAffinity {
    fn score(&self, state: &CycleState, _pod: &PodInfo, node: &NodeInfo) -> (i64, Status) {
        match state.read::<PreScoreState>(PRE_SCORE_STATE_KEY) {
            Some(PreScoreState(Some(map))) => (map.score(&node.labels), Status::success()),
            Some(PreScoreState(None)) => (0, Status::success()),
            None => (0, missing(PRE_SCORE_STATE_KEY)),
        }
    }

    /// Min-max scaling to `0..=100` (all zero when every node scored the same).
    fn normalize(&self, state: &CycleState, _pod: &PodInfo, scores: &mut [NodeScore]) -> Status {
        let Some(s) = state.read::<PreScoreState>(PRE_SCORE_STATE_KEY) else {
            return missing(PRE_SCORE_STATE_KEY);
        };
        if s.0.is_none() {
            return Status::success();
        }
        let min = scores.iter().map(|s| s.score).min().unwrap_or(0);
        let max = scores.iter().map(|s| s.score).max().unwrap_or(0);
        let diff = max - min;
        for s in scores.iter_mut() {
            let f = if diff > 0 {
                MAX_NODE_SCORE as f64 * ((s.score - min) as f64 / diff as f64)
            } else {
                0.0
            };
            s.score = f as i64;
        }
        Status::success()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::framework::Code;
    use crate::plugins::testing::{
        HOSTNAME, NodeBuilder, ZONE, match_labels, node, pod, run_filter, score_nodes,
        score_with_state, snapshot_with, term,
    };
    use k8s_openapi::api::core::v1::PodAffinityTerm;
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelector;

    fn plugin() -> PluginSet {
        new(None).unwrap()
    }

    fn app(v: &str) -> LabelSelector {
        match_labels(&[("app", v)])
    }

    fn with_ns_selector(mut t: PodAffinityTerm, sel: LabelSelector) -> PodAffinityTerm {
        t.namespace_selector = Some(sel);
        t
    }

    /// A Filter result in short: `""` success, `"!A"` affinity (unresolvable), `"N"` the
    /// pod's anti-affinity, `"E"` existing pods' anti-affinity (both unschedulable).
    fn brief(s: &Status) -> &'static str {
        match (s.code, s.reasons.first().map(String::as_str)) {
            (Code::Success, _) => "",
            (Code::UnschedulableAndUnresolvable, Some(ERR_REASON_AFFINITY_RULES_NOT_MATCH)) => "!A",
            (Code::Unschedulable, Some(ERR_REASON_ANTI_AFFINITY_RULES_NOT_MATCH)) => "N",
            (Code::Unschedulable, Some(ERR_REASON_EXISTING_ANTI_AFFINITY_RULES_NOT_MATCH)) => "E",
            _ => panic!("unexpected status {s:?}"),
        }
    }

    /// A Filter case: name, incoming pod, existing pods, results on n1..n4.
    type FilterCase = (
        &'static str,
        Arc<PodInfo>,
        Vec<Arc<PodInfo>>,
        [&'static str; 4],
    );
    /// A Score case: name, incoming pod, existing pods, feasible nodes, normalized scores.
    type ScoreCase = (
        &'static str,
        Arc<PodInfo>,
        Vec<Arc<PodInfo>>,
        &'static [&'static str],
        Option<Vec<i64>>,
    );

    /// n1 and n2 in zone z1, n3 in z2, n4 without a zone label.
    fn four_nodes() -> Vec<NodeBuilder> {
        vec![
            node("n1").zone("z1"),
            node("n2").zone("z1"),
            node("n3").zone("z2"),
            node("n4"),
        ]
    }

    const NAMESPACES: &[(&str, &[(&str, &str)])] = &[
        ("default", &[]),
        ("a", &[("team", "a")]),
        ("b", &[("team", "b")]),
        ("prod1", &[("env", "prod")]),
    ];

    #[test]
    fn filter() {
        let cases: Vec<FilterCase> = vec![
            (
                "no terms anywhere",
                pod("p").label("app", "web").info(),
                vec![pod("e").label("app", "web").node_name("n1").info()],
                ["", "", "", ""],
            ),
            (
                "required affinity holds in the zone of a matching pod",
                pod("p").required_affinity(term(app("db"), ZONE)).info(),
                vec![pod("db").label("app", "db").node_name("n1").info()],
                ["", "", "!A", "!A"],
            ),
            (
                "affinity terms must all be matched by one pod",
                pod("p")
                    .required_affinity(term(app("db"), ZONE))
                    .required_affinity(term(match_labels(&[("tier", "x")]), HOSTNAME))
                    .info(),
                vec![
                    pod("db").label("app", "db").node_name("n1").info(),
                    pod("x").label("tier", "x").node_name("n3").info(),
                ],
                ["!A", "!A", "!A", "!A"],
            ),
            (
                "the first pod of a group matching its own terms goes anywhere with the key",
                pod("p")
                    .label("app", "db")
                    .required_affinity(term(app("db"), ZONE))
                    .info(),
                vec![pod("other").label("app", "web").node_name("n1").info()],
                ["", "", "", "!A"],
            ),
            (
                "no first-pod exception when the pod does not match its own terms",
                pod("p").required_affinity(term(app("db"), ZONE)).info(),
                vec![],
                ["!A", "!A", "!A", "!A"],
            ),
            (
                "no first-pod exception once a matching pod exists elsewhere",
                pod("p")
                    .label("app", "db")
                    .required_affinity(term(app("db"), ZONE))
                    .info(),
                vec![pod("db").label("app", "db").node_name("n3").info()],
                ["!A", "!A", "", "!A"],
            ),
            (
                "required anti-affinity by hostname",
                pod("p")
                    .required_anti_affinity(term(app("web"), HOSTNAME))
                    .info(),
                vec![pod("w").label("app", "web").node_name("n1").info()],
                ["N", "", "", ""],
            ),
            (
                "required anti-affinity by zone; a node without the key is fine",
                pod("p")
                    .required_anti_affinity(term(app("web"), ZONE))
                    .info(),
                vec![pod("w").label("app", "web").node_name("n2").info()],
                ["N", "N", "", ""],
            ),
            (
                "terms only look at the pod's own namespace by default",
                pod("p")
                    .required_anti_affinity(term(app("web"), HOSTNAME))
                    .info(),
                vec![pod("w").ns("a").label("app", "web").node_name("n1").info()],
                ["", "", "", ""],
            ),
            (
                "an existing pod's anti-affinity rejects the pod in its zone (symmetry)",
                pod("p").label("app", "web").info(),
                vec![
                    pod("e")
                        .required_anti_affinity(term(app("web"), ZONE))
                        .node_name("n1")
                        .info(),
                ],
                ["E", "E", "", ""],
            ),
            (
                "an existing pod's namespace selector matching the pod's namespace",
                pod("p").ns("a").label("app", "web").info(),
                vec![
                    pod("e")
                        .ns("b")
                        .required_anti_affinity(with_ns_selector(
                            term(app("web"), HOSTNAME),
                            match_labels(&[("team", "a")]),
                        ))
                        .node_name("n3")
                        .info(),
                ],
                ["", "", "E", ""],
            ),
            (
                "an existing pod's namespace selector not matching the pod's namespace",
                pod("p").ns("b").label("app", "web").info(),
                vec![
                    pod("e")
                        .ns("b")
                        .required_anti_affinity(with_ns_selector(
                            term(app("web"), HOSTNAME),
                            match_labels(&[("team", "a")]),
                        ))
                        .node_name("n3")
                        .info(),
                ],
                ["", "", "", ""],
            ),
            (
                "the pod's affinity with a namespace selector",
                pod("p")
                    .required_affinity(with_ns_selector(
                        term(app("db"), HOSTNAME),
                        match_labels(&[("env", "prod")]),
                    ))
                    .info(),
                vec![
                    pod("db1")
                        .ns("prod1")
                        .label("app", "db")
                        .node_name("n2")
                        .info(),
                    pod("db2").ns("a").label("app", "db").node_name("n3").info(),
                ],
                ["!A", "", "!A", "!A"],
            ),
            (
                "an empty namespace selector selects every namespace",
                pod("p")
                    .required_anti_affinity(with_ns_selector(
                        term(app("web"), HOSTNAME),
                        LabelSelector::default(),
                    ))
                    .info(),
                vec![pod("w").ns("b").label("app", "web").node_name("n4").info()],
                ["", "", "", "N"],
            ),
            (
                "affinity is checked before anti-affinity",
                pod("p")
                    .required_affinity(term(app("db"), ZONE))
                    .required_anti_affinity(term(app("web"), HOSTNAME))
                    .info(),
                vec![
                    pod("db").label("app", "db").node_name("n1").info(),
                    pod("w").label("app", "web").node_name("n1").info(),
                    pod("w2").label("app", "web").node_name("n3").info(),
                ],
                ["N", "", "!A", "!A"],
            ),
        ];
        let set = plugin();
        for (name, incoming, existing, want) in cases {
            let snap = snapshot_with(four_nodes(), &existing, NAMESPACES);
            let run = run_filter(&set, &incoming, &snap);
            let got: Vec<&str> = run.filter.iter().map(brief).collect();
            assert_eq!(got, want, "{name}");
        }
    }

    #[test]
    fn pre_filter_skips_when_nothing_can_reject() {
        let set = plugin();
        let snap = snapshot_with(
            four_nodes(),
            &[pod("e")
                .required_anti_affinity(term(app("web"), ZONE))
                .node_name("n1")
                .info()],
            NAMESPACES,
        );
        let run = run_filter(&set, &pod("p").label("app", "db").info(), &snap);
        assert_eq!(run.pre_filter.code, Code::Skip);
        let run = run_filter(&set, &pod("p").label("app", "web").info(), &snap);
        assert_eq!(run.pre_filter.code, Code::Success);
    }

    #[test]
    fn parse_errors_are_unresolvable() {
        let bad = LabelSelector {
            match_expressions: Some(vec![
                k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelectorRequirement {
                    key: "app".into(),
                    operator: "Bogus".into(),
                    values: None,
                },
            ]),
            ..Default::default()
        };
        let set = plugin();
        let snap = snapshot_with(four_nodes(), &[], NAMESPACES);
        let run = run_filter(
            &set,
            &pod("p").required_affinity(term(bad, ZONE)).info(),
            &snap,
        );
        assert_eq!(run.pre_filter.code, Code::UnschedulableAndUnresolvable);
        assert!(run.pre_filter.reasons[0].starts_with("parsing pod: "));
    }

    #[test]
    fn assumed_pods_count_like_bound_ones() {
        // An assumed pod is in its NodeInfo before the API server knows it is bound; the
        // snapshot is all the plugin sees.
        let set = plugin();
        let mut infos: Vec<NodeInfo> = four_nodes()
            .into_iter()
            .map(|n| NodeInfo::new(Arc::new(n.obj())))
            .collect();
        let assumed = pod("assumed")
            .label("app", "web")
            .required_anti_affinity(term(app("web"), HOSTNAME))
            .node_name("n2")
            .info();
        infos[1].add_pod(assumed);
        let snap = Snapshot::new(
            infos.into_iter().map(Arc::new).collect(),
            Default::default(),
        );
        let incoming = pod("p")
            .label("app", "web")
            .required_anti_affinity(term(app("web"), HOSTNAME))
            .info();
        let run = run_filter(&set, &incoming, &snap);
        // Both directions reject n2; the pod's own term is checked first.
        assert_eq!(
            run.filter.iter().map(brief).collect::<Vec<_>>(),
            ["", "N", "", ""]
        );
        let plain = pod("q").label("app", "web").info();
        let run = run_filter(&set, &plain, &snap);
        assert_eq!(
            run.filter.iter().map(brief).collect::<Vec<_>>(),
            ["", "E", "", ""]
        );
    }

    #[test]
    fn add_and_remove_pod() {
        let set = plugin();
        let pre = set.pre_filter.clone().unwrap();
        let filter = set.filter.clone().unwrap();
        let victim = pod("victim")
            .label("app", "web")
            .required_anti_affinity(term(app("db"), ZONE))
            .node_name("n1")
            .info();
        let db = pod("db").label("app", "db").node_name("n3").info();
        let snap = snapshot_with(four_nodes(), &[victim.clone(), db.clone()], NAMESPACES);
        let n1 = snap.get("n1").unwrap().clone();
        let n3 = snap.get("n3").unwrap().clone();
        let incoming = pod("p")
            .label("app", "db")
            .required_affinity(term(app("db"), ZONE))
            .required_anti_affinity(term(app("web"), HOSTNAME))
            .info();
        let mut state = CycleState::default();
        let (_, st) = pre.pre_filter(&mut state, &incoming, &snap);
        assert!(st.is_success());
        let briefs = |state: &CycleState| -> Vec<&'static str> {
            snap.nodes
                .iter()
                .map(|n| brief(&filter.filter(state, &incoming, n)))
                .collect()
        };
        assert_eq!(briefs(&state), ["!A", "!A", "", "!A"]);

        // Preemption's what-if on a copy: without the db pod, the pod is the first of its
        // group again, and without the victim nothing rejects n1.
        let mut what_if = state.clone();
        assert!(
            pre.remove_pod(&mut what_if, &incoming, &db, &n3)
                .is_success()
        );
        assert_eq!(briefs(&what_if), ["N", "E", "", "!A"]);
        assert!(
            pre.remove_pod(&mut what_if, &incoming, &victim, &n1)
                .is_success()
        );
        assert_eq!(briefs(&what_if), ["", "", "", "!A"]);
        assert!(
            pre.add_pod(&mut what_if, &incoming, &victim, &n1)
                .is_success()
        );
        assert_eq!(briefs(&what_if), ["N", "E", "", "!A"]);
        // The original state is untouched.
        assert_eq!(briefs(&state), ["!A", "!A", "", "!A"]);

        // Adding a pod matching the anti-affinity term on n3.
        let web = pod("web2").label("app", "web").node_name("n3").info();
        assert!(pre.add_pod(&mut state, &incoming, &web, &n3).is_success());
        assert_eq!(briefs(&state), ["!A", "!A", "N", "!A"]);
        assert!(
            pre.remove_pod(&mut state, &incoming, &web, &n3)
                .is_success()
        );
        assert_eq!(briefs(&state), ["!A", "!A", "", "!A"]);

        // Without PreFilter there is nothing to update.
        let mut empty = CycleState::default();
        assert_eq!(
            pre.add_pod(&mut empty, &incoming, &web, &n3).code,
            Code::Error
        );
    }

    fn scores(
        set: &PluginSet,
        incoming: &PodInfo,
        existing: &[Arc<PodInfo>],
        feasible: &[&str],
    ) -> Option<Vec<i64>> {
        let nodes = vec![
            node("n1").zone("z1"),
            node("n2").zone("z1"),
            node("n3").zone("z2"),
            node("n4").zone("z3"),
        ];
        let snap = snapshot_with(nodes, existing, NAMESPACES);
        score_nodes(set, incoming, &snap, feasible).map(|v| v.into_iter().map(|(_, s)| s).collect())
    }

    #[test]
    fn score() {
        let all: &'static [&str] = &["n1", "n2", "n3", "n4"];
        let set = plugin();
        let db_z1 = pod("db").label("app", "db").node_name("n1").info();
        let web_z2 = pod("web").label("app", "web").node_name("n3").info();
        let cases: Vec<ScoreCase> = vec![
            (
                "no terms anywhere: skipped",
                pod("p").info(),
                vec![db_z1.clone()],
                all,
                None,
            ),
            (
                "preferred affinity favours the zone of matching pods",
                pod("p").preferred_affinity(5, term(app("db"), ZONE)).info(),
                vec![db_z1.clone(), web_z2.clone()],
                all,
                Some(vec![100, 100, 0, 0]),
            ),
            (
                "preferred anti-affinity avoids it",
                pod("p")
                    .preferred_anti_affinity(5, term(app("db"), ZONE))
                    .info(),
                vec![db_z1.clone(), web_z2.clone()],
                all,
                Some(vec![0, 0, 100, 100]),
            ),
            (
                "weights add up and are scaled between the lowest and highest",
                pod("p")
                    .preferred_affinity(8, term(app("db"), ZONE))
                    .preferred_affinity(2, term(app("web"), HOSTNAME))
                    .preferred_anti_affinity(4, term(app("web"), ZONE))
                    .info(),
                vec![db_z1.clone(), web_z2.clone()],
                all,
                // z1: +8 on n1 and n2; n3: +2 - 4; n4: 0 → 8, 8, -2, 0.
                Some(vec![100, 100, 0, 20]),
            ),
            (
                "pods on infeasible nodes still count for their domain",
                pod("p").preferred_affinity(5, term(app("db"), ZONE)).info(),
                vec![db_z1.clone()],
                &["n2", "n3"],
                Some(vec![100, 0]),
            ),
            (
                "an existing pod's preferred affinity to the pod (symmetry)",
                pod("p").label("app", "web").info(),
                vec![
                    pod("e")
                        .preferred_affinity(7, term(app("web"), ZONE))
                        .node_name("n3")
                        .info(),
                ],
                all,
                Some(vec![0, 0, 100, 0]),
            ),
            (
                "an existing pod's preferred anti-affinity to the pod",
                pod("p").label("app", "web").info(),
                vec![
                    pod("e")
                        .preferred_anti_affinity(7, term(app("web"), ZONE))
                        .node_name("n3")
                        .info(),
                ],
                all,
                Some(vec![100, 100, 0, 100]),
            ),
            (
                "an existing pod's required affinity counts with the hard weight",
                pod("p").label("app", "web").info(),
                vec![
                    pod("e")
                        .label("app", "web")
                        .required_affinity(term(app("web"), HOSTNAME))
                        .node_name("n4")
                        .info(),
                ],
                all,
                Some(vec![0, 0, 0, 100]),
            ),
            (
                "existing pods' terms with a namespace selector use the pod's namespace labels",
                pod("p").ns("a").label("app", "web").info(),
                vec![
                    pod("e")
                        .ns("b")
                        .preferred_affinity(
                            3,
                            with_ns_selector(
                                term(app("web"), ZONE),
                                match_labels(&[("team", "a")]),
                            ),
                        )
                        .node_name("n1")
                        .info(),
                    pod("f")
                        .ns("b")
                        .preferred_affinity(
                            3,
                            with_ns_selector(
                                term(app("web"), ZONE),
                                match_labels(&[("team", "b")]),
                            ),
                        )
                        .node_name("n3")
                        .info(),
                ],
                all,
                Some(vec![100, 100, 0, 0]),
            ),
            (
                "the pod's preferred term with a namespace selector",
                pod("p")
                    .preferred_affinity(
                        3,
                        with_ns_selector(
                            term(app("db"), HOSTNAME),
                            match_labels(&[("env", "prod")]),
                        ),
                    )
                    .info(),
                vec![
                    pod("db1")
                        .ns("prod1")
                        .label("app", "db")
                        .node_name("n2")
                        .info(),
                    pod("db2").ns("a").label("app", "db").node_name("n3").info(),
                ],
                all,
                Some(vec![0, 100, 0, 0]),
            ),
            (
                "everything scores the same: all zero",
                pod("p").preferred_affinity(5, term(app("db"), ZONE)).info(),
                vec![db_z1.clone()],
                &["n1", "n2"],
                Some(vec![0, 0]),
            ),
        ];
        for (name, incoming, existing, feasible, want) in cases {
            assert_eq!(scores(&set, &incoming, &existing, feasible), want, "{name}");
        }
    }

    #[test]
    fn score_args() {
        let existing_required = vec![
            pod("e")
                .required_affinity(term(app("web"), HOSTNAME))
                .node_name("n4")
                .info(),
        ];
        let incoming = pod("p").label("app", "web").info();
        let all = ["n1", "n2", "n3", "n4"];

        let heavy = new(Some(&serde_json::json!({"hardPodAffinityWeight": 100}))).unwrap();
        assert_eq!(
            scores(&heavy, &incoming, &existing_required, &all),
            Some(vec![0, 0, 0, 100])
        );
        let off = new(Some(&serde_json::json!({"hardPodAffinityWeight": 0}))).unwrap();
        assert_eq!(scores(&off, &incoming, &existing_required, &all), None);

        let existing_preferred = vec![
            pod("e")
                .preferred_affinity(5, term(app("web"), HOSTNAME))
                .node_name("n4")
                .info(),
        ];
        let ignore = new(Some(&serde_json::json!({
            "apiVersion": "kubescheduler.config.k8s.io/v1",
            "kind": "InterPodAffinityArgs",
            "ignorePreferredTermsOfExistingPods": true,
        })))
        .unwrap();
        assert_eq!(scores(&ignore, &incoming, &existing_preferred, &all), None);
        // With its own preferred terms the pod is scored, existing pods' terms included.
        let with_terms = pod("p")
            .label("app", "web")
            .preferred_affinity(1, term(app("nothing"), ZONE))
            .info();
        assert_eq!(
            scores(&ignore, &with_terms, &existing_preferred, &all),
            Some(vec![0, 0, 0, 100])
        );
    }

    #[test]
    fn pre_score_without_pre_filter_uses_the_given_nodes() {
        let set = plugin();
        let snap = snapshot_with(
            four_nodes(),
            &[pod("db").label("app", "db").node_name("n1").info()],
            NAMESPACES,
        );
        let incoming = pod("p").preferred_affinity(5, term(app("db"), ZONE)).info();
        let mut state = CycleState::default();
        let got = score_with_state(&set, &mut state, &incoming, &snap, &["n1", "n2", "n3"]);
        assert_eq!(
            got.unwrap().into_iter().map(|(_, s)| s).collect::<Vec<_>>(),
            [100, 100, 0]
        );
        let mut state = CycleState::default();
        assert_eq!(
            score_with_state(&set, &mut state, &incoming, &snap, &[]),
            None
        );
    }

    #[test]
    fn args() {
        let bad = new(Some(&serde_json::json!({"hardPodAffinityWeight": 101})));
        assert_eq!(
            bad.err().unwrap(),
            "hardPodAffinityWeight: Invalid value: 101: not in valid range [0-100]"
        );
        assert!(new(Some(&serde_json::json!({"hardPodAffinityWeigth": 1}))).is_err());
        assert_eq!(InterPodAffinityArgs::default().hard_pod_affinity_weight, 1);
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
        assert!(wanted(EventResource::Node, action::UPDATE_NODE_LABEL));
        assert!(!wanted(
            EventResource::Node,
            action::UPDATE_NODE_ALLOCATABLE
        ));
        assert!(set.pre_filter.is_some() && set.filter.is_some());
        assert!(set.pre_score.is_some() && set.score.is_some());
    }
}

/// Timing of the `skiff bench scheduler` anti-affinity scenario (plugin calls only); run
/// with `cargo test --release -p skiff-scheduler -- --ignored --nocapture throughput`.
#[cfg(test)]
mod throughput {
    use super::*;
    use crate::plugins::testing::{
        HOSTNAME, match_labels, node, pod, snapshot_with, term, throughput,
    };

    #[test]
    #[ignore]
    fn throughput_required_anti_affinity_500_nodes_5000_pods() {
        let nodes = (0..500)
            .map(|i| node(&format!("node-{i}")).zone(&format!("zone-{}", i % 3)))
            .collect();
        let mut snap = snapshot_with(nodes, &[], &[]);
        let set = new(None).unwrap();
        // 20 groups, interleaved; pods of a group never share a node.
        let pods = (0..5000).map(|i| {
            let g = format!("g{}", i % 20);
            pod(&format!("p-{i}"))
                .label("app", "bench")
                .label("group", &g)
                .required_anti_affinity(term(match_labels(&[("group", &g)]), HOSTNAME))
                .obj()
        });
        let (rate, failed) = throughput(&set, &mut snap, pods);
        println!(
            "InterPodAffinity, required anti-affinity, 500 nodes, 5000 pods: {rate:.0} pods/s"
        );
        assert_eq!(failed, 0);
    }
}
