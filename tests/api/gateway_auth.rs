//! Callers over real HTTP: API keys, read-only principals and allowed
//! sources, per-principal upstream credentials and their isolation
//! (answers and everything the gateway keeps), forwarded user credentials,
//! and rate limits.

use contact_gateway::auth::keys::KeyHash;
use contact_gateway::config::{AuthConfig, PrincipalConfig};
use serde_json::json;

use crate::helpers::{spawn_gateway_configured, HttpAnswer, TestGateway};

const ALICE_KEY: &str = "cgk_test-alice-key";

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
