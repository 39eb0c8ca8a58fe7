//! The `scale` subresource (`autoscaling/v1` Scale) of workloads with `spec.replicas`.

use crate::http as h;
use crate::object;
use crate::request_info::Verb;
use crate::rest::{Ctx, respond_object};
use crate::storage::{self, Storage};
use axum::body::Body;
use http::{Response, StatusCode};
use serde_json::{Value, json};
use skiff_core::status::{ApiError, FieldError, GroupKind};

/// The Scale view of a workload.
fn scale_of(obj: &Value) -> Value {
    let meta = object::meta(obj);
    let mut m = json!({});
    for k in [
        "name",
        "namespace",
        "uid",
        "resourceVersion",
        "creationTimestamp",
    ] {
        if let Some(v) = meta.get(k) {
            m[k] = v.clone();
        }
    }
    let selector = match object::path(obj, "spec.selector") {
        Some(sel) if sel.get("matchLabels").is_some() || sel.get("matchExpressions").is_some() => {
            object::label_selector_text(Some(sel)).unwrap_or_default()
        }
        Some(sel) => object::string_map(Some(sel))
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect::<Vec<_>>()
            .join(","),
        None => String::new(),
    };
    json!({
        "kind": "Scale",
        "apiVersion": "autoscaling/v1",
        "metadata": m,
        "spec": {"replicas": object::path(obj, "spec.replicas").and_then(Value::as_i64).unwrap_or(1)},
        "status": {
            "replicas": object::path(obj, "status.replicas").and_then(Value::as_i64).unwrap_or(0),
            "selector": selector,
        },
    })
}

/// GET, PUT or PATCH of `<workload>/scale`.
pub async fn serve(
    storage: &Storage,
    ctx: &Ctx<'_>,
    body: Body,
) -> Result<Response<Body>, ApiError> {
    let name = ctx.req.name.clone().unwrap_or_default();
    let ns = ctx.req.namespace.as_deref();
    if ctx.req.verb == Verb::Get {
        let obj = storage.get(ctx.info, ns, &name).await?;
        return Ok(h::json(StatusCode::OK, &scale_of(&obj)));
    }
    let bytes = h::read_body(body).await?;
    let gr = storage::group_resource(ctx.info);
    for _ in 0..16 {
        let Some((current, rev)) = storage.get_record(ctx.info, ns, &name).await? else {
            return Err(ApiError::not_found(&gr, &name));
        };
        let scale = if ctx.req.verb == Verb::Patch {
            let patch = crate::rest::Patch::parse_body(ctx.headers, &bytes)?;
            patch.apply_to(scale_of(&current), "Scale")?
        } else {
            h::decode_object(h::media_type(ctx.headers).as_deref(), &bytes)?
        };
        let wanted = object::meta_str(&scale, "resourceVersion")
            .filter(|v| !v.is_empty())
            .map(str::to_owned);
        if let Some(v) = &wanted
            && v != &rev.to_string()
        {
            return Err(ApiError::stale(&gr, &name));
        }
        let Some(replicas) = object::path(&scale, "spec.replicas").and_then(Value::as_i64) else {
            return Err(ApiError::invalid(
                &GroupKind::new("autoscaling", "Scale"),
                &name,
                &[FieldError::required("spec.replicas", "")],
            ));
        };
        if replicas < 0 {
            return Err(ApiError::invalid(
                &GroupKind::new("autoscaling", "Scale"),
                &name,
                &[FieldError::invalid(
                    "spec.replicas",
                    replicas,
                    "must be greater than or equal to 0",
                )],
            ));
        }
        let mut updated = current.clone();
        updated["spec"]["replicas"] = json!(replicas);
        if updated == current {
            return Ok(respond_object(ctx, StatusCode::OK, &scale_of(&current)));
        }
        let generation = object::meta(&current)
            .get("generation")
            .and_then(Value::as_i64)
            .unwrap_or(1);
        object::set_meta(&mut updated, "generation", generation + 1);
        // The new replicas belong to the scaler (`subresource: scale`).
        crate::apply::record_update(ctx, &current, &mut updated)?;
        match storage.update(ctx.info, &updated, rev, None).await {
            Ok(obj) => return Ok(h::json(StatusCode::OK, &scale_of(&obj))),
            Err(e) if e.code == 409 && wanted.is_none() => continue,
            Err(e) => return Err(e),
        }
    }
    Err(ApiError::stale(&gr, &name))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scale_view_of_a_deployment() {
        let d = json!({"metadata": {"name": "web", "namespace": "d", "resourceVersion": "7"},
            "spec": {"replicas": 3, "selector": {"matchLabels": {"app": "web"},
                     "matchExpressions": [{"key": "tier", "operator": "In", "values": ["a", "b"]}]}},
            "status": {"replicas": 2}});
        let s = scale_of(&d);
        assert_eq!(s["spec"]["replicas"], 3);
        assert_eq!(s["status"]["replicas"], 2);
        assert_eq!(s["status"]["selector"], "app=web,tier in (a,b)");
        assert_eq!(s["metadata"]["resourceVersion"], "7");
        let rc = json!({"metadata": {"name": "r"}, "spec": {"selector": {"app": "x"}}});
        assert_eq!(scale_of(&rc)["status"]["selector"], "app=x");
        assert_eq!(scale_of(&rc)["spec"]["replicas"], 1);
    }
}
