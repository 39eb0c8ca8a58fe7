//! The cluster's certificates: a self-signed cluster CA, the API server's serving certificate and
//! the `admin` client certificate.
//!
//! Everything lives as PEM files in one directory. The first start creates them; later starts
//! reuse them. The CA is never replaced behind the operator's back: a CA file that cannot be used
//! is an error naming the file. Leaf certificates (serving, admin) are re-issued from the same CA
//! whenever they are missing, unreadable, not signed by the CA, close to expiry, or (for the
//! serving certificate) lack a name the API server must answer to.

use std::collections::BTreeMap;
use std::fs;
use std::io::{self, Write};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

use anyhow::{Context, Result, anyhow, bail};
use rcgen::{
    BasicConstraints, CertificateParams, DistinguishedName, DnType, ExtendedKeyUsagePurpose, IsCa,
    Issuer, KeyPair, KeyUsagePurpose, PublicKeyData, SanType, SigningKey,
};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use serde::Serialize;
use x509_parser::certificate::X509Certificate;
use x509_parser::extensions::GeneralName;
use x509_parser::time::ASN1Time;

/// File name of the cluster CA certificate inside the PKI directory.
pub const CA_CERT_FILE: &str = "ca.crt";
/// File name of the cluster CA private key inside the PKI directory.
pub const CA_KEY_FILE: &str = "ca.key";
/// File name of the API server's serving certificate inside the PKI directory.
pub const SERVING_CERT_FILE: &str = "serving.crt";
/// File name of the API server's serving private key inside the PKI directory.
pub const SERVING_KEY_FILE: &str = "serving.key";
/// File name of the `admin` client certificate inside the PKI directory.
pub const ADMIN_CERT_FILE: &str = "admin.crt";
/// File name of the `admin` client private key inside the PKI directory.
pub const ADMIN_KEY_FILE: &str = "admin.key";

/// Common name of the cluster CA.
pub const CA_COMMON_NAME: &str = "skiff-ca";
/// Common name of the API server's serving certificate (as kubeadm names it).
pub const SERVING_COMMON_NAME: &str = "kube-apiserver";
/// User name carried by the admin client certificate.
pub const ADMIN_USER: &str = "admin";
/// Group carried by the admin client certificate: upstream's superuser group.
pub const ADMIN_GROUP: &str = "system:masters";

/// Validity of the cluster CA, in days (10 years).
pub const CA_VALIDITY_DAYS: u32 = 3650;
/// Validity of leaf certificates issued at start-up, in days (1 year).
pub const LEAF_VALIDITY_DAYS: u32 = 365;
/// A leaf certificate expiring within this many days is re-issued at start-up.
pub const RENEW_BEFORE_DAYS: u32 = 30;

const SECONDS_PER_DAY: i64 = 86_400;
/// Certificates start being valid a little in the past to tolerate clock skew between machines.
const BACKDATE_SECONDS: i64 = 3_600;

/// The cluster's certificates and keys, all PEM encoded.
#[derive(Clone)]
pub struct Pki {
    /// The cluster CA certificate (PEM). Clients trust this.
    pub ca_cert_pem: String,
    /// The cluster CA private key (PEM, PKCS#8).
    pub ca_key_pem: String,
    /// The cluster CA certificate (DER), used to build the client certificate verifier.
    pub ca_cert_der: Vec<u8>,
    /// The API server's serving certificate (PEM), signed by the CA.
    pub serving_cert_pem: String,
    /// The API server's serving private key (PEM, PKCS#8).
    pub serving_key_pem: String,
    /// The `admin` / `system:masters` client certificate (PEM), signed by the CA.
    pub admin_cert_pem: String,
    /// The `admin` client private key (PEM, PKCS#8).
    pub admin_key_pem: String,
}

impl std::fmt::Debug for Pki {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Pki")
            .field("ca_cert_pem", &self.ca_cert_pem)
            .field("ca_key_pem", &"<redacted>")
            .field("serving_cert_pem", &self.serving_cert_pem)
            .field("serving_key_pem", &"<redacted>")
            .field("admin_cert_pem", &self.admin_cert_pem)
            .field("admin_key_pem", &"<redacted>")
            .finish()
    }
}

/// The names the API server's serving certificate must be valid for.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ServingNames {
    /// DNS subject alternative names.
    pub dns: Vec<String>,
    /// IP subject alternative names.
    pub ips: Vec<IpAddr>,
}

/// The serving names a single-node Skiff cluster needs: `localhost`, the loopback addresses, the
/// host name and the host's own addresses, the in-cluster `kubernetes` service names and
/// `service_ip` (the first address of the service CIDR, e.g. `10.43.0.1`).
pub fn default_serving_names(service_ip: IpAddr) -> ServingNames {
    let mut dns: Vec<String> = vec!["localhost".to_string()];
    if let Some(host) = host_name() {
        dns.push(host);
    }
    for name in [
        "kubernetes",
        "kubernetes.default",
        "kubernetes.default.svc",
        "kubernetes.default.svc.cluster.local",
    ] {
        dns.push(name.to_string());
    }

    let mut ips: Vec<IpAddr> = vec![
        IpAddr::V4(Ipv4Addr::LOCALHOST),
        IpAddr::V6(Ipv6Addr::LOCALHOST),
    ];
    if let Ok(text) = fs::read_to_string("/proc/net/fib_trie") {
        ips.extend(parse_fib_trie_local(&text).into_iter().map(IpAddr::V4));
    }
    if let Ok(text) = fs::read_to_string("/proc/net/if_inet6") {
        ips.extend(parse_if_inet6(&text).into_iter().map(IpAddr::V6));
    }
    ips.push(service_ip);

    ServingNames {
        dns: dedup(dns),
        ips: dedup(ips),
    }
}

/// Loads the PKI from `dir`, creating whatever is missing; see [`Pki::load_or_create`].
pub fn load_or_create(dir: &Path, names: &ServingNames) -> Result<Pki> {
    Pki::load_or_create(dir, names)
}

/// Keeps the first occurrence of every element, preserving order.
fn dedup<T: PartialEq>(items: Vec<T>) -> Vec<T> {
    let mut out: Vec<T> = Vec::with_capacity(items.len());
    for item in items {
        if !out.contains(&item) {
            out.push(item);
        }
    }
    out
}

/// The machine's host name, lower-cased, if it is usable as a DNS name.
fn host_name() -> Option<String> {
    let raw = fs::read_to_string("/proc/sys/kernel/hostname")
        .ok()
        .or_else(|| std::env::var("HOSTNAME").ok())?;
    let name = raw.trim().trim_end_matches('.').to_ascii_lowercase();
    is_dns_name(&name).then_some(name)
}

/// Whether `name` is a syntactically valid DNS name (letters, digits, `-`, dot-separated labels).
fn is_dns_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 253
        && name.split('.').all(|label| {
            !label.is_empty()
                && label.len() <= 63
                && !label.starts_with('-')
                && !label.ends_with('-')
                && label
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-')
        })
}

/// The host's own IPv4 addresses from `/proc/net/fib_trie`: every `/32 host LOCAL` leaf, minus
/// the loopback network (`127.0.0.1` is always included separately).
fn parse_fib_trie_local(text: &str) -> Vec<Ipv4Addr> {
    let mut out = Vec::new();
    let mut last: Option<Ipv4Addr> = None;
    for line in text.lines() {
        let line = line.trim();
        if let Some(addr) = line.strip_prefix("|-- ") {
            last = addr.trim().parse().ok();
        } else if line.starts_with("/32 host LOCAL")
            && let Some(addr) = last.take()
            && !addr.is_loopback()
            && !out.contains(&addr)
        {
            out.push(addr);
        }
    }
    out
}

/// The host's global-scope IPv6 addresses from `/proc/net/if_inet6`.
fn parse_if_inet6(text: &str) -> Vec<Ipv6Addr> {
    let mut out = Vec::new();
    for line in text.lines() {
        let fields: Vec<&str> = line.split_whitespace().collect();
        if fields.len() < 6 || fields[0].len() != 32 {
            continue;
        }
        // Only global scope: link-local addresses need a zone and are useless in a SAN.
        if fields[3] != "00" {
            continue;
        }
        let mut octets = [0u8; 16];
        let ok = (0..16).all(
            |i| match u8::from_str_radix(&fields[0][2 * i..2 * i + 2], 16) {
                Ok(b) => {
                    octets[i] = b;
                    true
                }
                Err(_) => false,
            },
        );
        if !ok {
            continue;
        }
        let addr = Ipv6Addr::from(octets);
        if !addr.is_loopback() && !out.contains(&addr) {
            out.push(addr);
        }
    }
    out
}

/// The CA material needed to sign certificates.
struct Ca {
    cert_pem: String,
    key_pem: String,
    cert_der: Vec<u8>,
}

impl Ca {
    fn issuer(&self) -> Result<Issuer<'static, KeyPair>> {
        let key = KeyPair::from_pem(&self.key_pem).context("parsing the CA private key")?;
        Issuer::from_ca_cert_der(&CertificateDer::from(self.cert_der.as_slice()), key)
            .context("using the CA certificate as issuer")
    }
}

/// What a leaf certificate is for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Purpose {
    Server,
    Client,
}

/// What a leaf certificate must contain.
struct LeafSpec {
    common_name: String,
    groups: Vec<String>,
    dns: Vec<String>,
    ips: Vec<IpAddr>,
    purpose: Purpose,
    days: u32,
}

impl LeafSpec {
    fn serving(names: &ServingNames) -> LeafSpec {
        LeafSpec {
            common_name: SERVING_COMMON_NAME.to_string(),
            groups: Vec::new(),
            dns: names.dns.clone(),
            ips: names.ips.clone(),
            purpose: Purpose::Server,
            days: LEAF_VALIDITY_DAYS,
        }
    }

    fn client(user: &str, groups: &[&str], days: u32) -> LeafSpec {
        LeafSpec {
            common_name: user.to_string(),
            groups: groups.iter().map(|g| g.to_string()).collect(),
            dns: Vec::new(),
            ips: Vec::new(),
            purpose: Purpose::Client,
            days,
        }
    }
}

impl Pki {
    /// Loads the PKI from `dir`, creating whatever is missing.
    ///
    /// The CA (`ca.crt`, `ca.key`) is reused when present; a CA that cannot be parsed, does not
    /// match its key, is not a CA or has expired is an error naming the file, never replaced. The
    /// serving certificate is re-issued from that CA when it is missing or broken, lacks one of
    /// `names`, was signed by another CA or expires within [`RENEW_BEFORE_DAYS`]; the admin
    /// certificate likewise. Keys are written with mode 0600.
    pub fn load_or_create(dir: &Path, names: &ServingNames) -> Result<Pki> {
        fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(dir)
            .with_context(|| format!("creating PKI directory {}", dir.display()))?;

        let ca = load_or_create_ca(dir)?;
        let (serving_cert_pem, serving_key_pem) = ensure_leaf(
            dir,
            SERVING_CERT_FILE,
            SERVING_KEY_FILE,
            &ca,
            &LeafSpec::serving(names),
        )?;
        let (admin_cert_pem, admin_key_pem) = ensure_leaf(
            dir,
            ADMIN_CERT_FILE,
            ADMIN_KEY_FILE,
            &ca,
            &LeafSpec::client(ADMIN_USER, &[ADMIN_GROUP], LEAF_VALIDITY_DAYS),
        )?;

        Ok(Pki {
            ca_cert_pem: ca.cert_pem,
            ca_key_pem: ca.key_pem,
            ca_cert_der: ca.cert_der,
            serving_cert_pem,
            serving_key_pem,
            admin_cert_pem,
            admin_key_pem,
        })
    }

    /// Issues a client certificate signed by the cluster CA for `user` (the subject CN) in
    /// `groups` (one subject O each), valid for `days` days. Returns `(cert PEM, key PEM)`.
    /// Nothing is written to disk.
    pub fn issue_client_cert(
        &self,
        user: &str,
        groups: &[&str],
        days: u32,
    ) -> Result<(String, String)> {
        if user.is_empty() {
            bail!("a client certificate needs a non-empty user name");
        }
        if days == 0 {
            bail!("a client certificate must be valid for at least one day");
        }
        issue_leaf(&self.ca(), &LeafSpec::client(user, groups, days))
    }

    /// A TLS server configuration for the API server: the serving certificate (followed by the
    /// CA), optional client certificates verified against the cluster CA, ALPN `h2` and
    /// `http/1.1`. Uses the `ring` provider explicitly, not a process-wide default.
    pub fn server_config(&self) -> Result<Arc<rustls::ServerConfig>> {
        let provider = Arc::new(rustls::crypto::ring::default_provider());

        let ca_der = CertificateDer::from(self.ca_cert_der.clone());
        let mut roots = rustls::RootCertStore::empty();
        roots
            .add(ca_der.clone())
            .context("adding the cluster CA to the client trust store")?;
        let verifier = rustls::server::WebPkiClientVerifier::builder_with_provider(
            Arc::new(roots),
            provider.clone(),
        )
        .allow_unauthenticated()
        .build()
        .context("building the client certificate verifier")?;

        let mut chain: Vec<CertificateDer<'static>> =
            CertificateDer::pem_slice_iter(self.serving_cert_pem.as_bytes())
                .collect::<Result<_, _>>()
                .map_err(|e| anyhow!("parsing the serving certificate PEM: {e:?}"))?;
        if chain.is_empty() {
            bail!("the serving certificate PEM holds no certificate");
        }
        chain.push(ca_der);
        let key = PrivateKeyDer::from_pem_slice(self.serving_key_pem.as_bytes())
            .map_err(|e| anyhow!("parsing the serving key PEM: {e:?}"))?;

        let mut config = rustls::ServerConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .context("selecting TLS protocol versions")?
            .with_client_cert_verifier(verifier)
            .with_single_cert(chain, key)
            .context("installing the serving certificate")?;
        config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
        Ok(Arc::new(config))
    }

    fn ca(&self) -> Ca {
        Ca {
            cert_pem: self.ca_cert_pem.clone(),
            key_pem: self.ca_key_pem.clone(),
            cert_der: self.ca_cert_der.clone(),
        }
    }
}

/// Seconds since the Unix epoch.
fn now_unix() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}

/// Reads a file as UTF-8; `None` when it does not exist.
fn read_optional(path: &Path) -> Result<Option<String>> {
    match fs::read(path) {
        Ok(bytes) => {
            Ok(Some(String::from_utf8(bytes).map_err(|_| {
                anyhow!("{} is not a text (PEM) file", path.display())
            })?))
        }
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(e).with_context(|| format!("reading {}", path.display())),
    }
}

/// Decodes the first PEM block of `text`, which must be a certificate, to DER.
fn cert_pem_to_der(text: &str) -> Result<Vec<u8>> {
    let (_, pem) = x509_parser::pem::parse_x509_pem(text.as_bytes())
        .map_err(|e| anyhow!("no PEM block found: {e}"))?;
    if pem.label != "CERTIFICATE" {
        bail!("expected a CERTIFICATE PEM block, found {:?}", pem.label);
    }
    Ok(pem.contents)
}

fn parse_cert(der: &[u8]) -> Result<X509Certificate<'_>> {
    let (_, cert) = x509_parser::parse_x509_certificate(der)
        .map_err(|e| anyhow!("invalid certificate: {e}"))?;
    Ok(cert)
}

/// Whether `key` is the private half of the certificate's public key.
fn key_matches(cert: &X509Certificate<'_>, key: &KeyPair) -> bool {
    key.subject_public_key_info() == cert.public_key().raw
}

fn load_or_create_ca(dir: &Path) -> Result<Ca> {
    let cert_path = dir.join(CA_CERT_FILE);
    let key_path = dir.join(CA_KEY_FILE);
    let cert_text = read_optional(&cert_path)?;
    let key_text = read_optional(&key_path)?;

    match (cert_text, key_text) {
        (Some(cert_pem), Some(key_pem)) => {
            let cert_der = cert_pem_to_der(&cert_pem)
                .with_context(|| format!("parsing CA certificate {}", cert_path.display()))?;
            let cert = parse_cert(&cert_der)
                .with_context(|| format!("parsing CA certificate {}", cert_path.display()))?;
            let is_ca = matches!(cert.basic_constraints(), Ok(Some(bc)) if bc.value.ca);
            if !is_ca {
                bail!(
                    "CA certificate {} is not a certificate authority (basicConstraints CA:FALSE)",
                    cert_path.display()
                );
            }
            let key = KeyPair::from_pem(&key_pem)
                .map_err(|e| anyhow!("parsing CA private key {}: {e}", key_path.display()))?;
            if !key_matches(&cert, &key) {
                bail!(
                    "CA private key {} does not belong to CA certificate {}",
                    key_path.display(),
                    cert_path.display()
                );
            }
            let now = now_unix();
            let not_after = cert.validity().not_after.timestamp();
            if not_after <= now {
                bail!(
                    "CA certificate {} expired at {}; rotate the cluster CA by hand",
                    cert_path.display(),
                    cert.validity().not_after
                );
            }
            if not_after - now < i64::from(RENEW_BEFORE_DAYS) * SECONDS_PER_DAY {
                tracing::warn!(
                    path = %cert_path.display(),
                    not_after = %cert.validity().not_after,
                    "the cluster CA expires soon"
                );
            }
            Ok(Ca {
                cert_pem,
                key_pem,
                cert_der,
            })
        }
        (Some(_), None) => bail!(
            "CA certificate {} exists but its key {} is missing; refusing to replace the cluster CA",
            cert_path.display(),
            key_path.display()
        ),
        (None, Some(key_pem)) => {
            // A first start that died between writing the key and the certificate: keep the key
            // and make the certificate for it.
            let key = KeyPair::from_pem(&key_pem)
                .map_err(|e| anyhow!("parsing CA private key {}: {e}", key_path.display()))?;
            tracing::warn!(
                path = %cert_path.display(),
                "CA certificate missing; creating one for the existing CA key"
            );
            let ca = self_signed_ca(key)?;
            write_atomic(&cert_path, ca.cert_pem.as_bytes(), 0o644)?;
            Ok(ca)
        }
        (None, None) => {
            let key = KeyPair::generate().context("generating the CA key")?;
            let ca = self_signed_ca(key)?;
            write_atomic(&key_path, ca.key_pem.as_bytes(), 0o600)?;
            write_atomic(&cert_path, ca.cert_pem.as_bytes(), 0o644)?;
            tracing::info!(path = %cert_path.display(), "created the cluster CA");
            Ok(ca)
        }
    }
}

fn self_signed_ca(key: KeyPair) -> Result<Ca> {
    let now = now_unix();
    let mut params = CertificateParams::default();
    params.distinguished_name = DistinguishedName::new();
    params
        .distinguished_name
        .push(DnType::CommonName, CA_COMMON_NAME);
    params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    params.key_usages = vec![
        KeyUsagePurpose::DigitalSignature,
        KeyUsagePurpose::KeyCertSign,
        KeyUsagePurpose::CrlSign,
    ];
    params.not_before = ASN1Time::from_timestamp(now - BACKDATE_SECONDS)?.to_datetime();
    params.not_after =
        ASN1Time::from_timestamp(now + i64::from(CA_VALIDITY_DAYS) * SECONDS_PER_DAY)?
            .to_datetime();
    let cert = params
        .self_signed(&key)
        .context("self-signing the CA certificate")?;
    Ok(Ca {
        cert_pem: cert.pem(),
        key_pem: key.serialize_pem(),
        cert_der: cert.der().to_vec(),
    })
}

/// Returns the existing leaf if it still fits `spec`, otherwise issues and writes a new one.
fn ensure_leaf(
    dir: &Path,
    cert_file: &str,
    key_file: &str,
    ca: &Ca,
    spec: &LeafSpec,
) -> Result<(String, String)> {
    let cert_path = dir.join(cert_file);
    let key_path = dir.join(key_file);
    let reason = match (read_optional(&cert_path), read_optional(&key_path)) {
        (Ok(Some(cert_pem)), Ok(Some(key_pem))) => {
            match leaf_problem(&cert_pem, &key_pem, ca, spec) {
                None => return Ok((cert_pem, key_pem)),
                Some(reason) => reason,
            }
        }
        (Ok(None), _) | (_, Ok(None)) => "missing".to_string(),
        (Err(e), _) | (_, Err(e)) => format!("unreadable: {e:#}"),
    };
    let (cert_pem, key_pem) = issue_leaf(ca, spec)?;
    write_atomic(&key_path, key_pem.as_bytes(), 0o600)?;
    write_atomic(&cert_path, cert_pem.as_bytes(), 0o644)?;
    tracing::info!(path = %cert_path.display(), %reason, "issued certificate");
    Ok((cert_pem, key_pem))
}

/// Why an existing leaf certificate must be re-issued, or `None` when it is fine.
fn leaf_problem(cert_pem: &str, key_pem: &str, ca: &Ca, spec: &LeafSpec) -> Option<String> {
    let der = match cert_pem_to_der(cert_pem) {
        Ok(der) => der,
        Err(e) => return Some(format!("unparsable: {e:#}")),
    };
    let cert = match parse_cert(&der) {
        Ok(cert) => cert,
        Err(e) => return Some(format!("unparsable: {e:#}")),
    };
    let key = match KeyPair::from_pem(key_pem) {
        Ok(key) => key,
        Err(e) => return Some(format!("unparsable key: {e}")),
    };
    if !key_matches(&cert, &key) {
        return Some("key does not match certificate".to_string());
    }
    let ca_cert = match parse_cert(&ca.cert_der) {
        Ok(cert) => cert,
        Err(e) => return Some(format!("CA unparsable: {e:#}")),
    };
    if cert.issuer().as_raw() != ca_cert.subject().as_raw()
        || cert.verify_signature(Some(ca_cert.public_key())).is_err()
    {
        return Some("not signed by the cluster CA".to_string());
    }
    let now = now_unix();
    if cert.validity().not_before.timestamp() > now + BACKDATE_SECONDS {
        return Some("not valid yet".to_string());
    }
    if cert.validity().not_after.timestamp() - now < i64::from(RENEW_BEFORE_DAYS) * SECONDS_PER_DAY
    {
        return Some(format!("expires at {}", cert.validity().not_after));
    }
    match spec.purpose {
        Purpose::Server => {
            let (dns, ips) = cert_sans(&cert);
            let missing: Vec<String> = spec
                .dns
                .iter()
                .filter(|want| !dns.iter().any(|have| have.eq_ignore_ascii_case(want)))
                .cloned()
                .chain(
                    spec.ips
                        .iter()
                        .filter(|want| !ips.contains(want))
                        .map(|ip| ip.to_string()),
                )
                .collect();
            if !missing.is_empty() {
                return Some(format!("missing names {}", missing.join(", ")));
            }
        }
        Purpose::Client => {
            let (cn, orgs) = subject_cn_and_orgs(&cert);
            let mut have = orgs;
            have.sort();
            let mut want = spec.groups.clone();
            want.sort();
            if cn.as_deref() != Some(spec.common_name.as_str()) || have != want {
                return Some("subject changed".to_string());
            }
        }
    }
    None
}

/// DNS and IP subject alternative names of a certificate.
fn cert_sans(cert: &X509Certificate<'_>) -> (Vec<String>, Vec<IpAddr>) {
    let mut dns = Vec::new();
    let mut ips = Vec::new();
    if let Ok(Some(san)) = cert.subject_alternative_name() {
        for name in &san.value.general_names {
            match name {
                GeneralName::DNSName(d) => dns.push(d.to_string()),
                GeneralName::IPAddress(bytes) => {
                    if let Ok(v4) = <[u8; 4]>::try_from(*bytes) {
                        ips.push(IpAddr::from(v4));
                    } else if let Ok(v6) = <[u8; 16]>::try_from(*bytes) {
                        ips.push(IpAddr::from(v6));
                    }
                }
                _ => {}
            }
        }
    }
    (dns, ips)
}

/// The subject's first common name and all its organizations.
fn subject_cn_and_orgs(cert: &X509Certificate<'_>) -> (Option<String>, Vec<String>) {
    let cn = cert
        .subject()
        .iter_common_name()
        .next()
        .and_then(|a| a.as_str().ok())
        .map(str::to_string);
    let orgs = cert
        .subject()
        .iter_organization()
        .filter_map(|a| a.as_str().ok())
        .map(str::to_string)
        .collect();
    (cn, orgs)
}

/// Issues a leaf certificate and its fresh key from the CA; returns `(cert PEM, key PEM)`.
fn issue_leaf(ca: &Ca, spec: &LeafSpec) -> Result<(String, String)> {
    let issuer = ca.issuer()?;
    let key = KeyPair::generate().context("generating a key")?;
    let now = now_unix();

    let mut params = CertificateParams::default();
    params.distinguished_name = DistinguishedName::new();
    params
        .distinguished_name
        .push(DnType::CommonName, spec.common_name.as_str());
    params.not_before = ASN1Time::from_timestamp(now - BACKDATE_SECONDS)?.to_datetime();
    params.not_after =
        ASN1Time::from_timestamp(now + i64::from(spec.days) * SECONDS_PER_DAY)?.to_datetime();
    params.is_ca = IsCa::ExplicitNoCa;
    params.key_usages = vec![
        KeyUsagePurpose::DigitalSignature,
        KeyUsagePurpose::KeyEncipherment,
    ];
    params.extended_key_usages = vec![match spec.purpose {
        Purpose::Server => ExtendedKeyUsagePurpose::ServerAuth,
        Purpose::Client => ExtendedKeyUsagePurpose::ClientAuth,
    }];
    params.use_authority_key_identifier_extension = true;
    for dns in &spec.dns {
        let name = dns
            .as_str()
            .try_into()
            .map_err(|e| anyhow!("invalid DNS name {dns:?} for a certificate: {e}"))?;
        params.subject_alt_names.push(SanType::DnsName(name));
    }
    for ip in &spec.ips {
        params.subject_alt_names.push(SanType::IpAddress(*ip));
    }

    let cert = params
        .signed_by(&key, &issuer)
        .with_context(|| format!("signing the certificate for {}", spec.common_name))?;
    let cert_pem = match spec.purpose {
        Purpose::Server => cert.pem(),
        Purpose::Client => {
            // rcgen keeps one value per attribute type, but Kubernetes maps every subject O to a
            // group: rebuild the subject (all O's, then CN, as Go orders them) and re-sign.
            let subject = client_subject_der(&spec.common_name, &spec.groups);
            let der = replace_subject(cert.der(), &subject, issuer.key())?;
            pem_encode("CERTIFICATE", &der)
        }
    };
    Ok((cert_pem, key.serialize_pem()))
}

// --- Minimal DER helpers, enough to swap the subject of a certificate and re-sign it. ---

const DER_SEQUENCE: u8 = 0x30;
const DER_SET: u8 = 0x31;
const DER_BIT_STRING: u8 = 0x03;
const DER_UTF8_STRING: u8 = 0x0c;
const DER_OID: u8 = 0x06;
const OID_COMMON_NAME: [u8; 3] = [0x55, 0x04, 0x03];
const OID_ORGANIZATION: [u8; 3] = [0x55, 0x04, 0x0a];

fn der_tlv(tag: u8, content: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(content.len() + 6);
    out.push(tag);
    let len = content.len();
    if len < 0x80 {
        out.push(len as u8);
    } else {
        let bytes = len.to_be_bytes();
        let skip = bytes.iter().take_while(|b| **b == 0).count();
        out.push(0x80 | (bytes.len() - skip) as u8);
        out.extend_from_slice(&bytes[skip..]);
    }
    out.extend_from_slice(content);
    out
}

/// Splits the first DER element of `input`: `(whole element, content, rest)`.
fn der_split(input: &[u8]) -> Result<(&[u8], &[u8], &[u8])> {
    let malformed = || anyhow!("malformed DER");
    let first_len = *input.get(1).ok_or_else(malformed)?;
    let (header, len) = if first_len < 0x80 {
        (2, usize::from(first_len))
    } else {
        let n = usize::from(first_len & 0x7f);
        if n == 0 || n > 4 {
            return Err(malformed());
        }
        let bytes = input.get(2..2 + n).ok_or_else(malformed)?;
        (
            2 + n,
            bytes
                .iter()
                .fold(0usize, |acc, b| (acc << 8) | usize::from(*b)),
        )
    };
    let end = header.checked_add(len).ok_or_else(malformed)?;
    if end > input.len() {
        return Err(malformed());
    }
    Ok((&input[..end], &input[header..end], &input[end..]))
}

fn name_attribute(oid: &[u8], value: &str) -> Vec<u8> {
    let mut pair = der_tlv(DER_OID, oid);
    pair.extend(der_tlv(DER_UTF8_STRING, value.as_bytes()));
    der_tlv(DER_SET, &der_tlv(DER_SEQUENCE, &pair))
}

/// The DER `Name` `O=<group>...,CN=<user>`.
fn client_subject_der(user: &str, groups: &[String]) -> Vec<u8> {
    let mut rdns = Vec::new();
    for group in groups {
        rdns.extend(name_attribute(&OID_ORGANIZATION, group));
    }
    rdns.extend(name_attribute(&OID_COMMON_NAME, user));
    der_tlv(DER_SEQUENCE, &rdns)
}

/// Replaces the subject of a certificate and signs the result again with `ca_key`.
fn replace_subject(cert_der: &[u8], subject: &[u8], ca_key: &KeyPair) -> Result<Vec<u8>> {
    let (_, cert_body, _) = der_split(cert_der)?;
    let (_, tbs_body, after_tbs) = der_split(cert_body)?;
    let (signature_algorithm, _, _) = der_split(after_tbs)?;

    // TBSCertificate ::= SEQUENCE { [0] version OPTIONAL, serialNumber, signature, issuer,
    //                               validity, subject, ... }
    let mut rest = tbs_body;
    let mut prefix_len = 0;
    if rest.first() == Some(&0xa0) {
        let (version, _, r) = der_split(rest)?;
        prefix_len += version.len();
        rest = r;
    }
    for _ in 0..4 {
        let (element, _, r) = der_split(rest)?;
        prefix_len += element.len();
        rest = r;
    }
    let (_, _, after_subject) = der_split(rest)?;

    let mut new_tbs_body = Vec::with_capacity(tbs_body.len() + subject.len());
    new_tbs_body.extend_from_slice(&tbs_body[..prefix_len]);
    new_tbs_body.extend_from_slice(subject);
    new_tbs_body.extend_from_slice(after_subject);
    let new_tbs = der_tlv(DER_SEQUENCE, &new_tbs_body);

    let signature = ca_key.sign(&new_tbs).context("signing the certificate")?;
    let mut bits = Vec::with_capacity(signature.len() + 1);
    bits.push(0); // no unused bits
    bits.extend(signature);

    let mut body = new_tbs;
    body.extend_from_slice(signature_algorithm);
    body.extend(der_tlv(DER_BIT_STRING, &bits));
    Ok(der_tlv(DER_SEQUENCE, &body))
}

// --- Base64 (RFC 4648, standard alphabet, padded) and PEM. ---

const BASE64_ALPHABET: &[u8; 64] =
    b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/// Standard base64 with padding.
fn base64_encode(data: &[u8]) -> String {
    let mut out = String::with_capacity(data.len().div_ceil(3) * 4);
    for chunk in data.chunks(3) {
        let b = [
            chunk[0],
            chunk.get(1).copied().unwrap_or(0),
            chunk.get(2).copied().unwrap_or(0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(char::from(
                    BASE64_ALPHABET[((n >> (18 - 6 * i)) & 0x3f) as usize],
                ));
            } else {
                out.push('=');
            }
        }
    }
    out
}

fn pem_encode(label: &str, der: &[u8]) -> String {
    let b64 = base64_encode(der);
    let mut out = format!("-----BEGIN {label}-----\n");
    for line in b64.as_bytes().chunks(64) {
        // The alphabet is ASCII, so every chunk is valid UTF-8.
        out.push_str(std::str::from_utf8(line).unwrap_or_default());
        out.push('\n');
    }
    out.push_str(&format!("-----END {label}-----\n"));
    out
}

// --- Files. ---

static TEMP_COUNTER: AtomicU64 = AtomicU64::new(0);

/// Writes `data` to `path` atomically (temporary file in the same directory, fsync, rename) with
/// permission bits `mode`.
/// Writes a private file (mode 0600) atomically.
pub fn write_secret(path: &Path, data: &[u8]) -> Result<()> {
    write_atomic(path, data, 0o600)
}

fn write_atomic(path: &Path, data: &[u8], mode: u32) -> Result<()> {
    let dir = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    };
    let file_name = path
        .file_name()
        .ok_or_else(|| anyhow!("{} has no file name", path.display()))?
        .to_string_lossy()
        .into_owned();
    let temp = dir.join(format!(
        ".{file_name}.tmp-{}-{}",
        std::process::id(),
        TEMP_COUNTER.fetch_add(1, Ordering::Relaxed)
    ));
    let result = (|| -> io::Result<()> {
        let mut file = fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(mode)
            .open(&temp)?;
        file.set_permissions(fs::Permissions::from_mode(mode))?;
        file.write_all(data)?;
        file.sync_all()?;
        drop(file);
        fs::rename(&temp, path)?;
        if let Ok(d) = fs::File::open(&dir) {
            let _ = d.sync_all();
        }
        Ok(())
    })();
    if result.is_err() {
        let _ = fs::remove_file(&temp);
    }
    result.with_context(|| format!("writing {}", path.display()))
}

// --- Kubeconfig. ---

#[derive(Serialize)]
struct KubeConfig<'a> {
    #[serde(rename = "apiVersion")]
    api_version: &'a str,
    kind: &'a str,
    clusters: Vec<NamedCluster<'a>>,
    contexts: Vec<NamedContext<'a>>,
    #[serde(rename = "current-context")]
    current_context: &'a str,
    preferences: BTreeMap<String, String>,
    users: Vec<NamedUser<'a>>,
}

#[derive(Serialize)]
struct NamedCluster<'a> {
    name: &'a str,
    cluster: ClusterEntry<'a>,
}

#[derive(Serialize)]
struct ClusterEntry<'a> {
    server: &'a str,
    #[serde(rename = "certificate-authority-data")]
    certificate_authority_data: String,
}

#[derive(Serialize)]
struct NamedContext<'a> {
    name: &'a str,
    context: ContextEntry<'a>,
}

#[derive(Serialize)]
struct ContextEntry<'a> {
    cluster: &'a str,
    user: &'a str,
}

#[derive(Serialize)]
struct NamedUser<'a> {
    name: &'a str,
    user: UserEntry,
}

#[derive(Serialize)]
struct UserEntry {
    #[serde(rename = "client-certificate-data")]
    client_certificate_data: String,
    #[serde(rename = "client-key-data")]
    client_key_data: String,
}

/// Name of the cluster and of the context in kubeconfigs written by [`write_kubeconfig`].
pub const KUBECONFIG_CONTEXT: &str = "skiff";

/// Writes a kubeconfig at `path` (mode 0600, atomically) with one cluster and one context named
/// `skiff` (the current context) pointing at `server_url`, trusting `ca_pem` and authenticating as
/// `user_name` with the given client certificate and key. PEMs are embedded base64-encoded.
pub fn write_kubeconfig(
    path: &Path,
    server_url: &str,
    ca_pem: &str,
    client_cert_pem: &str,
    client_key_pem: &str,
    user_name: &str,
) -> Result<()> {
    let config = KubeConfig {
        api_version: "v1",
        kind: "Config",
        clusters: vec![NamedCluster {
            name: KUBECONFIG_CONTEXT,
            cluster: ClusterEntry {
                server: server_url,
                certificate_authority_data: base64_encode(ca_pem.as_bytes()),
            },
        }],
        contexts: vec![NamedContext {
            name: KUBECONFIG_CONTEXT,
            context: ContextEntry {
                cluster: KUBECONFIG_CONTEXT,
                user: user_name,
            },
        }],
        current_context: KUBECONFIG_CONTEXT,
        preferences: BTreeMap::new(),
        users: vec![NamedUser {
            name: user_name,
            user: UserEntry {
                client_certificate_data: base64_encode(client_cert_pem.as_bytes()),
                client_key_data: base64_encode(client_key_pem.as_bytes()),
            },
        }],
    };
    let yaml = serde_yaml::to_string(&config).context("serializing the kubeconfig")?;
    if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
        fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(parent)
            .with_context(|| format!("creating {}", parent.display()))?;
    }
    write_atomic(path, yaml.as_bytes(), 0o600)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::authn::user_from_client_cert;
    use tokio_rustls::{TlsAcceptor, TlsConnector};

    fn names() -> ServingNames {
        ServingNames {
            dns: vec![
                "localhost".to_string(),
                "kubernetes.default.svc".to_string(),
            ],
            ips: vec!["127.0.0.1".parse().unwrap(), "10.43.0.1".parse().unwrap()],
        }
    }

    fn der_of(pem: &str) -> Vec<u8> {
        cert_pem_to_der(pem).unwrap()
    }

    fn mode_of(path: &Path) -> u32 {
        fs::metadata(path).unwrap().permissions().mode() & 0o777
    }

    fn days_left(cert: &X509Certificate<'_>) -> i64 {
        (cert.validity().not_after.timestamp() - now_unix()) / SECONDS_PER_DAY
    }

    fn base64_decode(text: &str) -> Vec<u8> {
        let mut out = Vec::new();
        let mut acc = 0u32;
        let mut bits = 0;
        for c in text.bytes().filter(|c| *c != b'=') {
            let v = BASE64_ALPHABET.iter().position(|a| *a == c).unwrap() as u32;
            acc = (acc << 6) | v;
            bits += 6;
            if bits >= 8 {
                bits -= 8;
                out.push((acc >> bits) as u8);
                acc &= (1 << bits) - 1;
            }
        }
        out
    }

    #[test]
    fn base64_rfc4648_vectors() {
        for (plain, encoded) in [
            ("", ""),
            ("f", "Zg=="),
            ("fo", "Zm8="),
            ("foo", "Zm9v"),
            ("foob", "Zm9vYg=="),
            ("fooba", "Zm9vYmE="),
            ("foobar", "Zm9vYmFy"),
        ] {
            assert_eq!(base64_encode(plain.as_bytes()), encoded);
            assert_eq!(base64_decode(encoded), plain.as_bytes());
        }
        let all: Vec<u8> = (0..=255).collect();
        assert_eq!(base64_decode(&base64_encode(&all)), all);
    }

    #[test]
    fn creates_then_reuses() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("pki");
        let first = Pki::load_or_create(&dir, &names()).unwrap();
        for file in [CA_KEY_FILE, SERVING_KEY_FILE, ADMIN_KEY_FILE] {
            assert_eq!(mode_of(&dir.join(file)), 0o600, "{file}");
        }
        for file in [CA_CERT_FILE, SERVING_CERT_FILE, ADMIN_CERT_FILE] {
            assert!(dir.join(file).is_file(), "{file}");
        }
        assert_eq!(mode_of(&dir), 0o700);
        assert_eq!(
            fs::read_dir(&dir).unwrap().count(),
            6,
            "no temporary files left"
        );
        assert_eq!(
            fs::read_to_string(dir.join(CA_CERT_FILE)).unwrap(),
            first.ca_cert_pem
        );
        assert_eq!(first.ca_cert_der, der_of(&first.ca_cert_pem));

        let second = Pki::load_or_create(&dir, &names()).unwrap();
        assert_eq!(second.ca_cert_pem, first.ca_cert_pem);
        assert_eq!(second.ca_key_pem, first.ca_key_pem);
        assert_eq!(
            second.serving_cert_pem, first.serving_cert_pem,
            "not re-issued"
        );
        assert_eq!(second.admin_cert_pem, first.admin_cert_pem, "not re-issued");
        assert_eq!(second.admin_key_pem, first.admin_key_pem);
        assert!(!format!("{second:?}").contains(&second.ca_key_pem));
    }

    #[test]
    fn certificate_contents() {
        let tmp = tempfile::tempdir().unwrap();
        let pki = Pki::load_or_create(tmp.path(), &names()).unwrap();

        let ca = parse_cert(&pki.ca_cert_der).unwrap();
        let (ca_cn, _) = subject_cn_and_orgs(&ca);
        assert_eq!(ca_cn.as_deref(), Some("skiff-ca"));
        assert!(ca.basic_constraints().unwrap().unwrap().value.ca);
        assert!((3649..=3650).contains(&days_left(&ca)));
        ca.verify_signature(None).unwrap();

        let serving_der = der_of(&pki.serving_cert_pem);
        let serving = parse_cert(&serving_der).unwrap();
        let (dns, ips) = cert_sans(&serving);
        assert_eq!(dns, vec!["localhost", "kubernetes.default.svc"]);
        assert_eq!(ips, names().ips);
        assert!((364..=365).contains(&days_left(&serving)));
        let eku = serving.extended_key_usage().unwrap().unwrap().value.clone();
        assert!(eku.server_auth && !eku.client_auth);
        assert_eq!(serving.issuer().as_raw(), ca.subject().as_raw());
        serving.verify_signature(Some(ca.public_key())).unwrap();

        let admin_der = der_of(&pki.admin_cert_pem);
        let admin = parse_cert(&admin_der).unwrap();
        let (cn, orgs) = subject_cn_and_orgs(&admin);
        assert_eq!(cn.as_deref(), Some("admin"));
        assert_eq!(orgs, vec!["system:masters"]);
        let eku = admin.extended_key_usage().unwrap().unwrap().value.clone();
        assert!(eku.client_auth && !eku.server_auth);
        assert!((364..=365).contains(&days_left(&admin)));
        admin.verify_signature(Some(ca.public_key())).unwrap();
        assert!(!admin.basic_constraints().unwrap().unwrap().value.ca);

        let (cert, key) = pki
            .issue_client_cert("system:node:n1", &["system:nodes", "b", "c"], 7)
            .unwrap();
        let der = der_of(&cert);
        let node = parse_cert(&der).unwrap();
        let (cn, orgs) = subject_cn_and_orgs(&node);
        assert_eq!(cn.as_deref(), Some("system:node:n1"));
        assert_eq!(orgs, vec!["system:nodes", "b", "c"]);
        assert!((6..=7).contains(&days_left(&node)));
        node.verify_signature(Some(ca.public_key())).unwrap();
        assert!(key_matches(&node, &KeyPair::from_pem(&key).unwrap()));
        assert!(pki.issue_client_cert("", &[], 1).is_err());
        assert!(pki.issue_client_cert("x", &[], 0).is_err());
    }

    #[test]
    fn reissues_serving_cert_when_names_change() {
        let tmp = tempfile::tempdir().unwrap();
        let first = Pki::load_or_create(tmp.path(), &names()).unwrap();

        let mut more = names();
        more.dns.push("api.example.com".to_string());
        more.ips.push("192.0.2.7".parse().unwrap());
        let second = Pki::load_or_create(tmp.path(), &more).unwrap();
        assert_eq!(second.ca_cert_pem, first.ca_cert_pem, "same CA");
        assert_ne!(second.serving_cert_pem, first.serving_cert_pem);
        assert_ne!(second.serving_key_pem, first.serving_key_pem);
        assert_eq!(
            second.admin_cert_pem, first.admin_cert_pem,
            "admin untouched"
        );
        let der = der_of(&second.serving_cert_pem);
        let serving = parse_cert(&der).unwrap();
        let (dns, ips) = cert_sans(&serving);
        assert!(dns.contains(&"api.example.com".to_string()));
        assert!(ips.contains(&"192.0.2.7".parse().unwrap()));
        let ca = parse_cert(&first.ca_cert_der).unwrap();
        serving.verify_signature(Some(ca.public_key())).unwrap();
        assert_eq!(
            fs::read_to_string(tmp.path().join(SERVING_CERT_FILE)).unwrap(),
            second.serving_cert_pem
        );

        // Dropping a name is no reason to re-issue; matching is case-insensitive.
        let mut fewer = more.clone();
        fewer.dns = vec!["LOCALHOST".to_string()];
        let third = Pki::load_or_create(tmp.path(), &fewer).unwrap();
        assert_eq!(third.serving_cert_pem, second.serving_cert_pem);
    }

    #[test]
    fn reissues_expiring_foreign_or_broken_leaves() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path();
        let first = Pki::load_or_create(dir, &names()).unwrap();

        // An admin certificate expiring in 10 days is replaced by a one-year one.
        let (cert, key) = first
            .issue_client_cert(ADMIN_USER, &[ADMIN_GROUP], 10)
            .unwrap();
        fs::write(dir.join(ADMIN_CERT_FILE), &cert).unwrap();
        fs::write(dir.join(ADMIN_KEY_FILE), &key).unwrap();
        // A serving certificate from another CA is replaced.
        let other = tempfile::tempdir().unwrap();
        let foreign = Pki::load_or_create(other.path(), &names()).unwrap();
        fs::write(dir.join(SERVING_CERT_FILE), &foreign.serving_cert_pem).unwrap();
        fs::write(dir.join(SERVING_KEY_FILE), &foreign.serving_key_pem).unwrap();

        let second = Pki::load_or_create(dir, &names()).unwrap();
        assert_eq!(second.ca_cert_pem, first.ca_cert_pem);
        assert_ne!(second.admin_cert_pem, cert);
        let admin_der = der_of(&second.admin_cert_pem);
        assert!(days_left(&parse_cert(&admin_der).unwrap()) >= 364);
        assert_ne!(second.serving_cert_pem, foreign.serving_cert_pem);
        let ca = parse_cert(&first.ca_cert_der).unwrap();
        let serving_der = der_of(&second.serving_cert_pem);
        parse_cert(&serving_der)
            .unwrap()
            .verify_signature(Some(ca.public_key()))
            .unwrap();

        // A certificate with another user's subject, a garbage file, a missing key.
        let (cert, key) = first
            .issue_client_cert("mallory", &[ADMIN_GROUP], 365)
            .unwrap();
        fs::write(dir.join(ADMIN_CERT_FILE), &cert).unwrap();
        fs::write(dir.join(ADMIN_KEY_FILE), &key).unwrap();
        fs::write(dir.join(SERVING_CERT_FILE), "garbage").unwrap();
        let third = Pki::load_or_create(dir, &names()).unwrap();
        assert_ne!(third.admin_cert_pem, cert);
        let third_admin = der_of(&third.admin_cert_pem);
        let (cn, _) = subject_cn_and_orgs(&parse_cert(&third_admin).unwrap());
        assert_eq!(cn.as_deref(), Some(ADMIN_USER));
        assert!(third.serving_cert_pem.contains("BEGIN CERTIFICATE"));

        fs::remove_file(dir.join(ADMIN_KEY_FILE)).unwrap();
        let fourth = Pki::load_or_create(dir, &names()).unwrap();
        assert_ne!(fourth.admin_cert_pem, third.admin_cert_pem);
        assert_eq!(mode_of(&dir.join(ADMIN_KEY_FILE)), 0o600);
        assert_eq!(fourth.serving_cert_pem, third.serving_cert_pem);
    }

    #[test]
    fn never_replaces_a_broken_ca() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path();
        let first = Pki::load_or_create(dir, &names()).unwrap();
        let ca_path = dir.join(CA_CERT_FILE);

        fs::write(
            &ca_path,
            "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n",
        )
        .unwrap();
        let err = format!("{:#}", Pki::load_or_create(dir, &names()).unwrap_err());
        assert!(err.contains(&ca_path.display().to_string()), "{err}");
        fs::write(&ca_path, "not pem at all").unwrap();
        let err = format!("{:#}", Pki::load_or_create(dir, &names()).unwrap_err());
        assert!(err.contains(&ca_path.display().to_string()), "{err}");
        assert_eq!(
            fs::read_to_string(&ca_path).unwrap(),
            "not pem at all",
            "left alone"
        );

        // A CA certificate whose key belongs to another CA.
        fs::write(&ca_path, &first.ca_cert_pem).unwrap();
        let other = tempfile::tempdir().unwrap();
        let foreign = Pki::load_or_create(other.path(), &names()).unwrap();
        fs::write(dir.join(CA_KEY_FILE), &foreign.ca_key_pem).unwrap();
        let err = format!("{:#}", Pki::load_or_create(dir, &names()).unwrap_err());
        assert!(err.contains("does not belong"), "{err}");

        // A leaf certificate posing as the CA.
        fs::write(&ca_path, &first.serving_cert_pem).unwrap();
        fs::write(dir.join(CA_KEY_FILE), &first.serving_key_pem).unwrap();
        let err = format!("{:#}", Pki::load_or_create(dir, &names()).unwrap_err());
        assert!(err.contains("not a certificate authority"), "{err}");

        // The certificate without its key.
        fs::write(&ca_path, &first.ca_cert_pem).unwrap();
        fs::remove_file(dir.join(CA_KEY_FILE)).unwrap();
        let err = format!("{:#}", Pki::load_or_create(dir, &names()).unwrap_err());
        assert!(
            err.contains(&dir.join(CA_KEY_FILE).display().to_string()),
            "{err}"
        );
        assert_eq!(fs::read_to_string(&ca_path).unwrap(), first.ca_cert_pem);
    }

    #[test]
    fn recovers_ca_certificate_from_its_key() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path();
        let first = Pki::load_or_create(dir, &names()).unwrap();
        fs::remove_file(dir.join(CA_CERT_FILE)).unwrap();
        let second = Pki::load_or_create(dir, &names()).unwrap();
        assert_eq!(second.ca_key_pem, first.ca_key_pem);
        let ca = parse_cert(&second.ca_cert_der).unwrap();
        assert!(key_matches(
            &ca,
            &KeyPair::from_pem(&first.ca_key_pem).unwrap()
        ));
    }

    fn client_config(pki: &Pki, identity: Option<(&str, &str)>) -> rustls::ClientConfig {
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let mut roots = rustls::RootCertStore::empty();
        roots
            .add(CertificateDer::from(pki.ca_cert_der.clone()))
            .unwrap();
        let builder = rustls::ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_root_certificates(roots);
        let mut config = match identity {
            Some((cert, key)) => builder
                .with_client_auth_cert(
                    CertificateDer::pem_slice_iter(cert.as_bytes())
                        .collect::<Result<Vec<_>, _>>()
                        .unwrap(),
                    PrivateKeyDer::from_pem_slice(key.as_bytes()).unwrap(),
                )
                .unwrap(),
            None => builder.with_no_client_auth(),
        };
        config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
        config
    }

    /// Runs a TLS handshake in memory; returns the client certificate the server saw and the
    /// negotiated ALPN protocol, or the server's error.
    async fn handshake(
        server: Arc<rustls::ServerConfig>,
        client: rustls::ClientConfig,
        server_name: &str,
    ) -> std::result::Result<(Option<Vec<u8>>, Option<Vec<u8>>), String> {
        let (client_io, server_io) = tokio::io::duplex(64 * 1024);
        let name = rustls::pki_types::ServerName::try_from(server_name.to_string()).unwrap();
        let (served, connected) = tokio::join!(
            TlsAcceptor::from(server).accept(server_io),
            TlsConnector::from(Arc::new(client)).connect(name, client_io)
        );
        connected.map_err(|e| format!("client: {e}"))?;
        let served = served.map_err(|e| format!("server: {e}"))?;
        let (_, conn) = served.get_ref();
        Ok((
            conn.peer_certificates()
                .and_then(|chain| chain.first())
                .map(|c| c.to_vec()),
            conn.alpn_protocol().map(|p| p.to_vec()),
        ))
    }

    #[tokio::test]
    async fn tls_with_client_certificates() {
        let tmp = tempfile::tempdir().unwrap();
        Pki::load_or_create(tmp.path(), &names()).unwrap();
        // Use the reloaded PKI: leaf certificates must chain to a CA read back from disk.
        let pki = Pki::load_or_create(tmp.path(), &names()).unwrap();
        let server = pki.server_config().unwrap();

        let admin = client_config(&pki, Some((&pki.admin_cert_pem, &pki.admin_key_pem)));
        let (peer, alpn) = handshake(server.clone(), admin.clone(), "localhost")
            .await
            .unwrap();
        assert_eq!(alpn.as_deref(), Some(&b"h2"[..]));
        let user = user_from_client_cert(&peer.unwrap()).unwrap();
        assert_eq!(user.name, "admin");
        assert_eq!(user.groups, vec!["system:masters", "system:authenticated"]);

        // The serving certificate is valid for its IP SANs too.
        handshake(server.clone(), admin, "10.43.0.1").await.unwrap();
        let err = handshake(
            server.clone(),
            client_config(&pki, None),
            "not-a-san.example",
        )
        .await
        .unwrap_err();
        assert!(
            err.starts_with("client") && err.contains("not valid for name"),
            "{err}"
        );

        // A freshly issued multi-group certificate (subject rebuilt and re-signed) is accepted.
        let (cert, key) = pki
            .issue_client_cert("system:node:n1", &["system:nodes", "team-a"], 1)
            .unwrap();
        let (peer, _) = handshake(
            server.clone(),
            client_config(&pki, Some((&cert, &key))),
            "localhost",
        )
        .await
        .unwrap();
        let user = user_from_client_cert(&peer.unwrap()).unwrap();
        assert_eq!(user.name, "system:node:n1");
        assert_eq!(
            user.groups,
            vec!["system:nodes", "team-a", "system:authenticated"]
        );

        // Client certificates are optional.
        let (peer, _) = handshake(server.clone(), client_config(&pki, None), "localhost")
            .await
            .unwrap();
        assert!(peer.is_none());

        // A certificate from another CA is refused.
        let other = tempfile::tempdir().unwrap();
        let foreign = Pki::load_or_create(other.path(), &names()).unwrap();
        let err = handshake(
            server,
            client_config(
                &pki,
                Some((&foreign.admin_cert_pem, &foreign.admin_key_pem)),
            ),
            "localhost",
        )
        .await
        .unwrap_err();
        assert!(err.starts_with("server"), "{err}");
    }

    #[test]
    fn kubeconfig_round_trip() {
        let tmp = tempfile::tempdir().unwrap();
        let pki = Pki::load_or_create(&tmp.path().join("pki"), &names()).unwrap();
        let path = tmp.path().join("home/.kube/config");
        write_kubeconfig(
            &path,
            "https://127.0.0.1:6443",
            &pki.ca_cert_pem,
            &pki.admin_cert_pem,
            &pki.admin_key_pem,
            "admin",
        )
        .unwrap();
        assert_eq!(mode_of(&path), 0o600);
        assert_eq!(fs::read_dir(path.parent().unwrap()).unwrap().count(), 1);

        let doc: serde_yaml::Value =
            serde_yaml::from_str(&fs::read_to_string(&path).unwrap()).unwrap();
        let s = |v: &serde_yaml::Value| v.as_str().unwrap().to_string();
        assert_eq!(s(&doc["apiVersion"]), "v1");
        assert_eq!(s(&doc["kind"]), "Config");
        assert_eq!(s(&doc["current-context"]), "skiff");
        let cluster = &doc["clusters"][0];
        assert_eq!(s(&cluster["name"]), "skiff");
        assert_eq!(s(&cluster["cluster"]["server"]), "https://127.0.0.1:6443");
        assert_eq!(
            base64_decode(&s(&cluster["cluster"]["certificate-authority-data"])),
            pki.ca_cert_pem.as_bytes()
        );
        let context = &doc["contexts"][0];
        assert_eq!(s(&context["name"]), "skiff");
        assert_eq!(s(&context["context"]["cluster"]), "skiff");
        assert_eq!(s(&context["context"]["user"]), "admin");
        let user = &doc["users"][0];
        assert_eq!(s(&user["name"]), "admin");
        assert_eq!(
            base64_decode(&s(&user["user"]["client-certificate-data"])),
            pki.admin_cert_pem.as_bytes()
        );
        assert_eq!(
            base64_decode(&s(&user["user"]["client-key-data"])),
            pki.admin_key_pem.as_bytes()
        );

        // Overwriting keeps the file private and leaves no temporary file behind.
        write_kubeconfig(&path, "https://h:1", "ca", "c", "k", "u").unwrap();
        let doc: serde_yaml::Value =
            serde_yaml::from_str(&fs::read_to_string(&path).unwrap()).unwrap();
        assert_eq!(s(&doc["users"][0]["name"]), "u");
        assert_eq!(mode_of(&path), 0o600);
        assert_eq!(fs::read_dir(path.parent().unwrap()).unwrap().count(), 1);
    }

    #[test]
    fn host_address_parsing() {
        let fib = "Main:\n  +-- 0.0.0.0/0 3 0 5\n     |-- 0.0.0.0\n        /0 universe UNICAST\n\
                   \x20    +-- 127.0.0.0/8 2 0 2\n           |-- 127.0.0.1\n              /32 host LOCAL\n\
                   \x20       |-- 192.0.2.0\n              /24 link UNICAST\n\
                   \x20          |-- 192.0.2.2\n              /32 host LOCAL\n\
                   \x20       |-- 192.0.2.255\n           /32 link BROADCAST\n\
                   Local:\n           |-- 192.0.2.2\n              /32 host LOCAL\n\
                   \x20          |-- 10.1.2.3\n              /32 host LOCAL\n";
        assert_eq!(
            parse_fib_trie_local(fib),
            vec![
                "192.0.2.2".parse::<Ipv4Addr>().unwrap(),
                "10.1.2.3".parse().unwrap()
            ]
        );
        let inet6 = "00000000000000000000000000000001 01 80 10 80       lo\n\
                     fe8000000000000000fc00fffe000001 04 40 20 80     eth0\n\
                     fd000000000000000000000000000002 04 40 00 82     eth0\n\
                     20010db8000000000000000000000042 05 40 00 80     eth1\n\
                     garbage\n";
        assert_eq!(
            parse_if_inet6(inet6),
            vec![
                "fd00::2".parse::<Ipv6Addr>().unwrap(),
                "2001:db8::42".parse().unwrap()
            ]
        );
        assert!(is_dns_name("node-1.example"));
        assert!(!is_dns_name("under_score"));
        assert!(!is_dns_name("-bad"));
        assert!(!is_dns_name(""));
    }

    #[test]
    fn default_names() {
        let names = default_serving_names("10.43.0.1".parse().unwrap());
        for dns in [
            "localhost",
            "kubernetes",
            "kubernetes.default",
            "kubernetes.default.svc",
            "kubernetes.default.svc.cluster.local",
        ] {
            assert!(names.dns.iter().any(|d| d == dns), "{dns}");
        }
        for ip in ["127.0.0.1", "::1", "10.43.0.1"] {
            assert!(names.ips.contains(&ip.parse().unwrap()), "{ip}");
        }
        if let Some(host) = host_name() {
            assert!(names.dns.contains(&host));
        }
        let mut ips = names.ips.clone();
        ips.dedup();
        assert_eq!(ips.len(), names.ips.len());
        // The names are all acceptable to the certificate issuer.
        let tmp = tempfile::tempdir().unwrap();
        Pki::load_or_create(tmp.path(), &names).unwrap();
    }
}
