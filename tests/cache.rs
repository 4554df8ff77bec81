//! The response cache over real HTTP: hits cost nothing and send nothing, stats
//! show them, keys cover what determines the answer and never the API key, disk
//! entries survive corruption and are shared by tasks and by processes.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::io::Read;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use common::*;
use elelem::cache::{Cache, CacheKey, CachedResponse, DiskCache, MemoryCache};
use elelem::{ChatRequest, Elelem, Message};
use elelem_testkit::wire::Completion;
use elelem_testkit::TestServer;
use serde_json::json;

const MODEL: &str = "openai:gpt-4.1-mini";

fn answer(content: &str) -> Completion {
    // 2000 in, 300 out: 0.0008 + 0.00048 = 0.00128 USD on gpt-4.1-mini.
    Completion::new("gpt-4.1-mini", content).usage(2_000, 300)
}

fn request() -> ChatRequest {
    json_request(MODEL).temperature(0.2).tags(["cached"])
}

/// Every file under `dir`, recursively.
fn files_under(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            out.extend(files_under(&path));
        } else {
            out.push(path);
        }
    }
    out
}

fn gunzip(path: &Path) -> String {
    let mut text = String::new();
    flate2::read::GzDecoder::new(std::fs::File::open(path).unwrap())
        .read_to_string(&mut text)
        .unwrap();
    text
}

#[tokio::test]
async fn a_hit_is_free_sends_nothing_and_shows_in_the_stats() {
    let server = TestServer::start().await.unwrap();
    server.set_fallback(answer(r#"{"name": "Alice", "age": 30}"#));
    let elelem = builder("openai", &server)
        .memory_cache(100)
        .build()
        .unwrap();

    let miss = elelem.create_chat_completion(request()).await.unwrap();
    assert!(!miss.elelem.cache_hit);
    assert_eq!(miss.elelem.cost, usd("0.00128"));
    assert_eq!(server.request_count(), 1);

    let hit = elelem.create_chat_completion(request()).await.unwrap();
    assert!(hit.elelem.cache_hit);
    assert_eq!(server.request_count(), 1, "a hit sends nothing");
    assert_eq!(elelem.request_count("openai"), 1);
    assert_eq!(hit.elelem.cost, usd("0"));
    assert_eq!(hit.elelem.attempts, 0);
    assert_eq!(hit.elelem.answered_by, MODEL);
    assert_eq!(hit.elelem.json, Some(json!({"name": "Alice", "age": 30})));
    assert_eq!(hit.content(), miss.content());
    assert_eq!(hit.usage, miss.usage);
    assert_eq!(
        serde_json::to_value(&hit).unwrap(),
        serde_json::to_value(&miss).unwrap()
    );

    let stats = elelem.get_stats_by_tag("cached");
    assert_eq!(stats.total_calls, 2);
    assert_eq!(stats.cache_hits, 1);
    assert_eq!(stats.cache_saved_cost_usd, usd("0.00128"));
    assert_eq!(
        stats.total_cost_usd,
        usd("0.00128"),
        "the hit added no cost"
    );
    assert_eq!(stats.total_input_tokens, 2_000, "the hit added no tokens");
    let json = serde_json::to_value(&stats).unwrap();
    assert_eq!(json["cache_hits"], 1);

    // Anything that changes the answer is a miss: temperature, messages, schema.
    elelem
        .create_chat_completion(request().temperature(0.3))
        .await
        .unwrap();
    elelem
        .create_chat_completion(request().message(Message::user("More.")))
        .await
        .unwrap();
    elelem
        .create_chat_completion(request().json_schema(json!({"type": "object"})))
        .await
        .unwrap();
    assert_eq!(server.request_count(), 4);
    // Tags do not change the answer: still a hit.
    let retagged = elelem
        .create_chat_completion(request().tags(["other"]))
        .await
        .unwrap();
    assert!(retagged.elelem.cache_hit);
    assert_eq!(server.request_count(), 4);

    // ignore_cache neither reads nor writes; refresh_cache writes only.
    let ignored = elelem
        .create_chat_completion(request().ignore_cache())
        .await
        .unwrap();
    assert!(!ignored.elelem.cache_hit);
    assert_eq!(server.request_count(), 5);
    let fresh = request().message(Message::user("Fresh."));
    elelem
        .create_chat_completion(fresh.clone().refresh_cache())
        .await
        .unwrap();
    assert_eq!(server.request_count(), 6);
    assert!(
        elelem
            .create_chat_completion(fresh)
            .await
            .unwrap()
            .elelem
            .cache_hit
    );
    assert_eq!(server.request_count(), 6);
}

#[tokio::test]
async fn the_cache_is_off_by_default() {
    let server = TestServer::start().await.unwrap();
    server.set_fallback(answer(r#"{"a": 1}"#));
    let elelem = client("openai", &server);
    elelem.create_chat_completion(request()).await.unwrap();
    let again = elelem.create_chat_completion(request()).await.unwrap();
    assert!(!again.elelem.cache_hit);
    assert_eq!(server.request_count(), 2);
    assert_eq!(elelem.get_stats().cache_hits, 0);
}

#[tokio::test]
async fn only_validated_answers_are_stored_and_stale_ones_are_ignored() {
    let server = TestServer::start().await.unwrap();
    server.push(answer("not JSON at all"));
    server.push(answer(r#"{"age": 30}"#));
    server.set_fallback(answer(r#"{"age": 40}"#));
    let cache = Arc::new(MemoryCache::new(10));
    let elelem = builder("openai", &server)
        .cache(cache.clone())
        .build()
        .unwrap();

    // The rejected first answer is never stored; the validated retry is.
    let first = elelem.create_chat_completion(request()).await.unwrap();
    assert_eq!(first.elelem.json, Some(json!({"age": 30})));
    assert_eq!(cache.len(), 1);
    let hit = elelem.create_chat_completion(request()).await.unwrap();
    assert!(hit.elelem.cache_hit);
    assert_eq!(server.request_count(), 2);
    // The hit saved what the whole call cost, both attempts.
    assert_eq!(elelem.get_stats().cache_saved_cost_usd, usd("0.00256"));

    // The same request with a check the cached answer fails: ignored, asked anew.
    let strict = request().check(|v| {
        if v["age"].as_u64() == Some(40) {
            Ok(())
        } else {
            Err("age must be 40".into())
        }
    });
    let fresh = elelem.create_chat_completion(strict).await.unwrap();
    assert!(!fresh.elelem.cache_hit);
    assert_eq!(fresh.elelem.json, Some(json!({"age": 40})));
    assert_eq!(server.request_count(), 3);
}

#[tokio::test]
async fn api_keys_are_never_in_cache_keys_or_files() {
    let server = TestServer::start().await.unwrap();
    server.set_fallback(answer(r#"{"name": "Alice"}"#));
    let dir = tempfile::tempdir().unwrap();
    let with_key = |key: &str| {
        Elelem::builder()
            .without_env_keys()
            .api_key("openai", key)
            .base_url("openai", server.url())
            .disk_cache(dir.path())
            .build()
            .unwrap()
    };
    let first = with_key("sk-test-SECRET-first-111");
    let second = with_key("sk-test-SECRET-second-222");

    first.create_chat_completion(request()).await.unwrap();
    // Another key, same request: the same entry (the key is not part of the hash).
    let hit = second.create_chat_completion(request()).await.unwrap();
    assert!(hit.elelem.cache_hit);
    assert_eq!(server.request_count(), 1);

    let files = files_under(dir.path());
    assert_eq!(files.len(), 1, "{files:?}");
    for path in &files {
        let name = path.to_string_lossy().into_owned();
        let raw = std::fs::read(path).unwrap();
        let text = gunzip(path);
        for secret in ["SECRET", "sk-test"] {
            assert!(!name.contains(secret), "{name}");
            assert!(!String::from_utf8_lossy(&raw).contains(secret));
            assert!(!text.contains(secret), "{text}");
        }
        let stem = path
            .file_name()
            .unwrap()
            .to_string_lossy()
            .replace(".json.gz", "");
        assert!(CacheKey::parse(&stem).is_some(), "{stem}");
        assert!(
            text.contains("\"cost_femto_usd\":\"1280000000000\""),
            "{text}"
        );
    }
}

#[tokio::test]
async fn a_corrupt_cache_file_is_ignored_and_replaced() {
    let server = TestServer::start().await.unwrap();
    server.set_fallback(answer(r#"{"name": "Alice"}"#));
    let dir = tempfile::tempdir().unwrap();
    let elelem = builder("openai", &server)
        .disk_cache(dir.path())
        .build()
        .unwrap();
    elelem.create_chat_completion(request()).await.unwrap();
    let files = files_under(dir.path());
    assert_eq!(files.len(), 1);
    let path = &files[0];
    let good = std::fs::read(path).unwrap();

    for corrupt in [
        good[..good.len() / 2].to_vec(),
        b"garbage, not gzip".to_vec(),
        Vec::new(),
    ] {
        std::fs::write(path, &corrupt).unwrap();
        let before = server.request_count();
        let response = elelem.create_chat_completion(request()).await.unwrap();
        assert!(!response.elelem.cache_hit);
        assert_eq!(server.request_count(), before + 1);
        // The fresh answer replaced the corrupt file: the next call hits.
        assert!(
            elelem
                .create_chat_completion(request())
                .await
                .unwrap()
                .elelem
                .cache_hit
        );
        assert_eq!(server.request_count(), before + 1);
    }
    let leftovers: Vec<_> = files_under(dir.path())
        .into_iter()
        .filter(|p| p.to_string_lossy().ends_with(".tmp"))
        .collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn tasks_of_two_clients_share_a_disk_cache() {
    let server = TestServer::start().await.unwrap();
    server.set_fallback(answer(r#"{"name": "Alice"}"#));
    let dir = tempfile::tempdir().unwrap();
    let make = || {
        builder("openai", &server)
            .memory_cache(100)
            .disk_cache(dir.path())
            .build()
            .unwrap()
    };
    let (a, b) = (make(), make());
    let question = |i: usize| request().message(Message::user(format!("Question {i}")));

    // Client A answers eight questions concurrently...
    let tasks: Vec<_> = (0..8)
        .map(|i| {
            let a = a.clone();
            let r = question(i);
            tokio::spawn(async move { a.create_chat_completion(r).await.unwrap() })
        })
        .collect();
    for task in tasks {
        assert!(!task.await.unwrap().elelem.cache_hit);
    }
    assert_eq!(server.request_count(), 8);
    // ...and client B, with its own memory, gets all of them from the disk.
    let tasks: Vec<_> = (0..8)
        .map(|i| {
            let b = b.clone();
            let r = question(i);
            tokio::spawn(async move { b.create_chat_completion(r).await.unwrap() })
        })
        .collect();
    for task in tasks {
        assert!(task.await.unwrap().elelem.cache_hit);
    }
    assert_eq!(server.request_count(), 8);
    assert_eq!(b.get_stats().cache_hits, 8);
    assert_eq!(b.request_count("openai"), 0);
}

const CHILD_DIR: &str = "ELELEM_CACHE_TEST_CHILD_DIR";
const CHILD_URL: &str = "ELELEM_CACHE_TEST_CHILD_URL";
const CHILD_ID: &str = "ELELEM_CACHE_TEST_CHILD_ID";

/// The child side of `two_processes_share_a_disk_cache`; does nothing when run as
/// an ordinary test.
#[tokio::test]
async fn child_process_entry() {
    let (Ok(dir), Ok(url), Ok(id)) = (
        std::env::var(CHILD_DIR),
        std::env::var(CHILD_URL),
        std::env::var(CHILD_ID),
    ) else {
        return;
    };
    let elelem = Elelem::builder()
        .without_env_keys()
        .api_key("openai", format!("sk-test-child-{id}"))
        .base_url("openai", url)
        .disk_cache(dir)
        .build()
        .unwrap();
    // One question both children ask, and one of its own; then the writes of many
    // entries at once, to race the other process.
    elelem.create_chat_completion(request()).await.unwrap();
    let own = request().message(Message::user(format!("Child {id}")));
    elelem.create_chat_completion(own).await.unwrap();
    let cache = DiskCache::new(std::env::var(CHILD_DIR).unwrap()).unwrap();
    let key = CacheKey::from_content(&json!("raced by both processes"));
    let completion: elelem::ChatCompletion =
        serde_json::from_value(json!({"choices": [{"message": {"content": "x".repeat(100_000)}}]}))
            .unwrap();
    for _ in 0..30 {
        let entry = CachedResponse::new(completion.clone(), MODEL, usd("0.5"));
        cache.put(&key, &entry).await;
        if let Some(found) = cache.get(&key).await {
            assert_eq!(found.completion.content().unwrap().len(), 100_000);
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_processes_share_a_disk_cache() {
    let server = TestServer::start().await.unwrap();
    server.set_fallback(answer(r#"{"name": "Alice"}"#));
    let dir = tempfile::tempdir().unwrap();
    let exe = std::env::current_exe().unwrap();

    let children: Vec<_> = (0..2)
        .map(|id| {
            let mut command = std::process::Command::new(&exe);
            command
                .args(["child_process_entry", "--exact", "--test-threads=1"])
                .env(CHILD_DIR, dir.path())
                .env(CHILD_URL, server.url())
                .env(CHILD_ID, id.to_string());
            tokio::task::spawn_blocking(move || command.output().unwrap())
        })
        .collect();
    for child in children {
        let output = child.await.unwrap();
        assert!(
            output.status.success(),
            "child failed:\n{}\n{}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        );
    }
    let sent_by_children = server.request_count();
    assert!((3..=4).contains(&sent_by_children), "{sent_by_children}");

    // This process finds every answer the children stored.
    let elelem = builder("openai", &server)
        .disk_cache(dir.path())
        .build()
        .unwrap();
    for r in [
        request(),
        request().message(Message::user("Child 0")),
        request().message(Message::user("Child 1")),
    ] {
        assert!(
            elelem
                .create_chat_completion(r)
                .await
                .unwrap()
                .elelem
                .cache_hit
        );
    }
    assert_eq!(server.request_count(), sent_by_children);
    let raced = DiskCache::new(dir.path())
        .unwrap()
        .read(&CacheKey::from_content(&json!("raced by both processes")))
        .unwrap();
    assert_eq!(raced.cost, usd("0.5"));
}
