//! The pod subresources that act rather than store: `binding` (the scheduler's assignment of a
//! pod to a node, also served as the legacy `bindings` resource) and `eviction` (a delete that
//! honours PodDisruptionBudgets), after upstream's `BindingREST` and `EvictionREST`.
//!
//! Both answer a `Status` of `Success` with code 201, as upstream's create handler does for
//! REST storages that return a `Status`.

use crate::http as h;
use crate::object;
use crate::rest::{Ctx, DeleteOptions};
use crate::storage::{self, Storage};
use crate::strategy::common::selector_of;
use axum::body::Body;
use http::{Response, StatusCode};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{StatusCause, StatusDetails};
use serde_json::{Value, json};
use skiff_core::registry::{self, ResourceInfo};
use skiff_core::status::{ApiError, FieldError, GroupResource};
use std::collections::BTreeMap;

/// Upstream's cap on `status.disruptedPods` entries the eviction handler adds before the
/// disruption controller catches up.
pub const MAX_DISRUPTED_PODS: usize = 2000;
/// How often a conflicting PodDisruptionBudget status write is retried.
const PDB_RETRIES: usize = 20;

fn pods() -> &'static ResourceInfo {
    registry::lookup("", "v1", "pods").expect("pods are a built-in resource")
}

fn pdbs() -> &'static ResourceInfo {
    registry::lookup("policy", "v1", "poddisruptionbudgets")
        .expect("poddisruptionbudgets are a built-in resource")
}

/// The `Status` answer of a successful binding or eviction.
fn success() -> Response<Body> {
    let status = json!({
        "kind": "Status",
        "apiVersion": "v1",
        "metadata": {},
        "status": "Success",
        "code": 201,
    });
    h::json(StatusCode::CREATED, &status)
}

async fn read_object(ctx: &Ctx<'_>, body: Body) -> Result<Value, ApiError> {
    let bytes = h::read_body(body).await?;
    let obj = h::decode_object(h::media_type(ctx.headers).as_deref(), &bytes)?;
    if let (Some(body_ns), Some(path_ns)) = (object::namespace(&obj), ctx.req.namespace.as_deref())
        && body_ns != path_ns
    {
        return Err(ApiError::bad_request(
            "the namespace of the provided object does not match the namespace sent on the request",
        ));
    }
    Ok(obj)
}

/// Upstream answers errors that are not API errors (validation aggregates, failed
/// preconditions inside an update function) as a 500 whose message is the error text.
fn plain_error(message: String) -> ApiError {
    ApiError {
        code: 500,
        reason: "",
        message,
        details: None,
    }
}

/// Upstream's `ValidatePodBinding`.
pub fn validate_binding(binding: &Value) -> Vec<FieldError> {
    let mut errs = Vec::new();
    let kind = object::path(binding, "target.kind")
        .and_then(Value::as_str)
        .unwrap_or("");
    if !kind.is_empty() && kind != "Node" {
        errs.push(FieldError::not_supported(
            "target.kind",
            kind,
            &["Node", "<empty>"],
        ));
    }
    let name = object::path(binding, "target.name")
        .and_then(Value::as_str)
        .unwrap_or("");
    if name.is_empty() {
        errs.push(FieldError::required("target.name", ""));
    }
    errs
}

/// The aggregate text of field errors, as Go's `utilerrors.NewAggregate(...).Error()`.
fn aggregate(errs: &[FieldError]) -> String {
    let texts: Vec<String> = errs.iter().map(ToString::to_string).collect();
    match texts.as_slice() {
        [one] => one.clone(),
        many => format!("[{}]", many.join(", ")),
    }
}

/// What binding does to the stored pod: the node, the binding's annotations and a true
/// `PodScheduled` condition. Errors are upstream's reasons for refusing.
pub fn bind_pod(
    pod: &mut Value,
    node: &str,
    annotations: Option<&Value>,
    now: &str,
) -> Result<(), String> {
    let name = object::name(pod).unwrap_or_default().to_owned();
    if object::meta(pod).contains_key("deletionTimestamp") {
        return Err(format!(
            "pod {name} is being deleted, cannot be assigned to a host"
        ));
    }
    if let Some(current) = object::path(pod, "spec.nodeName")
        .and_then(Value::as_str)
        .filter(|n| !n.is_empty())
    {
        return Err(format!(
            "pod {name} is already assigned to node {}",
            skiff_core::labels::go_quote(current)
        ));
    }
    if object::path(pod, "spec.schedulingGates")
        .and_then(Value::as_array)
        .is_some_and(|g| !g.is_empty())
    {
        return Err(format!("pod {name} has non-empty .spec.schedulingGates"));
    }
    pod["spec"]["nodeName"] = json!(node);
    if let Some(extra) = annotations
        .and_then(Value::as_object)
        .filter(|a| !a.is_empty())
    {
        let meta = object::meta_mut(pod);
        let target = meta.entry("annotations").or_insert_with(|| json!({}));
        if !target.is_object() {
            *target = json!({});
        }
        for (k, v) in extra {
            target[k] = v.clone();
        }
    }
    set_pod_condition(pod, "PodScheduled", "True", now);
    Ok(())
}

/// Upstream's `UpdatePodCondition` for a condition without reason or message: replaces the
/// condition of that type, keeping its transition time when the status did not change.
fn set_pod_condition(pod: &mut Value, kind: &str, status: &str, now: &str) {
    if !pod.get("status").is_some_and(Value::is_object) {
        pod["status"] = json!({});
    }
    let conditions = pod["status"]
        .as_object_mut()
        .expect("status is an object")
        .entry("conditions")
        .or_insert_with(|| json!([]));
    if !conditions.is_array() {
        *conditions = json!([]);
    }
    let list = conditions.as_array_mut().expect("conditions are a list");
    let mut fresh = json!({
        "type": kind,
        "status": status,
        "lastProbeTime": null,
        "lastTransitionTime": now,
    });
    match list
        .iter_mut()
        .find(|c| c.get("type").and_then(Value::as_str) == Some(kind))
    {
        Some(existing) => {
            if existing.get("status").and_then(Value::as_str) == Some(status)
                && let Some(t) = existing.get("lastTransitionTime")
            {
                fresh["lastTransitionTime"] = t.clone();
            }
            *existing = fresh;
        }
        None => list.push(fresh),
    }
}

fn now_rfc3339() -> String {
    jiff::Timestamp::now()
        .strftime("%Y-%m-%dT%H:%M:%SZ")
        .to_string()
}

/// `POST .../pods/{name}/binding` and `POST .../namespaces/{ns}/bindings`: assigns a pod to a
/// node. `url_name` is the pod named on the path (the subresource form), `None` for the
/// legacy collection, which takes the name from the body.
pub async fn binding(
    storage: &Storage,
    ctx: &Ctx<'_>,
    url_name: Option<&str>,
    body: Body,
) -> Result<Response<Body>, ApiError> {
    let binding = read_object(ctx, body).await?;
    let name = object::name(&binding).unwrap_or_default().to_owned();
    if let Some(url) = url_name
        && url != name
    {
        return Err(ApiError::bad_request(
            "name in URL does not match name in Binding object",
        ));
    }
    if name.is_empty() {
        return Err(ApiError::invalid(
            &skiff_core::status::GroupKind::new("", "Binding"),
            "",
            &[FieldError::required(
                "metadata.name",
                "name or generateName is required",
            )],
        ));
    }
    let errs = validate_binding(&binding);
    if !errs.is_empty() {
        return Err(plain_error(aggregate(&errs)));
    }
    let node = object::path(&binding, "target.name")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_owned();
    let uid = object::meta_str(&binding, "uid").filter(|s| !s.is_empty());
    let want_rv = object::meta_str(&binding, "resourceVersion").filter(|s| !s.is_empty());
    let annotations = object::meta(&binding).get("annotations").cloned();
    let info = pods();
    let ns = ctx.req.namespace.as_deref();
    let gr = GroupResource::new("", "pods/binding");
    for _attempt in 0..16 {
        let Some((mut pod, rev)) = storage.get_record(info, ns, &name).await? else {
            return Err(ApiError::not_found(&GroupResource::new("", "pods"), &name));
        };
        if let Some(uid) = uid {
            let have = object::meta_str(&pod, "uid").unwrap_or_default();
            if have != uid {
                return Err(ApiError::conflict(
                    &GroupResource::new("", "pods"),
                    &name,
                    &format!(
                        "Precondition failed: UID in precondition: {uid}, UID in object meta: {have}"
                    ),
                ));
            }
        }
        if let Some(want) = want_rv
            && want != rev.to_string()
        {
            return Err(ApiError::conflict(
                &GroupResource::new("", "pods"),
                &name,
                &format!(
                    "Precondition failed: ResourceVersion in precondition: {want}, ResourceVersion in meta: {rev}"
                ),
            ));
        }
        bind_pod(&mut pod, &node, annotations.as_ref(), &now_rfc3339())
            .map_err(|why| ApiError::conflict(&gr, &name, &why))?;
        if ctx.dry_run() {
            return Ok(success());
        }
        match storage.update(info, &pod, rev, None).await {
            Ok(_) => return Ok(success()),
            Err(e) if e.code == 409 && want_rv.is_none() => continue,
            Err(e) => return Err(e),
        }
    }
    Err(ApiError::stale(&GroupResource::new("", "pods"), &name))
}

/// Upstream's `IsPodReady`: the `Ready` condition is true.
fn pod_ready(pod: &Value) -> bool {
    object::path(pod, "status.conditions")
        .and_then(Value::as_array)
        .is_some_and(|cs| {
            cs.iter().any(|c| {
                c.get("type").and_then(Value::as_str) == Some("Ready")
                    && c.get("status").and_then(Value::as_str) == Some("True")
            })
        })
}

fn phase(pod: &Value) -> &str {
    object::path(pod, "status.phase")
        .and_then(Value::as_str)
        .unwrap_or("")
}

/// Pods whose eviction needs no budget: terminal, pending or already being deleted.
fn can_ignore_budget(pod: &Value) -> bool {
    matches!(phase(pod), "Succeeded" | "Failed" | "Pending")
        || object::meta(pod).contains_key("deletionTimestamp")
}

/// Whether a budget-free eviction must still pin the pod's resourceVersion (any pod not
/// terminal and not being deleted, so it cannot become ready unnoticed).
fn pins_resource_version(pod: &Value) -> bool {
    !matches!(phase(pod), "Succeeded" | "Failed")
        && !object::meta(pod).contains_key("deletionTimestamp")
}

fn too_many_requests(cause: String, retry_after: i32) -> ApiError {
    let mut e = ApiError::too_many_requests(
        "Cannot evict pod as it would violate the pod's disruption budget.",
    );
    e.details = Some(Box::new(StatusDetails {
        causes: Some(vec![StatusCause {
            reason: Some("DisruptionBudget".into()),
            message: Some(cause),
            field: None,
        }]),
        retry_after_seconds: (retry_after > 0).then_some(retry_after),
        ..StatusDetails::default()
    }));
    e
}

fn int_at(v: &Value, path: &str) -> i64 {
    object::path(v, path).and_then(Value::as_i64).unwrap_or(0)
}

/// Upstream's `checkAndDecrement`: whether the budget allows one more disruption, and the
/// budget with the disruption taken (and the pod noted as disrupted at `now`).
pub fn check_and_decrement(pdb: &Value, pod_name: &str, now: &str) -> Result<Value, ApiError> {
    let name = object::name(pdb).unwrap_or_default();
    let gr = GroupResource::new("policy", "poddisruptionbudget");
    let generation = object::meta(pdb)
        .get("generation")
        .and_then(Value::as_i64)
        .unwrap_or(0);
    if int_at(pdb, "status.observedGeneration") < generation {
        return Err(too_many_requests(
            format!("The disruption budget {name} is still being processed by the server."),
            10,
        ));
    }
    let allowed = int_at(pdb, "status.disruptionsAllowed");
    if allowed < 0 {
        return Err(ApiError::forbidden(
            &gr,
            name,
            "pdb disruptions allowed is negative",
        ));
    }
    let disrupted = object::path(pdb, "status.disruptedPods")
        .and_then(Value::as_object)
        .map_or(0, serde_json::Map::len);
    if disrupted > MAX_DISRUPTED_PODS {
        return Err(ApiError::forbidden(
            &gr,
            name,
            "DisruptedPods map too big - too many evictions not confirmed by PDB controller",
        ));
    }
    if allowed == 0 {
        return Err(too_many_requests(
            format!(
                "The disruption budget {name} needs {} healthy pods and has {} currently",
                int_at(pdb, "status.desiredHealthy"),
                int_at(pdb, "status.currentHealthy")
            ),
            0,
        ));
    }
    let mut out = pdb.clone();
    if !out.get("status").is_some_and(Value::is_object) {
        out["status"] = json!({});
    }
    out["status"]["disruptionsAllowed"] = json!(allowed - 1);
    if allowed - 1 == 0 {
        set_disruption_allowed(&mut out, now);
    }
    let status = out["status"].as_object_mut().expect("status is an object");
    let pods = status.entry("disruptedPods").or_insert_with(|| json!({}));
    if !pods.is_object() {
        *pods = json!({});
    }
    pods[pod_name] = json!(now);
    Ok(out)
}

/// Upstream's `UpdateDisruptionAllowedCondition` once no disruption is left.
fn set_disruption_allowed(pdb: &mut Value, now: &str) {
    let observed = int_at(pdb, "status.observedGeneration");
    let status = pdb["status"].as_object_mut().expect("status is an object");
    let conditions = status.entry("conditions").or_insert_with(|| json!([]));
    if !conditions.is_array() {
        *conditions = json!([]);
    }
    let list = conditions.as_array_mut().expect("conditions are a list");
    let fresh = |since: Value| {
        json!({
            "type": "DisruptionAllowed",
            "status": "False",
            "reason": "InsufficientPods",
            "message": "",
            "observedGeneration": observed,
            "lastTransitionTime": since,
        })
    };
    match list
        .iter_mut()
        .find(|c| c.get("type").and_then(Value::as_str) == Some("DisruptionAllowed"))
    {
        Some(c) => {
            let since = if c.get("status").and_then(Value::as_str) == Some("False") {
                c.get("lastTransitionTime").cloned().unwrap_or(json!(now))
            } else {
                json!(now)
            };
            *c = fresh(since);
        }
        None => list.push(fresh(json!(now))),
    }
}

/// The budgets whose selector matches the pod (a budget with an empty or unparsable
/// selector matches nothing).
fn matching_budgets(pod: &Value, budgets: Vec<Value>) -> Vec<Value> {
    let labels: BTreeMap<String, String> = object::meta(pod)
        .get("labels")
        .and_then(|l| serde_json::from_value(l.clone()).ok())
        .unwrap_or_default();
    budgets
        .into_iter()
        .filter(|b| {
            let sel = object::path(b, "spec.selector");
            if sel.is_none_or(crate::strategy::common::selector_is_empty) {
                return false;
            }
            selector_of(sel).is_some_and(|s| !s.is_empty() && s.matches(&labels))
        })
        .collect()
}

/// `POST .../pods/{name}/eviction`: deletes the pod unless that would break its
/// PodDisruptionBudget, which is then charged for the disruption.
pub async fn eviction(
    storage: &Storage,
    ctx: &Ctx<'_>,
    body: Body,
) -> Result<Response<Body>, ApiError> {
    let eviction = read_object(ctx, body).await?;
    let name = ctx.req.name.clone().unwrap_or_default();
    if object::name(&eviction) != Some(name.as_str()) {
        return Err(ApiError::bad_request(
            "name in URL does not match name in Eviction object",
        ));
    }
    let raw_opts = eviction.get("deleteOptions").cloned().unwrap_or(json!({}));
    // The request's dryRun and the body's must agree when both are given.
    let body_dry: Vec<&str> = raw_opts
        .get("dryRun")
        .and_then(Value::as_array)
        .map(|a| a.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default();
    let query_dry: Vec<&str> = ctx.query.all("dryRun").collect();
    if !body_dry.is_empty() && !query_dry.is_empty() && body_dry != query_dry {
        return Err(plain_error(format!(
            "Non-matching dry-run options in request and content: [{}] and [{}]",
            query_dry.join(" "),
            body_dry.join(" ")
        )));
    }
    let mut opts = DeleteOptions::from_json(&raw_opts)?;
    opts.dry_run |= ctx.dry_run();
    let caller_pinned_rv = opts.precondition_rv.is_some();
    let info = pods();
    let ns = ctx.req.namespace.as_deref();
    let pod_gr = GroupResource::new("", "pods");

    // Pods that already stopped, never started or are going anyway need no budget.
    let mut pod = Value::Null;
    for _attempt in 0..PDB_RETRIES {
        let Some((current, rev)) = storage.get_record(info, ns, &name).await? else {
            return Err(ApiError::not_found(&pod_gr, &name));
        };
        if !can_ignore_budget(&current) {
            pod = current;
            break;
        }
        let mut o = opts.clone();
        if pins_resource_version(&current) && !caller_pinned_rv {
            o.precondition_rv = Some(rev.to_string());
        }
        match crate::rest::delete(storage, ctx, &name, &o).await {
            Ok(_) => return Ok(success()),
            Err(e) if e.code == 409 && !caller_pinned_rv => continue,
            Err(e) => return Err(e),
        }
    }
    if pod.is_null() {
        return Err(ApiError::stale(&pod_gr, &name));
    }
    let pod_rv = object::meta_str(&pod, "resourceVersion").map(str::to_owned);

    let pdb_info = pdbs();
    let at = storage.revision().await?;
    let all = storage.list(pdb_info, ns, 0, None, at, &|_| true).await?;
    let budgets = matching_budgets(&pod, all.items);
    if budgets.len() > 1 {
        let status = json!({
            "kind": "Status",
            "apiVersion": "v1",
            "metadata": {},
            "status": "Failure",
            "message": "This pod has more than one PodDisruptionBudget, which the eviction subresource does not support.",
            "code": 500,
        });
        return Ok(h::json(StatusCode::INTERNAL_SERVER_ERROR, &status));
    }
    let mut pin_rv = false;
    let mut budget_name = String::new();
    if let Some(budget) = budgets.into_iter().next() {
        budget_name = object::name(&budget).unwrap_or_default().to_owned();
        if !pod_ready(&pod) {
            let always = object::path(&budget, "spec.unhealthyPodEvictionPolicy")
                .and_then(Value::as_str)
                == Some("AlwaysAllow");
            let desired = int_at(&budget, "status.desiredHealthy");
            if always || (int_at(&budget, "status.currentHealthy") >= desired && desired > 0) {
                pin_rv = true;
            }
        }
        if !pin_rv {
            charge_budget(storage, pdb_info, ns, &budget_name, &name, opts.dry_run).await?;
        }
    }
    let mut o = opts.clone();
    if pin_rv {
        o.precondition_rv = pod_rv;
    }
    match crate::rest::delete(storage, ctx, &name, &o).await {
        Ok(_) => Ok(success()),
        Err(e) if e.code == 409 && pin_rv && !caller_pinned_rv => Err(too_many_requests(
            format!("The disruption budget {budget_name} is still being processed by the server."),
            10,
        )),
        Err(e) => Err(e),
    }
}

/// Takes one disruption from the budget, retrying on concurrent status writes.
async fn charge_budget(
    storage: &Storage,
    info: &'static ResourceInfo,
    ns: Option<&str>,
    budget: &str,
    pod: &str,
    dry_run: bool,
) -> Result<(), ApiError> {
    for _attempt in 0..PDB_RETRIES {
        let Some((current, rev)) = storage.get_record(info, ns, budget).await? else {
            return Err(ApiError::not_found(&storage::group_resource(info), budget));
        };
        let charged = check_and_decrement(&current, pod, &now_rfc3339())?;
        if dry_run {
            return Ok(());
        }
        match storage.update(info, &charged, rev, None).await {
            Ok(_) => return Ok(()),
            Err(e) if e.code == 409 => continue,
            Err(e) => return Err(e),
        }
    }
    Err(ApiError::timeout(&format!(
        "couldn't update PodDisruptionBudget {budget:?} due to conflicts"
    )))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn binding_validation() {
        let ok = json!({"metadata": {"name": "p"}, "target": {"name": "n1"}});
        assert!(validate_binding(&ok).is_empty());
        let bad = json!({"metadata": {"name": "p"}, "target": {"kind": "Pod"}});
        assert_eq!(
            aggregate(&validate_binding(&bad)),
            "[target.kind: Unsupported value: \"Pod\": supported values: \"Node\", \"<empty>\", target.name: Required value]"
        );
    }

    #[test]
    fn binding_sets_node_annotations_and_condition() {
        let mut pod = json!({
            "metadata": {"name": "p", "annotations": {"a": "1"}},
            "spec": {"containers": []},
            "status": {"phase": "Pending", "conditions": [
                {"type": "PodScheduled", "status": "False", "reason": "Unschedulable",
                 "lastTransitionTime": "2026-01-01T00:00:00Z"}]}
        });
        bind_pod(
            &mut pod,
            "n1",
            Some(&json!({"b": "2"})),
            "2026-01-02T00:00:00Z",
        )
        .unwrap();
        assert_eq!(pod["spec"]["nodeName"], "n1");
        assert_eq!(pod["metadata"]["annotations"], json!({"a": "1", "b": "2"}));
        assert_eq!(
            pod["status"]["conditions"],
            json!([{"type": "PodScheduled", "status": "True", "lastProbeTime": null,
                    "lastTransitionTime": "2026-01-02T00:00:00Z"}])
        );
        assert_eq!(
            bind_pod(&mut pod, "n2", None, "x").unwrap_err(),
            "pod p is already assigned to node \"n1\""
        );
        let mut gated =
            json!({"metadata": {"name": "g"}, "spec": {"schedulingGates": [{"name": "x"}]}});
        assert_eq!(
            bind_pod(&mut gated, "n1", None, "x").unwrap_err(),
            "pod g has non-empty .spec.schedulingGates"
        );
        let mut going = json!({"metadata": {"name": "d", "deletionTimestamp": "t"}, "spec": {}});
        assert!(
            bind_pod(&mut going, "n1", None, "x")
                .unwrap_err()
                .contains("being deleted")
        );
    }

    fn budget(allowed: i64, generation: i64, observed: i64) -> Value {
        json!({
            "metadata": {"name": "b", "generation": generation},
            "spec": {"selector": {"matchLabels": {"app": "a"}}},
            "status": {"observedGeneration": observed, "disruptionsAllowed": allowed,
                       "desiredHealthy": 2, "currentHealthy": 2, "expectedPods": 3}
        })
    }

    #[test]
    fn budgets_are_charged_or_refuse() {
        let out = check_and_decrement(&budget(2, 1, 1), "p1", "now").unwrap();
        assert_eq!(out["status"]["disruptionsAllowed"], 1);
        assert_eq!(out["status"]["disruptedPods"], json!({"p1": "now"}));
        assert!(out["status"].get("conditions").is_none());

        let last = check_and_decrement(&budget(1, 1, 1), "p1", "now").unwrap();
        assert_eq!(
            last["status"]["conditions"][0]["reason"],
            "InsufficientPods"
        );
        assert_eq!(last["status"]["conditions"][0]["status"], "False");

        let e = check_and_decrement(&budget(0, 1, 1), "p1", "now").unwrap_err();
        assert_eq!(e.code, 429);
        assert_eq!(
            e.message,
            "Cannot evict pod as it would violate the pod's disruption budget."
        );
        let cause = &e.details.as_ref().unwrap().causes.as_ref().unwrap()[0];
        assert_eq!(cause.reason.as_deref(), Some("DisruptionBudget"));
        assert_eq!(
            cause.message.as_deref(),
            Some("The disruption budget b needs 2 healthy pods and has 2 currently")
        );

        let e = check_and_decrement(&budget(3, 2, 1), "p1", "now").unwrap_err();
        assert_eq!(e.code, 429);
        assert_eq!(e.details.as_ref().unwrap().retry_after_seconds, Some(10));

        assert_eq!(
            check_and_decrement(&budget(-1, 1, 1), "p1", "now")
                .unwrap_err()
                .code,
            403
        );
    }

    #[test]
    fn budgets_match_by_selector_and_never_by_an_empty_one() {
        let pod = json!({"metadata": {"name": "p", "labels": {"app": "a"}}});
        let empty = json!({"metadata": {"name": "e"}, "spec": {"selector": {}}});
        let none = json!({"metadata": {"name": "n"}, "spec": {}});
        let other =
            json!({"metadata": {"name": "o"}, "spec": {"selector": {"matchLabels": {"app": "z"}}}});
        let found = matching_budgets(&pod, vec![budget(1, 1, 1), empty, none, other]);
        assert_eq!(found.len(), 1);
        assert_eq!(object::name(&found[0]), Some("b"));
    }

    #[test]
    fn which_pods_skip_the_budget() {
        let running = json!({"metadata": {}, "status": {"phase": "Running"}});
        let pending = json!({"metadata": {}, "status": {"phase": "Pending"}});
        let done = json!({"metadata": {}, "status": {"phase": "Succeeded"}});
        assert!(!can_ignore_budget(&running));
        assert!(can_ignore_budget(&pending) && pins_resource_version(&pending));
        assert!(can_ignore_budget(&done) && !pins_resource_version(&done));
    }
}
