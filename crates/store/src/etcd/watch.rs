//! Turns an etcd watch into the crate's [`WatchStream`].

use super::convert::{event, map_error};
use crate::error::{Error, Result};
use crate::types::{Event, WatchStream};
use std::collections::VecDeque;
use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};

/// One etcd watch being read. Owns etcd-client's stream handle: dropping it (with the
/// [`WatchStream`]) closes the gRPC stream, which cancels the watch in etcd.
pub(super) struct EtcdWatch {
    stream: etcd_client::WatchStream,
    /// Events received but not yet handed out.
    pending: VecDeque<Event>,
    /// The error that ends the stream, once the pending events are out.
    failure: Option<Error>,
    /// Set once the stream has ended.
    done: bool,
    /// The caller's `after_revision`, reported in [`Error::Compacted`].
    after_revision: i64,
    /// The store's best known compaction point, raised when etcd reports one.
    compacted: Arc<AtomicI64>,
}

impl EtcdWatch {
    /// Wraps a freshly created etcd watch.
    pub(super) fn new(
        stream: etcd_client::WatchStream,
        after_revision: i64,
        compacted: Arc<AtomicI64>,
    ) -> Self {
        Self {
            stream,
            pending: VecDeque::new(),
            failure: None,
            done: false,
            after_revision,
            compacted,
        }
    }

    /// Waits for etcd to confirm the watch. Fails when etcd refused it outright; a compacted
    /// start revision is reported on the stream instead, as for any later failure.
    pub(super) async fn confirm(&mut self) -> Result<()> {
        let resp = self
            .stream
            .message()
            .await
            .map_err(|e| map_error("creating an etcd watch", self.after_revision, 0, e))?
            .ok_or_else(|| Error::backend("creating an etcd watch", "etcd closed the stream"))?;
        if resp.canceled() && resp.compact_revision() == 0 {
            return Err(self.cancel_error(resp.cancel_reason()));
        }
        self.absorb(resp);
        Ok(())
    }

    /// Takes one etcd response: queues its events or records why the watch ended.
    fn absorb(&mut self, resp: etcd_client::WatchResponse) {
        self.pending.extend(resp.events().iter().filter_map(event));
        let compacted = resp.compact_revision();
        if compacted != 0 {
            self.compacted.fetch_max(compacted, Ordering::Relaxed);
            self.failure = Some(Error::Compacted {
                requested: self.after_revision,
                compacted,
            });
        } else if resp.canceled() {
            self.failure = Some(self.cancel_error(resp.cancel_reason()));
        }
    }

    fn cancel_error(&self, reason: &str) -> Error {
        if reason.contains("required revision is a future revision") {
            return Error::FutureRevision {
                requested: self.after_revision,
                current: 0,
            };
        }
        let reason = if reason.is_empty() {
            "etcd canceled the watch".to_owned()
        } else {
            format!("etcd canceled the watch: {reason}")
        };
        Error::backend("watching etcd", reason)
    }

    /// The next event, or the error that ends the watch, or `None` after that.
    async fn next(&mut self) -> Option<Result<Event>> {
        loop {
            if let Some(ev) = self.pending.pop_front() {
                return Some(Ok(ev));
            }
            if self.done {
                return None;
            }
            if let Some(err) = self.failure.take() {
                self.done = true;
                return Some(Err(err));
            }
            match self.stream.message().await {
                Ok(Some(resp)) => self.absorb(resp),
                Ok(None) => {
                    self.failure = Some(Error::backend(
                        "watching etcd",
                        "etcd closed the watch stream",
                    ));
                }
                Err(e) => {
                    self.failure = Some(map_error("watching etcd", self.after_revision, 0, e));
                }
            }
        }
    }

    /// The crate's stream over this watch.
    pub(super) fn into_stream(self) -> WatchStream {
        WatchStream::new(futures::stream::unfold(self, |mut watch| async move {
            let item = watch.next().await?;
            Some((item, watch))
        }))
    }
}
