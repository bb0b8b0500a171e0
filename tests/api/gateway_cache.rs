//! The response cache, end to end: repeated and shared reads cost no
//! upstream request, concurrent misses share one, every mutation is seen by
//! the next read while unrelated entries stay kept, and the client's
//! `Cache-Control: no-cache` and `X-Cache-Debug` are honoured. Counts come
//! from the sandbox's own request statistics.

use serde_json::{json, Value};

use crate::gateway_activities::upload_attachment;
use crate::gateway_operations::spark_all;
use crate::helpers::{spawn_cached_gateway, spawn_gateway_configured, TestGateway};

/// The README's property board (W1).
const W1: &str = "{
  properties(first: 10) {
    nodes {
      title city status price
      contacts { role primary contact { displayName emails { address } phones { number } } }
    }
  }
  contacts(sources: [WINNERR], first: 5, orderBy: {field: CREATED_AT, direction: DESC}) {
    nodes { displayName tags activities(first: 3) { nodes { type description occurredAt } } }
  }
}";

/// Every request the sandbox has received.
async fn upstream_total(gateway: &TestGateway) -> u64 {
    gateway.sandbox.stats().await["total"]
        .as_u64()
        .expect("total")
}

/// Runs `query` and returns its data and how many upstream requests it cost.
async fn measured(gateway: &TestGateway, query: &str, variables: Value) -> (Value, u64) {
    let before = upstream_total(gateway).await;
    let data = gateway.data(query, variables).await;
    (data, upstream_total(gateway).await - before)
}

/// Posts `query` with extra headers and returns the whole body.
async fn with_headers(gateway: &TestGateway, query: &str, headers: &[(&str, &str)]) -> Value {
    let mut request = gateway
        .sandbox
        .client
        .post(&gateway.graphql_url)
        .json(&json!({ "query": query }));
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    let response = request.send().await.expect("graphql request");
    assert!(response.status().is_success(), "HTTP {}", response.status());
    response.json().await.expect("graphql body")
}

#[tokio::test]
async fn a_repeated_property_board_makes_no_upstream_request_and_answers_the_same() {
    let gateway = spawn_cached_gateway().await;
    let (first, cold) = measured(&gateway, W1, json!({})).await;
    assert!(cold > 0);
    let (second, warm) = measured(&gateway, W1, json!({})).await;
    assert_eq!(warm, 0, "the second board read upstream");
    assert_eq!(first, second);
}

#[tokio::test]
async fn with_the_cache_off_a_repeated_board_costs_the_same_again() {
    let gateway = spawn_gateway_configured(|config| config.cache.enabled = false).await;
    let (first, cold) = measured(&gateway, W1, json!({})).await;
    let (second, again) = measured(&gateway, W1, json!({})).await;
    assert_eq!(again, cold);
    assert_eq!(first, second);
}

#[tokio::test]
async fn a_contact_from_a_spark_page_is_read_by_id_without_a_request() {
    let gateway = spawn_cached_gateway().await;
    let ids = gateway.newest_contact_ids("SPARK", 10).await;
    let query = "query($ids: [ID!]!) { nodes(ids: $ids) { ... on Contact { id displayName } } }";
    let (data, cost) = measured(&gateway, query, json!({ "ids": ids })).await;
    assert_eq!(cost, 0, "a batch of listed Spark contacts went upstream");
    assert_eq!(data["nodes"].as_array().map(Vec::len), Some(ids.len()));
    let single = "query($id: ID!) { contact(id: $id) { id displayName } }";
    let (data, cost) = measured(&gateway, single, json!({ "id": ids[3] })).await;
    assert_eq!(cost, 0);
    assert_eq!(data["contact"]["id"], ids[3]);
}

#[tokio::test]
async fn a_contact_nested_in_a_property_link_is_read_by_id_without_a_request() {
    let gateway = spawn_cached_gateway().await;
    let board = "{ properties(first: 5) { nodes { contacts { contact { id displayName } } } } }";
    let data = gateway.data(board, json!({})).await;
    let linked: Vec<Value> = data["properties"]["nodes"]
        .as_array()
        .expect("nodes")
        .iter()
        .flat_map(|property| property["contacts"].as_array().cloned().unwrap_or_default())
        .map(|link| link["contact"].clone())
        .collect();
    let contact = linked.first().expect("a linked contact");
    let single = "query($id: ID!) { contact(id: $id) { id displayName } }";
    let (data, cost) = measured(&gateway, single, json!({ "id": contact["id"] })).await;
    assert_eq!(cost, 0, "the linked contact was read again");
    assert_eq!(&data["contact"], contact);
}

#[tokio::test]
async fn a_winnerr_contact_read_with_its_activities_serves_them_later() {
    let gateway = spawn_cached_gateway().await;
    let list = "{ contacts(sources: [WINNERR], first: 5) { nodes { id activities(first: 50) { totalCount } } } }";
    let data = gateway.data(list, json!({})).await;
    let node = data["contacts"]["nodes"][0].clone();
    let detail = "query($id: ID!) { contact(id: $id) { id displayName activities(first: 50) { totalCount nodes { id description } } } }";
    let (data, cost) = measured(&gateway, detail, json!({ "id": node["id"] })).await;
    assert_eq!(cost, 0, "the activities were read again");
    assert_eq!(
        data["contact"]["activities"]["totalCount"],
        node["activities"]["totalCount"]
    );
}

#[tokio::test]
async fn concurrent_identical_queries_on_a_cold_cache_share_each_upstream_request() {
    // The cost of one board on its own, on a gateway of its own.
    let alone = spawn_cached_gateway().await;
    let (expected, one_board) = measured(&alone, W1, json!({})).await;

    let gateway = spawn_cached_gateway().await;
    let before = upstream_total(&gateway).await;
    let boards = (0..100).map(|_| gateway.data(W1, json!({})));
    let answers = futures::future::join_all(boards).await;
    let cost = upstream_total(&gateway).await - before;
    assert_eq!(cost, one_board, "100 boards at once cost more than one");
    assert!(answers.iter().all(|answer| *answer == expected));
}

#[tokio::test]
async fn a_client_asking_for_fresh_data_reads_upstream_and_refreshes_the_entry() {
    let gateway = spawn_cached_gateway().await;
    let ids = gateway.newest_contact_ids("OPEN_TO_CLOSE", 1).await;
    let query = format!("{{ contact(id: \"{}\") {{ displayName }} }}", ids[0]);
    gateway.data(&query, json!({})).await;
    let before = upstream_total(&gateway).await;
    let body = with_headers(&gateway, &query, &[("cache-control", "no-cache")]).await;
    assert!(body.get("errors").is_none(), "{body}");
    assert_eq!(upstream_total(&gateway).await - before, 1);
    let (_, cost) = measured(&gateway, &query, json!({})).await;
    assert_eq!(cost, 0);
}

#[tokio::test]
async fn the_cache_debug_header_reports_what_a_request_read() {
    let gateway = spawn_cached_gateway().await;
    let debug = [("x-cache-debug", "1")];
    let cold = with_headers(&gateway, W1, &debug).await;
    let report = &cold["extensions"]["cache"];
    assert_eq!(report["hits"], 0, "{cold}");
    assert!(report["upstreamReads"].as_u64().unwrap() > 0, "{cold}");
    let warm = with_headers(&gateway, W1, &debug).await;
    let report = &warm["extensions"]["cache"];
    assert_eq!(report["upstreamReads"], 0, "{warm}");
    assert!(report["hits"].as_u64().unwrap() > 0, "{warm}");
    assert!(report["oldestAgeMs"].is_u64(), "{warm}");
    // Without the header there is no report.
    let plain = with_headers(&gateway, W1, &[]).await;
    assert!(plain.get("extensions").is_none(), "{plain}");
}

#[tokio::test]
async fn a_failing_upstream_answer_is_not_kept() {
    let gateway = spawn_cached_gateway().await;
    let query = "{ contacts(sources: [SPARK], first: 3, orderBy: {field: CREATED_AT, direction: DESC}) { nodes { id } } }";
    gateway
        .sandbox
        .configure(
            json!({ "spark": { "faults": [{ "kind": "html_error", "rate": 1.0, "count": 1 }] } }),
        )
        .await;
    let failed = gateway.graphql(query, json!({})).await;
    assert!(failed.get("errors").is_some(), "{failed}");
    let (data, cost) = measured(&gateway, query, json!({})).await;
    assert_eq!(cost, 1, "the failure was served again, or nothing was read");
    assert_eq!(data["contacts"]["nodes"].as_array().map(Vec::len), Some(3));
}

#[tokio::test]
async fn a_time_to_live_of_zero_keeps_nothing_of_that_resource() {
    let gateway = spawn_gateway_configured(|config| {
        config.cache.enabled = true;
        config.cache.ttl_ms.contact_list = Some(0);
    })
    .await;
    let query = "{ contacts(sources: [WINNERR], first: 3) { nodes { id } } }";
    gateway.data(query, json!({})).await;
    let (_, cost) = measured(&gateway, query, json!({})).await;
    assert_eq!(cost, 1);
}

// ---------------------------------------------------------------------------
// Every mutation is seen by the next read; unrelated entries stay kept.

/// Whether the reads after a write show it.
type SawWrite = Box<dyn Fn(&[Value]) -> bool>;

/// A mutation case: reads that show the record, the write, and what the
/// reads must show after it.
struct Case {
    name: &'static str,
    /// Queries that show what the write changes, by id and in a list.
    reads: Vec<String>,
    write: String,
    variables: Value,
    /// Whether the reads after the write show it.
    saw_write: SawWrite,
    /// Queries unrelated to the write: kept before it, still kept after.
    unrelated: Vec<String>,
}

/// Warms the unrelated entries and the reads, proves both are kept, writes,
/// then proves the reads see the write and the unrelated entries were not
/// read again.
async fn check_case(gateway: &TestGateway, case: Case) {
    let name = case.name;
    for query in case.unrelated.iter().chain(&case.reads) {
        gateway.data(query, json!({})).await;
    }
    for query in case.unrelated.iter().chain(&case.reads) {
        let (_, cost) = measured(gateway, query, json!({})).await;
        assert_eq!(cost, 0, "{name}: not kept before the write: {query}");
    }
    let body = gateway.graphql(&case.write, case.variables.clone()).await;
    assert!(body.get("errors").is_none(), "{name}: {body:#}");
    let mut after = Vec::new();
    for query in &case.reads {
        after.push(gateway.data(query, json!({})).await);
    }
    assert!(
        (case.saw_write)(&after),
        "{name}: stale after the write: {after:#?}"
    );
    for query in &case.unrelated {
        let (_, cost) = measured(gateway, query, json!({})).await;
        assert_eq!(cost, 0, "{name}: an unrelated entry was dropped: {query}");
    }
}

fn by_id(id: &str, selection: &str) -> String {
    format!("{{ contact(id: \"{id}\") {{ id {selection} }} }}")
}

fn newest_list(source: &str, selection: &str) -> String {
    format!(
        "{{ contacts(sources: [{source}], first: 50, orderBy: {{field: CREATED_AT, direction: DESC}}) {{ nodes {{ id {selection} }} }} }}"
    )
}

fn name_list(source: &str) -> String {
    format!(
        "{{ contacts(sources: [{source}], first: 50, orderBy: {{field: NAME, direction: ASC}}) {{ nodes {{ id lastName }} }} }}"
    )
}

fn nodes(data: &Value) -> Vec<Value> {
    data["contacts"]["nodes"]
        .as_array()
        .cloned()
        .unwrap_or_default()
}

const SOURCES: [&str; 4] = ["OPEN_TO_CLOSE", "DJANGO_CRM", "WINNERR", "SPARK"];

/// Entries no write to `source`'s contacts can change: the property list,
/// and one contact of every other source.
async fn unrelated_to(gateway: &TestGateway, source: &str) -> Vec<String> {
    let mut queries = vec!["{ properties(first: 5) { nodes { id title } } }".to_string()];
    for other in SOURCES.iter().filter(|other| **other != source) {
        let ids = gateway.newest_contact_ids(other, 3).await;
        queries.push(by_id(&ids[2], "displayName"));
    }
    queries
}

#[tokio::test]
async fn contact_writes_are_seen_by_id_and_in_lists_while_other_entries_stay() {
    for source in SOURCES {
        // Create: the new contact shows in the newest-first list.
        let gateway = spawn_cached_gateway().await;
        let email = format!("cache.{}@example.com", source.to_lowercase());
        let case = Case {
            name: "createContact",
            reads: vec![newest_list(source, "lastName")],
            write: "mutation($input: CreateContactInput!) { createContact(input: $input) { contact { id } } }".into(),
            variables: json!({"input": {"source": source, "firstName": "Cora", "lastName": "Cachewright", "email": email}}),
            saw_write: Box::new(|after| {
                nodes(&after[0]).iter().any(|node| node["lastName"] == "Cachewright")
            }),
            unrelated: unrelated_to(&gateway, source).await,
        };
        check_case(&gateway, case).await;

        // Update: by id, in the list, and in a list the gateway sorts itself.
        let gateway = spawn_cached_gateway().await;
        let ids = gateway.newest_contact_ids(source, 2).await;
        let target = ids[0].clone();
        let mut unrelated = unrelated_to(&gateway, source).await;
        unrelated.push(by_id(&ids[1], "lastName"));
        let check_target = target.clone();
        let case = Case {
            name: "updateContact",
            reads: vec![
                by_id(&target, "lastName"),
                newest_list(source, "lastName"),
                name_list(source),
            ],
            write: "mutation($input: UpdateContactInput!) { updateContact(input: $input) { contact { id } } }".into(),
            variables: json!({"input": {"id": target, "lastName": "Aardvark"}}),
            saw_write: Box::new(move |after| {
                after[0]["contact"]["lastName"] == "Aardvark"
                    && nodes(&after[1])
                        .iter()
                        .any(|node| node["id"] == check_target && node["lastName"] == "Aardvark")
                    && nodes(&after[2])
                        .first()
                        .is_some_and(|node| node["id"] == check_target)
            }),
            unrelated,
        };
        check_case(&gateway, case).await;

        // Delete: gone by id and from the list.
        let gateway = spawn_cached_gateway().await;
        let ids = gateway.newest_contact_ids(source, 2).await;
        let target = ids[0].clone();
        let mut unrelated = unrelated_to(&gateway, source).await;
        unrelated.push(by_id(&ids[1], "lastName"));
        let check_target = target.clone();
        let case = Case {
            name: "deleteContact",
            reads: vec![by_id(&target, "lastName"), newest_list(source, "lastName")],
            write: "mutation($input: DeleteContactInput!) { deleteContact(input: $input) { deletedId } }".into(),
            variables: json!({"input": {"id": target}}),
            saw_write: Box::new(move |after| {
                after[0]["contact"].is_null()
                    && nodes(&after[1]).iter().all(|node| node["id"] != check_target)
            }),
            unrelated,
        };
        check_case(&gateway, case).await;
    }
}

/// A property with links, one of its linked contacts, and an Open To Close
/// contact it is not linked to.
async fn property_and_contacts(gateway: &TestGateway) -> (String, String, String) {
    let board = "{ properties(first: 20) { nodes { id contacts { contact { id } } } } }";
    let data = gateway.data(board, json!({})).await;
    let property = data["properties"]["nodes"]
        .as_array()
        .expect("nodes")
        .iter()
        .find(|property| {
            property["contacts"]
                .as_array()
                .is_some_and(|links| !links.is_empty())
        })
        .expect("a property with contacts")
        .clone();
    let linked: Vec<String> = property["contacts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|link| link["contact"]["id"].as_str().unwrap().to_string())
        .collect();
    let others = gateway.newest_contact_ids("OPEN_TO_CLOSE", 50).await;
    let unlinked = others
        .into_iter()
        .find(|id| !linked.contains(id))
        .expect("an unlinked contact");
    (
        property["id"].as_str().unwrap().to_string(),
        linked[0].clone(),
        unlinked,
    )
}

fn property_links(property: &str) -> String {
    format!("{{ property(id: \"{property}\") {{ contacts {{ role contact {{ id }} }} }} }}")
}

fn links_of(data: &Value) -> Vec<Value> {
    data["property"]["contacts"]
        .as_array()
        .cloned()
        .unwrap_or_default()
}

#[tokio::test]
async fn link_writes_are_seen_in_the_property_while_other_entries_stay() {
    let link_case = |name: &'static str,
                     write: &str,
                     variables: Value,
                     property: &str,
                     saw: SawWrite,
                     unrelated: Vec<String>| Case {
        name,
        reads: vec![property_links(property)],
        write: write.to_string(),
        variables,
        saw_write: saw,
        unrelated,
    };
    let gateway = spawn_cached_gateway().await;
    let (property, _, unlinked) = property_and_contacts(&gateway).await;
    let expected = unlinked.clone();
    let case = link_case(
        "linkContactToProperty",
        "mutation($input: LinkContactToPropertyInput!) { linkContactToProperty(input: $input) { propertyContact { role } } }",
        json!({"input": {"propertyId": property, "contactId": unlinked, "role": "Cache Buyer"}}),
        &property,
        Box::new(move |after| {
            links_of(&after[0])
                .iter()
                .any(|link| link["contact"]["id"] == expected && link["role"] == "Cache Buyer")
        }),
        unrelated_to(&gateway, "OPEN_TO_CLOSE").await,
    );
    check_case(&gateway, case).await;

    let gateway = spawn_cached_gateway().await;
    let (property, linked, _) = property_and_contacts(&gateway).await;
    let expected = linked.clone();
    let case = link_case(
        "updatePropertyContact",
        "mutation($input: UpdatePropertyContactInput!) { updatePropertyContact(input: $input) { propertyContact { role } } }",
        json!({"input": {"propertyId": property, "contactId": linked, "role": "Cache Seller"}}),
        &property,
        Box::new(move |after| {
            links_of(&after[0])
                .iter()
                .any(|link| link["contact"]["id"] == expected && link["role"] == "Cache Seller")
        }),
        unrelated_to(&gateway, "OPEN_TO_CLOSE").await,
    );
    check_case(&gateway, case).await;

    let gateway = spawn_cached_gateway().await;
    let (property, linked, _) = property_and_contacts(&gateway).await;
    let expected = linked.clone();
    let case = link_case(
        "unlinkContactFromProperty",
        "mutation($input: UnlinkContactFromPropertyInput!) { unlinkContactFromProperty(input: $input) { propertyId } }",
        json!({"input": {"propertyId": property, "contactId": linked}}),
        &property,
        Box::new(move |after| {
            links_of(&after[0])
                .iter()
                .all(|link| link["contact"]["id"] != expected)
        }),
        unrelated_to(&gateway, "OPEN_TO_CLOSE").await,
    );
    check_case(&gateway, case).await;
}

fn activities_of(id: &str) -> String {
    by_id(
        id,
        "activities(first: 100) { totalCount nodes { id description } }",
    )
}

fn activity_nodes(data: &Value) -> Vec<Value> {
    data["contact"]["activities"]["nodes"]
        .as_array()
        .cloned()
        .unwrap_or_default()
}

const RECORD: &str =
    "mutation($input: RecordActivityInput!) { recordActivity(input: $input) { activity { id } } }";

#[tokio::test]
async fn activity_writes_are_seen_while_other_entries_stay() {
    for source in ["WINNERR", "DJANGO_CRM"] {
        let gateway = spawn_cached_gateway().await;
        let ids = gateway.newest_contact_ids(source, 2).await;
        let mut unrelated = unrelated_to(&gateway, source).await;
        unrelated.push(by_id(&ids[1], "displayName"));
        let case = Case {
            name: "recordActivity",
            reads: vec![activities_of(&ids[0])],
            write: RECORD.into(),
            variables: json!({"input": {"contactId": ids[0], "type": "NOTE", "description": "Cached note"}}),
            saw_write: Box::new(|after| {
                activity_nodes(&after[0])
                    .iter()
                    .any(|node| node["description"] == "Cached note")
            }),
            unrelated,
        };
        check_case(&gateway, case).await;
    }

    // Django-CRM comments, edited and deleted by their id alone.
    for (name, write) in [
        ("updateComment", "mutation($input: UpdateCommentInput!) { updateComment(input: $input) { activity { id } } }"),
        ("deleteComment", "mutation($input: DeleteCommentInput!) { deleteComment(input: $input) { deletedId } }"),
    ] {
        let gateway = spawn_cached_gateway().await;
        let ids = gateway.newest_contact_ids("DJANGO_CRM", 1).await;
        let recorded = gateway
            .data(
                RECORD,
                json!({"input": {"contactId": ids[0], "type": "NOTE", "description": "First words"}}),
            )
            .await;
        let comment = recorded["recordActivity"]["activity"]["id"]
            .as_str()
            .unwrap()
            .to_string();
        let variables = if name == "updateComment" {
            json!({"input": {"id": comment, "comment": "Second thoughts"}})
        } else {
            json!({"input": {"id": comment}})
        };
        let is_update = name == "updateComment";
        let case = Case {
            name,
            reads: vec![activities_of(&ids[0])],
            write: write.into(),
            variables,
            saw_write: Box::new(move |after| {
                let nodes = activity_nodes(&after[0]);
                let found = nodes.iter().find(|node| node["id"] == comment);
                if is_update {
                    found.is_some_and(|node| node["description"] == "Second thoughts")
                } else {
                    found.is_none()
                }
            }),
            unrelated: unrelated_to(&gateway, "DJANGO_CRM").await,
        };
        check_case(&gateway, case).await;
    }

    // A Django-CRM attachment.
    let gateway = spawn_cached_gateway().await;
    let ids = gateway.newest_contact_ids("DJANGO_CRM", 1).await;
    let data = gateway.data(&by_id(&ids[0], "sourceId"), json!({})).await;
    let source_id = data["contact"]["sourceId"].as_str().unwrap().to_string();
    upload_attachment(&gateway.sandbox, &source_id).await;
    // The upload was made in the upstream directly: read it afresh.
    let attachments = format!(
        "{{ contact(id: \"{}\") {{ activities(first: 100, types: [ATTACHMENT]) {{ nodes {{ id }} }} }} }}",
        ids[0]
    );
    let fresh = with_headers(&gateway, &attachments, &[("cache-control", "no-cache")]).await;
    let attachment = fresh["data"]["contact"]["activities"]["nodes"][0]["id"]
        .as_str()
        .expect("the uploaded attachment")
        .to_string();
    let gone = attachment.clone();
    let case = Case {
        name: "deleteAttachment",
        reads: vec![activities_of(&ids[0])],
        write: "mutation($input: DeleteAttachmentInput!) { deleteAttachment(input: $input) { deletedId } }".into(),
        variables: json!({"input": {"id": attachment}}),
        saw_write: Box::new(move |after| activity_nodes(&after[0]).iter().all(|node| node["id"] != gone)),
        unrelated: unrelated_to(&gateway, "DJANGO_CRM").await,
    };
    check_case(&gateway, case).await;
}

#[tokio::test]
async fn operations_are_seen_while_other_entries_stay() {
    // Tags, on both sources that keep them.
    for source in ["WINNERR", "SPARK"] {
        let gateway = spawn_cached_gateway().await;
        let ids = gateway.newest_contact_ids(source, 2).await;
        let mut unrelated = unrelated_to(&gateway, source).await;
        unrelated.push(by_id(&ids[1], "tags"));
        let target = ids[0].clone();
        let case = Case {
            name: "addContactTags",
            reads: vec![
                by_id(&ids[0], "tags"),
                format!("{{ contacts(sources: [{source}], filter: {{tags: [\"cachetag\"]}}) {{ nodes {{ id }} }} }}"),
            ],
            write: "mutation($input: AddContactTagsInput!) { addContactTags(input: $input) { contact { id } } }".into(),
            variables: json!({"input": {"id": ids[0], "tags": ["cachetag"]}}),
            saw_write: Box::new(move |after| {
                after[0]["contact"]["tags"]
                    .as_array()
                    .is_some_and(|tags| tags.contains(&json!("cachetag")))
                    && nodes(&after[1]).iter().any(|node| node["id"] == target)
            }),
            unrelated,
        };
        check_case(&gateway, case).await;
    }

    // Winnerr's bulk update.
    let gateway = spawn_cached_gateway().await;
    let ids = gateway.newest_contact_ids("WINNERR", 3).await;
    let mut unrelated = unrelated_to(&gateway, "WINNERR").await;
    unrelated.push(by_id(&ids[2], "notes"));
    let case = Case {
        name: "bulkUpdateContacts",
        reads: vec![by_id(&ids[0], "notes"), by_id(&ids[1], "notes"), newest_list("WINNERR", "notes")],
        write: "mutation($input: BulkUpdateContactsInput!) { bulkUpdateContacts(input: $input) { results { id } } }".into(),
        variables: json!({"input": {"ids": [ids[0], ids[1]], "changes": {"notes": "Cache Broker"}}}),
        saw_write: Box::new(|after| {
            after[0]["contact"]["notes"] == "Cache Broker"
                && after[1]["contact"]["notes"] == "Cache Broker"
                && nodes(&after[2])
                    .iter()
                    .filter(|node| node["notes"] == "Cache Broker")
                    .count()
                    >= 2
        }),
        unrelated,
    };
    check_case(&gateway, case).await;

    // A Spark transfer connects a contact: it joins the list.
    let gateway = spawn_cached_gateway().await;
    let unconnected = spark_all(&gateway.sandbox, "/contacts/unconnected").await;
    let record = &unconnected[0];
    let source_id = record["Id"].as_str().unwrap();
    let email = record["PrimaryEmail"].as_str().unwrap().to_string();
    let id = contact_gateway::domain::GlobalId::new(
        contact_gateway::domain::NodeType::Contact,
        contact_gateway::domain::SourceKind::Spark,
        source_id,
    )
    .encode();
    let target = id.clone();
    let case = Case {
        name: "transferContact",
        reads: vec![
            by_id(&id, "status"),
            format!("{{ contacts(sources: [SPARK], filter: {{email: \"{email}\"}}) {{ nodes {{ id status }} }} }}"),
        ],
        write: "mutation($input: TransferContactInput!) { transferContact(input: $input) { contact { id } } }".into(),
        variables: json!({"input": {"id": id, "ownerId": "20200101000000000000000001"}}),
        saw_write: Box::new(move |after| {
            after[0]["contact"]["status"] == "Connected"
                && nodes(&after[1]).iter().any(|node| node["id"] == target)
        }),
        unrelated: unrelated_to(&gateway, "SPARK").await,
    };
    check_case(&gateway, case).await;

    // The Spark user's own contact.
    let gateway = spawn_cached_gateway().await;
    let case = Case {
        name: "updateMyContact",
        reads: vec!["{ myContact { firstName } }".into()],
        write: "mutation($input: UpdateMyContactInput!) { updateMyContact(input: $input) { contact { firstName } } }".into(),
        variables: json!({"input": {"firstName": "Cachelia"}}),
        saw_write: Box::new(|after| after[0]["myContact"]["firstName"] == "Cachelia"),
        unrelated: unrelated_to(&gateway, "SPARK").await,
    };
    check_case(&gateway, case).await;
}
