//! How a virtual model orders its candidates: [`Routing`].

use serde::Deserialize;

/// What a virtual model's candidates are ranked by.
///
/// ```
/// use elelem_core::routing::RouteBy;
/// assert_eq!(RouteBy::default(), RouteBy::Declared);
/// assert_eq!("score".parse::<RouteBy>().unwrap(), RouteBy::Score);
/// assert!("fastest".parse::<RouteBy>().is_err());
/// ```
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RouteBy {
    /// The order the candidates are listed in.
    #[default]
    Declared,
    /// Cheapest first: the catalogue's input plus output price per million
    /// tokens (a candidate without a price keeps its declared slot).
    Cost,
    /// Fastest first: the median measured output tokens per second.
    Speed,
    /// Highest `tokens_per_second ^ speed_weight / cost` first.
    Score,
}

impl std::str::FromStr for RouteBy {
    type Err = String;

    fn from_str(text: &str) -> Result<RouteBy, String> {
        match text {
            "declared" => Ok(RouteBy::Declared),
            "cost" => Ok(RouteBy::Cost),
            "speed" => Ok(RouteBy::Speed),
            "score" => Ok(RouteBy::Score),
            other => Err(format!(
                "unknown routing {other:?}; use \"declared\", \"cost\", \"speed\" or \"score\""
            )),
        }
    }
}

/// The samples a candidate needs before its measurements rank it; with fewer it
/// keeps its declared place.
pub const DEFAULT_MIN_SAMPLES: u32 = 5;

/// How a virtual model orders its candidates on each call, from the catalogue's
/// prices and what [`Performance`](super::Performance) measured so far.
///
/// In a models file, next to the candidates:
///
/// ```toml
/// [[virtual_models]]
/// id = "virtual:fast-json"
/// by = "score"                # "declared" (default), "cost", "speed" or "score"
/// speed_weight = 1.5          # score = tokens_per_second ^ speed_weight / cost
/// min_tokens_per_second = 40  # slower measured candidates go last
/// min_samples = 5             # measurements needed before a candidate is ranked
/// always_first = ["groq:openai/gpt-oss-20b"]
/// always_last = ["openai:gpt-4.1-mini"]
/// candidates = [ ... ]
/// ```
///
/// The order is: the `always_first` pins (in their order), then the other
/// candidates ranked, then the candidates measured slower than
/// `min_tokens_per_second`, then the `always_last` pins. A candidate with fewer
/// than `min_samples` measurements (for `cost`: without a price) keeps its
/// declared slot; the ranked candidates fill the other slots.
///
/// ```
/// use elelem_core::routing::{RouteBy, Routing};
/// let routing = Routing::by(RouteBy::Speed)
///     .min_samples(3)
///     .min_tokens_per_second(20.0)
///     .always_last("openai:gpt-4.1");
/// assert_eq!(routing.by, RouteBy::Speed);
/// assert_eq!(routing.always_last, ["openai:gpt-4.1"]);
/// ```
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Routing {
    /// What candidates are ranked by.
    pub by: RouteBy,
    /// The exponent of tokens per second in the score (`1.0`: speed and price
    /// weigh the same).
    pub speed_weight: f64,
    /// Candidates measured slower than this go after the others.
    pub min_tokens_per_second: Option<f64>,
    /// Measurements a candidate needs before it is ranked.
    pub min_samples: u32,
    /// Candidates always tried first, in this order.
    pub always_first: Vec<String>,
    /// Candidates always tried last, in this order.
    pub always_last: Vec<String>,
}

impl Default for Routing {
    fn default() -> Routing {
        Routing {
            by: RouteBy::Declared,
            speed_weight: 1.0,
            min_tokens_per_second: None,
            min_samples: DEFAULT_MIN_SAMPLES,
            always_first: Vec::new(),
            always_last: Vec::new(),
        }
    }
}

impl Routing {
    /// Routing by `by`, with the defaults otherwise.
    ///
    /// ```
    /// let r = elelem_core::routing::Routing::by(elelem_core::routing::RouteBy::Cost);
    /// assert_eq!(r.speed_weight, 1.0);
    /// ```
    pub fn by(by: RouteBy) -> Routing {
        Routing {
            by,
            ..Routing::default()
        }
    }

    /// Sets the exponent of tokens per second in the score.
    ///
    /// ```
    /// let r = elelem_core::routing::Routing::default().speed_weight(2.0);
    /// assert_eq!(r.speed_weight, 2.0);
    /// ```
    pub fn speed_weight(mut self, weight: f64) -> Routing {
        self.speed_weight = weight;
        self
    }

    /// Sends candidates measured slower than `tokens_per_second` to the end.
    ///
    /// ```
    /// let r = elelem_core::routing::Routing::default().min_tokens_per_second(30.0);
    /// assert_eq!(r.min_tokens_per_second, Some(30.0));
    /// ```
    pub fn min_tokens_per_second(mut self, tokens_per_second: f64) -> Routing {
        self.min_tokens_per_second = Some(tokens_per_second);
        self
    }

    /// Sets the measurements a candidate needs before it is ranked.
    ///
    /// ```
    /// let r = elelem_core::routing::Routing::default().min_samples(1);
    /// assert_eq!(r.min_samples, 1);
    /// ```
    pub fn min_samples(mut self, samples: u32) -> Routing {
        self.min_samples = samples;
        self
    }

    /// Pins `model` first (after earlier pins).
    ///
    /// ```
    /// let r = elelem_core::routing::Routing::default().always_first("p:a");
    /// assert_eq!(r.always_first, ["p:a"]);
    /// ```
    pub fn always_first(mut self, model: impl Into<String>) -> Routing {
        self.always_first.push(model.into());
        self
    }

    /// Pins `model` last (after earlier pins).
    ///
    /// ```
    /// let r = elelem_core::routing::Routing::default().always_last("p:z");
    /// assert_eq!(r.always_last, ["p:z"]);
    /// ```
    pub fn always_last(mut self, model: impl Into<String>) -> Routing {
        self.always_last.push(model.into());
        self
    }

    /// Why this routing cannot be used with `candidates`, if it cannot: a
    /// weight or minimum that is not a finite number, or a pin naming no
    /// candidate.
    ///
    /// ```
    /// use elelem_core::routing::Routing;
    /// let candidates = ["p:a", "p:b"];
    /// assert!(Routing::default().always_first("p:a").problem(&candidates).is_none());
    /// assert!(Routing::default().always_first("p:c").problem(&candidates).is_some());
    /// assert!(Routing::default().speed_weight(f64::NAN).problem(&candidates).is_some());
    /// ```
    pub fn problem(&self, candidates: &[&str]) -> Option<String> {
        if !self.speed_weight.is_finite() || self.speed_weight < 0.0 {
            return Some(format!(
                "speed_weight must be a finite number of at least 0, not {}",
                self.speed_weight
            ));
        }
        if let Some(min) = self.min_tokens_per_second {
            if !min.is_finite() || min < 0.0 {
                return Some(format!(
                    "min_tokens_per_second must be a finite number of at least 0, not {min}"
                ));
            }
        }
        let pins = self.always_first.iter().chain(&self.always_last);
        for pin in pins {
            if !candidates.contains(&pin.as_str()) {
                return Some(format!(
                    "the pin {pin:?} is not one of the candidates ({})",
                    candidates.join(", ")
                ));
            }
        }
        if let Some(both) = self
            .always_first
            .iter()
            .find(|m| self.always_last.contains(m))
        {
            return Some(format!("{both:?} is pinned both first and last"));
        }
        None
    }
}
