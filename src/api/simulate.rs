//! `POST /api/v1/simulations`: the dry-run simulator (supervisors and admins). A
//! recorded period of one queue is replayed through the real routing core under its
//! current configuration and up to [`MAX_PROPOSALS`] proposed ones, and the predicted
//! figures are answered beside what actually happened.
//!
//! This module owns the wire shapes and the bounds; reading the period
//! ([`crate::routing::sim::recorded`]) and the replay ([`crate::routing::sim::simulate`])
//! are pure. Definitions: docs/api.md "Dry-run simulator".

use super::error::ApiError;
use super::extract::Staff;
use super::reports::{check_range, read_events};
use super::supervisor::MAX_OVERFLOW_AFTER_MS;
use super::AppState;
use crate::domain::{
    AgentId, Capacity, ChannelClass, ErrorCode, Millis, Proficiency, QueueConfig, QueueName,
    RoutingStrategy, ServiceRule, Skill, WideningStep,
};
use crate::routing::sim::{
    on_shift, recorded, simulate_judged, LiveJudge, ShiftSource, SimAgent, SimOutcome,
    PRESENCE_LOOKBACK_MS,
};
use actix_web::{web, HttpResponse};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// Most proposed configurations one request may compare.
pub const MAX_PROPOSALS: usize = 2;
/// Most agents a proposal may add.
pub const MAX_ADDED_AGENTS: u32 = 500;
/// Most contacts a period may hold (each replay is O(contacts log contacts)).
pub const MAX_CONTACTS: usize = 200_000;

/// The request.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SimulationRequest {
    /// The queue whose period is replayed.
    pub queue: String,
    /// The period, UTC milliseconds `[from, to)` (at most `reports.max_range_ms`).
    pub from: i64,
    pub to: i64,
    /// The service level's threshold (default: the first of
    /// `reports.service_level_thresholds_seconds`).
    #[serde(default)]
    pub threshold_seconds: Option<u32>,
    /// Proposed configurations, each the queue's current one with these changes.
    #[serde(default)]
    #[schema(value_type = Vec<Object>)]
    pub proposals: Vec<Proposal>,
}

/// One proposed configuration: the queue's current configuration with these fields
/// replaced, and these agents added.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Proposal {
    /// 1 to 40 characters, shown with its figures.
    pub label: String,
    #[serde(default)]
    pub strategy: Option<RoutingStrategy>,
    #[serde(default)]
    pub widening: Option<Vec<WideningStep>>,
    /// `null` removes the overflow; absent keeps it.
    #[serde(default, deserialize_with = "super::supervisor::double_option")]
    pub overflow_after_ms: Option<Option<u64>>,
    #[serde(default)]
    pub max_waiting: Option<usize>,
    #[serde(default)]
    pub rank_by_proficiency: Option<bool>,
    #[serde(default)]
    pub novices_first: Option<bool>,
    /// Replaces the queue's service rules (checked as `PUT /queues` checks them).
    #[serde(default)]
    pub service_rules: Option<Vec<ServiceRule>>,
    /// Agents on shift for the whole period on top of those who worked it.
    #[serde(default)]
    pub add_agents: Vec<AddedAgents>,
    /// Agents on shift in the period, taken off it (an id that was not: 400).
    #[serde(default)]
    #[serde(deserialize_with = "agent_ids")]
    pub remove_agents: Vec<AgentId>,
}

/// At most [`MAX_ADDED_AGENTS`] valid agent ids.
fn agent_ids<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Vec<AgentId>, D::Error> {
    let ids = Vec::<String>::deserialize(d)?;
    if ids.len() > MAX_ADDED_AGENTS as usize {
        return Err(serde::de::Error::custom(format!(
            "remove_agents: at most {MAX_ADDED_AGENTS} ids"
        )));
    }
    ids.iter()
        .map(|id| {
            AgentId::parse(id).map_err(|e| serde::de::Error::custom(format!("remove_agents: {e}")))
        })
        .collect()
}

/// `count` more agents with these skills and capacity.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AddedAgents {
    pub count: u32,
    #[serde(default)]
    pub skills: BTreeMap<Skill, Proficiency>,
    #[serde(default)]
    pub capacity: Option<Capacity>,
}

/// One replay's figures.
#[derive(Debug, Serialize)]
pub struct Run {
    pub label: String,
    pub agents: usize,
    #[serde(flatten)]
    pub outcome: Figures,
}

/// The figures of an outcome (predicted or actual); ratios in 0..1, times in ms,
/// `null` with nothing to divide by.
#[derive(Debug, Serialize)]
pub struct Figures {
    pub contacts: u64,
    pub answered: u64,
    pub abandoned: u64,
    pub overflowed: u64,
    pub refused: u64,
    pub unserved: u64,
    pub service_level: Option<f64>,
    pub asa_ms: Option<f64>,
    pub wait_p50_ms: Option<u64>,
    pub wait_p90_ms: Option<u64>,
    pub wait_p99_ms: Option<u64>,
    pub abandon_rate: Option<f64>,
    pub occupancy: Option<f64>,
    pub offers_rejected: u64,
    pub offers_timed_out: u64,
}

impl From<SimOutcome> for Figures {
    fn from(o: SimOutcome) -> Self {
        Figures {
            contacts: o.contacts,
            answered: o.answered,
            abandoned: o.abandoned,
            overflowed: o.overflowed,
            refused: o.refused,
            unserved: o.unserved,
            service_level: o.service_level,
            asa_ms: o.asa_ms,
            wait_p50_ms: o.wait_p50_ms,
            wait_p90_ms: o.wait_p90_ms,
            wait_p99_ms: o.wait_p99_ms,
            abandon_rate: o.abandon_rate,
            occupancy: o.occupancy,
            offers_rejected: o.offers_rejected,
            offers_timed_out: o.offers_timed_out,
        }
    }
}

/// How many agents' shifts came from each source.
#[derive(Debug, Default, Serialize)]
pub struct ShiftsFrom {
    pub presence: usize,
    pub first_answer: usize,
}

/// The answer.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct SimulationResponse {
    #[schema(value_type = String)]
    pub queue: QueueName,
    pub from: i64,
    pub to: i64,
    pub threshold_seconds: u32,
    /// What happened in the period (occupancy is not recorded: `null`).
    #[schema(value_type = Object)]
    pub actual: Figures,
    /// Where the agents' shifts came from: how many from the presence log, how many
    /// from their first answer (no presence recorded for them in the period).
    #[schema(value_type = Object)]
    pub shifts_from: ShiftsFrom,
    /// `current` (the queue as configured now), then each proposal.
    #[schema(value_type = Vec<Object>)]
    pub runs: Vec<Run>,
}

/// A replay of a recorded period under the current and proposed configurations
/// (supervisor, admin).
///
/// Contacts, handle times, patience and each agent's share of refused offers come
/// from the queue's report events; agents and their shifts from the presence log (or, for one who answered without any
/// presence recorded, from the first answer to the end of the period), less any a
/// proposal removes, plus any it adds. Definitions: docs/api.md "Dry-run
/// simulator".
#[utoipa::path(post, path = "/api/v1/simulations", tag = "reports", security(("bearer" = [])),
    request_body = SimulationRequest,
    responses(
        (status = 200, body = SimulationResponse),
        (status = 400, response = ApiError),
        (status = 401, response = ApiError),
        (status = 403, response = ApiError),
        (status = 404, response = ApiError),
        (status = 503, response = ApiError),
    )
)]
#[tracing::instrument(skip(state, staff, body))]
pub async fn simulate_period(
    state: web::Data<AppState>,
    staff: Staff,
    body: web::Json<SimulationRequest>,
) -> Result<HttpResponse, ApiError> {
    staff.require_supervisor()?;
    let req = body.into_inner();
    let cfg = &state.server.settings.reports;
    let queue = QueueName::parse(&req.queue).map_err(|_| ApiError::not_found("queue"))?;
    let current = state
        .server
        .queue_config(&queue)
        .ok_or_else(|| ApiError::not_found("queue"))?;
    check_range(req.from, req.to, cfg)?;
    let threshold_s = match req.threshold_seconds {
        Some(t) if (1..=86_400).contains(&t) => t,
        Some(_) => return Err(ApiError::invalid("threshold_seconds must be 1 to 86400")),
        None => cfg
            .service_level_thresholds_seconds
            .first()
            .copied()
            .unwrap_or(20),
    };
    if req.proposals.len() > MAX_PROPOSALS {
        return Err(ApiError::invalid(format!(
            "{} proposals; at most {MAX_PROPOSALS}",
            req.proposals.len()
        )));
    }
    let mut configs = vec![(
        "current".to_owned(),
        current.clone(),
        (Vec::new(), Vec::new()),
    )];
    for (i, p) in req.proposals.iter().enumerate() {
        let config = proposed(&current, p, i, |q| state.server.queue_config(q).is_some())?;
        configs.push((
            p.label.clone(),
            config,
            (p.add_agents.clone(), p.remove_agents.clone()),
        ));
    }
    let (from, to) = (Millis(req.from), Millis(req.to));
    let events = read_events(&state, from, to).await?;
    let max = state.server.settings.reports.max_events;
    let presence = state
        .server
        .store
        .presence_events(
            &queue,
            Millis(from.0.saturating_sub(PRESENCE_LOOKBACK_MS)),
            to,
            max.saturating_add(1),
        )
        .await?;
    if presence.len() > max {
        return Err(ApiError::invalid(format!(
            "the range holds more than {max} presence events (reports.max_events); narrow it"
        )));
    }
    let profiles = state.server.store.agents().await?;
    let threshold_ms = u64::from(threshold_s) * 1000;
    let timing = &state.server.settings.timing;
    // The live hub's settings, as it judges service rules (`actors::hub`).
    let judge = LiveJudge {
        interval_ms: timing.live_interval_ms.max(60_000),
        sl_threshold_ms: timing.live_sl_threshold_ms,
    };
    let answer = web::block(move || {
        let rec = recorded(&events, &queue, from, to, threshold_ms);
        if rec.contacts.len() > MAX_CONTACTS {
            return Err(ApiError::invalid(format!(
                "the period holds {} contacts; at most {MAX_CONTACTS}",
                rec.contacts.len()
            )));
        }
        // Those on shift in the period, with their profiles as they are now.
        let mut shifts_from = ShiftsFrom::default();
        let mut on = on_shift(&rec, &presence, &queue, from, to);
        let worked: Vec<SimAgent> = profiles
            .iter()
            .filter_map(|p| {
                let (shifts, source) = on.remove(&p.id)?;
                match source {
                    ShiftSource::Presence => shifts_from.presence += 1,
                    ShiftSource::FirstAnswer => shifts_from.first_answer += 1,
                }
                Some(SimAgent {
                    id: p.id.clone(),
                    skills: p.skills.clone(),
                    capacity: slots(&p.capacity),
                    shifts,
                    offers: rec.offers.get(&p.id).copied().unwrap_or_default(),
                })
            })
            .collect();
        for (i, (_, _, (_, removed))) in configs.iter().enumerate().skip(1) {
            if let Some(id) = removed
                .iter()
                .find(|id| !worked.iter().any(|a| a.id == **id))
            {
                return Err(ApiError::invalid(format!(
                    "proposals[{}].remove_agents: {id} was not on shift in the period",
                    i - 1
                )));
            }
        }
        let end = to.plus_ms(86_400_000);
        let mut runs = Vec::with_capacity(configs.len());
        for (label, config, (added, removed)) in configs {
            let mut agents: Vec<SimAgent> = worked
                .iter()
                .filter(|a| !removed.contains(&a.id))
                .cloned()
                .collect();
            agents.extend(added_agents(&added, from, to));
            let outcome = simulate_judged(
                &config,
                &agents,
                &rec.contacts,
                threshold_ms,
                end,
                Some(judge),
            )
            .map_err(|e| ApiError::invalid(e.to_string()))?;
            runs.push(Run {
                label,
                agents: agents.len(),
                outcome: outcome.into(),
            });
        }
        serde_json::to_string(&SimulationResponse {
            queue,
            from: req.from,
            to: req.to,
            threshold_seconds: threshold_s,
            actual: rec.actual.into(),
            shifts_from,
            runs,
        })
        .map_err(|e| ApiError::new(ErrorCode::Internal, e.to_string()))
    })
    .await
    .map_err(|e| ApiError::new(ErrorCode::Internal, e.to_string()))??;
    Ok(HttpResponse::Ok()
        .content_type("application/json")
        .body(answer))
}

/// Proposal `i` applied to `current`, checked as `PUT /queues` checks a queue (with
/// the field named `proposals[i].…`).
fn proposed(
    current: &QueueConfig,
    p: &Proposal,
    i: usize,
    exists: impl Fn(&QueueName) -> bool,
) -> Result<QueueConfig, ApiError> {
    let field = |f: &str| format!("proposals[{i}].{f}");
    if p.label.trim().is_empty() || p.label.chars().count() > 40 || p.label == "current" {
        return Err(ApiError::invalid(format!(
            "{}: 1 to 40 characters, not \"current\"",
            field("label")
        )));
    }
    let mut c = current.clone();
    if let Some(s) = p.strategy {
        c.strategy = s;
    }
    if let Some(w) = &p.widening {
        c.widening = w.clone();
    }
    match p.overflow_after_ms {
        Some(Some(ms)) if ms == 0 || ms > MAX_OVERFLOW_AFTER_MS => {
            return Err(ApiError::invalid(format!(
                "{}: 1 to {MAX_OVERFLOW_AFTER_MS}",
                field("overflow_after_ms")
            )))
        }
        Some(Some(ms)) => match &mut c.overflow {
            Some(o) => o.after_ms = ms,
            None => {
                return Err(ApiError::invalid(format!(
                    "{}: the queue has no overflow queue to time",
                    field("overflow_after_ms")
                )))
            }
        },
        Some(None) => c.overflow = None,
        None => {}
    }
    if let Some(m) = p.max_waiting {
        if m == 0 {
            return Err(ApiError::invalid(format!(
                "{}: at least 1",
                field("max_waiting")
            )));
        }
        c.max_waiting = m;
    }
    if let Some(r) = p.rank_by_proficiency {
        c.rank_by_proficiency = r;
    }
    if let Some(n) = p.novices_first {
        c.novices_first = n;
    }
    crate::routing::widening::Rings::of_queue(&c)
        .map_err(|e| ApiError::invalid(format!("proposals[{i}]: {e}")))?;
    if let Some(rules) = &p.service_rules {
        crate::routing::service::check(rules, &c.name)
            .map_err(|e| ApiError::invalid(format!("proposals[{i}].{e}")))?;
        for (r, rule) in rules.iter().enumerate() {
            if let Some(to) = rule.overflow_to.as_ref().filter(|q| !exists(q)) {
                return Err(ApiError::invalid(format!(
                    "{}: no queue named {to}",
                    field(&format!("service_rules[{r}].overflow_to"))
                )));
            }
        }
        c.service_rules = rules.clone();
    }
    let added: u32 = p.add_agents.iter().map(|a| a.count).sum();
    if added > MAX_ADDED_AGENTS {
        return Err(ApiError::invalid(format!(
            "{}: {added} agents; at most {MAX_ADDED_AGENTS}",
            field("add_agents")
        )));
    }
    Ok(c)
}

/// The agents a proposal adds, on shift for the whole period.
fn added_agents(added: &[AddedAgents], from: Millis, to: Millis) -> Vec<SimAgent> {
    added
        .iter()
        .enumerate()
        .flat_map(|(g, a)| {
            (0..a.count).filter_map(move |n| {
                Some(SimAgent {
                    id: AgentId::parse(&format!("sim-{g}-{n}")).ok()?,
                    skills: a.skills.clone(),
                    capacity: slots(&a.capacity.unwrap_or_default()),
                    shifts: vec![(from, to)],
                    offers: Default::default(),
                })
            })
        })
        .collect()
}

fn slots(c: &Capacity) -> [u16; 4] {
    std::array::from_fn(|i| c.of(ChannelClass::ALL[i]))
}
