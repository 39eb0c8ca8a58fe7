//! API errors as Kubernetes `Status` objects, with upstream's reasons, codes and messages
//! (`k8s.io/apimachinery/pkg/api/errors` and `.../util/validation/field`).
//!
//! The API server turns every failure into an [`ApiError`] in one place and serves
//! [`ApiError::to_status`] with the HTTP code [`ApiError::code`].

use k8s_openapi::apimachinery::pkg::apis::meta::v1::{Status, StatusCause, StatusDetails};
use std::fmt;

/// A group and resource, as upstream names them in messages (`pods`, `deployments.apps`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct GroupResource {
    /// API group ("" for core).
    pub group: String,
    /// Plural resource name.
    pub resource: String,
}

impl GroupResource {
    /// A group resource.
    pub fn new(group: impl Into<String>, resource: impl Into<String>) -> Self {
        Self {
            group: group.into(),
            resource: resource.into(),
        }
    }
}

impl fmt::Display for GroupResource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.group.is_empty() {
            f.write_str(&self.resource)
        } else {
            write!(f, "{}.{}", self.resource, self.group)
        }
    }
}

/// A group and kind (`Pod`, `Deployment.apps`), used in validation errors.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct GroupKind {
    /// API group ("" for core).
    pub group: String,
    /// Kind.
    pub kind: String,
}

impl GroupKind {
    /// A group kind.
    pub fn new(group: impl Into<String>, kind: impl Into<String>) -> Self {
        Self {
            group: group.into(),
            kind: kind.into(),
        }
    }
}

impl fmt::Display for GroupKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.group.is_empty() {
            f.write_str(&self.kind)
        } else {
            write!(f, "{}.{}", self.kind, self.group)
        }
    }
}

/// Why a field is invalid (upstream's `field.ErrorType`; the string is the `Status` cause reason).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FieldErrorType {
    /// `FieldValueNotFound`.
    NotFound,
    /// `FieldValueRequired`.
    Required,
    /// `FieldValueDuplicate`.
    Duplicate,
    /// `FieldValueInvalid`.
    Invalid,
    /// `FieldValueNotSupported`.
    NotSupported,
    /// `FieldValueForbidden`.
    Forbidden,
    /// `FieldValueTooLong`.
    TooLong,
    /// `FieldValueTooMany`.
    TooMany,
    /// `InternalError`.
    Internal,
    /// `FieldValueTypeInvalid`.
    TypeInvalid,
}

impl FieldErrorType {
    /// The cause reason in a `Status`.
    pub fn reason(self) -> &'static str {
        match self {
            Self::NotFound => "FieldValueNotFound",
            Self::Required => "FieldValueRequired",
            Self::Duplicate => "FieldValueDuplicate",
            Self::Invalid => "FieldValueInvalid",
            Self::NotSupported => "FieldValueNotSupported",
            Self::Forbidden => "FieldValueForbidden",
            Self::TooLong => "FieldValueTooLong",
            Self::TooMany => "FieldValueTooMany",
            Self::Internal => "InternalError",
            Self::TypeInvalid => "FieldValueTypeInvalid",
        }
    }

    /// The words that start the message.
    fn words(self) -> &'static str {
        match self {
            Self::NotFound => "Not found",
            Self::Required => "Required value",
            Self::Duplicate => "Duplicate value",
            Self::Invalid | Self::TypeInvalid => "Invalid value",
            Self::NotSupported => "Unsupported value",
            Self::Forbidden => "Forbidden",
            Self::TooLong => "Too long",
            Self::TooMany => "Too many",
            Self::Internal => "Internal error",
        }
    }

    /// Whether the message shows the bad value.
    fn shows_value(self) -> bool {
        !matches!(
            self,
            Self::Required | Self::Forbidden | Self::TooLong | Self::Internal
        )
    }
}

/// A value shown in a field error, formatted as upstream does (strings quoted, numbers and
/// booleans bare, anything else as JSON).
#[derive(Clone, Debug, PartialEq)]
pub enum BadValue {
    /// No value shown.
    None,
    /// A string, shown quoted.
    Str(String),
    /// Anything else, shown as JSON (numbers and booleans look bare).
    Json(serde_json::Value),
}

impl fmt::Display for BadValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            BadValue::None => Ok(()),
            BadValue::Str(s) => write!(f, "{s:?}"),
            BadValue::Json(v) => write!(f, "{v}"),
        }
    }
}

impl From<&str> for BadValue {
    fn from(s: &str) -> Self {
        BadValue::Str(s.to_owned())
    }
}

impl From<String> for BadValue {
    fn from(s: String) -> Self {
        BadValue::Str(s)
    }
}

impl From<i64> for BadValue {
    fn from(v: i64) -> Self {
        BadValue::Json(v.into())
    }
}

impl From<i32> for BadValue {
    fn from(v: i32) -> Self {
        BadValue::Json(v.into())
    }
}

impl From<bool> for BadValue {
    fn from(v: bool) -> Self {
        BadValue::Json(v.into())
    }
}

impl From<serde_json::Value> for BadValue {
    fn from(v: serde_json::Value) -> Self {
        match v {
            serde_json::Value::String(s) => BadValue::Str(s),
            other => BadValue::Json(other),
        }
    }
}

/// One invalid field.
#[derive(Clone, Debug, PartialEq)]
pub struct FieldError {
    /// What is wrong.
    pub kind: FieldErrorType,
    /// The field's path (`metadata.name`, `spec.containers[0].image`).
    pub field: String,
    /// The offending value.
    pub value: BadValue,
    /// Explanation.
    pub detail: String,
}

impl FieldError {
    fn new(
        kind: FieldErrorType,
        field: impl Into<String>,
        value: BadValue,
        detail: String,
    ) -> Self {
        Self {
            kind,
            field: field.into(),
            value,
            detail,
        }
    }

    /// `Required value` (with an optional explanation).
    pub fn required(field: impl Into<String>, detail: impl Into<String>) -> Self {
        Self::new(
            FieldErrorType::Required,
            field,
            BadValue::None,
            detail.into(),
        )
    }

    /// `Invalid value: <value>: <detail>`.
    pub fn invalid(
        field: impl Into<String>,
        value: impl Into<BadValue>,
        detail: impl Into<String>,
    ) -> Self {
        Self::new(FieldErrorType::Invalid, field, value.into(), detail.into())
    }

    /// `Unsupported value: <value>: supported values: "a", "b"`.
    pub fn not_supported(
        field: impl Into<String>,
        value: impl Into<BadValue>,
        supported: &[&str],
    ) -> Self {
        let detail = if supported.is_empty() {
            String::new()
        } else {
            let quoted: Vec<String> = supported.iter().map(|s| format!("{s:?}")).collect();
            format!("supported values: {}", quoted.join(", "))
        };
        Self::new(FieldErrorType::NotSupported, field, value.into(), detail)
    }

    /// `Forbidden: <detail>`.
    pub fn forbidden(field: impl Into<String>, detail: impl Into<String>) -> Self {
        Self::new(
            FieldErrorType::Forbidden,
            field,
            BadValue::None,
            detail.into(),
        )
    }

    /// `Duplicate value: <value>`.
    pub fn duplicate(field: impl Into<String>, value: impl Into<BadValue>) -> Self {
        Self::new(
            FieldErrorType::Duplicate,
            field,
            value.into(),
            String::new(),
        )
    }

    /// `Not found: <value>`.
    pub fn not_found(field: impl Into<String>, value: impl Into<BadValue>) -> Self {
        Self::new(FieldErrorType::NotFound, field, value.into(), String::new())
    }

    /// `Too long: may not be more than <max> bytes`.
    pub fn too_long(field: impl Into<String>, max: usize) -> Self {
        let unit = if max == 1 { "byte" } else { "bytes" };
        Self::new(
            FieldErrorType::TooLong,
            field,
            BadValue::None,
            format!("may not be more than {max} {unit}"),
        )
    }

    /// `Too many: <actual>: must have at most <max> items`.
    pub fn too_many(field: impl Into<String>, actual: usize, max: usize) -> Self {
        let unit = if max == 1 { "item" } else { "items" };
        Self::new(
            FieldErrorType::TooMany,
            field,
            BadValue::Json((actual as u64).into()),
            format!("must have at most {max} {unit}"),
        )
    }

    /// `Invalid value: <value>: field is immutable` (upstream's message for immutable fields).
    pub fn immutable(field: impl Into<String>, value: impl Into<BadValue>) -> Self {
        Self::invalid(field, value, "field is immutable")
    }

    /// The message without the field (the `Status` cause message).
    pub fn body(&self) -> String {
        let mut s = self.kind.words().to_owned();
        if self.kind.shows_value() && self.value != BadValue::None {
            s.push_str(&format!(": {}", self.value));
        }
        if !self.detail.is_empty() {
            s.push_str(": ");
            s.push_str(&self.detail);
        }
        s
    }
}

impl fmt::Display for FieldError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.field, self.body())
    }
}

/// A failed API request: what the client receives as a `Status`.
#[derive(Clone, Debug, PartialEq)]
pub struct ApiError {
    /// HTTP status code.
    pub code: u16,
    /// Machine-readable reason (`NotFound`, `AlreadyExists`, `Invalid`, ...).
    pub reason: &'static str,
    /// Human-readable message.
    pub message: String,
    /// Name, group, kind and causes.
    pub details: Option<Box<StatusDetails>>,
}

impl fmt::Display for ApiError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for ApiError {}

fn details(group: &str, kind: &str, name: &str) -> Option<Box<StatusDetails>> {
    Some(Box::new(StatusDetails {
        group: Some(group.to_owned()),
        kind: Some(kind.to_owned()),
        name: (!name.is_empty()).then(|| name.to_owned()),
        ..StatusDetails::default()
    }))
}

impl ApiError {
    fn plain(code: u16, reason: &'static str, message: impl Into<String>) -> Self {
        Self {
            code,
            reason,
            message: message.into(),
            details: None,
        }
    }

    /// 404: `pods "x" not found`.
    pub fn not_found(gr: &GroupResource, name: &str) -> Self {
        Self {
            code: 404,
            reason: "NotFound",
            message: format!("{gr} {name:?} not found"),
            details: details(&gr.group, &gr.resource, name),
        }
    }

    /// 409: `configmaps "x" already exists`.
    pub fn already_exists(gr: &GroupResource, name: &str) -> Self {
        Self {
            code: 409,
            reason: "AlreadyExists",
            message: format!("{gr} {name:?} already exists"),
            details: details(&gr.group, &gr.resource, name),
        }
    }

    /// 409: `Operation cannot be fulfilled on configmaps "x": <why>`.
    pub fn conflict(gr: &GroupResource, name: &str, why: &str) -> Self {
        Self {
            code: 409,
            reason: "Conflict",
            message: format!("Operation cannot be fulfilled on {gr} {name:?}: {why}"),
            details: details(&gr.group, &gr.resource, name),
        }
    }

    /// 409 for a stale `resourceVersion`, with upstream's wording.
    pub fn stale(gr: &GroupResource, name: &str) -> Self {
        Self::conflict(
            gr,
            name,
            "the object has been modified; please apply your changes to the latest version and try again",
        )
    }

    /// 422: `Pod "x" is invalid: <field errors>`, one cause per field error.
    pub fn invalid(gk: &GroupKind, name: &str, errors: &[FieldError]) -> Self {
        // Upstream's aggregate drops repeated messages and brackets more than one.
        let mut seen = Vec::<String>::new();
        for e in errors {
            let m = e.to_string();
            if !seen.contains(&m) {
                seen.push(m);
            }
        }
        let aggregate = match seen.len() {
            0 => String::new(),
            1 => seen.remove(0),
            _ => format!("[{}]", seen.join(", ")),
        };
        let causes = errors
            .iter()
            .map(|e| StatusCause {
                reason: Some(e.kind.reason().to_owned()),
                message: Some(e.body()),
                field: Some(e.field.clone()),
            })
            .collect();
        Self {
            code: 422,
            reason: "Invalid",
            message: format!("{gk} {name:?} is invalid: {aggregate}"),
            details: Some(Box::new(StatusDetails {
                group: Some(gk.group.clone()),
                kind: Some(gk.kind.clone()),
                name: (!name.is_empty()).then(|| name.to_owned()),
                causes: Some(causes),
                ..StatusDetails::default()
            })),
        }
    }

    /// 400 with a message.
    pub fn bad_request(message: impl Into<String>) -> Self {
        Self::plain(400, "BadRequest", message)
    }

    /// 401.
    pub fn unauthorized() -> Self {
        Self::plain(401, "Unauthorized", "Unauthorized")
    }

    /// 403: `<resource> "<name>" is forbidden: <why>` (without a name: `<resource> is
    /// forbidden: <why>`).
    pub fn forbidden(gr: &GroupResource, name: &str, why: &str) -> Self {
        let message = if name.is_empty() {
            format!("{gr} is forbidden: {why}")
        } else {
            format!("{gr} {name:?} is forbidden: {why}")
        };
        Self {
            code: 403,
            reason: "Forbidden",
            message,
            details: details(&gr.group, &gr.resource, name),
        }
    }

    /// 405: `<verb> is not supported on resources of kind "<resource>"`.
    pub fn method_not_supported(gr: &GroupResource, action: &str) -> Self {
        Self {
            code: 405,
            reason: "MethodNotAllowed",
            message: format!(
                "{action} is not supported on resources of kind {gr:?}",
                gr = gr.to_string()
            ),
            details: details(&gr.group, &gr.resource, ""),
        }
    }

    /// 406: the response cannot be given in any accepted media type.
    pub fn not_acceptable(accepted: &[&str]) -> Self {
        Self::plain(
            406,
            "NotAcceptable",
            format!(
                "only the following media types are accepted: {}",
                accepted.join(", ")
            ),
        )
    }

    /// 410 `Expired`: a watch or list from a compacted `resourceVersion`.
    pub fn expired(message: impl Into<String>) -> Self {
        Self::plain(410, "Expired", message)
    }

    /// 410 `Gone`.
    pub fn gone(message: impl Into<String>) -> Self {
        Self::plain(410, "Gone", message)
    }

    /// 413 for an oversized body.
    pub fn too_large(message: &str) -> Self {
        Self::plain(
            413,
            "RequestEntityTooLarge",
            format!("Request entity too large: {message}"),
        )
    }

    /// 415 for an unknown body format.
    pub fn unsupported_media_type(content_type: &str, accepted: &[&str]) -> Self {
        Self::plain(
            415,
            "UnsupportedMediaType",
            format!(
                "the body of the request was in an unknown format ({content_type}) - accepted media types include: {}",
                accepted.join(", ")
            ),
        )
    }

    /// 429.
    pub fn too_many_requests(message: impl Into<String>) -> Self {
        Self::plain(429, "TooManyRequests", message)
    }

    /// 500: `Internal error occurred: <err>`.
    pub fn internal(err: impl fmt::Display) -> Self {
        let text = err.to_string();
        Self {
            code: 500,
            reason: "InternalError",
            message: format!("Internal error occurred: {text}"),
            details: Some(Box::new(StatusDetails {
                causes: Some(vec![StatusCause {
                    message: Some(text),
                    ..StatusCause::default()
                }]),
                ..StatusDetails::default()
            })),
        }
    }

    /// 503.
    pub fn unavailable(message: impl Into<String>) -> Self {
        Self::plain(503, "ServiceUnavailable", message)
    }

    /// 504: `Timeout: <message>`.
    pub fn timeout(message: &str) -> Self {
        Self::plain(504, "Timeout", format!("Timeout: {message}"))
    }

    /// The `Status` object to serve.
    pub fn to_status(&self) -> Status {
        Status {
            code: Some(i32::from(self.code)),
            details: self.details.as_deref().cloned(),
            message: Some(self.message.clone()),
            reason: Some(self.reason.to_owned()),
            status: Some("Failure".to_owned()),
            ..Status::default()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn json_of(e: &ApiError) -> serde_json::Value {
        serde_json::to_value(e.to_status()).unwrap()
    }

    #[test]
    fn not_found_matches_upstream() {
        let e = ApiError::not_found(&GroupResource::new("", "pods"), "nope");
        assert_eq!(e.code, 404);
        assert_eq!(
            json_of(&e),
            json!({"kind":"Status","apiVersion":"v1","metadata":{},"status":"Failure",
                   "message":"pods \"nope\" not found","reason":"NotFound",
                   "details":{"name":"nope","group":"","kind":"pods"},"code":404})
        );
        let e = ApiError::not_found(&GroupResource::new("apps", "deployments"), "web");
        assert_eq!(e.message, "deployments.apps \"web\" not found");
    }

    #[test]
    fn conflicts_and_already_exists() {
        let gr = GroupResource::new("", "configmaps");
        assert_eq!(
            ApiError::already_exists(&gr, "cm2").message,
            "configmaps \"cm2\" already exists"
        );
        assert_eq!(
            ApiError::stale(&gr, "cm2").message,
            "Operation cannot be fulfilled on configmaps \"cm2\": the object has been modified; please apply your changes to the latest version and try again"
        );
    }

    #[test]
    fn invalid_lists_every_field_with_causes() {
        let errors = vec![
            FieldError::invalid(
                "metadata.name",
                "Bad_Name",
                "a lowercase RFC 1123 subdomain ...",
            ),
            FieldError::required("spec.containers", ""),
        ];
        let e = ApiError::invalid(&GroupKind::new("", "Pod"), "Bad_Name", &errors);
        assert_eq!(e.code, 422);
        assert_eq!(
            e.message,
            "Pod \"Bad_Name\" is invalid: [metadata.name: Invalid value: \"Bad_Name\": a lowercase RFC 1123 subdomain ..., spec.containers: Required value]"
        );
        let v = json_of(&e);
        assert_eq!(v["details"]["kind"], "Pod");
        assert_eq!(
            v["details"]["causes"],
            json!([
                {"reason":"FieldValueInvalid","message":"Invalid value: \"Bad_Name\": a lowercase RFC 1123 subdomain ...","field":"metadata.name"},
                {"reason":"FieldValueRequired","message":"Required value","field":"spec.containers"}
            ])
        );
        let one = ApiError::invalid(
            &GroupKind::new("apps", "Deployment"),
            "web",
            &[FieldError::immutable(
                "spec.selector",
                json!({"matchLabels":{"a":"b"}}),
            )],
        );
        assert_eq!(
            one.message,
            "Deployment.apps \"web\" is invalid: spec.selector: Invalid value: {\"matchLabels\":{\"a\":\"b\"}}: field is immutable"
        );
    }

    #[test]
    fn field_error_bodies_follow_upstream_formats() {
        assert_eq!(
            FieldError::not_supported("spec.type", "Foo", &["ClusterIP", "NodePort"]).body(),
            "Unsupported value: \"Foo\": supported values: \"ClusterIP\", \"NodePort\""
        );
        assert_eq!(
            FieldError::too_long("metadata.annotations", 262144).to_string(),
            "metadata.annotations: Too long: may not be more than 262144 bytes"
        );
        assert_eq!(
            FieldError::invalid("spec.replicas", -1i64, "must be greater than or equal to 0")
                .body(),
            "Invalid value: -1: must be greater than or equal to 0"
        );
        assert_eq!(
            FieldError::forbidden("spec", "pod updates may not change fields other than ...")
                .body(),
            "Forbidden: pod updates may not change fields other than ..."
        );
        assert_eq!(
            FieldError::too_many("spec.items", 5, 1).body(),
            "Too many: 5: must have at most 1 item"
        );
    }

    #[test]
    fn other_codes() {
        assert_eq!(ApiError::unauthorized().code, 401);
        let f = ApiError::forbidden(
            &GroupResource::new("", "secrets"),
            "",
            "User \"alice\" cannot list resource \"secrets\" in API group \"\" in the namespace \"default\"",
        );
        assert_eq!(
            f.message,
            "secrets is forbidden: User \"alice\" cannot list resource \"secrets\" in API group \"\" in the namespace \"default\""
        );
        let m = ApiError::method_not_supported(&GroupResource::new("", "bindings"), "list");
        assert_eq!(m.code, 405);
        assert_eq!(
            m.message,
            "list is not supported on resources of kind \"bindings\""
        );
        assert_eq!(
            ApiError::expired("too old resource version: 1 (5)").code,
            410
        );
        assert_eq!(ApiError::too_large("limit is 3145728").code, 413);
        assert_eq!(
            ApiError::unsupported_media_type("text/plain", &["application/json"]).code,
            415
        );
        assert_eq!(
            ApiError::internal("boom").message,
            "Internal error occurred: boom"
        );
    }
}
