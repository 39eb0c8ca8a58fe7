//! NodeAffinity (upstream's `nodeaffinity` plugin): Filter enforces `spec.nodeSelector`, the
//! required node affinity terms and the scheduler-enforced `addedAffinity`; PreFilter narrows
//! the nodes when every term pins `metadata.name`; Score sums the weights of the preferred
//! terms (the pod's and the added ones) a node matches, normalized to 0-100.
//!
//! [`NodeSelector`] is the runtime form of a `v1.NodeSelector` (upstream's
//! `component-helpers/scheduling/corev1/nodeaffinity`), also used for PersistentVolume node
//! affinity.

use crate::framework::{
    ClusterEvent, CycleState, EventResource, FilterPlugin, Labels, MAX_NODE_SCORE, NodeInfo,
    NodeScore, Plugin, PluginSet, PodInfo, PreFilterPlugin, PreFilterResult, PreScorePlugin,
    ScorePlugin, Snapshot, Status, action, default_normalize,
};
use crate::plugin_set;
use crate::plugins::{decode_args, names};
use k8s_openapi::api::core::v1::{
    NodeAffinity as ApiNodeAffinity, NodeSelector as ApiNodeSelector, NodeSelectorRequirement,
    NodeSelectorTerm, PreferredSchedulingTerm,
};
use serde::Deserialize;
use serde_json::Value;
use skiff_core::labels::{Operator, Requirement, go_quote};
use std::collections::{BTreeMap, HashSet};
use std::sync::Arc;

/// The Filter reason when the pod's node selector or required node affinity does not match.
pub const ERR_REASON_POD: &str = "node(s) didn't match Pod's node affinity/selector";
/// The Filter reason when the scheduler-enforced `addedAffinity` does not match.
pub const ERR_REASON_ENFORCED: &str = "node(s) didn't match scheduler-enforced node affinity";
/// The PreFilter reason when every term pins `metadata.name` and no name is left.
pub const ERR_REASON_CONFLICT: &str = "pod affinity terms conflict";
/// The field a `matchFields` requirement may select on.
pub const OBJECT_NAME_FIELD: &str = "metadata.name";

const PRE_FILTER_KEY: &str = "PreFilterNodeAffinity";
const PRE_SCORE_KEY: &str = "PreScoreNodeAffinity";

const LABEL_OPERATORS: &str = r#""In", "NotIn", "Exists", "DoesNotExist", "Gt", "Lt""#;
const FIELD_OPERATORS: &str = r#""In", "NotIn""#;

/// `utilerrors.NewAggregate(errs).Error()`.
fn aggregate(errs: &[String]) -> String {
    let mut unique: Vec<&String> = Vec::new();
    for e in errs {
        if !unique.contains(&e) {
            unique.push(e);
        }
    }
    match unique.as_slice() {
        [one] => (*one).clone(),
        many => format!(
            "[{}]",
            many.iter()
                .map(|s| s.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        ),
    }
}

/// `values` as Go's `%#v` prints a `[]string`.
fn go_strings(values: &[String]) -> String {
    let quoted: Vec<String> = values.iter().map(|v| go_quote(v)).collect();
    format!("[]string{{{}}}", quoted.join(", "))
}

/// A `matchFields` requirement: the field equals (or differs from) a value.
#[derive(Clone, Debug)]
struct FieldRequirement {
    key: String,
    value: String,
    equal: bool,
}

impl FieldRequirement {
    fn matches(&self, node_name: &str) -> bool {
        let current = if self.key == OBJECT_NAME_FIELD {
            node_name
        } else {
            ""
        };
        (current == self.value) == self.equal
    }
}

/// One parsed node selector term; a term that failed to parse matches nothing.
#[derive(Clone, Debug)]
struct Term {
    labels: Option<Vec<Requirement>>,
    fields: Option<Vec<FieldRequirement>>,
    errors: Vec<String>,
}

fn is_empty_term(t: &NodeSelectorTerm) -> bool {
    t.match_expressions.as_ref().is_none_or(Vec::is_empty)
        && t.match_fields.as_ref().is_none_or(Vec::is_empty)
}

fn label_requirement(r: &NodeSelectorRequirement, path: &str) -> Result<Requirement, String> {
    let op = match r.operator.as_str() {
        "In" => Operator::In,
        "NotIn" => Operator::NotIn,
        "Exists" => Operator::Exists,
        "DoesNotExist" => Operator::DoesNotExist,
        "Gt" => Operator::GreaterThan,
        "Lt" => Operator::LessThan,
        other => {
            return Err(format!(
                "{path}.operator: Unsupported value: {}: supported values: {LABEL_OPERATORS}",
                go_quote(other)
            ));
        }
    };
    Requirement::new(r.key.clone(), op, r.values.clone().unwrap_or_default()).map_err(|e| {
        let msg = e.message();
        if msg.starts_with('[') {
            format!("{path}: {msg}")
        } else {
            format!("{path}.{msg}")
        }
    })
}

fn field_requirement(r: &NodeSelectorRequirement, path: &str) -> Result<FieldRequirement, String> {
    let equal = match r.operator.as_str() {
        "In" => true,
        "NotIn" => false,
        other => {
            return Err(format!(
                "{path}.operator: Unsupported value: {}: supported values: {FIELD_OPERATORS}",
                go_quote(other)
            ));
        }
    };
    match r.values.as_deref().unwrap_or_default() {
        [value] => Ok(FieldRequirement {
            key: r.key.clone(),
            value: value.clone(),
            equal,
        }),
        values => Err(format!(
            "{path}.values: Invalid value: {}: must have one element",
            go_strings(values)
        )),
    }
}

impl Term {
    fn parse(t: &NodeSelectorTerm, path: &str) -> Term {
        let mut errors = Vec::new();
        let mut labels = None;
        let mut fields = None;
        if let Some(exprs) = t.match_expressions.as_ref().filter(|e| !e.is_empty()) {
            let mut reqs = Vec::with_capacity(exprs.len());
            for (i, r) in exprs.iter().enumerate() {
                match label_requirement(r, &format!("{path}.matchExpressions[{i}]")) {
                    Ok(r) => reqs.push(r),
                    Err(e) => errors.push(e),
                }
            }
            labels = Some(reqs);
        }
        if let Some(exprs) = t.match_fields.as_ref().filter(|e| !e.is_empty()) {
            let mut reqs = Vec::with_capacity(exprs.len());
            for (i, r) in exprs.iter().enumerate() {
                match field_requirement(r, &format!("{path}.matchFields[{i}]")) {
                    Ok(r) => reqs.push(r),
                    Err(e) => errors.push(e),
                }
            }
            fields = Some(reqs);
        }
        Term {
            labels,
            fields,
            errors,
        }
    }

    /// Whether the node matches (fields are only checked for a node with a name, as
    /// upstream, so PersistentVolume affinity, checked against labels alone, ignores them).
    fn matches(&self, labels: &Labels, node_name: &str) -> bool {
        if !self.errors.is_empty() {
            return false;
        }
        if let Some(reqs) = &self.labels
            && !reqs.iter().all(|r| r.matches(labels))
        {
            return false;
        }
        if let Some(reqs) = &self.fields
            && !node_name.is_empty()
            && !reqs.iter().all(|r| r.matches(node_name))
        {
            return false;
        }
        true
    }
}

/// A parsed `v1.NodeSelector`: its non-empty terms, ORed. Terms that fail to parse match
/// nothing (upstream's `LazyErrorNodeSelector`); [`NodeSelector::errors`] reports them.
#[derive(Clone, Debug)]
pub struct NodeSelector {
    terms: Vec<Term>,
}

impl NodeSelector {
    /// Parses a node selector; error messages start with `path` (e.g.
    /// `addedAffinity.requiredDuringSchedulingIgnoredDuringExecution`; empty for none).
    pub fn new(ns: &ApiNodeSelector, path: &str) -> NodeSelector {
        let prefix = if path.is_empty() {
            "nodeSelectorTerms".to_owned()
        } else {
            format!("{path}.nodeSelectorTerms")
        };
        NodeSelector {
            terms: ns
                .node_selector_terms
                .iter()
                .enumerate()
                .filter(|(_, t)| !is_empty_term(t))
                .map(|(i, t)| Term::parse(t, &format!("{prefix}[{i}]")))
                .collect(),
        }
    }

    /// Parses a node selector, failing on any invalid term (upstream's `NewNodeSelector`).
    pub fn parse(ns: &ApiNodeSelector, path: &str) -> Result<NodeSelector, String> {
        let s = NodeSelector::new(ns, path);
        let errors = s.errors();
        if errors.is_empty() {
            Ok(s)
        } else {
            Err(aggregate(&errors))
        }
    }

    /// Every parse error.
    pub fn errors(&self) -> Vec<String> {
        self.terms
            .iter()
            .flat_map(|t| t.errors.iter().cloned())
            .collect()
    }

    /// Whether a node with `labels` and `name` matches any term (an empty `name` skips the
    /// `matchFields` requirements).
    pub fn matches(&self, labels: &Labels, name: &str) -> bool {
        self.terms.iter().any(|t| t.matches(labels, name))
    }
}

/// Parsed preferred scheduling terms with their weights.
#[derive(Clone, Debug, Default)]
pub struct PreferredTerms {
    terms: Vec<(Term, i64)>,
}

impl PreferredTerms {
    /// Parses the terms, skipping those with weight 0 or no requirements; any parse error
    /// fails (upstream's `NewPreferredSchedulingTerms`).
    pub fn parse(terms: &[PreferredSchedulingTerm], path: &str) -> Result<PreferredTerms, String> {
        let mut parsed = Vec::with_capacity(terms.len());
        let mut errors = Vec::new();
        for (i, t) in terms.iter().enumerate() {
            if t.weight == 0 || is_empty_term(&t.preference) {
                continue;
            }
            let term = Term::parse(&t.preference, &format!("{path}[{i}]"));
            if term.errors.is_empty() {
                parsed.push((term, i64::from(t.weight)));
            } else {
                errors.extend(term.errors);
            }
        }
        if errors.is_empty() {
            Ok(PreferredTerms { terms: parsed })
        } else {
            Err(aggregate(&errors))
        }
    }

    /// The sum of the weights of the terms the node matches.
    pub fn score(&self, labels: &Labels, name: &str) -> i64 {
        self.terms
            .iter()
            .filter(|(t, _)| t.matches(labels, name))
            .map(|(_, w)| w)
            .sum()
    }
}

/// A pod's `spec.nodeSelector` and required node affinity, parsed (upstream's
/// `RequiredNodeAffinity`).
#[derive(Clone, Debug, Default)]
pub struct RequiredNodeAffinity {
    node_selector: Option<Vec<(String, String)>>,
    affinity: Option<NodeSelector>,
}

impl RequiredNodeAffinity {
    /// Parses the pod's constraints.
    pub fn of(pod: &PodInfo) -> RequiredNodeAffinity {
        let spec = pod.pod.spec.as_ref();
        RequiredNodeAffinity {
            node_selector: spec
                .and_then(|s| s.node_selector.as_ref())
                .filter(|m| !m.is_empty())
                .map(|m: &BTreeMap<String, String>| {
                    m.iter().map(|(k, v)| (k.clone(), v.clone())).collect()
                }),
            affinity: required_terms(pod).map(|ns| NodeSelector::new(ns, "")),
        }
    }

    /// Whether the node satisfies both (parse errors count as no match).
    pub fn matches(&self, node: &NodeInfo) -> bool {
        if let Some(sel) = &self.node_selector
            && !sel
                .iter()
                .all(|(k, v)| node.labels.get(k).is_some_and(|l| l == v))
        {
            return false;
        }
        match &self.affinity {
            Some(a) => a.matches(&node.labels, &node.name),
            None => true,
        }
    }
}

fn node_affinity(pod: &PodInfo) -> Option<&ApiNodeAffinity> {
    pod.pod
        .spec
        .as_ref()
        .and_then(|s| s.affinity.as_ref())
        .and_then(|a| a.node_affinity.as_ref())
}

fn required_terms(pod: &PodInfo) -> Option<&ApiNodeSelector> {
    node_affinity(pod).and_then(|n| {
        n.required_during_scheduling_ignored_during_execution
            .as_ref()
    })
}

/// NodeAffinity's args (`NodeAffinityArgs`).
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct Args {
    #[serde(default)]
    added_affinity: Option<ApiNodeAffinity>,
}

/// The NodeAffinity plugin.
#[derive(Clone, Debug, Default)]
pub struct NodeAffinity {
    added_required: Option<NodeSelector>,
    added_preferred: Option<PreferredTerms>,
}

impl NodeAffinity {
    /// The plugin with `addedAffinity` (upstream's `NodeAffinityArgs`).
    pub fn with_added_affinity(added: Option<&ApiNodeAffinity>) -> Result<NodeAffinity, String> {
        let mut pl = NodeAffinity::default();
        let Some(added) = added else {
            return Ok(pl);
        };
        if let Some(ns) = &added.required_during_scheduling_ignored_during_execution {
            pl.added_required = Some(NodeSelector::parse(
                ns,
                "addedAffinity.requiredDuringSchedulingIgnoredDuringExecution",
            )?);
        }
        if let Some(terms) = added
            .preferred_during_scheduling_ignored_during_execution
            .as_ref()
            .filter(|t| !t.is_empty())
        {
            pl.added_preferred = Some(PreferredTerms::parse(
                terms,
                "addedAffinity.preferredDuringSchedulingIgnoredDuringExecution",
            )?);
        }
        Ok(pl)
    }
}

impl Plugin for NodeAffinity {
    fn name(&self) -> &'static str {
        names::NODE_AFFINITY
    }

    fn events(&self) -> Vec<ClusterEvent> {
        vec![ClusterEvent::new(
            EventResource::Node,
            action::ADD | action::UPDATE_NODE_LABEL,
        )]
    }
}

impl PreFilterPlugin for NodeAffinity {
    fn pre_filter(
        &self,
        state: &mut CycleState,
        pod: &PodInfo,
        _snapshot: &Snapshot,
    ) -> (PreFilterResult, Status) {
        let required = required_terms(pod);
        let has_selector = pod
            .pod
            .spec
            .as_ref()
            .is_some_and(|s| s.node_selector.is_some());
        if required.is_none() && self.added_required.is_none() && !has_selector {
            return (None, Status::skip());
        }
        state.write(PRE_FILTER_KEY, RequiredNodeAffinity::of(pod));
        let Some(required) = required.filter(|r| !r.node_selector_terms.is_empty()) else {
            return (None, Status::success());
        };
        // Terms are ORed; within a term, `metadata.name In` requirements are ANDed. When
        // every term pins names, only their union can match.
        let mut names: HashSet<String> = HashSet::new();
        for t in &required.node_selector_terms {
            let mut term_names: Option<HashSet<String>> = None;
            for r in t.match_fields.iter().flatten() {
                if r.key == OBJECT_NAME_FIELD && r.operator == "In" {
                    let values: HashSet<String> = r.values.iter().flatten().cloned().collect();
                    term_names = Some(match term_names {
                        None => values,
                        Some(prev) => prev.intersection(&values).cloned().collect(),
                    });
                }
            }
            match term_names {
                None => return (None, Status::success()),
                Some(n) => names.extend(n),
            }
        }
        if names.is_empty() {
            (None, Status::unresolvable(ERR_REASON_CONFLICT))
        } else {
            (Some(names), Status::success())
        }
    }
}

impl FilterPlugin for NodeAffinity {
    fn filter(&self, state: &CycleState, pod: &PodInfo, node: &NodeInfo) -> Status {
        if let Some(added) = &self.added_required
            && !added.matches(&node.labels, &node.name)
        {
            return Status::unresolvable(ERR_REASON_ENFORCED);
        }
        let matched = match state.read::<RequiredNodeAffinity>(PRE_FILTER_KEY) {
            Some(r) => r.matches(node),
            None => RequiredNodeAffinity::of(pod).matches(node),
        };
        if matched {
            Status::success()
        } else {
            Status::unresolvable(ERR_REASON_POD)
        }
    }
}

/// The pod's parsed preferred terms (`None`: the pod has none).
#[derive(Clone, Debug)]
struct PreScoreState(Option<PreferredTerms>);

fn pod_preferred(pod: &PodInfo) -> Result<Option<PreferredTerms>, String> {
    match node_affinity(pod).and_then(|n| {
        n.preferred_during_scheduling_ignored_during_execution
            .as_ref()
    }) {
        Some(terms) => PreferredTerms::parse(terms, "").map(Some),
        None => Ok(None),
    }
}

impl PreScorePlugin for NodeAffinity {
    fn pre_score(&self, state: &mut CycleState, pod: &PodInfo, _nodes: &[Arc<NodeInfo>]) -> Status {
        let preferred = match pod_preferred(pod) {
            Ok(p) => p,
            Err(e) => return Status::error(e),
        };
        if preferred.is_none() && self.added_preferred.is_none() {
            return Status::skip();
        }
        state.write(PRE_SCORE_KEY, PreScoreState(preferred));
        Status::success()
    }
}

impl ScorePlugin for NodeAffinity {
    fn score(&self, state: &CycleState, pod: &PodInfo, node: &NodeInfo) -> (i64, Status) {
        let mut count = 0;
        if let Some(added) = &self.added_preferred {
            count += added.score(&node.labels, &node.name);
        }
        match state.read::<PreScoreState>(PRE_SCORE_KEY) {
            Some(PreScoreState(Some(p))) => count += p.score(&node.labels, &node.name),
            Some(PreScoreState(None)) => {}
            None => match pod_preferred(pod) {
                Ok(Some(p)) => count += p.score(&node.labels, &node.name),
                Ok(None) => {}
                Err(e) => return (0, Status::error(e)),
            },
        }
        (count, Status::success())
    }

    fn normalize(&self, _state: &CycleState, _pod: &PodInfo, scores: &mut [NodeScore]) -> Status {
        default_normalize(MAX_NODE_SCORE, false, scores);
        Status::success()
    }
}

/// Builds NodeAffinity from its args (`addedAffinity`).
pub fn new(args: Option<&Value>) -> Result<PluginSet, String> {
    let args: Args = decode_args(args)?;
    let pl = NodeAffinity::with_added_affinity(args.added_affinity.as_ref())?;
    Ok(plugin_set!(pl, pre_filter, filter, pre_score, score))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::framework::Code;
    use crate::plugins::testing::{
        NodeBuilder, PodBuilder, feasible, node, requirement, run_filter, run_score, selector_term,
        snapshot,
    };
    use serde_json::json;

    fn expr(key: &str, op: &str, values: &[&str]) -> NodeSelectorTerm {
        selector_term(vec![requirement(key, op, values)], vec![])
    }

    fn name_in(values: &[&str]) -> NodeSelectorRequirement {
        requirement(OBJECT_NAME_FIELD, "In", values)
    }

    #[test]
    fn filter() {
        let set = new(None).unwrap();
        let n = || node("node1").label("foo", "bar").label("gpu", "4");
        let cases: Vec<(&str, PodBuilder, NodeBuilder, bool)> = vec![
            ("no constraints", PodBuilder::new("p"), n(), true),
            (
                "nodeSelector matches",
                PodBuilder::new("p").node_selector("foo", "bar"),
                n(),
                true,
            ),
            (
                "nodeSelector value differs",
                PodBuilder::new("p").node_selector("foo", "baz"),
                n(),
                false,
            ),
            (
                "nodeSelector label missing",
                PodBuilder::new("p").node_selector("zone", ""),
                n(),
                false,
            ),
            (
                "In matches",
                PodBuilder::new("p").required_terms(vec![expr("foo", "In", &["value1", "bar"])]),
                n(),
                true,
            ),
            (
                "NotIn excludes",
                PodBuilder::new("p").required_terms(vec![expr("foo", "NotIn", &["bar"])]),
                n(),
                false,
            ),
            (
                "NotIn on a missing label matches",
                PodBuilder::new("p").required_terms(vec![expr("zone", "NotIn", &["a"])]),
                n(),
                true,
            ),
            (
                "Exists",
                PodBuilder::new("p").required_terms(vec![expr("foo", "Exists", &[])]),
                n(),
                true,
            ),
            (
                "DoesNotExist",
                PodBuilder::new("p").required_terms(vec![expr("foo", "DoesNotExist", &[])]),
                n(),
                false,
            ),
            (
                "Gt",
                PodBuilder::new("p").required_terms(vec![expr("gpu", "Gt", &["3"])]),
                n(),
                true,
            ),
            (
                "Gt not greater",
                PodBuilder::new("p").required_terms(vec![expr("gpu", "Gt", &["4"])]),
                n(),
                false,
            ),
            (
                "Lt",
                PodBuilder::new("p").required_terms(vec![expr("gpu", "Lt", &["5"])]),
                n(),
                true,
            ),
            (
                "Gt on a non-integer label",
                PodBuilder::new("p").required_terms(vec![expr("foo", "Gt", &["1"])]),
                n(),
                false,
            ),
            (
                "requirements in a term are ANDed",
                PodBuilder::new("p").required_terms(vec![selector_term(
                    vec![
                        requirement("foo", "In", &["bar"]),
                        requirement("gpu", "In", &["8"]),
                    ],
                    vec![],
                )]),
                n(),
                false,
            ),
            (
                "terms are ORed",
                PodBuilder::new("p").required_terms(vec![
                    expr("foo", "In", &["nope"]),
                    expr("gpu", "In", &["4"]),
                ]),
                n(),
                true,
            ),
            (
                "no terms match nothing",
                PodBuilder::new("p").required_terms(vec![]),
                n(),
                false,
            ),
            (
                "an empty term matches nothing",
                PodBuilder::new("p").required_terms(vec![selector_term(vec![], vec![])]),
                n(),
                false,
            ),
            (
                "an invalid term matches nothing but others still can",
                PodBuilder::new("p").required_terms(vec![
                    expr("foo", "Bogus", &["bar"]),
                    expr("foo", "In", &["bar"]),
                ]),
                n(),
                true,
            ),
            (
                "an invalid term alone matches nothing",
                PodBuilder::new("p").required_terms(vec![expr("gpu", "Gt", &["x"])]),
                n(),
                false,
            ),
            (
                "nodeSelector and affinity both apply",
                PodBuilder::new("p")
                    .node_selector("foo", "bar")
                    .required_terms(vec![expr("gpu", "In", &["1"])]),
                n(),
                false,
            ),
            (
                "matchFields metadata.name In",
                PodBuilder::new("p")
                    .required_terms(vec![selector_term(vec![], vec![name_in(&["node1"])])]),
                n(),
                true,
            ),
            (
                "matchFields metadata.name NotIn",
                PodBuilder::new("p").required_terms(vec![selector_term(
                    vec![],
                    vec![requirement(OBJECT_NAME_FIELD, "NotIn", &["node1"])],
                )]),
                n(),
                false,
            ),
            (
                "matchFields and matchExpressions are ANDed",
                PodBuilder::new("p").required_terms(vec![selector_term(
                    vec![requirement("foo", "In", &["other"])],
                    vec![name_in(&["node1"])],
                )]),
                n(),
                false,
            ),
        ];
        for (name, pod, node, want) in cases {
            let run = run_filter(&set, &pod.info(), &snapshot(vec![node.info()]));
            if want {
                assert!(run.filter[0].is_success(), "{name}: {:?}", run.filter[0]);
            } else {
                assert_eq!(
                    run.filter[0].code,
                    Code::UnschedulableAndUnresolvable,
                    "{name}"
                );
                assert_eq!(run.filter[0].reasons, vec![ERR_REASON_POD], "{name}");
            }
        }
    }

    #[test]
    fn pre_filter() {
        let set = new(None).unwrap();
        let pl = set.pre_filter.as_ref().unwrap();
        let snap = snapshot(vec![node("node1").info(), node("node2").info()]);
        let run = |pod: PodBuilder| {
            let mut state = CycleState::default();
            pl.pre_filter(&mut state, &pod.info(), &snap)
        };
        // Nothing to check: Filter is skipped.
        assert_eq!(run(PodBuilder::new("p")).1.code, Code::Skip);
        // An empty nodeSelector is still a nodeSelector (upstream checks for nil).
        let (r, s) = run(PodBuilder::new("p").node_selector("a", "b"));
        assert!(r.is_none() && s.is_success());
        // One term pinning a name.
        let (r, s) = run(PodBuilder::new("p")
            .required_terms(vec![selector_term(vec![], vec![name_in(&["node1"])])]));
        assert!(s.is_success());
        assert_eq!(r.unwrap(), HashSet::from(["node1".to_owned()]));
        // Names of ORed terms are united; ANDed requirements intersected.
        let (r, _) = run(PodBuilder::new("p").required_terms(vec![
            selector_term(
                vec![],
                vec![name_in(&["node1"]), name_in(&["node1", "node2"])],
            ),
            selector_term(vec![], vec![name_in(&["node3"])]),
        ]));
        assert_eq!(
            r.unwrap(),
            HashSet::from(["node1".to_owned(), "node3".to_owned()])
        );
        // A term without a name pin lets every node through.
        let (r, s) = run(PodBuilder::new("p").required_terms(vec![
            selector_term(vec![], vec![name_in(&["node1"])]),
            expr("foo", "Exists", &[]),
        ]));
        assert!(r.is_none() && s.is_success());
        // Conflicting pins.
        let (r, s) = run(PodBuilder::new("p").required_terms(vec![selector_term(
            vec![],
            vec![name_in(&["node1"]), name_in(&["node2"])],
        )]));
        assert!(r.is_none());
        assert_eq!(s.code, Code::UnschedulableAndUnresolvable);
        assert_eq!(s.reasons, vec![ERR_REASON_CONFLICT]);
    }

    #[test]
    fn added_affinity() {
        let set = new(Some(&json!({
            "apiVersion": "kubescheduler.config.k8s.io/v1",
            "kind": "NodeAffinityArgs",
            "addedAffinity": {
                "requiredDuringSchedulingIgnoredDuringExecution": {
                    "nodeSelectorTerms": [{"matchExpressions": [
                        {"key": "zone", "operator": "In", "values": ["foo"]}
                    ]}]
                },
                "preferredDuringSchedulingIgnoredDuringExecution": [
                    {"weight": 5, "preference": {"matchExpressions": [
                        {"key": "fast", "operator": "Exists"}
                    ]}}
                ]
            }
        })))
        .unwrap();
        let snap = snapshot(vec![
            node("a").label("zone", "foo").info(),
            node("b").label("zone", "bar").info(),
            node("c").label("zone", "foo").label("fast", "").info(),
        ]);
        // The added affinity applies even to a pod without constraints.
        let run = run_filter(&set, &PodBuilder::new("p").info(), &snap);
        assert_eq!(run.filter[1].reasons, vec![ERR_REASON_ENFORCED]);
        assert_eq!(feasible(&snap, &run.filter), vec!["a", "c"]);
        // The pod's own constraints still apply after the added ones.
        let pod = PodBuilder::new("p").node_selector("fast", "");
        let run = run_filter(&set, &pod.info(), &snap);
        assert_eq!(run.filter[0].reasons, vec![ERR_REASON_POD]);
        assert_eq!(feasible(&snap, &run.filter), vec!["c"]);
        // Added preferred terms score even without the pod's own.
        assert_eq!(
            run_score(&set, &PodBuilder::new("p").info(), &snap).unwrap(),
            vec![0, 0, 100]
        );
    }

    #[test]
    fn args() {
        assert!(new(Some(&Value::Null)).is_ok());
        assert!(new(Some(&json!({}))).is_ok());
        assert!(
            new(Some(&json!({"bogus": 1})))
                .err()
                .unwrap()
                .contains("bogus")
        );
        let err = new(Some(&json!({"addedAffinity": {
            "requiredDuringSchedulingIgnoredDuringExecution": {
                "nodeSelectorTerms": [{"matchExpressions": [
                    {"key": "zone", "operator": "Foo", "values": ["x"]}
                ]}]
            }
        }})))
        .err()
        .unwrap();
        assert_eq!(
            err,
            "addedAffinity.requiredDuringSchedulingIgnoredDuringExecution.nodeSelectorTerms[0]\
             .matchExpressions[0].operator: Unsupported value: \"Foo\": supported values: \
             \"In\", \"NotIn\", \"Exists\", \"DoesNotExist\", \"Gt\", \"Lt\""
        );
        let err = new(Some(&json!({"addedAffinity": {
            "preferredDuringSchedulingIgnoredDuringExecution": [{"weight": 1, "preference": {
                "matchFields": [{"key": "metadata.name", "operator": "In", "values": ["a", "b"]}]
            }}]
        }})))
        .err()
        .unwrap();
        assert_eq!(
            err,
            "addedAffinity.preferredDuringSchedulingIgnoredDuringExecution[0].matchFields[0]\
             .values: Invalid value: []string{\"a\", \"b\"}: must have one element"
        );
    }

    #[test]
    fn score() {
        let set = new(None).unwrap();
        let pref = |pod: PodBuilder| {
            pod.preferred_term(2, expr("foo", "In", &["bar"]))
                .preferred_term(4, expr("key", "In", &["value"]))
                .preferred_term(5, expr("az", "In", &["az1"]))
        };
        let nodes = || {
            vec![
                node("m1").label("foo", "bar").info(),
                node("m2").label("key", "value").info(),
                node("m3")
                    .label("foo", "bar")
                    .label("key", "value")
                    .label("az", "az1")
                    .info(),
            ]
        };
        // No preferred terms: PreScore skips.
        assert!(run_score(&set, &PodBuilder::new("p").info(), &snapshot(nodes())).is_none());
        // Weights sum per node and are normalized to the best node.
        assert_eq!(
            run_score(&set, &pref(PodBuilder::new("p")).info(), &snapshot(nodes())).unwrap(),
            vec![18, 36, 100]
        );
        // No node matches: all zero.
        let pod = PodBuilder::new("p").preferred_term(3, expr("none", "Exists", &[]));
        assert_eq!(
            run_score(&set, &pod.info(), &snapshot(nodes())).unwrap(),
            vec![0, 0, 0]
        );
        // Zero weights and empty terms are ignored.
        let pod = PodBuilder::new("p")
            .preferred_term(0, expr("foo", "Exists", &[]))
            .preferred_term(3, selector_term(vec![], vec![]))
            .preferred_term(1, expr("key", "Exists", &[]));
        assert_eq!(
            run_score(&set, &pod.info(), &snapshot(nodes())).unwrap(),
            vec![0, 100, 100]
        );
        // An invalid preferred term is an error.
        let pod = PodBuilder::new("p").preferred_term(1, expr("foo", "Gt", &["a", "b"]));
        let mut state = CycleState::default();
        let s = set
            .pre_score
            .as_ref()
            .unwrap()
            .pre_score(&mut state, &pod.info(), &[]);
        assert_eq!(s.code, Code::Error);
    }

    #[test]
    fn node_selector_ignores_fields_without_a_name() {
        let ns = ApiNodeSelector {
            node_selector_terms: vec![selector_term(
                vec![requirement("zone", "In", &["a"])],
                vec![name_in(&["other"])],
            )],
        };
        let sel = NodeSelector::parse(&ns, "").unwrap();
        let labels = Labels::from([("zone".to_owned(), "a".to_owned())]);
        assert!(sel.matches(&labels, ""));
        assert!(!sel.matches(&labels, "node1"));
        assert!(sel.matches(&labels, "other"));
    }

    #[test]
    fn events() {
        let set = new(None).unwrap();
        let label = ClusterEvent::new(EventResource::Node, action::UPDATE_NODE_LABEL);
        let alloc = ClusterEvent::new(EventResource::Node, action::UPDATE_NODE_ALLOCATABLE);
        assert!(set.events.iter().any(|e| label.matches(e)));
        assert!(!set.events.iter().any(|e| alloc.matches(e)));
    }
}
