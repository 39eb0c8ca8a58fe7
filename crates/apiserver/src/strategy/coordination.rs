//! The coordination.k8s.io/v1 Lease strategy: upstream's `ValidateLease(Update)` (positive
//! durations, non-negative transitions). `strategy` and `preferredHolder` belong to the
//! `CoordinatedLeaderElection` feature, off by default in 1.33: as upstream, they are dropped
//! unless the stored lease already uses them (and then validated).

use super::checks::child;
use super::common::{check, get, int_of, meta_update_errors, str_of};
use serde_json::Value;
use skiff_core::registry::ResourceInfo;
use skiff_core::status::{ApiError, FieldError};
use skiff_core::validation;

fn uses_coordination(spec: &Value) -> bool {
    get(spec, "strategy").is_some() || get(spec, "preferredHolder").is_some()
}

/// Upstream's `dropDisabledFields` for leases.
fn drop_disabled(obj: &mut Value, old: Option<&Value>) {
    if old.is_some_and(|o| uses_coordination(&child(o, "spec"))) {
        return;
    }
    if let Some(spec) = obj.get_mut("spec").and_then(Value::as_object_mut) {
        spec.remove("strategy");
        spec.remove("preferredHolder");
    }
}

/// Upstream's `ValidateLeaseSpec`.
pub fn validate_lease(obj: &Value) -> Vec<FieldError> {
    let mut errs = Vec::new();
    let spec = child(obj, "spec");
    if let Some(d) = int_of(&spec, "leaseDurationSeconds")
        && d <= 0
    {
        errs.push(FieldError::invalid(
            "spec.leaseDurationSeconds",
            d,
            "must be greater than 0",
        ));
    }
    if let Some(t) = int_of(&spec, "leaseTransitions")
        && t < 0
    {
        errs.push(FieldError::invalid(
            "spec.leaseTransitions",
            t,
            "must be greater than or equal to 0",
        ));
    }
    if let Some(strategy) = get(&spec, "strategy").and_then(Value::as_str) {
        if !strategy.contains('/') {
            if strategy != "OldestEmulationVersion" {
                errs.push(FieldError::not_supported(
                    "spec.strategy.strategy",
                    strategy,
                    &["OldestEmulationVersion"],
                ));
            }
        } else {
            for msg in validation::is_qualified_name(strategy) {
                errs.push(FieldError::invalid("spec.strategy.strategy", strategy, msg));
            }
        }
    }
    if !str_of(&spec, "preferredHolder").is_empty() && str_of(&spec, "strategy").is_empty() {
        errs.push(FieldError::forbidden(
            "spec.preferredHolder",
            "may only be specified if `strategy` is defined",
        ));
    }
    errs
}

/// Validates a new Lease.
pub fn before_create(info: &ResourceInfo, obj: &mut Value) -> Result<(), ApiError> {
    drop_disabled(obj, None);
    check(info, obj, &validate_lease(obj))
}

/// Validates an update of a Lease.
pub fn before_update(info: &ResourceInfo, old: &Value, new: &mut Value) -> Result<(), ApiError> {
    drop_disabled(new, Some(old));
    let mut errs = meta_update_errors(old, new);
    errs.extend(validate_lease(new));
    check(info, new, &errs)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;
    use skiff_core::registry::lookup;

    #[test]
    fn leases() {
        let info = lookup("coordination.k8s.io", "v1", "leases").unwrap();
        let mut ok = json!({"metadata": {"name": "n1", "namespace": "kube-node-lease"},
            "spec": {"holderIdentity": "n1", "leaseDurationSeconds": 40,
                     "renewTime": "2024-01-01T00:00:00.000000Z", "strategy": "OldestEmulationVersion"}});
        before_create(info, &mut ok).unwrap();
        assert!(ok["spec"].get("strategy").is_none());
        let mut bad = json!({"metadata": {"name": "l", "namespace": "d"},
            "spec": {"leaseDurationSeconds": 0, "leaseTransitions": -1}});
        let err = before_create(info, &mut bad).unwrap_err();
        assert_eq!(
            err.message,
            "Lease.coordination.k8s.io \"l\" is invalid: [spec.leaseDurationSeconds: Invalid value: 0: must be greater than 0, spec.leaseTransitions: Invalid value: -1: must be greater than or equal to 0]"
        );
        let mut renewed = ok.clone();
        renewed["spec"]["renewTime"] = json!("2024-01-01T00:00:10.000000Z");
        before_update(info, &ok, &mut renewed).unwrap();
        assert_eq!(
            validate_lease(&json!({"spec": {"preferredHolder": "a"}}))[0].to_string(),
            "spec.preferredHolder: Forbidden: may only be specified if `strategy` is defined"
        );
    }
}
