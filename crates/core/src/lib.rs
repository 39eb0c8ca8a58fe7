//! Kubernetes apimachinery that `k8s-openapi` does not provide, with no IO:
//! label and field selectors, `Status` errors, patch engines and the registry of built-in
//! resources (group, version, kind, plural, scope, short names, verbs, subresources).

pub mod fields;
pub mod labels;
pub mod patch;
pub mod registry;
pub mod status;
pub mod validation;
