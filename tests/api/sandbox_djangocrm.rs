//! Tests of the djangocrm emulator over HTTP: listing, filters and paging,
//! create/detail/update/delete, comments and attachments, authentication and
//! organization scoping, the framework's error shapes, reset and stats.

use contact_gateway::sandbox::djangocrm::SECOND_ORGANIZATION_ID;
use reqwest::{Method, RequestBuilder, Response, StatusCode};
use serde_json::{json, Value};

use crate::helpers::{spawn_sandbox, TestSandbox};

const UNKNOWN_ID: &str = "00000000-0000-4000-8000-000000000000";

/// Who a request is sent as.
#[derive(Clone, Copy)]
enum As {
    Demo,
    SecondUser,
    OtherOrganization,
}

fn token(sandbox: &TestSandbox, who: As) -> String {
    let demo = sandbox.credential("djangocrm", "token");
    match who {
        As::Demo => demo,
        As::SecondUser => format!("{demo}-second-user"),
        As::OtherOrganization => format!("{demo}-other-org"),
    }
}

fn organization(sandbox: &TestSandbox, who: As) -> String {
    match who {
        As::Demo | As::SecondUser => sandbox.credential("djangocrm", "organization_id"),
        As::OtherOrganization => SECOND_ORGANIZATION_ID.to_string(),
    }
}

/// A request with both authentication headers; `path` is relative to `/api`.
fn request(sandbox: &TestSandbox, who: As, method: Method, path: &str) -> RequestBuilder {
    sandbox
        .client
        .request(method, format!("{}{path}", sandbox.base("djangocrm")))
        .header("Authorization", format!("Bearer {}", token(sandbox, who)))
        .header("organization-id", organization(sandbox, who))
}

/// A request without any authentication headers.
fn anonymous(sandbox: &TestSandbox, method: Method, path: &str) -> RequestBuilder {
    sandbox
        .client
        .request(method, format!("{}{path}", sandbox.base("djangocrm")))
}

async fn json_of(response: Response) -> (StatusCode, Value) {
    let status = response.status();
    let text = response.text().await.unwrap();
    let body = if text.is_empty() {
        Value::Null
    } else {
        serde_json::from_str(&text).unwrap_or_else(|_| panic!("not JSON: {text}"))
    };
    (status, body)
}

async fn send(builder: RequestBuilder) -> (StatusCode, Value) {
    json_of(builder.send().await.unwrap()).await
}

/// Every contact the caller can see, in list order.
async fn all_contacts(sandbox: &TestSandbox, who: As, filters: &str) -> Vec<Value> {
    let mut contacts = Vec::new();
    loop {
        let (status, page) = send(request(
            sandbox,
            who,
            Method::GET,
            &format!("/contacts/?limit=100&offset={}{filters}", contacts.len()),
        ))
        .await;
        assert_eq!(status, StatusCode::OK, "{page}");
        let results = page["results"].as_array().unwrap().clone();
        let done = page["next"].is_null();
        contacts.extend(results);
        if done {
            assert_eq!(page["count"].as_u64().unwrap() as usize, contacts.len());
            return contacts;
        }
    }
}

/// The demo organization's newest contact.
async fn newest_contact(sandbox: &TestSandbox) -> Value {
    let (status, page) = send(request(
        sandbox,
        As::Demo,
        Method::GET,
        "/contacts/?limit=1",
    ))
    .await;
    assert_eq!(status, StatusCode::OK);
    page["results"][0].clone()
}

async fn create(sandbox: &TestSandbox, who: As, body: Value) -> Value {
    let (status, created) =
        send(request(sandbox, who, Method::POST, "/contacts/").json(&body)).await;
    assert_eq!(status, StatusCode::OK, "{created}");
    created
}

fn multipart_body(
    boundary: &str,
    fields: &[(&str, &str)],
    file: Option<(&str, &str, &[u8])>,
) -> Vec<u8> {
    let mut body = Vec::new();
    for (name, value) in fields {
        body.extend_from_slice(
            format!(
                "--{boundary}\r\nContent-Disposition: form-data; name=\"{name}\"\r\n\r\n{value}\r\n"
            )
            .as_bytes(),
        );
    }
    if let Some((field, file_name, content)) = file {
        body.extend_from_slice(
            format!(
                "--{boundary}\r\nContent-Disposition: form-data; name=\"{field}\"; filename=\"{file_name}\"\r\nContent-Type: application/octet-stream\r\n\r\n"
            )
            .as_bytes(),
        );
        body.extend_from_slice(content);
        body.extend_from_slice(b"\r\n");
    }
    body.extend_from_slice(format!("--{boundary}--\r\n").as_bytes());
    body
}

const CONTACT_KEYS: &[&str] = &[
    "id",
    "first_name",
    "last_name",
    "primary_email",
    "secondary_email",
    "mobile_number",
    "organization",
    "department",
    "designation",
    "address_line",
    "street",
    "city",
    "state",
    "postcode",
    "country",
    "org",
    "created_on",
    "created_by",
    "assigned_to",
    "teams",
];

fn assert_contact_shape(contact: &Value) {
    let object = contact.as_object().unwrap();
    let mut keys: Vec<&str> = object.keys().map(String::as_str).collect();
    keys.sort_unstable();
    let mut expected = CONTACT_KEYS.to_vec();
    expected.sort_unstable();
    assert_eq!(keys, expected);
    assert!(object["assigned_to"].is_array());
    assert!(object["teams"].is_array());
    assert!(object["created_on"].as_str().unwrap().ends_with('Z'));
}

#[tokio::test]
async fn list_defaults_to_ten_newest_first_with_seed_links() {
    let sandbox = spawn_sandbox().await;
    let (status, page) = send(request(&sandbox, As::Demo, Method::GET, "/contacts/")).await;
    assert_eq!(status, StatusCode::OK);
    let object = page.as_object().unwrap();
    let mut keys: Vec<&String> = object.keys().collect();
    keys.sort();
    assert_eq!(keys, ["count", "next", "previous", "results"]);
    assert_eq!(page["count"], 600);
    assert_eq!(page["next"], "/djangocrm/api/contacts/?limit=10&offset=10");
    assert_eq!(page["previous"], Value::Null);
    let results = page["results"].as_array().unwrap();
    assert_eq!(results.len(), 10);
    for contact in results {
        assert_contact_shape(contact);
        assert_eq!(contact["org"], organization(&sandbox, As::Demo));
        assert_eq!(contact["country"], "USA");
        assert!(contact["mobile_number"].as_str().unwrap().starts_with("+1"));
    }
    let dates: Vec<&str> = results
        .iter()
        .map(|c| c["created_on"].as_str().unwrap())
        .collect();
    let mut sorted = dates.clone();
    sorted.sort_unstable_by(|a, b| b.cmp(a));
    assert_eq!(dates, sorted);

    let everything = all_contacts(&sandbox, As::Demo, "").await;
    assert_eq!(everything.len(), 600);
    assert_eq!(everything[0], results[0]);
}

#[tokio::test]
async fn paging_links_keep_other_parameters_sorted_and_clamp_the_limit() {
    let sandbox = spawn_sandbox().await;
    let (status, page) = send(request(
        &sandbox,
        As::Demo,
        Method::GET,
        "/contacts/?limit=5&offset=5&city=new%20york",
    ))
    .await;
    assert_eq!(status, StatusCode::OK);
    let count = page["count"].as_u64().unwrap();
    assert!(count > 10, "only {count} in New York");
    assert_eq!(
        page["next"],
        "/djangocrm/api/contacts/?city=new+york&limit=5&offset=10"
    );
    assert_eq!(
        page["previous"],
        "/djangocrm/api/contacts/?city=new+york&limit=5"
    );

    let (_, page) = send(request(
        &sandbox,
        As::Demo,
        Method::GET,
        "/contacts/?limit=5&offset=12",
    ))
    .await;
    assert_eq!(
        page["previous"],
        "/djangocrm/api/contacts/?limit=5&offset=7"
    );

    let (_, last) = send(request(
        &sandbox,
        As::Demo,
        Method::GET,
        "/contacts/?limit=7&offset=595",
    ))
    .await;
    assert_eq!(last["next"], Value::Null);
    assert_eq!(last["results"].as_array().unwrap().len(), 5);

    let (_, beyond) = send(request(
        &sandbox,
        As::Demo,
        Method::GET,
        "/contacts/?offset=10000",
    ))
    .await;
    assert_eq!(beyond["count"], 600);
    assert_eq!(beyond["results"], json!([]));

    let (_, clamped) = send(request(
        &sandbox,
        As::Demo,
        Method::GET,
        "/contacts/?limit=5000",
    ))
    .await;
    assert_eq!(clamped["results"].as_array().unwrap().len(), 100);
    assert_eq!(
        clamped["next"],
        "/djangocrm/api/contacts/?limit=100&offset=100"
    );
}

#[tokio::test]
async fn bad_paging_and_assigned_to_values_are_validation_errors() {
    let sandbox = spawn_sandbox().await;
    for (query, expected) in [
        (
            "limit=abc",
            json!({"limit": ["A valid integer is required."]}),
        ),
        (
            "limit=0",
            json!({"limit": ["Ensure this value is greater than or equal to 1."]}),
        ),
        (
            "offset=-3",
            json!({"offset": ["Ensure this value is greater than or equal to 0."]}),
        ),
        (
            "offset=1.5",
            json!({"offset": ["A valid integer is required."]}),
        ),
        (
            "assigned_to=bob",
            json!({"assigned_to": ["“bob” is not a valid UUID."]}),
        ),
    ] {
        let (status, body) = send(request(
            &sandbox,
            As::Demo,
            Method::GET,
            &format!("/contacts/?{query}"),
        ))
        .await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{query}");
        assert_eq!(body, json!({"error": true, "errors": expected}), "{query}");
    }
}

#[tokio::test]
async fn filters_match_case_insensitive_parts() {
    let sandbox = spawn_sandbox().await;
    let everything = all_contacts(&sandbox, As::Demo, "").await;
    let text = |contact: &Value, field: &str| contact[field].as_str().unwrap().to_lowercase();
    let sample = &everything[17];

    let name_part: String = text(sample, "last_name").chars().take(3).collect();
    let by_name = all_contacts(
        &sandbox,
        As::Demo,
        &format!("&name={}", name_part.to_uppercase()),
    )
    .await;
    let expected: Vec<&Value> = everything
        .iter()
        .filter(|c| {
            text(c, "first_name").contains(&name_part) || text(c, "last_name").contains(&name_part)
        })
        .collect();
    assert!(!by_name.is_empty());
    assert_eq!(by_name.iter().collect::<Vec<_>>(), expected);

    let city = text(sample, "city");
    let by_city = all_contacts(
        &sandbox,
        As::Demo,
        &format!("&city={}", urlencoding::encode(&city.to_uppercase())),
    )
    .await;
    assert_eq!(
        by_city.len(),
        everything
            .iter()
            .filter(|c| text(c, "city").contains(&city))
            .count()
    );
    assert!(by_city.iter().any(|c| c["id"] == sample["id"]));

    let phone = sample["mobile_number"].as_str().unwrap()[2..8].to_string();
    let by_phone = all_contacts(&sandbox, As::Demo, &format!("&phone={phone}")).await;
    assert!(by_phone
        .iter()
        .all(|c| c["mobile_number"].as_str().unwrap().contains(&phone)));
    assert!(by_phone.iter().any(|c| c["id"] == sample["id"]));

    let email = text(sample, "primary_email").trim().to_uppercase();
    let by_email = all_contacts(
        &sandbox,
        As::Demo,
        &format!("&email={}", urlencoding::encode(&email)),
    )
    .await;
    assert!(by_email.iter().any(|c| c["id"] == sample["id"]));
    assert!(by_email
        .iter()
        .all(|c| text(c, "primary_email").contains(&email.to_lowercase())));

    let assigned = everything
        .iter()
        .find_map(|c| c["assigned_to"].as_array().unwrap().first().cloned())
        .unwrap();
    let assigned = assigned.as_str().unwrap();
    let by_assignee = all_contacts(&sandbox, As::Demo, &format!("&assigned_to={assigned}")).await;
    let expected = everything
        .iter()
        .filter(|c| {
            c["assigned_to"]
                .as_array()
                .unwrap()
                .iter()
                .any(|u| u == assigned)
        })
        .count();
    assert_eq!(by_assignee.len(), expected);
    assert!(expected > 0);

    let combined = all_contacts(
        &sandbox,
        As::Demo,
        &format!("&name={name_part}&city={}", urlencoding::encode(&city)),
    )
    .await;
    assert!(combined.iter().all(|c| text(c, "city").contains(&city)
        && (text(c, "first_name").contains(&name_part)
            || text(c, "last_name").contains(&name_part))));

    let (_, none) = send(request(
        &sandbox,
        As::Demo,
        Method::GET,
        "/contacts/?name=zzzzqqq",
    ))
    .await;
    assert_eq!(
        none,
        json!({"count": 0, "next": null, "previous": null, "results": []})
    );
}

#[tokio::test]
async fn authentication_failures_are_403_with_the_framework_texts() {
    let sandbox = spawn_sandbox().await;
    let demo_token = token(&sandbox, As::Demo);
    let demo_org = organization(&sandbox, As::Demo);
    // (Authorization header, organization-id header, expected detail)
    let cases: [(Option<String>, Option<String>, &str); 8] = [
        (
            None,
            Some(demo_org.clone()),
            "Authentication credentials were not provided.",
        ),
        (
            Some(format!("Token {demo_token}")),
            Some(demo_org.clone()),
            "Authentication credentials were not provided.",
        ),
        (
            Some("Bearer".to_string()),
            Some(demo_org.clone()),
            "Invalid token header. No credentials provided.",
        ),
        (
            Some(format!("Bearer {demo_token} extra")),
            Some(demo_org.clone()),
            "Invalid token header. Token string should not contain spaces.",
        ),
        (
            Some("Bearer wrong-token".to_string()),
            Some(demo_org.clone()),
            "Invalid token.",
        ),
        (
            Some(format!("Bearer {demo_token}")),
            None,
            "You do not have permission to perform this action.",
        ),
        (
            Some(format!("Bearer {demo_token}")),
            Some(SECOND_ORGANIZATION_ID.to_string()),
            "You do not have permission to perform this action.",
        ),
        (
            Some(format!("Bearer {demo_token}")),
            Some("not-a-uuid".to_string()),
            "You do not have permission to perform this action.",
        ),
    ];
    for (authorization, org_header, detail) in cases {
        let mut builder = anonymous(&sandbox, Method::GET, "/contacts/");
        if let Some(authorization) = &authorization {
            builder = builder.header("Authorization", authorization);
        }
        if let Some(value) = &org_header {
            builder = builder.header("organization-id", value);
        }
        let (status, body) = send(builder).await;
        assert_eq!(
            status,
            StatusCode::FORBIDDEN,
            "{authorization:?} {org_header:?}"
        );
        assert_eq!(
            body,
            json!({ "detail": detail }),
            "{authorization:?} {org_header:?}"
        );
    }

    // The older `org` header is tolerated in place of `organization-id`.
    let (status, page) = send(
        anonymous(&sandbox, Method::GET, "/contacts/?limit=1")
            .header("Authorization", format!("Bearer {demo_token}"))
            .header("org", &demo_org),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(page["count"], 600);
}

#[tokio::test]
async fn organizations_see_only_their_own_contacts() {
    let sandbox = spawn_sandbox().await;
    let other = all_contacts(&sandbox, As::OtherOrganization, "").await;
    assert_eq!(other.len(), 40);
    assert!(other.iter().all(|c| c["org"] == SECOND_ORGANIZATION_ID));
    let demo = all_contacts(&sandbox, As::Demo, "").await;
    let other_id = other[0]["id"].as_str().unwrap();
    let demo_id = demo[0]["id"].as_str().unwrap();
    assert!(demo.iter().all(|c| c["id"] != other_id));

    let not_found = json!({"detail": "Not found."});
    for (who, id) in [(As::Demo, other_id), (As::OtherOrganization, demo_id)] {
        for method in [Method::GET, Method::PUT, Method::DELETE, Method::POST] {
            let builder = request(&sandbox, who, method.clone(), &format!("/contacts/{id}/"))
                .json(&json!({"comment": "hello", "first_name": "X"}));
            let (status, body) = send(builder).await;
            assert_eq!(status, StatusCode::NOT_FOUND, "{method}");
            assert_eq!(body, not_found);
        }
    }
    // The other organization's own contact is there for its own user.
    let (status, detail) = send(request(
        &sandbox,
        As::OtherOrganization,
        Method::GET,
        &format!("/contacts/{other_id}/"),
    ))
    .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(detail["contact_obj"]["id"], other_id);
}

#[tokio::test]
async fn detail_has_every_section_in_the_documented_shapes() {
    let sandbox = spawn_sandbox().await;
    let everything = all_contacts(&sandbox, As::Demo, "").await;
    let mut seen_comment = false;
    let mut seen_attachment = false;
    for contact in everything.iter().take(40) {
        let id = contact["id"].as_str().unwrap();
        let (status, detail) = send(request(
            &sandbox,
            As::Demo,
            Method::GET,
            &format!("/contacts/{id}/"),
        ))
        .await;
        assert_eq!(status, StatusCode::OK);
        let mut keys: Vec<&String> = detail.as_object().unwrap().keys().collect();
        keys.sort();
        assert_eq!(
            keys,
            [
                "address_obj",
                "assigned_to",
                "attachments",
                "comments",
                "contact_obj",
                "tasks",
                "teams",
                "users_mention"
            ]
        );
        assert_eq!(&detail["contact_obj"], contact);
        assert_eq!(
            detail["address_obj"],
            json!({
                "address_line": contact["address_line"],
                "street": contact["street"],
                "city": contact["city"],
                "state": contact["state"],
                "postcode": contact["postcode"],
                "country": contact["country"],
            })
        );
        let assigned: Vec<&Value> = detail["assigned_to"]
            .as_array()
            .unwrap()
            .iter()
            .map(|u| &u["id"])
            .collect();
        assert_eq!(
            assigned,
            contact["assigned_to"]
                .as_array()
                .unwrap()
                .iter()
                .collect::<Vec<_>>()
        );
        for user in detail["assigned_to"].as_array().unwrap() {
            assert_eq!(user.as_object().unwrap().len(), 4);
            assert!(user["email"].as_str().unwrap().contains('@'));
        }
        for team in detail["teams"].as_array().unwrap() {
            assert_eq!(team.as_object().unwrap().len(), 2);
            assert!(team["name"].is_string());
        }
        assert_eq!(detail["users_mention"].as_array().unwrap().len(), 6);
        let comments = detail["comments"].as_array().unwrap();
        assert!(comments.len() <= 5);
        for comment in comments {
            seen_comment = true;
            let mut keys: Vec<&String> = comment.as_object().unwrap().keys().collect();
            keys.sort();
            assert_eq!(
                keys,
                ["comment", "commented_by", "commented_on", "contact", "id"]
            );
            assert_eq!(comment["contact"], id);
        }
        let attachments = detail["attachments"].as_array().unwrap();
        assert!(attachments.len() <= 2);
        for attachment in attachments {
            seen_attachment = true;
            let mut keys: Vec<&String> = attachment.as_object().unwrap().keys().collect();
            keys.sort();
            assert_eq!(
                keys,
                [
                    "attachment",
                    "contact",
                    "created_by",
                    "created_on",
                    "file_name",
                    "id"
                ]
            );
            assert!(attachment["attachment"]
                .as_str()
                .unwrap()
                .ends_with(attachment["file_name"].as_str().unwrap()));
        }
        for task in detail["tasks"].as_array().unwrap() {
            assert_eq!(task.as_object().unwrap().len(), 6);
        }
    }
    assert!(seen_comment && seen_attachment);
}

#[tokio::test]
async fn unknown_and_malformed_ids_differ_like_django() {
    let sandbox = spawn_sandbox().await;
    let (status, body) = send(request(
        &sandbox,
        As::Demo,
        Method::GET,
        &format!("/contacts/{UNKNOWN_ID}/"),
    ))
    .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(body, json!({"detail": "Not found."}));

    let first = newest_contact(&sandbox).await;
    let upper = first["id"].as_str().unwrap().to_uppercase();
    for path in [
        "/contacts/42/".to_string(),
        format!("/contacts/{upper}/"),
        "/contacts/comment/not-a-uuid/".to_string(),
        "/contacts/attachment/17/".to_string(),
        "/contacts/nothing/here/".to_string(),
        "/leads/".to_string(),
    ] {
        let response = request(&sandbox, As::Demo, Method::GET, &path)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::NOT_FOUND, "{path}");
        assert_eq!(
            response.headers()["content-type"],
            "text/html; charset=utf-8",
            "{path}"
        );
        assert!(response
            .text()
            .await
            .unwrap()
            .contains("<h1>Not Found</h1>"));
    }
}

#[tokio::test]
async fn missing_trailing_slash_redirects_and_other_methods_are_405() {
    let sandbox = spawn_sandbox().await;
    let client = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let response = client
        .get(format!("{}/contacts?limit=3", sandbox.base("djangocrm")))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::MOVED_PERMANENTLY);
    assert_eq!(
        response.headers()["location"],
        "/djangocrm/api/contacts/?limit=3"
    );

    for (path, method, allow) in [
        (
            "/contacts/".to_string(),
            Method::PATCH,
            "GET, POST, HEAD, OPTIONS",
        ),
        (
            "/contacts/".to_string(),
            Method::DELETE,
            "GET, POST, HEAD, OPTIONS",
        ),
        (
            format!("/contacts/{UNKNOWN_ID}/"),
            Method::PATCH,
            "GET, POST, PUT, DELETE, HEAD, OPTIONS",
        ),
        (
            format!("/contacts/comment/{UNKNOWN_ID}/"),
            Method::GET,
            "PUT, DELETE, OPTIONS",
        ),
        (
            format!("/contacts/attachment/{UNKNOWN_ID}/"),
            Method::PUT,
            "DELETE, OPTIONS",
        ),
    ] {
        let response = request(&sandbox, As::Demo, method.clone(), &path)
            .send()
            .await
            .unwrap();
        assert_eq!(response.headers()["allow"], allow);
        let (status, body) = json_of(response).await;
        assert_eq!(status, StatusCode::METHOD_NOT_ALLOWED, "{method} {path}");
        assert_eq!(
            body,
            json!({ "detail": format!("Method \"{method}\" not allowed.") })
        );
        // Authentication is checked before the method.
        let (status, body) = send(anonymous(&sandbox, method.clone(), &path)).await;
        assert_eq!(status, StatusCode::FORBIDDEN);
        assert_eq!(
            body["detail"],
            "Authentication credentials were not provided."
        );
    }

    let (status, metadata) = send(request(&sandbox, As::Demo, Method::OPTIONS, "/contacts/")).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(metadata["name"], "Contacts List");
    assert_eq!(metadata["renders"], json!(["application/json"]));
}

#[tokio::test]
async fn create_answers_the_contact_and_is_visible_to_later_reads() {
    let sandbox = spawn_sandbox().await;
    let everything = all_contacts(&sandbox, As::Demo, "").await;
    let assignee = everything
        .iter()
        .find_map(|c| c["assigned_to"].as_array().unwrap().first().cloned())
        .unwrap();
    let body = json!({
        "first_name": "Jane",
        "last_name": "Smith",
        "primary_email": "jane.smith@client.com",
        "mobile_number": "+1987654321",
        "secondary_email": "j.smith@client.com",
        "organization": "Client Corp",
        "department": "Marketing",
        "designation": "Marketing Manager",
        "address_line": "456 Business Ave",
        "street": "Suite 200",
        "city": "Boston",
        "state": "MA",
        "postcode": "02101",
        "country": "USA",
        "assigned_to": [assignee, UNKNOWN_ID],
        "teams": [UNKNOWN_ID],
        "unknown_field": "ignored"
    });
    let created = create(&sandbox, As::Demo, body.clone()).await;
    assert_contact_shape(&created);
    for field in [
        "first_name",
        "last_name",
        "primary_email",
        "mobile_number",
        "secondary_email",
        "organization",
        "department",
        "designation",
        "address_line",
        "street",
        "city",
        "state",
        "postcode",
        "country",
    ] {
        assert_eq!(created[field], body[field], "{field}");
    }
    assert_eq!(created["assigned_to"], json!([assignee]));
    assert_eq!(created["teams"], json!([]));
    assert_eq!(created["org"], organization(&sandbox, As::Demo));
    let id = created["id"].as_str().unwrap();
    assert_eq!(id.len(), 36);

    let (status, detail) = send(request(
        &sandbox,
        As::Demo,
        Method::GET,
        &format!("/contacts/{id}/"),
    ))
    .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(detail["contact_obj"], created);
    assert_eq!(detail["comments"], json!([]));
    assert_eq!(detail["attachments"], json!([]));
    assert_eq!(detail["tasks"], json!([]));

    let (_, page) = send(request(
        &sandbox,
        As::Demo,
        Method::GET,
        "/contacts/?limit=1",
    ))
    .await;
    assert_eq!(page["count"], 601);
    assert_eq!(page["results"][0], created);

    // Phone numbers are stored in E.164, like the real PhoneNumberField.
    let created = create(
        &sandbox,
        As::Demo,
        json!({"first_name": "Ann", "last_name": "Lee", "mobile_number": "(305) 555-0100"}),
    )
    .await;
    assert_eq!(created["mobile_number"], "+13055550100");
    assert_eq!(created["primary_email"], "");

    // The other organization does not see it.
    let (_, other_page) = send(request(
        &sandbox,
        As::OtherOrganization,
        Method::GET,
        "/contacts/?limit=1",
    ))
    .await;
    assert_eq!(other_page["count"], 40);
}

#[tokio::test]
async fn create_validation_errors_use_the_error_envelope() {
    let sandbox = spawn_sandbox().await;
    let existing = newest_contact(&sandbox).await;
    let existing_email = existing["primary_email"]
        .as_str()
        .unwrap()
        .trim()
        .to_uppercase();
    for (body, errors) in [
        (
            json!({}),
            json!({"first_name": ["This field is required."], "last_name": ["This field is required."]}),
        ),
        (
            json!({"first_name": "", "last_name": null}),
            json!({"first_name": ["This field may not be blank."], "last_name": ["This field may not be null."]}),
        ),
        (
            json!({"first_name": "A", "last_name": "B", "primary_email": "not-an-email", "mobile_number": "12"}),
            json!({
                "primary_email": ["Enter a valid email address."],
                "mobile_number": ["Enter a valid phone number (e.g. +12125552368)."]
            }),
        ),
        (
            json!({"first_name": "A", "last_name": "B", "primary_email": format!(" {existing_email} ")}),
            json!({"primary_email": ["Contact with this primary email already exists."]}),
        ),
        (
            json!({"first_name": ["A"], "last_name": "B", "assigned_to": "x"}),
            json!({
                "first_name": ["Not a valid string."],
                "assigned_to": ["Expected a list of items but got type \"str\"."]
            }),
        ),
        (
            json!({"first_name": "A", "last_name": "B", "teams": ["nope"]}),
            json!({"teams": ["“nope” is not a valid UUID."]}),
        ),
        (
            json!({"first_name": "x".repeat(256), "last_name": "B"}),
            json!({"first_name": ["Ensure this field has no more than 255 characters."]}),
        ),
        (
            json!(["first_name"]),
            json!({"non_field_errors": ["Invalid data. Expected a dictionary, but got list."]}),
        ),
    ] {
        let (status, answer) =
            send(request(&sandbox, As::Demo, Method::POST, "/contacts/").json(&body)).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
        assert_eq!(answer, json!({"error": true, "errors": errors}), "{body}");
    }

    let (status, answer) = send(
        request(&sandbox, As::Demo, Method::POST, "/contacts/")
            .header("content-type", "application/json")
            .body("{\"first_name\": "),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(answer["detail"]
        .as_str()
        .unwrap()
        .starts_with("JSON parse error - "));
    assert_eq!(answer.as_object().unwrap().len(), 1);

    let (status, answer) = send(
        request(&sandbox, As::Demo, Method::POST, "/contacts/")
            .header("content-type", "text/plain")
            .body("first_name=A"),
    )
    .await;
    assert_eq!(status, StatusCode::UNSUPPORTED_MEDIA_TYPE);
    assert_eq!(
        answer,
        json!({"detail": "Unsupported media type \"text/plain\" in request."})
    );

    let (status, answer) = send(
        request(&sandbox, As::Demo, Method::POST, "/contacts/")
            .header("content-type", "multipart/form-data")
            .body("--x\r\n"),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(
        answer,
        json!({"detail": "Multipart form parse error - Invalid boundary in multipart: None"})
    );

    // Nothing was created by any of these.
    let (_, page) = send(request(
        &sandbox,
        As::Demo,
        Method::GET,
        "/contacts/?limit=1",
    ))
    .await;
    assert_eq!(page["count"], 600);
}

#[tokio::test]
async fn forms_create_contacts_with_attachments() {
    let sandbox = spawn_sandbox().await;
    let body = multipart_body(
        "boundary42",
        &[
            ("first_name", "Form"),
            ("last_name", "Person"),
            ("primary_email", "form.person@example.org"),
        ],
        Some((
            "contact_attachment",
            "id card.png",
            &b"\x89PNG\r\n\x1a\n"[..],
        )),
    );
    let (status, created) = send(
        request(&sandbox, As::Demo, Method::POST, "/contacts/")
            .header("content-type", "multipart/form-data; boundary=boundary42")
            .body(body),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{created}");
    assert_eq!(created["first_name"], "Form");
    let id = created["id"].as_str().unwrap();
    let (_, detail) = send(request(
        &sandbox,
        As::Demo,
        Method::GET,
        &format!("/contacts/{id}/"),
    ))
    .await;
    let attachments = detail["attachments"].as_array().unwrap();
    assert_eq!(attachments.len(), 1);
    assert_eq!(attachments[0]["file_name"], "id card.png");
    assert_eq!(attachments[0]["contact"], id);
    assert_eq!(attachments[0]["created_by"], created["created_by"]);
    assert!(attachments[0]["attachment"]
        .as_str()
        .unwrap()
        .ends_with("/id_card.png"));

    let (status, created) = send(
        request(&sandbox, As::Demo, Method::POST, "/contacts/")
            .header("content-type", "application/x-www-form-urlencoded")
            .body("first_name=Url+Encoded&last_name=O%27Brien&city=Miami"),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(created["first_name"], "Url Encoded");
    assert_eq!(created["last_name"], "O'Brien");
    assert_eq!(created["city"], "Miami");
}

#[tokio::test]
async fn update_is_partial_and_validated() {
    let sandbox = spawn_sandbox().await;
    let everything = all_contacts(&sandbox, As::Demo, "").await;
    let contact = &everything[3];
    let id = contact["id"].as_str().unwrap();
    let (status, updated) = send(
        request(&sandbox, As::Demo, Method::PUT, &format!("/contacts/{id}/")).json(&json!({
            "first_name": "John",
            "last_name": "Doe",
            "mobile_number": "+1234567891",
            "department": "Senior Sales",
            "teams": [],
        })),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{updated}");
    let mut expected = contact.clone();
    expected["first_name"] = json!("John");
    expected["last_name"] = json!("Doe");
    expected["mobile_number"] = json!("+1234567891");
    expected["department"] = json!("Senior Sales");
    expected["teams"] = json!([]);
    assert_eq!(updated, expected);
    let (_, detail) = send(request(
        &sandbox,
        As::Demo,
        Method::GET,
        &format!("/contacts/{id}/"),
    ))
    .await;
    assert_eq!(detail["contact_obj"], expected);

    // Its own email is no duplicate; another contact's is.
    let own_email = contact["primary_email"].clone();
    let (status, _) = send(
        request(&sandbox, As::Demo, Method::PUT, &format!("/contacts/{id}/"))
            .json(&json!({"primary_email": own_email})),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    let other_email = everything[4]["primary_email"]
        .as_str()
        .unwrap()
        .trim()
        .to_string();
    for (body, errors) in [
        (
            json!({"primary_email": other_email}),
            json!({"primary_email": ["Contact with this primary email already exists."]}),
        ),
        (
            json!({"first_name": "   "}),
            json!({"first_name": ["This field may not be blank."]}),
        ),
        (
            json!({"secondary_email": "x@"}),
            json!({"secondary_email": ["Enter a valid email address."]}),
        ),
    ] {
        let (status, answer) =
            send(request(&sandbox, As::Demo, Method::PUT, &format!("/contacts/{id}/")).json(&body))
                .await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
        assert_eq!(answer, json!({"error": true, "errors": errors}));
    }
    let (status, answer) = send(
        request(
            &sandbox,
            As::Demo,
            Method::PUT,
            &format!("/contacts/{UNKNOWN_ID}/"),
        )
        .json(&json!({"city": "X"})),
    )
    .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(answer, json!({"detail": "Not found."}));
}

#[tokio::test]
async fn delete_answers_204_and_the_contact_is_gone() {
    let sandbox = spawn_sandbox().await;
    let contact = newest_contact(&sandbox).await;
    let id = contact["id"].as_str().unwrap();
    let response = request(
        &sandbox,
        As::Demo,
        Method::DELETE,
        &format!("/contacts/{id}/"),
    )
    .send()
    .await
    .unwrap();
    assert_eq!(response.status(), StatusCode::NO_CONTENT);
    assert!(response.bytes().await.unwrap().is_empty());
    let (status, body) = send(request(
        &sandbox,
        As::Demo,
        Method::GET,
        &format!("/contacts/{id}/"),
    ))
    .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(body, json!({"detail": "Not found."}));
    let (status, _) = send(request(
        &sandbox,
        As::Demo,
        Method::DELETE,
        &format!("/contacts/{id}/"),
    ))
    .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (_, page) = send(request(
        &sandbox,
        As::Demo,
        Method::GET,
        "/contacts/?limit=1",
    ))
    .await;
    assert_eq!(page["count"], 599);
}

#[tokio::test]
async fn comments_follow_the_author_rules() {
    let sandbox = spawn_sandbox().await;
    let created = create(
        &sandbox,
        As::Demo,
        json!({"first_name": "Comment", "last_name": "Target"}),
    )
    .await;
    let demo_user = created["created_by"].as_str().unwrap().to_string();
    let id = created["id"].as_str().unwrap();

    let (status, answer) = send(
        request(
            &sandbox,
            As::Demo,
            Method::POST,
            &format!("/contacts/{id}/"),
        )
        .json(&json!({"comment": "Had great conversation about upcoming project"})),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    let mut keys: Vec<&String> = answer.as_object().unwrap().keys().collect();
    keys.sort();
    assert_eq!(keys, ["attachments", "comments", "contact_obj"]);
    assert_eq!(answer["contact_obj"], created);
    let comment = answer["comments"][0].clone();
    assert_eq!(
        comment["comment"],
        "Had great conversation about upcoming project"
    );
    assert_eq!(comment["contact"], id);
    assert_eq!(comment["commented_by"], demo_user.as_str());
    let comment_id = comment["id"].as_str().unwrap().to_string();

    // The second user comments too; the newest is listed first.
    let (_, answer) = send(
        request(
            &sandbox,
            As::SecondUser,
            Method::POST,
            &format!("/contacts/{id}/"),
        )
        .json(&json!({"comment": "Second"})),
    )
    .await;
    assert_eq!(answer["comments"].as_array().unwrap().len(), 2);
    assert_eq!(answer["comments"][0]["comment"], "Second");
    assert_ne!(answer["comments"][0]["commented_by"], demo_user.as_str());
    assert_eq!(answer["comments"][1], comment);

    for body in [json!({}), json!({"comment": ""}), json!({"comment": ["x"]})] {
        let (status, answer) = send(
            request(
                &sandbox,
                As::Demo,
                Method::POST,
                &format!("/contacts/{id}/"),
            )
            .json(&body),
        )
        .await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
        assert_eq!(answer["error"], true);
        assert!(answer["errors"]["comment"].is_array());
    }
    let (_, answer) = send(
        request(
            &sandbox,
            As::Demo,
            Method::POST,
            &format!("/contacts/{id}/"),
        )
        .json(&json!({})),
    )
    .await;
    assert_eq!(
        answer,
        json!({"error": true, "errors": {"comment": ["This field is required."]}})
    );

    // Only the author may edit or delete; the comment routes need no
    // organization header.
    let path = format!("/contacts/comment/{comment_id}/");
    let (status, answer) = send(
        request(&sandbox, As::SecondUser, Method::PUT, &path).json(&json!({"comment": "hijack"})),
    )
    .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert_eq!(
        answer,
        json!({"error": true, "errors": "You don't have permission to edit this Comment"})
    );
    let (status, answer) = send(request(&sandbox, As::SecondUser, Method::DELETE, &path)).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert_eq!(
        answer,
        json!({"error": true, "errors": "You don't have permission to perform this action"})
    );

    let (status, edited) = send(
        anonymous(&sandbox, Method::PUT, &path)
            .header(
                "Authorization",
                format!("Bearer {}", token(&sandbox, As::Demo)),
            )
            .json(&json!({"comment": "Updated comment text"})),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    let mut expected = comment.clone();
    expected["comment"] = json!("Updated comment text");
    assert_eq!(edited, expected);
    let (status, answer) =
        send(request(&sandbox, As::Demo, Method::PUT, &path).json(&json!({"comment": "  "}))).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(
        answer,
        json!({"error": true, "errors": {"comment": ["This field may not be blank."]}})
    );

    // Another organization cannot see it at all, and a wrong organization
    // header is refused.
    let (status, answer) = send(request(
        &sandbox,
        As::OtherOrganization,
        Method::DELETE,
        &path,
    ))
    .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(answer, json!({"detail": "Not found."}));
    let (status, _) = send(
        anonymous(&sandbox, Method::DELETE, &path)
            .header(
                "Authorization",
                format!("Bearer {}", token(&sandbox, As::Demo)),
            )
            .header("organization-id", SECOND_ORGANIZATION_ID),
    )
    .await;
    assert_eq!(status, StatusCode::FORBIDDEN);

    let response = request(&sandbox, As::Demo, Method::DELETE, &path)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::NO_CONTENT);
    let (_, detail) = send(request(
        &sandbox,
        As::Demo,
        Method::GET,
        &format!("/contacts/{id}/"),
    ))
    .await;
    assert_eq!(detail["comments"].as_array().unwrap().len(), 1);
    assert_eq!(detail["comments"][0]["comment"], "Second");
    let (status, answer) =
        send(request(&sandbox, As::Demo, Method::PUT, &path).json(&json!({"comment": "x"}))).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(answer, json!({"detail": "Not found."}));
}

#[tokio::test]
async fn attachments_upload_as_multipart_and_only_the_creator_deletes() {
    let sandbox = spawn_sandbox().await;
    let contact = newest_contact(&sandbox).await;
    let id = contact["id"].as_str().unwrap();
    let (_, before) = send(request(
        &sandbox,
        As::Demo,
        Method::GET,
        &format!("/contacts/{id}/"),
    ))
    .await;
    let before_count = before["attachments"].as_array().unwrap().len();

    let body = multipart_body(
        "----gatewayBoundary",
        &[("comment", "Scanned the deed")],
        Some(("attachment", "deed.pdf", &b"%PDF-1.4 fake"[..])),
    );
    let (status, answer) = send(
        request(
            &sandbox,
            As::Demo,
            Method::POST,
            &format!("/contacts/{id}/"),
        )
        .header(
            "content-type",
            "multipart/form-data; boundary=----gatewayBoundary",
        )
        .body(body),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    assert_eq!(answer["comments"][0]["comment"], "Scanned the deed");
    let attachments = answer["attachments"].as_array().unwrap();
    assert_eq!(attachments.len(), before_count + 1);
    let attachment = &attachments[0];
    assert_eq!(attachment["file_name"], "deed.pdf");
    assert_eq!(attachment["contact"], id);
    let attachment_id = attachment["id"].as_str().unwrap();
    assert_eq!(
        attachment["attachment"],
        format!("/media/contact_attachments/{attachment_id}/deed.pdf")
    );

    // A file alone is enough.
    let body = multipart_body("b", &[], Some(("attachment", "photo.jpg", &b"jpg"[..])));
    let (status, answer) = send(
        request(
            &sandbox,
            As::Demo,
            Method::POST,
            &format!("/contacts/{id}/"),
        )
        .header("content-type", "multipart/form-data; boundary=b")
        .body(body),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        answer["attachments"].as_array().unwrap().len(),
        before_count + 2
    );

    let path = format!("/contacts/attachment/{attachment_id}/");
    let (status, answer) = send(request(&sandbox, As::SecondUser, Method::DELETE, &path)).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert_eq!(
        answer,
        json!({"error": true, "errors": "You don't have permission to delete this Attachment"})
    );
    let (status, answer) = send(request(
        &sandbox,
        As::OtherOrganization,
        Method::DELETE,
        &path,
    ))
    .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(answer, json!({"detail": "Not found."}));
    let response = request(&sandbox, As::Demo, Method::DELETE, &path)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::NO_CONTENT);
    let (status, _) = send(request(&sandbox, As::Demo, Method::DELETE, &path)).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (_, after) = send(request(
        &sandbox,
        As::Demo,
        Method::GET,
        &format!("/contacts/{id}/"),
    ))
    .await;
    assert_eq!(
        after["attachments"].as_array().unwrap().len(),
        before_count + 1
    );
    assert!(after["attachments"]
        .as_array()
        .unwrap()
        .iter()
        .all(|a| a["id"] != attachment_id));

    let (status, _) = send(anonymous(&sandbox, Method::DELETE, &path)).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
}

#[tokio::test]
async fn reset_restores_the_seeded_state_and_ids_repeat() {
    let sandbox = spawn_sandbox().await;
    let seeded = all_contacts(&sandbox, As::Demo, "").await;
    let first_created = create(
        &sandbox,
        As::Demo,
        json!({"first_name": "Temp", "last_name": "One"}),
    )
    .await;
    let victim = seeded[0]["id"].as_str().unwrap();
    let (status, _) = send(request(
        &sandbox,
        As::Demo,
        Method::DELETE,
        &format!("/contacts/{victim}/"),
    ))
    .await;
    assert_eq!(status, StatusCode::NO_CONTENT);

    sandbox.reset().await;
    let restored = all_contacts(&sandbox, As::Demo, "").await;
    assert_eq!(restored, seeded);
    let again = create(
        &sandbox,
        As::Demo,
        json!({"first_name": "Temp", "last_name": "One"}),
    )
    .await;
    assert_eq!(again["id"], first_created["id"]);
}

#[tokio::test]
async fn stats_count_requests_by_route_template() {
    let sandbox = spawn_sandbox().await;
    let contact = newest_contact(&sandbox).await;
    let id = contact["id"].as_str().unwrap();
    send(request(
        &sandbox,
        As::Demo,
        Method::GET,
        "/contacts/?limit=2",
    ))
    .await;
    send(request(
        &sandbox,
        As::Demo,
        Method::GET,
        &format!("/contacts/{id}/"),
    ))
    .await;
    send(request(
        &sandbox,
        As::Demo,
        Method::GET,
        &format!("/contacts/{UNKNOWN_ID}/"),
    ))
    .await;
    send(
        request(
            &sandbox,
            As::Demo,
            Method::PUT,
            &format!("/contacts/comment/{UNKNOWN_ID}/"),
        )
        .json(&json!({"comment": "x"})),
    )
    .await;
    send(request(
        &sandbox,
        As::Demo,
        Method::DELETE,
        &format!("/contacts/attachment/{UNKNOWN_ID}/"),
    ))
    .await;
    assert!(
        sandbox
            .route_count("djangocrm", "GET", "/api/contacts/")
            .await
            >= 2
    );
    assert_eq!(
        sandbox
            .route_count("djangocrm", "GET", "/api/contacts/{id}/")
            .await,
        2
    );
    assert_eq!(
        sandbox
            .route_count("djangocrm", "PUT", "/api/contacts/comment/{id}/")
            .await,
        1
    );
    assert_eq!(
        sandbox
            .route_count("djangocrm", "DELETE", "/api/contacts/attachment/{id}/")
            .await,
        1
    );
}
