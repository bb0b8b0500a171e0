//! Hostile input: requests built to make the gateway do unbounded work.
//! Each is refused quickly with a 4xx or a GraphQL error, before any
//! upstream request, without the gateway process's peak memory growing by
//! 50 MB, and the gateway answers the next request normally.
//!
//! The gateway runs as its own process (`contact-gateway serve`), so its
//! peak resident set size is its own, not the test binary's.

use std::time::{Duration, Instant};

use serde_json::json;

use crate::helpers::{send_raw_with_prefix, spawn_gateway_process, HttpAnswer, ProcessGateway};

/// One hostile request and the codes that may refuse it.
struct Case {
    name: &'static str,
    request: Request,
    codes: &'static [&'static str],
}

enum Request {
    /// A JSON POST of this body.
    Json(serde_json::Value),
    /// A JSON POST of these bytes, as they are.
    Bytes(Vec<u8>),
    /// A body of this many bytes sent raw, with its length declared or
    /// chunked, starting with a prefix.
    Raw {
        prefix: String,
        bytes: usize,
        chunked: bool,
    },
}

fn repeat_joined(count: usize, item: impl Fn(usize) -> String) -> String {
    (0..count).map(item).collect::<Vec<_>>().join(" ")
}

fn cases() -> Vec<Case> {
    let deep = format!(
        "{{ {} id {} }}",
        "contacts { nodes {".repeat(50),
        "} }".repeat(50)
    );
    let ten_thousand_aliases = format!(
        "{{ {} }}",
        repeat_joined(10_000, |i| format!("a{i}: __typename"))
    );
    let list_aliases = |count: usize| {
        format!(
            "{{ {} }}",
            repeat_joined(count, |i| format!(
                "c{i}: contacts(first: 100, filter: {{city: \"city {i}\"}}) {{ nodes {{ id }} }}"
            ))
        )
    };
    let mut fan_out = String::from("query { contacts(first: 1) { nodes { ...F0 } } }\n");
    for level in 0..30 {
        fan_out.push_str(&format!(
            "fragment F{level} on Contact {{ ...F{next} ...F{next} }}\n",
            next = level + 1
        ));
    }
    fan_out.push_str("fragment F30 on Contact { id }\n");
    let two_megabytes = format!("{{ __typename {} }}", "#".repeat(2 * 1024 * 1024));
    let cycle = "{ ...A } fragment A on Query { ...B ...B } fragment B on Query { ...A ...A }";
    let batch: Vec<serde_json::Value> = (0..1000)
        .map(|_| json!({ "query": "{ contacts(first: 100) { nodes { id } } }" }))
        .collect();
    vec![
        Case {
            name: "depth 100",
            request: Request::Json(json!({ "query": deep })),
            codes: &["QUERY_TOO_DEEP"],
        },
        Case {
            name: "10,000 aliases",
            request: Request::Json(json!({ "query": ten_thousand_aliases })),
            codes: &["QUERY_TOO_LARGE"],
        },
        Case {
            name: "1,000 aliases of a list field with distinct arguments",
            request: Request::Json(json!({ "query": list_aliases(1000) })),
            codes: &["QUERY_TOO_LARGE"],
        },
        Case {
            name: "31 aliases of a list field with distinct arguments",
            request: Request::Json(json!({ "query": list_aliases(31) })),
            codes: &["TOO_MANY_ROOT_FIELDS", "TOO_MANY_ALIASES"],
        },
        Case {
            name: "31 aliases of a nested list field with distinct arguments",
            request: Request::Json(json!({ "query": format!(
                "{{ contacts(first: 100) {{ nodes {{ {} }} }} }}",
                repeat_joined(31, |i| format!(
                    "a{i}: activities(first: {}) {{ nodes {{ id }} }}",
                    i + 1
                ))
            ) })),
            codes: &["TOO_MANY_ALIASES"],
        },
        Case {
            name: "fragment fan-out, each spreading the next twice, 30 levels",
            request: Request::Json(json!({ "query": fan_out })),
            codes: &["TOO_MANY_SELECTIONS"],
        },
        Case {
            name: "a 2 MB query",
            request: Request::Json(json!({ "query": two_megabytes })),
            codes: &["PAYLOAD_TOO_LARGE"],
        },
        Case {
            name: "2,500 tokens",
            request: Request::Json(
                json!({ "query": format!("{{ {} }}", "__typename ".repeat(2500)) }),
            ),
            codes: &["TOO_MANY_TOKENS"],
        },
        Case {
            name: "21 root fields",
            request: Request::Json(
                json!({ "query": format!("{{ {} }}", "__typename ".repeat(21)) }),
            ),
            codes: &["TOO_MANY_ROOT_FIELDS"],
        },
        Case {
            name: "5 directives on a field",
            request: Request::Json(
                json!({ "query": format!("{{ __typename {} }}", "@skip(if: false) ".repeat(5)) }),
            ),
            codes: &["TOO_MANY_DIRECTIVES"],
        },
        Case {
            name: "fragment cycle, each spreading the other twice",
            request: Request::Json(json!({ "query": cycle })),
            codes: &["GRAPHQL_VALIDATION_FAILED"],
        },
        Case {
            name: "first: 1000000",
            request: Request::Json(
                json!({ "query": "{ contacts(first: 1000000) { nodes { id } } }" }),
            ),
            codes: &["BAD_USER_INPUT"],
        },
        Case {
            name: "first: 1000000 in a variable",
            request: Request::Json(json!({
                "query": "query($n: Int) { properties(first: $n) { nodes { id } } }",
                "variables": { "n": 1_000_000 }
            })),
            codes: &["BAD_USER_INPUT"],
        },
        Case {
            name: "invalid UTF-8",
            request: Request::Bytes(
                b"{\"query\": \"{ contacts { nodes { id \xff\xfe } } }\"}".to_vec(),
            ),
            codes: &["BAD_REQUEST"],
        },
        Case {
            name: "a 50 MB JSON body, its length declared",
            request: Request::Raw {
                prefix: "{\"query\": \"{ __typename }\", \"extensions\": {\"pad\": \"".into(),
                bytes: 50 * 1024 * 1024,
                chunked: false,
            },
            codes: &["PAYLOAD_TOO_LARGE"],
        },
        Case {
            name: "a 10 MB variable, streamed without a length",
            request: Request::Raw {
                prefix:
                    "{\"query\": \"query($v: String) { __typename }\", \"variables\": {\"v\": \""
                        .into(),
                bytes: 10 * 1024 * 1024,
                chunked: true,
            },
            codes: &["PAYLOAD_TOO_LARGE"],
        },
        Case {
            name: "a contact's properties, estimated over the ceiling",
            request: Request::Json(json!({
                "query": "query($id: ID!) { contact(id: $id) { properties { role } } }",
                "variables": { "id": contact_gateway::domain::GlobalId::new(
                    contact_gateway::domain::NodeType::Contact,
                    contact_gateway::domain::SourceKind::OpenToClose,
                    "1",
                ).encode() }
            })),
            codes: &["UPSTREAM_BUDGET_EXCEEDED"],
        },
        Case {
            name: "a batch of 1,000 operations",
            request: Request::Json(serde_json::Value::Array(batch)),
            codes: &["BATCHING_NOT_SUPPORTED"],
        },
    ]
}

/// Sends one case; returns the status, the first error's code and whether
/// the answer has a `data` entry.
async fn send(gateway: &ProcessGateway, request: Request) -> (u16, String, bool) {
    let client = &gateway.sandbox.client;
    let answer = match request {
        Request::Json(body) => {
            let body = serde_json::to_vec(&body).unwrap();
            post(client, &gateway.graphql_url, body).await
        }
        Request::Bytes(body) => post(client, &gateway.graphql_url, body).await,
        Request::Raw {
            prefix,
            bytes,
            chunked,
        } => {
            let length = if chunked {
                "transfer-encoding: chunked".to_string()
            } else {
                format!("content-length: {bytes}")
            };
            let text = send_raw_with_prefix(
                &gateway.graphql_url,
                format!("POST /graphql HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\n{length}\r\nconnection: close\r\n\r\n"),
                &prefix,
                chunked,
                bytes,
            )
            .await;
            let status = text
                .get(9..12)
                .and_then(|status| status.parse().ok())
                .unwrap_or(0);
            let body = text.split("\r\n\r\n").nth(1).unwrap_or("");
            let body: serde_json::Value = serde_json::from_str(body).unwrap_or_default();
            return (
                status,
                body["errors"][0]["extensions"]["code"]
                    .as_str()
                    .unwrap_or("")
                    .to_string(),
                body.get("data").is_some(),
            );
        }
    };
    (
        answer.status,
        answer.body["errors"][0]["extensions"]["code"]
            .as_str()
            .unwrap_or("")
            .to_string(),
        answer.body.get("data").is_some(),
    )
}

async fn post(client: &reqwest::Client, url: &str, body: Vec<u8>) -> HttpAnswer {
    let response = client
        .post(url)
        .header("content-type", "application/json")
        .header("accept", "application/graphql-response+json")
        .body(body)
        .send()
        .await
        .expect("post");
    HttpAnswer::read(response).await
}

#[tokio::test]
async fn hostile_requests_are_refused_quickly_without_upstream_calls_or_memory() {
    let gateway = spawn_gateway_process("").await;
    let normal = json!({ "query": "{ contacts(first: 2) { nodes { displayName } } }" });
    let warm_up = post(
        &gateway.sandbox.client,
        &gateway.graphql_url,
        serde_json::to_vec(&normal).unwrap(),
    )
    .await;
    assert_eq!(warm_up.status, 200, "{warm_up:?}");
    gateway.sandbox.reset().await;
    let peak_before = gateway.peak_rss_bytes();
    let mut report = Vec::new();
    for case in cases() {
        let started = Instant::now();
        let (status, code, has_data) = send(&gateway, case.request).await;
        let elapsed = started.elapsed();
        report.push(format!(
            "{:<60} {status} {code:<26} {:>8.1} ms",
            case.name,
            elapsed.as_secs_f64() * 1000.0
        ));
        assert!(
            (400..500).contains(&status),
            "{}: status {status}, code {code}",
            case.name
        );
        assert!(
            case.codes.contains(&code.as_str()),
            "{}: code {code}, expected one of {:?}",
            case.name,
            case.codes
        );
        assert!(!has_data, "{}: a refusal has no data", case.name);
        // Generous for a debug build on a shared machine: the refusals
        // take well under a millisecond of work each, the one that ran
        // before this suite took 14.8 s.
        assert!(
            elapsed < Duration::from_secs(3),
            "{}: took {elapsed:?}",
            case.name
        );
    }
    let upstream = gateway.sandbox.stats().await["total"].as_u64().unwrap();
    let growth = gateway.peak_rss_bytes().saturating_sub(peak_before);
    println!("{}", report.join("\n"));
    println!("peak RSS growth: {:.1} MB", growth as f64 / 1e6);
    assert_eq!(upstream, 0, "a refusal sent upstream requests");
    assert!(growth < 50 * 1024 * 1024, "peak RSS grew by {growth} bytes");
    let after = post(
        &gateway.sandbox.client,
        &gateway.graphql_url,
        serde_json::to_vec(&normal).unwrap(),
    )
    .await;
    assert_eq!(after.status, 200);
    assert_eq!(
        after.body["data"]["contacts"]["nodes"]
            .as_array()
            .unwrap()
            .len(),
        2
    );
}
