//! The Django-CRM adapter through the gateway's GraphQL API, against the
//! sandbox's Django-CRM emulator: lookups (one detail request per id, none for
//! ids that cannot be UUIDs), lists in every order walked to the end, each
//! filter compared with what the emulator itself holds, writes and their
//! rules, and the failure modes (error statuses, bad credentials, a timeout,
//! malformed bodies), none of which may show a credential.

use std::collections::HashSet;
use std::net::{Ipv4Addr, SocketAddr};
use std::time::Duration;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use chrono::{DateTime, Utc};
use contact_gateway::config::{Secret, SourceCredentials};
use contact_gateway::domain::{GlobalId, NodeType, SourceKind};
use serde_json::{json, Value};

use crate::helpers::{
    spawn_cached_gateway, spawn_gateway, spawn_gateway_configured, spawn_gateway_with,
    spawn_sandbox, TestGateway, TestSandbox,
};

const LIST_ROUTE: &str = "/api/contacts/";
const DETAIL_ROUTE: &str = "/api/contacts/{id}/";
const UNKNOWN_UUID: &str = "00000000-0000-4000-8000-000000000000";

const CONTACT_FIELDS: &str = "id sourceId firstName lastName displayName
    emails { address label primary } phones { number e164 label }
    address { street city region postalCode country }
    organization title type status tags notes assignedTo createdAt updatedAt raw";

fn global_id(source_id: &str) -> String {
    GlobalId::new(NodeType::Contact, SourceKind::DjangoCrm, source_id).encode()
}

fn text(record: &Value, key: &str) -> String {
    record[key].as_str().unwrap_or_default().trim().to_string()
}

/// Every contact of the demo organization, straight from the emulator, in its
/// own (newest first) order.
async fn sandbox_contacts(sandbox: &TestSandbox, extra_query: &str) -> Vec<Value> {
    let mut all = Vec::new();
    loop {
        let url = format!(
            "{}/contacts/?limit=100&offset={}{extra_query}",
            sandbox.base("djangocrm"),
            all.len()
        );
        let body: Value = sandbox
            .client
            .get(url)
            .header(
                "Authorization",
                format!("Bearer {}", sandbox.credential("djangocrm", "token")),
            )
            .header(
                "organization-id",
                sandbox.credential("djangocrm", "organization_id"),
            )
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let results = body["results"].as_array().unwrap().clone();
        let done = results.len() < 100;
        all.extend(results);
        if done {
            return all;
        }
    }
}

fn created_on(record: &Value) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(record["created_on"].as_str().unwrap())
        .unwrap()
        .with_timezone(&Utc)
}

/// The ids of `records` in the gateway's order, computed here from the
/// emulator's records (key, then upstream id ascending).
fn expected_order(records: &[Value], field: &str, direction: &str) -> Vec<String> {
    let mut sorted: Vec<&Value> = records.iter().collect();
    sorted.sort_by(|a, b| {
        let by_key = match field {
            "NAME" => (
                text(a, "last_name").to_lowercase(),
                text(a, "first_name").to_lowercase(),
            )
                .cmp(&(
                    text(b, "last_name").to_lowercase(),
                    text(b, "first_name").to_lowercase(),
                )),
            "CREATED_AT" => created_on(a).cmp(&created_on(b)),
            // The emulator's contacts have no update time: every key is
            // missing, so the ids alone decide.
            _ => std::cmp::Ordering::Equal,
        };
        let by_key = if direction == "DESC" {
            by_key.reverse()
        } else {
            by_key
        };
        by_key.then_with(|| text(a, "id").cmp(&text(b, "id")))
    });
    sorted.iter().map(|r| text(r, "id")).collect()
}

/// Walks `contacts(sources: [DJANGO_CRM])` to its end and returns the source
/// ids in the order received, checking each page's size.
async fn walk(gateway: &TestGateway, order: Value, filter: Value, first: usize) -> Vec<String> {
    let query = "query($first: Int, $after: String, $orderBy: ContactOrderInput, $filter: ContactFilterInput) {
        contacts(sources: [DJANGO_CRM], first: $first, after: $after, orderBy: $orderBy, filter: $filter) {
            edges { cursor node { sourceId } }
            pageInfo { hasNextPage endCursor }
        } }";
    let mut ids = Vec::new();
    let mut after = Value::Null;
    loop {
        let data = gateway
            .data(
                query,
                json!({"first": first, "after": after, "orderBy": order, "filter": filter}),
            )
            .await;
        let connection = &data["contacts"];
        let edges = connection["edges"].as_array().unwrap();
        assert!(edges.len() <= first);
        ids.extend(edges.iter().map(|e| text(&e["node"], "sourceId")));
        if !connection["pageInfo"]["hasNextPage"].as_bool().unwrap() {
            return ids;
        }
        assert_eq!(edges.len(), first, "only the last page may be short");
        after = connection["pageInfo"]["endCursor"].clone();
    }
}

async fn first_page_ids(gateway: &TestGateway, filter: Value) -> (Vec<String>, Value) {
    let data = gateway
        .data(
            "query($filter: ContactFilterInput) { contacts(sources: [DJANGO_CRM], first: 100, filter: $filter) {
                totalCount nodes { sourceId } pageInfo { hasNextPage } } }",
            json!({ "filter": filter }),
        )
        .await;
    assert_eq!(data["contacts"]["pageInfo"]["hasNextPage"], false);
    let ids = data["contacts"]["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| text(n, "sourceId"))
        .collect();
    (ids, data["contacts"]["totalCount"].clone())
}

fn sorted_by_name(records: Vec<&Value>) -> Vec<String> {
    let owned: Vec<Value> = records.into_iter().cloned().collect();
    expected_order(&owned, "NAME", "ASC")
}

/// The first error of a response, with its extensions.
fn first_error(body: &Value) -> &Value {
    &body["errors"][0]
}

#[tokio::test]
async fn a_contact_lookup_maps_every_seed_field() {
    let gateway = spawn_gateway().await;
    let records = sandbox_contacts(&gateway.sandbox, "").await;
    // A contact with the most fields filled: a secondary email and a second address line.
    let record = records
        .iter()
        .find(|r| !text(r, "secondary_email").is_empty() && !text(r, "street").is_empty())
        .expect("a contact with every field");
    let id = text(record, "id");
    let data = gateway
        .data(
            &format!("query($id: ID!) {{ contact(id: $id) {{ {CONTACT_FIELDS} }} }}"),
            json!({ "id": global_id(&id) }),
        )
        .await;
    let contact = &data["contact"];
    assert_eq!(contact["id"], global_id(&id));
    assert_eq!(contact["sourceId"], id.as_str());
    assert_eq!(contact["firstName"], text(record, "first_name").as_str());
    assert_eq!(contact["lastName"], text(record, "last_name").as_str());
    assert_eq!(
        contact["emails"],
        json!([
            {"address": text(record, "primary_email"), "label": null, "primary": true},
            {"address": text(record, "secondary_email"), "label": "secondary", "primary": false},
        ])
    );
    let mobile = text(record, "mobile_number");
    assert_eq!(
        contact["phones"],
        json!([{"number": mobile, "e164": mobile, "label": "mobile"}])
    );
    assert_eq!(
        contact["address"],
        json!({
            "street": format!("{}, {}", text(record, "address_line"), text(record, "street")),
            "city": text(record, "city"),
            "region": text(record, "state"),
            "postalCode": text(record, "postcode"),
            "country": text(record, "country"),
        })
    );
    assert_eq!(
        contact["organization"],
        text(record, "organization").as_str()
    );
    assert_eq!(contact["title"], text(record, "designation").as_str());
    let assignees: Vec<String> = record["assigned_to"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap().to_string())
        .collect();
    let expected_assignees = (!assignees.is_empty()).then(|| assignees.join(", "));
    assert_eq!(contact["assignedTo"], json!(expected_assignees));
    assert_eq!(
        contact["createdAt"]
            .as_str()
            .map(|t| { DateTime::parse_from_rfc3339(t).unwrap().with_timezone(&Utc) }),
        Some(created_on(record))
    );
    // Nothing the seed does not have is invented.
    for absent in ["type", "status", "notes", "updatedAt"] {
        assert_eq!(contact[absent], Value::Null, "{absent}");
    }
    assert_eq!(contact["tags"], json!([]));
    assert_eq!(contact["raw"], *record);
    assert_eq!(
        gateway
            .sandbox
            .route_count("djangocrm", "GET", DETAIL_ROUTE)
            .await,
        1
    );
}

#[tokio::test]
async fn impossible_ids_cost_no_request_and_unknown_ones_are_null() {
    let gateway = spawn_gateway().await;
    let query = "query($id: ID!) { contact(id: $id) { id } }";
    for impossible in ["42", "not-a-uuid", "6f1c2a4e-9b7d-4c3e-8a21-5d0f7e9b1c2"] {
        let data = gateway
            .data(query, json!({ "id": global_id(impossible) }))
            .await;
        assert_eq!(data["contact"], Value::Null);
    }
    assert_eq!(gateway.sandbox.stats().await["total"], 0);
    let data = gateway
        .data(query, json!({ "id": global_id(UNKNOWN_UUID) }))
        .await;
    assert_eq!(data["contact"], Value::Null);
    assert_eq!(
        gateway
            .sandbox
            .route_count("djangocrm", "GET", DETAIL_ROUTE)
            .await,
        1
    );
    // Upper-case UUIDs name the same contact (Django's paths take lower case only).
    let record = &sandbox_contacts(&gateway.sandbox, "").await[0];
    let id = text(record, "id");
    let data = gateway
        .data(
            "query($id: ID!) { contact(id: $id) { sourceId } }",
            json!({ "id": global_id(&id.to_uppercase()) }),
        )
        .await;
    assert_eq!(data["contact"]["sourceId"], id.as_str());
}

#[tokio::test]
async fn nodes_fetch_each_id_with_its_own_request_in_order() {
    let gateway = spawn_gateway().await;
    let records = sandbox_contacts(&gateway.sandbox, "").await;
    let wanted: Vec<String> = records.iter().take(5).map(|r| text(r, "id")).collect();
    let mut ids: Vec<String> = wanted.iter().map(|id| global_id(id)).collect();
    ids.insert(2, global_id("not-a-uuid"));
    ids.push(global_id(UNKNOWN_UUID));
    ids.push(global_id(&wanted[0]));
    let stats_before = gateway.sandbox.stats().await["total"].as_u64().unwrap();
    let data = gateway
        .data(
            "query($ids: [ID!]!) { nodes(ids: $ids) { ... on Contact { sourceId } } }",
            json!({ "ids": ids }),
        )
        .await;
    let got: Vec<Value> = data["nodes"].as_array().unwrap().clone();
    let mut expected: Vec<Value> = wanted.iter().map(|id| json!({"sourceId": id})).collect();
    expected.insert(2, Value::Null);
    expected.push(Value::Null);
    expected.push(json!({"sourceId": wanted[0]}));
    assert_eq!(got, expected);
    // Django-CRM has no multi-record fetch: one detail request per distinct
    // possible id (five known, one unknown); none for the impossible id or the repeat.
    assert_eq!(
        gateway
            .sandbox
            .route_count("djangocrm", "GET", DETAIL_ROUTE)
            .await,
        6
    );
    assert_eq!(
        gateway.sandbox.stats().await["total"].as_u64().unwrap() - stats_before,
        6
    );
}

#[tokio::test]
async fn first_pages_cost_one_request_newest_first_and_a_full_read_otherwise() {
    let gateway = spawn_gateway().await;
    let records = sandbox_contacts(&gateway.sandbox, "").await;
    gateway.sandbox.reset().await;
    let query = "query($orderBy: ContactOrderInput) { contacts(sources: [DJANGO_CRM], first: 10, orderBy: $orderBy) {
        totalCount nodes { sourceId } pageInfo { hasNextPage } } }";
    let newest = gateway
        .data(
            query,
            json!({"orderBy": {"field": "CREATED_AT", "direction": "DESC"}}),
        )
        .await;
    let native_requests = gateway
        .sandbox
        .route_count("djangocrm", "GET", LIST_ROUTE)
        .await;
    assert_eq!(native_requests, 1);
    assert_eq!(newest["contacts"]["totalCount"], records.len());
    assert_eq!(newest["contacts"]["pageInfo"]["hasNextPage"], true);
    let got: Vec<String> = newest["contacts"]["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| text(n, "sourceId"))
        .collect();
    assert_eq!(got, expected_order(&records, "CREATED_AT", "DESC")[..10]);

    gateway.sandbox.reset().await;
    let by_name = gateway.data(query, json!({})).await;
    let full_read_requests = gateway
        .sandbox
        .route_count("djangocrm", "GET", LIST_ROUTE)
        .await;
    assert_eq!(full_read_requests as usize, records.len().div_ceil(100));
    assert_eq!(by_name["contacts"]["totalCount"], records.len());
    eprintln!(
        "djangocrm first page of 10: CREATED_AT DESC {native_requests} upstream request(s), NAME {full_read_requests}"
    );
}

#[tokio::test]
async fn every_order_walks_every_contact_once_in_order() {
    let gateway = spawn_cached_gateway().await;
    let records = sandbox_contacts(&gateway.sandbox, "").await;
    // A small city for walks one contact at a time.
    let city = records
        .iter()
        .map(|r| text(r, "city"))
        .find(|city| {
            let n = records
                .iter()
                .filter(|r| text(r, "city").eq_ignore_ascii_case(city))
                .count();
            (5..=40).contains(&n)
        })
        .expect("a city with a few contacts");
    let in_city: Vec<Value> = records
        .iter()
        .filter(|r| text(r, "city").eq_ignore_ascii_case(&city))
        .cloned()
        .collect();
    for (field, direction) in [
        ("NAME", "ASC"),
        ("NAME", "DESC"),
        ("CREATED_AT", "ASC"),
        ("CREATED_AT", "DESC"),
        ("UPDATED_AT", "DESC"),
    ] {
        let order = json!({"field": field, "direction": direction});
        let expected = expected_order(&records, field, direction);
        for first in [7, 50] {
            let got = walk(&gateway, order.clone(), Value::Null, first).await;
            assert_eq!(got, expected, "{field} {direction} first={first}");
        }
        let got = walk(&gateway, order.clone(), json!({"city": city}), 1).await;
        assert_eq!(
            got,
            expected_order(&in_city, field, direction),
            "{field} {direction} first=1 in {city}"
        );
    }
}

#[tokio::test]
async fn a_newest_first_walk_costs_one_request_per_page() {
    let gateway = spawn_gateway().await;
    let records = sandbox_contacts(&gateway.sandbox, "").await;
    // Contacts sharing a creation time would be listed by the emulator by id
    // descending and by the gateway by id ascending; the seed has none (the
    // unit tests of the adapter's listing cover them).
    let distinct: HashSet<String> = records.iter().map(|r| text(r, "created_on")).collect();
    eprintln!(
        "djangocrm seed: {} contacts, {} distinct creation times",
        records.len(),
        distinct.len()
    );
    gateway.sandbox.reset().await;
    let order = json!({"field": "CREATED_AT", "direction": "DESC"});
    let got = walk(&gateway, order, Value::Null, 1).await;
    assert_eq!(got, expected_order(&records, "CREATED_AT", "DESC"));
    assert_eq!(
        gateway
            .sandbox
            .route_count("djangocrm", "GET", LIST_ROUTE)
            .await as usize,
        records.len()
    );
}

#[tokio::test]
async fn filters_match_what_the_emulator_holds() {
    let gateway = spawn_gateway().await;
    let records = sandbox_contacts(&gateway.sandbox, "").await;

    // city: equality ignoring case, pushed down as the emulator's partial match.
    let city = text(&records[3], "city");
    let (got, total) = first_page_ids(&gateway, json!({"city": city.to_uppercase()})).await;
    let expected = sorted_by_name(
        records
            .iter()
            .filter(|r| text(r, "city").eq_ignore_ascii_case(&city))
            .collect(),
    );
    assert_eq!(got, expected);
    assert_eq!(total, expected.len(), "a full read counts exactly");
    let pushed = sandbox_contacts(
        &gateway.sandbox,
        &format!("&city={}", urlencoding::encode(&city)),
    )
    .await;
    assert!(pushed.len() >= expected.len());

    // email: any of the addresses, ignoring case and spaces; a secondary
    // address finds its contact although the emulator searches only primaries.
    let with_secondary = records
        .iter()
        .find(|r| !text(r, "secondary_email").is_empty())
        .unwrap();
    for email in [
        format!("  {}  ", text(&records[5], "primary_email").to_uppercase()),
        text(with_secondary, "secondary_email"),
    ] {
        let wanted = email.trim().to_lowercase();
        let (got, _) = first_page_ids(&gateway, json!({ "email": email })).await;
        let expected = sorted_by_name(
            records
                .iter()
                .filter(|r| {
                    text(r, "primary_email").to_lowercase() == wanted
                        || text(r, "secondary_email").to_lowercase() == wanted
                })
                .collect(),
        );
        assert!(!expected.is_empty());
        assert_eq!(got, expected, "{email}");
    }

    // phone: the same national number however written.
    let number = text(&records[7], "mobile_number");
    let digits: String = number.chars().filter(char::is_ascii_digit).collect();
    let national = &digits[digits.len() - 10..];
    let written = format!(
        "({}) {}-{}",
        &national[..3],
        &national[3..6],
        &national[6..]
    );
    let (got, _) = first_page_ids(&gateway, json!({ "phone": written })).await;
    let expected = sorted_by_name(
        records
            .iter()
            .filter(|r| text(r, "mobile_number").ends_with(national))
            .collect(),
    );
    assert_eq!(got, expected);

    // search: part of a last name, or part of an email.
    let part: String = text(&records[9], "last_name")
        .chars()
        .take(3)
        .collect::<String>()
        .to_lowercase();
    let (got, _) = first_page_ids(&gateway, json!({ "search": part })).await;
    let expected = sorted_by_name(
        records
            .iter()
            .filter(|r| {
                [
                    "first_name",
                    "last_name",
                    "primary_email",
                    "secondary_email",
                ]
                .iter()
                .any(|key| text(r, key).to_lowercase().contains(&part))
                    || format!("{} {}", text(r, "first_name"), text(r, "last_name"))
                        .to_lowercase()
                        .contains(&part)
            })
            .collect(),
    );
    assert_eq!(got, expected);

    // Type, status and tags do not exist in Django-CRM: nothing matches.
    for filter in [
        json!({"type": "Buyer"}),
        json!({"status": "ACTIVE"}),
        json!({"tags": ["vip"]}),
    ] {
        let (got, total) = first_page_ids(&gateway, filter.clone()).await;
        assert!(got.is_empty(), "{filter}");
        assert_eq!(total, 0);
    }

    // Creation window, in the native order (which stops reading at `createdAfter`).
    let mut times: Vec<DateTime<Utc>> = records.iter().map(created_on).collect();
    times.sort();
    // A window among the hundred newest, so that one upstream page holds it
    // and the first contact older than it.
    let (after, before) = (times[times.len() - 90], times[times.len() - 30]);
    let filter = json!({"createdAfter": after.to_rfc3339(), "createdBefore": before.to_rfc3339()});
    let mut expected: Vec<Value> = records
        .iter()
        .filter(|r| created_on(r) > after && created_on(r) < before)
        .cloned()
        .collect();
    expected.sort_by_key(|r| std::cmp::Reverse(created_on(r)));
    gateway.sandbox.reset().await;
    let got = walk(
        &gateway,
        json!({"field": "CREATED_AT", "direction": "DESC"}),
        filter,
        100,
    )
    .await;
    assert_eq!(got, expected_order(&expected, "CREATED_AT", "DESC"));
    // The walk stops at the first contact created before the window.
    assert_eq!(
        gateway
            .sandbox
            .route_count("djangocrm", "GET", LIST_ROUTE)
            .await,
        1
    );
}

#[tokio::test]
async fn create_update_and_delete_show_their_effect() {
    let gateway = spawn_gateway().await;
    let create = "mutation($input: CreateContactInput!) { createContact(input: $input) {
        clientMutationId contact { id sourceId firstName lastName emails { address primary } phones { e164 }
        organization title address { street city region postalCode country } assignedTo createdAt raw } } }";
    let body = gateway
        .graphql(
            create,
            json!({"input": {
                "source": "DJANGO_CRM", "clientMutationId": "c1",
                "firstName": "Ada", "lastName": "Lovelace", "email": "ada@engine.example",
                "phone": "(305) 555-0199", "organization": "Analytical", "title": "Analyst",
                "address": {"street": "12 St James Sq", "city": "London", "region": "LDN",
                            "postalCode": "SW1Y", "country": "UK"}
            }}),
        )
        .await;
    assert!(body.get("errors").is_none(), "{body:#}");
    let created = &body["data"]["createContact"]["contact"];
    assert_eq!(body["data"]["createContact"]["clientMutationId"], "c1");
    assert_eq!(created["firstName"], "Ada");
    assert_eq!(
        created["emails"],
        json!([{"address": "ada@engine.example", "primary": true}])
    );
    assert_eq!(created["phones"], json!([{"e164": "+13055550199"}]));
    assert_eq!(created["title"], "Analyst");
    assert_eq!(created["address"]["street"], "12 St James Sq");
    assert_eq!(created["address"]["region"], "LDN");
    assert!(created["createdAt"].is_string());
    assert_eq!(created["raw"]["designation"], "Analyst");
    assert_eq!(created["raw"]["mobile_number"], "+13055550199");
    let id = created["id"].as_str().unwrap().to_string();
    let source_id = text(created, "sourceId");

    // Partial update: only the given fields change; the street replaces both lines.
    let update = "mutation($input: UpdateContactInput!) { updateContact(input: $input) {
        contact { firstName title address { street city } raw } } }";
    let body = gateway
        .graphql(
            update,
            json!({"input": {"id": id, "title": "Countess", "address": {"street": "1 New Rd", "city": "Oxford"}}}),
        )
        .await;
    assert!(body.get("errors").is_none(), "{body:#}");
    let updated = &body["data"]["updateContact"]["contact"];
    assert_eq!(updated["firstName"], "Ada");
    assert_eq!(updated["title"], "Countess");
    assert_eq!(
        updated["address"],
        json!({"street": "1 New Rd", "city": "Oxford"})
    );
    assert_eq!(updated["raw"]["street"], "");

    // The sandbox holds what the gateway reported.
    let stored = sandbox_contacts(&gateway.sandbox, "&city=oxford").await;
    let stored = stored.iter().find(|r| text(r, "id") == source_id).unwrap();
    assert_eq!(text(stored, "designation"), "Countess");
    assert_eq!(text(stored, "organization"), "Analytical");

    // Assignment takes user UUIDs and reads back the same way.
    let user = records_user(&gateway).await;
    let body = gateway
        .graphql(
            update,
            json!({"input": {"id": id, "assignedTo": user.to_uppercase()}}),
        )
        .await;
    assert!(body.get("errors").is_none(), "{body:#}");
    let data = gateway
        .data(
            "query($id: ID!) { contact(id: $id) { assignedTo title } }",
            json!({ "id": id }),
        )
        .await;
    assert_eq!(
        data["contact"],
        json!({"assignedTo": user, "title": "Countess"})
    );

    let delete =
        "mutation($input: DeleteContactInput!) { deleteContact(input: $input) { deletedId } }";
    let data = gateway.data(delete, json!({"input": {"id": id}})).await;
    assert_eq!(data["deleteContact"]["deletedId"], id.as_str());
    let data = gateway
        .data(
            "query($id: ID!) { contact(id: $id) { id } }",
            json!({ "id": id }),
        )
        .await;
    assert_eq!(data["contact"], Value::Null);
    let again = gateway.graphql(delete, json!({"input": {"id": id}})).await;
    assert_eq!(first_error(&again)["extensions"]["code"], "NOT_FOUND");
    let missing = gateway
        .graphql(
            update,
            json!({"input": {"id": global_id(UNKNOWN_UUID), "title": "x"}}),
        )
        .await;
    assert_eq!(first_error(&missing)["extensions"]["code"], "NOT_FOUND");
}

/// A user of the demo organization: the first assignee found in the seed.
async fn records_user(gateway: &TestGateway) -> String {
    sandbox_contacts(&gateway.sandbox, "")
        .await
        .iter()
        .find_map(|r| r["assigned_to"][0].as_str().map(str::to_string))
        .expect("an assigned contact")
}

#[tokio::test]
async fn write_rules_are_checked_before_any_request() {
    let gateway = spawn_gateway().await;
    let record = &sandbox_contacts(&gateway.sandbox, "").await[0];
    let id = global_id(&text(record, "id"));
    gateway.sandbox.reset().await;
    let create =
        "mutation($input: CreateContactInput!) { createContact(input: $input) { contact { id } } }";
    let update =
        "mutation($input: UpdateContactInput!) { updateContact(input: $input) { contact { id } } }";
    let named = json!({"source": "DJANGO_CRM", "firstName": "A", "lastName": "B"});
    let with = |extra: Value| {
        let mut input = named.clone();
        for (key, value) in extra.as_object().unwrap() {
            input[key] = value.clone();
        }
        input
    };
    let cases = [
        (
            create,
            json!({"source": "DJANGO_CRM", "firstName": "A"}),
            "lastName",
        ),
        (
            create,
            json!({"source": "DJANGO_CRM", "lastName": "B"}),
            "firstName",
        ),
        (create, with(json!({"firstName": "  "})), "firstName"),
        (create, with(json!({"displayName": "AB"})), "displayName"),
        (create, with(json!({"type": "Buyer"})), "type"),
        (create, with(json!({"status": "ACTIVE"})), "status"),
        (create, with(json!({"tags": ["vip"]})), "tags"),
        (create, with(json!({"notes": "n"})), "notes"),
        (create, with(json!({"assignedTo": "bob"})), "assignedTo"),
        (update, json!({"id": id, "lastName": ""}), "lastName"),
        (update, json!({"id": id, "tags": []}), "tags"),
        (update, json!({"id": id, "displayName": "x"}), "displayName"),
    ];
    for (mutation, input, field) in cases {
        let body = gateway.graphql(mutation, json!({ "input": input })).await;
        let extensions = &first_error(&body)["extensions"];
        assert_eq!(extensions["code"], "BAD_USER_INPUT", "{input}: {body}");
        assert_eq!(extensions["field"], field, "{input}");
        assert_eq!(extensions["source"], "djangocrm");
    }
    assert_eq!(gateway.sandbox.stats().await["total"], 0);
}

#[tokio::test]
async fn upstream_validation_maps_to_fields_and_duplicates_to_conflict() {
    let gateway = spawn_gateway().await;
    let records = sandbox_contacts(&gateway.sandbox, "").await;
    let create =
        "mutation($input: CreateContactInput!) { createContact(input: $input) { contact { id } } }";
    let body = gateway
        .graphql(
            create,
            json!({"input": {"source": "DJANGO_CRM", "firstName": "A", "lastName": "B", "email": "not-an-email"}}),
        )
        .await;
    let extensions = &first_error(&body)["extensions"];
    assert_eq!(extensions["code"], "BAD_USER_INPUT");
    assert_eq!(extensions["field"], "email");
    assert_eq!(extensions["upstreamStatus"], 400);
    let body = gateway
        .graphql(
            create,
            json!({"input": {"source": "DJANGO_CRM", "firstName": "A", "lastName": "B", "phone": "call me"}}),
        )
        .await;
    assert_eq!(first_error(&body)["extensions"]["field"], "phone");
    let taken = text(&records[0], "primary_email").to_uppercase();
    let body = gateway
        .graphql(
            create,
            json!({"input": {"source": "DJANGO_CRM", "firstName": "A", "lastName": "B", "email": taken}}),
        )
        .await;
    let extensions = &first_error(&body)["extensions"];
    assert_eq!(extensions["code"], "CONFLICT", "{body}");
    assert_eq!(extensions["upstreamStatus"], 400);
}

#[tokio::test]
async fn error_statuses_and_bad_bodies_are_classified() {
    let gateway = spawn_gateway().await;
    let record = &sandbox_contacts(&gateway.sandbox, "").await[0];
    let id = global_id(&text(record, "id"));
    let lookup = "query($id: ID!) { contact(id: $id) { id } }";
    let list = "{ contacts(sources: [DJANGO_CRM], first: 3) { nodes { id } } }";
    let cases = [
        ("http_500", "UPSTREAM_ERROR", Some(500)),
        ("http_503", "UPSTREAM_UNAVAILABLE", Some(503)),
        ("http_429", "UPSTREAM_UNAVAILABLE", Some(429)),
        ("malformed_json", "UPSTREAM_ERROR", Some(200)),
        ("html_error", "UPSTREAM_ERROR", Some(200)),
        ("reset", "UPSTREAM_UNAVAILABLE", None),
    ];
    for (fault, code, status) in cases {
        gateway
            .sandbox
            .configure(json!({"djangocrm": {"faults": [{"kind": fault, "rate": 1.0, "retry_after_s": 7}]}}))
            .await;
        for (query, variables) in [(lookup, json!({ "id": id })), (list, json!({}))] {
            let body = gateway.graphql(query, variables).await;
            let extensions = &first_error(&body)["extensions"];
            assert_eq!(extensions["code"], code, "{fault}: {body}");
            assert_eq!(extensions["source"], "djangocrm");
            assert_eq!(extensions["upstreamStatus"], json!(status), "{fault}");
            if fault == "http_429" {
                assert_eq!(extensions["retryAfter"], 7);
            }
            assert_no_credentials(&gateway.sandbox, &body);
        }
    }
}

fn assert_no_credentials(sandbox: &TestSandbox, body: &Value) {
    let text = body.to_string();
    for key in ["token", "organization_id"] {
        let secret = sandbox.credential("djangocrm", key);
        assert!(!text.contains(&secret), "{key} leaked: {text}");
    }
}

#[tokio::test]
async fn refused_credentials_are_unauthenticated_and_never_shown() {
    let sandbox = spawn_sandbox().await;
    let credentials = contact_gateway::sandbox::Credentials::default();
    let mut config = contact_gateway::demo::gateway_config(
        &sandbox.url,
        &credentials,
        SocketAddr::from((Ipv4Addr::LOCALHOST, 0)),
    );
    let wrong_token = "wrong-token-0123456789";
    for source in &mut config.sources {
        if source.kind == SourceKind::DjangoCrm {
            source.credentials = SourceCredentials::DjangoCrm {
                token: Secret::new(wrong_token),
                organization_id: Secret::new(&credentials.djangocrm.organization_id),
            };
        }
    }
    let gateway = spawn_gateway_with(sandbox, config).await;
    let body = gateway
        .graphql(
            "query($id: ID!) { contact(id: $id) { id } }",
            json!({ "id": global_id(UNKNOWN_UUID) }),
        )
        .await;
    let extensions = &first_error(&body)["extensions"];
    assert_eq!(extensions["code"], "UNAUTHENTICATED");
    assert_eq!(extensions["upstreamStatus"], 403);
    let list = gateway
        .graphql(
            "{ contacts(sources: [DJANGO_CRM], first: 3) { nodes { id } } }",
            json!({}),
        )
        .await;
    assert_eq!(first_error(&list)["extensions"]["code"], "UNAUTHENTICATED");
    for body in [&body, &list] {
        assert!(!body.to_string().contains(wrong_token));
        assert_no_credentials(&gateway.sandbox, body);
    }
}

#[tokio::test]
async fn a_hanging_upstream_times_out() {
    let gateway = spawn_gateway_configured(|config| {
        for source in &mut config.sources {
            if source.kind == SourceKind::DjangoCrm {
                source.timeout = Duration::from_millis(200);
            }
        }
    })
    .await;
    gateway
        .sandbox
        .configure(json!({"djangocrm": {"faults": [{"kind": "hang", "rate": 1.0}]}}))
        .await;
    let body = gateway
        .graphql(
            "{ contacts(sources: [DJANGO_CRM], first: 3, orderBy: {field: CREATED_AT, direction: DESC}) { nodes { id } } }",
            json!({}),
        )
        .await;
    let error = first_error(&body);
    assert_eq!(
        error["extensions"]["code"], "UPSTREAM_UNAVAILABLE",
        "{body}"
    );
    assert!(error["message"].as_str().unwrap().contains("200 ms"));
    assert_no_credentials(&gateway.sandbox, &body);
}

#[tokio::test]
async fn a_forged_position_is_refused() {
    let gateway = spawn_gateway().await;
    for (order, forged) in [
        (json!({"field": "CREATED_AT", "direction": "DESC"}), "7"),
        (json!({"field": "NAME", "direction": "ASC"}), "n:0:0:x"),
        (
            json!({"field": "CREATED_AT", "direction": "DESC"}),
            "n:zero:0:x",
        ),
    ] {
        let query = "query($orderBy: ContactOrderInput, $after: String) {
            contacts(sources: [DJANGO_CRM], first: 2, orderBy: $orderBy, after: $after) {
            pageInfo { endCursor } } }";
        let data = gateway.data(query, json!({ "orderBy": order })).await;
        let cursor = data["contacts"]["pageInfo"]["endCursor"].as_str().unwrap();
        let mut decoded: Value =
            serde_json::from_slice(&URL_SAFE_NO_PAD.decode(cursor).unwrap()).unwrap();
        decoded["positions"]["djangocrm"] = json!({ "At": forged });
        let forged_cursor = URL_SAFE_NO_PAD.encode(decoded.to_string());
        let body = gateway
            .graphql(query, json!({ "orderBy": order, "after": forged_cursor }))
            .await;
        let extensions = &first_error(&body)["extensions"];
        assert_eq!(extensions["code"], "BAD_USER_INPUT", "{forged}: {body}");
        assert_eq!(extensions["field"], "after");
    }
}
