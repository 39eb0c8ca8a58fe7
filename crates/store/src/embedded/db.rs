//! The embedded engine's SQLite file: schema, opening checks, row IO.
//!
//! One table holds every revision (`rev` is the row id, so rows are stored in revision order);
//! a small `meta` table holds the compaction point. The file is marked with an application id
//! so a foreign SQLite file is refused instead of being written to.

use super::index::{Index, Live, RevEntry};
use crate::error::{Error, Result};
use crate::types::{Event, EventKind, KeyValue, in_range};
use bytes::Bytes;
use parking_lot::Mutex;
use rusqlite::{Connection, ErrorCode, OpenFlags, OptionalExtension, params};
use std::collections::HashMap;
use std::path::{Path, PathBuf};

/// `PRAGMA application_id` of Skiff data files ("Skif").
const APP_ID: i64 = 0x536b_6966;
/// `PRAGMA user_version`: the schema version this code writes.
const SCHEMA_VERSION: i64 = 1;
/// The data file's name inside the data directory.
pub(crate) const FILE_NAME: &str = "skiff.db";

const SCHEMA: &str = "
CREATE TABLE meta (name TEXT PRIMARY KEY, value INTEGER NOT NULL) WITHOUT ROWID;
CREATE TABLE kv (
    rev        INTEGER PRIMARY KEY,
    key        BLOB    NOT NULL,
    create_rev INTEGER NOT NULL,
    version    INTEGER NOT NULL,
    deleted    INTEGER NOT NULL,
    prev_rev   INTEGER,
    expires_at INTEGER,
    value      BLOB    NOT NULL
);
INSERT INTO meta (name, value) VALUES ('compacted', 0);
";

/// How long a connection waits for a lock held by another one.
const BUSY_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(10);
/// Size the log is cut back to after a checkpoint that reset it.
const LOG_SIZE_LIMIT: u64 = 64 * 1024 * 1024;

const INSERT: &str =
    "INSERT INTO kv (rev, key, create_rev, version, deleted, prev_rev, expires_at, value)
                      VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)";

/// One row of the `kv` table.
#[derive(Clone, Debug)]
pub(crate) struct Row {
    pub rev: i64,
    pub key: Bytes,
    pub create_rev: i64,
    pub version: i64,
    pub deleted: bool,
    pub prev_rev: Option<i64>,
    pub expires_at: Option<i64>,
    pub value: Bytes,
}

/// Maps a SQLite error to the store's error, naming the file when it is damaged or foreign.
pub(crate) fn sql_error(path: &Path, context: &str, err: rusqlite::Error) -> Error {
    if let rusqlite::Error::SqliteFailure(e, msg) = &err
        && matches!(e.code, ErrorCode::NotADatabase | ErrorCode::DatabaseCorrupt)
    {
        return Error::Corrupt {
            path: path.to_owned(),
            detail: format!(
                "{context}: {}",
                msg.clone().unwrap_or_else(|| e.to_string())
            ),
        };
    }
    Error::backend(format!("{context} ({})", path.display()), err)
}

/// How eagerly commits reach the disk.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Sync {
    /// fsync the log on every commit (the default).
    Full,
    /// Never fsync (tests and benchmarks of the CPU path only).
    Off,
}

fn configure(conn: &Connection, path: &Path, sync: Sync) -> Result<()> {
    let sync = match sync {
        Sync::Full => "FULL",
        Sync::Off => "OFF",
    };
    conn.execute_batch(&format!(
        "PRAGMA journal_mode = WAL; PRAGMA synchronous = {sync}; PRAGMA wal_autocheckpoint = 0;
         PRAGMA journal_size_limit = {LOG_SIZE_LIMIT}; PRAGMA cache_size = -16384;
         PRAGMA temp_store = MEMORY;"
    ))
    .map_err(|e| sql_error(path, "configuring the database", e))?;
    conn.busy_timeout(BUSY_TIMEOUT)
        .map_err(|e| sql_error(path, "setting the busy timeout", e))
}

/// Opens (or creates) the data file for the single writer, checking that it is a Skiff file.
pub(crate) fn open_writer(path: &Path, sync: Sync) -> Result<Connection> {
    let exists = match std::fs::metadata(path) {
        Ok(m) => m.len() > 0,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => false,
        Err(e) => return Err(Error::backend(format!("reading {}", path.display()), e)),
    };
    if exists {
        check_header(path)?;
    }
    let conn = Connection::open_with_flags(
        path,
        OpenFlags::SQLITE_OPEN_READ_WRITE
            | OpenFlags::SQLITE_OPEN_CREATE
            | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )
    .map_err(|e| sql_error(path, "opening the database", e))?;
    if exists {
        let app_id: i64 = pragma(&conn, path, "application_id")?;
        if app_id != APP_ID {
            return Err(Error::Corrupt {
                path: path.to_owned(),
                detail: format!(
                    "not a Skiff data file (SQLite application_id {app_id:#x}, expected {APP_ID:#x}); refusing to touch it"
                ),
            });
        }
        let version: i64 = pragma(&conn, path, "user_version")?;
        if version != SCHEMA_VERSION {
            return Err(Error::Corrupt {
                path: path.to_owned(),
                detail: format!(
                    "schema version {version} is not the supported version {SCHEMA_VERSION}"
                ),
            });
        }
        configure(&conn, path, sync)?;
    } else {
        // auto_vacuum must be chosen before the first table exists.
        conn.execute_batch(&format!(
            "PRAGMA auto_vacuum = INCREMENTAL; PRAGMA application_id = {APP_ID};
             PRAGMA user_version = {SCHEMA_VERSION};"
        ))
        .map_err(|e| sql_error(path, "initialising the database", e))?;
        configure(&conn, path, sync)?;
        conn.execute_batch(&format!("BEGIN; {SCHEMA} COMMIT;"))
            .map_err(|e| sql_error(path, "creating the schema", e))?;
        sync_parent_dir(path)?;
    }
    Ok(conn)
}

fn pragma(conn: &Connection, path: &Path, name: &str) -> Result<i64> {
    conn.query_row(&format!("PRAGMA {name}"), [], |r| r.get(0))
        .map_err(|e| sql_error(path, &format!("reading {name}"), e))
}

fn check_header(path: &Path) -> Result<()> {
    use std::io::Read;
    let mut header = [0u8; 16];
    let mut file = std::fs::File::open(path)
        .map_err(|e| Error::backend(format!("opening {}", path.display()), e))?;
    let n = file
        .read(&mut header)
        .map_err(|e| Error::backend(format!("reading {}", path.display()), e))?;
    if n < header.len() || &header != b"SQLite format 3\0" {
        return Err(Error::Corrupt {
            path: path.to_owned(),
            detail: "not a SQLite database (foreign or damaged file); refusing to touch it".into(),
        });
    }
    Ok(())
}

fn sync_parent_dir(path: &Path) -> Result<()> {
    if let Some(dir) = path.parent() {
        let d = std::fs::File::open(dir)
            .map_err(|e| Error::backend(format!("opening {}", dir.display()), e))?;
        d.sync_all()
            .map_err(|e| Error::backend(format!("syncing {}", dir.display()), e))?;
    }
    Ok(())
}

/// Reads the whole file into an index (and the revisions still to delete after an interrupted
/// compaction).
pub(crate) fn load(conn: &Connection, path: &Path) -> Result<(Index, Vec<i64>)> {
    let err = |ctx: &'static str| move |e| sql_error(path, ctx, e);
    let compacted: i64 = conn
        .query_row("SELECT value FROM meta WHERE name = 'compacted'", [], |r| {
            r.get(0)
        })
        .map_err(err("reading the compaction point"))?;
    let mut index = Index::default();
    {
        let mut stmt = conn
            .prepare("SELECT rev, key, create_rev, version, deleted FROM kv ORDER BY rev")
            .map_err(err("loading the index"))?;
        let mut rows = stmt.query([]).map_err(err("loading the index"))?;
        while let Some(row) = rows.next().map_err(err("loading the index"))? {
            let key: Vec<u8> = row.get(1).map_err(err("loading the index"))?;
            let entry = RevEntry {
                rev: row.get(0).map_err(err("loading the index"))?,
                create_rev: row.get(2).map_err(err("loading the index"))?,
                version: row.get(3).map_err(err("loading the index"))?,
                deleted: row.get::<_, i64>(4).map_err(err("loading the index"))? != 0,
            };
            index.load(Bytes::from(key), entry);
        }
    }
    {
        let mut stmt = conn
            .prepare("SELECT value, expires_at FROM kv WHERE rev = ?1")
            .map_err(err("loading values"))?;
        for (key, entry) in index.live_candidates() {
            let (value, expires_at): (Vec<u8>, Option<i64>) = stmt
                .query_row([entry.rev], |r| Ok((r.get(0)?, r.get(1)?)))
                .map_err(err("loading values"))?;
            index.load_live(Live {
                kv: KeyValue {
                    key,
                    value: Bytes::from(value),
                    create_revision: entry.create_rev,
                    mod_revision: entry.rev,
                    version: entry.version,
                },
                expires_at,
            });
        }
    }
    index.head = index.head.max(compacted);
    let leftover = index.compact(compacted);
    index.compacted = compacted;
    Ok((index, leftover))
}

/// Writes rows in one transaction: the commit is the durability point.
pub(crate) fn insert_rows(conn: &mut Connection, path: &Path, rows: &[Row]) -> Result<()> {
    let err = |e| sql_error(path, "committing writes", e);
    let tx = conn.transaction().map_err(err)?;
    {
        let mut stmt = tx.prepare_cached(INSERT).map_err(err)?;
        for r in rows {
            stmt.execute(params![
                r.rev,
                &r.key[..],
                r.create_rev,
                r.version,
                r.deleted as i64,
                r.prev_rev,
                r.expires_at,
                &r.value[..],
            ])
            .map_err(err)?;
        }
    }
    tx.commit().map_err(err)
}

/// Deletes compacted revisions; the first call of a compaction also records the new point.
pub(crate) fn delete_revisions(
    conn: &mut Connection,
    path: &Path,
    compacted: Option<i64>,
    revs: &[i64],
) -> Result<()> {
    let err = |e| sql_error(path, "compacting", e);
    let tx = conn.transaction().map_err(err)?;
    if let Some(c) = compacted {
        tx.execute("UPDATE meta SET value = ?1 WHERE name = 'compacted'", [c])
            .map_err(err)?;
    }
    {
        let mut stmt = tx
            .prepare_cached("DELETE FROM kv WHERE rev = ?1")
            .map_err(err)?;
        for rev in revs {
            stmt.execute([rev]).map_err(err)?;
        }
    }
    tx.commit().map_err(err)
}

/// Returns freed pages to the file system and shrinks the log.
pub(crate) fn reclaim(conn: &mut Connection, path: &Path) -> Result<()> {
    let err = |e| sql_error(path, "vacuuming", e);
    // The pragma frees one page per step: run it to completion.
    let mut stmt = conn.prepare("PRAGMA incremental_vacuum").map_err(err)?;
    let mut rows = stmt.query([]).map_err(err)?;
    while rows.next().map_err(err)?.is_some() {}
    drop(rows);
    drop(stmt);
    // Shrink the log only if no reader holds a snapshot right now: waiting for readers here
    // would stall every write queued behind the committer. The periodic checkpoints finish the
    // job later otherwise.
    conn.busy_timeout(std::time::Duration::ZERO)
        .map_err(|e| sql_error(path, "setting the busy timeout", e))?;
    let done = checkpoint(conn, path, "TRUNCATE");
    conn.busy_timeout(BUSY_TIMEOUT)
        .map_err(|e| sql_error(path, "setting the busy timeout", e))?;
    done
}

/// Copies the log into the main file (`mode`: PASSIVE or TRUNCATE). A checkpoint that could
/// not finish because of readers is not an error: a later one completes it.
pub(crate) fn checkpoint(conn: &Connection, path: &Path, mode: &str) -> Result<()> {
    match conn.query_row(&format!("PRAGMA wal_checkpoint({mode})"), [], |_| Ok(())) {
        Ok(()) => Ok(()),
        Err(rusqlite::Error::SqliteFailure(e, _)) if e.code == ErrorCode::DatabaseBusy => Ok(()),
        Err(e) => Err(sql_error(path, "checkpointing", e)),
    }
}

/// Bytes used by the data file and its log.
pub(crate) fn size_on_disk(path: &Path) -> u64 {
    let wal = PathBuf::from(format!("{}-wal", path.display()));
    [path.to_path_buf(), wal]
        .iter()
        .filter_map(|p| std::fs::metadata(p).ok())
        .map(|m| m.len())
        .sum()
}

/// Connections for readers (WAL mode lets them run beside the writer).
pub(crate) struct ReadPool {
    path: PathBuf,
    conns: Mutex<Vec<Connection>>,
}

const MAX_IDLE_READERS: usize = 8;

impl ReadPool {
    pub(crate) fn new(path: PathBuf) -> Self {
        Self {
            path,
            conns: Mutex::new(Vec::new()),
        }
    }

    /// Runs `f` with a reader connection.
    pub(crate) fn with<R>(&self, f: impl FnOnce(&mut Connection, &Path) -> Result<R>) -> Result<R> {
        let conn = self.conns.lock().pop();
        let mut conn = match conn {
            Some(c) => c,
            None => {
                let c = Connection::open_with_flags(
                    &self.path,
                    OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX,
                )
                .map_err(|e| sql_error(&self.path, "opening a reader", e))?;
                c.execute_batch(
                    "PRAGMA query_only = 1; PRAGMA busy_timeout = 10000; PRAGMA cache_size = -4096;",
                )
                .map_err(|e| sql_error(&self.path, "configuring a reader", e))?;
                c
            }
        };
        let out = f(&mut conn, &self.path);
        let mut idle = self.conns.lock();
        if idle.len() < MAX_IDLE_READERS {
            idle.push(conn);
        }
        out
    }
}

fn read_compacted(tx: &rusqlite::Transaction<'_>, path: &Path) -> Result<i64> {
    tx.query_row("SELECT value FROM meta WHERE name = 'compacted'", [], |r| {
        r.get(0)
    })
    .map_err(|e| sql_error(path, "reading the compaction point", e))
}

/// Values of past revisions, read in one snapshot that is checked against compaction.
pub(crate) fn fetch_values(
    conn: &mut Connection,
    path: &Path,
    at: i64,
    revs: &[i64],
) -> Result<HashMap<i64, Bytes>> {
    let err = |e| sql_error(path, "reading past values", e);
    let tx = conn.transaction().map_err(err)?;
    let compacted = read_compacted(&tx, path)?;
    if compacted > at {
        return Err(Error::Compacted {
            requested: at,
            compacted,
        });
    }
    let mut out = HashMap::with_capacity(revs.len());
    {
        let mut stmt = tx
            .prepare_cached("SELECT value FROM kv WHERE rev = ?1")
            .map_err(err)?;
        for &rev in revs {
            let value: Option<Vec<u8>> = stmt
                .query_row([rev], |r| r.get(0))
                .optional()
                .map_err(err)?;
            match value {
                Some(v) => {
                    out.insert(rev, Bytes::from(v));
                }
                None => {
                    return Err(Error::Compacted {
                        requested: at,
                        compacted: compacted.max(at + 1),
                    });
                }
            }
        }
    }
    Ok(out)
}

/// Streams the events of `(after, upto]` for a key range in revision order, in batches, from
/// one snapshot. `sink` returns false to stop early.
pub(crate) fn replay(
    conn: &mut Connection,
    path: &Path,
    after: i64,
    upto: i64,
    key: &[u8],
    end: Option<&[u8]>,
    mut sink: impl FnMut(Vec<Event>) -> bool,
) -> Result<()> {
    const BATCH: usize = 512;
    let err = |e| sql_error(path, "replaying history", e);
    let tx = conn.transaction().map_err(err)?;
    let compacted = read_compacted(&tx, path)?;
    if compacted > after {
        return Err(Error::Compacted {
            requested: after,
            compacted,
        });
    }
    let mut stmt = tx
        .prepare(
            "SELECT k.rev, k.key, k.create_rev, k.version, k.deleted, k.value,
                    p.rev, p.create_rev, p.version, p.value
             FROM kv k LEFT JOIN kv p ON p.rev = k.prev_rev
             WHERE k.rev > ?1 AND k.rev <= ?2 ORDER BY k.rev",
        )
        .map_err(err)?;
    let mut rows = stmt.query([after, upto]).map_err(err)?;
    let mut batch = Vec::with_capacity(BATCH);
    while let Some(row) = rows.next().map_err(err)? {
        let k: Vec<u8> = row.get(1).map_err(err)?;
        if !in_range(&k, key, end) {
            continue;
        }
        let key = Bytes::from(k);
        let rev: i64 = row.get(0).map_err(err)?;
        let deleted = row.get::<_, i64>(4).map_err(err)? != 0;
        let prev_rev: Option<i64> = row.get(6).map_err(err)?;
        let prev = match prev_rev {
            Some(prev_rev) => Some(KeyValue {
                key: key.clone(),
                value: Bytes::from(row.get::<_, Vec<u8>>(9).map_err(err)?),
                create_revision: row.get(7).map_err(err)?,
                mod_revision: prev_rev,
                version: row.get(8).map_err(err)?,
            }),
            None => None,
        };
        let kv = KeyValue {
            key,
            value: Bytes::from(row.get::<_, Vec<u8>>(5).map_err(err)?),
            create_revision: row.get(2).map_err(err)?,
            mod_revision: rev,
            version: row.get(3).map_err(err)?,
        };
        let kind = if deleted {
            EventKind::Delete
        } else {
            EventKind::Put
        };
        batch.push(Event { kind, kv, prev });
        if batch.len() == BATCH && !sink(std::mem::replace(&mut batch, Vec::with_capacity(BATCH))) {
            return Ok(());
        }
    }
    if !batch.is_empty() {
        sink(batch);
    }
    Ok(())
}
