//! URLs that name the model (Gemini's `models/{model}:generateContent`, Azure's
//! deployment, Bedrock's `model/{id}/converse`), built and checked once per model
//! rather than formatted on every request.

use std::collections::HashMap;
use std::sync::{Arc, PoisonError, RwLock};

use serde::Serialize;

use crate::HttpRequest;

/// The most URLs kept; past it the cache starts again (model ids are few, but
/// a provider that takes unknown models could be sent any number of them).
const KEPT: usize = 256;

/// Parsed URLs by model, shared by the clones of a mapping.
///
/// ```
/// let urls = elelem_transport::ModelUrls::default();
/// let build = || "http://127.0.0.1:9/models/m:generateContent".to_owned();
/// let request = urls.json_request("m", build, &serde_json::json!({"a": 1})).unwrap();
/// assert_eq!(request.url, "http://127.0.0.1:9/models/m:generateContent");
/// assert_eq!(request.body, br#"{"a":1}"#);
/// ```
#[derive(Debug, Clone, Default)]
pub struct ModelUrls {
    kept: Arc<RwLock<HashMap<String, String>>>,
}

impl ModelUrls {
    /// A JSON `POST` of `body` to the URL of `model`: built once, from
    /// `build()`, checked, and kept. A URL that does not parse is sent as the string
    /// (the client then reports it as a connection error, as before).
    pub fn json_request<T: Serialize + ?Sized>(
        &self,
        model: &str,
        build: impl FnOnce() -> String,
        body: &T,
    ) -> Result<HttpRequest, serde_json::Error> {
        let url = self
            .checked(model, build)
            .unwrap_or_else(|unchecked| unchecked);
        HttpRequest::json(url, body)
    }

    /// The URL of `model`, checked once (it parses), else the string that
    /// did not parse (never kept).
    fn checked(&self, model: &str, build: impl FnOnce() -> String) -> Result<String, String> {
        let kept = self.kept.read().unwrap_or_else(PoisonError::into_inner);
        if let Some(url) = kept.get(model) {
            return Ok(url.clone());
        }
        drop(kept);
        let url = build();
        if reqwest::Url::parse(&url).is_err() {
            return Err(url);
        }
        let mut kept = self.kept.write().unwrap_or_else(PoisonError::into_inner);
        if kept.len() >= KEPT {
            kept.clear();
        }
        kept.insert(model.to_owned(), url.clone());
        Ok(url)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    #[test]
    fn a_url_is_built_once_per_model_and_a_bad_one_is_sent_as_given() {
        let urls = ModelUrls::default();
        let mut built = 0;
        for _ in 0..3 {
            let request = urls
                .json_request(
                    "m",
                    || {
                        built += 1;
                        "http://127.0.0.1:9/m".to_owned()
                    },
                    &1,
                )
                .unwrap();
            assert_eq!(
                request,
                HttpRequest::json("http://127.0.0.1:9/m", &1).unwrap()
            );
        }
        assert_eq!(built, 1);
        let other = urls
            .json_request("n", || "http://127.0.0.1:9/n".into(), &1)
            .unwrap();
        assert_eq!(other.url, "http://127.0.0.1:9/n");
        let bad = urls.json_request("x", || "not a url".into(), &1).unwrap();
        assert_eq!(bad, HttpRequest::json("not a url", &1).unwrap());
        assert!(urls.kept.read().unwrap().get("x").is_none());
    }

    #[test]
    fn the_cache_is_bounded() {
        let urls = ModelUrls::default();
        for i in 0..KEPT + 10 {
            let url = format!("http://127.0.0.1:9/{i}");
            urls.json_request(&i.to_string(), || url, &1).unwrap();
        }
        assert!(urls.kept.read().unwrap().len() <= KEPT);
    }
}
