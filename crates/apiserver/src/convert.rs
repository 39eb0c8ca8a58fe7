//! Conversion between the versions a kind is served at and the one it is stored at.
//!
//! Two kinds are stored in another form than some of their versions serve, as upstream
//! stores one object per kind whatever version wrote it:
//!
//! * `events.k8s.io/v1` Events are core `v1` Events: they are stored in the core form and
//!   converted field by field on the way in and out, so `kubectl get events` sees what an
//!   `events.k8s.io` recorder wrote and the other way round.
//! * `autoscaling/v1` HorizontalPodAutoscalers are stored as `autoscaling/v2` ones ([`hpa`]),
//!   so both versions serve the same objects, with one `resourceVersion` and `uid`.
//!
//! Every other kind is stored as served. The REST handlers decode a request in its version,
//! turn it into the stored form for the server's own bookkeeping (defaults of the stored
//! version, status resets, generation, no-op detection, the write) and answer in the
//! request's version; field management compares objects in the version each manager wrote
//! with ([`to_version`]).

pub mod hpa;

use serde_json::{Map, Value};
use skiff_core::registry::{self, ResourceInfo};

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

fn is_hpa(info: &ResourceInfo) -> bool {
    info.gvk.group == "autoscaling" && info.gvk.kind == "HorizontalPodAutoscaler"
}

/// Whether objects of `info` are stored in another form than served.
pub fn converts(info: &ResourceInfo) -> bool {
    is_events_v1(info) || (is_hpa(info) && info.gvk.version == "v1")
}

/// The resource whose form objects of `info` are stored in: core `v1` Events for
/// `events.k8s.io`, `autoscaling/v2` for HorizontalPodAutoscalers, else `info` itself.
pub fn storage_info(info: &ResourceInfo) -> &ResourceInfo {
    let stored = if is_events_v1(info) {
        registry::lookup("", "v1", "events")
    } else if is_hpa(info) {
        registry::lookup("autoscaling", "v2", info.plural)
    } else {
        None
    };
    stored.unwrap_or(info)
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
    } else if is_hpa(info) && info.gvk.version == "v1" {
        hpa::to_v2(obj)
    } else if is_hpa(info) {
        // v2 objects never carry the annotations of the v1 round trip.
        let mut obj = obj;
        hpa::drop_round_trip_annotations(&mut obj);
        obj
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
    } else if is_hpa(info) && info.gvk.version == "v1" {
        hpa::to_v1(obj)
    } else {
        obj
    }
}

/// A request's object as the server reads it: through the stored form and back, as upstream
/// decodes into its internal version and encodes the answer again (for autoscaling/v1 the
/// round-trip annotations become fields and are written afresh). Other kinds are unchanged.
pub fn normalize(info: &ResourceInfo, obj: Value) -> Value {
    if converts(info) || is_hpa(info) {
        from_storage(info, to_storage(info, obj))
    } else {
        obj
    }
}

/// `obj`, an object of `plural` at API version `from`, as API version `to` serves it: `None`
/// when either version does not serve `plural` or they are stored apart (field management
/// then compares in the request's version).
pub fn to_version(plural: &str, obj: &Value, from: &str, to: &str) -> Option<Value> {
    let info = |api_version: &str| {
        let (group, version) = api_version.split_once('/').unwrap_or(("", api_version));
        registry::lookup(group, version, plural)
    };
    let (source, target) = (info(from)?, info(to)?);
    if source.gvk.kind != target.gvk.kind {
        return None;
    }
    if std::ptr::eq(source, target) {
        return Some(obj.clone());
    }
    if !std::ptr::eq(storage_info(source), storage_info(target)) {
        return None;
    }
    Some(from_storage(target, to_storage(source, obj.clone())))
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
        assert!(std::ptr::eq(storage_info(ev), core));
        assert_eq!(
            to_version("events", &new, "events.k8s.io/v1", "v1"),
            Some(stored)
        );
    }

    #[test]
    fn autoscalers_are_stored_as_v2() {
        let v1 = lookup("autoscaling", "v1", "horizontalpodautoscalers").unwrap();
        let v2 = lookup("autoscaling", "v2", "horizontalpodautoscalers").unwrap();
        assert!(converts(v1) && !converts(v2));
        assert!(std::ptr::eq(storage_info(v1), v2));
        assert!(std::ptr::eq(storage_info(v2), v2));
        let old = json!({
            "apiVersion": "autoscaling/v1", "kind": "HorizontalPodAutoscaler",
            "metadata": {"name": "web", "namespace": "d"},
            "spec": {"scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": "web"},
                     "minReplicas": 1, "maxReplicas": 5, "targetCPUUtilizationPercentage": 60},
        });
        let stored = to_storage(v1, old.clone());
        assert_eq!(stored["apiVersion"], "autoscaling/v2");
        assert_eq!(
            stored["spec"]["metrics"],
            json!([{"type": "Resource", "resource": {"name": "cpu",
                "target": {"type": "Utilization", "averageUtilization": 60}}}])
        );
        assert_eq!(from_storage(v1, stored.clone()), old);
        assert_eq!(
            to_version(
                "horizontalpodautoscalers",
                &old,
                "autoscaling/v1",
                "autoscaling/v2"
            ),
            Some(stored)
        );
        // A v2 body's round-trip annotations are dropped, as upstream's decoder does.
        let mut annotated = from_storage(v2, to_storage(v1, old.clone()));
        annotated["metadata"]["annotations"] = json!({hpa::METRICS: "[]", "team": "a"});
        let normal = normalize(v2, annotated);
        assert_eq!(normal["metadata"]["annotations"], json!({"team": "a"}));
        // Other kinds and versions are not converted.
        assert_eq!(
            to_version("deployments", &json!({}), "apps/v1", "apps/v1beta1"),
            None
        );
        assert_eq!(
            to_version("deployments", &json!({"a": 1}), "apps/v1", "apps/v1"),
            Some(json!({"a": 1}))
        );
    }
}
