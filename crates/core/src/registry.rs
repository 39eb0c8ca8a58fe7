//! The registry of built-in resources: what discovery advertises and what the API server routes.
//!
//! Group, version, kind, plural and scope come from `k8s-openapi`'s [`k8s_openapi::Resource`]
//! constants so they cannot drift from the types. Short names, categories, verbs and subresources
//! follow upstream kube-apiserver 1.33.

use k8s_openapi::Resource;
use k8s_openapi::api::{
    apps, authentication, authorization, autoscaling, batch, coordination, core, discovery, events,
    networking, policy, rbac, scheduling, storage,
};

/// Verbs of a resource with the full REST surface.
pub const CRUD_VERBS: &[&str] = &[
    "create",
    "delete",
    "deletecollection",
    "get",
    "list",
    "patch",
    "update",
    "watch",
];
/// Verbs of a resource that only accepts creates (reviews).
pub const CREATE_ONLY: &[&str] = &["create"];
const GET_PATCH_UPDATE: &[&str] = &["get", "patch", "update"];
const CREATE: &[&str] = &["create"];
const GET: &[&str] = &["get"];
const PROXY_VERBS: &[&str] = &["create", "delete", "get", "patch", "update"];
const GET_CREATE: &[&str] = &["create", "get"];

/// A group, version and kind.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Gvk {
    /// API group ("" for core).
    pub group: &'static str,
    /// Version.
    pub version: &'static str,
    /// Kind.
    pub kind: &'static str,
}

impl Gvk {
    /// `apiVersion` as written in objects: `v1` or `apps/v1`.
    pub fn api_version(&self) -> String {
        api_version(self.group, self.version)
    }
}

/// `apiVersion` for a group and version.
pub fn api_version(group: &str, version: &str) -> String {
    if group.is_empty() {
        version.to_owned()
    } else {
        format!("{group}/{version}")
    }
}

/// A subresource such as `pods/status` or `deployments/scale`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Subresource {
    /// Name after the slash (`status`, `scale`, `log`, ...).
    pub name: &'static str,
    /// What the subresource accepts and returns.
    pub response: Gvk,
    /// Verbs allowed on it.
    pub verbs: &'static [&'static str],
}

/// One built-in resource at one version.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ResourceInfo {
    /// Group, version and kind of its objects.
    pub gvk: Gvk,
    /// Plural, lower case: the URL segment (`pods`).
    pub plural: &'static str,
    /// Singular, lower case (`pod`).
    pub singular: &'static str,
    /// Whether objects live in namespaces.
    pub namespaced: bool,
    /// Short names kubectl accepts (`po`).
    pub short_names: &'static [&'static str],
    /// Categories (`all`).
    pub categories: &'static [&'static str],
    /// Verbs on the collection and its objects.
    pub verbs: &'static [&'static str],
    /// Subresources.
    pub subresources: &'static [Subresource],
}

impl ResourceInfo {
    /// The subresource called `name`.
    pub fn subresource(&self, name: &str) -> Option<&Subresource> {
        self.subresources.iter().find(|s| s.name == name)
    }

    /// Whether `verb` is allowed on the resource itself.
    pub fn allows(&self, verb: &str) -> bool {
        self.verbs.contains(&verb)
    }

    /// `pods` for the core group, `deployments.apps` otherwise (how upstream names a resource
    /// in error messages).
    pub fn group_resource(&self) -> String {
        if self.gvk.group.is_empty() {
            self.plural.to_owned()
        } else {
            format!("{}.{}", self.plural, self.gvk.group)
        }
    }

    /// `Pod` for the core group, `Deployment.apps` otherwise (how upstream names a kind in
    /// validation errors).
    pub fn group_kind(&self) -> String {
        if self.gvk.group.is_empty() {
            self.gvk.kind.to_owned()
        } else {
            format!("{}.{}", self.gvk.kind, self.gvk.group)
        }
    }

    /// The kind of the collection (`PodList`).
    pub fn list_kind(&self) -> String {
        format!("{}List", self.gvk.kind)
    }
}

/// Whether a `k8s-openapi` scope type is namespaced.
trait Scope {
    const NAMESPACED: bool;
}

impl Scope for k8s_openapi::NamespaceResourceScope {
    const NAMESPACED: bool = true;
}

impl Scope for k8s_openapi::ClusterResourceScope {
    const NAMESPACED: bool = false;
}

impl Scope for k8s_openapi::SubResourceScope {
    const NAMESPACED: bool = true;
}

/// The `ResourceInfo` of a `k8s-openapi` type, with the facts the type does not carry.
fn info<K: Resource<Scope: Scope>>(
    singular: &'static str,
    short_names: &'static [&'static str],
    categories: &'static [&'static str],
    verbs: &'static [&'static str],
    subresources: &'static [Subresource],
) -> ResourceInfo {
    ResourceInfo {
        gvk: gvk::<K>(),
        plural: K::URL_PATH_SEGMENT,
        singular,
        namespaced: <K::Scope as Scope>::NAMESPACED,
        short_names,
        categories,
        verbs,
        subresources,
    }
}

const fn gvk_of(group: &'static str, version: &'static str, kind: &'static str) -> Gvk {
    Gvk {
        group,
        version,
        kind,
    }
}

fn gvk<K: Resource>() -> Gvk {
    gvk_of(K::GROUP, K::VERSION, K::KIND)
}

const ALL: &[&str] = &["all"];
const NONE: &[&str] = &[];

macro_rules! status_of {
    ($group:literal, $version:literal, $kind:literal) => {
        Subresource {
            name: "status",
            response: gvk_of($group, $version, $kind),
            verbs: GET_PATCH_UPDATE,
        }
    };
}

macro_rules! scale {
    () => {
        Subresource {
            name: "scale",
            response: gvk_of("autoscaling", "v1", "Scale"),
            verbs: GET_PATCH_UPDATE,
        }
    };
}

const POD_SUBRESOURCES: &[Subresource] = &[
    Subresource {
        name: "attach",
        response: gvk_of("", "v1", "PodAttachOptions"),
        verbs: GET_CREATE,
    },
    Subresource {
        name: "binding",
        response: gvk_of("", "v1", "Binding"),
        verbs: CREATE,
    },
    Subresource {
        name: "ephemeralcontainers",
        response: gvk_of("", "v1", "Pod"),
        verbs: GET_PATCH_UPDATE,
    },
    Subresource {
        name: "eviction",
        response: gvk_of("policy", "v1", "Eviction"),
        verbs: CREATE,
    },
    Subresource {
        name: "exec",
        response: gvk_of("", "v1", "PodExecOptions"),
        verbs: GET_CREATE,
    },
    Subresource {
        name: "log",
        response: gvk_of("", "v1", "Pod"),
        verbs: GET,
    },
    Subresource {
        name: "portforward",
        response: gvk_of("", "v1", "PodPortForwardOptions"),
        verbs: GET_CREATE,
    },
    Subresource {
        name: "proxy",
        response: gvk_of("", "v1", "PodProxyOptions"),
        verbs: PROXY_VERBS,
    },
    Subresource {
        name: "resize",
        response: gvk_of("", "v1", "Pod"),
        verbs: GET_PATCH_UPDATE,
    },
    status_of!("", "v1", "Pod"),
];

/// Every built-in resource, in the order discovery lists them (groups in upstream's order,
/// each group's preferred version first).
pub fn all() -> &'static [ResourceInfo] {
    static TABLE: std::sync::OnceLock<Vec<ResourceInfo>> = std::sync::OnceLock::new();
    TABLE.get_or_init(build)
}

fn build() -> Vec<ResourceInfo> {
    use core::v1 as c;
    vec![
        // core/v1
        info::<c::Binding>("binding", NONE, NONE, CREATE_ONLY, &[]),
        info::<c::ConfigMap>("configmap", &["cm"], NONE, CRUD_VERBS, &[]),
        info::<c::Endpoints>("endpoints", &["ep"], NONE, CRUD_VERBS, &[]),
        info::<c::Event>("event", &["ev"], NONE, CRUD_VERBS, &[]),
        info::<c::LimitRange>("limitrange", &["limits"], NONE, CRUD_VERBS, &[]),
        info::<c::Namespace>(
            "namespace",
            &["ns"],
            NONE,
            &[
                "create", "delete", "get", "list", "patch", "update", "watch",
            ],
            const {
                &[
                    Subresource {
                        name: "finalize",
                        response: gvk_of("", "v1", "Namespace"),
                        verbs: &["update"],
                    },
                    status_of!("", "v1", "Namespace"),
                ]
            },
        ),
        info::<c::Node>(
            "node",
            &["no"],
            NONE,
            CRUD_VERBS,
            const {
                &[
                    Subresource {
                        name: "proxy",
                        response: gvk_of("", "v1", "NodeProxyOptions"),
                        verbs: PROXY_VERBS,
                    },
                    status_of!("", "v1", "Node"),
                ]
            },
        ),
        info::<c::PersistentVolumeClaim>(
            "persistentvolumeclaim",
            &["pvc"],
            NONE,
            CRUD_VERBS,
            const { &[status_of!("", "v1", "PersistentVolumeClaim")] },
        ),
        info::<c::PersistentVolume>(
            "persistentvolume",
            &["pv"],
            NONE,
            CRUD_VERBS,
            const { &[status_of!("", "v1", "PersistentVolume")] },
        ),
        info::<c::Pod>("pod", &["po"], ALL, CRUD_VERBS, POD_SUBRESOURCES),
        info::<c::PodTemplate>("podtemplate", NONE, NONE, CRUD_VERBS, &[]),
        info::<c::ReplicationController>(
            "replicationcontroller",
            &["rc"],
            ALL,
            CRUD_VERBS,
            const { &[scale!(), status_of!("", "v1", "ReplicationController")] },
        ),
        info::<c::ResourceQuota>(
            "resourcequota",
            &["quota"],
            NONE,
            CRUD_VERBS,
            const { &[status_of!("", "v1", "ResourceQuota")] },
        ),
        info::<c::Secret>("secret", NONE, NONE, CRUD_VERBS, &[]),
        info::<c::ServiceAccount>(
            "serviceaccount",
            &["sa"],
            NONE,
            CRUD_VERBS,
            const {
                &[Subresource {
                    name: "token",
                    response: gvk_of("authentication.k8s.io", "v1", "TokenRequest"),
                    verbs: CREATE,
                }]
            },
        ),
        info::<c::Service>(
            "service",
            &["svc"],
            ALL,
            CRUD_VERBS,
            const {
                &[
                    Subresource {
                        name: "proxy",
                        response: gvk_of("", "v1", "ServiceProxyOptions"),
                        verbs: PROXY_VERBS,
                    },
                    status_of!("", "v1", "Service"),
                ]
            },
        ),
        // apps/v1
        info::<apps::v1::ControllerRevision>("controllerrevision", NONE, NONE, CRUD_VERBS, &[]),
        info::<apps::v1::DaemonSet>(
            "daemonset",
            &["ds"],
            ALL,
            CRUD_VERBS,
            const { &[status_of!("apps", "v1", "DaemonSet")] },
        ),
        info::<apps::v1::Deployment>(
            "deployment",
            &["deploy"],
            ALL,
            CRUD_VERBS,
            const { &[scale!(), status_of!("apps", "v1", "Deployment")] },
        ),
        info::<apps::v1::ReplicaSet>(
            "replicaset",
            &["rs"],
            ALL,
            CRUD_VERBS,
            const { &[scale!(), status_of!("apps", "v1", "ReplicaSet")] },
        ),
        info::<apps::v1::StatefulSet>(
            "statefulset",
            &["sts"],
            ALL,
            CRUD_VERBS,
            const { &[scale!(), status_of!("apps", "v1", "StatefulSet")] },
        ),
        // events.k8s.io/v1
        info::<events::v1::Event>("event", &["ev"], NONE, CRUD_VERBS, &[]),
        // authentication.k8s.io/v1
        info::<authentication::v1::SelfSubjectReview>(
            "selfsubjectreview",
            NONE,
            NONE,
            CREATE_ONLY,
            &[],
        ),
        info::<authentication::v1::TokenReview>("tokenreview", NONE, NONE, CREATE_ONLY, &[]),
        // authorization.k8s.io/v1
        info::<authorization::v1::LocalSubjectAccessReview>(
            "localsubjectaccessreview",
            NONE,
            NONE,
            CREATE_ONLY,
            &[],
        ),
        info::<authorization::v1::SelfSubjectAccessReview>(
            "selfsubjectaccessreview",
            NONE,
            NONE,
            CREATE_ONLY,
            &[],
        ),
        info::<authorization::v1::SelfSubjectRulesReview>(
            "selfsubjectrulesreview",
            NONE,
            NONE,
            CREATE_ONLY,
            &[],
        ),
        info::<authorization::v1::SubjectAccessReview>(
            "subjectaccessreview",
            NONE,
            NONE,
            CREATE_ONLY,
            &[],
        ),
        // autoscaling: v2 preferred, v1 served
        info::<autoscaling::v2::HorizontalPodAutoscaler>(
            "horizontalpodautoscaler",
            &["hpa"],
            ALL,
            CRUD_VERBS,
            const { &[status_of!("autoscaling", "v2", "HorizontalPodAutoscaler")] },
        ),
        info::<autoscaling::v1::HorizontalPodAutoscaler>(
            "horizontalpodautoscaler",
            &["hpa"],
            ALL,
            CRUD_VERBS,
            const { &[status_of!("autoscaling", "v1", "HorizontalPodAutoscaler")] },
        ),
        // batch/v1
        info::<batch::v1::CronJob>(
            "cronjob",
            &["cj"],
            ALL,
            CRUD_VERBS,
            const { &[status_of!("batch", "v1", "CronJob")] },
        ),
        info::<batch::v1::Job>(
            "job",
            NONE,
            ALL,
            CRUD_VERBS,
            const { &[status_of!("batch", "v1", "Job")] },
        ),
        // networking.k8s.io/v1
        info::<networking::v1::IngressClass>("ingressclass", NONE, NONE, CRUD_VERBS, &[]),
        info::<networking::v1::Ingress>(
            "ingress",
            &["ing"],
            NONE,
            CRUD_VERBS,
            const { &[status_of!("networking.k8s.io", "v1", "Ingress")] },
        ),
        info::<networking::v1::NetworkPolicy>("networkpolicy", &["netpol"], NONE, CRUD_VERBS, &[]),
        // policy/v1
        info::<policy::v1::PodDisruptionBudget>(
            "poddisruptionbudget",
            &["pdb"],
            NONE,
            CRUD_VERBS,
            const { &[status_of!("policy", "v1", "PodDisruptionBudget")] },
        ),
        // rbac.authorization.k8s.io/v1
        info::<rbac::v1::ClusterRoleBinding>("clusterrolebinding", NONE, NONE, CRUD_VERBS, &[]),
        info::<rbac::v1::ClusterRole>("clusterrole", NONE, NONE, CRUD_VERBS, &[]),
        info::<rbac::v1::RoleBinding>("rolebinding", NONE, NONE, CRUD_VERBS, &[]),
        info::<rbac::v1::Role>("role", NONE, NONE, CRUD_VERBS, &[]),
        // storage.k8s.io/v1
        info::<storage::v1::CSIDriver>("csidriver", NONE, NONE, CRUD_VERBS, &[]),
        info::<storage::v1::CSINode>("csinode", NONE, NONE, CRUD_VERBS, &[]),
        info::<storage::v1::StorageClass>("storageclass", &["sc"], NONE, CRUD_VERBS, &[]),
        info::<storage::v1::VolumeAttachment>(
            "volumeattachment",
            NONE,
            NONE,
            CRUD_VERBS,
            const { &[status_of!("storage.k8s.io", "v1", "VolumeAttachment")] },
        ),
        // scheduling.k8s.io/v1
        info::<scheduling::v1::PriorityClass>("priorityclass", &["pc"], NONE, CRUD_VERBS, &[]),
        // coordination.k8s.io/v1
        info::<coordination::v1::Lease>("lease", NONE, NONE, CRUD_VERBS, &[]),
        // discovery.k8s.io/v1
        info::<discovery::v1::EndpointSlice>("endpointslice", NONE, NONE, CRUD_VERBS, &[]),
    ]
}

/// The resource served at `group`/`version` under URL segment `plural`.
pub fn lookup(group: &str, version: &str, plural: &str) -> Option<&'static ResourceInfo> {
    all()
        .iter()
        .find(|r| r.gvk.group == group && r.gvk.version == version && r.plural == plural)
}

/// The resource of objects of `group`/`version`, `kind`.
pub fn lookup_kind(group: &str, version: &str, kind: &str) -> Option<&'static ResourceInfo> {
    all()
        .iter()
        .find(|r| r.gvk.group == group && r.gvk.version == version && r.gvk.kind == kind)
}

/// One API group with its versions, preferred first.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Group {
    /// Group name ("" for core).
    pub name: &'static str,
    /// Versions served, the preferred one first.
    pub versions: Vec<&'static str>,
}

/// The served groups in discovery order.
pub fn groups() -> Vec<Group> {
    let mut out: Vec<Group> = Vec::new();
    for r in all() {
        match out.iter_mut().find(|g| g.name == r.gvk.group) {
            Some(g) => {
                if !g.versions.contains(&r.gvk.version) {
                    g.versions.push(r.gvk.version);
                }
            }
            None => out.push(Group {
                name: r.gvk.group,
                versions: vec![r.gvk.version],
            }),
        }
    }
    out
}

/// The resources of one group version, in discovery order.
pub fn resources_of(group: &str, version: &str) -> impl Iterator<Item = &'static ResourceInfo> {
    let (group, version) = (group.to_owned(), version.to_owned());
    all()
        .iter()
        .filter(move |r| r.gvk.group == group && r.gvk.version == version)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn core_resources_carry_upstream_names_and_scope() {
        let pods = lookup("", "v1", "pods").unwrap();
        assert_eq!(pods.gvk.kind, "Pod");
        assert!(pods.namespaced);
        assert_eq!(pods.short_names, &["po"]);
        assert_eq!(pods.categories, &["all"]);
        assert_eq!(pods.group_resource(), "pods");
        assert_eq!(pods.list_kind(), "PodList");
        assert_eq!(
            pods.subresource("binding").unwrap().response.kind,
            "Binding"
        );
        let ns = lookup("", "v1", "namespaces").unwrap();
        assert!(!ns.namespaced);
        assert!(!ns.allows("deletecollection"));
        let nodes = lookup("", "v1", "nodes").unwrap();
        assert!(!nodes.namespaced);
        let ep = lookup("", "v1", "endpoints").unwrap();
        assert_eq!(ep.singular, "endpoints");
    }

    #[test]
    fn group_resources_are_qualified_and_scale_is_autoscaling_v1() {
        let d = lookup("apps", "v1", "deployments").unwrap();
        assert_eq!(d.group_resource(), "deployments.apps");
        assert_eq!(d.group_kind(), "Deployment.apps");
        assert_eq!(d.gvk.api_version(), "apps/v1");
        let scale = d.subresource("scale").unwrap();
        assert_eq!(scale.response, gvk_of("autoscaling", "v1", "Scale"));
        assert!(lookup_kind("batch", "v1", "Job").unwrap().namespaced);
        assert!(
            !lookup("rbac.authorization.k8s.io", "v1", "clusterroles")
                .unwrap()
                .namespaced
        );
        assert!(lookup("", "v1", "deployments").is_none());
    }

    #[test]
    fn groups_are_in_discovery_order_with_preferred_versions_first() {
        let groups = groups();
        assert_eq!(groups[0].name, "");
        assert_eq!(groups[1].name, "apps");
        let autoscaling = groups.iter().find(|g| g.name == "autoscaling").unwrap();
        assert_eq!(autoscaling.versions, vec!["v2", "v1"]);
        for g in &groups {
            for v in &g.versions {
                assert!(resources_of(g.name, v).count() > 0);
            }
        }
    }

    #[test]
    fn names_are_unique_per_group_version_and_singulars_are_lower_case() {
        let mut seen = std::collections::HashSet::new();
        for r in all() {
            assert!(seen.insert((r.gvk.group, r.gvk.version, r.plural)), "{r:?}");
            assert_eq!(r.singular, r.singular.to_lowercase());
            assert_eq!(r.singular, r.gvk.kind.to_lowercase(), "{r:?}");
        }
    }
}
