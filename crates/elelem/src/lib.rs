//! Elelem: one API over many LLM providers, built for reliable JSON output and
//! exact cost accounting.
//!
//! Depend on this crate with the providers you want as Cargo features (`openai`,
//! `groq`, `deepinfra`, `scaleway`, `compat` (any OpenAI-compatible server),
//! `openrouter`, `xai`, `ollama`, `anthropic`, `gemini`, and the OpenAI-compatible
//! clouds `mistral`, `deepseek`, `together`, `fireworks`, `cerebras`, `sambanova`,
//! `novita`, `parasail`, `baseten`, `perplexity`, `gemini-openai`, and the cloud platforms
//! `azure` (Azure OpenAI) and `vertex` (Google Vertex AI); all on by default; and
//! `bedrock`, AWS Bedrock, off by default as it brings the AWS signer). Each
//! enabled provider
//! registers itself; model strings name the provider: `"groq:openai/gpt-oss-20b"`.
//!
//! ```no_run
//! # async fn demo() -> Result<(), elelem::ElelemError> {
//! use elelem::{ChatRequest, Elelem, Message, ResponseFormat};
//!
//! let elelem = Elelem::new()?; // keys from GROQ_API_KEY, OPENAI_API_KEY, ...
//! let request = ChatRequest::new(
//!     "groq:openai/gpt-oss-20b",
//!     vec![Message::system("You extract data."), Message::user("Alice is 30.")],
//! )
//! .response_format(ResponseFormat::JsonObject)
//! .json_schema(serde_json::json!({
//!     "type": "object",
//!     "properties": {"name": {"type": "string"}, "age": {"type": "integer"}},
//!     "required": ["name", "age"]
//! }))
//! .tags(["extraction"]);
//! let response = elelem.create_chat_completion(request).await?;
//! println!("{}", response.choices[0].message.content.as_deref().unwrap_or_default());
//! println!("{}", serde_json::to_string_pretty(&elelem.get_stats_by_tag("extraction")).unwrap_or_default());
//! # Ok(()) }
//! ```

pub use elelem_core::*;

#[cfg(feature = "blocking")]
pub mod blocking;

/// The provider crates compiled in, by feature.
pub mod providers {
    #[cfg(feature = "anthropic")]
    pub use elelem_anthropic as anthropic;
    #[cfg(feature = "azure")]
    pub use elelem_azure as azure;
    #[cfg(feature = "bedrock")]
    pub use elelem_bedrock as bedrock;
    #[cfg(feature = "compat")]
    pub use elelem_compat as compat;
    /// The OpenAI-compatible clouds (Mistral, DeepSeek, Together, Fireworks,
    /// Cerebras, SambaNova, Novita, Parasail, Baseten, Perplexity, Gemini's
    /// OpenAI endpoint), each behind its own feature.
    #[cfg(any(
        feature = "mistral",
        feature = "deepseek",
        feature = "together",
        feature = "fireworks",
        feature = "cerebras",
        feature = "sambanova",
        feature = "novita",
        feature = "parasail",
        feature = "baseten",
        feature = "perplexity",
        feature = "gemini-openai"
    ))]
    pub use elelem_compat_clouds as clouds;
    #[cfg(feature = "deepinfra")]
    pub use elelem_deepinfra as deepinfra;
    #[cfg(feature = "gemini")]
    pub use elelem_gemini as gemini;
    #[cfg(feature = "groq")]
    pub use elelem_groq as groq;
    #[cfg(feature = "ollama")]
    pub use elelem_ollama as ollama;
    #[cfg(feature = "openai")]
    pub use elelem_openai as openai;
    #[cfg(feature = "openrouter")]
    pub use elelem_openrouter as openrouter;
    #[cfg(feature = "scaleway")]
    pub use elelem_scaleway as scaleway;
    #[cfg(feature = "vertex")]
    pub use elelem_vertex as vertex;
    #[cfg(feature = "xai")]
    pub use elelem_xai as xai;

    /// The names of the providers registered in this program (the enabled
    /// features, plus any provider registered by user code).
    ///
    /// ```
    /// let names = elelem::providers::registered();
    /// # #[cfg(feature = "groq")]
    /// assert!(names.contains(&"groq"));
    /// ```
    pub fn registered() -> Vec<&'static str> {
        elelem_core::provider::ProviderPlugin::all()
            .map(|p| p.name)
            .collect()
    }
}

/// The README's Rust examples, compiled as doctests so they stay true.
#[cfg(doctest)]
#[doc = include_str!("../../../README.md")]
pub struct ReadmeDoctests;
