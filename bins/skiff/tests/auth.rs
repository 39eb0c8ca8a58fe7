//! Authentication and authorization through the real kubectl: client certificates, static
//! bearer tokens, 401 for bad or missing credentials, 403 from the authorizer, the review
//! resources behind `kubectl auth whoami` and `kubectl auth can-i`, and unauthenticated health.

use std::process::{Command, Output};

mod common;
use common::{Cluster, KUBECTL};

fn start() -> Cluster {
    Cluster::start_with(|cmd, data| {
        let tokens = data.join("tokens.csv");
        std::fs::write(
            &tokens,
            "alice-token,alice,1001,\"dev,qa\"\nroot-token,root,1,system:masters\n",
        )
        .unwrap();
        cmd.arg("--token-auth-file").arg(tokens);
    })
}

/// kubectl with the admin kubeconfig.
fn admin(s: &Cluster, args: &[&str]) -> Output {
    s.run_with(KUBECTL, args, None)
}

/// kubectl with only a bearer token (no kubeconfig).
fn with_token(s: &Cluster, token: &str, args: &[&str]) -> Output {
    Command::new(KUBECTL)
        .arg(format!("--server={}", s.url))
        .arg(format!("--certificate-authority={}", s.ca().display()))
        .arg(format!("--token={token}"))
        .args(args)
        .env("KUBECONFIG", "/dev/null")
        .env("HOME", s.home.path())
        .output()
        .unwrap()
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
    let me = admin(&s, &["auth", "whoami"]);
    assert!(me.status.success(), "{}", text(&me));
    assert!(
        text(&me).contains("admin") && text(&me).contains("system:masters"),
        "{}",
        text(&me)
    );
    let can = admin(&s, &["auth", "can-i", "delete", "secrets", "-A"]);
    assert_eq!(String::from_utf8_lossy(&can.stdout).trim(), "yes");

    // A token of system:masters may do everything.
    let root = with_token(&s, "root-token", &["get", "ns", "default", "-o", "name"]);
    assert!(root.status.success(), "{}", text(&root));
    // An ordinary user is authenticated but not authorized (no RBAC rules yet).
    let who = with_token(&s, "alice-token", &["auth", "whoami"]);
    assert!(
        text(&who).contains("alice") && text(&who).contains("dev"),
        "{}",
        text(&who)
    );
    let denied = with_token(&s, "alice-token", &["get", "pods"]);
    assert!(!denied.status.success());
    assert!(
        text(&denied).contains(
            "Error from server (Forbidden): pods is forbidden: User \"alice\" cannot list resource \"pods\" in API group \"\" in the namespace \"default\""
        ),
        "{}",
        text(&denied)
    );
    let cannot = with_token(&s, "alice-token", &["auth", "can-i", "create", "pods"]);
    assert_eq!(String::from_utf8_lossy(&cannot.stdout).trim(), "no");
    // A wrong token is a 401.
    let bad = with_token(&s, "wrong", &["get", "pods"]);
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
    let metrics = admin(&s, &["get", "--raw", "/metrics"]);
    assert!(
        text(&metrics).contains("apiserver_request_total"),
        "{}",
        text(&metrics)
    );
}

#[test]
fn service_account_tokens_authenticate_until_their_account_goes() {
    let s = start();
    assert!(
        admin(&s, &["create", "serviceaccount", "bot"])
            .status
            .success()
    );
    // `kubectl create token` posts a protobuf TokenRequest to serviceaccounts/bot/token.
    let out = admin(&s, &["create", "token", "bot", "--duration=20m"]);
    assert!(out.status.success(), "{}", text(&out));
    let token = String::from_utf8_lossy(&out.stdout).trim().to_owned();
    assert_eq!(token.split('.').count(), 3, "a JWT: {token}");

    let who = with_token(&s, &token, &["auth", "whoami", "-o", "json"]);
    let who_text = text(&who);
    assert!(who.status.success(), "{who_text}");
    assert!(
        who_text.contains("\"system:serviceaccount:default:bot\""),
        "{who_text}"
    );
    assert!(
        who_text.contains("system:serviceaccounts:default"),
        "{who_text}"
    );
    assert!(
        who_text.contains("authentication.kubernetes.io/credential-id"),
        "{who_text}"
    );
    // Not system:masters: the authorizer refuses, with the service account's name.
    let denied = with_token(&s, &token, &["get", "pods"]);
    assert!(
        text(&denied).contains("User \"system:serviceaccount:default:bot\" cannot list"),
        "{}",
        text(&denied)
    );

    // The signing key is published for token consumers.
    let jwks = admin(&s, &["get", "--raw", "/openid/v1/jwks"]);
    assert!(text(&jwks).contains("\"kty\":\"EC\""), "{}", text(&jwks));
    let disc = admin(&s, &["get", "--raw", "/.well-known/openid-configuration"]);
    assert!(text(&disc).contains("\"issuer\":\"https://kubernetes.default.svc.cluster.local\""));

    // Too short a lifetime is refused as upstream does.
    let short = admin(&s, &["create", "token", "bot", "--duration=1m"]);
    assert!(
        text(&short).contains("may not specify a duration less than 10 minutes"),
        "{}",
        text(&short)
    );
    // A token for a missing account: NotFound.
    let missing = admin(&s, &["create", "token", "ghost"]);
    assert!(
        text(&missing).contains("serviceaccounts \"ghost\" not found"),
        "{}",
        text(&missing)
    );

    // Deleting the account revokes its tokens.
    assert!(
        admin(&s, &["delete", "serviceaccount", "bot"])
            .status
            .success()
    );
    let revoked = with_token(&s, &token, &["auth", "whoami"]);
    assert!(!revoked.status.success());
    assert!(
        text(&revoked).contains("Unauthorized"),
        "{}",
        text(&revoked)
    );
}
