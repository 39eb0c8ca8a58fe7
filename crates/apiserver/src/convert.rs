//! Conversion between the versions a kind is served at and the one it is stored at.
//!
//! `events.k8s.io/v1` Events are the same objects as core `v1` Events (upstream stores both under
//! one key space): they are stored in the core form and converted field by field on the way
//! in and out, so `kubectl get events` sees what an `events.k8s.io` recorder wrote and the
//! other way round. Every other kind is stored as served.

use serde_json::{Map, Value};
use skiff_core::registry::ResourceInfo;

/// Field renames between `events.k8s.io/v1` (left) and core `v1` (right).
const EVENT_FIELDS: &[(&str, &str)] = &[
    ("regarding", "involvedObject"),
    ("note", "message"),
    ("reportingController", "reportingComponent"),
    ("deprecatedSource", "source"),
    ("deprecatedFirstTimestamp", "firstTimestamp"),
    ("deprecatedLastTimestamp", "lastTimestamp"),
    ("deprecatedCount", "count"),
];

fn is_events_v1(info: &ResourceInfo) -> bool {
    info.gvk.group == "events.k8s.io" && info.gvk.kind == "Event"
}

/// Whether objects of `info` are stored in another form than served.
pub fn converts(info: &ResourceInfo) -> bool {
    is_events_v1(info)
}

fn rename(
    obj: Value,
    pairs: impl Iterator<Item = (&'static str, &'static str)>,
    api_version: &str,
) -> Value {
    let Value::Object(mut map) = obj else {
        return obj;
    };
    let mut out = Map::new();
    for (from, to) in pairs {
        if let Some(v) = map.remove(from) {
            out.insert(to.to_owned(), v);
        }
    }
    for (k, v) in map {
        out.entry(k).or_insert(v);
    }
    out.insert("apiVersion".into(), Value::String(api_version.to_owned()));
    out.insert("kind".into(), Value::String("Event".into()));
    Value::Object(out)
}

/// The stored form of an object of `info`.
pub fn to_storage(info: &ResourceInfo, obj: Value) -> Value {
    if is_events_v1(info) {
        rename(obj, EVENT_FIELDS.iter().copied(), "v1")
    } else {
        obj
    }
}

/// The served form of a stored object, for `info`.
pub fn from_storage(info: &ResourceInfo, obj: Value) -> Value {
    if is_events_v1(info) {
        rename(
            obj,
            EVENT_FIELDS.iter().map(|(a, b)| (*b, *a)),
            "events.k8s.io/v1",
        )
    } else {
        obj
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;
    use skiff_core::registry::lookup;

    #[test]
    fn events_round_trip_between_the_two_groups() {
        let ev = lookup("events.k8s.io", "v1", "events").unwrap();
        let new = json!({
            "apiVersion": "events.k8s.io/v1", "kind": "Event",
            "metadata": {"name": "e1", "namespace": "d"},
            "regarding": {"kind": "Pod", "name": "p"}, "note": "pulled", "reason": "Pulled",
            "type": "Normal", "reportingController": "skiff/kubelet", "reportingInstance": "n1",
            "action": "Pull", "eventTime": "2026-11-22T00:00:00.000000Z",
            "deprecatedCount": 3,
        });
        let stored = to_storage(ev, new.clone());
        assert_eq!(stored["apiVersion"], "v1");
        assert_eq!(stored["involvedObject"]["name"], "p");
        assert_eq!(stored["message"], "pulled");
        assert_eq!(stored["reportingComponent"], "skiff/kubelet");
        assert_eq!(stored["count"], 3);
        assert!(stored.get("regarding").is_none());
        assert_eq!(from_storage(ev, stored.clone()), new);
        // The core API serves the stored form as it is.
        let core = lookup("", "v1", "events").unwrap();
        assert_eq!(from_storage(core, stored.clone()), stored);
        assert!(!converts(core) && converts(ev));
    }
}
