//! The in-memory key index of the embedded engine (pure, no IO).
//!
//! For every key it keeps the list of its revisions (like etcd's `keyIndex`) and the current
//! value, so reads at the current revision never touch disk and the committer knows each key's
//! previous record without a read. Values of past revisions stay on disk and are fetched by
//! revision.

use crate::types::KeyValue;
use bytes::Bytes;
use std::collections::{BTreeMap, BTreeSet};

/// One revision of one key.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct RevEntry {
    pub rev: i64,
    pub create_rev: i64,
    pub version: i64,
    pub deleted: bool,
}

/// The live record of a key.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Live {
    pub kv: KeyValue,
    /// Unix time in milliseconds after which the key expires.
    pub expires_at: Option<i64>,
}

#[derive(Debug, Default)]
struct KeyHistory {
    /// Ascending by revision.
    revs: Vec<RevEntry>,
    live: Option<Live>,
}

/// One committed change, as applied to the index.
#[derive(Clone, Debug)]
pub(crate) enum Change {
    /// The key now holds `live`.
    Put(Live),
    /// The key was deleted at `rev`.
    Delete { key: Bytes, rev: i64 },
}

impl Change {
    pub(crate) fn rev(&self) -> i64 {
        match self {
            Change::Put(live) => live.kv.mod_revision,
            Change::Delete { rev, .. } => *rev,
        }
    }
}

/// A record found by a read: complete when it is the live one, otherwise its value must be
/// fetched from disk by `mod_revision`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Found {
    Complete(KeyValue),
    NeedsValue(KeyValue),
}

/// The result of [`Index::range`].
#[derive(Debug, Default)]
pub(crate) struct IndexRange {
    pub found: Vec<Found>,
    pub count: i64,
    pub more: bool,
}

/// Key → history, plus the head and compaction revisions and the expiry schedule.
#[derive(Debug, Default)]
pub(crate) struct Index {
    keys: BTreeMap<Bytes, KeyHistory>,
    /// Revision of the last committed write.
    pub head: i64,
    /// Compaction point.
    pub compacted: i64,
    expiries: BTreeSet<(i64, Bytes)>,
}

impl Index {
    /// The live record of `key`.
    pub(crate) fn live(&self, key: &[u8]) -> Option<&Live> {
        self.keys.get(key).and_then(|h| h.live.as_ref())
    }

    /// Applies a committed change (revisions must be applied in increasing order).
    pub(crate) fn apply(&mut self, change: Change) {
        let rev = change.rev();
        debug_assert!(rev > self.head, "revision {rev} after head {}", self.head);
        self.head = rev;
        match change {
            Change::Put(live) => {
                let key = live.kv.key.clone();
                let hist = self.keys.entry(key.clone()).or_default();
                if let Some(old) = hist.live.as_ref().and_then(|l| l.expires_at) {
                    self.expiries.remove(&(old, key.clone()));
                }
                if let Some(at) = live.expires_at {
                    self.expiries.insert((at, key));
                }
                hist.revs.push(RevEntry {
                    rev,
                    create_rev: live.kv.create_revision,
                    version: live.kv.version,
                    deleted: false,
                });
                hist.live = Some(live);
            }
            Change::Delete { key, rev } => {
                let hist = self.keys.entry(key.clone()).or_default();
                if let Some(old) = hist.live.take().and_then(|l| l.expires_at) {
                    self.expiries.remove(&(old, key));
                }
                hist.revs.push(RevEntry {
                    rev,
                    create_rev: 0,
                    version: 0,
                    deleted: true,
                });
            }
        }
    }

    /// Restores one row during start-up (rows in revision order; `live` for rows that are the
    /// newest of their key and not deletions).
    pub(crate) fn load(&mut self, key: Bytes, entry: RevEntry) {
        self.head = self.head.max(entry.rev);
        let hist = self.keys.entry(key).or_default();
        hist.revs.push(entry);
        hist.live = None;
    }

    /// Sets the live record of a key restored by [`Index::load`].
    pub(crate) fn load_live(&mut self, live: Live) {
        let key = live.kv.key.clone();
        if let Some(at) = live.expires_at {
            self.expiries.insert((at, key.clone()));
        }
        self.keys.entry(key).or_default().live = Some(live);
    }

    /// Keys whose newest revision is a live put, with that revision (for start-up loading).
    pub(crate) fn live_candidates(&self) -> Vec<(Bytes, RevEntry)> {
        self.keys
            .iter()
            .filter_map(|(k, h)| {
                let last = h.revs.last()?;
                (!last.deleted).then(|| (k.clone(), *last))
            })
            .collect()
    }

    /// The record of `key` at revision `at` (which must be within `[compacted, head]`).
    fn lookup(key: &Bytes, hist: &KeyHistory, at: i64) -> Option<Found> {
        if let Some(live) = &hist.live
            && live.kv.mod_revision <= at
        {
            return Some(Found::Complete(live.kv.clone()));
        }
        let idx = hist.revs.partition_point(|e| e.rev <= at);
        let entry = hist.revs[..idx].last()?;
        if entry.deleted {
            return None;
        }
        Some(Found::NeedsValue(KeyValue {
            key: key.clone(),
            value: Bytes::new(),
            create_revision: entry.create_rev,
            mod_revision: entry.rev,
            version: entry.version,
        }))
    }

    /// Keys of `[start, end)` at revision `at`, at most `limit` (0: all) returned, all counted.
    pub(crate) fn range(
        &self,
        start: &Bytes,
        end: Option<&[u8]>,
        at: i64,
        limit: usize,
        count_only: bool,
    ) -> IndexRange {
        let mut out = IndexRange::default();
        let iter: Box<dyn Iterator<Item = (&Bytes, &KeyHistory)>> = match end {
            None => Box::new(self.keys.get_key_value(start).into_iter()),
            Some(end) if end != [0] && end <= &start[..] => return out,
            Some(end) => Box::new(
                self.keys
                    .range::<[u8], _>((std::ops::Bound::Included(&start[..]), unbounded_or(end))),
            ),
        };
        for (key, hist) in iter {
            let Some(found) = Self::lookup(key, hist, at) else {
                continue;
            };
            out.count += 1;
            if count_only {
                continue;
            }
            if limit == 0 || out.found.len() < limit {
                out.found.push(found);
            } else {
                out.more = true;
            }
        }
        out
    }

    /// Moves the compaction point to `rev` and drops the history it makes unreachable.
    /// Returns the revisions whose rows must be deleted from disk.
    pub(crate) fn compact(&mut self, rev: i64) -> Vec<i64> {
        self.compacted = self.compacted.max(rev);
        let mut doomed = Vec::new();
        self.keys.retain(|_, hist| {
            // Keep the newest entry at or below `rev` unless it is a deletion; drop the older.
            let idx = hist.revs.partition_point(|e| e.rev <= rev);
            if idx == 0 {
                return true;
            }
            let keep_from = if hist.revs[idx - 1].deleted {
                idx
            } else {
                idx - 1
            };
            doomed.extend(hist.revs.drain(..keep_from).map(|e| e.rev));
            !hist.revs.is_empty()
        });
        doomed.sort_unstable();
        doomed
    }

    /// Keys whose TTL has passed at `now_ms`, with the revision that set it.
    pub(crate) fn expired(&self, now_ms: i64) -> Vec<(Bytes, i64)> {
        self.expiries
            .iter()
            .take_while(|(at, _)| *at <= now_ms)
            .filter_map(|(_, key)| Some((key.clone(), self.live(key)?.kv.mod_revision)))
            .collect()
    }

    /// Number of keys with a live value.
    #[cfg(test)]
    pub(crate) fn live_keys(&self) -> usize {
        self.keys.values().filter(|h| h.live.is_some()).count()
    }
}

fn unbounded_or(end: &[u8]) -> std::ops::Bound<&[u8]> {
    if end == [0] {
        std::ops::Bound::Unbounded
    } else {
        std::ops::Bound::Excluded(end)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn put(idx: &mut Index, key: &'static str, value: &'static str) -> i64 {
        let rev = idx.head + 1;
        let (create, version) = match idx.live(key.as_bytes()) {
            Some(l) => (l.kv.create_revision, l.kv.version + 1),
            None => (rev, 1),
        };
        idx.apply(Change::Put(Live {
            kv: KeyValue {
                key: Bytes::from(key),
                value: Bytes::from(value),
                create_revision: create,
                mod_revision: rev,
                version,
            },
            expires_at: None,
        }));
        rev
    }

    fn del(idx: &mut Index, key: &'static str) -> i64 {
        let rev = idx.head + 1;
        idx.apply(Change::Delete {
            key: Bytes::from(key),
            rev,
        });
        rev
    }

    fn keys_at(idx: &Index, at: i64) -> Vec<(String, i64, bool)> {
        idx.range(&Bytes::from("a"), Some(b"\x00"), at, 0, false)
            .found
            .into_iter()
            .map(|f| match f {
                Found::Complete(kv) => (
                    String::from_utf8(kv.key.to_vec()).unwrap(),
                    kv.mod_revision,
                    true,
                ),
                Found::NeedsValue(kv) => (
                    String::from_utf8(kv.key.to_vec()).unwrap(),
                    kv.mod_revision,
                    false,
                ),
            })
            .collect()
    }

    #[test]
    fn reads_at_past_revisions_see_the_history() {
        let mut idx = Index::default();
        put(&mut idx, "a", "1"); // 1
        put(&mut idx, "b", "1"); // 2
        put(&mut idx, "a", "2"); // 3
        del(&mut idx, "b"); // 4
        put(&mut idx, "b", "3"); // 5
        assert_eq!(keys_at(&idx, 1), vec![("a".into(), 1, false)]);
        assert_eq!(
            keys_at(&idx, 2),
            vec![("a".into(), 1, false), ("b".into(), 2, false)]
        );
        assert_eq!(keys_at(&idx, 4), vec![("a".into(), 3, true)]);
        assert_eq!(
            keys_at(&idx, 5),
            vec![("a".into(), 3, true), ("b".into(), 5, true)]
        );
        let b = idx.live(b"b").unwrap();
        assert_eq!((b.kv.create_revision, b.kv.version), (5, 1));
        let a = idx.live(b"a").unwrap();
        assert_eq!((a.kv.create_revision, a.kv.version), (1, 2));
    }

    #[test]
    fn range_limits_counts_and_respects_bounds() {
        let mut idx = Index::default();
        for k in ["p/a", "p/b", "p/c", "q/a"] {
            put(&mut idx, k, "v");
        }
        let r = idx.range(&Bytes::from("p/"), Some(b"p0"), 4, 2, false);
        assert_eq!((r.found.len(), r.count, r.more), (2, 3, true));
        let r = idx.range(&Bytes::from("p/"), Some(b"p0"), 4, 0, true);
        assert_eq!((r.found.len(), r.count, r.more), (0, 3, false));
        let r = idx.range(&Bytes::from("p/b"), None, 4, 0, false);
        assert_eq!(r.count, 1);
        let r = idx.range(&Bytes::from("p/b"), Some(b"\x00"), 4, 0, false);
        assert_eq!(r.count, 3);
    }

    #[test]
    fn compaction_keeps_the_newest_revision_at_or_below_the_point() {
        let mut idx = Index::default();
        put(&mut idx, "a", "1"); // 1
        put(&mut idx, "a", "2"); // 2
        put(&mut idx, "b", "1"); // 3
        del(&mut idx, "b"); // 4
        put(&mut idx, "a", "3"); // 5
        put(&mut idx, "c", "1"); // 6
        let doomed = idx.compact(4);
        assert_eq!(doomed, vec![1, 3, 4]);
        assert_eq!(idx.compacted, 4);
        assert_eq!(keys_at(&idx, 4), vec![("a".into(), 2, false)]);
        assert_eq!(keys_at(&idx, 6).len(), 2);
        // Compacting again at the same point removes nothing more.
        assert!(idx.compact(4).is_empty());
        assert_eq!(idx.compact(6), vec![2]);
    }

    #[test]
    fn expiries_follow_the_live_record() {
        let mut idx = Index::default();
        let live = |rev, at| {
            Change::Put(Live {
                kv: KeyValue {
                    key: Bytes::from("e"),
                    value: Bytes::new(),
                    create_revision: 1,
                    mod_revision: rev,
                    version: rev,
                },
                expires_at: at,
            })
        };
        idx.apply(live(1, Some(100)));
        assert_eq!(idx.expired(99), vec![]);
        assert_eq!(idx.expired(100), vec![(Bytes::from("e"), 1)]);
        idx.apply(live(2, Some(500)));
        assert_eq!(idx.expired(100), vec![]);
        idx.apply(live(3, None));
        assert_eq!(idx.expired(1_000), vec![]);
        idx.apply(live(4, Some(10)));
        idx.apply(Change::Delete {
            key: Bytes::from("e"),
            rev: 5,
        });
        assert_eq!(idx.expired(1_000), vec![]);
        assert_eq!(idx.live_keys(), 0);
    }
}
