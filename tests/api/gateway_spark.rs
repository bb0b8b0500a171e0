//! The Spark adapter through the gateway: GraphQL over HTTP against the Spark
//! emulator. Expected answers come from the emulator itself, asked over HTTP
//! with the sandbox's credentials, and request counts from its statistics.

use std::cmp::Ordering;
use std::collections::HashSet;
use std::time::Duration;

use chrono::{DateTime, Utc};
use contact_gateway::domain::{
    Contact, ContactOrder, Direction, GlobalId, NodeType, OrderField, SourceKind,
};
use serde_json::{json, Value};

use crate::helpers::{
    spawn_cached_gateway, spawn_gateway, spawn_gateway_with, spawn_sandbox, TestGateway,
};

const CONTACT_FIELDS: &str = "id sourceId firstName lastName displayName \
    emails { address label primary } phones { number e164 label } \
    address { street city region postalCode country } organization title type status \
    tags leadScore notes assignedTo createdAt updatedAt raw";

const LIST: &str =
    "query($first: Int, $after: String, $order: ContactOrderInput, $filter: ContactFilterInput) {
    contacts(sources: [SPARK], first: $first, after: $after, orderBy: $order, filter: $filter) {
        totalCount
        pageInfo { hasNextPage endCursor }
        edges { cursor node { sourceId firstName lastName displayName createdAt updatedAt
            emails { address } phones { number } tags address { city } status } }
    }
}";

fn global_id(source_id: &str) -> String {
    GlobalId::new(NodeType::Contact, SourceKind::Spark, source_id).encode()
}

/// `GET` on the emulator with the sandbox's credentials, as the gateway would send it.
async fn spark_get(gateway: &TestGateway, path: &str, query: &[(&str, &str)]) -> Value {
    let sandbox = &gateway.sandbox;
    sandbox
        .client
        .get(format!("{}{path}", sandbox.base("spark")))
        .query(query)
        .header(
            "Authorization",
            format!("Bearer {}", sandbox.credential("spark", "token")),
        )
        .header(
            "X-SparkApi-User-Agent",
            sandbox.credential("spark", "user_agent"),
        )
        .send()
        .await
        .expect("spark request")
        .json()
        .await
        .expect("spark body")
}

/// Every record a Spark list holds for `filter`, read page by page.
async fn spark_all(gateway: &TestGateway, path: &str, filter: Option<&str>) -> Vec<Value> {
    let mut records = Vec::new();
    for page in 1.. {
        let page_text = page.to_string();
        let mut query = vec![("_limit", "25"), ("_page", page_text.as_str())];
        if let Some(filter) = filter {
            query.push(("_filter", filter));
        }
        let body = spark_get(gateway, path, &query).await;
        let results = body["D"]["Results"].as_array().expect("results").clone();
        let done = results.len() < 25;
        records.extend(results);
        if done {
            break;
        }
    }
    records
}

fn ids(records: &[Value]) -> Vec<String> {
    records
        .iter()
        .map(|record| record["Id"].as_str().expect("Id").to_string())
        .collect()
}

/// How many requests the emulator has received from anyone, for Spark.
async fn spark_requests(gateway: &TestGateway) -> u64 {
    gateway.sandbox.stats().await["by_source"]["spark"]
        .as_u64()
        .expect("spark count")
}

fn sorted(mut values: Vec<String>) -> Vec<String> {
    values.sort();
    values
}

async fn list_ids(gateway: &TestGateway, filter: Value) -> (Vec<String>, Value) {
    let data = gateway
        .data(LIST, json!({"first": 100, "filter": filter}))
        .await;
    let connection = &data["contacts"];
    assert_eq!(connection["pageInfo"]["hasNextPage"], false, "{filter}");
    let found = connection["edges"]
        .as_array()
        .unwrap()
        .iter()
        .map(|edge| edge["node"]["sourceId"].as_str().unwrap().to_string())
        .collect();
    (found, connection["totalCount"].clone())
}

#[tokio::test]
async fn contact_maps_every_attribute_of_the_record() {
    let gateway = spawn_gateway().await;
    // A contact with a secondary email and notes, to see both mapped.
    let records = spark_all(&gateway, "/contacts", None).await;
    let record = records
        .iter()
        .find(|r| {
            r["SecondaryEmails"]
                .as_array()
                .is_some_and(|l| !l.is_empty())
        })
        .expect("a contact with a secondary email");
    let id = record["Id"].as_str().unwrap();
    let expected = spark_get(
        &gateway,
        &format!("/contacts/{id}"),
        &[("_expand", "Notes")],
    )
    .await["D"]["Results"][0]
        .clone();
    let query = format!("query($id: ID!) {{ contact(id: $id) {{ {CONTACT_FIELDS} }} }}");
    let data = gateway.data(&query, json!({"id": global_id(id)})).await;
    let contact = &data["contact"];
    assert_eq!(contact["sourceId"], id);
    assert_eq!(contact["raw"], expected);
    assert_eq!(contact["displayName"], expected["DisplayName"]);
    assert_eq!(contact["firstName"], expected["GivenName"]);
    assert_eq!(contact["lastName"], expected["FamilyName"]);
    assert_eq!(
        contact["emails"][0]["address"],
        expected["PrimaryEmail"].as_str().unwrap().trim()
    );
    assert_eq!(contact["emails"][0]["primary"], true);
    assert_eq!(
        contact["emails"][1]["address"],
        expected["SecondaryEmails"][0]
    );
    assert_eq!(contact["emails"][1]["label"], "secondary");
    assert_eq!(
        contact["phones"][0]["number"],
        expected["PrimaryPhoneNumber"]
    );
    assert_eq!(contact["phones"][0]["label"], "primary");
    assert!(contact["phones"][0]["e164"].is_string());
    assert_eq!(contact["address"]["street"], expected["HomeStreetAddress"]);
    assert_eq!(contact["address"]["city"], expected["HomeLocality"]);
    assert_eq!(contact["address"]["region"], expected["HomeRegion"]);
    assert_eq!(contact["address"]["postalCode"], expected["HomePostalCode"]);
    assert_eq!(contact["address"]["country"], Value::Null);
    assert_eq!(contact["organization"], expected["Organization"]);
    assert_eq!(contact["title"], expected["Position"]);
    assert_eq!(contact["status"], "Connected");
    assert_eq!(contact["type"], Value::Null);
    assert_eq!(contact["leadScore"], Value::Null);
    assert_eq!(contact["tags"], expected["Tags"]);
    assert_eq!(contact["assignedTo"], expected["OwnerId"]);
    let created: DateTime<Utc> = contact["createdAt"].as_str().unwrap().parse().unwrap();
    let expected_created: DateTime<Utc> = expected["CreatedTimestamp"]
        .as_str()
        .unwrap()
        .parse()
        .unwrap();
    assert_eq!(created, expected_created);

    // Notes are the most recent note of the `Notes` expansion.
    let with_notes = records
        .iter()
        .map(|r| r["Id"].as_str().unwrap())
        .collect::<Vec<_>>();
    let mut checked_notes = false;
    for id in with_notes.into_iter().take(60) {
        let full = spark_get(
            &gateway,
            &format!("/contacts/{id}"),
            &[("_expand", "Notes")],
        )
        .await["D"]["Results"][0]
            .clone();
        let notes = full["Notes"].as_array().cloned().unwrap_or_default();
        if notes.is_empty() {
            continue;
        }
        let latest = notes
            .iter()
            .max_by_key(|note| note["CreatedTimestamp"].as_str().unwrap().to_string())
            .unwrap();
        let data = gateway
            .data(
                "query($id: ID!) { contact(id: $id) { notes } }",
                json!({"id": global_id(id)}),
            )
            .await;
        assert_eq!(data["contact"]["notes"], latest["Note"]);
        checked_notes = true;
        break;
    }
    assert!(
        checked_notes,
        "no seeded contact with notes among the first 60"
    );
}

#[tokio::test]
async fn impossible_and_unknown_ids_are_null() {
    let gateway = spawn_gateway().await;
    let before = spark_requests(&gateway).await;
    for impossible in ["abc", "1234", "2024011510300012345600000x"] {
        let data = gateway
            .data(
                "query($id: ID!) { contact(id: $id) { id } }",
                json!({"id": global_id(impossible)}),
            )
            .await;
        assert_eq!(data["contact"], Value::Null);
    }
    assert_eq!(
        spark_requests(&gateway).await,
        before,
        "no request for impossible ids"
    );
    let data = gateway
        .data(
            "query($id: ID!) { contact(id: $id) { id } }",
            json!({"id": global_id("11111111111111111111111111")}),
        )
        .await;
    assert_eq!(data["contact"], Value::Null);
    assert_eq!(spark_requests(&gateway).await, before + 1);
}

#[tokio::test]
async fn nodes_batch_25_ids_per_request() {
    let gateway = spawn_gateway().await;
    let records = spark_all(&gateway, "/contacts", None).await;
    let wanted: Vec<String> = ids(&records).into_iter().rev().take(50).collect();
    let before_list = gateway
        .sandbox
        .route_count("spark", "GET", "/v1/contacts")
        .await;
    let before_all = spark_requests(&gateway).await;
    let global: Vec<String> = wanted.iter().map(|id| global_id(id)).collect();
    let data = gateway
        .data(
            "query($ids: [ID!]!) { nodes(ids: $ids) { ... on Contact { sourceId } } }",
            json!({"ids": global}),
        )
        .await;
    let found: Vec<String> = data["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|node| node["sourceId"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(found, wanted, "every contact, in the order asked");
    let list_requests = gateway
        .sandbox
        .route_count("spark", "GET", "/v1/contacts")
        .await
        - before_list;
    assert_eq!(list_requests, 2, "50 ids are two chunks of 25");
    assert_eq!(spark_requests(&gateway).await - before_all, 2);
}

#[tokio::test]
async fn nodes_find_unconnected_contacts_with_one_more_request() {
    let gateway = spawn_gateway().await;
    let connected = ids(&spark_all(&gateway, "/contacts", None).await);
    let unconnected = ids(&spark_all(&gateway, "/contacts/unconnected", None).await);
    assert!(!unconnected.is_empty());
    let unknown = "99999999999999999999999999".to_string();
    let wanted = [
        connected[0].clone(),
        unconnected[0].clone(),
        unknown,
        connected[1].clone(),
        unconnected[1].clone(),
        connected[0].clone(),
    ];
    let before_list = gateway
        .sandbox
        .route_count("spark", "GET", "/v1/contacts")
        .await;
    let before_unconnected = gateway
        .sandbox
        .route_count("spark", "GET", "/v1/contacts/unconnected")
        .await;
    let global: Vec<String> = wanted.iter().map(|id| global_id(id)).collect();
    let data = gateway
        .data(
            "query($ids: [ID!]!) { nodes(ids: $ids) { ... on Contact { sourceId status } } }",
            json!({"ids": global}),
        )
        .await;
    let nodes = data["nodes"].as_array().unwrap();
    assert_eq!(nodes[0]["sourceId"], connected[0].as_str());
    assert_eq!(nodes[1]["sourceId"], unconnected[0].as_str());
    assert_eq!(nodes[1]["status"], "Unconnected");
    assert_eq!(nodes[2], Value::Null);
    assert_eq!(nodes[3]["sourceId"], connected[1].as_str());
    assert_eq!(nodes[4]["sourceId"], unconnected[1].as_str());
    assert_eq!(nodes[5]["sourceId"], connected[0].as_str());
    let route = |route: &'static str| gateway.sandbox.route_count("spark", "GET", route);
    assert_eq!(route("/v1/contacts").await - before_list, 1);
    assert_eq!(
        route("/v1/contacts/unconnected").await - before_unconnected,
        1
    );
}

#[tokio::test]
async fn a_first_page_in_a_native_order_costs_one_or_two_requests() {
    let gateway = spawn_gateway().await;
    let expected: Vec<String> = ids(&spark_all(&gateway, "/contacts", None).await);
    let order = json!({"field": "CREATED_AT"});
    for (first, requests) in [(10, 1), (25, 2)] {
        let before = spark_requests(&gateway).await;
        let data = gateway
            .data(LIST, json!({"first": first, "order": order}))
            .await;
        let spent = spark_requests(&gateway).await - before;
        let edges = data["contacts"]["edges"].as_array().unwrap();
        assert_eq!(edges.len(), first);
        assert_eq!(data["contacts"]["totalCount"], expected.len());
        assert_eq!(data["contacts"]["pageInfo"]["hasNextPage"], true);
        // The emulator's default order is by creation time.
        let got: Vec<&str> = edges
            .iter()
            .map(|e| e["node"]["sourceId"].as_str().unwrap())
            .collect();
        let mut wanted: Vec<&str> = expected.iter().map(String::as_str).collect();
        wanted.truncate(first);
        assert_eq!(got, wanted);
        println!("contacts(first: {first}, CREATED_AT): {spent} Spark requests");
        // With `first: 25` the gateway asks for 26 contacts (one more, to know
        // whether a next page exists), which no single Spark page of 25 holds;
        // and the contacts sharing the last row's time wait for the next page.
        assert_eq!(spent, requests, "first: {first}");
    }
}

/// A contact built from a list edge, to compare with the gateway's own order.
fn contact_of(node: &Value) -> Contact {
    let text = |key: &str| node[key].as_str().map(str::to_string);
    let time = |key: &str| {
        node[key]
            .as_str()
            .map(|t| t.parse::<DateTime<Utc>>().unwrap())
    };
    let mut contact = Contact::new(
        SourceKind::Spark,
        node["sourceId"].as_str().unwrap(),
        Value::Null,
    );
    contact.first_name = text("firstName");
    contact.last_name = text("lastName");
    contact.display_name = text("displayName");
    contact.created_at = time("createdAt");
    contact.updated_at = time("updatedAt");
    contact
}

/// Walks a list to its end and checks every contact comes once, in order.
async fn walk(
    gateway: &TestGateway,
    order: ContactOrder,
    page_size: usize,
    filter: Value,
    expected_ids: &[String],
) {
    let order_input = json!({
        "field": match order.field {
            OrderField::Name => "NAME",
            OrderField::CreatedAt => "CREATED_AT",
            OrderField::UpdatedAt => "UPDATED_AT",
        },
        "direction": match order.direction { Direction::Asc => "ASC", Direction::Desc => "DESC" },
    });
    let mut after: Option<String> = None;
    let mut walked: Vec<Contact> = Vec::new();
    loop {
        let data = gateway
            .data(
                LIST,
                json!({"first": page_size, "after": after, "order": order_input, "filter": filter}),
            )
            .await;
        let connection = &data["contacts"];
        let edges = connection["edges"].as_array().unwrap();
        assert!(edges.len() <= page_size);
        // Every filter walked here is applied by Spark exactly, so each page
        // knows the total, the later ones included.
        assert_eq!(connection["totalCount"], expected_ids.len(), "{order:?}");
        walked.extend(edges.iter().map(|edge| contact_of(&edge["node"])));
        if connection["pageInfo"]["hasNextPage"] == false {
            break;
        }
        assert_eq!(edges.len(), page_size, "a page short of a next page");
        after = connection["pageInfo"]["endCursor"]
            .as_str()
            .map(str::to_string);
        assert!(walked.len() <= expected_ids.len(), "the walk does not end");
    }
    let walked_ids: Vec<String> = walked.iter().map(|c| c.source_id.clone()).collect();
    let unique: HashSet<&String> = walked_ids.iter().collect();
    assert_eq!(unique.len(), walked_ids.len(), "a contact came twice");
    assert_eq!(
        sorted(walked_ids),
        sorted(expected_ids.to_vec()),
        "{order:?} by {page_size}"
    );
    for pair in walked.windows(2) {
        assert_eq!(
            order.compare(&pair[0], &pair[1]),
            Ordering::Less,
            "{order:?} by {page_size}: {} before {}",
            pair[0].source_id,
            pair[1].source_id
        );
    }
}

fn orders(field: OrderField) -> [ContactOrder; 2] {
    [Direction::Asc, Direction::Desc].map(|direction| ContactOrder { field, direction })
}

#[tokio::test]
async fn time_orders_walk_every_contact_once_in_order() {
    let gateway = spawn_cached_gateway().await;
    let all = ids(&spark_all(&gateway, "/contacts", None).await);
    let buyers = ids(&spark_all(&gateway, "/contacts", Some("Tags Eq 'Buyer'")).await);
    assert!(buyers.len() > 30 && buyers.len() < all.len());
    for field in [OrderField::CreatedAt, OrderField::UpdatedAt] {
        for order in orders(field) {
            walk(&gateway, order, 50, Value::Null, &all).await;
            walk(&gateway, order, 7, Value::Null, &all).await;
            walk(&gateway, order, 1, json!({"tags": ["Buyer"]}), &buyers).await;
        }
    }
}

#[tokio::test]
async fn contacts_sharing_a_modification_time_come_in_the_gateway_order() {
    let gateway = spawn_gateway().await;
    // The seeded modifications stop at one instant, which many recently
    // created contacts share, with ids of both lengths: the emulator orders
    // them by id as text, the gateway by id as a number.
    let clamp = "2025-06-30T00:00:00Z";
    let mut records = spark_all(&gateway, "/contacts", None).await;
    records.sort_by_key(|r| std::cmp::Reverse(r["CreatedTimestamp"].as_str().unwrap().to_string()));
    let since = records[80]["CreatedTimestamp"]
        .as_str()
        .unwrap()
        .to_string();
    let filter = format!("CreatedTimestamp Gt {since}");
    let recent = spark_all(&gateway, "/contacts", Some(&filter)).await;
    let tied: Vec<String> = recent
        .iter()
        .filter(|r| r["ModificationTimestamp"] == clamp)
        .map(|r| r["Id"].as_str().unwrap().to_string())
        .collect();
    let lengths: HashSet<usize> = tied.iter().map(String::len).collect();
    assert!(
        tied.len() > 25,
        "only {} contacts share the time",
        tied.len()
    );
    assert_eq!(lengths.len(), 2, "ids of both lengths share the time");
    for order in orders(OrderField::UpdatedAt) {
        for page_size in [1, 7] {
            walk(
                &gateway,
                order,
                page_size,
                json!({"createdAfter": since}),
                &ids(&recent),
            )
            .await;
        }
    }
}

async fn all_ids(gateway: &TestGateway) -> Vec<String> {
    ids(&spark_all(gateway, "/contacts", None).await)
}

#[tokio::test]
async fn name_order_walks_every_contact_once_in_order() {
    let gateway = spawn_cached_gateway().await;
    let all = all_ids(&gateway).await;
    let buyers = ids(&spark_all(&gateway, "/contacts", Some("Tags Eq 'Buyer'")).await);
    let few = ids(&spark_all(
        &gateway,
        "/contacts",
        Some("Tags Eq 'Buyer' And Tags Eq 'Seller'"),
    )
    .await);
    assert!(!few.is_empty());
    for order in orders(OrderField::Name) {
        walk(&gateway, order, 50, Value::Null, &all).await;
        walk(&gateway, order, 7, json!({"tags": ["Buyer"]}), &buyers).await;
        walk(
            &gateway,
            order,
            1,
            json!({"tags": ["buyer", "SELLER"]}),
            &few,
        )
        .await;
    }
}

#[tokio::test]
async fn filters_give_what_the_emulator_gives() {
    let gateway = spawn_gateway().await;
    let records = spark_all(&gateway, "/contacts", None).await;

    // City: compared with the emulator's own exact search.
    let city = records[3]["HomeLocality"].as_str().unwrap().to_string();
    let expected = ids(&spark_all(
        &gateway,
        "/contacts",
        Some(&format!("HomeLocality Eq '{city}'")),
    )
    .await);
    let (found, _) = list_ids(&gateway, json!({"city": city.to_uppercase()})).await;
    assert_eq!(sorted(found), sorted(expected));

    // Tags: the emulator's search, and its count as the total.
    let expected = ids(&spark_all(
        &gateway,
        "/contacts",
        Some("Tags Eq 'Buyer' And Tags Eq 'IDX Lead'"),
    )
    .await);
    assert!(!expected.is_empty());
    let (found, total) = list_ids(&gateway, json!({"tags": ["buyer", "idx lead"]})).await;
    assert_eq!(sorted(found), sorted(expected.clone()));
    assert_eq!(total, expected.len());

    // Creation time, strictly between the two instants.
    let mut times: Vec<String> = records
        .iter()
        .map(|r| r["CreatedTimestamp"].as_str().unwrap().to_string())
        .collect();
    times.sort();
    let (after, before) = (times[100].clone(), times[140].clone());
    let expected = ids(&spark_all(
        &gateway,
        "/contacts",
        Some(&format!(
            "CreatedTimestamp Gt {after} And CreatedTimestamp Lt {before}"
        )),
    )
    .await);
    let (found, total) = list_ids(
        &gateway,
        json!({"createdAfter": after, "createdBefore": before}),
    )
    .await;
    assert_eq!(sorted(found), sorted(expected.clone()));
    assert_eq!(total, expected.len());

    // Email: any email, ignoring case and spaces; Spark cannot search
    // secondary emails, so the gateway filters them itself.
    let spaced = records
        .iter()
        .find(|r| r["PrimaryEmail"].as_str().unwrap().starts_with(' '))
        .expect("a primary email entered with spaces");
    let (found, _) = list_ids(
        &gateway,
        json!({"email": spaced["PrimaryEmail"].as_str().unwrap().trim().to_uppercase()}),
    )
    .await;
    assert!(found.contains(&spaced["Id"].as_str().unwrap().to_string()));
    let secondary = records
        .iter()
        .find(|r| {
            r["SecondaryEmails"]
                .as_array()
                .is_some_and(|l| !l.is_empty())
        })
        .unwrap();
    let (found, _) = list_ids(&gateway, json!({"email": secondary["SecondaryEmails"][0]})).await;
    assert_eq!(found, [secondary["Id"].as_str().unwrap().to_string()]);

    // Phone, however written; search by part of a name.
    let phone = records[5]["PrimaryPhoneNumber"].as_str().unwrap();
    let digits: String = phone.chars().filter(char::is_ascii_digit).collect();
    let written = format!("+1 ({}) {}-{}", &digits[0..3], &digits[3..6], &digits[6..]);
    let expected: Vec<String> = records
        .iter()
        .filter(|r| {
            ["PrimaryPhoneNumber", "MobilePhoneNumber"]
                .iter()
                .any(|key| {
                    r[*key].as_str().is_some_and(|p| {
                        p.chars().filter(char::is_ascii_digit).collect::<String>() == digits
                    })
                })
        })
        .map(|r| r["Id"].as_str().unwrap().to_string())
        .collect();
    let (found, _) = list_ids(&gateway, json!({"phone": written})).await;
    assert_eq!(sorted(found), sorted(expected));
    let family = records[7]["FamilyName"].as_str().unwrap();
    let fragment = &family[1..family.len().min(5)];
    let (found, _) = list_ids(&gateway, json!({"search": fragment})).await;
    assert!(found.contains(&records[7]["Id"].as_str().unwrap().to_string()));

    // Status: every listed contact is Connected; other statuses and any type
    // match nothing, without a request.
    let data = gateway
        .data(LIST, json!({"first": 1, "filter": {"status": "connected"}}))
        .await;
    assert_eq!(data["contacts"]["totalCount"], records.len());
    let before = spark_requests(&gateway).await;
    for filter in [json!({"status": "Unconnected"}), json!({"type": "lead"})] {
        let (found, total) = list_ids(&gateway, filter).await;
        assert!(found.is_empty());
        assert_eq!(total, 0);
    }
    assert_eq!(spark_requests(&gateway).await, before);
}

const CREATE: &str = "mutation($input: CreateContactInput!) {
    createContact(input: $input) { contact { id sourceId firstName lastName displayName
        emails { address primary } phones { number label } address { street city region postalCode }
        organization title tags notes status createdAt } } }";

const UPDATE: &str = "mutation($input: UpdateContactInput!) {
    updateContact(input: $input) { contact { id displayName title tags notes organization address { city } } } }";

const DELETE: &str =
    "mutation($input: DeleteContactInput!) { deleteContact(input: $input) { deletedId } }";

#[tokio::test]
async fn create_update_and_delete_round_trip() {
    let gateway = spawn_gateway().await;
    let route = |method: &'static str, route: &'static str| {
        gateway.sandbox.route_count("spark", method, route)
    };
    let created = gateway
        .data(
            CREATE,
            json!({"input": {
                "source": "SPARK", "firstName": "Ada", "lastName": "Lovelace",
                "email": "ada.lovelace@example.com", "phone": "612-555-0199",
                "organization": "Analytical Engines", "title": "Analyst",
                "tags": ["Buyer", "Referral"], "notes": "Met at the open house.",
                "address": {"street": "1 Engine Way", "city": "London", "region": "LDN", "postalCode": "N1"}
            }}),
        )
        .await["createContact"]["contact"]
        .clone();
    assert_eq!(created["displayName"], "Ada Lovelace");
    assert_eq!(created["firstName"], "Ada");
    assert_eq!(created["emails"][0]["address"], "ada.lovelace@example.com");
    assert_eq!(created["phones"][0]["label"], "primary");
    assert_eq!(created["address"]["city"], "London");
    assert_eq!(created["title"], "Analyst");
    assert_eq!(created["tags"], json!(["Buyer", "Referral"]));
    assert_eq!(created["notes"], "Met at the open house.");
    assert_eq!(created["status"], "Connected");
    assert_eq!(route("POST", "/v1/contacts").await, 1);
    let source_id = created["sourceId"].as_str().unwrap().to_string();
    let stored = spark_get(&gateway, &format!("/contacts/{source_id}"), &[]).await;
    assert_eq!(
        stored["D"]["Results"][0]["Organization"],
        "Analytical Engines"
    );

    let id = created["id"].as_str().unwrap().to_string();
    let updated = gateway
        .data(
            UPDATE,
            json!({"input": {"id": id, "title": "Mathematician", "tags": [],
                "notes": "Called back.", "organization": "", "address": {"city": "Paris"}}}),
        )
        .await["updateContact"]["contact"]
        .clone();
    assert_eq!(updated["title"], "Mathematician");
    assert_eq!(updated["tags"], json!([]));
    assert_eq!(updated["notes"], "Called back.");
    assert_eq!(updated["organization"], Value::Null);
    assert_eq!(updated["address"]["city"], "Paris");
    assert_eq!(updated["displayName"], "Ada Lovelace");
    let read = gateway
        .data(
            "query($id: ID!) { contact(id: $id) { title address { street city } } }",
            json!({"id": id}),
        )
        .await;
    assert_eq!(read["contact"]["title"], "Mathematician");
    assert_eq!(read["contact"]["address"]["street"], "1 Engine Way");

    let deleted = gateway.data(DELETE, json!({"input": {"id": id}})).await;
    assert_eq!(deleted["deleteContact"]["deletedId"], id.as_str());
    let read = gateway
        .data(
            "query($id: ID!) { contact(id: $id) { id } }",
            json!({"id": id}),
        )
        .await;
    assert_eq!(read["contact"], Value::Null);
    let again = gateway.graphql(DELETE, json!({"input": {"id": id}})).await;
    assert_eq!(again["errors"][0]["extensions"]["code"], "NOT_FOUND");
}

fn first_error(body: &Value) -> &Value {
    &body["errors"][0]
}

#[tokio::test]
async fn write_rules_are_checked_before_any_request() {
    let gateway = spawn_gateway().await;
    let some_id = all_ids(&gateway).await[0].clone();
    let before = spark_requests(&gateway).await;
    let long = "x".repeat(76);
    let creates = [
        (json!({"firstName": "No", "lastName": "Email"}), "email"),
        (json!({"email": "nameless@example.com"}), "displayName"),
        (
            json!({"displayName": long, "email": "a@example.com"}),
            "displayName",
        ),
        (
            json!({"firstName": "A", "email": format!("{long}@example.com")}),
            "email",
        ),
        (
            json!({"firstName": "A", "email": "a@example.com", "tags": ["ok", long]}),
            "tags",
        ),
        (
            json!({"firstName": "A", "email": "a@example.com", "title": "t".repeat(301)}),
            "title",
        ),
        (
            json!({"firstName": "A", "email": "a@example.com", "notes": "n".repeat(10_001)}),
            "notes",
        ),
        (
            json!({"firstName": "A", "email": "a@example.com", "type": "lead"}),
            "type",
        ),
        (
            json!({"firstName": "A", "email": "a@example.com", "assignedTo": "20090815223215294334000000"}),
            "assignedTo",
        ),
        (
            json!({"firstName": "A", "email": "a@example.com", "status": "Unconnected"}),
            "status",
        ),
        (
            json!({"firstName": "A", "email": "a@example.com", "address": {"country": "US"}}),
            "address.country",
        ),
    ];
    for (fields, field) in creates {
        let mut input = fields.clone();
        input["source"] = json!("SPARK");
        let body = gateway.graphql(CREATE, json!({"input": input})).await;
        let error = first_error(&body);
        assert_eq!(
            error["extensions"]["code"], "BAD_USER_INPUT",
            "{fields}: {body}"
        );
        assert_eq!(error["extensions"]["field"], field, "{fields}");
        assert_eq!(error["extensions"]["source"], "spark");
    }
    let updates = [
        (json!({"displayName": " "}), "displayName"),
        (json!({"email": ""}), "email"),
        (json!({"notes": ""}), "notes"),
        (json!({"status": "Unconnected"}), "status"),
        (
            json!({"assignedTo": "20090815223215294334000000"}),
            "assignedTo",
        ),
        (
            json!({"address": {"postalCode": "p".repeat(301)}}),
            "address.postalCode",
        ),
    ];
    for (fields, field) in updates {
        let mut input = fields.clone();
        input["id"] = json!(global_id(&some_id));
        let body = gateway.graphql(UPDATE, json!({"input": input})).await;
        let error = first_error(&body);
        assert_eq!(
            error["extensions"]["code"], "BAD_USER_INPUT",
            "{fields}: {body}"
        );
        assert_eq!(error["extensions"]["field"], field, "{fields}");
    }
    assert_eq!(
        spark_requests(&gateway).await,
        before,
        "no upstream request"
    );
}

#[tokio::test]
async fn a_duplicate_email_is_a_conflict() {
    let gateway = spawn_gateway().await;
    let records = spark_all(&gateway, "/contacts", None).await;
    let taken = records[0]["PrimaryEmail"]
        .as_str()
        .unwrap()
        .trim()
        .to_uppercase();
    let body = gateway
        .graphql(
            CREATE,
            json!({"input": {"source": "SPARK", "firstName": "Copy", "email": taken}}),
        )
        .await;
    let error = first_error(&body);
    assert_eq!(error["extensions"]["code"], "CONFLICT", "{body}");
    assert_eq!(error["extensions"]["upstreamStatus"], 409);
}

/// Every message of a GraphQL answer's errors.
fn messages(body: &Value) -> String {
    body["errors"].to_string()
}

#[tokio::test]
async fn upstream_failures_are_classified_and_never_show_the_token() {
    let gateway = spawn_gateway().await;
    let token = gateway.sandbox.credential("spark", "token");
    let some_id = all_ids(&gateway).await[0].clone();
    let lookup = "query($id: ID!) { contact(id: $id) { id } }";
    let cases = [
        ("http_500", "UPSTREAM_ERROR"),
        ("http_503", "UPSTREAM_UNAVAILABLE"),
        ("http_429", "UPSTREAM_UNAVAILABLE"),
        ("malformed_json", "UPSTREAM_ERROR"),
        ("html_error", "UPSTREAM_ERROR"),
        ("reset", "UPSTREAM_UNAVAILABLE"),
    ];
    for (kind, code) in cases {
        gateway
            .sandbox
            .configure(
                json!({"spark": {"faults": [{"kind": kind, "rate": 1.0, "retry_after_s": 3}]}}),
            )
            .await;
        let listed = gateway.graphql(LIST, json!({"first": 5})).await;
        let error = first_error(&listed);
        assert_eq!(error["extensions"]["code"], code, "{kind}: {listed}");
        assert_eq!(error["extensions"]["source"], "spark");
        assert!(!messages(&listed).contains(&token), "{kind}");
        let looked_up = gateway
            .graphql(lookup, json!({"id": global_id(&some_id)}))
            .await;
        assert_eq!(
            first_error(&looked_up)["extensions"]["code"],
            code,
            "{kind}"
        );
        assert!(!messages(&looked_up).contains(&token), "{kind}");
        if kind == "http_429" {
            // Spark's rate limit is 503 with code 1550 and a Retry-After.
            assert_eq!(error["extensions"]["upstreamStatus"], 503);
            assert_eq!(error["extensions"]["retryAfter"], 3);
        }
    }
}

#[tokio::test]
async fn a_hanging_spark_times_out() {
    let sandbox = spawn_sandbox().await;
    let credentials = contact_gateway::sandbox::Credentials::default();
    let mut config = contact_gateway::demo::gateway_config(
        &sandbox.url,
        &credentials,
        "127.0.0.1:0".parse().unwrap(),
    );
    for source in &mut config.sources {
        if source.kind == SourceKind::Spark {
            source.timeout = Duration::from_millis(200);
        }
    }
    let gateway = spawn_gateway_with(sandbox, config).await;
    gateway
        .sandbox
        .configure(json!({"spark": {"faults": [{"kind": "hang", "rate": 1.0}]}}))
        .await;
    let body = gateway.graphql(LIST, json!({"first": 3})).await;
    let error = first_error(&body);
    assert_eq!(
        error["extensions"]["code"], "UPSTREAM_UNAVAILABLE",
        "{body}"
    );
    assert!(error["message"]
        .as_str()
        .unwrap()
        .contains("did not answer"));
}

#[tokio::test]
async fn refused_credentials_and_user_agent_are_reported() {
    let sandbox = spawn_sandbox().await;
    let mut credentials = contact_gateway::sandbox::Credentials::default();
    credentials.spark.token = format!("{}-wrong", credentials.spark.token);
    let wrong_token = credentials.spark.token.clone();
    let config = contact_gateway::demo::gateway_config(
        &sandbox.url,
        &credentials,
        "127.0.0.1:0".parse().unwrap(),
    );
    let gateway = spawn_gateway_with(sandbox, config).await;
    let body = gateway.graphql(LIST, json!({"first": 3})).await;
    assert_eq!(
        first_error(&body)["extensions"]["code"],
        "UNAUTHENTICATED",
        "{body}"
    );
    assert_eq!(first_error(&body)["extensions"]["upstreamStatus"], 401);
    assert!(!messages(&body).contains(&wrong_token));

    let sandbox = spawn_sandbox().await;
    let mut credentials = contact_gateway::sandbox::Credentials::default();
    credentials.spark.user_agent = " ".into();
    let config = contact_gateway::demo::gateway_config(
        &sandbox.url,
        &credentials,
        "127.0.0.1:0".parse().unwrap(),
    );
    let gateway = spawn_gateway_with(sandbox, config).await;
    let body = gateway.graphql(LIST, json!({"first": 3})).await;
    let error = first_error(&body);
    assert_eq!(error["extensions"]["code"], "UPSTREAM_ERROR", "{body}");
    assert!(error["message"]
        .as_str()
        .unwrap()
        .contains("X-SparkApi-User-Agent header"));
}

#[tokio::test]
async fn a_position_the_adapter_did_not_write_is_refused() {
    use base64::engine::general_purpose::URL_SAFE_NO_PAD;
    use base64::Engine;
    let gateway = spawn_gateway().await;
    let order = json!({"field": "CREATED_AT"});
    let data = gateway
        .data(LIST, json!({"first": 2, "order": order}))
        .await;
    let cursor = data["contacts"]["pageInfo"]["endCursor"].as_str().unwrap();
    // The gateway's cursor is its own; swap Spark's position inside it.
    let mut decoded: Value =
        serde_json::from_slice(&URL_SAFE_NO_PAD.decode(cursor).unwrap()).unwrap();
    let position = decoded["positions"]["spark"]["At"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(position.starts_with("time/2/"), "{position}");
    for forged in ["sorted/2", "time/2/yesterday/1", "2"] {
        decoded["positions"]["spark"]["At"] = json!(forged);
        let forged_cursor = URL_SAFE_NO_PAD.encode(decoded.to_string());
        let body = gateway
            .graphql(
                LIST,
                json!({"first": 2, "after": forged_cursor, "order": order}),
            )
            .await;
        let error = first_error(&body);
        assert_eq!(
            error["extensions"]["code"], "BAD_USER_INPUT",
            "{forged}: {body}"
        );
        assert_eq!(error["extensions"]["field"], "after");
    }
}
