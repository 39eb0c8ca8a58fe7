//! Integration tests: kubectl's typed-client commands (`kubectl create <generator>`), which
//! POST `application/vnd.kubernetes.protobuf` bodies, against a real `skiff server`; the stored
//! objects are read back as JSON with jsonpath.

use std::io::{BufRead, BufReader};
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

    fn run(&self, args: &[&str]) -> Output {
        Command::new(KUBECTL)
            .args(args)
            .env("KUBECONFIG", &self.kubeconfig)
            .env("HOME", self.home.path())
            .stdin(Stdio::null())
            .output()
            .unwrap()
    }

    /// Runs kubectl and returns stdout, failing the test if it failed.
    fn ok(&self, args: &[&str]) -> String {
        let out = self.run(args);
        assert!(
            out.status.success(),
            "kubectl {args:?} failed: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap()
    }

    /// `kubectl get <what> -o jsonpath=<path>`.
    fn jsonpath(&self, what: &[&str], path: &str) -> String {
        let mut args = vec!["get"];
        args.extend(what);
        let arg = format!("-o=jsonpath={path}");
        args.push(&arg);
        self.ok(&args)
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[test]
fn generators_post_protobuf_and_store_the_fields() {
    let c = Cluster::start();

    // The body really is protobuf (kubectl logs the request headers at -v=8).
    let out = c.run(&["create", "configmap", "c1", "--from-literal=a=b", "-v=8"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let log = String::from_utf8_lossy(&out.stderr);
    assert!(
        log.contains("application/vnd.kubernetes.protobuf"),
        "kubectl sent no protobuf body: {log}"
    );
    assert_eq!(c.jsonpath(&["cm", "c1"], "{.data.a}"), "b");
    assert_eq!(
        c.jsonpath(&["cm", "c1"], "{.metadata.namespace}"),
        "default"
    );

    c.ok(&[
        "create",
        "secret",
        "generic",
        "s1",
        "--from-literal=pw=x",
        "--type=kubernetes.io/basic-auth",
    ]);
    // Secret data travels as protobuf bytes and is stored base64-encoded.
    assert_eq!(c.jsonpath(&["secret", "s1"], "{.data.pw}"), "eA==");
    assert_eq!(
        c.jsonpath(&["secret", "s1"], "{.type}"),
        "kubernetes.io/basic-auth"
    );

    c.ok(&["create", "namespace", "n1"]);
    assert_eq!(c.jsonpath(&["ns", "n1"], "{.status.phase}"), "Active");
    assert!(!c.jsonpath(&["ns", "n1"], "{.metadata.uid}").is_empty());

    c.ok(&[
        "create",
        "deployment",
        "d1",
        "--image=nginx:1.25",
        "--replicas=2",
        "--port=80",
        "-n",
        "n1",
    ]);
    let d = ["deploy", "d1", "-n", "n1"];
    assert_eq!(c.jsonpath(&d, "{.spec.replicas}"), "2");
    assert_eq!(c.jsonpath(&d, "{.spec.selector.matchLabels.app}"), "d1");
    assert_eq!(
        c.jsonpath(&d, "{.spec.template.spec.containers[0].image}"),
        "nginx:1.25"
    );
    assert_eq!(
        c.jsonpath(
            &d,
            "{.spec.template.spec.containers[0].ports[0].containerPort}"
        ),
        "80"
    );
    // Go writes unset non-pointer fields as zeros; they must not be stored.
    let container = c.jsonpath(&d, "{.spec.template.spec.containers[0]}");
    assert!(
        !container.contains("\"tty\"") && !container.contains("\"workingDir\""),
        "{container}"
    );
    assert_eq!(c.jsonpath(&d, "{.metadata.generateName}"), "");

    // A pointer field's zero is meaningful and kept.
    c.ok(&[
        "create",
        "deployment",
        "d0",
        "--image=nginx",
        "--replicas=0",
    ]);
    assert_eq!(c.jsonpath(&["deploy", "d0"], "{.spec.replicas}"), "0");

    c.ok(&[
        "create",
        "job",
        "j1",
        "--image=busybox",
        "--",
        "echo",
        "hello world",
    ]);
    assert_eq!(
        c.jsonpath(
            &["job", "j1"],
            "{.spec.template.spec.containers[0].command}"
        ),
        r#"["echo","hello world"]"#
    );
    assert_eq!(
        c.jsonpath(&["job", "j1"], "{.spec.template.spec.restartPolicy}"),
        "Never"
    );

    // IntOrString as a string, through a PodDisruptionBudget.
    c.ok(&[
        "create",
        "poddisruptionbudget",
        "p1",
        "--selector=app=x",
        "--min-available=50%",
    ]);
    assert_eq!(c.jsonpath(&["pdb", "p1"], "{.spec.minAvailable}"), "50%");
}
