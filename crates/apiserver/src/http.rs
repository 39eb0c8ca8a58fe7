//! HTTP plumbing shared by the handlers: query strings, media types, bodies and responses.

use axum::body::Body;
use bytes::Bytes;
use http::{HeaderMap, HeaderValue, Response, StatusCode, header};
use http_body_util::BodyExt;
use serde_json::Value;
use skiff_core::status::ApiError;

/// Largest request body accepted (3 MiB, as upstream).
pub const MAX_BODY_BYTES: usize = 3 * 1024 * 1024;

/// Decoded query parameters (last value wins, as Go's `url.Values.Get` reads the first; both
/// are rare in practice).
#[derive(Debug, Default, Clone)]
pub struct Query {
    pairs: Vec<(String, String)>,
}

impl Query {
    /// Parses a raw query string.
    pub fn parse(raw: Option<&str>) -> Self {
        let pairs = raw
            .unwrap_or("")
            .split('&')
            .filter(|s| !s.is_empty())
            .map(|pair| {
                let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
                (percent_decode(k), percent_decode(v))
            })
            .collect();
        Self { pairs }
    }

    /// The first value of `key`.
    pub fn get(&self, key: &str) -> Option<&str> {
        self.pairs
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }

    /// Whether `key` is `true` (or `1`).
    pub fn flag(&self, key: &str) -> bool {
        matches!(self.get(key), Some("true" | "1"))
    }

    /// Every value of `key`.
    pub fn all(&self, key: &str) -> impl Iterator<Item = &str> {
        self.pairs
            .iter()
            .filter(move |(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }
}

/// Decodes `%XX` escapes and `+` (form encoding) in a query component.
pub fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' if i + 2 < bytes.len() => {
                let hex = std::str::from_utf8(&bytes[i + 1..i + 3]).ok();
                match hex.and_then(|h| u8::from_str_radix(h, 16).ok()) {
                    Some(b) => {
                        out.push(b);
                        i += 3;
                        continue;
                    }
                    None => out.push(b'%'),
                }
            }
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// The media type of a `Content-Type` header without parameters, lower-cased.
pub fn media_type(headers: &HeaderMap) -> Option<String> {
    headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .map(|v| {
            v.split(';')
                .next()
                .unwrap_or("")
                .trim()
                .to_ascii_lowercase()
        })
        .filter(|v| !v.is_empty())
}

/// Reads a request body, refusing more than [`MAX_BODY_BYTES`].
pub async fn read_body(body: Body) -> Result<Bytes, ApiError> {
    let limited = http_body_util::Limited::new(body, MAX_BODY_BYTES);
    match limited.collect().await {
        Ok(c) => Ok(c.to_bytes()),
        Err(e)
            if e.downcast_ref::<http_body_util::LengthLimitError>()
                .is_some() =>
        {
            Err(ApiError::too_large(&format!("limit is {MAX_BODY_BYTES}")))
        }
        Err(e) => Err(ApiError::bad_request(format!(
            "reading the request body: {e}"
        ))),
    }
}

/// Media types accepted for object bodies.
pub const OBJECT_MEDIA_TYPES: &[&str] = &[
    "application/json",
    "application/yaml",
    "application/vnd.kubernetes.protobuf",
];

/// Decodes an object body (JSON when the content type is missing, as upstream).
pub fn decode_object(content_type: Option<&str>, body: &[u8]) -> Result<Value, ApiError> {
    let value: Value = match content_type.unwrap_or("application/json") {
        "application/json" | "*/*" => serde_json::from_slice(body).map_err(|e| {
            ApiError::bad_request(format!("the body of the request was not valid JSON: {e}"))
        })?,
        "application/yaml" | "application/x-yaml" | "text/yaml" => serde_yaml::from_slice(body)
            .map_err(|e| {
                ApiError::bad_request(format!("the body of the request was not valid YAML: {e}"))
            })?,
        // client-go's typed clients (kubectl create <generator>, auth can-i, create token).
        "application/vnd.kubernetes.protobuf" => {
            crate::protobuf::decode(body).map_err(ApiError::bad_request)?
        }
        other => {
            return Err(ApiError::unsupported_media_type(other, OBJECT_MEDIA_TYPES));
        }
    };
    if !value.is_object() {
        return Err(ApiError::bad_request(
            "the body of the request must be a JSON object",
        ));
    }
    Ok(value)
}

/// A JSON response.
pub fn json(status: StatusCode, value: &Value) -> Response<Body> {
    json_bytes(
        status,
        serde_json::to_vec(value).unwrap_or_default(),
        "application/json",
    )
}

/// A response of raw JSON bytes with a content type.
pub fn json_bytes(status: StatusCode, body: Vec<u8>, content_type: &str) -> Response<Body> {
    let mut resp = Response::new(Body::from(body));
    *resp.status_mut() = status;
    resp.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_str(content_type).unwrap_or(HeaderValue::from_static("application/json")),
    );
    resp
}

/// The `Status` response for an error.
pub fn error(err: &ApiError) -> Response<Body> {
    let status = StatusCode::from_u16(err.code).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let value = serde_json::to_value(err.to_status()).unwrap_or_default();
    let mut resp = json(status, &value);
    // Upstream tells clients when to retry (429s, timeouts) in a header too.
    if let Some(secs) = err
        .details
        .as_ref()
        .and_then(|d| d.retry_after_seconds)
        .filter(|s| *s > 0)
    {
        resp.headers_mut()
            .insert(header::RETRY_AFTER, HeaderValue::from(secs));
    }
    resp
}

/// A plain-text response (health checks).
pub fn text(status: StatusCode, body: impl Into<String>) -> Response<Body> {
    let mut resp = Response::new(Body::from(body.into()));
    *resp.status_mut() = status;
    resp.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    resp
}

/// Whether an `Accept` header asks for a `meta.k8s.io` Table.
pub fn wants_table(headers: &HeaderMap) -> bool {
    headers
        .get_all(header::ACCEPT)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .any(|part| {
            let params: Vec<&str> = part.split(';').map(str::trim).collect();
            params.contains(&"as=Table") && params.contains(&"g=meta.k8s.io")
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn queries_decode_escapes() {
        let q = Query::parse(Some(
            "fieldSelector=status.phase%3DRunning&labelSelector=app%3Dx%2Cenv+in+(a)&limit=500&watch",
        ));
        assert_eq!(q.get("fieldSelector"), Some("status.phase=Running"));
        assert_eq!(q.get("labelSelector"), Some("app=x,env in (a)"));
        assert_eq!(q.get("limit"), Some("500"));
        assert_eq!(q.get("watch"), Some(""));
        assert!(!q.flag("watch"));
        assert_eq!(percent_decode("100%"), "100%");
        assert_eq!(percent_decode("%zz"), "%zz");
    }

    #[test]
    fn bodies_decode_by_content_type() {
        assert!(decode_object(None, br#"{"a":1}"#).is_ok());
        assert!(decode_object(Some("application/yaml"), b"a: 1\nb: [x]\n").is_ok());
        assert_eq!(decode_object(None, b"{bad").unwrap_err().code, 400);
        assert_eq!(decode_object(None, b"[1]").unwrap_err().code, 400);
        assert_eq!(
            decode_object(Some("application/vnd.kubernetes.protobuf"), b"k8s\0")
                .unwrap_err()
                .code,
            400
        );
        let ns = decode_object(
            Some("application/vnd.kubernetes.protobuf"),
            b"k8s\0\x0a\x0f\x0a\x02v1\x12\x09Namespace\x12\x05\x0a\x03\x0a\x01n",
        )
        .unwrap();
        assert_eq!(ns["kind"], "Namespace");
        assert_eq!(ns["metadata"]["name"], "n");
        assert_eq!(
            decode_object(Some("application/cbor"), b"")
                .unwrap_err()
                .code,
            415
        );
    }

    #[test]
    fn table_accept_headers() {
        let mut h = HeaderMap::new();
        h.insert(
            header::ACCEPT,
            HeaderValue::from_static(
                "application/json;as=Table;v=v1;g=meta.k8s.io,application/json",
            ),
        );
        assert!(wants_table(&h));
        h.insert(header::ACCEPT, HeaderValue::from_static("application/json"));
        assert!(!wants_table(&h));
    }
}
