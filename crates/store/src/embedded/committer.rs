//! The single writer thread of the embedded engine: group commit.
//!
//! Requests queue on a channel. The committer takes everything queued (up to a bound), checks
//! each request's precondition against the index plus the effects of the requests before it in
//! the same batch, assigns consecutive revisions, and writes all rows in one SQLite transaction:
//! one fsync for the whole batch. Only after the commit is durable does it apply the changes to
//! the index, publish the events and answer the callers. If a commit fails, nothing of the batch
//! is applied and the engine refuses all later writes (after a failed fsync the state of the
//! file cannot be trusted).

use super::db::{self, Row};
use super::index::{Change, Index, Live};
use crate::error::{Error, Result};
use crate::hub::Hub;
use crate::types::{Deleted, Event, EventKind, KeyValue};
use bytes::Bytes;
use parking_lot::RwLock;
use rusqlite::Connection;
use std::collections::{HashMap, VecDeque};
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::mpsc::{Receiver, TryRecvError};
use tokio::sync::oneshot;

/// Most requests committed in one transaction.
const MAX_BATCH: usize = 1024;
/// Most compacted rows deleted in one transaction (writes are served between chunks).
const DELETE_CHUNK: usize = 8192;

/// A write the committer performs.
#[derive(Debug)]
pub(crate) enum Op {
    Create {
        key: Bytes,
        value: Bytes,
        expires_at: Option<i64>,
    },
    Update {
        key: Bytes,
        value: Bytes,
        expected: i64,
        expires_at: Option<i64>,
    },
    Delete {
        key: Bytes,
        expected: Option<i64>,
    },
    Compact {
        revision: i64,
    },
}

/// What a successful [`Op`] returns.
#[derive(Debug)]
pub(crate) enum Reply {
    Put(KeyValue),
    Deleted(Deleted),
    Compacted,
}

/// An [`Op`] with the channel its answer goes to.
pub(crate) struct Request {
    pub op: Op,
    pub reply: oneshot::Sender<Result<Reply>>,
}

/// State shared between the committer and the readers.
pub(crate) struct Shared {
    pub index: RwLock<Index>,
    pub hub: Arc<Hub>,
    pub path: PathBuf,
    pub reads: db::ReadPool,
}

pub(crate) struct Committer {
    conn: Connection,
    shared: Arc<Shared>,
    rx: Receiver<Request>,
    /// Compactions drawn from the queue while batching writes, served next.
    pending: VecDeque<Request>,
    failed: Option<String>,
}

/// What one request of a batch will do once the batch is durable.
struct Staged {
    outcome: Result<Reply>,
}

impl Committer {
    pub(crate) fn new(conn: Connection, shared: Arc<Shared>, rx: Receiver<Request>) -> Self {
        Self {
            conn,
            shared,
            rx,
            pending: VecDeque::new(),
            failed: None,
        }
    }

    /// Serves requests until every sender is gone, then closes the watch hub.
    pub(crate) fn run(mut self) {
        loop {
            let first = match self.pending.pop_front() {
                Some(r) => r,
                None => match self.rx.recv() {
                    Ok(r) => r,
                    Err(_) => break,
                },
            };
            if matches!(first.op, Op::Compact { .. }) {
                self.compact(first);
                continue;
            }
            let mut batch = vec![first];
            self.fill(&mut batch);
            self.commit(batch);
        }
        if let Err(e) = db::checkpoint(&self.conn, &self.shared.path, "TRUNCATE") {
            tracing::warn!("final checkpoint failed: {e}");
        }
        self.shared.hub.close();
    }

    /// Adds queued writes to `batch`; a queued compaction ends the batch and waits its turn.
    fn fill(&mut self, batch: &mut Vec<Request>) {
        while batch.len() < MAX_BATCH {
            match self.rx.try_recv() {
                Ok(r) if matches!(r.op, Op::Compact { .. }) => {
                    self.pending.push_back(r);
                    break;
                }
                Ok(r) => batch.push(r),
                Err(TryRecvError::Empty | TryRecvError::Disconnected) => break,
            }
        }
    }

    /// Commits every write already queued (used between compaction chunks).
    fn drain_writes(&mut self) {
        loop {
            let mut batch = Vec::new();
            self.fill(&mut batch);
            if batch.is_empty() {
                return;
            }
            self.commit(batch);
        }
    }

    fn commit(&mut self, batch: Vec<Request>) {
        if let Some(msg) = &self.failed {
            for r in batch {
                let _ = r.reply.send(Err(Error::Failed(msg.clone())));
            }
            return;
        }
        let mut staged = Vec::with_capacity(batch.len());
        let mut rows = Vec::new();
        let mut changes = Vec::new();
        let mut events = Vec::new();
        {
            let index = self.shared.index.read();
            let mut plan = Plan {
                index: &index,
                overlay: HashMap::new(),
                rev: index.head,
            };
            for req in &batch {
                let outcome = plan.stage(&req.op, &mut rows, &mut changes, &mut events);
                staged.push(Staged { outcome });
            }
        }
        if !rows.is_empty()
            && let Err(e) = db::insert_rows(&mut self.conn, &self.shared.path, &rows)
        {
            let msg = e.to_string();
            tracing::error!("write failed, refusing further writes: {msg}");
            self.failed = Some(msg.clone());
            for r in batch {
                let _ = r.reply.send(Err(Error::Failed(msg.clone())));
            }
            return;
        }
        if !changes.is_empty() {
            let mut index = self.shared.index.write();
            for c in changes {
                index.apply(c);
            }
        }
        self.shared.hub.publish(&events);
        for (req, s) in batch.into_iter().zip(staged) {
            let _ = req.reply.send(s.outcome);
        }
    }

    fn compact(&mut self, req: Request) {
        let Op::Compact { revision } = req.op else {
            unreachable!("compact called with a write")
        };
        let result = self.compact_to(revision).map(|()| Reply::Compacted);
        let _ = req.reply.send(result);
    }

    fn compact_to(&mut self, revision: i64) -> Result<()> {
        if let Some(msg) = &self.failed {
            return Err(Error::Failed(msg.clone()));
        }
        let doomed = {
            let mut index = self.shared.index.write();
            if revision > index.head {
                return Err(Error::FutureRevision {
                    requested: revision,
                    current: index.head,
                });
            }
            if revision <= index.compacted {
                return Err(Error::Compacted {
                    requested: revision,
                    compacted: index.compacted,
                });
            }
            index.compact(revision)
        };
        self.delete_rows(Some(revision), &doomed)
    }

    /// Deletes compacted rows in chunks, serving queued writes between chunks, then gives the
    /// space back to the file system. `revision` is recorded with the first chunk.
    pub(crate) fn delete_rows(&mut self, revision: Option<i64>, doomed: &[i64]) -> Result<()> {
        let path = self.shared.path.clone();
        let mut record = revision;
        let mut chunks = doomed.chunks(DELETE_CHUNK).peekable();
        if chunks.peek().is_none() {
            db::delete_revisions(&mut self.conn, &path, record, &[])?;
        }
        for chunk in chunks {
            db::delete_revisions(&mut self.conn, &path, record.take(), chunk)?;
            self.drain_writes();
        }
        db::reclaim(&mut self.conn, &path)
    }
}

/// Precondition checks and revision assignment for one batch.
struct Plan<'a> {
    index: &'a Index,
    /// Effects of earlier requests of the batch: key → live record (None: deleted).
    overlay: HashMap<Bytes, Option<Live>>,
    rev: i64,
}

impl Plan<'_> {
    fn current(&self, key: &Bytes) -> Option<Live> {
        match self.overlay.get(key) {
            Some(v) => v.clone(),
            None => self.index.live(key).cloned(),
        }
    }

    fn stage(
        &mut self,
        op: &Op,
        rows: &mut Vec<Row>,
        changes: &mut Vec<Change>,
        events: &mut Vec<Event>,
    ) -> Result<Reply> {
        match op {
            Op::Create {
                key,
                value,
                expires_at,
            } => {
                if let Some(cur) = self.current(key) {
                    return Err(Error::AlreadyExists {
                        current: Box::new(cur.kv),
                    });
                }
                self.rev += 1;
                let kv = KeyValue {
                    key: key.clone(),
                    value: value.clone(),
                    create_revision: self.rev,
                    mod_revision: self.rev,
                    version: 1,
                };
                Ok(Reply::Put(self.put(
                    kv,
                    None,
                    *expires_at,
                    rows,
                    changes,
                    events,
                )))
            }
            Op::Update {
                key,
                value,
                expected,
                expires_at,
            } => {
                let cur = self.current(key).ok_or(Error::NotFound)?;
                if cur.kv.mod_revision != *expected {
                    return Err(Error::Conflict {
                        expected: *expected,
                        current: Box::new(cur.kv),
                    });
                }
                self.rev += 1;
                let kv = KeyValue {
                    key: key.clone(),
                    value: value.clone(),
                    create_revision: cur.kv.create_revision,
                    mod_revision: self.rev,
                    version: cur.kv.version + 1,
                };
                Ok(Reply::Put(self.put(
                    kv,
                    Some(cur.kv),
                    *expires_at,
                    rows,
                    changes,
                    events,
                )))
            }
            Op::Delete { key, expected } => {
                let cur = self.current(key).ok_or(Error::NotFound)?;
                if let Some(expected) = expected
                    && cur.kv.mod_revision != *expected
                {
                    return Err(Error::Conflict {
                        expected: *expected,
                        current: Box::new(cur.kv),
                    });
                }
                self.rev += 1;
                let rev = self.rev;
                rows.push(Row {
                    rev,
                    key: key.clone(),
                    create_rev: 0,
                    version: 0,
                    deleted: true,
                    prev_rev: Some(cur.kv.mod_revision),
                    expires_at: None,
                    value: Bytes::new(),
                });
                changes.push(Change::Delete {
                    key: key.clone(),
                    rev,
                });
                events.push(Event {
                    kind: EventKind::Delete,
                    kv: KeyValue {
                        key: key.clone(),
                        value: Bytes::new(),
                        create_revision: 0,
                        mod_revision: rev,
                        version: 0,
                    },
                    prev: Some(cur.kv.clone()),
                });
                self.overlay.insert(key.clone(), None);
                Ok(Reply::Deleted(Deleted {
                    prev: cur.kv,
                    revision: rev,
                }))
            }
            Op::Compact { .. } => unreachable!("compactions are not batched with writes"),
        }
    }

    fn put(
        &mut self,
        kv: KeyValue,
        prev: Option<KeyValue>,
        expires_at: Option<i64>,
        rows: &mut Vec<Row>,
        changes: &mut Vec<Change>,
        events: &mut Vec<Event>,
    ) -> KeyValue {
        rows.push(Row {
            rev: kv.mod_revision,
            key: kv.key.clone(),
            create_rev: kv.create_revision,
            version: kv.version,
            deleted: false,
            prev_rev: prev.as_ref().map(|p| p.mod_revision),
            expires_at,
            value: kv.value.clone(),
        });
        let live = Live {
            kv: kv.clone(),
            expires_at,
        };
        self.overlay.insert(kv.key.clone(), Some(live.clone()));
        changes.push(Change::Put(live));
        events.push(Event {
            kind: EventKind::Put,
            kv: kv.clone(),
            prev,
        });
        kv
    }
}
