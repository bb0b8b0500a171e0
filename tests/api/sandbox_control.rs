//! Tests of the sandbox's own instrumentation: stats, faults, latency, reset,
//! credentials, and the `contact-gateway sandbox` command.

use std::time::{Duration, Instant};

use serde_json::json;

use crate::helpers::spawn_sandbox;

#[tokio::test]
async fn credentials_have_the_documented_shape() {
    let sandbox = spawn_sandbox().await;
    let c = &sandbox.credentials;
    for (source, keys) in [
        ("opentoclose", &["api_token"][..]),
        ("djangocrm", &["token", "organization_id"][..]),
        ("winnerr", &["token"][..]),
        ("spark", &["token", "user_agent", "more_users"][..]),
    ] {
        let object = c[source]
            .as_object()
            .unwrap_or_else(|| panic!("{source} missing"));
        assert_eq!(object.len(), keys.len(), "{source}: {object:?}");
        for key in keys.iter().filter(|key| **key != "more_users") {
            assert!(!object[*key].as_str().unwrap().is_empty(), "{source}.{key}");
        }
    }
    let users = c["spark"]["more_users"].as_array().expect("more_users");
    assert_eq!(users.len(), 2);
    for user in users {
        for key in ["name", "user_id", "token"] {
            assert!(!user[key].as_str().unwrap().is_empty(), "{user}");
        }
    }
}

#[tokio::test]
async fn requests_record_the_credential_each_carried() {
    let sandbox = spawn_sandbox().await;
    let otc = sandbox.credential("opentoclose", "api_token");
    sandbox
        .client
        .get(format!(
            "{}/contacts/1?api_token={otc}",
            sandbox.base("opentoclose")
        ))
        .send()
        .await
        .unwrap();
    sandbox
        .client
        .get(format!("{}/contacts/", sandbox.base("djangocrm")))
        .header("Authorization", "Bearer dj-token")
        .header("organization-id", "org-1")
        .send()
        .await
        .unwrap();
    sandbox
        .client
        .get(format!("{}/contacts", sandbox.base("winnerr")))
        .send()
        .await
        .unwrap();
    let log: serde_json::Value = sandbox
        .client
        .get(format!("{}/_sandbox/requests", sandbox.url))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(
        log["requests"],
        json!([
            {"source": "opentoclose", "method": "GET", "route": "/v1/contacts/{id}",
             "credential": otc, "organization_id": null},
            {"source": "djangocrm", "method": "GET", "route": "/api/contacts/",
             "credential": "dj-token", "organization_id": "org-1"},
            {"source": "winnerr", "method": "GET", "route": "/v1/contacts",
             "credential": null, "organization_id": null},
        ])
    );
    sandbox.reset().await;
    let log: serde_json::Value = sandbox
        .client
        .get(format!("{}/_sandbox/requests", sandbox.url))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(log["requests"], json!([]));
}

#[tokio::test]
async fn stats_count_every_request_by_source_and_route_template() {
    let sandbox = spawn_sandbox().await;
    let token = sandbox.credential("opentoclose", "api_token");
    for id in [1, 2, 3] {
        sandbox
            .client
            .get(format!(
                "{}/contacts/{id}?api_token={token}",
                sandbox.base("opentoclose")
            ))
            .send()
            .await
            .unwrap();
    }
    sandbox
        .client
        .get(format!("{}/contacts", sandbox.base("winnerr")))
        .send()
        .await
        .unwrap();
    let stats = sandbox.stats().await;
    assert_eq!(stats["total"], 4);
    assert_eq!(stats["by_source"]["opentoclose"], 3);
    assert_eq!(stats["by_source"]["winnerr"], 1);
    assert_eq!(stats["by_source"]["djangocrm"], 0);
    assert_eq!(stats["by_source"]["spark"], 0);
    assert_eq!(
        sandbox
            .route_count("opentoclose", "GET", "/v1/contacts/{id}")
            .await,
        3
    );
    assert_eq!(
        sandbox.route_count("winnerr", "GET", "/v1/contacts").await,
        1
    );
}

async fn configure_fault(sandbox: &crate::helpers::TestSandbox, source: &str, kind: &str) {
    sandbox
        .configure(json!({ (source): { "faults": [{ "kind": kind, "rate": 1.0 }] } }))
        .await;
}

#[tokio::test]
async fn http_error_faults_use_each_source_envelope() {
    let sandbox = spawn_sandbox().await;
    configure_fault(&sandbox, "opentoclose", "http_500").await;
    configure_fault(&sandbox, "djangocrm", "http_503").await;
    configure_fault(&sandbox, "winnerr", "http_500").await;
    configure_fault(&sandbox, "spark", "http_503").await;

    let get = |url: String| sandbox.client.get(url).send();
    let r = get(format!("{}/contacts", sandbox.base("opentoclose")))
        .await
        .unwrap();
    assert_eq!(r.status(), 500);
    assert_eq!(
        r.json::<serde_json::Value>().await.unwrap(),
        json!({"message": "Internal server error"})
    );

    let r = get(format!("{}/contacts/", sandbox.base("djangocrm")))
        .await
        .unwrap();
    assert_eq!(r.status(), 503);
    assert_eq!(
        r.json::<serde_json::Value>().await.unwrap(),
        json!({"detail": "Service unavailable"})
    );

    let r = get(format!("{}/contacts", sandbox.base("winnerr")))
        .await
        .unwrap();
    assert_eq!(r.status(), 500);
    let body: serde_json::Value = r.json().await.unwrap();
    assert_eq!(body["success"], false);
    assert_eq!(body["error"]["status"], 500);
    assert_eq!(body["error"]["type"], "server_error");

    let r = get(format!("{}/contacts", sandbox.base("spark")))
        .await
        .unwrap();
    assert_eq!(r.status(), 503);
    let body: serde_json::Value = r.json().await.unwrap();
    assert_eq!(body["D"]["Success"], false);
    assert_eq!(body["D"]["Code"], 503);
}

#[tokio::test]
async fn rate_limit_fault_sends_retry_after_and_spark_uses_1550() {
    let sandbox = spawn_sandbox().await;
    sandbox
        .configure(json!({
            "winnerr": { "faults": [{ "kind": "http_429", "rate": 1.0, "retry_after_s": 7 }] },
            "spark": { "faults": [{ "kind": "http_429", "rate": 1.0 }] },
        }))
        .await;
    let r = sandbox
        .client
        .get(format!("{}/contacts", sandbox.base("winnerr")))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 429);
    assert_eq!(r.headers()["retry-after"], "7");

    let r = sandbox
        .client
        .get(format!("{}/contacts", sandbox.base("spark")))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 503);
    assert_eq!(r.headers()["retry-after"], "1");
    let body: serde_json::Value = r.json().await.unwrap();
    assert_eq!(body["D"]["Code"], 1550);
    assert_eq!(body["D"]["Success"], false);
}

#[tokio::test]
async fn malformed_json_and_html_error_answer_200_with_unusable_bodies() {
    let sandbox = spawn_sandbox().await;
    configure_fault(&sandbox, "opentoclose", "malformed_json").await;
    configure_fault(&sandbox, "spark", "html_error").await;

    let r = sandbox
        .client
        .get(format!("{}/contacts", sandbox.base("opentoclose")))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["content-type"], "application/json");
    let text = r.text().await.unwrap();
    assert!(
        serde_json::from_str::<serde_json::Value>(&text).is_err(),
        "{text}"
    );

    let r = sandbox
        .client
        .get(format!("{}/contacts", sandbox.base("spark")))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert!(r.headers()["content-type"]
        .to_str()
        .unwrap()
        .starts_with("text/html"));
    assert!(r.text().await.unwrap().contains("<html>"));
}

#[tokio::test]
async fn reset_fault_closes_the_connection_mid_body() {
    let sandbox = spawn_sandbox().await;
    configure_fault(&sandbox, "winnerr", "reset").await;
    let result = sandbox
        .client
        .get(format!("{}/contacts", sandbox.base("winnerr")))
        .send()
        .await;
    // Depending on how the first bytes were flushed, the client fails either
    // while reading the head or while reading the body; it never gets it whole.
    match result {
        Err(error) => assert!(!error.is_timeout(), "{error}"),
        Ok(response) => assert!(
            response.bytes().await.is_err(),
            "the body must not arrive whole"
        ),
    }
}

#[tokio::test]
async fn hang_fault_never_answers_until_the_client_gives_up() {
    let sandbox = spawn_sandbox().await;
    configure_fault(&sandbox, "djangocrm", "hang").await;
    let result = sandbox
        .client
        .get(format!("{}/contacts/", sandbox.base("djangocrm")))
        .timeout(Duration::from_millis(300))
        .send()
        .await;
    let error = result.expect_err("a hung request must not answer");
    assert!(error.is_timeout(), "{error}");
}

#[tokio::test]
async fn fault_count_limits_how_often_a_fault_fires_and_rate_zero_never_fires() {
    let sandbox = spawn_sandbox().await;
    sandbox
        .configure(json!({
            "winnerr": { "faults": [{ "kind": "http_500", "rate": 1.0, "count": 2 }] },
            "spark": { "faults": [{ "kind": "http_500", "rate": 0.0 }] },
        }))
        .await;
    let mut statuses = Vec::new();
    for _ in 0..4 {
        let r = sandbox
            .client
            .get(format!("{}/contacts", sandbox.base("winnerr")))
            .send()
            .await
            .unwrap();
        statuses.push(r.status().as_u16());
    }
    assert_eq!(statuses[..2], [500, 500]);
    assert!(statuses[2..].iter().all(|s| *s != 500), "{statuses:?}");
    for _ in 0..5 {
        let r = sandbox
            .client
            .get(format!("{}/contacts", sandbox.base("spark")))
            .send()
            .await
            .unwrap();
        assert_ne!(r.status(), 500);
    }
}

#[tokio::test]
async fn invalid_behaviour_is_rejected_with_a_message() {
    let sandbox = spawn_sandbox().await;
    for bad in [
        json!({ "nosuch": {} }),
        json!({ "spark": { "faults": [{ "kind": "explode", "rate": 1.0 }] } }),
        json!({ "spark": { "faults": [{ "kind": "hang", "rate": 2.0 }] } }),
        json!({ "spark": { "latency": 5 } }),
    ] {
        let r = sandbox
            .client
            .post(format!("{}/_sandbox/config", sandbox.url))
            .json(&bad)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 400, "{bad}");
        let body: serde_json::Value = r.json().await.unwrap();
        assert!(body["error"].as_str().unwrap().len() > 10, "{body}");
    }
}

#[tokio::test]
async fn latency_setting_delays_only_the_configured_source() {
    let sandbox = spawn_sandbox().await;
    sandbox
        .configure(json!({ "winnerr": { "latency_ms": 250 } }))
        .await;
    let started = Instant::now();
    sandbox
        .client
        .get(format!("{}/contacts", sandbox.base("winnerr")))
        .send()
        .await
        .unwrap();
    // A lower bound only: the delay is configured, so it cannot be shorter.
    assert!(started.elapsed() >= Duration::from_millis(250));

    let config: serde_json::Value = sandbox
        .client
        .get(format!("{}/_sandbox/config", sandbox.url))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(config["winnerr"]["latency_ms"], 250);
    assert_eq!(config["spark"]["latency_ms"], 0);
}

#[tokio::test]
async fn reset_restores_counters_and_behaviour() {
    let sandbox = spawn_sandbox().await;
    configure_fault(&sandbox, "spark", "http_500").await;
    sandbox
        .client
        .get(format!("{}/contacts", sandbox.base("spark")))
        .send()
        .await
        .unwrap();
    assert_eq!(sandbox.stats().await["total"], 1);
    sandbox.reset().await;
    assert_eq!(sandbox.stats().await["total"], 0);
    let r = sandbox
        .client
        .get(format!("{}/contacts", sandbox.base("spark")))
        .send()
        .await
        .unwrap();
    assert_ne!(r.status(), 500, "faults must be cleared by reset");
}

#[tokio::test]
async fn the_sandbox_command_prints_its_url_and_serves_on_it() {
    use tokio::io::AsyncBufReadExt;
    let mut child = tokio::process::Command::new(env!("CARGO_BIN_EXE_contact-gateway"))
        .args(["sandbox", "--port", "0", "--seed", "3"])
        .stdout(std::process::Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("spawn contact-gateway sandbox");
    let stdout = child.stdout.take().unwrap();
    let mut lines = tokio::io::BufReader::new(stdout).lines();
    let first = tokio::time::timeout(Duration::from_secs(30), lines.next_line())
        .await
        .expect("the sandbox printed nothing")
        .unwrap()
        .unwrap();
    let url = first.strip_prefix("sandbox: ").expect(&first).to_string();
    assert!(url.starts_with("http://127.0.0.1:"), "{url}");
    let credentials: serde_json::Value = reqwest::get(format!("{url}/_sandbox/credentials"))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(credentials["spark"]["token"].is_string());
    child.kill().await.unwrap();
}
