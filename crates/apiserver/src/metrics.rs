//! `/metrics` in the Prometheus text format: requests by verb, resource and code with latency
//! histograms (upstream's `apiserver_request_total` and `apiserver_request_duration_seconds`),
//! open watches, and store request latency.

use parking_lot::Mutex;
use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::atomic::{AtomicI64, Ordering};
use std::time::Duration;

/// Upper bounds of the latency buckets, in seconds.
const BUCKETS: &[f64] = &[
    0.005, 0.01, 0.025, 0.05, 0.1, 0.2, 0.4, 0.6, 0.8, 1.0, 1.5, 2.0, 5.0, 10.0, 30.0, 60.0,
];

#[derive(Default, Clone)]
struct Histogram {
    counts: Vec<u64>,
    sum: f64,
    count: u64,
}

impl Histogram {
    fn observe(&mut self, secs: f64) {
        if self.counts.is_empty() {
            self.counts = vec![0; BUCKETS.len()];
        }
        for (i, b) in BUCKETS.iter().enumerate() {
            if secs <= *b {
                self.counts[i] += 1;
            }
        }
        self.sum += secs;
        self.count += 1;
    }
}

/// The labels of one request series.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct RequestLabels {
    /// Upper-case verb as upstream reports it (`GET`, `LIST`, `WATCH`, `POST`, ...).
    pub verb: String,
    /// API group.
    pub group: String,
    /// API version.
    pub version: String,
    /// Resource ("" for non-resource paths).
    pub resource: String,
    /// Subresource.
    pub subresource: String,
    /// `resource`, `namespace` or `cluster`.
    pub scope: String,
}

#[derive(Default)]
struct Inner {
    totals: BTreeMap<(RequestLabels, u16), u64>,
    durations: BTreeMap<RequestLabels, Histogram>,
    store: BTreeMap<&'static str, Histogram>,
}

/// The server's metrics.
#[derive(Default)]
pub struct Metrics {
    inner: Mutex<Inner>,
    watches: AtomicI64,
}

impl Metrics {
    /// Records one finished request.
    pub fn request(&self, labels: RequestLabels, code: u16, elapsed: Duration) {
        let mut inner = self.inner.lock();
        *inner.totals.entry((labels.clone(), code)).or_default() += 1;
        if labels.verb != "WATCH" {
            inner
                .durations
                .entry(labels)
                .or_default()
                .observe(elapsed.as_secs_f64());
        }
    }

    /// Records one store operation.
    pub fn store(&self, operation: &'static str, elapsed: Duration) {
        self.inner
            .lock()
            .store
            .entry(operation)
            .or_default()
            .observe(elapsed.as_secs_f64());
    }

    /// A watch started; the guard marks its end.
    pub fn watch_started(self: &std::sync::Arc<Self>) -> WatchGuard {
        self.watches.fetch_add(1, Ordering::Relaxed);
        WatchGuard(self.clone())
    }

    /// The text exposition.
    pub fn render(&self) -> String {
        let inner = self.inner.lock();
        let mut out = String::new();
        let labels = |l: &RequestLabels| {
            format!(
                "component=\"apiserver\",group=\"{}\",resource=\"{}\",scope=\"{}\",subresource=\"{}\",verb=\"{}\",version=\"{}\"",
                l.group, l.resource, l.scope, l.subresource, l.verb, l.version
            )
        };
        out.push_str("# HELP apiserver_request_total Counter of apiserver requests broken out for each verb, group, version, resource, scope, component, and HTTP response code.\n");
        out.push_str("# TYPE apiserver_request_total counter\n");
        for ((l, code), n) in &inner.totals {
            let _ = writeln!(
                out,
                "apiserver_request_total{{code=\"{code}\",{}}} {n}",
                labels(l)
            );
        }
        out.push_str("# HELP apiserver_request_duration_seconds Response latency distribution in seconds for each verb, group, version, resource, subresource, scope and component.\n");
        out.push_str("# TYPE apiserver_request_duration_seconds histogram\n");
        for (l, h) in &inner.durations {
            write_histogram(
                &mut out,
                "apiserver_request_duration_seconds",
                &labels(l),
                h,
            );
        }
        out.push_str("# HELP apiserver_longrunning_requests Gauge of all active long-running apiserver requests.\n");
        out.push_str("# TYPE apiserver_longrunning_requests gauge\n");
        let _ = writeln!(
            out,
            "apiserver_longrunning_requests{{component=\"apiserver\",verb=\"WATCH\"}} {}",
            self.watches.load(Ordering::Relaxed)
        );
        out.push_str("# HELP etcd_request_duration_seconds Store request latency in seconds for each operation.\n");
        out.push_str("# TYPE etcd_request_duration_seconds histogram\n");
        for (op, h) in &inner.store {
            write_histogram(
                &mut out,
                "etcd_request_duration_seconds",
                &format!("operation=\"{op}\""),
                h,
            );
        }
        out
    }
}

fn write_histogram(out: &mut String, name: &str, labels: &str, h: &Histogram) {
    for (i, b) in BUCKETS.iter().enumerate() {
        let n = h.counts.get(i).copied().unwrap_or(0);
        let _ = writeln!(out, "{name}_bucket{{{labels},le=\"{b}\"}} {n}");
    }
    let _ = writeln!(out, "{name}_bucket{{{labels},le=\"+Inf\"}} {}", h.count);
    let _ = writeln!(out, "{name}_sum{{{labels}}} {}", h.sum);
    let _ = writeln!(out, "{name}_count{{{labels}}} {}", h.count);
}

/// Decrements the open-watch gauge when dropped.
pub struct WatchGuard(std::sync::Arc<Metrics>);

impl Drop for WatchGuard {
    fn drop(&mut self) {
        self.0.watches.fetch_sub(1, Ordering::Relaxed);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_counters_and_histograms() {
        let m = std::sync::Arc::new(Metrics::default());
        let l = RequestLabels {
            verb: "LIST".into(),
            group: String::new(),
            version: "v1".into(),
            resource: "pods".into(),
            subresource: String::new(),
            scope: "namespace".into(),
        };
        m.request(l.clone(), 200, Duration::from_millis(3));
        m.request(l, 200, Duration::from_millis(300));
        m.store("range", Duration::from_micros(50));
        let guard = m.watch_started();
        let text = m.render();
        assert!(text.contains("apiserver_request_total{code=\"200\",component=\"apiserver\",group=\"\",resource=\"pods\",scope=\"namespace\",subresource=\"\",verb=\"LIST\",version=\"v1\"} 2"), "{text}");
        assert!(text.contains("le=\"0.005\"} 1"), "{text}");
        assert!(text.contains("le=\"+Inf\"} 2"), "{text}");
        assert!(
            text.contains(
                "apiserver_longrunning_requests{component=\"apiserver\",verb=\"WATCH\"} 1"
            )
        );
        drop(guard);
        assert!(m.render().contains("verb=\"WATCH\"} 0"));
        assert!(text.contains("etcd_request_duration_seconds_count{operation=\"range\"} 1"));
    }
}
