//! TaintToleration (upstream's `tainttoleration` plugin): Filter rejects nodes with a
//! `NoSchedule` or `NoExecute` taint the pod does not tolerate; Score counts the
//! `PreferNoSchedule` taints the pod does not tolerate, and NormalizeScore reverses the
//! counts so the node with the fewest gets the highest score.

use crate::framework::{
    ClusterEvent, CycleState, EventResource, FilterPlugin, MAX_NODE_SCORE, NodeInfo, NodeScore,
    Plugin, PluginSet, PodInfo, PreScorePlugin, ScorePlugin, Status, action, default_normalize,
};
use crate::plugin_set;
use crate::plugins::names;
use k8s_openapi::api::core::v1::{Taint, Toleration};
use serde_json::Value;
use std::sync::Arc;

const PRE_SCORE_KEY: &str = "PreScoreTaintToleration";

/// `NoSchedule`.
pub const EFFECT_NO_SCHEDULE: &str = "NoSchedule";
/// `NoExecute`.
pub const EFFECT_NO_EXECUTE: &str = "NoExecute";
/// `PreferNoSchedule`.
pub const EFFECT_PREFER_NO_SCHEDULE: &str = "PreferNoSchedule";

/// Whether a toleration tolerates the taint `key=value:effect` (upstream's
/// `Toleration.ToleratesTaint`): an empty effect matches every effect, an empty key matches
/// every key, `Exists` matches any value and `Equal` (or no operator) the same value.
pub fn tolerates(t: &Toleration, key: &str, value: &str, effect: &str) -> bool {
    if let Some(e) = t.effect.as_deref().filter(|e| !e.is_empty())
        && e != effect
    {
        return false;
    }
    if let Some(k) = t.key.as_deref().filter(|k| !k.is_empty())
        && k != key
    {
        return false;
    }
    match t.operator.as_deref().unwrap_or("") {
        "" | "Equal" => t.value.as_deref().unwrap_or("") == value,
        "Exists" => true,
        _ => false,
    }
}

/// Whether a toleration tolerates `taint`.
pub fn tolerates_taint(t: &Toleration, taint: &Taint) -> bool {
    tolerates(
        t,
        &taint.key,
        taint.value.as_deref().unwrap_or(""),
        &taint.effect,
    )
}

/// Whether any of `tolerations` tolerates `taint` (upstream's `TolerationsTolerateTaint`).
pub fn tolerations_tolerate(tolerations: &[Toleration], taint: &Taint) -> bool {
    tolerations.iter().any(|t| tolerates_taint(t, taint))
}

/// The first `NoSchedule`/`NoExecute` taint no toleration tolerates (upstream's
/// `FindMatchingUntoleratedTaint` with `DoNotScheduleTaintsFilterFunc`).
pub fn untolerated_taint<'a>(taints: &'a [Taint], tolerations: &[Toleration]) -> Option<&'a Taint> {
    taints.iter().find(|t| {
        (t.effect == EFFECT_NO_SCHEDULE || t.effect == EFFECT_NO_EXECUTE)
            && !tolerations_tolerate(tolerations, t)
    })
}

fn pod_tolerations(pod: &PodInfo) -> &[Toleration] {
    pod.pod
        .spec
        .as_ref()
        .and_then(|s| s.tolerations.as_deref())
        .unwrap_or_default()
}

/// The TaintToleration plugin.
#[derive(Debug, Default)]
pub struct TaintToleration;

/// The pod's tolerations that can tolerate `PreferNoSchedule` taints (effect empty or
/// `PreferNoSchedule`), computed in PreScore.
#[derive(Clone, Debug)]
struct PreScoreState {
    tolerations: Vec<Toleration>,
}

impl Plugin for TaintToleration {
    fn name(&self) -> &'static str {
        names::TAINT_TOLERATION
    }

    fn events(&self) -> Vec<ClusterEvent> {
        vec![
            ClusterEvent::new(EventResource::Node, action::ADD | action::UPDATE_NODE_TAINT),
            ClusterEvent::new(EventResource::Pod, action::UPDATE_POD_TOLERATIONS),
        ]
    }
}

impl FilterPlugin for TaintToleration {
    fn filter(&self, _state: &CycleState, pod: &PodInfo, node: &NodeInfo) -> Status {
        match untolerated_taint(&node.taints, pod_tolerations(pod)) {
            None => Status::success(),
            Some(t) => Status::unresolvable(format!(
                "node(s) had untolerated taint {{{}: {}}}",
                t.key,
                t.value.as_deref().unwrap_or("")
            )),
        }
    }
}

impl PreScorePlugin for TaintToleration {
    fn pre_score(&self, state: &mut CycleState, pod: &PodInfo, _nodes: &[Arc<NodeInfo>]) -> Status {
        let tolerations = pod_tolerations(pod)
            .iter()
            .filter(|t| {
                let e = t.effect.as_deref().unwrap_or("");
                e.is_empty() || e == EFFECT_PREFER_NO_SCHEDULE
            })
            .cloned()
            .collect();
        state.write(PRE_SCORE_KEY, PreScoreState { tolerations });
        Status::success()
    }
}

fn count_intolerable(taints: &[Taint], tolerations: &[Toleration]) -> i64 {
    taints
        .iter()
        .filter(|t| t.effect == EFFECT_PREFER_NO_SCHEDULE && !tolerations_tolerate(tolerations, t))
        .count() as i64
}

impl ScorePlugin for TaintToleration {
    fn score(&self, state: &CycleState, pod: &PodInfo, node: &NodeInfo) -> (i64, Status) {
        let count = match state.read::<PreScoreState>(PRE_SCORE_KEY) {
            Some(s) => count_intolerable(&node.taints, &s.tolerations),
            // Without PreScore, every toleration is considered; the ones with other
            // effects cannot match a PreferNoSchedule taint anyway.
            None => count_intolerable(&node.taints, pod_tolerations(pod)),
        };
        (count, Status::success())
    }

    fn normalize(&self, _state: &CycleState, _pod: &PodInfo, scores: &mut [NodeScore]) -> Status {
        default_normalize(MAX_NODE_SCORE, true, scores);
        Status::success()
    }
}

/// Builds TaintToleration (it takes no args).
pub fn new(_args: Option<&Value>) -> Result<PluginSet, String> {
    Ok(plugin_set!(TaintToleration, filter, pre_score, score))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::framework::Code;
    use crate::plugins::testing::{
        NodeBuilder, PodBuilder, run_filter, run_score, snapshot, taint, toleration,
    };

    #[test]
    fn toleration_matching() {
        let cases = [
            // (toleration key, op, value, effect), taint (key, value, effect), tolerated
            (
                ("foo", "Equal", "bar", "NoSchedule"),
                ("foo", "bar", "NoSchedule"),
                true,
            ),
            (
                ("foo", "", "bar", "NoSchedule"),
                ("foo", "bar", "NoSchedule"),
                true,
            ),
            (
                ("foo", "Equal", "baz", "NoSchedule"),
                ("foo", "bar", "NoSchedule"),
                false,
            ),
            (
                ("foo", "Exists", "", "NoSchedule"),
                ("foo", "bar", "NoSchedule"),
                true,
            ),
            (("foo", "Exists", "", ""), ("foo", "bar", "NoExecute"), true),
            (
                ("foo", "Exists", "", "NoExecute"),
                ("foo", "bar", "NoSchedule"),
                false,
            ),
            (
                ("", "Exists", "", ""),
                ("anything", "x", "NoSchedule"),
                true,
            ),
            (
                ("", "Exists", "", "NoSchedule"),
                ("anything", "x", "NoExecute"),
                false,
            ),
            (
                ("other", "Exists", "", ""),
                ("foo", "bar", "NoSchedule"),
                false,
            ),
            (
                ("foo", "Equal", "", "NoSchedule"),
                ("foo", "", "NoSchedule"),
                true,
            ),
            (
                ("foo", "Bogus", "bar", "NoSchedule"),
                ("foo", "bar", "NoSchedule"),
                false,
            ),
        ];
        for ((k, op, v, e), (tk, tv, te), want) in cases {
            let t = toleration(k, op, v, e);
            assert_eq!(
                tolerates_taint(&t, &taint(tk, tv, te)),
                want,
                "{k}/{op}/{v}/{e} vs {tk}={tv}:{te}"
            );
        }
    }

    #[test]
    fn filter() {
        let set = new(None).unwrap();
        let cases = [
            (
                "no taints",
                NodeBuilder::new("n"),
                PodBuilder::new("p"),
                None,
            ),
            (
                "untolerated NoSchedule",
                NodeBuilder::new("n").taint(taint("dedicated", "user1", "NoSchedule")),
                PodBuilder::new("p"),
                Some("node(s) had untolerated taint {dedicated: user1}"),
            ),
            (
                "untolerated NoExecute with an empty value",
                NodeBuilder::new("n").taint(taint(
                    "node-role.kubernetes.io/control-plane",
                    "",
                    "NoExecute",
                )),
                PodBuilder::new("p"),
                Some("node(s) had untolerated taint {node-role.kubernetes.io/control-plane: }"),
            ),
            (
                "PreferNoSchedule does not filter",
                NodeBuilder::new("n").taint(taint("dedicated", "user1", "PreferNoSchedule")),
                PodBuilder::new("p"),
                None,
            ),
            (
                "tolerated",
                NodeBuilder::new("n").taint(taint("dedicated", "user1", "NoSchedule")),
                PodBuilder::new("p").toleration(toleration(
                    "dedicated",
                    "Equal",
                    "user1",
                    "NoSchedule",
                )),
                None,
            ),
            (
                "first untolerated of several is reported",
                NodeBuilder::new("n")
                    .taint(taint("a", "1", "NoSchedule"))
                    .taint(taint("b", "2", "NoSchedule"))
                    .taint(taint("c", "3", "NoExecute")),
                PodBuilder::new("p").toleration(toleration("a", "Exists", "", "")),
                Some("node(s) had untolerated taint {b: 2}"),
            ),
        ];
        for (name, node, pod, want) in cases {
            let run = run_filter(&set, &pod.info(), &snapshot(vec![node.info()]));
            match want {
                None => assert!(run.filter[0].is_success(), "{name}: {:?}", run.filter[0]),
                Some(reason) => {
                    assert_eq!(
                        run.filter[0].code,
                        Code::UnschedulableAndUnresolvable,
                        "{name}"
                    );
                    assert_eq!(run.filter[0].reasons, vec![reason.to_owned()], "{name}");
                }
            }
        }
    }

    #[test]
    fn score() {
        let set = new(None).unwrap();
        let prefer = |k: &str, v: &str| taint(k, v, "PreferNoSchedule");
        let cases = [
            (
                "node without taints scores highest",
                PodBuilder::new("p").toleration(toleration(
                    "foo",
                    "Equal",
                    "bar",
                    "PreferNoSchedule",
                )),
                vec![
                    NodeBuilder::new("a"),
                    NodeBuilder::new("b").taint(prefer("foo", "blah")),
                ],
                vec![100, 0],
            ),
            (
                "tolerated taints do not count",
                PodBuilder::new("p")
                    .toleration(toleration("cpu-type", "Equal", "arm64", "PreferNoSchedule"))
                    .toleration(toleration("disk-type", "Equal", "ssd", "PreferNoSchedule")),
                vec![
                    NodeBuilder::new("a"),
                    NodeBuilder::new("b").taint(prefer("cpu-type", "arm64")),
                    NodeBuilder::new("c")
                        .taint(prefer("cpu-type", "arm64"))
                        .taint(prefer("disk-type", "ssd")),
                ],
                vec![100, 100, 100],
            ),
            (
                "more untolerated taints score lower",
                PodBuilder::new("p").toleration(toleration(
                    "foo",
                    "Equal",
                    "bar",
                    "PreferNoSchedule",
                )),
                vec![
                    NodeBuilder::new("a"),
                    NodeBuilder::new("b").taint(prefer("cpu-type", "arm64")),
                    NodeBuilder::new("c")
                        .taint(prefer("cpu-type", "arm64"))
                        .taint(prefer("disk-type", "ssd")),
                ],
                vec![100, 50, 0],
            ),
            (
                "only PreferNoSchedule taints count",
                PodBuilder::new("p").toleration(toleration(
                    "cpu-type",
                    "Equal",
                    "arm64",
                    "NoSchedule",
                )),
                vec![
                    NodeBuilder::new("a"),
                    NodeBuilder::new("b").taint(taint("cpu-type", "arm64", "NoSchedule")),
                    NodeBuilder::new("c").taint(prefer("cpu-type", "arm64")),
                ],
                vec![100, 100, 0],
            ),
            (
                "a toleration without effect tolerates PreferNoSchedule",
                PodBuilder::new("p").toleration(toleration("cpu-type", "Exists", "", "")),
                vec![
                    NodeBuilder::new("a"),
                    NodeBuilder::new("b").taint(prefer("cpu-type", "x")),
                ],
                vec![100, 100],
            ),
        ];
        for (name, pod, nodes, want) in cases {
            let snap = snapshot(nodes.into_iter().map(NodeBuilder::info).collect());
            assert_eq!(run_score(&set, &pod.info(), &snap).unwrap(), want, "{name}");
        }
    }

    #[test]
    fn events() {
        let set = new(None).unwrap();
        let taint_update = ClusterEvent::new(EventResource::Node, action::UPDATE_NODE_TAINT);
        let label_update = ClusterEvent::new(EventResource::Node, action::UPDATE_NODE_LABEL);
        assert!(set.events.iter().any(|e| taint_update.matches(e)));
        assert!(!set.events.iter().any(|e| label_update.matches(e)));
    }
}
