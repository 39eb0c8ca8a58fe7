use super::*;

fn target_ref() -> Value {
    json!({"apiVersion": "apps/v1", "kind": "Deployment", "name": "web"})
}

fn cpu_target(u: i64) -> Value {
    json!({"type": "Resource", "resource": {"name": "cpu",
        "target": {"type": "Utilization", "averageUtilization": u}}})
}

const BEHAVIOR_TEXT: &str = concat!(
    r#"{"ScaleUp":{"StabilizationWindowSeconds":0,"SelectPolicy":"Max","Policies":["#,
    r#"{"Type":"Pods","Value":4,"PeriodSeconds":15},{"Type":"Percent","Value":100,"PeriodSeconds":15}],"#,
    r#""Tolerance":null},"ScaleDown":{"StabilizationWindowSeconds":300,"SelectPolicy":"Max","#,
    r#""Policies":[{"Type":"Percent","Value":100,"PeriodSeconds":15}],"Tolerance":null}}"#
);

/// A v2 autoscaler using every kind of metric, a behavior, current metrics and conditions,
/// with the CPU utilization metric last (where a v1 round trip puts it).
fn full_v2() -> Value {
    json!({
        "apiVersion": "autoscaling/v2", "kind": "HorizontalPodAutoscaler",
        "metadata": {"name": "web", "namespace": "d", "uid": "u1", "resourceVersion": "7",
                     "annotations": {"team": "a"}},
        "spec": {
            "scaleTargetRef": target_ref(), "minReplicas": 2, "maxReplicas": 10,
            "metrics": [
                {"type": "Resource", "resource": {"name": "memory",
                    "target": {"type": "AverageValue", "averageValue": "200Mi"}}},
                {"type": "Pods", "pods": {"metric": {"name": "rps",
                    "selector": {"matchLabels": {"tier": "front"},
                                 "matchExpressions": [{"key": "env", "operator": "In", "values": ["prod"]}]}},
                    "target": {"type": "AverageValue", "averageValue": "1k"}}},
                {"type": "Object", "object": {"metric": {"name": "hits"},
                    "describedObject": {"apiVersion": "networking.k8s.io/v1", "kind": "Ingress", "name": "main"},
                    "target": {"type": "Value", "value": "10k"}}},
                {"type": "External", "external": {"metric": {"name": "queue", "selector": {"matchLabels": {"q": "jobs"}}},
                    "target": {"type": "AverageValue", "averageValue": "30"}}},
                {"type": "ContainerResource", "containerResource": {"name": "cpu", "container": "app",
                    "target": {"type": "Utilization", "averageUtilization": 70}}},
                cpu_target(50),
            ],
            "behavior": {
                "scaleUp": {"stabilizationWindowSeconds": 0, "selectPolicy": "Max", "policies": [
                    {"type": "Pods", "value": 4, "periodSeconds": 15},
                    {"type": "Percent", "value": 100, "periodSeconds": 15}]},
                "scaleDown": {"stabilizationWindowSeconds": 300, "selectPolicy": "Max", "policies": [
                    {"type": "Percent", "value": 100, "periodSeconds": 15}]},
            },
        },
        "status": {
            "observedGeneration": 3, "lastScaleTime": "2025-05-01T10:00:00Z",
            "currentReplicas": 3, "desiredReplicas": 4,
            "currentMetrics": [
                {"type": "Resource", "resource": {"name": "memory", "current": {"averageValue": "100Mi"}}},
                {"type": "Pods", "pods": {"metric": {"name": "rps"}, "current": {"averageValue": "500"}}},
                {"type": "Object", "object": {"metric": {"name": "hits"},
                    "describedObject": {"kind": "Ingress", "name": "main"}, "current": {"value": "4k"}}},
                {"type": "External", "external": {"metric": {"name": "queue"},
                    "current": {"value": "12", "averageValue": "3"}}},
                {"type": "ContainerResource", "containerResource": {"name": "cpu", "container": "app",
                    "current": {"averageValue": "150m", "averageUtilization": 65}}},
                {"type": "Resource", "resource": {"name": "cpu",
                    "current": {"averageValue": "100m", "averageUtilization": 20}}},
            ],
            "conditions": [
                {"type": "AbleToScale", "status": "True", "lastTransitionTime": "2025-05-01T09:00:00Z",
                 "reason": "ReadyForNewScale", "message": "recommended size matches current size"},
                {"type": "ScalingActive", "status": "False", "reason": "FailedGetResourceMetric"},
            ],
        },
    })
}

#[test]
fn v2_round_trips_through_v1_and_its_annotations() {
    let v2 = full_v2();
    let v1 = to_v1(v2.clone());
    assert_eq!(v1["apiVersion"], "autoscaling/v1");
    assert_eq!(
        v1["spec"],
        json!({"scaleTargetRef": target_ref(), "minReplicas": 2, "maxReplicas": 10,
               "targetCPUUtilizationPercentage": 50})
    );
    assert_eq!(
        v1["status"],
        json!({"observedGeneration": 3, "lastScaleTime": "2025-05-01T10:00:00Z",
               "currentReplicas": 3, "desiredReplicas": 4, "currentCPUUtilizationPercentage": 20})
    );
    let notes = &v1["metadata"]["annotations"];
    assert_eq!(notes["team"], "a");
    assert_eq!(v1["metadata"]["uid"], "u1");
    // The annotations are Go's JSON of v1's hidden types, in field order.
    assert_eq!(
        notes[METRICS],
        concat!(
            r#"[{"type":"Resource","resource":{"name":"memory","targetAverageValue":"200Mi"}},"#,
            r#"{"type":"Pods","pods":{"metricName":"rps","targetAverageValue":"1k","selector":"#,
            r#"{"matchLabels":{"tier":"front"},"matchExpressions":[{"key":"env","operator":"In","values":["prod"]}]}}},"#,
            r#"{"type":"Object","object":{"target":{"kind":"Ingress","name":"main","apiVersion":"networking.k8s.io/v1"},"#,
            r#""metricName":"hits","targetValue":"10k"}},"#,
            r#"{"type":"External","external":{"metricName":"queue","metricSelector":{"matchLabels":{"q":"jobs"}},"#,
            r#""targetAverageValue":"30"}},"#,
            r#"{"type":"ContainerResource","containerResource":{"name":"cpu","targetAverageUtilization":70,"container":"app"}}]"#
        )
    );
    assert_eq!(notes[BEHAVIOR], BEHAVIOR_TEXT);
    assert_eq!(
        notes[CONDITIONS],
        concat!(
            r#"[{"type":"AbleToScale","status":"True","lastTransitionTime":"2025-05-01T09:00:00Z","#,
            r#""reason":"ReadyForNewScale","message":"recommended size matches current size"},"#,
            r#"{"type":"ScalingActive","status":"False","lastTransitionTime":null,"reason":"FailedGetResourceMetric"}]"#
        )
    );
    let current: Value = serde_json::from_str(notes[CURRENT_METRICS].as_str().unwrap()).unwrap();
    assert_eq!(
        current[5],
        json!({"type": "Resource", "resource": {"name": "cpu",
               "currentAverageUtilization": 20, "currentAverageValue": "100m"}})
    );
    // Back to v2: nothing lost, no annotation left behind.
    assert_eq!(to_v2(v1.clone()), v2);
    // And v1 again is the same v1 object.
    assert_eq!(to_v1(to_v2(v1.clone())), v1);
}

#[test]
fn the_cpu_utilization_metric_moves_last_as_upstream() {
    let mut v2 = full_v2();
    let metrics = v2["spec"]["metrics"].as_array_mut().unwrap();
    let cpu = metrics.pop().unwrap();
    metrics.insert(0, cpu);
    let back = to_v2(to_v1(v2.clone()));
    assert_eq!(back["spec"]["metrics"], full_v2()["spec"]["metrics"]);
}

#[test]
fn v1_objects_get_the_implicit_cpu_target() {
    let v1 = json!({
        "apiVersion": "autoscaling/v1", "kind": "HorizontalPodAutoscaler",
        "metadata": {"name": "web"},
        "spec": {"scaleTargetRef": target_ref(), "maxReplicas": 3},
    });
    let v2 = to_v2(v1.clone());
    assert_eq!(v2["spec"]["metrics"], json!([cpu_target(80)]));
    assert!(v2.get("status").is_none());
    assert!(v2["metadata"].get("annotations").is_none());
    let again = to_v1(v2);
    assert_eq!(again["spec"]["targetCPUUtilizationPercentage"], 80);
    // A v1 status: the CPU utilization becomes a current metric; a zero replica count is
    // left out of v2, as Go's omitempty does.
    let status = to_v2(json!({"spec": {"maxReplicas": 3}, "status": {
        "currentReplicas": 0, "desiredReplicas": 0, "currentCPUUtilizationPercentage": 35}}));
    assert_eq!(
        status["status"],
        json!({"desiredReplicas": 0, "currentMetrics": [{"type": "Resource",
            "resource": {"name": "cpu", "current": {"averageUtilization": 35}}}]})
    );
}

#[test]
fn v1_annotations_are_read_leniently() {
    let mut v1 = to_v1(full_v2());
    let notes = v1["metadata"]["annotations"].as_object_mut().unwrap();
    // Go's decoder matches field names in any case.
    notes.insert(
        BEHAVIOR.into(),
        json!(r#"{"scaleDown":{"selectPolicy":"Min","policies":[{"type":"Pods","value":1,"periodSeconds":60}]}}"#),
    );
    // Annotations that do not decode are ignored (and dropped).
    notes.insert(METRICS.into(), json!("not json"));
    notes.insert(CONDITIONS.into(), json!("{}"));
    let v2 = to_v2(v1);
    assert_eq!(
        v2["spec"]["behavior"],
        json!({"scaleDown": {"selectPolicy": "Min",
            "policies": [{"type": "Pods", "value": 1, "periodSeconds": 60}]}})
    );
    assert_eq!(v2["spec"]["metrics"], json!([cpu_target(50)]));
    assert!(v2["status"].get("conditions").is_none());
    assert_eq!(v2["metadata"]["annotations"], json!({"team": "a"}));
    // A behavior without rules is no behavior.
    let mut bare = to_v1(full_v2());
    bare["metadata"]["annotations"][BEHAVIOR] = json!(r#"{"ScaleUp":null}"#);
    assert!(to_v2(bare)["spec"].get("behavior").is_none());
}

#[test]
fn v2_bodies_lose_round_trip_annotations_and_go_escapes_html() {
    let mut v2 = full_v2();
    v2["metadata"]["annotations"] = json!({METRICS: "[]", CONDITIONS: "[]"});
    drop_round_trip_annotations(&mut v2);
    assert!(v2["metadata"].get("annotations").is_none());
    let mut odd = full_v2();
    odd["spec"]["metrics"][0]["resource"]["name"] = json!("a<b>&c");
    let v1 = to_v1(odd);
    assert!(
        v1["metadata"]["annotations"][METRICS]
            .as_str()
            .unwrap()
            .contains(r#""name":"a\u003cb\u003e\u0026c""#)
    );
}
