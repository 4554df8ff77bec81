//! The facade registers exactly the providers whose features are enabled.

#[test]
fn enabled_features_are_the_registered_providers() {
    let mut expected: Vec<&str> = Vec::new();
    if cfg!(feature = "anthropic") {
        expected.push("anthropic");
    }
    if cfg!(feature = "deepinfra") {
        expected.push("deepinfra");
    }
    if cfg!(feature = "gemini") {
        expected.push("gemini");
    }
    if cfg!(feature = "groq") {
        expected.push("groq");
    }
    if cfg!(feature = "ollama") {
        expected.push("ollama");
    }
    if cfg!(feature = "openai") {
        expected.push("openai");
    }
    if cfg!(feature = "compat") {
        expected.push("openai-compatible");
    }
    if cfg!(feature = "openrouter") {
        expected.push("openrouter");
    }
    if cfg!(feature = "scaleway") {
        expected.push("scaleway");
    }
    if cfg!(feature = "xai") {
        expected.push("xai");
    }
    let registered: Vec<&str> = elelem::provider::ProviderPlugin::all()
        .map(|p| p.name)
        .collect();
    assert_eq!(registered, expected);
}
