//! Field management in the REST handlers: the `metadata.managedFields` bookkeeping of every
//! create, update and patch, and server-side apply (`PATCH` with
//! `Content-Type: application/apply-patch+yaml`), over [`skiff_core::managed`].
//!
//! Upstream's rules kept here:
//! * the manager is the `fieldManager` query parameter, else the User-Agent up to its first
//!   `/` (`kubectl` for `kubectl/v1.33.1 (linux/amd64) …`);
//! * updates are recorded as `operation: Update` entries per manager and API version, writes
//!   through a subresource with `subresource: status|scale`;
//! * for kinds served at several versions (`convert`), a manager that wrote at another version
//!   is compared in that version: the objects are converted for it, so its field paths stay
//!   those of its version;
//! * a request may replace the managed fields by sending its own (`[]` or `[{}]` resets
//!   them), except through a subresource; otherwise the stored ones are kept;
//! * creates, updates and non-apply patches are recorded on the body with its decode-time
//!   defaults (`crate::defaults`), so their manager owns those; an applier owns only what it
//!   applied (the merged object is defaulted afterwards);
//! * fields reset by the endpoint are never owned: `status` on the main resource of kinds
//!   with a status subresource, everything but `status` on that subresource;
//! * apply needs a `fieldManager` (422), an object of the endpoint's exact kind (400
//!   `invalid object type`), no `managedFields` (400), fields the schema knows (500, as
//!   upstream); conflicts are 409 unless `force=true`.

use crate::object;
use crate::rest::Ctx;
use http::{Method, header};
use serde_json::{Value, json};
use skiff_core::managed::{self, ApplyRequest, FieldSet, Managed, ManagerKey, PathElement};
use skiff_core::status::{ApiError, FieldError, GroupKind};

/// The patch content type of server-side apply.
pub const APPLY_PATCH_TYPE: &str = "application/apply-patch+yaml";

/// Longest accepted field manager name (upstream's `FieldManagerMaxLength`).
const FIELD_MANAGER_MAX_LENGTH: usize = 128;

/// The field manager of a request: its `fieldManager`, else the User-Agent's first segment
/// without unprintable characters, cut to 128 bytes (upstream's `prefixFromUserAgent`).
pub fn manager(ctx: &Ctx<'_>) -> String {
    if let Some(m) = ctx.query.get("fieldManager").filter(|m| !m.is_empty()) {
        return m.to_owned();
    }
    let agent = ctx
        .headers
        .get(header::USER_AGENT)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    let prefix = agent.split('/').next().unwrap_or_default();
    let mut out = String::new();
    for c in prefix.chars().filter(|c| is_printable(*c)) {
        if out.len() + c.len_utf8() > FIELD_MANAGER_MAX_LENGTH {
            break;
        }
        out.push(c);
    }
    out
}

/// Go's `unicode.IsPrint`, near enough: no control characters, no spaces but U+0020.
fn is_printable(c: char) -> bool {
    !c.is_control() && (c == ' ' || !c.is_whitespace())
}

/// The subresource written through ("" for the main resource).
fn subresource<'a>(ctx: &'a Ctx<'_>) -> &'a str {
    ctx.req.subresource.as_deref().unwrap_or_default()
}

/// Checks `fieldManager` and `force` as upstream validates the Create/Update/PatchOptions.
pub fn validate_options(ctx: &Ctx<'_>, applying: bool) -> Result<(), ApiError> {
    let kind = match *ctx.method {
        Method::POST => "CreateOptions",
        Method::PUT => "UpdateOptions",
        _ => "PatchOptions",
    };
    let field_manager = ctx.query.get("fieldManager").unwrap_or_default();
    let mut errs = Vec::new();
    if applying {
        if field_manager.is_empty() {
            errs.push(FieldError::required(
                "fieldManager",
                "is required for apply patch",
            ));
        }
    } else if *ctx.method == Method::PATCH && ctx.query.get("force").is_some() {
        errs.push(FieldError::forbidden(
            "force",
            "may not be specified for non-apply patch",
        ));
    }
    if field_manager.len() > FIELD_MANAGER_MAX_LENGTH {
        errs.push(FieldError::too_long(
            "fieldManager",
            FIELD_MANAGER_MAX_LENGTH,
        ));
    }
    for (i, c) in field_manager.char_indices() {
        if !is_printable(c) {
            errs.push(FieldError::invalid(
                "fieldManager",
                field_manager,
                format!("invalid character U+{:04X} (at position {i})", c as u32),
            ));
        }
    }
    if errs.is_empty() {
        Ok(())
    } else {
        Err(ApiError::invalid(
            &GroupKind::new("meta.k8s.io", kind),
            "",
            &errs,
        ))
    }
}

/// Decodes a server-side apply body: YAML (JSON is YAML too) of one object.
pub fn decode_config(body: &[u8]) -> Result<Value, ApiError> {
    let v: Value = serde_yaml::from_slice(body)
        .map_err(|e| ApiError::bad_request(format!("error decoding YAML: {e}")))?;
    if !v.is_object() {
        return Err(ApiError::bad_request(
            "error decoding YAML: the applied configuration is not an object",
        ));
    }
    Ok(v)
}

/// The fields the endpoint resets, which nobody owns (upstream's strategies'
/// `GetResetFields`): `status` on the main resource of kinds with a status subresource,
/// every other top-level field on the status subresource.
fn ignored_fields(ctx: &Ctx<'_>, objects: &[&Value]) -> FieldSet {
    let mut set = FieldSet::new();
    match subresource(ctx) {
        "" if ctx.info.subresource("status").is_some() => {
            set.insert(&[PathElement::field("status")]);
        }
        "status" => {
            for obj in objects {
                for k in obj.as_object().into_iter().flat_map(|m| m.keys()) {
                    if k != "status" {
                        set.insert(&[PathElement::field(k.as_str())]);
                    }
                }
            }
        }
        _ => {}
    }
    set
}

/// What an object of `kind` starts from on create: the empty structs Go's zero value
/// already has, so that creating them is not recorded as adding them (upstream compares with
/// a new, empty typed object).
fn create_baseline(kind: &str, obj: &Value) -> Value {
    let mut base = json!({"metadata": {}});
    if let Some(spec) = obj.get("spec").filter(|s| s.is_object()) {
        let mut s = json!({});
        let pod = json!({"metadata": {}, "spec": {"containers": null}});
        if spec.get("template").is_some() && kind != "ReplicationController" {
            s["template"] = pod.clone();
        }
        if spec.get("jobTemplate").is_some() {
            s["jobTemplate"] = json!({"metadata": {}, "spec": {"template": pod}});
        }
        match kind {
            "Pod" => s["containers"] = Value::Null,
            "Deployment" => s["strategy"] = json!({}),
            "StatefulSet" | "DaemonSet" => s["updateStrategy"] = json!({}),
            _ => {}
        }
        base["spec"] = s;
    }
    if obj.get("status").is_some_and(Value::is_object) {
        base["status"] = json!({});
    }
    base
}

fn now() -> String {
    object::now_rfc3339()
}

/// Writes `managed` into `obj` (removing `managedFields` when there are none).
fn store(obj: &mut Value, managed: &Managed) {
    match managed.encode() {
        Some(list) => object::set_meta(obj, "managedFields", list),
        None => object::remove_meta(obj, "managedFields"),
    }
}

/// Where an update starts from (upstream's `decodeLiveOrNew`): the stored managers for
/// subresources and for requests that do not send valid managed fields of their own, none
/// when the request resets them, else the request's. The flag tells whether they are the
/// stored ones.
fn starting_managers(ctx: &Ctx<'_>, live: Option<&Value>, new: &Value) -> (Managed, bool) {
    let live_managed = || {
        Managed::decode(live.and_then(|l| object::meta(l).get("managedFields"))).unwrap_or_default()
    };
    if !subresource(ctx).is_empty() {
        return (live_managed(), true);
    }
    let sent = object::meta(new).get("managedFields");
    let stored = live.and_then(|l| object::meta(l).get("managedFields"));
    if sent.is_some() && sent == stored {
        return (live_managed(), true);
    }
    if managed::is_reset(sent) {
        return (Managed::default(), false);
    }
    match Managed::decode(sent) {
        Ok(m) if !m.fields.is_empty() => (m, false),
        _ => (live_managed(), true),
    }
}

/// Records a create by the request's manager in `obj`: the body with the defaults it was
/// decoded with (`crate::defaults`), before the server's own bookkeeping and allocations.
pub fn record_create(ctx: &Ctx<'_>, obj: &mut Value) -> Result<(), ApiError> {
    validate_options(ctx, false)?;
    let kind = ctx.info.gvk.kind;
    let (mut managed, _) = starting_managers(ctx, None, obj);
    let version = ctx.info.gvk.api_version();
    let key = ManagerKey::update(&manager(ctx), &version, subresource(ctx));
    let baseline = create_baseline(kind, obj);
    let ignored = ignored_fields(ctx, &[obj]);
    managed.update_versioned(
        kind,
        &baseline,
        obj,
        key,
        &version,
        &now(),
        &ignored,
        &converter(ctx),
    );
    store(obj, &managed);
    Ok(())
}

/// Records an update or non-apply patch of `live` into `new` by the request's manager.
pub fn record_update(ctx: &Ctx<'_>, live: &Value, new: &mut Value) -> Result<(), ApiError> {
    validate_options(ctx, false)?;
    let kind = ctx.info.gvk.kind;
    let (start, from_live) = starting_managers(ctx, Some(live), new);
    let mut managed = start.clone();
    let version = ctx.info.gvk.api_version();
    let key = ManagerKey::update(&manager(ctx), &version, subresource(ctx));
    let ignored = ignored_fields(ctx, &[live, new]);
    managed.update_versioned(
        kind,
        live,
        new,
        key,
        &version,
        &now(),
        &ignored,
        &converter(ctx),
    );
    match object::meta(live).get("managedFields") {
        // Nothing changed hands: keep the stored list exactly as it is.
        Some(stored) if from_live && managed == start => {
            let stored = stored.clone();
            object::set_meta(new, "managedFields", stored);
        }
        _ => store(new, &managed),
    }
    Ok(())
}

/// How field management moves objects of the request's kind between API versions: managers
/// that wrote at another version are compared in that version (see `convert`).
fn converter(ctx: &Ctx<'_>) -> impl Fn(&Value, &str, &str) -> Option<Value> + use<> {
    let plural = ctx.info.plural;
    move |obj, from, to| crate::convert::to_version(plural, obj, from, to)
}

/// Upstream's Go name of a group, version and kind (`apps/v1, Kind=Deployment`).
fn gvk_string(api_version: &str, kind: &str) -> String {
    let (group, version) = api_version.split_once('/').unwrap_or(("", api_version));
    format!("{group}/{version}, Kind={kind}")
}

/// Server-side apply of `config` to `live` (`None`: the object does not exist yet): checks
/// the configuration, merges it, settles ownership and returns the object to store, its
/// `managedFields` included. Conflicts are upstream's 409.
pub fn apply(ctx: &Ctx<'_>, live: Option<&Value>, config: &Value) -> Result<Value, ApiError> {
    validate_options(ctx, true)?;
    let info = ctx.info;
    let kind = info.gvk.kind;
    let version = info.gvk.api_version();
    let text = |k: &str| config.get(k).and_then(Value::as_str).unwrap_or_default();
    if text("apiVersion") != version || text("kind") != kind {
        return Err(ApiError::bad_request(format!(
            "invalid object type: {}",
            gvk_string(text("apiVersion"), text("kind"))
        )));
    }
    if object::meta(config)
        .get("managedFields")
        .is_some_and(|m| !m.is_null())
    {
        return Err(ApiError::bad_request("metadata.managedFields must be nil"));
    }
    check_schema(ctx, config)?;
    let empty = json!({});
    let live_obj = live.unwrap_or(&empty);
    let mut managed =
        Managed::decode(object::meta(live_obj).get("managedFields")).unwrap_or_default();
    let ignored = ignored_fields(ctx, &[live_obj, config]);
    let request = ApplyRequest {
        manager: &manager(ctx),
        subresource: subresource(ctx),
        api_version: &version,
        force: ctx.query.flag("force"),
        now: &now(),
    };
    let mut merged = managed
        .apply_versioned(kind, live_obj, config, &request, &ignored, &converter(ctx))
        .map_err(|c| managed::conflict_error(&c))?;
    check_name(ctx, &merged)?;
    if let Some(l) = live {
        // Only stamps would change: keep the stored list (upstream's
        // IgnoreManagedFieldsTimestampsTransformer).
        let stored = object::meta(l).get("managedFields");
        let mut bare = l.clone();
        object::remove_meta(&mut bare, "managedFields");
        if bare == merged
            && let Some(s) = stored
            && Managed::decode(Some(s)).is_ok_and(|m| m.same_ignoring_times(&managed))
        {
            object::set_meta(&mut merged, "managedFields", s.clone());
            return Ok(merged);
        }
    }
    if live.is_none() && object::meta(&merged).get("uid").is_some() {
        let uid = object::meta_str(&merged, "uid").unwrap_or_default();
        return Err(ApiError::conflict(
            &crate::storage::group_resource(info),
            ctx.req.name.as_deref().unwrap_or_default(),
            &format!(
                "uid mismatch: the provided object specified uid {uid}, and no existing object was found"
            ),
        ));
    }
    store(&mut merged, &managed);
    Ok(merged)
}

/// An applied configuration must name fields of the kind, with their list keys; upstream
/// fails such a request while building its typed patch object (a 500 without a reason).
fn check_schema(ctx: &Ctx<'_>, config: &Value) -> Result<(), ApiError> {
    let kind = ctx.info.gvk.kind;
    let fail = |detail: String| {
        let ns = object::meta_str(config, "namespace").unwrap_or_default();
        let name = object::meta_str(config, "name").unwrap_or_default();
        let gvk = gvk_string(&ctx.info.gvk.api_version(), kind);
        ApiError {
            code: 500,
            reason: "",
            message: format!("failed to create typed patch object ({ns}/{name}; {gvk}): {detail}"),
            details: None,
        }
    };
    let mut copy = config.clone();
    let unknown = crate::typed::prune_unknown(ctx.info, &mut copy).map_err(&fail)?;
    let mut errors: Vec<String> = unknown
        .iter()
        .map(|f| {
            format!(
                "{}: field not declared in schema",
                managed::describe_path(kind, config, f)
            )
        })
        .collect();
    if let Err(e) = managed::validate(kind, config) {
        errors.push(e);
    }
    match errors.len() {
        0 => Ok(()),
        1 => Err(fail(errors.remove(0))),
        _ => Err(fail(format!("errors:\n  {}", errors.join("\n  ")))),
    }
}

/// The applied object must be the one of the URL (upstream's `checkName`).
fn check_name(ctx: &Ctx<'_>, obj: &Value) -> Result<(), ApiError> {
    let url_name = ctx.req.name.as_deref().unwrap_or_default();
    let name = object::meta_str(obj, "name").unwrap_or_default();
    if name != url_name {
        return Err(ApiError::bad_request(format!(
            "the name of the object ({name}) does not match the name on the URL ({url_name})"
        )));
    }
    if ctx.info.namespaced
        && let (Some(ns), Some(url_ns)) = (object::namespace(obj), ctx.req.namespace.as_deref())
        && ns != url_ns
    {
        return Err(ApiError::bad_request(
            "the namespace of the provided object does not match the namespace sent on the request",
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn baselines_hold_the_structs_go_always_has() {
        let d = json!({"spec": {"template": {"spec": {}}}, "status": {}});
        assert_eq!(
            create_baseline("Deployment", &d),
            json!({"metadata": {}, "spec": {"template": {"metadata": {},
                   "spec": {"containers": null}}, "strategy": {}}, "status": {}})
        );
        assert_eq!(
            create_baseline("ConfigMap", &json!({"data": {}})),
            json!({"metadata": {}})
        );
        assert_eq!(
            gvk_string("apps/v1", "Deployment"),
            "apps/v1, Kind=Deployment"
        );
        assert_eq!(gvk_string("v1", "Pod"), "/v1, Kind=Pod");
    }

    #[test]
    fn apply_bodies_are_yaml_or_json_objects() {
        assert_eq!(decode_config(b"{\"a\": 1}").unwrap(), json!({"a": 1}));
        assert_eq!(decode_config(b"a: [x]\n").unwrap(), json!({"a": ["x"]}));
        assert_eq!(decode_config(b"- 1\n").unwrap_err().code, 400);
        assert_eq!(decode_config(b"a: [\n").unwrap_err().code, 400);
    }
}
