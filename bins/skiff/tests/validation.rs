//! Integration test: upstream's defaulting and validation of the built-in kinds beyond
//! workloads (RBAC, volumes, priority classes, budgets, quotas, ingresses, storage classes,
//! network policies), as the real kubectl sees them: its generators' objects are accepted,
//! invalid objects and immutable-field updates are refused with upstream's messages.

mod common;
use common::Cluster;

fn jsonpath(c: &Cluster, what: &[&str], path: &str) -> String {
    let mut args = vec!["get"];
    args.extend_from_slice(what);
    let expr = format!("jsonpath={path}");
    args.extend_from_slice(&["-o", &expr]);
    c.ok(&args)
}

const BAD_BINDING: &str = "apiVersion: rbac.authorization.k8s.io/v1
kind: RoleBinding
metadata: {name: bad}
roleRef: {kind: Thing, name: x}
subjects:
- {kind: ServiceAccount, name: default, apiGroup: example.com}
";

const CLAIM: &str = "apiVersion: v1
kind: PersistentVolumeClaim
metadata: {name: data}
spec:
  accessModes: [ReadWriteOnce]
  resources: {requests: {storage: 1Gi}}
";

const CLAIM_WITHOUT_SIZE: &str = "apiVersion: v1
kind: PersistentVolumeClaim
metadata: {name: nosize}
spec:
  accessModes: [ReadWriteOnce]
";

const CLASS_AND_POLICY: &str = "apiVersion: storage.k8s.io/v1
kind: StorageClass
metadata: {name: fast}
provisioner: example.com/fast
parameters: {type: ssd}
---
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: dns}
spec:
  podSelector: {}
  egress:
  - ports: [{port: 53}]
";

#[test]
fn kubectl_sees_upstream_validation() {
    let c = Cluster::start();

    // RBAC: kubectl's generators pass; names are path segments, so `system:` names work.
    c.ok(&[
        "create",
        "role",
        "pod-reader",
        "--verb=get,list",
        "--resource=pods",
    ]);
    c.ok(&[
        "create",
        "clusterrole",
        "system:health-reader",
        "--verb=get",
        "--non-resource-url=/healthz",
    ]);
    c.ok(&[
        "create",
        "rolebinding",
        "rb",
        "--role=pod-reader",
        "--user=jane",
    ]);
    c.ok(&[
        "create",
        "clusterrolebinding",
        "crb",
        "--clusterrole=view",
        "--serviceaccount=default:default",
        "--group=devs",
    ]);
    assert_eq!(
        jsonpath(
            &c,
            &["rolebinding", "rb"],
            "{.roleRef.apiGroup} {.subjects[0].apiGroup}"
        ),
        "rbac.authorization.k8s.io rbac.authorization.k8s.io"
    );
    let err = c.fails(&["create", "-f", "-"], Some(BAD_BINDING));
    for want in [
        "The RoleBinding \"bad\" is invalid",
        "roleRef.kind: Unsupported value: \"Thing\": supported values: \"Role\", \"ClusterRole\"",
        "subjects[0].apiGroup: Unsupported value: \"example.com\": supported values: \"\"",
    ] {
        assert!(err.contains(want), "{want} missing from:\n{err}");
    }
    let err = c.fails(
        &[
            "patch",
            "rolebinding",
            "rb",
            "--type=merge",
            "-p",
            r#"{"roleRef":{"name":"other"}}"#,
        ],
        None,
    );
    assert!(
        err.contains(
            "roleRef: Invalid value: rbac.RoleRef{APIGroup:\"rbac.authorization.k8s.io\", Kind:\"Role\", Name:\"other\"}: cannot change roleRef"
        ),
        "{err}"
    );
    // Subjects may change.
    c.ok(&[
        "patch",
        "rolebinding",
        "rb",
        "--type=merge",
        "-p",
        r#"{"subjects":[{"kind":"User","name":"joe"}]}"#,
    ]);

    // PersistentVolumeClaims: defaults, the required size, an immutable spec.
    let err = c.fails(&["create", "-f", "-"], Some(CLAIM_WITHOUT_SIZE));
    assert!(
        err.contains("spec.resources[storage]: Required value"),
        "{err}"
    );
    c.ok_in(&["create", "-f", "-"], Some(CLAIM));
    assert_eq!(
        jsonpath(&c, &["pvc", "data"], "{.spec.volumeMode} {.status.phase}"),
        "Filesystem Pending"
    );
    let err = c.fails(
        &[
            "patch",
            "pvc",
            "data",
            "--type=merge",
            "-p",
            r#"{"spec":{"accessModes":["ReadWriteMany"]}}"#,
        ],
        None,
    );
    assert!(
        err.contains(
            "spec: Forbidden: spec is immutable after creation except resources.requests and volumeAttributesClassName for bound claims"
        ),
        "{err}"
    );

    // PriorityClasses: the default preemption policy, reserved names, an immutable value,
    // one global default.
    c.ok(&["create", "priorityclass", "high", "--value=1000"]);
    assert_eq!(
        jsonpath(&c, &["priorityclass", "high"], "{.preemptionPolicy}"),
        "PreemptLowerPriority"
    );
    let err = c.fails(
        &["create", "priorityclass", "system-mine", "--value=1"],
        None,
    );
    assert!(
        err.contains(
            "metadata.name: Forbidden: priority class names with 'system-' prefix are reserved for system use only. error: system-mine is not a known system priority class"
        ),
        "{err}"
    );
    let err = c.fails(
        &[
            "patch",
            "priorityclass",
            "high",
            "--type=merge",
            "-p",
            r#"{"value":5}"#,
        ],
        None,
    );
    assert!(
        err.contains("value: Forbidden: may not be changed in an update."),
        "{err}"
    );
    c.ok(&[
        "create",
        "priorityclass",
        "default-one",
        "--value=10",
        "--global-default",
    ]);
    let err = c.fails(
        &[
            "create",
            "priorityclass",
            "default-two",
            "--value=20",
            "--global-default",
        ],
        None,
    );
    assert!(
        err.contains(
            "PriorityClass default-one is already marked as default. Only one default can exist"
        ),
        "{err}"
    );

    // Other generators pass: disruption budgets, quotas, ingresses.
    c.ok(&[
        "create",
        "poddisruptionbudget",
        "budget",
        "--selector=app=rails",
        "--min-available=1",
    ]);
    let err = c.fails(
        &[
            "create",
            "poddisruptionbudget",
            "too-much",
            "--selector=app=rails",
            "--max-unavailable=150%",
        ],
        None,
    );
    assert!(
        err.contains("spec.maxUnavailable: Invalid value: intstr.IntOrString{Type:1, IntVal:0, StrVal:\"150%\"}: must not be greater than 100%"),
        "{err}"
    );
    c.ok(&[
        "create",
        "quota",
        "q",
        "--hard=cpu=1,memory=1G,pods=2",
        "--scopes=NotBestEffort",
    ]);
    let err = c.fails(&["create", "quota", "bad", "--hard=widgets=1"], None);
    assert!(
        err.contains(
            "spec.hard[widgets]: Invalid value: \"widgets\": must be a standard resource type or fully qualified"
        ),
        "{err}"
    );
    c.ok(&[
        "create",
        "ingress",
        "simple",
        "--rule=foo.com/bar=svc1:8080,tls=my-cert",
        "--rule=foo.com/api*=api:http",
    ]);
    assert_eq!(
        jsonpath(
            &c,
            &["ingress", "simple"],
            "{.spec.rules[*].http.paths[*].pathType}"
        ),
        "Exact Prefix"
    );

    // StorageClasses and NetworkPolicies get their defaults; a class's parameters are fixed.
    c.ok_in(&["create", "-f", "-"], Some(CLASS_AND_POLICY));
    assert_eq!(
        jsonpath(
            &c,
            &["storageclass", "fast"],
            "{.reclaimPolicy} {.volumeBindingMode}"
        ),
        "Delete Immediate"
    );
    assert_eq!(
        jsonpath(
            &c,
            &["networkpolicy", "dns"],
            "{.spec.policyTypes} {.spec.egress[0].ports[0].protocol}"
        ),
        r#"["Ingress","Egress"] TCP"#
    );
    let err = c.fails(
        &[
            "patch",
            "storageclass",
            "fast",
            "--type=merge",
            "-p",
            r#"{"parameters":{"type":"hdd"}}"#,
        ],
        None,
    );
    assert!(
        err.contains("parameters: Forbidden: updates to parameters are forbidden."),
        "{err}"
    );
}
