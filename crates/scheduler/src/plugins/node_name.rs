//! NodeName (upstream's `nodename` plugin): a pod that names a node in `spec.nodeName` fits
//! only that node.

use crate::framework::{
    ClusterEvent, CycleState, EventResource, FilterPlugin, NodeInfo, Plugin, PluginSet, PodInfo,
    Status, action,
};
use crate::plugin_set;
use crate::plugins::names;
use serde_json::Value;

/// The Filter reason when the node is not the one the pod names.
pub const ERR_REASON: &str = "node(s) didn't match the requested node name";

/// The NodeName plugin.
#[derive(Debug, Default)]
pub struct NodeName;

impl Plugin for NodeName {
    fn name(&self) -> &'static str {
        names::NODE_NAME
    }

    fn events(&self) -> Vec<ClusterEvent> {
        vec![ClusterEvent::new(EventResource::Node, action::ADD)]
    }
}

impl FilterPlugin for NodeName {
    fn filter(&self, _state: &CycleState, pod: &PodInfo, node: &NodeInfo) -> Status {
        if pod.node_name.is_empty() || pod.node_name == node.name {
            Status::success()
        } else {
            Status::unresolvable(ERR_REASON)
        }
    }
}

/// Builds NodeName (it takes no args).
pub fn new(_args: Option<&Value>) -> Result<PluginSet, String> {
    Ok(plugin_set!(NodeName, filter))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::framework::Code;
    use crate::plugins::testing::{NodeBuilder, PodBuilder, run_filter, snapshot};

    #[test]
    fn filter() {
        let set = new(None).unwrap();
        let cases = [
            ("no node name", PodBuilder::new("p"), Code::Success),
            (
                "same node",
                PodBuilder::new("p").node_name("n1"),
                Code::Success,
            ),
            (
                "other node",
                PodBuilder::new("p").node_name("n2"),
                Code::UnschedulableAndUnresolvable,
            ),
        ];
        for (name, pod, want) in cases {
            let snap = snapshot(vec![NodeBuilder::new("n1").info()]);
            let run = run_filter(&set, &pod.info(), &snap);
            assert_eq!(run.filter[0].code, want, "{name}");
            if want != Code::Success {
                assert_eq!(run.filter[0].reasons, vec![ERR_REASON.to_owned()], "{name}");
            }
        }
        assert!(set.pre_filter.is_none() && set.score.is_none());
        assert_eq!(
            set.events,
            vec![ClusterEvent::new(EventResource::Node, action::ADD)]
        );
    }
}
