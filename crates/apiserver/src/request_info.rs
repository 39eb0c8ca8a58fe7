//! What a request asks for, read from its method, path and query (upstream's `RequestInfo`).
//!
//! Pure: no IO, so every path shape is unit-tested.

use http::Method;

/// The verb of a resource request, as authorization and audit name it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Verb {
    /// GET of one object (or of a subresource).
    Get,
    /// GET of a collection.
    List,
    /// GET of a collection or object with `watch=true`, or under the legacy `/watch/` prefix.
    Watch,
    /// POST.
    Create,
    /// PUT.
    Update,
    /// PATCH.
    Patch,
    /// DELETE of one object.
    Delete,
    /// DELETE of a collection.
    DeleteCollection,
}

impl Verb {
    /// The lower-case name (`get`, `deletecollection`, ...).
    pub fn as_str(self) -> &'static str {
        match self {
            Verb::Get => "get",
            Verb::List => "list",
            Verb::Watch => "watch",
            Verb::Create => "create",
            Verb::Update => "update",
            Verb::Patch => "patch",
            Verb::Delete => "delete",
            Verb::DeleteCollection => "deletecollection",
        }
    }
}

/// A request for a resource.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ResourceRequest {
    /// The verb.
    pub verb: Verb,
    /// API group ("" for core).
    pub group: String,
    /// API version.
    pub version: String,
    /// Plural resource name.
    pub resource: String,
    /// Subresource (`status`, `scale`, `log`, ...).
    pub subresource: Option<String>,
    /// Namespace from the path (for the `namespaces` resource itself: none).
    pub namespace: Option<String>,
    /// Object name from the path.
    pub name: Option<String>,
}

/// What the path addresses.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum RequestInfo {
    /// A resource, collection or subresource.
    Resource(ResourceRequest),
    /// A discovery document of the API: `/api`, `/apis`, `/api/v1`, `/apis/<g>`, `/apis/<g>/<v>`.
    Discovery {
        /// Group (`None` for `/api` and `/apis`, `""` for `/api/v1`).
        group: Option<String>,
        /// Version, when the path names one.
        version: Option<String>,
        /// Whether the path is under `/api` (core) rather than `/apis`.
        legacy: bool,
    },
    /// Anything else (`/version`, `/healthz`, `/openapi/v3`, `/metrics`, ...).
    NonResource(String),
}

/// Reads a request. `watch` is the value of the `watch` query parameter.
pub fn parse(method: &Method, path: &str, watch_param: Option<&str>) -> RequestInfo {
    let trimmed = path.trim_matches('/');
    let parts: Vec<&str> = if trimmed.is_empty() {
        Vec::new()
    } else {
        trimmed.split('/').collect()
    };
    let (group, version, rest, legacy) = match parts.as_slice() {
        ["api"] => {
            return RequestInfo::Discovery {
                group: None,
                version: None,
                legacy: true,
            };
        }
        ["apis"] => {
            return RequestInfo::Discovery {
                group: None,
                version: None,
                legacy: false,
            };
        }
        ["api", version] => {
            return RequestInfo::Discovery {
                group: Some(String::new()),
                version: Some((*version).to_owned()),
                legacy: true,
            };
        }
        ["apis", group] => {
            return RequestInfo::Discovery {
                group: Some((*group).to_owned()),
                version: None,
                legacy: false,
            };
        }
        ["apis", group, version] => {
            return RequestInfo::Discovery {
                group: Some((*group).to_owned()),
                version: Some((*version).to_owned()),
                legacy: false,
            };
        }
        ["api", version, rest @ ..] => ("", *version, rest, true),
        ["apis", group, version, rest @ ..] => (*group, *version, rest, false),
        _ => return RequestInfo::NonResource(path.to_owned()),
    };
    let _ = legacy;
    let mut rest = rest;
    let mut watch_prefix = false;
    if rest.first() == Some(&"watch") {
        watch_prefix = true;
        rest = &rest[1..];
    }
    let mut namespace = None;
    if rest.first() == Some(&"namespaces") && rest.len() > 1 {
        namespace = Some(rest[1].to_owned());
        // `/namespaces/<ns>/<resource>...` addresses a namespaced resource; `namespaces/<name>`
        // and its `status` and `finalize` subresources address the namespace itself.
        if rest.len() > 2 && !matches!(rest[2], "status" | "finalize") {
            rest = &rest[2..];
        } else {
            namespace = None;
        }
    }
    let (resource, name, subresource) = match rest {
        [] => return RequestInfo::NonResource(path.to_owned()),
        [resource] => (*resource, None, None),
        [resource, name] => (*resource, Some(*name), None),
        [resource, name, sub, ..] => (*resource, Some(*name), Some(*sub)),
    };
    let watching = watch_prefix || matches!(watch_param, Some(v) if v == "true" || v == "1");
    let verb = match *method {
        Method::POST => Verb::Create,
        Method::PUT => Verb::Update,
        Method::PATCH => Verb::Patch,
        Method::DELETE if name.is_some() => Verb::Delete,
        Method::DELETE => Verb::DeleteCollection,
        _ if watching => Verb::Watch,
        _ if name.is_some() => Verb::Get,
        _ => Verb::List,
    };
    RequestInfo::Resource(ResourceRequest {
        verb,
        group: group.to_owned(),
        version: version.to_owned(),
        resource: resource.to_owned(),
        subresource: subresource.map(str::to_owned),
        namespace,
        name: name.map(str::to_owned),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn res(method: Method, path: &str, watch: Option<&str>) -> ResourceRequest {
        match parse(&method, path, watch) {
            RequestInfo::Resource(r) => r,
            other => panic!("{path}: {other:?}"),
        }
    }

    fn short(r: &ResourceRequest) -> (Verb, &str, &str, Option<&str>, Option<&str>, Option<&str>) {
        (
            r.verb,
            r.group.as_str(),
            r.resource.as_str(),
            r.namespace.as_deref(),
            r.name.as_deref(),
            r.subresource.as_deref(),
        )
    }

    #[test]
    #[allow(clippy::type_complexity)]
    fn core_paths() {
        let cases: &[(
            Method,
            &str,
            Option<&str>,
            (Verb, &str, &str, Option<&str>, Option<&str>, Option<&str>),
        )] = &[
            (
                Method::GET,
                "/api/v1/pods",
                None,
                (Verb::List, "", "pods", None, None, None),
            ),
            (
                Method::GET,
                "/api/v1/namespaces/default/pods",
                None,
                (Verb::List, "", "pods", Some("default"), None, None),
            ),
            (
                Method::GET,
                "/api/v1/namespaces/default/pods/p",
                None,
                (Verb::Get, "", "pods", Some("default"), Some("p"), None),
            ),
            (
                Method::GET,
                "/api/v1/namespaces/default/pods/p/log",
                None,
                (
                    Verb::Get,
                    "",
                    "pods",
                    Some("default"),
                    Some("p"),
                    Some("log"),
                ),
            ),
            (
                Method::POST,
                "/api/v1/namespaces/default/pods/p/binding",
                None,
                (
                    Verb::Create,
                    "",
                    "pods",
                    Some("default"),
                    Some("p"),
                    Some("binding"),
                ),
            ),
            (
                Method::GET,
                "/api/v1/namespaces/default/pods",
                Some("true"),
                (Verb::Watch, "", "pods", Some("default"), None, None),
            ),
            (
                Method::GET,
                "/api/v1/watch/namespaces/default/pods",
                None,
                (Verb::Watch, "", "pods", Some("default"), None, None),
            ),
            (
                Method::GET,
                "/api/v1/namespaces/default/pods",
                Some("false"),
                (Verb::List, "", "pods", Some("default"), None, None),
            ),
            (
                Method::DELETE,
                "/api/v1/namespaces/default/pods",
                None,
                (
                    Verb::DeleteCollection,
                    "",
                    "pods",
                    Some("default"),
                    None,
                    None,
                ),
            ),
            (
                Method::DELETE,
                "/api/v1/namespaces/default/pods/p",
                None,
                (Verb::Delete, "", "pods", Some("default"), Some("p"), None),
            ),
            (
                Method::PUT,
                "/api/v1/nodes/n1/status",
                None,
                (Verb::Update, "", "nodes", None, Some("n1"), Some("status")),
            ),
            (
                Method::PATCH,
                "/api/v1/nodes/n1",
                None,
                (Verb::Patch, "", "nodes", None, Some("n1"), None),
            ),
            // The namespaces resource itself.
            (
                Method::GET,
                "/api/v1/namespaces",
                None,
                (Verb::List, "", "namespaces", None, None, None),
            ),
            (
                Method::GET,
                "/api/v1/namespaces/kube-system",
                None,
                (Verb::Get, "", "namespaces", None, Some("kube-system"), None),
            ),
            (
                Method::PUT,
                "/api/v1/namespaces/ns1/finalize",
                None,
                (
                    Verb::Update,
                    "",
                    "namespaces",
                    None,
                    Some("ns1"),
                    Some("finalize"),
                ),
            ),
            (
                Method::GET,
                "/api/v1/namespaces/ns1/status",
                None,
                (
                    Verb::Get,
                    "",
                    "namespaces",
                    None,
                    Some("ns1"),
                    Some("status"),
                ),
            ),
            (
                Method::POST,
                "/api/v1/namespaces",
                None,
                (Verb::Create, "", "namespaces", None, None, None),
            ),
        ];
        for (m, path, w, want) in cases {
            let r = res(m.clone(), path, *w);
            assert_eq!(short(&r), *want, "{m} {path}");
            assert_eq!(r.version, "v1");
        }
    }

    #[test]
    fn group_paths() {
        let r = res(
            Method::GET,
            "/apis/apps/v1/namespaces/ns/deployments/web/scale",
            None,
        );
        assert_eq!(
            short(&r),
            (
                Verb::Get,
                "apps",
                "deployments",
                Some("ns"),
                Some("web"),
                Some("scale")
            )
        );
        let r = res(
            Method::GET,
            "/apis/rbac.authorization.k8s.io/v1/clusterroles",
            Some("1"),
        );
        assert_eq!(
            short(&r),
            (
                Verb::Watch,
                "rbac.authorization.k8s.io",
                "clusterroles",
                None,
                None,
                None
            )
        );
        let r = res(Method::GET, "/apis/apps/v1/deployments", None);
        assert_eq!(r.verb, Verb::List);
    }

    #[test]
    fn discovery_and_other_paths() {
        assert_eq!(
            parse(&Method::GET, "/api", None),
            RequestInfo::Discovery {
                group: None,
                version: None,
                legacy: true
            }
        );
        assert_eq!(
            parse(&Method::GET, "/apis/apps/v1", None),
            RequestInfo::Discovery {
                group: Some("apps".into()),
                version: Some("v1".into()),
                legacy: false
            }
        );
        assert_eq!(
            parse(&Method::GET, "/api/v1/", None),
            RequestInfo::Discovery {
                group: Some(String::new()),
                version: Some("v1".into()),
                legacy: true
            }
        );
        assert_eq!(
            parse(&Method::GET, "/version", None),
            RequestInfo::NonResource("/version".into())
        );
        assert_eq!(
            parse(&Method::GET, "/", None),
            RequestInfo::NonResource("/".into())
        );
        assert_eq!(
            parse(&Method::GET, "/api/v1/watch", None),
            RequestInfo::NonResource("/api/v1/watch".into())
        );
    }
}
