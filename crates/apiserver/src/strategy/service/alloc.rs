//! Service cluster IPs and node ports: the ranges they come from, how a free value is picked,
//! and their reservation in the store.
//!
//! Every allocated value is one key, created only if absent, so two API servers (or two
//! concurrent requests) can never hand out the same value and reservations survive restarts:
//! `/registry/ranges/serviceips/<ip>` and `/registry/ranges/servicenodeports/<port>`. The value
//! names the Service holding it ([`Owner`]), which lets a Service re-confirm what it already
//! holds and lets the repair pass ([`super::repair`]) tell stale reservations from live ones.
//!
//! Dynamic choice follows upstream (KEP-3070 for IPs, KEP-3668 for ports): the range is split
//! at an offset; a random start in the upper band is scanned forward (wrapping) for a free
//! value, then the lower band, which stays mostly free for values users ask for by number.

use bytes::Bytes;
use serde_json::{Value, json};
use skiff_core::status::ApiError;
use skiff_store::{Error as StoreError, RangeRequest, Store};
use std::collections::HashSet;
use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::sync::OnceLock;

/// Where cluster IP reservations live.
pub const IP_PREFIX: &str = "/registry/ranges/serviceips/";
/// Where node port reservations live.
pub const PORT_PREFIX: &str = "/registry/ranges/servicenodeports/";
/// Upstream's default `--service-node-port-range`.
pub const DEFAULT_NODE_PORTS: (u16, u16) = (30000, 32767);
/// Skiff's default `--service-cidr` (as k3s).
pub const DEFAULT_SERVICE_CIDR: (Ipv4Addr, u8) = (Ipv4Addr::new(10, 43, 0, 0), 16);

/// How many times a dynamic allocation retries after losing a race for a value.
const MAX_ATTEMPTS: usize = 64;

/// The ranges Services get their cluster IPs and node ports from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Allocators {
    /// The service IP range (`--service-cidr`): network address and prefix length.
    pub service_cidr: (Ipv4Addr, u8),
    /// The node port range, both ends included (`--service-node-port-range`).
    pub node_ports: (u16, u16),
}

impl Default for Allocators {
    fn default() -> Self {
        Self {
            service_cidr: DEFAULT_SERVICE_CIDR,
            node_ports: DEFAULT_NODE_PORTS,
        }
    }
}

impl Allocators {
    /// The cluster IP range.
    pub fn ip_range(&self) -> IpRange {
        IpRange::new(self.service_cidr.0, self.service_cidr.1)
    }

    /// The node port range.
    pub fn port_range(&self) -> PortRange {
        PortRange::new(self.node_ports.0, self.node_ports.1)
    }
}

static CONFIG: OnceLock<Allocators> = OnceLock::new();

/// Sets the ranges for this process (the first call wins) and returns the ones in effect.
pub fn configure(allocators: Allocators) -> Allocators {
    *CONFIG.get_or_init(|| allocators)
}

/// The ranges in effect: the configured ones, or the defaults when nothing configured them.
pub fn allocators() -> Allocators {
    *CONFIG.get_or_init(Allocators::default)
}

/// Upstream's `calculateRangeOffset`: `min(max(min, size / step), max)`, or 0 for ranges of at
/// most `min` values.
fn range_offset(size: u64, min: u64, max: u64, step: u64) -> u64 {
    if size <= min {
        return 0;
    }
    (size / step).clamp(min, max)
}

/// An IPv4 service range: every address but the network and broadcast ones.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct IpRange {
    network: u32,
    bits: u8,
}

impl IpRange {
    /// The range of `network/bits` (host bits of `network` are ignored).
    pub fn new(network: Ipv4Addr, bits: u8) -> Self {
        let bits = bits.min(32);
        let mask = if bits == 0 {
            0
        } else {
            u32::MAX << (32 - u32::from(bits))
        };
        Self {
            network: u32::from(network) & mask,
            bits,
        }
    }

    /// Addresses in the prefix, network and broadcast included.
    pub fn size(&self) -> u64 {
        1u64 << (32 - u32::from(self.bits))
    }

    /// The first address handed out (the one after the network address).
    pub fn first(&self) -> u32 {
        if self.size() <= 2 {
            self.network
        } else {
            self.network + 1
        }
    }

    /// The last address handed out (the one before the broadcast address).
    pub fn last(&self) -> u32 {
        let end = u64::from(self.network) + self.size() - 1;
        if self.size() <= 2 {
            end as u32
        } else {
            (end - 1) as u32
        }
    }

    /// Whether `ip` is inside the prefix at all.
    pub fn in_prefix(&self, ip: Ipv4Addr) -> bool {
        let ip = u64::from(u32::from(ip));
        let net = u64::from(self.network);
        ip >= net && ip < net + self.size()
    }

    /// Whether `ip` may be handed out.
    pub fn contains(&self, ip: Ipv4Addr) -> bool {
        let ip = u32::from(ip);
        ip >= self.first() && ip <= self.last()
    }

    /// Size of the lower band kept for explicit requests (KEP-3070: between 16 and 256).
    pub fn offset(&self) -> u64 {
        range_offset(self.size(), 16, 256, 16)
    }
}

impl fmt::Display for IpRange {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", Ipv4Addr::from(self.network), self.bits)
    }
}

/// A node port range, both ends included.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PortRange {
    base: u16,
    last: u16,
}

impl PortRange {
    /// The ports `base..=last`.
    pub fn new(base: u16, last: u16) -> Self {
        Self {
            base,
            last: last.max(base),
        }
    }

    /// Number of ports.
    pub fn size(&self) -> u64 {
        u64::from(self.last - self.base) + 1
    }

    /// The first port.
    pub fn first(&self) -> u16 {
        self.base
    }

    /// The last port.
    pub fn last(&self) -> u16 {
        self.last
    }

    /// Whether `port` is in the range.
    pub fn contains(&self, port: i64) -> bool {
        port >= i64::from(self.base) && port <= i64::from(self.last)
    }

    /// Size of the lower band kept for explicit requests (KEP-3668: between 16 and 128).
    pub fn offset(&self) -> u64 {
        range_offset(self.size(), 16, 128, 32)
    }
}

impl fmt::Display for PortRange {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}-{}", self.base, self.last)
    }
}

/// A uniformly random number below `n` (`n` > 0), from the OS generator behind UUIDs.
pub fn random_below(n: u64) -> u64 {
    let v = uuid::Uuid::new_v4().as_u128();
    // The two halves' fixed version/variant bits sit opposite random ones.
    let r = (v as u64) ^ ((v >> 64) as u64);
    r % n.max(1)
}

/// Picks a free value of `lo..=hi`: from a random start in the upper band `lo + offset..=hi`,
/// the first value `used` rejects not, scanning forward and wrapping; then likewise in the
/// lower band `lo..lo + offset`. `None` when every value is used.
pub fn choose(
    lo: u64,
    hi: u64,
    offset: u64,
    used: &dyn Fn(u64) -> bool,
    random: &mut dyn FnMut(u64) -> u64,
) -> Option<u64> {
    if hi < lo {
        return None;
    }
    let offset = offset.min(hi - lo);
    let scan = |from: u64, to: u64, random: &mut dyn FnMut(u64) -> u64| {
        let n = to - from + 1;
        let start = random(n);
        (0..n).map(|i| from + (start + i) % n).find(|v| !used(*v))
    };
    let upper = scan(lo + offset, hi, random);
    if upper.is_some() || offset == 0 {
        return upper;
    }
    scan(lo, lo + offset - 1, random)
}

/// Parses an IP address the way upstream's `ParseIPSloppy` does: IPv4 octets may have leading
/// zeros, and IPv4-mapped IPv6 addresses count as IPv4.
pub fn parse_ip_sloppy(s: &str) -> Option<IpAddr> {
    if !s.contains(':') {
        let mut octets = [0u8; 4];
        let mut parts = s.split('.');
        for octet in &mut octets {
            let part = parts.next()?;
            if part.is_empty() || !part.bytes().all(|b| b.is_ascii_digit()) {
                return None;
            }
            let mut n: u32 = 0;
            for b in part.bytes() {
                n = n * 10 + u32::from(b - b'0');
                if n > 255 {
                    return None;
                }
            }
            *octet = n as u8;
        }
        return parts.next().is_none().then(|| IpAddr::V4(octets.into()));
    }
    let v6: Ipv6Addr = s.parse().ok()?;
    Some(match v6.to_ipv4_mapped() {
        Some(v4) => IpAddr::V4(v4),
        None => IpAddr::V6(v6),
    })
}

/// One allocatable value.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Resource {
    /// A cluster IP.
    Ip(Ipv4Addr),
    /// A node port (also health check node ports: they share the range).
    Port(u16),
}

impl Resource {
    /// The store key of the reservation.
    pub fn key(&self) -> Bytes {
        match self {
            Resource::Ip(ip) => Bytes::from(format!("{IP_PREFIX}{ip}")),
            Resource::Port(p) => Bytes::from(format!("{PORT_PREFIX}{p}")),
        }
    }

    /// The resource a reservation key stands for.
    pub fn from_key(key: &[u8]) -> Option<Self> {
        let key = std::str::from_utf8(key).ok()?;
        if let Some(ip) = key.strip_prefix(IP_PREFIX) {
            return ip.parse().ok().map(Resource::Ip);
        }
        key.strip_prefix(PORT_PREFIX)?
            .parse()
            .ok()
            .map(Resource::Port)
    }
}

impl fmt::Display for Resource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Resource::Ip(ip) => write!(f, "cluster IP {ip}"),
            Resource::Port(p) => write!(f, "node port {p}"),
        }
    }
}

/// The Service a reservation belongs to.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Owner {
    /// Its namespace.
    pub namespace: String,
    /// Its name.
    pub name: String,
    /// Its uid: what tells two Services of the same name apart.
    pub uid: String,
}

impl Owner {
    /// The owner of an object's reservations, from its metadata.
    pub fn of(obj: &Value) -> Self {
        Self {
            namespace: crate::object::namespace(obj).unwrap_or_default().to_owned(),
            name: crate::object::name(obj).unwrap_or_default().to_owned(),
            uid: crate::object::meta_str(obj, "uid")
                .unwrap_or_default()
                .to_owned(),
        }
    }

    /// The stored form.
    pub fn encode(&self) -> Bytes {
        let v = json!({"namespace": self.namespace, "name": self.name, "uid": self.uid});
        Bytes::from(v.to_string())
    }

    /// Reads a stored owner.
    pub fn decode(bytes: &[u8]) -> Option<Self> {
        let v: Value = serde_json::from_slice(bytes).ok()?;
        let s = |k: &str| v.get(k).and_then(Value::as_str).map(str::to_owned);
        Some(Self {
            namespace: s("namespace")?,
            name: s("name")?,
            uid: s("uid")?,
        })
    }
}

/// Why an allocation failed, with upstream's allocator messages.
#[derive(Clone, Debug, PartialEq)]
pub enum AllocError {
    /// Every value is taken.
    Full,
    /// The value is held by another Service.
    IpAllocated,
    /// The port is held by another Service (or twice in one request).
    PortAllocated,
    /// The IP is outside the service range altogether.
    MismatchedNetwork,
    /// The IP is the network or broadcast address of the range.
    IpNotInRange {
        /// The address asked for.
        ip: String,
        /// The range, as `a.b.c.d/n`.
        range: String,
    },
    /// The port is outside the node port range.
    PortNotInRange {
        /// The range, as `first-last`.
        range: String,
    },
    /// The store failed.
    Store(ApiError),
}

impl fmt::Display for AllocError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            AllocError::Full => f.write_str("range is full"),
            AllocError::IpAllocated => f.write_str("provided IP is already allocated"),
            AllocError::PortAllocated => f.write_str("provided port is already allocated"),
            AllocError::MismatchedNetwork => {
                f.write_str("the provided network does not match the current range")
            }
            AllocError::IpNotInRange { ip, range } => write!(
                f,
                "the provided IP ({ip}) is not in the valid range. The range of valid IPs is {range}"
            ),
            AllocError::PortNotInRange { range } => write!(
                f,
                "provided port is not in the valid range. The range of valid ports is {range}"
            ),
            AllocError::Store(e) => write!(f, "{}", e.message),
        }
    }
}

fn store_err(e: StoreError) -> ApiError {
    ApiError::internal(e)
}

/// A reservation taken (or re-confirmed) by one request: the key's revision after the write,
/// which later releases compare against so they never undo a newer claim.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Claim {
    /// What is reserved.
    pub resource: Resource,
    /// The key's `mod_revision` after this claim wrote it.
    pub revision: i64,
    /// Whether this claim created the key (rather than re-confirming the owner's own).
    pub fresh: bool,
}

/// Outcome of a failed [`claim`].
#[derive(Clone, Debug, PartialEq)]
pub enum ClaimError {
    /// Another Service holds it.
    Taken,
    /// The store failed.
    Store(ApiError),
}

/// Reserves `resource` for `owner`: creates the key if absent; if `owner` already holds it,
/// rewrites the key so the claim carries a new revision. Fails with [`ClaimError::Taken`] when
/// another Service holds it.
pub async fn claim(
    store: &dyn Store,
    resource: Resource,
    owner: &Owner,
) -> Result<Claim, ClaimError> {
    let key = resource.key();
    for _ in 0..16 {
        match store.create(key.clone(), owner.encode(), None).await {
            Ok(kv) => {
                return Ok(Claim {
                    resource,
                    revision: kv.mod_revision,
                    fresh: true,
                });
            }
            Err(StoreError::AlreadyExists { current }) => {
                match Owner::decode(&current.value) {
                    Some(o) if o.uid == owner.uid => {}
                    _ => return Err(ClaimError::Taken),
                }
                match store
                    .update(key.clone(), owner.encode(), current.mod_revision, None)
                    .await
                {
                    Ok(kv) => {
                        return Ok(Claim {
                            resource,
                            revision: kv.mod_revision,
                            fresh: false,
                        });
                    }
                    Err(StoreError::Conflict { .. } | StoreError::NotFound) => continue,
                    Err(e) => return Err(ClaimError::Store(store_err(e))),
                }
            }
            Err(e) => return Err(ClaimError::Store(store_err(e))),
        }
    }
    Err(ClaimError::Store(ApiError::internal(format!(
        "too many concurrent changes to the reservation of {resource}"
    ))))
}

/// Whether a Service other than `owner` holds `resource` (for dry runs).
pub async fn held_by_other(
    store: &dyn Store,
    resource: Resource,
    owner: &Owner,
) -> Result<bool, ApiError> {
    let kv = store.get(resource.key()).await.map_err(store_err)?;
    Ok(kv.is_some_and(|kv| Owner::decode(&kv.value).is_none_or(|o| o.uid != owner.uid)))
}

/// Drops a claim, unless its key changed since (a later claim then decides).
pub async fn release_claim(store: &dyn Store, claim: &Claim) {
    match store
        .delete(claim.resource.key(), Some(claim.revision))
        .await
    {
        Ok(_) | Err(StoreError::NotFound | StoreError::Conflict { .. }) => {}
        Err(e) => tracing::warn!("releasing {}: {e}", claim.resource),
    }
}

/// Releases `resource` if the Service with uid `owner_uid` holds it.
pub async fn release_owned(store: &dyn Store, resource: Resource, owner_uid: &str) {
    let kv = match store.get(resource.key()).await {
        Ok(Some(kv)) => kv,
        Ok(None) => return,
        Err(e) => {
            tracing::warn!("releasing {resource}: {e}");
            return;
        }
    };
    if Owner::decode(&kv.value).is_some_and(|o| o.uid == owner_uid) {
        let claim = Claim {
            resource,
            revision: kv.mod_revision,
            fresh: false,
        };
        release_claim(store, &claim).await;
    }
}

/// One reservation as stored.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Reservation {
    /// What is reserved.
    pub resource: Resource,
    /// Who holds it (`None` when the value is unreadable).
    pub owner: Option<Owner>,
    /// The key's `mod_revision`.
    pub revision: i64,
}

/// Every reservation under `prefix` ([`IP_PREFIX`] or [`PORT_PREFIX`]).
pub async fn reservations(store: &dyn Store, prefix: &str) -> Result<Vec<Reservation>, ApiError> {
    let resp = store
        .range(RangeRequest::prefix(Bytes::from(prefix.to_owned())))
        .await
        .map_err(store_err)?;
    Ok(resp
        .kvs
        .iter()
        .filter_map(|kv| {
            Some(Reservation {
                resource: Resource::from_key(&kv.key)?,
                owner: Owner::decode(&kv.value),
                revision: kv.mod_revision,
            })
        })
        .collect())
}

/// The allocations of one request: what it claimed (to undo on failure) and, for dry runs,
/// what it would have claimed.
pub struct Txn<'a> {
    store: &'a dyn Store,
    config: Allocators,
    owner: Owner,
    dry_run: bool,
    claims: Vec<Claim>,
    /// Ports this request allocated (upstream's port operation refuses one twice).
    ports: Vec<u16>,
}

impl<'a> Txn<'a> {
    /// Starts allocating for `owner` with the given ranges.
    pub fn new(store: &'a dyn Store, config: Allocators, owner: Owner, dry_run: bool) -> Self {
        Self {
            store,
            config,
            owner,
            dry_run,
            claims: Vec::new(),
            ports: Vec::new(),
        }
    }

    /// The claims made so far.
    pub fn claims(&self) -> &[Claim] {
        &self.claims
    }

    /// The Service the claims are for.
    pub fn owner(&self) -> &Owner {
        &self.owner
    }

    /// Undoes the keys this request created.
    pub async fn rollback(&mut self) {
        for c in std::mem::take(&mut self.claims) {
            if c.fresh {
                release_claim(self.store, &c).await;
            }
        }
    }

    async fn take(&mut self, resource: Resource) -> Result<bool, AllocError> {
        match claim(self.store, resource, &self.owner).await {
            Ok(c) => {
                self.claims.push(c);
                Ok(true)
            }
            Err(ClaimError::Taken) => Ok(false),
            Err(ClaimError::Store(e)) => Err(AllocError::Store(e)),
        }
    }

    /// Re-confirms what `owner` holds and is about to give up, so that the release that
    /// follows the write can tell whether the write happened (see [`super::settle`]).
    pub async fn touch(&mut self, resource: Resource) -> Result<(), AllocError> {
        if self.dry_run {
            return Ok(());
        }
        self.take(resource).await.map(|_| ())
    }

    /// Reserves the cluster IP `ip` (upstream's `Allocate`).
    pub async fn ip(&mut self, ip: Ipv4Addr) -> Result<(), AllocError> {
        let range = self.config.ip_range();
        let not_in_range = || AllocError::IpNotInRange {
            ip: ip.to_string(),
            range: range.to_string(),
        };
        if self.dry_run {
            // As upstream's dry-run allocator: only the range is checked.
            return if range.contains(ip) {
                Ok(())
            } else {
                Err(not_in_range())
            };
        }
        if !range.in_prefix(ip) {
            return Err(AllocError::MismatchedNetwork);
        }
        if !range.contains(ip) {
            return Err(not_in_range());
        }
        if self.take(Resource::Ip(ip)).await? {
            Ok(())
        } else {
            Err(AllocError::IpAllocated)
        }
    }

    /// Reserves a free cluster IP (upstream's `AllocateNext`). A dry run answers the network
    /// address without looking, as upstream's does.
    pub async fn next_ip(&mut self) -> Result<Ipv4Addr, AllocError> {
        let range = self.config.ip_range();
        if self.dry_run {
            return Ok(Ipv4Addr::from(range.network));
        }
        let mut used: HashSet<u64> = reservations(self.store, IP_PREFIX)
            .await
            .map_err(AllocError::Store)?
            .into_iter()
            .filter_map(|r| match r.resource {
                Resource::Ip(ip) => Some(u64::from(u32::from(ip))),
                Resource::Port(_) => None,
            })
            .collect();
        for _ in 0..MAX_ATTEMPTS {
            let pick = choose(
                u64::from(range.first()),
                u64::from(range.last()),
                range.offset(),
                &|v| used.contains(&v),
                &mut random_below,
            )
            .ok_or(AllocError::Full)?;
            let ip = Ipv4Addr::from(pick as u32);
            if self.take(Resource::Ip(ip)).await? {
                return Ok(ip);
            }
            // Lost a race for it: someone reserved it since the listing.
            used.insert(pick);
        }
        Err(AllocError::Full)
    }

    /// Reserves the node port `port` (upstream's port operation `Allocate`).
    pub async fn port(&mut self, port: i64) -> Result<(), AllocError> {
        let range = self.config.port_range();
        if self.ports.iter().any(|p| i64::from(*p) == port) {
            return Err(AllocError::PortAllocated);
        }
        if self.dry_run {
            // As upstream's dry-run port operation: only current holders are checked.
            if let Ok(p) = u16::try_from(port)
                && held_by_other(self.store, Resource::Port(p), &self.owner)
                    .await
                    .map_err(AllocError::Store)?
            {
                return Err(AllocError::PortAllocated);
            }
            self.ports.push(u16::try_from(port).unwrap_or_default());
            return Ok(());
        }
        if !range.contains(port) {
            return Err(AllocError::PortNotInRange {
                range: range.to_string(),
            });
        }
        let p = port as u16;
        if self.take(Resource::Port(p)).await? {
            self.ports.push(p);
            Ok(())
        } else {
            Err(AllocError::PortAllocated)
        }
    }

    /// Reserves a free node port (upstream's port operation `AllocateNext`). A dry run answers
    /// a placeholder above the range (32769, 32770, ...), as upstream's does.
    pub async fn next_port(&mut self) -> Result<u16, AllocError> {
        if self.dry_run {
            let last = self.ports.iter().copied().max().unwrap_or(32768);
            let p = last.saturating_add(1);
            self.ports.push(p);
            return Ok(p);
        }
        let range = self.config.port_range();
        let mut used: HashSet<u64> = reservations(self.store, PORT_PREFIX)
            .await
            .map_err(AllocError::Store)?
            .into_iter()
            .filter_map(|r| match r.resource {
                Resource::Port(p) => Some(u64::from(p)),
                Resource::Ip(_) => None,
            })
            .collect();
        for _ in 0..MAX_ATTEMPTS {
            let pick = choose(
                u64::from(range.first()),
                u64::from(range.last()),
                range.offset(),
                &|v| used.contains(&v),
                &mut random_below,
            )
            .ok_or(AllocError::Full)?;
            let p = pick as u16;
            if self.take(Resource::Port(p)).await? {
                self.ports.push(p);
                return Ok(p);
            }
            used.insert(pick);
        }
        Err(AllocError::Full)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeSet;

    #[test]
    fn ip_ranges_skip_network_and_broadcast() {
        let r = IpRange::new(Ipv4Addr::new(10, 43, 7, 9), 16);
        assert_eq!(r.to_string(), "10.43.0.0/16");
        assert_eq!(Ipv4Addr::from(r.first()), Ipv4Addr::new(10, 43, 0, 1));
        assert_eq!(Ipv4Addr::from(r.last()), Ipv4Addr::new(10, 43, 255, 254));
        assert!(!r.contains(Ipv4Addr::new(10, 43, 0, 0)));
        assert!(!r.contains(Ipv4Addr::new(10, 43, 255, 255)));
        assert!(r.in_prefix(Ipv4Addr::new(10, 43, 255, 255)));
        assert!(!r.in_prefix(Ipv4Addr::new(10, 44, 0, 1)));
        assert_eq!(r.offset(), 256);
        assert_eq!(IpRange::new(Ipv4Addr::new(10, 0, 0, 0), 24).offset(), 16);
        assert_eq!(IpRange::new(Ipv4Addr::new(10, 0, 0, 0), 28).offset(), 0);
        assert_eq!(IpRange::new(Ipv4Addr::new(10, 0, 0, 0), 12).offset(), 256);
    }

    #[test]
    fn port_ranges_follow_upstream() {
        let r = PortRange::new(30000, 32767);
        assert_eq!(r.size(), 2768);
        assert_eq!(r.offset(), 86);
        assert_eq!(r.to_string(), "30000-32767");
        assert!(r.contains(30000) && r.contains(32767));
        assert!(!r.contains(29999) && !r.contains(32768));
        assert_eq!(PortRange::new(30000, 30009).offset(), 0);
        assert_eq!(PortRange::new(1, 65535).offset(), 128);
    }

    #[test]
    fn choice_prefers_the_upper_band_and_falls_back() {
        let mut fixed = |_n: u64| 0;
        // Upper band starts at 10 + 4.
        assert_eq!(choose(10, 20, 4, &|_| false, &mut fixed), Some(14));
        // Wraps inside the upper band before touching the lower one.
        let mut late = |n: u64| n - 1;
        assert_eq!(choose(10, 20, 4, &|v| v == 20, &mut late), Some(14));
        // Upper band full: the lower band.
        assert_eq!(choose(10, 20, 4, &|v| v >= 14, &mut fixed), Some(10));
        // All used.
        assert_eq!(choose(10, 20, 4, &|_| true, &mut fixed), None);
        // No offset: the whole range is one band.
        assert_eq!(choose(10, 12, 0, &|v| v != 12, &mut fixed), Some(12));
    }

    #[test]
    fn random_choices_cover_the_range_without_repeats() {
        let mut used = BTreeSet::new();
        for _ in 0..14 {
            let pick = {
                let u = used.clone();
                choose(1, 14, 0, &move |v| u.contains(&v), &mut random_below)
            }
            .unwrap();
            assert!(used.insert(pick), "{pick} handed out twice");
        }
        assert_eq!(
            choose(1, 14, 0, &|v| used.contains(&v), &mut random_below),
            None
        );
        // Picks land in the upper band while it has room.
        for _ in 0..50 {
            let v = choose(0, 1000, 100, &|_| false, &mut random_below).unwrap();
            assert!((100..=1000).contains(&v));
        }
    }

    #[test]
    fn sloppy_parsing_matches_upstream() {
        assert_eq!(
            parse_ip_sloppy("10.043.000.005"),
            Some(IpAddr::V4(Ipv4Addr::new(10, 43, 0, 5)))
        );
        assert_eq!(
            parse_ip_sloppy("::ffff:10.43.0.5"),
            Some(IpAddr::V4(Ipv4Addr::new(10, 43, 0, 5)))
        );
        assert!(matches!(parse_ip_sloppy("fd00::1"), Some(IpAddr::V6(_))));
        for bad in [
            "",
            "10.43.0",
            "10.43.0.256",
            "10.43.0.1.2",
            "a.b.c.d",
            "10.43.0.-1",
        ] {
            assert_eq!(parse_ip_sloppy(bad), None, "{bad}");
        }
    }

    #[test]
    fn keys_round_trip() {
        for r in [
            Resource::Ip(Ipv4Addr::new(10, 43, 0, 1)),
            Resource::Port(30080),
        ] {
            assert_eq!(Resource::from_key(&r.key()), Some(r));
        }
        assert_eq!(
            &Resource::Ip(Ipv4Addr::new(10, 43, 0, 1)).key()[..],
            b"/registry/ranges/serviceips/10.43.0.1"
        );
        assert_eq!(
            &Resource::Port(30080).key()[..],
            b"/registry/ranges/servicenodeports/30080"
        );
        assert_eq!(Resource::from_key(b"/registry/ranges/serviceips/x"), None);
        let o = Owner {
            namespace: "default".into(),
            name: "web".into(),
            uid: "u1".into(),
        };
        assert_eq!(Owner::decode(&o.encode()), Some(o));
    }

    #[test]
    fn messages_are_upstreams() {
        assert_eq!(AllocError::Full.to_string(), "range is full");
        assert_eq!(
            AllocError::IpAllocated.to_string(),
            "provided IP is already allocated"
        );
        assert_eq!(
            AllocError::IpNotInRange {
                ip: "10.43.0.0".into(),
                range: "10.43.0.0/16".into()
            }
            .to_string(),
            "the provided IP (10.43.0.0) is not in the valid range. The range of valid IPs is 10.43.0.0/16"
        );
        assert_eq!(
            AllocError::PortNotInRange {
                range: "30000-32767".into()
            }
            .to_string(),
            "provided port is not in the valid range. The range of valid ports is 30000-32767"
        );
    }
}
