//! Integration tests: the subresources that act rather than store, driven by the real kubectl —
//! `pods/binding` and the legacy `bindings` collection, `pods/eviction` with
//! PodDisruptionBudgets (also through `kubectl drain`, whose typed client posts protobuf),
//! `namespaces/finalize`, and `pods/ephemeralcontainers` through `kubectl debug`.

mod common;
use common::Cluster;

const NODE: &str = "apiVersion: v1\nkind: Node\nmetadata:\n  name: n1\n";

fn pod(name: &str, labels: &str) -> String {
    format!(
        "apiVersion: v1\nkind: Pod\nmetadata:\n  name: {name}\n  labels: {{{labels}}}\nspec:\n  containers:\n  - name: c\n    image: busybox\n"
    )
}

fn jsonpath(c: &Cluster, what: &[&str], path: &str) -> String {
    let mut args = vec!["get"];
    args.extend(what);
    let arg = format!("-o=jsonpath={path}");
    args.push(&arg);
    c.ok(&args)
}

fn binding(pod: &str, node: &str) -> String {
    format!(
        r#"{{"apiVersion":"v1","kind":"Binding","metadata":{{"name":"{pod}","annotations":{{"bound-by":"test"}}}},"target":{{"apiVersion":"v1","kind":"Node","name":"{node}"}}}}"#
    )
}

#[test]
fn binding_assigns_a_pod_once() {
    let c = Cluster::start();
    c.ok_in(&["apply", "-f", "-"], Some(NODE));
    c.ok_in(&["apply", "-f", "-"], Some(&pod("p1", "app: a")));
    c.ok_in(
        &[
            "create",
            "--raw",
            "/api/v1/namespaces/default/pods/p1/binding",
            "-f",
            "-",
        ],
        Some(&binding("p1", "n1")),
    );
    assert_eq!(jsonpath(&c, &["pod", "p1"], "{.spec.nodeName}"), "n1");
    assert_eq!(
        jsonpath(&c, &["pod", "p1"], "{.metadata.annotations.bound-by}"),
        "test"
    );
    assert_eq!(
        jsonpath(
            &c,
            &["pod", "p1"],
            "{.status.conditions[?(@.type==\"PodScheduled\")].status}"
        ),
        "True"
    );
    // A second binding conflicts, as upstream.
    let err = c.fails(
        &[
            "create",
            "--raw",
            "/api/v1/namespaces/default/pods/p1/binding",
            "-f",
            "-",
        ],
        Some(&binding("p1", "n2")),
    );
    assert!(
        err.contains("pod p1 is already assigned to node \\\"n1\\\"")
            || err.contains("pod p1 is already assigned to node \"n1\""),
        "{err}"
    );
    // The name on the URL must match the body's.
    let err = c.fails(
        &[
            "create",
            "--raw",
            "/api/v1/namespaces/default/pods/p1/binding",
            "-f",
            "-",
        ],
        Some(&binding("other", "n1")),
    );
    assert!(
        err.contains("name in URL does not match name in Binding object"),
        "{err}"
    );

    // The legacy collection takes the pod's name from the body; nothing of kind Binding is kept.
    c.ok_in(&["apply", "-f", "-"], Some(&pod("p2", "app: b")));
    c.ok_in(
        &[
            "create",
            "--raw",
            "/api/v1/namespaces/default/bindings",
            "-f",
            "-",
        ],
        Some(&binding("p2", "n1")),
    );
    assert_eq!(jsonpath(&c, &["pod", "p2"], "{.spec.nodeName}"), "n1");
    // kubectl shows the bound pods on the node.
    let wide = c.ok(&[
        "get",
        "pods",
        "-o",
        "wide",
        "--field-selector",
        "spec.nodeName=n1",
    ]);
    assert!(wide.contains("p1") && wide.contains("p2"), "{wide}");
}

fn evict(c: &Cluster, name: &str) -> std::process::Output {
    let body = format!(
        r#"{{"apiVersion":"policy/v1","kind":"Eviction","metadata":{{"name":"{name}","namespace":"default"}}}}"#
    );
    c.run_with(
        common::KUBECTL,
        &[
            "create",
            "--raw",
            &format!("/api/v1/namespaces/default/pods/{name}/eviction"),
            "-f",
            "-",
        ],
        Some(&body),
    )
}

fn set_budget_status(c: &Cluster, observed: i64, allowed: i64) {
    let patch = format!(
        r#"{{"status":{{"observedGeneration":{observed},"disruptionsAllowed":{allowed},"currentHealthy":1,"desiredHealthy":1,"expectedPods":1}}}}"#
    );
    c.ok(&[
        "patch",
        "pdb",
        "budget",
        "--subresource=status",
        "--type=merge",
        "-p",
        &patch,
    ]);
}

#[test]
fn eviction_honours_disruption_budgets() {
    let c = Cluster::start();
    // A pending pod needs no budget: evicting it deletes it.
    c.ok_in(&["apply", "-f", "-"], Some(&pod("pending", "app: a")));
    let out = evict(&c, "pending");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("\"status\":\"Success\""),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    c.fails(&["get", "pod", "pending"], None);

    // A running pod is guarded by its budget.
    c.ok_in(&["apply", "-f", "-"], Some(&pod("web", "app: a")));
    c.ok(&[
        "patch",
        "pod",
        "web",
        "--subresource=status",
        "--type=merge",
        "-p",
        r#"{"status":{"phase":"Running","conditions":[{"type":"Ready","status":"True"}]}}"#,
    ]);
    c.ok(&[
        "create",
        "poddisruptionbudget",
        "budget",
        "--selector=app=a",
        "--min-available=1",
    ]);
    // Not yet processed by the disruption controller: 429, retry later.
    let out = evict(&c, "web");
    let err = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(!out.status.success());
    assert!(err.contains("disruption budget"), "{err}");

    set_budget_status(&c, 1, 0);
    let out = evict(&c, "web");
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(
        err.contains("Cannot evict pod as it would violate the pod's disruption budget"),
        "{err}"
    );
    c.ok(&["get", "pod", "web"]);

    set_budget_status(&c, 1, 1);
    let out = evict(&c, "web");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    c.fails(&["get", "pod", "web"], None);
    assert_eq!(
        jsonpath(&c, &["pdb", "budget"], "{.status.disruptionsAllowed}"),
        "0"
    );
    assert!(
        jsonpath(&c, &["pdb", "budget"], "{.status.disruptedPods}").contains("web"),
        "the evicted pod is recorded for the disruption controller"
    );
}

#[test]
fn drain_evicts_through_protobuf() {
    let c = Cluster::start();
    c.ok_in(&["apply", "-f", "-"], Some(NODE));
    c.ok_in(&["apply", "-f", "-"], Some(&pod("d1", "app: d")));
    c.ok_in(
        &[
            "create",
            "--raw",
            "/api/v1/namespaces/default/pods/d1/binding",
            "-f",
            "-",
        ],
        Some(&binding("d1", "n1")),
    );
    let out = c.ok(&[
        "drain",
        "n1",
        "--force",
        "--grace-period=0",
        "--timeout=60s",
        "-v=8",
    ]);
    assert!(out.contains("node/n1 drained"), "{out}");
    assert_eq!(
        jsonpath(&c, &["node", "n1"], "{.spec.unschedulable}"),
        "true"
    );
    c.fails(&["get", "pod", "d1"], None);
    c.ok(&["uncordon", "n1"]);
    assert_eq!(jsonpath(&c, &["node", "n1"], "{.spec.unschedulable}"), "");
}

#[test]
fn namespace_finalize_and_ephemeral_containers() {
    let c = Cluster::start();
    c.ok(&["create", "namespace", "fin"]);
    assert_eq!(
        jsonpath(&c, &["ns", "fin"], "{.spec.finalizers}"),
        "[\"kubernetes\"]"
    );
    // A plain update keeps spec.finalizers; the finalize subresource changes them.
    let ns = r#"{"apiVersion":"v1","kind":"Namespace","metadata":{"name":"fin"},"spec":{"finalizers":[]}}"#;
    c.ok_in(&["replace", "-f", "-"], Some(ns));
    assert_eq!(
        jsonpath(&c, &["ns", "fin"], "{.spec.finalizers}"),
        "[\"kubernetes\"]"
    );
    c.ok_in(
        &[
            "replace",
            "--raw",
            "/api/v1/namespaces/fin/finalize",
            "-f",
            "-",
        ],
        Some(ns),
    );
    assert_eq!(jsonpath(&c, &["ns", "fin"], "{.spec.finalizers}"), "");

    // kubectl debug adds an ephemeral container through pods/ephemeralcontainers.
    c.ok_in(&["apply", "-f", "-"], Some(&pod("app", "app: e")));
    c.ok(&["debug", "app", "--image=busybox", "-c", "dbg", "--target=c"]);
    assert_eq!(
        jsonpath(&c, &["pod", "app"], "{.spec.ephemeralContainers[0].name}"),
        "dbg"
    );
    assert_eq!(
        jsonpath(
            &c,
            &["pod", "app"],
            "{.spec.ephemeralContainers[0].targetContainerName}"
        ),
        "c"
    );
    // Ephemeral containers cannot be added through a plain update.
    let err = c.fails(
        &[
            "patch",
            "pod",
            "app",
            "--type=json",
            "-p",
            r#"[{"op":"add","path":"/spec/ephemeralContainers/-","value":{"name":"x","image":"busybox"}}]"#,
        ],
        None,
    );
    assert!(err.contains("pod updates may not change fields"), "{err}");
}
