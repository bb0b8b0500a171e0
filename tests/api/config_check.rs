//! `contact-gateway check`, run as the real binary on the committed example and
//! on broken files, and `/readyz` of a gateway without sources.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use contact_gateway::config::{Secret, SourceCredentials};
use contact_gateway::domain::SourceKind;
use contact_gateway::readiness::ReadinessState;

use crate::helpers::spawn_gateway_configured;

/// The credentials the example's environment variables are set to: none of
/// them may appear in anything `check` prints.
const EXAMPLE_ENV: [(&str, &str); 6] = [
    ("OPENTOCLOSE_API_TOKEN", "otc-token-value"),
    ("DJANGOCRM_TOKEN", "crm-token-value"),
    ("DJANGOCRM_ORGANIZATION_ID", "crm-organization-value"),
    ("WINNERR_TOKEN", "winnerr-token-value"),
    ("SPARK_TOKEN", "spark-token-value"),
    ("SPARK_TOKEN_FRONT_DESK", "spark-front-desk-token-value"),
];

fn example_path() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("gateway.example.toml")
}

/// Runs `contact-gateway check --config path` with exactly `env` as its
/// environment, so no variable of the machine running the tests leaks in.
fn check(path: &Path, env: &[(&str, &str)]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_contact-gateway"))
        .env_clear()
        .envs(env.iter().copied())
        .arg("check")
        .arg("--config")
        .arg(path)
        .output()
        .expect("run contact-gateway check")
}

/// Writes `text` to a file of its own under the temporary directory.
fn config_file(name: &str, text: &str) -> PathBuf {
    let path = std::env::temp_dir().join(format!(
        "contact-gateway-check-{}-{name}.toml",
        std::process::id()
    ));
    std::fs::write(&path, text).expect("write config file");
    path
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8(bytes.to_vec()).expect("utf-8 output")
}

#[test]
fn check_accepts_the_committed_example_and_never_prints_a_credential() {
    let output = check(&example_path(), &EXAMPLE_ENV);
    let stdout = text(&output.stdout);
    let stderr = text(&output.stderr);
    assert_eq!(output.status.code(), Some(0), "{stdout}\n{stderr}");
    assert!(stdout.contains("gateway.example.toml: valid"), "{stdout}");
    assert!(stdout.contains("sources (4):"), "{stdout}");
    assert!(
        stdout.contains("  winnerr: https://api.winnerr.example/v1 (timeout 10000 ms"),
        "{stdout}"
    );
    assert!(
        stdout.contains("graphql: introspection off, GraphiQL off"),
        "{stdout}"
    );
    assert!(stdout.contains("auth: keys (2 principals)"), "{stdout}");
    assert!(
        stdout.contains("  dashboard: 1 key(s), read-only, sources: opentoclose, djangocrm, winnerr, spark; own credentials: none; 10 requests/s (burst 20), upstream requests/min 600"),
        "{stdout}"
    );
    assert!(
        stdout.contains("  front-desk: 1 key(s), reads and writes, sources: every source; own credentials: spark; no rate limit"),
        "{stdout}"
    );
    assert!(
        stdout.contains("  spark forwarded from x-spark-authorization\n"),
        "{stdout}"
    );
    for (_, value) in EXAMPLE_ENV {
        assert!(
            !stdout.contains(value) && !stderr.contains(value),
            "{value} printed:\n{stdout}\n{stderr}"
        );
    }
}

/// `config check FILE` is the same command as `check --config FILE`.
#[test]
fn config_check_is_check_under_its_other_name() {
    let run = |args: &[&std::ffi::OsStr]| {
        Command::new(env!("CARGO_BIN_EXE_contact-gateway"))
            .env_clear()
            .envs(EXAMPLE_ENV.iter().copied())
            .args(args)
            .output()
            .expect("run contact-gateway")
    };
    let example = example_path();
    let spelled = run(&["config".as_ref(), "check".as_ref(), example.as_os_str()]);
    let flagged = check(&example, &EXAMPLE_ENV);
    assert!(spelled.status.success(), "{}", text(&spelled.stderr));
    assert_eq!(spelled.stdout, flagged.stdout);
    let unknown = config_file(
        "unknown-key-config-check.toml",
        "listen = \"127.0.0.1:0\"\nnot_a_key = 1\n",
    );
    let refused = run(&["config".as_ref(), "check".as_ref(), unknown.as_os_str()]);
    assert_eq!(refused.status.code(), Some(1));
    assert!(
        text(&refused.stderr).contains("not_a_key"),
        "{}",
        text(&refused.stderr)
    );
}

#[test]
fn check_applies_environment_overrides() {
    let mut env = EXAMPLE_ENV.to_vec();
    env.push((
        "CONTACT_GATEWAY_SPARK_BASE_URL",
        "http://127.0.0.1:9/spark/v1",
    ));
    env.push(("CONTACT_GATEWAY_LISTEN", "0.0.0.0:8080"));
    let output = check(&example_path(), &env);
    let stdout = text(&output.stdout);
    assert_eq!(output.status.code(), Some(0), "{}", text(&output.stderr));
    assert!(stdout.contains("listen: 0.0.0.0:8080"), "{stdout}");
    assert!(
        stdout.contains("  spark: http://127.0.0.1:9/spark/v1 "),
        "{stdout}"
    );
}

#[test]
fn check_refuses_a_config_without_sources() {
    let path = config_file(
        "no-sources",
        "listen = \"127.0.0.1:4000\"\n[graphql]\ngraphiql = true\n[auth]\nmode = \"open\"\n",
    );
    let output = check(&path, &[]);
    let stderr = text(&output.stderr);
    assert_eq!(output.status.code(), Some(1), "{stderr}");
    assert!(output.stdout.is_empty(), "{}", text(&output.stdout));
    assert!(stderr.contains("no source is configured"), "{stderr}");
    assert!(stderr.contains("[sources.winnerr]"), "{stderr}");
}

#[test]
fn check_refuses_an_unknown_key_and_names_it() {
    let example = std::fs::read_to_string(example_path()).expect("read example");
    let path = config_file(
        "unknown-key",
        &example.replace("max_page_size = 100", "max_pagesize = 100"),
    );
    let output = check(&path, &EXAMPLE_ENV);
    let stderr = text(&output.stderr);
    assert_eq!(output.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("invalid config file"), "{stderr}");
    assert!(stderr.contains("unknown field `max_pagesize`"), "{stderr}");
}

#[test]
fn check_refuses_a_missing_credential_variable_and_names_it() {
    let env: Vec<_> = EXAMPLE_ENV
        .into_iter()
        .filter(|(name, _)| *name != "WINNERR_TOKEN")
        .collect();
    let output = check(&example_path(), &env);
    let stderr = text(&output.stderr);
    assert_eq!(output.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("source `winnerr`: environment variable `WINNERR_TOKEN` is not set"),
        "{stderr}"
    );
    for (_, value) in EXAMPLE_ENV {
        assert!(!stderr.contains(value), "{value} printed: {stderr}");
    }
}

#[test]
fn check_refuses_a_config_without_auth_and_says_how_to_be_open() {
    let example = std::fs::read_to_string(example_path()).expect("read example");
    let start = example.find("[auth]").expect("the example's [auth]");
    let end = example[start..]
        .find("# What a request may cost.")
        .expect("the section after [auth]")
        + start;
    let path = config_file(
        "no-auth",
        &format!("{}{}", &example[..start], &example[end..]),
    );
    let output = check(&path, &EXAMPLE_ENV);
    let stderr = text(&output.stderr);
    assert_eq!(output.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("no [auth] section"), "{stderr}");
    assert!(stderr.contains("keys new NAME"), "{stderr}");
    assert!(stderr.contains("mode = \"open\""), "{stderr}");
}

#[test]
fn check_refuses_a_file_that_does_not_exist() {
    let output = check(Path::new("/nonexistent/gateway.toml"), &[]);
    let stderr = text(&output.stderr);
    assert_eq!(output.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("cannot read config file /nonexistent/gateway.toml"),
        "{stderr}"
    );
}

#[tokio::test]
async fn readyz_is_503_with_the_reason_when_no_source_is_configured() {
    let gateway = spawn_gateway_configured(|config| config.sources.clear()).await;
    let client = &gateway.sandbox.client;
    let ready = client
        .get(format!("{}/readyz", gateway.url))
        .send()
        .await
        .expect("readyz");
    assert_eq!(ready.status().as_u16(), 503);
    assert_eq!(
        ready.text().await.expect("readyz body"),
        "not ready: no source is configured"
    );
    let health = client
        .get(format!("{}/healthz", gateway.url))
        .send()
        .await
        .expect("healthz");
    assert_eq!(health.status().as_u16(), 200);
}

#[tokio::test]
async fn readyz_is_200_once_every_source_has_answered_its_probe() {
    let gateway = spawn_gateway_configured(|config| config.readiness.probe = true).await;
    assert_eq!(
        gateway.gateway.readiness.ready().await,
        ReadinessState::Ready
    );
    let ready = gateway
        .sandbox
        .client
        .get(format!("{}/readyz", gateway.url))
        .send()
        .await
        .expect("readyz");
    assert_eq!(ready.status().as_u16(), 200);
    assert_eq!(ready.text().await.expect("readyz body"), "ready");
    let stats = gateway.sandbox.stats().await;
    assert_eq!(stats["total"], 4, "one probe per source: {stats}");
}

/// A source that refuses the gateway's credentials keeps `/readyz` at 503,
/// named with the reason, while the sources that answered are not named.
#[tokio::test]
async fn readyz_names_the_source_that_has_not_answered_its_probe() {
    let gateway = spawn_gateway_configured(|config| {
        config.readiness.probe = true;
        config.readiness.probe_interval_ms = 10;
        for source in &mut config.sources {
            if let SourceCredentials::Winnerr { token } = &mut source.credentials {
                *token = Secret::new("not-a-winnerr-token");
            }
        }
    })
    .await;
    let readiness = &gateway.gateway.readiness;
    let mut state = readiness.state();
    loop {
        if let ReadinessState::Waiting(waiting) = &state {
            let only_winnerr = waiting.keys().eq([SourceKind::Winnerr].iter());
            if only_winnerr && waiting[&SourceKind::Winnerr] != "no answer yet" {
                break;
            }
        }
        assert!(
            matches!(state, ReadinessState::Waiting(_)),
            "ready with a refused credential: {state:?}"
        );
        state = readiness.changed_from(&state).await;
    }
    let answer = gateway
        .sandbox
        .client
        .get(format!("{}/readyz", gateway.url))
        .send()
        .await
        .expect("readyz");
    assert_eq!(answer.status().as_u16(), 503);
    let body = answer.text().await.expect("readyz body");
    assert!(body.contains("winnerr"), "{body}");
    assert!(
        !body.contains("opentoclose") && !body.contains("spark"),
        "{body}"
    );
    assert!(!body.contains("not-a-winnerr-token"), "{body}");
}

#[test]
fn keys_new_prints_a_fresh_key_and_a_hash_line_that_check_accepts() {
    let run = || {
        Command::new(env!("CARGO_BIN_EXE_contact-gateway"))
            .args(["keys", "new", "front-desk"])
            .output()
            .expect("run contact-gateway keys new")
    };
    let output = run();
    assert_eq!(output.status.code(), Some(0), "{}", text(&output.stderr));
    let stdout = text(&output.stdout);
    let key = stdout
        .lines()
        .find_map(|line| line.strip_prefix("key: "))
        .expect("a key line")
        .to_string();
    assert!(key.starts_with("cgk_") && key.len() > 40, "{key}");
    let hash_line = stdout
        .lines()
        .find(|line| line.starts_with("key_hashes = "))
        .expect("a key_hashes line");
    let hash = contact_gateway::auth::keys::KeyHash::of(&key).to_string();
    assert_eq!(hash_line, format!("key_hashes = [\"{hash}\"]"));
    assert!(stdout.contains("[auth.principals.front-desk]"), "{stdout}");
    // Each run draws a new key.
    assert!(!text(&run().stdout).contains(&key));
    // The printed lines, pasted into a configuration, name the principal.
    let path = config_file(
        "keys-new",
        &format!(
            "[sources.winnerr]\nbase_url = \"http://127.0.0.1:9/w\"\ntoken_env = \"W\"\n\
             [auth]\n[auth.principals.front-desk]\n{hash_line}\n"
        ),
    );
    let output = check(&path, &[("W", "winnerr-token-value")]);
    let stdout = text(&output.stdout);
    assert_eq!(output.status.code(), Some(0), "{}", text(&output.stderr));
    assert!(stdout.contains("auth: keys (1 principals)"), "{stdout}");
    assert!(
        stdout.contains("  front-desk: 1 key(s), reads and writes"),
        "{stdout}"
    );
    assert!(!stdout.contains(&key) && !stdout.contains("winnerr-token-value"));
}

#[test]
fn keys_new_refuses_a_name_that_cannot_be_a_principal() {
    let output = Command::new(env!("CARGO_BIN_EXE_contact-gateway"))
        .args(["keys", "new", "two words"])
        .output()
        .expect("run contact-gateway keys new");
    assert_eq!(output.status.code(), Some(1));
    assert!(output.stdout.is_empty());
}
