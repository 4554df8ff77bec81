//! `elelem stats --ledger usage.db|postgres://... [--tag T] [--since 2026-11-01]
//! [--by model|provider|tag|day] [--json|--csv]`: spend read from a ledger.

use std::collections::BTreeMap;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use elelem::cost::{CostSink, InMemoryStatsSink, StatsQuery, UsageRecord};
use elelem::Stats;
use serde_json::Value;

use super::dollars;
use super::table::Table;
use crate::ledger::Ledger;

/// How to group the records.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum GroupBy {
    /// By `provider:model`.
    Model,
    /// By provider.
    Provider,
    /// By tag (a record counts under each of its tags).
    Tag,
    /// By UTC day.
    Day,
}

/// The output format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Format {
    /// An aligned table.
    #[default]
    Table,
    /// The Python Elelem dictionary (one per group).
    Json,
    /// CSV.
    Csv,
}

/// What `elelem stats` was asked.
#[derive(Debug, Clone)]
pub struct StatsArgs {
    /// The ledger: a SQLite path or a PostgreSQL URL.
    pub ledger: String,
    /// Only this tag's records.
    pub tag: Option<String>,
    /// Only records from this UTC day on (`YYYY-MM-DD`).
    pub since: Option<String>,
    /// The grouping.
    pub by: Option<GroupBy>,
    /// The format.
    pub format: Format,
}

/// Reads the ledger and renders the stats.
pub fn run(args: &StatsArgs) -> Result<String, String> {
    let since = args.since.as_deref().map(parse_day).transpose()?;
    let ledger = Ledger::open(&args.ledger, true).map_err(|e| e.to_string())?;
    let query = match &args.tag {
        Some(tag) => StatsQuery::Tag(tag.clone()),
        None => StatsQuery::All,
    };
    let records = ledger.records(&query);
    let _ = ledger.close();
    let mut records =
        records.map_err(|e| format!("cannot read the ledger {}: {e}", args.ledger))?;
    if let Some(since) = since {
        records.retain(|r| r.timestamp >= since);
    }
    let groups = group(&records, args.by);
    Ok(render(&groups, args.by, args.format))
}

/// Stats per group (one group `all` without a grouping).
pub fn group(records: &[UsageRecord], by: Option<GroupBy>) -> BTreeMap<String, Stats> {
    let mut sinks: BTreeMap<String, InMemoryStatsSink> = BTreeMap::new();
    for record in records {
        let keys: Vec<String> = match by {
            None => vec!["all".into()],
            Some(GroupBy::Model) => vec![record.model.clone()],
            Some(GroupBy::Provider) => vec![record.provider.clone()],
            Some(GroupBy::Tag) if record.tags.is_empty() => vec!["(none)".into()],
            Some(GroupBy::Tag) => record.tags.to_vec(),
            Some(GroupBy::Day) => vec![day_of(record.timestamp)],
        };
        for key in keys {
            sinks.entry(key).or_default().record(record);
        }
    }
    sinks
        .into_iter()
        .map(|(key, sink)| (key, sink.stats(&StatsQuery::All).unwrap_or_default()))
        .collect()
}

fn render(groups: &BTreeMap<String, Stats>, by: Option<GroupBy>, format: Format) -> String {
    if format == Format::Json {
        let value = match by {
            None => serde_json::to_value(groups.get("all").cloned().unwrap_or_default()),
            Some(_) => serde_json::to_value(groups),
        };
        return format!(
            "{}\n",
            serde_json::to_string_pretty(&value.unwrap_or(Value::Null)).unwrap_or_default()
        );
    }
    let first = match by {
        None => "SCOPE",
        Some(GroupBy::Model) => "MODEL",
        Some(GroupBy::Provider) => "PROVIDER",
        Some(GroupBy::Tag) => "TAG",
        Some(GroupBy::Day) => "DAY",
    };
    let mut table = Table::new([
        first,
        "CALLS",
        "IN TOKENS",
        "OUT TOKENS",
        "COST USD",
        "RETRIES",
        "FAILURES",
        "AVG S",
    ]);
    for (key, s) in groups {
        let cost = if format == Format::Csv {
            s.total_cost_usd.to_string().replace('$', "")
        } else {
            dollars(s.total_cost_usd)
        };
        table.row([
            key.clone(),
            s.total_calls.to_string(),
            s.total_input_tokens.to_string(),
            s.total_output_tokens.to_string(),
            cost,
            s.retry_analytics.total_retries.to_string(),
            s.retry_analytics.final_failures.to_string(),
            format!("{:.3}", s.avg_duration_seconds),
        ]);
    }
    match format {
        Format::Csv => table.csv(),
        _ => table.render(),
    }
}

/// `YYYY-MM-DD` as the start of that UTC day.
///
/// ```
/// use std::time::{Duration, UNIX_EPOCH};
/// let day = elelem_cli::commands::stats::parse_day("2026-11-01").unwrap();
/// assert_eq!(day, UNIX_EPOCH + Duration::from_secs(1_793_491_200));
/// assert!(elelem_cli::commands::stats::parse_day("01/11/2026").is_err());
/// ```
pub fn parse_day(text: &str) -> Result<SystemTime, String> {
    let bad = || format!("--since {text:?} is not a date; write it as YYYY-MM-DD (UTC)");
    let parts: Vec<&str> = text.trim().split('-').collect();
    let [y, m, d] = parts.as_slice() else {
        return Err(bad());
    };
    let (y, m, d): (i64, u32, u32) = (
        y.parse().map_err(|_| bad())?,
        m.parse().map_err(|_| bad())?,
        d.parse().map_err(|_| bad())?,
    );
    if !(1970..=9999).contains(&y) || !(1..=12).contains(&m) || !(1..=31).contains(&d) {
        return Err(bad());
    }
    let days = days_from_civil(y, m, d);
    let secs = u64::try_from(days * 86_400).map_err(|_| bad())?;
    Ok(UNIX_EPOCH + Duration::from_secs(secs))
}

/// The UTC day of a time, `YYYY-MM-DD`.
fn day_of(time: SystemTime) -> String {
    let days = time
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default()
        .as_secs()
        / 86_400;
    let (y, m, d) = civil_from_days(days as i64);
    format!("{y:04}-{m:02}-{d:02}")
}

/// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's
/// algorithm).
fn days_from_civil(y: i64, m: u32, d: u32) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let m = i64::from(m);
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + i64::from(d) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// The date of a day count since 1970-01-01.
fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (if m <= 2 { y + 1 } else { y }, m, d)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn days_round_trip() {
        for day in [0_i64, 59, 60, 365, 10_957, 20_758, 29_220] {
            let (y, m, d) = civil_from_days(day);
            assert_eq!(days_from_civil(y, m, d), day, "{y}-{m}-{d}");
        }
        assert_eq!(
            day_of(UNIX_EPOCH + Duration::from_secs(1_793_491_200 + 5)),
            "2026-11-01"
        );
    }
}
