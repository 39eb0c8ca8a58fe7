//! Events, core/v1 and events.k8s.io/v1: upstream prints both as the same internal Event, so
//! both get the same columns; only their field names differ.

use super::format::{int, opt_text, text};
use super::{Column, Ctx, Printer, name_column};
use crate::object;
use k8s_openapi::api::core::v1::{Event, ObjectReference};
use serde_json::{Value, json};

/// The core/v1 Event printer.
pub(super) const CORE: Printer = Printer::new(columns, core_cells);

/// The printer of an events.k8s.io kind.
pub(super) fn printer(kind: &str) -> Option<Printer> {
    (kind == "Event").then_some(Printer::new(columns, events_v1_cells))
}

fn columns() -> Vec<Column> {
    vec![
        Column::string("Last Seen").doc::<Event>("lastTimestamp"),
        Column::string("Type").doc::<Event>("type"),
        Column::string("Reason").doc::<Event>("reason"),
        Column::string("Object").doc::<Event>("involvedObject"),
        Column::string("Subobject")
            .wide()
            .doc::<ObjectReference>("fieldPath"),
        Column::string("Source").wide().doc::<Event>("source"),
        Column::string("Message").doc::<Event>("message"),
        Column::string("First Seen")
            .wide()
            .doc::<Event>("firstTimestamp"),
        Column::string("Count").wide().doc::<Event>("count"),
        name_column().wide(),
    ]
}

/// Where an Event version keeps each field the printer reads.
struct Fields {
    regarding: &'static str,
    message: &'static str,
    first: &'static str,
    last: &'static str,
    count: &'static str,
    source: &'static str,
    reporting_controller: &'static str,
}

const CORE_FIELDS: Fields = Fields {
    regarding: "involvedObject",
    message: "message",
    first: "firstTimestamp",
    last: "lastTimestamp",
    count: "count",
    source: "source",
    reporting_controller: "reportingComponent",
};

const EVENTS_V1_FIELDS: Fields = Fields {
    regarding: "regarding",
    message: "note",
    first: "deprecatedFirstTimestamp",
    last: "deprecatedLastTimestamp",
    count: "deprecatedCount",
    source: "deprecatedSource",
    reporting_controller: "reportingController",
};

fn core_cells(ev: &Value, ctx: &Ctx) -> Vec<Value> {
    cells(ev, ctx, &CORE_FIELDS)
}

fn events_v1_cells(ev: &Value, ctx: &Ctx) -> Vec<Value> {
    cells(ev, ctx, &EVENTS_V1_FIELDS)
}

fn cells(ev: &Value, ctx: &Ctx, f: &Fields) -> Vec<Value> {
    let first_seen = if opt_text(ev, f.first).is_some() {
        ctx.since(ev.get(f.first))
    } else {
        ctx.since(ev.get("eventTime"))
    };
    let mut last_seen = if opt_text(ev, f.last).is_some() {
        ctx.since(ev.get(f.last))
    } else {
        first_seen.clone()
    };
    let mut count = int(ev, f.count);
    if let Some(series) = ev.get("series").filter(|s| s.is_object()) {
        last_seen = ctx.since(series.get("lastObservedTime"));
        count = int(series, "count");
    } else if count == 0 {
        // Singleton events of the new API have no count.
        count = 1;
    }
    let regarding = ev.get(f.regarding).unwrap_or(&Value::Null);
    let kind = text(regarding, "kind").to_lowercase();
    let target = match opt_text(regarding, "name") {
        Some(name) => format!("{kind}/{name}"),
        None => kind,
    };
    let component = opt_text(ev, &format!("{}.component", f.source))
        .or_else(|| opt_text(ev, f.reporting_controller))
        .unwrap_or("");
    let instance = opt_text(ev, &format!("{}.host", f.source))
        .or_else(|| opt_text(ev, "reportingInstance"))
        .unwrap_or("");
    let source = if instance.is_empty() {
        component.to_owned()
    } else {
        format!("{component}, {instance}")
    };
    vec![
        json!(last_seen),
        json!(text(ev, "type")),
        json!(text(ev, "reason")),
        json!(target),
        json!(text(regarding, "fieldPath")),
        json!(source),
        json!(text(ev, f.message).trim()),
        json!(first_seen),
        json!(count),
        json!(object::name(ev).unwrap_or_default()),
    ]
}

#[cfg(test)]
mod tests {
    use super::super::testing::*;
    use super::*;
    use skiff_core::registry::lookup;

    const COLUMNS: &[&str] = &[
        "Last Seen",
        "Type",
        "Reason",
        "Object",
        "+Subobject",
        "+Source",
        "Message",
        "+First Seen",
        "+Count",
        "+Name",
    ];

    #[test]
    fn core_events() {
        let cases = vec![
            (
                json!({"metadata": {"name": "p.17a"}, "type": "Normal", "reason": "Scheduled",
                    "involvedObject": {"kind": "Pod", "name": "p", "fieldPath": "spec.containers{c}"},
                    "source": {"component": "kubelet", "host": "n1"}, "message": "Pulled image \n",
                    "firstTimestamp": ago(600), "lastTimestamp": ago(60), "count": 3}),
                json!([
                    "60s",
                    "Normal",
                    "Scheduled",
                    "pod/p",
                    "spec.containers{c}",
                    "kubelet, n1",
                    "Pulled image",
                    "10m",
                    3,
                    "p.17a"
                ]),
            ),
            // Written by an events.k8s.io client: event time, series, reporting controller.
            (
                json!({"metadata": {"name": "e"}, "type": "Warning", "reason": "BackOff",
                    "involvedObject": {"kind": "Node"}, "eventTime": "2025-06-01T11:00:00.123456Z",
                    "series": {"count": 7, "lastObservedTime": ago(5)},
                    "reportingComponent": "kubelet", "reportingInstance": "n2", "message": "m"}),
                json!([
                    "5s",
                    "Warning",
                    "BackOff",
                    "node",
                    "",
                    "kubelet, n2",
                    "m",
                    "59m",
                    7,
                    "e"
                ]),
            ),
            (
                json!({"metadata": {"name": "f"}, "involvedObject": {"kind": "Deployment", "name": "d"},
                    "source": {"component": "deployment-controller"}, "eventTime": ago(30)}),
                json!([
                    "30s",
                    "",
                    "",
                    "deployment/d",
                    "",
                    "deployment-controller",
                    "",
                    "30s",
                    1,
                    "f"
                ]),
            ),
            (
                json!({"metadata": {"name": "g"}}),
                json!(["<unknown>", "", "", "", "", "", "", "<unknown>", 1, "g"]),
            ),
        ];
        check(lookup("", "v1", "events").unwrap(), COLUMNS, &cases);
    }

    #[test]
    fn events_k8s_io_events() {
        let cases = vec![
            (
                json!({"metadata": {"name": "e"}, "type": "Normal", "reason": "Started",
                    "regarding": {"kind": "Pod", "name": "p", "fieldPath": "spec.containers{c}"},
                    "note": "Started container c", "eventTime": ago(120),
                    "reportingController": "kubelet", "reportingInstance": "n1"}),
                json!([
                    "2m",
                    "Normal",
                    "Started",
                    "pod/p",
                    "spec.containers{c}",
                    "kubelet, n1",
                    "Started container c",
                    "2m",
                    1,
                    "e"
                ]),
            ),
            (
                json!({"metadata": {"name": "old"}, "type": "Normal", "reason": "Killing",
                    "regarding": {"kind": "Pod", "name": "p"}, "note": "Stopping",
                    "deprecatedFirstTimestamp": ago(7200), "deprecatedLastTimestamp": ago(3600),
                    "deprecatedCount": 2, "deprecatedSource": {"component": "kubelet"}}),
                json!([
                    "60m", "Normal", "Killing", "pod/p", "", "kubelet", "Stopping", "120m", 2,
                    "old"
                ]),
            ),
        ];
        check(
            lookup("events.k8s.io", "v1", "events").unwrap(),
            COLUMNS,
            &cases,
        );
    }
}
