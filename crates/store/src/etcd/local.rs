//! A throwaway single-member etcd server on 127.0.0.1, for tests and benchmarks.
//!
//! [`LocalEtcd::start`] runs the `etcd` binary found on the `PATH` (or `/usr/bin/etcd`; Debian
//! and Ubuntu ship it as `apt-get install etcd-server`) on free loopback ports, with its data in a
//! temporary directory, and returns once it answers. Dropping the value kills that process (by
//! its PID) and removes the directory.

use crate::error::{Error, Result};
use crate::types::MAX_VALUE_BYTES;
use std::fs::{File, OpenOptions};
use std::io::{Read, Seek, SeekFrom};
use std::net::{Ipv4Addr, TcpListener};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;
use tempfile::TempDir;
use tokio::time::Instant;

/// How long the server gets to answer after it was started.
const READY_TIMEOUT: Duration = Duration::from_secs(10);
/// Name of the server's log file inside the data directory.
const LOG_FILE: &str = "etcd.log";
/// Largest request the server takes: the value limit plus room for the key and framing.
const MAX_REQUEST_BYTES: usize = MAX_VALUE_BYTES + 64 * 1024;
/// etcd's largest recommended backend quota (8 GiB).
const QUOTA_BACKEND_BYTES: u64 = 8 * 1024 * 1024 * 1024;
/// How many times [`LocalEtcd::start`] picks new ports when the chosen ones were taken.
const PORT_ATTEMPTS: usize = 3;

/// A real etcd server owned by the test or benchmark that started it.
#[derive(Debug)]
pub struct LocalEtcd {
    binary: PathBuf,
    data_dir: PathBuf,
    client_port: u16,
    peer_port: u16,
    child: Option<Child>,
    /// Removes the data when dropped (declared last: the process is killed first).
    _temp: Option<TempDir>,
}

impl LocalEtcd {
    /// Starts a server with its data in a new temporary directory.
    pub async fn start() -> Result<Self> {
        let temp = tempfile::Builder::new()
            .prefix("skiff-etcd-")
            .tempdir()
            .map_err(|e| Error::backend("creating a data directory for etcd", e))?;
        let dir = temp.path().to_path_buf();
        Self::launch(dir, Some(temp)).await
    }

    /// Starts a server with its data in `dir` (created if missing, kept afterwards). A directory
    /// holding data of an earlier run starts with that data.
    pub async fn start_in(dir: impl Into<PathBuf>) -> Result<Self> {
        let dir = dir.into();
        std::fs::create_dir_all(&dir)
            .map_err(|e| Error::backend(format!("creating {}", dir.display()), e))?;
        Self::launch(dir, None).await
    }

    async fn launch(data_dir: PathBuf, temp: Option<TempDir>) -> Result<Self> {
        let binary = find_binary()?;
        let mut last_error = None;
        for _ in 0..PORT_ATTEMPTS {
            let (client_port, peer_port) = free_ports()?;
            let mut etcd = Self {
                binary: binary.clone(),
                data_dir: data_dir.clone(),
                client_port,
                peer_port,
                child: None,
                _temp: None,
            };
            match etcd.run().await {
                Ok(()) => {
                    etcd._temp = temp;
                    return Ok(etcd);
                }
                Err(err) => {
                    etcd.kill();
                    let taken = read_log_tail(&etcd.log_path()).contains("address already in use");
                    last_error = Some(err);
                    if !taken {
                        break;
                    }
                }
            }
        }
        Err(last_error.unwrap_or_else(|| Error::backend("starting etcd", "no attempt made")))
    }

    /// The client URL, e.g. `http://127.0.0.1:23790`.
    pub fn endpoint(&self) -> String {
        format!("http://127.0.0.1:{}", self.client_port)
    }

    /// The server's data directory.
    pub fn data_dir(&self) -> &Path {
        &self.data_dir
    }

    /// The file the server's output goes to (inside the data directory).
    pub fn log_path(&self) -> PathBuf {
        self.data_dir.join(LOG_FILE)
    }

    /// The process ID of the running server, `None` after [`LocalEtcd::kill`].
    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(Child::id)
    }

    /// Kills the server with SIGKILL (a crash, as far as etcd can tell) and waits for it to exit.
    /// Does nothing when it is not running.
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            // Fails only when the process has already exited; `wait` reaps it either way.
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Kills the server if it runs and starts it again on the same data directory and ports.
    pub async fn restart(&mut self) -> Result<()> {
        self.kill();
        let result = self.run().await;
        if result.is_err() {
            self.kill();
        }
        result
    }

    /// Spawns the process and waits until it answers.
    async fn run(&mut self) -> Result<()> {
        let log = OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.log_path())
            .map_err(|e| Error::backend("opening the etcd log file", e))?;
        let log_err = log
            .try_clone()
            .map_err(|e| Error::backend("opening the etcd log file", e))?;
        let client_url = self.endpoint();
        let peer_url = format!("http://127.0.0.1:{}", self.peer_port);
        let mut cmd = Command::new(&self.binary);
        cmd.arg("--name")
            .arg("default")
            .arg("--data-dir")
            .arg(&self.data_dir)
            .arg("--listen-client-urls")
            .arg(&client_url)
            .arg("--advertise-client-urls")
            .arg(&client_url)
            .arg("--listen-peer-urls")
            .arg(&peer_url)
            .arg("--initial-advertise-peer-urls")
            .arg(&peer_url)
            .arg("--initial-cluster")
            .arg(format!("default={peer_url}"))
            .arg("--max-request-bytes")
            .arg(MAX_REQUEST_BYTES.to_string())
            .arg("--quota-backend-bytes")
            .arg(QUOTA_BACKEND_BYTES.to_string())
            // etcd 3.4's default logger (capnslog) ignores --log-level for Raft's messages.
            .arg("--logger")
            .arg("zap")
            .arg("--log-outputs")
            .arg("stderr")
            .arg("--log-level")
            .arg("error")
            .stdin(Stdio::null())
            .stdout(log)
            .stderr(log_err);
        // etcd reads ETCD_* variables as flags and refuses ones that clash with the command line.
        for (name, _) in std::env::vars_os() {
            if name.to_string_lossy().starts_with("ETCD_") {
                cmd.env_remove(name);
            }
        }
        let child = cmd
            .spawn()
            .map_err(|e| Error::backend(format!("starting {}", self.binary.display()), e))?;
        self.child = Some(child);
        self.wait_ready().await
    }

    /// Polls the server until it answers a status request.
    async fn wait_ready(&mut self) -> Result<()> {
        let deadline = Instant::now() + READY_TIMEOUT;
        let endpoint = self.endpoint();
        loop {
            if let Some(Ok(Some(status))) = self.child.as_mut().map(Child::try_wait) {
                self.child = None;
                return Err(self.failure(format!("etcd exited with {status}")));
            }
            if answers(&endpoint).await {
                return Ok(());
            }
            if Instant::now() >= deadline {
                return Err(self.failure(format!(
                    "etcd did not answer on {endpoint} within {READY_TIMEOUT:?}"
                )));
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    fn failure(&self, what: String) -> Error {
        let log = self.log_path();
        Error::backend(
            "starting a local etcd",
            format!("{what}; end of {}:\n{}", log.display(), read_log_tail(&log)),
        )
    }
}

impl Drop for LocalEtcd {
    fn drop(&mut self) {
        self.kill();
    }
}

/// Whether an etcd server answers a status request at `endpoint` within a second.
async fn answers(endpoint: &str) -> bool {
    let attempt = async {
        let options = etcd_client::ConnectOptions::new()
            .with_connect_timeout(Duration::from_secs(1))
            .with_timeout(Duration::from_secs(1));
        let mut client = etcd_client::Client::connect([endpoint], Some(options))
            .await
            .ok()?;
        client.status().await.ok()
    };
    matches!(
        tokio::time::timeout(Duration::from_secs(1), attempt).await,
        Ok(Some(_))
    )
}

/// The etcd binary: the first `etcd` on the `PATH`, else `/usr/bin/etcd`.
fn find_binary() -> Result<PathBuf> {
    find_binary_in(std::env::var_os("PATH"), Path::new("/usr/bin/etcd"))
}

fn find_binary_in(path: Option<std::ffi::OsString>, fallback: &Path) -> Result<PathBuf> {
    let on_path = path
        .map(|path| {
            std::env::split_paths(&path)
                .map(|dir| dir.join("etcd"))
                .collect::<Vec<_>>()
        })
        .unwrap_or_default();
    on_path
        .into_iter()
        .chain(std::iter::once(fallback.to_path_buf()))
        .find(|p| is_executable(p))
        .ok_or_else(|| {
            Error::backend(
                "starting a local etcd",
                format!(
                    "the etcd binary was found neither on the PATH nor at {}; install it \
                     (Debian/Ubuntu: `apt-get install etcd-server`)",
                    fallback.display()
                ),
            )
        })
}

fn is_executable(path: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(path).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
}

/// Two distinct free ports on 127.0.0.1 (both held open while the second is chosen).
fn free_ports() -> Result<(u16, u16)> {
    let bind = || {
        TcpListener::bind((Ipv4Addr::LOCALHOST, 0))
            .and_then(|l| Ok((l.local_addr()?.port(), l)))
            .map_err(|e| Error::backend("finding a free port for etcd", e))
    };
    let (client, _client_listener) = bind()?;
    let (peer, _peer_listener) = bind()?;
    Ok((client, peer))
}

/// The last few kilobytes of the log file (empty when unreadable).
fn read_log_tail(path: &Path) -> String {
    const TAIL: u64 = 4096;
    let Ok(mut file) = File::open(path) else {
        return String::new();
    };
    let len = file.metadata().map(|m| m.len()).unwrap_or(0);
    if file
        .seek(SeekFrom::Start(len.saturating_sub(TAIL)))
        .is_err()
    {
        return String::new();
    }
    let mut buf = Vec::new();
    let _ = file.read_to_end(&mut buf);
    String::from_utf8_lossy(&buf).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_missing_binary_is_reported_with_how_to_install_it() {
        let dir = tempfile::tempdir().unwrap();
        let err = find_binary_in(
            Some(dir.path().as_os_str().to_owned()),
            &dir.path().join("nope"),
        )
        .unwrap_err();
        let text = format!("{err}");
        assert!(text.contains("apt-get install etcd-server"), "{text}");

        let fake = dir.path().join("etcd");
        std::fs::write(&fake, "#!/bin/sh\n").unwrap();
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&fake, std::fs::Permissions::from_mode(0o755)).unwrap();
        let found = find_binary_in(Some(dir.path().as_os_str().to_owned()), Path::new("/nope"));
        assert_eq!(found.unwrap(), fake);
    }

    #[test]
    fn free_ports_are_distinct_loopback_ports() {
        let (a, b) = free_ports().unwrap();
        assert_ne!(a, b);
        assert!(a > 0 && b > 0);
    }
}
