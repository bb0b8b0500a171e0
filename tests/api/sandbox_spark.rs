//! Tests of the Spark emulator over HTTP: authentication and roles, the `D`
//! envelope and its error codes, paging, selection, expansion, ordering, every
//! endpoint and method, writes visible to later reads, reset and the stats
//! route templates. Tests that need a working `_filter` parser are grouped in
//! `filter_dependent`.

use reqwest::Method;
use serde_json::{json, Value};

use crate::helpers::{spawn_sandbox, TestSandbox};

/// The agent the sandbox's tokens belong to (documented in the emulator).
const AGENT_ID: &str = "20090815223215294334000000";

struct Spark {
    sandbox: TestSandbox,
    base: String,
    token: String,
    user_agent: String,
}

async fn spark() -> Spark {
    let sandbox = spawn_sandbox().await;
    let base = sandbox.base("spark");
    let token = sandbox.credential("spark", "token");
    let user_agent = sandbox.credential("spark", "user_agent");
    Spark {
        sandbox,
        base,
        token,
        user_agent,
    }
}

async fn send(builder: reqwest::RequestBuilder) -> (u16, Value) {
    let response = builder.send().await.expect("request");
    let status = response.status().as_u16();
    let text = response.text().await.expect("body");
    let body = serde_json::from_str(&text).unwrap_or_else(|_| panic!("not JSON: {text:?}"));
    (status, body)
}

impl Spark {
    /// A token of another role: `-idx`, `-vow`, `-portal`, `-public`, `-expired`.
    fn token_of(&self, suffix: &str) -> String {
        format!("{}{suffix}", self.token)
    }

    fn request_as(&self, method: Method, path: &str, token: &str) -> reqwest::RequestBuilder {
        self.sandbox
            .client
            .request(method, format!("{}{path}", self.base))
            .header("Authorization", format!("Bearer {token}"))
            .header("X-SparkApi-User-Agent", &self.user_agent)
    }

    async fn call_as(
        &self,
        method: Method,
        path: &str,
        token: &str,
        body: Option<Value>,
    ) -> (u16, Value) {
        let mut builder = self.request_as(method, path, token);
        if let Some(body) = body {
            builder = builder.json(&body);
        }
        send(builder).await
    }

    async fn get(&self, path: &str) -> (u16, Value) {
        self.call_as(Method::GET, path, &self.token, None).await
    }

    async fn post(&self, path: &str, body: Value) -> (u16, Value) {
        self.call_as(Method::POST, path, &self.token, Some(body))
            .await
    }

    async fn put(&self, path: &str, body: Value) -> (u16, Value) {
        self.call_as(Method::PUT, path, &self.token, Some(body))
            .await
    }

    async fn delete(&self, path: &str) -> (u16, Value) {
        self.call_as(Method::DELETE, path, &self.token, None).await
    }

    /// Sends a raw body (not necessarily JSON).
    async fn send_raw(&self, method: Method, path: &str, body: &'static str) -> (u16, Value) {
        send(
            self.request_as(method, path, &self.token)
                .header("Content-Type", "application/json")
                .body(body),
        )
        .await
    }

    /// Every record of a list, paging with `_limit=25`.
    async fn all(&self, path: &str) -> Vec<Value> {
        let separator = if path.contains('?') { '&' } else { '?' };
        let mut records = Vec::new();
        for page in 1.. {
            let (status, body) = self
                .get(&format!("{path}{separator}_limit=25&_page={page}"))
                .await;
            assert_eq!(status, 200, "{body}");
            let results = results(&body);
            if results.is_empty() {
                break;
            }
            records.extend(results);
        }
        records
    }

    /// One contact by id, as the Private role sees it.
    async fn contact(&self, id: &str) -> Value {
        let (status, body) = self.get(&format!("/contacts/{id}")).await;
        assert_eq!(status, 200, "{body}");
        let results = results(&body);
        assert_eq!(results.len(), 1);
        results[0].clone()
    }

    async fn total_rows(&self, path: &str) -> u64 {
        let (status, body) = self.get(&format!("{path}?_pagination=count")).await;
        assert_eq!(status, 200, "{body}");
        body["D"]["Pagination"]["TotalRows"].as_u64().unwrap()
    }
}

/// The `Results` of a success envelope, after checking the envelope itself.
fn results(body: &Value) -> Vec<Value> {
    assert_eq!(body["D"]["Success"], true, "{body}");
    body["D"]["Results"].as_array().expect("Results").clone()
}

/// Checks a failure envelope exactly: status, `Success: false`, the code and a message.
fn assert_failure(response: &(u16, Value), status: u16, code: u64) {
    let (actual_status, body) = response;
    assert_eq!(*actual_status, status, "{body}");
    let inner = body["D"].as_object().unwrap_or_else(|| panic!("{body}"));
    assert_eq!(inner.len(), 3, "{body}");
    assert_eq!(inner["Success"], false);
    assert_eq!(inner["Code"], code, "{body}");
    assert!(!inner["Message"].as_str().unwrap().is_empty(), "{body}");
    assert_eq!(body.as_object().unwrap().len(), 1, "{body}");
}

fn id_of(record: &Value) -> String {
    record["Id"].as_str().unwrap().to_string()
}

fn keys(record: &Value) -> Vec<&str> {
    let mut keys: Vec<&str> = record
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    keys.sort_unstable();
    keys
}

fn is_spark_id(id: &str) -> bool {
    matches!(id.len(), 24 | 26) && id.bytes().all(|b| b.is_ascii_digit())
}

#[tokio::test]
async fn missing_user_agent_header_is_1016_and_bad_tokens_are_1000_or_1020() {
    let spark = spark().await;
    let url = format!("{}/contacts", spark.base);
    let no_agent = send(
        spark
            .sandbox
            .client
            .get(&url)
            .header("Authorization", format!("Bearer {}", spark.token)),
    )
    .await;
    assert_failure(&no_agent, 400, 1016);
    let no_token = send(
        spark
            .sandbox
            .client
            .get(&url)
            .header("X-SparkApi-User-Agent", &spark.user_agent),
    )
    .await;
    assert_failure(&no_token, 401, 1000);
    let bad = spark.call_as(Method::GET, "/contacts", "nope", None).await;
    assert_failure(&bad, 401, 1000);
    let other_role = spark
        .call_as(Method::GET, "/contacts", &spark.token_of("-admin"), None)
        .await;
    assert_failure(&other_role, 401, 1000);
    let expired = spark
        .call_as(Method::GET, "/contacts", &spark.token_of("-expired"), None)
        .await;
    assert_failure(&expired, 401, 1020);
    let basic = send(
        spark
            .sandbox
            .client
            .get(&url)
            .header("Authorization", format!("Basic {}", spark.token))
            .header("X-SparkApi-User-Agent", &spark.user_agent),
    )
    .await;
    assert_failure(&basic, 401, 1000);
}

#[tokio::test]
async fn oauth_scheme_is_accepted_like_bearer() {
    let spark = spark().await;
    let (status, body) = send(
        spark
            .sandbox
            .client
            .get(format!("{}/contacts", spark.base))
            .header("Authorization", format!("OAuth {}", spark.token))
            .header("X-SparkApi-User-Agent", &spark.user_agent),
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(results(&body).len(), 10);
}

#[tokio::test]
async fn list_answers_ten_connected_contacts_in_the_d_envelope() {
    let spark = spark().await;
    let (status, body) = spark.get("/contacts").await;
    assert_eq!(status, 200);
    assert_eq!(keys(&body["D"]), ["Results", "Success"]);
    let records = results(&body);
    assert_eq!(records.len(), 10);
    for record in &records {
        let id = id_of(record);
        assert!(is_spark_id(&id), "{id}");
        assert_eq!(record["ResourceUri"], format!("/v1/contacts/{id}"));
        assert_eq!(record["RecordStatus"], "Connected");
        assert_eq!(record["OwnerId"], AGENT_ID);
        assert_eq!(
            record["DisplayName"],
            format!(
                "{} {}",
                record["GivenName"].as_str().unwrap(),
                record["FamilyName"].as_str().unwrap()
            )
        );
        assert!(record["PrimaryEmail"].as_str().unwrap().contains('@'));
        let phone = record["PrimaryPhoneNumber"].as_str().unwrap();
        assert_eq!(phone.len(), 12, "{phone}");
        assert_eq!((&phone[3..4], &phone[7..8]), ("-", "-"));
        for list in [
            "Tags",
            "SecondaryEmails",
            "AdditionalNotificationEmails",
            "InvalidEmails",
        ] {
            assert!(record[list].is_array(), "{list}: {record}");
        }
        assert!(record["Settings"]["ReverseProspecting"].is_boolean());
        assert!(record.get("VowActive").is_none(), "search-only key shown");
        assert!(record.get("PortalLoginName").is_none());
        assert!(record.get("Note").is_none());
    }
}

#[tokio::test]
async fn pagination_object_counts_pages_and_count_mode_returns_only_it() {
    let spark = spark().await;
    let (_, body) = spark.get("/contacts?_pagination=1").await;
    assert_eq!(results(&body).len(), 10);
    assert_eq!(
        body["D"]["Pagination"],
        json!({"TotalRows": 600, "PageSize": 10, "TotalPages": 60, "CurrentPage": 1})
    );
    let (_, body) = spark
        .get("/contacts?_pagination=1&_limit=25&_page=24")
        .await;
    assert_eq!(results(&body).len(), 25);
    assert_eq!(
        body["D"]["Pagination"],
        json!({"TotalRows": 600, "PageSize": 25, "TotalPages": 24, "CurrentPage": 24})
    );
    let (status, body) = spark.get("/contacts?_limit=25&_page=25").await;
    assert_eq!(status, 200);
    assert!(results(&body).is_empty());
    assert!(body["D"].get("Pagination").is_none());

    let (status, body) = spark.get("/contacts?_pagination=count").await;
    assert_eq!(status, 200);
    assert_eq!(body["D"]["Results"], json!([]));
    assert_eq!(body["D"]["Pagination"]["TotalRows"], 600);
    assert_eq!(body["D"]["Pagination"]["PageSize"], 10);

    let (_, body) = spark.get("/contacts?_limit=0&_pagination=1").await;
    assert!(results(&body).is_empty());
    assert_eq!(
        body["D"]["Pagination"],
        json!({"TotalRows": 600, "PageSize": 0, "TotalPages": 0, "CurrentPage": 1})
    );
    let (status, body) = spark
        .get("/contacts?_page=18446744073709551615&_limit=25")
        .await;
    assert_eq!(status, 200);
    assert!(results(&body).is_empty());
}

#[tokio::test]
async fn pages_cover_every_contact_once_in_created_then_id_order() {
    let spark = spark().await;
    let records = spark.all("/contacts").await;
    assert_eq!(records.len(), 600);
    let ids: std::collections::HashSet<String> = records.iter().map(id_of).collect();
    assert_eq!(ids.len(), 600);
    let order: Vec<(String, String)> = records
        .iter()
        .map(|r| {
            (
                r["CreatedTimestamp"].as_str().unwrap().to_string(),
                id_of(r),
            )
        })
        .collect();
    let mut sorted = order.clone();
    sorted.sort();
    assert_eq!(order, sorted);
    assert!(
        ids.iter().any(|id| id.len() == 24),
        "no 24-digit ids seeded"
    );
    assert!(ids.iter().any(|id| id.len() == 26));
    assert!(records.iter().any(|r| r["Tags"]
        .as_array()
        .unwrap()
        .iter()
        .any(|t| t == "IDX Lead")));
}

#[tokio::test]
async fn bad_paging_and_ordering_parameters_are_1053() {
    let spark = spark().await;
    for query in [
        "_limit=26",
        "_limit=-1",
        "_limit=ten",
        "_limit=99999999999999999999999999",
        "_page=0",
        "_page=first",
        "_pagination=yes",
        "_orderby=GivenName",
        "_orderby=",
    ] {
        let response = spark.get(&format!("/contacts?{query}")).await;
        assert_failure(&response, 400, 1053);
        let response = spark.get(&format!("/contacts/unconnected?{query}")).await;
        assert_failure(&response, 400, 1053);
    }
}

#[tokio::test]
async fn orderby_sorts_by_display_name_and_timestamps() {
    let spark = spark().await;
    let (_, body) = spark.get("/contacts?_orderby=DisplayName&_limit=25").await;
    let names: Vec<String> = results(&body)
        .iter()
        .map(|r| r["DisplayName"].as_str().unwrap().to_lowercase())
        .collect();
    let mut sorted = names.clone();
    sorted.sort();
    assert_eq!(names, sorted);
    let (_, body) = spark.get("/contacts?_orderby=-DisplayName&_limit=1").await;
    let last_name = results(&body)[0]["DisplayName"]
        .as_str()
        .unwrap()
        .to_lowercase();
    let all = spark.all("/contacts").await;
    let maximum = all
        .iter()
        .map(|r| r["DisplayName"].as_str().unwrap().to_lowercase())
        .max()
        .unwrap();
    assert_eq!(last_name, maximum);
    let (_, body) = spark
        .get("/contacts?_orderby=-ModificationTimestamp&_limit=25")
        .await;
    let stamps: Vec<String> = results(&body)
        .iter()
        .map(|r| r["ModificationTimestamp"].as_str().unwrap().to_string())
        .collect();
    let mut descending = stamps.clone();
    descending.sort_by(|a, b| b.cmp(a));
    assert_eq!(stamps, descending);
    let (_, body) = spark
        .get("/contacts?_orderby=-CreatedTimestamp&_limit=1")
        .await;
    let newest = results(&body)[0]["CreatedTimestamp"].clone();
    let oldest_last = all.last().unwrap()["CreatedTimestamp"].clone();
    assert_eq!(newest, oldest_last);
}

#[tokio::test]
async fn select_keeps_only_the_named_attributes_plus_id_and_uri() {
    let spark = spark().await;
    let (_, body) = spark
        .get("/contacts?_select=DisplayName,PrimaryEmail")
        .await;
    for record in results(&body) {
        assert_eq!(
            keys(&record),
            ["DisplayName", "Id", "PrimaryEmail", "ResourceUri"]
        );
    }
    let (_, list) = spark.get("/contacts?_limit=1").await;
    let id = id_of(&results(&list)[0]);
    let (status, body) = spark
        .get(&format!("/contacts/{id}?_select=Tags&_expand=VowActive"))
        .await;
    assert_eq!(status, 200);
    assert_eq!(
        keys(&results(&body)[0]),
        ["Id", "ResourceUri", "Tags", "VowActive"]
    );
    let response = spark.get("/contacts?_select=DisplayName,Nickname").await;
    assert_failure(&response, 400, 1053);
    let response = spark.get(&format!("/contacts/{id}?_select=Nope")).await;
    assert_failure(&response, 400, 1053);
}

#[tokio::test]
async fn expansions_add_their_attributes_and_unknown_ones_are_1053() {
    let spark = spark().await;
    let (status, body) = spark
        .get(
            "/contacts?_limit=25&_expand=Activity,NewsFeedSummary,NewsFeedNotificationSummary,\
             Notes,Portal,VowActive,VowEnabled,UniquePrimaryEmail",
        )
        .await;
    assert_eq!(status, 200, "{body}");
    let records = results(&body);
    for record in &records {
        assert_eq!(
            record["Activity"]["DailyActivity"]
                .as_array()
                .unwrap()
                .len(),
            30
        );
        assert!(record["Activity"]["Score"].is_u64());
        assert!(record["NewsFeedSummary"]["UnreadListingEventCount"].is_u64());
        assert!(record["NewsFeedSummary"]
            .as_object()
            .unwrap()
            .contains_key("LastListingEventTimestamp"));
        assert!(
            record["NewsFeedNotificationSummary"]["UnapprovedListingNotificationEventCount"]
                .is_u64()
        );
        assert!(record["Notes"].is_array());
        assert!(record["Portal"].is_null() || record["Portal"]["LoginName"].is_string());
        assert!(record["VowActive"].is_boolean());
        assert_eq!(record["VowExists"], !record["Portal"].is_null());
        assert!(record["VowEnabled"].is_boolean());
        assert!(record["UniquePrimaryEmail"].is_boolean());
    }
    assert!(records.iter().any(|r| !r["Portal"].is_null()));
    let response = spark.get("/contacts?_expand=Everything").await;
    assert_failure(&response, 400, 1053);
}

#[tokio::test]
async fn activity_is_private_only_and_portal_is_refused_to_idx_and_public() {
    let spark = spark().await;
    for (suffix, expansion) in [
        ("-idx", "Activity"),
        ("-public", "Activity"),
        ("-idx", "Portal"),
        ("-public", "Portal"),
    ] {
        let response = spark
            .call_as(
                Method::GET,
                &format!("/contacts?_expand={expansion}"),
                &spark.token_of(suffix),
                None,
            )
            .await;
        assert_failure(&response, 403, 1500);
    }
    let (status, _) = spark
        .call_as(
            Method::GET,
            "/contacts?_expand=Notes,VowEnabled",
            &spark.token_of("-idx"),
            None,
        )
        .await;
    assert_eq!(status, 200);
}

#[tokio::test]
async fn unique_primary_email_reports_the_five_seeded_duplicates() {
    let spark = spark().await;
    let unconnected = spark
        .all("/contacts/unconnected?_expand=UniquePrimaryEmail")
        .await;
    assert_eq!(unconnected.len(), 60);
    let shared: Vec<&Value> = unconnected
        .iter()
        .filter(|r| r["UniquePrimaryEmail"] == false)
        .collect();
    assert_eq!(shared.len(), 5);
    let connected = spark.all("/contacts?_expand=UniquePrimaryEmail").await;
    assert_eq!(
        connected
            .iter()
            .filter(|r| r["UniquePrimaryEmail"] == false)
            .count(),
        5
    );
}

#[tokio::test]
async fn a_bad_filter_is_1040_with_the_parser_message() {
    let spark = spark().await;
    for filter in ["Nickname Eq 'x'", "DisplayName Eq", "((("] {
        let path = format!("/contacts?_filter={}", urlencoding::encode(filter));
        let response = spark.get(&path).await;
        assert_failure(&response, 400, 1040);
        let message = response.1["D"]["Message"].as_str().unwrap();
        assert!(message.starts_with("Invalid _filter: "), "{message}");
        let path = format!(
            "/contacts/unconnected?_filter={}",
            urlencoding::encode(filter)
        );
        assert_failure(&spark.get(&path).await, 400, 1040);
    }
}

#[tokio::test]
async fn unconnected_contacts_are_listed_apart_with_paging() {
    let spark = spark().await;
    let (status, body) = spark
        .get("/contacts/unconnected?_pagination=1&_limit=25&_select=RecordStatus,OwnerId")
        .await;
    assert_eq!(status, 200);
    assert_eq!(
        body["D"]["Pagination"],
        json!({"TotalRows": 60, "PageSize": 25, "TotalPages": 3, "CurrentPage": 1})
    );
    for record in results(&body) {
        assert_eq!(record["RecordStatus"], "Unconnected");
        assert_eq!(record["OwnerId"], AGENT_ID);
    }
    let unconnected = spark.all("/contacts/unconnected").await;
    let connected: std::collections::HashSet<String> =
        spark.all("/contacts").await.iter().map(id_of).collect();
    assert!(unconnected.iter().all(|r| !connected.contains(&id_of(r))));
    let id = id_of(&unconnected[0]);
    assert_eq!(spark.contact(&id).await, unconnected[0]);
}

#[tokio::test]
async fn get_by_id_answers_the_record_and_bad_ids_are_404() {
    let spark = spark().await;
    let all = spark.all("/contacts").await;
    let short = all.iter().find(|r| id_of(r).len() == 24).unwrap();
    let long = all.iter().find(|r| id_of(r).len() == 26).unwrap();
    for record in [short, long] {
        let (status, body) = spark.get(&format!("/contacts/{}", id_of(record))).await;
        assert_eq!(status, 200);
        assert_eq!(keys(&body["D"]), ["Results", "Success"]);
        assert_eq!(results(&body), vec![record.clone()]);
    }
    for bad in [
        "123",
        "abcdefghijabcdefghijabcdef",
        "2009081522321529433400000",
        "200908152232152943340000000",
        "20090815223215294334000001",
    ] {
        let response = spark.get(&format!("/contacts/{bad}")).await;
        assert_failure(&response, 404, 404);
        let response = spark
            .put(
                &format!("/contacts/{bad}"),
                json!({"D": {"ReferredBy": "x"}}),
            )
            .await;
        assert_failure(&response, 404, 404);
        let response = spark.delete(&format!("/contacts/{bad}")).await;
        assert_failure(&response, 404, 404);
    }
}

#[tokio::test]
async fn create_returns_the_new_id_and_the_contact_is_readable() {
    let spark = spark().await;
    let (status, body) = spark
        .post(
            "/contacts",
            json!({"D": {
                "DisplayName": "Neddy Nederlander",
                "PrimaryEmail": "neddy.new@sparkplatform.com",
                "GivenName": "Neddy",
                "Tags": ["Sandbox Lead"],
                "Note": "Met at the open house.",
                "Notify": true
            }}),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(keys(&body["D"]), ["Results", "Success"]);
    let created = results(&body);
    assert_eq!(created.len(), 1);
    assert_eq!(keys(&created[0]), ["Id", "ResourceUri"]);
    let id = id_of(&created[0]);
    assert_eq!(id.len(), 26);
    assert!(is_spark_id(&id));
    assert_eq!(created[0]["ResourceUri"], format!("/v1/contacts/{id}"));

    let (_, body) = spark
        .get(&format!(
            "/contacts/{id}?_expand=Notes,Portal,VowEnabled,VowActive"
        ))
        .await;
    let record = &results(&body)[0];
    assert_eq!(record["DisplayName"], "Neddy Nederlander");
    assert_eq!(record["PrimaryEmail"], "neddy.new@sparkplatform.com");
    assert_eq!(record["GivenName"], "Neddy");
    assert_eq!(record["Tags"], json!(["Sandbox Lead"]));
    assert_eq!(record["OwnerId"], AGENT_ID);
    assert_eq!(record["RecordStatus"], "Connected");
    assert_eq!(record["CreatedTimestamp"], record["ModificationTimestamp"]);
    assert!(record.get("Note").is_none());
    assert!(record.get("Notify").is_none());
    assert_eq!(record["Notes"].as_array().unwrap().len(), 1);
    assert_eq!(record["Notes"][0]["Note"], "Met at the open house.");
    assert_eq!(record["Portal"]["LoginName"], "neddy.new");
    assert_eq!(record["Portal"]["Enabled"], true);
    assert_eq!(record["VowExists"], true);
    assert_eq!(record["VowEnabled"], true);
    assert_eq!(record["VowActive"], false);

    assert_eq!(spark.total_rows("/contacts").await, 601);
    let (_, body) = spark
        .get("/contacts?_orderby=-CreatedTimestamp&_limit=1")
        .await;
    assert_eq!(id_of(&results(&body)[0]), id);
    let (_, body) = spark.get("/contacts/tags").await;
    let tag = results(&body)
        .into_iter()
        .find(|t| t["Tag"] == "Sandbox Lead")
        .unwrap();
    assert_eq!(tag["Count"], 1);
}

#[tokio::test]
async fn create_accepts_the_real_clients_contacts_list_form() {
    let spark = spark().await;
    let (status, body) = spark
        .post(
            "/contacts",
            json!({"D": {
                "Contacts": [
                    {"DisplayName": "Contact Four", "PrimaryEmail": "contact4@fbsdata.com"},
                    {"DisplayName": "Contact Five", "PrimaryEmail": "contact5@fbsdata.com"}
                ],
                "Notify": true
            }}),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    let created = results(&body);
    assert_eq!(created.len(), 2);
    assert_ne!(created[0]["Id"], created[1]["Id"]);
    assert_eq!(
        spark.contact(&id_of(&created[1])).await["DisplayName"],
        "Contact Five"
    );
    let duplicate_in_batch = spark
        .post(
            "/contacts",
            json!({"D": {"Contacts": [
                {"DisplayName": "A", "PrimaryEmail": "same@fbsdata.com"},
                {"DisplayName": "B", "PrimaryEmail": " SAME@fbsdata.com"}
            ]}}),
        )
        .await;
    assert_failure(&duplicate_in_batch, 409, 1055);
    for bad in [
        json!({"D": {"Contacts": []}}),
        json!({"D": {"Contacts": [1]}}),
        json!({"D": {"Contacts": [{"DisplayName": "A", "PrimaryEmail": "a@b.c"}], "Extra": 1}}),
        json!({"D": {"Contacts": [{"DisplayName": "A", "PrimaryEmail": "a@b.c"}], "Notify": "yes"}}),
    ] {
        assert_failure(&spark.post("/contacts", bad).await, 400, 1053);
    }
    assert_eq!(spark.total_rows("/contacts").await, 602);
}

#[tokio::test]
async fn create_requires_display_name_and_primary_email_with_1050() {
    let spark = spark().await;
    for body in [
        json!({"D": {"DisplayName": "Only A Name"}}),
        json!({"D": {"PrimaryEmail": "only@email.com"}}),
        json!({"D": {"DisplayName": "  ", "PrimaryEmail": "blank@name.com"}}),
        json!({"D": {"DisplayName": "Null Email", "PrimaryEmail": null}}),
        json!({"D": {}}),
    ] {
        let response = spark.post("/contacts", body.clone()).await;
        assert_failure(&response, 400, 1050);
    }
    let (_, body) = spark
        .post("/contacts", json!({"D": {"DisplayName": "Only A Name"}}))
        .await;
    assert!(body["D"]["Message"]
        .as_str()
        .unwrap()
        .contains("PrimaryEmail"));
    assert_eq!(spark.total_rows("/contacts").await, 600);
}

#[tokio::test]
async fn limits_types_and_read_only_attributes_are_1053() {
    let spark = spark().await;
    let valid = |extra: Value| {
        let mut contact = json!({"DisplayName": "Limit Test", "PrimaryEmail": "limit@test.com"});
        for (key, value) in extra.as_object().unwrap() {
            contact[key] = value.clone();
        }
        json!({ "D": contact })
    };
    let at_limit = spark
        .post(
            "/contacts",
            valid(json!({
                "DisplayName": "d".repeat(75),
                "Tags": ["t".repeat(75)],
                "GivenName": "g".repeat(300),
                "MobilePhoneCountryCode": "US",
                "Note": "n".repeat(10_000),
                "PrimaryEmail": format!("{}@x.io", "e".repeat(70)),
            })),
        )
        .await;
    assert_eq!(at_limit.0, 200, "{}", at_limit.1);
    for extra in [
        json!({"DisplayName": "d".repeat(76)}),
        json!({"PrimaryEmail": format!("{}@x.io", "e".repeat(71))}),
        json!({"Tags": ["t".repeat(76)]}),
        json!({"Tags": "not a list"}),
        json!({"Tags": [1]}),
        json!({"GivenName": "g".repeat(301)}),
        json!({"HomeStreetAddress": "a".repeat(301)}),
        json!({"MobilePhoneCountryCode": "USA"}),
        json!({"Note": "n".repeat(10_001)}),
        json!({"GivenName": 42}),
        json!({"Id": "20200101000000000000000000"}),
        json!({"ResourceUri": "/v1/contacts/1"}),
        json!({"CreatedTimestamp": "2020-01-01T00:00:00Z"}),
        json!({"ModificationTimestamp": "2020-01-01T00:00:00Z"}),
        json!({"InvalidEmails": []}),
        json!({"OwnerId": AGENT_ID}),
        json!({"Nickname": "Nick"}),
        json!({"RecordStatus": "Unconnected"}),
        json!({"RecordStatus": "Archived"}),
        json!({"Settings": {"ReverseProspecting": "yes"}}),
        json!({"Settings": {"Other": true}}),
        json!({"Notify": "yes"}),
        json!({"SecondaryEmails": ["a@b.c"], "AdditionalNotificationEmails": ["x@y.z"]}),
    ] {
        let response = spark.post("/contacts", valid(extra.clone())).await;
        assert_failure(&response, 400, 1053);
    }
    assert_eq!(spark.total_rows("/contacts").await, 601);
}

#[tokio::test]
async fn bad_json_or_missing_d_wrapper_is_1035() {
    let spark = spark().await;
    let (_, list) = spark.get("/contacts?_limit=1").await;
    let id = id_of(&results(&list)[0]);
    for body in [
        "",
        "not json",
        "{\"D\": {",
        "[]",
        "{\"DisplayName\": \"A\", \"PrimaryEmail\": \"a@b.c\"}",
        "{\"D\": [1]}",
        "{\"D\": \"text\"}",
    ] {
        let response = spark.send_raw(Method::POST, "/contacts", body).await;
        assert_failure(&response, 400, 1035);
        let response = spark
            .send_raw(Method::PUT, &format!("/contacts/{id}"), body)
            .await;
        assert_failure(&response, 400, 1035);
        let response = spark.send_raw(Method::PUT, "/my/contact", body).await;
        assert_failure(&response, 400, 1035);
    }
}

#[tokio::test]
async fn duplicate_primary_email_is_409_1055_trimmed_and_case_insensitive() {
    let spark = spark().await;
    let (_, list) = spark.get("/contacts?_limit=2").await;
    let records = results(&list);
    let existing = records[0]["PrimaryEmail"]
        .as_str()
        .unwrap()
        .trim()
        .to_string();
    let response = spark
        .post(
            "/contacts",
            json!({"D": {"DisplayName": "Copy", "PrimaryEmail": format!("  {}  ", existing.to_uppercase())}}),
        )
        .await;
    assert_failure(&response, 409, 1055);
    let other = id_of(&records[1]);
    let response = spark
        .put(
            &format!("/contacts/{other}"),
            json!({"D": {"PrimaryEmail": existing.clone()}}),
        )
        .await;
    assert_failure(&response, 409, 1055);
    // Keeping one's own email, in another case, is not a conflict.
    let own = records[1]["PrimaryEmail"]
        .as_str()
        .unwrap()
        .trim()
        .to_uppercase();
    let (status, _) = spark
        .put(
            &format!("/contacts/{other}"),
            json!({"D": {"PrimaryEmail": own}}),
        )
        .await;
    assert_eq!(status, 200);
}

#[tokio::test]
async fn update_is_visible_to_later_reads_and_null_removes_an_attribute() {
    let spark = spark().await;
    let (_, list) = spark.get("/contacts?_limit=1").await;
    let before = results(&list)[0].clone();
    let id = id_of(&before);
    let (status, body) = spark
        .put(
            &format!("/contacts/{id}"),
            json!({"D": {"PrimaryPhoneNumber": "555-555-5555", "ReferredBy": "Mr. Crowley", "Tags": ["Updated"]}}),
        )
        .await;
    assert_eq!(status, 200);
    assert_eq!(body, json!({"D": {"Success": true}}));
    let after = spark.contact(&id).await;
    assert_eq!(after["PrimaryPhoneNumber"], "555-555-5555");
    assert_eq!(after["ReferredBy"], "Mr. Crowley");
    assert_eq!(after["Tags"], json!(["Updated"]));
    assert_eq!(after["DisplayName"], before["DisplayName"]);
    assert_eq!(after["CreatedTimestamp"], before["CreatedTimestamp"]);
    assert!(
        after["ModificationTimestamp"].as_str().unwrap()
            > before["ModificationTimestamp"].as_str().unwrap()
    );
    let (status, _) = spark
        .put(
            &format!("/contacts/{id}"),
            json!({"D": {"ReferredBy": null, "Tags": null, "Note": "Called back."}}),
        )
        .await;
    assert_eq!(status, 200);
    let (_, body) = spark.get(&format!("/contacts/{id}?_expand=Notes")).await;
    let after = &results(&body)[0];
    assert!(after.get("ReferredBy").is_none());
    assert_eq!(after["Tags"], json!([]));
    let notes = after["Notes"].as_array().unwrap();
    assert_eq!(notes.last().unwrap()["Note"], "Called back.");
    let response = spark
        .put(
            &format!("/contacts/{id}"),
            json!({"D": {"DisplayName": null}}),
        )
        .await;
    assert_failure(&response, 400, 1050);
    let response = spark
        .put(&format!("/contacts/{id}"), json!({"D": {"Id": "1"}}))
        .await;
    assert_failure(&response, 400, 1053);
}

#[tokio::test]
async fn record_status_goes_from_unconnected_to_connected_never_back() {
    let spark = spark().await;
    let (_, list) = spark.get("/contacts/unconnected?_limit=1").await;
    let id = id_of(&results(&list)[0]);
    let (status, _) = spark
        .put(
            &format!("/contacts/{id}"),
            json!({"D": {"RecordStatus": "Connected"}}),
        )
        .await;
    assert_eq!(status, 200);
    assert_eq!(spark.contact(&id).await["RecordStatus"], "Connected");
    assert_eq!(spark.total_rows("/contacts").await, 601);
    assert_eq!(spark.total_rows("/contacts/unconnected").await, 59);
    let response = spark
        .put(
            &format!("/contacts/{id}"),
            json!({"D": {"RecordStatus": "Unconnected"}}),
        )
        .await;
    assert_failure(&response, 400, 1053);
    assert_eq!(spark.contact(&id).await["RecordStatus"], "Connected");
}

#[tokio::test]
async fn transfer_sets_owner_and_connects_and_takes_owner_id_alone() {
    let spark = spark().await;
    let (_, list) = spark.get("/contacts/unconnected?_limit=1").await;
    let before = results(&list)[0].clone();
    let id = id_of(&before);
    let new_owner = "20100101120000123456000000";
    for bad in [
        json!({"D": {"OwnerId": new_owner, "DisplayName": "Renamed"}}),
        json!({"D": {"OwnerId": new_owner, "RecordStatus": "Connected"}}),
        json!({"D": {"OwnerId": "agent-7"}}),
        json!({"D": {"OwnerId": 20100101}}),
        json!({"D": {"OwnerId": null}}),
    ] {
        let response = spark.put(&format!("/contacts/{id}"), bad).await;
        assert_failure(&response, 400, 1053);
    }
    assert_eq!(spark.contact(&id).await, before);
    let (status, body) = spark
        .put(
            &format!("/contacts/{id}"),
            json!({"D": {"OwnerId": new_owner}}),
        )
        .await;
    assert_eq!(status, 200);
    assert_eq!(body, json!({"D": {"Success": true}}));
    let after = spark.contact(&id).await;
    assert_eq!(after["OwnerId"], new_owner);
    assert_eq!(after["RecordStatus"], "Connected");
    assert_eq!(after["DisplayName"], before["DisplayName"]);
    assert_eq!(spark.total_rows("/contacts/unconnected").await, 59);
    let connected = spark.all("/contacts").await;
    assert!(connected.iter().any(|r| id_of(r) == id));
}

#[tokio::test]
async fn delete_removes_the_contact() {
    let spark = spark().await;
    let (_, list) = spark.get("/contacts?_limit=1").await;
    let id = id_of(&results(&list)[0]);
    let (status, body) = spark.delete(&format!("/contacts/{id}")).await;
    assert_eq!(status, 200);
    assert_eq!(body, json!({"D": {"Success": true}}));
    assert_failure(&spark.get(&format!("/contacts/{id}")).await, 404, 404);
    assert_failure(&spark.delete(&format!("/contacts/{id}")).await, 404, 404);
    assert_eq!(spark.total_rows("/contacts").await, 599);
}

#[tokio::test]
async fn methods_the_seed_marks_not_implemented_are_405() {
    let spark = spark().await;
    let (_, list) = spark.get("/contacts?_limit=1").await;
    let id = id_of(&results(&list)[0]);
    let contact_path = format!("/contacts/{id}");
    for (method, path) in [
        (Method::PUT, "/contacts"),
        (Method::DELETE, "/contacts"),
        (Method::PATCH, "/contacts"),
        (Method::POST, "/contacts/unconnected"),
        (Method::PUT, "/contacts/unconnected"),
        (Method::DELETE, "/contacts/unconnected"),
        (Method::POST, contact_path.as_str()),
        (Method::PATCH, contact_path.as_str()),
        (Method::POST, "/my/contact"),
        (Method::DELETE, "/my/contact"),
        (Method::POST, "/contacts/tags"),
    ] {
        let response = spark
            .call_as(method.clone(), path, &spark.token, Some(json!({"D": {}})))
            .await;
        assert_failure(&response, 405, 405);
    }
    assert_eq!(spark.total_rows("/contacts").await, 600);
}

#[tokio::test]
async fn unknown_paths_are_404_in_the_d_envelope() {
    let spark = spark().await;
    for path in [
        "/spark/v1/nothing",
        "/spark/v2/contacts",
        "/spark/v1/contacts/20090815223215294334000000/extra",
        "/spark/v1/my",
    ] {
        let response = send(
            spark
                .sandbox
                .client
                .get(format!("{}{path}", spark.sandbox.url))
                .header("Authorization", format!("Bearer {}", spark.token))
                .header("X-SparkApi-User-Agent", &spark.user_agent),
        )
        .await;
        assert_failure(&response, 404, 404);
    }
}

#[tokio::test]
async fn my_contact_is_the_agent_for_api_key_roles_and_the_consumer_for_vow_and_portal() {
    let spark = spark().await;
    for suffix in ["", "-idx", "-public"] {
        let (status, body) = spark
            .call_as(Method::GET, "/my/contact", &spark.token_of(suffix), None)
            .await;
        assert_eq!(status, 200, "{body}");
        let me = &results(&body)[0];
        assert_eq!(me["Id"], AGENT_ID);
        assert_eq!(me["ResourceUri"], "/v1/my/contact");
        assert_eq!(me["DisplayName"], "Jordan Whitfield");
    }
    let (_, body) = spark
        .call_as(
            Method::GET,
            "/my/contact?_expand=Portal,VowActive",
            &spark.token_of("-vow"),
            None,
        )
        .await;
    let vow = results(&body)[0].clone();
    assert_eq!(vow["Portal"]["Enabled"], true);
    assert_eq!(vow["VowActive"], true);
    let (_, body) = spark
        .call_as(Method::GET, "/my/contact", &spark.token_of("-portal"), None)
        .await;
    let portal = results(&body)[0].clone();
    assert_ne!(vow["Id"], portal["Id"]);
    for consumer in [&vow, &portal] {
        let as_agent = spark.contact(&id_of(consumer)).await;
        assert_eq!(as_agent["DisplayName"], consumer["DisplayName"]);
        assert_eq!(as_agent["RecordStatus"], "Connected");
    }
}

#[tokio::test]
async fn my_contact_put_takes_only_the_listed_attributes() {
    let spark = spark().await;
    let vow_token = spark.token_of("-vow");
    let (_, body) = spark
        .call_as(Method::GET, "/my/contact", &vow_token, None)
        .await;
    let id = id_of(&results(&body)[0]);
    let (status, body) = spark
        .call_as(
            Method::PUT,
            "/my/contact",
            &vow_token,
            Some(json!({"D": {
                "PrimaryEmail": "new-contact-email@example.org",
                "HomeStreetAddress": "1405 Main Street\nApt 112",
                "SecondaryEmails": ["second@example.org"],
                "AdditionalNotificationEmails": ["second@example.org"]
            }})),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body, json!({"D": {"Success": true}}));
    let as_agent = spark.contact(&id).await;
    assert_eq!(as_agent["PrimaryEmail"], "new-contact-email@example.org");
    assert_eq!(as_agent["HomeStreetAddress"], "1405 Main Street\nApt 112");
    assert_eq!(
        as_agent["AdditionalNotificationEmails"],
        json!(["second@example.org"])
    );
    for bad in [
        json!({"D": {"DisplayName": "Not Allowed"}}),
        json!({"D": {"Tags": ["x"]}}),
        json!({"D": {"OwnerId": AGENT_ID}}),
        json!({"D": {"Note": "x"}}),
        json!({"D": {"GivenName": "g".repeat(301)}}),
    ] {
        let response = spark
            .call_as(Method::PUT, "/my/contact", &vow_token, Some(bad))
            .await;
        assert_failure(&response, 400, 1053);
    }
    let (_, list) = spark.get("/contacts?_limit=5").await;
    let someone_else = results(&list).into_iter().find(|r| id_of(r) != id).unwrap();
    let response = spark
        .call_as(
            Method::PUT,
            "/my/contact",
            &vow_token,
            Some(json!({"D": {"PrimaryEmail": someone_else["PrimaryEmail"]}})),
        )
        .await;
    assert_failure(&response, 409, 1055);

    let (status, _) = spark
        .put("/my/contact", json!({"D": {"GivenName": "Jordy"}}))
        .await;
    assert_eq!(status, 200);
    let (_, body) = spark.get("/my/contact").await;
    assert_eq!(results(&body)[0]["GivenName"], "Jordy");
    let response = spark
        .call_as(
            Method::PUT,
            "/my/contact",
            &spark.token_of("-public"),
            Some(json!({"D": {"GivenName": "Pub"}})),
        )
        .await;
    assert_failure(&response, 403, 1500);
}

#[tokio::test]
async fn vow_and_portal_may_only_use_my_contact() {
    let spark = spark().await;
    let (_, list) = spark.get("/contacts?_limit=1").await;
    let id = id_of(&results(&list)[0]);
    for suffix in ["-vow", "-portal"] {
        let token = spark.token_of(suffix);
        for (method, path, body) in [
            (Method::GET, "/contacts".to_string(), None),
            (Method::GET, "/contacts/unconnected".to_string(), None),
            (Method::GET, "/contacts/tags".to_string(), None),
            (Method::GET, format!("/contacts/{id}"), None),
            (
                Method::POST,
                "/contacts".to_string(),
                Some(json!({"D": {"DisplayName": "A", "PrimaryEmail": "a@b.c"}})),
            ),
            (
                Method::PUT,
                format!("/contacts/{id}"),
                Some(json!({"D": {"ReferredBy": "x"}})),
            ),
            (Method::DELETE, format!("/contacts/{id}"), None),
        ] {
            let response = spark.call_as(method, &path, &token, body).await;
            assert_failure(&response, 403, 1500);
        }
    }
    assert_eq!(spark.total_rows("/contacts").await, 600);
}

#[tokio::test]
async fn public_reads_but_cannot_write_and_idx_writes() {
    let spark = spark().await;
    let public = spark.token_of("-public");
    let (status, body) = spark
        .call_as(Method::GET, "/contacts?_limit=1", &public, None)
        .await;
    assert_eq!(status, 200);
    let id = id_of(&results(&body)[0]);
    let (status, _) = spark
        .call_as(Method::GET, &format!("/contacts/{id}"), &public, None)
        .await;
    assert_eq!(status, 200);
    let new_contact =
        json!({"D": {"DisplayName": "Idx Lead", "PrimaryEmail": "idx.lead@example.com"}});
    for (method, path, body) in [
        (
            Method::POST,
            "/contacts".to_string(),
            Some(new_contact.clone()),
        ),
        (
            Method::PUT,
            format!("/contacts/{id}"),
            Some(json!({"D": {"ReferredBy": "x"}})),
        ),
        (Method::DELETE, format!("/contacts/{id}"), None),
    ] {
        let response = spark.call_as(method, &path, &public, body).await;
        assert_failure(&response, 403, 1500);
    }
    let (status, body) = spark
        .call_as(
            Method::POST,
            "/contacts",
            &spark.token_of("-idx"),
            Some(new_contact),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(spark.total_rows("/contacts").await, 601);
}

#[tokio::test]
async fn tags_lists_each_tag_of_connected_contacts_with_its_count() {
    let spark = spark().await;
    let (status, body) = spark.get("/contacts/tags").await;
    assert_eq!(status, 200);
    let tags = results(&body);
    assert!(tags.len() >= 5, "{body}");
    let mut expected = std::collections::BTreeMap::<String, u64>::new();
    for record in spark.all("/contacts").await {
        for tag in record["Tags"].as_array().unwrap() {
            *expected
                .entry(tag.as_str().unwrap().to_string())
                .or_default() += 1;
        }
    }
    let actual: std::collections::BTreeMap<String, u64> = tags
        .iter()
        .map(|t| {
            assert_eq!(keys(t), ["Count", "ResourceUri", "Tag"]);
            let tag = t["Tag"].as_str().unwrap().to_string();
            assert_eq!(t["ResourceUri"], format!("/v1/contacts/tags/{tag}"));
            (tag, t["Count"].as_u64().unwrap())
        })
        .collect();
    assert_eq!(actual, expected);
    let names: Vec<&str> = tags.iter().map(|t| t["Tag"].as_str().unwrap()).collect();
    let mut sorted = names.clone();
    sorted.sort_unstable();
    assert_eq!(names, sorted);
}

#[tokio::test]
async fn reset_restores_the_seeded_contacts() {
    let spark = spark().await;
    let (_, list) = spark.get("/contacts?_limit=2").await;
    let records = results(&list);
    let (kept, removed) = (records[0].clone(), records[1].clone());
    let (_, body) = spark
        .post(
            "/contacts",
            json!({"D": {"DisplayName": "Temporary", "PrimaryEmail": "temp@example.com"}}),
        )
        .await;
    let created = id_of(&results(&body)[0]);
    spark
        .put(
            &format!("/contacts/{}", id_of(&kept)),
            json!({"D": {"DisplayName": "Changed"}}),
        )
        .await;
    spark
        .delete(&format!("/contacts/{}", id_of(&removed)))
        .await;
    spark
        .put("/my/contact", json!({"D": {"GivenName": "Changed"}}))
        .await;
    spark.sandbox.reset().await;
    assert_failure(&spark.get(&format!("/contacts/{created}")).await, 404, 404);
    assert_eq!(spark.contact(&id_of(&kept)).await, kept);
    assert_eq!(spark.contact(&id_of(&removed)).await, removed);
    let (_, body) = spark.get("/my/contact").await;
    assert_eq!(results(&body)[0]["GivenName"], "Jordan");
    assert_eq!(spark.total_rows("/contacts").await, 600);
    // Ids of created contacts are repeatable after a reset.
    let (_, body) = spark
        .post(
            "/contacts",
            json!({"D": {"DisplayName": "Temporary", "PrimaryEmail": "temp@example.com"}}),
        )
        .await;
    assert_eq!(id_of(&results(&body)[0]), created);
}

#[tokio::test]
async fn same_seed_gives_the_same_contacts() {
    let first = spark().await;
    let second = spark().await;
    let (_, a) = first.get("/contacts?_limit=25&_page=3").await;
    let (_, b) = second.get("/contacts?_limit=25&_page=3").await;
    assert_eq!(a, b);
}

#[tokio::test]
async fn stats_count_requests_under_the_route_templates() {
    let spark = spark().await;
    let (_, list) = spark.get("/contacts?_limit=1").await;
    let id = id_of(&results(&list)[0]);
    spark.get("/contacts/unconnected").await;
    spark.get("/contacts/tags").await;
    spark.get(&format!("/contacts/{id}")).await;
    spark.get("/contacts/12345").await;
    spark
        .put(
            &format!("/contacts/{id}"),
            json!({"D": {"ReferredBy": "x"}}),
        )
        .await;
    spark.get("/my/contact").await;
    spark.post("/my/contact", json!({"D": {}})).await;
    spark.get("/nothing/here").await;
    let count = |method: &'static str, route: &'static str| {
        let sandbox = &spark.sandbox;
        async move { sandbox.route_count("spark", method, route).await }
    };
    assert_eq!(count("GET", "/v1/contacts").await, 1);
    assert_eq!(count("GET", "/v1/contacts/unconnected").await, 1);
    assert_eq!(count("GET", "/v1/contacts/tags").await, 1);
    assert_eq!(count("GET", "/v1/contacts/{id}").await, 2);
    assert_eq!(count("PUT", "/v1/contacts/{id}").await, 1);
    assert_eq!(count("GET", "/v1/my/contact").await, 1);
    assert_eq!(count("POST", "/v1/my/contact").await, 1);
    assert_eq!(count("GET", "unmatched").await, 1);
}

/// Tests that need the SparkQL parser of `filter.rs`.
mod filter_dependent {
    use super::*;

    fn filtered(path: &str, filter: &str) -> String {
        format!("{path}?_filter={}", urlencoding::encode(filter))
    }

    fn ids(records: &[Value]) -> Vec<String> {
        records.iter().map(id_of).collect()
    }

    #[tokio::test]
    async fn display_name_wildcards_apply_to_every_word() {
        let spark = spark().await;
        let all = spark.all("/contacts").await;
        for (filter, prefix) in [
            ("DisplayName Eq 'Neddy*'", "neddy"),
            ("DisplayName Eq 'Neder*'", "neder"),
        ] {
            let expected: Vec<String> = all
                .iter()
                .filter(|r| {
                    r["DisplayName"]
                        .as_str()
                        .unwrap()
                        .split_whitespace()
                        .any(|word| word.to_lowercase().starts_with(prefix))
                })
                .map(id_of)
                .collect();
            assert!(!expected.is_empty(), "no seeded {prefix}");
            let found = spark.all(&filtered("/contacts", filter)).await;
            assert_eq!(ids(&found), expected, "{filter}");
        }
    }

    #[tokio::test]
    async fn id_list_fetches_exactly_those_connected_contacts() {
        let spark = spark().await;
        let all = spark.all("/contacts").await;
        let short = all.iter().find(|r| id_of(r).len() == 24).unwrap();
        let wanted = [id_of(&all[5]), id_of(short), id_of(&all[400])];
        let (_, unconnected) = spark.get("/contacts/unconnected?_limit=1").await;
        let unconnected_id = id_of(&results(&unconnected)[0]);
        let filter = format!(
            "Id Eq '{}','{}','{}','20990101000000000000000000','{unconnected_id}','{}'",
            wanted[2], wanted[0], wanted[1], wanted[0]
        );
        let (status, body) = spark
            .get(&format!("{}&_pagination=1", filtered("/contacts", &filter)))
            .await;
        assert_eq!(status, 200, "{body}");
        let found = results(&body);
        let expected: Vec<String> = all
            .iter()
            .map(id_of)
            .filter(|id| wanted.contains(id))
            .collect();
        assert_eq!(ids(&found), expected);
        assert_eq!(body["D"]["Pagination"]["TotalRows"], 3);
        let (_, body) = spark
            .get(&filtered(
                "/contacts/unconnected",
                &format!("Id Eq '{unconnected_id}'"),
            ))
            .await;
        assert_eq!(ids(&results(&body)), vec![unconnected_id]);
    }

    #[tokio::test]
    async fn tags_timestamps_and_vow_active_are_searchable() {
        let spark = spark().await;
        let all = spark.all("/contacts?_expand=VowActive").await;
        let idx_leads = spark
            .all(&filtered("/contacts", "Tags Eq 'IDX Lead'"))
            .await;
        let expected: Vec<String> = all
            .iter()
            .filter(|r| {
                r["Tags"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .any(|t| t == "IDX Lead")
            })
            .map(id_of)
            .collect();
        assert!(!expected.is_empty());
        assert_eq!(ids(&idx_leads), expected);

        let recent = spark
            .all(&filtered(
                "/contacts",
                "CreatedTimestamp Gt 2024-01-01T00:00:00",
            ))
            .await;
        let expected: Vec<String> = all
            .iter()
            .filter(|r| r["CreatedTimestamp"].as_str().unwrap() > "2024-01-01T00:00:00Z")
            .map(id_of)
            .collect();
        assert!(!expected.is_empty());
        assert_eq!(ids(&recent), expected);

        let active = spark.all(&filtered("/contacts", "VowActive Eq true")).await;
        let expected: Vec<String> = all
            .iter()
            .filter(|r| r["VowActive"] == true)
            .map(id_of)
            .collect();
        assert!(!expected.is_empty());
        assert_eq!(ids(&active), expected);
    }

    #[tokio::test]
    async fn a_created_contact_is_found_by_filter() {
        let spark = spark().await;
        let (_, body) = spark
            .post(
                "/contacts",
                json!({"D": {"DisplayName": "Zebulon Quartermain", "PrimaryEmail": "zq@example.com"}}),
            )
            .await;
        let id = id_of(&results(&body)[0]);
        let (_, body) = spark
            .get(&filtered("/contacts", "DisplayName Eq 'Quarter*'"))
            .await;
        assert_eq!(ids(&results(&body)), vec![id]);
    }
}

#[tokio::test]
async fn further_agents_have_contacts_of_their_own_that_no_other_token_reaches() {
    let spark = spark().await;
    let users = spark.sandbox.credentials["spark"]["more_users"]
        .as_array()
        .expect("more_users")
        .clone();
    let ids_of = |records: &[Value]| -> std::collections::BTreeSet<String> {
        records
            .iter()
            .map(|r| r["Id"].as_str().expect("Id").to_string())
            .collect()
    };
    let first = spark.all("/contacts").await;
    let first_ids = ids_of(&first);
    let mut seen = first_ids.clone();
    for user in &users {
        let token = user["token"].as_str().unwrap();
        let user_id = user["user_id"].as_str().unwrap();
        let (status, body) = spark
            .call_as(Method::GET, "/contacts?_limit=25", token, None)
            .await;
        assert_eq!(status, 200, "{body}");
        let page = body["D"]["Results"].as_array().expect("results").clone();
        assert!(!page.is_empty());
        assert!(page.iter().all(|c| c["OwnerId"] == user_id), "{body}");
        let ids = ids_of(&page);
        assert!(ids.is_disjoint(&seen), "shared contacts: {ids:?}");
        seen.extend(ids);
        // Another agent's contact is not found with this token.
        let other = first_ids.iter().next().unwrap();
        let (status, _) = spark
            .call_as(Method::GET, &format!("/contacts/{other}"), token, None)
            .await;
        assert_eq!(status, 404);
        // The agent's own record, and its derived role tokens.
        let (status, body) = spark
            .call_as(Method::GET, "/my/contact", &format!("{token}-idx"), None)
            .await;
        assert_eq!(status, 200, "{body}");
        assert_eq!(body["D"]["Results"][0]["Id"], user_id);
    }
    // A contact created by a further agent is its own and nobody else's.
    let token = users[0]["token"].as_str().unwrap();
    let (status, body) = spark
        .call_as(
            Method::POST,
            "/contacts",
            token,
            Some(
                json!({"D": {"DisplayName": "Only Mine", "PrimaryEmail": "only.mine@example.com"}}),
            ),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    let id = body["D"]["Results"][0]["Id"].as_str().unwrap().to_string();
    let (_, body) = spark
        .call_as(Method::GET, &format!("/contacts/{id}"), token, None)
        .await;
    assert_eq!(body["D"]["Results"][0]["OwnerId"], users[0]["user_id"]);
    assert_eq!(spark.get(&format!("/contacts/{id}")).await.0, 404);
    spark.sandbox.reset().await;
    let (status, _) = spark
        .call_as(Method::GET, &format!("/contacts/{id}"), token, None)
        .await;
    assert_eq!(status, 404, "reset keeps a further agent's creation");
}
