//! `/metrics`: the Prometheus text exposition, read with a Prometheus
//! text-format parser after real queries, one of whose sources fails.

use std::collections::{HashMap, HashSet};

use openmetrics_parser::prometheus::parse_prometheus;
use openmetrics_parser::{MetricsExposition, PrometheusType, PrometheusValue};
use serde_json::json;

use crate::helpers::spawn_cached_gateway;

type Exposition = MetricsExposition<PrometheusType, PrometheusValue>;

/// The values of the series of family `name` whose labels include every
/// pair of `labels`, each with its labels.
fn find(
    scrape: &Exposition,
    name: &str,
    labels: &[(&str, &str)],
) -> Vec<(HashMap<String, String>, PrometheusValue)> {
    let Some(family) = scrape.families.get(name) else {
        return Vec::new();
    };
    family
        .iter_samples()
        .filter_map(|sample| {
            let set = sample.get_labelset().expect("labels");
            let pairs: HashMap<String, String> = set
                .iter()
                .map(|(key, value)| (key.clone(), value.clone()))
                .collect();
            labels
                .iter()
                .all(|(key, value)| pairs.get(*key).map(String::as_str) == Some(*value))
                .then(|| (pairs, sample.value.clone()))
        })
        .collect()
}

/// The one value of a counter or gauge series.
fn number(found: &[(HashMap<String, String>, PrometheusValue)]) -> f64 {
    assert_eq!(found.len(), 1, "one series: {found:?}");
    match &found[0].1 {
        PrometheusValue::Counter(counter) => counter.value.as_f64(),
        PrometheusValue::Gauge(value) | PrometheusValue::Unknown(value) => value.as_f64(),
        other => panic!("not a counter or gauge: {other:?}"),
    }
}

/// How many observations the one histogram series found holds.
fn observations(found: &[(HashMap<String, String>, PrometheusValue)]) -> f64 {
    assert_eq!(found.len(), 1, "one series: {found:?}");
    match &found[0].1 {
        PrometheusValue::Histogram(histogram) => histogram
            .buckets
            .iter()
            .find(|bucket| bucket.upper_bound.is_infinite())
            .map(|bucket| bucket.count.as_f64())
            .expect("an +Inf bucket"),
        other => panic!("not a histogram: {other:?}"),
    }
}

#[tokio::test]
async fn metrics_name_operations_errors_upstream_routes_and_the_cache_and_no_credential() {
    let gateway = spawn_cached_gateway().await;
    let property_id = gateway
        .data("{ properties(first: 1) { nodes { id } } }", json!({}))
        .await["properties"]["nodes"][0]["id"]
        .as_str()
        .expect("a property id")
        .to_string();
    gateway
        .sandbox
        .configure(json!({ "winnerr": { "faults": [{ "kind": "http_500", "rate": 1.0 }] } }))
        .await;

    let board = gateway
        .sandbox
        .client
        .post(&gateway.graphql_url)
        .json(&json!({
            "query": "query Board { contacts(first: 5) { nodes { id } } }",
            "operationName": "Board",
        }))
        .send()
        .await
        .expect("board")
        .json::<serde_json::Value>()
        .await
        .expect("board body");
    let code = board["errors"][0]["extensions"]["code"]
        .as_str()
        .unwrap_or_else(|| panic!("the failing source gives a coded error: {board:#}"))
        .to_string();
    // The first read goes upstream (the list above left the record in the
    // cache), the second is served by the cache.
    for cache_control in ["no-cache", "max-age=60"] {
        let card = gateway
            .sandbox
            .client
            .post(&gateway.graphql_url)
            .header("cache-control", cache_control)
            .json(&json!({
                "query": "query Card($id: ID!) { property(id: $id) { id } }",
                "variables": { "id": property_id },
                "operationName": "Card",
            }))
            .send()
            .await
            .expect("card")
            .json::<serde_json::Value>()
            .await
            .expect("card body");
        assert!(card.get("errors").is_none(), "{card:#}");
    }

    let response = gateway
        .sandbox
        .client
        .get(format!("{}/metrics", gateway.url))
        .send()
        .await
        .expect("metrics");
    assert_eq!(response.status(), 200);
    assert!(response
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("text/plain")));
    let text = response.text().await.expect("metrics text");
    let scrape = parse_prometheus(&text).expect("the Prometheus text format");

    // GraphQL operations by name and outcome, their durations, errors by code.
    let board_ops = find(
        &scrape,
        "gateway_graphql_operations_total",
        &[("operation", "Board"), ("outcome", "partial")],
    );
    assert_eq!(number(&board_ops), 1.0, "{text}");
    let card_ops = find(
        &scrape,
        "gateway_graphql_operations_total",
        &[("operation", "Card"), ("outcome", "success")],
    );
    assert_eq!(number(&card_ops), 2.0, "{text}");
    let durations = find(
        &scrape,
        "gateway_graphql_operation_duration_seconds",
        &[("operation", "Board"), ("outcome", "partial")],
    );
    assert_eq!(observations(&durations), 1.0, "{text}");
    let errors = find(&scrape, "gateway_graphql_errors_total", &[("code", &code)]);
    assert!(number(&errors) >= 1.0, "{code}: {text}");

    // Upstream requests by source, route template and status class.
    let failed = find(
        &scrape,
        "gateway_upstream_requests_total",
        &[
            ("source", "winnerr"),
            ("method", "GET"),
            ("route", "/contacts"),
            ("status_class", "5xx"),
        ],
    );
    assert!(number(&failed) >= 1.0, "{text}");
    let by_id = find(
        &scrape,
        "gateway_upstream_requests_total",
        &[
            ("source", "opentoclose"),
            ("route", "/properties/{id}"),
            ("status_class", "2xx"),
        ],
    );
    assert_eq!(number(&by_id), 1.0, "the property read by id, once: {text}");
    let failed_durations = find(
        &scrape,
        "gateway_upstream_request_duration_seconds",
        &[
            ("source", "winnerr"),
            ("route", "/contacts"),
            ("status_class", "5xx"),
        ],
    );
    assert!(observations(&failed_durations) >= 1.0, "{text}");
    // Every route label is a template: no identifier, no query string.
    for (labels, _) in find(&scrape, "gateway_upstream_requests_total", &[])
        .into_iter()
        .chain(find(
            &scrape,
            "gateway_upstream_request_duration_seconds",
            &[],
        ))
    {
        let route = &labels["route"];
        assert!(
            route.starts_with('/')
                && route
                    .chars()
                    .all(|c| c.is_ascii_lowercase() || "/{}_".contains(c)),
            "not a template: {route}"
        );
    }

    // In-flight requests and waiting permits, and the cache, per source.
    let sources: HashSet<&str> = ["opentoclose", "djangocrm", "winnerr", "spark"].into();
    for name in [
        "gateway_upstream_in_flight",
        "gateway_upstream_permits_waiting",
        "gateway_cache_hits_total",
        "gateway_cache_misses_total",
        "gateway_cache_coalesced_total",
        "gateway_cache_evictions_total",
        "gateway_cache_entries",
        "gateway_cache_bytes",
        "gateway_upstream_retries_total",
    ] {
        let found: HashSet<String> = find(&scrape, name, &[])
            .into_iter()
            .map(|(labels, _)| labels["source"].clone())
            .collect();
        let sources: HashSet<String> = sources.iter().map(|s| s.to_string()).collect();
        assert_eq!(found, sources, "{name}: {text}");
    }
    for source in &sources {
        let in_flight = find(&scrape, "gateway_upstream_in_flight", &[("source", source)]);
        assert_eq!(number(&in_flight), 0.0, "nothing is under way any more");
    }
    let kept_hits = find(
        &scrape,
        "gateway_cache_hits_total",
        &[("source", "opentoclose")],
    );
    assert!(
        number(&kept_hits) >= 1.0,
        "the second card was kept: {text}"
    );
    let kept_bytes = find(&scrape, "gateway_cache_bytes", &[("source", "opentoclose")]);
    assert!(number(&kept_bytes) > 0.0);

    // No credential anywhere.
    for (source, key) in [
        ("opentoclose", "api_token"),
        ("djangocrm", "token"),
        ("djangocrm", "organization_id"),
        ("winnerr", "token"),
        ("spark", "token"),
    ] {
        let secret = gateway.sandbox.credential(source, key);
        assert!(!text.contains(&secret), "{source} {key} in /metrics");
    }
}
