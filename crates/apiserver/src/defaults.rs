//! The defaults upstream's decoder applies to a request body (the scheme's `SetDefaults_*`
//! functions, run by the defaulting codec before anything else sees the object).
//!
//! The REST handlers apply them to the object of a create, an update and a non-apply patch
//! before field management records the write, so the request's manager owns the fields they
//! fill in, as upstream: after `kubectl create deployment`, `kubectl-create` owns
//! `spec.progressDeadlineSeconds`, the template's `dnsPolicy`, each container's
//! `terminationMessagePath`, and so on. Server-side apply does not come here: upstream
//! defaults the merged object only after the applier's fields are settled, so an applier owns
//! what it applied and nothing more.
//!
//! The per-kind strategies ([`crate::strategy`]) default again before validating; the defaults
//! only fill what is unset, so applying them twice changes nothing. What upstream sets later
//! (`PrepareForCreate`, allocations, generated selectors) stays in the strategies and is owned
//! by nobody.

use crate::object;
use crate::strategy;
use serde_json::Value;
use skiff_core::registry::ResourceInfo;
use skiff_core::status::ApiError;

/// The label every Namespace carries its name in.
const NAMESPACE_NAME_LABEL: &str = "kubernetes.io/metadata.name";

/// Applies the decode-time defaults of `info`'s kind to `obj` (in `info`'s version). A body
/// whose quantities do not parse is refused with the 400 upstream's decoder gives.
pub fn apply(info: &ResourceInfo, obj: &mut Value) -> Result<(), ApiError> {
    match (info.gvk.group, info.gvk.kind) {
        ("", "Pod") => strategy::pod::prepare(info, obj),
        ("", "Service") => service(obj),
        ("", "Secret") => {
            strategy::config::prepare_secret(obj);
            Ok(())
        }
        ("", "Namespace") => {
            namespace(obj);
            Ok(())
        }
        ("batch", "Job") => strategy::batch::prepare_job(info, obj),
        ("batch", "CronJob") => strategy::batch::prepare_cron_job(info, obj),
        ("rbac.authorization.k8s.io", "RoleBinding" | "ClusterRoleBinding") => {
            strategy::rbac::default_binding(obj);
            Ok(())
        }
        ("networking.k8s.io", "NetworkPolicy") => {
            strategy::networking::default_network_policy(obj);
            Ok(())
        }
        ("networking.k8s.io", "IngressClass") => {
            strategy::networking::default_ingress_class(obj);
            Ok(())
        }
        ("", "PersistentVolume") => {
            strategy::volumes::default_pv(obj);
            Ok(())
        }
        ("", "PersistentVolumeClaim") => {
            strategy::volumes::default_pvc(obj);
            Ok(())
        }
        ("storage.k8s.io", "StorageClass") => {
            strategy::storage_api::default_storage_class(obj);
            Ok(())
        }
        ("storage.k8s.io", "CSIDriver") => {
            strategy::storage_api::default_csi_driver(obj);
            Ok(())
        }
        ("scheduling.k8s.io", "PriorityClass") => {
            strategy::scheduling::default_priority_class(obj);
            Ok(())
        }
        ("discovery.k8s.io", "EndpointSlice") => {
            strategy::discovery::default_endpoint_slice(obj);
            Ok(())
        }
        ("autoscaling", "HorizontalPodAutoscaler") => {
            strategy::autoscaling::default_hpa(obj, info.gvk.version == "v2");
            Ok(())
        }
        ("", "Endpoints") => {
            strategy::core_misc::default_endpoints(obj);
            Ok(())
        }
        ("", "LimitRange") => {
            strategy::quota::default_limit_range(obj);
            Ok(())
        }
        ("", "Node") => {
            strategy::node::default_node(obj);
            Ok(())
        }
        _ if strategy::workloads::serves(info) => strategy::workloads::apply_defaults(info, obj),
        _ => Ok(()),
    }
}

/// `SetDefaults_Service`, with the normalisation of empty values Go's decoding gives.
fn service(obj: &mut Value) -> Result<(), ApiError> {
    if obj.get("spec").is_none_or(Value::is_null) {
        return Ok(());
    }
    let mut spec = strategy::service::read_spec(obj)?;
    strategy::service::defaults::normalize(&mut spec);
    strategy::service::defaults::set_defaults(&mut spec);
    obj["spec"] = serde_json::to_value(&spec).map_err(ApiError::internal)?;
    Ok(())
}

/// `SetDefaults_Namespace`: a named Namespace is labelled with its name (a generated name is
/// labelled when the namespace is created).
fn namespace(obj: &mut Value) {
    let Some(name) = object::name(obj)
        .filter(|n| !n.is_empty())
        .map(str::to_owned)
    else {
        return;
    };
    let meta = object::meta_mut(obj);
    let labels = meta
        .entry("labels")
        .or_insert_with(|| Value::Object(Default::default()));
    if !labels.is_object() {
        *labels = Value::Object(Default::default());
    }
    labels[NAMESPACE_NAME_LABEL] = Value::String(name);
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;
    use skiff_core::registry::lookup;

    #[test]
    fn deployments_get_their_pod_template_defaults() {
        let info = lookup("apps", "v1", "deployments").unwrap();
        let mut d = json!({"metadata": {"name": "web"}, "spec": {
            "selector": {"matchLabels": {"app": "web"}},
            "template": {"metadata": {"labels": {"app": "web"}},
                         "spec": {"containers": [{"name": "web", "image": "nginx"}]}}}});
        apply(info, &mut d).unwrap();
        assert_eq!(d["spec"]["progressDeadlineSeconds"], 600);
        assert_eq!(d["spec"]["strategy"]["type"], "RollingUpdate");
        let pod = &d["spec"]["template"]["spec"];
        assert_eq!(pod["dnsPolicy"], "ClusterFirst");
        assert_eq!(pod["containers"][0]["imagePullPolicy"], "Always");
        // Applying them again changes nothing.
        let again = {
            let mut a = d.clone();
            apply(info, &mut a).unwrap();
            a
        };
        assert_eq!(again, d);
    }

    #[test]
    fn other_kinds_get_theirs_and_bad_quantities_are_refused() {
        let svc = lookup("", "v1", "services").unwrap();
        let mut s = json!({"metadata": {"name": "s"}, "spec": {"ports": [{"port": 80}]}});
        apply(svc, &mut s).unwrap();
        assert_eq!(s["spec"]["type"], "ClusterIP");
        assert_eq!(s["spec"]["ports"][0]["targetPort"], 80);
        assert!(s["spec"].get("clusterIP").is_none());
        let ns = lookup("", "v1", "namespaces").unwrap();
        let mut n = json!({"metadata": {"name": "team"}});
        apply(ns, &mut n).unwrap();
        assert_eq!(
            n["metadata"]["labels"],
            json!({"kubernetes.io/metadata.name": "team"})
        );
        let secrets = lookup("", "v1", "secrets").unwrap();
        let mut sec = json!({"metadata": {"name": "x"}, "stringData": {"a": "b"}});
        apply(secrets, &mut sec).unwrap();
        assert_eq!(sec["type"], "Opaque");
        assert_eq!(sec["data"]["a"], "Yg==");
        let pods = lookup("", "v1", "pods").unwrap();
        let mut p = json!({"metadata": {"name": "p"}, "spec": {"containers": [{"name": "c",
            "image": "busybox", "resources": {"limits": {"cpu": "lots"}}}]}});
        assert_eq!(apply(pods, &mut p).unwrap_err().code, 400);
        let cms = lookup("", "v1", "configmaps").unwrap();
        let mut cm = json!({"metadata": {"name": "c"}});
        apply(cms, &mut cm).unwrap();
        assert_eq!(cm, json!({"metadata": {"name": "c"}}));
    }
}
