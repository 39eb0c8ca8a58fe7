//! The official Kubernetes Python client against a real `skiff server`
//! (`tests/python/client_check.py`: list, create, patch, delete, watch resumed from a
//! resourceVersion, typed errors).

use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Command, Stdio};

#[test]
fn official_python_client_works() {
    let probe = Command::new("python3")
        .args(["-c", "import kubernetes"])
        .status()
        .expect("python3 runs");
    assert!(
        probe.success(),
        "the official Python client is missing: scripts/install-deps installs it (pip install kubernetes)"
    );
    let data = tempfile::tempdir().unwrap();
    let mut server = Command::new(env!("CARGO_BIN_EXE_skiff"))
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
        .spawn()
        .unwrap();
    let mut kubeconfig = None;
    let mut lines = BufReader::new(server.stdout.take().unwrap()).lines();
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
    let script =
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../tests/python/client_check.py");
    let out = Command::new("python3")
        .arg(script)
        .arg(kubeconfig.expect("kubeconfig path"))
        .output()
        .unwrap();
    let _ = server.kill();
    let _ = server.wait();
    assert!(
        out.status.success(),
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}
