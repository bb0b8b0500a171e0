//! The graphql-http server audit (the GraphQL-over-HTTP specification's own
//! conformance suite, from npm) against a running gateway: every MUST and
//! every SHOULD audit passes. Needs Node and `npm ci` in the repository
//! root, which `.ci/run` does first.

use std::io::Write;
use std::path::Path;

use crate::helpers::spawn_gateway;

#[tokio::test]
async fn the_graphql_over_http_audit_passes_every_must_and_should() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    assert!(
        root.join("node_modules/graphql-http").is_dir(),
        "graphql-http is not installed: run `npm ci` in {} (as .ci/run does)",
        root.display()
    );
    let gateway = spawn_gateway().await;
    let output = tokio::process::Command::new("node")
        .arg(root.join("tests/http-audit/audit.mjs"))
        .arg(&gateway.graphql_url)
        .current_dir(root)
        .kill_on_drop(true)
        .output()
        .await
        .expect("node could not be started: the audit needs Node on PATH");
    let report = String::from_utf8_lossy(&output.stdout);
    // Written past the test harness's capture, so the counts show in every
    // run's output, not only when the test fails.
    let _ = std::io::stdout().write_all(report.as_bytes());
    assert!(
        output.status.success(),
        "the audit failed:\n{report}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(
        report.contains("graphql-http audit (plain client): MUST 13/13, SHOULD 23/23"),
        "{report}"
    );
    // The plain client's GETs carry no CSRF header and are refused (only MAY
    // audits send them); a client that sends it passes everything.
    assert!(
        report.contains("graphql-http audit (client sending x-graphql-csrf): MUST 13/13, SHOULD 23/23, MAY 25/25"),
        "{report}"
    );
}
