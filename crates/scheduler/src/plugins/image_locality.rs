//! ImageLocality (upstream's `imagelocality` plugin): favours nodes that already have the
//! pod's container images, weighting each image by its size and by how widely it has spread
//! across the cluster (an image on every node says little about any one of them).
//!
//! The node's images come from `node.status.images` (or from [`NodeInfo::image_states`]
//! when the cache fills it in). Upstream's cache keeps, per image, the nodes that have it;
//! here the plugin keeps that index itself, across cycles: PreFilter brings it up to date
//! with the snapshot (re-reading only nodes whose object changed, found by comparing
//! pointers) and counts, over the whole snapshot, the nodes with each of the pod's images.
//! PreScore then scores the feasible nodes from the index without touching their objects,
//! and Score looks the result up. When PreFilter did not run (the plugin enabled for Score
//! only), PreScore counts over the nodes it is given and reads their images directly.

use crate::framework::{
    CycleState, MAX_NODE_SCORE, NodeInfo, Plugin, PluginSet, PodInfo, PreFilterPlugin,
    PreFilterResult, PreScorePlugin, ScorePlugin, Snapshot, Status,
};
use crate::plugin_set;
use crate::plugins::names;
use k8s_openapi::api::core::v1::{Node, Pod};
use serde_json::Value;
use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};
use std::sync::{Arc, Mutex, Weak};

const MB: i64 = 1024 * 1024;
/// Below this sum of image scores a node scores 0.
pub const MIN_THRESHOLD: i64 = 23 * MB;
/// Per container, above this a node scores the maximum.
pub const MAX_CONTAINER_THRESHOLD: i64 = 1000 * MB;

const STATE_KEY: &str = "PreScoreImageLocality";

/// The CRI name of an image as nodes report it: `:latest` is added when there is no tag
/// (upstream's `normalizedImageName`).
pub fn normalized_image_name(name: &str) -> String {
    let colon = name.rfind(':');
    let slash = name.rfind('/');
    let has_tag = match (colon, slash) {
        (Some(c), Some(s)) => c > s,
        (Some(_), None) => true,
        (None, _) => false,
    };
    if has_tag {
        name.to_owned()
    } else {
        format!("{name}:latest")
    }
}

/// The score of a node from the sum of its image scores (upstream's `calculatePriority`).
pub fn calculate_priority(sum: i64, num_containers: usize) -> i64 {
    let max = MAX_CONTAINER_THRESHOLD * num_containers as i64;
    let sum = if sum < MIN_THRESHOLD {
        MIN_THRESHOLD
    } else if sum > max {
        max
    } else {
        sum
    };
    MAX_NODE_SCORE * (sum - MIN_THRESHOLD) / (max - MIN_THRESHOLD)
}

/// An image's size scaled by the share of nodes that have it (upstream's
/// `scaledImageScore`).
fn scaled_image_score(size: i64, num_nodes: usize, total_nodes: usize) -> i64 {
    if total_nodes == 0 {
        return 0;
    }
    let spread = num_nodes as f64 / total_nodes as f64;
    (size as f64 * spread) as i64
}

/// Hashes node addresses (already unique; only spread the aligned low bits).
#[derive(Clone, Copy, Default)]
struct AddrHasher(u64);

impl Hasher for AddrHasher {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        for b in bytes {
            self.0 = (self.0.rotate_left(8) ^ u64::from(*b)).wrapping_mul(0x9E37_79B9_7F4A_7C15);
        }
    }

    fn write_usize(&mut self, n: usize) {
        let x = (n as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15);
        self.0 = x ^ (x >> 29);
    }
}

/// A map keyed by the address of a [`NodeInfo`].
type AddrMap<V> = HashMap<usize, V, BuildHasherDefault<AddrHasher>>;

fn addr(node: &NodeInfo) -> usize {
    node as *const NodeInfo as usize
}

/// One distinct image of the pod.
#[derive(Clone, Debug, PartialEq, Eq)]
struct PodImage {
    /// Normalized name.
    name: String,
    /// How many of the pod's containers run it.
    containers: i64,
    /// How many nodes have it.
    num_nodes: usize,
    /// Its id in the index (`None`: no node has it, or the index was not used).
    id: Option<u32>,
}

/// What Score needs, computed in PreFilter and PreScore.
#[derive(Clone, Debug, Default)]
struct ImageScoreState {
    images: Vec<PodImage>,
    num_containers: usize,
    total_nodes: usize,
    /// Whether PreFilter counted over the snapshot with the index.
    indexed: bool,
    /// Scores of the nodes PreScore was given, by node address.
    scores: AddrMap<i64>,
}

/// The pod's distinct normalized images (init and app containers) and its container count.
fn pod_images(pod: &Pod) -> (Vec<PodImage>, usize) {
    let Some(spec) = pod.spec.as_ref() else {
        return (Vec::new(), 0);
    };
    let mut images: Vec<PodImage> = Vec::new();
    let containers = spec
        .init_containers
        .iter()
        .flatten()
        .chain(&spec.containers);
    let mut n = 0;
    for c in containers {
        n += 1;
        let name = normalized_image_name(c.image.as_deref().unwrap_or(""));
        match images.iter_mut().find(|i| i.name == name) {
            Some(i) => i.containers += 1,
            None => images.push(PodImage {
                name,
                containers: 1,
                num_nodes: 0,
                id: None,
            }),
        }
    }
    (images, n)
}

/// The size of the image `name` on the node, if the node has it.
fn image_size(node: &Node, name: &str) -> Option<i64> {
    node.status
        .as_ref()?
        .images
        .as_ref()?
        .iter()
        .find(|i| i.names.iter().flatten().any(|n| n == name))
        .map(|i| i.size_bytes.unwrap_or(0))
}

/// A node as the index last saw it.
struct Slot {
    /// The node info it was synced with (kept as a weak reference so its address stays
    /// unique while the slot points at it).
    info: Weak<NodeInfo>,
    node: Arc<Node>,
    /// `(image id, size)`, sorted by id, one entry per id.
    images: Vec<(u32, i64)>,
}

/// Which nodes have which images, kept up to date across cycles by snapshot position.
#[derive(Default)]
struct ImageIndex {
    /// The address of the node info each slot was synced with (the fast path of a sync).
    addrs: Vec<usize>,
    slots: Vec<Slot>,
    /// Slot by node info address.
    by_addr: AddrMap<usize>,
    /// Image ids by name; ids of images no node has any more are reused.
    ids: HashMap<String, u32>,
    /// Names by id (empty when free).
    names: Vec<String>,
    /// How many nodes have each image, by id.
    counts: Vec<usize>,
    free: Vec<u32>,
}

impl ImageIndex {
    fn intern(&mut self, name: &str) -> u32 {
        if let Some(id) = self.ids.get(name) {
            return *id;
        }
        let id = match self.free.pop() {
            Some(id) => {
                self.names[id as usize] = name.to_owned();
                id
            }
            None => {
                self.names.push(name.to_owned());
                self.counts.push(0);
                (self.names.len() - 1) as u32
            }
        };
        self.ids.insert(name.to_owned(), id);
        id
    }

    /// Reads a node's images and counts them.
    fn add(&mut self, node: &Node) -> Vec<(u32, i64)> {
        let mut images = Vec::new();
        for image in node
            .status
            .as_ref()
            .and_then(|s| s.images.as_ref())
            .into_iter()
            .flatten()
        {
            let size = image.size_bytes.unwrap_or(0);
            for name in image.names.iter().flatten() {
                images.push((self.intern(name), size));
            }
        }
        images.sort_by_key(|(id, _)| *id);
        images.dedup_by_key(|(id, _)| *id);
        for (id, _) in &images {
            self.counts[*id as usize] += 1;
        }
        images
    }

    fn remove(&mut self, images: &[(u32, i64)]) {
        for (id, _) in images {
            let c = &mut self.counts[*id as usize];
            *c -= 1;
            if *c == 0 {
                let name = std::mem::take(&mut self.names[*id as usize]);
                self.ids.remove(&name);
                self.free.push(*id);
            }
        }
    }

    fn unlink(&mut self, i: usize) {
        if self.by_addr.get(&self.addrs[i]) == Some(&i) {
            self.by_addr.remove(&self.addrs[i]);
        }
    }

    /// Brings the index up to date with `nodes`.
    fn sync(&mut self, nodes: &[Arc<NodeInfo>]) {
        while self.slots.len() > nodes.len() {
            let i = self.slots.len() - 1;
            self.unlink(i);
            self.addrs.pop();
            if let Some(slot) = self.slots.pop() {
                self.remove(&slot.images);
            }
        }
        for (i, info) in nodes.iter().enumerate() {
            let a = Arc::as_ptr(info) as usize;
            if self.addrs.get(i) == Some(&a) {
                continue;
            }
            if i < self.slots.len() {
                self.unlink(i);
                if !Arc::ptr_eq(&self.slots[i].node, &info.node) {
                    // Count the new images before forgetting the old ones, so images on
                    // both keep their ids.
                    let images = self.add(&info.node);
                    let old = std::mem::replace(&mut self.slots[i].images, images);
                    self.remove(&old);
                    self.slots[i].node = info.node.clone();
                }
                self.slots[i].info = Arc::downgrade(info);
                self.addrs[i] = a;
            } else {
                let images = self.add(&info.node);
                self.slots.push(Slot {
                    info: Arc::downgrade(info),
                    node: info.node.clone(),
                    images,
                });
                self.addrs.push(a);
            }
            self.by_addr.insert(a, i);
        }
    }

    /// The slot of a node info, if the index was synced with it.
    fn slot(&self, node: &NodeInfo) -> Option<&Slot> {
        let a = addr(node);
        let i = *self.by_addr.get(&a)?;
        let slot = &self.slots[i];
        (Weak::as_ptr(&slot.info) as usize == a).then_some(slot)
    }
}

/// The ImageLocality plugin.
#[derive(Default)]
pub struct ImageLocality {
    index: Mutex<ImageIndex>,
}

impl std::fmt::Debug for ImageLocality {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ImageLocality").finish_non_exhaustive()
    }
}

impl Plugin for ImageLocality {
    fn name(&self) -> &'static str {
        names::IMAGE_LOCALITY
    }
}

impl PreFilterPlugin for ImageLocality {
    /// Counts, over the whole snapshot, the nodes that have each of the pod's images.
    fn pre_filter(
        &self,
        state: &mut CycleState,
        pod: &PodInfo,
        snapshot: &Snapshot,
    ) -> (PreFilterResult, Status) {
        let (mut images, num_containers) = pod_images(&pod.pod);
        {
            let mut index = self.index.lock().unwrap_or_else(|e| e.into_inner());
            index.sync(&snapshot.nodes);
            for i in &mut images {
                i.id = index.ids.get(&i.name).copied();
                i.num_nodes = i.id.map_or(0, |id| index.counts[id as usize]);
            }
        }
        state.write(
            STATE_KEY,
            ImageScoreState {
                images,
                num_containers,
                total_nodes: snapshot.nodes.len(),
                indexed: true,
                scores: AddrMap::default(),
            },
        );
        (None, Status::success())
    }
}

/// The sum of the scaled scores of the pod's images on a node, given how to find an
/// image's size and spread there.
fn image_sum(st: &ImageScoreState, found: impl Fn(&PodImage) -> Option<(i64, usize)>) -> i64 {
    st.images
        .iter()
        .filter_map(|img| {
            found(img).map(|(size, num_nodes)| {
                img.containers * scaled_image_score(size, num_nodes, st.total_nodes)
            })
        })
        .sum()
}

/// Scores a node without the index: from the cache's image states when it has them, else
/// from the node object.
fn score_directly(st: &ImageScoreState, node: &NodeInfo) -> i64 {
    let sum = if node.image_states.is_empty() {
        image_sum(st, |img| {
            image_size(&node.node, &img.name).map(|size| (size, img.num_nodes))
        })
    } else {
        image_sum(st, |img| {
            node.image_states
                .get(&img.name)
                .map(|s| (s.size, s.num_nodes))
        })
    };
    calculate_priority(sum, st.num_containers)
}

impl PreScorePlugin for ImageLocality {
    fn pre_score(&self, state: &mut CycleState, pod: &PodInfo, nodes: &[Arc<NodeInfo>]) -> Status {
        let mut st = match state.read::<ImageScoreState>(STATE_KEY) {
            Some(st) => st.clone(),
            None => {
                let (mut images, num_containers) = pod_images(&pod.pod);
                for i in &mut images {
                    i.num_nodes = nodes
                        .iter()
                        .filter(|n| image_size(&n.node, &i.name).is_some())
                        .count();
                }
                ImageScoreState {
                    images,
                    num_containers,
                    total_nodes: nodes.len(),
                    indexed: false,
                    scores: AddrMap::default(),
                }
            }
        };
        let mut scores = AddrMap::with_capacity_and_hasher(nodes.len(), Default::default());
        if st.indexed && st.images.iter().any(|i| i.id.is_some()) {
            let index = self.index.lock().unwrap_or_else(|e| e.into_inner());
            for n in nodes {
                let score = match index.slot(n) {
                    Some(slot) if n.image_states.is_empty() => {
                        let sum = image_sum(&st, |img| {
                            let id = img.id?;
                            let i = slot.images.binary_search_by_key(&id, |(i, _)| *i).ok()?;
                            Some((slot.images[i].1, img.num_nodes))
                        });
                        calculate_priority(sum, st.num_containers)
                    }
                    _ => score_directly(&st, n),
                };
                scores.insert(addr(n), score);
            }
        } else if st.indexed {
            // No node has any of the pod's images.
            for n in nodes {
                let score = if n.image_states.is_empty() {
                    0
                } else {
                    score_directly(&st, n)
                };
                scores.insert(addr(n), score);
            }
        } else {
            for n in nodes {
                scores.insert(addr(n), score_directly(&st, n));
            }
        }
        st.scores = scores;
        state.write(STATE_KEY, st);
        Status::success()
    }
}

impl ScorePlugin for ImageLocality {
    fn score(&self, state: &CycleState, pod: &PodInfo, node: &NodeInfo) -> (i64, Status) {
        let score = match state.read::<ImageScoreState>(STATE_KEY) {
            Some(st) => match st.scores.get(&addr(node)) {
                Some(s) => *s,
                None => score_directly(st, node),
            },
            None => {
                // Without PreFilter or PreScore there is no spread to go by: count each
                // image as if every node had it.
                let (mut images, num_containers) = pod_images(&pod.pod);
                for i in &mut images {
                    i.num_nodes = 1;
                }
                let st = ImageScoreState {
                    images,
                    num_containers,
                    total_nodes: 1,
                    ..Default::default()
                };
                score_directly(&st, node)
            }
        };
        (score, Status::success())
    }
}

/// Builds ImageLocality (it takes no args).
pub fn new(_args: Option<&Value>) -> Result<PluginSet, String> {
    Ok(plugin_set!(
        ImageLocality::default(),
        pre_filter,
        pre_score,
        score
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::framework::types::ImageState;
    use crate::plugins::testing::{
        NodeBuilder, PodBuilder, node, run_score, score_with_state, snapshot,
    };

    fn pod(images: &[&str]) -> PodBuilder {
        images
            .iter()
            .fold(PodBuilder::new("p"), |p, i| p.container(i, &[]))
    }

    fn m1() -> NodeBuilder {
        node("machine1")
            .image(&["gcr.io/40:latest", "gcr.io/40:v1"], 40 * MB)
            .image(&["gcr.io/300:latest", "gcr.io/300:v1"], 300 * MB)
            .image(&["gcr.io/2000:latest"], 2000 * MB)
    }

    fn m2() -> NodeBuilder {
        node("machine2")
            .image(&["gcr.io/250:latest"], 250 * MB)
            .image(&["gcr.io/10:latest", "gcr.io/10:v1"], 10 * MB)
    }

    fn m3() -> NodeBuilder {
        node("machine3")
            .image(&["gcr.io/600:latest"], 600 * MB)
            .image(&["gcr.io/40:latest"], 40 * MB)
            .image(&["gcr.io/900:latest"], 900 * MB)
    }

    fn scores(pod: PodBuilder, nodes: Vec<NodeBuilder>) -> Vec<i64> {
        let set = new(None).unwrap();
        let snap = snapshot(nodes.into_iter().map(NodeBuilder::info).collect());
        run_score(&set, &pod.info(), &snap).unwrap()
    }

    #[test]
    fn names() {
        for (given, want) in [
            ("gcr.io/10", "gcr.io/10:latest"),
            ("gcr.io/10:v1", "gcr.io/10:v1"),
            ("nginx", "nginx:latest"),
            ("localhost:5000/img", "localhost:5000/img:latest"),
            ("localhost:5000/img:1", "localhost:5000/img:1"),
            ("docker.io/img@sha256:abc", "docker.io/img@sha256:abc"),
            ("", ":latest"),
        ] {
            assert_eq!(normalized_image_name(given), want, "{given}");
        }
    }

    #[test]
    fn score() {
        let cases: Vec<(&str, PodBuilder, Vec<NodeBuilder>, Vec<i64>)> = vec![
            (
                // machine1: 40MB * 1/2 = 20MB < 23MB -> 0.
                // machine2: 250MB * 1/2 = 125MB -> 100 * (125 - 23) / (2000 - 23) = 5.
                "two images on two nodes, the larger wins",
                pod(&["gcr.io/40", "gcr.io/250"]),
                vec![m1(), m2()],
                vec![0, 5],
            ),
            (
                // Three containers: the maximum is 3000MB.
                // machine1: 300MB / 2 = 150MB -> 100 * (150 - 23) / (3000 - 23) = 4.
                // machine2: (250MB + 10MB) / 2 = 130MB -> 3.
                "tags are matched as given",
                pod(&["gcr.io/300:latest", "gcr.io/250", "gcr.io/10:v1"]),
                vec![m1(), m2()],
                vec![4, 3],
            ),
            (
                // One container: the maximum is 1000MB.
                // machine1: 2000MB / 3 = 666MB -> 100 * (666 - 23) / (1000 - 23) = 65.
                "one image on one of three nodes",
                pod(&["gcr.io/2000"]),
                vec![m1(), m2(), m3()],
                vec![65, 0, 0],
            ),
            (
                // gcr.io/40 is on machine1 and machine3: 40MB * 2/3 = 26MB.
                "an image on two of three nodes",
                pod(&["gcr.io/40"]),
                vec![m1(), m2(), m3()],
                vec![0, 0, 0],
            ),
            (
                "no images present",
                pod(&["gcr.io/none"]),
                vec![m1(), m2()],
                vec![0, 0],
            ),
            (
                // Each container counts; 600MB * 1/3 = 200MB twice = 400MB of 2000MB.
                "the same image in two containers counts twice",
                pod(&["gcr.io/600", "gcr.io/600"]),
                vec![m1(), m2(), m3()],
                vec![0, 0, 19],
            ),
        ];
        for (name, pod, nodes, want) in cases {
            assert_eq!(scores(pod, nodes), want, "{name}");
        }
    }

    #[test]
    fn init_containers_count() {
        // One init container and one container: the max threshold is 2000MB.
        let p = PodBuilder::new("p")
            .init_container("gcr.io/2000", &[], false)
            .container("gcr.io/10", &[]);
        // machine1: 2000MB * 1/2 = 1000MB -> 100 * (1000 - 23) / (2000 - 23) = 49.
        assert_eq!(scores(p, vec![m1(), m2()]), vec![49, 0]);
    }

    #[test]
    fn index_follows_snapshots() {
        let set = new(None).unwrap();
        let p = pod(&["gcr.io/40"]).info();
        let snap = snapshot(vec![m1().info(), m3().info()]);
        let mut state = CycleState::default();
        set.pre_filter
            .as_ref()
            .unwrap()
            .pre_filter(&mut state, &p, &snap);
        let st = state.read::<ImageScoreState>(STATE_KEY).unwrap();
        assert_eq!((st.images[0].num_nodes, st.total_nodes), (2, 2));
        // machine3 replaced by a node object without the image; a node added.
        let snap = snapshot(vec![
            snap.nodes[0].clone(),
            node("machine3").info(),
            m2().info(),
        ]);
        let mut state = CycleState::default();
        set.pre_filter
            .as_ref()
            .unwrap()
            .pre_filter(&mut state, &p, &snap);
        let st = state.read::<ImageScoreState>(STATE_KEY).unwrap();
        assert_eq!((st.images[0].num_nodes, st.total_nodes), (1, 3));
        // A smaller snapshot drops the trailing nodes' images.
        let snap = snapshot(vec![m2().info()]);
        let mut state = CycleState::default();
        set.pre_filter
            .as_ref()
            .unwrap()
            .pre_filter(&mut state, &p, &snap);
        let st = state.read::<ImageScoreState>(STATE_KEY).unwrap();
        assert_eq!((st.images[0].num_nodes, st.total_nodes), (0, 1));
    }

    #[test]
    fn index_bookkeeping() {
        let mut index = ImageIndex::default();
        let a = m1().info();
        let b = m2().info();
        index.sync(&[a.clone(), b.clone()]);
        let count = |index: &ImageIndex, name: &str| {
            index
                .ids
                .get(name)
                .map_or(0, |id| index.counts[*id as usize])
        };
        assert_eq!(count(&index, "gcr.io/40:v1"), 1);
        assert_eq!(index.ids.len(), 8);
        // Reordered: every node is still found, with its own images.
        index.sync(&[b.clone(), a.clone()]);
        let id40 = index.ids["gcr.io/40:latest"];
        let slot = index.slot(&a).unwrap();
        assert!(slot.images.iter().any(|(id, _)| *id == id40));
        assert!(
            !index
                .slot(&b)
                .unwrap()
                .images
                .iter()
                .any(|(id, _)| *id == id40)
        );
        assert_eq!(count(&index, "gcr.io/40:latest"), 1);
        // A new node info for the same node object keeps the images.
        let a2 = Arc::new((*a).clone());
        index.sync(&[b.clone(), a2.clone()]);
        assert!(index.slot(&a).is_none());
        assert!(index.slot(&a2).is_some());
        assert_eq!(count(&index, "gcr.io/40:latest"), 1);
        // Nodes gone: their images are forgotten and the ids reused.
        index.sync(std::slice::from_ref(&b));
        assert_eq!(count(&index, "gcr.io/40:latest"), 0);
        assert_eq!(index.ids.len(), 3);
        let before = index.names.len();
        index.sync(&[b.clone(), m3().info()]);
        assert_eq!(index.names.len(), before);
        assert_eq!(count(&index, "gcr.io/40:latest"), 1);
        assert_eq!(count(&index, "gcr.io/900:latest"), 1);
        index.sync(&[]);
        assert!(index.ids.is_empty() && index.by_addr.is_empty());
    }

    #[test]
    fn spread_counts_the_whole_snapshot() {
        // Only machine1 is scored (the others were filtered out), yet the spread is over
        // all three nodes: 2000MB / 3 -> 65, not 2000MB / 1 -> 100.
        let set = new(None).unwrap();
        let snap = snapshot(vec![m1().info(), m2().info(), m3().info()]);
        let p = pod(&["gcr.io/2000"]).info();
        let mut state = CycleState::default();
        set.pre_filter
            .as_ref()
            .unwrap()
            .pre_filter(&mut state, &p, &snap);
        let got = score_with_state(&set, &mut state, &p, &snap, &["machine1"]).unwrap();
        assert_eq!(got, vec![("machine1".to_owned(), 65)]);
        // Without PreFilter, the nodes given to PreScore are all there is.
        let mut state = CycleState::default();
        let got = score_with_state(&set, &mut state, &p, &snap, &["machine1"]).unwrap();
        assert_eq!(got, vec![("machine1".to_owned(), 100)]);
    }

    #[test]
    fn image_states_are_used_when_present() {
        let set = new(None).unwrap();
        let mut info = (*node("n").info()).clone();
        info.image_states.insert(
            "gcr.io/big:latest".into(),
            ImageState {
                size: 2000 * MB,
                num_nodes: 1,
            },
        );
        let snap = snapshot(vec![Arc::new(info), node("m").info()]);
        let got = run_score(&set, &pod(&["gcr.io/big"]).info(), &snap).unwrap();
        // 2000MB * 1/2 = 1000MB with one container: the maximum.
        assert_eq!(got, vec![100, 0]);
    }
}
