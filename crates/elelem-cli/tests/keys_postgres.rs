//! Gateway keys and key budgets in a real PostgreSQL server on 127.0.0.1:
//! `elelem keys add|list|revoke` run as the binary, gateways reading the keys
//! at start and on their poll, and two gateways sharing one database never
//! overspending a key.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;
#[path = "../../elelem-ledger-postgres/tests/common/mod.rs"]
mod pg;

use std::path::Path;
use std::process::Output;
use std::sync::Arc;
use std::time::{Duration, Instant};

use common::*;
use elelem::cost::StatsQuery;
use elelem::Usd;
use elelem_cli::config::Config;
use elelem_cli::gateway::{self, sha256_hex, Gateway, Running};
use elelem_cli::ledger::Ledger;
use elelem_testkit::wire;
use serde_json::{json, Value};

const MINI: &str = "openai:gpt-4.1-mini";

/// Runs `elelem ARGS` off the async runtime.
async fn elelem(args: &[&str], dir: &Path) -> Output {
    let mut command = std::process::Command::new(env!("CARGO_BIN_EXE_elelem"));
    command.args(args).current_dir(dir).env("HOME", dir);
    tokio::task::spawn_blocking(move || command.output().unwrap())
        .await
        .unwrap()
}

fn stdout(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

/// A gateway on 127.0.0.1:0 reading `text` as its configuration file.
async fn start(setup: &Setup, file: &str, text: &str) -> Running {
    let path = setup.path(file);
    std::fs::write(&path, text).unwrap();
    let config = Config::load(&path).unwrap();
    let gateway = tokio::task::spawn_blocking(move || Gateway::new(config, Some(path)).unwrap())
        .await
        .unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    gateway::start(gateway, listener)
}

/// The status of a small chat call with `key`.
async fn status(running: &Running, key: &str) -> u16 {
    let mut body = chat_body(MINI);
    body["max_tokens"] = json!(5);
    post(running, "/v1/chat/completions", Some(key), &body)
        .await
        .status()
        .as_u16()
}

/// Waits (up to 10 s) until a call with `key` answers `want`.
async fn until_status(running: &Running, key: &str, want: u16) {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let got = status(running, key).await;
        if got == want {
            return;
        }
        assert!(Instant::now() < deadline, "still {got}, never {want}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn keys_added_with_the_cli_are_used_and_revoked_while_the_gateway_runs() {
    let Some(server) = pg::PgServer::start() else {
        return;
    };
    let db = tokio::task::block_in_place(|| server.database("gateway_keys"));
    let setup = Setup::new().await;
    setup
        .server
        .set_fallback(wire::completion("gpt-4.1-mini", "hi"));
    let dir = setup.dir.path();

    let added = elelem(
        &[
            "keys", "add", "team", "--db", &db, "--tag", "team-db", "--model", "openai:*", "--rpm",
            "100",
        ],
        dir,
    )
    .await;
    assert!(added.status.success(), "{}", stderr(&added));
    let secret = stdout(&added).trim().to_owned();
    assert!(
        secret.starts_with("gw-") && secret.len() == 51,
        "{secret:?}"
    );
    assert!(stderr(&added).contains("shown once"), "{}", stderr(&added));

    // The configuration's keys and the database's, together.
    let text = setup
        .config_text(&format!("[ledger]\npostgres = \"{db}\"\n"))
        .replacen(
            "[gateway]\n",
            "[gateway]\ndatabase_keys = true\nkeys_poll_secs = 0.2\n",
            1,
        );
    let running = start(&setup, "keys.toml", &text).await;
    assert_eq!(status(&running, &secret).await, 200);
    assert_eq!(status(&running, OPEN_KEY).await, 200);
    assert_eq!(status(&running, "gw-not-a-key").await, 401);
    // The key's allowed models and tags hold.
    let other = post(
        &running,
        "/v1/chat/completions",
        Some(&secret),
        &chat_body("groq:openai/gpt-oss-20b"),
    )
    .await;
    assert_error(other, 403, "model_not_allowed").await;
    let stats: Value = get(&running, "/v1/stats?tag=team-db", Some(&secret))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(stats["total_calls"], 1, "{stats}");

    // The list shows names and settings, never a key nor its hash.
    let list = elelem(&["keys", "list", "--db", &db], dir).await;
    let table = stdout(&list);
    assert!(list.status.success(), "{}", stderr(&list));
    assert!(table.contains("team") && table.contains("active") && table.contains("openai:*"));
    assert!(!table.contains(&secret) && !table.contains(&sha256_hex(&secret)));

    // A key added while the gateway runs is accepted at its next poll ...
    let late = elelem(&["keys", "add", "late", "--db", &db], dir).await;
    assert!(late.status.success(), "{}", stderr(&late));
    let late = stdout(&late).trim().to_owned();
    until_status(&running, &late, 200).await;

    // ... and a revoked one refused.
    let revoked = elelem(&["keys", "revoke", "team", "--db", &db], dir).await;
    assert!(revoked.status.success(), "{}", stderr(&revoked));
    until_status(&running, &secret, 401).await;
    assert_eq!(status(&running, &late).await, 200);

    // Names are never reused; revoking an unknown key fails; both say why.
    let again = elelem(&["keys", "add", "team", "--db", &db], dir).await;
    assert!(!again.status.success());
    assert!(
        stderr(&again).contains("never reused"),
        "{}",
        stderr(&again)
    );
    let nobody = elelem(&["keys", "revoke", "nobody", "--db", &db], dir).await;
    assert!(!nobody.status.success());
    assert!(stderr(&nobody).contains("no active gateway key"));
    let json = elelem(&["keys", "list", "--db", &db, "--json"], dir).await;
    let rows: Value = serde_json::from_str(&stdout(&json)).unwrap();
    assert_eq!(rows.as_array().unwrap().len(), 2);
    assert!(rows[1]["revoked_at"].is_string(), "{rows}");
    running.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_gateways_sharing_postgres_never_overspend_a_key() {
    let Some(server) = pg::PgServer::start() else {
        return;
    };
    let db = tokio::task::block_in_place(|| server.database("gateway_budgets"));
    let setup = Setup::new().await;
    setup
        .server
        .set_fallback(wire::completion("gpt-4.1-mini", "hi"));
    let limit: Usd = "0.0001".parse().unwrap();
    let url = db.clone();
    let secret = tokio::task::spawn_blocking(move || {
        let args = elelem_cli::commands::keys::AddArgs {
            name: "shared".into(),
            budget: Some("0.0001".into()),
            ..Default::default()
        };
        elelem_cli::commands::keys::add(&url, &args).unwrap()
    })
    .await
    .unwrap();

    // No [[keys]] in the file: only the database's.
    let text = format!(
        r#"
[gateway]
ambient_keys = false
database_keys = true
keys_poll_secs = 60

[providers.openai]
api_key_file = "openai.key"
base_url = "{}"

[ledger]
postgres = "{db}"
"#,
        setup.server.url()
    );
    let gateways = [
        Arc::new(start(&setup, "a.toml", &text).await),
        Arc::new(start(&setup, "b.toml", &text).await),
    ];

    let calls: Vec<_> = (0..40)
        .map(|i| {
            let running = gateways[i % 2].clone();
            let secret = secret.clone();
            tokio::spawn(async move {
                let mut body = chat_body(MINI);
                body["max_tokens"] = json!(5);
                let response = post(&running, "/v1/chat/completions", Some(&secret), &body).await;
                let status = response.status().as_u16();
                (status, response.json::<Value>().await.unwrap())
            })
        })
        .collect();
    let (mut answered, mut refused) = (0u64, 0u64);
    for call in calls {
        let (status, body) = call.await.unwrap();
        match status {
            200 => answered += 1,
            429 => {
                refused += 1;
                assert_eq!(body["error"]["type"], "insufficient_quota", "{body}");
                assert_eq!(body["error"]["code"], "budget_exceeded", "{body}");
                assert!(body["error"].get("param").is_some(), "{body}");
            }
            other => panic!("{other}: {body}"),
        }
    }
    assert!(
        answered >= 1 && refused >= 1,
        "{answered} answered, {refused} refused"
    );

    // A revoked key is refused even though no key is left: the gateway stays closed.
    let url = db.clone();
    tokio::task::spawn_blocking(move || {
        elelem_cli::commands::keys::revoke(&url, "shared").unwrap()
    })
    .await
    .unwrap();
    let gateway = gateways[0].gateway.clone();
    let changed = tokio::task::spawn_blocking(move || gateway.refresh_keys().unwrap())
        .await
        .unwrap();
    assert!(changed);
    assert_eq!(status(&gateways[0], &secret).await, 401);
    assert_eq!(status(&gateways[0], "").await, 401);

    for running in gateways {
        Arc::into_inner(running).unwrap().shutdown().await;
    }
    // Both gateways' spend, read back from the shared ledger: within the limit,
    // one record per answer at its exact cost.
    let url = db.clone();
    let records = tokio::task::spawn_blocking(move || {
        let ledger = Ledger::open(&url, true).unwrap();
        let records = ledger
            .records(&StatsQuery::Tag("key:shared".into()))
            .unwrap();
        ledger.close().unwrap();
        records
    })
    .await
    .unwrap();
    let spent = records
        .iter()
        .fold(Usd::ZERO, |sum, r| sum + r.cost.total());
    assert_eq!(records.len() as u64, answered);
    let each: Usd = "0.000012".parse().unwrap();
    assert_eq!(
        spent,
        Usd::from_femtos(each.femtos() * i128::from(answered))
    );
    assert!(spent <= limit, "spent {spent} over {limit}");
}
