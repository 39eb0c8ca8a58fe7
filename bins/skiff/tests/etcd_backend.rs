//! `skiff server --etcd-servers`: the API server on a real etcd instead of the embedded store,
//! driven by the real kubectl, surviving a restart of the API server.

use skiff_store::etcd::local::LocalEtcd;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

fn start_server(data: &Path, etcd: &str) -> (Child, PathBuf) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_skiff"))
        .args([
            "server",
            "--bind-address",
            "127.0.0.1",
            "--secure-port",
            "0",
        ])
        .arg("--data-dir")
        .arg(data)
        .arg("--etcd-servers")
        .arg(etcd)
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut kubeconfig = None;
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    for line in lines.by_ref() {
        let line = line.unwrap();
        if let Some(p) = line.strip_prefix("Admin kubeconfig: ") {
            kubeconfig = Some(PathBuf::from(p));
        }
        if line.starts_with("Ready in") {
            break;
        }
    }
    std::thread::spawn(move || for _ in lines {});
    (child, kubeconfig.expect("kubeconfig"))
}

fn kubectl(kubeconfig: &Path, home: &Path, args: &[&str], stdin: Option<&str>) -> String {
    use std::io::Write;
    let mut child = Command::new("/usr/bin/kubectl")
        .args(args)
        .env("KUBECONFIG", kubeconfig)
        .env("HOME", home)
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
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "kubectl {args:?}: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_api_server_runs_on_etcd() {
    let etcd = LocalEtcd::start()
        .await
        .unwrap_or_else(|e| panic!("this test needs a real etcd: {e}"));
    let data = tempfile::tempdir().unwrap();
    let home = tempfile::tempdir().unwrap();
    let (mut server, kubeconfig) = start_server(data.path(), &etcd.endpoint());
    let ns = kubectl(&kubeconfig, home.path(), &["get", "ns", "-o", "name"], None);
    assert!(ns.contains("namespace/kube-system"), "{ns}");
    kubectl(
        &kubeconfig,
        home.path(),
        &["apply", "-f", "-"],
        Some("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: on-etcd}\ndata: {k: v}\n"),
    );
    let before = kubectl(
        &kubeconfig,
        home.path(),
        &[
            "get",
            "cm",
            "on-etcd",
            "-o",
            "jsonpath={.metadata.resourceVersion}",
        ],
        None,
    );
    let _ = server.kill();
    let _ = server.wait();

    // A new API server process on the same etcd sees the same objects and revisions.
    let (mut server, kubeconfig) = start_server(data.path(), &etcd.endpoint());
    let after = kubectl(
        &kubeconfig,
        home.path(),
        &[
            "get",
            "cm",
            "on-etcd",
            "-o",
            "jsonpath={.metadata.resourceVersion} {.data.k}",
        ],
        None,
    );
    assert_eq!(after, format!("{before} v"));
    let _ = server.kill();
    let _ = server.wait();
}
