//! Integration tests: the scheduler that `skiff server` runs, driven through the real kubectl.
//! Nodes are plain Node objects (no kubelet is needed to bind pods).

mod common;
use common::Cluster;
use std::time::{Duration, Instant};

fn node(name: &str, zone: &str, cpu: &str, extra_labels: &str, taints: &str) -> String {
    format!(
        r#"apiVersion: v1
kind: Node
metadata:
  name: {name}
  labels:
    kubernetes.io/hostname: {name}
    topology.kubernetes.io/zone: {zone}
{extra_labels}
spec:
  taints: [{taints}]
status:
  capacity: {{cpu: "{cpu}", memory: 8Gi, pods: "110"}}
  allocatable: {{cpu: "{cpu}", memory: 8Gi, pods: "110"}}
  conditions:
  - {{type: Ready, status: "True"}}
"#
    )
}

fn pod(name: &str, cpu: &str, extra_spec: &str) -> String {
    format!(
        r#"apiVersion: v1
kind: Pod
metadata:
  name: {name}
  labels: {{app: web}}
spec:
{extra_spec}
  containers:
  - name: c
    image: busybox
    resources:
      requests: {{cpu: "{cpu}"}}
"#
    )
}

fn node_of(c: &Cluster, pod: &str) -> String {
    c.ok(&["get", "pod", pod, "-o", "jsonpath={.spec.nodeName}"])
}

/// Waits until `pod` is bound; returns its node.
fn wait_bound(c: &Cluster, pod: &str) -> String {
    let start = Instant::now();
    loop {
        let n = node_of(c, pod);
        if !n.is_empty() {
            return n;
        }
        assert!(
            start.elapsed() < Duration::from_secs(30),
            "{pod} was not scheduled: {}",
            c.ok(&["describe", "pod", pod])
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// Waits until kubectl describe shows `text` for `pod`.
fn wait_described(c: &Cluster, pod: &str, text: &str) -> String {
    let start = Instant::now();
    loop {
        let d = c.ok(&["describe", "pod", pod]);
        if d.contains(text) {
            return d;
        }
        assert!(
            start.elapsed() < Duration::from_secs(30),
            "no {text:?} for {pod}: {d}"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
}

#[test]
fn unmet_requirements_wait_for_a_matching_node() {
    let c = Cluster::start();
    for i in 1..=3 {
        c.ok_in(
            &["apply", "-f", "-"],
            Some(&node(&format!("n{i}"), "z1", "4", "", "")),
        );
    }
    c.ok_in(
        &["apply", "-f", "-"],
        Some(&pod("picky", "100m", "  nodeSelector: {disk: ssd}")),
    );
    let d = wait_described(&c, "picky", "FailedScheduling");
    assert!(
        d.contains("0/3 nodes are available: 3 node(s) didn't match Pod's node affinity/selector."),
        "{d}"
    );
    let cond = c.ok(&[
        "get",
        "pod",
        "picky",
        "-o",
        "jsonpath={.status.conditions[?(@.type==\"PodScheduled\")].reason}",
    ]);
    assert_eq!(cond, "Unschedulable");
    assert_eq!(node_of(&c, "picky"), "");

    // A node gets the label: the pod is scheduled there.
    c.ok(&["label", "node", "n2", "disk=ssd"]);
    assert_eq!(wait_bound(&c, "picky"), "n2");
    let d = wait_described(&c, "picky", "Successfully assigned default/picky to n2");
    assert!(d.contains("Scheduled"), "{d}");

    // Too big for any node: Insufficient cpu.
    c.ok_in(&["apply", "-f", "-"], Some(&pod("huge", "64", "")));
    let d = wait_described(&c, "huge", "FailedScheduling");
    assert!(
        d.contains("0/3 nodes are available: 3 Insufficient cpu."),
        "{d}"
    );
}

#[test]
fn taints_and_tolerations() {
    let c = Cluster::start();
    c.ok_in(
        &["apply", "-f", "-"],
        Some(&node(
            "tainted",
            "z1",
            "4",
            "",
            "{key: dedicated, value: gpu, effect: NoSchedule}",
        )),
    );
    c.ok_in(&["apply", "-f", "-"], Some(&pod("plain", "100m", "")));
    let d = wait_described(&c, "plain", "FailedScheduling");
    assert!(
        d.contains("0/1 nodes are available: 1 node(s) had untolerated taint {dedicated: gpu}."),
        "{d}"
    );
    c.ok_in(
        &["apply", "-f", "-"],
        Some(&pod(
            "tolerant",
            "100m",
            "  tolerations: [{key: dedicated, operator: Equal, value: gpu, effect: NoSchedule}]",
        )),
    );
    assert_eq!(wait_bound(&c, "tolerant"), "tainted");
    // Removing the taint lets the first pod in.
    c.ok(&["taint", "node", "tainted", "dedicated=gpu:NoSchedule-"]);
    assert_eq!(wait_bound(&c, "plain"), "tainted");
}

#[test]
fn a_workload_spreads_over_zones() {
    let c = Cluster::start();
    for (i, zone) in ["a", "a", "b", "b", "c", "c"].iter().enumerate() {
        c.ok_in(
            &["apply", "-f", "-"],
            Some(&node(&format!("n{i}"), zone, "16", "", "")),
        );
    }
    let spread = "  topologySpreadConstraints:\n  - {maxSkew: 1, topologyKey: topology.kubernetes.io/zone, whenUnsatisfiable: DoNotSchedule, labelSelector: {matchLabels: {app: web}}}";
    let mut docs = String::new();
    for i in 0..30 {
        docs.push_str(&pod(&format!("w{i}"), "100m", spread));
        docs.push_str("---\n");
    }
    c.ok_in(&["apply", "-f", "-"], Some(&docs));
    let mut per_zone = std::collections::BTreeMap::new();
    for i in 0..30 {
        let n = wait_bound(&c, &format!("w{i}"));
        let idx: usize = n[1..].parse().unwrap();
        *per_zone
            .entry(["a", "a", "b", "b", "c", "c"][idx])
            .or_insert(0) += 1;
    }
    assert_eq!(
        per_zone.values().copied().collect::<Vec<_>>(),
        vec![10, 10, 10]
    );
}

#[test]
fn a_high_priority_pod_preempts_a_low_one() {
    let c = Cluster::start();
    // The built-in classes exist from the start.
    let classes = c.ok(&["get", "priorityclasses"]);
    assert!(
        classes.contains("system-node-critical") && classes.contains("2000001000"),
        "{classes}"
    );
    c.ok(&["create", "priorityclass", "low", "--value=10"]);
    c.ok(&["create", "priorityclass", "high", "--value=1000"]);
    c.ok_in(
        &["apply", "-f", "-"],
        Some(&node("small", "z1", "1", "", "")),
    );
    c.ok_in(
        &["apply", "-f", "-"],
        Some(&pod("victim", "800m", "  priorityClassName: low")),
    );
    assert_eq!(wait_bound(&c, "victim"), "small");
    // The Priority admission resolved the class.
    assert_eq!(
        c.ok(&["get", "pod", "victim", "-o", "jsonpath={.spec.priority}"]),
        "10"
    );
    let err = c.fails(
        &["apply", "-f", "-"],
        Some(&pod("lost", "1m", "  priorityClassName: nope")),
    );
    assert!(
        err.contains("pods \"lost\" is forbidden: no PriorityClass with name nope was found"),
        "{err}"
    );

    c.ok_in(
        &["apply", "-f", "-"],
        Some(&pod("vip", "500m", "  priorityClassName: high")),
    );
    // The victim is marked and deleted; the preemptor is nominated to the node.
    let start = Instant::now();
    loop {
        let nominated = c.ok(&[
            "get",
            "pod",
            "vip",
            "-o",
            "jsonpath={.status.nominatedNodeName}",
        ]);
        let deleting = c.ok(&[
            "get",
            "pod",
            "victim",
            "-o",
            "jsonpath={.metadata.deletionTimestamp}",
        ]);
        if nominated == "small" && !deleting.is_empty() {
            break;
        }
        assert!(
            start.elapsed() < Duration::from_secs(30),
            "no preemption: {}",
            c.ok(&["describe", "pod", "vip"])
        );
        std::thread::sleep(Duration::from_millis(200));
    }
    let reason = c.ok(&[
        "get",
        "pod",
        "victim",
        "-o",
        "jsonpath={.status.conditions[?(@.type==\"DisruptionTarget\")].reason}",
    ]);
    assert_eq!(reason, "PreemptionByScheduler");
    // No kubelet finishes the graceful deletion here; once the victim is gone, the
    // preemptor takes its place.
    c.ok(&["delete", "pod", "victim", "--grace-period=0", "--force"]);
    assert_eq!(wait_bound(&c, "vip"), "small");
}
