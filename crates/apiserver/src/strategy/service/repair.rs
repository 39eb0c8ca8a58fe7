//! Reconciling reservations with Services, as upstream's service IP and node port repair
//! controllers do: a Service using a value without a reservation gets one (Services written
//! before reservations existed, such as the bootstrap `kubernetes` Service), and reservations
//! no Service uses are dropped once seen unused, unchanged, on two passes in a row (which
//! leaves requests still in flight alone).

use super::alloc::{self, Allocators, IP_PREFIX, Owner, PORT_PREFIX, Resource};
use super::{held, read_spec};
use crate::storage::Storage;
use skiff_core::status::ApiError;
use skiff_store::Error as StoreError;
use std::collections::HashMap;
use std::time::Duration;

/// How often the periodic pass runs (upstream's repair interval).
pub const REPAIR_INTERVAL: Duration = Duration::from_secs(180);

/// What one pass did.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Repaired {
    /// Reservations created for values Services used without one.
    pub created: usize,
    /// Unused reservations dropped.
    pub released: usize,
    /// Values used by one Service but reserved for another.
    pub conflicts: usize,
}

/// Reconciles once. `unused` carries the reservations found unused by the previous pass (and
/// their revisions); those still unused and unchanged now are dropped.
pub async fn repair(
    storage: &Storage,
    config: &Allocators,
    unused: &mut HashMap<Resource, i64>,
) -> Result<Repaired, ApiError> {
    let info = skiff_core::registry::lookup("", "v1", "services")
        .ok_or_else(|| ApiError::internal("services are not registered"))?;
    let store = storage.store().as_ref();
    let mut reserved = HashMap::new();
    for prefix in [IP_PREFIX, PORT_PREFIX] {
        for r in alloc::reservations(store, prefix).await? {
            reserved.insert(r.resource, r);
        }
    }
    let at = storage.revision().await?;
    let services = storage.list(info, None, 0, None, at, &|_| true).await?;
    let (ips, ports) = (config.ip_range(), config.port_range());
    let mut users: HashMap<Resource, Vec<Owner>> = HashMap::new();
    for svc in &services.items {
        let Ok(spec) = read_spec(svc) else { continue };
        for r in held(&spec) {
            users.entry(r).or_default().push(Owner::of(svc));
        }
    }
    let mut done = Repaired::default();
    for (resource, owners) in &users {
        let in_range = match resource {
            Resource::Ip(ip) => ips.contains(*ip),
            Resource::Port(p) => ports.contains(i64::from(*p)),
        };
        match reserved.get(resource) {
            None if in_range => {
                match store.create(resource.key(), owners[0].encode(), None).await {
                    Ok(_) => done.created += 1,
                    Err(StoreError::AlreadyExists { .. }) => {}
                    Err(e) => return Err(ApiError::internal(e)),
                }
            }
            None => {}
            Some(r) => {
                let holder = r.owner.as_ref().map(|o| o.uid.as_str());
                if !owners.iter().any(|o| Some(o.uid.as_str()) == holder) {
                    done.conflicts += 1;
                }
            }
        }
        if owners.len() > 1 {
            let names: Vec<String> = owners
                .iter()
                .map(|o| format!("{}/{}", o.namespace, o.name))
                .collect();
            tracing::warn!(
                "{resource} is used by several services ({}); please recreate all but one",
                names.join(", ")
            );
        }
    }
    let mut now_unused = HashMap::new();
    for (resource, r) in &reserved {
        let holder_uses = users.get(resource).is_some_and(|owners| {
            owners
                .iter()
                .any(|o| r.owner.as_ref().is_some_and(|h| h.uid == o.uid))
        });
        if holder_uses {
            continue;
        }
        if unused.get(resource) == Some(&r.revision) {
            match store.delete(resource.key(), Some(r.revision)).await {
                Ok(_) => done.released += 1,
                Err(StoreError::NotFound | StoreError::Conflict { .. }) => {}
                Err(e) => return Err(ApiError::internal(e)),
            }
        } else {
            now_unused.insert(*resource, r.revision);
        }
    }
    *unused = now_unused;
    Ok(done)
}

/// Sets the ranges for this process, reconciles reservations once (so that values Services
/// already use, such as the `kubernetes` Service's address, are reserved before anything is
/// served), then keeps reconciling every [`REPAIR_INTERVAL`] in the background.
pub async fn start(storage: &Storage, config: Allocators) -> anyhow::Result<()> {
    let wanted = config;
    let config = alloc::configure(config);
    if config != wanted {
        tracing::warn!(
            "service ranges were already set for this process ({}, node ports {}); \
             ignoring {} and node ports {}",
            config.ip_range(),
            config.port_range(),
            wanted.ip_range(),
            wanted.port_range()
        );
    }
    let mut unused = HashMap::new();
    repair(storage, &config, &mut unused)
        .await
        .map_err(|e| anyhow::anyhow!("reconciling service IP and node port reservations: {e}"))?;
    let storage = storage.clone();
    tokio::spawn(async move {
        loop {
            tokio::time::sleep(REPAIR_INTERVAL).await;
            match repair(&storage, &config, &mut unused).await {
                Ok(r) if r != Repaired::default() => tracing::info!(
                    created = r.created,
                    released = r.released,
                    conflicts = r.conflicts,
                    "service IP and node port reservations repaired"
                ),
                Ok(_) => {}
                Err(e) => tracing::warn!("repairing service reservations: {e}"),
            }
        }
    });
    Ok(())
}
