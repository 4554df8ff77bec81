//! The facade registers exactly the providers whose features are enabled.

/// The provider names of the enabled features (`feature => registered name`).
macro_rules! enabled {
    ($($feature:literal => $name:literal),* $(,)?) => {{
        let mut names: Vec<&str> = Vec::new();
        $(
            if cfg!(feature = $feature) {
                names.push($name);
            }
        )*
        names
    }};
}

#[test]
fn enabled_features_are_the_registered_providers() {
    let mut expected = enabled![
        "anthropic" => "anthropic",
        "azure" => "azure",
        "baseten" => "baseten",
        "bedrock" => "bedrock",
        "cerebras" => "cerebras",
        "compat" => "openai-compatible",
        "deepinfra" => "deepinfra",
        "deepseek" => "deepseek",
        "fireworks" => "fireworks",
        "gemini" => "gemini",
        "gemini-openai" => "gemini-openai",
        "groq" => "groq",
        "mistral" => "mistral",
        "novita" => "novita",
        "ollama" => "ollama",
        "openai" => "openai",
        "openrouter" => "openrouter",
        "parasail" => "parasail",
        "perplexity" => "perplexity",
        "sambanova" => "sambanova",
        "scaleway" => "scaleway",
        "together" => "together",
        "vertex" => "vertex",
        "xai" => "xai",
    ];
    expected.sort_unstable();
    let mut registered: Vec<&str> = elelem::provider::ProviderPlugin::all()
        .map(|p| p.name)
        .collect();
    registered.sort_unstable();
    assert_eq!(registered, expected);
}
