//! Tests of the workload strategies: defaults, validation and update rules, table-driven.

use super::*;
use serde_json::json;
use skiff_core::registry::lookup;

fn info(group: &str, plural: &str) -> &'static ResourceInfo {
    lookup(group, "v1", plural).unwrap()
}

fn template(labels: Value) -> Value {
    json!({"metadata": {"labels": labels},
           "spec": {"containers": [{"name": "c", "image": "nginx:1.25"}]}})
}

fn object(kind: &str, spec: Value) -> Value {
    json!({"kind": kind, "metadata": {"name": "web", "namespace": "default", "uid": "u1",
           "generation": 1}, "spec": spec})
}

fn create(info: &ResourceInfo, mut obj: Value) -> Result<Value, String> {
    before_create(info, &mut obj).map_err(|e| e.message)?;
    Ok(obj)
}

const POD_TEMPLATE_DEFAULTS: &str = r#"{
    "metadata": {"labels": {"app": "web"}},
    "spec": {
        "containers": [{"name": "c", "image": "nginx:1.25", "imagePullPolicy": "IfNotPresent",
                        "resources": {}, "terminationMessagePath": "/dev/termination-log",
                        "terminationMessagePolicy": "File"}],
        "dnsPolicy": "ClusterFirst", "restartPolicy": "Always",
        "schedulerName": "default-scheduler", "securityContext": {},
        "terminationGracePeriodSeconds": 30
    }
}"#;

#[test]
fn defaults_per_kind() {
    let tpl: Value = serde_json::from_str(POD_TEMPLATE_DEFAULTS).unwrap();
    let sel = json!({"matchLabels": {"app": "web"}});
    let table: Vec<(&ResourceInfo, Value, Value)> = vec![
        (
            info("apps", "deployments"),
            json!({"selector": sel, "template": template(json!({"app": "web"}))}),
            json!({"selector": sel, "template": tpl, "replicas": 1,
                   "strategy": {"type": "RollingUpdate",
                                "rollingUpdate": {"maxUnavailable": "25%", "maxSurge": "25%"}},
                   "revisionHistoryLimit": 10, "progressDeadlineSeconds": 600}),
        ),
        (
            info("apps", "deployments"),
            json!({"selector": sel, "template": template(json!({"app": "web"})),
                   "replicas": 0, "strategy": {"type": "Recreate"}, "revisionHistoryLimit": 2}),
            json!({"selector": sel, "template": tpl, "replicas": 0,
                   "strategy": {"type": "Recreate"},
                   "revisionHistoryLimit": 2, "progressDeadlineSeconds": 600}),
        ),
        (
            info("apps", "replicasets"),
            json!({"selector": sel, "template": template(json!({"app": "web"}))}),
            json!({"selector": sel, "template": tpl, "replicas": 1}),
        ),
        (
            info("apps", "statefulsets"),
            json!({"selector": sel, "serviceName": "web", "template": template(json!({"app": "web"})),
                   "volumeClaimTemplates": [{"metadata": {"name": "data"},
                        "spec": {"accessModes": ["ReadWriteOnce"],
                                 "resources": {"requests": {"storage": "1024Mi"}}}}]}),
            json!({"selector": sel, "serviceName": "web", "template": tpl, "replicas": 1,
                   "podManagementPolicy": "OrderedReady",
                   "updateStrategy": {"type": "RollingUpdate", "rollingUpdate": {"partition": 0}},
                   "persistentVolumeClaimRetentionPolicy": {"whenDeleted": "Retain", "whenScaled": "Retain"},
                   "revisionHistoryLimit": 10,
                   "volumeClaimTemplates": [{"apiVersion": "v1", "kind": "PersistentVolumeClaim",
                        "metadata": {"name": "data"},
                        "spec": {"accessModes": ["ReadWriteOnce"], "volumeMode": "Filesystem",
                                 "resources": {"requests": {"storage": "1Gi"}}},
                        "status": {"phase": "Pending"}}]}),
        ),
        (
            info("apps", "daemonsets"),
            json!({"selector": sel, "template": template(json!({"app": "web"}))}),
            json!({"selector": sel, "template": tpl, "revisionHistoryLimit": 10,
                   "updateStrategy": {"type": "RollingUpdate",
                                      "rollingUpdate": {"maxUnavailable": 1, "maxSurge": 0}}}),
        ),
        (
            info("", "replicationcontrollers"),
            json!({"template": template(json!({"app": "web"}))}),
            json!({"selector": {"app": "web"}, "replicas": 1, "template": tpl}),
        ),
    ];
    for (info, spec, want) in table {
        let obj = create(info, object(info.gvk.kind, spec)).unwrap();
        assert_eq!(obj["spec"], want, "{}", info.gvk.kind);
    }
    let rc = create(
        info("", "replicationcontrollers"),
        object(
            "ReplicationController",
            json!({"template": template(json!({"app": "web"}))}),
        ),
    )
    .unwrap();
    assert_eq!(rc["metadata"]["labels"], json!({"app": "web"}));
    let ds = create(
        info("apps", "daemonsets"),
        object(
            "DaemonSet",
            json!({"selector": sel, "template": template(json!({"app": "web"}))}),
        ),
    )
    .unwrap();
    assert_eq!(
        ds["metadata"]["annotations"][TEMPLATE_GENERATION],
        json!("1")
    );
    let pt = create(
        info("", "podtemplates"),
        json!({"metadata": {"name": "t"}, "template": template(json!({}))}),
    )
    .unwrap();
    assert_eq!(pt["template"]["spec"]["restartPolicy"], "Always");
}

const MISMATCH: &str = "spec.template.metadata.labels: Invalid value: map[string]string{\"app\":\"web\"}: `selector` does not match template `labels`";

#[test]
fn validation_per_kind() {
    let good_sel = json!({"matchLabels": {"app": "web"}});
    let other_sel = json!({"matchLabels": {"app": "api"}});
    let deploy = info("apps", "deployments");
    let table: Vec<(&ResourceInfo, Value, Vec<String>)> = vec![
        (
            deploy,
            json!({"selector": good_sel, "template": template(json!({"app": "web"}))}),
            vec![],
        ),
        (
            deploy,
            json!({"selector": other_sel, "template": template(json!({"app": "web"}))}),
            vec![MISMATCH.into()],
        ),
        (
            deploy,
            json!({"template": template(json!({"app": "web"}))}),
            vec!["spec.selector: Required value".into(), MISMATCH.into()],
        ),
        (
            deploy,
            json!({"selector": {}, "template": template(json!({"app": "web"}))}),
            vec!["spec.selector: Invalid value: v1.LabelSelector{MatchLabels:map[string]string(nil), MatchExpressions:[]v1.LabelSelectorRequirement(nil)}: empty selector is invalid for deployment".into()],
        ),
        (
            deploy,
            json!({"replicas": -1, "selector": good_sel, "template": {
                "metadata": {"labels": {"app": "web"}},
                "spec": {"restartPolicy": "Never", "containers": [{"name": "c", "image": "i"}]}}}),
            vec![
                "spec.replicas: Invalid value: -1: must be greater than or equal to 0".into(),
                "spec.template.spec.restartPolicy: Unsupported value: \"Never\": supported values: \"Always\"".into(),
            ],
        ),
        (
            deploy,
            json!({"selector": good_sel, "template": template(json!({"app": "web"})),
                   "strategy": {"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": 0, "maxSurge": "0%"}}}),
            vec!["spec.strategy.rollingUpdate.maxUnavailable: Invalid value: intstr.IntOrString{Type:0, IntVal:0, StrVal:\"\"}: may not be 0 when `maxSurge` is 0".into()],
        ),
        (
            deploy,
            json!({"selector": good_sel, "template": template(json!({"app": "web"})),
                   "strategy": {"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": "150%", "maxSurge": "x"}}}),
            vec![
                "spec.strategy.rollingUpdate.maxSurge: Invalid value: intstr.IntOrString{Type:1, IntVal:0, StrVal:\"x\"}: a valid percent string must be a numeric string followed by an ending '%' (e.g. '1%',  or '93%', regex used for validation is '[0-9]+%')".into(),
                "spec.strategy.rollingUpdate.maxUnavailable: Invalid value: intstr.IntOrString{Type:1, IntVal:0, StrVal:\"150%\"}: must not be greater than 100%".into(),
            ],
        ),
        (
            deploy,
            json!({"selector": good_sel, "template": template(json!({"app": "web"})),
                   "strategy": {"type": "Recreate", "rollingUpdate": {}}}),
            vec!["spec.strategy.rollingUpdate: Forbidden: may not be specified when strategy `type` is 'Recreate'".into()],
        ),
        (
            info("apps", "replicasets"),
            json!({"selector": other_sel, "template": template(json!({"app": "web"}))}),
            vec![MISMATCH.into()],
        ),
        (
            info("apps", "statefulsets"),
            json!({"selector": good_sel, "podManagementPolicy": "Random",
                   "template": {"metadata": {"labels": {"app": "web"}}, "spec": {"containers": []}}}),
            vec!["spec.podManagementPolicy: Invalid value: \"Random\": must be 'OrderedReady' or 'Parallel'".into()],
        ),
        (
            info("apps", "daemonsets"),
            json!({"selector": other_sel, "template": template(json!({"app": "web"}))}),
            vec![MISMATCH.into()],
        ),
        (
            info("apps", "daemonsets"),
            json!({"selector": good_sel, "template": template(json!({"app": "web"})),
                   "updateStrategy": {"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": 1, "maxSurge": 1}}}),
            vec!["spec.updateStrategy.rollingUpdate.maxSurge: Invalid value: intstr.IntOrString{Type:0, IntVal:1, StrVal:\"\"}: may not be set when maxUnavailable is non-zero".into()],
        ),
        (
            info("", "replicationcontrollers"),
            json!({"selector": {"app": "api"}, "template": template(json!({"app": "web"}))}),
            vec![MISMATCH.into()],
        ),
    ];
    for (info, spec, want) in table {
        let result = create(info, object(info.gvk.kind, spec));
        match (result, want.is_empty()) {
            (Ok(_), true) => {}
            (Ok(obj), false) => panic!("{} accepted: {obj}", info.gvk.kind),
            (Err(e), _) => {
                let expected = match want.len() {
                    1 => want[0].clone(),
                    _ => format!("[{}]", want.join(", ")),
                };
                let gk = if info.gvk.group.is_empty() {
                    info.gvk.kind.to_owned()
                } else {
                    format!("{}.{}", info.gvk.kind, info.gvk.group)
                };
                assert_eq!(e, format!("{gk} \"web\" is invalid: {expected}"));
            }
        }
    }
}

#[test]
fn updates_keep_selectors_and_count_generations() {
    let deploy = info("apps", "deployments");
    let sel = json!({"matchLabels": {"app": "web"}});
    let old = create(
        deploy,
        object(
            "Deployment",
            json!({"selector": sel, "template": template(json!({"app": "web"}))}),
        ),
    )
    .unwrap();
    // The same manifest again (undefaulted) changes nothing, so the generation stays.
    let mut same = object(
        "Deployment",
        json!({"selector": sel, "template": template(json!({"app": "web"}))}),
    );
    same["metadata"]["generation"] = json!(2);
    before_update(deploy, &old, &mut same).unwrap();
    assert_eq!(same["metadata"]["generation"], 1);
    let mut scaled = old.clone();
    scaled["spec"]["replicas"] = json!(3);
    before_update(deploy, &old, &mut scaled).unwrap();
    assert_eq!(scaled["metadata"]["generation"], 2);
    let mut moved = object(
        "Deployment",
        json!({"selector": {"matchLabels": {"app": "api"}}, "template": template(json!({"app": "api"}))}),
    );
    let err = before_update(deploy, &old, &mut moved).unwrap_err();
    assert_eq!(
        err.message,
        "Deployment.apps \"web\" is invalid: spec.selector: Invalid value: v1.LabelSelector{MatchLabels:map[string]string{\"app\":\"api\"}, MatchExpressions:[]v1.LabelSelectorRequirement(nil)}: field is immutable"
    );

    let sts = info("apps", "statefulsets");
    let old = create(
        sts,
        object(
            "StatefulSet",
            json!({"selector": sel, "serviceName": "a",
            "template": template(json!({"app": "web"}))}),
        ),
    )
    .unwrap();
    let mut renamed_service = old.clone();
    renamed_service["spec"]["serviceName"] = json!("b");
    let err = before_update(sts, &old, &mut renamed_service).unwrap_err();
    assert!(err.message.ends_with("spec: Forbidden: updates to statefulset spec for fields other than 'replicas', 'ordinals', 'template', 'updateStrategy', 'persistentVolumeClaimRetentionPolicy' and 'minReadySeconds' are forbidden"), "{}", err.message);
    let mut scaled = old.clone();
    scaled["spec"]["replicas"] = json!(5);
    before_update(sts, &old, &mut scaled).unwrap();

    let ds = info("apps", "daemonsets");
    let old = create(
        ds,
        object(
            "DaemonSet",
            json!({"selector": sel, "template": template(json!({"app": "web"}))}),
        ),
    )
    .unwrap();
    let mut retemplated = old.clone();
    retemplated["spec"]["template"]["spec"]["containers"][0]["image"] = json!("nginx:1.27");
    before_update(ds, &old, &mut retemplated).unwrap();
    assert_eq!(
        retemplated["metadata"]["annotations"][TEMPLATE_GENERATION],
        json!("2")
    );
    assert_eq!(retemplated["metadata"]["generation"], 2);
    let mut relabelled = old.clone();
    relabelled["metadata"]["labels"] = json!({"x": "y"});
    before_update(ds, &old, &mut relabelled).unwrap();
    assert_eq!(
        relabelled["metadata"]["annotations"][TEMPLATE_GENERATION],
        json!("1")
    );
    assert_eq!(relabelled["metadata"]["generation"], 1);

    // ReplicationController selectors may change.
    let rc = info("", "replicationcontrollers");
    let old = create(
        rc,
        object(
            "ReplicationController",
            json!({"template": template(json!({"app": "web"}))}),
        ),
    )
    .unwrap();
    let mut moved = object(
        "ReplicationController",
        json!({"selector": {"app": "api"}, "template": template(json!({"app": "api"}))}),
    );
    before_update(rc, &old, &mut moved).unwrap();
}
