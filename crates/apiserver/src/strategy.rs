//! Per-kind behaviour on top of the generic REST handlers (upstream's REST strategies):
//! defaulting, validation, allocation of shared resources (Service cluster IPs and node ports)
//! and their release.
//!
//! The generic handlers call these hooks; kinds without special rules pass through.

use crate::storage::Storage;
use serde_json::Value;
use skiff_core::registry::ResourceInfo;
use skiff_core::status::ApiError;

/// Defaults and validates a new object, and reserves what it needs (before it is stored).
/// `dry_run` checks without reserving.
pub async fn before_create(
    storage: &Storage,
    info: &ResourceInfo,
    obj: &mut Value,
    dry_run: bool,
) -> Result<(), ApiError> {
    let _ = (storage, info, obj, dry_run);
    Ok(())
}

/// Defaults and validates an update of `old` to `new` (before it is stored).
pub async fn before_update(
    storage: &Storage,
    info: &ResourceInfo,
    old: &Value,
    new: &mut Value,
    dry_run: bool,
) -> Result<(), ApiError> {
    let _ = (storage, info, old, new, dry_run);
    Ok(())
}

/// Releases what a deleted object held (after it left the store).
pub async fn after_delete(storage: &Storage, info: &ResourceInfo, obj: &Value) {
    let _ = (storage, info, obj);
}

/// Releases what `before_create` reserved when the create then failed.
pub async fn undo_create(storage: &Storage, info: &ResourceInfo, obj: &Value) {
    let _ = (storage, info, obj);
}
