//! Tests of the Service strategy: the pure steps, and allocation against a real embedded store.

use super::alloc::{AllocError, Allocators, IP_PREFIX, Owner, PORT_PREFIX, Resource, Txn};
use super::*;
use serde_json::json;
use skiff_core::registry::{ResourceInfo, lookup};
use skiff_store::embedded::{EmbeddedOptions, EmbeddedStore};
use std::net::Ipv4Addr;
use std::sync::Arc;

fn spec(v: Value) -> ServiceSpec {
    let mut s: ServiceSpec = serde_json::from_value(v).unwrap();
    defaults::normalize(&mut s);
    defaults::set_defaults(&mut s);
    s
}

fn services() -> &'static ResourceInfo {
    lookup("", "v1", "services").unwrap()
}

async fn open(dir: &std::path::Path) -> Storage {
    let store = EmbeddedStore::open(
        dir,
        EmbeddedOptions {
            fsync: false,
            retention: None,
            ..EmbeddedOptions::default()
        },
    )
    .await
    .unwrap();
    Storage::new(Arc::new(store))
}

fn svc(name: &str, spec: Value) -> Value {
    json!({
        "apiVersion": "v1", "kind": "Service",
        "metadata": {"name": name, "namespace": "default", "uid": uuid::Uuid::new_v4().to_string()},
        "spec": spec,
    })
}

/// Runs the create hook and stores the object, as the generic handler does.
async fn create(storage: &Storage, name: &str, spec: Value) -> Result<Value, ApiError> {
    let mut obj = svc(name, spec);
    before_create(storage, &mut obj, false).await?;
    storage.create(services(), &obj, None).await
}

async fn update(
    storage: &Storage,
    current: &Value,
    change: impl FnOnce(&mut Value),
) -> Result<Value, ApiError> {
    let mut new = current.clone();
    change(&mut new);
    before_update(storage, current, &mut new, false).await?;
    let rev: i64 = object::meta_str(current, "resourceVersion")
        .unwrap()
        .parse()
        .unwrap();
    storage.update(services(), &new, rev, None).await
}

async fn owner_of(storage: &Storage, r: Resource) -> Option<Owner> {
    let kv = storage.store().get(r.key()).await.unwrap()?;
    Owner::decode(&kv.value)
}

/// Waits (for the background settle) until `r` is free.
async fn wait_free(storage: &Storage, r: Resource) {
    for _ in 0..200 {
        if owner_of(storage, r).await.is_none() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!("{r} was never released");
}

fn ip(s: &str) -> Resource {
    Resource::Ip(s.parse().unwrap())
}

fn cluster_ip(obj: &Value) -> String {
    obj["spec"]["clusterIP"].as_str().unwrap().to_owned()
}

fn node_ports(obj: &Value) -> Vec<i64> {
    obj["spec"]["ports"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|p| p["nodePort"].as_i64())
        .collect()
}

// ---------------------------------------------------------------------------------------
// Pure steps.

#[test]
fn cluster_ip_alone_fills_cluster_ips_on_create() {
    let mut s = spec(json!({"clusterIP": "10.43.0.10"}));
    normalize_cluster_ips(None, &mut s);
    assert_eq!(cluster_ips(&s), ["10.43.0.10"]);
    let mut both = spec(json!({"clusterIP": "10.43.0.10", "clusterIPs": ["10.43.0.11"]}));
    normalize_cluster_ips(None, &mut both);
    assert_eq!(cluster_ips(&both), ["10.43.0.11"]);
}

#[test]
fn an_update_without_cluster_ip_or_node_ports_keeps_them() {
    let old = spec(json!({
        "type": "NodePort", "clusterIP": "10.43.0.10", "clusterIPs": ["10.43.0.10"],
        "ports": [{"name": "a", "port": 80, "nodePort": 30080}, {"name": "b", "port": 81, "nodePort": 30081}],
    }));
    let mut new = spec(json!({
        "type": "NodePort",
        "ports": [{"name": "a", "port": 80}, {"name": "b", "port": 81, "nodePort": 30080}],
    }));
    patch_allocated_values(&old, &mut new);
    normalize_cluster_ips(Some(&old), &mut new);
    assert_eq!(new.cluster_ip.as_deref(), Some("10.43.0.10"));
    assert_eq!(cluster_ips(&new), ["10.43.0.10"]);
    // 30080 is now used by "b", so "a" does not get it back.
    assert_eq!(ports(&new)[0].node_port, None);
    assert_eq!(ports(&new)[1].node_port, Some(30080));
}

#[test]
fn changing_cluster_ip_alone_moves_cluster_ips_and_is_refused() {
    let old = spec(
        json!({"clusterIP": "10.43.0.10", "clusterIPs": ["10.43.0.10"], "ports": [{"port": 80}]}),
    );
    let mut new = old.clone();
    new.cluster_ip = Some("10.43.0.11".into());
    normalize_cluster_ips(Some(&old), &mut new);
    assert_eq!(cluster_ips(&new), ["10.43.0.11"]);
    let mut cleared = old.clone();
    cleared.cluster_ip = None;
    normalize_cluster_ips(Some(&old), &mut cleared);
    assert_eq!(cleared.cluster_ips, None);
}

#[test]
fn ip_families_default_to_single_stack_ipv4() {
    let mut s = spec(json!({"ports": [{"port": 80}], "selector": {"a": "b"}}));
    assert!(init_ip_families(&mut s, None).is_empty());
    assert_eq!(s.ip_family_policy.as_deref(), Some("SingleStack"));
    assert_eq!(ip_families(&s), ["IPv4"]);
    // Headless without selector: upstream asks for both families.
    let mut h = spec(json!({"clusterIP": "None", "clusterIPs": ["None"]}));
    assert!(init_ip_families(&mut h, None).is_empty());
    assert_eq!(h.ip_family_policy.as_deref(), Some("RequireDualStack"));
    assert_eq!(ip_families(&h), ["IPv4", "IPv6"]);
    let mut hs = spec(json!({"clusterIP": "None", "clusterIPs": ["None"], "selector": {"a": "b"}}));
    assert!(init_ip_families(&mut hs, None).is_empty());
    assert_eq!(hs.ip_family_policy.as_deref(), Some("SingleStack"));
    // External names get none.
    let mut e = spec(json!({"type": "ExternalName", "externalName": "x.example"}));
    assert!(init_ip_families(&mut e, None).is_empty());
    assert_eq!(e.ip_family_policy, None);
}

#[test]
fn ipv6_and_dual_stack_are_refused_on_this_cluster() {
    let mut v6 =
        spec(json!({"clusterIP": "fd00::10", "clusterIPs": ["fd00::10"], "ports": [{"port": 80}]}));
    let errs: Vec<String> = init_ip_families(&mut v6, None)
        .iter()
        .map(ToString::to_string)
        .collect();
    assert_eq!(
        errs,
        [
            "spec.clusterIPs[0]: Invalid value: []string{\"fd00::10\"}: IPv6 is not configured on this cluster"
        ]
    );
    let mut dual = spec(json!({"ipFamilyPolicy": "RequireDualStack", "ports": [{"port": 80}]}));
    let errs: Vec<String> = init_ip_families(&mut dual, None)
        .iter()
        .map(ToString::to_string)
        .collect();
    assert_eq!(
        errs,
        [
            "spec.ipFamilyPolicy: Invalid value: \"RequireDualStack\": this cluster is not configured for dual-stack services"
        ]
    );
    let mut fam = spec(json!({"ipFamilies": ["IPv6"], "ports": [{"port": 80}]}));
    let errs: Vec<String> = init_ip_families(&mut fam, None)
        .iter()
        .map(ToString::to_string)
        .collect();
    assert_eq!(
        errs,
        ["spec.ipFamilies[0]: Invalid value: \"IPv6\": not configured on this cluster"]
    );
}

#[test]
fn switching_type_drops_what_the_new_type_does_not_use() {
    let old = spec(json!({
        "type": "LoadBalancer", "clusterIP": "10.43.0.10", "clusterIPs": ["10.43.0.10"],
        "ipFamilies": ["IPv4"], "ipFamilyPolicy": "SingleStack",
        "ports": [{"port": 80, "nodePort": 30080}],
    }));
    let mut to_cluster_ip = old.clone();
    to_cluster_ip.type_ = Some("ClusterIP".into());
    assert!(drop_type_dependent_fields(&old, &mut to_cluster_ip));
    assert_eq!(ports(&to_cluster_ip)[0].node_port, None);
    assert_eq!(to_cluster_ip.external_traffic_policy, None);
    assert_eq!(to_cluster_ip.allocate_load_balancer_node_ports, None);
    assert_eq!(to_cluster_ip.cluster_ip.as_deref(), Some("10.43.0.10"));
    let mut to_external = old.clone();
    to_external.type_ = Some("ExternalName".into());
    drop_type_dependent_fields(&old, &mut to_external);
    assert_eq!(to_external.cluster_ip, None);
    assert_eq!(to_external.cluster_ips, None);
    assert_eq!(to_external.ip_families, None);
    assert_eq!(to_external.ip_family_policy, None);
    // A node port the user changed while leaving NodePort stays (and validation refuses it).
    let mut changed = old.clone();
    changed.type_ = Some("ClusterIP".into());
    changed.ports.as_mut().unwrap()[0].node_port = Some(30090);
    drop_type_dependent_fields(&old, &mut changed);
    assert_eq!(ports(&changed)[0].node_port, Some(30090));
}

#[test]
fn held_values_include_ports_and_health_checks() {
    let s = spec(json!({
        "type": "LoadBalancer", "externalTrafficPolicy": "Local", "healthCheckNodePort": 31000,
        "clusterIP": "10.43.0.10", "clusterIPs": ["10.43.0.10"],
        "ports": [{"name": "a", "port": 80, "nodePort": 30080}, {"name": "b", "port": 81, "nodePort": 30081}],
    }));
    assert_eq!(
        held(&s),
        [
            ip("10.43.0.10"),
            Resource::Port(30080),
            Resource::Port(30081),
            Resource::Port(31000)
        ]
    );
    assert!(held(&spec(json!({"clusterIP": "None", "clusterIPs": ["None"]}))).is_empty());
}

// ---------------------------------------------------------------------------------------
// Against the embedded store.

#[tokio::test]
async fn creates_get_a_cluster_ip_from_the_upper_band_and_reserve_it() {
    let dir = tempfile::tempdir().unwrap();
    let storage = open(dir.path()).await;
    let obj = create(
        &storage,
        "web",
        json!({"selector": {"app": "web"}, "ports": [{"port": 80}]}),
    )
    .await
    .unwrap();
    let addr: Ipv4Addr = cluster_ip(&obj).parse().unwrap();
    assert!(allocators().ip_range().contains(addr));
    assert!(
        addr >= Ipv4Addr::new(10, 43, 1, 1),
        "{addr} is in the static band"
    );
    assert_eq!(obj["spec"]["clusterIPs"], json!([addr.to_string()]));
    assert_eq!(obj["spec"]["ipFamilies"], json!(["IPv4"]));
    assert_eq!(obj["spec"]["ipFamilyPolicy"], "SingleStack");
    assert_eq!(obj["spec"]["type"], "ClusterIP");
    assert_eq!(obj["spec"]["sessionAffinity"], "None");
    assert_eq!(obj["spec"]["internalTrafficPolicy"], "Cluster");
    assert_eq!(
        obj["spec"]["ports"][0],
        json!({"port": 80, "protocol": "TCP", "targetPort": 80})
    );
    assert_eq!(obj["status"], json!({"loadBalancer": {}}));
    let owner = owner_of(&storage, Resource::Ip(addr)).await.unwrap();
    assert_eq!(owner, Owner::of(&obj));
}

#[tokio::test]
async fn a_taken_cluster_ip_is_refused_with_upstreams_message() {
    let dir = tempfile::tempdir().unwrap();
    let storage = open(dir.path()).await;
    let first = create(
        &storage,
        "a",
        json!({"clusterIP": "10.43.0.10", "ports": [{"port": 80}]}),
    )
    .await
    .unwrap();
    assert_eq!(cluster_ip(&first), "10.43.0.10");
    let err = create(
        &storage,
        "b",
        json!({"clusterIP": "10.43.0.10", "ports": [{"port": 80}]}),
    )
    .await
    .unwrap_err();
    assert_eq!(err.code, 422);
    assert_eq!(
        err.message,
        "Service \"b\" is invalid: spec.clusterIPs: Invalid value: []string{\"10.43.0.10\"}: failed to allocate IP 10.43.0.10: provided IP is already allocated"
    );
    let err = create(
        &storage,
        "c",
        json!({"clusterIP": "192.168.0.1", "ports": [{"port": 80}]}),
    )
    .await
    .unwrap_err();
    assert_eq!(
        err.message,
        "Service \"c\" is invalid: spec.clusterIPs: Invalid value: []string{\"192.168.0.1\"}: failed to allocate IP 192.168.0.1: the provided network does not match the current range"
    );
    let err = create(
        &storage,
        "d",
        json!({"clusterIP": "10.43.255.255", "ports": [{"port": 80}]}),
    )
    .await
    .unwrap_err();
    assert_eq!(
        err.message,
        "Service \"d\" is invalid: spec.clusterIPs: Invalid value: []string{\"10.43.255.255\"}: failed to allocate IP 10.43.255.255: the provided IP (10.43.255.255) is not in the valid range. The range of valid IPs is 10.43.0.0/16"
    );
}

#[tokio::test]
async fn headless_and_external_name_services_get_no_ip() {
    let dir = tempfile::tempdir().unwrap();
    let storage = open(dir.path()).await;
    let h = create(
        &storage,
        "h",
        json!({"clusterIP": "None", "selector": {"a": "b"}, "ports": [{"port": 80}]}),
    )
    .await
    .unwrap();
    assert_eq!(h["spec"]["clusterIPs"], json!(["None"]));
    let e = create(
        &storage,
        "e",
        json!({"type": "ExternalName", "externalName": "db.example.com"}),
    )
    .await
    .unwrap();
    assert!(e["spec"].get("clusterIP").is_none());
    assert!(e["spec"].get("ipFamilies").is_none());
    let reserved = alloc::reservations(storage.store().as_ref(), IP_PREFIX)
        .await
        .unwrap();
    assert!(reserved.is_empty(), "{reserved:?}");
}

#[tokio::test]
async fn node_ports_are_allocated_per_port_and_checked() {
    let dir = tempfile::tempdir().unwrap();
    let storage = open(dir.path()).await;
    let obj = create(
        &storage,
        "np",
        json!({"type": "NodePort", "ports": [
            {"name": "http", "port": 80},
            {"name": "dns", "port": 53, "protocol": "UDP"},
            {"name": "dns-tcp", "port": 53, "protocol": "TCP"},
            {"name": "fixed", "port": 8080, "nodePort": 30080},
        ]}),
    )
    .await
    .unwrap();
    let nps = node_ports(&obj);
    assert_eq!(nps.len(), 4);
    let range = allocators().port_range();
    assert!(nps.iter().all(|p| range.contains(*p)), "{nps:?}");
    assert!(
        nps[0] >= 30086 && nps[1] >= 30086,
        "dynamic ports come from the upper band"
    );
    assert_eq!(nps[1], nps[2], "the same service port shares its node port");
    assert_eq!(nps[3], 30080);
    assert_eq!(obj["spec"]["externalTrafficPolicy"], "Cluster");
    for p in &nps {
        assert!(
            owner_of(&storage, Resource::Port(*p as u16))
                .await
                .is_some()
        );
    }
    let err = create(
        &storage,
        "np2",
        json!({"type": "NodePort", "ports": [{"port": 80, "nodePort": 30080}]}),
    )
    .await
    .unwrap_err();
    assert_eq!(
        err.message,
        "Service \"np2\" is invalid: spec.ports[0].nodePort: Invalid value: 30080: provided port is already allocated"
    );
    let err = create(
        &storage,
        "np3",
        json!({"type": "NodePort", "ports": [{"port": 80, "nodePort": 8080}]}),
    )
    .await
    .unwrap_err();
    assert_eq!(
        err.message,
        "Service \"np3\" is invalid: spec.ports[0].nodePort: Invalid value: 8080: provided port is not in the valid range. The range of valid ports is 30000-32767"
    );
    // The failed creates gave back the cluster IPs they had taken.
    let ips = alloc::reservations(storage.store().as_ref(), IP_PREFIX)
        .await
        .unwrap();
    assert_eq!(ips.len(), 1);
}

#[tokio::test]
async fn a_create_failing_validation_gives_back_what_it_took() {
    let dir = tempfile::tempdir().unwrap();
    let storage = open(dir.path()).await;
    let err = create(
        &storage,
        "bad",
        json!({"type": "NodePort", "clusterIP": "10.43.0.20", "ports": [{"name": "a", "port": 80, "nodePort": 30100}, {"port": 81}]}),
    )
    .await
    .unwrap_err();
    assert_eq!(
        err.message,
        "Service \"bad\" is invalid: spec.ports[1].name: Required value"
    );
    assert!(owner_of(&storage, ip("10.43.0.20")).await.is_none());
    assert!(owner_of(&storage, Resource::Port(30100)).await.is_none());
    // A failed store write: the generic handler calls undo_create.
    let mut obj = svc(
        "dup",
        json!({"clusterIP": "10.43.0.21", "ports": [{"port": 80}]}),
    );
    before_create(&storage, &mut obj, false).await.unwrap();
    assert!(owner_of(&storage, ip("10.43.0.21")).await.is_some());
    release(&storage, &obj).await;
    assert!(owner_of(&storage, ip("10.43.0.21")).await.is_none());
}

#[tokio::test]
async fn deleting_frees_the_ip_and_ports_for_others() {
    let dir = tempfile::tempdir().unwrap();
    let storage = open(dir.path()).await;
    let a = create(&storage, "a", json!({"type": "NodePort", "clusterIP": "10.43.0.30", "ports": [{"port": 80, "nodePort": 30030}]}))
        .await
        .unwrap();
    assert!(
        create(
            &storage,
            "b",
            json!({"clusterIP": "10.43.0.30", "ports": [{"port": 80}]})
        )
        .await
        .is_err()
    );
    let deleted = storage
        .delete(services(), Some("default"), "a", None)
        .await
        .unwrap();
    release(&storage, &deleted).await;
    let b = create(&storage, "b", json!({"type": "NodePort", "clusterIP": "10.43.0.30", "ports": [{"port": 80, "nodePort": 30030}]}))
        .await
        .unwrap();
    assert_eq!(cluster_ip(&b), "10.43.0.30");
    // Releasing the old object again does not touch the new owner's reservations.
    release(&storage, &a).await;
    assert_eq!(
        owner_of(&storage, ip("10.43.0.30")).await,
        Some(Owner::of(&b))
    );
    assert_eq!(
        owner_of(&storage, Resource::Port(30030)).await,
        Some(Owner::of(&b))
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_creates_never_share_an_ip() {
    let dir = tempfile::tempdir().unwrap();
    let storage = open(dir.path()).await;
    let tasks: Vec<_> = (0..40)
        .map(|i| {
            let storage = storage.clone();
            tokio::spawn(async move {
                create(
                    &storage,
                    &format!("s{i}"),
                    json!({"type": "NodePort", "ports": [{"port": 80}]}),
                )
                .await
                .unwrap()
            })
        })
        .collect();
    let mut ips = HashSet::new();
    let mut nps = HashSet::new();
    for t in tasks {
        let obj = t.await.unwrap();
        assert!(ips.insert(cluster_ip(&obj)), "IP handed out twice");
        assert!(
            nps.insert(node_ports(&obj)[0]),
            "node port handed out twice"
        );
    }
    let reserved = alloc::reservations(storage.store().as_ref(), IP_PREFIX)
        .await
        .unwrap();
    assert_eq!(reserved.len(), 40);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_small_range_fills_up_exactly_under_contention() {
    let dir = tempfile::tempdir().unwrap();
    let storage = open(dir.path()).await;
    // A /28 has 14 usable addresses.
    let config = Allocators {
        service_cidr: (Ipv4Addr::new(10, 99, 0, 0), 28),
        ..Allocators::default()
    };
    let tasks: Vec<_> = (0..20)
        .map(|i| {
            let storage = storage.clone();
            tokio::spawn(async move {
                let owner = Owner {
                    namespace: "default".into(),
                    name: format!("s{i}"),
                    uid: format!("uid-{i}"),
                };
                let mut txn = Txn::new(storage.store().as_ref(), config, owner, false);
                txn.next_ip().await
            })
        })
        .collect();
    let mut got = HashSet::new();
    let mut full = 0;
    for t in tasks {
        match t.await.unwrap() {
            Ok(ip) => assert!(got.insert(ip), "{ip} handed out twice"),
            Err(AllocError::Full) => full += 1,
            Err(e) => panic!("{e}"),
        }
    }
    assert_eq!((got.len(), full), (14, 6));
    assert!(got.iter().all(|ip| config.ip_range().contains(*ip)));
}

#[tokio::test]
async fn a_full_range_gives_upstreams_error() {
    let dir = tempfile::tempdir().unwrap();
    let storage = open(dir.path()).await;
    let config = Allocators {
        service_cidr: (Ipv4Addr::new(10, 99, 0, 0), 30),
        node_ports: (30000, 30001),
    };
    let store = storage.store().as_ref();
    for i in 0..2 {
        let owner = Owner {
            namespace: "default".into(),
            name: format!("s{i}"),
            uid: format!("u{i}"),
        };
        let mut txn = Txn::new(store, config, owner, false);
        txn.next_ip().await.unwrap();
        txn.next_port().await.unwrap();
    }
    let owner = Owner {
        namespace: "default".into(),
        name: "late".into(),
        uid: "late".into(),
    };
    let mut txn = Txn::new(store, config, owner, false);
    let mut s = spec(json!({"ports": [{"port": 80}]}));
    assert!(init_ip_families(&mut s, None).is_empty());
    let err = alloc_cluster_ips(&mut txn, "late", &mut s)
        .await
        .unwrap_err();
    assert_eq!(err.code, 500);
    assert_eq!(
        err.message,
        "Internal error occurred: failed to allocate a serviceIP: range is full"
    );
    let mut np = spec(json!({"type": "NodePort", "ports": [{"port": 80}]}));
    let err = alloc_node_ports(&mut txn, "late", &mut np)
        .await
        .unwrap_err();
    assert_eq!(
        err.message,
        "Internal error occurred: failed to allocate a nodePort: range is full"
    );
}

#[tokio::test]
async fn dry_runs_reserve_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let storage = open(dir.path()).await;
    let mut obj = svc(
        "dry",
        json!({"type": "NodePort", "ports": [{"name": "a", "port": 80}, {"name": "b", "port": 81}]}),
    );
    before_create(&storage, &mut obj, true).await.unwrap();
    // Upstream's dry-run allocators answer placeholders.
    assert_eq!(cluster_ip(&obj), "10.43.0.0");
    assert_eq!(node_ports(&obj), [32769, 32770]);
    assert!(
        alloc::reservations(storage.store().as_ref(), IP_PREFIX)
            .await
            .unwrap()
            .is_empty()
    );
    assert!(
        alloc::reservations(storage.store().as_ref(), PORT_PREFIX)
            .await
            .unwrap()
            .is_empty()
    );
    create(
        &storage,
        "taken",
        json!({"type": "NodePort", "ports": [{"port": 80, "nodePort": 30500}]}),
    )
    .await
    .unwrap();
    let mut clash = svc(
        "clash",
        json!({"type": "NodePort", "ports": [{"port": 80, "nodePort": 30500}]}),
    );
    let err = before_create(&storage, &mut clash, true).await.unwrap_err();
    assert!(
        err.message.ends_with("provided port is already allocated"),
        "{}",
        err.message
    );
}

#[tokio::test]
async fn updates_keep_allocations_and_enforce_immutability() {
    let dir = tempfile::tempdir().unwrap();
    let storage = open(dir.path()).await;
    let obj = create(
        &storage,
        "web",
        json!({"type": "NodePort", "ports": [{"name": "http", "port": 80}]}),
    )
    .await
    .unwrap();
    let (addr, np) = (cluster_ip(&obj), node_ports(&obj)[0]);
    // A client resubmitting its original manifest (no clusterIP, no nodePort) keeps both.
    let same = update(&storage, &obj, |o| {
        o["spec"] = json!({"type": "NodePort", "ports": [{"name": "http", "port": 80}], "selector": {"app": "web"}});
    })
    .await
    .unwrap();
    assert_eq!(cluster_ip(&same), addr);
    assert_eq!(node_ports(&same), [np]);
    assert_eq!(same["spec"]["selector"], json!({"app": "web"}));
    let err = update(&storage, &same, |o| {
        o["spec"]["clusterIP"] = json!("10.43.0.99")
    })
    .await
    .unwrap_err();
    assert_eq!(
        err.message,
        "Service \"web\" is invalid: spec.clusterIPs[0]: Invalid value: []string{\"10.43.0.99\"}: may not change once set"
    );
    assert!(
        owner_of(&storage, Resource::Port(np as u16))
            .await
            .is_some()
    );
}

#[tokio::test]
async fn type_changes_allocate_and_release_node_ports() {
    let dir = tempfile::tempdir().unwrap();
    let storage = open(dir.path()).await;
    let obj = create(
        &storage,
        "web",
        json!({"ports": [{"name": "http", "port": 80}]}),
    )
    .await
    .unwrap();
    assert!(node_ports(&obj).is_empty());
    let np_svc = update(&storage, &obj, |o| {
        o["spec"]["type"] = json!("NodePort");
        o["spec"]["ports"][0]["nodePort"] = json!(30777);
    })
    .await
    .unwrap();
    assert_eq!(node_ports(&np_svc), [30777]);
    assert_eq!(np_svc["spec"]["externalTrafficPolicy"], "Cluster");
    assert_eq!(
        owner_of(&storage, Resource::Port(30777)).await,
        Some(Owner::of(&obj))
    );
    // Changing the node port frees the old one.
    let moved = update(&storage, &np_svc, |o| {
        o["spec"]["ports"][0]["nodePort"] = json!(30778)
    })
    .await
    .unwrap();
    assert_eq!(node_ports(&moved), [30778]);
    wait_free(&storage, Resource::Port(30777)).await;
    // Back to ClusterIP: the node port and the external policy go.
    let back = update(&storage, &moved, |o| o["spec"]["type"] = json!("ClusterIP"))
        .await
        .unwrap();
    assert!(node_ports(&back).is_empty());
    assert!(back["spec"].get("externalTrafficPolicy").is_none());
    wait_free(&storage, Resource::Port(30778)).await;
    assert_eq!(cluster_ip(&back), cluster_ip(&obj));
    // To ExternalName and back: the IP goes and a new one comes.
    let ext = update(&storage, &back, |o| {
        o["spec"]["type"] = json!("ExternalName");
        o["spec"]["externalName"] = json!("db.example.com");
    })
    .await
    .unwrap();
    assert!(ext["spec"].get("clusterIP").is_none());
    wait_free(&storage, ip(&cluster_ip(&obj))).await;
    let again = update(&storage, &ext, |o| {
        o["spec"]["type"] = json!("ClusterIP");
        o["spec"].as_object_mut().unwrap().remove("externalName");
    })
    .await
    .unwrap();
    let addr = cluster_ip(&again);
    assert_eq!(owner_of(&storage, ip(&addr)).await, Some(Owner::of(&obj)));
}

#[tokio::test]
async fn a_failed_update_releases_nothing_it_still_uses() {
    let dir = tempfile::tempdir().unwrap();
    let storage = open(dir.path()).await;
    let obj = create(
        &storage,
        "web",
        json!({"type": "NodePort", "ports": [{"name": "http", "port": 80, "nodePort": 30600}]}),
    )
    .await
    .unwrap();
    // The hook runs (claiming 30601, giving up 30600) but its write never happens; someone
    // else writes the object instead. The release judges by what is stored.
    let mut new = obj.clone();
    new["spec"]["ports"][0]["nodePort"] = json!(30601);
    before_update(&storage, &obj, &mut new, false)
        .await
        .unwrap();
    assert!(owner_of(&storage, Resource::Port(30601)).await.is_some());
    let rev: i64 = object::meta_str(&obj, "resourceVersion")
        .unwrap()
        .parse()
        .unwrap();
    let mut other = obj.clone();
    other["metadata"]["labels"] = json!({"touched": "yes"});
    storage.update(services(), &other, rev, None).await.unwrap();
    wait_free(&storage, Resource::Port(30601)).await;
    assert_eq!(
        owner_of(&storage, Resource::Port(30600)).await,
        Some(Owner::of(&obj))
    );
}

#[tokio::test]
async fn reservations_survive_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    {
        let storage = open(dir.path()).await;
        create(
            &storage,
            "a",
            json!({"clusterIP": "10.43.0.40", "ports": [{"port": 80}]}),
        )
        .await
        .unwrap();
    }
    let storage = open(dir.path()).await;
    let err = create(
        &storage,
        "b",
        json!({"clusterIP": "10.43.0.40", "ports": [{"port": 80}]}),
    )
    .await
    .unwrap_err();
    assert!(
        err.message.ends_with("provided IP is already allocated"),
        "{}",
        err.message
    );
}

#[tokio::test]
async fn repair_reserves_what_services_use_and_drops_what_none_use() {
    let dir = tempfile::tempdir().unwrap();
    let storage = open(dir.path()).await;
    let config = Allocators::default();
    // A Service written without reservations (as bootstrap writes `kubernetes`).
    let legacy = svc(
        "kubernetes",
        json!({
            "type": "ClusterIP", "clusterIP": "10.43.0.1", "clusterIPs": ["10.43.0.1"],
            "ports": [{"name": "https", "port": 443, "protocol": "TCP", "targetPort": 6443}],
        }),
    );
    storage.create(services(), &legacy, None).await.unwrap();
    // A reservation nobody uses.
    let ghost = Owner {
        namespace: "default".into(),
        name: "ghost".into(),
        uid: "ghost".into(),
    };
    alloc::claim(storage.store().as_ref(), Resource::Port(31111), &ghost)
        .await
        .unwrap();
    let mut unused = HashMap::new();
    let first = repair::repair(&storage, &config, &mut unused)
        .await
        .unwrap();
    assert_eq!(first.created, 1);
    assert_eq!(
        first.released, 0,
        "unused reservations survive the first sighting"
    );
    assert_eq!(
        owner_of(&storage, ip("10.43.0.1")).await,
        Some(Owner::of(&legacy))
    );
    let err = create(
        &storage,
        "b",
        json!({"clusterIP": "10.43.0.1", "ports": [{"port": 80}]}),
    )
    .await
    .unwrap_err();
    assert!(err.message.ends_with("provided IP is already allocated"));
    let second = repair::repair(&storage, &config, &mut unused)
        .await
        .unwrap();
    assert_eq!((second.created, second.released), (0, 1));
    assert!(owner_of(&storage, Resource::Port(31111)).await.is_none());
}
