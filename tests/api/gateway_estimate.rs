//! The upstream request estimate against what the sandbox counts: for a
//! table of queries, the estimate (asked as a dry run, which sends nothing
//! upstream) is never below the requests the query then sends, per source.
//! Prints the table with the estimate's tightness.

use std::io::Write;

use serde_json::{json, Value};

use crate::helpers::{spawn_gateway, spawn_gateway_configured, TestGateway};

const SOURCES: [&str; 4] = ["opentoclose", "djangocrm", "winnerr", "spark"];
const JSON: (&str, &str) = ("content-type", "application/json");

async fn first_id(gateway: &TestGateway, source: &str) -> String {
    let data = gateway
        .data(
            &format!("{{ contacts(first: 1, sources: [{source}], orderBy: {{field: CREATED_AT, direction: DESC}}) {{ nodes {{ id }} }} }}"),
            json!({}),
        )
        .await;
    data["contacts"]["nodes"][0]["id"]
        .as_str()
        .expect("an id")
        .to_string()
}

/// The estimate a dry run reports, per source.
async fn dry_run(gateway: &TestGateway, query: &str, variables: &Value) -> Value {
    let answer = gateway
        .post_with(
            &[JSON, ("x-graphql-dry-run", "true")],
            json!({ "query": query, "variables": variables }).to_string(),
        )
        .await;
    assert_eq!(answer.status, 200, "{query}: {answer:?}");
    assert!(answer.body.get("data").is_none(), "{}", answer.body);
    assert_eq!(answer.body["extensions"]["dryRun"], true);
    answer.body["extensions"]["upstreamCallEstimate"].clone()
}

#[tokio::test]
async fn the_estimate_is_never_below_the_upstream_requests_sent() {
    // Lists read whole are read again for every request (no cache), so
    // each query is counted as a first request would be; the ceiling is
    // raised so that every query of the table runs.
    let gateway = spawn_gateway_configured(|config| {
        config.cache.enabled = false;
        config.limits.max_upstream_requests = 100_000;
    })
    .await;
    let winnerr = first_id(&gateway, "WINNERR").await;
    let django = first_id(&gateway, "DJANGO_CRM").await;
    let spark = first_id(&gateway, "SPARK").await;
    let otc = first_id(&gateway, "OPEN_TO_CLOSE").await;
    let property = gateway
        .data("{ properties(first: 1) { nodes { id } } }", json!({}))
        .await["properties"]["nodes"][0]["id"]
        .as_str()
        .unwrap()
        .to_string();
    let table: Vec<(&str, &str, Value)> = vec![
        ("default list", "{ contacts(first: 20) { nodes { displayName } } }", json!({})),
        (
            "newest first",
            "{ contacts(first: 10, orderBy: {field: CREATED_AT, direction: DESC}) { nodes { id } } }",
            json!({}),
        ),
        (
            "Winnerr with activities",
            "{ contacts(first: 5, sources: [WINNERR]) { nodes { displayName activities(first: 3) { nodes { type } } } } }",
            json!({}),
        ),
        (
            "Django-CRM with activities",
            "{ contacts(first: 5, sources: [DJANGO_CRM], orderBy: {field: CREATED_AT, direction: DESC}) { nodes { activities { nodes { type } } } } }",
            json!({}),
        ),
        (
            "filtered by city",
            "{ contacts(first: 10, filter: {city: \"Miami\"}) { totalCount nodes { id } } }",
            json!({}),
        ),
        (
            "Spark by update",
            "{ contacts(first: 5, sources: [SPARK], orderBy: {field: UPDATED_AT}) { nodes { id } } }",
            json!({}),
        ),
        (
            "backward page",
            "{ contacts(last: 5, sources: [OPEN_TO_CLOSE]) { nodes { id } } }",
            json!({}),
        ),
        (
            "Winnerr contact by id",
            "query($id: ID!) { contact(id: $id) { displayName activities { nodes { type } } } }",
            json!({ "id": winnerr }),
        ),
        (
            "Django-CRM node",
            "query($id: ID!) { node(id: $id) { ... on Contact { activities { totalCount } } } }",
            json!({ "id": django }),
        ),
        (
            "nodes of four sources",
            "query($ids: [ID!]!) { nodes(ids: $ids) { id } }",
            json!({ "ids": [winnerr, django, spark, otc] }),
        ),
        (
            "property board",
            "{ properties(first: 10) { nodes { title contacts { role contact { displayName } } } } }",
            json!({}),
        ),
        (
            "W1, 50 properties",
            "{ properties(first: 50) { nodes { title contacts { role primary contact { displayName emails { address } phones { number } } } } } }",
            json!({}),
        ),
        (
            "one property",
            "query($id: ID!) { property(id: $id) { contacts { contact { displayName } } } }",
            json!({ "id": property }),
        ),
        ("my contact", "{ myContact { displayName } }", json!({})),
        (
            "a contact's properties",
            "query($id: ID!) { contact(id: $id) { properties { role property { title } } } }",
            json!({ "id": otc }),
        ),
        (
            "activities' contacts",
            "{ contacts(first: 3, sources: [WINNERR, DJANGO_CRM], orderBy: {field: CREATED_AT, direction: DESC}) { nodes { activities(first: 2) { nodes { contact { displayName } } } } } }",
            json!({}),
        ),
        (
            "create on Spark",
            "mutation { createContact(input: {source: SPARK, firstName: \"Ada\", lastName: \"Byron\", email: \"ada@byron.example\"}) { contact { id displayName } } }",
            json!({}),
        ),
    ];
    let mut report = vec![format!(
        "{:<28} {:>22} {:>22} {:>9}",
        "query", "estimate otc/dj/wi/sp", "actual otc/dj/wi/sp", "est/act"
    )];
    let (mut estimated_total, mut actual_total) = (0u64, 0u64);
    for (name, query, variables) in &table {
        gateway.sandbox.reset().await;
        let estimate = dry_run(&gateway, query, variables).await;
        assert_eq!(
            gateway.upstream_requests().await,
            0,
            "{name}: a dry run sent requests"
        );
        let body = gateway.graphql(query, variables.clone()).await;
        assert!(body.get("errors").is_none(), "{name}: {body}");
        let stats = gateway.sandbox.stats().await;
        let mut estimated = Vec::new();
        let mut actual = Vec::new();
        for source in SOURCES {
            let e = estimate[source].as_u64().expect("estimate per source");
            let a = stats["by_source"][source]
                .as_u64()
                .expect("count per source");
            assert!(a <= e, "{name}: {source} sent {a} requests, estimated {e}");
            estimated.push(e);
            actual.push(a);
        }
        let (e, a): (u64, u64) = (estimated.iter().sum(), actual.iter().sum());
        estimated_total += e;
        actual_total += a;
        let join = |values: &[u64]| {
            values
                .iter()
                .map(u64::to_string)
                .collect::<Vec<_>>()
                .join("/")
        };
        report.push(format!(
            "{name:<28} {:>22} {:>22} {:>9}",
            join(&estimated),
            join(&actual),
            if a == 0 {
                "-".to_string()
            } else {
                format!("{:.2}", e as f64 / a as f64)
            }
        ));
    }
    report.push(format!(
        "total: estimated {estimated_total}, sent {actual_total}, ratio {:.2}",
        estimated_total as f64 / actual_total.max(1) as f64
    ));
    assert!(table.len() >= 15);
    // Written past the harness's capture, so the table shows in every run.
    let _ = std::io::stdout().write_all((report.join("\n") + "\n").as_bytes());
}

#[tokio::test]
async fn an_operation_over_the_budget_is_refused_with_its_estimate_and_sends_nothing() {
    let gateway = spawn_gateway().await;
    let otc = contact_gateway::domain::GlobalId::new(
        contact_gateway::domain::NodeType::Contact,
        contact_gateway::domain::SourceKind::OpenToClose,
        "1",
    )
    .encode();
    let query = "query($id: ID!) { contact(id: $id) { properties { role } } }";
    let answer = gateway
        .post_with(
            &[JSON],
            json!({ "query": query, "variables": { "id": otc } }).to_string(),
        )
        .await;
    assert_eq!(
        answer.first_code(),
        "UPSTREAM_BUDGET_EXCEEDED",
        "{}",
        answer.body
    );
    let estimate = &answer.body["errors"][0]["extensions"]["upstreamCallEstimate"];
    assert!(estimate["opentoclose"].as_u64().unwrap() > 60, "{estimate}");
    assert_eq!(estimate["spark"], 0);
    assert!(answer.body.get("data").is_none());
    assert_eq!(gateway.upstream_requests().await, 0);
    // A dry run of the same operation answers the estimate instead.
    let dry = dry_run(&gateway, query, &json!({ "id": otc })).await;
    assert_eq!(&dry, estimate);
    // Asked by `extensions` rather than a header, too.
    let answer = gateway
        .post_with(
            &[JSON],
            json!({ "query": "{ myContact { id } }", "extensions": { "dryRun": true } })
                .to_string(),
        )
        .await;
    assert_eq!(
        answer.body,
        json!({ "extensions": { "dryRun": true, "upstreamCallEstimate": {
            "opentoclose": 0, "djangocrm": 0, "winnerr": 0, "spark": 1
        } } })
    );
    assert_eq!(gateway.upstream_requests().await, 0);
}
