//! Field paths and sets of them, as the `fieldsV1` of `metadata.managedFields` writes them.
//!
//! A [`FieldSet`] is a tree: each node has *members* (the paths that end there, owned as a
//! whole) and *children* (nodes further down). Its JSON form is upstream's `FieldsV1`:
//! `f:<name>` for a field or map key, `k:{"name":"x"}` for an element of a list with keys,
//! `v:<json>` for an element of a set of primitives, `i:<n>` for a list index, and `"."` in a
//! node that is itself a member and also has children.

use serde_json::{Map, Value};
use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

/// One step of a path into an object.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum PathElement {
    /// A field of a struct or a key of a map (`f:name`).
    Field(String),
    /// An element of a list with keys, by the values of its key fields: pairs of field name and
    /// compact JSON value, sorted by name (`k:{"name":"x"}`).
    Key(Vec<(String, String)>),
    /// An element of a set of primitives, by its compact JSON value (`v:"x"`).
    Value(String),
    /// An element of a list by position (`i:0`); only met in sets written by clients.
    Index(usize),
}

impl PathElement {
    /// A field element.
    pub fn field(name: impl Into<String>) -> Self {
        PathElement::Field(name.into())
    }

    /// A key element from field names and their values (any order).
    pub fn key<'a>(fields: impl IntoIterator<Item = (&'a str, &'a Value)>) -> Self {
        let mut pairs: Vec<(String, String)> = fields
            .into_iter()
            .map(|(k, v)| (k.to_owned(), compact(v)))
            .collect();
        pairs.sort();
        PathElement::Key(pairs)
    }

    /// A set-element element.
    pub fn value(v: &Value) -> Self {
        PathElement::Value(compact(v))
    }

    /// Whether this names a field (upstream's "named fields").
    pub fn is_field(&self) -> bool {
        matches!(self, PathElement::Field(_))
    }

    /// The `fieldsV1` key of this element (`f:x`, `k:{...}`, `v:...`, `i:n`).
    pub fn to_fields_key(&self) -> String {
        match self {
            PathElement::Field(n) => format!("f:{n}"),
            PathElement::Key(pairs) => {
                let mut m = Map::new();
                for (k, v) in pairs {
                    m.insert(k.clone(), serde_json::from_str(v).unwrap_or(Value::Null));
                }
                format!("k:{}", Value::Object(m))
            }
            PathElement::Value(v) => format!("v:{v}"),
            PathElement::Index(i) => format!("i:{i}"),
        }
    }

    /// Parses a `fieldsV1` key.
    pub fn from_fields_key(s: &str) -> Result<Self, String> {
        let (prefix, rest) = s
            .split_once(':')
            .ok_or_else(|| format!("unknown path element prefix in {s:?}"))?;
        match prefix {
            "f" => Ok(PathElement::Field(rest.to_owned())),
            "k" => {
                let v: Value =
                    serde_json::from_str(rest).map_err(|e| format!("parsing key {rest:?}: {e}"))?;
                let Value::Object(m) = v else {
                    return Err(format!("key {rest:?} is not a JSON object"));
                };
                if m.is_empty() {
                    return Err(format!("key {rest:?} has no fields"));
                }
                Ok(PathElement::key(m.iter().map(|(k, v)| (k.as_str(), v))))
            }
            "v" => {
                let v: Value = serde_json::from_str(rest)
                    .map_err(|e| format!("parsing value {rest:?}: {e}"))?;
                Ok(PathElement::value(&v))
            }
            "i" => rest
                .parse()
                .map(PathElement::Index)
                .map_err(|_| format!("invalid index {rest:?}")),
            other => Err(format!("unknown path element prefix {other:?} in {s:?}")),
        }
    }
}

/// Displays like upstream's `fieldpath.PathElement.String`: `.name`, `[name="x",port=80]`,
/// `[="v"]`, `[0]`.
impl fmt::Display for PathElement {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PathElement::Field(n) => write!(f, ".{n}"),
            PathElement::Key(pairs) => {
                let parts: Vec<String> = pairs.iter().map(|(k, v)| format!("{k}={v}")).collect();
                write!(f, "[{}]", parts.join(","))
            }
            PathElement::Value(v) => write!(f, "[={v}]"),
            PathElement::Index(i) => write!(f, "[{i}]"),
        }
    }
}

/// Compact JSON of a value.
fn compact(v: &Value) -> String {
    serde_json::to_string(v).unwrap_or_default()
}

/// A path from the object root.
#[derive(Clone, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Path(pub Vec<PathElement>);

impl Path {
    /// A path of field names only.
    pub fn fields(names: &[&str]) -> Self {
        Path(names.iter().map(|n| PathElement::field(*n)).collect())
    }
}

/// Displays like upstream: `.spec.template.spec.containers[name="web"].image`.
impl fmt::Display for Path {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for e in &self.0 {
            write!(f, "{e}")?;
        }
        Ok(())
    }
}

/// A set of paths, stored as a tree (upstream's `fieldpath.Set`).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct FieldSet {
    members: BTreeSet<PathElement>,
    children: BTreeMap<PathElement, FieldSet>,
}

impl FieldSet {
    /// The empty set.
    pub fn new() -> Self {
        Self::default()
    }

    /// Whether the set holds no path.
    pub fn is_empty(&self) -> bool {
        self.members.is_empty() && self.children.values().all(FieldSet::is_empty)
    }

    /// Adds a path (the empty path is ignored).
    pub fn insert(&mut self, path: &[PathElement]) {
        match path {
            [] => {}
            [last] => {
                self.members.insert(last.clone());
            }
            [first, rest @ ..] => self.children.entry(first.clone()).or_default().insert(rest),
        }
    }

    /// Whether the path is in the set.
    pub fn has(&self, path: &[PathElement]) -> bool {
        match path {
            [] => false,
            [last] => self.members.contains(last),
            [first, rest @ ..] => self.children.get(first).is_some_and(|c| c.has(rest)),
        }
    }

    /// Whether `pe` is a member here.
    pub fn is_member(&self, pe: &PathElement) -> bool {
        self.members.contains(pe)
    }

    /// Whether `pe` is a member here, or a field with members below it (upstream's
    /// `EnsureNamedFieldsAreMembers`, which treats such fields as owned too).
    pub fn is_member_or_named_parent(&self, pe: &PathElement) -> bool {
        self.members.contains(pe)
            || (pe.is_field() && self.children.get(pe).is_some_and(|c| !c.is_empty()))
    }

    /// The node below `pe`, if any.
    pub fn child(&self, pe: &PathElement) -> Option<&FieldSet> {
        self.children.get(pe)
    }

    /// Paths in either set.
    pub fn union(&self, other: &FieldSet) -> FieldSet {
        let mut out = self.clone();
        out.members.extend(other.members.iter().cloned());
        for (pe, c) in &other.children {
            let merged = match out.children.get(pe) {
                Some(mine) => mine.union(c),
                None => c.clone(),
            };
            out.children.insert(pe.clone(), merged);
        }
        out.normalized()
    }

    /// Paths in this set and not in `other`.
    pub fn difference(&self, other: &FieldSet) -> FieldSet {
        let members = self.members.difference(&other.members).cloned().collect();
        let children = self
            .children
            .iter()
            .map(|(pe, c)| match other.children.get(pe) {
                Some(o) => (pe.clone(), c.difference(o)),
                None => (pe.clone(), c.clone()),
            })
            .collect();
        FieldSet { members, children }.normalized()
    }

    /// Paths in both sets.
    pub fn intersection(&self, other: &FieldSet) -> FieldSet {
        let members = self.members.intersection(&other.members).cloned().collect();
        let children = self
            .children
            .iter()
            .filter_map(|(pe, c)| {
                other
                    .children
                    .get(pe)
                    .map(|o| (pe.clone(), c.intersection(o)))
            })
            .collect();
        FieldSet { members, children }.normalized()
    }

    /// Paths in this set that are neither in `other` nor below one of its members.
    pub fn recursive_difference(&self, other: &FieldSet) -> FieldSet {
        let members = self.members.difference(&other.members).cloned().collect();
        let children = self
            .children
            .iter()
            .filter(|(pe, _)| !other.members.contains(pe))
            .map(|(pe, c)| match other.children.get(pe) {
                Some(o) => (pe.clone(), c.recursive_difference(o)),
                None => (pe.clone(), c.clone()),
            })
            .collect();
        FieldSet { members, children }.normalized()
    }

    /// Every path, members of a node before its children, each group in order.
    pub fn paths(&self) -> Vec<Path> {
        let mut out = Vec::new();
        self.collect(&mut Vec::new(), &mut out);
        out
    }

    fn collect(&self, prefix: &mut Vec<PathElement>, out: &mut Vec<Path>) {
        for m in &self.members {
            prefix.push(m.clone());
            out.push(Path(prefix.clone()));
            prefix.pop();
        }
        for (pe, c) in &self.children {
            prefix.push(pe.clone());
            c.collect(prefix, out);
            prefix.pop();
        }
    }

    /// Drops empty child nodes.
    fn normalized(mut self) -> FieldSet {
        self.children.retain(|_, c| !c.is_empty());
        self
    }

    /// The `fieldsV1` JSON of the set.
    pub fn to_json(&self) -> Value {
        let mut out = Map::new();
        let mut keys: BTreeSet<&PathElement> = self.members.iter().collect();
        keys.extend(self.children.keys());
        for pe in keys {
            let mut node = match self.children.get(pe) {
                Some(c) if !c.is_empty() => c.to_json_map(),
                _ => Map::new(),
            };
            if !node.is_empty() && self.members.contains(pe) {
                node.insert(".".into(), Value::Object(Map::new()));
            }
            out.insert(pe.to_fields_key(), Value::Object(node));
        }
        Value::Object(out)
    }

    fn to_json_map(&self) -> Map<String, Value> {
        match self.to_json() {
            Value::Object(m) => m,
            _ => Map::new(),
        }
    }

    /// Parses `fieldsV1` JSON.
    pub fn from_json(v: &Value) -> Result<FieldSet, String> {
        let Value::Object(m) = v else {
            return Err("fieldsV1 must be a JSON object".into());
        };
        let mut set = FieldSet::new();
        for (k, child) in m {
            if k == "." {
                continue;
            }
            let pe = PathElement::from_fields_key(k)?;
            let Value::Object(cm) = child else {
                return Err(format!("the value of {k:?} must be a JSON object"));
            };
            if cm.is_empty() || cm.contains_key(".") {
                set.members.insert(pe.clone());
            }
            let sub = FieldSet::from_json(child)?;
            if !sub.is_empty() {
                set.children.insert(pe, sub);
            }
        }
        Ok(set)
    }
}
