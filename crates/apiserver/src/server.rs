//! Starting the API server: store, certificates, kubeconfig, built-in objects, HTTPS listener.

use crate::api::{Api, MastersOnly};
use crate::authn::{Authenticator, TokenFile};
use crate::object;
use crate::pki::{self, Pki};
use crate::storage::Storage;
use anyhow::Context;
use serde_json::{Value, json};
use skiff_core::registry;
use skiff_store::Store;
use skiff_store::embedded::{EmbeddedOptions, EmbeddedStore};
use skiff_store::etcd::{EtcdOptions, EtcdStore};
use std::convert::Infallible;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::PathBuf;
use std::sync::Arc;
use tokio::net::TcpListener;

/// Settings of `skiff server` that concern the API server.
#[derive(Clone, Debug)]
pub struct Config {
    /// Address to listen on.
    pub bind_address: IpAddr,
    /// HTTPS port (0 picks a free one).
    pub secure_port: u16,
    /// Where the store, certificates and kubeconfig live.
    pub data_dir: PathBuf,
    /// Service IP range; its first address is the `kubernetes` Service's.
    pub service_cidr: (Ipv4Addr, u8),
    /// Static bearer tokens (upstream's CSV format).
    pub token_auth_file: Option<PathBuf>,
    /// etcd endpoints; empty means the embedded store.
    pub etcd_servers: Vec<String>,
}

impl Config {
    /// Defaults for a data directory: all interfaces, port 6443, services in 10.43.0.0/16.
    pub fn new(data_dir: PathBuf) -> Self {
        Self {
            bind_address: IpAddr::V4(Ipv4Addr::UNSPECIFIED),
            secure_port: 6443,
            data_dir,
            service_cidr: (Ipv4Addr::new(10, 43, 0, 0), 16),
            token_auth_file: None,
            etcd_servers: Vec::new(),
        }
    }

    /// The first usable address of the service range.
    pub fn first_service_ip(&self) -> Ipv4Addr {
        let (net, _) = self.service_cidr;
        Ipv4Addr::from(u32::from(net) + 1)
    }
}

/// Parses `a.b.c.d/n`.
pub fn parse_cidr(s: &str) -> anyhow::Result<(Ipv4Addr, u8)> {
    let (ip, bits) = s
        .split_once('/')
        .with_context(|| format!("{s:?} is not a CIDR (a.b.c.d/n)"))?;
    let ip: Ipv4Addr = ip
        .parse()
        .with_context(|| format!("bad address in {s:?}"))?;
    let bits: u8 = bits
        .parse()
        .with_context(|| format!("bad prefix length in {s:?}"))?;
    anyhow::ensure!(
        (8..=30).contains(&bits),
        "prefix length of {s:?} must be 8..30"
    );
    let mask = u32::MAX << (32 - bits);
    Ok((Ipv4Addr::from(u32::from(ip) & mask), bits))
}

/// A running API server.
pub struct Running {
    /// The address it listens on.
    pub address: SocketAddr,
    /// The admin kubeconfig it wrote.
    pub kubeconfig: PathBuf,
    task: tokio::task::JoinHandle<()>,
}

impl Running {
    /// Waits until the listener stops (it runs until the process ends).
    pub async fn wait(self) {
        let _ = self.task.await;
    }
}

/// Opens the store, prepares certificates and built-in objects, and starts serving.
pub async fn start(config: Config) -> anyhow::Result<Running> {
    std::fs::create_dir_all(&config.data_dir)
        .with_context(|| format!("creating {}", config.data_dir.display()))?;
    let store: Arc<dyn Store> = if config.etcd_servers.is_empty() {
        Arc::new(
            EmbeddedStore::open(config.data_dir.join("db"), EmbeddedOptions::default())
                .await
                .context("opening the embedded store")?,
        )
    } else {
        Arc::new(
            EtcdStore::connect(
                &config.etcd_servers,
                EtcdOptions {
                    retention: Some(skiff_store::Retention::default()),
                    ..EtcdOptions::default()
                },
            )
            .await
            .context("connecting to etcd")?,
        )
    };
    let service_ip = config.first_service_ip();
    let names = pki::default_serving_names(IpAddr::V4(service_ip));
    let pki = Pki::load_or_create(&config.data_dir.join("pki"), &names)?;
    let issuer = Arc::new(crate::satoken::Issuer::load_or_create(
        &config.data_dir.join("pki"),
        crate::satoken::DEFAULT_ISSUER,
    )?);
    let tokens = match &config.token_auth_file {
        Some(p) => Some(TokenFile::load(p)?),
        None => None,
    };
    let metrics = Arc::new(crate::metrics::Metrics::default());
    let storage = Storage::new(store).with_metrics(metrics.clone());
    bootstrap(&storage, service_ip, config.secure_port).await?;
    // Service IP and node port ranges; also reserves the `kubernetes` Service's address.
    let ranges = crate::strategy::service::Allocators {
        service_cidr: config.service_cidr,
        ..Default::default()
    };
    crate::strategy::service::start(&storage, ranges).await?;

    let listener = TcpListener::bind((config.bind_address, config.secure_port))
        .await
        .with_context(|| {
            format!(
                "listening on {}:{}",
                config.bind_address, config.secure_port
            )
        })?;
    let address = listener.local_addr()?;
    let client_host = if config.bind_address.is_unspecified() {
        IpAddr::V4(Ipv4Addr::LOCALHOST)
    } else {
        config.bind_address
    };
    let url = format!("https://{}", SocketAddr::new(client_host, address.port()));
    let kubeconfig = config.data_dir.join("kubeconfig.yaml");
    pki::write_kubeconfig(
        &kubeconfig,
        &url,
        &pki.ca_cert_pem,
        &pki.admin_cert_pem,
        &pki.admin_key_pem,
        "admin",
    )?;

    let caches = crate::cache::Caches::start(storage.clone());
    let api = Arc::new(Api {
        metrics,
        caches,
        storage,
        authn: Authenticator::new(tokens),
        authz: Box::new(MastersOnly),
        issuer,
        server_address: SocketAddr::new(client_host, address.port()).to_string(),
    });
    let tls = tokio_rustls::TlsAcceptor::from(pki.server_config()?);
    let task = tokio::spawn(accept_loop(listener, tls, api));
    Ok(Running {
        address,
        kubeconfig,
        task,
    })
}

async fn accept_loop(listener: TcpListener, tls: tokio_rustls::TlsAcceptor, api: Arc<Api>) {
    loop {
        let (tcp, _peer) = match listener.accept().await {
            Ok(c) => c,
            Err(e) => {
                tracing::warn!("accept failed: {e}");
                tokio::time::sleep(std::time::Duration::from_millis(50)).await;
                continue;
            }
        };
        let _ = tcp.set_nodelay(true);
        let tls = tls.clone();
        let api = api.clone();
        tokio::spawn(async move {
            let stream = match tls.accept(tcp).await {
                Ok(s) => s,
                Err(e) => {
                    tracing::debug!("TLS handshake failed: {e}");
                    return;
                }
            };
            // The client certificate names the user: read it once per connection.
            let cert_user: Arc<Option<crate::authn::User>> = Arc::new(
                stream
                    .get_ref()
                    .1
                    .peer_certificates()
                    .and_then(|c| c.first())
                    .and_then(|c| crate::authn::user_from_client_cert(c.as_ref())),
            );
            let service = hyper::service::service_fn(move |req| {
                let api = api.clone();
                let cert_user = cert_user.clone();
                async move {
                    let req = req.map(axum::body::Body::new);
                    Ok::<_, Infallible>(api.handle(req, cert_user.as_ref().as_ref()).await)
                }
            });
            let builder =
                hyper_util::server::conn::auto::Builder::new(hyper_util::rt::TokioExecutor::new());
            if let Err(e) = builder
                .serve_connection_with_upgrades(hyper_util::rt::TokioIo::new(stream), service)
                .await
            {
                tracing::debug!("connection ended: {e}");
            }
        });
    }
}

/// Creates `obj` unless an object of that name exists.
async fn ensure(
    storage: &Storage,
    group: &str,
    resource: &str,
    mut obj: Value,
) -> anyhow::Result<()> {
    let info = registry::lookup(group, "v1", resource).context("built-in resource")?;
    let name = object::name(&obj).unwrap_or_default().to_owned();
    if storage
        .get_record(info, object::namespace(&obj), &name)
        .await
        .map_err(|e| anyhow::anyhow!("{e}"))?
        .is_some()
    {
        return Ok(());
    }
    object::set_meta(&mut obj, "uid", uuid::Uuid::new_v4().to_string());
    object::set_meta(&mut obj, "creationTimestamp", object::now_rfc3339());
    match storage.create(info, &obj, None).await {
        Ok(_) => Ok(()),
        Err(e) if e.code == 409 => Ok(()),
        Err(e) => Err(anyhow::anyhow!("creating {resource}/{name}: {e}")),
    }
}

/// The namespaces and the `kubernetes` Service every cluster starts with.
async fn bootstrap(storage: &Storage, service_ip: Ipv4Addr, port: u16) -> anyhow::Result<()> {
    for ns in ["default", "kube-system", "kube-public", "kube-node-lease"] {
        ensure(
            storage,
            "",
            "namespaces",
            json!({
                "apiVersion": "v1", "kind": "Namespace",
                "metadata": {"name": ns, "labels": {"kubernetes.io/metadata.name": ns}},
                "spec": {"finalizers": ["kubernetes"]},
                "status": {"phase": "Active"},
            }),
        )
        .await?;
    }
    // Upstream's built-in priority classes.
    for (name, value, description) in [
        (
            "system-node-critical",
            2_000_001_000,
            "Used for system critical pods that must not be moved from their current node.",
        ),
        (
            "system-cluster-critical",
            2_000_000_000,
            "Used for system critical pods that must run in the cluster, but can be moved to another node if necessary.",
        ),
    ] {
        ensure(
            storage,
            "scheduling.k8s.io",
            "priorityclasses",
            json!({
                "apiVersion": "scheduling.k8s.io/v1", "kind": "PriorityClass",
                "metadata": {"name": name},
                "value": value,
                "description": description,
                "preemptionPolicy": "PreemptLowerPriority",
            }),
        )
        .await?;
    }
    let target = if port == 0 { 6443 } else { port };
    ensure(
        storage,
        "",
        "services",
        json!({
            "apiVersion": "v1", "kind": "Service",
            "metadata": {"name": "kubernetes", "namespace": "default",
                         "labels": {"component": "apiserver", "provider": "kubernetes"}},
            "spec": {
                "type": "ClusterIP",
                "clusterIP": service_ip.to_string(),
                "clusterIPs": [service_ip.to_string()],
                "ipFamilies": ["IPv4"],
                "ipFamilyPolicy": "SingleStack",
                "internalTrafficPolicy": "Cluster",
                "sessionAffinity": "None",
                "ports": [{"name": "https", "port": 443, "protocol": "TCP", "targetPort": target}],
            },
            "status": {"loadBalancer": {}},
        }),
    )
    .await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cidrs_are_parsed_and_normalised() {
        assert_eq!(
            parse_cidr("10.43.0.0/16").unwrap(),
            (Ipv4Addr::new(10, 43, 0, 0), 16)
        );
        assert_eq!(
            parse_cidr("10.43.7.9/16").unwrap().0,
            Ipv4Addr::new(10, 43, 0, 0)
        );
        assert!(parse_cidr("10.43.0.0").is_err());
        assert!(parse_cidr("10.43.0.0/31").is_err());
        let c = Config::new(PathBuf::from("/tmp/x"));
        assert_eq!(c.first_service_ip(), Ipv4Addr::new(10, 43, 0, 1));
    }
}
