//! GraphiQL served by the gateway: the page, its Content-Security-Policy, and
//! every file it loads, from the gateway's own origin.

use crate::helpers::spawn_gateway_configured;

/// The policy the page must carry: the gateway's origin only.
const POLICY: &str = "default-src 'self'; script-src 'self'; style-src 'self'; \
     connect-src 'self'; img-src 'self' data:; font-src 'self' data:; object-src 'none'; \
     base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

/// The `src` and `href` values of the page.
fn references(page: &str) -> Vec<String> {
    let mut found = Vec::new();
    for attribute in ["src=\"", "href=\""] {
        for (at, _) in page.match_indices(attribute) {
            let rest = &page[at + attribute.len()..];
            let end = rest.find('"').expect("closing quote");
            found.push(rest[..end].to_string());
        }
    }
    found
}

#[tokio::test]
async fn graphiql_page_and_assets_come_from_the_gateway_under_a_self_only_policy() {
    let gateway = spawn_gateway_configured(|config| config.graphql.graphiql = true).await;
    let client = &gateway.sandbox.client;
    let page = client
        .get(&gateway.graphql_url)
        .header("accept", "text/html,application/xhtml+xml,*/*;q=0.8")
        .send()
        .await
        .expect("page");
    assert_eq!(page.status().as_u16(), 200);
    let header = |name: &str| {
        page.headers()
            .get(name)
            .map(|value| value.to_str().expect("header text").to_string())
            .unwrap_or_default()
    };
    assert_eq!(header("content-type"), "text/html; charset=utf-8");
    assert_eq!(header("content-security-policy"), POLICY);
    assert_eq!(header("x-content-type-options"), "nosniff");
    let html = page.text().await.expect("page body");
    // No inline script: the policy would refuse it and GraphiQL would not start.
    assert_eq!(
        html.matches("<script").count(),
        html.matches("<script src=").count(),
        "{html}"
    );
    let references = references(&html);
    assert_eq!(references.len(), 6, "{references:?}");
    for reference in references {
        assert!(
            reference.starts_with("/graphiql/assets/") && !reference.contains("//"),
            "not a same-origin asset: {reference}"
        );
        let asset = client
            .get(format!("{}{reference}", gateway.url))
            .send()
            .await
            .expect("asset");
        assert_eq!(asset.status().as_u16(), 200, "{reference}");
        let content_type = asset.headers()["content-type"]
            .to_str()
            .unwrap()
            .to_string();
        let cache_control = asset.headers()["cache-control"]
            .to_str()
            .unwrap()
            .to_string();
        let expected_type = if reference.ends_with(".css") {
            "text/css; charset=utf-8"
        } else {
            "text/javascript; charset=utf-8"
        };
        assert_eq!(content_type, expected_type, "{reference}");
        // Vendor files carry their version in the name and may be kept for a
        // year; the gateway's own files are revalidated.
        if reference.contains("-18.3.1.") || reference.contains("-3.8.3.") {
            assert_eq!(
                cache_control, "public, max-age=31536000, immutable",
                "{reference}"
            );
        } else {
            assert_eq!(cache_control, "no-cache", "{reference}");
        }
        let body = asset.text().await.expect("asset body");
        assert!(body.len() > 100, "{reference} is nearly empty");
        // Nothing a file loads may come from elsewhere at run time: no
        // source map and no stylesheet import from another origin.
        assert!(!body.contains("sourceMappingURL"), "{reference}");
        assert!(!body.contains("@import"), "{reference}");
        if reference.ends_with("bootstrap.js") {
            assert!(body.contains("query PropertyBoard"), "{body}");
            assert!(
                body.contains("createFetcher({ url: '/graphql' })"),
                "{body}"
            );
        }
    }
}

#[tokio::test]
async fn graphiql_assets_are_not_served_when_graphiql_is_off() {
    let gateway = spawn_gateway_configured(|config| config.graphql.graphiql = false).await;
    let client = &gateway.sandbox.client;
    let asset = client
        .get(format!("{}/graphiql/assets/bootstrap.js", gateway.url))
        .send()
        .await
        .expect("asset");
    assert_eq!(asset.status().as_u16(), 404);
    let page = client
        .get(&gateway.graphql_url)
        .header("accept", "text/html")
        .send()
        .await
        .expect("page");
    assert_ne!(
        page.headers()
            .get("content-type")
            .map(|value| value.to_str().unwrap()),
        Some("text/html; charset=utf-8")
    );
}

#[tokio::test]
async fn an_unknown_graphiql_asset_is_not_found() {
    let gateway = spawn_gateway_configured(|config| config.graphql.graphiql = true).await;
    let answer = gateway
        .sandbox
        .client
        .get(format!(
            "{}/graphiql/assets/..%2Fsrc%2Fmain.rs",
            gateway.url
        ))
        .send()
        .await
        .expect("asset");
    assert_eq!(answer.status().as_u16(), 404);
}

#[tokio::test]
async fn the_example_operation_graphiql_opens_with_runs_as_graphiql_sends_it() {
    let gateway = spawn_gateway_configured(|config| config.graphql.graphiql = true).await;
    let bootstrap = gateway
        .sandbox
        .client
        .get(format!("{}/graphiql/assets/bootstrap.js", gateway.url))
        .send()
        .await
        .expect("bootstrap")
        .text()
        .await
        .expect("bootstrap body");
    // The operation is written as quoted lines joined by newlines.
    let operation: String = bootstrap
        .lines()
        .map(str::trim)
        .filter_map(|line| line.strip_prefix('\'').or_else(|| line.strip_prefix('"')))
        .filter_map(|line| {
            line.strip_suffix("',")
                .or_else(|| line.strip_suffix("\","))
                .or_else(|| line.strip_suffix('\''))
        })
        .map(|line| format!("{line}\n"))
        .collect();
    assert!(operation.contains("query PropertyBoard {"), "{operation}");
    // GraphiQL posts JSON without any extra header; the answer must carry data.
    let data = gateway.data(&operation, serde_json::json!({})).await;
    let properties = data["properties"]["nodes"].as_array().expect("properties");
    assert!(!properties.is_empty(), "{data}");
    let contacts = data["contacts"]["nodes"].as_array().expect("contacts");
    assert!(!contacts.is_empty(), "{data}");
}
