//! The coordination.k8s.io group: Leases.

use super::format::text;
use super::{Column, Ctx, Printer, age_column, name_column};
use crate::object;
use k8s_openapi::api::coordination::v1::LeaseSpec;
use serde_json::{Value, json};

/// The printer of a coordination.k8s.io kind.
pub(super) fn printer(kind: &str) -> Option<Printer> {
    (kind == "Lease").then_some(Printer::new(columns, cells))
}

fn columns() -> Vec<Column> {
    vec![
        name_column(),
        Column::string("Holder").doc::<LeaseSpec>("holderIdentity"),
        age_column(),
    ]
}

fn cells(lease: &Value, ctx: &Ctx) -> Vec<Value> {
    vec![
        json!(object::name(lease).unwrap_or_default()),
        json!(text(lease, "spec.holderIdentity")),
        json!(ctx.age(lease)),
    ]
}

#[cfg(test)]
mod tests {
    use super::super::testing::*;
    use super::*;
    use skiff_core::registry::lookup;

    #[test]
    fn leases() {
        check(
            lookup("coordination.k8s.io", "v1", "leases").unwrap(),
            &["Name", "Holder", "Age"],
            &[
                (
                    json!({"metadata": {"name": "kube-scheduler", "creationTimestamp": ago(90000)},
                        "spec": {"holderIdentity": "n1_5f3c", "leaseDurationSeconds": 15}}),
                    json!(["kube-scheduler", "n1_5f3c", "25h"]),
                ),
                (
                    json!({"metadata": {"name": "free"}, "spec": {}}),
                    json!(["free", "", "<unknown>"]),
                ),
            ],
        );
    }
}
