//! Trusted documents, end to end: with `[operations] only_trusted = true`
//! the operations of the manifest run, by `documentId`, by Apollo's
//! persisted query hash or by their full text, and everything else is
//! refused with `OPERATION_NOT_TRUSTED` before any upstream request.

use std::path::PathBuf;
use std::sync::Arc;

use contact_gateway::edge::trusted::{sha256_hex, TrustedDocuments};
use serde_json::json;

use crate::helpers::{spawn_gateway_configured, TestGateway};

const JSON: (&str, &str) = ("content-type", "application/json");
const TRUSTED: &str =
    "query WinnerrNames { contacts(first: 2, sources: [WINNERR]) { nodes { displayName } } }";
const UNTRUSTED: &str = "{ contacts(first: 2, sources: [WINNERR]) { nodes { displayName } } }";
const CREATE: &str = r#"mutation { createContact(input: {source: WINNERR, firstName: "Eve", lastName: "Forger", email: "eve@forger.example"}) { contact { id } } }"#;

/// Writes a manifest as GraphQL Code Generator's client preset does and
/// returns its path, in a directory of its own.
fn write_manifest(name: &str, manifest: serde_json::Value) -> PathBuf {
    let directory = std::env::temp_dir().join(format!(
        "contact-gateway-trusted-{name}-{}",
        std::process::id()
    ));
    std::fs::create_dir_all(&directory).unwrap();
    let path = directory.join("persisted-documents.json");
    std::fs::write(&path, manifest.to_string()).unwrap();
    path
}

async fn spawn_trusted_gateway(name: &str, only_trusted: bool) -> TestGateway {
    let path = write_manifest(name, json!({ sha256_hex(TRUSTED): TRUSTED }));
    let trusted = TrustedDocuments::load(&path).expect("manifest");
    spawn_gateway_configured(move |config| {
        config.operations.trusted_documents = Some(path);
        config.operations.trusted = Some(Arc::new(trusted));
        config.operations.only_trusted = only_trusted;
    })
    .await
}

#[tokio::test]
async fn only_trusted_runs_manifest_operations_and_refuses_everything_else() {
    let gateway = spawn_trusted_gateway("only", true).await;
    let hash = sha256_hex(TRUSTED);
    let persisted = json!({ "persistedQuery": { "version": 1, "sha256Hash": hash } });
    let runs = [
        json!({ "documentId": hash }),
        json!({ "documentId": format!("sha256:{hash}") }),
        json!({ "extensions": persisted }),
        json!({ "query": TRUSTED }),
        json!({ "query": TRUSTED, "extensions": persisted }),
    ];
    let mut expected = None;
    for body in runs {
        let before = gateway.upstream_requests().await;
        let answer = gateway.post_with(&[JSON], body.to_string()).await;
        assert_eq!(answer.status, 200, "{body}: {answer:?}");
        assert!(answer.body.get("errors").is_none(), "{body}: {answer:?}");
        let names = answer.body["data"]["contacts"]["nodes"].clone();
        assert_eq!(
            names.as_array().map(Vec::len),
            Some(2),
            "{body}: {answer:?}"
        );
        assert!(gateway.upstream_requests().await > before, "{body}");
        // Every way of naming the document runs the same operation.
        assert_eq!(expected.get_or_insert_with(|| names.clone()), &names);
    }
    let over_get = gateway
        .get_with(&[("documentId", hash.as_str())], &[("x-graphql-csrf", "1")])
        .await;
    assert_eq!(over_get.status, 200, "{over_get:?}");
    assert_eq!(
        over_get.body["data"]["contacts"]["nodes"],
        expected.unwrap()
    );

    let unknown = sha256_hex(UNTRUSTED);
    let refused = [
        json!({ "query": UNTRUSTED }),
        json!({ "query": CREATE }),
        json!({ "query": format!("{TRUSTED} ") }),
        json!({ "documentId": unknown }),
        json!({ "documentId": "not-a-hash" }),
        json!({ "extensions": { "persistedQuery": { "version": 1, "sha256Hash": unknown } } }),
        json!({ "query": UNTRUSTED, "extensions": { "persistedQuery": { "version": 1, "sha256Hash": unknown } } }),
        // A trusted hash does not lend its trust to another text.
        json!({ "query": UNTRUSTED, "extensions": persisted }),
        json!({ "query": UNTRUSTED, "documentId": hash }),
    ];
    let before = gateway.upstream_requests().await;
    for body in refused {
        for accept in ["application/json", "application/graphql-response+json"] {
            let answer = gateway
                .post_with(&[JSON, ("accept", accept)], body.to_string())
                .await;
            let status = if accept == "application/json" {
                200
            } else {
                400
            };
            assert_eq!(answer.status, status, "{body}: {answer:?}");
            assert_eq!(answer.first_code(), "OPERATION_NOT_TRUSTED", "{body}");
            assert!(answer.body.get("data").is_none(), "{body}: {answer:?}");
            assert!(
                answer.body["errors"][0]["message"]
                    .as_str()
                    .unwrap()
                    .contains("only trusted documents"),
                "{answer:?}"
            );
        }
    }
    let over_get = gateway
        .get_with(&[("query", UNTRUSTED)], &[("x-graphql-csrf", "1")])
        .await;
    assert_eq!(over_get.first_code(), "OPERATION_NOT_TRUSTED");
    assert_eq!(gateway.upstream_requests().await, before);
}

#[tokio::test]
async fn a_manifest_without_only_trusted_adds_documents_and_refuses_nothing() {
    let gateway = spawn_trusted_gateway("open", false).await;
    let by_id = gateway
        .post_with(
            &[JSON],
            json!({ "documentId": sha256_hex(TRUSTED) }).to_string(),
        )
        .await;
    assert_eq!(by_id.status, 200, "{by_id:?}");
    assert_eq!(
        by_id.body["data"]["contacts"]["nodes"]
            .as_array()
            .map(Vec::len),
        Some(2),
        "{by_id:?}"
    );
    let other = gateway
        .post_with(&[JSON], json!({ "query": UNTRUSTED }).to_string())
        .await;
    assert_eq!(other.body["data"], by_id.body["data"], "{other:?}");
    // An id that names no document is not found, and costs nothing.
    let before = gateway.upstream_requests().await;
    let unknown = gateway
        .post_with(
            &[JSON],
            json!({ "documentId": sha256_hex(UNTRUSTED) }).to_string(),
        )
        .await;
    assert_eq!(
        unknown.first_code(),
        "PERSISTED_QUERY_NOT_FOUND",
        "{unknown:?}"
    );
    assert!(unknown.body.get("data").is_none());
    assert_eq!(gateway.upstream_requests().await, before);
}

#[tokio::test]
async fn the_serve_command_refuses_a_bad_manifest_at_start() {
    let path = write_manifest("bad", json!({ sha256_hex(UNTRUSTED): TRUSTED }));
    let config = path.with_file_name("gateway.toml");
    std::fs::write(
        &config,
        "listen = \"127.0.0.1:0\"\n[operations]\ntrusted_documents = \"persisted-documents.json\"\nonly_trusted = true\n\
         [sources.winnerr]\nbase_url = \"http://127.0.0.1:9/winnerr/v1\"\ntoken_env = \"TRUSTED_TEST_TOKEN\"\n\
         [auth]\nmode = \"open\"\n",
    )
    .unwrap();
    let output = tokio::process::Command::new(env!("CARGO_BIN_EXE_contact-gateway"))
        .args(["serve", "--config", config.to_str().unwrap()])
        .env("TRUSTED_TEST_TOKEN", "t")
        .output()
        .await
        .unwrap();
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("operations.trusted_documents"), "{stderr}");
    assert!(
        stderr.contains("is not the SHA-256 of its document"),
        "{stderr}"
    );
    std::fs::remove_dir_all(path.parent().unwrap()).ok();
}
