//! The process's metrics, in one registry every crate counts into, encoded as
//! Prometheus text for `/metrics`.
//!
//! Labels are few and bounded: systems (`ghl`, `lofty`, `lytho`), HTTP statuses,
//! job kinds, outcomes and flow ids (from the configuration). Never a record,
//! contact or location id: their number has no bound.

use std::sync::OnceLock;

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::registry::Registry;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct SystemLabel {
    system: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RequestLabels {
    system: String,
    status: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct JobLabels {
    kind: String,
    outcome: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct QueueLabel {
    queue: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RecordLabels {
    flow: String,
    outcome: String,
}

struct Metrics {
    registry: Registry,
    events: Family<SystemLabel, Counter>,
    jobs: Family<JobLabels, Counter>,
    requests: Family<RequestLabels, Counter>,
    rate_limited: Family<SystemLabel, Counter>,
    queue_depth: Family<QueueLabel, Gauge>,
    refresh_failures: Family<SystemLabel, Counter>,
    records: Family<RecordLabels, Counter>,
}

fn metrics() -> &'static Metrics {
    static METRICS: OnceLock<Metrics> = OnceLock::new();
    METRICS.get_or_init(|| {
        let mut registry = Registry::default();
        let m = Metrics {
            events: Family::default(),
            jobs: Family::default(),
            requests: Family::default(),
            rate_limited: Family::default(),
            queue_depth: Family::default(),
            refresh_failures: Family::default(),
            records: Family::default(),
            registry: Registry::default(),
        };
        registry.register(
            "ghlsync_events_received",
            "Events taken in (webhook deliveries journaled, Lytho items polled), by system",
            m.events.clone(),
        );
        registry.register(
            "ghlsync_jobs",
            "Queue jobs finished, by kind and outcome (done, retry, reauth, dead)",
            m.jobs.clone(),
        );
        registry.register(
            "ghlsync_api_requests",
            "Requests sent to the APIs, by system and HTTP status (0: no answer)",
            m.requests.clone(),
        );
        registry.register(
            "ghlsync_rate_limited",
            "429 answers from the APIs, by system",
            m.rate_limited.clone(),
        );
        registry.register(
            "ghlsync_queue_depth",
            "Jobs waiting or running, by queue (read at scrape time)",
            m.queue_depth.clone(),
        );
        registry.register(
            "ghlsync_token_refresh_failures",
            "OAuth token refreshes that failed, by system",
            m.refresh_failures.clone(),
        );
        registry.register(
            "ghlsync_sync_records",
            "Sync decisions about records, by flow and outcome",
            m.records.clone(),
        );
        // Every system's counters exist from the start (at 0), so a rate or an alert
        // on them has a series before the first event.
        for sys in SYSTEMS {
            let _ = m.events.get_or_create(&system(sys));
            let _ = m.rate_limited.get_or_create(&system(sys));
            let _ = m.refresh_failures.get_or_create(&system(sys));
        }
        Metrics { registry, ..m }
    })
}

/// The systems the labels name.
const SYSTEMS: [&str; 3] = ["ghl", "lofty", "lytho"];

fn system(s: &str) -> SystemLabel {
    SystemLabel {
        system: s.to_owned(),
    }
}

/// `n` events taken in from `system`.
pub fn events_received(system_name: &str, n: u64) {
    metrics()
        .events
        .get_or_create(&system(system_name))
        .inc_by(n);
}

/// A job of `kind` finished with `outcome`.
pub fn job_finished(kind: &str, outcome: &str) {
    metrics()
        .jobs
        .get_or_create(&JobLabels {
            kind: kind.to_owned(),
            outcome: outcome.to_owned(),
        })
        .inc();
}

/// A request to `system` answered `status` (0 when no answer came); a 429 also
/// counts as rate limited.
pub fn api_request(system_name: &str, status: u16) {
    let m = metrics();
    m.requests
        .get_or_create(&RequestLabels {
            system: system_name.to_owned(),
            status: status.to_string(),
        })
        .inc();
    if status == 429 {
        m.rate_limited.get_or_create(&system(system_name)).inc();
    }
}

/// A token refresh for `system` failed.
pub fn token_refresh_failed(system_name: &str) {
    metrics()
        .refresh_failures
        .get_or_create(&system(system_name))
        .inc();
}

/// A sync decision of `flow` ended with `outcome` (created, updated, skipped, ...).
pub fn sync_record(flow: &str, outcome: &str) {
    metrics()
        .records
        .get_or_create(&RecordLabels {
            flow: flow.to_owned(),
            outcome: outcome.to_owned(),
        })
        .inc();
}

/// Sets the depth of `queue` (before encoding).
pub fn set_queue_depth(queue: &str, depth: i64) {
    metrics()
        .queue_depth
        .get_or_create(&QueueLabel {
            queue: queue.to_owned(),
        })
        .set(depth);
}

/// The content type of [`encode`]'s text.
pub const CONTENT_TYPE: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";

/// Every metric, as OpenMetrics text (which Prometheus reads).
pub fn encode() -> String {
    let mut out = String::new();
    if prometheus_client::encoding::text::encode(&mut out, &metrics().registry).is_err() {
        out.clear();
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counters_are_encoded_with_their_labels() {
        api_request("ghl", 200);
        api_request("ghl", 429);
        events_received("lofty", 3);
        job_finished("ghl.event", "done");
        set_queue_depth("default", 7);
        let text = encode();
        assert!(
            text.contains("ghlsync_api_requests_total{system=\"ghl\",status=\"429\"} 1"),
            "{text}"
        );
        assert!(
            text.contains("ghlsync_rate_limited_total{system=\"ghl\"} 1"),
            "{text}"
        );
        assert!(
            text.contains("ghlsync_events_received_total{system=\"lofty\"} 3"),
            "{text}"
        );
        assert!(
            text.contains("ghlsync_jobs_total{kind=\"ghl.event\",outcome=\"done\"} 1"),
            "{text}"
        );
        assert!(
            text.contains("ghlsync_queue_depth{queue=\"default\"} 7"),
            "{text}"
        );
        assert!(text.ends_with("# EOF\n"));
    }
}
