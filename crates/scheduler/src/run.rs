//! The scheduler as a client of the API server (upstream's `scheduler.go`, `schedule_one.go`
//! and `eventhandlers.go`): kube-rs watchers feed the cache and the queue; one loop pops a
//! pod, runs its profile's framework over a snapshot, assumes the pod on the chosen node and
//! binds it through `pods/binding` in the background; failures become `FailedScheduling`
//! events and a `PodScheduled=False` condition, and the pod waits in the queue.

use crate::cache::Cache;
use crate::config::Config;
use crate::framework::runtime::{Algorithm, Framework, Nominator, ScheduleError};
use crate::framework::{ClusterEvent, CycleState, EventResource, Objects, PodInfo, action};
use crate::queue::SchedulingQueue;
use futures::TryStreamExt;
use k8s_openapi::api::core::v1::{
    Binding, Namespace, Node, ObjectReference, PersistentVolume, PersistentVolumeClaim, Pod,
};
use k8s_openapi::api::policy::v1::PodDisruptionBudget;
use k8s_openapi::api::storage::v1::StorageClass;
use kube::api::{Api, Patch, PatchParams, PostParams};
use kube::runtime::events::{Event, EventType, Recorder, Reporter};
use kube::runtime::{WatchStreamExt, watcher};
use kube::{Client, Resource, ResourceExt};
use rand::SeedableRng;
use serde_json::json;
use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use tokio::sync::{Notify, Semaphore};
use tokio::time::{Duration, Instant};

/// How many binds may be in flight at once.
const MAX_BINDS_IN_FLIGHT: usize = 128;

/// Counters for benchmarks and metrics.
#[derive(Debug, Default)]
pub struct Stats {
    /// Pods bound.
    pub scheduled: AtomicU64,
    /// Failed scheduling attempts.
    pub failed: AtomicU64,
    /// Binds that failed.
    pub bind_errors: AtomicU64,
    /// Scheduling attempts.
    pub attempts: AtomicU64,
}

struct State {
    cache: Cache,
    queue: SchedulingQueue,
    objects: Objects,
    nominated: HashMap<String, Vec<Arc<PodInfo>>>,
    synced: u32,
}

/// A running scheduler's shared parts.
pub struct Scheduler {
    client: Client,
    frameworks: HashMap<String, Framework>,
    events: HashMap<&'static str, Vec<ClusterEvent>>,
    state: Mutex<State>,
    wake: Notify,
    recorder: Recorder,
    binds: Arc<Semaphore>,
    /// Counters.
    pub stats: Arc<Stats>,
}

struct Nominations(HashMap<String, Vec<Arc<PodInfo>>>);

impl Nominator for Nominations {
    fn nominated(&self, node: &str) -> Vec<Arc<PodInfo>> {
        self.0.get(node).cloned().unwrap_or_default()
    }
}

/// The informers the scheduler waits for before its first cycle.
const INFORMERS: u32 = 7;

fn terminal(pod: &Pod) -> bool {
    matches!(
        pod.status.as_ref().and_then(|s| s.phase.as_deref()),
        Some("Succeeded" | "Failed")
    )
}

fn now_micro() -> k8s_openapi::apimachinery::pkg::apis::meta::v1::Time {
    k8s_openapi::apimachinery::pkg::apis::meta::v1::Time(k8s_openapi::jiff::Timestamp::now())
}

/// The node-update actions between two versions of a node (upstream's `nodeSchedulingPropertiesChange`).
fn node_change(old: &Node, new: &Node) -> u32 {
    let mut a = 0;
    let status = |n: &Node| n.status.clone().unwrap_or_default();
    if status(old).allocatable != status(new).allocatable {
        a |= action::UPDATE_NODE_ALLOCATABLE;
    }
    if old.metadata.labels != new.metadata.labels {
        a |= action::UPDATE_NODE_LABEL;
    }
    let spec = |n: &Node| n.spec.clone().unwrap_or_default();
    if spec(old).taints != spec(new).taints || spec(old).unschedulable != spec(new).unschedulable {
        a |= action::UPDATE_NODE_TAINT;
    }
    let conds = |n: &Node| {
        status(n)
            .conditions
            .unwrap_or_default()
            .into_iter()
            .map(|c| (c.type_, c.status))
            .collect::<Vec<_>>()
    };
    if conds(old) != conds(new) {
        a |= action::UPDATE_NODE_CONDITION;
    }
    if old.metadata.annotations != new.metadata.annotations {
        a |= action::UPDATE_NODE_ANNOTATION;
    }
    a
}

impl Scheduler {
    /// A scheduler with `config`'s profiles, talking to the API server through `client`.
    pub fn new(client: Client, config: &Config) -> anyhow::Result<Arc<Scheduler>> {
        let frameworks = config.frameworks().map_err(anyhow::Error::msg)?;
        let mut events = HashMap::new();
        for fw in frameworks.values() {
            for (k, v) in &fw.events {
                events.insert(*k, v.clone());
            }
        }
        let recorder = Recorder::new(
            client.clone(),
            Reporter {
                controller: "default-scheduler".into(),
                instance: None,
            },
        );
        Ok(Arc::new(Scheduler {
            client,
            frameworks,
            events,
            state: Mutex::new(State {
                cache: Cache::new(),
                queue: SchedulingQueue::new(
                    Duration::from_secs(config.pod_initial_backoff_seconds.max(1)),
                    Duration::from_secs(config.pod_max_backoff_seconds.max(1)),
                ),
                objects: Objects::default(),
                nominated: HashMap::new(),
                synced: 0,
            }),
            wake: Notify::new(),
            recorder,
            binds: Arc::new(Semaphore::new(MAX_BINDS_IN_FLIGHT)),
            stats: Arc::new(Stats::default()),
        }))
    }

    fn responsible(&self, pod: &Pod) -> bool {
        let name = pod
            .spec
            .as_ref()
            .and_then(|s| s.scheduler_name.as_deref())
            .unwrap_or(crate::config::DEFAULT_SCHEDULER_NAME);
        self.frameworks.contains_key(name)
    }

    fn event(&self, st: &mut State, resource: EventResource, actions: u32) {
        if actions == 0 {
            return;
        }
        let moved = st.queue.on_event(
            ClusterEvent::new(resource, actions),
            &self.events,
            Instant::now(),
        );
        if moved > 0 {
            self.wake.notify_one();
        }
    }

    fn on_pod(self: &Arc<Self>, ev: watcher::Event<Pod>) {
        let mut st = self.state.lock().expect("scheduler state");
        match ev {
            watcher::Event::Init => {}
            watcher::Event::InitDone => {
                st.synced |= 1;
                self.wake.notify_one();
            }
            watcher::Event::Apply(pod) | watcher::Event::InitApply(pod) => {
                let uid = pod.uid().unwrap_or_default();
                let assigned = pod
                    .spec
                    .as_ref()
                    .and_then(|s| s.node_name.as_deref())
                    .is_some_and(|n| !n.is_empty());
                if terminal(&pod) {
                    let counted = st.cache.pod(&uid).is_some();
                    st.cache.remove_pod(&uid);
                    st.queue.delete(&uid);
                    if counted {
                        self.event(&mut st, EventResource::Pod, action::DELETE);
                    }
                } else if assigned {
                    st.queue.delete(&uid);
                    let old_labels = st.cache.pod(&uid).map(|p| p.labels.clone());
                    let info = Arc::new(PodInfo::new(Arc::new(pod)));
                    let labels = info.labels.clone();
                    st.cache.set_pod(info);
                    match old_labels {
                        None => self.event(&mut st, EventResource::Pod, action::ADD),
                        Some(l) if l != labels => {
                            self.event(&mut st, EventResource::Pod, action::UPDATE_POD_LABEL)
                        }
                        Some(_) => {}
                    }
                } else if self.responsible(&pod) && pod.metadata.deletion_timestamp.is_none() {
                    let gated = pod
                        .spec
                        .as_ref()
                        .and_then(|s| s.scheduling_gates.as_ref())
                        .is_some_and(|g| !g.is_empty());
                    if gated {
                        st.queue.delete(&uid);
                        drop(st);
                        self.report_gated(pod);
                        return;
                    }
                    st.queue
                        .add(Arc::new(PodInfo::new(Arc::new(pod))), Instant::now());
                    self.wake.notify_one();
                } else {
                    st.queue.delete(&uid);
                }
            }
            watcher::Event::Delete(pod) => {
                let uid = pod.uid().unwrap_or_default();
                st.queue.delete(&uid);
                for list in st.nominated.values_mut() {
                    list.retain(|p| p.uid != uid);
                }
                if st.cache.pod(&uid).is_some() {
                    st.cache.remove_pod(&uid);
                    self.event(&mut st, EventResource::Pod, action::DELETE);
                }
            }
        }
    }

    fn on_node(&self, ev: watcher::Event<Node>) {
        let mut st = self.state.lock().expect("scheduler state");
        match ev {
            watcher::Event::Init => {}
            watcher::Event::InitDone => {
                st.synced |= 2;
                self.wake.notify_one();
            }
            watcher::Event::Apply(node) | watcher::Event::InitApply(node) => {
                let name = node.name_any();
                let snapshot_node = st.cache.node(&name);
                let node = Arc::new(node);
                st.cache.set_node(node.clone());
                match snapshot_node {
                    None => self.event(&mut st, EventResource::Node, action::ADD),
                    Some(old) => {
                        let a = node_change(&old, &node);
                        self.event(&mut st, EventResource::Node, a);
                    }
                }
            }
            watcher::Event::Delete(node) => {
                st.cache.remove_node(&node.name_any());
            }
        }
    }

    fn on_objects(&self, bit: u32, resource: EventResource, f: impl FnOnce(&mut Objects) -> u32) {
        let mut st = self.state.lock().expect("scheduler state");
        let actions = f(&mut st.objects);
        if bit != 0 {
            st.synced |= bit;
        }
        let objects = Arc::new(st.objects.clone());
        st.cache.set_objects(objects);
        self.event(&mut st, resource, actions);
        self.wake.notify_one();
    }

    /// Keeps the scheduler's view of the cluster current; returns when a watch ends for good.
    pub async fn run_informers(self: Arc<Self>) -> anyhow::Result<()> {
        let c = self.client.clone();
        let pods = {
            let s = self.clone();
            watcher(Api::<Pod>::all(c.clone()), watcher::Config::default())
                .default_backoff()
                .try_for_each(move |ev| {
                    s.on_pod(ev);
                    async { Ok(()) }
                })
        };
        let nodes = {
            let s = self.clone();
            watcher(Api::<Node>::all(c.clone()), watcher::Config::default())
                .default_backoff()
                .try_for_each(move |ev| {
                    s.on_node(ev);
                    async { Ok(()) }
                })
        };
        let namespaces = {
            let s = self.clone();
            watcher(Api::<Namespace>::all(c.clone()), watcher::Config::default())
                .default_backoff()
                .try_for_each(move |ev| {
                    let bit = matches!(ev, watcher::Event::InitDone)
                        .then_some(4)
                        .unwrap_or(0);
                    s.on_objects(bit, EventResource::Namespace, |o| match ev {
                        watcher::Event::Apply(n) | watcher::Event::InitApply(n) => {
                            o.namespace_labels.insert(n.name_any(), n.labels().clone());
                            action::ADD
                        }
                        watcher::Event::Delete(n) => {
                            o.namespace_labels.remove(&n.name_any());
                            0
                        }
                        watcher::Event::InitDone | watcher::Event::Init => 0,
                    });
                    async { Ok(()) }
                })
        };
        let pvcs = {
            let s = self.clone();
            watcher(
                Api::<PersistentVolumeClaim>::all(c.clone()),
                watcher::Config::default(),
            )
            .default_backoff()
            .try_for_each(move |ev| {
                let bit = matches!(ev, watcher::Event::InitDone)
                    .then_some(8)
                    .unwrap_or(0);
                s.on_objects(bit, EventResource::PersistentVolumeClaim, |o| match ev {
                    watcher::Event::Apply(p) | watcher::Event::InitApply(p) => {
                        let key = format!("{}/{}", p.namespace().unwrap_or_default(), p.name_any());
                        o.pvcs.insert(key, Arc::new(p));
                        action::ADD | action::UPDATE_OTHER
                    }
                    watcher::Event::Delete(p) => {
                        let key = format!("{}/{}", p.namespace().unwrap_or_default(), p.name_any());
                        o.pvcs.remove(&key);
                        action::DELETE
                    }
                    _ => 0,
                });
                async { Ok(()) }
            })
        };
        let pvs = {
            let s = self.clone();
            watcher(
                Api::<PersistentVolume>::all(c.clone()),
                watcher::Config::default(),
            )
            .default_backoff()
            .try_for_each(move |ev| {
                let bit = matches!(ev, watcher::Event::InitDone)
                    .then_some(16)
                    .unwrap_or(0);
                s.on_objects(bit, EventResource::PersistentVolume, |o| match ev {
                    watcher::Event::Apply(p) | watcher::Event::InitApply(p) => {
                        o.pvs.insert(p.name_any(), Arc::new(p));
                        action::ADD | action::UPDATE_OTHER
                    }
                    watcher::Event::Delete(p) => {
                        o.pvs.remove(&p.name_any());
                        action::DELETE
                    }
                    _ => 0,
                });
                async { Ok(()) }
            })
        };
        let classes = {
            let s = self.clone();
            watcher(
                Api::<StorageClass>::all(c.clone()),
                watcher::Config::default(),
            )
            .default_backoff()
            .try_for_each(move |ev| {
                let bit = matches!(ev, watcher::Event::InitDone)
                    .then_some(32)
                    .unwrap_or(0);
                s.on_objects(bit, EventResource::StorageClass, |o| match ev {
                    watcher::Event::Apply(p) | watcher::Event::InitApply(p) => {
                        o.storage_classes.insert(p.name_any(), Arc::new(p));
                        action::ADD
                    }
                    watcher::Event::Delete(p) => {
                        o.storage_classes.remove(&p.name_any());
                        action::DELETE
                    }
                    _ => 0,
                });
                async { Ok(()) }
            })
        };
        let pdbs = {
            let s = self.clone();
            watcher(
                Api::<PodDisruptionBudget>::all(c.clone()),
                watcher::Config::default(),
            )
            .default_backoff()
            .try_for_each(move |ev| {
                let bit = matches!(ev, watcher::Event::InitDone)
                    .then_some(64)
                    .unwrap_or(0);
                s.on_objects(bit, EventResource::Namespace, |o| {
                    let key = |p: &PodDisruptionBudget| {
                        format!("{}/{}", p.namespace().unwrap_or_default(), p.name_any())
                    };
                    match ev {
                        watcher::Event::Apply(p) | watcher::Event::InitApply(p) => {
                            o.pdbs.insert(key(&p), Arc::new(p));
                        }
                        watcher::Event::Delete(p) => {
                            o.pdbs.remove(&key(&p));
                        }
                        _ => {}
                    }
                    0
                });
                async { Ok(()) }
            })
        };
        tokio::try_join!(pods, nodes, namespaces, pvcs, pvs, classes, pdbs)?;
        Ok(())
    }

    fn synced(&self) -> bool {
        let st = self.state.lock().expect("scheduler state");
        st.synced.count_ones() >= INFORMERS
    }

    /// The scheduling loop: runs until the task is dropped.
    pub async fn run_loop(self: Arc<Self>) -> anyhow::Result<()> {
        while !self.synced() {
            tokio::select! {
                _ = self.wake.notified() => {}
                _ = tokio::time::sleep(Duration::from_millis(100)) => {}
            }
        }
        tracing::info!("scheduler caches synced");
        let mut algo = Algorithm::default();
        let mut rng = rand::rngs::StdRng::from_os_rng();
        let mut last_flush = Instant::now();
        loop {
            let now = Instant::now();
            let (next, wait) = {
                let mut st = self.state.lock().expect("scheduler state");
                if now.duration_since(last_flush) >= Duration::from_secs(30) {
                    st.queue.flush_unschedulable(now);
                    last_flush = now;
                }
                let next = st.queue.pop(now);
                let wait = st
                    .queue
                    .next_backoff_expiry()
                    .map(|t| t.saturating_duration_since(now))
                    .unwrap_or(Duration::from_secs(1))
                    .min(Duration::from_secs(1));
                (next, wait)
            };
            let Some(queued) = next else {
                tokio::select! {
                    _ = self.wake.notified() => {}
                    _ = tokio::time::sleep(wait.max(Duration::from_millis(10))) => {}
                }
                continue;
            };
            self.schedule_one(&mut algo, &mut rng, queued.info).await;
        }
    }

    async fn schedule_one(
        self: &Arc<Self>,
        algo: &mut Algorithm,
        rng: &mut rand::rngs::StdRng,
        info: Arc<PodInfo>,
    ) {
        self.stats.attempts.fetch_add(1, Ordering::Relaxed);
        let name = info
            .pod
            .spec
            .as_ref()
            .and_then(|s| s.scheduler_name.clone())
            .unwrap_or_else(|| crate::config::DEFAULT_SCHEDULER_NAME.into());
        let Some(fw) = self.frameworks.get(&name) else {
            return;
        };
        let (snapshot, nominations) = {
            let mut st = self.state.lock().expect("scheduler state");
            (st.cache.snapshot(), Nominations(st.nominated.clone()))
        };
        let mut state = CycleState::default();
        let result = algo.schedule(fw, &mut state, &info, &snapshot, &nominations, rng);
        match result {
            Ok(r) => {
                let mut assumed = (*info.pod).clone();
                if let Some(spec) = assumed.spec.as_mut() {
                    spec.node_name = Some(r.node.clone());
                }
                let assumed = Arc::new(PodInfo::new(Arc::new(assumed)));
                {
                    let mut st = self.state.lock().expect("scheduler state");
                    st.cache.assume(assumed, &r.node);
                    st.queue.done(&info.uid);
                    for list in st.nominated.values_mut() {
                        list.retain(|p| p.uid != info.uid);
                    }
                }
                let permit = self
                    .binds
                    .clone()
                    .acquire_owned()
                    .await
                    .expect("semaphore open");
                let me = self.clone();
                tokio::spawn(async move {
                    me.bind(info, r.node).await;
                    drop(permit);
                });
            }
            Err(mut err) => {
                self.stats.failed.fetch_add(1, Ordering::Relaxed);
                // PostFilter: preemption may make room on some node.
                let mut nominated = None;
                if let ScheduleError::Fit(fit) = &mut err
                    && fw.preemption
                {
                    match crate::preemption::preempt(
                        fw,
                        &state,
                        &info,
                        &snapshot,
                        &fit.diagnosis,
                        &nominations,
                        rng,
                    ) {
                        Ok(candidate) => nominated = Some(candidate),
                        Err(msg) => {
                            fit.diagnosis.post_filter_msg = Some(format!("preemption: {msg}"))
                        }
                    }
                }
                if let Some(candidate) = nominated {
                    self.nominate(&info, candidate);
                }
                let (plugins, reason) = match &err {
                    ScheduleError::Fit(f) => {
                        (f.diagnosis.unschedulable_plugins.clone(), "Unschedulable")
                    }
                    ScheduleError::NoNodes => {
                        (["NodeResourcesFit"].into_iter().collect(), "Unschedulable")
                    }
                    ScheduleError::Internal(_) => (Default::default(), "SchedulerError"),
                };
                let message = err.message();
                {
                    let mut st = self.state.lock().expect("scheduler state");
                    st.queue
                        .requeue_unschedulable(&info.uid, plugins, Instant::now());
                }
                let me = self.clone();
                tokio::spawn(async move {
                    me.report_failure(&info, reason, &message).await;
                });
            }
        }
    }

    /// Nominates the preemptor to the candidate node and evicts the victims there.
    fn nominate(self: &Arc<Self>, info: &Arc<PodInfo>, candidate: crate::preemption::Candidate) {
        let node = candidate.node.clone();
        let lower_nominated: Vec<Arc<PodInfo>> = {
            let mut st = self.state.lock().expect("scheduler state");
            for list in st.nominated.values_mut() {
                list.retain(|p| p.uid != info.uid);
            }
            let list = st.nominated.entry(node.clone()).or_default();
            let (lower, keep): (Vec<_>, Vec<_>) =
                list.drain(..).partition(|p| p.priority < info.priority);
            *list = keep;
            list.push(info.clone());
            lower
        };
        let me = self.clone();
        let info = info.clone();
        tokio::spawn(async move {
            let pods = |ns: &str| Api::<Pod>::namespaced(me.client.clone(), ns);
            for victim in &candidate.victims {
                let condition = json!({"status": {"conditions": [{
                    "type": "DisruptionTarget",
                    "status": "True",
                    "reason": "PreemptionByScheduler",
                    "message": "default-scheduler: preempting to accommodate a higher priority pod",
                    "lastTransitionTime": now_micro(),
                }]}});
                let api = pods(&victim.namespace);
                if let Err(e) = api
                    .patch_status(
                        &victim.name,
                        &PatchParams::default(),
                        &Patch::Strategic(condition),
                    )
                    .await
                {
                    tracing::debug!("marking {} as a preemption victim: {e}", victim.key());
                }
                match api.delete(&victim.name, &Default::default()).await {
                    Ok(_) => {
                        let ev = Event {
                            type_: EventType::Normal,
                            reason: "Preempted".into(),
                            note: Some(format!("Preempted by pod {} on node {node}", info.uid)),
                            action: "Preempting".into(),
                            secondary: None,
                        };
                        let _ = me.recorder.publish(&ev, &victim.pod.object_ref(&())).await;
                    }
                    Err(e) => tracing::warn!("preempting {}: {e}", victim.key()),
                }
            }
            // Lower-priority pods nominated to the node lose their nomination.
            for p in lower_nominated {
                let patch = json!({"status": {"nominatedNodeName": null}});
                let _ = pods(&p.namespace)
                    .patch_status(&p.name, &PatchParams::default(), &Patch::Merge(patch))
                    .await;
            }
            let patch = json!({"status": {"nominatedNodeName": node}});
            if let Err(e) = pods(&info.namespace)
                .patch_status(&info.name, &PatchParams::default(), &Patch::Merge(patch))
                .await
            {
                tracing::debug!("nominating {} to {node}: {e}", info.key());
            }
        });
    }

    async fn bind(self: &Arc<Self>, info: Arc<PodInfo>, node: String) {
        let api: Api<Pod> = Api::namespaced(self.client.clone(), &info.namespace);
        let binding = Binding {
            metadata: k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta {
                name: Some(info.name.clone()),
                namespace: Some(info.namespace.clone()),
                uid: Some(info.uid.clone()),
                ..Default::default()
            },
            target: ObjectReference {
                kind: Some("Node".into()),
                api_version: Some("v1".into()),
                name: Some(node.clone()),
                ..Default::default()
            },
        };
        let result: Result<serde_json::Value, _> = api
            .create_subresource("binding", &info.name, &PostParams::default(), &binding)
            .await;
        match result {
            Ok(_) => {
                self.stats.scheduled.fetch_add(1, Ordering::Relaxed);
                let ev = Event {
                    type_: EventType::Normal,
                    reason: "Scheduled".into(),
                    note: Some(format!(
                        "Successfully assigned {}/{} to {node}",
                        info.namespace, info.name
                    )),
                    action: "Binding".into(),
                    secondary: None,
                };
                if let Err(e) = self.recorder.publish(&ev, &info.pod.object_ref(&())).await {
                    tracing::debug!("recording Scheduled for {}: {e}", info.key());
                }
            }
            Err(e) => {
                self.stats.bind_errors.fetch_add(1, Ordering::Relaxed);
                tracing::warn!("binding {} to {node}: {e}", info.key());
                let gone = matches!(&e, kube::Error::Api(s) if s.code == 404);
                let mut st = self.state.lock().expect("scheduler state");
                st.cache.forget(&info.uid);
                if !gone {
                    // Tried again through the queue.
                    st.queue.add(info.clone(), Instant::now());
                    self.wake.notify_one();
                }
                // The forgotten pod's room is free again.
                self.event(&mut st, EventResource::Pod, action::DELETE);
            }
        }
    }

    /// `FailedScheduling` event and the `PodScheduled=False` condition (only written when it
    /// changes).
    async fn report_failure(&self, info: &PodInfo, reason: &str, message: &str) {
        let ev = Event {
            type_: EventType::Warning,
            reason: "FailedScheduling".into(),
            note: Some(message.to_owned()),
            action: "Scheduling".into(),
            secondary: None,
        };
        if let Err(e) = self.recorder.publish(&ev, &info.pod.object_ref(&())).await {
            tracing::debug!("recording FailedScheduling for {}: {e}", info.key());
        }
        self.set_condition(info, reason, message).await;
    }

    async fn set_condition(&self, info: &PodInfo, reason: &str, message: &str) {
        let current = info
            .pod
            .status
            .as_ref()
            .and_then(|s| s.conditions.as_ref())
            .and_then(|cs| cs.iter().find(|c| c.type_ == "PodScheduled"));
        if current.is_some_and(|c| {
            c.status == "False"
                && c.reason.as_deref() == Some(reason)
                && c.message.as_deref() == Some(message)
        }) {
            return;
        }
        let patch = json!({"status": {"conditions": [{
            "type": "PodScheduled",
            "status": "False",
            "reason": reason,
            "message": message,
            "lastProbeTime": null,
            "lastTransitionTime": now_micro(),
        }]}});
        let api: Api<Pod> = Api::namespaced(self.client.clone(), &info.namespace);
        if let Err(e) = api
            .patch_status(
                &info.name,
                &PatchParams::default(),
                &Patch::Strategic(patch),
            )
            .await
        {
            tracing::debug!("updating the PodScheduled condition of {}: {e}", info.key());
        }
    }

    fn report_gated(self: &Arc<Self>, pod: Pod) {
        let me = self.clone();
        tokio::spawn(async move {
            let info = PodInfo::new(Arc::new(pod));
            me.set_condition(
                &info,
                "SchedulingGated",
                "Scheduling is blocked due to non-empty scheduling gates",
            )
            .await;
        });
    }
}

/// Runs a scheduler with `config` until the process ends: informers, and the scheduling
/// loop while this instance leads (when leader election is on).
pub async fn run(client: Client, config: Config) -> anyhow::Result<()> {
    let sched = Scheduler::new(client.clone(), &config)?;
    let informers = tokio::spawn(sched.clone().run_informers());
    let le = &config.leader_election;
    let result = if le.leader_elect {
        let mut settings =
            skiff_client::leader::Settings::new(&le.resource_namespace, &le.resource_name);
        settings.lease_duration =
            crate::config::parse_duration(&le.lease_duration).map_err(anyhow::Error::msg)?;
        settings.renew_deadline =
            crate::config::parse_duration(&le.renew_deadline).map_err(anyhow::Error::msg)?;
        settings.retry_period =
            crate::config::parse_duration(&le.retry_period).map_err(anyhow::Error::msg)?;
        skiff_client::leader::run(client, settings, || sched.clone().run_loop()).await
    } else {
        sched.clone().run_loop().await
    };
    informers.abort();
    result
}
