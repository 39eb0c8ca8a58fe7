//! The generic REST handlers every built-in resource shares: get, list, watch, create, update,
//! patch, delete and deletecollection, with upstream's object bookkeeping (names, uid,
//! timestamps, generation, resourceVersion preconditions, finalizers and graceful deletion).

use crate::apply;
use crate::convert;
use crate::defaults;
use crate::http::{self as h, Query};
use crate::object;
use crate::request_info::{ResourceRequest, Verb};
use crate::storage::{self, Continue, Storage};
use crate::strategy;
use crate::table::{self, IncludeObject};
use crate::validate;
use crate::watch;
use axum::body::Body;
use http::{HeaderMap, Method, Response, StatusCode};
use serde_json::{Value, json};
use skiff_core::fields::FieldSelector;
use skiff_core::labels::{self, Selector};
use skiff_core::registry::ResourceInfo;
use skiff_core::status::{ApiError, FieldError, GroupKind};

/// Everything a handler needs to know about one request.
pub struct Ctx<'a> {
    /// The resource.
    pub info: &'static ResourceInfo,
    /// What the path asked for.
    pub req: &'a ResourceRequest,
    /// Query parameters.
    pub query: &'a Query,
    /// Request headers.
    pub headers: &'a HeaderMap,
    /// The method (to tell PUT from PATCH on subresources).
    pub method: &'a Method,
    /// Warnings for the client (sent as `Warning` headers).
    pub warnings: &'a parking_lot::Mutex<Vec<String>>,
    /// The watch cache.
    pub caches: &'a crate::cache::Caches,
}

impl Ctx<'_> {
    pub(crate) fn ns(&self) -> Option<&str> {
        if self.info.namespaced {
            self.req.namespace.as_deref()
        } else {
            None
        }
    }

    fn gk(&self) -> GroupKind {
        GroupKind::new(self.info.gvk.group, self.info.gvk.kind)
    }

    pub(crate) fn dry_run(&self) -> bool {
        self.query.all("dryRun").any(|v| v == "All")
    }
}

/// Kinds whose `metadata.generation` tracks changes of their spec.
fn tracks_generation(info: &ResourceInfo) -> bool {
    matches!(
        (info.gvk.group, info.gvk.kind),
        ("apps", _)
            | ("batch", _)
            | ("autoscaling", _)
            | ("policy", "PodDisruptionBudget")
            | ("networking.k8s.io", "Ingress" | "NetworkPolicy")
            | ("", "ReplicationController")
    )
}

/// Whether the main resource ignores `status` (it has a status subresource).
fn has_status(info: &ResourceInfo) -> bool {
    info.subresource("status").is_some()
}

/// Serves a resource request.
pub async fn handle(
    storage: &Storage,
    ctx: Ctx<'_>,
    body: Body,
) -> Result<Response<Body>, ApiError> {
    let req = ctx.req;
    // Scope: namespaced objects are addressed inside a namespace, cluster ones outside.
    if ctx.info.namespaced
        && req.namespace.is_none()
        && (req.name.is_some() || matches!(req.verb, Verb::Create | Verb::DeleteCollection))
    {
        return Err(not_found_path());
    }
    if !ctx.info.namespaced && req.namespace.is_some() && req.gvk_resource_is_not_namespaces() {
        return Err(not_found_path());
    }
    if let Some(sub) = &req.subresource {
        return subresource(storage, &ctx, sub, body).await;
    }
    // The legacy `bindings` collection binds pods; nothing of kind Binding is stored.
    if ctx.info.gvk.group.is_empty() && ctx.info.gvk.kind == "Binding" {
        if req.verb != Verb::Create {
            return Err(ApiError::method_not_supported(
                &storage::group_resource(ctx.info),
                req.verb.as_str(),
            ));
        }
        return crate::subresources::binding(storage, &ctx, None, body).await;
    }
    if !ctx.info.allows(req.verb.as_str()) {
        return Err(ApiError::method_not_supported(
            &storage::group_resource(ctx.info),
            req.verb.as_str(),
        ));
    }
    match req.verb {
        Verb::Get => {
            let obj = storage
                .get(ctx.info, ctx.ns(), req.name.as_deref().unwrap_or_default())
                .await?;
            Ok(respond_object(&ctx, StatusCode::OK, &obj))
        }
        Verb::List => list(storage, &ctx).await,
        Verb::Watch => watch::serve(&ctx).await,
        Verb::Create => {
            let bytes = h::read_body(body).await?;
            let obj = h::decode_object(h::media_type(ctx.headers).as_deref(), &bytes)?;
            let created = create(storage, &ctx, obj).await?;
            Ok(respond_object(&ctx, StatusCode::CREATED, &created))
        }
        Verb::Update => {
            let bytes = h::read_body(body).await?;
            let obj = h::decode_object(h::media_type(ctx.headers).as_deref(), &bytes)?;
            let (out, created) = update(storage, &ctx, Some(obj), None).await?;
            let code = if created {
                StatusCode::CREATED
            } else {
                StatusCode::OK
            };
            Ok(respond_object(&ctx, code, &out))
        }
        Verb::Patch => {
            let bytes = h::read_body(body).await?;
            let patch = Patch::parse(ctx.headers, &bytes)?;
            let (out, created) = update(storage, &ctx, None, Some(&patch)).await?;
            let code = if created {
                StatusCode::CREATED
            } else {
                StatusCode::OK
            };
            Ok(respond_object(&ctx, code, &out))
        }
        Verb::Delete => {
            let bytes = h::read_body(body).await?;
            let opts =
                DeleteOptions::parse(h::media_type(ctx.headers).as_deref(), &bytes, ctx.query)?;
            let name = req.name.as_deref().unwrap_or_default();
            let (obj, gone) = delete(storage, &ctx, name, &opts).await?;
            // A deletion left to finalizers or a grace period is accepted, not done.
            let code = if gone {
                StatusCode::OK
            } else {
                StatusCode::ACCEPTED
            };
            Ok(respond_object(&ctx, code, &obj))
        }
        Verb::DeleteCollection => {
            let bytes = h::read_body(body).await?;
            let opts =
                DeleteOptions::parse(h::media_type(ctx.headers).as_deref(), &bytes, ctx.query)?;
            let keep = filter(&ctx)?;
            let at = storage.revision().await?;
            let page = storage.list(ctx.info, ctx.ns(), 0, None, at, &keep).await?;
            let mut items = Vec::new();
            for obj in page.items {
                let name = object::name(&obj).unwrap_or_default().to_owned();
                match delete(storage, &ctx, &name, &opts).await {
                    Ok((o, _)) => items.push(o),
                    Err(e) if e.code == 404 => {}
                    Err(e) => return Err(e),
                }
            }
            let list = list_object(ctx.info, items, &at.to_string(), None, None);
            Ok(h::json(StatusCode::OK, &list))
        }
    }
}

impl ResourceRequest {
    fn gvk_resource_is_not_namespaces(&self) -> bool {
        self.resource != "namespaces"
    }
}

fn not_found_path() -> ApiError {
    ApiError {
        code: 404,
        reason: "NotFound",
        message: "the server could not find the requested resource".into(),
        details: None,
    }
}

/// A single object response (Table when asked for).
pub fn respond_object(ctx: &Ctx<'_>, code: StatusCode, obj: &Value) -> Response<Body> {
    if h::wants_table(ctx.headers) && !obj.is_null() {
        let rv = object::meta_str(obj, "resourceVersion").unwrap_or_default();
        let t = table::table(
            ctx.info,
            std::slice::from_ref(obj),
            rv,
            None,
            IncludeObject::parse(ctx.query.get("includeObject")),
            true,
        );
        return h::json(code, &t);
    }
    h::json(code, obj)
}

/// The label and field selectors of a request as one predicate.
pub fn filter(ctx: &Ctx<'_>) -> Result<impl Fn(&Value) -> bool + Send + Sync + 'static, ApiError> {
    let labels: Selector = match ctx.query.get("labelSelector") {
        Some(s) => labels::parse(s).map_err(|e| ApiError::bad_request(e.message().to_owned()))?,
        None => Selector::everything(),
    };
    let fields = match ctx.query.get("fieldSelector") {
        Some(s) => {
            FieldSelector::parse(s).map_err(|e| ApiError::bad_request(e.message().to_owned()))?
        }
        None => FieldSelector::everything(),
    };
    let info = ctx.info;
    let probe = json!({});
    for r in fields.requirements() {
        if validate::field_label_value(info, &probe, &r.key).is_none() {
            return Err(ApiError::bad_request(format!(
                "field label not supported: {}",
                r.key
            )));
        }
    }
    Ok(move |obj: &Value| {
        (labels.is_empty() || labels.matches(&object::labels(obj)))
            && (fields.is_empty() || fields.matches(|k| validate::field_label_value(info, obj, k)))
    })
}

/// A list object (`PodList`) around items.
pub fn list_object(
    info: &ResourceInfo,
    items: Vec<Value>,
    rv: &str,
    cont: Option<&str>,
    remaining: Option<i64>,
) -> Value {
    let mut metadata = json!({"resourceVersion": rv});
    if let Some(c) = cont {
        metadata["continue"] = json!(c);
    }
    if let Some(r) = remaining {
        metadata["remainingItemCount"] = json!(r);
    }
    json!({
        "kind": info.list_kind(),
        "apiVersion": info.gvk.api_version(),
        "metadata": metadata,
        "items": items,
    })
}

/// Which revision a read is served at, from `resourceVersion` and `resourceVersionMatch`.
pub async fn read_revision(storage: &Storage, query: &Query) -> Result<i64, ApiError> {
    let current = storage.revision().await?;
    let rv = query.get("resourceVersion").unwrap_or("");
    let matching = query.get("resourceVersionMatch").unwrap_or("");
    if rv.is_empty() || rv == "0" {
        if matching == "Exact" {
            return Err(ApiError::bad_request(
                "resourceVersionMatch: Forbidden: resourceVersionMatch \"Exact\" is forbidden for resourceVersion \"0\"",
            ));
        }
        return Ok(current);
    }
    let n: i64 = rv
        .parse()
        .map_err(|_| ApiError::bad_request(format!("invalid resource version {rv:?}")))?;
    match matching {
        "Exact" => Ok(n),
        "" | "NotOlderThan" => {
            if n > current {
                Err(ApiError::timeout(&format!(
                    "Too large resource version: {n}, current: {current}"
                )))
            } else {
                Ok(current)
            }
        }
        other => Err(ApiError::bad_request(format!(
            "resourceVersionMatch: Unsupported value: {other:?}: supported values: \"Exact\", \"NotOlderThan\""
        ))),
    }
}

async fn list(storage: &Storage, ctx: &Ctx<'_>) -> Result<Response<Body>, ApiError> {
    let keep = filter(ctx)?;
    let limit: usize = match ctx.query.get("limit") {
        Some(l) if !l.is_empty() => l
            .parse::<i64>()
            .map_err(|_| ApiError::bad_request(format!("invalid limit {l:?}")))?
            .max(0) as usize,
        _ => 0,
    };
    let cont = match ctx.query.get("continue") {
        Some(c) if !c.is_empty() => Some(Continue::decode(c)?),
        _ => None,
    };
    if limit == 0 && cont.is_none() && ctx.query.get("resourceVersionMatch") != Some("Exact") {
        return list_from_cache(ctx, &keep).await;
    }
    let at = match &cont {
        Some(c) => c.revision,
        None => read_revision(storage, ctx.query).await?,
    };
    let page = storage
        .list(ctx.info, ctx.ns(), limit, cont, at, &keep)
        .await
        .map_err(|e| {
            if e.code == 410 {
                ApiError::expired(
                    "The provided continue parameter is too old to display a consistent list result. You can start a new list without the continue parameter.",
                )
            } else {
                e
            }
        })?;
    let rv = page.revision.to_string();
    let next = page.next.as_ref().map(Continue::encode);
    if h::wants_table(ctx.headers) {
        let t = table::table(
            ctx.info,
            &page.items,
            &rv,
            next.as_deref(),
            IncludeObject::parse(ctx.query.get("includeObject")),
            true,
        );
        return Ok(h::json(StatusCode::OK, &t));
    }
    let list = list_object(ctx.info, page.items, &rv, next.as_deref(), page.remaining);
    Ok(h::json(StatusCode::OK, &list))
}

/// An unpaged list served from the watch cache: consistent for `resourceVersion` "", any
/// recent state for "0", at least the given revision otherwise.
async fn list_from_cache(
    ctx: &Ctx<'_>,
    keep: &(dyn Fn(&Value) -> bool + Send + Sync),
) -> Result<Response<Body>, ApiError> {
    let rv = ctx.query.get("resourceVersion").unwrap_or("");
    let cache = match rv {
        "" => ctx.caches.consistent(ctx.info).await?,
        "0" => ctx.caches.get(ctx.info).await?,
        n => {
            let n: i64 = n
                .parse()
                .map_err(|_| ApiError::bad_request(format!("invalid resource version {n:?}")))?;
            let cache = ctx.caches.get(ctx.info).await?;
            cache.wait_for(n).await?;
            cache
        }
    };
    let snap = cache.snapshot(&storage::scope_prefix(ctx.info, ctx.ns()));
    let rv = snap.rv.to_string();
    let selecting = ctx
        .query
        .get("labelSelector")
        .is_some_and(|s| !s.is_empty())
        || ctx
            .query
            .get("fieldSelector")
            .is_some_and(|s| !s.is_empty());
    if !selecting && !h::wants_table(ctx.headers) && !crate::convert::converts(ctx.info) {
        // Splice the cached JSON into the list without decoding it.
        let mut head = list_object(ctx.info, Vec::new(), &rv, None, None);
        if let Some(m) = head.as_object_mut() {
            m.remove("items");
        }
        let mut body = serde_json::to_vec(&head).map_err(ApiError::internal)?;
        body.pop();
        body.extend_from_slice(b",\"items\":[");
        for (i, o) in snap.objects.iter().enumerate() {
            if i > 0 {
                body.push(b',');
            }
            body.extend_from_slice(&o.json);
        }
        body.extend_from_slice(b"]}");
        return Ok(h::json_bytes(StatusCode::OK, body, "application/json"));
    }
    let items: Vec<Value> = snap
        .objects
        .iter()
        .map(|o| crate::convert::from_storage(ctx.info, o.value()))
        .filter(|v| keep(v))
        .collect();
    if h::wants_table(ctx.headers) {
        let t = table::table(
            ctx.info,
            &items,
            &rv,
            None,
            IncludeObject::parse(ctx.query.get("includeObject")),
            true,
        );
        return Ok(h::json(StatusCode::OK, &t));
    }
    Ok(h::json(
        StatusCode::OK,
        &list_object(ctx.info, items, &rv, None, None),
    ))
}

/// Checks `apiVersion`/`kind` of a body against the endpoint, filling them in when absent.
fn check_type(ctx: &Ctx<'_>, obj: &mut Value) -> Result<(), ApiError> {
    let want_version = ctx.info.gvk.api_version();
    let map = obj.as_object_mut().expect("bodies are objects");
    match map.get("apiVersion").and_then(Value::as_str) {
        None | Some("") => {
            map.insert("apiVersion".into(), json!(want_version));
        }
        Some(v) if v == want_version => {}
        Some(v) => {
            return Err(ApiError::bad_request(format!(
                "the API version in the data ({v}) does not match the expected API version ({want_version})"
            )));
        }
    }
    match map.get("kind").and_then(Value::as_str) {
        None | Some("") => {
            map.insert("kind".into(), json!(ctx.info.gvk.kind));
        }
        Some(k) if k == ctx.info.gvk.kind => {}
        Some(k) => {
            return Err(ApiError::bad_request(format!(
                "the kind in the data ({k}) does not match the expected kind ({})",
                ctx.info.gvk.kind
            )));
        }
    }
    let unknown = crate::typed::prune_unknown(ctx.info, obj).map_err(ApiError::bad_request)?;
    if !unknown.is_empty() {
        let messages: Vec<String> = unknown
            .iter()
            .map(|f| format!("unknown field {f:?}"))
            .collect();
        match ctx.query.get("fieldValidation").unwrap_or("Warn") {
            "Strict" => {
                return Err(ApiError::bad_request(format!(
                    "strict decoding error: {}",
                    messages.join(", ")
                )));
            }
            "Ignore" => {}
            _ => ctx.warnings.lock().extend(messages),
        }
    }
    Ok(())
}

const GENERATE_ALPHABET: &[u8] = b"bcdfghjklmnpqrstvwxz2456789";

fn generate_suffix() -> String {
    let id = uuid::Uuid::new_v4();
    id.as_bytes()[..5]
        .iter()
        .map(|b| GENERATE_ALPHABET[*b as usize % GENERATE_ALPHABET.len()] as char)
        .collect()
}

/// Creates an object.
pub async fn create(storage: &Storage, ctx: &Ctx<'_>, obj: Value) -> Result<Value, ApiError> {
    create_object(storage, ctx, obj, false).await
}

/// Creates an object; `applied` objects come from server-side apply, already checked and
/// with their managed fields.
async fn create_object(
    storage: &Storage,
    ctx: &Ctx<'_>,
    mut obj: Value,
    applied: bool,
) -> Result<Value, ApiError> {
    if !applied {
        check_type(ctx, &mut obj)?;
    }
    let path_ns = ctx.ns().map(str::to_owned);
    if ctx.info.namespaced {
        match (object::namespace(&obj), path_ns.as_deref()) {
            (Some(body), Some(path)) if body != path => {
                return Err(ApiError::bad_request(
                    "the namespace of the provided object does not match the namespace sent on the request",
                ));
            }
            _ => object::set_meta(&mut obj, "namespace", path_ns.clone().unwrap_or_default()),
        }
    } else {
        object::remove_meta(&mut obj, "namespace");
    }
    if object::name(&obj).is_none()
        && let Some(prefix) = object::meta_str(&obj, "generateName").filter(|p| !p.is_empty())
    {
        // Upstream keeps generated names within 63 characters.
        let mut base = prefix.to_owned();
        base.truncate(58);
        let name = format!("{base}{}", generate_suffix());
        object::set_meta(&mut obj, "name", name);
    }
    // The request as the server reads it (for kinds stored in another version's form, the
    // stored form and back).
    let mut obj = convert::normalize(ctx.info, obj);
    if !applied {
        // Upstream decodes bodies with their defaults, so the request's manager owns them
        // (an applier owns only what it applied).
        defaults::apply(ctx.info, &mut obj)?;
        apply::record_create(ctx, &mut obj)?;
    }
    // The server's own bookkeeping works on the stored form.
    let stored_info = convert::storage_info(ctx.info);
    let mut obj = convert::to_storage(ctx.info, obj);
    prepare_create(stored_info, &mut obj);
    let errs = validate::object_meta(ctx.info, &obj);
    if !errs.is_empty() {
        return Err(invalid(ctx, &obj, &errs));
    }
    if ctx.info.namespaced {
        namespace_accepts_content(storage, object::namespace(&obj).unwrap_or_default()).await?;
    }
    strategy::before_create(storage, stored_info, &mut obj, ctx.dry_run()).await?;
    if ctx.dry_run() {
        return Ok(convert::from_storage(ctx.info, obj));
    }
    match storage
        .create_stored(ctx.info, &obj, ttl_of(ctx.info))
        .await
    {
        Ok(created) => Ok(convert::from_storage(ctx.info, created)),
        Err(e) => {
            strategy::undo_create(storage, stored_info, &obj).await;
            Err(e)
        }
    }
}

fn invalid(ctx: &Ctx<'_>, obj: &Value, errs: &[FieldError]) -> ApiError {
    ApiError::invalid(&ctx.gk(), object::name(obj).unwrap_or_default(), errs)
}

/// Events expire an hour after their last write, as upstream's `--event-ttl` default.
fn ttl_of(info: &ResourceInfo) -> Option<std::time::Duration> {
    (info.gvk.kind == "Event").then(|| std::time::Duration::from_secs(3600))
}

/// Upstream's `PrepareForCreate` bookkeeping shared by all kinds, plus the few per-kind
/// defaults the API server itself owns.
fn prepare_create(info: &ResourceInfo, obj: &mut Value) {
    let meta = object::meta_mut(obj);
    meta.remove("resourceVersion");
    meta.remove("selfLink");
    meta.remove("deletionTimestamp");
    meta.remove("deletionGracePeriodSeconds");
    meta.insert("uid".into(), json!(uuid::Uuid::new_v4().to_string()));
    meta.insert("creationTimestamp".into(), json!(object::now_rfc3339()));
    if tracks_generation(info) {
        meta.insert("generation".into(), json!(1));
    } else {
        meta.remove("generation");
    }
    match (info.gvk.group, info.gvk.kind) {
        ("", "Namespace") => {
            let name = object::name(obj).unwrap_or_default().to_owned();
            let labels = object::meta_mut(obj)
                .entry("labels")
                .or_insert_with(|| json!({}));
            if let Some(l) = labels.as_object_mut() {
                l.insert("kubernetes.io/metadata.name".into(), json!(name));
            }
            let spec = obj
                .as_object_mut()
                .expect("object")
                .entry("spec")
                .or_insert_with(|| json!({}));
            if spec.get("finalizers").is_none() {
                spec["finalizers"] = json!(["kubernetes"]);
            }
            obj["status"] = json!({"phase": "Active"});
        }
        ("", "Pod") => {
            obj["status"] = json!({"phase": "Pending"});
        }
        ("", "Node") => {}
        _ if has_status(info) => {
            if let Some(m) = obj.as_object_mut() {
                m.remove("status");
            }
        }
        _ => {}
    }
}

/// Refuses new objects in a namespace that is missing or being deleted (upstream's
/// NamespaceLifecycle admission).
async fn namespace_accepts_content(storage: &Storage, ns: &str) -> Result<(), ApiError> {
    let namespaces = skiff_core::registry::lookup("", "v1", "namespaces").expect("registered");
    let obj = storage.get(namespaces, None, ns).await?;
    if object::path(&obj, "status.phase").and_then(Value::as_str) == Some("Terminating") {
        return Err(ApiError::forbidden(
            &storage::group_resource(namespaces),
            ns,
            &format!(
                "unable to create new content in namespace {ns} because it is being terminated"
            ),
        ));
    }
    Ok(())
}

/// A parsed PATCH body.
pub enum Patch {
    /// RFC 7386.
    Merge(Value),
    /// RFC 6902.
    Json(Value),
    /// Strategic merge patch.
    Strategic(Value),
    /// Server-side apply: the applied configuration.
    Apply(Value),
}

/// The patch media types served.
pub const PATCH_TYPES: &[&str] = &[
    "application/json-patch+json",
    "application/merge-patch+json",
    "application/strategic-merge-patch+json",
    apply::APPLY_PATCH_TYPE,
];

impl Patch {
    /// Reads a PATCH body by its content type.
    pub fn parse_body(headers: &HeaderMap, body: &[u8]) -> Result<Self, ApiError> {
        Self::parse(headers, body)
    }

    /// Applies the patch to a document of `kind`.
    pub fn apply_to(&self, doc: Value, kind: &str) -> Result<Value, ApiError> {
        self.apply(doc, kind)
    }

    fn parse(headers: &HeaderMap, body: &[u8]) -> Result<Self, ApiError> {
        let ct = h::media_type(headers).unwrap_or_default();
        let value = || -> Result<Value, ApiError> {
            serde_json::from_slice(body)
                .map_err(|e| ApiError::bad_request(format!("error decoding patch: {e}")))
        };
        match ct.as_str() {
            "application/merge-patch+json" => Ok(Patch::Merge(value()?)),
            "application/json-patch+json" => Ok(Patch::Json(value()?)),
            "application/strategic-merge-patch+json" => Ok(Patch::Strategic(value()?)),
            apply::APPLY_PATCH_TYPE => Ok(Patch::Apply(apply::decode_config(body)?)),
            other => Err(ApiError::unsupported_media_type(other, PATCH_TYPES)),
        }
    }

    fn apply(&self, mut doc: Value, kind: &str) -> Result<Value, ApiError> {
        let result = match self {
            Patch::Merge(p) => {
                if !p.is_object() {
                    return Err(ApiError::bad_request("merge patch must be a JSON object"));
                }
                skiff_core::patch::merge_patch(&mut doc, p);
                Ok(())
            }
            Patch::Json(p) => skiff_core::patch::apply_json_patch(&mut doc, p),
            Patch::Strategic(p) => skiff_core::patch::strategic::apply(&mut doc, p, kind),
            // Outside `update` (the scale subresource) an apply is a plain merge.
            Patch::Apply(p) => {
                doc = skiff_core::managed::merge(kind, &doc, p);
                Ok(())
            }
        };
        // Upstream: a malformed patch is a 400, one that does not apply a 422 without causes.
        result.map_err(|e| ApiError {
            code: e.http_status(),
            reason: if e.http_status() == 400 {
                "BadRequest"
            } else {
                "Invalid"
            },
            message: e.to_string(),
            details: None,
        })?;
        if !doc.is_object() {
            return Err(ApiError::bad_request(
                "the patched object is not a JSON object",
            ));
        }
        Ok(doc)
    }
}

/// Replaces (PUT, `new`) or patches (`patch`) an object, retrying on concurrent writes when
/// the client gave no resourceVersion. Returns the stored object and whether it was created.
pub async fn update(
    storage: &Storage,
    ctx: &Ctx<'_>,
    new: Option<Value>,
    patch: Option<&Patch>,
) -> Result<(Value, bool), ApiError> {
    let name = ctx.req.name.clone().unwrap_or_default();
    let status_only = ctx.req.subresource.as_deref() == Some("status");
    let mut new = new;
    if let Some(obj) = new.as_mut() {
        check_type(ctx, obj)?;
        if let Some(n) = object::name(obj)
            && n != name
        {
            return Err(ApiError::bad_request(format!(
                "the name of the object ({n}) does not match the name on the URL ({name})"
            )));
        }
        if ctx.info.namespaced
            && let (Some(body), Some(path)) = (object::namespace(obj), ctx.ns())
            && body != path
        {
            return Err(ApiError::bad_request(
                "the namespace of the provided object does not match the namespace sent on the request",
            ));
        }
    }
    let applying = matches!(patch, Some(Patch::Apply(_)));
    apply::validate_options(ctx, applying)?;
    let stored_info = convert::storage_info(ctx.info);
    for _attempt in 0..16 {
        let Some((stored, rev)) = storage.get_stored_record(ctx.info, ctx.ns(), &name).await?
        else {
            // Server-side apply creates what does not exist yet.
            if let (Some(Patch::Apply(config)), None) = (patch, &ctx.req.subresource) {
                let obj = apply::apply(ctx, None, config)?;
                match create_object(storage, ctx, obj, true).await {
                    Ok(created) => return Ok((created, true)),
                    Err(e) if e.code == 409 && e.reason == "AlreadyExists" => continue,
                    Err(e) => return Err(e),
                }
            }
            return Err(ApiError::not_found(
                &storage::group_resource(ctx.info),
                &name,
            ));
        };
        // The object in the request's version, which patches and field management see.
        let current = convert::from_storage(ctx.info, stored.clone());
        let candidate = match (&new, patch) {
            (Some(obj), _) => obj.clone(),
            (None, Some(Patch::Apply(config))) => apply::apply(ctx, Some(&current), config)?,
            (None, Some(p)) => {
                let mut doc = p.apply(current.clone(), ctx.info.gvk.kind)?;
                check_type(ctx, &mut doc)?;
                doc
            }
            (None, None) => current.clone(),
        };
        // A resourceVersion in the body (or one a patch sets) is a precondition.
        let current_rv = rev.to_string();
        let wanted = match &new {
            Some(obj) => object::meta_str(obj, "resourceVersion"),
            None => object::meta_str(&candidate, "resourceVersion").filter(|v| *v != current_rv),
        }
        .filter(|v| !v.is_empty())
        .map(str::to_owned);
        if wanted.as_deref().is_some_and(|v| v != current_rv) {
            return Err(ApiError::stale(&storage::group_resource(ctx.info), &name));
        }
        let mut candidate = convert::normalize(ctx.info, candidate);
        if !applying {
            // Upstream decodes bodies (and patched objects) with their defaults, so the
            // request's manager owns them; an applier owns only what it applied.
            defaults::apply(ctx.info, &mut candidate)?;
        }
        // From here on the server's bookkeeping works on the stored form.
        let mut candidate = convert::to_storage(ctx.info, candidate);
        if status_only {
            let status = candidate.get("status").cloned();
            let managed = object::meta(&candidate).get("managedFields").cloned();
            candidate = stored.clone();
            match managed {
                Some(m) => object::set_meta(&mut candidate, "managedFields", m),
                None => object::remove_meta(&mut candidate, "managedFields"),
            }
            match status {
                Some(s) => candidate["status"] = s,
                None => {
                    if let Some(m) = candidate.as_object_mut() {
                        m.remove("status");
                    }
                }
            }
        } else if let Some(sub @ ("ephemeralcontainers" | "resize")) =
            ctx.req.subresource.as_deref()
        {
            candidate = strategy::subresource::project(sub, &stored, &candidate);
        } else {
            prepare_update(stored_info, &stored, &mut candidate);
        }
        if !applying {
            record_update(ctx, &current, &mut candidate)?;
        }
        if ctx.info.namespaced {
            object::set_meta(&mut candidate, "namespace", ctx.ns().unwrap_or_default());
        }
        let errs = validate::object_meta(ctx.info, &candidate);
        if !errs.is_empty() {
            return Err(invalid(ctx, &candidate, &errs));
        }
        match ctx.req.subresource.as_deref() {
            Some(sub @ ("finalize" | "ephemeralcontainers" | "resize")) => {
                strategy::subresource::before_update(sub, stored_info, &stored, &mut candidate)?
            }
            _ => {
                strategy::before_update(
                    storage,
                    stored_info,
                    &stored,
                    &mut candidate,
                    ctx.dry_run(),
                )
                .await?
            }
        }
        object::set_meta(&mut candidate, "resourceVersion", rev.to_string());
        crate::typed::drop_empty(stored_info, &mut candidate);
        // No change: nothing is written and the resourceVersion stays.
        if candidate == stored {
            return Ok((current, false));
        }
        // An object being deleted goes away once its last finalizer is removed.
        if object::meta(&candidate).contains_key("deletionTimestamp")
            && finalizers(&candidate).is_empty()
            && !(ctx.info.gvk.kind == "Pod" && ctx.info.gvk.group.is_empty())
        {
            if ctx.dry_run() {
                return Ok((convert::from_storage(ctx.info, candidate), false));
            }
            match storage.delete(ctx.info, ctx.ns(), &name, Some(rev)).await {
                Ok(obj) => {
                    strategy::after_delete(storage, ctx.info, &obj).await;
                    return Ok((obj, false));
                }
                Err(e) if e.code == 409 && wanted.is_none() => continue,
                Err(e) => return Err(e),
            }
        }
        if ctx.dry_run() {
            return Ok((convert::from_storage(ctx.info, candidate), false));
        }
        match storage
            .update_stored(ctx.info, &candidate, rev, ttl_of(ctx.info))
            .await
        {
            Ok(obj) => return Ok((convert::from_storage(ctx.info, obj), false)),
            Err(e) if e.code == 409 && wanted.is_none() => continue,
            Err(e) => return Err(e),
        }
    }
    Err(ApiError::stale(&storage::group_resource(ctx.info), &name))
}

/// Records an update by the request's manager in `candidate` (in the stored form), comparing
/// it with `current` in the request's version as upstream's field manager does.
fn record_update(ctx: &Ctx<'_>, current: &Value, candidate: &mut Value) -> Result<(), ApiError> {
    if !convert::converts(ctx.info) {
        return apply::record_update(ctx, current, candidate);
    }
    let mut served = convert::from_storage(ctx.info, candidate.clone());
    apply::record_update(ctx, current, &mut served)?;
    match object::meta(&served).get("managedFields") {
        Some(m) => object::set_meta(candidate, "managedFields", m.clone()),
        None => object::remove_meta(candidate, "managedFields"),
    }
    Ok(())
}

/// Upstream's `PrepareForUpdate` bookkeeping: immutable metadata is kept, status on the main
/// resource is ignored for kinds with a status subresource, generation follows the spec.
fn prepare_update(info: &ResourceInfo, old: &Value, new: &mut Value) {
    let old_meta = object::meta(old).clone();
    let meta = object::meta_mut(new);
    for field in [
        "uid",
        "creationTimestamp",
        "deletionTimestamp",
        "deletionGracePeriodSeconds",
    ] {
        match old_meta.get(field) {
            Some(v) => {
                meta.insert(field.into(), v.clone());
            }
            None => {
                meta.remove(field);
            }
        }
    }
    meta.remove("selfLink");
    if has_status(info) {
        match old.get("status") {
            Some(s) => new["status"] = s.clone(),
            None => {
                if let Some(m) = new.as_object_mut() {
                    m.remove("status");
                }
            }
        }
    }
    if tracks_generation(info) {
        let old_gen = old_meta
            .get("generation")
            .and_then(Value::as_i64)
            .unwrap_or(1);
        let changed = old.get("spec") != new.get("spec");
        let next = if changed { old_gen + 1 } else { old_gen };
        object::set_meta(new, "generation", next);
    } else if let Some(g) = old_meta.get("generation") {
        object::set_meta(new, "generation", g.clone());
    } else {
        object::remove_meta(new, "generation");
    }
    if info.gvk.kind == "Namespace" && info.gvk.group.is_empty() {
        let name = object::name(old).unwrap_or_default().to_owned();
        let labels = object::meta_mut(new)
            .entry("labels")
            .or_insert_with(|| json!({}));
        if let Some(l) = labels.as_object_mut() {
            l.insert("kubernetes.io/metadata.name".into(), json!(name));
        }
    }
}

fn finalizers(obj: &Value) -> Vec<String> {
    object::meta(obj)
        .get("finalizers")
        .and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .filter_map(|v| v.as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default()
}

/// `DeleteOptions` from a body and the query.
#[derive(Clone, Debug, Default)]
pub struct DeleteOptions {
    pub(crate) grace_period: Option<i64>,
    pub(crate) propagation: Option<String>,
    pub(crate) precondition_uid: Option<String>,
    pub(crate) precondition_rv: Option<String>,
    pub(crate) dry_run: bool,
}

impl DeleteOptions {
    /// Options from a decoded `DeleteOptions` body (also an Eviction's `deleteOptions`).
    pub(crate) fn from_json(v: &Value) -> Result<Self, ApiError> {
        let mut propagation = v
            .get("propagationPolicy")
            .and_then(Value::as_str)
            .map(str::to_owned);
        if v.get("orphanDependents").and_then(Value::as_bool) == Some(true) {
            propagation.get_or_insert_with(|| "Orphan".into());
        }
        let opts = DeleteOptions {
            grace_period: v.get("gracePeriodSeconds").and_then(Value::as_i64),
            propagation,
            precondition_uid: object::path(v, "preconditions.uid")
                .and_then(Value::as_str)
                .map(str::to_owned),
            precondition_rv: object::path(v, "preconditions.resourceVersion")
                .and_then(Value::as_str)
                .map(str::to_owned),
            dry_run: v
                .get("dryRun")
                .and_then(Value::as_array)
                .is_some_and(|a| a.iter().any(|x| x == "All")),
        };
        opts.check()?;
        Ok(opts)
    }

    /// Parses the options: a JSON, YAML or protobuf body (typed clients send protobuf) and
    /// the query, which wins where both are given.
    fn parse(content_type: Option<&str>, body: &[u8], query: &Query) -> Result<Self, ApiError> {
        let mut opts = DeleteOptions::default();
        if !body.iter().all(u8::is_ascii_whitespace) {
            opts = DeleteOptions::from_json(&h::decode_object(content_type, body)?)?;
        }
        if let Some(g) = query.get("gracePeriodSeconds") {
            opts.grace_period =
                Some(g.parse().map_err(|_| {
                    ApiError::bad_request(format!("invalid gracePeriodSeconds {g:?}"))
                })?);
        }
        if let Some(p) = query.get("propagationPolicy") {
            opts.propagation = Some(p.to_owned());
        }
        if query.all("dryRun").any(|v| v == "All") {
            opts.dry_run = true;
        }
        opts.check()?;
        Ok(opts)
    }

    /// Upstream's `ValidateDeleteOptions` for the propagation policy.
    fn check(&self) -> Result<(), ApiError> {
        if let Some(p) = &self.propagation
            && !matches!(p.as_str(), "Orphan" | "Background" | "Foreground")
        {
            return Err(ApiError::invalid(
                &GroupKind::new("meta.k8s.io", "DeleteOptions"),
                "",
                &[FieldError::not_supported(
                    "propagationPolicy",
                    p.as_str(),
                    &["Foreground", "Background", "Orphan", "nil"],
                )],
            ));
        }
        Ok(())
    }
}

/// Deletes an object: at once, or by marking it (finalizers, foreground/orphan propagation,
/// graceful pod deletion, namespaces). Returns the object and whether it is gone.
pub async fn delete(
    storage: &Storage,
    ctx: &Ctx<'_>,
    name: &str,
    opts: &DeleteOptions,
) -> Result<(Value, bool), ApiError> {
    let gr = storage::group_resource(ctx.info);
    for _attempt in 0..16 {
        // Marking works on the stored form; the answer is in the request's version.
        let Some((current, rev)) = storage.get_stored_record(ctx.info, ctx.ns(), name).await?
        else {
            return Err(ApiError::not_found(&gr, name));
        };
        let served = |obj: Value| convert::from_storage(ctx.info, obj);
        if let Some(uid) = &opts.precondition_uid {
            let have = object::meta_str(&current, "uid").unwrap_or_default();
            if uid != have {
                return Err(ApiError::conflict(
                    &gr,
                    name,
                    &format!(
                        "Precondition failed: UID in precondition: {uid}, UID in object meta: {have}"
                    ),
                ));
            }
        }
        if let Some(want) = &opts.precondition_rv
            && want != &rev.to_string()
        {
            return Err(ApiError::conflict(
                &gr,
                name,
                &format!(
                    "Precondition failed: ResourceVersion in precondition: {want}, ResourceVersion in meta: {rev}"
                ),
            ));
        }
        let mut marked = current.clone();
        let mut fin = finalizers(&current);
        let is_pod = ctx.info.gvk.group.is_empty() && ctx.info.gvk.kind == "Pod";
        let is_namespace = ctx.info.gvk.group.is_empty() && ctx.info.gvk.kind == "Namespace";
        match opts.propagation.as_deref() {
            Some("Foreground") if !fin.iter().any(|f| f == "foregroundDeletion") => {
                fin.push("foregroundDeletion".into())
            }
            Some("Orphan") if !fin.iter().any(|f| f == "orphan") => fin.push("orphan".into()),
            _ => {}
        }
        let ns_finalizers = is_namespace
            && object::path(&current, "spec.finalizers")
                .and_then(Value::as_array)
                .is_some_and(|a| !a.is_empty());
        let pod_grace = if is_pod
            && object::path(&current, "spec.nodeName")
                .is_some_and(|n| n.as_str().is_some_and(|s| !s.is_empty()))
        {
            let default = object::path(&current, "spec.terminationGracePeriodSeconds")
                .and_then(Value::as_i64)
                .unwrap_or(30);
            let g = opts.grace_period.unwrap_or(default).max(0);
            (g > 0).then_some(g)
        } else {
            None
        };
        let already = object::meta(&current).contains_key("deletionTimestamp");
        if fin.is_empty() && !ns_finalizers && pod_grace.is_none() {
            if opts.dry_run {
                return Ok((served(current), true));
            }
            match storage.delete(ctx.info, ctx.ns(), name, Some(rev)).await {
                Ok(obj) => {
                    strategy::after_delete(storage, ctx.info, &obj).await;
                    return Ok((obj, true));
                }
                Err(e) if e.code == 409 => continue,
                Err(e) => return Err(e),
            }
        }
        if already && pod_grace.is_none() {
            // Deletion is already under way; finalizers decide when it ends.
            return Ok((served(current), false));
        }
        let now = jiff::Timestamp::now();
        let grace = pod_grace.unwrap_or(0);
        let when = now
            .checked_add(jiff::SignedDuration::from_secs(grace))
            .unwrap_or(now)
            .round(jiff::Unit::Second)
            .unwrap_or(now);
        if !already {
            object::set_meta(
                &mut marked,
                "deletionTimestamp",
                when.strftime("%Y-%m-%dT%H:%M:%SZ").to_string(),
            );
        }
        object::set_meta(&mut marked, "deletionGracePeriodSeconds", grace);
        if !fin.is_empty() {
            object::set_meta(&mut marked, "finalizers", json!(fin));
        }
        if is_namespace {
            marked["status"] = json!({"phase": "Terminating"});
        }
        if marked == current {
            return Ok((served(current), false));
        }
        if opts.dry_run {
            return Ok((served(marked), false));
        }
        match storage
            .update_stored(ctx.info, &marked, rev, ttl_of(ctx.info))
            .await
        {
            Ok(obj) => return Ok((served(obj), false)),
            Err(e) if e.code == 409 => continue,
            Err(e) => return Err(e),
        }
    }
    Err(ApiError::stale(&gr, name))
}

async fn subresource(
    storage: &Storage,
    ctx: &Ctx<'_>,
    sub: &str,
    body: Body,
) -> Result<Response<Body>, ApiError> {
    let Some(def) = ctx.info.subresource(sub) else {
        return Err(not_found_path());
    };
    let name = ctx.req.name.clone().unwrap_or_default();
    match (sub, ctx.req.verb) {
        ("status", Verb::Get) => {
            let obj = storage.get(ctx.info, ctx.ns(), &name).await?;
            Ok(respond_object(ctx, StatusCode::OK, &obj))
        }
        ("status", Verb::Update) => {
            let bytes = h::read_body(body).await?;
            let obj = h::decode_object(h::media_type(ctx.headers).as_deref(), &bytes)?;
            let (out, _) = update(storage, ctx, Some(obj), None).await?;
            Ok(respond_object(ctx, StatusCode::OK, &out))
        }
        ("status", Verb::Patch) => {
            let bytes = h::read_body(body).await?;
            let patch = Patch::parse(ctx.headers, &bytes)?;
            let (out, _) = update(storage, ctx, None, Some(&patch)).await?;
            Ok(respond_object(ctx, StatusCode::OK, &out))
        }
        ("scale", Verb::Get | Verb::Update | Verb::Patch) => {
            crate::scale::serve(storage, ctx, body).await
        }
        ("binding", Verb::Create) => {
            crate::subresources::binding(storage, ctx, Some(&name), body).await
        }
        ("eviction", Verb::Create) => crate::subresources::eviction(storage, ctx, body).await,
        ("finalize" | "ephemeralcontainers" | "resize", Verb::Update) => {
            let bytes = h::read_body(body).await?;
            let obj = h::decode_object(h::media_type(ctx.headers).as_deref(), &bytes)?;
            let (out, _) = update(storage, ctx, Some(obj), None).await?;
            Ok(respond_object(ctx, StatusCode::OK, &out))
        }
        ("ephemeralcontainers" | "resize", Verb::Get) => {
            let obj = storage.get(ctx.info, ctx.ns(), &name).await?;
            Ok(respond_object(ctx, StatusCode::OK, &obj))
        }
        ("ephemeralcontainers" | "resize", Verb::Patch) => {
            let bytes = h::read_body(body).await?;
            let patch = Patch::parse(ctx.headers, &bytes)?;
            let (out, _) = update(storage, ctx, None, Some(&patch)).await?;
            Ok(respond_object(ctx, StatusCode::OK, &out))
        }
        _ if def.verbs.contains(&ctx.req.verb.as_str()) => Err(ApiError::unavailable(format!(
            "{}/{sub} is not served yet: no node agent is connected to this API server",
            ctx.info.plural
        ))),
        _ => Err(ApiError::method_not_supported(
            &storage::group_resource(ctx.info),
            ctx.req.verb.as_str(),
        )),
    }
}
