//! Simulated Node and Lease objects, their addresses, and the heartbeat schedule. No IO.
//!
//! Node `i` (its index in the simulation) gets:
//! - the InternalIP `10.64.0.0 + i + 1` (in `10.64.0.0/10`);
//! - the pod range `10.(128 + i / 256).(i % 256).0/24` (in `10.128.0.0/9`).
//!
//! These addresses are never contacted: nothing listens on them and the simulation never
//! connects anywhere but the API server.

use crate::options::SimOptions;
use k8s_openapi::api::coordination::v1::{Lease, LeaseSpec};
use k8s_openapi::api::core::v1::{
    DaemonEndpoint, Node, NodeAddress, NodeCondition, NodeDaemonEndpoints, NodeSpec, NodeStatus,
    NodeSystemInfo,
};
use k8s_openapi::apimachinery::pkg::api::resource::Quantity;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{MicroTime, ObjectMeta, OwnerReference, Time};
use std::collections::BTreeMap;
use std::net::Ipv4Addr;

/// The label every simulated node carries (value `true`).
pub const SIMULATED_LABEL: &str = "skiff.dev/simulated";
/// The annotation every simulated node carries (value `fake`), the counterpart of kwok's
/// `kwok.x-k8s.io/node`.
pub const SIMULATED_ANNOTATION: &str = "sim.skiff.dev/node";
/// The namespace of node Leases.
pub const LEASE_NAMESPACE: &str = "kube-node-lease";
/// The kubelet version simulated nodes report.
pub const KUBELET_VERSION: &str = "v1.33.0-skiff-sim";
/// The container runtime simulated nodes report.
pub const RUNTIME_VERSION: &str = "sim://1.0.0";
/// The kubelet port nodes advertise (nothing listens on it).
pub const KUBELET_PORT: i32 = 10250;

/// The name of node `index`.
pub fn node_name(opts: &SimOptions, index: usize) -> String {
    format!("{}{index}", opts.name_prefix)
}

/// The index of the node named `name`, if it is one of this simulation's.
pub fn node_index(opts: &SimOptions, name: &str) -> Option<usize> {
    let digits = name.strip_prefix(opts.name_prefix.as_str())?;
    if digits.is_empty() || (digits.len() > 1 && digits.starts_with('0')) {
        return None;
    }
    let i: usize = digits.parse().ok()?;
    (i < opts.nodes).then_some(i)
}

/// The InternalIP of node `index`.
pub fn internal_ip(index: usize) -> Ipv4Addr {
    Ipv4Addr::from(u32::from(Ipv4Addr::new(10, 64, 0, 0)) + index as u32 + 1)
}

/// The first three octets of node `index`'s pod /24.
fn pod_net(index: usize) -> [u8; 3] {
    [10, 128 + (index / 256) as u8, (index % 256) as u8]
}

/// The pod CIDR of node `index`.
pub fn pod_cidr(index: usize) -> String {
    let [a, b, c] = pod_net(index);
    format!("{a}.{b}.{c}.0/24")
}

/// The address `host` (2..=254) in node `index`'s pod range.
pub fn pod_ip(index: usize, host: u8) -> Ipv4Addr {
    let [a, b, c] = pod_net(index);
    Ipv4Addr::new(a, b, c, host)
}

/// The host part of `ip` if it lies in node `index`'s pod range.
pub fn pod_host(index: usize, ip: &str) -> Option<u8> {
    let ip: Ipv4Addr = ip.parse().ok()?;
    let o = ip.octets();
    (o[..3] == pod_net(index)).then_some(o[3])
}

/// The labels of node `index`: the well-known ones a kubelet sets, topology, the
/// simulation marker, then the extra labels (which may override the others).
pub fn node_labels(opts: &SimOptions, index: usize) -> BTreeMap<String, String> {
    let mut labels = BTreeMap::from([
        ("kubernetes.io/hostname".to_owned(), node_name(opts, index)),
        ("kubernetes.io/os".to_owned(), "linux".to_owned()),
        ("kubernetes.io/arch".to_owned(), "amd64".to_owned()),
        ("beta.kubernetes.io/os".to_owned(), "linux".to_owned()),
        ("beta.kubernetes.io/arch".to_owned(), "amd64".to_owned()),
        (SIMULATED_LABEL.to_owned(), "true".to_owned()),
    ]);
    if opts.zones > 0 {
        labels.insert(
            "topology.kubernetes.io/zone".into(),
            format!("zone-{}", index % opts.zones as usize),
        );
    }
    if !opts.region.is_empty() {
        labels.insert("topology.kubernetes.io/region".into(), opts.region.clone());
    }
    labels.extend(opts.labels.clone());
    labels
}

/// Capacity, which is also allocatable (nothing is reserved for system daemons).
pub fn capacity(opts: &SimOptions) -> BTreeMap<String, Quantity> {
    BTreeMap::from([
        ("cpu".to_owned(), Quantity(opts.cpu.clone())),
        ("memory".to_owned(), Quantity(opts.memory.clone())),
        ("pods".to_owned(), Quantity(opts.pods.to_string())),
        (
            "ephemeral-storage".to_owned(),
            Quantity(opts.ephemeral_storage.clone()),
        ),
        ("hugepages-1Gi".to_owned(), Quantity("0".into())),
        ("hugepages-2Mi".to_owned(), Quantity("0".into())),
    ])
}

/// The four conditions a healthy kubelet reports: Ready True, the pressures False.
/// `since` is the transition time, `now` the heartbeat.
pub fn conditions(since: jiff::Timestamp, now: jiff::Timestamp) -> Vec<NodeCondition> {
    let c = |type_: &str, status: &str, reason: &str, message: &str| NodeCondition {
        type_: type_.into(),
        status: status.into(),
        reason: Some(reason.into()),
        message: Some(message.into()),
        last_heartbeat_time: Some(Time(now)),
        last_transition_time: Some(Time(since)),
    };
    vec![
        c(
            "MemoryPressure",
            "False",
            "KubeletHasSufficientMemory",
            "kubelet has sufficient memory available",
        ),
        c(
            "DiskPressure",
            "False",
            "KubeletHasNoDiskPressure",
            "kubelet has no disk pressure",
        ),
        c(
            "PIDPressure",
            "False",
            "KubeletHasSufficientPID",
            "kubelet has sufficient PID available",
        ),
        c(
            "Ready",
            "True",
            "KubeletReady",
            "kubelet is posting ready status",
        ),
    ]
}

/// A stable, made-up identifier for node `index` (machine ID, system UUID, boot ID).
fn node_id(opts: &SimOptions, index: usize, salt: u64) -> String {
    let h = crate::pod::hash_hex(&[
        opts.name_prefix.as_bytes(),
        &index.to_le_bytes(),
        &salt.to_le_bytes(),
    ]);
    h[..32].to_owned()
}

/// The full status of node `index`: capacity, conditions, addresses, node info.
pub fn node_status(
    opts: &SimOptions,
    index: usize,
    since: jiff::Timestamp,
    now: jiff::Timestamp,
) -> NodeStatus {
    let uuid = node_id(opts, index, 1);
    NodeStatus {
        capacity: Some(capacity(opts)),
        allocatable: Some(capacity(opts)),
        conditions: Some(conditions(since, now)),
        addresses: Some(vec![
            NodeAddress {
                type_: "InternalIP".into(),
                address: internal_ip(index).to_string(),
            },
            NodeAddress {
                type_: "Hostname".into(),
                address: node_name(opts, index),
            },
        ]),
        daemon_endpoints: Some(NodeDaemonEndpoints {
            kubelet_endpoint: Some(DaemonEndpoint { port: KUBELET_PORT }),
        }),
        node_info: Some(NodeSystemInfo {
            architecture: "amd64".into(),
            operating_system: "linux".into(),
            os_image: "Skiff simulated node".into(),
            kernel_version: "6.1.0-skiff-sim".into(),
            kubelet_version: KUBELET_VERSION.into(),
            // Deprecated; kubelets of 1.31 and later leave it empty.
            kube_proxy_version: String::new(),
            container_runtime_version: RUNTIME_VERSION.into(),
            machine_id: node_id(opts, index, 0),
            system_uuid: format!(
                "{}-{}-{}-{}-{}",
                &uuid[..8],
                &uuid[8..12],
                &uuid[12..16],
                &uuid[16..20],
                &uuid[20..32]
            ),
            boot_id: node_id(opts, index, 2),
            swap: None,
        }),
        phase: None,
        ..NodeStatus::default()
    }
}

/// The Node object of node `index`, with its status, as the simulation registers it.
pub fn build_node(opts: &SimOptions, index: usize, now: jiff::Timestamp) -> Node {
    let name = node_name(opts, index);
    let cidr = pod_cidr(index);
    Node {
        metadata: ObjectMeta {
            name: Some(name.clone()),
            labels: Some(node_labels(opts, index)),
            annotations: Some(BTreeMap::from([
                (SIMULATED_ANNOTATION.to_owned(), "fake".to_owned()),
                (
                    "volumes.kubernetes.io/controller-managed-attach-detach".to_owned(),
                    "true".to_owned(),
                ),
            ])),
            ..ObjectMeta::default()
        },
        spec: Some(NodeSpec {
            pod_cidr: Some(cidr.clone()),
            pod_cidrs: Some(vec![cidr]),
            provider_id: Some(format!("skiff-sim://{name}")),
            taints: (!opts.taints.is_empty()).then(|| opts.taints.clone()),
            ..NodeSpec::default()
        }),
        status: Some(node_status(opts, index, now, now)),
    }
}

/// Whether `node` was registered by a simulation (it carries the marker label).
pub fn is_simulated(node: &Node) -> bool {
    node.metadata
        .labels
        .as_ref()
        .and_then(|l| l.get(SIMULATED_LABEL))
        .is_some_and(|v| v == "true")
}

/// Whether `node` reports Ready=True.
pub fn is_ready(node: &Node) -> bool {
    node.status
        .as_ref()
        .and_then(|s| s.conditions.as_ref())
        .is_some_and(|c| c.iter().any(|c| c.type_ == "Ready" && c.status == "True"))
}

/// The Lease of node `name` (owned by the Node, as a kubelet makes it), renewed at `now`.
pub fn build_lease(
    opts: &SimOptions,
    name: &str,
    node_uid: Option<&str>,
    now: jiff::Timestamp,
) -> Lease {
    Lease {
        metadata: ObjectMeta {
            name: Some(name.to_owned()),
            namespace: Some(LEASE_NAMESPACE.to_owned()),
            owner_references: node_uid.map(|uid| {
                vec![OwnerReference {
                    api_version: "v1".into(),
                    kind: "Node".into(),
                    name: name.to_owned(),
                    uid: uid.to_owned(),
                    ..OwnerReference::default()
                }]
            }),
            ..ObjectMeta::default()
        },
        spec: Some(LeaseSpec {
            holder_identity: Some(name.to_owned()),
            lease_duration_seconds: Some(opts.lease_duration_seconds),
            renew_time: Some(MicroTime(now)),
            ..LeaseSpec::default()
        }),
    }
}

/// The merge patch that renews a Lease at `now` (and claims it for its node).
pub fn lease_renewal(opts: &SimOptions, name: &str, now: jiff::Timestamp) -> serde_json::Value {
    serde_json::json!({
        "spec": {
            "holderIdentity": name,
            "leaseDurationSeconds": opts.lease_duration_seconds,
            "renewTime": MicroTime(now),
        }
    })
}

/// The strategic merge patch that refreshes node `index`'s conditions (merged by type, so
/// conditions others add survive) at `now`.
pub fn status_refresh(since: jiff::Timestamp, now: jiff::Timestamp) -> serde_json::Value {
    serde_json::json!({ "status": { "conditions": conditions(since, now) } })
}

/// Spreads work over an interval: the interval is cut into `slots` ticks, and node `i`
/// is due on the ticks `t` with `t % slots == i % slots`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Spread {
    /// Ticks per interval (at least 1).
    pub slots: u64,
}

impl Spread {
    /// `interval` cut into ticks of `tick` (the last partial tick rounds down; at least 1).
    pub fn new(interval: std::time::Duration, tick: std::time::Duration) -> Spread {
        let slots = (interval.as_nanos() / tick.as_nanos().max(1)).max(1);
        Spread {
            slots: slots.min(u64::MAX as u128) as u64,
        }
    }

    /// Whether node `index` is due on tick `tick`.
    pub fn due(&self, tick: u64, index: usize) -> bool {
        tick % self.slots == index as u64 % self.slots
    }

    /// The nodes (of `count`) due on tick `tick`, in order.
    pub fn due_on(&self, tick: u64, count: usize) -> impl Iterator<Item = usize> + use<> {
        let first = (tick % self.slots) as usize;
        (first..count).step_by(self.slots as usize)
    }
}

/// The heartbeat tick: one second, or the heartbeat itself when it is shorter.
pub fn tick_for(heartbeat: std::time::Duration) -> std::time::Duration {
    heartbeat.min(std::time::Duration::from_secs(1))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn ts(s: &str) -> jiff::Timestamp {
        s.parse().unwrap()
    }

    #[test]
    fn names_and_indices_round_trip() {
        let opts = SimOptions {
            nodes: 20,
            ..SimOptions::default()
        };
        assert_eq!(node_name(&opts, 7), "sim-7");
        assert_eq!(node_index(&opts, "sim-7"), Some(7));
        assert_eq!(node_index(&opts, "sim-19"), Some(19));
        assert_eq!(node_index(&opts, "sim-20"), None);
        assert_eq!(node_index(&opts, "sim-07"), None);
        assert_eq!(node_index(&opts, "sim-"), None);
        assert_eq!(node_index(&opts, "other-1"), None);
        assert_eq!(node_index(&opts, "sim-x"), None);
        assert_eq!(node_index(&opts, "sim-0"), Some(0));
    }

    #[test]
    fn addresses_are_distinct_and_in_their_ranges() {
        assert_eq!(internal_ip(0).to_string(), "10.64.0.1");
        assert_eq!(internal_ip(255).to_string(), "10.64.1.0");
        assert_eq!(pod_cidr(0), "10.128.0.0/24");
        assert_eq!(pod_cidr(257), "10.129.1.0/24");
        assert_eq!(pod_cidr(crate::options::MAX_NODES - 1), "10.255.255.0/24");
        assert_eq!(pod_ip(257, 2).to_string(), "10.129.1.2");
        assert_eq!(pod_host(257, "10.129.1.9"), Some(9));
        assert_eq!(pod_host(256, "10.129.1.9"), None);
        assert_eq!(pod_host(257, "garbage"), None);
    }

    #[test]
    fn node_has_labels_capacity_and_ready_status() {
        let opts = SimOptions {
            nodes: 10,
            zones: 3,
            labels: [("team".to_owned(), "a".to_owned())].into(),
            taints: crate::options::parse_taints("k=v:NoSchedule").unwrap(),
            ..SimOptions::default()
        };
        let now = ts("2025-01-01T00:00:00Z");
        let node = build_node(&opts, 4, now);
        let labels = node.metadata.labels.as_ref().unwrap();
        assert_eq!(labels["kubernetes.io/hostname"], "sim-4");
        assert_eq!(labels["kubernetes.io/os"], "linux");
        assert_eq!(labels["kubernetes.io/arch"], "amd64");
        assert_eq!(labels["topology.kubernetes.io/zone"], "zone-1");
        assert_eq!(labels["topology.kubernetes.io/region"], "region-0");
        assert_eq!(labels["team"], "a");
        assert!(is_simulated(&node));
        assert!(is_ready(&node));
        assert_eq!(
            node.metadata.annotations.as_ref().unwrap()[SIMULATED_ANNOTATION],
            "fake"
        );
        let spec = node.spec.as_ref().unwrap();
        assert_eq!(spec.pod_cidr.as_deref(), Some("10.128.4.0/24"));
        assert_eq!(spec.taints.as_ref().unwrap()[0].effect, "NoSchedule");
        let status = node.status.as_ref().unwrap();
        let cap = status.capacity.as_ref().unwrap();
        assert_eq!(cap["cpu"].0, "32");
        assert_eq!(cap["memory"].0, "256Gi");
        assert_eq!(cap["pods"].0, "110");
        assert_eq!(status.allocatable, status.capacity);
        let conds = status.conditions.as_ref().unwrap();
        assert_eq!(conds.len(), 4);
        assert!(
            conds
                .iter()
                .all(|c| (c.type_ == "Ready") == (c.status == "True"))
        );
        let info = status.node_info.as_ref().unwrap();
        assert_eq!(info.kubelet_version, KUBELET_VERSION);
        assert_eq!(info.system_uuid.len(), 36);
        let addrs = status.addresses.as_ref().unwrap();
        assert_eq!(addrs[0].address, "10.64.0.5");
        // Different nodes get different identities.
        let other = build_node(&opts, 5, now);
        assert_ne!(
            other.status.unwrap().node_info.unwrap().machine_id,
            info.machine_id
        );
    }

    #[test]
    fn zones_and_region_are_optional() {
        let opts = SimOptions {
            zones: 0,
            region: String::new(),
            ..SimOptions::default()
        };
        let labels = node_labels(&opts, 3);
        assert!(!labels.contains_key("topology.kubernetes.io/zone"));
        assert!(!labels.contains_key("topology.kubernetes.io/region"));
    }

    #[test]
    fn extra_labels_may_override() {
        let opts = SimOptions {
            labels: [("kubernetes.io/arch".to_owned(), "arm64".to_owned())].into(),
            ..SimOptions::default()
        };
        assert_eq!(node_labels(&opts, 0)["kubernetes.io/arch"], "arm64");
    }

    #[test]
    fn lease_is_owned_by_its_node() {
        let opts = SimOptions::default();
        let now = ts("2025-01-01T00:00:00.5Z");
        let lease = build_lease(&opts, "sim-0", Some("u1"), now);
        assert_eq!(lease.metadata.namespace.as_deref(), Some(LEASE_NAMESPACE));
        assert_eq!(
            lease.metadata.owner_references.as_ref().unwrap()[0].uid,
            "u1"
        );
        let spec = lease.spec.unwrap();
        assert_eq!(spec.holder_identity.as_deref(), Some("sim-0"));
        assert_eq!(spec.lease_duration_seconds, Some(40));
        let patch = lease_renewal(&opts, "sim-0", now);
        assert_eq!(patch["spec"]["renewTime"], "2025-01-01T00:00:00.500000Z");
    }

    #[test]
    fn status_refresh_keeps_the_transition_time() {
        let since = ts("2025-01-01T00:00:00Z");
        let now = ts("2025-01-01T00:05:00Z");
        let p = status_refresh(since, now);
        let ready = &p["status"]["conditions"][3];
        assert_eq!(ready["type"], "Ready");
        assert_eq!(ready["lastTransitionTime"], "2025-01-01T00:00:00Z");
        assert_eq!(ready["lastHeartbeatTime"], "2025-01-01T00:05:00Z");
    }

    #[test]
    fn spread_covers_every_node_once_per_interval() {
        let s = Spread::new(Duration::from_secs(10), Duration::from_secs(1));
        assert_eq!(s.slots, 10);
        let mut seen = vec![0; 95];
        for tick in 100..110 {
            for i in s.due_on(tick, 95) {
                assert!(s.due(tick, i));
                seen[i] += 1;
            }
        }
        assert!(seen.iter().all(|&n| n == 1));
        // Fewer nodes than slots, and an interval shorter than the tick.
        assert_eq!(s.due_on(3, 2).count(), 0);
        assert_eq!(s.due_on(1, 2).collect::<Vec<_>>(), vec![1]);
        let one = Spread::new(Duration::from_millis(100), Duration::from_secs(1));
        assert_eq!(one.slots, 1);
        assert_eq!(one.due_on(7, 3).count(), 3);
        assert_eq!(
            tick_for(Duration::from_millis(200)),
            Duration::from_millis(200)
        );
        assert_eq!(tick_for(Duration::from_secs(10)), Duration::from_secs(1));
    }
}
