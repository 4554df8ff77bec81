//! The model catalogue: well-formed entries, WIRE.md's published prices, the model
//! list, and user models files that override and extend it.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::collections::BTreeSet;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

use common::*;
use elelem::{Elelem, ElelemError, PricePerMillion};
use elelem_testkit::wire::Completion;
use elelem_testkit::TestServer;
use serde_json::json;

/// WIRE.md, "Published list prices": model, currency, input, output, cached input
/// (per 1M tokens; `None` for "-").
const WIRE_PRICES: &[(&str, &str, &str, &str, Option<&str>)] = &[
    ("openai:gpt-4.1", "USD", "2.00", "8.00", Some("0.50")),
    ("openai:gpt-4.1-mini", "USD", "0.40", "1.60", Some("0.10")),
    ("openai:gpt-5", "USD", "1.25", "10.00", Some("0.125")),
    ("openai:gpt-5-mini", "USD", "0.25", "2.00", Some("0.025")),
    ("openai:o3", "USD", "2.00", "8.00", Some("0.50")),
    ("openai:o3-mini", "USD", "1.10", "4.40", Some("0.55")),
    (
        "groq:openai/gpt-oss-20b",
        "USD",
        "0.075",
        "0.30",
        Some("0.0375"),
    ),
    (
        "groq:openai/gpt-oss-120b",
        "USD",
        "0.15",
        "0.60",
        Some("0.075"),
    ),
    (
        "groq:meta-llama/llama-4-scout-17b-16e-instruct",
        "USD",
        "0.11",
        "0.34",
        None,
    ),
    (
        "deepinfra:deepseek-ai/DeepSeek-R1-0528",
        "USD",
        "0.50",
        "2.15",
        Some("0.40"),
    ),
    ("scaleway:gpt-oss-120b", "EUR", "0.15", "0.60", None),
    ("scaleway:gemma-3-27b-it", "EUR", "0.25", "0.50", None),
    (
        "scaleway:mistral-small-3.2-24b-instruct-2506",
        "EUR",
        "0.15",
        "0.35",
        None,
    ),
    (
        "scaleway:qwen3-235b-a22b-instruct-2507",
        "EUR",
        "0.75",
        "2.25",
        None,
    ),
];

/// WIRE.md, "Endpoints": provider, base URL, key variable.
const WIRE_ENDPOINTS: &[(&str, &str, &str)] = &[
    (
        "deepinfra",
        "https://api.deepinfra.com/v1/openai",
        "DEEPINFRA_API_KEY",
    ),
    ("groq", "https://api.groq.com/openai/v1", "GROQ_API_KEY"),
    ("openai", "https://api.openai.com/v1", "OPENAI_API_KEY"),
    ("scaleway", "https://api.scaleway.ai/v1", "SCALEWAY_API_KEY"),
    (
        "openrouter",
        "https://openrouter.ai/api/v1",
        "OPENROUTER_API_KEY",
    ),
    ("xai", "https://api.x.ai/v1", "XAI_API_KEY"),
];

/// models/currencies.toml: USD per EUR, as a fraction (1.16 = 116 / 100).
const EUR_RATE: (i64, i64) = (116, 100);

/// A price from WIRE.md in USD nano-dollars per 1M tokens, converting EUR exactly.
fn usd_nanos(currency: &str, price: &str) -> i64 {
    let nanos = price.parse::<PricePerMillion>().unwrap().nanos();
    match currency {
        "USD" => nanos,
        "EUR" => {
            let (num, den) = EUR_RATE;
            assert_eq!(nanos * num % den, 0, "{price} EUR is not exact in USD");
            nanos * num / den
        }
        other => panic!("unknown currency {other}"),
    }
}

/// A client with no keys at all.
fn keyless() -> Elelem {
    Elelem::builder().without_env_keys().build().unwrap()
}

/// A unique path under the temp dir, removed on drop.
struct TempFile(PathBuf);

impl TempFile {
    fn new(contents: &str) -> TempFile {
        static COUNTER: AtomicU32 = AtomicU32::new(0);
        let nanos = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap()
            .as_nanos();
        let name = format!(
            "elelem-suite-models-{}-{nanos}-{}.toml",
            std::process::id(),
            COUNTER.fetch_add(1, Ordering::Relaxed)
        );
        let path = std::env::temp_dir().join(name);
        std::fs::write(&path, contents).unwrap();
        TempFile(path)
    }
}

impl Drop for TempFile {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

#[test]
fn every_entry_is_well_formed() {
    let elelem = keyless();
    let catalogue = elelem.catalogue();
    let models: Vec<_> = catalogue.models().collect();
    // Exactly the entries of the provider files in models/.
    let files = [
        include_str!("../models/openai.toml"),
        include_str!("../models/groq.toml"),
        include_str!("../models/deepinfra.toml"),
        include_str!("../models/scaleway.toml"),
        include_str!("../models/openrouter.toml"),
        include_str!("../models/xai.toml"),
        include_str!("../models/ollama.toml"),
        include_str!("../models/anthropic.toml"),
        include_str!("../models/gemini.toml"),
        include_str!("../models/mistral.toml"),
        include_str!("../models/deepseek.toml"),
        include_str!("../models/together.toml"),
        include_str!("../models/fireworks.toml"),
        include_str!("../models/cerebras.toml"),
        include_str!("../models/sambanova.toml"),
        include_str!("../models/novita.toml"),
        include_str!("../models/parasail.toml"),
        include_str!("../models/baseten.toml"),
        include_str!("../models/perplexity.toml"),
        include_str!("../models/gemini-openai.toml"),
        include_str!("../models/bedrock.toml"),
        include_str!("../models/azure.toml"),
        include_str!("../models/vertex.toml"),
    ];
    let entries: usize = files.iter().map(|f| f.matches("[[models]]").count()).sum();
    assert_eq!(models.len(), entries);

    let mut ids = BTreeSet::new();
    for model in &models {
        assert!(ids.insert(model.id.as_str()), "{} listed twice", model.id);
        let (provider, name) = model
            .id
            .split_once(':')
            .unwrap_or_else(|| panic!("{} is not provider:model", model.id));
        assert!(!provider.is_empty() && !name.is_empty(), "{}", model.id);
        assert_eq!(provider, model.provider, "{}", model.id);
        assert!(
            catalogue.provider(provider).is_some(),
            "{} has no provider entry",
            model.id
        );
        assert!(!model.upstream.is_empty(), "{}", model.id);
        assert!(
            matches!(model.currency.as_str(), "USD" | "EUR"),
            "{}: {}",
            model.id,
            model.currency
        );
        let expected_currency = if provider == "scaleway" { "EUR" } else { "USD" };
        assert_eq!(model.currency, expected_currency, "{}", model.id);
        match model.prices {
            Some(prices) => {
                for price in [
                    prices.input,
                    prices.cached_input,
                    prices.output,
                    prices.cache_write_input,
                ] {
                    assert!(price.nanos() >= 0, "{}: negative price", model.id);
                }
                assert!(prices.cached_input <= prices.input, "{}", model.id);
            }
            // Local models have no price; other unpriced entries say why.
            None => assert!(
                provider == "ollama"
                    || model
                        .notes
                        .as_deref()
                        .is_some_and(|n| n.contains("No price")),
                "{} has no price",
                model.id
            ),
        }
        assert!(
            matches!(
                model.max_tokens_field.as_str(),
                "max_tokens" | "max_completion_tokens"
            ),
            "{}",
            model.id
        );
        // Models that reject temperature are the reasoning ones with the new field
        // (Anthropic's Messages API takes max_tokens for every model).
        if !model.capabilities.temperature && provider != "anthropic" {
            assert_eq!(
                model.max_tokens_field, "max_completion_tokens",
                "{}",
                model.id
            );
        }
    }

    let providers: Vec<&str> = catalogue.providers().map(|p| p.name.as_str()).collect();
    assert_eq!(
        providers,
        [
            "anthropic",
            "azure",
            "baseten",
            "bedrock",
            "cerebras",
            "deepinfra",
            "deepseek",
            "fireworks",
            "gemini",
            "gemini-openai",
            "groq",
            "mistral",
            "novita",
            "ollama",
            "openai",
            "openai-compatible",
            "openrouter",
            "parasail",
            "perplexity",
            "sambanova",
            "scaleway",
            "together",
            "vertex",
            "xai",
        ]
    );
    for provider in catalogue.providers() {
        // Local servers take any model and have no fallback; so does Azure, whose
        // deployments are the user's own (a fallback deployment may not exist).
        if matches!(
            provider.name.as_str(),
            "ollama" | "openai-compatible" | "azure"
        ) {
            assert!(provider.allow_unknown_models, "{}", provider.name);
            assert!(provider.fallback_model.is_none(), "{}", provider.name);
            continue;
        }
        let fallback = provider
            .fallback_model
            .as_ref()
            .unwrap_or_else(|| panic!("{} has no fallback", provider.name));
        let entry = catalogue
            .model(fallback)
            .unwrap_or_else(|| panic!("fallback {fallback} of {} is missing", provider.name));
        assert_eq!(entry.provider, provider.name);
        // A fallback is a model the provider still serves.
        assert!(!entry.deprecated, "fallback {fallback} is deprecated");
        assert!(
            models.iter().any(|m| m.provider == provider.name),
            "{} has no models",
            provider.name
        );
    }
    for (name, base_url, key_env) in WIRE_ENDPOINTS {
        let provider = catalogue.provider(name).unwrap();
        assert_eq!(provider.base_url, *base_url);
        assert_eq!(provider.api_key_env.as_deref(), Some(*key_env));
    }
}

#[test]
fn wire_md_prices_are_in_the_catalogue_exactly() {
    let elelem = keyless();
    for (id, currency, input, output, cached) in WIRE_PRICES {
        let model = elelem
            .catalogue()
            .model(id)
            .unwrap_or_else(|| panic!("{id} is missing"));
        assert_eq!(model.currency, *currency, "{id}");
        let prices = model.prices.unwrap();
        assert_eq!(
            prices.input.nanos(),
            usd_nanos(currency, input),
            "{id} input"
        );
        assert_eq!(
            prices.output.nanos(),
            usd_nanos(currency, output),
            "{id} output"
        );
        let cached = cached.map_or(prices.input.nanos(), |c| usd_nanos(currency, c));
        assert_eq!(prices.cached_input.nanos(), cached, "{id} cached input");
    }

    // A few conversions spelled out: EUR x 1.16.
    let price = |id: &str| elelem.catalogue().model(id).unwrap().prices.unwrap();
    assert_eq!(price("scaleway:gpt-oss-120b").input.to_string(), "0.174");
    assert_eq!(price("scaleway:gpt-oss-120b").output.to_string(), "0.696");
    assert_eq!(price("scaleway:gemma-3-27b-it").input.to_string(), "0.29");
    assert_eq!(
        price("scaleway:mistral-small-3.2-24b-instruct-2506")
            .output
            .to_string(),
        "0.406"
    );
    assert_eq!(
        price("scaleway:qwen3-235b-a22b-instruct-2507")
            .output
            .to_string(),
        "2.61"
    );
    assert_eq!(
        price("groq:openai/gpt-oss-20b").cached_input.to_string(),
        "0.0375"
    );
}

#[test]
fn list_models_is_sorted_openai_shaped_and_knows_which_providers_have_keys() {
    let elelem = Elelem::builder()
        .without_env_keys()
        .api_key("groq", GROQ_KEY)
        .api_key("scaleway", SCALEWAY_KEY)
        .build()
        .unwrap();
    let list = elelem.list_models();
    assert_eq!(list.object, "list");
    let ids: Vec<&str> = list.data.iter().map(|m| m.id.as_str()).collect();
    let mut sorted = ids.clone();
    sorted.sort_unstable();
    sorted.dedup();
    assert_eq!(ids, sorted, "not sorted or not unique");
    let catalogue_ids: Vec<&str> = elelem.catalogue().models().map(|m| m.id.as_str()).collect();
    assert_eq!(ids, catalogue_ids);

    for model in &list.data {
        assert_eq!(model.object, "model");
        let provider = model.id.split_once(':').unwrap().0;
        assert_eq!(model.owned_by, provider);
        // Ollama needs no key; Bedrock reads no AWS credentials after
        // without_env_keys(), so it is unavailable here.
        assert_eq!(
            model.available,
            matches!(provider, "groq" | "scaleway" | "ollama"),
            "{}",
            model.id
        );
    }
    assert!(list.data.iter().any(|m| m.available));
    assert!(list.data.iter().any(|m| !m.available));

    let value = serde_json::to_value(&list).unwrap();
    let keys: Vec<&String> = value.as_object().unwrap().keys().collect();
    assert_eq!(keys, ["object", "data"]);
    let first = &value["data"][0];
    let keys: Vec<&String> = first.as_object().unwrap().keys().collect();
    assert_eq!(keys, ["id", "object", "created", "owned_by", "available"]);
    assert_eq!(first["id"], ids[0]);

    // With no keys at all, only the keyless provider (Ollama) is available:
    // Bedrock reads no AWS credentials after without_env_keys().
    assert!(keyless()
        .list_models()
        .data
        .iter()
        .all(|m| m.available == (m.owned_by == "ollama")));
}

#[tokio::test]
async fn a_user_models_file_overrides_field_by_field_and_adds_models() {
    let file = TempFile::new(
        r#"
# Only the output price of gpt-4.1 changes.
[[models]]
id = "openai:gpt-4.1"
price = { output = "9.00" }

# Scaleway prices stay in the provider's currency (EUR).
[[models]]
id = "scaleway:gemma-3-27b-it"
price = { input = "1.00" }

# A new GROQ model.
[[models]]
id = "groq:acme/brand-new-model"
upstream = "acme/brand-new-model"
price = { input = "0.29", output = "0.59" }
capabilities = { json_mode = true, json_schema = false }
"#,
    );
    let server = TestServer::start().await.unwrap();
    let elelem = builder("groq", &server)
        .api_key("openai", OPENAI_KEY)
        .base_url("openai", server.url())
        .models_file(&file.0)
        .build()
        .unwrap();
    let builtin = keyless();
    let catalogue = elelem.catalogue();

    let overridden = catalogue.model("openai:gpt-4.1").unwrap();
    let original = builtin.catalogue().model("openai:gpt-4.1").unwrap();
    let prices = overridden.prices.unwrap();
    assert_eq!(prices.input.to_string(), "2");
    assert_eq!(prices.cached_input.to_string(), "0.5");
    assert_eq!(prices.output.to_string(), "9");
    // Everything else is untouched.
    assert_eq!(overridden.upstream, original.upstream);
    assert_eq!(overridden.capabilities, original.capabilities);
    assert_eq!(overridden.context_window, original.context_window);
    assert_eq!(overridden.max_tokens_field, original.max_tokens_field);

    let gemma = catalogue
        .model("scaleway:gemma-3-27b-it")
        .unwrap()
        .prices
        .unwrap();
    assert_eq!(gemma.input.to_string(), "1.16");
    assert_eq!(gemma.output.to_string(), "0.58");

    let added = catalogue.model("groq:acme/brand-new-model").unwrap();
    assert_eq!(added.provider, "groq");
    assert_eq!(added.upstream, "acme/brand-new-model");
    assert_eq!(added.currency, "USD");
    assert!(added.capabilities.json_mode);
    assert!(!added.capabilities.json_schema);
    assert!(added.capabilities.temperature);
    assert_eq!(added.prices.unwrap().cached_input.to_string(), "0.29");
    let listed = elelem
        .list_models()
        .data
        .into_iter()
        .find(|m| m.id == "groq:acme/brand-new-model")
        .unwrap();
    assert!(listed.available);
    assert_eq!(builtin.catalogue().model("groq:acme/brand-new-model"), None);

    // Both are usable, at the new prices.
    server.push_many([
        Completion::new("acme/brand-new-model", r#"{"ok": true}"#)
            .groq()
            .usage(1_000_000, 1_000_000)
            .into_response(),
        Completion::new("gpt-4.1", r#"{"ok": true}"#)
            .usage(1_000_000, 1_000_000)
            .cached(500_000)
            .into_response(),
    ]);
    let response = elelem
        .create_chat_completion(json_request("groq:acme/brand-new-model"))
        .await
        .unwrap();
    assert_eq!(response.elelem.cost, usd("0.88"));
    let body = body_of(&server.last_request().unwrap());
    assert_eq!(body["model"], "acme/brand-new-model");
    assert_eq!(body["service_tier"], "auto");
    assert_eq!(body["response_format"], json!({"type": "json_object"}));

    let response = elelem
        .create_chat_completion(json_request("openai:gpt-4.1"))
        .await
        .unwrap();
    // 500k x 2.00 + 500k x 0.50 + 1M x 9.00.
    assert_eq!(response.elelem.cost, usd("10.25"));
}

#[test]
fn broken_user_files_are_refused_with_a_clear_error() {
    let missing = std::env::temp_dir().join("elelem-suite-no-such-file.toml");
    let error = Elelem::builder()
        .without_env_keys()
        .models_file(&missing)
        .build()
        .unwrap_err();
    assert!(
        matches!(&error, ElelemError::Catalogue { reason, .. } if reason.contains("cannot read")),
        "{error:?}"
    );

    let cases = [
        (
            "[[models]]\nid = \"openai:gpt-4.1\"\ncurrency = \"XYZ\"\n",
            "unknown currency",
        ),
        (
            "[[models]]\nid = \"openai:gpt-4.1\"\nprice = { input = \"-1\" }\n",
            "negative",
        ),
        (
            "[[models]]\nid = \"nowhere:model\"\n",
            "no [provider] entry",
        ),
        (
            "[[providers]]\nname = \"groq\"\nfallback_model = \"groq:gone\"\n",
            "fallback model",
        ),
    ];
    for (text, expected) in cases {
        let file = TempFile::new(text);
        let error = Elelem::builder()
            .without_env_keys()
            .models_file(&file.0)
            .build()
            .unwrap_err();
        assert!(matches!(error, ElelemError::Catalogue { .. }), "{error:?}");
        assert!(error.to_string().contains(expected), "{text} => {error}");
    }
}
