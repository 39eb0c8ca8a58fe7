//! Services and Endpoints (core/v1).

use super::format::{
    format_labels, int, join_host_port, list, load_balancer_addresses, opt_text, or_none, text,
};
use super::{Column, Ctx, Printer, age_column, name_column};
use crate::object;
use k8s_openapi::api::core::v1 as api;
use serde_json::{Value, json};

/// The Service printer.
pub(super) const SERVICE: Printer = Printer::new(service_columns, service_cells);

/// The Endpoints printer.
pub(super) const ENDPOINTS: Printer = Printer::new(endpoints_columns, endpoints_cells);

fn name(obj: &Value) -> Value {
    json!(object::name(obj).unwrap_or_default())
}

fn service_columns() -> Vec<Column> {
    vec![
        name_column(),
        Column::string("Type").doc::<api::ServiceSpec>("type"),
        Column::string("Cluster-IP").doc::<api::ServiceSpec>("clusterIP"),
        Column::string("External-IP").doc::<api::ServiceSpec>("externalIPs"),
        Column::string("Port(s)").doc::<api::ServiceSpec>("ports"),
        age_column(),
        Column::string("Selector")
            .wide()
            .doc::<api::ServiceSpec>("selector"),
    ]
}

/// The External-IP cell: external IPs, load-balancer addresses or the external name.
fn service_external_ip(svc: &Value, ty: &str) -> String {
    let external: Vec<&str> = list(svc, "spec.externalIPs")
        .iter()
        .filter_map(Value::as_str)
        .collect();
    match ty {
        "ClusterIP" | "NodePort" => or_none(external.join(",")),
        "LoadBalancer" => {
            let lb = load_balancer_addresses(object::path(svc, "status.loadBalancer"));
            if !external.is_empty() {
                let mut all: Vec<&str> = lb.split(',').filter(|s| !s.is_empty()).collect();
                all.extend(external);
                all.join(",")
            } else if !lb.is_empty() {
                lb
            } else {
                "<pending>".into()
            }
        }
        "ExternalName" => text(svc, "spec.externalName").to_owned(),
        _ => "<unknown>".into(),
    }
}

fn service_cells(svc: &Value, ctx: &Ctx) -> Vec<Value> {
    let ty = opt_text(svc, "spec.type").unwrap_or("ClusterIP");
    // `clusterIPs[0]`; objects written before dual-stack only have `clusterIP`.
    let cluster_ip = list(svc, "spec.clusterIPs")
        .first()
        .and_then(Value::as_str)
        .or_else(|| opt_text(svc, "spec.clusterIP"))
        .unwrap_or("");
    let ports: Vec<String> = list(svc, "spec.ports")
        .iter()
        .map(|p| {
            let proto = opt_text(p, "protocol").unwrap_or("TCP");
            match int(p, "nodePort") {
                np if np > 0 => format!("{}:{np}/{proto}", int(p, "port")),
                _ => format!("{}/{proto}", int(p, "port")),
            }
        })
        .collect();
    vec![
        name(svc),
        json!(ty),
        json!(or_none(cluster_ip)),
        json!(service_external_ip(svc, ty)),
        json!(or_none(ports.join(","))),
        json!(ctx.age(svc)),
        json!(format_labels(object::path(svc, "spec.selector"))),
    ]
}

fn endpoints_columns() -> Vec<Column> {
    vec![
        name_column(),
        Column::string("Endpoints").doc::<api::Endpoints>("subsets"),
        age_column(),
    ]
}

/// The first three `ip:port` pairs of all subsets and ports, then ` + N more...`; plain IPs
/// for subsets without ports (`formatEndpoints`).
fn format_endpoints(ep: &Value) -> String {
    const MAX: usize = 3;
    let subsets = list(ep, "subsets");
    if subsets.is_empty() {
        return "<none>".into();
    }
    let mut shown: Vec<String> = Vec::new();
    let mut count = 0;
    for ss in subsets {
        let addresses = list(ss, "addresses");
        let ports = list(ss, "ports");
        if ports.is_empty() {
            count += addresses.len();
            shown.extend(addresses.iter().map(|a| text(a, "ip").to_owned()));
            continue;
        }
        for port in ports {
            count += addresses.len();
            shown.extend(
                addresses
                    .iter()
                    .map(|a| join_host_port(text(a, "ip"), int(port, "port"))),
            );
        }
    }
    shown.truncate(MAX);
    let joined = shown.join(",");
    if count > MAX {
        format!("{joined} + {} more...", count - MAX)
    } else {
        joined
    }
}

fn endpoints_cells(ep: &Value, ctx: &Ctx) -> Vec<Value> {
    vec![name(ep), json!(format_endpoints(ep)), json!(ctx.age(ep))]
}

#[cfg(test)]
mod tests {
    use super::super::testing::*;
    use super::*;
    use skiff_core::registry::lookup;

    fn meta(name: &str) -> Value {
        json!({"name": name, "creationTimestamp": ago(86400 * 3)})
    }
    #[test]
    fn services() {
        let svc = |spec: Value, status: Value| json!({"metadata": meta("s"), "spec": spec, "status": status});
        check(
            lookup("", "v1", "services").unwrap(),
            &[
                "Name",
                "Type",
                "Cluster-IP",
                "External-IP",
                "Port(s)",
                "Age",
                "+Selector",
            ],
            &[
                (
                    svc(
                        json!({"clusterIP": "10.43.0.9", "clusterIPs": ["10.43.0.9"],
                        "ports": [{"port": 80, "protocol": "TCP"}, {"port": 53, "protocol": "UDP"}],
                        "selector": {"app": "x", "tier": "web"}}),
                        json!({}),
                    ),
                    json!([
                        "s",
                        "ClusterIP",
                        "10.43.0.9",
                        "<none>",
                        "80/TCP,53/UDP",
                        "3d",
                        "app=x,tier=web"
                    ]),
                ),
                (
                    svc(
                        json!({"type": "NodePort", "clusterIP": "10.43.0.10", "externalIPs": ["1.2.3.4"],
                        "ports": [{"port": 80, "nodePort": 30080}]}),
                        json!({}),
                    ),
                    json!([
                        "s",
                        "NodePort",
                        "10.43.0.10",
                        "1.2.3.4",
                        "80:30080/TCP",
                        "3d",
                        "<none>"
                    ]),
                ),
                (
                    svc(
                        json!({"type": "LoadBalancer", "clusterIP": "10.43.0.11",
                        "ports": [{"port": 443, "nodePort": 31443, "protocol": "TCP"}]}),
                        json!({}),
                    ),
                    json!([
                        "s",
                        "LoadBalancer",
                        "10.43.0.11",
                        "<pending>",
                        "443:31443/TCP",
                        "3d",
                        "<none>"
                    ]),
                ),
                (
                    svc(
                        json!({"type": "LoadBalancer", "clusterIP": "10.43.0.12", "externalIPs": ["9.9.9.9"]}),
                        json!({"loadBalancer": {"ingress": [{"ip": "5.6.7.8"}, {"hostname": "lb.example"}]}}),
                    ),
                    json!([
                        "s",
                        "LoadBalancer",
                        "10.43.0.12",
                        "5.6.7.8,lb.example,9.9.9.9",
                        "<none>",
                        "3d",
                        "<none>"
                    ]),
                ),
                (
                    svc(
                        json!({"type": "ExternalName", "externalName": "db.example.com"}),
                        json!({}),
                    ),
                    json!([
                        "s",
                        "ExternalName",
                        "<none>",
                        "db.example.com",
                        "<none>",
                        "3d",
                        "<none>"
                    ]),
                ),
                (
                    svc(
                        json!({"clusterIP": "None", "clusterIPs": ["None"]}),
                        json!({}),
                    ),
                    json!(["s", "ClusterIP", "None", "<none>", "<none>", "3d", "<none>"]),
                ),
            ],
        );
    }

    #[test]
    fn endpoints() {
        let ep = |subsets: Value| json!({"metadata": meta("e"), "subsets": subsets});
        check(
            lookup("", "v1", "endpoints").unwrap(),
            &["Name", "Endpoints", "Age"],
            &[
                (json!({"metadata": meta("e")}), json!(["e", "<none>", "3d"])),
                (
                    ep(
                        json!([{"addresses": [{"ip": "10.0.0.1"}, {"ip": "10.0.0.2"}], "ports": [{"port": 80}]}]),
                    ),
                    json!(["e", "10.0.0.1:80,10.0.0.2:80", "3d"]),
                ),
                (
                    ep(
                        json!([{"addresses": [{"ip": "10.0.0.1"}, {"ip": "10.0.0.2"}],
                               "ports": [{"name": "http", "port": 80}, {"name": "https", "port": 443}]},
                              {"addresses": [{"ip": "fd00::3"}], "ports": [{"port": 8080}]}]),
                    ),
                    json!([
                        "e",
                        "10.0.0.1:80,10.0.0.2:80,10.0.0.1:443 + 2 more...",
                        "3d"
                    ]),
                ),
                // Headless services without ports list bare IPs.
                (
                    ep(json!([{"addresses": [{"ip": "10.0.0.7"}]}])),
                    json!(["e", "10.0.0.7", "3d"]),
                ),
                (
                    ep(
                        json!([{"notReadyAddresses": [{"ip": "10.0.0.8"}], "ports": [{"port": 80}]}]),
                    ),
                    json!(["e", "", "3d"]),
                ),
            ],
        );
    }
}
