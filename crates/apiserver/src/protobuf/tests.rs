//! Round trips of real objects: built with the `k8s-pb` prost types, encoded as client-go does
//! (`k8s\0` + `runtime.Unknown`), decoded, and compared with the JSON a client would send, both
//! as JSON and after decoding each into the `k8s-openapi` type.

use super::*;
use k8s_pb::api::{apps, authentication, authorization, coordination, core};
use k8s_pb::apimachinery::pkg::api::resource::Quantity;
use k8s_pb::apimachinery::pkg::apis::meta::v1 as meta;
use k8s_pb::apimachinery::pkg::runtime::{TypeMeta, Unknown};
use k8s_pb::apimachinery::pkg::util::intstr::IntOrString;
use prost::Message as _;
use serde::de::DeserializeOwned;
use serde_json::json;
use std::collections::BTreeMap;

/// The body client-go sends for `msg` (empty contentEncoding/contentType, as Go writes them).
fn body(api_version: &str, kind: &str, msg: &impl prost::Message) -> Vec<u8> {
    let env = Unknown {
        type_meta: Some(TypeMeta {
            api_version: Some(api_version.into()),
            kind: Some(kind.into()),
        }),
        raw: Some(msg.encode_to_vec()),
        content_encoding: Some(String::new()),
        content_type: Some(String::new()),
    };
    let mut out = MAGIC.to_vec();
    out.extend(env.encode_to_vec());
    out
}

fn s(v: &str) -> Option<String> {
    Some(v.to_owned())
}

fn map(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
    pairs
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect()
}

fn meta_named(name: &str) -> Option<meta::ObjectMeta> {
    Some(meta::ObjectMeta {
        name: s(name),
        ..Default::default()
    })
}

fn quantity(v: &str) -> Quantity {
    Quantity { string: s(v) }
}

/// Decodes `body`, checks it equals `expected` as JSON and as the typed `T`, and that the
/// server's typed check of the kind accepts it.
fn check<T>(body: &[u8], expected: Value)
where
    T: DeserializeOwned + PartialEq + std::fmt::Debug,
{
    let got = decode(body).unwrap_or_else(|e| panic!("decoding failed: {e}"));
    assert_eq!(got, expected, "decoded JSON");
    let typed_got: T = serde_json::from_value(got.clone()).expect("decoded JSON is a valid T");
    let typed_expected: T = serde_json::from_value(expected).expect("expected JSON is a T");
    assert_eq!(typed_got, typed_expected, "as the k8s-openapi type");
    let (group, version) = match got["apiVersion"].as_str().unwrap().split_once('/') {
        Some((g, v)) => (g.to_owned(), v.to_owned()),
        None => (
            String::new(),
            got["apiVersion"].as_str().unwrap().to_owned(),
        ),
    };
    let ops = crate::typed::ops(&group, &version, got["kind"].as_str().unwrap()).unwrap();
    (ops.roundtrip)(&got).expect("the typed round trip accepts it");
}

fn hex(s: &str) -> Vec<u8> {
    let s: String = s.chars().filter(|c| !c.is_whitespace()).collect();
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
        .collect()
}

#[test]
fn the_captured_configmap_of_kubectl_create() {
    // `kubectl create configmap cmx --from-literal=a=b` (kubectl 1.32), byte for byte: Go
    // writes every non-pointer ObjectMeta field, empty or not.
    let captured = hex("6b387300 0a0f 0a027631 1209 436f6e6669674d6170 121d
         0a13 0a03636d78 1200 1a00 2200 2a00 3200 3800 4200
         1206 0a0161 120162 1a00 2200");
    // Exactly what kubectl sends as JSON for the same command.
    let expected = json!({"apiVersion": "v1", "kind": "ConfigMap",
        "metadata": {"name": "cmx", "creationTimestamp": null}, "data": {"a": "b"}});
    check::<k8s_openapi::api::core::v1::ConfigMap>(&captured, expected.clone());

    // The same through k8s-pb, with a binary value and immutable: false (a pointer: kept).
    let cm = core::v1::ConfigMap {
        metadata: Some(meta::ObjectMeta {
            name: s("cmx"),
            namespace: s("default"),
            labels: map(&[("app", "x")]),
            ..Default::default()
        }),
        immutable: Some(false),
        data: map(&[("a", "b"), ("empty", "")]),
        binary_data: [("bin".to_owned(), vec![0, 159, 146, 150])].into(),
    };
    check::<k8s_openapi::api::core::v1::ConfigMap>(
        &body("v1", "ConfigMap", &cm),
        json!({"apiVersion": "v1", "kind": "ConfigMap",
            "metadata": {"name": "cmx", "namespace": "default", "labels": {"app": "x"}},
            "immutable": false,
            "data": {"a": "b", "empty": ""},
            "binaryData": {"bin": "AJ+Slg=="}}),
    );
}

#[test]
fn secret_bytes_are_base64() {
    let secret = core::v1::Secret {
        metadata: meta_named("s1"),
        data: [
            ("pw".to_owned(), b"x".to_vec()),
            ("raw".to_owned(), vec![0xff, 0x00, 0x10]),
            ("empty".to_owned(), Vec::new()),
        ]
        .into(),
        r#type: s("Opaque"),
        ..Default::default()
    };
    check::<k8s_openapi::api::core::v1::Secret>(
        &body("v1", "Secret", &secret),
        json!({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "s1"},
            "data": {"pw": "eA==", "raw": "/wAQ", "empty": ""}, "type": "Opaque"}),
    );
}

#[test]
fn namespace_with_times_labels_and_finalizers() {
    let ns = core::v1::Namespace {
        metadata: Some(meta::ObjectMeta {
            name: s("n1"),
            labels: map(&[("team", "a")]),
            annotations: map(&[("note", "hi")]),
            creation_timestamp: Some(meta::Time {
                seconds: Some(1_700_000_000),
                // Go's protobuf decoding drops the nanoseconds of a Time.
                nanos: Some(5),
            }),
            // A zero Time is an empty message: JSON null, as Go writes it.
            deletion_timestamp: Some(meta::Time::default()),
            ..Default::default()
        }),
        spec: Some(core::v1::NamespaceSpec {
            finalizers: vec!["kubernetes".into()],
        }),
        status: Some(core::v1::NamespaceStatus::default()),
    };
    check::<k8s_openapi::api::core::v1::Namespace>(
        &body("v1", "Namespace", &ns),
        json!({"apiVersion": "v1", "kind": "Namespace",
            "metadata": {"name": "n1", "labels": {"team": "a"}, "annotations": {"note": "hi"},
                         "creationTimestamp": "2023-11-14T22:13:20Z", "deletionTimestamp": null},
            "spec": {"finalizers": ["kubernetes"]},
            "status": {}}),
    );
}

fn deployment() -> apps::v1::Deployment {
    let labels = map(&[("app", "d1")]);
    let container = core::v1::Container {
        name: s("nginx"),
        image: s("nginx:1.25"),
        command: vec!["nginx".into(), "-g".into()],
        ports: vec![core::v1::ContainerPort {
            name: s("http"),
            container_port: Some(80),
            protocol: s("TCP"),
            // Go writes non-pointer zeros: unset.
            host_port: Some(0),
            host_ip: s(""),
        }],
        env: vec![
            core::v1::EnvVar {
                name: s("A"),
                value: s("1"),
                value_from: None,
            },
            core::v1::EnvVar {
                name: s("FROM_CM"),
                value: s(""),
                value_from: Some(core::v1::EnvVarSource {
                    config_map_key_ref: Some(core::v1::ConfigMapKeySelector {
                        // An embedded Go struct: its fields land in the parent object.
                        local_object_reference: Some(core::v1::LocalObjectReference {
                            name: s("cm"),
                        }),
                        key: s("k"),
                        optional: Some(false),
                    }),
                    ..Default::default()
                }),
            },
        ],
        resources: Some(core::v1::ResourceRequirements {
            limits: [("cpu".to_owned(), quantity("500m"))].into(),
            requests: [
                ("cpu".to_owned(), quantity("250m")),
                ("memory".to_owned(), quantity("128Mi")),
            ]
            .into(),
            ..Default::default()
        }),
        liveness_probe: Some(core::v1::Probe {
            handler: Some(core::v1::ProbeHandler {
                http_get: Some(core::v1::HttpGetAction {
                    path: s("/healthz"),
                    port: Some(IntOrString {
                        r#type: Some(1),
                        int_val: Some(0),
                        str_val: s("http"),
                    }),
                    ..Default::default()
                }),
                ..Default::default()
            }),
            initial_delay_seconds: Some(3),
            timeout_seconds: Some(0),
            ..Default::default()
        }),
        termination_message_path: s(""),
        stdin: Some(false),
        security_context: Some(core::v1::SecurityContext {
            // Pointer fields: zero is meaningful and kept.
            run_as_user: Some(0),
            allow_privilege_escalation: Some(false),
            ..Default::default()
        }),
        ..Default::default()
    };
    apps::v1::Deployment {
        metadata: Some(meta::ObjectMeta {
            name: s("d1"),
            generate_name: s(""),
            namespace: s("default"),
            generation: Some(0),
            labels: labels.clone(),
            owner_references: vec![meta::OwnerReference {
                api_version: s("v1"),
                kind: s("ConfigMap"),
                name: s("owner"),
                uid: s("1234"),
                controller: Some(true),
                block_owner_deletion: Some(false),
            }],
            managed_fields: vec![meta::ManagedFieldsEntry {
                manager: s("kubectl-create"),
                operation: s("Update"),
                api_version: s("apps/v1"),
                time: Some(meta::Time {
                    seconds: Some(1_700_000_001),
                    nanos: None,
                }),
                fields_type: s("FieldsV1"),
                fields_v1: Some(meta::FieldsV1 {
                    raw: Some(br#"{"f:spec":{"f:replicas":{}}}"#.to_vec()),
                }),
                subresource: s(""),
            }],
            ..Default::default()
        }),
        spec: Some(apps::v1::DeploymentSpec {
            replicas: Some(2),
            selector: Some(meta::LabelSelector {
                match_labels: labels.clone(),
                match_expressions: vec![meta::LabelSelectorRequirement {
                    key: s("tier"),
                    operator: s("In"),
                    values: vec!["web".into(), "api".into()],
                }],
            }),
            template: Some(core::v1::PodTemplateSpec {
                metadata: Some(meta::ObjectMeta {
                    labels,
                    creation_timestamp: Some(meta::Time::default()),
                    ..Default::default()
                }),
                spec: Some(core::v1::PodSpec {
                    containers: vec![container],
                    volumes: vec![core::v1::Volume {
                        name: s("config"),
                        volume_source: Some(core::v1::VolumeSource {
                            config_map: Some(core::v1::ConfigMapVolumeSource {
                                local_object_reference: Some(core::v1::LocalObjectReference {
                                    name: s("cm"),
                                }),
                                default_mode: Some(420),
                                ..Default::default()
                            }),
                            ..Default::default()
                        }),
                    }],
                    restart_policy: s(""),
                    dns_policy: s(""),
                    host_network: Some(false),
                    termination_grace_period_seconds: Some(0),
                    node_selector: map(&[("disk", "ssd")]),
                    ..Default::default()
                }),
            }),
            strategy: Some(apps::v1::DeploymentStrategy {
                r#type: s("RollingUpdate"),
                rolling_update: Some(apps::v1::RollingUpdateDeployment {
                    max_unavailable: Some(IntOrString {
                        r#type: Some(0),
                        int_val: Some(1),
                        str_val: s(""),
                    }),
                    max_surge: Some(IntOrString {
                        r#type: Some(1),
                        int_val: Some(0),
                        str_val: s("25%"),
                    }),
                }),
            }),
            min_ready_seconds: Some(0),
            revision_history_limit: Some(0),
            paused: Some(false),
            progress_deadline_seconds: None,
        }),
        status: Some(apps::v1::DeploymentStatus::default()),
    }
}

#[test]
fn deployment_with_containers_ports_resources_env_probes_and_volumes() {
    check::<k8s_openapi::api::apps::v1::Deployment>(
        &body("apps/v1", "Deployment", &deployment()),
        json!({"apiVersion": "apps/v1", "kind": "Deployment",
            "metadata": {"name": "d1", "namespace": "default", "labels": {"app": "d1"},
                "ownerReferences": [{"apiVersion": "v1", "kind": "ConfigMap", "name": "owner",
                    "uid": "1234", "controller": true, "blockOwnerDeletion": false}],
                "managedFields": [{"manager": "kubectl-create", "operation": "Update",
                    "apiVersion": "apps/v1", "time": "2023-11-14T22:13:21Z",
                    "fieldsType": "FieldsV1", "fieldsV1": {"f:spec": {"f:replicas": {}}}}]},
            "spec": {
                "replicas": 2,
                "selector": {"matchLabels": {"app": "d1"}, "matchExpressions": [
                    {"key": "tier", "operator": "In", "values": ["web", "api"]}]},
                "template": {
                    "metadata": {"labels": {"app": "d1"}, "creationTimestamp": null},
                    "spec": {
                        "containers": [{
                            "name": "nginx", "image": "nginx:1.25", "command": ["nginx", "-g"],
                            "ports": [{"name": "http", "containerPort": 80, "protocol": "TCP"}],
                            "env": [{"name": "A", "value": "1"},
                                    {"name": "FROM_CM", "valueFrom": {"configMapKeyRef":
                                        {"name": "cm", "key": "k", "optional": false}}}],
                            "resources": {"limits": {"cpu": "500m"},
                                          "requests": {"cpu": "250m", "memory": "128Mi"}},
                            "livenessProbe": {"httpGet": {"path": "/healthz", "port": "http"},
                                              "initialDelaySeconds": 3},
                            "securityContext": {"runAsUser": 0, "allowPrivilegeEscalation": false}
                        }],
                        "volumes": [{"name": "config",
                                     "configMap": {"name": "cm", "defaultMode": 420}}],
                        "terminationGracePeriodSeconds": 0,
                        "nodeSelector": {"disk": "ssd"}
                    }
                },
                "strategy": {"type": "RollingUpdate",
                             "rollingUpdate": {"maxUnavailable": 1, "maxSurge": "25%"}},
                "revisionHistoryLimit": 0
            },
            "status": {}}),
    );
}

#[test]
fn replicas_zero_is_kept_and_absent_replicas_stay_absent() {
    let mut d = deployment();
    d.spec.as_mut().unwrap().replicas = Some(0);
    let got = decode(&body("apps/v1", "Deployment", &d)).unwrap();
    assert_eq!(got["spec"]["replicas"], 0);
    d.spec.as_mut().unwrap().replicas = None;
    let got = decode(&body("apps/v1", "Deployment", &d)).unwrap();
    assert!(got["spec"].get("replicas").is_none());
}

#[test]
fn service_with_int_or_string_target_ports() {
    let svc = core::v1::Service {
        metadata: meta_named("s2"),
        spec: Some(core::v1::ServiceSpec {
            ports: vec![
                core::v1::ServicePort {
                    name: s("80-8080"),
                    protocol: s("TCP"),
                    port: Some(80),
                    target_port: Some(IntOrString {
                        r#type: Some(0),
                        int_val: Some(8080),
                        str_val: s(""),
                    }),
                    node_port: Some(0),
                    app_protocol: None,
                },
                core::v1::ServicePort {
                    name: s("named"),
                    protocol: s("UDP"),
                    port: Some(53),
                    target_port: Some(IntOrString {
                        r#type: Some(1),
                        int_val: Some(0),
                        str_val: s("dns"),
                    }),
                    node_port: Some(30053),
                    app_protocol: s(""),
                },
            ],
            selector: map(&[("app", "s2")]),
            cluster_ip: s(""),
            cluster_ips: vec!["10.0.0.10".into()],
            r#type: s("NodePort"),
            ip_families: vec!["IPv4".into()],
            session_affinity_config: Some(core::v1::SessionAffinityConfig {
                client_ip: Some(core::v1::ClientIpConfig {
                    timeout_seconds: Some(10800),
                }),
            }),
            ..Default::default()
        }),
        status: Some(core::v1::ServiceStatus {
            load_balancer: Some(core::v1::LoadBalancerStatus::default()),
            conditions: Vec::new(),
        }),
    };
    check::<k8s_openapi::api::core::v1::Service>(
        &body("v1", "Service", &svc),
        json!({"apiVersion": "v1", "kind": "Service", "metadata": {"name": "s2"},
            "spec": {
                "ports": [
                    {"name": "80-8080", "protocol": "TCP", "port": 80, "targetPort": 8080},
                    {"name": "named", "protocol": "UDP", "port": 53, "targetPort": "dns",
                     "nodePort": 30053, "appProtocol": ""}
                ],
                "selector": {"app": "s2"},
                "clusterIPs": ["10.0.0.10"],
                "type": "NodePort",
                "ipFamilies": ["IPv4"],
                "sessionAffinityConfig": {"clientIP": {"timeoutSeconds": 10800}}
            },
            "status": {"loadBalancer": {}}}),
    );
}

#[test]
fn self_subject_access_review() {
    // `kubectl auth can-i list pods -n default`.
    let ssar = authorization::v1::SelfSubjectAccessReview {
        metadata: Some(meta::ObjectMeta {
            creation_timestamp: Some(meta::Time::default()),
            ..Default::default()
        }),
        spec: Some(authorization::v1::SelfSubjectAccessReviewSpec {
            resource_attributes: Some(authorization::v1::ResourceAttributes {
                namespace: s("default"),
                verb: s("list"),
                group: s(""),
                version: s(""),
                resource: s("pods"),
                subresource: s(""),
                name: s(""),
                field_selector: None,
                label_selector: None,
            }),
            non_resource_attributes: None,
        }),
        status: Some(authorization::v1::SubjectAccessReviewStatus {
            allowed: Some(false),
            denied: Some(false),
            reason: s(""),
            evaluation_error: s(""),
        }),
    };
    check::<k8s_openapi::api::authorization::v1::SelfSubjectAccessReview>(
        &body("authorization.k8s.io/v1", "SelfSubjectAccessReview", &ssar),
        json!({"apiVersion": "authorization.k8s.io/v1", "kind": "SelfSubjectAccessReview",
            "metadata": {"creationTimestamp": null},
            "spec": {"resourceAttributes": {"namespace": "default", "verb": "list",
                                            "resource": "pods"}},
            // `allowed` is required: its false stays.
            "status": {"allowed": false}}),
    );
    let non_resource = authorization::v1::SelfSubjectAccessReview {
        spec: Some(authorization::v1::SelfSubjectAccessReviewSpec {
            resource_attributes: None,
            non_resource_attributes: Some(authorization::v1::NonResourceAttributes {
                path: s("/healthz"),
                verb: s("get"),
            }),
        }),
        ..Default::default()
    };
    check::<k8s_openapi::api::authorization::v1::SelfSubjectAccessReview>(
        &body(
            "authorization.k8s.io/v1",
            "SelfSubjectAccessReview",
            &non_resource,
        ),
        json!({"apiVersion": "authorization.k8s.io/v1", "kind": "SelfSubjectAccessReview",
            "spec": {"nonResourceAttributes": {"path": "/healthz", "verb": "get"}}}),
    );
}

#[test]
fn self_subject_review_and_extra_values() {
    // `kubectl auth whoami` sends an empty review.
    let review = authentication::v1::SelfSubjectReview {
        metadata: Some(meta::ObjectMeta {
            creation_timestamp: Some(meta::Time::default()),
            ..Default::default()
        }),
        status: Some(authentication::v1::SelfSubjectReviewStatus::default()),
    };
    check::<k8s_openapi::api::authentication::v1::SelfSubjectReview>(
        &body("authentication.k8s.io/v1", "SelfSubjectReview", &review),
        json!({"apiVersion": "authentication.k8s.io/v1", "kind": "SelfSubjectReview",
            "metadata": {"creationTimestamp": null}, "status": {}}),
    );
    // A filled status: ExtraValue is a list of strings in JSON.
    let filled = authentication::v1::SelfSubjectReview {
        metadata: None,
        status: Some(authentication::v1::SelfSubjectReviewStatus {
            user_info: Some(authentication::v1::UserInfo {
                username: s("admin"),
                uid: s(""),
                groups: vec!["system:masters".into()],
                extra: [(
                    "scopes".to_owned(),
                    authentication::v1::ExtraValue {
                        items: vec!["a".into(), "b".into()],
                    },
                )]
                .into(),
            }),
        }),
    };
    check::<k8s_openapi::api::authentication::v1::SelfSubjectReview>(
        &body("authentication.k8s.io/v1", "SelfSubjectReview", &filled),
        json!({"apiVersion": "authentication.k8s.io/v1", "kind": "SelfSubjectReview",
            "status": {"userInfo": {"username": "admin", "groups": ["system:masters"],
                                    "extra": {"scopes": ["a", "b"]}}}}),
    );
}

#[test]
fn lease_micro_times() {
    let lease = coordination::v1::Lease {
        metadata: meta_named("l"),
        spec: Some(coordination::v1::LeaseSpec {
            holder_identity: s("node-1"),
            lease_duration_seconds: Some(40),
            acquire_time: Some(meta::MicroTime {
                seconds: Some(1_700_000_000),
                nanos: Some(123_456_789),
            }),
            renew_time: Some(meta::MicroTime {
                seconds: Some(1_700_000_000),
                nanos: Some(0),
            }),
            lease_transitions: Some(0),
            ..Default::default()
        }),
    };
    check::<k8s_openapi::api::coordination::v1::Lease>(
        &body("coordination.k8s.io/v1", "Lease", &lease),
        json!({"apiVersion": "coordination.k8s.io/v1", "kind": "Lease", "metadata": {"name": "l"},
            "spec": {"holderIdentity": "node-1", "leaseDurationSeconds": 40,
                     "acquireTime": "2023-11-14T22:13:20.123456Z",
                     "renewTime": "2023-11-14T22:13:20.000000Z",
                     "leaseTransitions": 0}}),
    );
}

#[test]
fn eviction_with_delete_options() {
    let eviction = k8s_pb::api::policy::v1::Eviction {
        metadata: Some(meta::ObjectMeta {
            name: s("p1"),
            namespace: s("default"),
            ..Default::default()
        }),
        delete_options: Some(meta::DeleteOptions {
            grace_period_seconds: Some(0),
            preconditions: Some(meta::Preconditions {
                uid: s("u1"),
                resource_version: None,
            }),
            dry_run: vec!["All".into()],
            ..Default::default()
        }),
    };
    check::<k8s_openapi::api::policy::v1::Eviction>(
        &body("policy/v1", "Eviction", &eviction),
        json!({"apiVersion": "policy/v1", "kind": "Eviction",
            "metadata": {"name": "p1", "namespace": "default"},
            "deleteOptions": {"gracePeriodSeconds": 0, "preconditions": {"uid": "u1"},
                              "dryRun": ["All"]}}),
    );
    // DeleteOptions is registered in every group version.
    let opts = meta::DeleteOptions {
        propagation_policy: s("Foreground"),
        ..Default::default()
    };
    assert_eq!(
        decode(&body("apps/v1", "DeleteOptions", &opts)).unwrap(),
        json!({"apiVersion": "apps/v1", "kind": "DeleteOptions",
               "propagationPolicy": "Foreground"})
    );
}

#[test]
fn raw_extensions_hold_json_or_nested_protobuf() {
    let nested = body(
        "v1",
        "ConfigMap",
        &core::v1::ConfigMap {
            metadata: meta_named("inner"),
            ..Default::default()
        },
    );
    for (raw, data) in [
        (br#"{"spec":{"x":1}}"#.to_vec(), json!({"spec": {"x": 1}})),
        (
            nested,
            json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "inner"}}),
        ),
    ] {
        let rev = apps::v1::ControllerRevision {
            metadata: meta_named("r"),
            data: Some(k8s_pb::apimachinery::pkg::runtime::RawExtension { raw: Some(raw) }),
            revision: Some(0),
        };
        check::<k8s_openapi::api::apps::v1::ControllerRevision>(
            &body("apps/v1", "ControllerRevision", &rev),
            json!({"apiVersion": "apps/v1", "kind": "ControllerRevision",
                "metadata": {"name": "r"}, "data": data, "revision": 0}),
        );
    }
}

#[test]
fn token_request() {
    // `kubectl create token sa1 --duration=1h --bound-object-kind=Pod --bound-object-name=p`.
    let tr = authentication::v1::TokenRequest {
        metadata: Some(meta::ObjectMeta {
            creation_timestamp: Some(meta::Time::default()),
            ..Default::default()
        }),
        spec: Some(authentication::v1::TokenRequestSpec {
            audiences: vec!["https://kubernetes.default.svc".into()],
            expiration_seconds: Some(3600),
            bound_object_ref: Some(authentication::v1::BoundObjectReference {
                kind: s("Pod"),
                api_version: s("v1"),
                name: s("p"),
                u_id: s(""),
            }),
        }),
        status: Some(authentication::v1::TokenRequestStatus {
            token: s(""),
            expiration_timestamp: Some(meta::Time::default()),
        }),
    };
    let mut got = decode(&body("authentication.k8s.io/v1", "TokenRequest", &tr)).unwrap();
    assert_eq!(
        got,
        json!({"apiVersion": "authentication.k8s.io/v1", "kind": "TokenRequest",
            "metadata": {"creationTimestamp": null},
            "spec": {"audiences": ["https://kubernetes.default.svc"], "expirationSeconds": 3600,
                     "boundObjectRef": {"kind": "Pod", "apiVersion": "v1", "name": "p"}},
            // Go's JSON for the zero status kubectl sends (k8s-openapi wants a time there).
            "status": {"token": "", "expirationTimestamp": null}})
    );
    got.as_object_mut().unwrap().remove("status");
    let typed: k8s_openapi::api::authentication::v1::TokenRequest =
        serde_json::from_value(got).unwrap();
    assert_eq!(typed.spec.expiration_seconds, Some(3600));
    assert_eq!(
        typed.spec.bound_object_ref.unwrap().name.as_deref(),
        Some("p")
    );
}

#[test]
fn an_envelope_may_carry_json() {
    let env = Unknown {
        type_meta: Some(TypeMeta {
            api_version: s("v1"),
            kind: s("ConfigMap"),
        }),
        raw: Some(br#"{"metadata":{"name":"j"},"data":{"a":"b"}}"#.to_vec()),
        content_encoding: s(""),
        content_type: s("application/json"),
    };
    let mut b = MAGIC.to_vec();
    b.extend(env.encode_to_vec());
    check::<k8s_openapi::api::core::v1::ConfigMap>(
        &b,
        json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "j"},
               "data": {"a": "b"}}),
    );
}

#[test]
fn packed_and_unpacked_repeated_scalars_both_decode() {
    // PodSecurityContext.supplementalGroups (4, repeated int64): prost writes it unpacked.
    let psc = core::v1::PodSecurityContext {
        supplemental_groups: vec![1, 2, 300],
        ..Default::default()
    };
    let pod = |psc: Vec<u8>| {
        let mut spec = Vec::new();
        // PodSpec.securityContext is field 14.
        spec.push(14 << 3 | 2);
        spec.push(psc.len() as u8);
        spec.extend(psc);
        let mut pod = vec![2 << 3 | 2, spec.len() as u8];
        pod.extend(spec);
        let mut out = MAGIC.to_vec();
        out.extend(
            Unknown {
                type_meta: Some(TypeMeta {
                    api_version: s("v1"),
                    kind: s("Pod"),
                }),
                raw: Some(pod),
                ..Default::default()
            }
            .encode_to_vec(),
        );
        out
    };
    let want = json!([1, 2, 300]);
    let unpacked = decode(&pod(psc.encode_to_vec())).unwrap();
    assert_eq!(
        unpacked["spec"]["securityContext"]["supplementalGroups"],
        want
    );
    // Packed: one length-delimited run of varints.
    let packed = vec![4 << 3 | 2, 4, 1, 2, 0xac, 0x02];
    let got = decode(&pod(packed)).unwrap();
    assert_eq!(got["spec"]["securityContext"]["supplementalGroups"], want);
}

#[test]
fn negative_numbers_and_unknown_fields() {
    let mut cm = core::v1::ConfigMap {
        metadata: Some(meta::ObjectMeta {
            name: s("x"),
            deletion_grace_period_seconds: Some(-5),
            ..Default::default()
        }),
        ..Default::default()
    }
    .encode_to_vec();
    // An unknown field 99 of each wire type is skipped.
    cm.extend([0x98, 0x06, 0x01]); // varint
    cm.extend([0x99, 0x06, 1, 2, 3, 4, 5, 6, 7, 8]); // fixed64
    cm.extend([0x9a, 0x06, 2, b'h', b'i']); // length-delimited
    cm.extend([0x9d, 0x06, 1, 2, 3, 4]); // fixed32
    let mut out = MAGIC.to_vec();
    out.extend(
        Unknown {
            type_meta: Some(TypeMeta {
                api_version: s("v1"),
                kind: s("ConfigMap"),
            }),
            raw: Some(cm),
            ..Default::default()
        }
        .encode_to_vec(),
    );
    assert_eq!(
        decode(&out).unwrap(),
        json!({"apiVersion": "v1", "kind": "ConfigMap",
               "metadata": {"name": "x", "deletionGracePeriodSeconds": -5}})
    );
}

#[test]
fn malformed_bodies_are_errors() {
    let good = body(
        "v1",
        "ConfigMap",
        &core::v1::ConfigMap {
            metadata: meta_named("c"),
            data: map(&[("a", "b")]),
            ..Default::default()
        },
    );
    assert!(decode(&good).is_ok());
    let err = |b: &[u8]| decode(b).unwrap_err();
    assert!(err(b"").contains("k8s\\0"));
    assert!(err(b"{\"kind\":\"ConfigMap\"}").contains("k8s\\0"));
    assert!(err(&good[4..]).contains("k8s\\0"));
    // Truncated varint: a key byte with the continuation bit and nothing after.
    assert!(err(b"k8s\0\x80").contains("truncated varint"));
    assert!(err(b"k8s\0\x0a").contains("truncated"));
    // A length running past the end.
    assert!(err(b"k8s\0\x0a\x05\x0a\x01").contains("truncated"));
    // An eleven-byte varint.
    assert!(err(b"k8s\0\x28\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\x01").contains("varint"));
    // Field number 0, groups, invalid wire types (in an unknown field 5).
    assert!(err(b"k8s\0\x00").contains("field number"));
    assert!(err(b"k8s\0\x2b").contains("groups"));
    assert!(err(b"k8s\0\x2e").contains("invalid wire type"));
    // Wrong wire type: TypeMeta (1) as a varint; ConfigMap.data (2) as a varint.
    assert!(err(b"k8s\0\x08\x01").contains("wrong wire type"));
    let wrong = hex("6b387300 0a0f 0a027631 1209 436f6e6669674d6170 1202 1001");
    let e = err(&wrong);
    assert!(
        e.contains("wrong wire type") && e.contains("protobuf: data:"),
        "{e}"
    );
    // No kind, an unknown kind, an unknown content encoding.
    assert!(err(b"k8s\0\x12\x00").contains("no kind"));
    let unknown = body("example.com/v1", "Widget", &core::v1::ConfigMap::default());
    assert!(err(&unknown).contains("Widget"));
    let mut gz = Unknown::decode(&good[4..]).unwrap();
    gz.content_encoding = s("gzip");
    let mut gz_body = MAGIC.to_vec();
    gz_body.extend(gz.encode_to_vec());
    assert!(err(&gz_body).contains("gzip"));
    // Invalid embedded JSON in a FieldsV1.
    let bad_fields = body(
        "v1",
        "ConfigMap",
        &core::v1::ConfigMap {
            metadata: Some(meta::ObjectMeta {
                managed_fields: vec![meta::ManagedFieldsEntry {
                    fields_v1: Some(meta::FieldsV1 {
                        raw: Some(b"{nope".to_vec()),
                    }),
                    ..Default::default()
                }],
                ..Default::default()
            }),
            ..Default::default()
        },
    );
    assert!(err(&bad_fields).contains("JSON"));
}

#[test]
fn no_input_panics() {
    // Every truncation and every single-byte corruption of a rich body decodes or errs.
    let good = body("apps/v1", "Deployment", &deployment());
    for n in 0..good.len() {
        let _ = decode(&good[..n]);
    }
    for i in 4..good.len() {
        for b in [0x00, 0x01, 0x07, 0x7f, 0x80, 0xff, good[i] ^ 0x08] {
            let mut bad = good.clone();
            bad[i] = b;
            let _ = decode(&bad);
        }
    }
    // Raw extensions nested without end stop at the depth limit.
    let mut raw = br#"{}"#.to_vec();
    for _ in 0..150 {
        raw = body(
            "apps/v1",
            "ControllerRevision",
            &apps::v1::ControllerRevision {
                data: Some(k8s_pb::apimachinery::pkg::runtime::RawExtension { raw: Some(raw) }),
                ..Default::default()
            },
        );
    }
    assert!(decode(&raw).unwrap_err().contains("deeply"));
}

#[test]
fn go_durations() {
    assert_eq!(go_duration(0), "0s");
    assert_eq!(go_duration(1), "1ns");
    assert_eq!(go_duration(1_500), "1.5µs");
    assert_eq!(go_duration(2_000_000), "2ms");
    assert_eq!(go_duration(1_500_000_000), "1.5s");
    assert_eq!(go_duration(90 * 60 * 1_000_000_000), "1h30m0s");
    assert_eq!(go_duration(61_000_000_000), "1m1s");
    assert_eq!(go_duration(-3_600_000_000_000), "-1h0m0s");
}

#[test]
fn every_kind_of_typed_has_a_message() {
    for (api_version, kind, _) in table::KINDS {
        let (group, version) = api_version.split_once('/').unwrap_or(("", api_version));
        assert!(
            crate::typed::ops(group, version, kind).is_some() || *kind == "TokenRequest",
            "{kind}"
        );
    }
    for r in skiff_core::registry::all() {
        let api_version = if r.gvk.group.is_empty() {
            r.gvk.version.to_owned()
        } else {
            format!("{}/{}", r.gvk.group, r.gvk.version)
        };
        assert!(
            message_of(&api_version, r.gvk.kind).is_some(),
            "{api_version} {}",
            r.gvk.kind
        );
    }
}
