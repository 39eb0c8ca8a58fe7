//! Kubernetes apimachinery that `k8s-openapi` does not provide, with no IO:
//! label and field selectors, `Status` errors, patch engines, field management (server-side
//! apply) and the registry of built-in resources (group, version, kind, plural, scope, short
//! names, verbs, subresources).

pub mod fields;
pub mod labels;
pub mod managed;
pub mod patch;
pub mod quantity;
pub mod registry;
pub mod status;
pub mod validation;
