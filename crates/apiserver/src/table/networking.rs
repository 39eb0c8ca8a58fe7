//! The networking.k8s.io group: Ingresses, IngressClasses, NetworkPolicies.

use super::format::{format_label_selector, list, load_balancer_addresses, opt_text, text};
use super::{Column, Ctx, Printer, age_column, name_column};
use crate::object;
use k8s_openapi::api::networking::v1::NetworkPolicySpec;
use serde_json::{Value, json};

/// The printer of a networking.k8s.io kind.
pub(super) fn printer(kind: &str) -> Option<Printer> {
    Some(match kind {
        "Ingress" => Printer::new(ingress_columns, ingress_cells),
        "IngressClass" => Printer::new(ingress_class_columns, ingress_class_cells),
        "NetworkPolicy" => Printer::new(network_policy_columns, network_policy_cells),
        _ => return None,
    })
}

fn name(obj: &Value) -> Value {
    json!(object::name(obj).unwrap_or_default())
}

fn ingress_columns() -> Vec<Column> {
    vec![
        name_column(),
        Column::string("Class").text(
            "The name of the IngressClass resource that should be used for additional configuration",
        ),
        Column::string("Hosts")
            .text("Hosts that incoming requests are matched against before the ingress rule"),
        Column::string("Address")
            .text("Address is a list containing ingress points for the load-balancer"),
        Column::string("Ports").text("Ports of TLS configurations that open"),
        age_column(),
    ]
}

/// The hosts of the first three rules that have one, ` + N more...` when there are more
/// rules, `*` when none has a host (`formatHosts`).
fn format_hosts(rules: &[Value]) -> String {
    const MAX: usize = 3;
    let mut hosts: Vec<&str> = Vec::new();
    let mut more = false;
    for rule in rules {
        if hosts.len() == MAX {
            more = true;
        }
        if !more && let Some(h) = opt_text(rule, "host") {
            hosts.push(h);
        }
    }
    if hosts.is_empty() {
        return "*".into();
    }
    let joined = hosts.join(",");
    if more {
        format!("{joined} + {} more...", rules.len() - MAX)
    } else {
        joined
    }
}

fn ingress_cells(ing: &Value, ctx: &Ctx) -> Vec<Value> {
    let ports = if list(ing, "spec.tls").is_empty() {
        "80"
    } else {
        "80, 443"
    };
    vec![
        name(ing),
        json!(opt_text(ing, "spec.ingressClassName").unwrap_or("<none>")),
        json!(format_hosts(list(ing, "spec.rules"))),
        json!(load_balancer_addresses(object::path(
            ing,
            "status.loadBalancer"
        ))),
        json!(ports),
        json!(ctx.age(ing)),
    ]
}

fn ingress_class_columns() -> Vec<Column> {
    vec![
        name_column(),
        Column::string("Controller").text("Controller that is responsible for handling this class"),
        Column::string("Parameters").text("A reference to a resource with additional parameters"),
        age_column(),
    ]
}

fn ingress_class_cells(ic: &Value, ctx: &Ctx) -> Vec<Value> {
    let parameters = match object::path(ic, "spec.parameters").filter(|p| p.is_object()) {
        Some(p) => {
            let kind = match p.get("apiGroup").and_then(Value::as_str) {
                Some(g) => format!("{}.{g}", text(p, "kind")),
                None => text(p, "kind").to_owned(),
            };
            format!("{kind}/{}", text(p, "name"))
        }
        None => "<none>".into(),
    };
    vec![
        name(ic),
        json!(text(ic, "spec.controller")),
        json!(parameters),
        json!(ctx.age(ic)),
    ]
}

fn network_policy_columns() -> Vec<Column> {
    vec![
        name_column(),
        Column::string("Pod-Selector").doc::<NetworkPolicySpec>("podSelector"),
        age_column(),
    ]
}

fn network_policy_cells(np: &Value, ctx: &Ctx) -> Vec<Value> {
    vec![
        name(np),
        json!(format_label_selector(object::path(np, "spec.podSelector"))),
        json!(ctx.age(np)),
    ]
}

#[cfg(test)]
mod tests {
    use super::super::testing::*;
    use super::*;
    use skiff_core::registry::lookup;

    fn meta(name: &str) -> Value {
        json!({"name": name, "creationTimestamp": ago(30)})
    }

    #[test]
    fn ingresses() {
        let rule = |host: Option<&str>| match host {
            Some(h) => json!({"host": h, "http": {"paths": []}}),
            None => json!({"http": {"paths": []}}),
        };
        check(
            lookup("networking.k8s.io", "v1", "ingresses").unwrap(),
            &["Name", "Class", "Hosts", "Address", "Ports", "Age"],
            &[
                (
                    json!({"metadata": meta("web"), "spec": {"ingressClassName": "nginx",
                        "rules": [rule(Some("a.example")), rule(None), rule(Some("b.example"))],
                        "tls": [{"hosts": ["a.example"]}]},
                        "status": {"loadBalancer": {"ingress": [{"ip": "10.0.0.9"}, {"hostname": "lb.example"}]}}}),
                    json!([
                        "web",
                        "nginx",
                        "a.example,b.example",
                        "10.0.0.9,lb.example",
                        "80, 443",
                        "30s"
                    ]),
                ),
                (
                    json!({"metadata": meta("many"), "spec": {"rules": [rule(Some("a")), rule(Some("b")),
                        rule(Some("c")), rule(Some("d")), rule(Some("e"))]}}),
                    json!(["many", "<none>", "a,b,c + 2 more...", "", "80", "30s"]),
                ),
                (
                    json!({"metadata": meta("default"), "spec": {"defaultBackend": {"service": {"name": "s", "port": {"number": 80}}}}}),
                    json!(["default", "<none>", "*", "", "80", "30s"]),
                ),
            ],
        );
    }

    #[test]
    fn ingress_classes_and_network_policies() {
        check(
            lookup("networking.k8s.io", "v1", "ingressclasses").unwrap(),
            &["Name", "Controller", "Parameters", "Age"],
            &[
                (
                    json!({"metadata": meta("nginx"), "spec": {"controller": "k8s.io/ingress-nginx",
                        "parameters": {"apiGroup": "k8s.example.com", "kind": "IngressParameters", "name": "external-lb"}}}),
                    json!([
                        "nginx",
                        "k8s.io/ingress-nginx",
                        "IngressParameters.k8s.example.com/external-lb",
                        "30s"
                    ]),
                ),
                (
                    json!({"metadata": meta("plain"), "spec": {"controller": "example.com/c"}}),
                    json!(["plain", "example.com/c", "<none>", "30s"]),
                ),
            ],
        );
        check(
            lookup("networking.k8s.io", "v1", "networkpolicies").unwrap(),
            &["Name", "Pod-Selector", "Age"],
            &[
                (
                    json!({"metadata": meta("deny-all"), "spec": {"podSelector": {}}}),
                    json!(["deny-all", "<none>", "30s"]),
                ),
                (
                    json!({"metadata": meta("db"), "spec": {"podSelector": {"matchLabels": {"role": "db"}}}}),
                    json!(["db", "role=db", "30s"]),
                ),
            ],
        );
    }
}
