//! Integration tests of workload defaulting and validation: a real `skiff server` driven by
//! the real kubectl, checking what upstream 1.33 shows: defaults in `-o yaml`, `The X "y" is
//! invalid:` errors, immutable selectors, generated Job selectors, immutable ConfigMaps,
//! Secret `stringData`, and what a pod update may change.
//!
//! The `Cluster` harness is the shared one of `tests/common`.

mod common;
use common::Cluster;

/// Runs `kubectl get <what> -o jsonpath=<path>`.
fn jsonpath(c: &Cluster, what: &[&str], path: &str) -> String {
    let mut args = vec!["get"];
    args.extend_from_slice(what);
    let expr = format!("jsonpath={path}");
    args.extend(["-o", expr.as_str()]);
    c.ok(&args)
}

const DEPLOYMENT: &str = "apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
spec:
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec:
      containers:
      - name: nginx
        image: nginx
        ports: [{containerPort: 80}]
        resources: {limits: {cpu: 1000m, memory: 1.5Gi}}
        livenessProbe: {httpGet: {port: 80}}
";

#[test]
fn deployment_defaults_show_in_yaml() {
    let c = Cluster::start();
    let out = c.ok_in(&["create", "-f", "-"], Some(DEPLOYMENT));
    assert!(out.contains("deployment.apps/web created"), "{out}");
    let yaml = c.ok(&["get", "deploy", "web", "-o", "yaml"]);
    for line in [
        "  progressDeadlineSeconds: 600\n",
        "  replicas: 1\n",
        "  revisionHistoryLimit: 10\n",
        "  strategy:\n    rollingUpdate:\n      maxSurge: 25%\n      maxUnavailable: 25%\n    type: RollingUpdate\n",
        "    metadata:\n      labels:\n        app: web\n",
        "        imagePullPolicy: Always\n",
        "        - containerPort: 80\n          protocol: TCP\n",
        "          limits:\n            cpu: \"1\"\n            memory: 1536Mi\n",
        "            path: /\n            port: 80\n            scheme: HTTP\n",
        "          failureThreshold: 3\n",
        "        terminationMessagePath: /dev/termination-log\n        terminationMessagePolicy: File\n",
        "      dnsPolicy: ClusterFirst\n      restartPolicy: Always\n      schedulerName: default-scheduler\n      securityContext: {}\n      terminationGracePeriodSeconds: 30\n",
    ] {
        assert!(yaml.contains(line), "missing {line:?} in:\n{yaml}");
    }
    // Applying the same manifest only adds kubectl's annotation, which (for Deployments, as
    // upstream) is a new generation; the defaults are not a difference.
    let out = c.ok_in(&["apply", "-f", "-"], Some(DEPLOYMENT));
    assert!(out.contains("deployment.apps/web configured"), "{out}");
    assert_eq!(
        jsonpath(&c, &["deploy", "web"], "{.metadata.generation}"),
        "2"
    );
    // kubectl re-sends the quantities it sees spelled differently (`1000m` is stored as `1`),
    // which the server canonicalises back: nothing is written.
    let out = c.ok_in(&["apply", "-f", "-"], Some(DEPLOYMENT));
    assert!(out.contains("deployment.apps/web configured"), "{out}");
    assert_eq!(
        jsonpath(&c, &["deploy", "web"], "{.metadata.generation}"),
        "2"
    );
    let canonical = DEPLOYMENT
        .replace("1000m", "'1'")
        .replace("1.5Gi", "1536Mi");
    let out = c.ok_in(&["apply", "-f", "-"], Some(&canonical));
    assert!(out.contains("deployment.apps/web configured"), "{out}");
    let out = c.ok_in(&["apply", "-f", "-"], Some(&canonical));
    assert!(out.contains("deployment.apps/web unchanged"), "{out}");
    let replaced = c.ok_in(&["replace", "-f", "-"], Some(DEPLOYMENT));
    assert!(
        replaced.contains("deployment.apps/web replaced"),
        "{replaced}"
    );
    // The annotation changed twice more (apply, then replace dropping it).
    assert_eq!(
        jsonpath(&c, &["deploy", "web"], "{.metadata.generation}"),
        "4"
    );
    // A tagged image is pulled if not present; other kinds get their own defaults.
    c.ok(&["create", "deployment", "tagged", "--image=nginx:1.25"]);
    assert_eq!(
        jsonpath(
            &c,
            &["deploy", "tagged"],
            "{.spec.template.spec.containers[0].imagePullPolicy}"
        ),
        "IfNotPresent"
    );
    c.ok_in(
        &["create", "-f", "-"],
        Some(
            "apiVersion: apps/v1
kind: StatefulSet
metadata: {name: db}
spec:
  serviceName: db
  selector: {matchLabels: {app: db}}
  template:
    metadata: {labels: {app: db}}
    spec: {containers: [{name: db, image: postgres:16}]}
---
apiVersion: apps/v1
kind: DaemonSet
metadata: {name: agent}
spec:
  selector: {matchLabels: {app: agent}}
  template:
    metadata: {labels: {app: agent}}
    spec: {containers: [{name: a, image: busybox:1.36}]}
",
        ),
    );
    assert_eq!(
        jsonpath(
            &c,
            &["sts", "db"],
            "{.spec.podManagementPolicy} {.spec.updateStrategy.type} {.spec.updateStrategy.rollingUpdate.partition} {.spec.persistentVolumeClaimRetentionPolicy.whenDeleted}"
        ),
        "OrderedReady RollingUpdate 0 Retain"
    );
    assert_eq!(
        jsonpath(
            &c,
            &["ds", "agent"],
            "{.spec.updateStrategy.rollingUpdate.maxUnavailable} {.spec.updateStrategy.rollingUpdate.maxSurge} {.metadata.annotations.deprecated\\.daemonset\\.template\\.generation}"
        ),
        "1 0 1"
    );
}

#[test]
fn invalid_workloads_print_upstream_errors() {
    let c = Cluster::start();
    let err = c.fails(
        &["create", "-f", "-"],
        Some(
            "apiVersion: apps/v1
kind: Deployment
metadata: {name: bad}
spec:
  replicas: -1
  selector: {matchLabels: {app: other}}
  template:
    metadata: {labels: {app: web}}
    spec:
      containers:
      - name: web
        image: nginx
        resources: {limits: {cpu: '1'}, requests: {cpu: '2'}}
        volumeMounts: [{name: data, mountPath: /data}]
      - name: web
",
        ),
    );
    for line in [
        "The Deployment \"bad\" is invalid:",
        "* spec.replicas: Invalid value: -1: must be greater than or equal to 0",
        "* spec.template.metadata.labels: Invalid value: map[string]string{\"app\":\"web\"}: `selector` does not match template `labels`",
        "* spec.template.spec.containers[0].volumeMounts[0].name: Not found: \"data\"",
        "* spec.template.spec.containers[0].resources.requests: Invalid value: \"2\": must be less than or equal to cpu limit of 1",
        "* spec.template.spec.containers[1].image: Required value",
        "* spec.template.spec.containers[1].name: Duplicate value: \"web\"",
    ] {
        assert!(err.contains(line), "missing {line:?} in:\n{err}");
    }
    let err = c.fails(
        &["create", "-f", "-"],
        Some(
            "apiVersion: v1
kind: Pod
metadata: {name: p}
spec:
  restartPolicy: Sometimes
  containers: [{name: c, image: nginx, imagePullPolicy: Maybe}]
",
        ),
    );
    assert!(
        err.contains("The Pod \"p\" is invalid:")
            && err.contains("spec.restartPolicy: Unsupported value: \"Sometimes\": supported values: \"Always\", \"OnFailure\", \"Never\"")
            && err.contains("spec.containers[0].imagePullPolicy: Unsupported value: \"Maybe\": supported values: \"Always\", \"IfNotPresent\", \"Never\""),
        "{err}"
    );
    let err = c.fails(
        &["create", "-f", "-"],
        Some("apiVersion: v1\nkind: Pod\nmetadata: {name: q}\nspec: {containers: []}\n"),
    );
    assert!(
        err.contains("The Pod \"q\" is invalid: spec.containers: Required value"),
        "{err}"
    );
    let err = c.fails(
        &["create", "-f", "-"],
        Some(
            "apiVersion: v1
kind: Pod
metadata: {name: r}
spec: {containers: [{name: c, image: i, resources: {limits: {cpu: lots}}}]}
",
        ),
    );
    assert!(
        err.contains("Pod in version \"v1\" cannot be handled as a Pod: quantities must match the regular expression"),
        "{err}"
    );
    let err = c.fails(
        &[
            "create",
            "cronjob",
            "tick",
            "--image=busybox",
            "--schedule=60 * * * *",
        ],
        None,
    );
    assert!(
        err.contains(
            "spec.schedule: Invalid value: \"60 * * * *\": end of range (60) above maximum (59): 60"
        ),
        "{err}"
    );
    let err = c.fails(
        &["create", "-f", "-"],
        Some(
            "apiVersion: batch/v1
kind: Job
metadata: {name: forever}
spec:
  template:
    spec: {restartPolicy: Always, containers: [{name: c, image: busybox}]}
",
        ),
    );
    assert!(
        err.contains("The Job \"forever\" is invalid: spec.template.spec.restartPolicy: Required value: valid values: \"OnFailure\", \"Never\""),
        "{err}"
    );
}

#[test]
fn apply_with_a_changed_selector_is_refused() {
    let c = Cluster::start();
    c.ok_in(&["apply", "-f", "-"], Some(DEPLOYMENT));
    let moved = DEPLOYMENT.replace("app: web}", "app: api}");
    let err = c.fails(&["apply", "-f", "-"], Some(&moved));
    assert!(
        err.contains("The Deployment \"web\" is invalid: spec.selector: Invalid value: v1.LabelSelector{MatchLabels:map[string]string{\"app\":\"api\"}, MatchExpressions:[]v1.LabelSelectorRequirement(nil)}: field is immutable"),
        "{err}"
    );
    assert_eq!(
        jsonpath(&c, &["deploy", "web"], "{.spec.selector.matchLabels.app}"),
        "web"
    );
    // Changing the template (an image) is a new generation; scaling too.
    let changed = DEPLOYMENT.replace("image: nginx", "image: nginx:1.27");
    c.ok_in(&["apply", "-f", "-"], Some(&changed));
    assert_eq!(
        jsonpath(&c, &["deploy", "web"], "{.metadata.generation}"),
        "2"
    );
}

#[test]
fn jobs_get_a_generated_selector_and_labels() {
    let c = Cluster::start();
    c.ok(&[
        "create",
        "job",
        "pi",
        "--image=perl:5.34",
        "--",
        "perl",
        "-e",
        "1",
    ]);
    let uid = jsonpath(&c, &["job", "pi"], "{.metadata.uid}");
    assert!(!uid.is_empty());
    assert_eq!(
        jsonpath(
            &c,
            &["job", "pi"],
            "{.spec.selector.matchLabels.batch\\.kubernetes\\.io/controller-uid}"
        ),
        uid
    );
    let labels = jsonpath(&c, &["job", "pi"], "{.spec.template.metadata.labels}");
    for (k, v) in [
        ("batch.kubernetes.io/controller-uid", uid.as_str()),
        ("batch.kubernetes.io/job-name", "pi"),
        ("controller-uid", uid.as_str()),
        ("job-name", "pi"),
    ] {
        assert!(labels.contains(&format!("\"{k}\":\"{v}\"")), "{labels}");
    }
    assert_eq!(
        jsonpath(
            &c,
            &["job", "pi"],
            "{.spec.completions} {.spec.parallelism} {.spec.backoffLimit} {.spec.completionMode} {.spec.suspend} {.spec.manualSelector} {.spec.podReplacementPolicy}"
        ),
        "1 1 6 NonIndexed false false TerminatingOrFailed"
    );
    // The selector of the job is the one it was given.
    let got = c.ok(&[
        "get",
        "jobs",
        "-l",
        &format!("controller-uid={uid}"),
        "-o",
        "name",
    ]);
    assert_eq!(got.trim(), "job.batch/pi");
    c.ok(&[
        "create",
        "cronjob",
        "tick",
        "--image=busybox",
        "--schedule=*/5 * * * *",
    ]);
    assert_eq!(
        jsonpath(
            &c,
            &["cronjob", "tick"],
            "{.spec.concurrencyPolicy} {.spec.suspend} {.spec.successfulJobsHistoryLimit} {.spec.failedJobsHistoryLimit} {.spec.jobTemplate.spec.template.spec.dnsPolicy}"
        ),
        "Allow false 3 1 ClusterFirst"
    );
}

#[test]
fn config_maps_secrets_and_pods_keep_their_rules() {
    let c = Cluster::start();
    c.ok_in(
        &["create", "-f", "-"],
        Some("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: frozen}\nimmutable: true\ndata: {a: '1'}\n"),
    );
    let err = c.fails(
        &["patch", "cm", "frozen", "-p", r#"{"data":{"a":"2"}}"#],
        None,
    );
    assert!(
        err.contains("The ConfigMap \"frozen\" is invalid: data: Forbidden: field is immutable when `immutable` is set"),
        "{err}"
    );
    let err = c.fails(
        &["create", "-f", "-"],
        Some("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: keys}\ndata: {'bad key': x}\n"),
    );
    assert!(
        err.contains("data[bad key]: Invalid value: \"bad key\": a valid config key must consist of alphanumeric characters, '-', '_' or '.' (e.g. 'key.name',  or 'KEY_NAME',  or 'key-name', regex used for validation is '[-._a-zA-Z0-9]+')"),
        "{err}"
    );
    c.ok_in(
        &["create", "-f", "-"],
        Some("apiVersion: v1\nkind: Secret\nmetadata: {name: creds}\nstringData: {user: admin}\n"),
    );
    assert_eq!(
        jsonpath(
            &c,
            &["secret", "creds"],
            "{.type} {.data.user} {.stringData}"
        ),
        "Opaque YWRtaW4= "
    );
    let err = c.fails(
        &["create", "-f", "-"],
        Some("apiVersion: v1\nkind: Secret\nmetadata: {name: tls}\ntype: kubernetes.io/tls\ndata: {tls.crt: eA==}\n"),
    );
    assert!(
        err.contains("The Secret \"tls\" is invalid: data[tls.key]: Required value"),
        "{err}"
    );
    // Pods: the image may change, the environment may not.
    c.ok(&["run", "p", "--image=nginx:1.25"]);
    assert_eq!(
        jsonpath(
            &c,
            &["pod", "p"],
            "{.status.qosClass} {.spec.enableServiceLinks}"
        ),
        "BestEffort true"
    );
    c.ok(&["set", "image", "pod/p", "p=nginx:1.27"]);
    assert_eq!(
        jsonpath(&c, &["pod", "p"], "{.spec.containers[0].image}"),
        "nginx:1.27"
    );
    let err = c.fails(&["set", "env", "pod/p", "A=1"], None);
    assert!(
        err.contains("spec: Forbidden: pod updates may not change fields other than `spec.containers[*].image`,`spec.initContainers[*].image`,`spec.activeDeadlineSeconds`,`spec.tolerations` (only additions to existing tolerations),`spec.terminationGracePeriodSeconds` (allow it to be set to 1 if it was previously negative)"),
        "{err}"
    );
}
