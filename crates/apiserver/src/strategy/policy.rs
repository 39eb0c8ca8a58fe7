//! The policy/v1 PodDisruptionBudget strategy: upstream's `ValidatePodDisruptionBudget`
//! (`minAvailable` xor `maxUnavailable`, each a non-negative integer or a percentage up to
//! 100%, the selector, the unhealthy pod eviction policy). The spec may change; the
//! generation follows it.

use super::checks::{child, int_or_percent};
use super::common::{
    check, get, invalid_go, meta_update_errors, settle_generation, validate_label_selector,
};
use serde_json::Value;
use skiff_core::registry::ResourceInfo;
use skiff_core::status::{ApiError, FieldError};

/// The unhealthy pod eviction policies upstream supports, as it lists them.
pub const EVICTION_POLICIES: &[&str] = &["AlwaysAllow", "IfHealthyBudget"];

/// Upstream's `ValidatePodDisruptionBudgetSpec`.
pub fn validate_pdb(obj: &Value) -> Vec<FieldError> {
    let mut errs = Vec::new();
    let spec = child(obj, "spec");
    let min = get(&spec, "minAvailable");
    let max = get(&spec, "maxUnavailable");
    if min.is_some() && max.is_some() {
        errs.push(invalid_go(
            "spec",
            "policy.PodDisruptionBudgetSpec{...}",
            "minAvailable and maxUnavailable cannot be both set",
        ));
    }
    if min.is_some() {
        int_or_percent(min, "spec.minAvailable", &mut errs);
    }
    if max.is_some() {
        int_or_percent(max, "spec.maxUnavailable", &mut errs);
    }
    validate_label_selector(get(&spec, "selector"), "spec.selector", &mut errs);
    if let Some(p) = get(&spec, "unhealthyPodEvictionPolicy").and_then(Value::as_str)
        && !EVICTION_POLICIES.contains(&p)
    {
        errs.push(FieldError::not_supported(
            "spec.unhealthyPodEvictionPolicy",
            p,
            EVICTION_POLICIES,
        ));
    }
    errs
}

/// Validates a new PodDisruptionBudget.
pub fn before_create(info: &ResourceInfo, obj: &mut Value) -> Result<(), ApiError> {
    check(info, obj, &validate_pdb(obj))
}

/// Validates an update of a PodDisruptionBudget.
pub fn before_update(info: &ResourceInfo, old: &Value, new: &mut Value) -> Result<(), ApiError> {
    settle_generation(old, new, false);
    let mut errs = meta_update_errors(old, new);
    errs.extend(validate_pdb(new));
    check(info, new, &errs)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;
    use skiff_core::registry::lookup;

    fn shown(errs: &[FieldError]) -> Vec<String> {
        errs.iter().map(ToString::to_string).collect()
    }

    #[test]
    fn kubectl_create_pdb_passes() {
        let info = lookup("policy", "v1", "poddisruptionbudgets").unwrap();
        let mut obj = json!({"metadata": {"name": "p", "namespace": "d"},
            "spec": {"selector": {"matchLabels": {"app": "rails"}}, "minAvailable": 1}});
        before_create(info, &mut obj).unwrap();
        let mut pct = json!({"metadata": {"name": "p", "namespace": "d"},
            "spec": {"selector": {"matchLabels": {"app": "rails"}}, "maxUnavailable": "50%",
                     "unhealthyPodEvictionPolicy": "AlwaysAllow"}});
        before_create(info, &mut pct).unwrap();
    }

    #[test]
    fn budgets_follow_upstream() {
        let obj = json!({"spec": {"minAvailable": "150%", "maxUnavailable": -1,
            "selector": {"matchLabels": {"a b": "c"}}, "unhealthyPodEvictionPolicy": "Never"}});
        let errs = shown(&validate_pdb(&obj));
        assert_eq!(
            errs[0],
            "spec: Invalid value: policy.PodDisruptionBudgetSpec{...}: minAvailable and maxUnavailable cannot be both set"
        );
        assert_eq!(
            errs[1],
            "spec.minAvailable: Invalid value: intstr.IntOrString{Type:1, IntVal:0, StrVal:\"150%\"}: must not be greater than 100%"
        );
        assert_eq!(
            errs[2],
            "spec.maxUnavailable: Invalid value: -1: must be greater than or equal to 0"
        );
        assert!(errs[3].starts_with("spec.selector.matchLabels: Invalid value: \"a b\""));
        assert_eq!(
            errs[4],
            "spec.unhealthyPodEvictionPolicy: Unsupported value: \"Never\": supported values: \"AlwaysAllow\", \"IfHealthyBudget\""
        );
    }

    #[test]
    fn budgets_may_change_and_bump_the_generation() {
        let info = lookup("policy", "v1", "poddisruptionbudgets").unwrap();
        let old = json!({"metadata": {"name": "p", "namespace": "d", "generation": 1},
            "spec": {"minAvailable": 1}});
        let mut new = json!({"metadata": {"name": "p", "namespace": "d", "generation": 2},
            "spec": {"minAvailable": 2}});
        before_update(info, &old, &mut new).unwrap();
        assert_eq!(new["metadata"]["generation"], 2);
        let mut same = json!({"metadata": {"name": "p", "namespace": "d", "generation": 2},
            "spec": {"minAvailable": 1}});
        before_update(info, &old, &mut same).unwrap();
        assert_eq!(same["metadata"]["generation"], 1);
    }
}
