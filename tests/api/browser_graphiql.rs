//! GraphiQL in a real browser: `tests/browser/graphiql.mjs` drives Debian's
//! chromium (with playwright-core from `package-lock.json`) against a
//! gateway in front of a sandbox, with every request to another host
//! refused, runs the example operation and finds its data in the result
//! pane. The screenshot is kept as `target/test-artefacts/graphiql-result.png`.

use std::process::Stdio;
use std::time::Duration;

use crate::helpers::spawn_cached_gateway;

#[tokio::test]
async fn graphiql_runs_its_example_operation_in_chromium_with_no_other_host_reachable() {
    let gateway = spawn_cached_gateway().await;
    let root = env!("CARGO_MANIFEST_DIR");
    let screenshot = format!("{root}/target/test-artefacts/graphiql-result.png");
    let _ = std::fs::remove_file(&screenshot);
    let output = tokio::time::timeout(
        Duration::from_secs(180),
        tokio::process::Command::new("node")
            .arg(format!("{root}/tests/browser/graphiql.mjs"))
            .arg(&gateway.graphql_url)
            .arg(&screenshot)
            .current_dir(root)
            .stdin(Stdio::null())
            .output(),
    )
    .await
    .expect("the browser test took more than three minutes")
    .expect("node runs");
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "the browser test failed (is /usr/bin/chromium installed? `.ci/run` installs it):\n{stdout}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(stdout.contains("the result pane shows data"), "{stdout}");
    let png = std::fs::read(&screenshot).expect("the screenshot was saved");
    assert!(png.starts_with(b"\x89PNG"), "the screenshot is a PNG");
}
