//! The harness every integration test shares: a real `skiff server` on a free loopback port
//! with a temporary data directory, and the real kubectl pointed at it with a private HOME (so
//! discovery caches never leak between tests).
// Each test binary uses its own subset of the harness.
#![allow(dead_code)]

use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};

/// The kubectl on this machine (a dispatcher picking the bundled kubectl of the server's minor).
pub const KUBECTL: &str = "/usr/bin/kubectl";
/// kubectl 1.32, run by path.
pub const KUBECTL_1_32: &str = "/usr/lib/google-cloud-sdk/bin/kubectl.1.32";

/// A running `skiff server`; killed (by its PID) when dropped.
pub struct Cluster {
    child: Child,
    /// The admin kubeconfig the server wrote.
    pub kubeconfig: PathBuf,
    /// `https://127.0.0.1:<port>`.
    pub url: String,
    /// The server's data directory.
    pub data: tempfile::TempDir,
    /// kubectl's HOME.
    pub home: tempfile::TempDir,
}

impl Cluster {
    /// Starts a server on the embedded store.
    pub fn start() -> Cluster {
        Self::start_with(|_, _| {})
    }

    /// Starts a server after `setup` has added arguments (it may write files in the data
    /// directory, passed to it).
    pub fn start_with(setup: impl FnOnce(&mut Command, &Path)) -> Cluster {
        let data = tempfile::tempdir().unwrap();
        Self::start_in(data, setup)
    }

    /// Starts a server on an existing data directory.
    pub fn start_in(data: tempfile::TempDir, setup: impl FnOnce(&mut Command, &Path)) -> Cluster {
        assert!(
            Path::new(KUBECTL).exists(),
            "these tests need the real kubectl at {KUBECTL}"
        );
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_skiff"));
        cmd.args([
            "server",
            "--bind-address",
            "127.0.0.1",
            "--secure-port",
            "0",
        ])
        .arg("--data-dir")
        .arg(data.path())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit());
        setup(&mut cmd, data.path());
        let mut child = cmd.spawn().unwrap();
        let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
        let (mut kubeconfig, mut url) = (None, None);
        for line in lines.by_ref() {
            let line = line.unwrap();
            if let Some(p) = line.strip_prefix("Admin kubeconfig: ") {
                kubeconfig = Some(PathBuf::from(p));
            }
            if let Some(u) = line.strip_prefix("API server listening on ") {
                url = Some(u.to_owned());
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
            url: url.expect("the server printed its address"),
            data,
            home: tempfile::tempdir().unwrap(),
        }
    }

    /// Stops the server and gives back its data directory (to start it again).
    pub fn stop(mut self) -> tempfile::TempDir {
        let _ = self.child.kill();
        let _ = self.child.wait();
        std::mem::replace(&mut self.data, tempfile::tempdir().unwrap())
    }

    /// The cluster CA certificate.
    pub fn ca(&self) -> PathBuf {
        self.data.path().join("pki/ca.crt")
    }

    /// A kubectl command with the admin kubeconfig and the private HOME.
    pub fn command(&self, kubectl: &str, args: &[&str]) -> Command {
        let mut cmd = Command::new(kubectl);
        cmd.args(args)
            .env("KUBECONFIG", &self.kubeconfig)
            .env("HOME", self.home.path())
            .env_remove("KUBECTL_EXTERNAL_DIFF");
        cmd
    }

    /// Runs kubectl with `stdin` as its input.
    pub fn run_with(&self, kubectl: &str, args: &[&str], stdin: Option<&str>) -> Output {
        let mut cmd = self.command(kubectl, args);
        cmd.stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let mut child = cmd.spawn().unwrap();
        let mut input = child.stdin.take().unwrap();
        if let Some(s) = stdin {
            input.write_all(s.as_bytes()).unwrap();
        }
        drop(input);
        child.wait_with_output().unwrap()
    }

    /// Runs kubectl and returns stdout, failing the test if it failed.
    pub fn ok(&self, args: &[&str]) -> String {
        self.ok_in(args, None)
    }

    /// Like [`Cluster::ok`] with standard input.
    pub fn ok_in(&self, args: &[&str], stdin: Option<&str>) -> String {
        let out = self.run_with(KUBECTL, args, stdin);
        assert!(
            out.status.success(),
            "kubectl {args:?} failed: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap()
    }

    /// Runs kubectl expecting failure; returns stderr.
    pub fn fails(&self, args: &[&str], stdin: Option<&str>) -> String {
        let out = self.run_with(KUBECTL, args, stdin);
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
