//! Integration tests of workload defaulting and validation: a real `skiff server` driven by
//! the real kubectl, checking what upstream 1.33 shows: defaults in `-o yaml`, `The X "y" is
//! invalid:` errors, immutable selectors, generated Job selectors, immutable ConfigMaps,
//! Secret `stringData`, what a pod update may change, and HorizontalPodAutoscalers served
//! through autoscaling/v1 and v2 as one object.
//!
//! The `Cluster` harness is the shared one of `tests/common`.

mod common;
use common::{Cluster, KUBECTL};
use std::io::{BufRead, BufReader};
use std::process::Stdio;
use std::time::{Duration, Instant};

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

const HPA_V2: &str = "apiVersion: autoscaling/v2
kind: HorizontalPodAutoscaler
metadata: {name: api}
spec:
  scaleTargetRef: {apiVersion: apps/v1, kind: Deployment, name: web}
  minReplicas: 1
  maxReplicas: 4
  metrics:
  - type: Resource
    resource: {name: memory, target: {type: AverageValue, averageValue: 200Mi}}
  - type: Resource
    resource: {name: cpu, target: {type: Utilization, averageUtilization: 60}}
  behavior:
    scaleDown: {stabilizationWindowSeconds: 120}
";

const HPA_V1: &str = "apiVersion: autoscaling/v1
kind: HorizontalPodAutoscaler
metadata: {name: old}
spec:
  scaleTargetRef: {apiVersion: apps/v1, kind: Deployment, name: web}
  maxReplicas: 3
";

/// Lines of a running `kubectl get -w`, read on a thread.
struct Watch {
    child: std::process::Child,
    lines: std::sync::mpsc::Receiver<String>,
    text: String,
}

impl Watch {
    fn start(c: &Cluster, args: &[&str]) -> Watch {
        let mut child = c
            .command(KUBECTL, args)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let (tx, lines) = std::sync::mpsc::channel::<String>();
        let stdout = child.stdout.take().unwrap();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        Watch {
            child,
            lines,
            text: String::new(),
        }
    }

    /// Waits until the output has a line containing `what`.
    fn wait_for(&mut self, what: &str) {
        let deadline = Instant::now() + Duration::from_secs(30);
        while !self.text.lines().any(|l| l.contains(what)) {
            let line = self
                .lines
                .recv_timeout(deadline.saturating_duration_since(Instant::now()))
                .unwrap_or_else(|_| panic!("no line with {what:?} in:\n{}", self.text));
            self.text.push_str(&line);
            self.text.push('\n');
        }
    }
}

impl Drop for Watch {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// HorizontalPodAutoscalers through autoscaling/v1 and v2. Only the full resource name keeps
/// the version: kubectl expands a short name (`hpa.v1.autoscaling`) to the preferred version.
const V1: &str = "horizontalpodautoscalers.v1.autoscaling";
const V2: &str = "horizontalpodautoscalers.v2.autoscaling";

#[test]
fn autoscalers_are_one_object_in_both_versions() {
    let c = Cluster::start();
    c.ok(&["create", "deployment", "web", "--image=nginx:1.25"]);
    // A watch through v1 sees what v2 writes, converted.
    let mut watch = Watch::start(
        &c,
        &[
            "get",
            V1,
            "-w",
            "--request-timeout=90s",
            "-o",
            "custom-columns=NAME:.metadata.name,CPU:.spec.targetCPUUtilizationPercentage",
        ],
    );
    // kubectl autoscale writes through autoscaling/v2.
    let out = c.ok(&[
        "autoscale",
        "deployment",
        "web",
        "--min=2",
        "--max=5",
        "--cpu-percent=60",
    ]);
    assert!(
        out.contains("horizontalpodautoscaler.autoscaling/web autoscaled"),
        "{out}"
    );
    watch.wait_for("web    60");
    let v1 = c.ok(&["get", V1, "web", "-o", "yaml"]);
    for line in [
        "apiVersion: autoscaling/v1\n",
        "  maxReplicas: 5\n  minReplicas: 2\n",
        "    kind: Deployment\n    name: web\n",
        "  targetCPUUtilizationPercentage: 60\n",
    ] {
        assert!(v1.contains(line), "missing {line:?} in:\n{v1}");
    }
    assert!(!v1.contains("metrics"), "{v1}");
    let v2 = c.ok(&["get", V2, "web", "-o", "yaml"]);
    for line in [
        "apiVersion: autoscaling/v2\n",
        "  metrics:\n  - resource:\n      name: cpu\n      target:\n        averageUtilization: 60\n        type: Utilization\n    type: Resource\n",
    ] {
        assert!(v2.contains(line), "missing {line:?} in:\n{v2}");
    }
    // One object: the same uid and resourceVersion through both versions.
    let ids = "{.metadata.uid} {.metadata.resourceVersion}";
    assert_eq!(
        jsonpath(&c, &[V1, "web"], ids),
        jsonpath(&c, &[V2, "web"], ids)
    );

    // What v1 has no field for travels in annotations, and comes back.
    c.ok_in(&["create", "-f", "-"], Some(HPA_V2));
    watch.wait_for("api    60");
    assert_eq!(
        jsonpath(
            &c,
            &[V1, "api"],
            "{.spec.targetCPUUtilizationPercentage} {.metadata.annotations.autoscaling\\.alpha\\.kubernetes\\.io/metrics}"
        ),
        r#"60 [{"type":"Resource","resource":{"name":"memory","targetAverageValue":"200Mi"}}]"#
    );
    let behavior = jsonpath(
        &c,
        &[V1, "api"],
        "{.metadata.annotations.autoscaling\\.alpha\\.kubernetes\\.io/behavior}",
    );
    assert!(
        behavior.contains(r#""ScaleDown":{"StabilizationWindowSeconds":120"#),
        "{behavior}"
    );
    // Tables print every metric, through either version.
    for what in [V1, V2] {
        let table = c.ok(&["get", what, "api"]);
        assert!(
            table.contains("memory: <unknown>/200Mi, cpu: <unknown>/60%"),
            "{what}: {table}"
        );
    }
    // A v1 patch keeps the metrics v1 cannot show.
    c.ok(&[
        "patch",
        V1,
        "api",
        "--type=merge",
        "-p",
        r#"{"spec":{"targetCPUUtilizationPercentage":40}}"#,
    ]);
    watch.wait_for("api    40");
    assert_eq!(
        jsonpath(
            &c,
            &[V2, "api"],
            "{.spec.metrics[*].resource.name} {.spec.metrics[1].resource.target.averageUtilization} {.spec.behavior.scaleDown.stabilizationWindowSeconds} {.metadata.annotations}"
        ),
        "memory cpu 40 120 "
    );

    // The reverse: created through v1, read through v2, with v1's implicit 80% CPU target.
    c.ok_in(&["create", "-f", "-"], Some(HPA_V1));
    watch.wait_for("old    80");
    let v2 = c.ok(&["get", V2, "old", "-o", "yaml"]);
    assert!(
        v2.contains("        averageUtilization: 80\n        type: Utilization\n"),
        "{v2}"
    );
    assert!(!v2.contains("autoscaling.alpha"), "{v2}");
    // Lists and field selectors through either version see the same three objects.
    for what in [V1, V2] {
        assert_eq!(
            jsonpath(&c, &[what], "{.items[*].metadata.name}"),
            "api old web"
        );
        assert_eq!(
            jsonpath(
                &c,
                &[what, "--field-selector=metadata.name=old"],
                "{.items[*].metadata.name}"
            ),
            "old"
        );
    }

    // Managed fields record each writer's version; a v1 change takes the metrics away from
    // the v2 writer, compared in its version.
    c.ok(&[
        "patch",
        V1,
        "web",
        "-p",
        r#"{"spec":{"targetCPUUtilizationPercentage":70}}"#,
    ]);
    let yaml = c.ok(&["get", V2, "web", "-o", "yaml", "--show-managed-fields"]);
    let entry = |manager: &str| -> String {
        let start = yaml
            .find(&format!("manager: {manager}\n"))
            .unwrap_or_else(|| panic!("no {manager} in:\n{yaml}"));
        let begin = yaml[..start].rfind("  - apiVersion:").unwrap();
        let end = yaml[start..]
            .find("  - apiVersion:")
            .map_or(yaml.len(), |e| start + e);
        yaml[begin..end].to_owned()
    };
    let autoscale = entry("kubectl-autoscale");
    assert!(
        autoscale.contains("apiVersion: autoscaling/v2") && autoscale.contains("f:maxReplicas"),
        "{autoscale}"
    );
    assert!(!autoscale.contains("f:metrics"), "{autoscale}");
    let patch = entry("kubectl-patch");
    assert!(
        patch.contains("apiVersion: autoscaling/v1")
            && patch.contains("f:targetCPUUtilizationPercentage: {}"),
        "{patch}"
    );
    // Server-side apply through v1 conflicts with the v2 writer, named in its version.
    let applied = "apiVersion: autoscaling/v1
kind: HorizontalPodAutoscaler
metadata: {name: web}
spec:
  scaleTargetRef: {apiVersion: apps/v1, kind: Deployment, name: web}
  maxReplicas: 6
";
    let err = c.fails(&["apply", "--server-side", "-f", "-"], Some(applied));
    assert!(
        err.contains("conflict with \"kubectl-autoscale\" using autoscaling/v2: .spec.maxReplicas"),
        "{err}"
    );
    c.ok_in(
        &["apply", "--server-side", "--force-conflicts", "-f", "-"],
        Some(applied),
    );
    assert_eq!(
        jsonpath(
            &c,
            &[V2, "web"],
            "{.spec.maxReplicas} {.spec.metrics[0].resource.target.averageUtilization}"
        ),
        "6 70"
    );

    // Deleting through one version deletes the object.
    c.ok(&["delete", V1, "api"]);
    let err = c.fails(&["get", V2, "api"], None);
    assert!(
        err.contains("horizontalpodautoscalers.autoscaling \"api\" not found"),
        "{err}"
    );
    drop(watch);
}
