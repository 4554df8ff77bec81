//! The builder reads a plugin's models only when something first needs them
//! (`crates/elelem-core/src/catalogue/deferred.rs`): every built-in catalogue is
//! deferred, resolves without error, and gives exactly the catalogue an eager read
//! gives; user files still merge over built-in entries and fail at `build()`.
#![allow(clippy::unwrap_used)]

use elelem::catalogue::{Catalogue, CatalogueSources};
use elelem::provider::ProviderPlugin;
use elelem::{Elelem, ElelemError};

fn plugins() -> Vec<(String, &'static str)> {
    ProviderPlugin::all()
        .map(|p| (format!("provider plugin {}", p.name), p.catalogue))
        .collect()
}

/// Every plugin's catalogue read at once, as before deferral.
fn eager() -> Catalogue {
    let plugins = plugins();
    Catalogue::from_sources(plugins.iter().map(|(n, t)| (n.as_str(), *t))).unwrap()
}

fn keyless() -> Elelem {
    Elelem::builder().without_env_keys().build().unwrap()
}

#[test]
fn every_built_in_catalogue_with_models_is_deferred() {
    let mut sources = CatalogueSources::new().unwrap();
    let mut with_models = Vec::new();
    for plugin in ProviderPlugin::all() {
        sources
            .add_plugin(
                &format!("provider plugin {}", plugin.name),
                plugin.catalogue,
            )
            .unwrap();
        if plugin.catalogue.contains("[[models]]") {
            with_models.push(plugin.name);
        }
    }
    assert!(with_models.len() >= 20, "{with_models:?}");
    let deferred: Vec<&str> = sources.deferred_providers().collect();
    assert_eq!(deferred, with_models);
}

#[test]
fn the_deferred_catalogue_is_the_eager_one_entry_for_entry() {
    let eager = eager();
    let elelem = keyless();
    let deferred = elelem.catalogue();
    // Providers are read at build(), every field.
    let providers = |c: &Catalogue| c.providers().cloned().collect::<Vec<_>>();
    assert_eq!(providers(deferred), providers(&eager));
    // One model first: only its provider is read, and the entry is the same.
    assert_eq!(
        deferred.model("openai:gpt-4.1-mini"),
        eager.model("openai:gpt-4.1-mini")
    );
    assert_eq!(
        deferred.callable_model("anthropic:claude-sonnet-4-5?reasoning=high"),
        eager.callable_model("anthropic:claude-sonnet-4-5?reasoning=high")
    );
    for provider in eager.providers() {
        let known = eager.model_ids_of(&provider.name);
        assert_eq!(deferred.model_ids_of(&provider.name), known);
        assert!(!known.contains("does not resolve"), "{known}");
    }
    let models = |c: &Catalogue| c.models().cloned().collect::<Vec<_>>();
    let all = models(&eager);
    assert!(all.len() > 250, "{}", all.len());
    assert_eq!(models(deferred), all);
    for model in &all {
        for alias in &model.aliases {
            let id = format!("{}:{alias}", model.provider);
            assert_eq!(deferred.model(&id), eager.model(&id), "{id}");
            assert!(deferred.model(&id).is_some(), "{id}");
        }
    }
    let virtuals = |c: &Catalogue| c.virtual_models().cloned().collect::<Vec<_>>();
    assert_eq!(virtuals(deferred), virtuals(&eager));
}

#[test]
fn built_in_fallback_models_are_listed() {
    let elelem = keyless();
    let catalogue = elelem.catalogue();
    for provider in catalogue.providers() {
        if let Some(fallback) = &provider.fallback_model {
            let entry = catalogue.model(fallback);
            assert_eq!(entry.map(|m| m.id.as_str()), Some(fallback.as_str()));
        }
    }
}

#[test]
fn user_files_merge_over_deferred_models_and_fail_at_build() {
    let elelem = Elelem::builder()
        .without_env_keys()
        .models_toml(
            "user",
            "[[models]]\nid = 'openai:gpt-4.1-mini'\nnotes = 'mine'\n[models.price]\noutput = '9'\n",
        )
        .build()
        .unwrap();
    let eager = eager();
    let builtin = eager.model("openai:gpt-4.1-mini").unwrap();
    let merged = elelem.catalogue().model("openai:gpt-4.1-mini").unwrap();
    assert_eq!(merged.notes.as_deref(), Some("mine"));
    let (merged_prices, builtin_prices) = (merged.prices.unwrap(), builtin.prices.unwrap());
    assert_eq!(merged_prices.output.to_string(), "9");
    assert_eq!(merged_prices.input, builtin_prices.input);
    assert_eq!(merged.context_window, builtin.context_window);

    // A provider table changed by a user file re-prices its models at build().
    let error = Elelem::builder()
        .without_env_keys()
        .models_toml(
            "user",
            "[[providers]]\nname = 'groq'\nbase_url = 'http://x'\ncurrency = 'XYZ'\n",
        )
        .build()
        .unwrap_err();
    assert!(
        matches!(&error, ElelemError::Catalogue { reason, .. } if reason.contains("unknown currency \"XYZ\"")),
        "{error}"
    );
    // A broken override of a deferred model fails at build(), naming the file.
    let error = Elelem::builder()
        .without_env_keys()
        .models_toml(
            "mine.toml",
            "[[models]]\nid = 'xai:grok-4.7'\nrelease_date = 'soon'\n",
        )
        .build()
        .unwrap_err();
    assert!(
        matches!(&error, ElelemError::Catalogue { source_name, reason } if source_name == "provider plugin xai" && reason.contains("YYYY-MM-DD")),
        "{error}"
    );
    // A virtual model over deferred providers resolves their candidates.
    let elelem = Elelem::builder()
        .without_env_keys()
        .models_toml(
            "user",
            "[[virtual_models]]\nid = 'virtual:v'\ncandidates = [{ model = 'groq:openai/gpt-oss-20b' }, { model = 'openai:gpt-4.1-mini' }]\n",
        )
        .build()
        .unwrap();
    let v = elelem.catalogue().virtual_model("virtual:v").unwrap();
    assert_eq!(v.candidates[0].underlying, "gpt-oss-20b");
    let error = Elelem::builder()
        .without_env_keys()
        .models_toml(
            "user",
            "[[virtual_models]]\nid = 'virtual:v'\ncandidates = [{ model = 'openai:gpt-0' }]\n",
        )
        .build()
        .unwrap_err();
    assert!(
        error.to_string().contains("not a model of the catalogue"),
        "{error}"
    );
}
