//! The core/v1 Service strategy: upstream's service REST storage (pkg/registry/core/service)
//! on top of the generic handlers.
//!
//! Create: defaults ([`defaults`]), `clusterIP`/`clusterIPs` normalisation, IP family
//! defaulting, cluster IP and node port allocation ([`alloc`]), then validation
//! ([`validation`]); a failure after allocating gives the values back. Update additionally
//! keeps allocated values a client left out, handles type changes (allocating when a Service
//! starts needing a value, giving values up when it stops) and enforces immutability.
//!
//! Values an update gives up, and values a failed or retried update allocated, are released
//! once the write is visible ([`settle`]): whatever the stored Service does not use then is
//! freed, never what it still uses. [`repair`] reconciles reservations with Services at
//! startup and periodically, as upstream's repair controllers do.

pub mod alloc;
pub mod defaults;
pub mod repair;
pub mod validation;

use crate::object;
use crate::storage::Storage;
use alloc::{AllocError, Claim, Owner, Resource, Txn, parse_ip_sloppy};
use k8s_openapi::api::core::v1::{ServicePort, ServiceSpec};
use serde_json::{Value, json};
use skiff_core::status::{ApiError, FieldError, GroupKind};
use std::collections::{HashMap, HashSet};
use std::net::IpAddr;
use std::time::Duration;
use validation::{go_slice, invalid_raw};

pub use alloc::{Allocators, allocators, configure};
pub use repair::start;

/// `type: ClusterIP`.
pub const CLUSTER_IP: &str = "ClusterIP";
/// `type: NodePort`.
pub const NODE_PORT: &str = "NodePort";
/// `type: LoadBalancer`.
pub const LOAD_BALANCER: &str = "LoadBalancer";
/// `type: ExternalName`.
pub const EXTERNAL_NAME: &str = "ExternalName";
/// The `Cluster` traffic policy.
pub const CLUSTER: &str = "Cluster";
const SINGLE_STACK: &str = "SingleStack";
const REQUIRE_DUAL_STACK: &str = "RequireDualStack";
const IPV4: &str = "IPv4";
const IPV6: &str = "IPv6";

/// The Service's type ("" when unset).
pub fn svc_type(spec: &ServiceSpec) -> &str {
    spec.type_.as_deref().unwrap_or_default()
}

/// `spec.clusterIPs` (empty when unset).
pub fn cluster_ips(spec: &ServiceSpec) -> &[String] {
    spec.cluster_ips.as_deref().unwrap_or_default()
}

/// `spec.ipFamilies` (empty when unset).
pub fn ip_families(spec: &ServiceSpec) -> &[String] {
    spec.ip_families.as_deref().unwrap_or_default()
}

/// `spec.ports` (empty when unset).
pub fn ports(spec: &ServiceSpec) -> &[ServicePort] {
    spec.ports.as_deref().unwrap_or_default()
}

/// Upstream's `isHeadlessService`: `clusterIPs` is exactly `["None"]`.
pub fn is_headless(spec: &ServiceSpec) -> bool {
    cluster_ips(spec) == ["None"]
}

/// Upstream's `ExternallyAccessible`: NodePort and LoadBalancer Services, and ClusterIP ones
/// with external IPs.
pub fn externally_accessible(spec: &ServiceSpec) -> bool {
    match svc_type(spec) {
        LOAD_BALANCER | NODE_PORT => true,
        CLUSTER_IP => spec.external_ips.as_ref().is_some_and(|v| !v.is_empty()),
        _ => false,
    }
}

/// Upstream's `NeedsHealthCheck`: LoadBalancer Services with the `Local` external policy.
pub fn needs_health_check(spec: &ServiceSpec) -> bool {
    svc_type(spec) == LOAD_BALANCER && spec.external_traffic_policy.as_deref() == Some("Local")
}

fn needs_cluster_ip(spec: &ServiceSpec) -> bool {
    svc_type(spec) != EXTERNAL_NAME
}

fn needs_node_port(spec: &ServiceSpec) -> bool {
    matches!(svc_type(spec), NODE_PORT | LOAD_BALANCER)
}

fn should_allocate_node_ports(spec: &ServiceSpec) -> bool {
    match svc_type(spec) {
        NODE_PORT => true,
        LOAD_BALANCER => spec.allocate_load_balancer_node_ports.unwrap_or(true),
        _ => false,
    }
}

fn node_port_numbers(spec: &ServiceSpec) -> Vec<i32> {
    ports(spec)
        .iter()
        .filter_map(|p| p.node_port.filter(|n| *n != 0))
        .collect()
}

/// Every allocated value a Service spec holds: its IPv4 cluster IPs, node ports and health
/// check node port.
pub fn held(spec: &ServiceSpec) -> Vec<Resource> {
    let mut out: Vec<Resource> = cluster_ips(spec)
        .iter()
        .filter_map(|ip| match parse_ip_sloppy(ip) {
            Some(IpAddr::V4(v4)) => Some(Resource::Ip(v4)),
            _ => None,
        })
        .collect();
    let ports = node_port_numbers(spec)
        .into_iter()
        .chain(spec.health_check_node_port.filter(|n| *n != 0));
    out.extend(ports.filter_map(|p| u16::try_from(p).ok().map(Resource::Port)));
    out.sort();
    out.dedup();
    out
}

/// Reads `spec` of a Service object (a missing spec is an empty one).
pub fn read_spec(obj: &Value) -> Result<ServiceSpec, ApiError> {
    match obj.get("spec") {
        None | Some(Value::Null) => Ok(ServiceSpec::default()),
        Some(v) => serde_json::from_value(v.clone())
            .map_err(|e| ApiError::bad_request(format!("error decoding Service spec: {e}"))),
    }
}

fn write_spec(obj: &mut Value, spec: &ServiceSpec) -> Result<(), ApiError> {
    obj["spec"] = serde_json::to_value(spec).map_err(ApiError::internal)?;
    Ok(())
}

fn invalid(name: &str, errs: &[FieldError]) -> ApiError {
    ApiError::invalid(&GroupKind::new("", "Service"), name, errs)
}

/// Upstream's `NormalizeClusterIPs`: derives `clusterIPs` from `clusterIP` for clients that
/// only know the singular field (`old` is `None` on create).
pub fn normalize_cluster_ips(old: Option<&ServiceSpec>, spec: &mut ServiceSpec) {
    let Some(old) = old else {
        if let Some(ip) = &spec.cluster_ip
            && cluster_ips(spec).is_empty()
        {
            spec.cluster_ips = Some(vec![ip.clone()]);
        }
        return;
    };
    if !cluster_ips(old).is_empty()
        && cluster_ips(spec).is_empty()
        && old.cluster_ip == spec.cluster_ip
    {
        spec.cluster_ips = old.cluster_ips.clone();
    }
    if old.cluster_ip != spec.cluster_ip {
        let same_plural = cluster_ips(old) == cluster_ips(spec);
        if old.cluster_ip.is_some() && spec.cluster_ip.is_none() {
            if same_plural {
                spec.cluster_ips = None;
            }
        } else if same_plural {
            spec.cluster_ips = spec.cluster_ip.clone().map(|ip| vec![ip]);
        }
    }
}

/// Upstream's `patchAllocatedValues`: an update that leaves out allocated values (cluster IPs,
/// node ports matched by port name, the health check node port) keeps the old ones.
pub fn patch_allocated_values(old: &ServiceSpec, spec: &mut ServiceSpec) {
    if needs_cluster_ip(old) && needs_cluster_ip(spec) {
        if spec.cluster_ip.is_none() {
            spec.cluster_ip = old.cluster_ip.clone();
        }
        if cluster_ips(spec).is_empty() && !cluster_ips(old).is_empty() {
            spec.cluster_ips = old.cluster_ips.clone();
        }
    }
    if needs_node_port(old) && needs_node_port(spec) {
        let new_used: HashSet<i32> = node_port_numbers(spec).into_iter().collect();
        let used: HashSet<i32> = node_port_numbers(old)
            .into_iter()
            .filter(|p| new_used.contains(p))
            .collect();
        let by_name: HashMap<Option<&str>, i32> = ports(old)
            .iter()
            .map(|p| (p.name.as_deref(), p.node_port.unwrap_or(0)))
            .collect();
        let by_name: HashMap<Option<String>, i32> = by_name
            .into_iter()
            .map(|(k, v)| (k.map(str::to_owned), v))
            .collect();
        for p in spec.ports.iter_mut().flatten() {
            if p.node_port.unwrap_or(0) == 0 {
                let old_val = by_name.get(&p.name).copied().unwrap_or(0);
                if old_val != 0 && !used.contains(&old_val) {
                    p.node_port = Some(old_val);
                }
            }
        }
    }
    if needs_health_check(old) && needs_health_check(spec) && spec.health_check_node_port.is_none()
    {
        spec.health_check_node_port = old.health_check_node_port;
    }
}

fn family_of(ip: &str) -> Option<&'static str> {
    match parse_ip_sloppy(ip)? {
        IpAddr::V4(_) => Some(IPV4),
        IpAddr::V6(_) => Some(IPV6),
    }
}

/// Upstream's `initIPFamilyFields` for a single-stack IPv4 cluster: defaults `ipFamilyPolicy`
/// (from the old object, `RequireDualStack` for selector-less headless Services, else
/// `SingleStack`) and `ipFamilies`, and refuses what the cluster cannot serve.
pub fn init_ip_families(spec: &mut ServiceSpec, old: Option<&ServiceSpec>) -> Vec<FieldError> {
    if svc_type(spec) == EXTERNAL_NAME {
        return Vec::new();
    }
    let selectorless = spec.selector.as_ref().is_none_or(|s| s.is_empty());
    let headless_selectorless = spec.cluster_ip.as_deref() == Some("None") && selectorless;
    if spec.ip_family_policy.is_none() {
        let policy = match old.and_then(|o| o.ip_family_policy.clone()) {
            Some(p) => p,
            None if headless_selectorless => REQUIRE_DUAL_STACK.to_owned(),
            None => SINGLE_STACK.to_owned(),
        };
        spec.ip_family_policy = Some(policy);
    }
    let errs = validation::validate_cluster_ips_related(spec);
    if !errs.is_empty() {
        return errs;
    }
    let policy = spec.ip_family_policy.clone().unwrap_or_default();
    let mut errs = Vec::new();
    if let Some(old) = old {
        if policy == SINGLE_STACK {
            let same_ips =
                old.cluster_ip == spec.cluster_ip && cluster_ips(old) == cluster_ips(spec);
            if same_ips && let Some(v) = spec.cluster_ips.as_mut() {
                v.truncate(1);
            }
            if old.ip_families == spec.ip_families
                && let Some(v) = spec.ip_families.as_mut()
            {
                v.truncate(1);
            }
        } else {
            let n = cluster_ips(spec).len();
            if n != 0 && n < cluster_ips(old).len() {
                errs.push(FieldError::invalid(
                    "spec.ipFamilyPolicy",
                    policy.as_str(),
                    "must be 'SingleStack' to release the secondary cluster IP",
                ));
            }
            let n = ip_families(spec).len();
            if n != 0 && n < ip_families(old).len() {
                errs.push(FieldError::invalid(
                    "spec.ipFamilyPolicy",
                    policy.as_str(),
                    "must be 'SingleStack' to release the secondary IP family",
                ));
            }
        }
    }
    if policy == SINGLE_STACK {
        if cluster_ips(spec).len() == 2 {
            errs.push(FieldError::invalid(
                "spec.ipFamilyPolicy",
                policy.as_str(),
                "must be 'RequireDualStack' or 'PreferDualStack' when multiple cluster IPs are specified",
            ));
        }
        if ip_families(spec).len() == 2 {
            errs.push(FieldError::invalid(
                "spec.ipFamilyPolicy",
                policy.as_str(),
                "must be 'RequireDualStack' or 'PreferDualStack' when multiple IP families are specified",
            ));
        }
    }
    let ips = cluster_ips(spec).to_vec();
    for (i, ip) in ips.iter().enumerate() {
        if ip == "None" {
            break;
        }
        let family = family_of(ip).unwrap_or(IPV4);
        if i >= ip_families(spec).len() {
            if family == IPV4 {
                spec.ip_families
                    .get_or_insert_with(Vec::new)
                    .push(IPV4.into());
            } else {
                errs.push(invalid_raw(
                    format!("spec.clusterIPs[{i}]"),
                    &go_slice("string", spec.cluster_ips.as_deref()),
                    &format!("{family} is not configured on this cluster"),
                ));
            }
        }
    }
    if !errs.is_empty() {
        return errs;
    }
    if headless_selectorless {
        let families = spec.ip_families.get_or_insert_with(Vec::new);
        if families.is_empty() {
            families.push(IPV4.into());
        }
        if families.len() < 2 && policy != SINGLE_STACK {
            let other = if families[0] == IPV4 { IPV6 } else { IPV4 };
            families.push(other.into());
        }
        return errs;
    }
    if policy == REQUIRE_DUAL_STACK {
        errs.push(FieldError::invalid(
            "spec.ipFamilyPolicy",
            policy.as_str(),
            "this cluster is not configured for dual-stack services",
        ));
    }
    for (i, family) in ip_families(spec).iter().enumerate() {
        if family != IPV4 {
            errs.push(FieldError::invalid(
                format!("spec.ipFamilies[{i}]"),
                family.as_str(),
                "not configured on this cluster",
            ));
        }
    }
    if !errs.is_empty() {
        return errs;
    }
    if ip_families(spec).is_empty() {
        spec.ip_families = Some(vec![IPV4.into()]);
    }
    errs
}

/// Upstream's `dropTypeDependentFields`: after a type change, values the new type does not
/// use are cleared when the client left them as they were. Returns whether the load balancer
/// status goes too (the Service stopped being a LoadBalancer).
pub fn drop_type_dependent_fields(old: &ServiceSpec, spec: &mut ServiceSpec) -> bool {
    if needs_cluster_ip(old) && !needs_cluster_ip(spec) {
        if old.cluster_ip == spec.cluster_ip && cluster_ips(old) == cluster_ips(spec) {
            spec.cluster_ip = None;
            spec.cluster_ips = None;
        }
        if ip_families(old) == ip_families(spec) {
            spec.ip_families = None;
        }
        if old.ip_family_policy == spec.ip_family_policy {
            spec.ip_family_policy = None;
        }
    }
    if needs_node_port(old) && !needs_node_port(spec) {
        let old_ports: HashSet<i32> = node_port_numbers(old).into_iter().collect();
        if node_port_numbers(spec)
            .iter()
            .all(|p| old_ports.contains(p))
        {
            for p in spec.ports.iter_mut().flatten() {
                p.node_port = None;
            }
        }
    }
    if needs_health_check(old)
        && !needs_health_check(spec)
        && old.health_check_node_port == spec.health_check_node_port
    {
        spec.health_check_node_port = None;
    }
    let was_lb = svc_type(old) == LOAD_BALANCER;
    let is_lb = svc_type(spec) == LOAD_BALANCER;
    if was_lb && !is_lb {
        if spec.allocate_load_balancer_node_ports.is_some()
            && old.allocate_load_balancer_node_ports == spec.allocate_load_balancer_node_ports
        {
            spec.allocate_load_balancer_node_ports = None;
        }
        if old.load_balancer_class == spec.load_balancer_class {
            spec.load_balancer_class = None;
        }
    }
    if externally_accessible(old)
        && !externally_accessible(spec)
        && old.external_traffic_policy == spec.external_traffic_policy
    {
        spec.external_traffic_policy = None;
    }
    was_lb && !is_lb
}

/// Turns an allocator failure into the API error the caller reports, passing store failures
/// through unchanged.
fn or_store(e: AllocError, f: impl FnOnce(AllocError) -> ApiError) -> ApiError {
    match e {
        AllocError::Store(api) => api,
        other => f(other),
    }
}

/// Upstream's `allocClusterIPs`: requested addresses are reserved, missing ones picked.
async fn alloc_cluster_ips(
    txn: &mut Txn<'_>,
    name: &str,
    spec: &mut ServiceSpec,
) -> Result<(), ApiError> {
    if svc_type(spec) == EXTERNAL_NAME || cluster_ips(spec).first().is_some_and(|ip| ip == "None") {
        return Ok(());
    }
    let families = ip_families(spec).to_vec();
    let mut ips = cluster_ips(spec).to_vec();
    while ips.len() < families.len() {
        ips.push(String::new());
    }
    for i in 0..families.len() {
        let requested = ips[i].clone();
        let got = if requested.is_empty() {
            txn.next_ip()
                .await
                .map_err(|e| {
                    or_store(e, |e| {
                        ApiError::internal(format!("failed to allocate a serviceIP: {e}"))
                    })
                })?
                .to_string()
        } else {
            let Some(IpAddr::V4(ip)) = parse_ip_sloppy(&requested) else {
                return Err(ApiError::internal(format!(
                    "failed to parse service IP {}",
                    validation::go_quote(&requested)
                )));
            };
            let shown = go_slice("string", Some(&ips));
            txn.ip(ip).await.map_err(|e| {
                or_store(e, |e| {
                    invalid(
                        name,
                        &[invalid_raw(
                            "spec.clusterIPs",
                            &shown,
                            &format!("failed to allocate IP {requested}: {e}"),
                        )],
                    )
                })
            })?;
            requested
        };
        if i == 0 {
            spec.cluster_ip = Some(got.clone());
        }
        ips[i] = got;
    }
    spec.cluster_ips = Some(ips);
    Ok(())
}

fn port_invalid(name: &str, i: usize, port: i32, e: AllocError) -> ApiError {
    or_store(e, |e| {
        invalid(
            name,
            &[FieldError::invalid(
                format!("spec.ports[{i}].nodePort"),
                port,
                e.to_string(),
            )],
        )
    })
}

fn node_port_internal(e: AllocError) -> ApiError {
    or_store(e, |e| {
        ApiError::internal(format!("failed to allocate a nodePort: {e}"))
    })
}

/// Upstream's `allocHealthCheckNodePort`.
async fn alloc_health_check(txn: &mut Txn<'_>, spec: &mut ServiceSpec) -> Result<(), ApiError> {
    match spec.health_check_node_port.unwrap_or(0) {
        0 => {
            let p = txn.next_port().await.map_err(|e| {
                or_store(e, |e| {
                    ApiError::internal(format!("failed to allocate a HealthCheck NodePort 0: {e}"))
                })
            })?;
            spec.health_check_node_port = Some(i32::from(p));
        }
        hc => txn.port(i64::from(hc)).await.map_err(|e| {
            or_store(e, |e| {
                ApiError::internal(format!(
                    "failed to allocate requested HealthCheck NodePort {hc}: {e}"
                ))
            })
        })?,
    }
    Ok(())
}

/// Upstream's `initNodePorts` (plus the health check node port): ports with the same service
/// port number share one node port; requested ones are reserved, missing ones picked.
async fn alloc_node_ports(
    txn: &mut Txn<'_>,
    name: &str,
    spec: &mut ServiceSpec,
) -> Result<(), ApiError> {
    if needs_node_port(spec) {
        let allocate = should_allocate_node_ports(spec);
        let mut by_service_port: HashMap<i32, i32> = HashMap::new();
        let n = ports(spec).len();
        for i in 0..n {
            let (service_port, node_port) = {
                let p = &ports(spec)[i];
                (p.port, p.node_port.unwrap_or(0))
            };
            if node_port == 0 && !allocate {
                continue;
            }
            let shared = by_service_port.get(&service_port).copied().unwrap_or(0);
            let chosen = if shared == 0 {
                let requested = ports(spec)
                    .iter()
                    .find(|p| p.port == service_port && p.node_port.unwrap_or(0) != 0)
                    .and_then(|p| p.node_port)
                    .unwrap_or(0);
                let chosen = if requested != 0 {
                    txn.port(i64::from(requested))
                        .await
                        .map_err(|e| port_invalid(name, i, requested, e))?;
                    requested
                } else {
                    i32::from(txn.next_port().await.map_err(node_port_internal)?)
                };
                by_service_port.insert(service_port, chosen);
                chosen
            } else if node_port == 0 {
                shared
            } else {
                if node_port != shared {
                    txn.port(i64::from(node_port))
                        .await
                        .map_err(|e| port_invalid(name, i, node_port, e))?;
                }
                node_port
            };
            if let Some(p) = spec.ports.as_mut().and_then(|ps| ps.get_mut(i)) {
                p.node_port = Some(chosen);
            }
        }
    }
    if needs_health_check(spec) {
        alloc_health_check(txn, spec).await?;
    }
    Ok(())
}

/// Upstream's `updateClusterIPs` for a single-stack cluster: a Service leaving ExternalName
/// gets cluster IPs, one becoming ExternalName gives them up.
async fn update_cluster_ips(
    txn: &mut Txn<'_>,
    name: &str,
    old: &ServiceSpec,
    spec: &mut ServiceSpec,
) -> Result<(), ApiError> {
    if svc_type(old) == EXTERNAL_NAME && svc_type(spec) != EXTERNAL_NAME {
        return alloc_cluster_ips(txn, name, spec).await;
    }
    if cluster_ips(old).first().is_some_and(|ip| ip == "None") {
        return Ok(());
    }
    if svc_type(old) != EXTERNAL_NAME && svc_type(spec) == EXTERNAL_NAME {
        for r in held(old) {
            if let Resource::Ip(_) = r {
                txn.touch(r)
                    .await
                    .map_err(|e| or_store(e, ApiError::internal))?;
            }
        }
    }
    Ok(())
}

/// Upstream's `txnUpdateNodePorts` and `updateHealthCheckNodePort`: node ports go when the
/// Service stops needing them; new ones are reserved, kept ones stay, dropped ones go.
async fn update_node_ports(
    txn: &mut Txn<'_>,
    name: &str,
    old: &ServiceSpec,
    spec: &mut ServiceSpec,
) -> Result<(), ApiError> {
    let touch_err = |e: AllocError| or_store(e, ApiError::internal);
    let old_ports = node_port_numbers(old);
    if needs_node_port(old) && matches!(svc_type(spec), EXTERNAL_NAME | CLUSTER_IP) {
        for p in &old_ports {
            if let Ok(p) = u16::try_from(*p) {
                txn.touch(Resource::Port(p)).await.map_err(touch_err)?;
            }
        }
    }
    if needs_node_port(spec) {
        let allocate = should_allocate_node_ports(spec);
        let mut reserved_here: HashSet<i32> = HashSet::new();
        let mut seen: Vec<(Option<String>, i32)> = Vec::new();
        for i in 0..ports(spec).len() {
            let (protocol, node_port) = {
                let p = &ports(spec)[i];
                (p.protocol.clone(), p.node_port.unwrap_or(0))
            };
            if node_port == 0 && !allocate {
                continue;
            }
            let chosen = if node_port != 0 {
                if !old_ports.contains(&node_port) && !reserved_here.contains(&node_port) {
                    txn.port(i64::from(node_port))
                        .await
                        .map_err(|e| port_invalid(name, i, node_port, e))?;
                    reserved_here.insert(node_port);
                }
                node_port
            } else {
                let p = i32::from(txn.next_port().await.map_err(node_port_internal)?);
                if let Some(port) = spec.ports.as_mut().and_then(|ps| ps.get_mut(i)) {
                    port.node_port = Some(p);
                }
                p
            };
            if seen.contains(&(protocol.clone(), chosen)) {
                return Err(ApiError::internal(format!(
                    "duplicate nodePort: {{{} {chosen}}}",
                    protocol.unwrap_or_default()
                )));
            }
            seen.push((protocol, chosen));
        }
        let now = node_port_numbers(spec);
        for p in old_ports.iter().filter(|p| !now.contains(p)) {
            if let Ok(p) = u16::try_from(*p) {
                txn.touch(Resource::Port(p)).await.map_err(touch_err)?;
            }
        }
    }
    let (needed, needs) = (needs_health_check(old), needs_health_check(spec));
    if !needed && needs {
        alloc_health_check(txn, spec).await?;
    } else if needed
        && !needs
        && let Some(hc) = old.health_check_node_port
        && let Ok(hc) = u16::try_from(hc)
    {
        txn.touch(Resource::Port(hc)).await.map_err(touch_err)?;
    }
    Ok(())
}

/// Defaults, allocates for and validates a new Service (`obj` already has its metadata).
pub async fn before_create(
    storage: &Storage,
    obj: &mut Value,
    dry_run: bool,
) -> Result<(), ApiError> {
    let name = object::name(obj).unwrap_or_default().to_owned();
    let mut spec = read_spec(obj)?;
    defaults::normalize(&mut spec);
    defaults::set_defaults(&mut spec);
    normalize_cluster_ips(None, &mut spec);
    let errs = init_ip_families(&mut spec, None);
    if !errs.is_empty() {
        return Err(invalid(&name, &errs));
    }
    let store = storage.store().as_ref();
    let mut txn = Txn::new(store, allocators(), Owner::of(obj), dry_run);
    let mut outcome = alloc_cluster_ips(&mut txn, &name, &mut spec).await;
    if outcome.is_ok() {
        outcome = alloc_node_ports(&mut txn, &name, &mut spec).await;
    }
    if outcome.is_ok() {
        let errs = validation::validate_service(&spec);
        if !errs.is_empty() {
            outcome = Err(invalid(&name, &errs));
        }
    }
    if let Err(e) = outcome.and_then(|()| write_spec(obj, &spec)) {
        txn.rollback().await;
        return Err(e);
    }
    obj["status"] = json!({"loadBalancer": {}});
    Ok(())
}

/// Defaults, allocates for and validates an update of the Service `old` to `new`.
pub async fn before_update(
    storage: &Storage,
    old: &Value,
    new: &mut Value,
    dry_run: bool,
) -> Result<(), ApiError> {
    let name = object::name(old).unwrap_or_default().to_owned();
    let mut old_spec = read_spec(old)?;
    defaults::normalize(&mut old_spec);
    defaults::set_defaults(&mut old_spec);
    let mut spec = read_spec(new)?;
    defaults::normalize(&mut spec);
    defaults::set_defaults(&mut spec);
    patch_allocated_values(&old_spec, &mut spec);
    normalize_cluster_ips(Some(&old_spec), &mut spec);
    let errs = init_ip_families(&mut spec, Some(&old_spec));
    if !errs.is_empty() {
        return Err(invalid(&name, &errs));
    }
    let owner = Owner::of(old);
    let store = storage.store().as_ref();
    let mut txn = Txn::new(store, allocators(), owner.clone(), dry_run);
    let mut outcome = update_cluster_ips(&mut txn, &name, &old_spec, &mut spec).await;
    if outcome.is_ok() {
        outcome = update_node_ports(&mut txn, &name, &old_spec, &mut spec).await;
    }
    let clear_lb_status = drop_type_dependent_fields(&old_spec, &mut spec);
    if outcome.is_ok() {
        let errs = validation::validate_service_update(&spec, &old_spec);
        if !errs.is_empty() {
            outcome = Err(invalid(&name, &errs));
        }
    }
    if let Err(e) = outcome.and_then(|()| write_spec(new, &spec)) {
        txn.rollback().await;
        return Err(e);
    }
    if clear_lb_status {
        match new.get_mut("status").and_then(Value::as_object_mut) {
            Some(status) => {
                status.insert("loadBalancer".into(), json!({}));
            }
            None => new["status"] = json!({"loadBalancer": {}}),
        }
    }
    let claims = txn.claims().to_vec();
    if !dry_run && !claims.is_empty() {
        let before = object::meta_str(old, "resourceVersion")
            .unwrap_or_default()
            .to_owned();
        let storage = storage.clone();
        tokio::spawn(async move { settle(&storage, &owner, &before, &claims).await });
    }
    Ok(())
}

/// How long [`settle`] waits for an update's write before judging by what is stored.
const SETTLE_TIMEOUT: Duration = Duration::from_secs(10);

/// Finishes an update's allocations once its write is visible (the Service's
/// `resourceVersion` moved past `before`, it is gone, or [`SETTLE_TIMEOUT`] passed): every
/// claim the stored Service does not use is released, unless a later request claimed it again
/// meanwhile. This frees what the update gave up only if the update was written, and what a
/// failed or retried attempt reserved in any case.
pub async fn settle(storage: &Storage, owner: &Owner, before: &str, claims: &[Claim]) {
    let Some(info) = skiff_core::registry::lookup("", "v1", "services") else {
        return;
    };
    let deadline = tokio::time::Instant::now() + SETTLE_TIMEOUT;
    let mut delay = Duration::from_millis(5);
    let stored = loop {
        let record = storage
            .get_record(info, Some(&owner.namespace), &owner.name)
            .await;
        let timed_out = tokio::time::Instant::now() >= deadline;
        match record {
            Ok(None) => break None,
            Ok(Some((obj, rev))) if rev.to_string() != before || timed_out => break Some(obj),
            Err(e) if timed_out => {
                tracing::warn!(
                    "settling allocations of {}/{}: {e}",
                    owner.namespace,
                    owner.name
                );
                return;
            }
            _ => {}
        }
        tokio::time::sleep(delay).await;
        delay = (delay * 2).min(Duration::from_millis(200));
    };
    let in_use: HashSet<Resource> = stored
        .filter(|obj| object::meta_str(obj, "uid") == Some(owner.uid.as_str()))
        .and_then(|obj| read_spec(&obj).ok())
        .map(|spec| held(&spec).into_iter().collect())
        .unwrap_or_default();
    for c in claims {
        if !in_use.contains(&c.resource) {
            alloc::release_claim(storage.store().as_ref(), c).await;
        }
    }
}

/// Gives back everything a Service object holds (it was deleted, or its create failed).
pub async fn release(storage: &Storage, obj: &Value) {
    let Ok(spec) = read_spec(obj) else {
        return;
    };
    let uid = object::meta_str(obj, "uid").unwrap_or_default();
    for r in held(&spec) {
        alloc::release_owned(storage.store().as_ref(), r, uid).await;
    }
}

#[cfg(test)]
mod tests;
