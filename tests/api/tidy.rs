//! Architecture invariants checked over the source tree, so that a change
//! breaking one fails the test suite instead of waiting for a reader to
//! notice: see the invariants in ARCHITECTURE.md.

use std::path::{Path, PathBuf};

/// Every `.rs` file under `dir`, with its text.
fn rust_files(dir: &Path) -> Vec<(PathBuf, String)> {
    let mut files = Vec::new();
    let mut pending = vec![dir.to_path_buf()];
    while let Some(dir) = pending.pop() {
        for entry in std::fs::read_dir(&dir).expect("readable directory") {
            let path = entry.expect("directory entry").path();
            if path.is_dir() {
                pending.push(path);
            } else if path.extension().is_some_and(|ext| ext == "rs") {
                let text = std::fs::read_to_string(&path).expect("readable file");
                files.push((path, text));
            }
        }
    }
    files
}

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn relative(path: &Path) -> String {
    path.strip_prefix(root())
        .unwrap_or(path)
        .to_string_lossy()
        .replace('\\', "/")
}

/// The files of `src/` and `tests/` that break `rule`, by relative path.
fn breaking(rule: impl Fn(&str, &str) -> bool) -> Vec<String> {
    let mut found: Vec<String> = ["src", "tests"]
        .iter()
        .flat_map(|dir| rust_files(&root().join(dir)))
        .filter(|(path, text)| rule(&relative(path), text))
        .map(|(path, _)| relative(&path))
        .collect();
    found.sort();
    found
}

#[test]
fn every_file_opens_with_a_paragraph_on_its_role() {
    let missing = breaking(|_, text| !text.trim_start().starts_with("//!"));
    assert!(
        missing.is_empty(),
        "files without a `//!` paragraph: {missing:?}"
    );
}

#[test]
fn the_sandbox_shares_no_code_with_the_gateway() {
    let gateway_modules = [
        "crate::sources",
        "crate::domain",
        "crate::upstream",
        "crate::graphql",
        "crate::loaders",
        "crate::cache",
        "crate::federation",
        "crate::edge",
    ];
    let leaking = breaking(|path, text| {
        path.starts_with("src/sandbox/")
            && gateway_modules.iter().any(|module| text.contains(module))
    });
    assert!(
        leaking.is_empty(),
        "emulators naming gateway code: {leaking:?}"
    );
}

#[test]
fn only_the_upstream_layer_holds_an_http_client_to_upstreams() {
    // The benchmark's load generator is a client of the gateways, and reads
    // the sandbox only to check their answers; the trace exporter is a
    // client of the trace collector; tests are clients of both.
    let sending = breaking(|path, text| {
        path.starts_with("src/")
            && path != "src/upstream.rs"
            && path != "src/bin/bench.rs"
            && path != "src/telemetry/otel.rs"
            && !path.starts_with("src/bin/bench/")
            && text.contains("reqwest::Client")
    });
    assert!(
        sending.is_empty(),
        "HTTP clients outside upstream.rs: {sending:?}"
    );
}

#[test]
fn only_the_cache_keeps_data_between_requests() {
    // `auth/mod.rs` keeps the adapters of forwarded credential sets, which
    // hold no upstream data: whatever they read goes through `cache.rs`.
    // `edge/documents.rs` keeps parsed query texts, which are the clients'
    // own and hold no upstream data either.
    let caching = breaking(|path, text| {
        path.starts_with("src/")
            && path != "src/cache.rs"
            && path != "src/auth/mod.rs"
            && path != "src/edge/documents.rs"
            && text.contains("moka::")
    });
    assert!(caching.is_empty(), "caches outside cache.rs: {caching:?}");
}

#[test]
fn comments_cite_public_documents_not_files_outside_the_repository() {
    let citing = breaking(|_, text| {
        let seed_number = text
            .match_indices("seed 00")
            .any(|(index, _)| text[index + 7..].starts_with(|c: char| c.is_ascii_digit()));
        seed_number || text.contains("../shared") || text.contains("shared/seeds")
    });
    // This file names the patterns it looks for.
    let citing: Vec<String> = citing
        .into_iter()
        .filter(|path| path != "tests/api/tidy.rs")
        .collect();
    assert!(
        citing.is_empty(),
        "comments citing files outside the repository: {citing:?}"
    );
}
