//! NodeUnschedulable (upstream's `nodeunschedulable` plugin): a cordoned node
//! (`spec.unschedulable`) only takes pods that tolerate the
//! `node.kubernetes.io/unschedulable:NoSchedule` taint.

use crate::framework::{
    ClusterEvent, CycleState, EventResource, FilterPlugin, NodeInfo, Plugin, PluginSet, PodInfo,
    Status, action,
};
use crate::plugin_set;
use crate::plugins::names;
use crate::plugins::taint_toleration::tolerates;
use serde_json::Value;

/// The Filter reason for a cordoned node.
pub const ERR_REASON_UNSCHEDULABLE: &str = "node(s) were unschedulable";
/// The taint a pod tolerates to run on a cordoned node.
pub const TAINT_NODE_UNSCHEDULABLE: &str = "node.kubernetes.io/unschedulable";

/// The NodeUnschedulable plugin.
#[derive(Debug, Default)]
pub struct NodeUnschedulable;

impl Plugin for NodeUnschedulable {
    fn name(&self) -> &'static str {
        names::NODE_UNSCHEDULABLE
    }

    fn events(&self) -> Vec<ClusterEvent> {
        vec![
            // `spec.unschedulable` changes are reported as taint updates, as upstream does.
            ClusterEvent::new(EventResource::Node, action::ADD | action::UPDATE_NODE_TAINT),
            ClusterEvent::new(EventResource::Pod, action::UPDATE_POD_TOLERATIONS),
        ]
    }
}

/// Whether the pod tolerates `node.kubernetes.io/unschedulable:NoSchedule`.
fn tolerates_unschedulable(pod: &PodInfo) -> bool {
    let tolerations = pod
        .pod
        .spec
        .as_ref()
        .and_then(|s| s.tolerations.as_deref())
        .unwrap_or_default();
    tolerations
        .iter()
        .any(|t| tolerates(t, TAINT_NODE_UNSCHEDULABLE, "", "NoSchedule"))
}

impl FilterPlugin for NodeUnschedulable {
    fn filter(&self, _state: &CycleState, pod: &PodInfo, node: &NodeInfo) -> Status {
        let unschedulable = node
            .node
            .spec
            .as_ref()
            .and_then(|s| s.unschedulable)
            .unwrap_or(false);
        if unschedulable && !tolerates_unschedulable(pod) {
            Status::unresolvable(ERR_REASON_UNSCHEDULABLE)
        } else {
            Status::success()
        }
    }
}

/// Builds NodeUnschedulable (it takes no args).
pub fn new(_args: Option<&Value>) -> Result<PluginSet, String> {
    Ok(plugin_set!(NodeUnschedulable, filter))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::framework::Code;
    use crate::plugins::testing::{NodeBuilder, PodBuilder, run_filter, snapshot, toleration};

    #[test]
    fn filter() {
        let set = new(None).unwrap();
        let key = TAINT_NODE_UNSCHEDULABLE;
        let cases = [
            (
                "schedulable node",
                false,
                PodBuilder::new("p"),
                Code::Success,
            ),
            (
                "cordoned node",
                true,
                PodBuilder::new("p"),
                Code::UnschedulableAndUnresolvable,
            ),
            (
                "tolerates with Exists",
                true,
                PodBuilder::new("p").toleration(toleration(key, "Exists", "", "NoSchedule")),
                Code::Success,
            ),
            (
                "tolerates every taint",
                true,
                PodBuilder::new("p").toleration(toleration("", "Exists", "", "")),
                Code::Success,
            ),
            (
                "tolerates another effect only",
                true,
                PodBuilder::new("p").toleration(toleration(key, "Exists", "", "NoExecute")),
                Code::UnschedulableAndUnresolvable,
            ),
            (
                "Equal with an empty value",
                true,
                PodBuilder::new("p").toleration(toleration(key, "", "", "NoSchedule")),
                Code::Success,
            ),
            (
                "Equal with another value",
                true,
                PodBuilder::new("p").toleration(toleration(key, "Equal", "x", "NoSchedule")),
                Code::UnschedulableAndUnresolvable,
            ),
        ];
        for (name, cordoned, pod, want) in cases {
            let mut node = NodeBuilder::new("n1");
            if cordoned {
                node = node.unschedulable();
            }
            let run = run_filter(&set, &pod.info(), &snapshot(vec![node.info()]));
            assert_eq!(run.filter[0].code, want, "{name}");
            if want != Code::Success {
                assert_eq!(
                    run.filter[0].reasons,
                    vec![ERR_REASON_UNSCHEDULABLE],
                    "{name}"
                );
            }
        }
    }
}
