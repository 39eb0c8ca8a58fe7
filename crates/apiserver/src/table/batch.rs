//! The batch group: Jobs (status, completions, duration) and CronJobs.

use super::format::{
    bool_text, containers_and_images, deleting, flag, format_label_selector, int, list, opt_int,
    opt_text, text,
};
use super::{
    Column, Ctx, Printer, age_column, containers_column, human_duration, images_column,
    name_column, parse_time, seconds_between,
};
use crate::object;
use k8s_openapi::api::batch::v1 as batch;
use serde_json::{Value, json};

/// The printer of a batch kind.
pub(super) fn printer(kind: &str) -> Option<Printer> {
    Some(match kind {
        "Job" => Printer::new(job_columns, job_cells),
        "CronJob" => Printer::new(cron_job_columns, cron_job_cells),
        _ => return None,
    })
}

fn job_columns() -> Vec<Column> {
    vec![
        name_column(),
        Column::string("Status").text("Status of the job."),
        Column::string("Completions").doc::<batch::JobStatus>("succeeded"),
        Column::string("Duration").text("Time required to complete the job."),
        age_column(),
        containers_column(),
        images_column(),
        Column::string("Selector")
            .wide()
            .doc::<batch::JobSpec>("selector"),
    ]
}

/// Whether the first condition of type `ty` is true.
fn has_condition(job: &Value, ty: &str) -> bool {
    list(job, "status.conditions")
        .iter()
        .find(|c| text(c, "type") == ty)
        .is_some_and(|c| text(c, "status") == "True")
}

fn job_status(job: &Value) -> &'static str {
    if has_condition(job, "Complete") {
        "Complete"
    } else if has_condition(job, "Failed") {
        "Failed"
    } else if deleting(job) {
        "Terminating"
    } else if has_condition(job, "Suspended") {
        "Suspended"
    } else if has_condition(job, "FailureTarget") {
        "FailureTarget"
    } else {
        "Running"
    }
}

fn job_cells(job: &Value, ctx: &Ctx) -> Vec<Value> {
    let succeeded = int(job, "status.succeeded");
    let completions = match opt_int(job, "spec.completions") {
        Some(n) => format!("{succeeded}/{n}"),
        None => match opt_int(job, "spec.parallelism") {
            Some(p) if p > 1 => format!("{succeeded}/1 of {p}"),
            _ => format!("{succeeded}/1"),
        },
    };
    let start = parse_time(object::path(job, "status.startTime"));
    let end = parse_time(object::path(job, "status.completionTime"));
    let duration = match (start, end) {
        (None, _) => String::new(),
        (Some(s), None) => ctx.since_time(s),
        (Some(s), Some(e)) => human_duration(seconds_between(s, e)),
    };
    let (containers, images) = containers_and_images(object::path(job, "spec.template.spec"));
    vec![
        json!(object::name(job).unwrap_or_default()),
        json!(job_status(job)),
        json!(completions),
        json!(duration),
        json!(ctx.age(job)),
        json!(containers),
        json!(images),
        json!(format_label_selector(object::path(job, "spec.selector"))),
    ]
}

fn cron_job_columns() -> Vec<Column> {
    vec![
        name_column(),
        Column::string("Schedule").doc::<batch::CronJobSpec>("schedule"),
        Column::string("Timezone").doc::<batch::CronJobSpec>("timeZone"),
        Column::boolean("Suspend").doc::<batch::CronJobSpec>("suspend"),
        Column::integer("Active").doc::<batch::CronJobStatus>("active"),
        Column::string("Last Schedule").doc::<batch::CronJobStatus>("lastScheduleTime"),
        age_column(),
        containers_column(),
        images_column(),
        Column::string("Selector")
            .wide()
            .doc::<batch::JobSpec>("selector"),
    ]
}

fn cron_job_cells(cj: &Value, ctx: &Ctx) -> Vec<Value> {
    let last_schedule = match object::path(cj, "status.lastScheduleTime") {
        Some(t) if !t.is_null() => ctx.since(Some(t)),
        _ => "<none>".into(),
    };
    let job_spec = object::path(cj, "spec.jobTemplate.spec");
    let (containers, images) =
        containers_and_images(job_spec.and_then(|s| object::path(s, "template.spec")));
    vec![
        json!(object::name(cj).unwrap_or_default()),
        json!(text(cj, "spec.schedule")),
        json!(opt_text(cj, "spec.timeZone").unwrap_or("<none>")),
        // Defaulting sets `suspend: false`.
        json!(bool_text(Some(flag(cj, "spec.suspend").unwrap_or(false)))),
        json!(list(cj, "status.active").len()),
        json!(last_schedule),
        json!(ctx.age(cj)),
        json!(containers),
        json!(images),
        json!(format_label_selector(
            job_spec.and_then(|s| s.get("selector"))
        )),
    ]
}

#[cfg(test)]
mod tests {
    use super::super::testing::*;
    use super::*;
    use skiff_core::registry::lookup;

    fn job(spec: Value, status: Value) -> Value {
        let mut spec = spec;
        spec["template"] = json!({"spec": {"containers": [{"name": "pi", "image": "perl:5.34"}]}});
        json!({"metadata": {"name": "pi", "creationTimestamp": ago(600)}, "spec": spec, "status": status})
    }

    fn row(status: &str, completions: &str, duration: &str, selector: &str) -> Value {
        json!([
            "pi",
            status,
            completions,
            duration,
            "10m",
            "pi",
            "perl:5.34",
            selector
        ])
    }

    #[test]
    fn jobs() {
        let cases = vec![
            (
                job(
                    json!({"completions": 1, "selector": {"matchLabels": {"batch.kubernetes.io/controller-uid": "u1"}}}),
                    json!({"succeeded": 1, "startTime": ago(600), "completionTime": ago(540),
                           "conditions": [{"type": "SuccessCriteriaMet", "status": "True"}, {"type": "Complete", "status": "True"}]}),
                ),
                row(
                    "Complete",
                    "1/1",
                    "60s",
                    "batch.kubernetes.io/controller-uid=u1",
                ),
            ),
            (
                job(
                    json!({"completions": 5, "parallelism": 2}),
                    json!({"succeeded": 2, "startTime": ago(200), "active": 2}),
                ),
                row("Running", "2/5", "3m20s", "<none>"),
            ),
            (
                job(json!({"parallelism": 3}), json!({})),
                row("Running", "0/1 of 3", "", "<none>"),
            ),
            (
                job(json!({}), json!({})),
                row("Running", "0/1", "", "<none>"),
            ),
            (
                job(
                    json!({"completions": 1}),
                    json!({"startTime": ago(500),
                    "conditions": [{"type": "FailureTarget", "status": "True"}, {"type": "Failed", "status": "True"}]}),
                ),
                row("Failed", "0/1", "8m20s", "<none>"),
            ),
            (
                job(
                    json!({"completions": 1, "suspend": true}),
                    json!({"conditions": [{"type": "Suspended", "status": "True"}]}),
                ),
                row("Suspended", "0/1", "", "<none>"),
            ),
            (
                job(
                    json!({"completions": 1}),
                    json!({"conditions": [{"type": "FailureTarget", "status": "True"}]}),
                ),
                row("FailureTarget", "0/1", "", "<none>"),
            ),
            (
                job(
                    json!({"completions": 1}),
                    json!({"conditions": [{"type": "Complete", "status": "False"}]}),
                ),
                row("Running", "0/1", "", "<none>"),
            ),
        ];
        let mut deleted = job(json!({"completions": 1}), json!({}));
        deleted["metadata"]["deletionTimestamp"] = json!(ago(1));
        let mut cases = cases;
        cases.push((deleted, row("Terminating", "0/1", "", "<none>")));
        check(
            lookup("batch", "v1", "jobs").unwrap(),
            &[
                "Name",
                "Status",
                "Completions",
                "Duration",
                "Age",
                "+Containers",
                "+Images",
                "+Selector",
            ],
            &cases,
        );
    }

    #[test]
    fn cron_jobs() {
        let template = json!({"spec": {"template": {"spec": {"containers": [{"name": "hello", "image": "busybox"}]}}}});
        check(
            lookup("batch", "v1", "cronjobs").unwrap(),
            &[
                "Name",
                "Schedule",
                "Timezone",
                "Suspend",
                "Active",
                "Last Schedule",
                "Age",
                "+Containers",
                "+Images",
                "+Selector",
            ],
            &[
                (
                    json!({"metadata": {"name": "hello", "creationTimestamp": ago(7200)},
                        "spec": {"schedule": "*/1 * * * *", "jobTemplate": template}}),
                    json!([
                        "hello",
                        "*/1 * * * *",
                        "<none>",
                        "False",
                        0,
                        "<none>",
                        "120m",
                        "hello",
                        "busybox",
                        "<none>"
                    ]),
                ),
                (
                    json!({"metadata": {"name": "nightly", "creationTimestamp": ago(7200)},
                        "spec": {"schedule": "0 3 * * *", "timeZone": "Europe/Paris", "suspend": true, "jobTemplate": template},
                        "status": {"active": [{"kind": "Job", "name": "nightly-1"}], "lastScheduleTime": ago(45)}}),
                    json!([
                        "nightly",
                        "0 3 * * *",
                        "Europe/Paris",
                        "True",
                        1,
                        "45s",
                        "120m",
                        "hello",
                        "busybox",
                        "<none>"
                    ]),
                ),
            ],
        );
    }
}
