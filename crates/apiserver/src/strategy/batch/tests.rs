//! Tests of the Job and CronJob strategies, table-driven.

use super::*;
use serde_json::json;
use skiff_core::registry::lookup;

fn jobs() -> &'static ResourceInfo {
    lookup("batch", "v1", "jobs").unwrap()
}

fn cron_jobs() -> &'static ResourceInfo {
    lookup("batch", "v1", "cronjobs").unwrap()
}

fn pod_template(policy: &str) -> Value {
    json!({"spec": {"restartPolicy": policy, "containers": [{"name": "c", "image": "busybox"}]}})
}

fn job(spec: Value) -> Value {
    json!({"metadata": {"name": "pi", "namespace": "default", "uid": "u-1"}, "spec": spec})
}

#[test]
fn jobs_get_defaults_and_a_generated_selector() {
    let mut obj = job(json!({"template": pod_template("Never")}));
    before_create(jobs(), &mut obj).unwrap();
    let spec = &obj["spec"];
    for (field, want) in [
        ("completions", json!(1)),
        ("parallelism", json!(1)),
        ("backoffLimit", json!(6)),
        ("completionMode", json!("NonIndexed")),
        ("suspend", json!(false)),
        ("manualSelector", json!(false)),
        ("podReplacementPolicy", json!("TerminatingOrFailed")),
        (
            "selector",
            json!({"matchLabels": {"batch.kubernetes.io/controller-uid": "u-1"}}),
        ),
    ] {
        assert_eq!(spec[field], want, "{field}");
    }
    let labels = json!({
        "batch.kubernetes.io/controller-uid": "u-1",
        "batch.kubernetes.io/job-name": "pi",
        "controller-uid": "u-1",
        "job-name": "pi",
    });
    assert_eq!(spec["template"]["metadata"]["labels"], labels);
    assert_eq!(obj["metadata"]["labels"], labels);
    assert_eq!(spec["template"]["spec"]["dnsPolicy"], "ClusterFirst");
}

#[test]
fn job_defaults_keep_what_is_set() {
    let table: Vec<(Value, Vec<(&str, Value)>)> = vec![
        (
            json!({"parallelism": 3, "template": pod_template("OnFailure")}),
            vec![("parallelism", json!(3)), ("completions", Value::Null)],
        ),
        (
            json!({"completions": 5, "template": pod_template("Never")}),
            vec![("parallelism", json!(1)), ("completions", json!(5))],
        ),
        (
            json!({"completionMode": "Indexed", "completions": 3, "backoffLimitPerIndex": 1,
                   "template": pod_template("Never")}),
            vec![("backoffLimit", json!(2147483647))],
        ),
        (
            json!({"podFailurePolicy": {"rules": [{"action": "Ignore",
                   "onPodConditions": [{"type": "DisruptionTarget"}]}]},
                   "template": pod_template("Never")}),
            vec![
                ("podReplacementPolicy", json!("Failed")),
                (
                    "podFailurePolicy",
                    json!({"rules": [{"action": "Ignore",
                           "onPodConditions": [{"type": "DisruptionTarget", "status": "True"}]}]}),
                ),
            ],
        ),
    ];
    for (spec, want) in table {
        let mut s = spec.clone();
        default_job_spec(&mut s);
        for (field, value) in want {
            assert_eq!(
                s.get(field).cloned().unwrap_or(Value::Null),
                value,
                "{spec} {field}"
            );
        }
    }
}

#[test]
fn manual_selectors_are_left_alone() {
    let mut obj = job(json!({"manualSelector": true,
        "selector": {"matchLabels": {"app": "x"}},
        "template": {"metadata": {"labels": {"app": "x"}}, "spec": pod_template("Never")["spec"]}}));
    before_create(jobs(), &mut obj).unwrap();
    assert_eq!(
        obj["spec"]["selector"],
        json!({"matchLabels": {"app": "x"}})
    );
    assert_eq!(
        obj["spec"]["template"]["metadata"]["labels"],
        json!({"app": "x"})
    );
    assert_eq!(obj["metadata"]["labels"], json!({"app": "x"}));
}

#[test]
fn job_validation() {
    let table: Vec<(Value, &str)> = vec![
        (
            job(json!({"template": pod_template("")})),
            "spec.template.spec.restartPolicy: Required value: valid values: \"OnFailure\", \"Never\"",
        ),
        (
            job(json!({"template": pod_template("Always")})),
            "spec.template.spec.restartPolicy: Required value: valid values: \"OnFailure\", \"Never\"",
        ),
        (
            job(json!({"template": pod_template("Sometimes")})),
            "[spec.template.spec.restartPolicy: Unsupported value: \"Sometimes\": supported values: \"Always\", \"OnFailure\", \"Never\", spec.template.spec.restartPolicy: Unsupported value: \"Sometimes\": supported values: \"OnFailure\", \"Never\"]",
        ),
        (
            job(json!({"parallelism": -1, "template": pod_template("Never")})),
            "spec.parallelism: Invalid value: -1: must be greater than or equal to 0",
        ),
        (
            job(
                json!({"completionMode": "Indexed", "template": pod_template("Never"), "parallelism": 2}),
            ),
            "spec.completions: Required value: when completion mode is Indexed",
        ),
        (
            job(
                json!({"selector": {"matchLabels": {"a": "b"}}, "template": pod_template("Never")}),
            ),
            "[spec.selector: Invalid value: v1.LabelSelector{MatchLabels:map[string]string{\"a\":\"b\", \"batch.kubernetes.io/controller-uid\":\"u-1\"}, MatchExpressions:[]v1.LabelSelectorRequirement(nil)}: `selector` not auto-generated, spec.template.metadata.labels: Invalid value: map[string]string{\"batch.kubernetes.io/controller-uid\":\"u-1\", \"batch.kubernetes.io/job-name\":\"pi\", \"controller-uid\":\"u-1\", \"job-name\":\"pi\"}: `selector` does not match template `labels`]",
        ),
    ];
    for (mut obj, want) in table {
        let err = before_create(jobs(), &mut obj).unwrap_err();
        assert_eq!(err.message, format!("Job.batch \"pi\" is invalid: {want}"));
    }
}

#[test]
fn job_updates_keep_the_selector_and_template() {
    let mut old = job(json!({"template": pod_template("Never")}));
    before_create(jobs(), &mut old).unwrap();
    let mut same = old.clone();
    same["spec"]["activeDeadlineSeconds"] = json!(100);
    before_update(jobs(), &old, &mut same).unwrap();
    let mut retemplated = old.clone();
    retemplated["spec"]["template"]["spec"]["containers"][0]["image"] = json!("alpine");
    let err = before_update(jobs(), &old, &mut retemplated).unwrap_err();
    assert_eq!(
        err.message,
        "Job.batch \"pi\" is invalid: spec.template: Invalid value: core.PodTemplateSpec{...}: field is immutable"
    );
    let mut recounted = old.clone();
    recounted["spec"]["completions"] = json!(4);
    let err = before_update(jobs(), &old, &mut recounted).unwrap_err();
    assert_eq!(
        err.message,
        "Job.batch \"pi\" is invalid: spec.completions: Invalid value: 4: field is immutable"
    );
    // A suspended job that never started may change where its pods go.
    let mut suspended = job(json!({"suspend": true, "template": pod_template("Never")}));
    before_create(jobs(), &mut suspended).unwrap();
    let mut moved = suspended.clone();
    moved["spec"]["template"]["spec"]["nodeSelector"] = json!({"zone": "a"});
    before_update(jobs(), &suspended, &mut moved).unwrap();
}

#[test]
fn cron_jobs_get_defaults_and_schedule_checks() {
    let mut obj = json!({"metadata": {"name": "tick", "namespace": "default"},
        "spec": {"schedule": "*/5 * * * *",
                 "jobTemplate": {"spec": {"template": pod_template("OnFailure")}}}});
    before_create(cron_jobs(), &mut obj).unwrap();
    let spec = &obj["spec"];
    assert_eq!(spec["concurrencyPolicy"], "Allow");
    assert_eq!(spec["suspend"], false);
    assert_eq!(spec["successfulJobsHistoryLimit"], 3);
    assert_eq!(spec["failedJobsHistoryLimit"], 1);
    assert_eq!(
        spec["jobTemplate"]["spec"]["template"]["spec"]["terminationGracePeriodSeconds"],
        30
    );
    assert!(spec["jobTemplate"]["spec"].get("backoffLimit").is_none());

    let table: Vec<(Value, &str)> = vec![
        (json!({"schedule": ""}), "spec.schedule: Required value"),
        (
            json!({"schedule": "61 * * * *"}),
            "spec.schedule: Invalid value: \"61 * * * *\": end of range (61) above maximum (59): 61",
        ),
        (
            json!({"schedule": "every minute"}),
            "spec.schedule: Invalid value: \"every minute\": expected exactly 5 fields, found 2: [every minute]",
        ),
        (
            json!({"schedule": "TZ=UTC * * * * *"}),
            "spec.schedule: Invalid value: \"TZ=UTC * * * * *\": cannot use TZ or CRON_TZ in schedule, use timeZone field instead",
        ),
        (
            json!({"schedule": "@daily", "concurrencyPolicy": "Sometimes"}),
            "spec.concurrencyPolicy: Unsupported value: \"Sometimes\": supported values: \"Allow\", \"Forbid\", \"Replace\"",
        ),
        (
            json!({"schedule": "@daily", "timeZone": "Mars/Olympus"}),
            "spec.timeZone: Invalid value: \"Mars/Olympus\": unknown time zone Mars/Olympus",
        ),
        (
            json!({"schedule": "@daily", "restart": null}),
            "spec.jobTemplate.spec.template.spec.restartPolicy: Required value: valid values: \"OnFailure\", \"Never\"",
        ),
    ];
    for (mut spec, want) in table {
        let tpl = if spec.get("restart").is_some() {
            pod_template("")
        } else {
            pod_template("Never")
        };
        if let Some(m) = spec.as_object_mut() {
            m.remove("restart");
        }
        spec["jobTemplate"] = json!({"spec": {"template": tpl}});
        let mut obj = json!({"metadata": {"name": "tick"}, "spec": spec});
        let err = before_create(cron_jobs(), &mut obj).unwrap_err();
        assert_eq!(
            err.message,
            format!("CronJob.batch \"tick\" is invalid: {want}")
        );
    }
    let mut long = json!({"metadata": {"name": "a".repeat(53)},
        "spec": {"schedule": "@hourly", "jobTemplate": {"spec": {"template": pod_template("Never")}}}});
    let err = before_create(cron_jobs(), &mut long).unwrap_err();
    assert!(
        err.message.ends_with("must be no more than 52 characters"),
        "{}",
        err.message
    );
}
