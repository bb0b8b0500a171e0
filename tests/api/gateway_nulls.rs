//! Null propagation, end to end: when Open To Close fails, the non-null
//! `Contact.properties` is not left out of the answer; its nearest nullable
//! parent is null, as the GraphQL specification requires.

use contact_gateway::domain::{GlobalId, NodeType, SourceKind};
use serde_json::json;

use crate::helpers::spawn_gateway_configured;

#[tokio::test]
async fn a_failing_non_null_field_nulls_its_nearest_nullable_parent() {
    // Reading `properties` costs one request per Open To Close property,
    // above the default budget this test is not about.
    let gateway = spawn_gateway_configured(|config| {
        config.cache.enabled = true;
        config.limits.max_upstream_requests = 10_000;
    })
    .await;
    let opentoclose = GlobalId::new(NodeType::Contact, SourceKind::OpenToClose, "1").encode();
    // The contact is read (and cached) while Open To Close is up, so that
    // only its properties fail below.
    let name = gateway
        .data(
            "query($id: ID!) { contact(id: $id) { displayName } }",
            json!({ "id": opentoclose }),
        )
        .await["contact"]["displayName"]
        .clone();
    assert!(name.is_string(), "{name}");
    let winnerr = gateway
        .data(
            "{ contacts(first: 1, sources: [WINNERR]) { nodes { id } } }",
            json!({}),
        )
        .await["contacts"]["nodes"][0]["id"]
        .clone();
    gateway
        .sandbox
        .configure(json!({ "opentoclose": { "faults": [{ "kind": "http_500", "rate": 1.0 }] } }))
        .await;

    let answer = gateway
        .graphql(
            "query($id: ID!) { contact(id: $id) { displayName properties { role } } }",
            json!({ "id": opentoclose }),
        )
        .await;
    assert_eq!(answer["data"], json!({ "contact": null }), "{answer:#}");
    assert_eq!(
        answer["errors"][0]["path"],
        json!(["contact", "properties"]),
        "{answer:#}"
    );
    assert!(
        answer["errors"][0]["extensions"]["code"].is_string(),
        "{answer:#}"
    );

    // In a list of nullable nodes, only the failing contact is null; the
    // Winnerr contact, which has no Open To Close properties, is whole.
    let answer = gateway
        .graphql(
            "query($ids: [ID!]!) { nodes(ids: $ids) { ... on Contact { name: displayName properties { role } } } }",
            json!({ "ids": [opentoclose, winnerr] }),
        )
        .await;
    assert_eq!(answer["data"]["nodes"][0], json!(null), "{answer:#}");
    assert!(answer["data"]["nodes"][1]["name"].is_string(), "{answer:#}");
    assert_eq!(
        answer["data"]["nodes"][1]["properties"],
        json!([]),
        "{answer:#}"
    );
    assert_eq!(
        answer["errors"][0]["path"],
        json!(["nodes", 0, "properties"]),
        "{answer:#}"
    );

    // A non-null root field that fails nulls `data` itself.
    let answer = gateway
        .graphql("{ properties(first: 1) { nodes { title } } }", json!({}))
        .await;
    assert_eq!(answer["data"], json!(null), "{answer:#}");
    assert!(
        answer["errors"][0]["extensions"]["code"].is_string(),
        "{answer:#}"
    );
}

/// An operation sent again without variables runs on the schema without
/// extensions (`edge::documents`); its answer is finished the same way:
/// the same nulls, the same paths, the same codes.
#[tokio::test]
async fn an_operation_sent_again_is_answered_exactly_as_the_first_time() {
    let gateway = spawn_gateway_configured(|config| {
        config.cache.enabled = false;
        config.limits.max_upstream_requests = 10_000;
    })
    .await;
    let faults = |faults: serde_json::Value| {
        gateway
            .sandbox
            .configure(json!({ "opentoclose": { "faults": faults } }))
    };
    let opentoclose = GlobalId::new(NodeType::Contact, SourceKind::OpenToClose, "1").encode();
    let query = format!(
        "{{ contact(id: \"{opentoclose}\") {{ displayName properties {{ role }} }} properties(first: 1) {{ nodes {{ title }} }} }}"
    );
    faults(json!([{ "kind": "http_500", "rate": 1.0 }])).await;
    let first = gateway.graphql(&query, json!({})).await;
    assert_eq!(first["data"], json!(null), "{first:#}");
    assert!(
        first["errors"][0]["extensions"]["code"].is_string(),
        "{first:#}"
    );
    for _ in 0..2 {
        let again = gateway.graphql(&query, json!({})).await;
        assert_eq!(again, first);
    }

    let query = "{ properties(first: 1) { nodes { title } } }";
    let refused = gateway.graphql(query, json!({})).await;
    faults(json!([])).await;
    let answered = gateway.graphql(query, json!({})).await;
    assert!(answered.get("errors").is_none(), "{answered:#}");
    assert!(answered["data"]["properties"]["nodes"][0]["title"].is_string());
    faults(json!([{ "kind": "http_500", "rate": 1.0 }])).await;
    let refused_again = gateway.graphql(query, json!({})).await;
    assert_eq!(refused_again, refused);
}
