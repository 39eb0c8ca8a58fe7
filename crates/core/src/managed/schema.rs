//! What field management needs to know of a kind's schema: how each list is identified
//! (upstream's `x-kubernetes-list-type` and `x-kubernetes-list-map-keys`) and which maps and
//! structs are atomic (`x-kubernetes-map-type: atomic`, `+structType=atomic`).
//!
//! The lists with keys are those strategic merge patch merges by key ([`list_strategy`]),
//! with the few keys upstream widens for server-side apply (container and Service ports are
//! keyed by port *and* protocol, which defaults to `TCP`). Every other list is atomic, except
//! the primitive sets (`metadata.finalizers`).

use crate::patch::strategic::{ListStrategy, list_strategy};

/// How the elements of a list are told apart.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ListType {
    /// The list is one value, owned and replaced as a whole.
    Atomic,
    /// A set of primitive values, each element owned by itself (`v:<value>`).
    Set,
    /// A list of objects identified by key fields (`k:{...}`), each with an optional default
    /// (JSON) used when an element omits it.
    Map(Vec<KeyField>),
}

/// A key field of a list of objects.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct KeyField {
    /// The field name.
    pub name: &'static str,
    /// Its default value as JSON, when the schema has one.
    pub default: Option<&'static str>,
}

const fn key(name: &'static str) -> KeyField {
    KeyField {
        name,
        default: None,
    }
}

const PROTOCOL_TCP: KeyField = KeyField {
    name: "protocol",
    default: Some("\"TCP\""),
};

const CONTAINER_LISTS: &[&str] = &["containers", "initContainers", "ephemeralContainers"];

/// The type of the list at `path` (field names from the root, no indices) in a `kind`.
pub fn list_type(kind: &str, path: &[String]) -> ListType {
    let last = path.last().map(String::as_str).unwrap_or_default();
    let parent = path.len().checked_sub(2).map(|i| path[i].as_str());
    match list_strategy(kind, path) {
        ListStrategy::Replace => ListType::Atomic,
        ListStrategy::MergePrimitive => ListType::Set,
        ListStrategy::MergeByKey(k) => ListType::Map(match last {
            "ports" if parent.is_some_and(|p| CONTAINER_LISTS.contains(&p)) => {
                vec![key("containerPort"), PROTOCOL_TCP]
            }
            "ports" if kind == "Service" => vec![key("port"), PROTOCOL_TCP],
            "topologySpreadConstraints" => vec![key("topologyKey"), key("whenUnsatisfiable")],
            _ => vec![key(k)],
        }),
    }
}

/// Whether the map or struct at `path` is atomic: label selectors, node selectors, object
/// references and the other atomic types of the built-in APIs.
pub fn is_atomic(_kind: &str, path: &[String]) -> bool {
    let last = path.last().map(String::as_str).unwrap_or_default();
    let parent = path.len().checked_sub(2).map(|i| path[i].as_str());
    match last {
        "selector" | "labelSelector" | "namespaceSelector" | "podSelector" | "nodeSelector"
        | "fieldRef" | "configMapKeyRef" | "secretKeyRef" | "resourceFieldRef" | "roleRef"
        | "scaleTargetRef" => true,
        "requiredDuringSchedulingIgnoredDuringExecution" => parent == Some("nodeAffinity"),
        _ => false,
    }
}

/// Whether the elements of the list at `path` are atomic objects (owner references).
pub fn elements_atomic(_kind: &str, path: &[String]) -> bool {
    path.last().is_some_and(|l| l == "ownerReferences")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(s: &str) -> Vec<String> {
        s.split('.').map(str::to_owned).collect()
    }

    #[test]
    fn list_types_follow_the_merge_keys() {
        assert_eq!(
            list_type("Deployment", &p("spec.template.spec.containers")),
            ListType::Map(vec![key("name")])
        );
        assert_eq!(
            list_type("Pod", &p("spec.containers.ports")),
            ListType::Map(vec![key("containerPort"), PROTOCOL_TCP])
        );
        assert_eq!(
            list_type("Service", &p("spec.ports")),
            ListType::Map(vec![key("port"), PROTOCOL_TCP])
        );
        assert_eq!(list_type("Pod", &p("metadata.finalizers")), ListType::Set);
        assert_eq!(list_type("Pod", &p("spec.tolerations")), ListType::Atomic);
        assert_eq!(
            list_type("Pod", &p("spec.containers.args")),
            ListType::Atomic
        );
        assert!(is_atomic("Deployment", &p("spec.selector")));
        assert!(!is_atomic("Deployment", &p("spec.template")));
        assert!(elements_atomic("Pod", &p("metadata.ownerReferences")));
    }
}
