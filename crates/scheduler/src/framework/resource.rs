//! Resource amounts as the scheduler counts them (upstream's `framework.Resource`): milli-CPU,
//! bytes of memory and ephemeral storage, a pod count, and extended resources by name.

use k8s_openapi::api::core::v1::{Container, Pod};
use k8s_openapi::apimachinery::pkg::api::resource::Quantity;
use skiff_core::quantity::Quantity as Parsed;
use std::collections::BTreeMap;

/// CPU resource name.
pub const CPU: &str = "cpu";
/// Memory resource name.
pub const MEMORY: &str = "memory";
/// Ephemeral storage resource name.
pub const EPHEMERAL_STORAGE: &str = "ephemeral-storage";
/// Pod count resource name.
pub const PODS: &str = "pods";
/// The CPU a container without a CPU request is counted with when scoring (upstream's
/// `DefaultMilliCPURequest`).
pub const DEFAULT_MILLI_CPU_REQUEST: i64 = 100;
/// The memory a container without a memory request is counted with when scoring
/// (upstream's `DefaultMemoryRequest`, 200 MiB).
pub const DEFAULT_MEMORY_REQUEST: i64 = 200 * 1024 * 1024;

/// An amount of each resource.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Resource {
    /// CPU in thousandths of a core.
    pub milli_cpu: i64,
    /// Memory in bytes.
    pub memory: i64,
    /// Ephemeral storage in bytes.
    pub ephemeral_storage: i64,
    /// Number of pods (only meaningful for allocatable).
    pub allowed_pods: i64,
    /// Extended and hugepage resources, in whole units.
    pub scalar: BTreeMap<String, i64>,
}

fn clamp(v: Option<i128>) -> i64 {
    v.map_or(i64::MAX, |v| {
        v.clamp(i64::MIN as i128, i64::MAX as i128) as i64
    })
}

/// Milli-units of a quantity (rounded up; unparsable counts as zero).
pub fn milli(q: &Quantity) -> i64 {
    Parsed::parse(&q.0).map_or(0, |p| clamp(p.milli_value()))
}

/// Whole units of a quantity (rounded up; unparsable counts as zero).
pub fn value(q: &Quantity) -> i64 {
    Parsed::parse(&q.0).map_or(0, |p| clamp(p.value()))
}

/// Whether a resource name is one the scheduler counts as a scalar (extended resources,
/// hugepages, attachable volumes): everything but cpu, memory, ephemeral storage and pods.
pub fn is_scalar(name: &str) -> bool {
    !matches!(name, CPU | MEMORY | EPHEMERAL_STORAGE | PODS)
}

impl Resource {
    /// The amounts of a resource list.
    pub fn from_list(list: Option<&BTreeMap<String, Quantity>>) -> Resource {
        let mut r = Resource::default();
        for (name, q) in list.into_iter().flatten() {
            r.add_named(name, q);
        }
        r
    }

    fn add_named(&mut self, name: &str, q: &Quantity) {
        match name {
            CPU => self.milli_cpu = self.milli_cpu.saturating_add(milli(q)),
            MEMORY => self.memory = self.memory.saturating_add(value(q)),
            EPHEMERAL_STORAGE => {
                self.ephemeral_storage = self.ephemeral_storage.saturating_add(value(q))
            }
            PODS => self.allowed_pods = self.allowed_pods.saturating_add(value(q)),
            other => {
                let e = self.scalar.entry(other.to_owned()).or_default();
                *e = e.saturating_add(value(q));
            }
        }
    }

    /// Adds `other`.
    pub fn add(&mut self, other: &Resource) {
        self.milli_cpu = self.milli_cpu.saturating_add(other.milli_cpu);
        self.memory = self.memory.saturating_add(other.memory);
        self.ephemeral_storage = self
            .ephemeral_storage
            .saturating_add(other.ephemeral_storage);
        self.allowed_pods = self.allowed_pods.saturating_add(other.allowed_pods);
        for (k, v) in &other.scalar {
            let e = self.scalar.entry(k.clone()).or_default();
            *e = e.saturating_add(*v);
        }
    }

    /// Subtracts `other`.
    pub fn sub(&mut self, other: &Resource) {
        self.milli_cpu = self.milli_cpu.saturating_sub(other.milli_cpu);
        self.memory = self.memory.saturating_sub(other.memory);
        self.ephemeral_storage = self
            .ephemeral_storage
            .saturating_sub(other.ephemeral_storage);
        self.allowed_pods = self.allowed_pods.saturating_sub(other.allowed_pods);
        for (k, v) in &other.scalar {
            let e = self.scalar.entry(k.clone()).or_default();
            *e = e.saturating_sub(*v);
        }
    }

    /// Raises every amount to at least `other`'s.
    pub fn set_max(&mut self, other: &Resource) {
        self.milli_cpu = self.milli_cpu.max(other.milli_cpu);
        self.memory = self.memory.max(other.memory);
        self.ephemeral_storage = self.ephemeral_storage.max(other.ephemeral_storage);
        self.allowed_pods = self.allowed_pods.max(other.allowed_pods);
        for (k, v) in &other.scalar {
            let e = self.scalar.entry(k.clone()).or_default();
            *e = (*e).max(*v);
        }
    }

    /// The amount of one resource by name.
    pub fn get(&self, name: &str) -> i64 {
        match name {
            CPU => self.milli_cpu,
            MEMORY => self.memory,
            EPHEMERAL_STORAGE => self.ephemeral_storage,
            PODS => self.allowed_pods,
            other => self.scalar.get(other).copied().unwrap_or(0),
        }
    }
}

fn container_requests(c: &Container) -> Resource {
    Resource::from_list(c.resources.as_ref().and_then(|r| r.requests.as_ref()))
}

/// Upstream's `PodRequests`: the containers' requests, sidecar (restartable) init containers
/// running alongside them, the largest of the ordinary init containers (each with the sidecars
/// started before it) when larger, plus the pod overhead.
pub fn pod_requests(pod: &Pod) -> Resource {
    pod_requests_with(pod, container_requests)
}

/// Upstream's non-zero requests used for scoring: a container without a cpu or memory request
/// counts [`DEFAULT_MILLI_CPU_REQUEST`] and [`DEFAULT_MEMORY_REQUEST`].
pub fn pod_non_zero_requests(pod: &Pod) -> Resource {
    pod_requests_with(pod, |c| {
        let mut r = container_requests(c);
        let requests = c.resources.as_ref().and_then(|r| r.requests.as_ref());
        if requests.is_none_or(|m| !m.contains_key(CPU)) {
            r.milli_cpu = DEFAULT_MILLI_CPU_REQUEST;
        }
        if requests.is_none_or(|m| !m.contains_key(MEMORY)) {
            r.memory = DEFAULT_MEMORY_REQUEST;
        }
        r
    })
}

fn pod_requests_with(pod: &Pod, of: impl Fn(&Container) -> Resource) -> Resource {
    let Some(spec) = pod.spec.as_ref() else {
        return Resource::default();
    };
    let mut reqs = Resource::default();
    for c in &spec.containers {
        reqs.add(&of(c));
    }
    let mut sidecars = Resource::default();
    let mut init_max = Resource::default();
    for c in spec.init_containers.iter().flatten() {
        let mut r = of(c);
        if c.restart_policy.as_deref() == Some("Always") {
            reqs.add(&r);
            sidecars.add(&r);
            r = sidecars.clone();
        } else {
            r.add(&sidecars);
        }
        init_max.set_max(&r);
    }
    reqs.set_max(&init_max);
    if let Some(overhead) = spec.overhead.as_ref() {
        reqs.add(&Resource::from_list(Some(overhead)));
    }
    reqs
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::api::core::v1::{PodSpec, ResourceRequirements};

    fn c(cpu: Option<&str>, mem: Option<&str>, restart: Option<&str>) -> Container {
        let mut req = BTreeMap::new();
        if let Some(v) = cpu {
            req.insert(CPU.into(), Quantity(v.into()));
        }
        if let Some(v) = mem {
            req.insert(MEMORY.into(), Quantity(v.into()));
        }
        Container {
            name: "c".into(),
            resources: Some(ResourceRequirements {
                requests: Some(req),
                ..Default::default()
            }),
            restart_policy: restart.map(str::to_owned),
            ..Default::default()
        }
    }

    fn pod(containers: Vec<Container>, init: Vec<Container>) -> Pod {
        Pod {
            spec: Some(PodSpec {
                containers,
                init_containers: Some(init),
                ..Default::default()
            }),
            ..Default::default()
        }
    }

    #[test]
    fn quantities() {
        assert_eq!(milli(&Quantity("1".into())), 1000);
        assert_eq!(milli(&Quantity("250m".into())), 250);
        assert_eq!(value(&Quantity("1Gi".into())), 1 << 30);
        assert_eq!(value(&Quantity("1500m".into())), 2);
    }

    #[test]
    fn init_containers_and_sidecars() {
        // Two app containers (1 + 1 cpu); an init container of 3 cpu dominates.
        let p = pod(
            vec![c(Some("1"), None, None), c(Some("1"), None, None)],
            vec![c(Some("3"), None, None)],
        );
        assert_eq!(pod_requests(&p).milli_cpu, 3000);
        // A sidecar of 1 cpu runs with the apps (3), and with the init container after it (1+2).
        let p = pod(
            vec![c(Some("1"), None, None), c(Some("1"), None, None)],
            vec![c(Some("1"), None, Some("Always")), c(Some("2"), None, None)],
        );
        assert_eq!(pod_requests(&p).milli_cpu, 3000);
        let p = pod(
            vec![c(Some("1"), None, None)],
            vec![c(Some("1"), None, Some("Always")), c(Some("4"), None, None)],
        );
        assert_eq!(pod_requests(&p).milli_cpu, 5000);
    }

    #[test]
    fn non_zero_defaults() {
        let p = pod(
            vec![c(None, None, None), c(Some("50m"), None, None)],
            vec![],
        );
        let r = pod_non_zero_requests(&p);
        assert_eq!(r.milli_cpu, 150);
        assert_eq!(r.memory, 2 * DEFAULT_MEMORY_REQUEST);
        assert_eq!(pod_requests(&p).milli_cpu, 50);
    }
}
