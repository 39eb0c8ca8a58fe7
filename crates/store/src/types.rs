//! Plain data types shared by every engine.

use crate::error::Result;
use bytes::Bytes;
use futures::Stream;
use std::pin::Pin;
use std::task::{Context, Poll};

/// Largest value accepted, as etcd's default request limit (1.5 MiB).
pub const MAX_VALUE_BYTES: usize = 1536 * 1024;

/// One key with its value and revision bookkeeping, as etcd's `mvccpb.KeyValue`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct KeyValue {
    /// The key.
    pub key: Bytes,
    /// The value (empty in delete events).
    pub value: Bytes,
    /// Revision of the write that created the key (since its last deletion).
    pub create_revision: i64,
    /// Revision of the last write to the key.
    pub mod_revision: i64,
    /// Number of writes since creation (1 after create).
    pub version: i64,
}

/// Result of a successful delete.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Deleted {
    /// The record as it was before the delete.
    pub prev: KeyValue,
    /// The revision of the delete itself.
    pub revision: i64,
}

/// What a watch event reports.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum EventKind {
    /// The key was created or updated.
    Put,
    /// The key was deleted (explicitly or by expiry of its TTL).
    Delete,
}

/// One change seen by a watch.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Event {
    /// Put or delete.
    pub kind: EventKind,
    /// The new record; for deletes the key with `mod_revision` = the delete's revision, an empty
    /// value and zero create revision and version (as etcd reports it).
    pub kv: KeyValue,
    /// The record before this change, if the key existed.
    pub prev: Option<KeyValue>,
}

impl Event {
    /// The revision this event was committed at.
    pub fn revision(&self) -> i64 {
        self.kv.mod_revision
    }
}

/// Smallest key greater than every key starting with `prefix` (etcd's `GetPrefixRangeEnd`).
///
/// For a prefix of only `0xff` bytes (or an empty prefix) this is `[0]`, which etcd reads as
/// "to the end of the keyspace".
pub fn prefix_end(prefix: &[u8]) -> Bytes {
    let mut end = prefix.to_vec();
    while let Some(last) = end.last_mut() {
        if *last < 0xff {
            *last += 1;
            return Bytes::from(end);
        }
        end.pop();
    }
    Bytes::from_static(&[0])
}

/// Whether `key` falls in `[start, end)`; `end == None` selects `start` alone and `end == [0]`
/// means "every key from `start`".
pub(crate) fn in_range(key: &[u8], start: &[u8], end: Option<&[u8]>) -> bool {
    match end {
        None => key == start,
        Some([0]) => key >= start,
        Some(end) => key >= start && key < end,
    }
}

/// A read of one key or a key range.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RangeRequest {
    /// First key (or the only key when `range_end` is `None`).
    pub key: Bytes,
    /// Exclusive end of the range; `[0]` means to the end of the keyspace.
    pub range_end: Option<Bytes>,
    /// Most keys to return; 0 means no limit.
    pub limit: usize,
    /// Revision to read at; 0 means current.
    pub revision: i64,
    /// Return only the count, no keys.
    pub count_only: bool,
}

impl RangeRequest {
    /// One key.
    pub fn key(key: impl Into<Bytes>) -> Self {
        Self {
            key: key.into(),
            ..Self::default()
        }
    }

    /// Every key starting with `prefix`.
    pub fn prefix(prefix: impl Into<Bytes>) -> Self {
        let key: Bytes = prefix.into();
        let end = prefix_end(&key);
        Self {
            key,
            range_end: Some(end),
            ..Self::default()
        }
    }

    /// Keys in `[start, end)`.
    pub fn between(start: impl Into<Bytes>, end: impl Into<Bytes>) -> Self {
        Self {
            key: start.into(),
            range_end: Some(end.into()),
            ..Self::default()
        }
    }

    /// Sets the limit.
    pub fn limit(mut self, limit: usize) -> Self {
        self.limit = limit;
        self
    }

    /// Sets the revision to read at.
    pub fn revision(mut self, revision: i64) -> Self {
        self.revision = revision;
        self
    }

    /// Asks for the count only.
    pub fn count_only(mut self) -> Self {
        self.count_only = true;
        self
    }

    /// The request for the page after `resp`: same range end and revision, starting just after
    /// the last key returned. `None` when `resp` was the last page.
    pub fn next_page(&self, resp: &RangeResponse) -> Option<Self> {
        if !resp.more {
            return None;
        }
        let last = resp.kvs.last()?;
        let mut start = last.key.to_vec();
        start.push(0);
        Some(Self {
            key: Bytes::from(start),
            revision: resp.read_revision(self.revision),
            ..self.clone()
        })
    }
}

/// The answer to a [`RangeRequest`].
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RangeResponse {
    /// The records, in key order (at most `limit`).
    pub kvs: Vec<KeyValue>,
    /// Whether more keys remain in the range after the last one returned.
    pub more: bool,
    /// Number of keys in the whole range at the read revision (not limited).
    pub count: i64,
    /// The store's current revision when the read was served (etcd's header revision).
    pub revision: i64,
}

impl RangeResponse {
    /// The revision the read was evaluated at: the requested one, or the header revision for a
    /// read at "current".
    pub fn read_revision(&self, requested: i64) -> i64 {
        if requested > 0 {
            requested
        } else {
            self.revision
        }
    }
}

/// What to watch.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct WatchRequest {
    /// First key (or the only key when `range_end` is `None`).
    pub key: Bytes,
    /// Exclusive end of the range; `[0]` means to the end of the keyspace.
    pub range_end: Option<Bytes>,
    /// Deliver changes with a revision strictly greater than this one (0: from now on).
    pub after_revision: i64,
}

impl WatchRequest {
    /// Every key starting with `prefix`, changes after `after_revision`.
    pub fn prefix(prefix: impl Into<Bytes>, after_revision: i64) -> Self {
        let key: Bytes = prefix.into();
        let end = prefix_end(&key);
        Self {
            key,
            range_end: Some(end),
            after_revision,
        }
    }

    /// One key, changes after `after_revision`.
    pub fn key(key: impl Into<Bytes>, after_revision: i64) -> Self {
        Self {
            key: key.into(),
            range_end: None,
            after_revision,
        }
    }
}

/// Store-wide facts.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Status {
    /// Revision of the last committed write.
    pub revision: i64,
    /// Revisions at or below this one (except the newest of each live key) are gone.
    pub compacted_revision: i64,
    /// Bytes used on disk by the engine's files (0 when unknown).
    pub db_size_bytes: u64,
}

/// A stream of watch events in revision order. It ends with an error when the watch cannot go
/// on (for example [`crate::Error::WatcherLagged`] or [`crate::Error::Compacted`]).
pub struct WatchStream {
    inner: Pin<Box<dyn Stream<Item = Result<Event>> + Send>>,
}

impl WatchStream {
    pub(crate) fn new(inner: impl Stream<Item = Result<Event>> + Send + 'static) -> Self {
        Self {
            inner: Box::pin(inner),
        }
    }

    /// The next event; `None` when the stream ended cleanly (the store was closed).
    pub async fn next(&mut self) -> Option<Result<Event>> {
        futures::StreamExt::next(&mut self.inner).await
    }
}

impl Stream for WatchStream {
    type Item = Result<Event>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        self.inner.as_mut().poll_next(cx)
    }
}

impl std::fmt::Debug for WatchStream {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("WatchStream")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prefix_end_increments_last_byte() {
        assert_eq!(&prefix_end(b"/registry/pods/")[..], b"/registry/pods0");
        assert_eq!(&prefix_end(b"a\xff")[..], b"b");
        assert_eq!(&prefix_end(b"\xff\xff")[..], b"\x00");
        assert_eq!(&prefix_end(b"")[..], b"\x00");
    }

    #[test]
    fn range_membership() {
        assert!(in_range(b"a", b"a", None));
        assert!(!in_range(b"ab", b"a", None));
        assert!(in_range(b"ab", b"a", Some(b"b")));
        assert!(!in_range(b"b", b"a", Some(b"b")));
        assert!(in_range(b"zzz", b"a", Some(b"\x00")));
        assert!(!in_range(b"0", b"a", Some(b"\x00")));
    }

    #[test]
    fn next_page_starts_after_last_key_at_same_revision() {
        let req = RangeRequest::prefix("k/").limit(2);
        let kv = |k: &'static str| KeyValue {
            key: Bytes::from(k),
            value: Bytes::new(),
            create_revision: 1,
            mod_revision: 1,
            version: 1,
        };
        let resp = RangeResponse {
            kvs: vec![kv("k/a"), kv("k/b")],
            more: true,
            count: 3,
            revision: 9,
        };
        let next = req.next_page(&resp).unwrap();
        assert_eq!(&next.key[..], b"k/b\x00");
        assert_eq!(next.revision, 9);
        assert_eq!(next.range_end, req.range_end);
        let last = RangeResponse {
            more: false,
            ..resp
        };
        assert!(req.next_page(&last).is_none());
    }
}
