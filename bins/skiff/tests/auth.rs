//! Authentication and authorization through the real kubectl: client certificates, static
//! bearer tokens, 401 for bad or missing credentials, 403 from the authorizer, the review
//! resources behind `kubectl auth whoami` and `kubectl auth can-i`, and unauthenticated health.

use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Child, Command, Output, Stdio};

struct Server {
    child: Child,
    url: String,
    data: tempfile::TempDir,
    home: tempfile::TempDir,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn start() -> Server {
    let data = tempfile::tempdir().unwrap();
    let tokens = data.path().join("tokens.csv");
    std::fs::write(
        &tokens,
        "alice-token,alice,1001,\"dev,qa\"\nroot-token,root,1,system:masters\n",
    )
    .unwrap();
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
        .arg("--token-auth-file")
        .arg(&tokens)
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut url = None;
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    for line in lines.by_ref() {
        let line = line.unwrap();
        if let Some(u) = line.strip_prefix("API server listening on ") {
            url = Some(u.to_owned());
        }
        if line.starts_with("Ready in") {
            break;
        }
    }
    std::thread::spawn(move || for _ in lines {});
    Server {
        child,
        url: url.unwrap(),
        data,
        home: tempfile::tempdir().unwrap(),
    }
}

impl Server {
    fn ca(&self) -> PathBuf {
        self.data.path().join("pki/ca.crt")
    }

    /// kubectl with the admin kubeconfig.
    fn admin(&self, args: &[&str]) -> Output {
        Command::new("/usr/bin/kubectl")
            .args(args)
            .env("KUBECONFIG", self.data.path().join("kubeconfig.yaml"))
            .env("HOME", self.home.path())
            .output()
            .unwrap()
    }

    /// kubectl with only a bearer token (no kubeconfig).
    fn with_token(&self, token: &str, args: &[&str]) -> Output {
        Command::new("/usr/bin/kubectl")
            .arg(format!("--server={}", self.url))
            .arg(format!("--certificate-authority={}", self.ca().display()))
            .arg(format!("--token={token}"))
            .args(args)
            .env("KUBECONFIG", "/dev/null")
            .env("HOME", self.home.path())
            .output()
            .unwrap()
    }
}

fn text(o: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

#[test]
fn certificates_tokens_and_the_authorizer() {
    let s = start();
    let me = s.admin(&["auth", "whoami"]);
    assert!(me.status.success(), "{}", text(&me));
    assert!(
        text(&me).contains("admin") && text(&me).contains("system:masters"),
        "{}",
        text(&me)
    );
    let can = s.admin(&["auth", "can-i", "delete", "secrets", "-A"]);
    assert_eq!(String::from_utf8_lossy(&can.stdout).trim(), "yes");

    // A token of system:masters may do everything.
    let root = s.with_token("root-token", &["get", "ns", "default", "-o", "name"]);
    assert!(root.status.success(), "{}", text(&root));
    // An ordinary user is authenticated but not authorized (no RBAC rules yet).
    let who = s.with_token("alice-token", &["auth", "whoami"]);
    assert!(
        text(&who).contains("alice") && text(&who).contains("dev"),
        "{}",
        text(&who)
    );
    let denied = s.with_token("alice-token", &["get", "pods"]);
    assert!(!denied.status.success());
    assert!(
        text(&denied).contains(
            "Error from server (Forbidden): pods is forbidden: User \"alice\" cannot list resource \"pods\" in API group \"\" in the namespace \"default\""
        ),
        "{}",
        text(&denied)
    );
    let cannot = s.with_token("alice-token", &["auth", "can-i", "create", "pods"]);
    assert_eq!(String::from_utf8_lossy(&cannot.stdout).trim(), "no");
    // A wrong token is a 401.
    let bad = s.with_token("wrong", &["get", "pods"]);
    assert!(!bad.status.success());
    assert!(
        text(&bad).contains("You must be logged in to the server"),
        "{}",
        text(&bad)
    );
}

#[test]
fn health_is_public_and_everything_else_needs_credentials() {
    let s = start();
    let curl = |path: &str| {
        let out = Command::new("curl")
            .args(["-s", "-o", "-", "-w", "\n%{http_code}", "--cacert"])
            .arg(s.ca())
            .arg(format!("{}{path}", s.url))
            .output()
            .expect("curl runs");
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    assert!(curl("/readyz").ends_with("ok\n200"), "{}", curl("/readyz"));
    assert!(curl("/livez?verbose").contains("[+]ping ok"));
    assert!(curl("/version").contains("\"minor\":\"33\""));
    let denied = curl("/api/v1/namespaces");
    assert!(denied.ends_with("401"), "{denied}");
    assert!(denied.contains("\"reason\":\"Unauthorized\""), "{denied}");
    let metrics = s.admin(&["get", "--raw", "/metrics"]);
    assert!(
        text(&metrics).contains("apiserver_request_total"),
        "{}",
        text(&metrics)
    );
}
