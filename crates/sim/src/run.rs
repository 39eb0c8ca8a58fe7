//! The effects: registering nodes and leases, the one heartbeat ticker, and the one pod
//! watch that reports pods running and finishes their deletion. Every decision is made by
//! the pure functions of [`crate::node`] and [`crate::pod`].

use crate::node::{self, LEASE_NAMESPACE, Spread};
use crate::options::SimOptions;
use crate::pod::{self, IpPool, PodAction};
use anyhow::{Context, bail};
use futures::stream::{self, FuturesUnordered};
use futures::{StreamExt, TryStreamExt};
use k8s_openapi::api::coordination::v1::Lease;
use k8s_openapi::api::core::v1::{Namespace, Node, Pod};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use kube::api::{Api, DeleteParams, Patch, PatchParams, PostParams, Preconditions};
use kube::runtime::reflector::{self, ObjectRef, Store};
use kube::runtime::{WatchStreamExt, watcher};
use kube::{Client, ResourceExt};
use std::collections::hash_map::Entry;
use std::collections::{HashMap, HashSet, VecDeque};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};
use tokio::sync::watch;
use tokio::task::JoinHandle;

/// How long a failed pod update waits before it is tried again.
const RETRY_DELAY: Duration = Duration::from_secs(1);
/// How many times registering one node is tried.
const REGISTER_ATTEMPTS: u32 = 5;

/// Counters of what a simulation did, since it started.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct SimStats {
    /// Nodes registered (created or taken over).
    pub nodes: u64,
    /// Lease renewals that succeeded.
    pub lease_renewals: u64,
    /// Node status refreshes that succeeded.
    pub node_status_updates: u64,
    /// Pods reported running.
    pub pods_started: u64,
    /// Pods whose graceful deletion was finished.
    pub pods_deleted: u64,
    /// Requests that failed (they are retried on the next tick or after a delay).
    pub errors: u64,
}

#[derive(Default)]
struct Counters {
    nodes: AtomicU64,
    lease_renewals: AtomicU64,
    node_status_updates: AtomicU64,
    pods_started: AtomicU64,
    pods_deleted: AtomicU64,
    errors: AtomicU64,
}

impl Counters {
    fn add(c: &AtomicU64) {
        c.fetch_add(1, Ordering::Relaxed);
    }

    fn snapshot(&self) -> SimStats {
        let g = |c: &AtomicU64| c.load(Ordering::Relaxed);
        SimStats {
            nodes: g(&self.nodes),
            lease_renewals: g(&self.lease_renewals),
            node_status_updates: g(&self.node_status_updates),
            pods_started: g(&self.pods_started),
            pods_deleted: g(&self.pods_deleted),
            errors: g(&self.errors),
        }
    }
}

/// What the loops share: options, API handles, and per node its name, UID and the time it
/// became Ready.
struct Ctx {
    opts: SimOptions,
    client: Client,
    nodes: Api<Node>,
    leases: Api<Lease>,
    names: Vec<String>,
    uids: Vec<String>,
    since: Vec<jiff::Timestamp>,
    counters: Counters,
}

/// Simulated nodes: `Sim::start` registers them and keeps them alive until the returned
/// handle is stopped or dropped.
pub struct Sim;

/// A running simulation. Dropping it stops the loops (the nodes stay, and go NotReady once
/// their leases expire); [`SimHandle::stop`] also waits for them, and
/// [`SimHandle::stop_and_delete`] removes the nodes and their leases.
pub struct SimHandle {
    ctx: Arc<Ctx>,
    stop: watch::Sender<bool>,
    tasks: Vec<JoinHandle<()>>,
}

fn api_code(e: &kube::Error) -> Option<u16> {
    match e {
        kube::Error::Api(s) => Some(s.code),
        _ => None,
    }
}

impl Sim {
    /// Registers `opts.nodes` nodes (concurrently, `opts.create_concurrency` at a time) with
    /// their leases, then starts the heartbeat ticker and the pod watch. Nodes of the same
    /// names left by an earlier simulation are taken over; a node of the same name that is
    /// not simulated is an error.
    pub async fn start(client: Client, opts: SimOptions) -> anyhow::Result<SimHandle> {
        opts.validate()?;
        ensure_lease_namespace(&client).await?;
        let nodes: Api<Node> = Api::all(client.clone());
        let leases: Api<Lease> = Api::namespaced(client.clone(), LEASE_NAMESPACE);
        let registered: Vec<(usize, String, jiff::Timestamp)> = stream::iter(0..opts.nodes)
            .map(|i| {
                let (nodes, leases, opts) = (&nodes, &leases, &opts);
                async move {
                    let mut attempt = 0;
                    loop {
                        attempt += 1;
                        match register(nodes, leases, opts, i).await {
                            Ok((uid, since)) => return Ok((i, uid, since)),
                            Err(e) if attempt < REGISTER_ATTEMPTS && !is_conflict_of_kind(&e) => {
                                tracing::debug!("registering node {i}: {e:#}; retrying");
                                tokio::time::sleep(Duration::from_millis(200 << attempt)).await;
                            }
                            Err(e) => return Err(e),
                        }
                    }
                }
            })
            .buffer_unordered(opts.create_concurrency)
            .try_collect()
            .await?;
        let mut uids = vec![String::new(); opts.nodes];
        let mut since = vec![jiff::Timestamp::now(); opts.nodes];
        for (i, uid, t) in registered {
            uids[i] = uid;
            since[i] = t;
        }
        let ctx = Arc::new(Ctx {
            names: (0..opts.nodes).map(|i| node::node_name(&opts, i)).collect(),
            uids,
            since,
            opts,
            client,
            nodes,
            leases,
            counters: Counters::default(),
        });
        ctx.counters
            .nodes
            .store(ctx.opts.nodes as u64, Ordering::Relaxed);
        let (stop, rx) = watch::channel(false);
        let tasks = vec![
            tokio::spawn(heartbeat_loop(ctx.clone(), rx.clone())),
            tokio::spawn(pod_loop(ctx.clone(), rx)),
        ];
        Ok(SimHandle { ctx, stop, tasks })
    }
}

/// A node name taken by a node that is not simulated: retrying will not help.
#[derive(Debug, thiserror::Error)]
#[error("node {0} exists and is not a simulated node; choose another --name-prefix")]
struct NotSimulated(String);

fn is_conflict_of_kind(e: &anyhow::Error) -> bool {
    e.downcast_ref::<NotSimulated>().is_some()
}

async fn ensure_lease_namespace(client: &Client) -> anyhow::Result<()> {
    let namespaces: Api<Namespace> = Api::all(client.clone());
    let ns = Namespace {
        metadata: ObjectMeta {
            name: Some(LEASE_NAMESPACE.into()),
            ..ObjectMeta::default()
        },
        ..Namespace::default()
    };
    match namespaces.create(&PostParams::default(), &ns).await {
        Ok(_) => Ok(()),
        Err(e) if api_code(&e) == Some(409) => Ok(()),
        Err(e) => Err(e).context("creating namespace kube-node-lease"),
    }
}

/// Registers node `index` and its lease; returns the node's UID and Ready time.
async fn register(
    nodes: &Api<Node>,
    leases: &Api<Lease>,
    opts: &SimOptions,
    index: usize,
) -> anyhow::Result<(String, jiff::Timestamp)> {
    let now = jiff::Timestamp::now();
    let wanted = node::build_node(opts, index, now);
    let name = node::node_name(opts, index);
    let (node, existed) = match nodes.create(&PostParams::default(), &wanted).await {
        Ok(n) => (n, false),
        Err(e) if api_code(&e) == Some(409) => {
            let existing = nodes.get(&name).await?;
            if !node::is_simulated(&existing) {
                return Err(NotSimulated(name).into());
            }
            // Take it over with this simulation's labels, annotations and taints.
            let patch = serde_json::json!({
                "metadata": {
                    "labels": wanted.metadata.labels,
                    "annotations": wanted.metadata.annotations,
                },
                "spec": { "taints": wanted.spec.as_ref().and_then(|s| s.taints.clone()) },
            });
            let node = nodes
                .patch(&name, &PatchParams::default(), &Patch::Merge(&patch))
                .await?;
            (node, true)
        }
        Err(e) => return Err(e).with_context(|| format!("creating node {name}")),
    };
    if existed || !node::is_ready(&node) {
        let status = serde_json::json!({ "status": wanted.status });
        nodes
            .patch_status(&name, &PatchParams::default(), &Patch::Strategic(&status))
            .await
            .with_context(|| format!("reporting the status of node {name}"))?;
    }
    let uid = node.uid().unwrap_or_default();
    let lease = node::build_lease(opts, &name, Some(&uid), now);
    match leases.create(&PostParams::default(), &lease).await {
        Ok(_) => {}
        Err(e) if api_code(&e) == Some(409) => {
            let renewal = node::lease_renewal(opts, &name, now);
            leases
                .patch(&name, &PatchParams::default(), &Patch::Merge(&renewal))
                .await?;
        }
        Err(e) => return Err(e).with_context(|| format!("creating the lease of node {name}")),
    }
    Ok((uid, now))
}

async fn stopped(rx: &mut watch::Receiver<bool>) {
    // A dropped sender also means stop.
    let _ = rx.wait_for(|s| *s).await;
}

/// One ticker for every node: each tick renews the leases (and refreshes the node statuses)
/// of the nodes due on it, so the work is spread evenly over the heartbeat interval.
async fn heartbeat_loop(ctx: Arc<Ctx>, mut rx: watch::Receiver<bool>) {
    let tick = node::tick_for(ctx.opts.heartbeat);
    let leases = Spread::new(ctx.opts.heartbeat, tick);
    let statuses = Spread::new(ctx.opts.status_interval, tick);
    let mut interval = tokio::time::interval(tick);
    interval.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    interval.tick().await;
    let n = ctx.names.len();
    let mut t: u64 = 0;
    loop {
        tokio::select! {
            _ = stopped(&mut rx) => return,
            _ = interval.tick() => {}
        }
        t += 1;
        let work = leases
            .due_on(t, n)
            .map(|i| (i, false))
            // Statuses were just reported at registration: the first refresh comes one
            // interval later.
            .chain(
                statuses
                    .due_on(t, n)
                    .filter(|_| t >= statuses.slots)
                    .map(|i| (i, true)),
            );
        let failed = AtomicU64::new(0);
        let batch =
            stream::iter(work).for_each_concurrent(ctx.opts.request_concurrency, |(i, status)| {
                let (ctx, failed) = (&ctx, &failed);
                async move {
                    let res = if status {
                        refresh_status(ctx, i).await
                    } else {
                        renew_lease(ctx, i).await
                    };
                    if let Err(e) = res {
                        Counters::add(&ctx.counters.errors);
                        if failed.fetch_add(1, Ordering::Relaxed) == 0 {
                            tracing::warn!("heartbeat of node {}: {e:#}", ctx.names[i]);
                        }
                    }
                }
            });
        tokio::select! {
            _ = stopped(&mut rx) => return,
            _ = batch => {}
        }
        let failed = failed.into_inner();
        if failed > 1 {
            tracing::warn!("{failed} heartbeat requests failed on this tick");
        }
    }
}

async fn renew_lease(ctx: &Ctx, i: usize) -> anyhow::Result<()> {
    let name = &ctx.names[i];
    let now = jiff::Timestamp::now();
    let renewal = node::lease_renewal(&ctx.opts, name, now);
    match ctx
        .leases
        .patch(name, &PatchParams::default(), &Patch::Merge(&renewal))
        .await
    {
        Ok(_) => {}
        Err(e) if api_code(&e) == Some(404) => {
            let lease = node::build_lease(&ctx.opts, name, Some(&ctx.uids[i]), now);
            ctx.leases.create(&PostParams::default(), &lease).await?;
        }
        Err(e) => return Err(e.into()),
    }
    Counters::add(&ctx.counters.lease_renewals);
    Ok(())
}

async fn refresh_status(ctx: &Ctx, i: usize) -> anyhow::Result<()> {
    let patch = node::status_refresh(ctx.since[i], jiff::Timestamp::now());
    ctx.nodes
        .patch_status(
            &ctx.names[i],
            &PatchParams::default(),
            &Patch::Strategic(&patch),
        )
        .await?;
    Counters::add(&ctx.counters.node_status_updates);
    Ok(())
}

/// Where a pod is in the work queue.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Stage {
    /// Waiting for its start delay or a retry.
    Waiting,
    /// Waiting for a free request slot.
    Ready,
    /// Its request is in flight.
    Running,
}

/// The pod side: one watch of every bound pod, kept in a reflector store of only this
/// simulation's pods, and one queue of pods to start or finish.
struct PodWork {
    ctx: Arc<Ctx>,
    store: Store<Pod>,
    pool: IpPool,
    /// UIDs reported running (the watch may not show it yet).
    reported: HashSet<String>,
    /// UIDs whose deletion was finished.
    finished: HashSet<String>,
    stage: HashMap<ObjectRef<Pod>, Stage>,
    /// Pods waiting, in due order (every wait of a queue has the same length).
    delayed: VecDeque<(Instant, ObjectRef<Pod>)>,
    retries: VecDeque<(Instant, ObjectRef<Pod>)>,
    ready: VecDeque<ObjectRef<Pod>>,
}

type Outcome = (ObjectRef<Pod>, String, PodAction, anyhow::Result<()>);

impl PodWork {
    fn node_of(&self, pod: &Pod) -> Option<usize> {
        let name = pod.spec.as_ref()?.node_name.as_deref()?;
        node::node_index(&self.ctx.opts, name)
    }

    /// Takes note of the address a pod already has (after a restart of the simulation).
    fn adopt(&mut self, pod: &Pod) {
        let (Some(i), Some(uid)) = (self.node_of(pod), pod.metadata.uid.as_deref()) else {
            return;
        };
        if let Some(host) = pod
            .status
            .as_ref()
            .and_then(|s| s.pod_ip.as_deref())
            .and_then(|ip| node::pod_host(i, ip))
            && !pod::host_network(pod)
        {
            self.pool.adopt(i, uid, host);
        }
    }

    fn action(&self, pod: &Pod) -> PodAction {
        let uid = pod.metadata.uid.as_deref().unwrap_or_default();
        match pod::decide(pod, self.reported.contains(uid)) {
            PodAction::Finish if self.finished.contains(uid) => PodAction::Nothing,
            a => a,
        }
    }

    fn enqueue(&mut self, pod: &Pod) {
        let action = self.action(pod);
        if action == PodAction::Nothing {
            return;
        }
        let key = ObjectRef::from_obj(pod);
        let delay = self.ctx.opts.pod_start_delay;
        match self.stage.entry(key.clone()) {
            Entry::Vacant(v) if action == PodAction::Start && !delay.is_zero() => {
                v.insert(Stage::Waiting);
                self.delayed.push_back((Instant::now() + delay, key));
            }
            Entry::Vacant(v) => {
                v.insert(Stage::Ready);
                self.ready.push_back(key);
            }
            // A deletion does not wait for a start delay.
            Entry::Occupied(mut o) if action == PodAction::Finish && *o.get() == Stage::Waiting => {
                o.insert(Stage::Ready);
                self.ready.push_back(key);
            }
            Entry::Occupied(_) => {}
        }
    }

    fn forget(&mut self, pod: &Pod) {
        if let Some(uid) = pod.metadata.uid.as_deref() {
            self.pool.release(uid);
            self.reported.remove(uid);
            self.finished.remove(uid);
        }
    }

    /// After a (re)list: rebuild the address pool from what exists, then queue what needs
    /// work.
    fn resync(&mut self) {
        let pods = self.store.state();
        let uids: HashSet<&str> = pods
            .iter()
            .filter_map(|p| p.metadata.uid.as_deref())
            .collect();
        self.pool.retain(|u| uids.contains(u));
        self.reported.retain(|u| uids.contains(u.as_str()));
        self.finished.retain(|u| uids.contains(u.as_str()));
        for p in &pods {
            self.adopt(p);
        }
        for p in &pods {
            self.enqueue(p);
        }
    }

    /// Moves due waits to the ready queue; returns when the next one is due.
    fn promote(&mut self, now: Instant) -> Option<Instant> {
        for queue in [&mut self.delayed, &mut self.retries] {
            while let Some((due, _)) = queue.front() {
                if *due > now {
                    break;
                }
                let (_, key) = queue.pop_front().expect("front exists");
                if let Some(s) = self.stage.get_mut(&key)
                    && *s == Stage::Waiting
                {
                    *s = Stage::Ready;
                    self.ready.push_back(key);
                }
            }
        }
        [self.delayed.front(), self.retries.front()]
            .into_iter()
            .flatten()
            .map(|(due, _)| *due)
            .min()
    }

    /// The next request to send, if a pod in the ready queue still needs one.
    fn next_request(&mut self) -> Option<futures::future::BoxFuture<'static, Outcome>> {
        while let Some(key) = self.ready.pop_front() {
            let Some(pod) = self.store.get(&key) else {
                self.stage.remove(&key);
                continue;
            };
            let action = self.action(&pod);
            let uid = pod.metadata.uid.clone().unwrap_or_default();
            let Some(index) = self.node_of(&pod) else {
                self.stage.remove(&key);
                continue;
            };
            let ctx = self.ctx.clone();
            match action {
                PodAction::Nothing => {
                    self.stage.remove(&key);
                }
                PodAction::Start => {
                    let host_ip = node::internal_ip(index);
                    let pod_ip = if pod::host_network(&pod) {
                        host_ip
                    } else {
                        match self.pool.assign(index, &uid) {
                            Some(h) => node::pod_ip(index, h),
                            None => {
                                tracing::warn!(
                                    "no pod address left on node {} for pod {key}",
                                    ctx.names[index]
                                );
                                Counters::add(&ctx.counters.errors);
                                self.stage.remove(&key);
                                continue;
                            }
                        }
                    };
                    self.stage.insert(key.clone(), Stage::Running);
                    return Some(Box::pin(async move {
                        let res = start_pod(&ctx, &pod, pod_ip, host_ip).await;
                        (key, uid, action, res)
                    }));
                }
                PodAction::Finish => {
                    self.stage.insert(key.clone(), Stage::Running);
                    return Some(Box::pin(async move {
                        let res = finish_pod(&ctx, &pod).await;
                        (key, uid, action, res)
                    }));
                }
            }
        }
        None
    }

    fn done(&mut self, (key, uid, action, res): Outcome) {
        self.stage.remove(&key);
        match res {
            Ok(()) => {
                match action {
                    PodAction::Start => {
                        Counters::add(&self.ctx.counters.pods_started);
                        self.reported.insert(uid);
                    }
                    PodAction::Finish => {
                        Counters::add(&self.ctx.counters.pods_deleted);
                        self.finished.insert(uid);
                    }
                    PodAction::Nothing => {}
                }
                // It may have changed while the request was in flight.
                if let Some(pod) = self.store.get(&key) {
                    self.enqueue(&pod);
                }
            }
            Err(e) => {
                Counters::add(&self.ctx.counters.errors);
                tracing::warn!("pod {key}: {e:#}; retrying");
                self.stage.insert(key.clone(), Stage::Waiting);
                self.retries.push_back((Instant::now() + RETRY_DELAY, key));
            }
        }
    }
}

async fn start_pod(
    ctx: &Ctx,
    pod: &Pod,
    pod_ip: std::net::Ipv4Addr,
    host_ip: std::net::Ipv4Addr,
) -> anyhow::Result<()> {
    let status = pod::running_status(pod, pod_ip, host_ip, jiff::Timestamp::now());
    let patch = pod::status_patch(pod, &status);
    let pods: Api<Pod> = Api::namespaced(ctx.client.clone(), &pod.namespace().unwrap_or_default());
    match pods
        .patch_status(
            &pod.name_any(),
            &PatchParams::default(),
            &Patch::Strategic(&patch),
        )
        .await
    {
        Ok(_) => Ok(()),
        // Gone, or replaced by a pod of the same name: nothing to report.
        Err(e) if matches!(api_code(&e), Some(404 | 409 | 422)) => {
            tracing::debug!("pod {}: {e}", pod.name_any());
            Ok(())
        }
        Err(e) => Err(e.into()),
    }
}

async fn finish_pod(ctx: &Ctx, pod: &Pod) -> anyhow::Result<()> {
    let pods: Api<Pod> = Api::namespaced(ctx.client.clone(), &pod.namespace().unwrap_or_default());
    let dp = DeleteParams {
        grace_period_seconds: Some(0),
        preconditions: Some(Preconditions {
            uid: pod.metadata.uid.clone(),
            resource_version: None,
        }),
        ..DeleteParams::default()
    };
    match pods.delete(&pod.name_any(), &dp).await {
        Ok(_) => Ok(()),
        Err(e) if matches!(api_code(&e), Some(404 | 409)) => Ok(()),
        Err(e) => Err(e.into()),
    }
}

async fn pod_loop(ctx: Arc<Ctx>, mut rx: watch::Receiver<bool>) {
    let api: Api<Pod> = Api::all(ctx.client.clone());
    let (store, writer) = reflector::store::<Pod>();
    let opts = ctx.opts.clone();
    let ours = move |p: &Pod| {
        p.spec
            .as_ref()
            .and_then(|s| s.node_name.as_deref())
            .and_then(|n| node::node_index(&opts, n))
            .is_some()
    };
    let events = watcher(api, watcher::Config::default().fields("spec.nodeName!="))
        .default_backoff()
        .map_ok(|ev| {
            // Only spec and status are needed; keep the store small.
            ev.modify(|p| {
                p.metadata.managed_fields = None;
                p.metadata.annotations = None;
            })
        })
        .try_filter(move |ev| {
            let keep = match ev {
                watcher::Event::Apply(p)
                | watcher::Event::Delete(p)
                | watcher::Event::InitApply(p) => ours(p),
                watcher::Event::Init | watcher::Event::InitDone => true,
            };
            std::future::ready(keep)
        });
    let mut events = std::pin::pin!(reflector::reflector(writer, events));
    let mut work = PodWork {
        ctx: ctx.clone(),
        store,
        pool: IpPool::default(),
        reported: HashSet::new(),
        finished: HashSet::new(),
        stage: HashMap::new(),
        delayed: VecDeque::new(),
        retries: VecDeque::new(),
        ready: VecDeque::new(),
    };
    let mut inflight: FuturesUnordered<futures::future::BoxFuture<'static, Outcome>> =
        FuturesUnordered::new();
    loop {
        let next_due = work.promote(Instant::now());
        while inflight.len() < ctx.opts.request_concurrency {
            match work.next_request() {
                Some(f) => inflight.push(f),
                None => break,
            }
        }
        let sleep = async {
            match next_due {
                Some(due) => tokio::time::sleep_until(due.into()).await,
                None => std::future::pending().await,
            }
        };
        tokio::select! {
            _ = stopped(&mut rx) => return,
            ev = events.next() => match ev {
                Some(Ok(watcher::Event::Apply(p))) => {
                    work.adopt(&p);
                    work.enqueue(&p);
                }
                Some(Ok(watcher::Event::Delete(p))) => work.forget(&p),
                Some(Ok(watcher::Event::InitDone)) => work.resync(),
                Some(Ok(_)) => {}
                Some(Err(e)) => tracing::warn!("pod watch: {e}"),
                None => return,
            },
            Some(outcome) = inflight.next(), if !inflight.is_empty() => work.done(outcome),
            _ = sleep => {}
        }
    }
}

impl SimHandle {
    /// The names of the simulated nodes, by index.
    pub fn node_names(&self) -> &[String] {
        &self.ctx.names
    }

    /// What the simulation did so far.
    pub fn stats(&self) -> SimStats {
        self.ctx.counters.snapshot()
    }

    /// Stops the heartbeat and the pod watch and waits for them. The nodes stay registered
    /// (they go NotReady once their leases expire).
    pub async fn stop(mut self) {
        self.halt().await;
    }

    async fn halt(&mut self) {
        let _ = self.stop.send(true);
        for t in self.tasks.drain(..) {
            let _ = t.await;
        }
    }

    /// Stops, then deletes every simulated node and its lease.
    pub async fn stop_and_delete(mut self) -> anyhow::Result<()> {
        self.halt().await;
        let ctx = self.ctx.clone();
        let failures: Vec<anyhow::Error> = stream::iter(ctx.names.iter())
            .map(|name| {
                let ctx = &ctx;
                async move {
                    for res in [
                        ctx.nodes
                            .delete(name, &DeleteParams::default())
                            .await
                            .map(|_| ()),
                        ctx.leases
                            .delete(name, &DeleteParams::default())
                            .await
                            .map(|_| ()),
                    ] {
                        match res {
                            Ok(()) => {}
                            Err(e) if api_code(&e) == Some(404) => {}
                            Err(e) => {
                                return Err(
                                    anyhow::Error::from(e).context(format!("deleting {name}"))
                                );
                            }
                        }
                    }
                    Ok(())
                }
            })
            .buffer_unordered(ctx.opts.create_concurrency)
            .filter_map(|r: anyhow::Result<()>| std::future::ready(r.err()))
            .collect()
            .await;
        match failures.into_iter().next() {
            None => Ok(()),
            Some(e) => bail!("{e:#}"),
        }
    }
}

impl Drop for SimHandle {
    fn drop(&mut self) {
        let _ = self.stop.send(true);
    }
}
