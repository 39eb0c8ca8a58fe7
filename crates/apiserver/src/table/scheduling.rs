//! The scheduling.k8s.io group: PriorityClasses.

use super::format::{flag, int, opt_text};
use super::{Column, Ctx, Printer, age_column, name_column};
use crate::object;
use k8s_openapi::api::scheduling::v1::PriorityClass;
use serde_json::{Value, json};

/// The printer of a scheduling.k8s.io kind.
pub(super) fn printer(kind: &str) -> Option<Printer> {
    (kind == "PriorityClass").then_some(Printer::new(columns, cells))
}

fn columns() -> Vec<Column> {
    vec![
        name_column(),
        Column::integer("Value").doc::<PriorityClass>("value"),
        Column::boolean("Global-Default").doc::<PriorityClass>("globalDefault"),
        age_column(),
        Column::string("PreemptionPolicy").doc::<PriorityClass>("preemptionPolicy"),
    ]
}

fn cells(pc: &Value, ctx: &Ctx) -> Vec<Value> {
    vec![
        json!(object::name(pc).unwrap_or_default()),
        json!(int(pc, "value")),
        json!(flag(pc, "globalDefault").unwrap_or(false)),
        json!(ctx.age(pc)),
        // Defaulting sets PreemptLowerPriority.
        json!(opt_text(pc, "preemptionPolicy").unwrap_or("PreemptLowerPriority")),
    ]
}

#[cfg(test)]
mod tests {
    use super::super::testing::*;
    use super::*;
    use skiff_core::registry::lookup;

    #[test]
    fn priority_classes() {
        check(
            lookup("scheduling.k8s.io", "v1", "priorityclasses").unwrap(),
            &["Name", "Value", "Global-Default", "Age", "PreemptionPolicy"],
            &[
                (
                    json!({"metadata": {"name": "system-node-critical", "creationTimestamp": ago(86400 * 400)},
                        "value": 2000001000, "preemptionPolicy": "PreemptLowerPriority"}),
                    json!([
                        "system-node-critical",
                        2000001000,
                        false,
                        "400d",
                        "PreemptLowerPriority"
                    ]),
                ),
                (
                    json!({"metadata": {"name": "batch", "creationTimestamp": ago(86400 * 800)},
                        "value": -10, "globalDefault": true, "preemptionPolicy": "Never"}),
                    json!(["batch", -10, true, "2y70d", "Never"]),
                ),
                (
                    json!({"metadata": {"name": "plain", "creationTimestamp": ago(5)}, "value": 1}),
                    json!(["plain", 1, false, "5s", "PreemptLowerPriority"]),
                ),
            ],
        );
    }
}
