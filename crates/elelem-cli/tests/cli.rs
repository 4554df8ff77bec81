//! The built `elelem` binary run as a child process against testkit servers.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use common::*;
use elelem_testkit::sse::ChunkStream;
use elelem_testkit::wire;
use serde_json::{json, Value};

const MINI: &str = "openai:gpt-4.1-mini";

fn elelem(args: &[&str], dir: &Path) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_elelem"));
    command
        .args(args)
        .current_dir(dir)
        .env_remove("OPENAI_API_KEY")
        .env("HOME", dir);
    command
}

/// Runs the binary off the async runtime (the testkit server keeps answering).
async fn run(args: &[&str], dir: &Path) -> Output {
    let mut command = elelem(args, dir);
    tokio::task::spawn_blocking(move || command.output().unwrap())
        .await
        .unwrap()
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// Asserts a failure: non-zero exit, one line on stderr saying what to do.
fn assert_one_line_failure(output: &Output, needle: &str) {
    assert!(!output.status.success());
    let stderr = text(&output.stderr);
    let lines: Vec<&str> = stderr
        .lines()
        .filter(|l| l.starts_with("elelem:"))
        .collect();
    assert_eq!(lines.len(), 1, "{stderr}");
    assert!(lines[0].contains(needle), "{stderr}");
}

#[tokio::test]
async fn chat_prints_the_answer_and_its_cost() {
    let setup = Setup::new().await;
    let config = setup.write_config("");
    let config = config.to_str().unwrap();
    setup
        .server
        .push(wire::completion("gpt-4.1-mini", "Hi there"));
    let output = run(
        &[
            "chat", MINI, "Say hi", "--system", "Be brief", "--config", config,
        ],
        setup.dir.path(),
    )
    .await;
    assert!(output.status.success(), "{}", text(&output.stderr));
    assert_eq!(text(&output.stdout), "Hi there\n");
    assert!(text(&output.stderr)
        .contains("cost $0.000012, 1 attempt(s), answered by openai:gpt-4.1-mini"));
    let body = setup.server.last_request().unwrap().json().unwrap();
    assert_eq!(body["messages"][0]["content"], "Be brief");

    // JSON with a schema: validated, printed pretty.
    let schema = setup.path("schema.json");
    std::fs::write(&schema, r#"{"type":"object","required":["name","age"]}"#).unwrap();
    setup.server.push(wire::completion(
        "gpt-4.1-mini",
        r#"{"name":"Alice","age":30}"#,
    ));
    let output = run(
        &[
            "chat",
            MINI,
            "Alice is 30",
            "--json",
            "--schema",
            schema.to_str().unwrap(),
            "--config",
            config,
        ],
        setup.dir.path(),
    )
    .await;
    assert!(output.status.success(), "{}", text(&output.stderr));
    let printed: Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(printed, json!({"name": "Alice", "age": 30}));

    // Streamed.
    setup
        .server
        .push(ChunkStream::new("gpt-4.1-mini", &["Once ", "upon"]).usage(1_000, 500));
    let output = run(
        &["chat", MINI, "Story", "--stream", "--config", config],
        setup.dir.path(),
    )
    .await;
    assert!(output.status.success(), "{}", text(&output.stderr));
    assert_eq!(text(&output.stdout), "Once upon\n");
    assert!(
        text(&output.stderr).contains("cost $0.0012,"),
        "{}",
        text(&output.stderr)
    );

    // An unknown model: one line saying what to do, exit non-zero.
    let output = run(
        &["chat", "openai:nope", "Hi", "--config", config],
        setup.dir.path(),
    )
    .await;
    assert_one_line_failure(&output, "unknown model");
    let output = run(
        &["chat", MINI, "Hi", "--config", "/nonexistent.toml"],
        setup.dir.path(),
    )
    .await;
    assert_one_line_failure(&output, "--config");
}

#[tokio::test]
async fn models_lists_a_filtered_table_or_json() {
    let setup = Setup::new().await;
    let config = setup.write_config("");
    let config = config.to_str().unwrap();
    let output = run(
        &[
            "models",
            "--provider",
            "openai",
            "--vision",
            "--config",
            config,
        ],
        setup.dir.path(),
    )
    .await;
    assert!(output.status.success(), "{}", text(&output.stderr));
    let table = text(&output.stdout);
    assert!(table.starts_with("MODEL"), "{table}");
    let mini = table
        .lines()
        .find(|l| l.starts_with("openai:gpt-4.1-mini "))
        .unwrap();
    assert!(
        mini.contains("0.4 USD") && mini.contains("1.6 USD") && mini.contains("yes"),
        "{mini}"
    );
    assert!(!table.contains("groq:"));

    let output = run(
        &["models", "--json-schema", "--json", "--config", config],
        setup.dir.path(),
    )
    .await;
    let list: Vec<Value> = serde_json::from_slice(&output.stdout).unwrap();
    assert!(!list.is_empty());
    assert!(list.iter().all(|m| m["json_schema"] == true));
    let mini = list.iter().find(|m| m["id"] == MINI).unwrap();
    assert_eq!(mini["available"], true, "the config gives OpenAI a key");
}

#[tokio::test]
async fn stats_reads_the_ledger_grouped_as_table_json_or_csv() {
    let setup = Setup::new().await;
    let ledger = setup.path("usage.db");
    let config = setup.write_config("[ledger]\nsqlite = \"usage.db\"\n");
    let config = config.to_str().unwrap();
    setup.server.push(wire::completion("gpt-4.1-mini", "one"));
    setup.server.push(wire::completion("gpt-4.1", "two"));
    for (model, tag) in [(MINI, "alpha"), ("openai:gpt-4.1", "beta")] {
        let output = run(
            &["chat", model, "Hi", "--tag", tag, "--config", config],
            setup.dir.path(),
        )
        .await;
        assert!(output.status.success(), "{}", text(&output.stderr));
    }
    let ledger = ledger.to_str().unwrap();
    let dir = setup.dir.path();

    let output = run(&["stats", "--ledger", ledger, "--json"], dir).await;
    assert!(output.status.success(), "{}", text(&output.stderr));
    let all: Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(all["total_calls"], 2);
    // 10 in + 5 out at gpt-4.1-mini ($0.000012) and gpt-4.1 ($0.00006).
    assert_eq!(all["total_cost_usd"], json!(0.000072));
    assert!(all["retry_analytics"].is_object());

    let output = run(
        &["stats", "--ledger", ledger, "--by", "model", "--json"],
        dir,
    )
    .await;
    let by_model: Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(by_model[MINI]["total_calls"], 1);
    assert_eq!(by_model["openai:gpt-4.1"]["total_cost_usd"], json!(0.00006));

    let output = run(
        &["stats", "--ledger", ledger, "--tag", "beta", "--by", "tag"],
        dir,
    )
    .await;
    let table = text(&output.stdout);
    assert!(table.starts_with("TAG"), "{table}");
    assert!(
        table
            .lines()
            .any(|l| l.starts_with("beta ") && l.contains("$0.00006")),
        "{table}"
    );
    assert!(!table.contains("alpha"), "{table}");

    let output = run(
        &[
            "stats",
            "--ledger",
            ledger,
            "--by",
            "day",
            "--csv",
            "--since",
            "2020-01-01",
        ],
        dir,
    )
    .await;
    let csv = text(&output.stdout);
    let mut lines = csv.lines();
    assert_eq!(
        lines.next().unwrap(),
        "DAY,CALLS,IN TOKENS,OUT TOKENS,COST USD,RETRIES,FAILURES,AVG S"
    );
    assert!(
        lines
            .next()
            .unwrap()
            .contains(",2,20,10,0.000072000000000,0,0,"),
        "{csv}"
    );

    let output = run(
        &[
            "stats",
            "--ledger",
            ledger,
            "--since",
            "2999-01-01",
            "--json",
        ],
        dir,
    )
    .await;
    let none: Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(none["total_calls"], 0);

    let output = run(&["stats", "--ledger", "missing.db"], dir).await;
    assert_one_line_failure(&output, "no ledger at");
    let output = run(&["stats", "--ledger", ledger, "--since", "yesterday"], dir).await;
    assert_one_line_failure(&output, "YYYY-MM-DD");
}

fn write_requests(path: &Path, lines: &[String]) {
    std::fs::write(path, lines.join("\n") + "\n").unwrap();
}

fn request_line(id: &str) -> String {
    json!({"custom_id": id, "model": MINI, "messages": [{"role": "user", "content": id}], "tags": ["batch"]}).to_string()
}

fn out_lines(path: &Path) -> Vec<Value> {
    std::fs::read_to_string(path)
        .unwrap_or_default()
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

#[tokio::test]
async fn batch_answers_every_line_resumes_and_respects_a_budget() {
    let setup = Setup::new().await;
    let config = setup.write_config("");
    let config = config.to_str().unwrap();
    let input = setup.path("requests.jsonl");
    let out = setup.path("answers.jsonl");
    write_requests(
        &input,
        &[request_line("a"), "{not json".into(), request_line("c")],
    );
    setup
        .server
        .set_fallback(wire::completion("gpt-4.1-mini", "answer"));
    let args = [
        "batch",
        input.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
        "--concurrency",
        "2",
        "--config",
        config,
    ];
    let output = run(&args, setup.dir.path()).await;
    assert_one_line_failure(&output, "1 request(s) failed");
    let lines = out_lines(&out);
    assert_eq!(lines.len(), 3);
    let by_line = |n: u64| lines.iter().find(|l| l["line"] == n).unwrap().clone();
    assert_eq!(by_line(1)["custom_id"], "a");
    assert_eq!(
        by_line(1)["response"]["choices"][0]["message"]["content"],
        "answer"
    );
    assert_eq!(
        by_line(1)["response"]["elelem"]["cost_usd"],
        json!(0.000012)
    );
    assert!(by_line(2)["error"]["message"]
        .as_str()
        .unwrap()
        .contains("line 2 is not JSON"));
    assert_eq!(by_line(3)["custom_id"], "c");
    assert_eq!(setup.server.request_count(), 2);

    // --resume: lines 1 and 3 are answered; only line 2 is tried again.
    write_requests(
        &input,
        &[request_line("a"), request_line("b"), request_line("c")],
    );
    let mut resume = args.to_vec();
    resume.push("--resume");
    let output = run(&resume, setup.dir.path()).await;
    assert!(output.status.success(), "{}", text(&output.stderr));
    assert_eq!(setup.server.request_count(), 3);
    let lines = out_lines(&out);
    assert_eq!(
        lines.iter().filter(|l| l["response"].is_object()).count(),
        3
    );

    // A budget too small for any request: nothing sent, said so.
    let fresh = setup.path("fresh.jsonl");
    let output = run(
        &[
            "batch",
            input.to_str().unwrap(),
            "--out",
            fresh.to_str().unwrap(),
            "--budget",
            "0.000001",
            "--config",
            config,
        ],
        setup.dir.path(),
    )
    .await;
    assert_one_line_failure(&output, "--budget was reached");
    assert_eq!(setup.server.request_count(), 3);
    assert!(out_lines(&fresh).is_empty());
}

#[tokio::test]
async fn ctrl_c_stops_a_batch_keeping_what_is_written() {
    let setup = Setup::new().await;
    let config = setup.write_config("");
    let input = setup.path("requests.jsonl");
    let out = setup.path("answers.jsonl");
    write_requests(&input, &[request_line("fast"), request_line("slow")]);
    setup
        .server
        .push(wire::completion("gpt-4.1-mini", "fast answer"));
    setup
        .server
        .push(wire::completion("gpt-4.1-mini", "never").delay(Duration::from_secs(60)));
    let child = elelem(
        &[
            "batch",
            input.to_str().unwrap(),
            "--out",
            out.to_str().unwrap(),
            "--concurrency",
            "1",
            "--config",
            config.to_str().unwrap(),
        ],
        setup.dir.path(),
    )
    .stderr(Stdio::piped())
    .spawn()
    .unwrap();
    let deadline = Instant::now() + Duration::from_secs(20);
    while out_lines(&out).is_empty() || setup.server.request_count() < 2 {
        assert!(
            Instant::now() < deadline,
            "the first answer was never written"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    signal(child.id(), "-INT");
    let output = tokio::task::spawn_blocking(move || child.wait_with_output().unwrap())
        .await
        .unwrap();
    assert_one_line_failure(&output, "--resume");
    let lines = out_lines(&out);
    assert_eq!(lines.len(), 1);
    assert_eq!(
        lines[0]["response"]["choices"][0]["message"]["content"],
        "fast answer"
    );
}

fn signal(pid: u32, which: &str) {
    let status = Command::new("kill")
        .args([which, &pid.to_string()])
        .status()
        .unwrap();
    assert!(status.success());
}

/// Starts `elelem serve` and returns it with its address (read from stderr) and
/// the rest of its stderr, line by line.
/// A child process killed if the test fails before it ends.
struct Killed(Option<Child>);

impl Drop for Killed {
    fn drop(&mut self) {
        if let Some(child) = self.0.as_mut() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

fn serve(
    config: &Path,
    dir: &Path,
    extra: &[&str],
) -> (Killed, String, std::sync::mpsc::Receiver<String>) {
    let mut args = vec![
        "serve",
        "--config",
        config.to_str().unwrap(),
        "--listen",
        "127.0.0.1:0",
    ];
    args.extend(extra);
    let mut child = elelem(&args, dir).stderr(Stdio::piped()).spawn().unwrap();
    let stderr = child.stderr.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    let first = rx.recv_timeout(Duration::from_secs(20)).unwrap();
    let addr = first
        .split("http://")
        .nth(1)
        .and_then(|rest| rest.split(' ').next())
        .unwrap_or_else(|| panic!("no address in {first:?}"))
        .to_owned();
    (Killed(Some(child)), addr, rx)
}

#[tokio::test]
async fn serve_reloads_on_sighup_refuses_a_bad_file_and_stops_on_sigterm() {
    let setup = Setup::new().await;
    let config = setup.write_config("[ledger]\nsqlite = \"usage.db\"\n");
    setup
        .server
        .push(wire::completion("gpt-4.1-mini", "served"));
    setup
        .server
        .push(wire::completion("gpt-4.1-mini", "served again"));
    let (mut guard, addr, stderr) = serve(&config, setup.dir.path(), &[]);
    let pid = guard.0.as_ref().unwrap().id();
    let client = reqwest::Client::new();
    let chat = |key: &'static str| {
        client
            .post(format!("http://{addr}/v1/chat/completions"))
            .bearer_auth(key)
            .json(&chat_body(MINI))
            .send()
    };
    let answer: Value = chat(OPEN_KEY).await.unwrap().json().await.unwrap();
    assert_eq!(answer["choices"][0]["message"]["content"], "served");

    // A bad file: refused with its line, still serving the old one.
    std::fs::write(&config, "[gateway]\nlisten = \"127.0.0.1:0\"\nbogus = 1\n").unwrap();
    signal(pid, "-HUP");
    let refused = stderr.recv_timeout(Duration::from_secs(10)).unwrap();
    assert!(
        refused.contains("refused") && refused.contains("line 3"),
        "{refused}"
    );
    assert_eq!(
        chat(OPEN_KEY).await.unwrap().status(),
        200,
        "the old keys still work"
    );

    // A good file without keys: reloaded.
    std::fs::write(
        &config,
        setup
            .config_text("")
            .replace("[[keys]]", "[[unused]]")
            .split("[[unused]]")
            .next()
            .unwrap(),
    )
    .unwrap();
    signal(pid, "-HUP");
    let reloaded = stderr.recv_timeout(Duration::from_secs(10)).unwrap();
    assert!(reloaded.contains("reloaded"), "{reloaded}");
    let open = client
        .get(format!("http://{addr}/v1/models"))
        .send()
        .await
        .unwrap();
    assert_eq!(open.status(), 200, "no keys: open");

    signal(pid, "-TERM");
    let child = guard.0.take().unwrap();
    let output = tokio::task::spawn_blocking(move || child.wait_with_output().unwrap())
        .await
        .unwrap();
    assert!(output.status.success());
    // The ledger was flushed on the way out: stats read it.
    let output = run(
        &["stats", "--ledger", "usage.db", "--json"],
        setup.dir.path(),
    )
    .await;
    let stats: Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(stats["total_calls"], 2);
}

/// The threads of the async runtime (named `elelem-runtime`) in process `pid`.
fn runtime_threads(pid: u32) -> usize {
    std::fs::read_dir(format!("/proc/{pid}/task"))
        .unwrap()
        .filter_map(|task| std::fs::read_to_string(task.unwrap().path().join("comm")).ok())
        .filter(|name| name.trim() == "elelem-runtime")
        .count()
}

#[tokio::test]
async fn serve_runs_the_worker_threads_asked_for_and_refuses_zero() {
    let setup = Setup::new().await;
    let config = setup.path("elelem.toml");
    let with_workers = |line: &str| {
        let text =
            setup
                .config_text("")
                .replacen("[gateway]\n", &format!("[gateway]\n{line}\n"), 1);
        std::fs::write(&config, text).unwrap();
    };
    let client = reqwest::Client::new();
    let answered = |addr: String| {
        let request = client
            .post(format!("http://{addr}/v1/chat/completions"))
            .bearer_auth(OPEN_KEY)
            .json(&chat_body(MINI));
        async move { request.send().await.unwrap().status() }
    };

    // From the file; `--workers` overrides it. Nothing else in the runtime
    // runs before the first request, so the count is exact.
    with_workers("workers = 3");
    for (flag, threads) in [(&[][..], 3), (&["--workers", "1"][..], 1)] {
        setup
            .server
            .push(wire::completion("gpt-4.1-mini", "served"));
        let (guard, addr, _stderr) = serve(&config, setup.dir.path(), flag);
        let pid = guard.0.as_ref().unwrap().id();
        assert_eq!(runtime_threads(pid), threads, "{flag:?}");
        assert_eq!(answered(addr).await, 200, "{flag:?}");
    }

    // 0 is refused, from the flag and from the file, before anything starts.
    let path = config.to_str().unwrap();
    let flag = run(
        &["serve", "--config", path, "--workers", "0"],
        setup.dir.path(),
    )
    .await;
    assert_one_line_failure(&flag, "--workers must be at least 1");
    with_workers("workers = 0");
    let file = run(&["serve", "--config", path], setup.dir.path()).await;
    assert_one_line_failure(&file, "[gateway] workers must be at least 1");
}
