//! The gateway's HTTP surface and the `demo` and `serve` commands, end to end.

use std::time::Duration;

use serde_json::json;
use tokio::io::AsyncBufReadExt;

use crate::helpers::spawn_gateway;

#[tokio::test]
async fn health_readiness_and_graphiql() {
    let gateway = spawn_gateway().await;
    let client = &gateway.sandbox.client;
    for (path, body) in [("/healthz", "ok"), ("/readyz", "ready")] {
        let response = client
            .get(format!("{}{path}", gateway.url))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200);
        assert_eq!(response.text().await.unwrap(), body);
    }
    let page = client
        .get(&gateway.graphql_url)
        .header("accept", "text/html,application/xhtml+xml")
        .send()
        .await
        .unwrap();
    assert_eq!(page.status(), 200);
    assert!(page.headers()["content-type"]
        .to_str()
        .unwrap()
        .starts_with("text/html"));
    assert!(page
        .text()
        .await
        .unwrap()
        .to_lowercase()
        .contains("graphiql"));
}

#[tokio::test]
async fn graphql_over_get_with_a_query_string() {
    let gateway = spawn_gateway().await;
    let response: serde_json::Value = gateway
        .sandbox
        .client
        .get(&gateway.graphql_url)
        .query(&[("query", "{ __typename }")])
        .header("x-graphql-csrf", "1")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(response, json!({ "data": { "__typename": "Query" } }));
}

#[tokio::test]
async fn answers_are_json_over_post_and_get_and_request_errors_have_no_data() {
    let gateway = spawn_gateway().await;
    let client = &gateway.sandbox.client;
    let post = client
        .post(&gateway.graphql_url)
        .json(&json!({ "query": "{ __typename }" }))
        .send()
        .await
        .unwrap();
    let get = client
        .get(&gateway.graphql_url)
        .query(&[("query", "{ nope }")])
        .header("x-graphql-csrf", "1")
        .send()
        .await
        .unwrap();
    for (response, expected) in [
        (post, json!({ "data": { "__typename": "Query" } })),
        (
            get,
            json!({ "errors": [{
                "message": "Unknown field \"nope\" on type \"Query\". Did you mean \"node\"?",
                "locations": [{ "line": 1, "column": 3 }],
                "extensions": { "code": "GRAPHQL_VALIDATION_FAILED" }
            }] }),
        ),
    ] {
        assert_eq!(response.status(), 200);
        assert_eq!(
            response.headers()["content-type"],
            "application/json; charset=utf-8"
        );
        let body: serde_json::Value = response.json().await.unwrap();
        assert_eq!(body, expected);
    }
}

#[tokio::test]
async fn malformed_and_foreign_ids_are_bad_input_without_upstream_calls() {
    let gateway = spawn_gateway().await;
    let property_id = contact_gateway::domain::GlobalId::new(
        contact_gateway::domain::NodeType::Property,
        contact_gateway::domain::SourceKind::OpenToClose,
        "1",
    )
    .encode();
    for (query, variables) in [
        (
            "query($id: ID!) { node(id: $id) { id } }",
            json!({ "id": "not-an-id" }),
        ),
        (
            "query($id: ID!) { contact(id: $id) { id } }",
            json!({ "id": "Q29udGFjdDpub3BlOjE" }),
        ),
        (
            "query($id: ID!) { contact(id: $id) { id } }",
            json!({ "id": property_id }),
        ),
        (
            "query($ids: [ID!]!) { nodes(ids: $ids) { id } }",
            json!({ "ids": ["", "x"] }),
        ),
    ] {
        let body = gateway.graphql(query, variables.clone()).await;
        let error = &body["errors"][0];
        assert_eq!(
            error["extensions"]["code"], "BAD_USER_INPUT",
            "{variables}: {body}"
        );
        assert!(error["message"].as_str().unwrap().len() > 5);
    }
    assert_eq!(gateway.sandbox.stats().await["total"], 0);
}

/// Reads lines from a child's stdout until one starts with `prefix`.
async fn line_starting_with(
    lines: &mut tokio::io::Lines<tokio::io::BufReader<tokio::process::ChildStdout>>,
    prefix: &str,
) -> String {
    let wait = async {
        while let Some(line) = lines.next_line().await.unwrap() {
            if let Some(rest) = line.strip_prefix(prefix) {
                return rest.to_string();
            }
        }
        panic!("the process ended without printing `{prefix}`");
    };
    tokio::time::timeout(Duration::from_secs(60), wait)
        .await
        .expect("the line never came")
}

#[tokio::test]
async fn the_demo_command_serves_graphiql_in_front_of_a_sandbox() {
    let mut child = tokio::process::Command::new(env!("CARGO_BIN_EXE_contact-gateway"))
        .args(["demo", "--port", "0"])
        .stdout(std::process::Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let mut lines = tokio::io::BufReader::new(child.stdout.take().unwrap()).lines();
    let sandbox = line_starting_with(&mut lines, "sandbox: ").await;
    let key = line_starting_with(&mut lines, "demo key: ").await;
    let graphiql = line_starting_with(&mut lines, "GraphiQL: ").await;
    assert!(sandbox.starts_with("http://127.0.0.1:"), "{sandbox}");
    // The page's address carries the key in its fragment, which the
    // browser keeps to itself and GraphiQL's page reads into its headers.
    let (graphiql, fragment) = graphiql.split_once('#').expect("a fragment");
    assert_eq!(fragment, format!("key={key}"));
    assert!(
        graphiql.starts_with("http://127.0.0.1:") && graphiql.ends_with("/graphql"),
        "{graphiql}"
    );
    let query =
        json!({ "query": "{ contacts(first: 3) { edges { node { displayName source } } } }" });
    let without_key = reqwest::Client::new()
        .post(graphiql)
        .json(&query)
        .send()
        .await
        .unwrap();
    assert_eq!(without_key.status(), 401);
    let response: serde_json::Value = reqwest::Client::new()
        .post(graphiql)
        .bearer_auth(&key)
        .json(
            &json!({ "query": "{ contacts(first: 3) { edges { node { displayName source } } } }" }),
        )
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(
        response["data"]["contacts"]["edges"].is_array(),
        "{response}"
    );
    child.kill().await.unwrap();
}

#[tokio::test]
async fn the_serve_command_reads_a_config_file_and_secrets_from_the_environment() {
    let sandbox = crate::helpers::spawn_sandbox().await;
    let directory =
        std::env::temp_dir().join(format!("contact-gateway-serve-{}", std::process::id()));
    std::fs::create_dir_all(&directory).unwrap();
    let path = directory.join("gateway.toml");
    std::fs::write(
        &path,
        format!(
            "listen = \"127.0.0.1:0\"\n[auth]\nmode = \"open\"\n[sources.opentoclose]\nbase_url = \"{}\"\napi_token_env = \"TEST_OTC_TOKEN\"\n",
            sandbox.base("opentoclose")
        ),
    )
    .unwrap();
    let mut child = tokio::process::Command::new(env!("CARGO_BIN_EXE_contact-gateway"))
        .args(["serve", "--config", path.to_str().unwrap()])
        .env(
            "TEST_OTC_TOKEN",
            sandbox.credential("opentoclose", "api_token"),
        )
        .stdout(std::process::Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let mut lines = tokio::io::BufReader::new(child.stdout.take().unwrap()).lines();
    let graphiql = line_starting_with(&mut lines, "GraphiQL: ").await;
    let id = contact_gateway::domain::GlobalId::new(
        contact_gateway::domain::NodeType::Contact,
        contact_gateway::domain::SourceKind::OpenToClose,
        "1",
    )
    .encode();
    let response: serde_json::Value = reqwest::Client::new()
        .post(&graphiql)
        .json(&json!({ "query": "query($id: ID!) { contact(id: $id) { sourceId source } }", "variables": { "id": id } }))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(
        response["data"]["contact"],
        json!({ "sourceId": "1", "source": "OPEN_TO_CLOSE" })
    );
    child.kill().await.unwrap();
    std::fs::remove_dir_all(&directory).ok();
}

#[tokio::test]
async fn the_serve_command_rejects_unknown_keys_with_a_clear_message() {
    let directory =
        std::env::temp_dir().join(format!("contact-gateway-bad-{}", std::process::id()));
    std::fs::create_dir_all(&directory).unwrap();
    let path = directory.join("gateway.toml");
    std::fs::write(&path, "listen = \"127.0.0.1:0\"\nlisen = 1\n").unwrap();
    let output = tokio::process::Command::new(env!("CARGO_BIN_EXE_contact-gateway"))
        .args(["serve", "--config", path.to_str().unwrap()])
        .output()
        .await
        .unwrap();
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("unknown field `lisen`"), "{stderr}");
    std::fs::remove_dir_all(&directory).ok();
}

#[tokio::test]
async fn the_serve_command_refuses_a_config_without_auth() {
    let directory =
        std::env::temp_dir().join(format!("contact-gateway-no-auth-{}", std::process::id()));
    std::fs::create_dir_all(&directory).unwrap();
    let path = directory.join("gateway.toml");
    std::fs::write(
        &path,
        "listen = \"127.0.0.1:0\"\n[sources.opentoclose]\nbase_url = \"http://127.0.0.1:9/otc\"\napi_token_env = \"TEST_OTC_TOKEN\"\n",
    )
    .unwrap();
    let output = tokio::process::Command::new(env!("CARGO_BIN_EXE_contact-gateway"))
        .args(["serve", "--config", path.to_str().unwrap()])
        .env("TEST_OTC_TOKEN", "x")
        .output()
        .await
        .unwrap();
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("no [auth] section"), "{stderr}");
    assert!(stderr.contains("mode = \"open\""), "{stderr}");
    assert!(output.stdout.is_empty(), "it served");
    std::fs::remove_dir_all(&directory).ok();
}

#[cfg(unix)]
#[tokio::test]
async fn sigterm_shuts_the_demo_down_cleanly() {
    let mut child = tokio::process::Command::new(env!("CARGO_BIN_EXE_contact-gateway"))
        .args(["demo", "--port", "0"])
        .stdout(std::process::Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let mut lines = tokio::io::BufReader::new(child.stdout.take().unwrap()).lines();
    line_starting_with(&mut lines, "GraphiQL: ").await;
    let pid = child.id().unwrap().to_string();
    let killed = std::process::Command::new("kill")
        .args(["-TERM", &pid])
        .status()
        .unwrap();
    assert!(killed.success());
    let status = tokio::time::timeout(Duration::from_secs(30), child.wait())
        .await
        .expect("the demo did not stop after SIGTERM")
        .unwrap();
    assert!(status.success(), "{status}");
}
