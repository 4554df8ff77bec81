//! The facade registers exactly the providers whose features are enabled.

#[test]
fn enabled_features_are_the_registered_providers() {
    let mut expected: Vec<&str> = Vec::new();
    if cfg!(feature = "deepinfra") {
        expected.push("deepinfra");
    }
    if cfg!(feature = "groq") {
        expected.push("groq");
    }
    if cfg!(feature = "openai") {
        expected.push("openai");
    }
    if cfg!(feature = "scaleway") {
        expected.push("scaleway");
    }
    let registered: Vec<&str> = elelem::provider::ProviderPlugin::all()
        .map(|p| p.name)
        .collect();
    assert_eq!(registered, expected);
}
