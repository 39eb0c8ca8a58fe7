//! The scheduler's configuration file, in the shape of upstream's
//! `kubescheduler.config.k8s.io/v1` `KubeSchedulerConfiguration`: global settings, and
//! profiles whose plugins are enabled, disabled and weighted per extension point (or through
//! `multiPoint`), with per-plugin args in `pluginConfig`.

use crate::framework::runtime::Framework;
use crate::plugins::{self, names};
use serde::Deserialize;
use serde_json::Value;
use std::collections::HashMap;
use std::time::Duration;

/// The default profile's name.
pub const DEFAULT_SCHEDULER_NAME: &str = "default-scheduler";

/// Upstream's default `multiPoint` plugins with their score weights, in order.
pub const DEFAULT_PLUGINS: &[(&str, i64)] = &[
    ("SchedulingGates", 0),
    (names::PRIORITY_SORT, 0),
    (names::NODE_UNSCHEDULABLE, 0),
    (names::NODE_NAME, 0),
    (names::TAINT_TOLERATION, 3),
    (names::NODE_AFFINITY, 2),
    (names::NODE_PORTS, 0),
    (names::NODE_RESOURCES_FIT, 1),
    ("VolumeRestrictions", 0),
    ("NodeVolumeLimits", 0),
    (names::VOLUME_BINDING, 0),
    ("VolumeZone", 0),
    (names::POD_TOPOLOGY_SPREAD, 2),
    (names::INTER_POD_AFFINITY, 2),
    (names::DEFAULT_PREEMPTION, 0),
    (names::NODE_RESOURCES_BALANCED_ALLOCATION, 1),
    (names::IMAGE_LOCALITY, 1),
    (names::DEFAULT_BINDER, 0),
];

/// Plugins the driver itself provides (queue sort, gates, preemption, binding), and volume
/// plugins that have nothing to check for the volumes Skiff supports.
const BUILT_IN: &[&str] = &[
    "SchedulingGates",
    names::PRIORITY_SORT,
    names::DEFAULT_PREEMPTION,
    names::DEFAULT_BINDER,
    "VolumeRestrictions",
    "NodeVolumeLimits",
    "VolumeZone",
];

/// A plugin named in a profile, with an optional weight.
#[derive(Clone, Debug, Default, Deserialize, PartialEq, Eq)]
pub struct PluginRef {
    /// The plugin's name (`*` in `disabled` means all).
    pub name: String,
    /// Score weight.
    #[serde(default)]
    pub weight: Option<i64>,
}

/// Enabled and disabled plugins of one extension point.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PluginList {
    /// Plugins to add (after the defaults).
    #[serde(default)]
    pub enabled: Vec<PluginRef>,
    /// Plugins to remove from the defaults (`*`: all of them).
    #[serde(default)]
    pub disabled: Vec<PluginRef>,
}

/// The plugins of a profile per extension point.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Plugins {
    /// Every extension point a plugin implements.
    #[serde(default)]
    pub multi_point: PluginList,
    /// PreFilter.
    #[serde(default)]
    pub pre_filter: PluginList,
    /// Filter.
    #[serde(default)]
    pub filter: PluginList,
    /// PostFilter.
    #[serde(default)]
    pub post_filter: PluginList,
    /// PreScore.
    #[serde(default)]
    pub pre_score: PluginList,
    /// Score.
    #[serde(default)]
    pub score: PluginList,
}

/// Args of one plugin.
#[derive(Clone, Debug, Deserialize)]
pub struct PluginConfig {
    /// The plugin.
    pub name: String,
    /// Its args.
    #[serde(default)]
    pub args: Value,
}

/// One scheduling profile.
#[derive(Clone, Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Profile {
    /// The `spec.schedulerName` of pods this profile schedules.
    #[serde(default = "default_name")]
    pub scheduler_name: String,
    /// Overrides the global `percentageOfNodesToScore`.
    #[serde(default)]
    pub percentage_of_nodes_to_score: Option<u32>,
    /// Plugins.
    #[serde(default)]
    pub plugins: Plugins,
    /// Plugin args.
    #[serde(default)]
    pub plugin_config: Vec<PluginConfig>,
}

fn default_name() -> String {
    DEFAULT_SCHEDULER_NAME.into()
}

/// Leader election settings.
#[derive(Clone, Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct LeaderElection {
    /// Whether to elect a leader.
    #[serde(default = "yes")]
    pub leader_elect: bool,
    /// Lease duration (Go duration text, `15s`).
    #[serde(default = "lease_duration")]
    pub lease_duration: String,
    /// How long the leader keeps trying to renew.
    #[serde(default = "renew_deadline")]
    pub renew_deadline: String,
    /// Wait between attempts.
    #[serde(default = "retry_period")]
    pub retry_period: String,
    /// The Lease's name.
    #[serde(default = "lease_name")]
    pub resource_name: String,
    /// The Lease's namespace.
    #[serde(default = "lease_namespace")]
    pub resource_namespace: String,
}

fn yes() -> bool {
    true
}
fn lease_duration() -> String {
    "15s".into()
}
fn renew_deadline() -> String {
    "10s".into()
}
fn retry_period() -> String {
    "2s".into()
}
fn lease_name() -> String {
    "kube-scheduler".into()
}
fn lease_namespace() -> String {
    "kube-system".into()
}

impl Default for LeaderElection {
    fn default() -> Self {
        LeaderElection {
            leader_elect: true,
            lease_duration: lease_duration(),
            renew_deadline: renew_deadline(),
            retry_period: retry_period(),
            resource_name: lease_name(),
            resource_namespace: lease_namespace(),
        }
    }
}

/// A `KubeSchedulerConfiguration`.
#[derive(Clone, Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Config {
    /// `kubescheduler.config.k8s.io/v1`.
    #[serde(default)]
    pub api_version: String,
    /// `KubeSchedulerConfiguration`.
    #[serde(default)]
    pub kind: String,
    /// Share of nodes to find feasible before scoring (0: adaptive).
    #[serde(default)]
    pub percentage_of_nodes_to_score: Option<u32>,
    /// First backoff of a pod that failed (seconds).
    #[serde(default = "initial_backoff")]
    pub pod_initial_backoff_seconds: u64,
    /// Longest backoff (seconds).
    #[serde(default = "max_backoff")]
    pub pod_max_backoff_seconds: u64,
    /// Leader election.
    #[serde(default)]
    pub leader_election: LeaderElection,
    /// Profiles (one `default-scheduler` when none are given).
    #[serde(default)]
    pub profiles: Vec<Profile>,
}

fn initial_backoff() -> u64 {
    1
}
fn max_backoff() -> u64 {
    10
}

impl Default for Config {
    fn default() -> Self {
        Config {
            api_version: "kubescheduler.config.k8s.io/v1".into(),
            kind: "KubeSchedulerConfiguration".into(),
            percentage_of_nodes_to_score: None,
            pod_initial_backoff_seconds: initial_backoff(),
            pod_max_backoff_seconds: max_backoff(),
            leader_election: LeaderElection::default(),
            profiles: Vec::new(),
        }
    }
}

/// Parses a Go duration (`15s`, `1m30s`, `500ms`).
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    let mut total = Duration::ZERO;
    let mut rest = text.trim();
    if rest.is_empty() {
        return Err(format!("invalid duration {text:?}"));
    }
    while !rest.is_empty() {
        let digits = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .ok_or_else(|| format!("missing unit in duration {text:?}"))?;
        let value: f64 = rest[..digits]
            .parse()
            .map_err(|_| format!("invalid duration {text:?}"))?;
        rest = &rest[digits..];
        let unit_len = rest
            .find(|c: char| c.is_ascii_digit() || c == '.')
            .unwrap_or(rest.len());
        let scale = match &rest[..unit_len] {
            "ns" => 1e-9,
            "us" | "µs" => 1e-6,
            "ms" => 1e-3,
            "s" => 1.0,
            "m" => 60.0,
            "h" => 3600.0,
            other => return Err(format!("unknown unit {other:?} in duration {text:?}")),
        };
        total += Duration::from_secs_f64(value * scale);
        rest = &rest[unit_len..];
    }
    Ok(total)
}

impl Config {
    /// Parses a configuration file (YAML or JSON).
    pub fn parse(text: &str) -> Result<Config, String> {
        let mut config: Config =
            serde_yaml::from_str(text).map_err(|e| format!("parsing the configuration: {e}"))?;
        if !config.api_version.is_empty() && config.api_version != "kubescheduler.config.k8s.io/v1"
        {
            return Err(format!(
                "no kind \"KubeSchedulerConfiguration\" is registered for version {:?}",
                config.api_version
            ));
        }
        if !config.kind.is_empty() && config.kind != "KubeSchedulerConfiguration" {
            return Err(format!("unexpected kind {:?}", config.kind));
        }
        if config.profiles.is_empty() {
            config.profiles.push(Profile::default());
        }
        let mut seen = std::collections::HashSet::new();
        for p in &config.profiles {
            if !seen.insert(p.scheduler_name.as_str()) {
                return Err(format!(
                    "profiles[].schedulerName: Duplicate value: {:?}",
                    p.scheduler_name
                ));
            }
        }
        if config.percentage_of_nodes_to_score.is_some_and(|p| p > 100) {
            return Err(
                "percentageOfNodesToScore: Invalid value: not in valid range [0-100]".into(),
            );
        }
        for d in [
            &config.leader_election.lease_duration,
            &config.leader_election.renew_deadline,
            &config.leader_election.retry_period,
        ] {
            parse_duration(d)?;
        }
        Ok(config)
    }

    /// The configuration with one default profile.
    pub fn with_defaults() -> Config {
        Config {
            profiles: vec![Profile::default()],
            ..Config::default()
        }
    }

    /// Builds each profile's framework, keyed by scheduler name.
    pub fn frameworks(&self) -> Result<HashMap<String, Framework>, String> {
        let mut out = HashMap::new();
        for p in &self.profiles {
            let mut fw = p.build()?;
            if fw.percentage_of_nodes_to_score.is_none() {
                fw.percentage_of_nodes_to_score = self.percentage_of_nodes_to_score;
            }
            out.insert(p.scheduler_name.clone(), fw);
        }
        Ok(out)
    }
}

impl Default for Profile {
    fn default() -> Self {
        Profile {
            scheduler_name: default_name(),
            percentage_of_nodes_to_score: None,
            plugins: Plugins::default(),
            plugin_config: Vec::new(),
        }
    }
}

/// Applies one extension point's enabled/disabled lists to an ordered list of plugins.
fn apply(list: &mut Vec<(String, i64)>, change: &PluginList) {
    if change.disabled.iter().any(|d| d.name == "*") {
        list.clear();
    } else {
        list.retain(|(n, _)| !change.disabled.iter().any(|d| &d.name == n));
    }
    for e in &change.enabled {
        match list.iter_mut().find(|(n, _)| *n == e.name) {
            Some(entry) => {
                if let Some(w) = e.weight {
                    entry.1 = w;
                }
            }
            None => list.push((e.name.clone(), e.weight.unwrap_or(1))),
        }
    }
}

impl Profile {
    /// The plugins of this profile, in order, with their score weights.
    pub fn multi_point(&self) -> Vec<(String, i64)> {
        let mut list: Vec<(String, i64)> = DEFAULT_PLUGINS
            .iter()
            .map(|(n, w)| ((*n).to_owned(), *w))
            .collect();
        apply(&mut list, &self.plugins.multi_point);
        list
    }

    /// Builds the profile's framework.
    pub fn build(&self) -> Result<Framework, String> {
        let args: HashMap<&str, &Value> = self
            .plugin_config
            .iter()
            .map(|c| (c.name.as_str(), &c.args))
            .collect();
        let multi = self.multi_point();
        let mut sets = HashMap::new();
        let mut fw = Framework {
            scheduler_name: self.scheduler_name.clone(),
            percentage_of_nodes_to_score: self.percentage_of_nodes_to_score,
            ..Framework::default()
        };
        let all_names = multi.iter().map(|(n, _)| n.clone()).chain(
            [
                &self.plugins.pre_filter,
                &self.plugins.filter,
                &self.plugins.pre_score,
                &self.plugins.score,
            ]
            .into_iter()
            .flat_map(|l| l.enabled.iter().map(|e| e.name.clone())),
        );
        for name in all_names {
            if BUILT_IN.contains(&name.as_str()) || sets.contains_key(&name) {
                continue;
            }
            let set = plugins::build(&name, args.get(name.as_str()).copied())
                .map_err(|e| format!("plugin {name:?}: {e}"))?;
            sets.insert(name, set);
        }
        let point = |has: &dyn Fn(&crate::framework::PluginSet) -> bool, change: &PluginList| {
            let mut list: Vec<(String, i64)> = multi
                .iter()
                .filter(|(n, _)| sets.get(n).is_some_and(has))
                .cloned()
                .collect();
            apply(&mut list, change);
            list.retain(|(n, _)| sets.get(n).is_some_and(has));
            list
        };
        for (n, _) in point(&|s| s.pre_filter.is_some(), &self.plugins.pre_filter) {
            fw.pre_filters
                .push(sets[&n].pre_filter.clone().expect("checked"));
        }
        for (n, _) in point(&|s| s.filter.is_some(), &self.plugins.filter) {
            fw.filters.push(sets[&n].filter.clone().expect("checked"));
        }
        for (n, _) in point(&|s| s.pre_score.is_some(), &self.plugins.pre_score) {
            fw.pre_scores
                .push(sets[&n].pre_score.clone().expect("checked"));
        }
        for (n, w) in point(&|s| s.score.is_some(), &self.plugins.score) {
            if w <= 0 {
                return Err(format!(
                    "plugin {n:?}: score weight must be positive, got {w}"
                ));
            }
            fw.scores
                .push((sets[&n].score.clone().expect("checked"), w));
        }
        for set in sets.values() {
            if let Some(p) = [
                set.filter.as_ref().map(|p| p.name()),
                set.pre_filter.as_ref().map(|p| p.name()),
                set.score.as_ref().map(|p| p.name()),
            ]
            .into_iter()
            .flatten()
            .next()
            {
                fw.events.insert(p, set.events.clone());
            }
        }
        let mut post = multi
            .iter()
            .filter(|(n, _)| n == names::DEFAULT_PREEMPTION)
            .cloned()
            .collect::<Vec<_>>();
        apply(&mut post, &self.plugins.post_filter);
        fw.preemption = post.iter().any(|(n, _)| n == names::DEFAULT_PREEMPTION);
        Ok(fw)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations() {
        assert_eq!(parse_duration("15s").unwrap(), Duration::from_secs(15));
        assert_eq!(parse_duration("1m30s").unwrap(), Duration::from_secs(90));
        assert_eq!(parse_duration("500ms").unwrap(), Duration::from_millis(500));
        assert!(parse_duration("5").is_err());
    }

    #[test]
    fn multi_point_lists() {
        let p = Profile::default();
        let list = p.multi_point();
        assert_eq!(list.len(), DEFAULT_PLUGINS.len());
        let cfg = Config::parse(
            "apiVersion: kubescheduler.config.k8s.io/v1\nkind: KubeSchedulerConfiguration\nprofiles:\n- schedulerName: bin-packer\n  plugins:\n    multiPoint:\n      enabled:\n      - name: ImageLocality\n        weight: 5\n      disabled:\n      - name: TaintToleration\n",
        )
        .unwrap();
        let list = cfg.profiles[0].multi_point();
        assert!(!list.iter().any(|(n, _)| n == "TaintToleration"));
        assert!(list.contains(&("ImageLocality".into(), 5)));
        assert_eq!(cfg.profiles[0].scheduler_name, "bin-packer");
    }

    #[test]
    fn bad_configurations() {
        assert!(Config::parse("apiVersion: kubescheduler.config.k8s.io/v1beta1\n").is_err());
        assert!(
            Config::parse("profiles:\n- schedulerName: a\n- schedulerName: a\n")
                .unwrap_err()
                .contains("Duplicate")
        );
        assert!(Config::parse("percentageOfNodesToScore: 101\n").is_err());
        let cfg = Config::parse("{}").unwrap();
        assert_eq!(cfg.profiles[0].scheduler_name, DEFAULT_SCHEDULER_NAME);
        assert_eq!(cfg.pod_max_backoff_seconds, 10);
    }
}
