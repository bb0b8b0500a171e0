//! Open To Close properties and property-contact links through the gateway,
//! against the sandbox: what the joins cost in upstream requests (with
//! loaders on and off), that no record is fetched twice in one request, the
//! property queries, `Contact.properties`, the link mutations and their
//! errors, and upstream failures. Every expected answer and count is derived
//! from the sandbox's own data, read over its HTTP API.

use std::collections::{BTreeMap, BTreeSet};

use contact_gateway::domain::{GlobalId, NodeType, SourceKind};
use serde_json::{json, Value};

use crate::helpers::{
    spawn_baseline_gateway, spawn_gateway, spawn_gateway_configured, TestGateway,
};

/// Workload W1: the first 50 properties with their contacts.
const W1: &str = "{ properties(first: 50) { nodes { title contacts { role primary contact { displayName emails { address } phones { number } } } } } }";

const PROPERTY_ROUTE: &str = "/v1/properties/{id}";
const LINKS_ROUTE: &str = "/v1/properties/{id}/contacts";
const LINK_ROUTE: &str = "/v1/properties/{id}/contacts/{contact_id}";
const CONTACT_ROUTE: &str = "/v1/contacts/{id}";

fn property_id(source_id: &str) -> String {
    GlobalId::new(NodeType::Property, SourceKind::OpenToClose, source_id).encode()
}

fn contact_id(source: SourceKind, source_id: &str) -> String {
    GlobalId::new(NodeType::Contact, source, source_id).encode()
}

fn token(gateway: &TestGateway) -> String {
    gateway.sandbox.credential("opentoclose", "api_token")
}

/// A request to the sandbox's Open To Close API with the key, as a client of
/// the upstream would send it.
async fn upstream(
    gateway: &TestGateway,
    method: reqwest::Method,
    path: &str,
    query: &[(&str, String)],
) -> (u16, Value) {
    let mut query: Vec<(&str, String)> = query.to_vec();
    query.push(("api_token", token(gateway)));
    let response = gateway
        .sandbox
        .client
        .request(
            method,
            format!("{}{path}", gateway.sandbox.base("opentoclose")),
        )
        .query(&query)
        .send()
        .await
        .expect("upstream request");
    let status = response.status().as_u16();
    let body = response.json().await.unwrap_or(Value::Null);
    (status, body)
}

async fn upstream_get(gateway: &TestGateway, path: &str, query: &[(&str, String)]) -> Value {
    let (status, body) = upstream(gateway, reqwest::Method::GET, path, query).await;
    assert_eq!(status, 200, "GET {path}: {body}");
    body
}

/// Every record of an Open To Close list, read 100 at a time until an empty page.
async fn upstream_all(gateway: &TestGateway, path: &str, query: &[(&str, String)]) -> Vec<Value> {
    let mut all = Vec::new();
    loop {
        let mut page_query = query.to_vec();
        page_query.push(("limit", "100".into()));
        page_query.push(("offset", all.len().to_string()));
        let page = upstream_get(gateway, path, &page_query).await;
        let records = page.as_array().expect("bare array").clone();
        if records.is_empty() {
            return all;
        }
        all.extend(records);
    }
}

/// The links of one property, as the sandbox holds them.
async fn upstream_links(gateway: &TestGateway, property: &Value) -> Vec<Value> {
    upstream_all(
        gateway,
        &format!("/properties/{}/contacts", property["id"]),
        &[],
    )
    .await
}

/// Requests the sandbox has received from Open To Close clients so far.
async fn opentoclose_total(gateway: &TestGateway) -> u64 {
    gateway.sandbox.stats().await["by_source"]["opentoclose"]
        .as_u64()
        .expect("opentoclose count")
}

/// Per-route counts of Open To Close requests, to take differences of.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Counts {
    total: u64,
    property_list: u64,
    property: u64,
    links: u64,
    link: u64,
    contact: u64,
}

impl Counts {
    async fn read(gateway: &TestGateway) -> Counts {
        let sandbox = &gateway.sandbox;
        Counts {
            total: opentoclose_total(gateway).await,
            property_list: sandbox
                .route_count("opentoclose", "GET", "/v1/properties")
                .await,
            property: sandbox
                .route_count("opentoclose", "GET", PROPERTY_ROUTE)
                .await,
            links: sandbox.route_count("opentoclose", "GET", LINKS_ROUTE).await,
            link: sandbox.route_count("opentoclose", "GET", LINK_ROUTE).await,
            contact: sandbox
                .route_count("opentoclose", "GET", CONTACT_ROUTE)
                .await,
        }
    }

    fn since(self, before: Counts) -> Counts {
        Counts {
            total: self.total - before.total,
            property_list: self.property_list - before.property_list,
            property: self.property - before.property,
            links: self.links - before.links,
            link: self.link - before.link,
            contact: self.contact - before.contact,
        }
    }
}

/// Runs `query` and returns its data and the Open To Close requests it cost.
async fn measured(gateway: &TestGateway, query: &str, variables: Value) -> (Value, Counts) {
    let before = Counts::read(gateway).await;
    let data = gateway.data(query, variables).await;
    let cost = Counts::read(gateway).await.since(before);
    (data, cost)
}

fn trimmed(value: &Value) -> Option<String> {
    value
        .as_str()
        .map(str::trim)
        .filter(|text| !text.is_empty())
        .map(str::to_string)
}

/// What the gateway should show for a nested Open To Close contact, built
/// here from the wire fields.
fn expected_contact(contact: &Value) -> Value {
    let name = [&contact["first_name"], &contact["last_name"]]
        .into_iter()
        .filter_map(trimmed)
        .collect::<Vec<_>>()
        .join(" ");
    json!({
        "displayName": if name.is_empty() { Value::Null } else { Value::String(name) },
        "emails": trimmed(&contact["email"]).map_or(json!([]), |a| json!([{ "address": a }])),
        "phones": trimmed(&contact["phone"]).map_or(json!([]), |n| json!([{ "number": n }])),
    })
}

/// What W1 should answer for one property and its links.
fn expected_w1_node(property: &Value, links: &[Value]) -> Value {
    json!({
        "title": trimmed(&property["title"]),
        "contacts": links.iter().map(|link| json!({
            "role": trimmed(&link["role"]),
            "primary": link["primary"],
            "contact": expected_contact(&link["contact"]),
        })).collect::<Vec<_>>(),
    })
}

/// The first 50 properties and their links, as the sandbox holds them.
async fn w1_expectation(gateway: &TestGateway) -> (Value, usize) {
    let properties = upstream_get(
        gateway,
        "/properties",
        &[("limit", "50".into()), ("offset", "0".into())],
    )
    .await;
    let properties = properties.as_array().unwrap().clone();
    assert_eq!(
        properties.len(),
        50,
        "the sandbox seeds at least 50 properties"
    );
    let mut nodes = Vec::new();
    let mut link_count = 0;
    for property in &properties {
        let links = upstream_links(gateway, property).await;
        assert!(
            !links.is_empty() && links.len() < 100,
            "each property's links fit one upstream page"
        );
        assert!(links.iter().all(|link| link["contact"].is_object()));
        link_count += links.len();
        nodes.push(expected_w1_node(property, &links));
    }
    (json!({ "properties": { "nodes": nodes } }), link_count)
}

#[tokio::test]
async fn w1_costs_one_list_and_one_links_request_per_property() {
    let gateway = spawn_gateway().await;
    let (expected, _) = w1_expectation(&gateway).await;
    let (data, cost) = measured(&gateway, W1, json!({})).await;
    assert_eq!(data, expected);
    // One page of properties, then one links request per property (each
    // list fits a page); the links nest their contacts, so no contact GET.
    assert_eq!(cost.property_list, 1);
    assert_eq!(cost.links, 50);
    assert_eq!(cost.contact, 0);
    assert_eq!(cost.property, 0);
    assert_eq!(cost.total, 1 + 50);
}

#[tokio::test]
async fn w1_without_loaders_loads_every_contact_on_its_own() {
    let gateway = spawn_baseline_gateway().await;
    let (expected, link_count) = w1_expectation(&gateway).await;
    let (data, cost) = measured(&gateway, W1, json!({})).await;
    assert_eq!(data, expected);
    // The baseline: the list, one links request per property, and one
    // contact GET per link (nested contacts are not reused, nor are contacts
    // that recur across properties).
    assert_eq!(cost.property_list, 1);
    assert_eq!(cost.links, 50);
    assert_eq!(cost.contact, link_count as u64);
    assert_eq!(cost.total, 1 + 50 + link_count as u64);
}

#[tokio::test]
async fn one_request_fetches_each_record_at_most_once_across_paths() {
    let gateway = spawn_gateway().await;
    let first_six = upstream_get(
        &gateway,
        "/properties",
        &[("limit", "6".into()), ("offset", "0".into())],
    )
    .await;
    let first_six = first_six.as_array().unwrap().clone();
    let listed = &first_six[..5];
    // A property outside the listed page, asked for twice (`property` and
    // `node`) with its contacts.
    let single = &first_six[5];
    let mut linked_contacts: Vec<Value> = Vec::new();
    for property in listed {
        for link in upstream_links(&gateway, property).await {
            if !linked_contacts
                .iter()
                .any(|c| c["id"] == link["contact"]["id"])
            {
                linked_contacts.push(link["contact"].clone());
            }
        }
    }
    let named: Vec<&Value> = linked_contacts.iter().take(3).collect();
    let named_ids: Vec<String> = named
        .iter()
        .map(|c| contact_id(SourceKind::OpenToClose, &c["id"].to_string()))
        .collect();
    let single_links = upstream_links(&gateway, single).await;

    let query = r#"
    query Paths($ids: [ID!]!, $contact: ID!, $property: ID!) {
      properties(first: 5) { nodes { sourceId contacts { role contact { id displayName } } } }
      nodes(ids: $ids) { id ... on Contact { displayName } }
      contact(id: $contact) { id displayName }
      property(id: $property) { sourceId contacts { role contact { id } } }
      node(id: $property) { id ... on Property { title } }
    }"#;
    let (data, cost) = measured(
        &gateway,
        query,
        json!({ "ids": named_ids, "contact": named_ids[0], "property": property_id(&single["id"].to_string()) }),
    )
    .await;

    // Top-level fields run concurrently, so `nodes` and `contact` look their
    // contacts up before any links answer arrives: those contacts cost one
    // GET each, shared by both fields (the repeated id costs nothing). The
    // contacts nested in the links serve every `contact` under `properties`
    // and `property`. `property` and `node` share one GET of their property,
    // whose links are one more links request. So the minimum is: 1 list +
    // 5 links (listed page) + 1 property + 1 links (that property) + one
    // contact GET per distinct contact named by `nodes`/`contact`.
    let distinct_named = named.len() as u64;
    assert_eq!(cost.property_list, 1);
    assert_eq!(cost.links, 5 + 1, "one links request per distinct property");
    assert_eq!(
        cost.property, 1,
        "one GET for `property` and `node` together"
    );
    assert_eq!(
        cost.contact, distinct_named,
        "one GET per distinct named contact"
    );
    assert_eq!(cost.total, 1 + 5 + 1 + 1 + distinct_named);

    let nodes = data["nodes"].as_array().unwrap();
    for (node, contact) in nodes.iter().zip(&named) {
        assert_eq!(
            node["displayName"],
            expected_contact(contact)["displayName"]
        );
    }
    assert_eq!(data["contact"]["id"], named_ids[0]);
    assert_eq!(data["node"]["title"], single["title"]);
    assert_eq!(data["property"]["sourceId"], single["id"].to_string());
    assert_eq!(
        data["property"]["contacts"].as_array().unwrap().len(),
        single_links.len()
    );
    let listed_ids: Vec<String> = listed.iter().map(|p| p["id"].to_string()).collect();
    let returned_ids: Vec<String> = data["properties"]["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| n["sourceId"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(returned_ids, listed_ids);
}

const PROPERTY: &str = r#"
query One($id: ID!) {
  property(id: $id) { id sourceId title address city state postalCode status price createdAt raw }
  node(id: $id) { id ... on Property { sourceId title } }
}"#;

#[tokio::test]
async fn property_and_node_show_the_upstream_record() {
    let gateway = spawn_gateway().await;
    let record = upstream_get(&gateway, "/properties/3", &[]).await;
    let id = property_id("3");
    let data = gateway.data(PROPERTY, json!({ "id": id })).await;
    let property = &data["property"];
    assert_eq!(property["id"], id);
    assert_eq!(property["sourceId"], "3");
    assert_eq!(property["title"], record["title"]);
    assert_eq!(property["address"], record["address"]);
    assert_eq!(property["city"], record["city"]);
    assert_eq!(property["state"], record["state"]);
    assert_eq!(property["postalCode"], record["zip_code"]);
    assert_eq!(property["status"], record["status"]);
    assert_eq!(property["price"].as_f64(), record["price"].as_f64());
    let created =
        |text: &Value| chrono::DateTime::parse_from_rfc3339(text.as_str().unwrap()).unwrap();
    assert_eq!(created(&property["createdAt"]), created(&record["created"]));
    assert_eq!(property["raw"], record);
    assert_eq!(data["node"]["sourceId"], "3");
    assert_eq!(data["node"]["title"], record["title"]);

    // Unknown and foreign ids are null; the foreign ones cost no request.
    let before = opentoclose_total(&gateway).await;
    let data = gateway
        .data(PROPERTY, json!({ "id": property_id("00") }))
        .await;
    assert_eq!(data["property"], Value::Null);
    let foreign = GlobalId::new(NodeType::Property, SourceKind::Winnerr, "1").encode();
    let data = gateway.data(PROPERTY, json!({ "id": foreign })).await;
    assert_eq!(data["property"], Value::Null);
    assert_eq!(opentoclose_total(&gateway).await, before);
    let data = gateway
        .data(PROPERTY, json!({ "id": property_id("999999") }))
        .await;
    assert_eq!(data["property"], Value::Null);
    assert_eq!(data["node"], Value::Null);
    // A malformed id is a client error.
    let body = gateway
        .graphql(PROPERTY, json!({ "id": "not-an-id" }))
        .await;
    assert_eq!(
        body["errors"][0]["extensions"]["code"], "BAD_USER_INPUT",
        "{body}"
    );
}

const PAGE: &str = r#"
query Page($first: Int, $after: String, $filter: PropertyFilterInput) {
  properties(first: $first, after: $after, filter: $filter) {
    edges { cursor node { sourceId status } }
    pageInfo { hasNextPage hasPreviousPage endCursor }
    totalCount
  }
}"#;

/// Walks `properties` to its end, returning the ids seen and the pages taken.
async fn walk(gateway: &TestGateway, first: usize, filter: Value) -> (Vec<String>, u64, Value) {
    let mut ids = Vec::new();
    let mut after = Value::Null;
    let mut pages = 0;
    loop {
        let data = gateway
            .data(
                PAGE,
                json!({ "first": first, "after": after, "filter": filter }),
            )
            .await;
        pages += 1;
        let connection = &data["properties"];
        let edges = connection["edges"].as_array().unwrap();
        assert!(edges.len() <= first);
        assert_eq!(connection["pageInfo"]["hasPreviousPage"], !after.is_null());
        ids.extend(
            edges
                .iter()
                .map(|e| e["node"]["sourceId"].as_str().unwrap().to_string()),
        );
        if connection["pageInfo"]["hasNextPage"] == false {
            return (ids, pages, connection["totalCount"].clone());
        }
        assert_eq!(edges.len(), first);
        assert_eq!(connection["totalCount"], Value::Null);
        after = connection["pageInfo"]["endCursor"].clone();
        assert!(pages < 1000, "the walk did not end");
    }
}

#[tokio::test]
async fn properties_walk_to_the_end_and_filter_by_status() {
    let gateway = spawn_gateway().await;
    let all = upstream_all(&gateway, "/properties", &[]).await;
    let all_ids: Vec<String> = all.iter().map(|p| p["id"].to_string()).collect();

    let before = Counts::read(&gateway).await;
    let (ids, pages, total) = walk(&gateway, 7, Value::Null).await;
    let cost = Counts::read(&gateway).await.since(before);
    assert_eq!(ids, all_ids);
    assert_eq!(total, all.len());
    // Each page asks for one record more than it shows, in one request.
    assert_eq!(pages, all.len().div_ceil(7) as u64);
    assert_eq!(cost.property_list, pages);
    assert_eq!(cost.total, pages);

    let pending = upstream_all(&gateway, "/properties", &[("status", "Pending".into())]).await;
    assert!(!pending.is_empty() && pending.len() < all.len());
    let (ids, _, total) = walk(&gateway, 100, json!({ "status": " pending " })).await;
    let pending_ids: Vec<String> = pending.iter().map(|p| p["id"].to_string()).collect();
    assert_eq!(ids, pending_ids);
    assert_eq!(total, pending.len());

    // Bad arguments are client errors, without any request.
    let before = opentoclose_total(&gateway).await;
    for variables in [
        json!({ "first": 101 }),
        json!({ "first": -1 }),
        json!({ "first": 5, "after": "bm9wZQ" }),
    ] {
        let body = gateway.graphql(PAGE, variables).await;
        assert_eq!(
            body["errors"][0]["extensions"]["code"], "BAD_USER_INPUT",
            "{body}"
        );
    }
    assert_eq!(opentoclose_total(&gateway).await, before);
}

#[tokio::test]
async fn property_contacts_filter_by_role_from_one_read() {
    let gateway = spawn_gateway().await;
    // A property with a buyer and at least one other role.
    let properties = upstream_all(&gateway, "/properties", &[]).await;
    let mut chosen = None;
    for property in &properties {
        let links = upstream_links(&gateway, property).await;
        let has_buyer = links.iter().any(|l| l["role"] == "Buyer");
        if has_buyer && links.iter().any(|l| l["role"] != "Buyer") {
            chosen = Some((property.clone(), links));
            break;
        }
    }
    let (property, links) = chosen.expect("a property with a buyer and others");
    let buyers = upstream_all(
        &gateway,
        &format!("/properties/{}/contacts", property["id"]),
        &[("role", "buyer".into())],
    )
    .await;
    let query = r#"
    query Roles($id: ID!) {
      property(id: $id) {
        all: contacts { role contact { id } }
        buyers: contacts(role: "BUYER") { role primary startDate notes contact { id } raw }
      }
    }"#;
    let (data, cost) = measured(
        &gateway,
        query,
        json!({ "id": property_id(&property["id"].to_string()) }),
    )
    .await;
    let ids = |records: &[Value]| -> Vec<String> {
        records
            .iter()
            .map(|l| contact_id(SourceKind::OpenToClose, &l["contact_id"].to_string()))
            .collect()
    };
    let shown = |list: &Value| -> Vec<String> {
        list.as_array()
            .unwrap()
            .iter()
            .map(|l| l["contact"]["id"].as_str().unwrap().to_string())
            .collect()
    };
    assert_eq!(shown(&data["property"]["all"]), ids(&links));
    assert_eq!(shown(&data["property"]["buyers"]), ids(&buyers));
    for (shown, record) in data["property"]["buyers"]
        .as_array()
        .unwrap()
        .iter()
        .zip(&buyers)
    {
        assert_eq!(shown["role"], "Buyer");
        assert_eq!(shown["primary"], record["primary"]);
        assert_eq!(shown["startDate"], record["start_date"]);
        assert_eq!(shown["notes"], record["notes"]);
        assert_eq!(shown["raw"], *record);
    }
    // The property, then its links once for both role selections.
    assert_eq!(cost.property, 1);
    assert_eq!(cost.links, 1);
    assert_eq!(cost.total, 2);
}

#[tokio::test]
async fn contact_properties_come_from_one_index_per_request() {
    // `Contact.properties` is estimated above the default upstream budget
    // (every property's links); this test is about what it answers.
    let gateway = crate::helpers::spawn_gateway_configured(|config| {
        config.limits.max_upstream_requests = 100_000;
    })
    .await;
    let properties = upstream_all(&gateway, "/properties", &[]).await;
    // Every link, by contact id, in property order.
    let mut by_contact: BTreeMap<String, Vec<(String, Value)>> = BTreeMap::new();
    for property in &properties {
        for link in upstream_links(&gateway, property).await {
            by_contact
                .entry(link["contact_id"].to_string())
                .or_default()
                .push((property["id"].to_string(), link["role"].clone()));
        }
    }
    // A contact on several properties (an agent from the shared pool) and
    // one on a single property.
    let busy = by_contact
        .iter()
        .max_by_key(|(_, links)| links.len())
        .map(|(id, _)| id.clone())
        .unwrap();
    assert!(by_contact[&busy].len() > 1);
    let quiet = by_contact
        .iter()
        .find(|(_, links)| links.len() == 1)
        .map(|(id, _)| id.clone())
        .unwrap();
    let query = r#"
    query Linked($busy: ID!, $quiet: ID!) {
      busy: contact(id: $busy) { properties { role property { sourceId title } } }
      quiet: contact(id: $quiet) { properties { role property { sourceId } } }
    }"#;
    let (data, cost) = measured(
        &gateway,
        query,
        json!({
            "busy": contact_id(SourceKind::OpenToClose, &busy),
            "quiet": contact_id(SourceKind::OpenToClose, &quiet),
        }),
    )
    .await;
    for (alias, id) in [("busy", &busy), ("quiet", &quiet)] {
        let shown: Vec<(String, Value)> = data[alias]["properties"]
            .as_array()
            .unwrap()
            .iter()
            .map(|l| {
                (
                    l["property"]["sourceId"].as_str().unwrap().to_string(),
                    l["role"].clone(),
                )
            })
            .collect();
        assert_eq!(shown, by_contact[id], "{alias}");
    }
    // The two contacts, then the index, built once for both: every page of
    // properties (100 a page; a short page, possibly empty, ends the list)
    // and every property's links.
    let property_pages = (properties.len() / 100 + 1) as u64;
    assert_eq!(cost.contact, 2);
    assert_eq!(cost.property_list, property_pages);
    assert_eq!(cost.links, properties.len() as u64);
    assert_eq!(cost.property, 0, "nested properties serve `property`");
    assert_eq!(cost.total, 2 + property_pages + properties.len() as u64);

    // Contacts of other sources have no properties, at no Open To Close cost.
    let query =
        r#"{ contacts(sources: [WINNERR], first: 5) { nodes { source properties { role } } } }"#;
    let (data, cost) = measured(&gateway, query, json!({})).await;
    let nodes = data["contacts"]["nodes"].as_array().unwrap();
    assert_eq!(nodes.len(), 5);
    for node in nodes {
        assert_eq!(node["properties"], json!([]));
    }
    assert_eq!(cost.total, 0);
}

const LINK: &str = r#"
mutation Link($input: LinkContactToPropertyInput!) {
  linkContactToProperty(input: $input) {
    propertyContact { role primary startDate notes contact { id displayName } property { id title } }
    clientMutationId
  }
}"#;

const UPDATE: &str = r#"
mutation Update($input: UpdatePropertyContactInput!) {
  updatePropertyContact(input: $input) {
    propertyContact { role primary startDate notes contact { id } }
    clientMutationId
  }
}"#;

const UNLINK: &str = r#"
mutation Unlink($input: UnlinkContactFromPropertyInput!) {
  unlinkContactFromProperty(input: $input) { propertyId contactId clientMutationId }
}"#;

const READ_BACK: &str = r#"
query Back($id: ID!) { property(id: $id) { contacts { role primary startDate notes contact { id } } } }"#;

/// The one error of a response, checked for the key.
fn only_error<'a>(body: &'a Value, token: &str) -> &'a Value {
    assert!(!body.to_string().contains(token), "the key leaked: {body}");
    let errors = body["errors"]
        .as_array()
        .unwrap_or_else(|| panic!("no errors: {body}"));
    assert_eq!(errors.len(), 1, "{body}");
    &errors[0]
}

#[tokio::test]
async fn link_update_and_unlink_a_contact() {
    let gateway = spawn_gateway().await;
    let property = upstream_get(&gateway, "/properties/1", &[]).await;
    let links = upstream_links(&gateway, &property).await;
    let linked: BTreeSet<String> = links.iter().map(|l| l["contact_id"].to_string()).collect();
    let newcomer = (1..=600u64)
        .map(|id| id.to_string())
        .find(|id| !linked.contains(id))
        .unwrap();
    let record = upstream_get(&gateway, &format!("/contacts/{newcomer}"), &[]).await;
    let pid = property_id("1");
    let cid = contact_id(SourceKind::OpenToClose, &newcomer);

    let data = gateway
        .data(
            LINK,
            json!({ "input": {
                "propertyId": pid, "contactId": cid, "role": "Inspector", "primary": false,
                "startDate": "2024-03-01", "notes": "Checks the roof", "clientMutationId": "m1"
            } }),
        )
        .await;
    let payload = &data["linkContactToProperty"];
    assert_eq!(payload["clientMutationId"], "m1");
    let link = &payload["propertyContact"];
    assert_eq!(link["role"], "Inspector");
    assert_eq!(link["primary"], false);
    assert_eq!(link["startDate"], "2024-03-01");
    assert_eq!(link["notes"], "Checks the roof");
    assert_eq!(link["contact"]["id"], cid);
    assert_eq!(
        link["contact"]["displayName"],
        expected_contact(&record)["displayName"]
    );
    assert_eq!(link["property"]["id"], pid);
    assert_eq!(link["property"]["title"], property["title"]);
    // Read back, from the upstream and through the gateway.
    let stored = upstream_get(&gateway, &format!("/properties/1/contacts/{newcomer}"), &[]).await;
    assert_eq!(stored["role"], "Inspector");
    assert_eq!(stored["start_date"], "2024-03-01");
    let data = gateway.data(READ_BACK, json!({ "id": pid })).await;
    let shown = data["property"]["contacts"].as_array().unwrap();
    assert_eq!(shown.len(), links.len() + 1);
    assert!(shown
        .iter()
        .any(|l| l["contact"]["id"] == cid && l["role"] == "Inspector"));

    let token = token(&gateway);
    // Linking the same contact again is refused by the upstream, naming the field.
    let body = gateway
        .graphql(
            LINK,
            json!({ "input": { "propertyId": pid, "contactId": cid, "role": "Buyer" } }),
        )
        .await;
    let error = only_error(&body, &token);
    assert_eq!(error["extensions"]["code"], "BAD_USER_INPUT", "{body}");
    assert_eq!(error["extensions"]["field"], "contactId");
    assert_eq!(error["extensions"]["upstreamStatus"], 400);

    let data = gateway
        .data(
            UPDATE,
            json!({ "input": {
                "propertyId": pid, "contactId": cid, "role": "Buyer Agent", "primary": true,
                "notes": null, "clientMutationId": "m2"
            } }),
        )
        .await;
    let payload = &data["updatePropertyContact"];
    assert_eq!(payload["clientMutationId"], "m2");
    assert_eq!(payload["propertyContact"]["role"], "Buyer Agent");
    assert_eq!(payload["propertyContact"]["primary"], true);
    assert_eq!(payload["propertyContact"]["notes"], Value::Null);
    assert_eq!(payload["propertyContact"]["startDate"], "2024-03-01");
    let stored = upstream_get(&gateway, &format!("/properties/1/contacts/{newcomer}"), &[]).await;
    assert_eq!(stored["role"], "Buyer Agent");
    assert_eq!(stored["primary"], true);
    assert_eq!(stored["notes"], Value::Null);

    // An update that changes nothing is refused before any request.
    let before = opentoclose_total(&gateway).await;
    let body = gateway
        .graphql(
            UPDATE,
            json!({ "input": { "propertyId": pid, "contactId": cid } }),
        )
        .await;
    assert_eq!(
        only_error(&body, &token)["extensions"]["code"],
        "BAD_USER_INPUT"
    );
    assert_eq!(opentoclose_total(&gateway).await, before);

    let data = gateway
        .data(
            UNLINK,
            json!({ "input": { "propertyId": pid, "contactId": cid, "clientMutationId": "m3" } }),
        )
        .await;
    assert_eq!(
        data["unlinkContactFromProperty"],
        json!({ "propertyId": pid, "contactId": cid, "clientMutationId": "m3" })
    );
    let (status, _) = upstream(
        &gateway,
        reqwest::Method::GET,
        &format!("/properties/1/contacts/{newcomer}"),
        &[],
    )
    .await;
    assert_eq!(status, 404);
    let data = gateway.data(READ_BACK, json!({ "id": pid })).await;
    let shown = data["property"]["contacts"].as_array().unwrap();
    assert_eq!(shown.len(), links.len());
    assert!(shown.iter().all(|l| l["contact"]["id"] != cid));
    // The contact itself stays.
    upstream_get(&gateway, &format!("/contacts/{newcomer}"), &[]).await;

    // Unlinking or updating a link that does not exist is NOT_FOUND.
    for (mutation, input) in [
        (UNLINK, json!({ "propertyId": pid, "contactId": cid })),
        (
            UPDATE,
            json!({ "propertyId": pid, "contactId": cid, "role": "Buyer" }),
        ),
    ] {
        let body = gateway.graphql(mutation, json!({ "input": input })).await;
        assert_eq!(
            only_error(&body, &token)["extensions"]["code"],
            "NOT_FOUND",
            "{body}"
        );
    }
}

#[tokio::test]
async fn link_errors_are_classified_and_bad_ids_cost_nothing() {
    let gateway = spawn_gateway().await;
    let token = token(&gateway);
    let pid = property_id("1");
    let cid = contact_id(SourceKind::OpenToClose, "5");

    // An unknown property: the upstream's 404.
    let body = gateway
        .graphql(
            LINK,
            json!({ "input": { "propertyId": property_id("999999"), "contactId": cid } }),
        )
        .await;
    let error = only_error(&body, &token);
    assert_eq!(error["extensions"]["code"], "NOT_FOUND", "{body}");
    assert_eq!(error["extensions"]["source"], "opentoclose");

    // A contact the upstream does not know: its field error, mapped to the input field.
    let body = gateway
        .graphql(
            LINK,
            json!({ "input": { "propertyId": pid, "contactId": contact_id(SourceKind::OpenToClose, "999999") } }),
        )
        .await;
    let error = only_error(&body, &token);
    assert_eq!(error["extensions"]["code"], "BAD_USER_INPUT", "{body}");
    assert_eq!(error["extensions"]["field"], "contactId");
    assert_eq!(error["extensions"]["upstreamStatus"], 400);

    // Everything below is refused before any upstream request.
    let before = gateway.sandbox.stats().await["total"].as_u64().unwrap();
    let winnerr_contact = contact_id(SourceKind::Winnerr, "contact_8d1f0a2e");
    let cases = [
        (
            LINK,
            json!({ "propertyId": pid, "contactId": winnerr_contact }),
            "UNSUPPORTED_BY_SOURCE",
            "contactId",
        ),
        (
            UNLINK,
            json!({ "propertyId": pid, "contactId": winnerr_contact }),
            "UNSUPPORTED_BY_SOURCE",
            "contactId",
        ),
        (
            LINK,
            json!({ "propertyId": "garbage", "contactId": cid }),
            "BAD_USER_INPUT",
            "propertyId",
        ),
        (
            LINK,
            json!({ "propertyId": cid, "contactId": cid }),
            "BAD_USER_INPUT",
            "propertyId",
        ),
        (
            LINK,
            json!({ "propertyId": pid, "contactId": pid }),
            "BAD_USER_INPUT",
            "contactId",
        ),
        (
            UPDATE,
            json!({ "propertyId": pid, "contactId": contact_id(SourceKind::OpenToClose, "abc"), "role": "Buyer" }),
            "BAD_USER_INPUT",
            "contactId",
        ),
        (
            UNLINK,
            json!({ "propertyId": property_id("0"), "contactId": cid }),
            "BAD_USER_INPUT",
            "propertyId",
        ),
        (
            LINK,
            json!({ "propertyId": pid, "contactId": cid, "startDate": "2024-13-01" }),
            "BAD_USER_INPUT",
            "startDate",
        ),
        (
            UPDATE,
            json!({ "propertyId": pid, "contactId": cid, "startDate": "01/02/2024" }),
            "BAD_USER_INPUT",
            "startDate",
        ),
        (
            LINK,
            json!({ "propertyId": pid, "contactId": cid, "role": "r".repeat(256) }),
            "BAD_USER_INPUT",
            "role",
        ),
    ];
    for (mutation, input, code, field) in cases {
        let body = gateway.graphql(mutation, json!({ "input": input })).await;
        let error = only_error(&body, &token);
        assert_eq!(error["extensions"]["code"], code, "{input}: {body}");
        assert_eq!(error["extensions"]["field"], field, "{input}: {body}");
    }
    let after = gateway.sandbox.stats().await["total"].as_u64().unwrap();
    // The sandbox counts every request to its emulators: none arrived.
    assert_eq!(after, before);
}

#[tokio::test]
async fn failing_upstreams_give_well_formed_errors() {
    // `Contact.properties` is estimated above the default upstream budget
    // (every property's links); this test is about what it answers.
    let gateway = crate::helpers::spawn_gateway_configured(|config| {
        config.limits.max_upstream_requests = 100_000;
    })
    .await;
    let token = token(&gateway);
    gateway
        .sandbox
        .configure(json!({ "opentoclose": { "faults": [{ "kind": "http_500", "rate": 1.0 }] } }))
        .await;
    let body = gateway.graphql(W1, json!({})).await;
    let error = only_error(&body, &token);
    assert_eq!(error["extensions"]["code"], "UPSTREAM_ERROR", "{body}");
    assert_eq!(error["extensions"]["upstreamStatus"], 500);
    assert_eq!(body["data"], Value::Null);

    let body = gateway
        .graphql(PROPERTY, json!({ "id": property_id("1") }))
        .await;
    assert_eq!(
        body["errors"][0]["extensions"]["code"], "UPSTREAM_ERROR",
        "{body}"
    );
    assert_eq!(body["data"]["property"], Value::Null);

    for (fault, code) in [
        ("malformed_json", "UPSTREAM_ERROR"),
        ("http_429", "UPSTREAM_UNAVAILABLE"),
    ] {
        gateway
            .sandbox
            .configure(json!({ "opentoclose": { "faults": [{ "kind": fault, "rate": 1.0 }] } }))
            .await;
        let body = gateway
            .graphql(
                "query($id: ID!) { contact(id: $id) { properties { role } } }",
                json!({ "id": contact_id(SourceKind::OpenToClose, "1") }),
            )
            .await;
        let error = only_error(&body, &token);
        assert_eq!(error["extensions"]["code"], code, "{fault}: {body}");
        let body = gateway
            .graphql(
                LINK,
                json!({ "input": { "propertyId": property_id("1"), "contactId": contact_id(SourceKind::OpenToClose, "2") } }),
            )
            .await;
        let error = only_error(&body, &token);
        assert_eq!(error["extensions"]["code"], code, "{fault}: {body}");
    }

    // With the faults gone, the same gateway answers again.
    gateway
        .sandbox
        .configure(json!({ "opentoclose": { "faults": [] } }))
        .await;
    let data = gateway
        .data("{ properties(first: 2) { nodes { sourceId } } }", json!({}))
        .await;
    assert_eq!(data["properties"]["nodes"].as_array().unwrap().len(), 2);
}

#[tokio::test]
async fn properties_need_open_to_close() {
    let gateway = spawn_gateway_configured(|config| {
        config
            .sources
            .retain(|source| source.kind != SourceKind::OpenToClose)
    })
    .await;
    for (query, variables) in [
        ("{ properties { nodes { title } } }", json!({})),
        (
            "query($id: ID!) { property(id: $id) { title } }",
            json!({ "id": property_id("1") }),
        ),
        (
            LINK,
            json!({ "input": { "propertyId": property_id("1"), "contactId": contact_id(SourceKind::OpenToClose, "2") } }),
        ),
    ] {
        let body = gateway.graphql(query, variables).await;
        let error = &body["errors"][0];
        assert_eq!(
            error["extensions"]["code"], "UNSUPPORTED_BY_SOURCE",
            "{body}"
        );
        assert!(
            error["message"]
                .as_str()
                .unwrap()
                .contains("not configured"),
            "{body}"
        );
    }
    assert_eq!(gateway.sandbox.stats().await["total"], 0);
}
