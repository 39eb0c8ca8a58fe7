//! Patch engines on `serde_json::Value`: RFC 6902 JSON Patch and RFC 7386 JSON merge patch,
//! with the observable behaviour of the library kube-apiserver uses for both
//! (`gopkg.in/evanphx/json-patch.v4`), including its error messages.
//!
//! * [`JsonPatch`] / [`apply_json_patch`]: `application/json-patch+json`.
//! * [`merge_patch`] / [`apply_merge_patch`]: `application/merge-patch+json`.
//! * [`create_merge_patch`]: the merge patch turning one document into another.
//!
//! * [`strategic::apply`]: `application/strategic-merge-patch+json` for the built-in kinds.
//!
//! Upstream's HTTP mapping, for the API server: a JSON Patch that cannot be decoded is a
//! 400 `BadRequest`, one that fails to apply is a 422 (`StatusReasonInvalid` without
//! details); a merge patch that is not an object or array is a 400. See
//! [`PatchError::http_status`].

mod json_patch;
mod merge;
pub mod strategic;

pub use json_patch::{JsonPatch, MAX_JSON_PATCH_OPERATIONS, PatchOperation, apply_json_patch};
pub use merge::{apply_merge_patch, create_merge_patch, merge_patch};

/// Why a patch could not be decoded or applied. `Display` gives upstream's message.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PatchError {
    /// The JSON Patch document itself is malformed (not an array of objects).
    /// Upstream answers 400 `BadRequest`.
    #[error("{0}")]
    InvalidPatch(String),
    /// An operation refers to a location (or field) that does not exist
    /// (upstream's `ErrMissing`, "missing value"). 422.
    #[error("{0}")]
    Missing(String),
    /// An array index is out of range (upstream's `ErrInvalidIndex`). 422.
    #[error("{0}")]
    InvalidIndex(String),
    /// A `test` operation did not hold (upstream's `ErrTestFailed`). 422.
    #[error("{0}")]
    TestFailed(String),
    /// Any other failure while applying: unknown `op`, an array index that is not a number,
    /// a `path` that is not a string, a document that is not an object or array. 422.
    #[error("{0}")]
    Invalid(String),
    /// A merge patch that is neither an object nor an array (`null`, a string, a number...).
    /// Upstream answers 400 `BadRequest`.
    #[error("Invalid JSON Patch")]
    InvalidMergePatch,
}

impl PatchError {
    /// The HTTP status kube-apiserver answers with for this error: 400 for a malformed
    /// patch document, 422 for a patch that does not apply to the object.
    pub fn http_status(&self) -> u16 {
        match self {
            PatchError::InvalidPatch(_) | PatchError::InvalidMergePatch => 400,
            PatchError::Missing(_)
            | PatchError::InvalidIndex(_)
            | PatchError::TestFailed(_)
            | PatchError::Invalid(_) => 422,
        }
    }

    /// True when upstream answers 400 `BadRequest` (see [`PatchError::http_status`]).
    pub fn is_bad_request(&self) -> bool {
        self.http_status() == 400
    }

    /// The same error with `prefix: ` in front of its message, like Go's
    /// `fmt.Errorf("prefix: %w", err)`.
    fn wrap(self, prefix: &str) -> PatchError {
        let w = |m: String| format!("{prefix}: {m}");
        match self {
            PatchError::InvalidPatch(m) => PatchError::InvalidPatch(w(m)),
            PatchError::Missing(m) => PatchError::Missing(w(m)),
            PatchError::InvalidIndex(m) => PatchError::InvalidIndex(w(m)),
            PatchError::TestFailed(m) => PatchError::TestFailed(w(m)),
            PatchError::Invalid(m) => PatchError::Invalid(w(m)),
            PatchError::InvalidMergePatch => PatchError::Invalid(w("Invalid JSON Patch".into())),
        }
    }
}

/// Go's `encoding/json` name for the JSON type of a value, as used in its
/// "cannot unmarshal X into Go value of type Y" errors.
fn go_json_type(v: &serde_json::Value) -> &'static str {
    match v {
        serde_json::Value::Null => "null",
        serde_json::Value::Bool(_) => "bool",
        serde_json::Value::Number(_) => "number",
        serde_json::Value::String(_) => "string",
        serde_json::Value::Array(_) => "array",
        serde_json::Value::Object(_) => "object",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn status_mapping() {
        assert_eq!(PatchError::InvalidPatch("x".into()).http_status(), 400);
        assert_eq!(PatchError::InvalidMergePatch.http_status(), 400);
        assert!(PatchError::InvalidMergePatch.is_bad_request());
        for e in [
            PatchError::Missing("x".into()),
            PatchError::InvalidIndex("x".into()),
            PatchError::TestFailed("x".into()),
            PatchError::Invalid("x".into()),
        ] {
            assert_eq!(e.http_status(), 422);
            assert!(!e.is_bad_request());
            assert_eq!(e.to_string(), "x");
        }
        assert_eq!(
            PatchError::InvalidMergePatch.to_string(),
            "Invalid JSON Patch"
        );
        assert_eq!(
            PatchError::Missing("inner".into())
                .wrap("outer")
                .to_string(),
            "outer: inner"
        );
    }
}
