//! The scheduling queue (upstream's `PriorityQueue`): an active queue ordered by priority
//! then arrival (the PrioritySort plugin), a backoff queue where failed pods wait 1 s doubling
//! up to 10 s, and unschedulable pods parked until a cluster event that one of the plugins
//! that rejected them registered for (or five minutes) moves them back.
//!
//! The queue is a plain data structure: the driver wraps it in a lock, feeds it informer
//! events and wakes the scheduling loop. Time comes from `tokio::time::Instant`, so tests can
//! pause it.

use crate::framework::{ClusterEvent, PodInfo};
use std::cmp::{Ordering, Reverse};
use std::collections::{BinaryHeap, HashMap, HashSet};
use std::sync::Arc;
use tokio::time::{Duration, Instant};

/// How long a pod may stay unschedulable before it is retried anyway (upstream's
/// `podMaxInUnschedulablePodsDuration`).
pub const MAX_IN_UNSCHEDULABLE: Duration = Duration::from_secs(5 * 60);

/// A pod in the queue, with its scheduling history.
#[derive(Clone, Debug)]
pub struct QueuedPod {
    /// The pod.
    pub info: Arc<PodInfo>,
    /// When it (re)entered the queue; orders pods of equal priority.
    pub timestamp: Instant,
    /// Failed scheduling attempts.
    pub attempts: u32,
    /// When it was first tried (for latency figures).
    pub initial_attempt: Option<Instant>,
    /// Plugins that rejected it last time.
    pub unschedulable_plugins: HashSet<&'static str>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Where {
    Active,
    Backoff,
    Unschedulable,
    InFlight,
}

struct Entry {
    pod: QueuedPod,
    at: Where,
    seq: u64,
}

#[derive(PartialEq, Eq)]
struct ActiveKey {
    priority: i32,
    timestamp: Instant,
    seq: u64,
    uid: String,
}

impl Ord for ActiveKey {
    fn cmp(&self, other: &Self) -> Ordering {
        // Max-heap: higher priority first, then the earlier timestamp, then arrival.
        self.priority
            .cmp(&other.priority)
            .then_with(|| other.timestamp.cmp(&self.timestamp))
            .then_with(|| other.seq.cmp(&self.seq))
    }
}

impl PartialOrd for ActiveKey {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

/// The queue.
pub struct SchedulingQueue {
    entries: HashMap<String, Entry>,
    active: BinaryHeap<ActiveKey>,
    backoff: BinaryHeap<Reverse<(Instant, u64, String)>>,
    seq: u64,
    initial_backoff: Duration,
    max_backoff: Duration,
    /// Bumped every time a pod is popped.
    cycle: u64,
    /// The cycle in which an event last moved pods: pods that failed in an earlier-started
    /// cycle go to backoff rather than unschedulable, since the event may have helped them.
    move_request_cycle: u64,
    popped_cycle: HashMap<String, u64>,
}

impl SchedulingQueue {
    /// An empty queue with the given backoff bounds.
    pub fn new(initial_backoff: Duration, max_backoff: Duration) -> SchedulingQueue {
        SchedulingQueue {
            entries: HashMap::new(),
            active: BinaryHeap::new(),
            backoff: BinaryHeap::new(),
            seq: 0,
            initial_backoff,
            max_backoff,
            cycle: 0,
            move_request_cycle: 0,
            popped_cycle: HashMap::new(),
        }
    }

    fn next_seq(&mut self) -> u64 {
        self.seq += 1;
        self.seq
    }

    fn push_active(&mut self, uid: &str) {
        let seq = self.next_seq();
        if let Some(e) = self.entries.get_mut(uid) {
            e.at = Where::Active;
            e.seq = seq;
            self.active.push(ActiveKey {
                priority: e.pod.info.priority,
                timestamp: e.pod.timestamp,
                seq,
                uid: uid.to_owned(),
            });
        }
    }

    fn push_backoff(&mut self, uid: &str) {
        let seq = self.next_seq();
        let Some(e) = self.entries.get_mut(uid) else {
            return;
        };
        e.at = Where::Backoff;
        e.seq = seq;
        let expiry =
            e.pod.timestamp + backoff_of(e.pod.attempts, self.initial_backoff, self.max_backoff);
        self.backoff.push(Reverse((expiry, seq, uid.to_owned())));
    }

    /// Adds a new pod (or refreshes a queued one) to the active queue.
    pub fn add(&mut self, info: Arc<PodInfo>, now: Instant) {
        let uid = info.uid.clone();
        match self.entries.get_mut(&uid) {
            Some(e) => {
                // Only a change of what scheduling reads (spec, labels, annotations) may make
                // the pod schedulable; status writes (the scheduler's own conditions) do not.
                let relevant = e.pod.info.pod.spec != info.pod.spec
                    || e.pod.info.pod.metadata.labels != info.pod.metadata.labels
                    || e.pod.info.pod.metadata.annotations != info.pod.metadata.annotations;
                e.pod.info = info;
                if relevant && e.at == Where::Unschedulable {
                    self.move_one(&uid, now);
                }
            }
            None => {
                self.entries.insert(
                    uid.clone(),
                    Entry {
                        pod: QueuedPod {
                            info,
                            timestamp: now,
                            attempts: 0,
                            initial_attempt: None,
                            unschedulable_plugins: HashSet::new(),
                        },
                        at: Where::Active,
                        seq: 0,
                    },
                );
                self.push_active(&uid);
            }
        }
    }

    /// Removes a pod (deleted, or bound by someone else).
    pub fn delete(&mut self, uid: &str) {
        self.entries.remove(uid);
        self.popped_cycle.remove(uid);
    }

    /// Whether the queue holds the pod (in any sub-queue or in flight).
    pub fn contains(&self, uid: &str) -> bool {
        self.entries.contains_key(uid)
    }

    /// Takes the next pod to schedule, if one is ready.
    pub fn pop(&mut self, now: Instant) -> Option<QueuedPod> {
        self.flush_backoff(now);
        while let Some(key) = self.active.pop() {
            let Some(e) = self.entries.get_mut(&key.uid) else {
                continue;
            };
            if e.at != Where::Active || e.seq != key.seq {
                continue;
            }
            e.at = Where::InFlight;
            e.pod.attempts += 1;
            e.pod.initial_attempt.get_or_insert(now);
            self.cycle += 1;
            self.popped_cycle.insert(key.uid.clone(), self.cycle);
            return Some(e.pod.clone());
        }
        None
    }

    /// Forgets an in-flight pod that was scheduled.
    pub fn done(&mut self, uid: &str) {
        self.delete(uid);
    }

    /// Puts back an in-flight pod that could not be scheduled, rejected by `plugins` (empty:
    /// an error, retried with backoff).
    pub fn requeue_unschedulable(
        &mut self,
        uid: &str,
        plugins: HashSet<&'static str>,
        now: Instant,
    ) {
        let popped = self.popped_cycle.remove(uid).unwrap_or(0);
        let Some(e) = self.entries.get_mut(uid) else {
            return;
        };
        if e.at != Where::InFlight {
            return;
        }
        e.pod.timestamp = now;
        let error = plugins.is_empty();
        e.pod.unschedulable_plugins = plugins;
        if error || self.move_request_cycle >= popped {
            self.push_backoff(uid);
        } else {
            e.at = Where::Unschedulable;
        }
    }

    /// When the backoff of a pod that failed `attempts` times ends.
    pub fn backoff_until(&self, uid: &str) -> Option<Instant> {
        let e = self.entries.get(uid)?;
        Some(e.pod.timestamp + backoff_of(e.pod.attempts, self.initial_backoff, self.max_backoff))
    }

    fn move_one(&mut self, uid: &str, now: Instant) {
        let Some(e) = self.entries.get(uid) else {
            return;
        };
        let expiry =
            e.pod.timestamp + backoff_of(e.pod.attempts, self.initial_backoff, self.max_backoff);
        if expiry > now {
            self.push_backoff(uid);
        } else {
            self.push_active(uid);
        }
    }

    /// A cluster event happened: unschedulable pods that a plugin registered for it rejected
    /// (or that have no recorded rejector) move to backoff or active. `events` maps plugin
    /// names to the events they registered. Returns how many moved.
    pub fn on_event(
        &mut self,
        event: ClusterEvent,
        events: &HashMap<&'static str, Vec<ClusterEvent>>,
        now: Instant,
    ) -> usize {
        self.move_request_cycle = self.cycle;
        let movers: Vec<String> = self
            .entries
            .iter()
            .filter(|(_, e)| e.at == Where::Unschedulable)
            .filter(|(_, e)| {
                e.pod.unschedulable_plugins.is_empty()
                    || e.pod.unschedulable_plugins.iter().any(|p| {
                        events
                            .get(p)
                            .is_none_or(|evs| evs.iter().any(|w| event.matches(w)))
                    })
            })
            .map(|(k, _)| k.clone())
            .collect();
        for uid in &movers {
            self.move_one(uid, now);
        }
        movers.len()
    }

    /// Moves every unschedulable pod back (a forced flush).
    pub fn move_all(&mut self, now: Instant) -> usize {
        self.move_request_cycle = self.cycle;
        let movers: Vec<String> = self
            .entries
            .iter()
            .filter(|(_, e)| e.at == Where::Unschedulable)
            .map(|(k, _)| k.clone())
            .collect();
        for uid in &movers {
            self.move_one(uid, now);
        }
        movers.len()
    }

    /// Moves pods whose backoff ended to the active queue.
    pub fn flush_backoff(&mut self, now: Instant) {
        while let Some(Reverse((expiry, seq, uid))) = self.backoff.peek().cloned() {
            if expiry > now {
                break;
            }
            self.backoff.pop();
            if self
                .entries
                .get(&uid)
                .is_some_and(|e| e.at == Where::Backoff && e.seq == seq)
            {
                self.push_active(&uid);
            }
        }
    }

    /// Moves pods unschedulable for longer than [`MAX_IN_UNSCHEDULABLE`] back.
    pub fn flush_unschedulable(&mut self, now: Instant) {
        let old: Vec<String> = self
            .entries
            .iter()
            .filter(|(_, e)| {
                e.at == Where::Unschedulable
                    && now.duration_since(e.pod.timestamp) >= MAX_IN_UNSCHEDULABLE
            })
            .map(|(k, _)| k.clone())
            .collect();
        for uid in &old {
            self.move_one(uid, now);
        }
    }

    /// When the earliest backoff ends.
    pub fn next_backoff_expiry(&self) -> Option<Instant> {
        self.backoff.peek().map(|Reverse((t, _, _))| *t)
    }

    /// Counts of pods (active, backoff, unschedulable), for metrics.
    pub fn lengths(&self) -> (usize, usize, usize) {
        let mut c = (0, 0, 0);
        for e in self.entries.values() {
            match e.at {
                Where::Active => c.0 += 1,
                Where::Backoff => c.1 += 1,
                Where::Unschedulable => c.2 += 1,
                Where::InFlight => {}
            }
        }
        c
    }

    /// Pods waiting as unschedulable (for tests and status).
    pub fn unschedulable(&self) -> Vec<Arc<PodInfo>> {
        self.entries
            .values()
            .filter(|e| e.at == Where::Unschedulable)
            .map(|e| e.pod.info.clone())
            .collect()
    }
}

/// Upstream's backoff: `initial * 2^(attempts-1)`, at most `max`.
pub fn backoff_of(attempts: u32, initial: Duration, max: Duration) -> Duration {
    if attempts == 0 {
        return Duration::ZERO;
    }
    let mut d = initial;
    for _ in 1..attempts {
        d = d.saturating_mul(2);
        if d >= max {
            return max;
        }
    }
    d.min(max)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::framework::{EventResource, action};
    use k8s_openapi::api::core::v1::{Pod, PodSpec};

    fn pod(uid: &str, priority: i32) -> Arc<PodInfo> {
        let mut p = Pod::default();
        p.metadata.name = Some(uid.into());
        p.metadata.uid = Some(uid.into());
        p.spec = Some(PodSpec {
            priority: Some(priority),
            ..Default::default()
        });
        Arc::new(PodInfo::new(Arc::new(p)))
    }

    fn queue() -> SchedulingQueue {
        SchedulingQueue::new(Duration::from_secs(1), Duration::from_secs(10))
    }

    #[test]
    fn backoff_doubles_to_the_cap() {
        let (i, m) = (Duration::from_secs(1), Duration::from_secs(10));
        let secs: Vec<u64> = (1..=6).map(|a| backoff_of(a, i, m).as_secs()).collect();
        assert_eq!(secs, vec![1, 2, 4, 8, 10, 10]);
    }

    #[tokio::test(start_paused = true)]
    async fn priority_then_arrival() {
        let mut q = queue();
        let t = Instant::now();
        q.add(pod("low", 0), t);
        q.add(pod("high", 100), t + Duration::from_millis(1));
        q.add(pod("low2", 0), t + Duration::from_millis(2));
        let order: Vec<String> = std::iter::from_fn(|| q.pop(t + Duration::from_secs(1)))
            .map(|p| p.info.uid.clone())
            .collect();
        assert_eq!(order, vec!["high", "low", "low2"]);
    }

    #[tokio::test(start_paused = true)]
    async fn unschedulable_pods_wait_for_a_relevant_event() {
        let mut q = queue();
        let t = Instant::now();
        q.add(pod("p", 0), t);
        let popped = q.pop(t).unwrap();
        assert_eq!(popped.attempts, 1);
        q.requeue_unschedulable("p", ["NodeResourcesFit"].into(), t);
        assert!(q.pop(t + Duration::from_secs(30)).is_none(), "parked");
        let mut events = HashMap::new();
        events.insert(
            "NodeResourcesFit",
            vec![ClusterEvent::new(EventResource::Node, action::ADD)],
        );
        // An unrelated event leaves it parked.
        let label = ClusterEvent::new(EventResource::Node, action::UPDATE_NODE_LABEL);
        assert_eq!(q.on_event(label, &events, t + Duration::from_secs(30)), 0);
        // A node added moves it; its backoff (1 s) has passed, so it is active at once.
        let add = ClusterEvent::new(EventResource::Node, action::ADD);
        assert_eq!(q.on_event(add, &events, t + Duration::from_secs(30)), 1);
        assert_eq!(q.pop(t + Duration::from_secs(30)).unwrap().attempts, 2);
    }

    #[tokio::test(start_paused = true)]
    async fn errors_back_off_and_events_during_a_cycle_are_not_lost() {
        let mut q = queue();
        let t = Instant::now();
        q.add(pod("p", 0), t);
        q.pop(t).unwrap();
        // No rejecting plugin: an error, retried after the backoff.
        q.requeue_unschedulable("p", HashSet::new(), t);
        assert!(q.pop(t + Duration::from_millis(500)).is_none());
        assert!(q.pop(t + Duration::from_millis(1000)).is_some());
        // An event while the pod was in flight sends it to backoff, not to the parking lot.
        let events = HashMap::new();
        q.on_event(
            ClusterEvent::new(EventResource::Node, action::ADD),
            &events,
            t + Duration::from_secs(1),
        );
        q.requeue_unschedulable("p", ["NodeAffinity"].into(), t + Duration::from_secs(1));
        // Second failure: 2 s backoff.
        assert!(q.pop(t + Duration::from_secs(2)).is_none());
        assert!(q.pop(t + Duration::from_secs(3)).is_some());
    }

    #[tokio::test(start_paused = true)]
    async fn only_spec_or_label_changes_move_a_parked_pod() {
        let mut q = queue();
        let t = Instant::now();
        q.add(pod("p", 0), t);
        q.pop(t).unwrap();
        q.requeue_unschedulable("p", ["X"].into(), t);
        // A status write (same spec and labels) leaves it parked.
        let mut status_only = (*pod("p", 0).pod).clone();
        status_only.status = Some(Default::default());
        q.add(
            Arc::new(PodInfo::new(Arc::new(status_only))),
            t + Duration::from_secs(5),
        );
        assert!(q.pop(t + Duration::from_secs(5)).is_none());
        // A label change moves it.
        let mut relabelled = (*pod("p", 0).pod).clone();
        relabelled.metadata.labels = Some([("a".to_owned(), "b".to_owned())].into());
        q.add(
            Arc::new(PodInfo::new(Arc::new(relabelled))),
            t + Duration::from_secs(5),
        );
        assert!(q.pop(t + Duration::from_secs(5)).is_some());
    }

    #[tokio::test(start_paused = true)]
    async fn long_parked_pods_are_retried() {
        let mut q = queue();
        let t = Instant::now();
        q.add(pod("p", 0), t);
        q.pop(t).unwrap();
        q.requeue_unschedulable("p", ["X"].into(), t);
        q.flush_unschedulable(t + Duration::from_secs(299));
        assert!(q.pop(t + Duration::from_secs(299)).is_none());
        q.flush_unschedulable(t + MAX_IN_UNSCHEDULABLE);
        assert!(q.pop(t + MAX_IN_UNSCHEDULABLE).is_some());
        q.delete("p");
        assert!(!q.contains("p"));
    }
}
