//! Contact operations through the gateway: adding tags, bulk updates across
//! sources, Spark transfers and the Spark user's own contact. Every test
//! reads the contacts it works on from the gateway or the emulators first,
//! counts the upstream requests the operation makes from the sandbox's
//! statistics, and reads the contacts back to see exactly what changed.

use std::collections::HashSet;

use contact_gateway::domain::{GlobalId, NodeType, SourceKind};
use contact_gateway::sources::winnerr::operations::BULK_MAX_IDS;
use serde_json::{json, Value};

use crate::helpers::{spawn_gateway, spawn_gateway_configured, TestGateway, TestSandbox};

const BULK: &str = "mutation($input: BulkUpdateContactsInput!) {
    bulkUpdateContacts(input: $input) {
        succeeded failed clientMutationId
        results { id error { code message field } }
    }
}";

const BULK_WITH_CONTACTS: &str = "mutation($input: BulkUpdateContactsInput!) {
    bulkUpdateContacts(input: $input) {
        succeeded failed
        results { id contact { id notes status emails { address } } error { code message field } }
    }
}";

const ADD_TAGS: &str = "mutation($input: AddContactTagsInput!) {
    addContactTags(input: $input) { clientMutationId contact { id sourceId tags } }
}";

const TRANSFER: &str = "mutation($input: TransferContactInput!) {
    transferContact(input: $input) { clientMutationId contact { id sourceId status assignedTo } }
}";

const MY_CONTACT: &str = "{ myContact { id sourceId displayName firstName lastName
    emails { address label primary } phones { number label } address { street city region postalCode }
    raw } }";

const UPDATE_MY_CONTACT: &str = "mutation($input: UpdateMyContactInput!) {
    updateMyContact(input: $input) { clientMutationId contact { sourceId firstName lastName
        emails { address label } phones { number label } address { street city region postalCode } raw } }
}";

const READ: &str = "query($ids: [ID!]!) {
    nodes(ids: $ids) { ... on Contact { id sourceId notes status tags assignedTo emails { address } } }
}";

/// A Winnerr id of the right form that no contact has.
const UNKNOWN_WINNERR_ID: &str = "contact_00000000-0000-4000-8000-000000000000";
/// A Spark id of the right form that no contact has.
const UNKNOWN_SPARK_ID: &str = "99999999999999999999999999";
/// A Spark user id to transfer contacts to (any 26 digits is a user id to the emulator).
const NEW_OWNER_ID: &str = "20200101000000000000000001";

fn global_id(source: SourceKind, source_id: &str) -> String {
    GlobalId::new(NodeType::Contact, source, source_id).encode()
}

/// Everything the sandbox has received so far.
async fn total_requests(sandbox: &TestSandbox) -> u64 {
    sandbox.stats().await["total"].as_u64().expect("total")
}

/// The first `count` contacts of one source, as the gateway lists them.
async fn first_contacts(gateway: &TestGateway, source: &str, count: usize) -> Vec<Value> {
    let query = format!(
        "{{ contacts(sources: [{source}], first: {count}) {{
            nodes {{ id sourceId notes status tags assignedTo emails {{ address }} }} }} }}"
    );
    let data = gateway.data(&query, json!({})).await;
    let nodes = data["contacts"]["nodes"].as_array().expect("nodes").clone();
    assert_eq!(nodes.len(), count, "{source} holds too few contacts");
    nodes
}

/// The contacts with these global ids, read through the gateway in a fresh request.
async fn read_back(gateway: &TestGateway, ids: &[&str]) -> Vec<Value> {
    let data = gateway.data(READ, json!({ "ids": ids })).await;
    data["nodes"].as_array().expect("nodes").clone()
}

fn id_of(contact: &Value) -> String {
    contact["id"].as_str().expect("id").to_string()
}

fn first_error(body: &Value) -> &Value {
    &body["errors"][0]
}

/// `GET` on the Spark emulator with the gateway's credentials.
async fn spark_get(sandbox: &TestSandbox, path: &str, query: &[(&str, &str)]) -> Value {
    sandbox
        .client
        .get(format!("{}{path}", sandbox.base("spark")))
        .query(query)
        .bearer_auth(sandbox.credential("spark", "token"))
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

/// Every record of a Spark list, page by page.
pub(crate) async fn spark_all(sandbox: &TestSandbox, path: &str) -> Vec<Value> {
    let mut records = Vec::new();
    for page in 1.. {
        let page = page.to_string();
        let body = spark_get(sandbox, path, &[("_limit", "25"), ("_page", &page)]).await;
        let results = body["D"]["Results"].as_array().expect("results").clone();
        let done = results.len() < 25;
        records.extend(results);
        if done {
            return records;
        }
    }
    records
}

/// The first `count` Winnerr records, read from the emulator with its token.
async fn winnerr_records(sandbox: &TestSandbox, count: usize) -> Vec<Value> {
    let mut records: Vec<Value> = Vec::new();
    let mut cursor: Option<String> = None;
    while records.len() < count {
        let mut query = vec![("limit".to_string(), "100".to_string())];
        if let Some(cursor) = &cursor {
            query.push(("cursor".into(), cursor.clone()));
        }
        let body: Value = sandbox
            .client
            .get(format!("{}/contacts", sandbox.base("winnerr")))
            .bearer_auth(sandbox.credential("winnerr", "token"))
            .query(&query)
            .send()
            .await
            .expect("winnerr request")
            .json()
            .await
            .expect("winnerr body");
        records.extend(body["data"].as_array().expect("data").iter().cloned());
        match body["pagination"]["nextCursor"].as_str() {
            Some(next) => cursor = Some(next.to_string()),
            None => break,
        }
    }
    records.truncate(count);
    assert_eq!(records.len(), count, "Winnerr holds too few contacts");
    records
}

/// One Winnerr record, read from the emulator.
async fn winnerr_record(sandbox: &TestSandbox, id: &str) -> Value {
    let body: Value = sandbox
        .client
        .get(format!("{}/contacts/{id}", sandbox.base("winnerr")))
        .bearer_auth(sandbox.credential("winnerr", "token"))
        .send()
        .await
        .expect("winnerr request")
        .json()
        .await
        .expect("winnerr body");
    body["data"].clone()
}

/// A gateway whose `ids` limit (the largest page size) is `max_page_size`.
async fn spawn_gateway_with_page_size(max_page_size: usize) -> TestGateway {
    spawn_gateway_configured(|config| config.limits.max_page_size = max_page_size).await
}

#[tokio::test]
async fn a_bulk_update_reports_every_id_and_changes_exactly_the_successful_ones() {
    let gateway = spawn_gateway().await;
    let winnerr = first_contacts(&gateway, "WINNERR", 3).await;
    let spark = first_contacts(&gateway, "SPARK", 2).await;
    let djangocrm = first_contacts(&gateway, "DJANGO_CRM", 1).await;
    let (w1, w2, w_untouched) = (id_of(&winnerr[0]), id_of(&winnerr[1]), id_of(&winnerr[2]));
    let (s1, s2) = (id_of(&spark[0]), id_of(&spark[1]));
    let d1 = id_of(&djangocrm[0]);
    let w_unknown = global_id(SourceKind::Winnerr, UNKNOWN_WINNERR_ID);
    let s_unknown = global_id(SourceKind::Spark, UNKNOWN_SPARK_ID);
    let ids = vec![
        w1.clone(),
        s1.clone(),
        w_unknown.clone(),
        d1.clone(),
        "not-an-id".to_string(),
        s_unknown.clone(),
        w2.clone(),
        w1.clone(),
        s2.clone(),
    ];
    let note = "Asked for a second showing (bulk)";
    let before = total_requests(&gateway.sandbox).await;
    let data = gateway
        .data(
            BULK_WITH_CONTACTS,
            json!({"input": {"ids": ids, "changes": {"notes": note}}}),
        )
        .await;
    let payload = &data["bulkUpdateContacts"];
    let results = payload["results"].as_array().unwrap();
    assert_eq!(results.len(), ids.len());
    for (result, id) in results.iter().zip(&ids) {
        assert_eq!(result["id"], id.as_str(), "results follow the input order");
    }
    let expected_codes = [
        None,
        None,
        Some("NOT_FOUND"),
        Some("BAD_USER_INPUT"),
        Some("BAD_USER_INPUT"),
        Some("NOT_FOUND"),
        None,
        None,
        None,
    ];
    for (result, code) in results.iter().zip(expected_codes) {
        match code {
            None => {
                assert_eq!(result["error"], Value::Null, "{result}");
                assert_eq!(result["contact"]["notes"], note, "{result}");
                assert_eq!(result["contact"]["id"], result["id"]);
            }
            Some(code) => {
                assert_eq!(result["error"]["code"], code, "{result}");
                assert_eq!(result["contact"], Value::Null, "{result}");
            }
        }
    }
    // Django-CRM cannot store notes: its write rules refuse, naming the field.
    assert_eq!(results[3]["error"]["field"], "notes");
    assert_eq!(payload["succeeded"], 5);
    assert_eq!(payload["failed"], 4);

    // Winnerr: the three distinct Winnerr ids in one PATCH (ceil(3 / 100)), then
    // one read for each of the two updated contacts, asked for by `contact`.
    // Spark: one PUT per distinct Spark id (three) and a read back of the two
    // that succeeded. Django-CRM and the malformed id: no request.
    let sandbox = &gateway.sandbox;
    assert_eq!(
        sandbox
            .route_count("winnerr", "PATCH", "/v1/contacts/bulk")
            .await,
        1
    );
    assert_eq!(
        sandbox
            .route_count("winnerr", "PUT", "/v1/contacts/{id}")
            .await,
        0
    );
    assert_eq!(
        sandbox
            .route_count("winnerr", "GET", "/v1/contacts/{id}")
            .await,
        2
    );
    assert_eq!(
        sandbox
            .route_count("spark", "PUT", "/v1/contacts/{id}")
            .await,
        3
    );
    assert_eq!(
        sandbox
            .route_count("spark", "GET", "/v1/contacts/{id}")
            .await,
        2
    );
    assert_eq!(total_requests(sandbox).await - before, 1 + 2 + 3 + 2);

    // Read back: exactly the successful contacts carry the note.
    let contacts = read_back(&gateway, &[&w1, &w2, &s1, &s2, &d1, &w_untouched]).await;
    for contact in &contacts[..4] {
        assert_eq!(contact["notes"], note, "{contact}");
    }
    assert_eq!(contacts[4]["notes"], djangocrm[0]["notes"]);
    assert_eq!(contacts[5]["notes"], winnerr[2]["notes"]);
    assert_ne!(contacts[5]["notes"], note);
}

#[tokio::test]
async fn a_bulk_update_reports_conflicts_and_refusals_per_contact() {
    let gateway = spawn_gateway().await;
    let sandbox = &gateway.sandbox;
    let winnerr = first_contacts(&gateway, "WINNERR", 2).await;
    let spark = first_contacts(&gateway, "SPARK", 2).await;

    // One email for two Spark contacts: the one that has it keeps it, the
    // other would duplicate it (Spark's 409, code 1055).
    let spark_email = spark[0]["emails"][0]["address"].as_str().unwrap();
    let before = total_requests(sandbox).await;
    let data = gateway
        .data(
            BULK_WITH_CONTACTS,
            json!({"input": {"ids": [id_of(&spark[0]), id_of(&spark[1])],
                "changes": {"email": spark_email}}}),
        )
        .await;
    let results = &data["bulkUpdateContacts"]["results"];
    assert_eq!(results[0]["error"], Value::Null, "{data}");
    assert_eq!(results[0]["contact"]["emails"][0]["address"], spark_email);
    assert_eq!(results[1]["error"]["code"], "CONFLICT", "{data}");
    // Two PUTs, one read back for the contact that was written.
    assert_eq!(total_requests(sandbox).await - before, 3);

    // The same for Winnerr: its bulk endpoint refuses emails, so each
    // contact is one PUT.
    let winnerr_email = winnerr[0]["emails"][0]["address"].as_str().unwrap();
    let before = total_requests(sandbox).await;
    let data = gateway
        .data(
            BULK,
            json!({"input": {"ids": [id_of(&winnerr[0]), id_of(&winnerr[1])],
                "changes": {"email": winnerr_email}}}),
        )
        .await;
    let payload = &data["bulkUpdateContacts"];
    assert_eq!(payload["results"][0]["error"], Value::Null, "{data}");
    assert_eq!(payload["results"][1]["error"]["code"], "CONFLICT", "{data}");
    assert_eq!(payload["succeeded"], 1);
    assert_eq!(payload["failed"], 1);
    assert_eq!(
        sandbox
            .route_count("winnerr", "PATCH", "/v1/contacts/bulk")
            .await,
        0
    );
    assert_eq!(
        sandbox
            .route_count("winnerr", "PUT", "/v1/contacts/{id}")
            .await,
        2
    );
    assert_eq!(total_requests(sandbox).await - before, 2);

    // A status from Winnerr's table: Winnerr takes it, Spark's rules refuse it
    // (its status can only become Connected), with no Spark request.
    let before_spark = sandbox.stats().await["by_source"]["spark"]
        .as_u64()
        .unwrap();
    let ids = [
        id_of(&winnerr[0]),
        id_of(&spark[0]),
        id_of(&winnerr[1]),
        id_of(&spark[1]),
    ];
    let data = gateway
        .data(
            BULK,
            json!({"input": {"ids": ids, "changes": {"status": "INACTIVE"},
                "clientMutationId": "status-1"}}),
        )
        .await;
    let payload = &data["bulkUpdateContacts"];
    assert_eq!(payload["clientMutationId"], "status-1");
    assert_eq!(payload["results"][0]["error"], Value::Null, "{data}");
    assert_eq!(payload["results"][2]["error"], Value::Null, "{data}");
    for index in [1, 3] {
        let error = &payload["results"][index]["error"];
        assert_eq!(error["code"], "BAD_USER_INPUT", "{data}");
        assert_eq!(error["field"], "status", "{data}");
    }
    assert_eq!(
        sandbox.stats().await["by_source"]["spark"]
            .as_u64()
            .unwrap(),
        before_spark
    );
    assert_eq!(
        sandbox
            .route_count("winnerr", "PATCH", "/v1/contacts/bulk")
            .await,
        1
    );
    // A change Winnerr's bulk endpoint refuses as a whole (an agent id of the
    // wrong form) is every Winnerr contact's error, naming the field.
    let data = gateway
        .data(
            BULK,
            json!({"input": {"ids": [id_of(&winnerr[0]), id_of(&winnerr[1])],
                "changes": {"assignedTo": "someone"}}}),
        )
        .await;
    for result in data["bulkUpdateContacts"]["results"].as_array().unwrap() {
        assert_eq!(result["error"]["code"], "BAD_USER_INPUT", "{data}");
        assert_eq!(result["error"]["field"], "assignedTo", "{data}");
    }
    assert_eq!(
        sandbox
            .route_count("winnerr", "PATCH", "/v1/contacts/bulk")
            .await,
        2
    );
    let contacts = read_back(
        &gateway,
        &ids.iter().map(String::as_str).collect::<Vec<_>>(),
    )
    .await;
    assert_eq!(contacts[0]["status"], "INACTIVE");
    assert_eq!(contacts[2]["status"], "INACTIVE");
    assert_eq!(contacts[1]["status"], spark[0]["status"]);
    assert_eq!(contacts[3]["status"], spark[1]["status"]);
    assert_eq!(contacts[0]["assignedTo"], winnerr[0]["assignedTo"]);
}

#[tokio::test]
async fn winnerr_address_changes_in_bulk_keep_the_other_address_parts() {
    let gateway = spawn_gateway().await;
    let sandbox = &gateway.sandbox;
    let records = winnerr_records(sandbox, 2).await;
    let ids: Vec<String> = records
        .iter()
        .map(|record| global_id(SourceKind::Winnerr, record["id"].as_str().unwrap()))
        .collect();
    let before = total_requests(sandbox).await;
    let data = gateway
        .data(
            BULK,
            json!({"input": {"ids": ids, "changes": {"address": {"city": "Tampa"}}}}),
        )
        .await;
    assert_eq!(data["bulkUpdateContacts"]["succeeded"], 2, "{data}");
    // The bulk endpoint would replace the whole address, so each contact is
    // read for its address and written with one PUT.
    assert_eq!(
        sandbox
            .route_count("winnerr", "PATCH", "/v1/contacts/bulk")
            .await,
        0
    );
    assert_eq!(
        sandbox
            .route_count("winnerr", "PUT", "/v1/contacts/{id}")
            .await,
        2
    );
    assert_eq!(total_requests(sandbox).await - before, 4);
    for record in &records {
        let stored = winnerr_record(sandbox, record["id"].as_str().unwrap()).await;
        assert_eq!(stored["address"]["city"], "Tampa", "{stored}");
        let street = record["address"]["street"].as_str().map(str::trim);
        assert_eq!(stored["address"]["street"].as_str().map(str::trim), street);
    }
}

#[tokio::test]
async fn winnerr_bulk_requests_are_chunked_to_the_endpoint_maximum() {
    let count = BULK_MAX_IDS + BULK_MAX_IDS / 2;
    let gateway = spawn_gateway_with_page_size(count).await;
    let sandbox = &gateway.sandbox;
    let records = winnerr_records(sandbox, count).await;
    // Afterwards every one of them has this status.
    let target_status = "DISQUALIFIED";
    let ids: Vec<String> = records
        .iter()
        .map(|record| global_id(SourceKind::Winnerr, record["id"].as_str().unwrap()))
        .collect();
    let before = total_requests(sandbox).await;
    let data = gateway
        .data(
            BULK,
            json!({"input": {"ids": ids, "changes": {"status": target_status}}}),
        )
        .await;
    let payload = &data["bulkUpdateContacts"];
    assert_eq!(payload["succeeded"], count);
    assert_eq!(payload["failed"], 0);
    let expected_requests = count.div_ceil(BULK_MAX_IDS) as u64;
    assert_eq!(
        sandbox
            .route_count("winnerr", "PATCH", "/v1/contacts/bulk")
            .await,
        expected_requests
    );
    assert_eq!(total_requests(sandbox).await - before, expected_requests);
    for record in records.iter().step_by(7).chain(records.last()) {
        let stored = winnerr_record(sandbox, record["id"].as_str().unwrap()).await;
        assert_eq!(stored["status"], target_status, "{stored}");
    }
    // Beyond the limit, nothing is sent.
    let mut too_many = ids.clone();
    too_many.push(ids[0].clone());
    let before = total_requests(sandbox).await;
    let body = gateway
        .graphql(
            BULK,
            json!({"input": {"ids": too_many, "changes": {"status": "ACTIVE"}}}),
        )
        .await;
    assert_eq!(
        first_error(&body)["extensions"]["code"],
        "BAD_USER_INPUT",
        "{body}"
    );
    assert_eq!(total_requests(sandbox).await, before);
}

#[tokio::test]
async fn bulk_input_errors_and_impossible_ids_make_no_request() {
    let gateway = spawn_gateway().await;
    let winnerr = first_contacts(&gateway, "WINNERR", 1).await;
    let w1 = id_of(&winnerr[0]);
    let sandbox = &gateway.sandbox;
    let before = total_requests(sandbox).await;
    let max_page_size = contact_gateway::config::Limits::default().max_page_size;
    for (input, field) in [
        (json!({"ids": [], "changes": {"notes": "x"}}), "ids"),
        (json!({"ids": [w1], "changes": {}}), "changes"),
        (
            json!({"ids": vec![w1.clone(); max_page_size + 1], "changes": {"notes": "x"}}),
            "ids",
        ),
    ] {
        let body = gateway.graphql(BULK, json!({ "input": input })).await;
        let error = first_error(&body);
        assert_eq!(error["extensions"]["code"], "BAD_USER_INPUT", "{body}");
        assert_eq!(error["extensions"]["field"], field, "{body}");
        assert_eq!(body["data"], Value::Null);
    }
    // Ids that cannot name a contact each get their own error, without a call.
    let property = GlobalId::new(NodeType::Property, SourceKind::OpenToClose, "1").encode();
    let impossible_winnerr = global_id(SourceKind::Winnerr, "contact_123");
    let data = gateway
        .data(
            BULK,
            json!({"input": {"ids": ["", property, impossible_winnerr],
                "changes": {"notes": "x"}}}),
        )
        .await;
    let payload = &data["bulkUpdateContacts"];
    assert_eq!(payload["succeeded"], 0);
    assert_eq!(payload["failed"], 3);
    assert_eq!(payload["results"][0]["error"]["code"], "BAD_USER_INPUT");
    assert_eq!(payload["results"][1]["error"]["code"], "BAD_USER_INPUT");
    assert_eq!(payload["results"][2]["error"]["code"], "NOT_FOUND");
    assert_eq!(total_requests(sandbox).await, before);
}

#[tokio::test]
async fn winnerr_adds_tags_with_its_own_endpoint() {
    let gateway = spawn_gateway().await;
    let sandbox = &gateway.sandbox;
    let contact = &first_contacts(&gateway, "WINNERR", 1).await[0];
    let existing: Vec<String> = serde_json::from_value(contact["tags"].clone()).unwrap();
    let before = total_requests(sandbox).await;
    let data = gateway
        .data(
            ADD_TAGS,
            json!({"input": {"id": id_of(contact), "tags": ["Cash-Buyer", " waterfront "],
                "clientMutationId": "t-1"}}),
        )
        .await;
    let payload = &data["addContactTags"];
    assert_eq!(payload["clientMutationId"], "t-1");
    assert_eq!(
        sandbox
            .route_count("winnerr", "POST", "/v1/contacts/{id}/tags")
            .await,
        1
    );
    assert_eq!(total_requests(sandbox).await - before, 1);
    // Winnerr keeps the tags it had and stores the new ones in lower case.
    let mut expected = existing.clone();
    for tag in ["cash-buyer", "waterfront"] {
        if !expected.iter().any(|have| have == tag) {
            expected.push(tag.to_string());
        }
    }
    assert_eq!(payload["contact"]["tags"], json!(expected));
    let stored = winnerr_record(sandbox, contact["sourceId"].as_str().unwrap()).await;
    assert_eq!(stored["tags"], json!(expected));

    let unknown = global_id(SourceKind::Winnerr, UNKNOWN_WINNERR_ID);
    let body = gateway
        .graphql(ADD_TAGS, json!({"input": {"id": unknown, "tags": ["x"]}}))
        .await;
    assert_eq!(
        first_error(&body)["extensions"]["code"],
        "NOT_FOUND",
        "{body}"
    );
}

#[tokio::test]
async fn spark_adds_tags_by_writing_the_union() {
    let gateway = spawn_gateway().await;
    let sandbox = &gateway.sandbox;
    let contact = &first_contacts(&gateway, "SPARK", 1).await[0];
    let existing: Vec<String> = serde_json::from_value(contact["tags"].clone()).unwrap();
    let before = total_requests(sandbox).await;
    let data = gateway
        .data(
            ADD_TAGS,
            json!({"input": {"id": id_of(contact), "tags": ["Open House 2025"]}}),
        )
        .await;
    let mut expected = existing.clone();
    expected.push("Open House 2025".into());
    assert_eq!(data["addContactTags"]["contact"]["tags"], json!(expected));
    // Read the tags, write the union, read the contact back.
    assert_eq!(total_requests(sandbox).await - before, 3);
    assert_eq!(
        sandbox
            .route_count("spark", "PUT", "/v1/contacts/{id}")
            .await,
        1
    );
    let stored = spark_get(
        sandbox,
        &format!("/contacts/{}", contact["sourceId"].as_str().unwrap()),
        &[],
    )
    .await;
    assert_eq!(stored["D"]["Results"][0]["Tags"], json!(expected));

    // Tags it already has (in any case) cost the read alone.
    let before = total_requests(sandbox).await;
    let data = gateway
        .data(
            ADD_TAGS,
            json!({"input": {"id": id_of(contact), "tags": ["open house 2025"]}}),
        )
        .await;
    assert_eq!(data["addContactTags"]["contact"]["tags"], json!(expected));
    assert_eq!(total_requests(sandbox).await - before, 1);

    // A tag over Spark's 75 characters is refused before any request.
    let before = total_requests(sandbox).await;
    let body = gateway
        .graphql(
            ADD_TAGS,
            json!({"input": {"id": id_of(contact), "tags": ["t".repeat(76)]}}),
        )
        .await;
    let error = first_error(&body);
    assert_eq!(error["extensions"]["code"], "BAD_USER_INPUT", "{body}");
    assert_eq!(error["extensions"]["field"], "tags", "{body}");
    assert_eq!(total_requests(sandbox).await, before);
}

#[tokio::test]
async fn tags_elsewhere_and_empty_tags_make_no_request() {
    let gateway = spawn_gateway().await;
    let sandbox = &gateway.sandbox;
    let opentoclose = &first_contacts(&gateway, "OPEN_TO_CLOSE", 1).await[0];
    let djangocrm = &first_contacts(&gateway, "DJANGO_CRM", 1).await[0];
    let winnerr = &first_contacts(&gateway, "WINNERR", 1).await[0];
    let before = total_requests(sandbox).await;
    for contact in [opentoclose, djangocrm] {
        let body = gateway
            .graphql(
                ADD_TAGS,
                json!({"input": {"id": id_of(contact), "tags": ["vip"]}}),
            )
            .await;
        assert_eq!(
            first_error(&body)["extensions"]["code"],
            "UNSUPPORTED_BY_SOURCE",
            "{body}"
        );
    }
    for tags in [json!([]), json!(["ok", "  "])] {
        let body = gateway
            .graphql(
                ADD_TAGS,
                json!({"input": {"id": id_of(winnerr), "tags": tags}}),
            )
            .await;
        let error = first_error(&body);
        assert_eq!(error["extensions"]["code"], "BAD_USER_INPUT", "{body}");
        assert_eq!(error["extensions"]["field"], "tags", "{body}");
    }
    let body = gateway
        .graphql(ADD_TAGS, json!({"input": {"id": "nope", "tags": ["a"]}}))
        .await;
    assert_eq!(first_error(&body)["extensions"]["code"], "BAD_USER_INPUT");
    assert_eq!(total_requests(sandbox).await, before);
}

#[tokio::test]
async fn a_transferred_contact_is_connected_and_listed() {
    let gateway = spawn_gateway().await;
    let sandbox = &gateway.sandbox;
    let unconnected = spark_all(sandbox, "/contacts/unconnected").await;
    let connected_emails: HashSet<String> = spark_all(sandbox, "/contacts")
        .await
        .iter()
        .filter_map(|record| record["PrimaryEmail"].as_str())
        .map(|email| email.trim().to_lowercase())
        .collect();
    // One whose email no Connected contact shares, so a list by email finds it alone.
    let record = unconnected
        .iter()
        .find(|record| {
            let email = record["PrimaryEmail"]
                .as_str()
                .unwrap()
                .trim()
                .to_lowercase();
            !connected_emails.contains(&email)
        })
        .expect("an Unconnected contact with its own email");
    assert_eq!(record["RecordStatus"], "Unconnected");
    let source_id = record["Id"].as_str().unwrap();
    let email = record["PrimaryEmail"].as_str().unwrap();
    let id = global_id(SourceKind::Spark, source_id);
    assert!(
        spark_listed_by_email(&gateway, email).await.is_empty(),
        "Unconnected contacts are not listed"
    );

    let before = total_requests(sandbox).await;
    let data = gateway
        .data(
            TRANSFER,
            json!({"input": {"id": id, "ownerId": NEW_OWNER_ID, "clientMutationId": "move"}}),
        )
        .await;
    let payload = &data["transferContact"];
    assert_eq!(payload["clientMutationId"], "move");
    assert_eq!(payload["contact"]["status"], "Connected");
    assert_eq!(payload["contact"]["assignedTo"], NEW_OWNER_ID);
    // The transfer, then the read back.
    assert_eq!(total_requests(sandbox).await - before, 2);
    assert_eq!(
        sandbox
            .route_count("spark", "PUT", "/v1/contacts/{id}")
            .await,
        1
    );

    let read = gateway
        .data(
            "query($id: ID!) { contact(id: $id) { sourceId status assignedTo } }",
            json!({ "id": id }),
        )
        .await;
    assert_eq!(read["contact"]["status"], "Connected");
    assert_eq!(read["contact"]["assignedTo"], NEW_OWNER_ID);
    let nodes = spark_listed_by_email(&gateway, email).await;
    assert_eq!(nodes.len(), 1, "{nodes:?}");
    assert_eq!(nodes[0]["sourceId"], source_id);
    assert_eq!(nodes[0]["status"], "Connected");
    let still_unconnected = spark_all(sandbox, "/contacts/unconnected").await;
    assert!(still_unconnected.iter().all(|r| r["Id"] != source_id));
}

/// The Spark contacts the gateway lists with this email.
async fn spark_listed_by_email(gateway: &TestGateway, email: &str) -> Vec<Value> {
    let query = "query($email: String) { contacts(sources: [SPARK], filter: {email: $email}) {
        nodes { sourceId status } } }";
    let data = gateway.data(query, json!({ "email": email })).await;
    data["contacts"]["nodes"].as_array().unwrap().clone()
}

#[tokio::test]
async fn transfers_refuse_bad_owners_and_other_sources_without_a_request() {
    let gateway = spawn_gateway().await;
    let sandbox = &gateway.sandbox;
    let spark = &first_contacts(&gateway, "SPARK", 1).await[0];
    let winnerr = &first_contacts(&gateway, "WINNERR", 1).await[0];
    let before = total_requests(sandbox).await;
    for owner in ["123", "2020010100000000000000000x", ""] {
        let body = gateway
            .graphql(
                TRANSFER,
                json!({"input": {"id": id_of(spark), "ownerId": owner}}),
            )
            .await;
        let error = first_error(&body);
        assert_eq!(error["extensions"]["code"], "BAD_USER_INPUT", "{body}");
        assert_eq!(error["extensions"]["field"], "ownerId", "{body}");
    }
    let body = gateway
        .graphql(
            TRANSFER,
            json!({"input": {"id": id_of(winnerr), "ownerId": NEW_OWNER_ID}}),
        )
        .await;
    assert_eq!(
        first_error(&body)["extensions"]["code"],
        "UNSUPPORTED_BY_SOURCE",
        "{body}"
    );
    let body = gateway
        .graphql(
            TRANSFER,
            json!({"input": {"id": "garbage", "ownerId": NEW_OWNER_ID}}),
        )
        .await;
    assert_eq!(first_error(&body)["extensions"]["code"], "BAD_USER_INPUT");
    assert_eq!(total_requests(sandbox).await, before);
    let unknown = global_id(SourceKind::Spark, UNKNOWN_SPARK_ID);
    let body = gateway
        .graphql(
            TRANSFER,
            json!({"input": {"id": unknown, "ownerId": NEW_OWNER_ID}}),
        )
        .await;
    assert_eq!(
        first_error(&body)["extensions"]["code"],
        "NOT_FOUND",
        "{body}"
    );
}

#[tokio::test]
async fn my_contact_reads_and_updates_round_trip() {
    let gateway = spawn_gateway().await;
    let sandbox = &gateway.sandbox;
    let upstream = spark_get(sandbox, "/my/contact", &[]).await["D"]["Results"][0].clone();
    let before = total_requests(sandbox).await;
    let data = gateway.data(MY_CONTACT, json!({})).await;
    let mine = &data["myContact"];
    assert_eq!(total_requests(sandbox).await - before, 1);
    assert_eq!(mine["sourceId"], upstream["Id"]);
    assert_eq!(mine["displayName"], upstream["DisplayName"]);
    assert_eq!(mine["firstName"], upstream["GivenName"]);
    assert_eq!(mine["lastName"], upstream["FamilyName"]);
    assert_eq!(mine["emails"][0]["address"], upstream["PrimaryEmail"]);

    let changes = json!({
        "middleName": "Quinn",
        "mobilePhone": "612-555-0199",
        "mobilePhoneCountryCode": "1",
        "secondaryEmails": ["jordan.w@example.org", "jw@example.net"],
        "additionalNotificationEmails": ["jw@example.net"],
        "homeAddress": {"street": "1405 Main Street\nApt 112", "city": "Duluth"},
        "clientMutationId": "me-1"
    });
    let before = total_requests(sandbox).await;
    let data = gateway
        .data(UPDATE_MY_CONTACT, json!({ "input": changes }))
        .await;
    let payload = &data["updateMyContact"];
    assert_eq!(payload["clientMutationId"], "me-1");
    // The write, then the read.
    assert_eq!(total_requests(sandbox).await - before, 2);
    assert_eq!(
        sandbox.route_count("spark", "PUT", "/v1/my/contact").await,
        1
    );
    let updated = &payload["contact"];
    assert_eq!(updated["address"]["city"], "Duluth");
    assert_eq!(updated["address"]["street"], "1405 Main Street\nApt 112");
    assert_eq!(updated["raw"]["MiddleName"], "Quinn");
    assert!(updated["phones"]
        .as_array()
        .unwrap()
        .iter()
        .any(|phone| phone["number"] == "612-555-0199" && phone["label"] == "mobile"));
    let secondary: Vec<&Value> = updated["emails"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|email| email["label"] == "secondary")
        .map(|email| &email["address"])
        .collect();
    assert_eq!(
        secondary,
        [&json!("jordan.w@example.org"), &json!("jw@example.net")]
    );

    // The change is in Spark, and a fresh read shows it.
    let stored = spark_get(sandbox, "/my/contact", &[]).await["D"]["Results"][0].clone();
    assert_eq!(stored["MiddleName"], "Quinn");
    assert_eq!(stored["HomeLocality"], "Duluth");
    assert_eq!(
        stored["AdditionalNotificationEmails"],
        json!(["jw@example.net"])
    );
    let again = gateway.data(MY_CONTACT, json!({})).await;
    assert_eq!(again["myContact"]["address"]["city"], "Duluth");
    // Untouched attributes keep their values.
    assert_eq!(stored["DisplayName"], upstream["DisplayName"]);
    assert_eq!(stored["PrimaryEmail"], upstream["PrimaryEmail"]);

    // A blank value removes an attribute.
    let data = gateway
        .data(UPDATE_MY_CONTACT, json!({"input": {"middleName": ""}}))
        .await;
    assert_eq!(
        data["updateMyContact"]["contact"]["raw"]["MiddleName"],
        Value::Null
    );
}

#[tokio::test]
async fn my_contact_updates_break_no_limit_and_write_nothing_else() {
    let gateway = spawn_gateway().await;
    let sandbox = &gateway.sandbox;
    let before = total_requests(sandbox).await;
    for (input, field) in [
        (
            json!({"email": format!("{}@example.com", "a".repeat(70))}),
            "email",
        ),
        (json!({"email": "  "}), "email"),
        (json!({"firstName": "x".repeat(301)}), "firstName"),
        (
            json!({"mobilePhoneCountryCode": "123"}),
            "mobilePhoneCountryCode",
        ),
        (
            json!({"homeAddress": {"postalCode": "9".repeat(301)}}),
            "homeAddress.postalCode",
        ),
        (
            json!({"secondaryEmails": [format!("{}@example.com", "b".repeat(70))]}),
            "secondaryEmails",
        ),
        (
            json!({"secondaryEmails": ["a@example.com"], "additionalNotificationEmails": ["b@example.com"]}),
            "additionalNotificationEmails",
        ),
    ] {
        let body = gateway
            .graphql(UPDATE_MY_CONTACT, json!({ "input": input }))
            .await;
        let error = first_error(&body);
        assert_eq!(error["extensions"]["code"], "BAD_USER_INPUT", "{body}");
        assert_eq!(error["extensions"]["field"], field, "{body}");
    }
    let body = gateway
        .graphql(UPDATE_MY_CONTACT, json!({"input": {}}))
        .await;
    assert_eq!(first_error(&body)["extensions"]["code"], "BAD_USER_INPUT");
    // Attributes a user may not write have no input field at all.
    for input in [
        json!({"displayName": "Boss"}),
        json!({"tags": ["a"]}),
        json!({"ownerId": "1"}),
    ] {
        let body = gateway
            .graphql(UPDATE_MY_CONTACT, json!({ "input": input }))
            .await;
        assert!(
            body["errors"].as_array().is_some_and(|e| !e.is_empty()),
            "{body}"
        );
        assert_eq!(body["data"], Value::Null);
    }
    assert_eq!(total_requests(sandbox).await, before);
}

#[tokio::test]
async fn spark_operations_without_spark_say_so() {
    let gateway = spawn_gateway_configured(|config| {
        config
            .sources
            .retain(|source| source.kind != SourceKind::Spark)
    })
    .await;
    let spark_id = global_id(SourceKind::Spark, UNKNOWN_SPARK_ID);
    let bodies = [
        gateway.graphql(MY_CONTACT, json!({})).await,
        gateway
            .graphql(UPDATE_MY_CONTACT, json!({"input": {"middleName": "Q"}}))
            .await,
        gateway
            .graphql(
                TRANSFER,
                json!({"input": {"id": spark_id, "ownerId": NEW_OWNER_ID}}),
            )
            .await,
        gateway
            .graphql(ADD_TAGS, json!({"input": {"id": spark_id, "tags": ["a"]}}))
            .await,
    ];
    for body in &bodies {
        let error = first_error(body);
        assert_eq!(error["extensions"]["code"], "BAD_USER_INPUT", "{body}");
        assert!(
            error["message"]
                .as_str()
                .unwrap()
                .contains("spark is not configured"),
            "{body}"
        );
    }
    assert_eq!(total_requests(&gateway.sandbox).await, 0);
}
