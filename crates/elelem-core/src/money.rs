//! Exact money: amounts are integers of femto-dollars (10^-15 USD), prices are
//! integers of nano-dollars per million tokens.
//!
//! A price with up to nine decimals of USD per million tokens is exact, and so is
//! the cost of any whole number of tokens at it: `tokens x nano-USD per 1M` is an
//! integer count of femto-dollars. Sums never touch floating point.

use std::fmt;
use std::iter::Sum;
use std::ops::{Add, AddAssign};
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// Femto-dollars in one dollar.
const FEMTOS_PER_USD: i128 = 1_000_000_000_000_000;
/// Femto-dollars in one nano-dollar.
const FEMTOS_PER_NANO: i128 = 1_000_000;

/// An exact amount of US dollars, stored as an integer count of femto-dollars.
///
/// It serializes as a JSON number of dollars (as the Python Elelem stats do), but all
/// arithmetic is on integers.
///
/// ```
/// use elelem_core::Usd;
/// let a: Usd = "0.10".parse().unwrap();
/// let b: Usd = "0.20".parse().unwrap();
/// assert_eq!(a + b, "0.30".parse().unwrap());
/// assert_eq!((a + b).to_string(), "$0.300000000000000");
/// ```
#[derive(Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Usd {
    femtos: i128,
}

impl Usd {
    /// Zero dollars.
    pub const ZERO: Usd = Usd { femtos: 0 };

    /// An amount from femto-dollars (10^-15 USD).
    pub const fn from_femtos(femtos: i128) -> Self {
        Usd { femtos }
    }

    /// An amount from nano-dollars (10^-9 USD).
    pub const fn from_nanos(nanos: i64) -> Self {
        Usd {
            femtos: nanos as i128 * FEMTOS_PER_NANO,
        }
    }

    /// Whether the amount is zero.
    pub const fn is_zero(&self) -> bool {
        self.femtos == 0
    }

    /// The exact amount in femto-dollars.
    pub const fn femtos(self) -> i128 {
        self.femtos
    }

    /// The amount in nano-dollars, rounded half away from zero.
    pub fn nanos_rounded(self) -> i128 {
        let half = FEMTOS_PER_NANO / 2;
        if self.femtos >= 0 {
            (self.femtos + half) / FEMTOS_PER_NANO
        } else {
            (self.femtos - half) / FEMTOS_PER_NANO
        }
    }

    /// The amount in dollars as a float, for display only: never sum these.
    pub fn as_f64(self) -> f64 {
        let whole = (self.femtos / FEMTOS_PER_USD) as f64;
        let frac = (self.femtos % FEMTOS_PER_USD) as f64 / FEMTOS_PER_USD as f64;
        whole + frac
    }

    /// Adds without overflow, saturating at the extremes (which are far beyond any
    /// real spend: about 1.7 x 10^23 dollars).
    pub fn saturating_add(self, other: Usd) -> Usd {
        Usd {
            femtos: self.femtos.saturating_add(other.femtos),
        }
    }
}

impl Add for Usd {
    type Output = Usd;
    fn add(self, rhs: Usd) -> Usd {
        self.saturating_add(rhs)
    }
}

impl AddAssign for Usd {
    fn add_assign(&mut self, rhs: Usd) {
        *self = self.saturating_add(rhs);
    }
}

impl Sum for Usd {
    fn sum<I: Iterator<Item = Usd>>(iter: I) -> Usd {
        iter.fold(Usd::ZERO, Add::add)
    }
}

impl fmt::Display for Usd {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let sign = if self.femtos < 0 { "-" } else { "" };
        let abs = self.femtos.unsigned_abs();
        let per = FEMTOS_PER_USD as u128;
        write!(f, "{sign}${}.{:015}", abs / per, abs % per)
    }
}

impl fmt::Debug for Usd {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

/// The error for a decimal string that is not an exact amount.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid decimal amount {input:?}: {reason}")]
pub struct DecimalError {
    /// The text that failed to parse.
    pub input: String,
    /// What is wrong with it.
    pub reason: &'static str,
}

/// Parses a non-negative decimal such as `"0.0375"` into an integer scaled by
/// `10^scale`, refusing anything that would lose precision.
pub(crate) fn parse_scaled_decimal(input: &str, scale: u32) -> Result<i128, DecimalError> {
    let err = |reason| DecimalError {
        input: input.to_owned(),
        reason,
    };
    let text = input.trim();
    let (negative, text) = match text.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, text),
    };
    let (whole, frac) = text.split_once('.').unwrap_or((text, ""));
    if whole.is_empty() && frac.is_empty() {
        return Err(err("no digits"));
    }
    if !whole
        .bytes()
        .chain(frac.bytes())
        .all(|b| b.is_ascii_digit())
    {
        return Err(err("only digits and one decimal point are allowed"));
    }
    let frac_trimmed = frac.trim_end_matches('0');
    if frac_trimmed.len() > scale as usize {
        return Err(err("more decimals than can be stored exactly"));
    }
    let unit = 10i128.pow(scale);
    let whole_value: i128 = if whole.is_empty() {
        0
    } else {
        whole.parse().map_err(|_| err("number too large"))?
    };
    let mut frac_value: i128 = 0;
    for b in frac_trimmed.bytes() {
        frac_value = frac_value * 10 + i128::from(b - b'0');
    }
    frac_value *= 10i128.pow(scale - frac_trimmed.len() as u32);
    let value = whole_value
        .checked_mul(unit)
        .and_then(|w| w.checked_add(frac_value))
        .ok_or_else(|| err("number too large"))?;
    Ok(if negative { -value } else { value })
}

impl FromStr for Usd {
    type Err = DecimalError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        parse_scaled_decimal(s, 15).map(Usd::from_femtos)
    }
}

impl Serialize for Usd {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_f64(self.as_f64())
    }
}

impl<'de> Deserialize<'de> for Usd {
    /// Reads a JSON number of dollars, including the exponent form serde_json
    /// writes for small amounts (`7.5e-7`), rounded to the nearest femto-dollar.
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let value = serde_json::Number::deserialize(deserializer)?;
        parse_rounded_with_exponent(&value.to_string(), 15)
            .map(Usd::from_femtos)
            .map_err(serde::de::Error::custom)
    }
}

/// Parses a decimal that may carry an exponent (`1.25e-3`) into an integer scaled by
/// `10^scale`, rounding half away from zero where digits go beyond the scale.
fn parse_rounded_with_exponent(input: &str, scale: u32) -> Result<i128, DecimalError> {
    let err = |reason| DecimalError {
        input: input.to_owned(),
        reason,
    };
    let text = input.trim();
    let (mantissa, exponent) = match text.find(['e', 'E']) {
        Some(at) => (
            &text[..at],
            text[at + 1..]
                .parse::<i32>()
                .map_err(|_| err("invalid exponent"))?,
        ),
        None => (text, 0),
    };
    let (negative, mantissa) = match mantissa.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, mantissa),
    };
    let (whole, frac) = mantissa.split_once('.').unwrap_or((mantissa, ""));
    let digits: String = whole.chars().chain(frac.chars()).collect();
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return Err(err(
            "only digits, one decimal point and an exponent are allowed",
        ));
    }
    let digits = digits.trim_start_matches('0');
    let number: i128 = if digits.is_empty() {
        0
    } else {
        digits.parse().map_err(|_| err("number too large"))?
    };
    // value = number x 10^(exponent - decimals); scaled = value x 10^scale.
    let shift = i64::from(exponent) - frac.len() as i64 + i64::from(scale);
    let scaled = if shift >= 0 {
        let factor = u32::try_from(shift)
            .ok()
            .and_then(|s| 10i128.checked_pow(s))
            .ok_or_else(|| err("number too large"))?;
        number
            .checked_mul(factor)
            .ok_or_else(|| err("number too large"))?
    } else {
        match u32::try_from(-shift)
            .ok()
            .and_then(|s| 10i128.checked_pow(s))
        {
            Some(divisor) => (number + divisor / 2) / divisor,
            None => 0,
        }
    };
    Ok(if negative { -scaled } else { scaled })
}

/// A price in nano-dollars per million tokens (so `0.075` USD per 1M is `75_000_000`).
///
/// ```
/// use elelem_core::{PricePerMillion, Usd};
/// let price: PricePerMillion = "0.0375".parse().unwrap();
/// // 3 tokens at $0.0375 per million cost exactly $0.0000001125.
/// assert_eq!(price.cost_of(3), "0.0000001125".parse::<Usd>().unwrap());
/// ```
#[derive(Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Debug)]
pub struct PricePerMillion {
    nanos: i64,
}

impl PricePerMillion {
    /// Free.
    pub const ZERO: PricePerMillion = PricePerMillion { nanos: 0 };

    /// A price from nano-dollars per million tokens.
    pub const fn from_nanos(nanos: i64) -> Self {
        PricePerMillion { nanos }
    }

    /// Nano-dollars per million tokens.
    pub const fn nanos(self) -> i64 {
        self.nanos
    }

    /// The exact cost of `tokens` tokens at this price.
    pub fn cost_of(self, tokens: u64) -> Usd {
        // nano-USD per 1M tokens x tokens = 10^-9 / 10^6 USD = femto-USD.
        Usd::from_femtos(i128::from(self.nanos).saturating_mul(i128::from(tokens)))
    }

    /// This price converted at `rate` (a decimal multiplier such as a currency rate
    /// in parts per 10^6), rounded to the nearest nano-dollar per million tokens.
    pub fn scaled_by_micros(self, rate_micros: i64) -> PricePerMillion {
        let product = i128::from(self.nanos) * i128::from(rate_micros);
        let rounded = (product + 500_000) / 1_000_000;
        PricePerMillion {
            nanos: i64::try_from(rounded).unwrap_or(i64::MAX),
        }
    }
}

impl FromStr for PricePerMillion {
    type Err = DecimalError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let nanos = parse_scaled_decimal(s, 9)?;
        if nanos < 0 {
            return Err(DecimalError {
                input: s.to_owned(),
                reason: "a price cannot be negative",
            });
        }
        i64::try_from(nanos)
            .map(PricePerMillion::from_nanos)
            .map_err(|_| DecimalError {
                input: s.to_owned(),
                reason: "number too large",
            })
    }
}

impl fmt::Display for PricePerMillion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let nanos = self.nanos.unsigned_abs();
        let text = format!("{}.{:09}", nanos / 1_000_000_000, nanos % 1_000_000_000);
        let text = text.trim_end_matches('0').trim_end_matches('.');
        write!(f, "{}{}", if self.nanos < 0 { "-" } else { "" }, text)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decimal_parsing_is_exact() {
        assert_eq!(parse_scaled_decimal("0.0375", 9), Ok(37_500_000));
        assert_eq!(parse_scaled_decimal("2", 9), Ok(2_000_000_000));
        assert_eq!(parse_scaled_decimal(".5", 2), Ok(50));
        assert_eq!(parse_scaled_decimal("1.50000", 1), Ok(15));
        assert!(parse_scaled_decimal("0.0000000001", 9).is_err());
        assert!(parse_scaled_decimal("1e3", 9).is_err());
        assert!(parse_scaled_decimal("", 9).is_err());
        assert!(parse_scaled_decimal("1.2.3", 9).is_err());
    }

    #[test]
    fn negative_prices_are_refused() {
        assert!("-0.1".parse::<PricePerMillion>().is_err());
    }

    #[test]
    fn ten_cents_times_three_is_thirty_cents_exactly() {
        let ten: Usd = "0.1".parse().unwrap();
        let sum: Usd = [ten, ten, ten].into_iter().sum();
        assert_eq!(sum, "0.3".parse().unwrap());
        assert_eq!(sum.femtos(), 300_000_000_000_000);
    }

    #[test]
    fn cost_of_tokens_is_exact() {
        let price: PricePerMillion = "0.075".parse().unwrap();
        assert_eq!(price.cost_of(1_000_000), "0.075".parse().unwrap());
        assert_eq!(price.cost_of(1), Usd::from_femtos(75_000_000));
    }

    #[test]
    fn display_and_rounding() {
        assert_eq!(Usd::from_nanos(1_500).to_string(), "$0.000001500000000");
        assert_eq!(Usd::from_femtos(1_500_000).nanos_rounded(), 2);
        assert_eq!(Usd::from_femtos(-1_500_000).nanos_rounded(), -2);
        assert_eq!(
            "0.15".parse::<PricePerMillion>().unwrap().to_string(),
            "0.15"
        );
    }

    #[test]
    fn currency_scaling_rounds_to_nearest_nano() {
        let eur: PricePerMillion = "0.15".parse().unwrap();
        // 1.08 USD per EUR
        assert_eq!(eur.scaled_by_micros(1_080_000).to_string(), "0.162");
    }

    #[test]
    fn reads_back_the_exponent_form_serde_json_writes() {
        let small = Usd::from_femtos(750_000_000); // $7.5e-7
        let text = serde_json::to_string(&small).unwrap();
        assert!(text.contains('e'), "{text}");
        assert_eq!(serde_json::from_str::<Usd>(&text).unwrap(), small);
        assert_eq!(
            serde_json::from_str::<Usd>("1.5E+2").unwrap(),
            "150".parse().unwrap()
        );
        assert_eq!(
            serde_json::from_str::<Usd>("-5e-16").unwrap(),
            Usd::from_femtos(-1)
        );
        assert_eq!(serde_json::from_str::<Usd>("1e-30").unwrap(), Usd::ZERO);
    }

    #[test]
    fn serializes_as_dollars() {
        let v = serde_json::to_value(Usd::from_nanos(250_000_000)).unwrap();
        assert_eq!(v, serde_json::json!(0.25));
        let back: Usd = serde_json::from_value(v).unwrap();
        assert_eq!(back, Usd::from_nanos(250_000_000));
    }
}
