use super::*;
use serde_json::{Value, json};

const NOW: &str = "2025-01-01T00:00:00Z";
const LATER: &str = "2025-01-01T00:01:00Z";

fn set_of(v: Value) -> FieldSet {
    FieldSet::from_json(&v).unwrap()
}

fn deployment(replicas: i64, labels: Value, containers: Value) -> Value {
    json!({
        "apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": {"name": "web", "namespace": "default", "labels": labels},
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": {"app": "web"}},
            "template": {"metadata": {"labels": {"app": "web"}}, "spec": {"containers": containers}}
        }
    })
}

fn nginx() -> Value {
    json!([{"name": "nginx", "image": "nginx:1.25", "ports": [{"containerPort": 80}]}])
}

#[test]
fn field_set_of_an_applied_deployment_matches_upstream() {
    let d = deployment(2, json!({"app": "web"}), nginx());
    let set = field_set("Deployment", &d).difference(&strip_set());
    assert_eq!(
        set.to_json(),
        json!({
            "f:metadata": {"f:labels": {"f:app": {}}},
            "f:spec": {
                "f:replicas": {},
                "f:selector": {},
                "f:template": {
                    "f:metadata": {"f:labels": {"f:app": {}}},
                    "f:spec": {"f:containers": {"k:{\"name\":\"nginx\"}": {
                        ".": {}, "f:image": {}, "f:name": {},
                        "f:ports": {"k:{\"containerPort\":80,\"protocol\":\"TCP\"}": {
                            ".": {}, "f:containerPort": {}
                        }}
                    }}}
                }
            }
        })
    );
    // Sets of primitives and empty maps.
    let pod = json!({"metadata": {"finalizers": ["a", "b"]}, "spec": {"securityContext": {}}});
    assert_eq!(
        field_set("Pod", &pod).to_json(),
        json!({"f:metadata": {"f:finalizers": {"v:\"a\"": {}, "v:\"b\"": {}}},
               "f:spec": {"f:securityContext": {}}})
    );
}

#[test]
fn fields_v1_round_trips_and_set_algebra() {
    let a = set_of(json!({
        "f:metadata": {"f:annotations": {".": {}, "f:x": {}}, "f:labels": {"f:app": {}}},
        "f:spec": {"f:replicas": {}, "f:list": {"i:0": {}}, "f:fin": {"v:\"x\"": {}}}
    }));
    assert_eq!(FieldSet::from_json(&a.to_json()).unwrap(), a);
    let annotations = [
        PathElement::field("metadata"),
        PathElement::field("annotations"),
    ];
    assert!(a.has(&annotations));
    assert!(!a.has(&[PathElement::field("metadata")]));
    let b = set_of(json!({"f:spec": {"f:replicas": {}, "f:paused": {}}}));
    assert_eq!(
        a.union(&b).to_json()["f:spec"],
        json!({"f:replicas": {}, "f:paused": {}, "f:list": {"i:0": {}}, "f:fin": {"v:\"x\"": {}}})
    );
    assert_eq!(
        a.difference(&b).to_json()["f:spec"],
        json!({"f:list": {"i:0": {}}, "f:fin": {"v:\"x\"": {}}})
    );
    assert_eq!(
        a.intersection(&b).to_json(),
        json!({"f:spec": {"f:replicas": {}}})
    );
    // Removing a member drops what is below it only with the recursive difference.
    let meta = set_of(json!({"f:metadata": {"f:annotations": {}}}));
    assert!(a.difference(&meta).has(&[
        PathElement::field("metadata"),
        PathElement::field("annotations"),
        PathElement::field("x")
    ]));
    assert_eq!(
        a.recursive_difference(&meta).to_json()["f:metadata"],
        json!({"f:labels": {"f:app": {}}})
    );
    assert!(a.difference(&a).is_empty());
    assert!(FieldSet::from_json(&json!({"x:y": {}})).is_err());
    assert!(FieldSet::from_json(&json!({"f:y": 1})).is_err());
}

#[test]
fn paths_print_like_upstream() {
    let set = set_of(
        json!({"f:spec": {"f:template": {"f:spec": {"f:containers": {
        "k:{\"name\":\"nginx\"}": {"f:ports": {"k:{\"containerPort\":80,\"protocol\":\"TCP\"}": {}}}
    }}}, "f:replicas": {}}, "f:metadata": {"f:finalizers": {"v:\"x\"": {}}}}),
    );
    let printed: Vec<String> = set.paths().iter().map(ToString::to_string).collect();
    assert_eq!(
        printed,
        vec![
            ".metadata.finalizers[=\"x\"]",
            ".spec.replicas",
            ".spec.template.spec.containers[name=\"nginx\"].ports[containerPort=80,protocol=\"TCP\"]",
        ]
    );
}

#[test]
fn updates_own_what_they_change_with_dots_for_new_containers() {
    let mut m = Managed::default();
    let baseline = json!({"metadata": {}});
    let cm = json!({"apiVersion": "v1", "kind": "ConfigMap",
        "metadata": {"name": "c", "annotations": {"a": "1"}}, "data": {"k": "v"}});
    let key = ManagerKey::update("kubectl-create", "v1", "");
    m.update(
        "ConfigMap",
        &baseline,
        &cm,
        key.clone(),
        "v1",
        NOW,
        &FieldSet::new(),
    );
    assert_eq!(
        m.fields[&key].set.to_json(),
        json!({"f:data": {".": {}, "f:k": {}}, "f:metadata": {"f:annotations": {".": {}, "f:a": {}}}})
    );
    // Another manager changes one key: it moves; a removed key leaves every owner.
    let mut changed = cm.clone();
    changed["data"] = json!({"k": "w"});
    changed["metadata"]["annotations"] = json!({});
    let label = ManagerKey::update("kubectl-edit", "v1", "");
    m.update(
        "ConfigMap",
        &cm,
        &changed,
        label.clone(),
        "v1",
        LATER,
        &FieldSet::new(),
    );
    assert_eq!(
        m.fields[&key].set.to_json(),
        json!({"f:data": {}, "f:metadata": {"f:annotations": {}}})
    );
    assert_eq!(
        m.fields[&label].set.to_json(),
        json!({"f:data": {"f:k": {}}})
    );
    assert_eq!(m.fields[&label].time.as_deref(), Some(LATER));
    // A write that changes nothing changes no owner.
    let before = m.clone();
    m.update(
        "ConfigMap",
        &changed,
        &changed,
        label,
        "v1",
        "2030-01-01T00:00:00Z",
        &FieldSet::new(),
    );
    assert_eq!(m, before);
    // Ignored fields (reset by the endpoint) are never owned.
    let mut m = Managed::default();
    let mut status = FieldSet::new();
    status.insert(&[PathElement::field("status")]);
    let pod = json!({"spec": {"nodeName": "n"}, "status": {"phase": "Running"}});
    m.update("Pod", &json!({}), &pod, key.clone(), "v1", NOW, &status);
    assert_eq!(
        m.fields[&key].set.to_json(),
        json!({"f:spec": {".": {}, "f:nodeName": {}}})
    );
}

#[test]
fn managed_fields_encode_sorted_and_decode_back() {
    let mut m = Managed::default();
    m.fields.insert(
        ManagerKey::update("z-updater", "apps/v1", "scale"),
        Owned {
            set: set_of(json!({"f:spec": {"f:replicas": {}}})),
            api_version: "apps/v1".into(),
            time: Some(NOW.into()),
        },
    );
    m.fields.insert(
        ManagerKey::apply("kubectl", ""),
        Owned {
            set: set_of(json!({"f:spec": {"f:paused": {}}})),
            api_version: "apps/v1".into(),
            time: Some(LATER.into()),
        },
    );
    let encoded = m.encode().unwrap();
    assert_eq!(
        encoded,
        json!([
            {"manager": "kubectl", "operation": "Apply", "apiVersion": "apps/v1", "time": LATER,
             "fieldsType": "FieldsV1", "fieldsV1": {"f:spec": {"f:paused": {}}}},
            {"manager": "z-updater", "operation": "Update", "apiVersion": "apps/v1", "time": NOW,
             "fieldsType": "FieldsV1", "fieldsV1": {"f:spec": {"f:replicas": {}}},
             "subresource": "scale"}
        ])
    );
    assert_eq!(Managed::decode(Some(&encoded)).unwrap(), m);
    assert_eq!(Managed::default().encode(), None);
    assert!(Managed::decode(Some(&json!([{"operation": "Bogus", "apiVersion": "v1"}]))).is_err());
    assert!(
        Managed::decode(Some(&json!([{"operation": "Apply", "apiVersion": "v1"}])))
            .unwrap_err()
            .contains("missing fieldsType")
    );
    assert!(is_reset(Some(&json!([]))));
    assert!(is_reset(Some(&json!([{}]))));
    assert!(!is_reset(None));
    assert!(!is_reset(Some(&encoded)));
}

fn apply(
    m: &mut Managed,
    live: &Value,
    config: &Value,
    manager: &str,
    force: bool,
) -> Result<Value, Vec<Conflict>> {
    m.apply(
        "Deployment",
        live,
        config,
        manager,
        "",
        "apps/v1",
        force,
        NOW,
        &FieldSet::new(),
    )
}

#[test]
fn apply_merges_by_key_and_removes_what_is_no_longer_applied() {
    let mut m = Managed::default();
    let config = deployment(
        2,
        json!({"app": "web", "tier": "front"}),
        json!([{"name": "nginx", "image": "nginx:1.25",
                "env": [{"name": "A", "value": "1"}, {"name": "B", "value": "2"}]}]),
    );
    let live = apply(&mut m, &json!({}), &config, "kubectl", false).unwrap();
    assert_eq!(live, config);
    let kubectl = ManagerKey::apply("kubectl", "");
    assert_eq!(m.fields[&kubectl].time.as_deref(), Some(NOW));

    // Re-applying the same configuration changes nothing.
    let before = m.clone();
    assert_eq!(
        apply(&mut m, &live, &config, "kubectl", false).unwrap(),
        live
    );
    assert_eq!(m, before);

    // Another manager adds a container and a label through an update.
    let mut edited = live.clone();
    edited["metadata"]["labels"]["team"] = json!("a");
    edited["spec"]["template"]["spec"]["containers"]
        .as_array_mut()
        .unwrap()
        .push(json!({"name": "sidecar", "image": "busybox"}));
    m.update(
        "Deployment",
        &live,
        &edited,
        ManagerKey::update("kubectl-edit", "apps/v1", ""),
        "apps/v1",
        NOW,
        &FieldSet::new(),
    );

    // The applier drops the tier label and env B and changes the image.
    let smaller = deployment(
        2,
        json!({"app": "web"}),
        json!([{"name": "nginx", "image": "nginx:1.27", "env": [{"name": "A", "value": "1"}]}]),
    );
    let out = apply(&mut m, &edited, &smaller, "kubectl", false).unwrap();
    assert_eq!(
        out["metadata"]["labels"],
        json!({"app": "web", "team": "a"})
    );
    let containers = &out["spec"]["template"]["spec"]["containers"];
    assert_eq!(
        containers,
        &json!([
            {"name": "nginx", "image": "nginx:1.27", "env": [{"name": "A", "value": "1"}]},
            {"name": "sidecar", "image": "busybox"}
        ])
    );
    // Fields shared with another owner stay when the applier lets go of them.
    let both = deployment(2, json!({"app": "web", "team": "a"}), nginx());
    let out = apply(&mut m, &out, &both, "kubectl", false).unwrap();
    let without = deployment(2, json!({"app": "web"}), nginx());
    let out = apply(&mut m, &out, &without, "kubectl", false).unwrap();
    assert_eq!(out["metadata"]["labels"]["team"], "a");
}

#[test]
fn apply_conflicts_unless_forced() {
    let mut m = Managed::default();
    let config = deployment(2, json!({"app": "web"}), nginx());
    let live = apply(&mut m, &json!({}), &config, "kubectl", false).unwrap();
    let mut scaled = live.clone();
    scaled["spec"]["replicas"] = json!(5);
    let scaler = ManagerKey::update("kubectl", "apps/v1", "scale");
    m.update(
        "Deployment",
        &live,
        &scaled,
        scaler.clone(),
        "apps/v1",
        NOW,
        &FieldSet::new(),
    );
    assert_eq!(
        m.fields[&scaler].set.to_json(),
        json!({"f:spec": {"f:replicas": {}}})
    );
    let applier = ManagerKey::apply("kubectl", "");
    assert!(
        !m.fields[&applier]
            .set
            .has(&Path::fields(&["spec", "replicas"]).0)
    );

    // Applying another value conflicts; the managers stay as they were.
    let before = m.clone();
    let conflicts = apply(&mut m, &scaled, &config, "kubectl", false).unwrap_err();
    assert_eq!(m, before);
    assert_eq!(
        conflicts,
        vec![Conflict {
            manager: scaler.clone(),
            path: Path::fields(&["spec", "replicas"])
        }]
    );
    let err = conflict_error(&conflicts);
    assert_eq!(err.code, 409);
    assert_eq!(
        err.message,
        "Apply failed with 1 conflict: conflict with \"kubectl\" with subresource \"scale\" using apps/v1: .spec.replicas"
    );
    let status = serde_json::to_value(err.to_status()).unwrap();
    assert_eq!(
        status["details"],
        json!({"causes": [{"reason": "FieldManagerConflict",
            "message": "conflict with \"kubectl\" with subresource \"scale\" using apps/v1",
            "field": ".spec.replicas"}]})
    );
    // The same value is no conflict: ownership is shared.
    let mut same = config.clone();
    same["spec"]["replicas"] = json!(5);
    let mut shared = m.clone();
    apply(&mut shared, &scaled, &same, "kubectl", false).unwrap();
    assert!(shared.fields.contains_key(&scaler));
    // Forcing moves the field to the applier; the emptied manager disappears.
    let out = apply(&mut m, &scaled, &config, "kubectl", true).unwrap();
    assert_eq!(out["spec"]["replicas"], 2);
    assert!(!m.fields.contains_key(&scaler));
    assert!(
        m.fields[&applier]
            .set
            .has(&Path::fields(&["spec", "replicas"]).0)
    );
}

#[test]
fn several_conflicts_are_grouped_by_manager() {
    let a = ManagerKey::update("kubectl-client-side-apply", "apps/v1", "");
    let b = ManagerKey::apply("helm", "");
    let conflicts = vec![
        Conflict {
            manager: a.clone(),
            path: Path::fields(&["spec", "replicas"]),
        },
        Conflict {
            manager: b,
            path: Path::fields(&["spec", "paused"]),
        },
        Conflict {
            manager: a,
            path: Path::fields(&["metadata", "labels", "x"]),
        },
    ];
    assert_eq!(
        conflict_error(&conflicts).message,
        "Apply failed with 3 conflicts: conflicts with \"helm\":\n- .spec.paused\nconflicts with \"kubectl-client-side-apply\" using apps/v1:\n- .spec.replicas\n- .metadata.labels.x"
    );
}

#[test]
fn kubectl_takes_over_client_side_applied_fields_and_keeps_the_annotation() {
    let config = deployment(2, json!({"app": "web"}), nginx());
    let mut live = config.clone();
    let last = last_applied::build(&config);
    live["metadata"]["annotations"] = json!({(last_applied::ANNOTATION): last});
    let mut m = Managed::default();
    let csa = ManagerKey::update("kubectl-client-side-apply", "apps/v1", "");
    m.update(
        "Deployment",
        &json!({"metadata": {}}),
        &live,
        csa.clone(),
        "apps/v1",
        NOW,
        &FieldSet::new(),
    );
    let mut wanted = config.clone();
    wanted["spec"]["replicas"] = json!(3);
    // Another applier conflicts with the client-side owner...
    assert!(apply(&mut m.clone(), &live, &wanted, "other", false).is_err());
    // ... kubectl does not, since replicas is still as last applied; the annotation follows.
    let out = apply(&mut m, &live, &wanted, "kubectl", false).unwrap();
    assert_eq!(out["spec"]["replicas"], 3);
    let annotation = last_applied::get(&out).unwrap();
    assert!(annotation.ends_with('\n'));
    let parsed: Value = serde_json::from_str(annotation).unwrap();
    assert_eq!(parsed["spec"]["replicas"], 3);
    assert!(
        !m.fields[&csa]
            .set
            .has(&Path::fields(&["spec", "replicas"]).0)
    );
}

#[test]
fn merge_keeps_list_order_and_replaces_atomic_values() {
    let live = json!({"spec": {
        "containers": [{"name": "a", "image": "1"}, {"name": "b", "image": "1"}, {"name": "c"}],
        "tolerations": [{"key": "x"}],
        "selector": {"matchLabels": {"a": "1", "b": "2"}}
    }});
    let config = json!({"spec": {
        "containers": [{"name": "c", "image": "2"}, {"name": "a", "image": "2"}, {"name": "d"}],
        "tolerations": [{"key": "y"}],
        "selector": {"matchLabels": {"a": "1"}},
        "paused": null
    }});
    let out = merge("Deployment", &live, &config);
    assert_eq!(
        out["spec"]["containers"],
        json!([{"name": "b", "image": "1"}, {"name": "c", "image": "2"},
               {"name": "a", "image": "2"}, {"name": "d"}])
    );
    assert_eq!(out["spec"]["tolerations"], json!([{"key": "y"}]));
    assert_eq!(out["spec"]["selector"], json!({"matchLabels": {"a": "1"}}));
    assert!(out["spec"].get("paused").is_none());
}

#[test]
fn compare_reports_added_modified_and_removed_paths() {
    let a = json!({"metadata": {"labels": {"x": "1"}}, "spec": {"replicas": 1, "ports": [{"port": 80}]}});
    let b = json!({"metadata": {"labels": {"x": "2"}}, "spec": {"ports": [{"port": 80}, {"port": 81}]}});
    let c = compare("Service", &a, &b);
    assert_eq!(
        c.modified.to_json(),
        json!({"f:metadata": {"f:labels": {"f:x": {}}}})
    );
    assert_eq!(c.removed.to_json(), json!({"f:spec": {"f:replicas": {}}}));
    assert_eq!(
        c.added.to_json(),
        json!({"f:spec": {"f:ports": {"k:{\"port\":81,\"protocol\":\"TCP\"}": {".": {}, "f:port": {}}}}})
    );
    assert!(compare("Service", &a, &a).is_same());
}

#[test]
fn configurations_need_their_list_keys() {
    let bad = json!({"spec": {"ports": [{"name": "http"}]}});
    assert_eq!(
        validate("Service", &bad).unwrap_err(),
        ".spec.ports: element 0: associative list with keys has an element that omits key field \"port\" (and doesn't have default value)"
    );
    let dup = json!({"spec": {"containers": [{"name": "a"}, {"name": "a"}]}});
    assert_eq!(
        validate("Pod", &dup).unwrap_err(),
        ".spec.containers: duplicate entries for key [name=\"a\"]"
    );
    assert!(validate("Pod", &json!({"spec": {"containers": [{"name": "a"}]}})).is_ok());
    assert_eq!(
        describe_path(
            "Pod",
            &json!({"spec": {"containers": [{"name": "web", "bogus": 1}]}}),
            "spec.containers[0].bogus"
        ),
        ".spec.containers[name=\"web\"].bogus"
    );
}

#[test]
fn update_entries_are_capped() {
    let mut m = Managed::default();
    let mut live = json!({"metadata": {"labels": {}}});
    for i in 0..12 {
        let mut next = live.clone();
        next["metadata"]["labels"][format!("l{i}")] = json!("v");
        let t = format!("2025-01-01T00:00:{i:02}Z");
        m.update(
            "ConfigMap",
            &live,
            &next,
            ManagerKey::update(&format!("m{i:02}"), "v1", ""),
            "v1",
            &t,
            &FieldSet::new(),
        );
        live = next;
    }
    assert_eq!(m.fields.len(), 10);
    let ancient = &m.fields[&ManagerKey::update("ancient-changes", "v1", "")];
    assert_eq!(
        ancient.set.to_json(),
        json!({"f:metadata": {"f:labels": {"f:l0": {}, "f:l1": {}, "f:l2": {}}}})
    );
}

#[test]
fn nulls_of_a_zero_value_are_empty_containers() {
    let zero = json!({"metadata": {}, "spec": {"containers": null}});
    let pod = json!({"metadata": {"name": "p"}, "spec": {"containers": [{"name": "c"}]}});
    let c = compare("Pod", &zero, &pod);
    assert_eq!(
        c.added.to_json(),
        json!({"f:metadata": {"f:name": {}}, "f:spec": {"f:containers": {
            "k:{\"name\":\"c\"}": {".": {}, "f:name": {}}}}})
    );
    assert!(c.modified.is_empty());
}

/// A kind served at `t/v1` (`spec.target: N`) and `t/v2` (`spec.goal.value: N`); the other
/// fields are the same in both.
fn convert_thing(obj: &Value, from: &str, to: &str) -> Option<Value> {
    let mut out = obj.clone();
    let mut none = serde_json::Map::new();
    let spec = match out.get_mut("spec").and_then(Value::as_object_mut) {
        Some(s) => s,
        None => &mut none,
    };
    match (from, to) {
        ("t/v1", "t/v2") => {
            if let Some(t) = spec.remove("target") {
                spec.insert("goal".into(), json!({"value": t}));
            }
        }
        ("t/v2", "t/v1") => {
            if let Some(t) = spec.remove("goal").and_then(|g| g.get("value").cloned()) {
                spec.insert("target".into(), t);
            }
        }
        _ => return None,
    }
    out["apiVersion"] = json!(to);
    Some(out)
}

fn thing(version: &str, target: i64, other: i64) -> Value {
    let spec = if version == "t/v1" {
        json!({"target": target, "other": other})
    } else {
        json!({"goal": {"value": target}, "other": other})
    };
    json!({"apiVersion": version, "kind": "Thing", "metadata": {"name": "x"}, "spec": spec})
}

#[test]
fn managers_at_other_versions_lose_what_changes_in_their_version() {
    let mut m = Managed::default();
    let v1 = ManagerKey::update("old-client", "t/v1", "");
    m.update_versioned(
        "Thing",
        &json!({"spec": {}}),
        &thing("t/v1", 5, 1),
        v1.clone(),
        "t/v1",
        NOW,
        &FieldSet::new(),
        &convert_thing,
    );
    assert_eq!(
        m.fields[&v1].set,
        set_of(json!({"f:spec": {"f:target": {}, "f:other": {}}}))
    );
    // A v2 writer changes the target: the v1 writer loses `target`, compared in v1.
    let v2 = ManagerKey::update("new-client", "t/v2", "");
    m.update_versioned(
        "Thing",
        &thing("t/v2", 5, 1),
        &thing("t/v2", 6, 1),
        v2.clone(),
        "t/v2",
        LATER,
        &FieldSet::new(),
        &convert_thing,
    );
    assert_eq!(
        m.fields[&v1].set,
        set_of(json!({"f:spec": {"f:other": {}}}))
    );
    assert_eq!(
        m.fields[&v2].set,
        set_of(json!({"f:spec": {"f:goal": {"f:value": {}}}}))
    );
    assert_eq!(m.fields[&v2].api_version, "t/v2");
    // Without a converter the paths of the two versions never meet.
    let mut plain = Managed::default();
    plain.update(
        "Thing",
        &json!({"spec": {}}),
        &thing("t/v1", 5, 1),
        v1.clone(),
        "t/v1",
        NOW,
        &FieldSet::new(),
    );
    plain.update(
        "Thing",
        &thing("t/v2", 5, 1),
        &thing("t/v2", 6, 1),
        v2,
        "t/v2",
        LATER,
        &FieldSet::new(),
    );
    assert!(
        plain.fields[&v1]
            .set
            .has(&[PathElement::field("spec"), PathElement::field("target")])
    );
}

#[test]
fn apply_conflicts_with_managers_at_other_versions_in_their_terms() {
    let mut m = Managed::default();
    let request = ApplyRequest {
        manager: "tool",
        subresource: "",
        api_version: "t/v1",
        force: false,
        now: NOW,
    };
    let config = thing("t/v1", 5, 1);
    let live = m
        .apply_versioned(
            "Thing",
            &json!({}),
            &config,
            &request,
            &FieldSet::new(),
            &convert_thing,
        )
        .unwrap();
    // A v2 writer takes the target over.
    let v2 = ManagerKey::update("new-client", "t/v2", "");
    let live_v2 = convert_thing(&live, "t/v1", "t/v2").unwrap();
    let mut changed = live_v2.clone();
    changed["spec"]["goal"]["value"] = json!(7);
    m.update_versioned(
        "Thing",
        &live_v2,
        &changed,
        v2.clone(),
        "t/v2",
        NOW,
        &FieldSet::new(),
        &convert_thing,
    );
    let tool = ManagerKey::apply("tool", "");
    assert_eq!(
        m.fields[&tool].set,
        set_of(json!({"f:spec": {"f:other": {}}}))
    );
    // Applying another target through v1 conflicts with the v2 writer, named in v2 paths.
    let live = convert_thing(&changed, "t/v2", "t/v1").unwrap();
    let err = m
        .apply_versioned(
            "Thing",
            &live,
            &thing("t/v1", 8, 1),
            &request,
            &FieldSet::new(),
            &convert_thing,
        )
        .unwrap_err();
    assert_eq!(err.len(), 1);
    assert_eq!(err[0].manager, v2);
    assert_eq!(err[0].path.to_string(), ".spec.goal.value");
    // Forced, the applier takes it back and the v2 writer is left with nothing.
    let forced = ApplyRequest {
        force: true,
        ..request
    };
    let out = m
        .apply_versioned(
            "Thing",
            &live,
            &thing("t/v1", 8, 1),
            &forced,
            &FieldSet::new(),
            &convert_thing,
        )
        .unwrap();
    assert_eq!(out["spec"]["target"], 8);
    assert!(!m.fields.contains_key(&v2));
    // Dropping `other` from the configuration prunes it, checked in the applier's version.
    let smaller = json!({"apiVersion": "t/v1", "kind": "Thing", "metadata": {"name": "x"},
                         "spec": {"target": 8}});
    let out = m
        .apply_versioned(
            "Thing",
            &out,
            &smaller,
            &request,
            &FieldSet::new(),
            &convert_thing,
        )
        .unwrap();
    assert_eq!(out["spec"], json!({"target": 8}));
}

#[test]
fn an_applier_changing_version_prunes_in_the_version_it_applied_at() {
    let mut m = Managed::default();
    let at = |v: &'static str| ApplyRequest {
        manager: "tool",
        subresource: "",
        api_version: v,
        force: false,
        now: NOW,
    };
    let live = m
        .apply_versioned(
            "Thing",
            &json!({}),
            &thing("t/v1", 5, 1),
            &at("t/v1"),
            &FieldSet::new(),
            &convert_thing,
        )
        .unwrap();
    let live_v2 = convert_thing(&live, "t/v1", "t/v2").unwrap();
    // Now through v2, without `other`: the v1 set (`target`, `other`) is pruned in v1, and
    // `target`, applied again as `goal.value`, stays.
    let config = json!({"apiVersion": "t/v2", "kind": "Thing", "metadata": {"name": "x"},
                        "spec": {"goal": {"value": 5}}});
    let out = m
        .apply_versioned(
            "Thing",
            &live_v2,
            &config,
            &at("t/v2"),
            &FieldSet::new(),
            &convert_thing,
        )
        .unwrap();
    assert_eq!(out["spec"], json!({"goal": {"value": 5}}));
    let tool = ManagerKey::apply("tool", "");
    assert_eq!(m.fields[&tool].api_version, "t/v2");
    assert_eq!(
        m.fields[&tool].set,
        set_of(json!({"f:metadata": {"f:name": {}}, "f:spec": {"f:goal": {"f:value": {}}}}))
            .difference(&strip_set())
    );
}
