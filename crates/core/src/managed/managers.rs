//! The managers of an object and what each owns (`metadata.managedFields`), and the two ways
//! they change: an update (create, update, non-apply patch) and an apply.

use super::fieldpath::{FieldSet, Path, PathElement};
use super::last_applied;
use super::typed::{Comparison, compare, field_set, merge, prune};
use crate::status::ApiError;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{StatusCause, StatusDetails};
use serde_json::{Map, Value, json};
use std::collections::BTreeMap;

/// How many `Update` entries an object keeps before the oldest are merged into
/// `ancient-changes` entries (upstream's `DefaultMaxUpdateManagers`).
pub const MAX_UPDATE_MANAGERS: usize = 10;

/// The manager name upstream merges the oldest update entries into.
const ANCIENT_CHANGES: &str = "ancient-changes";

/// The operation that recorded an entry.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Operation {
    /// Server-side apply.
    Apply,
    /// Create, update or non-apply patch.
    Update,
}

impl Operation {
    /// The wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            Operation::Apply => "Apply",
            Operation::Update => "Update",
        }
    }
}

/// What identifies a manager (upstream's manager identifier): its name, the operation, the
/// API version for updates (appliers keep one entry across versions) and the subresource.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ManagerKey {
    /// The field manager name.
    pub manager: String,
    /// Apply or Update.
    pub operation: Operation,
    /// The API version of an `Update` entry ("" for `Apply`).
    pub api_version: String,
    /// The subresource written through ("" for the main resource).
    pub subresource: String,
}

impl ManagerKey {
    /// The key of an applier.
    pub fn apply(manager: &str, subresource: &str) -> Self {
        ManagerKey {
            manager: manager.to_owned(),
            operation: Operation::Apply,
            api_version: String::new(),
            subresource: subresource.to_owned(),
        }
    }

    /// The key of an updater writing at `api_version`.
    pub fn update(manager: &str, api_version: &str, subresource: &str) -> Self {
        ManagerKey {
            manager: manager.to_owned(),
            operation: Operation::Update,
            api_version: api_version.to_owned(),
            subresource: subresource.to_owned(),
        }
    }

    /// How conflicts name the manager: `"kubectl"`, `"kubectl-client-side-apply" using
    /// apps/v1`, `"kubectl" with subresource "scale" using apps/v1`.
    pub fn describe(&self) -> String {
        let mut s = format!("{:?}", self.manager);
        if !self.subresource.is_empty() {
            s.push_str(&format!(" with subresource {:?}", self.subresource));
        }
        if self.operation == Operation::Update {
            s.push_str(&format!(" using {}", self.api_version));
        }
        s
    }
}

/// What one manager owns.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Owned {
    /// The owned fields.
    pub set: FieldSet,
    /// The API version the set is written against.
    pub api_version: String,
    /// When the manager last changed the object (RFC 3339).
    pub time: Option<String>,
}

/// A field another manager owns that an apply would change.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Conflict {
    /// The owner.
    pub manager: ManagerKey,
    /// The field.
    pub path: Path,
}

/// The 409 upstream answers for apply conflicts: `Apply failed with 1 conflict: conflict with
/// "kubectl-client-side-apply" using apps/v1: .spec.replicas`, one `FieldManagerConflict`
/// cause per field.
pub fn conflict_error(conflicts: &[Conflict]) -> ApiError {
    let causes = conflicts
        .iter()
        .map(|c| StatusCause {
            reason: Some("FieldManagerConflict".into()),
            message: Some(format!("conflict with {}", c.manager.describe())),
            field: Some(c.path.to_string()),
        })
        .collect();
    let message = match conflicts {
        [one] => format!(
            "Apply failed with 1 conflict: conflict with {}: {}",
            one.manager.describe(),
            one.path
        ),
        _ => {
            let mut by_manager: BTreeMap<&ManagerKey, Vec<&Path>> = BTreeMap::new();
            for c in conflicts {
                by_manager.entry(&c.manager).or_default().push(&c.path);
            }
            let mut lines = Vec::new();
            for (m, paths) in by_manager {
                lines.push(format!("conflicts with {}:", m.describe()));
                lines.extend(paths.iter().map(|p| format!("- {p}")));
            }
            format!(
                "Apply failed with {} conflicts: {}",
                conflicts.len(),
                lines.join("\n")
            )
        }
    };
    ApiError {
        code: 409,
        reason: "Conflict",
        message,
        details: Some(Box::new(StatusDetails {
            causes: Some(causes),
            ..StatusDetails::default()
        })),
    }
}

/// The fields nobody owns: type and identity metadata the server maintains (upstream's
/// `stripMetaManager`).
pub fn strip_set() -> FieldSet {
    let mut s = FieldSet::new();
    for top in ["apiVersion", "kind", "metadata"] {
        s.insert(&[PathElement::field(top)]);
    }
    for m in [
        "name",
        "namespace",
        "creationTimestamp",
        "selfLink",
        "uid",
        "clusterName",
        "generation",
        "managedFields",
        "resourceVersion",
    ] {
        s.insert(&[PathElement::field("metadata"), PathElement::field(m)]);
    }
    s
}

/// Whether a request's `metadata.managedFields` asks to reset them: an empty list, or a
/// list of one empty entry (upstream's `isResetManagedFields`).
pub fn is_reset(managed_fields: Option<&Value>) -> bool {
    match managed_fields.and_then(Value::as_array).map(Vec::as_slice) {
        Some([]) => true,
        Some([Value::Object(entry)]) => entry
            .values()
            .all(|v| v.is_null() || v.as_str() == Some("")),
        _ => false,
    }
}

/// `obj` without `metadata.managedFields`.
fn without_managed_fields(obj: &Value) -> Value {
    let mut out = obj.clone();
    if let Some(m) = out.get_mut("metadata").and_then(Value::as_object_mut) {
        m.remove("managedFields");
    }
    out
}

/// Converts an object of a kind between the API versions it is served at:
/// `convert(obj, from, to)` gives `obj`, written at `from`, as `to` serves it, or `None`
/// when `to` cannot be reached (field management then compares in the request's version).
pub type Convert<'a> = &'a dyn Fn(&Value, &str, &str) -> Option<Value>;

/// A [`Convert`] for kinds served at one version: nothing to convert.
pub fn same_version(_: &Value, _: &str, _: &str) -> Option<Value> {
    None
}

/// Who applies, and how: the parameters of [`Managed::apply_versioned`].
#[derive(Clone, Copy, Debug)]
pub struct ApplyRequest<'a> {
    /// The field manager.
    pub manager: &'a str,
    /// The subresource written through ("" for the main resource).
    pub subresource: &'a str,
    /// The API version of the request (and of the configuration).
    pub api_version: &'a str,
    /// Whether conflicts are overridden.
    pub force: bool,
    /// The time stamp for the applier's entry (RFC 3339).
    pub now: &'a str,
}

/// The comparisons of one write, per API version of the managers (computed once each).
struct PerVersion<'a> {
    kind: &'a str,
    api_version: &'a str,
    request: &'a Comparison,
    convert: Convert<'a>,
    ignored: &'a FieldSet,
    others: BTreeMap<String, Comparison>,
}

impl<'a> PerVersion<'a> {
    fn new(
        kind: &'a str,
        api_version: &'a str,
        request: &'a Comparison,
        convert: Convert<'a>,
        ignored: &'a FieldSet,
    ) -> Self {
        PerVersion {
            kind,
            api_version,
            request,
            convert,
            ignored,
            others: BTreeMap::new(),
        }
    }

    /// What changed from `old` to `new` (both at the request's version) as a manager at
    /// `version` sees it.
    fn comparison(&mut self, version: &str, old: &Value, new: &Value) -> &Comparison {
        if version == self.api_version {
            return self.request;
        }
        if !self.others.contains_key(version) {
            let (convert, from) = (self.convert, self.api_version);
            let cmp = match (convert(old, from, version), convert(new, from, version)) {
                (Some(o), Some(n)) => compare(self.kind, &o, &n).excluding(self.ignored),
                _ => self.request.clone(),
            };
            self.others.insert(version.to_owned(), cmp);
        }
        &self.others[version]
    }
}

/// The managers of an object and their fields.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Managed {
    /// Each manager's fields.
    pub fields: BTreeMap<ManagerKey, Owned>,
}

impl Managed {
    /// Decodes `metadata.managedFields` (absent or `null` is empty), with upstream's errors.
    pub fn decode(managed_fields: Option<&Value>) -> Result<Managed, String> {
        let entries = match managed_fields {
            None | Some(Value::Null) => return Ok(Managed::default()),
            Some(Value::Array(a)) => a,
            Some(_) => return Err("managedFields must be a list".into()),
        };
        let mut out = Managed::default();
        for (i, e) in entries.iter().enumerate() {
            let text = |k: &str| e.get(k).and_then(Value::as_str).unwrap_or_default();
            let operation = match text("operation") {
                "Apply" => Operation::Apply,
                "Update" => Operation::Update,
                _ => return Err("operation must be `Apply` or `Update`".into()),
            };
            let api_version = text("apiVersion");
            if api_version.is_empty() {
                return Err("apiVersion must not be empty".into());
            }
            match text("fieldsType") {
                "FieldsV1" => {}
                "" => return Err(format!("missing fieldsType in managed fields entry {i}")),
                other => {
                    return Err(format!(
                        "invalid fieldsType {other:?} in managed fields entry {i}"
                    ));
                }
            }
            let set = match e.get("fieldsV1") {
                None | Some(Value::Null) => FieldSet::new(),
                Some(f) => {
                    FieldSet::from_json(f).map_err(|err| format!("error decoding set: {err}"))?
                }
            };
            let key = ManagerKey {
                manager: text("manager").to_owned(),
                operation,
                api_version: match operation {
                    Operation::Apply => String::new(),
                    Operation::Update => api_version.to_owned(),
                },
                subresource: text("subresource").to_owned(),
            };
            let time = e
                .get("time")
                .and_then(Value::as_str)
                .filter(|t| !t.is_empty())
                .map(str::to_owned);
            out.fields.insert(
                key,
                Owned {
                    set,
                    api_version: api_version.to_owned(),
                    time,
                },
            );
        }
        Ok(out)
    }

    /// The `metadata.managedFields` list, sorted as upstream sorts it (operation, time,
    /// manager, API version, subresource); `None` when there are no managers.
    pub fn encode(&self) -> Option<Value> {
        if self.fields.is_empty() {
            return None;
        }
        let mut entries: Vec<(&ManagerKey, &Owned)> = self.fields.iter().collect();
        entries.sort_by(|(ka, a), (kb, b)| {
            (
                ka.operation,
                &a.time,
                &ka.manager,
                &a.api_version,
                &ka.subresource,
            )
                .cmp(&(
                    kb.operation,
                    &b.time,
                    &kb.manager,
                    &b.api_version,
                    &kb.subresource,
                ))
        });
        let list = entries
            .into_iter()
            .map(|(k, o)| {
                let mut e = Map::new();
                if !k.manager.is_empty() {
                    e.insert("manager".into(), json!(k.manager));
                }
                e.insert("operation".into(), json!(k.operation.as_str()));
                e.insert("apiVersion".into(), json!(o.api_version));
                if let Some(t) = &o.time {
                    e.insert("time".into(), json!(t));
                }
                e.insert("fieldsType".into(), json!("FieldsV1"));
                e.insert("fieldsV1".into(), o.set.to_json());
                if !k.subresource.is_empty() {
                    e.insert("subresource".into(), json!(k.subresource));
                }
                Value::Object(e)
            })
            .collect();
        Some(Value::Array(list))
    }

    /// Whether both have the same managers owning the same fields, whatever their times.
    pub fn same_ignoring_times(&self, other: &Managed) -> bool {
        self.fields.len() == other.fields.len()
            && self
                .fields
                .iter()
                .zip(&other.fields)
                .all(|((ka, a), (kb, b))| {
                    ka == kb && a.set == b.set && a.api_version == b.api_version
                })
    }

    /// The union of every manager's fields.
    fn all_owned(&self) -> FieldSet {
        self.fields
            .values()
            .fold(FieldSet::new(), |acc, o| acc.union(&o.set))
    }

    /// Records a create, update or non-apply patch of `live` into `new` by `key` at
    /// `api_version`, at time `now` (upstream's `Updater.Update` behind the managed-fields
    /// updater): every changed field moves to `key`, removed fields leave every owner, fields
    /// under `ignored` (reset by the endpoint, like `status` on the main resource) are never
    /// owned. A write that changes nothing leaves the managers as they are. Every manager is
    /// taken to write at `api_version`; see [`Managed::update_versioned`].
    #[allow(clippy::too_many_arguments)]
    pub fn update(
        &mut self,
        kind: &str,
        live: &Value,
        new: &Value,
        key: ManagerKey,
        api_version: &str,
        now: &str,
        ignored: &FieldSet,
    ) {
        self.update_versioned(
            kind,
            live,
            new,
            key,
            api_version,
            now,
            ignored,
            &same_version,
        );
    }

    /// [`Managed::update`] for kinds served at several versions: the fields of a manager that
    /// wrote at another version are compared in that version (`convert` turns `live` and
    /// `new` into it), as upstream's updater converts per manager. A version `convert` cannot
    /// reach is compared in `api_version`.
    #[allow(clippy::too_many_arguments)]
    pub fn update_versioned(
        &mut self,
        kind: &str,
        live: &Value,
        new: &Value,
        key: ManagerKey,
        api_version: &str,
        now: &str,
        ignored: &FieldSet,
        convert: Convert<'_>,
    ) {
        let live = without_managed_fields(live);
        let new = without_managed_fields(new);
        let cmp = compare(kind, &live, &new).excluding(ignored);
        let mut per_version = PerVersion::new(kind, api_version, &cmp, convert, ignored);
        for owned in self.fields.values_mut() {
            let c = per_version.comparison(&owned.api_version, &live, &new);
            let changed = c.modified.union(&c.added);
            owned.set = owned.set.difference(&changed).difference(&c.removed);
        }
        self.fields.retain(|_, o| !o.set.is_empty());
        let changed = cmp.modified.union(&cmp.added);
        let set = changed
            .difference(&cmp.removed)
            .recursive_difference(ignored)
            .difference(&strip_set());
        if !set.is_empty() {
            let entry = self.fields.entry(key).or_default();
            entry.set = set.union(&entry.set);
            entry.api_version = api_version.to_owned();
            entry.time = Some(now.to_owned());
        }
        self.cap_update_managers(MAX_UPDATE_MANAGERS);
    }

    /// Server-side apply of `config` by `manager` to `live` (without managed fields of its
    /// own): merges the configuration, prunes what the manager applied last time and no longer
    /// applies (unless someone else owns it), and takes ownership of the configuration's
    /// fields, stamped `now` (callers keep the old stamps when nothing else changed, as
    /// upstream avoids no-op writes). Fields another manager owns with a different value are
    /// conflicts unless `force`. For the manager `kubectl`, conflicts on fields the object
    /// still has as its client-side `last-applied-configuration` says are forgiven, and that
    /// annotation, when present, is rewritten to the configuration. Returns the merged object.
    /// Every manager is taken to write at `api_version`; see [`Managed::apply_versioned`].
    #[allow(clippy::too_many_arguments)]
    pub fn apply(
        &mut self,
        kind: &str,
        live: &Value,
        config: &Value,
        manager: &str,
        subresource: &str,
        api_version: &str,
        force: bool,
        now: &str,
        ignored: &FieldSet,
    ) -> Result<Value, Vec<Conflict>> {
        let request = ApplyRequest {
            manager,
            subresource,
            api_version,
            force,
            now,
        };
        self.apply_versioned(kind, live, config, &request, ignored, &same_version)
    }

    /// [`Managed::apply`] for kinds served at several versions: the fields of managers at
    /// another version are checked for conflicts and removals in that version, and what the
    /// applier owned at another version is pruned in that version (upstream's updater and
    /// `prune` with their version converter).
    pub fn apply_versioned(
        &mut self,
        kind: &str,
        live: &Value,
        config: &Value,
        request: &ApplyRequest<'_>,
        ignored: &FieldSet,
        convert: Convert<'_>,
    ) -> Result<Value, Vec<Conflict>> {
        let ApplyRequest {
            manager,
            api_version,
            ..
        } = *request;
        let live = without_managed_fields(live);
        let key = ManagerKey::apply(manager, request.subresource);
        let attempt = |managed: &Managed, force: bool| {
            let mut m = managed.clone();
            m.apply_once(kind, &live, config, &key, request, force, ignored, convert)
                .map(|obj| (obj, m))
        };
        let (mut merged, managed) = match attempt(self, request.force) {
            Ok(done) => done,
            Err(conflicts) if manager == "kubectl" => {
                let allowed = last_applied::allowed_conflicts(kind, api_version, &live)
                    .ok_or_else(|| conflicts.clone())?;
                let rest: Vec<Conflict> = conflicts
                    .iter()
                    .filter(|c| !allowed.has(&c.path.0))
                    .cloned()
                    .collect();
                if !rest.is_empty() {
                    return Err(rest);
                }
                attempt(self, true)?
            }
            Err(conflicts) => return Err(conflicts),
        };
        *self = managed;
        if manager == "kubectl" && last_applied::get(&live).is_some() {
            last_applied::set(&mut merged, last_applied::build(config));
        }
        Ok(merged)
    }

    #[allow(clippy::too_many_arguments)]
    fn apply_once(
        &mut self,
        kind: &str,
        live: &Value,
        config: &Value,
        key: &ManagerKey,
        request: &ApplyRequest<'_>,
        force: bool,
        ignored: &FieldSet,
        convert: Convert<'_>,
    ) -> Result<Value, Vec<Conflict>> {
        let api_version = request.api_version;
        let mut merged = merge(kind, live, config);
        let previous = self.fields.remove(key);
        let set = field_set(kind, config).recursive_difference(ignored);
        self.fields.insert(
            key.clone(),
            Owned {
                set,
                api_version: api_version.to_owned(),
                time: previous.as_ref().and_then(|p| p.time.clone()),
            },
        );
        if let Some(last) = previous.as_ref().filter(|p| !p.set.is_empty()) {
            merged = self.prune_last(kind, &merged, last, api_version, convert);
        }
        let cmp = compare(kind, live, &merged).excluding(ignored);
        let mut per_version = PerVersion::new(kind, api_version, &cmp, convert, ignored);
        let mut conflicts = Vec::new();
        for (k, owned) in &self.fields {
            if k == key {
                continue;
            }
            let c = per_version.comparison(&owned.api_version, live, &merged);
            for path in owned.set.intersection(&c.modified.union(&c.added)).paths() {
                conflicts.push(Conflict {
                    manager: k.clone(),
                    path,
                });
            }
        }
        if !force && !conflicts.is_empty() {
            return Err(conflicts);
        }
        for (k, owned) in self.fields.iter_mut() {
            if k == key {
                owned.set = owned.set.difference(&cmp.removed);
                continue;
            }
            let c = per_version.comparison(&owned.api_version, live, &merged);
            let changed = c.modified.union(&c.added);
            owned.set = owned.set.difference(&changed).difference(&c.removed);
        }
        if let Some(mine) = self.fields.get_mut(key) {
            mine.set = mine.set.difference(&strip_set());
            mine.time = Some(request.now.to_owned());
        }
        self.fields.retain(|_, o| !o.set.is_empty());
        Ok(merged)
    }

    /// The union of the fields of the managers writing at `api_version`.
    fn owned_at(&self, api_version: &str) -> FieldSet {
        self.fields
            .values()
            .filter(|o| o.api_version == api_version)
            .fold(FieldSet::new(), |acc, o| acc.union(&o.set))
    }

    /// Removes from `merged` (at `api_version`) what the applier owned last time (`last`) and
    /// no longer owns, unless another manager owns it. The removal happens in the version
    /// `last` was applied at; fields the managers of every other version own are then put
    /// back, each in its version (upstream's `prune` with `addBackOwnedItems`).
    fn prune_last(
        &self,
        kind: &str,
        merged: &Value,
        last: &Owned,
        api_version: &str,
        convert: Convert<'_>,
    ) -> Value {
        let versions: std::collections::BTreeSet<&str> = self
            .fields
            .values()
            .map(|o| o.api_version.as_str())
            .filter(|v| *v != last.api_version)
            .collect();
        let at = |obj: &Value, from: &str, to: &str| {
            if from == to {
                Some(obj.clone())
            } else {
                convert(obj, from, to)
            }
        };
        if versions.is_empty() {
            // Every manager (the applier included) at one version: the common case.
            return prune(kind, merged, &last.set, &self.all_owned());
        }
        let Some(merged_last) = at(merged, api_version, &last.api_version) else {
            return prune(kind, merged, &last.set, &self.all_owned());
        };
        let mut pruned = prune(
            kind,
            &merged_last,
            &last.set,
            &self.owned_at(&last.api_version),
        );
        let mut at_version = last.api_version.as_str();
        for v in versions {
            let (Some(p), Some(m)) = (at(&pruned, at_version, v), at(merged, api_version, v))
            else {
                continue;
            };
            let removed = field_set(kind, &m).difference(&field_set(kind, &p));
            let owned = self.owned_at(v);
            pruned = if removed.intersection(&owned).is_empty() {
                p
            } else {
                prune(kind, &m, &removed, &owned)
            };
            at_version = v;
        }
        at(&pruned, at_version, api_version).unwrap_or(pruned)
    }

    /// Merges the oldest `Update` entries into one `ancient-changes` entry per API version
    /// until at most `max` remain (upstream's `capManagersManager`).
    fn cap_update_managers(&mut self, max: usize) {
        let mut updaters: Vec<ManagerKey> = self
            .fields
            .keys()
            .filter(|k| k.operation == Operation::Update)
            .cloned()
            .collect();
        if updaters.len() <= max {
            return;
        }
        updaters.sort_by(|a, b| {
            let ta = self.fields[a].time.clone().unwrap_or_default();
            let tb = self.fields[b].time.clone().unwrap_or_default();
            (ta, a).cmp(&(tb, b))
        });
        let mut first_of_version: BTreeMap<String, ManagerKey> = BTreeMap::new();
        let mut count = updaters.len();
        for m in updaters {
            if count <= max {
                break;
            }
            let Some(owned) = self.fields.get(&m).cloned() else {
                continue;
            };
            let version = owned.api_version.clone();
            let bucket = ManagerKey::update(ANCIENT_CHANGES, &version, "");
            match first_of_version.get(&version) {
                Some(first) => {
                    if !self.fields.contains_key(&bucket)
                        && let Some(f) = self.fields.remove(first)
                    {
                        self.fields.insert(bucket.clone(), f);
                    }
                    let b = self.fields.entry(bucket).or_default();
                    b.set = owned.set.union(&b.set);
                    b.api_version = version;
                    b.time = owned.time.clone();
                    self.fields.remove(&m);
                    count -= 1;
                }
                None => {
                    first_of_version.insert(version, m);
                }
            }
        }
    }
}
