//! Type checks of bodies against the `k8s-openapi` types: a field of the wrong JSON type is a
//! 400, as upstream's decoder makes it.

use serde_json::Value;
use skiff_core::registry::ResourceInfo;

macro_rules! kinds {
    ($info:expr, $obj:expr, { $( ($group:literal, $version:literal, $kind:literal) => $ty:ty ),* $(,)? }) => {
        match ($info.gvk.group, $info.gvk.version, $info.gvk.kind) {
            $( ($group, $version, $kind) => serde_json::from_value::<$ty>($obj.clone()).map(|_| ()), )*
            _ => Ok(()),
        }
    };
}

/// Checks that `obj` decodes as the kind of `info`; the error text names the problem.
pub fn check(info: &ResourceInfo, obj: &Value) -> Result<(), String> {
    use k8s_openapi::api::*;
    let result = kinds!(info, obj, {
        ("", "v1", "Binding") => core::v1::Binding,
        ("", "v1", "ConfigMap") => core::v1::ConfigMap,
        ("", "v1", "Endpoints") => core::v1::Endpoints,
        ("", "v1", "Event") => core::v1::Event,
        ("", "v1", "LimitRange") => core::v1::LimitRange,
        ("", "v1", "Namespace") => core::v1::Namespace,
        ("", "v1", "Node") => core::v1::Node,
        ("", "v1", "PersistentVolumeClaim") => core::v1::PersistentVolumeClaim,
        ("", "v1", "PersistentVolume") => core::v1::PersistentVolume,
        ("", "v1", "Pod") => core::v1::Pod,
        ("", "v1", "PodTemplate") => core::v1::PodTemplate,
        ("", "v1", "ReplicationController") => core::v1::ReplicationController,
        ("", "v1", "ResourceQuota") => core::v1::ResourceQuota,
        ("", "v1", "Secret") => core::v1::Secret,
        ("", "v1", "ServiceAccount") => core::v1::ServiceAccount,
        ("", "v1", "Service") => core::v1::Service,
        ("apps", "v1", "ControllerRevision") => apps::v1::ControllerRevision,
        ("apps", "v1", "DaemonSet") => apps::v1::DaemonSet,
        ("apps", "v1", "Deployment") => apps::v1::Deployment,
        ("apps", "v1", "ReplicaSet") => apps::v1::ReplicaSet,
        ("apps", "v1", "StatefulSet") => apps::v1::StatefulSet,
        ("events.k8s.io", "v1", "Event") => events::v1::Event,
        ("autoscaling", "v2", "HorizontalPodAutoscaler") => autoscaling::v2::HorizontalPodAutoscaler,
        ("autoscaling", "v1", "HorizontalPodAutoscaler") => autoscaling::v1::HorizontalPodAutoscaler,
        ("batch", "v1", "CronJob") => batch::v1::CronJob,
        ("batch", "v1", "Job") => batch::v1::Job,
        ("networking.k8s.io", "v1", "IngressClass") => networking::v1::IngressClass,
        ("networking.k8s.io", "v1", "Ingress") => networking::v1::Ingress,
        ("networking.k8s.io", "v1", "NetworkPolicy") => networking::v1::NetworkPolicy,
        ("policy", "v1", "PodDisruptionBudget") => policy::v1::PodDisruptionBudget,
        ("rbac.authorization.k8s.io", "v1", "ClusterRoleBinding") => rbac::v1::ClusterRoleBinding,
        ("rbac.authorization.k8s.io", "v1", "ClusterRole") => rbac::v1::ClusterRole,
        ("rbac.authorization.k8s.io", "v1", "RoleBinding") => rbac::v1::RoleBinding,
        ("rbac.authorization.k8s.io", "v1", "Role") => rbac::v1::Role,
        ("storage.k8s.io", "v1", "CSIDriver") => storage::v1::CSIDriver,
        ("storage.k8s.io", "v1", "CSINode") => storage::v1::CSINode,
        ("storage.k8s.io", "v1", "StorageClass") => storage::v1::StorageClass,
        ("storage.k8s.io", "v1", "VolumeAttachment") => storage::v1::VolumeAttachment,
        ("scheduling.k8s.io", "v1", "PriorityClass") => scheduling::v1::PriorityClass,
        ("coordination.k8s.io", "v1", "Lease") => coordination::v1::Lease,
        ("discovery.k8s.io", "v1", "EndpointSlice") => discovery::v1::EndpointSlice,
    });
    result.map_err(|e| format!("error decoding {} body: {e}", info.gvk.kind))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;
    use skiff_core::registry::lookup;

    #[test]
    fn wrong_json_types_are_reported() {
        let d = lookup("apps", "v1", "deployments").unwrap();
        let ok = json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "a"},
            "spec": {"replicas": 2, "selector": {"matchLabels": {"a": "b"}},
                     "template": {"spec": {"containers": [{"name": "c", "image": "i"}]}}}});
        assert!(check(d, &ok).is_ok());
        let bad = json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "a"},
            "spec": {"replicas": "two"}});
        assert!(check(d, &bad).unwrap_err().contains("Deployment"));
        let cm = lookup("", "v1", "configmaps").unwrap();
        assert!(check(cm, &json!({"metadata": {"name": "c"}, "data": {"k": "v"}})).is_ok());
        assert!(check(cm, &json!({"metadata": {"name": "c"}, "data": {"k": 1}})).is_err());
    }
}
