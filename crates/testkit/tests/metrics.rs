//! `/metrics` after a sync: Prometheus text that parses, with every metric the
//! operations guide names, counting what happened, and no record ids in labels.

use std::collections::BTreeMap;
use std::time::Duration;

use serde_json::json;
use testkit::spawn_app;

/// One sample: metric name, labels, value.
type Sample = (String, BTreeMap<String, String>, f64);

/// Parses Prometheus / OpenMetrics text: `# TYPE` / `# HELP` / `# EOF` comments and
/// `name{label="value",...} number` lines. Panics on anything else.
fn parse(text: &str) -> (BTreeMap<String, String>, Vec<Sample>) {
    let mut types = BTreeMap::new();
    let mut samples = Vec::new();
    for line in text.lines() {
        if let Some(rest) = line.strip_prefix("# TYPE ") {
            let (name, kind) = rest.split_once(' ').expect("# TYPE name kind");
            assert!(
                [
                    "counter",
                    "gauge",
                    "histogram",
                    "summary",
                    "unknown",
                    "info"
                ]
                .contains(&kind),
                "{line}"
            );
            types.insert(name.to_owned(), kind.to_owned());
            continue;
        }
        if line.starts_with('#') || line.is_empty() {
            continue;
        }
        let (series, value) = line.rsplit_once(' ').expect("series value");
        let value: f64 = value.parse().unwrap_or_else(|_| panic!("a number: {line}"));
        let (name, labels) = match series.split_once('{') {
            Some((name, rest)) => {
                let body = rest
                    .strip_suffix('}')
                    .unwrap_or_else(|| panic!("closing brace: {line}"));
                let mut labels = BTreeMap::new();
                for pair in body.split("\",").filter(|p| !p.is_empty()) {
                    let (k, v) = pair
                        .split_once("=\"")
                        .unwrap_or_else(|| panic!("label: {line}"));
                    labels.insert(k.to_owned(), v.trim_end_matches('"').to_owned());
                }
                (name, labels)
            }
            None => (series, BTreeMap::new()),
        };
        assert!(
            name.chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == ':')
                && !name.starts_with(|c: char| c.is_ascii_digit()),
            "metric name: {line}"
        );
        samples.push((name.to_owned(), labels, value));
    }
    (types, samples)
}

fn total(samples: &[Sample], name: &str, label: Option<(&str, &str)>) -> f64 {
    samples
        .iter()
        .filter(|(n, l, _)| {
            n == name && label.is_none_or(|(k, v)| l.get(k).is_some_and(|x| x == v))
        })
        .map(|s| s.2)
        .sum()
}

#[tokio::test]
async fn metrics_after_a_sync_parse_and_count_what_happened() {
    let app = spawn_app().await;
    let (_, _, flow) = app.enable_contacts_sync().await;
    let location = app.location(0).id.clone();
    let lofty = app.lofty_client();
    let lead = lofty
        .create_lead(&lofty::models::CreateLead {
            first_name: "Metric".to_owned(),
            emails: Some(vec!["metric.lead@example.com".to_owned()]),
            ..Default::default()
        })
        .await
        .unwrap();
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    while std::time::Instant::now() < deadline {
        app.drain().await;
        if app
            .store
            .pair(&flow.id, "right", &lead.to_string())
            .await
            .unwrap()
            .is_some()
        {
            break;
        }
        app.store.advance_clock(Duration::from_secs(3));
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(
        app.store
            .pair(&flow.id, "right", &lead.to_string())
            .await
            .unwrap()
            .is_some()
    );
    // A 429 from GHL: counted as a request and as rate limited.
    app.http
        .post(format!("{}/_sandbox/faults", app.ghl_base()))
        .json(&json!({"storm_429": 1}))
        .send()
        .await
        .unwrap();
    let ghl = app
        .connectors()
        .open(&flow.left_connection)
        .await
        .unwrap()
        .into_ghl()
        .unwrap();
    let refused = ghl
        .client()
        .get_duplicate_contact(&location, Some("nobody@example.com"), None)
        .await;
    assert!(
        matches!(&refused, Err(e) if e.status() == Some(429)),
        "the storm answers 429: {refused:?}"
    );

    let resp = app
        .http
        .get(format!("{}/metrics", app.address))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    assert!(
        resp.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("application/openmetrics-text")
    );
    let text = resp.text().await.unwrap();
    let (types, samples) = parse(&text);
    for (name, kind) in [
        ("ghlsync_events_received", "counter"),
        ("ghlsync_jobs", "counter"),
        ("ghlsync_api_requests", "counter"),
        ("ghlsync_rate_limited", "counter"),
        ("ghlsync_queue_depth", "gauge"),
        ("ghlsync_token_refresh_failures", "counter"),
        ("ghlsync_sync_records", "counter"),
    ] {
        assert_eq!(
            types.get(name).map(String::as_str),
            Some(kind),
            "{name} in:\n{text}"
        );
    }
    assert!(
        total(
            &samples,
            "ghlsync_events_received_total",
            Some(("system", "lofty"))
        ) >= 1.0,
        "{text}"
    );
    assert!(
        total(&samples, "ghlsync_jobs_total", Some(("outcome", "done"))) >= 2.0,
        "{text}"
    );
    assert!(
        total(&samples, "ghlsync_jobs_total", Some(("outcome", "retry"))) >= 1.0,
        "the 429s: {text}"
    );
    assert!(
        total(
            &samples,
            "ghlsync_api_requests_total",
            Some(("system", "ghl"))
        ) >= 1.0,
        "{text}"
    );
    assert!(
        total(
            &samples,
            "ghlsync_api_requests_total",
            Some(("system", "lofty"))
        ) >= 1.0,
        "{text}"
    );
    assert!(
        total(
            &samples,
            "ghlsync_rate_limited_total",
            Some(("system", "ghl"))
        ) >= 1.0,
        "{text}"
    );
    assert!(
        total(
            &samples,
            "ghlsync_sync_records_total",
            Some(("flow", flow.id.as_str()))
        ) >= 1.0,
        "{text}"
    );
    assert!(
        samples.iter().any(|(n, l, _)| n == "ghlsync_queue_depth"
            && l.get("queue").is_some_and(|q| q == "default"))
    );
    // Bounded labels only: no lead, contact or location id anywhere.
    let contact = app
        .store
        .pair(&flow.id, "right", &lead.to_string())
        .await
        .unwrap()
        .unwrap()
        .left_id;
    for id in [lead.to_string(), contact, location] {
        assert!(
            !text.contains(&format!("\"{id}\"")),
            "{id} is a label value:\n{text}"
        );
    }
    for (_, labels, _) in &samples {
        for key in labels.keys() {
            assert!(
                ["system", "status", "kind", "outcome", "queue", "flow"].contains(&key.as_str()),
                "label {key}"
            );
        }
    }
    app.shutdown().await;
}
