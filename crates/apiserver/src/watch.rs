//! Watch: a chunked stream of JSON events, one per line, flushed as they happen.
//!
//! Semantics follow upstream: `resourceVersion` "" or "0" (or `sendInitialEvents=true`) first
//! sends the current objects as ADDED; an exact revision resumes after it; a compacted one ends
//! the stream with an ERROR event carrying a 410 Expired `Status`. Objects entering or leaving
//! the label/field selector are reported as ADDED or DELETED.

use crate::cache::{CacheEvent, Signal, StartError};
use crate::convert;
use crate::http as h;
use crate::object;
use crate::rest::{self, Ctx};
use crate::storage;
use crate::table::{self, IncludeObject};
use axum::body::Body;
use bytes::Bytes;
use http::{Response, StatusCode, header};
use serde_json::{Value, json};
use skiff_core::registry::ResourceInfo;
use skiff_core::status::ApiError;
use skiff_store::EventKind;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::mpsc;

/// How an event looks on the wire.
#[derive(Clone, Copy)]
struct Encoding {
    table: bool,
    include: IncludeObject,
}

fn encode_event(info: &ResourceInfo, enc: Encoding, kind: &str, obj: &Value) -> Bytes {
    let object = if enc.table && kind != "BOOKMARK" && kind != "ERROR" {
        let rv = object::meta_str(obj, "resourceVersion").unwrap_or_default();
        table::table(
            info,
            std::slice::from_ref(obj),
            rv,
            None,
            enc.include,
            false,
        )
    } else {
        obj.clone()
    };
    let mut line = serde_json::to_vec(&json!({"type": kind, "object": object})).unwrap_or_default();
    line.push(b'\n');
    Bytes::from(line)
}

fn bookmark(info: &ResourceInfo, rv: i64, initial_end: bool) -> Value {
    let mut meta = json!({"resourceVersion": rv.to_string()});
    if initial_end {
        meta["annotations"] = json!({"k8s.io/initial-events-end": "true"});
    }
    json!({"kind": info.gvk.kind, "apiVersion": info.gvk.api_version(), "metadata": meta})
}

/// Serves a watch request.
pub async fn serve(ctx: &Ctx<'_>) -> Result<Response<Body>, ApiError> {
    let info = ctx.info;
    let keep = rest::filter(ctx)?;
    let name = ctx.req.name.clone();
    let keep = Arc::new(move |obj: &Value| {
        name.as_deref().is_none_or(|n| object::name(obj) == Some(n)) && keep(obj)
    });
    let enc = Encoding {
        table: h::wants_table(ctx.headers),
        include: IncludeObject::parse(ctx.query.get("includeObject")),
    };
    let bookmarks = ctx.query.flag("allowWatchBookmarks");
    let send_initial = ctx.query.flag("sendInitialEvents");
    let timeout = match ctx.query.get("timeoutSeconds") {
        Some(t) if !t.is_empty() => Duration::from_secs(
            t.parse::<u64>()
                .map_err(|_| ApiError::bad_request(format!("invalid timeoutSeconds {t:?}")))?,
        ),
        // Upstream spreads long watches over [30, 60) minutes so clients reconnect gradually.
        _ => Duration::from_secs(1800 + u64::from(uuid::Uuid::new_v4().as_bytes()[0]) * 7),
    };
    let rv = ctx.query.get("resourceVersion").unwrap_or("");
    let ns = if info.namespaced {
        ctx.req.namespace.clone()
    } else {
        None
    };

    let cache = ctx.caches.get(info).await?;
    let prefix = storage::scope_prefix(info, ns.as_deref());
    let (tx, rx) = mpsc::channel::<Result<Bytes, std::io::Error>>(256);
    let (initial, after, live, backlog) = if rv.is_empty() || rv == "0" || send_initial {
        if rv.is_empty() {
            ctx.caches.consistent(info).await?;
        } else if rv != "0" {
            let n: i64 = rv
                .parse()
                .map_err(|_| ApiError::bad_request(format!("invalid resource version {rv:?}")))?;
            cache.wait_for(n).await?;
        }
        let (snap, live) = cache.start_with_snapshot(&prefix);
        let objects: Vec<Value> = snap
            .objects
            .iter()
            .map(|o| convert::from_storage(info, o.value()))
            .filter(|v| keep(v))
            .collect();
        (objects, snap.rv, Some(live), Vec::new())
    } else {
        let n: i64 = rv
            .parse()
            .map_err(|_| ApiError::bad_request(format!("invalid resource version {rv:?}")))?;
        match cache.start_after(n).await {
            Ok(start) => (Vec::new(), n, Some(start.rx), start.backlog),
            Err(StartError::TooOld { oldest }) => {
                let status = ApiError::expired(format!("too old resource version: {n} ({oldest})"))
                    .to_status();
                let _ = tx
                    .send(Ok(encode_event(
                        info,
                        enc,
                        "ERROR",
                        &serde_json::to_value(status).unwrap_or_default(),
                    )))
                    .await;
                (Vec::new(), n, None, Vec::new())
            }
            Err(StartError::Api(e)) => return Err(e),
        }
    };

    let info: &'static ResourceInfo = info;
    tokio::spawn(async move {
        let deadline = tokio::time::sleep(timeout);
        tokio::pin!(deadline);
        for obj in &initial {
            if tx
                .send(Ok(encode_event(info, enc, "ADDED", obj)))
                .await
                .is_err()
            {
                return;
            }
        }
        if send_initial && bookmarks {
            let b = bookmark(info, after, true);
            if tx
                .send(Ok(encode_event(info, enc, "BOOKMARK", &b)))
                .await
                .is_err()
            {
                return;
            }
        }
        let Some(mut live) = live else { return };
        let mut last_rv = after;
        let to_wire = |e: &CacheEvent| -> Option<(&'static str, Value)> {
            if !e.key.starts_with(prefix.as_bytes()) {
                return None;
            }
            let object = convert::from_storage(info, (*e.object).clone());
            match e.kind {
                EventKind::Put => {
                    let prev = e
                        .prev
                        .as_ref()
                        .map(|p| convert::from_storage(info, (**p).clone()));
                    let new_ok = keep(&object);
                    let old_ok = prev.as_ref().is_some_and(|o| keep(o));
                    match (old_ok, new_ok, prev) {
                        (true, true, _) => Some(("MODIFIED", object)),
                        (false, true, _) => Some(("ADDED", object)),
                        (true, false, Some(mut o)) => {
                            object::set_meta(&mut o, "resourceVersion", e.rv.to_string());
                            Some(("DELETED", o))
                        }
                        _ => None,
                    }
                }
                EventKind::Delete => keep(&object).then_some(("DELETED", object)),
            }
        };
        for e in &backlog {
            last_rv = e.rv;
            if let Some((kind, obj)) = to_wire(e)
                && tx
                    .send(Ok(encode_event(info, enc, kind, &obj)))
                    .await
                    .is_err()
            {
                return;
            }
        }
        let mut ticker = tokio::time::interval(Duration::from_secs(60));
        ticker.tick().await;
        loop {
            let signal = tokio::select! {
                _ = &mut deadline => return,
                _ = ticker.tick(), if bookmarks => {
                    let b = bookmark(info, last_rv, false);
                    if tx.send(Ok(encode_event(info, enc, "BOOKMARK", &b))).await.is_err() {
                        return;
                    }
                    continue;
                }
                s = live.recv() => s,
            };
            let event = match signal {
                Ok(Signal::Event(e)) => e,
                // The cache re-listed, or this watcher fell behind: end; the client re-watches.
                Ok(Signal::Reset) | Err(_) => return,
            };
            if event.rv <= last_rv {
                continue;
            }
            last_rv = event.rv;
            if let Some((kind, obj)) = to_wire(&event)
                && tx
                    .send(Ok(encode_event(info, enc, kind, &obj)))
                    .await
                    .is_err()
            {
                return;
            }
        }
    });

    let body = Body::from_stream(tokio_stream_from(rx));
    let mut resp = Response::new(body);
    *resp.status_mut() = StatusCode::OK;
    resp.headers_mut().insert(
        header::CONTENT_TYPE,
        http::HeaderValue::from_static("application/json"),
    );
    resp.headers_mut().insert(
        header::CACHE_CONTROL,
        http::HeaderValue::from_static("no-cache, private"),
    );
    Ok(resp)
}

fn tokio_stream_from<T: Send + 'static>(
    mut rx: mpsc::Receiver<T>,
) -> impl futures::Stream<Item = T> + Send + 'static {
    futures::stream::poll_fn(move |cx| rx.poll_recv(cx))
}

#[cfg(test)]
mod tests {
    use super::*;
    use skiff_core::registry::lookup;

    #[test]
    fn events_are_one_json_document_per_line() {
        let cm = lookup("", "v1", "configmaps").unwrap();
        let obj = json!({"kind": "ConfigMap", "metadata": {"name": "a", "resourceVersion": "3"}});
        let plain = encode_event(
            cm,
            Encoding {
                table: false,
                include: IncludeObject::Metadata,
            },
            "ADDED",
            &obj,
        );
        assert!(plain.ends_with(b"\n"));
        let v: Value = serde_json::from_slice(&plain).unwrap();
        assert_eq!(v["type"], "ADDED");
        assert_eq!(v["object"]["metadata"]["name"], "a");
        let t = encode_event(
            cm,
            Encoding {
                table: true,
                include: IncludeObject::Metadata,
            },
            "MODIFIED",
            &obj,
        );
        let v: Value = serde_json::from_slice(&t).unwrap();
        assert_eq!(v["object"]["kind"], "Table");
        assert_eq!(v["object"]["rows"][0]["cells"][0], "a");
        let b = bookmark(cm, 9, true);
        assert_eq!(
            b["metadata"]["annotations"]["k8s.io/initial-events-end"],
            "true"
        );
    }
}
