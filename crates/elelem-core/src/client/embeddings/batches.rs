//! Splitting inputs into requests within a model's per-request limits.

use std::ops::Range;

/// Consecutive ranges of inputs, each holding at most `max_inputs` inputs and
/// at most `max_tokens` tokens (an input larger than `max_tokens` alone goes in
/// a range of its own); one range when the model has no limits.
///
/// ```text
/// assert_eq!(split(&[5, 5, 5], Some(2), None), vec![0..2, 2..3]);
/// ```
pub(super) fn split(
    tokens: &[u64],
    max_inputs: Option<u32>,
    max_tokens: Option<u64>,
) -> Vec<Range<usize>> {
    let max_inputs = max_inputs.map_or(usize::MAX, |n| (n as usize).max(1));
    let max_tokens = max_tokens.unwrap_or(u64::MAX);
    let mut ranges = Vec::new();
    let mut start = 0;
    let mut sum = 0u64;
    for (i, &n) in tokens.iter().enumerate() {
        let full = i - start >= max_inputs || (i > start && sum.saturating_add(n) > max_tokens);
        if full {
            ranges.push(start..i);
            start = i;
            sum = 0;
        }
        sum = sum.saturating_add(n);
    }
    if start < tokens.len() {
        ranges.push(start..tokens.len());
    }
    ranges
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn inputs_split_by_count_and_tokens_in_order() {
        assert_eq!(split(&[5, 5, 5], Some(2), None), vec![0..2, 2..3]);
        assert_eq!(split(&[5, 5, 5], None, None), vec![0..3]);
        assert_eq!(split(&[4, 4, 4, 4], None, Some(8)), vec![0..2, 2..4]);
        assert_eq!(split(&[20, 1, 1], None, Some(8)), vec![0..1, 1..3]);
        assert_eq!(split(&[1; 5], Some(0), None).len(), 5);
        assert!(split(&[], Some(2), Some(2)).is_empty());
        let ranges = split(&[3; 10_000], Some(2048), Some(3000));
        assert_eq!(ranges.iter().map(|r| r.len()).sum::<usize>(), 10_000);
        assert!(ranges.iter().all(|r| r.len() <= 1000));
        assert!(ranges.windows(2).all(|w| w[0].end == w[1].start));
    }
}
