//! NodePorts (upstream's `nodeports` plugin): a pod asking for host ports fits only nodes
//! where none of them is taken.

use crate::framework::{
    ClusterEvent, CycleState, EventResource, FilterPlugin, HostPort, NodeInfo, Plugin, PluginSet,
    PodInfo, PreFilterPlugin, PreFilterResult, Snapshot, Status, action,
};
use crate::plugin_set;
use crate::plugins::names;
use k8s_openapi::api::core::v1::{Container, Pod};
use serde_json::Value;

/// The Filter reason when a wanted host port is taken.
pub const ERR_REASON: &str = "node(s) didn't have free ports for the requested pod ports";

const PRE_FILTER_KEY: &str = "PreFilterNodePorts";

/// The host ports the pod wants, computed in PreFilter.
#[derive(Clone, Debug)]
struct WantedPorts(Vec<HostPort>);

/// The host ports of a pod (upstream's `GetHostPorts`): those of its containers and of its
/// sidecars (init containers with `restartPolicy: Always`, which run as long as the pod),
/// with the IP defaulting to `0.0.0.0` and the protocol to `TCP`.
pub fn host_ports(pod: &Pod) -> Vec<HostPort> {
    let Some(spec) = pod.spec.as_ref() else {
        return Vec::new();
    };
    let sidecars = spec
        .init_containers
        .iter()
        .flatten()
        .filter(|c| c.restart_policy.as_deref() == Some("Always"));
    let mut out = Vec::new();
    for c in sidecars.chain(spec.containers.iter()) {
        push_ports(c, &mut out);
    }
    out
}

fn push_ports(c: &Container, out: &mut Vec<HostPort>) {
    for p in c.ports.iter().flatten() {
        let Some(port) = p.host_port.filter(|p| *p > 0) else {
            continue;
        };
        out.push(HostPort {
            ip: p
                .host_ip
                .as_deref()
                .filter(|ip| !ip.is_empty())
                .unwrap_or("0.0.0.0")
                .to_owned(),
            protocol: p
                .protocol
                .as_deref()
                .filter(|p| !p.is_empty())
                .unwrap_or("TCP")
                .to_owned(),
            port,
        });
    }
}

/// Whether none of `wanted` conflicts with `used`.
pub fn fits(wanted: &[HostPort], used: &[HostPort]) -> bool {
    !wanted.iter().any(|w| used.iter().any(|u| w.conflicts(u)))
}

/// The NodePorts plugin.
#[derive(Debug, Default)]
pub struct NodePorts;

impl Plugin for NodePorts {
    fn name(&self) -> &'static str {
        names::NODE_PORTS
    }

    fn events(&self) -> Vec<ClusterEvent> {
        vec![
            // Container ports are immutable, so only deletions free ports.
            ClusterEvent::new(EventResource::Pod, action::DELETE),
            ClusterEvent::new(EventResource::Node, action::ADD),
        ]
    }
}

impl PreFilterPlugin for NodePorts {
    fn pre_filter(
        &self,
        state: &mut CycleState,
        pod: &PodInfo,
        _snapshot: &Snapshot,
    ) -> (PreFilterResult, Status) {
        let wanted = host_ports(&pod.pod);
        if wanted.is_empty() {
            return (None, Status::skip());
        }
        state.write(PRE_FILTER_KEY, WantedPorts(wanted));
        (None, Status::success())
    }
}

impl FilterPlugin for NodePorts {
    fn filter(&self, state: &CycleState, pod: &PodInfo, node: &NodeInfo) -> Status {
        let ok = match state.read::<WantedPorts>(PRE_FILTER_KEY) {
            Some(w) => fits(&w.0, &node.used_ports),
            None => fits(&host_ports(&pod.pod), &node.used_ports),
        };
        if ok {
            Status::success()
        } else {
            Status::unschedulable(ERR_REASON)
        }
    }
}

/// Builds NodePorts (it takes no args).
pub fn new(_args: Option<&Value>) -> Result<PluginSet, String> {
    Ok(plugin_set!(NodePorts, pre_filter, filter))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::framework::Code;
    use crate::plugins::testing::{PodBuilder, node, run_filter, snapshot};

    fn ports(list: &[(i32, &str, &str)]) -> PodBuilder {
        list.iter().fold(
            PodBuilder::new("p").container("busybox", &[]),
            |p, (port, proto, ip)| p.host_port(*port, proto, ip),
        )
    }

    #[test]
    fn filter() {
        let set = new(None).unwrap();
        let cases: Vec<(&str, PodBuilder, Vec<PodBuilder>, bool)> = vec![
            ("nothing running", ports(&[(8080, "", "")]), vec![], true),
            (
                "other port",
                ports(&[(8080, "UDP", "127.0.0.1")]),
                vec![ports(&[(9090, "UDP", "127.0.0.1")])],
                true,
            ),
            (
                "same port and IP",
                ports(&[(8080, "UDP", "127.0.0.1")]),
                vec![ports(&[(8080, "UDP", "127.0.0.1")])],
                false,
            ),
            (
                "same port, other IP",
                ports(&[(8080, "TCP", "127.0.0.2")]),
                vec![ports(&[(8080, "TCP", "127.0.0.1")])],
                true,
            ),
            (
                "same port, other protocol",
                ports(&[(8080, "UDP", "")]),
                vec![ports(&[(8080, "TCP", "")])],
                true,
            ),
            (
                "defaults: TCP on 0.0.0.0",
                ports(&[(8080, "", "")]),
                vec![ports(&[(8080, "TCP", "10.0.0.1")])],
                false,
            ),
            (
                "wanted on all IPs, used on one",
                ports(&[(8001, "TCP", "0.0.0.0")]),
                vec![ports(&[(8001, "TCP", "127.0.0.1")])],
                false,
            ),
            (
                "wanted on one IP, used on all",
                ports(&[(8001, "TCP", "127.0.0.1")]),
                vec![ports(&[(8001, "TCP", "0.0.0.0")])],
                false,
            ),
            (
                "second of two ports conflicts",
                ports(&[(8001, "TCP", ""), (8002, "TCP", "")]),
                vec![ports(&[(8002, "TCP", "")])],
                false,
            ),
        ];
        for (name, pod, running, want) in cases {
            let snap = snapshot(vec![node("n").with_pods(running)]);
            let run = run_filter(&set, &pod.info(), &snap);
            assert!(run.pre_filter.is_success(), "{name}");
            if want {
                assert!(run.filter[0].is_success(), "{name}");
            } else {
                assert_eq!(run.filter[0].code, Code::Unschedulable, "{name}");
                assert_eq!(run.filter[0].reasons, vec![ERR_REASON], "{name}");
            }
        }
    }

    #[test]
    fn pre_filter() {
        let set = new(None).unwrap();
        let snap = snapshot(vec![node("n").info()]);
        // No host ports: Filter is skipped.
        let run = run_filter(&set, &PodBuilder::new("p").req("1", "").info(), &snap);
        assert_eq!(run.pre_filter.code, Code::Skip);
        // A sidecar's host port counts; an ordinary init container's does not.
        let mut pod = PodBuilder::new("p")
            .init_container("init", &[], false)
            .init_container("sidecar", &[], true)
            .obj();
        let spec = pod.spec.as_mut().unwrap();
        for (i, c) in spec
            .init_containers
            .as_mut()
            .unwrap()
            .iter_mut()
            .enumerate()
        {
            c.ports = Some(vec![k8s_openapi::api::core::v1::ContainerPort {
                container_port: 80,
                host_port: Some(7000 + i as i32),
                ..Default::default()
            }]);
        }
        let got = host_ports(&pod);
        assert_eq!(
            got,
            vec![HostPort {
                ip: "0.0.0.0".into(),
                protocol: "TCP".into(),
                port: 7001
            }]
        );
    }
}
