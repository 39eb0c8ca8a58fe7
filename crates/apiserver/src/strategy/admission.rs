//! Admission that reads other objects, after upstream's admission plugins: `Priority` resolves
//! a pod's `priorityClassName` (or the cluster's global default class) into `spec.priority`
//! and `spec.preemptionPolicy`.

use crate::object;
use crate::storage::Storage;
use serde_json::{Value, json};
use skiff_core::registry;
use skiff_core::status::{ApiError, GroupResource};

/// Upstream's `Priority` admission for a new pod.
pub async fn pod_priority(storage: &Storage, pod: &mut Value) -> Result<(), ApiError> {
    let info = registry::lookup("scheduling.k8s.io", "v1", "priorityclasses")
        .expect("priorityclasses are built in");
    let name = object::name(pod).unwrap_or_default().to_owned();
    let gr = GroupResource::new("", "pods");
    let class_name = object::path(pod, "spec.priorityClassName")
        .and_then(Value::as_str)
        .filter(|s| !s.is_empty())
        .map(str::to_owned);
    let class = match &class_name {
        Some(c) => match storage.get(info, None, c).await {
            Ok(pc) => Some(pc),
            Err(e) if e.code == 404 => {
                return Err(ApiError::forbidden(
                    &gr,
                    &name,
                    &format!("no PriorityClass with name {c} was found"),
                ));
            }
            Err(e) => return Err(e),
        },
        None => {
            // The global default class, if one is marked.
            let at = storage.revision().await?;
            let all = storage
                .list(info, None, 0, None, at, &|pc: &Value| {
                    pc.get("globalDefault").and_then(Value::as_bool) == Some(true)
                })
                .await?;
            // The oldest default wins, as upstream picks the earliest created.
            all.items.into_iter().min_by(|a, b| {
                object::meta_str(a, "creationTimestamp")
                    .cmp(&object::meta_str(b, "creationTimestamp"))
            })
        }
    };
    let priority = class
        .as_ref()
        .and_then(|c| c.get("value").and_then(Value::as_i64))
        .unwrap_or(0);
    if let Some(given) = object::path(pod, "spec.priority").and_then(Value::as_i64)
        && given != priority
    {
        return Err(ApiError::forbidden(
            &gr,
            &name,
            &format!(
                "the integer value of priority ({given}) must not be provided in pod spec; priority admission controller computed {priority} from the given PriorityClass name"
            ),
        ));
    }
    let Some(spec) = pod.get_mut("spec").and_then(Value::as_object_mut) else {
        return Ok(());
    };
    spec.insert("priority".into(), json!(priority));
    if let Some(c) = &class {
        if class_name.is_none()
            && let Some(n) = object::name(c)
        {
            spec.insert("priorityClassName".into(), json!(n));
        }
        if let Some(policy) = c.get("preemptionPolicy").filter(|p| p.is_string()) {
            spec.insert("preemptionPolicy".into(), policy.clone());
        }
    }
    Ok(())
}
