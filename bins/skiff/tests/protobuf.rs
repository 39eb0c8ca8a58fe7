//! Integration tests: kubectl's typed-client commands (`kubectl create <generator>`), which
//! POST `application/vnd.kubernetes.protobuf` bodies, against a real `skiff server`; the stored
//! objects are read back as JSON with jsonpath.

mod common;
use common::{Cluster, KUBECTL};

/// `kubectl get <what> -o jsonpath=<path>`.
fn jsonpath(c: &Cluster, what: &[&str], path: &str) -> String {
    let mut args = vec!["get"];
    args.extend(what);
    let arg = format!("-o=jsonpath={path}");
    args.push(&arg);
    c.ok(&args)
}

#[test]
fn generators_post_protobuf_and_store_the_fields() {
    let c = Cluster::start();

    // The body really is protobuf (kubectl logs the request headers at -v=8).
    let out = c.run_with(
        KUBECTL,
        &["create", "configmap", "c1", "--from-literal=a=b", "-v=8"],
        None,
    );
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
    assert_eq!(jsonpath(&c, &["cm", "c1"], "{.data.a}"), "b");
    assert_eq!(
        jsonpath(&c, &["cm", "c1"], "{.metadata.namespace}"),
        "default"
    );

    c.ok(&[
        "create",
        "secret",
        "generic",
        "s1",
        "--from-literal=pw=x",
        // basic-auth Secrets need a username or a password key, as upstream validates.
        "--from-literal=username=x",
        "--type=kubernetes.io/basic-auth",
    ]);
    // Secret data travels as protobuf bytes and is stored base64-encoded.
    assert_eq!(jsonpath(&c, &["secret", "s1"], "{.data.pw}"), "eA==");
    assert_eq!(
        jsonpath(&c, &["secret", "s1"], "{.type}"),
        "kubernetes.io/basic-auth"
    );

    c.ok(&["create", "namespace", "n1"]);
    assert_eq!(jsonpath(&c, &["ns", "n1"], "{.status.phase}"), "Active");
    assert!(!jsonpath(&c, &["ns", "n1"], "{.metadata.uid}").is_empty());

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
    assert_eq!(jsonpath(&c, &d, "{.spec.replicas}"), "2");
    assert_eq!(jsonpath(&c, &d, "{.spec.selector.matchLabels.app}"), "d1");
    assert_eq!(
        jsonpath(&c, &d, "{.spec.template.spec.containers[0].image}"),
        "nginx:1.25"
    );
    assert_eq!(
        jsonpath(
            &c,
            &d,
            "{.spec.template.spec.containers[0].ports[0].containerPort}"
        ),
        "80"
    );
    // Go writes unset non-pointer fields as zeros; they must not be stored.
    let container = jsonpath(&c, &d, "{.spec.template.spec.containers[0]}");
    assert!(
        !container.contains("\"tty\"") && !container.contains("\"workingDir\""),
        "{container}"
    );
    assert_eq!(jsonpath(&c, &d, "{.metadata.generateName}"), "");

    // A pointer field's zero is meaningful and kept.
    c.ok(&[
        "create",
        "deployment",
        "d0",
        "--image=nginx",
        "--replicas=0",
    ]);
    assert_eq!(jsonpath(&c, &["deploy", "d0"], "{.spec.replicas}"), "0");

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
        jsonpath(
            &c,
            &["job", "j1"],
            "{.spec.template.spec.containers[0].command}"
        ),
        r#"["echo","hello world"]"#
    );
    assert_eq!(
        jsonpath(&c, &["job", "j1"], "{.spec.template.spec.restartPolicy}"),
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
    assert_eq!(jsonpath(&c, &["pdb", "p1"], "{.spec.minAvailable}"), "50%");
}
