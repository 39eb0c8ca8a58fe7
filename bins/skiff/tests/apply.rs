//! Integration tests: server-side apply and managed fields, driven by the real kubectl
//! against a real `skiff server` (same harness as `kubectl.rs`).

use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};

const KUBECTL: &str = "/usr/bin/kubectl";

struct Cluster {
    child: Child,
    kubeconfig: PathBuf,
    home: tempfile::TempDir,
    _data: tempfile::TempDir,
}

impl Cluster {
    fn start() -> Cluster {
        assert!(
            Path::new(KUBECTL).exists(),
            "these tests need the real kubectl at {KUBECTL}"
        );
        let data = tempfile::tempdir().unwrap();
        let mut child = Command::new(env!("CARGO_BIN_EXE_skiff"))
            .args([
                "server",
                "--bind-address",
                "127.0.0.1",
                "--secure-port",
                "0",
            ])
            .arg("--data-dir")
            .arg(data.path())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .unwrap();
        let stdout = child.stdout.take().unwrap();
        let mut lines = BufReader::new(stdout).lines();
        let mut kubeconfig = None;
        for line in lines.by_ref() {
            let line = line.unwrap();
            if let Some(p) = line.strip_prefix("Admin kubeconfig: ") {
                kubeconfig = Some(PathBuf::from(p));
            }
            if line.starts_with("Ready in") {
                break;
            }
        }
        // Keep draining the server's output so it never blocks on a full pipe.
        std::thread::spawn(move || for _ in lines {});
        Cluster {
            child,
            kubeconfig: kubeconfig.expect("the server printed its kubeconfig"),
            home: tempfile::tempdir().unwrap(),
            _data: data,
        }
    }

    fn run(&self, args: &[&str], stdin: Option<&str>) -> Output {
        let mut child = Command::new(KUBECTL)
            .args(args)
            .env("KUBECONFIG", &self.kubeconfig)
            .env("HOME", self.home.path())
            .env_remove("KUBECTL_EXTERNAL_DIFF")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let mut input = child.stdin.take().unwrap();
        if let Some(s) = stdin {
            input.write_all(s.as_bytes()).unwrap();
        }
        drop(input);
        child.wait_with_output().unwrap()
    }

    /// Runs kubectl and returns stdout, failing the test if it failed.
    fn ok(&self, args: &[&str]) -> String {
        self.ok_in(args, None)
    }

    fn ok_in(&self, args: &[&str], stdin: Option<&str>) -> String {
        let out = self.run(args, stdin);
        assert!(
            out.status.success(),
            "kubectl {args:?} failed: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap()
    }

    /// Runs kubectl expecting failure; returns stderr.
    fn fails(&self, args: &[&str], stdin: Option<&str>) -> String {
        let out = self.run(args, stdin);
        assert!(
            !out.status.success(),
            "kubectl {args:?} unexpectedly succeeded: {}",
            String::from_utf8_lossy(&out.stdout)
        );
        String::from_utf8(out.stderr).unwrap()
    }

    fn get(&self, what: &str, jsonpath: &str) -> String {
        self.ok(&["get", what, "web", "-o", &format!("jsonpath={jsonpath}")])
    }

    fn managed_fields(&self, what: &str) -> String {
        self.ok(&["get", what, "web", "-o", "yaml", "--show-managed-fields"])
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

const DEPLOYMENT: &str = "apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
  labels: {app: web, tier: front}
spec:
  replicas: 2
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec:
      containers:
      - name: nginx
        image: nginx:1.25
        ports: [{containerPort: 80}]
        env: [{name: A, value: '1'}, {name: B, value: '2'}]
";

const CONFIGMAP: &str = "apiVersion: v1
kind: ConfigMap
metadata:
  name: web
data:
  a: '1'
  b: '2'
";

/// The `managedFields` entries of a YAML dump as (manager, operation) pairs.
fn managers(yaml: &str) -> Vec<(String, String)> {
    let mut out = Vec::new();
    let mut manager = None;
    let mut operation = None;
    let mut in_managed = false;
    for line in yaml.lines() {
        if line.starts_with("  managedFields:") {
            in_managed = true;
            continue;
        }
        if in_managed && !line.starts_with("  ") {
            in_managed = false;
        }
        if !in_managed {
            continue;
        }
        let t = line.trim_start().trim_start_matches("- ");
        if let Some(m) = t.strip_prefix("manager: ") {
            manager = Some(m.to_owned());
        }
        if let Some(o) = t.strip_prefix("operation: ") {
            operation = Some(o.to_owned());
        }
        if line.starts_with("  - ")
            && let (Some(m), Some(o)) = (manager.take(), operation.take())
        {
            out.push((m, o));
        }
    }
    if let (Some(m), Some(o)) = (manager, operation) {
        out.push((m, o));
    }
    out.sort();
    out
}

fn has_manager(yaml: &str, manager: &str, operation: &str) -> bool {
    managers(yaml)
        .iter()
        .any(|(m, o)| m == manager && o == operation)
}

#[test]
fn server_side_apply_creates_keeps_and_prunes() {
    let c = Cluster::start();
    let out = c.ok_in(&["apply", "--server-side", "-f", "-"], Some(DEPLOYMENT));
    assert!(
        out.contains("deployment.apps/web serverside-applied"),
        "{out}"
    );
    let yaml = c.managed_fields("deploy");
    assert!(has_manager(&yaml, "kubectl", "Apply"), "{yaml}");
    assert!(
        yaml.contains("k:{\"name\":\"nginx\"}:")
            && yaml.contains("k:{\"containerPort\":80,\"protocol\":\"TCP\"}:")
            && yaml.contains("f:selector: {}"),
        "{yaml}"
    );
    // Without --show-managed-fields kubectl hides them.
    let plain = c.ok(&["get", "deploy", "web", "-o", "yaml"]);
    assert!(!plain.contains("managedFields"), "{plain}");

    // Re-applying the same configuration is a no-op.
    let rv = c.get("deploy", "{.metadata.resourceVersion}");
    let out = c.ok_in(&["apply", "--server-side", "-f", "-"], Some(DEPLOYMENT));
    assert!(out.contains("serverside-applied"), "{out}");
    assert_eq!(c.get("deploy", "{.metadata.resourceVersion}"), rv);

    // Fields no longer applied go away; the others stay.
    let smaller = DEPLOYMENT
        .replace(", tier: front", "")
        .replace(", {name: B, value: '2'}", "")
        .replace("nginx:1.25", "nginx:1.27");
    c.ok_in(&["apply", "--server-side", "-f", "-"], Some(&smaller));
    assert_eq!(
        c.get(
            "deploy",
            "{.metadata.labels} {.spec.template.spec.containers[0].env[*].name} {.spec.template.spec.containers[0].image} {.spec.replicas}"
        ),
        "{\"app\":\"web\"} A nginx:1.27 2"
    );

    // A field owned by another manager too survives its removal from the configuration.
    c.ok(&["label", "deploy", "web", "team=a"]);
    let yaml = c.managed_fields("deploy");
    assert!(has_manager(&yaml, "kubectl-label", "Update"), "{yaml}");
    c.ok_in(&["apply", "--server-side", "-f", "-"], Some(&smaller));
    assert_eq!(c.get("deploy", "{.metadata.labels.team}"), "a");

    // Maps merge key by key and a dropped key is removed.
    c.ok_in(&["apply", "--server-side", "-f", "-"], Some(CONFIGMAP));
    c.ok_in(
        &["apply", "--server-side", "-f", "-"],
        Some(&CONFIGMAP.replace("  b: '2'\n", "  c: '3'\n")),
    );
    assert_eq!(c.get("cm", "{.data}"), "{\"a\":\"1\",\"c\":\"3\"}");
}

#[test]
fn conflicts_need_force() {
    let c = Cluster::start();
    c.ok_in(&["apply", "--server-side", "-f", "-"], Some(DEPLOYMENT));
    c.ok(&["scale", "deploy", "web", "--replicas=5"]);
    let yaml = c.managed_fields("deploy");
    assert!(yaml.contains("subresource: scale"), "{yaml}");
    let err = c.fails(&["apply", "--server-side", "-f", "-"], Some(DEPLOYMENT));
    assert!(
        err.contains(
            "Apply failed with 1 conflict: conflict with \"kubectl\" with subresource \"scale\" using apps/v1: .spec.replicas"
        ),
        "{err}"
    );
    assert!(err.contains("--force-conflicts"), "{err}");
    assert_eq!(c.get("deploy", "{.spec.replicas}"), "5");
    // Applying the value the object has is no conflict.
    c.ok_in(
        &["apply", "--server-side", "-f", "-"],
        Some(&DEPLOYMENT.replace("replicas: 2", "replicas: 5")),
    );
    let out = c.ok_in(
        &["apply", "--server-side", "--force-conflicts", "-f", "-"],
        Some(DEPLOYMENT),
    );
    assert!(out.contains("serverside-applied"), "{out}");
    assert_eq!(c.get("deploy", "{.spec.replicas}"), "2");
    // The scaler lost its only field, so its entry is gone.
    let yaml = c.managed_fields("deploy");
    assert!(!yaml.contains("subresource: scale"), "{yaml}");

    // A client-side applied field is another manager's too.
    let cm = c.ok_in(&["apply", "-f", "-"], Some(CONFIGMAP));
    assert!(cm.contains("configmap/web created"), "{cm}");
    let err = c.fails(
        &["apply", "--server-side", "--field-manager=tool", "-f", "-"],
        Some(&CONFIGMAP.replace("b: '2'", "b: '9'")),
    );
    assert!(
        err.contains(
            "Apply failed with 1 conflict: conflict with \"kubectl-client-side-apply\" using v1: .data.b"
        ),
        "{err}"
    );
}

#[test]
fn client_side_and_server_side_apply_take_turns() {
    let c = Cluster::start();
    // Client-side first.
    let out = c.ok_in(&["apply", "-f", "-"], Some(DEPLOYMENT));
    assert!(out.contains("deployment.apps/web created"), "{out}");
    let yaml = c.managed_fields("deploy");
    assert!(
        has_manager(&yaml, "kubectl-client-side-apply", "Update"),
        "{yaml}"
    );
    // Then server-side, changing replicas: kubectl takes the fields over without conflict.
    let out = c.ok_in(
        &["apply", "--server-side", "-f", "-"],
        Some(&DEPLOYMENT.replace("replicas: 2", "replicas: 3")),
    );
    assert!(out.contains("serverside-applied"), "{out}");
    assert_eq!(c.get("deploy", "{.spec.replicas}"), "3");
    let yaml = c.managed_fields("deploy");
    assert!(has_manager(&yaml, "kubectl", "Apply"), "{yaml}");
    let last = c.get(
        "deploy",
        "{.metadata.annotations.kubectl\\.kubernetes\\.io/last-applied-configuration}",
    );
    assert!(last.contains("\"replicas\":3"), "{last}");
    // Then client-side again.
    let out = c.ok_in(
        &["apply", "-f", "-"],
        Some(&DEPLOYMENT.replace("replicas: 2", "replicas: 4")),
    );
    assert!(out.contains("deployment.apps/web configured"), "{out}");
    assert_eq!(c.get("deploy", "{.spec.replicas}"), "4");
    let yaml = c.managed_fields("deploy");
    assert!(has_manager(&yaml, "kubectl", "Apply"), "{yaml}");
    assert!(
        has_manager(&yaml, "kubectl-client-side-apply", "Update"),
        "{yaml}"
    );

    // Server-side first, then client-side.
    let out = c.ok_in(&["apply", "--server-side", "-f", "-"], Some(CONFIGMAP));
    assert!(out.contains("configmap/web serverside-applied"), "{out}");
    let out = c.ok_in(
        &["apply", "-f", "-"],
        Some(&CONFIGMAP.replace("b: '2'", "b: '5'")),
    );
    assert!(out.contains("configmap/web configured"), "{out}");
    assert_eq!(c.get("cm", "{.data.b}"), "5");
    let yaml = c.managed_fields("cm");
    assert!(has_manager(&yaml, "kubectl", "Apply"), "{yaml}");
    assert!(
        has_manager(&yaml, "kubectl-client-side-apply", "Update"),
        "{yaml}"
    );
    let unchanged = c.ok_in(
        &["apply", "-f", "-"],
        Some(&CONFIGMAP.replace("b: '2'", "b: '5'")),
    );
    assert!(unchanged.contains("configmap/web unchanged"), "{unchanged}");
}

#[test]
fn updates_record_their_managers() {
    let c = Cluster::start();
    c.ok_in(&["create", "-f", "-"], Some(CONFIGMAP));
    let yaml = c.managed_fields("cm");
    assert!(has_manager(&yaml, "kubectl-create", "Update"), "{yaml}");
    assert!(
        yaml.contains("f:a: {}") && yaml.contains("fieldsType: FieldsV1"),
        "{yaml}"
    );
    c.ok(&["annotate", "cm", "web", "note=x"]);
    c.ok(&["patch", "cm", "web", "-p", "{\"data\":{\"a\":\"9\"}}"]);
    let yaml = c.managed_fields("cm");
    assert_eq!(
        managers(&yaml),
        vec![
            ("kubectl-annotate".to_owned(), "Update".to_owned()),
            ("kubectl-create".to_owned(), "Update".to_owned()),
            ("kubectl-patch".to_owned(), "Update".to_owned()),
        ],
        "{yaml}"
    );
    // A patch that changes nothing keeps the object as it is.
    let out = c.ok(&["patch", "cm", "web", "-p", "{\"data\":{\"a\":\"9\"}}"]);
    assert!(out.contains("patched (no change)"), "{out}");
    // Clients may reset the managed fields explicitly.
    c.ok(&[
        "patch",
        "cm",
        "web",
        "--type=merge",
        "-p",
        "{\"metadata\":{\"managedFields\":[{}]}}",
    ]);
    let yaml = c.managed_fields("cm");
    assert!(managers(&yaml).is_empty(), "{yaml}");
}
