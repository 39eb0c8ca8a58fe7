//! Per-kind behaviour on top of the generic REST handlers (upstream's REST strategies):
//! defaulting, validation, allocation of shared resources (Service cluster IPs and node ports)
//! and their release.
//!
//! The generic handlers call these hooks; kinds without special rules pass through. Services
//! are handled by [`service`].

pub mod service;

use crate::storage::Storage;
use serde_json::Value;
use skiff_core::registry::ResourceInfo;
use skiff_core::status::ApiError;

fn is_service(info: &ResourceInfo) -> bool {
    info.gvk.group.is_empty() && info.gvk.kind == "Service"
}

/// Defaults and validates a new object, and reserves what it needs (before it is stored).
/// `dry_run` checks without reserving.
pub async fn before_create(
    storage: &Storage,
    info: &ResourceInfo,
    obj: &mut Value,
    dry_run: bool,
) -> Result<(), ApiError> {
    if is_service(info) {
        return service::before_create(storage, obj, dry_run).await;
    }
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
    if is_service(info) {
        return service::before_update(storage, old, new, dry_run).await;
    }
    Ok(())
}

/// Releases what a deleted object held (after it left the store).
pub async fn after_delete(storage: &Storage, info: &ResourceInfo, obj: &Value) {
    if is_service(info) {
        service::release(storage, obj).await;
    }
}

/// Releases what `before_create` reserved when the create then failed.
pub async fn undo_create(storage: &Storage, info: &ResourceInfo, obj: &Value) {
    if is_service(info) {
        service::release(storage, obj).await;
    }
}
