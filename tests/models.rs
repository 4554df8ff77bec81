//! The built-in catalogue as users meet it: every entry well formed (prices,
//! limits, where each price was read and when), the models users name resolve
//! (dated snapshots and their aliases alike), a mistyped case gets a "did you
//! mean", and tier prices (long prompts) are what a call is billed.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use common::*;
use elelem::catalogue::{ModelEntry, Rates};
use elelem::{Elelem, ElelemError};
use elelem_testkit::wire::Completion;
use elelem_testkit::TestServer;

/// A client with no keys: the whole built-in catalogue.
fn keyless() -> Elelem {
    Elelem::builder().without_env_keys().build().unwrap()
}

/// The models a user would reasonably expect to name, as they type them.
const EXPECTED: &[&str] = &[
    // Issue 14's list: every one failed with UnknownModel.
    "openai:gpt-4o",
    "openai:gpt-4o-mini",
    "openai:gpt-4",
    "openai:gpt-3.5-turbo",
    "openai:o1",
    "openai:o4-mini",
    "anthropic:claude-sonnet-4-20250514",
    "anthropic:claude-3-5-sonnet-latest",
    "gemini:gemini-2.5-flash",
    // The cloud platforms: Azure deployments named after their model, Gemini on Vertex.
    "azure:gpt-4o",
    "azure:gpt-4o-mini",
    "azure:gpt-4.1",
    "azure:o4-mini",
    "vertex:gemini-2.5-pro",
    "vertex:gemini-2.5-flash",
    // Dated snapshots and aliases of the same models.
    "openai:gpt-4o-2024-08-06",
    "openai:gpt-4o-2024-11-20",
    "openai:gpt-4o-mini-2024-07-18",
    "openai:gpt-4.1-2025-04-14",
    "openai:o4-mini-2025-04-16",
    "anthropic:claude-sonnet-4-0",
    "anthropic:claude-3-5-sonnet-20241022",
    "anthropic:claude-3-7-sonnet-latest",
    "anthropic:claude-sonnet-4-5-20250929",
    "anthropic:claude-haiku-4-5-20251001",
    // Current flagships and minis.
    "openai:gpt-4.1",
    "openai:gpt-4.1-mini",
    "openai:gpt-4.1-nano",
    "openai:gpt-5",
    "openai:gpt-5-mini",
    "openai:gpt-5-nano",
    "openai:o3",
    "openai:o3-mini",
    "anthropic:claude-opus-4-1",
    "anthropic:claude-sonnet-4-5",
    "anthropic:claude-haiku-4-5",
    "anthropic:claude-3-5-haiku-latest",
    "anthropic:claude-opus-4-6",
    "anthropic:claude-opus-4-5",
    "anthropic:claude-sonnet-4-6",
    "anthropic:claude-sonnet-5",
    "anthropic:claude-opus-5",
    "anthropic:claude-sonnet-5-5",
    "anthropic:claude-opus-5-5",
    "anthropic:claude-haiku-5-5",
    "anthropic:claude-opus-4-7",
    "anthropic:claude-opus-4-8",
    "anthropic:claude-fable-5",
    "anthropic:claude-fable-5-1",
    "anthropic:claude-fable-5-2",
    "openai:gpt-5.4-nano",
    "openai:gpt-5.6-sol",
    "openai:gpt-5.6-terra",
    "openai:gpt-5.6-luna",
    "openai:gpt-6-sol",
    "openai:gpt-6-luna",
    "openai:gpt-6-astra",
    "openai:gpt-6.1-sol",
    "openai:gpt-6.1-terra",
    "xai:grok-4.7",
    "xai:grok-4.3",
    "openai:gpt-5.1",
    "openai:gpt-5.2",
    "openai:gpt-5.4",
    "openai:gpt-5.4-mini",
    "openai:gpt-5.5",
    "gemini:gemini-3-pro-preview",
    "gemini:gemini-3-flash-preview",
    "gemini:gemini-3.1-pro-preview",
    "gemini:gemini-3.5-flash",
    "gemini:gemini-3.1-flash-lite",
    "gemini:gemini-3.8-flash",
    "gemini:gemini-3.5-flash-lite",
    "gemini:gemini-2.5-pro",
    "gemini:gemini-2.5-flash-lite",
    "gemini:gemini-2.0-flash",
    "groq:openai/gpt-oss-120b",
    "groq:openai/gpt-oss-20b",
    "deepinfra:deepseek-ai/DeepSeek-R1-0528",
    "xai:grok-4-0709",
    // The OpenAI-compatible clouds.
    "mistral:mistral-large-latest",
    "mistral:mistral-small-2506",
    "deepseek:deepseek-chat",
    "deepseek:deepseek-reasoner",
    "together:meta-llama/Llama-3.3-70B-Instruct-Turbo",
    "fireworks:accounts/fireworks/models/llama-v3p3-70b-instruct",
    "cerebras:llama-3.3-70b",
    "sambanova:Meta-Llama-3.3-70B-Instruct",
    "novita:deepseek/deepseek-r1-0528",
    "parasail:parasail-gpt-oss-120b",
    "baseten:openai/gpt-oss-120b",
    "perplexity:sonar-pro",
    "gemini-openai:gemini-2.5-flash",
    // GROQ, DeepInfra, Scaleway, xAI and OpenRouter beyond the original Elelem's.
    "groq:llama-3.3-70b-versatile",
    "groq:llama-3.1-8b-instant",
    "groq:qwen/qwen3-32b",
    "groq:moonshotai/kimi-k2-instruct-0905",
    "groq:llama3-70b-8192",
    "deepinfra:meta-llama/Llama-3.3-70B-Instruct-Turbo",
    "deepinfra:meta-llama/Meta-Llama-3.1-8B-Instruct",
    "deepinfra:Qwen/Qwen3-235B-A22B-Instruct-2507",
    "deepinfra:deepseek-ai/DeepSeek-V3-0324",
    "deepinfra:google/gemma-3-27b-it",
    "scaleway:llama-3.3-70b-instruct",
    "scaleway:llama-3.1-8b-instruct",
    "scaleway:mistral-nemo-instruct-2407",
    "scaleway:pixtral-12b-2409",
    "xai:grok-4",
    "xai:grok-4-fast-reasoning",
    "xai:grok-code-fast-1",
    "xai:grok-3",
    "xai:grok-3-mini",
    "openrouter:openai/gpt-4o",
    "openrouter:openai/gpt-4o-mini",
    "openrouter:openai/gpt-5",
    "openrouter:anthropic/claude-sonnet-4",
    "openrouter:google/gemini-2.5-pro",
    "openrouter:meta-llama/llama-3.3-70b-instruct",
    "openrouter:deepseek/deepseek-r1-0528",
    // Embedding models.
    "deepinfra:BAAI/bge-m3",
    "deepinfra:Qwen/Qwen3-Embedding-8B",
    "scaleway:bge-multilingual-gemma2",
    "openai:text-embedding-3-small",
    "openai:text-embedding-3-large",
];

fn check_rates(id: &str, what: &str, rates: &Rates) {
    for price in [
        rates.input,
        rates.cached_input,
        rates.output,
        rates.cache_write_input,
    ] {
        assert!(price.nanos() >= 0, "{id} {what}: negative price");
    }
    assert!(
        rates.cached_input <= rates.input,
        "{id} {what}: cached dearer than input"
    );
}

fn check_entry(model: &ModelEntry) {
    let id = model.id.as_str();
    if let (Some(context), Some(output)) = (model.context_window, model.max_output) {
        assert!(
            context >= output,
            "{id}: context {context} < max output {output}"
        );
    }
    if let Some(prices) = model.prices {
        check_rates(id, "base", &prices.base());
        let source = model.price_source.as_deref().unwrap_or_default();
        assert!(
            source.starts_with("https://"),
            "{id}: price source {source:?}"
        );
        assert!(model.price_date.is_some(), "{id}: no price date");
        // Every built-in price says whether it was checked against its source.
        let verified = model
            .price_verified
            .unwrap_or_else(|| panic!("{id}: price_verified not said"));
        if verified {
            // A checked price names one page (no free-text remark) on the day read.
            assert!(
                !source.contains(' ') && !source.contains('('),
                "{id}: a verified price names a single page: {source:?}"
            );
            assert!(
                model.price_date.as_deref() >= Some("2026-12-01"),
                "{id}: verified before any copy was read"
            );
        }
        if let Some(long) = prices.tiers.long_context {
            check_rates(id, "long_context", &long.rates);
            assert!(
                long.rates.input >= prices.input,
                "{id}: long context is cheaper"
            );
            if let Some(context) = model.context_window {
                assert!(
                    long.above_tokens < context,
                    "{id}: long-context threshold beyond the window"
                );
            }
        }
        if let Some(flex) = prices.tiers.flex {
            check_rates(id, "flex", &flex);
            assert!(
                flex.input <= prices.input,
                "{id}: flex dearer than standard"
            );
        }
        if let Some(priority) = prices.tiers.priority {
            check_rates(id, "priority", &priority);
            assert!(
                priority.input >= prices.input,
                "{id}: priority cheaper than standard"
            );
        }
        if model.capabilities.embedding {
            assert_eq!(
                prices.output.nanos(),
                0,
                "{id}: an embedding model has no output price"
            );
        }
    }
    if model.deprecation_date.is_some() {
        assert!(
            model.deprecated,
            "{id}: a retirement date but not deprecated"
        );
    }
    let caps = model.capabilities;
    if caps.reasoning_effort {
        assert!(caps.reasoning, "{id}: reasoning_effort without reasoning");
    }
    if caps.embedding {
        assert_eq!(model.tier.as_deref(), Some("embedding"), "{id}");
        assert!(
            !caps.json_mode && !caps.tools,
            "{id}: an embedding model cannot chat"
        );
    }
}

#[test]
fn every_entry_and_alias_is_well_formed() {
    let elelem = keyless();
    let catalogue = elelem.catalogue();
    let mut count = 0;
    for model in catalogue.models() {
        count += 1;
        check_entry(model);
        for alias in &model.aliases {
            let id = format!("{}:{alias}", model.provider);
            let resolved = catalogue
                .model(&id)
                .unwrap_or_else(|| panic!("{id} does not resolve"));
            if resolved.upstream == *alias {
                // An alias shares everything but its id and upstream name.
                assert_eq!(resolved.prices, model.prices, "{id}");
                assert_eq!(resolved.capabilities, model.capabilities, "{id}");
                assert_eq!(resolved.context_window, model.context_window, "{id}");
            }
        }
    }
    assert!(count > 80, "only {count} models");
}

#[test]
fn the_models_users_name_resolve() {
    let elelem = keyless();
    let catalogue = elelem.catalogue();
    let missing: Vec<&str> = EXPECTED
        .iter()
        .copied()
        .filter(|id| catalogue.callable_model(id).is_none())
        .collect();
    assert!(missing.is_empty(), "these do not resolve: {missing:?}");

    // A snapshot sends its own name; its alias sends the alias.
    let snapshot = catalogue
        .model("anthropic:claude-3-5-sonnet-20241022")
        .unwrap();
    let alias = catalogue
        .model("anthropic:claude-3-5-sonnet-latest")
        .unwrap();
    assert_eq!(snapshot.upstream, "claude-3-5-sonnet-20241022");
    assert_eq!(alias.upstream, "claude-3-5-sonnet-latest");
    assert_eq!(alias.prices, snapshot.prices);
    assert!(alias.deprecated);
    assert_eq!(alias.deprecation_date.as_deref(), Some("2025-10-22"));

    // The older gpt-4o snapshot has its own, higher price.
    let old = catalogue
        .model("openai:gpt-4o-2024-05-13")
        .unwrap()
        .prices
        .unwrap();
    let current = catalogue.model("openai:gpt-4o").unwrap().prices.unwrap();
    assert!(old.input > current.input);

    // Retired models stay callable, marked with their date.
    let retired = catalogue.model("groq:llama3-70b-8192").unwrap();
    assert!(retired.deprecated);
    assert_eq!(retired.deprecation_date.as_deref(), Some("2025-08-30"));
    // Every provider expanded in issue 14 lists chat and (except GROQ, xAI and
    // OpenRouter, which serve none through this API) embedding models.
    for (provider, chat, embeddings) in [
        ("groq", 12, 0),
        ("deepinfra", 20, 5),
        ("scaleway", 12, 1),
        ("xai", 10, 0),
        ("openrouter", 25, 0),
    ] {
        let listed = |m: &&ModelEntry| m.provider == provider;
        let models: Vec<&ModelEntry> = catalogue.models().filter(listed).collect();
        let embed = models.iter().filter(|m| m.capabilities.embedding).count();
        assert!(
            models.len() - embed >= chat,
            "{provider}: {} chat models",
            models.len() - embed
        );
        assert_eq!(embed, embeddings, "{provider}");
    }

    // Embedding models are listed but not offered to chat queries.
    assert!(catalogue
        .query()
        .ids()
        .iter()
        .all(|id| !id.contains("embedding")));
    assert!(catalogue
        .query()
        .embeddings()
        .ids()
        .contains(&"openai:text-embedding-3-small".to_owned()));
}

#[test]
fn prices_say_whether_they_were_checked_against_their_source() {
    let elelem = keyless();
    let catalogue = elelem.catalogue();
    let verified = |id: &str| catalogue.model(id).unwrap().price_verified;
    // Checked against Anthropic's pricing page (stored copy read 2026-12-01).
    for id in [
        "anthropic:claude-haiku-4-5",
        "anthropic:claude-opus-4-6",
        "anthropic:claude-3-5-haiku-latest",
        "anthropic:claude-sonnet-5",
        "anthropic:claude-fable-5-1",
    ] {
        assert_eq!(verified(id), Some(true), "{id}");
        let model = catalogue.model(id).unwrap();
        assert!(model
            .price_source
            .as_deref()
            .unwrap()
            .starts_with("https://platform.claude.com/"));
        assert_eq!(model.price_date.as_deref(), Some("2026-12-01"));
    }
    // xAI's Grok 4.7 page gives its input and output prices.
    let grok = catalogue.model("xai:grok-4.7").unwrap();
    assert_eq!(grok.price_verified, Some(true));
    assert_eq!(
        grok.price_source.as_deref(),
        Some("https://docs.x.ai/developers/grok-4-7")
    );
    // Written from memory or a secondary table: marked, never passed off as checked.
    for id in [
        "openai:gpt-4o",
        "openai:gpt-5.5",
        "gemini:gemini-2.5-pro",
        "azure:gpt-4o",
        "vertex:gemini-2.5-pro",
        "groq:openai/gpt-oss-120b",
        "deepinfra:deepseek-ai/DeepSeek-R1-0528",
        "xai:grok-4",
        "anthropic:claude-3-5-sonnet-latest",
        "anthropic:claude-sonnet-4-5",
        "anthropic:claude-haiku-5-5",
    ] {
        assert_eq!(verified(id), Some(false), "{id}");
    }
    // Local models have no price and say nothing.
    assert!(catalogue
        .models()
        .filter(|m| m.prices.is_none())
        .all(|m| m.provider == "ollama" || m.price_verified.is_some()));

    // What the checked pages said beyond prices: Sonnet 4.5 retired on 2026-11-30,
    // Opus 4 / 4.1 retired from the Claude API; Claude 5 refuses temperature.
    let sonnet = catalogue.model("anthropic:claude-sonnet-4-5").unwrap();
    assert!(sonnet.deprecated);
    assert_eq!(sonnet.deprecation_date.as_deref(), Some("2026-11-30"));
    assert!(
        catalogue
            .model("anthropic:claude-opus-4-1")
            .unwrap()
            .deprecated
    );
    for (id, retired) in [
        ("anthropic:claude-sonnet-4-0", "2026-06-15"),
        ("anthropic:claude-opus-4-0", "2026-06-15"),
        ("anthropic:claude-opus-4-5", "2027-01-22"),
        ("gemini:gemini-2.5-pro", "2026-12-01"),
        ("gemini:gemini-2.5-flash", "2026-12-01"),
        ("gemini:gemini-3-pro-preview", "2026-03-09"),
        ("gemini:gemini-2.0-flash", "2026-06-01"),
        ("gemini-openai:gemini-2.5-flash", "2026-12-01"),
        // Issue 14's OpenAI names resolve even where OpenAI has shut them down.
        ("openai:gpt-4", "2026-10-23"),
        ("openai:gpt-3.5-turbo", "2026-10-23"),
        ("openai:o1", "2026-10-23"),
        ("openai:o4-mini-2025-04-16", "2026-10-23"),
        ("openai:gpt-5", "2026-12-11"),
        ("openai:gpt-4o-2024-08-06", "2027-01-14"),
        ("openai:gpt-4o-mini", "2027-01-14"),
    ] {
        let model = catalogue.model(id).unwrap();
        assert!(model.deprecated, "{id}");
        assert_eq!(model.deprecation_date.as_deref(), Some(retired), "{id}");
    }
    assert!(
        !catalogue
            .model("anthropic:claude-sonnet-5")
            .unwrap()
            .capabilities
            .temperature
    );
    let fallback = catalogue
        .provider("anthropic")
        .unwrap()
        .fallback_model
        .clone();
    let fallback = catalogue.model(&fallback.unwrap()).unwrap();
    assert!(!fallback.deprecated, "the fallback is a current model");

    // GPT-6 bills a prompt over 272k input tokens at 2x input, 1.5x output.
    let luna = catalogue.model("openai:gpt-6-luna").unwrap();
    assert_eq!(luna.price_verified, Some(false));
    let long = luna.prices.unwrap().tiers.long_context.unwrap();
    assert_eq!(long.above_tokens, 272_000);
    assert_eq!(long.rates.input.to_string(), "0.2");
    assert_eq!(long.rates.output.to_string(), "0.75");

    // Haiku 5.5 bills prompts over 100k tokens in its second band.
    let haiku = catalogue
        .model("anthropic:claude-haiku-5-5")
        .unwrap()
        .prices
        .unwrap();
    let long = haiku.tiers.long_context.unwrap();
    assert_eq!(long.above_tokens, 100_000);
    assert_eq!(long.rates.input.to_string(), "0.5");
    assert_eq!(long.rates.output.to_string(), "2.5");
}

#[tokio::test]
async fn an_id_differing_only_in_case_gets_a_did_you_mean() {
    let server = TestServer::start().await.unwrap();
    let elelem = client("openai", &server);
    for (typed, meant) in [
        ("openai:GPT-4o", "openai:gpt-4o"),
        ("openai:gpt-4o-Mini", "openai:gpt-4o-mini"),
    ] {
        let error = elelem
            .create_chat_completion(json_request(typed))
            .await
            .unwrap_err();
        assert!(
            matches!(error, ElelemError::UnknownModel { .. }),
            "{error:?}"
        );
        let message = error.to_string();
        assert!(
            message.contains(&format!("did you mean \"{meant}\"?")),
            "{message}"
        );
    }
    let error = elelem
        .create_chat_completion(json_request("openai:gpt-99"))
        .await
        .unwrap_err();
    assert!(!error.to_string().contains("did you mean"), "{error}");
    assert!(
        server.requests().is_empty(),
        "nothing is sent for an unknown model"
    );
}

#[tokio::test]
async fn an_alias_is_called_by_its_own_name_at_its_models_price() {
    let server = TestServer::start().await.unwrap();
    server
        .push(Completion::new("gpt-4o-2024-08-06", r#"{"ok": true}"#).usage(1_000_000, 1_000_000));
    let elelem = client("openai", &server);
    let response = elelem
        .create_chat_completion(json_request("openai:gpt-4o-2024-08-06"))
        .await
        .unwrap();
    // 1M x 2.50 + 1M x 10.00.
    assert_eq!(response.elelem.cost, usd("12.50"));
    assert_eq!(
        body_of(&server.last_request().unwrap())["model"],
        "gpt-4o-2024-08-06"
    );
}

#[tokio::test]
async fn a_long_prompt_is_billed_at_the_long_context_price() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("models.toml");
    std::fs::write(
        &path,
        r#"
[[models]]
id = "groq:long"
context_window = 1000000
[models.price]
input = "1.00"
output = "2.00"
long_context = { above_tokens = 200000, input = "3.00", output = "5.00" }
"#,
    )
    .unwrap();
    let server = TestServer::start().await.unwrap();
    server.push_many([
        Completion::new("long", r#"{"ok": true}"#)
            .groq()
            .usage(200_000, 1_000_000)
            .into_response(),
        Completion::new("long", r#"{"ok": true}"#)
            .groq()
            .usage(200_001, 1_000_000)
            .into_response(),
    ]);
    let elelem = builder("groq", &server).models_file(&path).build().unwrap();
    let at_threshold = elelem
        .create_chat_completion(json_request("groq:long"))
        .await
        .unwrap();
    // 200k x 1.00 + 1M x 2.00.
    assert_eq!(at_threshold.elelem.cost, usd("2.20"));
    let above = elelem
        .create_chat_completion(json_request("groq:long"))
        .await
        .unwrap();
    // 200,001 x 3.00 + 1M x 5.00.
    assert_eq!(above.elelem.cost, usd("5.600003"));
}
