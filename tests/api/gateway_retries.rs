//! Retries of upstream reads, end to end against the sandbox's fault
//! injection: reads that fail in a way worth trying again are sent again and
//! succeed; writes never are; an upstream asking to wait longer than the
//! gateway will is answered at once. Counts come from the sandbox's stats.

use serde_json::{json, Value};

use crate::helpers::{spawn_gateway, spawn_gateway_configured, TestGateway};

/// Requests the sandbox has received from `source` with `method`.
async fn requests(gateway: &TestGateway, source: &str, method: &str) -> u64 {
    gateway.sandbox.method_count(source, method).await
}

fn by_id(id: &str) -> String {
    format!("{{ contact(id: \"{id}\") {{ id displayName }} }}")
}

fn first_code(body: &Value) -> &Value {
    &body["errors"][0]["extensions"]["code"]
}

#[tokio::test]
async fn a_read_that_fails_once_is_sent_again_and_succeeds() {
    for kind in ["http_503", "http_429", "reset"] {
        let gateway = spawn_gateway().await;
        let ids = gateway.newest_contact_ids("SPARK", 1).await;
        let before = requests(&gateway, "spark", "GET").await;
        gateway
            .sandbox
            .configure(
                json!({ "spark": { "faults": [{ "kind": kind, "rate": 1.0, "count": 1 }] } }),
            )
            .await;
        let data = gateway.data(&by_id(&ids[0]), json!({})).await;
        assert_eq!(data["contact"]["id"], ids[0], "{kind}");
        assert_eq!(
            requests(&gateway, "spark", "GET").await - before,
            2,
            "{kind}: one failed read and one retry"
        );
    }
}

#[tokio::test]
async fn reads_at_a_thirty_percent_fault_rate_succeed_through_retries() {
    let gateway = spawn_gateway_configured(|config| {
        for source in &mut config.sources {
            source.retry.max_retries = 4;
        }
    })
    .await;
    let ids = gateway.newest_contact_ids("WINNERR", 20).await;
    gateway
        .sandbox
        .configure(json!({ "winnerr": { "faults": [{ "kind": "http_503", "rate": 0.3 }] } }))
        .await;
    let before = requests(&gateway, "winnerr", "GET").await;
    for id in &ids {
        let data = gateway.data(&by_id(id), json!({})).await;
        assert_eq!(&data["contact"]["id"], id);
    }
    let sent = requests(&gateway, "winnerr", "GET").await - before;
    assert!(
        sent > ids.len() as u64,
        "no read was retried ({sent} requests)"
    );
}

#[tokio::test]
async fn a_write_is_never_sent_twice() {
    let gateway = spawn_gateway().await;
    gateway
        .sandbox
        .configure(
            json!({ "winnerr": { "faults": [{ "kind": "http_503", "rate": 1.0, "count": 1 }] } }),
        )
        .await;
    let create =
        "mutation($input: CreateContactInput!) { createContact(input: $input) { contact { id } } }";
    let body = gateway
        .graphql(
            create,
            json!({"input": {"source": "WINNERR", "firstName": "Once", "lastName": "Only", "email": "once.only@example.com"}}),
        )
        .await;
    assert_eq!(first_code(&body), "UPSTREAM_UNAVAILABLE", "{body}");
    assert_eq!(requests(&gateway, "winnerr", "POST").await, 1);
}

#[tokio::test]
async fn an_upstream_asking_to_wait_too_long_is_answered_at_once() {
    let gateway = spawn_gateway().await;
    let ids = gateway.newest_contact_ids("SPARK", 1).await;
    let before = requests(&gateway, "spark", "GET").await;
    gateway
        .sandbox
        .configure(json!({ "spark": { "faults": [
            { "kind": "http_429", "rate": 1.0, "count": 1, "retry_after_s": 30 }
        ] } }))
        .await;
    let body = gateway.graphql(&by_id(&ids[0]), json!({})).await;
    assert_eq!(first_code(&body), "UPSTREAM_UNAVAILABLE", "{body}");
    assert_eq!(requests(&gateway, "spark", "GET").await - before, 1);
}

#[tokio::test]
async fn with_retries_off_a_failed_read_fails() {
    let gateway = spawn_gateway_configured(|config| {
        for source in &mut config.sources {
            source.retry.max_retries = 0;
        }
    })
    .await;
    let ids = gateway.newest_contact_ids("SPARK", 1).await;
    gateway
        .sandbox
        .configure(
            json!({ "spark": { "faults": [{ "kind": "http_503", "rate": 1.0, "count": 1 }] } }),
        )
        .await;
    let body = gateway.graphql(&by_id(&ids[0]), json!({})).await;
    assert_eq!(first_code(&body), "UPSTREAM_UNAVAILABLE", "{body}");
}

#[tokio::test]
async fn a_write_without_an_answer_is_reported_as_of_unknown_outcome() {
    let gateway = spawn_gateway_configured(|config| {
        for source in &mut config.sources {
            source.timeout = std::time::Duration::from_millis(300);
        }
    })
    .await;
    let create =
        "mutation($input: CreateContactInput!) { createContact(input: $input) { contact { id } } }";
    for (n, kind) in ["hang", "reset"].into_iter().enumerate() {
        gateway
            .sandbox
            .configure(
                json!({ "winnerr": { "faults": [{ "kind": kind, "rate": 1.0, "count": 1 }] } }),
            )
            .await;
        let email = format!("unknown.{n}@example.com");
        let body = gateway
            .graphql(
                create,
                json!({"input": {"source": "WINNERR", "firstName": "Maybe", "lastName": "Written", "email": email}}),
            )
            .await;
        assert_eq!(first_code(&body), "OUTCOME_UNKNOWN", "{kind}: {body}");
        assert_eq!(
            body["errors"][0]["extensions"]["source"], "winnerr",
            "{body}"
        );
    }
    // Neither write was sent twice.
    assert_eq!(requests(&gateway, "winnerr", "POST").await, 2);
}

/// Under a storm of 429s the adaptive concurrency limit falls, and no read
/// is sent more than its retries allow.
#[tokio::test]
async fn a_storm_of_429s_lowers_the_concurrency_limit() {
    let gateway = spawn_gateway().await;
    let upstream = gateway.gateway.upstream.clone();
    let before = upstream.concurrency_limit(contact_gateway::domain::SourceKind::Winnerr);
    assert_eq!(before, contact_gateway::concurrency::INITIAL_LIMIT);
    gateway
        .sandbox
        .configure(json!({ "winnerr": { "faults": [{ "kind": "http_429", "rate": 1.0 }] } }))
        .await;
    let body = gateway
        .graphql(
            "{ contacts(sources: [WINNERR], first: 5) { nodes { id } } }",
            json!({}),
        )
        .await;
    assert!(body["errors"].is_array(), "{body}");
    let after = upstream.concurrency_limit(contact_gateway::domain::SourceKind::Winnerr);
    assert!(after < before, "{before} -> {after}");
}
