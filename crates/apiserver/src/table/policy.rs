//! The policy group: PodDisruptionBudgets.

use super::format::{int, int_or_string};
use super::{Column, Ctx, Printer, age_column, name_column};
use crate::object;
use serde_json::{Value, json};

/// The printer of a policy kind.
pub(super) fn printer(kind: &str) -> Option<Printer> {
    (kind == "PodDisruptionBudget").then_some(Printer::new(columns, cells))
}

fn columns() -> Vec<Column> {
    vec![
        name_column(),
        Column::string("Min Available").text("The minimum number of pods that must be available."),
        Column::string("Max Unavailable")
            .text("The maximum number of pods that may be unavailable."),
        Column::integer("Allowed Disruptions")
            .text("Calculated number of pods that may be disrupted at this time."),
        age_column(),
    ]
}

fn cells(pdb: &Value, ctx: &Ctx) -> Vec<Value> {
    let bound =
        |field: &str| int_or_string(object::path(pdb, field)).unwrap_or_else(|| "N/A".into());
    vec![
        json!(object::name(pdb).unwrap_or_default()),
        json!(bound("spec.minAvailable")),
        json!(bound("spec.maxUnavailable")),
        json!(int(pdb, "status.disruptionsAllowed")),
        json!(ctx.age(pdb)),
    ]
}

#[cfg(test)]
mod tests {
    use super::super::testing::*;
    use super::*;
    use skiff_core::registry::lookup;

    #[test]
    fn pod_disruption_budgets() {
        let meta = |n: &str| json!({"name": n, "creationTimestamp": ago(10)});
        check(
            lookup("policy", "v1", "poddisruptionbudgets").unwrap(),
            &[
                "Name",
                "Min Available",
                "Max Unavailable",
                "Allowed Disruptions",
                "Age",
            ],
            &[
                (
                    json!({"metadata": meta("a"), "spec": {"minAvailable": 2}, "status": {"disruptionsAllowed": 1}}),
                    json!(["a", "2", "N/A", 1, "10s"]),
                ),
                (
                    json!({"metadata": meta("b"), "spec": {"maxUnavailable": "25%"}}),
                    json!(["b", "N/A", "25%", 0, "10s"]),
                ),
            ],
        );
    }
}
