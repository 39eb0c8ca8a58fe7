//! Service defaulting: upstream's `SetDefaults_Service` (applied when a body is decoded), plus
//! the normalisation of empty values that Go's zero values and `omitempty` give for free.

use super::{CLUSTER, CLUSTER_IP, LOAD_BALANCER, NODE_PORT, externally_accessible, svc_type};
use k8s_openapi::api::core::v1::{ClientIPConfig, ServiceSpec, SessionAffinityConfig};
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;

/// Upstream's `DefaultClientIPServiceAffinitySeconds` (3 hours).
pub const DEFAULT_CLIENT_IP_TIMEOUT_SECONDS: i32 = 10800;

fn clear_empty_string(field: &mut Option<String>) {
    if field.as_deref() == Some("") {
        *field = None;
    }
}

fn clear_empty_vec<T>(field: &mut Option<Vec<T>>) {
    if field.as_ref().is_some_and(Vec::is_empty) {
        *field = None;
    }
}

/// Makes the values Go reads as "unset" unset here too: empty strings of non-pointer string
/// fields, empty lists and maps, zero ports and `false` flags (all `omitempty` upstream).
/// Pointer fields (`ipFamilyPolicy`, `internalTrafficPolicy`, ...) keep an empty string, which
/// validation then rejects as upstream does.
pub fn normalize(spec: &mut ServiceSpec) {
    clear_empty_string(&mut spec.type_);
    clear_empty_string(&mut spec.cluster_ip);
    clear_empty_string(&mut spec.external_name);
    clear_empty_string(&mut spec.external_traffic_policy);
    clear_empty_string(&mut spec.session_affinity);
    clear_empty_string(&mut spec.load_balancer_ip);
    clear_empty_vec(&mut spec.cluster_ips);
    clear_empty_vec(&mut spec.external_ips);
    clear_empty_vec(&mut spec.ip_families);
    clear_empty_vec(&mut spec.load_balancer_source_ranges);
    clear_empty_vec(&mut spec.ports);
    if spec.selector.as_ref().is_some_and(|s| s.is_empty()) {
        spec.selector = None;
    }
    if spec.health_check_node_port == Some(0) {
        spec.health_check_node_port = None;
    }
    if spec.publish_not_ready_addresses == Some(false) {
        spec.publish_not_ready_addresses = None;
    }
    for port in spec.ports.iter_mut().flatten() {
        clear_empty_string(&mut port.name);
        clear_empty_string(&mut port.protocol);
        if port.node_port == Some(0) {
            port.node_port = None;
        }
    }
}

/// Upstream's `SetDefaults_Service`.
pub fn set_defaults(spec: &mut ServiceSpec) {
    let affinity = spec.session_affinity.get_or_insert_with(|| "None".into());
    match affinity.as_str() {
        "None" => spec.session_affinity_config = None,
        "ClientIP" => {
            let has_timeout = spec
                .session_affinity_config
                .as_ref()
                .and_then(|c| c.client_ip.as_ref())
                .is_some_and(|c| c.timeout_seconds.is_some());
            if !has_timeout {
                spec.session_affinity_config = Some(SessionAffinityConfig {
                    client_ip: Some(ClientIPConfig {
                        timeout_seconds: Some(DEFAULT_CLIENT_IP_TIMEOUT_SECONDS),
                    }),
                });
            }
        }
        _ => {}
    }
    if spec.type_.is_none() {
        spec.type_ = Some(CLUSTER_IP.into());
    }
    for port in spec.ports.iter_mut().flatten() {
        if port.protocol.is_none() {
            port.protocol = Some("TCP".into());
        }
        let unset = match &port.target_port {
            None => true,
            Some(IntOrString::Int(0)) => true,
            Some(IntOrString::String(s)) => s.is_empty(),
            Some(IntOrString::Int(_)) => false,
        };
        if unset {
            port.target_port = Some(IntOrString::Int(port.port));
        }
    }
    if externally_accessible(spec) && spec.external_traffic_policy.is_none() {
        spec.external_traffic_policy = Some(CLUSTER.into());
    }
    if spec.internal_traffic_policy.is_none()
        && matches!(svc_type(spec), NODE_PORT | LOAD_BALANCER | CLUSTER_IP)
    {
        spec.internal_traffic_policy = Some(CLUSTER.into());
    }
    if svc_type(spec) == LOAD_BALANCER && spec.allocate_load_balancer_node_ports.is_none() {
        spec.allocate_load_balancer_node_ports = Some(true);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::api::core::v1::ServicePort;
    use serde_json::json;

    fn spec(v: serde_json::Value) -> ServiceSpec {
        let mut s: ServiceSpec = serde_json::from_value(v).unwrap();
        normalize(&mut s);
        set_defaults(&mut s);
        s
    }

    #[test]
    fn cluster_ip_services_get_upstreams_defaults() {
        let s = spec(json!({"ports": [{"port": 80}], "clusterIP": ""}));
        let out = serde_json::to_value(&s).unwrap();
        assert_eq!(
            out,
            json!({
                "type": "ClusterIP",
                "sessionAffinity": "None",
                "internalTrafficPolicy": "Cluster",
                "ports": [{"port": 80, "protocol": "TCP", "targetPort": 80}],
            })
        );
    }

    #[test]
    fn externally_accessible_services_get_a_traffic_policy() {
        let np = spec(json!({"type": "NodePort", "ports": [{"port": 80, "targetPort": "http"}]}));
        assert_eq!(np.external_traffic_policy.as_deref(), Some("Cluster"));
        assert_eq!(np.allocate_load_balancer_node_ports, None);
        assert_eq!(
            np.ports.unwrap()[0].target_port,
            Some(IntOrString::String("http".into()))
        );
        let lb = spec(json!({"type": "LoadBalancer", "ports": [{"port": 80}]}));
        assert_eq!(lb.external_traffic_policy.as_deref(), Some("Cluster"));
        assert_eq!(lb.allocate_load_balancer_node_ports, Some(true));
        let ext = spec(json!({"externalIPs": ["1.2.3.4"], "ports": [{"port": 80}]}));
        assert_eq!(ext.external_traffic_policy.as_deref(), Some("Cluster"));
        let plain = spec(json!({"ports": [{"port": 80}]}));
        assert_eq!(plain.external_traffic_policy, None);
        let en = spec(json!({"type": "ExternalName", "externalName": "example.com"}));
        assert_eq!(en.internal_traffic_policy, None);
        assert_eq!(en.external_traffic_policy, None);
    }

    #[test]
    fn client_ip_affinity_gets_the_default_timeout() {
        let s = spec(json!({"sessionAffinity": "ClientIP", "ports": [{"port": 80}]}));
        assert_eq!(
            serde_json::to_value(&s.session_affinity_config).unwrap(),
            json!({"clientIP": {"timeoutSeconds": 10800}})
        );
        let kept = spec(json!({
            "sessionAffinity": "ClientIP",
            "sessionAffinityConfig": {"clientIP": {"timeoutSeconds": 60}},
        }));
        assert_eq!(
            kept.session_affinity_config
                .unwrap()
                .client_ip
                .unwrap()
                .timeout_seconds,
            Some(60)
        );
        let dropped = spec(json!({
            "sessionAffinity": "None",
            "sessionAffinityConfig": {"clientIP": {"timeoutSeconds": 60}},
        }));
        assert_eq!(dropped.session_affinity_config, None);
    }

    #[test]
    fn ports_get_protocol_and_target_port() {
        let s = spec(json!({"ports": [
            {"port": 53, "protocol": "UDP", "targetPort": 0},
            {"port": 8080, "targetPort": "", "nodePort": 0, "name": ""},
        ]}));
        let ports = s.ports.unwrap();
        assert_eq!(
            ports[0],
            ServicePort {
                port: 53,
                protocol: Some("UDP".into()),
                target_port: Some(IntOrString::Int(53)),
                ..ServicePort::default()
            }
        );
        assert_eq!(ports[1].target_port, Some(IntOrString::Int(8080)));
        assert_eq!(ports[1].protocol.as_deref(), Some("TCP"));
        assert_eq!(ports[1].node_port, None);
        assert_eq!(ports[1].name, None);
    }
}
