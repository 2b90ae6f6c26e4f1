//! `GET /api/v1/reports`: historical reports as JSON or CSV (supervisors and admins).
//!
//! Parses and bounds the request (typed `400 invalid` for a bad interval, group,
//! threshold or range, or a range holding more events or rows than `[reports]` allows),
//! reads the report log from the store, and hands it to the pure computation in
//! [`crate::reports`]. The row definitions are in docs/metrics.md; this module only owns
//! the wire shapes (JSON and CSV).

use super::error::ApiError;
use super::extract::Staff;
use super::AppState;
use crate::domain::ErrorCode;
use crate::domain::{Millis, QueueName};
use crate::reports::{compute, GroupBy, Interval, ReportParams, ReportRow};
use actix_web::{web, HttpRequest, HttpResponse};
use serde::{Deserialize, Serialize};
use std::fmt::Write as _;

/// Bucket alignment offsets allowed, minutes (UTC-12:00 to UTC+14:00).
const OFFSET_MINUTES: std::ops::RangeInclusive<i32> = -720..=840;
/// Largest service-level threshold, seconds (one day).
const MAX_THRESHOLD_S: u32 = 86_400;

/// The query string.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct ReportQuery {
    /// Inclusive start, UTC milliseconds.
    pub from: i64,
    /// Exclusive end, UTC milliseconds.
    pub to: i64,
    /// The width of a bucket.
    #[param(value_type = super::openapi::schema::IntervalName, inline)]
    pub interval: String,
    /// What the rows are grouped by.
    #[param(value_type = super::openapi::schema::GroupName, inline)]
    pub group: String,
    /// Only this queue's events.
    pub queue: Option<String>,
    /// Comma-separated service-level thresholds in seconds (default from settings).
    pub thresholds: Option<String>,
    /// Where buckets start: the offset from UTC of the reader's clock, minutes.
    #[param(minimum = -720, maximum = 840)]
    pub utc_offset_minutes: Option<i32>,
    /// `json` (default) or `csv`; without it, `Accept: text/csv` asks for CSV.
    #[param(value_type = Option<super::openapi::schema::FormatName>, inline)]
    pub format: Option<String>,
}

/// The JSON answer.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ReportResponse {
    pub from: i64,
    pub to: i64,
    #[schema(value_type = super::openapi::schema::IntervalName, inline)]
    pub interval: Interval,
    #[schema(value_type = super::openapi::schema::GroupName, inline)]
    pub group: GroupBy,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<String>)]
    pub queue: Option<QueueName>,
    pub thresholds_seconds: Vec<u32>,
    pub fcr_window_ms: u64,
    pub utc_offset_minutes: i32,
    /// Per bucket and group: offered, handled, abandoned, service levels, ASA, AHT,
    /// wait percentiles, transfers, channel switches, FCR, CSAT (docs/metrics.md).
    #[schema(value_type = Vec<Object>)]
    pub rows: Vec<ReportRow>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Format {
    Json,
    Csv,
}

fn parse_thresholds(s: &str, max: usize) -> Result<Vec<u32>, ApiError> {
    let mut out = Vec::new();
    for part in s.split(',') {
        let t: u32 = part.trim().parse().map_err(|_| {
            ApiError::invalid(format!(
                "threshold {part:?} is not a whole number of seconds"
            ))
        })?;
        if t == 0 || t > MAX_THRESHOLD_S {
            return Err(ApiError::invalid(format!(
                "thresholds must be 1 to {MAX_THRESHOLD_S} seconds"
            )));
        }
        out.push(t);
    }
    if out.len() > max {
        return Err(ApiError::invalid(format!("at most {max} thresholds")));
    }
    Ok(out)
}

/// The answer's format: `format` (`json` or `csv`), else the `Accept` header.
pub(super) fn format_of(format: Option<&str>, req: &HttpRequest) -> Result<Format, ApiError> {
    match format {
        Some("json") => Ok(Format::Json),
        Some("csv") => Ok(Format::Csv),
        Some(other) => Err(ApiError::invalid(format!(
            "unknown format {other:?}: use json or csv"
        ))),
        None => {
            let accept = req
                .headers()
                .get("accept")
                .and_then(|h| h.to_str().ok())
                .unwrap_or("");
            Ok(if accept.contains("text/csv") {
                Format::Csv
            } else {
                Format::Json
            })
        }
    }
}

/// `[from, to)` is a range `[reports]` allows; its length in ms.
pub(super) fn check_range(
    from: i64,
    to: i64,
    cfg: &crate::config::ReportSettings,
) -> Result<i64, ApiError> {
    if from >= to {
        return Err(ApiError::invalid("from must be before to"));
    }
    let range = to.saturating_sub(from);
    if range as u64 > cfg.max_range_ms {
        return Err(ApiError::invalid(format!(
            "the range is {range} ms; at most {} ms (reports.max_range_ms)",
            cfg.max_range_ms
        )));
    }
    Ok(range)
}

/// Every queue's report events in `[from, until)`, refused (not cut) past
/// `reports.max_events`.
pub(super) async fn read_events(
    state: &AppState,
    from: Millis,
    until: Millis,
) -> Result<Vec<crate::domain::ReportEvent>, ApiError> {
    let max = state.server.settings.reports.max_events;
    let events = state
        .server
        .store
        .report_events(None, from, until, max.saturating_add(1))
        .await?;
    if events.len() > max {
        return Err(ApiError::invalid(format!(
            "the range holds more than {max} report events (reports.max_events); narrow it"
        )));
    }
    Ok(events)
}

/// An encoded answer: JSON, or CSV as an attachment named `filename`.
pub(super) fn respond(format: Format, body: String, filename: &str) -> HttpResponse {
    match format {
        Format::Json => HttpResponse::Ok()
            .content_type("application/json")
            .body(body),
        Format::Csv => HttpResponse::Ok()
            .content_type("text/csv; charset=utf-8")
            .insert_header((
                "Content-Disposition",
                format!("attachment; filename=\"{filename}\""),
            ))
            .body(body),
    }
}

/// Validates the query against `[reports]` into the computation's parameters.
fn params_of(q: &ReportQuery, state: &AppState) -> Result<ReportParams, ApiError> {
    let cfg = &state.server.settings.reports;
    let interval = Interval::parse(&q.interval)?;
    let group = GroupBy::parse(&q.group)?;
    let range = check_range(q.from, q.to, cfg)?;
    let buckets = (range + interval.min_len_ms() - 1) / interval.min_len_ms() + 1;
    if buckets as u64 > cfg.max_rows as u64 {
        return Err(ApiError::invalid(format!(
            "{buckets} {} buckets exceed reports.max_rows ({}); use a longer interval",
            interval.as_str(),
            cfg.max_rows
        )));
    }
    let utc_offset_minutes = q.utc_offset_minutes.unwrap_or(0);
    if !OFFSET_MINUTES.contains(&utc_offset_minutes) {
        return Err(ApiError::invalid("utc_offset_minutes must be -720 to 840"));
    }
    let sl_thresholds_s = match &q.thresholds {
        Some(t) => parse_thresholds(t, cfg.max_thresholds)?,
        None => cfg.service_level_thresholds_seconds.clone(),
    };
    let queue = q.queue.as_deref().map(QueueName::parse).transpose()?;
    Ok(ReportParams {
        queue,
        from: Millis(q.from),
        to: Millis(q.to),
        interval,
        group,
        sl_thresholds_s,
        fcr_window_ms: cfg.fcr_window_ms,
        utc_offset_minutes,
    })
}

/// Historical report rows (supervisor, admin).
///
/// Per bucket and group: offered, handled, abandoned, service level, ASA, AHT, wait
/// percentiles, transfers, channel switches, FCR, CSAT. Definitions: docs/metrics.md.
#[utoipa::path(get, path = "/api/v1/reports", tag = "reports", security(("bearer" = [])),
    params(ReportQuery),
    responses(
        (status = 200, description = "the report, as JSON or CSV", content(
            (ReportResponse = "application/json"),
            (String = "text/csv"),
        )),
        (status = 400, response = ApiError),
        (status = 401, response = ApiError),
        (status = 403, response = ApiError),
        (status = 503, response = ApiError),
    )
)]
#[tracing::instrument(skip(state, staff, req, q), fields(interval = %q.interval, group = %q.group))]
pub async fn report(
    state: web::Data<AppState>,
    staff: Staff,
    req: HttpRequest,
    q: web::Query<ReportQuery>,
) -> Result<HttpResponse, ApiError> {
    staff.require_supervisor()?;
    let q = q.into_inner();
    let format = format_of(q.format.as_deref(), &req)?;
    let params = params_of(&q, &state)?;
    let cfg = &state.server.settings.reports;
    // Every queue is read even for one queue's report: a repeat contact that makes a
    // resolution not first-contact may be in any queue. Events after `to` (inside the
    // FCR window) are only looked at for that.
    let until = params.to.plus_ms(params.fcr_window_ms);
    let events = read_events(&state, params.from, until).await?;
    let max_rows = cfg.max_rows;
    let (from, to) = (q.from, q.to);
    let filename = format!("switchboard-report-{}-{}.csv", q.group, q.interval);
    // Up to `max_events` events: computed and encoded off the async executor.
    let encoded = web::block(move || {
        let rows = compute(&events, &params);
        if rows.len() > max_rows {
            return Err(ApiError::invalid(format!(
                "{} rows exceed reports.max_rows ({max_rows}); use a longer interval or a \
                 narrower range",
                rows.len()
            )));
        }
        let body = ReportResponse {
            from,
            to,
            interval: params.interval,
            group: params.group,
            queue: params.queue.clone(),
            thresholds_seconds: params.sl_thresholds_s.clone(),
            fcr_window_ms: params.fcr_window_ms,
            utc_offset_minutes: params.utc_offset_minutes,
            rows,
        };
        Ok(match format {
            Format::Json => serde_json::to_string(&body)
                .map_err(|e| ApiError::new(ErrorCode::Internal, e.to_string()))?,
            Format::Csv => csv(&body.rows, &body.thresholds_seconds),
        })
    })
    .await
    .map_err(|e| ApiError::new(ErrorCode::Internal, e.to_string()))??;
    Ok(respond(format, encoded, &filename))
}

/// The CSV columns after the per-threshold service levels.
const CSV_TAIL: &[&str] = &[
    "asa_seconds",
    "aht_seconds",
    "talk_seconds_avg",
    "wrap_seconds_avg",
    "wait_p50_seconds",
    "wait_p90_seconds",
    "wait_p99_seconds",
    "wait_max_seconds",
    "transfers",
    "channel_switches",
    "reopened",
    "resolved",
    "fcr_resolved",
    "fcr_rate",
    "csat_count",
    "csat_average",
    "offers_accepted",
    "offers_rejected",
    "offers_timed_out",
    "offers_rescinded",
    "left_unserved",
    "parked",
    "auto_parked",
    "first_responses",
    "first_response_seconds_avg",
    "next_responses",
    "next_response_seconds_avg",
    "responses_within_target",
    "responses_overdue",
    "response_sla",
];

/// Rows as CSV (RFC 4180, CRLF line ends): one header line, one line per row; a value
/// that is unknown (`null` in JSON) is an empty cell.
pub fn csv(rows: &[ReportRow], thresholds: &[u32]) -> String {
    let mut out =
        String::from("bucket_start,bucket_start_utc,group,offered,handled,abandoned,abandon_rate");
    for t in thresholds {
        let _ = write!(out, ",service_level_{t}s");
    }
    for c in CSV_TAIL {
        out.push(',');
        out.push_str(c);
    }
    out.push_str("\r\n");
    let opt = |v: Option<f64>| v.map(|v| format!("{v}")).unwrap_or_default();
    for r in rows {
        let _ = write!(
            out,
            "{},{},{},{},{},{},{}",
            r.bucket_start,
            iso_utc(r.bucket_start),
            csv_field(&r.group),
            r.offered,
            r.handled,
            r.abandoned,
            opt(r.abandon_rate)
        );
        for t in thresholds {
            let _ = write!(out, ",{}", opt(r.service_levels.get(t).copied().flatten()));
        }
        let tail = [
            opt(r.asa_seconds),
            opt(r.aht_seconds),
            opt(r.talk_seconds_avg),
            opt(r.wrap_seconds_avg),
            opt(r.wait_p50_seconds),
            opt(r.wait_p90_seconds),
            opt(r.wait_p99_seconds),
            opt(r.wait_max_seconds),
            r.transfers.to_string(),
            r.channel_switches.to_string(),
            r.reopened.to_string(),
            r.resolved.to_string(),
            r.fcr_resolved.to_string(),
            opt(r.fcr_rate),
            r.csat_count.to_string(),
            opt(r.csat_average),
            r.offers_accepted.to_string(),
            r.offers_rejected.to_string(),
            r.offers_timed_out.to_string(),
            r.offers_rescinded.to_string(),
            r.left_unserved.to_string(),
            r.parked.to_string(),
            r.auto_parked.to_string(),
            r.first_responses.to_string(),
            opt(r.first_response_seconds_avg),
            r.next_responses.to_string(),
            opt(r.next_response_seconds_avg),
            r.responses_within_target.to_string(),
            r.responses_overdue.to_string(),
            opt(r.response_sla),
        ];
        for v in tail {
            out.push(',');
            out.push_str(&v);
        }
        out.push_str("\r\n");
    }
    out
}

/// A CSV field, quoted when it holds a comma, quote or line break.
pub(super) fn csv_field(s: &str) -> String {
    if s.contains([',', '"', '\r', '\n']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s.to_owned()
    }
}

/// `YYYY-MM-DDTHH:MM:SSZ` of UTC milliseconds; empty beyond the years -9999 to 9999,
/// which no bucket reaches.
fn iso_utc(ms: i64) -> String {
    jiff::Timestamp::from_millisecond(ms)
        .map(|t| t.strftime("%Y-%m-%dT%H:%M:%SZ").to_string())
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn iso_dates() {
        assert_eq!(iso_utc(0), "1970-01-01T00:00:00Z");
        assert_eq!(iso_utc(1_773_830_232_345), "2026-03-18T10:37:12Z");
        assert_eq!(iso_utc(-1), "1969-12-31T23:59:59Z");
        assert_eq!(iso_utc(i64::MAX), "");
    }

    #[test]
    fn thresholds_parse_and_bound() {
        assert_eq!(parse_thresholds("20, 60", 8).ok(), Some(vec![20, 60]));
        assert!(parse_thresholds("0", 8).is_err());
        assert!(parse_thresholds("20,x", 8).is_err());
        assert!(parse_thresholds("", 8).is_err());
        assert!(parse_thresholds("1,2,3", 2).is_err());
        assert!(parse_thresholds("86401", 8).is_err());
    }

    #[test]
    fn csv_quotes_and_blanks() {
        assert_eq!(csv_field("sales"), "sales");
        assert_eq!(csv_field("a,\"b\""), "\"a,\"\"b\"\"\"");
        let text = csv(&[], &[20, 60]);
        assert!(text.starts_with("bucket_start,bucket_start_utc,group,"));
        assert!(text.contains(",service_level_20s,service_level_60s,asa_seconds,"));
        assert!(text.contains(",left_unserved,parked,auto_parked,first_responses,"));
        assert!(text.ends_with(",responses_within_target,responses_overdue,response_sla\r\n"));
    }
}
