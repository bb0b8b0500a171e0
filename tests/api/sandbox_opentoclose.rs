//! Tests of the Open To Close emulator over HTTP: authentication, every
//! endpoint of contacts, properties and property contacts, every error
//! envelope, read-after-write, reset and the stats route templates.

use contact_gateway::sandbox::people::{SourceName, World};
use reqwest::Method;
use serde_json::{json, Value};

use crate::helpers::{spawn_sandbox, TestSandbox};

/// A sandbox plus the Open To Close base URL and key.
struct OpenToClose {
    sandbox: TestSandbox,
    base: String,
    token: String,
}

/// What one request answered: status, `Allow` header and body (`Null` when empty).
struct Answer {
    status: u16,
    allow: Option<String>,
    body: Value,
    raw_body: String,
}

impl OpenToClose {
    async fn spawn() -> OpenToClose {
        let sandbox = spawn_sandbox().await;
        let base = sandbox.base("opentoclose");
        let token = sandbox.credential("opentoclose", "api_token");
        OpenToClose {
            sandbox,
            base,
            token,
        }
    }

    /// `path` (which may carry a query) with the key appended.
    fn url(&self, path: &str) -> String {
        let separator = if path.contains('?') { '&' } else { '?' };
        format!("{}{path}{separator}api_token={}", self.base, self.token)
    }

    async fn send_url(&self, method: Method, url: String, body: Option<Vec<u8>>) -> Answer {
        let mut request = self.sandbox.client.request(method, url);
        if let Some(body) = body {
            request = request
                .header("content-type", "application/json")
                .body(body);
        }
        let response = request.send().await.expect("request");
        let status = response.status().as_u16();
        let allow = response
            .headers()
            .get("allow")
            .map(|value| value.to_str().unwrap().to_string());
        if status != 204 {
            assert_eq!(
                response.headers()["content-type"],
                "application/json",
                "status {status}"
            );
        }
        let raw_body = response.text().await.expect("body");
        let body = if raw_body.is_empty() {
            Value::Null
        } else {
            serde_json::from_str(&raw_body).expect("JSON body")
        };
        Answer {
            status,
            allow,
            body,
            raw_body,
        }
    }

    async fn call(&self, method: Method, path: &str, body: Option<Value>) -> Answer {
        let body = body.map(|value| serde_json::to_vec(&value).unwrap());
        self.send_url(method, self.url(path), body).await
    }

    async fn get(&self, path: &str) -> Answer {
        self.call(Method::GET, path, None).await
    }

    async fn post(&self, path: &str, body: Value) -> Answer {
        self.call(Method::POST, path, Some(body)).await
    }

    async fn put(&self, path: &str, body: Value) -> Answer {
        self.call(Method::PUT, path, Some(body)).await
    }

    async fn delete(&self, path: &str) -> Answer {
        self.call(Method::DELETE, path, None).await
    }

    /// Every record of a list, paging with `limit`/`offset` until an empty
    /// page, the way the real client does.
    async fn all_pages(&self, path: &str) -> Vec<Value> {
        let mut records = Vec::new();
        let separator = if path.contains('?') { '&' } else { '?' };
        loop {
            let answer = self
                .get(&format!(
                    "{path}{separator}limit=100&offset={}",
                    records.len()
                ))
                .await;
            assert_eq!(answer.status, 200);
            let page = answer.body.as_array().unwrap().clone();
            if page.is_empty() {
                return records;
            }
            records.extend(page);
        }
    }
}

fn ids(records: &Value) -> Vec<u64> {
    records
        .as_array()
        .expect("array")
        .iter()
        .map(|record| record["id"].as_u64().unwrap())
        .collect()
}

fn not_found() -> Value {
    json!({"message": "Not found"})
}

fn bad_request_errors(key: &str, message: &str) -> Value {
    json!({"message": "Bad request", "errors": {key: [message]}})
}

fn bad_request_fields(field_errors: Value) -> Value {
    json!({"message": "Bad request", "field_errors": field_errors})
}

const CONTACT_KEYS: [&str; 14] = [
    "id",
    "first_name",
    "last_name",
    "email",
    "phone",
    "contact_type",
    "company",
    "title",
    "address",
    "city",
    "state",
    "zip_code",
    "created",
    "updated",
];

fn assert_timestamp(value: &Value) {
    let text = value.as_str().expect("timestamp string");
    assert!(
        chrono::DateTime::parse_from_rfc3339(text).is_ok()
            && text.ends_with('Z')
            && text.len() == 20,
        "{text}"
    );
}

#[tokio::test]
async fn every_route_requires_the_api_token() {
    let otc = OpenToClose::spawn().await;
    let bad_tokens = ["", "?api_token=", "?api_token=wrong", "?API_TOKEN=x"];
    let requests = [
        (Method::GET, "/contacts"),
        (Method::POST, "/contacts"),
        (Method::GET, "/contacts/1"),
        (Method::PUT, "/contacts/1"),
        (Method::DELETE, "/contacts/1"),
        (Method::GET, "/properties"),
        (Method::POST, "/properties/"),
        (Method::GET, "/properties/1"),
        (Method::GET, "/properties/1/contacts"),
        (Method::POST, "/properties/1/contacts"),
        (Method::DELETE, "/properties/1/contacts/2"),
        (Method::GET, "/no/such/path"),
        (Method::PATCH, "/contacts/1"),
    ];
    for (method, path) in requests {
        for suffix in bad_tokens {
            let url = format!("{}{path}{suffix}", otc.base);
            let answer = otc
                .send_url(method.clone(), url, Some(b"{}".to_vec()))
                .await;
            assert_eq!(answer.status, 401, "{method} {path}{suffix}");
            assert_eq!(answer.body, json!({"message": "Invalid credentials"}));
            assert!(!answer.raw_body.contains("wrong"));
        }
    }
    // The delete above never ran: the contact is still there.
    assert_eq!(otc.get("/contacts/1").await.status, 200);
}

#[tokio::test]
async fn seeded_contact_matches_the_population() {
    let otc = OpenToClose::spawn().await;
    let world = World::generate(1);
    let people = world.people_for(SourceName::OpenToClose);
    for (id, person) in [(1u64, people[0]), (600, people[599]), (321, people[320])] {
        let answer = otc.get(&format!("/contacts/{id}")).await;
        assert_eq!(answer.status, 200);
        let contact = answer.body.as_object().unwrap();
        let keys: Vec<&str> = contact.keys().map(String::as_str).collect();
        let mut expected_keys = CONTACT_KEYS.to_vec();
        expected_keys.sort_unstable();
        let mut sorted_keys = keys.clone();
        sorted_keys.sort_unstable();
        assert_eq!(sorted_keys, expected_keys);
        assert_eq!(contact["id"], id);
        assert_eq!(contact["first_name"], person.first_name.as_str());
        assert_eq!(contact["last_name"], person.last_name.as_str());
        assert_eq!(
            contact["email"],
            person.email_as_entered(SourceName::OpenToClose).as_str()
        );
        let phone_digits: String = contact["phone"]
            .as_str()
            .unwrap()
            .chars()
            .filter(char::is_ascii_digit)
            .collect();
        assert!(
            phone_digits.ends_with(&person.phone_digits),
            "{phone_digits}"
        );
        assert_eq!(contact["company"], person.company.as_str());
        assert_eq!(contact["title"], person.job_title.as_str());
        assert_eq!(contact["address"], person.street.as_str());
        assert_eq!(contact["city"], person.city.as_str());
        assert_eq!(contact["state"], person.state.as_str());
        assert_eq!(contact["zip_code"], person.postal_code.as_str());
        assert!(contact["contact_type"].is_string());
        assert_timestamp(&contact["created"]);
        assert_timestamp(&contact["updated"]);
        assert!(contact["updated"].as_str() >= contact["created"].as_str());
    }
}

#[tokio::test]
async fn bad_or_unknown_ids_answer_not_found() {
    let otc = OpenToClose::spawn().await;
    for id in [
        "0",
        "-1",
        "abc",
        "1.5",
        "99999999999999999999",
        "601",
        "%20",
    ] {
        for path in [
            format!("/contacts/{id}"),
            format!("/properties/{id}"),
            format!("/properties/{id}/contacts"),
            format!("/properties/1/contacts/{id}"),
            format!("/properties/{id}/contacts/1"),
        ] {
            let answer = otc.get(&path).await;
            assert_eq!(answer.status, 404, "{path}");
            assert_eq!(answer.body, not_found(), "{path}");
        }
        let answer = otc
            .put(&format!("/contacts/{id}"), json!({"first_name": "X"}))
            .await;
        assert_eq!((answer.status, answer.body), (404, not_found()));
        let answer = otc.delete(&format!("/properties/{id}")).await;
        assert_eq!((answer.status, answer.body), (404, not_found()));
    }
    assert_eq!(otc.get("/contacts/007").await.body["id"], 7);
    for path in [
        "/nothing",
        "/contacts/1/extra",
        "/contacts/",
        "/v2/contacts",
    ] {
        let answer = otc.get(path).await;
        assert_eq!((answer.status, answer.body), (404, not_found()), "{path}");
    }
}

#[tokio::test]
async fn methods_a_route_lacks_answer_405_with_allow() {
    let otc = OpenToClose::spawn().await;
    for (method, path, allow) in [
        (Method::PATCH, "/contacts", "GET, HEAD, POST"),
        (Method::DELETE, "/contacts", "GET, HEAD, POST"),
        (Method::POST, "/contacts/1", "GET, HEAD, PUT, DELETE"),
        (Method::PATCH, "/contacts/1", "GET, HEAD, PUT, DELETE"),
        (Method::PUT, "/properties", "GET, HEAD, POST"),
        (Method::DELETE, "/properties/", "GET, HEAD, POST"),
        (Method::POST, "/properties/1", "GET, HEAD, PUT, DELETE"),
        (Method::PUT, "/properties/1/contacts", "GET, HEAD, POST"),
        (
            Method::POST,
            "/properties/1/contacts/2",
            "GET, HEAD, PUT, DELETE",
        ),
    ] {
        let answer = otc.call(method.clone(), path, Some(json!({}))).await;
        assert_eq!(answer.status, 405, "{method} {path}");
        assert_eq!(answer.body, json!({"message": "Method not allowed"}));
        assert_eq!(answer.allow.as_deref(), Some(allow));
    }
}

#[tokio::test]
async fn contact_list_pages_with_limit_and_offset_until_empty() {
    let otc = OpenToClose::spawn().await;
    let first = otc.get("/contacts").await;
    assert_eq!(first.status, 200);
    assert_eq!(ids(&first.body), (1..=50).collect::<Vec<_>>());
    let page = otc.get("/contacts?limit=10&offset=595").await;
    assert_eq!(ids(&page.body), (596..=600).collect::<Vec<_>>());
    assert_eq!(otc.get("/contacts?offset=600").await.body, json!([]));
    assert_eq!(
        otc.get("/contacts?offset=99999999999999999999999")
            .await
            .body,
        json!([])
    );
    assert_eq!(ids(&otc.get("/contacts?limit=500").await.body).len(), 100);
    assert_eq!(
        ids(&otc.get("/contacts?limit=&offset=").await.body).len(),
        50
    );
    let all = otc.all_pages("/contacts").await;
    let all_ids: Vec<u64> = all.iter().map(|c| c["id"].as_u64().unwrap()).collect();
    assert_eq!(all_ids, (1..=600).collect::<Vec<_>>());

    for (query, key, message) in [
        (
            "limit=0",
            "limit",
            "Ensure this value is greater than or equal to 1.",
        ),
        ("limit=-5", "limit", "A valid positive integer is required."),
        (
            "limit=ten",
            "limit",
            "A valid positive integer is required.",
        ),
        (
            "offset=-1",
            "offset",
            "A valid non-negative integer is required.",
        ),
        (
            "offset=1.5",
            "offset",
            "A valid non-negative integer is required.",
        ),
    ] {
        for path in ["/contacts", "/properties", "/properties/1/contacts"] {
            let answer = otc.get(&format!("{path}?{query}")).await;
            assert_eq!(answer.status, 400, "{path}?{query}");
            assert_eq!(answer.body, bad_request_errors(key, message));
        }
    }
}

#[tokio::test]
async fn contact_list_filters_by_type_and_searches_names_emails_and_phones() {
    let otc = OpenToClose::spawn().await;
    let all = otc.all_pages("/contacts").await;

    let buyers = otc.all_pages("/contacts?contact_type=Buyer").await;
    let expected: Vec<&Value> = all
        .iter()
        .filter(|c| c["contact_type"] == "Buyer")
        .collect();
    assert!(!buyers.is_empty());
    assert_eq!(buyers.iter().collect::<Vec<_>>(), expected);
    assert_eq!(otc.all_pages("/contacts?contact_type=bUYER").await, buyers);
    assert_eq!(
        otc.get("/contacts?contact_type=Nobody").await.body,
        json!([])
    );

    let sample = &all[41];
    let last_name = sample["last_name"].as_str().unwrap();
    let found = otc
        .all_pages(&format!(
            "/contacts?search={}",
            urlencoding::encode(&last_name.to_uppercase())
        ))
        .await;
    assert!(found.contains(sample));
    let full_name = format!("{} {}", sample["first_name"].as_str().unwrap(), last_name);
    let found = otc
        .all_pages(&format!(
            "/contacts?search={}",
            urlencoding::encode(&full_name)
        ))
        .await;
    assert!(found.contains(sample));
    for contact in &found {
        let name = format!(
            "{} {}",
            contact["first_name"].as_str().unwrap(),
            contact["last_name"].as_str().unwrap()
        );
        assert!(name.to_lowercase().contains(&full_name.to_lowercase()));
    }

    let email = sample["email"].as_str().unwrap().trim().to_lowercase();
    let found = otc
        .get(&format!("/contacts?search={}", urlencoding::encode(&email)))
        .await;
    assert_eq!(ids(&found.body), [sample["id"].as_u64().unwrap()]);

    // A phone typed as "(303) 323-7857" is found by its bare digits.
    let parenthesized = all
        .iter()
        .find(|c| c["phone"].as_str().unwrap().starts_with('('))
        .expect("some phone in the (555) 123-4567 style");
    let digits: String = parenthesized["phone"]
        .as_str()
        .unwrap()
        .chars()
        .filter(char::is_ascii_digit)
        .collect();
    for term in [
        digits[..7].to_string(),
        format!("+1{digits}"),
        digits.clone(),
    ] {
        let found = otc
            .all_pages(&format!("/contacts?search={}", urlencoding::encode(&term)))
            .await;
        assert!(found.contains(parenthesized), "{term}");
    }
    let found = otc.all_pages("/contacts?search=zzzz-no-such-person").await;
    assert!(found.is_empty());
    let combined = otc
        .all_pages(&format!(
            "/contacts?search={}&contact_type=NoSuchType",
            urlencoding::encode(last_name)
        ))
        .await;
    assert!(combined.is_empty());
}

#[tokio::test]
async fn contact_list_sorts_by_documented_keys_and_rejects_others() {
    let otc = OpenToClose::spawn().await;
    let all = otc.all_pages("/contacts").await;
    let sort_key = |c: &Value, key: &str| c[key].as_str().unwrap().trim().to_lowercase();

    let mut expected = all.clone();
    expected.sort_by(|a, b| {
        sort_key(a, "last_name")
            .cmp(&sort_key(b, "last_name"))
            .then(a["id"].as_u64().cmp(&b["id"].as_u64()))
    });
    assert_eq!(otc.all_pages("/contacts?sort=last_name").await, expected);

    let mut expected = all.clone();
    expected.sort_by(|a, b| {
        sort_key(b, "last_name")
            .cmp(&sort_key(a, "last_name"))
            .then(a["id"].as_u64().cmp(&b["id"].as_u64()))
    });
    assert_eq!(otc.all_pages("/contacts?sort=-last_name").await, expected);

    let newest = otc.get("/contacts?sort=-created&limit=5").await.body;
    let newest_created: Vec<&str> = newest
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["created"].as_str().unwrap())
        .collect();
    let latest = all
        .iter()
        .map(|c| c["created"].as_str().unwrap())
        .max()
        .unwrap();
    assert_eq!(newest_created[0], latest);
    assert!(newest_created.windows(2).all(|pair| pair[0] >= pair[1]));

    let descending = otc.get("/contacts?sort=-id&limit=3").await.body;
    assert_eq!(ids(&descending), [600, 599, 598]);
    for sort in ["first_name", "email", "created", "updated", "id"] {
        assert_eq!(otc.get(&format!("/contacts?sort={sort}")).await.status, 200);
    }

    for bad in ["name", "last_name,first_name", "--id", "LAST_NAME", "phone"] {
        let answer = otc
            .get(&format!("/contacts?sort={}", urlencoding::encode(bad)))
            .await;
        assert_eq!(answer.status, 400, "{bad}");
        assert_eq!(
            answer.body,
            bad_request_errors(
                "sort",
                "Unknown sort field; use id, first_name, last_name, email, created or updated, \
                 optionally prefixed with '-'."
            )
        );
    }
}

#[tokio::test]
async fn create_contact_stores_only_the_four_supported_fields() {
    let otc = OpenToClose::spawn().await;
    let answer = otc
        .post(
            "/contacts",
            json!({
                "first_name": "Michael",
                "last_name": "Johnson",
                "email": "michael.johnson@email.com",
                "phone": "+1555987654",
                "contact_type": "Seller",
                "company": "Johnson Enterprises",
                "address": "456 Oak Avenue",
                "city": "Miami",
                "lead_source": "Website",
                "notes": ["any", "shape"]
            }),
        )
        .await;
    assert_eq!(answer.status, 201);
    let created = answer.body;
    assert_eq!(created["id"], 601);
    assert_eq!(created["first_name"], "Michael");
    assert_eq!(created["last_name"], "Johnson");
    assert_eq!(created["email"], "michael.johnson@email.com");
    assert_eq!(created["phone"], "+1555987654");
    for not_persisted in [
        "contact_type",
        "company",
        "title",
        "address",
        "city",
        "state",
        "zip_code",
    ] {
        assert_eq!(created[not_persisted], Value::Null, "{not_persisted}");
    }
    assert!(created.get("lead_source").is_none());
    assert_eq!(created.as_object().unwrap().len(), CONTACT_KEYS.len());
    assert_timestamp(&created["created"]);
    assert_eq!(created["created"], created["updated"]);

    // The write is visible to later reads, by id and in lists and searches.
    assert_eq!(otc.get("/contacts/601").await.body, created);
    let last_page = otc.get("/contacts?offset=600").await.body;
    assert_eq!(last_page, json!([created.clone()]));
    assert_eq!(
        otc.get("/contacts?search=johnson%20enterprises").await.body,
        json!([])
    );

    let email_only = otc
        .post("/contacts", json!({"email": "contact@example.com"}))
        .await;
    assert_eq!(email_only.status, 201);
    assert_eq!(email_only.body["id"], 602);
    assert_eq!(email_only.body["first_name"], Value::Null);
    let phone_only = otc.post("/contacts", json!({"phone": "+1555999888"})).await;
    assert_eq!(
        (phone_only.status, &phone_only.body["id"]),
        (201, &json!(603))
    );
}

#[tokio::test]
async fn create_contact_rejects_name_bad_types_and_bad_bodies() {
    let otc = OpenToClose::spawn().await;
    let answer = otc
        .post(
            "/contacts",
            json!({"name": "John Doe", "email": "john@x.com"}),
        )
        .await;
    assert_eq!(answer.status, 400);
    assert_eq!(
        answer.body,
        bad_request_fields(json!({
            "name": ["This field is not supported; use first_name and last_name."]
        }))
    );

    let answer = otc
        .post(
            "/contacts",
            json!({"first_name": 7, "last_name": ["x"], "email": 12345, "phone": true}),
        )
        .await;
    assert_eq!(answer.status, 400);
    assert_eq!(
        answer.body,
        bad_request_fields(json!({
            "first_name": ["Must be a string."],
            "last_name": ["Must be a string."],
            "email": ["Must be a string."],
            "phone": ["Must be a string."],
        }))
    );

    let answer = otc
        .post(
            "/contacts",
            json!({"email": "not-an-email", "first_name": "A"}),
        )
        .await;
    assert_eq!(
        (answer.status, answer.body),
        (
            400,
            bad_request_fields(json!({"email": ["Enter a valid email address."]}))
        )
    );

    let answer = otc
        .post("/contacts", json!({"first_name": "x".repeat(256)}))
        .await;
    assert_eq!(
        answer.body,
        bad_request_fields(json!({
            "first_name": ["Ensure this field has no more than 255 characters."]
        }))
    );

    let required = "At least one of first_name, last_name, email or phone is required.";
    for body in [
        json!({}),
        json!({"first_name": "  ", "email": null, "company": "ABC"}),
    ] {
        let answer = otc.post("/contacts", body.clone()).await;
        assert_eq!(answer.status, 400, "{body}");
        assert_eq!(
            answer.body,
            bad_request_fields(json!({
                "first_name": [required],
                "last_name": [required],
                "email": [required],
                "phone": [required],
            }))
        );
    }

    for (raw, message) in [
        (
            &b"{\"first_name\": "[..],
            "The request body is not valid JSON.",
        ),
        (&b""[..], "The request body is not valid JSON."),
        (
            &b"[{\"first_name\": \"A\"}]"[..],
            "The request body must be a JSON object.",
        ),
        (&b"\"text\""[..], "The request body must be a JSON object."),
    ] {
        let answer = otc
            .send_url(Method::POST, otc.url("/contacts"), Some(raw.to_vec()))
            .await;
        assert_eq!(answer.status, 400);
        assert_eq!(answer.body, bad_request_errors("body", message));
    }

    let huge = format!("{{\"notes\": \"{}\"}}", "x".repeat(3 * 1024 * 1024));
    let answer = otc
        .send_url(Method::POST, otc.url("/contacts"), Some(huge.into_bytes()))
        .await;
    assert_eq!(answer.status, 413);
    assert_eq!(answer.body, json!({"message": "Request entity too large"}));

    // Nothing above created a contact.
    assert_eq!(otc.get("/contacts?offset=600").await.body, json!([]));
}

#[tokio::test]
async fn update_contact_is_partial_and_never_touches_seeded_only_fields() {
    let otc = OpenToClose::spawn().await;
    let before = otc.get("/contacts/5").await.body;
    let answer = otc
        .put(
            "/contacts/5",
            json!({
                "email": "new.address@example.com",
                "phone": null,
                "contact_type": "Seller",
                "company": "Other Co",
                "address": "789 New Street",
                "city": "Miami",
                "status": "Active"
            }),
        )
        .await;
    assert_eq!(answer.status, 200);
    let after = answer.body;
    assert_eq!(after["email"], "new.address@example.com");
    assert_eq!(after["phone"], Value::Null);
    for unchanged in [
        "id",
        "first_name",
        "last_name",
        "contact_type",
        "company",
        "title",
        "address",
        "city",
        "state",
        "zip_code",
        "created",
    ] {
        assert_eq!(after[unchanged], before[unchanged], "{unchanged}");
    }
    assert!(after["updated"].as_str() > before["updated"].as_str());
    assert_eq!(otc.get("/contacts/5").await.body, after);

    let answer = otc.put("/contacts/5", json!({"name": "Jane Doe"})).await;
    assert_eq!(answer.status, 400);
    assert_eq!(
        answer.body,
        bad_request_fields(json!({
            "name": ["This field is not supported; use first_name and last_name."]
        }))
    );
    let answer = otc.put("/contacts/5", json!({"email": 5})).await;
    assert_eq!(
        answer.body,
        bad_request_fields(json!({"email": ["Must be a string."]}))
    );
    let answer = otc
        .send_url(Method::PUT, otc.url("/contacts/5"), Some(b"nope".to_vec()))
        .await;
    assert_eq!(
        answer.body,
        bad_request_errors("body", "The request body is not valid JSON.")
    );
    assert_eq!(otc.get("/contacts/5").await.body, after);

    let answer = otc.put("/contacts/9999", json!({"email": 5})).await;
    assert_eq!((answer.status, answer.body), (404, not_found()));
}

#[tokio::test]
async fn delete_contact_answers_204_and_removes_its_property_links() {
    let otc = OpenToClose::spawn().await;
    let links = otc.get("/properties/1/contacts").await.body;
    let contact_id = links[0]["contact_id"].as_u64().unwrap();
    let properties_with_contact = {
        let mut found = Vec::new();
        for property_id in 1..=200u64 {
            let links = otc
                .get(&format!("/properties/{property_id}/contacts"))
                .await
                .body;
            if links
                .as_array()
                .unwrap()
                .iter()
                .any(|link| link["contact_id"] == contact_id)
            {
                found.push(property_id);
            }
        }
        found
    };
    assert!(properties_with_contact.contains(&1));

    let answer = otc.delete(&format!("/contacts/{contact_id}")).await;
    assert_eq!(answer.status, 204);
    assert_eq!(answer.raw_body, "");
    let answer = otc.get(&format!("/contacts/{contact_id}")).await;
    assert_eq!((answer.status, answer.body), (404, not_found()));
    for property_id in properties_with_contact {
        let links = otc
            .get(&format!("/properties/{property_id}/contacts"))
            .await
            .body;
        assert!(links
            .as_array()
            .unwrap()
            .iter()
            .all(|link| link["contact_id"] != contact_id));
        let answer = otc
            .get(&format!("/properties/{property_id}/contacts/{contact_id}"))
            .await;
        assert_eq!(answer.status, 404);
    }
    let answer = otc.delete(&format!("/contacts/{contact_id}")).await;
    assert_eq!((answer.status, answer.body), (404, not_found()));
}

#[tokio::test]
async fn properties_list_filter_and_fields() {
    let otc = OpenToClose::spawn().await;
    let first = otc.get("/properties").await;
    assert_eq!(first.status, 200);
    assert_eq!(ids(&first.body), (1..=50).collect::<Vec<_>>());
    let all = otc.all_pages("/properties").await;
    assert_eq!(all.len(), 200);
    let statuses = ["Active", "Pending", "Under Contract", "Closed", "Withdrawn"];
    for property in &all {
        let object = property.as_object().unwrap();
        let mut keys: Vec<&str> = object.keys().map(String::as_str).collect();
        keys.sort_unstable();
        assert_eq!(
            keys,
            ["address", "city", "created", "id", "price", "state", "status", "title", "zip_code"]
        );
        assert!(statuses.contains(&property["status"].as_str().unwrap()));
        assert!(property["price"].as_f64().unwrap() > 0.0);
        assert_eq!(property["zip_code"].as_str().unwrap().len(), 5);
        assert_eq!(property["state"].as_str().unwrap().len(), 2);
        assert!(property["title"].as_str().unwrap().contains(" on "));
        assert_timestamp(&property["created"]);
    }
    let under_contract = otc.all_pages("/properties?status=under+contract").await;
    let expected: Vec<Value> = all
        .iter()
        .filter(|p| p["status"] == "Under Contract")
        .cloned()
        .collect();
    assert!(!expected.is_empty());
    assert_eq!(under_contract, expected);
    assert_eq!(otc.get("/properties?status=Sold").await.body, json!([]));
    assert_eq!(otc.get("/properties/").await.body, first.body);
    assert_eq!(otc.get("/properties/17").await.body, all[16]);
}

#[tokio::test]
async fn properties_create_update_delete_and_validation() {
    let otc = OpenToClose::spawn().await;
    let answer = otc
        .post(
            "/properties/",
            json!({
                "title": "Lakeside Bungalow",
                "address": "12 Lake Rd",
                "city": "Austin",
                "state": "TX",
                "zip_code": "78701",
                "price": 425000.5,
                "unknown": true
            }),
        )
        .await;
    assert_eq!(answer.status, 201);
    let created = answer.body;
    assert_eq!(created["id"], 201);
    assert_eq!(created["title"], "Lakeside Bungalow");
    assert_eq!(created["status"], "Active");
    assert_eq!(created["price"], 425000.5);
    assert!(created.get("unknown").is_none());
    assert_eq!(otc.get("/properties/201").await.body, created);
    assert_eq!(otc.get("/properties/201/contacts").await.body, json!([]));

    let without_slash = otc
        .post(
            "/properties",
            json!({"title": "Second", "status": "Pending"}),
        )
        .await;
    assert_eq!(without_slash.status, 201);
    assert_eq!(without_slash.body["id"], 202);
    assert_eq!(without_slash.body["address"], Value::Null);
    assert_eq!(without_slash.body["price"], Value::Null);

    let answer = otc
        .post(
            "/properties/",
            json!({"status": "Sold", "price": -1, "city": 5}),
        )
        .await;
    assert_eq!(answer.status, 400);
    assert_eq!(
        answer.body,
        bad_request_fields(json!({
            "title": ["This field is required."],
            "status": ["Must be one of: Active, Pending, Under Contract, Closed, Withdrawn."],
            "price": ["Must be a non-negative number."],
            "city": ["Must be a string."],
        }))
    );
    let answer = otc.post("/properties/", json!({"title": " "})).await;
    assert_eq!(
        answer.body,
        bad_request_fields(json!({"title": ["This field may not be blank."]}))
    );
    let answer = otc
        .send_url(Method::POST, otc.url("/properties/"), Some(b"[]".to_vec()))
        .await;
    assert_eq!(
        (answer.status, answer.body),
        (
            400,
            bad_request_errors("body", "The request body must be a JSON object.")
        )
    );

    let answer = otc
        .put(
            "/properties/201",
            json!({"status": "Closed", "price": null}),
        )
        .await;
    assert_eq!(answer.status, 200);
    assert_eq!(answer.body["status"], "Closed");
    assert_eq!(answer.body["price"], Value::Null);
    assert_eq!(answer.body["title"], "Lakeside Bungalow");
    assert_eq!(otc.get("/properties/201").await.body, answer.body);
    let answer = otc.put("/properties/201", json!({"status": null})).await;
    assert_eq!(answer.status, 400);
    let answer = otc.put("/properties/999", json!({})).await;
    assert_eq!((answer.status, answer.body), (404, not_found()));

    // Deleting a property removes it and its links, never the contacts.
    let links = otc.get("/properties/3/contacts").await.body;
    let linked_contact = links[0]["contact_id"].as_u64().unwrap();
    let answer = otc.delete("/properties/3").await;
    assert_eq!((answer.status, answer.raw_body.as_str()), (204, ""));
    assert_eq!(otc.get("/properties/3").await.status, 404);
    assert_eq!(otc.get("/properties/3/contacts").await.status, 404);
    assert_eq!(
        otc.get(&format!("/contacts/{linked_contact}")).await.status,
        200
    );
    assert_eq!(otc.delete("/properties/3").await.status, 404);
}

#[tokio::test]
async fn property_contacts_are_seeded_with_roles_and_nest_both_records() {
    let otc = OpenToClose::spawn().await;
    let roles = [
        "Buyer",
        "Seller",
        "Listing Agent",
        "Buyer Agent",
        "Lender",
        "Inspector",
        "Title Officer",
    ];
    let mut properties_per_contact = std::collections::HashMap::<u64, usize>::new();
    for property_id in 1..=200u64 {
        let answer = otc
            .get(&format!("/properties/{property_id}/contacts"))
            .await;
        assert_eq!(answer.status, 200);
        let links = answer.body.as_array().unwrap().clone();
        assert!((1..=8).contains(&links.len()), "property {property_id}");
        let property = otc.get(&format!("/properties/{property_id}")).await.body;
        let mut primary_roles = std::collections::HashSet::new();
        for link in &links {
            let contact_id = link["contact_id"].as_u64().unwrap();
            *properties_per_contact.entry(contact_id).or_default() += 1;
            assert_eq!(link["property_id"], property_id);
            assert!(roles.contains(&link["role"].as_str().unwrap()));
            assert_eq!(link["property"], property);
            assert_eq!(link["contact"]["id"], contact_id);
            if link["primary"] == true {
                assert!(primary_roles.insert(link["role"].clone()));
            }
            if let Some(date) = link["start_date"].as_str() {
                assert!(chrono::NaiveDate::parse_from_str(date, "%Y-%m-%d").is_ok());
            }
            assert!(link["notes"].is_null() || link["notes"].is_string());
        }
    }
    assert!(properties_per_contact.values().any(|count| *count > 1));

    let links = otc.get("/properties/1/contacts").await.body;
    let first = &links[0];
    let contact_id = first["contact_id"].as_u64().unwrap();
    let single = otc
        .get(&format!("/properties/1/contacts/{contact_id}"))
        .await;
    assert_eq!(single.status, 200);
    assert_eq!(&single.body, first);
    let mut keys: Vec<&str> = first
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    keys.sort_unstable();
    assert_eq!(
        keys,
        [
            "contact",
            "contact_id",
            "id",
            "notes",
            "primary",
            "property",
            "property_id",
            "role",
            "start_date"
        ]
    );
    assert_eq!(
        first["contact"],
        otc.get(&format!("/contacts/{contact_id}")).await.body
    );

    let role = first["role"].as_str().unwrap();
    let filtered = otc
        .get(&format!(
            "/properties/1/contacts?role={}",
            urlencoding::encode(&role.to_lowercase())
        ))
        .await
        .body;
    assert!(!filtered.as_array().unwrap().is_empty());
    assert!(filtered
        .as_array()
        .unwrap()
        .iter()
        .all(|link| link["role"] == role));
    assert_eq!(
        otc.get("/properties/1/contacts?role=Nobody").await.body,
        json!([])
    );
    let limited = otc
        .get("/properties/1/contacts?limit=1&offset=0")
        .await
        .body;
    assert_eq!(limited, json!([first.clone()]));
}

/// A contact that is not yet linked to `property_id`.
async fn unlinked_contact(otc: &OpenToClose, property_id: u64) -> u64 {
    let links = otc
        .get(&format!("/properties/{property_id}/contacts"))
        .await
        .body;
    (1..=600u64)
        .find(|id| {
            links
                .as_array()
                .unwrap()
                .iter()
                .all(|link| link["contact_id"] != *id)
        })
        .unwrap()
}

#[tokio::test]
async fn property_contact_create_update_delete_and_validation() {
    let otc = OpenToClose::spawn().await;
    let contact_id = unlinked_contact(&otc, 2).await;
    let answer = otc
        .post(
            "/properties/2/contacts",
            json!({
                "contact_id": contact_id,
                "role": "Inspector",
                "primary": true,
                "start_date": "2024-01-15",
                "notes": "Decision maker"
            }),
        )
        .await;
    assert_eq!(answer.status, 201);
    let link = answer.body;
    assert_eq!(link["property_id"], 2);
    assert_eq!(link["contact_id"], contact_id);
    assert_eq!(link["role"], "Inspector");
    assert_eq!(link["primary"], true);
    assert_eq!(link["start_date"], "2024-01-15");
    assert_eq!(link["notes"], "Decision maker");
    assert_eq!(
        link["contact"],
        otc.get(&format!("/contacts/{contact_id}")).await.body
    );
    assert_eq!(link["property"], otc.get("/properties/2").await.body);
    let path = format!("/properties/2/contacts/{contact_id}");
    assert_eq!(otc.get(&path).await.body, link);
    // The new primary inspector is the only primary inspector on the property.
    let inspectors = otc.get("/properties/2/contacts?role=Inspector").await.body;
    let primaries: Vec<&Value> = inspectors
        .as_array()
        .unwrap()
        .iter()
        .filter(|l| l["primary"] == true)
        .collect();
    assert_eq!(primaries.len(), 1);
    assert_eq!(primaries[0]["contact_id"], contact_id);

    let answer = otc
        .post("/properties/2/contacts", json!({"contact_id": contact_id}))
        .await;
    assert_eq!(answer.status, 400);
    assert_eq!(
        answer.body,
        bad_request_fields(json!({
            "contact_id": [format!("Contact {contact_id} is already linked to this property.")]
        }))
    );
    let answer = otc
        .post("/properties/2/contacts", json!({"role": "Buyer"}))
        .await;
    assert_eq!(
        (answer.status, answer.body),
        (
            400,
            bad_request_fields(json!({"contact_id": ["This field is required."]}))
        )
    );
    let answer = otc
        .post("/properties/2/contacts", json!({"contact_id": 9999}))
        .await;
    assert_eq!(
        answer.body,
        bad_request_fields(json!({"contact_id": ["Contact 9999 does not exist."]}))
    );
    let answer = otc
        .post(
            "/properties/2/contacts",
            json!({"contact_id": "12", "primary": "yes", "start_date": "15/01/2024", "role": 3, "notes": false}),
        )
        .await;
    assert_eq!(
        answer.body,
        bad_request_fields(json!({
            "contact_id": ["Must be a positive integer."],
            "primary": ["Must be a boolean."],
            "start_date": ["Must be a valid date in YYYY-MM-DD format."],
            "role": ["Must be a string."],
            "notes": ["Must be a string."],
        }))
    );
    for bad_id in [json!(0), json!(-4), json!(1.5), json!(1e30)] {
        let answer = otc
            .post("/properties/2/contacts", json!({"contact_id": bad_id}))
            .await;
        assert_eq!(
            answer.body,
            bad_request_fields(json!({"contact_id": ["Must be a positive integer."]})),
            "{bad_id}"
        );
    }
    let answer = otc
        .post("/properties/999/contacts", json!({"contact_id": 1}))
        .await;
    assert_eq!((answer.status, answer.body), (404, not_found()));
    let answer = otc
        .send_url(
            Method::POST,
            otc.url("/properties/2/contacts"),
            Some(b"{".to_vec()),
        )
        .await;
    assert_eq!(
        answer.body,
        bad_request_errors("body", "The request body is not valid JSON.")
    );

    let answer = otc
        .put(
            &path,
            json!({"role": "Seller", "primary": false, "notes": null, "contact_id": 1}),
        )
        .await;
    assert_eq!(answer.status, 200);
    assert_eq!(answer.body["role"], "Seller");
    assert_eq!(answer.body["primary"], false);
    assert_eq!(answer.body["notes"], Value::Null);
    assert_eq!(answer.body["start_date"], "2024-01-15");
    assert_eq!(answer.body["contact_id"], contact_id);
    assert_eq!(otc.get(&path).await.body, answer.body);
    let answer = otc.put(&path, json!({"start_date": "2024-02-30"})).await;
    assert_eq!(
        answer.body,
        bad_request_fields(json!({
            "start_date": ["Must be a valid date in YYYY-MM-DD format."]
        }))
    );
    let answer = otc
        .put("/properties/2/contacts/9999", json!({"role": "Buyer"}))
        .await;
    assert_eq!((answer.status, answer.body), (404, not_found()));

    let answer = otc.delete(&path).await;
    assert_eq!((answer.status, answer.raw_body.as_str()), (204, ""));
    assert_eq!(otc.get(&path).await.status, 404);
    assert_eq!(
        otc.get(&format!("/contacts/{contact_id}")).await.status,
        200
    );
    let answer = otc.delete(&path).await;
    assert_eq!((answer.status, answer.body), (404, not_found()));
}

#[tokio::test]
async fn reset_restores_the_seeded_state() {
    let otc = OpenToClose::spawn().await;
    let contact_before = otc.get("/contacts/10").await.body;
    let links_before = otc.get("/properties/4/contacts").await.body;
    let property_before = otc.get("/properties/4").await.body;

    assert_eq!(
        otc.post("/contacts", json!({"first_name": "New"}))
            .await
            .status,
        201
    );
    assert_eq!(
        otc.put("/contacts/10", json!({"first_name": "Changed"}))
            .await
            .status,
        200
    );
    assert_eq!(otc.delete("/contacts/11").await.status, 204);
    assert_eq!(
        otc.put("/properties/4", json!({"status": "Withdrawn"}))
            .await
            .status,
        200
    );
    let linked = links_before[0]["contact_id"].as_u64().unwrap();
    assert_eq!(
        otc.delete(&format!("/properties/4/contacts/{linked}"))
            .await
            .status,
        204
    );

    otc.sandbox.reset().await;
    assert_eq!(otc.get("/contacts/10").await.body, contact_before);
    assert_eq!(otc.get("/contacts/11").await.status, 200);
    assert_eq!(otc.get("/contacts/601").await.status, 404);
    assert_eq!(otc.get("/properties/4").await.body, property_before);
    assert_eq!(otc.get("/properties/4/contacts").await.body, links_before);
    // Ids start over too, so a replayed script gets the same ids.
    assert_eq!(
        otc.post("/contacts", json!({"first_name": "Again"}))
            .await
            .body["id"],
        601
    );
}

#[tokio::test]
async fn stats_count_requests_by_route_template() {
    let otc = OpenToClose::spawn().await;
    otc.get("/contacts").await;
    otc.get("/contacts?limit=5").await;
    otc.post("/contacts", json!({"first_name": "A"})).await;
    otc.get("/contacts/3").await;
    otc.get("/contacts/abc").await;
    otc.put("/contacts/3", json!({})).await;
    otc.delete("/contacts/601").await;
    otc.get("/properties").await;
    otc.post("/properties/", json!({"title": "T"})).await;
    otc.post("/properties", json!({"title": "U"})).await;
    otc.get("/properties/2").await;
    otc.put("/properties/2", json!({})).await;
    otc.get("/properties/2/contacts").await;
    otc.post("/properties/2/contacts", json!({})).await;
    let links = otc.get("/properties/2/contacts").await.body;
    let contact_id = links[0]["contact_id"].as_u64().unwrap();
    otc.get(&format!("/properties/2/contacts/{contact_id}"))
        .await;
    otc.put(&format!("/properties/2/contacts/{contact_id}"), json!({}))
        .await;
    otc.delete(&format!("/properties/2/contacts/{contact_id}"))
        .await;
    otc.delete("/properties/201").await;
    otc.get("/unknown").await;

    let sandbox = &otc.sandbox;
    let count = |method: &'static str, route: &'static str| async move {
        sandbox.route_count("opentoclose", method, route).await
    };
    assert_eq!(count("GET", "/v1/contacts").await, 2);
    assert_eq!(count("POST", "/v1/contacts").await, 1);
    assert_eq!(count("GET", "/v1/contacts/{id}").await, 2);
    assert_eq!(count("PUT", "/v1/contacts/{id}").await, 1);
    assert_eq!(count("DELETE", "/v1/contacts/{id}").await, 1);
    assert_eq!(count("GET", "/v1/properties").await, 1);
    assert_eq!(count("POST", "/v1/properties/").await, 1);
    assert_eq!(count("POST", "/v1/properties").await, 1);
    assert_eq!(count("GET", "/v1/properties/{id}").await, 1);
    assert_eq!(count("PUT", "/v1/properties/{id}").await, 1);
    assert_eq!(count("DELETE", "/v1/properties/{id}").await, 1);
    assert_eq!(count("GET", "/v1/properties/{id}/contacts").await, 2);
    assert_eq!(count("POST", "/v1/properties/{id}/contacts").await, 1);
    let link_route = "/v1/properties/{id}/contacts/{contact_id}";
    assert_eq!(count("GET", link_route).await, 1);
    assert_eq!(count("PUT", link_route).await, 1);
    assert_eq!(count("DELETE", link_route).await, 1);
    assert_eq!(count("GET", "unmatched").await, 1);
    assert_eq!(sandbox.stats().await["by_source"]["opentoclose"], 20);
}
