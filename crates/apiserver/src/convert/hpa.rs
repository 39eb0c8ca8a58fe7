//! HorizontalPodAutoscalers between `autoscaling/v1` and `autoscaling/v2`, following
//! upstream's `pkg/apis/autoscaling/v1/conversion.go` with v2 in the place of the internal
//! version (the two have the same fields; v2 is also the version upstream stores).
//!
//! v1 knows one metric: `spec.targetCPUUtilizationPercentage` is a v2 `Resource` metric for
//! `cpu` with a `Utilization` target, and `status.currentCPUUtilizationPercentage` its current
//! utilization. What else v2 holds travels in annotations of the v1 object, written when
//! reading through v1 and read back (then removed) when writing through v1:
//!
//! * [`METRICS`]: the other metrics, as v1's (hidden) `MetricSpec` JSON;
//! * [`CURRENT_METRICS`]: every current metric, as v1's `MetricStatus` JSON;
//! * [`CONDITIONS`]: the conditions;
//! * [`BEHAVIOR`]: `spec.behavior`, marshalled from Go's internal type, which has no JSON
//!   tags: its keys are the Go field names (`ScaleUp`, `StabilizationWindowSeconds`, ...).
//!   Reading it back accepts any case, as Go's decoder does.
//!
//! The annotations are written as Go's `encoding/json` writes them (struct field order, HTML
//! characters escaped), so clients see upstream's text. v2 objects never carry them: both
//! directions of the v2 conversion drop them. As upstream, a v1 round trip moves the CPU
//! utilization metric after the other metrics, and a v1 write without any metric gets the
//! implicit 80% CPU target.

use serde_json::{Map, Value, json};

/// The annotation holding the metrics v1 has no field for.
pub const METRICS: &str = "autoscaling.alpha.kubernetes.io/metrics";
/// The annotation holding the current metrics.
pub const CURRENT_METRICS: &str = "autoscaling.alpha.kubernetes.io/current-metrics";
/// The annotation holding the conditions.
pub const CONDITIONS: &str = "autoscaling.alpha.kubernetes.io/conditions";
/// The annotation holding `spec.behavior`.
pub const BEHAVIOR: &str = "autoscaling.alpha.kubernetes.io/behavior";
/// The CPU utilization target of a v1 autoscaler without one (upstream's
/// `DefaultCPUUtilization`).
pub const DEFAULT_CPU_UTILIZATION: i64 = 80;

const ROUND_TRIP: [&str; 4] = [METRICS, BEHAVIOR, CURRENT_METRICS, CONDITIONS];

const V1: &str = "autoscaling/v1";
const V2: &str = "autoscaling/v2";

/// A value written in Go's field order.
enum Go {
    /// A value as it is (strings, numbers, maps with sorted keys).
    Raw(Value),
    /// A struct: its fields in declaration order.
    Struct(Vec<(&'static str, Go)>),
    /// A slice.
    List(Vec<Go>),
}

impl Go {
    fn write(&self, out: &mut String) {
        match self {
            Go::Raw(v) => out.push_str(&v.to_string()),
            Go::Struct(fields) => {
                out.push('{');
                for (i, (k, v)) in fields.iter().enumerate() {
                    if i > 0 {
                        out.push(',');
                    }
                    out.push_str(&Value::from(*k).to_string());
                    out.push(':');
                    v.write(out);
                }
                out.push('}');
            }
            Go::List(items) => {
                out.push('[');
                for (i, v) in items.iter().enumerate() {
                    if i > 0 {
                        out.push(',');
                    }
                    v.write(out);
                }
                out.push(']');
            }
        }
    }

    /// The JSON text `encoding/json` gives, which escapes `<`, `>`, `&`, U+2028 and U+2029
    /// (they only occur inside strings, so replacing them everywhere is safe).
    fn marshal(&self) -> String {
        let mut out = String::new();
        self.write(&mut out);
        out.replace('<', "\\u003c")
            .replace('>', "\\u003e")
            .replace('&', "\\u0026")
            .replace('\u{2028}', "\\u2028")
            .replace('\u{2029}', "\\u2029")
    }
}

/// Builds a Go struct: required fields always, optional ones when set.
#[derive(Default)]
struct Fields(Vec<(&'static str, Go)>);

impl Fields {
    fn put(mut self, name: &'static str, v: Go) -> Self {
        self.0.push((name, v));
        self
    }

    fn opt(self, name: &'static str, v: Option<Go>) -> Self {
        match v {
            Some(v) => self.put(name, v),
            None => self,
        }
    }

    fn done(self) -> Go {
        Go::Struct(self.0)
    }
}

/// A field that is set (present and not `null`).
fn set<'a>(v: &'a Value, name: &str) -> Option<&'a Value> {
    v.get(name).filter(|f| !f.is_null())
}

/// A field as Go's decoder finds it: the exact name first, else any case.
fn field<'a>(v: &'a Value, name: &str) -> Option<&'a Value> {
    let m = v.as_object()?;
    m.get(name)
        .or_else(|| {
            m.iter()
                .find(|(k, _)| k.eq_ignore_ascii_case(name))
                .map(|(_, v)| v)
        })
        .filter(|f| !f.is_null())
}

/// A Go string field (`""` when unset).
fn string(v: &Value, name: &str) -> Go {
    Go::Raw(set(v, name).cloned().unwrap_or_else(|| json!("")))
}

/// A Go `resource.Quantity` field (not a pointer): `"0"` when unset.
fn quantity(v: Option<&Value>, name: &str) -> Go {
    Go::Raw(
        v.and_then(|v| set(v, name))
            .cloned()
            .unwrap_or_else(|| json!("0")),
    )
}

fn raw(v: Option<&Value>, name: &str) -> Option<Go> {
    v.and_then(|v| set(v, name)).map(|f| Go::Raw(f.clone()))
}

/// A `metav1.LabelSelector`.
fn label_selector(s: &Value) -> Go {
    let expressions = set(s, "matchExpressions")
        .and_then(Value::as_array)
        .filter(|a| !a.is_empty())
        .map(|a| {
            Go::List(
                a.iter()
                    .map(|r| {
                        Fields::default()
                            .put("key", string(r, "key"))
                            .put("operator", string(r, "operator"))
                            .opt(
                                "values",
                                set(r, "values")
                                    .filter(|v| v.as_array().is_some_and(|a| !a.is_empty()))
                                    .map(|v| Go::Raw(v.clone())),
                            )
                            .done()
                    })
                    .collect(),
            )
        });
    Fields::default()
        .opt(
            "matchLabels",
            set(s, "matchLabels")
                .filter(|m| m.as_object().is_some_and(|m| !m.is_empty()))
                .map(|m| Go::Raw(m.clone())),
        )
        .opt("matchExpressions", expressions)
        .done()
}

fn selector(v: Option<&Value>) -> Option<Go> {
    v.and_then(|v| set(v, "selector")).map(label_selector)
}

/// A `CrossVersionObjectReference`.
fn reference(r: Option<&Value>) -> Go {
    let empty = json!({});
    let r = r.unwrap_or(&empty);
    Fields::default()
        .put("kind", string(r, "kind"))
        .put("name", string(r, "name"))
        .opt("apiVersion", raw(Some(r), "apiVersion"))
        .done()
}

/// A v2 `MetricSpec` as v1's `MetricSpec`.
fn metric_spec_to_v1(m: &Value) -> Go {
    let mut out = Fields::default().put("type", string(m, "type"));
    if let Some(o) = set(m, "object") {
        let (metric, target) = (set(o, "metric"), set(o, "target"));
        out = out.put(
            "object",
            Fields::default()
                .put("target", reference(set(o, "describedObject")))
                .put("metricName", string(metric.unwrap_or(&Value::Null), "name"))
                .put("targetValue", quantity(target, "value"))
                .opt("selector", selector(metric))
                .opt("averageValue", raw(target, "averageValue"))
                .done(),
        );
    }
    if let Some(p) = set(m, "pods") {
        let (metric, target) = (set(p, "metric"), set(p, "target"));
        out = out.put(
            "pods",
            Fields::default()
                .put("metricName", string(metric.unwrap_or(&Value::Null), "name"))
                .put("targetAverageValue", quantity(target, "averageValue"))
                .opt("selector", selector(metric))
                .done(),
        );
    }
    for (key, container) in [("resource", false), ("containerResource", true)] {
        if let Some(r) = set(m, key) {
            let target = set(r, "target");
            let mut f = Fields::default()
                .put("name", string(r, "name"))
                .opt(
                    "targetAverageUtilization",
                    raw(target, "averageUtilization"),
                )
                .opt("targetAverageValue", raw(target, "averageValue"));
            if container {
                f = f.put("container", string(r, "container"));
            }
            out = out.put(key, f.done());
        }
    }
    if let Some(e) = set(m, "external") {
        let (metric, target) = (set(e, "metric"), set(e, "target"));
        out = out.put(
            "external",
            Fields::default()
                .put("metricName", string(metric.unwrap_or(&Value::Null), "name"))
                .opt("metricSelector", selector(metric))
                .opt("targetValue", raw(target, "value"))
                .opt("targetAverageValue", raw(target, "averageValue"))
                .done(),
        );
    }
    out.done()
}

/// A v2 `MetricStatus` as v1's `MetricStatus`.
fn metric_status_to_v1(m: &Value) -> Go {
    let mut out = Fields::default().put("type", string(m, "type"));
    if let Some(o) = set(m, "object") {
        let (metric, current) = (set(o, "metric"), set(o, "current"));
        out = out.put(
            "object",
            Fields::default()
                .put("target", reference(set(o, "describedObject")))
                .put("metricName", string(metric.unwrap_or(&Value::Null), "name"))
                .put("currentValue", quantity(current, "value"))
                .opt("selector", selector(metric))
                .opt("averageValue", raw(current, "averageValue"))
                .done(),
        );
    }
    if let Some(p) = set(m, "pods") {
        let (metric, current) = (set(p, "metric"), set(p, "current"));
        out = out.put(
            "pods",
            Fields::default()
                .put("metricName", string(metric.unwrap_or(&Value::Null), "name"))
                .put("currentAverageValue", quantity(current, "averageValue"))
                .opt("selector", selector(metric))
                .done(),
        );
    }
    for (key, container) in [("resource", false), ("containerResource", true)] {
        if let Some(r) = set(m, key) {
            let current = set(r, "current");
            let mut f = Fields::default()
                .put("name", string(r, "name"))
                .opt(
                    "currentAverageUtilization",
                    raw(current, "averageUtilization"),
                )
                .put("currentAverageValue", quantity(current, "averageValue"));
            if container {
                f = f.put("container", string(r, "container"));
            }
            out = out.put(key, f.done());
        }
    }
    if let Some(e) = set(m, "external") {
        let (metric, current) = (set(e, "metric"), set(e, "current"));
        out = out.put(
            "external",
            Fields::default()
                .put("metricName", string(metric.unwrap_or(&Value::Null), "name"))
                .opt("metricSelector", selector(metric))
                .put("currentValue", quantity(current, "value"))
                .opt("currentAverageValue", raw(current, "averageValue"))
                .done(),
        );
    }
    out.done()
}

/// A condition as v1's `HorizontalPodAutoscalerCondition` (a zero `metav1.Time` is `null`).
fn condition_to_v1(c: &Value) -> Go {
    Fields::default()
        .put("type", string(c, "type"))
        .put("status", string(c, "status"))
        .put(
            "lastTransitionTime",
            Go::Raw(set(c, "lastTransitionTime").cloned().unwrap_or(Value::Null)),
        )
        .opt("reason", raw(Some(c), "reason").filter(not_empty))
        .opt("message", raw(Some(c), "message").filter(not_empty))
        .done()
}

fn not_empty(g: &Go) -> bool {
    !matches!(g, Go::Raw(Value::String(s)) if s.is_empty())
}

/// `spec.behavior` as Go marshals the internal `HorizontalPodAutoscalerBehavior`.
fn behavior_to_internal(b: &Value) -> Go {
    let rules = |r: Option<&Value>| match r {
        None => Go::Raw(Value::Null),
        Some(r) => {
            let policies = set(r, "policies").and_then(Value::as_array).map(|a| {
                Go::List(
                    a.iter()
                        .map(|p| {
                            Fields::default()
                                .put("Type", string(p, "type"))
                                .put(
                                    "Value",
                                    Go::Raw(set(p, "value").cloned().unwrap_or(json!(0))),
                                )
                                .put(
                                    "PeriodSeconds",
                                    Go::Raw(set(p, "periodSeconds").cloned().unwrap_or(json!(0))),
                                )
                                .done()
                        })
                        .collect(),
                )
            });
            let or_null = |v: Option<Go>| v.unwrap_or(Go::Raw(Value::Null));
            Fields::default()
                .put(
                    "StabilizationWindowSeconds",
                    or_null(raw(Some(r), "stabilizationWindowSeconds")),
                )
                .put("SelectPolicy", or_null(raw(Some(r), "selectPolicy")))
                .put("Policies", or_null(policies))
                .put("Tolerance", or_null(raw(Some(r), "tolerance")))
                .done()
        }
    };
    Fields::default()
        .put("ScaleUp", rules(set(b, "scaleUp")))
        .put("ScaleDown", rules(set(b, "scaleDown")))
        .done()
}

/// Reads the behavior annotation back into v2's `spec.behavior`; `None` when it does not
/// decode or holds no rules (upstream then leaves `behavior` unset).
fn behavior_from_internal(text: &str) -> Option<Value> {
    let b: Value = serde_json::from_str(text).ok()?;
    if !b.is_object() {
        return None;
    }
    let int = |v: &Value| v.as_i64().map(|_| v.clone());
    let rules = |r: &Value| -> Option<Value> {
        if !r.is_object() {
            return None;
        }
        let mut out = Map::new();
        if let Some(v) = field(r, "StabilizationWindowSeconds") {
            out.insert("stabilizationWindowSeconds".into(), int(v)?);
        }
        if let Some(v) = field(r, "SelectPolicy") {
            out.insert("selectPolicy".into(), Value::String(v.as_str()?.to_owned()));
        }
        if let Some(v) = field(r, "Policies") {
            let mut policies = Vec::new();
            for p in v.as_array()? {
                if !p.is_object() {
                    return None;
                }
                let text = |n: &str| {
                    field(p, n).map_or(Some(String::new()), |v| v.as_str().map(str::to_owned))
                };
                let number = |n: &str| field(p, n).map_or(Some(json!(0)), int);
                policies.push(json!({
                    "type": text("Type")?,
                    "value": number("Value")?,
                    "periodSeconds": number("PeriodSeconds")?,
                }));
            }
            out.insert("policies".into(), Value::Array(policies));
        }
        if let Some(v) = field(r, "Tolerance") {
            out.insert("tolerance".into(), v.clone());
        }
        Some(Value::Object(out))
    };
    let mut out = Map::new();
    for (go, name) in [("ScaleUp", "scaleUp"), ("ScaleDown", "scaleDown")] {
        if let Some(r) = field(&b, go) {
            out.insert(name.into(), rules(r)?);
        }
    }
    (!out.is_empty()).then_some(Value::Object(out))
}

/// A v1 `CrossVersionObjectReference` as v2's.
fn reference_to_v2(r: Option<&Value>) -> Value {
    let empty = json!({});
    let r = r.unwrap_or(&empty);
    let mut out = json!({
        "kind": set(r, "kind").cloned().unwrap_or(json!("")),
        "name": set(r, "name").cloned().unwrap_or(json!("")),
    });
    if let Some(v) = set(r, "apiVersion") {
        out["apiVersion"] = v.clone();
    }
    out
}

/// A v2 `MetricIdentifier` from a v1 metric name and selector.
fn identifier(src: &Value, selector_field: &str) -> Value {
    let mut id = json!({"name": field(src, "metricName").cloned().unwrap_or(json!(""))});
    if let Some(s) = field(src, selector_field) {
        id["selector"] = s.clone();
    }
    id
}

fn put_opt(map: &mut Value, name: &str, v: Option<&Value>) {
    if let Some(v) = v {
        map[name] = v.clone();
    }
}

fn zero_or(v: Option<&Value>) -> Value {
    v.cloned().unwrap_or_else(|| json!("0"))
}

/// A v1 `MetricSpec` as v2's.
fn metric_spec_to_v2(m: &Value) -> Value {
    let mut out = json!({"type": field(m, "type").cloned().unwrap_or(json!(""))});
    if let Some(o) = field(m, "object") {
        let average = field(o, "averageValue");
        let mut target = json!({
            "type": if average.is_some() { "AverageValue" } else { "Value" },
            "value": zero_or(field(o, "targetValue")),
        });
        put_opt(&mut target, "averageValue", average);
        out["object"] = json!({
            "describedObject": reference_to_v2(field(o, "target")),
            "metric": identifier(o, "selector"),
            "target": target,
        });
    }
    if let Some(p) = field(m, "pods") {
        out["pods"] = json!({
            "metric": identifier(p, "selector"),
            "target": {"type": "AverageValue", "averageValue": zero_or(field(p, "targetAverageValue"))},
        });
    }
    for (key, container) in [("resource", false), ("containerResource", true)] {
        if let Some(r) = field(m, key) {
            let utilization = field(r, "targetAverageUtilization");
            let mut target = json!({
                "type": if utilization.is_some() { "Utilization" } else { "AverageValue" },
            });
            put_opt(&mut target, "averageValue", field(r, "targetAverageValue"));
            put_opt(&mut target, "averageUtilization", utilization);
            let mut v = json!({
                "name": field(r, "name").cloned().unwrap_or(json!("")),
                "target": target,
            });
            if container {
                v["container"] = field(r, "container").cloned().unwrap_or(json!(""));
            }
            out[key] = v;
        }
    }
    if let Some(e) = field(m, "external") {
        let value = field(e, "targetValue");
        let mut target = json!({"type": if value.is_some() { "Value" } else { "AverageValue" }});
        put_opt(&mut target, "value", value);
        put_opt(&mut target, "averageValue", field(e, "targetAverageValue"));
        out["external"] = json!({"metric": identifier(e, "metricSelector"), "target": target});
    }
    out
}

/// A v1 `MetricStatus` as v2's.
fn metric_status_to_v2(m: &Value) -> Value {
    let mut out = json!({"type": field(m, "type").cloned().unwrap_or(json!(""))});
    if let Some(o) = field(m, "object") {
        let mut current = json!({"value": zero_or(field(o, "currentValue"))});
        put_opt(&mut current, "averageValue", field(o, "averageValue"));
        out["object"] = json!({
            "describedObject": reference_to_v2(field(o, "target")),
            "metric": identifier(o, "selector"),
            "current": current,
        });
    }
    if let Some(p) = field(m, "pods") {
        out["pods"] = json!({
            "metric": identifier(p, "selector"),
            "current": {"averageValue": zero_or(field(p, "currentAverageValue"))},
        });
    }
    for (key, container) in [("resource", false), ("containerResource", true)] {
        if let Some(r) = field(m, key) {
            let mut current = json!({"averageValue": zero_or(field(r, "currentAverageValue"))});
            put_opt(
                &mut current,
                "averageUtilization",
                field(r, "currentAverageUtilization"),
            );
            let mut v = json!({
                "name": field(r, "name").cloned().unwrap_or(json!("")),
                "current": current,
            });
            if container {
                v["container"] = field(r, "container").cloned().unwrap_or(json!(""));
            }
            out[key] = v;
        }
    }
    if let Some(e) = field(m, "external") {
        let mut current = json!({"value": zero_or(field(e, "currentValue"))});
        put_opt(
            &mut current,
            "averageValue",
            field(e, "currentAverageValue"),
        );
        out["external"] = json!({"metric": identifier(e, "metricSelector"), "current": current});
    }
    out
}

/// A v1 condition as v2's.
fn condition_to_v2(c: &Value) -> Value {
    let mut out = Map::new();
    for name in ["type", "status", "lastTransitionTime", "reason", "message"] {
        if let Some(v) = field(c, name) {
            out.insert(name.into(), v.clone());
        }
    }
    Value::Object(out)
}

fn annotations(obj: &Value) -> Option<&Map<String, Value>> {
    obj.get("metadata")?.get("annotations")?.as_object()
}

fn annotations_mut(obj: &mut Value) -> &mut Map<String, Value> {
    let meta = crate::object::meta_mut(obj);
    let a = meta
        .entry("annotations")
        .or_insert_with(|| Value::Object(Map::new()));
    if !a.is_object() {
        *a = Value::Object(Map::new());
    }
    a.as_object_mut().expect("an object")
}

/// Removes the round-trip annotations (upstream's
/// `DropRoundTripHorizontalPodAutoscalerAnnotations`); an emptied map goes too, as Go omits
/// empty annotations.
pub fn drop_round_trip_annotations(obj: &mut Value) {
    let Some(meta) = obj.get_mut("metadata").and_then(Value::as_object_mut) else {
        return;
    };
    let Some(a) = meta.get_mut("annotations").and_then(Value::as_object_mut) else {
        return;
    };
    if !ROUND_TRIP.iter().any(|k| a.contains_key(*k)) {
        return;
    }
    for k in ROUND_TRIP {
        a.remove(k);
    }
    if a.is_empty() {
        meta.remove("annotations");
    }
}

/// Whether a v2 metric is a CPU resource metric.
fn is_cpu(metric: &Value) -> bool {
    metric.get("type").and_then(Value::as_str) == Some("Resource")
        && set(metric, "resource")
            .and_then(|r| r.get("name"))
            .and_then(Value::as_str)
            == Some("cpu")
}

fn list<'a>(v: &'a Value, path: &[&str]) -> &'a [Value] {
    let mut cur = v;
    for p in path {
        match cur.get(*p) {
            Some(next) => cur = next,
            None => return &[],
        }
    }
    cur.as_array().map(Vec::as_slice).unwrap_or_default()
}

/// An autoscaling/v2 HorizontalPodAutoscaler as autoscaling/v1 serves it.
pub fn to_v1(obj: Value) -> Value {
    let Value::Object(src) = obj else {
        return obj;
    };
    let src = Value::Object(src);
    let mut out = json!({"apiVersion": V1, "kind": "HorizontalPodAutoscaler"});
    if let Some(meta) = src.get("metadata") {
        out["metadata"] = meta.clone();
    }
    drop_round_trip_annotations(&mut out);
    let mut notes: Vec<(&str, String)> = Vec::new();
    if let Some(spec) = set(&src, "spec") {
        let mut v1 = Map::new();
        for name in ["scaleTargetRef", "minReplicas", "maxReplicas"] {
            if let Some(v) = set(spec, name) {
                v1.insert(name.into(), v.clone());
            }
        }
        let metrics = list(spec, &["metrics"]);
        if let Some(cpu) = metrics.iter().find(|m| is_cpu(m))
            && let Some(u) = object_path(cpu, &["resource", "target", "averageUtilization"])
        {
            v1.insert("targetCPUUtilizationPercentage".into(), u.clone());
        }
        let others: Vec<Go> = metrics
            .iter()
            .filter(|m| {
                !(is_cpu(m)
                    && object_path(m, &["resource", "target", "averageUtilization"]).is_some())
            })
            .map(metric_spec_to_v1)
            .collect();
        if !others.is_empty() {
            notes.push((METRICS, Go::List(others).marshal()));
        }
        if let Some(b) = set(spec, "behavior") {
            notes.push((BEHAVIOR, behavior_to_internal(b).marshal()));
        }
        out["spec"] = Value::Object(v1);
    }
    if let Some(status) = set(&src, "status") {
        let mut v1 = Map::new();
        for name in ["observedGeneration", "lastScaleTime"] {
            if let Some(v) = set(status, name) {
                v1.insert(name.into(), v.clone());
            }
        }
        // Go's v1 status always has both counters.
        for name in ["currentReplicas", "desiredReplicas"] {
            v1.insert(name.into(), set(status, name).cloned().unwrap_or(json!(0)));
        }
        let current = list(status, &["currentMetrics"]);
        for m in current.iter().filter(|m| is_cpu(m)) {
            if let Some(u) = object_path(m, &["resource", "current", "averageUtilization"]) {
                v1.insert("currentCPUUtilizationPercentage".into(), u.clone());
            }
        }
        if !current.is_empty() {
            let all = Go::List(current.iter().map(metric_status_to_v1).collect());
            notes.push((CURRENT_METRICS, all.marshal()));
        }
        let conditions = list(status, &["conditions"]);
        if !conditions.is_empty() {
            let all = Go::List(conditions.iter().map(condition_to_v1).collect());
            notes.push((CONDITIONS, all.marshal()));
        }
        out["status"] = Value::Object(v1);
    }
    if !notes.is_empty() {
        let a = annotations_mut(&mut out);
        for (k, v) in notes {
            a.insert(k.into(), Value::String(v));
        }
    }
    out
}

fn object_path<'a>(v: &'a Value, path: &[&str]) -> Option<&'a Value> {
    let mut cur = v;
    for p in path {
        cur = set(cur, p)?;
    }
    Some(cur)
}

/// An annotation of `obj` decoded as a JSON list (`None` when absent or not a list).
fn annotation_list(obj: &Value, name: &str) -> Option<Vec<Value>> {
    let text = annotations(obj)?.get(name)?.as_str()?;
    match serde_json::from_str::<Value>(text).ok()? {
        Value::Array(items) if items.iter().all(Value::is_object) => Some(items),
        Value::Null => Some(Vec::new()),
        _ => None,
    }
}

/// An autoscaling/v1 HorizontalPodAutoscaler as autoscaling/v2 serves (and stores) it.
pub fn to_v2(obj: Value) -> Value {
    let Value::Object(src) = obj else {
        return obj;
    };
    let src = Value::Object(src);
    let mut out = json!({"apiVersion": V2, "kind": "HorizontalPodAutoscaler"});
    if let Some(meta) = src.get("metadata") {
        out["metadata"] = meta.clone();
    }
    let empty = json!({});
    let spec_in = set(&src, "spec").unwrap_or(&empty);
    let mut spec = Map::new();
    for name in ["scaleTargetRef", "minReplicas", "maxReplicas"] {
        if let Some(v) = set(spec_in, name) {
            spec.insert(name.into(), v.clone());
        }
    }
    let cpu = set(spec_in, "targetCPUUtilizationPercentage").map(|u| {
        json!({"type": "Resource", "resource": {"name": "cpu",
            "target": {"type": "Utilization", "averageUtilization": u}}})
    });
    let mut metrics: Vec<Value> = Vec::new();
    match annotation_list(&src, METRICS) {
        // The other metrics first, then the CPU one.
        Some(others) => {
            metrics.extend(others.iter().map(metric_spec_to_v2));
            metrics.extend(cpu);
        }
        None => metrics.extend(cpu),
    }
    if let Some(b) = annotations(&src)
        .and_then(|a| a.get(BEHAVIOR))
        .and_then(Value::as_str)
        .and_then(behavior_from_internal)
    {
        spec.insert("behavior".into(), b);
    }
    // autoscaling/v1's implicit default, made explicit.
    if metrics.is_empty() {
        metrics.push(json!({"type": "Resource", "resource": {"name": "cpu",
            "target": {"type": "Utilization", "averageUtilization": DEFAULT_CPU_UTILIZATION}}}));
    }
    spec.insert("metrics".into(), Value::Array(metrics));
    out["spec"] = Value::Object(spec);

    let status_in = set(&src, "status");
    let mut status = Map::new();
    if let Some(s) = status_in {
        for name in ["observedGeneration", "lastScaleTime", "desiredReplicas"] {
            if let Some(v) = set(s, name) {
                status.insert(name.into(), v.clone());
            }
        }
        // v2 omits a zero `currentReplicas`.
        if let Some(v) = set(s, "currentReplicas").filter(|v| v.as_i64() != Some(0)) {
            status.insert("currentReplicas".into(), v.clone());
        }
        if let Some(u) = set(s, "currentCPUUtilizationPercentage") {
            status.insert(
                "currentMetrics".into(),
                json!([{"type": "Resource", "resource": {"name": "cpu",
                    "current": {"averageUtilization": u}}}]),
            );
        }
    }
    if let Some(current) = annotation_list(&src, CURRENT_METRICS) {
        status.insert(
            "currentMetrics".into(),
            Value::Array(current.iter().map(metric_status_to_v2).collect()),
        );
    }
    if let Some(conditions) = annotation_list(&src, CONDITIONS) {
        status.insert(
            "conditions".into(),
            Value::Array(conditions.iter().map(condition_to_v2).collect()),
        );
    }
    if status_in.is_some() || !status.is_empty() {
        out["status"] = Value::Object(status);
    }
    drop_round_trip_annotations(&mut out);
    out
}

#[cfg(test)]
mod tests;
