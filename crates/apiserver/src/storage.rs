//! Objects in the store: keys, encoding, and the generic create/get/update/delete/list that every
//! resource shares (upstream's generic registry over `storage.Interface`).
//!
//! Objects are stored as JSON without `metadata.resourceVersion`; on the way out the store's
//! `mod_revision` becomes the `resourceVersion`.

use crate::object;
use base64::Engine as _;
use bytes::Bytes;
use serde_json::Value;
use skiff_core::registry::ResourceInfo;
use skiff_core::status::{ApiError, GroupResource};
use skiff_store::{Error as StoreError, KeyValue, RangeRequest, Store, prefix_end};
use std::sync::Arc;

/// Where the objects of a resource live: `/registry/<group>/<resource>/`.
///
/// Every version of a resource shares one prefix, that of the resource its objects are stored
/// as (see `convert`): events.k8s.io Events are core Events, and both versions of
/// HorizontalPodAutoscalers live under `/registry/autoscaling/horizontalpodautoscalers/`.
pub fn prefix(info: &ResourceInfo) -> String {
    let stored = crate::convert::storage_info(info);
    let group = if stored.gvk.group.is_empty() {
        "core"
    } else {
        stored.gvk.group
    };
    format!("/registry/{group}/{}/", stored.plural)
}

/// The prefix of one namespace's objects (or of every object with `None`).
pub fn scope_prefix(info: &ResourceInfo, namespace: Option<&str>) -> String {
    match namespace {
        Some(ns) if info.namespaced => format!("{}{ns}/", prefix(info)),
        _ => prefix(info),
    }
}

/// The key of one object.
pub fn key(info: &ResourceInfo, namespace: Option<&str>, name: &str) -> Bytes {
    Bytes::from(format!("{}{name}", scope_prefix(info, namespace)))
}

/// The group resource of `info`, for messages.
pub fn group_resource(info: &ResourceInfo) -> GroupResource {
    GroupResource::new(info.gvk.group, info.plural)
}

/// Turns a stored record into the object clients see.
pub fn decode(kv: &KeyValue) -> Result<Value, ApiError> {
    let mut obj: Value = serde_json::from_slice(&kv.value).map_err(|e| {
        ApiError::internal(format!(
            "stored object at {} is not valid JSON: {e}",
            String::from_utf8_lossy(&kv.key)
        ))
    })?;
    if !obj.is_object() {
        return Err(ApiError::internal("stored object is not a JSON object"));
    }
    object::set_meta(&mut obj, "resourceVersion", kv.mod_revision.to_string());
    Ok(obj)
}

/// A stored record as the object clients of `info` see (converted to its served version).
pub fn decode_as(info: &ResourceInfo, kv: &KeyValue) -> Result<Value, ApiError> {
    decode(kv).map(|obj| crate::convert::from_storage(info, obj))
}

/// The bytes to store for an object served as `info`.
pub fn encode_as(info: &ResourceInfo, obj: &Value) -> Result<Bytes, ApiError> {
    encode(&crate::convert::to_storage(info, obj.clone()))
}

/// The bytes to store for an object (without its `resourceVersion`).
pub fn encode(obj: &Value) -> Result<Bytes, ApiError> {
    let mut obj = obj.clone();
    object::remove_meta(&mut obj, "resourceVersion");
    serde_json::to_vec(&obj)
        .map(Bytes::from)
        .map_err(ApiError::internal)
}

/// Maps a store failure to the API error upstream gives for it.
pub fn store_error(err: StoreError, info: &ResourceInfo, name: &str) -> ApiError {
    let gr = group_resource(info);
    match err {
        StoreError::AlreadyExists { .. } => ApiError::already_exists(&gr, name),
        StoreError::Conflict { .. } => ApiError::stale(&gr, name),
        StoreError::NotFound => ApiError::not_found(&gr, name),
        StoreError::Compacted { requested, .. } => ApiError::expired(format!(
            "The resourceVersion for the provided list is too old: {requested}"
        )),
        StoreError::FutureRevision { requested, current } => ApiError::timeout(&format!(
            "Too large resource version: {requested}, current: {current}"
        )),
        StoreError::ValueTooLarge { size, limit } => ApiError::too_large(&format!(
            "object of {size} bytes is over the storage limit of {limit} bytes"
        )),
        StoreError::InvalidKey(why) => ApiError::bad_request(why),
        other => ApiError::internal(other),
    }
}

/// A position in a paged list: the revision of the first page and the key to start after.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Continue {
    /// Revision every page is read at.
    pub revision: i64,
    /// The next key to read, relative to the list's prefix.
    pub start: String,
}

impl Continue {
    /// The opaque token handed to clients (base64 of a small JSON document, as upstream).
    pub fn encode(&self) -> String {
        let doc =
            serde_json::json!({"v": "meta.k8s.io/v1", "rv": self.revision, "start": self.start});
        base64::engine::general_purpose::URL_SAFE.encode(doc.to_string())
    }

    /// Reads a client's token.
    pub fn decode(token: &str) -> Result<Self, ApiError> {
        let bad = || ApiError::bad_request(format!("continue key is not valid: {token}"));
        let raw = base64::engine::general_purpose::URL_SAFE
            .decode(token)
            .map_err(|_| bad())?;
        let doc: Value = serde_json::from_slice(&raw).map_err(|_| bad())?;
        if doc.get("v").and_then(Value::as_str) != Some("meta.k8s.io/v1") {
            return Err(bad());
        }
        let revision = doc
            .get("rv")
            .and_then(Value::as_i64)
            .filter(|r| *r > 0)
            .ok_or_else(bad)?;
        let start = doc.get("start").and_then(Value::as_str).ok_or_else(bad)?;
        if start.contains("..") || start.starts_with('/') {
            return Err(bad());
        }
        Ok(Self {
            revision,
            start: start.to_owned(),
        })
    }
}

/// One page of a list.
#[derive(Debug, Default)]
pub struct Page {
    /// The objects, in key order.
    pub items: Vec<Value>,
    /// Revision the list was read at.
    pub revision: i64,
    /// Token for the next page.
    pub next: Option<Continue>,
    /// Objects left after this page, when known.
    pub remaining: Option<i64>,
}

/// The generic registry: the store plus upstream's storage semantics.
#[derive(Clone)]
pub struct Storage {
    store: Arc<dyn Store>,
    metrics: Option<Arc<crate::metrics::Metrics>>,
}

impl Storage {
    /// Wraps a store.
    pub fn new(store: Arc<dyn Store>) -> Self {
        Self {
            store,
            metrics: None,
        }
    }

    /// Records store latencies in `metrics`.
    pub fn with_metrics(mut self, metrics: Arc<crate::metrics::Metrics>) -> Self {
        self.metrics = Some(metrics);
        self
    }

    async fn timed<T>(&self, op: &'static str, fut: impl std::future::Future<Output = T>) -> T {
        let start = std::time::Instant::now();
        let out = fut.await;
        if let Some(m) = &self.metrics {
            m.store(op, start.elapsed());
        }
        out
    }

    /// The store underneath (the watch cache reads it).
    pub fn store(&self) -> &Arc<dyn Store> {
        &self.store
    }

    /// The store's current revision.
    pub async fn revision(&self) -> Result<i64, ApiError> {
        self.store
            .status()
            .await
            .map(|s| s.revision)
            .map_err(ApiError::internal)
    }

    /// Reads one object.
    pub async fn get(
        &self,
        info: &ResourceInfo,
        namespace: Option<&str>,
        name: &str,
    ) -> Result<Value, ApiError> {
        match self
            .timed("get", self.store.get(key(info, namespace, name)))
            .await
            .map_err(|e| store_error(e, info, name))?
        {
            Some(kv) => decode_as(info, &kv),
            None => Err(ApiError::not_found(&group_resource(info), name)),
        }
    }

    /// Reads one object with its store record (for conditional writes).
    pub async fn get_record(
        &self,
        info: &ResourceInfo,
        namespace: Option<&str>,
        name: &str,
    ) -> Result<Option<(Value, i64)>, ApiError> {
        match self
            .timed("get", self.store.get(key(info, namespace, name)))
            .await
            .map_err(|e| store_error(e, info, name))?
        {
            Some(kv) => Ok(Some((decode_as(info, &kv)?, kv.mod_revision))),
            None => Ok(None),
        }
    }

    /// Reads one object as stored (not converted to the version `info` serves), with its
    /// store record.
    pub async fn get_stored_record(
        &self,
        info: &ResourceInfo,
        namespace: Option<&str>,
        name: &str,
    ) -> Result<Option<(Value, i64)>, ApiError> {
        match self
            .timed("get", self.store.get(key(info, namespace, name)))
            .await
            .map_err(|e| store_error(e, info, name))?
        {
            Some(kv) => Ok(Some((decode(&kv)?, kv.mod_revision))),
            None => Ok(None),
        }
    }

    /// Stores a new object given in its stored form (see `convert`); returns it with its
    /// `resourceVersion`.
    pub async fn create_stored(
        &self,
        info: &ResourceInfo,
        obj: &Value,
        ttl: Option<std::time::Duration>,
    ) -> Result<Value, ApiError> {
        self.write(info, obj, true, None, ttl).await
    }

    /// Replaces an object, given in its stored form, if it is still at `revision`.
    pub async fn update_stored(
        &self,
        info: &ResourceInfo,
        obj: &Value,
        revision: i64,
        ttl: Option<std::time::Duration>,
    ) -> Result<Value, ApiError> {
        self.write(info, obj, true, Some(revision), ttl).await
    }

    /// Stores a new object (its name and namespace already set and validated).
    pub async fn create(
        &self,
        info: &ResourceInfo,
        obj: &Value,
        ttl: Option<std::time::Duration>,
    ) -> Result<Value, ApiError> {
        self.write(info, obj, false, None, ttl).await
    }

    /// Replaces an object if it is still at `revision`.
    pub async fn update(
        &self,
        info: &ResourceInfo,
        obj: &Value,
        revision: i64,
        ttl: Option<std::time::Duration>,
    ) -> Result<Value, ApiError> {
        self.write(info, obj, false, Some(revision), ttl).await
    }

    /// Creates (`revision` `None`) or replaces an object, served as `info` or already in its
    /// stored form (`stored`); empty optional lists and maps are dropped first. Returns what
    /// was written, with its `resourceVersion`.
    async fn write(
        &self,
        info: &ResourceInfo,
        obj: &Value,
        stored: bool,
        revision: Option<i64>,
        ttl: Option<std::time::Duration>,
    ) -> Result<Value, ApiError> {
        let name = object::name(obj).unwrap_or_default().to_owned();
        let k = key(info, object::namespace(obj), &name);
        let mut out = obj.clone();
        let prune_as = if stored {
            crate::convert::storage_info(info)
        } else {
            info
        };
        crate::typed::drop_empty(prune_as, &mut out);
        let body = if stored {
            encode(&out)?
        } else {
            encode_as(info, &out)?
        };
        let kv = match revision {
            None => self.timed("create", self.store.create(k, body, ttl)).await,
            Some(rev) => {
                self.timed("update", self.store.update(k, body, rev, ttl))
                    .await
            }
        }
        .map_err(|e| store_error(e, info, &name))?;
        object::set_meta(&mut out, "resourceVersion", kv.mod_revision.to_string());
        Ok(out)
    }

    /// Deletes an object if it is still at `revision`; returns it as it was.
    pub async fn delete(
        &self,
        info: &ResourceInfo,
        namespace: Option<&str>,
        name: &str,
        revision: Option<i64>,
    ) -> Result<Value, ApiError> {
        let deleted = self
            .timed(
                "delete",
                self.store.delete(key(info, namespace, name), revision),
            )
            .await
            .map_err(|e| store_error(e, info, name))?;
        let mut obj = decode_as(info, &deleted.prev)?;
        // The deleted object carries the revision of its deletion, as upstream's watch does.
        object::set_meta(&mut obj, "resourceVersion", deleted.revision.to_string());
        Ok(obj)
    }

    /// Lists objects from the store at one revision, `limit` matching objects per page
    /// (0: all), keeping only those `keep` accepts.
    pub async fn list(
        &self,
        info: &ResourceInfo,
        namespace: Option<&str>,
        limit: usize,
        cont: Option<Continue>,
        revision: i64,
        keep: &(dyn Fn(&Value) -> bool + Send + Sync),
    ) -> Result<Page, ApiError> {
        let scope = scope_prefix(info, namespace);
        let end = prefix_end(scope.as_bytes());
        let (mut start, mut at) = match &cont {
            Some(c) => (format!("{scope}{}", c.start).into_bytes(), c.revision),
            None => (scope.clone().into_bytes(), revision),
        };
        let mut page = Page::default();
        loop {
            // Read a little more than needed so filtered-out objects rarely cost a round trip.
            let batch = if limit == 0 {
                0
            } else {
                (limit - page.items.len()).max(64)
            };
            let resp = self
                .timed(
                    "range",
                    self.store.range(
                        RangeRequest::between(start.clone(), end.clone())
                            .limit(batch)
                            .revision(at),
                    ),
                )
                .await
                .map_err(|e| store_error(e, info, ""))?;
            at = resp.read_revision(at);
            page.revision = at;
            let mut last_key = None;
            for (i, kv) in resp.kvs.iter().enumerate() {
                let obj = decode_as(info, kv)?;
                if keep(&obj) {
                    page.items.push(obj);
                }
                last_key = Some(kv.key.clone());
                if limit > 0 && page.items.len() == limit {
                    let more_here = i + 1 < resp.kvs.len();
                    if more_here || resp.more {
                        let mut next = kv.key.to_vec();
                        next.push(0);
                        let rest = String::from_utf8_lossy(&next[scope.len()..]).into_owned();
                        page.next = Some(Continue {
                            revision: at,
                            start: rest,
                        });
                        let left = resp.count - (i as i64 + 1);
                        page.remaining = (left > 0).then_some(left);
                    }
                    return Ok(page);
                }
            }
            match last_key {
                Some(k) if resp.more => {
                    let mut next = k.to_vec();
                    next.push(0);
                    start = next;
                }
                _ => return Ok(page),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use skiff_core::registry::lookup;

    #[test]
    fn keys_follow_scope() {
        let pods = lookup("", "v1", "pods").unwrap();
        assert_eq!(
            &key(pods, Some("default"), "p")[..],
            b"/registry/core/pods/default/p"
        );
        assert_eq!(scope_prefix(pods, None), "/registry/core/pods/");
        let nodes = lookup("", "v1", "nodes").unwrap();
        assert_eq!(
            &key(nodes, Some("ignored"), "n")[..],
            b"/registry/core/nodes/n"
        );
        let d = lookup("apps", "v1", "deployments").unwrap();
        assert_eq!(prefix(d), "/registry/apps/deployments/");
        // Every version of a resource shares its key.
        for version in ["v1", "v2"] {
            let hpa = lookup("autoscaling", version, "horizontalpodautoscalers").unwrap();
            assert_eq!(
                &key(hpa, Some("d"), "web")[..],
                b"/registry/autoscaling/horizontalpodautoscalers/d/web"
            );
        }
        for group in ["", "events.k8s.io"] {
            let events = lookup(group, "v1", "events").unwrap();
            assert_eq!(prefix(events), "/registry/core/events/");
        }
    }

    #[test]
    fn continue_tokens_round_trip_and_reject_garbage() {
        let c = Continue {
            revision: 42,
            start: "default/p\u{0}".into(),
        };
        assert_eq!(Continue::decode(&c.encode()).unwrap(), c);
        for bad in [
            "",
            "not-base64!",
            "e30=",
            &base64::engine::general_purpose::URL_SAFE
                .encode(r#"{"v":"meta.k8s.io/v1","rv":3,"start":"../x"}"#),
        ] {
            assert_eq!(Continue::decode(bad).unwrap_err().code, 400, "{bad}");
        }
    }

    #[test]
    fn encoding_drops_the_resource_version() {
        let obj = serde_json::json!({"metadata": {"name": "a", "resourceVersion": "5"}});
        let bytes = encode(&obj).unwrap();
        let back: Value = serde_json::from_slice(&bytes).unwrap();
        assert!(back["metadata"].get("resourceVersion").is_none());
        let kv = KeyValue {
            key: Bytes::from_static(b"k"),
            value: bytes,
            create_revision: 7,
            mod_revision: 9,
            version: 2,
        };
        assert_eq!(decode(&kv).unwrap()["metadata"]["resourceVersion"], "9");
    }
}
