//! Integration test: Service cluster IP and node port allocation seen through the real kubectl
//! against a real `skiff server` (same harness as `kubectl.rs`).

use std::io::{BufRead, BufReader, Write};
use std::net::Ipv4Addr;
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
    fn ok(&self, args: &[&str], stdin: Option<&str>) -> String {
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
}

impl Drop for Cluster {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

const SERVICES: &str = "apiVersion: v1
kind: Service
metadata: {name: web}
spec:
  selector: {app: web}
  ports: [{port: 80, targetPort: 8080}]
---
apiVersion: v1
kind: Service
metadata: {name: np}
spec:
  type: NodePort
  selector: {app: np}
  ports: [{name: http, port: 80}, {name: metrics, port: 9090, nodePort: 30909}]
---
apiVersion: v1
kind: Service
metadata: {name: fixed}
spec:
  clusterIP: 10.43.0.50
  ports: [{port: 53, protocol: UDP}]
";

fn with_ip(name: &str, ip: &str) -> String {
    format!(
        "apiVersion: v1\nkind: Service\nmetadata: {{name: {name}}}\nspec:\n  clusterIP: {ip}\n  ports: [{{port: 80}}]\n"
    )
}

fn in_service_range(ip: &str) -> bool {
    let ip: Ipv4Addr = ip.parse().unwrap();
    let [a, b, c, d] = ip.octets();
    (a, b) == (10, 43) && ip != Ipv4Addr::new(10, 43, 0, 0) && (c, d) != (255, 255)
}

#[test]
fn services_get_cluster_ips_and_node_ports() {
    let c = Cluster::start();
    let created = c.ok(&["create", "-f", "-"], Some(SERVICES));
    assert!(created.contains("service/web created"), "{created}");
    assert!(created.contains("service/np created"), "{created}");

    let get = |name: &str, path: &str| {
        c.ok(
            &["get", "svc", name, "-o", &format!("jsonpath={path}")],
            None,
        )
    };
    let web_ip = get("web", "{.spec.clusterIP}");
    let np_ip = get("np", "{.spec.clusterIP}");
    assert!(in_service_range(&web_ip), "{web_ip}");
    assert!(in_service_range(&np_ip), "{np_ip}");
    assert_ne!(web_ip, np_ip);
    assert_ne!(
        web_ip, "10.43.0.1",
        "the kubernetes Service's address is reserved"
    );
    assert_eq!(get("web", "{.spec.clusterIPs[0]}"), web_ip);
    assert_eq!(get("fixed", "{.spec.clusterIP}"), "10.43.0.50");
    assert_eq!(get("web", "{.spec.ports[0].protocol}"), "TCP");
    assert_eq!(get("web", "{.spec.ipFamilyPolicy}"), "SingleStack");
    let node_ports = get("np", "{.spec.ports[*].nodePort}");
    let node_ports: Vec<u16> = node_ports
        .split_whitespace()
        .map(|p| p.parse().unwrap())
        .collect();
    assert_eq!(node_ports.len(), 2);
    assert!((30000..=32767).contains(&node_ports[0]), "{node_ports:?}");
    assert_eq!(node_ports[1], 30909);
    assert_eq!(get("np", "{.spec.externalTrafficPolicy}"), "Cluster");

    let wide = c.ok(&["get", "svc", "-o", "wide"], None);
    let header = wide.lines().next().unwrap();
    for col in [
        "NAME",
        "TYPE",
        "CLUSTER-IP",
        "EXTERNAL-IP",
        "PORT(S)",
        "AGE",
        "SELECTOR",
    ] {
        assert!(header.contains(col), "{wide}");
    }
    let row = |name: &str| {
        wide.lines()
            .find(|l| l.split_whitespace().next() == Some(name))
            .unwrap_or_else(|| panic!("no {name} row in {wide}"))
            .to_owned()
    };
    assert!(
        row("web").contains(&web_ip) && row("web").contains("80/TCP"),
        "{wide}"
    );
    let np_row = row("np");
    assert!(
        np_row.contains("NodePort") && np_row.contains(&np_ip),
        "{wide}"
    );
    assert!(
        np_row.contains(&format!("80:{}/TCP,9090:30909/TCP", node_ports[0])),
        "{wide}"
    );
    assert!(row("kubernetes").contains("10.43.0.1"), "{wide}");

    // Explicit addresses already held are refused with upstream's message.
    let err = c.fails(&["create", "-f", "-"], Some(&with_ip("dup", "10.43.0.50")));
    assert!(
        err.contains("Service \"dup\" is invalid: spec.clusterIPs: Invalid value: []string{\"10.43.0.50\"}: failed to allocate IP 10.43.0.50: provided IP is already allocated"),
        "{err}"
    );
    let err = c.fails(&["create", "-f", "-"], Some(&with_ip("dup", "10.43.0.1")));
    assert!(
        err.contains("failed to allocate IP 10.43.0.1: provided IP is already allocated"),
        "{err}"
    );
    let err = c.fails(
        &[
            "create",
            "service",
            "nodeport",
            "dup",
            "--tcp=80:80",
            "--node-port=30909",
        ],
        None,
    );
    assert!(
        err.contains(
            "spec.ports[0].nodePort: Invalid value: 30909: provided port is already allocated"
        ),
        "{err}"
    );

    // Deleting a Service frees its address (and node ports) for others.
    c.ok(&["delete", "svc", "fixed", "np"], None);
    let created = c.ok(&["create", "-f", "-"], Some(&with_ip("dup", "10.43.0.50")));
    assert!(created.contains("service/dup created"), "{created}");
    assert_eq!(get("dup", "{.spec.clusterIP}"), "10.43.0.50");
    c.ok(
        &[
            "create",
            "service",
            "nodeport",
            "again",
            "--tcp=80:80",
            "--node-port=30909",
        ],
        None,
    );
    assert_eq!(get("again", "{.spec.ports[0].nodePort}"), "30909");
}
