//! The discovery.k8s.io group: EndpointSlices.

use super::format::{list, text, with_more};
use super::{Column, Ctx, Printer, age_column, name_column};
use crate::object;
use k8s_openapi::api::discovery::v1::EndpointSlice;
use serde_json::{Value, json};

/// The printer of a discovery.k8s.io kind.
pub(super) fn printer(kind: &str) -> Option<Printer> {
    (kind == "EndpointSlice").then_some(Printer::new(columns, cells))
}

fn columns() -> Vec<Column> {
    vec![
        name_column(),
        Column::string("AddressType").doc::<EndpointSlice>("addressType"),
        Column::string("Ports").doc::<EndpointSlice>("ports"),
        Column::string("Endpoints").doc::<EndpointSlice>("endpoints"),
        age_column(),
    ]
}

fn cells(slice: &Value, ctx: &Ctx) -> Vec<Value> {
    // A port is its number, else its name, else `*` (all ports).
    let ports: Vec<String> = list(slice, "ports")
        .iter()
        .map(|p| match p.get("port").and_then(Value::as_i64) {
            Some(n) => n.to_string(),
            None => p
                .get("name")
                .and_then(Value::as_str)
                .unwrap_or("*")
                .to_owned(),
        })
        .collect();
    let addresses: Vec<String> = list(slice, "endpoints")
        .iter()
        .flat_map(|e| list(e, "addresses"))
        .filter_map(|a| a.as_str().map(str::to_owned))
        .collect();
    vec![
        json!(object::name(slice).unwrap_or_default()),
        json!(text(slice, "addressType")),
        json!(with_more(&ports, 3)),
        json!(with_more(&addresses, 3)),
        json!(ctx.age(slice)),
    ]
}

#[cfg(test)]
mod tests {
    use super::super::testing::*;
    use super::*;
    use skiff_core::registry::lookup;

    #[test]
    fn endpoint_slices() {
        let meta = |n: &str| json!({"name": n, "creationTimestamp": ago(100)});
        check(
            lookup("discovery.k8s.io", "v1", "endpointslices").unwrap(),
            &["Name", "AddressType", "Ports", "Endpoints", "Age"],
            &[
                (
                    json!({"metadata": meta("web-abc"), "addressType": "IPv4",
                        "ports": [{"name": "http", "port": 80, "protocol": "TCP"}, {"name": "metrics"}, {}],
                        "endpoints": [{"addresses": ["10.0.0.1"]}, {"addresses": ["10.0.0.2", "10.0.0.3"]},
                                      {"addresses": ["10.0.0.4"]}, {"addresses": ["10.0.0.5"]}]}),
                    json!([
                        "web-abc",
                        "IPv4",
                        "80,metrics,*",
                        "10.0.0.1,10.0.0.2,10.0.0.3 + 2 more...",
                        "100s"
                    ]),
                ),
                (
                    json!({"metadata": meta("empty"), "addressType": "IPv6", "endpoints": []}),
                    json!(["empty", "IPv6", "<unset>", "<unset>", "100s"]),
                ),
            ],
        );
    }
}
