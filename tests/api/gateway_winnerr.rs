//! The gateway over the Winnerr emulator, through GraphQL over HTTP: lookups
//! by id, lists in every order and with every filter (checked against what
//! the emulator itself answers), writes with their rules, and upstream
//! failures (error status, timeout, malformed body) without leaking the token.

use std::collections::HashSet;
use std::net::{Ipv4Addr, SocketAddr};
use std::time::Duration;

use chrono::{DateTime, Utc};
use contact_gateway::domain::{GlobalId, NodeType, SourceKind};
use serde_json::{json, Value};

use crate::helpers::{
    spawn_cached_gateway, spawn_gateway, spawn_gateway_with, spawn_sandbox, TestGateway,
    TestSandbox,
};

const LIST: &str = "GET /v1/contacts";
const DETAIL: &str = "GET /v1/contacts/{id}";

fn global_id(source_id: &str) -> String {
    GlobalId::new(
        NodeType::Contact,
        SourceKind::Winnerr,
        source_id.to_string(),
    )
    .encode()
}

/// How many requests a route of the Winnerr emulator has received.
async fn count(sandbox: &TestSandbox, route: &str) -> u64 {
    let (method, route) = route.split_once(' ').expect("METHOD /route");
    sandbox.route_count("winnerr", method, route).await
}

/// Every record the emulator lists for `params`, read directly with the token.
async fn upstream_records(sandbox: &TestSandbox, params: &[(&str, &str)]) -> (Vec<Value>, u64) {
    let token = sandbox.credential("winnerr", "token");
    let mut records = Vec::new();
    let mut cursor: Option<String> = None;
    let mut total = 0;
    loop {
        let mut query: Vec<(&str, &str)> = vec![("limit", "100")];
        query.extend_from_slice(params);
        if let Some(cursor) = &cursor {
            query.push(("cursor", cursor));
        }
        let body: Value = sandbox
            .client
            .get(format!("{}/contacts", sandbox.base("winnerr")))
            .bearer_auth(&token)
            .query(&query)
            .send()
            .await
            .expect("list request")
            .json()
            .await
            .expect("list body");
        assert_eq!(body["success"], true, "{body}");
        total = body["pagination"]["total"].as_u64().unwrap_or(total);
        records.extend(body["data"].as_array().expect("data").iter().cloned());
        match body["pagination"]["nextCursor"].as_str() {
            Some(next) => cursor = Some(next.to_string()),
            None => return (records, total),
        }
    }
}

async fn all_records(sandbox: &TestSandbox) -> Vec<Value> {
    upstream_records(sandbox, &[]).await.0
}

fn ids(records: &[Value]) -> Vec<String> {
    records
        .iter()
        .map(|r| r["id"].as_str().expect("id").to_string())
        .collect()
}

/// The gateway's ordering, written out independently of the adapter: the
/// key (trimmed, lower-cased names; instants), then the id ascending.
fn sorted_ids(records: &[Value], field: &str, direction: &str) -> Vec<String> {
    #[derive(PartialEq, Eq, PartialOrd, Ord)]
    enum Key {
        Name(String, String),
        Time(DateTime<Utc>),
    }
    let key = |record: &Value| -> Key {
        let text = |name: &str| record[name].as_str().unwrap_or("").trim().to_lowercase();
        let time = |name: &str| {
            DateTime::parse_from_rfc3339(record[name].as_str().expect("timestamp"))
                .expect("rfc3339")
                .with_timezone(&Utc)
        };
        match field {
            "NAME" => {
                assert!(!text("lastName").is_empty(), "Winnerr names are required");
                Key::Name(text("lastName"), text("firstName"))
            }
            "CREATED_AT" => Key::Time(time("createdAt")),
            _ => Key::Time(time("updatedAt")),
        }
    };
    let mut rows: Vec<(Key, String)> = records
        .iter()
        .map(|r| (key(r), r["id"].as_str().expect("id").to_string()))
        .collect();
    rows.sort_by(|(key_a, id_a), (key_b, id_b)| {
        let by_key = if direction == "DESC" {
            key_b.cmp(key_a)
        } else {
            key_a.cmp(key_b)
        };
        by_key.then_with(|| id_a.cmp(id_b))
    });
    rows.into_iter().map(|(_, id)| id).collect()
}

const PAGE: &str = r#"query($first: Int!, $after: String, $order: ContactOrderInput, $filter: ContactFilterInput) {
  contacts(sources: [WINNERR], first: $first, after: $after, orderBy: $order, filter: $filter) {
    totalCount
    pageInfo { hasNextPage endCursor }
    edges { node { sourceId } }
  }
}"#;

/// Walks a list to its end; returns the source ids and the first page's total.
async fn walk(
    gateway: &TestGateway,
    order: Value,
    filter: Value,
    first: usize,
) -> (Vec<String>, Option<u64>) {
    let mut seen = Vec::new();
    let mut after: Option<String> = None;
    let mut total = None;
    loop {
        let data = gateway
            .data(
                PAGE,
                json!({"first": first, "after": after, "order": order, "filter": filter}),
            )
            .await;
        let connection = &data["contacts"];
        if after.is_none() {
            total = connection["totalCount"].as_u64();
        }
        let edges = connection["edges"].as_array().expect("edges");
        assert!(edges.len() <= first);
        seen.extend(
            edges
                .iter()
                .map(|e| e["node"]["sourceId"].as_str().expect("id").to_string()),
        );
        if connection["pageInfo"]["hasNextPage"] != true {
            return (seen, total);
        }
        assert!(!edges.is_empty(), "a page with a next page has edges");
        after = connection["pageInfo"]["endCursor"]
            .as_str()
            .map(str::to_string);
    }
}

#[tokio::test]
async fn contact_by_id_maps_every_field() {
    let gateway = spawn_gateway().await;
    let records = all_records(&gateway.sandbox).await;
    let record = records
        .iter()
        .find(|r| {
            r["address"].is_object() && r["secondaryPhone"].is_string() && r["notes"].is_string()
        })
        .expect("a fully filled record")
        .clone();
    let id = record["id"].as_str().unwrap();
    let data = gateway
        .data(
            r#"query($id: ID!) { contact(id: $id) {
                id source sourceId firstName lastName displayName
                emails { address label primary } phones { number e164 label }
                address { street city region postalCode country }
                organization title type status tags leadScore notes assignedTo
                createdAt updatedAt raw } }"#,
            json!({"id": global_id(id)}),
        )
        .await;
    let contact = &data["contact"];
    assert_eq!(contact["id"], global_id(id));
    assert_eq!(contact["source"], "WINNERR");
    assert_eq!(contact["sourceId"], id);
    assert_eq!(
        contact["firstName"],
        record["firstName"].as_str().unwrap().trim()
    );
    assert_eq!(
        contact["lastName"],
        record["lastName"].as_str().unwrap().trim()
    );
    assert_eq!(
        contact["emails"],
        json!([{"address": record["email"].as_str().unwrap().trim(), "label": null, "primary": true}])
    );
    assert_eq!(contact["phones"][0]["number"], record["phone"]);
    assert_eq!(contact["phones"][0]["label"], Value::Null);
    assert_eq!(contact["phones"][1]["number"], record["secondaryPhone"]);
    assert_eq!(contact["phones"][1]["label"], "secondary");
    assert_eq!(contact["address"]["city"], record["address"]["city"]);
    assert_eq!(contact["address"]["region"], record["address"]["state"]);
    assert_eq!(
        contact["address"]["postalCode"],
        record["address"]["zipCode"]
    );
    assert_eq!(contact["organization"], Value::Null);
    assert_eq!(contact["title"], Value::Null);
    assert_eq!(contact["type"], record["type"]);
    assert_eq!(contact["status"], record["status"]);
    assert_eq!(contact["tags"], record["tags"]);
    assert_eq!(contact["leadScore"], record["leadScore"]);
    assert_eq!(contact["notes"], record["notes"]);
    assert_eq!(contact["assignedTo"], record["assignedTo"]);
    let created = DateTime::parse_from_rfc3339(contact["createdAt"].as_str().unwrap()).unwrap();
    let upstream_created =
        DateTime::parse_from_rfc3339(record["createdAt"].as_str().unwrap()).unwrap();
    assert_eq!(created, upstream_created);
    // `source`, `preferences` and `lastContactedAt` stay in raw, exactly as sent.
    assert_eq!(contact["raw"], record);
}

#[tokio::test]
async fn nodes_fetch_concurrently_and_skip_impossible_ids() {
    let gateway = spawn_gateway().await;
    let records = all_records(&gateway.sandbox).await;
    let known = ids(&records[..3]);
    let unknown = "contact_00000000-0000-4000-8000-000000000000";
    let impossible = "contact_123";
    let mut wanted: Vec<String> = known.iter().map(|id| global_id(id)).collect();
    wanted.insert(1, global_id(unknown));
    wanted.push(global_id(impossible));
    let before = count(&gateway.sandbox, DETAIL).await;
    let lists_before = count(&gateway.sandbox, LIST).await;
    let data = gateway
        .data(
            r#"query($ids: [ID!]!) { nodes(ids: $ids) { ... on Contact { sourceId } } }"#,
            json!({"ids": wanted}),
        )
        .await;
    assert_eq!(
        data["nodes"],
        json!([{"sourceId": known[0]}, null, {"sourceId": known[1]}, {"sourceId": known[2]}, null])
    );
    // No multi-record fetch exists: one GET per possible id, none for `contact_123`.
    assert_eq!(count(&gateway.sandbox, DETAIL).await - before, 4);
    assert_eq!(count(&gateway.sandbox, LIST).await, lists_before);
}

#[tokio::test]
async fn a_first_page_costs_one_upstream_request() {
    let gateway = spawn_gateway().await;
    let data = gateway.data(PAGE, json!({"first": 50})).await;
    let connection = &data["contacts"];
    assert_eq!(connection["edges"].as_array().unwrap().len(), 50);
    assert_eq!(connection["totalCount"], 600);
    assert_eq!(connection["pageInfo"]["hasNextPage"], true);
    assert_eq!(count(&gateway.sandbox, LIST).await, 1);

    // Walking all 600 by 50 stays close to one request per page: pages that
    // cross an upstream page boundary need a second one.
    let gateway = spawn_gateway().await;
    let (seen, total) = walk(&gateway, Value::Null, Value::Null, 50).await;
    assert_eq!((seen.len(), total), (600, Some(600)));
    let requests = count(&gateway.sandbox, LIST).await;
    println!("walking 600 contacts by 50 took {requests} upstream requests");
    assert!(requests <= 18, "{requests}");
}

/// Walks one order with one page size and checks the result against
/// `expected`: every contact once, in the gateway's order.
async fn check_walk(
    gateway: &TestGateway,
    (field, direction): (&str, &str),
    filter: Value,
    first: usize,
    expected: &[String],
) {
    let order = json!({"field": field, "direction": direction});
    let (seen, total) = walk(gateway, order, filter, first).await;
    assert_eq!(total, Some(expected.len() as u64));
    assert_eq!(
        seen.iter().collect::<HashSet<_>>().len(),
        seen.len(),
        "{field} {direction} first={first}: repeated contacts"
    );
    assert!(
        seen == expected,
        "{field} {direction} first={first}: order differs"
    );
}

const ORDERS: [(&str, &str); 6] = [
    ("NAME", "ASC"),
    ("NAME", "DESC"),
    ("CREATED_AT", "ASC"),
    ("CREATED_AT", "DESC"),
    ("UPDATED_AT", "ASC"),
    ("UPDATED_AT", "DESC"),
];

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_order_walks_every_contact_once_in_order() {
    let gateway = spawn_cached_gateway().await;
    let records = all_records(&gateway.sandbox).await;
    assert_eq!(records.len(), 600);
    // Pages of 1 walk a pushed-down subset (about a fifth of the contacts),
    // which keeps the test quick against the debug-built emulator; pages of 7
    // and 50 walk everything.
    let (inactive, _) = upstream_records(&gateway.sandbox, &[("status", "INACTIVE")]).await;
    let walks = ORDERS.iter().flat_map(|&(field, direction)| {
        let everything = sorted_ids(&records, field, direction);
        let subset = sorted_ids(&inactive, field, direction);
        let gateway = &gateway;
        [
            (1, json!({"status": "inactive"}), subset),
            (7, Value::Null, everything.clone()),
            (50, Value::Null, everything),
        ]
        .into_iter()
        .map(move |(first, filter, expected)| async move {
            check_walk(gateway, (field, direction), filter, first, &expected).await
        })
    });
    futures::future::join_all(walks).await;
}

#[tokio::test]
async fn filters_match_what_winnerr_itself_returns() {
    let gateway = spawn_gateway().await;
    let sandbox = &gateway.sandbox;
    let records = all_records(sandbox).await;
    let name_order = |subset: &[Value]| sorted_ids(subset, "NAME", "ASC");

    // Pushed down exactly: the total is Winnerr's.
    for (filter, params) in [
        (json!({"type": "client"}), vec![("type", "CLIENT")]),
        (json!({"status": "INACTIVE"}), vec![("status", "INACTIVE")]),
        (json!({"tags": ["Investor"]}), vec![("tags", "investor")]),
        (
            json!({"type": "LEAD", "status": "ACTIVE"}),
            vec![("type", "LEAD"), ("status", "ACTIVE")],
        ),
    ] {
        let (expected, upstream_total) = upstream_records(sandbox, &params).await;
        assert!(!expected.is_empty(), "{filter}");
        let (seen, total) = walk(&gateway, Value::Null, filter.clone(), 50).await;
        assert_eq!(seen, name_order(&expected), "{filter}");
        assert_eq!(total, Some(upstream_total), "{filter}");
    }

    // Two tags: Winnerr matches any, the gateway all.
    let (investors, _) = upstream_records(sandbox, &[("tags", "investor")]).await;
    let both: Vec<Value> = investors
        .into_iter()
        .filter(|r| r["tags"].as_array().unwrap().contains(&json!("cash-buyer")))
        .collect();
    assert!(!both.is_empty());
    let (seen, total) = walk(
        &gateway,
        Value::Null,
        json!({"tags": ["investor", "CASH-BUYER"]}),
        7,
    )
    .await;
    assert_eq!(seen, name_order(&both));
    assert_eq!(total, None);

    // Dates: Winnerr's bounds are inclusive, the gateway's strict.
    let mut created: Vec<&str> = records
        .iter()
        .map(|r| r["createdAt"].as_str().unwrap())
        .collect();
    created.sort();
    let (low, high) = (created[100], created[400]);
    let (window, _) = upstream_records(
        sandbox,
        &[("createdAt[gte]", low), ("createdAt[lte]", high)],
    )
    .await;
    let strict: Vec<Value> = window
        .into_iter()
        .filter(|r| {
            let at = r["createdAt"].as_str().unwrap();
            at > low && at < high
        })
        .collect();
    assert!(strict.len() >= 290);
    let (seen, total) = walk(
        &gateway,
        json!({"field": "CREATED_AT", "direction": "DESC"}),
        json!({"createdAfter": low, "createdBefore": high}),
        50,
    )
    .await;
    assert_eq!(seen, sorted_ids(&strict, "CREATED_AT", "DESC"));
    assert_eq!(total, None);

    // Gateway-side filters, checked against the emulator's full list.
    let with_city = records
        .iter()
        .find(|r| r["address"]["city"].is_string())
        .unwrap();
    let city = with_city["address"]["city"].as_str().unwrap().to_string();
    let in_city: Vec<Value> = records
        .iter()
        .filter(|r| {
            r["address"]["city"]
                .as_str()
                .is_some_and(|c| c.trim().eq_ignore_ascii_case(&city))
        })
        .cloned()
        .collect();
    let before = count(sandbox, LIST).await;
    let (seen, total) = walk(
        &gateway,
        Value::Null,
        json!({"city": city.to_uppercase()}),
        50,
    )
    .await;
    assert_eq!(seen, name_order(&in_city));
    assert_eq!(total, None);
    // Matches are searched in pages of 100 here.
    assert!(count(sandbox, LIST).await - before <= 7 * (seen.len() as u64 / 50 + 1));

    let email = records[10]["email"].as_str().unwrap().trim().to_string();
    let (seen, _) = walk(
        &gateway,
        Value::Null,
        json!({"email": format!("  {}  ", email.to_uppercase())}),
        7,
    )
    .await;
    assert_eq!(seen, vec![records[10]["id"].as_str().unwrap().to_string()]);

    let phone_record = records.iter().find(|r| r["phone"].is_string()).unwrap();
    let digits: String = phone_record["phone"]
        .as_str()
        .unwrap()
        .chars()
        .filter(char::is_ascii_digit)
        .collect();
    let national = digits[digits.len() - 10..].to_string();
    let (seen, _) = walk(&gateway, Value::Null, json!({"phone": national}), 50).await;
    assert!(seen.contains(&phone_record["id"].as_str().unwrap().to_string()));

    let last_name = records[20]["lastName"].as_str().unwrap().to_string();
    let needle = last_name[..last_name.len().min(4)].to_lowercase();
    let matching: Vec<Value> = records
        .iter()
        .filter(|r| {
            ["firstName", "lastName", "email"]
                .iter()
                .any(|k| r[*k].as_str().unwrap().to_lowercase().contains(&needle))
                || format!(
                    "{} {}",
                    r["firstName"].as_str().unwrap(),
                    r["lastName"].as_str().unwrap()
                )
                .to_lowercase()
                .contains(&needle)
        })
        .cloned()
        .collect();
    let (seen, _) = walk(&gateway, Value::Null, json!({"search": needle}), 7).await;
    assert_eq!(seen, name_order(&matching));
}

const CREATE: &str = r#"mutation($input: CreateContactInput!) {
  createContact(input: $input) { contact { id sourceId firstName lastName emails { address }
    phones { number } address { street city region postalCode } type status tags notes } } }"#;
const UPDATE: &str = r#"mutation($input: UpdateContactInput!) {
  updateContact(input: $input) { contact { sourceId firstName phones { number }
    address { street city region postalCode } status tags notes } } }"#;
const DELETE: &str =
    r#"mutation($input: DeleteContactInput!) { deleteContact(input: $input) { deletedId } }"#;
const READ: &str = r#"query($id: ID!) { contact(id: $id) { firstName address { street city region postalCode } status notes tags } }"#;

#[tokio::test]
async fn create_update_and_delete() {
    let gateway = spawn_gateway().await;
    let data = gateway
        .data(
            CREATE,
            json!({"input": {"source": "WINNERR", "firstName": "Jane", "lastName": "Smith",
                "email": "jane.smith@example.com", "phone": "+1-555-987-6543", "type": "referral",
                "status": "active", "tags": ["Luxury-Market"], "notes": "Waterfront",
                "address": {"street": "1 Ocean Dr", "city": "Miami", "region": "FL", "postalCode": "33139"}}}),
        )
        .await;
    let created = &data["createContact"]["contact"];
    assert_eq!(created["firstName"], "Jane");
    assert_eq!(
        created["emails"],
        json!([{"address": "jane.smith@example.com"}])
    );
    assert_eq!(created["type"], "REFERRAL");
    assert_eq!(created["status"], "ACTIVE");
    assert_eq!(created["tags"], json!(["luxury-market"]));
    assert_eq!(
        created["address"],
        json!({"street": "1 Ocean Dr", "city": "Miami", "region": "FL", "postalCode": "33139"})
    );
    let id = created["id"].as_str().unwrap().to_string();
    let source_id = created["sourceId"].as_str().unwrap().to_string();
    assert!(source_id.starts_with("contact_"));

    // A partial update: one address part changes, the others stay.
    let data = gateway
        .data(
            UPDATE,
            json!({"input": {"id": id, "status": "converted", "notes": "", "tags": ["investor", "cash-buyer"],
                "address": {"city": "Miami Beach"}}}),
        )
        .await;
    let updated = &data["updateContact"]["contact"];
    assert_eq!(updated["firstName"], "Jane");
    assert_eq!(updated["status"], "CONVERTED");
    assert_eq!(updated["notes"], Value::Null);
    assert_eq!(updated["phones"], json!([{"number": "+1-555-987-6543"}]));
    assert_eq!(
        updated["address"],
        json!({"street": "1 Ocean Dr", "city": "Miami Beach", "region": "FL", "postalCode": "33139"})
    );
    let read = gateway.data(READ, json!({"id": id})).await;
    assert_eq!(read["contact"]["status"], "CONVERTED");
    assert_eq!(read["contact"]["tags"], json!(["investor", "cash-buyer"]));
    assert_eq!(read["contact"]["address"]["city"], "Miami Beach");

    let data = gateway.data(DELETE, json!({"input": {"id": id}})).await;
    assert_eq!(data["deleteContact"]["deletedId"], id);
    let read = gateway.data(READ, json!({"id": id})).await;
    assert_eq!(read["contact"], Value::Null);
    let again = gateway.graphql(DELETE, json!({"input": {"id": id}})).await;
    assert_eq!(again["errors"][0]["extensions"]["code"], "NOT_FOUND");
}

fn first_error(body: &Value) -> &Value {
    &body["errors"][0]["extensions"]
}

#[tokio::test]
async fn write_rules_are_checked_before_any_upstream_call() {
    let gateway = spawn_gateway().await;
    let some_id = global_id(&ids(&all_records(&gateway.sandbox).await[..1])[0]);
    let creates = [
        (
            json!({"firstName": "A", "email": "a@example.com"}),
            "lastName",
        ),
        (
            json!({"lastName": "A", "email": "a@example.com"}),
            "firstName",
        ),
        (json!({"firstName": "A", "lastName": "B"}), "email"),
        (
            json!({"firstName": "A", "lastName": "B", "email": " "}),
            "email",
        ),
        (
            json!({"firstName": "A", "lastName": "B", "email": "a@example.com", "organization": "Acme"}),
            "organization",
        ),
        (
            json!({"firstName": "A", "lastName": "B", "email": "a@example.com", "title": "CEO"}),
            "title",
        ),
        (
            json!({"firstName": "A", "lastName": "B", "email": "a@example.com", "displayName": "AB"}),
            "displayName",
        ),
        (
            json!({"firstName": "A", "lastName": "B", "email": "a@example.com", "type": "BUYER"}),
            "type",
        ),
    ];
    for (fields, field) in creates {
        let mut input = fields.clone();
        input["source"] = json!("WINNERR");
        let body = gateway.graphql(CREATE, json!({"input": input})).await;
        let extensions = first_error(&body);
        assert_eq!(extensions["code"], "BAD_USER_INPUT", "{fields}: {body}");
        assert_eq!(extensions["field"], field, "{fields}");
        assert_eq!(extensions["source"], "winnerr");
    }
    let updates = [
        (json!({"status": "CLIENT"}), "status"),
        (json!({"lastName": ""}), "lastName"),
        (json!({"organization": "Acme"}), "organization"),
        (json!({"tags": ["ok", " "]}), "tags"),
    ];
    for (fields, field) in updates {
        let mut input = fields.clone();
        input["id"] = json!(some_id);
        let body = gateway.graphql(UPDATE, json!({"input": input})).await;
        assert_eq!(first_error(&body)["code"], "BAD_USER_INPUT", "{body}");
        assert_eq!(first_error(&body)["field"], field, "{fields}");
    }
    assert_eq!(count(&gateway.sandbox, "POST /v1/contacts").await, 0);
    assert_eq!(count(&gateway.sandbox, "PUT /v1/contacts/{id}").await, 0);
    assert_eq!(count(&gateway.sandbox, DETAIL).await, 0);
}

#[tokio::test]
async fn upstream_validation_and_conflicts_are_mapped() {
    let gateway = spawn_gateway().await;
    let records = all_records(&gateway.sandbox).await;
    let create = |fields: Value| {
        let mut input = fields;
        input["source"] = json!("WINNERR");
        json!({ "input": input })
    };
    let body = gateway
        .graphql(
            CREATE,
            create(json!({"firstName": "A", "lastName": "B", "email": "not-an-email"})),
        )
        .await;
    assert_eq!(first_error(&body)["code"], "BAD_USER_INPUT", "{body}");
    assert_eq!(first_error(&body)["field"], "email");
    assert_eq!(first_error(&body)["upstreamStatus"], 422);

    let body = gateway
        .graphql(
            CREATE,
            create(
                json!({"firstName": "A", "lastName": "B", "email": "a@example.com",
                "address": {"postalCode": "9".repeat(201)}}),
            ),
        )
        .await;
    assert_eq!(first_error(&body)["field"], "address.postalCode", "{body}");

    let taken = records[0]["email"].as_str().unwrap().trim().to_uppercase();
    let body = gateway
        .graphql(
            CREATE,
            create(json!({"firstName": "A", "lastName": "B", "email": taken})),
        )
        .await;
    assert_eq!(first_error(&body)["code"], "CONFLICT", "{body}");
    assert_eq!(first_error(&body)["upstreamStatus"], 409);

    let body = gateway
        .graphql(
            UPDATE,
            json!({"input": {"id": global_id(records[1]["id"].as_str().unwrap()), "phone": "call me"}}),
        )
        .await;
    assert_eq!(first_error(&body)["field"], "phone", "{body}");

    let missing = global_id("contact_00000000-0000-4000-8000-000000000000");
    let body = gateway
        .graphql(UPDATE, json!({"input": {"id": missing, "notes": "x"}}))
        .await;
    assert_eq!(first_error(&body)["code"], "NOT_FOUND", "{body}");
}

/// Every error message of `body`, joined, for credential checks.
fn messages(body: &Value) -> String {
    body["errors"].to_string()
}

#[tokio::test]
async fn upstream_failures_are_reported_without_the_token() {
    let gateway = spawn_gateway().await;
    let token = gateway.sandbox.credential("winnerr", "token");
    let id = global_id(&ids(&all_records(&gateway.sandbox).await[..1])[0]);
    let contact_query = r#"query($id: ID!) { contact(id: $id) { sourceId } }"#;
    for (fault, code) in [
        ("http_500", "UPSTREAM_ERROR"),
        ("http_503", "UPSTREAM_UNAVAILABLE"),
        ("malformed_json", "UPSTREAM_ERROR"),
        ("html_error", "UPSTREAM_ERROR"),
    ] {
        gateway
            .sandbox
            .configure(json!({"winnerr": {"faults": [{"kind": fault, "rate": 1.0}]}}))
            .await;
        let body = gateway.graphql(PAGE, json!({"first": 5})).await;
        assert_eq!(first_error(&body)["code"], code, "{fault}: {body}");
        assert_eq!(first_error(&body)["source"], "winnerr");
        assert_eq!(body["data"]["contacts"]["edges"], json!([]));
        assert!(!messages(&body).contains(&token));
        let body = gateway.graphql(contact_query, json!({"id": id})).await;
        assert_eq!(first_error(&body)["code"], code, "{fault}: {body}");
        assert!(!messages(&body).contains(&token));
    }
    gateway.sandbox.configure(json!({"winnerr": {}})).await;
    let body = gateway.graphql(contact_query, json!({"id": id})).await;
    assert!(body.get("errors").is_none(), "{body}");
}

#[tokio::test]
async fn a_hanging_upstream_times_out() {
    let sandbox = spawn_sandbox().await;
    let mut config = contact_gateway::demo::gateway_config(
        &sandbox.url,
        &contact_gateway::sandbox::Credentials::default(),
        SocketAddr::from((Ipv4Addr::LOCALHOST, 0)),
    );
    for source in &mut config.sources {
        if source.kind == SourceKind::Winnerr {
            source.timeout = Duration::from_millis(200);
        }
    }
    let gateway = spawn_gateway_with(sandbox, config).await;
    let token = gateway.sandbox.credential("winnerr", "token");
    gateway
        .sandbox
        .configure(json!({"winnerr": {"faults": [{"kind": "hang", "rate": 1.0}]}}))
        .await;
    let body = gateway.graphql(PAGE, json!({"first": 5})).await;
    let extensions = first_error(&body);
    assert_eq!(extensions["code"], "UPSTREAM_UNAVAILABLE", "{body}");
    assert_eq!(extensions["source"], "winnerr");
    assert!(body["errors"][0]["message"]
        .as_str()
        .unwrap()
        .contains("200 ms"));
    assert!(!messages(&body).contains(&token));
}

#[tokio::test]
async fn order_of_equal_keys_follows_the_id() {
    // Contacts with the same name (and, created in the same second, the same
    // createdAt) tie on the key; both sides then order by id ascending,
    // whatever the direction.
    let gateway = spawn_gateway().await;
    for n in 0..5 {
        gateway
            .data(
                CREATE,
                json!({"input": {"source": "WINNERR", "firstName": "Tie", "lastName": "Same",
                    "email": format!("tie{n}@example.com"), "tags": ["tie-test"]}}),
            )
            .await;
    }
    let (tied, _) = upstream_records(&gateway.sandbox, &[("tags", "tie-test")]).await;
    assert_eq!(tied.len(), 5);
    for order in ORDERS {
        for first in [1, 2] {
            let expected = sorted_ids(&tied, order.0, order.1);
            check_walk(
                &gateway,
                order,
                json!({"tags": ["tie-test"]}),
                first,
                &expected,
            )
            .await;
        }
    }
    let by_id = {
        let mut ids = ids(&tied);
        ids.sort();
        ids
    };
    assert_eq!(sorted_ids(&tied, "NAME", "DESC"), by_id);
}
