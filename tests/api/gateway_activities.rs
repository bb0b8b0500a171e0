//! Activities through the gateway: Winnerr activities (embedded in lists with
//! `include=activities`, or read per contact) and Django-CRM comments and
//! attachments (read from the contact detail, shared with contact lookups),
//! their paging and filters, `node` on activities, every activity mutation
//! with its errors, and a failing activities upstream beside healthy contact
//! data. Expected data and request counts come from the sandbox itself.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use contact_gateway::domain::{GlobalId, NodeType, SourceKind};
use serde_json::{json, Value};

use crate::helpers::{
    spawn_baseline_gateway, spawn_gateway, spawn_gateway_configured, TestGateway, TestSandbox,
};

const WINNERR_LIST: &str = "/v1/contacts";
const WINNERR_CONTACT: &str = "/v1/contacts/{id}";
const WINNERR_ACTIVITIES: &str = "/v1/contacts/{id}/activities";
const DJANGO_LIST: &str = "/api/contacts/";
const DJANGO_DETAIL: &str = "/api/contacts/{id}/";
const DJANGO_COMMENT: &str = "/api/contacts/comment/{id}/";
const DJANGO_ATTACHMENT: &str = "/api/contacts/attachment/{id}/";
const UNKNOWN_UUID: &str = "00000000-0000-4000-8000-000000000000";

fn contact_id(source: SourceKind, id: &str) -> String {
    GlobalId::new(NodeType::Contact, source, id).encode()
}

fn activity_id(source: SourceKind, contact: &str, activity: &str) -> String {
    GlobalId::new(NodeType::Activity, source, format!("{contact}/{activity}")).encode()
}

fn text(record: &Value, key: &str) -> String {
    record[key].as_str().unwrap_or_default().to_string()
}

fn instant(record: &Value, key: &str) -> Option<DateTime<Utc>> {
    record[key]
        .as_str()
        .and_then(|t| DateTime::parse_from_rfc3339(t).ok())
        .map(|t| t.with_timezone(&Utc))
}

/// Newest first by `key`, ties by id ascending: the gateway's activity order.
fn newest_first(records: &mut [Value], key: &str) {
    records.sort_by(|a, b| {
        instant(b, key)
            .cmp(&instant(a, key))
            .then_with(|| text(a, "id").cmp(&text(b, "id")))
    });
}

/// The gateway's type for a Winnerr activity type.
fn winnerr_type(upstream: &str) -> &'static str {
    match upstream {
        "EMAIL_SENT" | "EMAIL_RECEIVED" => "EMAIL",
        "PHONE_CALL" => "CALL",
        "MEETING" => "MEETING",
        "NOTE" => "NOTE",
        "SMS" => "SMS",
        _ => "OTHER",
    }
}

async fn winnerr_get(sandbox: &TestSandbox, path_and_query: &str) -> Value {
    sandbox
        .client
        .get(format!("{}{path_and_query}", sandbox.base("winnerr")))
        .bearer_auth(sandbox.credential("winnerr", "token"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap()
}

async fn django_get(sandbox: &TestSandbox, path_and_query: &str) -> Value {
    sandbox
        .client
        .get(format!("{}{path_and_query}", sandbox.base("djangocrm")))
        .bearer_auth(sandbox.credential("djangocrm", "token"))
        .header(
            "organization-id",
            sandbox.credential("djangocrm", "organization_id"),
        )
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap()
}

/// Winnerr's 50 newest contacts and each one's activities, newest first.
async fn winnerr_newest(sandbox: &TestSandbox, count: usize) -> Vec<(Value, Vec<Value>)> {
    let page = winnerr_get(
        sandbox,
        &format!("/contacts?limit={count}&sort=createdAt:desc"),
    )
    .await;
    let mut out = Vec::new();
    for contact in page["data"].as_array().unwrap() {
        let id = text(contact, "id");
        let mut activities = winnerr_get(sandbox, &format!("/contacts/{id}/activities")).await
            ["data"]
            .as_array()
            .unwrap()
            .clone();
        newest_first(&mut activities, "createdAt");
        out.push((contact.clone(), activities));
    }
    out
}

/// The contact with the most activities among `contacts`.
fn with_most_activities(contacts: &[(Value, Vec<Value>)]) -> (&Value, &Vec<Value>) {
    let (contact, activities) = contacts
        .iter()
        .max_by_key(|(_, activities)| activities.len())
        .expect("contacts to choose from");
    (contact, activities)
}

/// Django-CRM's `count` newest contacts (creation time descending, ties by
/// id ascending, as the gateway orders them) with their details.
async fn django_newest(sandbox: &TestSandbox, count: usize) -> Vec<Value> {
    let mut all: Vec<Value> = Vec::new();
    loop {
        let page = django_get(
            sandbox,
            &format!("/contacts/?limit=100&offset={}", all.len()),
        )
        .await;
        let results = page["results"].as_array().unwrap().clone();
        let done = results.len() < 100;
        all.extend(results);
        if done {
            break;
        }
    }
    all.sort_by(|a, b| {
        instant(b, "created_on")
            .cmp(&instant(a, "created_on"))
            .then_with(|| text(a, "id").cmp(&text(b, "id")))
    });
    let mut details = Vec::new();
    for contact in all.iter().take(count) {
        details.push(django_get(sandbox, &format!("/contacts/{}/", text(contact, "id"))).await);
    }
    details
}

fn comments_newest_first(detail: &Value) -> Vec<Value> {
    let mut comments = detail["comments"].as_array().unwrap().clone();
    newest_first(&mut comments, "commented_on");
    comments
}

async fn total_requests(gateway: &TestGateway) -> u64 {
    gateway.sandbox.stats().await["total"].as_u64().unwrap()
}

fn first_error(body: &Value) -> &Value {
    &body["errors"][0]["extensions"]
}

#[tokio::test]
async fn a_winnerr_page_with_activities_costs_one_request() {
    let gateway = spawn_gateway().await;
    let expected = winnerr_newest(&gateway.sandbox, 50).await;
    let query = "{ contacts(sources: [WINNERR], first: 50, orderBy: {field: CREATED_AT, direction: DESC}) {
        nodes { sourceId tags activities { totalCount nodes { sourceId type sourceType description } } } } }";
    gateway.sandbox.reset().await;
    let data = gateway.data(query, json!({})).await;
    // The page and every contact's activities come in one list request.
    assert_eq!(total_requests(&gateway).await, 1);
    assert_eq!(
        gateway
            .sandbox
            .route_count("winnerr", "GET", WINNERR_LIST)
            .await,
        1
    );
    let nodes = data["contacts"]["nodes"].as_array().unwrap();
    assert_eq!(nodes.len(), expected.len());
    let mut with_activities = 0;
    for (node, (contact, activities)) in nodes.iter().zip(&expected) {
        assert_eq!(node["sourceId"], contact["id"]);
        assert_eq!(node["tags"], contact["tags"]);
        let connection = &node["activities"];
        assert_eq!(connection["totalCount"], activities.len());
        let got: Vec<Value> = connection["nodes"].as_array().unwrap().clone();
        let wanted: Vec<Value> = activities
            .iter()
            .map(|a| {
                json!({"sourceId": a["id"], "type": winnerr_type(a["type"].as_str().unwrap()),
                       "sourceType": a["type"], "description": a["description"]})
            })
            .collect();
        assert_eq!(got, wanted);
        with_activities += usize::from(!activities.is_empty());
    }
    assert!(
        with_activities > 0,
        "the page holds no activities to compare"
    );

    // With loaders switched off (the baseline), nothing embedded is reused:
    // the list, then one activity request per contact.
    let baseline = spawn_baseline_gateway().await;
    let again = baseline.data(query, json!({})).await;
    assert_eq!(again, data);
    assert_eq!(
        baseline
            .sandbox
            .route_count("winnerr", "GET", WINNERR_LIST)
            .await,
        1
    );
    assert_eq!(
        baseline
            .sandbox
            .route_count("winnerr", "GET", WINNERR_ACTIVITIES)
            .await,
        expected.len() as u64
    );
}

#[tokio::test]
async fn a_winnerr_contact_read_by_id_brings_its_activities_in_the_same_request() {
    let gateway = spawn_gateway().await;
    let newest = winnerr_newest(&gateway.sandbox, 50).await;
    let (contact, activities) = with_most_activities(&newest);
    assert!(!activities.is_empty(), "no contact with activities");
    let id = contact_id(SourceKind::Winnerr, &text(contact, "id"));
    let wanted: Vec<Value> = activities
        .iter()
        .map(|a| json!({"sourceId": a["id"]}))
        .collect();

    for query in [
        "query($id: ID!) { contact(id: $id) { sourceId raw activities { totalCount nodes { sourceId } } } }",
        "query($id: ID!) { contact: node(id: $id) { ... on Contact { sourceId raw
            activities { totalCount nodes { sourceId } } } } }",
    ] {
        gateway.sandbox.reset().await;
        let data = gateway.data(query, json!({"id": id})).await;
        assert_eq!(total_requests(&gateway).await, 1, "{query}");
        assert_eq!(
            gateway.sandbox.route_count("winnerr", "GET", WINNERR_CONTACT).await,
            1
        );
        let found = &data["contact"];
        assert_eq!(found["sourceId"], contact["id"]);
        // The embedded list stays out of `raw`, which reads as without it.
        assert_eq!(found["raw"], *contact);
        assert_eq!(found["activities"]["totalCount"], activities.len());
        assert_eq!(found["activities"]["nodes"], json!(wanted));
    }

    // Several contacts by id: one detail each, nothing more.
    let ids: Vec<String> = newest
        .iter()
        .take(5)
        .map(|(c, _)| contact_id(SourceKind::Winnerr, &text(c, "id")))
        .collect();
    gateway.sandbox.reset().await;
    let data = gateway
        .data(
            "query($ids: [ID!]!) { nodes(ids: $ids) { ... on Contact { activities { totalCount } } } }",
            json!({"ids": ids}),
        )
        .await;
    assert_eq!(total_requests(&gateway).await, 5);
    for (node, (_, activities)) in data["nodes"].as_array().unwrap().iter().zip(&newest) {
        assert_eq!(node["activities"]["totalCount"], activities.len());
    }

    // Without `activities` in the selection the detail is read without the include.
    gateway.sandbox.reset().await;
    let data = gateway
        .data(
            "query($id: ID!) { contact(id: $id) { raw } }",
            json!({"id": id}),
        )
        .await;
    assert_eq!(data["contact"]["raw"], *contact);
    assert_eq!(total_requests(&gateway).await, 1);

    // With loaders switched off (the baseline): the detail, then the activities.
    let baseline = spawn_baseline_gateway().await;
    let data = baseline
        .data(
            "query($id: ID!) { contact(id: $id) { activities { totalCount } } }",
            json!({"id": id}),
        )
        .await;
    assert_eq!(
        data["contact"]["activities"]["totalCount"],
        activities.len()
    );
    assert_eq!(total_requests(&baseline).await, 2);
}

#[tokio::test]
async fn django_comments_cost_one_detail_per_contact() {
    let gateway = spawn_gateway().await;
    let details = django_newest(&gateway.sandbox, 50).await;
    let page = |activities: &str| {
        format!(
            "{{ contacts(sources: [DJANGO_CRM], first: 50, orderBy: {{field: CREATED_AT, direction: DESC}}) {{
                nodes {{ sourceId firstName {activities} }} }} }}"
        )
    };
    // The same page without activities tells how many list requests the page takes.
    gateway.sandbox.reset().await;
    gateway.data(&page(""), json!({})).await;
    let list_requests = gateway
        .sandbox
        .route_count("djangocrm", "GET", DJANGO_LIST)
        .await;
    assert!(list_requests >= 1);
    assert_eq!(total_requests(&gateway).await, list_requests);

    gateway.sandbox.reset().await;
    let data = gateway
        .data(
            &page(
                "activities(types: [NOTE]) { totalCount nodes { sourceId type sourceType description author contact { sourceId lastName } } }",
            ),
            json!({}),
        )
        .await;
    assert_eq!(
        gateway
            .sandbox
            .route_count("djangocrm", "GET", DJANGO_LIST)
            .await,
        list_requests
    );
    assert_eq!(
        gateway
            .sandbox
            .route_count("djangocrm", "GET", DJANGO_DETAIL)
            .await,
        50
    );
    assert_eq!(total_requests(&gateway).await, list_requests + 50);
    let nodes = data["contacts"]["nodes"].as_array().unwrap();
    assert_eq!(nodes.len(), 50);
    let mut comment_count = 0;
    for (node, detail) in nodes.iter().zip(&details) {
        let contact = &detail["contact_obj"];
        assert_eq!(node["sourceId"], contact["id"]);
        let comments = comments_newest_first(detail);
        comment_count += comments.len();
        let wanted: Vec<Value> = comments
            .iter()
            .map(|c| {
                json!({"sourceId": c["id"], "type": "NOTE", "sourceType": "comment",
                       "description": c["comment"], "author": c["commented_by"],
                       "contact": {"sourceId": contact["id"], "lastName": contact["last_name"]}})
            })
            .collect();
        assert_eq!(node["activities"]["nodes"], json!(wanted));
        assert_eq!(node["activities"]["totalCount"], comments.len());
    }
    assert!(comment_count > 0, "the page holds no comments to compare");
}

#[tokio::test]
async fn a_django_detail_is_read_once_for_the_contact_and_its_comments() {
    let gateway = spawn_gateway().await;
    let details = django_newest(&gateway.sandbox, 50).await;
    let ids: Vec<String> = details
        .iter()
        .map(|d| contact_id(SourceKind::DjangoCrm, &text(&d["contact_obj"], "id")))
        .collect();
    // The lookups of one resolver level are one batch of the contact loader:
    // every contact is read once, its detail serving the contact and its
    // comments and attachments alike.
    let query = "query($ids: [ID!]!, $one: ID!, $two: ID!) {
        nodes(ids: $ids) { ... on Contact { sourceId firstName lastName
            activities(types: [NOTE, ATTACHMENT]) { totalCount nodes { sourceId fileName } }
            notes: activities(types: [NOTE]) { totalCount } } }
        one: contact(id: $one) { activities { totalCount } }
        two: node(id: $two) { ... on Contact { activities { totalCount } } }
    }";
    gateway.sandbox.reset().await;
    let data = gateway
        .data(query, json!({"ids": ids, "one": ids[0], "two": ids[1]}))
        .await;
    assert_eq!(
        gateway
            .sandbox
            .route_count("djangocrm", "GET", DJANGO_DETAIL)
            .await,
        50
    );
    assert_eq!(total_requests(&gateway).await, 50);
    for (index, detail) in details.iter().enumerate() {
        let comments = detail["comments"].as_array().unwrap().len();
        let attachments = detail["attachments"].as_array().unwrap();
        let node = &data["nodes"][index];
        assert_eq!(node["sourceId"], detail["contact_obj"]["id"]);
        assert_eq!(
            node["activities"]["totalCount"],
            comments + attachments.len()
        );
        let mut file_names: Vec<Value> = node["activities"]["nodes"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|a| !a["fileName"].is_null())
            .map(|a| a["fileName"].clone())
            .collect();
        let mut wanted: Vec<Value> = attachments.iter().map(|a| a["file_name"].clone()).collect();
        file_names.sort_by_key(Value::to_string);
        wanted.sort_by_key(Value::to_string);
        assert_eq!(file_names, wanted);
        assert_eq!(node["notes"]["totalCount"], comments);
    }
    for (alias, index) in [("one", 0), ("two", 1)] {
        assert_eq!(
            data[alias]["activities"]["totalCount"],
            data["nodes"][index]["activities"]["totalCount"]
        );
    }
}

#[tokio::test]
async fn activities_page_filter_and_resolve_as_nodes() {
    let gateway = spawn_gateway().await;
    let newest = winnerr_newest(&gateway.sandbox, 50).await;
    let (contact, activities) = with_most_activities(&newest);
    assert!(activities.len() >= 3, "no contact with enough activities");
    let contact_source_id = text(contact, "id");
    let id = contact_id(SourceKind::Winnerr, &contact_source_id);

    // Walking two at a time yields every activity once, newest first.
    let walk = "query($id: ID!, $after: String) { contact(id: $id) {
        activities(first: 2, after: $after) { totalCount edges { cursor node { id sourceId } }
            pageInfo { hasNextPage hasPreviousPage endCursor } } } }";
    let mut seen = Vec::new();
    let mut after = Value::Null;
    loop {
        let data = gateway.data(walk, json!({"id": id, "after": after})).await;
        let connection = &data["contact"]["activities"];
        assert_eq!(connection["totalCount"], activities.len());
        assert_eq!(connection["pageInfo"]["hasPreviousPage"], !after.is_null());
        for edge in connection["edges"].as_array().unwrap() {
            seen.push(text(&edge["node"], "sourceId"));
        }
        if connection["pageInfo"]["hasNextPage"] == false {
            break;
        }
        after = connection["pageInfo"]["endCursor"].clone();
    }
    let wanted: Vec<String> = activities.iter().map(|a| text(a, "id")).collect();
    assert_eq!(seen, wanted);

    // A filter by type.
    let calls_and_emails: Vec<String> = activities
        .iter()
        .filter(|a| matches!(winnerr_type(a["type"].as_str().unwrap()), "CALL" | "EMAIL"))
        .map(|a| text(a, "id"))
        .collect();
    let data = gateway
        .data(
            "query($id: ID!) { contact(id: $id) { activities(types: [CALL, EMAIL], first: 100) {
                totalCount nodes { sourceId type } } } }",
            json!({"id": id}),
        )
        .await;
    let connection = &data["contact"]["activities"];
    assert_eq!(connection["totalCount"], calls_and_emails.len());
    let got: Vec<String> = connection["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| text(a, "sourceId"))
        .collect();
    assert_eq!(got, calls_and_emails);

    // `node` on an activity, and its contact: one activity request, one contact request.
    let first = &activities[0];
    gateway.sandbox.reset().await;
    let data = gateway
        .data(
            "query($id: ID!) { node(id: $id) { id ... on Activity { sourceId type sourceType description
                metadata occurredAt contact { sourceId firstName } } } }",
            json!({"id": activity_id(SourceKind::Winnerr, &contact_source_id, &text(first, "id"))}),
        )
        .await;
    let node = &data["node"];
    assert_eq!(node["sourceId"], first["id"]);
    assert_eq!(node["sourceType"], first["type"]);
    assert_eq!(node["description"], first["description"]);
    assert_eq!(node["metadata"], first["metadata"]);
    assert_eq!(instant(node, "occurredAt"), instant(first, "createdAt"));
    assert_eq!(node["contact"]["sourceId"], contact["id"]);
    assert_eq!(node["contact"]["firstName"], contact["firstName"]);
    assert_eq!(
        gateway
            .sandbox
            .route_count("winnerr", "GET", WINNERR_ACTIVITIES)
            .await,
        1
    );
    assert_eq!(
        gateway
            .sandbox
            .route_count("winnerr", "GET", WINNERR_CONTACT)
            .await,
        1
    );
    // An activity that does not exist is null.
    let data = gateway
        .data(
            "query($id: ID!) { node(id: $id) { id } }",
            json!({"id": activity_id(SourceKind::Winnerr, &contact_source_id, "activity_nosuch")}),
        )
        .await;
    assert!(data["node"].is_null());

    // A Django-CRM attachment as a node: the detail is read once for the
    // activity and its contact.
    let details = django_newest(&gateway.sandbox, 50).await;
    let detail = details
        .iter()
        .find(|d| !d["attachments"].as_array().unwrap().is_empty())
        .expect("a contact with an attachment");
    let attachment = &detail["attachments"][0];
    let django_contact = text(&detail["contact_obj"], "id");
    gateway.sandbox.reset().await;
    let data = gateway
        .data(
            "query($id: ID!) { node(id: $id) { ... on Activity { type fileName author
                contact { sourceId lastName } } } }",
            json!({"id": activity_id(SourceKind::DjangoCrm, &django_contact, &text(attachment, "id"))}),
        )
        .await;
    assert_eq!(
        data["node"],
        json!({"type": "ATTACHMENT", "fileName": attachment["file_name"],
               "author": attachment["created_by"],
               "contact": {"sourceId": django_contact, "lastName": detail["contact_obj"]["last_name"]}})
    );
    assert_eq!(total_requests(&gateway).await, 1);

    // Open To Close and Spark keep no activities: empty, without a request.
    // (Newest first both sources page natively, so both runs read the same.)
    let others =
        "query($activities: Boolean!) { contacts(sources: [OPEN_TO_CLOSE, SPARK], first: 5,
        orderBy: {field: CREATED_AT, direction: DESC}) {
        nodes { sourceId activities @include(if: $activities) { totalCount nodes { id } } } } }";
    gateway.sandbox.reset().await;
    gateway.data(others, json!({"activities": false})).await;
    let without = total_requests(&gateway).await;
    gateway.sandbox.reset().await;
    let data = gateway.data(others, json!({"activities": true})).await;
    assert_eq!(total_requests(&gateway).await, without);
    for node in data["contacts"]["nodes"].as_array().unwrap() {
        assert_eq!(node["activities"], json!({"totalCount": 0, "nodes": []}));
    }

    // Bad arguments.
    for (arguments, variables) in [
        ("(first: -1)", json!({"id": id})),
        ("(first: 100000)", json!({"id": id})),
        ("(types: [])", json!({"id": id})),
        ("(after: \"nonsense\")", json!({"id": id})),
    ] {
        let body = gateway
            .graphql(
                &format!("query($id: ID!) {{ contact(id: $id) {{ activities{arguments} {{ totalCount }} }} }}"),
                variables,
            )
            .await;
        assert_eq!(
            first_error(&body)["code"],
            "BAD_USER_INPUT",
            "{arguments}: {body}"
        );
    }
    let body = gateway
        .graphql(
            "query($id: ID!) { node(id: $id) { id } }",
            json!({"id": GlobalId::new(NodeType::Activity, SourceKind::Winnerr, "no-slash").encode()}),
        )
        .await;
    assert_eq!(first_error(&body)["code"], "BAD_USER_INPUT", "{body}");
}

const RECORD: &str = "mutation($input: RecordActivityInput!) { recordActivity(input: $input) {
    clientMutationId activity { id sourceId type sourceType description scheduledAt metadata author
        contact { sourceId } } } }";
const UPDATE_COMMENT: &str =
    "mutation($input: UpdateCommentInput!) { updateComment(input: $input) {
    clientMutationId activity { id sourceId type description author } } }";
const DELETE_COMMENT: &str =
    "mutation($input: DeleteCommentInput!) { deleteComment(input: $input) {
    clientMutationId deletedId } }";
const DELETE_ATTACHMENT: &str =
    "mutation($input: DeleteAttachmentInput!) { deleteAttachment(input: $input) {
    clientMutationId deletedId } }";
const ACTIVITY_IDS: &str =
    "query($id: ID!) { contact(id: $id) { activities(first: 100) { nodes { id description } } } }";

/// The activity global ids a contact has now, read in a request of its own.
async fn activity_ids(gateway: &TestGateway, contact: &str) -> HashMap<String, Value> {
    let data = gateway.data(ACTIVITY_IDS, json!({"id": contact})).await;
    data["contact"]["activities"]["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| (text(a, "id"), a["description"].clone()))
        .collect()
}

/// Asserts that a mutation fails with `code` (and `field`, when given) after
/// exactly `calls` upstream requests.
async fn assert_fails(
    gateway: &TestGateway,
    mutation: &str,
    input: Value,
    code: &str,
    field: Option<&str>,
    calls: u64,
) {
    let before = total_requests(gateway).await;
    let body = gateway.graphql(mutation, json!({"input": input})).await;
    assert_eq!(first_error(&body)["code"], code, "{input}: {body}");
    if let Some(field) = field {
        assert_eq!(first_error(&body)["field"], field, "{input}: {body}");
    }
    assert_eq!(total_requests(gateway).await - before, calls, "{input}");
}

#[tokio::test]
async fn winnerr_activities_are_recorded_and_refused_by_the_rules() {
    let gateway = spawn_gateway().await;
    let newest = winnerr_newest(&gateway.sandbox, 1).await;
    let source_id = text(&newest[0].0, "id");
    let id = contact_id(SourceKind::Winnerr, &source_id);

    let data = gateway
        .data(
            RECORD,
            json!({"input": {"contactId": id, "type": "MEETING", "description": "Showing at 123 Ocean Drive",
                "scheduledAt": "2030-01-20T14:00:00Z", "metadata": {"propertyId": "property_456"},
                "clientMutationId": "m1"}}),
        )
        .await;
    let payload = &data["recordActivity"];
    assert_eq!(payload["clientMutationId"], "m1");
    let activity = &payload["activity"];
    assert_eq!(activity["type"], "MEETING");
    assert_eq!(activity["sourceType"], "MEETING");
    assert_eq!(activity["metadata"], json!({"propertyId": "property_456"}));
    assert_eq!(
        instant(activity, "scheduledAt"),
        instant(&json!({"t": "2030-01-20T14:00:00Z"}), "t")
    );
    assert_eq!(activity["contact"]["sourceId"], source_id);
    // Read back: the new activity is listed, and upstream has it.
    let listed = activity_ids(&gateway, &id).await;
    assert_eq!(
        listed.get(activity["id"].as_str().unwrap()),
        Some(&json!("Showing at 123 Ocean Drive"))
    );
    let upstream = winnerr_get(
        &gateway.sandbox,
        &format!("/contacts/{source_id}/activities"),
    )
    .await;
    assert!(upstream["data"]
        .as_array()
        .unwrap()
        .iter()
        .any(|a| a["id"] == activity["sourceId"] && a["scheduledAt"] == "2030-01-20T14:00:00Z"));

    // Winnerr's own validation: a description over its limit, one request.
    assert_fails(
        &gateway,
        RECORD,
        json!({"contactId": id, "type": "NOTE", "description": "x".repeat(2001)}),
        "BAD_USER_INPUT",
        Some("description"),
        1,
    )
    .await;
    // Rules checked here, without a request.
    for (input, field) in [
        (
            json!({"contactId": id, "type": "TASK", "description": "d"}),
            "type",
        ),
        (
            json!({"contactId": id, "type": "CALL", "description": "d", "occurredAt": "2024-01-01T00:00:00Z"}),
            "occurredAt",
        ),
        (
            json!({"contactId": id, "type": "CALL", "description": "d", "metadata": [1]}),
            "metadata",
        ),
        (
            json!({"contactId": id, "type": "CALL", "description": "  "}),
            "description",
        ),
    ] {
        assert_fails(&gateway, RECORD, input, "BAD_USER_INPUT", Some(field), 0).await;
    }
    // An unknown contact.
    assert_fails(
        &gateway,
        RECORD,
        json!({"contactId": contact_id(SourceKind::Winnerr, "contact_00000000-0000-4000-8000-000000000000"),
               "type": "NOTE", "description": "d"}),
        "NOT_FOUND",
        None,
        1,
    )
    .await;
    // Sources without activities, and ids that are not contact ids.
    for source in [SourceKind::OpenToClose, SourceKind::Spark] {
        assert_fails(
            &gateway,
            RECORD,
            json!({"contactId": contact_id(source, "1"), "type": "NOTE", "description": "d"}),
            "UNSUPPORTED_BY_SOURCE",
            None,
            0,
        )
        .await;
    }
    for bad in [
        "nonsense".to_string(),
        activity_id(SourceKind::Winnerr, &source_id, "activity_1"),
    ] {
        assert_fails(
            &gateway,
            RECORD,
            json!({"contactId": bad, "type": "NOTE", "description": "d"}),
            "BAD_USER_INPUT",
            None,
            0,
        )
        .await;
    }
    // Winnerr activities are not comments.
    let winnerr_activity = activity["id"].as_str().unwrap();
    assert_fails(
        &gateway,
        UPDATE_COMMENT,
        json!({"id": winnerr_activity, "comment": "x"}),
        "UNSUPPORTED_BY_SOURCE",
        None,
        0,
    )
    .await;
    for mutation in [DELETE_COMMENT, DELETE_ATTACHMENT] {
        assert_fails(
            &gateway,
            mutation,
            json!({"id": winnerr_activity}),
            "UNSUPPORTED_BY_SOURCE",
            None,
            0,
        )
        .await;
    }
}

/// Adds an attachment as the demo user, straight at the emulator, and
/// returns its id.
pub(crate) async fn upload_attachment(sandbox: &TestSandbox, contact: &str) -> String {
    let body =
        "--XyZ\r\nContent-Disposition: form-data; name=\"attachment\"; filename=\"offer.pdf\"\r\n\
                Content-Type: application/pdf\r\n\r\n%PDF-1.4\r\n--XyZ--\r\n";
    let answer: Value = sandbox
        .client
        .post(format!("{}/contacts/{contact}/", sandbox.base("djangocrm")))
        .bearer_auth(sandbox.credential("djangocrm", "token"))
        .header(
            "organization-id",
            sandbox.credential("djangocrm", "organization_id"),
        )
        .header("content-type", "multipart/form-data; boundary=XyZ")
        .body(body)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    text(&answer["attachments"][0], "id")
}

#[tokio::test]
async fn django_comments_are_written_by_their_author_only() {
    let gateway = spawn_gateway().await;
    let details = django_newest(&gateway.sandbox, 50).await;
    let contact = text(&details[0]["contact_obj"], "id");
    let id = contact_id(SourceKind::DjangoCrm, &contact);

    // A new note is a comment by the gateway's user.
    let data = gateway
        .data(
            RECORD,
            json!({"input": {"contactId": id, "type": "NOTE", "description": "Called about the offer",
                "clientMutationId": "c1"}}),
        )
        .await;
    let comment = data["recordActivity"]["activity"].clone();
    assert_eq!(data["recordActivity"]["clientMutationId"], "c1");
    assert_eq!(comment["type"], "NOTE");
    assert_eq!(comment["sourceType"], "comment");
    assert_eq!(comment["description"], "Called about the offer");
    assert_eq!(comment["contact"]["sourceId"], contact);
    let me = text(&comment, "author");
    assert!(!me.is_empty());
    let comment_id = text(&comment, "id");
    assert!(activity_ids(&gateway, &id).await.contains_key(&comment_id));

    // Only notes, with nothing but their text.
    for (input, field) in [
        (
            json!({"contactId": id, "type": "CALL", "description": "d"}),
            "type",
        ),
        (
            json!({"contactId": id, "type": "NOTE", "description": "d", "scheduledAt": "2030-01-01T00:00:00Z"}),
            "scheduledAt",
        ),
        (
            json!({"contactId": id, "type": "NOTE", "description": "d", "metadata": {}}),
            "metadata",
        ),
    ] {
        assert_fails(&gateway, RECORD, input, "BAD_USER_INPUT", Some(field), 0).await;
    }
    assert_fails(
        &gateway,
        RECORD,
        json!({"contactId": contact_id(SourceKind::DjangoCrm, UNKNOWN_UUID), "type": "NOTE", "description": "d"}),
        "NOT_FOUND",
        None,
        1,
    )
    .await;

    // The author edits the comment; it reads back changed.
    let data = gateway
        .data(
            UPDATE_COMMENT,
            json!({"input": {"id": comment_id, "comment": "Offer accepted", "clientMutationId": "c2"}}),
        )
        .await;
    assert_eq!(
        data["updateComment"],
        json!({"clientMutationId": "c2", "activity": {"id": comment_id, "sourceId": comment["sourceId"],
               "type": "NOTE", "description": "Offer accepted", "author": me}})
    );
    assert_eq!(
        activity_ids(&gateway, &id).await.get(&comment_id),
        Some(&json!("Offer accepted"))
    );
    assert_fails(
        &gateway,
        UPDATE_COMMENT,
        json!({"id": comment_id, "comment": " "}),
        "BAD_USER_INPUT",
        Some("comment"),
        0,
    )
    .await;

    // Someone else's comment and attachment: refused for this user, which is
    // not a credential failure.
    let (other_contact, others_comment) = details
        .iter()
        .find_map(|d| {
            d["comments"]
                .as_array()
                .unwrap()
                .iter()
                .find(|c| text(c, "commented_by") != me)
                .map(|c| (text(&d["contact_obj"], "id"), text(c, "id")))
        })
        .expect("a comment by another user");
    let others_comment = activity_id(SourceKind::DjangoCrm, &other_contact, &others_comment);
    for (mutation, input) in [
        (
            UPDATE_COMMENT,
            json!({"id": others_comment, "comment": "mine now"}),
        ),
        (DELETE_COMMENT, json!({"id": others_comment})),
    ] {
        assert_fails(&gateway, mutation, input, "FORBIDDEN", None, 1).await;
    }
    let (attachment_contact, others_attachment) = details
        .iter()
        .find_map(|d| {
            d["attachments"]
                .as_array()
                .unwrap()
                .iter()
                .find(|a| text(a, "created_by") != me)
                .map(|a| (text(&d["contact_obj"], "id"), text(a, "id")))
        })
        .expect("an attachment by another user");
    assert_fails(
        &gateway,
        DELETE_ATTACHMENT,
        json!({"id": activity_id(SourceKind::DjangoCrm, &attachment_contact, &others_attachment)}),
        "FORBIDDEN",
        None,
        1,
    )
    .await;

    // Unknown and malformed ids.
    let unknown = activity_id(SourceKind::DjangoCrm, &contact, UNKNOWN_UUID);
    for (mutation, input) in [
        (UPDATE_COMMENT, json!({"id": unknown, "comment": "x"})),
        (DELETE_COMMENT, json!({"id": unknown})),
        (DELETE_ATTACHMENT, json!({"id": unknown})),
    ] {
        assert_fails(&gateway, mutation, input, "NOT_FOUND", None, 1).await;
    }
    let not_a_uuid = activity_id(SourceKind::DjangoCrm, &contact, "42");
    assert_fails(
        &gateway,
        DELETE_COMMENT,
        json!({"id": not_a_uuid}),
        "NOT_FOUND",
        None,
        0,
    )
    .await;
    for bad in [
        "nonsense".to_string(),
        id.clone(),
        GlobalId::new(NodeType::Activity, SourceKind::DjangoCrm, "no-slash").encode(),
    ] {
        assert_fails(
            &gateway,
            UPDATE_COMMENT,
            json!({"id": bad, "comment": "x"}),
            "BAD_USER_INPUT",
            None,
            0,
        )
        .await;
        assert_fails(
            &gateway,
            DELETE_ATTACHMENT,
            json!({"id": bad}),
            "BAD_USER_INPUT",
            None,
            0,
        )
        .await;
    }
    for source in [SourceKind::OpenToClose, SourceKind::Spark] {
        assert_fails(
            &gateway,
            DELETE_COMMENT,
            json!({"id": activity_id(source, "1", "2")}),
            "UNSUPPORTED_BY_SOURCE",
            None,
            0,
        )
        .await;
    }

    // The author deletes the comment; it is gone.
    let data = gateway
        .data(
            DELETE_COMMENT,
            json!({"input": {"id": comment_id, "clientMutationId": "c3"}}),
        )
        .await;
    assert_eq!(
        data["deleteComment"],
        json!({"clientMutationId": "c3", "deletedId": comment_id})
    );
    assert!(!activity_ids(&gateway, &id).await.contains_key(&comment_id));
    assert_fails(
        &gateway,
        DELETE_COMMENT,
        json!({"id": comment_id}),
        "NOT_FOUND",
        None,
        1,
    )
    .await;

    // An attachment of the gateway's user is deleted.
    let attachment = upload_attachment(&gateway.sandbox, &contact).await;
    let attachment = activity_id(SourceKind::DjangoCrm, &contact, &attachment);
    assert!(activity_ids(&gateway, &id).await.contains_key(&attachment));
    let data = gateway
        .data(DELETE_ATTACHMENT, json!({"input": {"id": attachment}}))
        .await;
    assert_eq!(
        data["deleteAttachment"],
        json!({"clientMutationId": null, "deletedId": attachment})
    );
    assert!(!activity_ids(&gateway, &id).await.contains_key(&attachment));
    // Someone else's, the unknown one and this one: one request each.
    assert_eq!(
        gateway
            .sandbox
            .route_count("djangocrm", "DELETE", DJANGO_ATTACHMENT)
            .await,
        3
    );
    assert!(
        gateway
            .sandbox
            .route_count("djangocrm", "PUT", DJANGO_COMMENT)
            .await
            >= 1
    );
}

/// A Winnerr stand-in whose contacts answer and whose activities fail.
async fn spawn_failing_activities_stub() -> String {
    use axum::extract::Path;
    use axum::http::StatusCode;
    use axum::routing::get;
    let contact = |Path(id): Path<String>| async move {
        axum::Json(
            json!({"success": true, "data": {"id": id, "firstName": "Ann", "lastName": "Lee",
            "email": "ann@example.com", "createdAt": "2024-01-15T10:30:00Z"}}),
        )
    };
    let activities = || async {
        (
            StatusCode::SERVICE_UNAVAILABLE,
            axum::Json(
                json!({"success": false, "error": {"type": "service_unavailable",
                "title": "Service Unavailable", "status": 503, "detail": "Try again later"}}),
            ),
        )
    };
    let router = axum::Router::new()
        .route("/v1/contacts/{id}", get(contact))
        .route("/v1/contacts/{id}/activities", get(activities));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, router).await });
    format!("http://{address}/v1")
}

#[tokio::test]
async fn a_failing_activities_upstream_leaves_the_contact_data() {
    let stub = spawn_failing_activities_stub().await;
    let gateway = spawn_gateway_configured(|config| {
        for source in &mut config.sources {
            if source.kind == SourceKind::Winnerr {
                source.base_url = stub;
                break;
            }
        }
    })
    .await;
    let id = contact_id(
        SourceKind::Winnerr,
        "contact_123e4567-e89b-12d3-a456-426614174000",
    );
    let body = gateway
        .graphql(
            "query($id: ID!) { contact(id: $id) { firstName lastName activities { totalCount } } }",
            json!({"id": id}),
        )
        .await;
    assert_eq!(
        body["data"]["contact"],
        json!({"firstName": "Ann", "lastName": "Lee", "activities": null}),
        "{body}"
    );
    let errors = body["errors"].as_array().unwrap();
    assert_eq!(errors.len(), 1, "{body}");
    assert_eq!(errors[0]["path"], json!(["contact", "activities"]));
    assert_eq!(errors[0]["extensions"]["code"], "UPSTREAM_UNAVAILABLE");
    assert_eq!(errors[0]["extensions"]["source"], "winnerr");
    assert_eq!(errors[0]["extensions"]["upstreamStatus"], 503);

    // Through the sandbox: a Django-CRM detail failing on every request
    // leaves a healthy source's contacts and their activities in place.
    gateway
        .sandbox
        .configure(json!({"djangocrm": {"faults": [{"kind": "http_500", "rate": 1.0}]}}))
        .await;
    let body = gateway
        .graphql(
            "{ contacts(sources: [DJANGO_CRM, SPARK], first: 3) { nodes { sourceId activities { totalCount } } } }",
            json!({}),
        )
        .await;
    assert_eq!(first_error(&body)["code"], "UPSTREAM_ERROR", "{body}");
    assert_eq!(first_error(&body)["source"], "djangocrm");
    for node in body["data"]["contacts"]["nodes"].as_array().unwrap() {
        assert_eq!(node["activities"]["totalCount"], 0);
    }
}
