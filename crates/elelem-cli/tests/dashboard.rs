//! The dashboard in a real headless Chromium (Debian's `chromium`): after a
//! scripted run the page shows its figures, and a screenshot is taken
//! (target/elelem-dashboard.png). Skips, saying so, when Chromium is absent.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

use common::*;
use elelem_testkit::wire;
use serde_json::json;

fn chromium() -> Option<PathBuf> {
    ["chromium", "chromium-browser", "google-chrome"]
        .iter()
        .find_map(|name| {
            let output = Command::new("which").arg(name).output().ok()?;
            let path = String::from_utf8_lossy(&output.stdout).trim().to_owned();
            (output.status.success() && !path.is_empty()).then(|| PathBuf::from(path))
        })
}

/// Runs headless Chromium with a fresh profile and `args`.
async fn headless(browser: &Path, profile: &Path, args: Vec<String>) -> std::process::Output {
    let mut command = Command::new(browser);
    command
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--no-first-run",
            "--disable-dev-shm-usage",
            "--virtual-time-budget=5000",
        ])
        .arg(format!("--user-data-dir={}", profile.display()))
        .args(args);
    tokio::task::spawn_blocking(move || command.output().unwrap())
        .await
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_dashboard_shows_the_figures_of_a_scripted_run() {
    let Some(browser) = chromium() else {
        eprintln!("SKIPPED: no chromium on this machine (Debian: apt-get install chromium; .ci/run installs it)");
        return;
    };
    let setup = Setup::new().await;
    setup.server.push(wire::rate_limited_ms(5));
    setup.server.push(wire::completion("gpt-4.1-mini", "one"));
    setup.server.push(wire::completion("gpt-4.1", "two"));
    setup.server.push(wire::model_not_found("gpt-4.1-mini"));
    let running = setup.start("[[budgets]]\nlimit_usd = \"5\"\n").await;
    for (model, tag) in [
        ("openai:gpt-4.1-mini", "alpha"),
        ("openai:gpt-4.1", "beta"),
        ("openai:gpt-4.1-mini", "alpha"),
    ] {
        let mut body = chat_body(model);
        body["tags"] = json!([tag]);
        post(&running, "/v1/chat/completions", Some(OPEN_KEY), &body).await;
    }

    let url = format!("http://{}/dashboard", running.addr);
    let profile = tempfile::tempdir().unwrap();
    let output = headless(
        &browser,
        profile.path(),
        vec!["--dump-dom".into(), url.clone()],
    )
    .await;
    let dom = String::from_utf8_lossy(&output.stdout).into_owned();
    assert!(
        dom.contains("Elelem gateway"),
        "no page: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    let figure = |id: &str| {
        let start = dom
            .find(&format!("id=\"{id}\">"))
            .unwrap_or_else(|| panic!("no #{id} in {dom}"));
        let rest = &dom[start + id.len() + 6..];
        rest[..rest.find('<').unwrap()].to_owned()
    };
    // 10 in + 5 out on gpt-4.1-mini ($0.000012) and on gpt-4.1 ($0.00006).
    assert_eq!(figure("total-cost"), "$0.000072");
    assert_eq!(figure("total-calls"), "3");
    assert_eq!(figure("total-errors"), "1");
    assert_eq!(figure("error-rate"), "33.3%");
    assert_eq!(figure("total-retries"), "1");
    assert!(dom.contains("data-model=\"openai:gpt-4.1-mini\""), "{dom}");
    assert!(dom.contains("data-model=\"openai:gpt-4.1\""), "{dom}");
    assert!(dom.contains("data-cause=\"rate_limit\""), "{dom}");
    assert!(
        dom.contains("data-series=\"alpha\"") && dom.contains("data-series=\"beta\""),
        "{dom}"
    );
    assert!(dom.contains("$5.00"), "the budget's limit: {dom}");

    let shot = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../target/elelem-dashboard.png");
    let _ = std::fs::remove_file(&shot);
    let profile = tempfile::tempdir().unwrap();
    let output = headless(
        &browser,
        profile.path(),
        vec![
            format!("--screenshot={}", shot.display()),
            "--window-size=1280,1000".into(),
            url,
        ],
    )
    .await;
    let png = std::fs::read(&shot)
        .unwrap_or_else(|_| panic!("no screenshot: {}", String::from_utf8_lossy(&output.stderr)));
    assert!(
        png.starts_with(b"\x89PNG") && png.len() > 10_000,
        "{} bytes",
        png.len()
    );
    running.shutdown().await;
}
