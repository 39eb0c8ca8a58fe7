//! Tests of the Pod strategy: defaulting, validation, update rules and QoS, table-driven.

use super::defaults::*;
use super::validation::*;
use super::*;
use serde_json::json;
use skiff_core::registry::lookup;
use skiff_core::status::FieldError;

fn pods() -> &'static ResourceInfo {
    lookup("", "v1", "pods").unwrap()
}

fn shown(errs: &[FieldError]) -> Vec<String> {
    errs.iter().map(ToString::to_string).collect()
}

fn defaulted(mut spec: Value) -> Value {
    default_pod_spec(&mut spec);
    spec
}

const LABEL_MSG: &str = "a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must start and end with an alphanumeric character (e.g. 'my-name',  or '123-abc', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?')";

#[test]
fn pod_spec_defaults_match_upstream() {
    let spec = defaulted(json!({
        "containers": [{
            "name": "web", "image": "nginx",
            "ports": [{"containerPort": 80}],
            "env": [{"name": "NODE", "valueFrom": {"fieldRef": {"fieldPath": "spec.nodeName"}}}],
            "livenessProbe": {"httpGet": {"port": 80}},
            "readinessProbe": {"grpc": {"port": 9000}, "periodSeconds": 5},
            "resources": {"limits": {"cpu": "1000m", "memory": "1.5Gi"}},
        }],
        "volumes": [
            {"name": "a"},
            {"name": "b", "configMap": {"name": "cm"}},
            {"name": "c", "secret": {"secretName": "s", "defaultMode": 256}},
            {"name": "d", "hostPath": {"path": "/x"}},
            {"name": "e", "projected": {"sources": [{"serviceAccountToken": {"path": "t"}}]}},
        ],
    }));
    assert_eq!(
        spec,
        json!({
            "containers": [{
                "name": "web", "image": "nginx", "imagePullPolicy": "Always",
                "terminationMessagePath": "/dev/termination-log",
                "terminationMessagePolicy": "File",
                "ports": [{"containerPort": 80, "protocol": "TCP"}],
                "env": [{"name": "NODE", "valueFrom": {"fieldRef": {"apiVersion": "v1", "fieldPath": "spec.nodeName"}}}],
                "livenessProbe": {"httpGet": {"port": 80, "path": "/", "scheme": "HTTP"},
                    "timeoutSeconds": 1, "periodSeconds": 10, "successThreshold": 1, "failureThreshold": 3},
                "readinessProbe": {"grpc": {"port": 9000, "service": ""},
                    "timeoutSeconds": 1, "periodSeconds": 5, "successThreshold": 1, "failureThreshold": 3},
                "resources": {"limits": {"cpu": "1", "memory": "1536Mi"}},
            }],
            "volumes": [
                {"name": "a", "emptyDir": {}},
                {"name": "b", "configMap": {"name": "cm", "defaultMode": 420}},
                {"name": "c", "secret": {"secretName": "s", "defaultMode": 256}},
                {"name": "d", "hostPath": {"path": "/x", "type": ""}},
                {"name": "e", "projected": {"defaultMode": 420,
                    "sources": [{"serviceAccountToken": {"path": "t", "expirationSeconds": 3600}}]}},
            ],
            "dnsPolicy": "ClusterFirst",
            "restartPolicy": "Always",
            "schedulerName": "default-scheduler",
            "securityContext": {},
            "terminationGracePeriodSeconds": 30,
        })
    );
}

#[test]
fn set_values_are_kept() {
    let spec = defaulted(json!({
        "restartPolicy": "Never", "dnsPolicy": "Default", "terminationGracePeriodSeconds": 0,
        "securityContext": {"runAsUser": 1000}, "schedulerName": "mine",
        "containers": [{"name": "c", "image": "busybox:1.36", "imagePullPolicy": "Never",
                        "ports": [{"containerPort": 53, "protocol": "UDP"}]}],
    }));
    assert_eq!(spec["restartPolicy"], "Never");
    assert_eq!(spec["dnsPolicy"], "Default");
    assert_eq!(spec["terminationGracePeriodSeconds"], 0);
    assert_eq!(spec["securityContext"], json!({"runAsUser": 1000}));
    assert_eq!(spec["schedulerName"], "mine");
    assert_eq!(spec["containers"][0]["imagePullPolicy"], "Never");
    assert_eq!(spec["containers"][0]["ports"][0]["protocol"], "UDP");
    assert_eq!(spec["containers"][0]["resources"], json!({}));
}

#[test]
fn image_pull_policy_follows_the_tag() {
    for (image, policy) in [
        ("nginx", "Always"),
        ("nginx:latest", "Always"),
        ("nginx:1.25", "IfNotPresent"),
        ("registry.local:5000/team/app", "Always"),
        ("registry.local:5000/team/app:v2", "IfNotPresent"),
        (
            "nginx@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef",
            "IfNotPresent",
        ),
        ("Nginx", "IfNotPresent"),
        ("", "IfNotPresent"),
    ] {
        let spec = defaulted(json!({"containers": [{"name": "c", "image": image}]}));
        assert_eq!(spec["containers"][0]["imagePullPolicy"], policy, "{image}");
    }
}

#[test]
fn pods_get_requests_from_limits_service_links_and_host_ports() {
    let mut spec = defaulted(json!({
        "hostNetwork": true,
        "containers": [{"name": "c", "image": "i", "ports": [{"containerPort": 8080}],
                        "resources": {"limits": {"cpu": "2"}, "requests": {"memory": "1Gi"}}}],
    }));
    default_pod(&mut spec);
    assert_eq!(
        spec["containers"][0]["resources"],
        json!({"limits": {"cpu": "2"}, "requests": {"cpu": "2", "memory": "1Gi"}})
    );
    assert_eq!(spec["containers"][0]["ports"][0]["hostPort"], 8080);
    assert_eq!(spec["enableServiceLinks"], true);
    let mut template_spec = defaulted(json!({"containers": [{"name": "c", "image": "i"}]}));
    assert!(template_spec.get("enableServiceLinks").is_none());
    default_pod(&mut template_spec);
    assert_eq!(template_spec["enableServiceLinks"], true);
}

#[test]
fn pod_specs_are_validated_like_upstream() {
    let table: Vec<(Value, Vec<String>)> = vec![
        (json!({"containers": [{"name": "c", "image": "i"}]}), vec![]),
        (json!({}), vec!["spec.containers: Required value".into()]),
        (
            json!({"containers": [{"name": "x", "image": "i"}, {"name": "x", "image": "i"}]}),
            vec!["spec.containers[1].name: Duplicate value: \"x\"".into()],
        ),
        (
            json!({"containers": [{"name": "Web", "image": ""}]}),
            vec![
                format!("spec.containers[0].name: Invalid value: \"Web\": {LABEL_MSG}"),
                "spec.containers[0].image: Required value".into(),
            ],
        ),
        (
            json!({"containers": [{"name": "c", "image": "i", "ports": [
                {"containerPort": 70000, "name": "http"},
                {"containerPort": 0, "name": "http", "protocol": "ICMP"},
            ]}]}),
            vec![
                "spec.containers[0].ports[0].containerPort: Invalid value: 70000: must be between 1 and 65535, inclusive".into(),
                "spec.containers[0].ports[1].name: Duplicate value: \"http\"".into(),
                "spec.containers[0].ports[1].containerPort: Required value".into(),
                "spec.containers[0].ports[1].protocol: Unsupported value: \"ICMP\": supported values: \"SCTP\", \"TCP\", \"UDP\"".into(),
            ],
        ),
        (
            json!({"restartPolicy": "Sometimes", "dnsPolicy": "Google",
                   "containers": [{"name": "c", "image": "i", "imagePullPolicy": "Maybe"}]}),
            vec![
                "spec.containers[0].imagePullPolicy: Unsupported value: \"Maybe\": supported values: \"Always\", \"IfNotPresent\", \"Never\"".into(),
                "spec.restartPolicy: Unsupported value: \"Sometimes\": supported values: \"Always\", \"OnFailure\", \"Never\"".into(),
                "spec.dnsPolicy: Unsupported value: \"Google\": supported values: \"ClusterFirstWithHostNet\", \"ClusterFirst\", \"Default\", \"None\"".into(),
            ],
        ),
        (
            json!({"containers": [{"name": "c", "image": "i",
                   "resources": {"limits": {"cpu": "1"}, "requests": {"cpu": "2", "memory": "-1"}}}]}),
            vec![
                "spec.containers[0].resources.requests: Invalid value: \"2\": must be less than or equal to cpu limit of 1".into(),
                "spec.containers[0].resources.requests[memory]: Invalid value: \"-1\": must be greater than or equal to 0".into(),
            ],
        ),
        (
            json!({"containers": [{"name": "c", "image": "i",
                   "resources": {"limits": {"gpu": "1", "example.com/dongle": "1"},
                                 "requests": {"example.com/dongle": "0"}}}]}),
            vec![
                "spec.containers[0].resources.limits[gpu]: Invalid value: \"gpu\": must be a standard resource type or fully qualified".into(),
                "spec.containers[0].resources.requests: Invalid value: \"0\": must be equal to example.com/dongle limit of 1".into(),
            ],
        ),
        (
            json!({"volumes": [{"name": "data", "emptyDir": {}}, {"name": "data", "emptyDir": {}},
                               {"name": "cfg", "configMap": {}, "secret": {"secretName": "s"}}],
                   "containers": [{"name": "c", "image": "i", "volumeMounts": [
                       {"name": "logs", "mountPath": "/l"},
                       {"name": "data", "mountPath": "/l"},
                   ]}]}),
            vec![
                "spec.volumes[1].name: Duplicate value: \"data\"".into(),
                "spec.volumes[2].configMap: Forbidden: may not specify more than 1 volume type".into(),
                "spec.containers[0].volumeMounts[0].name: Not found: \"logs\"".into(),
                "spec.containers[0].volumeMounts[1].mountPath: Invalid value: \"/l\": must be unique".into(),
            ],
        ),
        (
            json!({"containers": [{"name": "c", "image": "i",
                   "env": [{"name": ""}, {"name": "A=B"}, {"name": "X", "value": "1", "valueFrom": {"secretKeyRef": {"name": "s", "key": "k"}}}],
                   "livenessProbe": {"successThreshold": 2, "exec": {"command": ["true"]}},
                   "readinessProbe": {}}]}),
            vec![
                "spec.containers[0].env[0].name: Required value".into(),
                "spec.containers[0].env[1].name: Invalid value: \"A=B\": a valid environment variable name must consist only of printable ASCII characters other than '='".into(),
                "spec.containers[0].env[2].valueFrom: Invalid value: \"\": may not be specified when `value` is not empty".into(),
                "spec.containers[0].livenessProbe.successThreshold: Invalid value: 2: must be 1".into(),
                "spec.containers[0].readinessProbe: Required value: must specify a handler type".into(),
            ],
        ),
        (
            json!({"initContainers": [{"name": "c", "image": "i", "readinessProbe": {"exec": {"command": ["x"]}}}],
                   "containers": [{"name": "c", "image": "i"}]}),
            vec![
                "spec.initContainers[0].name: Duplicate value: \"c\"".into(),
                "spec.initContainers[0].readinessProbe: Forbidden: may not be set for init containers".into(),
            ],
        ),
        (
            json!({"activeDeadlineSeconds": 0, "dnsPolicy": "None",
                   "tolerations": [{"operator": "Equal", "value": "x"}],
                   "containers": [{"name": "c", "image": "i"}]}),
            vec![
                "spec.dnsConfig: Required value: must provide `dnsConfig` when `dnsPolicy` is None".into(),
                "spec.activeDeadlineSeconds: Invalid value: 0: must be between 1 and 2147483647, inclusive".into(),
                "spec.tolerations[0].operator: Invalid value: \"Equal\": operator must be Exists when `key` is empty, which means \"match all values and all keys\"".into(),
            ],
        ),
    ];
    for (spec, want) in table {
        let spec = defaulted(spec);
        assert_eq!(shown(&validate_pod_spec(&spec, "spec")), want, "{spec}");
    }
}

#[test]
fn templates_name_their_labels_as_upstream_does() {
    let template = json!({"metadata": {"labels": {"a b": "x"}},
                          "spec": {"ephemeralContainers": [{"name": "e", "image": "i"}],
                                   "containers": [{"name": "c", "image": "i"}]}});
    let mut t = template.clone();
    default_template(&mut t);
    assert!(t["metadata"].get("creationTimestamp").is_none());
    let errs = shown(&validate_template(&t, "spec.template"));
    assert!(errs[0].starts_with("spec.template.labels: Invalid value: \"a b\""));
    assert_eq!(
        errs.last().unwrap(),
        "spec.template.spec.ephemeralContainers: Forbidden: ephemeral containers not allowed in pod template"
    );
}

const FORBIDDEN_UPDATE: &str = "spec: Forbidden: pod updates may not change fields other than `spec.containers[*].image`,`spec.initContainers[*].image`,`spec.activeDeadlineSeconds`,`spec.tolerations` (only additions to existing tolerations),`spec.terminationGracePeriodSeconds` (allow it to be set to 1 if it was previously negative)";

#[test]
fn pod_updates_change_only_what_upstream_allows() {
    let base = defaulted(json!({
        "containers": [{"name": "c", "image": "nginx:1.25", "env": [{"name": "A", "value": "1"}]}],
        "tolerations": [{"key": "k", "operator": "Exists", "effect": "NoExecute", "tolerationSeconds": 10}],
        "activeDeadlineSeconds": 100,
    }));
    let change = |f: &dyn Fn(&mut Value)| {
        let mut v = base.clone();
        f(&mut v);
        v
    };
    let table: Vec<(Value, Vec<String>)> = vec![
        (base.clone(), vec![]),
        (change(&|v| v["containers"][0]["image"] = json!("nginx:1.27")), vec![]),
        (change(&|v| v["activeDeadlineSeconds"] = json!(50)), vec![]),
        (
            change(&|v| v["activeDeadlineSeconds"] = json!(200)),
            vec!["spec.activeDeadlineSeconds: Invalid value: 200: must be less than or equal to previous value".into()],
        ),
        (
            change(&|v| v["tolerations"][0]["tolerationSeconds"] = json!(5)),
            vec![],
        ),
        (
            change(&|v| {
                v["tolerations"]
                    .as_array_mut()
                    .unwrap()
                    .push(json!({"key": "x", "operator": "Exists"}))
            }),
            vec![],
        ),
        (
            change(&|v| v["tolerations"] = json!([])),
            vec!["spec.tolerations: Forbidden: existing toleration can not be modified except its tolerationSeconds".into()],
        ),
        (
            change(&|v| v["containers"][0]["env"][0]["value"] = json!("2")),
            vec![FORBIDDEN_UPDATE.into()],
        ),
        (
            change(&|v| v["terminationGracePeriodSeconds"] = json!(10)),
            vec![FORBIDDEN_UPDATE.into()],
        ),
        (
            change(&|v| {
                v["containers"]
                    .as_array_mut()
                    .unwrap()
                    .push(json!({"name": "d", "image": "i"}))
            }),
            vec!["spec.containers: Forbidden: pod updates may not add or remove containers".into()],
        ),
        (
            change(&|v| v["containers"][0]["image"] = json!("")),
            vec!["spec.containers[0].image: Required value".into()],
        ),
    ];
    for (new, want) in table {
        assert_eq!(shown(&validate_pod_update(&new, &base)), want, "{new}");
    }
}

#[test]
fn qos_classes() {
    let c = |resources: Value| json!({"containers": [{"name": "c", "image": "i", "resources": resources}]});
    for (spec, want) in [
        (c(json!({})), "BestEffort"),
        (c(json!({"requests": {"cpu": "100m"}})), "Burstable"),
        (
            c(
                json!({"limits": {"cpu": "1", "memory": "1Gi"}, "requests": {"cpu": "1", "memory": "1Gi"}}),
            ),
            "Guaranteed",
        ),
        (
            c(
                json!({"limits": {"cpu": "1", "memory": "1Gi"}, "requests": {"cpu": "500m", "memory": "1Gi"}}),
            ),
            "Burstable",
        ),
        (c(json!({"limits": {"example.com/gpu": "1"}})), "BestEffort"),
    ] {
        assert_eq!(qos_class(&spec), want, "{spec}");
    }
}

#[test]
fn create_defaults_validates_and_sets_the_qos_class() {
    let mut pod = json!({
        "metadata": {"name": "p", "namespace": "default"},
        "spec": {"containers": [{"name": "c", "image": "nginx",
                 "resources": {"limits": {"cpu": "1", "memory": "1Gi"}}}]},
        "status": {"phase": "Pending"},
    });
    before_create(pods(), &mut pod).unwrap();
    assert_eq!(
        pod["status"],
        json!({"phase": "Pending", "qosClass": "Guaranteed"})
    );
    assert_eq!(pod["spec"]["enableServiceLinks"], true);
    let mut bad = json!({"metadata": {"name": "p"}, "spec": {"containers": []}});
    let err = before_create(pods(), &mut bad).unwrap_err();
    assert_eq!(err.code, 422);
    assert_eq!(
        err.message,
        "Pod \"p\" is invalid: spec.containers: Required value"
    );
    let mut unreadable = json!({"metadata": {"name": "p"},
        "spec": {"containers": [{"name": "c", "image": "i", "resources": {"limits": {"cpu": "one"}}}]}});
    let err = before_create(pods(), &mut unreadable).unwrap_err();
    assert_eq!(err.code, 400);
    assert_eq!(
        err.message,
        "Pod in version \"v1\" cannot be handled as a Pod: quantities must match the regular expression '^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$'"
    );
}

#[test]
fn update_reapplies_defaults_before_comparing() {
    let mut old = json!({"metadata": {"name": "p"},
        "spec": {"containers": [{"name": "c", "image": "nginx:1.25"}]}});
    before_create(pods(), &mut old).unwrap();
    // A client sending the original, undefaulted manifest with a new image is fine.
    let mut new = json!({"metadata": {"name": "p"},
        "spec": {"containers": [{"name": "c", "image": "nginx:1.27"}]}});
    before_update(pods(), &old, &mut new).unwrap();
    assert_eq!(
        new["spec"]["containers"][0]["imagePullPolicy"],
        "IfNotPresent"
    );
    let mut renamed = new.clone();
    renamed["metadata"]["name"] = json!("q");
    let err = before_update(pods(), &old, &mut renamed).unwrap_err();
    assert!(
        err.message
            .contains("metadata.name: Invalid value: \"q\": field is immutable")
    );
}
