//! Translation between etcd-client's types and the crate's: records, events and errors.

use crate::error::Error;
use crate::types::{Event, EventKind, KeyValue, MAX_VALUE_BYTES};
use bytes::Bytes;
use etcd_client::{EventType, ResponseHeader};

/// Converts a record taken out of a response, without copying key and value.
pub(super) fn key_value(kv: etcd_client::KeyValue) -> KeyValue {
    let (create_revision, mod_revision, version) =
        (kv.create_revision(), kv.mod_revision(), kv.version());
    let (key, value) = kv.into_key_value();
    KeyValue {
        key: Bytes::from(key),
        value: Bytes::from(value),
        create_revision,
        mod_revision,
        version,
    }
}

/// Converts a borrowed record (copies key and value).
pub(super) fn key_value_ref(kv: &etcd_client::KeyValue) -> KeyValue {
    KeyValue {
        key: Bytes::copy_from_slice(kv.key()),
        value: Bytes::copy_from_slice(kv.value()),
        create_revision: kv.create_revision(),
        mod_revision: kv.mod_revision(),
        version: kv.version(),
    }
}

/// Converts one watch event; `None` for an event without a record (etcd never sends one).
pub(super) fn event(ev: &etcd_client::Event) -> Option<Event> {
    let kind = match ev.event_type() {
        EventType::Put => EventKind::Put,
        EventType::Delete => EventKind::Delete,
    };
    Some(Event {
        kind,
        kv: key_value_ref(ev.kv()?),
        prev: ev.prev_kv().map(key_value_ref),
    })
}

/// The revision in a response header; etcd always sends one.
pub(super) fn header_revision(
    header: Option<&ResponseHeader>,
    context: &str,
) -> crate::Result<i64> {
    header
        .map(ResponseHeader::revision)
        .ok_or_else(|| Error::backend(context, "etcd response without a header"))
}

/// The message of the gRPC status inside `err`, if it is one (etcd's errors are told apart by
/// their message, as etcd's own `rpctypes` package does).
fn status_message(err: &etcd_client::Error) -> Option<&str> {
    match err {
        etcd_client::Error::GRpcStatus(status) => Some(status.message()),
        _ => None,
    }
}

/// Whether etcd rejected a request because its lease is gone (expired or revoked).
pub(super) fn is_lease_not_found(err: &etcd_client::Error) -> bool {
    status_message(err).is_some_and(|m| m.contains("requested lease not found"))
}

/// Maps an etcd-client error to the crate's error.
///
/// `context` says what the engine was doing; `revision` is the revision the request named (for
/// [`Error::Compacted`] and [`Error::FutureRevision`]) and `size` the bytes it carried (for
/// [`Error::ValueTooLarge`]). Fields the error alone cannot tell (the compaction point, the
/// current revision) are left at 0 for the caller to fill in.
pub(super) fn map_error(
    context: &str,
    revision: i64,
    size: usize,
    err: etcd_client::Error,
) -> Error {
    if let Some(message) = status_message(&err) {
        if message.contains("required revision has been compacted") {
            return Error::Compacted {
                requested: revision,
                compacted: 0,
            };
        }
        if message.contains("required revision is a future revision") {
            return Error::FutureRevision {
                requested: revision,
                current: 0,
            };
        }
        if message.contains("request is too large") {
            return Error::ValueTooLarge {
                size,
                limit: MAX_VALUE_BYTES,
            };
        }
    }
    Error::backend(context, err)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn errors_without_an_etcd_status_stay_backend_errors() {
        let err = map_error(
            "reading",
            7,
            0,
            etcd_client::Error::WatchError("required revision has been compacted".into()),
        );
        match err {
            Error::Backend { context, .. } => assert_eq!(context, "reading"),
            other => panic!("unexpected {other:?}"),
        }
        assert!(!is_lease_not_found(&etcd_client::Error::InvalidArgs(
            "requested lease not found".into()
        )));
    }
}
