//! Walks over objects that know the schema hints of [`super::schema`]: the field set of an
//! object, the comparison of two objects, the merge of an applied configuration into an
//! object and the pruning of fields an applier gave up (structured-merge-diff's `ToFieldSet`,
//! `Compare`, `Merge` and `prune`).

use super::fieldpath::{FieldSet, Path, PathElement};
use super::schema::{self, ListType};
use serde_json::{Map, Value};
use std::collections::{BTreeSet, VecDeque};

/// What changed from one object to another: each path is in at most one set.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Comparison {
    /// Paths only the new object has.
    pub added: FieldSet,
    /// Paths both have with different values.
    pub modified: FieldSet,
    /// Paths only the old object has.
    pub removed: FieldSet,
}

impl Comparison {
    /// Whether nothing changed.
    pub fn is_same(&self) -> bool {
        self.added.is_empty() && self.modified.is_empty() && self.removed.is_empty()
    }

    /// The comparison without the paths in or below `ignored`.
    pub fn excluding(&self, ignored: &FieldSet) -> Comparison {
        Comparison {
            added: self.added.recursive_difference(ignored),
            modified: self.modified.recursive_difference(ignored),
            removed: self.removed.recursive_difference(ignored),
        }
    }
}

/// Position in an object during a walk: the field names (for schema lookups) and the path.
struct Walk<'k> {
    kind: &'k str,
    names: Vec<String>,
    path: Vec<PathElement>,
}

impl<'k> Walk<'k> {
    fn new(kind: &'k str) -> Self {
        Walk {
            kind,
            names: Vec::new(),
            path: Vec::new(),
        }
    }

    fn list_type(&self) -> ListType {
        schema::list_type(self.kind, &self.names)
    }

    fn child_atomic(&self) -> bool {
        schema::is_atomic(self.kind, &self.names)
    }

    fn elements_atomic(&self) -> bool {
        schema::elements_atomic(self.kind, &self.names)
    }

    fn enter_field(&mut self, name: &str) {
        self.names.push(name.to_owned());
        self.path.push(PathElement::field(name));
    }

    fn leave_field(&mut self) {
        self.names.pop();
        self.path.pop();
    }
}

/// The path element of every element of a list of `list_type`, or why there is none: an
/// element without its key fields, or two elements with the same key.
fn keyed<'a>(
    list_type: &ListType,
    items: &'a [Value],
) -> Result<Vec<(PathElement, &'a Value)>, String> {
    let mut seen = BTreeSet::new();
    let mut out = Vec::with_capacity(items.len());
    for (i, item) in items.iter().enumerate() {
        let pe = match list_type {
            ListType::Atomic => return Err("atomic list".into()),
            ListType::Set => PathElement::value(item),
            ListType::Map(keys) => {
                let Value::Object(m) = item else {
                    return Err(format!("element {i}: expected a map, got {item}"));
                };
                let mut fields: Vec<(String, Value)> = Vec::with_capacity(keys.len());
                for k in keys {
                    match (m.get(k.name), k.default) {
                        (Some(v), _) if !v.is_null() => fields.push((k.name.to_owned(), v.clone())),
                        (_, Some(d)) => fields.push((
                            k.name.to_owned(),
                            serde_json::from_str(d).unwrap_or(Value::Null),
                        )),
                        _ => {
                            return Err(format!(
                                "element {i}: associative list with keys has an element that omits key field {:?} (and doesn't have default value)",
                                k.name
                            ));
                        }
                    }
                }
                PathElement::key(fields.iter().map(|(k, v)| (k.as_str(), v)))
            }
        };
        if !seen.insert(pe.clone()) {
            return Err(format!("duplicate entries for key {pe}"));
        }
        out.push((pe, item));
    }
    Ok(out)
}

/// The fields set in `obj`, an object of `kind`: every leaf, every atomic value, every
/// element of a list with keys or of a set, and every empty map (upstream's `ToFieldSet`).
/// Lists whose elements cannot be keyed count as atomic.
pub fn field_set(kind: &str, obj: &Value) -> FieldSet {
    let mut out = FieldSet::new();
    Walk::new(kind).collect_fields(obj, false, &mut out);
    out
}

impl Walk<'_> {
    fn collect_fields(&mut self, v: &Value, atomic: bool, out: &mut FieldSet) {
        if atomic {
            out.insert(&self.path);
            return;
        }
        match v {
            Value::Object(m) if m.is_empty() => out.insert(&self.path),
            Value::Object(m) => {
                for (k, child) in m {
                    self.enter_field(k);
                    let atomic = self.child_atomic();
                    self.collect_fields(child, atomic, out);
                    self.leave_field();
                }
            }
            Value::Array(items) => {
                let lt = self.list_type();
                match keyed(&lt, items) {
                    Err(_) => out.insert(&self.path),
                    Ok(elements) => {
                        let atomic = self.elements_atomic();
                        for (pe, item) in elements {
                            self.path.push(pe);
                            self.collect_fields(item, atomic, out);
                            out.insert(&self.path);
                            self.path.pop();
                        }
                    }
                }
            }
            _ => out.insert(&self.path),
        }
    }
}

/// Checks that an applied configuration can be owned field by field: every element of a list
/// with keys has its keys and no two share them. The error is upstream's
/// (`.spec.ports: element 0: associative list with keys has an element that omits key field
/// "port" (and doesn't have default value)`).
pub fn validate(kind: &str, obj: &Value) -> Result<(), String> {
    Walk::new(kind).validate(obj)
}

impl Walk<'_> {
    fn validate(&mut self, v: &Value) -> Result<(), String> {
        match v {
            Value::Object(m) => {
                for (k, child) in m {
                    self.enter_field(k);
                    let r = if self.child_atomic() {
                        Ok(())
                    } else {
                        self.validate(child)
                    };
                    self.leave_field();
                    r?;
                }
                Ok(())
            }
            Value::Array(items) => {
                let lt = self.list_type();
                if lt == ListType::Atomic {
                    return Ok(());
                }
                let elements =
                    keyed(&lt, items).map_err(|e| format!("{}: {e}", Path(self.path.clone())))?;
                if self.elements_atomic() {
                    return Ok(());
                }
                for (pe, item) in elements {
                    self.path.push(pe);
                    let r = self.validate(item);
                    self.path.pop();
                    r?;
                }
                Ok(())
            }
            _ => Ok(()),
        }
    }
}

/// Compares two objects of `kind` (upstream's `TypedValue.Compare`): leaves that differ are
/// modified; maps, lists and list elements present on one side only are added or removed
/// along with everything below them.
pub fn compare(kind: &str, lhs: &Value, rhs: &Value) -> Comparison {
    let mut c = Comparison::default();
    Walk::new(kind).compare(Some(lhs), Some(rhs), false, &mut c);
    c
}

impl Walk<'_> {
    fn compare(
        &mut self,
        lhs: Option<&Value>,
        rhs: Option<&Value>,
        atomic: bool,
        c: &mut Comparison,
    ) {
        // A `null` facing a map or list is an empty one that is there (Go's nil slices and
        // maps of a zero value): what the other side has below is added or removed, the
        // container itself is not.
        let (empty_map, empty_list) = (Value::Object(Map::new()), Value::Array(Vec::new()));
        let as_container = |v: Option<&Value>, other: Option<&Value>| match (v, other) {
            (Some(Value::Null), Some(Value::Object(_))) => Some(&empty_map),
            (Some(Value::Null), Some(Value::Array(_))) => Some(&empty_list),
            _ => None,
        };
        let (cl, cr) = (as_container(lhs, rhs), as_container(rhs, lhs));
        if !atomic && (cl.is_some() || cr.is_some()) {
            let empty = |v: &Value| match v {
                Value::Object(m) => m.is_empty(),
                Value::Array(a) => a.is_empty(),
                _ => false,
            };
            let (l, r) = (cl.or(lhs), cr.or(rhs));
            if !(l.is_some_and(empty) && r.is_some_and(empty)) {
                self.compare(l, r, atomic, c);
                return;
            }
        }
        let sides: Vec<&Value> = lhs.into_iter().chain(rhs).collect();
        if !atomic && sides.iter().all(|v| v.is_object()) {
            let empty = sides
                .iter()
                .all(|v| v.as_object().is_some_and(Map::is_empty));
            if !empty {
                let lm = lhs.and_then(Value::as_object);
                let rm = rhs.and_then(Value::as_object);
                let keys: BTreeSet<&String> =
                    lm.into_iter().chain(rm).flat_map(|m| m.keys()).collect();
                for k in keys {
                    self.enter_field(k);
                    let atomic = self.child_atomic();
                    self.compare(
                        lm.and_then(|m| m.get(k)),
                        rm.and_then(|m| m.get(k)),
                        atomic,
                        c,
                    );
                    self.leave_field();
                }
                self.after_container(lhs, rhs, c);
                return;
            }
        } else if !atomic && sides.iter().all(|v| v.is_array()) {
            let lt = self.list_type();
            let la = lhs.and_then(Value::as_array).map(|a| a.as_slice());
            let ra = rhs.and_then(Value::as_array).map(|a| a.as_slice());
            let empty = la.is_none_or(<[Value]>::is_empty) && ra.is_none_or(<[Value]>::is_empty);
            if lt != ListType::Atomic && !empty {
                let le = la.map(|a| keyed(&lt, a)).transpose();
                let re = ra.map(|a| keyed(&lt, a)).transpose();
                if let (Ok(le), Ok(re)) = (le, re) {
                    let le = le.unwrap_or_default();
                    let re = re.unwrap_or_default();
                    let mut order: Vec<&PathElement> = le.iter().map(|(pe, _)| pe).collect();
                    for (pe, _) in &re {
                        if !le.iter().any(|(l, _)| l == pe) {
                            order.push(pe);
                        }
                    }
                    let atomic = self.elements_atomic();
                    for pe in order {
                        let l = le.iter().find(|(p, _)| p == pe).map(|(_, v)| *v);
                        let r = re.iter().find(|(p, _)| p == pe).map(|(_, v)| *v);
                        self.path.push(pe.clone());
                        self.compare(l, r, atomic, c);
                        self.path.pop();
                    }
                    self.after_container(lhs, rhs, c);
                    return;
                }
            }
        }
        match (lhs, rhs) {
            (None, Some(_)) => c.added.insert(&self.path),
            (Some(_), None) => c.removed.insert(&self.path),
            (Some(l), Some(r)) if l != r => c.modified.insert(&self.path),
            _ => {}
        }
    }

    /// A map, list or list element present on one side only is itself added or removed.
    fn after_container(&self, lhs: Option<&Value>, rhs: Option<&Value>, c: &mut Comparison) {
        match (lhs, rhs) {
            (None, Some(_)) => c.added.insert(&self.path),
            (Some(_), None) => c.removed.insert(&self.path),
            _ => {}
        }
    }
}

/// Merges an applied configuration into an object (upstream's `TypedValue.Merge`): leaves of
/// the configuration win, maps merge key by key, lists with keys merge element by element and
/// keep the object's order where the configuration does not change it, atomic values are
/// replaced. A `null` in the configuration removes the field.
pub fn merge(kind: &str, lhs: &Value, rhs: &Value) -> Value {
    Walk::new(kind)
        .merge(Some(lhs), Some(rhs), false)
        .unwrap_or(Value::Object(Map::new()))
}

/// `v` with every `null` member of a map removed, at any depth.
pub fn strip_nulls(v: &Value) -> Value {
    match v {
        Value::Object(m) => Value::Object(
            m.iter()
                .filter(|(_, x)| !x.is_null())
                .map(|(k, x)| (k.clone(), strip_nulls(x)))
                .collect(),
        ),
        Value::Array(a) => Value::Array(a.iter().map(strip_nulls).collect()),
        other => other.clone(),
    }
}

impl Walk<'_> {
    fn merge(&mut self, lhs: Option<&Value>, rhs: Option<&Value>, atomic: bool) -> Option<Value> {
        let (l, r) = match (lhs, rhs) {
            (l, None) => return l.cloned(),
            (None, Some(r)) => return Some(strip_nulls(r)),
            (Some(l), Some(r)) => (l, r),
        };
        if atomic {
            return Some(strip_nulls(r));
        }
        match (l, r) {
            (Value::Object(lm), Value::Object(rm)) if !(lm.is_empty() && rm.is_empty()) => {
                let keys: BTreeSet<&String> = lm.keys().chain(rm.keys()).collect();
                let mut out = Map::new();
                for k in keys {
                    self.enter_field(k);
                    let atomic = self.child_atomic();
                    let merged = self.merge(lm.get(k), rm.get(k), atomic);
                    self.leave_field();
                    if let Some(v) = merged.filter(|v| !v.is_null()) {
                        out.insert(k.clone(), v);
                    }
                }
                Some(Value::Object(out))
            }
            (Value::Array(la), Value::Array(ra)) if !(la.is_empty() && ra.is_empty()) => {
                let lt = self.list_type();
                if lt == ListType::Atomic {
                    return Some(strip_nulls(r));
                }
                match (keyed(&lt, la), keyed(&lt, ra)) {
                    (Ok(le), Ok(re)) => Some(Value::Array(self.merge_elements(&le, &re))),
                    _ => Some(strip_nulls(r)),
                }
            }
            _ => Some(strip_nulls(r)),
        }
    }

    /// Merges two keyed lists: elements only in `lhs` stay where they are, shared elements are
    /// merged in the order of `rhs`, new elements of `rhs` come where `rhs` puts them.
    fn merge_elements(
        &mut self,
        lhs: &[(PathElement, &Value)],
        rhs: &[(PathElement, &Value)],
    ) -> Vec<Value> {
        let in_rhs: BTreeSet<&PathElement> = rhs.iter().map(|(pe, _)| pe).collect();
        let in_lhs: BTreeSet<&PathElement> = lhs.iter().map(|(pe, _)| pe).collect();
        let mut shared: VecDeque<&PathElement> = rhs
            .iter()
            .map(|(pe, _)| pe)
            .filter(|pe| in_lhs.contains(pe))
            .collect();
        let mut next_shared = shared.pop_front();
        let mut done: BTreeSet<&PathElement> = BTreeSet::new();
        let atomic = self.elements_atomic();
        let lookup = |pe: &PathElement| lhs.iter().find(|(p, _)| p == pe).map(|(_, v)| *v);
        let mut out = Vec::with_capacity(lhs.len().max(rhs.len()));
        let (mut i, mut j) = (0, 0);
        while i < lhs.len() || j < rhs.len() {
            if i < lhs.len() && j < rhs.len() {
                let (lpe, lv) = &lhs[i];
                if *lpe == rhs[j].0 {
                    done.insert(lpe);
                    self.path.push(lpe.clone());
                    out.extend(self.merge(Some(lv), Some(rhs[j].1), atomic));
                    self.path.pop();
                    i += 1;
                    j += 1;
                    next_shared = shared.pop_front();
                    continue;
                }
                if in_rhs.contains(lpe) && next_shared.is_some_and(|n| n != lpe) {
                    // A shared element, but not the one due now: it comes with `rhs`.
                    i += 1;
                    continue;
                }
            }
            if i < lhs.len() {
                let (lpe, lv) = &lhs[i];
                if !in_rhs.contains(lpe) {
                    out.push((*lv).clone());
                    i += 1;
                    continue;
                }
                if done.contains(lpe) {
                    i += 1;
                    continue;
                }
            }
            if j < rhs.len() {
                let (rpe, rv) = &rhs[j];
                done.insert(rpe);
                self.path.push(rpe.clone());
                out.extend(self.merge(lookup(rpe), Some(rv), atomic));
                self.path.pop();
                j += 1;
                if next_shared == Some(rpe) {
                    next_shared = shared.pop_front();
                }
            }
        }
        out
    }
}

/// Removes from `merged` what an applier owned last time (`last`) and no longer applies, unless
/// some manager (the applier's new set included) owns it (`owned`, the union of every
/// manager's set). Like upstream, a field or element goes with everything below it, and a
/// field with owned fields below it stays.
pub fn prune(kind: &str, merged: &Value, last: &FieldSet, owned: &FieldSet) -> Value {
    let mut out = merged.clone();
    Walk::new(kind).prune(&mut out, Some(last), Some(owned), false, false);
    out
}

impl Walk<'_> {
    /// `in_last`: the node is at or below a path of `last`; `doomed`: at or below such a path
    /// that nobody owns any more.
    fn prune(
        &mut self,
        v: &mut Value,
        last: Option<&FieldSet>,
        owned: Option<&FieldSet>,
        in_last: bool,
        doomed: bool,
    ) {
        // Decides for one child: (remove it, whether it is in `last`'s closure, doomed).
        let decide = |pe: &PathElement| {
            let l = last.is_some_and(|s| s.is_member_or_named_parent(pe));
            let a = owned.is_some_and(|s| s.is_member_or_named_parent(pe));
            let child_in_last = in_last || l;
            let child_doomed = doomed || (child_in_last && !a);
            (l && child_doomed, child_in_last, child_doomed)
        };
        match v {
            Value::Object(m) => {
                let keys: Vec<String> = m.keys().cloned().collect();
                for k in keys {
                    let pe = PathElement::field(k.as_str());
                    let (remove, child_in_last, child_doomed) = decide(&pe);
                    if remove {
                        m.remove(&k);
                        continue;
                    }
                    self.enter_field(&k);
                    if !self.child_atomic()
                        && let Some(child) = m.get_mut(&k)
                    {
                        self.prune(
                            child,
                            last.and_then(|s| s.child(&pe)),
                            owned.and_then(|s| s.child(&pe)),
                            child_in_last,
                            child_doomed,
                        );
                    }
                    self.leave_field();
                }
            }
            Value::Array(items) => {
                let lt = self.list_type();
                let pes: Vec<PathElement> = match keyed(&lt, items) {
                    Ok(e) => e.into_iter().map(|(pe, _)| pe).collect(),
                    Err(_) => return,
                };
                let descend = !self.elements_atomic();
                let mut kept = Vec::with_capacity(items.len());
                for (pe, mut item) in pes.into_iter().zip(std::mem::take(items)) {
                    let (remove, child_in_last, child_doomed) = decide(&pe);
                    if remove {
                        continue;
                    }
                    if descend {
                        self.path.push(pe.clone());
                        self.prune(
                            &mut item,
                            last.and_then(|s| s.child(&pe)),
                            owned.and_then(|s| s.child(&pe)),
                            child_in_last,
                            child_doomed,
                        );
                        self.path.pop();
                    }
                    kept.push(item);
                }
                *items = kept;
            }
            _ => {}
        }
    }
}

/// Upstream's name of a field that `fieldValidation` calls `spec.containers[0].bar`, in an
/// object of `kind`: `.spec.containers[name="c"].bar` (elements of keyed lists by key).
pub fn describe_path(kind: &str, obj: &Value, dotted: &str) -> String {
    let mut walk = Walk::new(kind);
    let mut cur = Some(obj);
    for segment in dotted.split('.') {
        let (name, mut rest) = match segment.find('[') {
            Some(i) => (&segment[..i], &segment[i..]),
            None => (segment, ""),
        };
        walk.enter_field(name);
        cur = cur.and_then(|v| v.get(name));
        while let Some(close) = rest.find(']') {
            let idx: usize = rest[1..close].parse().unwrap_or(0);
            rest = &rest[close + 1..];
            let lt = walk.list_type();
            let items = cur.and_then(Value::as_array);
            let pe = items
                .and_then(|a| keyed(&lt, a).ok())
                .and_then(|e| e.get(idx).map(|(pe, _)| pe.clone()))
                .unwrap_or(PathElement::Index(idx));
            walk.path.push(pe);
            cur = cur.and_then(|v| v.get(idx));
        }
    }
    Path(walk.path).to_string()
}
