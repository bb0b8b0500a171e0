//! The request's deadline, end to end: a source that does not answer in
//! time fails its fields with `DEADLINE_EXCEEDED` and the rest of the answer
//! is sent; a client may ask for a shorter deadline, never a longer one; a
//! write cut off by the deadline is of unknown outcome, never retried.

use serde_json::{json, Value};

use crate::helpers::{spawn_gateway_configured, TestGateway};

const LIST: &str = "{ contacts(first: 8) { nodes { source } } }";

async fn post(gateway: &TestGateway, timeout_ms: &str, query: &str, variables: Value) -> Value {
    let answer = gateway
        .post_with(
            &[
                ("content-type", "application/json"),
                ("x-request-timeout", timeout_ms),
            ],
            json!({ "query": query, "variables": variables }).to_string(),
        )
        .await;
    assert_eq!(answer.status, 200, "{answer:?}");
    answer.body
}

fn hang_winnerr() -> Value {
    json!({ "winnerr": { "faults": [{ "kind": "hang", "rate": 1.0 }] } })
}

#[tokio::test]
async fn a_source_that_misses_the_deadline_fails_alone_and_the_rest_is_answered() {
    // The source's own timeout is long; only the request's deadline can
    // end the wait.
    let gateway = spawn_gateway_configured(|config| {
        config.limits.request_timeout_ms = 60_000;
        for source in &mut config.sources {
            source.timeout = std::time::Duration::from_secs(60);
        }
    })
    .await;
    gateway.sandbox.configure(hang_winnerr()).await;
    // Long enough for the other sources' reads on a busy machine.
    let body = post(&gateway, "3000", LIST, json!({})).await;
    let errors = body["errors"].as_array().expect("errors");
    assert_eq!(errors.len(), 1, "{body:#}");
    assert_eq!(
        errors[0]["extensions"]["code"], "DEADLINE_EXCEEDED",
        "{body:#}"
    );
    assert_eq!(errors[0]["extensions"]["source"], "winnerr", "{body:#}");
    let nodes = body["data"]["contacts"]["nodes"].as_array().expect("nodes");
    assert_eq!(nodes.len(), 8, "{body:#}");
    assert!(
        nodes.iter().all(|node| node["source"] != "WINNERR"),
        "{body:#}"
    );

    // The fault cleared, the next request is whole.
    gateway
        .sandbox
        .configure(json!({ "winnerr": { "faults": [] } }))
        .await;
    let body = post(&gateway, "30000", LIST, json!({})).await;
    assert!(body.get("errors").is_none(), "{body:#}");
}

#[tokio::test]
async fn a_client_may_shorten_the_deadline_but_not_lengthen_it() {
    let gateway = spawn_gateway_configured(|config| {
        config.limits.request_timeout_ms = 300;
        for source in &mut config.sources {
            source.timeout = std::time::Duration::from_secs(60);
        }
    })
    .await;
    gateway.sandbox.configure(hang_winnerr()).await;
    // Asking for an hour still ends at the configured 300 ms.
    let body = post(&gateway, "3600000", LIST, json!({})).await;
    assert_eq!(
        body["errors"][0]["extensions"]["code"], "DEADLINE_EXCEEDED",
        "{body:#}"
    );
}

#[tokio::test]
async fn a_write_cut_off_by_the_deadline_is_of_unknown_outcome_and_sent_once() {
    let gateway = spawn_gateway_configured(|config| {
        for source in &mut config.sources {
            source.timeout = std::time::Duration::from_secs(60);
        }
    })
    .await;
    gateway.sandbox.configure(hang_winnerr()).await;
    let create =
        "mutation($input: CreateContactInput!) { createContact(input: $input) { contact { id } } }";
    let body = post(
        &gateway,
        "300",
        create,
        json!({"input": {"source": "WINNERR", "firstName": "Late", "lastName": "Writer", "email": "late.writer@example.com"}}),
    )
    .await;
    assert_eq!(
        body["errors"][0]["extensions"]["code"], "OUTCOME_UNKNOWN",
        "{body:#}"
    );
    let posts = gateway.sandbox.method_count("winnerr", "POST").await;
    assert_eq!(posts, 1, "the write was sent once");
}
