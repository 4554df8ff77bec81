//! Usage records to rows and back, and stats from SQL aggregates.

use elelem_core::catalogue::CostBreakdown;
use elelem_core::cost::{
    Adjustments, AttemptOutcome, RecentQuery, RetryAnalytics, Stats, StatsQuery, TokenCounts,
    UsageRecord,
};
use elelem_core::Usd;
use rusqlite::types::Value;
use rusqlite::{params, Connection, Row, Transaction};

use crate::LedgerError;

use elelem_core::cost::columns::{
    duration_nanos, from_unix_nanos, join_usd, nanos_duration, outcome_text, parse_cause,
    recent_records_sql, record_key, split_usd, tokens_in, tokens_out, unix_nanos, RECORD_COLUMNS,
};

const INSERT_USAGE: &str = "INSERT INTO usage (
    time_unix_ns, call_id, attempt, model, provider, tags,
    input_tokens, cached_input_tokens, output_tokens, reasoning_tokens,
    input_cost_nano_usd, input_cost_femto_rem, output_cost_nano_usd, output_cost_femto_rem,
    reasoning_cost_nano_usd, reasoning_cost_femto_rem, price_known, duration_ns,
    outcome, retry_cause, temperature_reduced, response_format_removed, fallback_model_used,
    cache_hit, saved_cost_nano_usd, saved_cost_femto_rem, stream_interrupted, next_candidate,
    record_key, cost_unknown, json_repaired, json_fixed, time_to_first_token_ns
) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18,
          ?19, ?20, ?21, ?22, ?23, ?24, ?25, ?26, ?27, ?28, ?29, ?30, ?31, ?32, ?33)
ON CONFLICT (record_key) DO NOTHING";

const INSERT_TAG: &str = "INSERT OR IGNORE INTO usage_tags (tag, record_id) VALUES (?1, ?2)";

/// Writes `records` in `tx` (one row each, plus their distinct tags), skipping
/// those already stored (by their key: a batch written again is stored once).
pub(crate) fn insert(tx: &Transaction<'_>, records: &[UsageRecord]) -> rusqlite::Result<()> {
    let mut usage = tx.prepare_cached(INSERT_USAGE)?;
    let mut tag = tx.prepare_cached(INSERT_TAG)?;
    for r in records {
        let tags = serde_json::to_string(&*r.tags)
            .map_err(|e| rusqlite::Error::ToSqlConversionFailure(Box::new(e)))?;
        let (input_n, input_f) = split_usd(r.cost.input);
        let (output_n, output_f) = split_usd(r.cost.output);
        let (reasoning_n, reasoning_f) = split_usd(r.cost.reasoning);
        let (saved_n, saved_f) = split_usd(r.saved_cost);
        let (outcome, cause) = outcome_text(r.outcome);
        let a = r.adjustments;
        let inserted = usage.execute(params![
            unix_nanos(r.timestamp),
            // Stored bit for bit, so every u64 round-trips.
            r.call_id as i64,
            i64::from(r.attempt),
            r.model,
            r.provider,
            tags,
            tokens_in(r.tokens.input),
            tokens_in(r.tokens.cached_input),
            tokens_in(r.tokens.output),
            tokens_in(r.tokens.reasoning),
            input_n,
            input_f,
            output_n,
            output_f,
            reasoning_n,
            reasoning_f,
            r.price_known,
            duration_nanos(r.duration),
            outcome,
            cause,
            a.temperature_reduced,
            a.response_format_removed,
            a.fallback_model_used,
            r.cache_hit,
            saved_n,
            saved_f,
            r.stream_interrupted,
            a.next_candidate,
            record_key(r),
            r.cost_unknown,
            a.json_repaired,
            a.json_fixed,
            r.time_to_first_token.map(duration_nanos),
        ])?;
        if inserted == 0 {
            continue; // already stored
        }
        let id = tx.last_insert_rowid();
        for t in r.tags.iter() {
            tag.execute(params![t, id])?;
        }
    }
    Ok(())
}

/// The `WHERE` clause and its parameters for `query`; `None` for a query kind
/// this ledger does not know.
fn filter(query: &StatsQuery) -> Option<(&'static str, Vec<Value>)> {
    Some(match query {
        StatsQuery::All => ("", Vec::new()),
        StatsQuery::Tag(tag) => (
            "WHERE id IN (SELECT record_id FROM usage_tags WHERE tag = ?1)",
            vec![Value::Text(tag.clone())],
        ),
        StatsQuery::Model(model) => ("WHERE model = ?1", vec![Value::Text(model.clone())]),
        StatsQuery::Provider(provider) => {
            ("WHERE provider = ?1", vec![Value::Text(provider.clone())])
        }
        StatsQuery::Between { from, to } => (
            "WHERE time_unix_ns >= ?1 AND time_unix_ns < ?2",
            vec![
                Value::Integer(unix_nanos(*from)),
                Value::Integer(unix_nanos(*to)),
            ],
        ),
        _ => return None,
    })
}

/// Sums exactly as `elelem_core`'s in-memory accumulator does: every attempt for
/// tokens, cost and duration; finished attempts for calls; retry causes and
/// adjustments as counters.
const STATS_SELECT: &str = "SELECT
    COALESCE(SUM(input_tokens), 0),
    COALESCE(SUM(output_tokens), 0),
    COALESCE(SUM(reasoning_tokens), 0),
    COALESCE(SUM(input_cost_nano_usd), 0),
    COALESCE(SUM(input_cost_femto_rem), 0),
    COALESCE(SUM(output_cost_nano_usd), 0),
    COALESCE(SUM(output_cost_femto_rem), 0),
    COALESCE(SUM(reasoning_cost_nano_usd), 0),
    COALESCE(SUM(reasoning_cost_femto_rem), 0),
    COALESCE(SUM(duration_ns), 0),
    COALESCE(SUM(CASE WHEN outcome <> 'retried' THEN 1 ELSE 0 END), 0),
    COALESCE(SUM(CASE WHEN outcome = 'failed' THEN 1 ELSE 0 END), 0),
    COALESCE(SUM(CASE WHEN outcome = 'retried' THEN 1 ELSE 0 END), 0),
    COALESCE(SUM(CASE WHEN outcome = 'retried' AND retry_cause = 'rate_limit' THEN 1 ELSE 0 END), 0),
    COALESCE(SUM(CASE WHEN outcome = 'retried' AND retry_cause = 'json_parse' THEN 1 ELSE 0 END), 0),
    COALESCE(SUM(CASE WHEN outcome = 'retried' AND retry_cause = 'json_schema' THEN 1 ELSE 0 END), 0),
    COALESCE(SUM(CASE WHEN outcome = 'retried' AND retry_cause = 'api_json_validation' THEN 1 ELSE 0 END), 0),
    COALESCE(SUM(temperature_reduced), 0),
    COALESCE(SUM(response_format_removed), 0),
    COALESCE(SUM(fallback_model_used), 0),
    COALESCE(SUM(CASE WHEN outcome <> 'retried' AND price_known = 0 AND cache_hit = 0 THEN 1 ELSE 0 END), 0),
    COALESCE(SUM(cache_hit), 0),
    COALESCE(SUM(CASE WHEN cache_hit <> 0 THEN saved_cost_nano_usd ELSE 0 END), 0),
    COALESCE(SUM(CASE WHEN cache_hit <> 0 THEN saved_cost_femto_rem ELSE 0 END), 0),
    COALESCE(SUM(stream_interrupted), 0),
    COALESCE(SUM(next_candidate), 0),
    COALESCE(SUM(cost_unknown), 0),
    COALESCE(SUM(json_repaired), 0),
    COALESCE(SUM(json_fixed), 0)
FROM usage";

fn count(row: &Row<'_>, index: usize) -> rusqlite::Result<u64> {
    Ok(u64::try_from(row.get::<_, i64>(index)?).unwrap_or(0))
}

fn money(row: &Row<'_>, index: usize) -> rusqlite::Result<Usd> {
    let nanos: i64 = row.get(index)?;
    let rem: i64 = row.get(index + 1)?;
    Ok(join_usd(i128::from(nanos), i128::from(rem)))
}

/// The stats of the records `query` covers; `None` for an unknown query kind.
pub(crate) fn stats(conn: &Connection, query: &StatsQuery) -> rusqlite::Result<Option<Stats>> {
    let Some((clause, values)) = filter(query) else {
        return Ok(None);
    };
    let sql = format!("{STATS_SELECT} {clause}");
    let mut statement = conn.prepare_cached(&sql)?;
    let stats = statement.query_row(rusqlite::params_from_iter(values), |row| {
        let input_tokens = count(row, 0)?;
        let output_tokens = count(row, 1)?;
        let input_cost = money(row, 3)?;
        let output_cost = money(row, 5)?;
        let duration_nanos = count(row, 9)?;
        let calls = count(row, 10)?;
        let total_seconds = u128::from(duration_nanos) as f64 / 1e9;
        Ok(Stats {
            total_input_tokens: input_tokens,
            total_output_tokens: output_tokens,
            total_tokens: input_tokens.saturating_add(output_tokens),
            total_input_cost_usd: input_cost,
            total_output_cost_usd: output_cost,
            total_cost_usd: input_cost + output_cost,
            total_calls: calls,
            total_duration_seconds: total_seconds,
            avg_duration_seconds: if calls == 0 {
                0.0
            } else {
                total_seconds / calls as f64
            },
            reasoning_tokens: count(row, 2)?,
            reasoning_cost_usd: money(row, 7)?,
            retry_analytics: RetryAnalytics {
                final_failures: count(row, 11)?,
                total_retries: count(row, 12)?,
                rate_limit_retries: count(row, 13)?,
                json_parse_retries: count(row, 14)?,
                json_schema_retries: count(row, 15)?,
                api_json_validation_retries: count(row, 16)?,
                temperature_reductions: count(row, 17)?,
                response_format_removals: count(row, 18)?,
                fallback_model_usage: count(row, 19)?,
                candidate_iterations: count(row, 25)?,
            },
            unpriced_calls: count(row, 20)?,
            cache_hits: count(row, 21)?,
            cache_saved_cost_usd: money(row, 22)?,
            interrupted_streams: count(row, 24)?,
            calls_cost_unknown: count(row, 26)?,
            json_repairs: count(row, 27)?,
            json_fixes: count(row, 28)?,
        })
    })?;
    Ok(Some(stats))
}

/// A row read back, before its text fields are checked.
struct RawRecord {
    id: i64,
    record: UsageRecord,
    tags: String,
    outcome: String,
    cause: Option<String>,
}

fn raw_record(row: &Row<'_>) -> rusqlite::Result<RawRecord> {
    let call_id: i64 = row.get(2)?;
    let attempt: i64 = row.get(3)?;
    let duration: i64 = row.get(18)?;
    Ok(RawRecord {
        id: row.get(0)?,
        tags: row.get(6)?,
        outcome: row.get(19)?,
        cause: row.get(20)?,
        record: UsageRecord {
            timestamp: from_unix_nanos(row.get(1)?),
            // Stored bit for bit.
            call_id: call_id as u64,
            attempt: u32::try_from(attempt).unwrap_or(0),
            model: row.get(4)?,
            provider: row.get(5)?,
            tags: Vec::new().into(),
            tokens: TokenCounts {
                input: tokens_out(row.get(7)?),
                cached_input: tokens_out(row.get(8)?),
                output: tokens_out(row.get(9)?),
                reasoning: tokens_out(row.get(10)?),
            },
            cost: CostBreakdown {
                input: money(row, 11)?,
                output: money(row, 13)?,
                reasoning: money(row, 15)?,
            },
            price_known: row.get(17)?,
            duration: nanos_duration(duration),
            outcome: AttemptOutcome::Success,
            adjustments: Adjustments {
                temperature_reduced: row.get(21)?,
                response_format_removed: row.get(22)?,
                fallback_model_used: row.get(23)?,
                next_candidate: row.get(28)?,
                json_repaired: row.get(30)?,
                json_fixed: row.get(31)?,
            },
            cache_hit: row.get(24)?,
            saved_cost: money(row, 25)?,
            stream_interrupted: row.get(27)?,
            cost_unknown: row.get(29)?,
            time_to_first_token: row.get::<_, Option<i64>>(32)?.map(nanos_duration),
        },
    })
}

fn finish(raw: RawRecord) -> Result<UsageRecord, LedgerError> {
    let bad = |reason: String| LedgerError::BadRow { id: raw.id, reason };
    let tags: Vec<String> =
        serde_json::from_str(&raw.tags).map_err(|e| bad(format!("tags: {e}")))?;
    let outcome = match (raw.outcome.as_str(), raw.cause.as_deref()) {
        ("success", _) => AttemptOutcome::Success,
        ("failed", _) => AttemptOutcome::Failed,
        ("retried", Some(cause)) => AttemptOutcome::Retried(
            parse_cause(cause).ok_or_else(|| bad(format!("unknown retry cause {cause:?}")))?,
        ),
        (other, cause) => return Err(bad(format!("outcome {other:?} with cause {cause:?}"))),
    };
    Ok(UsageRecord {
        tags: tags.into(),
        outcome,
        ..raw.record
    })
}

/// The records `query` covers, in the order they were written; `None` for an
/// unknown query kind.
pub(crate) fn records(
    conn: &Connection,
    query: &StatsQuery,
) -> Result<Option<Vec<UsageRecord>>, LedgerError> {
    let Some((clause, values)) = filter(query) else {
        return Ok(None);
    };
    let sql = format!("SELECT {RECORD_COLUMNS} FROM usage {clause} ORDER BY id");
    let mut statement = conn.prepare_cached(&sql)?;
    let raws = statement
        .query_map(rusqlite::params_from_iter(values), raw_record)?
        .collect::<rusqlite::Result<Vec<_>>>()?;
    raws.into_iter()
        .map(finish)
        .collect::<Result<_, _>>()
        .map(Some)
}

/// The most recent records `query` asks for, oldest first.
pub(crate) fn recent(
    conn: &Connection,
    query: &RecentQuery,
) -> Result<Vec<UsageRecord>, LedgerError> {
    let (per_model, max_records) = query.limits();
    let mut statement =
        conn.prepare_cached(&recent_records_sql(["?1", "?2", "?3"], "cache_hit = 0"))?;
    let raws = statement
        .query_map(
            params![unix_nanos(query.since), per_model, max_records],
            raw_record,
        )?
        .collect::<rusqlite::Result<Vec<_>>>()?;
    let mut records = raws
        .into_iter()
        .map(finish)
        .collect::<Result<Vec<_>, _>>()?;
    records.reverse();
    Ok(records)
}
