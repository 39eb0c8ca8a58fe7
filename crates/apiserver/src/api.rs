//! The request pipeline: authentication, authorization, then discovery, health, version or the
//! REST handlers.

use crate::authn::{Authenticator, User};
use crate::discovery;
use crate::http::{self as h, Query};
use crate::metrics::{Metrics, RequestLabels};
use crate::request_info::{self, RequestInfo, ResourceRequest};
use crate::rest::{self, Ctx};
use crate::storage::Storage;
use axum::body::Body;
use http::{HeaderMap, HeaderValue, Method, Request, Response, StatusCode, header};
use serde_json::{Value, json};
use skiff_core::registry;
use skiff_core::status::{ApiError, GroupResource};
use std::sync::Arc;

/// The Kubernetes version this server speaks.
pub const KUBE_MINOR: &str = "33";
/// `gitVersion` reported by `/version`.
pub const GIT_VERSION: &str = "v1.33.0-skiff";

/// Decides whether a user may do something (RBAC fills this in later).
pub trait Authorizer: Send + Sync {
    /// `Ok` to allow; the error is the 403 to send.
    fn authorize(&self, user: &User, attrs: &Attributes<'_>) -> Result<(), ApiError>;
}

/// What a request wants to do, for authorization.
pub enum Attributes<'a> {
    /// A resource request.
    Resource(&'a ResourceRequest),
    /// A non-resource path with its verb (`get`, `post`, ...).
    Path {
        /// The path.
        path: &'a str,
        /// Lower-case HTTP verb.
        verb: &'a str,
    },
}

/// Allows `system:masters` everything, every authenticated user discovery, health and version,
/// and denies the rest.
pub struct MastersOnly;

fn public_path(path: &str) -> bool {
    matches!(path, "/healthz" | "/livez" | "/readyz" | "/version")
        || path.starts_with("/healthz/")
        || path.starts_with("/livez/")
        || path.starts_with("/readyz/")
}

fn discovery_path(path: &str) -> bool {
    path == "/api"
        || path == "/apis"
        || path.starts_with("/api/")
        || path.starts_with("/apis/")
        || path.starts_with("/openapi/")
}

impl Authorizer for MastersOnly {
    fn authorize(&self, user: &User, attrs: &Attributes<'_>) -> Result<(), ApiError> {
        if user.groups.iter().any(|g| g == "system:masters") {
            return Ok(());
        }
        match attrs {
            Attributes::Path { path, .. } if public_path(path) || discovery_path(path) => Ok(()),
            Attributes::Path { path, verb } => Err(ApiError {
                code: 403,
                reason: "Forbidden",
                message: format!(
                    "forbidden: User {:?} cannot {verb} path {path:?}",
                    user.name
                ),
                details: None,
            }),
            // Upstream's default `system:basic-user` role: anyone may ask who they are and
            // what they may do.
            Attributes::Resource(r)
                if r.verb == crate::request_info::Verb::Create
                    && matches!(
                        (r.group.as_str(), r.resource.as_str()),
                        ("authentication.k8s.io", "selfsubjectreviews")
                            | ("authorization.k8s.io", "selfsubjectaccessreviews")
                            | ("authorization.k8s.io", "selfsubjectrulesreviews")
                    ) =>
            {
                Ok(())
            }
            Attributes::Resource(r) => {
                let gr = GroupResource::new(r.group.clone(), r.resource.clone());
                let what = match &r.subresource {
                    Some(s) => format!("resource \"{}/{s}\"", r.resource),
                    None => format!("resource {:?}", r.resource),
                };
                let scope = match &r.namespace {
                    Some(ns) => format!(" in the namespace {ns:?}"),
                    None => " at the cluster scope".to_owned(),
                };
                let why = format!(
                    "User {:?} cannot {} {what} in API group {:?}{scope}",
                    user.name,
                    r.verb.as_str(),
                    r.group
                );
                Err(ApiError::forbidden(
                    &gr,
                    r.name.as_deref().unwrap_or_default(),
                    &why,
                ))
            }
        }
    }
}

/// The API server's request handler.
pub struct Api {
    /// Objects in the store.
    pub storage: Storage,
    /// Who is calling.
    pub authn: Authenticator,
    /// What they may do.
    pub authz: Box<dyn Authorizer>,
    /// `host:port` clients reach this server at (for `/api`).
    pub server_address: String,
    /// The watch cache.
    pub caches: crate::cache::Caches,
    /// Request and store metrics.
    pub metrics: Arc<Metrics>,
    /// Signs and verifies service account tokens.
    pub issuer: Arc<crate::satoken::Issuer>,
}

/// A response body that keeps a watch counted as open until the client is gone.
struct Counted {
    inner: Body,
    _guard: crate::metrics::WatchGuard,
}

impl hyper::body::Body for Counted {
    type Data = bytes::Bytes;
    type Error = axum::Error;

    fn poll_frame(
        self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Option<Result<hyper::body::Frame<Self::Data>, Self::Error>>> {
        std::pin::Pin::new(&mut self.get_mut().inner).poll_frame(cx)
    }
}

fn labels_of(info: &RequestInfo, path: &str, method: &Method) -> RequestLabels {
    match info {
        RequestInfo::Resource(r) => RequestLabels {
            verb: match r.verb {
                crate::request_info::Verb::Get => "GET",
                crate::request_info::Verb::List => "LIST",
                crate::request_info::Verb::Watch => "WATCH",
                crate::request_info::Verb::Create => "POST",
                crate::request_info::Verb::Update => "PUT",
                crate::request_info::Verb::Patch => "PATCH",
                crate::request_info::Verb::Delete => "DELETE",
                crate::request_info::Verb::DeleteCollection => "DELETECOLLECTION",
            }
            .to_owned(),
            group: r.group.clone(),
            version: r.version.clone(),
            resource: r.resource.clone(),
            subresource: r.subresource.clone().unwrap_or_default(),
            scope: if r.name.is_some() {
                "resource"
            } else if r.namespace.is_some() {
                "namespace"
            } else {
                "cluster"
            }
            .to_owned(),
        },
        _ => RequestLabels {
            verb: method.as_str().to_owned(),
            group: String::new(),
            version: String::new(),
            resource: String::new(),
            subresource: path.to_owned(),
            scope: String::new(),
        },
    }
}

impl Api {
    /// Serves one request on a connection whose client certificate named `cert_user`.
    pub async fn handle(&self, req: Request<Body>, cert_user: Option<&User>) -> Response<Body> {
        let (parts, body) = req.into_parts();
        let path = parts.uri.path().to_owned();
        let auth_header = parts
            .headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok());
        let user = match cert_user {
            Some(u) => u.clone(),
            None => match self
                .authenticate(auth_header, self.issuer.api_audiences())
                .await
            {
                Ok(u) => u,
                Err(_) => return h::error(&ApiError::unauthorized()),
            },
        };
        if user.is_anonymous() && !public_path(&path) {
            return h::error(&ApiError::unauthorized());
        }
        let started = std::time::Instant::now();
        let query = Query::parse(parts.uri.query());
        let info = request_info::parse(&parts.method, &path, query.get("watch"));
        let labels = labels_of(&info, &path, &parts.method);
        let mut resp = self.route(info, parts, body, &path, &query, &user).await;
        self.metrics
            .request(labels.clone(), resp.status().as_u16(), started.elapsed());
        if labels.verb == "WATCH" && resp.status() == StatusCode::OK {
            let inner = std::mem::replace(resp.body_mut(), Body::empty());
            *resp.body_mut() = Body::new(Counted {
                inner,
                _guard: self.metrics.watch_started(),
            });
        }
        resp
    }

    /// Who an `Authorization` header names: a service account token of this cluster (valid
    /// for one of `audiences`), else a token of the static token file; anonymous without a
    /// bearer token.
    pub async fn authenticate(
        &self,
        header: Option<&str>,
        audiences: &[String],
    ) -> Result<User, crate::authn::AuthnError> {
        let token = header
            .map(str::trim)
            .and_then(|h| h.split_once(' '))
            .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
            .map(|(_, t)| t.trim())
            .filter(|t| !t.is_empty());
        if let Some(token) = token {
            let now = jiff::Timestamp::now().as_second();
            match self.issuer.verify(token, now, audiences) {
                Ok(Some(claims)) => {
                    return crate::satoken::user_of(&self.storage, &claims)
                        .await
                        .map_err(|_| crate::authn::AuthnError::InvalidToken);
                }
                Ok(None) => {}
                Err(_) => return Err(crate::authn::AuthnError::InvalidToken),
            }
        }
        self.authn.authenticate(None, header)
    }

    async fn route(
        &self,
        info: RequestInfo,
        parts: http::request::Parts,
        body: Body,
        path: &str,
        query: &Query,
        user: &User,
    ) -> Response<Body> {
        let path = path.to_owned();
        let attrs = match &info {
            RequestInfo::Resource(r) => Attributes::Resource(r),
            _ => Attributes::Path {
                path: &path,
                verb: method_verb(&parts.method),
            },
        };
        if let Err(e) = self.authz.authorize(user, &attrs) {
            return h::error(&e);
        }
        let result = match info {
            RequestInfo::NonResource(p) => {
                self.non_resource(&parts.method, &p, &parts.headers, query)
                    .await
            }
            RequestInfo::Discovery {
                group,
                version,
                legacy,
            } => self.discovery(&parts.headers, group, version, legacy),
            RequestInfo::Resource(r) => {
                let Some(res) = registry::lookup(&r.group, &r.version, &r.resource) else {
                    return h::error(&ApiError {
                        code: 404,
                        reason: "NotFound",
                        message: "the server could not find the requested resource".into(),
                        details: None,
                    });
                };
                if res.gvk.group.is_empty()
                    && res.gvk.kind == "ServiceAccount"
                    && r.subresource.as_deref() == Some("token")
                    && r.verb == crate::request_info::Verb::Create
                {
                    return self
                        .token_request(&r, &parts.headers, body)
                        .await
                        .unwrap_or_else(|e| h::error(&e));
                }
                if crate::reviews::is_review(res) {
                    return self
                        .review(res, &r, &parts.headers, body, user)
                        .await
                        .unwrap_or_else(|e| h::error(&e));
                }
                let warnings = parking_lot::Mutex::new(Vec::new());
                let ctx = Ctx {
                    info: res,
                    req: &r,
                    query,
                    headers: &parts.headers,
                    method: &parts.method,
                    warnings: &warnings,
                    caches: &self.caches,
                };
                let mut resp = rest::handle(&self.storage, ctx, body)
                    .await
                    .unwrap_or_else(|e| h::error(&e));
                for w in warnings.into_inner() {
                    let text = format!("299 - {}", serde_json::Value::String(w));
                    if let Ok(v) = HeaderValue::from_str(&text) {
                        resp.headers_mut().append(header::WARNING, v);
                    }
                }
                Ok(resp)
            }
        };
        result.unwrap_or_else(|e| h::error(&e))
    }

    /// Creates (answers) a review: authentication and authorization questions, never stored.
    async fn review(
        &self,
        info: &'static registry::ResourceInfo,
        r: &ResourceRequest,
        headers: &HeaderMap,
        body: Body,
        user: &User,
    ) -> Result<Response<Body>, ApiError> {
        if r.verb != crate::request_info::Verb::Create || r.name.is_some() {
            return Err(ApiError::method_not_supported(
                &GroupResource::new(info.gvk.group, info.plural),
                r.verb.as_str(),
            ));
        }
        let bytes = h::read_body(body).await?;
        let mut obj = h::decode_object(h::media_type(headers).as_deref(), &bytes)?;
        if let Some(m) = obj.as_object_mut() {
            m.insert("apiVersion".into(), json!(info.gvk.api_version()));
            m.insert("kind".into(), json!(info.gvk.kind));
            m.entry("metadata").or_insert_with(|| json!({}));
        }
        // A TokenReview asks who a token belongs to, for the audiences it names.
        let reviewed = if info.gvk.kind == "TokenReview" {
            let token = crate::object::path(&obj, "spec.token")
                .and_then(serde_json::Value::as_str)
                .unwrap_or("");
            let mut audiences: Vec<String> = crate::object::path(&obj, "spec.audiences")
                .and_then(serde_json::Value::as_array)
                .map(|a| {
                    a.iter()
                        .filter_map(|v| v.as_str().map(str::to_owned))
                        .collect()
                })
                .unwrap_or_default();
            if audiences.is_empty() {
                audiences = self.issuer.api_audiences().to_vec();
            }
            let header = format!("Bearer {token}");
            match self.authenticate(Some(&header), &audiences).await {
                Ok(u) if !token.is_empty() && !u.is_anonymous() => Some((u, audiences)),
                _ => None,
            }
        } else {
            None
        };
        let out = crate::reviews::answer(
            info,
            obj,
            user,
            r.namespace.as_deref(),
            reviewed.as_ref(),
            self.authz.as_ref(),
        )?;
        Ok(h::json(StatusCode::CREATED, &out))
    }

    /// `POST .../serviceaccounts/{name}/token`.
    async fn token_request(
        &self,
        r: &ResourceRequest,
        headers: &HeaderMap,
        body: Body,
    ) -> Result<Response<Body>, ApiError> {
        let bytes = h::read_body(body).await?;
        let obj = h::decode_object(h::media_type(headers).as_deref(), &bytes)?;
        let (Some(ns), Some(name)) = (r.namespace.as_deref(), r.name.as_deref()) else {
            return Err(ApiError::bad_request("a namespace and a name are required"));
        };
        let out = crate::satoken::token_request(&self.storage, &self.issuer, ns, name, obj).await?;
        Ok(h::json(StatusCode::CREATED, &out))
    }

    async fn non_resource(
        &self,
        method: &Method,
        path: &str,
        headers: &HeaderMap,
        query: &Query,
    ) -> Result<Response<Body>, ApiError> {
        if method != Method::GET && method != Method::HEAD {
            return Err(ApiError {
                code: 405,
                reason: "MethodNotAllowed",
                message: format!("{method} is not allowed on {path}"),
                details: None,
            });
        }
        match path {
            "/healthz" | "/livez" | "/readyz" => Ok(self.health(path, None, query).await),
            "/metrics" => Ok(h::text(StatusCode::OK, self.metrics.render())),
            "/version" => Ok(h::json(StatusCode::OK, &version())),
            "/.well-known/openid-configuration" => {
                Ok(h::json(StatusCode::OK, &self.issuer.discovery()))
            }
            "/openid/v1/jwks" => Ok(h::json_bytes(
                StatusCode::OK,
                serde_json::to_vec(&self.issuer.jwks()).unwrap_or_default(),
                "application/jwk-set+json",
            )),
            "/openapi/v3" | "/openapi/v3/" => Ok(h::json(StatusCode::OK, &crate::openapi::index())),
            p if p.starts_with("/openapi/v3/") => {
                let doc =
                    crate::openapi::document(&p["/openapi/v3/".len()..]).ok_or_else(|| {
                        ApiError {
                            code: 404,
                            reason: "NotFound",
                            message: "the server could not find the requested resource".into(),
                            details: None,
                        }
                    })?;
                let etag = format!("\"{}\"", doc.hash);
                let fresh = headers
                    .get(header::IF_NONE_MATCH)
                    .and_then(|v| v.to_str().ok())
                    .is_some_and(|v| v == etag);
                let mut resp = if fresh {
                    let mut r = Response::new(Body::empty());
                    *r.status_mut() = StatusCode::NOT_MODIFIED;
                    r
                } else {
                    h::json_bytes(StatusCode::OK, doc.body.to_vec(), "application/json")
                };
                if let Ok(v) = HeaderValue::from_str(&etag) {
                    resp.headers_mut().insert(header::ETAG, v);
                }
                Ok(resp)
            }
            p if p.starts_with("/healthz/")
                || p.starts_with("/livez/")
                || p.starts_with("/readyz/") =>
            {
                Ok(h::text(StatusCode::OK, "ok"))
            }
            _ => Err(ApiError {
                code: 404,
                reason: "NotFound",
                message: "the server could not find the requested resource".into(),
                details: None,
            }),
        }
    }

    /// `/healthz`, `/livez` and `/readyz` with named checks (`?verbose` lists them, as
    /// upstream's `[+]name ok` lines; `/readyz/<name>` runs one).
    async fn health(&self, base: &str, only: Option<&str>, query: &Query) -> Response<Body> {
        let mut checks: Vec<(&str, bool)> = vec![("ping", true)];
        let store_ok = self.storage.revision().await.is_ok();
        checks.push(("etcd", store_ok));
        if base == "/readyz" || base == "/healthz" {
            checks.push(("informer-sync", self.caches.is_ready()));
        }
        if let Some(name) = only {
            return match checks.iter().find(|(n, _)| *n == name) {
                Some((_, true)) => h::text(StatusCode::OK, "ok"),
                Some((n, false)) => h::text(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    format!("internal server error: {n} check failed"),
                ),
                None => h::text(StatusCode::NOT_FOUND, "not found"),
            };
        }
        let ok = checks.iter().all(|(_, ok)| *ok);
        let status = if ok {
            StatusCode::OK
        } else {
            StatusCode::INTERNAL_SERVER_ERROR
        };
        let what = &base[1..];
        if query.get("verbose").is_some() || !ok {
            let mut text = String::new();
            for (n, good) in &checks {
                if *good {
                    text.push_str(&format!("[+]{n} ok\n"));
                } else {
                    text.push_str(&format!("[-]{n} failed: reason withheld\n"));
                }
            }
            if ok {
                text.push_str(&format!("{what} check passed\n"));
            } else {
                text.push_str(&format!("{what} check failed\n"));
            }
            return h::text(status, text);
        }
        h::text(status, "ok")
    }

    fn discovery(
        &self,
        headers: &HeaderMap,
        group: Option<String>,
        version: Option<String>,
        legacy: bool,
    ) -> Result<Response<Body>, ApiError> {
        let not_found = || ApiError {
            code: 404,
            reason: "NotFound",
            message: "the server could not find the requested resource".into(),
            details: None,
        };
        let accept = headers
            .get(header::ACCEPT)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("");
        let (doc, content_type) = match (group, version) {
            (None, None) => match discovery::wants_aggregated(accept) {
                Some(v) => (
                    discovery::aggregated(legacy, v),
                    if v == "v2" {
                        discovery::AGGREGATED_V2
                    } else {
                        discovery::AGGREGATED_V2BETA1
                    },
                ),
                None if legacy => (
                    discovery::api_versions(&self.server_address),
                    "application/json",
                ),
                None => (discovery::api_group_list(), "application/json"),
            },
            (Some(g), None) => (
                discovery::api_group(&g).ok_or_else(not_found)?,
                "application/json",
            ),
            (Some(g), Some(v)) => (
                discovery::api_resource_list(&g, &v).ok_or_else(not_found)?,
                "application/json",
            ),
            (None, Some(_)) => return Err(not_found()),
        };
        let body = serde_json::to_vec(&doc).map_err(ApiError::internal)?;
        let etag = format!("\"{:016X}\"", fnv(&body));
        let matches = headers
            .get(header::IF_NONE_MATCH)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v == etag);
        let mut resp = if matches {
            let mut r = Response::new(Body::empty());
            *r.status_mut() = StatusCode::NOT_MODIFIED;
            r
        } else {
            h::json_bytes(StatusCode::OK, body, content_type)
        };
        if let Ok(v) = HeaderValue::from_str(&etag) {
            resp.headers_mut().insert(header::ETAG, v);
        }
        resp.headers_mut()
            .insert(header::VARY, HeaderValue::from_static("Accept"));
        Ok(resp)
    }
}

fn method_verb(m: &Method) -> &'static str {
    match *m {
        Method::GET | Method::HEAD => "get",
        Method::POST => "post",
        Method::PUT => "put",
        Method::PATCH => "patch",
        Method::DELETE => "delete",
        _ => "unknown",
    }
}

fn fnv(data: &[u8]) -> u64 {
    data.iter().fold(0xcbf2_9ce4_8422_2325u64, |h, b| {
        (h ^ u64::from(*b)).wrapping_mul(0x0100_0000_01b3)
    })
}

/// The `/version` document.
pub fn version() -> Value {
    json!({
        "major": "1",
        "minor": KUBE_MINOR,
        "gitVersion": GIT_VERSION,
        "gitCommit": env!("CARGO_PKG_VERSION"),
        "gitTreeState": "clean",
        "buildDate": "1970-01-01T00:00:00Z",
        "goVersion": "rust",
        "compiler": "rustc",
        "platform": format!("{}/{}", std::env::consts::OS, match std::env::consts::ARCH {
            "x86_64" => "amd64",
            "aarch64" => "arm64",
            other => other,
        }),
    })
}
