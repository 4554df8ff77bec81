//! A model's prices: the base rates, the tiers some providers add (a dearer rate
//! above a prompt size, OpenAI's flex and priority service tiers), and the exact
//! cost of a response's usage under them.

use toml::{Table, Value};

use crate::error::ElelemError;
use crate::money::{PricePerMillion, Usd};
use crate::types::Usage;

/// The four per-million-token rates of one price tier, in US dollars.
///
/// ```
/// use elelem_core::catalogue::Rates;
/// use elelem_core::{Usage, Usd};
/// let rates = Rates::flat("1".parse().unwrap(), "4".parse().unwrap());
/// let usage: Usage = serde_json::from_str(r#"{"prompt_tokens":1000000,"completion_tokens":500000}"#).unwrap();
/// assert_eq!(rates.cost(&usage).total(), "3".parse::<Usd>().unwrap());
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rates {
    /// Uncached input.
    pub input: PricePerMillion,
    /// Cached input (the input price when the provider has no discount).
    pub cached_input: PricePerMillion,
    /// Output, reasoning included.
    pub output: PricePerMillion,
    /// Input written to the provider's prompt cache (the input price when the
    /// provider charges nothing extra).
    pub cache_write_input: PricePerMillion,
}

impl Rates {
    /// Rates with no cache discount and no cache-write surcharge.
    pub fn flat(input: PricePerMillion, output: PricePerMillion) -> Rates {
        Rates {
            input,
            cached_input: input,
            output,
            cache_write_input: input,
        }
    }

    /// The exact cost of a response's usage at these rates: uncached input x
    /// input + cached input x cached + input written to the cache x cache-write +
    /// output (reasoning included) x output.
    pub fn cost(&self, usage: &Usage) -> CostBreakdown {
        let prompt = usage.prompt_tokens.unwrap_or(0);
        let cached = usage.cached_tokens().unwrap_or(0).min(prompt);
        let written = usage.cache_write_tokens().unwrap_or(0).min(prompt - cached);
        let output = usage.completion_tokens.unwrap_or(0);
        let reasoning = usage.reasoning_tokens().unwrap_or(0);
        CostBreakdown {
            input: self.input.cost_of(prompt - cached - written)
                + self.cached_input.cost_of(cached)
                + self.cache_write_input.cost_of(written),
            output: self.output.cost_of(output),
            reasoning: self.output.cost_of(reasoning),
        }
    }
}

/// Rates that apply to a whole request once its prompt exceeds a size (Gemini 2.5
/// Pro and Claude's 1M-token context above 200k prompt tokens).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LongContextRates {
    /// Prompts of more than this many tokens are billed at `rates`.
    pub above_tokens: u64,
    /// The rates of such a request, for all of its tokens.
    pub rates: Rates,
}

/// The tiers a model is priced at besides its base rates.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PriceTiers {
    /// A dearer rate for long prompts.
    pub long_context: Option<LongContextRates>,
    /// OpenAI's `service_tier: "flex"` (slower, cheaper).
    pub flex: Option<Rates>,
    /// OpenAI's `service_tier: "priority"` (faster, dearer).
    pub priority: Option<Rates>,
}

/// A model's prices in US dollars per million tokens: the base rates (flat, for
/// the existing field accesses) and the tiers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Prices {
    /// Uncached input.
    pub input: PricePerMillion,
    /// Cached input (the input price when the provider has no discount).
    pub cached_input: PricePerMillion,
    /// Output, reasoning included.
    pub output: PricePerMillion,
    /// Input written to the provider's prompt cache (Anthropic's cache writes; the
    /// input price when the provider charges nothing extra).
    pub cache_write_input: PricePerMillion,
    /// Other tiers: long prompts, flex and priority service.
    pub tiers: PriceTiers,
}

/// The exact cost of one response, split as the stats report it.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CostBreakdown {
    /// Input cost (cached and uncached).
    pub input: Usd,
    /// Output cost (reasoning included).
    pub output: Usd,
    /// The part of `output` spent on reasoning tokens.
    pub reasoning: Usd,
}

impl CostBreakdown {
    /// Input plus output.
    pub fn total(&self) -> Usd {
        self.input + self.output
    }
}

impl Prices {
    /// The base rates.
    pub fn base(&self) -> Rates {
        Rates {
            input: self.input,
            cached_input: self.cached_input,
            output: self.output,
            cache_write_input: self.cache_write_input,
        }
    }

    /// Base prices from base rates, with no other tier.
    pub fn from_rates(rates: Rates) -> Prices {
        Prices {
            input: rates.input,
            cached_input: rates.cached_input,
            output: rates.output,
            cache_write_input: rates.cache_write_input,
            tiers: PriceTiers::default(),
        }
    }

    /// The rates a response is billed at: the service tier's when the provider
    /// answered in one the catalogue prices (`"flex"`, `"priority"`), else the
    /// long-context rates when the prompt is above their threshold, else the base.
    ///
    /// ```
    /// use elelem_core::catalogue::Catalogue;
    /// use elelem_core::Usage;
    /// let c = Catalogue::from_sources([("t", r#"
    ///     [provider]
    ///     name = "p"
    ///     base_url = "http://x"
    ///     [[models]]
    ///     id = "p:m"
    ///     [models.price]
    ///     input = "1.25"
    ///     output = "10"
    ///     long_context = { above_tokens = 200000, input = "2.50", output = "15" }
    ///     flex = { input = "0.625", output = "5" }
    /// "#)]).unwrap();
    /// let prices = c.model("p:m").unwrap().prices.unwrap();
    /// let small: Usage = serde_json::from_str(r#"{"prompt_tokens":1000,"completion_tokens":10}"#).unwrap();
    /// let large: Usage = serde_json::from_str(r#"{"prompt_tokens":200001,"completion_tokens":10}"#).unwrap();
    /// assert_eq!(prices.rates_for(&small, None).input.to_string(), "1.25");
    /// assert_eq!(prices.rates_for(&large, None).input.to_string(), "2.5");
    /// assert_eq!(prices.rates_for(&small, Some("flex")).output.to_string(), "5");
    /// // A tier the catalogue does not price is billed at the base rates.
    /// assert_eq!(prices.rates_for(&small, Some("default")).output.to_string(), "10");
    /// ```
    pub fn rates_for(&self, usage: &Usage, service_tier: Option<&str>) -> Rates {
        let by_service = match service_tier {
            Some("flex") => self.tiers.flex,
            Some("priority") => self.tiers.priority,
            _ => None,
        };
        if let Some(rates) = by_service {
            return rates;
        }
        match self.tiers.long_context {
            Some(long) if usage.prompt_tokens.unwrap_or(0) > long.above_tokens => long.rates,
            _ => self.base(),
        }
    }

    /// The exact cost of a response's usage, at the long-context rates when the
    /// prompt is long enough for them, else the base rates (see
    /// [`Prices::cost_in_tier`] for a service tier).
    ///
    /// ```
    /// use elelem_core::catalogue::{Prices, Rates};
    /// use elelem_core::{Usage, Usd};
    /// let prices = Prices::from_rates(Rates {
    ///     input: "2.00".parse().unwrap(),
    ///     cached_input: "0.50".parse().unwrap(),
    ///     output: "8.00".parse().unwrap(),
    ///     cache_write_input: "2.50".parse().unwrap(),
    /// });
    /// let usage: Usage = serde_json::from_str(r#"{"prompt_tokens":1000000,"completion_tokens":1000000,
    ///     "prompt_tokens_details":{"cached_tokens":500000}}"#).unwrap();
    /// let cost = prices.cost(&usage);
    /// assert_eq!(cost.input, "1.25".parse::<Usd>().unwrap());
    /// assert_eq!(cost.total(), "9.25".parse::<Usd>().unwrap());
    /// // 200k of the uncached input were written to the cache, at 2.50.
    /// let usage: Usage = serde_json::from_str(r#"{"prompt_tokens":1000000,"completion_tokens":0,
    ///     "prompt_tokens_details":{"cached_tokens":500000,"cache_write_tokens":200000}}"#).unwrap();
    /// assert_eq!(prices.cost(&usage).input, "1.35".parse::<Usd>().unwrap());
    /// ```
    pub fn cost(&self, usage: &Usage) -> CostBreakdown {
        self.cost_in_tier(usage, None)
    }

    /// The exact cost of a response's usage answered in `service_tier` (the
    /// completion's `service_tier` field), at [`Prices::rates_for`].
    pub fn cost_in_tier(&self, usage: &Usage, service_tier: Option<&str>) -> CostBreakdown {
        self.rates_for(usage, service_tier).cost(usage)
    }
}

fn error(source: &str, reason: String) -> ElelemError {
    ElelemError::Catalogue {
        source_name: source.to_owned(),
        reason,
    }
}

fn decimal_text(value: &Value) -> Option<String> {
    match value {
        Value::String(text) => Some(text.clone()),
        Value::Float(f) => Some(f.to_string()),
        Value::Integer(i) => Some(i.to_string()),
        _ => None,
    }
}

const RATE_FIELDS: [&str; 4] = ["input", "output", "cached_input", "cache_write_input"];

/// Reads one tier's rates from a price table (`extra` names the other keys the
/// table may hold), converting to USD at `rate_micros` per unit of its currency.
fn parse_rates(
    source: &str,
    what: &str,
    price: &Table,
    extra: &[&str],
    rate_micros: i64,
) -> Result<Rates, ElelemError> {
    for key in price.keys() {
        if !RATE_FIELDS.contains(&key.as_str()) && !extra.contains(&key.as_str()) {
            let expected = RATE_FIELDS
                .iter()
                .chain(extra)
                .copied()
                .collect::<Vec<_>>()
                .join(", ");
            return Err(error(
                source,
                format!("{what}: unknown price field `{key}`; expected {expected}"),
            ));
        }
    }
    let read = |key: &str| -> Result<Option<PricePerMillion>, ElelemError> {
        let Some(value) = price.get(key) else {
            return Ok(None);
        };
        let text = decimal_text(value).ok_or_else(|| {
            error(
                source,
                format!("{what}: price `{key}` must be a decimal string"),
            )
        })?;
        let parsed: PricePerMillion = text
            .parse()
            .map_err(|e| error(source, format!("{what}: price `{key}`: {e}")))?;
        Ok(Some(parsed.scaled_by_micros(rate_micros)))
    };
    let input =
        read("input")?.ok_or_else(|| error(source, format!("{what}: price needs `input`")))?;
    let output =
        read("output")?.ok_or_else(|| error(source, format!("{what}: price needs `output`")))?;
    Ok(Rates {
        input,
        cached_input: read("cached_input")?.unwrap_or(input),
        output,
        cache_write_input: read("cache_write_input")?.unwrap_or(input),
    })
}

fn sub_table<'t>(
    source: &str,
    id: &str,
    price: &'t Table,
    key: &str,
) -> Result<Option<&'t Table>, ElelemError> {
    match price.get(key) {
        None => Ok(None),
        Some(Value::Table(table)) => Ok(Some(table)),
        Some(_) => Err(error(
            source,
            format!("{id}: price `{key}` must be a table of rates"),
        )),
    }
}

/// Reads a model's `price` table: base rates plus the optional `long_context`
/// (with `above_tokens`), `flex` and `priority` tiers.
pub(crate) fn parse_prices(
    source: &str,
    id: &str,
    price: &Table,
    rate_micros: i64,
) -> Result<Prices, ElelemError> {
    let base = parse_rates(
        source,
        id,
        price,
        &["long_context", "flex", "priority"],
        rate_micros,
    )?;
    let service = |key: &str| -> Result<Option<Rates>, ElelemError> {
        sub_table(source, id, price, key)?
            .map(|t| parse_rates(source, &format!("{id} {key}"), t, &[], rate_micros))
            .transpose()
    };
    let long_context = match sub_table(source, id, price, "long_context")? {
        None => None,
        Some(table) => {
            let what = format!("{id} long_context");
            let above_tokens = match table.get("above_tokens") {
                Some(Value::Integer(n)) if *n > 0 => u64::try_from(*n).ok(),
                _ => None,
            }
            .ok_or_else(|| {
                error(
                    source,
                    format!("{what}: `above_tokens` must be a positive integer"),
                )
            })?;
            let rates = parse_rates(source, &what, table, &["above_tokens"], rate_micros)?;
            Some(LongContextRates {
                above_tokens,
                rates,
            })
        }
    };
    let mut prices = Prices::from_rates(base);
    prices.tiers = PriceTiers {
        long_context,
        flex: service("flex")?,
        priority: service("priority")?,
    };
    Ok(prices)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn usage(prompt: u64, cached: u64, output: u64) -> Usage {
        serde_json::from_value(serde_json::json!({
            "prompt_tokens": prompt, "completion_tokens": output,
            "prompt_tokens_details": {"cached_tokens": cached}
        }))
        .unwrap()
    }

    fn prices(text: &str) -> Result<Prices, ElelemError> {
        let table: Table = text.parse().unwrap();
        parse_prices("t", "p:m", &table, 1_000_000)
    }

    #[test]
    fn long_prompts_are_billed_entirely_at_the_long_context_rates() {
        // Gemini 2.5 Pro: 1.25/10 (cached 0.125) up to 200k, 2.50/15 (0.25) above.
        let p = prices(
            r#"input = "1.25"
            output = "10"
            cached_input = "0.125"
            long_context = { above_tokens = 200000, input = "2.50", output = "15", cached_input = "0.25" }"#,
        )
        .unwrap();
        let at_limit = p.cost(&usage(200_000, 0, 1_000_000));
        assert_eq!(at_limit.input, "0.25".parse::<Usd>().unwrap());
        assert_eq!(at_limit.output, "10".parse::<Usd>().unwrap());
        let above = p.cost(&usage(400_000, 100_000, 1_000_000));
        // 300k x 2.50 + 100k x 0.25 = 0.775; 1M x 15.
        assert_eq!(above.input, "0.775".parse::<Usd>().unwrap());
        assert_eq!(above.output, "15".parse::<Usd>().unwrap());
    }

    #[test]
    fn service_tiers_have_their_own_rates() {
        let p = prices(
            r#"input = "1.25"
            output = "10"
            flex = { input = "0.625", output = "5" }
            priority = { input = "2.50", output = "20", cached_input = "0.25" }"#,
        )
        .unwrap();
        let u = usage(1_000_000, 200_000, 1_000_000);
        assert_eq!(p.cost(&u).total(), "11.25".parse::<Usd>().unwrap());
        assert_eq!(p.cost_in_tier(&u, Some("default")), p.cost(&u));
        // Flex without a cached price bills cached input at its input price.
        assert_eq!(
            p.cost_in_tier(&u, Some("flex")).total(),
            "5.625".parse::<Usd>().unwrap()
        );
        // 800k x 2.50 + 200k x 0.25 + 1M x 20.
        assert_eq!(
            p.cost_in_tier(&u, Some("priority")).total(),
            "22.05".parse::<Usd>().unwrap()
        );
    }

    #[test]
    fn malformed_tiers_are_refused_with_the_reason() {
        let cases = [
            (
                "input='1'\noutput='1'\nturbo={input='1',output='1'}",
                "unknown price field `turbo`",
            ),
            ("input='1'\noutput='1'\nflex='cheap'", "must be a table"),
            (
                "input='1'\noutput='1'\nflex={input='1'}",
                "flex: price needs `output`",
            ),
            (
                "input='1'\noutput='1'\nlong_context={input='1',output='2'}",
                "above_tokens",
            ),
            (
                "input='1'\noutput='1'\nlong_context={above_tokens=-5,input='1',output='2'}",
                "above_tokens",
            ),
            (
                "input='1'\noutput='1'\npriority={input='-1',output='2'}",
                "negative",
            ),
        ];
        for (text, expected) in cases {
            let e = prices(text).unwrap_err().to_string();
            assert!(e.contains(expected), "{text}\n=> {e}");
        }
    }
}
