//! Virtual models: a `virtual:name` id that stands for an ordered list of real
//! models (candidates), each with its own time limit.
//!
//! ```toml
//! [[virtual_models]]
//! id = "virtual:fast-json"
//! description = "cheap JSON, any healthy provider"
//! candidates = [
//!   { model = "groq:openai/gpt-oss-20b", timeout_secs = 20 },
//!   { model = "deepinfra:openai/gpt-oss-20b", timeout_secs = 30 },
//!   { model = "openai:gpt-4.1-mini", timeout_secs = 40 },
//! ]
//! ```

use std::time::Duration;

use serde::Deserialize;
use toml::{Table, Value};

use super::{error, Catalogue};
use crate::error::ElelemError;
use crate::routing::{RouteBy, Routing};

/// The prefix of every virtual model id.
pub const VIRTUAL_PREFIX: &str = "virtual:";

/// A candidate's time limit when its entry sets none.
pub const DEFAULT_CANDIDATE_TIMEOUT: Duration = Duration::from_secs(60);

/// Whether `id` names a virtual model (`virtual:...`).
///
/// ```
/// assert!(elelem_core::catalogue::is_virtual("virtual:fast-json"));
/// assert!(!elelem_core::catalogue::is_virtual("groq:openai/gpt-oss-20b"));
/// ```
pub fn is_virtual(id: &str) -> bool {
    id.starts_with(VIRTUAL_PREFIX)
}

/// One real model a virtual model may answer with.
///
/// ```
/// let c = elelem_core::catalogue::Catalogue::from_sources([("demo", r#"
///     [provider]
///     name = "demo"
///     base_url = "http://127.0.0.1:1/v1"
///     [[models]]
///     id = "demo:org/small-v2"
///     [[virtual_models]]
///     id = "virtual:small"
///     candidates = [{ model = "demo:org/small-v2", timeout_secs = 2.5 }]
/// "#)]).unwrap();
/// let candidate = &c.virtual_model("virtual:small").unwrap().candidates[0];
/// assert_eq!(candidate.timeout, std::time::Duration::from_millis(2500));
/// assert_eq!(candidate.underlying, "small-v2");
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Candidate {
    /// The real `provider:model` id.
    pub model: String,
    /// The most time this candidate may take, its retries included; past it the
    /// call moves on to the next candidate.
    pub timeout: Duration,
    /// The model behind the candidate, shared by candidates that serve the same
    /// weights through different providers: when one of them cannot produce a
    /// valid answer, the others are skipped. Defaults to the lower-cased last path
    /// segment of the model's upstream name (`openai/gpt-oss-20b` → `gpt-oss-20b`).
    pub underlying: String,
}

/// A `virtual:name` model: candidates tried in order.
#[derive(Debug, Clone, PartialEq)]
pub struct VirtualModel {
    /// `virtual:name`.
    pub id: String,
    /// What it is for.
    pub description: Option<String>,
    /// The real models, in their declared order.
    pub candidates: Vec<Candidate>,
    /// How the candidates are ordered on each call (declared order by default;
    /// see [`Routing`]).
    pub routing: Routing,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct VirtualFields {
    id: String,
    #[serde(default)]
    description: Option<String>,
    candidates: Vec<CandidateFields>,
    #[serde(default)]
    by: Option<RouteBy>,
    #[serde(default)]
    speed_weight: Option<f64>,
    #[serde(default)]
    min_tokens_per_second: Option<f64>,
    #[serde(default)]
    min_samples: Option<u32>,
    #[serde(default)]
    always_first: Vec<String>,
    #[serde(default)]
    always_last: Vec<String>,
}

impl VirtualFields {
    /// The routing the fields set, defaults elsewhere.
    fn routing(&self) -> Routing {
        let defaults = Routing::default();
        Routing {
            by: self.by.unwrap_or(defaults.by),
            speed_weight: self.speed_weight.unwrap_or(defaults.speed_weight),
            min_tokens_per_second: self.min_tokens_per_second,
            min_samples: self.min_samples.unwrap_or(defaults.min_samples),
            always_first: self.always_first.clone(),
            always_last: self.always_last.clone(),
        }
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct CandidateFields {
    model: String,
    #[serde(default)]
    timeout_secs: Option<f64>,
    #[serde(default)]
    underlying: Option<String>,
}

impl Catalogue {
    /// Replaces the routing of the virtual model `id` (set from code with
    /// `ElelemBuilder::routing`).
    pub(crate) fn set_routing(&mut self, id: &str, routing: Routing) -> Result<(), ElelemError> {
        let source = format!("the routing of {id}");
        let Some(model) = self.virtual_models.get_mut(id) else {
            return Err(error(
                &source,
                "there is no such virtual model; define it under [[virtual_models]] first",
            ));
        };
        let ids: Vec<&str> = model.candidates.iter().map(|c| c.model.as_str()).collect();
        if let Some(problem) = routing.problem(&ids) {
            return Err(error(&source, problem));
        }
        model.routing = routing;
        Ok(())
    }
}

/// The default [`Candidate::underlying`] of an upstream model name.
fn underlying_of(upstream: &str) -> String {
    upstream
        .rsplit('/')
        .next()
        .unwrap_or(upstream)
        .to_ascii_lowercase()
}

/// Resolves the raw `[[virtual_models]]` tables against the resolved catalogue:
/// every candidate must be a model the catalogue can call.
pub(super) fn resolve_virtual_models(
    catalogue: &Catalogue,
    tables: Vec<(String, Table)>,
) -> Result<Vec<VirtualModel>, ElelemError> {
    tables
        .into_iter()
        .map(|(id, table)| {
            let source = format!("virtual model {id}");
            let fields: VirtualFields = Value::Table(table)
                .try_into()
                .map_err(|e: toml::de::Error| error(&source, e.message().to_owned()))?;
            if !is_virtual(&fields.id) || fields.id.len() == VIRTUAL_PREFIX.len() {
                return Err(error(&source, "the id must be \"virtual:<name>\""));
            }
            if fields.candidates.is_empty() {
                return Err(error(
                    &source,
                    "it has no candidates; list at least one model",
                ));
            }
            let routing = fields.routing();
            let candidates = fields
                .candidates
                .into_iter()
                .map(|c| resolve_candidate(catalogue, &source, c))
                .collect::<Result<Vec<_>, _>>()?;
            let ids: Vec<&str> = candidates.iter().map(|c| c.model.as_str()).collect();
            if let Some(problem) = routing.problem(&ids) {
                return Err(error(&source, problem));
            }
            Ok(VirtualModel {
                id: fields.id,
                description: fields.description,
                candidates,
                routing,
            })
        })
        .collect()
}

fn resolve_candidate(
    catalogue: &Catalogue,
    source: &str,
    fields: CandidateFields,
) -> Result<Candidate, ElelemError> {
    let Some(entry) = catalogue.callable_model(&fields.model) else {
        return Err(error(
            source,
            format!(
                "candidate {:?} is not a model of the catalogue (is its provider's feature enabled?)",
                fields.model
            ),
        ));
    };
    let timeout = match fields.timeout_secs {
        None => DEFAULT_CANDIDATE_TIMEOUT,
        Some(secs) => Duration::try_from_secs_f64(secs)
            .ok()
            .filter(|d| !d.is_zero())
            .map(crate::later::clamped)
            .ok_or_else(|| {
                error(
                    source,
                    format!(
                        "candidate {:?}: timeout_secs must be a positive number of seconds",
                        fields.model
                    ),
                )
            })?,
    };
    Ok(Candidate {
        underlying: fields
            .underlying
            .map(|u| u.to_ascii_lowercase())
            .unwrap_or_else(|| underlying_of(&entry.upstream)),
        model: fields.model,
        timeout,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const BASE: &str = r#"
        [provider]
        name = "a"
        base_url = "http://127.0.0.1:1/v1"
        [[models]]
        id = "a:org/Model-X"
        [[models]]
        id = "a:other"
    "#;

    fn with(virtuals: &str) -> Result<Catalogue, ElelemError> {
        Catalogue::from_sources([("base", BASE), ("user", virtuals)])
    }

    #[test]
    fn candidates_keep_their_order_timeouts_and_underlying_models() {
        let c = with(
            r#"
            [[virtual_models]]
            id = "virtual:v"
            description = "demo"
            candidates = [
              { model = "a:org/Model-X" },
              { model = "a:other", timeout_secs = 0.25, underlying = "Model-X" },
            ]
        "#,
        )
        .unwrap();
        let v = c.virtual_model("virtual:v").unwrap();
        assert_eq!(v.description.as_deref(), Some("demo"));
        let models: Vec<_> = v.candidates.iter().map(|c| c.model.as_str()).collect();
        assert_eq!(models, ["a:org/Model-X", "a:other"]);
        assert_eq!(v.candidates[0].timeout, DEFAULT_CANDIDATE_TIMEOUT);
        assert_eq!(v.candidates[1].timeout, Duration::from_millis(250));
        assert_eq!(v.candidates[0].underlying, "model-x");
        assert_eq!(v.candidates[1].underlying, "model-x");
        assert_eq!(c.virtual_models().count(), 1);
    }

    #[test]
    fn routing_is_read_from_the_entry() {
        let c = with(
            r#"
            [[virtual_models]]
            id = "virtual:v"
            by = "score"
            speed_weight = 2.0
            min_tokens_per_second = 30
            min_samples = 2
            always_last = ["a:org/Model-X"]
            candidates = [{ model = "a:org/Model-X" }, { model = "a:other" }]
        "#,
        )
        .unwrap();
        let routing = &c.virtual_model("virtual:v").unwrap().routing;
        let expected = Routing::by(RouteBy::Score)
            .speed_weight(2.0)
            .min_tokens_per_second(30.0)
            .min_samples(2)
            .always_last("a:org/Model-X");
        assert_eq!(*routing, expected);
        let plain =
            with("[[virtual_models]]\nid='virtual:w'\ncandidates=[{model='a:other'}]").unwrap();
        assert_eq!(
            plain.virtual_model("virtual:w").unwrap().routing,
            Routing::default()
        );
    }

    #[test]
    fn a_huge_timeout_is_clamped_to_a_year() {
        let c = with(
            "[[virtual_models]]\nid='virtual:v'\ncandidates=[{model='a:other', timeout_secs=1e18}]",
        )
        .unwrap();
        let v = c.virtual_model("virtual:v").unwrap();
        assert_eq!(v.candidates[0].timeout, crate::LONGEST_WAIT);
    }

    #[test]
    fn a_later_file_replaces_a_virtual_models_candidates() {
        let c = Catalogue::from_sources([
            ("base", BASE),
            (
                "one",
                "[[virtual_models]]\nid='virtual:v'\ncandidates=[{model='a:other'}]",
            ),
            (
                "two",
                "[[virtual_models]]\nid='virtual:v'\ncandidates=[{model='a:org/Model-X'}]",
            ),
        ])
        .unwrap();
        let v = c.virtual_model("virtual:v").unwrap();
        assert_eq!(v.candidates.len(), 1);
        assert_eq!(v.candidates[0].model, "a:org/Model-X");
    }

    #[test]
    fn bad_entries_are_refused_with_the_reason() {
        let cases = [
            ("[[virtual_models]]\nid='virtual:v'\ncandidates=[{model='a:nope'}]", "not a model of the catalogue"),
            ("[[virtual_models]]\nid='virtual:v'\ncandidates=[]", "no candidates"),
            ("[[virtual_models]]\nid='fast'\ncandidates=[{model='a:other'}]", "virtual:<name>"),
            ("[[virtual_models]]\nid='virtual:v'\ncandidates=[{model='a:other', timeout_secs=0}]", "positive"),
            ("[[virtual_models]]\nid='virtual:v'\ncandidates=[{model='a:other', timeout_secs=-1}]", "positive"),
            ("[[virtual_models]]\nid='virtual:v'\ncandidates=[{model='a:other', retries=1}]", "unknown field"),
            ("[[virtual_models]]\nid='virtual:v'\nby='fastest'\ncandidates=[{model='a:other'}]", "unknown variant"),
            ("[[virtual_models]]\nid='virtual:v'\nalways_first=['a:nope']\ncandidates=[{model='a:other'}]", "not one of the candidates"),
            ("[[virtual_models]]\nid='virtual:v'\nspeed_weight=-1.0\ncandidates=[{model='a:other'}]", "speed_weight"),
        ];
        for (text, expected) in cases {
            let error = with(text).unwrap_err().to_string();
            assert!(error.contains(expected), "{text}: {error}");
        }
    }
}
