//! Summaries of the pods on each node, kept from one scheduling cycle to the next, for
//! plugins that look at every pod in the cluster (InterPodAffinity, PodTopologySpread).
//!
//! Upstream walks every pod of every node in each PreFilter; at thousands of nodes that
//! walk is most of a cycle. Here a node's pods are grouped by label set (namespace and
//! labels) and the affinity terms of its pods by term, both interned cluster-wide, so a
//! plugin evaluates a selector once per distinct label set and a term once per distinct
//! term, then adds up per node. Node label values of the topology keys in use are interned
//! into dense domain ids. Only nodes whose `NodeInfo` changed are summarized again: the
//! cache hands out the same `Arc<NodeInfo>` for a node until it changes. A [`NodeTable`]
//! maps each summarized `NodeInfo`'s address to its index, so Filter and Score can find a
//! node's domains without reading its labels.

use super::{AffinityTerm, NodeInfo, PodInfo};
use std::collections::HashMap;
use std::collections::hash_map::DefaultHasher;
use std::hash::{Hash, Hasher};
use std::sync::Arc;

/// The domain id of a node without the topology key.
pub const NO_DOMAIN: u32 = u32::MAX;

/// FxHash-style mixing over 8-byte words with a murmur3 finalizer: fast on short strings,
/// well spread in the low bits [`Domains`] uses.
pub fn hash_str(s: &str) -> u64 {
    const K: u64 = 0x517c_c1b7_2722_0a95;
    let mut h = s.len() as u64;
    let mut chunks = s.as_bytes().chunks_exact(8);
    for c in &mut chunks {
        let mut w = [0u8; 8];
        w.copy_from_slice(c);
        h = (h.rotate_left(5) ^ u64::from_le_bytes(w)).wrapping_mul(K);
    }
    let rest = chunks.remainder();
    if !rest.is_empty() {
        let mut w = [0u8; 8];
        w[..rest.len()].copy_from_slice(rest);
        h = (h.rotate_left(5) ^ u64::from_le_bytes(w)).wrapping_mul(K);
    }
    h ^= h >> 33;
    h = h.wrapping_mul(0xff51_afd7_ed55_8ccd);
    h ^= h >> 33;
    h = h.wrapping_mul(0xc4ce_b9fe_1a85_ec53);
    h ^ (h >> 33)
}

/// Strings (topology values) interned to dense ids 0, 1, ..., their text kept in one
/// buffer and found through an open-addressing table, so thousands of values cost a few
/// allocations.
#[derive(Clone, Debug, Default)]
pub struct Domains {
    text: String,
    ends: Vec<u32>,
    hashes: Vec<u64>,
    /// 0: empty, otherwise id + 1. The length is zero or a power of two, at most half full.
    slots: Vec<u32>,
}

impl Domains {
    /// How many values.
    pub fn len(&self) -> usize {
        self.ends.len()
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.ends.is_empty()
    }

    /// The value with id `id`.
    pub fn value(&self, id: usize) -> &str {
        let start = if id == 0 {
            0
        } else {
            self.ends[id - 1] as usize
        };
        &self.text[start..self.ends[id] as usize]
    }

    /// The id of `v`, or the free slot where it would go.
    fn find(&self, v: &str, h: u64) -> Result<usize, usize> {
        if self.slots.is_empty() {
            return Err(usize::MAX);
        }
        let mask = self.slots.len() - 1;
        let mut i = h as usize & mask;
        loop {
            let s = self.slots[i];
            if s == 0 {
                return Err(i);
            }
            let id = (s - 1) as usize;
            if self.hashes[id] == h && self.value(id) == v {
                return Ok(id);
            }
            i = (i + 1) & mask;
        }
    }

    /// The id of `v`, if interned.
    pub fn get(&self, v: &str) -> Option<usize> {
        self.find(v, hash_str(v)).ok()
    }

    /// The id of `v`, interning it if new.
    pub fn intern(&mut self, v: &str) -> usize {
        let h = hash_str(v);
        let slot = match self.find(v, h) {
            Ok(id) => return id,
            Err(slot) if (self.len() + 1) * 2 <= self.slots.len() => slot,
            Err(_) => {
                self.grow();
                self.find(v, h).unwrap_err()
            }
        };
        let id = self.len();
        self.text.push_str(v);
        self.ends.push(self.text.len() as u32);
        self.hashes.push(h);
        self.slots[slot] = id as u32 + 1;
        id
    }

    fn grow(&mut self) {
        let cap = (self.slots.len() * 2).max(16);
        self.slots = vec![0; cap];
        let mask = cap - 1;
        for (id, &h) in self.hashes.iter().enumerate() {
            let mut i = h as usize & mask;
            while self.slots[i] != 0 {
                i = (i + 1) & mask;
            }
            self.slots[i] = id as u32 + 1;
        }
    }
}

/// Values interned by hash and equality, reference counted so ids are reused once no node
/// holds them.
#[derive(Debug)]
struct Interner<T> {
    buckets: HashMap<u64, Vec<u32>>,
    items: Vec<Option<Item<T>>>,
    free: Vec<u32>,
}

#[derive(Debug)]
struct Item<T> {
    value: T,
    hash: u64,
    refs: u32,
}

impl<T> Default for Interner<T> {
    fn default() -> Self {
        Interner {
            buckets: HashMap::new(),
            items: Vec::new(),
            free: Vec::new(),
        }
    }
}

impl<T> Interner<T> {
    /// The id of the value equal to the one `eq` recognizes, with one more reference;
    /// `make` builds the value when new.
    fn acquire(&mut self, hash: u64, eq: impl Fn(&T) -> bool, make: impl FnOnce() -> T) -> u32 {
        if let Some(bucket) = self.buckets.get(&hash) {
            for &id in bucket {
                if let Some(item) = self.items[id as usize].as_mut()
                    && eq(&item.value)
                {
                    item.refs += 1;
                    return id;
                }
            }
        }
        let item = Some(Item {
            value: make(),
            hash,
            refs: 1,
        });
        let id = match self.free.pop() {
            Some(id) => {
                self.items[id as usize] = item;
                id
            }
            None => {
                self.items.push(item);
                (self.items.len() - 1) as u32
            }
        };
        self.buckets.entry(hash).or_default().push(id);
        id
    }

    fn release(&mut self, id: u32) {
        let Some(item) = self.items[id as usize].as_mut() else {
            return;
        };
        item.refs -= 1;
        if item.refs > 0 {
            return;
        }
        let hash = item.hash;
        self.items[id as usize] = None;
        if let Some(bucket) = self.buckets.get_mut(&hash) {
            bucket.retain(|&i| i != id);
            if bucket.is_empty() {
                self.buckets.remove(&hash);
            }
        }
        self.free.push(id);
    }

    fn get(&self, id: u32) -> Option<&T> {
        self.items[id as usize].as_ref().map(|i| &i.value)
    }
}

/// Which list of a pod a term comes from.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum TermKind {
    /// `podAffinity.requiredDuringScheduling...`.
    RequiredAffinity,
    /// `podAntiAffinity.requiredDuringScheduling...`.
    RequiredAntiAffinity,
    /// `podAffinity.preferredDuringScheduling...`.
    PreferredAffinity,
    /// `podAntiAffinity.preferredDuringScheduling...`.
    PreferredAntiAffinity,
}

/// Pods of one node with the same namespace and labels.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PodGroup {
    /// The label set's id ([`NodeSummaries::label_set`]).
    pub set: u32,
    /// How many pods.
    pub all: u32,
    /// How many of them are not terminating.
    pub live: u32,
}

/// Equal affinity terms of one kind and weight among the pods of one node.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TermGroup {
    /// The term's id ([`NodeSummaries::term`]).
    pub term: u32,
    /// Which list the term is from.
    pub kind: TermKind,
    /// The weight of preferred terms (0 for required ones).
    pub weight: i32,
    /// How many pods have it.
    pub count: u32,
}

#[derive(Debug, Default)]
struct Slot {
    groups: Vec<PodGroup>,
    terms: Vec<TermGroup>,
}

/// The summarized nodes, and where each `NodeInfo` lives in memory, so that a plugin given
/// a `&NodeInfo` of the snapshot finds its index without reading the node. The table holds
/// the nodes, so an address it knows cannot be reused by another node while the table is
/// alive; copies of a node (as preemption makes) are simply not found.
#[derive(Clone, Debug, Default)]
pub struct NodeTable {
    nodes: Vec<Arc<NodeInfo>>,
    /// Open addressing, linear probing: (address, index + 1), 0 when empty.
    addrs: Vec<(usize, u32)>,
}

impl NodeTable {
    fn home(&self, addr: usize) -> usize {
        let h = (addr as u64 >> 4).wrapping_mul(0x9e37_79b9_7f4a_7c15);
        (h >> 40) as usize & (self.addrs.len() - 1)
    }

    fn insert(&mut self, addr: usize, index: usize) {
        if (self.nodes.len() + 1) * 2 > self.addrs.len() {
            let cap = (self.addrs.len() * 2).max(64).max(self.nodes.len() * 4);
            let old = std::mem::replace(&mut self.addrs, vec![(0, 0); cap.next_power_of_two()]);
            for (a, i) in old.into_iter().filter(|e| e.1 != 0) {
                self.place(a, i);
            }
        }
        self.place(addr, index as u32 + 1);
    }

    fn place(&mut self, addr: usize, tagged: u32) {
        let mask = self.addrs.len() - 1;
        let mut i = self.home(addr);
        while self.addrs[i].1 != 0 && self.addrs[i].0 != addr {
            i = (i + 1) & mask;
        }
        self.addrs[i] = (addr, tagged);
    }

    /// Removes `addr` (backward-shift deletion keeps probe sequences intact).
    fn remove(&mut self, addr: usize) {
        if self.addrs.is_empty() {
            return;
        }
        let mask = self.addrs.len() - 1;
        let mut i = self.home(addr);
        loop {
            match self.addrs[i] {
                (_, 0) => return,
                (a, _) if a == addr => break,
                _ => i = (i + 1) & mask,
            }
        }
        self.addrs[i] = (0, 0);
        let mut j = i;
        loop {
            j = (j + 1) & mask;
            let (a, tagged) = self.addrs[j];
            if tagged == 0 {
                return;
            }
            let k = self.home(a);
            // Move the entry back unless its home lies cyclically in (i, j].
            let stays = if i <= j {
                i < k && k <= j
            } else {
                i < k || k <= j
            };
            if !stays {
                self.addrs[i] = (a, tagged);
                self.addrs[j] = (0, 0);
                i = j;
            }
        }
    }

    fn set(&mut self, index: usize, node: &Arc<NodeInfo>) {
        if index < self.nodes.len() {
            let old = Arc::as_ptr(&self.nodes[index]) as usize;
            // The same NodeInfo may sit at two positions only transiently; drop the old
            // address only if it points here.
            if self.lookup(old) == Some(index) {
                self.remove(old);
            }
            self.nodes[index] = node.clone();
        } else {
            self.nodes.push(node.clone());
        }
        self.insert(Arc::as_ptr(node) as usize, index);
    }

    fn truncate(&mut self, len: usize) {
        while self.nodes.len() > len {
            if let Some(n) = self.nodes.pop() {
                let addr = Arc::as_ptr(&n) as usize;
                if self.lookup(addr) == Some(self.nodes.len()) {
                    self.remove(addr);
                }
            }
        }
    }

    fn lookup(&self, addr: usize) -> Option<usize> {
        if self.addrs.is_empty() {
            return None;
        }
        let mask = self.addrs.len() - 1;
        let mut i = self.home(addr);
        loop {
            match self.addrs[i] {
                (_, 0) => return None,
                (a, tagged) if a == addr => return Some(tagged as usize - 1),
                _ => i = (i + 1) & mask,
            }
        }
    }

    /// The index of `node` if it is the very `NodeInfo` the table holds there.
    pub fn index_of(&self, node: &NodeInfo) -> Option<usize> {
        self.lookup(node as *const NodeInfo as usize)
    }

    /// The node at `index`.
    pub fn node(&self, index: usize) -> &Arc<NodeInfo> {
        &self.nodes[index]
    }

    /// How many nodes.
    pub fn len(&self) -> usize {
        self.nodes.len()
    }

    /// Whether there are no nodes.
    pub fn is_empty(&self) -> bool {
        self.nodes.is_empty()
    }
}

/// The domain ids of one topology key for every node.
#[derive(Debug)]
struct KeyIndex {
    key: String,
    domains: Arc<Domains>,
    ids: Vec<u32>,
    last_used: u64,
}

const MAX_KEYS: usize = 32;

fn set_hash(p: &PodInfo) -> u64 {
    let mut h = DefaultHasher::new();
    p.namespace.hash(&mut h);
    p.labels.hash(&mut h);
    h.finish()
}

fn term_hash(t: &AffinityTerm) -> u64 {
    let mut h = DefaultHasher::new();
    t.topology_key.hash(&mut h);
    t.selector.hash(&mut h);
    t.namespace_selector.hash(&mut h);
    // Order-independent over the set.
    let mut namespaces = 0u64;
    for ns in &t.namespaces {
        let mut e = DefaultHasher::new();
        ns.hash(&mut e);
        namespaces ^= e.finish();
    }
    namespaces.hash(&mut h);
    t.namespaces.len().hash(&mut h);
    h.finish()
}

fn same_term(a: &AffinityTerm, b: &AffinityTerm) -> bool {
    a.topology_key == b.topology_key
        && a.selector == b.selector
        && a.namespace_selector == b.namespace_selector
        && a.namespaces == b.namespaces
}

/// Per-node summaries aligned with the node list last given to [`NodeSummaries::refresh`].
#[derive(Debug, Default)]
pub struct NodeSummaries {
    slots: Vec<Slot>,
    table: Arc<NodeTable>,
    versions: Vec<u64>,
    sets: Interner<Arc<PodInfo>>,
    terms: Interner<Arc<AffinityTerm>>,
    keys: Vec<KeyIndex>,
    version: u64,
    tick: u64,
}

impl NodeSummaries {
    /// Empty summaries.
    pub fn new() -> NodeSummaries {
        NodeSummaries::default()
    }

    /// Brings the summaries in line with `nodes` (a snapshot's node list): nodes that are
    /// not the very `NodeInfo` summarized last time at their position are summarized again.
    pub fn refresh(&mut self, nodes: &[Arc<NodeInfo>]) {
        self.tick += 1;
        while self.slots.len() > nodes.len() {
            let i = self.slots.len() - 1;
            self.clear_slot(i);
            self.slots.pop();
        }
        self.versions.truncate(nodes.len());
        if self.table.len() > nodes.len() {
            Arc::make_mut(&mut self.table).truncate(nodes.len());
        }
        for k in &mut self.keys {
            k.ids.truncate(nodes.len());
        }
        for (i, node) in nodes.iter().enumerate() {
            if i == self.slots.len() {
                self.slots.push(Slot::default());
                self.versions.push(0);
                for k in &mut self.keys {
                    k.ids.push(NO_DOMAIN);
                }
            } else if i < self.table.len() && Arc::ptr_eq(self.table.node(i), node) {
                continue;
            }
            self.summarize(i, node);
        }
    }

    fn clear_slot(&mut self, i: usize) {
        let old = std::mem::take(&mut self.slots[i]);
        for g in &old.groups {
            self.sets.release(g.set);
        }
        for t in &old.terms {
            self.terms.release(t.term);
        }
    }

    fn summarize(&mut self, i: usize, node: &Arc<NodeInfo>) {
        self.clear_slot(i);
        let mut groups: Vec<PodGroup> = Vec::new();
        for p in &node.pods {
            let live = u32::from(p.pod.metadata.deletion_timestamp.is_none());
            let id = self.sets.acquire(
                set_hash(p),
                |q| q.namespace == p.namespace && q.labels == p.labels,
                || p.clone(),
            );
            match groups.iter_mut().find(|g| g.set == id) {
                Some(g) => {
                    g.all += 1;
                    g.live += live;
                    // The group already holds a reference.
                    self.sets.release(id);
                }
                None => groups.push(PodGroup {
                    set: id,
                    all: 1,
                    live,
                }),
            }
        }
        let mut terms: Vec<TermGroup> = Vec::new();
        for p in &node.pods_with_affinity {
            let mut all: Vec<(TermKind, i32, &AffinityTerm)> = Vec::new();
            all.extend(
                p.required_affinity
                    .iter()
                    .map(|t| (TermKind::RequiredAffinity, 0, t)),
            );
            all.extend(
                p.required_anti_affinity
                    .iter()
                    .map(|t| (TermKind::RequiredAntiAffinity, 0, t)),
            );
            all.extend(
                p.preferred_affinity
                    .iter()
                    .map(|w| (TermKind::PreferredAffinity, w.weight, &w.term)),
            );
            all.extend(
                p.preferred_anti_affinity
                    .iter()
                    .map(|w| (TermKind::PreferredAntiAffinity, w.weight, &w.term)),
            );
            for (kind, weight, t) in all {
                let id =
                    self.terms
                        .acquire(term_hash(t), |q| same_term(q, t), || Arc::new(t.clone()));
                match terms
                    .iter_mut()
                    .find(|g| g.term == id && g.kind == kind && g.weight == weight)
                {
                    Some(g) => {
                        g.count += 1;
                        self.terms.release(id);
                    }
                    None => terms.push(TermGroup {
                        term: id,
                        kind,
                        weight,
                        count: 1,
                    }),
                }
            }
        }
        for k in &mut self.keys {
            k.ids[i] = match node.labels.get(&k.key) {
                // Copy-on-write only for a new value: cycle states share the table.
                Some(v) => match k.domains.get(v) {
                    Some(d) => d as u32,
                    None => Arc::make_mut(&mut k.domains).intern(v) as u32,
                },
                None => NO_DOMAIN,
            };
        }
        self.version += 1;
        self.versions[i] = self.version;
        self.slots[i] = Slot { groups, terms };
        Arc::make_mut(&mut self.table).set(i, node);
    }

    /// How many nodes.
    pub fn len(&self) -> usize {
        self.slots.len()
    }

    /// Whether there are no nodes.
    pub fn is_empty(&self) -> bool {
        self.slots.is_empty()
    }

    /// The pods of node `i`, grouped by label set.
    pub fn groups(&self, i: usize) -> &[PodGroup] {
        &self.slots[i].groups
    }

    /// The affinity terms of the pods of node `i`, grouped.
    pub fn terms(&self, i: usize) -> &[TermGroup] {
        &self.slots[i].terms
    }

    /// A change counter of node `i`'s summary (for memos derived from the node).
    pub fn version(&self, i: usize) -> u64 {
        self.versions[i]
    }

    /// The summarized nodes, shareable with cycle states.
    pub fn table(&self) -> &Arc<NodeTable> {
        &self.table
    }

    /// A pod with the label set `id` (its namespace and labels are what the set is).
    pub fn label_set(&self, id: u32) -> &PodInfo {
        self.sets.get(id).expect("live label set")
    }

    /// The term with id `id`.
    pub fn term(&self, id: u32) -> &AffinityTerm {
        self.terms.get(id).expect("live term")
    }

    /// An upper bound of label set ids (for per-cycle tables indexed by id).
    pub fn label_set_capacity(&self) -> usize {
        self.sets.items.len()
    }

    /// An upper bound of term ids.
    pub fn term_capacity(&self) -> usize {
        self.terms.items.len()
    }

    /// Tracks topology key `key` (interning every node's value) and returns its index for
    /// [`NodeSummaries::domain_ids`] and [`NodeSummaries::domains`].
    pub fn key(&mut self, key: &str) -> usize {
        let tick = self.tick;
        if let Some(k) = self.keys.iter().position(|k| k.key == key) {
            let stale = self.keys[k].domains.len() > 2 * self.slots.len() + 64;
            self.keys[k].last_used = tick;
            if !stale {
                return k;
            }
            // Values of nodes long gone: start over.
            self.keys.swap_remove(k);
        }
        if self.keys.len() >= MAX_KEYS
            && let Some(oldest) = (0..self.keys.len()).min_by_key(|&k| self.keys[k].last_used)
        {
            self.keys.swap_remove(oldest);
        }
        let mut domains = Domains::default();
        let ids = self
            .table
            .nodes
            .iter()
            .map(|n| {
                n.labels
                    .get(key)
                    .map_or(NO_DOMAIN, |v| domains.intern(v) as u32)
            })
            .collect();
        self.keys.push(KeyIndex {
            key: key.to_owned(),
            domains: Arc::new(domains),
            ids,
            last_used: tick,
        });
        self.keys.len() - 1
    }

    /// Every node's domain id for the key at index `k` ([`NO_DOMAIN`] without the label).
    pub fn domain_ids(&self, k: usize) -> &[u32] {
        &self.keys[k].ids
    }

    /// The values of the key at index `k`.
    pub fn domains(&self, k: usize) -> &Arc<Domains> {
        &self.keys[k].domains
    }

    /// Interns an extra value for the key at index `k` (e.g. the empty value).
    pub fn intern_value(&mut self, k: usize, v: &str) -> u32 {
        let key = &mut self.keys[k];
        match key.domains.get(v) {
            Some(d) => d as u32,
            None => Arc::make_mut(&mut key.domains).intern(v) as u32,
        }
    }

    /// Updates a memo of one value per node, recomputing entries of nodes summarized
    /// again since the memo last saw them (all of them for a new memo).
    pub fn update_memo<T: Clone>(
        &self,
        memo: &mut NodeMemo<T>,
        mut f: impl FnMut(usize, &NodeInfo) -> T,
    ) {
        let n = self.versions.len();
        memo.versions.truncate(n);
        memo.values.truncate(n);
        for (i, &version) in self.versions.iter().enumerate() {
            if memo.versions.get(i) == Some(&version) {
                continue;
            }
            let v = f(i, self.table.node(i));
            if i < memo.values.len() {
                memo.values[i] = v;
                memo.versions[i] = version;
            } else {
                memo.values.push(v);
                memo.versions.push(version);
            }
        }
    }
}

/// One value per node derived from the node alone, kept by [`NodeSummaries::update_memo`].
#[derive(Clone, Debug, Default)]
pub struct NodeMemo<T> {
    versions: Vec<u64>,
    values: Vec<T>,
}

impl<T> NodeMemo<T> {
    /// An empty memo.
    pub fn new() -> NodeMemo<T> {
        NodeMemo {
            versions: Vec::new(),
            values: Vec::new(),
        }
    }

    /// The values, one per node.
    pub fn values(&self) -> &[T] {
        &self.values
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plugins::testing::{match_labels, node, pod, snapshot_with, term};

    #[test]
    fn domains_intern_many_values() {
        let mut d = Domains::default();
        for i in 0..5000 {
            assert_eq!(d.intern(&format!("node-{i}")), i);
        }
        assert_eq!(d.intern(""), 5000);
        for i in (0..5000).step_by(7) {
            assert_eq!(d.get(&format!("node-{i}")), Some(i));
            assert_eq!(d.value(i), format!("node-{i}"));
        }
        assert_eq!(d.get(""), Some(5000));
        assert_eq!(d.get("node-5000"), None);
        assert_eq!(Domains::default().get("x"), None);
    }

    #[test]
    fn groups_follow_the_nodes() {
        let anti = term(match_labels(&[("app", "web")]), "kubernetes.io/hostname");
        let web = |name: &str, n: &str| {
            pod(name)
                .label("app", "web")
                .required_anti_affinity(anti.clone())
                .node_name(n)
                .info()
        };
        let pods = vec![
            web("a", "n1"),
            web("b", "n1"),
            pod("c").label("app", "db").node_name("n1").info(),
            pod("d")
                .label("app", "db")
                .terminating()
                .node_name("n2")
                .info(),
        ];
        let mut snap = snapshot_with(vec![node("n1").zone("z1"), node("n2")], &pods, &[]);
        let mut s = NodeSummaries::new();
        s.refresh(&snap.nodes);
        let g1 = s.groups(0).to_vec();
        assert_eq!(g1.len(), 2);
        assert_eq!((g1[0].all, g1[0].live, g1[1].all), (2, 2, 1));
        assert_eq!(s.label_set(g1[0].set).labels["app"], "web");
        let g2 = s.groups(1).to_vec();
        assert_eq!((g2[0].set, g2[0].all, g2[0].live), (g1[1].set, 1, 0));
        assert_eq!(s.terms(0).len(), 1);
        assert_eq!(s.terms(0)[0].count, 2);
        assert_eq!(s.terms(0)[0].kind, TermKind::RequiredAntiAffinity);
        let zone = s.key("topology.kubernetes.io/zone");
        assert_eq!(s.domain_ids(zone), [0, NO_DOMAIN]);
        assert_eq!(s.domains(zone).value(0), "z1");

        // Only the changed node is summarized again; ids of sets no node has are reused.
        let v0 = s.version(0);
        let v1 = s.version(1);
        let mut n2 = (*snap.nodes[1]).clone();
        n2.remove_pod("d");
        n2.add_pod(pod("e").label("app", "cache").node_name("n2").info());
        snap.nodes[1] = Arc::new(n2);
        s.refresh(&snap.nodes);
        assert_eq!(s.version(0), v0);
        assert_ne!(s.version(1), v1);
        assert_eq!(s.label_set(s.groups(1)[0].set).labels["app"], "cache");
        assert!(s.label_set_capacity() <= 3);

        let mut memo = NodeMemo::new();
        let mut calls = 0;
        s.update_memo(&mut memo, |_, n| {
            calls += 1;
            n.pods.len()
        });
        assert_eq!((memo.values(), calls), (&[3, 1][..], 2));
        s.update_memo(&mut memo, |_, _| {
            calls += 1;
            0
        });
        assert_eq!(calls, 2);

        snap.nodes.pop();
        s.refresh(&snap.nodes);
        assert_eq!(s.len(), 1);
        assert_eq!(s.domain_ids(zone), [0]);
    }

    #[test]
    fn node_table_finds_the_snapshot_nodes_only() {
        let mut snap = snapshot_with((0..300).map(|i| node(&format!("n{i}"))).collect(), &[], &[]);
        let mut s = NodeSummaries::new();
        s.refresh(&snap.nodes);
        let table = s.table().clone();
        for (i, n) in snap.nodes.iter().enumerate() {
            assert_eq!(table.index_of(n), Some(i));
        }
        // A copy (as preemption makes) is another node.
        let copy = (*snap.nodes[7]).clone();
        assert_eq!(table.index_of(&copy), None);
        // Changed and reordered nodes: the table follows, a state's copy does not change.
        let changed = Arc::new(copy);
        snap.nodes[7] = changed.clone();
        snap.nodes.swap(1, 2);
        snap.nodes.truncate(250);
        s.refresh(&snap.nodes);
        for (i, n) in snap.nodes.iter().enumerate() {
            assert_eq!(s.table().index_of(n), Some(i));
        }
        assert_eq!(table.index_of(&changed), None);
        assert_eq!(table.index_of(&snap.nodes[3]), Some(3));
        assert_eq!(s.table().len(), 250);
    }
}
