//! What a simulated kubelet does with a pod bound to its node, decided without IO: start it
//! (report it running, as a kubelet's status manager would), finish its graceful deletion,
//! or leave it. Plus the pod address pool of each node and made-up container identities.
//!
//! Containers never exit: a pod with `restartPolicy: Never` or `OnFailure` runs until it is
//! deleted, like one whose command never ends.

use k8s_openapi::api::core::v1::{
    Container, ContainerState, ContainerStateRunning, ContainerStateTerminated, ContainerStatus,
    HostIP, Pod, PodCondition, PodIP, PodStatus,
};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use std::collections::HashMap;
use std::net::Ipv4Addr;

/// What to do with a pod on a simulated node.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PodAction {
    /// Nothing: it runs already, it ended, or its start was already reported.
    Nothing,
    /// Report it running.
    Start,
    /// It is being deleted gracefully: delete it for good, as a kubelet does once its
    /// containers stopped.
    Finish,
}

/// Decides what to do with `pod`, bound to a simulated node. `reported` says the
/// simulation already reported it running (the watch may not have shown that yet).
pub fn decide(pod: &Pod, reported: bool) -> PodAction {
    if pod.metadata.deletion_timestamp.is_some() {
        // A grace period of 0 means deletion was already finished from the node's side
        // (finalizers may still hold the object).
        return if pod.metadata.deletion_grace_period_seconds == Some(0) {
            PodAction::Nothing
        } else {
            PodAction::Finish
        };
    }
    let phase = pod.status.as_ref().and_then(|s| s.phase.as_deref());
    if matches!(phase, Some("Succeeded" | "Failed")) || reported || is_running(pod) {
        return PodAction::Nothing;
    }
    PodAction::Start
}

/// Whether `pod`'s status says it runs: phase Running, an address, and every container
/// running.
pub fn is_running(pod: &Pod) -> bool {
    let Some(status) = &pod.status else {
        return false;
    };
    if status.phase.as_deref() != Some("Running") || status.pod_ip.is_none() {
        return false;
    }
    let statuses = status.container_statuses.as_deref().unwrap_or_default();
    containers(pod).iter().all(|c| {
        statuses
            .iter()
            .any(|s| s.name == c.name && s.state.as_ref().is_some_and(|st| st.running.is_some()))
    })
}

fn containers(pod: &Pod) -> &[Container] {
    pod.spec.as_ref().map_or(&[], |s| s.containers.as_slice())
}

fn init_containers(pod: &Pod) -> &[Container] {
    pod.spec
        .as_ref()
        .and_then(|s| s.init_containers.as_deref())
        .unwrap_or_default()
}

/// Whether `pod` uses the node's network namespace (its IP is the node's).
pub fn host_network(pod: &Pod) -> bool {
    pod.spec
        .as_ref()
        .and_then(|s| s.host_network)
        .unwrap_or(false)
}

/// 64 hex digits derived from `parts` (stable across runs and machines; not cryptographic).
pub fn hash_hex(parts: &[&[u8]]) -> String {
    let mut out = String::with_capacity(64);
    for round in 0u64..4 {
        // FNV-1a, seeded per round, with each part's length mixed in.
        let mut h: u64 = 0xcbf2_9ce4_8422_2325 ^ round.wrapping_mul(0x9e37_79b9_7f4a_7c15);
        let mut eat = |b: u8| {
            h ^= u64::from(b);
            h = h.wrapping_mul(0x0100_0000_01b3);
        };
        for p in parts {
            p.len().to_le_bytes().into_iter().for_each(&mut eat);
            p.iter().copied().for_each(&mut eat);
        }
        // A final avalanche so that near inputs differ in every digit.
        h ^= h >> 33;
        h = h.wrapping_mul(0xff51_afd7_ed55_8ccd);
        h ^= h >> 33;
        out.push_str(&format!("{h:016x}"));
    }
    out
}

/// The image reference as a container runtime reports it: the registry and `library/` of
/// Docker Hub made explicit, and `:latest` when there is neither tag nor digest.
pub fn normalize_image(image: &str) -> String {
    let (name, digest) = match image.split_once('@') {
        Some((n, d)) => (n, Some(d)),
        None => (image, None),
    };
    let mut parts: Vec<&str> = name.split('/').collect();
    let has_registry = parts.len() > 1
        && (parts[0].contains('.') || parts[0].contains(':') || parts[0] == "localhost");
    let mut full = String::new();
    if !has_registry {
        full.push_str("docker.io/");
        if parts.len() == 1 {
            full.push_str("library/");
        }
    }
    full.push_str(name);
    let last = parts.pop().unwrap_or_default();
    match digest {
        Some(d) => {
            full.push('@');
            full.push_str(d);
        }
        None if !last.contains(':') => full.push_str(":latest"),
        None => {}
    }
    full
}

/// The image ID a runtime would report for `image`: its repository with a made-up digest.
pub fn image_id(image: &str) -> String {
    let normalized = normalize_image(image);
    if normalized.contains('@') {
        return normalized;
    }
    let repo = match normalized.rfind(':') {
        Some(i) if !normalized[i..].contains('/') => &normalized[..i],
        _ => normalized.as_str(),
    };
    format!("{repo}@sha256:{}", hash_hex(&[normalized.as_bytes()]))
}

/// The container ID of container `name` of the pod with UID `uid`.
pub fn container_id(uid: &str, name: &str) -> String {
    format!("sim://{}", hash_hex(&[uid.as_bytes(), name.as_bytes()]))
}

/// Kubelet's condition types, in the order it reports them.
const KUBELET_CONDITIONS: [&str; 5] = [
    "PodReadyToStartContainers",
    "Initialized",
    "Ready",
    "ContainersReady",
    "PodScheduled",
];

/// Sets the condition `type_` to `status`, keeping its transition time if the status did
/// not change.
fn condition(
    old: &[PodCondition],
    type_: &str,
    status: bool,
    reason: Option<&str>,
    now: jiff::Timestamp,
) -> PodCondition {
    let status = if status { "True" } else { "False" };
    let kept = old
        .iter()
        .find(|c| c.type_ == type_ && c.status == status)
        .and_then(|c| c.last_transition_time.clone());
    PodCondition {
        type_: type_.to_owned(),
        status: status.to_owned(),
        reason: reason.map(str::to_owned),
        last_transition_time: Some(kept.unwrap_or(Time(now))),
        ..PodCondition::default()
    }
}

/// The status a kubelet reports once every container of `pod` is up: phase Running, the
/// addresses, start time, conditions and container statuses. Conditions of other types
/// (readiness gates, disruption targets) are kept; readiness gates decide Ready as they do
/// for a kubelet.
pub fn running_status(
    pod: &Pod,
    pod_ip: Ipv4Addr,
    host_ip: Ipv4Addr,
    now: jiff::Timestamp,
) -> PodStatus {
    let old = pod.status.clone().unwrap_or_default();
    let old_conditions = old.conditions.unwrap_or_default();
    let uid = pod.metadata.uid.as_deref().unwrap_or_default();
    let running = |started: Time| ContainerState {
        running: Some(ContainerStateRunning {
            started_at: Some(started),
        }),
        ..ContainerState::default()
    };
    let status_of = |c: &Container| {
        let image = c.image.clone().unwrap_or_default();
        ContainerStatus {
            name: c.name.clone(),
            image: normalize_image(&image),
            image_id: image_id(&image),
            container_id: Some(container_id(uid, &c.name)),
            ready: true,
            started: Some(true),
            restart_count: 0,
            state: Some(running(Time(now))),
            ..ContainerStatus::default()
        }
    };
    let init_statuses: Vec<ContainerStatus> = init_containers(pod)
        .iter()
        .map(|c| {
            let sidecar = c.restart_policy.as_deref() == Some("Always");
            let mut s = status_of(c);
            if !sidecar {
                s.started = Some(false);
                s.state = Some(ContainerState {
                    terminated: Some(ContainerStateTerminated {
                        exit_code: 0,
                        reason: Some("Completed".into()),
                        container_id: s.container_id.clone(),
                        started_at: Some(Time(now)),
                        finished_at: Some(Time(now)),
                        ..ContainerStateTerminated::default()
                    }),
                    ..ContainerState::default()
                });
            }
            s
        })
        .collect();
    let container_statuses: Vec<ContainerStatus> = containers(pod).iter().map(status_of).collect();

    let gates_ready = pod
        .spec
        .as_ref()
        .and_then(|s| s.readiness_gates.as_deref())
        .unwrap_or_default()
        .iter()
        .all(|g| {
            old_conditions
                .iter()
                .any(|c| c.type_ == g.condition_type && c.status == "True")
        });
    let mut conditions = vec![
        condition(
            &old_conditions,
            "PodReadyToStartContainers",
            true,
            None,
            now,
        ),
        condition(&old_conditions, "Initialized", true, None, now),
        condition(
            &old_conditions,
            "Ready",
            gates_ready,
            (!gates_ready).then_some("ReadinessGatesNotReady"),
            now,
        ),
        condition(&old_conditions, "ContainersReady", true, None, now),
        old_conditions
            .iter()
            .find(|c| c.type_ == "PodScheduled" && c.status == "True")
            .cloned()
            .unwrap_or_else(|| condition(&old_conditions, "PodScheduled", true, None, now)),
    ];
    conditions.extend(
        old_conditions
            .iter()
            .filter(|c| !KUBELET_CONDITIONS.contains(&c.type_.as_str()))
            .cloned(),
    );

    let pod_ip = if host_network(pod) { host_ip } else { pod_ip }.to_string();
    PodStatus {
        phase: Some("Running".into()),
        conditions: Some(conditions),
        host_ip: Some(host_ip.to_string()),
        host_ips: Some(vec![HostIP {
            ip: host_ip.to_string(),
        }]),
        pod_ip: Some(pod_ip.clone()),
        pod_ips: Some(vec![PodIP { ip: pod_ip }]),
        start_time: Some(old.start_time.unwrap_or(Time(now))),
        container_statuses: Some(container_statuses),
        init_container_statuses: (!init_statuses.is_empty()).then_some(init_statuses),
        qos_class: old.qos_class,
        nominated_node_name: old.nominated_node_name,
        ..PodStatus::default()
    }
}

/// The `pods/status` patch reporting `status`; the UID makes it fail on a pod of the same
/// name created meanwhile.
pub fn status_patch(pod: &Pod, status: &PodStatus) -> serde_json::Value {
    serde_json::json!({
        "metadata": { "uid": pod.metadata.uid },
        "status": status,
    })
}

/// The pod addresses in use on each simulated node, by pod UID. Host addresses 2..=254 of
/// each node's /24 are handed out lowest first (1 is the node's bridge, by convention).
#[derive(Debug, Default)]
pub struct IpPool {
    by_uid: HashMap<String, (usize, u8)>,
    taken: HashMap<usize, [u64; 4]>,
}

fn bit(host: u8) -> (usize, u64) {
    ((host / 64) as usize, 1u64 << (host % 64))
}

impl IpPool {
    /// The host part held by pod `uid`, if any.
    pub fn get(&self, uid: &str) -> Option<u8> {
        self.by_uid.get(uid).map(|&(_, h)| h)
    }

    /// Records that pod `uid` on node `node` already has host address `host` (found in its
    /// status after a restart). Ignored if that address is held by another pod.
    pub fn adopt(&mut self, node: usize, uid: &str, host: u8) {
        if self.by_uid.contains_key(uid) || !(2..=254).contains(&host) {
            return;
        }
        let words = self.taken.entry(node).or_default();
        let (w, b) = bit(host);
        if words[w] & b == 0 {
            words[w] |= b;
            self.by_uid.insert(uid.to_owned(), (node, host));
        }
    }

    /// The host address of pod `uid` on node `node`: the one it holds, else the lowest free
    /// one; `None` if the node's range is full.
    pub fn assign(&mut self, node: usize, uid: &str) -> Option<u8> {
        if let Some(&(_, h)) = self.by_uid.get(uid) {
            return Some(h);
        }
        let words = self.taken.entry(node).or_default();
        let host = (2..=254u8).find(|&h| {
            let (w, b) = bit(h);
            words[w] & b == 0
        })?;
        let (w, b) = bit(host);
        words[w] |= b;
        self.by_uid.insert(uid.to_owned(), (node, host));
        Some(host)
    }

    /// Frees pod `uid`'s address.
    pub fn release(&mut self, uid: &str) {
        if let Some((node, host)) = self.by_uid.remove(uid) {
            let (w, b) = bit(host);
            if let Some(words) = self.taken.get_mut(&node) {
                words[w] &= !b;
                if words.iter().all(|&x| x == 0) {
                    self.taken.remove(&node);
                }
            }
        }
    }

    /// Frees the address of every pod for which `keep` is false.
    pub fn retain(&mut self, mut keep: impl FnMut(&str) -> bool) {
        let gone: Vec<String> = self.by_uid.keys().filter(|u| !keep(u)).cloned().collect();
        for uid in gone {
            self.release(&uid);
        }
    }

    /// How many pods hold an address.
    pub fn len(&self) -> usize {
        self.by_uid.len()
    }

    /// Whether no pod holds an address.
    pub fn is_empty(&self) -> bool {
        self.by_uid.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn pod(v: serde_json::Value) -> Pod {
        serde_json::from_value(v).unwrap()
    }

    fn basic() -> Pod {
        pod(json!({
            "metadata": {"name": "p", "namespace": "default", "uid": "uid-1"},
            "spec": {"nodeName": "sim-0", "containers": [
                {"name": "app", "image": "nginx"},
                {"name": "side", "image": "example.com/team/tool:v2"}
            ]},
            "status": {"phase": "Pending", "qosClass": "BestEffort", "conditions": [
                {"type": "PodScheduled", "status": "True",
                 "lastTransitionTime": "2025-01-01T00:00:00Z"}
            ]}
        }))
    }

    fn ts(s: &str) -> jiff::Timestamp {
        s.parse().unwrap()
    }

    #[test]
    fn decisions() {
        let mut p = basic();
        assert_eq!(decide(&p, false), PodAction::Start);
        assert_eq!(decide(&p, true), PodAction::Nothing);
        p.status = Some(running_status(
            &p,
            Ipv4Addr::new(10, 128, 0, 2),
            Ipv4Addr::new(10, 64, 0, 1),
            ts("2025-01-01T00:00:01Z"),
        ));
        assert!(is_running(&p));
        assert_eq!(decide(&p, false), PodAction::Nothing);
        p.metadata.deletion_timestamp = Some(Time(ts("2025-01-01T00:01:00Z")));
        p.metadata.deletion_grace_period_seconds = Some(30);
        assert_eq!(decide(&p, true), PodAction::Finish);
        p.metadata.deletion_grace_period_seconds = Some(0);
        assert_eq!(decide(&p, true), PodAction::Nothing);

        let mut done = basic();
        done.status.as_mut().unwrap().phase = Some("Succeeded".into());
        assert_eq!(decide(&done, false), PodAction::Nothing);

        // Running but a container is missing from the statuses: not running yet.
        let mut partial = basic();
        let mut status = running_status(
            &partial,
            Ipv4Addr::new(10, 128, 0, 2),
            Ipv4Addr::new(10, 64, 0, 1),
            ts("2025-01-01T00:00:01Z"),
        );
        status.container_statuses.as_mut().unwrap().pop();
        partial.status = Some(status);
        assert!(!is_running(&partial));
        assert_eq!(decide(&partial, false), PodAction::Start);
    }

    #[test]
    fn running_status_mirrors_a_kubelet() {
        let p = basic();
        let now = ts("2025-01-01T00:00:05Z");
        let s = running_status(
            &p,
            Ipv4Addr::new(10, 128, 0, 2),
            Ipv4Addr::new(10, 64, 0, 1),
            now,
        );
        assert_eq!(s.phase.as_deref(), Some("Running"));
        assert_eq!(s.pod_ip.as_deref(), Some("10.128.0.2"));
        assert_eq!(s.pod_ips.as_ref().unwrap()[0].ip, "10.128.0.2");
        assert_eq!(s.host_ip.as_deref(), Some("10.64.0.1"));
        assert_eq!(s.start_time, Some(Time(now)));
        assert_eq!(s.qos_class.as_deref(), Some("BestEffort"));
        let conds = s.conditions.as_ref().unwrap();
        let types: Vec<&str> = conds.iter().map(|c| c.type_.as_str()).collect();
        assert_eq!(types, KUBELET_CONDITIONS);
        assert!(conds.iter().all(|c| c.status == "True"));
        // The scheduler's condition keeps its time; the new ones start now.
        assert_eq!(
            conds[4].last_transition_time,
            Some(Time(ts("2025-01-01T00:00:00Z")))
        );
        assert_eq!(conds[2].last_transition_time, Some(Time(now)));
        let cs = s.container_statuses.as_ref().unwrap();
        assert_eq!(cs.len(), 2);
        assert!(cs.iter().all(|c| c.ready && c.started == Some(true)));
        assert!(cs.iter().all(|c| c.restart_count == 0));
        assert_eq!(cs[0].image, "docker.io/library/nginx:latest");
        assert!(
            cs[0]
                .image_id
                .starts_with("docker.io/library/nginx@sha256:")
        );
        assert_eq!(
            cs[0].image_id.len(),
            "docker.io/library/nginx@sha256:".len() + 64
        );
        assert!(cs[0].container_id.as_deref().unwrap().starts_with("sim://"));
        assert_ne!(cs[0].container_id, cs[1].container_id);
        assert_eq!(
            cs[0]
                .state
                .as_ref()
                .unwrap()
                .running
                .as_ref()
                .unwrap()
                .started_at,
            Some(Time(now))
        );
        assert!(s.init_container_statuses.is_none());
        let patch = status_patch(&p, &s);
        assert_eq!(patch["metadata"]["uid"], "uid-1");
        assert_eq!(patch["status"]["phase"], "Running");
        assert_eq!(patch["status"]["containerStatuses"][0]["ready"], true);
    }

    #[test]
    fn init_containers_complete_and_sidecars_run() {
        let p = pod(json!({
            "metadata": {"name": "p", "namespace": "default", "uid": "u"},
            "spec": {"nodeName": "sim-0",
                "initContainers": [
                    {"name": "setup", "image": "busybox"},
                    {"name": "proxy", "image": "envoy", "restartPolicy": "Always"}
                ],
                "containers": [{"name": "app", "image": "nginx"}]}
        }));
        let s = running_status(
            &p,
            Ipv4Addr::new(10, 128, 0, 3),
            Ipv4Addr::new(10, 64, 0, 1),
            ts("2025-01-01T00:00:05Z"),
        );
        let init = s.init_container_statuses.unwrap();
        let setup = init[0].state.as_ref().unwrap().terminated.as_ref().unwrap();
        assert_eq!(
            (setup.exit_code, setup.reason.as_deref()),
            (0, Some("Completed"))
        );
        assert_eq!(init[0].started, Some(false));
        assert!(init[1].state.as_ref().unwrap().running.is_some());
        // No PodScheduled condition before: one is added.
        assert!(
            s.conditions
                .unwrap()
                .iter()
                .any(|c| c.type_ == "PodScheduled" && c.status == "True")
        );
    }

    #[test]
    fn readiness_gates_decide_ready_and_other_conditions_stay() {
        let mut p = basic();
        p.spec.as_mut().unwrap().readiness_gates = Some(vec![
            serde_json::from_value(json!({"conditionType": "example.com/lb"})).unwrap(),
        ]);
        let now = ts("2025-01-01T00:00:05Z");
        let s = running_status(
            &p,
            Ipv4Addr::new(10, 128, 0, 2),
            Ipv4Addr::new(10, 64, 0, 1),
            now,
        );
        let ready = s
            .conditions
            .as_ref()
            .unwrap()
            .iter()
            .find(|c| c.type_ == "Ready")
            .unwrap();
        assert_eq!(ready.status, "False");
        assert_eq!(ready.reason.as_deref(), Some("ReadinessGatesNotReady"));

        p.status
            .as_mut()
            .unwrap()
            .conditions
            .as_mut()
            .unwrap()
            .push(
                serde_json::from_value(json!({"type": "example.com/lb", "status": "True"}))
                    .unwrap(),
            );
        let s = running_status(
            &p,
            Ipv4Addr::new(10, 128, 0, 2),
            Ipv4Addr::new(10, 64, 0, 1),
            now,
        );
        let conds = s.conditions.unwrap();
        assert_eq!(
            conds.iter().find(|c| c.type_ == "Ready").unwrap().status,
            "True"
        );
        assert_eq!(conds.last().unwrap().type_, "example.com/lb");
    }

    #[test]
    fn host_network_pods_get_the_node_address() {
        let mut p = basic();
        p.spec.as_mut().unwrap().host_network = Some(true);
        let s = running_status(
            &p,
            Ipv4Addr::new(10, 128, 0, 2),
            Ipv4Addr::new(10, 64, 0, 1),
            ts("2025-01-01T00:00:05Z"),
        );
        assert_eq!(s.pod_ip.as_deref(), Some("10.64.0.1"));
    }

    #[test]
    fn images_normalize_like_a_runtime() {
        assert_eq!(normalize_image("nginx"), "docker.io/library/nginx:latest");
        assert_eq!(
            normalize_image("nginx:1.27"),
            "docker.io/library/nginx:1.27"
        );
        assert_eq!(normalize_image("team/app"), "docker.io/team/app:latest");
        assert_eq!(
            normalize_image("registry.k8s.io/pause:3.10"),
            "registry.k8s.io/pause:3.10"
        );
        assert_eq!(
            normalize_image("localhost:5000/app"),
            "localhost:5000/app:latest"
        );
        assert_eq!(normalize_image("localhost/app"), "localhost/app:latest");
        assert_eq!(
            normalize_image("nginx@sha256:abc"),
            "docker.io/library/nginx@sha256:abc"
        );
        assert_eq!(
            image_id("nginx@sha256:abc"),
            "docker.io/library/nginx@sha256:abc"
        );
        assert!(image_id("localhost:5000/app:v1").starts_with("localhost:5000/app@sha256:"));
        assert_eq!(
            image_id("nginx"),
            image_id("docker.io/library/nginx:latest")
        );
    }

    #[test]
    fn ip_pool_hands_out_lowest_free_and_reuses() {
        let mut pool = IpPool::default();
        assert_eq!(pool.assign(0, "a"), Some(2));
        assert_eq!(pool.assign(0, "b"), Some(3));
        assert_eq!(pool.assign(1, "c"), Some(2));
        assert_eq!(pool.assign(0, "a"), Some(2));
        pool.release("a");
        assert_eq!(pool.get("a"), None);
        assert_eq!(pool.assign(0, "d"), Some(2));
        // An adopted address is skipped; one held by another pod is not adopted.
        pool.adopt(0, "e", 4);
        pool.adopt(0, "f", 4);
        assert_eq!(pool.get("f"), None);
        assert_eq!(pool.assign(0, "g"), Some(5));
        pool.retain(|u| u == "g");
        assert_eq!(pool.len(), 1);
        assert_eq!(pool.assign(0, "h"), Some(2));
        // A full node.
        let mut full = IpPool::default();
        for i in 0..253 {
            assert!(full.assign(7, &i.to_string()).is_some());
        }
        assert_eq!(full.assign(7, "extra"), None);
        assert_eq!(full.get("252"), Some(254));
    }

    #[test]
    fn hashes_are_stable() {
        assert_eq!(hash_hex(&[b"x"]), hash_hex(&[b"x"]));
        assert_ne!(hash_hex(&[b"x"]), hash_hex(&[b"y"]));
        assert_eq!(hash_hex(&[b"x"]).len(), 64);
    }
}
