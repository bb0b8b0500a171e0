//! Callers over real HTTP: API keys, read-only principals and allowed
//! sources, per-principal upstream credentials and their isolation
//! (answers and everything the gateway keeps), forwarded user credentials,
//! and rate limits.

use std::collections::BTreeSet;

use contact_gateway::auth::keys::KeyHash;
use contact_gateway::config::{AuthConfig, PrincipalConfig, Secret, SourceCredentials};
use contact_gateway::domain::SourceKind;
use serde_json::{json, Value};

use crate::helpers::{spawn_gateway_configured, HttpAnswer, TestGateway, TestSandbox};

const ALICE_KEY: &str = "cgk_test-alice-key";
const BOB_KEY: &str = "cgk_test-bob-key";
const CAROL_KEY: &str = "cgk_test-carol-key";

const CONTACTS: &str = "{ contacts(first: 3) { nodes { displayName source } } }";

fn principal(name: &str, key: &str) -> PrincipalConfig {
    PrincipalConfig::new(name, KeyHash::of(key))
}

/// Posts `query` with `headers` besides the JSON content type.
async fn post(gateway: &TestGateway, headers: &[(&str, &str)], query: &str) -> HttpAnswer {
    let mut all = vec![("content-type", "application/json")];
    all.extend_from_slice(headers);
    gateway
        .post_with(&all, json!({ "query": query }).to_string())
        .await
}

fn bearer(key: &str) -> String {
    format!("Bearer {key}")
}

#[tokio::test]
async fn a_request_without_a_valid_key_is_401_unauthenticated_and_a_valid_key_is_answered() {
    let gateway = spawn_gateway_configured(|config| {
        config.auth = AuthConfig::keys(vec![principal("alice", ALICE_KEY)]);
    })
    .await;
    let before = gateway.upstream_requests().await;
    for headers in [
        vec![],
        vec![("authorization", bearer("cgk_wrong"))],
        vec![("x-api-key", "cgk_wrong".to_string())],
        // Not a bearer token: the key is not read from other schemes.
        vec![("authorization", format!("Basic {ALICE_KEY}"))],
    ] {
        let headers: Vec<(&str, &str)> = headers.iter().map(|(n, v)| (*n, v.as_str())).collect();
        let answer = post(&gateway, &headers, CONTACTS).await;
        assert_eq!(answer.status, 401, "{headers:?}: {:?}", answer.body);
        assert_eq!(answer.first_code(), "UNAUTHENTICATED");
        assert!(answer.body.get("data").is_none(), "{}", answer.body);
        assert!(answer.header("www-authenticate").starts_with("Bearer"));
        assert!(answer.header("content-type").contains("json"));
    }
    // GET is refused the same way.
    let answer = gateway.get_with(&[("query", CONTACTS)], &[]).await;
    assert_eq!(answer.status, 401);
    assert_eq!(answer.first_code(), "UNAUTHENTICATED");
    assert_eq!(
        gateway.upstream_requests().await,
        before,
        "a refusal reached upstream"
    );

    let alice = bearer(ALICE_KEY);
    for headers in [
        [("authorization", alice.as_str())],
        [("x-api-key", ALICE_KEY)],
    ] {
        let answer = post(&gateway, &headers, CONTACTS).await;
        assert_eq!(answer.status, 200, "{}", answer.body);
        assert_eq!(
            answer.body["data"]["contacts"]["nodes"]
                .as_array()
                .map(Vec::len),
            Some(3),
            "{}",
            answer.body
        );
    }
    let answer = gateway
        .get_with(
            &[("query", CONTACTS)],
            &[("x-api-key", ALICE_KEY), ("x-graphql-csrf", "1")],
        )
        .await;
    assert_eq!(answer.status, 200, "{}", answer.body);
}

#[tokio::test]
async fn an_open_gateway_asks_for_no_key() {
    let gateway = spawn_gateway_configured(|config| config.auth = AuthConfig::open()).await;
    let answer = post(&gateway, &[], CONTACTS).await;
    assert_eq!(answer.status, 200, "{}", answer.body);
    // A key is not checked either: open means no key is read at all.
    let answer = post(&gateway, &[("x-api-key", "cgk_anything")], CONTACTS).await;
    assert_eq!(answer.status, 200, "{}", answer.body);
}

/// The `data` of an answer that must have no errors.
fn data(answer: &HttpAnswer) -> &Value {
    assert_eq!(answer.status, 200, "{}", answer.body);
    assert!(answer.body.get("errors").is_none(), "{}", answer.body);
    &answer.body["data"]
}

/// The sandbox's demo credentials, as `/_sandbox/credentials` serves them.
fn sandbox_credentials() -> contact_gateway::sandbox::Credentials {
    contact_gateway::sandbox::Credentials::default()
}

/// The Private token of the sandbox's further Spark agent `index`.
fn further_spark_token(index: usize) -> String {
    sandbox_credentials().spark.more_users[index].token.clone()
}

/// Spark credentials with `token` and the sandbox's user agent.
fn spark_credentials(token: &str) -> SourceCredentials {
    SourceCredentials::Spark {
        token: Secret::new(token),
        user_agent: sandbox_credentials().spark.user_agent,
    }
}

/// Every Spark contact id (Connected and Unconnected) `token` sees, read
/// from the sandbox directly.
async fn spark_ids_of(sandbox: &TestSandbox, token: &str) -> BTreeSet<String> {
    let mut ids = BTreeSet::new();
    for list in ["/contacts", "/contacts/unconnected"] {
        for page in 1.. {
            let body: Value = sandbox
                .client
                .get(format!(
                    "{}{list}?_limit=25&_page={page}",
                    sandbox.base("spark")
                ))
                .bearer_auth(token)
                .header(
                    "X-SparkApi-User-Agent",
                    sandbox.credential("spark", "user_agent"),
                )
                .send()
                .await
                .unwrap()
                .json()
                .await
                .unwrap();
            let results = body["D"]["Results"].as_array().expect("results");
            ids.extend(
                results
                    .iter()
                    .map(|r| r["Id"].as_str().unwrap().to_string()),
            );
            if results.len() < 25 {
                break;
            }
        }
    }
    ids
}

/// The Spark contact ids (upstream ids) of a `contacts` answer.
fn spark_ids(data: &Value) -> BTreeSet<String> {
    data["contacts"]["nodes"]
        .as_array()
        .expect("nodes")
        .iter()
        .map(|node| {
            assert_eq!(node["source"], "SPARK", "{node}");
            node["sourceId"].as_str().unwrap().to_string()
        })
        .collect()
}

/// Spark contacts in an order the gateway sorts itself (a sorted snapshot
/// is kept) and in one Spark pages natively (pages are kept).
const SPARK_BY_NAME: &str = "{ contacts(sources: [SPARK], first: 30, orderBy: {field: NAME, direction: ASC}) { nodes { source sourceId } } }";
const SPARK_NEWEST: &str = "{ contacts(sources: [SPARK], first: 30, orderBy: {field: CREATED_AT, direction: DESC}) { nodes { source sourceId } } }";

/// How many requests `/_sandbox/requests` lists so far.
async fn sandbox_requests(sandbox: &TestSandbox) -> Vec<Value> {
    let body: Value = sandbox
        .client
        .get(format!("{}/_sandbox/requests", sandbox.url))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    body["requests"].as_array().expect("requests").clone()
}

/// The credentials the Spark requests after the first `from` carried.
async fn spark_credentials_used_since(sandbox: &TestSandbox, from: usize) -> BTreeSet<String> {
    sandbox_requests(sandbox).await[from..]
        .iter()
        .filter(|r| r["source"] == "spark")
        .map(|r| r["credential"].as_str().unwrap_or_default().to_string())
        .collect()
}

#[tokio::test]
async fn principals_with_different_spark_tokens_see_only_their_own_contacts_cached_or_not() {
    let mut bob = principal("bob", BOB_KEY);
    bob.credentials = vec![spark_credentials(&further_spark_token(0))];
    let gateway = spawn_gateway_configured(move |config| {
        config.cache.enabled = true;
        config.auth = AuthConfig::keys(vec![principal("alice", ALICE_KEY), bob]);
    })
    .await;
    let sandbox = &gateway.sandbox;
    let alice_all = spark_ids_of(sandbox, &sandbox.credential("spark", "token")).await;
    let bob_all = spark_ids_of(sandbox, &further_spark_token(0)).await;
    assert!(alice_all.is_disjoint(&bob_all));
    let alice_key = bearer(ALICE_KEY);
    let bob_key = bearer(BOB_KEY);
    let alice = [("authorization", alice_key.as_str())];
    let bob = [("authorization", bob_key.as_str())];
    let check = |who: &str, ids: &BTreeSet<String>| {
        let (own, other) = if who == "alice" {
            (&alice_all, &bob_all)
        } else {
            (&bob_all, &alice_all)
        };
        assert!(!ids.is_empty(), "{who} saw nothing");
        assert!(ids.is_subset(own), "{who} saw contacts not their own");
        assert!(ids.is_disjoint(other), "{who} saw the other's contacts");
    };
    for query in [SPARK_BY_NAME, SPARK_NEWEST] {
        // Alice reads first, so the list (and, by name, the whole sorted
        // list) is kept; Bob's read must not be served from it.
        let before = sandbox_requests(sandbox).await.len();
        check(
            "alice",
            &spark_ids(data(&post(&gateway, &alice, query).await)),
        );
        assert_eq!(
            spark_credentials_used_since(sandbox, before).await,
            BTreeSet::from([sandbox.credential("spark", "token")])
        );
        let before = sandbox_requests(sandbox).await.len();
        check("bob", &spark_ids(data(&post(&gateway, &bob, query).await)));
        assert_eq!(
            spark_credentials_used_since(sandbox, before).await,
            BTreeSet::from([further_spark_token(0)]),
            "Bob's read was not sent with Bob's token"
        );
        // Now both are kept; each still gets their own, repeatedly.
        check(
            "alice",
            &spark_ids(data(&post(&gateway, &alice, query).await)),
        );
        check("bob", &spark_ids(data(&post(&gateway, &bob, query).await)));
    }
    // Interleaved and concurrent, on both orders.
    let requests = (0..16).map(|index| {
        let (who, headers) = if index % 2 == 0 {
            ("alice", &alice)
        } else {
            ("bob", &bob)
        };
        let query = if index % 4 < 2 {
            SPARK_BY_NAME
        } else {
            SPARK_NEWEST
        };
        let gateway = &gateway;
        async move { (who, post(gateway, headers, query).await) }
    });
    for (who, answer) in futures::future::join_all(requests).await {
        check(who, &spark_ids(data(&answer)));
    }
    // The signed-in user's own contact is per credential set too.
    let me = "{ myContact { displayName } }";
    let alice_me = data(&post(&gateway, &alice, me).await)["myContact"]["displayName"].clone();
    let bob_me = data(&post(&gateway, &bob, me).await)["myContact"]["displayName"].clone();
    assert_eq!(bob_me, "Agent agent2");
    assert_ne!(alice_me, bob_me);
    assert_eq!(
        data(&post(&gateway, &bob, me).await)["myContact"]["displayName"],
        "Agent agent2"
    );
}

#[tokio::test]
async fn a_read_only_key_may_read_but_its_mutation_is_forbidden_and_nothing_is_written() {
    let mut reader = principal("reader", ALICE_KEY);
    reader.read_only = true;
    let gateway = spawn_gateway_configured(move |config| {
        config.auth = AuthConfig::keys(vec![reader, principal("writer", BOB_KEY)]);
    })
    .await;
    let reader = bearer(ALICE_KEY);
    let reader = [("authorization", reader.as_str())];
    data(&post(&gateway, &reader, CONTACTS).await);
    let before = sandbox_requests(&gateway.sandbox).await.len();
    let create = r#"mutation { createContact(input: {source: WINNERR, firstName: "Rita", lastName: "Readonly", email: "rita.readonly@example.com"}) { contact { id } } }"#;
    let answer = post(&gateway, &reader, create).await;
    assert_eq!(answer.status, 403, "{}", answer.body);
    assert_eq!(answer.first_code(), "FORBIDDEN");
    assert!(answer.body.get("data").is_none(), "{}", answer.body);
    assert!(
        sandbox_requests(&gateway.sandbox).await.len() == before,
        "a refused mutation reached an upstream"
    );
    // The same mutation with a key that may write is carried out.
    let writer = bearer(BOB_KEY);
    let answer = post(&gateway, &[("authorization", writer.as_str())], create).await;
    assert!(data(&answer)["createContact"]["contact"]["id"].is_string());
    let writes: Vec<Value> = sandbox_requests(&gateway.sandbox).await[before..]
        .iter()
        .filter(|r| r["method"] == "POST")
        .cloned()
        .collect();
    assert_eq!(writes.len(), 1, "{writes:?}");
}

#[tokio::test]
async fn a_principal_uses_only_its_allowed_sources() {
    let mut spark_only = principal("spark-only", ALICE_KEY);
    spark_only.allowed_sources = Some(vec![SourceKind::Spark]);
    let gateway = spawn_gateway_configured(move |config| {
        config.auth = AuthConfig::keys(vec![spark_only]);
    })
    .await;
    let key = bearer(ALICE_KEY);
    let headers = [("authorization", key.as_str())];
    // `contacts` without `sources:` lists the allowed sources only.
    let nodes = data(
        &post(
            &gateway,
            &headers,
            "{ contacts(first: 20) { nodes { source } } }",
        )
        .await,
    )["contacts"]["nodes"]
        .clone();
    assert_eq!(nodes.as_array().map(Vec::len), Some(20));
    assert!(
        nodes
            .as_array()
            .unwrap()
            .iter()
            .all(|n| n["source"] == "SPARK"),
        "{nodes}"
    );
    let before = sandbox_requests(&gateway.sandbox).await.len();
    let winnerr_id = contact_gateway::domain::GlobalId::new(
        contact_gateway::domain::NodeType::Contact,
        SourceKind::Winnerr,
        "1",
    )
    .encode();
    for query in [
        "{ contacts(sources: [WINNERR], first: 3) { nodes { id } } }".to_string(),
        format!("{{ node(id: \"{winnerr_id}\") {{ id }} }}"),
        "{ properties(first: 3) { nodes { id } } }".to_string(),
        r#"mutation { createContact(input: {source: DJANGO_CRM, firstName: "A", lastName: "B", email: "a.b@example.com"}) { contact { id } } }"#.to_string(),
    ] {
        let answer = post(&gateway, &headers, &query).await;
        assert_eq!(answer.status, 403, "{query}: {}", answer.body);
        assert_eq!(answer.first_code(), "FORBIDDEN", "{query}");
        assert!(
            answer.body["errors"][0]["message"]
                .as_str()
                .unwrap()
                .contains("may not use"),
            "{}",
            answer.body
        );
    }
    assert_eq!(
        sandbox_requests(&gateway.sandbox).await.len(),
        before,
        "a refused operation reached an upstream"
    );
}

/// A forward of Spark's token from `x-spark-authorization`.
fn spark_forward(required: bool) -> contact_gateway::auth::config::ForwardConfig {
    contact_gateway::auth::config::ForwardConfig {
        source: SourceKind::Spark,
        header: Some(axum::http::HeaderName::from_static("x-spark-authorization")),
        organization_header: None,
        required,
    }
}

#[tokio::test]
async fn a_forwarded_user_credential_is_used_for_that_request_only() {
    let gateway = spawn_gateway_configured(|config| {
        config.cache.enabled = true;
        config.auth = AuthConfig::keys(vec![principal("front-end", ALICE_KEY)]);
        config.auth.forward = vec![spark_forward(false)];
    })
    .await;
    let sandbox = &gateway.sandbox;
    let own_token = sandbox.credential("spark", "token");
    let user_token = further_spark_token(1);
    let own_all = spark_ids_of(sandbox, &own_token).await;
    let user_all = spark_ids_of(sandbox, &user_token).await;
    let key = bearer(ALICE_KEY);
    let as_user = format!("Bearer {user_token}");
    let with_user = [
        ("x-api-key", ALICE_KEY),
        ("x-spark-authorization", as_user.as_str()),
    ];
    let without = [("authorization", key.as_str())];
    for query in [SPARK_NEWEST, SPARK_BY_NAME] {
        for (headers, expected_all, token) in [
            (&with_user[..], &user_all, &user_token),
            (&without[..], &own_all, &own_token),
            // Again, now that both lists are kept.
            (&with_user[..], &user_all, &user_token),
            (&without[..], &own_all, &own_token),
        ] {
            let before = sandbox_requests(sandbox).await.len();
            let ids = spark_ids(data(&post(&gateway, headers, query).await));
            assert!(
                !ids.is_empty() && ids.is_subset(expected_all),
                "{headers:?}"
            );
            let used = spark_credentials_used_since(sandbox, before).await;
            assert!(
                used.is_empty() || used == BTreeSet::from([token.clone()]),
                "{headers:?}: {used:?}"
            );
        }
    }
    // The first read with each credential went upstream with that one.
    let carried: BTreeSet<String> = sandbox_requests(sandbox)
        .await
        .iter()
        .filter(|r| r["source"] == "spark")
        .map(|r| r["credential"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(
        carried,
        BTreeSet::from([own_token.clone(), user_token.clone()])
    );

    // A forwarded token Spark refuses: that source's error says so, and the
    // other sources still answer.
    let refused = [
        ("x-api-key", ALICE_KEY),
        ("x-spark-authorization", "Bearer not-a-spark-token"),
    ];
    let answer = post(
        &gateway,
        &refused,
        "{ contacts(first: 40) { nodes { source } } }",
    )
    .await;
    assert_eq!(answer.status, 200, "{}", answer.body);
    let errors = answer.body["errors"].as_array().expect("errors");
    assert!(
        errors
            .iter()
            .any(|e| e["extensions"]["code"] == "UNAUTHENTICATED"
                && e["extensions"]["source"] == "spark"),
        "{}",
        answer.body
    );
    let sources: BTreeSet<&str> = answer.body["data"]["contacts"]["nodes"]
        .as_array()
        .expect("the other sources' contacts")
        .iter()
        .map(|n| n["source"].as_str().unwrap())
        .collect();
    assert!(
        !sources.is_empty() && !sources.contains("SPARK"),
        "{sources:?}"
    );
    assert!(!answer.body.to_string().contains("not-a-spark-token"));

    // A header that cannot be a credential is refused, never replaced by
    // the principal's own.
    let answer = post(
        &gateway,
        &[
            ("x-api-key", ALICE_KEY),
            ("x-spark-authorization", "Bearer "),
        ],
        SPARK_NEWEST,
    )
    .await;
    assert_eq!(answer.status, 401, "{}", answer.body);
    assert_eq!(answer.first_code(), "UNAUTHENTICATED");
    assert_eq!(answer.body["errors"][0]["extensions"]["source"], "spark");
}

#[tokio::test]
async fn a_required_forwarded_credential_must_be_sent() {
    let gateway = spawn_gateway_configured(|config| {
        config.auth = AuthConfig::open();
        config.auth.forward = vec![spark_forward(true)];
    })
    .await;
    let answer = post(&gateway, &[], SPARK_NEWEST).await;
    assert_eq!(answer.status, 401, "{}", answer.body);
    assert_eq!(answer.first_code(), "UNAUTHENTICATED");
    assert_eq!(answer.body["errors"][0]["extensions"]["source"], "spark");
    let user_token = further_spark_token(0);
    let answer = post(
        &gateway,
        &[("x-spark-authorization", &user_token)],
        SPARK_NEWEST,
    )
    .await;
    let ids = spark_ids(data(&answer));
    assert!(ids.is_subset(&spark_ids_of(&gateway.sandbox, &user_token).await));
}

#[tokio::test]
async fn a_browser_preflight_may_send_the_key_and_forwarded_headers() {
    let gateway = spawn_gateway_configured(|config| {
        config.cors.allow_origins = vec!["https://app.example.com".into()];
        config.auth = AuthConfig::keys(vec![principal("front-end", ALICE_KEY)]);
        config.auth.forward = vec![spark_forward(false)];
    })
    .await;
    let answer = gateway
        .request_with(
            "OPTIONS",
            "/graphql",
            &[
                ("origin", "https://app.example.com"),
                ("access-control-request-method", "POST"),
                (
                    "access-control-request-headers",
                    "content-type,x-api-key,x-spark-authorization",
                ),
            ],
        )
        .await;
    assert!(answer.status < 300, "{answer:?}");
    let allowed = answer.header("access-control-allow-headers").to_lowercase();
    for header in ["x-api-key", "x-spark-authorization", "authorization"] {
        assert!(allowed.contains(header), "{allowed}");
    }
}

fn limited(name: &str, key: &str, per_second: u32, per_minute: Option<u32>) -> PrincipalConfig {
    let mut principal = principal(name, key);
    principal.rate_limit = Some(contact_gateway::config::RateLimit {
        requests_per_second: per_second,
        burst: 1,
        upstream_requests_per_minute: per_minute,
    });
    principal
}

#[tokio::test]
async fn a_principal_over_its_rate_gets_429_with_retry_after_and_others_are_unaffected() {
    let gateway = spawn_gateway_configured(|config| {
        config.auth = AuthConfig::keys(vec![
            limited("tight", ALICE_KEY, 1, None),
            principal("other", BOB_KEY),
        ]);
    })
    .await;
    let tight = [("x-api-key", ALICE_KEY)];
    let other = [("x-api-key", BOB_KEY)];
    // One request a second with no burst: of a quick run of requests that
    // need no upstream, one is over the limit unless each took a second.
    let cheap = "{ __typename }";
    let mut answers = Vec::new();
    for _ in 0..10 {
        let answer = post(&gateway, &tight, cheap).await;
        let refused = answer.status == 429;
        answers.push(answer);
        if refused {
            break;
        }
    }
    assert_eq!(answers[0].status, 200, "{}", answers[0].body);
    let refused = answers.pop().expect("answers");
    assert_eq!(refused.status, 429, "{}", refused.body);
    assert_eq!(refused.first_code(), "RATE_LIMITED");
    assert!(refused.body.get("data").is_none(), "{}", refused.body);
    assert!(refused.header("content-type").contains("json"));
    let retry_after: u64 = refused.header("retry-after").parse().expect("Retry-After");
    assert_eq!(retry_after, 1);
    // Another principal is not held back by this one's limit.
    for _ in 0..5 {
        data(&post(&gateway, &other, CONTACTS).await);
    }
    // After the window the gateway named, the principal is served again.
    tokio::time::sleep(std::time::Duration::from_secs(retry_after)).await;
    data(&post(&gateway, &tight, CONTACTS).await);
}

#[tokio::test]
async fn the_upstream_budget_is_charged_with_each_operations_estimate() {
    let gateway = spawn_gateway_configured(|config| {
        config.auth = AuthConfig::keys(vec![
            limited("budgeted", ALICE_KEY, 1000, Some(2)),
            principal("other", BOB_KEY),
        ]);
    })
    .await;
    let budgeted = [("x-api-key", ALICE_KEY)];
    let first = "{ contacts(sources: [WINNERR], first: 1) { nodes { id } } }";
    let id = data(&post(&gateway, &[("x-api-key", BOB_KEY)], first).await)["contacts"]["nodes"][0]
        ["id"]
        .as_str()
        .unwrap()
        .to_string();
    let one_request = format!("{{ node(id: \"{id}\") {{ id }} }}");
    // A dry run is estimated, not run, and charges nothing.
    let dry = post(
        &gateway,
        &[("x-api-key", ALICE_KEY), ("x-graphql-dry-run", "1")],
        &one_request,
    )
    .await;
    assert_eq!(
        dry.body["extensions"]["upstreamCallEstimate"]["winnerr"], 1,
        "{}",
        dry.body
    );
    data(&post(&gateway, &budgeted, &one_request).await);
    data(&post(&gateway, &budgeted, &one_request).await);
    let refused = post(&gateway, &budgeted, &one_request).await;
    assert_eq!(refused.status, 429, "{}", refused.body);
    assert_eq!(refused.first_code(), "RATE_LIMITED");
    let retry_after: u64 = refused.header("retry-after").parse().expect("Retry-After");
    assert!((1..=30).contains(&retry_after), "{retry_after}");
    data(&post(&gateway, &[("x-api-key", BOB_KEY)], &one_request).await);
    // An operation estimated above a whole minute's budget can never run.
    let answer = post(&gateway, &budgeted, CONTACTS).await;
    assert_eq!(
        answer.first_code(),
        "UPSTREAM_BUDGET_EXCEEDED",
        "{}",
        answer.body
    );
}

#[tokio::test]
async fn a_forwarded_django_crm_token_and_organization_read_that_organization() {
    let gateway = spawn_gateway_configured(|config| {
        config.auth = AuthConfig::open();
        config.auth.forward = vec![contact_gateway::auth::config::ForwardConfig {
            source: SourceKind::DjangoCrm,
            header: Some(axum::http::HeaderName::from_static(
                "x-djangocrm-authorization",
            )),
            organization_header: Some(axum::http::HeaderName::from_static(
                "x-djangocrm-organization",
            )),
            required: false,
        }];
    })
    .await;
    let sandbox = &gateway.sandbox;
    let query = "{ contacts(sources: [DJANGO_CRM], first: 50) { nodes { sourceId } } }";
    let ids = |answer: &HttpAnswer| -> BTreeSet<String> {
        data(answer)["contacts"]["nodes"]
            .as_array()
            .expect("nodes")
            .iter()
            .map(|node| node["sourceId"].as_str().unwrap().to_string())
            .collect()
    };
    let own = ids(&post(&gateway, &[], query).await);
    let other_token = format!(
        "{}{}",
        sandbox.credential("djangocrm", "token"),
        contact_gateway::sandbox::djangocrm::OTHER_ORGANIZATION_TOKEN_SUFFIX
    );
    let other_organization = contact_gateway::sandbox::djangocrm::SECOND_ORGANIZATION_ID;
    let before = sandbox_requests(sandbox).await.len();
    let theirs = ids(&post(
        &gateway,
        &[
            (
                "x-djangocrm-authorization",
                &format!("Bearer {other_token}"),
            ),
            ("x-djangocrm-organization", other_organization),
        ],
        query,
    )
    .await);
    assert!(!own.is_empty() && !theirs.is_empty());
    assert!(own.is_disjoint(&theirs));
    let carried: BTreeSet<(String, String)> = sandbox_requests(sandbox).await[before..]
        .iter()
        .filter(|r| r["source"] == "djangocrm")
        .map(|r| {
            (
                r["credential"].as_str().unwrap().to_string(),
                r["organization_id"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    assert_eq!(
        carried,
        BTreeSet::from([(other_token.clone(), other_organization.to_string())])
    );
    // The organization alone, with the gateway's token whose user is not a
    // member of it: Django-CRM refuses, and the error names the source.
    let answer = post(
        &gateway,
        &[("x-djangocrm-organization", other_organization)],
        query,
    )
    .await;
    assert_eq!(
        answer.body["errors"][0]["extensions"]["source"], "djangocrm",
        "{}",
        answer.body
    );
}

/// A mutation the gateway knows from a writer's requests (`edge::documents`)
/// is still refused to a read-only key, and to a key that may not use its
/// source: what is known about a text never stands in for who sends it.
#[tokio::test]
async fn a_known_mutation_is_still_refused_to_a_read_only_or_restricted_key() {
    let mut reader = principal("reader", ALICE_KEY);
    reader.read_only = true;
    let mut spark_only = principal("spark-only", CAROL_KEY);
    spark_only.allowed_sources = Some(vec![SourceKind::Spark]);
    let gateway = spawn_gateway_configured(move |config| {
        config.auth = AuthConfig::keys(vec![reader, principal("writer", BOB_KEY), spark_only]);
    })
    .await;
    let update = r#"mutation { updateContact(input: {id: "not-a-contact", firstName: "Rita"}) { contact { id } } }"#;
    let writer = bearer(BOB_KEY);
    for _ in 0..2 {
        let answer = post(&gateway, &[("authorization", writer.as_str())], update).await;
        assert_eq!(answer.status, 200, "{}", answer.body);
    }
    let before = sandbox_requests(&gateway.sandbox).await.len();
    let reader = bearer(ALICE_KEY);
    let answer = post(&gateway, &[("authorization", reader.as_str())], update).await;
    assert_eq!(answer.status, 403, "{}", answer.body);
    assert_eq!(answer.first_code(), "FORBIDDEN");

    let query = "{ contacts(sources: [WINNERR], first: 1) { nodes { id } } }";
    for _ in 0..2 {
        data(&post(&gateway, &[("authorization", writer.as_str())], query).await);
    }
    let before_restricted = sandbox_requests(&gateway.sandbox).await.len();
    let restricted = bearer(CAROL_KEY);
    let answer = post(&gateway, &[("authorization", restricted.as_str())], query).await;
    assert_eq!(answer.first_code(), "FORBIDDEN", "{}", answer.body);
    assert_eq!(
        sandbox_requests(&gateway.sandbox).await.len(),
        before_restricted,
        "a refused read reached an upstream"
    );
    assert!(before <= before_restricted);
}
