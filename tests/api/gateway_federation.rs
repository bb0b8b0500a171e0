//! Federated contact lists over all four sources, checked against the
//! sandbox's own data fetched straight from each emulator.

use std::cmp::Ordering;
use std::collections::HashSet;

use serde_json::{json, Value};

use crate::helpers::{spawn_cached_gateway, spawn_gateway, TestSandbox};

/// What the test needs of one upstream record, read with its own small mapping
/// (independent of the gateway's adapters).
#[derive(Debug, Clone)]
struct Expected {
    source: &'static str,
    source_id: String,
    first: Option<String>,
    last: Option<String>,
    display: Option<String>,
    created: Option<String>,
    updated: Option<String>,
    city: Option<String>,
}

fn text(record: &Value, key: &str) -> Option<String> {
    record[key]
        .as_str()
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_string)
}

fn instant(value: Option<String>) -> Option<String> {
    value
        .and_then(|v| chrono::DateTime::parse_from_rfc3339(&v).ok())
        .map(|t| t.with_timezone(&chrono::Utc).to_rfc3339())
}

async fn get(sandbox: &TestSandbox, url: String, headers: &[(&str, String)]) -> Value {
    let mut request = sandbox.client.get(url);
    for (name, value) in headers {
        request = request.header(*name, value);
    }
    let response = request.send().await.unwrap();
    assert!(response.status().is_success(), "{}", response.status());
    response.json().await.unwrap()
}

async fn everything(sandbox: &TestSandbox) -> Vec<Expected> {
    let mut all = Vec::new();
    let token = sandbox.credential("opentoclose", "api_token");
    for offset in (0..).step_by(100) {
        let page = get(
            sandbox,
            format!(
                "{}/contacts?limit=100&offset={offset}&api_token={token}",
                sandbox.base("opentoclose")
            ),
            &[],
        )
        .await;
        let records = page.as_array().unwrap();
        if records.is_empty() {
            break;
        }
        all.extend(records.iter().map(|r| Expected {
            source: "OPEN_TO_CLOSE",
            source_id: r["id"].to_string(),
            first: text(r, "first_name"),
            last: text(r, "last_name"),
            display: None,
            created: instant(text(r, "created")),
            updated: instant(text(r, "updated")),
            city: text(r, "city"),
        }));
    }
    let django = [
        (
            "authorization",
            format!("Bearer {}", sandbox.credential("djangocrm", "token")),
        ),
        (
            "organization-id",
            sandbox.credential("djangocrm", "organization_id"),
        ),
    ];
    for offset in (0..).step_by(100) {
        let page = get(
            sandbox,
            format!(
                "{}/contacts/?limit=100&offset={offset}",
                sandbox.base("djangocrm")
            ),
            &django,
        )
        .await;
        let records = page["results"].as_array().unwrap();
        if records.is_empty() {
            break;
        }
        all.extend(records.iter().map(|r| Expected {
            source: "DJANGO_CRM",
            source_id: r["id"].as_str().unwrap().to_string(),
            first: text(r, "first_name"),
            last: text(r, "last_name"),
            display: None,
            created: instant(text(r, "created_on")),
            updated: instant(text(r, "updated_at")),
            city: text(r, "city"),
        }));
    }
    let winnerr = [(
        "authorization",
        format!("Bearer {}", sandbox.credential("winnerr", "token")),
    )];
    let mut cursor: Option<String> = None;
    loop {
        let mut url = format!("{}/contacts?limit=100", sandbox.base("winnerr"));
        if let Some(cursor) = &cursor {
            url.push_str(&format!("&cursor={cursor}"));
        }
        let page = get(sandbox, url, &winnerr).await;
        all.extend(page["data"].as_array().unwrap().iter().map(|r| Expected {
            source: "WINNERR",
            source_id: r["id"].as_str().unwrap().to_string(),
            first: text(r, "firstName"),
            last: text(r, "lastName"),
            display: None,
            created: instant(text(r, "createdAt")),
            updated: instant(text(r, "updatedAt")),
            city: text(&r["address"], "city"),
        }));
        if page["pagination"]["hasMore"] != true {
            break;
        }
        cursor = page["pagination"]["nextCursor"]
            .as_str()
            .map(str::to_string);
    }
    let spark = [
        (
            "authorization",
            format!("Bearer {}", sandbox.credential("spark", "token")),
        ),
        (
            "x-sparkapi-user-agent",
            sandbox.credential("spark", "user_agent"),
        ),
    ];
    for page_number in 1.. {
        let page = get(
            sandbox,
            format!(
                "{}/contacts?_limit=25&_page={page_number}",
                sandbox.base("spark")
            ),
            &spark,
        )
        .await;
        let records = page["D"]["Results"].as_array().unwrap();
        if records.is_empty() {
            break;
        }
        all.extend(records.iter().map(|r| Expected {
            source: "SPARK",
            source_id: r["Id"].as_str().unwrap().to_string(),
            first: text(r, "GivenName"),
            last: text(r, "FamilyName"),
            display: text(r, "DisplayName"),
            created: instant(text(r, "CreatedTimestamp")),
            updated: instant(text(r, "ModificationTimestamp")),
            city: text(r, "HomeLocality"),
        }));
    }
    all
}

const SOURCE_RANK: [&str; 4] = ["OPEN_TO_CLOSE", "DJANGO_CRM", "WINNERR", "SPARK"];

fn name_key(e: &Expected) -> Option<(String, String)> {
    match &e.last {
        Some(last) => Some((
            last.to_lowercase(),
            e.first.clone().unwrap_or_default().to_lowercase(),
        )),
        None => e
            .display
            .clone()
            .or_else(|| {
                let joined = [e.first.clone(), e.last.clone()]
                    .into_iter()
                    .flatten()
                    .collect::<Vec<_>>()
                    .join(" ");
                (!joined.is_empty()).then_some(joined)
            })
            .map(|d| (d.to_lowercase(), String::new())),
    }
}

fn compare_ids(a: &str, b: &str) -> Ordering {
    match (a.parse::<u128>(), b.parse::<u128>()) {
        (Ok(x), Ok(y)) => x.cmp(&y),
        _ => a.cmp(b),
    }
}

/// The order the gateway promises: by key in the direction (missing keys last),
/// then source, then the source's own id.
fn expected_order(mut all: Vec<Expected>, field: &str, descending: bool) -> Vec<(String, String)> {
    all.sort_by(|a, b| {
        let by_key = match field {
            "NAME" => compare_optional(name_key(a), name_key(b), descending),
            "CREATED_AT" => compare_optional(a.created.clone(), b.created.clone(), descending),
            _ => compare_optional(a.updated.clone(), b.updated.clone(), descending),
        };
        by_key
            .then_with(|| rank(a.source).cmp(&rank(b.source)))
            .then_with(|| compare_ids(&a.source_id, &b.source_id))
    });
    all.into_iter()
        .map(|e| (e.source.to_string(), e.source_id))
        .collect()
}

fn rank(source: &str) -> usize {
    SOURCE_RANK.iter().position(|s| *s == source).unwrap()
}

fn compare_optional<T: Ord>(a: Option<T>, b: Option<T>, descending: bool) -> Ordering {
    match (a, b) {
        (None, None) => Ordering::Equal,
        (None, Some(_)) => Ordering::Greater,
        (Some(_), None) => Ordering::Less,
        (Some(a), Some(b)) if descending => b.cmp(&a),
        (Some(a), Some(b)) => a.cmp(&b),
    }
}

async fn walk(
    gateway: &crate::helpers::TestGateway,
    first: usize,
    order: Value,
    filter: Value,
) -> Vec<(String, String)> {
    let query = "query($first: Int, $after: String, $order: ContactOrderInput, $filter: ContactFilterInput) {
        contacts(first: $first, after: $after, orderBy: $order, filter: $filter) {
            edges { cursor node { source sourceId } }
            pageInfo { hasNextPage endCursor }
        } }";
    let mut seen = Vec::new();
    let mut after = Value::Null;
    loop {
        let data = gateway
            .data(
                query,
                json!({ "first": first, "after": after, "order": order, "filter": filter }),
            )
            .await;
        let connection = &data["contacts"];
        let edges = connection["edges"].as_array().unwrap();
        assert!(edges.len() <= first);
        seen.extend(edges.iter().map(|e| {
            (
                e["node"]["source"].as_str().unwrap().to_string(),
                e["node"]["sourceId"].as_str().unwrap().to_string(),
            )
        }));
        if connection["pageInfo"]["hasNextPage"] != true {
            break;
        }
        after = connection["pageInfo"]["endCursor"].clone();
        assert!(
            after.is_string(),
            "a page with a next page has an end cursor"
        );
    }
    seen
}

fn assert_same(got: &[(String, String)], expected: &[(String, String)], what: &str) {
    let unique: HashSet<_> = got.iter().collect();
    assert_eq!(unique.len(), got.len(), "{what}: duplicates");
    assert_eq!(got.len(), expected.len(), "{what}: count");
    if let Some(index) = got.iter().zip(expected).position(|(a, b)| a != b) {
        panic!(
            "{what}: first difference at {index}: got {:?}, expected {:?}",
            &got[index..(index + 3).min(got.len())],
            &expected[index..(index + 3).min(expected.len())]
        );
    }
}

/// Walks all 2,400 contacts of the four sources in one order with pages of
/// 1, 7 and 50 and compares each walk with the sandbox's own data.
async fn walk_everything_in(field: &str, descending: bool) {
    let gateway = spawn_cached_gateway().await;
    let expected = expected_order(everything(&gateway.sandbox).await, field, descending);
    assert_eq!(expected.len(), 2400);
    let order = json!({ "field": field, "direction": if descending { "DESC" } else { "ASC" } });
    for first in [1, 7, 50] {
        let got = walk(&gateway, first, order.clone(), Value::Null).await;
        assert_same(
            &got,
            &expected,
            &format!("{field} desc={descending} first={first}"),
        );
    }
}

#[tokio::test]
async fn walking_everything_by_name_yields_each_contact_once_in_order() {
    walk_everything_in("NAME", false).await;
}

#[tokio::test]
async fn walking_everything_by_name_descending_yields_each_contact_once_in_order() {
    walk_everything_in("NAME", true).await;
}

#[tokio::test]
async fn walking_everything_by_creation_yields_each_contact_once_in_order() {
    walk_everything_in("CREATED_AT", false).await;
}

#[tokio::test]
async fn walking_everything_newest_first_yields_each_contact_once_in_order() {
    walk_everything_in("CREATED_AT", true).await;
}

#[tokio::test]
async fn walking_everything_by_update_yields_each_contact_once_in_order() {
    walk_everything_in("UPDATED_AT", false).await;
}

#[tokio::test]
async fn walking_everything_last_updated_first_yields_each_contact_once_in_order() {
    walk_everything_in("UPDATED_AT", true).await;
}

/// Requests per source so far.
async fn requests_by_source(sandbox: &TestSandbox) -> Vec<(String, u64)> {
    let stats = sandbox.stats().await;
    ["opentoclose", "djangocrm", "winnerr", "spark"]
        .into_iter()
        .map(|source| {
            let count = stats["by_source"][source].as_u64().expect("count");
            (source.to_string(), count)
        })
        .collect()
}

#[tokio::test]
async fn a_name_ordered_walk_reads_each_unsortable_source_once_and_sees_gateway_writes() {
    let gateway = spawn_cached_gateway().await;
    let order = json!({ "field": "NAME", "direction": "ASC" });
    let page = "query($after: String, $order: ContactOrderInput) {
        contacts(first: 7, after: $after, orderBy: $order) {
            edges { node { source sourceId lastName } }
            pageInfo { hasNextPage endCursor }
        } }";
    let first_page = gateway
        .data(page, json!({ "after": null, "order": order }))
        .await;
    let after_first_page = requests_by_source(&gateway.sandbox).await;
    // Open To Close, Django-CRM and Spark cannot sort by name: the first page
    // read their whole lists.
    for (source, count) in &after_first_page {
        assert!(*count >= 1, "{source} was not read");
    }
    let mut after = first_page["contacts"]["pageInfo"]["endCursor"].clone();
    for _ in 0..20 {
        let data = gateway
            .data(page, json!({ "after": after, "order": order }))
            .await;
        after = data["contacts"]["pageInfo"]["endCursor"].clone();
    }
    let after_more_pages = requests_by_source(&gateway.sandbox).await;
    for ((source, before), (_, now)) in after_first_page.iter().zip(&after_more_pages) {
        if source == "winnerr" {
            // Winnerr sorts by name itself and is paged natively.
            assert!(now > before);
        } else {
            assert_eq!(now, before, "{source} was read again for later pages");
        }
    }

    // A contact created through the gateway shows up in the next walk at once.
    let created = gateway
        .data(
            "mutation { createContact(input: { source: OPEN_TO_CLOSE, firstName: \"Aaron\", lastName: \"Aaaaberg\", email: \"aaron@example.com\" }) { contact { sourceId } } }",
            json!({}),
        )
        .await;
    let created_id = created["createContact"]["contact"]["sourceId"].clone();
    let restarted = gateway
        .data(page, json!({ "after": null, "order": order }))
        .await;
    assert_eq!(
        restarted["contacts"]["edges"][0]["node"]["sourceId"], created_id,
        "{restarted:#}"
    );
}

#[tokio::test]
async fn walking_with_a_filter_pushed_down_for_some_sources_only_matches_too() {
    let gateway = spawn_cached_gateway().await;
    let all = everything(&gateway.sandbox).await;
    // City is a query parameter for Django-CRM and a `_filter` for Spark, and
    // is applied in the gateway for Open To Close and Winnerr.
    let city_of = |e: &Expected| e.city.clone().unwrap_or_default().to_lowercase();
    let matching: Vec<Expected> = all.into_iter().filter(|e| city_of(e) == "miami").collect();
    assert!(matching.len() > 40, "{}", matching.len());
    for field in ["NAME", "CREATED_AT", "UPDATED_AT"] {
        for descending in [false, true] {
            let expected = expected_order(matching.clone(), field, descending);
            let order =
                json!({ "field": field, "direction": if descending { "DESC" } else { "ASC" } });
            for first in [1, 7, 50] {
                let got = walk(&gateway, first, order.clone(), json!({ "city": "MIAMI" })).await;
                assert_same(
                    &got,
                    &expected,
                    &format!("city {field} desc={descending} first={first}"),
                );
            }
        }
    }
}

#[tokio::test]
async fn a_failing_source_yields_the_others_contacts_and_a_well_formed_error() {
    let gateway = spawn_gateway().await;
    gateway
        .sandbox
        .configure(json!({ "winnerr": { "faults": [{ "kind": "http_503", "rate": 1.0 }] } }))
        .await;
    let body = gateway
        .graphql(
            "{ contacts(first: 40) { edges { node { source } } totalCount } }",
            Value::Null,
        )
        .await;
    let edges = body["data"]["contacts"]["edges"].as_array().unwrap();
    assert_eq!(edges.len(), 40);
    assert!(edges.iter().all(|e| e["node"]["source"] != "WINNERR"));
    assert_eq!(body["data"]["contacts"]["totalCount"], Value::Null);
    let errors = body["errors"].as_array().unwrap();
    assert_eq!(errors.len(), 1, "{body:#}");
    assert_eq!(errors[0]["path"], json!(["contacts"]));
    assert_eq!(errors[0]["extensions"]["code"], "UPSTREAM_UNAVAILABLE");
    assert_eq!(errors[0]["extensions"]["source"], "winnerr");
    assert_eq!(errors[0]["extensions"]["upstreamStatus"], 503);
    let message = errors[0]["message"].as_str().unwrap();
    assert!(
        !message.contains(&gateway.sandbox.credential("winnerr", "token")),
        "{message}"
    );
}

#[tokio::test]
async fn walking_backward_with_last_and_before_yields_the_same_list() {
    // Backward paging reads the merged list forward from its start, which
    // for a filtered list of four sources is estimated above the default
    // upstream budget; this test is about the pages, not the budget.
    let gateway = crate::helpers::spawn_gateway_configured(|config| {
        config.cache.enabled = true;
        config.limits.max_upstream_requests = 100_000;
    })
    .await;
    let all = everything(&gateway.sandbox).await;
    let matching: Vec<Expected> = all
        .into_iter()
        .filter(|e| {
            e.city
                .clone()
                .unwrap_or_default()
                .eq_ignore_ascii_case("miami")
        })
        .collect();
    let expected = expected_order(matching, "CREATED_AT", true);
    let query = "query($last: Int, $before: String) {
        contacts(last: $last, before: $before, orderBy: {field: CREATED_AT, direction: DESC}, filter: {city: \"Miami\"}) {
            edges { node { source sourceId } }
            pageInfo { hasPreviousPage hasNextPage startCursor }
        } }";
    let mut got: Vec<(String, String)> = Vec::new();
    let mut before = Value::Null;
    loop {
        let data = gateway
            .data(query, json!({ "last": 7, "before": before }))
            .await;
        let connection = &data["contacts"];
        let page: Vec<(String, String)> = connection["edges"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| {
                (
                    e["node"]["source"].as_str().unwrap().to_string(),
                    e["node"]["sourceId"].as_str().unwrap().to_string(),
                )
            })
            .collect();
        assert!(page.len() <= 7);
        assert_eq!(connection["pageInfo"]["hasNextPage"], !before.is_null());
        got.splice(0..0, page);
        if connection["pageInfo"]["hasPreviousPage"] != true {
            break;
        }
        before = connection["pageInfo"]["startCursor"].clone();
    }
    assert_same(&got, &expected, "backward");
    let mixed = gateway
        .graphql(
            "{ contacts(first: 2, last: 2) { edges { cursor } } }",
            Value::Null,
        )
        .await;
    assert_eq!(mixed["errors"][0]["extensions"]["code"], "BAD_USER_INPUT");
}
