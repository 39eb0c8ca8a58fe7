//! The batch/v1 Job and CronJob strategies: upstream's `SetDefaults_Job` and
//! `SetDefaults_CronJob` (pkg/apis/batch/v1) with the pod defaults of their templates, the
//! Job selector upstream generates (`batch.kubernetes.io/controller-uid=<uid>`, with the
//! `controller-uid`/`job-name` template labels and their `batch.kubernetes.io/` twins), and
//! `ValidateJob`/`ValidateCronJob` with their update rules (pkg/apis/batch/validation).

use super::common::{
    IMMUTABLE, check, child_mut, each_mut, ensure_object, get, go_label_selector, go_string_map,
    int_of, invalid_go, meta_update_errors, nonnegative, selector_of, semantic_eq, set_default,
    set_default_str, settle_generation, str_of, string_map, validate_label_selector,
};
use super::cron;
use super::pod;
use super::pod::validation::validate_template;
use crate::object;
use serde_json::{Value, json};
use skiff_core::registry::ResourceInfo;
use skiff_core::status::{ApiError, FieldError};
use skiff_core::validation;

/// The label a Job's pods carry its uid in (and its generated selector selects).
pub const CONTROLLER_UID: &str = "batch.kubernetes.io/controller-uid";
/// The label a Job's pods carry its name in.
pub const JOB_NAME: &str = "batch.kubernetes.io/job-name";
/// The unprefixed twin of [`CONTROLLER_UID`].
pub const LEGACY_CONTROLLER_UID: &str = "controller-uid";
/// The unprefixed twin of [`JOB_NAME`].
pub const LEGACY_JOB_NAME: &str = "job-name";

const MAX_PARALLELISM_INDEXED: i64 = 100_000;

/// Upstream's `SetDefaults_Job` on a job spec (the object's labels are handled by
/// [`default_job_labels`]).
pub fn default_job_spec(spec: &mut Value) {
    if get(spec, "completions").is_none() && get(spec, "parallelism").is_none() {
        spec["completions"] = json!(1);
        spec["parallelism"] = json!(1);
    }
    set_default(spec, "parallelism", json!(1));
    let backoff = if get(spec, "backoffLimitPerIndex").is_some() {
        i64::from(i32::MAX)
    } else {
        6
    };
    set_default(spec, "backoffLimit", json!(backoff));
    set_default(spec, "completionMode", json!("NonIndexed"));
    set_default(spec, "suspend", json!(false));
    default_pod_failure_policy(spec);
    let replacement = if get(spec, "podFailurePolicy").is_some() {
        "Failed"
    } else {
        "TerminatingOrFailed"
    };
    set_default(spec, "podReplacementPolicy", json!(replacement));
    set_default(spec, "manualSelector", json!(false));
}

/// `SetDefaults_PodFailurePolicyOnPodConditionsPattern`: a pattern's status is `True`.
fn default_pod_failure_policy(spec: &mut Value) {
    if let Some(policy) = child_mut(spec, "podFailurePolicy") {
        each_mut(policy, "rules", |rule| {
            each_mut(rule, "onPodConditions", |p| {
                set_default_str(p, "status", "True")
            });
        });
    }
}

/// The part of `SetDefaults_Job` on the object: a Job without labels takes its template's.
pub fn default_job_labels(obj: &mut Value) {
    let template_labels = obj
        .get("spec")
        .and_then(|s| get(s, "template"))
        .and_then(|t| get(t, "metadata"))
        .and_then(|m| get(m, "labels"))
        .cloned();
    if let Some(labels) = template_labels
        && object::meta(obj)
            .get("labels")
            .and_then(Value::as_object)
            .is_none_or(|m| m.is_empty())
    {
        object::set_meta(obj, "labels", labels);
    }
}

/// Upstream's `SetDefaults_CronJob` on a cron job spec, with its job template's defaults.
pub fn default_cron_job_spec(spec: &mut Value) {
    set_default_str(spec, "concurrencyPolicy", "Allow");
    set_default(spec, "suspend", json!(false));
    set_default(spec, "successfulJobsHistoryLimit", json!(3));
    set_default(spec, "failedJobsHistoryLimit", json!(1));
}

/// Upstream's `generateSelector`: the template gets the job's name and uid labels (unless
/// set), the selector selects the uid.
pub fn generate_selector(obj: &mut Value) {
    let name = object::name(obj).unwrap_or_default().to_owned();
    let uid = object::meta_str(obj, "uid").unwrap_or_default().to_owned();
    let Some(spec) = ensure_object(obj, "spec") else {
        return;
    };
    if let Some(labels) = ensure_object(spec, "template")
        .and_then(|t| ensure_object(t, "metadata"))
        .and_then(|m| ensure_object(m, "labels"))
        .and_then(Value::as_object_mut)
    {
        for key in [LEGACY_JOB_NAME, JOB_NAME] {
            labels.entry(key).or_insert_with(|| json!(name));
        }
        for key in [LEGACY_CONTROLLER_UID, CONTROLLER_UID] {
            labels.entry(key).or_insert_with(|| json!(uid));
        }
    }
    if let Some(match_labels) = ensure_object(spec, "selector")
        .and_then(|s| ensure_object(s, "matchLabels"))
        .and_then(Value::as_object_mut)
    {
        match_labels
            .entry(CONTROLLER_UID)
            .or_insert_with(|| json!(uid));
    }
}

fn manual_selector(spec: &Value) -> bool {
    spec.get("manualSelector").and_then(Value::as_bool) == Some(true)
}

/// Upstream's Job defaults (applied when a body is decoded), its pod template's included.
pub fn prepare_job(info: &ResourceInfo, obj: &mut Value) -> Result<(), ApiError> {
    default_job_labels(obj);
    let Some(spec) = ensure_object(obj, "spec") else {
        return Ok(());
    };
    default_job_spec(spec);
    pod::prepare_template(info, ensure_object(spec, "template"))
}

/// Upstream's CronJob defaults (applied when a body is decoded), its job template's
/// included.
pub fn prepare_cron_job(info: &ResourceInfo, obj: &mut Value) -> Result<(), ApiError> {
    let Some(spec) = ensure_object(obj, "spec") else {
        return Ok(());
    };
    default_cron_job_spec(spec);
    let Some(jt) = ensure_object(spec, "jobTemplate") else {
        return Ok(());
    };
    let Some(job_spec) = ensure_object(jt, "spec") else {
        return Ok(());
    };
    default_pod_failure_policy(job_spec);
    pod::prepare_template(info, ensure_object(job_spec, "template"))
}

/// Upstream's `ValidateHasLabel`.
fn has_label(template: &Value, key: &str, want: &str, errs: &mut Vec<FieldError>) {
    let labels = get(template, "metadata").and_then(|m| get(m, "labels"));
    let field = format!("spec.template.metadata.labels[{key}]");
    match labels.and_then(|l| l.get(key)).and_then(Value::as_str) {
        None => errs.push(FieldError::required(field, format!("must be '{want}'"))),
        Some(v) if v != want => errs.push(invalid_go(
            field,
            &go_string_map(labels),
            &format!("must be '{want}'"),
        )),
        Some(_) => {}
    }
}

/// Upstream's `validateGeneratedSelector`.
fn validate_generated_selector(obj: &Value, prefixed: bool, errs: &mut Vec<FieldError>) {
    let spec = obj.get("spec").cloned().unwrap_or(Value::Null);
    if manual_selector(&spec) {
        return;
    }
    let Some(sel) = get(&spec, "selector") else {
        return;
    };
    let uid = object::meta_str(obj, "uid").unwrap_or_default();
    let name = object::name(obj).unwrap_or_default();
    if uid.is_empty() {
        errs.push(FieldError::required("metadata.uid", ""));
    }
    let template = get(&spec, "template").cloned().unwrap_or(Value::Null);
    has_label(&template, LEGACY_CONTROLLER_UID, uid, errs);
    has_label(&template, LEGACY_JOB_NAME, name, errs);
    let mut expected = std::collections::BTreeMap::new();
    if prefixed {
        has_label(&template, CONTROLLER_UID, uid, errs);
        has_label(&template, JOB_NAME, name, errs);
        expected.insert(CONTROLLER_UID.to_owned(), uid.to_owned());
        expected.insert(JOB_NAME.to_owned(), name.to_owned());
    }
    expected.insert(LEGACY_CONTROLLER_UID.to_owned(), uid.to_owned());
    expected.insert(LEGACY_JOB_NAME.to_owned(), name.to_owned());
    if let Some(selector) = selector_of(Some(sel))
        && !selector.matches(&expected)
    {
        errs.push(invalid_go(
            "spec.selector",
            &go_label_selector(sel),
            "`selector` not auto-generated",
        ));
    }
}

/// Upstream's `validateJobSpec` (shared by Jobs and CronJob job templates); `path` is the
/// job spec's path.
pub fn validate_job_spec(spec: &Value, path: &str, errs: &mut Vec<FieldError>) {
    for field in [
        "parallelism",
        "completions",
        "activeDeadlineSeconds",
        "backoffLimit",
        "ttlSecondsAfterFinished",
        "backoffLimitPerIndex",
        "maxFailedIndexes",
    ] {
        if let Some(v) = int_of(spec, field) {
            nonnegative(format!("{path}.{field}"), v, errs);
        }
        if field == "maxFailedIndexes"
            && get(spec, field).is_some()
            && get(spec, "backoffLimitPerIndex").is_none()
        {
            errs.push(FieldError::required(
                format!("{path}.backoffLimitPerIndex"),
                "when maxFailedIndexes is specified",
            ));
        }
    }
    if let Some(managed_by) = spec.get("managedBy").and_then(Value::as_str)
        && managed_by.len() > 63
    {
        errs.push(FieldError::too_long(format!("{path}.managedBy"), 63));
    }
    let mode = spec.get("completionMode").and_then(Value::as_str);
    let indexed = mode == Some("Indexed");
    if let Some(m) = mode {
        if !matches!(m, "NonIndexed" | "Indexed") {
            errs.push(FieldError::not_supported(
                format!("{path}.completionMode"),
                m,
                &["NonIndexed", "Indexed"],
            ));
        }
        if indexed {
            if get(spec, "completions").is_none() {
                errs.push(FieldError::required(
                    format!("{path}.completions"),
                    "when completion mode is Indexed",
                ));
            }
            if let Some(p) = int_of(spec, "parallelism")
                && p > MAX_PARALLELISM_INDEXED
            {
                errs.push(FieldError::invalid(
                    format!("{path}.parallelism"),
                    p,
                    format!(
                        "must be less than or equal to {MAX_PARALLELISM_INDEXED} when completion mode is Indexed"
                    ),
                ));
            }
            if let (Some(c), Some(m)) = (
                int_of(spec, "completions"),
                int_of(spec, "maxFailedIndexes"),
            ) && m > c
            {
                errs.push(FieldError::invalid(
                    format!("{path}.maxFailedIndexes"),
                    m,
                    "must be less than or equal to completions",
                ));
            }
        }
    }
    if !indexed {
        for field in ["backoffLimitPerIndex", "maxFailedIndexes"] {
            if let Some(v) = int_of(spec, field) {
                errs.push(FieldError::invalid(
                    format!("{path}.{field}"),
                    v,
                    "requires indexed completion mode",
                ));
            }
        }
    }
    let failure_policy = get(spec, "podFailurePolicy").is_some();
    if let Some(p) = spec.get("podReplacementPolicy").and_then(Value::as_str) {
        if failure_policy {
            if p != "Failed" {
                errs.push(FieldError::not_supported(
                    format!("{path}.podReplacementPolicy"),
                    p,
                    &["Failed"],
                ));
            }
        } else if !matches!(p, "Failed" | "TerminatingOrFailed") {
            errs.push(FieldError::not_supported(
                format!("{path}.podReplacementPolicy"),
                p,
                &["Failed", "TerminatingOrFailed"],
            ));
        }
    }
    let template = get(spec, "template").cloned().unwrap_or(Value::Null);
    errs.extend(validate_template(&template, &format!("{path}.template")));
    let policy_path = format!("{path}.template.spec.restartPolicy");
    let policy = get(&template, "spec")
        .map(|s| str_of(s, "restartPolicy"))
        .unwrap_or_default();
    match policy {
        "Always" | "" => errs.push(FieldError::required(
            policy_path,
            "valid values: \"OnFailure\", \"Never\"",
        )),
        "OnFailure" | "Never" => {
            if failure_policy && policy != "Never" {
                errs.push(FieldError::invalid(
                    policy_path,
                    policy,
                    "only \"Never\" is supported when podFailurePolicy is specified",
                ));
            }
        }
        other => errs.push(FieldError::not_supported(
            policy_path,
            other,
            &["OnFailure", "Never"],
        )),
    }
}

/// Upstream's `ValidateJob` (plus `ValidateJobSpec`'s selector rules).
pub fn validate_job(obj: &Value, prefixed_labels: bool) -> Vec<FieldError> {
    let mut errs = Vec::new();
    validate_generated_selector(obj, prefixed_labels, &mut errs);
    let spec = obj.get("spec").cloned().unwrap_or(Value::Null);
    validate_job_spec(&spec, "spec", &mut errs);
    let sel = get(&spec, "selector");
    match sel {
        None => errs.push(FieldError::required("spec.selector", "")),
        Some(_) => validate_label_selector(sel, "spec.selector", &mut errs),
    }
    let template = get(&spec, "template").cloned().unwrap_or(Value::Null);
    let labels = get(&template, "metadata").and_then(|m| get(m, "labels"));
    if let Some(selector) = selector_of(sel)
        && !selector.matches(&string_map(labels))
    {
        errs.push(invalid_go(
            "spec.template.metadata.labels",
            &go_string_map(labels),
            "`selector` does not match template `labels`",
        ));
    }
    if spec.get("completionMode").and_then(Value::as_str) == Some("Indexed")
        && let Some(c) = int_of(&spec, "completions")
        && c > 0
    {
        let name = object::name(obj).unwrap_or_default();
        let host = format!("{name}-{}", c - 1);
        if !validation::is_dns1123_label(&host).is_empty() {
            errs.push(FieldError::invalid(
                "metadata.name",
                name,
                format!("will not able to create pod with invalid DNS label: {host}"),
            ));
        }
    }
    errs
}

fn immutable_value(v: Option<&Value>, render: impl Fn(&Value) -> String) -> String {
    match v {
        None => "null".into(),
        Some(v) => render(v),
    }
}

/// Upstream's `ValidateJobSpecUpdate` rules (the new job itself is validated separately).
fn validate_job_update(new: &Value, old: &Value, errs: &mut Vec<FieldError>) {
    let spec = new.get("spec").cloned().unwrap_or(Value::Null);
    let old_spec = old.get("spec").cloned().unwrap_or(Value::Null);
    let changed = |field: &str| !semantic_eq(spec.get(field), old_spec.get(field));
    let indexed = spec.get("completionMode").and_then(Value::as_str) == Some("Indexed");
    if changed("completions") {
        if !indexed {
            errs.push(invalid_go(
                "spec.completions",
                &immutable_value(get(&spec, "completions"), Value::to_string),
                IMMUTABLE,
            ));
        } else if let Some(c) = int_of(&spec, "completions")
            && Some(c) != int_of(&spec, "parallelism")
        {
            errs.push(FieldError::invalid(
                "spec.completions",
                c,
                "can only be modified in tandem with spec.parallelism",
            ));
        }
    }
    if changed("selector") {
        errs.push(invalid_go(
            "spec.selector",
            &immutable_value(get(&spec, "selector"), go_label_selector),
            IMMUTABLE,
        ));
    }
    let mut template = spec.get("template").cloned().unwrap_or(Value::Null);
    let old_template = old_spec.get("template").cloned().unwrap_or(Value::Null);
    let suspended = old_spec.get("suspend").and_then(Value::as_bool) == Some(true);
    let not_started = old
        .get("status")
        .and_then(|s| get(s, "startTime"))
        .is_none();
    if suspended && not_started {
        // Scheduling directives of a suspended job that never ran may change.
        for (parent, field) in [
            ("spec", "nodeSelector"),
            ("spec", "tolerations"),
            ("spec", "schedulingGates"),
            ("spec", "affinity"),
            ("metadata", "labels"),
            ("metadata", "annotations"),
        ] {
            let old_value = old_template.get(parent).and_then(|p| p.get(field)).cloned();
            if let Some(p) = template.get_mut(parent).and_then(Value::as_object_mut) {
                match old_value {
                    Some(v) => p.insert(field.into(), v),
                    None => p.remove(field),
                };
            }
        }
    }
    if !semantic_eq(Some(&template), Some(&old_template)) {
        errs.push(invalid_go(
            "spec.template",
            "core.PodTemplateSpec{...}",
            IMMUTABLE,
        ));
    }
    for field in ["completionMode", "managedBy"] {
        if changed(field) {
            errs.push(invalid_go(
                format!("spec.{field}"),
                &immutable_value(get(&spec, field), Value::to_string),
                IMMUTABLE,
            ));
        }
    }
    if changed("backoffLimitPerIndex") {
        errs.push(invalid_go(
            "spec.backoffLimitPerIndex",
            &immutable_value(get(&spec, "backoffLimitPerIndex"), Value::to_string),
            IMMUTABLE,
        ));
    }
    for (field, go_type) in [
        ("podFailurePolicy", "batch.PodFailurePolicy"),
        ("successPolicy", "batch.SuccessPolicy"),
    ] {
        if changed(field) {
            errs.push(invalid_go(
                format!("spec.{field}"),
                &immutable_value(get(&spec, field), |_| format!("{go_type}{{...}}")),
                IMMUTABLE,
            ));
        }
    }
}

/// Upstream's `validateTimeZone`.
fn validate_time_zone(tz: Option<&Value>, errs: &mut Vec<FieldError>) {
    let Some(tz) = tz.and_then(Value::as_str) else {
        return;
    };
    let field = "spec.timeZone";
    if tz.is_empty() {
        errs.push(FieldError::invalid(
            field,
            tz,
            "timeZone must be nil or non-empty string",
        ));
        return;
    }
    let part_ok = |p: &str| {
        p != "."
            && p != ".."
            && !p.starts_with('-')
            && (1..=14).contains(&p.len())
            && p.bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-' | b'_' | b'+'))
    };
    if !tz.split('/').all(part_ok) {
        errs.push(FieldError::invalid(
            field,
            tz,
            format!("unknown time zone {tz}"),
        ));
        return;
    }
    if tz.eq_ignore_ascii_case("Local") {
        errs.push(FieldError::invalid(
            field,
            tz,
            "timeZone must be an explicit time zone as defined in https://www.iana.org/time-zones",
        ));
    }
    if jiff::tz::TimeZone::get(tz).is_err() {
        errs.push(FieldError::invalid(
            field,
            tz,
            format!("unknown time zone {tz}"),
        ));
    }
}

/// Upstream's `validateCronJobSpec` (`old` is the old spec on update).
pub fn validate_cron_job_spec(spec: &Value, old: Option<&Value>) -> Vec<FieldError> {
    let mut errs = Vec::new();
    let schedule = str_of(spec, "schedule");
    if schedule.is_empty() {
        errs.push(FieldError::required("spec.schedule", ""));
    } else {
        if let Err(e) = cron::parse_standard(schedule) {
            errs.push(FieldError::invalid("spec.schedule", schedule, e));
        }
        let allow_tz = old.is_some_and(|o| str_of(o, "schedule").contains("TZ"));
        if schedule.contains("TZ") {
            if allow_tz && get(spec, "timeZone").is_some() {
                errs.push(FieldError::invalid(
                    "spec.schedule",
                    schedule,
                    "cannot use both timeZone field and TZ or CRON_TZ in schedule",
                ));
            } else if !allow_tz {
                errs.push(FieldError::invalid(
                    "spec.schedule",
                    schedule,
                    "cannot use TZ or CRON_TZ in schedule, use timeZone field instead",
                ));
            }
        }
    }
    if let Some(d) = int_of(spec, "startingDeadlineSeconds") {
        nonnegative("spec.startingDeadlineSeconds", d, &mut errs);
    }
    if old.is_none_or(|o| o.get("timeZone") != spec.get("timeZone")) {
        validate_time_zone(get(spec, "timeZone"), &mut errs);
    }
    match str_of(spec, "concurrencyPolicy") {
        "Allow" | "Forbid" | "Replace" => {}
        "" => errs.push(FieldError::required("spec.concurrencyPolicy", "")),
        other => errs.push(FieldError::not_supported(
            "spec.concurrencyPolicy",
            other,
            &["Allow", "Forbid", "Replace"],
        )),
    }
    let job_spec = get(spec, "jobTemplate")
        .and_then(|t| get(t, "spec"))
        .cloned()
        .unwrap_or(Value::Null);
    validate_job_spec(&job_spec, "spec.jobTemplate.spec", &mut errs);
    if let Some(sel) = get(&job_spec, "selector") {
        errs.push(invalid_go(
            "spec.jobTemplate.spec.selector",
            &go_label_selector(sel),
            "`selector` will be auto-generated",
        ));
    }
    if manual_selector(&job_spec) {
        errs.push(FieldError::not_supported(
            "spec.jobTemplate.spec.manualSelector",
            true,
            &["nil", "false"],
        ));
    }
    for field in ["successfulJobsHistoryLimit", "failedJobsHistoryLimit"] {
        if let Some(v) = int_of(spec, field) {
            nonnegative(format!("spec.{field}"), v, &mut errs);
        }
    }
    errs
}

/// Defaults and validates a new Job or CronJob.
pub fn before_create(info: &ResourceInfo, obj: &mut Value) -> Result<(), ApiError> {
    if info.gvk.kind == "CronJob" {
        prepare_cron_job(info, obj)?;
        let spec = obj.get("spec").cloned().unwrap_or(Value::Null);
        let mut errs = validate_cron_job_spec(&spec, None);
        let name = object::name(obj).unwrap_or_default();
        if name.len() > 52 {
            errs.push(FieldError::invalid(
                "metadata.name",
                name,
                "must be no more than 52 characters",
            ));
        }
        return check(info, obj, &errs);
    }
    prepare_job(info, obj)?;
    if !obj.get("spec").is_some_and(manual_selector) {
        generate_selector(obj);
    }
    // Upstream defaults again whenever it reads the job back: a job without labels shows the
    // generated template labels.
    default_job_labels(obj);
    check(info, obj, &validate_job(obj, true))
}

/// Defaults and validates an update of the Job or CronJob `old` to `new`.
pub fn before_update(info: &ResourceInfo, old: &Value, new: &mut Value) -> Result<(), ApiError> {
    let mut old = old.clone();
    if info.gvk.kind == "CronJob" {
        prepare_cron_job(info, new)?;
        let _ = prepare_cron_job(info, &mut old);
        settle_generation(&old, new, false);
        let spec = new.get("spec").cloned().unwrap_or(Value::Null);
        let mut errs = meta_update_errors(&old, new);
        errs.extend(validate_cron_job_spec(&spec, old.get("spec")));
        return check(info, new, &errs);
    }
    prepare_job(info, new)?;
    let _ = prepare_job(info, &mut old);
    settle_generation(&old, new, false);
    let old_labels = old
        .get("spec")
        .and_then(|s| get(s, "template"))
        .and_then(|t| get(t, "metadata"))
        .map(|m| string_map(m.get("labels")))
        .unwrap_or_default();
    let prefixed = old_labels.contains_key(JOB_NAME) && old_labels.contains_key(CONTROLLER_UID);
    let mut errs = validate_job(new, prefixed);
    errs.extend(meta_update_errors(&old, new));
    validate_job_update(new, &old, &mut errs);
    check(info, new, &errs)
}

#[cfg(test)]
mod tests;
