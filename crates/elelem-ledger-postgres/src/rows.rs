//! Usage records to rows and back, and stats from SQL aggregates.
//!
//! The conversions are those of `elelem-ledger-sqlite`, so both ledgers hold the
//! same values in the same columns.

use elelem_core::catalogue::CostBreakdown;
use elelem_core::cost::{
    Adjustments, AttemptOutcome, RecentQuery, RetryAnalytics, Stats, StatsQuery, TokenCounts,
    UsageRecord,
};
use elelem_core::Usd;
use postgres::types::ToSql;
use postgres::{Client, Row, Statement, Transaction};

use crate::LedgerError;

use elelem_core::cost::columns::{
    duration_nanos, from_unix_nanos, join_usd, nanos_duration, outcome_text, parse_cause,
    recent_records_sql, record_key, split_usd, storable_text, tokens_in, tokens_out, unix_nanos,
    RECORD_COLUMNS,
};

const INSERT_USAGE: &str = "INSERT INTO usage (
    time_unix_ns, call_id, attempt, model, provider, tags,
    input_tokens, cached_input_tokens, output_tokens, reasoning_tokens,
    input_cost_nano_usd, input_cost_femto_rem, output_cost_nano_usd, output_cost_femto_rem,
    reasoning_cost_nano_usd, reasoning_cost_femto_rem, price_known, duration_ns,
    outcome, retry_cause, temperature_reduced, response_format_removed, fallback_model_used,
    cache_hit, saved_cost_nano_usd, saved_cost_femto_rem, stream_interrupted, next_candidate,
    record_key, cost_unknown, json_repaired, json_fixed, time_to_first_token_ns
) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18,
          $19, $20, $21, $22, $23, $24, $25, $26, $27, $28, $29, $30, $31, $32, $33)
ON CONFLICT (record_key) DO NOTHING
RETURNING id";

const INSERT_TAG: &str =
    "INSERT INTO usage_tags (tag, record_id) VALUES ($1, $2) ON CONFLICT DO NOTHING";

/// The prepared statements that write one record.
pub(crate) struct Inserts {
    usage: Statement,
    tag: Statement,
}

impl Inserts {
    pub(crate) fn prepare(tx: &mut Transaction<'_>) -> Result<Self, LedgerError> {
        Ok(Inserts {
            usage: tx.prepare(INSERT_USAGE)?,
            tag: tx.prepare(INSERT_TAG)?,
        })
    }
}

/// Writes `records` in `tx` (one row each, plus their distinct tags).
pub(crate) fn insert(tx: &mut Transaction<'_>, records: &[UsageRecord]) -> Result<(), LedgerError> {
    let statements = Inserts::prepare(tx)?;
    for r in records {
        insert_one(tx, &statements, r)?;
    }
    Ok(())
}

/// Writes one record in `tx`, unless a record with its key is already stored (a
/// batch written again after its acknowledgement was lost). Text is stored with
/// NUL characters replaced, which PostgreSQL refuses.
pub(crate) fn insert_one(
    tx: &mut Transaction<'_>,
    statements: &Inserts,
    r: &UsageRecord,
) -> Result<(), LedgerError> {
    {
        let clean_tags: Vec<String> = r
            .tags
            .iter()
            .map(|t| storable_text(t).into_owned())
            .collect();
        let tags = serde_json::to_string(&clean_tags).unwrap_or_else(|_| "[]".into());
        let (model, provider) = (storable_text(&r.model), storable_text(&r.provider));
        let key = record_key(r);
        let (input_n, input_f) = split_usd(r.cost.input);
        let (output_n, output_f) = split_usd(r.cost.output);
        let (reasoning_n, reasoning_f) = split_usd(r.cost.reasoning);
        let (saved_n, saved_f) = split_usd(r.saved_cost);
        let (outcome, cause) = outcome_text(r.outcome);
        let a = r.adjustments;
        // Stored bit for bit, so every u64 round-trips.
        let call_id = r.call_id as i64;
        let attempt = i64::from(r.attempt);
        let time = unix_nanos(r.timestamp);
        let duration = duration_nanos(r.duration);
        let first_token = r.time_to_first_token.map(duration_nanos);
        let tokens = [
            tokens_in(r.tokens.input),
            tokens_in(r.tokens.cached_input),
            tokens_in(r.tokens.output),
            tokens_in(r.tokens.reasoning),
        ];
        let params: [&(dyn ToSql + Sync); 33] = [
            &time,
            &call_id,
            &attempt,
            &model,
            &provider,
            &tags,
            &tokens[0],
            &tokens[1],
            &tokens[2],
            &tokens[3],
            &input_n,
            &input_f,
            &output_n,
            &output_f,
            &reasoning_n,
            &reasoning_f,
            &r.price_known,
            &duration,
            &outcome,
            &cause,
            &a.temperature_reduced,
            &a.response_format_removed,
            &a.fallback_model_used,
            &r.cache_hit,
            &saved_n,
            &saved_f,
            &r.stream_interrupted,
            &a.next_candidate,
            &key,
            &r.cost_unknown,
            &a.json_repaired,
            &a.json_fixed,
            &first_token,
        ];
        let Some(row) = tx.query_opt(&statements.usage, &params)? else {
            return Ok(()); // already stored
        };
        let id: i64 = row.get(0);
        for t in &clean_tags {
            tx.execute(&statements.tag, &[t, &id])?;
        }
    }
    Ok(())
}

/// The `WHERE` clause and its parameters for `query`; `None` for a query kind
/// this ledger does not know.
fn filter(query: &StatsQuery) -> Option<(&'static str, Vec<Box<dyn ToSql + Sync>>)> {
    Some(match query {
        StatsQuery::All => ("", Vec::new()),
        StatsQuery::Tag(tag) => (
            "WHERE id IN (SELECT record_id FROM usage_tags WHERE tag = $1)",
            vec![Box::new(tag.clone())],
        ),
        StatsQuery::Model(model) => ("WHERE model = $1", vec![Box::new(model.clone())]),
        StatsQuery::Provider(provider) => ("WHERE provider = $1", vec![Box::new(provider.clone())]),
        StatsQuery::Between { from, to } => (
            "WHERE time_unix_ns >= $1 AND time_unix_ns < $2",
            vec![Box::new(unix_nanos(*from)), Box::new(unix_nanos(*to))],
        ),
        _ => return None,
    })
}

/// Sums exactly as `elelem_core`'s in-memory accumulator does. Every sum is
/// `numeric` (exact, unbounded) and read as text.
const STATS_SELECT: &str = "SELECT
    COALESCE(SUM(input_tokens), 0)::TEXT,
    COALESCE(SUM(output_tokens), 0)::TEXT,
    COALESCE(SUM(reasoning_tokens), 0)::TEXT,
    (COALESCE(SUM(input_cost_nano_usd), 0) * 1000000 + COALESCE(SUM(input_cost_femto_rem), 0))::TEXT,
    (COALESCE(SUM(output_cost_nano_usd), 0) * 1000000 + COALESCE(SUM(output_cost_femto_rem), 0))::TEXT,
    (COALESCE(SUM(reasoning_cost_nano_usd), 0) * 1000000 + COALESCE(SUM(reasoning_cost_femto_rem), 0))::TEXT,
    COALESCE(SUM(duration_ns), 0)::TEXT,
    COUNT(*) FILTER (WHERE outcome <> 'retried'),
    COUNT(*) FILTER (WHERE outcome = 'failed'),
    COUNT(*) FILTER (WHERE outcome = 'retried'),
    COUNT(*) FILTER (WHERE outcome = 'retried' AND retry_cause = 'rate_limit'),
    COUNT(*) FILTER (WHERE outcome = 'retried' AND retry_cause = 'json_parse'),
    COUNT(*) FILTER (WHERE outcome = 'retried' AND retry_cause = 'json_schema'),
    COUNT(*) FILTER (WHERE outcome = 'retried' AND retry_cause = 'api_json_validation'),
    COUNT(*) FILTER (WHERE temperature_reduced),
    COUNT(*) FILTER (WHERE response_format_removed),
    COUNT(*) FILTER (WHERE fallback_model_used),
    COUNT(*) FILTER (WHERE outcome <> 'retried' AND NOT price_known AND NOT cache_hit),
    COUNT(*) FILTER (WHERE cache_hit),
    (COALESCE(SUM(saved_cost_nano_usd) FILTER (WHERE cache_hit), 0) * 1000000
        + COALESCE(SUM(saved_cost_femto_rem) FILTER (WHERE cache_hit), 0))::TEXT,
    COUNT(*) FILTER (WHERE stream_interrupted),
    COUNT(*) FILTER (WHERE next_candidate),
    COUNT(*) FILTER (WHERE cost_unknown),
    COUNT(*) FILTER (WHERE json_repaired),
    COUNT(*) FILTER (WHERE json_fixed)
FROM usage";

fn bad_sum(text: &str) -> LedgerError {
    LedgerError::BadRow {
        id: 0,
        reason: format!("a sum that is not an integer: {text:?}"),
    }
}

fn big(row: &Row, index: usize) -> Result<i128, LedgerError> {
    let text: String = row.try_get(index)?;
    text.parse().map_err(|_| bad_sum(&text))
}

fn sum(row: &Row, index: usize) -> Result<u64, LedgerError> {
    Ok(u64::try_from(big(row, index)?).unwrap_or(u64::MAX))
}

fn count(row: &Row, index: usize) -> Result<u64, LedgerError> {
    Ok(u64::try_from(row.try_get::<_, i64>(index)?).unwrap_or(0))
}

/// The stats of the records `query` covers; `None` for an unknown query kind.
pub(crate) fn stats(client: &mut Client, query: &StatsQuery) -> Result<Option<Stats>, LedgerError> {
    let Some((clause, values)) = filter(query) else {
        return Ok(None);
    };
    let sql = format!("{STATS_SELECT} {clause}");
    let params: Vec<&(dyn ToSql + Sync)> = values.iter().map(|v| &**v).collect();
    let row = client.query_one(&sql, &params)?;
    let input_tokens = sum(&row, 0)?;
    let output_tokens = sum(&row, 1)?;
    let input_cost = Usd::from_femtos(big(&row, 3)?);
    let output_cost = Usd::from_femtos(big(&row, 4)?);
    let duration_nanos = u128::try_from(big(&row, 6)?).unwrap_or(0);
    let calls = count(&row, 7)?;
    let total_seconds = duration_nanos as f64 / 1e9;
    Ok(Some(Stats {
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
        reasoning_tokens: sum(&row, 2)?,
        reasoning_cost_usd: Usd::from_femtos(big(&row, 5)?),
        retry_analytics: RetryAnalytics {
            final_failures: count(&row, 8)?,
            total_retries: count(&row, 9)?,
            rate_limit_retries: count(&row, 10)?,
            json_parse_retries: count(&row, 11)?,
            json_schema_retries: count(&row, 12)?,
            api_json_validation_retries: count(&row, 13)?,
            temperature_reductions: count(&row, 14)?,
            response_format_removals: count(&row, 15)?,
            fallback_model_usage: count(&row, 16)?,
            candidate_iterations: count(&row, 21)?,
        },
        unpriced_calls: count(&row, 17)?,
        cache_hits: count(&row, 18)?,
        cache_saved_cost_usd: Usd::from_femtos(big(&row, 19)?),
        interrupted_streams: count(&row, 20)?,
        calls_cost_unknown: count(&row, 22)?,
        json_repairs: count(&row, 23)?,
        json_fixes: count(&row, 24)?,
    }))
}

fn record(row: &Row) -> Result<UsageRecord, LedgerError> {
    let id: i64 = row.try_get(0)?;
    let bad = |reason: String| LedgerError::BadRow { id, reason };
    let tags: String = row.try_get(6)?;
    let tags: Vec<String> = serde_json::from_str(&tags).map_err(|e| bad(format!("tags: {e}")))?;
    let outcome: String = row.try_get(19)?;
    let cause: Option<String> = row.try_get(20)?;
    let outcome = match (outcome.as_str(), cause.as_deref()) {
        ("success", _) => AttemptOutcome::Success,
        ("failed", _) => AttemptOutcome::Failed,
        ("retried", Some(cause)) => AttemptOutcome::Retried(
            parse_cause(cause).ok_or_else(|| bad(format!("unknown retry cause {cause:?}")))?,
        ),
        (other, cause) => return Err(bad(format!("outcome {other:?} with cause {cause:?}"))),
    };
    let money = |at: usize| -> Result<Usd, LedgerError> {
        Ok(join_usd(
            i128::from(row.try_get::<_, i64>(at)?),
            i128::from(row.try_get::<_, i64>(at + 1)?),
        ))
    };
    let call_id: i64 = row.try_get(2)?;
    let attempt: i64 = row.try_get(3)?;
    let duration: i64 = row.try_get(18)?;
    Ok(UsageRecord {
        timestamp: from_unix_nanos(row.try_get(1)?),
        // Stored bit for bit.
        call_id: call_id as u64,
        attempt: u32::try_from(attempt).unwrap_or(0),
        model: row.try_get(4)?,
        provider: row.try_get(5)?,
        tags: tags.into(),
        tokens: TokenCounts {
            input: tokens_out(row.try_get(7)?),
            cached_input: tokens_out(row.try_get(8)?),
            output: tokens_out(row.try_get(9)?),
            reasoning: tokens_out(row.try_get(10)?),
        },
        cost: CostBreakdown {
            input: money(11)?,
            output: money(13)?,
            reasoning: money(15)?,
        },
        price_known: row.try_get(17)?,
        duration: nanos_duration(duration),
        outcome,
        adjustments: Adjustments {
            temperature_reduced: row.try_get(21)?,
            response_format_removed: row.try_get(22)?,
            fallback_model_used: row.try_get(23)?,
            next_candidate: row.try_get(28)?,
            json_repaired: row.try_get(30)?,
            json_fixed: row.try_get(31)?,
        },
        cache_hit: row.try_get(24)?,
        saved_cost: money(25)?,
        stream_interrupted: row.try_get(27)?,
        cost_unknown: row.try_get(29)?,
        time_to_first_token: row.try_get::<_, Option<i64>>(32)?.map(nanos_duration),
    })
}

/// The records `query` covers, in the order they were written; `None` for an
/// unknown query kind.
pub(crate) fn records(
    client: &mut Client,
    query: &StatsQuery,
) -> Result<Option<Vec<UsageRecord>>, LedgerError> {
    let Some((clause, values)) = filter(query) else {
        return Ok(None);
    };
    let sql = format!("SELECT {RECORD_COLUMNS} FROM usage {clause} ORDER BY id");
    let params: Vec<&(dyn ToSql + Sync)> = values.iter().map(|v| &**v).collect();
    client
        .query(&sql, &params)?
        .iter()
        .map(record)
        .collect::<Result<_, _>>()
        .map(Some)
}

/// The most recent records `query` asks for, oldest first.
pub(crate) fn recent(
    client: &mut Client,
    query: &RecentQuery,
) -> Result<Vec<UsageRecord>, LedgerError> {
    let (per_model, max_records) = query.limits();
    let since = unix_nanos(query.since);
    let mut records = client
        .query(
            &recent_records_sql(["$1", "$2", "$3"], "NOT cache_hit"),
            &[&since, &per_model, &max_records],
        )?
        .iter()
        .map(record)
        .collect::<Result<Vec<_>, _>>()?;
    records.reverse();
    Ok(records)
}
