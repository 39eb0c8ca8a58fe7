//! Upstream's in-tree plugins, each registered by its upstream name.

pub mod image_locality;
pub mod inter_pod_affinity;
pub mod node_affinity;
pub mod node_name;
pub mod node_ports;
pub mod node_resources;
pub mod node_unschedulable;
pub mod pod_topology_spread;
pub mod taint_toleration;
pub mod volume_binding;

#[cfg(test)]
pub(crate) mod testing;

use crate::framework::PluginSet;
use serde::de::DeserializeOwned;
use serde_json::Value;

/// Upstream plugin names.
pub mod names {
    /// NodeName.
    pub const NODE_NAME: &str = "NodeName";
    /// NodeUnschedulable.
    pub const NODE_UNSCHEDULABLE: &str = "NodeUnschedulable";
    /// NodeResourcesFit.
    pub const NODE_RESOURCES_FIT: &str = "NodeResourcesFit";
    /// NodeResourcesBalancedAllocation.
    pub const NODE_RESOURCES_BALANCED_ALLOCATION: &str = "NodeResourcesBalancedAllocation";
    /// NodeAffinity.
    pub const NODE_AFFINITY: &str = "NodeAffinity";
    /// TaintToleration.
    pub const TAINT_TOLERATION: &str = "TaintToleration";
    /// NodePorts.
    pub const NODE_PORTS: &str = "NodePorts";
    /// InterPodAffinity.
    pub const INTER_POD_AFFINITY: &str = "InterPodAffinity";
    /// PodTopologySpread.
    pub const POD_TOPOLOGY_SPREAD: &str = "PodTopologySpread";
    /// ImageLocality.
    pub const IMAGE_LOCALITY: &str = "ImageLocality";
    /// VolumeBinding.
    pub const VOLUME_BINDING: &str = "VolumeBinding";
    /// DefaultPreemption (PostFilter).
    pub const DEFAULT_PREEMPTION: &str = "DefaultPreemption";
    /// PrioritySort (queue sort).
    pub const PRIORITY_SORT: &str = "PrioritySort";
    /// DefaultBinder (bind).
    pub const DEFAULT_BINDER: &str = "DefaultBinder";
}

/// Builds a plugin by its upstream name with its `pluginConfig` args (`None`: defaults).
pub fn build(name: &str, args: Option<&Value>) -> Result<PluginSet, String> {
    match name {
        names::NODE_NAME => node_name::new(args),
        names::NODE_UNSCHEDULABLE => node_unschedulable::new(args),
        names::NODE_RESOURCES_FIT => node_resources::new_fit(args),
        names::NODE_RESOURCES_BALANCED_ALLOCATION => node_resources::new_balanced(args),
        names::NODE_AFFINITY => node_affinity::new(args),
        names::TAINT_TOLERATION => taint_toleration::new(args),
        names::NODE_PORTS => node_ports::new(args),
        names::INTER_POD_AFFINITY => inter_pod_affinity::new(args),
        names::POD_TOPOLOGY_SPREAD => pod_topology_spread::new(args),
        names::IMAGE_LOCALITY => image_locality::new(args),
        names::VOLUME_BINDING => volume_binding::new(args),
        other => Err(format!("{other:?} is not a known plugin")),
    }
}

/// Decodes a plugin's `pluginConfig` args into `T`: absent or `null` args give `T::default()`
/// (which carries upstream's v1 defaults); `apiVersion` and `kind` are accepted and ignored;
/// other unknown fields are an error, as in upstream's strict decoding.
pub(crate) fn decode_args<T: DeserializeOwned + Default>(
    args: Option<&Value>,
) -> Result<T, String> {
    match args {
        None | Some(Value::Null) => Ok(T::default()),
        Some(Value::Object(map)) => {
            let mut map = map.clone();
            map.remove("apiVersion");
            map.remove("kind");
            serde_json::from_value(Value::Object(map)).map_err(|e| format!("decoding args: {e}"))
        }
        Some(other) => Err(format!("decoding args: expected an object, got {other}")),
    }
}
