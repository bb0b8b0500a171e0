//! The HTTP edge, end to end: GraphQL over HTTP status codes and media
//! types, CSRF prevention, CORS and the request body limit.

use serde_json::{json, Value};

use crate::helpers::{send_raw, spawn_gateway, spawn_gateway_configured};

const CREATE: &str = r#"mutation { createContact(input: {source: WINNERR, firstName: "Eve", lastName: "Forger", email: "eve@forger.example"}) { contact { id } } }"#;
const JSON: (&str, &str) = ("content-type", "application/json");

#[tokio::test]
async fn a_mutation_over_get_is_405_and_writes_nothing() {
    let gateway = spawn_gateway().await;
    for accept in ["application/json", "application/graphql-response+json"] {
        let answer = gateway
            .get_with(
                &[("query", CREATE)],
                &[("accept", accept), ("x-graphql-csrf", "1")],
            )
            .await;
        assert_eq!(answer.status, 405, "{answer:?}");
        assert_eq!(answer.header("allow"), "POST");
        assert_eq!(answer.first_code(), "METHOD_NOT_ALLOWED");
        assert!(answer.body.get("data").is_none(), "{}", answer.body);
    }
    assert_eq!(gateway.upstream_requests().await, 0);
    // The same mutation over POST does write: the refusal above was the method's.
    let body = json!({ "query": CREATE }).to_string();
    let answer = gateway.post_with(&[JSON], body).await;
    assert_eq!(answer.status, 200, "{answer:?}");
    assert!(
        answer.body["data"]["createContact"]["contact"]["id"].is_string(),
        "{}",
        answer.body
    );
    assert_eq!(gateway.upstream_requests().await, 1);
}

#[tokio::test]
async fn posts_a_browser_sends_cross_site_do_not_execute() {
    let gateway = spawn_gateway().await;
    let body = json!({ "query": CREATE }).to_string();
    let form = format!("query={}", urlencoding::encode(CREATE));
    for (headers, body) in [
        (vec![("content-type", "text/plain")], body.clone()),
        (
            vec![("content-type", "text/plain;charset=UTF-8")],
            body.clone(),
        ),
        (
            vec![("content-type", "application/x-www-form-urlencoded")],
            form,
        ),
        (
            vec![("content-type", "multipart/form-data; boundary=x")],
            body.clone(),
        ),
        (vec![], body.clone()),
        (
            vec![("content-type", "application/json; charset=latin1")],
            body.clone(),
        ),
    ] {
        let answer = gateway.post_with(&headers, body).await;
        assert_eq!(answer.status, 415, "{headers:?}: {answer:?}");
        assert_eq!(answer.first_code(), "UNSUPPORTED_MEDIA_TYPE");
    }
    assert_eq!(gateway.upstream_requests().await, 0);
}

#[tokio::test]
async fn a_get_query_needs_a_header_a_cross_site_page_cannot_send() {
    let gateway = spawn_gateway().await;
    let query = "{ contacts(first: 1) { nodes { id } } }";
    let refused = gateway.get_with(&[("query", query)], &[]).await;
    assert_eq!(refused.status, 400, "{refused:?}");
    assert_eq!(refused.first_code(), "CSRF_PREVENTION");
    assert!(refused.body["errors"][0]["message"]
        .as_str()
        .unwrap()
        .contains("x-graphql-csrf"));
    assert_eq!(gateway.upstream_requests().await, 0);
    for header in ["x-graphql-csrf", "apollo-require-preflight"] {
        let answer = gateway
            .get_with(&[("query", query)], &[(header, "1")])
            .await;
        assert_eq!(answer.status, 200, "{answer:?}");
        assert!(answer.body["data"]["contacts"]["nodes"].is_array());
    }
}

#[tokio::test]
async fn the_csrf_check_can_be_switched_off() {
    let gateway = spawn_gateway_configured(|config| config.csrf.enabled = false).await;
    let answer = gateway.get_with(&[("query", "{ __typename }")], &[]).await;
    assert_eq!(answer.status, 200, "{answer:?}");
    assert_eq!(answer.body, json!({ "data": { "__typename": "Query" } }));
}

#[tokio::test]
async fn the_answer_is_in_the_media_type_the_client_accepts() {
    let gateway = spawn_gateway().await;
    let body = json!({ "query": "{ __typename }" }).to_string();
    for (accept, content_type) in [
        (None, "application/json; charset=utf-8"),
        (Some("*/*"), "application/json; charset=utf-8"),
        (Some("application/json"), "application/json; charset=utf-8"),
        (
            Some("application/graphql-response+json, application/json;q=0.9"),
            "application/graphql-response+json; charset=utf-8",
        ),
    ] {
        let mut headers = vec![JSON];
        headers.extend(accept.map(|accept| ("accept", accept)));
        let answer = gateway.post_with(&headers, body.clone()).await;
        assert_eq!(answer.status, 200);
        assert_eq!(answer.header("content-type"), content_type, "{accept:?}");
        assert_eq!(answer.body, json!({ "data": { "__typename": "Query" } }));
    }
    let answer = gateway
        .post_with(&[JSON, ("accept", "text/html")], body)
        .await;
    assert_eq!(answer.status, 406);
    assert_eq!(answer.first_code(), "NOT_ACCEPTABLE");
}

#[tokio::test]
async fn request_errors_have_no_data_and_their_status_follows_the_media_type() {
    let gateway = spawn_gateway().await;
    let cases = [
        (json!({ "query": "{" }), "GRAPHQL_PARSE_FAILED"),
        (json!({ "query": "{ nope }" }), "GRAPHQL_VALIDATION_FAILED"),
        (
            json!({ "query": "query($id: ID!) { contact(id: $id) { id } }", "variables": { "id": null } }),
            "GRAPHQL_VALIDATION_FAILED",
        ),
        (
            json!({ "query": "query A { __typename } query B { __typename }" }),
            "BAD_REQUEST",
        ),
    ];
    for (accept, status) in [
        ("application/graphql-response+json", 400),
        ("application/json", 200),
    ] {
        for (body, code) in &cases {
            let answer = gateway
                .post_with(&[JSON, ("accept", accept)], body.to_string())
                .await;
            assert_eq!(answer.status, status, "{accept} {body}: {answer:?}");
            assert_eq!(answer.first_code(), *code, "{body}: {}", answer.body);
            assert!(answer.body.get("data").is_none(), "{}", answer.body);
        }
    }
    assert_eq!(gateway.upstream_requests().await, 0);
}

#[tokio::test]
async fn malformed_requests_are_400_with_a_graphql_error() {
    let gateway = spawn_gateway().await;
    for (body, code) in [
        ("", "BAD_REQUEST"),
        ("{ \"not a JSON", "BAD_REQUEST"),
        ("{\"qeury\": \"{ __typename }\"}", "BAD_REQUEST"),
        ("{\"query\": 1}", "BAD_REQUEST"),
        (
            "{\"query\": \"{ __typename }\", \"variables\": []}",
            "BAD_REQUEST",
        ),
        (
            "[{\"query\": \"{ __typename }\"}]",
            "BATCHING_NOT_SUPPORTED",
        ),
    ] {
        let answer = gateway.post_with(&[JSON], body).await;
        assert_eq!(answer.status, 400, "{body}: {answer:?}");
        assert_eq!(answer.first_code(), code, "{body}");
        assert!(answer.body["errors"][0]["message"].as_str().unwrap().len() > 10);
    }
    let invalid_utf8: Vec<u8> = b"{\"query\": \"{ __typename \xff }\"}".to_vec();
    let answer = gateway.post_with(&[JSON], invalid_utf8).await;
    assert_eq!(answer.status, 400);
    assert_eq!(answer.first_code(), "BAD_REQUEST");
}

#[tokio::test]
async fn other_methods_and_paths_get_graphql_shaped_errors() {
    let gateway = spawn_gateway().await;
    let put = gateway.request_with("PUT", "/graphql", &[]).await;
    assert_eq!(put.status, 405);
    assert_eq!(put.header("allow"), "GET, POST");
    assert_eq!(put.first_code(), "METHOD_NOT_ALLOWED");
    let missing = gateway.request_with("GET", "/nowhere", &[]).await;
    assert_eq!(missing.status, 404);
    assert_eq!(missing.first_code(), "NOT_FOUND");
}

#[tokio::test]
async fn a_preflight_from_an_allowed_origin_gets_cors_headers_and_others_do_not() {
    let gateway = spawn_gateway_configured(|config| {
        config.cors.allow_loopback_origins = false;
        config.cors.allow_origins = vec!["https://app.example.com".into()];
    })
    .await;
    let preflight = |origin: &'static str| {
        let gateway = &gateway;
        async move {
            gateway
                .request_with(
                    "OPTIONS",
                    "/graphql",
                    &[
                        ("origin", origin),
                        ("access-control-request-method", "POST"),
                        (
                            "access-control-request-headers",
                            "content-type,x-graphql-csrf",
                        ),
                    ],
                )
                .await
        }
    };
    let allowed = preflight("https://app.example.com").await;
    assert_eq!(allowed.status, 200);
    assert_eq!(
        allowed.header("access-control-allow-origin"),
        "https://app.example.com"
    );
    let methods = allowed.header("access-control-allow-methods");
    assert!(
        methods.contains("POST") && methods.contains("GET"),
        "{methods}"
    );
    let headers = allowed.header("access-control-allow-headers");
    assert!(
        headers.contains("content-type") && headers.contains("x-graphql-csrf"),
        "{headers}"
    );
    assert_eq!(allowed.header("access-control-max-age"), "600");
    for origin in ["https://evil.example", "http://localhost:5173"] {
        let refused = preflight(origin).await;
        assert_eq!(
            refused.header("access-control-allow-origin"),
            "",
            "{origin}"
        );
    }
    // An actual request from the allowed origin carries the header too.
    let answer = gateway
        .post_with(
            &[JSON, ("origin", "https://app.example.com")],
            json!({ "query": "{ __typename }" }).to_string(),
        )
        .await;
    assert_eq!(
        answer.header("access-control-allow-origin"),
        "https://app.example.com"
    );
}

#[tokio::test]
async fn the_demo_configuration_allows_loopback_front_ends() {
    let gateway = spawn_gateway().await;
    let answer = gateway
        .request_with(
            "OPTIONS",
            "/graphql",
            &[
                ("origin", "http://localhost:5173"),
                ("access-control-request-method", "POST"),
            ],
        )
        .await;
    assert_eq!(
        answer.header("access-control-allow-origin"),
        "http://localhost:5173"
    );
}

#[tokio::test]
async fn a_body_over_the_limit_is_refused_whether_declared_or_streamed() {
    let gateway =
        spawn_gateway_configured(|config| config.limits.max_request_body_bytes = 256 * 1024).await;
    // A declared length over the limit is refused before any byte of the
    // body is read: none is sent here.
    let declared = send_raw(
        &gateway.url,
        "POST /graphql HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\ncontent-length: 52428800\r\nconnection: close\r\n\r\n".into(),
        false,
        0,
    )
    .await;
    assert!(declared.starts_with("HTTP/1.1 413"), "{declared}");
    assert!(
        declared.contains("\"code\":\"PAYLOAD_TOO_LARGE\""),
        "{declared}"
    );
    // A chunked body gives no length: it is refused once the limit is passed.
    let streamed = send_raw(
        &gateway.url,
        "POST /graphql HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\ntransfer-encoding: chunked\r\nconnection: close\r\n\r\n".into(),
        true,
        8 * 1024 * 1024,
    )
    .await;
    assert!(streamed.starts_with("HTTP/1.1 413"), "{streamed}");
    assert!(
        streamed.contains("\"code\":\"PAYLOAD_TOO_LARGE\""),
        "{streamed}"
    );
    // The gateway is healthy for the next request.
    let answer = gateway
        .post_with(&[JSON], json!({ "query": "{ __typename }" }).to_string())
        .await;
    assert_eq!(answer.status, 200);
}

#[tokio::test]
async fn introspection_and_graphiql_follow_the_configuration() {
    let introspect = json!({ "query": "{ __schema { queryType { name } } }" }).to_string();
    let demo = spawn_gateway().await;
    let answer = demo.post_with(&[JSON], introspect.clone()).await;
    assert_eq!(
        answer.body["data"]["__schema"]["queryType"]["name"],
        "Query"
    );
    let page = demo.get_with(&[], &[("accept", "text/html")]).await;
    assert_eq!(page.status, 200);

    let locked = spawn_gateway_configured(|config| {
        config.graphql.introspection = false;
        config.graphql.graphiql = false;
    })
    .await;
    let answer = locked.post_with(&[JSON], introspect).await;
    assert_eq!(
        answer.first_code(),
        "INTROSPECTION_DISABLED",
        "{}",
        answer.body
    );
    assert!(answer.body.get("data").is_none(), "{}", answer.body);
    let typename = locked
        .post_with(&[JSON], json!({ "query": "{ __typename }" }).to_string())
        .await;
    assert_eq!(typename.body, json!({ "data": { "__typename": "Query" } }));
    // Without GraphiQL a browser's GET is an ordinary GraphQL GET, and a
    // page of HTML is not an answer the gateway writes.
    let page = locked
        .get_with(&[], &[("accept", "text/html"), ("x-graphql-csrf", "1")])
        .await;
    assert_eq!(page.status, 406, "{page:?}");
    assert_eq!(page.first_code(), "NOT_ACCEPTABLE");
}

#[tokio::test]
async fn automatic_persisted_queries_register_then_run_by_hash() {
    use sha2::Digest;
    let gateway = spawn_gateway().await;
    let query = "{ contacts(first: 2, sources: [WINNERR]) { nodes { displayName } } }";
    let hash = format!("{:x}", sha2::Sha256::digest(query.as_bytes()));
    let persisted = json!({ "persistedQuery": { "version": 1, "sha256Hash": hash } });
    let by_hash = json!({ "extensions": persisted }).to_string();
    let unknown = gateway.post_with(&[JSON], by_hash.clone()).await;
    assert_eq!(unknown.status, 200, "{unknown:?}");
    assert_eq!(unknown.first_code(), "PERSISTED_QUERY_NOT_FOUND");
    assert_eq!(
        unknown.body["errors"][0]["message"],
        "PersistedQueryNotFound"
    );
    assert_eq!(gateway.upstream_requests().await, 0);
    let registered = gateway
        .post_with(
            &[JSON],
            json!({ "query": query, "extensions": persisted }).to_string(),
        )
        .await;
    assert_eq!(registered.status, 200);
    assert_eq!(
        registered.body["data"]["contacts"]["nodes"]
            .as_array()
            .unwrap()
            .len(),
        2
    );
    let again = gateway.post_with(&[JSON], by_hash).await;
    assert_eq!(again.status, 200);
    assert_eq!(again.body, registered.body);
    // A hash that does not match the query is refused with a code.
    let mismatched = gateway
        .post_with(
            &[JSON],
            json!({ "query": "{ __typename }", "extensions": persisted }).to_string(),
        )
        .await;
    assert_eq!(
        mismatched.first_code(),
        "BAD_REQUEST",
        "{}",
        mismatched.body
    );
    assert!(mismatched.body.get("data").is_none());
}

/// The same text sent again is served from the parsed documents the edge
/// keeps, and is still checked against each request's own variables and
/// operation name: a kept document changes what a request costs, never
/// what it is allowed to do.
#[tokio::test]
async fn a_document_sent_again_is_checked_with_its_own_variables() {
    let gateway = spawn_gateway().await;
    let query =
        "query Page($n: Int) { properties(first: $n) { nodes { id } } } query Other { __typename }";
    let post = |variables: Value, operation: &str| {
        let body = json!({ "query": query, "variables": variables, "operationName": operation });
        gateway.post_with(&[("content-type", "application/json")], body.to_string())
    };
    let ok = post(json!({ "n": 2 }), "Page").await;
    assert_eq!(ok.status, 200, "{ok:?}");
    assert_eq!(
        ok.body["data"]["properties"]["nodes"]
            .as_array()
            .unwrap()
            .len(),
        2
    );

    let too_many = post(json!({ "n": 1_000_000 }), "Page").await;
    assert_eq!(too_many.first_code(), "BAD_USER_INPUT", "{too_many:?}");
    let wrong_type = post(json!({ "n": "two" }), "Page").await;
    assert!(wrong_type.body.get("data").is_none(), "{wrong_type:?}");
    assert_eq!(
        wrong_type.first_code(),
        "GRAPHQL_VALIDATION_FAILED",
        "{wrong_type:?}"
    );
    let again = post(json!({ "n": 3 }), "Page").await;
    assert_eq!(
        again.body["data"]["properties"]["nodes"]
            .as_array()
            .unwrap()
            .len(),
        3
    );

    let other = post(json!({}), "Other").await;
    assert_eq!(other.body["data"]["__typename"], "Query", "{other:?}");
    for _ in 0..2 {
        let unknown = post(json!({}), "Missing").await;
        assert!(unknown.body.get("data").is_none(), "{unknown:?}");
        assert!(unknown.body["errors"][0]["message"]
            .as_str()
            .unwrap()
            .contains("Missing"));
    }
    let other_again = post(json!({}), "Other").await;
    assert_eq!(other_again.body, other.body);
}

/// A text one character away from a kept one is parsed as itself.
#[tokio::test]
async fn a_kept_document_is_never_served_for_another_text() {
    let gateway = spawn_gateway().await;
    let valid = gateway
        .graphql("{ properties(first: 1) { nodes { id } } }", json!({}))
        .await;
    assert!(valid.get("errors").is_none(), "{valid}");
    let unknown_field = gateway
        .graphql("{ properties(first: 1) { nodes { idx } } }", json!({}))
        .await;
    assert_eq!(
        unknown_field["errors"][0]["extensions"]["code"], "GRAPHQL_VALIDATION_FAILED",
        "{unknown_field}"
    );
    let invalid_syntax = gateway
        .graphql("{ properties(first: 1) { nodes { id } }", json!({}))
        .await;
    assert_eq!(
        invalid_syntax["errors"][0]["extensions"]["code"], "GRAPHQL_PARSE_FAILED",
        "{invalid_syntax}"
    );
}

/// A mutation the gateway knows from POSTs is still refused over GET.
#[tokio::test]
async fn a_known_mutation_is_still_refused_over_get() {
    let gateway = spawn_gateway().await;
    let mutation = r#"mutation { deleteContact(input: {id: "not-an-id"}) { deletedId } }"#;
    for _ in 0..2 {
        let posted = gateway
            .post_with(&[JSON], json!({ "query": mutation }).to_string())
            .await;
        assert_eq!(posted.status, 200, "{posted:?}");
    }
    let refused = gateway
        .get_with(&[("query", mutation)], &[("x-graphql-csrf", "1")])
        .await;
    assert_eq!(refused.status, 405, "{refused:?}");
    assert_eq!(refused.first_code(), "METHOD_NOT_ALLOWED");
}
