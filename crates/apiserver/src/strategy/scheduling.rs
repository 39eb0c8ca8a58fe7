//! The scheduling.k8s.io/v1 PriorityClass strategy: `SetDefaults_PriorityClass`
//! (`preemptionPolicy: PreemptLowerPriority`), `ValidatePriorityClass(Update)` (names with
//! the `system-` prefix are reserved for the built-in classes, user values are capped, the
//! value and preemption policy never change), and the priority admission rule that at most
//! one class is the global default.

use super::checks::immutable_value;
use super::common::{bool_of, check, get, int_of, meta_update_errors, set_default};
use crate::object;
use crate::storage::{self, Storage};
use serde_json::{Value, json};
use skiff_core::registry::ResourceInfo;
use skiff_core::status::{ApiError, FieldError};

/// Upstream's `SystemPriorityClassPrefix`.
pub const SYSTEM_PREFIX: &str = "system-";
/// Upstream's `HighestUserDefinablePriority`.
pub const HIGHEST_USER_PRIORITY: i64 = 1_000_000_000;
/// The built-in classes: name, value, global default.
pub const SYSTEM_CLASSES: &[(&str, i64, bool)] = &[
    ("system-node-critical", 2_000_001_000, false),
    ("system-cluster-critical", 2_000_000_000, false),
];

/// Upstream's `SetDefaults_PriorityClass`.
pub fn default_priority_class(obj: &mut Value) {
    set_default(obj, "preemptionPolicy", json!("PreemptLowerPriority"));
}

/// Upstream's `IsKnownSystemPriorityClass`.
fn known_system_class(name: &str, value: i64, global_default: bool) -> Result<(), String> {
    match SYSTEM_CLASSES.iter().find(|(n, _, _)| *n == name) {
        None => Err(format!("{name} is not a known system priority class")),
        Some((_, v, _)) if *v != value => Err(format!("value of {name} PriorityClass must be {v}")),
        Some((_, _, g)) if *g != global_default => {
            Err(format!("globalDefault of {name} PriorityClass must be {g}"))
        }
        Some(_) => Ok(()),
    }
}

/// Upstream's `ValidatePriorityClass` (metadata aside).
pub fn validate_priority_class(obj: &Value) -> Vec<FieldError> {
    let mut errs = Vec::new();
    let name = object::name(obj).unwrap_or_default();
    let value = int_of(obj, "value").unwrap_or(0);
    if name.starts_with(SYSTEM_PREFIX) {
        let global = bool_of(obj, "globalDefault").unwrap_or(false);
        if let Err(e) = known_system_class(name, value, global) {
            errs.push(FieldError::forbidden(
                "metadata.name",
                format!(
                    "priority class names with '{SYSTEM_PREFIX}' prefix are reserved for system use only. error: {e}"
                ),
            ));
        }
    } else if value > HIGHEST_USER_PRIORITY {
        errs.push(FieldError::forbidden(
            "value",
            format!("maximum allowed value of a user defined priority is {HIGHEST_USER_PRIORITY}"),
        ));
    }
    if let Some(p) = get(obj, "preemptionPolicy") {
        match p.as_str().unwrap_or_default() {
            "PreemptLowerPriority" | "Never" => {}
            "" => errs.push(FieldError::required("preemptionPolicy", "")),
            other => errs.push(FieldError::not_supported(
                "preemptionPolicy",
                other,
                &["PreemptLowerPriority", "Never"],
            )),
        }
    }
    errs
}

/// Upstream's `ValidatePriorityClassUpdate`.
pub fn validate_priority_class_update(new: &Value, old: &Value) -> Vec<FieldError> {
    let mut errs = meta_update_errors(old, new);
    if int_of(new, "value").unwrap_or(0) != int_of(old, "value").unwrap_or(0) {
        errs.push(FieldError::forbidden(
            "value",
            "may not be changed in an update.",
        ));
    }
    if get(new, "preemptionPolicy") != get(old, "preemptionPolicy") {
        errs.push(immutable_value(
            "preemptionPolicy",
            get(new, "preemptionPolicy"),
        ));
    }
    errs
}

/// The priority admission plugin's rule: a class may become the global default only while
/// no other class is.
async fn check_global_default(
    storage: &Storage,
    info: &ResourceInfo,
    obj: &Value,
    creating: bool,
) -> Result<(), ApiError> {
    if bool_of(obj, "globalDefault") != Some(true) {
        return Ok(());
    }
    let name = object::name(obj).unwrap_or_default().to_owned();
    let at = storage.revision().await?;
    let keep = |o: &Value| bool_of(o, "globalDefault") == Some(true);
    let page = storage.list(info, None, 0, None, at, &keep).await?;
    let other = page
        .items
        .iter()
        .filter_map(|o| object::name(o))
        .find(|n| creating || *n != name);
    match other {
        Some(existing) => Err(ApiError::forbidden(
            &storage::group_resource(info),
            &name,
            &format!(
                "PriorityClass {existing} is already marked as default. Only one default can exist"
            ),
        )),
        None => Ok(()),
    }
}

/// Defaults and validates a new PriorityClass.
pub async fn before_create(
    storage: &Storage,
    info: &ResourceInfo,
    obj: &mut Value,
) -> Result<(), ApiError> {
    default_priority_class(obj);
    check(info, obj, &validate_priority_class(obj))?;
    check_global_default(storage, info, obj, true).await
}

/// Defaults and validates an update of a PriorityClass.
pub async fn before_update(
    storage: &Storage,
    info: &ResourceInfo,
    old: &Value,
    new: &mut Value,
) -> Result<(), ApiError> {
    default_priority_class(new);
    let mut errs = validate_priority_class(new);
    errs.extend(validate_priority_class_update(new, old));
    check(info, new, &errs)?;
    check_global_default(storage, info, new, false).await
}

#[cfg(test)]
mod tests {
    use super::*;

    fn shown(errs: &[FieldError]) -> Vec<String> {
        errs.iter().map(ToString::to_string).collect()
    }

    #[test]
    fn kubectl_create_priorityclass_passes() {
        let mut obj = json!({"metadata": {"name": "high"}, "value": 1000, "description": "x"});
        default_priority_class(&mut obj);
        assert_eq!(obj["preemptionPolicy"], "PreemptLowerPriority");
        assert!(validate_priority_class(&obj).is_empty());
        let system = json!({"metadata": {"name": "system-node-critical"}, "value": 2000001000});
        assert!(validate_priority_class(&system).is_empty());
    }

    #[test]
    fn reserved_names_and_values() {
        let table: Vec<(Value, &str)> = vec![
            (
                json!({"metadata": {"name": "system-mine"}, "value": 5}),
                "metadata.name: Forbidden: priority class names with 'system-' prefix are reserved for system use only. error: system-mine is not a known system priority class",
            ),
            (
                json!({"metadata": {"name": "system-cluster-critical"}, "value": 5}),
                "metadata.name: Forbidden: priority class names with 'system-' prefix are reserved for system use only. error: value of system-cluster-critical PriorityClass must be 2000000000",
            ),
            (
                json!({"metadata": {"name": "system-cluster-critical"}, "value": 2000000000, "globalDefault": true}),
                "metadata.name: Forbidden: priority class names with 'system-' prefix are reserved for system use only. error: globalDefault of system-cluster-critical PriorityClass must be false",
            ),
            (
                json!({"metadata": {"name": "huge"}, "value": 1000000001}),
                "value: Forbidden: maximum allowed value of a user defined priority is 1000000000",
            ),
            (
                json!({"metadata": {"name": "p"}, "value": 1, "preemptionPolicy": "Sometimes"}),
                "preemptionPolicy: Unsupported value: \"Sometimes\": supported values: \"PreemptLowerPriority\", \"Never\"",
            ),
        ];
        for (obj, want) in table {
            assert_eq!(shown(&validate_priority_class(&obj)), vec![want]);
        }
    }

    #[test]
    fn values_and_policies_never_change() {
        let old = json!({"metadata": {"name": "p"}, "value": 1, "preemptionPolicy": "PreemptLowerPriority"});
        let new = json!({"metadata": {"name": "p"}, "value": 2, "preemptionPolicy": "Never",
            "description": "changed"});
        assert_eq!(
            shown(&validate_priority_class_update(&new, &old)),
            vec![
                "value: Forbidden: may not be changed in an update.",
                "preemptionPolicy: Invalid value: \"Never\": field is immutable",
            ]
        );
        let described = json!({"metadata": {"name": "p"}, "value": 1,
            "preemptionPolicy": "PreemptLowerPriority", "description": "d", "globalDefault": true});
        assert!(validate_priority_class_update(&described, &old).is_empty());
    }
}
