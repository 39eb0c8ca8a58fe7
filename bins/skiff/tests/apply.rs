//! Integration tests: server-side apply and managed fields, driven by the real kubectl
//! against a real `skiff server` (same harness as `kubectl.rs`).

mod common;
use common::Cluster;

/// `kubectl get <what> web -o jsonpath=<jsonpath>`.
fn get(c: &Cluster, what: &str, jsonpath: &str) -> String {
    c.ok(&["get", what, "web", "-o", &format!("jsonpath={jsonpath}")])
}

/// `kubectl get <what> web -o yaml --show-managed-fields`.
fn managed_fields(c: &Cluster, what: &str) -> String {
    c.ok(&["get", what, "web", "-o", "yaml", "--show-managed-fields"])
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
    let yaml = managed_fields(&c, "deploy");
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
    let rv = get(&c, "deploy", "{.metadata.resourceVersion}");
    let out = c.ok_in(&["apply", "--server-side", "-f", "-"], Some(DEPLOYMENT));
    assert!(out.contains("serverside-applied"), "{out}");
    assert_eq!(get(&c, "deploy", "{.metadata.resourceVersion}"), rv);

    // Fields no longer applied go away; the others stay.
    let smaller = DEPLOYMENT
        .replace(", tier: front", "")
        .replace(", {name: B, value: '2'}", "")
        .replace("nginx:1.25", "nginx:1.27");
    c.ok_in(&["apply", "--server-side", "-f", "-"], Some(&smaller));
    assert_eq!(
        get(
            &c,
            "deploy",
            "{.metadata.labels} {.spec.template.spec.containers[0].env[*].name} {.spec.template.spec.containers[0].image} {.spec.replicas}"
        ),
        "{\"app\":\"web\"} A nginx:1.27 2"
    );

    // A field owned by another manager too survives its removal from the configuration.
    c.ok(&["label", "deploy", "web", "team=a"]);
    let yaml = managed_fields(&c, "deploy");
    assert!(has_manager(&yaml, "kubectl-label", "Update"), "{yaml}");
    c.ok_in(&["apply", "--server-side", "-f", "-"], Some(&smaller));
    assert_eq!(get(&c, "deploy", "{.metadata.labels.team}"), "a");

    // Maps merge key by key and a dropped key is removed.
    c.ok_in(&["apply", "--server-side", "-f", "-"], Some(CONFIGMAP));
    c.ok_in(
        &["apply", "--server-side", "-f", "-"],
        Some(&CONFIGMAP.replace("  b: '2'\n", "  c: '3'\n")),
    );
    assert_eq!(get(&c, "cm", "{.data}"), "{\"a\":\"1\",\"c\":\"3\"}");
}

#[test]
fn conflicts_need_force() {
    let c = Cluster::start();
    c.ok_in(&["apply", "--server-side", "-f", "-"], Some(DEPLOYMENT));
    c.ok(&["scale", "deploy", "web", "--replicas=5"]);
    let yaml = managed_fields(&c, "deploy");
    assert!(yaml.contains("subresource: scale"), "{yaml}");
    let err = c.fails(&["apply", "--server-side", "-f", "-"], Some(DEPLOYMENT));
    assert!(
        err.contains(
            "Apply failed with 1 conflict: conflict with \"kubectl\" with subresource \"scale\" using apps/v1: .spec.replicas"
        ),
        "{err}"
    );
    assert!(err.contains("--force-conflicts"), "{err}");
    assert_eq!(get(&c, "deploy", "{.spec.replicas}"), "5");
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
    assert_eq!(get(&c, "deploy", "{.spec.replicas}"), "2");
    // The scaler lost its only field, so its entry is gone.
    let yaml = managed_fields(&c, "deploy");
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
    let yaml = managed_fields(&c, "deploy");
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
    assert_eq!(get(&c, "deploy", "{.spec.replicas}"), "3");
    let yaml = managed_fields(&c, "deploy");
    assert!(has_manager(&yaml, "kubectl", "Apply"), "{yaml}");
    let last = get(
        &c,
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
    assert_eq!(get(&c, "deploy", "{.spec.replicas}"), "4");
    let yaml = managed_fields(&c, "deploy");
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
    assert_eq!(get(&c, "cm", "{.data.b}"), "5");
    let yaml = managed_fields(&c, "cm");
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
    let yaml = managed_fields(&c, "cm");
    assert!(has_manager(&yaml, "kubectl-create", "Update"), "{yaml}");
    assert!(
        yaml.contains("f:a: {}") && yaml.contains("fieldsType: FieldsV1"),
        "{yaml}"
    );
    c.ok(&["annotate", "cm", "web", "note=x"]);
    c.ok(&["patch", "cm", "web", "-p", "{\"data\":{\"a\":\"9\"}}"]);
    let yaml = managed_fields(&c, "cm");
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
    let yaml = managed_fields(&c, "cm");
    assert!(managers(&yaml).is_empty(), "{yaml}");
}

/// The `managedFields` entry of `manager` in a YAML dump (from its `- apiVersion:` line to
/// the next entry).
fn entry(yaml: &str, manager: &str) -> String {
    let at = yaml
        .find(&format!("    manager: {manager}\n"))
        .unwrap_or_else(|| panic!("no {manager} entry in:\n{yaml}"));
    let begin = yaml[..at].rfind("  - apiVersion:").unwrap();
    let end = yaml[at..]
        .find("  - apiVersion:")
        .map_or(yaml.len(), |e| at + e);
    yaml[begin..end].to_owned()
}

/// What upstream's `kubectl-create` entry holds for `kubectl create deployment web
/// --image=nginx:1.25` below `spec` (the defaults the request was decoded with included),
/// in two parts around the template's metadata.
const CREATED_SPEC: &str = "      f:spec:
        f:progressDeadlineSeconds: {}
        f:replicas: {}
        f:revisionHistoryLimit: {}
        f:selector: {}
        f:strategy:
          f:rollingUpdate:
            .: {}
            f:maxSurge: {}
            f:maxUnavailable: {}
          f:type: {}
        f:template:
";
const CREATED_POD_SPEC: &str = "          f:spec:
            f:containers:
              k:{\"name\":\"nginx\"}:
                .: {}
                f:image: {}
                f:imagePullPolicy: {}
                f:name: {}
                f:resources: {}
                f:terminationMessagePath: {}
                f:terminationMessagePolicy: {}
            f:dnsPolicy: {}
            f:restartPolicy: {}
            f:schedulerName: {}
            f:securityContext: {}
            f:terminationGracePeriodSeconds: {}
    manager: kubectl-create
";

#[test]
fn writers_own_the_defaults_of_their_requests_but_appliers_do_not() {
    let c = Cluster::start();
    // Create: the defaults belong to the creator.
    c.ok(&["create", "deployment", "web", "--image=nginx:1.25"]);
    let yaml = managed_fields(&c, "deploy");
    let created = entry(&yaml, "kubectl-create");
    assert!(
        created.contains(CREATED_SPEC) && created.contains(CREATED_POD_SPEC),
        "{created}"
    );
    // A replace that leaves the defaults out takes nothing from the creator: the body is
    // defaulted again before the comparison.
    c.ok_in(
        &["replace", "-f", "-"],
        Some(
            "apiVersion: apps/v1
kind: Deployment
metadata: {name: web, labels: {app: web}}
spec:
  replicas: 1
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec: {containers: [{name: nginx, image: nginx:1.27}]}
",
        ),
    );
    let yaml = managed_fields(&c, "deploy");
    let created = entry(&yaml, "kubectl-create");
    assert!(
        created.contains("f:progressDeadlineSeconds: {}")
            && created.contains("f:dnsPolicy: {}")
            && created.contains("f:imagePullPolicy: {}"),
        "{created}"
    );
    let replaced = entry(&yaml, "kubectl-replace");
    assert!(
        replaced.contains("f:image: {}") && !replaced.contains("f:imagePullPolicy"),
        "{replaced}"
    );
    // A patch owns the defaults of what it adds.
    c.ok(&[
        "patch",
        "deploy",
        "web",
        "-p",
        r#"{"spec":{"template":{"spec":{"containers":[{"name":"side","image":"busybox:1.36"}]}}}}"#,
    ]);
    let yaml = managed_fields(&c, "deploy");
    let patched = entry(&yaml, "kubectl-patch");
    assert!(
        patched.contains("k:{\"name\":\"side\"}:")
            && patched.contains("f:imagePullPolicy: {}")
            && patched.contains("f:terminationMessagePolicy: {}"),
        "{patched}"
    );

    // Server-side apply: the applier owns what it applied; the defaults are set, unowned.
    c.ok(&["delete", "deploy", "web"]);
    c.ok_in(&["apply", "--server-side", "-f", "-"], Some(DEPLOYMENT));
    let yaml = managed_fields(&c, "deploy");
    let applied = entry(&yaml, "kubectl");
    for default in [
        "f:progressDeadlineSeconds",
        "f:revisionHistoryLimit",
        "f:strategy",
        "f:dnsPolicy",
        "f:imagePullPolicy",
        "f:terminationMessagePath",
        "f:protocol",
    ] {
        assert!(!applied.contains(default), "{default} in {applied}");
    }
    assert_eq!(managers(&yaml).len(), 1, "{yaml}");
    assert_eq!(
        get(
            &c,
            "deploy",
            "{.spec.progressDeadlineSeconds} {.spec.template.spec.containers[0].imagePullPolicy}"
        ),
        "600 IfNotPresent"
    );
    // A Namespace's name label is its creator's, as upstream's defaulting sets it.
    c.ok(&["create", "namespace", "web"]);
    let yaml = managed_fields(&c, "ns");
    assert!(
        entry(&yaml, "kubectl-create").contains("f:kubernetes.io/metadata.name: {}"),
        "{yaml}"
    );
}
