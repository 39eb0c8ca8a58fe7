//! Field management: who owns which fields of an object (`metadata.managedFields`), and
//! server-side apply, with the behaviour of upstream's `k8s.io/apimachinery/pkg/util/
//! managedfields` over `sigs.k8s.io/structured-merge-diff`.
//!
//! * [`FieldSet`] / [`PathElement`]: sets of field paths and their `fieldsV1` JSON.
//! * [`field_set`], [`compare`], [`merge`], [`prune`]: the walks over objects, using the list
//!   keys and atomic types of [`schema`].
//! * [`Managed`]: the decoded `managedFields` of an object, with [`Managed::update`] (what a
//!   create, update or patch records) and [`Managed::apply`] (server-side apply: merge,
//!   prune, conflicts).
//! * [`last_applied`]: the bridge to client-side apply's
//!   `kubectl.kubernetes.io/last-applied-configuration` annotation.

mod fieldpath;
pub mod last_applied;
mod managers;
pub mod schema;
mod typed;

pub use fieldpath::{FieldSet, Path, PathElement};
pub use managers::{
    ApplyRequest, Conflict, Convert, MAX_UPDATE_MANAGERS, Managed, ManagerKey, Operation, Owned,
    conflict_error, is_reset, same_version, strip_set,
};
pub use typed::{
    Comparison, compare, describe_path, field_set, merge, prune, strip_nulls, validate,
};

#[cfg(test)]
mod tests;
