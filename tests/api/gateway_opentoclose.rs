//! The Open To Close adapter through the gateway's GraphQL API, against the
//! sandbox: lookups, lists in every order and with every filter (checked
//! against what the sandbox itself holds), writes and their rules, upstream
//! failures, and that the key never shows in an error.

use std::collections::BTreeSet;
use std::net::{Ipv4Addr, SocketAddr};
use std::time::Duration;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use chrono::{DateTime, Utc};
use contact_gateway::domain::{
    Contact, ContactFilter, ContactOrder, Direction, Email, GlobalId, NodeType, OrderField, Phone,
    SourceKind,
};
use serde_json::{json, Value};

use crate::helpers::{
    spawn_cached_gateway, spawn_gateway, spawn_gateway_configured, spawn_gateway_with,
    spawn_sandbox, TestGateway,
};

const LIST: &str = r#"
query List($first: Int, $after: String, $order: ContactOrderInput, $filter: ContactFilterInput) {
  contacts(sources: [OPEN_TO_CLOSE], first: $first, after: $after, orderBy: $order, filter: $filter) {
    edges { cursor node { sourceId } }
    pageInfo { hasNextPage endCursor }
    totalCount
  }
}"#;

const CONTACT: &str = r#"
query One($id: ID!) {
  contact(id: $id) {
    id source sourceId firstName lastName displayName
    emails { address primary } phones { number e164 }
    address { street city region postalCode }
    organization title type createdAt updatedAt raw
  }
}"#;

const CREATE: &str = r#"
mutation Create($input: CreateContactInput!) {
  createContact(input: $input) {
    contact { id sourceId firstName lastName emails { address } phones { number } createdAt updatedAt }
  }
}"#;

const UPDATE: &str = r#"
mutation Update($input: UpdateContactInput!) {
  updateContact(input: $input) {
    contact { id sourceId firstName lastName emails { address } phones { number } updatedAt }
  }
}"#;

const DELETE: &str = r#"
mutation Delete($input: DeleteContactInput!) {
  deleteContact(input: $input) { deletedId }
}"#;

fn global_id(source_id: &str) -> String {
    GlobalId::new(NodeType::Contact, SourceKind::OpenToClose, source_id).encode()
}

fn token(gateway: &TestGateway) -> String {
    gateway.sandbox.credential("opentoclose", "api_token")
}

/// `GET` on the sandbox's Open To Close API with the key, as a client of the
/// upstream would send it.
async fn upstream_get(gateway: &TestGateway, path: &str, query: &[(&str, String)]) -> Value {
    let mut query: Vec<(&str, String)> = query.to_vec();
    query.push(("api_token", token(gateway)));
    gateway
        .sandbox
        .client
        .get(format!("{}{path}", gateway.sandbox.base("opentoclose")))
        .query(&query)
        .send()
        .await
        .expect("upstream request")
        .json()
        .await
        .expect("upstream body")
}

/// Every record the sandbox holds, matching `query`, in the sandbox's order.
async fn upstream_all(gateway: &TestGateway, query: &[(&str, String)]) -> Vec<Value> {
    let mut all = Vec::new();
    loop {
        let mut page_query = query.to_vec();
        page_query.push(("limit", "100".into()));
        page_query.push(("offset", all.len().to_string()));
        let page = upstream_get(gateway, "/contacts", &page_query).await;
        let records = page.as_array().expect("bare array").clone();
        if records.is_empty() {
            return all;
        }
        all.extend(records);
    }
}

fn ids_of(records: &[Value]) -> Vec<String> {
    records.iter().map(|r| r["id"].to_string()).collect()
}

/// A raw record as the gateway's model, built here from the wire fields so
/// that the expected answers do not come from the adapter under test.
fn as_domain(record: &Value) -> Contact {
    let text = |key: &str| {
        record[key]
            .as_str()
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(str::to_string)
    };
    let time = |key: &str| {
        record[key]
            .as_str()
            .map(|t| DateTime::parse_from_rfc3339(t).unwrap().with_timezone(&Utc))
    };
    let mut contact = Contact::new(
        SourceKind::OpenToClose,
        record["id"].to_string(),
        Value::Null,
    );
    contact.first_name = text("first_name");
    contact.last_name = text("last_name");
    if let Some(address) = text("email") {
        contact.emails.push(Email {
            address,
            label: None,
            primary: true,
        });
    }
    if let Some(number) = text("phone") {
        contact.phones.push(Phone::new(number, None));
    }
    contact.contact_type = text("contact_type");
    contact.address = text("city").map(|city| contact_gateway::domain::Address {
        city: Some(city),
        ..Default::default()
    });
    contact.created_at = time("created");
    contact.updated_at = time("updated");
    contact
}

/// The source ids the gateway should list for `filter` in `order`.
fn expected(records: &[Value], filter: &ContactFilter, order: ContactOrder) -> Vec<String> {
    let mut contacts: Vec<Contact> = records
        .iter()
        .map(as_domain)
        .filter(|c| filter.matches(c))
        .collect();
    contacts.sort_by(|a, b| order.compare(a, b));
    contacts.into_iter().map(|c| c.source_id).collect()
}

fn order_json(order: ContactOrder) -> Value {
    let field = match order.field {
        OrderField::Name => "NAME",
        OrderField::CreatedAt => "CREATED_AT",
        OrderField::UpdatedAt => "UPDATED_AT",
    };
    let direction = match order.direction {
        Direction::Asc => "ASC",
        Direction::Desc => "DESC",
    };
    json!({ "field": field, "direction": direction })
}

/// Walks the whole list page by page; returns the source ids in order.
async fn walk(
    gateway: &TestGateway,
    order: ContactOrder,
    filter: Value,
    first: usize,
) -> Vec<String> {
    let mut ids = Vec::new();
    let mut after: Option<String> = None;
    loop {
        let data = gateway
            .data(
                LIST,
                json!({ "first": first, "after": after, "order": order_json(order), "filter": filter }),
            )
            .await;
        let connection = &data["contacts"];
        let edges = connection["edges"].as_array().unwrap();
        assert!(edges.len() <= first);
        ids.extend(
            edges
                .iter()
                .map(|e| e["node"]["sourceId"].as_str().unwrap().to_string()),
        );
        if !connection["pageInfo"]["hasNextPage"].as_bool().unwrap() {
            return ids;
        }
        assert!(!edges.is_empty(), "a page before the end must have edges");
        after = connection["pageInfo"]["endCursor"]
            .as_str()
            .map(str::to_string);
    }
}

/// How many list requests the sandbox has seen so far.
async fn list_requests(gateway: &TestGateway) -> u64 {
    gateway
        .sandbox
        .route_count("opentoclose", "GET", "/v1/contacts")
        .await
}

async fn write_requests(gateway: &TestGateway) -> u64 {
    let sandbox = &gateway.sandbox;
    sandbox
        .route_count("opentoclose", "POST", "/v1/contacts")
        .await
        + sandbox
            .route_count("opentoclose", "PUT", "/v1/contacts/{id}")
            .await
        + sandbox
            .route_count("opentoclose", "DELETE", "/v1/contacts/{id}")
            .await
}

fn all_orders() -> Vec<ContactOrder> {
    let mut orders = Vec::new();
    for field in [
        OrderField::Name,
        OrderField::CreatedAt,
        OrderField::UpdatedAt,
    ] {
        for direction in [Direction::Asc, Direction::Desc] {
            orders.push(ContactOrder { field, direction });
        }
    }
    orders
}

/// The first error of a response, after checking that the key is nowhere in it.
fn first_error(body: &Value, token: &str) -> Value {
    assert!(
        !body.to_string().contains(token),
        "the key leaked into a response: {body}"
    );
    body["errors"][0].clone()
}

#[tokio::test]
async fn contact_maps_the_upstream_record() {
    let gateway = spawn_gateway().await;
    let record = upstream_get(&gateway, "/contacts/17", &[]).await;
    let data = gateway
        .data(CONTACT, json!({ "id": global_id("17") }))
        .await;
    let contact = &data["contact"];
    assert_eq!(contact["source"], "OPEN_TO_CLOSE");
    assert_eq!(contact["sourceId"], "17");
    assert_eq!(contact["firstName"].as_str(), record["first_name"].as_str());
    assert_eq!(contact["lastName"].as_str(), record["last_name"].as_str());
    assert_eq!(
        contact["emails"][0]["address"].as_str(),
        record["email"].as_str().map(str::trim)
    );
    assert_eq!(
        contact["phones"][0]["number"].as_str(),
        record["phone"].as_str()
    );
    assert_eq!(contact["type"].as_str(), record["contact_type"].as_str());
    assert_eq!(contact["organization"].as_str(), record["company"].as_str());
    assert_eq!(contact["title"].as_str(), record["title"].as_str());
    assert_eq!(contact["address"]["city"].as_str(), record["city"].as_str());
    assert_eq!(
        contact["address"]["region"].as_str(),
        record["state"].as_str()
    );
    assert_eq!(
        contact["address"]["postalCode"].as_str(),
        record["zip_code"].as_str()
    );
    let created: DateTime<Utc> = contact["createdAt"].as_str().unwrap().parse().unwrap();
    let upstream_created: DateTime<Utc> = record["created"].as_str().unwrap().parse().unwrap();
    assert_eq!(created, upstream_created);
    assert_eq!(contact["raw"], record);

    let data = gateway
        .data(CONTACT, json!({ "id": global_id("999999") }))
        .await;
    assert_eq!(data["contact"], Value::Null);
}

#[tokio::test]
async fn impossible_ids_are_null_without_a_request() {
    let gateway = spawn_gateway().await;
    for id in ["abc", "0", "007", "-3", "99999999999999999999999"] {
        let data = gateway.data(CONTACT, json!({ "id": global_id(id) })).await;
        assert_eq!(data["contact"], Value::Null, "{id}");
    }
    let stats = gateway.sandbox.stats().await;
    let sent: u64 = stats["by_route"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|row| row["source"] == "opentoclose")
        .map(|row| row["count"].as_u64().unwrap())
        .sum();
    assert_eq!(sent, 0);
}

#[tokio::test]
async fn nodes_fetch_each_id_once_in_order() {
    let gateway = spawn_gateway().await;
    let mut ids: Vec<String> = (1..=10).map(|n| global_id(&(n * 7).to_string())).collect();
    ids.insert(3, global_id("424242"));
    let query = "query($ids: [ID!]!) { nodes(ids: $ids) { ... on Contact { sourceId } } }";
    let data = gateway.data(query, json!({ "ids": ids })).await;
    let nodes = data["nodes"].as_array().unwrap();
    assert_eq!(nodes.len(), 11);
    assert_eq!(nodes[3], Value::Null);
    let found: Vec<&str> = nodes
        .iter()
        .filter_map(|n| n["sourceId"].as_str())
        .collect();
    let wanted: Vec<String> = (1..=10).map(|n| (n * 7).to_string()).collect();
    assert_eq!(found, wanted);
    // Open To Close has no multi-record fetch: one GET per id, sent concurrently.
    let gets = gateway
        .sandbox
        .route_count("opentoclose", "GET", "/v1/contacts/{id}")
        .await;
    println!("nodes of 11 Open To Close ids (one unknown): {gets} upstream GETs");
    assert_eq!(gets, 11);
}

#[tokio::test]
async fn a_first_page_by_creation_costs_one_request() {
    let gateway = spawn_gateway().await;
    let order = ContactOrder {
        field: OrderField::CreatedAt,
        direction: Direction::Asc,
    };
    let data = gateway
        .data(LIST, json!({ "first": 50, "order": order_json(order) }))
        .await;
    let ids: Vec<&str> = data["contacts"]["edges"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["node"]["sourceId"].as_str().unwrap())
        .collect();
    let requests = list_requests(&gateway).await;
    println!("contacts(first: 50, CREATED_AT): {requests} upstream list request(s)");
    assert_eq!(requests, 1);
    assert!(data["contacts"]["pageInfo"]["hasNextPage"]
        .as_bool()
        .unwrap());
    // Positions are upstream offsets, so no total is known.
    assert_eq!(data["contacts"]["totalCount"], Value::Null);
    let upstream = upstream_get(
        &gateway,
        "/contacts",
        &[("sort", "created".into()), ("limit", "50".into())],
    )
    .await;
    let upstream_ids = ids_of(upstream.as_array().unwrap());
    assert_eq!(ids, upstream_ids);
}

#[tokio::test]
async fn a_first_page_by_name_reads_every_record_once() {
    let gateway = spawn_gateway().await;
    let data = gateway.data(LIST, json!({ "first": 50 })).await;
    let requests = list_requests(&gateway).await;
    println!("contacts(first: 50, NAME): {requests} upstream list requests");
    // 600 seeded contacts: six full pages of 100, then the empty page that ends the list.
    assert_eq!(requests, 7);
    let all = upstream_all(&gateway, &[]).await;
    let wanted = expected(&all, &ContactFilter::default(), ContactOrder::default());
    let ids: Vec<String> = data["contacts"]["edges"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["node"]["sourceId"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(ids, wanted[..50]);
    assert_eq!(data["contacts"]["totalCount"], json!(all.len()));
}

/// Adds contacts that test the edges of every order: no last name (sorted by
/// first name), no name at all (sorted last), and several created within the
/// same second (ties broken by id).
async fn add_edge_case_contacts(gateway: &TestGateway) {
    for input in [
        json!({ "firstName": "Aaron" }),
        json!({ "email": "nameless@example.com" }),
        json!({ "firstName": "Zoe", "lastName": "Abbott" }),
        json!({ "firstName": "adam", "lastName": "abbott" }),
        json!({ "phone": "555-000-1111" }),
    ] {
        let mut input = input;
        input["source"] = json!("OPEN_TO_CLOSE");
        gateway.data(CREATE, json!({ "input": input })).await;
    }
}

#[tokio::test]
async fn every_order_walks_every_contact_once_in_order() {
    let gateway = spawn_cached_gateway().await;
    add_edge_case_contacts(&gateway).await;
    let all = upstream_all(&gateway, &[]).await;
    assert_eq!(all.len(), 605);
    for order in all_orders() {
        let wanted = expected(&all, &ContactFilter::default(), order);
        for first in [7, 50] {
            let ids = walk(&gateway, order, Value::Null, first).await;
            assert_eq!(ids, wanted, "{order:?}, pages of {first}");
        }
    }
}

#[tokio::test]
async fn every_order_walks_one_contact_at_a_time() {
    let gateway = spawn_cached_gateway().await;
    add_edge_case_contacts(&gateway).await;
    // A filter keeps single-contact pages affordable in the name order, where
    // every page reads the whole (upstream-filtered) list.
    let sample = upstream_get(&gateway, "/contacts/1", &[]).await;
    let contact_type = sample["contact_type"].as_str().unwrap().to_string();
    let filter = ContactFilter {
        contact_type: Some(contact_type.clone()),
        ..Default::default()
    };
    let all = upstream_all(&gateway, &[]).await;
    for order in all_orders() {
        let wanted = expected(&all, &filter, order);
        assert!(wanted.len() > 5, "{contact_type}: too few to walk");
        let ids = walk(&gateway, order, json!({ "type": contact_type }), 1).await;
        assert_eq!(ids, wanted, "{order:?}, pages of 1");
    }
    // The created contacts (no type) tie on the second they were created in.
    let every = ContactFilter::default();
    let by_creation = ContactOrder {
        field: OrderField::CreatedAt,
        direction: Direction::Desc,
    };
    let ids = walk(&gateway, by_creation, Value::Null, 1).await;
    assert_eq!(ids, expected(&all, &every, by_creation));
}

#[tokio::test]
async fn filters_match_the_gateway_semantics() {
    let gateway = spawn_gateway().await;
    add_edge_case_contacts(&gateway).await;
    let all = upstream_all(&gateway, &[]).await;
    let sample = all
        .iter()
        .find(|r| {
            r["email"]
                .as_str()
                .is_some_and(|e| e != e.trim().to_lowercase())
                && r["phone"].as_str().is_some_and(|p| p.starts_with("+1"))
        })
        .expect("a seeded contact with a capitalised or padded email")
        .clone();
    let last_name = sample["last_name"].as_str().unwrap().to_string();
    let first_name = sample["first_name"].as_str().unwrap().to_string();
    let email = sample["email"].as_str().unwrap().trim().to_uppercase();
    let phone_digits: String = sample["phone"]
        .as_str()
        .unwrap()
        .chars()
        .filter(char::is_ascii_digit)
        .collect();
    let national = &phone_digits[1..];
    let phone = format!(
        "({}) {}-{}",
        &national[..3],
        &national[3..6],
        &national[6..]
    );
    let contact_type = sample["contact_type"].as_str().unwrap().to_uppercase();
    let city = sample["city"].as_str().unwrap().to_lowercase();
    let created = |index: usize| {
        let mut times: Vec<String> = all
            .iter()
            .map(|r| r["created"].as_str().unwrap().to_string())
            .collect();
        times.sort();
        times[index].clone()
    };
    let cases: Vec<(Value, ContactFilter)> = vec![
        (
            json!({ "search": last_name.to_lowercase() }),
            ContactFilter {
                search: Some(last_name.to_lowercase()),
                ..Default::default()
            },
        ),
        (
            json!({ "search": format!("{first_name} {last_name}") }),
            ContactFilter {
                search: Some(format!("{first_name} {last_name}")),
                ..Default::default()
            },
        ),
        (
            json!({ "search": &national[3..] }),
            ContactFilter {
                search: Some(national[3..].to_string()),
                ..Default::default()
            },
        ),
        (
            json!({ "email": format!("  {email} ") }),
            ContactFilter {
                email: Some(email.clone()),
                ..Default::default()
            },
        ),
        (
            json!({ "phone": phone }),
            ContactFilter {
                phone: Some(phone.clone()),
                ..Default::default()
            },
        ),
        (
            json!({ "type": contact_type }),
            ContactFilter {
                contact_type: Some(contact_type.clone()),
                ..Default::default()
            },
        ),
        (
            json!({ "city": city }),
            ContactFilter {
                city: Some(city.clone()),
                ..Default::default()
            },
        ),
        (
            json!({ "createdAfter": created(100), "createdBefore": created(250) }),
            ContactFilter {
                created_after: Some(created(100).parse().unwrap()),
                created_before: Some(created(250).parse().unwrap()),
                ..Default::default()
            },
        ),
        (
            json!({ "type": contact_type, "city": city, "search": first_name }),
            ContactFilter {
                contact_type: Some(contact_type.clone()),
                city: Some(city.clone()),
                search: Some(first_name.clone()),
                ..Default::default()
            },
        ),
    ];
    for (filter_json, filter) in cases {
        for order in [
            ContactOrder::default(),
            ContactOrder {
                field: OrderField::CreatedAt,
                direction: Direction::Desc,
            },
        ] {
            let wanted = expected(&all, &filter, order);
            assert!(!wanted.is_empty(), "{filter_json}: nothing to find");
            let ids = walk(&gateway, order, filter_json.clone(), 50).await;
            assert_eq!(ids, wanted, "{filter_json} in {order:?}");
        }
    }

    // Where the sandbox's own matching coincides with the gateway's, the
    // answers are the same set.
    let by_type = upstream_all(&gateway, &[("contact_type", contact_type.clone())]).await;
    let listed: BTreeSet<String> = walk(
        &gateway,
        ContactOrder::default(),
        json!({ "type": contact_type }),
        100,
    )
    .await
    .into_iter()
    .collect();
    assert_eq!(listed, ids_of(&by_type).into_iter().collect());
    let by_name = upstream_all(&gateway, &[("search", last_name.clone())]).await;
    let listed: BTreeSet<String> = walk(
        &gateway,
        ContactOrder::default(),
        json!({ "search": last_name }),
        100,
    )
    .await
    .into_iter()
    .collect();
    assert_eq!(listed, ids_of(&by_name).into_iter().collect());
}

#[tokio::test]
async fn filters_the_upstream_cannot_apply_cost_what_they_must() {
    let gateway = spawn_gateway().await;
    // Open To Close has neither tags nor statuses.
    let data = gateway
        .data(LIST, json!({ "first": 10, "filter": { "tags": ["vip"] } }))
        .await;
    assert_eq!(data["contacts"]["edges"], json!([]));
    assert_eq!(data["contacts"]["totalCount"], json!(0));
    assert_eq!(list_requests(&gateway).await, 0);
    let data = gateway
        .data(
            LIST,
            json!({ "first": 10, "filter": { "status": "Active" } }),
        )
        .await;
    assert_eq!(data["contacts"]["edges"], json!([]));

    // In creation order a `createdBefore` bound ends the scan at the first
    // record past it, so 30 early contacts cost one request, not seven.
    let all = upstream_all(&gateway, &[]).await;
    let mut times: Vec<&str> = all.iter().map(|r| r["created"].as_str().unwrap()).collect();
    times.sort();
    let before = times[30];
    let counted_before = list_requests(&gateway).await;
    let order = ContactOrder {
        field: OrderField::CreatedAt,
        direction: Direction::Asc,
    };
    let ids = walk(&gateway, order, json!({ "createdBefore": before }), 50).await;
    assert_eq!(ids.len(), times.iter().filter(|t| **t < before).count());
    assert_eq!(list_requests(&gateway).await - counted_before, 1);
}

#[tokio::test]
async fn create_update_and_delete_round_trip() {
    let gateway = spawn_gateway().await;
    let data = gateway
        .data(
            CREATE,
            json!({ "input": {
                "source": "OPEN_TO_CLOSE", "firstName": " Jane ", "lastName": "Smith",
                "email": "jane.smith@example.com", "phone": "+15551234567"
            }}),
        )
        .await;
    let created = &data["createContact"]["contact"];
    let id = created["id"].as_str().unwrap().to_string();
    let source_id = created["sourceId"].as_str().unwrap().to_string();
    assert_eq!(created["firstName"], "Jane");
    assert_eq!(created["emails"][0]["address"], "jane.smith@example.com");
    let stored = upstream_get(&gateway, &format!("/contacts/{source_id}"), &[]).await;
    assert_eq!(stored["first_name"], "Jane");
    assert_eq!(stored["phone"], "+15551234567");

    let data = gateway
        .data(
            UPDATE,
            json!({ "input": { "id": id, "phone": "(555) 765-4321", "lastName": "" } }),
        )
        .await;
    let updated = &data["updateContact"]["contact"];
    assert_eq!(updated["firstName"], "Jane");
    assert_eq!(updated["lastName"], Value::Null);
    assert_eq!(updated["phones"][0]["number"], "(555) 765-4321");
    let read = gateway.data(CONTACT, json!({ "id": id })).await;
    assert_eq!(read["contact"]["phones"][0]["e164"], "+15557654321");
    assert_eq!(read["contact"]["lastName"], Value::Null);
    assert_eq!(read["contact"]["displayName"], "Jane");

    let data = gateway.data(DELETE, json!({ "input": { "id": id } })).await;
    assert_eq!(data["deleteContact"]["deletedId"], json!(id));
    let read = gateway.data(CONTACT, json!({ "id": id })).await;
    assert_eq!(read["contact"], Value::Null);

    let token = token(&gateway);
    for (query, input) in [
        (DELETE, json!({ "id": id })),
        (UPDATE, json!({ "id": id, "firstName": "Again" })),
    ] {
        let body = gateway.graphql(query, json!({ "input": input })).await;
        let error = first_error(&body, &token);
        assert_eq!(error["extensions"]["code"], "NOT_FOUND", "{body}");
        assert_eq!(error["extensions"]["source"], "opentoclose");
    }
}

#[tokio::test]
async fn write_rules_are_checked_before_any_request() {
    let gateway = spawn_gateway().await;
    let long = "x".repeat(256);
    let creates = [
        (
            json!({ "firstName": "Jane", "organization": "ABC Realty" }),
            "organization",
        ),
        (json!({ "firstName": "Jane", "type": "Buyer" }), "type"),
        (
            json!({ "firstName": "Jane", "displayName": "J" }),
            "displayName",
        ),
        (json!({ "firstName": "Jane", "tags": ["vip"] }), "tags"),
        (json!({ "firstName": "Jane", "notes": "n" }), "notes"),
        (
            json!({ "firstName": "Jane", "address": { "city": "Miami" } }),
            "address.city",
        ),
        (json!({ "firstName": "  ", "lastName": "" }), "firstName"),
        (json!({ "email": "not-an-email" }), "email"),
        (json!({ "lastName": long }), "lastName"),
    ];
    let token = token(&gateway);
    for (mut input, field) in creates {
        input["source"] = json!("OPEN_TO_CLOSE");
        let body = gateway.graphql(CREATE, json!({ "input": input })).await;
        let error = first_error(&body, &token);
        assert_eq!(error["extensions"]["code"], "BAD_USER_INPUT", "{body}");
        assert_eq!(error["extensions"]["field"], field, "{body}");
    }
    let updates = [
        (json!({ "status": "Active" }), "status"),
        (json!({ "title": "CEO" }), "title"),
        (
            json!({ "address": { "postalCode": "33101" } }),
            "address.postalCode",
        ),
        (json!({ "email": "jane@" }), "email"),
    ];
    for (mut input, field) in updates {
        input["id"] = json!(global_id("1"));
        let body = gateway.graphql(UPDATE, json!({ "input": input })).await;
        let error = first_error(&body, &token);
        assert_eq!(error["extensions"]["code"], "BAD_USER_INPUT", "{body}");
        assert_eq!(error["extensions"]["field"], field, "{body}");
    }
    assert_eq!(write_requests(&gateway).await, 0);
}

#[tokio::test]
async fn upstream_error_statuses_are_classified() {
    let gateway = spawn_gateway().await;
    let token = token(&gateway);
    gateway
        .sandbox
        .configure(json!({ "opentoclose": { "faults": [{ "kind": "http_500", "rate": 1.0 }] } }))
        .await;
    let body = gateway
        .graphql(CONTACT, json!({ "id": global_id("1") }))
        .await;
    let error = first_error(&body, &token);
    assert_eq!(error["extensions"]["code"], "UPSTREAM_ERROR", "{body}");
    assert_eq!(error["extensions"]["upstreamStatus"], 500);
    assert_eq!(body["data"]["contact"], Value::Null);

    // A failing source in a list is reported beside the (empty) data.
    let body = gateway.graphql(LIST, json!({ "first": 5 })).await;
    let error = first_error(&body, &token);
    assert_eq!(error["extensions"]["code"], "UPSTREAM_ERROR", "{body}");
    assert_eq!(body["data"]["contacts"]["edges"], json!([]));

    gateway
        .sandbox
        .configure(json!({ "opentoclose": { "faults": [
            { "kind": "http_429", "rate": 1.0, "retry_after_s": 4 }
        ] } }))
        .await;
    let body = gateway
        .graphql(
            CREATE,
            json!({ "input": { "source": "OPEN_TO_CLOSE", "firstName": "Jane" } }),
        )
        .await;
    let error = first_error(&body, &token);
    assert_eq!(
        error["extensions"]["code"], "UPSTREAM_UNAVAILABLE",
        "{body}"
    );
    assert_eq!(error["extensions"]["retryAfter"], 4);
}

#[tokio::test]
async fn malformed_bodies_are_upstream_errors() {
    let gateway = spawn_gateway().await;
    let token = token(&gateway);
    for fault in ["malformed_json", "html_error"] {
        gateway
            .sandbox
            .configure(json!({ "opentoclose": { "faults": [{ "kind": fault, "rate": 1.0 }] } }))
            .await;
        let body = gateway
            .graphql(CONTACT, json!({ "id": global_id("1") }))
            .await;
        let error = first_error(&body, &token);
        assert_eq!(
            error["extensions"]["code"], "UPSTREAM_ERROR",
            "{fault}: {body}"
        );
        for order in [OrderField::Name, OrderField::CreatedAt] {
            let order = ContactOrder {
                field: order,
                direction: Direction::Asc,
            };
            let body = gateway
                .graphql(LIST, json!({ "first": 5, "order": order_json(order) }))
                .await;
            let error = first_error(&body, &token);
            assert_eq!(
                error["extensions"]["code"], "UPSTREAM_ERROR",
                "{fault}: {body}"
            );
        }
    }
}

#[tokio::test]
async fn a_hung_upstream_times_out() {
    let gateway = spawn_gateway_configured(|config| {
        for source in &mut config.sources {
            if source.kind == SourceKind::OpenToClose {
                source.timeout = Duration::from_millis(300);
            }
        }
    })
    .await;
    let token = token(&gateway);
    gateway
        .sandbox
        .configure(json!({ "opentoclose": { "faults": [{ "kind": "hang", "rate": 1.0 }] } }))
        .await;
    let body = gateway
        .graphql(CONTACT, json!({ "id": global_id("1") }))
        .await;
    let error = first_error(&body, &token);
    assert_eq!(
        error["extensions"]["code"], "UPSTREAM_UNAVAILABLE",
        "{body}"
    );
    assert!(
        error["message"].as_str().unwrap().contains("300 ms"),
        "{body}"
    );
}

#[tokio::test]
async fn a_refused_key_is_unauthenticated_and_never_shown() {
    let sandbox = spawn_sandbox().await;
    let mut credentials = contact_gateway::sandbox::Credentials::default();
    let wrong_key = "wrong-key-7f3a9c";
    credentials.opentoclose.api_token = wrong_key.to_string();
    let config = contact_gateway::demo::gateway_config(
        &sandbox.url,
        &credentials,
        SocketAddr::from((Ipv4Addr::LOCALHOST, 0)),
    );
    let gateway = spawn_gateway_with(sandbox, config).await;
    let requests = [
        (CONTACT, json!({ "id": global_id("1") })),
        (LIST, json!({ "first": 5 })),
        (
            CREATE,
            json!({ "input": { "source": "OPEN_TO_CLOSE", "firstName": "Jane" } }),
        ),
        (DELETE, json!({ "input": { "id": global_id("1") } })),
    ];
    for (query, variables) in requests {
        let body = gateway.graphql(query, variables).await;
        let error = first_error(&body, wrong_key);
        assert_eq!(error["extensions"]["code"], "UNAUTHENTICATED", "{body}");
        assert_eq!(error["extensions"]["upstreamStatus"], 401);
    }
}

#[tokio::test]
async fn a_foreign_position_is_refused() {
    let gateway = spawn_gateway().await;
    let token = token(&gateway);
    for order in [OrderField::Name, OrderField::CreatedAt] {
        let order = ContactOrder {
            field: order,
            direction: Direction::Asc,
        };
        let data = gateway
            .data(LIST, json!({ "first": 2, "order": order_json(order) }))
            .await;
        let cursor = data["contacts"]["pageInfo"]["endCursor"].as_str().unwrap();
        let mut decoded: Value =
            serde_json::from_slice(&URL_SAFE_NO_PAD.decode(cursor).unwrap()).unwrap();
        decoded["positions"]["opentoclose"] = json!({ "At": "not-an-offset" });
        let forged = URL_SAFE_NO_PAD.encode(serde_json::to_vec(&decoded).unwrap());
        let before = list_requests(&gateway).await;
        let body = gateway
            .graphql(
                LIST,
                json!({ "first": 2, "after": forged, "order": order_json(order) }),
            )
            .await;
        let error = first_error(&body, &token);
        assert_eq!(error["extensions"]["code"], "BAD_USER_INPUT", "{body}");
        assert_eq!(error["extensions"]["field"], "after", "{body}");
        assert_eq!(list_requests(&gateway).await, before);
    }
}
