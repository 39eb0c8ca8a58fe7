//! Integration test: Service cluster IP and node port allocation seen through the real kubectl
//! against a real `skiff server` (same harness as `kubectl.rs`).

use std::net::Ipv4Addr;

mod common;
use common::Cluster;

const SERVICES: &str = "apiVersion: v1
kind: Service
metadata: {name: web}
spec:
  selector: {app: web}
  ports: [{port: 80, targetPort: 8080}]
---
apiVersion: v1
kind: Service
metadata: {name: np}
spec:
  type: NodePort
  selector: {app: np}
  ports: [{name: http, port: 80}, {name: metrics, port: 9090, nodePort: 30909}]
---
apiVersion: v1
kind: Service
metadata: {name: fixed}
spec:
  clusterIP: 10.43.0.50
  ports: [{port: 53, protocol: UDP}]
";

fn with_ip(name: &str, ip: &str) -> String {
    format!(
        "apiVersion: v1\nkind: Service\nmetadata: {{name: {name}}}\nspec:\n  clusterIP: {ip}\n  ports: [{{port: 80}}]\n"
    )
}

fn in_service_range(ip: &str) -> bool {
    let ip: Ipv4Addr = ip.parse().unwrap();
    let [a, b, c, d] = ip.octets();
    (a, b) == (10, 43) && ip != Ipv4Addr::new(10, 43, 0, 0) && (c, d) != (255, 255)
}

#[test]
fn services_get_cluster_ips_and_node_ports() {
    let c = Cluster::start();
    let created = c.ok_in(&["create", "-f", "-"], Some(SERVICES));
    assert!(created.contains("service/web created"), "{created}");
    assert!(created.contains("service/np created"), "{created}");

    let get = |name: &str, path: &str| {
        c.ok_in(
            &["get", "svc", name, "-o", &format!("jsonpath={path}")],
            None,
        )
    };
    let web_ip = get("web", "{.spec.clusterIP}");
    let np_ip = get("np", "{.spec.clusterIP}");
    assert!(in_service_range(&web_ip), "{web_ip}");
    assert!(in_service_range(&np_ip), "{np_ip}");
    assert_ne!(web_ip, np_ip);
    assert_ne!(
        web_ip, "10.43.0.1",
        "the kubernetes Service's address is reserved"
    );
    assert_eq!(get("web", "{.spec.clusterIPs[0]}"), web_ip);
    assert_eq!(get("fixed", "{.spec.clusterIP}"), "10.43.0.50");
    assert_eq!(get("web", "{.spec.ports[0].protocol}"), "TCP");
    assert_eq!(get("web", "{.spec.ipFamilyPolicy}"), "SingleStack");
    let node_ports = get("np", "{.spec.ports[*].nodePort}");
    let node_ports: Vec<u16> = node_ports
        .split_whitespace()
        .map(|p| p.parse().unwrap())
        .collect();
    assert_eq!(node_ports.len(), 2);
    assert!((30000..=32767).contains(&node_ports[0]), "{node_ports:?}");
    assert_eq!(node_ports[1], 30909);
    assert_eq!(get("np", "{.spec.externalTrafficPolicy}"), "Cluster");

    let wide = c.ok_in(&["get", "svc", "-o", "wide"], None);
    let header = wide.lines().next().unwrap();
    for col in [
        "NAME",
        "TYPE",
        "CLUSTER-IP",
        "EXTERNAL-IP",
        "PORT(S)",
        "AGE",
        "SELECTOR",
    ] {
        assert!(header.contains(col), "{wide}");
    }
    let row = |name: &str| {
        wide.lines()
            .find(|l| l.split_whitespace().next() == Some(name))
            .unwrap_or_else(|| panic!("no {name} row in {wide}"))
            .to_owned()
    };
    assert!(
        row("web").contains(&web_ip) && row("web").contains("80/TCP"),
        "{wide}"
    );
    let np_row = row("np");
    assert!(
        np_row.contains("NodePort") && np_row.contains(&np_ip),
        "{wide}"
    );
    assert!(
        np_row.contains(&format!("80:{}/TCP,9090:30909/TCP", node_ports[0])),
        "{wide}"
    );
    assert!(row("kubernetes").contains("10.43.0.1"), "{wide}");

    // Explicit addresses already held are refused with upstream's message.
    let err = c.fails(&["create", "-f", "-"], Some(&with_ip("dup", "10.43.0.50")));
    assert!(
        err.contains("Service \"dup\" is invalid: spec.clusterIPs: Invalid value: []string{\"10.43.0.50\"}: failed to allocate IP 10.43.0.50: provided IP is already allocated"),
        "{err}"
    );
    let err = c.fails(&["create", "-f", "-"], Some(&with_ip("dup", "10.43.0.1")));
    assert!(
        err.contains("failed to allocate IP 10.43.0.1: provided IP is already allocated"),
        "{err}"
    );
    let err = c.fails(
        &[
            "create",
            "service",
            "nodeport",
            "dup",
            "--tcp=80:80",
            "--node-port=30909",
        ],
        None,
    );
    assert!(
        err.contains(
            "spec.ports[0].nodePort: Invalid value: 30909: provided port is already allocated"
        ),
        "{err}"
    );

    // Deleting a Service frees its address (and node ports) for others.
    c.ok_in(&["delete", "svc", "fixed", "np"], None);
    let created = c.ok_in(&["create", "-f", "-"], Some(&with_ip("dup", "10.43.0.50")));
    assert!(created.contains("service/dup created"), "{created}");
    assert_eq!(get("dup", "{.spec.clusterIP}"), "10.43.0.50");
    c.ok_in(
        &[
            "create",
            "service",
            "nodeport",
            "again",
            "--tcp=80:80",
            "--node-port=30909",
        ],
        None,
    );
    assert_eq!(get("again", "{.spec.ports[0].nodePort}"), "30909");
}
