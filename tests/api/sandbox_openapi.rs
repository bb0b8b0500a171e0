//! The sandbox's OpenAPI 3 documents: one per emulator at
//! `<prefix>/openapi.json`, served without credentials and outside the
//! request counters, parsing as OpenAPI 3 and naming exactly the paths the
//! emulator serves.

use std::collections::BTreeSet;

use contact_gateway::sandbox::{djangocrm, opentoclose, spark, winnerr};

use crate::helpers::spawn_sandbox;

/// Each emulator's prefix and its served route templates.
fn emulators() -> [(&'static str, &'static [&'static str]); 4] {
    [
        ("opentoclose", opentoclose::ROUTES),
        ("djangocrm", djangocrm::ROUTES),
        ("winnerr", winnerr::ROUTES),
        ("spark", spark::ROUTES),
    ]
}

#[tokio::test]
async fn every_emulator_serves_an_openapi_3_document_of_its_paths() {
    let sandbox = spawn_sandbox().await;
    for (source, routes) in emulators() {
        let response = sandbox
            .client
            .get(format!("{}/{source}/openapi.json", sandbox.url))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200, "{source}");
        let document: openapiv3::OpenAPI = response.json().await.unwrap();
        assert!(
            document.openapi.starts_with("3."),
            "{source}: {}",
            document.openapi
        );
        assert_eq!(
            document.servers.first().map(|server| server.url.as_str()),
            Some(format!("/{source}").as_str()),
            "{source}"
        );
        let documented: BTreeSet<&str> = document.paths.paths.keys().map(String::as_str).collect();
        let served: BTreeSet<&str> = routes.iter().copied().collect();
        assert_eq!(documented, served, "{source}");
        for (path, item) in &document.paths.paths {
            let item = item.as_item().unwrap_or_else(|| panic!("{source} {path}"));
            assert!(
                item.iter().next().is_some(),
                "{source} {path} has no operation"
            );
        }
    }
    // The documents describe the APIs and are not upstream traffic.
    assert_eq!(sandbox.stats().await["total"], 0);
}

/// Every documented read without path parameters answers 200 with the
/// emulator's credentials, so the document names live routes, not guesses.
#[tokio::test]
async fn documented_list_reads_are_served() {
    let sandbox = spawn_sandbox().await;
    for (source, _) in emulators() {
        let document: openapiv3::OpenAPI = sandbox
            .client
            .get(format!("{}/{source}/openapi.json", sandbox.url))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        for (path, item) in &document.paths.paths {
            let item = item.as_item().unwrap();
            if item.get.is_none() || path.contains('{') {
                continue;
            }
            let request = sandbox
                .client
                .get(format!("{}/{source}{path}", sandbox.url));
            let request = match source {
                "opentoclose" => {
                    request.query(&[("api_token", sandbox.credential("opentoclose", "api_token"))])
                }
                "djangocrm" => request
                    .bearer_auth(sandbox.credential("djangocrm", "token"))
                    .header(
                        "organization-id",
                        sandbox.credential("djangocrm", "organization_id"),
                    ),
                "winnerr" => request.bearer_auth(sandbox.credential("winnerr", "token")),
                _ => request
                    .bearer_auth(sandbox.credential("spark", "token"))
                    .header(
                        "X-SparkApi-User-Agent",
                        sandbox.credential("spark", "user_agent"),
                    ),
            };
            let status = request.send().await.unwrap().status();
            assert_eq!(status, 200, "GET /{source}{path}");
        }
    }
}
