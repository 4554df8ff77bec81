//! Server-given retry delays, read the way OpenAI's SDK reads them.

use std::time::{Duration, SystemTime};

use crate::later::clamped;

/// The response headers that carry a retry delay, in the order they are honoured.
pub const RETRY_HEADERS: [&str; 2] = ["retry-after-ms", "retry-after"];

/// The delay a server asked for: `retry-after-ms` (milliseconds) first, then
/// `retry-after` as seconds (floats allowed) or as an HTTP date. A delay longer than
/// [`LONGEST_WAIT`](crate::LONGEST_WAIT) (one year) is clamped to it, so adding it to
/// an `Instant` never overflows.
///
/// ```
/// use std::time::Duration;
/// use elelem_core::retry::retry_after_from_headers;
/// let headers = [("retry-after", "1.5")];
/// assert_eq!(retry_after_from_headers(headers.iter().copied()), Some(Duration::from_millis(1500)));
/// let headers = [("retry-after", "2"), ("retry-after-ms", "250")];
/// assert_eq!(retry_after_from_headers(headers.iter().copied()), Some(Duration::from_millis(250)));
/// assert_eq!(retry_after_from_headers([("retry-after", "soon")].iter().copied()), None);
/// ```
pub fn retry_after_from_headers<'a>(
    headers: impl IntoIterator<Item = (&'a str, &'a str)>,
) -> Option<Duration> {
    let mut millis = None;
    let mut plain = None;
    for (name, value) in headers {
        if name.eq_ignore_ascii_case("retry-after-ms") {
            millis = Some(value);
        } else if name.eq_ignore_ascii_case("retry-after") {
            plain = Some(value);
        }
    }
    if let Some(delay) = millis.and_then(|v| seconds(v.trim(), 1_000.0)) {
        return Some(clamped(delay));
    }
    let value = plain?.trim();
    let delay = seconds(value, 1.0).or_else(|| {
        let when = httpdate::parse_http_date(value).ok()?;
        Some(
            when.duration_since(SystemTime::now())
                .unwrap_or(Duration::ZERO),
        )
    })?;
    Some(clamped(delay))
}

fn seconds(value: &str, per_second: f64) -> Option<Duration> {
    let number: f64 = value.parse().ok()?;
    if !number.is_finite() || number < 0.0 {
        return None;
    }
    let secs = number / per_second;
    if secs >= crate::LONGEST_WAIT.as_secs_f64() {
        return Some(crate::LONGEST_WAIT);
    }
    Duration::try_from_secs_f64(secs).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn http_dates_in_the_future_give_the_remaining_time() {
        let when = SystemTime::now() + Duration::from_secs(30);
        let text = httpdate::fmt_http_date(when);
        let delay = retry_after_from_headers([("Retry-After", text.as_str())]).unwrap();
        assert!(
            delay <= Duration::from_secs(30) && delay >= Duration::from_secs(28),
            "{delay:?}"
        );
        let past = httpdate::fmt_http_date(SystemTime::now() - Duration::from_secs(30));
        assert_eq!(
            retry_after_from_headers([("retry-after", past.as_str())]),
            Some(Duration::ZERO)
        );
    }

    #[test]
    fn huge_delays_are_clamped_to_a_year() {
        for (name, value) in [
            ("retry-after", "1e20"),
            ("retry-after", "18446744073709551615"),
            ("retry-after-ms", "1e300"),
        ] {
            assert_eq!(
                retry_after_from_headers([(name, value)]),
                Some(crate::LONGEST_WAIT),
                "{name}: {value}"
            );
        }
        let far = retry_after_from_headers([("retry-after", "Fri, 31 Dec 9999 23:59:59 GMT")]);
        assert_eq!(far, Some(crate::LONGEST_WAIT));
    }

    #[test]
    fn junk_is_ignored() {
        for junk in ["-1", "NaN", "inf", "", "1e400"] {
            assert_eq!(
                retry_after_from_headers([("retry-after", junk)]),
                None,
                "{junk}"
            );
        }
        assert_eq!(
            retry_after_from_headers([("retry-after-ms", "x"), ("retry-after", "3")]),
            Some(Duration::from_secs(3))
        );
    }
}
