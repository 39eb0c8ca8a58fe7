//! Watch fan-out for the embedded engine.
//!
//! The committer publishes each committed batch of events, in revision order, to every
//! subscriber whose key range matches. Publishing never waits: each subscriber has a backlog
//! budget, and one that exceeds it is cut off (its stream ends with
//! [`Error::WatcherLagged`]) instead of slowing writers or silently losing events.

use crate::error::{Error, Result};
use crate::types::{Event, in_range};
use bytes::Bytes;
use parking_lot::Mutex;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use tokio::sync::mpsc;

/// Default number of undelivered events a watcher may have before it is cut off.
pub(crate) const DEFAULT_MAX_BACKLOG: usize = 100_000;

struct Slot {
    id: u64,
    key: Bytes,
    end: Option<Bytes>,
    tx: mpsc::UnboundedSender<Vec<Event>>,
    shared: Arc<SubShared>,
}

#[derive(Default)]
struct SubShared {
    backlog: AtomicUsize,
    lagged: AtomicBool,
}

struct HubInner {
    published: i64,
    next_id: u64,
    slots: Vec<Slot>,
    closed: bool,
}

/// The fan-out point between the committer and the watchers.
pub(crate) struct Hub {
    inner: Mutex<HubInner>,
    max_backlog: usize,
}

impl Hub {
    /// A hub whose last published revision is `published`.
    pub(crate) fn new(published: i64, max_backlog: usize) -> Arc<Self> {
        Arc::new(Self {
            inner: Mutex::new(HubInner {
                published,
                next_id: 0,
                slots: Vec::new(),
                closed: false,
            }),
            max_backlog,
        })
    }

    /// Registers a subscriber for `[key, end)`. Every event with a revision greater than the
    /// returned subscription's `published` will be delivered to it.
    pub(crate) fn subscribe(self: &Arc<Self>, key: Bytes, end: Option<Bytes>) -> Subscription {
        let (tx, rx) = mpsc::unbounded_channel();
        let shared = Arc::new(SubShared::default());
        let mut inner = self.inner.lock();
        let id = inner.next_id;
        inner.next_id += 1;
        if !inner.closed {
            inner.slots.push(Slot {
                id,
                key,
                end,
                tx,
                shared: shared.clone(),
            });
        }
        Subscription {
            id,
            published: inner.published,
            hub: self.clone(),
            rx,
            shared,
            max_backlog: self.max_backlog,
        }
    }

    /// Delivers a committed batch (in revision order, all above the last published revision).
    pub(crate) fn publish(&self, events: &[Event]) {
        let Some(last) = events.last() else { return };
        let mut inner = self.inner.lock();
        debug_assert!(events[0].revision() > inner.published);
        inner.published = last.revision();
        let max = self.max_backlog;
        inner.slots.retain(|slot| {
            let matching: Vec<Event> = events
                .iter()
                .filter(|e| in_range(&e.kv.key, &slot.key, slot.end.as_deref()))
                .cloned()
                .collect();
            if matching.is_empty() {
                return !slot.tx.is_closed();
            }
            let n = matching.len();
            let backlog = slot.shared.backlog.fetch_add(n, Ordering::AcqRel) + n;
            if backlog > max {
                slot.shared.lagged.store(true, Ordering::Release);
                return false;
            }
            slot.tx.send(matching).is_ok()
        });
    }

    /// Ends every subscription (the store is closing).
    pub(crate) fn close(&self) {
        let mut inner = self.inner.lock();
        inner.closed = true;
        inner.slots.clear();
    }

    fn unsubscribe(&self, id: u64) {
        self.inner.lock().slots.retain(|s| s.id != id);
    }

    #[cfg(test)]
    pub(crate) fn subscribers(&self) -> usize {
        self.inner.lock().slots.len()
    }
}

/// One watcher's end of the hub. Dropping it unsubscribes.
pub(crate) struct Subscription {
    id: u64,
    /// The last revision published before this subscription started receiving.
    pub(crate) published: i64,
    hub: Arc<Hub>,
    rx: mpsc::UnboundedReceiver<Vec<Event>>,
    shared: Arc<SubShared>,
    max_backlog: usize,
}

impl Subscription {
    /// The next batch; `None` when the hub closed; an error when this watcher was cut off.
    pub(crate) async fn recv(&mut self) -> Option<Result<Vec<Event>>> {
        match self.rx.recv().await {
            Some(batch) => {
                self.shared.backlog.fetch_sub(batch.len(), Ordering::AcqRel);
                Some(Ok(batch))
            }
            None if self.shared.lagged.load(Ordering::Acquire) => Some(Err(Error::WatcherLagged {
                limit: self.max_backlog,
            })),
            None => None,
        }
    }
}

impl Drop for Subscription {
    fn drop(&mut self) {
        self.hub.unsubscribe(self.id);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::types::{EventKind, KeyValue};

    fn put(key: &'static str, rev: i64) -> Event {
        Event {
            kind: EventKind::Put,
            kv: KeyValue {
                key: Bytes::from(key),
                value: Bytes::from_static(b"v"),
                create_revision: rev,
                mod_revision: rev,
                version: 1,
            },
            prev: None,
        }
    }

    #[tokio::test]
    async fn delivers_matching_events_in_order() {
        let hub = Hub::new(0, 10);
        let mut a = hub.subscribe(Bytes::from("a/"), Some(Bytes::from("a0")));
        let mut b = hub.subscribe(Bytes::from("b"), None);
        assert_eq!(a.published, 0);
        hub.publish(&[put("a/1", 1), put("b", 2), put("a/2", 3)]);
        let got: Vec<i64> = a
            .recv()
            .await
            .unwrap()
            .unwrap()
            .iter()
            .map(|e| e.revision())
            .collect();
        assert_eq!(got, vec![1, 3]);
        let got: Vec<i64> = b
            .recv()
            .await
            .unwrap()
            .unwrap()
            .iter()
            .map(|e| e.revision())
            .collect();
        assert_eq!(got, vec![2]);
        let late = hub.subscribe(Bytes::from("a/"), Some(Bytes::from("a0")));
        assert_eq!(late.published, 3);
    }

    #[tokio::test]
    async fn slow_watcher_is_cut_off_with_an_error_and_writers_never_wait() {
        let hub = Hub::new(0, 5);
        let mut slow = hub.subscribe(Bytes::from("k"), Some(Bytes::from("l")));
        for rev in 1..=20 {
            hub.publish(&[put("k", rev)]);
        }
        assert_eq!(hub.subscribers(), 0);
        // What was queued before the cut is still delivered, then the error.
        let mut seen = 0;
        loop {
            match slow.recv().await {
                Some(Ok(batch)) => seen += batch.len(),
                Some(Err(Error::WatcherLagged { limit: 5 })) => break,
                other => panic!("unexpected {other:?}"),
            }
        }
        assert_eq!(seen, 5);
    }

    #[tokio::test]
    async fn dropping_a_subscription_unsubscribes_and_close_ends_streams() {
        let hub = Hub::new(0, 10);
        let a = hub.subscribe(Bytes::from("k"), None);
        let mut b = hub.subscribe(Bytes::from("k"), None);
        assert_eq!(hub.subscribers(), 2);
        drop(a);
        assert_eq!(hub.subscribers(), 1);
        hub.close();
        assert!(b.recv().await.is_none());
    }
}
