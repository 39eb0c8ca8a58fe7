//! Server-side printing: objects as `meta.k8s.io/v1` Tables with the columns and cells of
//! upstream's printers (kube-apiserver 1.33, `pkg/printers/internalversion`), one file per API
//! group. Kinds upstream has no printer for (LimitRange, Role, ClusterRole, the reviews) get
//! its default `Name`/`Created At` columns.
//!
//! The server prints the wide columns too (kubectl shows `priority: 1` columns only with
//! `-o wide`). Upstream prints objects after defaulting; where a field that defaulting always
//! fills is absent, the printers assume its default so the cells come out the same.

mod apps;
mod autoscaling;
mod batch;
mod coordination;
mod core;
mod discovery;
mod events;
mod format;
mod networking;
mod pod;
mod policy;
mod quantity;
mod rbac;
mod scheduling;
mod service;
mod storage;
mod volume;

use crate::object;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use parking_lot::Mutex;
use serde_json::{Value, json};
use skiff_core::registry::ResourceInfo;
use std::collections::HashMap;
use std::sync::{Arc, OnceLock};

/// What each row carries besides its cells (`includeObject`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum IncludeObject {
    /// Nothing.
    None,
    /// `PartialObjectMetadata` (the default).
    Metadata,
    /// The whole object.
    Object,
}

impl IncludeObject {
    /// Reads the query parameter.
    pub fn parse(v: Option<&str>) -> Self {
        match v {
            Some("None") => IncludeObject::None,
            Some("Object") => IncludeObject::Object,
            _ => IncludeObject::Metadata,
        }
    }
}

/// Upstream's human duration (`5s`, `3m20s`, `4h`, `2d3h`, `1y`).
pub fn human_duration(secs: i64) -> String {
    if secs < -1 {
        return "<invalid>".into();
    }
    if secs < 0 {
        return "0s".into();
    }
    if secs < 120 {
        return format!("{secs}s");
    }
    let minutes = secs / 60;
    if minutes < 10 {
        let s = secs % 60;
        return if s == 0 {
            format!("{minutes}m")
        } else {
            format!("{minutes}m{s}s")
        };
    }
    if minutes < 180 {
        return format!("{minutes}m");
    }
    let hours = secs / 3600;
    if hours < 8 {
        let m = minutes % 60;
        return if m == 0 {
            format!("{hours}h")
        } else {
            format!("{hours}h{m}m")
        };
    }
    if hours < 48 {
        return format!("{hours}h");
    }
    if hours < 24 * 8 {
        let h = hours % 24;
        let d = hours / 24;
        return if h == 0 {
            format!("{d}d")
        } else {
            format!("{d}d{h}h")
        };
    }
    if hours < 24 * 365 * 2 {
        return format!("{}d", hours / 24);
    }
    if hours < 24 * 365 * 8 {
        let days = hours / 24;
        let y = days / 365;
        let d = days % 365;
        return if d == 0 {
            format!("{y}y")
        } else {
            format!("{y}y{d}d")
        };
    }
    format!("{}y", hours / 24 / 365)
}

/// `Age` of an object from its `creationTimestamp` (`<unknown>` without one).
pub fn age(obj: &Value) -> String {
    Ctx::now().age(obj)
}

/// A Table of `objects`; `with_columns` false leaves out the column definitions (watch events).
pub fn table(
    info: &ResourceInfo,
    objects: &[Value],
    resource_version: &str,
    cont: Option<&str>,
    include: IncludeObject,
    with_columns: bool,
) -> Value {
    let mut t = rows_table(info, objects, include, &Ctx::now());
    let mut metadata = json!({"resourceVersion": resource_version});
    if let Some(c) = cont {
        metadata["continue"] = json!(c);
    }
    t["metadata"] = metadata;
    if with_columns {
        t["columnDefinitions"] = column_definitions(info).as_ref().clone();
    }
    t
}

/// The Table without its list metadata and column definitions, printed at `ctx`'s time.
fn rows_table(info: &ResourceInfo, objects: &[Value], include: IncludeObject, ctx: &Ctx) -> Value {
    let p = printer(info);
    let rows: Vec<Value> = objects
        .iter()
        .map(|o| {
            let mut row = json!({"cells": (p.cells)(o, ctx)});
            if let Some(conditions) = p.conditions.and_then(|f| f(o)) {
                row["conditions"] = conditions;
            }
            if let Some(obj) = row_object(o, include) {
                row["object"] = obj;
            }
            row
        })
        .collect();
    json!({"kind": "Table", "apiVersion": "meta.k8s.io/v1", "rows": rows})
}

fn row_object(obj: &Value, include: IncludeObject) -> Option<Value> {
    match include {
        IncludeObject::None => None,
        IncludeObject::Object => Some(obj.clone()),
        IncludeObject::Metadata => Some(json!({
            "kind": "PartialObjectMetadata",
            "apiVersion": "meta.k8s.io/v1",
            "metadata": object::meta(obj),
        })),
    }
}

/// The time cells are printed at: ages and durations count up to it.
pub(super) struct Ctx {
    now: jiff::Timestamp,
}

impl Ctx {
    /// Printing now.
    fn now() -> Self {
        Ctx {
            now: jiff::Timestamp::now(),
        }
    }

    /// How long ago a timestamp was (`translateTimestampSince`); `<unknown>` when it is
    /// missing or unreadable.
    pub(super) fn since(&self, ts: Option<&Value>) -> String {
        match parse_time(ts) {
            Some(t) => self.since_time(t),
            None => "<unknown>".into(),
        }
    }

    /// How long ago `t` was.
    pub(super) fn since_time(&self, t: jiff::Timestamp) -> String {
        human_duration(seconds_between(t, self.now))
    }

    /// The `Age` cell of an object.
    pub(super) fn age(&self, obj: &Value) -> String {
        self.since(object::meta(obj).get("creationTimestamp"))
    }
}

/// A timestamp field (RFC 3339, with or without fractions); `None` when absent or unreadable.
pub(super) fn parse_time(v: Option<&Value>) -> Option<jiff::Timestamp> {
    v.and_then(Value::as_str)
        .filter(|s| !s.is_empty())
        .and_then(|s| s.parse().ok())
}

/// Whole seconds from `from` to `to`, truncated as Go's `int(d.Seconds())` does.
pub(super) fn seconds_between(from: jiff::Timestamp, to: jiff::Timestamp) -> i64 {
    let nanos = to.as_nanosecond() - from.as_nanosecond();
    i64::try_from(nanos / 1_000_000_000).unwrap_or(i64::MAX)
}

/// One column definition.
pub(super) struct Column {
    name: &'static str,
    ty: &'static str,
    format: &'static str,
    priority: i32,
    description: String,
}

impl Column {
    fn of(name: &'static str, ty: &'static str) -> Self {
        Column {
            name,
            ty,
            format: "",
            priority: 0,
            description: String::new(),
        }
    }

    /// A column of strings.
    pub(super) fn string(name: &'static str) -> Self {
        Self::of(name, "string")
    }

    /// A column of integers.
    pub(super) fn integer(name: &'static str) -> Self {
        Self::of(name, "integer")
    }

    /// A column of booleans.
    pub(super) fn boolean(name: &'static str) -> Self {
        Self::of(name, "boolean")
    }

    /// Describes the column with upstream's literal text.
    pub(super) fn text(mut self, description: &str) -> Self {
        self.description = description.to_owned();
        self
    }

    /// Describes the column with the API documentation of `field` of type `T` (upstream uses
    /// the types' swagger docs, the same text as the OpenAPI descriptions).
    pub(super) fn doc<T: schemars::JsonSchema>(mut self, field: &str) -> Self {
        let mut generator = schemars::generate::SchemaSettings::openapi3().into_generator();
        let schema = T::json_schema(&mut generator);
        self.description = schema
            .as_value()
            .pointer(&format!("/properties/{field}/description"))
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_owned();
        self
    }

    /// Shown only with `-o wide` (priority 1).
    pub(super) fn wide(mut self) -> Self {
        self.priority = 1;
        self
    }

    /// Holds object names (format `name`).
    pub(super) fn name_format(mut self) -> Self {
        self.format = "name";
        self
    }

    fn to_json(&self) -> Value {
        json!({
            "name": self.name,
            "type": self.ty,
            "format": self.format,
            "description": self.description,
            "priority": self.priority,
        })
    }
}

/// The `Name` column every printer starts with.
pub(super) fn name_column() -> Column {
    Column::string("Name")
        .name_format()
        .doc::<ObjectMeta>("name")
}

/// The `Age` column.
pub(super) fn age_column() -> Column {
    Column::string("Age").doc::<ObjectMeta>("creationTimestamp")
}

/// The wide `Containers` column of workloads.
pub(super) fn containers_column() -> Column {
    Column::string("Containers")
        .wide()
        .text("Names of each container in the template.")
}

/// The wide `Images` column of workloads.
pub(super) fn images_column() -> Column {
    Column::string("Images")
        .wide()
        .text("Images referenced by each container in the template.")
}

/// How one kind is printed.
#[derive(Clone, Copy)]
pub(super) struct Printer {
    /// The column definitions.
    columns: fn() -> Vec<Column>,
    /// The cells of one object's row, wide ones included.
    cells: fn(&Value, &Ctx) -> Vec<Value>,
    /// The conditions of one object's row (`Completed` for finished pods).
    conditions: Option<fn(&Value) -> Option<Value>>,
}

impl Printer {
    /// A printer of these columns and cells.
    pub(super) const fn new(
        columns: fn() -> Vec<Column>,
        cells: fn(&Value, &Ctx) -> Vec<Value>,
    ) -> Self {
        Printer {
            columns,
            cells,
            conditions: None,
        }
    }

    /// With row conditions.
    pub(super) const fn with_conditions(mut self, conditions: fn(&Value) -> Option<Value>) -> Self {
        self.conditions = Some(conditions);
        self
    }
}

/// Upstream's default table convertor: `Name` and `Created At` (an RFC 3339 date).
const DEFAULT: Printer = Printer::new(default_columns, default_cells);

fn default_columns() -> Vec<Column> {
    vec![
        name_column(),
        Column::of("Created At", "date").doc::<ObjectMeta>("creationTimestamp"),
    ]
}

fn default_cells(obj: &Value, _: &Ctx) -> Vec<Value> {
    let created = parse_time(object::meta(obj).get("creationTimestamp"))
        .map(|t| t.strftime("%Y-%m-%dT%H:%M:%SZ").to_string())
        .unwrap_or_else(|| "0001-01-01T00:00:00Z".into());
    vec![json!(object::name(obj).unwrap_or_default()), json!(created)]
}

/// The printer of a resource's objects.
fn printer(info: &ResourceInfo) -> Printer {
    let kind = info.gvk.kind;
    match info.gvk.group {
        "" => core::printer(kind),
        "apps" => apps::printer(kind),
        "autoscaling" => autoscaling::printer(kind),
        "batch" => batch::printer(kind),
        "coordination.k8s.io" => coordination::printer(kind),
        "discovery.k8s.io" => discovery::printer(kind),
        "events.k8s.io" => events::printer(kind),
        "networking.k8s.io" => networking::printer(kind),
        "policy" => policy::printer(kind),
        "rbac.authorization.k8s.io" => rbac::printer(kind),
        "scheduling.k8s.io" => scheduling::printer(kind),
        "storage.k8s.io" => storage::printer(kind),
        _ => None,
    }
    .unwrap_or(DEFAULT)
}

/// Column definitions by group and kind.
type ColumnCache = Mutex<HashMap<(&'static str, &'static str), Arc<Value>>>;

/// The column definitions of a resource, built once per group and kind (descriptions come
/// from the API schemas).
fn column_definitions(info: &ResourceInfo) -> Arc<Value> {
    static CACHE: OnceLock<ColumnCache> = OnceLock::new();
    let key = (info.gvk.group, info.gvk.kind);
    let cache = CACHE.get_or_init(Default::default);
    if let Some(v) = cache.lock().get(&key) {
        return v.clone();
    }
    let columns = (printer(info).columns)();
    let v = Arc::new(Value::Array(columns.iter().map(Column::to_json).collect()));
    cache.lock().insert(key, v.clone());
    v
}

#[cfg(test)]
mod testing;

#[cfg(test)]
mod tests {
    use super::testing::*;
    use super::*;
    use skiff_core::registry::lookup;

    #[test]
    fn human_durations_match_upstream() {
        for (secs, want) in [
            (-5, "<invalid>"),
            (-1, "0s"),
            (0, "0s"),
            (119, "119s"),
            (125, "2m5s"),
            (600, "10m"),
            (3 * 3600 + 5 * 60, "3h5m"),
            (10 * 3600, "10h"),
            (50 * 3600, "2d2h"),
            (30 * 86400, "30d"),
            (3 * 365 * 86400 + 86400, "3y1d"),
            (9 * 365 * 86400, "9y"),
        ] {
            assert_eq!(human_duration(secs), want, "{secs}");
        }
    }

    #[test]
    fn tables_carry_list_metadata_and_row_objects() {
        let pods = lookup("", "v1", "pods").unwrap();
        let pod = json!({
            "metadata": {"name": "p", "namespace": "d", "labels": {"a": "b"}},
            "spec": {"containers": [{"name": "c", "image": "i"}], "nodeName": "n1"},
            "status": {"phase": "Running", "podIP": "10.0.0.5",
                       "containerStatuses": [{"ready": true, "restartCount": 2, "state": {"running": {}}}]}
        });
        let t = table(pods, &[pod], "9", Some("c1"), IncludeObject::Metadata, true);
        assert_eq!(t["kind"], "Table");
        assert_eq!(
            t["metadata"],
            json!({"resourceVersion": "9", "continue": "c1"})
        );
        let name = &t["columnDefinitions"][0];
        assert_eq!(name["name"], "Name");
        assert_eq!(name["format"], "name");
        assert!(
            name["description"]
                .as_str()
                .unwrap()
                .starts_with("Name must be unique")
        );
        assert_eq!(t["rows"][0]["cells"][2], "Running");
        assert_eq!(t["rows"][0]["object"]["kind"], "PartialObjectMetadata");
        assert_eq!(t["rows"][0]["object"]["metadata"]["namespace"], "d");
        let no_cols = table(pods, &[], "9", None, IncludeObject::None, false);
        assert!(no_cols.get("columnDefinitions").is_none());
        assert_eq!(no_cols["rows"], json!([]));
        let whole = table(
            pods,
            &[json!({"metadata": {"name": "q"}})],
            "9",
            None,
            IncludeObject::Object,
            false,
        );
        assert_eq!(
            whole["rows"][0]["object"],
            json!({"metadata": {"name": "q"}})
        );
    }

    #[test]
    fn every_column_of_every_kind_is_described() {
        for info in skiff_core::registry::all() {
            let cols = column_definitions(info);
            for c in cols.as_array().unwrap() {
                assert!(
                    !c["description"].as_str().unwrap().is_empty(),
                    "{} {}",
                    info.gvk.kind,
                    c["name"]
                );
                assert!(matches!(c["priority"].as_i64(), Some(0 | 1)));
            }
        }
    }

    #[test]
    fn kinds_without_a_printer_get_name_and_created_at() {
        let created = "2024-03-04T05:06:07Z";
        for (group, version, plural) in [
            ("", "v1", "limitranges"),
            ("rbac.authorization.k8s.io", "v1", "roles"),
            ("rbac.authorization.k8s.io", "v1", "clusterroles"),
        ] {
            check(
                lookup(group, version, plural).unwrap(),
                &["Name", "Created At"],
                &[(
                    json!({"metadata": {"name": "x", "creationTimestamp": created}}),
                    json!(["x", created]),
                )],
            );
        }
        let cols = column_definitions(lookup("", "v1", "limitranges").unwrap());
        assert_eq!(cols[1]["type"], "date");
        assert_eq!(default_cells(&json!({}), &ctx())[1], "0001-01-01T00:00:00Z");
    }
}
