//! What a simulation is asked to do ([`SimOptions`]) and the parsers for its command-line
//! forms: `k=v,...` labels, `k=v:Effect,...` taints and `10s`-style durations. No IO.

use k8s_openapi::api::core::v1::Taint;
use skiff_core::quantity::Quantity;
use skiff_core::validation;
use std::collections::BTreeMap;
use std::time::Duration;

/// The most nodes one simulation can hold: each node gets a /24 pod range out of
/// `10.128.0.0/9` (see [`crate::node::pod_cidr`]).
pub const MAX_NODES: usize = 1 << 15;

/// The most pods a simulated node can run: its /24 less the network, gateway and broadcast
/// addresses.
pub const MAX_PODS_PER_NODE: u32 = 253;

/// What to simulate and how often to report.
#[derive(Clone, Debug, PartialEq)]
pub struct SimOptions {
    /// How many nodes to register.
    pub nodes: usize,
    /// Node names are `<name_prefix><index>`, from index 0.
    pub name_prefix: String,
    /// CPU capacity (and allocatable) of each node, a quantity such as `32` or `3500m`.
    pub cpu: String,
    /// Memory capacity (and allocatable) of each node, such as `256Gi`.
    pub memory: String,
    /// Ephemeral storage capacity (and allocatable) of each node.
    pub ephemeral_storage: String,
    /// Pod capacity of each node (at most [`MAX_PODS_PER_NODE`]).
    pub pods: u32,
    /// Node `i` is in zone `zone-<i % zones>`; 0 sets no zone label.
    pub zones: u32,
    /// The `topology.kubernetes.io/region` label of every node (none when empty).
    pub region: String,
    /// Extra labels for every node.
    pub labels: BTreeMap<String, String>,
    /// Taints of every node.
    pub taints: Vec<Taint>,
    /// How long a pod bound to a simulated node waits before it is reported running.
    pub pod_start_delay: Duration,
    /// How often each node's Lease in `kube-node-lease` is renewed.
    pub heartbeat: Duration,
    /// How often each node's status conditions get a fresh `lastHeartbeatTime`.
    pub status_interval: Duration,
    /// The `leaseDurationSeconds` of the node Leases.
    pub lease_duration_seconds: i32,
    /// Node registrations in flight at once.
    pub create_concurrency: usize,
    /// Lease, node status and pod requests in flight at once, once nodes are registered.
    pub request_concurrency: usize,
}

impl Default for SimOptions {
    fn default() -> Self {
        SimOptions {
            nodes: 1,
            name_prefix: "sim-".into(),
            cpu: "32".into(),
            memory: "256Gi".into(),
            ephemeral_storage: "1Ti".into(),
            pods: 110,
            zones: 3,
            region: "region-0".into(),
            labels: BTreeMap::new(),
            taints: Vec::new(),
            pod_start_delay: Duration::ZERO,
            heartbeat: Duration::from_secs(10),
            status_interval: Duration::from_secs(60),
            lease_duration_seconds: 40,
            create_concurrency: 32,
            request_concurrency: 8,
        }
    }
}

/// Why options were refused.
#[derive(Debug, thiserror::Error, PartialEq)]
pub enum OptionsError {
    /// An option's value is out of range or malformed.
    #[error("{option}: {message}")]
    Invalid {
        /// The option, as the command line spells it.
        option: &'static str,
        /// What is wrong.
        message: String,
    },
}

fn invalid(option: &'static str, message: impl Into<String>) -> OptionsError {
    OptionsError::Invalid {
        option,
        message: message.into(),
    }
}

impl SimOptions {
    /// Checks every option; node names, labels, taints and quantities must be what the API
    /// server accepts.
    pub fn validate(&self) -> Result<(), OptionsError> {
        if self.nodes > MAX_NODES {
            return Err(invalid("--nodes", format!("at most {MAX_NODES}")));
        }
        if self.nodes > 0 {
            let last = format!("{}{}", self.name_prefix, self.nodes - 1);
            let msgs = validation::is_dns1123_subdomain(&last);
            if !msgs.is_empty() {
                return Err(invalid(
                    "--name-prefix",
                    format!("{last:?}: {}", msgs.join("; ")),
                ));
            }
        }
        for (option, q) in [
            ("--cpu", &self.cpu),
            ("--memory", &self.memory),
            ("--ephemeral-storage", &self.ephemeral_storage),
        ] {
            match Quantity::parse(q) {
                Ok(v) if !v.is_negative() => {}
                Ok(_) => return Err(invalid(option, "must not be negative")),
                Err(e) => return Err(invalid(option, format!("{q:?}: {e}"))),
            }
        }
        if self.pods == 0 || self.pods > MAX_PODS_PER_NODE {
            return Err(invalid(
                "--pods",
                format!("must be between 1 and {MAX_PODS_PER_NODE}"),
            ));
        }
        if !self.region.is_empty() {
            validation::validate_label_value(&self.region).map_err(|e| invalid("--region", e))?;
        }
        for (k, v) in &self.labels {
            validation::validate_label_key(k).map_err(|e| invalid("--labels", e))?;
            validation::validate_label_value(v).map_err(|e| invalid("--labels", e))?;
        }
        for t in &self.taints {
            validation::validate_label_key(&t.key).map_err(|e| invalid("--taints", e))?;
            validation::validate_label_value(t.value.as_deref().unwrap_or(""))
                .map_err(|e| invalid("--taints", e))?;
        }
        if self.heartbeat.is_zero() {
            return Err(invalid("--heartbeat", "must be more than 0"));
        }
        if self.status_interval.is_zero() {
            return Err(invalid("--node-status-interval", "must be more than 0"));
        }
        if self.lease_duration_seconds <= 0 {
            return Err(invalid("lease duration", "must be more than 0"));
        }
        if self.create_concurrency == 0 || self.request_concurrency == 0 {
            return Err(invalid("concurrency", "must be more than 0"));
        }
        Ok(())
    }
}

/// Parses `k=v,k2=v2` (an empty string is no labels; a key without `=` has an empty value).
pub fn parse_labels(s: &str) -> Result<BTreeMap<String, String>, OptionsError> {
    let mut out = BTreeMap::new();
    for item in s.split(',').map(str::trim).filter(|i| !i.is_empty()) {
        let (k, v) = item.split_once('=').unwrap_or((item, ""));
        validation::validate_label_key(k).map_err(|e| invalid("--labels", e))?;
        validation::validate_label_value(v).map_err(|e| invalid("--labels", e))?;
        out.insert(k.to_owned(), v.to_owned());
    }
    Ok(out)
}

/// Parses `k=v:Effect,k2:Effect` as kubelet's `--register-with-taints` does.
pub fn parse_taints(s: &str) -> Result<Vec<Taint>, OptionsError> {
    let mut out: Vec<Taint> = Vec::new();
    for item in s.split(',').map(str::trim).filter(|i| !i.is_empty()) {
        let (kv, effect) = item
            .rsplit_once(':')
            .ok_or_else(|| invalid("--taints", format!("{item:?}: expected key[=value]:effect")))?;
        if !["NoSchedule", "PreferNoSchedule", "NoExecute"].contains(&effect) {
            return Err(invalid(
                "--taints",
                format!("{item:?}: effect must be NoSchedule, PreferNoSchedule or NoExecute"),
            ));
        }
        let (key, value) = match kv.split_once('=') {
            Some((k, v)) => (k, Some(v.to_owned())),
            None => (kv, None),
        };
        validation::validate_label_key(key).map_err(|e| invalid("--taints", e))?;
        if let Some(v) = &value {
            validation::validate_label_value(v).map_err(|e| invalid("--taints", e))?;
        }
        if out.iter().any(|t| t.key == key && t.effect == effect) {
            return Err(invalid(
                "--taints",
                format!("{item:?}: duplicate key and effect"),
            ));
        }
        out.push(Taint {
            key: key.to_owned(),
            value,
            effect: effect.to_owned(),
            time_added: None,
        });
    }
    Ok(out)
}

/// Parses a duration such as `0`, `0s`, `500ms`, `10s`, `1m`, `1h` or `1m30s`.
pub fn parse_duration(s: &str) -> Result<Duration, OptionsError> {
    let bad = || {
        invalid(
            "duration",
            format!("{s:?}: expected a duration such as 500ms, 10s or 1m"),
        )
    };
    let s = s.trim();
    if s == "0" {
        return Ok(Duration::ZERO);
    }
    let mut rest = s;
    let mut total = Duration::ZERO;
    if rest.is_empty() {
        return Err(bad());
    }
    while !rest.is_empty() {
        let digits = rest
            .find(|c: char| !c.is_ascii_digit() && c != '.')
            .ok_or_else(bad)?;
        let number: f64 = rest[..digits].parse().map_err(|_| bad())?;
        rest = &rest[digits..];
        let unit_len = rest
            .find(|c: char| c.is_ascii_digit() || c == '.')
            .unwrap_or(rest.len());
        let scale = match &rest[..unit_len] {
            "ms" => 0.001,
            "s" => 1.0,
            "m" => 60.0,
            "h" => 3600.0,
            _ => return Err(bad()),
        };
        rest = &rest[unit_len..];
        total += Duration::try_from_secs_f64(number * scale).map_err(|_| bad())?;
    }
    Ok(total)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_valid() {
        SimOptions::default().validate().unwrap();
    }

    #[test]
    fn labels_parse_and_validate() {
        let l = parse_labels("a=b, example.com/c=d,e").unwrap();
        assert_eq!(l.len(), 3);
        assert_eq!(l["example.com/c"], "d");
        assert_eq!(l["e"], "");
        assert!(parse_labels("").unwrap().is_empty());
        assert!(parse_labels("bad key=x").is_err());
        assert!(parse_labels("k=bad value").is_err());
    }

    #[test]
    fn taints_parse_like_kubelet() {
        let t = parse_taints("dedicated=gpu:NoSchedule,spot:PreferNoSchedule").unwrap();
        assert_eq!(t.len(), 2);
        assert_eq!(
            (
                t[0].key.as_str(),
                t[0].value.as_deref(),
                t[0].effect.as_str()
            ),
            ("dedicated", Some("gpu"), "NoSchedule")
        );
        assert_eq!((t[1].key.as_str(), t[1].value.as_deref()), ("spot", None));
        assert!(parse_taints("k=v").is_err());
        assert!(parse_taints("k=v:Sometimes").is_err());
        assert!(parse_taints("k=v:NoSchedule,k=w:NoSchedule").is_err());
        assert!(parse_taints("").unwrap().is_empty());
    }

    #[test]
    fn durations() {
        assert_eq!(parse_duration("0").unwrap(), Duration::ZERO);
        assert_eq!(parse_duration("0s").unwrap(), Duration::ZERO);
        assert_eq!(parse_duration("500ms").unwrap(), Duration::from_millis(500));
        assert_eq!(parse_duration("10s").unwrap(), Duration::from_secs(10));
        assert_eq!(parse_duration("1m30s").unwrap(), Duration::from_secs(90));
        assert_eq!(parse_duration("1.5s").unwrap(), Duration::from_millis(1500));
        assert_eq!(parse_duration("2h").unwrap(), Duration::from_secs(7200));
        for bad in ["", "10", "s", "10x", "-1s", "1s2"] {
            assert!(parse_duration(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn validation_refuses_what_the_server_would() {
        let check = |f: fn(&mut SimOptions)| {
            let mut o = SimOptions::default();
            f(&mut o);
            o.validate()
        };
        assert!(check(|o| o.name_prefix = "Bad_".into()).is_err());
        assert!(check(|o| o.cpu = "lots".into()).is_err());
        assert!(check(|o| o.memory = "-1Gi".into()).is_err());
        assert!(check(|o| o.pods = 0).is_err());
        assert!(check(|o| o.pods = 254).is_err());
        assert!(check(|o| o.nodes = MAX_NODES + 1).is_err());
        assert!(check(|o| o.heartbeat = Duration::ZERO).is_err());
        assert!(check(|o| o.zones = 0).is_ok());
        assert!(check(|o| o.nodes = 0).is_ok());
    }
}
