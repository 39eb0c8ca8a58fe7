//! DefaultPreemption (upstream's `framework/preemption` and `plugins/defaultpreemption`): when
//! a pod fits nowhere, find nodes where removing lower-priority pods would make room, keep as
//! many of those pods as still allows the preemptor to fit (PodDisruptionBudget-violating
//! ones first), and pick the node whose victims matter least.
//!
//! Everything here decides; deleting victims and nominating the node is the driver's job.

use crate::framework::runtime::{Diagnosis, FitError, Framework, Nominator};
use crate::framework::{Code, CycleState, NodeInfo, PodInfo, Snapshot, Status};
use k8s_openapi::api::policy::v1::PodDisruptionBudget;
use k8s_openapi::jiff::Timestamp;
use rand::Rng;
use skiff_core::labels::from_label_selector;
use std::cmp::Ordering;
use std::collections::HashMap;
use std::sync::Arc;

/// Share of the potential nodes evaluated (upstream's `minCandidateNodesPercentage`).
pub const MIN_CANDIDATE_NODES_PERCENTAGE: usize = 10;
/// Fewest potential nodes evaluated (upstream's `minCandidateNodesAbsolute`).
pub const MIN_CANDIDATE_NODES_ABSOLUTE: usize = 100;
/// The reason given for nodes where preemption cannot help.
pub const NOT_HELPFUL: &str = "Preemption is not helpful for scheduling";
/// The reason given for nodes without lower-priority pods.
pub const NO_VICTIMS: &str = "No preemption victims found for incoming pod";

/// A node where preemption makes room, and what it costs.
#[derive(Clone, Debug)]
pub struct Candidate {
    /// The node.
    pub node: String,
    /// Pods to evict, most important first.
    pub victims: Vec<Arc<PodInfo>>,
    /// How many of them break a PodDisruptionBudget.
    pub pdb_violations: usize,
}

fn start_time(p: &PodInfo) -> Option<Timestamp> {
    p.pod
        .status
        .as_ref()
        .and_then(|s| s.start_time.as_ref())
        .map(|t| t.0)
}

/// Upstream's `MoreImportantPod`: higher priority, then started earlier.
fn more_important(a: &PodInfo, b: &PodInfo) -> Ordering {
    b.priority
        .cmp(&a.priority)
        .then_with(|| match (start_time(a), start_time(b)) {
            (Some(x), Some(y)) => x.cmp(&y),
            (Some(_), None) => Ordering::Less,
            (None, Some(_)) => Ordering::Greater,
            (None, None) => Ordering::Equal,
        })
}

/// Whether the pod may preempt at all (`preemptionPolicy: Never` may not; a pod whose
/// nominated node still has a lower-priority pod terminating waits for it).
pub fn eligible(pod: &PodInfo, snapshot: &Snapshot) -> Result<(), String> {
    let spec = pod.pod.spec.as_ref();
    if spec.and_then(|s| s.preemption_policy.as_deref()) == Some("Never") {
        return Err("not eligible due to preemptionPolicy=Never.".into());
    }
    let nominated = pod
        .pod
        .status
        .as_ref()
        .and_then(|s| s.nominated_node_name.as_deref())
        .filter(|n| !n.is_empty());
    if let Some(node) = nominated.and_then(|n| snapshot.get(n))
        && node
            .pods
            .iter()
            .any(|p| p.pod.metadata.deletion_timestamp.is_some() && p.priority < pod.priority)
    {
        return Err("not eligible due to a terminating pod on the nominated node.".into());
    }
    Ok(())
}

/// Splits victims (most important first) into those whose eviction would break a budget and
/// those whose would not (upstream's `filterPodsWithPDBViolation`).
pub fn split_by_budget(
    victims: &[Arc<PodInfo>],
    pdbs: &[Arc<PodDisruptionBudget>],
) -> (Vec<Arc<PodInfo>>, Vec<Arc<PodInfo>>) {
    let mut allowed: Vec<i32> = pdbs
        .iter()
        .map(|p| p.status.as_ref().map_or(0, |s| s.disruptions_allowed))
        .collect();
    let mut violating = Vec::new();
    let mut fine = Vec::new();
    for v in victims {
        let mut violated = false;
        if !v.labels.is_empty() {
            for (i, pdb) in pdbs.iter().enumerate() {
                if pdb.metadata.namespace.as_deref() != Some(v.namespace.as_str()) {
                    continue;
                }
                let Some(sel) = pdb.spec.as_ref().and_then(|s| s.selector.as_ref()) else {
                    continue;
                };
                let Ok(sel) = from_label_selector(Some(sel)) else {
                    continue;
                };
                if sel.is_empty() || !sel.matches(&v.labels) {
                    continue;
                }
                if pdb
                    .status
                    .as_ref()
                    .and_then(|s| s.disrupted_pods.as_ref())
                    .is_some_and(|d| d.contains_key(&v.name))
                {
                    continue;
                }
                allowed[i] -= 1;
                if allowed[i] < 0 {
                    violated = true;
                }
            }
        }
        if violated {
            violating.push(v.clone());
        } else {
            fine.push(v.clone());
        }
    }
    (violating, fine)
}

/// Upstream's `SelectVictimsOnNode`: the fewest lower-priority pods to remove from `node` so
/// that `pod` fits.
pub fn select_victims(
    fw: &Framework,
    state: &CycleState,
    pod: &PodInfo,
    node: &NodeInfo,
    pdbs: &[Arc<PodDisruptionBudget>],
    nominator: &dyn Nominator,
) -> Result<(Vec<Arc<PodInfo>>, usize), Status> {
    let mut node = node.clone();
    let mut state = state.clone();
    let mut lower: Vec<Arc<PodInfo>> = node
        .pods
        .iter()
        .filter(|p| p.priority < pod.priority)
        .cloned()
        .collect();
    if lower.is_empty() {
        return Err(Status::unresolvable(NO_VICTIMS));
    }
    for v in &lower {
        node.remove_pod(&v.uid);
        for p in &fw.pre_filters {
            let s = p.remove_pod(&mut state, pod, v, &node);
            if !s.is_success() {
                return Err(s);
            }
        }
    }
    let fits = fw.run_filters_with_nominated(&state, pod, &node, nominator);
    if !fits.is_success() {
        return Err(fits);
    }
    lower.sort_by(|a, b| more_important(a, b));
    let (violating, fine) = split_by_budget(&lower, pdbs);
    let mut victims = Vec::new();
    let mut violations = 0;
    let mut reprieve =
        |v: &Arc<PodInfo>, node: &mut NodeInfo, state: &mut CycleState| -> Result<bool, Status> {
            node.add_pod(v.clone());
            for p in &fw.pre_filters {
                let s = p.add_pod(state, pod, v, node);
                if !s.is_success() {
                    return Err(s);
                }
            }
            if fw
                .run_filters_with_nominated(state, pod, node, nominator)
                .is_success()
            {
                return Ok(false);
            }
            node.remove_pod(&v.uid);
            for p in &fw.pre_filters {
                let s = p.remove_pod(state, pod, v, node);
                if !s.is_success() {
                    return Err(s);
                }
            }
            victims.push(v.clone());
            Ok(true)
        };
    for v in &violating {
        if reprieve(v, &mut node, &mut state)? {
            violations += 1;
        }
    }
    for v in &fine {
        reprieve(v, &mut node, &mut state)?;
    }
    if victims.is_empty() {
        return Err(Status::error(format!(
            "expected at least one victim pod on node {:?}",
            node.name
        )));
    }
    victims.sort_by(|a, b| more_important(a, b));
    Ok((victims, violations))
}

/// Upstream's `pickOneNodeForPreemption`: fewest budget violations, then the lowest
/// highest-priority victim, the lowest sum of priorities, the fewest victims, and the latest
/// start among the most important victims.
pub fn pick_one(candidates: &[Candidate]) -> Option<&Candidate> {
    let mut best: Vec<&Candidate> = candidates.iter().collect();
    let keep = |best: &mut Vec<&Candidate>, score: &dyn Fn(&Candidate) -> i128| {
        let top = best.iter().map(|c| score(c)).max();
        if let Some(top) = top {
            best.retain(|c| score(c) == top);
        }
    };
    keep(&mut best, &|c| -(c.pdb_violations as i128));
    keep(&mut best, &|c| {
        -(c.victims.first().map_or(i32::MIN, |v| v.priority) as i128)
    });
    keep(&mut best, &|c| {
        -c.victims
            .iter()
            .map(|v| v.priority as i128 + i32::MAX as i128 + 1)
            .sum::<i128>()
    });
    keep(&mut best, &|c| -(c.victims.len() as i128));
    keep(&mut best, &|c| {
        let top = c.victims.first().map_or(i32::MIN, |v| v.priority);
        c.victims
            .iter()
            .filter(|v| v.priority == top)
            .filter_map(|v| start_time(v))
            .min()
            .map_or(i128::MIN, |t| t.as_nanosecond())
    });
    best.first().copied()
}

/// Runs preemption for a pod that fit nowhere. `Ok`: the node to nominate with its victims;
/// `Err`: the message (without the `preemption: ` prefix) explaining why preemption cannot
/// help.
#[allow(clippy::too_many_arguments)]
pub fn preempt(
    fw: &Framework,
    state: &CycleState,
    pod: &PodInfo,
    snapshot: &Snapshot,
    diagnosis: &Diagnosis,
    nominator: &dyn Nominator,
    rng: &mut impl Rng,
) -> Result<Candidate, String> {
    eligible(pod, snapshot)?;
    let pdbs: Vec<Arc<PodDisruptionBudget>> = snapshot.objects.pdbs.values().cloned().collect();
    let mut statuses: HashMap<String, Status> = HashMap::new();
    let mut potential: Vec<&Arc<NodeInfo>> = Vec::new();
    for n in &snapshot.nodes {
        match diagnosis.node_to_status.get(&n.name) {
            Some(s) if s.code == Code::Unschedulable => potential.push(n),
            _ => {
                statuses.insert(n.name.clone(), Status::unresolvable(NOT_HELPFUL));
            }
        }
    }
    let fit_error = |statuses: HashMap<String, Status>| {
        FitError {
            num_all_nodes: snapshot.nodes.len(),
            diagnosis: Diagnosis {
                node_to_status: statuses,
                absent_nodes_status: Some(Status::unresolvable(NOT_HELPFUL)),
                ..Diagnosis::default()
            },
        }
        .message()
    };
    if potential.is_empty() {
        return Err(fit_error(statuses));
    }
    let want = (potential.len() * MIN_CANDIDATE_NODES_PERCENTAGE / 100)
        .max(MIN_CANDIDATE_NODES_ABSOLUTE)
        .min(potential.len());
    let offset = rng.random_range(0..potential.len());
    let mut candidates = Vec::new();
    for i in 0..potential.len() {
        if candidates.len() >= want {
            break;
        }
        let node = potential[(offset + i) % potential.len()];
        match select_victims(fw, state, pod, node, &pdbs, nominator) {
            Ok((victims, pdb_violations)) => candidates.push(Candidate {
                node: node.name.clone(),
                victims,
                pdb_violations,
            }),
            Err(s) => {
                statuses.insert(node.name.clone(), s);
            }
        }
    }
    match pick_one(&candidates) {
        Some(c) => Ok(c.clone()),
        None => Err(fit_error(statuses)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::framework::runtime::NoNominations;
    use crate::framework::{FilterPlugin, Plugin};
    use k8s_openapi::api::core::v1::{Node, Pod, PodSpec};
    use k8s_openapi::api::policy::v1::{PodDisruptionBudgetSpec, PodDisruptionBudgetStatus};
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelector;
    use rand::SeedableRng;

    /// A node holds at most `n` pods.
    struct Slots(usize);
    impl Plugin for Slots {
        fn name(&self) -> &'static str {
            "Slots"
        }
    }
    impl FilterPlugin for Slots {
        fn filter(&self, _: &CycleState, _: &PodInfo, node: &NodeInfo) -> Status {
            if node.pods.len() < self.0 {
                Status::success()
            } else {
                Status::unschedulable("Too many pods")
            }
        }
    }

    fn pod(name: &str, priority: i32, app: &str) -> Arc<PodInfo> {
        let mut p = Pod::default();
        p.metadata.name = Some(name.into());
        p.metadata.uid = Some(name.into());
        p.metadata.namespace = Some("default".into());
        p.metadata.labels = Some([("app".to_owned(), app.to_owned())].into());
        p.spec = Some(PodSpec {
            priority: Some(priority),
            ..Default::default()
        });
        Arc::new(PodInfo::new(Arc::new(p)))
    }

    fn node(name: &str, pods: &[Arc<PodInfo>]) -> Arc<NodeInfo> {
        let mut n = Node::default();
        n.metadata.name = Some(name.into());
        let mut info = NodeInfo::new(Arc::new(n));
        for p in pods {
            info.add_pod(p.clone());
        }
        Arc::new(info)
    }

    fn budget(app: &str, allowed: i32) -> Arc<PodDisruptionBudget> {
        Arc::new(PodDisruptionBudget {
            metadata: k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta {
                name: Some(format!("pdb-{app}")),
                namespace: Some("default".into()),
                ..Default::default()
            },
            spec: Some(PodDisruptionBudgetSpec {
                selector: Some(LabelSelector {
                    match_labels: Some([("app".to_owned(), app.to_owned())].into()),
                    ..Default::default()
                }),
                ..Default::default()
            }),
            status: Some(PodDisruptionBudgetStatus {
                disruptions_allowed: allowed,
                ..Default::default()
            }),
        })
    }

    fn diagnosis_for(snapshot: &Snapshot, fw: &Framework, pod: &PodInfo) -> Diagnosis {
        let mut d = Diagnosis::default();
        for n in &snapshot.nodes {
            let s = fw.run_filters(&CycleState::default(), pod, n);
            if !s.is_success() {
                d.node_to_status.insert(n.name.clone(), s);
            }
        }
        d
    }

    fn framework(slots: usize) -> Framework {
        Framework {
            filters: vec![Arc::new(Slots(slots))],
            preemption: true,
            ..Default::default()
        }
    }

    #[test]
    fn the_cheapest_node_is_chosen_and_only_needed_victims_go() {
        let fw = framework(2);
        // n1 holds two pods of priority 10; n2 one of 5 and one of 100.
        let snap = Snapshot::new(
            vec![
                node("n1", &[pod("a", 10, "x"), pod("b", 10, "x")]),
                node("n2", &[pod("c", 5, "x"), pod("d", 100, "x")]),
            ],
            Default::default(),
        );
        let p = pod("high", 50, "y");
        let d = diagnosis_for(&snap, &fw, &p);
        let mut rng = rand::rngs::StdRng::seed_from_u64(3);
        let c = preempt(
            &fw,
            &CycleState::default(),
            &p,
            &snap,
            &d,
            &NoNominations,
            &mut rng,
        )
        .unwrap();
        // One victim either way; n2's victim has the lower priority.
        assert_eq!(c.node, "n2");
        assert_eq!(c.victims.len(), 1);
        assert_eq!(c.victims[0].name, "c");
    }

    #[test]
    fn budgets_steer_the_choice() {
        let fw = framework(1);
        let snap_objects = crate::framework::Objects {
            pdbs: [("default/pdb-x".to_owned(), budget("x", 0))].into(),
            ..Default::default()
        };
        let snap = Snapshot::new(
            vec![
                node("n1", &[pod("a", 1, "x")]),
                node("n2", &[pod("b", 1, "z")]),
            ],
            Arc::new(snap_objects),
        );
        let p = pod("high", 50, "y");
        let d = diagnosis_for(&snap, &fw, &p);
        let mut rng = rand::rngs::StdRng::seed_from_u64(3);
        let c = preempt(
            &fw,
            &CycleState::default(),
            &p,
            &snap,
            &d,
            &NoNominations,
            &mut rng,
        )
        .unwrap();
        assert_eq!((c.node.as_str(), c.pdb_violations), ("n2", 0));
    }

    #[test]
    fn no_lower_priority_pods_means_no_preemption() {
        let fw = framework(1);
        let snap = Snapshot::new(vec![node("n1", &[pod("a", 100, "x")])], Default::default());
        let p = pod("mid", 50, "y");
        let d = diagnosis_for(&snap, &fw, &p);
        let mut rng = rand::rngs::StdRng::seed_from_u64(3);
        let err = preempt(
            &fw,
            &CycleState::default(),
            &p,
            &snap,
            &d,
            &NoNominations,
            &mut rng,
        )
        .unwrap_err();
        assert_eq!(
            err,
            "0/1 nodes are available: 1 No preemption victims found for incoming pod."
        );
        let mut never = (*pod("never", 1000, "y").pod).clone();
        never.spec.as_mut().unwrap().preemption_policy = Some("Never".into());
        let never = PodInfo::new(Arc::new(never));
        let err = preempt(
            &fw,
            &CycleState::default(),
            &never,
            &snap,
            &d,
            &NoNominations,
            &mut rng,
        )
        .unwrap_err();
        assert_eq!(err, "not eligible due to preemptionPolicy=Never.");
    }

    #[test]
    fn unresolvable_nodes_are_not_helped() {
        let fw = framework(1);
        let snap = Snapshot::new(vec![node("n1", &[pod("a", 1, "x")])], Default::default());
        let p = pod("high", 50, "y");
        let mut d = Diagnosis::default();
        d.node_to_status.insert(
            "n1".into(),
            Status::unresolvable("node(s) didn't match Pod's node affinity/selector"),
        );
        let mut rng = rand::rngs::StdRng::seed_from_u64(3);
        let err = preempt(
            &fw,
            &CycleState::default(),
            &p,
            &snap,
            &d,
            &NoNominations,
            &mut rng,
        )
        .unwrap_err();
        assert_eq!(
            err,
            "0/1 nodes are available: 1 Preemption is not helpful for scheduling."
        );
    }

    #[test]
    fn budget_split_counts_disruptions() {
        let victims = vec![pod("a", 1, "x"), pod("b", 1, "x"), pod("c", 1, "z")];
        let (bad, ok) = split_by_budget(&victims, &[budget("x", 1)]);
        assert_eq!((bad.len(), ok.len(), bad[0].name.as_str()), (1, 2, "b"));
    }
}
