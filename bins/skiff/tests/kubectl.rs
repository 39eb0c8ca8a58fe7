//! Integration tests: a real `skiff server` driven by the real kubectl.
//!
//! Each test starts its own server on a free loopback port with a temporary data directory and
//! runs `/usr/bin/kubectl` (which picks the bundled kubectl matching the server's minor version)
//! with a private HOME so discovery caches never leak between tests.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::Stdio;
use std::time::Duration;

mod common;
use common::{Cluster, KUBECTL, KUBECTL_1_32};

const DEPLOYMENT: &str = "apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
  labels: {app: web}
spec:
  replicas: 2
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec:
      containers:
      - name: nginx
        image: nginx:1.25
        env: [{name: A, value: '1'}, {name: B, value: '2'}]
---
apiVersion: v1
kind: ConfigMap
metadata:
  name: settings
  labels: {app: web, tier: config}
data:
  mode: fast
";

#[test]
fn version_discovery_and_builtin_objects() {
    let c = Cluster::start();
    let v = c.ok(&["version", "-o", "json"]);
    assert!(v.contains("\"minor\": \"33\""), "{v}");
    let resources = c.ok(&["api-resources"]);
    for line in [
        "pods ",
        "deployments ",
        "configmaps ",
        "namespaces ",
        "clusterroles ",
        "leases ",
        "endpointslices ",
        "horizontalpodautoscalers ",
    ] {
        assert!(
            resources.contains(line),
            "{line} missing from:\n{resources}"
        );
    }
    let ns = c.ok(&["get", "ns", "-o", "name"]);
    for n in ["default", "kube-system", "kube-public", "kube-node-lease"] {
        assert!(ns.contains(&format!("namespace/{n}")), "{ns}");
    }
    let svc = c.ok(&[
        "get",
        "svc",
        "kubernetes",
        "-o",
        "jsonpath={.spec.clusterIP}",
    ]);
    assert_eq!(svc, "10.43.0.1");
    // kubectl 1.32 works too.
    if Path::new(KUBECTL_1_32).exists() {
        let out = c.run_with(KUBECTL_1_32, &["get", "ns", "default"], None);
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
}

#[test]
fn apply_get_and_reapply_with_changes() {
    let c = Cluster::start();
    let out = c.ok_in(&["apply", "-f", "-"], Some(DEPLOYMENT));
    assert!(out.contains("deployment.apps/web created"), "{out}");
    assert!(out.contains("configmap/settings created"), "{out}");
    let again = c.ok_in(&["apply", "-f", "-"], Some(DEPLOYMENT));
    assert!(again.contains("deployment.apps/web unchanged"), "{again}");
    // Change the image and replicas, remove env B.
    let changed = DEPLOYMENT
        .replace("replicas: 2", "replicas: 3")
        .replace("nginx:1.25", "nginx:1.27")
        .replace(", {name: B, value: '2'}", "");
    let out = c.ok_in(&["apply", "-f", "-"], Some(&changed));
    assert!(out.contains("deployment.apps/web configured"), "{out}");
    let got = c.ok(&[
        "get", "deploy", "web", "-o",
        "jsonpath={.spec.replicas} {.spec.template.spec.containers[0].image} {.spec.template.spec.containers[0].env[*].name} {.metadata.generation}",
    ]);
    assert_eq!(got, "3 nginx:1.27 A 2");
    // Output formats and selectors.
    let wide = c.ok(&["get", "deploy", "-o", "wide"]);
    assert!(
        wide.contains("CONTAINERS") && wide.contains("nginx:1.27"),
        "{wide}"
    );
    let yaml = c.ok(&["get", "cm", "settings", "-o", "yaml"]);
    assert!(
        yaml.contains("mode: fast") && yaml.contains("resourceVersion:"),
        "{yaml}"
    );
    let labels = c.ok(&["get", "cm", "-l", "tier=config", "--show-labels"]);
    assert!(
        labels.contains("settings") && labels.contains("tier=config"),
        "{labels}"
    );
    let none = c.ok(&["get", "cm", "-l", "tier notin (config)", "-o", "name"]);
    assert!(!none.contains("settings"), "{none}");
    let by_field = c.ok(&[
        "get",
        "cm",
        "--field-selector",
        "metadata.name=settings",
        "-o",
        "name",
    ]);
    assert_eq!(by_field.trim(), "configmap/settings");
    let all = c.ok(&["get", "cm", "-A"]);
    assert!(
        all.contains("NAMESPACE") && all.contains("default"),
        "{all}"
    );
    let explain = c.ok(&["explain", "deployment.spec.replicas"]);
    assert!(
        explain.contains("replicas") && explain.contains("<integer>"),
        "{explain}"
    );
}

#[test]
fn label_annotate_patch_replace_edit_and_scale() {
    let c = Cluster::start();
    c.ok_in(&["create", "-f", "-"], Some(DEPLOYMENT));
    c.ok(&["label", "cm", "settings", "team=a"]);
    c.ok(&["annotate", "cm", "settings", "note=hello"]);
    let got = c.ok(&[
        "get",
        "cm",
        "settings",
        "-o",
        "jsonpath={.metadata.labels.team} {.metadata.annotations.note}",
    ]);
    assert_eq!(got, "a hello");
    c.ok(&["label", "cm", "settings", "team-"]);
    let got = c.ok(&["get", "cm", "settings", "-o", "jsonpath={.metadata.labels}"]);
    assert!(!got.contains("team"), "{got}");
    // Strategic merge keeps the other container fields and env entries.
    c.ok(&["patch", "deploy", "web", "-p",
        r#"{"spec":{"template":{"spec":{"containers":[{"name":"nginx","env":[{"name":"C","value":"3"}]}]}}}}"#]);
    let env = c.ok(&[
        "get",
        "deploy",
        "web",
        "-o",
        "jsonpath={.spec.template.spec.containers[0].env[*].name}",
    ]);
    assert_eq!(env, "A B C");
    c.ok(&[
        "patch",
        "cm",
        "settings",
        "--type",
        "merge",
        "-p",
        r#"{"data":{"extra":"1"}}"#,
    ]);
    c.ok(&[
        "patch",
        "cm",
        "settings",
        "--type",
        "json",
        "-p",
        r#"[{"op":"remove","path":"/data/mode"}]"#,
    ]);
    let data = c.ok(&["get", "cm", "settings", "-o", "jsonpath={.data}"]);
    assert_eq!(data, r#"{"extra":"1"}"#);
    let err = c.fails(
        &[
            "patch",
            "cm",
            "settings",
            "--type",
            "json",
            "-p",
            r#"[{"op":"remove","path":"/data/nope"}]"#,
        ],
        None,
    );
    assert!(err.contains("invalid"), "{err}");
    let noop = c.ok(&[
        "patch",
        "cm",
        "settings",
        "--type",
        "merge",
        "-p",
        r#"{"data":{"extra":"1"}}"#,
    ]);
    assert!(noop.contains("(no change)"), "{noop}");
    // Replace with the current resourceVersion works; a stale one conflicts.
    let current = c.ok(&["get", "cm", "settings", "-o", "json"]);
    let replaced = current.replace("\"extra\": \"1\"", "\"extra\": \"2\"");
    c.ok_in(&["replace", "-f", "-"], Some(&replaced));
    let stale = c.fails(&["replace", "-f", "-"], Some(&replaced));
    assert!(
        stale.contains("Conflict") && stale.contains("the object has been modified"),
        "{stale}"
    );
    // edit through an EDITOR script.
    let editor = c.home.path().join("editor.sh");
    std::fs::write(
        &editor,
        "#!/bin/sh\nsed -i 's/extra: \"2\"/extra: \"edited\"/' \"$1\"\n",
    )
    .unwrap();
    std::fs::set_permissions(&editor, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    let out = c
        .command(KUBECTL, &["edit", "cm", "settings"])
        .env("EDITOR", &editor)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(
        c.ok(&["get", "cm", "settings", "-o", "jsonpath={.data.extra}"]),
        "edited"
    );
    // scale goes through the scale subresource.
    c.ok(&["scale", "deploy", "web", "--replicas=5"]);
    assert_eq!(
        c.ok(&["get", "deploy", "web", "-o", "jsonpath={.spec.replicas}"]),
        "5"
    );
}

#[test]
fn errors_match_upstream() {
    let c = Cluster::start();
    c.ok_in(&["create", "-f", "-"], Some(DEPLOYMENT));
    let exists = c.fails(&["create", "-f", "-"], Some(DEPLOYMENT));
    assert!(
        exists.contains("Error from server (AlreadyExists)"),
        "{exists}"
    );
    assert!(
        exists.contains("deployments.apps \"web\" already exists"),
        "{exists}"
    );
    let missing = c.fails(&["get", "cm", "nope"], None);
    assert!(
        missing.contains("Error from server (NotFound): configmaps \"nope\" not found"),
        "{missing}"
    );
    let invalid = c.fails(
        &["create", "-f", "-"],
        Some(
            "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: Bad_Name\n  labels: {'x y': z}\n",
        ),
    );
    assert!(
        invalid.contains("The ConfigMap \"Bad_Name\" is invalid"),
        "{invalid}"
    );
    assert!(
        invalid.contains("metadata.name: Invalid value: \"Bad_Name\""),
        "{invalid}"
    );
    assert!(
        invalid.contains("metadata.labels: Invalid value: \"x y\""),
        "{invalid}"
    );
    let unknown = c.fails(
        &["create", "-f", "-"],
        Some("apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: u\nfoo: bar\n"),
    );
    assert!(
        unknown.contains("strict decoding error: unknown field \"foo\""),
        "{unknown}"
    );
    let wrong_type = c.fails(&["get", "foos"], None);
    assert!(
        wrong_type.contains("doesn't have a resource type \"foos\""),
        "{wrong_type}"
    );
}

#[test]
fn delete_and_watch() {
    let c = Cluster::start();
    c.ok_in(&["create", "-f", "-"], Some(DEPLOYMENT));
    let mut watch = c
        .command(KUBECTL, &["get", "cm", "-w", "--request-timeout=60s"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // Collect the watch's output on a thread; wait until its initial list has been printed.
    let (tx, rx) = std::sync::mpsc::channel::<String>();
    let stdout = watch.stdout.take().unwrap();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    let mut text = String::new();
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    while !text.contains("settings") {
        let line = rx
            .recv_timeout(deadline.saturating_duration_since(std::time::Instant::now()))
            .expect("the watch printed its initial list");
        text.push_str(&line);
        text.push('\n');
    }
    c.ok_in(
        &["create", "-f", "-"],
        Some("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: watched}\n"),
    );
    c.ok(&["delete", "cm", "watched"]);
    // The ADDED and DELETED rows of "watched" both arrive.
    while text.matches("watched").count() < 2 {
        let line = rx
            .recv_timeout(deadline.saturating_duration_since(std::time::Instant::now()))
            .unwrap_or_else(|_| panic!("watch events missing; got:\n{text}"));
        text.push_str(&line);
        text.push('\n');
    }
    let _ = watch.kill();
    let _ = watch.wait();
    assert!(text.contains("settings"), "{text}");

    // Orphan and foreground deletions leave their finalizer for the garbage collector.
    let out = c.ok(&[
        "delete",
        "deploy",
        "web",
        "--cascade=orphan",
        "--wait=false",
    ]);
    assert!(out.contains("deleted"), "{out}");
    let fin = c.ok(&[
        "get",
        "deploy",
        "web",
        "-o",
        "jsonpath={.metadata.finalizers} {.metadata.deletionTimestamp}",
    ]);
    assert!(fin.contains("orphan"), "{fin}");
    // Removing the finalizer finishes the deletion.
    c.ok(&[
        "patch",
        "deploy",
        "web",
        "--type",
        "merge",
        "-p",
        r#"{"metadata":{"finalizers":null}}"#,
    ]);
    let gone = c.fails(&["get", "deploy", "web"], None);
    assert!(gone.contains("NotFound"), "{gone}");
    let out = c.ok(&["delete", "cm", "settings"]);
    assert!(out.contains("configmap \"settings\" deleted"), "{out}");
    // A namespace being deleted is Terminating (its controller finishes it) and refuses content.
    c.ok_in(
        &["create", "-f", "-"],
        Some("apiVersion: v1\nkind: Namespace\nmetadata: {name: doomed}\n"),
    );
    c.ok(&["delete", "ns", "doomed", "--wait=false"]);
    assert_eq!(
        c.ok(&["get", "ns", "doomed", "-o", "jsonpath={.status.phase}"]),
        "Terminating"
    );
    let refused = c.fails(
        &["create", "-n", "doomed", "-f", "-"],
        Some("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: late}\n"),
    );
    assert!(
        refused.contains("because it is being terminated"),
        "{refused}"
    );
}
