//! `GET /api/v1/reports/funnel`: the self-service funnel as JSON or CSV (supervisors
//! and admins).
//!
//! Bounds the request as `GET /api/v1/reports` does (`[reports]` range, events and
//! rows; typed `400 invalid`), reads the report log up to the first-contact-resolution
//! window after `to`, and hands it to the pure [`crate::reports::funnel`]. This module
//! owns only the wire shapes; the definitions are in docs/metrics.md "Self-service
//! funnel".

use super::error::ApiError;
use super::extract::Staff;
use super::reports::{check_range, csv_field, format_of, read_events, respond, Format};
use super::AppState;
use crate::domain::{ErrorCode, Millis, QueueName};
use crate::reports::funnel::{funnel, FlowRow, FunnelParams};
use actix_web::{web, HttpRequest, HttpResponse};
use serde::{Deserialize, Serialize};
use std::fmt::Write as _;

/// The query string.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct FunnelQuery {
    /// Contacts that came in at or after this, UTC milliseconds.
    pub from: i64,
    /// …and before this.
    pub to: i64,
    /// Only contacts that came in to this queue.
    pub queue: Option<String>,
    /// `json` (default) or `csv` (the flows); without it, `Accept: text/csv` asks for
    /// CSV.
    #[param(value_type = Option<super::openapi::schema::FormatName>, inline)]
    pub format: Option<String>,
}

/// The JSON answer.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct FunnelResponse {
    pub from: i64,
    pub to: i64,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<String>)]
    pub queue: Option<QueueName>,
    pub fcr_window_ms: u64,
    /// Per entry point (channel and self-service front): contacts, contained, handed
    /// off by reason, queued, answered, channel switches, resolved, FCR, abandoned.
    #[schema(value_type = Vec<Object>)]
    pub entries: Vec<crate::reports::funnel::EntryRow>,
    /// How many contacts took each path: entry, step, hand-off, switch, outcome.
    #[schema(value_type = Vec<Object>)]
    pub flows: Vec<FlowRow>,
}

/// The self-service funnel (supervisor, admin).
///
/// What became of the contacts that came in during `[from, to)`: the IVR menus they
/// walked or what the bot did, why self-service handed them to a person, channel
/// switches, resolution and first-contact resolution, by entry point. Definitions:
/// docs/metrics.md "Self-service funnel".
#[utoipa::path(get, path = "/api/v1/reports/funnel", tag = "reports", security(("bearer" = [])),
    params(FunnelQuery),
    responses(
        (status = 200, description = "the funnel, as JSON or CSV (the flows)", content(
            (FunnelResponse = "application/json"),
            (String = "text/csv"),
        )),
        (status = 400, response = ApiError),
        (status = 401, response = ApiError),
        (status = 403, response = ApiError),
        (status = 503, response = ApiError),
    )
)]
#[tracing::instrument(skip(state, staff, req, q))]
pub async fn funnel_report(
    state: web::Data<AppState>,
    staff: Staff,
    req: HttpRequest,
    q: web::Query<FunnelQuery>,
) -> Result<HttpResponse, ApiError> {
    staff.require_supervisor()?;
    let q = q.into_inner();
    let format = format_of(q.format.as_deref(), &req)?;
    let cfg = &state.server.settings.reports;
    check_range(q.from, q.to, cfg)?;
    let params = FunnelParams {
        from: Millis(q.from),
        to: Millis(q.to),
        queue: q.queue.as_deref().map(QueueName::parse).transpose()?,
        fcr_window_ms: cfg.fcr_window_ms,
    };
    // Every queue is read: a contact's bot session and its conversation, or a repeat
    // contact, may be in other queues than the one asked for. Events after `to` follow
    // the contacts that came in before it.
    let until = params.to.plus_ms(params.fcr_window_ms);
    let events = read_events(&state, params.from, until).await?;
    let max_rows = cfg.max_rows;
    let encoded = web::block(move || {
        let f = funnel(&events, &params);
        if f.flows.len() > max_rows {
            return Err(ApiError::invalid(format!(
                "{} flows exceed reports.max_rows ({max_rows}); narrow the range or the queue",
                f.flows.len()
            )));
        }
        Ok(match format {
            Format::Csv => csv(&f.flows),
            Format::Json => serde_json::to_string(&FunnelResponse {
                from: q.from,
                to: q.to,
                queue: params.queue,
                fcr_window_ms: params.fcr_window_ms,
                entries: f.entries,
                flows: f.flows,
            })
            .map_err(|e| ApiError::new(ErrorCode::Internal, e.to_string()))?,
        })
    })
    .await
    .map_err(|e| ApiError::new(ErrorCode::Internal, e.to_string()))??;
    Ok(respond(format, encoded, "switchboard-funnel.csv"))
}

/// The flows as CSV (RFC 4180, CRLF line ends); a missing value is an empty cell.
pub fn csv(flows: &[FlowRow]) -> String {
    let mut out = String::from("channel,front,step,handoff,switched_to,outcome,contacts\r\n");
    for f in flows {
        let _ = write!(
            out,
            "{},{},{},{},{},{},{}\r\n",
            f.channel.as_str(),
            f.front,
            csv_field(f.step.as_deref().unwrap_or("")),
            csv_field(f.handoff.as_deref().unwrap_or("")),
            f.switched_to.map(|c| c.as_str()).unwrap_or(""),
            f.outcome.as_str(),
            f.contacts
        );
    }
    out
}
