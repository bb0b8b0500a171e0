//! Tests of the Winnerr emulator over HTTP: authentication, cursor paging with
//! filters and multi-key sorts, sparse fieldsets and includes, contact writes
//! with their validation, activities, tags, bulk updates, routing errors,
//! reset and stats.

use std::cmp::Ordering;
use std::collections::{BTreeMap, HashSet};

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use reqwest::Method;
use serde_json::{json, Value};

use crate::helpers::{spawn_sandbox, TestSandbox};

/// A client for the Winnerr emulator that sends the demo token.
struct Winnerr<'a> {
    sandbox: &'a TestSandbox,
    base: String,
    token: String,
}

/// Status, headers and JSON body of one answer.
struct Answer {
    status: u16,
    headers: reqwest::header::HeaderMap,
    body: Value,
}

impl<'a> Winnerr<'a> {
    fn new(sandbox: &'a TestSandbox) -> Self {
        Self {
            sandbox,
            base: sandbox.base("winnerr"),
            token: sandbox.credential("winnerr", "token"),
        }
    }

    async fn send_raw(
        &self,
        method: Method,
        path: &str,
        authorization: Option<String>,
        body: Option<String>,
    ) -> Answer {
        let mut request = self
            .sandbox
            .client
            .request(method, format!("{}{path}", self.base));
        if let Some(authorization) = authorization {
            request = request.header("Authorization", authorization);
        }
        if let Some(body) = body {
            request = request
                .header("Content-Type", "application/json")
                .body(body);
        }
        let response = request.send().await.expect("request");
        let status = response.status().as_u16();
        let headers = response.headers().clone();
        let text = response.text().await.expect("body");
        let body = serde_json::from_str(&text)
            .unwrap_or_else(|error| panic!("{path}: not JSON ({error}): {text}"));
        Answer {
            status,
            headers,
            body,
        }
    }

    async fn send(&self, method: Method, path: &str, body: Option<Value>) -> Answer {
        self.send_raw(
            method,
            path,
            Some(format!("Bearer {}", self.token)),
            body.map(|body| body.to_string()),
        )
        .await
    }

    async fn get(&self, path: &str) -> Answer {
        self.send(Method::GET, path, None).await
    }

    async fn post(&self, path: &str, body: Value) -> Answer {
        self.send(Method::POST, path, Some(body)).await
    }

    async fn put(&self, path: &str, body: Value) -> Answer {
        self.send(Method::PUT, path, Some(body)).await
    }

    async fn patch(&self, path: &str, body: Value) -> Answer {
        self.send(Method::PATCH, path, Some(body)).await
    }

    async fn delete(&self, path: &str) -> Answer {
        self.send(Method::DELETE, path, None).await
    }

    /// Walks `/contacts?{query}` page by page; returns every item and checks
    /// each page's envelope on the way.
    async fn walk(&self, query: &str, limit: usize) -> Vec<Value> {
        let mut items = Vec::new();
        let mut cursor: Option<String> = None;
        let mut expected_total: Option<u64> = None;
        loop {
            let mut path = format!("/contacts?limit={limit}");
            if !query.is_empty() {
                path.push('&');
                path.push_str(query);
            }
            if let Some(cursor) = &cursor {
                path.push_str("&cursor=");
                path.push_str(&urlencoding::encode(cursor));
            }
            let answer = self.get(&path).await;
            assert_eq!(answer.status, 200, "{path}: {}", answer.body);
            let pagination = &answer.body["pagination"];
            assert_eq!(pagination["limit"], limit as u64);
            let total = pagination["total"].as_u64().expect("total");
            assert_eq!(*expected_total.get_or_insert(total), total, "{path}");
            let page = answer.body["data"].as_array().expect("data").clone();
            assert!(page.len() <= limit, "{path}");
            items.extend(page);
            match pagination["nextCursor"].as_str() {
                Some(next) => {
                    assert_eq!(pagination["hasMore"], true);
                    cursor = Some(next.to_string());
                }
                None => {
                    assert_eq!(pagination["hasMore"], false);
                    assert_eq!(pagination["nextCursor"], Value::Null);
                    assert_eq!(items.len() as u64, total, "{query}");
                    return items;
                }
            }
            assert!(items.len() <= 1000, "walk does not end: {query}");
        }
    }

    /// Every contact, through the default sort.
    async fn all_contacts(&self) -> Vec<Value> {
        self.walk("", 100).await
    }
}

fn validation_error(errors: Value) -> Value {
    json!({
        "success": false,
        "error": {
            "type": "validation_error",
            "title": "Validation Error",
            "status": 422,
            "detail": "Request validation failed",
            "errors": errors,
        }
    })
}

fn not_found(id: &str) -> Value {
    json!({
        "success": false,
        "error": {
            "type": "not_found_error",
            "title": "Contact Not Found",
            "status": 404,
            "detail": format!("Contact with ID '{id}' was not found"),
        }
    })
}

fn ids(items: &[Value]) -> Vec<String> {
    items
        .iter()
        .map(|item| item["id"].as_str().expect("id").to_string())
        .collect()
}

/// The documented order, computed independently of the server: each key in
/// its direction (text trimmed and lower-cased, timestamps by their uniform
/// `...Z` text), then id ascending.
fn compare_by_sort(sort: &str, a: &Value, b: &Value) -> Ordering {
    for key in sort.split(',') {
        let (field, direction) = key.split_once(':').unwrap_or((key, "asc"));
        let ordering = match field {
            "leadScore" => a[field].as_i64().cmp(&b[field].as_i64()),
            "createdAt" | "updatedAt" => a[field].as_str().cmp(&b[field].as_str()),
            _ => {
                let text = |item: &Value| item[field].as_str().unwrap().trim().to_lowercase();
                text(a).cmp(&text(b))
            }
        };
        let ordering = if direction == "desc" {
            ordering.reverse()
        } else {
            ordering
        };
        if ordering != Ordering::Equal {
            return ordering;
        }
    }
    a["id"].as_str().cmp(&b["id"].as_str())
}

fn has_tag(item: &Value, wanted: &[&str]) -> bool {
    item["tags"]
        .as_array()
        .unwrap()
        .iter()
        .any(|tag| wanted.contains(&tag.as_str().unwrap()))
}

#[tokio::test]
async fn requests_without_the_token_are_401_in_the_envelope() {
    let sandbox = spawn_sandbox().await;
    let winnerr = Winnerr::new(&sandbox);
    let missing = winnerr.send_raw(Method::GET, "/contacts", None, None).await;
    assert_eq!(missing.status, 401);
    assert_eq!(
        missing.body,
        json!({"success": false, "error": {
            "type": "authentication_error", "title": "Unauthorized", "status": 401,
            "detail": "An Authorization header with a Bearer token is required"}})
    );
    assert_eq!(missing.headers["www-authenticate"], "Bearer");
    let invalid_detail = json!({"success": false, "error": {
        "type": "authentication_error", "title": "Unauthorized", "status": 401,
        "detail": "The provided token is invalid or has expired"}});
    for authorization in [
        "Bearer not-the-token".to_string(),
        format!("Basic {}", winnerr.token),
        winnerr.token.clone(),
        "Bearer".to_string(),
    ] {
        let answer = winnerr
            .send_raw(Method::GET, "/contacts", Some(authorization.clone()), None)
            .await;
        assert_eq!(answer.status, 401, "{authorization}");
        assert_eq!(answer.body, invalid_detail, "{authorization}");
    }
    // Authentication comes before routing.
    let unknown = winnerr.send_raw(Method::GET, "/nowhere", None, None).await;
    assert_eq!(unknown.status, 401);
    // The scheme word is case-insensitive.
    let lower = winnerr
        .send_raw(
            Method::GET,
            "/contacts?limit=1",
            Some(format!("bearer {}", winnerr.token)),
            None,
        )
        .await;
    assert_eq!(lower.status, 200);
}

#[tokio::test]
async fn the_default_page_carries_full_records_newest_first() {
    let sandbox = spawn_sandbox().await;
    let winnerr = Winnerr::new(&sandbox);
    let answer = winnerr.get("/contacts").await;
    assert_eq!(answer.status, 200);
    assert_eq!(answer.body["success"], true);
    let pagination = &answer.body["pagination"];
    assert_eq!(pagination["hasMore"], true);
    assert_eq!(pagination["total"], 600);
    assert_eq!(pagination["limit"], 25);
    assert!(pagination["nextCursor"].as_str().unwrap().len() > 10);
    let data = answer.body["data"].as_array().unwrap();
    assert_eq!(data.len(), 25);
    let expected_keys: HashSet<&str> = [
        "id",
        "organizationId",
        "firstName",
        "lastName",
        "email",
        "phone",
        "secondaryPhone",
        "address",
        "type",
        "status",
        "source",
        "leadScore",
        "tags",
        "notes",
        "preferences",
        "assignedTo",
        "createdAt",
        "updatedAt",
        "lastContactedAt",
    ]
    .into_iter()
    .collect();
    for item in data {
        let keys: HashSet<&str> = item
            .as_object()
            .unwrap()
            .keys()
            .map(String::as_str)
            .collect();
        assert_eq!(keys, expected_keys);
        assert!(item["id"].as_str().unwrap().starts_with("contact_"));
        assert_eq!(item["id"].as_str().unwrap().len(), "contact_".len() + 36);
        assert!(item["organizationId"].as_str().unwrap().starts_with("org_"));
        let phone = item["phone"].as_str().unwrap();
        assert_eq!(phone.len(), 15, "{phone}");
        assert!(phone.starts_with("+1-") && &phone[6..7] == "-" && &phone[10..11] == "-");
        let address_keys: HashSet<&str> = item["address"]
            .as_object()
            .unwrap()
            .keys()
            .map(String::as_str)
            .collect();
        assert_eq!(
            address_keys,
            ["street", "city", "state", "zipCode", "country"]
                .into_iter()
                .collect()
        );
        assert_eq!(item["address"]["country"], "US");
        let preference_keys: HashSet<&str> = item["preferences"]
            .as_object()
            .unwrap()
            .keys()
            .map(String::as_str)
            .collect();
        assert_eq!(
            preference_keys,
            [
                "communicationMethod",
                "propertyTypes",
                "priceRange",
                "locations"
            ]
            .into_iter()
            .collect()
        );
        let created = item["createdAt"].as_str().unwrap();
        assert!(created.len() == 20 && created.ends_with('Z'), "{created}");
        let score = item["leadScore"].as_i64().unwrap();
        assert!((0..=100).contains(&score));
        assert!(["LEAD", "CLIENT", "PAST_CLIENT", "REFERRAL", "VENDOR"]
            .contains(&item["type"].as_str().unwrap()));
    }
    let mut sorted = data.clone();
    sorted.sort_by(|a, b| compare_by_sort("createdAt:desc", a, b));
    assert_eq!(ids(&sorted), ids(data));
}

#[tokio::test]
async fn cursor_walks_return_every_matching_contact_once_in_order() {
    let sandbox = spawn_sandbox().await;
    let winnerr = Winnerr::new(&sandbox);
    let everyone = winnerr.all_contacts().await;
    assert_eq!(everyone.len(), 600);
    assert_eq!(
        ids(&everyone).into_iter().collect::<HashSet<_>>().len(),
        600
    );
    let agent = everyone
        .iter()
        .find_map(|item| item["assignedTo"].as_str())
        .unwrap()
        .to_string();

    type Predicate = Box<dyn Fn(&Value) -> bool>;
    let agent_for_filter = agent.clone();
    let cases: Vec<(String, Predicate, &str, Vec<usize>)> =
        vec![
        (String::new(), Box::new(|_| true), "createdAt:desc", vec![7, 25, 100]),
        (
            "type=LEAD".into(),
            Box::new(|c| c["type"] == "LEAD"),
            "leadScore:desc,lastName:asc",
            vec![10, 33],
        ),
        (
            "tags=investor,cash-buyer".into(),
            Box::new(|c| has_tag(c, &["investor", "cash-buyer"])),
            "email:asc",
            vec![5, 100],
        ),
        (
            "status=ACTIVE&leadScore%5Bgte%5D=40&leadScore[lte]=70".into(),
            Box::new(|c| {
                let score = c["leadScore"].as_i64().unwrap();
                c["status"] == "ACTIVE" && (40..=70).contains(&score)
            }),
            "updatedAt:asc,firstName:desc",
            vec![9],
        ),
        (
            "createdAt[gte]=2023-01-01&createdAt[lte]=2023-12-31T23:59:59Z&source=WEBSITE,ZILLOW"
                .into(),
            Box::new(|c| {
                let created = c["createdAt"].as_str().unwrap();
                created.starts_with("2023-")
                    && (c["source"] == "WEBSITE" || c["source"] == "ZILLOW")
            }),
            "lastName:desc,createdAt:asc",
            vec![4],
        ),
        (
            format!("assignedTo={agent}"),
            Box::new(move |c| c["assignedTo"] == agent_for_filter.as_str()),
            "firstName:asc",
            vec![12],
        ),
        (
            "type=VENDOR&status=ACTIVE".into(),
            Box::new(|c| c["type"] == "VENDOR" && c["status"] == "ACTIVE"),
            "createdAt:asc",
            vec![1],
        ),
    ];
    for (filter, predicate, sort, limits) in cases {
        let mut expected: Vec<Value> = everyone.iter().filter(|c| predicate(c)).cloned().collect();
        assert!(expected.len() >= 5, "{filter}: only {}", expected.len());
        expected.sort_by(|a, b| compare_by_sort(sort, a, b));
        let expected_ids = ids(&expected);
        for limit in limits {
            let query = if sort == "createdAt:desc" {
                filter.clone()
            } else if filter.is_empty() {
                format!("sort={sort}")
            } else {
                format!("{filter}&sort={sort}")
            };
            let walked = winnerr.walk(&query, limit).await;
            assert_eq!(ids(&walked), expected_ids, "{query} limit {limit}");
        }
    }
}

#[tokio::test]
async fn paging_survives_inserts_and_deletes_between_pages() {
    let sandbox = spawn_sandbox().await;
    let winnerr = Winnerr::new(&sandbox);
    let original = ids(&winnerr.all_contacts().await);
    let first = winnerr.get("/contacts?limit=50").await;
    let first_ids = ids(first.body["data"].as_array().unwrap());
    assert_eq!(first_ids, original[..50]);
    let cursor = first.body["pagination"]["nextCursor"]
        .as_str()
        .unwrap()
        .to_string();

    // Between pages: delete one contact already seen, one not yet seen, and
    // create a new one (newest, so it sorts before the cursor).
    assert_eq!(
        winnerr
            .delete(&format!("/contacts/{}", original[10]))
            .await
            .status,
        200
    );
    assert_eq!(
        winnerr
            .delete(&format!("/contacts/{}", original[200]))
            .await
            .status,
        200
    );
    let created = winnerr
        .post(
            "/contacts",
            json!({"firstName": "Nina", "lastName": "Late", "email": "nina.late@example.com"}),
        )
        .await;
    assert_eq!(created.status, 201);

    let mut walked = first_ids.clone();
    let mut next = Some(cursor);
    while let Some(cursor) = next {
        let answer = winnerr
            .get(&format!(
                "/contacts?limit=50&cursor={}",
                urlencoding::encode(&cursor)
            ))
            .await;
        assert_eq!(answer.status, 200);
        assert_eq!(answer.body["pagination"]["total"], 599);
        walked.extend(ids(answer.body["data"].as_array().unwrap()));
        next = answer.body["pagination"]["nextCursor"]
            .as_str()
            .map(str::to_string);
    }
    let expected: Vec<String> = original
        .iter()
        .enumerate()
        .filter(|(index, _)| *index != 200)
        .map(|(_, id)| id.clone())
        .collect();
    assert_eq!(walked, expected);
}

#[tokio::test]
async fn bad_forged_and_mismatched_cursors_are_422() {
    let sandbox = spawn_sandbox().await;
    let winnerr = Winnerr::new(&sandbox);
    let invalid = validation_error(json!([{
        "field": "cursor", "code": "invalid_cursor",
        "message": "Cursor is invalid or has been modified"}]));
    for garbage in ["not-a-cursor", "eyJpZCI6IjEyNCJ9", "%%%", "bnVsbA"] {
        let answer = winnerr.get(&format!("/contacts?cursor={garbage}")).await;
        assert_eq!(answer.status, 422, "{garbage}");
        assert_eq!(answer.body, invalid, "{garbage}");
    }
    let page = winnerr.get("/contacts?limit=5").await;
    let cursor = page.body["pagination"]["nextCursor"].as_str().unwrap();
    let mut document: Value =
        serde_json::from_slice(&URL_SAFE_NO_PAD.decode(cursor).unwrap()).unwrap();
    assert_eq!(document["sort"], "createdAt:desc");
    document["after"][0] = json!(0);
    let forged = URL_SAFE_NO_PAD.encode(document.to_string());
    let answer = winnerr.get(&format!("/contacts?cursor={forged}")).await;
    assert_eq!(answer.status, 422);
    assert_eq!(answer.body, invalid);

    let answer = winnerr
        .get(&format!("/contacts?cursor={cursor}&sort=leadScore:desc"))
        .await;
    assert_eq!(answer.status, 422);
    assert_eq!(
        answer.body,
        validation_error(json!([{
            "field": "cursor", "code": "cursor_sort_mismatch",
            "message": "Cursor was issued for sort 'createdAt:desc' and cannot be used with sort 'leadScore:desc'"}]))
    );
    // The same sort written differently is the same sort.
    let answer = winnerr
        .get(&format!(
            "/contacts?cursor={cursor}&sort=createdAt:DESC&limit=5"
        ))
        .await;
    assert_eq!(answer.status, 200);
    let second = ids(answer.body["data"].as_array().unwrap());
    let expected = ids(&winnerr.get("/contacts?limit=10").await.body["data"]
        .as_array()
        .unwrap()[5..]);
    assert_eq!(second, expected);
}

#[tokio::test]
async fn invalid_list_parameters_are_422_field_errors() {
    let sandbox = spawn_sandbox().await;
    let winnerr = Winnerr::new(&sandbox);
    let cases = [
        ("limit=0", "limit", "out_of_range", "limit must be between 1 and 100"),
        ("limit=101", "limit", "out_of_range", "limit must be between 1 and 100"),
        ("limit=abc", "limit", "invalid_integer", "limit must be an integer"),
        ("limit=99999999999999999999", "limit", "invalid_integer", "limit must be an integer"),
        (
            "sort=phone:desc",
            "sort",
            "invalid_sort",
            "Cannot sort by 'phone'; sortable fields are: createdAt, updatedAt, leadScore, firstName, lastName, email",
        ),
        (
            "sort=createdAt:sideways",
            "sort",
            "invalid_sort",
            "Sort direction 'sideways' must be 'asc' or 'desc'",
        ),
        (
            "include=deals,notes",
            "include",
            "invalid_include",
            "Cannot include 'notes'; includable relations are: deals, communications, activities",
        ),
        ("fields=id,shoeSize", "fields", "invalid_field", "Unknown field 'shoeSize'"),
        (
            "type=BUYER",
            "type",
            "invalid_value",
            "type must be one of: LEAD, CLIENT, PAST_CLIENT, REFERRAL, VENDOR",
        ),
        (
            "status=CLIENT",
            "status",
            "invalid_value",
            "status must be one of: ACTIVE, INACTIVE, CONVERTED, DISQUALIFIED, DO_NOT_CONTACT",
        ),
        (
            "source=BILLBOARD",
            "source",
            "invalid_value",
            "source must be one of: WEBSITE, REFERRAL, ZILLOW, REALTOR_COM, OPEN_HOUSE, SOCIAL_MEDIA, SIGN_CALL, WALK_IN, COLD_CALL, OTHER",
        ),
        ("leadScore[gte]=high", "leadScore[gte]", "invalid_integer", "leadScore[gte] must be an integer"),
        ("leadScore%5Blte%5D=1.5", "leadScore[lte]", "invalid_integer", "leadScore[lte] must be an integer"),
        (
            "createdAt[gte]=yesterday",
            "createdAt[gte]",
            "invalid_datetime",
            "createdAt[gte] must be an ISO 8601 date or date-time",
        ),
        (
            "createdAt[lte]=2024-02-30",
            "createdAt[lte]",
            "invalid_datetime",
            "createdAt[lte] must be an ISO 8601 date or date-time",
        ),
    ];
    for (query, field, code, message) in cases {
        let answer = winnerr.get(&format!("/contacts?{query}")).await;
        assert_eq!(answer.status, 422, "{query}");
        assert_eq!(
            answer.body,
            validation_error(json!([{"field": field, "code": code, "message": message}])),
            "{query}"
        );
    }
    let answer = winnerr.get("/contacts?limit=0&type=NOPE&sort=x").await;
    assert_eq!(answer.status, 422);
    let fields: Vec<&str> = answer.body["error"]["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|error| error["field"].as_str().unwrap())
        .collect();
    assert_eq!(fields, ["limit", "sort", "type"]);
    // Empty values and unknown parameters are ignored.
    let answer = winnerr
        .get("/contacts?type=&tags=,&status=,&colour=blue&limit=3")
        .await;
    assert_eq!(answer.status, 200);
    assert_eq!(answer.body["pagination"]["total"], 600);
}

#[tokio::test]
async fn fields_and_include_shape_list_items_and_the_detail_view() {
    let sandbox = spawn_sandbox().await;
    let winnerr = Winnerr::new(&sandbox);
    let answer = winnerr
        .get(
            "/contacts?limit=40&fields=firstName,leadScore&include=deals,communications,activities",
        )
        .await;
    assert_eq!(answer.status, 200);
    let items = answer.body["data"].as_array().unwrap();
    let mut saw_deal = false;
    let mut saw_communication = false;
    let mut saw_activities = false;
    for item in items {
        let keys: HashSet<&str> = item
            .as_object()
            .unwrap()
            .keys()
            .map(String::as_str)
            .collect();
        assert_eq!(
            keys,
            [
                "id",
                "firstName",
                "leadScore",
                "deals",
                "communications",
                "activities"
            ]
            .into_iter()
            .collect()
        );
        for deal in item["deals"].as_array().unwrap() {
            saw_deal = true;
            let keys: HashSet<&str> = deal
                .as_object()
                .unwrap()
                .keys()
                .map(String::as_str)
                .collect();
            assert_eq!(
                keys,
                ["id", "title", "amount", "stage"].into_iter().collect()
            );
            assert!(deal["id"].as_str().unwrap().starts_with("deal_"));
        }
        for communication in item["communications"].as_array().unwrap() {
            saw_communication = true;
            let keys: HashSet<&str> = communication
                .as_object()
                .unwrap()
                .keys()
                .map(String::as_str)
                .collect();
            assert_eq!(
                keys,
                ["id", "type", "subject", "createdAt"].into_iter().collect()
            );
            assert!(communication["id"].as_str().unwrap().starts_with("comm_"));
        }
        let activities = item["activities"].as_array().unwrap();
        if activities.len() > 1 {
            saw_activities = true;
            let times: Vec<&str> = activities
                .iter()
                .map(|activity| activity["createdAt"].as_str().unwrap())
                .collect();
            let mut newest_first = times.clone();
            newest_first.sort_by(|a, b| b.cmp(a));
            assert_eq!(times, newest_first);
        }
    }
    assert!(saw_deal && saw_communication && saw_activities);

    let id = items[0]["id"].as_str().unwrap();
    let detail = winnerr.get(&format!("/contacts/{id}?include=deals")).await;
    assert_eq!(detail.status, 200);
    assert_eq!(detail.body["success"], true);
    assert_eq!(detail.body["data"]["deals"], items[0]["deals"]);
    assert!(detail.body["data"].get("communications").is_none());
    assert_eq!(detail.body["data"]["firstName"], items[0]["firstName"]);
    assert_eq!(detail.body["data"].as_object().unwrap().len(), 20);
    let sparse = winnerr.get(&format!("/contacts/{id}?fields=email")).await;
    assert_eq!(
        sparse.body["data"]
            .as_object()
            .unwrap()
            .keys()
            .collect::<Vec<_>>(),
        ["email", "id"]
    );
    let bad = winnerr.get(&format!("/contacts/{id}?include=pets")).await;
    assert_eq!(bad.status, 422);
    assert_eq!(bad.body["error"]["errors"][0]["code"], "invalid_include");
}

#[tokio::test]
async fn a_contact_is_read_by_id_and_unknown_ids_are_404() {
    let sandbox = spawn_sandbox().await;
    let winnerr = Winnerr::new(&sandbox);
    let listed = winnerr.get("/contacts?limit=1").await.body["data"][0].clone();
    let id = listed["id"].as_str().unwrap();
    let detail = winnerr.get(&format!("/contacts/{id}")).await;
    assert_eq!(detail.status, 200);
    assert_eq!(detail.body, json!({"success": true, "data": listed}));
    for method in [Method::GET, Method::DELETE] {
        let answer = winnerr.send(method, "/contacts/contact_123", None).await;
        assert_eq!(answer.status, 404);
        assert_eq!(answer.body, not_found("contact_123"));
    }
    let answer = winnerr.put("/contacts/contact_123", json!({})).await;
    assert_eq!(answer.body, not_found("contact_123"));
    let answer = winnerr.get("/contacts/contact%20with%20spaces").await;
    assert_eq!(answer.status, 404);
    assert_eq!(answer.body, not_found("contact with spaces"));
}

#[tokio::test]
async fn create_validates_computes_the_lead_score_and_rejects_duplicates() {
    let sandbox = spawn_sandbox().await;
    let winnerr = Winnerr::new(&sandbox);
    let jane = json!({
        "firstName": "Jane",
        "lastName": "Smith",
        "email": "jane.smith@example.com",
        "phone": "+1-555-987-6543",
        "type": "LEAD",
        "source": "REFERRAL",
        "tags": ["luxury-market"],
        "preferences": {
            "communicationMethod": "PHONE",
            "propertyTypes": ["SINGLE_FAMILY"],
            "priceRange": {"min": 500000, "max": 1000000}
        },
        "calculateLeadScore": true,
        "leadScore": 99
    });
    let created = winnerr.post("/contacts", jane.clone()).await;
    assert_eq!(created.status, 201, "{}", created.body);
    assert_eq!(created.body["success"], true);
    let data = &created.body["data"];
    let id = data["id"].as_str().unwrap();
    assert!(id.starts_with("contact_"));
    assert_eq!(data["leadScore"], 60);
    assert_eq!(data["status"], "ACTIVE");
    assert_eq!(data["type"], "LEAD");
    assert_eq!(data["source"], "REFERRAL");
    assert_eq!(data["tags"], json!(["luxury-market"]));
    assert_eq!(data["phone"], "+1-555-987-6543");
    assert_eq!(data["secondaryPhone"], Value::Null);
    assert_eq!(data["address"], Value::Null);
    assert_eq!(data["notes"], Value::Null);
    assert_eq!(data["assignedTo"], Value::Null);
    assert_eq!(data["lastContactedAt"], Value::Null);
    assert_eq!(
        data["preferences"],
        json!({"communicationMethod": "PHONE", "propertyTypes": ["SINGLE_FAMILY"],
               "priceRange": {"min": 500000, "max": 1000000}, "locations": []})
    );
    assert_eq!(data["createdAt"], data["updatedAt"]);
    assert!(data["organizationId"].as_str().unwrap().starts_with("org_"));

    // A later read sees it, first in the default (newest first) order.
    let read = winnerr.get(&format!("/contacts/{id}")).await;
    assert_eq!(read.body["data"], *data);
    let list = winnerr.get("/contacts?limit=1").await;
    assert_eq!(list.body["data"][0]["id"], id);
    assert_eq!(list.body["pagination"]["total"], 601);

    let duplicate = winnerr
        .post(
            "/contacts",
            json!({"firstName": "J", "lastName": "S", "email": "  JANE.Smith@Example.com "}),
        )
        .await;
    assert_eq!(duplicate.status, 409);
    assert_eq!(
        duplicate.body,
        json!({"success": false, "error": {
            "type": "conflict_error", "title": "Duplicate Contact", "status": 409,
            "detail": "Contact with email 'JANE.Smith@Example.com' already exists"}})
    );
    // Seeded emails were typed in with odd casing and spaces; they still collide.
    let everyone = winnerr.all_contacts().await;
    let messy = everyone
        .iter()
        .map(|c| c["email"].as_str().unwrap())
        .find(|email| *email != email.trim().to_lowercase())
        .expect("a seeded email with odd casing or spaces");
    let clean = messy.trim().to_lowercase();
    let duplicate = winnerr
        .post(
            "/contacts",
            json!({"firstName": "J", "lastName": "S", "email": clean}),
        )
        .await;
    assert_eq!(duplicate.status, 409);
    assert_eq!(
        duplicate.body["error"]["detail"],
        format!("Contact with email '{clean}' already exists")
    );

    let missing = winnerr.post("/contacts", json!({"firstName": "  "})).await;
    assert_eq!(missing.status, 422);
    assert_eq!(
        missing.body,
        validation_error(json!([
            {"field": "firstName", "code": "required", "message": "firstName is required"},
            {"field": "lastName", "code": "required", "message": "lastName is required"},
            {"field": "email", "code": "required", "message": "email is required"},
        ]))
    );
    let bad_email = winnerr
        .post(
            "/contacts",
            json!({"firstName": "A", "lastName": "B", "email": "not-an-email"}),
        )
        .await;
    assert_eq!(bad_email.status, 422);
    assert_eq!(
        bad_email.body,
        validation_error(json!([{"field": "email", "code": "invalid_email",
            "message": "Email must be a valid email address"}]))
    );
    let many = winnerr
        .post(
            "/contacts",
            json!({
                "firstName": 7, "lastName": "B", "email": "ok@example.com",
                "type": "BUYER", "phone": "call me", "assignedTo": "bob",
                "tags": ["fine", ""], "address": "Miami",
                "preferences": {"communicationMethod": "PIGEON", "priceRange": {"min": -1}}
            }),
        )
        .await;
    assert_eq!(many.status, 422);
    assert_eq!(
        many.body,
        validation_error(json!([
            {"field": "firstName", "code": "invalid_type", "message": "firstName must be a string"},
            {"field": "phone", "code": "invalid_phone", "message": "phone must be a valid phone number"},
            {"field": "address", "code": "invalid_type", "message": "address must be an object"},
            {"field": "type", "code": "invalid_value",
             "message": "type must be one of: LEAD, CLIENT, PAST_CLIENT, REFERRAL, VENDOR"},
            {"field": "tags[1]", "code": "invalid_tag", "message": "Tags must be non-empty strings"},
            {"field": "preferences.communicationMethod", "code": "invalid_value",
             "message": "preferences.communicationMethod must be one of: EMAIL, PHONE, SMS"},
            {"field": "preferences.priceRange.min", "code": "invalid_integer",
             "message": "preferences.priceRange.min must be a non-negative integer"},
            {"field": "assignedTo", "code": "invalid_agent",
             "message": "assignedTo must be an agent ID such as 'agent_123'"},
        ]))
    );
    let bad_request = json!({"success": false, "error": {
        "type": "invalid_request_error", "title": "Bad Request", "status": 400,
        "detail": "Request body must be a valid JSON object"}});
    for body in ["{\"firstName\": ", "[1, 2]", "", "null"] {
        let answer = winnerr
            .send_raw(
                Method::POST,
                "/contacts",
                Some(format!("Bearer {}", winnerr.token)),
                Some(body.to_string()),
            )
            .await;
        assert_eq!(answer.status, 400, "{body}");
        assert_eq!(answer.body, bad_request, "{body}");
    }
    assert_eq!(
        winnerr.get("/contacts?limit=1").await.body["pagination"]["total"],
        601
    );
}

#[tokio::test]
async fn update_changes_fields_recomputes_the_score_and_checks_conflicts() {
    let sandbox = spawn_sandbox().await;
    let winnerr = Winnerr::new(&sandbox);
    let page = winnerr.get("/contacts?limit=2").await;
    let target = page.body["data"][0].clone();
    let other = page.body["data"][1].clone();
    let id = target["id"].as_str().unwrap();
    let path = format!("/contacts/{id}");
    let answer = winnerr
        .put(
            &path,
            json!({
                "phone": "+1-555-111-2222",
                "secondaryPhone": null,
                "notes": "Successfully closed on waterfront condo",
                "tags": ["Past-Client", "referral-source", "past-client"],
                "type": "LEAD",
                "status": "ACTIVE",
                "source": "REFERRAL",
                "preferences": {"propertyTypes": ["SINGLE_FAMILY"],
                                "priceRange": {"min": 500000, "max": 1000000}},
            }),
        )
        .await;
    assert_eq!(answer.status, 200, "{}", answer.body);
    let data = &answer.body["data"];
    assert_eq!(data["phone"], "+1-555-111-2222");
    assert_eq!(data["secondaryPhone"], Value::Null);
    assert_eq!(data["notes"], "Successfully closed on waterfront condo");
    assert_eq!(data["tags"], json!(["past-client", "referral-source"]));
    // LEAD 30 + ACTIVE 5 + REFERRAL 15 + two tags 6 + price range 5 + types 2.
    assert_eq!(data["leadScore"], 63);
    assert_eq!(data["firstName"], target["firstName"]);
    assert_eq!(data["email"], target["email"]);
    assert_eq!(data["createdAt"], target["createdAt"]);
    assert!(data["updatedAt"].as_str().unwrap() > "2025-06-30T00:00:00Z");
    assert_eq!(data["preferences"]["communicationMethod"], Value::Null);
    assert_eq!(winnerr.get(&path).await.body["data"], *data);

    let bad_status = winnerr.put(&path, json!({"status": "CLIENT"})).await;
    assert_eq!(bad_status.status, 422);
    assert_eq!(
        bad_status.body,
        validation_error(json!([{"field": "status", "code": "invalid_value",
            "message": "status must be one of: ACTIVE, INACTIVE, CONVERTED, DISQUALIFIED, DO_NOT_CONTACT"}]))
    );
    let null_name = winnerr
        .put(&path, json!({"lastName": null, "email": "bad@"}))
        .await;
    assert_eq!(
        null_name.body,
        validation_error(json!([
            {"field": "lastName", "code": "required", "message": "lastName is required"},
            {"field": "email", "code": "invalid_email", "message": "Email must be a valid email address"},
        ]))
    );
    let other_email = other["email"].as_str().unwrap().trim().to_uppercase();
    let conflict = winnerr.put(&path, json!({"email": other_email})).await;
    assert_eq!(conflict.status, 409);
    assert_eq!(
        conflict.body["error"]["detail"],
        format!("Contact with email '{other_email}' already exists")
    );
    // Its own email (in another case) is not a conflict.
    let own = target["email"].as_str().unwrap().trim().to_uppercase();
    let same = winnerr.put(&path, json!({"email": own})).await;
    assert_eq!(same.status, 200);
    assert_eq!(same.body["data"]["email"], own);
    let missing = winnerr
        .put("/contacts/contact_nope", json!({"notes": "x"}))
        .await;
    assert_eq!(missing.status, 404);
    assert_eq!(missing.body, not_found("contact_nope"));
}

#[tokio::test]
async fn delete_removes_the_contact() {
    let sandbox = spawn_sandbox().await;
    let winnerr = Winnerr::new(&sandbox);
    let id = winnerr.get("/contacts?limit=1").await.body["data"][0]["id"]
        .as_str()
        .unwrap()
        .to_string();
    let path = format!("/contacts/{id}");
    let answer = winnerr.delete(&path).await;
    assert_eq!(answer.status, 200);
    assert_eq!(
        answer.body,
        json!({"success": true, "message": "Contact deleted successfully"})
    );
    assert_eq!(winnerr.get(&path).await.body, not_found(&id));
    assert_eq!(winnerr.delete(&path).await.status, 404);
    assert_eq!(
        winnerr.get(&format!("{path}/activities")).await.body,
        not_found(&id)
    );
    assert_eq!(
        winnerr.get("/contacts?limit=1").await.body["pagination"]["total"],
        599
    );
}

#[tokio::test]
async fn activities_are_listed_newest_first_and_recorded() {
    let sandbox = spawn_sandbox().await;
    let winnerr = Winnerr::new(&sandbox);
    let everyone = winnerr.all_contacts().await;
    let with_activities = everyone
        .iter()
        .find(|c| !c["lastContactedAt"].is_null())
        .unwrap();
    let id = with_activities["id"].as_str().unwrap();
    let path = format!("/contacts/{id}/activities");
    let listed = winnerr.get(&path).await;
    assert_eq!(listed.status, 200);
    assert_eq!(listed.body["success"], true);
    let activities = listed.body["data"].as_array().unwrap().clone();
    assert!((3..=10).contains(&activities.len()));
    for activity in &activities {
        let keys: HashSet<&str> = activity
            .as_object()
            .unwrap()
            .keys()
            .map(String::as_str)
            .collect();
        assert_eq!(
            keys,
            ["id", "type", "description", "createdAt", "metadata"]
                .into_iter()
                .collect()
        );
        assert!(activity["id"].as_str().unwrap().starts_with("activity_"));
        assert!(activity["metadata"].is_object());
    }
    let times: Vec<&str> = activities
        .iter()
        .map(|a| a["createdAt"].as_str().unwrap())
        .collect();
    let mut sorted = times.clone();
    sorted.sort_by(|a, b| b.cmp(a));
    assert_eq!(times, sorted);
    let silent = everyone
        .iter()
        .filter(|c| c["lastContactedAt"].is_null())
        .count();
    assert!(
        silent > 20 && silent < 200,
        "{silent} contacts never contacted"
    );

    let call = winnerr
        .post(
            &path,
            json!({"type": "PHONE_CALL", "description": "Discussed offer",
                   "metadata": {"duration": 300, "callId": "call_1"}}),
        )
        .await;
    assert_eq!(call.status, 201, "{}", call.body);
    let call_data = call.body["data"].clone();
    assert!(call_data["id"].as_str().unwrap().starts_with("activity_"));
    assert_eq!(call_data["type"], "PHONE_CALL");
    assert_eq!(call_data["description"], "Discussed offer");
    assert_eq!(
        call_data["metadata"],
        json!({"duration": 300, "callId": "call_1"})
    );
    assert!(call_data.get("scheduledAt").is_none());
    let contact = winnerr.get(&format!("/contacts/{id}")).await.body["data"].clone();
    assert_eq!(contact["lastContactedAt"], call_data["createdAt"]);

    let meeting = winnerr
        .post(
            &path,
            json!({"type": "MEETING", "description": "Property showing at 123 Ocean Drive",
                   "scheduledAt": "2099-01-20T14:00:00Z",
                   "metadata": {"propertyId": "property_456"}}),
        )
        .await;
    assert_eq!(meeting.status, 201);
    assert_eq!(meeting.body["data"]["scheduledAt"], "2099-01-20T14:00:00Z");
    let after = winnerr.get(&format!("/contacts/{id}")).await.body["data"].clone();
    assert_eq!(after["lastContactedAt"], call_data["createdAt"]);
    assert_eq!(after["updatedAt"], with_activities["updatedAt"]);

    let listed = winnerr.get(&path).await.body["data"]
        .as_array()
        .unwrap()
        .clone();
    assert_eq!(listed.len(), activities.len() + 2);
    assert_eq!(listed[0]["id"], meeting.body["data"]["id"]);
    assert_eq!(listed[1], call_data);

    let empty = winnerr.post(&path, json!({})).await;
    assert_eq!(
        empty.body,
        validation_error(json!([
            {"field": "type", "code": "required", "message": "type is required"},
            {"field": "description", "code": "required", "message": "description is required"},
        ]))
    );
    let bad = winnerr
        .post(
            &path,
            json!({"type": "FAX", "description": "x", "scheduledAt": "tomorrow", "metadata": [1]}),
        )
        .await;
    assert_eq!(bad.status, 422);
    assert_eq!(
        bad.body,
        validation_error(json!([
            {"field": "type", "code": "invalid_value",
             "message": "type must be one of: EMAIL_SENT, EMAIL_RECEIVED, PHONE_CALL, MEETING, NOTE, SMS, SHOWING"},
            {"field": "scheduledAt", "code": "invalid_datetime",
             "message": "scheduledAt must be an ISO 8601 date-time"},
            {"field": "metadata", "code": "invalid_type", "message": "metadata must be an object"},
        ]))
    );
    let unknown = winnerr
        .post(
            "/contacts/contact_gone/activities",
            json!({"type": "NOTE", "description": "x"}),
        )
        .await;
    assert_eq!(unknown.status, 404);
    assert_eq!(unknown.body, not_found("contact_gone"));
    assert_eq!(
        winnerr.get("/contacts/contact_gone/activities").await.body,
        not_found("contact_gone")
    );
}

#[tokio::test]
async fn tags_are_counted_live_and_added_without_duplicates() {
    let sandbox = spawn_sandbox().await;
    let winnerr = Winnerr::new(&sandbox);
    let everyone = winnerr.all_contacts().await;
    let mut expected: BTreeMap<String, u64> = BTreeMap::new();
    for contact in &everyone {
        for tag in contact["tags"].as_array().unwrap() {
            *expected
                .entry(tag.as_str().unwrap().to_string())
                .or_default() += 1;
        }
    }
    let answer = winnerr.get("/contacts/tags").await;
    assert_eq!(answer.status, 200);
    assert_eq!(answer.body["success"], true);
    let tags = answer.body["data"].as_array().unwrap().clone();
    let served: BTreeMap<String, u64> = tags
        .iter()
        .map(|tag| {
            (
                tag["name"].as_str().unwrap().to_string(),
                tag["count"].as_u64().unwrap(),
            )
        })
        .collect();
    assert_eq!(served, expected);
    let counts: Vec<u64> = tags
        .iter()
        .map(|tag| tag["count"].as_u64().unwrap())
        .collect();
    let mut descending = counts.clone();
    descending.sort_by(|a, b| b.cmp(a));
    assert_eq!(counts, descending);
    let color = |tags: &[Value], name: &str| {
        tags.iter()
            .find(|tag| tag["name"] == name)
            .map(|tag| tag["color"].clone())
    };
    assert_eq!(color(&tags, "first-time-buyer"), Some(json!("#2563eb")));
    assert_eq!(color(&tags, "luxury-market"), Some(json!("#dc2626")));
    assert_eq!(color(&tags, "investor"), Some(json!("#059669")));

    let target = everyone
        .iter()
        .find(|c| !has_tag(c, &["investor"]))
        .unwrap();
    let id = target["id"].as_str().unwrap();
    let path = format!("/contacts/{id}/tags");
    let added = winnerr
        .post(
            &path,
            json!({"tags": [" Investor", "boat-owner", "investor"]}),
        )
        .await;
    assert_eq!(added.status, 200, "{}", added.body);
    let mut expected_tags = target["tags"].as_array().unwrap().clone();
    expected_tags.push(json!("investor"));
    expected_tags.push(json!("boat-owner"));
    assert_eq!(
        added.body["data"]["tags"],
        Value::Array(expected_tags.clone())
    );
    assert_eq!(added.body["data"]["id"], id);
    assert!(
        added.body["data"]["leadScore"].as_i64() > target["leadScore"].as_i64()
            || added.body["data"]["leadScore"] == 100
    );
    // Adding tags it already has changes nothing.
    let again = winnerr.post(&path, json!({"tags": ["boat-owner"]})).await;
    assert_eq!(again.body["data"]["tags"], Value::Array(expected_tags));
    assert_eq!(
        again.body["data"]["updatedAt"],
        added.body["data"]["updatedAt"]
    );

    let tags = winnerr.get("/contacts/tags").await.body["data"]
        .as_array()
        .unwrap()
        .clone();
    let count = |name: &str| {
        tags.iter()
            .find(|tag| tag["name"] == name)
            .map(|tag| tag["count"].as_u64().unwrap())
    };
    assert_eq!(count("investor"), Some(expected["investor"] + 1));
    assert_eq!(count("boat-owner"), Some(1));
    let boat_color = color(&tags, "boat-owner").unwrap();
    assert!(
        boat_color.as_str().unwrap().starts_with('#') && boat_color.as_str().unwrap().len() == 7
    );

    for (body, errors) in [
        (
            json!({}),
            json!([{"field": "tags", "code": "required", "message": "tags is required"}]),
        ),
        (
            json!({"tags": []}),
            json!([{"field": "tags", "code": "empty", "message": "tags must contain at least one tag"}]),
        ),
        (
            json!({"tags": ["ok", " ", 4]}),
            json!([
                {"field": "tags[1]", "code": "invalid_tag", "message": "Tags must be non-empty strings"},
                {"field": "tags[2]", "code": "invalid_tag", "message": "Tags must be non-empty strings"},
            ]),
        ),
        (
            json!({"tags": "investor"}),
            json!([{"field": "tags", "code": "invalid_type", "message": "tags must be an array"}]),
        ),
    ] {
        let answer = winnerr.post(&path, body.clone()).await;
        assert_eq!(answer.status, 422, "{body}");
        assert_eq!(answer.body, validation_error(errors), "{body}");
    }
    let unknown = winnerr
        .post("/contacts/contact_x/tags", json!({"tags": ["a"]}))
        .await;
    assert_eq!(unknown.body, not_found("contact_x"));
}

#[tokio::test]
async fn bulk_updates_report_per_id_results() {
    let sandbox = spawn_sandbox().await;
    let winnerr = Winnerr::new(&sandbox);
    let page = winnerr.get("/contacts?limit=2").await.body["data"]
        .as_array()
        .unwrap()
        .clone();
    let first = page[0]["id"].as_str().unwrap();
    let second = page[1]["id"].as_str().unwrap();
    let answer = winnerr
        .patch(
            "/contacts/bulk",
            json!({"contactIds": [first, "contact_missing", second],
                   "updates": {"assignedTo": "agent_789", "status": "DISQUALIFIED"}}),
        )
        .await;
    assert_eq!(answer.status, 200, "{}", answer.body);
    assert_eq!(
        answer.body,
        json!({"success": true, "data": {
            "updated": 2,
            "failed": 1,
            "results": [
                {"id": first, "success": true},
                {"id": "contact_missing", "success": false, "error": {
                    "type": "not_found_error", "title": "Contact Not Found", "status": 404,
                    "detail": "Contact with ID 'contact_missing' was not found"}},
                {"id": second, "success": true},
            ]
        }})
    );
    for id in [first, second] {
        let contact = winnerr.get(&format!("/contacts/{id}")).await.body["data"].clone();
        assert_eq!(contact["assignedTo"], "agent_789");
        assert_eq!(contact["status"], "DISQUALIFIED");
    }
    let filtered = winnerr.get("/contacts?assignedTo=agent_789").await;
    assert_eq!(filtered.body["pagination"]["total"], 2);

    let too_many: Vec<String> = (0..101).map(|i| format!("contact_{i}")).collect();
    for (body, errors) in [
        (
            json!({"updates": {"status": "ACTIVE"}}),
            json!([{"field": "contactIds", "code": "required", "message": "contactIds is required"}]),
        ),
        (
            json!({"contactIds": too_many, "updates": {"status": "ACTIVE"}}),
            json!([{"field": "contactIds", "code": "too_many",
                    "message": "contactIds must contain at most 100 IDs"}]),
        ),
        (
            json!({"contactIds": [], "updates": {"status": "ACTIVE"}}),
            json!([{"field": "contactIds", "code": "empty", "message": "contactIds must not be empty"}]),
        ),
        (
            json!({"contactIds": [first, 5]}),
            json!([
                {"field": "contactIds[1]", "code": "invalid_type",
                 "message": "each contact ID must be a non-empty string"},
                {"field": "updates", "code": "required", "message": "updates is required"},
            ]),
        ),
        (
            json!({"contactIds": [first], "updates": {}}),
            json!([{"field": "updates", "code": "empty",
                    "message": "updates must change at least one field"}]),
        ),
        (
            json!({"contactIds": [first], "updates": {"email": "x@example.com", "status": "NOPE"}}),
            json!([
                {"field": "updates.email", "code": "not_allowed",
                 "message": "updates.email cannot be changed in a bulk update"},
                {"field": "updates.status", "code": "invalid_value",
                 "message": "updates.status must be one of: ACTIVE, INACTIVE, CONVERTED, DISQUALIFIED, DO_NOT_CONTACT"},
            ]),
        ),
        (
            json!({"contactIds": first, "updates": []}),
            json!([
                {"field": "contactIds", "code": "invalid_type", "message": "contactIds must be an array"},
                {"field": "updates", "code": "invalid_type", "message": "updates must be an object"},
            ]),
        ),
    ] {
        let answer = winnerr.patch("/contacts/bulk", body.clone()).await;
        assert_eq!(answer.status, 422, "{body}");
        assert_eq!(answer.body, validation_error(errors), "{body}");
    }
}

#[tokio::test]
async fn unknown_paths_are_404_and_missing_methods_405() {
    let sandbox = spawn_sandbox().await;
    let winnerr = Winnerr::new(&sandbox);
    let answer = winnerr.get("/deals").await;
    assert_eq!(answer.status, 404);
    assert_eq!(
        answer.body,
        json!({"success": false, "error": {"type": "not_found_error", "title": "Not Found",
            "status": 404, "detail": "No route matches GET /v1/deals"}})
    );
    assert_eq!(winnerr.get("/contacts/").await.status, 404);
    let id = winnerr.get("/contacts?limit=1").await.body["data"][0]["id"]
        .as_str()
        .unwrap()
        .to_string();
    for (method, path, allow) in [
        (Method::DELETE, "/contacts".to_string(), "GET,HEAD,POST"),
        (Method::GET, "/contacts/bulk".to_string(), "PATCH"),
        (Method::POST, "/contacts/tags".to_string(), "GET,HEAD"),
        (
            Method::PATCH,
            format!("/contacts/{id}"),
            "GET,HEAD,PUT,DELETE",
        ),
        (Method::PUT, format!("/contacts/{id}/tags"), "POST"),
        (
            Method::DELETE,
            format!("/contacts/{id}/activities"),
            "GET,HEAD,POST",
        ),
    ] {
        let answer = winnerr.send(method.clone(), &path, None).await;
        assert_eq!(answer.status, 405, "{method} {path}");
        assert_eq!(
            answer.body,
            json!({"success": false, "error": {"type": "method_not_allowed_error",
                "title": "Method Not Allowed", "status": 405,
                "detail": format!("Method {method} is not allowed on this resource")}})
        );
        let mut allowed: Vec<&str> = answer.headers["allow"]
            .to_str()
            .unwrap()
            .split(',')
            .collect();
        allowed.sort_unstable();
        let mut expected: Vec<&str> = allow.split(',').collect();
        expected.sort_unstable();
        assert_eq!(allowed, expected, "{method} {path}");
    }
}

#[tokio::test]
async fn reset_restores_the_seeded_state() {
    let sandbox = spawn_sandbox().await;
    let winnerr = Winnerr::new(&sandbox);
    let before = winnerr.all_contacts().await;
    let first_id = before[0]["id"].as_str().unwrap().to_string();
    let second_id = before[1]["id"].as_str().unwrap().to_string();
    let created = winnerr
        .post(
            "/contacts",
            json!({"firstName": "Reset", "lastName": "Me", "email": "reset.me@example.com"}),
        )
        .await;
    let created_id = created.body["data"]["id"].as_str().unwrap().to_string();
    winnerr
        .put(
            &format!("/contacts/{first_id}"),
            json!({"notes": "changed"}),
        )
        .await;
    winnerr.delete(&format!("/contacts/{second_id}")).await;
    winnerr
        .post(
            &format!("/contacts/{first_id}/tags"),
            json!({"tags": ["temporary"]}),
        )
        .await;

    sandbox.reset().await;
    let after = winnerr.all_contacts().await;
    assert_eq!(after, before);
    assert_eq!(
        winnerr.get(&format!("/contacts/{created_id}")).await.status,
        404
    );
    let tags = winnerr.get("/contacts/tags").await.body["data"].clone();
    assert!(tags
        .as_array()
        .unwrap()
        .iter()
        .all(|tag| tag["name"] != "temporary"));
    // Ids come from the seeded generator, which reset rewinds.
    let again = winnerr
        .post(
            "/contacts",
            json!({"firstName": "Reset", "lastName": "Me", "email": "reset.me@example.com"}),
        )
        .await;
    assert_eq!(again.body["data"]["id"], created_id.as_str());
}

#[tokio::test]
async fn stats_count_each_route_template() {
    let sandbox = spawn_sandbox().await;
    let winnerr = Winnerr::new(&sandbox);
    let id = winnerr.get("/contacts?limit=1").await.body["data"][0]["id"]
        .as_str()
        .unwrap()
        .to_string();
    winnerr.get(&format!("/contacts/{id}")).await;
    winnerr.get(&format!("/contacts/{id}/activities")).await;
    winnerr
        .post(
            &format!("/contacts/{id}/activities"),
            json!({"type": "NOTE", "description": "n"}),
        )
        .await;
    winnerr.get("/contacts/tags").await;
    winnerr
        .post(&format!("/contacts/{id}/tags"), json!({"tags": ["a"]}))
        .await;
    winnerr
        .patch(
            "/contacts/bulk",
            json!({"contactIds": [id], "updates": {"status": "ACTIVE"}}),
        )
        .await;
    winnerr
        .put(&format!("/contacts/{id}"), json!({"notes": "n"}))
        .await;
    winnerr.delete(&format!("/contacts/{id}")).await;
    winnerr
        .post(
            "/contacts",
            json!({"firstName": "S", "lastName": "T", "email": "s.t@example.com"}),
        )
        .await;
    for (method, route, count) in [
        ("GET", "/v1/contacts", 1),
        ("POST", "/v1/contacts", 1),
        ("GET", "/v1/contacts/{id}", 1),
        ("PUT", "/v1/contacts/{id}", 1),
        ("DELETE", "/v1/contacts/{id}", 1),
        ("GET", "/v1/contacts/{id}/activities", 1),
        ("POST", "/v1/contacts/{id}/activities", 1),
        ("GET", "/v1/contacts/tags", 1),
        ("POST", "/v1/contacts/{id}/tags", 1),
        ("PATCH", "/v1/contacts/bulk", 1),
    ] {
        assert_eq!(
            sandbox.route_count("winnerr", method, route).await,
            count,
            "{method} {route}"
        );
    }
}
