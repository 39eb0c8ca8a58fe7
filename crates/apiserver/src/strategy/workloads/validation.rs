//! Workload validation: upstream's `ValidateDeploymentSpec`, `ValidateReplicaSetSpec`,
//! `ValidateStatefulSetSpec`, `ValidateDaemonSetSpec` (pkg/apis/apps/validation),
//! `ValidateReplicationControllerSpec` and `ValidatePodTemplate` (pkg/apis/core/validation),
//! and their update rules (apps/v1 selectors are immutable).

use crate::strategy::common::{
    IMMUTABLE, get, go_int_or_string, go_label_selector, go_string_map, int_of, invalid_go,
    nonnegative, not_supported_go, selector_is_empty, selector_of, semantic_eq, str_of, string_map,
    validate_annotations, validate_label_selector, validate_labels,
};
use crate::strategy::pod::validation::validate_template;
use crate::strategy::service::validation::go_quote;
use serde_json::Value;
use skiff_core::labels::Selector;
use skiff_core::registry::ResourceInfo;
use skiff_core::status::FieldError;
use skiff_core::validation::regex_error;

const SELECTOR_MISMATCH: &str = "`selector` does not match template `labels`";

fn spec_of(obj: &Value) -> Value {
    obj.get("spec").cloned().unwrap_or(Value::Null)
}

fn template_labels(template: &Value) -> Option<&Value> {
    get(template, "metadata").and_then(|m| get(m, "labels"))
}

/// The selector checks every apps/v1 kind starts with; returns the selector when it converts.
fn selector_checks(spec: &Value, word: &str, errs: &mut Vec<FieldError>) -> Option<Selector> {
    let sel = get(spec, "selector");
    match sel {
        None if word != "daemonset" => errs.push(FieldError::required("spec.selector", "")),
        None => {}
        Some(s) => {
            validate_label_selector(Some(s), "spec.selector", errs);
            if selector_is_empty(s) && word != "daemonset" {
                errs.push(invalid_go(
                    "spec.selector",
                    &go_label_selector(s),
                    &format!("empty selector is invalid for {word}"),
                ));
            }
        }
    }
    selector_of(sel)
}

fn selector_matches_template(selector: &Selector, template: &Value, errs: &mut Vec<FieldError>) {
    let labels = template_labels(template);
    if !selector.is_empty() && !selector.matches(&string_map(labels)) {
        errs.push(invalid_go(
            "spec.template.metadata.labels",
            &go_string_map(labels),
            SELECTOR_MISMATCH,
        ));
    }
}

/// The restart policy and deadline rules of templates of long-running workloads.
fn long_running_template(template: &Value, kind: &str, errs: &mut Vec<FieldError>) {
    let spec = get(template, "spec").cloned().unwrap_or(Value::Null);
    let policy = str_of(&spec, "restartPolicy");
    if policy != "Always" {
        errs.push(FieldError::not_supported(
            "spec.template.spec.restartPolicy",
            policy,
            &["Always"],
        ));
    }
    if get(&spec, "activeDeadlineSeconds").is_some() {
        errs.push(FieldError::forbidden(
            "spec.template.spec.activeDeadlineSeconds",
            format!("activeDeadlineSeconds in {kind} is not Supported"),
        ));
    }
}

/// Upstream's `ValidatePodTemplateSpecForReplicaSet`.
fn template_for_replica_set(spec: &Value, selector: &Selector, errs: &mut Vec<FieldError>) {
    let template = get(spec, "template").cloned().unwrap_or(Value::Null);
    selector_matches_template(selector, &template, errs);
    errs.extend(validate_template(&template, "spec.template"));
    long_running_template(&template, "ReplicaSet", errs);
}

/// Upstream's `IsValidPercent` message.
fn percent_error() -> String {
    regex_error(
        "a valid percent string must be a numeric string followed by an ending '%'",
        "[0-9]+%",
        &["1%", "93%"],
    )
}

fn percent_value(v: Option<&Value>) -> Option<i64> {
    let s = v?.as_str()?;
    let digits = s.strip_suffix('%')?;
    (!digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit()))
        .then(|| digits.parse().unwrap_or(i64::MAX))
}

/// Upstream's `getIntOrPercentValue`.
fn int_or_percent_value(v: Option<&Value>) -> i64 {
    if let Some(p) = percent_value(v) {
        return p;
    }
    match v {
        Some(Value::String(s)) => s.parse().unwrap_or(0),
        Some(n) => n.as_i64().unwrap_or(0),
        None => 0,
    }
}

/// Upstream's `ValidatePositiveIntOrPercent`.
fn positive_int_or_percent(v: Option<&Value>, field: &str, errs: &mut Vec<FieldError>) {
    match v {
        Some(Value::String(_)) => {
            if percent_value(v).is_none() {
                errs.push(invalid_go(field, &go_int_or_string(v), &percent_error()));
            }
        }
        _ => nonnegative(field, v.and_then(Value::as_i64).unwrap_or(0), errs),
    }
}

/// Upstream's `IsNotMoreThan100Percent`.
fn not_more_than_100_percent(v: Option<&Value>, field: &str, errs: &mut Vec<FieldError>) {
    if percent_value(v).is_some_and(|p| p > 100) {
        errs.push(invalid_go(
            field,
            &go_int_or_string(v),
            "must not be greater than 100%",
        ));
    }
}

fn validate_deployment_strategy(spec: &Value, errs: &mut Vec<FieldError>) {
    let strategy = get(spec, "strategy").cloned().unwrap_or(Value::Null);
    let rolling = get(&strategy, "rollingUpdate");
    match str_of(&strategy, "type") {
        "Recreate" => {
            if rolling.is_some() {
                errs.push(FieldError::forbidden(
                    "spec.strategy.rollingUpdate",
                    "may not be specified when strategy `type` is 'Recreate'",
                ));
            }
        }
        "RollingUpdate" => match rolling {
            None => errs.push(FieldError::required(
                "spec.strategy.rollingUpdate",
                "this should be defaulted and never be nil",
            )),
            Some(ru) => {
                let path = "spec.strategy.rollingUpdate";
                let (mu, ms) = (get(ru, "maxUnavailable"), get(ru, "maxSurge"));
                positive_int_or_percent(mu, &format!("{path}.maxUnavailable"), errs);
                positive_int_or_percent(ms, &format!("{path}.maxSurge"), errs);
                if int_or_percent_value(mu) == 0 && int_or_percent_value(ms) == 0 {
                    errs.push(invalid_go(
                        format!("{path}.maxUnavailable"),
                        &go_int_or_string(mu),
                        "may not be 0 when `maxSurge` is 0",
                    ));
                }
                not_more_than_100_percent(mu, &format!("{path}.maxUnavailable"), errs);
            }
        },
        other => {
            let rolling = if rolling.is_some() {
                "(*apps.RollingUpdateDeployment)(0xc000000000)"
            } else {
                "(*apps.RollingUpdateDeployment)(nil)"
            };
            errs.push(not_supported_go(
                "spec.strategy",
                &format!(
                    "apps.DeploymentStrategy{{Type:{}, RollingUpdate:{rolling}}}",
                    go_quote(other)
                ),
                &["Recreate", "RollingUpdate"],
            ));
        }
    }
}

/// Upstream's `ValidateDeploymentSpec`.
pub fn validate_deployment(obj: &Value) -> Vec<FieldError> {
    let spec = spec_of(obj);
    let mut errs = Vec::new();
    nonnegative(
        "spec.replicas",
        int_of(&spec, "replicas").unwrap_or(0),
        &mut errs,
    );
    match selector_checks(&spec, "deployment", &mut errs) {
        Some(selector) => template_for_replica_set(&spec, &selector, &mut errs),
        None => errs.push(invalid_go(
            "spec.selector",
            &go_label_selector(get(&spec, "selector").unwrap_or(&Value::Null)),
            "invalid label selector",
        )),
    }
    validate_deployment_strategy(&spec, &mut errs);
    let min_ready = int_of(&spec, "minReadySeconds").unwrap_or(0);
    nonnegative("spec.minReadySeconds", min_ready, &mut errs);
    if let Some(limit) = int_of(&spec, "revisionHistoryLimit") {
        nonnegative("spec.revisionHistoryLimit", limit, &mut errs);
    }
    if let Some(deadline) = int_of(&spec, "progressDeadlineSeconds") {
        nonnegative("spec.progressDeadlineSeconds", deadline, &mut errs);
        if deadline <= min_ready {
            errs.push(FieldError::invalid(
                "spec.progressDeadlineSeconds",
                deadline,
                "must be greater than minReadySeconds",
            ));
        }
    }
    errs
}

/// Upstream's `ValidateReplicaSetSpec`.
pub fn validate_replica_set(obj: &Value) -> Vec<FieldError> {
    let spec = spec_of(obj);
    let mut errs = Vec::new();
    nonnegative(
        "spec.replicas",
        int_of(&spec, "replicas").unwrap_or(0),
        &mut errs,
    );
    nonnegative(
        "spec.minReadySeconds",
        int_of(&spec, "minReadySeconds").unwrap_or(0),
        &mut errs,
    );
    match selector_checks(&spec, "deployment", &mut errs) {
        Some(selector) => template_for_replica_set(&spec, &selector, &mut errs),
        None => errs.push(invalid_go(
            "spec.selector",
            &go_label_selector(get(&spec, "selector").unwrap_or(&Value::Null)),
            "invalid label selector",
        )),
    }
    errs
}

fn go_int_or_string_ptr(v: Option<&Value>) -> String {
    match v {
        None => "(*intstr.IntOrString)(nil)".into(),
        Some(_) => "(*intstr.IntOrString)(0xc000000000)".into(),
    }
}

/// Upstream's `ValidateStatefulSetSpec`.
pub fn validate_stateful_set(obj: &Value) -> Vec<FieldError> {
    let spec = spec_of(obj);
    let mut errs = Vec::new();
    match str_of(&spec, "podManagementPolicy") {
        "" => errs.push(FieldError::required("spec.podManagementPolicy", "")),
        "OrderedReady" | "Parallel" => {}
        other => errs.push(FieldError::invalid(
            "spec.podManagementPolicy",
            other,
            "must be 'OrderedReady' or 'Parallel'",
        )),
    }
    let us = get(&spec, "updateStrategy").cloned().unwrap_or(Value::Null);
    let rolling = get(&us, "rollingUpdate");
    let render_rolling = |ru: &Value| {
        format!(
            "apps.RollingUpdateStatefulSetStrategy{{Partition:{}, MaxUnavailable:{}}}",
            int_of(ru, "partition").unwrap_or(0),
            go_int_or_string_ptr(get(ru, "maxUnavailable"))
        )
    };
    match str_of(&us, "type") {
        "" => errs.push(FieldError::required("spec.updateStrategy", "")),
        "OnDelete" => {
            if let Some(ru) = rolling {
                errs.push(invalid_go(
                    "spec.updateStrategy.rollingUpdate",
                    &render_rolling(ru),
                    "only allowed for updateStrategy 'RollingUpdate'",
                ));
            }
        }
        "RollingUpdate" => {
            if let Some(ru) = rolling {
                let path = "spec.updateStrategy.rollingUpdate";
                nonnegative(
                    format!("{path}.partition"),
                    int_of(ru, "partition").unwrap_or(0),
                    &mut errs,
                );
                if let Some(mu) = get(ru, "maxUnavailable") {
                    let field = format!("{path}.maxUnavailable");
                    positive_int_or_percent(Some(mu), &field, &mut errs);
                    if int_or_percent_value(Some(mu)) == 0 {
                        errs.push(invalid_go(
                            field.as_str(),
                            &go_int_or_string(Some(mu)),
                            "cannot be 0",
                        ));
                    }
                    not_more_than_100_percent(Some(mu), &field, &mut errs);
                }
            }
        }
        other => {
            let rolling = match rolling {
                Some(_) => "(*apps.RollingUpdateStatefulSetStrategy)(0xc000000000)".to_owned(),
                None => "(*apps.RollingUpdateStatefulSetStrategy)(nil)".to_owned(),
            };
            errs.push(invalid_go(
                "spec.updateStrategy",
                &format!(
                    "apps.StatefulSetUpdateStrategy{{Type:{}, RollingUpdate:{rolling}}}",
                    go_quote(other)
                ),
                "must be 'RollingUpdate' or 'OnDelete'",
            ));
        }
    }
    if let Some(policy) = get(&spec, "persistentVolumeClaimRetentionPolicy") {
        for field in ["whenDeleted", "whenScaled"] {
            let v = str_of(policy, field);
            if !matches!(v, "Retain" | "Delete") {
                errs.push(FieldError::not_supported(
                    format!("spec.persistentVolumeClaimRetentionPolicy.{field}"),
                    v,
                    &["Retain", "Delete"],
                ));
            }
        }
    }
    if let Some(limit) = int_of(&spec, "revisionHistoryLimit") {
        nonnegative("spec.revisionHistoryLimit", limit, &mut errs);
    }
    nonnegative(
        "spec.replicas",
        int_of(&spec, "replicas").unwrap_or(0),
        &mut errs,
    );
    nonnegative(
        "spec.minReadySeconds",
        int_of(&spec, "minReadySeconds").unwrap_or(0),
        &mut errs,
    );
    if let Some(ordinals) = get(&spec, "ordinals") {
        nonnegative(
            "spec.ordinals.start",
            int_of(ordinals, "start").unwrap_or(0),
            &mut errs,
        );
    }
    let template = get(&spec, "template").cloned().unwrap_or(Value::Null);
    match selector_checks(&spec, "statefulset", &mut errs) {
        Some(selector) => {
            selector_matches_template(&selector, &template, &mut errs);
            let meta = get(&template, "metadata");
            validate_labels(
                meta.and_then(|m| get(m, "labels")),
                "spec.template.labels",
                &mut errs,
            );
            validate_annotations(
                meta.and_then(|m| get(m, "annotations")),
                "spec.template.annotations",
                &mut errs,
            );
        }
        None => errs.push(invalid_go(
            "spec.selector",
            &go_label_selector(get(&spec, "selector").unwrap_or(&Value::Null)),
            "",
        )),
    }
    long_running_template(&template, "StatefulSet", &mut errs);
    errs
}

/// Upstream's `ValidateDaemonSetSpec`.
pub fn validate_daemon_set(obj: &Value) -> Vec<FieldError> {
    let spec = spec_of(obj);
    let mut errs = Vec::new();
    let template = get(&spec, "template").cloned().unwrap_or(Value::Null);
    let sel = get(&spec, "selector");
    validate_label_selector(sel, "spec.selector", &mut errs);
    if let Some(selector) = selector_of(sel)
        && !selector.matches(&string_map(template_labels(&template)))
    {
        errs.push(invalid_go(
            "spec.template.metadata.labels",
            &go_string_map(template_labels(&template)),
            SELECTOR_MISMATCH,
        ));
    }
    if let Some(s) = sel
        && selector_is_empty(s)
    {
        errs.push(invalid_go(
            "spec.selector",
            &go_label_selector(s),
            "empty selector is invalid for daemonset",
        ));
    }
    errs.extend(validate_template(&template, "spec.template"));
    long_running_template(&template, "DaemonSet", &mut errs);
    nonnegative(
        "spec.minReadySeconds",
        int_of(&spec, "minReadySeconds").unwrap_or(0),
        &mut errs,
    );
    let us = get(&spec, "updateStrategy").cloned().unwrap_or(Value::Null);
    match str_of(&us, "type") {
        "OnDelete" => {}
        "RollingUpdate" => match get(&us, "rollingUpdate") {
            None => errs.push(FieldError::required(
                "spec.updateStrategy.rollingUpdate",
                "",
            )),
            Some(ru) => {
                let path = "spec.updateStrategy.rollingUpdate";
                let (mu, ms) = (get(ru, "maxUnavailable"), get(ru, "maxSurge"));
                positive_int_or_percent(mu, &format!("{path}.maxUnavailable"), &mut errs);
                positive_int_or_percent(ms, &format!("{path}.maxSurge"), &mut errs);
                not_more_than_100_percent(mu, &format!("{path}.maxUnavailable"), &mut errs);
                not_more_than_100_percent(ms, &format!("{path}.maxSurge"), &mut errs);
                let (has_mu, has_ms) =
                    (int_or_percent_value(mu) != 0, int_or_percent_value(ms) != 0);
                if has_mu && has_ms {
                    errs.push(invalid_go(
                        format!("{path}.maxSurge"),
                        &go_int_or_string(ms),
                        "may not be set when maxUnavailable is non-zero",
                    ));
                } else if !has_mu && !has_ms {
                    errs.push(FieldError::required(
                        format!("{path}.maxUnavailable"),
                        "cannot be 0 when maxSurge is 0",
                    ));
                }
            }
        },
        other => {
            let rolling = match get(&us, "rollingUpdate") {
                Some(_) => "(*apps.RollingUpdateDaemonSet)(0xc000000000)",
                None => "(*apps.RollingUpdateDaemonSet)(nil)",
            };
            errs.push(not_supported_go(
                "spec.updateStrategy",
                &format!(
                    "apps.DaemonSetUpdateStrategy{{Type:{}, RollingUpdate:{rolling}}}",
                    go_quote(other)
                ),
                &["RollingUpdate", "OnDelete"],
            ));
        }
    }
    if let Some(limit) = int_of(&spec, "revisionHistoryLimit") {
        nonnegative("spec.revisionHistoryLimit", limit, &mut errs);
    }
    errs
}

/// Upstream's `ValidateReplicationControllerSpec`.
pub fn validate_replication_controller(obj: &Value) -> Vec<FieldError> {
    let spec = spec_of(obj);
    let mut errs = Vec::new();
    nonnegative(
        "spec.minReadySeconds",
        int_of(&spec, "minReadySeconds").unwrap_or(0),
        &mut errs,
    );
    let selector = string_map(get(&spec, "selector"));
    if selector.is_empty() {
        errs.push(FieldError::required("spec.selector", ""));
    }
    nonnegative(
        "spec.replicas",
        int_of(&spec, "replicas").unwrap_or(0),
        &mut errs,
    );
    match get(&spec, "template") {
        None => errs.push(FieldError::required("spec.template", "")),
        Some(template) => {
            let labels = template_labels(template);
            if !selector.is_empty() && !Selector::from_set(&selector).matches(&string_map(labels)) {
                errs.push(invalid_go(
                    "spec.template.metadata.labels",
                    &go_string_map(labels),
                    SELECTOR_MISMATCH,
                ));
            }
            errs.extend(validate_template(template, "spec.template"));
            long_running_template(template, "ReplicationController", &mut errs);
        }
    }
    errs
}

/// Validates a workload object of `info`'s kind.
pub fn validate(info: &ResourceInfo, obj: &Value) -> Vec<FieldError> {
    match info.gvk.kind {
        "Deployment" => validate_deployment(obj),
        "ReplicaSet" => validate_replica_set(obj),
        "StatefulSet" => validate_stateful_set(obj),
        "DaemonSet" => validate_daemon_set(obj),
        "ReplicationController" => validate_replication_controller(obj),
        "PodTemplate" => validate_template(obj.get("template").unwrap_or(&Value::Null), "template"),
        _ => Vec::new(),
    }
}

/// Upstream's `ValidateImmutableField` on `spec.selector`.
fn selector_immutable(new: &Value, old: &Value, errs: &mut Vec<FieldError>) {
    let (n, o) = (
        new.get("spec").and_then(|s| get(s, "selector")),
        old.get("spec").and_then(|s| get(s, "selector")),
    );
    if !semantic_eq(n, o) {
        errs.push(invalid_go(
            "spec.selector",
            &go_label_selector(n.unwrap_or(&Value::Null)),
            IMMUTABLE,
        ));
    }
}

/// Validates an update of a workload of `info`'s kind (the new object in full, then the
/// update rules).
pub fn validate_update(info: &ResourceInfo, new: &Value, old: &Value) -> Vec<FieldError> {
    let mut errs = validate(info, new);
    match info.gvk.kind {
        "Deployment" | "ReplicaSet" | "DaemonSet" => selector_immutable(new, old, &mut errs),
        "StatefulSet" => {
            let mut clone = spec_of(new);
            let old_spec = spec_of(old);
            for field in [
                "replicas",
                "template",
                "updateStrategy",
                "minReadySeconds",
                "ordinals",
                "persistentVolumeClaimRetentionPolicy",
            ] {
                if let Some(m) = clone.as_object_mut() {
                    match old_spec.get(field) {
                        Some(v) => m.insert(field.into(), v.clone()),
                        None => m.remove(field),
                    };
                }
            }
            if !semantic_eq(Some(&clone), Some(&old_spec)) {
                errs.push(FieldError::forbidden(
                    "spec",
                    "updates to statefulset spec for fields other than 'replicas', 'ordinals', 'template', 'updateStrategy', 'persistentVolumeClaimRetentionPolicy' and 'minReadySeconds' are forbidden",
                ));
            }
        }
        _ => {}
    }
    errs
}
