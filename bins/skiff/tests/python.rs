//! The official Kubernetes Python client against a real `skiff server`
//! (`tests/python/client_check.py`: list, create, patch, delete, watch resumed from a
//! resourceVersion, typed errors).

use std::path::PathBuf;
use std::process::Command;

mod common;
use common::Cluster;

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
    let c = Cluster::start();
    let script =
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../tests/python/client_check.py");
    let out = Command::new("python3")
        .arg(script)
        .arg(&c.kubeconfig)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}
